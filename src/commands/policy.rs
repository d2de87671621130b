//! `policy plan|apply|check`: the policy file, one provider connection per distinct account in it
//! (policies on the same account share its rate limit), then the fleet engine.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::*;
use crate::cli::{PolicyCmd, PolicyRunArgs};
use crate::fleet::plan::{Compiled, FleetPlan, PLAN_SCHEMA};
use crate::fleet::run::{self, RunReport, Target};

/// Exit code of `policy plan --detailed-exitcode` when changes are pending.
pub const CHANGES_PENDING: u8 = 10;

struct Loaded {
    compiled: Arc<Vec<Compiled>>,
    metrics_file: Option<std::path::PathBuf>,
    report_file: Option<std::path::PathBuf>,
    chosen: Vec<usize>,
    /// `--at`: a simulated time, for the emulator only (every request elsewhere is refused).
    loopback_only: bool,
    /// SHA-256 of the file as read: recorded in saved plans, checked by `apply --plan`.
    file_sha256: String,
    /// The file's `metrics_push_url`.
    metrics_push_url: Option<String>,
    /// The file's `history_dir`, and how long it keeps a run (seconds).
    history_dir: Option<std::path::PathBuf>,
    history_keep: u64,
}

/// The policy file, checked, with every `profile` it names defined in the profiles file.
/// The profiles file is the one every other command reads: `--config` (or `SNAPCTL_CONFIG`,
/// which clap reads into it), else the default path.
pub(super) fn load_checked(
    file: &std::path::Path,
    config: Option<&std::path::Path>,
    env: &Env,
) -> Result<crate::fleet::file::Checked> {
    let mut warnings = Vec::new();
    let (names, source) = match crate::config::load_config_file(config, env, &mut warnings) {
        Ok((f, path)) => (
            f.profiles
                .iter()
                .map(|(k, p)| (k.clone(), p.endpoint.clone(), p.provider))
                .collect::<Vec<_>>(),
            path.map(|p| p.display().to_string())
                .unwrap_or_else(|| "the profiles file (there is none)".into()),
        ),
        // The profiles file's own error is reported when a policy connects.
        Err(_) => return crate::fleet::file::load(file),
    };
    crate::fleet::file::load_with_profiles(file, Some((&names, &source)))
}

