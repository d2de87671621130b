//! Command execution: settings → provider → calls → rendered data on stdout.
//!
//! Provider-neutral: everything here goes through the [`Provider`] trait, so each command behaves the
//! same on every cloud. Inputs are validated before the provider is even built, so a bad id never
//! causes a request (not even credential discovery).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{
    CheckArgs, Cli, CloneArgs, Command, RevertArgs, RotateArgs, ScheduleCmd, SnapshotCmd, VolumeCmd,
};
use crate::config::{Env, RotateConfig, Settings, parse_duration, resolve};
use crate::error::{Error, Result};
use crate::http::{Http, HttpConfig, RateLimit};
use crate::kind::ProviderKind;
use crate::lock::lock_dir;
use crate::model::{
    CloneRequest, CloneVolumesRequest, CopyRequest, CreateSnapshot, DeleteResult, DryRunReport,
    ExportRequest, ImportRequest, Mutation, Operation, RuleSpec, ScheduleChange, ScheduleRemoval,
    ScheduleSpec, ShareRequest, SnapshotUpdate, Until,
};
use crate::output::{
    Format, Record, render_check, render_dry_run, render_list, render_one, render_providers,
    render_rotation,
};
use crate::provider::{Provider, create_snapshot_once};
use crate::providers::{build, entry};
use crate::rotation::plan::Policy;
use crate::rotation::{self, CheckOptions, RotateOptions, Volumes, status_line};
use crate::wait::{WaitOptions, wait_for};

/// Default rotation candidate prefix.
pub const DEFAULT_PREFIX: &str = "snapctl-";

/// What every command handler shares.
struct Ctx {
    provider: Arc<dyn Provider>,
    format: Format,
    wait: WaitOptions,
    quiet: bool,
    dry_run: bool,
}

impl Ctx {
    fn print(&self, text: &str) -> Result<()> {
        // Tables and ids are for terminals: server-supplied names lose their control characters.
        // JSON escapes them itself and stays byte-faithful.
        let text = if self.format == Format::Json {
            std::borrow::Cow::Borrowed(text)
        } else {
            std::borrow::Cow::Owned(crate::text::sanitize(text))
        };
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
            eprintln!("{}", crate::text::sanitize(line));
        }
    }

    /// Without `--wait`, say how to wait for a task later.
    fn follow_up(&self, settings: &Settings, op: &Operation) {
        if let Operation::Task { id } = op {
            let service = settings
                .service
                .as_deref()
                .map(|s| format!(" --service {s}"))
                .unwrap_or_default();
            self.info(&format!(
                "task {id} started; wait for it with: snapctl -p {}{service} wait --task {id}",
                settings.provider
            ));
        }
    }
}

/// The one mutation path. Every mutating command runs its real code, in both modes: under
/// `--dry-run` the transport stops the first request that would change something
/// ([`Error::DryRunStop`]), after every validation and read the real run makes, so a dry run
/// refuses exactly what the real run refuses (same message, same exit code), sends no change, and
/// reports the very request the real run would send next.
async fn mutating<F>(ctx: &Ctx, would: String, run: F) -> Result<()>
where
    F: std::future::Future<Output = Result<()>>,
{
    match run.await {
        Err(Error::DryRunStop {
            request,
            checked_by_provider,
        }) if ctx.dry_run => ctx.print(&render_dry_run(
            &[DryRunReport {
                dry_run: true,
                provider: ctx.provider.kind(),
                would,
                checked_by_provider,
                request: Some(request),
            }],
            ctx.format,
        )),
        other => other,
    }
}

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

async fn finish_schedule_change(
    ctx: &Ctx,
    settings: &Settings,
    change: &ScheduleChange,
    wait: bool,
    volume: &str,
) -> Result<()> {
    let p = ctx.provider.as_ref();
    for note in &change.notes {
        ctx.info(note);
    }
    if wait {
        wait_for(p, &change.op, &ctx.wait).await?;
    } else {
        ctx.follow_up(settings, &change.op);
    }
    ctx.print(&render_list(
        &p.list_schedules(volume, false).await?,
        ctx.format,
    ))
}

