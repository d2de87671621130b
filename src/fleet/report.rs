//! What a fleet run leaves behind: the Prometheus textfile ([`metrics`], with each unit's
//! [`freshness`]); files are written atomically ([`super::atomic`]).

use jiff::Timestamp;

use super::outcome::{PolicyRun, PolicyStatus, RunReport};
use super::plan::Compiled;
use crate::engine::outcome::{UnitRun, UnitStatus};

/// Freshness of one unit: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (listing failed).
pub fn freshness(c: &Compiled, unit: &UnitRun, now: Timestamp) -> u8 {
    if unit.status == UnitStatus::Unknown {
        return 3;
    }
    let (warn, crit) = c.thresholds(now);
    let future = u8::from(!unit.future.is_empty());
    match unit.newest {
        None => 2,
        Some(t) => {
            let age = now.duration_since(t);
            if age > crit {
                2
            } else if age > warn {
                1
            } else {
                future
            }
        }
    }
}

/// The Prometheus text exposition of a run (node_exporter's textfile collector). No snapshot ids
/// as labels; a volume whose listing failed gets status 3 and no timestamp, so stale data never
/// looks fresh.
pub fn metrics(report: &RunReport, compiled: &[Compiled], now: Timestamp) -> String {
    let mut out = String::new();
    let ps = &report.policies;
    let finished = report.finished_at.unwrap_or(now).as_second();
    family_into(
        &mut out,
        "snapctl_run_timestamp_seconds",
        "When the policy last ran (Unix time).",
        ps.iter().map(|p| (pol(p), finished.to_string())).collect(),
    );
    family_into(
        &mut out,
        "snapctl_run_success",
        "1 when every unit of the policy succeeded in the last run.",
        ps.iter()
            .map(|p| {
                (
                    pol(p),
                    u8::from(p.status == PolicyStatus::Ok && report.refused.is_none()).to_string(),
                )
            })
            .collect(),
    );
    family_into(
        &mut out,
        "snapctl_run_duration_seconds",
        "Wall time of the last run's changes (policies run together).",
        ps.iter()
            .map(|p| (pol(p), format!("{:.3}", p.duration_seconds)))
            .collect(),
    );
    family_into(
        &mut out,
        "snapctl_policy_volumes_selected",
        "Volumes the policy's selector matched.",
        // Unknown (no row) when the volumes could not be listed: never a false 0.
        ps.iter()
            .filter(|p| p.error.is_none())
            .map(|p| (pol(p), p.selected.to_string()))
            .collect(),
    );
    family_into(
        &mut out,
        "snapctl_policy_expected_interval_seconds",
        "Seconds between two snapshots of the policy.",
        ps.iter()
            .map(|p| (pol(p), p.interval_seconds.to_string()))
            .collect(),
    );
    volume_families(&mut out, ps, compiled, now);
    let sum = |p: &PolicyRun, f: &dyn Fn(&UnitRun) -> usize| p.units.iter().map(f).sum::<usize>();
    family_into(
        &mut out,
        "snapctl_run_snapshots_created",
        "Snapshots the policy took in the last run.",
        ps.iter()
            .map(|p| {
                (
                    pol(p),
                    sum(p, &|u| usize::from(u.created.is_some())).to_string(),
                )
            })
            .collect(),
    );
    family_into(
        &mut out,
        "snapctl_run_snapshots_deleted",
        "Snapshots the policy deleted in the last run.",
        ps.iter()
            .map(|p| (pol(p), sum(p, &|u| u.deleted.len()).to_string()))
            .collect(),
    );
    let mut failures = Vec::new();
    for p in ps {
        for op in ["list", "lock", "pre", "create", "post", "repair", "delete"] {
            let n = sum(p, &|u| u.failures.iter().filter(|f| f.op == op).count())
                + usize::from(op == "list" && p.error.is_some());
            failures.push((format!("{},op=\"{op}\"", pol(p)), n.to_string()));
        }
    }
    family_into(
        &mut out,
        "snapctl_run_operation_failures",
        "Failed operations of the policy's last run, by operation.",
        failures,
    );
    family_into(
        &mut out,
        "snapctl_policy_orphan_snapshots",
        "Marked snapshots on the policy's volumes whose policy is no longer in the file.",
        ps.iter()
            .map(|p| (pol(p), sum(p, &|u| u.orphans.len()).to_string()))
            .collect(),
    );
    copy_families(&mut out, ps);
    drill_families(&mut out, ps);
    out
}

