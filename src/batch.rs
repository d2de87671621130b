//! Batches of mutations: sent as fast as the rate limiter and the provider's in-flight cap allow,
//! each with its own outcome. Their completion is confirmed in bulk by
//! [`crate::wait::wait_for_all`].

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::Error;
use crate::provider::Provider;

/// How sending one deletion went.
pub enum Sent {
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
pub async fn send_deletions(
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