/// `schedule add` flags → the provider-neutral spec (`--prefix/--keep/--cron` is one rule,
/// each `--rule PREFIX:KEEP:CRON` another).
fn schedule_spec(a: &crate::cli::ScheduleAddArgs) -> Result<ScheduleSpec> {
    let mut rules = Vec::new();
    if let (Some(prefix), Some(keep)) = (&a.prefix, a.keep) {
        rules.push(RuleSpec {
            prefix: prefix.clone(),
            keep,
            cron: a.cron.clone().unwrap_or_default(),
        });
    }
    for r in &a.rules {
        let mut parts = r.splitn(3, ':');
        let (Some(prefix), Some(keep), Some(cron)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::InvalidInput {
                what: "--rule",
                value: r.clone(),
                reason: "expected PREFIX:KEEP:CRON, e.g. 'daily:7:30 2 * * *'".into(),
            });
        };
        let keep = keep.parse().map_err(|_| Error::InvalidInput {
            what: "--rule",
            value: r.clone(),
            reason: format!("{keep:?} is not a number of copies"),
        })?;
        rules.push(RuleSpec {
            prefix: prefix.to_string(),
            keep,
            cron: cron.to_string(),
        });
    }
    Ok(ScheduleSpec {
        every: a.every.clone(),
        at: a.at.clone(),
        rules,
        name: a.name.clone(),
    })
}

/// Run one parsed command line; `Ok` carries the exit code (0, or `check`'s plugin status).
pub async fn run(cli: Cli, env: Env) -> Result<u8> {
    crate::interrupt::install();
    if let Command::Check(_) = cli.command {
        // A monitoring plugin answers UNKNOWN (3) for anything that keeps it from judging.
        return Ok(match run_command(cli, env).await {
            Ok(code) => code,
            Err(e) => {
                println!(
                    "SNAPCTL UNKNOWN: {}",
                    crate::text::one_line(&e.to_string(), crate::text::MAX_LINE)
                );
                3
            }
        });
    }
    run_command(cli, env).await
}

