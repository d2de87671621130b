//! Provider-neutral data: volumes, snapshots, operations and their states.
//!
//! These types are what the core (cli, output, wait, rotation) sees and what JSON output prints; field
//! names and enum words are a stable, documented contract. Provider modules map their wire types into
//! these; nothing here knows a provider's field names.

use jiff::Timestamp;
use serde::Serialize;

use crate::kind::ProviderKind;

/// Normalised snapshot state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotState {
    /// Being taken.
    Creating,
    /// Usable.
    Available,
    /// Being deleted.
    Deleting,
    /// Failed (the provider's word says how).
    Error,
    /// A revert from it is in progress.
    Restoring,
    /// A state snapctl does not know; treated as unsettled.
    Unknown,
}

impl SnapshotState {
    /// Whether the snapshot is at rest (available or error) and may be acted on.
    pub fn is_settled(self) -> bool {
        matches!(self, SnapshotState::Available | SnapshotState::Error)
    }

    /// The JSON word.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotState::Creating => "creating",
            SnapshotState::Available => "available",
            SnapshotState::Deleting => "deleting",
            SnapshotState::Error => "error",
            SnapshotState::Restoring => "restoring",
            SnapshotState::Unknown => "unknown",
        }
    }
}

/// Normalised volume state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeState {
    /// Being created (including from a snapshot).
    Creating,
    /// Usable.
    Available,
    /// Being resized, migrated or otherwise changed; usable but busy.
    Updating,
    /// Being reverted to a snapshot.
    Restoring,
    /// Being deleted.
    Deleting,
    /// Failed.
    Error,
    /// A state snapctl does not know.
    Unknown,
}

impl VolumeState {
    /// The JSON word.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeState::Creating => "creating",
            VolumeState::Available => "available",
            VolumeState::Updating => "updating",
            VolumeState::Restoring => "restoring",
            VolumeState::Deleting => "deleting",
            VolumeState::Error => "error",
            VolumeState::Unknown => "unknown",
        }
    }
}

/// Who made a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotKind {
    /// Taken on request (by snapctl, a console or an API call).
    Manual,
    /// Taken by a provider-side policy.
    Automatic,
    /// Taken by the provider for its own needs.
    System,
    /// Taken by a provider-side fixed schedule (NAS-HA).
    Scheduled,
}

impl SnapshotKind {
    /// The JSON word.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotKind::Manual => "manual",
            SnapshotKind::Automatic => "automatic",
            SnapshotKind::System => "system",
            SnapshotKind::Scheduled => "scheduled",
        }
    }
}

/// Every timestamp in JSON: RFC 3339 in UTC with exactly three fractional digits
/// (`2026-11-21T07:00:04.902Z`), whatever precision the provider gave, so outputs of different
/// providers compare and sort alike.
pub fn ser_time<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        None => s.serialize_none(),
    }
}

/// The UTC time as snapctl writes it in names (`YYYYMMDDTHHMMSSZ`): `rotate`, policy marks,
/// clones, NAS-HA and EFS policy names; [`parse_stamp`] reads it back.
pub fn stamp(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// The UTC time in snapctl's names (`YYYYMMDDTHHMMSSZ`, as `rotate` and policy marks write it),
/// read strictly: exactly 16 characters, digits where digits go.
pub fn parse_stamp(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let shaped = b.len() == 16
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z';
    if !shaped {
        return None;
    }
    jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", text)
        .ok()?
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// A volume (EFS share, NAS-HA partition, block volume).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Volume {
    /// Provider key.
    pub provider: ProviderKind,
    /// Provider id, exactly as the API spells it.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Size in GiB as the provider counts it.
    pub size_gib: Option<u64>,
    /// Normalised state.
    pub state: VolumeState,
    /// The provider's own state word.
    pub provider_state: Option<String>,
    /// Creation time, UTC.
    #[serde(serialize_with = "ser_time")]
    pub created_at: Option<Timestamp>,
    /// Tags (OUTSCALE) or metadata (PowerVC/Cinder); empty where the provider has none.
    pub tags: std::collections::BTreeMap<String, String>,
    /// Description (EFS, PowerVC; OUTSCALE's `Description` tag): read to recognise the volumes
    /// a restore drill made (`fleet/drill/`), not printed.
    #[serde(skip)]
    pub description: Option<String>,
    /// The snapshot the cloud records this volume was made from (OUTSCALE `SnapshotId`, Cinder
    /// `snapshot_id`, the EFS share's `snapshotID`): a field nobody can edit after the create,
    /// which is what proves a restore drill made it (`fleet/drill/proof.rs`), not printed.
    #[serde(skip)]
    pub source_snapshot: Option<String>,
}

/// A point-in-time snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// Provider key.
    pub provider: ProviderKind,
    /// Provider id.
    pub id: String,
    /// The volume it was taken from.
    pub volume_id: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Normalised state.
    pub state: SnapshotState,
    /// The provider's own state word.
    pub provider_state: Option<String>,
    /// Who made it.
    pub kind: SnapshotKind,
    /// Creation time, UTC.
    #[serde(serialize_with = "ser_time")]
    pub created_at: Option<Timestamp>,
    /// Size in GiB when the provider reports it.
    pub size_gib: Option<u64>,
    /// When the provider will delete it by itself.
    #[serde(serialize_with = "ser_time")]
    pub expires_at: Option<Timestamp>,
}

