//! Batches of mutations: sent as fast as the rate limiter and the provider's in-flight cap allow,
//! each with its own outcome. Their completion is confirmed in bulk by
//! [`crate::wait::wait_for_all`]. [`delete_all`] is the one deletion path: `rotate`, `policy
//! apply`, `snapshot delete` and `policy orphans --delete` all delete through it.

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

/// How one deletion of a [`delete_all`] batch ended.
pub enum Deletion {
    /// Accepted, and confirmed gone when the batch waited; what the API answered.
    Deleted(crate::model::Operation),
    /// Refused, lost, or failed while it was waited for.
    Failed(Error),
    /// Not sent: an interrupt came first.
    Skipped,
}

/// The one deletion path: send the deletions of `(volume, snapshot id)` with `send_deletions`,
/// then, with `wait`, confirm every accepted one in bulk ([`crate::wait::wait_for_all`]; a
/// snapshot with no volume of its own is looked for on `fallback_volume`). One answer per
/// target, in order.
pub async fn delete_all(
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
