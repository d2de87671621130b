//! What became of each unit the engine carried out: its status, its failures (each with its typed
//! cause), and what it created, deleted and kept. The engine fills them; the fleet report and
//! `rotate`'s report render them.

use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

use super::retention::{Entry, Kept};
use super::unit::{Orphan, Unit};
use crate::error::Error;
use crate::model::Snapshot;

/// A failed step of a unit.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// `list`, `lock`, `pre`, `create`, `post`, `repair` or `delete`.
    pub op: &'static str,
    /// The snapshot, for deletions.
    pub id: Option<String>,
    /// The error, with the API's message.
    pub error: String,
    /// The error itself, where there is one (its exit code and hint).
    #[serde(skip)]
    pub cause: Option<Arc<Error>>,
}

impl Failure {
    pub(crate) fn of(op: &'static str, id: Option<String>, e: Error) -> Failure {
        Failure {
            op,
            id,
            error: e.to_string(),
            cause: Some(Arc::new(e)),
        }
    }
}

/// How a unit ended, as the report writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitStatus {
    /// Everything planned was done.
    Ok,
    /// A step failed (listed in `failures`).
    Failed,
    /// Its volume's listing failed: nothing is known, nothing was done.
    Unknown,
    /// Its policy was refused.
    Refused,
    /// An interrupt came before it (or its deletions) started.
    Skipped,
}

impl UnitStatus {
    /// The report's word.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitStatus::Ok => "ok",
            UnitStatus::Failed => "failed",
            UnitStatus::Unknown => "unknown",
            UnitStatus::Refused => "refused",
            UnitStatus::Skipped => "skipped",
        }
    }

    /// Failed, or not known at all.
    pub fn is_failure(self) -> bool {
        matches!(self, UnitStatus::Failed | UnitStatus::Unknown)
    }
}

impl std::fmt::Display for UnitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One unit's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct UnitRun {
    /// Volume id.
    pub volume_id: String,
    /// Volume name.
    pub volume_name: Option<String>,
    /// `ok`, `failed`, `unknown` (its listing failed), `refused` (its policy was) or `skipped`
    /// (interrupted before it started).
    pub status: UnitStatus,
    /// The snapshot taken.
    pub created: Option<Entry>,
    /// Snapshots deleted.
    pub deleted: Vec<Entry>,
    /// Snapshots kept, with reasons.
    pub kept: Vec<Kept>,
    /// Marked snapshots of policies no longer in the file.
    pub orphans: Vec<Orphan>,
    /// Snapshots whose name tag was restored.
    pub repaired: Vec<String>,
    /// Owned snapshots whose mark names a time in the future (they answer no tick).
    pub future: Vec<Entry>,
    /// What failed.
    pub failures: Vec<Failure>,
    /// Owned snapshots after the run.
    pub owned: usize,
    /// Newest owned snapshot after the run.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub newest: Option<Timestamp>,
    /// The new snapshot as the API answered its create (its state once confirmed).
    #[serde(skip)]
    pub snapshot: Option<Box<Snapshot>>,
    /// The deletions the unit's final plan had (after a listing under the lock).
    #[serde(skip)]
    pub planned: Vec<Entry>,
    /// Deletions an interrupt kept from starting.
    #[serde(skip)]
    pub skipped: Vec<Entry>,
}

impl UnitRun {
    /// A unit nothing was done for (yet).
    pub fn of(unit: &Unit) -> UnitRun {
        UnitRun {
            volume_id: unit.volume_id.clone(),
            volume_name: unit.volume_name.clone(),
            status: UnitStatus::Ok,
            created: None,
            deleted: vec![],
            // A plan that lists the snapshot it is about to take among the kept ones: it is
            // kept once taken.
            kept: unit
                .keep
                .iter()
                .filter(|k| unit.create.as_deref() != Some(k.entry.id.as_str()))
                .cloned()
                .collect(),
            orphans: unit.orphans.clone(),
            repaired: vec![],
            future: unit.future.clone(),
            failures: vec![],
            owned: unit.owned,
            newest: unit.newest,
            snapshot: None,
            planned: unit.delete.iter().map(|d| d.entry.clone()).collect(),
            skipped: vec![],
        }
    }

    pub(crate) fn fail(&mut self, f: Failure) {
        self.status = UnitStatus::Failed;
        self.failures.push(f);
    }
}
