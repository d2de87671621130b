//! The I/O of fleet mode: read the clouds and plan ([`plan_all`]), carry a plan out ([`apply`]),
//! then write the JSON report and the Prometheus textfile ([`metrics`]).
//!
//! One unit is one policy on one volume. A unit whose listing, pre-hook or create failed deletes
//! nothing; the other units go on. Policies run concurrently; within a provider connection
//! (one account) volumes share its rate limiter, its in-flight cap and a concurrency limit.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::outcome::{PolicyStatus, RunReport, policy_status, report_with};
use super::plan::{Compiled, FleetPlan, PLAN_SCHEMA, PolicyPlan, plan_unit};
use crate::engine::Target;
use crate::engine::outcome::{UnitRun, UnitStatus};
use crate::engine::rules::{Rules, Verdict};
use crate::engine::unit::{Unit, hold_deletions};
use crate::engine::{self, Work, lock_budget};
use crate::kind::ProviderKind;
use crate::model::{CreateSnapshot, Snapshot};
use crate::wait::WaitOptions;

/// Plan every policy at `now`, concurrently. A policy whose connection or volume listing failed
/// has an `error` and no units; one selecting a number of volumes outside `expect_volumes`, or
/// deleting more than its `max_delete`, is `refused`.
pub async fn plan_all(
    compiled: Arc<Vec<Compiled>>,
    targets: Vec<(usize, std::result::Result<Target, String>)>,
    now: Timestamp,
) -> FleetPlan {
    let mut set = JoinSet::new();
    let n = targets.len();
    let order: Vec<usize> = targets.iter().map(|(i, _)| *i).collect();
    for (slot, (i, target)) in targets.into_iter().enumerate() {
        let compiled = compiled.clone();
        set.spawn(async move { (slot, plan_policy(&compiled, i, target, now).await) });
    }
    let mut slots: Vec<Option<PolicyPlan>> = (0..n).map(|_| None).collect();
    while let Some(Ok((slot, p))) = set.join_next().await {
        slots[slot] = Some(p);
    }
    FleetPlan {
        file_sha256: None,
        schema: PLAN_SCHEMA.into(),
        at: Some(now),
        policies: slots
            .into_iter()
            .zip(order)
            .map(|(p, i)| {
                p.unwrap_or_else(|| {
                    empty_plan(
                        &compiled[i],
                        None,
                        "planning stopped unexpectedly".into(),
                        now,
                    )
                })
            })
            .collect(),
    }
}

/// The plan of a policy that could not be planned: its cadence is still the file's.
fn empty_plan(
    c: &Compiled,
    provider: Option<crate::kind::ProviderKind>,
    error: String,
    now: Timestamp,
) -> PolicyPlan {
    PolicyPlan {
        id: c.policy.id.clone(),
        provider,
        selected: 0,
        interval_seconds: c.cadence.interval(now, &c.timezone).as_secs().max(0) as u64,
        refused: None,
        deletions_refused: None,
        error: Some(error),
        units: vec![],
        drills: vec![],
        drill_cleanups: vec![],
        drill_suspects: vec![],
        drill_error: None,
        copies: vec![],
    }
}

