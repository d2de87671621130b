//! OVHcloud Enterprise File Storage (`ovh-efs`): NetApp shares and their snapshots under
//! `/storage/netapp`.
//!
//! Wire structs mirror the OpenAPI models (`NetAppShare`, `NetAppShareSnapshot`, …) field for field and
//! are mapped to `model` types here; unknown status words map to `unknown` (OVH adds enum values without
//! notice). Every id is checked to be a UUID before a request is built, and the documented limits
//! (manual-only clones, revert to the latest manual snapshot only) are enforced before sending.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::client::{OvhClient, only_service};
use super::config;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::http::Http;
use crate::kind::{Capabilities, ProviderKind, Support};
use crate::model::{
    CloneRequest, CreateSnapshot, Operation, Progress, Schedule, ScheduleChange, ScheduleRemoval,
    ScheduleRule, ScheduleSpec, Snapshot, SnapshotKind, SnapshotState, SnapshotUpdate, Until,
    Volume, VolumeState,
};
use crate::provider::Provider;
pub use crate::providers::check_uuid;

/// What `ovh-efs` offers.
pub const CAPABILITIES: Capabilities = Capabilities {
    volumes: Support::Yes,
    list_snapshots: Support::Yes,
    create_snapshot: Support::Yes,
    delete_snapshot: Support::Yes,
    clone: Support::Yes,
    revert: Support::Yes,
    wait: Support::Yes,
    schedules: Support::Yes,
    copy: Support::No,
    share: Support::No,
    export: Support::No,
};

/// Smallest EFS volume, in GB (EFS FAQ: volumes of 100 GB to 29 TB).
pub const MIN_SHARE_GB: u64 = 100;

/// `NetAppServiceWithIAM` (the fields snapctl uses).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetAppService {
    id: String,
    name: Option<String>,
    region: Option<String>,
}

/// `NetAppShare`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetAppShare {
    id: String,
    name: Option<String>,
    size: Option<u64>,
    created_at: Option<String>,
    status: Option<String>,
}

/// `NetAppShareSnapshot`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NetAppShareSnapshot {
    id: String,
    name: Option<String>,
    description: Option<String>,
    created_at: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    status: Option<String>,
}

/// POST body of `…/share/{shareId}/snapshot`.
#[derive(Debug, Serialize)]
struct SnapshotCreateBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

/// POST body of `…/share` when cloning (`NetAppShare` writable fields).
#[derive(Debug, Serialize)]
struct ShareCreateBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    protocol: &'static str,
    size: u64,
    #[serde(rename = "snapshotID")]
    snapshot_id: &'a str,
}

