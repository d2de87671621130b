//! Ownership marks: what a policy writes into the create request of every snapshot it takes, and
//! how it recognises them later. A policy deletes only snapshots that carry its own mark.
//!
//! | provider | written in the create | owned when |
//! |---|---|---|
//! | OUTSCALE | description `snapctl:v1 policy=<id> tick=<T>`, then the `Name` and `snapctl:policy` tags | the description names the id (tags can fail or be edited; the description cannot change) |
//! | PowerVC | name, description and metadata `snapctl:policy=<id>`, in one POST | name and description both name the id |
//! | EFS | name and description | name and description both name the id |
//! | NAS-HA | name only (custom snapshots have nothing else) | the name is `snapctl.<id>.<UTC time>`: the weakest mark |
//!
//! The time in a mark (`<T>` in the description, the time in the name) is the *tick* the snapshot
//! was taken for, not the moment it was sent: whether a tick is answered is read from the mark, so
//! a cloud whose clock runs behind the runner's (a `created_at` just before the tick) never makes
//! a policy take the same tick twice. Snapshots made before marks carried the tick have the send
//! time in their name, which is at or after their tick, so they answer it too.

use jiff::Timestamp;

use crate::kind::{MarkProof, ProviderKind};
use crate::model::{CreateSnapshot, Snapshot, SnapshotKind, parse_stamp};

/// The description mark, versioned so a later format can be told apart.
const DESCRIPTION_PREFIX: &str = "snapctl:v1 policy=";

/// Tag / metadata key carrying the policy id where the provider has tags.
pub const TAG_KEY: &str = "snapctl:policy";

/// The name a policy gives its snapshot: `snapctl.<id>.<YYYYMMDDTHHMMSSZ>` (UTC).
pub fn name(policy: &str, at: Timestamp) -> String {
    format!("snapctl.{policy}.{}", crate::model::stamp(at))
}

/// The description mark of a snapshot the policy did not take for a tick (`policy adopt`).
pub fn description(policy: &str) -> String {
    format!("{DESCRIPTION_PREFIX}{policy}")
}

/// The description mark of a snapshot taken for `tick`.
pub fn description_at(policy: &str, tick: Timestamp) -> String {
    format!(
        "{DESCRIPTION_PREFIX}{policy} tick={}",
        crate::model::stamp(tick)
    )
}

/// The create request carrying `policy`'s mark for `tick`, as far as `kind` can carry it (its
/// registry row's [`crate::kind::Marking`]).
pub fn request(kind: ProviderKind, policy: &str, volume: &str, tick: Timestamp) -> CreateSnapshot {
    let marking = crate::providers::entry(kind).marking;
    CreateSnapshot {
        volume: volume.to_string(),
        name: Some(name(policy, tick)),
        description: marking.description.then(|| description_at(policy, tick)),
        tags: if marking.tag {
            vec![(TAG_KEY.to_string(), policy.to_string())]
        } else {
            vec![]
        },
        idempotency_key: Some(idempotency_key(policy, volume, tick)),
        ..CreateSnapshot::default()
    }
}

/// The idempotency key of the snapshot of `policy` on `volume` for `tick` (OUTSCALE's
/// `ClientToken`): the same for every run that answers that tick, so a create whose answer was
/// lost, or sent again by an overlapping run, returns the snapshot already made.
pub fn idempotency_key(policy: &str, volume: &str, tick: Timestamp) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{policy}\n{volume}\n{}", tick.as_second()));
    format!("snapctl-{}", &hex::encode(digest)[..32])
}

/// Whether `id` is a policy id (as `policy validate` checks it).
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The policy id and time in a mark name, if the name is exactly one.
pub(crate) fn parse_name(name: &str) -> Option<(&str, Timestamp)> {
    let rest = name.strip_prefix("snapctl.")?;
    let (id, time) = rest.rsplit_once('.')?;
    let at = parse_stamp(time)?;
    valid_id(id).then_some((id, at))
}

fn id_in_name(name: &str) -> Option<&str> {
    parse_name(name).map(|(id, _)| id)
}

/// The policy id and, when written, the tick in a description mark.
fn parse_description(d: &str) -> Option<(&str, Option<Timestamp>)> {
    let rest = d.strip_prefix(DESCRIPTION_PREFIX)?;
    let (id, tick) = match rest.split_once(' ') {
        None => (rest, None),
        Some((id, more)) => (id, Some(parse_stamp(more.strip_prefix("tick=")?)?)),
    };
    valid_id(id).then_some((id, tick))
}