/// Conditions an API may apply to a snapshot listing. A hint: a provider may answer more (the
/// default ignores it), and callers check every snapshot themselves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotQuery {
    /// Any of these states (empty: any).
    pub states: Vec<SnapshotState>,
    /// Taken after this.
    pub created_after: Option<Timestamp>,
    /// Taken before this.
    pub created_before: Option<Timestamp>,
}

/// A request to take a snapshot.
#[derive(Debug, Clone, Default)]
pub struct CreateSnapshot {
    /// Volume to snapshot.
    pub volume: String,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// When the provider should delete it by itself (NAS-HA custom snapshots).
    pub expires_at: Option<Timestamp>,
    /// Tags `(key, value)` (OUTSCALE tags, PowerVC metadata).
    pub tags: Vec<(String, String)>,
    /// Snapshot an attached volume anyway (PowerVC `force`, crash-consistent).
    pub force: bool,
    /// Taken by `snapctl rotate`: providers that label resources mark it (`snapctl=managed`).
    pub managed: bool,
    /// Idempotency key where the API takes one (OUTSCALE `ClientToken`): a create re-sent with
    /// the same key, by this run or the next, makes no second snapshot. `None`: a fresh one.
    pub idempotency_key: Option<String>,
}

/// A request to make a new volume from a snapshot.
#[derive(Debug, Clone, Default)]
pub struct CloneRequest {
    /// The snapshot's volume, where the provider's routes need it (EFS).
    pub volume: Option<String>,
    /// The snapshot to clone.
    pub snapshot: String,
    /// Name of the new volume.
    pub name: Option<String>,
    /// Description of the new volume.
    pub description: Option<String>,
    /// Size of the new volume in GiB (default: the parent's).
    pub size_gib: Option<u64>,
    /// Placement (OUTSCALE subregion, e.g. `eu-west-2a`; default: the source volume's).
    pub subregion: Option<String>,
    /// Volume type (OUTSCALE `standard|gp2|io1`).
    pub volume_type: Option<String>,
    /// Provisioned IOPS (OUTSCALE `io1`).
    pub iops: Option<u32>,
    /// Tags (OUTSCALE) or metadata (PowerVC) of the new volume; EFS shares have none.
    pub tags: Vec<(String, String)>,
    /// Make the new volume like the snapshot's source volume, as a restore does (OUTSCALE: its
    /// volume type and, for `io1`, its IOPS); `volume_type` and `iops` win over it.
    pub like_source: bool,
    /// The create's idempotency key where the API takes one (OUTSCALE `ClientToken`): a
    /// restore drill's is derived from the policy, the volume and the drill's time.
    pub idempotency_key: Option<String>,
}