pub(crate) async fn run_command(cli: Cli, env: Env) -> Result<u8> {
    let g = &cli.global;
    match &cli.command {
        Command::Demo => {
            return crate::demo::run(&env, |cli, env| Box::pin(run_command(cli, env)))
                .await
                .map(|()| 0);
        }
        Command::Emulator(a) => return serve_emulator(a).await.map(|()| 0),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "snapctl", &mut out);
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&out).map_err(|source| Error::Io {
                action: "cannot write to stdout".into(),
                source,
            })?;
            return Ok(0);
        }
        _ => {}
    }
    if let Command::Providers = cli.command {
        // Still load the config file so a broken one is reported, but no provider is needed.
        resolve(&g.opts(), env, false)?;
        let mut out = std::io::stdout().lock();
        out.write_all(render_providers(g.output).as_bytes())
            .map_err(|source| Error::Io {
                action: "cannot write to stdout".into(),
                source,
            })?;
        return Ok(0);
    }
    let mut settings = resolve(&g.opts(), env, true)?.expect("provider_required yields a provider");
    validate_inputs(settings.provider, &cli.command)?;
    let rate_limit = match g.max_rps.or(settings.profile.max_rps) {
        Some(rps) if rps > 0.0 => Some(RateLimit {
            per_second: rps,
            burst: entry(settings.provider)
                .default_rate_limit
                .map_or(1, |d| d.burst),
        }),
        Some(_) => None,
        None => entry(settings.provider).default_rate_limit,
    };
    let allow_http = g.allow_http || settings.profile.allow_http.unwrap_or(false);
    if allow_http {
        // On every run, whatever -q says: this is a security downgrade.
        eprintln!(
            "warning: plain http:// endpoints are allowed (--allow-http/allow_http): credentials and data may cross the network unencrypted"
        );
    }
    // TLS settings apply to every provider (PowerVC may add its own from OS_CACERT/clouds.yaml).
    let cacert = settings
        .cacert_flag
        .clone()
        .or_else(|| settings.profile.cacert.clone());
    let ca_pem = cacert
        .as_deref()
        .map(crate::http::read_ca_file)
        .transpose()?;
    let insecure = settings.insecure_flag || settings.profile.insecure.unwrap_or(false);
    if insecure {
        // On every run, whatever -q says: this is a security downgrade.
        eprintln!(
            "warning: TLS certificate verification is OFF (--insecure): anyone on the path can read or change what is sent, credentials included"
        );
    }
    let http = Arc::new(Http::new(HttpConfig {
        ca_pem,
        insecure,
        // --timeout is the wait deadline only; one request has its own limit.
        request_timeout: g
            .request_timeout
            .unwrap_or(HttpConfig::default().request_timeout)
            .max(Duration::from_millis(100)),
        verbosity: g.verbose,
        rate_limit,
        allow_http,
        dry_run: g.dry_run,
        max_body: g.max_response_size.unwrap_or(crate::http::DEFAULT_MAX_BODY),
        ..HttpConfig::default()
    })?);
    let mut warnings = std::mem::take(&mut settings.warnings);
    let built = build(&settings, http, &mut warnings).await;
    if !g.quiet {
        for w in &warnings {
            eprintln!("warning: {}", crate::text::sanitize(w));
        }
    }
    let ctx = Ctx {
        provider: Arc::from(built?),
        format: g.output,
        wait: WaitOptions::new(settings.timeout, g.poll_interval, g.quiet),
        quiet: g.quiet,
        dry_run: g.dry_run,
    };
    dispatch(&ctx, &settings, cli.command).await
}

/// `snapctl emulator`: serve until Ctrl-C, after printing how to point snapctl at it.
async fn serve_emulator(a: &crate::cli::EmulatorArgs) -> Result<()> {
    if !a.listen.ip().is_loopback() {
        if !a.allow_remote {
            return Err(Error::Refused {
                reason: format!(
                    "refusing to serve the emulator on {}: it is not a loopback address, and the emulator accepts public demo credentials",
                    a.listen
                ),
                hint: Some(
                    "listen on 127.0.0.1 (the default) or [::1]; pass --allow-remote to expose it deliberately".into(),
                ),
            });
        }
        eprintln!(
            "warning: the emulator listens on {}, reachable from other hosts, with public demo credentials",
            a.listen
        );
    }
    crate::interrupt::set_notice("stopping the emulator");
    let emu = crate::emulator::start(crate::emulator::EmulatorConfig {
        listen: a.listen,
        delay: a.delay,
        fail_rate: a.fail_rate.clamp(0.0, 1.0),
        latency: a.latency,
        throttle: a.throttle,
        seed: a.seed,
    })
    .await
    .map_err(|source| Error::Io {
        action: format!("cannot listen on {}", a.listen),
        source,
    })?;
    let mut text = format!(
        "# snapctl emulator on {} (Ctrl-C to stop); paste these lines into a shell:\n",
        emu.base()
    );
    for (k, v) in emu.env() {
        text.push_str(&format!("export {k}={v}\n"));
    }
    text.push_str(&format!(
        "# then: snapctl -p ovh-efs --service {} volume list\n#       snapctl -p ovh-nasha --service {} volume list\n#       snapctl -p outscale volume list\n#       snapctl -p powervc volume list\n",
        crate::emulator::EFS_SERVICE,
        crate::emulator::NASHA_SERVICE
    ));
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|source| Error::Io {
            action: "cannot write to stdout".into(),
            source,
        })?;
    drop(out);
    while !crate::interrupt::requested() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Check every id the command carries against the provider's id shape.
