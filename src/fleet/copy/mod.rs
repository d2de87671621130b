//! Copies in other Regions (`copy = [{ region, profile, bucket, keep }]`, OUTSCALE): every owned
//! snapshot the policy keeps is exported to a bucket of the source account
//! (`CreateSnapshotExportTask`, under `snapctl/<policy>/<region>/<snapshot>/`), the image gets a
//! pre-signed GET (SigV4, the source keys, an hour), the destination account imports it
//! (`CreateSnapshot` with `FileLocation` and `SnapshotSize`) with the mark carried over, and the
//! image is deleted once the import is complete. A pre-signed URL is a credential: it goes into
//! the import request and nowhere else (no output, log, error or report).
//!
//! The destination has its own retention, planned by `rotate`'s rules over the copies' ticks (the
//! source snapshots' times) and deleted under the same ownership rules: a copy is deleted only
//! when its description carries the copy mark of this policy and this source Region, it is
//! complete, it is not the newest of its volume there, and `min` stay. A copy that failed at any
//! step is resumed by the next run: a snapshot with no copy at a destination is due again (newest
//! first), an export already made is reused, an import that failed is deleted and made again.
//!
//! Copies run after the account's snapshots are taken (so this run's snapshot is copied), one
//! policy's destinations one after the other, under a per-policy lock.

mod run;
pub use run::carry_out;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::mark;
use super::plan::{Compiled, CopyDest, CopyDoomed, CopyPlan, DueCopy, ForeignCopy, HeldCopies};
use crate::error::Result;
use crate::model::{Snapshot, SnapshotState};
use crate::provider::Provider;
use crate::wait::WaitOptions;

/// The copy mark's head: `snapctl:v1 copy policy=<id> tick=<T> vol=<volume> of=<snapshot>
/// from=<region> acct=<source account>` (copies made before the account was written end at
/// `from=`). Not the snapshot mark (`snapctl:v1 policy=`): no policy ever takes a copy
/// for one of its own snapshots.
const PREFIX: &str = "snapctl:v1 copy policy=";

/// Tag carrying the policy id on a copy (besides `Name`).
pub const TAG_KEY: &str = "snapctl:copy";

/// How long a pre-signed URL of an image stays valid: the destination starts reading at once.
pub const URL_TTL_SECONDS: u64 = 3600;

/// A copy's description mark (written once, by the import that creates the copy: a snapshot's
/// description cannot be edited afterwards).
pub fn description(
    policy: &str,
    tick: Timestamp,
    (volume, of): (&str, &str),
    (from, account): (&str, &str),
) -> String {
    format!(
        "{PREFIX}{policy} tick={} vol={volume} of={of} from={from} acct={account}",
        crate::model::stamp(tick)
    )
}

/// What a copy's mark says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The policy.
    pub policy: String,
    /// The tick of the snapshot copied.
    pub tick: Timestamp,
    /// Its volume.
    pub volume: String,
    /// The snapshot copied.
    pub of: String,
    /// Its Region.
    pub from: String,
    /// Its account (`None`: a copy made before marks carried it).
    pub account: Option<String>,
}

/// The mark in a description, if it is exactly one.
pub fn parse(d: &str) -> Option<Mark> {
    let rest = d.strip_prefix(PREFIX)?;
    let mut words = rest.split(' ');
    let policy = words.next()?;
    let mut field = |key: &str| words.next()?.strip_prefix(key).map(str::to_string);
    let tick = crate::model::parse_stamp(&field("tick=")?)?;
    let volume = field("vol=")?;
    let of = field("of=")?;
    let from = field("from=")?;
    let account = match words.next() {
        None => None,
        Some(w) => Some(w.strip_prefix("acct=")?.to_string()),
    };
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    (words.next().is_none()
        && mark::valid_id(policy)
        && plain(&volume)
        && plain(&of)
        && plain(&from)
        && account.as_deref().is_none_or(plain))
    .then(|| Mark {
        policy: policy.to_string(),
        tick,
        volume,
        of,
        from,
        account,
    })
}

/// Where one snapshot's image goes in the bucket.
pub fn object_prefix(policy: &str, region: &str, snapshot: &str) -> String {
    format!("snapctl/{policy}/{region}/{snapshot}/")
}

