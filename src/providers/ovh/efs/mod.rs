//! OVHcloud Enterprise File Storage (`ovh-efs`): NetApp shares and their snapshots under
//! `/storage/netapp`.
//!
//! Wire structs mirror the OpenAPI models (`NetAppShare`, `NetAppShareSnapshot`, …) field for field and
//! are mapped to `model` types here; unknown status words map to `unknown` (OVH adds enum values without
//! notice). Every id is checked to be a UUID before a request is built, and the documented limits
//! (manual-only clones, revert to the latest manual snapshot only) are enforced before sending.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;

use super::client::{OvhClient, connect, only_service};
use super::config::OvhConfig;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::http::Http;
use crate::kind::{Capabilities, ProviderKind, Support};
use crate::model::{
    CloneRequest, CreateSnapshot, Operation, Progress, Schedule, ScheduleChange, ScheduleRemoval,
    ScheduleRule, ScheduleSpec, Snapshot, SnapshotKind, SnapshotState, SnapshotUpdate, Until,
    Volume,
};
use crate::provider::Provider;

mod policy;
mod types;
pub use crate::providers::check_uuid;
use types::*;

/// What `ovh-efs` offers.
pub const CAPABILITIES: Capabilities = Capabilities {
    volumes: Support::Yes,
    list_snapshots: Support::Yes,
    create_snapshot: Support::Yes,
    delete_snapshot: Support::Yes,
    clone: Support::Yes,
    revert: Support::Yes,
    // EFS has no tasks: commands wait on the snapshot or share itself (--wait).
    wait: Support::No,
    schedules: Support::Yes,
    copy: Support::No,
    share: Support::No,
    export: Support::No,
};

/// Smallest EFS volume, in GB (EFS FAQ: volumes of 100 GB to 29 TB).
pub const MIN_SHARE_GB: u64 = 100;

/// The EFS provider bound to one service.
#[derive(Debug)]
pub struct Efs {
    client: OvhClient,
    service: String,
    /// How long a new snapshot policy may take to become available.
    policy_wait: std::time::Duration,
    /// Pause between polls of a new policy.
    poll_interval: std::time::Duration,
}

impl Efs {
    /// Make it from its paired configuration: the service given, or the account's only one.
    pub async fn new(settings: &Settings, config: OvhConfig, http: Arc<Http>) -> Result<Self> {
        let (client, service) = connect(
            settings,
            config,
            http,
            ProviderKind::OvhEfs,
            |s| check_uuid("service", s),
            pick_only_service,
        )
        .await?;
        Ok(Efs {
            client,
            service,
            policy_wait: settings.timeout,
            poll_interval: settings.poll_interval,
        })
    }

    /// A client-less instance for tests of pure logic.
    #[cfg(test)]
    fn url(&self, segments: &[&str]) -> reqwest::Url {
        self.client.url(segments, &[])
    }

    fn share_url(&self, share: &str, rest: &[&str], query: &[(&str, &str)]) -> reqwest::Url {
        let mut segs = vec!["storage", "netapp", self.service.as_str(), "share", share];
        segs.extend_from_slice(rest);
        self.client.url(&segs, query)
    }

    async fn share(&self, id: &str) -> Result<NetAppShare> {
        check_uuid("share id", id)?;
        self.client
            .get_json(self.share_url(id, &[], &[]), &format!("read share {id}"))
            .await
    }

    async fn snapshot(&self, share: &str, id: &str) -> Result<NetAppShareSnapshot> {
        check_uuid("share id", share)?;
        check_uuid("snapshot id", id)?;
        self.client
            .get_json(
                self.share_url(share, &["snapshot", id], &[]),
                &format!("read snapshot {id} of share {share}"),
            )
            .await
    }

    async fn share_snapshots(&self, share: &str) -> Result<Vec<Snapshot>> {
        check_uuid("share id", share)?;
        self.client
            .get_list(
                self.share_url(share, &["snapshot"], &[("detail", "true")]),
                &format!("list snapshots of share {share}"),
                |s: NetAppShareSnapshot| Some(map_snapshot(s, share)),
            )
            .await
    }

