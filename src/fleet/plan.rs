//! Planning, without I/O: which volumes a policy selects, and for each selected volume (a *unit*)
//! whether a snapshot is due, which owned snapshots the retention deletes and keeps (with the
//! reasons), and which marked snapshots belong to a policy the file no longer has (orphans).

use std::collections::BTreeSet;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::cadence::Cadence;
use super::file::{Checked, Policy, Range, Selector};
use super::mark;
use crate::engine::retention::{CalendarSpan, Kept, plan};
use crate::engine::unit::{Doomed, Orphan, Repair, Unit};
use crate::error::Result;
use crate::kind::ProviderKind;
use crate::model::{Snapshot, SnapshotState, Volume};

/// Schema name of `policy plan -o json` (and of a saved plan).
pub const PLAN_SCHEMA: &str = "snapctl.policy-plan/v1";

/// A policy ready to plan: the file's text turned into values.
#[derive(Debug)]
pub struct Compiled {
    /// As written.
    pub policy: Policy,
    /// Its cadence.
    pub cadence: Cadence,
    /// Retention rules in `rotate`'s form.
    pub keep: crate::engine::retention::Policy,
    /// The floor.
    pub min: usize,
    /// Selection regexes (include, exclude).
    select_re: Option<regex_lite::Regex>,
    exclude_re: Option<regex_lite::Regex>,
    /// How many volumes must be selected.
    pub expect: Option<Range>,
    /// Freshness thresholds in seconds (given or from the cadence).
    pub warn: Option<u64>,
    /// CRITICAL threshold.
    pub crit: Option<u64>,
    /// Hook timeout.
    pub hook_timeout: std::time::Duration,
    /// The file's zone.
    pub timezone: TimeZone,
    /// Its restore drills, checked.
    pub drill: Option<super::file::DrillTimes>,
    /// Where the drills keep their state (the file's `state_dir`; the command layer fills in
    /// the default for a policy with a drill).
    pub state_dir: Option<std::path::PathBuf>,
    /// With `state = "s3://…"`: the bucket `state_dir` mirrors (every save is pushed there).
    pub state_mirror: Option<std::sync::Arc<crate::store::Mirror>>,
    /// Its copies in other Regions, compiled (`copy`).
    pub copies: Vec<CopyDest>,
    /// Longest a run waits for its copies (`copy_budget`).
    pub copy_budget: std::time::Duration,
}

/// One `copy` entry, compiled: where copies go and what is kept there.
#[derive(Debug)]
pub struct CopyDest {
    /// The destination Region.
    pub region: String,
    /// The destination account's profile.
    pub profile: String,
    /// The source account's bucket the images pass through.
    pub bucket: String,
    /// Retention at the destination.
    pub keep: crate::engine::retention::Policy,
    /// Never fewer copies of a volume there than this (at least 1).
    pub min: usize,
    /// Longest one copy may take.
    pub timeout: std::time::Duration,
    /// The destination's connection, once the command layer made it.
    pub link: CopyLink,
}

/// A destination's connection (or why there is none), set once by the command layer.
#[derive(Default)]
pub struct CopyLink(
    std::sync::OnceLock<std::result::Result<std::sync::Arc<dyn crate::provider::Provider>, String>>,
);

impl std::fmt::Debug for CopyLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0.get() {
            None => "CopyLink(unset)",
            Some(Ok(_)) => "CopyLink(connected)",
            Some(Err(_)) => "CopyLink(failed)",
        })
    }
}

impl CopyLink {
    /// Set it (the first value stays).
    pub fn set(
        &self,
        link: std::result::Result<std::sync::Arc<dyn crate::provider::Provider>, String>,
    ) {
        let _ = self.0.set(link);
    }

    /// The connection, or why there is none.
    pub fn get(
        &self,
    ) -> std::result::Result<&std::sync::Arc<dyn crate::provider::Provider>, String> {
        match self.0.get() {
            Some(Ok(p)) => Ok(p),
            Some(Err(e)) => Err(e.clone()),
            None => Err("the destination was not connected".into()),
        }
    }
}

