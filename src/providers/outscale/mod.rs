//! 3DS OUTSCALE block storage (`outscale`): volumes and snapshots through the OAPI
//! (`POST /api/v1/<Action>`), with copy, sharing, export/import and clone to a new volume.
//!
//! Wire structs mirror `outscale.yaml` (PascalCase). A snapshot's name is its `Name` tag, as in the
//! console. Creates carry a `ClientToken`, so a throttled or dropped create can be re-sent without
//! making a second snapshot. `State` is an open word: only `completed` counts as taken.

pub mod client;
pub mod config;
pub mod sign;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::Settings;
use crate::error::{ApiError, Error, Result};
use crate::http::Http;
use crate::kind::{Capabilities, ProviderKind, Support};
use crate::model::{
    CloneRequest, CopyRequest, CreateSnapshot, ExportRequest, ExportTask, ImportRequest, Mutation,
    Operation, Progress, ShareRequest, Snapshot, SnapshotKind, SnapshotState, Until, Volume,
    VolumeState,
};
use crate::provider::Provider;
use client::{OscClient, REQUEST_ID, ResponseContext};

/// What `outscale` offers.
pub const CAPABILITIES: Capabilities = Capabilities {
    volumes: Support::Yes,
    list_snapshots: Support::Yes,
    create_snapshot: Support::Yes,
    delete_snapshot: Support::Yes,
    clone: Support::Yes,
    revert: Support::No,
    wait: Support::Yes,
    schedules: Support::No,
    copy: Support::Yes,
    share: Support::Yes,
    export: Support::Yes,
};

/// Default `ResultsPerPage`.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// OUTSCALE ids: `<prefix>` + 8 lower-case hex digits.
pub fn check_id(what: &'static str, prefix: &str, value: &str) -> Result<()> {
    let ok = value
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 8 && rest.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what,
            value: value.to_string(),
            reason: format!("expected {prefix} followed by 8 hex digits, e.g. {prefix}12345678"),
        })
    }
}

fn check_account(value: &str) -> Result<()> {
    if value.len() == 12 && value.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what: "account id",
            value: value.to_string(),
            reason: "expected 12 digits".into(),
        })
    }
}

/// `ResourceTag`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceTag {
    key: String,
    value: String,
}

/// `Snapshot`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OscSnapshot {
    snapshot_id: String,
    volume_id: Option<String>,
    volume_size: Option<u64>,
    state: Option<String>,
    progress: Option<u8>,
    description: Option<String>,
    creation_date: Option<String>,
    #[serde(default)]
    tags: Vec<ResourceTag>,
}

/// `Volume`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OscVolume {
    volume_id: String,
    size: Option<u64>,
    state: Option<String>,
    subregion_name: Option<String>,
    creation_date: Option<String>,
    #[serde(default)]
    tags: Vec<ResourceTag>,
}

/// `SnapshotExportTask`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OscExportTask {
    task_id: String,
    snapshot_id: Option<String>,
    state: Option<String>,
    progress: Option<u8>,
    comment: Option<String>,
    osu_export: Option<OsuExport>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
struct OsuExport {
    disk_image_format: Option<String>,
    osu_bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    osu_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnapshotResponse {
    snapshot: OscSnapshot,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VolumeResponse {
    volume: OscVolume,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExportResponse {
    snapshot_export_task: OscExportTask,
}

/// `CreateSnapshotRequest`.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateSnapshotBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    volume_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_snapshot_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_region_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_location: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshot_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    client_token: String,
}

/// `CreateVolumeRequest`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateVolumeBody<'a> {
    snapshot_id: &'a str,
    subregion_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iops: Option<u32>,
    client_token: String,
}

/// A fresh idempotency token: one per logical operation, reused by every retry of it.
fn client_token() -> String {
    format!(
        "snapctl-{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    )
}

fn parse_time(s: Option<&str>) -> Option<Timestamp> {
    s.and_then(|s| s.parse::<Timestamp>().ok())
}

fn tag(tags: &[ResourceTag], key: &str) -> Option<String> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.clone())
}

