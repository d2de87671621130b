//! Running `rotate` across volumes through the `Provider` trait.
//!
//! Rotation per volume: lock → (create, wait) → list → plan → delete, with volumes processed
//! concurrently and one volume's failure never stopping the others. Nothing is deleted for a volume
//! whose listing failed, nothing at all when the run would delete more than `max_delete`, and nothing
//! under `dry_run`. Planning itself is [`super::plan`]; this module owns the I/O around it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::plan::{Entry, Kept, Policy, candidates, plan};
use crate::batch::{Deletion, delete_all};
use crate::error::{Error, Result};
use crate::lock::{self, VolumeLock};
use crate::model::{CreateSnapshot, Snapshot, SnapshotKind, SnapshotState};
use crate::provider::Provider;
use crate::wait::{WaitOptions, wait_for};

/// Which volumes a run covers.
#[derive(Debug, Clone)]
pub enum Volumes {
    /// These.
    List(Vec<String>),
    /// Every volume the provider lists.
    All,
}

/// Everything `rotate` was asked to do.
#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// Volumes.
    pub volumes: Volumes,
    /// Take a snapshot first.
    pub create: bool,
    /// Candidate name prefix.
    pub prefix: String,
    /// Keep rules.
    pub policy: Policy,
    /// Refuse when the whole run would delete more than this.
    pub max_delete: usize,
    /// Change nothing.
    pub dry_run: bool,
    /// Volumes at once.
    pub concurrency: usize,
    /// Deletions in flight at once across the whole run (the provider's cap).
    pub in_flight: usize,
    /// Wait for the new snapshot (and deletions).
    pub wait: bool,
    /// How long to wait for another run's lock.
    pub lock_wait: Duration,
    /// Lock directory.
    pub lock_dir: PathBuf,
}

/// A deletion that failed.
#[derive(Debug, Clone, Serialize)]
pub struct Failed {
    /// Snapshot id.
    pub id: String,
    /// The error line.
    pub error: String,
}

/// One volume's rotation, as printed.
#[derive(Debug, Serialize)]
pub struct VolumeReport {
    /// Volume id.
    pub volume_id: String,
    /// The snapshot `--create` took.
    pub created: Option<Snapshot>,
    /// The name `--create` would have used (dry run).
    pub would_create: Option<String>,
    /// Kept snapshots and why.
    pub keep: Vec<Kept>,
    /// Planned deletions.
    pub delete: Vec<Entry>,
    /// Deletions done.
    pub deleted: Vec<Entry>,
    /// Deletions that failed.
    pub failed: Vec<Failed>,
    /// Deletions not started because of an interrupt.
    pub skipped: Vec<Entry>,
    /// Why this volume could not be rotated (lock, listing, creation).
    pub error: Option<String>,
    #[serde(skip)]
    cause: Option<Error>,
}

impl VolumeReport {
    fn new(volume_id: &str) -> Self {
        VolumeReport {
            volume_id: volume_id.to_string(),
            created: None,
            would_create: None,
            keep: Vec::new(),
            delete: Vec::new(),
            deleted: Vec::new(),
            failed: Vec::new(),
            skipped: Vec::new(),
            error: None,
            cause: None,
        }
    }

    fn fail(&mut self, e: Error) {
        self.error = Some(e.to_string());
        self.cause = Some(e);
    }
}

/// A whole run, as printed.
#[derive(Debug, Serialize)]
pub struct RotateReport {
    /// One entry per volume.
    pub volumes: Vec<VolumeReport>,
    /// Whether nothing was changed on purpose.
    pub dry_run: bool,
    /// The policy, in words.
    pub policy: String,
    /// Whether the run was refused by `--max-delete`.
    pub refused: bool,
}

