//! The authenticated PowerVC volume-service client (Keystone authentication is in `auth.rs`).
//!
//! The token (from `X-Subject-Token`) and the volume URL (from the token's catalog, or the override,
//! or `https://<identity host>:9000/v3/<project>`) are cached for the run; the token is renewed before
//! `expires_at` minus the margin, and once on a 401, after which the call is repeated once. Cinder
//! fault bodies and Keystone error bodies become `ApiError`s with `x-openstack-request-id`. The token
//! and the password are never traced.

use std::sync::Arc;

use jiff::Timestamp;
use reqwest::{Method, Url};
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::sync::Mutex;

use super::auth::TokenState;
use super::config::PowervcConfig;
use crate::error::{ApiError, Error, Result};
use crate::http::{Http, Incoming, Outgoing};
use crate::kind::ProviderKind;

/// OpenStack's request id header.
pub const REQUEST_ID: &str = "x-openstack-request-id";

/// Catalog service types for block storage, in order of preference.
pub const VOLUME_TYPES: [&str; 4] = ["block-storage", "volumev3", "volumev2", "volume"];

/// An authenticated session against one PowerVC.
pub struct Session {
    pub(super) http: Arc<Http>,
    pub(super) config: PowervcConfig,
    pub(super) state: Mutex<Option<TokenState>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("auth_url", &self.config.auth_url.as_str())
            .field("token", &"***")
            .finish()
    }
}

pub(super) fn parse_time(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok().or_else(|| {
        s.parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })
}

/// OpenStack timestamps: RFC 3339, or naive UTC as Cinder writes them (`2016-02-11T09:58:34.000000`).
pub fn openstack_time(s: Option<&str>) -> Option<Timestamp> {
    s.and_then(parse_time)
}

impl Session {
    /// A session (no request yet).
    pub fn new(http: Arc<Http>, config: PowervcConfig) -> Self {
        Session {
            http,
            config,
            state: Mutex::new(None),
        }
    }

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
        let bytes = body.map(|b| serde_json::to_vec(b).expect("bodies serialise"));
        let mut renewed = false;
        loop {
            let (token, base) = self.current(renewed).await?;
            let mut url = base.clone();
            url.path_segments_mut()
                .expect("volume URLs are base URLs")
                .pop_if_empty()
                .extend(segments);
            if !query.is_empty() {
                url.query_pairs_mut().extend_pairs(query);
            }
            let resp = self
                .http
                .execute(what, idempotent, || {
                    let mut req = Outgoing::new(method.clone(), url.clone())
                        .header("X-Auth-Token", token.expose_secret(), true)
                        .header("Accept", "application/json", false);
                    for (k, v) in headers {
                        req = req.header(k, v.clone(), false);
                    }
                    if let Some(b) = &bytes {
                        req = req.header("Content-Type", "application/json", false);
                        req.body = Some(b.clone());
                    }
                    Ok(req)
                })
                .await?;
            // A retried DELETE finding nothing: the earlier attempt took effect.
            if resp.status.is_success()
                || (method == Method::DELETE && resp.retried_delete_found_nothing())
            {
                return Ok(resp);
            }
            if resp.status.as_u16() == 401 && !renewed {
                renewed = true;
                continue;
            }
            return Err(api_error(what, &resp));
        }
    }

    /// GET a URL under the identity host (the volume version document).
    pub async fn get_absolute(&self, url: Url, what: &str) -> Result<Incoming> {
        let (token, _) = self.current(false).await?;
        let resp = self
            .http
            .execute(what, true, || {
                Ok(Outgoing::new(Method::GET, url.clone())
                    .header("X-Auth-Token", token.expose_secret(), true)
                    .header("Accept", "application/json", false))
            })
            .await?;
        if resp.status.is_success() {
            Ok(resp)
        } else {
            Err(api_error(what, &resp))
        }
    }
}

/// Cinder `{"<fault>": {"code", "message"}}` or Keystone `{"error": {"code", "title", "message"}}`.
pub fn api_error(what: &str, resp: &Incoming) -> Error {
    let status = resp.status.as_u16();
    let parsed: Option<(String, Option<String>)> = serde_json::from_slice::<Value>(&resp.body)
        .ok()
        .and_then(|v| {
            let obj = v.as_object()?;
            let (key, inner) = obj.iter().next()?;
            let inner = inner.as_object()?;
            let message = inner.get("message")?.as_str()?.to_string();
            let code = if key == "error" {
                inner
                    .get("title")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            } else {
                Some(key.clone())
            };
            Some((message, code))
        });
    let (message, code) = parsed.unwrap_or_else(|| (resp.raw_message(), None));
    let hint = match status {
        401 => Some("check OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME and the domains; the password or token was refused".to_string()),
        403 => Some("the user lacks a role for this in the project (PowerVC: admin or storage manager)".to_string()),
        413 => Some("PowerVC is rate-limiting or a quota is reached: retry later or free some quota".to_string()),
        s if s >= 500 => Some("PowerVC answered with a server error: retry later, and quote the request id to support".to_string()),
        _ => None,
    };
    let api = ApiError {
        provider: ProviderKind::Powervc,
        action: what.to_string(),
        status,
        code,
        message,
        request_id_header: REQUEST_ID,
        request_id: resp.header(REQUEST_ID),
        hint,
    };
    api.into_error(false)
}