fn id_in_description(d: &str) -> Option<&str> {
    parse_description(d).map(|(id, _)| id)
}

/// The tick an owned snapshot was taken for: the description's `tick=` where the provider has a
/// description, else the time in its mark name; `None` when neither carries one (an OUTSCALE
/// snapshot of an older version whose `Name` tag was lost or edited). Only meaningful for a
/// snapshot [`owner`] accepts.
pub fn tick(s: &Snapshot) -> Option<Timestamp> {
    let owner = owner(s)?;
    let from_description = s
        .description
        .as_deref()
        .and_then(parse_description)
        .and_then(|(_, t)| t);
    let from_name = s
        .name
        .as_deref()
        .and_then(parse_name)
        .filter(|(id, _)| *id == owner)
        .map(|(_, t)| t);
    from_description.or(from_name)
}

/// The policy that owns `s`, read from its mark; `None` for every snapshot a policy did not take
/// (automatic ones, clone bases, hand-made ones, even with a look-alike name where the provider
/// has a second field to check).
pub fn owner(s: &Snapshot) -> Option<&str> {
    if s.kind != SnapshotKind::Manual || crate::engine::retention::is_clone_base(s) {
        return None;
    }
    let by_name = s.name.as_deref().and_then(id_in_name);
    let by_description = s.description.as_deref().and_then(id_in_description);
    match crate::providers::entry(s.provider).marking.proof {
        MarkProof::Description => by_description,
        MarkProof::NameAndDescription => by_name.filter(|id| by_description == Some(*id)),
        MarkProof::Name => by_name,
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
    fn one_idempotency_key_per_policy_volume_and_tick() {
        let t: Timestamp = "2026-11-25T18:00:00Z".parse().expect("ts");
        let key = idempotency_key("db", "vol-1", t);
        assert!(key.starts_with("snapctl-") && key.len() == 40, "{key}");
        assert_eq!(
            key,
            idempotency_key("db", "vol-1", t),
            "every run sends the same"
        );
        assert_ne!(key, idempotency_key("db", "vol-2", t));
        assert_ne!(key, idempotency_key("db2", "vol-1", t));
        assert_ne!(
            key,
            idempotency_key("db", "vol-1", t + jiff::SignedDuration::from_hours(1))
        );
        let req = request(ProviderKind::Outscale, "db", "vol-1", t);
        assert_eq!(req.idempotency_key.as_deref(), Some(key.as_str()));
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

    #[test]
    fn the_tick_is_read_from_the_mark_on_every_provider() {
        let tick: Timestamp = "2026-11-25T18:00:00Z".parse().expect("ts");
        for kind in ProviderKind::ALL {
            let req = request(kind, "db-gold", "v", tick);
            let mut s = snap(kind, req.name.as_deref(), req.description.as_deref());
            // The cloud's clock runs behind: created a second before the tick.
            s.created_at = Some("2026-11-25T17:59:59Z".parse().expect("ts"));
            assert_eq!(super::tick(&s), Some(tick), "{kind}");
        }
        // OUTSCALE with its Name tag lost: the description still carries the tick.
        let req = request(ProviderKind::Outscale, "db-gold", "v", tick);
        let s = snap(ProviderKind::Outscale, None, req.description.as_deref());
        assert_eq!(super::tick(&s), Some(tick));
        // An older mark without a tick: the name's time.
        let s = snap(
            ProviderKind::OvhEfs,
            Some("snapctl.db-gold.20261125T180012Z"),
            Some("snapctl:v1 policy=db-gold"),
        );
        assert_eq!(
            super::tick(&s),
            Some("2026-11-25T18:00:12Z".parse().expect("ts"))
        );
        // Anything else after the id is not a mark.
        for d in [
            "snapctl:v1 policy=db-gold by hand",
            "snapctl:v1 policy=db-gold tick=2026",
            "snapctl:v1 policy=db-gold tick=20261325T180000Z",
        ] {
            let s = snap(ProviderKind::Outscale, None, Some(d));
            assert_eq!(owner(&s), None, "{d}");
        }
    }
}
