//! What drills remember: the per-policy state file (each volume's last drill and its outcome),
//! which volumes are due, and the summary `check` and the metrics read from it.

use super::*;

/// What the drills of one policy remember between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// [`STATE_SCHEMA`].
    pub schema: String,
    /// When the policy's last drill started.
    #[serde(default)]
    pub last_started: Option<Timestamp>,
    /// Per volume id.
    #[serde(default)]
    pub volumes: BTreeMap<String, Record>,
    /// The volumes the policy's drills made and did not yet see deleted.
    #[serde(default)]
    pub made: Made,
}

/// The volumes a policy's drills made (volume id → the snapshot restored), recorded as soon as
/// the cloud answers the restore and dropped once the volume is seen deleted: a marked volume
/// made since `since` is a leftover only if it is here ([`super::proof`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Made {
    /// When this record began (`None`: a state written before snapctl recorded the volumes it
    /// made; the cloud's proof alone decides for every volume then).
    #[serde(default)]
    pub since: Option<Timestamp>,
    /// Volume id → snapshot id.
    #[serde(default)]
    pub volumes: BTreeMap<String, String>,
}

/// One volume's drills.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// When its last drill started.
    pub last_at: Timestamp,
    /// Whether that drill succeeded (restored, usable, verified, in time).
    pub last_ok: bool,
    /// Its restore time (request sent → usable), when it got that far.
    #[serde(default)]
    pub last_restore_seconds: Option<f64>,
    /// Why it failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When its last successful drill started.
    #[serde(default)]
    pub last_success_at: Option<Timestamp>,
    /// That drill's restore time.
    #[serde(default)]
    pub last_success_restore_seconds: Option<f64>,
}

/// The state directory: the policy file's `state_dir`, else `SNAPCTL_STATE_DIR`, else the
/// user's state directory (`$XDG_STATE_HOME/snapctl`, `~/.local/state/snapctl`).
pub fn resolve_state_dir(given: Option<&Path>, env: &crate::config::Env) -> Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = env.var("SNAPCTL_STATE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    use etcetera::BaseStrategy;
    etcetera::choose_base_strategy()
        .ok()
        .and_then(|s| s.state_dir())
        .map(|d| d.join("snapctl"))
        .ok_or_else(|| Error::Config {
            message: "cannot find a state directory for restore drills".into(),
            hint: Some("set state_dir in the policy file, or SNAPCTL_STATE_DIR".into()),
        })
}

pub(super) fn state_path(dir: &Path, policy: &str) -> PathBuf {
    dir.join(format!("drill-{policy}.json"))
}

/// The state of `policy`'s drills (empty when it never drilled).
pub fn load(dir: &Path, policy: &str) -> Result<State> {
    let path = state_path(dir, policy);
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State {
            schema: STATE_SCHEMA.into(),
            ..State::default()
        }),
        Err(source) => Err(Error::Io {
            action: format!("cannot read drill state {}", path.display()),
            source,
        }),
        Ok(text) => {
            let state: State = serde_json::from_str(&text).map_err(|e| Error::Config {
                message: format!("drill state {} is not readable: {e}", path.display()),
                hint: Some(
                    "move it aside: the next drill starts a new one (the policy's volumes are drilled again from the first)".into(),
                ),
            })?;
            if state.schema != STATE_SCHEMA {
                return Err(Error::Config {
                    message: format!(
                        "drill state {} has schema {:?}, not {STATE_SCHEMA}",
                        path.display(),
                        state.schema
                    ),
                    hint: Some("it was written by another version of snapctl".into()),
                });
            }
            Ok(state)
        }
    }
}

pub(super) fn save(dir: &Path, policy: &str, state: &State) -> Result<()> {
    crate::lock::private_dir(dir, "state directory", "SNAPCTL_STATE_DIR")?;
    let text = serde_json::to_string_pretty(state).expect("the drill state serialises");
    crate::fleet::atomic::write_atomically(&state_path(dir, policy), &(text + "\n"), 0o600)
}

/// The start of the cadence tick `now` is in (whole multiples of `every` since the epoch).
pub(super) fn tick(every: u64, now: Timestamp) -> Timestamp {
    let every = every.max(1) as i64;
    let s = now.as_second().div_euclid(every) * every;
    Timestamp::from_second(s).unwrap_or(now)
}