impl RotateReport {
    /// The error the run ends with, if any: the single volume's own error, exit 8 when every failure
    /// is a held lock, exit 6 otherwise.
    pub fn outcome(&mut self, max_delete: usize) -> Result<()> {
        if crate::interrupt::requested() {
            let deleted: usize = self.volumes.iter().map(|v| v.deleted.len()).sum();
            let planned: usize = self.volumes.iter().map(|v| v.delete.len()).sum();
            return Err(Error::Interrupted {
                done: format!(
                    "{deleted} of {planned} planned deletions were done; the plan above shows which"
                ),
            });
        }
        if self.refused {
            let total: usize = self.volumes.iter().map(|v| v.delete.len()).sum();
            return Err(Error::Refused {
                reason: format!(
                    "the plan would delete {total} snapshots, more than --max-delete {max_delete}; nothing was deleted"
                ),
                hint: Some(
                    "check the plan above; if it is right, raise --max-delete for this run".into(),
                ),
            });
        }
        let total = self.volumes.len();
        let failing: Vec<&mut VolumeReport> = self
            .volumes
            .iter_mut()
            .filter(|v| v.cause.is_some() || !v.failed.is_empty())
            .collect();
        if failing.is_empty() {
            return Ok(());
        }
        let all_locked = failing
            .iter()
            .all(|v| matches!(v.cause, Some(Error::Locked { .. })));
        let n = failing.len();
        if total == 1 {
            let v = failing.into_iter().next().expect("one failing volume");
            if let Some(cause) = v.cause.take() {
                return Err(cause);
            }
        } else if all_locked {
            let v = failing.into_iter().next().expect("a failing volume");
            return Err(v.cause.take().expect("locked volumes carry their cause"));
        }
        Err(Error::Partial {
            failed: n,
            total,
            what: "volume rotations",
        })
    }
}

/// Resolve the volume list.
pub(super) async fn volume_ids(provider: &dyn Provider, volumes: &Volumes) -> Result<Vec<String>> {
    match volumes {
        Volumes::List(v) => Ok(v.clone()),
        Volumes::All => Ok(provider
            .list_volumes()
            .await?
            .into_iter()
            .map(|v| v.id)
            .collect()),
    }
}

/// Name of the snapshot `--create` takes: `<prefix><UTC YYYYMMDDTHHMMSSZ>`.
pub fn snapshot_name(prefix: &str, now: Timestamp) -> String {
    format!("{prefix}{}", crate::model::stamp(now))
}

struct Prepared {
    report: VolumeReport,
    to_delete: Vec<Snapshot>,
    lock: Option<VolumeLock>,
}

/// Phase one for a volume: lock, create, list, plan.
async fn prepare(
    provider: Arc<dyn Provider>,
    volume: String,
    opts: Arc<RotateOptions>,
    wait: WaitOptions,
) -> Prepared {
    let mut report = VolumeReport::new(&volume);
    let prepared = |report: VolumeReport, lock, to_delete| Prepared {
        report,
        to_delete,
        lock,
    };
    if crate::interrupt::requested() {
        report.fail(Error::Interrupted {
            done: "this volume was not started".into(),
        });
        return prepared(report, None, vec![]);
    }
    let (dir, kind, scope, vol, lock_wait) = (
        opts.lock_dir.clone(),
        provider.kind().to_string(),
        provider.scope(),
        volume.clone(),
        opts.lock_wait,
    );
    let mut lock = match tokio::task::spawn_blocking(move || {
        lock::acquire(&dir, &kind, &scope, &vol, lock_wait)
    })
    .await
    {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => {
            report.fail(e);
            return prepared(report, None, vec![]);
        }
        Err(join) => {
            report.fail(Error::Io {
                action: "cannot take the volume lock".into(),
                source: std::io::Error::other(join.to_string()),
            });
            return prepared(report, None, vec![]);
        }
    };
    if opts.create {
        let name = snapshot_name(&opts.prefix, Timestamp::now());
        if opts.dry_run {
            report.would_create = Some(name);
        } else {
            lock.mark_changed();
            let req = CreateSnapshot {
                volume: volume.clone(),
                name: Some(name),
                description: Some("taken by snapctl rotate".into()),
                managed: true,
                ..CreateSnapshot::default()
            };
            match crate::provider::create_snapshot_once(provider.as_ref(), &req).await {
                Ok((snap, op)) => {
                    report.created = Some(snap);
                    if opts.wait
                        && let Err(e) = wait_for(provider.as_ref(), &op, &wait).await
                    {
                        // A new snapshot that did not become usable: keep every older one.
                        report.fail(e);
                        return prepared(report, Some(lock), vec![]);
                    }
                }
                Err(e) => {
                    report.fail(e);
                    return prepared(report, Some(lock), vec![]);
                }
            }
        }
    }
    prepared(report, Some(lock), vec![])
}

