//! `rotate`: a one-policy run of the engine, built from its flags.
//!
//! The volumes are listed (one paginated call where the API filters by many volumes at once) and
//! each is planned with restic's rules over its candidates (manual snapshots named with the
//! prefix), counting the snapshot `--create` is about to take, exactly as a dry run shows it. The
//! [`engine`] then carries the units out as it does a policy's: lock, list again under the lock
//! when another run changed the volume, create → confirm → delete, the safety gate (the newest
//! candidate is never deleted, at least one remains), the run's `--max-delete` verdict, signals.
//! Nothing is deleted for a volume whose listing failed, nothing at all when the run would
//! delete more than `max_delete` (the due snapshots are still taken), and nothing under
//! `dry_run`. The outcome is rendered as `rotate`'s own report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::engine::outcome::UnitRun;
use crate::engine::retention::{Entry, Kept, Policy, candidates, plan};
use crate::engine::rules::{Rules, Verdict};
use crate::engine::unit::{Doomed, Unit};
use crate::engine::{self, Target, Work};
use crate::error::{Error, Result};
use crate::kind::ProviderKind;
use crate::model::{CreateSnapshot, Snapshot, SnapshotKind, SnapshotState};
use crate::provider::Provider;
use crate::rotation::{Volumes, volume_ids};
use crate::wait::WaitOptions;

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
    /// Confirm the new snapshot before deleting (the deletions are then planned again from what
    /// the cloud shows), then the deletions. Without it nothing is waited for and no deletion
    /// counts on the new snapshot.
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
    cause: Option<Arc<Error>>,
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

    fn fail(&mut self, e: Arc<Error>) {
        self.error = Some(e.to_string());
        self.cause = Some(e);
    }

    /// The volume's plan, before anything is done.
    fn planned(unit: &Unit, dry_run: bool) -> Self {
        let mut r = VolumeReport::new(&unit.volume_id);
        r.keep = unit.keep.clone();
        r.delete = unit.delete.iter().map(|d| d.entry.clone()).collect();
        if dry_run {
            // The snapshot it would take is among the kept ones, as the plan counts it.
            r.would_create = unit.create.clone();
        } else if let Some(name) = &unit.create {
            r.keep.retain(|k| &k.entry.id != name);
        }
        r
    }

    /// The volume after the engine carried its unit out.
    fn ran(&mut self, run: UnitRun) {
        self.delete = run.planned;
        let planned: std::collections::BTreeSet<&str> =
            self.delete.iter().map(|e| e.id.as_str()).collect();
        // What the plan keeps: deletions a refusal held back stay listed as deletions.
        self.keep = run
            .kept
            .into_iter()
            .filter(|k| !planned.contains(k.entry.id.as_str()))
            .collect();
        self.created = run.snapshot.map(|s| *s);
        self.deleted = run.deleted;
        self.skipped = run.skipped;
        for f in run.failures {
            match (f.op, f.id) {
                ("delete", Some(id)) => self.failed.push(Failed { id, error: f.error }),
                (_, _) if self.error.is_none() => {
                    self.error = Some(f.error.clone());
                    self.cause = f.cause;
                }
                _ => {}
            }
        }
    }
}

/// The snapshot `--create` is about to take, as the plan counts it.
fn phantom(kind: ProviderKind, volume: &str, name: &str, at: Timestamp) -> Snapshot {
    Snapshot {
        provider: kind,
        id: name.to_string(),
        volume_id: Some(volume.to_string()),
        name: Some(name.to_string()),
        description: None,
        state: SnapshotState::Available,
        provider_state: None,
        kind: SnapshotKind::Manual,
        created_at: Some(at),
        size_gib: None,
        expires_at: None,
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
            .filter(|v| v.error.is_some() || !v.failed.is_empty())
            .collect();
        if failing.is_empty() {
            return Ok(());
        }
        let all_locked = failing
            .iter()
            .all(|v| matches!(v.cause.as_deref(), Some(Error::Locked { .. })));
        let n = failing.len();
        if total == 1 || all_locked {
            let v = failing.into_iter().next().expect("a failing volume");
            if let Some(cause) = v.cause.take() {
                return Err(Error::Carried(cause));
            }
        }
        Err(Error::Partial {
            failed: n,
            total,
            what: "volume rotations",
        })
    }
}