impl CloneRequest {
    /// Where snapshot ids are global (OUTSCALE, PowerVC) `--volume` is optional beside
    /// `--snapshot`; when given, it must be the snapshot's own volume, never silently ignored.
    pub fn check_snapshot_volume(&self, snapshot_volume: Option<&str>) -> crate::error::Result<()> {
        match (self.volume.as_deref(), snapshot_volume) {
            (Some(given), Some(actual)) if given != actual => {
                Err(crate::error::Error::InvalidInput {
                    what: "volume",
                    value: given.to_string(),
                    reason: format!(
                        "snapshot {} is of volume {actual}; with --snapshot, --volume names the snapshot's own volume (or leave it out)",
                        self.snapshot
                    ),
                })
            }
            _ => Ok(()),
        }
    }
}

/// A request for one consistent copy of several volumes (PowerVC clone-volumes).
#[derive(Debug, Clone, Default)]
pub struct CloneVolumesRequest {
    /// Source volumes.
    pub volumes: Vec<String>,
    /// Display name (the provider prefixes it).
    pub name: Option<String>,
    /// Description (single-volume clones).
    pub description: Option<String>,
    /// Volume type id for the clones.
    pub volume_type: Option<String>,
}

/// One source → clone pair of a multi-volume clone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClonePair {
    /// Provider key.
    pub provider: ProviderKind,
    /// Source volume.
    pub source_volume_id: String,
    /// The new volume.
    pub volume_id: String,
}

/// A task that `wait --task` saw finish, for providers whose tasks have no richer result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FinishedTask {
    /// Provider key.
    pub provider: ProviderKind,
    /// The task id.
    pub task_id: String,
    /// Always `done`: a failed or unfinished task is an error (exit 1, 7).
    pub state: &'static str,
}

/// A change of a snapshot's name or description.
#[derive(Debug, Clone, Default)]
pub struct SnapshotUpdate {
    /// Its volume, where the provider's routes need it.
    pub volume: Option<String>,
    /// Snapshot.
    pub snapshot: String,
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
}

/// A request to copy a snapshot.
#[derive(Debug, Clone, Default)]
pub struct CopyRequest {
    /// Source snapshot.
    pub snapshot: String,
    /// Region the source lives in (default: the configured one).
    pub source_region: Option<String>,
    /// Description of the copy.
    pub description: Option<String>,
    /// Name of the copy (default: the source's name).
    pub name: Option<String>,
}

/// A change to who may create volumes from a snapshot.
#[derive(Debug, Clone, Default)]
pub struct ShareRequest {
    /// Snapshot.
    pub snapshot: String,
    /// Account ids to add or remove.
    pub accounts: Vec<String>,
    /// Make public (or private, when removing).
    pub public: bool,
    /// Remove instead of add.
    pub remove: bool,
}

/// A request to export a snapshot to an object-storage bucket.
#[derive(Debug, Clone, Default)]
pub struct ExportRequest {
    /// Snapshot.
    pub snapshot: String,
    /// Bucket.
    pub bucket: String,
    /// Object prefix.
    pub prefix: Option<String>,
    /// `qcow2` or `raw`.
    pub format: String,
}

/// A request to create a snapshot from an exported image.
#[derive(Clone, Default)]
pub struct ImportRequest {
    /// Pre-signed URL of the image: a credential, never shown (`Debug` hides it).
    pub file_location: String,
    /// Size in bytes (at least the original's).
    pub size_bytes: u64,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Further tags (`Name` aside), written with the name.
    pub tags: Vec<(String, String)>,
}

impl std::fmt::Debug for ImportRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportRequest")
            .field("file_location", &"***")
            .field("size_bytes", &self.size_bytes)
            .field("name", &self.name)
            .field("description", &self.description)
            .field("tags", &self.tags)
            .finish()
    }
}

/// An object of a bucket (an exported snapshot image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
}

/// A snapshot export in progress or done.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportTask {
    /// Provider key.
    pub provider: ProviderKind,
    /// Task id (`snap-export-…`).
    pub id: String,
    /// Exported snapshot.
    pub snapshot_id: Option<String>,
    /// The provider's state word.
    pub state: Option<String>,
    /// Percent done.
    pub progress: Option<u8>,
    /// Bucket.
    pub bucket: Option<String>,
    /// Object prefix.
    pub prefix: Option<String>,
    /// Image format.
    pub format: Option<String>,
    /// Error text on failure.
    pub comment: Option<String>,
}

