//! `snapshot list|show|create|delete|hold|update|share|unshare|export|import`.
//!
//! The argument docs are `--help` texts, where `<name>` is a placeholder, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use super::cli::*;
use super::*;
use clap::{Args, Subcommand};

/// `--expires`: a date (`2026-12-31`), an RFC 3339 time, or a duration from now (`7d`).
fn parse_expiry(text: &str) -> Result<jiff::Timestamp> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        return d
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| Error::InvalidInput {
                what: "expiry",
                value: text.to_string(),
                reason: e.to_string(),
            });
    }
    let d = parse_duration(text).map_err(|_| Error::InvalidInput {
        what: "expiry",
        value: text.to_string(),
        reason: "expected a date (2026-12-31), an RFC 3339 time or a duration (7d)".into(),
    })?;
    let d = jiff::SignedDuration::try_from(d).map_err(|e| Error::InvalidInput {
        what: "expiry",
        value: text.to_string(),
        reason: e.to_string(),
    })?;
    jiff::Timestamp::now()
        .checked_add(d)
        .map_err(|e| Error::InvalidInput {
            what: "expiry",
            value: text.to_string(),
            reason: e.to_string(),
        })
}

/// `snapshot list`. JSON, ids and TSV are written page by page as the API answers (memory does not grow
/// with the number of snapshots), filtered page by page; a table needs every row for its
/// widths (it keeps their text only), and --sort every page before the first line.
async fn list(
    ctx: &Ctx,
    volume: Option<&str>,
    select: &crate::commands::cli::SelectArgs,
) -> Result<()> {
    let p = ctx.provider.as_ref();
    let sel = super::selection(crate::select::Items::Snapshots, select)?;
    let limit = sel.limit.unwrap_or(usize::MAX);
    if ctx.format != Format::Table && sel.sort.is_none() {
        let mut stream = crate::output::ListStream::new(ctx.format);
        let mut printed = 0usize;
        let query = sel.snapshot_query();
        p.list_snapshots_where(volume, &query, &mut |page| {
            let kept: Vec<_> = page
                .into_iter()
                .filter(|s| sel.keeps(s))
                .take(limit - printed)
                .collect();
            printed += kept.len();
            // A page of OVH's (a whole share) can hold 40,000 snapshots: its text is
            // written a thousand at a time, never held whole.
            kept.chunks(1000)
                .try_for_each(|chunk| ctx.print(&stream.items(chunk)))
        })
        .await?;
        return ctx.print(&stream.finish::<crate::model::Snapshot>());
    }
    if sel.sort.is_none() {
        // A table without --sort keeps only its rows' text as pages arrive.
        let mut table = crate::output::TableRows::default();
        p.list_snapshots_where(volume, &sel.snapshot_query(), &mut |page| {
            let kept: Vec<_> = page
                .into_iter()
                .filter(|s| sel.keeps(s))
                .take(limit - table.len())
                .collect();
            table.push(&kept);
            Ok(())
        })
        .await?;
        return ctx.print(&table.render());
    }
    let mut all: Vec<crate::model::Snapshot> = Vec::new();
    p.list_snapshots_where(volume, &sel.snapshot_query(), &mut |page| {
        all.extend(page.into_iter().filter(|s| sel.keeps(s)));
        Ok(())
    })
    .await?;
    sel.sort(&mut all);
    all.truncate(limit);
    ctx.print(&render_list(&all, ctx.format))
}

