//! The signed OVH API v1 client shared by the EFS and NAS-HA providers.
//!
//! It owns URL building (path segments percent-encoded, so no input reaches another route), the server
//! time delta (`GET /auth/time`, once per run, refreshed once on `QUERY_TIME_OUT`), signing each attempt
//! with a fresh timestamp, and turning OVH error bodies into `ApiError`s with the `X-Ovh-QueryID`.
//! It knows no product routes beyond `/auth/time`.

use std::sync::Arc;

use reqwest::{Method, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use super::config::OvhConfig;
use super::sign::signature;
use crate::error::{ApiError, Error, Result};
use crate::http::{Http, Incoming, Outgoing};
use crate::kind::ProviderKind;

/// The header OVH puts its request id in.
pub const QUERY_ID_HEADER: &str = "X-Ovh-QueryID";

/// OVH error body; every field optional, unknown ones ignored.
#[derive(Debug, Default, Deserialize)]
struct OvhErrorBody {
    message: Option<String>,
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    class: Option<String>,
}

/// A signed client for one OVH endpoint and credential set.
#[derive(Debug)]
pub struct OvhClient {
    http: Arc<Http>,
    config: OvhConfig,
    provider: ProviderKind,
    delta: Mutex<Option<i64>>,
}

impl OvhClient {
    /// A client for `provider` (used in error messages).
    pub fn new(http: Arc<Http>, config: OvhConfig, provider: ProviderKind) -> Self {
        OvhClient {
            http,
            config,
            provider,
            delta: Mutex::new(None),
        }
    }

    /// `base + /seg1/seg2…?query`, each segment percent-encoded.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.config.base_url.clone();
        {
            let mut path = url
                .path_segments_mut()
                .expect("endpoint_url() only accepts base URLs");
            path.pop_if_empty();
            path.extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Server time minus local time, fetched once (or again when `refresh`).
    async fn delta(&self, refresh: bool) -> Result<i64> {
        let mut guard = self.delta.lock().await;
        if let (Some(d), false) = (*guard, refresh) {
            return Ok(d);
        }
        let url = self.url(&["auth", "time"], &[]);
        let action = "read the OVH server time (GET /auth/time)";
        let (ak, _, _) = self.config.credentials.expose();
        let resp = self
            .http
            .execute(action, true, || {
                Ok(Outgoing::new(Method::GET, url.clone())
                    .secret_header("X-Ovh-Application", ak)
                    .header("Accept", "application/json"))
            })
            .await?;
        if !resp.status.is_success() {
            return Err(self.api_error(action, &resp, &Method::GET, &url));
        }
        let server: i64 = serde_json::from_slice(&resp.body).map_err(|e| Error::Decode {
            provider: self.provider,
            action: action.into(),
            detail: format!("expected a Unix time integer: {e}"),
        })?;
        let d = server - jiff::Timestamp::now().as_second();
        *guard = Some(d);
        Ok(d)
    }

    /// Send one signed call; non-2xx answers become errors.
    ///
    /// GET and DELETE are retried by the HTTP layer; POST and PUT are not re-sent once they may have
    /// reached the server. A `QUERY_TIME_OUT` answer (rejected before processing) refreshes the time
    /// delta and is re-sent once, whatever the method.
    pub async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        action: &str,
    ) -> Result<Incoming> {
        crate::providers::shared::probe_delete(
            &method,
            self.http.config().dry_run,
            Box::pin(self.call(Method::GET, url.clone(), None, action)),
        )
        .await?;
        let idempotent = matches!(method, Method::GET | Method::DELETE);
        let (ak, as_, ck) = self.config.credentials.expose();
        crate::providers::shared::call_renewing_once(
            &method,
            |refresh| {
                let (method, url, body) = (&method, &url, &body);
                async move {
                    let delta = self.delta(refresh).await?;
                    self.http
                        .execute(action, idempotent, || {
                            let ts = jiff::Timestamp::now().as_second() + delta;
                            let sig = signature(
                                as_,
                                ck,
                                method.as_str(),
                                url.as_str(),
                                body.as_deref().unwrap_or_default(),
                                ts,
                            );
                            let mut req = Outgoing::new(method.clone(), url.clone())
                                .secret_header("X-Ovh-Application", ak)
                                .secret_header("X-Ovh-Consumer", ck)
                                .header("X-Ovh-Timestamp", ts.to_string())
                                .secret_header("X-Ovh-Signature", sig)
                                .header("Accept", "application/json");
                            if let Some(b) = body {
                                req = req.header("Content-Type", "application/json");
                                req.body = Some(b.clone());
                            }
                            Ok(req)
                        })
                        .await
                }
            },
            |resp| resp.status.is_success(),
            |resp| self.api_error(action, resp, &method, &url),
            // Rejected before processing for the clock: refresh the time delta.
            |_, err| {
                matches!(err, Error::Unauthorized(a) if a.code.as_deref() == Some("QUERY_TIME_OUT"))
            },
        )
        .await
    }

    /// GET and decode JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, url: Url, action: &str) -> Result<T> {
        let resp = self.call(Method::GET, url, None, action).await?;
        self.decode(&resp, action)
    }

    /// GET a JSON list, each element mapped by `keep` as it is read (a list of 40,000 snapshots
    /// never exists twice, as wire items and as what is kept).
    pub async fn get_list<T: DeserializeOwned, U>(
        &self,
        url: Url,
        action: &str,
        keep: impl FnMut(T) -> Option<U>,
    ) -> Result<Vec<U>> {
        let resp = self.call(Method::GET, url, None, action).await?;
        crate::http::decode_list(&resp.body, keep).map_err(|e| Error::Decode {
            provider: self.provider,
            action: action.into(),
            detail: e.to_string(),
        })
    }

    /// POST (or PUT) a JSON body, serialised once: the same bytes are signed and sent.
    pub async fn send_json<B: serde::Serialize>(
        &self,
        method: Method,
        url: Url,
        body: &B,
        action: &str,
    ) -> Result<Incoming> {
        let bytes = serde_json::to_vec(body).expect("request bodies are plain serde structs");
        self.call(method, url, Some(bytes), action).await
    }

    /// Decode a 2xx body.
    pub fn decode<T: DeserializeOwned>(&self, resp: &Incoming, action: &str) -> Result<T> {
        serde_json::from_slice(&resp.body).map_err(|e| Error::Decode {
            provider: self.provider,
            action: action.into(),
            detail: e.to_string(),
        })
    }

    /// Map an error answer to `Error::NotFound` / `Error::Api` with a hint.
    fn api_error(&self, action: &str, resp: &Incoming, method: &Method, url: &Url) -> Error {
        let body: OvhErrorBody = serde_json::from_slice(&resp.body).unwrap_or_default();
        let status = resp.status.as_u16();
        let message = body.message.unwrap_or_else(|| resp.raw_message());
        let code = body.error_code.or(body.class);
        let hint = hint_for(status, code.as_deref(), method, url);
        let api = ApiError {
            provider: self.provider,
            action: action.to_string(),
            status,
            code,
            message,
            request_id_header: QUERY_ID_HEADER,
            request_id: resp.header(QUERY_ID_HEADER),
            hint,
        };
        if code_refuses_credentials(api.code.as_deref()) {
            // A wrong secret (400 INVALID_SIGNATURE), an unknown key or consumer key: exit 5.
            return Error::Unauthorized(Box::new(api));
        }
        api.into_error(false)
    }
}