/// What a wait ends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The object is usable.
    Ready,
    /// The object no longer exists.
    Gone,
}

/// Something a mutation started that can be polled to completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Nothing to wait for: the change is already complete.
    Done,
    /// A snapshot reaching a state.
    Snapshot {
        /// Its volume, where the provider's routes need it.
        volume: Option<String>,
        /// Snapshot id.
        id: String,
        /// Target.
        until: Until,
    },
    /// A volume reaching a state.
    Volume {
        /// Volume id.
        id: String,
        /// Target.
        until: Until,
    },
    /// A provider task (NAS-HA) reaching `done`.
    Task {
        /// Task id.
        id: String,
    },
}

impl Operation {
    /// Human label for progress lines and timeout messages.
    pub fn describe(&self) -> String {
        match self {
            Operation::Done => "nothing".into(),
            Operation::Snapshot { id, until, .. } => match until {
                Until::Ready => format!("snapshot {id} to become available"),
                Until::Gone => format!("snapshot {id} to be deleted"),
            },
            Operation::Volume { id, until } => match until {
                Until::Ready => format!("volume {id} to become available"),
                Until::Gone => format!("volume {id} to be deleted"),
            },
            Operation::Task { id } => format!("task {id} to finish"),
        }
    }
}

/// One poll step's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Still going.
    Pending {
        /// The provider's state word.
        state: String,
        /// Percent complete, when the API says.
        percent: Option<u8>,
    },
    /// Reached the target.
    Done,
    /// Reached a failed terminal state.
    Failed {
        /// The provider's state word.
        state: String,
        /// The provider's explanation, if any.
        message: Option<String>,
    },
}

impl Progress {
    /// One poll step for an object that still exists, from its normalised state: done when it is
    /// usable and that is the target, failed on an error state (or, waiting for it to be usable,
    /// when it is being deleted), pending otherwise. Unknown states are pending, never done.
    pub fn of(
        usable: bool,
        failed: bool,
        deleting: bool,
        until: Until,
        word: Option<String>,
        percent: Option<u8>,
    ) -> Progress {
        let state = word.unwrap_or_else(|| "unknown".into());
        match until {
            _ if failed => Progress::Failed {
                state,
                message: None,
            },
            Until::Ready if usable => Progress::Done,
            Until::Ready if deleting => Progress::Failed {
                state,
                message: Some("it is being deleted".into()),
            },
            _ => Progress::Pending { state, percent },
        }
    }

    /// [`Progress::of`] for a snapshot.
    pub fn of_snapshot(
        state: SnapshotState,
        word: Option<String>,
        until: Until,
        percent: Option<u8>,
    ) -> Progress {
        Progress::of(
            state == SnapshotState::Available,
            state == SnapshotState::Error,
            state == SnapshotState::Deleting,
            until,
            word,
            percent,
        )
    }

    /// [`Progress::of`] for a volume.
    pub fn of_volume(state: VolumeState, word: Option<String>, until: Until) -> Progress {
        Progress::of(
            state == VolumeState::Available,
            state == VolumeState::Error,
            state == VolumeState::Deleting,
            until,
            word,
            None,
        )
    }
}

/// Outcome of deleting one snapshot in a batch; printed by `snapshot delete`.
#[derive(Debug, Clone, Serialize)]
pub struct DeleteResult {
    /// Provider key.
    pub provider: ProviderKind,
    /// Snapshot id.
    pub id: String,
    /// Its volume.
    pub volume_id: Option<String>,
    /// `deleted` (confirmed gone), `deleting` (accepted, not waited for) or `failed`.
    pub status: &'static str,
    /// The error line when it failed.
    pub error: Option<String>,
    /// The provider task carrying the deletion (NAS-HA), to wait for later with `snapctl wait --task`.
    pub task_id: Option<String>,
}

