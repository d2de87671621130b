//! The one engine every change to a volume goes through: `policy apply` feeds it each account's
//! units of a fleet run, `rotate` the units of a one-policy run built from its flags.
//!
//! A unit is one policy's plan for one volume ([`Unit`]). The engine alone owns what makes a
//! change safe: the volume lock (shared by every run on the machine), the listing taken again
//! under it when another run changed the volume since this run's listing, the `pre` and `post`
//! hooks, create → confirm → delete order (no deletion rests on a snapshot not confirmed
//! usable), the safety gate right before each unit's DELETEs (the newest owned snapshot is never
//! deleted, at least [`Rules::floor`] remain), the run's `--max-delete` verdict, signals (nothing
//! new starts after one; what was not started is `skipped`), and per-account concurrency under
//! the provider's rate limiter and in-flight cap. What differs between `rotate` and a policy
//! (which snapshots are its own, how a unit is planned again, the create request, the hooks) is a
//! [`Rules`] value.

pub(crate) mod delete;
pub mod hook;
pub mod outcome;
pub mod retention;
pub mod rules;
#[cfg(test)]
mod tests;
pub mod unit;

use std::sync::Arc;

use jiff::Timestamp;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::kind::ProviderKind;
use crate::model::{Snapshot, SnapshotState};
use crate::provider::Provider;
use crate::wait::{Awaited, wait_for_all_seen};
use delete::Deletion;
use outcome::{Failure, UnitRun, UnitStatus};
use retention::{Entry, Kept};
use rules::{Options, Rules, Verdict};
use unit::Unit;

/// A provider connection a policy runs on; policies with the same settings share one, so they
/// share its rate limit.
#[derive(Clone)]
pub struct Target {
    /// The provider.
    pub provider: Arc<dyn Provider>,
    /// Deletions in flight at once on this account.
    pub in_flight: Arc<Semaphore>,
    /// Volumes worked on at once on this account.
    pub volumes: Arc<Semaphore>,
}

