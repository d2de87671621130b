//! The emulated OVH API v1: `/auth/time`, Enterprise File Storage (`/storage/netapp`) and NAS-HA
//! (`/dedicated/nasha`), with OVH's signature check, error bodies and `X-Ovh-QueryID`.

use std::collections::BTreeSet;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Method, Response};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::{EFS_SERVICE, NASHA_SERVICE, OVH_AK, OVH_AS, OVH_CK, Req, World, reply};

mod nasha;
use nasha::*;

pub(crate) struct Share {
    id: String,
    name: String,
    description: Option<String>,
    size: u64,
    created_at: Timestamp,
    ready_at: Instant,
    creating_word: &'static str,
    reverting_until: Option<Instant>,
    snapshot_id: Option<String>,
    policy: String,
    /// When a DELETE was accepted: `deleting` until the delay has passed, then gone.
    gone_at: Option<Instant>,
}

pub(crate) struct EfsSnap {
    id: String,
    share: String,
    name: Option<String>,
    description: Option<String>,
    kind: &'static str,
    created_at: Timestamp,
    ready_at: Instant,
    gone_at: Option<Instant>,
    /// A status word set by `POST /_emulator/state`, reported instead of the computed one.
    forced: Option<&'static str>,
}

pub(crate) struct Policy {
    id: String,
    name: String,
    description: Option<String>,
    is_default: bool,
    rules: Value,
    ready_at: Instant,
}

pub(crate) struct Custom {
    partition: String,
    name: String,
    expiration: Option<String>,
    visible_at: Instant,
    gone_at: Option<Instant>,
}

pub(crate) struct Task {
    id: i64,
    operation: &'static str,
    partition: String,
    started: Instant,
}

/// EFS and NAS-HA state.
#[derive(Default)]
pub(crate) struct OvhState {
    shares: Vec<Share>,
    snaps: Vec<EfsSnap>,
    policies: Vec<Policy>,
    partitions: Vec<(String, u64)>,
    customs: Vec<Custom>,
    schedules: Vec<(String, BTreeSet<String>)>,
    tasks: Vec<Task>,
    next_task: i64,
}

impl OvhState {
    /// The first seeded share.
    pub(crate) fn label_share(&mut self, id: &str, name: &str, description: &str) {
        if let Some(s) = self.shares.iter_mut().find(|s| s.id == id) {
            s.name = name.to_string();
            s.description = Some(description.to_string());
        }
    }

    pub(crate) fn rename_first_share(&mut self, name: &str) {
        if let Some(s) = self.shares.first_mut() {
            s.name = name.to_string();
        }
    }

    pub(crate) fn first_share(&self) -> String {
        self.shares
            .first()
            .map(|s| s.id.clone())
            .unwrap_or_default()
    }
}

const FREQUENCIES: [&str; 6] = ["hour-1", "hour-6", "day-1", "day-2", "day-3", "day-7"];

/// The demo account: one EFS service with two shares and a few snapshots; one NAS-HA service with
/// two partitions.
/// A manual snapshot of the first share, taken `at` (benchmarks).
pub(crate) fn seed_snapshot(w: &mut World, name: &str, at: Timestamp) {
    let id = w.uuid();
    let share = w.ovh.shares[0].id.clone();
    w.ovh.snaps.push(EfsSnap {
        id,
        share,
        name: Some(name.to_string()),
        description: None,
        kind: "manual",
        created_at: at,
        ready_at: Instant::now(),
        gone_at: None,
        forced: None,
    });
}

/// `n` more EFS shares and NAS-HA partitions, `fleet-0001`… (fleet-mode scale tests).
pub(crate) fn seed_volumes(w: &mut World, n: usize) {
    let now = w.now();
    let policy = w.ovh.policies[0].id.clone();
    for i in 1..=n {
        let id = w.uuid();
        w.ovh.shares.push(Share {
            id,
            name: format!("fleet-{i:04}"),
            description: None,
            size: 100,
            created_at: now - jiff::SignedDuration::from_hours(24),
            ready_at: Instant::now(),
            creating_word: "creating",
            reverting_until: None,
            snapshot_id: None,
            policy: policy.clone(),
            gone_at: None,
        });
        let name = format!("fleet-{i:04}");
        w.ovh.partitions.push((name.clone(), 100));
        w.ovh.schedules.push((name, BTreeSet::new()));
    }
}

