//! Restore drills: on its own cadence, a policy restores the newest snapshot it owns of some of
//! its volumes the way the provider restores one (EFS a new share, OUTSCALE a volume in the
//! source volume's subregion, PowerVC a volume), waits until the new volume is usable, runs the
//! policy's `verify` command, records how long the restore took, and deletes the restored volume,
//! also when the wait or the verify failed.
//!
//! **What a drill may delete.** A volume carrying the policy's drill mark (a name
//! `snapctl-drill.<policy>.<UTC time>`, a description `snapctl:v1 drill policy=<policy> …`
//! (OUTSCALE's `Description` tag) and, where the provider has tags, the tag
//! `snapctl:drill=<policy>`) is a leftover only when the cloud's own record proves a drill of the
//! policy made it ([`proof`]): made from a snapshot the policy owns, after it, selected by no
//! policy of the file, and one of the volumes the drill state records as made. The mark alone is
//! writable by anyone who may tag a volume: a marked volume without the proof is shown
//! ([`DrillSuspect`]) and never deleted. A proven leftover is deleted by the policy's next run,
//! and counts toward `max_delete` and `--max-delete` like a snapshot deletion.
//!
//! **State.** Which volume was drilled when, and how it went, is kept in `<state_dir>/drill-<policy>.json`
//! (a private directory: [`crate::lock::private_dir`]). A drill is due once per tick of its
//! cadence (ticks are whole multiples of it since the Unix epoch, so a runner's clock a second
//! off never drills twice); the volumes drilled are the ones drilled longest ago (never drilled
//! first), so every volume is drilled in turn. One run of a policy's drills at a time (a lock);
//! within it, its volumes are drilled [`DRILL_CONCURRENCY`] at a time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::file::DrillTimes;
use super::plan::Compiled;
use crate::engine::unit::Unit;
use crate::error::{Error, Result};
use crate::kind::ProviderKind;
use crate::model::{CloneRequest, SnapshotState, Volume};
use crate::provider::Provider;
use crate::wait::WaitOptions;

mod proof;
mod state;
pub use proof::{Owned, judge};
pub use state::*;

/// Schema of the state file.
pub const STATE_SCHEMA: &str = "snapctl.drill-state/v1";

/// Tag (OUTSCALE) or metadata key (PowerVC) naming the policy whose drill made a volume.
pub const TAG_KEY: &str = "snapctl:drill";

const NAME_PREFIX: &str = "snapctl-drill.";
const DESCRIPTION_PREFIX: &str = "snapctl:v1 drill policy=";

/// The name of a volume a drill of `policy` restores at `at`.
pub fn restored_name(policy: &str, at: Timestamp) -> String {
    format!("{NAME_PREFIX}{policy}.{}", crate::model::stamp(at))
}

/// The description of a volume a drill of `policy` restores from `snapshot`.
pub fn volume_description(policy: &str, snapshot: &str) -> String {
    format!("{DESCRIPTION_PREFIX}{policy} snapshot={snapshot}")
}

/// The idempotency key of the restore of `volume` by `policy`'s drill at `at` (OUTSCALE's
/// `ClientToken`): an answer lost on the way is not a second volume.
pub fn restore_key(policy: &str, volume: &str, at: Timestamp) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("drill\n{policy}\n{volume}\n{}", at.as_second()));
    format!("snapctl-drill-{}", &hex::encode(digest)[..32])
}

/// The policy whose drill made `v`, when `v` carries the whole mark (see the module's text).
pub fn owner(v: &Volume) -> Option<&str> {
    let rest = v.name.as_deref()?.strip_prefix(NAME_PREFIX)?;
    let (id, time) = rest.rsplit_once('.')?;
    crate::model::parse_stamp(time)?;
    if !super::mark::valid_id(id) {
        return None;
    }
    let described = v
        .description
        .as_deref()?
        .strip_prefix(DESCRIPTION_PREFIX)?
        .split(' ')
        .next()?;
    if described != id {
        return None;
    }
    if crate::providers::entry(v.provider).marking.tag
        && v.tags.get(TAG_KEY).map(String::as_str) != Some(id)
    {
        return None;
    }
    Some(id)
}

use super::plan::{DrillPlan, DrillSuspect, LeftOver};

/// A policy's drills as planned.
#[derive(Debug, Default)]
pub struct Planned {
    /// The drills due.
    pub drills: Vec<DrillPlan>,
    /// Proven leftovers of earlier drills, to delete.
    pub cleanups: Vec<LeftOver>,
    /// Marked volumes without the proof: shown, not deleted.
    pub suspects: Vec<DrillSuspect>,
    /// Why nothing could be planned.
    pub error: Option<String>,
}

