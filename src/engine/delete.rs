//! The one gate every deletion passes: nothing outside `providers/` calls a provider's delete
//! methods but this module. Each kind of deletion has its function here, and what proves it may
//! be sent is the caller's evidence, checked here where it can be checked at the last moment:
//!
//! | what | function | evidence |
//! |---|---|---|
//! | snapshots of `rotate` and `policy apply` | [`snapshots`] | the plan's ownership and the engine's safety gate (`engine::unit::gate`), passed right before |
//! | snapshots of `snapshot delete` | [`snapshots`] | the user named each id (and `--yes` where asked) |
//! | snapshots of `policy orphans --delete` | [`snapshots`] | the mark of a policy no longer in the file, or of a gone volume |
//! | copies at a destination | [`checked_snapshot`] | the copy read again right before the DELETE and checked by the caller's `check` (its mark: this policy, Region, account, a selected volume; its state) |
//! | drill volumes | [`volume`] | the id the restore answered, or a leftover the cloud's record proves (`fleet/drill/proof.rs`) |
//! | exported images | [`object`] | a key under the snapshot's own prefix, refused here otherwise |
//!
//! Snapshots are sent as fast as the rate limiter and the provider's in-flight cap allow, each
//! with its own outcome, and confirmed in bulk by [`crate::wait::wait_for_all`].

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::Error;
use crate::provider::Provider;

/// How sending one deletion went.
enum Sent {
    /// Accepted: this is what to wait for.
    Started(crate::model::Operation),
    /// Refused or lost.
    Failed(Error),
    /// Not sent: an interrupt came first.
    Skipped,
}

/// Send deletions of `(volume, snapshot id)` concurrently, at most `in_flight` at a time (a
/// semaphore a whole run shares), through the provider's rate limiter; answers in order. Once an
/// interrupt arrives, the deletions not yet started are [`Sent::Skipped`].
async fn send_deletions(
    provider: &Arc<dyn Provider>,
    snaps: &[(Option<String>, String)],
    in_flight: &Arc<Semaphore>,
) -> Vec<Sent> {
    let mut set = JoinSet::new();
    let mut out: Vec<Option<Sent>> = (0..snaps.len()).map(|_| None).collect();
    for (i, snap) in snaps.iter().enumerate() {
        // Permits are taken here, in the plan's order, so deletions start in that order.
        let permit = in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        if crate::interrupt::requested() {
            out[i] = Some(Sent::Skipped);
            continue;
        }
        let (p, (volume, id)) = (provider.clone(), snap.clone());
        set.spawn(async move {
            let _permit = permit;
            match p.delete_snapshot(volume.as_deref(), &id).await {
                Ok(op) => (i, Sent::Started(op)),
                Err(e) => (i, Sent::Failed(e)),
            }
        });
    }
    while let Some(joined) = set.join_next().await {
        if let Ok((i, sent)) = joined {
            out[i] = Some(sent);
        }
    }
    out.into_iter()
        .map(|s| {
            s.unwrap_or_else(|| {
                Sent::Failed(Error::Io {
                    action: "a deletion task stopped unexpectedly".into(),
                    source: std::io::Error::other("task panicked"),
                })
            })
        })
        .collect()
}

/// How one deletion of a [`snapshots`] batch ended.
pub enum Deletion {
    /// Accepted, and confirmed gone when the batch waited; what the API answered.
    Deleted(crate::model::Operation),
    /// Refused, lost, or failed while it was waited for.
    Failed(Error),
    /// Not sent: an interrupt came first.
    Skipped,
}

/// Snapshots: send the deletions of `(volume, snapshot id)` with `send_deletions`,
/// then, with `wait`, confirm every accepted one in bulk ([`crate::wait::wait_for_all`]; a
/// snapshot with no volume of its own is looked for on `fallback_volume`). One answer per
/// target, in order.
pub async fn snapshots(
    provider: &Arc<dyn Provider>,
    targets: &[(Option<String>, String)],
    fallback_volume: Option<&str>,
    in_flight: &Arc<Semaphore>,
    wait: Option<&crate::wait::WaitOptions>,
) -> Vec<Deletion> {
    let sent = send_deletions(provider, targets, in_flight).await;
    let Some(wait) = wait else {
        return sent.into_iter().map(Deletion::from).collect();
    };
    let awaited: Vec<crate::wait::Awaited> = sent
        .iter()
        .zip(targets)
        .filter_map(|(s, (volume, _))| match s {
            Sent::Started(op) => Some(crate::wait::Awaited {
                volume: volume
                    .clone()
                    .or_else(|| fallback_volume.map(str::to_string)),
                op: op.clone(),
            }),
            _ => None,
        })
        .collect();
    let mut confirmed = crate::wait::wait_for_all(provider.as_ref(), &awaited, wait)
        .await
        .into_iter();
    sent.into_iter()
        .map(|s| match s {
            Sent::Started(op) => match confirmed.next().unwrap_or(Ok(())) {
                Ok(()) => Deletion::Deleted(op),
                Err(e) => Deletion::Failed(e),
            },
            other => Deletion::from(other),
        })
        .collect()
}

impl Deletion {
    fn from(s: Sent) -> Self {
        match s {
            Sent::Started(op) => Deletion::Deleted(op),
            Sent::Failed(e) => Deletion::Failed(e),
            Sent::Skipped => Deletion::Skipped,
        }
    }
}