/// The snapshot a listed object's `key` belongs to, when the key is exactly under `base` (the
/// policy's `snapctl/<policy>/<region>/`) and inside a snapshot's own folder
/// (`<base><snapshot>/<name>`); `None` for anything else. A key is server text: it is never
/// sliced by position (a short key, or one cut inside a character, must not panic).
pub fn snapshot_of_key<'a>(key: &'a str, base: &str) -> Option<&'a str> {
    let (snapshot, name) = key.strip_prefix(base)?.split_once('/')?;
    (!snapshot.is_empty() && !name.is_empty()).then_some(snapshot)
}

/// Keep the objects listed under `prefix` that really are under it (a listing is the server's
/// word); warn about each other one, which is never read, imported or deleted.
pub fn only_under(
    objects: Vec<crate::model::StoredObject>,
    prefix: &str,
) -> Vec<crate::model::StoredObject> {
    objects
        .into_iter()
        .filter(|o| {
            let inside = o
                .key
                .strip_prefix(prefix)
                .is_some_and(|rest| !rest.is_empty());
            if !inside {
                eprintln!(
                    "warning: the bucket listed {:?} under {prefix}, where it is not: skipped",
                    crate::text::one_line(&o.key, 200)
                );
            }
            inside
        })
        .collect()
}

/// A source snapshot a copy can be made of.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its volume.
    pub volume_id: String,
    /// Its id (`None`: the snapshot this run takes).
    pub id: Option<String>,
    /// The tick it answers.
    pub tick: Timestamp,
    /// Its size in GiB.
    pub size_gib: Option<u64>,
}

/// The owned, complete snapshots of `policy` in `listed`, as copy sources.
pub fn sources(policy: &str, listed: &[Snapshot], now: Timestamp) -> Vec<Source> {
    listed
        .iter()
        .filter(|s| mark::owner(s) == Some(policy) && s.state == SnapshotState::Available)
        .filter_map(|s| {
            let tick = mark::tick(s).or(s.created_at)?;
            let volume_id = s.volume_id.clone()?;
            (tick <= now + Duration::from_secs(60)).then(|| Source {
                volume_id,
                id: Some(s.id.clone()),
                tick,
                size_gib: s.size_gib,
            })
        })
        .collect()
}

/// A copy at a destination.
#[derive(Debug, Clone)]
pub struct Held {
    /// Its id there.
    pub id: String,
    /// Its state.
    pub state: SnapshotState,
    /// Its mark.
    pub mark: Mark,
}

/// The copies `dst` holds of `policy`'s snapshots from Region `from`.
pub async fn held(dst: &dyn Provider, policy: &str, from: &str) -> Result<Vec<Held>> {
    Ok(dst
        .list_snapshots(None)
        .await?
        .into_iter()
        .filter_map(|s| {
            let mark = parse(s.description.as_deref()?)?;
            (mark.policy == policy && mark.from == from).then_some(Held {
                id: s.id,
                state: s.state,
                mark,
            })
        })
        .collect())
}

/// Which copies at a destination a policy's run may count and prune: those whose mark names
/// this source account, of volumes the policy selects.
#[derive(Debug, Clone)]
pub struct Whose {
    /// The source account (OUTSCALE `ReadAccounts`).
    pub account: String,
    /// The volumes the policy selects.
    pub selected: BTreeSet<String>,
}

impl Whose {
    /// Why a copy marked for this policy and Region is not this run's to prune, if it is not;
    /// `Ok(true)` for a copy made before marks carried the account (counted, never pruned).
    pub fn judge(&self, m: &Mark) -> std::result::Result<bool, String> {
        if !self.selected.contains(&m.volume) {
            return Err(format!(
                "its volume {} is not one this policy selects",
                m.volume
            ));
        }
        match m.account.as_deref() {
            Some(a) if a == self.account => Ok(false),
            Some(a) => Err(format!(
                "it was copied from account {a}, not from {}",
                self.account
            )),
            None => Ok(true),
        }
    }
}