/// The volumes carrying `c`'s drill mark, from `listed` when it is every volume of the account,
/// else listed now (a drill volume carries none of the selector's tags); `None` for a policy
/// without a drill. Whether they are leftovers is judged by [`plan`].
pub async fn leftovers(
    p: &dyn Provider,
    c: &Compiled,
    listed: Option<&[Volume]>,
) -> Option<std::result::Result<Vec<Volume>, String>> {
    c.drill?;
    let mine = |all: &[Volume]| {
        all.iter()
            .filter(|v| owner(v) == Some(c.policy.id.as_str()))
            .cloned()
            .collect()
    };
    Some(match listed {
        Some(all) => Ok(mine(all)),
        None => p
            .list_volumes()
            .await
            .map(|all| mine(&all))
            .map_err(|e| format!("cannot list volumes for drill leftovers: {e}")),
    })
}

/// The snapshots the plan's units say `c` owns now, with their creation times.
pub fn owned_by_units(units: &[Unit]) -> Owned {
    units
        .iter()
        .flat_map(|u| {
            u.keep
                .iter()
                .map(|k| &k.entry)
                .chain(u.delete.iter().map(|d| &d.entry))
                .chain(u.future.iter())
        })
        .map(|e| (e.id.clone(), e.created_at))
        .collect()
}

/// Split marked volumes into proven leftovers and suspects ([`proof`]).
fn sort_marked(
    c: &Compiled,
    all: &[Compiled],
    marked: Vec<Volume>,
    owned: &Owned,
    made: Option<&Made>,
) -> (Vec<LeftOver>, Vec<DrillSuspect>) {
    let (mut cleanups, mut suspects) = (vec![], vec![]);
    for v in marked {
        let selected_by = all
            .iter()
            .find(|o| o.policy.provider.is_none_or(|k| k == v.provider) && o.selects(&v))
            .map(|o| o.policy.id.as_str());
        match judge(&v, &c.policy.id, owned, selected_by, made) {
            Ok(()) => cleanups.push(LeftOver {
                volume_id: v.id,
                name: v.name,
                source_snapshot_id: v.source_snapshot,
            }),
            Err(reason) => suspects.push(DrillSuspect {
                volume_id: v.id,
                name: v.name,
                reason,
            }),
        }
    }
    (cleanups, suspects)
}

/// Plan `c`'s drills at `now`: the marked volumes ([`leftovers`]) judged, and the drills due.
pub fn plan(
    kind: ProviderKind,
    (c, all): (&Compiled, &[Compiled]),
    selected: &[Volume],
    units: &[Unit],
    marked: Option<std::result::Result<Vec<Volume>, String>>,
    now: Timestamp,
) -> Planned {
    let (Some(times), Some(marked)) = (c.drill, marked) else {
        return Planned::default();
    };
    let fail = |error: String| Planned {
        error: Some(error),
        ..Planned::default()
    };
    if let Err(why) = super::file::drill_refusal(kind) {
        return fail(why);
    }
    let marked = match marked {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    // An unreadable state deletes nothing: it may be what records the volumes drills made.
    let state = match c.state_dir.as_deref().map(|d| load(d, &c.policy.id)) {
        Some(Ok(s)) => s,
        Some(Err(e)) => return fail(e.to_string()),
        None => return fail("no state directory".into()),
    };
    let owned = owned_by_units(units);
    let (cleanups, suspects) = sort_marked(c, all, marked, &owned, Some(&state.made));
    let mut out = Planned {
        cleanups,
        suspects,
        ..Planned::default()
    };
    if !is_due(&state, times.every, now) {
        return out;
    }
    let readable: Vec<&str> = units
        .iter()
        .filter(|u| u.error.is_none())
        .map(|u| u.volume_id.as_str())
        .collect();
    out.drills = choose(&state, &readable, times.volumes)
        .into_iter()
        .map(|id| {
            let unit = units.iter().find(|u| u.volume_id == id);
            let volume = selected.iter().find(|v| v.id == id);
            let snapshot_id = unit.filter(|u| u.create.is_none()).and_then(|u| {
                u.keep
                    .iter()
                    .max_by_key(|k| k.entry.created_at)
                    .map(|k| k.entry.id.clone())
            });
            DrillPlan {
                volume_id: id.to_string(),
                volume_name: volume.and_then(|v| v.name.clone()),
                snapshot_id,
                size_gib: volume
                    .and_then(|v| v.size_gib)
                    .map(|s| s.max(crate::providers::entry(kind).min_volume_gib)),
            }
        })
        .collect();
    out
}

/// How one volume's drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DrillStatus {
    /// Restored, usable, verified, in time, cleaned up.
    Ok,
    /// Something failed (the error says what).
    Failed,
    /// A signal stopped it.
    Interrupted,
}

