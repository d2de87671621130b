//! The run history (`history_dir`) and the coverage report (`policy report`).
//!
//! **History.** Each `apply` writes its report to `<history_dir>/run-<UTC time>-<random>.json`
//! (the time is the run's planning time: `--at` in simulations) and deletes the files older than
//! `history_keep` \[400d\]. Pruned snapshots are gone from the clouds; the history remembers that
//! they were taken, and that the policy deleted them.
//!
//! **Coverage.** For each policy and volume, each tick of the cadence in the window is:
//! - `met`: a snapshot answering it (its mark names the tick) exists now;
//! - `pruned`: one was taken and the policy deleted it since, as its retention planned;
//! - `lost`: one was taken and is gone, deleted by someone else;
//! - `missed`: none was taken, and the history covers the tick;
//! - `pending`: the newest tick, not answered yet, and no run since it began;
//! - `unknown`: none exists now and the history does not reach back to the tick.
//!
//! The achieved RPO is the longest gap between consecutive snapshots of the window (when each
//! was taken), the last one to the end of the window included.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::outcome::RunReport;
use super::plan::{Compiled, FleetPlan};
use crate::error::{Error, Result};

mod render;
pub use render::{coverage_csv, coverage_html, coverage_table};

/// Schema of `policy report -o json`.
pub const COVERAGE_SCHEMA: &str = "snapctl.coverage-report/v1";

const PREFIX: &str = "run-";

/// Record a run's report in the history directory (private, created if needed), then delete the
/// runs older than `keep` seconds before `at`. The report is trimmed to what the history needs
/// (`trimmed`): a run that changed nothing is a few hundred bytes, whatever the fleet's size.
pub fn record_history(dir: &Path, at: Timestamp, report: &RunReport, keep: u64) -> Result<()> {
    crate::lock::private_dir(dir, "history directory", "history_dir")?;
    let name = format!(
        "{PREFIX}{}-{:08x}.json",
        crate::model::stamp(at),
        fastrand::u32(..)
    );
    let trimmed = trimmed(report);
    // Compact JSON: the history is read by snapctl, not by people.
    super::atomic::write_atomically_with(&dir.join(name), 0o600, &mut |w| {
        serde_json::to_writer(&mut *w, &trimmed).map_err(std::io::Error::other)
    })?;
    let oldest = at - SignedDuration::from_secs(i64::try_from(keep).unwrap_or(i64::MAX / 2));
    for (when, path) in runs(dir)? {
        if when < oldest {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(())
}

/// A report as the history keeps it: every policy, with only the units that took, deleted or
/// failed something, without their kept lists (a snapshot the history must know of appears when
/// it is taken or deleted); drills whole.
fn trimmed(report: &RunReport) -> RunReport {
    let mut r = report.clone();
    for p in &mut r.policies {
        p.units
            .retain(|u| u.created.is_some() || !u.deleted.is_empty() || !u.failures.is_empty());
        for u in &mut p.units {
            u.kept.clear();
        }
    }
    r
}

/// The history's run files, with their times, oldest first.
fn runs(dir: &Path) -> Result<Vec<(Timestamp, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(source) => {
            return Err(Error::Io {
                action: format!("cannot read the history directory {}", dir.display()),
                source,
            });
        }
    };
    let mut out: Vec<(Timestamp, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stamp = name.strip_prefix(PREFIX)?.get(..16)?;
            name.ends_with(".json")
                .then(|| Some((crate::model::parse_stamp(stamp)?, e.path())))?
        })
        .collect();
    out.sort();
    Ok(out)
}

/// What the report reads of a history run (the report's own fields).
#[derive(Debug, Deserialize)]
struct Run {
    #[serde(default)]
    policies: Vec<RunPolicy>,
}

#[derive(Debug, Deserialize)]
struct RunPolicy {
    id: String,
    #[serde(default)]
    units: Vec<RunUnit>,
    #[serde(default)]
    drills: Vec<RunDrill>,
}

#[derive(Debug, Deserialize)]
struct RunUnit {
    volume_id: String,
    #[serde(default)]
    volume_name: Option<String>,
    #[serde(default)]
    created: Option<Entry>,
    #[serde(default)]
    deleted: Vec<Entry>,
    #[serde(default)]
    kept: Vec<Entry>,
}

