//! The emulated PowerVC: Keystone v3 password tokens with a catalog pointing back at the emulator,
//! and the Cinder v3 volume service with PowerVC's `clone-volumes` task and its progress.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Method, Response};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::strings;
use super::{PVC_PASSWORD, PVC_PROJECT, PVC_USER, Req, World, empty, reply};

mod clone;
mod quota;
mod volumes;
use clone::*;
pub(crate) use quota::Quota;
use volumes::*;

pub(crate) struct Vol {
    id: String,
    name: String,
    size: u64,
    in_use: bool,
    created_at: Timestamp,
    ready_at: Instant,
    reverting_until: Option<Instant>,
    snapshot_id: Option<String>,
    /// The volume it was cloned from (`POST /volumes` with `source_volid`).
    source_volid: Option<String>,
    metadata: BTreeMap<String, String>,
    description: Option<String>,
    /// Set by an update; the creation time until then.
    updated_at: Option<Timestamp>,
    /// When a DELETE was accepted: `deleting` until the delay has passed, then gone.
    gone_at: Option<Instant>,
}

pub(crate) struct Snap {
    id: String,
    volume_id: String,
    name: Option<String>,
    description: Option<String>,
    size: u64,
    metadata: Value,
    created_at: Timestamp,
    /// Set by an update (name, description, metadata); `null` until then, as Cinder writes it.
    updated_at: Option<Timestamp>,
    ready_at: Instant,
    gone_at: Option<Instant>,
    /// A status set by `POST /_emulator/state`, reported instead of the computed one.
    forced: Option<&'static str>,
}

pub(crate) struct CloneTask {
    id: String,
    started: Instant,
    pairs: Vec<(String, String)>,
}

/// PowerVC state.
#[derive(Default)]
pub(crate) struct PvcState {
    tokens: Vec<String>,
    vols: Vec<Vol>,
    snaps: Vec<Snap>,
    clones: Vec<CloneTask>,
    /// The project's quotas (`GET /limits` says them; creates are held to them).
    pub(crate) quota: Quota,
}

impl PvcState {
    /// The first seeded volume (not attached).
    pub(crate) fn first_volume(&self) -> String {
        self.vols.first().map(|v| v.id.clone()).unwrap_or_default()
    }

    pub(crate) fn label_volume(
        &mut self,
        id: &str,
        name: &str,
        description: &str,
        tags: &[(&str, &str)],
    ) {
        if let Some(v) = self.vols.iter_mut().find(|v| v.id == id) {
            v.name = name.to_string();
            v.description = Some(description.to_string());
            for (k, val) in tags {
                v.metadata.insert(k.to_string(), val.to_string());
            }
        }
    }

    pub(crate) fn rename_first_volume(&mut self, name: &str) {
        if let Some(v) = self.vols.first_mut() {
            v.name = name.to_string();
        }
    }
}

/// An available snapshot of the first volume, named `name`, taken `at` (benchmarks).
pub(crate) fn seed_snapshot(w: &mut World, name: &str, at: Timestamp) {
    let id = w.uuid();
    let volume_id = w.pvc.vols[0].id.clone();
    w.pvc.snaps.push(Snap {
        id,
        volume_id,
        name: Some(name.to_string()),
        description: None,
        size: 20,
        metadata: json!({}),
        created_at: at,
        ready_at: Instant::now(),
        updated_at: None,
        gone_at: None,
        forced: None,
    });
}

/// `n` more available volumes, `fleet-0001`…, with metadata `fleet=yes` (fleet-mode scale tests).
pub(crate) fn seed_volumes(w: &mut World, n: usize) {
    let now = w.now();
    for i in 1..=n {
        let id = w.uuid();
        w.pvc.vols.push(Vol {
            id,
            name: format!("fleet-{i:04}"),
            size: 10,
            in_use: false,
            created_at: now - jiff::SignedDuration::from_hours(24),
            ready_at: Instant::now(),
            reverting_until: None,
            description: None,
            updated_at: None,
            gone_at: None,
            snapshot_id: None,
            source_volid: None,
            metadata: BTreeMap::from([("fleet".to_string(), "yes".to_string())]),
        });
    }
}