    fn need_volume<'a>(&self, volume: Option<&'a str>, what: &str) -> Result<&'a str> {
        volume.ok_or_else(|| Error::Usage {
            message: format!("{what} needs --volume on ovh-efs"),
            hint: Some(format!(
                "EFS snapshots live under their share: pass --volume SHARE_ID (the ids: snapctl -p ovh-efs --service {} volume list)",
                self.service
            )),
        })
    }
}

/// When no `--service` is given, use the account's only EFS service; otherwise list them.
async fn pick_only_service(client: &OvhClient) -> Result<String> {
    let services: Vec<NetAppService> = client
        .get_json(
            client.url(&["storage", "netapp"], &[]),
            "list Enterprise File Storage services",
        )
        .await?;
    only_service(
        "Enterprise File Storage",
        services
            .into_iter()
            .map(|s| {
                let label = format!(
                    "{}, {}",
                    s.name.as_deref().unwrap_or("unnamed"),
                    s.region.as_deref().unwrap_or("?")
                );
                (s.id, label)
            })
            .collect(),
    )
}

/// The refusal for cloning or reverting to a snapshot that is not `manual`.
fn not_manual(verb: &str, snap: &Snapshot, service: &str, share: &str) -> Error {
    match snap.kind {
        SnapshotKind::Automatic => Error::Usage {
            message: format!(
                "cannot {verb} snapshot {}: it is an automatic (policy) snapshot, and EFS can {verb} only manual ones",
                snap.id
            ),
            hint: Some(format!(
                "hold it first to turn it into a manual snapshot, then use the new id it prints: snapctl -p ovh-efs --service {service} snapshot hold {} --volume {share}",
                snap.id
            )),
        },
        _ => Error::Usage {
            message: format!(
                "cannot {verb} snapshot {}: it is a {} snapshot, and EFS can {verb} only manual ones",
                snap.id,
                snap.kind.as_str()
            ),
            hint: Some(format!(
                "take a manual snapshot and use it: snapctl -p ovh-efs --service {service} snapshot create --volume {share} --wait"
            )),
        },
    }
}

#[async_trait]
impl Provider for Efs {
    fn kind(&self) -> ProviderKind {
        ProviderKind::OvhEfs
    }

    fn scope(&self) -> String {
        self.service.clone()
    }

    async fn list_volumes(&self) -> Result<Vec<Volume>> {
        let url = self.client.url(
            &["storage", "netapp", &self.service, "share"],
            &[("detail", "true")],
        );
        self.client
            .get_list(
                url,
                &format!("list shares of service {}", self.service),
                |s: NetAppShare| Some(map_share(s)),
            )
            .await
    }

    async fn get_volume(&self, id: &str) -> Result<Volume> {
        Ok(map_share(self.share(id).await?))
    }

    async fn list_snapshots(&self, volume: Option<&str>) -> Result<Vec<Snapshot>> {
        match volume {
            Some(share) => self.share_snapshots(share).await,
            None => {
                let mut all = Vec::new();
                for share in self.list_volumes().await? {
                    all.extend(self.share_snapshots(&share.id).await?);
                }
                Ok(all)
            }
        }
    }

    async fn get_snapshot(&self, volume: Option<&str>, id: &str) -> Result<Snapshot> {
        let share = self.need_volume(volume, "snapshot show")?;
        Ok(map_snapshot(self.snapshot(share, id).await?, share))
    }