fn load(g: &crate::cli::Global, a: &PolicyRunArgs, env: &Env) -> Result<Loaded> {
    let checked = load_checked(&a.file, g.config.as_deref(), env)?;
    let mut compiled = crate::fleet::plan::compile(&checked)?;
    for c in &mut compiled {
        if c.drill.is_some() && c.state_dir.is_none() {
            c.state_dir = Some(crate::fleet::drill::resolve_state_dir(None, env)?);
        }
    }
    let mut chosen = Vec::new();
    for id in &a.policies {
        match compiled.iter().position(|c| c.policy.id == *id) {
            Some(i) => chosen.push(i),
            None => {
                return Err(Error::Usage {
                    message: format!("no policy {id:?} in {}", a.file.display()),
                    hint: Some(format!(
                        "the file has: {}",
                        compiled
                            .iter()
                            .map(|c| c.policy.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                });
            }
        }
    }
    if chosen.is_empty() {
        chosen = (0..compiled.len()).collect();
    }
    Ok(Loaded {
        loopback_only: a.at.is_some(),
        file_sha256: checked.sha256.clone(),
        compiled: Arc::new(compiled),
        metrics_file: checked.file.metrics_file.clone(),
        report_file: checked.file.report_file.clone(),
        metrics_push_url: checked.file.metrics_push_url.clone(),
        history_dir: checked.file.history_dir.clone(),
        history_keep: checked.history_keep,
        chosen,
    })
}

/// One connection per distinct (provider, profile, service, region, endpoint); a policy whose
/// connection cannot be made gets that error (and the others go on).
async fn connect_all(
    f: &Fleet<'_>,
    loaded: &Loaded,
) -> Vec<(usize, std::result::Result<Target, String>)> {
    let g = f.g;
    let mut made: BTreeMap<String, std::result::Result<Target, String>> = BTreeMap::new();
    let mut out = Vec::new();
    for &i in &loaded.chosen {
        let p = &loaded.compiled[i].policy;
        // The connection comes from the policy alone: -p, --profile, --service, --region and
        // --endpoint (and their SNAPCTL_* variables) are one cloud's settings and must not leak
        // into another policy's.
        let opts = crate::config::GlobalOpts {
            provider: p.provider,
            profile: p.profile.clone(),
            service: p.service.clone(),
            region: p.region.clone(),
            endpoint: p.endpoint.clone(),
            volume_endpoint: None,
            loopback_only: loaded.loopback_only,
            ..g.opts()
        };
        let key = format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}",
            opts.provider, opts.profile, opts.service, opts.region, opts.endpoint
        );
        if !made.contains_key(&key) {
            let target = f.connect(opts).await;
            made.insert(key.clone(), target);
        }
        out.push((i, made[&key].clone()));
        // Each copy's destination: its own profile's account, endpoint and keys, nothing of the
        // policy's (the trust rule: a profile's secrets go to that profile's endpoint only).
        let kind = made[&key].as_ref().ok().map(|t| t.provider.kind());
        for d in &loaded.compiled[i].copies {
            let opts = crate::config::GlobalOpts {
                provider: kind,
                profile: Some(d.profile.clone()),
                service: None,
                region: None,
                endpoint: None,
                volume_endpoint: None,
                loopback_only: loaded.loopback_only,
                ..g.opts()
            };
            let key = format!("{:?}|{:?}|None|None|None", opts.provider, opts.profile);
            if !made.contains_key(&key) {
                let target = f.connect(opts).await;
                made.insert(key.clone(), target);
            }
            d.link.set(
                made[&key]
                    .as_ref()
                    .map(|t| t.provider.clone())
                    .map_err(|e| format!("profile {:?}: {e}", d.profile)),
            );
        }
    }
    out
}

fn at(a: &PolicyRunArgs) -> jiff::Timestamp {
    a.at.unwrap_or_else(jiff::Timestamp::now)
}

/// What every policy command's handler shares: the global options, the environment, the
/// output (the same path as every other command's), and each connection's request counter for
/// `-v`'s closing line.
struct Fleet<'a> {
    g: &'a crate::cli::Global,
    env: Env,
    out: super::Out,
    sent: std::sync::Mutex<Vec<Arc<std::sync::atomic::AtomicU64>>>,
}

impl Fleet<'_> {
    /// One account's connection, its requests counted; an error is kept as the account's.
    async fn connect(
        &self,
        opts: crate::config::GlobalOpts,
    ) -> std::result::Result<Target, String> {
        connect(self.g, opts, self.env.clone(), |_| Ok(()))
            .await
            .map(|c| {
                if let Ok(mut all) = self.sent.lock() {
                    all.push(c.sent.clone());
                }
                Target::new(c.provider, 8)
            })
            .map_err(|e| format!("cannot connect: {e}"))
    }

    fn print(&self, text: &str) -> Result<()> {
        self.out.print(text)
    }
}

/// A `policy` command. `validate` reads the file alone; the others connect once per account.
/// `policy check` is a monitoring plugin: whatever keeps it from judging is UNKNOWN (exit 3).
pub(super) async fn run(g: &crate::cli::Global, env: Env, cmd: PolicyCmd) -> Result<u8> {
    let is_check = matches!(cmd, PolicyCmd::Check(_));
    match run_counted(g, env, cmd).await {
        Err(e) if is_check => {
            let line = format!(
                "SNAPCTL UNKNOWN: {}\n",
                crate::text::one_line(&e.to_string(), crate::text::MAX_LINE)
            );
            let _ = crate::output::write_stdout(line.as_bytes());
            Ok(3)
        }
        other => other,
    }
}