/// Plan one destination: per volume the policy selects, the sources without a copy that its
/// retention would keep are due (newest first); the complete copies it would not keep are
/// deleted, never the newest and never below `min`; a failed import is deleted so it is made
/// again. Only copies from this account ([`Whose`]) are counted and pruned; a copy of a volume
/// the policy does not select, or from another account (two fleets with one policy id and one
/// DR account), is listed in `foreign` and left alone; one made before marks carried the account
/// is counted (its snapshot is not copied again) but never pruned.
pub fn plan_dest(
    kind: crate::kind::ProviderKind,
    d: &CopyDest,
    whose: &Whose,
    sources: &[Source],
    held: &[Held],
    now: Timestamp,
) -> CopyPlan {
    let mut out = CopyPlan {
        region: d.region.clone(),
        bucket: d.bucket.clone(),
        ..CopyPlan::default()
    };
    let (mut ours, mut legacy) = (Vec::new(), Vec::new());
    for h in held {
        match whose.judge(&h.mark) {
            Ok(false) => ours.push(h.clone()),
            Ok(true) => legacy.push(h.clone()),
            Err(reason) => out.foreign.push(ForeignCopy {
                id: h.id.clone(),
                volume_id: h.mark.volume.clone(),
                reason,
            }),
        }
    }
    for h in &legacy {
        out.foreign.push(ForeignCopy {
            id: h.id.clone(),
            volume_id: h.mark.volume.clone(),
            reason: "made before copies carried their source account: counted, never deleted by snapctl (delete it by hand once newer copies suffice)".into(),
        });
    }
    let volumes: BTreeSet<&str> = sources
        .iter()
        .map(|s| s.volume_id.as_str())
        .filter(|v| whose.selected.contains(*v))
        .chain(ours.iter().map(|h| h.mark.volume.as_str()))
        .collect();
    for volume in volumes {
        plan_volume(kind, d, volume, sources, (&ours, &legacy), now, &mut out);
    }
    out.copies = flow_order(std::mem::take(&mut out.copies));
    out
}

/// The order copies are made in: newest first per volume, round-robin across volumes (the
/// volume whose newest due copy is newest first), so every volume's newest recovery point lands
/// before an older one of any volume, however long one volume's backlog is. The snapshot this
/// run takes (no tick yet) counts as the newest.
pub fn flow_order(copies: Vec<DueCopy>) -> Vec<DueCopy> {
    let newest_first = |c: &DueCopy| std::cmp::Reverse(c.tick.unwrap_or(Timestamp::MAX));
    let mut by_volume: BTreeMap<String, Vec<DueCopy>> = BTreeMap::new();
    for c in copies {
        by_volume.entry(c.volume_id.clone()).or_default().push(c);
    }
    let mut queues: Vec<std::collections::VecDeque<DueCopy>> = by_volume
        .into_values()
        .map(|mut q| {
            q.sort_by_key(newest_first);
            q.into()
        })
        .collect();
    // Stable: volumes whose newest copies tie stay in id order.
    queues.sort_by_key(|q| q.front().map(newest_first));
    let mut out = Vec::new();
    while queues.iter().any(|q| !q.is_empty()) {
        for q in &mut queues {
            out.extend(q.pop_front());
        }
    }
    out
}