/// Per volume: its newest owned snapshot, how many it owns, its freshness.
fn volume_families(out: &mut String, ps: &[PolicyRun], compiled: &[Compiled], now: Timestamp) {
    let vol = |p: &PolicyRun, u: &UnitRun| {
        format!(
            "policy=\"{}\",provider=\"{}\",volume_id=\"{}\"",
            esc(&p.id),
            p.provider.map(|k| k.to_string()).unwrap_or_default(),
            esc(&u.volume_id)
        )
    };
    family_into(
        out,
        "snapctl_volume_last_snapshot_timestamp_seconds",
        "Creation time of the newest snapshot the policy owns on the volume.",
        ps.iter()
            .flat_map(|p| p.units.iter().map(move |u| (p, u)))
            .filter(|(_, u)| u.status != UnitStatus::Unknown)
            .filter_map(|(p, u)| Some((vol(p, u), u.newest?.as_second().to_string())))
            .collect(),
    );
    family_into(
        out,
        "snapctl_volume_snapshots",
        "Snapshots the policy owns on the volume.",
        ps.iter()
            .flat_map(|p| p.units.iter().map(move |u| (p, u)))
            .filter(|(_, u)| u.status != UnitStatus::Unknown)
            .map(|(p, u)| (vol(p, u), u.owned.to_string()))
            .collect(),
    );
    family_into(
        out,
        "snapctl_volume_freshness_status",
        "0 OK, 1 WARNING, 2 CRITICAL (newest owned snapshot too old or none), 3 UNKNOWN (listing failed).",
        ps.iter()
            .flat_map(|p| p.units.iter().map(move |u| (p, u)))
            .filter_map(|(p, u)| {
                let c = compiled.iter().find(|c| c.policy.id == p.id)?;
                Some((vol(p, u), freshness(c, u, now).to_string()))
            })
            .collect(),
    );
}

/// One metric family: its help, its type and a row per label set.
fn family_into(out: &mut String, name: &str, help: &str, rows: Vec<(String, String)>) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
    for (labels, value) in rows {
        out.push_str(&format!("{name}{{{labels}}} {value}\n"));
    }
}

/// A label value, escaped as the text format wants it.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `policy` label.
fn pol(p: &PolicyRun) -> String {
    format!("policy=\"{}\"", esc(&p.id))
}

/// Copies in other Regions (`snapctl_copy_*`): only for files that have them.
fn copy_families(out: &mut String, ps: &[PolicyRun]) {
    let copying: Vec<&PolicyRun> = ps
        .iter()
        .filter(|p| !p.copies_held.is_empty() || p.copy_failures() > 0 || !p.copies.is_empty())
        .collect();
    if !copying.is_empty() {
        let cvol = |p: &PolicyRun, h: &super::copy::CopiesHeld| {
            format!(
                "policy=\"{}\",volume_id=\"{}\",region=\"{}\"",
                esc(&p.id),
                esc(&h.held.volume_id),
                esc(&h.region)
            )
        };
        let per_copy = |f: &dyn Fn(&super::copy::CopiesHeld) -> Option<String>| {
            copying
                .iter()
                .flat_map(|p| p.copies_held.iter().map(move |h| (p, h)))
                .filter_map(|(p, h)| Some((cvol(p, h), f(h)?)))
                .collect::<Vec<_>>()
        };
        family_into(
            out,
            "snapctl_copy_last_success_timestamp_seconds",
            "When the snapshot behind the volume's newest complete copy in the region was taken (Unix time): the age of the newest recovery point there; 0 when the region holds no copy of the volume.",
            per_copy(&|h| Some(h.held.newest.map_or(0, |t| t.as_second()).to_string())),
        );
        family_into(
            out,
            "snapctl_copy_snapshots",
            "Complete copies of the volume's snapshots the region holds.",
            per_copy(&|h| Some(h.held.copies.to_string())),
        );
        // Per destination the run could read (absent, not 0, where it could not).
        let per_region = |f: &dyn Fn(&super::copy::CopyRun) -> bool| {
            copying
                .iter()
                .flat_map(|p| {
                    let regions: std::collections::BTreeSet<&str> =
                        p.copies_held.iter().map(|h| h.region.as_str()).collect();
                    regions.into_iter().map(move |r| {
                        let n = p.copies.iter().filter(|c| c.region == r && f(c)).count();
                        (
                            format!("policy=\"{}\",region=\"{}\"", esc(&p.id), esc(r)),
                            n.to_string(),
                        )
                    })
                })
                .collect::<Vec<_>>()
        };
        family_into(
            out,
            "snapctl_copy_backlog",
            "Copies due in the region that the policy's last run did not complete (queued when copy_budget was spent, in flight, failed or interrupted).",
            per_region(&|c| c.status.is_backlog()),
        );
        family_into(
            out,
            "snapctl_copy_in_flight",
            "Copies whose export or import was still on its way when the policy's last run spent its copy_budget (the next run resumes them).",
            per_region(&|c| c.status == super::copy::CopyStatus::InFlight),
        );
        family_into(
            out,
            "snapctl_copy_failures",
            "Copies, copy deletions and destinations that failed in the policy's last run.",
            copying
                .iter()
                .map(|p| (pol(p), p.copy_failures().to_string()))
                .collect(),
        );
    }
}

