//! Per-volume run locks, so two overlapping cron runs never act on the same volume.
//!
//! Kernel file locks (`flock` through `std::fs::File::try_lock`): the kernel releases them when the
//! holding process dies, so a lock can never go stale. The file holds the holder's pid for the error
//! message; its presence alone means nothing. Locks live in `$SNAPCTL_LOCK_DIR`, else
//! `$XDG_RUNTIME_DIR/snapctl/locks`, else the user's cache directory.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::Env;
use crate::error::{Error, Result};

/// A held lock; released on drop (and by the kernel if the process dies).
#[derive(Debug)]
pub struct VolumeLock {
    file: File,
    path: PathBuf,
}

impl VolumeLock {
    /// Where this lock lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for VolumeLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// The lock directory for this environment.
pub fn lock_dir(env: &Env) -> PathBuf {
    if let Some(dir) = env.var("SNAPCTL_LOCK_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = env.var("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("snapctl").join("locks");
    }
    use etcetera::BaseStrategy;
    match etcetera::choose_base_strategy() {
        Ok(s) => s.cache_dir().join("snapctl").join("locks"),
        Err(_) => std::env::temp_dir().join("snapctl-locks"),
    }
}

/// A file name safe on every filesystem for `(provider, scope, volume)`.
fn file_name(parts: &[&str]) -> String {
    let mut name: String = parts
        .join("__")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    name.truncate(200);
    name.push_str(".lock");
    name
}

/// Take the lock for one volume, waiting up to `wait` (zero: fail at once with exit 8).
pub fn acquire(
    dir: &Path,
    provider: &str,
    scope: &str,
    volume: &str,
    wait: Duration,
) -> Result<VolumeLock> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        action: format!("cannot create the lock directory {}", dir.display()),
        source,
    })?;
    let path = dir.join(file_name(&[provider, scope, volume]));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| Error::Io {
            action: format!("cannot open the lock file {}", path.display()),
            source,
        })?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(100).min(wait));
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Locked {
                    path: path.display().to_string(),
                    holder: if holder.is_empty() {
                        "unknown".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(Error::Io {
                    action: format!("cannot lock {}", path.display()),
                    source,
                });
            }
        }
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "{}", std::process::id());
    let _ = file.flush();
    Ok(VolumeLock { file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_volume_fails_with_the_holder_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = acquire(dir.path(), "ovh-efs", "svc", "vol/1", Duration::ZERO).expect("first");
        let err = acquire(dir.path(), "ovh-efs", "svc", "vol/1", Duration::ZERO).unwrap_err();
        match &err {
            Error::Locked { holder, .. } => assert_eq!(holder, &std::process::id().to_string()),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(err.exit_code(), crate::error::ExitCode::Locked);
        // Another volume is independent.
        acquire(dir.path(), "ovh-efs", "svc", "vol/2", Duration::ZERO).expect("other volume");
        drop(first);
        acquire(dir.path(), "ovh-efs", "svc", "vol/1", Duration::ZERO).expect("released");
    }

    #[test]
    fn lock_wait_takes_the_lock_once_the_holder_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held =
            acquire(dir.path(), "outscale", "eu-west-2", "vol-1", Duration::ZERO).expect("first");
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(held);
        });
        let started = std::time::Instant::now();
        acquire(
            dir.path(),
            "outscale",
            "eu-west-2",
            "vol-1",
            Duration::from_secs(5),
        )
        .expect("taken after the wait");
        assert!(started.elapsed() >= Duration::from_millis(150));
        releaser.join().expect("thread");
    }

    #[test]
    fn file_names_cannot_escape_the_directory() {
        let name = file_name(&["ovh-efs", "../..", "a/b\\c"]);
        assert!(!name.contains('/') && !name.contains('\\'), "{name}");
    }
}