/// Phase one, second half: plan each volume from its listing.
fn plan_volume(
    provider: &dyn Provider,
    mut prepared: Prepared,
    listed: Result<Vec<Snapshot>>,
    opts: &RotateOptions,
) -> Prepared {
    let mut report = std::mem::replace(&mut prepared.report, VolumeReport::new(""));
    let volume = report.volume_id.clone();
    let all = match listed {
        Ok(all) => all,
        Err(e) => {
            report.fail(e);
            prepared.report = report;
            return prepared;
        }
    };
    // What the last read saw, not the create's first answer (`creating`).
    if let Some(created) = &mut report.created
        && let Some(fresh) = all.iter().find(|s| s.id == created.id)
    {
        *created = fresh.clone();
    }
    let mut cands = candidates(&all, &opts.prefix);
    // A dry run plans with the snapshot it would take, as the real run does after taking it.
    if let Some(name) = &report.would_create {
        cands.push(Snapshot {
            provider: provider.kind(),
            id: name.clone(),
            volume_id: Some(volume.clone()),
            name: Some(name.clone()),
            description: None,
            state: SnapshotState::Available,
            provider_state: None,
            kind: SnapshotKind::Manual,
            created_at: Some(Timestamp::now()),
            size_gib: None,
            expires_at: None,
        });
    }
    let mut p = plan(&cands, &opts.policy, Timestamp::now());
    if let Err(why) = crate::rotation::plan::gate(&cands, &p.delete, 1) {
        // Never reached by a correct plan: the last guard before any DELETE.
        report.fail(Error::Refused {
            reason: why,
            hint: None,
        });
        for s in p.delete.drain(..) {
            p.keep.push(crate::rotation::plan::Kept {
                entry: (&s).into(),
                reasons: vec!["the safety gate refused this volume's deletions".into()],
            });
        }
    }
    report.keep = p.keep;
    report.delete = p.delete.iter().map(Entry::from).collect();
    prepared.report = report;
    prepared.to_delete = p.delete;
    prepared
}

/// Phase two for a volume: send the plan's deletions as fast as the rate limiter and the run's
/// in-flight cap allow, then (with `--wait`) confirm them in bulk, one snapshot list per poll.
/// Every deletion has its own outcome: deleted, failed (with why), or skipped (never started
/// because of an interrupt).
async fn apply(
    provider: Arc<dyn Provider>,
    mut prepared: Prepared,
    wait: bool,
    wait_opts: WaitOptions,
    in_flight: Arc<Semaphore>,
) -> Prepared {
    let snaps = std::mem::take(&mut prepared.to_delete);
    if !snaps.is_empty()
        && let Some(lock) = &mut prepared.lock
    {
        lock.mark_changed();
    }
    let targets: Vec<(Option<String>, String)> = snaps
        .iter()
        .map(|s| (s.volume_id.clone(), s.id.clone()))
        .collect();
    let ended = delete_all(
        &provider,
        &targets,
        Some(&prepared.report.volume_id),
        &in_flight,
        wait.then_some(&wait_opts),
    )
    .await;
    for (snap, ended) in snaps.iter().zip(ended) {
        match ended {
            Deletion::Deleted(_) => prepared.report.deleted.push(Entry::from(snap)),
            Deletion::Failed(e) => prepared.report.failed.push(Failed {
                id: snap.id.clone(),
                error: e.to_string(),
            }),
            Deletion::Skipped => prepared.report.skipped.push(Entry::from(snap)),
        }
    }
    prepared
}

