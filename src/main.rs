//! The `snapctl` binary: parse → run → render → exit code. Errors print as one line plus an optional
//! hint line on stderr.

use clap::Parser;

use snapctl::cli::Cli;
use snapctl::config::Env;
use snapctl::error::ExitCode;
use snapctl::text::{MAX_LINE, one_line};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(ExitCode::Failure as u8);
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
