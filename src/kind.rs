//! Provider keys and capabilities: plain data at the bottom of the module graph.
//!
//! Nothing here knows how to talk to a cloud; the registry in `providers` maps each key to its
//! product name, capabilities, id checks, rate limit and constructor. This module imports nothing
//! from the crate, so every other module can depend on it without forming a circle.

use std::fmt;

use serde::Serialize;

/// The provider keys accepted by `-p/--provider`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// OVHcloud Enterprise File Storage (NetApp shares).
    OvhEfs,
    /// OVHcloud NAS-HA (ZFS partitions).
    OvhNasha,
    /// 3DS OUTSCALE block storage.
    Outscale,
    /// IBM PowerVC (OpenStack Cinder).
    Powervc,
}

impl ProviderKind {
    /// Every provider, in display order.
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::OvhEfs,
        ProviderKind::OvhNasha,
        ProviderKind::Outscale,
        ProviderKind::Powervc,
    ];

    /// The key users type.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OvhEfs => "ovh-efs",
            ProviderKind::OvhNasha => "ovh-nasha",
            ProviderKind::Outscale => "outscale",
            ProviderKind::Powervc => "powervc",
        }
    }

    /// `ovh-efs, ovh-nasha, outscale, powervc`.
    pub fn key_list() -> String {
        Self::ALL.map(|k| k.as_str()).join(", ")
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How well a provider offers one operation. JSON: a boolean (`true`: offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Offered.
    Yes,
    /// The provider's API does not offer it.
    No,
}

impl Serialize for Support {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(*self == Support::Yes)
    }
}

impl Support {
    /// Table word.
    pub fn as_str(self) -> &'static str {
        match self {
            Support::Yes => "yes",
            Support::No => "no",
        }
    }
}

/// Where a fleet policy's ownership mark goes on one provider, and what proves a snapshot is a
/// policy's (the table at the top of `fleet/mark.rs`). A registry row, so no module outside
/// `providers/` asks which provider it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marking {
    /// The create carries the description mark `snapctl:v1 policy=<id> tick=<T>`.
    pub description: bool,
    /// The create carries the `snapctl:policy` tag (OUTSCALE tags, Cinder metadata).
    pub tag: bool,
    /// What proves ownership.
    pub proof: MarkProof,
    /// Why `policy adopt` cannot mark snapshots taken before the policy, where it cannot.
    pub no_adopt: Option<&'static str>,
}

/// What proves that a snapshot carries a policy's mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkProof {
    /// The description alone, which the API never changes after the create (OUTSCALE): the name
    /// is only a label, which a run repairs when it was lost or edited.
    Description,
    /// Name and description both name the policy.
    NameAndDescription,
    /// The name alone, where nothing else is written (NAS-HA): the weakest mark.
    Name,
}

/// One provider's column of the capability matrix: each operation and whether it is offered. Its
/// JSON form (snake_case keys, boolean values) is what `snapctl providers -o json` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// `volume list` / `volume show`.
    pub volumes: Support,
    /// `snapshot list` / `snapshot show`.
    pub list_snapshots: Support,
    /// `snapshot create`.
    pub create_snapshot: Support,
    /// `snapshot delete`.
    pub delete_snapshot: Support,
    /// `clone` from a snapshot.
    pub clone: Support,
    /// `revert` a volume to a snapshot.
    pub revert: Support,
    /// `wait --task`: the provider has long-running tasks to wait for by id (every provider offers
    /// `--wait` on the commands themselves).
    pub wait: Support,
    /// `schedule list|add|remove`.
    pub schedules: Support,
    /// `copy`.
    pub copy: Support,
    /// `snapshot share|unshare`.
    pub share: Support,
    /// `snapshot export|import`.
    pub export: Support,
}

impl Capabilities {
    /// `(operation, support)` pairs in display order; the operation names are the command words.
    pub fn rows(&self) -> [(&'static str, Support); 11] {
        [
            ("volume list|show", self.volumes),
            ("snapshot list|show", self.list_snapshots),
            ("snapshot create", self.create_snapshot),
            ("snapshot delete", self.delete_snapshot),
            ("clone", self.clone),
            ("revert", self.revert),
            ("wait --task", self.wait),
            ("schedule list|add|remove", self.schedules),
            ("copy", self.copy),
            ("snapshot share|unshare", self.share),
            ("snapshot export|import", self.export),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_clap() {
        use clap::ValueEnum;
        for k in ProviderKind::ALL {
            assert_eq!(ProviderKind::from_str(k.as_str(), false), Ok(k));
        }
        assert_eq!(
            ProviderKind::key_list(),
            "ovh-efs, ovh-nasha, outscale, powervc"
        );
    }
}
