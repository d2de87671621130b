//! A policy's `pre` and `post` hooks: `sh -c COMMAND` (`cmd /C` on Windows) with the unit in its
//! environment. A policy file is code: its hooks run as the user running snapctl, with a minimal
//! environment (no credentials unless the policy passes them by name).
//!
//! Each hook runs in a process group of its own, so what it starts in the background is killed
//! with it when it outlives `hook_timeout`, when the run is interrupted a second time, or when the
//! run drops it. A hook that exits leaves its background processes alone (that is how a freeze
//! schedules its own thaw). Its output is bounded: the last [`OUTPUT_CAP`] bytes of each stream
//! are kept, and what is left in the pipes after it exits is not waited for.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;

/// Bytes kept of each of a hook's output streams (the last ones).
pub const OUTPUT_CAP: usize = 64 * 1024;

/// How long the pipes are read after the hook exits (a background child may hold them open).
const DRAIN: Duration = Duration::from_millis(200);

/// The tail of one output stream, read as it comes.
struct Tail {
    kept: Arc<Mutex<Vec<u8>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Tail {
    fn read<R: tokio::io::AsyncRead + Unpin + Send + 'static>(pipe: Option<R>) -> Tail {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let task = pipe.map(|mut pipe| {
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let mut kept = kept.lock().expect("hook output");
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > OUTPUT_CAP {
                        let extra = kept.len() - OUTPUT_CAP;
                        kept.drain(..extra);
                    }
                }
            })
        });
        Tail { kept, task }
    }

    /// What was kept, once the pipe closed or [`DRAIN`] passed.
    async fn finish(mut self) -> Vec<u8> {
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(DRAIN, task).await.is_err() {
                abort.abort();
            }
        }
        std::mem::take(&mut *self.kept.lock().expect("hook output"))
    }
}

/// Variables a hook inherits from snapctl's environment: nothing secret, only what a shell script
/// needs to run as it would from a terminal. Everything else (every cloud's credentials) stays out
/// unless the policy lists it in `hook_env`.
fn inherited(name: &str) -> bool {
    matches!(name, "PATH" | "HOME" | "LANG" | "TZ") || name.starts_with("LC_")
}

/// Run a hook; it fails on a non-zero exit, or when it outlives `timeout` (then its whole
/// process group is killed). The error carries the end of what it wrote to stderr (else stdout).
///
/// Its environment is `env` (the unit's `SNAPCTL_*` values, control characters removed), the
/// harmless variables of snapctl's own (`PATH`, `HOME`, `LANG`, `LC_*`, `TZ`), and the ones named
/// in `pass` (the policy's `hook_env`), nothing else.
pub async fn execute(
    command: &str,
    env: &[(&str, String)],
    pass: &[String],
    timeout: Duration,
) -> std::result::Result<(), String> {
    let mut cmd = if cfg!(windows) {
        let mut c = tokio::process::Command::new("cmd");
        c.arg("/C").arg(command);
        c
    } else {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c").arg(command);
        c
    };
    cmd.env_clear()
        .envs(std::env::vars_os().filter(|(k, _)| {
            k.to_str()
                .is_some_and(|k| inherited(k) || pass.iter().any(|p| p == k))
        }))
        .envs(env.iter().map(|(k, v)| (*k, crate::text::flatten(v))))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start hook {command:?}: {e}"))?;
    let mut group = crate::interrupt::ChildGroup::new(child.id());
    let out = Tail::read(child.stdout.take());
    let err = Tail::read(child.stderr.take());
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Err(_) => {
            group.kill();
            return Err(format!(
                "hook {command:?} still running after {}: killed with its process group",
                crate::error::humanize(timeout)
            ));
        }
        Ok(Err(e)) => {
            group.kill();
            return Err(format!("hook {command:?}: {e}"));
        }
        Ok(Ok(status)) => status,
    };
    group.release();
    let (out, err) = (out.finish().await, err.finish().await);
    if status.success() {
        return Ok(());
    }
    let said = if err.iter().any(|b| !b.is_ascii_whitespace()) {
        err
    } else {
        out
    };
    let said = String::from_utf8_lossy(&said);
    // The last line is where a script says why it failed.
    let last = said.trim().lines().last().unwrap_or("");
    let last = crate::text::one_line(last.trim(), 200);
    Err(format!(
        "hook {command:?} failed ({status}){}",
        if last.is_empty() {
            String::new()
        } else {
            format!(": {last}")
        }
    ))
}
