//! The emulated OUTSCALE OAPI: `POST /api/v1/<Action>` with the OSC4 signature check, the
//! `Errors`/`ResponseContext` envelope, `NextPageToken` paging and `ClientToken` idempotency.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::body::Body;
use axum::http::Response;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::strings;
use super::{OSC_BUCKET, OSC_REGION, Req, World, reply};

pub(crate) struct OscVolume {
    pub(crate) id: String,
    size: u64,
    subregion: String,
    created_at: Timestamp,
    ready_at: Instant,
    in_use: bool,
    snapshot_id: Option<String>,
    /// The `ClientToken` it was created with.
    token: Option<String>,
}

pub(crate) struct OscSnap {
    id: String,
    volume_id: Option<String>,
    size: u64,
    description: Option<String>,
    created_at: Timestamp,
    ready_at: Instant,
    accounts: Vec<String>,
    public: bool,
    /// The account that owns it: [`OWN_ACCOUNT`], or another one that shares it.
    owner: &'static str,
    /// The `ClientToken` it was created with.
    token: Option<String>,
    /// A `State` set by `POST /_emulator/state`, reported instead of the computed one.
    forced: Option<&'static str>,
    /// Made from an image in a bucket (`FileLocation`): `importing` until ready.
    imported: bool,
}

/// The emulated caller's account id (the API reference's own example).
pub(crate) const OWN_ACCOUNT: &str = "123456789012";
/// Another account, whose public snapshot every account can see.
const OTHER_ACCOUNT: &str = "987654321098";

pub(crate) struct Export {
    id: String,
    snapshot: String,
    bucket: String,
    prefix: Option<String>,
    format: String,
    started: Instant,
    /// Its object is in the bucket (written once the task completes).
    written: bool,
}

/// One Region's account.
pub(crate) struct OscState {
    /// The Region it is in.
    pub(crate) region: &'static str,
    /// Its OOS buckets: name → key → object.
    pub(crate) buckets: BTreeMap<String, BTreeMap<String, super::oos::StoredObj>>,
    pub(crate) volumes: Vec<OscVolume>,
    snaps: Vec<OscSnap>,
    tags: BTreeMap<String, Vec<(String, String)>>,
    exports: Vec<Export>,
    tokens: BTreeMap<String, String>,
    /// OOS listings ignore the `prefix` asked for (a broken or hostile S3 server).
    pub(crate) list_ignores_prefix: bool,
}

impl OscState {
    /// An empty account in `region`.
    pub(crate) fn new(region: &'static str) -> Self {
        OscState {
            region,
            buckets: BTreeMap::new(),
            volumes: vec![],
            snaps: vec![],
            tags: BTreeMap::new(),
            exports: vec![],
            tokens: BTreeMap::new(),
            list_ignores_prefix: false,
        }
    }

    /// How many snapshot export tasks were created.
    pub(crate) fn export_count(&self) -> usize {
        self.exports.len()
    }