#[derive(Debug, Clone, Deserialize)]
struct Entry {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    created_at: Option<Timestamp>,
}

#[derive(Debug, Deserialize)]
struct RunDrill {
    volume_id: String,
    status: String,
    #[serde(default)]
    restore_seconds: Option<f64>,
    #[serde(default)]
    started_at: Option<Timestamp>,
}

/// The history of a window: runs from `since` on, and the time of the oldest run kept.
pub struct History {
    runs: Vec<(Timestamp, Run)>,
    /// The oldest run the history holds (`None`: no history).
    pub from: Option<Timestamp>,
    /// Run files that could not be read (named, with why).
    pub unreadable: Vec<String>,
}

/// Read the history for `[since, until]` (`dir` `None`: no history).
pub fn read_history(dir: Option<&Path>, since: Timestamp, until: Timestamp) -> Result<History> {
    let mut h = History {
        runs: vec![],
        from: None,
        unreadable: vec![],
    };
    let Some(dir) = dir else {
        return Ok(h);
    };
    let all = runs(dir)?;
    h.from = all.first().map(|(t, _)| *t);
    for (at, path) in all {
        if at < since || at > until {
            continue;
        }
        let parsed = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Run>(&b).map_err(|e| e.to_string()));
        match parsed {
            Ok(run) => h.runs.push((at, run)),
            Err(e) => h.unreadable.push(format!("{}: {e}", path.display())),
        }
    }
    Ok(h)
}

/// One tick's status (ordered: a tick answered by several snapshots takes the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TickStatus {
    /// A snapshot answering it exists now.
    Met,
    /// Taken, then deleted by the policy's retention.
    Pruned,
    /// Taken, then deleted by someone else.
    Lost,
    /// Not taken.
    Missed,
    /// The newest tick, not answered yet and no run since it began.
    Pending,
    /// Not there now, and the history does not reach back to it.
    Unknown,
}

impl TickStatus {
    /// Every status, in display order.
    pub const ALL: [TickStatus; 6] = [
        TickStatus::Met,
        TickStatus::Pruned,
        TickStatus::Lost,
        TickStatus::Missed,
        TickStatus::Pending,
        TickStatus::Unknown,
    ];

    /// Its word.
    pub fn as_str(self) -> &'static str {
        match self {
            TickStatus::Met => "met",
            TickStatus::Pruned => "pruned",
            TickStatus::Lost => "lost",
            TickStatus::Missed => "missed",
            TickStatus::Pending => "pending",
            TickStatus::Unknown => "unknown",
        }
    }
}

/// One tick of one volume.
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    /// When the tick fell.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub at: Option<Timestamp>,
    /// Its status.
    pub status: TickStatus,
    /// The snapshot answering it (met, pruned, lost).
    pub snapshot_id: Option<String>,
}

/// Counts of tick statuses.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// `met` ticks.
    pub met: usize,
    /// `pruned`.
    pub pruned: usize,
    /// `lost`.
    pub lost: usize,
    /// `missed`.
    pub missed: usize,
    /// `pending`.
    pub pending: usize,
    /// `unknown`.
    pub unknown: usize,
}

impl Counts {
    fn add(&mut self, s: TickStatus) {
        *match s {
            TickStatus::Met => &mut self.met,
            TickStatus::Pruned => &mut self.pruned,
            TickStatus::Lost => &mut self.lost,
            TickStatus::Missed => &mut self.missed,
            TickStatus::Pending => &mut self.pending,
            TickStatus::Unknown => &mut self.unknown,
        } += 1;
    }

    fn merge(&mut self, o: &Counts) {
        self.met += o.met;
        self.pruned += o.pruned;
        self.lost += o.lost;
        self.missed += o.missed;
        self.pending += o.pending;
        self.unknown += o.unknown;
    }

    /// Ticks answered as planned (met or pruned) among those that could be judged.
    pub fn answered_share(&self) -> Option<f64> {
        let judged = self.met + self.pruned + self.lost + self.missed;
        (judged > 0).then(|| (self.met + self.pruned) as f64 / judged as f64)
    }
}

