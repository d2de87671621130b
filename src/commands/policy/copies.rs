//! How `policy plan`, `apply` and `check` speak of a policy's copies in other Regions
//! (`fleet/copy/`): `~ copy` and `- copy` lines, the totals, and `check`'s verdicts; and
//! `policy copies`, the list of what each destination holds.

use std::fmt::Write as _;

use crate::fleet::CopyStatus;
use crate::fleet::PolicyRun;
use crate::fleet::{Compiled, PolicyPlan};
use crate::text::{MAX_LINE, one_line};

fn flat(text: &str) -> String {
    one_line(text, MAX_LINE)
}

fn gib(size: Option<u64>) -> String {
    size.map(|s| format!(" ({s} GiB)")).unwrap_or_default()
}

/// A policy's planned copies, per destination: `~ copy` (each step named), `- copy` (with why).
/// The copies to make and to delete.
pub(super) fn render_planned(out: &mut String, p: &PolicyPlan) -> (usize, usize) {
    let (mut made, mut gone) = (0, 0);
    for d in &p.copies {
        if let Some(e) = &d.error {
            let _ = writeln!(out, "  copy error ({}): {}", flat(&d.region), flat(e));
        }
        for c in &d.copies {
            made += 1;
            let _ = writeln!(
                out,
                "  ~ copy {} to {}: {}{}: export to bucket {}, import in {}, delete the image",
                flat(&c.volume_id),
                flat(&d.region),
                match &c.snapshot_id {
                    Some(s) => format!("snapshot {}", flat(s)),
                    None => "the snapshot this run takes".into(),
                },
                gib(c.size_gib),
                flat(&d.bucket),
                flat(&d.region),
            );
        }
        for x in &d.delete {
            gone += 1;
            let _ = writeln!(
                out,
                "  - copy {} in {} (of {}): {}",
                flat(&x.id),
                flat(&d.region),
                flat(&x.volume_id),
                flat(&x.reason)
            );
        }
        for x in &d.foreign {
            let _ = writeln!(
                out,
                "  ? copy {} in {} (of {}): not pruned, because {}",
                flat(&x.id),
                flat(&d.region),
                flat(&x.volume_id),
                flat(&x.reason)
            );
        }
    }
    (made, gone)
}

/// A policy's copies as they ran.
pub(super) fn render_run(out: &mut String, p: &PolicyRun) {
    for e in &p.copy_errors {
        let _ = writeln!(out, "  x copy: {}", flat(e));
    }
    for c in &p.copies {
        let made = format!(
            "{} as {} in {}",
            flat(&c.snapshot_id),
            c.copy_id.as_deref().map(flat).unwrap_or_else(|| "-".into()),
            flat(&c.region)
        );
        match c.status {
            CopyStatus::Ok => {
                let _ = writeln!(
                    out,
                    "  ~ copy {}: ok, {made} in {:.1} s, image deleted",
                    flat(&c.volume_id),
                    c.seconds
                );
            }
            CopyStatus::InFlight => {
                let _ = writeln!(
                    out,
                    "  > copy {}: in flight at {} after {:.1} s, {made}: copy_budget spent, the next run resumes it",
                    flat(&c.volume_id),
                    c.step.unwrap_or("-"),
                    c.seconds
                );
            }
            CopyStatus::Queued => {
                let _ = writeln!(
                    out,
                    "  > copy {}: queued, {} to {}: copy_budget spent, the next run starts it",
                    flat(&c.volume_id),
                    flat(&c.snapshot_id),
                    flat(&c.region)
                );
            }
            status => {
                let _ = writeln!(
                    out,
                    "  x copy {}: {} at {}, {made}: {}",
                    flat(&c.volume_id),
                    if status == CopyStatus::Interrupted {
                        "interrupted"
                    } else {
                        "failed"
                    },
                    c.step.unwrap_or("-"),
                    flat(c.error.as_deref().unwrap_or("unknown error"))
                );
            }
        }
    }
    for d in &p.copy_deletions {
        match &d.error {
            None => {
                let _ = writeln!(
                    out,
                    "  - copy {} in {}: deleted ({})",
                    flat(&d.id),
                    flat(&d.region),
                    flat(&d.reason)
                );
            }
            Some(e) => {
                let _ = writeln!(
                    out,
                    "  x copy {} in {}: not deleted: {}",
                    flat(&d.id),
                    flat(&d.region),
                    flat(e)
                );
            }
        }
    }
}

