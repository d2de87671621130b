//! The drill records of a run, mirrored: pulled from the store into a private local directory
//! before the run (so every reader works as with `state_dir`), pushed back as soon as the run
//! saves one, each write conditional on what was pulled or last pushed (a compare-and-swap: a
//! record another runner changed meanwhile is never overwritten; the push fails and says so).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Cond, Put, S3Store};
use crate::error::{Error, Result};

/// A local directory standing for the store's objects of one run.
pub struct Mirror {
    store: Arc<S3Store>,
    dir: tempfile::TempDir,
    /// Object name → the ETag it had when pulled or last pushed (`None`: it did not exist).
    etags: tokio::sync::Mutex<BTreeMap<String, Option<String>>>,
    /// Whether this run may write (checked by the probe at the pull): a read-only command's
    /// mirror refuses to push.
    writes: bool,
    /// Pushes wait here, in the order saves happened.
    tx: tokio::sync::mpsc::UnboundedSender<(String, Vec<u8>)>,
    pushed: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>>,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("store", &self.store.describe())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl Mirror {
    /// Pull `names` (each absent or an object) into a new private directory; a run that
    /// `writes` first checks that the store honours conditional writes.
    pub async fn pull(store: Arc<S3Store>, names: &[String], writes: bool) -> Result<Mirror> {
        if writes {
            store.probe().await?;
        }
        let dir = tempfile::Builder::new()
            .prefix("snapctl-state-")
            .tempdir()
            .map_err(|source| Error::Io {
                action: "cannot make a private directory for the state store's records".into(),
                source,
            })?;
        let mut etags = BTreeMap::new();
        for name in names {
            let got = store.get(name).await?;
            if let Some((bytes, _)) = &got {
                // The directory is private (0700): no one else reads or swaps what it holds.
                let path = dir.path().join(name);
                std::fs::write(&path, bytes).map_err(|source| Error::Io {
                    action: format!("cannot write {}", path.display()),
                    source,
                })?;
            }
            etags.insert(name.clone(), got.map(|(_, etag)| etag));
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        Ok(Mirror {
            store,
            dir,
            etags: tokio::sync::Mutex::new(etags),
            writes,
            tx,
            pushed: tokio::sync::Mutex::new(rx),
        })
    }

    /// The local directory (readers and writers use it as a `state_dir`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `s3://BUCKET/PREFIX`.
    pub fn describe(&self) -> String {
        self.store.describe()
    }

    /// Queue `path` (a file of the directory, just written) for the store. Sync, so it can be
    /// called where a record is saved; [`Mirror::push`] sends what is queued.
    pub fn saved(&self, path: &Path) {
        let (Some(name), Ok(bytes)) = (
            path.file_name().and_then(|n| n.to_str()),
            std::fs::read(path),
        ) else {
            return;
        };
        let _ = self.tx.send((name.to_string(), bytes));
    }

    /// Send every queued record, in order, each conditional on the ETag the mirror last knew
    /// (absent: a create). The first failure stops the push and says what was not saved.
    pub async fn push(&self) -> Result<()> {
        let mut rx = self.pushed.lock().await;
        let mut etags = self.etags.lock().await;
        while let Ok((name, bytes)) = rx.try_recv() {
            if !self.writes {
                return Err(Error::Refused {
                    reason: format!(
                        "{name}: this command only reads the state store {}",
                        self.describe()
                    ),
                    hint: None,
                });
            }
            let cond = match etags.get(&name).cloned().flatten() {
                Some(etag) => Cond::Match(etag),
                None => Cond::Absent,
            };
            match self.store.put(&name, &bytes, &cond).await? {
                Put::Written(etag) => {
                    etags.insert(name, Some(etag));
                }
                Put::Lost => {
                    return Err(Error::Refused {
                        reason: format!(
                            "{name} in {} was changed by another runner during this run: this run's record is not saved over it",
                            self.describe()
                        ),
                        hint: Some(
                            "two runners applied the file at once: run one at a time (the next run reads the other's record)".into(),
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The path of `name` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::EmulatorConfig;
    use crate::store::tests::emulator_store as store;

    /// What the mirror pushes is conditional on what it pulled: a record another runner wrote
    /// meanwhile (created or rewritten) is never overwritten, and the push says so.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_record_another_runner_changed_is_never_overwritten() {
        let emu = crate::emulator::start(EmulatorConfig::default())
            .await
            .expect("emulator");
        let name = "drill-p.json".to_string();
        let write = |m: &Mirror, text: &str| {
            std::fs::write(m.path(&name), text).expect("write");
            m.saved(&m.path(&name));
        };
        // Two runners pull while there is no record: the first create wins, the second loses.
        let a = Mirror::pull(store(&emu.base(), "t"), std::slice::from_ref(&name), true)
            .await
            .expect("pull");
        let b = Mirror::pull(store(&emu.base(), "t"), std::slice::from_ref(&name), true)
            .await
            .expect("pull");
        write(&a, "{\"by\":\"a\"}");
        a.push().await.expect("a creates it");
        write(&b, "{\"by\":\"b\"}");
        let lost = b.push().await.expect_err("b must not overwrite a's record");
        assert!(
            lost.to_string().contains("changed by another runner"),
            "{lost}"
        );
        // a goes on writing over its own record (compare-and-swap on its last ETag) …
        write(&a, "{\"by\":\"a\",\"n\":2}");
        a.push().await.expect("a rewrites its own record");
        // … until someone else rewrites it.
        let other = store(&emu.base(), "t");
        let (_, etag) = other.get(&name).await.expect("read").expect("there");
        assert!(matches!(
            other
                .put(&name, b"{\"by\":\"c\"}", &Cond::Match(etag))
                .await
                .expect("put"),
            Put::Written(_)
        ));
        write(&a, "{\"by\":\"a\",\"n\":3}");
        assert!(a.push().await.is_err());
        let (bytes, _) = other.get(&name).await.expect("read").expect("there");
        assert_eq!(bytes, b"{\"by\":\"c\"}", "the other runner's record stays");
        // A fresh pull sees it.
        let c = Mirror::pull(store(&emu.base(), "t"), std::slice::from_ref(&name), true)
            .await
            .expect("pull");
        assert_eq!(
            std::fs::read(c.path(&name)).expect("pulled"),
            b"{\"by\":\"c\"}"
        );
    }
}