/// The drills of one volume in the window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Drills {
    /// Drills that passed.
    pub passed: usize,
    /// Drills that failed (or were interrupted).
    pub failed: usize,
    /// Restore times of the drills that got that far, oldest first.
    pub restore_seconds: Vec<f64>,
    /// When the last successful one started.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub last_success_at: Option<Timestamp>,
}

/// One volume of one policy.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeCoverage {
    /// The volume.
    pub volume_id: String,
    /// Its name.
    pub volume_name: Option<String>,
    /// Whether the policy selects it now (a volume seen only in the history is not).
    pub selected_now: bool,
    /// Every tick of the window, oldest first.
    pub ticks: Vec<Tick>,
    /// Their statuses, counted.
    pub counts: Counts,
    /// The longest gap between consecutive snapshots, the last one to the end of the window
    /// included (the whole window when there is none).
    pub rpo_seconds: i64,
    /// Snapshots the policy owns on it now.
    pub owned_now: usize,
    /// Whether that is at least the policy's `min` (1 without one).
    pub retention_held: bool,
    /// Restore drills.
    pub drills: Drills,
    /// Its copies in other Regions now, one entry per destination (policies with `copy`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<CopyCoverage>,
}

/// What one destination holds of a volume now.
#[derive(Debug, Clone, Serialize)]
pub struct CopyCoverage {
    /// The destination Region.
    pub region: String,
    /// Complete copies there; `None` (unknown) when the destination could not be read.
    pub copies: Option<usize>,
    /// The newest one's tick (its source snapshot's time).
    #[serde(serialize_with = "crate::model::ser_time")]
    pub newest: Option<Timestamp>,
    /// Whether the newest is recent: from within twice the cadence before the window's end
    /// (`false` when unknown).
    pub present: bool,
    /// Why the destination could not be read (then `copies` is unknown, never 0).
    pub error: Option<String>,
}

/// One policy.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyCoverage {
    /// Policy id.
    pub id: String,
    /// Provider.
    pub provider: Option<crate::kind::ProviderKind>,
    /// Seconds between ticks.
    pub interval_seconds: u64,
    /// Why its volumes could not be listed now (the report then rests on the history alone).
    pub error: Option<String>,
    /// Per volume.
    pub volumes: Vec<VolumeCoverage>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    /// [`COVERAGE_SCHEMA`].
    pub schema: &'static str,
    /// Start of the window.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub since: Option<Timestamp>,
    /// End of the window (now, or `--at`).
    #[serde(serialize_with = "crate::model::ser_time")]
    pub until: Option<Timestamp>,
    /// The oldest run the history holds; ticks before it are `unknown` unless a snapshot answers
    /// them now (`None`: no history at all).
    #[serde(serialize_with = "crate::model::ser_time")]
    pub history_from: Option<Timestamp>,
    /// Runs of the window read from the history.
    pub history_runs: usize,
    /// History files that could not be read.
    pub history_unreadable: Vec<String>,
    /// Totals over every policy and volume.
    pub totals: Totals,
    /// Per policy.
    pub policies: Vec<PolicyCoverage>,
}

/// What an auditor asks first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    /// Volumes reported.
    pub volumes: usize,
    /// Tick statuses over every volume.
    pub ticks: Counts,
    /// Met or pruned among the ticks that could be judged (met, pruned, lost, missed).
    pub answered_share: Option<f64>,
    /// The worst RPO of any volume.
    pub worst_rpo_seconds: Option<i64>,
    /// Volumes below their retention floor now.
    pub retention_short: usize,
    /// Drills passed.
    pub drills_passed: usize,
    /// Drills failed.
    pub drills_failed: usize,
    /// The slowest restore of a drill.
    pub slowest_restore_seconds: Option<f64>,
    /// Selected volumes and destinations without a recent copy (known to lack one).
    pub copies_missing: usize,
    /// Selected volumes and destinations whose copies are unknown (the destination could not
    /// be read).
    pub copies_unknown: usize,
}

