//! `policy orphans` and `policy adopt`: what no policy in the file manages, and taking over
//! `rotate`'s snapshots.

use super::*;

/// Each connection once (policies on one account share it).
pub(super) fn distinct(
    targets: Vec<(usize, std::result::Result<Target, String>)>,
) -> (Vec<Target>, Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    let (mut ok, mut errors) = (Vec::new(), Vec::new());
    for (_, t) in targets {
        match t {
            Ok(t) => {
                if seen.insert(Arc::as_ptr(&t.provider) as *const () as usize) {
                    ok.push(t);
                }
            }
            Err(e) if !errors.contains(&e) => errors.push(e),
            Err(_) => {}
        }
    }
    (ok, errors)
}
pub(super) async fn orphans(
    f: &Fleet<'_>,
    a: crate::commands::cli::PolicyOrphansArgs,
) -> Result<u8> {
    let (g, env) = (f.g, &f.env);
    let loaded = load(g, &file_only(&a.file, vec![]), env, false).await?;
    let known: std::collections::BTreeSet<String> = loaded
        .compiled
        .iter()
        .map(|c| c.policy.id.clone())
        .collect();
    if a.delete && a.policy_id.is_none() {
        return Err(Error::Usage {
            message: "--delete deletes the orphans of one policy id at a time".into(),
            hint: Some("add --policy-id ID (the ids are in the list without --delete)".into()),
        });
    }
    let mut connections = connect_all(f, &loaded).await;
    // An account no policy of the file uses any more (its policy was removed): name it with the
    // usual -p/--profile/--service and it is scanned too.
    if g.provider.is_some() || g.profile.is_some() {
        let extra = f.connect(g.opts()).await;
        connections.push((usize::MAX, extra));
    }
    let (targets, mut errors) = distinct(connections);
    if !g.quiet {
        let scanned: Vec<String> = targets
            .iter()
            .map(|t| format!("{} ({})", t.provider.kind(), t.provider.scope()))
            .collect();
        eprintln!("scanning {}", scanned.join(", "));
    }
    let (found, more) = fleet::find_orphans(&targets, &known, &loaded.compiled).await;
    errors.extend(more);
    let doomed: Vec<&fleet::FoundOrphan> = found
        .iter()
        // A drill-like volume (a mark without the cloud's proof) is never deleted.
        .filter(|o| a.delete && Some(&o.policy_id) == a.policy_id.as_ref())
        .filter(|o| o.kind != "drill_like_volume")
        .collect();
    let mut failed = 0;
    if !doomed.is_empty() {
        let wait = WaitOptions::new(
            g.timeout.unwrap_or(crate::config::DEFAULT_TIMEOUT),
            g.poll_interval,
            g.quiet,
        );
        failed = delete_orphans(&targets, &doomed, &wait).await;
    }
    let text = render_orphans(&found, &doomed, g.output);
    f.print(&text)?;
    for e in &errors {
        eprintln!("error: {}", crate::text::one_line(e, crate::text::MAX_LINE));
    }
    if failed > 0 || !errors.is_empty() {
        return Err(Error::Partial {
            failed: failed + errors.len(),
            total: doomed.len() + targets.len() + errors.len(),
            what: "orphan deletions and account listings",
        });
    }
    Ok(0)
}
pub(super) async fn adopt(f: &Fleet<'_>, a: crate::commands::cli::PolicyAdoptArgs) -> Result<u8> {
    let (g, env) = (f.g, &f.env);
    let loaded = load(g, &file_only(&a.file, vec![a.policy.clone()]), env, false).await?;
    let i = loaded.chosen[0];
    let c = &loaded.compiled[i];
    if a.prefix.is_empty() || a.prefix.starts_with("snapctl.") {
        return Err(Error::usage(format!(
            "--prefix {:?} would adopt other policies' or every manual snapshot; give rotate's prefix",
            a.prefix
        )));
    }
    let (targets, errors) = distinct(connect_all(f, &loaded).await);
    let Some(target) = targets.into_iter().next() else {
        return Err(Error::usage(errors.join("; ")));
    };
    let list = fleet::adoptions(c, &target, &a.prefix).await?;
    let mut text = match g.output {
        Format::Json => crate::output::json(&list),
        _ => {
            let mut out = String::new();
            for x in &list {
                let _ = writeln!(
                    out,
                    "~ {}  {} -> {}  volume {}",
                    x.id,
                    x.name.as_deref().unwrap_or("-"),
                    x.new_name,
                    x.volume_id
                );
            }
            let _ = writeln!(
                out,
                "{} snapshot{} to adopt for policy {}{}",
                list.len(),
                if list.len() == 1 { "" } else { "s" },
                c.policy.id,
                if a.yes {
                    "."
                } else {
                    " (nothing changed: add --yes to mark them)."
                }
            );
            out
        }
    };
    if !a.yes || list.is_empty() {
        f.print(&text)?;
        return Ok(0);
    }
    let failed = fleet::adopt(&target, &c.policy.id, &list).await;
    if g.output != Format::Json {
        let _ = writeln!(
            text,
            "Adopted {} of {}.",
            list.len() - failed.len(),
            list.len()
        );
    }
    f.print(&text)?;
    for (id, e) in &failed {
        eprintln!(
            "error: snapshot {id}: {}",
            crate::text::one_line(&e.to_string(), crate::text::MAX_LINE)
        );
    }
    if crate::interrupt::requested() {
        return Err(Error::Interrupted {
            done: "some snapshots were adopted; run adopt again for the rest".into(),
        });
    }
    if !failed.is_empty() {
        return Err(Error::Partial {
            failed: failed.len(),
            total: list.len(),
            what: "adoptions",
        });
    }
    Ok(0)
}