/// [`plan_dest`] for one volume.
fn plan_volume(
    kind: crate::kind::ProviderKind,
    d: &CopyDest,
    volume: &str,
    sources: &[Source],
    (held, legacy): (&[Held], &[Held]),
    now: Timestamp,
    out: &mut CopyPlan,
) {
    let mine: Vec<&Held> = held.iter().filter(|h| h.mark.volume == volume).collect();
    // A copy made before marks carried the account still answers its snapshot.
    let copied: BTreeSet<&str> = mine
        .iter()
        .copied()
        .chain(legacy.iter().filter(|h| h.mark.volume == volume))
        .filter(|h| h.state != SnapshotState::Error)
        .map(|h| h.mark.of.as_str())
        .collect();
    for h in mine.iter().filter(|h| h.state == SnapshotState::Error) {
        out.delete.push(CopyDoomed {
            id: h.id.clone(),
            volume_id: volume.to_string(),
            tick: Some(h.mark.tick),
            reason: "its import failed: deleted, and the snapshot is copied again".into(),
            import_failed: true,
        });
    }
    // The retention sees every copy, made or to make, at its source snapshot's time.
    // A copy still importing counts as made: it answers its tick.
    let mut candidates: Vec<Snapshot> = mine
        .iter()
        .filter(|h| h.state != SnapshotState::Error)
        .map(|h| candidate(kind, &h.id, h.mark.tick, SnapshotState::Available))
        .collect();
    let due: Vec<&Source> = sources
        .iter()
        .filter(|s| s.volume_id == volume)
        .filter(|s| s.id.as_deref().is_none_or(|id| !copied.contains(id)))
        .collect();
    for (i, s) in due.iter().enumerate() {
        candidates.push(candidate(
            kind,
            &format!("due:{i}"),
            s.tick,
            SnapshotState::Available,
        ));
    }
    let p = crate::engine::retention::plan(&candidates, &d.keep, now);
    let kept: BTreeSet<&str> = p.keep.iter().map(|k| k.entry.id.as_str()).collect();
    let made: Vec<DueCopy> = due
        .iter()
        .enumerate()
        .filter(|(i, _)| kept.contains(format!("due:{i}").as_str()))
        .map(|(_, s)| DueCopy {
            volume_id: volume.to_string(),
            snapshot_id: s.id.clone(),
            tick: Some(s.tick),
            size_gib: s.size_gib,
        })
        .collect();
    out.copies.extend(made);
    let complete: Vec<&&Held> = mine
        .iter()
        .filter(|h| h.state == SnapshotState::Available)
        .collect();
    let newest = complete.iter().map(|h| h.mark.tick).max();
    let newest_id = complete
        .iter()
        .max_by_key(|h| h.mark.tick)
        .map(|h| h.id.as_str());
    let mut doomed: Vec<&&Held> = complete
        .iter()
        .copied()
        .filter(|h| !kept.contains(h.id.as_str()) && Some(h.id.as_str()) != newest_id)
        .collect();
    // Oldest first, and only as many as leave `min` complete copies.
    doomed.sort_by_key(|h| h.mark.tick);
    doomed.truncate(complete.len().saturating_sub(d.min));
    for h in doomed {
        out.delete.push(CopyDoomed {
            id: h.id.clone(),
            volume_id: volume.to_string(),
            tick: Some(h.mark.tick),
            reason: "the destination's retention does not keep it".into(),
            import_failed: false,
        });
    }
    out.held.push(HeldCopies {
        volume_id: volume.to_string(),
        copies: complete.len(),
        newest,
    });
}

/// A copy (made or to make) as the retention planner sees it: at its source snapshot's time.
fn candidate(
    kind: crate::kind::ProviderKind,
    id: &str,
    tick: Timestamp,
    state: SnapshotState,
) -> Snapshot {
    Snapshot {
        provider: kind,
        id: id.to_string(),
        volume_id: None,
        name: None,
        description: None,
        state,
        provider_state: None,
        kind: crate::model::SnapshotKind::Manual,
        created_at: Some(tick),
        size_gib: None,
        expires_at: None,
    }
}

/// Each selected volume's snapshots that `c` owns, kept aside from the plan's listing for the
/// copies' plan (empty for a policy without `copy`).
pub fn owned(
    c: &Compiled,
    volumes: &[String],
    listed: &[Result<Vec<Snapshot>>],
) -> Vec<(String, Vec<Snapshot>)> {
    if c.copies.is_empty() {
        return vec![];
    }
    let id = c.policy.id.as_str();
    volumes
        .iter()
        .zip(listed)
        .filter_map(|(v, l)| {
            let owned = l
                .as_ref()
                .ok()?
                .iter()
                .filter(|s| mark::owner(s) == Some(id));
            Some((v.clone(), owned.cloned().collect()))
        })
        .collect()
}

/// The plan of every destination of `c` at plan time, from its volumes' `owned` snapshots and
/// its planned `units`: what the source deletes this run is not copied, the snapshot it takes is.
pub async fn plan(
    src: &dyn Provider,
    c: &Compiled,
    owned: Vec<(String, Vec<Snapshot>)>,
    units: &[crate::engine::unit::Unit],
    now: Timestamp,
) -> Vec<CopyPlan> {
    let from = src.scope();
    let doomed: BTreeSet<&str> = units
        .iter()
        .flat_map(|u| u.delete.iter().map(|d| d.entry.id.as_str()))
        .collect();
    let mut all: Vec<Source> = owned
        .iter()
        .flat_map(|(_, l)| sources(&c.policy.id, l, now))
        .filter(|s| s.id.as_deref().is_none_or(|id| !doomed.contains(id)))
        .collect();
    all.extend(units.iter().filter(|u| u.create.is_some()).map(|u| Source {
        volume_id: u.volume_id.clone(),
        id: None,
        tick: u.due_since.unwrap_or(now),
        size_gib: None,
    }));
    let whose = match whose(src, units.iter().map(|u| u.volume_id.clone())).await {
        Ok(w) => w,
        Err(e) => {
            return c
                .copies
                .iter()
                .map(|d| CopyPlan {
                    region: d.region.clone(),
                    bucket: d.bucket.clone(),
                    error: Some(e.clone()),
                    ..CopyPlan::default()
                })
                .collect();
        }
    };
    let mut out = Vec::new();
    for d in &c.copies {
        out.push(
            match survey(d, (&c.policy.id, &from), &whose, &all, now).await {
                Ok(p) => p,
                Err(e) => CopyPlan {
                    region: d.region.clone(),
                    bucket: d.bucket.clone(),
                    error: Some(e),
                    ..CopyPlan::default()
                },
            },
        );
    }
    out
}