/// What is known of one snapshot of a volume.
#[derive(Debug, Default)]
struct Known {
    /// The time it answers (its mark's tick).
    at: Option<Timestamp>,
    /// When it was taken: what the RPO is measured on.
    created: Option<Timestamp>,
    now: bool,
    pruned: bool,
}

/// The ticks of `c` in `[since, until]`, oldest first.
fn ticks(c: &Compiled, since: Timestamp, until: Timestamp) -> Vec<Timestamp> {
    let mut out = Vec::new();
    let mut t = c.cadence.last_tick(until, &c.timezone);
    while let Some(at) = t {
        if at < since || out.len() > 100_000 {
            break;
        }
        out.push(at);
        t = c
            .cadence
            .last_tick(at - SignedDuration::from_secs(1), &c.timezone);
    }
    out.reverse();
    out
}

/// The time a snapshot answers: its mark's (the tick, or the send time of older marks), else
/// its creation time.
fn answered_at(policy: &str, name: Option<&str>, created: Option<Timestamp>) -> Option<Timestamp> {
    name.and_then(super::mark::parse_name)
        .filter(|(id, _)| *id == policy)
        .map(|(_, t)| t)
        .or(created)
}

/// What the plan (now) and the history (before) say of a policy's volumes and snapshots.
struct Collected<'a> {
    /// Volume → snapshot id → what is known of it.
    known: BTreeMap<String, BTreeMap<String, Known>>,
    /// Volume names.
    names: BTreeMap<String, Option<String>>,
    /// Drills per volume.
    drills: BTreeMap<String, Drills>,
    /// Snapshots owned now per volume.
    owned_now: BTreeMap<&'a str, usize>,
    /// Volumes selected now.
    selected: BTreeSet<&'a str>,
}

fn collect<'a>(c: &Compiled, p: &'a super::plan::PolicyPlan, history: &History) -> Collected<'a> {
    // Volume → snapshot id → what is known of it; volume names.
    let mut known: BTreeMap<String, BTreeMap<String, Known>> = BTreeMap::new();
    let mut names: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut drills: BTreeMap<String, Drills> = BTreeMap::new();
    let selected: BTreeSet<&str> = p.units.iter().map(|u| u.volume_id.as_str()).collect();
    let mut owned_now: BTreeMap<&str, usize> = BTreeMap::new();
    for u in &p.units {
        names.insert(u.volume_id.clone(), u.volume_name.clone());
        let v = known.entry(u.volume_id.clone()).or_default();
        let entries = u
            .keep
            .iter()
            .map(|k| &k.entry)
            .chain(u.delete.iter().map(|d| &d.entry));
        for e in entries {
            let k = v.entry(e.id.clone()).or_default();
            k.at = answered_at(&c.policy.id, e.name.as_deref(), e.created_at);
            k.created = e.created_at.or(k.at);
            k.now = true;
        }
        owned_now.insert(&u.volume_id, u.keep.len() + u.delete.len());
    }
    for (_, run) in &history.runs {
        for rp in run.policies.iter().filter(|rp| rp.id == p.id) {
            for u in &rp.units {
                names
                    .entry(u.volume_id.clone())
                    .or_insert_with(|| u.volume_name.clone());
                let v = known.entry(u.volume_id.clone()).or_default();
                let seen = u.created.iter().chain(&u.kept).chain(&u.deleted);
                for e in seen {
                    let k = v.entry(e.id.clone()).or_default();
                    if k.at.is_none() {
                        k.at = answered_at(&c.policy.id, e.name.as_deref(), e.created_at);
                        k.created = e.created_at.or(k.at);
                    }
                }
                for e in &u.deleted {
                    if let Some(k) = v.get_mut(&e.id) {
                        k.pruned = true;
                    }
                }
            }
            for d in &rp.drills {
                let s = drills.entry(d.volume_id.clone()).or_default();
                if d.status == "ok" {
                    s.passed += 1;
                    s.last_success_at = d.started_at.max(s.last_success_at);
                } else {
                    s.failed += 1;
                }
                s.restore_seconds.extend(d.restore_seconds);
            }
        }
    }
    Collected {
        known,
        names,
        drills,
        owned_now,
        selected,
    }
}