/// Name of the snapshot `--create` takes: `<prefix><UTC YYYYMMDDTHHMMSSZ>`.
pub fn snapshot_name(prefix: &str, now: Timestamp) -> String {
    format!("{prefix}{}", crate::model::stamp(now))
}

/// `rotate`'s rules: its candidates are the manual snapshots named with its prefix (never a
/// clone's base), planned with restic's rules; its floor is one; it has no hooks.
pub(crate) struct RotateRules {
    prefix: String,
    policy: Policy,
    /// `--wait`: the new snapshot is confirmed before the deletions, which count on it.
    confirm: bool,
}

impl RotateRules {
    /// Rules for candidates named `prefix…`, kept by `policy`; `confirm` is `--wait`.
    pub(crate) fn new(prefix: &str, policy: Policy, confirm: bool) -> RotateRules {
        RotateRules {
            prefix: prefix.to_string(),
            policy,
            confirm,
        }
    }

    /// Plan one volume from its listing, counting the snapshot `create` would take now.
    pub(crate) fn plan_volume(
        &self,
        kind: ProviderKind,
        volume: &str,
        listed: &[Snapshot],
        create: bool,
        now: Timestamp,
    ) -> Unit {
        let mut cands = candidates(listed, &self.prefix);
        let usable = |s: &&Snapshot| {
            s.state == SnapshotState::Available && s.created_at.is_some_and(|t| t <= now)
        };
        let owned = cands.iter().filter(usable).count();
        let newest = cands
            .iter()
            .filter(usable)
            .filter_map(|s| s.created_at)
            .max();
        let name = create.then(|| snapshot_name(&self.prefix, now));
        if let Some(name) = &name {
            // Counted as usable only when the run confirms it before deleting; otherwise it is
            // planned as it is when the deletions go out: still being made.
            let mut new = phantom(kind, volume, name, now);
            if !self.confirm {
                new.state = SnapshotState::Creating;
            }
            cands.push(new);
        }
        let p = plan(&cands, &self.policy, now);
        let rules = self.policy.describe();
        Unit {
            create: name,
            delete: p
                .delete
                .iter()
                .map(|s| Doomed {
                    entry: s.into(),
                    reason: format!("no rule keeps it ({rules})"),
                })
                .collect(),
            keep: p.keep,
            owned,
            newest,
            // A rotate unit answers no tick, has no marks (orphans, repairs, future ones).
            ..Unit::empty(volume, None)
        }
    }
}

impl Rules for RotateRules {
    fn id(&self) -> &str {
        "rotate"
    }

    fn request(&self, _: ProviderKind, unit: &Unit) -> CreateSnapshot {
        CreateSnapshot {
            volume: unit.volume_id.clone(),
            name: Some(snapshot_name(&self.prefix, Timestamp::now())),
            description: Some("taken by snapctl rotate".into()),
            managed: true,
            ..CreateSnapshot::default()
        }
    }

    fn replan(
        &self,
        kind: ProviderKind,
        unit: &Unit,
        listed: Vec<Snapshot>,
        now: Timestamp,
    ) -> Unit {
        self.plan_volume(kind, &unit.volume_id, &listed, unit.create.is_some(), now)
    }

    fn floor(&self) -> usize {
        1
    }

    fn plans_after_create(&self) -> bool {
        true
    }

    fn reports_snapshot(&self) -> bool {
        true
    }
}