/// POST body of `…/share/{shareId}/revert`.
#[derive(Debug, Serialize)]
struct RevertBody<'a> {
    #[serde(rename = "snapshotID")]
    snapshot_id: &'a str,
}

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
    /// Build from settings: resolve credentials, and the service (the only one, when not given).
    pub async fn from_settings(
        settings: &Settings,
        http: Arc<Http>,
        warnings: &mut Vec<String>,
    ) -> Result<Self> {
        if let Some(service) = &settings.service {
            check_uuid("service", service)?;
        }
        let config = config::resolve(settings, warnings)?;
        let client = OvhClient::new(http, config, ProviderKind::OvhEfs);
        let service = match &settings.service {
            Some(s) => s.clone(),
            None => pick_only_service(&client).await?,
        };
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
        let wire: Vec<NetAppShareSnapshot> = self
            .client
            .get_json(
                self.share_url(share, &["snapshot"], &[("detail", "true")]),
                &format!("list snapshots of share {share}"),
            )
            .await?;
        Ok(wire.into_iter().map(|s| map_snapshot(s, share)).collect())
    }

    fn need_volume<'a>(&self, volume: Option<&'a str>, what: &str) -> Result<&'a str> {
        volume.ok_or_else(|| Error::Usage {
            message: format!("{what} needs --volume on ovh-efs"),
            hint: Some("EFS snapshots live under their share: pass --volume SHARE_ID (see `snapctl volume list`)".into()),
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

fn parse_time(s: Option<&str>) -> Option<Timestamp> {
    s.and_then(|s| s.parse::<Timestamp>().ok())
}

fn snapshot_state(status: &str) -> SnapshotState {
    match status {
        "available" => SnapshotState::Available,
        "creating" | "manage_starting" => SnapshotState::Creating,
        "deleting" | "unmanage_starting" => SnapshotState::Deleting,
        "restoring" => SnapshotState::Restoring,
        "error" | "error_deleting" | "manage_error" | "unmanage_error" => SnapshotState::Error,
        _ => SnapshotState::Unknown,
    }
}

fn snapshot_kind(kind: Option<&str>) -> SnapshotKind {
    match kind {
        Some("manual") => SnapshotKind::Manual,
        Some("automatic") => SnapshotKind::Automatic,
        // `system`, and any word OVH adds later: never cloned, never rotated.
        _ => SnapshotKind::System,
    }
}

fn volume_state(status: &str) -> VolumeState {
    match status {
        "available" => VolumeState::Available,
        "creating" | "creating_from_snapshot" | "manage_starting" => VolumeState::Creating,
        "extending" | "shrinking" | "migrating" | "migrating_to" | "replication_change" => {
            VolumeState::Updating
        }
        "reverting" => VolumeState::Restoring,
        "deleting" | "deleted" | "unmanage_starting" => VolumeState::Deleting,
        s if s.contains("error") => VolumeState::Error,
        _ => VolumeState::Unknown,
    }
}

fn map_snapshot(s: NetAppShareSnapshot, share: &str) -> Snapshot {
    Snapshot {
        provider: ProviderKind::OvhEfs,
        state: s
            .status
            .as_deref()
            .map(snapshot_state)
            .unwrap_or(SnapshotState::Unknown),
        kind: snapshot_kind(s.kind.as_deref()),
        created_at: parse_time(s.created_at.as_deref()),
        id: s.id,
        volume_id: Some(share.to_string()),
        name: s.name,
        description: s.description,
        provider_state: s.status,
        size_gib: None,
        expires_at: None,
    }
}

fn map_share(s: NetAppShare) -> Volume {
    Volume {
        provider: ProviderKind::OvhEfs,
        state: s
            .status
            .as_deref()
            .map(volume_state)
            .unwrap_or(VolumeState::Unknown),
        created_at: parse_time(s.created_at.as_deref()),
        id: s.id,
        name: s.name,
        size_gib: s.size,
        provider_state: s.status,
    }
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
                "take a manual snapshot with `snapctl snapshot create --volume {share}` and use it"
            )),
        },
    }
}

/// `NetAppSnapshotPolicySchedule`: empty arrays mean "every".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct PolicySchedule {
    minutes: Vec<u8>,
    #[serde(default)]
    hours: Vec<u8>,
    #[serde(default)]
    days: Vec<u8>,
    #[serde(default)]
    months: Vec<u8>,
    #[serde(default)]
    weekdays: Vec<u8>,
}

/// `NetAppSnapshotPolicyRule`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
struct PolicyRule {
    copies: u32,
    prefix: String,
    schedule: PolicySchedule,
}

/// `NetAppSnapshotPolicy`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotPolicy {
    id: String,
    name: Option<String>,
    description: Option<String>,
    is_default: Option<bool>,
    status: Option<String>,
    #[serde(default)]
    rules: Vec<PolicyRule>,
}

/// `GET …/share/{id}/snapshotPolicy`.
#[derive(Debug, Deserialize)]
struct SharePolicy {
    id: String,
}

#[derive(Debug, Serialize)]
struct PolicyCreateBody<'a> {
    name: &'a str,
    description: String,
    rules: Vec<PolicyRule>,
}

#[derive(Debug, Serialize)]
struct AttachBody<'a> {
    #[serde(rename = "snapshotPolicyID")]
    snapshot_policy_id: &'a str,
}

/// Rules per policy (EFS FAQ).
pub const MAX_RULES: usize = 4;

/// Name prefix of the policies snapctl creates (and may delete).
pub const POLICY_PREFIX: &str = "snapctl-";

/// One cron field into the API's list: `*` → `[]` (every), `5`, `1,15`, `1-5`, `*/15`, `0-30/10`.
fn cron_field(text: &str, what: &str, min: u8, max: u8) -> Result<Vec<u8>> {
    let bad = |reason: String| Error::InvalidInput {
        what: "cron field",
        value: format!("{what} {text:?}"),
        reason,
    };
    if text == "*" {
        return Ok(vec![]);
    }
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u8>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| bad(format!("bad step {s:?}")))?,
            ),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a: u8 = a
                .parse()
                .map_err(|_| bad(format!("{a:?} is not a number")))?;
            let b: u8 = b
                .parse()
                .map_err(|_| bad(format!("{b:?} is not a number")))?;
            (a, b)
        } else {
            let v: u8 = range
                .parse()
                .map_err(|_| bad(format!("{range:?} is not a number")))?;
            (v, v)
        };
        if lo < min || hi > max || lo > hi {
            return Err(bad(format!("{what} take values {min} to {max}")));
        }
        out.extend((lo..=hi).step_by(usize::from(step)));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// `MIN HOUR DOM MON DOW` → the API's schedule, with its limits checked.
