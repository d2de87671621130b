//! What proves a volume is a restore drill's leftover: the cloud's own record, never the mark.
//!
//! The drill mark (name, description, tag) says which policy's drill a volume claims to come
//! from, and anyone who may rename or tag a volume can write it (OUTSCALE `CreateTags`, Cinder
//! `PUT /volumes/{id}`, EFS `PUT …/share/{id}`). A marked volume is deleted only when, besides
//! the mark:
//! 1. the cloud records the snapshot it was made from (OUTSCALE `SnapshotId`, Cinder
//!    `snapshot_id`, the EFS share's `snapshotID`: written by the create, editable by nobody) and
//!    that snapshot is one the policy owns now;
//! 2. the cloud's creation time of the volume is at or after that snapshot's;
//! 3. no policy of the file selects it (a volume a policy protects is never a leftover);
//! 4. where the policy's drill state records the volumes its drills made (every volume made since
//!    that record began), it is one of them.
//!
//! A marked volume without that proof is a *drill-like* volume: `plan` shows it
//! (`? drill-like volume …: not deleted, because …`) and `orphans` lists it; nothing deletes it.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::Made;
use crate::model::Volume;

/// The snapshots a policy owns now, by id: their creation time, as the cloud records it.
pub type Owned = BTreeMap<String, Option<Timestamp>>;

/// Whether `v`, which carries `policy`'s drill mark, is proven a leftover of its drills; why
/// not, in words for the plan, when it is not.
pub fn judge(
    v: &Volume,
    policy: &str,
    owned: &Owned,
    selected_by: Option<&str>,
    made: Option<&Made>,
) -> Result<(), String> {
    if let Some(other) = selected_by {
        return Err(format!("policy {other} of this file selects it"));
    }
    let Some(source) = v.source_snapshot.as_deref() else {
        return Err("the cloud records no snapshot it was made from".into());
    };
    let Some(taken) = owned.get(source) else {
        return Err(format!(
            "it was made from snapshot {source}, which is not a snapshot policy {policy} owns"
        ));
    };
    match (v.created_at, taken) {
        (Some(made_at), Some(taken)) if made_at < *taken => {
            return Err(format!(
                "the cloud says it was created before snapshot {source}"
            ));
        }
        (Some(_), Some(_)) => {}
        _ => return Err("the cloud records no creation time to compare".into()),
    }
    if let Some(made) = made
        && let Some(since) = made.since
        && v.created_at.is_some_and(|at| at >= since)
        && !made.volumes.contains_key(&v.id)
    {
        return Err(format!(
            "the drill state of policy {policy} records every volume its drills made since {since}, and not this one"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::ProviderKind;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn volume(source: Option<&str>, created: &str) -> Volume {
        Volume {
            provider: ProviderKind::Outscale,
            id: "vol-1".into(),
            name: None,
            size_gib: None,
            state: crate::model::VolumeState::Available,
            provider_state: None,
            created_at: Some(ts(created)),
            tags: Default::default(),
            description: None,
            source_snapshot: source.map(str::to_string),
        }
    }

    #[test]
    fn only_the_clouds_record_proves_a_leftover() {
        let owned: Owned = [("snap-1".to_string(), Some(ts("2026-12-01T10:00:00Z")))].into();
        let ok = volume(Some("snap-1"), "2026-12-01T10:05:00Z");
        assert_eq!(judge(&ok, "p", &owned, None, None), Ok(()));
        let cases = [
            (
                "blank",
                volume(None, "2026-12-01T10:05:00Z"),
                None,
                "no snapshot",
            ),
            (
                "another snapshot",
                volume(Some("snap-9"), "2026-12-01T10:05:00Z"),
                None,
                "not a snapshot policy p owns",
            ),
            (
                "older than its snapshot",
                volume(Some("snap-1"), "2026-12-01T09:00:00Z"),
                None,
                "before snapshot",
            ),
            (
                "selected",
                ok.clone(),
                Some("db"),
                "policy db of this file selects it",
            ),
        ];
        for (what, v, selected, why) in cases {
            let got = judge(&v, "p", &owned, selected, None).expect_err(what);
            assert!(got.contains(why), "{what}: {got}");
        }
        let mut undated = ok.clone();
        undated.created_at = None;
        assert!(judge(&undated, "p", &owned, None, None).is_err());
    }

    #[test]
    fn the_state_that_records_made_volumes_must_know_a_new_one() {
        let owned: Owned = [("snap-1".to_string(), Some(ts("2026-12-01T10:00:00Z")))].into();
        let v = volume(Some("snap-1"), "2026-12-01T10:05:00Z");
        let mut made = Made {
            since: Some(ts("2026-12-01T10:01:00Z")),
            volumes: BTreeMap::new(),
        };
        assert!(judge(&v, "p", &owned, None, Some(&made)).is_err());
        made.volumes.insert("vol-1".into(), "snap-1".into());
        assert_eq!(judge(&v, "p", &owned, None, Some(&made)), Ok(()));
        // Made before the record began: the cloud's proof alone decides.
        made.volumes.clear();
        made.since = Some(ts("2026-12-01T11:00:00Z"));
        assert_eq!(judge(&v, "p", &owned, None, Some(&made)), Ok(()));
    }
}
