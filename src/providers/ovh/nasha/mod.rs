//! OVHcloud NAS-HA (`ovh-nasha`): partitions, custom and scheduled snapshots, snapshot schedules and
//! task tracking under `/dedicated/nasha`.
//!
//! A volume is a partition (its id is its name); a snapshot id is its name. Custom snapshots are kind
//! `manual`; each enabled schedule frequency (`hour-1`, …) shows as one `scheduled` snapshot. Every
//! mutation returns a NAS-HA Task, polled by `wait`. Clone and revert are not offered by the API: the
//! refusal prints the NFS and rsync commands that do it by hand. Names are checked before sending.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use reqwest::Method;

use super::client::{OvhClient, connect, only_service};
use super::config::OvhConfig;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::http::Http;
use crate::kind::{Capabilities, ProviderKind, Support};
use crate::model::{
    CloneRequest, CreateSnapshot, Operation, Progress, Schedule, ScheduleChange, ScheduleRemoval,
    ScheduleRule, ScheduleSpec, Snapshot, SnapshotKind, SnapshotState, Volume, VolumeState,
};
use crate::provider::Provider;

/// What `ovh-nasha` offers.
pub const CAPABILITIES: Capabilities = Capabilities {
    volumes: Support::Yes,
    list_snapshots: Support::Yes,
    create_snapshot: Support::Yes,
    delete_snapshot: Support::Yes,
    clone: Support::No,
    revert: Support::No,
    wait: Support::Yes,
    schedules: Support::Yes,
    copy: Support::No,
    share: Support::No,
    export: Support::No,
};

mod types;
use types::*;

/// The API's limit of custom snapshots per partition (NAS-HA FAQ).
pub const MAX_CUSTOM_SNAPSHOTS: usize = 10;

/// `dedicated.storage.SnapshotEnum`.
pub const FREQUENCIES: [&str; 6] = ["hour-1", "hour-6", "day-1", "day-2", "day-3", "day-7"];

/// The NAS-HA provider bound to one service.
#[derive(Debug)]
pub struct Nasha {
    client: OvhClient,
    service: String,
}

/// Partition, snapshot and service names: letters, digits and `_ . : -`, not starting with a dot
/// or dash, at most 200 characters. Anything else is refused before a request is built.
pub fn check_name(what: &'static str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.len() <= 200
        && !value.starts_with(['.', '-'])
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'));
    crate::providers::check_shape(what, value, ok, false, || {
        "use letters, digits and _ . : - (not first), at most 200 characters".into()
    })
}

fn check_frequency(every: &str) -> Result<()> {
    if FREQUENCIES.contains(&every) {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what: "schedule frequency",
            value: every.to_string(),
            reason: format!("NAS-HA offers {}", FREQUENCIES.join(", ")),
        })
    }
}

fn frequency_words(every: &str) -> String {
    match every.split_once('-') {
        Some(("hour", "1")) => "every hour".into(),
        Some(("hour", n)) => format!("every {n} hours"),
        Some(("day", "1")) => "every day".into(),
        Some(("day", n)) => format!("every {n} days"),
        _ => every.to_string(),
    }
}

impl Nasha {
    /// Make it from its paired configuration: the service given, or the account's only one.
    pub async fn new(settings: &Settings, config: OvhConfig, http: Arc<Http>) -> Result<Self> {
        let (client, service) = connect(
            settings,
            config,
            http,
            ProviderKind::OvhNasha,
            |s| check_name("service name", s),
            async |client: &OvhClient| {
                let names: Vec<String> = client
                    .get_json(
                        client.url(&["dedicated", "nasha"], &[]),
                        "list NAS-HA services",
                    )
                    .await?;
                only_service(
                    "NAS-HA",
                    names.into_iter().map(|n| (n, String::new())).collect(),
                )
            },
        )
        .await?;
        Ok(Nasha { client, service })
    }

    fn url(&self, rest: &[&str]) -> reqwest::Url {
        let mut segs = vec!["dedicated", "nasha", self.service.as_str()];
        segs.extend_from_slice(rest);
        self.client.url(&segs, &[])
    }

    async fn task_of(&self, resp: &crate::http::Incoming, action: &str) -> Result<Operation> {
        let task: Task = self.client.decode(resp, action)?;
        Ok(Operation::Task {
            id: task.task_id.to_string(),
        })
    }

    async fn custom_names(&self, part: &str) -> Result<Vec<String>> {
        self.client
            .get_json(
                self.url(&["partition", part, "customSnapshot"]),
                &format!("list custom snapshots of partition {part}"),
            )
            .await
    }

