//! `policy check`: the monitoring plugin (Nagios/Icinga output and exit codes).

use super::*;

/// The worse of two plugin statuses (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), in the order
/// CRITICAL > UNKNOWN > WARNING > OK: a failed drill never hides behind a destination that could
/// not be read, and what could not be read is never ranked below a mere warning.
pub(super) fn worse(a: u8, b: u8) -> u8 {
    let rank = |s: u8| match s {
        0 => 0,
        1 => 1,
        3 => 2,
        _ => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// `check`'s lines about a policy's restore drills, and the worst status among them: the state
/// unreadable (UNKNOWN), a selected volume whose last drill failed or was too slow (CRITICAL),
/// or whose last successful drill is older than twice its drill cadence (WARNING). A volume
/// never drilled yet is drilled before any other: not a problem.
pub(super) fn drill_problems(
    p: &fleet::PolicyRun,
    s: &crate::fleet::DrillSummary,
    now: jiff::Timestamp,
    problems: &mut Vec<String>,
) -> u8 {
    let word = |s: u8| ["OK", "WARNING", "CRITICAL", "UNKNOWN"][usize::from(s.min(3))];
    if let Some(e) = s.error.as_ref().or(p.drill_error.as_ref()) {
        problems.push(format!("UNKNOWN: policy {} drills: {e}", p.id));
        return 3;
    }
    let mut worst = 0;
    for v in &s.volumes {
        // Volumes no longer selected keep their record, but are not this policy's to drill.
        if !p.units.iter().any(|u| u.volume_id == v.volume_id) {
            continue;
        }
        let (status, why) = crate::fleet::drill_verdict(s, v, now);
        if let Some(why) = why {
            problems.push(format!(
                "{}: policy {} volume {}: {why}",
                word(status),
                p.id,
                v.volume_id
            ));
        }
        worst = worse(worst, status);
    }
    worst
}
/// One volume's status (0 OK … 3 UNKNOWN), its problem lines and its perfdata.
fn unit_verdict(
    p: &fleet::PolicyRun,
    c: &Compiled,
    u: &crate::engine::outcome::UnitRun,
    now: jiff::Timestamp,
    problems: &mut Vec<String>,
    perf: &mut Vec<String>,
) -> u8 {
    let word = |s: u8| ["OK", "WARNING", "CRITICAL", "UNKNOWN"][usize::from(s.min(3))];
    let (warn, crit) = c.thresholds(now);
    let status = fleet::freshness(c, u, now);
    // Fresh by age, WARNING only for a future-dated snapshot (its own line below).
    let fresh_by_age = u.newest.is_some_and(|t| now.duration_since(t) <= warn);
    match (status, u.newest) {
        (0, _) => {}
        (1, Some(_)) if fresh_by_age => {}
        (3, _) => problems.push(format!(
            "UNKNOWN: policy {} volume {}: {}",
            p.id,
            u.volume_id,
            u.failures
                .first()
                .map(|f| f.error.as_str())
                .unwrap_or("cannot be read")
        )),
        (_, None) => problems.push(format!(
            "{}: policy {} volume {}: no snapshot of this policy",
            word(status),
            p.id,
            u.volume_id
        )),
        (_, Some(t)) => problems.push(format!(
            "{}: policy {} volume {}: newest snapshot is {} old",
            word(status),
            p.id,
            u.volume_id,
            crate::error::humanize(now.duration_since(t).unsigned_abs())
        )),
    }
    for f in &u.future {
        problems.push(format!(
            "WARNING: policy {} volume {}: snapshot {} is dated in the future ({}): it answers no tick",
            p.id,
            u.volume_id,
            f.id,
            f.name.as_deref().unwrap_or("-")
        ));
    }
    // Every volume gets perfdata; `U` (unknown) when it has no snapshot or cannot be
    // read, so graphs show the gap instead of losing the series.
    let age = u
        .newest
        .filter(|_| status != 3)
        .map(|t| format!("{}s", now.duration_since(t).as_secs().max(0)))
        .unwrap_or_else(|| "U".into());
    // The label is server text: on one line, its quotes doubled (the plugin format).
    let label = flat(&format!("{}/{}", p.id, u.volume_id)).replace('\'', "''");
    perf.push(format!(
        "'{label}'={age};{};{};0",
        warn.as_secs(),
        crit.as_secs()
    ));
    status
}

/// The monitoring plugin: the worst unit's status (a refused policy is CRITICAL, a policy or
/// volume that could not be read UNKNOWN; CRITICAL > UNKNOWN > WARNING, see [`worse`]), one line
/// per problem, perfdata per volume.
pub(super) async fn check(f: &Fleet<'_>, a: PolicyRunArgs) -> u8 {
    let (g, env) = (f.g, &f.env);
    let word = |s: u8| ["OK", "WARNING", "CRITICAL", "UNKNOWN"][usize::from(s.min(3))];
    let loaded = match load(g, &a, env, false).await {
        Ok(l) => l,
        Err(e) => {
            let _ = crate::output::write_stdout(
                format!(
                    "SNAPCTL UNKNOWN: {}\n",
                    crate::text::one_line(&e.to_string(), crate::text::MAX_LINE)
                )
                .as_bytes(),
            );
            return 3;
        }
    };
    let now = at(&a);
    let targets = connect_all(f, &loaded).await;
    let plan = fleet::plan_all(loaded.compiled.clone(), targets, now).await;
    let mut report = fleet::report_of_plan(&plan, now);
    fleet::add_drill_summaries(&mut report, &loaded.compiled);
    let mut worst = 0u8;
    let mut problems = Vec::new();
    let mut perf = Vec::new();
    let (mut volumes, mut fresh) = (0, 0);
    for p in &report.policies {
        let Some(c) = loaded.compiled.iter().find(|c| c.policy.id == p.id) else {
            continue;
        };
        if let Some(e) = &p.error {
            worst = worse(worst, 3);
            problems.push(format!("UNKNOWN: policy {}: {e}", p.id));
            continue;
        }
        if let Some(why) = &p.refused {
            worst = worse(worst, 2);
            problems.push(format!("CRITICAL: policy {}: {why}", p.id));
        }
        for u in &p.units {
            volumes += 1;
            let status = unit_verdict(p, c, u, now, &mut problems, &mut perf);
            fresh += usize::from(status == 0);
            worst = worse(worst, status);
        }
        if let Some(s) = &p.drill {
            worst = worse(worst, drill_problems(p, s, now, &mut problems));
        }
        worst = worse(worst, super::copies::problems(p, c, now, &mut problems));
    }
    let mut text = format!(
        "SNAPCTL {}: {} policies, {fresh} of {volumes} volumes fresh",
        word(worst),
        report.policies.len()
    );
    if !perf.is_empty() {
        text.push_str(" | ");
        text.push_str(&perf.join(" "));
    }
    text.push('\n');
    for line in problems {
        text.push_str(&crate::text::one_line(&line, crate::text::MAX_LINE));
        text.push('\n');
    }
    let _ = crate::output::write_stdout(crate::text::sanitize(&text).as_bytes());
    worst
}

#[cfg(test)]
mod tests {
    use super::worse;

    #[test]
    fn critical_outranks_unknown_which_outranks_warning() {
        let order = [0, 1, 3, 2];
        for (i, a) in order.iter().enumerate() {
            for b in &order[i..] {
                assert_eq!(worse(*a, *b), *b, "{a} then {b}");
                assert_eq!(worse(*b, *a), *b, "{b} then {a}");
            }
        }
    }
}