/// A provider-side snapshot schedule (NAS-HA frequency, EFS snapshot policy).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    /// Provider key.
    pub provider: ProviderKind,
    /// The volume it is attached to (`null` for a service policy listed with `--all`).
    pub volume_id: Option<String>,
    /// Schedule id (NAS-HA: the frequency, e.g. `hour-1`; EFS: the policy UUID).
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// The provider's state word (EFS policy `status`).
    pub state: Option<String>,
    /// Whether it is the service's default policy (EFS).
    pub is_default: Option<bool>,
    /// Its rules.
    pub rules: Vec<ScheduleRule>,
}

/// What `schedule add` asks for.
#[derive(Debug, Clone, Default)]
pub struct ScheduleSpec {
    /// A frequency word (NAS-HA `hour-1`…; EFS shorthand `hour|day|week`).
    pub every: Option<String>,
    /// Time of day for the EFS shorthand (`HH:MM`, or `:MM` for hourly).
    pub at: Option<String>,
    /// Explicit rules (EFS).
    pub rules: Vec<RuleSpec>,
    /// Policy name (EFS).
    pub name: Option<String>,
}

/// One EFS policy rule as typed: name prefix, copies kept and a five-field cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// Snapshot name prefix.
    pub prefix: String,
    /// Copies kept.
    pub keep: u32,
    /// `MIN HOUR DOM MON DOW`.
    pub cron: String,
}

/// What `schedule remove` asks for.
#[derive(Debug, Clone, Default)]
pub struct ScheduleRemoval {
    /// The frequency to disable (NAS-HA).
    pub every: Option<String>,
    /// The policy to attach instead (EFS; default: the service's default policy).
    pub to: Option<String>,
}

/// The outcome of a schedule change: what to wait for, and what to tell the user.
#[derive(Debug, Clone)]
pub struct ScheduleChange {
    /// What to poll.
    pub op: Operation,
    /// Lines for stderr (replaced attachments, kept policies, …).
    pub notes: Vec<String>,
}

/// One rule of a schedule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleRule {
    /// When it fires, in words or cron form (`every hour`, `30 2 * * *`).
    pub schedule: String,
    /// How many snapshots it keeps.
    pub keep: Option<u32>,
    /// Name prefix of the snapshots it takes.
    pub prefix: Option<String>,
}