async fn plan_policy(
    all: &[Compiled],
    i: usize,
    target: std::result::Result<Target, String>,
    now: Timestamp,
) -> PolicyPlan {
    let c = &all[i];
    let target = match target {
        Ok(t) => t,
        Err(e) => return empty_plan(c, c.policy.provider, e, now),
    };
    let p = target.provider.as_ref();
    let kind = p.kind();
    // Tags are filtered by the API where it can (OUTSCALE, Cinder); `selects` still checks all.
    let volumes = match p.list_volumes_tagged(&c.policy.select.tags).await {
        Ok(v) => v,
        Err(e) => {
            return empty_plan(c, Some(kind), format!("cannot list volumes: {e}"), now);
        }
    };
    // Drill leftovers come from this listing when it is the whole account's.
    let whole = c.policy.select.tags.is_empty();
    let left = super::drill::leftovers(p, c, whole.then_some(volumes.as_slice())).await;
    let selected: Vec<_> = volumes.into_iter().filter(|v| c.selects(v)).collect();
    let mut out = PolicyPlan {
        id: c.policy.id.clone(),
        provider: Some(kind),
        selected: selected.len(),
        interval_seconds: c.cadence.interval(now, &c.timezone).as_secs().max(0) as u64,
        refused: None,
        deletions_refused: None,
        error: None,
        units: vec![],
        drills: vec![],
        drill_cleanups: vec![],
        drill_suspects: vec![],
        drill_error: None,
        copies: vec![],
    };
    if let Some(r) = c.expect
        && (selected.len() < r.min || r.max.is_some_and(|m| selected.len() > m))
    {
        out.refused = Some(format!(
            "the selector matches {} volumes, outside expect_volumes {}; nothing is changed for this policy",
            selected.len(),
            c.policy.expect_volumes.as_deref().unwrap_or("")
        ));
        return out;
    }
    let known: BTreeSet<&str> = all.iter().map(|c| c.policy.id.as_str()).collect();
    let ids: Vec<String> = selected.iter().map(|v| v.id.clone()).collect();
    let listed = p.list_snapshots_of(&ids).await;
    // Copies plan over the policy's own snapshots: kept aside only for a policy that copies.
    let for_copies = super::copy::owned(c, &ids, &listed);
    out.units = selected
        .iter()
        .zip(listed)
        .map(|(v, l)| plan_unit(c, &known, kind, v, l, now))
        .collect();
    if !c.copies.is_empty() {
        out.copies = super::copy::plan(p, c, for_copies, &out.units, now).await;
    }
    let drills = super::drill::plan(kind, (c, all), &selected, &out.units, left, now);
    out.drills = drills.drills;
    out.drill_cleanups = drills.cleanups;
    out.drill_suspects = drills.suspects;
    out.drill_error = drills.error;
    // A drill leftover's clean-up is a deletion like a snapshot's: it counts.
    let deletes: usize =
        out.units.iter().map(|u| u.delete.len()).sum::<usize>() + out.drill_cleanups.len();
    if let Some(max) = c.policy.max_delete
        && deletes > max
    {
        // A refused deletion must not cost a snapshot: the due ones are still taken.
        for u in &mut out.units {
            hold_deletions(u, &format!("max_delete {max} refused the deletions"));
        }
        out.deletions_refused = Some(format!(
            "the plan deletes {deletes} snapshots and drill volumes, more than max_delete {max}; nothing is deleted for this policy (due snapshots are still taken)"
        ));
    }
    out
}

/// What `apply` is allowed to do.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Refuse the whole run when it would delete more than this.
    pub max_delete: usize,
    /// Polling for creates and deletions.
    pub wait: WaitOptions,
    /// Volume locks (shared with `rotate`).
    pub lock_dir: std::path::PathBuf,
    /// How long to wait for a volume's lock.
    pub lock_wait: Duration,
    /// When this run began listing the volumes its plan rests on: a volume whose lock records a
    /// change since then is listed again under the lock before anything is done to it.
    pub listed_at: Timestamp,
}

impl ApplyOptions {
    /// What the engine needs of them: a fleet run confirms every create and deletion.
    fn engine(&self) -> engine::rules::Options {
        engine::rules::Options {
            wait: self.wait.clone(),
            confirm: true,
            lock_dir: self.lock_dir.clone(),
            lock_wait: self.lock_wait,
            listed_at: self.listed_at,
        }
    }
}

/// A policy of the file, as the engine's [`Rules`]: its mark, its floor and its hooks.
struct PolicyRules {
    compiled: Arc<Vec<Compiled>>,
    ci: usize,
}

impl PolicyRules {
    fn c(&self) -> &Compiled {
        &self.compiled[self.ci]
    }
}

impl Rules for PolicyRules {
    fn id(&self) -> &str {
        &self.c().policy.id
    }

    fn request(&self, kind: ProviderKind, unit: &Unit) -> CreateSnapshot {
        // Name and mark come from the policy and the tick, never from the plan's text.
        let tick = unit.due_since.unwrap_or_else(Timestamp::now);
        let mut req = super::mark::request(kind, self.id(), &unit.volume_id, tick);
        req.force = self.c().policy.force;
        req
    }

