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

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use super::outcome::{Failure, UnitRun, UnitStatus};
use super::plan::{KeptEntry, PlanEntry, Unit};
use crate::engine::delete::{self, Deletion};
use crate::error::{Error, Result};
use crate::kind::ProviderKind;
use crate::model::{CreateSnapshot, Snapshot, SnapshotState};
use crate::provider::Provider;
use crate::wait::{Awaited, WaitOptions, wait_for_all_seen};

/// What one policy (or one `rotate`) decides that the engine does not: how its units are planned
/// again under the lock, what its create request is, its floor and its hooks.
pub trait Rules: Send + Sync {
    /// The policy id (`SNAPCTL_POLICY` for hooks).
    fn id(&self) -> &str;
    /// The create request of a unit's due snapshot, sent once per unit.
    fn request(&self, kind: ProviderKind, unit: &Unit) -> CreateSnapshot;
    /// The unit planned again from a listing of its volume taken under the volume's lock.
    fn replan(
        &self,
        kind: ProviderKind,
        unit: &Unit,
        listed: Vec<Snapshot>,
        now: Timestamp,
    ) -> Unit;
    /// Owned snapshots that must remain after a unit's deletions, the new one counted (at least 1).
    fn floor(&self) -> usize;
    /// The hooks around a unit's create.
    fn hooks(&self) -> Hooks<'_> {
        Hooks::default()
    }
    /// Plan a unit's deletions again from what its volume holds once its new snapshot is
    /// confirmed (`rotate`, whose plan counts the new snapshot at the cloud's own creation time,
    /// as its buckets do). A policy's plan rests on its marks' ticks and needs no second look.
    fn plans_after_create(&self) -> bool {
        false
    }
    /// Keep the new snapshot as the API described it ([`UnitRun::snapshot`]) for the report
    /// (`rotate` prints it whole; a fleet report names it, and holds thousands).
    fn reports_snapshot(&self) -> bool {
        false
    }
}

/// A policy's hooks: `pre` before a due snapshot's create, `post` after it (whenever `pre` ran).
#[derive(Debug, Default, Clone, Copy)]
pub struct Hooks<'a> {
    /// Run before the create.
    pub pre: Option<&'a str>,
    /// Run after the create (confirmed, failed or interrupted), whenever `pre` ran.
    pub post: Option<&'a str>,
    /// Environment variables passed on to hooks.
    pub pass: &'a [String],
    /// Each hook's time limit.
    pub timeout: Duration,
}

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

/// How the engine carries units out.
#[derive(Debug, Clone)]
pub struct Options {
    /// Polling for creates and deletions.
    pub wait: WaitOptions,
    /// Confirm every create before the deletions, then the deletions. Without it nothing is
    /// waited for, and no deletion counts on a new snapshot (the gate leaves it out).
    pub confirm: bool,
    /// Volume locks (shared by `rotate` and `policy apply`).
    pub lock_dir: std::path::PathBuf,
    /// How long to wait for a volume's lock.
    pub lock_wait: Duration,
    /// When this run began listing the volumes its plan rests on: a volume whose lock records a
    /// change since then is listed again under the lock before anything is done to it.
    pub listed_at: Timestamp,
}

/// Whether the run's deletions may go ahead. A fleet run's `--max-delete` counts the whole run's
/// deletions, so it is decided once every account is planned: deletions wait for it, creates do
/// not. `rotate` knows it before it starts.
#[derive(Clone)]
pub enum Verdict {
    /// Decided: why the deletions are refused (`None`: they may go ahead).
    Known(Option<String>),
    /// Decided later, on this channel.
    Pending(tokio::sync::watch::Receiver<Option<Option<String>>>),
}