/// A volume (a restore drill's): the DELETE is sent even after a signal (a drill's own volume
/// is not left behind), then waited for until it is gone. Gone already (404: a killed run's
/// DELETE was accepted) is done; a signal during the wait ends it, and the accepted DELETE
/// counts as done. The caller's evidence: the id the restore answered, or a leftover the
/// cloud's record proves.
pub async fn volume(
    p: &dyn Provider,
    id: &str,
    wait: &crate::wait::WaitOptions,
) -> crate::error::Result<()> {
    let op = match crate::interrupt::finishing(p.delete_volume(id)).await {
        Err(Error::NotFound(_)) => return Ok(()),
        r => r?,
    };
    if crate::interrupt::requested() {
        return Ok(());
    }
    match crate::wait::wait_for(p, &op, wait).await {
        Err(_) if crate::interrupt::requested() => Ok(()),
        r => r,
    }
}

/// A snapshot read again right before its DELETE and sent only when `check` accepts what the
/// cloud answers now (a copy at a destination: its mark and state). Why not, in words.
pub async fn checked_snapshot(
    p: &dyn Provider,
    volume: Option<&str>,
    id: &str,
    check: impl FnOnce(&crate::model::Snapshot) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let now = p
        .get_snapshot(volume, id)
        .await
        .map_err(|e| e.to_string())?;
    check(&now)?;
    p.delete_snapshot(volume, id)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// An object of a bucket (an exported image), only when its key is under `under` (the
/// snapshot's own prefix, or the policy's): a key the listing answered anywhere else is
/// refused here, whatever the caller believed.
pub async fn object(
    route: &dyn crate::provider::ExportRoute,
    bucket: &str,
    key: &str,
    under: &str,
) -> crate::error::Result<()> {
    if under.is_empty() || key.strip_prefix(under).is_none_or(str::is_empty) {
        return Err(Error::Refused {
            reason: format!(
                "refusing to delete {:?}: it is not under {under}",
                crate::text::one_line(key, 200)
            ),
            hint: None,
        });
    }
    route.delete_object(bucket, key).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outside `providers/` (and the emulator, which serves deletions), only this module calls a
    /// provider's delete methods: every deletion passes the one gate.
    #[test]
    fn no_other_module_calls_a_delete_method() {
        let mut found = Vec::new();
        for (rel, text) in crate::test_support::source_files() {
            if ["providers/", "emulator/", "engine/delete.rs"]
                .iter()
                .any(|a| rel.starts_with(a))
            {
                continue;
            }
            for (n, line) in text.lines().enumerate() {
                if [".delete_snapshot(", ".delete_volume(", ".delete_object("]
                    .iter()
                    .any(|call| line.contains(call))
                {
                    found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                }
            }
        }
        assert!(
            found.is_empty(),
            "deletions outside engine/delete.rs:\n{}",
            found.join("\n")
        );
    }

    #[tokio::test]
    async fn a_drill_volume_already_gone_is_cleaned_up() {
        // A killed run's DELETE was accepted; the next run's answers 404: done, not failed.
        let p = crate::providers::memory::Memory::new(&["vol-1"]);
        let wait = crate::wait::WaitOptions::new(
            std::time::Duration::from_secs(1),
            std::time::Duration::from_millis(10),
            true,
        );
        assert!(volume(&p, "vol-1", &wait).await.is_ok());
        assert!(volume(&p, "vol-1", &wait).await.is_ok());
        let log = p.state.lock().expect("state").log.clone();
        assert_eq!(log, ["delete volume vol-1", "delete volume vol-1"]);
    }

    /// An object store that records what it is asked to delete.
    #[derive(Default)]
    struct Bucket(std::sync::Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl crate::provider::ExportRoute for Bucket {
        async fn account_id(&self) -> crate::error::Result<Option<String>> {
            Ok(None)
        }
        async fn export_tasks_of(
            &self,
            _snapshot: &str,
        ) -> crate::error::Result<Vec<crate::model::ExportTask>> {
            Ok(vec![])
        }
        async fn list_objects(
            &self,
            _bucket: &str,
            _prefix: &str,
        ) -> crate::error::Result<Vec<crate::model::StoredObject>> {
            Ok(vec![])
        }
        fn presign_get(&self, _bucket: &str, _key: &str, _ttl: u64) -> secrecy::SecretString {
            secrecy::SecretString::from(String::new())
        }
        async fn delete_object(&self, _bucket: &str, key: &str) -> crate::error::Result<()> {
            self.0.lock().expect("log").push(key.to_string());
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_object_outside_its_prefix_is_never_deleted() {
        let b = Bucket::default();
        let under = "snapctl/p/r/snap-1/";
        for key in [
            "prod/db.qcow2",
            "snapctl/p/r/snap-1/",
            "snapctl/p/r/snap-12/x",
            "s",
            "",
        ] {
            assert!(object(&b, "bk", key, under).await.is_err(), "{key:?}");
        }
        assert!(object(&b, "bk", "snapctl/p/r/snap-1/x", "").await.is_err());
        object(&b, "bk", "snapctl/p/r/snap-1/disk.qcow2", under)
            .await
            .expect("under its prefix");
        assert_eq!(*b.0.lock().expect("log"), ["snapctl/p/r/snap-1/disk.qcow2"]);
    }
}