    /// The keys of `bucket`'s objects.
    pub(crate) fn object_keys(&self, bucket: &str) -> Vec<String> {
        self.buckets
            .get(bucket)
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The first seeded volume (not in use).
    /// Set (or replace) tags of a resource, as `CreateTags` does.
    pub(crate) fn set_tags(&mut self, id: &str, tags: &[(&str, &str)]) {
        let entry = self.tags.entry(id.to_string()).or_default();
        for (k, v) in tags {
            entry.retain(|(key, _)| key != k);
            entry.push((k.to_string(), v.to_string()));
        }
    }

    pub(crate) fn first_volume(&self) -> String {
        self.volumes
            .first()
            .map(|v| v.id.clone())
            .unwrap_or_default()
    }
}

/// A completed snapshot of the first volume, Name-tagged `name`, taken `at` (benchmarks).
pub(crate) fn seed_snapshot(w: &mut World, name: &str, at: Timestamp) {
    let id = format!("snap-{}", w.hex8());
    let vol = w.osc.volumes[0].id.clone();
    w.osc
        .tags
        .insert(id.clone(), vec![("Name".into(), name.to_string())]);
    w.osc.snaps.push(OscSnap {
        id,
        volume_id: Some(vol),
        size: 10,
        description: None,
        created_at: at,
        ready_at: Instant::now(),
        accounts: vec![],
        public: false,
        owner: OWN_ACCOUNT,
        token: None,
        forced: None,
        imported: false,
    });
}

/// A completed snapshot of `size` GiB with `description`, made from an image (as an import is),
/// in the account of `w.osc`; its id.
pub(crate) fn plant_snapshot(w: &mut World, description: &str, size: u64) -> String {
    let id = format!("snap-{}", w.hex8());
    w.osc.snaps.push(OscSnap {
        id: id.clone(),
        volume_id: None,
        size,
        description: Some(description.to_string()),
        created_at: w.now(),
        ready_at: Instant::now(),
        accounts: vec![],
        public: false,
        owner: OWN_ACCOUNT,
        token: None,
        forced: None,
        imported: true,
    });
    id
}

/// `n` more volumes, tagged `Name=fleet-0001`… and `fleet=yes` (fleet-mode scale tests).
pub(crate) fn seed_volumes(w: &mut World, n: usize) {
    let past = Instant::now();
    let now = w.now();
    for i in 1..=n {
        let id = format!("vol-{}", w.hex8());
        w.osc.tags.insert(
            id.clone(),
            vec![
                ("Name".into(), format!("fleet-{i:04}")),
                ("fleet".into(), "yes".into()),
            ],
        );
        w.osc.volumes.push(OscVolume {
            id,
            size: 10,
            subregion: format!("{OSC_REGION}a"),
            created_at: now - jiff::SignedDuration::from_hours(24),
            ready_at: past,
            in_use: false,
            snapshot_id: None,
            token: None,
        });
    }
}

/// Two volumes (one in use) and a snapshot.
pub(crate) fn seed(w: &mut World) {
    let past = Instant::now();
    let now = w.now();
    for bucket in [OSC_BUCKET, "backups"] {
        w.osc.buckets.insert(bucket.into(), BTreeMap::new());
    }
    for (i, name) in ["db-data", "web"].iter().enumerate() {
        let id = format!("vol-{}", w.hex8());
        let mut tags = vec![("Name".into(), name.to_string())];
        if i == 0 {
            // What policy selectors match (`tags = { backup = "gold" }`).
            tags.push(("backup".into(), "gold".into()));
        }
        w.osc.tags.insert(id.clone(), tags);
        w.osc.volumes.push(OscVolume {
            id,
            size: 10,
            subregion: format!("{OSC_REGION}a"),
            created_at: now - jiff::SignedDuration::from_hours(24 * 60),
            ready_at: past,
            in_use: i == 1,
            snapshot_id: None,
            token: None,
        });
    }
    let vol = w.osc.volumes[0].id.clone();
    let id = format!("snap-{}", w.hex8());
    w.osc
        .tags
        .insert(id.clone(), vec![("Name".into(), "before-upgrade".into())]);
    w.osc.snaps.push(OscSnap {
        id,
        volume_id: Some(vol),
        size: 10,
        description: Some("seeded by the emulator".into()),
        created_at: now - jiff::SignedDuration::from_hours(24),
        ready_at: past,
        accounts: vec![],
        public: false,
        owner: OWN_ACCOUNT,
        token: None,
        forced: None,
        imported: false,
    });
    // ReadSnapshots also answers what other accounts make public: one such snapshot.
    let id = format!("snap-{}", w.hex8());
    let their_volume = format!("vol-{}", w.hex8());
    w.osc
        .tags
        .insert(id.clone(), vec![("Name".into(), "community-image".into())]);
    w.osc.snaps.push(OscSnap {
        id,
        volume_id: Some(their_volume),
        size: 10,
        description: Some("shared publicly by another account".into()),
        created_at: now - jiff::SignedDuration::from_hours(24 * 30),
        ready_at: past,
        accounts: vec![],
        public: true,
        owner: OTHER_ACCOUNT,
        token: None,
        forced: None,
        imported: false,
    });
}

fn rc() -> Value {
    json!({"RequestId": format!("{:08x}-0000-4000-8000-{:012x}", fastrand::u32(..), fastrand::u64(..1 << 48))})
}

fn ok(mut body: Value) -> Response<Body> {
    body["ResponseContext"] = rc();
    reply(200, body, &[])
}

fn err(status: u16, code: &str, kind: &str, details: &str) -> Response<Body> {
    reply(
        status,
        json!({"Errors": [{"Code": code, "Type": kind, "Details": details}], "ResponseContext": rc()}),
        &[],
    )
}

/// An import refused with an error quoting its `FileLocation` in one of four forms (see
/// `Emulator::refuse_imports_echoing`).
fn echo_refusal(location: &str, form: u8) -> Response<Body> {
    let quoted = match form {
        0 => location
            .split_once('?')
            .map_or(location, |(_, q)| q)
            .to_string(),
        1 => location
            .replacen("https://", "HTTPS://", 1)
            .replacen("http://", "HTTP://", 1),
        2 => location
            .replace('%', "%25")
            .replace(':', "%3A")
            .replace('/', "%2F")
            .replace('?', "%3F")
            .replace('=', "%3D")
            .replace('&', "%26"),
        _ => location.to_string(),
    };
    let body = json!({
        "Errors": [{"Code": "4045", "Type": "InvalidParameterValue", "Details": format!("The FileLocation {quoted} cannot be read.")}],
        "ResponseContext": rc()
    })
    .to_string();
    // Form 3: a JSON encoder that escapes slashes, as some do.
    let body = if form == 3 {
        body.replace('/', "\\/")
    } else {
        body
    };
    Response::builder()
        .status(400)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap_or_else(|_| err(500, "2000", "InternalError", "cannot answer"))
}

/// The gateway's answer for an id that names nothing: one of another shape first (4104 for
/// another prefix, 4105 for a malformed id, as `gateway_errors.yaml` names them), then not found
/// (5054 no-such-snapshot, 5064 no-such-volume).
fn missing(param: &str, id: &str) -> Response<Body> {
    let prefix = match param {
        "SnapshotId" => Some("snap-"),
        "VolumeId" => Some("vol-"),
        // A tag's resource may be either.
        _ => ["snap-", "vol-"].into_iter().find(|p| id.starts_with(p)),
    };
    let Some(prefix) = prefix.filter(|p| id.starts_with(p)) else {
        return err(
            400,
            "4104",
            "InvalidParameterValue",
            &format!("The {param} '{id}' has an invalid prefix."),
        );
    };
    let hex = &id[prefix.len()..];
    if hex.len() != 8 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return err(
            400,
            "4105",
            "InvalidParameterValue",
            &format!("The provided value '{id}' is malformed."),
        );
    }
    let code = if prefix == "vol-" { "5064" } else { "5054" };
    err(
        400,
        code,
        "InvalidResource",
        &format!("The {param} '{id}' doesn't exist."),
    )
}

