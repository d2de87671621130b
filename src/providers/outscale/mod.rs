//! 3DS OUTSCALE block storage (`outscale`): volumes and snapshots through the OAPI
//! (`POST /api/v1/<Action>`), with copy, sharing, export/import and clone to a new volume.
//!
//! Wire structs mirror `outscale.yaml` (PascalCase). A snapshot's name is its `Name` tag, as in the
//! console. Creates carry a `ClientToken`, so a throttled or dropped create can be re-sent without
//! making a second snapshot. `State` is an open word: only `completed` counts as taken.

pub mod client;
pub mod config;
pub mod oos;
pub mod sign;

mod prepare;
mod types;
use prepare::{revert_unsupported, schedules_unsupported};
use types::*;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::json;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::http::Http;
use crate::kind::{Capabilities, ProviderKind, Support};
use crate::model::{
    CloneRequest, CopyRequest, CreateSnapshot, ExportRequest, ExportTask, ImportRequest, Mutation,
    Operation, Progress, ShareRequest, Snapshot, SnapshotState, Until, Volume,
};
use crate::provider::Provider;
use client::{OscClient, client_token, not_found};

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
    crate::providers::check_shape(what, value, ok, true, || {
        format!("expected {prefix} followed by 8 hex digits, e.g. {prefix}12345678")
    })
}

fn check_account(value: &str) -> Result<()> {
    let ok = value.len() == 12 && value.chars().all(|c| c.is_ascii_digit());
    crate::providers::check_shape("account id", value, ok, false, || {
        "expected 12 digits".into()
    })
}

/// The OUTSCALE provider for one region and key pair.
#[derive(Debug)]
pub struct Outscale {
    client: OscClient,
    /// The region's object storage, for the export route.
    oos: oos::Oos,
    /// The caller's account id (ReadAccounts), once asked; `None` when the call was refused.
    own_account: tokio::sync::OnceCell<Option<String>>,
}

