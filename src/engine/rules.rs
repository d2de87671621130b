//! What the engine is told: a policy's [`Rules`] (or `rotate`'s), its [`Hooks`], how units are
//! carried out ([`Options`]) and whether the run's deletions may go ahead ([`Verdict`]).

use std::time::Duration;

use jiff::Timestamp;

use super::unit::Unit;
use crate::kind::ProviderKind;
use crate::model::{CreateSnapshot, Snapshot};
use crate::wait::WaitOptions;

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
    /// Keep the new snapshot as the API described it ([`super::outcome::UnitRun::snapshot`]) for the report
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
