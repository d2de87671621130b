//! A lease in the state store: the storage-native lock that serialises runs of one policy file
//! across machines (issue 40 §2). Taken with a conditional create (`If-None-Match: *`: one
//! writer wins), renewed while the run lasts and taken over only once expired, each by a
//! compare-and-swap on the ETag last seen (`If-Match`), so two takers never both win. Released by
//! writing it expired (a conditional write every store that passed the probe honours), so the
//! next run takes it at once; a runner that dies leaves it to expire.
//!
//! Expiry is judged by the runner's clock against the time the holder wrote: keep the runners'
//! clocks in step (NTP) to well within the lease's time to live.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Cond, Put, S3Store};
use crate::error::{Error, Result};

/// Schema of a lease object.
pub const LEASE_SCHEMA: &str = "snapctl.lease/v1";

/// What a lease object holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Body {
    schema: String,
    /// Who holds it: `HOST:PID:NONCE`.
    holder: String,
    acquired_at: Timestamp,
    expires_at: Timestamp,
}

/// A held lease; renewed in the background until [`Lease::release`].
pub struct Lease {
    store: Arc<S3Store>,
    name: String,
    body: Body,
    etag: Arc<tokio::sync::Mutex<String>>,
    renewal: tokio::task::JoinHandle<()>,
    lost: Arc<AtomicBool>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("name", &self.name)
            .field("holder", &self.body.holder)
            .finish_non_exhaustive()
    }
}

/// This process, as a lease names its holder.
fn me() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    let nonce = Timestamp::now().as_nanosecond() % 1_000_000_000;
    format!(
        "{}:{}:{nonce:09}",
        crate::text::one_line(&host, 64),
        std::process::id()
    )
}

impl Lease {
    /// Take the lease `name`, waiting up to `wait` for another holder's to end or expire: exit 8
    /// ([`Error::Leased`]) when it is still held then.
    pub async fn acquire(
        store: Arc<S3Store>,
        name: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Lease> {
        let holder = me();
        let give_up = std::time::Instant::now() + wait;
        loop {
            let now = Timestamp::now();
            let body = Body {
                schema: LEASE_SCHEMA.into(),
                holder: holder.clone(),
                acquired_at: now,
                expires_at: now + ttl,
            };
            let bytes = serde_json::to_vec(&body).expect("a lease serialises");
            if let Put::Written(etag) = store.put(name, &bytes, &Cond::Absent).await? {
                return Ok(Lease::held(store, name, body, etag, ttl));
            }
            let Some((current, etag)) = store.get(name).await? else {
                continue;
            };
            // A lease that does not parse claims nothing: it is taken over like an expired one.
            let theirs: Option<Body> = serde_json::from_slice(&current).ok();
            match theirs {
                Some(t) if t.expires_at > now => {
                    if std::time::Instant::now() >= give_up {
                        return Err(Error::Leased {
                            lease: format!("{}/{name}", store.describe()),
                            holder: crate::text::one_line(&t.holder, 128),
                            until: t.expires_at.to_string(),
                        });
                    }
                    let left = give_up.saturating_duration_since(std::time::Instant::now());
                    tokio::time::sleep(left.min(Duration::from_secs(1))).await;
                }
                _ => {
                    if let Put::Written(etag) = store.put(name, &bytes, &Cond::Match(etag)).await? {
                        return Ok(Lease::held(store, name, body, etag, ttl));
                    }
                    // Another taker won the swap: look again.
                }
            }
        }
    }

    fn held(store: Arc<S3Store>, name: &str, body: Body, etag: String, ttl: Duration) -> Lease {
        let etag = Arc::new(tokio::sync::Mutex::new(etag));
        let lost = Arc::new(AtomicBool::new(false));
        let renewal = tokio::spawn(renew(
            store.clone(),
            name.to_string(),
            body.clone(),
            etag.clone(),
            ttl,
            lost.clone(),
        ));
        Lease {
            store,
            name: name.to_string(),
            body,
            etag,
            renewal,
            lost,
        }
    }

    /// Whether another runner took the lease over (this run's renewals came too late).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// Stop renewing and write the lease expired (if it is still ours), so the next run takes
    /// it at once.
    pub async fn release(self) -> Result<()> {
        self.renewal.abort();
        let lost = self.lost();
        let _ = self.renewal.await;
        if lost || self.lost.load(Ordering::Relaxed) {
            return Ok(());
        }
        let etag = self.etag.lock().await.clone();
        let body = Body {
            expires_at: Timestamp::now() - Duration::from_secs(1),
            ..self.body.clone()
        };
        let bytes = serde_json::to_vec(&body).expect("a lease serialises");
        self.store
            .put(&self.name, &bytes, &Cond::Match(etag))
            .await
            .map(|_| ())
    }
}

/// Renew the lease every third of its time to live, each renewal a compare-and-swap on the last
/// ETag; a lost swap means another runner took it (this one was too slow): the run stops as on
/// SIGTERM (nothing new starts, exit 130) and says why.
async fn renew(
    store: Arc<S3Store>,
    name: String,
    mut body: Body,
    etag: Arc<tokio::sync::Mutex<String>>,
    ttl: Duration,
    lost: Arc<AtomicBool>,
) {
    loop {
        tokio::time::sleep(ttl / 3).await;
        body.expires_at = Timestamp::now() + ttl;
        let bytes = serde_json::to_vec(&body).expect("a lease serialises");
        let mut current = etag.lock().await;
        match store
            .put(&name, &bytes, &Cond::Match(current.clone()))
            .await
        {
            Ok(Put::Written(new)) => *current = new,
            Ok(Put::Lost) => {
                lost.store(true, Ordering::Relaxed);
                eprintln!(
                    "error: the lease {}/{name} was taken over by another runner (this run renewed it too late): nothing new starts, as on SIGTERM",
                    store.describe()
                );
                // Two runners must not both go on: this one stops as a signal stops it.
                crate::interrupt::stop();
                return;
            }
            Err(e) => eprintln!(
                "warning: cannot renew the lease {}/{name}: {e}",
                store.describe()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::EmulatorConfig;
    use crate::store::tests::emulator_store;

    fn store(base: &str) -> Arc<S3Store> {
        emulator_store(base, "leases")
    }

    async fn read(s: &S3Store, name: &str) -> Body {
        let (bytes, _) = s.get(name).await.expect("read").expect("there");
        serde_json::from_slice(&bytes).expect("a lease")
    }

    /// Held, a lease is renewed (its expiry moves on) and refused to others; released, it is
    /// written expired and the next taker gets it at once.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_held_lease_is_renewed_refused_to_others_and_released() {
        let emu = crate::emulator::start(EmulatorConfig::default())
            .await
            .expect("emulator");
        let s = store(&emu.base());
        let ttl = Duration::from_secs(2);
        let held = Lease::acquire(s.clone(), "l.json", ttl, Duration::ZERO)
            .await
            .expect("free");
        let first = read(&s, "l.json").await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let renewed = read(&s, "l.json").await;
        assert!(
            renewed.expires_at > first.expires_at,
            "{first:?} then {renewed:?}"
        );
        let refused = Lease::acquire(s.clone(), "l.json", ttl, Duration::ZERO)
            .await
            .expect_err("held");
        assert!(matches!(refused, Error::Leased { .. }), "{refused}");
        assert!(!held.lost());
        held.release().await.expect("released");
        assert!(read(&s, "l.json").await.expires_at <= Timestamp::now());
        let next = Lease::acquire(s.clone(), "l.json", ttl, Duration::ZERO)
            .await
            .expect("taken at once after the release");
        next.release().await.expect("released");
    }
}
