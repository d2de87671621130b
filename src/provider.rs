//! The `Provider` seam: the one trait every cloud implements.
//!
//! The core talks to clouds only through [`Provider`]; an operation a provider's API lacks keeps the
//! default method, which answers a typed `Unsupported` error with what the provider offers instead.
//! The registry (which key builds which provider) lives in `providers`; keys and capabilities are
//! plain data in `kind`, re-exported here for the library's users.

use crate::error::{Error, Result};
use crate::model::{
    ClonePair, CloneRequest, CloneVolumesRequest, CopyRequest, CreateSnapshot, ExportRequest,
    ExportTask, ImportRequest, Operation, Progress, Schedule, ScheduleChange, ScheduleRemoval,
    ScheduleSpec, ShareRequest, Snapshot, SnapshotUpdate, StoredObject, Volume,
};
use async_trait::async_trait;

pub use crate::kind::{Capabilities, ProviderKind, Support};

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

    /// The volumes carrying every one of `tags` (OUTSCALE tags, Cinder metadata), narrowed by the
    /// API where it filters by tag. The filter is a hint: a provider may answer more (the default
    /// lists every volume), and callers check each volume themselves. Providers that filter
    /// server-side also check each page as it is read ([`carries`]), so a server that ignores the
    /// filter costs one page of memory, not the whole account.
    async fn list_volumes_tagged(
        &self,
        _tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<Volume>> {
        self.list_volumes().await
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

    /// [`Provider::list_snapshots`] page by page: each page goes to `sink` as soon as it is read,
    /// so `snapshot list -o json|ids` writes as it reads and memory does not grow with the count.
    /// `query` goes to the API where it filters that way (OUTSCALE: states and creation dates;
    /// Cinder: a one-word status); it is a hint, and callers check each snapshot against it
    /// themselves. The default hands over the whole list at once (APIs that answer in one array)
    /// and ignores the query.
    async fn list_snapshots_where(
        &self,
        volume: Option<&str>,
        _query: &crate::model::SnapshotQuery,
        sink: &mut (dyn FnMut(Vec<Snapshot>) -> Result<()> + Send),
    ) -> Result<()> {
        sink(self.list_snapshots(volume).await?)
    }

    /// The snapshots of each of `volumes` (one result per volume, in order), in as few requests as
    /// the API allows. The default lists each volume on its own; providers whose API filters by
    /// many volumes at once override it.
    async fn list_snapshots_of(&self, volumes: &[String]) -> Vec<Result<Vec<Snapshot>>> {
        split_by_volume(self, volumes, None).await
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

    /// Delete a volume (restore drills delete the volume they restored, and nothing else);
    /// returns what to poll until it is gone.
    async fn delete_volume(&self, _id: &str) -> Result<Operation> {
        Err(self.unsupported(
            "volume delete",
            "delete the volume in the provider's console",
        ))
    }

    /// What a script needs to reach a volume (`SNAPCTL_DRILL_*` variable, value): EFS its NFS
    /// export path, OUTSCALE its subregion. Nothing by default.
    async fn reach(&self, _volume: &str) -> Result<Vec<(&'static str, String)>> {
        Ok(Vec::new())
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

    /// One export task, as it is now.
    async fn get_export_task(&self, _id: &str) -> Result<ExportTask> {
        Err(self.unsupported(
            "snapshot export",
            "this provider's API has no snapshot export",
        ))
    }

    /// The export route (export tasks, the bucket they write to, pre-signed reads) where the
    /// provider has one: OUTSCALE's cross-region copies go through it.
    fn export_route(&self) -> Option<&dyn ExportRoute> {
        None
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

/// Whether `volume` carries every one of `tags`.
pub fn carries(volume: &Volume, tags: &std::collections::BTreeMap<String, String>) -> bool {
    tags.iter()
        .all(|(k, v)| volume.tags.get(k).is_some_and(|have| have == v))
}

/// [`Provider::list_snapshots`] for providers whose listing is paged: every page of
/// [`Provider::list_snapshots_where`] without a query, collected.
pub async fn every_page<P: Provider + ?Sized>(
    provider: &P,
    volume: Option<&str>,
) -> Result<Vec<Snapshot>> {
    let mut out = Vec::new();
    provider
        .list_snapshots_where(
            volume,
            &crate::model::SnapshotQuery::default(),
            &mut |page| {
                out.extend(page);
                Ok(())
            },
        )
        .await?;
    Ok(out)
}

/// Per-volume listings in flight at once when the API has no bulk listing.
const PER_VOLUME_LISTINGS: usize = 8;

/// The end of every [`Provider::list_snapshots_of`]: one listing that covers all `volumes`, split
/// by volume; or, without one (a single volume, or the bulk call failed), each volume listed on
/// its own, so each gets its own answer.
pub async fn split_by_volume<P: Provider + ?Sized>(
    provider: &P,
    volumes: &[String],
    all: Option<Vec<Snapshot>>,
) -> Vec<Result<Vec<Snapshot>>> {
    let Some(all) = all else {
        // Several at once, in order: the rate limiter paces them, and a long list of volumes is
        // not read one round trip at a time.
        use futures_util::StreamExt;
        return futures_util::stream::iter(volumes.iter().cloned())
            .map(move |v| async move { provider.list_snapshots(Some(&v)).await })
            .buffered(PER_VOLUME_LISTINGS)
            .collect()
            .await;
    };
    let mut by_volume: std::collections::BTreeMap<String, Vec<Snapshot>> = Default::default();
    for s in all {
        if let Some(v) = s.volume_id.clone() {
            by_volume.entry(v).or_default().push(s);
        }
    }
    volumes
        .iter()
        .map(|v| Ok(by_volume.remove(v).unwrap_or_default()))
        .collect()
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

/// What a cross-region copy needs beyond [`Provider`]: the export tasks of a snapshot and the
/// objects they leave in a bucket of the same region (OUTSCALE: `ReadSnapshotExportTasks` and
/// OOS, signed with the same keys).
#[async_trait]
pub trait ExportRoute: Send + Sync {
    /// The id of the account the exports are made from, as the cloud records it (`None` when
    /// the caller may not read it): a copy's mark names it.
    async fn account_id(&self) -> Result<Option<String>>;
    /// Every export task of `snapshot` the API still reports.
    async fn export_tasks_of(&self, snapshot: &str) -> Result<Vec<ExportTask>>;
    /// The objects of `bucket` whose key starts with `prefix`.
    async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<StoredObject>>;
    /// A read of one object, pre-signed for `ttl` seconds: a credential, never to be shown.
    fn presign_get(&self, bucket: &str, key: &str, ttl: u64) -> secrecy::SecretString;
    /// Delete one object (gone already is done).
    async fn delete_object(&self, bucket: &str, key: &str) -> Result<()>;
}