pub(crate) fn seed(w: &mut World) {
    let now = w.now();
    let past = Instant::now();
    let default_policy = w.uuid();
    w.ovh.policies.push(Policy {
        id: default_policy.clone(),
        name: "default".into(),
        description: None,
        is_default: true,
        rules: json!([{"copies": 7, "prefix": "daily", "schedule": {"minutes": [0], "hours": [0], "days": [], "months": [], "weekdays": []}}]),
        ready_at: past,
    });
    for (name, size) in [("appdata", 500u64), ("logs", 100)] {
        let id = w.uuid();
        w.ovh.shares.push(Share {
            id: id.clone(),
            name: name.into(),
            description: None,
            size,
            created_at: now - jiff::SignedDuration::from_hours(24 * 30),
            ready_at: past,
            creating_word: "creating",
            reverting_until: None,
            snapshot_id: None,
            policy: default_policy.clone(),
            gone_at: None,
        });
        for (i, kind) in ["automatic", "manual"].iter().enumerate() {
            let sid = w.uuid();
            w.ovh.snaps.push(EfsSnap {
                id: sid,
                share: id.clone(),
                name: Some(if *kind == "automatic" {
                    format!(
                        "daily.{}",
                        (now - jiff::SignedDuration::from_hours(48)).strftime("%Y-%m-%d_0000")
                    )
                } else {
                    "before-upgrade".into()
                }),
                description: None,
                kind,
                created_at: now - jiff::SignedDuration::from_hours(48 - 24 * i as i64),
                ready_at: past,
                gone_at: None,
                forced: None,
            });
        }
    }
    w.ovh.partitions = vec![("partition1".into(), 500), ("backups".into(), 1000)];
    w.ovh.schedules = vec![
        ("partition1".into(), BTreeSet::from(["hour-1".to_string()])),
        ("backups".into(), BTreeSet::from(["hour-1".to_string()])),
    ];
    w.ovh.customs.push(Custom {
        partition: "partition1".into(),
        name: "before-upgrade".into(),
        expiration: None,
        visible_at: past,
        gone_at: None,
    });
    w.ovh.next_task = 4000;
}

fn qid() -> Vec<(&'static str, String)> {
    vec![(
        "X-Ovh-QueryID",
        format!("EU.emulator.{:08x}", fastrand::u32(..)),
    )]
}

fn err(status: u16, message: &str, code: Option<&str>) -> Response<Body> {
    let mut body = json!({ "message": message });
    match code {
        Some(c) => {
            body["errorCode"] = json!(c);
            body["httpCode"] = json!(format!("{status} {}", reason(status)));
        }
        None => {
            let side = if status >= 500 { "Server" } else { "Client" };
            body["class"] = json!(format!("{side}::{}", reason(status).replace(' ', "")))
        }
    }
    reply(status, body, &qid())
}

/// A route the emulator does not serve: 501, never 404, which a client reads as "already gone".
fn unserved() -> Response<Body> {
    err(
        501,
        "this route is not served by the emulator (the real API may serve it)",
        None,
    )
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        501 => "Not Implemented",
        _ => "Error",
    }
}

fn ok(body: Value) -> Response<Body> {
    reply(200, body, &qid())
}

fn not_found(what: &str, id: &str) -> Response<Body> {
    err(
        404,
        &format!("The requested object ({what} = {id}) does not exist"),
        None,
    )
}

