//! An in-memory [`Provider`] for the engine's own tests (tests only, not a registry row), as
//! object_store's `memory.rs` and rustic's testing backend: volumes and snapshots in a map, every
//! call written to a log, and faults a test can switch on. The engine's rules (order, the gate,
//! the verdict, hooks, locks, listing again) are tested in-process in milliseconds; the emulator
//! suite keeps the wire.

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::error::{ApiError, Error, Result};
use crate::kind::ProviderKind;
use crate::model::{
    CreateSnapshot, Operation, Progress, Snapshot, SnapshotKind, SnapshotState, SnapshotUpdate,
    Until, Volume, VolumeState,
};
use crate::provider::Provider;

/// What the memory cloud holds and what was asked of it.
#[derive(Default)]
pub struct State {
    /// Volumes.
    pub volumes: Vec<Volume>,
    /// Snapshots.
    pub snapshots: Vec<Snapshot>,
    /// Every call, in order: `list v1`, `create v1 NAME`, `poll ID`, `delete ID`, `update ID`.
    pub log: Vec<String>,
    /// Volumes whose creates are refused.
    pub refuse_create: BTreeSet<String>,
    /// Snapshots whose deletion is refused.
    pub refuse_delete: BTreeSet<String>,
    /// New snapshots stay `creating` for this many listings or polls of them.
    pub settle_after: usize,
    next: usize,
    pending: Vec<(String, usize)>,
}

/// The memory cloud.
pub struct Memory {
    kind: ProviderKind,
    /// Its state, for tests to arrange and inspect.
    pub state: Mutex<State>,
}

impl Memory {
    /// A cloud with `volumes` (ids) and no snapshots.
    pub fn new(volumes: &[&str]) -> Memory {
        let state = State {
            volumes: volumes
                .iter()
                .map(|id| Volume {
                    provider: ProviderKind::OvhEfs,
                    id: id.to_string(),
                    name: Some(id.to_string()),
                    size_gib: Some(100),
                    state: VolumeState::Available,
                    provider_state: None,
                    created_at: None,
                    tags: Default::default(),
                    description: None,
                    source_snapshot: None,
                })
                .collect(),
            ..State::default()
        };
        Memory {
            kind: ProviderKind::OvhEfs,
            state: Mutex::new(state),
        }
    }

    /// Add an available snapshot of `volume` named `name`, taken at `at`; its id is returned.
    pub fn add(
        &self,
        volume: &str,
        name: &str,
        description: Option<&str>,
        at: Timestamp,
    ) -> String {
        let mut s = self.state.lock().expect("state");
        s.next += 1;
        let id = format!("snap-{:04}", s.next);
        s.snapshots.push(Snapshot {
            provider: self.kind,
            id: id.clone(),
            volume_id: Some(volume.to_string()),
            name: Some(name.to_string()),
            description: description.map(str::to_string),
            state: SnapshotState::Available,
            provider_state: None,
            kind: SnapshotKind::Manual,
            created_at: Some(at),
            size_gib: Some(1),
            expires_at: None,
        });
        id
    }

    /// The calls so far.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().expect("state").log.clone()
    }

    /// The ids of `volume`'s snapshots.
    pub fn ids(&self, volume: &str) -> Vec<String> {
        let s = self.state.lock().expect("state");
        s.snapshots
            .iter()
            .filter(|x| x.volume_id.as_deref() == Some(volume))
            .map(|x| x.id.clone())
            .collect()
    }

    /// One look at a snapshot: a pending one settles after `settle_after` looks.
    fn look(s: &mut State, id: &str) {
        if let Some(p) = s.pending.iter_mut().find(|(p, _)| p == id) {
            if p.1 == 0 {
                s.pending.retain(|(p, _)| p != id);
                if let Some(x) = s.snapshots.iter_mut().find(|x| x.id == id) {
                    x.state = SnapshotState::Available;
                }
            } else {
                p.1 -= 1;
            }
        }
    }
}

fn refused(what: &str) -> Error {
    Error::Api(Box::new(ApiError {
        provider: ProviderKind::OvhEfs,
        action: what.to_string(),
        status: 400,
        code: Some("Refused".into()),
        message: format!("the memory cloud refuses {what}"),
        request_id_header: "X-Request-Id",
        request_id: None,
        hint: None,
    }))
}

#[async_trait]
impl Provider for Memory {
    fn kind(&self) -> ProviderKind {
        self.kind
    }

    fn scope(&self) -> String {
        "memory".into()
    }

