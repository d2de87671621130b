//! How `policy plan` and `policy apply` speak: the plan and the run report in words.

use super::*;

pub(super) fn entry_line(
    out: &mut String,
    sign: char,
    e: &crate::engine::retention::Entry,
    why: &str,
) {
    let _ = writeln!(
        out,
        "    {sign} {}  {}  {}  {}",
        flat(&e.id),
        flat(e.name.as_deref().unwrap_or("-")),
        e.created_at
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| "-".into()),
        flat(why),
    );
}
/// Server text (names, ids, messages) as it goes into one line of plan, apply or check output:
/// a name holding a line break can never forge a line of its own.
pub(super) fn flat(text: &str) -> String {
    crate::text::flatten(text)
}
pub(super) fn heading(
    out: &mut String,
    id: &str,
    provider: Option<crate::kind::ProviderKind>,
    selected: Option<usize>,
    interval: u64,
) {
    let _ = writeln!(
        out,
        "policy {id} on {}: {}, every {}",
        provider
            .map(|k| k.to_string())
            .unwrap_or_else(|| "?".into()),
        match selected {
            None => "volumes unknown (not listed)".to_string(),
            Some(1) => "1 volume selected".to_string(),
            Some(n) => format!("{n} volumes selected"),
        },
        crate::fleet::cadence_words(interval)
    );
}
/// What a plan's first totals count.
#[derive(Default)]
struct Counts {
    create: usize,
    delete: usize,
    keep: usize,
    orphans: usize,
}

/// One volume of a plan: its `+`, `-`, `~`, `=` and `!` lines, counted into `n` (creates and
/// deletions only when `counted`: a refused policy changes nothing).
fn render_planned_unit(
    out: &mut String,
    u: &crate::engine::unit::Unit,
    counted: bool,
    n: &mut Counts,
) {
    let _ = writeln!(
        out,
        "  {}{}",
        flat(&u.volume_id),
        u.volume_name
            .as_deref()
            .map(|name| format!(" ({})", flat(name)))
            .unwrap_or_default()
    );
    if let Some(e) = &u.error {
        let _ = writeln!(out, "    error: {}", flat(e));
    }
    if let Some(name) = &u.create {
        n.create += usize::from(counted);
        let _ = writeln!(
            out,
            "    + {name}  due since {}",
            u.due_since
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_else(|| "-".into())
        );
    }
    for d in &u.delete {
        n.delete += usize::from(counted);
        entry_line(out, '-', &d.entry, &d.reason);
    }
    for r in &u.repair {
        entry_line(
            out,
            '~',
            &r.entry,
            &format!("Name tag restored to {}", r.new_name),
        );
    }
    for k in &u.keep {
        n.keep += 1;
        entry_line(out, '=', &k.entry, &k.reasons.join(", "));
    }
    for f in &u.future {
        entry_line(
            out,
            '!',
            f,
            "future-dated: its mark names a time after now, so it answers no tick (delete or rename it)",
        );
    }
    for o in &u.orphans {
        n.orphans += 1;
        entry_line(
            out,
            '!',
            &o.entry,
            &format!(
                "orphan: marked for policy {:?}, which the file no longer has",
                o.policy_id
            ),
        );
    }
}