/// `State`: only `completed` is taken; `error` failed; anything else (`in-queue`, `pending`,
/// `pending/queued`, `importing`, words added later) is still going.
fn snapshot_state(state: &str) -> SnapshotState {
    match state {
        "completed" => SnapshotState::Available,
        "error" => SnapshotState::Error,
        "deleting" => SnapshotState::Deleting,
        "in-queue" | "pending" | "pending/queued" | "importing" => SnapshotState::Creating,
        _ => SnapshotState::Unknown,
    }
}

fn volume_state(state: &str) -> VolumeState {
    match state {
        "available" | "in-use" => VolumeState::Available,
        "creating" => VolumeState::Creating,
        "deleting" => VolumeState::Deleting,
        "error" => VolumeState::Error,
        _ => VolumeState::Unknown,
    }
}

fn map_snapshot(s: OscSnapshot) -> Snapshot {
    Snapshot {
        provider: ProviderKind::Outscale,
        name: tag(&s.tags, "Name"),
        state: s
            .state
            .as_deref()
            .map(snapshot_state)
            .unwrap_or(SnapshotState::Unknown),
        created_at: parse_time(s.creation_date.as_deref()),
        id: s.snapshot_id,
        volume_id: s.volume_id,
        description: s.description,
        provider_state: s.state,
        kind: SnapshotKind::Manual,
        size_gib: s.volume_size,
        expires_at: None,
    }
}

fn map_volume(v: OscVolume) -> Volume {
    Volume {
        provider: ProviderKind::Outscale,
        name: tag(&v.tags, "Name"),
        state: v
            .state
            .as_deref()
            .map(volume_state)
            .unwrap_or(VolumeState::Unknown),
        created_at: parse_time(v.creation_date.as_deref()),
        id: v.volume_id,
        size_gib: v.size,
        provider_state: v.state,
    }
}

fn map_export(t: OscExportTask) -> ExportTask {
    let (format, bucket, prefix) = match t.osu_export {
        Some(o) => (o.disk_image_format, o.osu_bucket, o.osu_prefix),
        None => (None, None, None),
    };
    ExportTask {
        provider: ProviderKind::Outscale,
        id: t.task_id,
        snapshot_id: t.snapshot_id,
        state: t.state,
        progress: t.progress,
        bucket,
        prefix,
        format,
        comment: t.comment,
    }
}

fn not_found(what: String) -> Error {
    Error::NotFound(Box::new(ApiError {
        provider: ProviderKind::Outscale,
        action: what.clone(),
        status: 404,
        code: None,
        message: format!("{what}: none is visible to this account in this region"),
        request_id_header: REQUEST_ID,
        request_id: None,
        hint: Some("check the id, the region (--region / OSC_REGION) and the account".into()),
    }))
}

/// The OUTSCALE provider for one region and key pair.
#[derive(Debug)]
pub struct Outscale {
    client: OscClient,
}

impl Outscale {
    /// Build from settings (no request is sent).
    pub fn from_settings(
        settings: &Settings,
        http: Arc<Http>,
        warnings: &mut Vec<String>,
    ) -> Result<Self> {
        let config = config::resolve(settings, warnings)?;
        let page = settings.profile.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        Ok(Outscale {
            client: OscClient::new(http, config, page),
        })
    }

    async fn snapshot(&self, id: &str) -> Result<Option<OscSnapshot>> {
        check_id("snapshot id", "snap-", id)?;
        let mut list: Vec<OscSnapshot> = self
            .client
            .read_all(
                "ReadSnapshots",
                json!({ "SnapshotIds": [id] }),
                &format!("read snapshot {id}"),
            )
            .await?;
        Ok(list.pop())
    }