/// A volume's ticks judged from what is known of its snapshots, their counts, and its RPO.
fn judged(
    c: &Compiled,
    history: &History,
    snaps: &BTreeMap<String, Known>,
    ticks_of: &[Timestamp],
    (since, until): (Timestamp, Timestamp),
) -> (Vec<Tick>, Counts, i64) {
    let runs_after = |t: Timestamp| history.runs.iter().any(|(at, _)| *at >= t);
    let mut answering: BTreeMap<Timestamp, (TickStatus, String)> = BTreeMap::new();
    let mut times: Vec<Timestamp> = Vec::new();
    for (id, k) in snaps {
        let Some(at) = k.at else { continue };
        if let Some(taken) = k.created.filter(|t| *t >= since && *t <= until) {
            times.push(taken);
        }
        let Some(tick) = c.cadence.last_tick(at, &c.timezone) else {
            continue;
        };
        let status = if k.now {
            TickStatus::Met
        } else if k.pruned {
            TickStatus::Pruned
        } else {
            TickStatus::Lost
        };
        let better = answering.get(&tick).is_none_or(|(s, _)| status < *s);
        if better {
            answering.insert(tick, (status, id.clone()));
        }
    }
    let mut counts = Counts::default();
    let last = ticks_of.last().copied();
    let ticks: Vec<Tick> = ticks_of
        .iter()
        .map(|t| {
            let (status, snapshot_id) = match answering.get(t) {
                Some((s, id)) => (*s, Some(id.clone())),
                None if Some(*t) == last && !runs_after(*t) => (TickStatus::Pending, None),
                None if history.from.is_some_and(|from| from <= *t) => (TickStatus::Missed, None),
                None => (TickStatus::Unknown, None),
            };
            counts.add(status);
            Tick {
                at: Some(*t),
                status,
                snapshot_id,
            }
        })
        .collect();
    times.sort();
    let rpo_seconds = rpo(&times, since, until);
    (ticks, counts, rpo_seconds)
}

/// Build the report of `compiled` (the chosen policies) for `[since, until]` from `plan` (what
/// the clouds hold now, planned at `until`) and `history`.
pub fn build_coverage(
    compiled: &[Compiled],
    plan: &FleetPlan,
    history: &History,
    since: Timestamp,
    until: Timestamp,
) -> Coverage {
    let mut policies = Vec::new();
    let mut totals = Totals::default();
    for p in &plan.policies {
        let Some(c) = compiled.iter().find(|c| c.policy.id == p.id) else {
            continue;
        };
        let Collected {
            known,
            names,
            mut drills,
            owned_now,
            selected,
        } = collect(c, p, history);
        let ticks_of = ticks(c, since, until);
        let mut volumes = Vec::new();
        for (volume_id, snaps) in &known {
            let (ticks, counts, rpo_seconds) = judged(c, history, snaps, &ticks_of, (since, until));
            let owned = owned_now.get(volume_id.as_str()).copied().unwrap_or(0);
            let volume = VolumeCoverage {
                volume_id: volume_id.clone(),
                volume_name: names.get(volume_id).cloned().flatten(),
                selected_now: selected.contains(volume_id.as_str()),
                ticks,
                counts,
                rpo_seconds,
                owned_now: owned,
                retention_held: owned >= c.min.max(1),
                drills: drills.remove(volume_id).unwrap_or_default(),
                copies: if selected.contains(volume_id.as_str()) {
                    copies_of(p, volume_id, until)
                } else {
                    vec![]
                },
            };
            totals.copies_missing += volume
                .copies
                .iter()
                .filter(|c| !c.present && c.error.is_none())
                .count();
            totals.copies_unknown += volume.copies.iter().filter(|c| c.error.is_some()).count();
            totals.volumes += 1;
            totals.ticks.merge(&volume.counts);
            totals.worst_rpo_seconds = totals.worst_rpo_seconds.max(Some(volume.rpo_seconds));
            totals.retention_short += usize::from(volume.selected_now && !volume.retention_held);
            totals.drills_passed += volume.drills.passed;
            totals.drills_failed += volume.drills.failed;
            for s in &volume.drills.restore_seconds {
                if totals.slowest_restore_seconds.is_none_or(|m| *s > m) {
                    totals.slowest_restore_seconds = Some(*s);
                }
            }
            volumes.push(volume);
        }
        policies.push(PolicyCoverage {
            id: p.id.clone(),
            provider: p.provider,
            interval_seconds: p.interval_seconds,
            error: p.error.clone(),
            volumes,
        });
    }
    totals.answered_share = totals.ticks.answered_share();
    Coverage {
        schema: COVERAGE_SCHEMA,
        since: Some(since),
        until: Some(until),
        history_from: history.from,
        history_runs: history.runs.len(),
        history_unreadable: history.unreadable.clone(),
        totals,
        policies,
    }
}

