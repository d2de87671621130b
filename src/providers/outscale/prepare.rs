//! OUTSCALE mutations prepared once: each is validated and turned into the exact OAPI call
//! (action, body with its `ClientToken`, tags to apply after) before anything is sent. The real run
//! sends it; under `--dry-run` the client sends the same body with `DryRun: true` instead.

use super::*;

/// A mutation's request, built and validated once for both the real call and `DryRun`.
pub(super) struct PreparedCall {
    pub(super) action: &'static str,
    pub(super) body: serde_json::Value,
    /// Tags to apply to what the call creates.
    pub(super) tags: Vec<ResourceTag>,
    pub(super) what: String,
    /// Reads, deletes and creates carrying a ClientToken may be re-sent.
    pub(super) idempotent: bool,
}

pub(super) fn revert_unsupported(volume: &str, snapshot: &str) -> Error {
    Error::Unsupported {
        provider: ProviderKind::Outscale,
        operation: "revert",
        hint: format!(
            "OUTSCALE cannot revert a volume in place; clone the snapshot into a new volume and swap it in: snapctl -p outscale clone --snapshot {snapshot} --wait, then unlink {volume} and link the new volume to the VM"
        ),
    }
}

pub(super) fn schedules_unsupported() -> Error {
    Error::Unsupported {
        provider: ProviderKind::Outscale,
        operation: "schedule",
        hint: "OUTSCALE has no server-side snapshot schedules; run `snapctl rotate --create` from cron (see docs/rotation.md)".into(),
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

/// A snapshot of a volume, its `ClientToken` the policy's idempotency key when it has one.
fn prepare_create(req: &crate::model::CreateSnapshot) -> Result<PreparedCall> {
    check_id("volume id", "vol-", &req.volume)?;
    if req.expires_at.is_some() {
        return Err(Error::Usage {
            message: "OUTSCALE snapshots do not expire by themselves".into(),
            hint: Some("drop --expires and let `snapctl rotate` delete old snapshots".into()),
        });
    }
    let tags = tags_of(req.name.as_ref(), &req.tags)?;
    let body = CreateSnapshotBody {
        volume_id: Some(&req.volume),
        description: req.description.as_deref(),
        client_token: req.idempotency_key.clone().unwrap_or_else(client_token),
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

/// A rename (the `Name` tag): the API cannot change a description.
fn prepare_update(req: &crate::model::SnapshotUpdate) -> Result<PreparedCall> {
    check_id("snapshot id", "snap-", &req.snapshot)?;
    if req.description.is_some() {
        // The API has no call that changes a snapshot's description: not offered.
        return Err(Error::Unsupported {
            provider: ProviderKind::Outscale,
            operation: "snapshot update --description",
            hint: format!(
                "an OUTSCALE snapshot keeps the description it was created with; rename it instead: snapctl -p outscale snapshot update {} --name NEW",
                req.snapshot
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

/// Sharing with accounts or everyone, or taking it back.
fn prepare_share(req: &crate::model::ShareRequest) -> Result<PreparedCall> {
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

/// An export task to a bucket (never re-sent: no `ClientToken`).
fn prepare_export(req: &crate::model::ExportRequest) -> Result<PreparedCall> {
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

/// A snapshot from an image in a bucket, read through its pre-signed URL.
fn prepare_import(req: &crate::model::ImportRequest) -> Result<PreparedCall> {
    let url = reqwest::Url::parse(&req.file_location).map_err(|e| Error::InvalidInput {
        what: "file location",
        value: "(the URL given)".into(),
        reason: format!("not a URL: {e}"),
    })?;
    // Plain http only where snapctl itself would send there (loopback: the emulator).
    if url.scheme() != "https" && !crate::http::is_loopback(&url) {
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
        tags: tags_of(req.name.as_ref(), &req.tags)?,
        what: "import a snapshot from a bucket".into(),
        idempotent: true,
    })
}

/// `--volume-type` and `--iops` together: IOPS only (and always) for `io1`.
fn check_volume_type(volume_type: Option<&str>, iops: Option<u32>) -> Result<()> {
    match (volume_type, iops) {
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
    Ok(())
}

impl Outscale {
    pub(super) async fn send<T: serde::de::DeserializeOwned>(&self, p: &PreparedCall) -> Result<T> {
        self.client
            .call(p.action, &p.body, p.idempotent, &p.what)
            .await
    }

    /// Validate a mutation and build its request, before anything is sent.
    pub(super) async fn prepare(&self, m: &Mutation<'_>) -> Result<PreparedCall> {
        match m {
            Mutation::CreateSnapshot(req) => prepare_create(req),
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
            Mutation::Update(req) => prepare_update(req),
            Mutation::CloneVolumes(_) => Err(Error::Unsupported {
                provider: ProviderKind::Outscale,
                operation: "clone of volumes",
                hint: "clone one volume at a time: snapctl -p outscale clone --volume vol-…".into(),
            }),
            Mutation::Revert { volume, snapshot } => Err(revert_unsupported(volume, snapshot)),
            Mutation::AddSchedule { .. } | Mutation::RemoveSchedule { .. } => {
                Err(schedules_unsupported())
            }
            Mutation::Copy(req) => self.prepare_copy(req).await,
            Mutation::Share(req) => prepare_share(req),
            Mutation::Export(req) => prepare_export(req),
            Mutation::Import(req) => prepare_import(req),
        }
    }

    /// A copy within the account's Region, keeping the source's `Name` unless given another.
    async fn prepare_copy(&self, req: &crate::model::CopyRequest) -> Result<PreparedCall> {
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
        // The copy keeps the source's Name tag unless --name gives another.
        let name = match &req.name {
            Some(n) => Some(n.clone()),
            None => self
                .snapshot(&req.snapshot)
                .await?
                .and_then(|s| tag(&s.tags, "Name")),
        };
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
            tags: tags_of(name.as_ref(), &[])?,
            what: format!("copy snapshot {}", req.snapshot),
            idempotent: true,
        })
    }

    async fn prepare_clone(&self, req: &CloneRequest) -> Result<PreparedCall> {
        check_id("snapshot id", "snap-", &req.snapshot)?;
        check_volume_type(req.volume_type.as_deref(), req.iops)?;
        let snap = self
            .snapshot(&req.snapshot)
            .await?
            .ok_or_else(|| not_found(format!("read snapshot {}", req.snapshot)))?;
        req.check_snapshot_volume(snap.volume_id.as_deref())?;
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
        // The source volume: where the clone goes by default, and what a restore is like.
        let source = if req.subregion.is_none() || req.like_source {
            match snap.volume_id.as_deref() {
                Some(v) if check_id("volume id", "vol-", v).is_ok() => self.volume(v).await?,
                _ => None,
            }
        } else {
            None
        };
        let (like_type, like_iops) = match (&source, req.like_source, &req.volume_type) {
            (Some(s), true, None) => (
                s.volume_type.clone(),
                s.iops.filter(|_| s.volume_type.as_deref() == Some("io1")),
            ),
            _ => (None, None),
        };
        let subregion = match &req.subregion {
            Some(s) => s.clone(),
            None => source
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
                })?,
        };
        let body = CreateVolumeBody {
            snapshot_id: &req.snapshot,
            subregion_name: &subregion,
            size: req.size_gib,
            volume_type: req.volume_type.as_deref().or(like_type.as_deref()),
            iops: req.iops.or(like_iops),
            client_token: req.idempotency_key.clone().unwrap_or_else(client_token),
        };
        let mut tags = tags_of(req.name.as_ref(), &req.tags)?;
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
