//! `policy …`: the policy file, one provider connection per distinct account in it (policies on
//! the same account share its rate limit), then the fleet engine. Here: loading, connecting,
//! dispatch, `validate` and `plan`'s outcome; one file per other command (`apply`, `check`,
//! `orphans` and `adopt`, `report`), and `render` (with `copies`) for what plan and apply print.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::*;
pub(super) mod args;
use crate::engine::Target;
use crate::fleet::{self, Compiled, FleetPlan, PLAN_SCHEMA, RunReport};
pub use args::{PolicyCmd, PolicyRunArgs};

mod apply;
mod check;
mod copies;
mod orphans;
mod render;
mod report;
mod restore;

use render::{counted, flat, render_plan, render_report};

/// Default `lease_ttl`: how long an apply's lease in the state store lasts unless renewed.
const DEFAULT_LEASE_TTL_SECS: u64 = 60;

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
    /// The file's state store (`state = "s3://…"`), and how long an apply's lease there lasts.
    store: Option<Arc<crate::store::S3Store>>,
    lease_ttl: std::time::Duration,
}
/// The policy file, checked, with every `profile` it names defined in the profiles file.
/// The profiles file is the one every other command reads: `--config` (or `SNAPCTL_CONFIG`,
/// which clap reads into it), else the default path.
pub(super) fn load_checked(
    file: &std::path::Path,
    config: Option<&std::path::Path>,
    env: &Env,
) -> Result<crate::fleet::Checked> {
    let mut warnings = Vec::new();
    let (names, source) = match crate::config::load_config_file(config, env, &mut warnings) {
        Ok((f, path)) => (
            f.profiles
                .iter()
                .map(|(k, p)| {
                    (
                        k.clone(),
                        p.endpoint.clone(),
                        p.provider.and_then(crate::config::ProfileProvider::cloud),
                    )
                })
                .collect::<Vec<_>>(),
            path.map(|p| p.display().to_string())
                .unwrap_or_else(|| "the profiles file (there is none)".into()),
        ),
        // The profiles file's own error is reported when a policy connects; but a policy
        // that names a profile cannot be valid without a file to find it in.
        Err(e) => {
            let checked = crate::fleet::load_policy_file(file)?;
            if let Some(p) = checked.file.policy.iter().find(|p| p.profile.is_some()) {
                return Err(Error::Usage {
                    message: format!(
                        "{}: policy {:?} names profile {:?}, but the profiles file cannot be read: {e}",
                        file.display(),
                        p.id,
                        p.profile.as_deref().unwrap_or_default()
                    ),
                    hint: Some(
                        "create the profiles file (--config, SNAPCTL_CONFIG, or the default path; see docs/configuration.md)".into(),
                    ),
                });
            }
            return Ok(checked);
        }
    };
    crate::fleet::load_with_profiles(file, Some((&names, &source)))
}
/// Load, check and compile the policy file. With `state = "s3://…"`, pull the drill records from
/// the store first; `writes` (only `apply` writes records) also checks that the store honours
/// conditional writes before anything is done, so a read-only command never writes there.
async fn load(
    g: &crate::commands::cli::Global,
    a: &PolicyRunArgs,
    env: &Env,
    writes: bool,
) -> Result<Loaded> {
    let checked = load_checked(&a.file, g.config.as_deref(), env)?;
    let mut compiled = crate::fleet::compile(&checked)?;
    let mut shared = None;
    if let (Some(url), Some(profile)) = (&checked.file.state, &checked.file.state_profile) {
        let store = Arc::new(state_store(g, env, url, profile, a.at.is_some())?);
        shared = Some(store.clone());
        let names: Vec<String> = compiled
            .iter()
            .filter(|c| c.drill.is_some())
            .map(|c| format!("drill-{}.json", c.policy.id))
            .collect();
        let mirror = Arc::new(crate::store::Mirror::pull(store, &names, writes).await?);
        for c in &mut compiled {
            c.state_dir = Some(mirror.dir().to_path_buf());
            c.state_mirror = Some(mirror.clone());
        }
    }
    for c in &mut compiled {
        if c.drill.is_some() && c.state_dir.is_none() {
            c.state_dir = Some(crate::fleet::resolve_state_dir(None, env)?);
        }
    }
    // Where the run writes must be where only we (or root) decide.
    let outputs = [
        (checked.file.report_file.as_deref(), "report_file", false),
        (checked.file.metrics_file.as_deref(), "metrics_file", false),
        (checked.file.history_dir.as_deref(), "history_dir", true),
    ];
    for (path, what, is_dir) in outputs {
        if let Some(path) = path {
            crate::fleet::check_output_path(path, what, is_dir)?;
        }
    }
    for c in &compiled {
        if let (Some(dir), None) = (&c.state_dir, &c.state_mirror) {
            crate::fleet::check_output_path(dir, "state_dir", true)?;
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
        store: shared,
        lease_ttl: std::time::Duration::from_secs(
            checked
                .file
                .lease_ttl
                .as_deref()
                .map(crate::fleet::duration_secs)
                .transpose()
                .map_err(Error::usage)?
                .unwrap_or(DEFAULT_LEASE_TTL_SECS),
        ),
    })
}
/// The policy file's state store: `url` reached with the profile `name` (`provider = "s3"`),
/// whose keys go to its endpoint only. Under `--at` only a loopback store is reached.
fn state_store(
    g: &crate::commands::cli::Global,
    env: &Env,
    url: &str,
    name: &str,
    loopback_only: bool,
) -> Result<crate::store::S3Store> {
    let mut warnings = Vec::new();
    let (file, _) = crate::config::load_config_file(g.config.as_deref(), env, &mut warnings)?;
    let refuse = |why: &str| {
        Error::Config {
        message: format!("state_profile {name:?}: {why}"),
        hint: Some(
            "a state profile has provider = \"s3\", endpoint, region, access_key and secret_key (docs/fleet.md)".into(),
        ),
    }
    };
    let p = file
        .profiles
        .get(name)
        .ok_or_else(|| refuse("no such profile"))?;
    if p.provider != Some(crate::config::ProfileProvider::S3) {
        return Err(refuse("not a provider = \"s3\" profile"));
    }
    let endpoint = p.endpoint.as_deref().ok_or_else(|| refuse("no endpoint"))?;
    let endpoint = crate::config::base_url(
        endpoint,
        "state endpoint",
        "https://s3.gra.io.cloud.ovh.net",
    )?;
    let region = p.region.as_deref().ok_or_else(|| refuse("no region"))?;
    let (Some(ak), Some(sk)) = (p.access_key.as_deref(), p.secret_key.clone()) else {
        return Err(refuse("access_key and secret_key are needed"));
    };
    let http = crate::http::Http::new(crate::http::HttpConfig {
        allow_http: p.allow_http.unwrap_or(false),
        loopback_only,
        held: crate::http::process_ledger(),
        verbosity: g.verbose,
        ..crate::http::HttpConfig::default()
    })?;
    let url = crate::store::StateUrl::parse(url).map_err(Error::usage)?;
    Ok(crate::store::S3Store::new(
        Arc::new(http),
        endpoint,
        region,
        (ak, sk),
        url,
    ))
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
    g: &'a crate::commands::cli::Global,
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
pub(super) async fn run(g: &crate::commands::cli::Global, env: Env, cmd: PolicyCmd) -> Result<u8> {
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
    checked: &crate::fleet::Checked,
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
            (Some(s), _) => format!("every {}", crate::fleet::cadence_words(*s)),
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
pub(super) async fn run_counted(
    g: &crate::commands::cli::Global,
    env: Env,
    cmd: PolicyCmd,
) -> Result<u8> {
    let started = std::time::Instant::now();
    let f = Fleet {
        g,
        env,
        out: super::Out::new(g, false),
        sent: Default::default(),
    };
    let simulated = match &cmd {
        PolicyCmd::Plan(a) => a.run.at.is_some(),
        PolicyCmd::Apply(a) => a.run.at.is_some(),
        PolicyCmd::Check(a) => a.at.is_some(),
        PolicyCmd::Report(a) => a.run.at.is_some(),
        _ => false,
    };
    let reads = matches!(&cmd, PolicyCmd::Orphans(_) | PolicyCmd::Report(_));
    let mut outcome = f.out.finish(dispatch(&f, cmd).await);
    if reads && crate::interrupt::requested() && !matches!(outcome, Err(Error::Interrupted { .. }))
    {
        // Stopped by a signal: 130 on every command, whatever the listings it cut short say.
        outcome = Err(Error::Interrupted {
            done: "stopped by a signal: what is printed above is what was seen (or deleted) so far"
                .into(),
        });
    }
    let refused = crate::http::loopback_refusals();
    if simulated && refused > 0 && !matches!(outcome, Err(Error::Interrupted { .. })) {
        // Nothing went to those hosts: the command was misused, not partly done.
        outcome = Err(Error::Usage {
            message: format!(
                "--at simulates another time and acts only against a loopback endpoint (the emulator): {refused} request{} to other hosts refused, nothing was sent to them",
                if refused == 1 { " was" } else { "s were" }
            ),
            hint: Some(
                "drop --at to act now; plan what-ifs against the emulator (snapctl emulator)"
                    .into(),
            ),
        });
    }
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
            let loaded = load(g, &a.run, env, false).await?;
            let targets = connect_all(f, &loaded).await;
            let mut plan = fleet::plan_all(loaded.compiled.clone(), targets, at(&a.run)).await;
            if crate::interrupt::requested() {
                // A plan cut short is no plan: nothing printed or saved (a line per volume
                // not listed would say nothing more).
                return Err(Error::Interrupted {
                    done:
                        "the plan was not finished: nothing was printed or saved, nothing changed"
                            .into(),
                });
            }
            plan.file_sha256 = Some(loaded.file_sha256.clone());
            if let Some(out) = &a.out {
                fleet::write_atomically_with(out, 0o600, &mut |w| {
                    crate::output::write_json(w, &plan)
                })?;
            }
            match g.output {
                Format::Json => f.out.json(&plan)?,
                _ => f.print(&render_plan(&plan))?,
            }
            plan_outcome(&plan, a.detailed_exitcode)
        }
        PolicyCmd::Apply(a) => apply::apply(f, a).await,
        PolicyCmd::Check(a) => Ok(check::check(f, a).await),
        PolicyCmd::Orphans(a) => orphans::orphans(f, a).await,
        PolicyCmd::Adopt(a) => orphans::adopt(f, a).await,
        PolicyCmd::Report(a) => report::report(f, a).await,
        PolicyCmd::Restore(a) => restore::restore(f, a).await,
        PolicyCmd::Copies(a) => copies::list(f, a).await,
    }
}
fn file_only(file: &std::path::Path, policies: Vec<String>) -> PolicyRunArgs {
    PolicyRunArgs {
        file: file.to_path_buf(),
        policies,
        at: None,
    }
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
