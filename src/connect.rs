//! Configuration resolved once: [`connect`] turns settings into one [`Connection`], for every
//! command, every fleet account and shell completion alike.
//!
//! The order is the trust rule's (docs/security.md): first the provider's credentials are paired
//! with the endpoint they may be sent to ([`providers::pair`]: a named profile holding secrets is
//! the only source of both; the environment and native files never re-point it; an explicit
//! `--endpoint` beside it is the user's choice, warned about here, once), then one HTTP client is
//! built for that pair with every TLS setting merged (flags, profile, and what the provider's own
//! configuration adds, such as PowerVC's `OS_CACERT`), then the provider is made from the pair and
//! that client. Nothing is sent before the provider's first call, except where it needs the
//! account's only service (OVH, without `--service`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::http::{Http, HttpConfig, RateLimit};
use crate::provider::Provider;
use crate::providers::{self, entry};

/// How requests travel, from the command line (and the profile where it has a say).
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// `--max-rps` (over the profile's `max_rps`; 0 turns the limit off).
    pub max_rps: Option<f64>,
    /// `--allow-http` (or the profile's `allow_http`).
    pub allow_http: bool,
    /// Refuse anything but loopback (fleet files that say so, the emulator's users).
    pub loopback_only: bool,
    /// `--dry-run`: mutations are checked, never sent.
    pub dry_run: bool,
    /// One request's limit (`--request-timeout`).
    pub request_timeout: Option<Duration>,
    /// The first retry's pause (`--retry-delay`).
    pub retry_delay: Option<Duration>,
    /// Largest answer read (`--max-response-size`).
    pub max_body: Option<u64>,
    /// `-v` count.
    pub verbosity: u8,
}

/// A provider ready to call, and what a run reports about it.
pub struct Connection {
    /// The provider, its answers' ids checked.
    pub provider: Box<dyn Provider>,
    /// Requests sent so far through its client (`-v`).
    pub sent: Arc<AtomicU64>,
}

/// Downgrade warnings already printed by this process (fleet mode connects once per account).
static WARNED_HTTP: AtomicBool = AtomicBool::new(false);
static WARNED_INSECURE: AtomicBool = AtomicBool::new(false);

/// No downgrade warnings from this process (shell completion must print nothing to the terminal).
pub fn silence_warnings() {
    WARNED_HTTP.store(true, Ordering::Relaxed);
    WARNED_INSECURE.store(true, Ordering::Relaxed);
}

/// Pair the credentials with their endpoint, build the one HTTP client, make the provider.
/// Warnings about transport downgrades (plain http, no certificate check) go to stderr at once,
/// once a process, whatever `-q` says. What the configuration warns about (credentials others
/// can read, an `--endpoint` that re-points a profile's secrets) is pushed to `warnings`, also
/// when the connection fails, for the caller to print whatever `-q` says.
pub async fn connect(
    settings: &Settings,
    transport: &Transport,
    warnings: &mut Vec<String>,
) -> Result<Connection> {
    warnings.extend(settings.warnings.iter().cloned());
    warnings.extend(settings.endpoint_warning());
    let paired = providers::pair(settings, warnings)?;
    let rate_limit = match transport.max_rps.or(settings.profile.max_rps) {
        Some(rps) if rps > 0.0 => Some(RateLimit {
            per_second: rps,
            burst: entry(settings.provider)
                .default_rate_limit
                .map_or(1, |d| d.burst),
        }),
        Some(0.0) => None,
        Some(rps) => {
            return Err(Error::Config {
                message: format!("max_rps = {rps}: a request rate cannot be negative or NaN"),
                hint: Some("set max_rps to requests per second, or 0 for no limit".into()),
            });
        }
        None => entry(settings.provider).default_rate_limit,
    };
    let allow_http = transport.allow_http || settings.profile.allow_http.unwrap_or(false);
    if allow_http && !WARNED_HTTP.swap(true, Ordering::Relaxed) {
        eprintln!(
            "warning: plain http:// endpoints are allowed (--allow-http/allow_http): credentials and data may cross the network unencrypted"
        );
    }
    // TLS: the flag, else the profile, else what the provider's own configuration names.
    let (own_cacert, own_insecure) = paired.tls();
    let cacert: Option<PathBuf> = settings
        .cacert_flag
        .clone()
        .or_else(|| settings.profile.cacert.clone())
        .or(own_cacert);
    let ca_pem = cacert
        .as_deref()
        .map(crate::http::read_ca_file)
        .transpose()?;
    let insecure =
        settings.insecure_flag || settings.profile.insecure.unwrap_or(false) || own_insecure;
    if insecure && !WARNED_INSECURE.swap(true, Ordering::Relaxed) {
        eprintln!(
            "warning: TLS certificate verification is OFF (--insecure, insecure, OS_INSECURE): anyone on the path can read or change what is sent, credentials included"
        );
    }
    let sent = Arc::new(AtomicU64::new(0));
    let defaults = HttpConfig::default();
    let http = Arc::new(Http::new(HttpConfig {
        sent: sent.clone(),
        ca_pem,
        insecure,
        // --timeout is the wait deadline only; one request has its own limit.
        request_timeout: transport
            .request_timeout
            .unwrap_or(defaults.request_timeout)
            .max(Duration::from_millis(100)),
        verbosity: transport.verbosity,
        rate_limit,
        allow_http,
        loopback_only: transport.loopback_only,
        dry_run: transport.dry_run,
        max_body: transport.max_body.unwrap_or(crate::http::DEFAULT_MAX_BODY),
        held: crate::http::process_ledger(),
        base_delay: transport.retry_delay.unwrap_or(defaults.base_delay),
        ..defaults
    })?);
    Ok(Connection {
        provider: providers::build(settings, paired, http).await?,
        sent,
    })
}