impl Target {
    /// A target for `provider` with its registry caps.
    pub fn new(provider: Arc<dyn Provider>, concurrency: usize) -> Target {
        let cap = crate::providers::entry(provider.kind()).max_in_flight;
        Target {
            provider,
            in_flight: Arc::new(Semaphore::new(cap.max(1))),
            volumes: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }
}

/// One unit to carry out: where its outcome goes (`(policy, unit)` slots of the caller's
/// report), its policy's rules and its plan.
pub struct Work {
    /// The caller's slot for the outcome.
    pub slot: (usize, usize),
    /// The unit's policy.
    pub rules: Arc<dyn Rules>,
    /// The plan.
    pub unit: Unit,
}

/// Volumes a batch holds locked at once. A batch is locked, listed again where another run
/// changed a volume since this run's listing, snapshotted, confirmed in bulk, pruned, then
/// unlocked: the run holds at most [`lock_budget`] lock files open whatever the fleet's size.
const BATCH: usize = 16;

/// Batches of one account at once: one sends its creates while another waits for its own.
const BATCHES_PER_ACCOUNT: usize = 3;

/// Lock files open at once across the run: half of what the open-file limit leaves after 64 for
/// everything else (connections, hook pipes), between one batch and 256.
pub fn lock_budget() -> usize {
    #[cfg(unix)]
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    #[cfg(not(unix))]
    let soft: Option<u64> = None;
    soft.map_or(256, |n| {
        (usize::try_from(n).unwrap_or(usize::MAX).saturating_sub(64) / 2).clamp(BATCH, 256)
    })
}

/// The units of one volume (two policies may select it), run one after the other.
struct Group {
    volume: String,
    units: Vec<Work>,
}

/// Whether a unit changes anything (units that do not are never run: their plan is their
/// outcome).
pub(crate) fn has_changes(unit: &Unit) -> bool {
    unit.create.is_some() || !unit.delete.is_empty() || !unit.repair.is_empty()
}

/// Carry out one account's units, in batches of `BATCH` volumes, `BATCHES_PER_ACCOUNT` at
/// once. Units that cannot run (a failed listing) or change nothing are left out of the answer:
/// the caller reports them from their plan.
pub async fn carry_out(
    target: Target,
    work: Vec<Work>,
    opts: Arc<Options>,
    verdict: Verdict,
    budget: Arc<Semaphore>,
    now: Timestamp,
) -> Vec<((usize, usize), UnitRun)> {
    // Units on the same volume run one after the other under one volume lock.
    let mut groups: Vec<Group> = Vec::new();
    for w in work {
        if w.unit.error.is_some() || !has_changes(&w.unit) {
            continue;
        }
        match groups.iter_mut().find(|g| g.volume == w.unit.volume_id) {
            Some(g) => g.units.push(w),
            None => groups.push(Group {
                volume: w.unit.volume_id.clone(),
                units: vec![w],
            }),
        }
    }
    // A batch is started only when one of the account's turns is free: the units waiting for
    // theirs are plain data, never a task (whose state would be the whole run_batch future).
    let per_account = Arc::new(Semaphore::new(BATCHES_PER_ACCOUNT));
    let mut groups = std::collections::VecDeque::from(groups);
    let mut set = JoinSet::new();
    let mut out = Vec::new();
    while !groups.is_empty() {
        let turn = per_account
            .clone()
            .acquire_owned()
            .await
            .expect("the account's semaphore is never closed");
        while let Some(joined) = set.try_join_next() {
            out.extend(joined.unwrap_or_default());
        }
        let batch: Vec<Group> = groups.drain(..BATCH.min(groups.len())).collect();
        let (target, opts, verdict, budget) = (
            target.clone(),
            opts.clone(),
            verdict.clone(),
            budget.clone(),
        );
        set.spawn(async move {
            let _turn = turn;
            let _fds = budget.acquire_many_owned(batch.len() as u32).await;
            run_batch(batch, &target, &opts, &verdict, now).await
        });
    }
    while let Some(joined) = set.join_next().await {
        out.extend(joined.unwrap_or_default());
    }
    out
}

/// One batch of an account's volumes, start to end; the locks are released when it returns.
async fn run_batch(
    batch: Vec<Group>,
    target: &Target,
    opts: &Options,
    verdict: &Verdict,
    now: Timestamp,
) -> Vec<((usize, usize), UnitRun)> {
    let p = target.provider.as_ref();
    let mut out = Vec::new();
    if crate::interrupt::requested() {
        for w in batch.into_iter().flat_map(|g| g.units) {
            let mut run = UnitRun::of(&w.unit);
            run.status = UnitStatus::Skipped;
            out.push((w.slot, run));
        }
        return out;
    }
    let mut locks =
        futures_util::future::join_all(batch.iter().map(|g| volume_lock(p, &g.volume, opts))).await;
    // A volume another run (a second copy of the file, rotate) began to change after this run
    // listed it is listed again, now that no one else can change it: is the tick still due?
    let stale: Vec<String> = batch
        .iter()
        .zip(&locks)
        .filter(|(_, l)| {
            l.as_ref().is_ok_and(|l| {
                l.changed_at()
                    .is_some_and(|t| t >= opts.listed_at - jiff::SignedDuration::from_secs(1))
            })
        })
        .map(|(g, _)| g.volume.clone())
        .collect();
    let relisted = list_again(p, stale).await;
    let ready = ready_units(batch, &mut locks, &relisted, p, now, &mut out);
    // Pre-hooks and creates, volume by volume within the account's limit.
    let mut started: Vec<Started> =
        futures_util::future::join_all(ready.into_iter().map(|units| async move {
            let _turn = target.volumes.clone().acquire_owned().await;
            let mut done = Vec::new();
            for w in units {
                done.push(start_unit(w, target).await);
            }
            done
        }))
        .await
        .into_iter()
        .flatten()
        .collect();
    confirm_creates(p, &mut started, opts).await;
    list_created_as_kept(&mut started);
    // Post-hooks (after every pre-hook that ran), repairs, the gate and the deletions.
    let finished = futures_util::future::join_all(started.into_iter().map(|u| async move {
        let _turn = target.volumes.clone().acquire_owned().await;
        let slot = u.work.slot;
        (slot, finish_unit(u, target, opts, verdict).await)
    }))
    .await;
    out.extend(finished);
    drop(locks);
    out
}

/// The batch's units that still change something once their volume is locked: a unit whose
/// lock failed, or whose volume could not be listed again, is reported failed (into `out`); a
/// volume another run changed is planned again from its fresh listing (never deleting more than
/// before). Each volume's units, in order.
fn ready_units(
    batch: Vec<Group>,
    locks: &mut [std::result::Result<crate::lock::VolumeLock, Arc<crate::error::Error>>],
    relisted: &std::collections::BTreeMap<String, Result<Vec<Snapshot>>>,
    p: &dyn Provider,
    now: Timestamp,
    out: &mut Vec<((usize, usize), UnitRun)>,
) -> Vec<Vec<Work>> {
    let mut ready: Vec<Vec<Work>> = Vec::new();
    for (g, lock) in batch.into_iter().zip(locks.iter_mut()) {
        let mut units = Vec::new();
        for w in g.units {
            let lock = match lock {
                Ok(lock) => lock,
                Err(e) => {
                    let mut run = UnitRun::of(&w.unit);
                    run.fail(Failure {
                        op: "lock",
                        id: None,
                        error: e.to_string(),
                        cause: Some(e.clone()),
                    });
                    out.push((w.slot, run));
                    continue;
                }
            };
            let unit = match relisted.get(&g.volume) {
                None => w.unit,
                Some(Err(e)) => {
                    let mut run = UnitRun::of(&w.unit);
                    run.fail(Failure {
                        op: "list",
                        id: None,
                        error: format!("cannot list the volume again under its lock: {e}"),
                        cause: None,
                    });
                    out.push((w.slot, run));
                    continue;
                }
                Some(Ok(listed)) => {
                    let fresh = w.rules.replan(p.kind(), &w.unit, listed.clone(), now);
                    unit::narrow(&w.unit, fresh)
                }
            };
            if !has_changes(&unit) {
                out.push((w.slot, UnitRun::of(&unit)));
                continue;
            }
            // Before the first change: a run that listed this volume earlier lists it again.
            lock.mark_changed();
            units.push(Work { unit, ..w });
        }
        if !units.is_empty() {
            ready.push(units);
        }
    }
    ready
}

/// New snapshots confirmed at once (one listing on OUTSCALE and PowerVC). Without `confirm`,
/// none is, and no deletion counts on one (the gate). A create that never became usable stops
/// its unit: every older snapshot is kept.
async fn confirm_creates(p: &dyn Provider, started: &mut [Started], opts: &Options) {
    let waiting: Vec<usize> = (0..started.len())
        .filter(|k| opts.confirm && started[*k].op.is_some())
        .collect();
    let awaited: Vec<Awaited> = waiting
        .iter()
        .map(|k| Awaited {
            volume: Some(started[*k].run.volume_id.clone()),
            op: started[*k]
                .op
                .clone()
                .expect("only started creates are awaited"),
        })
        .collect();
    let wants = |n: usize| started[waiting[n]].work.rules.plans_after_create();
    let (results, mut seen) = wait_for_all_seen(p, &awaited, &opts.wait, &wants).await;
    let mut after: Vec<(usize, Option<Vec<Snapshot>>)> = Vec::new();
    for (n, (k, result)) in waiting.into_iter().zip(results).enumerate() {
        let u = &mut started[k];
        u.op = None;
        match result {
            Ok(()) => {
                u.confirmed = true;
                if let Some(s) = &mut u.run.snapshot {
                    s.state = SnapshotState::Available;
                }
                if u.work.rules.plans_after_create() {
                    after.push((k, seen[n].take()));
                }
            }
            Err(e) => {
                // Not usable: keep every older snapshot of that unit.
                let id = u.run.created.as_ref().map(|c| c.id.clone());
                u.stop(Failure::of("create", id, e));
            }
        }
    }
    plan_after_create(p, started, after).await;
}

/// The new snapshot is listed among the kept ones: where the plan listed it, with its reasons,
/// or first, as taken by this run.
fn list_created_as_kept(started: &mut [Started]) {
    for u in started {
        if let Some(c) = &u.run.created
            && !u.stopped
            && !u.replanned
        {
            let unit = &u.work.unit;
            let planned = unit
                .keep
                .iter()
                .position(|k| unit.create.as_deref() == Some(k.entry.id.as_str()));
            let (at, reasons) = match planned {
                Some(i) => (i, unit.keep[i].reasons.clone()),
                None => (0, vec!["taken by this run".to_string()]),
            };
            u.run.kept.insert(
                at.min(u.run.kept.len()),
                Kept {
                    entry: c.clone(),
                    reasons,
                },
            );
        }
    }
}

/// Units whose rules plan after the create, planned again from what their volume holds now
/// (the listing that confirmed the new snapshot where there is one, one listing of the others):
/// the new snapshot is counted at its own creation time, as it really is. A unit never deletes
/// more than the plan the run's verdict was judged on: extra deletions wait for a later run.
async fn plan_after_create(
    p: &dyn Provider,
    started: &mut [Started],
    after: Vec<(usize, Option<Vec<Snapshot>>)>,
) {
    let unseen: Vec<String> = after
        .iter()
        .filter(|(_, seen)| seen.is_none())
        .map(|(k, _)| started[*k].work.unit.volume_id.clone())
        .collect();
    let mut listed = list_again(p, unseen).await;
    for (k, seen) in after {
        let u = &mut started[k];
        let listing = match seen {
            Some(l) => Ok(l),
            None => listed
                .remove(&u.work.unit.volume_id)
                .unwrap_or_else(|| Ok(Vec::new())),
        };
        let listing = match listing {
            Ok(l) => l,
            Err(e) => {
                // Taken, but what to delete cannot be known: nothing is.
                u.stop(Failure::of("list", None, e));
                continue;
            }
        };
        if let Some(created) = &u.run.created
            && u.work.rules.reports_snapshot()
            && let Some(s) = listing.iter().find(|s| s.id == created.id)
        {
            u.run.snapshot = Some(Box::new(s.clone()));
        }
        let mut taken = u.work.unit.clone();
        taken.create = None;
        let mut fresh = u
            .work
            .rules
            .replan(p.kind(), &taken, listing, Timestamp::now());
        let cap = u.work.unit.delete.len();
        if fresh.delete.len() > cap {
            // Newest first: the newest extras are the ones kept.
            let extra: Vec<_> = fresh.delete.drain(..fresh.delete.len() - cap).collect();
            unit::hold_into(
                extra,
                &mut fresh.keep,
                "beyond the deletions this run's --max-delete judged; a later run deletes it",
            );
        }
        u.run.kept = fresh.keep.clone();
        u.run.planned = fresh.delete.iter().map(|d| d.entry.clone()).collect();
        u.run.owned = fresh.owned;
        u.run.newest = fresh.newest;
        u.replanned = true;
        u.work.unit = fresh;
    }
}

/// `volumes` listed again, each listing (or its error) by volume; no request for none.
async fn list_again(
    p: &dyn Provider,
    volumes: Vec<String>,
) -> std::collections::BTreeMap<String, Result<Vec<Snapshot>>> {
    if volumes.is_empty() {
        return Default::default();
    }
    let lists = p.list_snapshots_of(&volumes).await;
    volumes.into_iter().zip(lists).collect()
}

/// Take the volume's lock (shared by every run, so two never work on one volume at once).
async fn volume_lock(
    p: &dyn Provider,
    volume: &str,
    opts: &Options,
) -> std::result::Result<crate::lock::VolumeLock, Arc<Error>> {
    crate::lock::acquire_async(
        &opts.lock_dir,
        p.kind().as_str(),
        &p.scope(),
        volume,
        opts.lock_wait,
    )
    .await
    .map_err(Arc::new)
}

/// A unit after its create was sent (or was not due, or it stopped).
struct Started {
    work: Work,
    run: UnitRun,
    /// The create to wait for.
    op: Option<crate::model::Operation>,
    /// The new snapshot was confirmed usable.
    confirmed: bool,
    /// The unit was planned again after its create: its plan counts the new snapshot.
    replanned: bool,
    /// The pre-hook succeeded (or there is none) and a create was due: `post` must run.
    hooked: bool,
    /// Nothing more to do but `post` (a failed step, or an interrupt).
    stopped: bool,
}

impl Started {
    fn stop(&mut self, f: Failure) {
        self.run.fail(f);
        self.stopped = true;
    }

