//! IBM PowerVC (`powervc`): Cinder v3 volumes and snapshots behind Keystone v3, plus PowerVC's
//! consistent multi-volume `clone-volumes` task.
//!
//! Wire structs mirror the Cinder api-ref field names (`os-extended-snapshot-attributes:progress`, …)
//! and IBM's clone-volumes body (hyphenated keys). Lists follow Cinder's `*_links` `next` markers to
//! the end. Revert is offered only when the service's microversion (from its version document) is at
//! least 3.40. Every id is a UUID, checked before a request is built.

pub mod auth;
pub mod client;
pub mod config;
mod types;
use client::{decode, max_microversion_of, version_root};
use types::*;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::http::Http;
use crate::kind::{Capabilities, ProviderKind, Support};
use crate::model::{
    ClonePair, CloneRequest, CloneVolumesRequest, CreateSnapshot, Operation, Progress, Snapshot,
    SnapshotState, Until, Volume,
};
use crate::provider::Provider;
use crate::providers::check_uuid;
use auth::Session;

/// What `powervc` offers.
pub const CAPABILITIES: Capabilities = Capabilities {
    volumes: Support::Yes,
    list_snapshots: Support::Yes,
    create_snapshot: Support::Yes,
    delete_snapshot: Support::Yes,
    clone: Support::Yes,
    revert: Support::Yes,
    wait: Support::Yes,
    schedules: Support::No,
    copy: Support::No,
    share: Support::No,
    export: Support::No,
};

/// Default page size (Cinder's `osapi_max_limit` default).
pub const DEFAULT_PAGE_SIZE: u32 = 1000;

/// The microversion that brought in-place revert.
const REVERT_MICROVERSION: (u32, u32) = (3, 40);

/// The PowerVC provider.
#[derive(Debug)]
pub struct Powervc {
    session: Session,
    page_size: u32,
}

/// Items of a page the listing steps back over when its marker is gone (then it fails rather
/// than send a request per deleted item of a page).
const MAX_MARKER_STEPS: usize = 20;

/// Whether Cinder says the page's marker no longer exists: 404 (`MarkerNotFound`), or a 400 that
/// names the marker (some releases answer so); any other error is the listing's own.
fn marker_gone(e: &crate::error::ApiError) -> bool {
    e.status == 404 || (e.status == 400 && e.message.to_ascii_lowercase().contains("marker"))
}

impl Powervc {
    /// Make it from its paired configuration (no request is sent). Its TLS settings are in the
    /// client already (`crate::connect` merges them).
    pub fn new(settings: &Settings, config: config::PowervcConfig, http: Arc<Http>) -> Self {
        Powervc {
            session: Session::new(http, config),
            page_size: settings
                .profile
                .page_size
                .unwrap_or(DEFAULT_PAGE_SIZE)
                .clamp(1, 10_000),
        }
    }

    async fn get<T: DeserializeOwned>(&self, segments: &[&str], what: &str) -> Result<T> {
        let resp = self
            .session
            .call(Method::GET, segments, &[], None, &[], true, what)
            .await?;
        decode(&resp.body, what)
    }