impl Verdict {
    /// Why the run's deletions are refused, once that is known (`None`: they may go ahead).
    pub(crate) async fn refusal(&self) -> Option<String> {
        match self {
            Verdict::Known(v) => v.clone(),
            Verdict::Pending(rx) => {
                let mut rx = rx.clone();
                match rx.wait_for(Option::is_some).await {
                    Ok(v) => v.clone().flatten(),
                    Err(_) => {
                        Some("the run's deletions were never checked against --max-delete".into())
                    }
                }
            }
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
                    super::plan::narrow(&w.unit, fresh)
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
                KeptEntry {
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
            super::plan::hold_into(
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
        && let Err(e) = super::hook::execute(
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
            let created = PlanEntry {
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
        && let Err(e) = super::hook::execute(
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
        super::plan::hold_into(std::mem::take(&mut unit.delete), &mut run.kept, &why);
        return run;
    }
    // A due snapshot that was not confirmed is not counted on; a plan made after the create
    // counts it already.
    let created = run.created.as_ref().filter(|_| s.confirmed && !s.replanned);
    if let Err(why) = super::plan::gate(rules.floor(), &unit, created) {
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

/// The engine's rules, tested in-process over the memory cloud: milliseconds, no wire.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::rotate::RotateRules;
    use crate::providers::memory::Memory;
    use crate::rotation::plan::Policy;

    /// `rotate`'s rules with hooks of a test's choosing.
    struct Hooked {
        inner: RotateRules,
        pre: Option<String>,
        post: Option<String>,
    }

    impl Rules for Hooked {
        fn id(&self) -> &str {
            "test"
        }
        fn request(&self, kind: ProviderKind, unit: &Unit) -> CreateSnapshot {
            self.inner.request(kind, unit)
        }
        fn replan(&self, k: ProviderKind, u: &Unit, l: Vec<Snapshot>, now: Timestamp) -> Unit {
            self.inner.replan(k, u, l, now)
        }
        fn floor(&self) -> usize {
            self.inner.floor()
        }
        fn hooks(&self) -> Hooks<'_> {
            Hooks {
                pre: self.pre.as_deref(),
                post: self.post.as_deref(),
                pass: &[],
                timeout: Duration::from_secs(10),
            }
        }
        fn plans_after_create(&self) -> bool {
            self.inner.plans_after_create()
        }
        fn reports_snapshot(&self) -> bool {
            self.inner.reports_snapshot()
        }
    }

    fn keep_last(n: usize) -> Policy {
        Policy {
            keep_last: Some(n),
            ..Policy::default()
        }
    }

    fn hooked(confirm: bool, pre: Option<&str>, post: Option<&str>) -> Arc<dyn Rules> {
        Arc::new(Hooked {
            inner: RotateRules::new("snapctl-", keep_last(2), confirm),
            pre: pre.map(str::to_string),
            post: post.map(str::to_string),
        })
    }

    /// A memory cloud whose volumes each hold three old `snapctl-` snapshots, a day apart.
    fn cloud(volumes: &[&str]) -> Arc<Memory> {
        let m = Memory::new(volumes);
        let now = Timestamp::now();
        for v in volumes {
            for d in [3, 2, 1] {
                let at = now - jiff::SignedDuration::from_hours(24 * d);
                m.add(v, &format!("snapctl-old{d}"), None, at);
            }
        }
        Arc::new(m)
    }

    struct Run {
        dir: tempfile::TempDir,
        listed_at: Timestamp,
        verdict: Verdict,
        confirm: bool,
    }

    impl Run {
        fn new(confirm: bool) -> Run {
            Run {
                dir: tempfile::tempdir().expect("tempdir"),
                listed_at: Timestamp::now(),
                verdict: Verdict::Known(None),
                confirm,
            }
        }

        /// Plan every volume of `m` with `rules` (as `rotate` does), then carry the plan out.
        async fn go(
            &self,
            m: &Arc<Memory>,
            rules: &Arc<dyn Rules>,
            edit: impl Fn(&mut Unit),
        ) -> Vec<UnitRun> {
            let volumes: Vec<String> = m
                .list_volumes()
                .await
                .expect("volumes")
                .into_iter()
                .map(|v| v.id)
                .collect();
            let lists = m.list_snapshots_of(&volumes).await;
            let now = Timestamp::now();
            let work: Vec<Work> = volumes
                .iter()
                .zip(lists)
                .enumerate()
                .map(|(j, (v, l))| {
                    let mut unit = rules.replan(
                        ProviderKind::OvhEfs,
                        &Unit {
                            create: Some("due".into()),
                            ..Unit::empty(v, None)
                        },
                        l.expect("listing"),
                        now,
                    );
                    edit(&mut unit);
                    Work {
                        slot: (0, j),
                        rules: rules.clone(),
                        unit,
                    }
                })
                .collect();
            m.state.lock().expect("state").log.clear();
            let opts = Options {
                wait: WaitOptions::new(Duration::from_secs(5), Duration::from_millis(1), true),
                confirm: self.confirm,
                lock_dir: self.dir.path().to_path_buf(),
                lock_wait: Duration::ZERO,
                listed_at: self.listed_at,
            };
            let mut out = carry_out(
                Target::new(m.clone(), 4),
                work,
                Arc::new(opts),
                self.verdict.clone(),
                Arc::new(Semaphore::new(64)),
                now,
            )
            .await;
            out.sort_by_key(|(slot, _)| *slot);
            out.into_iter().map(|(_, r)| r).collect()
        }
    }

    fn at(log: &[String], prefix: &str) -> Option<usize> {
        log.iter().position(|l| l.starts_with(prefix))
    }

    #[tokio::test]
    async fn a_create_is_confirmed_before_any_deletion_and_the_plan_is_carried_out() {
        let m = cloud(&["v1"]);
        m.state.lock().expect("state").settle_after = 2;
        let runs = Run::new(true)
            .go(&m, &hooked(true, None, None), |_| {})
            .await;
        let log = m.log();
        let create = at(&log, "create v1").expect("a create");
        let delete = at(&log, "delete").expect("a deletion");
        // Looked at (listed) until usable, after the create and before the first deletion.
        assert!(
            log[create..delete]
                .iter()
                .filter(|l| *l == "list v1")
                .count()
                >= 3,
            "{log:?}"
        );
        // keep-last 2: the new snapshot and the newest old one stay.
        let r = &runs[0];
        assert_eq!(r.status, UnitStatus::Ok, "{:?}", r.failures);
        let deleted: Vec<&str> = r
            .deleted
            .iter()
            .map(|e| e.name.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(deleted, ["snapctl-old2", "snapctl-old3"]);
        assert_eq!(m.ids("v1").len(), 2);
        assert_eq!(
            r.snapshot.as_ref().map(|s| s.state),
            Some(SnapshotState::Available)
        );
    }

    #[tokio::test]
    async fn without_confirm_nothing_is_waited_for_and_no_deletion_counts_on_the_new_one() {
        let m = cloud(&["v1"]);
        m.state.lock().expect("state").settle_after = 100;
        let runs = Run::new(false)
            .go(&m, &hooked(false, None, None), |_| {})
            .await;
        let log = m.log();
        assert!(
            !log.iter()
                .any(|l| l.starts_with("poll") || l.starts_with("get")),
            "{log:?}"
        );
        // The new one is still being made: keep-last 2 keeps the two newest old ones.
        let deleted: Vec<&str> = runs[0]
            .deleted
            .iter()
            .map(|e| e.name.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(deleted, ["snapctl-old3"]);
    }

    #[tokio::test]
    async fn a_refused_create_deletes_nothing_of_its_volume_and_the_others_go_on() {
        let m = cloud(&["v1", "v2"]);
        m.state
            .lock()
            .expect("state")
            .refuse_create
            .insert("v1".into());
        let runs = Run::new(true)
            .go(&m, &hooked(true, None, None), |_| {})
            .await;
        assert_eq!(runs[0].status, UnitStatus::Failed);
        assert_eq!(runs[0].failures[0].op, "create");
        assert!(runs[0].deleted.is_empty());
        assert_eq!(m.ids("v1").len(), 3);
        assert_eq!(runs[1].status, UnitStatus::Ok);
        assert_eq!(runs[1].deleted.len(), 2);
    }

    #[tokio::test]
    async fn the_gate_stops_a_plan_that_deletes_the_newest_whatever_made_it() {
        let m = cloud(&["v1"]);
        let runs = Run::new(true)
            .go(&m, &hooked(true, None, None), |u| {
                // A plan gone wrong: no create, and every old snapshot deleted.
                u.create = None;
                for k in std::mem::take(&mut u.keep) {
                    u.delete.push(super::super::plan::Doomed {
                        entry: k.entry,
                        reason: "a bug".into(),
                    });
                }
            })
            .await;
        assert!(
            !m.log().iter().any(|l| l.starts_with("delete")),
            "{:?}",
            m.log()
        );
        assert_eq!(runs[0].failures[0].op, "delete");
        assert!(runs[0].failures[0].error.contains("nothing deleted"));
        assert_eq!(m.ids("v1").len(), 3);
    }

    #[tokio::test]
    async fn a_refused_verdict_holds_every_deletion_but_takes_the_due_snapshots() {
        let m = cloud(&["v1"]);
        let mut run = Run::new(true);
        run.verdict = Verdict::Known(Some("--max-delete 0 refused the deletions".into()));
        let runs = run.go(&m, &hooked(true, None, None), |_| {}).await;
        let log = m.log();
        assert!(at(&log, "create v1").is_some());
        assert!(at(&log, "delete").is_none(), "{log:?}");
        assert!(
            runs[0]
                .kept
                .iter()
                .any(|k| k.reasons[0].contains("--max-delete 0"))
        );
        assert_eq!(m.ids("v1").len(), 4);
    }

    #[tokio::test]
    async fn a_held_lock_changes_nothing_and_says_who_holds_it() {
        let m = cloud(&["v1"]);
        let run = Run::new(true);
        let held = crate::lock::acquire(run.dir.path(), "ovh-efs", "memory", "v1", Duration::ZERO)
            .expect("lock");
        let runs = run.go(&m, &hooked(true, None, None), |_| {}).await;
        drop(held);
        assert_eq!(runs[0].failures[0].op, "lock");
        assert!(matches!(
            runs[0].failures[0].cause.as_deref(),
            Some(Error::Locked { .. })
        ));
        assert!(m.log().is_empty(), "{:?}", m.log());
    }

    #[tokio::test]
    async fn a_volume_another_run_changed_since_the_listing_is_listed_again_under_its_lock() {
        let m = cloud(&["v1"]);
        let mut run = Run::new(true);
        run.listed_at = Timestamp::now() - jiff::SignedDuration::from_secs(60);
        // Another run changed the volume after this run's listing: it took a snapshot.
        m.add("v1", "snapctl-other", None, Timestamp::now());
        let mut other =
            crate::lock::acquire(run.dir.path(), "ovh-efs", "memory", "v1", Duration::ZERO)
                .expect("lock");
        other.mark_changed();
        drop(other);
        let runs = run
            .go(&m, &hooked(true, None, None), |u| {
                // This run's plan was made before that snapshot existed: it deletes nothing.
                for d in std::mem::take(&mut u.delete) {
                    u.keep.push(KeptEntry {
                        entry: d.entry,
                        reasons: vec!["planned earlier".into()],
                    });
                }
            })
            .await;
        let log = m.log();
        // Listed again before anything was changed.
        assert_eq!(log.first().map(String::as_str), Some("list v1"), "{log:?}");
        assert!(at(&log, "create v1").is_some());
        // Only the deletions both plans agree on go: none.
        assert!(at(&log, "delete").is_none(), "{log:?}");
        assert_eq!(runs[0].status, UnitStatus::Ok);
    }

    #[tokio::test]
    async fn a_failed_pre_hook_takes_nothing_and_post_follows_every_pre_that_ran() {
        let m = cloud(&["v1"]);
        let runs = Run::new(true)
            .go(&m, &hooked(true, Some("exit 3"), Some("true")), |_| {})
            .await;
        assert_eq!(runs[0].failures[0].op, "pre");
        assert!(m.log().is_empty(), "{:?}", m.log());
        // A create that fails after its pre-hook ran: post runs all the same.
        let dir = tempfile::tempdir().expect("tempdir");
        let mark = dir.path().join("post-ran");
        let post = format!("touch '{}'", mark.display());
        m.state
            .lock()
            .expect("state")
            .refuse_create
            .insert("v1".into());
        let runs = Run::new(true)
            .go(&m, &hooked(true, Some("true"), Some(&post)), |_| {})
            .await;
        assert_eq!(runs[0].failures[0].op, "create");
        assert!(mark.exists(), "post did not run after a failed create");
        assert!(at(&m.log(), "delete").is_none());
    }
}
