//! The `Provider` seam: the one trait every cloud implements, the provider registry and the
//! capability matrix.
//!
//! The core talks to clouds only through [`Provider`]; an operation a provider's API lacks keeps the
//! default method, which answers a typed `Unsupported` error with what the provider offers instead.
//! Adding a provider means a module under `providers/` and one arm in [`build`] and
//! [`ProviderKind::capabilities`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::http::Http;
use crate::model::{
    ClonePair, CloneRequest, CloneVolumesRequest, CopyRequest, CreateSnapshot, ExportRequest,
    ExportTask, ImportRequest, Operation, Progress, Schedule, ScheduleChange, ScheduleRemoval,
    ScheduleSpec, ShareRequest, Snapshot, SnapshotUpdate, Volume,
};

/// The provider keys accepted by `-p/--provider`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// OVHcloud Enterprise File Storage (NetApp shares).
    OvhEfs,
    /// OVHcloud NAS-HA (ZFS partitions).
    OvhNasha,
    /// 3DS OUTSCALE block storage.
    Outscale,
    /// IBM PowerVC (OpenStack Cinder).
    Powervc,
}

impl ProviderKind {
    /// Every provider, in display order.
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::OvhEfs,
        ProviderKind::OvhNasha,
        ProviderKind::Outscale,
        ProviderKind::Powervc,
    ];

    /// The key users type.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OvhEfs => "ovh-efs",
            ProviderKind::OvhNasha => "ovh-nasha",
            ProviderKind::Outscale => "outscale",
            ProviderKind::Powervc => "powervc",
        }
    }

    /// The product behind the key.
    pub fn product(self) -> &'static str {
        match self {
            ProviderKind::OvhEfs => "OVHcloud Enterprise File Storage",
            ProviderKind::OvhNasha => "OVHcloud NAS-HA",
            ProviderKind::Outscale => "3DS OUTSCALE block storage",
            ProviderKind::Powervc => "IBM PowerVC",
        }
    }

    /// What this provider declares it can do: the data `snapctl providers` prints.
    pub fn capabilities(self) -> Capabilities {
        match self {
            ProviderKind::OvhEfs => crate::providers::ovh::efs::CAPABILITIES,
            ProviderKind::OvhNasha => crate::providers::ovh::nasha::CAPABILITIES,
            ProviderKind::Outscale => crate::providers::outscale::CAPABILITIES,
            ProviderKind::Powervc => crate::providers::powervc::CAPABILITIES,
        }
    }

    /// Check a volume id's shape before any request is built.
    pub fn validate_volume_id(self, id: &str) -> Result<()> {
        use crate::providers::{check_uuid, outscale, ovh};
        match self {
            ProviderKind::OvhEfs => check_uuid("share id", id),
            ProviderKind::OvhNasha => ovh::nasha::check_name("partition name", id),
            ProviderKind::Outscale => outscale::check_id("volume id", "vol-", id),
            ProviderKind::Powervc => check_uuid("volume id", id),
        }
    }

    /// Check a snapshot id's shape before any request is built.
    pub fn validate_snapshot_id(self, id: &str) -> Result<()> {
        use crate::providers::{check_uuid, outscale, ovh};
        match self {
            ProviderKind::OvhEfs => check_uuid("snapshot id", id),
            ProviderKind::OvhNasha => ovh::nasha::check_name("snapshot name", id),
            ProviderKind::Outscale => outscale::check_id("snapshot id", "snap-", id),
            ProviderKind::Powervc => check_uuid("snapshot id", id),
        }
    }

    /// Default client-side rate limit: OVH's only guidance is ~60 requests/min per consumer key
    /// (python-ovh#81); OUTSCALE's SDKs allow 5 requests/s; PowerVC sets none.
    pub fn default_rate_limit(self) -> Option<crate::http::RateLimit> {
        use crate::http::RateLimit;
        match self {
            ProviderKind::OvhEfs | ProviderKind::OvhNasha => Some(RateLimit {
                per_second: 1.0,
                burst: 5,
            }),
            ProviderKind::Outscale => Some(RateLimit {
                per_second: 5.0,
                burst: 5,
            }),
            ProviderKind::Powervc => None,
        }
    }

    /// Parse a key, listing the valid ones when it is unknown.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::Usage {
                message: format!("unknown provider {s:?}"),
                hint: Some(format!("valid providers: {}", Self::key_list())),
            })
    }

    /// `ovh-efs, ovh-nasha, outscale, powervc`.
    pub fn key_list() -> String {
        Self::ALL.map(|k| k.as_str()).join(", ")
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How well a provider offers one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Support {
    /// Offered.
    Yes,
    /// The provider's API does not offer it.
    No,
}

impl Support {
    /// Table word.
    pub fn as_str(self) -> &'static str {
        match self {
            Support::Yes => "yes",
            Support::No => "no",
        }
    }
}