/// The retention rules of a `keep` table in `rotate`'s form.
fn retention(
    k: &super::file::Keep,
    timezone: &TimeZone,
) -> Result<crate::engine::retention::Policy> {
    let span = |w: &Option<String>| {
        w.as_deref()
            .map(|w| CalendarSpan::parse(&w.replace("mo", "m")))
            .transpose()
            .map_err(crate::error::Error::usage)
    };
    Ok(crate::engine::retention::Policy {
        keep_last: k.last,
        keep_hourly: k.hourly,
        keep_daily: k.daily,
        keep_weekly: k.weekly,
        keep_monthly: k.monthly,
        keep_yearly: k.yearly,
        keep_within: span(&k.within)?,
        timezone: timezone.clone(),
        ..crate::engine::retention::Policy::default()
    })
}

/// Turn every policy of a checked file into [`Compiled`] form (the checks already passed, so
/// nothing here can fail on a file `check` accepted).
pub fn compile(checked: &Checked) -> Result<Vec<Compiled>> {
    let timezone = match &checked.file.timezone {
        Some(tz) => TimeZone::get(tz).map_err(|e| crate::error::Error::usage(e.to_string()))?,
        None => TimeZone::UTC,
    };
    let mut out = Vec::new();
    for (i, p) in checked.file.policy.iter().enumerate() {
        let cadence = match (checked.every_secs[i], &p.cron) {
            (Some(s), _) => Cadence::Every(s),
            (None, Some(c)) => Cadence::cron(c).map_err(crate::error::Error::usage)?,
            (None, None) => unreachable!("check requires a cadence"),
        };
        let k = &p.keep;
        let keep = retention(k, &timezone)?;
        let mut copies = Vec::new();
        for d in &p.copy {
            let timeout = super::file::duration_secs(
                d.timeout
                    .as_deref()
                    .unwrap_or(super::file::DEFAULT_COPY_TIMEOUT),
            )
            .map_err(crate::error::Error::usage)?;
            copies.push(CopyDest {
                region: d.region.clone(),
                profile: d.profile.clone(),
                bucket: d.bucket.clone(),
                keep: retention(&d.keep, &timezone)?,
                min: d.keep.min.unwrap_or(1).max(1),
                timeout: std::time::Duration::from_secs(timeout),
                link: CopyLink::default(),
            });
        }
        let re = |s: Option<&Selector>| {
            s.and_then(|s| s.name_regex.as_deref())
                .map(|r| {
                    regex_lite::Regex::new(r).map_err(|e| crate::error::Error::usage(e.to_string()))
                })
                .transpose()
        };
        let (warn, crit) = checked.alerts[i];
        out.push(Compiled {
            policy: p.clone(),
            cadence,
            keep,
            min: k.min.unwrap_or(0),
            select_re: re(Some(&p.select))?,
            exclude_re: re(p.exclude.as_ref())?,
            expect: checked.expect[i],
            warn,
            crit,
            hook_timeout: std::time::Duration::from_secs(checked.hook_timeouts[i]),
            timezone: timezone.clone(),
            drill: checked.drills[i],
            state_dir: checked.file.state_dir.clone(),
            state_mirror: None,
            copies,
            copy_budget: std::time::Duration::from_secs(
                super::file::duration_secs(
                    p.copy_budget
                        .as_deref()
                        .unwrap_or(super::file::DEFAULT_COPY_BUDGET),
                )
                .map_err(crate::error::Error::usage)?,
            ),
        });
    }
    Ok(out)
}

impl Compiled {
    /// `(warn, crit)` ages: as given, else 1.5× and 2× the cadence's interval.
    pub fn thresholds(&self, now: Timestamp) -> (SignedDuration, SignedDuration) {
        let every = self.cadence.interval(now, &self.timezone).as_secs();
        let secs = |s: u64| SignedDuration::from_secs(i64::try_from(s).unwrap_or(i64::MAX));
        let warn = self.warn.map_or(secs(every as u64 * 3 / 2), secs);
        let crit = self.crit.map_or(secs(every as u64 * 2), secs).max(warn);
        (warn, crit)
    }

