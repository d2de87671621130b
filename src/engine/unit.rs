//! A unit: one policy's plan for one volume (what to create, delete, keep, repair), and the checks
//! every unit passes whoever planned it: [`narrow`] (a newer listing only ever does less) and
//! [`gate`] (the last word before a unit's DELETEs).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::retention::{Entry, Kept};

/// A deletion and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Doomed {
    /// The snapshot.
    #[serde(flatten)]
    pub entry: Entry,
    /// Why it goes.
    pub reason: String,
}

/// A marked snapshot whose policy is gone from the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Orphan {
    /// The snapshot.
    #[serde(flatten)]
    pub entry: Entry,
    /// The policy id in its mark.
    pub policy_id: String,
}

/// An owned snapshot whose name tag is restored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Repair {
    /// The snapshot.
    #[serde(flatten)]
    pub entry: Entry,
    /// The name it gets back.
    pub new_name: String,
}

/// One policy on one volume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unit {
    /// Volume id.
    pub volume_id: String,
    /// Volume name.
    pub volume_name: Option<String>,
    /// The name of the snapshot to take, when one is due.
    pub create: Option<String>,
    /// The tick the due snapshot answers.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub due_since: Option<Timestamp>,
    /// Owned snapshots to delete, with why.
    pub delete: Vec<Doomed>,
    /// Owned snapshots kept, with every reason.
    pub keep: Vec<Kept>,
    /// Marked snapshots of policies no longer in the file.
    pub orphans: Vec<Orphan>,
    /// Owned snapshots whose `Name` tag is missing or wrong (OUTSCALE, where tags are written after
    /// the create and can fail or be edited): the name they get back.
    #[serde(default)]
    pub repair: Vec<Repair>,
    /// Owned snapshots whose mark names a time in the future (a hand-made name, a run with
    /// `--at` ahead): they answer no tick, so they never stop due snapshots; `check` warns.
    #[serde(default)]
    pub future: Vec<Entry>,
    /// Owned snapshots now.
    pub owned: usize,
    /// The newest owned snapshot's creation time.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub newest: Option<Timestamp>,
    /// Why this volume cannot be planned (its listing failed).
    pub error: Option<String>,
}

impl Unit {
    /// A unit of `volume` that does nothing yet.
    pub fn empty(volume: &str, name: Option<String>) -> Unit {
        Unit {
            volume_id: volume.to_string(),
            volume_name: name,
            create: None,
            due_since: None,
            delete: vec![],
            keep: vec![],
            orphans: vec![],
            repair: vec![],
            future: vec![],
            owned: 0,
            newest: None,
            error: None,
        }
    }
}

/// Keep every deletion of `unit` instead, saying why (a refused `max_delete`).
pub fn hold_deletions(unit: &mut Unit, why: &str) {
    hold_into(std::mem::take(&mut unit.delete), &mut unit.keep, why);
}

/// `deletes` kept instead, for `why`, in `keep` (newest first).
pub fn hold_into(deletes: Vec<Doomed>, keep: &mut Vec<Kept>, why: &str) {
    for d in deletes {
        keep.push(Kept {
            entry: d.entry,
            reasons: vec![why.to_string()],
        });
    }
    keep.sort_by_key(|k| std::cmp::Reverse(k.entry.created_at));
}

/// What `planned` does that `fresh` (the same unit planned from a newer listing) also does, so a
/// run acting on an older listing only ever does less: the create only when both take it; the
/// deletions and repairs both hold, and none at all when the two disagree about the create (the
/// older plan's deletions counted on a snapshot the newer listing says is not coming, or the
/// other way round). Everything else (kept, owned, newest, orphans) comes from `fresh`.
pub fn narrow(planned: &Unit, mut fresh: Unit) -> Unit {
    if fresh.error.is_some() {
        return fresh;
    }
    let agree = planned.create.is_some() == fresh.create.is_some();
    if !agree {
        fresh.create = None;
        fresh.due_since = None;
    }
    let deletes = std::mem::take(&mut fresh.delete);
    for d in deletes {
        if agree && planned.delete.iter().any(|p| p.entry.id == d.entry.id) {
            fresh.delete.push(d);
        } else {
            fresh.keep.push(Kept {
                entry: d.entry,
                reasons: vec!["not in the plan this run carries out".into()],
            });
        }
    }
    fresh.repair.retain(|r| {
        planned
            .repair
            .iter()
            .any(|p| p.entry.id == r.entry.id && p.new_name == r.new_name)
    });
    fresh
        .keep
        .sort_by_key(|k| std::cmp::Reverse(k.entry.created_at));
    fresh
}

/// The last check before a unit's DELETEs, independent of how its plan was made (a saved plan, a
/// narrowed one, `rotate`'s): the newest available owned snapshot (the new one, once confirmed)
/// is never deleted, and at least `max(floor, 1)` owned snapshots remain. `Err` says why nothing
/// of the unit may be deleted.
pub fn gate(floor: usize, unit: &Unit, created: Option<&Entry>) -> std::result::Result<(), String> {
    if unit.delete.is_empty() {
        return Ok(());
    }
    let owned = unit.owned + usize::from(created.is_some());
    let remaining = owned.saturating_sub(unit.delete.len());
    let floor = floor.max(1);
    if remaining < floor {
        return Err(format!(
            "deleting {} of {owned} owned snapshots would leave fewer than {floor}; nothing deleted",
            unit.delete.len()
        ));
    }
    let newest = created.and_then(|e| e.created_at).max(unit.newest);
    match (
        newest,
        unit.delete.iter().filter_map(|d| d.entry.created_at).max(),
    ) {
        (None, _) => Err("no available owned snapshot would remain; nothing deleted".into()),
        (Some(n), Some(d)) if d >= n => Err(format!(
            "the plan deletes the newest available owned snapshot (taken {d}); nothing deleted"
        )),
        _ => Ok(()),
    }
}
