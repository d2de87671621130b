//! OUTSCALE wire types (PascalCase, as `outscale.yaml` names them) and their mapping to the
//! model: what the API sends and what snapctl reads from it.

use serde::{Deserialize, Serialize};

use super::client::ResponseContext;
use crate::kind::ProviderKind;
use crate::model::{ExportTask, Snapshot, SnapshotKind, SnapshotState, Volume, VolumeState};

/// `ResourceTag`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResourceTag {
    pub(super) key: String,
    pub(super) value: String,
}

/// `Snapshot`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct OscSnapshot {
    pub(super) snapshot_id: String,
    pub(super) volume_id: Option<String>,
    pub(super) volume_size: Option<u64>,
    pub(super) state: Option<String>,
    pub(super) progress: Option<u8>,
    pub(super) description: Option<String>,
    pub(super) creation_date: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<ResourceTag>,
}

/// `Volume`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct OscVolume {
    pub(super) volume_id: String,
    pub(super) size: Option<u64>,
    pub(super) state: Option<String>,
    pub(super) subregion_name: Option<String>,
    pub(super) creation_date: Option<String>,
    #[serde(default)]
    pub(super) tags: Vec<ResourceTag>,
    #[serde(default)]
    pub(super) volume_type: Option<String>,
    #[serde(default)]
    pub(super) iops: Option<u32>,
    /// The snapshot it was created from (empty or absent for a blank volume).
    #[serde(default)]
    pub(super) snapshot_id: Option<String>,
}

/// `SnapshotExportTask`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct OscExportTask {
    pub(super) task_id: String,
    pub(super) snapshot_id: Option<String>,
    pub(super) state: Option<String>,
    pub(super) progress: Option<u8>,
    pub(super) comment: Option<String>,
    pub(super) osu_export: Option<OsuExport>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct OsuExport {
    pub(super) disk_image_format: Option<String>,
    pub(super) osu_bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) osu_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SnapshotResponse {
    pub(super) snapshot: OscSnapshot,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VolumeResponse {
    pub(super) volume: OscVolume,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ExportResponse {
    pub(super) snapshot_export_task: OscExportTask,
}

/// `CreateSnapshotRequest`.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateSnapshotBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) volume_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) source_snapshot_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) source_region_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) file_location: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) snapshot_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) description: Option<&'a str>,
    pub(super) client_token: String,
}

/// `CreateVolumeRequest`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateVolumeBody<'a> {
    pub(super) snapshot_id: &'a str,
    pub(super) subregion_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) volume_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) iops: Option<u32>,
    pub(super) client_token: String,
}

pub(super) fn tag(tags: &[ResourceTag], key: &str) -> Option<String> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.clone())
}

/// `State`: only `completed` is taken; `error` failed; anything else (`in-queue`, `pending`,
/// `pending/queued`, `importing`, words added later) is still going.
pub(super) fn snapshot_state(state: &str) -> SnapshotState {
    match state {
        "completed" => SnapshotState::Available,
        "error" => SnapshotState::Error,
        "deleting" => SnapshotState::Deleting,
        "in-queue" | "pending" | "pending/queued" | "importing" => SnapshotState::Creating,
        _ => SnapshotState::Unknown,
    }
}

pub(super) fn volume_state(state: &str) -> VolumeState {
    match state {
        "available" | "in-use" => VolumeState::Available,
        "creating" => VolumeState::Creating,
        "deleting" => VolumeState::Deleting,
        "error" => VolumeState::Error,
        _ => VolumeState::Unknown,
    }
}

pub(super) fn map_snapshot(s: OscSnapshot) -> Snapshot {
    Snapshot {
        provider: ProviderKind::Outscale,
        name: tag(&s.tags, "Name"),
        state: s
            .state
            .as_deref()
            .map(snapshot_state)
            .unwrap_or(SnapshotState::Unknown),
        created_at: crate::providers::shared::api_time(s.creation_date.as_deref()),
        id: s.snapshot_id,
        volume_id: s.volume_id,
        description: s.description,
        provider_state: s.state,
        kind: SnapshotKind::Manual,
        size_gib: s.volume_size,
        expires_at: None,
    }
}

pub(super) fn map_volume(v: OscVolume) -> Volume {
    Volume {
        provider: ProviderKind::Outscale,
        name: tag(&v.tags, "Name"),
        description: tag(&v.tags, "Description"),
        source_snapshot: v.snapshot_id.clone().filter(|s| !s.is_empty()),
        state: v
            .state
            .as_deref()
            .map(volume_state)
            .unwrap_or(VolumeState::Unknown),
        created_at: crate::providers::shared::api_time(v.creation_date.as_deref()),
        id: v.volume_id,
        size_gib: v.size,
        provider_state: v.state,
        tags: v.tags.into_iter().map(|t| (t.key, t.value)).collect(),
    }
}

pub(super) fn map_export(t: OscExportTask) -> ExportTask {
    let (format, bucket, prefix) = match t.osu_export {
        Some(o) => (o.disk_image_format, o.osu_bucket, o.osu_prefix),
        None => (None, None, None),
    };
    ExportTask {
        provider: ProviderKind::Outscale,
        id: t.task_id,
        snapshot_id: t.snapshot_id,
        state: t.state,
        progress: t.progress,
        bucket,
        prefix,
        format,
        comment: t.comment,
    }
}

/// `ReadAccounts` answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct AccountsResponse {
    #[serde(default)]
    pub(super) accounts: Vec<OscAccount>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct OscAccount {
    pub(super) account_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResponseContextOnly {
    #[allow(dead_code)]
    pub(super) response_context: Option<ResponseContext>,
}