/// One volume's drill, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DrillRun {
    /// The volume drilled.
    pub volume_id: String,
    /// The snapshot restored.
    pub snapshot_id: Option<String>,
    /// The volume the restore made.
    pub restored_volume_id: Option<String>,
    /// Its size in GiB.
    pub size_gib: Option<u64>,
    /// How it ended.
    pub status: DrillStatus,
    /// When it started.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub started_at: Option<Timestamp>,
    /// Request sent → usable, in seconds.
    pub restore_seconds: Option<f64>,
    /// Whether the restore took longer than `max_restore`.
    pub slow: bool,
    /// Whether `verify` passed (`None`: not run).
    pub verified: Option<bool>,
    /// Whether the restored volume was deleted (and seen gone).
    pub cleaned_up: bool,
    /// What failed.
    pub error: Option<String>,
}

/// A clean-up of a volume an earlier drill left behind.
#[derive(Debug, Clone, Serialize)]
pub struct Cleanup {
    /// The volume.
    pub volume_id: String,
    /// Its name.
    pub name: Option<String>,
    /// Deleted (and seen gone).
    pub ok: bool,
    /// Why not.
    pub error: Option<String>,
}

/// What a policy's drills did in a run.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Drills run.
    pub runs: Vec<DrillRun>,
    /// Leftovers deleted (or not).
    pub cleanups: Vec<Cleanup>,
    /// Why no drill could run.
    pub error: Option<String>,
}

/// What a drill needs of the run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Polling (its timeout bounds the clean-up's wait; the drill's own `timeout` bounds the
    /// restore and the verify).
    pub wait: WaitOptions,
    /// Volume locks: a snapshot being restored is not deleted by a rotation meanwhile.
    pub lock_dir: PathBuf,
    /// How long to wait for a volume's lock.
    pub lock_wait: Duration,
}

/// A policy's drill state, held while its drills run, and where it is saved.
struct Ledger {
    dir: PathBuf,
    policy: String,
    state: State,
    /// The state store `dir` mirrors, when the file has `state = "s3://…"`.
    mirror: Option<Arc<crate::store::Mirror>>,
}

impl Ledger {
    /// The state of `policy`, its record of made volumes begun now if it had none.
    fn open(dir: &Path, policy: &str, mirror: Option<Arc<crate::store::Mirror>>) -> Result<Ledger> {
        let mut state = load(dir, policy)?;
        state.made.since.get_or_insert_with(Timestamp::now);
        Ok(Ledger {
            dir: dir.to_path_buf(),
            policy: policy.to_string(),
            state,
            mirror,
        })
    }

    /// Save the state in `dir`, and queue it for the state store (sent by [`push`]).
    fn save(&self) -> Result<()> {
        save(&self.dir, &self.policy, &self.state)?;
        if let Some(m) = &self.mirror {
            m.saved(&state_path(&self.dir, &self.policy));
        }
        Ok(())
    }
}