/// What a copy's mark must name to be this run's ([`Whose`]): the source account, read from
/// the cloud (a copy's mark carries it), and the volumes selected.
pub async fn whose(
    src: &dyn Provider,
    selected: impl Iterator<Item = String>,
) -> std::result::Result<Whose, String> {
    let route = src
        .export_route()
        .ok_or_else(|| format!("{} has no export route: copies cannot be made", src.kind()))?;
    let account = route
        .account_id()
        .await
        .map_err(|e| format!("cannot read the source account id: {e}"))?
        .ok_or_else(|| {
            "cannot read the source account id (ReadAccounts was refused): a copy's mark names the account it came from, so copies need api:ReadAccounts on the source profile".to_string()
        })?;
    Ok(Whose {
        account,
        selected: selected.collect(),
    })
}

/// One destination's plan, from its own listing.
async fn survey(
    d: &CopyDest,
    (policy, from): (&str, &str),
    whose: &Whose,
    sources: &[Source],
    now: Timestamp,
) -> std::result::Result<CopyPlan, String> {
    let dst = d.link.get()?;
    if dst.scope() != d.region {
        return Err(format!(
            "profile {:?} is for region {}, not {}: name the destination account's profile",
            d.profile,
            dst.scope(),
            d.region
        ));
    }
    if from == d.region {
        return Err(format!(
            "the policy's own region is {from}: a copy goes to another one"
        ));
    }
    let held = held(dst.as_ref(), policy, from)
        .await
        .map_err(|e| {
            format!(
                "cannot list the copies in {} with profile {:?} (check that profile's keys and endpoint): {e}",
                d.region, d.profile
            )
        })?;
    Ok(plan_dest(dst.kind(), d, whose, sources, &held, now))
}

/// How a copy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyStatus {
    /// At the destination, complete; the image deleted.
    Ok,
    /// A step failed (the next run resumes it).
    Failed,
    /// A signal stopped it (the next run resumes it).
    Interrupted,
    /// Still on its way when the run's `copy_budget` was spent (its export or import goes on in
    /// the cloud; the next run resumes it where it stands).
    InFlight,
    /// Not started: the run's `copy_budget` was spent first (the next run starts it).
    Queued,
}

impl CopyStatus {
    /// Whether the copy is due still after this run (the backlog: not made, for any reason).
    pub fn is_backlog(self) -> bool {
        self != CopyStatus::Ok
    }
}

/// One copy made (or tried) this run.
#[derive(Debug, Clone, Serialize)]
pub struct CopyRun {
    /// The destination Region.
    pub region: String,
    /// The source volume.
    pub volume_id: String,
    /// The snapshot copied.
    pub snapshot_id: String,
    /// The copy's id at the destination, once imported.
    pub copy_id: Option<String>,
    /// How it ended.
    pub status: CopyStatus,
    /// The step it ended in (`export`, `find image`, `import`, `wait import`, `delete image`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<&'static str>,
    /// When its export was asked for (copies to one destination run `copy_concurrency` at once).
    #[serde(serialize_with = "crate::model::ser_time")]
    pub started_at: Option<Timestamp>,
    /// Seconds from the export request to the complete copy.
    pub seconds: f64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A copy deleted at a destination (or not).
#[derive(Debug, Clone, Serialize)]
pub struct CopyDeletion {
    /// The destination Region.
    pub region: String,
    /// The copy's id there.
    pub id: String,
    /// The source volume.
    pub volume_id: String,
    /// Why.
    pub reason: String,
    /// Whether it is gone.
    pub ok: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a destination holds after the run.
#[derive(Debug, Clone, Serialize)]
pub struct CopiesHeld {
    /// The destination Region.
    pub region: String,
    /// Per volume.
    #[serde(flatten)]
    pub held: HeldCopies,
}

/// A policy's copies this run.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Copies made or tried.
    pub runs: Vec<CopyRun>,
    /// Copies deleted at destinations.
    pub deletions: Vec<CopyDeletion>,
    /// What each destination holds now.
    pub held: Vec<CopiesHeld>,
    /// Why a destination could not be worked on.
    pub errors: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Server text (a listed key, a description, an error echoing a URL) of any shape,
        /// multi-byte characters and cut-off prefixes included, never panics what reads it.
        #[test]
        fn server_text_of_any_shape_never_panics(
            text in "\\PC{0,60}",
            base in "(snapctl/p/[a-zé-]{0,6}/?){0,1}",
        ) {
            let _ = parse(&text);
            let _ = snapshot_of_key(&text, &base);
            let _ = snapshot_of_key(&format!("{base}{text}"), &base);
            let _ = mark::parse_name(&text);
            let _ = crate::text::redact_signed_urls(&text);
        }