    async fn volume(&self, id: &str) -> Result<Option<OscVolume>> {
        check_id("volume id", "vol-", id)?;
        let mut list: Vec<OscVolume> = self
            .client
            .read_all(
                "ReadVolumes",
                json!({ "VolumeIds": [id] }),
                &format!("read volume {id}"),
            )
            .await?;
        Ok(list.pop())
    }

    async fn tag_resource(&self, id: &str, tags: Vec<ResourceTag>) -> Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        let _: ResponseContextOnly = self
            .client
            .call(
                "CreateTags",
                &json!({ "ResourceIds": [id], "Tags": tags }),
                true,
                &format!("tag {id}"),
            )
            .await
            .map_err(|e| match e {
                Error::Api(mut api) => {
                    api.hint = Some(format!(
                        "{id} was created but not tagged; tag it by hand or delete it"
                    ));
                    Error::Api(api)
                }
                other => other,
            })?;
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResponseContextOnly {
    #[allow(dead_code)]
    response_context: Option<ResponseContext>,
}

/// A mutation's request, built and validated once for both the real call and `DryRun`.
struct PreparedCall {
    action: &'static str,
    body: serde_json::Value,
    /// Tags to apply to what the call creates.
    tags: Vec<ResourceTag>,
    what: String,
    /// Reads, deletes and creates carrying a ClientToken may be re-sent.
    idempotent: bool,
}

fn revert_unsupported(volume: &str, snapshot: &str) -> Error {
    Error::Unsupported {
        provider: ProviderKind::Outscale,
        operation: "revert",
        hint: format!(
            "OUTSCALE cannot revert a volume in place; clone the snapshot into a new volume and swap it in: snapctl -p outscale clone --snapshot {snapshot} --wait, then unlink {volume} and link the new volume to the VM"
        ),
    }
}

fn schedules_unsupported() -> Error {
    Error::Unsupported {
        provider: ProviderKind::Outscale,
        operation: "schedule",
        hint: "OUTSCALE has no server-side snapshot schedules; run `snapctl rotate --create` from cron (see the README)".into(),
    }
}

fn to_body<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("request bodies are plain serde structs")
}

fn tags_of(name: Option<&String>, extra: &[(String, String)]) -> Result<Vec<ResourceTag>> {
    let mut tags: Vec<ResourceTag> = Vec::new();
    if let Some(name) = name {
        tags.push(ResourceTag {
            key: "Name".into(),
            value: name.clone(),
        });
    }
    for (k, v) in extra {
        if k.is_empty() || k.len() > 255 || v.len() > 255 {
            return Err(Error::InvalidInput {
                what: "tag",
                value: format!("{k}={v}"),
                reason: "keys are 1-255 characters, values at most 255".into(),
            });
        }
        tags.push(ResourceTag {
            key: k.clone(),
            value: v.clone(),
        });
    }
    Ok(tags)
}

impl Outscale {
    async fn send<T: serde::de::DeserializeOwned>(&self, p: &PreparedCall) -> Result<T> {
        self.client
            .call(p.action, &p.body, p.idempotent, &p.what)
            .await
    }