/// Restore drills (`snapctl_drill_*`): only for files that have them.
fn drill_families(out: &mut String, ps: &[PolicyRun]) {
    let drilled: Vec<(&PolicyRun, &super::drill::DrillSummary)> = ps
        .iter()
        .filter_map(|p| Some((p, p.drill.as_ref()?)))
        .collect();
    if drilled.is_empty() {
        return;
    }
    let dvol = |p: &PolicyRun, v: &str| {
        format!(
            "policy=\"{}\",provider=\"{}\",volume_id=\"{}\"",
            esc(&p.id),
            p.provider.map(|k| k.to_string()).unwrap_or_default(),
            esc(v)
        )
    };
    let per_volume = |f: &dyn Fn(&super::drill::VolumeSummary) -> Option<String>| {
        drilled
            .iter()
            .flat_map(|(p, s)| s.volumes.iter().map(move |v| (p, v)))
            .filter_map(|(p, v)| Some((dvol(p, &v.volume_id), f(v)?)))
            .collect::<Vec<_>>()
    };
    let last_success = per_volume(&|v| Some(v.last_success_at?.as_second().to_string()));
    let restore = per_volume(&|v| Some(format!("{:.3}", v.last_restore_seconds?)));
    family_into(
        out,
        "snapctl_drill_last_success_timestamp_seconds",
        "When the volume's last successful restore drill started (Unix time).",
        last_success,
    );
    family_into(
        out,
        "snapctl_drill_restore_seconds",
        "How long the volume's last drill took to restore (request sent to volume usable).",
        restore,
    );
    family_into(
        out,
        "snapctl_drill_success",
        "1 when the last drill of every volume of the policy succeeded (restored, verified, in time, cleaned up).",
        drilled
            .iter()
            .filter(|(p, s)| !s.volumes.is_empty() || s.error.is_some() || p.drill_failures() > 0)
            .map(|(p, s)| {
                let ok = s.error.is_none()
                    && p.drill_failures() == 0
                    && s.volumes.iter().all(|v| v.last_ok);
                (pol(p), u8::from(ok).to_string())
            })
            .collect(),
    );
    family_into(
        out,
        "snapctl_drill_interval_seconds",
        "Seconds between two drills of the policy.",
        drilled
            .iter()
            .map(|(p, s)| (pol(p), s.every_seconds.to_string()))
            .collect(),
    );
    family_into(
        out,
        "snapctl_drill_volume_interval_seconds",
        "Seconds between two drills of one volume (the cadence times the rounds that drill every selected volume).",
        drilled
            .iter()
            .map(|(p, s)| (pol(p), s.volume_interval_seconds.to_string()))
            .collect(),
    );
    family_into(
        out,
        "snapctl_drill_max_restore_seconds",
        "The slowest restore the policy accepts (max_restore).",
        drilled
            .iter()
            .filter_map(|(p, s)| Some((pol(p), s.max_restore_seconds?.to_string())))
            .collect(),
    );
}
