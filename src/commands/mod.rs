//! Command execution: settings → provider → calls → rendered data on stdout. One file per command
//! family; every mutating command goes through `mutating` (the one mutation path).
//!
//! Provider-neutral: everything here goes through the [`Provider`] trait, so each command behaves the
//! same on every cloud. Inputs are validated before the provider is even built, so a bad id never
//! causes a request (not even credential discovery).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use self::cli::{Cli, CloudCmd, Command, ScheduleCmd, SnapshotCmd, VolumeCmd};
use crate::config::{Env, RotateConfig, Settings, parse_duration, resolve};
use crate::engine::retention::Policy;
use crate::error::{Error, Outcome, Result};
use crate::kind::ProviderKind;
use crate::lock::lock_dir;
use crate::model::{
    CloneRequest, CloneVolumesRequest, CopyRequest, CreateSnapshot, DeleteResult, DryRunReport,
    ExportRequest, ImportRequest, Mutation, Operation, RuleSpec, ScheduleChange, ScheduleRemoval,
    ScheduleSpec, ShareRequest, SnapshotUpdate, Until,
};
use crate::output::{Format, Record, render_dry_run, render_list, render_one, render_providers};
use crate::provider::{Provider, create_snapshot_once};
use crate::providers::entry;
use crate::rotation::rotate::RotateOptions;
use crate::rotation::{self, CheckOptions, Volumes, status_line};
use crate::wait::{WaitOptions, wait_for};

/// Default rotation candidate prefix.
pub const DEFAULT_PREFIX: &str = "snapctl-";

/// How a command's data reaches stdout, the same for every command (cloud and policy alike):
/// `-o`, `--jq` (the output is held, then filtered once the command is done) and `-q`.
pub(crate) struct Out {
    format: Format,
    jq: Option<(String, std::sync::Mutex<String>)>,
    quiet: bool,
    /// Whether the text may carry snapctl's own table colours (only renderings that colour
    /// cells after sanitising them one by one).
    colours: bool,
}

impl Out {
    fn new(g: &crate::commands::cli::Global, colours: bool) -> Self {
        Out {
            format: g.output,
            jq: g
                .jq
                .clone()
                .map(|e| (e, std::sync::Mutex::new(String::new()))),
            quiet: g.quiet,
            colours,
        }
    }

    fn print(&self, text: &str) -> Result<()> {
        if let Some((_, held)) = &self.jq {
            held.lock().expect("output buffer").push_str(text);
            return Ok(());
        }
        // Tables and ids are for terminals: server-supplied names lose their control characters.
        // JSON escapes them itself and stays byte-faithful.
        let text = if self.format == Format::Json {
            std::borrow::Cow::Borrowed(text)
        } else if self.colours && self.format == Format::Table && crate::output::colour_on() {
            std::borrow::Cow::Owned(crate::text::sanitize_keeping_colours(text))
        } else {
            std::borrow::Cow::Owned(crate::text::sanitize(text))
        };
        crate::output::write_stdout(text.as_bytes())
    }

    /// A JSON document, streamed to stdout when nothing filters it (a large fleet's plan or
    /// report is never one string in memory), else printed as one.
    fn json<T: serde::Serialize>(&self, v: &T) -> Result<()> {
        match self.jq {
            None => crate::output::json_stdout(v),
            Some(_) => self.print(&crate::output::json(v)),
        }
    }

    fn info(&self, line: &str) {
        if !self.quiet {
            eprintln!("{}", crate::text::sanitize(line));
        }
    }

    /// The command is done: what `--jq` held is filtered and printed, also when the command
    /// failed after printing (a fleet report before its exit 6 or 9, the results of a partial
    /// delete): what was done is never unreported. The command's own error comes first.
    fn finish(&self, outcome: Result<u8>) -> Result<u8> {
        let Some((expr, held)) = &self.jq else {
            return outcome;
        };
        let text = std::mem::take(&mut *held.lock().expect("output buffer"));
        if text.trim().is_empty() {
            return outcome;
        }
        let printed = crate::jq::apply(expr, &text)
            .and_then(|out| crate::output::write_stdout(out.as_bytes()));
        match (outcome, printed) {
            (Ok(_), Err(e)) => Err(e),
            (outcome, _) => outcome,
        }
    }
}

/// What every cloud command's handler shares: its output, and the provider it talks to.
struct Ctx {
    out: Out,
    provider: Arc<dyn Provider>,
    wait: WaitOptions,
    dry_run: bool,
}

