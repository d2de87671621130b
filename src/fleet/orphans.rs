//! Marked snapshots no policy manages (`policy orphans`) and `rotate`'s snapshots a policy takes
//! over (`policy adopt`).

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::Serialize;

use super::plan::Compiled;
use crate::engine::Target;
use crate::error::{Error, Result};

/// A marked snapshot no policy of the file will ever manage.
#[derive(Debug, Clone, Serialize)]
pub struct FoundOrphan {
    /// Provider.
    pub provider: crate::kind::ProviderKind,
    /// The policy id in its mark.
    pub policy_id: String,
    /// Its volume.
    pub volume_id: Option<String>,
    /// Snapshot id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Creation time.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub created_at: Option<Timestamp>,
    /// `policy not in the file`, `volume gone`, or, for a volume a restore drill made,
    /// `drill volume left behind` (the next run of its policy deletes it, unless the policy is
    /// gone or has no drill any more), or, for a volume with a drill mark the cloud's record
    /// does not prove, `drill-like volume, not deleted: <why>`.
    pub reason: String,
    /// `snapshot`, `drill_volume` or `drill_like_volume` (then `id` and `volume_id` are the
    /// volume's).
    pub kind: &'static str,
}

/// The reason of a drill volume.
pub const DRILL_VOLUME: &str = "drill volume left behind";

/// Every marked snapshot, on every account the file's policies use, whose policy id is not in
/// `known` or whose volume no longer exists, and every volume carrying a drill mark: a
/// `drill_volume` when the cloud's record proves a drill of that policy made it
/// (`fleet/drill/proof.rs`; `--delete` deletes it), else a `drill_like_volume` with why not
/// (never deleted). Accounts that cannot be read are returned as errors.
pub async fn find_orphans(
    targets: &[Target],
    known: &BTreeSet<String>,
    compiled: &[Compiled],
) -> (Vec<FoundOrphan>, Vec<String>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for t in targets {
        let p = t.provider.as_ref();
        let listed = match p.list_volumes().await {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!("{}: cannot list volumes: {e}", p.kind()));
                continue;
            }
        };
        let snaps = match p.list_snapshots(None).await {
            Ok(s) => s,
            Err(e) => {
                errors.push(format!("{}: cannot list snapshots: {e}", p.kind()));
                continue;
            }
        };
        found.extend(drill_volumes(p.kind(), &listed, &snaps, compiled));
        let volumes: BTreeSet<String> = listed.into_iter().map(|v| v.id).collect();
        for s in snaps {
            let Some(owner) = super::mark::owner(&s) else {
                continue;
            };
            let reason = if !known.contains(owner) {
                "policy not in the file"
            } else if s.volume_id.as_ref().is_some_and(|v| !volumes.contains(v)) {
                "volume gone"
            } else {
                continue;
            };
            found.push(FoundOrphan {
                provider: p.kind(),
                policy_id: owner.to_string(),
                volume_id: s.volume_id.clone(),
                id: s.id.clone(),
                name: s.name.clone(),
                created_at: s.created_at,
                reason: reason.into(),
                kind: "snapshot",
            });
        }
    }
    (found, errors)
}