/// An OVH product's client and service, as EFS and NAS-HA both start: the `--service` given is
/// checked with `check` before anything is sent; without one, `pick` asks the API for the
/// account's only one.
pub async fn connect(
    settings: &crate::config::Settings,
    config: OvhConfig,
    http: Arc<Http>,
    provider: ProviderKind,
    check: impl FnOnce(&str) -> Result<()>,
    pick: impl AsyncFnOnce(&OvhClient) -> Result<String>,
) -> Result<(OvhClient, String)> {
    if let Some(service) = &settings.service {
        check(service)?;
    }
    let client = OvhClient::new(http, config, provider);
    let service = match &settings.service {
        Some(s) => s.clone(),
        None => pick(&client).await?,
    };
    Ok((client, service))
}

/// The service to use when `--service` is not given: the account's only one. `services` are
/// `(id, label)` pairs; none or several is an error that lists them.
pub fn only_service(product: &str, services: Vec<(String, String)>) -> Result<String> {
    let mut services = services;
    match services.len() {
        1 => Ok(services.remove(0).0),
        0 => Err(Error::Config {
            message: format!("no {product} service on this OVH account"),
            hint: Some(
                "check the endpoint (ovh-eu, ovh-ca, …) and the account the keys belong to".into(),
            ),
        }),
        n => Err(Error::Usage {
            message: format!("{n} {product} services on this account; choose one with --service"),
            hint: Some(
                services
                    .iter()
                    .map(|(id, label)| {
                        if label.is_empty() {
                            id.clone()
                        } else {
                            format!("{id} ({label})")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        }),
    }
}

/// What to do about an OVH error, from its status and code.
/// OVH error codes that mean the credentials were refused, whatever the HTTP status (a bad
/// signature is a 400). `QUERY_TIME_OUT` is among them: the request was not authenticated.
fn code_refuses_credentials(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "INVALID_SIGNATURE"
                | "QUERY_TIME_OUT"
                | "INVALID_KEY"
                | "INVALID_CREDENTIAL"
                | "NOT_CREDENTIAL"
                | "NOT_GRANTED_CALL"
        )
    )
}

fn hint_for(status: u16, code: Option<&str>, method: &Method, url: &Url) -> Option<String> {
    let path = url.path();
    let hint = match (status, code) {
        (_, Some("INVALID_SIGNATURE")) => {
            "the signature was refused: check that application_secret and consumer_key belong to this application key and endpoint".to_string()
        }
        (_, Some("QUERY_TIME_OUT")) => {
            "the request timestamp was refused twice: check the clock and that nothing delays requests".to_string()
        }
        (_, Some("NOT_GRANTED_CALL")) => format!(
            "the consumer key has no access rule for {method} {path}; create a key with GET/POST/PUT/DELETE rules on /storage/netapp/* and /dedicated/nasha/*"
        ),
        (_, Some("NOT_CREDENTIAL" | "INVALID_CREDENTIAL")) => {
            "the consumer key is unknown, not yet validated, expired or revoked: create or validate a new one".to_string()
        }
        (_, Some("INVALID_KEY")) => {
            "the application key is unknown on this endpoint: check OVH_ENDPOINT and the key".to_string()
        }
        (403, _) => "the credentials were refused: check the access rules and IAM policies of the consumer key".to_string(),
        (429, _) => "OVH is rate-limiting this consumer key: wait a minute and run again".to_string(),
        (460, _) => "the service is expired or suspended: renew it in the OVHcloud control panel".to_string(),
        (s, _) if s >= 500 => "OVH answered with a server error: retry later, and quote the query id to OVH support if it persists".to_string(),
        _ => return None,
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Exit;

    #[test]
    fn only_service_picks_the_one_and_lists_several() {
        let one = vec![("zpool-1".to_string(), String::new())];
        assert_eq!(only_service("NAS-HA", one).expect("one"), "zpool-1");
        let none = only_service("NAS-HA", vec![]).unwrap_err();
        assert_eq!(none.exit_code(), Exit::Auth);
        let two = vec![
            ("a".to_string(), "prod, eu-west-gra".to_string()),
            ("b".to_string(), String::new()),
        ];
        let err = only_service("EFS", two).unwrap_err();
        assert_eq!(
            err.to_string(),
            "2 EFS services on this account; choose one with --service"
        );
        assert_eq!(err.hint().as_deref(), Some("a (prod, eu-west-gra); b"));
    }
}