/// The run's copy totals, when it made or deleted any.
pub(super) fn render_run_total(out: &mut String, r: &crate::fleet::RunReport) {
    let all = || r.policies.iter().flat_map(|p| &p.copies);
    let made = all().count();
    let deleted: usize = r
        .policies
        .iter()
        .flat_map(|p| &p.copy_deletions)
        .filter(|d| d.ok)
        .count();
    if made > 0 || deleted > 0 {
        let ok = all().filter(|c| c.status == CopyStatus::Ok).count();
        let _ = write!(
            out,
            " Copies: {ok} of {made} made, {deleted} deleted at destinations."
        );
        let waiting = all()
            .filter(|c| matches!(c.status, CopyStatus::InFlight | CopyStatus::Queued))
            .count();
        if waiting > 0 {
            let _ = write!(out, " {waiting} left for the next run (copy_budget).");
        }
    }
}

/// `check`'s lines about a policy's copies, and the worst status among them: a destination that
/// cannot be read (UNKNOWN), a selected volume whose newest copy there is missing or older than
/// twice the policy's cadence (WARNING).
pub(super) fn problems(
    p: &PolicyRun,
    c: &Compiled,
    now: jiff::Timestamp,
    problems: &mut Vec<String>,
) -> u8 {
    if c.copies.is_empty() || p.error.is_some() {
        return 0;
    }
    let mut worst = 0;
    for e in &p.copy_errors {
        problems.push(format!("UNKNOWN: policy {}: {e}", p.id));
        worst = 3;
    }
    let limit = jiff::SignedDuration::from_secs(
        i64::try_from(p.interval_seconds.saturating_mul(2)).unwrap_or(i64::MAX),
    );
    for d in &c.copies {
        if p.copy_errors
            .iter()
            .any(|e| e.starts_with(&format!("copy to {}:", d.region)))
        {
            continue;
        }
        for u in &p.units {
            let newest = p
                .copies_held
                .iter()
                .find(|h| h.region == d.region && h.held.volume_id == u.volume_id)
                .and_then(|h| h.held.newest);
            let why = match newest {
                None => Some(format!("no copy in {}", d.region)),
                Some(t) if now.duration_since(t) > limit => Some(format!(
                    "newest copy in {} is {} old",
                    d.region,
                    crate::error::humanize(now.duration_since(t).unsigned_abs())
                )),
                Some(_) => None,
            };
            if let Some(why) = why {
                problems.push(format!(
                    "WARNING: policy {} volume {}: {why}",
                    p.id, u.volume_id
                ));
                // Only 1 (WARNING) and 3 (UNKNOWN) are said here: the larger is the worse.
                worst = worst.max(1);
            }
        }
    }
    worst
}

/// `policy copies`: per policy with `copy` and destination, the copies it holds (by their marks)
/// of the policy's volumes from the policy's Region. A destination that cannot be read is said,
/// never shown as empty (exit 6).
pub(super) async fn list(
    f: &super::Fleet<'_>,
    a: crate::commands::cli::PolicyCopiesArgs,
) -> crate::error::Result<u8> {
    let (g, env) = (f.g, &f.env);
    let loaded = super::load(g, &a.run, env, false).await?;
    let targets = super::connect_all(f, &loaded).await;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, target) in &targets {
        let c = &loaded.compiled[*i];
        for d in &c.copies {
            let place = format!("policy {}, {}", c.policy.id, d.region);
            let from = match target {
                Ok(t) => t.provider.scope(),
                Err(e) => {
                    errors.push(format!("{place}: {e}"));
                    continue;
                }
            };
            let listed = match crate::fleet::copy_destination(c, &d.region) {
                Some(Ok(dst)) => crate::fleet::copies_at(dst.as_ref(), (&c.policy.id, &from))
                    .await
                    .map_err(|e| e.to_string()),
                Some(Err(e)) => Err(e),
                None => continue,
            };
            match listed {
                Ok(held) => rows.extend(
                    held.into_iter()
                        .filter(|h| a.volume.as_ref().is_none_or(|v| *v == h.volume_id))
                        .map(|h| (c.policy.id.clone(), d.region.clone(), h)),
                ),
                Err(e) => errors.push(format!("{place}: cannot list the copies there: {e}")),
            }
        }
    }
    let text = match g.output {
        crate::output::Format::Json => crate::output::json(
            &rows
                .iter()
                .map(|(p, r, h)| serde_json::json!({"policy": p, "region": r, "copy": h}))
                .collect::<Vec<_>>(),
        ),
        _ => {
            let mut out = String::new();
            for (p, r, h) in &rows {
                let _ = writeln!(
                    out,
                    "{p}  {r}  {}  tick {}  of {}  copy {}  {}",
                    flat(&h.volume_id),
                    h.tick.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                    flat(&h.snapshot_id),
                    flat(&h.copy_id),
                    h.state.as_str()
                );
            }
            let _ = writeln!(
                out,
                "{} cop{}.",
                rows.len(),
                if rows.len() == 1 { "y" } else { "ies" }
            );
            out
        }
    };
    f.print(&text)?;
    for e in &errors {
        eprintln!("error: {}", flat(e));
    }
    Ok(if errors.is_empty() { 0 } else { 6 })
}