/// Two volumes, the second attached to a VM.
pub(crate) fn seed(w: &mut World) {
    let now = w.now();
    for (i, name) in ["db-data", "db-logs"].iter().enumerate() {
        let id = w.uuid();
        w.pvc.vols.push(Vol {
            id,
            name: name.to_string(),
            size: 20,
            in_use: i == 1,
            created_at: now - jiff::SignedDuration::from_hours(24 * 90),
            ready_at: Instant::now(),
            reverting_until: None,
            description: None,
            updated_at: None,
            gone_at: None,
            snapshot_id: None,
            source_volid: None,
            // Volume metadata, which policy selectors match (`tags`).
            metadata: if i == 0 {
                BTreeMap::from([("backup".to_string(), "gold".to_string())])
            } else {
                BTreeMap::new()
            },
        });
    }
    // A snapshot of the first volume, as docs/emulator.md promises.
    let id = w.uuid();
    let volume_id = w.pvc.vols[0].id.clone();
    w.pvc.snaps.push(Snap {
        id,
        volume_id,
        name: Some("before-upgrade".into()),
        description: Some("seeded by the emulator".into()),
        size: 20,
        metadata: json!({}),
        created_at: now - jiff::SignedDuration::from_hours(24),
        ready_at: Instant::now(),
        updated_at: None,
        gone_at: None,
        forced: None,
    });
}

fn rid() -> Vec<(&'static str, String)> {
    vec![(
        "x-openstack-request-id",
        format!(
            "req-{:08x}-0000-4000-8000-{:012x}",
            fastrand::u32(..),
            fastrand::u64(..1 << 48)
        ),
    )]
}

fn fault(status: u16, name: &str, message: &str) -> Response<Body> {
    reply(
        status,
        json!({ name: {"code": status, "message": message} }),
        &rid(),
    )
}

/// A time as Keystone writes it: UTC with microseconds (`2015-08-27T09:49:58.000000Z`).
fn keystone_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A route the emulator does not serve: 501 in Cinder's fault shape, never 404, which a client
/// reads as "already gone" (openstacksdk's `delete_volume(ignore_missing=True)` did).
fn unserved() -> Response<Body> {
    fault(
        501,
        "notImplemented",
        "this route is not served by the emulator (the real API may serve it)",
    )
}

fn ok(status: u16, body: Value) -> Response<Body> {
    reply(status, body, &rid())
}

fn vol_json(v: &Vol) -> Value {
    let now = Instant::now();
    let status = if v.gone_at.is_some() {
        "deleting"
    } else if now < v.ready_at {
        "creating"
    } else if v.reverting_until.is_some_and(|t| now < t) {
        "reverting"
    } else if v.in_use {
        "in-use"
    } else {
        "available"
    };
    let created = cinder_time(v.created_at);
    let href = format!("/volume/v3/{PVC_PROJECT}/volumes/{}", v.id);
    // Every field the api-ref marks required in a volume's detail.
    json!({
        "attachments": [], "availability_zone": "nova", "bootable": "false",
        "consistencygroup_id": null, "created_at": created, "description": v.description,
        "encrypted": false, "id": v.id,
        "links": [{"rel": "self", "href": href}, {"rel": "bookmark", "href": href}],
        "metadata": v.metadata, "migration_status": null, "multiattach": false, "name": v.name,
        "os-vol-tenant-attr:tenant_id": PVC_PROJECT, "replication_status": "disabled",
        "size": v.size, "snapshot_id": v.snapshot_id, "source_volid": v.source_volid, "status": status,
        "updated_at": cinder_time(v.updated_at.unwrap_or(v.created_at)), "user_id": PVC_USER_ID, "volume_type": "emulated-gold",
    })
}

