//! SIGINT/SIGTERM handling for batches: the first signal stops new mutations and waits, lets
//! requests in flight finish (or time out), and makes the command report what was and was not done,
//! then exit 130. A second signal exits at once.
//!
//! Signals are process-wide, so the flag is too; everything else reads it through [`requested`].

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static NOTICE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// What to say on the first signal, for commands that are not batches (the emulator).
pub fn set_notice(notice: &'static str) {
    let _ = NOTICE.set(notice);
}

/// Whether an interrupt arrived: start no new change.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Listen for SIGINT and SIGTERM on the current runtime.
pub fn install() {
    tokio::spawn(async {
        loop {
            wait_for_signal().await;
            if REQUESTED.swap(true, Ordering::SeqCst) {
                eprintln!("snapctl: interrupted again; exiting now");
                std::process::exit(130);
            }
            eprintln!(
                "snapctl: {}",
                NOTICE.get().copied().unwrap_or(
                    "interrupted; finishing the requests in flight and starting nothing new (interrupt again to exit now)"
                )
            );
        }
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
