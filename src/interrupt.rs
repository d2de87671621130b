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

tokio::task_local! {
    static FINISHING: ();
}

/// Run `f` as the rest of a change already made (OUTSCALE's tags after its create): its requests
/// are sent even after an interrupt, so the change is not left half done.
pub async fn finishing<F: std::future::Future>(f: F) -> F::Output {
    FINISHING.scope((), f).await
}

/// Whether this task runs inside [`finishing`].
pub fn is_finishing() -> bool {
    FINISHING.try_with(|_| ()).is_ok()
}

/// Whether new requests must not be sent: an interrupt arrived, outside [`finishing`].
pub fn stops_requests() -> bool {
    requested() && !is_finishing()
}

static ARRIVED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Whether an interrupt arrived: start no new change.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Returns once an interrupt arrived (at once if one already has): what a read in flight races.
pub async fn arrived() {
    loop {
        let notified = ARRIVED.notified();
        if requested() {
            return;
        }
        notified.await;
    }
}

/// Stop as a first signal does (nothing new starts; the command reports what was done and exits
/// 130), for a reason found inside the process: a lease another runner took over.
pub fn stop() {
    REQUESTED.store(true, Ordering::SeqCst);
    ARRIVED.notify_waiters();
}

/// Listen for SIGINT and SIGTERM on the current runtime.
pub fn install() {
    tokio::spawn(async {
        loop {
            wait_for_signal().await;
            if REQUESTED.swap(true, Ordering::SeqCst) {
                eprintln!("snapctl: interrupted again; exiting now");
                kill_groups();
                std::process::exit(130);
            }
            ARRIVED.notify_waiters();
            eprintln!(
                "snapctl: {}",
                NOTICE.get().copied().unwrap_or(
                    "interrupted; sending nothing more, finishing the changes in flight (interrupt again to exit now)"
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

/// Process groups of running hooks, killed on the way out when a second signal ends the process
/// at once (no destructor runs then).
static GROUPS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

fn kill_groups() {
    let groups = GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
    for pid in groups {
        kill_group(pid);
    }
}

#[cfg(unix)]
fn kill_group(pid: u32) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: u32) {}

/// A child running in a process group of its own (a hook): the group is killed with
/// [`ChildGroup::kill`], when this is dropped while still armed (the run let go of the hook), and
/// when a second signal ends snapctl. [`ChildGroup::release`] lets it be once the child exited.
#[derive(Debug)]
pub struct ChildGroup(Option<u32>);

impl ChildGroup {
    /// Watch the group led by `pid` (the child's pid: it was started with `process_group(0)`).
    pub fn new(pid: Option<u32>) -> ChildGroup {
        if let (Some(pid), Ok(mut g)) = (pid, GROUPS.lock()) {
            g.push(pid);
        }
        ChildGroup(pid)
    }

    fn forget(&mut self) -> Option<u32> {
        let pid = self.0.take()?;
        if let Ok(mut g) = GROUPS.lock() {
            g.retain(|p| *p != pid);
        }
        Some(pid)
    }

    /// Kill every process of the group.
    pub fn kill(&mut self) {
        if let Some(pid) = self.forget() {
            kill_group(pid);
        }
    }

    /// The child exited: what it left running in the background is its own.
    pub fn release(&mut self) {
        self.forget();
    }
}

impl Drop for ChildGroup {
    fn drop(&mut self) {
        self.kill();
    }
}