    /// Whether `v` is selected: every key given in `select` matches (list values: any of them),
    /// and `exclude`, when given, does not.
    pub fn selects(&self, v: &Volume) -> bool {
        matches(&self.policy.select, self.select_re.as_ref(), v)
            && !self
                .policy
                .exclude
                .as_ref()
                .is_some_and(|x| !is_empty(x) && matches(x, self.exclude_re.as_ref(), v))
    }
}

fn is_empty(s: &Selector) -> bool {
    s.ids.is_empty() && s.names.is_empty() && s.name_regex.is_none() && s.tags.is_empty()
}

fn matches(s: &Selector, re: Option<&regex_lite::Regex>, v: &Volume) -> bool {
    let name = v.name.as_deref();
    (s.ids.is_empty() || s.ids.contains(&v.id))
        && (s.names.is_empty() || name.is_some_and(|n| s.names.iter().any(|x| x == n)))
        && re.is_none_or(|re| name.is_some_and(|n| re.is_match(n)))
        && crate::provider::carries(v, &s.tags)
}

/// One policy's plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyPlan {
    /// Policy id.
    pub id: String,
    /// Provider.
    pub provider: Option<ProviderKind>,
    /// Volumes selected.
    pub selected: usize,
    /// Seconds between ticks.
    pub interval_seconds: u64,
    /// Why nothing is changed for this policy (`expect_volumes`).
    pub refused: Option<String>,
    /// Why none of this policy's snapshots is deleted this run (more deletions than its
    /// `max_delete`, or the run's over `--max-delete`): its due snapshots are still taken.
    #[serde(default)]
    pub deletions_refused: Option<String>,
    /// Why it could not be planned at all (connection, volume listing).
    pub error: Option<String>,
    /// One per selected volume.
    pub units: Vec<Unit>,
    /// Restore drills due this run (`drill`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drills: Vec<DrillPlan>,
    /// Volumes earlier drills left behind, deleted this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drill_cleanups: Vec<LeftOver>,
    /// Volumes with the policy's drill mark but not the cloud's proof: never deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drill_suspects: Vec<DrillSuspect>,
    /// Why the policy's drills could not be planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill_error: Option<String>,
    /// Copies in other Regions, one entry per destination (`copy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<CopyPlan>,
}

/// A drill the plan makes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DrillPlan {
    /// The volume drilled.
    pub volume_id: String,
    /// Its name.
    pub volume_name: Option<String>,
    /// The snapshot restored, as planned: the newest the policy keeps, or `None` when the run
    /// takes one first (the drill restores the newest owned snapshot when it runs).
    pub snapshot_id: Option<String>,
    /// Size of the volume the drill creates, in GiB (it exists, and is billed, while it runs).
    pub size_gib: Option<u64>,
}

/// One destination's copies as planned: what is due, what its retention deletes, what it holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CopyPlan {
    /// The destination Region.
    pub region: String,
    /// The bucket the images pass through.
    pub bucket: String,
    /// Copies to make, newest first.
    pub copies: Vec<DueCopy>,
    /// Copies there to delete, with why.
    pub delete: Vec<CopyDoomed>,
    /// What the destination holds per volume (complete copies).
    pub held: Vec<HeldCopies>,
    /// Copies carrying this policy's copy mark that are not this run's to prune (another
    /// account's, a volume the policy does not select, a mark without the account): left alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign: Vec<ForeignCopy>,
    /// Why the destination could not be planned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A copy with this policy's copy mark that the policy does not prune, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ForeignCopy {
    /// Its id there.
    pub id: String,
    /// The volume its mark names.
    pub volume_id: String,
    /// Why it is not this run's.
    pub reason: String,
}

/// A snapshot to copy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DueCopy {
    /// The source volume.
    pub volume_id: String,
    /// The snapshot, or `None` for the one this run takes.
    pub snapshot_id: Option<String>,
    /// The tick it answers.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub tick: Option<Timestamp>,
    /// Its size in GiB, when known.
    pub size_gib: Option<u64>,
}

/// A copy to delete at a destination.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CopyDoomed {
    /// The copy's id there.
    pub id: String,
    /// The source volume.
    pub volume_id: String,
    /// The tick its source snapshot answered.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub tick: Option<Timestamp>,
    /// Why it goes.
    pub reason: String,
    /// Its import failed (state `error`): deleted first, and its snapshot copied again.
    #[serde(default)]
    pub import_failed: bool,
}