/// The plan in words: `+` create, `-` delete with why, `=` keep with why, `!` orphan.
pub(super) fn render_plan(plan: &FleetPlan) -> String {
    let mut out = String::new();
    let mut n = Counts::default();
    let (mut drills, mut cleanups) = (0, 0);
    let mut copies = (0, 0);
    for p in &plan.policies {
        heading(
            &mut out,
            &p.id,
            p.provider,
            Some(p.selected).filter(|_| p.error.is_none()),
            p.interval_seconds,
        );
        if let Some(e) = &p.error {
            let _ = writeln!(out, "  error: {}", flat(e));
        }
        if let Some(r) = &p.refused {
            let _ = writeln!(out, "  refused: {}", flat(r));
        }
        if let Some(r) = &p.deletions_refused {
            let _ = writeln!(out, "  deletions refused: {}", flat(r));
        }
        for u in &p.units {
            render_planned_unit(&mut out, u, p.refused.is_none(), &mut n);
        }
        if p.refused.is_none() {
            drills += p.drills.len();
            cleanups += p.drill_cleanups.len();
            render_planned_drills(&mut out, p);
            let (made, gone) = super::copies::render_planned(&mut out, p);
            copies.0 += made;
            copies.1 += gone;
        }
    }
    let _ = write!(
        out,
        "Plan: {} to create, {} to delete, {} to keep, {} orphaned.",
        n.create, n.delete, n.keep, n.orphans
    );
    if drills > 0 {
        let _ = write!(out, " Drills: {drills} to run.");
    }
    if cleanups > 0 {
        let _ = write!(out, " Drill volumes left behind: {cleanups} to delete.");
    }
    if copies != (0, 0) {
        let _ = write!(
            out,
            " Copies: {} to make, {} to delete.",
            copies.0, copies.1
        );
    }
    out.push('\n');
    out
}
/// A policy's drills and clean-ups as planned: `~ drill`, `- drill volume`.
pub(super) fn render_planned_drills(out: &mut String, p: &crate::fleet::PolicyPlan) {
    if let Some(e) = &p.drill_error {
        let _ = writeln!(out, "  drill error: {}", flat(e));
    }
    for d in &p.drills {
        let _ = writeln!(
            out,
            "  ~ drill {}{}: restore {} to a new {} volume, verify, delete it",
            flat(&d.volume_id),
            d.volume_name
                .as_deref()
                .map(|n| format!(" ({})", flat(n)))
                .unwrap_or_default(),
            match &d.snapshot_id {
                Some(s) => format!("snapshot {}", flat(s)),
                None => "the snapshot this run takes".into(),
            },
            d.size_gib
                .map(|s| format!("{s} GiB"))
                .unwrap_or_else(|| "same-size".into()),
        );
    }
    for l in &p.drill_cleanups {
        let _ = writeln!(
            out,
            "  - drill volume {}{}: left by an earlier drill, deleted{}",
            flat(&l.volume_id),
            l.name
                .as_deref()
                .map(|n| format!(" ({})", flat(n)))
                .unwrap_or_default(),
            if p.deletions_refused.is_some() {
                " (refused this run)"
            } else {
                ""
            },
        );
    }
    render_suspects(out, &p.drill_suspects);
}