impl Outscale {
    /// The caller's account id, read once with `ReadAccounts`. An EIM user may lack that
    /// permission: then `None`, with a warning that lists will include shared snapshots.
    async fn own_account(&self) -> Result<Option<String>> {
        self.own_account
            .get_or_try_init(|| async {
                let read: Result<AccountsResponse> = self
                    .client
                    .call("ReadAccounts", &json!({}), true, "read the account id")
                    .await;
                match read {
                    Ok(r) => Ok(r.accounts.into_iter().find_map(|a| a.account_id)),
                    // An EIM user without api:ReadAccounts. Wrong keys fail the list itself next.
                    Err(Error::Unauthorized(e)) => {
                        eprintln!(
                            "warning: ReadAccounts was refused ({}); the list includes snapshots other accounts share with you or make public (give --volume, or allow api:ReadAccounts to list only your own)",
                            crate::text::one_line(&e.message, crate::text::MAX_LINE)
                        );
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            })
            .await
            .cloned()
    }

    /// Make it from its paired configuration (no request is sent).
    pub fn new(settings: &Settings, config: config::OscConfig, http: Arc<Http>) -> Self {
        let page = settings.profile.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        Outscale {
            oos: oos::Oos::new(http.clone(), config.clone()),
            client: OscClient::new(http, config, page),
            own_account: tokio::sync::OnceCell::new(),
        }
    }

    async fn snapshot(&self, id: &str) -> Result<Option<OscSnapshot>> {
        check_id("snapshot id", "snap-", id)?;
        let mut list: Vec<OscSnapshot> = self
            .client
            .read_all(
                "ReadSnapshots",
                json!({ "SnapshotIds": [id] }),
                &format!("read snapshot {id}"),
                Some,
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
                Some,
            )
            .await?;
        Ok(list.pop())
    }

    /// Tag what was just created. The tags are the rest of that create (its name, its mark), so
    /// they are sent even after an interrupt.
    /// A volume just created whose tags were refused (`e`): deleted again, and `e` says so (or
    /// says to delete it by hand when that failed too).
    async fn untagged_volume(&self, id: &str, mut e: Error) -> Error {
        let body = json!({ "VolumeId": id });
        let what = format!("delete untagged volume {id}");
        let deleted: Result<ResponseContextOnly> =
            crate::interrupt::finishing(self.client.call("DeleteVolume", &body, true, &what)).await;
        let hint = match deleted {
            Ok(_) => format!("{id} was created but could not be tagged, so it was deleted again"),
            Err(d) => format!(
                "{id} was created but could not be tagged, and deleting it failed ({d}): delete it by hand (snapctl -p outscale volume list shows it)"
            ),
        };
        if let Error::Api(api) | Error::Unauthorized(api) | Error::NotFound(api) = &mut e {
            api.hint = Some(hint);
        }
        e
    }

    async fn tag_resource(&self, id: &str, tags: Vec<ResourceTag>) -> Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        let body = json!({ "ResourceIds": [id], "Tags": tags });
        let what = format!("tag {id}");
        let _: ResponseContextOnly =
            crate::interrupt::finishing(self.client.call("CreateTags", &body, true, &what))
                .await
                .map_err(|mut e| {
                    if let Error::Api(api) | Error::Unauthorized(api) | Error::NotFound(api) =
                        &mut e
                    {
                        api.hint = Some(format!(
                            "{id} was created but not tagged; tag it by hand or delete it"
                        ));
                    }
                    e
                })?;
        Ok(())
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
        self.client
            .read_all("ReadVolumes", json!({}), "list volumes", |v: OscVolume| {
                Some(map_volume(v))
            })
            .await
    }

    /// `Filters.Tags` (`KEY=VALUE`; OUTSCALE ORs the values, so the answer is a superset of the
    /// volumes carrying all of them, which the caller narrows).
    async fn list_volumes_tagged(
        &self,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<Volume>> {
        if tags.is_empty() {
            return self.list_volumes().await;
        }
        let pairs: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.client
            .read_all(
                "ReadVolumes",
                json!({ "Tags": pairs }),
                "list volumes by tag",
                |v: OscVolume| Some(map_volume(v)).filter(|v| crate::provider::carries(v, tags)),
            )
            .await
    }

    async fn get_volume(&self, id: &str) -> Result<Volume> {
        self.volume(id)
            .await?
            .map(map_volume)
            .ok_or_else(|| not_found(format!("read volume {id}")))
    }

    async fn list_snapshots(&self, volume: Option<&str>) -> Result<Vec<Snapshot>> {
        crate::provider::every_page(self, volume).await
    }

    /// `Filters.States` (each normalised state as the API's words) and `FromCreationDate` /
    /// `ToCreationDate`.
    async fn list_snapshots_where(
        &self,
        volume: Option<&str>,
        query: &crate::model::SnapshotQuery,
        sink: &mut (dyn FnMut(Vec<Snapshot>) -> Result<()> + Send),
    ) -> Result<()> {
        let mut filters = match volume {
            Some(v) => {
                check_id("volume id", "vol-", v)?;
                json!({ "VolumeIds": [v] })
            }
            // ReadSnapshots also answers the snapshots other accounts share with this one or
            // make public: without a volume, ask for the account's own.
            None => match self.own_account().await? {
                Some(account) => json!({ "AccountIds": [account] }),
                None => json!({}),
            },
        };
        let mut words: Vec<&str> = Vec::new();
        for state in &query.states {
            match state {
                SnapshotState::Available => words.push("completed"),
                SnapshotState::Error => words.push("error"),
                SnapshotState::Deleting => words.push("deleting"),
                // Only the filter's own words (the spec's `FiltersSnapshot.States` lists
                // in-queue, pending, completed, error, deleting); the answer is still classified
                // locally, where `pending/queued` and `importing` also read as creating.
                SnapshotState::Creating => words.extend(["in-queue", "pending"]),
                // No API word for these: leave the states to the local check.
                SnapshotState::Restoring | SnapshotState::Unknown => {
                    words.clear();
                    break;
                }
            }
        }
        if !words.is_empty() {
            filters["States"] = json!(words);
        }
        let date = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        if let Some(t) = query.created_after {
            filters["FromCreationDate"] = json!(date(t));
        }
        if let Some(t) = query.created_before {
            filters["ToCreationDate"] = json!(date(t));
        }
        let what = match volume {
            Some(v) => format!("list snapshots of volume {v}"),
            None => "list snapshots".into(),
        };
        self.client
            .read_each(
                "ReadSnapshots",
                filters,
                &what,
                |s: OscSnapshot| Some(map_snapshot(s)),
                sink,
            )
            .await
    }

    /// One paginated `ReadSnapshots` filtered on every volume at once (in chunks of 500 ids), so a
    /// rotation over 50 volumes lists them in one call, not 50. If it fails, each volume is listed
    /// on its own, so each gets its own answer.
    async fn list_snapshots_of(&self, volumes: &[String]) -> Vec<Result<Vec<Snapshot>>> {
        let bulk = volumes.len() >= 2
            && volumes
                .iter()
                .all(|v| check_id("volume id", "vol-", v).is_ok());
        let mut all = bulk.then(Vec::new);
        for chunk in volumes.chunks(500) {
            let Some(acc) = all.as_mut() else { break };
            let what = format!("list snapshots of {} volumes", chunk.len());
            match self
                .client
                .read_all(
                    "ReadSnapshots",
                    json!({ "VolumeIds": chunk }),
                    &what,
                    |s: OscSnapshot| Some(map_snapshot(s)),
                )
                .await
            {
                Ok(page) => acc.extend(page),
                Err(_) => all = None,
            }
        }
        crate::provider::split_by_volume(self, volumes, all).await
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
        if let Err(e) = self.tag_resource(&id, prepared.tags).await {
            // An untagged volume is one nobody finds again (a drill's mark, a clone's name are
            // its tags), billed until someone does: it is deleted at once.
            return Err(self.untagged_volume(&id, e).await);
        }
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

    async fn delete_volume(&self, id: &str) -> Result<Operation> {
        check_id("volume id", "vol-", id)?;
        let _: ResponseContextOnly = self
            .client
            .call(
                "DeleteVolume",
                &json!({ "VolumeId": id }),
                true,
                &format!("delete volume {id}"),
            )
            .await?;
        Ok(Operation::Volume {
            id: id.to_string(),
            until: Until::Gone,
        })
    }

    async fn reach(&self, volume: &str) -> Result<Vec<(&'static str, String)>> {
        check_id("volume id", "vol-", volume)?;
        let v = self
            .volume(volume)
            .await?
            .ok_or_else(|| not_found(format!("read volume {volume}")))?;
        Ok(v.subregion_name
            .map(|s| vec![("SNAPCTL_DRILL_SUBREGION", s)])
            .unwrap_or_default())
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
        let name = prepared
            .tags
            .iter()
            .find(|t| t.key == "Name")
            .map(|t| t.value.clone());
        self.tag_resource(&resp.snapshot.snapshot_id, prepared.tags)
            .await?;
        let mut snap = map_snapshot(resp.snapshot);
        if snap.name.is_none() {
            snap.name = name;
        }
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

    async fn get_export_task(&self, id: &str) -> Result<ExportTask> {
        Ok(map_export(self.export_task(id).await?))
    }

    fn export_route(&self) -> Option<&dyn crate::provider::ExportRoute> {
        Some(self)
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
                let task = self.export_task(id).await?;
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

#[async_trait]
impl crate::provider::ExportRoute for Outscale {
    async fn account_id(&self) -> Result<Option<String>> {
        self.own_account().await
    }

    async fn export_tasks_of(&self, snapshot: &str) -> Result<Vec<ExportTask>> {
        check_id("snapshot id", "snap-", snapshot)?;
        self.client
            .read_all(
                "ReadSnapshotExportTasks",
                json!({ "SnapshotIds": [snapshot] }),
                &format!("read the export tasks of snapshot {snapshot}"),
                |t: OscExportTask| Some(map_export(t)),
            )
            .await
    }

    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<crate::model::StoredObject>> {
        self.oos.list(bucket, prefix).await
    }

    fn presign_get(&self, bucket: &str, key: &str, ttl: u64) -> secrecy::SecretString {
        self.oos.presign_get(bucket, key, ttl)
    }

    async fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        self.oos.delete(bucket, key).await
    }
}

impl Outscale {
    /// One export task as the API reports it now.
    async fn export_task(&self, id: &str) -> Result<OscExportTask> {
        check_id("export task id", "snap-export-", id)?;
        let mut tasks: Vec<OscExportTask> = self
            .client
            .read_all(
                "ReadSnapshotExportTasks",
                json!({ "TaskIds": [id] }),
                &format!("read export task {id}"),
                Some,
            )
            .await?;
        tasks
            .pop()
            .ok_or_else(|| not_found(format!("read export task {id}")))
    }
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
}