/// What a destination holds of one volume.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeldCopies {
    /// The source volume.
    pub volume_id: String,
    /// Complete copies.
    pub copies: usize,
    /// The newest complete copy's tick (its source snapshot's time).
    #[serde(serialize_with = "crate::model::ser_time")]
    pub newest: Option<Timestamp>,
}

/// A volume an earlier drill left behind, to delete: it carries the policy's drill mark *and*
/// the cloud's record proves a drill of the policy made it (`fleet/drill/proof.rs`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeftOver {
    /// Its id.
    pub volume_id: String,
    /// Its name.
    pub name: Option<String>,
    /// The policy's snapshot the cloud says it was made from.
    #[serde(default)]
    pub source_snapshot_id: Option<String>,
}

/// A volume carrying a policy's drill mark without the cloud's proof that a drill made it:
/// shown, never deleted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DrillSuspect {
    /// Its id.
    pub volume_id: String,
    /// Its name.
    pub name: Option<String>,
    /// Why it is not deleted.
    pub reason: String,
}

/// A whole plan: what `policy plan` prints and `policy apply` carries out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FleetPlan {
    /// [`PLAN_SCHEMA`].
    pub schema: String,
    /// The time it was planned at.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub at: Option<Timestamp>,
    /// SHA-256 of the policy file it was planned from: `apply --plan` refuses a plan whose file
    /// changed since (absent in plans of older versions, which are refused too).
    #[serde(default)]
    pub file_sha256: Option<String>,
    /// Per policy.
    pub policies: Vec<PolicyPlan>,
}

impl FleetPlan {
    /// Creates and deletes the plan would make (refused policies make none).
    pub fn changes(&self) -> usize {
        self.policies
            .iter()
            .filter(|p| p.refused.is_none())
            .flat_map(|p| &p.units)
            .map(|u| u.delete.len() + u.repair.len() + usize::from(u.create.is_some()))
            .sum::<usize>()
            + self
                .policies
                .iter()
                .filter(|p| p.refused.is_none())
                .map(|p| {
                    p.drills.len()
                        + p.drill_cleanups.len()
                        + p.copies
                            .iter()
                            .map(|c| c.copies.len() + c.delete.len())
                            .sum::<usize>()
                })
                .sum::<usize>()
    }
}

/// How far ahead of the runner's clock a mark may be and still count as now: another runner's
/// clock a little ahead, not a snapshot dated in the future.
pub const FUTURE_ALLOWANCE: SignedDuration = SignedDuration::from_secs(60);

/// The retention's verdict with the floor applied (never fewer than `min` owned snapshots after
/// the run, the new one counted: the newest of the doomed are kept back), and the snapshot about
/// to be taken (`create`) left out of the kept list: what to delete and why, what to keep and why.
fn floored(
    c: &Compiled,
    p: crate::engine::retention::Plan,
    create: Option<&str>,
    candidates: usize,
) -> (Vec<Doomed>, Vec<Kept>) {
    let mut keep: Vec<Kept> = p
        .keep
        .into_iter()
        .filter(|k| create != Some(k.entry.id.as_str()))
        .collect();
    let mut delete = p.delete;
    // The floor: never fewer than `min` owned snapshots after the run (counting the new one).
    delete.sort_by_key(|s| std::cmp::Reverse(s.created_at));
    let kept_after = candidates - delete.len();
    let short = c.min.saturating_sub(kept_after).min(delete.len());
    for s in delete.drain(..short) {
        keep.push(Kept {
            entry: (&s).into(),
            reasons: vec![format!("min {}", c.min)],
        });
    }
    let rules = c.keep.describe();
    let delete = delete
        .iter()
        .map(|s| Doomed {
            entry: s.into(),
            reason: format!("no rule keeps it ({rules})"),
        })
        .collect();
    keep.sort_by_key(|k| std::cmp::Reverse(k.entry.created_at));
    (delete, keep)
}