    fn replan(
        &self,
        kind: ProviderKind,
        unit: &Unit,
        listed: Vec<Snapshot>,
        now: Timestamp,
    ) -> Unit {
        let known: BTreeSet<&str> = self.compiled.iter().map(|c| c.policy.id.as_str()).collect();
        super::plan::replan(self.c(), &known, kind, unit, Ok(listed), now)
    }

    fn floor(&self) -> usize {
        self.c().min
    }

    fn hooks(&self) -> engine::rules::Hooks<'_> {
        let c = self.c();
        engine::rules::Hooks {
            pre: c.policy.pre.as_deref(),
            post: c.policy.post.as_deref(),
            pass: &c.policy.hook_env,
            timeout: c.hook_timeout,
        }
    }
}

/// Where the plan [`apply`] carries out comes from.
pub enum Planned {
    /// Planned now, account by account: each account starts changing its volumes as soon as its
    /// own listing is done, whatever the other accounts' listings still take.
    Live {
        /// Per policy (in the run's order): its index in `compiled` and its connection.
        targets: Vec<(usize, std::result::Result<Target, String>)>,
        /// The time it is planned at.
        at: Timestamp,
    },
    /// A plan made before (`apply --plan`, reconciled with a fresh one), with each policy's
    /// connection.
    Given(FleetPlan, Vec<Option<Target>>),
}

/// One account's share of a run: its policies (slots of the run's order) and how their plans
/// are made.
struct Account {
    target: Option<Target>,
    plan: AccountPlans,
}

/// An account's plans, each with its slot in the run's order, once made.
type AccountPlans =
    std::pin::Pin<Box<dyn std::future::Future<Output = Vec<(usize, PolicyPlan)>> + Send>>;

/// Policies grouped by account while a run is set up: the account's key (`None`: no
/// connection, alone), its connection, and its policies' slots and work.
type Grouping = Vec<(Option<usize>, Option<Target>, Vec<(usize, PolicyWork)>)>;

/// What one account's run did: its units (policy slot, unit slot), each policy's drills and
/// copies.
type AccountRun = (
    Vec<(usize, usize, UnitRun)>,
    Vec<(usize, super::drill::Outcome)>,
    Vec<(usize, super::copy::Outcome)>,
);

/// One account's units, each with its policy's rules, carried out by the engine.
async fn run_account(
    compiled: &Arc<Vec<Compiled>>,
    plans: &mut [(usize, PolicyPlan)],
    target: Target,
    opts: &ApplyOptions,
    verdict: Verdict,
    budget: Arc<Semaphore>,
    now: Timestamp,
) -> AccountRun {
    let mut work = Vec::new();
    for (i, p) in plans.iter_mut() {
        if p.error.is_some() || p.refused.is_some() {
            continue;
        }
        let Some(ci) = compiled.iter().position(|c| c.policy.id == p.id) else {
            continue;
        };
        let rules: Arc<dyn Rules> = Arc::new(PolicyRules {
            compiled: compiled.clone(),
            ci,
        });
        // The units the engine will change are moved to it, not copied: a unit's plan is held
        // once, by the engine while it runs, then in its outcome. What stays is a placeholder
        // (the report takes every such unit from its outcome).
        for (j, unit) in p.units.iter_mut().enumerate() {
            if unit.error.is_some() || !engine::has_changes(unit) {
                continue;
            }
            // The placeholder keeps the volume's id and name (copies list every volume).
            let placeholder = Unit::empty(&unit.volume_id, unit.volume_name.clone());
            work.push(Work {
                slot: (*i, j),
                rules: rules.clone(),
                unit: std::mem::replace(unit, placeholder),
            });
        }
    }
    let p = target.provider.clone();
    let held = verdict.clone();
    let runs = engine::carry_out(target, work, Arc::new(opts.engine()), verdict, budget, now)
        .await
        .into_iter()
        .map(|((i, j), run)| (i, j, run))
        .collect();
    let p = p.as_ref();
    let drills = drill_account(compiled, plans, p, opts, held, now).await;
    // Copies come last: this run's snapshots are among what they copy.
    let copies = copy_account(compiled, plans, p, opts, now).await;
    (runs, drills, copies)
}