fn validate_inputs(kind: ProviderKind, command: &Command) -> Result<()> {
    let vol = entry(kind).check_volume_id;
    let snap = entry(kind).check_snapshot_id;
    match command {
        Command::Providers
        | Command::Demo
        | Command::Emulator(_)
        | Command::Completions { .. }
        | Command::Volume(VolumeCmd::List) => Ok(()),
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
            a.volumes.iter().try_for_each(|v| vol(v))?;
            a.snapshot.as_deref().map_or(Ok(()), snap)
        }
        Command::Copy { snapshot, .. } => snap(snapshot),
        Command::Snapshot(SnapshotCmd::Share(a) | SnapshotCmd::Unshare(a)) => snap(&a.id),
        Command::Snapshot(SnapshotCmd::Export { id, .. }) => snap(id),
        Command::Snapshot(SnapshotCmd::Import { .. }) => Ok(()),
        Command::Revert(a) => {
            vol(&a.volume)?;
            snap(&a.snapshot)
        }
        Command::Rotate(a) => a.volumes.iter().try_for_each(|v| vol(v)),
        Command::Check(a) => a.volumes.iter().try_for_each(|v| vol(v)),
        Command::Schedule(
            ScheduleCmd::List { volume, .. } | ScheduleCmd::Remove { volume, .. },
        ) => vol(volume),
        Command::Schedule(ScheduleCmd::Add(a)) => vol(&a.volume),
        Command::Snapshot(
            SnapshotCmd::Hold { id, volume } | SnapshotCmd::Update { id, volume, .. },
        ) => {
            volume.as_deref().map_or(Ok(()), vol)?;
            snap(id)
        }
        Command::Wait { .. } => Ok(()),
    }
}

async fn dispatch(ctx: &Ctx, settings: &Settings, command: Command) -> Result<u8> {
    match command {
        Command::Rotate(args) => rotate(ctx, settings, args).await.map(|()| 0),
        Command::Check(args) => check(ctx, settings, args).await,
        other => dispatch_simple(ctx, settings, other).await.map(|()| 0),
    }
}

