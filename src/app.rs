//! Command execution: settings → provider → calls → rendered data on stdout.
//!
//! Provider-neutral: everything here goes through the [`Provider`] trait, so each command behaves the
//! same on every cloud. Inputs are validated before the provider is even built, so a bad id never
//! causes a request (not even credential discovery).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{Cli, CloneArgs, Command, RevertArgs, SnapshotCmd, VolumeCmd};
use crate::config::{Env, Settings, resolve};
use crate::error::{Error, Result};
use crate::http::{Http, HttpConfig};
use crate::model::{CloneRequest, CreateSnapshot, DeleteResult, Operation, Until};
use crate::output::{Format, Record, render_list, render_one, render_providers};
use crate::provider::{Provider, ProviderKind, build};
use crate::wait::{WaitOptions, wait_for};

/// What every command handler shares.
struct Ctx {
    provider: Box<dyn Provider>,
    format: Format,
    wait: WaitOptions,
    quiet: bool,
}

impl Ctx {
    fn print(&self, text: &str) -> Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|source| Error::Io {
                action: "cannot write to stdout".into(),
                source,
            })
    }

    fn info(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }
}

/// Run one parsed command line.
pub async fn run(cli: Cli, env: Env) -> Result<()> {
    let g = &cli.global;
    if let Command::Providers = cli.command {
        // Still load the config file so a broken one is reported, but no provider is needed.
        resolve(&g.opts(), env, false)?;
        let mut out = std::io::stdout().lock();
        return out
            .write_all(render_providers(g.output).as_bytes())
            .map_err(|source| Error::Io {
                action: "cannot write to stdout".into(),
                source,
            });
    }
    let mut settings = resolve(&g.opts(), env, true)?.expect("provider_required yields a provider");
    validate_inputs(settings.provider, &cli.command)?;
    let http = Arc::new(Http::new(HttpConfig {
        request_timeout: HttpConfig::default()
            .request_timeout
            .min(settings.timeout.max(Duration::from_secs(1))),
        verbosity: g.verbose,
        ..HttpConfig::default()
    })?);
    let mut warnings = std::mem::take(&mut settings.warnings);
    let built = build(&settings, http, cli.command.name(), &mut warnings).await;
    if !g.quiet {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
    }
    let ctx = Ctx {
        provider: built?,
        format: g.output,
        wait: WaitOptions::new(settings.timeout, g.poll_interval, g.quiet),
        quiet: g.quiet,
    };
    dispatch(&ctx, &settings, cli.command).await
}

/// Check every id the command carries against the provider's id shape.
fn validate_inputs(kind: ProviderKind, command: &Command) -> Result<()> {
    let vol = |id: &str| kind.validate_volume_id(id);
    let snap = |id: &str| kind.validate_snapshot_id(id);
    match command {
        Command::Providers | Command::Volume(VolumeCmd::List) => Ok(()),
        Command::Volume(VolumeCmd::Show { id }) => vol(id),
        Command::Snapshot(SnapshotCmd::List { volume }) => volume.as_deref().map_or(Ok(()), vol),
        Command::Snapshot(SnapshotCmd::Show { id, volume }) => {
            volume.as_deref().map_or(Ok(()), vol)?;
            snap(id)
        }
        Command::Snapshot(SnapshotCmd::Create { volume, .. }) => vol(volume),
        Command::Snapshot(SnapshotCmd::Delete { ids, volume, .. }) => {
            volume.as_deref().map_or(Ok(()), vol)?;
            ids.iter().try_for_each(|id| snap(id))
        }
        Command::Clone(a) => {
            vol(&a.volume)?;
            a.snapshot.as_deref().map_or(Ok(()), snap)
        }
        Command::Revert(a) => {
            vol(&a.volume)?;
            snap(&a.snapshot)
        }
    }
}

async fn dispatch(ctx: &Ctx, settings: &Settings, command: Command) -> Result<()> {
    let p = ctx.provider.as_ref();
    match command {
        Command::Providers => unreachable!("handled before a provider is built"),
        Command::Volume(VolumeCmd::List) => {
            ctx.print(&render_list(&p.list_volumes().await?, ctx.format))
        }
        Command::Volume(VolumeCmd::Show { id }) => {
            ctx.print(&render_one(&p.get_volume(&id).await?, ctx.format))
        }
        Command::Snapshot(SnapshotCmd::List { volume }) => ctx.print(&render_list(
            &p.list_snapshots(volume.as_deref()).await?,
            ctx.format,
        )),
        Command::Snapshot(SnapshotCmd::Show { id, volume }) => ctx.print(&render_one(
            &p.get_snapshot(volume.as_deref(), &id).await?,
            ctx.format,
        )),
        Command::Snapshot(SnapshotCmd::Create {
            volume,
            name,
            description,
            wait,
        }) => {
            let req = CreateSnapshot {
                volume,
                name,
                description,
            };
            let (snap, op) = p.create_snapshot(&req).await?;
            let snap = if wait {
                wait_for(p, &op, &ctx.wait).await?;
                p.get_snapshot(snap.volume_id.as_deref(), &snap.id).await?
            } else {
                snap
            };
            ctx.print(&render_one(&snap, ctx.format))
        }
        Command::Snapshot(SnapshotCmd::Delete { ids, volume, wait }) => {
            delete_snapshots(ctx, &ids, volume.as_deref(), wait).await
        }
        Command::Clone(args) => clone(ctx, args).await,
        Command::Revert(args) => revert(ctx, settings, args).await,
    }
}