fn tags_json(w: &World, id: &str) -> Value {
    Value::Array(
        w.osc
            .tags
            .get(id)
            .map(|t| {
                t.iter()
                    .map(|(k, v)| json!({"Key": k, "Value": v}))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// A time as OUTSCALE writes it: UTC with milliseconds (`2010-10-01T12:34:56.789Z`).
fn osc_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn snap_json(w: &World, s: &OscSnap) -> Value {
    let total = w.config.delay.as_millis().max(1);
    let done = Instant::now() >= s.ready_at;
    let progress = if done {
        100
    } else {
        (100 - s.ready_at.duration_since(Instant::now()).as_millis() * 100 / total).min(99)
    };
    let mut out = json!({
        "AccountId": s.owner,
        "CreationDate": osc_time(s.created_at),
        // A string in the schema: a snapshot made without one has an empty description.
        "Description": s.description.as_deref().unwrap_or_default(),
        "PermissionsToCreateVolume": {"AccountIds": s.accounts, "GlobalPermission": s.public},
        "Progress": progress,
        "SnapshotId": s.id,
        "State": s.forced.unwrap_or(match (done, s.imported) {
            (true, _) => "completed",
            (false, true) => "importing",
            (false, false) => "pending",
        }),
        "Tags": tags_json(w, &s.id),
        "VolumeSize": s.size,
    });
    // Both are strings in the schema: an imported snapshot has no volume, and a snapshot made
    // without a token has none; the key is left out then, never null.
    if let Some(v) = &s.volume_id {
        out["VolumeId"] = json!(v);
    }
    if let Some(t) = &s.token {
        out["ClientToken"] = json!(t);
    }
    out
}

fn volume_json(w: &World, v: &OscVolume) -> Value {
    let state = if Instant::now() < v.ready_at {
        "creating"
    } else if v.in_use {
        "in-use"
    } else {
        "available"
    };
    // An in-use volume is linked to a VM, as `LinkedVolumes` says it.
    let linked = if v.in_use {
        json!([{
            "DeleteOnVmDeletion": false,
            "DeviceName": "/dev/sdb",
            "State": "attached",
            "VmId": "i-0a1b2c3d",
            "VolumeId": v.id,
        }])
    } else {
        json!([])
    };
    let mut out = json!({
        "CreationDate": osc_time(v.created_at),
        "Iops": 100,
        "LinkedVolumes": linked,
        "Size": v.size,
        "SnapshotId": v.snapshot_id.clone().unwrap_or_default(),
        "State": state,
        "SubregionName": v.subregion,
        "Tags": tags_json(w, &v.id),
        "VolumeId": v.id,
        "VolumeType": "gp2",
    });
    if let Some(t) = &v.token {
        out["ClientToken"] = json!(t);
    }
    out
}

/// The OSC4 check: credential scope, signed headers and signature, recomputed from the request.
/// The Region of the account whose keys signed it.
fn authenticate(req: &Req) -> Result<&'static str, Box<Response<Body>>> {
    let denied = |why: &str| Err(Box::new(err(401, "1", "AccessDenied", why)));
    let Some(auth) = req.header("authorization") else {
        return denied("missing Authorization");
    };
    let Some(rest) = auth.strip_prefix("OSC4-HMAC-SHA256 Credential=") else {
        return denied("unsupported signature algorithm");
    };
    let Some((credential, _)) = rest.split_once(',') else {
        return denied("malformed Authorization");
    };
    let parts: Vec<&str> = credential.split('/').collect();
    let [ak, _day, region, "api", "osc4_request"] = parts.as_slice() else {
        return denied("malformed credential scope");
    };
    let Some(&(ak, sk, home)) = super::OSC_ACCOUNTS.iter().find(|(k, _, _)| k == ak) else {
        return denied("unknown access key");
    };
    if *region != home {
        return denied("the credential scope names another region");
    }
    let (Some(date), Some(host), Some(ct)) = (
        req.header("x-osc-date"),
        req.header("host"),
        req.header("content-type"),
    ) else {
        return denied("missing signed headers");
    };
    // osc-sdk-python signs the host without its port (urllib3's `parse_url(…).host`) while
    // sending `Host: host:port`; snapctl and oapi-cli sign the header as sent. Accept either, as
    // long as the signature matches one of them.
    let bare_host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map(|(h, _)| h);
    let matches = |signed_host: &str| {
        let headers = [
            ("content-type", ct),
            ("host", signed_host),
            ("x-osc-date", date),
        ];
        let expected = crate::providers::outscale::sign::authorization(
            crate::providers::outscale::sign::OSC4,
            ak,
            sk,
            home,
            "api",
            date,
            &crate::providers::outscale::sign::SignedRequest {
                method: "POST",
                path: &req.path,
                headers: &headers,
                body: &req.body,
            },
        );
        auth == expected
    };
    let signed = matches(host) || bare_host.is_some_and(matches);
    if signed {
        Ok(home)
    } else {
        denied("signature mismatch")
    }
}

mod exports;
mod filters;
mod volumes;
use exports::*;
use filters::*;
use volumes::*;

pub(crate) fn handle(w: &mut World, req: &Req) -> Response<Body> {
    let region = match authenticate(req) {
        Ok(r) => r,
        Err(refused) => return *refused,
    };
    w.in_osc_region(region, |w| answer(w, req))
}

fn answer(w: &mut World, req: &Req) -> Response<Body> {
    settle_exports(w);
    let action = req.path.trim_start_matches("/api/v1/");
    let Some(body) = req.json().filter(Value::is_object) else {
        return err(
            400,
            "4045",
            "InvalidParameterValue",
            "the body is not a JSON object",
        );
    };
    let dry = body["DryRun"].as_bool() == Some(true);
    match action {
        "ReadVolumes" => read_volumes(w, &body),
        "ReadSnapshots" => read_snapshots(w, &body),
        "ReadAccounts" => ok(json!({"Accounts": [{
            "AccountId": OWN_ACCOUNT,
            "CompanyName": "EXAMPLE SAS",
            "CustomerId": "87654321",
            "Email": "example@example.com",
        }]})),
        "CreateSnapshot" => create_snapshot(w, &body, dry),
        "DeleteSnapshot" => delete_snapshot(w, &body, dry),
        "ReadTags" => read_tags(w, &body),
        "DeleteTags" => delete_tags(w, &body, dry),
        "CreateTags" => create_tags(w, &body, dry),
        "CreateVolume" => create_volume(w, &body, dry),
        "UpdateVolume" => update_volume(w, &body, dry),
        "DeleteVolume" => delete_volume(w, &body, dry),

        "UpdateSnapshot" => update_snapshot(w, &body, dry),
        "CreateSnapshotExportTask" => create_snapshot_export_task(w, &body, dry),
        "ReadSnapshotExportTasks" => read_snapshot_export_tasks(w, &body),
        // An action of the API the emulator does not serve answers as an unknown one: never a
        // not-found, which a client would read as "already gone".
        other => err(
            400,
            "5038",
            "InvalidResource",
            &format!("The operation '{other}' is not supported by this endpoint."),
        ),
    }
}

/// `ReadSnapshots`.
fn read_snapshots(w: &mut World, body: &Value) -> Response<Body> {
    let wanted = match filters(body, SNAPSHOT_FILTERS) {
        Ok(f) => f,
        Err(refused) => return *refused,
    };
    // The keys answered from the state directly (cheap over 100,000 snapshots); the
    // others from each remaining snapshot's JSON.
    let ids = filter(body, "SnapshotIds");
    let vols = filter(body, "VolumeIds");
    let items: Vec<&OscSnap> = w
        .osc
        .snaps
        .iter()
        // What the caller may see: its own, and what others share with it or publicly.
        .filter(|s| {
            s.owner == OWN_ACCOUNT || s.public || s.accounts.iter().any(|a| a == OWN_ACCOUNT)
        })
        .filter(|s| ids.as_ref().is_none_or(|ids| ids.contains(&s.id)))
        .filter(|s| {
            vols.as_ref()
                .is_none_or(|v| s.volume_id.as_ref().is_some_and(|id| v.contains(id)))
        })
        .collect();
    let cheap = wanted
        .iter()
        .all(|(how, _)| matches!(how, Match::One("SnapshotId") | Match::One("VolumeId")));
    if cheap {
        return page(body, &items, "Snapshots", |s| snap_json(w, s));
    }
    let items: Vec<Value> = items
        .into_iter()
        .map(|s| snap_json(w, s))
        .filter(|s| passes(s, &wanted))
        .collect();
    page(body, &items, "Snapshots", Value::clone)
}

/// `DeleteSnapshot`.
fn delete_snapshot(w: &mut World, body: &Value, dry: bool) -> Response<Body> {
    let id = body["SnapshotId"].as_str().unwrap_or_default().to_string();
    let Some(i) = w.osc.snaps.iter().position(|s| s.id == id) else {
        return missing("SnapshotId", &id);
    };
    if !dry {
        w.osc.snaps.remove(i);
        w.osc.tags.remove(&id);
    }
    ok(json!({}))
}

/// `ReadTags`.
fn read_tags(w: &mut World, body: &Value) -> Response<Body> {
    let wanted = match filters(body, TAG_FILTERS) {
        Ok(f) => f,
        Err(refused) => return *refused,
    };
    let items: Vec<Value> = w
        .osc
        .tags
        .iter()
        .flat_map(|(id, tags)| {
            let kind = if id.starts_with("vol-") {
                "volume"
            } else {
                "snapshot"
            };
            tags.iter().map(
                move |(k, v)| json!({"Key": k, "ResourceId": id, "ResourceType": kind, "Value": v}),
            )
        })
        .filter(|t| passes(t, &wanted))
        .collect();
    page(body, &items, "Tags", Value::clone)
}

/// `DeleteTags`.
fn delete_tags(w: &mut World, body: &Value, dry: bool) -> Response<Body> {
    let (Some(ids), Some(tags)) = (body["ResourceIds"].as_array(), body["Tags"].as_array()) else {
        return err(
            400,
            "7000",
            "MissingParameter",
            "ResourceIds and Tags are required",
        );
    };
    let ids: Vec<String> = ids
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    for id in &ids {
        let known =
            w.osc.snaps.iter().any(|s| &s.id == id) || w.osc.volumes.iter().any(|v| &v.id == id);
        if !known {
            return missing("ResourceId", id);
        }
    }
    if !dry {
        for id in &ids {
            if let Some(have) = w.osc.tags.get_mut(id) {
                // A tag goes when its key matches, and its value too when one is given.
                have.retain(|(k, v)| {
                    !tags.iter().any(|t| {
                        t["Key"].as_str() == Some(k.as_str())
                            && t["Value"].as_str().is_none_or(|want| want == v)
                    })
                });
            }
        }
    }
    ok(json!({}))
}

/// `CreateTags`.
fn create_tags(w: &mut World, body: &Value, dry: bool) -> Response<Body> {
    let ids: Vec<String> = strings(&body["ResourceIds"]);
    for id in &ids {
        let known =
            w.osc.snaps.iter().any(|s| &s.id == id) || w.osc.volumes.iter().any(|v| &v.id == id);
        if !known {
            return missing("ResourceId", id);
        }
    }
    if !dry {
        for id in ids {
            let tags = w.osc.tags.entry(id).or_default();
            for t in body["Tags"].as_array().cloned().unwrap_or_default() {
                let (k, v) = (
                    t["Key"].as_str().unwrap_or_default().to_string(),
                    t["Value"].as_str().unwrap_or_default().to_string(),
                );
                tags.retain(|(key, _)| *key != k);
                tags.push((k, v));
            }
        }
    }
    ok(json!({}))
}

/// `UpdateSnapshot`.
fn update_snapshot(w: &mut World, body: &Value, dry: bool) -> Response<Body> {
    let id = body["SnapshotId"].as_str().unwrap_or_default().to_string();
    let Some(i) = w.osc.snaps.iter().position(|s| s.id == id) else {
        return missing("SnapshotId", &id);
    };
    let perms = &body["PermissionsToCreateVolume"];
    if !dry {
        let s = &mut w.osc.snaps[i];
        if let Some(add) = perms.get("Additions") {
            for a in add["AccountIds"].as_array().cloned().unwrap_or_default() {
                if let Some(a) = a.as_str()
                    && !s.accounts.iter().any(|x| x == a)
                {
                    s.accounts.push(a.to_string());
                }
            }
            if add["GlobalPermission"] == true {
                s.public = true;
            }
        }
        if let Some(rm) = perms.get("Removals") {
            let gone: Vec<String> = strings(&rm["AccountIds"]);
            s.accounts.retain(|a| !gone.contains(a));
            if rm["GlobalPermission"] == true {
                s.public = false;
            }
        }
    }
    ok(json!({"Snapshot": snap_json(w, &w.osc.snaps[i])}))
}

fn create_snapshot(w: &mut World, body: &Value, dry: bool) -> Response<Body> {
    if let Some(token) = body["ClientToken"].as_str()
        && let Some(id) = w.osc.tokens.get(token)
        && let Some(s) = w.osc.snaps.iter().find(|s| &s.id == id)
    {
        return ok(json!({"Snapshot": snap_json(w, s)}));
    }
    if let Some(v) = body["VolumeId"].as_str()
        && w.refuse_creates.contains(v)
    {
        return err(
            409,
            "9029",
            "ResourceConflict",
            "the volume is not in a valid state",
        );
    }
    let mut imported = false;
    let (volume_id, size) = if let Some(v) = body["VolumeId"].as_str() {
        match w.osc.volumes.iter().find(|x| x.id == v) {
            Some(x) => (Some(v.to_string()), x.size),
            None => {
                return missing("VolumeId", v);
            }
        }
    } else if let Some(src) = body["SourceSnapshotId"].as_str() {
        if body["SourceRegionName"].as_str() != Some(w.osc.region) {
            return err(
                400,
                "5043",
                "InvalidResource",
                "The SourceRegionName is not this account's Region (copies stay within one Region).",
            );
        }
        match w.osc.snaps.iter().find(|s| s.id == src) {
            Some(s) => (s.volume_id.clone(), s.size),
            None => {
                return missing("SnapshotId", src);
            }
        }
    } else if let Some(location) = body["FileLocation"].as_str() {
        if let Some(form) = w.echo_imports {
            return echo_refusal(location, form);
        }
        // OUTSCALE reads the image through the URL: it must be a valid pre-signed GET of an
        // object that exists, and SnapshotSize must hold the volume it came from.
        let size = body["SnapshotSize"].as_u64().unwrap_or(0);
        match super::oos::readable(w, location) {
            Err(why) => {
                return err(
                    400,
                    "4045",
                    "InvalidParameterValue",
                    &format!("The FileLocation cannot be read: {why}."),
                );
            }
            Ok(original) if size < original => {
                return err(
                    400,
                    "4045",
                    "InvalidParameterValue",
                    &format!(
                        "The SnapshotSize {size} is smaller than the image's original size {original}."
                    ),
                );
            }
            Ok(_) => {}
        }
        imported = true;
        (None, size.div_ceil(1 << 30).max(1))
    } else {
        return err(
            400,
            "7000",
            "MissingParameter",
            "VolumeId, SourceSnapshotId or FileLocation is required",
        );
    };
    if dry {
        return ok(json!({}));
    }
    let snap = OscSnap {
        id: format!("snap-{}", w.hex8()),
        volume_id,
        size,
        description: body["Description"].as_str().map(str::to_string),
        created_at: w.now(),
        ready_at: w.ready_at(),
        accounts: vec![],
        public: false,
        owner: OWN_ACCOUNT,
        token: body["ClientToken"].as_str().map(str::to_string),
        forced: None,
        imported,
    };
    if let Some(token) = body["ClientToken"].as_str() {
        w.osc.tokens.insert(token.to_string(), snap.id.clone());
    }
    let out = snap_json(w, &snap);
    w.osc.snaps.push(snap);
    ok(json!({"Snapshot": out}))
}

/// The words `Snapshot.State` takes (`outscale.yaml`).
const SNAPSHOT_STATES: [&str; 5] = ["in-queue", "pending", "completed", "error", "deleting"];

/// `POST /_emulator/state` for an OUTSCALE snapshot: its `State` from now on. `None` when no
/// snapshot has that id; `Err` names the words the API has.
pub(crate) fn force_state(w: &mut World, id: &str, state: &str) -> Option<Result<(), String>> {
    let s = w.osc.snaps.iter_mut().find(|s| s.id == id)?;
    Some(
        super::documented(state, &SNAPSHOT_STATES, "OUTSCALE snapshot states")
            .map(|word| s.forced = Some(word)),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_carry_milliseconds_as_outscale_writes_them() {
        let t: jiff::Timestamp = "2026-12-02T08:46:04.123456789Z".parse().expect("ts");
        assert_eq!(super::osc_time(t), "2026-12-02T08:46:04.123Z");
        let whole: jiff::Timestamp = "2026-12-02T08:46:04Z".parse().expect("ts");
        assert_eq!(super::osc_time(whole), "2026-12-02T08:46:04.000Z");
    }
}