impl std::ops::Deref for Ctx {
    type Target = Out;
    fn deref(&self) -> &Out {
        &self.out
    }
}

impl Ctx {
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
/// (an [`Outcome::WouldSend`]), after every validation and read the real run makes, so a dry run
/// refuses exactly what the real run refuses (same message, same exit code), sends no change, and
/// reports the very request the real run would send next.
async fn mutating<F>(ctx: &Ctx, would: String, run: F) -> Result<()>
where
    F: std::future::Future<Output = Result<()>>,
{
    match Outcome::of(run.await)? {
        Outcome::Done(()) => Ok(()),
        Outcome::WouldSend(stop) => ctx.print(&render_dry_run(
            &[DryRunReport::stopped(ctx.provider.kind(), would, stop)],
            ctx.format,
        )),
    }
}

/// The `--filter/--sort/--limit` of a list of `items`, checked before any request.
fn selection(
    items: crate::select::Items,
    a: &crate::commands::cli::SelectArgs,
) -> Result<crate::select::Selection> {
    crate::select::Selection::parse_for(
        items,
        &a.filters,
        a.older_than,
        a.newer_than,
        a.sort.as_deref(),
        a.limit,
        jiff::Timestamp::now(),
    )
}

/// Ask on the terminal before something that cannot be undone; without a terminal (cron, CI,
/// pipes) refuse with `refused()`, whose hint names the `--yes` to add.
fn confirm(question: &str, refused: impl Fn() -> Error) -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() || !std::io::stderr().is_terminal() {
        return Err(refused());
    }
    eprint!("{question}");
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

pub mod cli;
mod clone;
pub mod complete;
pub(crate) mod demo;
mod emulator;
mod policy;
mod rotate;
mod schedule;
mod snapshot;

/// The whole-run deadline of the monitoring plugins (`check`, `policy check`) without `--timeout`.
pub const PLUGIN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(50);

/// Run one parsed command line; `Ok` carries the exit code (0, or `check`'s plugin status).
pub async fn run(cli: Cli, env: Env) -> Result<u8> {
    crate::interrupt::install();
    let plugin = matches!(
        cli.command,
        Command::Cloud(CloudCmd::Check(_))
            | Command::Policy(crate::commands::cli::PolicyCmd::Check(_))
    );
    if plugin {
        // A monitoring plugin answers within its deadline (`--timeout`, default 50 s: below the
        // usual 60 s of Nagios and Icinga), UNKNOWN (3) for anything that keeps it from judging.
        let deadline = cli.global.timeout.unwrap_or(PLUGIN_DEADLINE);
        let unknown = |why: String| {
            let line = format!(
                "SNAPCTL UNKNOWN: {}\n",
                crate::text::one_line(&why, crate::text::MAX_LINE)
            );
            // A plugin whose stdout is gone has nobody to tell; the exit code still says it.
            let _ = crate::output::write_stdout(line.as_bytes());
            3
        };
        return Ok(
            match tokio::time::timeout(deadline, run_command(cli, env)).await {
                Ok(Ok(code)) => code,
                Ok(Err(e)) => unknown(e.to_string()),
                Err(_) => unknown(format!(
                    "no answer within {} (--timeout)",
                    crate::error::humanize(deadline)
                )),
            },
        );
    }
    run_command(cli, env).await
}

pub(crate) async fn run_command(mut cli: Cli, env: Env) -> Result<u8> {
    if let Some(expr) = &cli.global.jq {
        // Refused before anything runs; and the filter reads JSON.
        crate::jq::check(expr)?;
        cli.global.output = Format::Json;
    }
    let g = &cli.global;
    if g.output.report_only()
        && !matches!(
            cli.command,
            Command::Policy(crate::commands::cli::PolicyCmd::Report(_))
        )
    {
        return Err(Error::Usage {
            message: "-o csv and -o html are the coverage report's formats".into(),
            hint: Some(
                "use -o table, json, ids or tsv here; snapctl policy report -f FILE -o html writes the report"
                    .into(),
            ),
        });
    }
    crate::output::set_table_layout(crate::output::TableLayout {
        width: crate::output::detect_width(env.var("COLUMNS")),
        headers: !g.no_headers,
        color: crate::output::use_color(
            &g.color,
            env.var("NO_COLOR"),
            std::io::stdout().is_terminal(),
        ),
    });
    // The one dispatch of the command tree: the commands that need no provider of their own
    // (fleet mode connects once per account itself), then the cloud commands.
    let command = match cli.command {
        Command::Cloud(command) => command,
        Command::Demo => {
            return crate::commands::demo::walk_through(&env, |cli, env| {
                Box::pin(run_command(cli, env))
            })
            .await
            .map(|()| 0);
        }
        Command::Emulator(a) => return emulator::serve(&a).await.map(|()| 0),
        Command::Completions { shell } => return completions(shell).map(|()| 0),
        Command::Policy(cmd) => return policy::run(g, env, cmd).await,
        Command::Man { dir } => return man(dir.as_deref()).map(|()| 0),
        Command::Providers => return providers(g, env).map(|()| 0),
    };
    let c = connect(g, g.opts(), env, |kind| validate_inputs(kind, &command)).await?;
    let settings = c.settings;
    let ctx = Ctx {
        out: Out::new(g, true),
        provider: c.provider,
        wait: c.wait,
        dry_run: g.dry_run,
    };
    let outcome = ctx.finish(dispatch(&ctx, &settings, command).await);
    if g.verbose >= 1 {
        // What a run cost the API: the figure rate limits and quotas are about.
        eprintln!(
            "snapctl: {} requests in {:.1}s",
            c.sent.load(std::sync::atomic::Ordering::Relaxed),
            c.started.elapsed().as_secs_f64()
        );
    }
    outcome
}

/// `completions`: the shell's completion script on stdout.
fn completions(shell: clap_complete::Shell) -> Result<()> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "snapctl", &mut out);
    crate::output::write_stdout(&out)
}