/// Run one `snapshot` subcommand.
pub(super) async fn dispatch(ctx: &Ctx, settings: &Settings, cmd: SnapshotCmd) -> Result<()> {
    let p = ctx.provider.as_ref();
    match cmd {
        SnapshotCmd::List { volume, select } => list(ctx, volume.as_deref(), &select).await,
        SnapshotCmd::Show { id, volume } => ctx.print(&render_one(
            &p.get_snapshot(volume.as_deref(), &id).await?,
            ctx.format,
        )),
        SnapshotCmd::Create {
            volume,
            name,
            description,
            expires,
            tags,
            force,
            wait,
        } => {
            let req = CreateSnapshot {
                volume,
                name,
                description,
                expires_at: expires.as_deref().map(parse_expiry).transpose()?,
                tags: parse_tags(&tags)?,
                force,
                managed: false,
                idempotency_key: None,
            };
            create(ctx, settings, &req, wait).await
        }
        SnapshotCmd::Hold { id, volume } => hold(ctx, &id, volume.as_deref()).await,
        SnapshotCmd::Update {
            id,
            volume,
            name,
            description,
        } => {
            let req = SnapshotUpdate {
                volume,
                snapshot: id,
                name,
                description,
            };
            mutating(ctx, Mutation::Update(&req).describe(), async {
                ctx.print(&render_one(&p.update_snapshot(&req).await?, ctx.format))
            })
            .await
        }
        SnapshotCmd::Share(a) => share(ctx, a, false).await,
        SnapshotCmd::Unshare(a) => share(ctx, a, true).await,
        SnapshotCmd::Export {
            id,
            bucket,
            prefix,
            format,
            wait,
        } => {
            let req = ExportRequest {
                snapshot: id,
                bucket,
                prefix,
                format,
            };
            export(ctx, settings, &req, wait).await
        }
        SnapshotCmd::Import {
            file_location,
            size,
            name,
            description,
            wait,
        } => {
            let req = ImportRequest {
                file_location,
                size_bytes: size,
                name,
                description,
                tags: vec![],
            };
            import(ctx, &req, wait).await
        }
        SnapshotCmd::Delete { ids, volume, wait } => {
            let targets = if ids == ["-"] {
                read_targets(ctx.provider.kind(), volume.as_deref())?
            } else {
                ids.into_iter().map(|id| (volume.clone(), id)).collect()
            };
            delete_snapshots(ctx, &targets, wait).await
        }
    }
}

/// `snapshot create`: one create (never re-sent), then, with `--wait`, the snapshot as the last
/// poll saw it.
async fn create(ctx: &Ctx, settings: &Settings, req: &CreateSnapshot, wait: bool) -> Result<()> {
    let p = ctx.provider.as_ref();
    mutating(ctx, Mutation::CreateSnapshot(req).describe(), async {
        let (snap, op) = create_snapshot_once(p, req).await?;
        let snap = if wait {
            // What the last poll saw; a task (NAS-HA) is followed by one read.
            match crate::wait::wait_for_snapshot(p, &op, &ctx.wait).await? {
                Some(seen) => seen,
                None => p.get_snapshot(snap.volume_id.as_deref(), &snap.id).await?,
            }
        } else {
            ctx.follow_up(settings, &op);
            snap
        };
        ctx.print(&render_one(&snap, ctx.format))
    })
    .await
}

/// `snapshot hold`: an automatic snapshot made manual (a new id on EFS).
async fn hold(ctx: &Ctx, id: &str, volume: Option<&str>) -> Result<()> {
    let p = ctx.provider.as_ref();
    let would = Mutation::Hold { volume, id }.describe();
    mutating(ctx, would, async {
        let held = p.hold_snapshot(volume, id).await?;
        ctx.info(&format!(
            "snapshot {id} is now manual under a new id: {}",
            held.id
        ));
        ctx.print(&render_one(&held, ctx.format))
    })
    .await
}

/// `snapshot export`: the export task, read again once done with `--wait`.
async fn export(ctx: &Ctx, settings: &Settings, req: &ExportRequest, wait: bool) -> Result<()> {
    let p = ctx.provider.as_ref();
    mutating(ctx, Mutation::Export(req).describe(), async {
        let (mut task, op) = p.export_snapshot(req).await?;
        if wait {
            wait_for(p, &op, &ctx.wait).await?;
            // Print what the last read says, not the first answer.
            task = p.get_export_task(&task.id).await?;
        } else {
            ctx.follow_up(settings, &op);
        }
        ctx.print(&render_one(&task, ctx.format))
    })
    .await
}