    /// Every item of a Cinder list that `keep` keeps (as what it answers: `Some` keeps them all),
    /// following the `next` link's marker to the end.
    async fn list_all<T: DeserializeOwned + Listed, U>(
        &self,
        collection: &str,
        filters: &[(&str, &str)],
        what: &str,
        keep: impl Fn(T) -> Option<U>,
    ) -> Result<Vec<U>> {
        let mut out = Vec::new();
        self.list_each(collection, filters, what, keep, |page: Vec<U>| {
            out.extend(page);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// [`Self::list_all`], page by page: each item is turned into what `keep` answers as soon as
    /// it is read ([`crate::http::decode_page`]), each page of kept items goes to `sink` and is
    /// dropped after.
    ///
    /// The `marker` of the next page is the last item of this one; when that item is deleted
    /// before the next page is asked for, Cinder answers 404 (`MarkerNotFound`; 400 on some
    /// releases). The listing then goes on from the item before it on the page (and the one
    /// before that, should it be gone too): nothing after it was listed yet, so nothing is
    /// listed twice or missed. Only when every item of the page is gone does it fail.
    async fn list_each<T: DeserializeOwned + Listed, U>(
        &self,
        collection: &str,
        filters: &[(&str, &str)],
        what: &str,
        keep: impl Fn(T) -> Option<U>,
        sink: impl FnMut(Vec<U>) -> Result<()>,
    ) -> Result<()> {
        let keep = &keep;
        let limit = self.page_size.to_string();
        let key_links = format!("{collection}_links");
        let (limit, key_links) = (&limit, &key_links);
        // The ids of the last page read, in its order (raw items, whatever `keep` kept).
        let page_ids = std::sync::Mutex::new(Vec::<String>::new());
        let page_ids = &page_ids;
        crate::http::for_each_page(
            ProviderKind::Powervc,
            what,
            "marker",
            |marker| async move {
                let mut marker = marker;
                let mut stepped = 0;
                let resp = loop {
                    let mut query: Vec<(&str, &str)> = filters.to_vec();
                    query.push(("limit", limit));
                    if let Some(m) = &marker {
                        query.push(("marker", m));
                    }
                    let answer = self
                        .session
                        .call(
                            Method::GET,
                            &[collection, "detail"],
                            &query,
                            None,
                            &[],
                            true,
                            what,
                        )
                        .await;
                    match answer {
                        Err(Error::NotFound(e) | Error::Api(e))
                            if marker.is_some() && marker_gone(&e) =>
                        {
                            let gone = marker.take().unwrap_or_default();
                            let mut ids = page_ids.lock().unwrap_or_else(|p| p.into_inner());
                            stepped += 1;
                            let Some(at) = ids
                                .iter()
                                .position(|i| *i == gone)
                                .filter(|at| *at > 0 && stepped <= MAX_MARKER_STEPS)
                            else {
                                return Err((*e).into_error(false));
                            };
                            ids.truncate(at);
                            marker = ids.last().cloned();
                        }
                        other => break other?,
                    }
                };
                let mut ids = Vec::new();
                let (items, links) = crate::http::decode_page::<T, U, Vec<Link>, _>(
                    &resp.body,
                    &[collection],
                    key_links,
                    |item: T| {
                        ids.push(item.listed_id().to_string());
                        keep(item)
                    },
                )
                .map_err(|e| e.to_string())
                .and_then(|(items, links)| {
                    let items = items.ok_or_else(|| format!("the page has no `{collection}`"))?;
                    Ok((items, links.unwrap_or_default()))
                })
                .map_err(|detail| Error::Decode {
                    provider: ProviderKind::Powervc,
                    action: what.to_string(),
                    detail,
                })?;
                drop(resp);
                *page_ids.lock().unwrap_or_else(|p| p.into_inner()) = ids;
                let next = links.into_iter().find(|l| l.rel == "next").and_then(|l| {
                    reqwest::Url::parse(&l.href).ok().and_then(|u| {
                        u.query_pairs()
                            .find(|(k, _)| k == "marker")
                            .map(|(_, v)| v.into_owned())
                    })
                });
                Ok((items, next))
            },
            sink,
        )
        .await
    }

    async fn snapshot(&self, id: &str) -> Result<CinderSnapshot> {
        check_uuid("snapshot id", id)?;
        #[derive(Deserialize)]
        struct Wrap {
            snapshot: CinderSnapshot,
        }
        let w: Wrap = self
            .get(&["snapshots", id], &format!("read snapshot {id}"))
            .await?;
        Ok(w.snapshot)
    }

    async fn volume(&self, id: &str) -> Result<CinderVolume> {
        check_uuid("volume id", id)?;
        #[derive(Deserialize)]
        struct Wrap {
            volume: CinderVolume,
        }
        let w: Wrap = self
            .get(&["volumes", id], &format!("read volume {id}"))
            .await?;
        Ok(w.volume)
    }

    async fn progress_of(&self, task: &str) -> Result<CloneProgress> {
        check_uuid("clone task id", task)?;
        let resp = self
            .session
            .call(
                Method::GET,
                &["clone-volumes", "get_progress"],
                &[("action", "clone-volumes"), ("task_id", task)],
                None,
                &[],
                true,
                &format!("read the progress of clone task {task}"),
            )
            .await?;
        let v: Value = decode(&resp.body, "read clone progress")?;
        Ok(clone_progress(&v))
    }

    /// The service's maximum microversion, from its version document.
    async fn max_microversion(&self) -> Result<Option<(u32, u32)>> {
        let root = version_root(&self.session.base().await?);
        let resp = self
            .session
            .get_absolute(root, "read the volume service's version document")
            .await?;
        let v: Value = decode(&resp.body, "read the version document")?;
        Ok(max_microversion_of(&v))
    }
}

#[async_trait]
impl Provider for Powervc {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Powervc
    }

    async fn list_volumes(&self) -> Result<Vec<Volume>> {
        self.list_all("volumes", &[], "list volumes", |v: CinderVolume| {
            Some(map_volume(v))
        })
        .await
    }

    /// Cinder's `metadata` filter (a JSON object; every pair must match).
    async fn list_volumes_tagged(&self, tags: &BTreeMap<String, String>) -> Result<Vec<Volume>> {
        if tags.is_empty() {
            return self.list_volumes().await;
        }
        let metadata = serde_json::to_string(tags).expect("a map of strings serialises");
        self.list_all(
            "volumes",
            &[("metadata", &metadata)],
            "list volumes by metadata",
            |v: CinderVolume| Some(map_volume(v)).filter(|v| crate::provider::carries(v, tags)),
        )
        .await
    }

    async fn get_volume(&self, id: &str) -> Result<Volume> {
        Ok(map_volume(self.volume(id).await?))
    }

    async fn list_snapshots(&self, volume: Option<&str>) -> Result<Vec<Snapshot>> {
        crate::provider::every_page(self, volume).await
    }

    /// Cinder's `status` filter, when the query asks for one state that is one Cinder word (the
    /// creation-date filters need microversion 3.60, which PowerVC does not promise).
    async fn list_snapshots_where(
        &self,
        volume: Option<&str>,
        query: &crate::model::SnapshotQuery,
        sink: &mut (dyn FnMut(Vec<Snapshot>) -> Result<()> + Send),
    ) -> Result<()> {
        let (mut filters, what) = match volume {
            Some(v) => {
                check_uuid("volume id", v)?;
                (
                    vec![("volume_id", v)],
                    format!("list snapshots of volume {v}"),
                )
            }
            None => (vec![], "list snapshots".to_string()),
        };
        // Only states that are exactly one Cinder word (error is also error_deleting, deleting
        // also deleted): the API's answer must hold every snapshot the local check keeps.
        match query.states.as_slice() {
            [SnapshotState::Available] => filters.push(("status", "available")),
            [SnapshotState::Creating] => filters.push(("status", "creating")),
            [SnapshotState::Restoring] => filters.push(("status", "restoring")),
            _ => {}
        }
        self.list_each(
            "snapshots",
            &filters,
            &what,
            |s: CinderSnapshot| Some(map_snapshot(s)),
            sink,
        )
        .await
    }

    /// Cinder lists the project's snapshots in one paginated call: a rotation over many volumes
    /// reads that once and splits it by volume. If it fails, each volume is listed on its own.
    async fn list_snapshots_of(&self, volumes: &[String]) -> Vec<Result<Vec<Snapshot>>> {
        let bulk = volumes.len() >= 2 && volumes.iter().all(|v| check_uuid("volume id", v).is_ok());
        // Cinder filters by one volume only: the project's snapshots are read page by page and
        // only those of the volumes asked for are kept (a fleet's wait would otherwise decode every
        // snapshot of the project for each batch).
        let wanted: std::collections::HashSet<&str> = volumes.iter().map(String::as_str).collect();
        let all = if bulk {
            self.list_all(
                "snapshots",
                &[],
                &format!("list snapshots of {} volumes", volumes.len()),
                |s: CinderSnapshot| {
                    s.volume_id
                        .as_deref()
                        .is_some_and(|v| wanted.contains(v))
                        .then(|| map_snapshot(s))
                },
            )
            .await
            .ok()
        } else {
            None
        };
        crate::provider::split_by_volume(self, volumes, all).await
    }

    async fn get_snapshot(&self, _volume: Option<&str>, id: &str) -> Result<Snapshot> {
        Ok(map_snapshot(self.snapshot(id).await?))
    }

    async fn create_snapshot(&self, req: &CreateSnapshot) -> Result<(Snapshot, Operation)> {
        check_uuid("volume id", &req.volume)?;
        if req.expires_at.is_some() {
            return Err(Error::usage(
                "Cinder snapshots do not expire by themselves; let `snapctl rotate` delete old ones",
            ));
        }
        let volume = self.volume(&req.volume).await?;
        let in_use = volume.status.as_deref() == Some("in-use");
        if in_use && !req.force {
            return Err(Error::Usage {
                message: format!(
                    "volume {} is in-use (attached to a VM); Cinder snapshots it only when forced",
                    req.volume
                ),
                hint: Some(
                    "add --force for a crash-consistent snapshot, or stop the VM first; for several volumes of one VM, `snapctl -p powervc clone --volume A --volume B` makes one consistent copy"
                        .into(),
                ),
            });
        }
        let mut metadata: BTreeMap<String, String> = req.tags.iter().cloned().collect();
        if req.managed {
            metadata.insert("snapctl".into(), "managed".into());
        }
        let mut snap = serde_json::Map::new();
        snap.insert("volume_id".into(), json!(req.volume));
        if let Some(n) = &req.name {
            snap.insert("name".into(), json!(n));
        }
        if let Some(d) = &req.description {
            snap.insert("description".into(), json!(d));
        }
        if in_use {
            // Before microversion 3.66 an in-use volume needs force; no header is sent, so 3.0 rules.
            snap.insert("force".into(), json!(true));
        }
        if !metadata.is_empty() {
            snap.insert("metadata".into(), json!(metadata));
        }
        let body = json!({ "snapshot": snap });
        let what = format!("create a snapshot of volume {}", req.volume);
        let resp = self
            .session
            .send(Method::POST, &["snapshots"], Some(&body), &what)
            .await?;
        #[derive(Deserialize)]
        struct Wrap {
            snapshot: CinderSnapshot,
        }
        let w: Wrap = decode(&resp.body, &what)?;
        let snap = map_snapshot(w.snapshot);
        let op = Operation::Snapshot {
            volume: Some(req.volume.clone()),
            id: snap.id.clone(),
            until: Until::Ready,
        };
        Ok((snap, op))
    }

    async fn delete_snapshot(&self, _volume: Option<&str>, id: &str) -> Result<Operation> {
        check_uuid("snapshot id", id)?;
        self.session
            .send(
                Method::DELETE,
                &["snapshots", id],
                None,
                &format!("delete snapshot {id}"),
            )
            .await?;
        Ok(Operation::Snapshot {
            volume: None,
            id: id.to_string(),
            until: Until::Gone,
        })
    }

    async fn delete_volume(&self, id: &str) -> Result<Operation> {
        check_uuid("volume id", id)?;
        self.session
            .send(
                Method::DELETE,
                &["volumes", id],
                None,
                &format!("delete volume {id}"),
            )
            .await?;
        Ok(Operation::Volume {
            id: id.to_string(),
            until: Until::Gone,
        })
    }

    async fn clone_volume(&self, req: &CloneRequest) -> Result<(Volume, Operation)> {
        check_uuid("snapshot id", &req.snapshot)?;
        let snap = self.snapshot(&req.snapshot).await?;
        req.check_snapshot_volume(snap.volume_id.as_deref())?;
        if snap.status.as_deref() != Some("available") {
            return Err(Error::Usage {
                message: format!(
                    "cannot clone snapshot {}: it is {}",
                    req.snapshot,
                    snap.status.as_deref().unwrap_or("in an unknown state")
                ),
                hint: Some("wait until it is available".into()),
            });
        }
        if let (Some(want), Some(min)) = (req.size_gib, snap.size)
            && want < min
        {
            return Err(Error::InvalidInput {
                what: "size",
                value: want.to_string(),
                reason: format!("the snapshot holds {min} GiB; the new volume cannot be smaller"),
            });
        }
        if req.subregion.is_some() || req.iops.is_some() {
            return Err(Error::usage(
                "--subregion and --iops apply to outscale; PowerVC places the volume with its snapshot",
            ));
        }
        let mut vol = serde_json::Map::new();
        vol.insert("snapshot_id".into(), json!(req.snapshot));
        if let Some(n) = &req.name {
            vol.insert("name".into(), json!(n));
        }
        if let Some(d) = &req.description {
            vol.insert("description".into(), json!(d));
        }
        if let Some(s) = req.size_gib {
            vol.insert("size".into(), json!(s));
        }
        if let Some(t) = &req.volume_type {
            vol.insert("volume_type".into(), json!(t));
        }
        if !req.tags.is_empty() {
            let metadata: serde_json::Map<String, Value> = req
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            vol.insert("metadata".into(), Value::Object(metadata));
        }
        let body = json!({ "volume": vol });
        let what = format!("create a volume from snapshot {}", req.snapshot);
        let resp = self
            .session
            .send(Method::POST, &["volumes"], Some(&body), &what)
            .await?;
        #[derive(Deserialize)]
        struct Wrap {
            volume: CinderVolume,
        }
        let w: Wrap = decode(&resp.body, &what)?;
        let volume = map_volume(w.volume);
        let op = Operation::Volume {
            id: volume.id.clone(),
            until: Until::Ready,
        };
        Ok((volume, op))
    }

    async fn clone_volumes(&self, req: &CloneVolumesRequest) -> Result<Operation> {
        if req.volumes.is_empty() {
            return Err(Error::usage("clone needs at least one --volume"));
        }
        req.volumes
            .iter()
            .try_for_each(|v| check_uuid("volume id", v))?;
        if let Some(t) = &req.volume_type {
            check_uuid("volume type id", t)?;
        }
        let mut inner = serde_json::Map::new();
        if let Some(n) = &req.name {
            inner.insert("display-name".into(), json!(n));
        }
        if let Some(d) = &req.description {
            inner.insert("description".into(), json!(d));
        }
        inner.insert("volumes".into(), json!(req.volumes));
        if let Some(t) = &req.volume_type {
            inner.insert("target-volume-type-id".into(), json!(t));
        }
        let body = json!({ "clone-volumes": inner });
        let what = format!("clone volumes {}", req.volumes.join(", "));
        let resp = self
            .session
            .send(Method::POST, &["clone-volumes"], Some(&body), &what)
            .await?;
        let v: Value = decode(&resp.body, &what)?;
        let task_uri = v["clone-volumes"]["task_uri"]
            .as_str()
            .ok_or_else(|| Error::Decode {
                provider: ProviderKind::Powervc,
                action: what.clone(),
                detail: "no clone-volumes.task_uri in the answer".into(),
            })?;
        // Poll through our own volume URL: only the task id is taken from task_uri.
        let task_id = reqwest::Url::parse(task_uri)
            .ok()
            .and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "task_id")
                    .map(|(_, v)| v.into_owned())
            })
            .ok_or_else(|| Error::Decode {
                provider: ProviderKind::Powervc,
                action: what.clone(),
                detail: format!("no task_id in task_uri {task_uri}"),
            })?;
        check_uuid("clone task id", &task_id)?;
        Ok(Operation::Task { id: task_id })
    }

    async fn clone_results(&self, task: &str) -> Result<Vec<ClonePair>> {
        let p = self.progress_of(task).await?;
        Ok(p.pairs
            .into_iter()
            .map(|(source, clone)| ClonePair {
                provider: ProviderKind::Powervc,
                source_volume_id: source,
                volume_id: clone,
            })
            .collect())
    }

    async fn revert(&self, volume: &str, snapshot: &str) -> Result<Operation> {
        check_uuid("volume id", volume)?;
        check_uuid("snapshot id", snapshot)?;
        let max = self.max_microversion().await?;
        if max.is_none_or(|m| m < REVERT_MICROVERSION) {
            return Err(Error::Unsupported {
                provider: ProviderKind::Powervc,
                operation: "revert",
                hint: format!(
                    "this PowerVC's volume API ({}) predates in-place revert (3.40); clone the snapshot instead: snapctl -p powervc clone --snapshot {snapshot} --wait",
                    max.map(|(a, b)| format!("max microversion {a}.{b}"))
                        .unwrap_or_else(|| "no microversion".into())
                ),
            });
        }
        let body = json!({ "revert": { "snapshot_id": snapshot } });
        self.session
            .call(
                Method::POST,
                &["volumes", volume, "action"],
                &[],
                Some(&body),
                &[("OpenStack-API-Version", "volume 3.40".to_string())],
                false,
                &format!("revert volume {volume} to snapshot {snapshot}"),
            )
            .await?;
        Ok(Operation::Volume {
            id: volume.to_string(),
            until: Until::Ready,
        })
    }

    async fn copy_snapshot(
        &self,
        req: &crate::model::CopyRequest,
    ) -> Result<(Snapshot, Operation)> {
        Err(Error::Unsupported {
            provider: ProviderKind::Powervc,
            operation: "copy",
            hint: format!(
                "PowerVC has no snapshot copy; make a volume from it instead: snapctl -p powervc clone --snapshot {}",
                req.snapshot
            ),
        })
    }

    async fn list_schedules(
        &self,
        _volume: &str,
        _all: bool,
    ) -> Result<Vec<crate::model::Schedule>> {
        Err(Error::Unsupported {
            provider: ProviderKind::Powervc,
            operation: "schedule",
            hint: "PowerVC has no volume snapshot schedules; run `snapctl rotate --create` from cron (see docs/rotation.md)".into(),
        })
    }

    async fn update_snapshot(&self, req: &crate::model::SnapshotUpdate) -> Result<Snapshot> {
        check_uuid("snapshot id", &req.snapshot)?;
        let mut inner = serde_json::Map::new();
        if let Some(n) = &req.name {
            inner.insert("name".into(), json!(n));
        }
        if let Some(d) = &req.description {
            inner.insert("description".into(), json!(d));
        }
        if inner.is_empty() {
            return Err(Error::usage("give --name and/or --description"));
        }
        let body = json!({ "snapshot": inner });
        let what = format!("update snapshot {}", req.snapshot);
        let resp = self
            .session
            .send(
                Method::PUT,
                &["snapshots", &req.snapshot],
                Some(&body),
                &what,
            )
            .await?;
        #[derive(Deserialize)]
        struct Wrap {
            snapshot: CinderSnapshot,
        }
        let w: Wrap = decode(&resp.body, &what)?;
        Ok(map_snapshot(w.snapshot))
    }

    async fn poll(&self, op: &Operation) -> Result<Progress> {
        match op {
            Operation::Done => Ok(Progress::Done),
            Operation::Snapshot { id, until, .. } => match (self.snapshot(id).await, until) {
                (Err(Error::NotFound(_)), Until::Gone) => Ok(Progress::Done),
                (Err(e), _) => Err(e),
                (Ok(s), until) => {
                    let percent = percent(s.progress.as_ref());
                    let s = map_snapshot(s);
                    Ok(match Progress::of_snapshot(s.state, s.provider_state, *until, percent) {
                        Progress::Failed { state, .. } if state == "error_deleting" => {
                            Progress::Failed {
                                state,
                                message: Some("Cinder could not delete it; reset its state (cinder snapshot-reset-state) and delete again, or ask the PowerVC administrator".into()),
                            }
                        }
                        other => other,
                    })
                }
            },
            Operation::Volume { id, until } => match (self.volume(id).await, until) {
                (Err(Error::NotFound(_)), Until::Gone) => Ok(Progress::Done),
                (Err(e), _) => Err(e),
                (Ok(v), until) => {
                    let v = map_volume(v);
                    Ok(Progress::of_volume(v.state, v.provider_state, *until))
                }
            },
            Operation::Task { id } => {
                let p = self.progress_of(id).await?;
                Ok(match (p.flow.as_deref(), &p.failure) {
                    (Some("SUCCESS"), None) => Progress::Done,
                    (Some(f @ ("REVERTED" | "FAILURE" | "REVERT_FAILURE")), _) => {
                        Progress::Failed {
                            state: f.to_string(),
                            message: p.failure.clone(),
                        }
                    }
                    (flow, Some(failure)) => Progress::Failed {
                        state: flow.unwrap_or("failed").to_string(),
                        message: Some(failure.clone()),
                    },
                    (flow, None) => Progress::Pending {
                        state: flow.unwrap_or("PENDING").to_string(),
                        percent: p.percent,
                    },
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::client::microversion;
    use super::*;

    #[test]
    fn microversions_compare() {
        assert!(microversion("3.71").expect("parses") >= REVERT_MICROVERSION);
        assert!(microversion("3.9").expect("parses") < REVERT_MICROVERSION);
        assert_eq!(microversion("v3"), None);
    }
}