/// `providers`: what each provider offers. The config file is still read, so a broken one is
/// reported, but no provider is needed.
fn providers(g: &crate::commands::cli::Global, env: Env) -> Result<()> {
    resolve(&g.opts(), env, false)?;
    let text = render_providers(g.output);
    let text = match &g.jq {
        Some(expr) => crate::jq::apply(expr, &text)?,
        None => text,
    };
    crate::output::write_stdout(text.as_bytes())
}

/// `man`: the page on stdout, or one page per command written into `dir`.
fn man(dir: Option<&std::path::Path>) -> Result<()> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .and_then(|()| clap_mangen::generate_to(cmd, dir))
                .map_err(|source| Error::Io {
                    action: format!("cannot write man pages into {}", dir.display()),
                    source,
                })?;
            eprintln!(
                "wrote snapctl.1 and one page per command into {}",
                dir.display()
            );
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .map_err(|source| Error::Io {
                    action: "cannot render the man page".into(),
                    source,
                })?;
            crate::output::write_stdout(&out)?;
        }
    }
    Ok(())
}

/// A provider built from the settings, with what a run reports about it.
pub(crate) struct Connected {
    pub(crate) provider: Arc<dyn Provider>,
    pub(crate) settings: Settings,
    pub(crate) wait: WaitOptions,
    /// Requests sent so far (`-v`).
    pub(crate) sent: Arc<std::sync::atomic::AtomicU64>,
    pub(crate) started: std::time::Instant,
}

/// Resolve the settings for `opts`, check them with `check` (inputs are refused before anything
/// is built), then [`crate::connect::connect`]: credentials paired with their endpoint, one HTTP
/// client (rate limit, TLS, dry run), the provider. Warnings about exposed credentials or a
/// re-pointed profile go to stderr whatever `-q` says, also when the connection fails.
pub(crate) async fn connect(
    g: &crate::commands::cli::Global,
    opts: crate::config::GlobalOpts,
    env: Env,
    check: impl FnOnce(ProviderKind) -> Result<()>,
) -> Result<Connected> {
    let no_color = env.var("NO_COLOR").map(str::to_string);
    let settings = resolve(&opts, env, true)?.expect("provider_required yields a provider");
    check(settings.provider)?;
    let transport = crate::connect::Transport {
        max_rps: g.max_rps,
        allow_http: g.allow_http,
        loopback_only: opts.loopback_only,
        dry_run: g.dry_run,
        request_timeout: g.request_timeout,
        retry_delay: g.retry_delay,
        max_body: g.max_response_size,
        verbosity: g.verbose,
    };
    let started = std::time::Instant::now();
    let mut warnings = Vec::new();
    let made = crate::connect::connect(&settings, &transport, &mut warnings).await;
    // These warnings are about credentials others can read or a file others can change: -q
    // (no progress, no notices) never hides them.
    let warn = if crate::output::use_color(
        &g.color,
        no_color.as_deref(),
        std::io::stderr().is_terminal(),
    ) {
        "\x1b[33mwarning:\x1b[0m"
    } else {
        "warning:"
    };
    for w in &warnings {
        eprintln!("{warn} {}", crate::text::sanitize(w));
    }
    let made = made?;
    Ok(Connected {
        provider: Arc::from(made.provider),
        wait: WaitOptions::new(settings.timeout, g.poll_interval, g.quiet),
        settings,
        sent: made.sent,
        started,
    })
}