/// Check `X-Ovh-*` like the API: known key, fresh timestamp, signature over method, URL, body.
fn authenticate(req: &Req) -> Option<Response<Body>> {
    let (Some(ak), Some(ck), Some(ts), Some(sig)) = (
        req.header("x-ovh-application"),
        req.header("x-ovh-consumer"),
        req.header("x-ovh-timestamp"),
        req.header("x-ovh-signature"),
    ) else {
        return Some(err(401, "You must login first", Some("NOT_AUTHENTICATED")));
    };
    if ak != OVH_AK {
        return Some(err(403, "Invalid application key", Some("INVALID_KEY")));
    }
    if ck != OVH_CK {
        return Some(err(403, "Invalid credential", Some("INVALID_CREDENTIAL")));
    }
    let Ok(ts) = ts.parse::<i64>() else {
        return Some(err(400, "Query out of time", Some("QUERY_TIME_OUT")));
    };
    if (Timestamp::now().as_second() - ts).abs() > 180 {
        return Some(err(400, "Query out of time", Some("QUERY_TIME_OUT")));
    }
    let expected = crate::providers::ovh::sign::signature(
        OVH_AS,
        OVH_CK,
        req.method.as_str(),
        &req.full_url(),
        &req.body,
        ts,
    );
    (sig != expected).then(|| err(400, "Invalid signature", Some("INVALID_SIGNATURE")))
}

pub(crate) fn handle(w: &mut World, req: &Req) -> Response<Body> {
    let path = req.path.trim_start_matches("/1.0");
    if path == "/auth/time" && req.method == Method::GET {
        return reply(200, json!(Timestamp::now().as_second()), &[]);
    }
    if let Some(refused) = authenticate(req) {
        return refused;
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["storage", "netapp", rest @ ..] => efs(w, req, rest),
        ["dedicated", "nasha", rest @ ..] => nasha(w, req, rest),
        _ => unserved(),
    }
}

// ---------------------------------------------------------------------------------------------
// Enterprise File Storage

fn share_json(s: &Share) -> Value {
    let now = Instant::now();
    let status = if s.gone_at.is_some() {
        "deleting"
    } else if now < s.ready_at {
        s.creating_word
    } else if s.reverting_until.is_some_and(|t| now < t) {
        "reverting"
    } else {
        "available"
    };
    json!({
        "createdAt": s.created_at.to_string(),
        "description": s.description,
        "id": s.id,
        "mountPointName": s.name,
        "name": s.name,
        "protocol": "NFS",
        "size": s.size,
        "snapshotID": s.snapshot_id,
        "status": status,
    })
}

fn snap_json(s: &EfsSnap) -> Value {
    let status = super::snapshot_status(s.forced, s.gone_at.is_some(), s.ready_at);
    json!({
        "createdAt": s.created_at.to_string(),
        "description": s.description,
        "id": s.id,
        "name": s.name,
        "path": format!("/{}/.snapshot/{}", s.share, s.name.as_deref().unwrap_or(&s.id)),
        "status": status,
        "type": s.kind,
    })
}

fn policy_json(p: &Policy) -> Value {
    json!({
        "createdAt": "2024-02-12T09:21:44Z",
        "description": p.description,
        "id": p.id,
        "isDefault": p.is_default,
        "name": p.name,
        "rules": p.rules,
        "status": if Instant::now() < p.ready_at { "creating" } else { "available" },
    })
}

fn purge_efs(w: &mut World) {
    let now = Instant::now();
    w.ovh.snaps.retain(|s| s.gone_at.is_none_or(|t| now < t));
    w.ovh.shares.retain(|s| s.gone_at.is_none_or(|t| now < t));
}