    /// Validate a mutation and build its request, before anything is sent.
    async fn prepare(&self, m: &Mutation<'_>) -> Result<PreparedCall> {
        match m {
            Mutation::CreateSnapshot(req) => {
                check_id("volume id", "vol-", &req.volume)?;
                if req.expires_at.is_some() {
                    return Err(Error::Usage {
                        message: "OUTSCALE snapshots do not expire by themselves".into(),
                        hint: Some(
                            "drop --expires and let `snapctl rotate` delete old snapshots".into(),
                        ),
                    });
                }
                let tags = tags_of(req.name.as_ref(), &req.tags)?;
                let body = CreateSnapshotBody {
                    volume_id: Some(&req.volume),
                    description: req.description.as_deref(),
                    client_token: client_token(),
                    ..CreateSnapshotBody::default()
                };
                Ok(PreparedCall {
                    action: "CreateSnapshot",
                    body: to_body(&body),
                    tags,
                    what: format!("create a snapshot of volume {}", req.volume),
                    idempotent: true,
                })
            }
            Mutation::DeleteSnapshot { id, .. } => {
                check_id("snapshot id", "snap-", id)?;
                Ok(PreparedCall {
                    action: "DeleteSnapshot",
                    body: json!({ "SnapshotId": id }),
                    tags: vec![],
                    what: format!("delete snapshot {id}"),
                    idempotent: true,
                })
            }
            Mutation::Clone(req) => self.prepare_clone(req).await,
            Mutation::Hold { .. } => Err(Error::Unsupported {
                provider: ProviderKind::Outscale,
                operation: "snapshot hold",
                hint: "OUTSCALE snapshots are all manual; there is nothing to hold".into(),
            }),
            Mutation::Update(req) => {
                check_id("snapshot id", "snap-", &req.snapshot)?;
                if req.description.is_some() {
                    return Err(Error::Usage {
                        message: "OUTSCALE cannot change a snapshot's description".into(),
                        hint: Some(
                            "change its name (the Name tag) with --name, or add a tag".into(),
                        ),
                    });
                }
                let name = req
                    .name
                    .as_ref()
                    .ok_or_else(|| Error::usage("give --name"))?;
                Ok(PreparedCall {
                    action: "CreateTags",
                    body: json!({
                        "ResourceIds": [req.snapshot],
                        "Tags": tags_of(Some(name), &[])?,
                    }),
                    tags: vec![],
                    what: format!("rename snapshot {}", req.snapshot),
                    idempotent: true,
                })
            }
            Mutation::CloneVolumes(_) => Err(Error::Unsupported {
                provider: ProviderKind::Outscale,
                operation: "clone of volumes",
                hint: "clone one volume at a time: snapctl -p outscale clone --volume vol-…".into(),
            }),
            Mutation::Revert { volume, snapshot } => Err(revert_unsupported(volume, snapshot)),
            Mutation::AddSchedule { .. } | Mutation::RemoveSchedule { .. } => {
                Err(schedules_unsupported())
            }
            Mutation::Copy(req) => {
                check_id("snapshot id", "snap-", &req.snapshot)?;
                let region = self.client.region();
                let source_region = req.source_region.as_deref().unwrap_or(region);
                if source_region != region {
                    return Err(Error::Usage {
                        message: format!(
                            "OUTSCALE copies snapshots only within the account's region ({region}), not from {source_region}"
                        ),
                        hint: Some(format!(
                            "to move a snapshot across regions, export it (snapctl -p outscale --region {source_region} snapshot export {} --bucket B --wait), then import the pre-signed URL in {region} (snapctl -p outscale snapshot import --file-location URL --size BYTES)",
                            req.snapshot
                        )),
                    });
                }
                let body = CreateSnapshotBody {
                    source_snapshot_id: Some(&req.snapshot),
                    source_region_name: Some(source_region),
                    description: req.description.as_deref(),
                    client_token: client_token(),
                    ..CreateSnapshotBody::default()
                };
                Ok(PreparedCall {
                    action: "CreateSnapshot",
                    body: to_body(&body),
                    tags: vec![],
                    what: format!("copy snapshot {}", req.snapshot),
                    idempotent: true,
                })
            }
            Mutation::Share(req) => {
                check_id("snapshot id", "snap-", &req.snapshot)?;
                req.accounts.iter().try_for_each(|a| check_account(a))?;
                if req.accounts.is_empty() && !req.public {
                    return Err(Error::usage("give --account ID (repeatable) or --public"));
                }
                let mut change = serde_json::Map::new();
                if !req.accounts.is_empty() {
                    change.insert("AccountIds".into(), json!(req.accounts));
                }
                if req.public {
                    change.insert("GlobalPermission".into(), json!(true));
                }
                let key = if req.remove { "Removals" } else { "Additions" };
                let verb = if req.remove { "unshare" } else { "share" };
                Ok(PreparedCall {
                    action: "UpdateSnapshot",
                    body: json!({
                        "SnapshotId": req.snapshot,
                        "PermissionsToCreateVolume": { key: change },
                    }),
                    tags: vec![],
                    what: format!("{verb} snapshot {}", req.snapshot),
                    idempotent: true,
                })
            }
            Mutation::Export(req) => {
                check_id("snapshot id", "snap-", &req.snapshot)?;
                if !matches!(req.format.as_str(), "qcow2" | "raw") {
                    return Err(Error::InvalidInput {
                        what: "format",
                        value: req.format.clone(),
                        reason: "expected qcow2 or raw".into(),
                    });
                }
                if req.bucket.is_empty() {
                    return Err(Error::usage("--bucket cannot be empty"));
                }
                Ok(PreparedCall {
                    action: "CreateSnapshotExportTask",
                    body: json!({
                        "SnapshotId": req.snapshot,
                        "OsuExport": OsuExport {
                            disk_image_format: Some(req.format.clone()),
                            osu_bucket: Some(req.bucket.clone()),
                            osu_prefix: req.prefix.clone(),
                        },
                    }),
                    tags: vec![],
                    what: format!("export snapshot {} to bucket {}", req.snapshot, req.bucket),
                    // No ClientToken on export tasks: never re-sent once it may have arrived.
                    idempotent: false,
                })
            }
            Mutation::Import(req) => {
                let url =
                    reqwest::Url::parse(&req.file_location).map_err(|e| Error::InvalidInput {
                        what: "file location",
                        value: "(the URL given)".into(),
                        reason: format!("not a URL: {e}"),
                    })?;
                if url.scheme() != "https" {
                    return Err(Error::InvalidInput {
                        what: "file location",
                        value: url.scheme().to_string(),
                        reason: "expected an https pre-signed URL".into(),
                    });
                }
                if req.size_bytes == 0 {
                    return Err(Error::usage("--size must be the image's size in bytes"));
                }
                let body = CreateSnapshotBody {
                    file_location: Some(&req.file_location),
                    snapshot_size: Some(req.size_bytes),
                    description: req.description.as_deref(),
                    client_token: client_token(),
                    ..CreateSnapshotBody::default()
                };
                Ok(PreparedCall {
                    action: "CreateSnapshot",
                    body: to_body(&body),
                    tags: tags_of(req.name.as_ref(), &[])?,
                    what: "import a snapshot from a bucket".into(),
                    idempotent: true,
                })
            }
        }
    }

