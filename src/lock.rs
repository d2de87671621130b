//! Per-volume run locks, so two overlapping cron runs never act on the same volume.
//!
//! Kernel file locks (`flock` through `std::fs::File::try_lock`): the kernel releases them when the
//! holding process dies, so a lock can never go stale. The file holds the holder's pid for the error
//! message; its presence alone means nothing. Locks live in `$SNAPCTL_LOCK_DIR`, else
//! `$XDG_RUNTIME_DIR/snapctl/locks`, else the user's cache directory, never in a directory shared
//! with other users.
//!
//! Another local user must not be able to use a lock against us: the directory is created `0700`
//! and must be ours and not writable by group or others; lock files are opened without following
//! symbolic links, created `0600`, and must be regular files of ours before anything is written.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::Env;
use crate::error::{Error, Result};

/// A held lock; released on drop (and by the kernel if the process dies).
///
/// The file also says when a holder last changed the volume: `changing` (second line) from
/// before its first mutation, replaced by `changed <time>` when it lets go. A run that listed the
/// volume before that time (or finds `changing`: the holder died mid-change) knows its listing is
/// stale and lists again under the lock.
#[derive(Debug)]
pub struct VolumeLock {
    file: File,
    path: PathBuf,
    changed_at: Option<jiff::Timestamp>,
    marked: bool,
}

impl VolumeLock {
    /// Where this lock lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// When an earlier holder last changed the volume, as the lock file says (now, when one
    /// died while changing it).
    pub fn changed_at(&self) -> Option<jiff::Timestamp> {
        self.changed_at
    }

    /// Record, before the first mutation of this holding, that the volume is being changed.
    pub fn mark_changed(&mut self) {
        if !self.marked {
            self.marked = true;
            record(&mut self.file, Some("changing".into()));
        }
    }
}

impl Drop for VolumeLock {
    fn drop(&mut self) {
        if self.marked {
            let now = jiff::Timestamp::now();
            record(&mut self.file, Some(format!("changed {now}")));
        }
        let _ = self.file.unlock();
    }
}

/// Write the holder's pid and what it says about changes into the (locked) file.
fn record(file: &mut File, change: Option<String>) {
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = match change {
        Some(c) => write!(file, "{}\n{c}\n", std::process::id()),
        None => write!(file, "{}", std::process::id()),
    };
    let _ = file.flush();
}

/// The change an earlier holder recorded: its time, or now for one it never finished.
fn recorded_change(text: &str) -> Option<(jiff::Timestamp, String)> {
    text.lines().skip(1).find_map(|l| {
        if l.trim() == "changing" {
            Some((jiff::Timestamp::now(), "changing".to_string()))
        } else {
            let t = l.strip_prefix("changed ")?.trim().parse().ok()?;
            Some((t, l.trim().to_string()))
        }
    })
}

/// The lock directory for this environment; there is no shared fallback (such as `/tmp`), where
/// anyone could pre-create a lock and hold it to block rotations.
pub fn lock_dir(env: &Env) -> Result<PathBuf> {
    if let Some(dir) = env.var("SNAPCTL_LOCK_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = env.var("XDG_RUNTIME_DIR") {
        return Ok(PathBuf::from(dir).join("snapctl").join("locks"));
    }
    use etcetera::BaseStrategy;
    etcetera::choose_base_strategy()
        .map(|s| s.cache_dir().join("snapctl").join("locks"))
        .map_err(|e| Error::Config {
            message: format!("cannot find a private directory for rotation locks: {e}"),
            hint: Some("set SNAPCTL_LOCK_DIR to a directory only you can write to".into()),
        })
}

/// Create the lock directory (`0700`) if needed, then check it is ours and not writable by group or
/// others, so no other user can plant or hold our locks.
fn ensure_private_dir(dir: &Path) -> Result<()> {
    private_dir(dir, "lock directory", "SNAPCTL_LOCK_DIR")
}