        /// Whatever surrounds it, a signature value never survives redaction.
        #[test]
        fn a_signature_never_survives_redaction(
            before in "\\PC{0,30}",
            after in "[ &\"'<>,;]\\PC{0,30}",
            key in "(X-Amz-Signature|x-amz-credential|X-AMZ-SECURITY-TOKEN)(=|%3D|%253D)",
        ) {
            let secret = "f00dfeedcafe0123456789abcdef";
            let text = format!("{before}{key}{secret}{after}");
            let red = crate::text::redact_signed_urls(&text);
            proptest::prop_assert!(!red.contains(secret), "{} -> {}", text, red);
        }
    }

    #[test]
    fn copies_flow_newest_first_per_volume_and_round_robin_across_volumes() {
        let t = |h: i64| Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(h);
        let due = |v: &str, h: Option<i64>| DueCopy {
            volume_id: v.into(),
            snapshot_id: Some(format!("{v}@{}", h.map_or("new".into(), |h| h.to_string()))),
            tick: h.map(t),
            size_gib: None,
        };
        // vol-a has a long backlog, vol-b one old copy, vol-c this run's snapshot and an old one.
        let planned = vec![
            due("vol-a", Some(10)),
            due("vol-a", Some(30)),
            due("vol-b", Some(5)),
            due("vol-a", Some(20)),
            due("vol-c", Some(1)),
            due("vol-c", None),
            due("vol-a", Some(40)),
        ];
        let order: Vec<String> = flow_order(planned)
            .into_iter()
            .filter_map(|c| c.snapshot_id)
            .collect();
        assert_eq!(
            order,
            [
                "vol-c@new",
                "vol-a@40",
                "vol-b@5", // every volume's newest first
                "vol-c@1",
                "vol-a@30", // then each one's next
                "vol-a@20",
                "vol-a@10",
            ]
        );
        assert!(flow_order(vec![]).is_empty());
    }