/// Delete the orphans `doomed` names, account by account: drill volumes one by one (their mark
/// was checked when listed), snapshots in one batch. The deletions that failed.
async fn delete_orphans(
    targets: &[Target],
    doomed: &[&fleet::FoundOrphan],
    wait: &WaitOptions,
) -> usize {
    let mut failed = 0;
    for t in targets {
        let kind = t.provider.kind();
        // Volumes a drill left: deleted one by one (their mark was checked when listed).
        for o in doomed
            .iter()
            .filter(|o| o.provider == kind && o.kind == "drill_volume")
        {
            let gone = crate::engine::delete::volume(t.provider.as_ref(), &o.id, wait).await;
            if let Err(e) = gone {
                failed += 1;
                eprintln!(
                    "error: drill volume {}: {}",
                    o.id,
                    crate::text::one_line(&e.to_string(), crate::text::MAX_LINE)
                );
            }
        }
        let mine: Vec<(Option<String>, String)> = doomed
            .iter()
            .filter(|o| o.provider == kind && o.kind == "snapshot")
            .map(|o| (o.volume_id.clone(), o.id.clone()))
            .collect();
        let ended =
            crate::engine::delete::snapshots(&t.provider, &mine, None, &t.in_flight, Some(wait))
                .await;
        for ((_, id), ended) in mine.iter().zip(ended) {
            match ended {
                crate::engine::delete::Deletion::Deleted(_) => {}
                crate::engine::delete::Deletion::Failed(e) => {
                    failed += 1;
                    eprintln!(
                        "error: snapshot {id}: {}",
                        crate::text::one_line(&e.to_string(), crate::text::MAX_LINE)
                    );
                }
                crate::engine::delete::Deletion::Skipped => failed += 1,
            }
        }
    }
    failed
}

/// The orphans as `-o` asks: JSON, ids, or a line each and the counts.
fn render_orphans(
    found: &[fleet::FoundOrphan],
    doomed: &[&fleet::FoundOrphan],
    format: Format,
) -> String {
    match format {
        Format::Json => crate::output::json(&found),
        Format::Ids => found.iter().map(|o| format!("{}\n", o.id)).collect(),
        _ => {
            let mut out = String::new();
            for o in found {
                let _ = writeln!(
                    out,
                    "! {} {}  {}  {}  volume {}  policy {:?}: {}{}",
                    o.provider,
                    o.id,
                    super::render::flat(o.name.as_deref().unwrap_or("-")),
                    o.created_at
                        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                        .unwrap_or_else(|| "-".into()),
                    o.volume_id.as_deref().unwrap_or("-"),
                    o.policy_id,
                    super::render::flat(&o.reason),
                    if doomed.iter().any(|d| d.id == o.id) {
                        " (deleted)"
                    } else {
                        ""
                    }
                );
            }
            let volumes = found.iter().filter(|o| o.kind == "drill_volume").count();
            let like = found
                .iter()
                .filter(|o| o.kind == "drill_like_volume")
                .count();
            let snapshots = found.len() - volumes - like;
            let _ = write!(
                out,
                "{snapshots} orphaned snapshot{}.",
                if snapshots == 1 { "" } else { "s" }
            );
            if volumes > 0 {
                let _ = write!(
                    out,
                    " {volumes} drill volume{} left behind.",
                    if volumes == 1 { "" } else { "s" }
                );
            }
            if like > 0 {
                let _ = write!(
                    out,
                    " {like} drill-like volume{} (a drill mark the cloud's record does not prove; never deleted).",
                    if like == 1 { "" } else { "s" }
                );
            }
            out.push('\n');
            out
        }
    }
}