    async fn list_volumes(&self) -> Result<Vec<Volume>> {
        let mut s = self.state.lock().expect("state");
        s.log.push("list volumes".into());
        Ok(s.volumes.clone())
    }

    async fn list_snapshots(&self, volume: Option<&str>) -> Result<Vec<Snapshot>> {
        let mut s = self.state.lock().expect("state");
        s.log.push(format!("list {}", volume.unwrap_or("*")));
        let ids: Vec<String> = s.pending.iter().map(|(id, _)| id.clone()).collect();
        for id in ids {
            Memory::look(&mut s, &id);
        }
        Ok(s.snapshots
            .iter()
            .filter(|x| volume.is_none() || x.volume_id.as_deref() == volume)
            .cloned()
            .collect())
    }

    async fn get_snapshot(&self, _volume: Option<&str>, id: &str) -> Result<Snapshot> {
        let mut s = self.state.lock().expect("state");
        s.log.push(format!("get {id}"));
        Memory::look(&mut s, id);
        s.snapshots
            .iter()
            .find(|x| x.id == id)
            .cloned()
            .ok_or_else(|| refused("an unknown snapshot"))
    }

    async fn create_snapshot(&self, req: &CreateSnapshot) -> Result<(Snapshot, Operation)> {
        let mut s = self.state.lock().expect("state");
        let name = req.name.clone().unwrap_or_default();
        s.log.push(format!("create {} {name}", req.volume));
        if s.refuse_create.contains(&req.volume) {
            return Err(refused("this create"));
        }
        s.next += 1;
        let id = format!("snap-{:04}", s.next);
        let settle = s.settle_after;
        let snap = Snapshot {
            provider: self.kind,
            id: id.clone(),
            volume_id: Some(req.volume.clone()),
            name: req.name.clone(),
            description: req.description.clone(),
            state: SnapshotState::Creating,
            provider_state: None,
            kind: SnapshotKind::Manual,
            created_at: Some(Timestamp::now()),
            size_gib: Some(1),
            expires_at: None,
        };
        s.snapshots.push(snap.clone());
        s.pending.push((id.clone(), settle));
        let op = Operation::Snapshot {
            volume: Some(req.volume.clone()),
            id,
            until: Until::Ready,
        };
        Ok((snap, op))
    }

    async fn delete_snapshot(&self, volume: Option<&str>, id: &str) -> Result<Operation> {
        let mut s = self.state.lock().expect("state");
        s.log.push(format!("delete {id}"));
        if s.refuse_delete.contains(id) {
            return Err(refused("this deletion"));
        }
        s.snapshots.retain(|x| x.id != id);
        Ok(Operation::Snapshot {
            volume: volume.map(str::to_string),
            id: id.to_string(),
            until: Until::Gone,
        })
    }

    async fn delete_volume(&self, id: &str) -> Result<Operation> {
        let mut s = self.state.lock().expect("state");
        s.log.push(format!("delete volume {id}"));
        let before = s.volumes.len();
        s.volumes.retain(|v| v.id != id);
        if s.volumes.len() == before {
            return Err(Error::NotFound(Box::new(ApiError {
                provider: self.kind,
                action: format!("delete volume {id}"),
                status: 404,
                code: Some("NotFound".into()),
                message: format!("volume {id} does not exist"),
                request_id_header: "X-Request-Id",
                request_id: None,
                hint: None,
            })));
        }
        Ok(Operation::Volume {
            id: id.to_string(),
            until: Until::Gone,
        })
    }

    async fn update_snapshot(&self, req: &SnapshotUpdate) -> Result<Snapshot> {
        let mut s = self.state.lock().expect("state");
        s.log.push(format!("update {}", req.snapshot));
        let x = s
            .snapshots
            .iter_mut()
            .find(|x| x.id == req.snapshot)
            .ok_or_else(|| refused("an unknown snapshot"))?;
        if let Some(n) = &req.name {
            x.name = Some(n.clone());
        }
        Ok(x.clone())
    }

    async fn poll(&self, op: &Operation) -> Result<Progress> {
        let Operation::Snapshot { id, until, .. } = op else {
            return Ok(Progress::Done);
        };
        let mut s = self.state.lock().expect("state");
        s.log.push(format!("poll {id}"));
        Memory::look(&mut s, id);
        let found = s.snapshots.iter().find(|x| &x.id == id);
        Ok(match (found, until) {
            (None, Until::Gone) => Progress::Done,
            (Some(x), until) => Progress::of_snapshot(x.state, None, *until, None),
            (None, _) => Progress::Failed {
                state: "gone".into(),
                message: None,
            },
        })
    }
}