/// Send what the ledger saved to the state store, when there is one: at once after each save,
/// so a runner that dies loses at most the step in flight.
async fn push(mirror: Option<&crate::store::Mirror>) -> std::result::Result<(), String> {
    match mirror {
        Some(m) => m.push().await.map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

impl Ledger {
    /// Record a volume a drill made, at once (a crash right after leaves a volume the record
    /// knows).
    fn made(&mut self, volume: &str, snapshot: &str) -> Result<()> {
        self.state
            .made
            .volumes
            .insert(volume.to_string(), snapshot.to_string());
        self.save()
    }

    /// Forget a volume seen deleted.
    fn gone(&mut self, volume: &str) {
        self.state.made.volumes.remove(volume);
    }
}

/// Carry out a policy's planned drills and clean-ups, under the policy's drill lock; the state
/// is saved after each volume, so a crash loses at most the drill in flight (which the next run
/// cleans up, and which stays recorded as failed). `refused` says why the run's deletions are
/// refused (`max_delete`, `--max-delete`): the clean-ups are then not sent.
pub async fn carry_out(
    p: &dyn Provider,
    c: &Compiled,
    (drills, left): (&[DrillPlan], &[LeftOver]),
    opts: &Options,
    refused: Option<&str>,
    now: Timestamp,
) -> Outcome {
    let mut out = Outcome::default();
    let (Some(times), Some(dir)) = (c.drill, c.state_dir.clone()) else {
        return out;
    };
    let id = c.policy.id.clone();
    let lock = crate::lock::acquire_async(
        &opts.lock_dir,
        p.kind().as_str(),
        &p.scope(),
        &format!("drill-{id}"),
        Duration::ZERO,
    )
    .await;
    let _lock = match lock {
        Ok(l) => l,
        Err(e) => {
            out.error = Some(format!("another drill of policy {id} is running: {e}"));
            return out;
        }
    };
    let mirror = c.state_mirror.as_deref();
    let mut ledger = match Ledger::open(&dir, &id, c.state_mirror.clone()) {
        Ok(l) => l,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    for l in left {
        let cleanup = match refused {
            Some(why) => Cleanup {
                volume_id: l.volume_id.clone(),
                name: l.name.clone(),
                ok: false,
                error: Some(why.to_string()),
            },
            None => clean_up(p, l, &opts.wait).await,
        };
        if cleanup.ok {
            ledger.gone(&l.volume_id);
        }
        out.cleanups.push(cleanup);
    }
    if let Err(e) = ledger.save() {
        out.error = Some(e.to_string());
        return out;
    }
    if let Err(e) = push(mirror).await {
        out.error = Some(e);
        return out;
    }
    if drills.is_empty() || crate::interrupt::requested() {
        return out;
    }
    // Planned as due, but another run (a copy of the file, a manual run) may have drilled this
    // tick since: read under the lock, the state decides.
    if !is_due(&ledger.state, times.every, now) {
        return out;
    }
    let last_started = ledger.state.last_started;
    ledger.state.last_started = Some(now);
    // The drills of a policy run at once, a few at a time (each holds a billed volume while it
    // runs), in the account's rate limit; the state is saved after each step of each.
    let ledger = std::sync::Mutex::new(ledger);
    let slots = tokio::sync::Semaphore::new(DRILL_CONCURRENCY);
    let (ledger_ref, slots_ref) = (&ledger, &slots);
    let runs: Vec<_> = drills
        .iter()
        .map(|d| async move {
            // Taken in the plan's order: drills start in that order.
            let _slot = slots_ref.acquire().await.expect("never closed");
            drill_recorded(p, c, times, d, opts, ledger_ref, now).await
        })
        .collect();
    let ended: Vec<Drilled> = futures_util::future::join_all(runs).await;
    let mut ledger = ledger.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut interrupted = false;
    for drilled in ended {
        match drilled {
            Drilled::Ran(run) => {
                interrupted |= run.status == DrillStatus::Interrupted;
                out.runs.push(run);
            }
            Drilled::Unsaved(e) => out.error = Some(e),
        }
    }
    if interrupted {
        // Stopped by the operator: the policy drills again on its next run.
        ledger.state.last_started = last_started;
        if let Err(e) = ledger.save() {
            out.error = Some(e.to_string());
        }
    }
    if let Err(e) = push(mirror).await {
        out.error = Some(e);
    }
    out
}

/// How many drills of one policy run at once.
pub const DRILL_CONCURRENCY: usize = 4;

/// One drill's end: its run, or why it was not started (its state could not be saved).
enum Drilled {
    Ran(DrillRun),
    Unsaved(String),
}

/// One volume's drill with its record: failed in the state before it starts (a crash leaves a
/// failed drill), its outcome written when it ends, or its previous record put back when a
/// signal stopped it (stopped by the operator, not failed).
async fn drill_recorded(
    p: &dyn Provider,
    c: &Compiled,
    times: DrillTimes,
    d: &DrillPlan,
    opts: &Options,
    ledger: &std::sync::Mutex<Ledger>,
    now: Timestamp,
) -> Drilled {
    let started = Timestamp::now();
    if crate::interrupt::requested() {
        // Not started: the volume keeps its last drill's record.
        return Drilled::Ran(not_started(d, started));
    }
    // Recorded (at the run's time, `--at` in simulations) before it starts.
    let previous = {
        let mut l = ledger.lock().unwrap_or_else(|e| e.into_inner());
        let previous = l.state.volumes.get(&d.volume_id).cloned();
        l.state
            .volumes
            .insert(d.volume_id.clone(), unfinished(previous.as_ref(), now));
        if let Err(e) = l.save() {
            return Drilled::Unsaved(e.to_string());
        }
        previous
    };
    // In the store before the restore is sent: a runner that dies leaves a failed drill there.
    if let Err(e) = push(c.state_mirror.as_deref()).await {
        return Drilled::Unsaved(e);
    }
    // How long the restore is expected to take: the volume's last successful one, else the
    // longest it may take. The wait polls finely around it, so the time is measured truly.
    let expected = previous
        .as_ref()
        .and_then(|r| r.last_success_restore_seconds)
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .or(times.max_restore.map(Duration::from_secs));
    let run = drill_one(p, c, (times, expected), d, opts, ledger, started).await;
    if let Err(e) = record_end(ledger, d, &run, previous, now) {
        return Drilled::Unsaved(e.to_string());
    }
    if let Err(e) = push(c.state_mirror.as_deref()).await {
        return Drilled::Unsaved(e);
    }
    Drilled::Ran(run)
}

/// Write a drill's end in the ledger: its outcome, or its previous record put back when a
/// signal stopped it; the volume forgotten once it is seen deleted.
fn record_end(
    ledger: &std::sync::Mutex<Ledger>,
    d: &DrillPlan,
    run: &DrillRun,
    previous: Option<Record>,
    now: Timestamp,
) -> Result<()> {
    let mut l = ledger.lock().unwrap_or_else(|e| e.into_inner());
    if run.cleaned_up
        && let Some(v) = &run.restored_volume_id
    {
        l.gone(v);
    }
    if run.status == DrillStatus::Interrupted {
        match previous {
            Some(r) => l.state.volumes.insert(d.volume_id.clone(), r),
            None => l.state.volumes.remove(&d.volume_id),
        };
    } else if let Some(record) = l.state.volumes.get_mut(&d.volume_id) {
        record.last_ok = run.status == DrillStatus::Ok;
        record.last_restore_seconds = run.restore_seconds;
        record.last_error = run.error.clone();
        if record.last_ok {
            record.last_success_at = Some(now);
            record.last_success_restore_seconds = run.restore_seconds;
        }
    }
    l.save()
}

/// A drill a signal stopped before it started.
fn not_started(d: &DrillPlan, started: Timestamp) -> DrillRun {
    DrillRun {
        volume_id: d.volume_id.clone(),
        snapshot_id: None,
        restored_volume_id: None,
        size_gib: d.size_gib,
        status: DrillStatus::Interrupted,
        started_at: Some(started),
        restore_seconds: None,
        slow: false,
        verified: None,
        cleaned_up: false,
        error: Some("interrupted before it started".into()),
    }
}

/// A volume's record while its drill runs (at the run's time): failed until it ends, so a drill
/// a crash stops stays a failure; its last success is kept.
fn unfinished(previous: Option<&Record>, now: Timestamp) -> Record {
    Record {
        last_at: now,
        last_ok: false,
        last_restore_seconds: None,
        last_error: Some("the drill did not finish (snapctl stopped during it)".into()),
        last_success_at: previous.and_then(|r| r.last_success_at),
        last_success_restore_seconds: previous.and_then(|r| r.last_success_restore_seconds),
    }
}

/// Delete a volume an earlier drill left.
async fn clean_up(p: &dyn Provider, l: &LeftOver, wait: &WaitOptions) -> Cleanup {
    let result = crate::engine::delete::volume(p, &l.volume_id, wait).await;
    Cleanup {
        volume_id: l.volume_id.clone(),
        name: l.name.clone(),
        ok: result.is_ok(),
        error: result.err().map(|e| e.to_string()),
    }
}

/// One volume's drill: pick the snapshot, restore, wait, verify, delete.
async fn drill_one(
    p: &dyn Provider,
    c: &Compiled,
    (times, expected): (DrillTimes, Option<Duration>),
    d: &DrillPlan,
    opts: &Options,
    ledger: &std::sync::Mutex<Ledger>,
    started: Timestamp,
) -> DrillRun {
    let mut run = DrillRun {
        volume_id: d.volume_id.clone(),
        snapshot_id: None,
        restored_volume_id: None,
        size_gib: d.size_gib,
        status: DrillStatus::Failed,
        started_at: Some(started),
        restore_seconds: None,
        slow: false,
        verified: None,
        cleaned_up: false,
        error: None,
    };
    let budget = Duration::from_secs(times.timeout);
    let clock = Instant::now();
    let restored = restore(p, c, d, opts, ledger, &mut run).await;
    let result = match restored {
        Err(e) => Err(e),
        Ok((op, sent)) => {
            let wait = WaitOptions {
                timeout: budget.saturating_sub(clock.elapsed()),
                ..opts.wait.clone()
            };
            // Request sent → usable: the lock wait and the listing before it are not the
            // restore's.
            let answered = sent.elapsed();
            let expected = expected.map(|e| e.saturating_sub(answered));
            match crate::wait::wait_timed(p, &op, &wait, expected).await {
                Err(e) => Err(format!("the restored volume did not become usable: {e}")),
                Ok(seen) => {
                    let (took, slow) = restore_time(answered, seen, times.max_restore);
                    run.restore_seconds = Some(took.as_secs_f64());
                    run.slow = slow;
                    verify(p, c, &mut run, budget.saturating_sub(clock.elapsed())).await
                }
            }
        }
    };
    if let Some(vol) = run.restored_volume_id.clone() {
        match crate::engine::delete::volume(p, &vol, &opts.wait).await {
            Ok(()) => run.cleaned_up = true,
            Err(e) => {
                let why = format!(
                    "the restored volume {vol} could not be deleted (the next run tries again): {e}"
                );
                run.error = Some(match run.error.take() {
                    Some(first) => format!("{first}; {why}"),
                    None => why,
                });
            }
        }
    }
    match result {
        Err(e) => {
            run.error = Some(match run.error.take() {
                Some(later) => format!("{e}; {later}"),
                None => e,
            });
        }
        Ok(()) if run.slow => {
            let slow = format!(
                "the restore took {:.0} s, more than max_restore ({} s)",
                run.restore_seconds.unwrap_or_default(),
                times.max_restore.unwrap_or_default()
            );
            run.error = Some(match run.error.take() {
                Some(later) => format!("{slow}; {later}"),
                None => slow,
            });
        }
        Ok(()) => {}
    }
    run.status = if crate::interrupt::requested() && run.error.is_some() {
        DrillStatus::Interrupted
    } else if run.error.is_none() {
        DrillStatus::Ok
    } else {
        DrillStatus::Failed
    };
    run
}

/// A restore's time from what the wait saw (`answered`: the restore request's answer, after its
/// send; `seen`: since then), and whether it was slower than `max_restore` seconds. The volume
/// became usable between the last poll that found it pending and the one that found it usable:
/// the time is the middle of the two (the later one when the first poll found it usable), and it
/// is slow only when even the earlier one is past `max_restore`, so polling never fails a
/// restore that was within it.
fn restore_time(
    answered: Duration,
    seen: crate::wait::Seen,
    max_restore: Option<u64>,
) -> (Duration, bool) {
    let latest = answered + seen.done;
    let (earliest, took) = match seen.pending {
        Some(p) => (
            answered + p,
            answered + p + (seen.done - p.min(seen.done)) / 2,
        ),
        None => (answered, latest),
    };
    let slow = max_restore.is_some_and(|m| earliest > Duration::from_secs(m));
    (took, slow)
}

/// How long a drill waits for its volume's lock (a rotation of the volume holds it for seconds):
/// a drill that cannot restore because of another run's lock is not a failed restore.
const LOCK_WAIT: Duration = Duration::from_secs(120);

/// Choose the snapshot (the newest the policy owns and is available, read now) and send the
/// restore under the volume's lock, so no rotation deletes the snapshot meanwhile.
async fn restore(
    p: &dyn Provider,
    c: &Compiled,
    d: &DrillPlan,
    opts: &Options,
    ledger: &std::sync::Mutex<Ledger>,
    run: &mut DrillRun,
) -> std::result::Result<(crate::model::Operation, Instant), String> {
    let _lock = crate::lock::acquire_async(
        &opts.lock_dir,
        p.kind().as_str(),
        &p.scope(),
        &d.volume_id,
        opts.lock_wait.max(LOCK_WAIT),
    )
    .await
    .map_err(|e| format!("cannot take the volume's lock: {e}"))?;
    let snapshots = p
        .list_snapshots(Some(&d.volume_id))
        .await
        .map_err(|e| format!("cannot list the volume's snapshots: {e}"))?;
    let newest = snapshots
        .into_iter()
        .filter(|s| {
            s.state == SnapshotState::Available
                && super::mark::owner(s) == Some(c.policy.id.as_str())
        })
        .max_by_key(|s| s.created_at)
        .ok_or_else(|| {
            format!(
                "no available snapshot of policy {} on this volume to restore",
                c.policy.id
            )
        })?;
    run.snapshot_id = Some(newest.id.clone());
    let marking = crate::providers::entry(p.kind()).marking;
    let drill_time = Timestamp::now();
    let req = CloneRequest {
        volume: Some(d.volume_id.clone()),
        snapshot: newest.id.clone(),
        name: Some(restored_name(&c.policy.id, drill_time)),
        description: Some(volume_description(&c.policy.id, &newest.id)),
        tags: if marking.tag {
            vec![(TAG_KEY.to_string(), c.policy.id.clone())]
        } else {
            vec![]
        },
        like_source: true,
        idempotency_key: Some(restore_key(&c.policy.id, &d.volume_id, drill_time)),
        ..CloneRequest::default()
    };
    let sent = Instant::now();
    let (volume, op) = p
        .clone_volume(&req)
        .await
        .map_err(|e| format!("the restore of snapshot {} failed: {e}", newest.id))?;
    run.restored_volume_id = Some(volume.id.clone());
    let made = ledger
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .made(&volume.id, &newest.id);
    if let Err(e) = made {
        return Err(format!(
            "the drill state could not record restored volume {}: {e}",
            volume.id
        ));
    }
    if let Err(e) = push(c.state_mirror.as_deref()).await {
        return Err(format!(
            "the state store could not record restored volume {}: {e}",
            volume.id
        ));
    }
    if volume.size_gib.is_some() {
        run.size_gib = volume.size_gib;
    }
    Ok((op, sent))
}

/// Run the policy's `verify` command, if any, on the usable volume.
async fn verify(
    p: &dyn Provider,
    c: &Compiled,
    run: &mut DrillRun,
    left: Duration,
) -> std::result::Result<(), String> {
    let Some(command) = c.policy.drill.as_ref().and_then(|d| d.verify.as_deref()) else {
        return Ok(());
    };
    let vol = run.restored_volume_id.clone().unwrap_or_default();
    let mut env: Vec<(&str, String)> = vec![
        ("SNAPCTL_POLICY", c.policy.id.clone()),
        ("SNAPCTL_PROVIDER", p.kind().to_string()),
        ("SNAPCTL_VOLUME_ID", run.volume_id.clone()),
        ("SNAPCTL_DRILL_VOLUME_ID", vol.clone()),
        (
            "SNAPCTL_DRILL_SNAPSHOT_ID",
            run.snapshot_id.clone().unwrap_or_default(),
        ),
    ];
    match p.reach(&vol).await {
        Ok(more) => env.extend(more),
        Err(e) => return Err(format!("cannot tell how to reach the restored volume: {e}")),
    }
    // Unlike a snapshot's hooks, a verify stops at the first signal (its process group is killed
    // when the hook is dropped): the restored volume is deleted and the drill reported
    // interrupted, within the grace period a scheduler gives.
    let result = tokio::select! {
        r = crate::engine::hook::execute(command, &env, &c.policy.hook_env, left) => r,
        () = crate::interrupt::arrived() => {
            return Err("interrupted during verify: the verify was stopped".into());
        }
    };
    run.verified = Some(result.is_ok());
    result.map_err(|e| format!("verify failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn volume(kind: ProviderKind, name: &str, description: &str, tag: Option<&str>) -> Volume {
        Volume {
            provider: kind,
            id: "v".into(),
            name: Some(name.into()),
            size_gib: Some(10),
            state: crate::model::VolumeState::Available,
            provider_state: None,
            created_at: None,
            tags: tag
                .map(|t| BTreeMap::from([(TAG_KEY.to_string(), t.to_string())]))
                .unwrap_or_default(),
            description: Some(description.into()),
            source_snapshot: None,
        }
    }

    #[test]
    fn only_the_whole_mark_makes_a_drill_volume() {
        let at = ts("2026-12-01T10:00:00Z");
        let name = restored_name("db-gold", at);
        let desc = volume_description("db-gold", "snap-1");
        assert_eq!(name, "snapctl-drill.db-gold.20261201T100000Z");
        let efs = volume(ProviderKind::OvhEfs, &name, &desc, None);
        assert_eq!(owner(&efs), Some("db-gold"));
        // OUTSCALE and PowerVC have tags: the tag is part of the mark there.
        let osc = volume(ProviderKind::Outscale, &name, &desc, Some("db-gold"));
        assert_eq!(owner(&osc), Some("db-gold"));
        for (what, v) in [
            ("no tag", volume(ProviderKind::Outscale, &name, &desc, None)),
            (
                "another policy's tag",
                volume(ProviderKind::Powervc, &name, &desc, Some("other")),
            ),
            (
                "another policy's description",
                volume(
                    ProviderKind::OvhEfs,
                    &name,
                    &volume_description("other", "s"),
                    None,
                ),
            ),
            (
                "a look-alike name",
                volume(
                    ProviderKind::OvhEfs,
                    "snapctl-drill.db-gold.yesterday",
                    &desc,
                    None,
                ),
            ),
            (
                "a policy's snapshot name",
                volume(
                    ProviderKind::OvhEfs,
                    "snapctl.db-gold.20261201T100000Z",
                    &desc,
                    None,
                ),
            ),
        ] {
            assert_eq!(owner(&v), None, "{what}");
        }
        let mut undescribed = efs.clone();
        undescribed.description = None;
        assert_eq!(owner(&undescribed), None);
    }

    #[test]
    fn a_drill_is_due_once_per_tick_whatever_the_clock_skew() {
        let day = 86_400;
        let mut s = State::default();
        let now = ts("2026-12-03T00:00:01Z");
        assert!(is_due(&s, 7 * day, now), "never drilled");
        s.last_started = Some(now);
        assert!(!is_due(&s, day, now + jiff::SignedDuration::from_hours(23)));
        // A run a second early the next day is still in the next tick.
        assert!(is_due(&s, day, ts("2026-12-04T00:00:00Z")));
        // The runner's clock a second behind: the drill of the same tick is not taken twice.
        assert!(!is_due(&s, day, ts("2026-12-03T00:00:00Z")));
    }

    #[test]
    fn a_restore_is_slow_only_when_even_its_earliest_end_is_past_max_restore() {
        let s = |x: f64| Duration::from_secs_f64(x);
        let seen = |pending: Option<f64>, done: f64| crate::wait::Seen {
            pending: pending.map(s),
            done: s(done),
        };
        // Usable between 19.6 s and 20.0 s after the answer (0.2 s after the send): 20.0 s.
        let (took, slow) = restore_time(s(0.2), seen(Some(19.6), 20.0), Some(21));
        assert!((took.as_secs_f64() - 20.0).abs() < 1e-9, "{took:?}");
        assert!(!slow);
        // Seen usable late (a coarse poll): the earliest end decides, not the poll.
        let (_, slow) = restore_time(s(0.2), seen(Some(20.0), 24.0), Some(21));
        assert!(!slow, "within max_restore until 20.2 s");
        let (_, slow) = restore_time(s(0.2), seen(Some(21.5), 22.0), Some(21));
        assert!(slow);
        // Usable at the first poll: the latest bound is the time.
        let (took, slow) = restore_time(s(0.5), seen(None, 0.1), Some(1));
        assert!((took.as_secs_f64() - 0.6).abs() < 1e-9);
        assert!(!slow);
    }

    #[test]
    fn volumes_are_drilled_in_turn() {
        let mut s = State::default();
        let all = ["c", "a", "b"];
        assert_eq!(choose(&s, &all, 1), vec!["a"]);
        let mut t = ts("2026-12-01T00:00:00Z");
        for want in ["a", "b", "c", "a", "b"] {
            let chosen = choose(&s, &all, 1);
            assert_eq!(chosen, vec![want]);
            s.volumes.insert(
                want.into(),
                Record {
                    last_at: t,
                    last_ok: true,
                    last_restore_seconds: Some(1.0),
                    last_error: None,
                    last_success_at: Some(t),
                    last_success_restore_seconds: Some(1.0),
                },
            );
            t += jiff::SignedDuration::from_hours(24);
        }
        // A new volume is drilled next.
        assert_eq!(choose(&s, &["a", "b", "c", "d"], 2), vec!["d", "c"]);
    }

    #[test]
    fn check_says_what_is_wrong_with_a_volumes_drills() {
        let now = ts("2026-12-20T00:00:00Z");
        let s = DrillSummary {
            every_seconds: 7 * 86_400,
            volume_interval_seconds: 7 * 86_400,
            max_restore_seconds: Some(1800),
            volumes: vec![],
            error: None,
        };
        let v = |ok: bool, took: f64, success_days_ago: Option<i64>| VolumeSummary {
            volume_id: "v".into(),
            last_ok: ok,
            last_at: Some(now),
            last_error: (!ok).then(|| "verify failed: exit 1".into()),
            last_restore_seconds: Some(took),
            last_success_at: success_days_ago
                .map(|d| now - jiff::SignedDuration::from_hours(24 * d)),
            last_success_restore_seconds: None,
        };
        assert_eq!(drill_verdict(&s, &v(true, 60.0, Some(3)), now).0, 0);
        let (code, why) = drill_verdict(&s, &v(false, 60.0, Some(3)), now);
        assert_eq!(code, 2);
        assert!(why.expect("why").contains("verify failed"));
        assert_eq!(drill_verdict(&s, &v(true, 1801.0, Some(3)), now).0, 2);
        assert_eq!(drill_verdict(&s, &v(true, 60.0, Some(15)), now).0, 1);
        assert_eq!(drill_verdict(&s, &v(true, 60.0, Some(14)), now).0, 0);
    }

    #[test]
    fn state_round_trips_and_a_foreign_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state_dir = dir.path().join("state");
        let empty = load(&state_dir, "p").expect("empty");
        assert_eq!(empty.schema, STATE_SCHEMA);
        let mut s = empty.clone();
        s.last_started = Some(ts("2026-12-01T00:00:00Z"));
        save(&state_dir, "p", &s).expect("saved");
        assert_eq!(load(&state_dir, "p").expect("read"), s);
        std::fs::write(state_path(&state_dir, "p"), r#"{"schema":"other"}"#).expect("write");
        assert!(load(&state_dir, "p").is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&state_dir)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }
}
