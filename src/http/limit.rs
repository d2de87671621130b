//! The client-side rate limit (GCRA), shared by every request of a run.

use std::time::Duration;

/// Requests per second with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests that may go at once before the rate applies.
    pub burst: u32,
}

/// A GCRA limiter shared by every request of the client (and so by every concurrent task).
#[derive(Debug)]
pub(super) struct Limiter {
    interval: Duration,
    tolerance: Duration,
    /// Theoretical arrival time of the next request.
    tat: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Limiter {
    pub(super) fn new(limit: RateLimit) -> Option<Self> {
        if !(limit.per_second.is_finite() && limit.per_second > 0.0) {
            return None;
        }
        let interval = Duration::from_secs_f64(1.0 / limit.per_second);
        Some(Limiter {
            interval,
            tolerance: interval.saturating_mul(limit.burst.max(1) - 1),
            tat: tokio::sync::Mutex::new(None),
        })
    }

    /// Wait for this request's slot.
    pub(super) async fn acquire(&self) {
        let mut tat = self.tat.lock().await;
        let now = tokio::time::Instant::now();
        let t = tat.map_or(now, |t| t.max(now));
        let allowed_at = t.checked_sub(self.tolerance).unwrap_or(now);
        if allowed_at > now {
            tokio::time::sleep_until(allowed_at).await;
        }
        *tat = Some(t + self.interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_limiter_lets_a_burst_through_then_spaces_requests() {
        let l = Limiter::new(RateLimit {
            per_second: 2.0,
            burst: 3,
        })
        .expect("limited");
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            l.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst goes at once");
        for _ in 0..4 {
            l.acquire().await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "then one every 500 ms"
        );
        assert!(
            Limiter::new(RateLimit {
                per_second: 0.0,
                burst: 1
            })
            .is_none()
        );
    }
}