/// The owned, available snapshots kept this run whose `Name` is not their mark's (lost or
/// edited, and not another of this policy's names): the name each gets back.
fn repairs(id: &str, owned: &[Snapshot], doomed: &BTreeSet<&str>) -> Vec<Repair> {
    owned
        .iter()
        .filter_map(|s| {
            let at = mark::tick(s).or(s.created_at)?;
            let want = mark::name(id, at);
            (s.name.as_deref() != Some(want.as_str())
                && s.state == SnapshotState::Available
                && !doomed.contains(s.id.as_str())
                && s.name
                    .as_deref()
                    .is_none_or(|n| !n.starts_with(&format!("snapctl.{id}."))))
            .then(|| Repair {
                entry: s.into(),
                new_name: want,
            })
        })
        .collect()
}

/// Plan one unit from its listing.
pub fn plan_unit(
    c: &Compiled,
    known: &BTreeSet<&str>,
    kind: ProviderKind,
    volume: &Volume,
    listed: Result<Vec<Snapshot>>,
    now: Timestamp,
) -> Unit {
    let mut unit = Unit::empty(&volume.id, volume.name.clone());
    let all = match listed {
        Ok(all) => all,
        Err(e) => {
            unit.error = Some(e.to_string());
            return unit;
        }
    };
    let id = c.policy.id.as_str();
    let mut owned: Vec<Snapshot> = Vec::new();
    for s in all {
        match mark::owner(&s) {
            Some(o) if o == id => owned.push(s),
            Some(o) if !known.contains(o) => unit.orphans.push(Orphan {
                entry: (&s).into(),
                policy_id: o.to_string(),
            }),
            _ => {}
        }
    }
    unit.owned = owned.len();
    unit.newest = owned
        .iter()
        .filter(|s| s.state == SnapshotState::Available)
        .filter_map(|s| s.created_at)
        .filter(|t| *t <= now)
        .max();
    // Due when no owned snapshot (ready or on its way) answers the last tick. What a snapshot
    // answers is the tick in its mark (the cloud's `created_at` only where the mark has no time),
    // so a cloud clock a few seconds behind the runner's never makes a second snapshot.
    let tick = c.cadence.last_tick(now, &c.timezone);
    let marked = |s: &Snapshot| mark::tick(s).or(s.created_at);
    for s in &owned {
        if marked(s).is_some_and(|t| t > now + FUTURE_ALLOWANCE) {
            unit.future.push(s.into());
        }
    }
    // A snapshot still being made with no time yet counts too: never a second one behind it. A
    // future-dated one (a hand-made name, a run with `--at` ahead) answers nothing.
    let answered = owned.iter().any(|s| match (s.state, marked(s), tick) {
        (SnapshotState::Error, _, _) => false,
        (SnapshotState::Creating, None, _) => true,
        (_, Some(t), Some(k)) => t >= k && t <= now + FUTURE_ALLOWANCE,
        _ => false,
    });
    let mut candidates = owned.clone();
    if !answered {
        let name = mark::name(id, tick.unwrap_or(now));
        unit.create = Some(name.clone());
        unit.due_since = tick;
        // Plan with the snapshot about to be taken, as the real run sees it after taking it.
        candidates.push(Snapshot {
            provider: kind,
            id: name.clone(),
            volume_id: Some(volume.id.clone()),
            name: Some(name),
            description: None,
            state: SnapshotState::Available,
            provider_state: None,
            kind: crate::model::SnapshotKind::Manual,
            created_at: Some(now),
            size_gib: None,
            expires_at: None,
        });
    }
    let p = plan(&candidates, &c.keep, now);
    let doomed: BTreeSet<&str> = p.delete.iter().map(|s| s.id.as_str()).collect();
    // Where the description alone proves ownership, the name is only a label: repair it.
    if crate::providers::entry(kind).marking.proof == crate::kind::MarkProof::Description {
        unit.repair = repairs(id, &owned, &doomed);
    }
    (unit.delete, unit.keep) = floored(c, p, unit.create.as_deref(), candidates.len());
    unit
}