pub fn parse_cron(cron: &str) -> Result<PolicySchedule> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    let [min, hour, dom, mon, dow] = fields.as_slice() else {
        return Err(Error::InvalidInput {
            what: "cron expression",
            value: cron.to_string(),
            reason: "expected five fields: MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK".into(),
        });
    };
    let minutes = cron_field(min, "minutes", 0, 59)?;
    if minutes.is_empty() {
        return Err(Error::InvalidInput {
            what: "cron expression",
            value: cron.to_string(),
            reason: "EFS needs explicit minutes (a snapshot every minute is not offered)".into(),
        });
    }
    Ok(PolicySchedule {
        minutes,
        hours: cron_field(hour, "hours", 0, 23)?,
        days: cron_field(dom, "days of month", 1, 31)?,
        months: cron_field(mon, "months", 1, 12)?,
        weekdays: cron_field(dow, "weekdays", 0, 6)?,
    })
}

fn cron_text(s: &PolicySchedule) -> String {
    let f = |v: &[u8]| {
        if v.is_empty() {
            "*".to_string()
        } else {
            v.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
        }
    };
    format!(
        "{} {} {} {} {}",
        f(&s.minutes),
        f(&s.hours),
        f(&s.days),
        f(&s.months),
        f(&s.weekdays)
    )
}

/// `--every hour|day|week [--at HH:MM]` → a cron expression (weekly: Sundays).
fn shorthand_cron(every: &str, at: Option<&str>) -> Result<String> {
    let (hour, minute) = match at {
        None => (0u8, 0u8),
        Some(t) => {
            let (h, m) = t.split_once(':').ok_or_else(|| Error::InvalidInput {
                what: "--at",
                value: t.to_string(),
                reason: "expected HH:MM (or :MM for hourly)".into(),
            })?;
            let h: u8 = if h.is_empty() {
                0
            } else {
                h.parse().unwrap_or(99)
            };
            let m: u8 = m.parse().unwrap_or(99);
            if h > 23 || m > 59 {
                return Err(Error::InvalidInput {
                    what: "--at",
                    value: t.to_string(),
                    reason: "hours 0-23, minutes 0-59".into(),
                });
            }
            (h, m)
        }
    };
    match every {
        "hour" => Ok(format!("{minute} * * * *")),
        "day" => Ok(format!("{minute} {hour} * * *")),
        "week" => Ok(format!("{minute} {hour} * * 0")),
        other => Err(Error::InvalidInput {
            what: "--every",
            value: other.to_string(),
            reason: "EFS shorthands are hour, day and week (or give --cron)".into(),
        }),
    }
}

/// The policy rules a `schedule add` asks for, validated against the API's limits.
fn policy_rules(spec: &ScheduleSpec) -> Result<Vec<PolicyRule>> {
    let mut rules = Vec::new();
    for r in &spec.rules {
        rules.push(PolicyRule {
            copies: r.keep,
            prefix: r.prefix.clone(),
            schedule: parse_cron(&r.cron)?,
        });
    }
    if rules.is_empty() {
        return Err(Error::Usage {
            message: "schedule add needs a rule on ovh-efs".into(),
            hint: Some(
                "e.g. --prefix daily --keep 7 --every day --at 02:30, or --cron '30 2 * * *', or --rule 'daily:7:30 2 * * *' (up to 4)"
                    .into(),
            ),
        });
    }
    if rules.len() > MAX_RULES {
        return Err(Error::Usage {
            message: format!(
                "{} rules given; an EFS snapshot policy holds at most {MAX_RULES}",
                rules.len()
            ),
            hint: None,
        });
    }
    for r in &rules {
        if r.copies == 0 {
            return Err(Error::InvalidInput {
                what: "--keep",
                value: "0".into(),
                reason: "a rule keeps at least one copy".into(),
            });
        }
        if r.prefix.is_empty()
            || !r
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(Error::InvalidInput {
                what: "--prefix",
                value: r.prefix.clone(),
                reason: "letters, digits and - _ . only".into(),
            });
        }
    }
    Ok(rules)
}