/// An account's drills, once its snapshots are taken (so a drill restores the newest): its
/// policies drill at once, each its volumes a few at a time (`drill::DRILL_CONCURRENCY`).
async fn drill_account(
    compiled: &[Compiled],
    plans: &[(usize, PolicyPlan)],
    p: &dyn crate::provider::Provider,
    opts: &ApplyOptions,
    verdict: Verdict,
    now: Timestamp,
) -> Vec<(usize, super::drill::Outcome)> {
    // Drill leftovers' clean-ups are deletions: the run's --max-delete judges them too.
    let run_refused = if plans.iter().any(|(_, p)| !p.drill_cleanups.is_empty()) {
        verdict.refusal().await
    } else {
        None
    };
    let run_refused = run_refused.as_deref();
    let drill_opts = super::drill::Options {
        wait: opts.wait.clone(),
        lock_dir: opts.lock_dir.clone(),
        lock_wait: opts.lock_wait,
    };
    futures_util::future::join_all(plans.iter().filter_map(|(i, plan)| {
        if plan.error.is_some() || plan.refused.is_some() {
            return None;
        }
        if plan.drills.is_empty() && plan.drill_cleanups.is_empty() {
            return None;
        }
        let c = compiled.iter().find(|c| c.policy.id == plan.id)?;
        let drill_opts = &drill_opts;
        Some(async move {
            let refused = plan.deletions_refused.as_deref().or(run_refused);
            let work = (plan.drills.as_slice(), plan.drill_cleanups.as_slice());
            let outcome = super::drill::carry_out(p, c, work, drill_opts, refused, now).await;
            (*i, outcome)
        })
    }))
    .await
}

/// An account's copies in other Regions, each policy's over every volume it selected.
async fn copy_account(
    compiled: &[Compiled],
    plans: &[(usize, PolicyPlan)],
    p: &dyn crate::provider::Provider,
    opts: &ApplyOptions,
    now: Timestamp,
) -> Vec<(usize, super::copy::Outcome)> {
    futures_util::future::join_all(plans.iter().filter_map(|(i, plan)| {
        if plan.error.is_some() || plan.refused.is_some() || plan.copies.is_empty() {
            return None;
        }
        let c = compiled.iter().find(|c| c.policy.id == plan.id)?;
        // Every selected volume: a unit the engine took left its id behind.
        let volumes: Vec<String> = plan.units.iter().map(|u| u.volume_id.clone()).collect();
        Some(async move {
            let outcome =
                super::copy::carry_out(p, c, &volumes, &opts.wait, &opts.lock_dir, now).await;
            (*i, outcome)
        })
    }))
    .await
}