fn efs(w: &mut World, req: &Req, rest: &[&str]) -> Response<Body> {
    purge_efs(w);
    let m = &req.method;
    match rest {
        [] if *m == Method::GET => ok(json!([{
            "createdAt": "2024-02-12T09:21:44.151Z",
            "id": EFS_SERVICE,
            "name": "efs-demo",
            "performanceLevel": "premium",
            "product": "enterprise-file-storage-premium-1tb",
            "quota": 1000,
            "region": "eu-west-gra",
            "status": "running",
        }])),
        [svc, ..] if *svc != EFS_SERVICE => not_found("serviceName", svc),
        [_, "share"] if *m == Method::GET => {
            ok(Value::Array(w.ovh.shares.iter().map(share_json).collect()))
        }
        [_, "share"] if *m == Method::POST => efs_create_share(w, req),
        [_, "snapshotPolicy"] if *m == Method::GET => ok(Value::Array(
            w.ovh.policies.iter().map(policy_json).collect(),
        )),
        [_, "snapshotPolicy"] if *m == Method::POST => {
            let Some(body) = req.json() else {
                return err(400, "Invalid JSON body", None);
            };
            let rules = body["rules"].clone();
            if !rules
                .as_array()
                .is_some_and(|r| !r.is_empty() && r.len() <= 4)
            {
                return err(400, "A snapshot policy needs 1 to 4 rules", None);
            }
            let id = w.uuid();
            let policy = Policy {
                id,
                name: body["name"].as_str().unwrap_or("policy").to_string(),
                description: body["description"].as_str().map(str::to_string),
                is_default: false,
                rules,
                ready_at: w.ready_at(),
            };
            let out = policy_json(&policy);
            w.ovh.policies.push(policy);
            ok(out)
        }
        [_, "snapshotPolicy", pid] => {
            let Some(i) = w.ovh.policies.iter().position(|p| p.id == *pid) else {
                return not_found("snapshotPolicyId", pid);
            };
            match *m {
                Method::GET => ok(policy_json(&w.ovh.policies[i])),
                Method::DELETE => {
                    if w.ovh.shares.iter().any(|s| s.policy == *pid) {
                        return err(409, "This snapshot policy is attached to a share", None);
                    }
                    w.ovh.policies.remove(i);
                    reply(200, serde_json::Value::Null, &qid())
                }
                _ => err(405, "method not allowed", None),
            }
        }
        [_, "share", sid, tail @ ..] => {
            let Some(si) = w.ovh.shares.iter().position(|s| s.id == *sid) else {
                return not_found("shareId", sid);
            };
            efs_share(w, req, si, tail)
        }
        _ => unserved(),
    }
}

/// `POST …/share`: a new share, blank or from a manual snapshot (`snapshotID`).
fn efs_create_share(w: &mut World, req: &Req) -> Response<Body> {
    let Some(body) = req.json() else {
        return err(400, "Invalid JSON body", None);
    };
    if body["protocol"] != "NFS" {
        return err(400, "protocol must be NFS", None);
    }
    let Some(snap_id) = body["snapshotID"].as_str() else {
        return efs_blank_share(w, &body);
    };
    let Some(snap) = w.ovh.snaps.iter().find(|s| s.id == snap_id) else {
        return not_found("snapshotID", snap_id);
    };
    if snap.kind != "manual" {
        return err(
            400,
            "Only manual snapshots can be used to create a share",
            None,
        );
    }
    let parent_size = w
        .ovh
        .shares
        .iter()
        .find(|s| s.id == snap.share)
        .map_or(100, |s| s.size);
    let size = body["size"].as_u64().unwrap_or(0);
    if size < parent_size.max(100) {
        return err(
            400,
            &format!("size must be at least the snapshot size ({parent_size} GB)"),
            None,
        );
    }
    new_share(w, &body, size, Some(snap_id.to_string()))
}

/// A blank share of `size` GB (EFS volumes are 100 GB to 29 TB), `creating` for the delay.
fn efs_blank_share(w: &mut World, body: &Value) -> Response<Body> {
    let size = body["size"].as_u64().unwrap_or(0);
    if !(100..=29_000).contains(&size) {
        return err(400, "size must be between 100 and 29000 GB", None);
    }
    new_share(w, body, size, None)
}

