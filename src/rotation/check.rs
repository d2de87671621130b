//! `snapctl check`: the monitoring plugin. It reads each volume's snapshots through the `Provider`
//! trait and answers OK/WARNING/CRITICAL/UNKNOWN with the plugin conventions' exit codes and a
//! status line with perfdata. It never changes anything.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::error::Result;
use crate::model::{Snapshot, SnapshotState};
use crate::provider::Provider;

use crate::engine::retention::{Entry, candidates};

/// Which volumes a run covers.
#[derive(Debug, Clone)]
pub enum Volumes {
    /// These.
    List(Vec<String>),
    /// Every volume the provider lists.
    All,
}

/// Resolve the volume list.
pub async fn volume_ids(provider: &dyn Provider, volumes: &Volumes) -> Result<Vec<String>> {
    match volumes {
        Volumes::List(v) => Ok(v.clone()),
        Volumes::All => Ok(provider
            .list_volumes()
            .await?
            .into_iter()
            .map(|v| v.id)
            .collect()),
    }
}

/// Monitoring-plugin states, in the convention's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Fine.
    Ok = 0,
    /// Getting old.
    Warning = 1,
    /// Too old, too few, or none.
    Critical = 2,
    /// Could not tell.
    Unknown = 3,
}

impl Status {
    /// The plugin word.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// Worst-of order: CRITICAL > WARNING > UNKNOWN > OK.
    fn rank(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Unknown => 1,
            Status::Warning => 2,
            Status::Critical => 3,
        }
    }
}

/// Thresholds for `check`.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Volumes.
    pub volumes: Volumes,
    /// Candidate prefix.
    pub prefix: String,
    /// CRITICAL beyond this age.
    pub max_age: Duration,
    /// WARNING beyond this age.
    pub warn_age: Option<Duration>,
    /// CRITICAL below this count.
    pub min_count: usize,
}

/// One volume's freshness.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeCheck {
    /// Volume id.
    pub volume_id: String,
    /// Status.
    pub status: Status,
    /// Newest settled candidate.
    pub newest: Option<Entry>,
    /// Its age in seconds.
    pub age_seconds: Option<i64>,
    /// Settled candidates counted; `None` when the volume could not be judged (UNKNOWN).
    pub count: Option<usize>,
    /// Why, in words.
    pub detail: String,
}

/// Judge each volume. A failed listing is UNKNOWN for that volume, never "no snapshots".
pub async fn check(
    provider: &dyn Provider,
    opts: &CheckOptions,
    now: Timestamp,
) -> Result<(Status, Vec<VolumeCheck>)> {
    let ids = volume_ids(provider, &opts.volumes).await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let unknown = |id: String, detail: String| VolumeCheck {
            volume_id: id,
            status: Status::Unknown,
            newest: None,
            age_seconds: None,
            count: None,
            detail,
        };
        let snaps = match provider.list_snapshots(Some(&id)).await {
            // Some APIs list nothing for a volume that does not exist: ask before saying CRITICAL.
            Ok(s) if s.is_empty() => match provider.get_volume(&id).await {
                Ok(_) => s,
                Err(e) => {
                    out.push(unknown(id, e.to_string()));
                    continue;
                }
            },
            Ok(s) => s,
            Err(e) => {
                out.push(unknown(id, e.to_string()));
                continue;
            }
        };
        let settled: Vec<Snapshot> = candidates(&snaps, &opts.prefix)
            .into_iter()
            .filter(|s| s.state == SnapshotState::Available && s.created_at.is_some())
            .collect();
        let newest = settled.iter().max_by_key(|s| s.created_at);
        let age = newest
            .and_then(|s| s.created_at)
            .map(|t| now.duration_since(t).as_secs().max(0));
        let count = settled.len();
        let (status, detail) = match age {
            None => (
                Status::Critical,
                format!("no available snapshot named {}*", opts.prefix),
            ),
            Some(a) if a as u64 > opts.max_age.as_secs() => (
                Status::Critical,
                format!(
                    "newest snapshot is {} old (max {})",
                    crate::error::humanize(Duration::from_secs(a as u64)),
                    crate::error::humanize(opts.max_age)
                ),
            ),
            Some(_) if count < opts.min_count => (
                Status::Critical,
                format!("{count} snapshots, fewer than {}", opts.min_count),
            ),
            Some(a) if opts.warn_age.is_some_and(|w| a as u64 > w.as_secs()) => (
                Status::Warning,
                format!(
                    "newest snapshot is {} old",
                    crate::error::humanize(Duration::from_secs(a as u64))
                ),
            ),
            Some(a) => (
                Status::Ok,
                format!(
                    "newest snapshot is {} old, {count} kept",
                    crate::error::humanize(Duration::from_secs(a as u64))
                ),
            ),
        };
        out.push(VolumeCheck {
            newest: newest.map(Entry::from),
            volume_id: id,
            status,
            age_seconds: age,
            count: Some(count),
            detail,
        });
    }
    let worst = out
        .iter()
        .map(|v| v.status)
        .max_by_key(|s| s.rank())
        .unwrap_or(Status::Unknown);
    Ok((worst, out))
}

/// The plugin's one status line with perfdata.
pub fn status_line(status: Status, checks: &[VolumeCheck], opts: &CheckOptions) -> String {
    let summary = match checks {
        [] => "no volumes to check".to_string(),
        [one] => format!("{}: {}", one.volume_id, one.detail),
        many => {
            let bad: Vec<String> = many
                .iter()
                .filter(|c| c.status != Status::Ok)
                .map(|c| format!("{}: {}", c.volume_id, c.detail))
                .collect();
            if bad.is_empty() {
                format!("{} volumes have fresh snapshots", many.len())
            } else {
                bad.join("; ")
            }
        }
    };
    // Plugin guidelines: 'label'=value[UOM];[warn];[crit];[min];[max], thresholds as ranges (`N`
    // alerts above N, `N:` below N), and a bare `U` for a value that could not be determined.
    let warn = opts
        .warn_age
        .map(|w| w.as_secs().to_string())
        .unwrap_or_default();
    let perf: Vec<String> = checks
        .iter()
        .map(|c| {
            let age = c
                .age_seconds
                .map_or_else(|| "U".to_string(), |a| format!("{a}s"));
            let count = c.count.map_or_else(|| "U".to_string(), |n| n.to_string());
            format!(
                "'{}_age'={age};{warn};{};0; '{}_count'={count};;{}:;0;",
                c.volume_id,
                opts.max_age.as_secs(),
                c.volume_id,
                opts.min_count
            )
        })
        .collect();
    // Server text in the details (error messages) never forges a second plugin line.
    format!(
        "SNAPCTL {}: {} | {}\n",
        status.as_str(),
        crate::text::flatten(&summary),
        crate::text::flatten(&perf.join(" "))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_status_wins() {
        assert!(Status::Critical.rank() > Status::Warning.rank());
        assert!(Status::Warning.rank() > Status::Unknown.rank());
        assert!(Status::Unknown.rank() > Status::Ok.rank());
    }
}