/// The volumes of `listed` carrying a drill mark, each judged on the cloud's record: the
/// snapshots `snaps` its policy owns, the file's selectors, the policy's drill state.
fn drill_volumes(
    kind: crate::kind::ProviderKind,
    listed: &[crate::model::Volume],
    snaps: &[crate::model::Snapshot],
    compiled: &[Compiled],
) -> Vec<FoundOrphan> {
    let mut found = Vec::new();
    for v in listed {
        let Some(owner) = super::drill::owner(v) else {
            continue;
        };
        let owned: super::drill::Owned = snaps
            .iter()
            .filter(|s| super::mark::owner(s) == Some(owner))
            .map(|s| (s.id.clone(), s.created_at))
            .collect();
        let selected_by = compiled
            .iter()
            .find(|o| o.policy.provider.is_none_or(|k| k == kind) && o.selects(v))
            .map(|o| o.policy.id.as_str());
        let made = compiled
            .iter()
            .find(|c| c.policy.id == owner)
            .and_then(|c| c.state_dir.as_deref())
            .and_then(|d| super::drill::load(d, owner).ok())
            .map(|s| s.made);
        let judged = super::drill::judge(v, owner, &owned, selected_by, made.as_ref());
        found.push(FoundOrphan {
            provider: kind,
            policy_id: owner.to_string(),
            volume_id: Some(v.id.clone()),
            id: v.id.clone(),
            name: v.name.clone(),
            created_at: v.created_at,
            reason: match &judged {
                Ok(()) => DRILL_VOLUME.into(),
                Err(why) => format!("drill-like volume, not deleted: {why}"),
            },
            kind: if judged.is_ok() {
                "drill_volume"
            } else {
                "drill_like_volume"
            },
        });
    }
    found
}

/// A `rotate` snapshot `adopt` would mark for a policy.
#[derive(Debug, Clone, Serialize)]
pub struct Adoption {
    /// Its volume.
    pub volume_id: String,
    /// Snapshot id.
    pub id: String,
    /// Its name now.
    pub name: Option<String>,
    /// The marked name it gets.
    pub new_name: String,
    /// Creation time.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub created_at: Option<Timestamp>,
}

/// What `adopt` would mark: on the policy's selected volumes, the available manual snapshots named
/// `<prefix>…` that no policy owns (what `rotate --prefix` made), each renamed
/// `snapctl.<id>.<its creation time>` (and given the description mark).
pub async fn adoptions(c: &Compiled, target: &Target, prefix: &str) -> Result<Vec<Adoption>> {
    let p = target.provider.as_ref();
    if let Some(why) = crate::providers::entry(p.kind()).marking.no_adopt {
        return Err(Error::Unsupported {
            provider: p.kind(),
            operation: "policy adopt",
            hint: why.into(),
        });
    }
    let selected: Vec<_> = p
        .list_volumes()
        .await?
        .into_iter()
        .filter(|v| c.selects(v))
        .collect();
    let ids: Vec<String> = selected.iter().map(|v| v.id.clone()).collect();
    let mut out = Vec::new();
    let mut taken = BTreeSet::new();
    for (vol, listed) in ids.iter().zip(p.list_snapshots_of(&ids).await) {
        for s in listed? {
            let (Some(name), Some(at)) = (&s.name, s.created_at) else {
                continue;
            };
            if s.kind != crate::model::SnapshotKind::Manual
                || s.state != crate::model::SnapshotState::Available
                || !name.starts_with(prefix)
                || super::mark::owner(&s).is_some()
                || crate::engine::retention::is_clone_base(&s)
            {
                continue;
            }
            let new_name = super::mark::name(&c.policy.id, at);
            // Two snapshots of one second would get one name: the second stays as it is.
            if !taken.insert((vol.clone(), new_name.clone())) {
                continue;
            }
            out.push(Adoption {
                volume_id: vol.clone(),
                id: s.id.clone(),
                name: Some(name.clone()),
                new_name,
                created_at: Some(at),
            });
        }
    }
    Ok(out)
}

/// Mark each adoption for policy `id`: rename it and give it the description mark, one request
/// each. Returns the failures.
pub async fn adopt(target: &Target, id: &str, list: &[Adoption]) -> Vec<(String, Error)> {
    let mut failed = Vec::new();
    for a in list {
        if crate::interrupt::requested() {
            break;
        }
        let req = crate::model::SnapshotUpdate {
            volume: Some(a.volume_id.clone()),
            snapshot: a.id.clone(),
            name: Some(a.new_name.clone()),
            description: Some(super::mark::description(id)),
        };
        if let Err(e) = target.provider.update_snapshot(&req).await {
            failed.push((a.id.clone(), e));
        }
    }
    failed
}
