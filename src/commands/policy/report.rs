//! `policy report`: the coverage report over the run history and what the clouds hold now.

use super::*;

/// `policy report`: the coverage of a past window, from the history and the clouds now.
pub(super) async fn report(f: &Fleet<'_>, a: crate::commands::cli::PolicyReportArgs) -> Result<u8> {
    let (g, env) = (f.g, &f.env);
    if matches!(g.output, Format::Ids | Format::Tsv) {
        return Err(Error::Usage {
            message: "the coverage report is written as a table, JSON, CSV or HTML".into(),
            hint: Some("-o table|json|csv|html".into()),
        });
    }
    let span = crate::fleet::duration_secs(&a.since).map_err(|why| Error::Usage {
        message: format!("--since: {why}"),
        hint: Some("a duration such as 30d, 12h or 4w".into()),
    })?;
    let loaded = load(g, &a.run, env, false).await?;
    let until = at(&a.run);
    let since = until - jiff::SignedDuration::from_secs(span as i64);
    let history = crate::fleet::read_history(loaded.history_dir.as_deref(), since, until)?;
    let targets = connect_all(f, &loaded).await;
    let plan = fleet::plan_all(loaded.compiled.clone(), targets, until).await;
    let cov = crate::fleet::build_coverage(&loaded.compiled, &plan, &history, since, until);
    let text = match g.output {
        Format::Json => crate::output::json(&cov),
        Format::Csv => crate::fleet::coverage_csv(&cov),
        Format::Html => crate::fleet::coverage_html(&cov),
        _ => crate::fleet::coverage_table(&cov),
    };
    match &a.out {
        Some(path) => fleet::write_atomically(path, &text, 0o644)?,
        None if g.output == Format::Json => f.out.json(&cov)?,
        None => f.print(&text)?,
    }
    if loaded.history_dir.is_none() {
        eprintln!(
            "warning: {} has no history_dir: snapshots pruned before now are not known, and the ticks they answered are reported unknown",
            a.run.file.display()
        );
    }
    for u in &history.unreadable {
        eprintln!("warning: history run skipped: {}", flat(u));
    }
    // A destination that could not be read: its copies are unknown, and the report says so
    // on stderr once per destination, naming what to fix.
    let mut unread = std::collections::BTreeSet::new();
    for p in &cov.policies {
        for c in p.volumes.iter().flat_map(|v| &v.copies) {
            if let Some(e) = &c.error
                && unread.insert((p.id.as_str(), c.region.as_str()))
            {
                eprintln!(
                    "error: policy {} copies in {}: unknown: {}",
                    p.id,
                    flat(&c.region),
                    crate::text::one_line(e, crate::text::MAX_LINE)
                );
            }
        }
    }
    let failed: Vec<&crate::fleet::PolicyCoverage> =
        cov.policies.iter().filter(|p| p.error.is_some()).collect();
    for p in &failed {
        eprintln!(
            "error: policy {}: {}",
            p.id,
            crate::text::one_line(p.error.as_deref().unwrap_or(""), crate::text::MAX_LINE)
        );
    }
    if !failed.is_empty() {
        return Err(Error::Partial {
            failed: failed.len(),
            total: cov.policies.len(),
            what: "policies (reported from the history alone)",
        });
    }
    if !unread.is_empty() {
        let destinations: usize = cov
            .policies
            .iter()
            .map(|p| {
                p.volumes
                    .iter()
                    .flat_map(|v| &v.copies)
                    .map(|c| c.region.as_str())
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
            })
            .sum();
        return Err(Error::Partial {
            failed: unread.len(),
            total: destinations,
            what: "copy destinations (their copies are reported unknown)",
        });
    }
    Ok(0)
}