/// A share `POST …/share` made (blank, or from `snapshot`): `creating` (or
/// `creating_from_snapshot`) for the delay, with the service's default snapshot policy.
fn new_share(w: &mut World, body: &Value, size: u64, snapshot: Option<String>) -> Response<Body> {
    let policy = w
        .ovh
        .policies
        .iter()
        .find(|p| p.is_default)
        .map(|p| p.id.clone())
        .unwrap_or_default();
    let share = Share {
        id: w.uuid(),
        name: body["name"].as_str().unwrap_or("share").to_string(),
        description: body["description"].as_str().map(str::to_string),
        size,
        created_at: w.now(),
        ready_at: w.ready_at(),
        creating_word: if snapshot.is_some() {
            "creating_from_snapshot"
        } else {
            "creating"
        },
        reverting_until: None,
        snapshot_id: snapshot,
        policy,
        gone_at: None,
    };
    let out = share_json(&share);
    w.ovh.shares.push(share);
    reply(200, out, &qid())
}

fn efs_share(w: &mut World, req: &Req, si: usize, tail: &[&str]) -> Response<Body> {
    let m = &req.method;
    let share_id = w.ovh.shares[si].id.clone();
    match tail {
        [] if *m == Method::GET => ok(share_json(&w.ovh.shares[si])),
        [] if *m == Method::DELETE => {
            // EFS shares are Manila shares: one with snapshots is refused (delete them first).
            let dependent = w.ovh.snaps.iter().filter(|s| s.share == share_id).count();
            if dependent > 0 {
                return err(
                    409,
                    &format!("Share still has {dependent} dependent snapshots."),
                    None,
                );
            }
            let until = w.ready_at();
            w.ovh.shares[si].gone_at.get_or_insert(until);
            reply(200, serde_json::Value::Null, &qid())
        }
        // One NFS export per share, preferred (EFS answers the list even for one path).
        ["accessPath"] if *m == Method::GET => ok(json!([{
            "id": share_id,
            "path": format!("127.0.0.1:/share_{}", share_id.replace('-', "_")),
            "preferred": true,
        }])),
        ["snapshot"] if *m == Method::GET => ok(Value::Array(
            w.ovh
                .snaps
                .iter()
                .filter(|s| s.share == share_id)
                .map(snap_json)
                .collect(),
        )),
        ["snapshot"] if *m == Method::POST => efs_snapshot_create(w, req, share_id),
        ["snapshot", snap_id, rest @ ..] => efs_snapshot(w, req, &share_id, snap_id, rest),
        ["revert"] if *m == Method::POST => efs_revert(w, req, si),
        ["snapshotPolicy"] if *m == Method::GET => {
            ok(json!({"id": w.ovh.shares[si].policy, "status": "active"}))
        }
        ["snapshotPolicy"] if *m == Method::PUT => efs_set_policy(w, req, si),
        _ => unserved(),
    }
}

/// `POST …/share/{id}/snapshot`.
fn efs_snapshot_create(w: &mut World, req: &Req, share_id: String) -> Response<Body> {
    let body = req.json().unwrap_or(json!({}));
    if w.refuse_creates.contains(&share_id) {
        return err(
            409,
            "The share is not in a state allowing snapshot creation",
            Some("Client::Conflict"),
        );
    }
    if w.ovh.snaps.iter().filter(|s| s.share == share_id).count() >= 200 {
        return err(
            400,
            "Maximum number of snapshots reached for this share",
            None,
        );
    }
    let snap = EfsSnap {
        id: w.uuid(),
        share: share_id,
        name: body["name"].as_str().map(str::to_string),
        description: body["description"].as_str().map(str::to_string),
        kind: "manual",
        created_at: w.now(),
        ready_at: w.ready_at(),
        gone_at: None,
        forced: None,
    };
    let out = snap_json(&snap);
    w.ovh.snaps.push(snap);
    ok(out)
}