async fn dispatch_simple(ctx: &Ctx, settings: &Settings, command: Command) -> Result<()> {
    let p = ctx.provider.as_ref();
    match command {
        Command::Rotate(_) | Command::Check(_) => unreachable!("dispatched above"),
        Command::Providers | Command::Demo | Command::Emulator(_) | Command::Completions { .. } => {
            unreachable!("handled before a provider is built")
        }
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
            expires,
            tags,
            force,
            wait,
        }) => {
            let req = CreateSnapshot {
                volume,
                name,
                description,
                expires_at: expires.as_deref().map(parse_expiry).transpose()?,
                tags: crate::providers::outscale::parse_tags(&tags)?,
                force,
                managed: false,
            };
            mutating(ctx, Mutation::CreateSnapshot(&req).describe(), async {
                let (snap, op) = create_snapshot_once(p, &req).await?;
                let snap = if wait {
                    wait_for(p, &op, &ctx.wait).await?;
                    p.get_snapshot(snap.volume_id.as_deref(), &snap.id).await?
                } else {
                    ctx.follow_up(settings, &op);
                    snap
                };
                ctx.print(&render_one(&snap, ctx.format))
            })
            .await
        }
        Command::Schedule(ScheduleCmd::List { volume, all }) => ctx.print(&render_list(
            &p.list_schedules(&volume, all).await?,
            ctx.format,
        )),
        Command::Schedule(ScheduleCmd::Add(a)) => {
            let spec = schedule_spec(&a)?;
            let would = Mutation::AddSchedule {
                volume: &a.volume,
                spec: &spec,
            }
            .describe();
            mutating(ctx, would, async {
                let change = p.add_schedule(&a.volume, &spec).await?;
                finish_schedule_change(ctx, settings, &change, a.wait, &a.volume).await
            })
            .await
        }
        Command::Schedule(ScheduleCmd::Remove {
            volume,
            every,
            to,
            wait,
        }) => {
            let removal = ScheduleRemoval { every, to };
            let would = Mutation::RemoveSchedule {
                volume: &volume,
                removal: &removal,
            }
            .describe();
            mutating(ctx, would, async {
                let change = p.remove_schedule(&volume, &removal).await?;
                finish_schedule_change(ctx, settings, &change, wait, &volume).await
            })
            .await
        }
        Command::Snapshot(SnapshotCmd::Hold { id, volume }) => {
            let would = Mutation::Hold {
                volume: volume.as_deref(),
                id: &id,
            }
            .describe();
            mutating(ctx, would, async {
                let held = p.hold_snapshot(volume.as_deref(), &id).await?;
                ctx.info(&format!(
                    "snapshot {id} is now manual under a new id: {}",
                    held.id
                ));
                ctx.print(&render_one(&held, ctx.format))
            })
            .await
        }
        Command::Snapshot(SnapshotCmd::Update {
            id,
            volume,
            name,
            description,
        }) => {
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
        Command::Wait { task } => wait_for(p, &Operation::Task { id: task }, &ctx.wait).await,
        Command::Copy {
            snapshot,
            source_region,
            description,
            wait,
        } => {
            let req = CopyRequest {
                snapshot,
                source_region,
                description,
            };
            mutating(ctx, Mutation::Copy(&req).describe(), async {
                let (snap, op) = p.copy_snapshot(&req).await?;
                let snap = if wait {
                    wait_for(p, &op, &ctx.wait).await?;
                    p.get_snapshot(snap.volume_id.as_deref(), &snap.id).await?
                } else {
                    snap
                };
                ctx.print(&render_one(&snap, ctx.format))
            })
            .await
        }
        Command::Snapshot(SnapshotCmd::Share(a)) => share(ctx, a, false).await,
        Command::Snapshot(SnapshotCmd::Unshare(a)) => share(ctx, a, true).await,
        Command::Snapshot(SnapshotCmd::Export {
            id,
            bucket,
            prefix,
            format,
            wait,
        }) => {
            let req = ExportRequest {
                snapshot: id,
                bucket,
                prefix,
                format,
            };
            mutating(ctx, Mutation::Export(&req).describe(), async {
                let (task, op) = p.export_snapshot(&req).await?;
                if wait {
                    wait_for(p, &op, &ctx.wait).await?;
                } else {
                    ctx.follow_up(settings, &op);
                }
                ctx.print(&render_one(&task, ctx.format))
            })
            .await
        }
        Command::Snapshot(SnapshotCmd::Import {
            file_location,
            size,
            name,
            description,
            wait,
        }) => {
            let req = ImportRequest {
                file_location,
                size_bytes: size,
                name,
                description,
            };
            mutating(ctx, Mutation::Import(&req).describe(), async {
                let (snap, op) = p.import_snapshot(&req).await?;
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
        Command::Snapshot(SnapshotCmd::Delete { ids, volume, wait }) => {
            delete_snapshots(ctx, &ids, volume.as_deref(), wait).await
        }
        Command::Clone(args) => clone(ctx, settings, args).await,
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
    let mut would = Vec::new();
    for id in ids {
        if crate::interrupt::requested() {
            results.push(DeleteResult {
                provider: p.kind(),
                id: id.clone(),
                volume_id: volume.map(str::to_string),
                status: "skipped",
                error: Some("interrupted before it started".into()),
                task_id: None,
            });
            continue;
        }
        let mut task_id = None;
        let outcome = async {
            let op = p.delete_snapshot(volume, id).await?;
            if let Operation::Task { id } = &op {
                task_id = Some(id.clone());
            }
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
                task_id,
            }),
            // The one mutation path: under --dry-run each delete ran its real checks and reads and
            // was stopped at its request.
            Err(Error::DryRunStop {
                request,
                checked_by_provider,
            }) if ctx.dry_run => would.push(DryRunReport {
                dry_run: true,
                provider: p.kind(),
                would: Mutation::DeleteSnapshot { volume, id }.describe(),
                checked_by_provider,
                request: Some(request),
            }),
            Err(e) => {
                results.push(DeleteResult {
                    provider: p.kind(),
                    id: id.clone(),
                    volume_id: volume.map(str::to_string),
                    status: "failed",
                    error: Some(e.to_string()),
                    task_id,
                });
                errors.push(e);
            }
        }
    }
    let failed = errors.len();
    // A dry run prints what would happen; its refusals go to stderr below, as the real run's do.
    if ctx.dry_run && !would.is_empty() {
        ctx.print(&render_dry_run(&would, ctx.format))?;
    }
    // Print what was done even when some failed: a script needs both.
    let done: Vec<DeleteResult> = match ctx.format {
        Format::Ids => results
            .iter()
            .filter(|r| matches!(r.status, "deleted" | "deleting"))
            .cloned()
            .collect(),
        _ => results.clone(),
    };
    let nothing_to_list = ctx.format == Format::Ids && done.is_empty();
    if !ctx.dry_run && !nothing_to_list {
        ctx.print(&render_list(&done, ctx.format))?;
    }
    if crate::interrupt::requested() {
        let started = results.iter().filter(|r| r.status != "skipped").count();
        return Err(Error::Interrupted {
            done: format!(
                "{started} of {} deletions were sent, {} not started",
                ids.len(),
                ids.len() - started
            ),
        });
    }
    match failed {
        0 => Ok(()),
        1 if ids.len() == 1 => Err(errors.remove(0)),
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
                total: ids.len(),
                what: "snapshot deletions",
            })
        }
    }
}

