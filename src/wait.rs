//! Polling an [`Operation`] to a terminal state: the loop, the deadline and the progress display for
//! every provider.
//!
//! Providers answer one poll step ([`Provider::poll`]); this module decides when to ask again and when
//! to give up. The spinner goes to stderr only when stderr is a terminal and `-q` is not set, so
//! scripts and cron see nothing but the result.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Error, Result};
use crate::model::{Operation, Progress};
use crate::provider::Provider;

/// How to wait.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// Give up after this long (exit 7).
    pub timeout: Duration,
    /// Pause between polls.
    pub interval: Duration,
    /// Draw a spinner on stderr.
    pub show_progress: bool,
}

impl WaitOptions {
    /// Progress is shown when stderr is a terminal and the user did not ask for quiet.
    pub fn new(timeout: Duration, interval: Duration, quiet: bool) -> Self {
        WaitOptions {
            timeout,
            interval,
            show_progress: !quiet && std::io::stderr().is_terminal(),
        }
    }
}

/// Poll `op` until it is done, failed, or the deadline passes.
pub async fn wait_for(provider: &dyn Provider, op: &Operation, opts: &WaitOptions) -> Result<()> {
    if *op == Operation::Done {
        return Ok(());
    }
    let what = op.describe();
    let started = Instant::now();
    let bar = opts.show_progress.then(|| spinner(&what));
    let mut last_state;
    let result = loop {
        match provider.poll(op).await {
            Ok(Progress::Done) => break Ok(()),
            Ok(Progress::Failed { state, message }) => {
                break Err(Error::OperationFailed {
                    what: what.clone(),
                    state,
                    message,
                });
            }
            Ok(Progress::Pending { state, percent }) => {
                if let Some(bar) = &bar {
                    bar.set_message(crate::text::one_line(
                        &format!("waiting for {what}: {state}"),
                        200,
                    ));
                    if let Some(p) = percent {
                        // The API reports progress: show a real percentage bar from now on.
                        if bar.length() != Some(100) {
                            bar.set_length(100);
                            bar.set_style(
                                ProgressStyle::with_template(
                                    "{spinner} {msg} [{bar:30}] {pos:>3}% [{elapsed}]",
                                )
                                .expect("static template is valid")
                                .progress_chars("=> "),
                            );
                        }
                        bar.set_position(u64::from(p.min(100)));
                    }
                }
                last_state = state;
            }
            Err(e) => break Err(e),
        }
        if crate::interrupt::requested() {
            break Err(Error::Interrupted {
                done: format!(
                    "stopped waiting for {what} (last state: {last_state}); it goes on server-side"
                ),
            });
        }
        let elapsed = started.elapsed();
        if elapsed >= opts.timeout {
            break Err(Error::Timeout {
                what: what.clone(),
                after: opts.timeout,
                last_state,
            });
        }
        tokio::time::sleep(opts.interval.min(opts.timeout - elapsed)).await;
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
}

fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .expect("static template is valid"),
    );
    bar.set_message(format!("waiting for {what}"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