impl Efs {
    fn policy_url(&self, id: Option<&str>) -> reqwest::Url {
        let mut segs = vec!["storage", "netapp", self.service.as_str(), "snapshotPolicy"];
        if let Some(id) = id {
            segs.push(id);
        }
        self.client.url(&segs, &[])
    }

    async fn policies(&self) -> Result<Vec<SnapshotPolicy>> {
        self.client
            .get_json(
                self.policy_url(None),
                &format!("list the snapshot policies of service {}", self.service),
            )
            .await
    }

    async fn policy(&self, id: &str) -> Result<SnapshotPolicy> {
        check_uuid("snapshot policy id", id)?;
        self.client
            .get_json(
                self.policy_url(Some(id)),
                &format!("read snapshot policy {id}"),
            )
            .await
    }

    async fn share_policy(&self, share: &str) -> Result<SharePolicy> {
        self.client
            .get_json(
                self.share_url(share, &["snapshotPolicy"], &[]),
                &format!("read the snapshot policy of share {share}"),
            )
            .await
    }

    async fn attach(&self, share: &str, policy: &str) -> Result<()> {
        self.client
            .send_json(
                Method::PUT,
                self.share_url(share, &["snapshotPolicy"], &[]),
                &AttachBody {
                    snapshot_policy_id: policy,
                },
                &format!("attach snapshot policy {policy} to share {share}"),
            )
            .await?;
        Ok(())
    }

    fn map_policy(&self, p: SnapshotPolicy, share: Option<&str>) -> Schedule {
        Schedule {
            provider: ProviderKind::OvhEfs,
            volume_id: share.map(str::to_string),
            rules: p
                .rules
                .iter()
                .map(|r| ScheduleRule {
                    schedule: cron_text(&r.schedule),
                    keep: Some(r.copies),
                    prefix: Some(r.prefix.clone()),
                })
                .collect(),
            id: p.id,
            name: p.name,
            description: p.description,
            state: p.status,
            is_default: p.is_default,
        }
    }

    /// Poll a new policy until `available` (it cannot be attached before), in the shared loop.
    async fn wait_policy(&self, id: &str) -> Result<()> {
        let opts = crate::wait::WaitOptions {
            timeout: self.policy_wait,
            interval: self.poll_interval,
            show_progress: false,
        };
        crate::wait::poll_until(
            &format!("snapshot policy {id} to become available"),
            &opts,
            || async {
                let p = self.policy(id).await?;
                Ok(match p.status.as_deref() {
                    Some("available") => Progress::Done,
                    Some("error") => Progress::Failed {
                        state: "error".into(),
                        message: None,
                    },
                    other => Progress::Pending {
                        state: other.unwrap_or("unknown").to_string(),
                        percent: None,
                    },
                })
            },
        )
        .await
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
        let shares: Vec<NetAppShare> = self
            .client
            .get_json(url, &format!("list shares of service {}", self.service))
            .await?;
        Ok(shares.into_iter().map(map_share).collect())
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
                    "wait until it is available: snapctl snapshot show {} --volume {share}",
                    snap.id
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
                    "to go further back, clone this snapshot instead (snapctl clone --volume {volume} --snapshot {snapshot}), or delete the newer snapshots first (their data is lost): snapctl snapshot delete {} --volume {volume}",
                    ids.join(" ")
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
        check_uuid("share id", volume)?;
        let attached = self.share_policy(volume).await?;
        if all {
            let mut out: Vec<Schedule> = self
                .policies()
                .await?
                .into_iter()
                .map(|p| {
                    let on_share = p.id == attached.id;
                    self.map_policy(p, on_share.then_some(volume))
                })
                .collect();
            // The attached policy first.
            out.sort_by_key(|s| s.volume_id.is_none());
            Ok(out)
        } else {
            Ok(vec![self.map_policy(
                self.policy(&attached.id).await?,
                Some(volume),
            )])
        }
    }

