//! The signed OUTSCALE API client: `POST {base}/{Action}` with a JSON body, OSC4-signed per attempt,
//! error bodies turned into `ApiError`s with `RequestId`, and `NextPageToken` pagination.
//!
//! It knows no action's semantics beyond the envelope; the provider module owns the request and
//! response structs (named as `outscale.yaml` names them).

use std::sync::Arc;

use reqwest::{Method, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::config::OscConfig;
use super::sign::{OSC4, SignedRequest, authorization};
use crate::error::{ApiError, Error, Result};
use crate::http::{Http, Incoming, Outgoing};
use crate::kind::ProviderKind;

/// Where OUTSCALE puts the request id (in the body's `ResponseContext`).
pub const REQUEST_ID: &str = "RequestId";

/// The Content-Type osc-sdk-python sends (and signs).
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorItem>,
    response_context: Option<ResponseContext>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorItem {
    code: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    details: Option<String>,
}

/// `ResponseContext`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResponseContext {
    /// Request id.
    pub request_id: Option<String>,
}

/// The keys holding the items of a `Read*` page; a page without one has no items.
const PAGE_ITEMS: [&str; 3] = ["Snapshots", "Volumes", "SnapshotExportTasks"];

/// A signed client for one endpoint, region and key pair.
#[derive(Debug)]
pub struct OscClient {
    http: Arc<Http>,
    config: OscConfig,
    page_size: u32,
}

impl OscClient {
    /// A client; `page_size` is `ResultsPerPage` for reads (1..=1000).
    pub fn new(http: Arc<Http>, config: OscConfig, page_size: u32) -> Self {
        OscClient {
            http,
            config,
            page_size: page_size.clamp(1, 1000),
        }
    }

    /// Configured region.
    pub fn region(&self) -> &str {
        &self.config.region
    }

    fn url(&self, action: &str) -> Url {
        let mut url = self.config.base_url.clone();
        url.path_segments_mut()
            .expect("endpoint_url() only accepts base URLs")
            .pop_if_empty()
            .push(action);
        url
    }

    /// Call `action` with `body`. `idempotent` calls (reads, deletes, creates carrying a
    /// `ClientToken`) are retried on throttling and server errors; others never re-sent.
    pub async fn call<B: serde::Serialize, T: DeserializeOwned>(
        &self,
        action: &str,
        body: &B,
        idempotent: bool,
        what: &str,
    ) -> Result<T> {
        let resp = self.send(action, body, idempotent, what).await?;
        serde_json::from_slice(&resp.body).map_err(|e| Error::Decode {
            provider: ProviderKind::Outscale,
            action: what.to_string(),
            detail: format!("{action}: {e}"),
        })
    }

    /// Send one call. Under `--dry-run` a changing call is not sent: the same body goes out with
    /// `DryRun: true` instead (without its `ClientToken`), so the API itself says whether the real
    /// call would be allowed, and its refusal is the real run's refusal.
    async fn send<B: serde::Serialize>(
        &self,
        action: &str,
        body: &B,
        idempotent: bool,
        what: &str,
    ) -> Result<Incoming> {
        let value = serde_json::to_value(body).expect("request bodies are plain serde structs");
        let reads = action.starts_with("Read")
            || value.get("DryRun").and_then(serde_json::Value::as_bool) == Some(true);
        match self.send_raw(action, &value, reads, idempotent, what).await {
            Err(Error::DryRunStop(stop)) => {
                let mut check = value;
                if let Some(obj) = check.as_object_mut() {
                    obj.remove("ClientToken");
                    obj.insert("DryRun".into(), serde_json::Value::Bool(true));
                }
                match self.send_raw(action, &check, true, true, what).await {
                    Ok(_) => {}
                    Err(Error::Api(api)) if api.message.to_ascii_lowercase().contains("dryrun") => {
                    }
                    Err(e) => return Err(e),
                }
                Err(Error::DryRunStop(crate::error::WouldSend {
                    checked_by_provider: true,
                    ..stop
                }))
            }
            other => other,
        }
    }

    /// Sign and send `body`; `reads` marks calls that change nothing (OAPI reads are POSTs too).
    async fn send_raw(
        &self,
        action: &str,
        body: &serde_json::Value,
        reads: bool,
        idempotent: bool,
        what: &str,
    ) -> Result<Incoming> {
        let url = self.url(action);
        let bytes = serde_json::to_vec(body).expect("JSON values serialise");
        let host = super::sign::host_of(&url);
        let creds = &self.config.credentials;
        let resp = self
            .http
            .execute(what, idempotent, || {
                let date = jiff::Timestamp::now()
                    .strftime("%Y%m%dT%H%M%SZ")
                    .to_string();
                let headers = [
                    ("content-type", CONTENT_TYPE),
                    ("host", host.as_str()),
                    ("x-osc-date", date.as_str()),
                ];
                let auth = authorization(
                    OSC4,
                    &creds.access_key,
                    creds.secret(),
                    &self.config.region,
                    "api",
                    &date,
                    &SignedRequest {
                        method: "POST",
                        path: url.path(),
                        headers: &headers,
                        body: &bytes,
                    },
                );
                let mut req = Outgoing::new(Method::POST, url.clone())
                    .header("Content-Type", CONTENT_TYPE)
                    .header("X-Osc-Date", date.clone())
                    .secret_header("Authorization", auth);
                if reads {
                    req = req.reading();
                }
                req.body = Some(bytes.clone());
                Ok(req)
            })
            .await?;
        if resp.status.is_success() {
            return Ok(resp);
        }
        let err = api_error(what, &resp);
        // A retried Delete* answered "no such resource": the earlier attempt took effect.
        if action.starts_with("Delete") && resp.attempt > 1 && matches!(err, Error::NotFound(_)) {
            return Ok(resp);
        }
        Err(err)
    }

