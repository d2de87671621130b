//! Calls to the PowerVC volume service through an authenticated [`Session`] (the session itself
//! and Keystone authentication are in `auth.rs`; error bodies are mapped in `types.rs`).
//!
//! The token (from `X-Subject-Token`) and the volume URL (from the token's catalog, or the override,
//! or `https://<identity host>:9000/v3/<project>`) are cached for the run; the token is renewed before
//! `expires_at` minus the margin, and once on a 401, after which the call is repeated once. Cinder
//! fault bodies and Keystone error bodies become `ApiError`s with `x-openstack-request-id`. The token
//! and the password are never traced.

use reqwest::{Method, Url};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::auth::Session;
use super::types::api_error;
use crate::error::{Error, Result};
use crate::http::{Incoming, Outgoing};
use crate::kind::ProviderKind;
use serde::de::DeserializeOwned;

impl Session {
    /// The volume service base URL (authenticating if needed).
    pub async fn base(&self) -> Result<Url> {
        Ok(self.current(false).await?.1)
    }

    /// One call to the volume service: `base + segments ? query`. Renews the token once on a 401
    /// and repeats the call once. Non-2xx answers become errors.
    #[allow(clippy::too_many_arguments)]
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
        headers: &[(&'static str, String)],
        idempotent: bool,
        what: &str,
    ) -> Result<Incoming> {
        crate::providers::shared::probe_delete(
            &method,
            self.http.config().dry_run,
            Box::pin(self.call(Method::GET, segments, query, None, headers, true, what)),
        )
        .await?;
        let bytes = body.map(|b| serde_json::to_vec(b).expect("bodies serialise"));
        crate::providers::shared::call_renewing_once(
            &method,
            |renew| {
                let (method, bytes) = (&method, &bytes);
                async move {
                    let (token, base) = self.current(renew).await?;
                    let mut url = base.clone();
                    url.path_segments_mut()
                        .expect("volume URLs are base URLs")
                        .pop_if_empty()
                        .extend(segments);
                    if !query.is_empty() {
                        url.query_pairs_mut().extend_pairs(query);
                    }
                    self.http
                        .execute(what, idempotent, || {
                            let mut req = Outgoing::new(method.clone(), url.clone())
                                .secret_header("X-Auth-Token", token.expose_secret())
                                .header("Accept", "application/json");
                            for (k, v) in headers {
                                req = req.header(k, v.clone());
                            }
                            if let Some(b) = bytes {
                                req = req.header("Content-Type", "application/json");
                                req.body = Some(b.clone());
                            }
                            Ok(req)
                        })
                        .await
                }
            },
            |resp| resp.status.is_success(),
            |resp| api_error(what, resp),
            |resp, _| resp.status.as_u16() == 401,
        )
        .await
    }

    /// [`call`](Self::call) without a query or extra headers. Only a POST is not idempotent
    /// (Cinder has no idempotency key: a POST is never re-sent after it may have arrived).
    pub async fn send(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
        what: &str,
    ) -> Result<Incoming> {
        let idempotent = method != Method::POST;
        self.call(method, segments, &[], body, &[], idempotent, what)
            .await
    }

    /// GET a URL outside the volume base (the volume version document), renewing the token once
    /// on a 401 like every other call. A `300 Multiple Choices` is an answer here: it is how a
    /// service root lists its versions (OpenStack version discovery).
    pub async fn get_absolute(&self, url: Url, what: &str) -> Result<Incoming> {
        crate::providers::shared::call_renewing_once(
            &Method::GET,
            |renew| {
                let url = &url;
                async move {
                    let (token, _) = self.current(renew).await?;
                    self.http
                        .execute(what, true, || {
                            Ok(Outgoing::new(Method::GET, url.clone())
                                .secret_header("X-Auth-Token", token.expose_secret())
                                .header("Accept", "application/json"))
                        })
                        .await
                }
            },
            |resp| resp.status.is_success() || resp.status.as_u16() == 300,
            |resp| api_error(what, resp),
            |resp, _| resp.status.as_u16() == 401,
        )
        .await
    }
}
/// `"3.71"` → `(3, 71)`.
pub(super) fn microversion(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Where the version document of a volume endpoint is: `…/v3/` for `…/v3/<project>` and for a
/// project-less `…/v3` (Cinder's URLs without a project id), the endpoint itself otherwise.
pub(super) fn version_root(base: &Url) -> Url {
    let segments: Vec<&str> = base
        .path_segments()
        .map(|s| s.filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    let is_version = |s: &&str| {
        s.strip_prefix('v')
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.'))
    };
    let keep = segments
        .iter()
        .rposition(is_version)
        .map_or(segments.len(), |i| i + 1);
    let mut root = base.clone();
    let path = segments[..keep].join("/");
    root.set_path(&if path.is_empty() {
        "/".to_string()
    } else {
        format!("/{path}/")
    });
    root.set_query(None);
    root
}

/// The highest `version` of a version document: `{"versions": […]}` (a service root's 300 or
/// `GET /v3/`) or `{"version": {…}}`. Entries without a microversion (v2's `""`) are skipped.
pub(super) fn max_microversion_of(v: &Value) -> Option<(u32, u32)> {
    let listed = v["versions"].as_array().into_iter().flatten();
    listed
        .chain(std::iter::once(&v["version"]))
        .filter_map(|x| x["version"].as_str().and_then(microversion))
        .max()
}

pub(super) fn decode<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        provider: ProviderKind::Powervc,
        action: what.to_string(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_document_is_found_with_or_without_a_project_id() {
        let root = |u: &str| version_root(&Url::parse(u).expect("url")).to_string();
        assert_eq!(
            root("https://pvc.example.com:9000/v3/38d2d7a82d9c4142a295298087bf9459"),
            "https://pvc.example.com:9000/v3/"
        );
        assert_eq!(
            root("https://pvc.example.com:9000/v3"),
            "https://pvc.example.com:9000/v3/"
        );
        assert_eq!(
            root("https://pvc.example.com:9000/v3/"),
            "https://pvc.example.com:9000/v3/"
        );
        assert_eq!(
            root("https://pvc.example.com/block-storage/v3/abc"),
            "https://pvc.example.com/block-storage/v3/"
        );
        assert_eq!(
            root("https://pvc.example.com:9000/"),
            "https://pvc.example.com:9000/"
        );
    }

    #[test]
    fn the_highest_microversion_of_a_root_listing_wins() {
        let root: Value = serde_json::json!({"versions": [
            {"id": "v2.0", "status": "DEPRECATED", "version": "", "min_version": ""},
            {"id": "v3.0", "status": "CURRENT", "version": "3.64", "min_version": "3.0"}
        ]});
        assert_eq!(max_microversion_of(&root), Some((3, 64)));
        let one: Value = serde_json::json!({"version": {"id": "v3.0", "version": "3.9"}});
        assert_eq!(max_microversion_of(&one), Some((3, 9)));
        assert_eq!(max_microversion_of(&serde_json::json!({})), None);
    }
}