/// One provider's column of the capability matrix: each operation and whether it is offered. Its
/// JSON form (snake_case keys, `yes|no` values) is what `snapctl providers -o json` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// `volume list` / `volume show`.
    pub volumes: Support,
    /// `snapshot list` / `snapshot show`.
    pub list_snapshots: Support,
    /// `snapshot create`.
    pub create_snapshot: Support,
    /// `snapshot delete`.
    pub delete_snapshot: Support,
    /// `clone` from a snapshot.
    pub clone: Support,
    /// `revert` a volume to a snapshot.
    pub revert: Support,
    /// `--wait` on operations.
    pub wait: Support,
    /// `schedule list|add|remove`.
    pub schedules: Support,
    /// `copy`.
    pub copy: Support,
    /// `snapshot share|unshare`.
    pub share: Support,
    /// `snapshot export|import`.
    pub export: Support,
}

impl Capabilities {
    /// `(operation, support)` pairs in display order; the operation names are the command words.
    pub fn rows(&self) -> [(&'static str, Support); 11] {
        [
            ("volume list|show", self.volumes),
            ("snapshot list|show", self.list_snapshots),
            ("snapshot create", self.create_snapshot),
            ("snapshot delete", self.delete_snapshot),
            ("clone", self.clone),
            ("revert", self.revert),
            ("wait", self.wait),
            ("schedule list|add|remove", self.schedules),
            ("copy", self.copy),
            ("snapshot share|unshare", self.share),
            ("snapshot export|import", self.export),
        ]
    }
}

/// What a cloud implements. Defaults answer `Unsupported`, so a provider implements only what its
/// API offers.
#[async_trait]
pub trait Provider: Send + Sync {
    /// Which provider this is.
    fn kind(&self) -> ProviderKind;

    /// What the volumes belong to (service, region, account), for lock names and messages.
    fn scope(&self) -> String {
        "default".into()
    }

    /// All volumes of the configured service/account.
    async fn list_volumes(&self) -> Result<Vec<Volume>> {
        Err(self.unsupported("volume list", "no volume listing in this provider's API"))
    }

    /// One volume.
    async fn get_volume(&self, _id: &str) -> Result<Volume> {
        Err(self.unsupported("volume show", "no volume lookup in this provider's API"))
    }

    /// Snapshots of one volume, or of every volume when `volume` is `None`.
    async fn list_snapshots(&self, _volume: Option<&str>) -> Result<Vec<Snapshot>> {
        Err(self.unsupported(
            "snapshot list",
            "no snapshot listing in this provider's API",
        ))
    }

    /// One snapshot.
    async fn get_snapshot(&self, _volume: Option<&str>, _id: &str) -> Result<Snapshot> {
        Err(self.unsupported("snapshot show", "no snapshot lookup in this provider's API"))
    }

    /// Take a snapshot; returns it as first reported and what to poll.
    async fn create_snapshot(&self, _req: &CreateSnapshot) -> Result<(Snapshot, Operation)> {
        Err(self.unsupported(
            "snapshot create",
            "snapshots are taken by the provider only",
        ))
    }

    /// Delete a snapshot; returns what to poll until it is gone.
    async fn delete_snapshot(&self, _volume: Option<&str>, _id: &str) -> Result<Operation> {
        Err(self.unsupported(
            "snapshot delete",
            "snapshots are deleted by the provider only",
        ))
    }

    /// Make a new volume from a snapshot.
    async fn clone_volume(&self, _req: &CloneRequest) -> Result<(Volume, Operation)> {
        Err(self.unsupported("clone", "restore the snapshot's files by hand"))
    }

    /// Copy a snapshot.
    async fn copy_snapshot(&self, _req: &CopyRequest) -> Result<(Snapshot, Operation)> {
        Err(self.unsupported("copy", "this provider's API has no snapshot copy"))
    }

    /// Share or unshare a snapshot with other accounts.
    async fn share_snapshot(&self, _req: &ShareRequest) -> Result<Snapshot> {
        Err(self.unsupported(
            "snapshot share",
            "this provider's API has no snapshot sharing",
        ))
    }

    /// Export a snapshot to a bucket.
    async fn export_snapshot(&self, _req: &ExportRequest) -> Result<(ExportTask, Operation)> {
        Err(self.unsupported(
            "snapshot export",
            "this provider's API has no snapshot export",
        ))
    }

    /// Create a snapshot from an exported image.
    async fn import_snapshot(&self, _req: &ImportRequest) -> Result<(Snapshot, Operation)> {
        Err(self.unsupported(
            "snapshot import",
            "this provider's API has no snapshot import",
        ))
    }

    /// One consistent copy of several volumes at once (no snapshot of the caller's).
    async fn clone_volumes(&self, _req: &CloneVolumesRequest) -> Result<Operation> {
        Err(self.unsupported(
            "clone of volumes",
            "clone one volume at a time: snapctl clone --volume ID",
        ))
    }

    /// Source → clone pairs of a finished `clone_volumes` task.
    async fn clone_results(&self, _task: &str) -> Result<Vec<ClonePair>> {
        Err(self.unsupported("clone of volumes", "this provider has no clone tasks"))
    }

    /// Revert a volume to a snapshot, in place.
    async fn revert(&self, _volume: &str, _snapshot: &str) -> Result<Operation> {
        Err(self.unsupported("revert", "clone the snapshot and switch to the clone"))
    }