    async fn add_schedule(&self, volume: &str, spec: &ScheduleSpec) -> Result<ScheduleChange> {
        check_uuid("share id", volume)?;
        let mut spec = spec.clone();
        if let Some(every) = spec.every.clone() {
            // The shorthand fills the cron of rules given without one.
            let cron = shorthand_cron(&every, spec.at.as_deref())?;
            for r in spec.rules.iter_mut().filter(|r| r.cron.is_empty()) {
                r.cron = cron.clone();
            }
        }
        if spec.rules.iter().any(|r| r.cron.is_empty()) {
            return Err(Error::usage(
                "each rule needs a schedule: --cron 'MIN HOUR DOM MON DOW' or --every hour|day|week",
            ));
        }
        let rules = policy_rules(&spec)?;
        let previous = self.share_policy(volume).await?;
        let previous = self.policy(&previous.id).await?;
        let name = spec.name.clone().unwrap_or_else(|| {
            format!(
                "{POLICY_PREFIX}{}-{}",
                &volume[..8],
                jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ")
            )
        });
        let body = PolicyCreateBody {
            name: &name,
            description: format!("made by snapctl for share {volume}"),
            rules,
        };
        let what = format!("create snapshot policy {name}");
        let resp = self
            .client
            .send_json(Method::POST, self.policy_url(None), &body, &what)
            .await?;
        let created: SnapshotPolicy = self.client.decode(&resp, &what)?;
        self.wait_policy(&created.id).await?;
        self.attach(volume, &created.id).await?;
        let mut notes = vec![format!(
            "snapshot policy {} ({name}) is attached to share {volume}; EFS rules cannot be edited later: to change them, add a new schedule",
            created.id
        )];
        if previous.is_default != Some(true) {
            notes.push(format!(
                "it replaces policy {} ({}), which stays in the service (`snapctl schedule list --all`)",
                previous.id,
                previous.name.as_deref().unwrap_or("unnamed")
            ));
        }
        Ok(ScheduleChange {
            op: Operation::Done,
            notes,
        })
    }

    async fn remove_schedule(
        &self,
        volume: &str,
        removal: &ScheduleRemoval,
    ) -> Result<ScheduleChange> {
        check_uuid("share id", volume)?;
        if removal.every.is_some() {
            return Err(Error::usage(
                "--every applies to ovh-nasha; EFS detaches the whole policy (optionally --to POLICY_ID)",
            ));
        }
        let current = self.share_policy(volume).await?;
        let current = self.policy(&current.id).await?;
        let target = match &removal.to {
            Some(id) => self.policy(id).await?,
            None => self
                .policies()
                .await?
                .into_iter()
                .find(|p| p.is_default == Some(true))
                .ok_or_else(|| Error::Usage {
                    message: format!("service {} has no default snapshot policy", self.service),
                    hint: Some("name the policy to attach instead with --to POLICY_ID".into()),
                })?,
        };
        let mut notes = Vec::new();
        if current.id == target.id {
            notes.push(format!(
                "share {volume} already uses policy {} ({}); nothing to do",
                target.id,
                target.name.as_deref().unwrap_or("unnamed")
            ));
            return Ok(ScheduleChange {
                op: Operation::Done,
                notes,
            });
        }
        self.attach(volume, &target.id).await?;
        notes.push(format!(
            "share {volume} now uses policy {} ({})",
            target.id,
            target.name.as_deref().unwrap_or("unnamed")
        ));
        // Delete the old policy only if snapctl made it and no other share uses it.
        let ours = current
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with(POLICY_PREFIX))
            && current.is_default != Some(true);
        if !ours {
            notes.push(format!(
                "policy {} was not made by snapctl; it stays in the service",
                current.id
            ));
        } else {
            let mut users = Vec::new();
            for share in self.list_volumes().await? {
                if share.id != volume && self.share_policy(&share.id).await?.id == current.id {
                    users.push(share.id);
                }
            }
            if users.is_empty() {
                self.client
                    .call(
                        Method::DELETE,
                        self.policy_url(Some(&current.id)),
                        None,
                        &format!("delete snapshot policy {}", current.id),
                    )
                    .await?;
                notes.push(format!(
                    "deleted policy {}, which nothing uses any more",
                    current.id
                ));
            } else {
                notes.push(format!(
                    "policy {} stays: shares {} still use it",
                    current.id,
                    users.join(", ")
                ));
            }
        }
        Ok(ScheduleChange {
            op: Operation::Done,
            notes,
        })
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
    fn unknown_status_words_are_unknown_and_unknown_types_are_never_manual() {
        assert_eq!(snapshot_state("frobnicating"), SnapshotState::Unknown);
        assert_eq!(
            volume_state("shrinking_possible_data_loss_error"),
            VolumeState::Error
        );
        assert_eq!(
            volume_state("creating_from_snapshot"),
            VolumeState::Creating
        );
        assert_eq!(snapshot_kind(Some("pinned")), SnapshotKind::System);
        assert_eq!(snapshot_kind(None), SnapshotKind::System);
    }

    #[test]
    fn urls_encode_segments() {
        let http = Arc::new(Http::new(crate::http::HttpConfig::default()).expect("client"));
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