    async fn custom(&self, part: &str, name: &str) -> Result<Snapshot> {
        let snap: CustomSnap = self
            .client
            .get_json(
                self.url(&["partition", part, "customSnapshot", name]),
                &format!("read snapshot {name} of partition {part}"),
            )
            .await?;
        Ok(self.map_custom(snap, part))
    }

    fn map_custom(&self, s: CustomSnap, part: &str) -> Snapshot {
        Snapshot {
            provider: ProviderKind::OvhNasha,
            volume_id: Some(part.to_string()),
            description: None,
            state: SnapshotState::Available,
            provider_state: None,
            kind: SnapshotKind::Manual,
            created_at: time_from_name(&s.name),
            size_gib: None,
            expires_at: s.expiration.as_deref().and_then(parse_expiration),
            name: Some(s.name.clone()),
            id: s.name,
        }
    }

    fn scheduled(&self, part: &str, every: &str) -> Snapshot {
        Snapshot {
            provider: ProviderKind::OvhNasha,
            id: every.to_string(),
            volume_id: Some(part.to_string()),
            name: Some(every.to_string()),
            description: Some(format!("scheduled snapshot, {}", frequency_words(every))),
            state: SnapshotState::Available,
            provider_state: None,
            kind: SnapshotKind::Scheduled,
            created_at: None,
            size_gib: None,
            expires_at: None,
        }
    }

    async fn frequencies(&self, part: &str) -> Result<Vec<String>> {
        self.client
            .get_json(
                self.url(&["partition", part, "snapshot"]),
                &format!("list snapshot schedules of partition {part}"),
            )
            .await
    }

    fn need_volume<'a>(&self, volume: Option<&'a str>, what: &str) -> Result<&'a str> {
        volume.ok_or_else(|| Error::Usage {
            message: format!("{what} needs --volume on ovh-nasha"),
            hint: Some(format!(
                "NAS-HA snapshots live under their partition: pass --volume PARTITION (the names: snapctl -p ovh-nasha --service {} volume list)",
                self.service
            )),
        })
    }

    /// The by-hand way to use a snapshot, since the API has none.
    async fn by_hand(&self, operation: &'static str, part: &str, snapshot: &str) -> Error {
        let ip = self
            .client
            .get_json::<Storage>(self.url(&[]), "read the NAS-HA service")
            .await
            .ok()
            .and_then(|s| s.ip)
            .unwrap_or_else(|| "NAS_IP".into());
        let export = format!("{}/{part}", self.service);
        let mount = format!("/mnt/{part}");
        let snap_dir = format!("{mount}/.zfs/snapshot/{snapshot}/");
        let target = match operation {
            "clone" => format!("/mnt/{part}-{snapshot}/"),
            _ => format!("{mount}/"),
        };
        let extra = if operation == "revert" {
            " (add --delete --exclude=.zfs to also remove files created since the snapshot)"
        } else {
            ""
        };
        Error::Unsupported {
            provider: ProviderKind::OvhNasha,
            operation,
            hint: format!(
                "the NAS-HA API cannot {operation}; the snapshot is readable on the NFS mount. Do it by hand: \
                 mkdir -p {mount} && mount -t nfs {ip}:/{export} {mount} && ls {snap_dir} && rsync -a {snap_dir} {target}{extra}"
            ),
        }
    }
}

#[async_trait]
impl Provider for Nasha {
    fn kind(&self) -> ProviderKind {
        ProviderKind::OvhNasha
    }

    fn scope(&self) -> String {
        self.service.clone()
    }

    async fn list_volumes(&self) -> Result<Vec<Volume>> {
        let names: Vec<String> = self
            .client
            .get_json(
                self.url(&["partition"]),
                &format!("list partitions of {}", self.service),
            )
            .await?;
        // One read per partition (the API has no bulk read), several at once: the rate limiter
        // paces them, and a fleet of partitions is not read one round trip at a time.
        use futures_util::{StreamExt, TryStreamExt};
        let this = self;
        futures_util::stream::iter(names)
            .map(move |name: String| async move { this.get_volume(&name).await })
            .buffered(8)
            .try_collect()
            .await
    }

    async fn get_volume(&self, id: &str) -> Result<Volume> {
        check_name("partition name", id)?;
        let p: Partition = self
            .client
            .get_json(
                self.url(&["partition", id]),
                &format!("read partition {id}"),
            )
            .await?;
        Ok(Volume {
            provider: ProviderKind::OvhNasha,
            id: p.partition_name.clone(),
            name: Some(p.partition_name),
            size_gib: p.size,
            state: VolumeState::Available,
            provider_state: None,
            created_at: None,
            tags: Default::default(),
            description: None,
            source_snapshot: None,
        })
    }