/// Whether a drill is due at `now`: none started yet in the current tick.
pub fn is_due(state: &State, every: u64, now: Timestamp) -> bool {
    state
        .last_started
        .is_none_or(|last| last < tick(every, now))
}

/// The `n` volumes of `candidates` drilled longest ago (never drilled first, then by id).
pub fn choose<'a>(state: &State, candidates: &[&'a str], n: usize) -> Vec<&'a str> {
    let mut order: Vec<&str> = candidates.to_vec();
    order.sort_by_key(|v| (state.volumes.get(*v).map(|r| r.last_at), *v));
    order.truncate(n);
    order
}

/// A policy's drills as `check` and the metrics read them, from its state file.
#[derive(Debug, Clone, Serialize)]
pub struct DrillSummary {
    /// Seconds between drills.
    pub every_seconds: u64,
    /// Seconds between two drills of one volume: the cadence times the rounds it takes to drill
    /// every selected volume (`volumes` a drill).
    pub volume_interval_seconds: u64,
    /// The slowest acceptable restore.
    pub max_restore_seconds: Option<u64>,
    /// Per volume drilled at least once.
    pub volumes: Vec<VolumeSummary>,
    /// Why the state could not be read.
    pub error: Option<String>,
}

/// One volume's drills, as last recorded.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeSummary {
    /// The volume.
    pub volume_id: String,
    /// Whether its last drill succeeded.
    pub last_ok: bool,
    /// When its last drill started.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub last_at: Option<Timestamp>,
    /// Why it failed.
    pub last_error: Option<String>,
    /// Its restore time.
    pub last_restore_seconds: Option<f64>,
    /// When its last successful drill started.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub last_success_at: Option<Timestamp>,
    /// That drill's restore time.
    pub last_success_restore_seconds: Option<f64>,
}

/// `c`'s drills as its state file records them (`None` for a policy without `drill`), for a
/// policy selecting `selected` volumes.
pub fn summary(c: &Compiled, selected: usize) -> Option<DrillSummary> {
    let times = c.drill?;
    let rounds = selected.max(1).div_ceil(times.volumes) as u64;
    let volume_interval_seconds = times.every.saturating_mul(rounds);
    let state = match c.state_dir.as_deref().map(|d| load(d, &c.policy.id)) {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            return Some(DrillSummary {
                every_seconds: times.every,
                volume_interval_seconds,
                max_restore_seconds: times.max_restore,
                volumes: vec![],
                error: Some(e.to_string()),
            });
        }
        None => State::default(),
    };
    Some(DrillSummary {
        every_seconds: times.every,
        volume_interval_seconds,
        max_restore_seconds: times.max_restore,
        volumes: state
            .volumes
            .into_iter()
            .map(|(volume_id, r)| VolumeSummary {
                volume_id,
                last_ok: r.last_ok,
                last_at: Some(r.last_at),
                last_error: r.last_error,
                last_restore_seconds: r.last_restore_seconds,
                last_success_at: r.last_success_at,
                last_success_restore_seconds: r.last_success_restore_seconds,
            })
            .collect(),
        error: None,
    })
}

/// `check`'s verdict on one volume's drills: 0 OK, 1 WARNING (no successful drill within twice
/// the volume's drill cadence), 2 CRITICAL (the last drill failed, or its restore was slower than
/// `max_restore`), with why.
pub fn drill_verdict(s: &DrillSummary, v: &VolumeSummary, now: Timestamp) -> (u8, Option<String>) {
    if !v.last_ok {
        return (
            2,
            Some(format!(
                "last drill failed: {}",
                v.last_error.as_deref().unwrap_or("unknown error")
            )),
        );
    }
    if let (Some(max), Some(took)) = (s.max_restore_seconds, v.last_restore_seconds)
        && took > max as f64
    {
        return (
            2,
            Some(format!(
                "last restore took {took:.0} s, more than max_restore ({max} s)"
            )),
        );
    }
    let overdue = v
        .last_success_at
        .is_none_or(|t| now.duration_since(t).as_secs() > 2 * s.volume_interval_seconds as i64);
    if overdue {
        return (
            1,
            Some(match v.last_success_at {
                Some(t) => format!(
                    "last successful drill is {} old, more than twice the drill cadence",
                    crate::error::humanize(now.duration_since(t).unsigned_abs())
                ),
                None => "no successful drill yet".into(),
            }),
        );
    }
    (0, None)
}