/// Check every id the command carries against the provider's id shape.
/// A name or description: refused before any request when it is empty, carries a control
/// character, or is longer than the provider takes.
fn check_label(kind: ProviderKind, what: &'static str, value: Option<&String>) -> Result<()> {
    let Some(v) = value else {
        return Ok(());
    };
    let bad = |reason: String| {
        Err(Error::InvalidInput {
            what,
            value: crate::text::one_line(v, 80),
            reason,
        })
    };
    if v.trim().is_empty() {
        return bad("it is empty".into());
    }
    if v.chars().any(char::is_control) {
        return bad("it contains a control character (newline, tab, escape…)".into());
    }
    if let Some(max) = entry(kind).max_label
        && v.chars().count() > max
    {
        return bad(format!(
            "{} characters; {kind} takes at most {max}",
            v.chars().count()
        ));
    }
    Ok(())
}

fn validate_labels(kind: ProviderKind, command: &CloudCmd) -> Result<()> {
    let (name, description) = match command {
        CloudCmd::Snapshot(SnapshotCmd::Create {
            name, description, ..
        })
        | CloudCmd::Snapshot(SnapshotCmd::Update {
            name, description, ..
        })
        | CloudCmd::Snapshot(SnapshotCmd::Import {
            name, description, ..
        })
        | CloudCmd::Copy {
            name, description, ..
        } => (name.as_ref(), description.as_ref()),
        CloudCmd::Clone(a) => (a.name.as_ref(), a.description.as_ref()),
        _ => (None, None),
    };
    check_label(kind, "name", name)?;
    check_label(kind, "description", description)
}

fn validate_inputs(kind: ProviderKind, command: &CloudCmd) -> Result<()> {
    validate_labels(kind, command)?;
    let vol = entry(kind).check_volume_id;
    let snap = entry(kind).check_snapshot_id;
    match command {
        CloudCmd::Volume(VolumeCmd::List { select }) => {
            selection(crate::select::Items::Volumes, select).map(|_| ())
        }
        CloudCmd::Volume(VolumeCmd::Show { id }) => vol(id),
        CloudCmd::Snapshot(SnapshotCmd::List { volume, select }) => {
            selection(crate::select::Items::Snapshots, select)?;
            volume.as_deref().map_or(Ok(()), vol)
        }
        CloudCmd::Snapshot(SnapshotCmd::Show { id, volume }) => {
            volume.as_deref().map_or(Ok(()), vol)?;
            snap(id)
        }
        CloudCmd::Snapshot(SnapshotCmd::Create { volume, force, .. }) => {
            if *force && !entry(kind).force_attached {
                return Err(Error::usage(format!(
                    "--force means nothing on {kind}: it snapshots an attached (in-use) volume on {} only",
                    crate::providers::force_attached_names()
                )));
            }
            vol(volume)
        }
        CloudCmd::Snapshot(SnapshotCmd::Delete { ids, volume, .. }) => {
            volume.as_deref().map_or(Ok(()), vol)?;
            // `-`: the ids come from stdin, checked as they are read, before any request.
            if ids == &["-"] {
                return Ok(());
            }
            ids.iter().try_for_each(|id| snap(id))
        }
        CloudCmd::Clone(a) => {
            a.volumes.iter().try_for_each(|v| vol(v))?;
            a.snapshot.as_deref().map_or(Ok(()), snap)
        }
        CloudCmd::Copy { snapshot, .. } => snap(snapshot),
        CloudCmd::Snapshot(SnapshotCmd::Share(a) | SnapshotCmd::Unshare(a)) => snap(&a.id),
        CloudCmd::Snapshot(SnapshotCmd::Export { id, .. }) => snap(id),
        CloudCmd::Snapshot(SnapshotCmd::Import { .. }) => Ok(()),
        CloudCmd::Revert(a) => {
            vol(&a.volume)?;
            snap(&a.snapshot)
        }
        CloudCmd::Rotate(a) => a.volumes.iter().try_for_each(|v| vol(v)),
        CloudCmd::Check(a) => a.volumes.iter().try_for_each(|v| vol(v)),
        CloudCmd::Schedule(ScheduleCmd::List { volume, select, .. }) => {
            selection(crate::select::Items::Schedules, select)?;
            vol(volume)
        }
        CloudCmd::Schedule(ScheduleCmd::Remove { volume, .. }) => vol(volume),
        CloudCmd::Schedule(ScheduleCmd::Add(a)) => vol(&a.volume),
        CloudCmd::Snapshot(
            SnapshotCmd::Hold { id, volume } | SnapshotCmd::Update { id, volume, .. },
        ) => {
            volume.as_deref().map_or(Ok(()), vol)?;
            snap(id)
        }
        CloudCmd::Wait { .. } => Ok(()),
    }
}