    async fn create_snapshot(&self, req: &CreateSnapshot) -> Result<(Snapshot, Operation)> {
        check_uuid("share id", &req.volume)?;
        if !req.tags.is_empty() {
            return Err(Error::usage(
                "EFS snapshots take no tags; use --name and --description",
            ));
        }
        if req.expires_at.is_some() {
            return Err(Error::Usage {
                message: "EFS snapshots do not expire by themselves".into(),
                hint: Some("drop --expires and let `snapctl rotate` delete old snapshots".into()),
            });
        }
        let body = SnapshotCreateBody {
            name: req.name.as_deref(),
            description: req.description.as_deref(),
        };
        let action = format!("create a snapshot of share {}", req.volume);
        let resp = self
            .client
            .send_json(
                Method::POST,
                self.share_url(&req.volume, &["snapshot"], &[]),
                &body,
                &action,
            )
            .await?;
        let wire: NetAppShareSnapshot = self.client.decode(&resp, &action)?;
        let snap = map_snapshot(wire, &req.volume);
        let op = Operation::Snapshot {
            volume: Some(req.volume.clone()),
            id: snap.id.clone(),
            until: Until::Ready,
        };
        Ok((snap, op))
    }

    async fn delete_snapshot(&self, volume: Option<&str>, id: &str) -> Result<Operation> {
        let share = self.need_volume(volume, "snapshot delete")?;
        check_uuid("share id", share)?;
        check_uuid("snapshot id", id)?;
        self.client
            .call(
                Method::DELETE,
                self.share_url(share, &["snapshot", id], &[]),
                None,
                &format!("delete snapshot {id} of share {share}"),
            )
            .await?;
        Ok(Operation::Snapshot {
            volume: Some(share.to_string()),
            id: id.to_string(),
            until: Until::Gone,
        })
    }

    async fn delete_volume(&self, id: &str) -> Result<Operation> {
        check_uuid("share id", id)?;
        self.client
            .call(
                Method::DELETE,
                self.share_url(id, &[], &[]),
                None,
                &format!("delete share {id}"),
            )
            .await?;
        Ok(Operation::Volume {
            id: id.to_string(),
            until: Until::Gone,
        })
    }

    async fn reach(&self, volume: &str) -> Result<Vec<(&'static str, String)>> {
        check_uuid("share id", volume)?;
        let action = format!("read the access paths of share {volume}");
        let paths: Vec<AccessPath> = self
            .client
            .get_json(self.share_url(volume, &["accessPath"], &[]), &action)
            .await?;
        // The preferred path, else the first; none while the share is being made.
        let path = paths
            .iter()
            .find(|p| p.preferred == Some(true))
            .or(paths.first())
            .and_then(|p| p.path.clone());
        Ok(path
            .map(|p| vec![("SNAPCTL_DRILL_EXPORT_PATH", p)])
            .unwrap_or_default())
    }

    async fn clone_volume(&self, req: &CloneRequest) -> Result<(Volume, Operation)> {
        let share = self
            .need_volume(req.volume.as_deref(), "clone")?
            .to_string();
        check_uuid("share id", &share)?;
        check_uuid("snapshot id", &req.snapshot)?;
        if req.subregion.is_some() || req.volume_type.is_some() || req.iops.is_some() {
            return Err(Error::usage(
                "--subregion, --volume-type and --iops apply to outscale only; EFS clones are NFS shares in the service's region",
            ));
        }
        if let Some(size) = req.size_gib
            && size < MIN_SHARE_GB
        {
            return Err(Error::InvalidInput {
                what: "size",
                value: size.to_string(),
                reason: format!("EFS volumes are at least {MIN_SHARE_GB} GB"),
            });
        }
        let snap = map_snapshot(self.snapshot(&share, &req.snapshot).await?, &share);
        if snap.kind != SnapshotKind::Manual {
            return Err(not_manual("clone", &snap, &self.service, &share));
        }
        if snap.state != SnapshotState::Available {
            return Err(Error::Usage {
                message: format!(
                    "cannot clone snapshot {}: it is {} (provider state {})",
                    snap.id,
                    snap.state.as_str(),
                    snap.provider_state.as_deref().unwrap_or("none")
                ),
                hint: Some(format!(
                    "wait until it is available: snapctl -p ovh-efs --service {} snapshot show {} --volume {share}",
                    self.service, snap.id
                )),
            });
        }
        let parent = self.share(&share).await?;
        // The clone must be at least as large as the snapshot; the parent's size is the best bound
        // EFS exposes (snapshots report no size), so it is the default.
        let size = match (req.size_gib, parent.size) {
            (Some(s), _) => s,
            (None, Some(p)) => p.max(MIN_SHARE_GB),
            (None, None) => {
                return Err(Error::Usage {
                    message: format!("share {share} reports no size to size the clone by"),
                    hint: Some("pass --size GIB".into()),
                });
            }
        };
        let body = ShareCreateBody {
            name: req.name.as_deref(),
            description: req.description.as_deref(),
            protocol: "NFS",
            size,
            snapshot_id: &req.snapshot,
        };
        let action = format!("clone snapshot {} of share {share}", req.snapshot);
        let url = self
            .client
            .url(&["storage", "netapp", &self.service, "share"], &[]);
        let resp = self
            .client
            .send_json(Method::POST, url, &body, &action)
            .await?;
        let share: NetAppShare = self.client.decode(&resp, &action)?;
        let volume = map_share(share);
        let op = Operation::Volume {
            id: volume.id.clone(),
            until: Until::Ready,
        };
        Ok((volume, op))
    }

