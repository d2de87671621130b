//! The limits Cinder holds and the emulator holds too: names and descriptions of at most 255
//! characters (the create and update schemas), and the project's quotas its own `GET /limits`
//! announces (volumes, snapshots, gigabytes), counted with checked arithmetic so no size can
//! wrap a total past them.

use axum::body::Body;
use axum::http::Response;
use serde_json::Value;

use super::World;

/// Longest `name` or `description` Cinder takes (its API schema's `maxLength`).
pub(super) const MAX_TEXT: usize = 255;

/// A project's absolute limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Quota {
    /// Volumes.
    pub(crate) volumes: usize,
    /// Snapshots.
    pub(crate) snapshots: usize,
    /// GiB of volumes and snapshots together.
    pub(crate) gigabytes: u64,
}

impl Default for Quota {
    /// What the emulator's `/limits` has always said.
    fn default() -> Self {
        Quota {
            volumes: 100,
            snapshots: 100,
            gigabytes: 10_000,
        }
    }
}

impl Quota {
    /// Room for a scale test's `volumes` extra volumes and `bulk` seeded snapshots, each
    /// volume snapshotted many times and drilled: the defaults plus what they need.
    pub(crate) fn for_scale(volumes: usize, bulk: usize) -> Quota {
        let base = Quota::default();
        Quota {
            volumes: base.volumes.saturating_add(volumes.saturating_mul(2)),
            snapshots: base
                .snapshots
                .saturating_add(bulk)
                .saturating_add(volumes.saturating_mul(50)),
            gigabytes: base
                .gigabytes
                .saturating_add(
                    u64::try_from(volumes)
                        .unwrap_or(u64::MAX)
                        .saturating_mul(6_000),
                )
                .saturating_add(u64::try_from(bulk).unwrap_or(u64::MAX).saturating_mul(20)),
        }
    }
}

/// GiB the project's volumes and snapshots use (saturating: a total never wraps).
pub(super) fn gigabytes_used(w: &World) -> u64 {
    w.pvc
        .vols
        .iter()
        .map(|v| v.size)
        .chain(w.pvc.snaps.iter().map(|s| s.size))
        .fold(0u64, u64::saturating_add)
}

/// Cinder's 400 for a `name` or `description` over 255 characters in `fields` (`None`: fine).
/// The value is not quoted back whole.
pub(super) fn text_refusal(fields: &Value) -> Option<Response<Body>> {
    for key in ["name", "description", "display_name", "display_description"] {
        let Some(text) = fields.get(key).and_then(Value::as_str) else {
            continue;
        };
        if text.chars().count() > MAX_TEXT {
            let shown: String = text.chars().take(32).collect();
            return Some(super::fault(
                400,
                "badRequest",
                &format!(
                    "Invalid input for field/attribute {key}. Value: {shown}…. '{shown}…' is too long"
                ),
            ));
        }
    }
    None
}

/// Cinder's 413 when one more volume (`volumes` 1) or snapshot (`snapshots` 1) of `gigabytes`
/// GiB would pass the project's quota (`None`: within it).
pub(super) fn over_quota(
    w: &World,
    volumes: usize,
    snapshots: usize,
    gigabytes: u64,
) -> Option<Response<Body>> {
    let q = w.pvc.quota;
    if volumes > 0 && w.pvc.vols.len().saturating_add(volumes) > q.volumes {
        return Some(super::fault(
            413,
            "overLimit",
            &format!(
                "VolumeLimitExceeded: Maximum number of volumes allowed ({}) exceeded for quota 'volumes'.",
                q.volumes
            ),
        ));
    }
    if snapshots > 0 && w.pvc.snaps.len().saturating_add(snapshots) > q.snapshots {
        return Some(super::fault(
            413,
            "overLimit",
            &format!(
                "SnapshotLimitExceeded: Maximum number of snapshots allowed ({}) exceeded",
                q.snapshots
            ),
        ));
    }
    let used = gigabytes_used(w);
    match used.checked_add(gigabytes) {
        Some(total) if total <= q.gigabytes => None,
        _ => Some(super::fault(
            413,
            "overLimit",
            &format!(
                "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested {gigabytes}G, quota is {}G and {used}G has been consumed.",
                q.gigabytes
            ),
        )),
    }
}