/// `…/share/{id}/snapshot/{snapshotId}[/hold]`.
fn efs_snapshot(
    w: &mut World,
    req: &Req,
    share_id: &str,
    snap_id: &str,
    rest: &[&str],
) -> Response<Body> {
    let m = &req.method;
    let Some(i) = w
        .ovh
        .snaps
        .iter()
        .position(|s| s.id == snap_id && s.share == share_id)
    else {
        return not_found("snapshotId", snap_id);
    };
    match (m.clone(), rest) {
        (Method::GET, []) => ok(snap_json(&w.ovh.snaps[i])),
        (Method::PUT, []) => {
            let body = req.json().unwrap_or(json!({}));
            let s = &mut w.ovh.snaps[i];
            if let Some(n) = body["name"].as_str() {
                s.name = Some(n.to_string());
            }
            if let Some(d) = body["description"].as_str() {
                s.description = Some(d.to_string());
            }
            ok(snap_json(&w.ovh.snaps[i]))
        }
        (Method::DELETE, []) => {
            if w.ovh.snaps[i].gone_at.is_none() {
                w.ovh.snaps[i].gone_at = Some(w.ready_at());
            }
            reply(200, serde_json::Value::Null, &qid())
        }
        (Method::POST, ["hold"]) => {
            if w.ovh.snaps[i].kind != "automatic" {
                return err(400, "Only automatic snapshots can be held", None);
            }
            let new_id = w.uuid();
            let s = &mut w.ovh.snaps[i];
            s.id = new_id;
            s.kind = "manual";
            ok(snap_json(&w.ovh.snaps[i]))
        }
        _ => err(405, "method not allowed", None),
    }
}

/// `POST …/share/{id}/revert`: only to the share's latest snapshot, a manual one.
fn efs_revert(w: &mut World, req: &Req, si: usize) -> Response<Body> {
    let share_id = w.ovh.shares[si].id.clone();
    let Some(target) = req
        .json()
        .and_then(|b| b["snapshotID"].as_str().map(str::to_string))
    else {
        return err(400, "snapshotID is required", None);
    };
    let latest = w
        .ovh
        .snaps
        .iter()
        .filter(|s| s.share == share_id && s.gone_at.is_none())
        .max_by_key(|s| s.created_at);
    match latest {
        Some(l) if l.id == target && l.kind == "manual" => {
            w.ovh.shares[si].reverting_until = Some(w.ready_at());
            reply(200, serde_json::Value::Null, &qid())
        }
        Some(l) if l.id == target => err(400, "Only manual snapshots can be used to revert", None),
        _ => err(
            400,
            "A share can only be reverted to its latest snapshot",
            None,
        ),
    }
}

/// `PUT …/share/{id}/snapshotPolicy`.
fn efs_set_policy(w: &mut World, req: &Req, si: usize) -> Response<Body> {
    let Some(pid) = req
        .json()
        .and_then(|b| b["snapshotPolicyID"].as_str().map(str::to_string))
    else {
        return err(400, "snapshotPolicyID is required", None);
    };
    match w.ovh.policies.iter().find(|p| p.id == pid) {
        None => not_found("snapshotPolicyID", &pid),
        Some(p) if Instant::now() < p.ready_at => {
            err(409, "The snapshot policy is not available yet", None)
        }
        Some(_) => {
            w.ovh.shares[si].policy = pid;
            reply(200, serde_json::Value::Null, &qid())
        }
    }
}

/// The words `NetAppShareSnapshot.status` and `.type` take (the OpenAPI enums).
const EFS_STATUSES: [&str; 10] = [
    "available",
    "creating",
    "deleting",
    "error",
    "error_deleting",
    "manage_error",
    "manage_starting",
    "restoring",
    "unmanage_error",
    "unmanage_starting",
];
const EFS_TYPES: [&str; 3] = ["automatic", "manual", "system"];

/// `POST /_emulator/state` for an EFS snapshot: its status or its type from now on. `None` when
/// no snapshot has that id; `Err` names the words the API has.
pub(crate) fn force_state(
    w: &mut World,
    id: &str,
    state: Option<&str>,
    kind: Option<&str>,
) -> Option<Result<(), String>> {
    let s = w.ovh.snaps.iter_mut().find(|s| s.id == id)?;
    let state = state.map(|w| super::documented(w, &EFS_STATUSES, "EFS snapshot statuses"));
    let kind = kind.map(|w| super::documented(w, &EFS_TYPES, "EFS snapshot types"));
    Some((|| {
        if let Some(word) = state.transpose()? {
            s.forced = Some(word);
        }
        if let Some(word) = kind.transpose()? {
            s.kind = word;
        }
        Ok(())
    })())
}