/// `snapshot import`: the new snapshot, read again once done with `--wait`.
async fn import(ctx: &Ctx, req: &ImportRequest, wait: bool) -> Result<()> {
    let p = ctx.provider.as_ref();
    mutating(ctx, Mutation::Import(req).describe(), async {
        let (snap, op) = p.import_snapshot(req).await?;
        let snap = if wait {
            wait_for(p, &op, &ctx.wait).await?;
            p.get_snapshot(None, &snap.id).await?
        } else {
            snap
        };
        ctx.print(&render_one(&snap, ctx.format))
    })
    .await
}

/// `snapshot delete -`: one snapshot per line of stdin, as `-o ids` or `-o tsv` print them: the
/// id first, then (tab-separated, optional) its volume, which wins over `--volume`. A header
/// line (`ID…`) and blank lines are skipped. Every id and volume is checked before any request.
fn read_targets(kind: ProviderKind, volume: Option<&str>) -> Result<Vec<(Option<String>, String)>> {
    let (vol_ok, snap_ok) = (entry(kind).check_volume_id, entry(kind).check_snapshot_id);
    let mut out = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|source| Error::Io {
            action: "cannot read snapshot ids from stdin".into(),
            source,
        })?;
        let mut cells = line.split('\t').map(str::trim);
        let id = cells.next().unwrap_or_default();
        if id.is_empty() || id == "ID" {
            continue;
        }
        let vol = cells
            .next()
            .filter(|v| !v.is_empty() && *v != "-")
            .map(str::to_string)
            .or_else(|| volume.map(str::to_string));
        snap_ok(id)?;
        if let Some(v) = &vol {
            vol_ok(v)?;
        }
        out.push((vol, id.to_string()));
    }
    if out.is_empty() {
        return Err(Error::usage(
            "snapshot delete -: no snapshot ids on stdin (one per line, optionally ID<TAB>VOLUME as -o tsv prints)",
        ));
    }
    Ok(out)
}

/// What a deletion run did, as `-o` asks (`ids`: only the ids deleted or deleting, nothing when
/// there are none).
fn print_deleted(ctx: &Ctx, results: &[DeleteResult]) -> Result<()> {
    let done: Vec<DeleteResult> = match ctx.format {
        Format::Ids => results
            .iter()
            .filter(|r| matches!(r.status, "deleted" | "deleting"))
            .cloned()
            .collect(),
        _ => results.to_vec(),
    };
    if ctx.format == Format::Ids && done.is_empty() {
        return Ok(());
    }
    ctx.print(&render_list(&done, ctx.format))
}

/// A deletion run's exit: one failure is its own error, several are listed and counted.
fn deletion_outcome(results: &[DeleteResult], mut errors: Vec<Error>, total: usize) -> Result<()> {
    match errors.len() {
        0 => Ok(()),
        1 if total == 1 => Err(errors.remove(0)),
        n => {
            for (r, e) in results.iter().filter(|r| r.status == "failed").zip(&errors) {
                eprintln!(
                    "error: {}",
                    crate::text::one_line(&format!("{}: {e}", r.id()), crate::text::MAX_LINE)
                );
                if let Some(h) = e.hint() {
                    eprintln!(
                        "  hint: {}",
                        crate::text::one_line(&h, crate::text::MAX_LINE)
                    );
                }
            }
            Err(Error::Partial {
                failed: n,
                total,
                what: "snapshot deletions",
            })
        }
    }
}