/// Run a rotation. The report is returned even when the run fails, so the plan can be printed.
pub async fn rotate(
    provider: Arc<dyn Provider>,
    opts: RotateOptions,
    wait: WaitOptions,
) -> Result<RotateReport> {
    let ids = volume_ids(provider.as_ref(), &opts.volumes).await?;
    let kind = provider.kind();
    let now = Timestamp::now();
    let rules = Arc::new(RotateRules::new(
        &opts.prefix,
        opts.policy.clone(),
        opts.wait,
    ));
    // One listing for every volume (a single paginated call where the API filters by many
    // volumes at once), then a plan per volume.
    let listed = provider.list_snapshots_of(&ids).await;
    let mut volumes = Vec::with_capacity(ids.len());
    let mut work = Vec::new();
    for (j, (id, listed)) in ids.iter().zip(listed).enumerate() {
        match listed {
            Ok(all) => {
                let unit = rules.plan_volume(kind, id, &all, opts.create, now);
                volumes.push(VolumeReport::planned(&unit, opts.dry_run));
                work.push(Work {
                    slot: (0, j),
                    rules: rules.clone() as Arc<dyn Rules>,
                    unit,
                });
            }
            Err(e) => {
                let mut r = VolumeReport::new(id);
                r.fail(Arc::new(e));
                volumes.push(r);
            }
        }
    }
    let total: usize = work.iter().map(|w| w.unit.delete.len()).sum();
    let refused = !opts.dry_run && total > opts.max_delete;
    if !opts.dry_run {
        let verdict = Verdict::Known(
            refused.then(|| format!("--max-delete {} refused the deletions", opts.max_delete)),
        );
        let target = Target::new(provider, opts.concurrency);
        let engine_opts = engine::rules::Options {
            wait,
            confirm: opts.wait,
            lock_dir: opts.lock_dir.clone(),
            lock_wait: opts.lock_wait,
            listed_at: now,
        };
        let budget = Arc::new(Semaphore::new(engine::lock_budget()));
        for ((_, j), run) in
            engine::carry_out(target, work, Arc::new(engine_opts), verdict, budget, now).await
        {
            volumes[j].ran(run);
        }
    }
    Ok(RotateReport {
        volumes,
        dry_run: opts.dry_run,
        policy: opts.policy.describe(),
        refused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: &str, at: &str, state: SnapshotState) -> Snapshot {
        Snapshot {
            provider: ProviderKind::OvhEfs,
            id: id.into(),
            volume_id: Some("v".into()),
            name: Some(format!("snapctl-{id}")),
            description: None,
            state,
            provider_state: None,
            kind: SnapshotKind::Manual,
            created_at: Some(at.parse().expect("timestamp")),
            size_gib: None,
            expires_at: None,
        }
    }

    /// rotate's units pass the fleet's gate: whatever the plan says, the newest available
    /// candidate is never deleted and at least one remains.
    #[test]
    fn the_gate_keeps_the_newest_and_a_floor_whatever_the_plan_says() {
        use crate::engine::unit::gate;
        let rules = RotateRules {
            prefix: "snapctl-".into(),
            policy: Policy {
                keep_last: Some(1),
                ..Policy::default()
            },
            confirm: false,
        };
        let now: Timestamp = "2030-01-01T00:00:00Z".parse().expect("ts");
        let a = snap("a", "2029-12-01T00:00:00Z", SnapshotState::Available);
        let b = snap("b", "2029-12-02T00:00:00Z", SnapshotState::Available);
        let c = snap("c", "2029-12-03T00:00:00Z", SnapshotState::Creating);
        let all = vec![a.clone(), b.clone(), c.clone()];
        let unit = rules.plan_volume(ProviderKind::OvhEfs, "v", &all, false, now);
        // keep-last 1 keeps b (the newest available; c is still being made) and deletes a.
        let doomed: Vec<&str> = unit.delete.iter().map(|d| d.entry.id.as_str()).collect();
        assert_eq!(doomed, ["a"]);
        assert_eq!(gate(rules.floor(), &unit, None), Ok(()));
        // A plan that deleted b would delete the newest available snapshot.
        let mut bad = unit.clone();
        bad.delete.push(Doomed {
            entry: (&b).into(),
            reason: "a bug".into(),
        });
        let err = gate(rules.floor(), &bad, None).unwrap_err();
        assert!(err.contains("fewer than 1"), "{err}");
        bad.delete.retain(|d| d.entry.id == "b");
        let err = gate(rules.floor(), &bad, None).unwrap_err();
        assert!(err.contains("newest"), "{err}");
        // Once a new snapshot is confirmed, the plan made with it may delete b.
        let new = Entry {
            id: "new".into(),
            name: None,
            created_at: Some(now),
        };
        assert_eq!(gate(rules.floor(), &bad, Some(&new)), Ok(()));
    }

    #[test]
    fn created_names_are_prefix_and_utc_timestamp() {
        let t: Timestamp = "2026-11-24T09:30:05Z".parse().expect("ts");
        assert_eq!(snapshot_name("snapctl-", t), "snapctl-20261124T093005Z");
    }
}
