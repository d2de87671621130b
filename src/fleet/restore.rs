//! `policy restore`: which of a policy's snapshots answers a point in time. The newest tick at or
//! before the time that one of the policy's own, usable snapshots answers (the tick in its mark;
//! the cloud's creation time where the mark has none), as `policy report` counts ticks.

use std::sync::Arc;

use jiff::Timestamp;

use super::mark;
use super::plan::Compiled;
use crate::error::Result;
use crate::model::{Snapshot, SnapshotState};
use crate::provider::Provider;

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

/// A copy in another Region a restore is made from.
#[derive(Debug, Clone)]
pub struct CopyPoint {
    /// The copy's snapshot id at the destination.
    pub copy_id: String,
    /// The tick its source snapshot answered.
    pub tick: Timestamp,
    /// The source snapshot it is a copy of.
    pub of: String,
}

/// The connection to `c`'s copy destination in `region` (linked by the command layer), or why
/// there is none: `None` when the policy copies nothing there.
pub fn copy_destination(
    c: &Compiled,
    region: &str,
) -> Option<std::result::Result<Arc<dyn Provider>, String>> {
    c.copies
        .iter()
        .find(|d| d.region == region)
        .map(|d| d.link.get().cloned())
}

/// The newest complete copy at `dst` of `volume`'s snapshots by `policy` from Region `from`
/// whose tick is at or before `at` (the copy's mark says all four; a listing's name says nothing).
pub async fn copy_restore_point(
    dst: &dyn Provider,
    (policy, from): (&str, &str),
    volume: &str,
    at: Timestamp,
) -> Result<Option<CopyPoint>> {
    Ok(super::copy::held(dst, policy, from)
        .await?
        .into_iter()
        .filter(|h| {
            h.state == SnapshotState::Available && h.mark.volume == volume && h.mark.tick <= at
        })
        .max_by_key(|h| h.mark.tick)
        .map(|h| CopyPoint {
            copy_id: h.id,
            tick: h.mark.tick,
            of: h.mark.of,
        }))
}

/// One copy a destination holds, as `policy copies` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeldCopy {
    /// The copy's snapshot id at the destination.
    pub copy_id: String,
    /// Its state there.
    pub state: SnapshotState,
    /// The source volume.
    pub volume_id: String,
    /// The tick its source snapshot answered.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub tick: Option<Timestamp>,
    /// The source snapshot.
    pub snapshot_id: String,
}

/// Every copy `dst` holds of `policy`'s snapshots from Region `from` (by their marks), newest
/// tick first per volume.
pub async fn copies_at(dst: &dyn Provider, (policy, from): (&str, &str)) -> Result<Vec<HeldCopy>> {
    let mut out: Vec<HeldCopy> = super::copy::held(dst, policy, from)
        .await?
        .into_iter()
        .map(|h| HeldCopy {
            copy_id: h.id,
            state: h.state,
            volume_id: h.mark.volume,
            tick: Some(h.mark.tick),
            snapshot_id: h.mark.of,
        })
        .collect();
    out.sort_by(|a, b| a.volume_id.cmp(&b.volume_id).then(b.tick.cmp(&a.tick)));
    Ok(out)
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