/// `policy validate`'s answer: each policy's id, where it runs and its cadence (JSON: the ids,
/// providers and profiles).
fn render_validate(
    file: &std::path::Path,
    checked: &crate::fleet::file::Checked,
    format: Format,
) -> String {
    let policies = &checked.file.policy;
    if format == Format::Json {
        let ids: Vec<_> = policies
            .iter()
            .map(|p| serde_json::json!({"id": p.id, "provider": p.provider, "profile": p.profile}))
            .collect();
        let doc = serde_json::json!({"valid": true, "policies": ids});
        return format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).expect("serialises")
        );
    }
    let noun = if policies.len() == 1 {
        "policy"
    } else {
        "policies"
    };
    let mut out = format!("{}: {} valid {noun}\n", file.display(), policies.len());
    for (p, every) in policies.iter().zip(&checked.every_secs) {
        let cadence = match (every, &p.cron) {
            (Some(s), _) => format!("every {s}s"),
            (None, Some(c)) => format!("cron {c:?}"),
            (None, None) => String::new(),
        };
        let on = p
            .provider
            .map(|k| k.to_string())
            .or_else(|| p.profile.as_ref().map(|n| format!("profile {n}")))
            .unwrap_or_default();
        out.push_str(&format!("  {}: {on}, {cadence}\n", p.id));
    }
    out
}