/// Volumes with a drill mark but not the cloud's proof: `?`, never deleted.
fn render_suspects(out: &mut String, suspects: &[crate::fleet::DrillSuspect]) {
    for s in suspects {
        let _ = writeln!(
            out,
            "  ? drill-like volume {}{}: not deleted, because {}",
            flat(&s.volume_id),
            s.name
                .as_deref()
                .map(|n| format!(" ({})", flat(n)))
                .unwrap_or_default(),
            crate::text::one_line(&s.reason, crate::text::MAX_LINE)
        );
    }
}
/// A policy's drills and clean-ups as they ran.
pub(super) fn render_drills(out: &mut String, p: &fleet::PolicyRun) {
    use crate::fleet::DrillStatus;
    if let Some(e) = &p.drill_error {
        let _ = writeln!(
            out,
            "  x drill: {}",
            crate::text::one_line(e, crate::text::MAX_LINE)
        );
    }
    for d in &p.drills {
        let restored = format!(
            "{} as {}",
            d.snapshot_id
                .as_deref()
                .map(flat)
                .unwrap_or_else(|| "-".into()),
            d.restored_volume_id
                .as_deref()
                .map(flat)
                .unwrap_or_else(|| "-".into()),
        );
        let took = d
            .restore_seconds
            .map(|s| format!(" in {}", crate::text::seconds_words(s)))
            .unwrap_or_default();
        match d.status {
            DrillStatus::Ok => {
                let _ = writeln!(
                    out,
                    "  ~ drill {}: ok, restored {restored}{took}{}, deleted",
                    flat(&d.volume_id),
                    if d.verified == Some(true) {
                        ", verified"
                    } else {
                        ""
                    },
                );
            }
            status => {
                let _ = writeln!(
                    out,
                    "  x drill {}: {}, restored {restored}{took}: {}",
                    flat(&d.volume_id),
                    if status == DrillStatus::Interrupted {
                        "interrupted"
                    } else {
                        "failed"
                    },
                    crate::text::one_line(
                        d.error.as_deref().unwrap_or("unknown error"),
                        crate::text::MAX_LINE
                    )
                );
            }
        }
    }
    for c in &p.drill_cleanups {
        match &c.error {
            None => {
                let _ = writeln!(
                    out,
                    "  - drill volume {}: deleted (left by an earlier drill)",
                    flat(&c.volume_id)
                );
            }
            Some(e) => {
                let _ = writeln!(
                    out,
                    "  x drill volume {}: not deleted: {}",
                    flat(&c.volume_id),
                    crate::text::one_line(e, crate::text::MAX_LINE)
                );
            }
        }
    }
    render_suspects(out, &p.drill_suspects);
}
pub(super) fn render_report(r: &RunReport) -> String {
    let mut out = String::new();
    if let Some(why) = &r.refused {
        let _ = writeln!(out, "refused: {}", flat(why));
    }
    let (mut created, mut deleted) = (0, 0);
    for p in &r.policies {
        heading(
            &mut out,
            &p.id,
            p.provider,
            Some(p.selected).filter(|_| p.error.is_none()),
            p.interval_seconds,
        );
        if let Some(e) = &p.error {
            let _ = writeln!(out, "  error: {}", flat(e));
        }
        if let Some(why) = &p.refused {
            let _ = writeln!(out, "  refused: {}", flat(why));
        }
        for u in &p.units {
            let _ = writeln!(
                out,
                "  {}{}: {}",
                flat(&u.volume_id),
                u.volume_name
                    .as_deref()
                    .map(|n| format!(" ({})", flat(n)))
                    .unwrap_or_default(),
                u.status
            );
            if let Some(c) = &u.created {
                created += 1;
                entry_line(&mut out, '+', c, "created");
            }
            for d in &u.deleted {
                deleted += 1;
                entry_line(&mut out, '-', d, "deleted");
            }
            for id in &u.repaired {
                let _ = writeln!(out, "    ~ {}  Name tag restored", flat(id));
            }
            for f in &u.failures {
                let _ = writeln!(
                    out,
                    "    x {}{}: {}",
                    f.op,
                    f.id.as_deref()
                        .map(|id| format!(" {}", flat(id)))
                        .unwrap_or_default(),
                    crate::text::one_line(&f.error, crate::text::MAX_LINE)
                );
            }
        }
        render_drills(&mut out, p);
        super::copies::render_run(&mut out, p);
    }
    // The same count as the exit status's message: units (and policies that could not run).
    let (failed, _, errors) = r.counts();
    let total: usize = r.policies.iter().map(|p| p.units.len().max(1)).sum();
    let drilled: usize = r.policies.iter().map(|p| p.drills.len()).sum();
    let _ = write!(
        out,
        "Applied: {created} created, {deleted} deleted, {} of {total} units failed.",
        failed + errors
    );
    if drilled > 0 {
        let ok = r
            .policies
            .iter()
            .flat_map(|p| &p.drills)
            .filter(|d| d.status == crate::fleet::DrillStatus::Ok)
            .count();
        let _ = write!(out, " Drills: {ok} of {drilled} passed.");
    }
    let cleanups = r.policies.iter().flat_map(|p| &p.drill_cleanups).count();
    if cleanups > 0 {
        let ok = r
            .policies
            .iter()
            .flat_map(|p| &p.drill_cleanups)
            .filter(|c| c.ok)
            .count();
        let _ = write!(
            out,
            " Drill volumes left behind: {ok} of {cleanups} deleted."
        );
    }
    super::copies::render_run_total(&mut out, r);
    out.push('\n');
    out
}
/// What a run's failures are counted among: units (a policy that could not run counts as one),
/// drills and drill clean-ups.
pub(super) fn counted(r: &RunReport) -> usize {
    r.policies
        .iter()
        .map(|p| {
            p.units.len().max(1)
                + p.drills.len()
                + p.drill_cleanups.len()
                + usize::from(p.drill_error.is_some())
                + p.copies.len()
                + p.copy_deletions.len()
                + p.copy_errors.len()
        })
        .sum()
}