    async fn revert(&self, volume: &str, snapshot: &str) -> Result<Operation> {
        check_uuid("share id", volume)?;
        check_uuid("snapshot id", snapshot)?;
        let target = map_snapshot(self.snapshot(volume, snapshot).await?, volume);
        if target.kind != SnapshotKind::Manual {
            return Err(not_manual("revert to", &target, &self.service, volume));
        }
        let newer: Vec<Snapshot> = self
            .share_snapshots(volume)
            .await?
            .into_iter()
            .filter(|s| s.id != target.id && is_newer(s, &target))
            .collect();
        if !newer.is_empty() {
            let ids: Vec<&str> = newer.iter().map(|s| s.id.as_str()).collect();
            return Err(Error::Usage {
                message: format!(
                    "cannot revert share {volume} to snapshot {snapshot}: EFS reverts only to the latest snapshot, and {} newer one(s) exist: {}",
                    ids.len(),
                    ids.join(", ")
                ),
                hint: Some(format!(
                    "to go further back, clone this snapshot instead (snapctl -p ovh-efs --service {service} clone --volume {volume} --snapshot {snapshot}), or delete the newer snapshots first (their data is lost): snapctl -p ovh-efs --service {service} snapshot delete {} --volume {volume}",
                    ids.join(" "),
                    service = self.service
                )),
            });
        }
        self.client
            .send_json(
                Method::POST,
                self.share_url(volume, &["revert"], &[]),
                &RevertBody {
                    snapshot_id: snapshot,
                },
                &format!("revert share {volume} to snapshot {snapshot}"),
            )
            .await?;
        Ok(Operation::Volume {
            id: volume.to_string(),
            until: Until::Ready,
        })
    }

    async fn list_schedules(&self, volume: &str, all: bool) -> Result<Vec<Schedule>> {
        self.policies_of(volume, all).await
    }

    async fn add_schedule(&self, volume: &str, spec: &ScheduleSpec) -> Result<ScheduleChange> {
        self.add_policy(volume, spec).await
    }

    async fn remove_schedule(
        &self,
        volume: &str,
        removal: &ScheduleRemoval,
    ) -> Result<ScheduleChange> {
        self.remove_policy(volume, removal).await
    }

    async fn hold_snapshot(&self, volume: Option<&str>, id: &str) -> Result<Snapshot> {
        let share = self.need_volume(volume, "snapshot hold")?;
        check_uuid("share id", share)?;
        check_uuid("snapshot id", id)?;
        let current = map_snapshot(self.snapshot(share, id).await?, share);
        if current.kind != SnapshotKind::Automatic {
            return Err(Error::Usage {
                message: format!(
                    "snapshot {id} is {}, not automatic: only policy snapshots can be held",
                    current.kind.as_str()
                ),
                hint: None,
            });
        }
        let what = format!("hold snapshot {id} of share {share}");
        let resp = self
            .client
            .call(
                Method::POST,
                self.share_url(share, &["snapshot", id, "hold"], &[]),
                None,
                &what,
            )
            .await?;
        let held: NetAppShareSnapshot = self.client.decode(&resp, &what)?;
        Ok(map_snapshot(held, share))
    }