    async fn prepare_clone(&self, req: &CloneRequest) -> Result<PreparedCall> {
        check_id("snapshot id", "snap-", &req.snapshot)?;
        match (req.volume_type.as_deref(), req.iops) {
            (Some("standard" | "gp2") | None, None) | (Some("io1"), Some(_)) => {}
            (Some("io1"), None) => {
                return Err(Error::Usage {
                    message: "io1 volumes need --iops".into(),
                    hint: Some(
                        "e.g. --volume-type io1 --iops 1000 (at most 300 IOPS per GiB, 13000 in all)"
                            .into(),
                    ),
                });
            }
            (Some(t @ ("standard" | "gp2")), Some(_)) => {
                return Err(Error::Usage {
                    message: format!("--iops applies to io1 volumes only, not {t}"),
                    hint: None,
                });
            }
            (None, Some(_)) => {
                return Err(Error::Usage {
                    message: "--iops needs --volume-type io1".into(),
                    hint: None,
                });
            }
            (Some(other), _) => {
                return Err(Error::InvalidInput {
                    what: "volume type",
                    value: other.to_string(),
                    reason: "expected standard, gp2 or io1".into(),
                });
            }
        }
        let snap = self
            .snapshot(&req.snapshot)
            .await?
            .ok_or_else(|| not_found(format!("read snapshot {}", req.snapshot)))?;
        if snap.state.as_deref() != Some("completed") {
            return Err(Error::Usage {
                message: format!(
                    "cannot clone snapshot {}: it is {}, not completed",
                    req.snapshot,
                    snap.state.as_deref().unwrap_or("in an unknown state")
                ),
                hint: Some(format!(
                    "wait for it: snapctl -p outscale snapshot show {}",
                    req.snapshot
                )),
            });
        }
        if let (Some(want), Some(min)) = (req.size_gib, snap.volume_size)
            && want < min
        {
            return Err(Error::InvalidInput {
                what: "size",
                value: want.to_string(),
                reason: format!("the snapshot holds {min} GiB; the new volume cannot be smaller"),
            });
        }
        let subregion = match &req.subregion {
            Some(s) => s.clone(),
            None => {
                let source = match snap.volume_id.as_deref() {
                    Some(v) if check_id("volume id", "vol-", v).is_ok() => self.volume(v).await?,
                    _ => None,
                };
                source
                    .and_then(|v| v.subregion_name)
                    .ok_or_else(|| Error::Usage {
                        message: format!(
                            "cannot tell where to create the clone: the source volume of {} is gone",
                            req.snapshot
                        ),
                        hint: Some(format!(
                            "pass --subregion, e.g. --subregion {}a",
                            self.client.region()
                        )),
                    })?
            }
        };
        let body = CreateVolumeBody {
            snapshot_id: &req.snapshot,
            subregion_name: &subregion,
            size: req.size_gib,
            volume_type: req.volume_type.as_deref(),
            iops: req.iops,
            client_token: client_token(),
        };
        let mut tags = tags_of(req.name.as_ref(), &[])?;
        if let Some(d) = &req.description {
            tags.push(ResourceTag {
                key: "Description".into(),
                value: d.clone(),
            });
        }
        Ok(PreparedCall {
            action: "CreateVolume",
            body: to_body(&body),
            tags,
            what: format!("create a volume from snapshot {}", req.snapshot),
            idempotent: true,
        })
    }
}