    /// Provider-side schedules of a volume (`all`: also the service's other policies).
    async fn list_schedules(&self, _volume: &str, _all: bool) -> Result<Vec<Schedule>> {
        Err(self.unsupported(
            "schedule list",
            "this provider has no server-side snapshot schedules; run `snapctl rotate --create` from cron",
        ))
    }

    /// Enable a provider-side schedule.
    async fn add_schedule(&self, _volume: &str, _spec: &ScheduleSpec) -> Result<ScheduleChange> {
        Err(self.unsupported(
            "schedule add",
            "this provider has no server-side snapshot schedules; run `snapctl rotate --create` from cron",
        ))
    }

    /// Disable a provider-side schedule.
    async fn remove_schedule(
        &self,
        _volume: &str,
        _removal: &ScheduleRemoval,
    ) -> Result<ScheduleChange> {
        Err(self.unsupported(
            "schedule remove",
            "this provider has no server-side snapshot schedules",
        ))
    }

    /// Turn an automatic snapshot into a manual one; returns the snapshot under its new id.
    async fn hold_snapshot(&self, _volume: Option<&str>, _id: &str) -> Result<Snapshot> {
        Err(self.unsupported("snapshot hold", "only EFS has automatic snapshots to hold"))
    }

    /// Rename or redescribe a snapshot.
    async fn update_snapshot(&self, _req: &SnapshotUpdate) -> Result<Snapshot> {
        Err(self.unsupported(
            "snapshot update",
            "this provider's API cannot change a snapshot's name or description",
        ))
    }

    /// One poll step of an operation; `wait` owns the loop.
    async fn poll(&self, _op: &Operation) -> Result<Progress> {
        Err(self.unsupported("wait", "check the object's state with a show command"))
    }

    /// The error the defaults return.
    fn unsupported(&self, operation: &'static str, hint: &str) -> Error {
        Error::Unsupported {
            provider: self.kind(),
            operation,
            hint: hint.to_string(),
        }
    }
}

/// Build the provider the settings name; configuration warnings (world-readable secrets, …) are
/// pushed to `warnings`.
pub async fn build(
    settings: &Settings,
    http: Arc<Http>,
    warnings: &mut Vec<String>,
) -> Result<Box<dyn Provider>> {
    match settings.provider {
        ProviderKind::OvhEfs => Ok(Box::new(
            crate::providers::ovh::efs::Efs::from_settings(settings, http, warnings).await?,
        )),
        ProviderKind::OvhNasha => Ok(Box::new(
            crate::providers::ovh::nasha::Nasha::from_settings(settings, http, warnings).await?,
        )),
        ProviderKind::Outscale => Ok(Box::new(
            crate::providers::outscale::Outscale::from_settings(settings, http, warnings)?,
        )),
        ProviderKind::Powervc => Ok(Box::new(crate::providers::powervc::Powervc::from_settings(
            settings, http, warnings,
        )?)),
    }
}

/// Take a snapshot so that one command makes at most one: when the create may have reached the
/// server but no answer came (timeout, dropped connection), look the snapshot up by its name before
/// reporting, instead of guessing or re-sending. Providers with an idempotency token (OUTSCALE's
/// `ClientToken`) are safe to re-send anyway; this covers OVH and PowerVC.
pub async fn create_snapshot_once(
    provider: &dyn Provider,
    req: &CreateSnapshot,
) -> Result<(Snapshot, Operation)> {
    match provider.create_snapshot(req).await {
        Err(Error::Transport {
            maybe_sent: true,
            action,
            detail,
            tls,
        }) => {
            let lost = Error::Transport {
                maybe_sent: true,
                action,
                detail,
                tls,
            };
            let Some(name) = &req.name else {
                return Err(lost);
            };
            let found: Vec<Snapshot> = match provider.list_snapshots(Some(&req.volume)).await {
                Ok(all) => all
                    .into_iter()
                    .filter(|s| s.name.as_deref() == Some(name.as_str()))
                    .collect(),
                Err(_) => return Err(lost),
            };
            match found.as_slice() {
                [one] => {
                    eprintln!(
                        "snapctl: {}",
                        crate::text::one_line(
                            &format!(
                                "the create got no answer, but snapshot {} ({name}) exists: using it",
                                one.id
                            ),
                            crate::text::MAX_LINE
                        )
                    );
                    let op = if one.state == crate::model::SnapshotState::Available {
                        Operation::Done
                    } else {
                        Operation::Snapshot {
                            volume: one.volume_id.clone(),
                            id: one.id.clone(),
                            until: crate::model::Until::Ready,
                        }
                    };
                    Ok((one.clone(), op))
                }
                _ => Err(lost),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_provider_lists_valid_ones() {
        let err = ProviderKind::parse("aws").unwrap_err();
        assert_eq!(
            err.hint().as_deref(),
            Some("valid providers: ovh-efs, ovh-nasha, outscale, powervc")
        );
    }

    #[test]
    fn keys_round_trip() {
        for k in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(k.as_str()).unwrap(), k);
        }
    }
}