async fn delete_snapshots(
    ctx: &Ctx,
    targets: &[(Option<String>, String)],
    wait: bool,
) -> Result<()> {
    let p = ctx.provider.as_ref();
    let mut results = Vec::with_capacity(targets.len());
    let mut errors = Vec::new();
    let mut would = Vec::new();
    // Sent back to back (the provider's in-flight cap, the shared rate limiter), then, with
    // --wait, confirmed together: one list per poll where the volume is known.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(
        entry(p.kind()).max_in_flight.max(1),
    ));
    use crate::engine::delete::Deletion;
    let ended = crate::engine::delete::snapshots(
        &ctx.provider,
        targets,
        None,
        &in_flight,
        wait.then_some(&ctx.wait),
    )
    .await;
    for ((volume, id), ended) in targets.iter().zip(ended) {
        let volume = volume.as_deref();
        let result = |status, error, task_id| DeleteResult {
            provider: p.kind(),
            id: id.clone(),
            volume_id: volume.map(str::to_string),
            status,
            error,
            task_id,
        };
        let mut task_id = None;
        let outcome = match ended {
            Deletion::Skipped => {
                let why = Some("interrupted before it started".into());
                results.push(result("skipped", why, None));
                continue;
            }
            Deletion::Failed(e) => Err(e),
            Deletion::Deleted(op) => {
                if let Operation::Task { id } = &op {
                    task_id = Some(id.clone());
                }
                if wait || op == Operation::Done {
                    Ok("deleted")
                } else {
                    Ok("deleting")
                }
            }
        };
        match Outcome::of(outcome) {
            Ok(Outcome::Done(status)) => results.push(result(status, None, task_id)),
            // The one mutation path: under --dry-run each delete ran its real checks and reads and
            // was stopped at its request.
            Ok(Outcome::WouldSend(stop)) => would.push(DryRunReport::stopped(
                p.kind(),
                Mutation::DeleteSnapshot { volume, id }.describe(),
                stop,
            )),
            Err(e) => {
                results.push(result("failed", Some(e.to_string()), task_id));
                errors.push(e);
            }
        }
    }
    // A dry run prints what would happen; its refusals go to stderr below, as the real run's do.
    if ctx.dry_run && !would.is_empty() {
        ctx.print(&render_dry_run(&would, ctx.format))?;
    }
    // Print what was done even when some failed: a script needs both.
    if !ctx.dry_run {
        print_deleted(ctx, &results)?;
    }
    if crate::interrupt::requested() {
        let started = results.iter().filter(|r| r.status != "skipped").count();
        return Err(Error::Interrupted {
            done: format!(
                "{started} of {} deletions were sent, {} not started",
                targets.len(),
                targets.len() - started
            ),
        });
    }
    deletion_outcome(&results, errors, targets.len())
}

async fn share(ctx: &Ctx, a: crate::commands::cli::ShareArgs, remove: bool) -> Result<()> {
    // Making data public cannot be taken back from whoever copied it meanwhile: ask, like revert.
    // A dry run is how one previews it, so it does not ask.
    let offered = entry(ctx.provider.kind()).capabilities.share == crate::kind::Support::Yes;
    if offered && a.public && !remove && !a.yes && !ctx.dry_run {
        let (kind, id) = (ctx.provider.kind(), a.id.clone());
        confirm(
            &format!(
                "Make snapshot {id} public? Anyone can then create a volume from its data. Type 'yes' to go on: "
            ),
            || Error::Refused {
                reason: format!(
                    "sharing snapshot {id} publicly lets anyone create a volume from its data"
                ),
                hint: Some(format!(
                    "run again with --yes to confirm: snapctl -p {kind} snapshot share {id} --public --yes"
                )),
            },
        )?;
    }
    let req = ShareRequest {
        snapshot: a.id,
        accounts: a.accounts,
        public: a.public,
        remove,
    };
    mutating(ctx, Mutation::Share(&req).describe(), async {
        let snap = ctx.provider.share_snapshot(&req).await?;
        ctx.print(&render_one(&snap, ctx.format))
    })
    .await
}

/// `--tag K=V` arguments (the last value of a key wins).
fn parse_tags(raw: &[String]) -> Result<Vec<(String, String)>> {
    let mut seen = std::collections::BTreeMap::new();
    for t in raw {
        let (k, v) = t.split_once('=').ok_or_else(|| Error::InvalidInput {
            what: "tag",
            value: t.clone(),
            reason: "expected KEY=VALUE".into(),
        })?;
        seen.insert(k.to_string(), v.to_string());
    }
    Ok(seen.into_iter().collect())
}

