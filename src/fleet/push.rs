//! A run's metrics sent to a Prometheus Pushgateway (`metrics_push_url`, `--push-url`): the
//! documented pattern for batch jobs whose pods vanish with their files (Kubernetes CronJobs).
//!
//! One group per set of policies: `PUT <url>/metrics/job/snapctl/policy_file/<group>`, where the
//! group is the ids of the policies the run applies (ids are unique across a fleet: they mark
//! the snapshots), so several CronJobs never overwrite each other and each run replaces its own
//! group. A run that ended before it had a report (another run holds the lock, a saved plan was
//! refused, a report directory is missing) sends only `snapctl_apply_exit_code`, with POST, which
//! leaves the last full run's metrics in place: alert on that code and on the gateway's
//! `push_time_seconds`.
//!
//! Trust: the URL comes from the policy file (code) or the command line; the gateway's
//! credentials only from the environment (`SNAPCTL_PUSH_USERNAME`, `SNAPCTL_PUSH_PASSWORD`), and
//! never over plain http to a host that is not loopback. One attempt, with a timeout: a push
//! never outlives the run by more than [`TIMEOUT`], and its failure is a warning (the staleness
//! alert is what notices).

use std::time::Duration;

use reqwest::{Method, Url};

use crate::config::Env;
use crate::error::{Error, Result};
use crate::http::{Header, Http, HttpConfig, Outgoing};

/// The longest a push may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Group ids longer than this are replaced by a digest of the ids.
const MAX_GROUP: usize = 100;

/// The group of a run of these policies: their ids, sorted, joined with `_` (which no policy id
/// holds); a digest of them when that would be long.
pub fn push_group(policy_ids: &[&str]) -> String {
    use sha2::Digest;
    let mut ids = policy_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let joined = ids.join("_");
    if joined.len() <= MAX_GROUP && !joined.is_empty() {
        return joined;
    }
    format!(
        "sha256-{}",
        &hex::encode(sha2::Sha256::digest(joined.as_bytes()))[..16]
    )
}

/// Where a group's metrics go: `<base>/metrics/job/snapctl/policy_file/<group>`.
pub fn push_target(base: &str, group: &str) -> Result<Url> {
    let bad = |reason: String| Error::InvalidInput {
        what: "metrics push URL",
        value: base.to_string(),
        reason,
    };
    let mut url = Url::parse(base).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("expected an http:// or https:// URL".into()));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad(
            "the URL names the gateway only (no query, fragment or user: credentials come from SNAPCTL_PUSH_USERNAME and SNAPCTL_PUSH_PASSWORD)".into(),
        ));
    }
    url.path_segments_mut()
        .map_err(|()| bad("the URL cannot take a path".into()))?
        .pop_if_empty()
        .extend(["metrics", "job", "snapctl", "policy_file", group]);
    Ok(url)
}

/// What one push sends.
pub struct Push<'a> {
    /// From [`push_target`].
    pub url: Url,
    /// Prometheus text exposition.
    pub body: &'a str,
    /// PUT (the group becomes exactly this) or POST (only these metrics are replaced).
    pub replace: bool,
}

/// `snapctl_apply_exit_code`, the family every push carries.
pub fn exit_code_family(code: u8) -> String {
    format!(
        "# HELP snapctl_apply_exit_code Exit code of the last policy apply of these policies (0: all done).\n# TYPE snapctl_apply_exit_code gauge\nsnapctl_apply_exit_code {code}\n"
    )
}

/// Send it: one attempt, ten seconds (`TIMEOUT`) in all.
pub async fn send_push(push: Push<'_>, env: &Env, verbosity: u8) -> Result<()> {
    let user = env.var("SNAPCTL_PUSH_USERNAME");
    let password = env.var("SNAPCTL_PUSH_PASSWORD");
    let auth = match (user, password) {
        (None, None) => None,
        (Some(u), Some(p)) => Some(basic(u, p)),
        _ => {
            return Err(Error::Config {
                message: "only one of SNAPCTL_PUSH_USERNAME and SNAPCTL_PUSH_PASSWORD is set"
                    .into(),
                hint: Some(
                    "set both for the Pushgateway's basic authentication, or neither".into(),
                ),
            });
        }
    };
    if auth.is_some() && push.url.scheme() == "http" && !crate::http::is_loopback(&push.url) {
        return Err(Error::Refused {
            reason: format!(
                "the Pushgateway's password would cross the network unencrypted to {}",
                push.url.host_str().unwrap_or("?")
            ),
            hint: Some("use an https:// metrics push URL".into()),
        });
    }
    let http = Http::new(HttpConfig {
        request_timeout: TIMEOUT,
        connect_timeout: TIMEOUT,
        max_attempts: 1,
        max_throttled_wait: Duration::ZERO,
        max_retry_after: Duration::ZERO,
        verbosity,
        // Metrics are not secret, and gateways inside a cluster commonly speak plain http; a
        // password is never sent that way (beyond loopback).
        allow_http: auth.is_none(),
        max_body: 64 * 1024,
        ..HttpConfig::default()
    })?;
    let method = if push.replace {
        Method::PUT
    } else {
        Method::POST
    };
    let action = format!("push metrics to {}", push.url);
    let resp = http
        .execute(&action, false, || {
            let mut out = Outgoing::new(method.clone(), push.url.clone());
            out.headers.push(Header {
                name: "content-type",
                value: "text/plain; version=0.0.4; charset=utf-8".into(),
                sensitive: false,
            });
            if let Some(a) = &auth {
                out.headers.push(Header {
                    name: "authorization",
                    value: a.clone(),
                    sensitive: true,
                });
            }
            out.body = Some(push.body.as_bytes().to_vec());
            Ok(out)
        })
        .await?;
    if resp.status.is_success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&resp.body);
    Err(Error::Io {
        action: format!("{action}: the gateway answered {}", resp.status),
        source: std::io::Error::other(crate::text::one_line(&text, crate::text::MAX_LINE)),
    })
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_its_policies_sorted_or_their_digest() {
        assert_eq!(push_group(&["web", "db-gold", "web"]), "db-gold_web");
        assert_eq!(push_group(&["db-gold"]), "db-gold");
        let many: Vec<String> = (0..40).map(|i| format!("policy-{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let g = push_group(&refs);
        assert!(g.starts_with("sha256-") && g.len() == 23, "{g}");
        let mut reversed = refs.clone();
        reversed.reverse();
        assert_eq!(
            push_group(&reversed),
            g,
            "the order of the file does not matter"
        );
    }

    #[test]
    fn the_target_names_job_and_group_under_the_gateway() {
        for base in ["http://127.0.0.1:9091", "http://127.0.0.1:9091/"] {
            assert_eq!(
                push_target(base, "db-gold").expect("url").as_str(),
                "http://127.0.0.1:9091/metrics/job/snapctl/policy_file/db-gold"
            );
        }
        assert_eq!(
            push_target("https://gw.example.invalid/prefix/", "a_b")
                .expect("url")
                .as_str(),
            "https://gw.example.invalid/prefix/metrics/job/snapctl/policy_file/a_b"
        );
        for bad in [
            "gw:9091",
            "ftp://gw/",
            "http://user:pw@gw/",
            "http://gw/?x=1",
            "not a url",
        ] {
            assert!(push_target(bad, "g").is_err(), "{bad}");
        }
    }
}
