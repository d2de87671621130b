//! `policy restore`: which of a policy's snapshots answers a point in time. The newest tick at or
//! before the time that one of the policy's own, usable snapshots answers (the tick in its mark;
//! the cloud's creation time where the mark has none), as `policy report` counts ticks.

use jiff::Timestamp;

use super::mark;
use crate::model::{Snapshot, SnapshotState};

/// A snapshot a restore is made from, and the tick it answers.
#[derive(Debug, Clone, Copy)]
pub struct RestorePoint<'a> {
    /// The snapshot.
    pub snapshot: &'a Snapshot,
    /// The tick it answers.
    pub tick: Timestamp,
}

/// The newest of `policy`'s usable snapshots among `snapshots` whose tick is at or before `at`.
pub fn restore_point<'a>(
    policy: &str,
    snapshots: &'a [Snapshot],
    at: Timestamp,
) -> Option<RestorePoint<'a>> {
    snapshots
        .iter()
        .filter(|s| mark::owner(s) == Some(policy) && s.state == SnapshotState::Available)
        .filter_map(|s| Some((s, mark::tick(s).or(s.created_at)?)))
        .filter(|(_, t)| *t <= at)
        .max_by_key(|(s, t)| (*t, s.created_at))
        .map(|(snapshot, tick)| RestorePoint { snapshot, tick })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::ProviderKind;
    use crate::model::SnapshotKind;

    fn snap(policy: &str, tick: &str, state: SnapshotState) -> Snapshot {
        let t: Timestamp = tick.parse().expect("time");
        Snapshot {
            provider: ProviderKind::Outscale,
            id: format!("snap-{}", &tick[11..13]),
            volume_id: Some("vol-1".into()),
            name: Some(mark::name(policy, t)),
            description: Some(mark::description(policy)),
            state,
            provider_state: None,
            kind: SnapshotKind::Manual,
            created_at: Some(t + jiff::SignedDuration::from_secs(5)),
            size_gib: None,
            expires_at: None,
        }
    }

    #[test]
    fn the_newest_usable_tick_at_or_before_the_time_of_the_policys_own() {
        let all = [
            snap("p", "2026-01-01T10:00:00Z", SnapshotState::Available),
            snap("p", "2026-01-01T12:00:00Z", SnapshotState::Available),
            snap("p", "2026-01-01T13:00:00Z", SnapshotState::Error),
            snap("q", "2026-01-01T13:00:00Z", SnapshotState::Available),
            snap("p", "2026-01-01T15:00:00Z", SnapshotState::Available),
        ];
        let at = |t: &str| t.parse::<Timestamp>().expect("time");
        let got = |t| restore_point("p", &all, at(t)).map(|r| r.snapshot.id.clone());
        assert_eq!(got("2026-01-01T14:00:00Z").as_deref(), Some("snap-12"));
        assert_eq!(got("2026-01-01T12:00:00Z").as_deref(), Some("snap-12"));
        assert_eq!(got("2026-01-01T11:59:59Z").as_deref(), Some("snap-10"));
        assert_eq!(got("2026-01-01T09:00:00Z"), None);
        assert_eq!(got("2026-01-02T00:00:00Z").as_deref(), Some("snap-15"));
    }
}
