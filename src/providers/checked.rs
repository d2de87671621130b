//! Ids from a server, checked where they enter: every provider [`super::build`] makes is wrapped
//! in [`Checked`], which holds each id a listing or a create answers against the provider's id
//! shape (the registry's `check_volume_id` / `check_snapshot_id`, the same checks user input
//! gets). A listed item with a malformed id is reported on stderr and skipped; a create, copy,
//! clone or import answering one fails, since nothing could wait for it or delete it. So no
//! command, rotation or fleet run ever puts a server's `../x` or `vol-1\nOK` into a request, a
//! lock name, a table or a plan line.
//!
//! Trust model: anything a server sends is untrusted text (docs/security.md).

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::kind::ProviderKind;
use crate::model::{
    ClonePair, CloneRequest, CloneVolumesRequest, CopyRequest, CreateSnapshot, ExportRequest,
    ExportTask, ImportRequest, Operation, Progress, Schedule, ScheduleChange, ScheduleRemoval,
    ScheduleSpec, ShareRequest, Snapshot, SnapshotQuery, SnapshotUpdate, Volume,
};
use crate::provider::Provider;

/// Skipped items reported one by one before the rest are only counted.
const REPORTED: usize = 20;

/// A provider whose answers' ids are checked (see the module).
pub struct Checked {
    inner: Box<dyn Provider>,
    reported: AtomicUsize,
}

impl Checked {
    /// `inner`, checked.
    pub fn new(inner: Box<dyn Provider>) -> Self {
        Checked {
            inner,
            reported: AtomicUsize::new(0),
        }
    }

    fn volume_ok(&self, id: &str) -> bool {
        (super::entry(self.kind()).check_volume_id)(id).is_ok()
    }

    fn snapshot_ok(&self, s: &Snapshot) -> bool {
        (super::entry(self.kind()).check_snapshot_id)(&s.id).is_ok()
            && s.volume_id.as_deref().is_none_or(|v| self.volume_ok(v))
    }

    fn skipped(&self, what: &str, id: &str) {
        let n = self.reported.fetch_add(1, Ordering::Relaxed);
        if n < REPORTED {
            eprintln!(
                "warning: {} listed a {what} with a malformed id {:?}; it is skipped",
                self.kind(),
                clip(id),
            );
        } else if n == REPORTED {
            eprintln!("warning: further items with malformed ids are skipped without a word");
        }
    }

    fn volumes(&self, list: Vec<Volume>) -> Vec<Volume> {
        list.into_iter()
            .filter(|v| {
                let ok = self.volume_ok(&v.id);
                if !ok {
                    self.skipped("volume", &v.id);
                }
                ok
            })
            .collect()
    }

    fn snapshots(&self, list: Vec<Snapshot>) -> Vec<Snapshot> {
        list.into_iter()
            .filter(|s| {
                let ok = self.snapshot_ok(s);
                if !ok {
                    let id = match &s.volume_id {
                        Some(v) if !self.volume_ok(v) => v,
                        _ => &s.id,
                    };
                    self.skipped("snapshot", id);
                }
                ok
            })
            .collect()
    }

    /// A snapshot a change answered: its id must be well formed for anything to follow it.
    fn made_snapshot(&self, action: &str, s: Snapshot) -> Result<Snapshot> {
        if self.snapshot_ok(&s) {
            return Ok(s);
        }
        Err(self.malformed(action, "snapshot", &s.id))
    }

    fn malformed(&self, action: &str, what: &str, id: &str) -> Error {
        Error::Decode {
            provider: self.kind(),
            action: action.to_string(),
            detail: format!("the new {what}'s id {:?} is malformed", clip(id)),
        }
    }
}

/// A server's id in a message: printable, and at most 80 characters.
fn clip(id: &str) -> String {
    let flat = crate::text::flatten(id);
    match flat.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}