    /// Every item of a `Read*` call that `keep` keeps (as what it answers: `Some` keeps them all),
    /// following `NextPageToken` to the end. Each page's raw JSON is dropped once decoded. A token
    /// seen twice is a broken chain and an error, never a short list.
    pub async fn read_all<T: DeserializeOwned, U>(
        &self,
        action: &str,
        filters: serde_json::Value,
        what: &str,
        keep: impl Fn(T) -> Option<U>,
    ) -> Result<Vec<U>> {
        let mut out = Vec::new();
        self.read_each(action, filters, what, keep, |page: Vec<U>| {
            out.extend(page);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// [`Self::read_all`], page by page: each item is turned into what `keep` answers as soon as
    /// it is read (`crate::http::decode_page`: no page of wire items is ever built), each page
    /// of kept items goes to `sink` and is dropped after.
    pub async fn read_each<T: DeserializeOwned, U>(
        &self,
        action: &str,
        filters: serde_json::Value,
        what: &str,
        keep: impl Fn(T) -> Option<U>,
        sink: impl FnMut(Vec<U>) -> Result<()>,
    ) -> Result<()> {
        let (filters, keep) = (&filters, &keep);
        crate::http::for_each_page(
            ProviderKind::Outscale,
            what,
            "NextPageToken",
            |token| {
                let mut body = serde_json::json!({
                    "Filters": filters,
                    "ResultsPerPage": self.page_size,
                });
                if let Some(t) = token {
                    body["NextPageToken"] = serde_json::Value::String(t);
                }
                async move {
                    let resp = self.send(action, &body, true, what).await?;
                    let (items, next) = crate::http::decode_page::<T, U, String, _>(
                        &resp.body,
                        &PAGE_ITEMS,
                        "NextPageToken",
                        keep,
                    )
                    .map_err(|e| Error::Decode {
                        provider: ProviderKind::Outscale,
                        action: what.to_string(),
                        detail: format!("{action}: {e}"),
                    })?;
                    Ok((items.unwrap_or_default(), next))
                }
            },
            sink,
        )
        .await
    }
}

/// An OUTSCALE error answer as `NotFound` or `Api`, with a hint.
fn api_error(what: &str, resp: &Incoming) -> Error {
    let body: ErrorBody = serde_json::from_slice(&resp.body).unwrap_or_default();
    let status = resp.status.as_u16();
    let first = body.errors.into_iter().next().unwrap_or_default();
    let kind = first.kind.clone().unwrap_or_default();
    let message = match (&first.kind, &first.details) {
        (Some(k), Some(d)) if !d.is_empty() => format!("{k}: {d}"),
        (Some(k), _) => k.clone(),
        (None, _) => resp.raw_message(),
    };
    let code = first.code.clone();
    let hint = match (status, code.as_deref(), kind.as_str()) {
        (401, _, _) => Some("check OSC_ACCESS_KEY/OSC_SECRET_KEY and that the keys belong to this region; four bad signatures in a row lock the key for a minute or more".to_string()),
        (429, _, _) | (503, Some("6"), _) => Some("OUTSCALE is throttling requests: wait a little and run again".to_string()),
        (_, Some("10008" | "10026"), _) | (_, _, "TooManyResources") => {
            Some("a quota is reached: delete old snapshots (snapctl rotate) or ask OUTSCALE support for more".to_string())
        }
        (s, _, _) if s >= 500 => Some("OUTSCALE answered with a server error: retry later, and quote the RequestId to support if it persists".to_string()),
        _ => None,
    };
    let api = ApiError {
        provider: ProviderKind::Outscale,
        action: what.to_string(),
        status,
        code,
        message,
        request_id_header: REQUEST_ID,
        request_id: body.response_context.and_then(|c| c.request_id),
        hint,
    };
    api.into_error(kind == "InvalidResource")
}
/// A fresh idempotency token: one per logical operation, reused by every retry of it.
pub(super) fn client_token() -> String {
    format!(
        "snapctl-{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    )
}

pub(super) fn not_found(what: String) -> Error {
    Error::NotFound(Box::new(ApiError {
        provider: ProviderKind::Outscale,
        action: what.clone(),
        status: 404,
        code: None,
        message: format!("{what}: none is visible to this account in this region"),
        request_id_header: REQUEST_ID,
        request_id: None,
        hint: Some("check the id, the region (--region / OSC_REGION) and the account".into()),
    }))
}