async fn share(ctx: &Ctx, a: crate::cli::ShareArgs, remove: bool) -> Result<()> {
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

async fn clone(ctx: &Ctx, settings: &Settings, args: CloneArgs) -> Result<()> {
    let p = ctx.provider.as_ref();
    let snapshot = match args.snapshot {
        Some(s) => {
            if args.volumes.len() > 1 {
                return Err(Error::usage(
                    "a clone from --snapshot takes at most one --volume (the snapshot's)",
                ));
            }
            s
        }
        None => {
            // Clone the volume(s) as they are now: a provider with a direct (consistent) clone
            // does it in one task; otherwise take a manual snapshot, wait for it, and clone that.
            let req = CloneVolumesRequest {
                volumes: args.volumes.clone(),
                name: args.name.clone(),
                description: args.description.clone(),
                volume_type: args.volume_type.clone(),
            };
            let would = Mutation::CloneVolumes(&req).describe();
            let direct = mutating(ctx, would, async {
                let op = p.clone_volumes(&req).await?;
                finish_clone_volumes(ctx, settings, &op, args.wait).await
            })
            .await;
            match direct {
                Err(Error::Unsupported { .. }) if args.volumes.len() == 1 => {}
                other => return other,
            }
            let volume = args.volumes[0].clone();
            let would = format!(
                "take a snapshot of {volume}, wait until it is usable, then create a new volume from it"
            );
            let mut base = None;
            mutating(ctx, would, async {
                base = Some(snapshot_for_clone(ctx, &volume).await?);
                Ok(())
            })
            .await?;
            match base {
                Some(id) => id,
                // Dry run: the first change was reported.
                None => return Ok(()),
            }
        }
    };
    let req = CloneRequest {
        volume: args.volumes.into_iter().next(),
        snapshot,
        name: args.name,
        description: args.description,
        size_gib: args.size,
        subregion: args.subregion,
        volume_type: args.volume_type,
        iops: args.iops,
    };
    mutating(ctx, Mutation::Clone(&req).describe(), async {
        let (volume, op) = p.clone_volume(&req).await?;
        let volume = if args.wait {
            wait_for(p, &op, &ctx.wait).await?;
            p.get_volume(&volume.id).await?
        } else {
            volume
        };
        ctx.print(&render_one(&volume, ctx.format))
    })
    .await
}

/// `clone --volume` without a direct clone: take a manual snapshot and wait until it is usable.
async fn snapshot_for_clone(ctx: &Ctx, volume: &str) -> Result<String> {
    let p = ctx.provider.as_ref();
    let name = format!(
        "snapctl-clone-{}",
        jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ")
    );
    let req = CreateSnapshot {
        volume: volume.to_string(),
        name: Some(name.clone()),
        description: Some("taken by snapctl clone".into()),
        ..CreateSnapshot::default()
    };
    let (snap, op) = create_snapshot_once(p, &req).await?;
    ctx.info(&format!("took snapshot {} ({name}) of {volume}", snap.id));
    wait_for(p, &op, &ctx.wait).await?;
    Ok(snap.id)
}

async fn finish_clone_volumes(
    ctx: &Ctx,
    settings: &Settings,
    op: &Operation,
    wait: bool,
) -> Result<()> {
    let p = ctx.provider.as_ref();
    let Operation::Task { id } = op else {
        return Ok(());
    };
    if !wait {
        ctx.follow_up(settings, op);
        return ctx.print(&crate::output::render_task_id(id, ctx.format));
    }
    wait_for(p, op, &ctx.wait).await?;
    ctx.print(&render_list(&p.clone_results(id).await?, ctx.format))
}

async fn revert(ctx: &Ctx, settings: &Settings, args: RevertArgs) -> Result<()> {
    let p = ctx.provider.as_ref();
    // A dry run is how one previews a revert before confirming it: no prompt under --dry-run.
    if !args.yes && !ctx.dry_run {
        confirm_revert(settings.provider, &args.volume, &args.snapshot)?;
    }
    let would = Mutation::Revert {
        volume: &args.volume,
        snapshot: &args.snapshot,
    }
    .describe();
    mutating(ctx, would, async {
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
    })
    .await
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

/// The candidate prefix: flag > profile > `snapctl-`; an empty one needs `--all-names`.
fn prefix(flag: Option<String>, profile: Option<&RotateConfig>, all_names: bool) -> Result<String> {
    let prefix = flag
        .or_else(|| profile.and_then(|r| r.prefix.clone()))
        .unwrap_or_else(|| DEFAULT_PREFIX.to_string());
    let all_names = all_names || profile.and_then(|r| r.all_names).unwrap_or(false);
    if prefix.is_empty() && !all_names {
        return Err(Error::Usage {
            message: "an empty --prefix makes every manual snapshot a candidate".into(),
            hint: Some("add --all-names if that is what you mean".into()),
        });
    }
    Ok(prefix)
}

fn volumes(
    list: Vec<String>,
    all: bool,
    profile: Option<&RotateConfig>,
    command: &str,
) -> Result<Volumes> {
    let list = if list.is_empty() {
        profile.and_then(|r| r.volumes.clone()).unwrap_or_default()
    } else {
        list
    };
    let all = all || profile.and_then(|r| r.all_volumes).unwrap_or(false);
    match (list.is_empty(), all) {
        (false, false) => Ok(Volumes::List(list)),
        (true, true) => Ok(Volumes::All),
        (false, true) => Err(Error::usage(format!(
            "{command}: give --volume or --all-volumes, not both"
        ))),
        (true, false) => Err(Error::Usage {
            message: format!("{command}: no volume given"),
            hint: Some("pass --volume ID (repeatable) or --all-volumes, or set volumes in the profile's rotate table".into()),
        }),
    }
}

async fn rotate(ctx: &Ctx, settings: &Settings, a: RotateArgs) -> Result<()> {
    let prof = settings.profile.rotate.as_ref();
    let count = |flag: Option<usize>, f: fn(&RotateConfig) -> Option<usize>| {
        flag.or_else(|| prof.and_then(f))
    };
    let keep_within = match (a.keep_within, prof.and_then(|r| r.keep_within.as_deref())) {
        (Some(d), _) => Some(d),
        (None, Some(text)) => Some(parse_duration(text).map_err(|reason| Error::Config {
            message: format!("invalid keep-within {text:?} in profile: {reason}"),
            hint: None,
        })?),
        (None, None) => None,
    };
    let tz_name = a
        .timezone
        .clone()
        .or_else(|| prof.and_then(|r| r.timezone.clone()));
    let timezone = match &tz_name {
        None => jiff::tz::TimeZone::UTC,
        Some(name) => jiff::tz::TimeZone::get(name).map_err(|e| Error::InvalidInput {
            what: "timezone",
            value: name.to_string(),
            reason: format!("expected an IANA zone such as Europe/Paris ({e})"),
        })?,
    };
    let policy = Policy {
        keep_last: count(a.keep_last, |r| r.keep_last),
        keep_hourly: count(a.keep_hourly, |r| r.keep_hourly),
        keep_daily: count(a.keep_daily, |r| r.keep_daily),
        keep_weekly: count(a.keep_weekly, |r| r.keep_weekly),
        keep_monthly: count(a.keep_monthly, |r| r.keep_monthly),
        keep_yearly: count(a.keep_yearly, |r| r.keep_yearly),
        keep_within,
        timezone,
    };
    if policy.is_empty() {
        return Err(Error::Usage {
            message: "rotate needs at least one keep rule".into(),
            hint: Some(
                "for example --keep-last 24 --keep-daily 7, or a [profiles.NAME.rotate] table"
                    .into(),
            ),
        });
    }
    let opts = RotateOptions {
        volumes: volumes(a.volumes, a.all_volumes, prof, "rotate")?,
        create: a.create || prof.and_then(|r| r.create).unwrap_or(false),
        prefix: prefix(a.prefix, prof, a.all_names)?,
        policy,
        max_delete: count(a.max_delete, |r| r.max_delete).unwrap_or(50),
        dry_run: ctx.dry_run,
        concurrency: count(a.concurrency, |r| r.concurrency).unwrap_or(4).max(1),
        wait: a.wait || prof.and_then(|r| r.wait).unwrap_or(false),
        lock_wait: a.lock_wait.unwrap_or_default(),
        lock_dir: lock_dir(&settings.env)?,
    };
    let max_delete = opts.max_delete;
    let mut report = rotation::rotate(ctx.provider.clone(), opts, ctx.wait.clone()).await?;
    ctx.print(&render_rotation(&report, ctx.format))?;
    // Failures also go to stderr, where cron mail and logs look.
    for v in &report.volumes {
        if let Some(e) = &v.error {
            let line = format!("volume {}: {e}", v.volume_id);
            eprintln!(
                "error: {}",
                crate::text::one_line(&line, crate::text::MAX_LINE)
            );
        }
        for f in &v.failed {
            let line = format!("volume {}: snapshot {}: {}", v.volume_id, f.id, f.error);
            eprintln!(
                "error: {}",
                crate::text::one_line(&line, crate::text::MAX_LINE)
            );
        }
    }
    report.outcome(max_delete)
}

async fn check(ctx: &Ctx, settings: &Settings, a: CheckArgs) -> Result<u8> {
    let prof = settings.profile.rotate.as_ref();
    let opts = CheckOptions {
        volumes: volumes(a.volumes, a.all_volumes, prof, "check")?,
        prefix: prefix(a.prefix, prof, a.all_names)?,
        max_age: a.max_age,
        warn_age: a.warn_age,
        min_count: a.min_count,
    };
    let (status, checks) =
        rotation::check(ctx.provider.as_ref(), &opts, jiff::Timestamp::now()).await?;
    let text = match ctx.format {
        Format::Table => status_line(status, &checks, &opts),
        other => render_check(status, &checks, other),
    };
    ctx.print(&text)?;
    Ok(status as u8)
}
