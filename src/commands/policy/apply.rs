//! `policy apply`: a live or saved plan carried out, its report, metrics and history written.

use super::*;

/// Refuse (exit 2) an output file whose directory is missing or not a directory.
pub(super) fn writable_dir(path: &std::path::Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if path.is_dir() {
        return Err(Error::Usage {
            message: format!(
                "cannot write {}: it is a directory; nothing was changed",
                path.display()
            ),
            hint: Some("name a file in metrics_file/report_file".into()),
        });
    }
    if dir.is_dir() {
        return Ok(());
    }
    Err(Error::Usage {
        message: format!(
            "cannot write {}: {} is not a directory; nothing was changed",
            path.display(),
            dir.display()
        ),
        hint: Some(format!(
            "create it (mkdir -p {}) or change metrics_file/report_file in the policy file",
            dir.display()
        )),
    })
}
/// A saved plan can only narrow what the live plan does now. The result is the live plan (names,
/// marks, providers, refusals and keeps all come from the file and the live listing) with only the
/// actions the saved plan also holds: a delete or a `Name` repair is carried out only if the live
/// plan has the same action on the same snapshot, a create only if both plan one (a tick answered
/// since drops it). Every saved action the live plan does not hold is refused, each one named, and
/// then nothing at all is changed.
pub(super) fn reconcile(saved: &FleetPlan, fresh: &FleetPlan) -> Result<FleetPlan> {
    let mut out = fresh.clone();
    let mut refused: Vec<String> = Vec::new();
    for p in &mut out.policies {
        let Some(sp) = saved.policies.iter().find(|s| s.id == p.id) else {
            continue;
        };
        if p.refused.is_none() && sp.refused.is_some() {
            // Refused when planned: stays refused (narrower), whatever the file says now.
            p.refused = sp.refused.clone();
        }
        if p.deletions_refused.is_none() && sp.deletions_refused.is_some() {
            p.deletions_refused = sp.deletions_refused.clone();
            for u in &mut p.units {
                crate::engine::unit::hold_deletions(u, "the saved plan refused the deletions");
            }
        }
        for u in &mut p.units {
            let su = sp.units.iter().find(|x| x.volume_id == u.volume_id);
            if su.is_none_or(|su| su.create.is_none()) {
                u.create = None;
                u.due_since = None;
            }
            u.delete.retain(|d| {
                su.is_some_and(|su| su.delete.iter().any(|x| x.entry.id == d.entry.id))
            });
            u.repair.retain(|r| {
                su.is_some_and(|su| {
                    su.repair
                        .iter()
                        .any(|x| x.entry.id == r.entry.id && x.new_name == r.new_name)
                })
            });
        }
        for su in &sp.units {
            // The live unit before narrowing (`p` is being narrowed).
            let fresh_unit = fresh
                .policies
                .iter()
                .find(|f| f.id == p.id)
                .and_then(|f| f.units.iter().find(|x| x.volume_id == su.volume_id));
            for d in &su.delete {
                if !fresh_unit.is_some_and(|fu| fu.delete.iter().any(|x| x.entry.id == d.entry.id))
                {
                    refused.push(format!(
                        "delete {} on volume {} for policy {}: {}",
                        d.entry.id,
                        su.volume_id,
                        p.id,
                        match fresh_unit {
                            None => "the volume is not selected now",
                            Some(l) if l.keep.iter().any(|k| k.entry.id == d.entry.id) => {
                                "the live plan keeps it"
                            }
                            Some(_) => "it is gone or no longer owned by that policy",
                        }
                    ));
                }
            }
            for r in &su.repair {
                if !fresh_unit.is_some_and(|fu| {
                    fu.repair
                        .iter()
                        .any(|x| x.entry.id == r.entry.id && x.new_name == r.new_name)
                }) {
                    refused.push(format!(
                        "rename {} to {:?} on volume {} for policy {}: the live plan does not",
                        r.entry.id, r.new_name, su.volume_id, p.id
                    ));
                }
            }
        }
    }
    if !refused.is_empty() {
        return Err(Error::Refused {
            reason: format!(
                "the saved plan does what the live plan would not; nothing was changed:\n  {}",
                refused.join("\n  ")
            ),
            hint: Some("make a new plan: snapctl policy plan -f FILE --out PLAN".into()),
        });
    }
    Ok(out)
}
/// The run's report file and metrics file, written what can be (a file that cannot be is
/// reported after the report is shown): the metrics text, and why each unwritten file was not.
pub(super) fn write_outputs(
    loaded: &Loaded,
    report: &RunReport,
    at: jiff::Timestamp,
) -> (String, Vec<String>) {
    let now = jiff::Timestamp::now();
    let mut unwritten = Vec::new();
    if let Some(dir) = &loaded.history_dir
        && let Err(e) = crate::fleet::record_history(dir, at, report, loaded.history_keep)
    {
        unwritten.push(e.to_string());
    }
    if let Some(path) = &loaded.report_file
        && let Err(e) =
            fleet::write_atomically_with(path, 0o600, &mut |w| crate::output::write_json(w, report))
    {
        unwritten.push(e.to_string());
    }
    let metrics = fleet::metrics(report, &loaded.compiled, now);
    if let Some(path) = &loaded.metrics_file
        && let Err(e) = fleet::write_atomically(path, &metrics, 0o644)
    {
        unwritten.push(e.to_string());
    }
    (metrics, unwritten)
}
/// How an apply that has its report ends: interrupted (130), unreported (11), refused by
/// `--max-delete` (9), partial (6), a policy refused (9), or done (0).
pub(super) fn outcome(report: &RunReport, unwritten: &[String]) -> Result<u8> {
    if crate::interrupt::requested() {
        return Err(Error::Interrupted {
            done: "the report above says what was done".into(),
        });
    }
    if !unwritten.is_empty() {
        return Err(Error::Unreported {
            failed: unwritten.join("; "),
        });
    }
    if let Some(why) = &report.refused {
        return Err(Error::Refused {
            reason: why.clone(),
            hint: Some("check the plan (snapctl policy plan); if it is right, raise --max-delete for this run".into()),
        });
    }
    let (failed, refused, errors) = report.counts();
    let failed = failed
        + report.drill_failures()
        + report
            .policies
            .iter()
            .map(fleet::PolicyRun::copy_failures)
            .sum::<usize>();
    if failed + errors > 0 {
        return Err(Error::Partial {
            failed: failed + errors,
            total: counted(report),
            what: if counted(report) > report.policies.iter().map(|p| p.units.len().max(1)).sum() {
                "policy units (one policy on one volume), drills and copies"
            } else {
                "policy units (one policy on one volume)"
            },
        });
    }
    if refused > 0 {
        let p = report
            .policies
            .iter()
            .find(|p| p.status == fleet::PolicyStatus::Refused)
            .expect("a refused policy");
        return Err(Error::Refused {
            reason: format!(
                "policy {}: {}",
                p.id,
                p.refused.as_deref().unwrap_or("refused")
            ),
            hint: Some("the other policies were applied".into()),
        });
    }
    Ok(0)
}
/// A saved plan (`apply --plan`), refused unless it was planned from these policies, from this
/// very file (its SHA-256), and is safe to read (strict modes).
pub(super) fn read_saved_plan(
    path: &std::path::Path,
    fresh: &FleetPlan,
    loaded: &Loaded,
    file: &std::path::Path,
) -> Result<FleetPlan> {
    crate::fleet::check_strict(path, "saved plan")?;
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        action: format!("cannot read saved plan {}", path.display()),
        source,
    })?;
    let saved: FleetPlan = serde_json::from_str(&text).map_err(|e| Error::Usage {
        message: format!("{} is not a saved plan: {e}", path.display()),
        hint: Some("save one with: snapctl policy plan -f FILE --out PLAN".into()),
    })?;
    if saved.schema != PLAN_SCHEMA
        || saved
            .policies
            .iter()
            .map(|p| &p.id)
            .ne(fresh.policies.iter().map(|p| &p.id))
    {
        return Err(Error::Usage {
            message: format!(
                "{} was not planned from these policies (schema {}, policies {})",
                path.display(),
                saved.schema,
                saved
                    .policies
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            hint: Some("apply it with the same -f and --policy it was planned with".into()),
        });
    }
    if saved.file_sha256.as_deref() != Some(loaded.file_sha256.as_str()) {
        return Err(Error::Refused {
            reason: format!(
                "{} was planned from another version of {} (the file changed since, or the plan records no digest); nothing was changed",
                path.display(),
                file.display()
            ),
            hint: Some("make a new plan: snapctl policy plan -f FILE --out PLAN".into()),
        });
    }
    Ok(saved)
}
/// What a run leaves for its push to the Pushgateway.
#[derive(Default)]
pub(super) struct Pushable {
    /// The file's `metrics_push_url`, once the file is read.
    file_url: Option<String>,
    /// The group of the policies run, once the file is read.
    group: Option<String>,
    /// The run's metrics, once it has a report.
    metrics: Option<String>,
}
/// `policy apply`, then its metrics pushed (`--push-url`, `metrics_push_url`) whatever the run's
/// end: the whole group (PUT) after a run with a report, only `snapctl_apply_exit_code` (POST,
/// the last full metrics stay) after one that ended before it had one.
pub(super) async fn apply(f: &Fleet<'_>, a: crate::commands::cli::PolicyApplyArgs) -> Result<u8> {
    if let Some(url) = &a.push_url {
        fleet::push_target(url, "check")?;
    }
    let flag = a.push_url.clone();
    let mut seen = Pushable::default();
    let result = apply_run(f, a, &mut seen).await;
    let Some(base) = flag.or(seen.file_url) else {
        return result;
    };
    let code = match &result {
        Ok(c) => *c,
        Err(e) => e.exit_code() as u8,
    };
    let pushed = match seen.group {
        None => Err(format!(
            "the policy file could not be read, so the group is unknown (its push_time_seconds goes stale); exit code {code}"
        )),
        Some(group) => {
            let (body, replace) = match seen.metrics {
                Some(m) => (m + &fleet::exit_code_family(code), true),
                None => (fleet::exit_code_family(code), false),
            };
            match fleet::push_target(&base, &group) {
                Ok(url) => fleet::send_push(
                    fleet::Push {
                        url,
                        body: &body,
                        replace,
                    },
                    &f.env,
                    f.g.verbose,
                )
                .await
                .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    if let Err(why) = pushed {
        eprintln!(
            "warning: metrics not pushed to {}: {}",
            crate::text::flatten(&base),
            crate::text::flatten(&why)
        );
    }
    result
}
pub(super) async fn apply_run(
    f: &Fleet<'_>,
    a: crate::commands::cli::PolicyApplyArgs,
    seen: &mut Pushable,
) -> Result<u8> {
    let (g, env) = (f.g, &f.env);
    let loaded = load(g, &a.run, env, true).await?;
    seen.file_url = loaded.metrics_push_url.clone();
    seen.group = Some(crate::fleet::push_group(
        &loaded
            .chosen
            .iter()
            .map(|i| loaded.compiled[*i].policy.id.as_str())
            .collect::<Vec<_>>(),
    ));
    // Know before any request that the run can be reported: a snapshot taken by a run whose
    // metrics and report cannot be written is a change nobody hears of.
    for path in [&loaded.metrics_file, &loaded.report_file]
        .into_iter()
        .flatten()
    {
        writable_dir(path)?;
    }
    if let Some(dir) = &loaded.history_dir {
        crate::lock::private_dir(dir, "history directory", "history_dir")?;
    }
    // One apply per policy file at a time (exit 8): cron overlapping a slow run.
    let dir = lock_dir(env)?;
    let scope = crate::lock::file_scope(&a.run.file);
    let _lock =
        crate::lock::acquire_async(&dir, "policy", &scope, "apply", std::time::Duration::ZERO)
            .await?;
    // And one per policy file across machines when its state is in a bucket (exit 8, or wait
    // --lock-wait): a lease the run renews while it lasts.
    let lease = match &loaded.store {
        Some(store) => {
            let ids: Vec<&str> = loaded
                .compiled
                .iter()
                .map(|c| c.policy.id.as_str())
                .collect();
            let name = format!("lease-apply-{}.json", crate::fleet::push_group(&ids));
            let wait = a.lock_wait.unwrap_or_default();
            Some(crate::store::Lease::acquire(store.clone(), &name, loaded.lease_ttl, wait).await?)
        }
        None => None,
    };
    let result = leased_run(f, &a, &loaded, seen).await;
    if let Some(lease) = lease
        && let Err(e) = lease.release().await
    {
        eprintln!("warning: the lease is left to expire: {e}");
    }
    result
}

/// The part of an apply done under its locks and lease.
async fn leased_run(
    f: &Fleet<'_>,
    a: &crate::commands::cli::PolicyApplyArgs,
    loaded: &Loaded,
    seen: &mut Pushable,
) -> Result<u8> {
    let (g, env) = (f.g, &f.env);
    let targets = connect_all(f, loaded).await;
    let by_policy: Vec<Option<Target>> = targets.iter().map(|(_, t)| t.clone().ok()).collect();
    let listed_at = jiff::Timestamp::now();
    let planned = match &a.plan {
        // Planned account by account as the run goes: an account's changes start as soon as
        // its own listing is done.
        None => fleet::Planned::Live {
            targets,
            at: at(&a.run),
        },
        Some(path) => {
            let fresh = fleet::plan_all(loaded.compiled.clone(), targets, at(&a.run)).await;
            let saved = read_saved_plan(path, &fresh, loaded, &a.run.file)?;
            fleet::Planned::Given(reconcile(&saved, &fresh)?, by_policy)
        }
    };
    let wait = WaitOptions::new(
        g.timeout.unwrap_or(crate::config::DEFAULT_TIMEOUT),
        g.poll_interval,
        g.quiet,
    );
    let report = fleet::apply(
        planned,
        loaded.compiled.clone(),
        fleet::ApplyOptions {
            max_delete: a.max_delete,
            wait,
            lock_dir: lock_dir(env)?,
            lock_wait: a.lock_wait.unwrap_or_default(),
            listed_at,
        },
    )
    .await;
    let (metrics, unwritten) = write_outputs(loaded, &report, at(&a.run));
    seen.metrics = Some(metrics);
    // The whole report goes to stdout when its file could not be written: the run's changes
    // are never unreported.
    let whole = g.output == Format::Json || (!unwritten.is_empty() && loaded.report_file.is_some());
    if whole {
        f.out.json(&report)?;
    } else {
        f.print(&render_report(&report))?;
    }
    for p in &report.policies {
        for u in &p.units {
            for f in &u.failures {
                eprintln!(
                    "error: policy {} volume {}: {} {}",
                    p.id,
                    flat(&u.volume_id),
                    f.op,
                    crate::text::one_line(&f.error, crate::text::MAX_LINE)
                );
            }
        }
    }
    outcome(&report, &unwritten)
}
