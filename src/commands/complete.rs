//! Completion values read from the API: volume and snapshot ids, for the shell's dynamic
//! completion (`COMPLETE=bash snapctl`). The provider, profile, service and region come from the
//! command line being completed; endpoints only from profiles, native files and the environment,
//! never from the line (`--endpoint`, `--volume-endpoint`, `--cacert`, `--allow-http` and
//! `--insecure` typed there are ignored: completion authenticates); everything runs under a
//! deadline (`SNAPCTL_COMPLETE_TIMEOUT`, default 2s), after which nothing is offered, so a slow or
//! unreachable API never blocks the shell. Nothing is printed to the terminal.

use std::ffi::OsStr;
use std::time::Duration;

use clap::Parser;
use clap_complete::engine::CompletionCandidate;

use crate::commands::cli::Cli;
use crate::config::Env;

const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);

/// The command tree with these completers on every volume and snapshot argument (`--volume`,
/// `--snapshot`, `volume show ID`, `snapshot show|delete|hold|update|share|unshare|export ID`).
/// Attached here rather than in `cli`, which stays free of I/O.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    attach(Cli::command(), "")
}

fn attach(cmd: clap::Command, parent: &str) -> clap::Command {
    use clap_complete::engine::ArgValueCompleter;
    let name = cmd.get_name().to_string();
    let cmd = cmd.mut_args(|a| match (a.get_id().as_str(), parent) {
        ("volume" | "volumes", _) | ("id", "volume") => a.add(ArgValueCompleter::new(volumes)),
        ("snapshot" | "ids", _) | ("id", "snapshot") => a.add(ArgValueCompleter::new(snapshots)),
        _ => a,
    });
    cmd.mut_subcommands(|sub| attach(sub, &name))
}

/// The words of the command line being completed: what the shell passes after `--`.
fn line() -> Vec<String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].to_vec(),
        None => vec![],
    }
}

/// `--flag VALUE` or `--flag=VALUE` (or `-p VALUE`) in `words`.
fn value_of(words: &[String], names: &[&str]) -> Option<String> {
    for (i, w) in words.iter().enumerate() {
        for n in names {
            if w == n {
                return words.get(i + 1).cloned();
            }
            if let Some(v) = w.strip_prefix(&format!("{n}=")) {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// The global options of the line being completed, parsed as clap parses them (environment
/// defaults included), on a command that needs nothing else.
fn global(words: &[String]) -> Option<crate::commands::cli::Global> {
    let mut argv = vec!["snapctl".to_string()];
    for (names, flag) in [
        (&["-p", "--provider"][..], "--provider"),
        (&["--profile"][..], "--profile"),
        (&["--config"][..], "--config"),
        (&["--service"][..], "--service"),
        (&["--region"][..], "--region"),
    ] {
        if let Some(v) = value_of(words, names) {
            argv.push(flag.to_string());
            argv.push(v);
        }
    }
    // Never an endpoint, a CA or a transport relaxation from the line being typed: completion
    // authenticates, and a half-typed `--endpoint` must not receive a profile's credentials.
    // Endpoints come from profiles, native files and the environment only.
    argv.push("providers".into());
    Cli::try_parse_from(argv).ok().map(|c| c.global)
}

fn deadline(env: &Env) -> Duration {
    env.var("SNAPCTL_COMPLETE_TIMEOUT")
        .and_then(|t| crate::config::parse_duration(t).ok())
        .unwrap_or(DEFAULT_DEADLINE)
}

/// Run `ask` against the provider the line names, within the deadline; empty on any failure.
fn ask<F>(ask: F) -> Vec<CompletionCandidate>
where
    F: for<'a> FnOnce(
            &'a dyn crate::provider::Provider,
            Vec<String>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Vec<CompletionCandidate>> + Send + 'a>,
        > + Send
        + 'static,
{
    let words = line();
    let Some(g) = global(&words) else {
        return vec![];
    };
    let env = Env::capture();
    let limit = deadline(&env);
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return vec![];
    };
    crate::connect::silence_warnings();
    rt.block_on(async move {
        let work = async {
            let c = crate::commands::connect(&g, g.opts(), env, |_| Ok(()))
                .await
                .ok()?;
            Some(ask(c.provider.as_ref(), words).await)
        };
        tokio::time::timeout(limit, work)
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    })
}

/// A candidate the shell may insert: no control, space or bidi character (server text).
fn clean(id: &str) -> bool {
    !id.chars().any(|c| c.is_control() || c.is_whitespace()) && crate::text::flatten(id) == id
}

/// Volume ids (with their names as help).
pub fn volumes(current: &OsStr) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy().to_string();
    ask(move |p, _| {
        Box::pin(async move {
            p.list_volumes()
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|v| v.id.starts_with(&prefix) && clean(&v.id))
                .map(|v| {
                    CompletionCandidate::new(v.id)
                        .help(v.name.map(|n| crate::text::flatten(&n).into()))
                })
                .collect()
        })
    })
}

/// Snapshot ids (of the `--volume` on the line, else every volume's), names as help.
pub fn snapshots(current: &OsStr) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy().to_string();
    ask(move |p, words| {
        Box::pin(async move {
            let volume = value_of(&words, &["--volume"]);
            p.list_snapshots(volume.as_deref())
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|s| s.id.starts_with(&prefix) && clean(&s.id))
                .map(|s| {
                    CompletionCandidate::new(s.id)
                        .help(s.name.map(|n| crate::text::flatten(&n).into()))
                })
                .collect()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_with_controls_are_dropped() {
        assert!(clean("vol-0a1b2c3d"));
        assert!(clean("6b1e1f3a-0000-4000-8000-000000000000"));
        for bad in [
            "vol-1\nSNAPCTL OK",
            "vol-1 ; rm",
            "vol-\u{1b}[2J",
            "vol-\u{202e}1",
        ] {
            assert!(!clean(bad), "{bad:?}");
        }
    }
}