    #[test]
    fn a_listed_key_names_a_snapshot_only_inside_its_folder_and_never_panics() {
        let base = "snapctl/p/eu-west-2/";
        assert_eq!(
            snapshot_of_key("snapctl/p/eu-west-2/snap-1/disk.qcow2", base),
            Some("snap-1")
        );
        for hostile in [
            "",
            "x",
            "snapctl/p/",
            "snapctl/p/eu-west-2/",
            "snapctl/p/eu-west-2/snap-1",
            "snapctl/p/eu-west-2/snap-1/",
            "snapctl/p/eu-west-2//disk",
            "prod/db.qcow2",
            "snapctl/p/eu-west-é",
            "snapctl/p/eu-west-2é/snap/x",
            "ééééééééééééééééééééé",
            "snapctl/other/eu-west-2/snap-1/disk",
        ] {
            assert_eq!(snapshot_of_key(hostile, base), None, "{hostile:?}");
        }
        let obj = |key: &str| crate::model::StoredObject {
            bucket: "b".into(),
            key: key.into(),
            size: 1,
        };
        let kept = only_under(
            vec![
                obj("snapctl/p/eu-west-2/snap-1/disk"),
                obj("prod/db"),
                obj("sn"),
                obj("snapctl/p/eu-west-2/snap-1/"),
                obj("snapctl/p/eu-west-2/snap-1é"),
            ],
            "snapctl/p/eu-west-2/snap-1/",
        );
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].key, "snapctl/p/eu-west-2/snap-1/disk");
    }

    const OSC: crate::kind::ProviderKind = crate::kind::ProviderKind::Outscale;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    fn dest(keep: crate::engine::retention::Policy, min: usize) -> CopyDest {
        CopyDest {
            region: "cloudgouv-eu-west-1".into(),
            profile: "dr".into(),
            bucket: "b".into(),
            keep,
            min,
            timeout: Duration::from_secs(60),
            link: Default::default(),
        }
    }

    fn held_copy(id: &str, of: &str, tick: &str, state: SnapshotState) -> Held {
        Held {
            id: id.into(),
            state,
            mark: Mark {
                policy: "p".into(),
                tick: t(tick),
                volume: "vol-00000001".into(),
                of: of.into(),
                from: "eu-west-2".into(),
                account: Some(ACCOUNT.into()),
            },
        }
    }

    const ACCOUNT: &str = "123456789012";

    fn whose() -> Whose {
        Whose {
            account: ACCOUNT.into(),
            selected: ["vol-00000001".to_string()].into(),
        }
    }

    fn source(id: &str, tick: &str) -> Source {
        Source {
            volume_id: "vol-00000001".into(),
            id: Some(id.into()),
            tick: t(tick),
            size_gib: Some(10),
        }
    }

    #[test]
    fn a_mark_reads_back_and_nothing_else_is_one() {
        let d = description(
            "db-gold",
            t("2026-12-01T00:00:00Z"),
            ("vol-0a1b2c3d", "snap-12345678"),
            ("eu-west-2", ACCOUNT),
        );
        assert_eq!(
            d,
            "snapctl:v1 copy policy=db-gold tick=20261201T000000Z vol=vol-0a1b2c3d of=snap-12345678 from=eu-west-2 acct=123456789012"
        );
        let m = parse(&d).expect("a mark");
        assert_eq!(
            (
                m.policy.as_str(),
                m.of.as_str(),
                m.from.as_str(),
                m.account.as_deref()
            ),
            ("db-gold", "snap-12345678", "eu-west-2", Some(ACCOUNT))
        );
        // A mark of an earlier version, without the account, still reads.
        let legacy = d.replace(" acct=123456789012", "");
        assert_eq!(parse(&legacy).expect("legacy").account, None);
        for not in [
            "snapctl:v1 policy=db-gold tick=20261201T000000Z",
            &format!("{d} extra"),
            &d.replace("acct=", "account="),
            &d.replace("acct=123456789012", "acct="),
            &d.replace("of=", "off="),
            &d.replace("db-gold", "DB"),
            &d.replace("vol-0a1b2c3d", "vol/../x"),
        ] {
            assert_eq!(parse(not), None, "{not}");
        }
        // A copy is never a policy's own snapshot.
        assert_eq!(
            mark::owner(&Snapshot {
                description: Some(d),
                name: Some("snapctl.db-gold.20261201T000000Z".into()),
                ..candidate(
                    OSC,
                    "snap-1",
                    t("2026-12-01T00:00:00Z"),
                    SnapshotState::Available
                )
            }),
            None
        );
    }

    #[test]
    fn due_copies_are_what_the_destination_keeps_newest_first_and_deletions_keep_the_floor() {
        let keep = crate::engine::retention::Policy {
            keep_last: Some(2),
            ..Default::default()
        };
        let now = t("2026-12-05T12:00:00Z");
        let sources = [
            source("snap-a", "2026-12-01T00:00:00Z"),
            source("snap-b", "2026-12-02T00:00:00Z"),
            source("snap-c", "2026-12-03T00:00:00Z"),
            source("snap-d", "2026-12-04T00:00:00Z"),
        ];
        // Nothing there yet: the two newest are due, newest first; older ones are not copied.
        let p = plan_dest(OSC, &dest(keep.clone(), 1), &whose(), &sources, &[], now);
        let due: Vec<_> = p
            .copies
            .iter()
            .map(|c| c.snapshot_id.as_deref().unwrap())
            .collect();
        assert_eq!(due, ["snap-d", "snap-c"]);
        assert!(p.delete.is_empty());
        // c and d copied, a and b copied long ago, one import failed: b and a go (oldest
        // first), the failed one is deleted and its snapshot is due again.
        let held = [
            held_copy(
                "snap-1a",
                "snap-a",
                "2026-12-01T00:00:00Z",
                SnapshotState::Available,
            ),
            held_copy(
                "snap-1b",
                "snap-b",
                "2026-12-02T00:00:00Z",
                SnapshotState::Available,
            ),
            held_copy(
                "snap-1c",
                "snap-c",
                "2026-12-03T00:00:00Z",
                SnapshotState::Error,
            ),
            held_copy(
                "snap-1d",
                "snap-d",
                "2026-12-04T00:00:00Z",
                SnapshotState::Available,
            ),
        ];
        let p = plan_dest(OSC, &dest(keep.clone(), 1), &whose(), &sources, &held, now);
        let gone: Vec<_> = p.delete.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(gone, ["snap-1c", "snap-1a", "snap-1b"]);
        let due: Vec<_> = p
            .copies
            .iter()
            .map(|c| c.snapshot_id.as_deref().unwrap())
            .collect();
        assert_eq!(due, ["snap-c"]);
        assert_eq!(
            p.held,
            [HeldCopies {
                volume_id: "vol-00000001".into(),
                copies: 3,
                newest: Some(t("2026-12-04T00:00:00Z")),
            }]
        );
        // min = 3 keeps three complete copies whatever the rules say.
        let p = plan_dest(OSC, &dest(keep, 3), &whose(), &sources, &held, now);
        let gone: Vec<_> = p.delete.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(gone, ["snap-1c"]);
        // In progress: not due again, not deleted.
        let importing = [held_copy(
            "snap-1d",
            "snap-d",
            "2026-12-04T00:00:00Z",
            SnapshotState::Creating,
        )];
        let p = plan_dest(
            OSC,
            &dest(
                crate::engine::retention::Policy {
                    keep_last: Some(1),
                    ..Default::default()
                },
                1,
            ),
            &whose(),
            &sources,
            &importing,
            now,
        );
        assert!(p.copies.is_empty(), "{:?}", p.copies);
        assert!(p.delete.is_empty());
    }

    #[test]
    fn only_this_accounts_copies_of_selected_volumes_are_pruned() {
        let keep = crate::engine::retention::Policy {
            keep_last: Some(1),
            ..Default::default()
        };
        let now = t("2026-12-05T12:00:00Z");
        let sources = [source("snap-d", "2026-12-04T00:00:00Z")];
        let mut other_account = held_copy(
            "snap-1a",
            "snap-a",
            "2026-12-01T00:00:00Z",
            SnapshotState::Available,
        );
        other_account.mark.account = Some("987654321098".into());
        let mut unselected = held_copy(
            "snap-1b",
            "snap-b",
            "2026-12-02T00:00:00Z",
            SnapshotState::Available,
        );
        unselected.mark.volume = "vol-00000002".into();
        let mut legacy = held_copy(
            "snap-1c",
            "snap-c",
            "2026-12-03T00:00:00Z",
            SnapshotState::Available,
        );
        legacy.mark.account = None;
        let ours = held_copy(
            "snap-1d",
            "snap-d",
            "2026-12-04T00:00:00Z",
            SnapshotState::Available,
        );
        let held = [other_account, unselected, legacy.clone(), ours];
        let p = plan_dest(OSC, &dest(keep.clone(), 1), &whose(), &sources, &held, now);
        assert!(p.delete.is_empty(), "{:?}", p.delete);
        let foreign: Vec<(&str, &str)> = p
            .foreign
            .iter()
            .map(|f| (f.id.as_str(), f.reason.as_str()))
            .collect();
        assert_eq!(foreign.len(), 3, "{foreign:?}");
        assert!(
            foreign[0].1.contains("from account 987654321098"),
            "{foreign:?}"
        );
        assert!(
            foreign[1].1.contains("not one this policy selects"),
            "{foreign:?}"
        );
        assert!(foreign[2].1.contains("made before"), "{foreign:?}");
        // A legacy copy answers its snapshot: not copied again.
        let p = plan_dest(
            OSC,
            &dest(keep, 1),
            &whose(),
            &[source("snap-c", "2026-12-03T00:00:00Z")],
            &[legacy],
            now,
        );
        assert!(p.copies.is_empty(), "{:?}", p.copies);
        assert!(p.delete.is_empty());
    }
}