/// Run a rotation. The report is returned even when the run fails, so the plan can be printed.
pub async fn rotate(
    provider: Arc<dyn Provider>,
    opts: RotateOptions,
    wait_opts: WaitOptions,
) -> Result<RotateReport> {
    let ids = volume_ids(provider.as_ref(), &opts.volumes).await?;
    let opts = Arc::new(opts);
    let limit = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut set = JoinSet::new();
    for (i, id) in ids.iter().enumerate() {
        let (p, o, w, l, id) = (
            provider.clone(),
            opts.clone(),
            wait_opts.clone(),
            limit.clone(),
            id.clone(),
        );
        set.spawn(async move {
            let _permit = l.acquire_owned().await.expect("semaphore never closed");
            (i, prepare(p, id, o, w).await)
        });
    }
    let mut prepared = collect(&mut set, ids.len()).await;
    // One listing for every volume still in the run (a single paginated call where the API
    // filters by many volumes at once), then a plan per volume.
    let listable: Vec<String> = prepared
        .iter()
        .filter(|p| p.report.cause.is_none())
        .map(|p| p.report.volume_id.clone())
        .collect();
    let mut listed = provider.list_snapshots_of(&listable).await.into_iter();
    prepared = prepared
        .into_iter()
        .map(|p| {
            if p.report.cause.is_some() {
                return p;
            }
            let l = listed.next().unwrap_or_else(|| Ok(Vec::new()));
            plan_volume(provider.as_ref(), p, l, &opts)
        })
        .collect();

    let total: usize = prepared.iter().map(|p| p.to_delete.len()).sum();
    let refused = !opts.dry_run && total > opts.max_delete;
    if !opts.dry_run && !refused {
        let in_flight = Arc::new(Semaphore::new(opts.in_flight.max(1)));
        let mut set = JoinSet::new();
        for (i, p) in prepared.into_iter().enumerate() {
            let (prov, w, l, f) = (
                provider.clone(),
                wait_opts.clone(),
                limit.clone(),
                in_flight.clone(),
            );
            let wait = opts.wait;
            set.spawn(async move {
                let _permit = l.acquire_owned().await.expect("semaphore never closed");
                (i, apply(prov, p, wait, w, f).await)
            });
        }
        prepared = collect(&mut set, ids.len()).await;
    }
    Ok(RotateReport {
        volumes: prepared.into_iter().map(|p| p.report).collect(),
        dry_run: opts.dry_run,
        policy: opts.policy.describe(),
        refused,
    })
}

/// Join every task, in volume order. A panicking task is a bug; report it as that volume's failure.
async fn collect(set: &mut JoinSet<(usize, Prepared)>, n: usize) -> Vec<Prepared> {
    let mut slots: Vec<Option<Prepared>> = (0..n).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, p)) = joined {
            slots[i] = Some(p);
        }
    }
    slots
        .into_iter()
        .map(|s| {
            s.unwrap_or_else(|| {
                let mut report = VolumeReport::new("?");
                report.fail(Error::Io {
                    action: "a volume task stopped unexpectedly".into(),
                    source: std::io::Error::other("task panicked"),
                });
                Prepared {
                    report,
                    to_delete: vec![],
                    lock: None,
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_names_are_prefix_and_utc_timestamp() {
        let t: Timestamp = "2026-11-24T09:30:05Z".parse().expect("ts");
        assert_eq!(snapshot_name("snapctl-", t), "snapctl-20261124T093005Z");
    }
}