/// `snapshot …`
#[derive(Debug, Subcommand)]
pub enum SnapshotCmd {
    /// List snapshots of a volume (of every volume without --volume).
    List {
        /// Volume id.
        #[arg(long)]
        volume: Option<String>,
        /// What to print.
        #[command(flatten)]
        select: SelectArgs,
    },
    /// Show one snapshot.
    Show {
        /// Snapshot id.
        id: String,
        /// Its volume.
        #[arg(long)]
        volume: Option<String>,
    },
    /// Take a snapshot.
    Create {
        /// Volume to snapshot.
        #[arg(long)]
        volume: String,
        /// Snapshot name.
        #[arg(long)]
        name: Option<String>,
        /// Snapshot description.
        #[arg(long)]
        description: Option<String>,
        /// Let the provider delete it by itself at this date (2026-12-31, RFC 3339) or after this
        /// long (7d) (NAS-HA).
        #[arg(long, value_name = "DATE|DURATION")]
        expires: Option<String>,
        /// Tag KEY=VALUE (repeatable; OUTSCALE tags, PowerVC metadata).
        #[arg(long = "tag", value_name = "KEY=VALUE")]
        tags: Vec<String>,
        /// Snapshot an attached (in-use) volume anyway, crash-consistent (PowerVC).
        #[arg(long)]
        force: bool,
        /// Wait until the snapshot is available.
        #[arg(long)]
        wait: bool,
    },
    /// Delete snapshots.
    Delete {
        /// Snapshot ids; `-` reads them from stdin, one per line, as `-o ids` or `-o tsv` print
        /// them (ID, or ID<TAB>VOLUME…: the volume of each line wins over --volume).
        #[arg(required = true)]
        ids: Vec<String>,
        /// Their volume.
        #[arg(long)]
        volume: Option<String>,
        /// Wait until each snapshot is gone.
        #[arg(long)]
        wait: bool,
    },
    /// Turn an automatic (policy) snapshot into a manual one; prints it under its new id (EFS).
    Hold {
        /// Snapshot id.
        id: String,
        /// Its volume.
        #[arg(long)]
        volume: Option<String>,
    },
    /// Rename or redescribe a snapshot (EFS, PowerVC; OUTSCALE: the name only).
    Update {
        /// Snapshot id.
        id: String,
        /// Its volume.
        #[arg(long)]
        volume: Option<String>,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Let other accounts (or everyone) create volumes from a snapshot (OUTSCALE).
    Share(ShareArgs),
    /// Take back what `snapshot share` gave (OUTSCALE).
    Unshare(ShareArgs),
    /// Export a snapshot to an object-storage bucket (OUTSCALE).
    Export {
        /// Snapshot id.
        id: String,
        /// Destination bucket (yours).
        #[arg(long)]
        bucket: String,
        /// Object key prefix.
        #[arg(long)]
        prefix: Option<String>,
        /// Image format.
        #[arg(long, default_value = "qcow2", value_parser = ["qcow2", "raw"])]
        format: String,
        /// Wait until the export is complete.
        #[arg(long)]
        wait: bool,
    },
    /// Create a snapshot from an exported image (OUTSCALE).
    Import {
        /// Pre-signed URL of the image.
        #[arg(long)]
        file_location: String,
        /// Image size in bytes (at least the original volume's).
        #[arg(long, value_name = "BYTES", value_parser = count::<u64>, allow_negative_numbers = true)]
        size: u64,
        /// Name (the Name tag).
        #[arg(long)]
        name: Option<String>,
        /// Description.
        #[arg(long)]
        description: Option<String>,
        /// Wait until the snapshot is completed.
        #[arg(long)]
        wait: bool,
    },
}

/// `snapshot share|unshare`
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// Snapshot id.
    pub id: String,
    /// Account id (repeatable).
    #[arg(
        long = "account",
        value_name = "ID",
        required_unless_present = "public"
    )]
    pub accounts: Vec<String>,
    /// Everyone (share) / no longer everyone (unshare).
    #[arg(long)]
    pub public: bool,
    /// Confirm `share --public`: anyone can then make a volume from the snapshot's data.
    #[arg(long)]
    pub yes: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_parse_as_key_value() {
        let t = parse_tags(&["env=prod".into(), "team=".into()]).expect("tags");
        assert_eq!(
            t,
            vec![
                ("env".into(), "prod".into()),
                ("team".into(), String::new())
            ]
        );
        assert!(parse_tags(&["novalue".into()]).is_err());
    }
}