/// Create `dir` (`0700`) if needed, then check it is ours and not writable by group or others:
/// what snapctl keeps there (locks, drill state) is trusted, so nobody else may plant it. `what`
/// names the directory in messages, `variable` the setting that moves it.
pub fn private_dir(dir: &Path, what: &str, variable: &str) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| Error::Io {
        action: format!("cannot create the {what} {}", dir.display()),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = std::fs::metadata(dir).map_err(|source| Error::Io {
            action: format!("cannot inspect the {what} {}", dir.display()),
            source,
        })?;
        let me = rustix::process::geteuid().as_raw();
        let mode = meta.permissions().mode() & 0o777;
        let problem = if !meta.is_dir() {
            Some("it is not a directory".to_string())
        } else if meta.uid() != me {
            Some(format!(
                "it belongs to uid {}, not to you (uid {me})",
                meta.uid()
            ))
        } else if mode & 0o022 != 0 {
            Some(format!("group or others can write to it (mode {mode:03o})"))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(Error::Refused {
                reason: format!("refusing the {what} {}: {problem}", dir.display()),
                hint: Some(format!(
                    "point {variable} at a directory of yours, or run: chmod 700 {}",
                    dir.display()
                )),
            });
        }
    }
    Ok(())
}

/// Open (or create, `0600`) a lock file without following a symbolic link, and check it is a
/// regular file of ours before anything is written to it.
fn open_lock_file(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    let file = options.open(path).map_err(|source| {
        let symlink = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if symlink {
            Error::Refused {
                reason: format!(
                    "refusing the lock file {}: it is a symbolic link",
                    path.display()
                ),
                hint: Some(format!(
                    "someone may be trying to make snapctl overwrite another file; inspect and remove {}",
                    path.display()
                )),
            }
        } else {
            Error::Io {
                action: format!("cannot open the lock file {}", path.display()),
                source,
            }
        }
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata().map_err(|source| Error::Io {
            action: format!("cannot inspect the lock file {}", path.display()),
            source,
        })?;
        let me = rustix::process::geteuid().as_raw();
        if !meta.is_file() || meta.uid() != me {
            return Err(Error::Refused {
                reason: format!(
                    "refusing the lock file {}: it is not a regular file of yours",
                    path.display()
                ),
                hint: Some(format!("inspect and remove {}", path.display())),
            });
        }
    }
    Ok(file)
}

/// The lock scope of a file (a policy file's apply lock): a digest of its canonical path, so two
/// different paths never share a lock (`/x/a_b.toml` and `/x/a/b.toml` would, spelled out).
pub fn file_scope(path: &Path) -> String {
    use sha2::Digest;
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let digest = sha2::Sha256::digest(canonical.as_os_str().as_encoded_bytes());
    hex::encode(digest)[..32].to_string()
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

/// [`acquire`] from async code: the wait for the lock blocks, so it runs off the runtime.
pub async fn acquire_async(
    dir: &Path,
    provider: &str,
    scope: &str,
    volume: &str,
    wait: Duration,
) -> Result<VolumeLock> {
    let (dir, provider, scope, volume) = (
        dir.to_path_buf(),
        provider.to_string(),
        scope.to_string(),
        volume.to_string(),
    );
    tokio::task::spawn_blocking(move || acquire(&dir, &provider, &scope, &volume, wait))
        .await
        .map_err(|e| Error::Io {
            action: "cannot take the lock".into(),
            source: std::io::Error::other(e.to_string()),
        })?
}

/// Take the lock for one volume, waiting up to `wait` (zero: fail at once with exit 8).
pub fn acquire(
    dir: &Path,
    provider: &str,
    scope: &str,
    volume: &str,
    wait: Duration,
) -> Result<VolumeLock> {
    ensure_private_dir(dir)?;
    let path = dir.join(file_name(&[provider, scope, volume]));
    let mut file = open_lock_file(&path)?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if crate::interrupt::requested() => {
                return Err(Error::Interrupted {
                    done: format!("stopped waiting for the lock {}", path.display()),
                });
            }
            Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(100).min(wait));
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.lines().next().unwrap_or("").trim();
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
    let mut before = String::new();
    let _ = file.rewind();
    let _ = file.read_to_string(&mut before);
    let change = recorded_change(&before);
    // Kept for the next holder, `changing` included: only a holder that finishes a change
    // replaces it.
    record(&mut file, change.as_ref().map(|(_, line)| line.clone()));
    Ok(VolumeLock {
        file,
        path,
        changed_at: change.map(|(t, _)| t),
        marked: false,
    })
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
        assert_eq!(err.exit_code(), crate::error::Exit::Locked);
        // Another volume is independent.
        acquire(dir.path(), "ovh-efs", "svc", "vol/2", Duration::ZERO).expect("other volume");
        drop(first);
        acquire(dir.path(), "ovh-efs", "svc", "vol/1", Duration::ZERO).expect("released");
    }

    #[test]
    fn a_change_time_outlives_its_holder_and_the_pid_stays_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut first = acquire(dir.path(), "ovh-efs", "svc", "v", Duration::ZERO).expect("first");
        assert_eq!(first.changed_at(), None);
        first.mark_changed();
        let held = acquire(dir.path(), "ovh-efs", "svc", "v", Duration::ZERO).unwrap_err();
        match &held {
            Error::Locked { holder, .. } => assert_eq!(holder, &std::process::id().to_string()),
            other => panic!("unexpected {other:?}"),
        }
        let before = jiff::Timestamp::now();
        drop(first);
        let second = acquire(dir.path(), "ovh-efs", "svc", "v", Duration::ZERO).expect("second");
        let seen = second.changed_at().expect("the change is recorded");
        assert!(seen >= before, "the time it let go: {seen} < {before}");
        drop(second);
        // A holder that changes nothing keeps the last change time for the next one.
        let third = acquire(dir.path(), "ovh-efs", "svc", "v", Duration::ZERO).expect("third");
        assert_eq!(third.changed_at(), Some(seen));
        drop(third);
        // A holder that died mid-change (its file still says `changing`): changed just now.
        let path = dir.path().join(file_name(&["ovh-efs", "svc", "v"]));
        std::fs::write(&path, "1\nchanging\n").expect("write");
        let after = jiff::Timestamp::now();
        let fourth = acquire(dir.path(), "ovh-efs", "svc", "v", Duration::ZERO).expect("fourth");
        assert!(fourth.changed_at().expect("changing") >= after);
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

    #[cfg(unix)]
    #[test]
    fn a_symlinked_lock_file_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let locks = dir.path().join("locks");
        ensure_private_dir(&locks).expect("private dir");
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious").expect("write");
        let name = file_name(&["ovh-efs", "svc", "vol-1"]);
        std::os::unix::fs::symlink(&victim, locks.join(&name)).expect("symlink");
        let err = acquire(&locks, "ovh-efs", "svc", "vol-1", Duration::ZERO).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::Exit::Refused, "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
    }

    #[cfg(unix)]
    #[test]
    fn the_lock_directory_is_private_and_a_shared_one_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let locks = dir.path().join("a/b/locks");
        let lock = acquire(&locks, "outscale", "eu-west-2", "vol-1", Duration::ZERO).expect("lock");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&locks), 0o700);
        assert_eq!(mode(lock.path()), 0o600);
        drop(lock);
        std::fs::set_permissions(&locks, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
        let err = acquire(&locks, "outscale", "eu-west-2", "vol-1", Duration::ZERO).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::Exit::Refused, "{err}");
        assert!(
            err.to_string().contains("group or others can write"),
            "{err}"
        );
    }

    #[test]
    fn there_is_no_shared_fallback_directory() {
        let mut env = Env::default();
        env.vars
            .insert("XDG_RUNTIME_DIR".into(), "/run/user/1000".into());
        assert_eq!(
            lock_dir(&env).expect("dir"),
            PathBuf::from("/run/user/1000/snapctl/locks")
        );
        let dir = lock_dir(&Env::default()).expect("cache dir");
        assert!(
            !dir.starts_with(std::env::temp_dir()),
            "{} is shared",
            dir.display()
        );
    }

    #[test]
    fn two_files_never_share_a_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("a")).expect("dir");
        let (flat, nested) = (dir.path().join("a_b.toml"), dir.path().join("a/b.toml"));
        std::fs::write(&flat, "").expect("write");
        std::fs::write(&nested, "").expect("write");
        assert_ne!(file_scope(&flat), file_scope(&nested));
        let locks = dir.path().join("locks");
        let _one = acquire(
            &locks,
            "policy",
            &file_scope(&flat),
            "apply",
            Duration::ZERO,
        )
        .expect("first file");
        acquire(
            &locks,
            "policy",
            &file_scope(&nested),
            "apply",
            Duration::ZERO,
        )
        .expect("the other file has its own lock");
        assert_eq!(
            file_scope(&nested),
            file_scope(&dir.path().join("a/../a/b.toml"))
        );
    }

    #[test]
    fn file_names_cannot_escape_the_directory() {
        let name = file_name(&["ovh-efs", "../..", "a/b\\c"]);
        assert!(!name.contains('/') && !name.contains('\\'), "{name}");
    }
}
