//! Ownership marks: what a policy writes into the create request of every snapshot it takes, and
//! how it recognises them later. A policy deletes only snapshots that carry its own mark.
//!
//! | provider | written in the create | owned when |
//! |---|---|---|
//! | OUTSCALE | description `snapctl:v1 policy=<id>`, then the `Name` and `snapctl:policy` tags | the description names the id (tags can fail or be edited; the description cannot change) |
//! | PowerVC | name, description and metadata `snapctl:policy=<id>`, in one POST | name and description both name the id |
//! | EFS | name and description | name and description both name the id |
//! | NAS-HA | name only (custom snapshots have nothing else) | the name is `snapctl.<id>.<UTC time>`: the weakest mark |

use jiff::Timestamp;

use crate::kind::ProviderKind;
use crate::model::{CreateSnapshot, Snapshot, SnapshotKind};

/// The description mark, versioned so a later format can be told apart.
const DESCRIPTION_PREFIX: &str = "snapctl:v1 policy=";

/// Tag / metadata key carrying the policy id where the provider has tags.
pub const TAG_KEY: &str = "snapctl:policy";

/// The name a policy gives its snapshot: `snapctl.<id>.<YYYYMMDDTHHMMSSZ>` (UTC).
pub fn name(policy: &str, at: Timestamp) -> String {
    format!("snapctl.{policy}.{}", at.strftime("%Y%m%dT%H%M%SZ"))
}

/// The description mark.
pub fn description(policy: &str) -> String {
    format!("{DESCRIPTION_PREFIX}{policy}")
}

/// The create request carrying `policy`'s mark, as far as `kind` can carry it.
pub fn request(kind: ProviderKind, policy: &str, volume: &str, at: Timestamp) -> CreateSnapshot {
    let (description, tags) = match kind {
        ProviderKind::Outscale | ProviderKind::Powervc => (
            Some(description(policy)),
            vec![(TAG_KEY.to_string(), policy.to_string())],
        ),
        ProviderKind::OvhEfs => (Some(description(policy)), vec![]),
        ProviderKind::OvhNasha => (None, vec![]),
    };
    CreateSnapshot {
        volume: volume.to_string(),
        name: Some(name(policy, at)),
        description,
        tags,
        ..CreateSnapshot::default()
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The policy id in a mark name, if the name is exactly one.
fn id_in_name(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("snapctl.")?;
    let (id, time) = rest.rsplit_once('.')?;
    let b = time.as_bytes();
    let time_ok = b.len() == 16
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z';
    (valid_id(id) && time_ok).then_some(id)
}

fn id_in_description(d: &str) -> Option<&str> {
    d.strip_prefix(DESCRIPTION_PREFIX).filter(|id| valid_id(id))
}

/// The policy that owns `s`, read from its mark; `None` for every snapshot a policy did not take
/// (automatic ones, clone bases, hand-made ones, even with a look-alike name where the provider
/// has a second field to check).
pub fn owner(s: &Snapshot) -> Option<&str> {
    if s.kind != SnapshotKind::Manual || crate::rotation::plan::is_clone_base(s) {
        return None;
    }
    let by_name = s.name.as_deref().and_then(id_in_name);
    let by_description = s.description.as_deref().and_then(id_in_description);
    match s.provider {
        ProviderKind::Outscale => by_description,
        ProviderKind::Powervc | ProviderKind::OvhEfs => {
            by_name.filter(|id| by_description == Some(*id))
        }
        ProviderKind::OvhNasha => by_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SnapshotState;

    fn snap(kind: ProviderKind, name: Option<&str>, description: Option<&str>) -> Snapshot {
        Snapshot {
            provider: kind,
            id: "s".into(),
            volume_id: Some("v".into()),
            name: name.map(str::to_string),
            description: description.map(str::to_string),
            state: SnapshotState::Available,
            provider_state: None,
            kind: SnapshotKind::Manual,
            created_at: None,
            size_gib: None,
            expires_at: None,
        }
    }

    #[test]
    fn marks_round_trip_on_every_provider() {
        let at: Timestamp = "2026-11-25T18:00:00Z".parse().expect("ts");
        for kind in ProviderKind::ALL {
            let req = request(kind, "db-gold", "v", at);
            let s = snap(kind, req.name.as_deref(), req.description.as_deref());
            assert_eq!(owner(&s), Some("db-gold"), "{kind}");
            assert_eq!(
                req.name.as_deref(),
                Some("snapctl.db-gold.20261125T180000Z")
            );
            // Within every provider's label limits.
            assert!(req.name.as_ref().is_some_and(|n| n.len() <= 64));
        }
    }

    #[test]
    fn look_alikes_are_not_owned() {
        let name = Some("snapctl.db-gold.20261125T180000Z");
        // A hand-made snapshot with the policy's name but no description mark.
        for kind in [
            ProviderKind::Outscale,
            ProviderKind::Powervc,
            ProviderKind::OvhEfs,
        ] {
            assert_eq!(owner(&snap(kind, name, Some("by hand"))), None, "{kind}");
        }
        // Name and description naming different policies.
        assert_eq!(
            owner(&snap(
                ProviderKind::OvhEfs,
                name,
                Some("snapctl:v1 policy=other")
            )),
            None
        );
        // rotate's names, near misses.
        for n in [
            "snapctl-20261125T180000Z",
            "snapctl.db-gold.20261125T1800Z",
            "snapctl.DB.20261125T180000Z",
            "snapctl.db-gold.20261125T180000Z.copy",
        ] {
            assert_eq!(
                owner(&snap(ProviderKind::OvhNasha, Some(n), None)),
                None,
                "{n}"
            );
        }
        // NAS-HA has only the name: an exact look-alike is owned (the documented weak mark).
        assert_eq!(
            owner(&snap(ProviderKind::OvhNasha, name, None)),
            Some("db-gold")
        );
        let mut auto = snap(
            ProviderKind::OvhEfs,
            name,
            Some("snapctl:v1 policy=db-gold"),
        );
        auto.kind = SnapshotKind::Automatic;
        assert_eq!(owner(&auto), None);
    }
}