/// A change a command would make, for `--dry-run`.
#[derive(Debug, Clone, Copy)]
pub enum Mutation<'a> {
    /// `snapshot create`.
    CreateSnapshot(&'a CreateSnapshot),
    /// `snapshot delete` (one id).
    DeleteSnapshot {
        /// Volume.
        volume: Option<&'a str>,
        /// Snapshot.
        id: &'a str,
    },
    /// `clone`.
    Clone(&'a CloneRequest),
    /// `clone --volume …` as one consistent copy.
    CloneVolumes(&'a CloneVolumesRequest),
    /// `revert`.
    Revert {
        /// Volume.
        volume: &'a str,
        /// Snapshot.
        snapshot: &'a str,
    },
    /// `copy`.
    Copy(&'a CopyRequest),
    /// `snapshot share|unshare`.
    Share(&'a ShareRequest),
    /// `snapshot export`.
    Export(&'a ExportRequest),
    /// `snapshot import`.
    Import(&'a ImportRequest),
    /// `schedule add`.
    AddSchedule {
        /// Volume.
        volume: &'a str,
        /// What to add.
        spec: &'a ScheduleSpec,
    },
    /// `schedule remove`.
    RemoveSchedule {
        /// Volume.
        volume: &'a str,
        /// What to remove.
        removal: &'a ScheduleRemoval,
    },
    /// `snapshot hold`.
    Hold {
        /// Volume.
        volume: Option<&'a str>,
        /// Snapshot.
        id: &'a str,
    },
    /// `snapshot update`.
    Update(&'a SnapshotUpdate),
}

impl Mutation<'_> {
    /// What would happen, phrased to follow "would".
    pub fn describe(&self) -> String {
        match self {
            Mutation::CreateSnapshot(r) => match &r.name {
                Some(n) => format!("create a snapshot named {n} of {}", r.volume),
                None => format!("create a snapshot of {}", r.volume),
            },
            Mutation::DeleteSnapshot { volume, id } => match volume {
                Some(v) => format!("delete snapshot {id} of {v}"),
                None => format!("delete snapshot {id}"),
            },
            Mutation::Clone(r) => match &r.volume {
                Some(v) => format!("create a new volume from snapshot {} of {v}", r.snapshot),
                None => format!("create a new volume from snapshot {}", r.snapshot),
            },
            Mutation::CloneVolumes(r) => {
                format!("make one consistent copy of {}", r.volumes.join(", "))
            }
            Mutation::Revert { volume, snapshot } => {
                format!("revert {volume} to snapshot {snapshot}, losing every later write")
            }
            Mutation::Copy(r) => format!("copy snapshot {}", r.snapshot),
            Mutation::Share(r) => {
                let who = if r.public {
                    "everyone".to_string()
                } else {
                    r.accounts.join(", ")
                };
                if r.remove {
                    format!("stop sharing snapshot {} with {who}", r.snapshot)
                } else {
                    format!("share snapshot {} with {who}", r.snapshot)
                }
            }
            Mutation::Export(r) => format!(
                "export snapshot {} to bucket {} as {}",
                r.snapshot, r.bucket, r.format
            ),
            Mutation::Import(_) => "create a snapshot from the image at the given URL".into(),
            Mutation::AddSchedule { volume, spec } => match (&spec.every, spec.rules.len()) {
                (Some(every), 0) => format!("enable an {every} snapshot schedule on {volume}"),
                (_, n) => {
                    format!("create a snapshot policy of {n} rule(s) and attach it to {volume}")
                }
            },
            Mutation::RemoveSchedule { volume, removal } => match (&removal.every, &removal.to) {
                (Some(every), _) => format!("disable the {every} snapshot schedule of {volume}"),
                (None, Some(to)) => format!("attach policy {to} to {volume} instead of its own"),
                (None, None) => format!("put {volume} back on the service's default policy"),
            },
            Mutation::Hold { id, .. } => {
                format!("turn automatic snapshot {id} into a manual one (it gets a new id)")
            }
            Mutation::Update(u) => format!("rename or redescribe snapshot {}", u.snapshot),
        }
    }
}

/// What `--dry-run` prints for a mutating command.
#[derive(Debug, Clone, Serialize)]
pub struct DryRunReport {
    /// Always true.
    pub dry_run: bool,
    /// Provider key.
    pub provider: ProviderKind,
    /// What would happen.
    pub would: String,
    /// Whether the provider itself confirmed the call would be allowed (OUTSCALE `DryRun`).
    pub checked_by_provider: bool,
    /// The first changing request the real run would send (method and URL), which the dry run
    /// stopped; `None` when the real run would change nothing.
    pub request: Option<String>,
}

impl DryRunReport {
    /// What a dry run of `would` on `provider` reports: the request it stopped.
    pub fn stopped(provider: ProviderKind, would: String, stop: crate::error::WouldSend) -> Self {
        DryRunReport {
            dry_run: true,
            provider,
            would,
            checked_by_provider: stop.checked_by_provider,
            request: Some(stop.request),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_for_deletion_is_never_done_while_the_object_exists() {
        let available = || Some("available".to_string());
        assert!(matches!(
            Progress::of_snapshot(SnapshotState::Available, available(), Until::Gone, None),
            Progress::Pending { .. }
        ));
        assert!(matches!(
            Progress::of_snapshot(
                SnapshotState::Error,
                Some("error_deleting".into()),
                Until::Gone,
                None
            ),
            Progress::Failed { .. }
        ));
        assert_eq!(
            Progress::of_snapshot(SnapshotState::Available, available(), Until::Ready, None),
            Progress::Done
        );
    }

    #[test]
    fn unknown_states_are_waited_on_and_deletion_fails_a_wait_for_ready() {
        assert!(matches!(
            Progress::of_volume(
                VolumeState::Unknown,
                Some("frobnicating".into()),
                Until::Ready
            ),
            Progress::Pending { .. }
        ));
        assert!(matches!(
            Progress::of_snapshot(SnapshotState::Deleting, None, Until::Ready, None),
            Progress::Failed { .. }
        ));
    }
}