/// Plan `unit` again from a newer listing of its volume (taken under the volume's lock).
pub fn replan(
    c: &Compiled,
    known: &BTreeSet<&str>,
    kind: ProviderKind,
    unit: &Unit,
    listed: Result<Vec<Snapshot>>,
    now: Timestamp,
) -> Unit {
    let volume = Volume {
        provider: kind,
        id: unit.volume_id.clone(),
        name: unit.volume_name.clone(),
        size_gib: None,
        state: crate::model::VolumeState::Unknown,
        provider_state: None,
        created_at: None,
        tags: Default::default(),
        description: None,
        source_snapshot: None,
    };
    plan_unit(c, known, kind, &volume, listed, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::retention::Entry;
    use crate::engine::unit::{gate, narrow};
    use crate::model::SnapshotKind;
    use std::path::Path;

    fn compiled(text: &str) -> Vec<Compiled> {
        let checked = crate::fleet::file::check(Path::new("t.toml"), text).expect("valid");
        compile(&checked).expect("compiles")
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("ts")
    }

    fn owned(policy: &str, at: &str) -> Snapshot {
        let t = ts(at);
        Snapshot {
            provider: ProviderKind::OvhEfs,
            id: format!("{policy}-{}", t.as_second()),
            volume_id: Some("v".into()),
            name: Some(mark::name(policy, t)),
            description: Some(mark::description(policy)),
            state: SnapshotState::Available,
            provider_state: None,
            kind: SnapshotKind::Manual,
            created_at: Some(t),
            size_gib: None,
            expires_at: None,
        }
    }

    fn volume() -> Volume {
        Volume {
            provider: ProviderKind::OvhEfs,
            id: "v".into(),
            name: Some("appdata".into()),
            size_gib: None,
            state: crate::model::VolumeState::Available,
            provider_state: None,
            created_at: None,
            tags: Default::default(),
            description: None,
            source_snapshot: None,
        }
    }

    const ONE: &str = "[[policy]]\nid = \"p\"\nprovider = \"ovh-efs\"\nevery = \"1h\"\nselect = { names = [\"appdata\"] }\nkeep = { last = 1, min = 3 }\n";

    #[test]
    fn due_once_per_tick_and_the_floor_holds() {
        let c = compiled(ONE);
        let known = BTreeSet::from(["p"]);
        let snaps = vec![
            owned("p", "2026-11-25T15:00:05Z"),
            owned("p", "2026-11-25T16:00:05Z"),
            owned("p", "2026-11-25T17:00:05Z"),
            owned("p", "2026-11-25T14:00:05Z"),
        ];
        // Within the 17:00 tick: nothing due; last = 1 would keep one, min = 3 keeps three.
        let u = plan_unit(
            &c[0],
            &known,
            ProviderKind::OvhEfs,
            &volume(),
            Ok(snaps.clone()),
            ts("2026-11-25T17:30:00Z"),
        );
        assert_eq!(u.create, None);
        assert_eq!(u.delete.len(), 1, "{u:?}");
        assert_eq!(u.delete[0].entry.id, snaps[3].id, "the oldest goes");
        assert_eq!(u.keep.len(), 3);
        assert!(u.keep.iter().any(|k| k.reasons == ["min 3"]));
        // Past 18:00 a snapshot is due, and it counts towards the floor.
        let u = plan_unit(
            &c[0],
            &known,
            ProviderKind::OvhEfs,
            &volume(),
            Ok(snaps),
            ts("2026-11-25T18:00:01Z"),
        );
        assert_eq!(
            u.create.as_deref(),
            Some("snapctl.p.20261125T180000Z"),
            "named after its tick"
        );
        assert_eq!(u.due_since, Some(ts("2026-11-25T18:00:00Z")));
        assert_eq!(u.delete.len(), 2, "{u:?}");
    }

    #[test]
    fn a_newer_listing_only_narrows_and_the_gate_guards_every_delete() {
        let c = compiled(ONE.replace("last = 1, min = 3", "last = 1").as_str());
        let known = BTreeSet::from(["p"]);
        let now = ts("2026-11-25T18:00:01Z");
        let older = vec![
            owned("p", "2026-11-25T16:00:05Z"),
            owned("p", "2026-11-25T17:00:05Z"),
        ];
        let planned = plan_unit(
            &c[0],
            &known,
            ProviderKind::OvhEfs,
            &volume(),
            Ok(older.clone()),
            now,
        );
        assert!(planned.create.is_some());
        assert_eq!(planned.delete.len(), 2, "{planned:?}");
        // Another run answered the tick meanwhile: no create, and no deletion counted on it.
        let mut newer = older.clone();
        newer.push(owned("p", "2026-11-25T18:00:00Z"));
        let fresh = replan(
            &c[0],
            &known,
            ProviderKind::OvhEfs,
            &planned,
            Ok(newer),
            now,
        );
        assert!(
            fresh.create.is_none() && fresh.delete.len() == 2,
            "{fresh:?}"
        );
        let narrowed = narrow(&planned, fresh);
        assert_eq!(narrowed.create, None);
        assert!(narrowed.delete.is_empty(), "{narrowed:?}");
        assert_eq!(narrowed.keep.len(), 3);
        // Same answer about the create: only what both delete.
        let mut gone = older.clone();
        gone.remove(0);
        let fresh = replan(&c[0], &known, ProviderKind::OvhEfs, &planned, Ok(gone), now);
        let narrowed = narrow(&planned, fresh);
        assert!(narrowed.create.is_some());
        assert_eq!(narrowed.delete.len(), 1);
        assert_eq!(narrowed.delete[0].entry.id, older[1].id);
        // The gate: with the new snapshot confirmed, the plan's deletions pass.
        let new = Entry {
            id: "new".into(),
            name: None,
            created_at: Some(now),
        };
        assert_eq!(gate(c[0].min, &planned, Some(&new)), Ok(()));
        // Without it, deleting both would delete the newest and leave none.
        let err = gate(c[0].min, &planned, None).unwrap_err();
        assert!(err.contains("fewer than 1"), "{err}");
        let mut one = planned.clone();
        one.delete.retain(|d| d.entry.id == older[1].id);
        let err = gate(c[0].min, &one, None).unwrap_err();
        assert!(err.contains("newest"), "{err}");
        // min counts: two owned plus the new one, min 3, nothing may go.
        let c3 = compiled(ONE);
        assert!(gate(c3[0].min, &one, Some(&new)).is_err());
    }

    #[test]
    fn other_policies_snapshots_are_never_candidates() {
        let c = compiled(ONE);
        let known = BTreeSet::from(["p", "q"]);
        let mut hand = owned("p", "2026-11-20T00:00:00Z");
        hand.description = Some("made by hand".into());
        let snaps = vec![
            owned("q", "2026-11-20T00:00:00Z"),
            owned("gone", "2026-11-21T00:00:00Z"),
            hand,
            owned("p", "2026-11-25T17:00:05Z"),
        ];
        let u = plan_unit(
            &c[0],
            &known,
            ProviderKind::OvhEfs,
            &volume(),
            Ok(snaps),
            ts("2026-11-25T17:30:00Z"),
        );
        assert_eq!(u.owned, 1);
        assert!(u.delete.is_empty());
        assert_eq!(u.orphans.len(), 1);
        assert_eq!(u.orphans[0].policy_id, "gone");
    }

    #[test]
    fn a_failed_listing_plans_nothing() {
        let c = compiled(ONE);
        let u = plan_unit(
            &c[0],
            &BTreeSet::from(["p"]),
            ProviderKind::OvhEfs,
            &volume(),
            Err(crate::error::Error::usage("boom")),
            ts("2026-11-25T17:30:00Z"),
        );
        assert!(
            u.error.is_some() && u.create.is_none() && u.delete.is_empty() && u.newest.is_none()
        );
    }

    #[test]
    fn selectors_and_exclusions() {
        let c = compiled(
            "[[policy]]\nid = \"p\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = { name_regex = \"^db-\", tags = { backup = \"gold\" } }\nexclude = { names = [\"db-scratch\"] }\nkeep = { last = 1 }\n",
        );
        let vol = |name: &str, gold: bool| Volume {
            name: Some(name.into()),
            tags: if gold {
                [("backup".to_string(), "gold".to_string())].into()
            } else {
                Default::default()
            },
            ..volume()
        };
        assert!(c[0].selects(&vol("db-data", true)));
        assert!(!c[0].selects(&vol("db-data", false)), "tags AND the regex");
        assert!(!c[0].selects(&vol("web", true)));
        assert!(!c[0].selects(&vol("db-scratch", true)), "exclude wins");
    }
}