async fn dispatch(ctx: &Ctx, settings: &Settings, command: CloudCmd) -> Result<u8> {
    let p = ctx.provider.as_ref();
    match command {
        CloudCmd::Rotate(args) => rotate::rotate(ctx, settings, *args).await.map(|()| 0),
        CloudCmd::Check(args) => rotate::check(ctx, settings, args).await,
        CloudCmd::Volume(VolumeCmd::List { select }) => {
            list_volumes(ctx, &select).await.map(|()| 0)
        }
        CloudCmd::Volume(VolumeCmd::Show { id }) => ctx
            .print(&render_one(&p.get_volume(&id).await?, ctx.format))
            .map(|()| 0),
        CloudCmd::Wait { task } => wait_task(ctx, &task).await.map(|()| 0),
        CloudCmd::Copy {
            snapshot,
            source_region,
            description,
            name,
            wait,
        } => {
            let req = CopyRequest {
                snapshot,
                source_region,
                description,
                name,
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
            .map(|()| 0)
        }
        CloudCmd::Clone(args) => clone::clone(ctx, settings, args).await.map(|()| 0),
        CloudCmd::Revert(args) => clone::revert(ctx, settings, args).await.map(|()| 0),
        CloudCmd::Snapshot(cmd) => snapshot::dispatch(ctx, settings, cmd).await.map(|()| 0),
        CloudCmd::Schedule(cmd) => schedule::dispatch(ctx, settings, cmd).await.map(|()| 0),
    }
}

/// `volume list`: JSON, ids and TSV are written a thousand rows at a time (byte for byte the
/// same document), so the text of a large account is never held whole beside its volumes.
async fn list_volumes(ctx: &Ctx, select: &crate::commands::cli::SelectArgs) -> Result<()> {
    let sel = selection(crate::select::Items::Volumes, select)?;
    let mut all: Vec<_> = ctx
        .provider
        .list_volumes_tagged(&sel.tags())
        .await?
        .into_iter()
        .filter(|v| sel.keeps(v))
        .collect();
    sel.sort(&mut all);
    all.truncate(sel.limit.unwrap_or(usize::MAX));
    if ctx.format == Format::Table {
        return ctx.print(&render_list(&all, ctx.format));
    }
    let mut stream = crate::output::ListStream::new(ctx.format);
    for chunk in all.chunks(1000) {
        ctx.print(&stream.items(chunk))?;
    }
    ctx.print(&stream.finish::<crate::model::Volume>())
}

/// `wait --task`: wait, then print what the task produced: the clone pairs of a PowerVC
/// clone-volumes task, the final state of an OUTSCALE export task, or the finished task itself.
async fn wait_task(ctx: &Ctx, task: &str) -> Result<()> {
    let p = ctx.provider.as_ref();
    wait_for(
        p,
        &Operation::Task {
            id: task.to_string(),
        },
        &ctx.wait,
    )
    .await?;
    match p.clone_results(task).await {
        Ok(pairs) => return ctx.print(&render_list(&pairs, ctx.format)),
        Err(Error::Unsupported { .. }) => {}
        Err(e) => return Err(e),
    }
    match p.get_export_task(task).await {
        Ok(export) => return ctx.print(&render_one(&export, ctx.format)),
        Err(Error::Unsupported { .. } | Error::InvalidInput { .. }) => {}
        Err(e) => return Err(e),
    }
    let done = crate::model::FinishedTask {
        provider: p.kind(),
        task_id: task.to_string(),
        state: "done",
    };
    ctx.print(&render_one(&done, ctx.format))
}
