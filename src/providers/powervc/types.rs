//! Cinder wire types (field names as the api-ref writes them) and their mapping to the model,
//! read leniently: a field of an unexpected type never fails a list.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, Error};
use crate::http::Incoming;
use crate::kind::ProviderKind;
use crate::model::{Snapshot, SnapshotKind, SnapshotState, Volume, VolumeState};
use crate::providers::shared::api_time;

/// An optional field read leniently: a value of an unexpected type (a number where a string was
/// documented, or the reverse) becomes `None` instead of failing the whole list.
pub(super) fn lenient<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(serde_json::from_value(v).ok())
}

/// An item of a Cinder list: its id is what the next page's `marker` names.
pub(super) trait Listed {
    fn listed_id(&self) -> &str;
}

impl Listed for CinderVolume {
    fn listed_id(&self) -> &str {
        &self.id
    }
}

impl Listed for CinderSnapshot {
    fn listed_id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CinderVolume {
    pub(super) id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) description: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) size: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) created_at: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) metadata: Option<BTreeMap<String, String>>,
    /// The snapshot it was created from (`null` for a blank volume).
    #[serde(default, deserialize_with = "lenient")]
    pub(super) snapshot_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CinderSnapshot {
    pub(super) id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) description: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) volume_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) size: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    pub(super) created_at: Option<String>,
    /// `"100%"` in the api-ref, a bare number on some deployments.
    #[serde(
        rename = "os-extended-snapshot-attributes:progress",
        default,
        deserialize_with = "lenient"
    )]
    pub(super) progress: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Link {
    pub(super) rel: String,
    pub(super) href: String,
}

pub(super) fn snapshot_state(s: &str) -> SnapshotState {
    match s {
        "available" => SnapshotState::Available,
        "creating" => SnapshotState::Creating,
        "deleting" | "deleted" => SnapshotState::Deleting,
        "restoring" => SnapshotState::Restoring,
        "error" | "error_deleting" => SnapshotState::Error,
        // backing-up, updating, unmanaging, and words added later: busy, never settled.
        _ => SnapshotState::Unknown,
    }
}

pub(super) fn volume_state(s: &str) -> VolumeState {
    match s {
        "available" | "in-use" => VolumeState::Available,
        "creating" | "downloading" => VolumeState::Creating,
        "attaching" | "detaching" | "reserved" | "maintenance" | "extending" | "retyping"
        | "uploading" | "backing-up" | "awaiting-transfer" => VolumeState::Updating,
        "restoring-backup" | "reverting" => VolumeState::Restoring,
        "deleting" => VolumeState::Deleting,
        s if s.contains("error") => VolumeState::Error,
        _ => VolumeState::Unknown,
    }
}

/// `"40%"`, `"40"` or `40` → 40.
pub(super) fn percent(v: Option<&Value>) -> Option<u8> {
    match v? {
        Value::Number(n) => n.as_u64().map(|n| n.min(100) as u8),
        Value::String(s) => s.trim().trim_end_matches('%').trim().parse::<u8>().ok(),
        _ => None,
    }
}

pub(super) fn map_snapshot(s: CinderSnapshot) -> Snapshot {
    Snapshot {
        provider: ProviderKind::Powervc,
        state: s
            .status
            .as_deref()
            .map(snapshot_state)
            .unwrap_or(SnapshotState::Unknown),
        created_at: api_time(s.created_at.as_deref()),
        id: s.id,
        volume_id: s.volume_id,
        name: s.name,
        description: s.description,
        provider_state: s.status,
        kind: SnapshotKind::Manual,
        size_gib: s.size,
        expires_at: None,
    }
}

pub(super) fn map_volume(v: CinderVolume) -> Volume {
    Volume {
        provider: ProviderKind::Powervc,
        state: v
            .status
            .as_deref()
            .map(volume_state)
            .unwrap_or(VolumeState::Unknown),
        created_at: api_time(v.created_at.as_deref()),
        id: v.id,
        name: v.name,
        size_gib: v.size,
        provider_state: v.status,
        tags: v.metadata.unwrap_or_default(),
        description: v.description,
        source_snapshot: v.snapshot_id.filter(|s| !s.is_empty()),
    }
}

/// The clone-volumes progress body, read tolerantly (fields under `details`, or at top level).
#[derive(Debug, PartialEq)]
pub(super) struct CloneProgress {
    pub(super) flow: Option<String>,
    pub(super) percent: Option<u8>,
    pub(super) failure: Option<String>,
    pub(super) pairs: Vec<(String, String)>,
}

pub(super) fn clone_progress(v: &Value) -> CloneProgress {
    let d = v.get("details").unwrap_or(v);
    let results = d.get("results").and_then(Value::as_object);
    let failure = results
        .and_then(|r| r.get("failure"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let pairs = results
        .map(|r| {
            r.iter()
                .filter(|(k, _)| *k != "failure")
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    CloneProgress {
        flow: d
            .get("flow_details")
            .and_then(|f| f.get("cloneFlow"))
            .and_then(Value::as_str)
            .map(str::to_string),
        percent: percent(d.get("progress")),
        failure,
        pairs,
    }
}

/// The header that carries the request id of every PowerVC answer (Keystone and Cinder).
pub const REQUEST_ID: &str = "x-openstack-request-id";

/// Cinder `{"<fault>": {"code", "message"}}` or Keystone `{"error": {"code", "title", "message"}}`.
pub(super) fn api_error(what: &str, resp: &Incoming) -> Error {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_of_an_unexpected_type_never_fails_a_list() {
        let page = serde_json::json!([
            {"id": "a", "status": "available", "os-extended-snapshot-attributes:progress": "100%"},
            {"id": "b", "status": "creating", "os-extended-snapshot-attributes:progress": 42},
            {"id": "c", "status": 7, "size": "ten", "os-extended-snapshot-attributes:progress": null}
        ]);
        let snaps: Vec<CinderSnapshot> = serde_json::from_value(page).expect("the list parses");
        assert_eq!(percent(snaps[0].progress.as_ref()), Some(100));
        assert_eq!(percent(snaps[1].progress.as_ref()), Some(42));
        assert_eq!(snaps[2].status, None);
        assert_eq!(snaps[2].size, None);
        assert_eq!(snaps[2].id, "c");
    }

    #[test]
    fn clone_progress_reads_ibm_shapes() {
        let running: Value = serde_json::from_str(
            r#"{"details":{"results":{},"progress":40,"flow_details":{"cloneFlow":"RUNNING"}}}"#,
        )
        .expect("json");
        let p = clone_progress(&running);
        assert_eq!(p.flow.as_deref(), Some("RUNNING"));
        assert_eq!(p.percent, Some(40));
        let done: Value = serde_json::from_str(
            r#"{"details":{"results":{"a":"b"},"progress":"100%","flow_details":{"cloneFlow":"SUCCESS"}}}"#,
        )
        .expect("json");
        let p = clone_progress(&done);
        assert_eq!(p.pairs, vec![("a".to_string(), "b".to_string())]);
        assert_eq!(p.percent, Some(100));
        let top: Value = serde_json::from_str(r#"{"results":{"failure":"boom"},"progress":"100"}"#)
            .expect("json");
        assert_eq!(clone_progress(&top).failure.as_deref(), Some("boom"));
    }

    #[test]
    fn unknown_states_are_unsettled() {
        assert_eq!(snapshot_state("backing-up"), SnapshotState::Unknown);
        assert_eq!(volume_state("error_extending"), VolumeState::Error);
        assert_eq!(volume_state("in-use"), VolumeState::Available);
    }
}