/// What each destination of `p` holds of `volume` now (from the plan's listing of it).
fn copies_of(p: &super::plan::PolicyPlan, volume: &str, until: Timestamp) -> Vec<CopyCoverage> {
    let recent = jiff::SignedDuration::from_secs(
        i64::try_from(p.interval_seconds.saturating_mul(2)).unwrap_or(i64::MAX),
    );
    p.copies
        .iter()
        .map(|d| {
            if let Some(e) = &d.error {
                // Not read is not none: unknown, with why.
                return CopyCoverage {
                    region: d.region.clone(),
                    copies: None,
                    newest: None,
                    present: false,
                    error: Some(e.clone()),
                };
            }
            let held = d.held.iter().find(|h| h.volume_id == volume);
            let newest = held.and_then(|h| h.newest);
            CopyCoverage {
                region: d.region.clone(),
                copies: Some(held.map_or(0, |h| h.copies)),
                newest,
                present: newest.is_some_and(|t| until.duration_since(t) <= recent),
                error: None,
            }
        })
        .collect()
}

/// The longest gap between consecutive `times` (sorted), the last one to `until` included; the
/// whole window when there are none.
fn rpo(times: &[Timestamp], since: Timestamp, until: Timestamp) -> i64 {
    let Some(last) = times.last() else {
        return until.duration_since(since).as_secs();
    };
    let inner = times
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).as_secs())
        .max()
        .unwrap_or(0);
    inner.max(until.duration_since(*last).as_secs())
}

#[cfg(test)]
mod tests {
    use super::render::*;
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        for hostile in ["\t=HYPERLINK(1)", "\n=1+1", " +1", "\r\n@SUM(A1)", "\t-2"] {
            assert!(csv_cell(hostile).starts_with('\''), "{hostile:?}");
        }
        assert_eq!(csv_cell("line\nbreak"), "line break");
    }

    #[test]
    fn html_text_is_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script> & \""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;"
        );
    }

    #[test]
    fn rpo_is_the_longest_gap_the_last_to_now_included() {
        let t = |h: i64| Timestamp::from_second(h * 3600).expect("ts");
        assert_eq!(rpo(&[t(1), t(2), t(6)], t(0), t(7)), 4 * 3600);
        assert_eq!(rpo(&[t(1), t(2)], t(0), t(9)), 7 * 3600);
        assert_eq!(rpo(&[], t(0), t(9)), 9 * 3600);
    }

    #[test]
    fn the_history_keeps_what_is_young_enough() {
        let dir = tempfile::tempdir().expect("tempdir");
        let history = dir.path().join("history");
        let report = RunReport {
            schema: super::super::outcome::REPORT_SCHEMA,
            started_at: None,
            finished_at: None,
            refused: None,
            policies: vec![],
        };
        let day = |d: i64| Timestamp::from_second(1_790_000_000 + d * 86_400).expect("ts");
        for d in 0..5 {
            record_history(&history, day(d), &report, 2 * 86_400).expect("recorded");
        }
        let kept: Vec<Timestamp> = runs(&history)
            .expect("runs")
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(kept, vec![day(2), day(3), day(4)]);
        let h = read_history(Some(&history), day(3), day(4)).expect("read");
        assert_eq!(h.runs.len(), 2);
        assert_eq!(h.from, Some(day(2)));
    }
}