async fn delete_snapshots(
    ctx: &Ctx,
    ids: &[String],
    volume: Option<&str>,
    wait: bool,
) -> Result<()> {
    let p = ctx.provider.as_ref();
    let mut results = Vec::with_capacity(ids.len());
    let mut errors = Vec::new();
    for id in ids {
        let outcome = async {
            let op = p.delete_snapshot(volume, id).await?;
            if wait {
                wait_for(p, &op, &ctx.wait).await?;
                Ok("deleted")
            } else {
                Ok::<_, Error>(if op == Operation::Done {
                    "deleted"
                } else {
                    "deleting"
                })
            }
        }
        .await;
        match outcome {
            Ok(status) => results.push(DeleteResult {
                provider: p.kind(),
                id: id.clone(),
                volume_id: volume.map(str::to_string),
                status,
                error: None,
            }),
            Err(e) => {
                results.push(DeleteResult {
                    provider: p.kind(),
                    id: id.clone(),
                    volume_id: volume.map(str::to_string),
                    status: "failed",
                    error: Some(e.to_string()),
                });
                errors.push(e);
            }
        }
    }
    let failed = errors.len();
    // Print what was done even when some failed: a script needs both.
    let done: Vec<DeleteResult> = match ctx.format {
        Format::Ids => results
            .iter()
            .filter(|r| r.status != "failed")
            .cloned()
            .collect(),
        _ => results.clone(),
    };
    if !(ctx.format == Format::Ids && done.is_empty()) {
        ctx.print(&render_list(&done, ctx.format))?;
    }
    match failed {
        0 => Ok(()),
        1 if ids.len() == 1 => Err(errors.remove(0)),
        n => {
            for (r, e) in results.iter().filter(|r| r.status == "failed").zip(&errors) {
                eprintln!("error: {}: {e}", r.id());
                if let Some(h) = e.hint() {
                    eprintln!("  hint: {h}");
                }
            }
            Err(Error::Partial {
                failed: n,
                total: ids.len(),
                what: "snapshot deletions",
            })
        }
    }
}

async fn clone(ctx: &Ctx, args: CloneArgs) -> Result<()> {
    let p = ctx.provider.as_ref();
    let snapshot = match args.snapshot {
        Some(s) => s,
        None => {
            // Clone "the volume as it is now": take a manual snapshot and wait until it is usable.
            let name = format!(
                "snapctl-clone-{}",
                jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ")
            );
            let (snap, op) = p
                .create_snapshot(&CreateSnapshot {
                    volume: args.volume.clone(),
                    name: Some(name.clone()),
                    description: Some("taken by snapctl clone".into()),
                })
                .await?;
            ctx.info(&format!(
                "took snapshot {} ({name}) of {}",
                snap.id, args.volume
            ));
            wait_for(p, &op, &ctx.wait).await?;
            snap.id
        }
    };
    let (volume, op) = p
        .clone_volume(&CloneRequest {
            volume: args.volume,
            snapshot,
            name: args.name,
            description: args.description,
            size_gib: args.size,
        })
        .await?;
    let volume = if args.wait {
        wait_for(p, &op, &ctx.wait).await?;
        p.get_volume(&volume.id).await?
    } else {
        volume
    };
    ctx.print(&render_one(&volume, ctx.format))
}

async fn revert(ctx: &Ctx, settings: &Settings, args: RevertArgs) -> Result<()> {
    let p = ctx.provider.as_ref();
    if !args.yes {
        confirm_revert(settings.provider, &args.volume, &args.snapshot)?;
    }
    let op = p.revert(&args.volume, &args.snapshot).await?;
    if args.wait {
        wait_for(p, &op, &ctx.wait).await?;
    } else if let Operation::Volume {
        until: Until::Ready,
        ..
    } = op
    {
        ctx.info(&format!(
            "revert of {} started; follow it with: snapctl volume show {}",
            args.volume, args.volume
        ));
    }
    ctx.print(&render_one(&p.get_volume(&args.volume).await?, ctx.format))
}

/// Without `--yes`: ask on a terminal, refuse (exit 9) otherwise.
fn confirm_revert(kind: ProviderKind, volume: &str, snapshot: &str) -> Result<()> {
    let refused = || Error::Refused {
        reason: format!(
            "revert is destructive: everything written to {volume} since snapshot {snapshot} is lost"
        ),
        hint: Some(format!(
            "run again with --yes to confirm: snapctl -p {kind} revert --volume {volume} --snapshot {snapshot} --yes"
        )),
    };
    let stdin = std::io::stdin();
    if !stdin.is_terminal() || !std::io::stderr().is_terminal() {
        return Err(refused());
    }
    eprint!(
        "Revert {volume} to snapshot {snapshot}? Data written since the snapshot is lost. Type 'yes' to go on: "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|source| Error::Io {
            action: "cannot read the confirmation".into(),
            source,
        })?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(refused())
    }
}