#[async_trait]
impl Provider for Checked {
    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }

    fn scope(&self) -> String {
        self.inner.scope()
    }

    async fn list_volumes(&self) -> Result<Vec<Volume>> {
        Ok(self.volumes(self.inner.list_volumes().await?))
    }

    async fn list_volumes_tagged(
        &self,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<Volume>> {
        Ok(self.volumes(self.inner.list_volumes_tagged(tags).await?))
    }

    async fn get_volume(&self, id: &str) -> Result<Volume> {
        self.inner.get_volume(id).await
    }

    async fn list_snapshots(&self, volume: Option<&str>) -> Result<Vec<Snapshot>> {
        Ok(self.snapshots(self.inner.list_snapshots(volume).await?))
    }

    async fn list_snapshots_where(
        &self,
        volume: Option<&str>,
        query: &SnapshotQuery,
        sink: &mut (dyn FnMut(Vec<Snapshot>) -> Result<()> + Send),
    ) -> Result<()> {
        self.inner
            .list_snapshots_where(volume, query, &mut |page| sink(self.snapshots(page)))
            .await
    }

    async fn list_snapshots_of(&self, volumes: &[String]) -> Vec<Result<Vec<Snapshot>>> {
        self.inner
            .list_snapshots_of(volumes)
            .await
            .into_iter()
            .map(|r| r.map(|list| self.snapshots(list)))
            .collect()
    }

    async fn get_snapshot(&self, volume: Option<&str>, id: &str) -> Result<Snapshot> {
        self.inner.get_snapshot(volume, id).await
    }

    async fn create_snapshot(&self, req: &CreateSnapshot) -> Result<(Snapshot, Operation)> {
        let (s, op) = self.inner.create_snapshot(req).await?;
        Ok((self.made_snapshot("create a snapshot", s)?, op))
    }

    async fn delete_snapshot(&self, volume: Option<&str>, id: &str) -> Result<Operation> {
        self.inner.delete_snapshot(volume, id).await
    }

    async fn clone_volume(&self, req: &CloneRequest) -> Result<(Volume, Operation)> {
        let (v, op) = self.inner.clone_volume(req).await?;
        if !self.volume_ok(&v.id) {
            return Err(self.malformed("clone a volume", "volume", &v.id));
        }
        Ok((v, op))
    }

    async fn delete_volume(&self, id: &str) -> Result<Operation> {
        self.inner.delete_volume(id).await
    }

    async fn reach(&self, volume: &str) -> Result<Vec<(&'static str, String)>> {
        self.inner.reach(volume).await
    }

    async fn copy_snapshot(&self, req: &CopyRequest) -> Result<(Snapshot, Operation)> {
        let (s, op) = self.inner.copy_snapshot(req).await?;
        Ok((self.made_snapshot("copy a snapshot", s)?, op))
    }

    async fn share_snapshot(&self, req: &ShareRequest) -> Result<Snapshot> {
        self.inner.share_snapshot(req).await
    }

    async fn export_snapshot(&self, req: &ExportRequest) -> Result<(ExportTask, Operation)> {
        self.inner.export_snapshot(req).await
    }

    async fn get_export_task(&self, id: &str) -> Result<ExportTask> {
        self.inner.get_export_task(id).await
    }

    fn export_route(&self) -> Option<&dyn crate::provider::ExportRoute> {
        self.inner.export_route()
    }

    async fn import_snapshot(&self, req: &ImportRequest) -> Result<(Snapshot, Operation)> {
        let (s, op) = self.inner.import_snapshot(req).await?;
        Ok((self.made_snapshot("import a snapshot", s)?, op))
    }

    async fn clone_volumes(&self, req: &CloneVolumesRequest) -> Result<Operation> {
        self.inner.clone_volumes(req).await
    }

    async fn clone_results(&self, task: &str) -> Result<Vec<ClonePair>> {
        self.inner.clone_results(task).await
    }

    async fn revert(&self, volume: &str, snapshot: &str) -> Result<Operation> {
        self.inner.revert(volume, snapshot).await
    }

    async fn list_schedules(&self, volume: &str, all: bool) -> Result<Vec<Schedule>> {
        self.inner.list_schedules(volume, all).await
    }

    async fn add_schedule(&self, volume: &str, spec: &ScheduleSpec) -> Result<ScheduleChange> {
        self.inner.add_schedule(volume, spec).await
    }

    async fn remove_schedule(
        &self,
        volume: &str,
        removal: &ScheduleRemoval,
    ) -> Result<ScheduleChange> {
        self.inner.remove_schedule(volume, removal).await
    }

    async fn hold_snapshot(&self, volume: Option<&str>, id: &str) -> Result<Snapshot> {
        let s = self.inner.hold_snapshot(volume, id).await?;
        self.made_snapshot("hold a snapshot", s)
    }

    async fn update_snapshot(&self, req: &SnapshotUpdate) -> Result<Snapshot> {
        self.inner.update_snapshot(req).await
    }

    async fn poll(&self, op: &Operation) -> Result<Progress> {
        self.inner.poll(op).await
    }
}

#[cfg(test)]
mod tests {
    /// The names of the `fn`s declared at the first level of the block that follows `head` in
    /// `text` (a trait or an impl).
    fn methods(text: &str, head: &str) -> Vec<String> {
        let start = text.find(head).expect("the block is there");
        let mut depth = 0;
        let mut names = Vec::new();
        for line in text[start..].lines() {
            let trimmed = line.trim_start();
            if depth == 1 {
                let decl = trimmed.strip_prefix("async ").unwrap_or(trimmed);
                if let Some(rest) = decl.strip_prefix("fn ") {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    names.push(name);
                }
            }
            depth += line.matches('{').count() as i64 - line.matches('}').count() as i64;
            if depth == 0 && !names.is_empty() {
                break;
            }
        }
        names
    }

    /// Every method of `Provider` is forwarded by `Checked`: one it forgets compiles (the trait
    /// gives it a default) and makes every provider answer Unsupported, silently. Only helpers
    /// whose default is right for any provider are left to the default.
    #[test]
    fn checked_forwards_every_provider_method() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let read = |p: &str| std::fs::read_to_string(src.join(p)).expect("source");
        let declared = methods(&read("provider.rs"), "pub trait Provider:");
        let forwarded = methods(&read("providers/checked.rs"), "impl Provider for Checked");
        assert!(declared.len() >= 20, "{declared:?}");
        let defaults_only = ["unsupported"];
        let missing: Vec<&String> = declared
            .iter()
            .filter(|m| !forwarded.contains(m) && !defaults_only.contains(&m.as_str()))
            .collect();
        assert!(missing.is_empty(), "Checked does not forward: {missing:?}");
    }
}
