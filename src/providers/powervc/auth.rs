//! Keystone v3 password authentication for PowerVC: the documented auth body, the token from
//! `X-Subject-Token`, its expiry and renewal margin, and the volume URL from the token's catalog (or
//! the override, or `https://<identity host>:9000/v3/<project>`). The password and the token are
//! never traced. The [`Session`] that holds the token lives here; its calls are in `client.rs`, the
//! mapping of Keystone and Cinder error bodies to `ApiError`s in `types.rs`.

use std::sync::Arc;

use jiff::Timestamp;
use reqwest::{Method, Url};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

use tokio::sync::Mutex;

use super::config::{Domain, PowervcConfig, ProjectScope, User};
use crate::error::{Error, Result};
use crate::http::{Http, Outgoing};
use crate::kind::ProviderKind;

/// OpenStack's request id header.
pub use super::types::REQUEST_ID;
use super::types::api_error;

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

impl Session {
    /// A session (no request yet).
    pub fn new(http: Arc<Http>, config: PowervcConfig) -> Self {
        Session {
            http,
            config,
            state: Mutex::new(None),
        }
    }
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    pub(super) token: TokenInfo,
}

#[derive(Debug, Deserialize)]
struct TokenInfo {
    expires_at: String,
    issued_at: Option<String>,
    project: Option<IdOnly>,
    #[serde(default)]
    catalog: Vec<CatalogEntry>,
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Debug, Deserialize)]
struct CatalogEntry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    endpoints: Vec<Endpoint>,
}

#[derive(Debug, Deserialize)]
struct Endpoint {
    interface: String,
    region: Option<String>,
    region_id: Option<String>,
    url: String,
}

pub(super) struct TokenState {
    pub(super) token: SecretString,
    pub(super) refresh_at: Timestamp,
    pub(super) volume_url: Url,
}

impl Session {
    fn auth_body(&self) -> Value {
        let a = &self.config.auth;
        let domain = |d: &Domain| match d {
            Domain::Id(id) => json!({ "id": id }),
            Domain::Name(name) => json!({ "name": name }),
        };
        let scope = match &a.project {
            ProjectScope::Id(id) => json!({ "project": { "id": id } }),
            ProjectScope::Name { name, domain: d } => {
                json!({ "project": { "name": name, "domain": domain(d) } })
            }
        };
        let user = match &a.user {
            User::Id(id) => json!({ "id": id, "password": a.password() }),
            User::Name { name, domain: d } => {
                json!({ "name": name, "domain": domain(d), "password": a.password() })
            }
        };
        json!({
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": { "user": user }
                },
                "scope": scope,
            }
        })
    }

    async fn authenticate(&self) -> Result<TokenState> {
        let mut url = self.config.auth_url.clone();
        url.path_segments_mut()
            .expect("identity_url() only accepts base URLs")
            .extend(["auth", "tokens"]);
        let body = serde_json::to_vec(&self.auth_body()).expect("auth body serialises");
        let what = format!(
            "authenticate {} with Keystone",
            self.config.auth.user.label()
        );
        // Asking for a token changes nothing server-side: safe to re-send on throttling.
        let resp = self
            .http
            .execute(&what, true, || {
                let mut req = Outgoing::new(Method::POST, url.clone())
                    // Authentication changes no volume: a dry run still authenticates.
                    .reading()
                    .header("Content-Type", "application/json")
                    .header("Accept", "application/json");
                req.body = Some(body.clone());
                req.body_sensitive = true;
                Ok(req)
            })
            .await?;
        if !resp.status.is_success() {
            return Err(api_error(&what, &resp));
        }
        let token = resp
            .header("x-subject-token")
            .ok_or_else(|| Error::Decode {
                provider: ProviderKind::Powervc,
                action: what.clone(),
                detail: "Keystone answered without an X-Subject-Token header".into(),
            })?;
        let info: TokenBody = serde_json::from_slice(&resp.body).map_err(|e| Error::Decode {
            provider: ProviderKind::Powervc,
            action: what.clone(),
            detail: e.to_string(),
        })?;
        let info = info.token;
        let expires_at =
            crate::providers::shared::api_time(Some(&info.expires_at)).ok_or_else(|| {
                Error::Decode {
                    provider: ProviderKind::Powervc,
                    action: what.clone(),
                    detail: format!("unreadable expires_at {:?}", info.expires_at),
                }
            })?;
        let issued_at = info
            .issued_at
            .as_deref()
            .and_then(|t| crate::providers::shared::api_time(Some(t)))
            .unwrap_or_else(Timestamp::now);
        // Renew `margin` before expiry, but never later than half-way through the token's life, so
        // short-lived tokens (Keystone's default hour) are not renewed on every call.
        let life = expires_at.duration_since(issued_at);
        let margin = jiff::SignedDuration::try_from(self.config.token_margin)
            .unwrap_or(jiff::SignedDuration::MAX)
            .min(life / 2);
        let refresh_at = expires_at.checked_sub(margin).unwrap_or(expires_at);
        let project_id = info.project.map(|p| p.id);
        let volume_url = self.volume_url(&info.catalog, project_id.as_deref())?;
        Ok(TokenState {
            token: SecretString::from(token),
            refresh_at,
            volume_url,
        })
    }

    /// The volume service base: override > catalog > `https://<identity host>:9000/v3/<project>`.
    fn volume_url(&self, catalog: &[CatalogEntry], project_id: Option<&str>) -> Result<Url> {
        if let Some(u) = &self.config.volume_endpoint {
            return Ok(u.clone());
        }
        let region = self.config.region.as_deref();
        for kind in VOLUME_TYPES {
            for entry in catalog.iter().filter(|e| e.kind == kind) {
                let found = entry.endpoints.iter().find(|ep| {
                    ep.interface == self.config.interface
                        && region.is_none_or(|r| {
                            ep.region_id.as_deref() == Some(r) || ep.region.as_deref() == Some(r)
                        })
                        && ep.url.contains("/v3")
                });
                if let Some(ep) = found {
                    let mut url = ep.url.trim_end_matches('/').to_string();
                    if url.ends_with("/v3")
                        && let Some(p) = project_id
                    {
                        url = format!("{url}/{p}");
                    }
                    return Url::parse(&url).map_err(|e| Error::Decode {
                        provider: ProviderKind::Powervc,
                        action: "read the service catalog".into(),
                        detail: format!("bad volume URL {url:?}: {e}"),
                    });
                }
            }
        }
        let project = project_id.ok_or_else(|| Error::Config {
            message: "the token has no project and the catalog no volume service".into(),
            hint: Some("pass --volume-endpoint https://HOST:9000/v3/PROJECT_ID".into()),
        })?;
        let auth = &self.config.auth_url;
        let host = auth.host_str().unwrap_or("localhost");
        Url::parse(&format!("{}://{host}:9000/v3/{project}", auth.scheme())).map_err(|e| {
            Error::Config {
                message: format!("cannot build the volume URL: {e}"),
                hint: Some("pass --volume-endpoint".into()),
            }
        })
    }

    /// Current token and volume URL, authenticating when none is valid (or when `renew`).
    pub(super) async fn current(&self, renew: bool) -> Result<(SecretString, Url)> {
        let mut guard = self.state.lock().await;
        let stale = match guard.as_ref() {
            None => true,
            Some(s) => renew || Timestamp::now() >= s.refresh_at,
        };
        if stale {
            *guard = Some(self.authenticate().await?);
        }
        let s = guard.as_ref().expect("set above");
        Ok((s.token.clone(), s.volume_url.clone()))
    }
}