    async fn list_snapshots(&self, volume: Option<&str>) -> Result<Vec<Snapshot>> {
        let parts = match volume {
            Some(p) => vec![p.to_string()],
            None => self
                .list_volumes()
                .await?
                .into_iter()
                .map(|v| v.id)
                .collect(),
        };
        let mut out = Vec::new();
        for part in parts {
            check_name("partition name", &part)?;
            for name in self.custom_names(&part).await? {
                match self.custom(&part, &name).await {
                    Ok(s) => out.push(s),
                    // Deleted between the list of names and its read (another rotate, an
                    // expiry, a killed run's delete task): gone, so not listed; the others are.
                    Err(Error::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            for every in self.frequencies(&part).await? {
                out.push(self.scheduled(&part, &every));
            }
        }
        Ok(out)
    }

    async fn get_snapshot(&self, volume: Option<&str>, id: &str) -> Result<Snapshot> {
        let part = self.need_volume(volume, "snapshot show")?;
        check_name("snapshot name", id)?;
        if FREQUENCIES.contains(&id) {
            let _: serde_json::Value = self
                .client
                .get_json(
                    self.url(&["partition", part, "snapshot", id]),
                    &format!("read the {id} schedule of partition {part}"),
                )
                .await?;
            return Ok(self.scheduled(part, id));
        }
        self.custom(part, id).await
    }

    async fn create_snapshot(&self, req: &CreateSnapshot) -> Result<(Snapshot, Operation)> {
        check_name("partition name", &req.volume)?;
        let name = req
            .name
            .clone()
            .unwrap_or_else(|| format!("snapctl-{}", crate::model::stamp(Timestamp::now())));
        check_name("snapshot name", &name)?;
        if FREQUENCIES.contains(&name.as_str()) {
            return Err(Error::InvalidInput {
                what: "snapshot name",
                value: name,
                reason: "that is a schedule frequency; choose another name".into(),
            });
        }
        if !req.tags.is_empty() {
            return Err(Error::usage("NAS-HA snapshots take no tags"));
        }
        // A rotation's own description has nowhere to go on NAS-HA; a user's is refused.
        if req.description.is_some() && !req.managed {
            return Err(Error::Usage {
                message: "NAS-HA custom snapshots have no description".into(),
                hint: Some("put what you need in --name".into()),
            });
        }
        if let Some(t) = req.expires_at
            && t <= Timestamp::now()
        {
            return Err(Error::InvalidInput {
                what: "expiry",
                value: t.to_string(),
                reason: "it is in the past".into(),
            });
        }
        let existing = self.custom_names(&req.volume).await?;
        if existing.contains(&name) {
            return Err(Error::Usage {
                message: format!(
                    "partition {} already has a snapshot named {name}",
                    req.volume
                ),
                hint: Some("choose another --name".into()),
            });
        }
        if existing.len() >= MAX_CUSTOM_SNAPSHOTS {
            return Err(Error::Usage {
                message: format!(
                    "partition {} already has {} custom snapshots, the NAS-HA limit is {MAX_CUSTOM_SNAPSHOTS}",
                    req.volume,
                    existing.len()
                ),
                hint: Some(format!(
                    "delete one first (snapctl -p ovh-nasha --service {} snapshot delete NAME --volume {}), or let `snapctl rotate` keep fewer",
                    self.service, req.volume
                )),
            });
        }
        let body = CustomSnapBody {
            name: &name,
            expiration: req
                .expires_at
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        };
        let action = format!("create snapshot {name} of partition {}", req.volume);
        let resp = self
            .client
            .send_json(
                Method::POST,
                self.url(&["partition", &req.volume, "customSnapshot"]),
                &body,
                &action,
            )
            .await?;
        let op = self.task_of(&resp, &action).await?;
        let snap = Snapshot {
            provider: ProviderKind::OvhNasha,
            id: name.clone(),
            volume_id: Some(req.volume.clone()),
            name: Some(name.clone()),
            description: None,
            state: SnapshotState::Creating,
            provider_state: None,
            kind: SnapshotKind::Manual,
            created_at: time_from_name(&name),
            size_gib: None,
            expires_at: req.expires_at,
        };
        Ok((snap, op))
    }

    async fn delete_snapshot(&self, volume: Option<&str>, id: &str) -> Result<Operation> {
        let part = self.need_volume(volume, "snapshot delete")?;
        check_name("partition name", part)?;
        check_name("snapshot name", id)?;
        if FREQUENCIES.contains(&id) {
            return Err(Error::Unsupported {
                provider: ProviderKind::OvhNasha,
                operation: "deleting a scheduled snapshot",
                hint: format!(
                    "scheduled snapshots go with their schedule: snapctl -p ovh-nasha --service {} schedule remove --volume {part} --every {id}",
                    self.service
                ),
            });
        }
        let action = format!("delete snapshot {id} of partition {part}");
        let resp = self
            .client
            .call(
                Method::DELETE,
                self.url(&["partition", part, "customSnapshot", id]),
                None,
                &action,
            )
            .await?;
        if resp.retried_delete_found_nothing() {
            return Ok(Operation::Done);
        }
        self.task_of(&resp, &action).await
    }

    async fn clone_volume(&self, req: &CloneRequest) -> Result<(Volume, Operation)> {
        let part = self.need_volume(req.volume.as_deref(), "clone")?;
        Err(self.by_hand("clone", part, &req.snapshot).await)
    }

    async fn revert(&self, volume: &str, snapshot: &str) -> Result<Operation> {
        Err(self.by_hand("revert", volume, snapshot).await)
    }

    async fn list_schedules(&self, volume: &str, _all: bool) -> Result<Vec<Schedule>> {
        check_name("partition name", volume)?;
        Ok(self
            .frequencies(volume)
            .await?
            .into_iter()
            .map(|every| Schedule {
                provider: ProviderKind::OvhNasha,
                volume_id: Some(volume.to_string()),
                rules: vec![ScheduleRule {
                    schedule: frequency_words(&every),
                    keep: Some(1),
                    prefix: None,
                }],
                name: Some(every.clone()),
                description: None,
                state: None,
                is_default: None,
                id: every,
            })
            .collect())
    }

    async fn add_schedule(&self, volume: &str, spec: &ScheduleSpec) -> Result<ScheduleChange> {
        check_name("partition name", volume)?;
        if !spec.rules.is_empty() || spec.at.is_some() || spec.name.is_some() {
            return Err(Error::Usage {
                message: "NAS-HA schedules are fixed frequencies; --rule, --cron, --at and --name do not apply".into(),
                hint: Some(format!("use --every with one of {}", FREQUENCIES.join(", "))),
            });
        }
        let every = spec.every.as_deref().ok_or_else(|| Error::Usage {
            message: "schedule add needs --every on ovh-nasha".into(),
            hint: Some(format!("one of {}", FREQUENCIES.join(", "))),
        })?;
        check_frequency(every)?;
        let action = format!("enable the {every} snapshot schedule of partition {volume}");
        let resp = self
            .client
            .send_json(
                Method::POST,
                self.url(&["partition", volume, "snapshot"]),
                &SnapshotTypeBody {
                    snapshot_type: every,
                },
                &action,
            )
            .await?;
        Ok(ScheduleChange {
            op: if resp.retried_delete_found_nothing() {
                Operation::Done
            } else {
                self.task_of(&resp, &action).await?
            },
            notes: vec![],
        })
    }

    async fn remove_schedule(
        &self,
        volume: &str,
        removal: &ScheduleRemoval,
    ) -> Result<ScheduleChange> {
        check_name("partition name", volume)?;
        let every = removal.every.as_deref().ok_or_else(|| Error::Usage {
            message: "schedule remove needs --every on ovh-nasha".into(),
            hint: Some(format!(
                "the enabled ones: snapctl -p ovh-nasha --service {} schedule list --volume {volume}",
                self.service
            )),
        })?;
        check_frequency(every)?;
        let action = format!("disable the {every} snapshot schedule of partition {volume}");
        let resp = self
            .client
            .call(
                Method::DELETE,
                self.url(&["partition", volume, "snapshot", every]),
                None,
                &action,
            )
            .await?;
        Ok(ScheduleChange {
            op: self.task_of(&resp, &action).await?,
            notes: vec![],
        })
    }

    async fn poll(&self, op: &Operation) -> Result<Progress> {
        match op {
            Operation::Done => Ok(Progress::Done),
            Operation::Task { id } => {
                if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                    return Err(Error::InvalidInput {
                        what: "task id",
                        value: id.clone(),
                        reason: "NAS-HA task ids are numbers".into(),
                    });
                }
                let task: Task = self
                    .client
                    .get_json(self.url(&["task", id]), &format!("read task {id}"))
                    .await?;
                Ok(task_progress(task))
            }
            Operation::Snapshot { .. } | Operation::Volume { .. } => Err(self.unsupported(
                "wait",
                "NAS-HA changes are tracked by tasks: snapctl wait --task ID",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for ok in ["partition1", "snap-2026.11:24", "snapctl-20261124T093000Z"] {
            assert!(check_name("n", ok).is_ok(), "{ok}");
        }
        for bad in ["", "..", "-x", "a/b", "a b", "x?y", &"a".repeat(201)] {
            assert!(check_name("n", bad).is_err(), "{bad:?}");
        }
    }
}