    async fn update_snapshot(&self, req: &SnapshotUpdate) -> Result<Snapshot> {
        let share = self.need_volume(req.volume.as_deref(), "snapshot update")?;
        check_uuid("share id", share)?;
        check_uuid("snapshot id", &req.snapshot)?;
        if req.name.is_none() && req.description.is_none() {
            return Err(Error::usage("give --name and/or --description"));
        }
        let what = format!("update snapshot {} of share {share}", req.snapshot);
        let resp = self
            .client
            .send_json(
                Method::PUT,
                self.share_url(share, &["snapshot", &req.snapshot], &[]),
                &SnapshotCreateBody {
                    name: req.name.as_deref(),
                    description: req.description.as_deref(),
                },
                &what,
            )
            .await?;
        let snap: NetAppShareSnapshot = self.client.decode(&resp, &what)?;
        Ok(map_snapshot(snap, share))
    }

    async fn poll(&self, op: &Operation) -> Result<Progress> {
        match op {
            Operation::Done => Ok(Progress::Done),
            Operation::Task { .. } => Err(self.unsupported(
                "wait --task",
                "EFS has no tasks: wait on the snapshot or share with --wait",
            )),
            Operation::Snapshot { volume, id, until } => {
                let share = self.need_volume(volume.as_deref(), "wait")?;
                match (self.snapshot(share, id).await, until) {
                    (Err(Error::NotFound(_)), Until::Gone) => Ok(Progress::Done),
                    (Err(e), _) => Err(e),
                    (Ok(s), until) => {
                        let s = map_snapshot(s, share);
                        Ok(Progress::of_snapshot(
                            s.state,
                            s.provider_state,
                            *until,
                            None,
                        ))
                    }
                }
            }
            Operation::Volume { id, until } => match (self.share(id).await, until) {
                (Err(Error::NotFound(_)), Until::Gone) => Ok(Progress::Done),
                (Err(e), _) => Err(e),
                (Ok(s), until) => {
                    let v = map_share(s);
                    Ok(Progress::of_volume(v.state, v.provider_state, *until))
                }
            },
        }
    }
}

/// Whether `a` was taken after `b` (unknown times count as newer: refuse rather than guess).
fn is_newer(a: &Snapshot, b: &Snapshot) -> bool {
    match (a.created_at, b.created_at) {
        (Some(x), Some(y)) => x > y,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_check_accepts_uuids_only() {
        assert!(check_uuid("share id", "6b1e1f3a-0000-4000-8000-000000000001").is_ok());
        for bad in [
            "",
            "6b1e1f3a",
            "../../me",
            "6b1e1f3a-0000-4000-8000-00000000000g",
            "6b1e1f3a-0000-4000-8000-000000000001/",
            "6b1e1f3a_0000_4000_8000_000000000001",
        ] {
            assert!(check_uuid("share id", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn urls_encode_segments() {
        let http = Arc::new(Http::new(crate::http::HttpConfig::default()).expect("client"));
        use crate::providers::ovh::config;
        let config = config::OvhConfig {
            base_url: config::endpoint_url("https://eu.api.ovh.com/1.0").expect("url"),
            credentials: config::OvhCredentials {
                application_key: "a".into(),
                application_secret: "b".into(),
                consumer_key: "c".into(),
            },
        };
        let efs = Efs {
            client: OvhClient::new(http, config, ProviderKind::OvhEfs),
            service: "svc".into(),
            policy_wait: std::time::Duration::from_secs(1),
            poll_interval: std::time::Duration::from_millis(10),
        };
        assert_eq!(
            efs.url(&["storage", "netapp", "a/../b?x"]).as_str(),
            "https://eu.api.ovh.com/1.0/storage/netapp/a%2F..%2Fb%3Fx"
        );
    }
}