#[async_trait]
impl Provider for Outscale {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Outscale
    }

    fn scope(&self) -> String {
        self.client.region().to_string()
    }

    async fn list_volumes(&self) -> Result<Vec<Volume>> {
        let list: Vec<OscVolume> = self
            .client
            .read_all("ReadVolumes", json!({}), "list volumes")
            .await?;
        Ok(list.into_iter().map(map_volume).collect())
    }

    async fn get_volume(&self, id: &str) -> Result<Volume> {
        self.volume(id)
            .await?
            .map(map_volume)
            .ok_or_else(|| not_found(format!("read volume {id}")))
    }

    async fn list_snapshots(&self, volume: Option<&str>) -> Result<Vec<Snapshot>> {
        let filters = match volume {
            Some(v) => {
                check_id("volume id", "vol-", v)?;
                json!({ "VolumeIds": [v] })
            }
            None => json!({}),
        };
        let what = match volume {
            Some(v) => format!("list snapshots of volume {v}"),
            None => "list snapshots".into(),
        };
        let list: Vec<OscSnapshot> = self
            .client
            .read_all("ReadSnapshots", filters, &what)
            .await?;
        Ok(list.into_iter().map(map_snapshot).collect())
    }

    async fn get_snapshot(&self, _volume: Option<&str>, id: &str) -> Result<Snapshot> {
        self.snapshot(id)
            .await?
            .map(map_snapshot)
            .ok_or_else(|| not_found(format!("read snapshot {id}")))
    }

    async fn create_snapshot(&self, req: &CreateSnapshot) -> Result<(Snapshot, Operation)> {
        let prepared = self.prepare(&Mutation::CreateSnapshot(req)).await?;
        let resp: SnapshotResponse = self.send(&prepared).await?;
        let id = resp.snapshot.snapshot_id.clone();
        self.tag_resource(&id, prepared.tags).await?;
        let mut snap = map_snapshot(resp.snapshot);
        if snap.name.is_none() {
            snap.name = req.name.clone();
        }
        Ok((
            snap,
            Operation::Snapshot {
                volume: Some(req.volume.clone()),
                id,
                until: Until::Ready,
            },
        ))
    }

    async fn delete_snapshot(&self, volume: Option<&str>, id: &str) -> Result<Operation> {
        let prepared = self
            .prepare(&Mutation::DeleteSnapshot { volume, id })
            .await?;
        let _: ResponseContextOnly = self.send(&prepared).await?;
        Ok(Operation::Snapshot {
            volume: None,
            id: id.to_string(),
            until: Until::Gone,
        })
    }

    async fn clone_volume(&self, req: &CloneRequest) -> Result<(Volume, Operation)> {
        let prepared = self.prepare(&Mutation::Clone(req)).await?;
        let resp: VolumeResponse = self.send(&prepared).await?;
        let id = resp.volume.volume_id.clone();
        self.tag_resource(&id, prepared.tags).await?;
        let mut volume = map_volume(resp.volume);
        if volume.name.is_none() {
            volume.name = req.name.clone();
        }
        Ok((
            volume,
            Operation::Volume {
                id,
                until: Until::Ready,
            },
        ))
    }

    async fn revert(&self, volume: &str, snapshot: &str) -> Result<Operation> {
        Err(revert_unsupported(volume, snapshot))
    }

    async fn list_schedules(
        &self,
        _volume: &str,
        _all: bool,
    ) -> Result<Vec<crate::model::Schedule>> {
        Err(schedules_unsupported())
    }

    async fn add_schedule(
        &self,
        _volume: &str,
        _spec: &crate::model::ScheduleSpec,
    ) -> Result<crate::model::ScheduleChange> {
        Err(schedules_unsupported())
    }

    async fn remove_schedule(
        &self,
        _volume: &str,
        _removal: &crate::model::ScheduleRemoval,
    ) -> Result<crate::model::ScheduleChange> {
        Err(schedules_unsupported())
    }

    async fn copy_snapshot(&self, req: &CopyRequest) -> Result<(Snapshot, Operation)> {
        let prepared = self.prepare(&Mutation::Copy(req)).await?;
        let resp: SnapshotResponse = self.send(&prepared).await?;
        let snap = map_snapshot(resp.snapshot);
        let op = Operation::Snapshot {
            volume: None,
            id: snap.id.clone(),
            until: Until::Ready,
        };
        Ok((snap, op))
    }

    async fn share_snapshot(&self, req: &ShareRequest) -> Result<Snapshot> {
        let prepared = self.prepare(&Mutation::Share(req)).await?;
        let resp: SnapshotResponse = self.send(&prepared).await?;
        Ok(map_snapshot(resp.snapshot))
    }

    async fn export_snapshot(&self, req: &ExportRequest) -> Result<(ExportTask, Operation)> {
        let prepared = self.prepare(&Mutation::Export(req)).await?;
        let resp: ExportResponse = self.send(&prepared).await?;
        let task = map_export(resp.snapshot_export_task);
        let op = Operation::Task {
            id: task.id.clone(),
        };
        Ok((task, op))
    }

    async fn import_snapshot(&self, req: &ImportRequest) -> Result<(Snapshot, Operation)> {
        let prepared = self.prepare(&Mutation::Import(req)).await?;
        let resp: SnapshotResponse = self.send(&prepared).await?;
        let id = resp.snapshot.snapshot_id.clone();
        self.tag_resource(&id, prepared.tags).await?;
        let mut snap = map_snapshot(resp.snapshot);
        if snap.name.is_none() {
            snap.name = req.name.clone();
        }
        Ok((
            snap,
            Operation::Snapshot {
                volume: None,
                id,
                until: Until::Ready,
            },
        ))
    }

    async fn update_snapshot(&self, req: &crate::model::SnapshotUpdate) -> Result<Snapshot> {
        let prepared = self.prepare(&Mutation::Update(req)).await?;
        let _: ResponseContextOnly = self.send(&prepared).await?;
        self.get_snapshot(None, &req.snapshot).await
    }

    async fn poll(&self, op: &Operation) -> Result<Progress> {
        match op {
            Operation::Done => Ok(Progress::Done),
            Operation::Snapshot { id, until, .. } => match (self.snapshot(id).await?, until) {
                (None, Until::Gone) => Ok(Progress::Done),
                (None, Until::Ready) => Err(not_found(format!("read snapshot {id}"))),
                (Some(s), until) => {
                    let percent = s.progress;
                    let s = map_snapshot(s);
                    Ok(Progress::of_snapshot(
                        s.state,
                        s.provider_state,
                        *until,
                        percent,
                    ))
                }
            },
            Operation::Volume { id, until } => match (self.volume(id).await?, until) {
                (None, Until::Gone) => Ok(Progress::Done),
                (None, Until::Ready) => Err(not_found(format!("read volume {id}"))),
                (Some(v), until) => {
                    let v = map_volume(v);
                    Ok(Progress::of_volume(v.state, v.provider_state, *until))
                }
            },
            Operation::Task { id } => {
                check_id("export task id", "snap-export-", id)?;
                let mut tasks: Vec<OscExportTask> = self
                    .client
                    .read_all(
                        "ReadSnapshotExportTasks",
                        json!({ "TaskIds": [id] }),
                        &format!("read export task {id}"),
                    )
                    .await?;
                let task = tasks
                    .pop()
                    .ok_or_else(|| not_found(format!("read export task {id}")))?;
                let state = task.state.clone().unwrap_or_else(|| "unknown".into());
                Ok(match state.as_str() {
                    "completed" => Progress::Done,
                    "cancelled" | "failed" => Progress::Failed {
                        state,
                        message: task.comment,
                    },
                    _ => Progress::Pending {
                        state,
                        percent: task.progress,
                    },
                })
            }
        }
    }
}

