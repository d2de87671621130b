//! Files written atomically: the report, the metrics, saved plans, the drill state and the run
//! history. Below every other fleet module: it knows no plan, run or report.

use std::path::Path;

use crate::error::{Error, Result};

/// Write `text` to `path` atomically: a temporary file with a random name, created exclusively
/// beside it (never through a planted file or link), given `mode`, synced, then renamed over
/// `path`, so a reader (the textfile collector, a monitoring check) never sees half a file and a
/// shared directory cannot redirect the write. Reports and plans are `0o600`, metrics `0o644`.
pub fn write_atomically(path: &Path, text: &str, mode: u32) -> Result<()> {
    write_atomically_with(path, mode, &mut |w| w.write_all(text.as_bytes()))
}

/// [`write_atomically`], the content written by `write` (a report serialised as it is written).
pub fn write_atomically_with(
    path: &Path,
    mode: u32,
    write: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<()> {
    let io = |source| Error::Io {
        action: format!("cannot write {}", path.display()),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{:016x}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        fastrand::u64(..)
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .mode(mode)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(io)?;
    let written = (|| {
        #[cfg(unix)]
        {
            // The mode asked for, whatever the umask.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        write(&mut file)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
