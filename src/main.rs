//! The `snapctl` binary: parse → run → render → exit code. Errors print as one line plus an optional
//! hint line on stderr.

use clap::{CommandFactory, Parser};

use snapctl::commands::cli::Cli;
use snapctl::config::Env;
use snapctl::error::Exit;
use snapctl::text::{MAX_LINE, one_line};

fn main() -> std::process::ExitCode {
    tune_allocator();
    // `COMPLETE=bash snapctl` prints the dynamic completion script; with it installed, the shell
    // calls back here to complete values such as profile names. Does nothing otherwise.
    clap_complete::CompleteEnv::with_factory(snapctl::commands::complete::command).complete();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(Exit::Failure as u8);
        }
    };
    match runtime.block_on(snapctl::commands::run(cli, Env::capture())) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(err) => {
            // Server text (messages, codes, Location headers) never reaches the terminal raw.
            eprintln!("error: {}", one_line(&err.to_string(), MAX_LINE));
            if let Some(hint) = err.hint() {
                eprintln!("  hint: {}", one_line(&hint, MAX_LINE));
            }
            std::process::ExitCode::from(err.exit_code() as u8)
        }
    }
}

/// A command line clap refuses. `--help` and `--version` print and exit 0; other usage errors exit
/// 2, except under `check`, a monitoring plugin, where anything that keeps it from judging is
/// UNKNOWN (exit 3) with a status line on stdout, as the plugin guidelines want.
fn usage_error(e: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    {
        e.exit();
    }
    let under_check = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(std::env::args_os())
        .is_ok_and(|m| m.subcommand_name() == Some("check"));
    if !under_check {
        e.exit();
    }
    let rendered = e.render().to_string();
    let first = rendered
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ");
    println!("SNAPCTL UNKNOWN: {}", one_line(first, MAX_LINE));
    eprint!("{rendered}");
    std::process::ExitCode::from(3)
}

/// glibc's allocator, left to itself, keeps what a long fleet run frees. Its mmap threshold
/// follows the largest block freed (up to 32 MiB), so once a big listing page or outcome vector
/// is freed, later ones land in the heap between long-lived outcomes, and the holes they leave
/// are never returned; and every thread (two workers, up to some thirty lock threads) may get an
/// arena of its own. With the threshold fixed at 128 KiB (glibc's default starting value, no
/// longer moving) and two arenas, an `apply` of 10,000 + 10,000 volumes peaks at about half the
/// memory (`MODE=memory scripts/fleet-bench.sh`; docs/reliability.md). A user who tunes glibc
/// (`MALLOC_*`, `GLIBC_TUNABLES`) keeps their own settings; musl and other platforms keep their
/// allocator's defaults.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    let tuned_by_user = std::env::vars_os().any(|(k, _)| {
        k.to_str()
            .is_some_and(|k| k.starts_with("MALLOC_") || k == "GLIBC_TUNABLES")
    });
    if tuned_by_user {
        return;
    }
    // SAFETY: mallopt only sets two allocator parameters and is called first thing in main,
    // before any other thread exists or allocates. A refused value (return 0) leaves glibc's
    // default, which is only slower to give memory back.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}