    fn skip(&mut self) {
        self.run.status = UnitStatus::Skipped;
        self.stopped = true;
    }
}

fn hook_env(
    rules: &dyn Rules,
    kind: ProviderKind,
    unit: &Unit,
    phase: &str,
) -> Vec<(&'static str, String)> {
    vec![
        ("SNAPCTL_POLICY", rules.id().to_string()),
        ("SNAPCTL_PROVIDER", kind.to_string()),
        ("SNAPCTL_VOLUME_ID", unit.volume_id.clone()),
        (
            "SNAPCTL_VOLUME_NAME",
            unit.volume_name.clone().unwrap_or_default(),
        ),
        ("SNAPCTL_HOOK", phase.to_string()),
    ]
}

/// The first half of a unit: the pre-hook and the create request. No create is sent once an
/// interrupt arrived, even after its pre-hook ran (whose `post` then runs).
async fn start_unit(work: Work, target: &Target) -> Started {
    let p = target.provider.clone();
    let mut s = Started {
        run: UnitRun::of(&work.unit),
        work,
        op: None,
        confirmed: false,
        replanned: false,
        hooked: false,
        stopped: false,
    };
    if crate::interrupt::requested() {
        s.skip();
        return s;
    }
    if s.work.unit.create.is_none() {
        return s;
    }
    let rules = s.work.rules.clone();
    let hooks = rules.hooks();
    if let Some(pre) = hooks.pre
        && let Err(e) = hook::execute(
            pre,
            &hook_env(rules.as_ref(), p.kind(), &s.work.unit, "pre"),
            hooks.pass,
            hooks.timeout,
        )
        .await
    {
        // A failed pre-hook: no snapshot, and nothing of this volume is deleted.
        s.stop(Failure {
            op: "pre",
            id: None,
            error: e,
            cause: None,
        });
        return s;
    }
    s.hooked = true;
    if crate::interrupt::requested() {
        s.skip();
        return s;
    }
    let req = rules.request(p.kind(), &s.work.unit);
    match crate::provider::create_snapshot_once(p.as_ref(), &req).await {
        Ok((snap, op)) => {
            let created = Entry {
                id: snap.id.clone(),
                name: snap.name.clone().or(req.name.clone()),
                created_at: snap.created_at.or(Some(Timestamp::now())),
            };
            s.run.owned += 1;
            s.run.newest = created.created_at.max(s.run.newest);
            s.run.created = Some(created);
            s.run.snapshot = rules.reports_snapshot().then(|| Box::new(snap));
            s.op = Some(op);
        }
        Err(e) => s.stop(Failure::of("create", None, e)),
    }
    s
}

/// The second half of a unit: the post-hook whenever its pre-hook ran (after a failed create, a
/// wait that timed out or an interrupt too), then, unless a step failed, the repairs and the
/// deletions the run's verdict and the safety gate let through.
async fn finish_unit(s: Started, target: &Target, opts: &Options, verdict: &Verdict) -> UnitRun {
    let mut run = s.run;
    let rules = s.work.rules;
    let mut unit = s.work.unit;
    let p = target.provider.clone();
    let hooks = rules.hooks();
    if s.hooked
        && let Some(post) = hooks.post
        && let Err(e) = hook::execute(
            post,
            &hook_env(rules.as_ref(), p.kind(), &unit, "post"),
            hooks.pass,
            hooks.timeout,
        )
        .await
    {
        // The snapshot exists (or not); the post-hook's failure is reported, deletions still run.
        run.fail(Failure {
            op: "post",
            id: None,
            error: e,
            cause: None,
        });
    }
    if s.stopped {
        return run;
    }
    for r in &unit.repair {
        let req = crate::model::SnapshotUpdate {
            volume: Some(unit.volume_id.clone()),
            snapshot: r.entry.id.clone(),
            name: Some(r.new_name.clone()),
            description: None,
        };
        match p.update_snapshot(&req).await {
            Ok(_) => run.repaired.push(r.entry.id.clone()),
            // Reported; the name is not what ownership rests on, so deletions go on.
            Err(e) => run.fail(Failure::of("repair", Some(r.entry.id.clone()), e)),
        }
    }
    if unit.delete.is_empty() {
        return run;
    }
    // The whole run's deletions are judged once every account is planned.
    if let Some(why) = verdict.refusal().await {
        unit::hold_into(std::mem::take(&mut unit.delete), &mut run.kept, &why);
        return run;
    }
    // A due snapshot that was not confirmed is not counted on; a plan made after the create
    // counts it already.
    let created = run.created.as_ref().filter(|_| s.confirmed && !s.replanned);
    if let Err(why) = unit::gate(rules.floor(), &unit, created) {
        run.fail(Failure::of(
            "delete",
            None,
            Error::Refused {
                reason: why,
                hint: None,
            },
        ));
        return run;
    }
    let targets: Vec<(Option<String>, String)> = unit
        .delete
        .iter()
        .map(|d| (Some(unit.volume_id.clone()), d.entry.id.clone()))
        .collect();
    let ended = delete::snapshots(
        &p,
        &targets,
        Some(&unit.volume_id),
        &target.in_flight,
        opts.confirm.then_some(&opts.wait),
    )
    .await;
    for (d, ended) in unit.delete.iter().zip(ended) {
        match ended {
            Deletion::Deleted(_) => {
                run.deleted.push(d.entry.clone());
                run.owned = run.owned.saturating_sub(1);
            }
            Deletion::Failed(e) => run.fail(Failure::of("delete", Some(d.entry.id.clone()), e)),
            Deletion::Skipped => {
                run.skipped.push(d.entry.clone());
                if run.status == UnitStatus::Ok {
                    run.status = UnitStatus::Skipped;
                }
            }
        }
    }
    run
}