/// The emulated user's id (Keystone's, as a token names it).
const PVC_USER_ID: &str = "0ca8f6c6e4f14b0c8a2e0d2e5b1c9f11";

/// A time as Cinder writes it: naive UTC with microseconds (`2016-02-11T09:58:34.000000`).
fn cinder_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

fn snap_json(s: &Snap) -> Value {
    let status = super::snapshot_status(s.forced, s.gone_at.is_some(), s.ready_at);
    json!({
        "created_at": cinder_time(s.created_at),
        "description": s.description, "id": s.id, "metadata": s.metadata, "name": s.name,
        "os-extended-snapshot-attributes:progress": if status == "creating" { "50%" } else { "100%" },
        "os-extended-snapshot-attributes:project_id": PVC_PROJECT,
        "size": s.size, "status": status, "updated_at": s.updated_at.map(cinder_time),
        "volume_id": s.volume_id,
    })
}

fn token_body(base: &str) -> Value {
    json!({"token": {
        "audit_ids": ["emulator"],
        "catalog": [
            {"type": "identity", "name": "keystone", "id": "k", "endpoints": [
                {"id": "k1", "interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": format!("{base}/identity/v3")}]},
            {"type": "volumev3", "name": "cinderv3", "id": "c", "endpoints": [
                {"id": "c1", "interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": format!("{base}/volume/v3/{PVC_PROJECT}")}]},
        ],
        "expires_at": keystone_time(Timestamp::now() + jiff::SignedDuration::from_hours(6)),
        "issued_at": keystone_time(Timestamp::now()),
        "is_domain": false,
        "methods": ["password"],
        "project": {"domain": {"id": "default", "name": "Default"}, "id": PVC_PROJECT, "name": "ibm-default"},
        "roles": [{"id": "admin", "name": "admin"}],
        "user": {"domain": {"id": "default", "name": "Default"}, "id": PVC_USER_ID, "name": PVC_USER, "password_expires_at": null},
    }})
}

fn unauthorized() -> Response<Body> {
    reply(
        401,
        json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}),
        &rid(),
    )
}

