//! EFS wire types (the OpenAPI models, field for field) and their mapping to the model; unknown
//! status words map to `unknown`, unknown snapshot types are never `manual`.

use serde::{Deserialize, Serialize};

use crate::kind::ProviderKind;
use crate::model::{Snapshot, SnapshotKind, SnapshotState, Volume, VolumeState};

/// `NetAppServiceWithIAM` (the fields snapctl uses).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NetAppService {
    pub(super) id: String,
    pub(super) name: Option<String>,
    pub(super) region: Option<String>,
}

/// `NetAppShare`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NetAppShare {
    pub(super) id: String,
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
    pub(super) size: Option<u64>,
    pub(super) created_at: Option<String>,
    pub(super) status: Option<String>,
    /// The snapshot the share was created from (a clone), `null` otherwise.
    #[serde(default, rename = "snapshotID")]
    pub(super) snapshot_id: Option<String>,
}

/// `NetAppShareAccessPath`: where a share is mounted from.
#[derive(Debug, Deserialize)]
pub(super) struct AccessPath {
    pub(super) path: Option<String>,
    pub(super) preferred: Option<bool>,
}

/// `NetAppShareSnapshot`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NetAppShareSnapshot {
    pub(super) id: String,
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
    pub(super) created_at: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) status: Option<String>,
}

/// POST body of `…/share/{shareId}/snapshot`.
#[derive(Debug, Serialize)]
pub(super) struct SnapshotCreateBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) description: Option<&'a str>,
}

/// POST body of `…/share` when cloning (`NetAppShare` writable fields).
#[derive(Debug, Serialize)]
pub(super) struct ShareCreateBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) description: Option<&'a str>,
    pub(super) protocol: &'static str,
    pub(super) size: u64,
    #[serde(rename = "snapshotID")]
    pub(super) snapshot_id: &'a str,
}

/// POST body of `…/share/{shareId}/revert`.
#[derive(Debug, Serialize)]
pub(super) struct RevertBody<'a> {
    #[serde(rename = "snapshotID")]
    pub(super) snapshot_id: &'a str,
}

pub(super) fn snapshot_state(status: &str) -> SnapshotState {
    match status {
        "available" => SnapshotState::Available,
        "creating" | "manage_starting" => SnapshotState::Creating,
        "deleting" | "unmanage_starting" => SnapshotState::Deleting,
        "restoring" => SnapshotState::Restoring,
        "error" | "error_deleting" | "manage_error" | "unmanage_error" => SnapshotState::Error,
        _ => SnapshotState::Unknown,
    }
}

pub(super) fn snapshot_kind(kind: Option<&str>) -> SnapshotKind {
    match kind {
        Some("manual") => SnapshotKind::Manual,
        Some("automatic") => SnapshotKind::Automatic,
        // `system`, and any word OVH adds later: never cloned, never rotated.
        _ => SnapshotKind::System,
    }
}

pub(super) fn volume_state(status: &str) -> VolumeState {
    match status {
        "available" => VolumeState::Available,
        "creating" | "creating_from_snapshot" | "manage_starting" => VolumeState::Creating,
        "extending" | "shrinking" | "migrating" | "migrating_to" | "replication_change" => {
            VolumeState::Updating
        }
        "reverting" => VolumeState::Restoring,
        "deleting" | "deleted" | "unmanage_starting" => VolumeState::Deleting,
        s if s.contains("error") => VolumeState::Error,
        _ => VolumeState::Unknown,
    }
}

pub(super) fn map_snapshot(s: NetAppShareSnapshot, share: &str) -> Snapshot {
    Snapshot {
        provider: ProviderKind::OvhEfs,
        state: s
            .status
            .as_deref()
            .map(snapshot_state)
            .unwrap_or(SnapshotState::Unknown),
        kind: snapshot_kind(s.kind.as_deref()),
        created_at: crate::providers::shared::api_time(s.created_at.as_deref()),
        id: s.id,
        volume_id: Some(share.to_string()),
        name: s.name,
        description: s.description,
        provider_state: s.status,
        size_gib: None,
        expires_at: None,
    }
}

pub(super) fn map_share(s: NetAppShare) -> Volume {
    Volume {
        provider: ProviderKind::OvhEfs,
        state: s
            .status
            .as_deref()
            .map(volume_state)
            .unwrap_or(VolumeState::Unknown),
        created_at: crate::providers::shared::api_time(s.created_at.as_deref()),
        id: s.id,
        name: s.name,
        size_gib: s.size,
        provider_state: s.status,
        tags: Default::default(),
        description: s.description,
        source_snapshot: s.snapshot_id.filter(|s| !s.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_status_words_are_unknown_and_unknown_types_are_never_manual() {
        assert_eq!(snapshot_state("frobnicating"), SnapshotState::Unknown);
        assert_eq!(
            volume_state("shrinking_possible_data_loss_error"),
            VolumeState::Error
        );
        assert_eq!(
            volume_state("creating_from_snapshot"),
            VolumeState::Creating
        );
        assert_eq!(snapshot_kind(Some("pinned")), SnapshotKind::System);
        assert_eq!(snapshot_kind(None), SnapshotKind::System);
    }
}