/// Carry a plan out, account by account at once: each account plans its policies (or takes them
/// from a saved plan), then works through its volumes in batches. Per batch: lock → list again
/// where stale → pre-hook → create → wait until usable → post-hook → repairs → the safety gate
/// → deletions → unlock. Refused and unplanned policies change nothing. The whole run's
/// deletions are refused when they would be more than `opts.max_delete` (due snapshots are still
/// taken); that is decided once every account is planned, so deletions wait for it, creates
/// never.
pub async fn apply(
    planned: Planned,
    compiled: Arc<Vec<Compiled>>,
    opts: ApplyOptions,
) -> RunReport {
    let started = Timestamp::now();
    let (policies, now, file_sha256, accounts) = accounts_of(planned, &compiled);
    let n = policies.len();
    let opts = Arc::new(opts);
    let (decide, verdict) = tokio::sync::watch::channel(None);
    let verdict = Verdict::Pending(verdict);
    let (planned_tx, mut planned_rx) = tokio::sync::mpsc::unbounded_channel();
    let budget = Arc::new(Semaphore::new(lock_budget()));
    let began = std::time::Instant::now();
    let mut set = JoinSet::new();
    let n_accounts = accounts.len();
    for account in accounts {
        let (compiled, opts, verdict) = (compiled.clone(), opts.clone(), verdict.clone());
        let (budget, planned_tx) = (budget.clone(), planned_tx.clone());
        set.spawn(async move {
            let mut plans = account.plan.await;
            // Only the count crosses over: the plans stay with their account until it is done.
            let deletes: usize = plans
                .iter()
                .filter(|(_, p)| p.refused.is_none())
                .map(|(_, p)| {
                    p.units.iter().map(|u| u.delete.len()).sum::<usize>()
                        + if p.deletions_refused.is_none() {
                            p.drill_cleanups.len()
                        } else {
                            0
                        }
                })
                .sum();
            let _ = planned_tx.send(deletes);
            drop(planned_tx);
            let (runs, drills, copies) = match account.target {
                Some(target) => {
                    run_account(&compiled, &mut plans, target, &opts, verdict, budget, now).await
                }
                None => (Vec::new(), Vec::new(), Vec::new()),
            };
            (plans, runs, drills, copies, began.elapsed())
        });
    }
    drop(planned_tx);
    // Every account planned (or gone): the run's deletions are counted and judged once.
    let (run_refused, held) = judge_deletions(&mut planned_rx, n_accounts, opts.max_delete).await;
    let _ = decide.send(Some(held.clone()));
    // Each unit's outcome goes straight to its (policy, unit) slot: no list of every outcome is
    // built and then copied into another (at 20,000 units each copy is megabytes).
    let mut ran: Vec<Vec<Option<UnitRun>>> = (0..n).map(|_| Vec::new()).collect();
    let mut drilled = Vec::new();
    let mut copied = Vec::new();
    let mut took = vec![began.elapsed(); n];
    let mut slots: Vec<Option<PolicyPlan>> = (0..n).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((plans, runs, drills, copies, elapsed)) = joined {
            for (slot, p) in plans {
                took[slot] = elapsed;
                ran[slot] = (0..p.units.len()).map(|_| None).collect();
                slots[slot] = Some(p);
            }
            for (i, j, run) in runs {
                ran[i][j] = Some(run);
            }
            drilled.extend(drills);
            copied.extend(copies);
        }
    }
    let mut plan = FleetPlan {
        file_sha256,
        schema: PLAN_SCHEMA.into(),
        at: Some(now),
        policies: slots
            .into_iter()
            .zip(&policies)
            .map(|(p, ci)| {
                // Only an account task that died (a bug) leaves a slot empty; every slot's policy
                // is one of the file's (a saved plan is reconciled with it first).
                p.unwrap_or_else(|| {
                    let c = &compiled[ci.expect("every policy of a run is in the file")];
                    empty_plan(c, None, "planning stopped unexpectedly".into(), now)
                })
            })
            .collect(),
    };
    if let Some(why) = &held {
        for p in &mut plan.policies {
            for u in &mut p.units {
                hold_deletions(u, why);
            }
        }
    }
    let mut report = report_with(&plan, started, ran);
    attach(&mut report, drilled, copied);
    add_drill_summaries(&mut report, &compiled);
    settle_statuses(&mut report, &plan, &took);
    report.finished_at = Some(Timestamp::now());
    report.refused = run_refused;
    report
}

/// The run's deletions, counted as each account's plan arrives, judged against `--max-delete`:
/// why the run's deletions are refused (the report's words, and the units').
async fn judge_deletions(
    planned: &mut tokio::sync::mpsc::UnboundedReceiver<usize>,
    accounts: usize,
    max_delete: usize,
) -> (Option<String>, Option<String>) {
    let mut total = 0;
    for _ in 0..accounts {
        let Some(deletes) = planned.recv().await else {
            break;
        };
        total += deletes;
    }
    let run_refused = (total > max_delete).then(|| {
        format!(
            "the run would delete {total} snapshots and drill volumes, more than --max-delete {max_delete}; nothing was deleted (due snapshots were still taken)"
        )
    });
    let held = run_refused
        .as_ref()
        .map(|_| format!("--max-delete {max_delete} refused the deletions"));
    (run_refused, held)
}

/// Each policy's drills and copies, into its report.
fn attach(
    report: &mut RunReport,
    drilled: Vec<(usize, super::drill::Outcome)>,
    copied: Vec<(usize, super::copy::Outcome)>,
) {
    for (i, outcome) in drilled {
        let p = &mut report.policies[i];
        p.drills = outcome.runs;
        p.drill_cleanups = outcome.cleanups;
        if outcome.error.is_some() {
            p.drill_error = outcome.error;
        }
    }
    for (i, outcome) in copied {
        let p = &mut report.policies[i];
        p.copies = outcome.runs;
        p.copy_deletions = outcome.deletions;
        p.copies_held = outcome.held;
        p.copy_errors = outcome.errors;
    }
}