/// `K=V` tag arguments.
pub fn parse_tags(raw: &[String]) -> Result<Vec<(String, String)>> {
    let mut seen = BTreeMap::new();
    for t in raw {
        let (k, v) = t.split_once('=').ok_or_else(|| Error::InvalidInput {
            what: "tag",
            value: t.clone(),
            reason: "expected KEY=VALUE".into(),
        })?;
        seen.insert(k.to_string(), v.to_string());
    }
    Ok(seen.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefix_and_eight_hex() {
        assert!(check_id("s", "snap-", "snap-12345678").is_ok());
        assert!(check_id("s", "snap-", "snap-abcdef01").is_ok());
        for bad in [
            "snap-1234567",
            "vol-12345678",
            "snap-1234567g",
            "snap-12345678/",
            "",
        ] {
            assert!(check_id("s", "snap-", bad).is_err(), "{bad}");
        }
        assert!(check_id("t", "snap-export-", "snap-export-12345678").is_ok());
    }

    #[test]
    fn only_completed_is_taken() {
        assert_eq!(snapshot_state("completed"), SnapshotState::Available);
        for going in ["in-queue", "pending", "pending/queued", "importing"] {
            assert_eq!(snapshot_state(going), SnapshotState::Creating);
        }
        assert_eq!(snapshot_state("archiving"), SnapshotState::Unknown);
    }

    #[test]
    fn tags_parse_as_key_value() {
        let t = parse_tags(&["env=prod".into(), "team=".into()]).expect("tags");
        assert_eq!(
            t,
            vec![
                ("env".into(), "prod".into()),
                ("team".into(), String::new())
            ]
        );
        assert!(parse_tags(&["novalue".into()]).is_err());
    }
}