/// A policy command, with what it cost the APIs on stderr under `-v`.
pub(super) async fn run_counted(g: &crate::cli::Global, env: Env, cmd: PolicyCmd) -> Result<u8> {
    let started = std::time::Instant::now();
    let f = Fleet {
        g,
        env,
        out: super::Out::new(g, false),
        sent: Default::default(),
    };
    let outcome = f.out.finish(dispatch(&f, cmd).await);
    if g.verbose >= 1 {
        // What the run cost the APIs, over every account.
        let sent: u64 = f
            .sent
            .lock()
            .map(|all| {
                all.iter()
                    .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
                    .sum()
            })
            .unwrap_or(0);
        eprintln!(
            "snapctl: {sent} requests in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
    outcome
}

async fn dispatch(f: &Fleet<'_>, cmd: PolicyCmd) -> Result<u8> {
    let (g, env) = (f.g, &f.env);
    let mutating = match &cmd {
        PolicyCmd::Apply(_) => true,
        PolicyCmd::Orphans(a) => a.delete,
        PolicyCmd::Adopt(a) => a.yes,
        _ => false,
    };
    if g.dry_run && mutating {
        // Fleet mode's dry run is its plan, which says every create and delete with its reason.
        return Err(Error::Usage {
            message: "--dry-run does not apply to policy apply, orphans --delete or adopt --yes"
                .into(),
            hint: Some(
                "see what would change with snapctl policy plan -f FILE (orphans and adopt without --delete/--yes list it too)"
                    .into(),
            ),
        });
    }
    match cmd {
        PolicyCmd::Validate { file } => {
            let checked = load_checked(&file, g.config.as_deref(), env)?;
            f.print(&render_validate(&file, &checked, g.output))?;
            Ok(0)
        }
        PolicyCmd::Plan(a) => {
            let loaded = load(g, &a.run, env)?;
            let targets = connect_all(f, &loaded).await;
            let mut plan = run::plan_all(loaded.compiled.clone(), targets, at(&a.run)).await;
            plan.file_sha256 = Some(loaded.file_sha256.clone());
            if let Some(out) = &a.out {
                run::write_atomically_with(out, 0o600, &mut |w| {
                    crate::output::write_json(w, &plan)
                })?;
            }
            match g.output {
                Format::Json => f.out.json(&plan)?,
                _ => f.print(&render_plan(&plan))?,
            }
            plan_outcome(&plan, a.detailed_exitcode)
        }
        PolicyCmd::Apply(a) => apply(f, a).await,
        PolicyCmd::Check(a) => Ok(check(f, a).await),
        PolicyCmd::Orphans(a) => orphans(f, a).await,
        PolicyCmd::Adopt(a) => adopt(f, a).await,
        PolicyCmd::Report(a) => report(f, a).await,
    }
}

/// `policy report`: the coverage of a past window, from the history and the clouds now.
async fn report(f: &Fleet<'_>, a: crate::cli::PolicyReportArgs) -> Result<u8> {
    use crate::fleet::coverage;
    let (g, env) = (f.g, &f.env);
    if matches!(g.output, Format::Ids | Format::Tsv) {
        return Err(Error::Usage {
            message: "the coverage report is written as a table, JSON, CSV or HTML".into(),
            hint: Some("-o table|json|csv|html".into()),
        });
    }
    let span = crate::fleet::file::duration_secs(&a.since).map_err(|why| Error::Usage {
        message: format!("--since: {why}"),
        hint: Some("a duration such as 30d, 12h or 4w".into()),
    })?;
    let loaded = load(g, &a.run, env)?;
    let until = at(&a.run);
    let since = until - jiff::SignedDuration::from_secs(span as i64);
    let history = coverage::read(loaded.history_dir.as_deref(), since, until)?;
    let targets = connect_all(f, &loaded).await;
    let plan = run::plan_all(loaded.compiled.clone(), targets, until).await;
    let cov = coverage::build(&loaded.compiled, &plan, &history, since, until);
    let text = match g.output {
        Format::Json => crate::output::json(&cov),
        Format::Csv => coverage::csv(&cov),
        Format::Html => coverage::html(&cov),
        _ => coverage::table(&cov),
    };
    match &a.out {
        Some(path) => run::write_atomically(path, &text, 0o644)?,
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
    let failed: Vec<&crate::fleet::coverage::PolicyCoverage> =
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
    Ok(0)
}

fn file_only(file: &std::path::Path, policies: Vec<String>) -> PolicyRunArgs {
    PolicyRunArgs {
        file: file.to_path_buf(),
        policies,
        at: None,
    }
}

/// Each connection once (policies on one account share it).
fn distinct(
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

async fn orphans(f: &Fleet<'_>, a: crate::cli::PolicyOrphansArgs) -> Result<u8> {
    let (g, env) = (f.g, &f.env);
    let loaded = load(g, &file_only(&a.file, vec![]), env)?;
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
    let (found, more) = run::find_orphans(&targets, &known).await;
    errors.extend(more);
    let doomed: Vec<&run::FoundOrphan> = found
        .iter()
        .filter(|o| a.delete && Some(&o.policy_id) == a.policy_id.as_ref())
        .collect();
    let mut failed = 0;
    if !doomed.is_empty() {
        let wait = WaitOptions::new(
            g.timeout.unwrap_or(crate::config::DEFAULT_TIMEOUT),
            g.poll_interval,
            g.quiet,
        );
        for t in &targets {
            let kind = t.provider.kind();
            // Volumes a drill left: deleted one by one (their mark was checked when listed).
            for o in doomed
                .iter()
                .filter(|o| o.provider == kind && o.kind == "drill_volume")
            {
                let gone =
                    crate::fleet::drill::delete_drill_volume(t.provider.as_ref(), &o.id, &wait)
                        .await;
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
                crate::batch::delete_all(&t.provider, &mine, None, &t.in_flight, Some(&wait)).await;
            for ((_, id), ended) in mine.iter().zip(ended) {
                match ended {
                    crate::batch::Deletion::Deleted(_) => {}
                    crate::batch::Deletion::Failed(e) => {
                        failed += 1;
                        eprintln!(
                            "error: snapshot {id}: {}",
                            crate::text::one_line(&e.to_string(), crate::text::MAX_LINE)
                        );
                    }
                    crate::batch::Deletion::Skipped => failed += 1,
                }
            }
        }
    }
    let text = match g.output {
        Format::Json => crate::output::json(&found),
        Format::Ids => found.iter().map(|o| format!("{}\n", o.id)).collect(),
        _ => {
            let mut out = String::new();
            for o in &found {
                let _ = writeln!(
                    out,
                    "! {} {}  {}  {}  volume {}  policy {:?}: {}{}",
                    o.provider,
                    o.id,
                    o.name.as_deref().unwrap_or("-"),
                    o.created_at
                        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                        .unwrap_or_else(|| "-".into()),
                    o.volume_id.as_deref().unwrap_or("-"),
                    o.policy_id,
                    o.reason,
                    if doomed.iter().any(|d| d.id == o.id) {
                        " (deleted)"
                    } else {
                        ""
                    }
                );
            }
            let volumes = found.iter().filter(|o| o.kind == "drill_volume").count();
            let snapshots = found.len() - volumes;
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
            out.push('\n');
            out
        }
    };
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

async fn adopt(f: &Fleet<'_>, a: crate::cli::PolicyAdoptArgs) -> Result<u8> {
    let (g, env) = (f.g, &f.env);
    let loaded = load(g, &file_only(&a.file, vec![a.policy.clone()]), env)?;
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
    let list = run::adoptions(c, &target, &a.prefix).await?;
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
    let failed = run::adopt(&target, &c.policy.id, &list).await;
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

/// Errors (6) before refusals (9) before pending changes (10 with `--detailed-exitcode`).
fn plan_outcome(plan: &FleetPlan, detailed: bool) -> Result<u8> {
    let total = plan.policies.len();
    let failed = plan
        .policies
        .iter()
        .filter(|p| {
            p.error.is_some()
                || p.drill_error.is_some()
                || p.copies.iter().any(|c| c.error.is_some())
                || p.units.iter().any(|u| u.error.is_some())
        })
        .count();
    for p in &plan.policies {
        for e in p.error.iter().chain(&p.drill_error) {
            eprintln!(
                "error: policy {}: {}",
                p.id,
                crate::text::one_line(e, crate::text::MAX_LINE)
            );
        }
        for c in &p.copies {
            if let Some(e) = &c.error {
                eprintln!(
                    "error: policy {} copy to {}: {}",
                    p.id,
                    flat(&c.region),
                    crate::text::one_line(e, crate::text::MAX_LINE)
                );
            }
        }
        for u in &p.units {
            if let Some(e) = &u.error {
                eprintln!(
                    "error: policy {} volume {}: {}",
                    p.id,
                    flat(&u.volume_id),
                    crate::text::one_line(e, crate::text::MAX_LINE)
                );
            }
        }
    }
    if failed > 0 {
        return Err(Error::Partial {
            failed,
            total,
            what: "policies (planned without the failed parts)",
        });
    }
    if let Some(p) = plan
        .policies
        .iter()
        .find(|p| p.refused.is_some() || p.deletions_refused.is_some())
    {
        return Err(Error::Refused {
            reason: format!(
                "policy {}: {}",
                p.id,
                p.refused
                    .as_deref()
                    .or(p.deletions_refused.as_deref())
                    .unwrap_or("")
            ),
            hint: Some(
                "fix the selector, expect_volumes or max_delete; apply acts on the other policies"
                    .into(),
            ),
        });
    }
    Ok(if detailed && plan.changes() > 0 {
        CHANGES_PENDING
    } else {
        0
    })
}

fn entry_line(out: &mut String, sign: char, e: &crate::fleet::plan::PlanEntry, why: &str) {
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
fn flat(text: &str) -> String {
    crate::text::flatten(text)
}

fn heading(
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
        crate::fleet::file::cadence_words(interval)
    );
}

/// The plan in words: `+` create, `-` delete with why, `=` keep with why, `!` orphan.
fn render_plan(plan: &FleetPlan) -> String {
    let mut out = String::new();
    let (mut create, mut delete, mut keep, mut orphans) = (0, 0, 0, 0);
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
            let _ = writeln!(
                out,
                "  {}{}",
                flat(&u.volume_id),
                u.volume_name
                    .as_deref()
                    .map(|n| format!(" ({})", flat(n)))
                    .unwrap_or_default()
            );
            if let Some(e) = &u.error {
                let _ = writeln!(out, "    error: {}", flat(e));
            }
            if let Some(name) = &u.create {
                create += usize::from(p.refused.is_none());
                let _ = writeln!(
                    out,
                    "    + {name}  due since {}",
                    u.due_since
                        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                        .unwrap_or_else(|| "-".into())
                );
            }
            for d in &u.delete {
                delete += usize::from(p.refused.is_none());
                entry_line(&mut out, '-', &d.entry, &d.reason);
            }
            for r in &u.repair {
                entry_line(
                    &mut out,
                    '~',
                    &r.entry,
                    &format!("Name tag restored to {}", r.new_name),
                );
            }
            for k in &u.keep {
                keep += 1;
                entry_line(&mut out, '=', &k.entry, &k.reasons.join(", "));
            }
            for f in &u.future {
                entry_line(
                    &mut out,
                    '!',
                    f,
                    "future-dated: its mark names a time after now, so it answers no tick (delete or rename it)",
                );
            }
            for o in &u.orphans {
                orphans += 1;
                entry_line(
                    &mut out,
                    '!',
                    &o.entry,
                    &format!(
                        "orphan: marked for policy {:?}, which the file no longer has",
                        o.policy_id
                    ),
                );
            }
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
        "Plan: {create} to create, {delete} to delete, {keep} to keep, {orphans} orphaned."
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
fn render_planned_drills(out: &mut String, p: &crate::fleet::plan::PolicyPlan) {
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
            "  - drill volume {}{}: left by an earlier drill, deleted",
            flat(&l.volume_id),
            l.name
                .as_deref()
                .map(|n| format!(" ({})", flat(n)))
                .unwrap_or_default(),
        );
    }
}

/// A policy's drills and clean-ups as they ran.
fn render_drills(out: &mut String, p: &run::PolicyRun) {
    use crate::fleet::drill::DrillStatus;
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
            .map(|s| format!(" in {s:.1} s"))
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
}

fn render_report(r: &RunReport) -> String {
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
            .filter(|d| d.status == crate::fleet::drill::DrillStatus::Ok)
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
fn counted(r: &RunReport) -> usize {
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

/// Refuse (exit 2) an output file whose directory is missing or not a directory.
fn writable_dir(path: &std::path::Path) -> Result<()> {
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
fn reconcile(saved: &FleetPlan, fresh: &FleetPlan) -> Result<FleetPlan> {
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
                crate::fleet::plan::hold_deletions(u, "the saved plan refused the deletions");
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
fn write_outputs(
    loaded: &Loaded,
    report: &RunReport,
    at: jiff::Timestamp,
) -> (String, Vec<String>) {
    let now = jiff::Timestamp::now();
    let mut unwritten = Vec::new();
    if let Some(dir) = &loaded.history_dir
        && let Err(e) = crate::fleet::coverage::record(dir, at, report, loaded.history_keep)
    {
        unwritten.push(e.to_string());
    }
    if let Some(path) = &loaded.report_file
        && let Err(e) =
            run::write_atomically_with(path, 0o600, &mut |w| crate::output::write_json(w, report))
    {
        unwritten.push(e.to_string());
    }
    let metrics = run::metrics(report, &loaded.compiled, now);
    if let Some(path) = &loaded.metrics_file
        && let Err(e) = run::write_atomically(path, &metrics, 0o644)
    {
        unwritten.push(e.to_string());
    }
    (metrics, unwritten)
}

/// How an apply that has its report ends: interrupted (130), unreported (11), refused by
/// `--max-delete` (9), partial (6), a policy refused (9), or done (0).
fn outcome(report: &RunReport, unwritten: &[String]) -> Result<u8> {
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
            .map(run::PolicyRun::copy_failures)
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
            .find(|p| p.status == run::PolicyStatus::Refused)
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
fn read_saved_plan(
    path: &std::path::Path,
    fresh: &FleetPlan,
    loaded: &Loaded,
    file: &std::path::Path,
) -> Result<FleetPlan> {
    crate::fleet::file::check_strict(path, "saved plan")?;
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
struct Pushable {
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
async fn apply(f: &Fleet<'_>, a: crate::cli::PolicyApplyArgs) -> Result<u8> {
    use crate::fleet::push;
    if let Some(url) = &a.push_url {
        push::target(url, "check")?;
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
                Some(m) => (m + &push::exit_code_family(code), true),
                None => (push::exit_code_family(code), false),
            };
            match push::target(&base, &group) {
                Ok(url) => push::send(
                    push::Push {
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

async fn apply_run(
    f: &Fleet<'_>,
    a: crate::cli::PolicyApplyArgs,
    seen: &mut Pushable,
) -> Result<u8> {
    let (g, env) = (f.g, &f.env);
    let loaded = load(g, &a.run, env)?;
    seen.file_url = loaded.metrics_push_url.clone();
    seen.group = Some(crate::fleet::push::group(
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
    let targets = connect_all(f, &loaded).await;
    let by_policy: Vec<Option<Target>> = targets.iter().map(|(_, t)| t.clone().ok()).collect();
    let listed_at = jiff::Timestamp::now();
    let planned = match &a.plan {
        // Planned account by account as the run goes: an account's changes start as soon as
        // its own listing is done.
        None => run::Planned::Live {
            targets,
            at: at(&a.run),
        },
        Some(path) => {
            let fresh = run::plan_all(loaded.compiled.clone(), targets, at(&a.run)).await;
            let saved = read_saved_plan(path, &fresh, &loaded, &a.run.file)?;
            run::Planned::Given(reconcile(&saved, &fresh)?, by_policy)
        }
    };
    let wait = WaitOptions::new(
        g.timeout.unwrap_or(crate::config::DEFAULT_TIMEOUT),
        g.poll_interval,
        g.quiet,
    );
    let report = run::apply(
        planned,
        loaded.compiled.clone(),
        run::ApplyOptions {
            max_delete: a.max_delete,
            wait,
            lock_dir: lock_dir(env)?,
            lock_wait: a.lock_wait.unwrap_or_default(),
            listed_at,
        },
    )
    .await;
    let (metrics, unwritten) = write_outputs(&loaded, &report, at(&a.run));
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

/// `check`'s lines about a policy's restore drills, and the worst status among them: the state
/// unreadable (UNKNOWN), a selected volume whose last drill failed or was too slow (CRITICAL),
/// or whose last successful drill is older than twice its drill cadence (WARNING). A volume
/// never drilled yet is drilled before any other: not a problem.
fn drill_problems(
    p: &run::PolicyRun,
    s: &crate::fleet::drill::Summary,
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
        let (status, why) = crate::fleet::drill::verdict(s, v, now);
        if let Some(why) = why {
            problems.push(format!(
                "{}: policy {} volume {}: {why}",
                word(status),
                p.id,
                v.volume_id
            ));
        }
        worst = worst.max(status);
    }
    worst
}

/// The monitoring plugin: the worst unit's status (a refused policy is CRITICAL, a policy or
/// volume that could not be read UNKNOWN), one line per problem, perfdata per volume.
async fn check(f: &Fleet<'_>, a: PolicyRunArgs) -> u8 {
    let (g, env) = (f.g, &f.env);
    let word = |s: u8| ["OK", "WARNING", "CRITICAL", "UNKNOWN"][usize::from(s.min(3))];
    let loaded = match load(g, &a, env) {
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
    let plan = run::plan_all(loaded.compiled.clone(), targets, now).await;
    let mut report = run::report_of_plan(&plan, now);
    run::add_drill_summaries(&mut report, &loaded.compiled);
    let mut worst = 0u8;
    let mut problems = Vec::new();
    let mut perf = Vec::new();
    let (mut volumes, mut fresh) = (0, 0);
    for p in &report.policies {
        let Some(c) = loaded.compiled.iter().find(|c| c.policy.id == p.id) else {
            continue;
        };
        if let Some(e) = &p.error {
            worst = worst.max(3);
            problems.push(format!("UNKNOWN: policy {}: {e}", p.id));
            continue;
        }
        if let Some(why) = &p.refused {
            worst = worst.max(2);
            problems.push(format!("CRITICAL: policy {}: {why}", p.id));
        }
        let (warn, crit) = c.thresholds(now);
        for u in &p.units {
            volumes += 1;
            let s = run::freshness(c, u, now);
            let status = if s == 3 { 3 } else { s };
            worst = worst.max(status);
            // Fresh by age, WARNING only for a future-dated snapshot (its own line below).
            let fresh_by_age = u.newest.is_some_and(|t| now.duration_since(t) <= warn);
            match (status, u.newest) {
                (0, _) => fresh += 1,
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
        }
        if let Some(s) = &p.drill {
            worst = worst.max(drill_problems(p, s, now, &mut problems));
        }
        worst = worst.max(super::copies::problems(p, c, now, &mut problems));
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