/// Each policy's status once everything ran: its units', failed when a drill or a copy failed,
/// interrupted when a signal cut it short; and its account's wall time.
fn settle_statuses(report: &mut RunReport, plan: &FleetPlan, took: &[Duration]) {
    let interrupted = crate::interrupt::requested();
    for (i, p) in plan.policies.iter().enumerate() {
        let units = &report.policies[i].units;
        let mut status = policy_status(p, units);
        if status == PolicyStatus::Ok
            && report.policies[i].drill_failures() + report.policies[i].copy_failures() > 0
        {
            status = PolicyStatus::Failed;
        }
        // A signal cut the policy short: not a success, whatever its units did before.
        if interrupted
            && matches!(status, PolicyStatus::Ok | PolicyStatus::Failed)
            && units.iter().any(|u| u.status != UnitStatus::Ok)
        {
            status = PolicyStatus::Interrupted;
        }
        report.policies[i].status = status;
        report.policies[i].duration_seconds = took[i].as_secs_f64();
    }
}

/// Each policy's drills as its state file records them now (`check`, the metrics).
pub fn add_drill_summaries(report: &mut RunReport, compiled: &[Compiled]) {
    for p in &mut report.policies {
        if let Some(c) = compiled.iter().find(|c| c.policy.id == p.id) {
            p.drill = super::drill::summary(c, p.selected);
        }
    }
}

/// The accounts of a run (policies sharing a connection share an account), each policy's index
/// in `compiled` (in the run's order), the planning time and the file digest.
fn accounts_of(
    planned: Planned,
    compiled: &Arc<Vec<Compiled>>,
) -> (Vec<Option<usize>>, Timestamp, Option<String>, Vec<Account>) {
    fn key(t: &Target) -> usize {
        Arc::as_ptr(&t.provider) as *const () as usize
    }
    let mut accounts: Grouping = Vec::new();
    let mut add = |target: Option<Target>, slot: usize, work: PolicyWork| {
        let k = target.as_ref().map(key);
        match accounts.iter_mut().find(|(a, _, _)| k.is_some() && *a == k) {
            Some((_, _, works)) => works.push((slot, work)),
            None => accounts.push((k, target, vec![(slot, work)])),
        }
    };
    let (policies, now, digest) = match planned {
        Planned::Live { targets, at } => {
            let policies = targets.iter().map(|(ci, _)| Some(*ci)).collect();
            for (slot, (ci, target)) in targets.into_iter().enumerate() {
                let t = target.as_ref().ok().cloned();
                add(t, slot, PolicyWork::Plan(ci, target));
            }
            (policies, at, None)
        }
        Planned::Given(plan, targets) => {
            let policies = plan
                .policies
                .iter()
                .map(|p| compiled.iter().position(|c| c.policy.id == p.id))
                .collect();
            let at = plan.at.unwrap_or_else(Timestamp::now);
            for (slot, (p, target)) in plan.policies.into_iter().zip(targets).enumerate() {
                // Only a plannable policy with a connection changes anything.
                let t = target.filter(|_| p.error.is_none() && p.refused.is_none());
                add(t, slot, PolicyWork::Ready(Box::new(p)));
            }
            (policies, at, plan.file_sha256)
        }
    };
    let accounts = accounts
        .into_iter()
        .map(|(_, target, works)| {
            let compiled = compiled.clone();
            let plan: AccountPlans = Box::pin(async move {
                futures_util::future::join_all(works.into_iter().map(|(slot, work)| {
                    let compiled = compiled.clone();
                    async move {
                        match work {
                            PolicyWork::Ready(p) => (slot, *p),
                            PolicyWork::Plan(ci, target) => {
                                (slot, plan_policy(&compiled, ci, target, now).await)
                            }
                        }
                    }
                }))
                .await
            });
            Account { target, plan }
        })
        .collect();
    (policies, now, digest, accounts)
}

