//! Calls to the PowerVC volume service through an authenticated [`Session`] (the session itself,
//! Keystone authentication and the error mapping are in `auth.rs`).
//!
//! The token (from `X-Subject-Token`) and the volume URL (from the token's catalog, or the override,
//! or `https://<identity host>:9000/v3/<project>`) are cached for the run; the token is renewed before
//! `expires_at` minus the margin, and once on a 401, after which the call is repeated once. Cinder
//! fault bodies and Keystone error bodies become `ApiError`s with `x-openstack-request-id`. The token
//! and the password are never traced.

use reqwest::{Method, Url};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::auth::{Session, api_error};
use crate::error::Result;
use crate::http::{Incoming, Outgoing};

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