/// Keystone's version document for `/identity/v3` (what keystoneauth's discovery reads).
fn identity_version(base: &str) -> Value {
    json!({
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": format!("{base}/identity/v3/")}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    })
}

/// Cinder's version document for `/volume/v3` (max microversion 3.71, as the API reference's).
fn volume_version(base: &str) -> Value {
    json!({
        "id": "v3.0",
        "status": "CURRENT",
        "updated": "2023-08-31T00:00:00Z",
        "min_version": "3.0",
        "version": "3.71",
        "links": [
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
            {"rel": "self", "href": format!("{base}/volume/v3/")},
        ],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.volume+json;version=3"}],
    })
}

/// Keystone under `/identity/v3` and the volume service under `/volume/v3/{project}`: two roots,
/// as PowerVC serves them on ports 5000 and 9000, so each answers its own version discovery; the
/// token's catalog says where the volume service is.
pub(crate) fn handle(w: &mut World, req: &Req) -> Response<Body> {
    let segs: Vec<&str> = req
        .path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let m = req.method.clone();
    let base = format!("http://{}", req.header("host").unwrap_or("127.0.0.1"));
    match segs.as_slice() {
        ["identity"] if m == Method::GET => ok(
            300,
            json!({"versions": {"values": [identity_version(&base)]}}),
        ),
        ["identity", "v3"] if m == Method::GET => {
            ok(200, json!({"version": identity_version(&base)}))
        }
        ["identity", "v3", "auth", "tokens"] if m == Method::POST => {
            let body = req.json().unwrap_or(json!({}));
            let user = &body["auth"]["identity"]["password"]["user"];
            if user["name"] != PVC_USER || user["password"] != PVC_PASSWORD {
                return unauthorized();
            }
            let token = format!("gAAAAAemulator{:016x}", w.rng.u64(..));
            w.pvc.tokens.push(token.clone());
            let mut headers = rid();
            headers.push(("X-Subject-Token", token));
            reply(201, token_body(&base), &headers)
        }
        ["volume"] if m == Method::GET => ok(300, json!({"versions": [volume_version(&base)]})),
        ["volume", "v3"] if m == Method::GET => {
            ok(200, json!({"versions": [volume_version(&base)]}))
        }
        ["volume", "v3", project, rest @ ..] => {
            let token = req.header("x-auth-token").unwrap_or_default();
            if !w.pvc.tokens.iter().any(|t| t == token) {
                return unauthorized();
            }
            if *project != PVC_PROJECT {
                return fault(404, "itemNotFound", "project not found");
            }
            volume_service(w, req, rest)
        }
        _ => unserved(),
    }
}

/// One page of a Cinder list, as Cinder pages it: `name=` (exact), then sorted (`sort=key[:dir],…`
/// or `sort_key`/`sort_dir`; by default newest first, `created_at` then `id`, descending), then
/// from after `marker` (an id the list does not hold is Cinder's `MarkerNotFound`, a `NotFound`
/// that its fault wrapper answers 404), `limit` items with a `next` link, and `count` when
/// `with_count=true` (3.45).
fn list_page(
    req: &Req,
    version: (u32, u32),
    items: Vec<Value>,
    key: &str,
    project_base: &str,
) -> Response<Body> {
    let mut items: Vec<Value> = match req.query("name") {
        Some(name) => items.into_iter().filter(|v| v["name"] == name).collect(),
        None => items,
    };
    let keys: Vec<(String, bool)> = match (req.query("sort"), req.query("sort_key")) {
        (Some(sort), _) => sort
            .split(',')
            .map(|k| match k.split_once(':') {
                Some((k, dir)) => (k.to_string(), dir != "asc"),
                None => (k.to_string(), true),
            })
            .collect(),
        (None, Some(k)) => vec![(k.to_string(), req.query("sort_dir") != Some("asc"))],
        (None, None) => vec![("created_at".into(), true), ("id".into(), true)],
    };
    const SORTABLE: [&str; 7] = [
        "created_at",
        "updated_at",
        "id",
        "name",
        "size",
        "status",
        "volume_id",
    ];
    if let Some((bad, _)) = keys.iter().find(|(k, _)| !SORTABLE.contains(&k.as_str())) {
        return fault(
            400,
            "badRequest",
            &format!("Invalid input received: sort key {bad}"),
        );
    }
    items.sort_by(|a, b| {
        keys.iter()
            .map(|(k, desc)| {
                let o = match (&a[k], &b[k]) {
                    (Value::Number(x), Value::Number(y)) => x
                        .as_f64()
                        .partial_cmp(&y.as_f64())
                        .unwrap_or(std::cmp::Ordering::Equal),
                    (x, y) => x.as_str().unwrap_or("").cmp(y.as_str().unwrap_or("")),
                };
                if *desc { o.reverse() } else { o }
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let limit: usize = req
        .query("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(1000)
        .max(1);
    let start = match req.query("marker") {
        Some(m) => match items.iter().position(|v| v["id"] == m) {
            Some(i) => i + 1,
            None => {
                return fault(
                    404,
                    "itemNotFound",
                    &format!("Marker {m} could not be found."),
                );
            }
        },
        None => 0,
    };
    let end = (start + limit).min(items.len());
    let mut out = json!({ key: items[start.min(end)..end].to_vec() });
    if end < items.len()
        && let Some(last) = items.get(end - 1)
    {
        out[format!("{key}_links")] = json!([{
            "rel": "next",
            "href": format!("{project_base}/{key}/detail?limit={limit}&marker={}", last["id"].as_str().unwrap_or_default()),
        }]);
    }
    if version >= (3, 45) && req.query("with_count") == Some("true") {
        out["count"] = json!(items.len());
    }
    ok(200, out)
}

/// The newest microversion the emulated volume service speaks (the api-ref's).
const MAX_MICROVERSION: (u32, u32) = (3, 71);

/// The microversion a request asks for (`OpenStack-API-Version: volume 3.N`, or `latest`; 3.0
/// without the header), or Cinder's 406 for one outside 3.0..=3.71.
fn negotiate(req: &Req) -> Result<(u32, u32), Box<Response<Body>>> {
    let Some(asked) = req
        .header("openstack-api-version")
        .and_then(|h| h.trim().strip_prefix("volume "))
        .map(str::trim)
    else {
        return Ok((3, 0));
    };
    if asked == "latest" {
        return Ok(MAX_MICROVERSION);
    }
    let parsed = asked
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
    match parsed {
        Some(v) if ((3, 0)..=MAX_MICROVERSION).contains(&v) => Ok(v),
        Some(_) => Err(Box::new(fault(
            406,
            "computeFault",
            &format!(
                "Version {asked} is not supported by the API. Minimum is 3.0 and maximum is {}.{}.",
                MAX_MICROVERSION.0, MAX_MICROVERSION.1
            ),
        ))),
        None => Err(Box::new(fault(
            400,
            "badRequest",
            &format!("Invalid API version request: {asked}"),
        ))),
    }
}

/// Every answer of the volume service says which microversion it speaks, as Cinder's does.
fn volume_service(w: &mut World, req: &Req, rest: &[&str]) -> Response<Body> {
    let version = match negotiate(req) {
        Ok(v) => v,
        Err(refused) => return *refused,
    };
    let mut resp = volume_calls(w, req, version, rest);
    let headers = resp.headers_mut();
    if let Ok(v) = format!("volume {}.{}", version.0, version.1).parse() {
        headers.insert("openstack-api-version", v);
    }
    headers.insert(
        "vary",
        axum::http::HeaderValue::from_static("OpenStack-API-Version"),
    );
    resp
}

/// `GET /limits`: the project's absolute limits and what it uses of them.
fn limits(w: &World) -> Response<Body> {
    let gigabytes = quota::gigabytes_used(w);
    let q = w.pvc.quota;
    ok(
        200,
        json!({"limits": {"rate": [], "absolute": {
            "maxTotalVolumes": q.volumes, "totalVolumesUsed": w.pvc.vols.len(),
            "maxTotalSnapshots": q.snapshots, "totalSnapshotsUsed": w.pvc.snaps.len(),
            "maxTotalVolumeGigabytes": q.gigabytes, "totalGigabytesUsed": gigabytes,
            "maxTotalBackups": 10, "totalBackupsUsed": 0,
            "maxTotalBackupGigabytes": 1000, "totalBackupGigabytesUsed": 0,
        }}}),
    )
}

/// The fields a snapshot create may carry (the create schema sets `additionalProperties: false`).
const SNAPSHOT_CREATE_FIELDS: [&str; 5] = ["volume_id", "name", "description", "force", "metadata"];

/// `/snapshots/{id}/metadata`: GET the pairs, POST merges, PUT replaces (Cinder's snapshot
/// metadata API); values are strings.
fn snapshot_metadata(w: &mut World, req: &Req, i: usize) -> Response<Body> {
    let m = req.method.clone();
    if m == Method::GET {
        return ok(200, json!({ "metadata": w.pvc.snaps[i].metadata }));
    }
    if m != Method::POST && m != Method::PUT {
        return fault(405, "badMethod", "method not allowed");
    }
    let body = req.json().unwrap_or(json!({}));
    let Some(given) = body["metadata"].as_object() else {
        return fault(
            400,
            "badRequest",
            "Malformed request body: metadata is required",
        );
    };
    if given.values().any(|v| !v.is_string()) {
        return fault(
            400,
            "badRequest",
            "Invalid input received: metadata values must be strings",
        );
    }
    let now = w.now();
    let s = &mut w.pvc.snaps[i];
    let mut merged = if m == Method::POST {
        s.metadata.as_object().cloned().unwrap_or_default()
    } else {
        serde_json::Map::new()
    };
    merged.extend(given.clone());
    s.metadata = Value::Object(merged);
    s.updated_at = Some(now);
    ok(200, json!({ "metadata": s.metadata }))
}

fn volume_calls(w: &mut World, req: &Req, version: (u32, u32), rest: &[&str]) -> Response<Body> {
    let now = Instant::now();
    w.pvc.snaps.retain(|s| s.gone_at.is_none_or(|t| now < t));
    w.pvc.vols.retain(|v| v.gone_at.is_none_or(|t| now < t));
    let m = req.method.clone();
    let base = format!(
        "http://{}/volume/v3/{PVC_PROJECT}",
        req.header("host").unwrap_or("127.0.0.1")
    );
    match rest {
        ["volumes", "detail"] if m == Method::GET => list_volumes(w, req, version, &base),
        ["volumes"] if m == Method::POST => create_volume(w, req),
        ["volumes", id] if m == Method::PUT || m == Method::DELETE => {
            let Some(i) = w.pvc.vols.iter().position(|v| v.id == *id) else {
                return fault(
                    404,
                    "itemNotFound",
                    &format!("Volume {id} could not be found."),
                );
            };
            if m == Method::PUT {
                update_volume(w, req, i)
            } else {
                delete_volume(w, req, i)
            }
        }
        ["limits"] if m == Method::GET => limits(w),
        ["resource_filters"] if m == Method::GET => {
            if version < (3, 33) {
                return fault(404, "itemNotFound", "The resource could not be found.");
            }
            ok(
                200,
                json!({"resource_filters": [
                    {"resource": "volume", "filters": ["name", "status", "metadata", "bootable", "migration_status", "availability_zone", "group_id", "size", "created_at", "updated_at"]},
                    {"resource": "snapshot", "filters": ["name", "status", "volume_id", "metadata", "availability_zone"]},
                ]}),
            )
        }
        ["volumes", id] if m == Method::GET => match w.pvc.vols.iter().find(|v| v.id == *id) {
            Some(v) => ok(200, json!({ "volume": vol_json(v) })),
            None => fault(
                404,
                "itemNotFound",
                &format!("Volume {id} could not be found."),
            ),
        },
        ["volumes", id, "action"] if m == Method::POST => volume_action(w, req, id),
        ["snapshots", "detail"] if m == Method::GET => list_snapshots(w, req, version, &base),
        ["snapshots"] if m == Method::POST => create_snapshot(w, req),
        ["snapshots", id, "metadata"] => {
            let Some(i) = w.pvc.snaps.iter().position(|s| s.id == *id) else {
                return fault(
                    404,
                    "itemNotFound",
                    &format!("Snapshot {id} could not be found."),
                );
            };
            snapshot_metadata(w, req, i)
        }
        ["snapshots", id] => snapshot_item(w, req, id),
        ["clone-volumes"] if m == Method::POST => start_clone_volumes(w, req),
        ["clone-volumes", "get_progress"] if m == Method::GET => clone_progress(w, req),
        _ => unserved(),
    }
}

/// `["snapshots", "detail"]`.
fn list_snapshots(w: &mut World, req: &Req, version: (u32, u32), base: &str) -> Response<Body> {
    let vol = req.query("volume_id").map(str::to_string);
    let items = w
        .pvc
        .snaps
        .iter()
        .filter(|s| vol.as_ref().is_none_or(|v| &s.volume_id == v))
        .map(snap_json)
        // `status=`: Cinder's exact-word filter.
        .filter(|j: &Value| req.query("status").is_none_or(|st| j["status"] == st))
        .collect();
    list_page(req, version, items, "snapshots", base)
}

/// `["snapshots"]`.
fn create_snapshot(w: &mut World, req: &Req) -> Response<Body> {
    let body = req.json().unwrap_or(json!({}));
    let s = &body["snapshot"];
    if let Some(extra) = s.as_object().and_then(|o| {
        o.keys()
            .find(|k| !SNAPSHOT_CREATE_FIELDS.contains(&k.as_str()))
    }) {
        return fault(
            400,
            "badRequest",
            &format!(
                "Invalid input for field/attribute snapshot. Value: {s}. Additional properties are not allowed ('{extra}' was unexpected)"
            ),
        );
    }
    let vid = s["volume_id"].as_str().unwrap_or_default().to_string();
    if w.refuse_creates.contains(&vid) {
        return fault(
            400,
            "badRequest",
            &format!("Invalid volume: Volume {vid} status must be available or in-use."),
        );
    }
    let Some(vol) = w.pvc.vols.iter().find(|v| v.id == vid) else {
        return fault(
            404,
            "itemNotFound",
            &format!("Volume {vid} could not be found."),
        );
    };
    if vol.in_use && s["force"] != true {
        return fault(
            400,
            "badRequest",
            "Invalid volume: Volume status must be available or in-use with force.",
        );
    }
    let size = vol.size;
    if let Some(refused) = quota::text_refusal(s).or_else(|| quota::over_quota(w, 0, 1, size)) {
        return refused;
    }
    let snap = Snap {
        id: w.uuid(),
        volume_id: vid,
        name: s["name"].as_str().map(str::to_string),
        description: s["description"].as_str().map(str::to_string),
        size,
        metadata: s.get("metadata").cloned().unwrap_or(json!({})),
        created_at: w.now(),
        ready_at: w.ready_at(),
        updated_at: None,
        gone_at: None,
        forced: None,
    };
    let out = snap_json(&snap);
    w.pvc.snaps.push(snap);
    ok(202, json!({ "snapshot": out }))
}

/// `["snapshots", id]`.
fn snapshot_item(w: &mut World, req: &Req, id: &str) -> Response<Body> {
    let m = req.method.clone();
    let Some(i) = w.pvc.snaps.iter().position(|s| s.id == *id) else {
        return fault(
            404,
            "itemNotFound",
            &format!("Snapshot {id} could not be found."),
        );
    };
    match m {
        Method::GET => ok(200, json!({ "snapshot": snap_json(&w.pvc.snaps[i]) })),
        Method::PUT => {
            let body = req.json().unwrap_or(json!({}));
            if let Some(refused) = quota::text_refusal(&body["snapshot"]) {
                return refused;
            }
            let now = w.now();
            let s = &mut w.pvc.snaps[i];
            s.updated_at = Some(now);
            if let Some(n) = body["snapshot"]["name"].as_str() {
                s.name = Some(n.to_string());
            }
            if let Some(d) = body["snapshot"]["description"].as_str() {
                s.description = Some(d.to_string());
            }
            ok(200, json!({ "snapshot": snap_json(&w.pvc.snaps[i]) }))
        }
        Method::DELETE => {
            if w.pvc.snaps[i].gone_at.is_none() {
                w.pvc.snaps[i].gone_at = Some(w.ready_at());
            }
            empty(202, &rid())
        }
        _ => fault(405, "badMethod", "method not allowed"),
    }
}

/// The words a Cinder snapshot's `status` takes (the api-ref's list).
const SNAPSHOT_STATUSES: [&str; 8] = [
    "creating",
    "available",
    "backing-up",
    "deleting",
    "error",
    "deleted",
    "unmanaging",
    "restoring",
];

/// `POST /_emulator/state` for a Cinder snapshot: its `status` from now on. `None` when no
/// snapshot has that id; `Err` names the words the API has.
pub(crate) fn force_state(w: &mut World, id: &str, state: &str) -> Option<Result<(), String>> {
    let s = w.pvc.snaps.iter_mut().find(|s| s.id == id)?;
    Some(
        super::documented(state, &SNAPSHOT_STATUSES, "Cinder snapshot statuses")
            .map(|word| s.forced = Some(word)),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn keystone_times_carry_microseconds() {
        let t: jiff::Timestamp = "2026-12-02T08:46:04.123456789Z".parse().expect("ts");
        assert_eq!(super::keystone_time(t), "2026-12-02T08:46:04.123456Z");
    }
}