/// One policy's plan, to be made or already made.
enum PolicyWork {
    Plan(usize, std::result::Result<Target, String>),
    Ready(Box<PolicyPlan>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::atomic::write_atomically;
    use crate::fleet::outcome::{PolicyRun, REPORT_SCHEMA};
    use crate::fleet::report::metrics;
    use jiff::SignedDuration;
    use std::path::Path;

    #[cfg(unix)]
    #[test]
    fn output_files_are_written_through_a_fresh_private_file_never_a_planted_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").expect("write");
        // The temporary name of the old code, planted as a link to the victim.
        let out = dir.path().join("report.json");
        std::os::unix::fs::symlink(
            &victim,
            dir.path()
                .join(format!(".report.json.{}.tmp", std::process::id())),
        )
        .expect("symlink");
        write_atomically(&out, "{}", 0o600).expect("written");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&out), 0o600);
        assert_eq!(std::fs::read_to_string(&out).expect("read"), "{}");
        let metrics = dir.path().join("snapctl.prom");
        write_atomically(&metrics, "x 1\n", 0o644).expect("written");
        assert_eq!(mode(&metrics), 0o644, "node_exporter reads it");
        // A link where the output goes is replaced, not followed.
        let linked = dir.path().join("linked.json");
        std::os::unix::fs::symlink(&victim, &linked).expect("symlink");
        write_atomically(&linked, "{}", 0o600).expect("written");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
        // Nothing is left behind but the outputs, the victim and the planted link.
        let left = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(left, 5);
    }

    #[test]
    fn a_failed_listing_is_unknown_with_no_timestamp() {
        let checked = crate::fleet::file::check(
            Path::new("t.toml"),
            "[[policy]]\nid = \"p\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = { names = [\"a\"] }\nkeep = { last = 1 }\n",
        )
        .expect("valid");
        let compiled = super::super::plan::compile(&checked).expect("compiles");
        let now: Timestamp = "2026-11-25T18:00:00Z".parse().expect("ts");
        let unit = |id: &str, status: UnitStatus, newest: Option<Timestamp>| UnitRun {
            volume_id: id.into(),
            volume_name: None,
            status,
            created: None,
            deleted: vec![],
            kept: vec![],
            orphans: vec![],
            repaired: vec![],
            future: vec![],
            failures: vec![],
            owned: 1,
            newest,
            snapshot: None,
            planned: vec![],
            skipped: vec![],
        };
        let report = RunReport {
            schema: REPORT_SCHEMA,
            started_at: Some(now),
            finished_at: Some(now),
            refused: None,
            policies: vec![PolicyRun {
                id: "p".into(),
                provider: Some(crate::kind::ProviderKind::Outscale),
                status: PolicyStatus::Failed,
                selected: 3,
                interval_seconds: 3600,
                refused: None,
                error: None,
                duration_seconds: 1.5,
                drills: vec![],
                drill_cleanups: vec![],
                drill_suspects: vec![],
                drill_error: None,
                drill: None,
                copies: vec![],
                copy_deletions: vec![],
                copies_held: vec![],
                copy_errors: vec![],
                units: vec![
                    unit("vol-1", UnitStatus::Unknown, Some(now)),
                    unit(
                        "vol-2",
                        UnitStatus::Ok,
                        Some(now - SignedDuration::from_mins(100)),
                    ),
                    unit(
                        "vol-3",
                        UnitStatus::Ok,
                        Some(now - SignedDuration::from_hours(3)),
                    ),
                ],
            }],
        };
        let m = metrics(&report, &compiled, now);
        let vol = |v: &str| format!("policy=\"p\",provider=\"outscale\",volume_id=\"{v}\"");
        assert!(
            m.contains(&format!(
                "snapctl_volume_freshness_status{{{}}} 3",
                vol("vol-1")
            )),
            "{m}"
        );
        assert!(
            !m.contains(&format!(
                "snapctl_volume_last_snapshot_timestamp_seconds{{{}}}",
                vol("vol-1")
            )),
            "stale data never looks fresh: {m}"
        );
        assert!(
            m.contains(&format!(
                "snapctl_volume_freshness_status{{{}}} 1",
                vol("vol-2")
            )),
            "100 min > 1.5 h: {m}"
        );
        assert!(
            m.contains(&format!(
                "snapctl_volume_freshness_status{{{}}} 2",
                vol("vol-3")
            )),
            "3 h > 2 h: {m}"
        );
        assert!(m.contains("snapctl_run_success{policy=\"p\"} 0"));
        assert!(m.contains("# TYPE snapctl_run_success gauge"));
    }
}
