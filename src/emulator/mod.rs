//! `snapctl emulator`: one loopback server that plays the four provider APIs with in-memory state,
//! so every command can run end to end without a cloud account, and users can test their scripts.
//!
//! It verifies what the real services verify (OVH signatures and timestamps, OSC4 signatures,
//! Keystone tokens), moves objects through state machines like the real ones (with a configurable
//! delay), enforces the documented limits, and injects faults on request (`--fail-rate`,
//! `--latency`, `--throttle`, `--seed`). It shares no code path with the client except the
//! signature functions, which it uses to check, not to make, signatures.

mod oos;
mod outscale;
mod ovh;
mod powervc;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};
use axum::response::IntoResponse;
use jiff::Timestamp;
use serde_json::Value;

/// Demo OVH credentials the emulator accepts.
pub const OVH_AK: &str = "emulatorAppKey01";
/// Demo OVH application secret.
pub const OVH_AS: &str = "emulatorAppSecret000000000000001";
/// Demo OVH consumer key.
pub const OVH_CK: &str = "emulatorConsumerKey0000000000001";
/// The demo EFS service.
pub const EFS_SERVICE: &str = "5e7a0f00-0000-4000-8000-000000000001";
/// The demo NAS-HA service.
pub const NASHA_SERVICE: &str = "zpool-100001";
/// Demo OUTSCALE access key.
pub const OSC_AK: &str = "EMULATORACCESSKEY001";
/// Demo OUTSCALE secret key.
pub const OSC_SK: &str = "emulatorSecretKey00000000000000000000001";
/// Demo OUTSCALE region.
pub const OSC_REGION: &str = "eu-west-2";
/// The second OUTSCALE Region the emulator serves (OUTSCALE accounts are per Region: its own
/// account and keys), the destination of cross-region copies.
pub const OSC_DR_REGION: &str = "cloudgouv-eu-west-1";
/// Largest request body the emulator reads (256 KiB); larger ones are answered 413.
pub const MAX_REQUEST_BODY: usize = 256 * 1024;
/// Demo access key of the account in [`OSC_DR_REGION`].
pub const OSC_DR_AK: &str = "EMULATORACCESSKEYDR1";
/// Demo secret key of the account in [`OSC_DR_REGION`].
pub const OSC_DR_SK: &str = "emulatorSecretKeyDr00000000000000000001";
/// The OUTSCALE accounts the emulator knows: access key, secret key, Region.
pub(crate) const OSC_ACCOUNTS: [(&str, &str, &str); 2] = [
    (OSC_AK, OSC_SK, OSC_REGION),
    (OSC_DR_AK, OSC_DR_SK, OSC_DR_REGION),
];
/// The OOS bucket the [`OSC_REGION`] account owns (exports of cross-region copies go there).
pub const OSC_BUCKET: &str = "snapctl-dr";
/// Demo PowerVC user.
pub const PVC_USER: &str = "root";
/// Demo PowerVC password.
pub const PVC_PASSWORD: &str = "emulator-passw0rd";
/// Demo PowerVC project id.
pub const PVC_PROJECT: &str = "9e8d7c6b5a4f4e3d8c2b1a0f9e8d7c6b";

/// How the emulator behaves.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Address to listen on (port 0: any free port).
    pub listen: SocketAddr,
    /// How long transitions take (creating → available, tasks, clones).
    pub delay: Duration,
    /// Share of requests answered with a server error (0.0–1.0).
    pub fail_rate: f64,
    /// Added to every answer.
    pub latency: Duration,
    /// Requests per second before answering 429/413 with Retry-After (`None`: no limit).
    pub throttle: Option<u32>,
    /// Seed of the fault RNG and of generated ids.
    pub seed: u64,
    /// Extra `snapctl-<time>` snapshots, one an hour back from now, seeded on the first EFS share,
    /// OUTSCALE volume and PowerVC volume (for benchmarks of rotation and lists).
    pub bulk: usize,
    /// Extra volumes per provider (`fleet-0001`…; tagged `fleet=yes` where the provider has tags),
    /// for fleet-mode scale tests.
    pub volumes: usize,
    /// Append every answer of the emulated APIs to this file, one JSON object a line
    /// (`{"method","path","status","body"}`), for checking them against the providers' specs.
    pub record: Option<std::path::PathBuf>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            delay: Duration::from_millis(300),
            fail_rate: 0.0,
            latency: Duration::ZERO,
            throttle: None,
            seed: 1,
            bulk: 0,
            volumes: 0,
            record: None,
        }
    }
}

/// Everything the emulator knows.
pub(crate) struct World {
    pub config: EmulatorConfig,
    pub rng: fastrand::Rng,
    /// Draws for fault injection only, so the fault schedule of a seed depends on the order of
    /// requests alone, not on how many ids the seeding or earlier answers generated.
    pub faults: fastrand::Rng,
    /// Emulated wall clock = real clock + offset (moved by `POST /_emulator/clock`).
    pub clock_offset: jiff::SignedDuration,
    pub ovh: ovh::OvhState,
    pub osc: outscale::OscState,
    /// The account in [`OSC_DR_REGION`]; swapped with `osc` while a request to that Region is
    /// answered, so every handler works on "the" account.
    pub osc_dr: outscale::OscState,
    pub pvc: powervc::PvcState,
    throttle_window: (Instant, u32),
    /// Every request that asked for a change (`METHOD /path`), for tests of `--dry-run`.
    changes: Vec<String>,
    /// Requests served, the emulator's own clock calls aside.
    requests: u64,
    /// Volumes whose snapshot creates the API refuses (a test's fault, as a full or broken
    /// volume would), each in its provider's error form.
    pub refuse_creates: std::collections::BTreeSet<String>,
    /// Refuse every OUTSCALE import, quoting its `FileLocation` in this form (a hostile or
    /// careless server: see [`Emulator::refuse_imports_echoing`]).
    pub echo_imports: Option<u8>,
}

impl World {
    /// Emulated now.
    pub fn now(&self) -> Timestamp {
        Timestamp::now()
            .checked_add(self.clock_offset)
            .unwrap_or_else(|_| Timestamp::now())
    }

    /// `f` on the OUTSCALE account of `region`: the other Region's account is swapped into
    /// `osc` for it.
    pub fn in_osc_region<T>(&mut self, region: &str, f: impl FnOnce(&mut World) -> T) -> T {
        if self.osc.region == region {
            return f(self);
        }
        std::mem::swap(&mut self.osc, &mut self.osc_dr);
        let out = f(self);
        std::mem::swap(&mut self.osc, &mut self.osc_dr);
        out
    }

    /// When a transition started now ends.
    pub fn ready_at(&self) -> Instant {
        Instant::now() + self.config.delay
    }

    /// A random UUID (v4 shape).
    pub fn uuid(&mut self) -> String {
        let r = &mut self.rng;
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            r.u32(..),
            r.u16(..),
            r.u16(..0x1000),
            8 + r.u8(..4),
            r.u16(..0x1000),
            r.u64(..1 << 48)
        )
    }

    /// Eight hex digits.
    pub fn hex8(&mut self) -> String {
        format!("{:08x}", self.rng.u32(..))
    }
}

/// A running emulator.
pub struct Emulator {
    /// Where it listens.
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    world: Shared,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Emulator {
    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Environment variables pointing each provider at this emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let b = self.base();
        vec![
            ("OVH_ENDPOINT", format!("{b}/1.0")),
            ("OVH_APPLICATION_KEY", OVH_AK.into()),
            ("OVH_APPLICATION_SECRET", OVH_AS.into()),
            ("OVH_CONSUMER_KEY", OVH_CK.into()),
            ("OSC_ENDPOINT_API", format!("{b}/api/v1")),
            ("OSC_ACCESS_KEY", OSC_AK.into()),
            ("OSC_SECRET_KEY", OSC_SK.into()),
            ("OSC_REGION", OSC_REGION.into()),
            ("OS_AUTH_URL", format!("{b}/identity/v3")),
            ("OS_USERNAME", PVC_USER.into()),
            ("OS_PASSWORD", PVC_PASSWORD.into()),
            ("OS_PROJECT_NAME", "ibm-default".into()),
        ]
    }

    /// A seeded volume of `kind` that is free to snapshot (not attached).
    pub fn demo_volume(&self, kind: crate::kind::ProviderKind) -> String {
        use crate::kind::ProviderKind;
        let w = self.world.lock().expect("emulator state");
        match kind {
            ProviderKind::OvhEfs => w.ovh.first_share(),
            ProviderKind::OvhNasha => "partition1".into(),
            ProviderKind::Outscale => w.osc.first_volume(),
            ProviderKind::Powervc => w.pvc.first_volume(),
        }
    }

    /// Give the first EFS share or PowerVC volume another name, served as it is (tests of what a
    /// hostile name does to snapctl's output). Other providers are left alone.
    pub fn rename_first_volume(&self, kind: crate::kind::ProviderKind, name: &str) {
        use crate::kind::ProviderKind;
        if let Ok(mut w) = self.world.lock() {
            match kind {
                ProviderKind::OvhEfs => w.ovh.rename_first_share(name),
                ProviderKind::Powervc => w.pvc.rename_first_volume(name),
                _ => {}
            }
        }
    }

    /// Give a volume another name, description and tags (metadata on PowerVC; EFS shares have
    /// none), as anyone allowed to edit it can through the API (`CreateTags`, `PUT /volumes/{id}`,
    /// `PUT …/share/{id}`): tests that a label never proves who made a volume. NAS-HA is left
    /// alone.
    pub fn label_volume(
        &self,
        kind: crate::kind::ProviderKind,
        id: &str,
        name: &str,
        description: &str,
        tags: &[(&str, &str)],
    ) {
        use crate::kind::ProviderKind;
        if let Ok(mut w) = self.world.lock() {
            match kind {
                ProviderKind::OvhEfs => w.ovh.label_share(id, name, description),
                ProviderKind::Powervc => w.pvc.label_volume(id, name, description, tags),
                ProviderKind::Outscale => {
                    let mut all = vec![("Name", name), ("Description", description)];
                    all.extend_from_slice(tags);
                    w.osc.set_tags(id, &all);
                }
                ProviderKind::OvhNasha => {}
            }
        }
    }

    /// Make OUTSCALE refuse every import (`CreateSnapshot` with `FileLocation`) with an error that
    /// quotes the pre-signed URL it was given, in form `form`: 0 the bare query string, 1 with
    /// an upper-case `HTTP://`, 2 URL-encoded, 3 in a body whose slashes are JSON-escaped
    /// (`http:\/\/`); `None` imports again. Tests that no form of the URL leaks.
    pub fn refuse_imports_echoing(&self, form: Option<u8>) {
        if let Ok(mut w) = self.world.lock() {
            w.echo_imports = form;
        }
    }

    /// Make the API refuse every snapshot create on `volume` from now on (an id, or a NAS-HA
    /// partition name), as it would for a volume in a bad state.
    pub fn refuse_creates_on(&self, volume: &str) {
        if let Ok(mut w) = self.world.lock() {
            w.refuse_creates.insert(volume.to_string());
        }
    }

    /// Delete an OUTSCALE volume out of band (as the console would), leaving its snapshots, which
    /// OUTSCALE keeps: what fleet mode's orphan report must notice.
    pub fn delete_outscale_volume(&self, id: &str) {
        if let Ok(mut w) = self.world.lock() {
            w.osc.volumes.retain(|v| v.id != id);
        }
    }

    /// The keys of the objects in an OUTSCALE bucket of [`OSC_REGION`] (tests of what exports
    /// leave behind).
    pub fn bucket_keys(&self, bucket: &str) -> Vec<String> {
        self.world
            .lock()
            .map(|w| w.osc.object_keys(bucket))
            .unwrap_or_default()
    }

    /// How many snapshot export tasks the OUTSCALE account of [`OSC_REGION`] was asked for
    /// (tests that a resumed copy reuses its export).
    pub fn export_task_count(&self) -> usize {
        self.world.lock().map(|w| w.osc.export_count()).unwrap_or(0)
    }

    /// Put an object of `size` bytes at any `key` of a bucket of [`OSC_REGION`] (what another
    /// user of the bucket could store there).
    pub fn put_object(&self, bucket: &str, key: &str, size: u64) {
        if let Ok(mut w) = self.world.lock() {
            w.osc.buckets.entry(bucket.to_string()).or_default().insert(
                key.to_string(),
                oos::StoredObj {
                    size,
                    original: size,
                    body: None,
                },
            );
        }
    }

    /// Make OOS listings of [`OSC_REGION`] ignore the prefix they ask for and list every key
    /// of the bucket (a broken or hostile server), or honour it again.
    pub fn list_ignoring_prefix(&self, on: bool) {
        if let Ok(mut w) = self.world.lock() {
            w.osc.list_ignores_prefix = on;
        }
    }

    /// A completed snapshot with `description` in the account of OUTSCALE Region `region` (what
    /// another fleet, or anyone with that account's keys, could have made there); its id.
    pub fn plant_osc_snapshot(&self, region: &str, description: &str) -> String {
        self.world
            .lock()
            .map(|mut w| w.in_osc_region(region, |w| outscale::plant_snapshot(w, description, 10)))
            .unwrap_or_default()
    }

    /// Remove a bucket of [`OSC_REGION`] (exports to it fail) or, with `exists`, make it again
    /// (empty): tests of copies that fail and resume.
    pub fn set_bucket(&self, bucket: &str, exists: bool) {
        if let Ok(mut w) = self.world.lock() {
            if exists {
                w.osc.buckets.entry(bucket.to_string()).or_default();
            } else {
                w.osc.buckets.remove(bucket);
            }
        }
    }

    /// Move the emulated clock (timestamps of new objects) by `offset` from the real one.
    pub fn set_clock_offset(&self, offset: jiff::SignedDuration) {
        if let Ok(mut w) = self.world.lock() {
            w.clock_offset = offset;
        }
    }

    /// Every request so far that asked for a change (`METHOD /path`, in order).
    pub fn changes(&self) -> Vec<String> {
        self.world
            .lock()
            .map(|w| w.changes.clone())
            .unwrap_or_default()
    }

    /// How many API requests it has served so far.
    pub fn requests(&self) -> u64 {
        self.world.lock().map(|w| w.requests).unwrap_or_default()
    }

    /// The `--service` of each OVH product.
    pub fn service(kind: crate::kind::ProviderKind) -> Option<&'static str> {
        match kind {
            crate::kind::ProviderKind::OvhEfs => Some(EFS_SERVICE),
            crate::kind::ProviderKind::OvhNasha => Some(NASHA_SERVICE),
            _ => None,
        }
    }
}

type Shared = Arc<Mutex<World>>;

/// Start serving; the server stops when the returned value is dropped.
pub async fn start(mut config: EmulatorConfig) -> std::io::Result<Emulator> {
    // SNAPCTL_EMULATOR_RECORD_DIR: every emulator of a run (the test suite's included) records
    // its answers there, one file each, for checking them against the providers' specs.
    if config.record.is_none()
        && let Some(dir) = std::env::var_os("SNAPCTL_EMULATOR_RECORD_DIR")
    {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        config.record =
            Some(std::path::PathBuf::from(dir).join(format!("{}-{n}.jsonl", std::process::id())));
    }
    let mut world = World {
        rng: fastrand::Rng::with_seed(config.seed),
        faults: fastrand::Rng::with_seed(config.seed ^ 0x5eed_fa17),
        config: config.clone(),
        clock_offset: jiff::SignedDuration::ZERO,
        ovh: ovh::OvhState::default(),
        osc: outscale::OscState::new(OSC_REGION),
        osc_dr: outscale::OscState::new(OSC_DR_REGION),
        pvc: powervc::PvcState::default(),
        throttle_window: (Instant::now(), 0),
        changes: Vec::new(),
        requests: 0,
        refuse_creates: Default::default(),
        echo_imports: None,
    };
    ovh::seed(&mut world);
    outscale::seed(&mut world);
    powervc::seed(&mut world);
    ovh::seed_volumes(&mut world, config.volumes);
    outscale::seed_volumes(&mut world, config.volumes);
    powervc::seed_volumes(&mut world, config.volumes);
    world.pvc.quota = powervc::Quota::for_scale(config.volumes, config.bulk);
    for i in 0..config.bulk {
        let at = world.now() - jiff::SignedDuration::from_hours(1 + i as i64);
        let name = format!("snapctl-{}", at.strftime("%Y%m%dT%H%M%SZ"));
        ovh::seed_snapshot(&mut world, &name, at);
        outscale::seed_snapshot(&mut world, &name, at);
        powervc::seed_snapshot(&mut world, &name, at);
    }
    let shared: Shared = Arc::new(Mutex::new(world));
    let app = axum::Router::new()
        .fallback(handle)
        // No API request is anywhere near this: a local user cannot grow the emulator with
        // huge bodies (Cinder's own text fields stop at 255 characters).
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BODY))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Emulator {
        addr,
        shutdown: Some(tx),
        world: shared,
    })
}

/// Whether a request asks to change state: not a GET, not authentication, not an OUTSCALE read or
/// `DryRun` check, not the emulator's own clock.
fn asks_for_a_change(req: &Req) -> bool {
    req.method != Method::GET
        && req.path != "/identity/v3/auth/tokens"
        && !req.path.starts_with("/_emulator/")
        && !req.path.starts_with("/api/v1/Read")
        && req.json().and_then(|v| v["DryRun"].as_bool()) != Some(true)
}

/// A request as the handlers see it.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The query as sent (signatures are over it).
    pub raw_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The URL as the client addressed it (for OVH signatures).
    pub fn full_url(&self) -> String {
        let host = self.header("host").unwrap_or("localhost");
        let mut url = format!("http://{host}{}", self.path);
        if !self.query.is_empty() {
            let q: Vec<String> = self
                .query
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        url::form_urlencoded::byte_serialize(k.as_bytes()).collect::<String>(),
                        url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                    )
                })
                .collect();
            url.push('?');
            url.push_str(&q.join("&"));
        }
        url
    }
}

/// A JSON answer with extra headers.
/// The strings of a JSON array (anything else: none), as request fields list ids.
pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A snapshot's status word where EFS and Cinder share them: a state forced through
/// `/_emulator/state`, else `deleting` once deleted, `creating` until ready, then `available`.
pub(crate) fn snapshot_status(
    forced: Option<&'static str>,
    deleted: bool,
    ready_at: std::time::Instant,
) -> &'static str {
    if let Some(word) = forced {
        word
    } else if deleted {
        "deleting"
    } else if std::time::Instant::now() < ready_at {
        "creating"
    } else {
        "available"
    }
}

/// `word` if it is one of the words an API documents for a state, else the list of them.
pub(crate) fn documented(
    word: &str,
    allowed: &'static [&'static str],
    what: &str,
) -> Result<&'static str, String> {
    allowed
        .iter()
        .find(|k| **k == word)
        .copied()
        .ok_or_else(|| format!("{what}: {}", allowed.join(", ")))
}

pub(crate) fn reply(status: u16, body: Value, headers: &[(&str, String)]) -> Response<Body> {
    let mut resp = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    for (k, v) in headers {
        resp = resp.header(*k, v);
    }
    resp.body(Body::from(body.to_string()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// An empty answer.
pub(crate) fn empty(status: u16, headers: &[(&str, String)]) -> Response<Body> {
    let mut resp = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in headers {
        resp = resp.header(*k, v);
    }
    resp.body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

enum Api {
    Ovh,
    Outscale,
    Oos,
    Powervc,
}

fn api_of(path: &str) -> Option<Api> {
    if path.starts_with("/1.0/") {
        Some(Api::Ovh)
    } else if path.starts_with("/api/v1/") {
        Some(Api::Outscale)
    } else if path == "/oos" || path.starts_with("/oos/") {
        Some(Api::Oos)
    } else if path.starts_with("/identity") || path.starts_with("/volume") {
        Some(Api::Powervc)
    } else {
        None
    }
}

/// The fault an answer gets, if any.
fn fault(world: &mut World, api: &Api) -> Option<Response<Body>> {
    let now = Instant::now();
    if let Some(limit) = world.config.throttle {
        let (start, count) = &mut world.throttle_window;
        if now.duration_since(*start) >= Duration::from_secs(1) {
            *start = now;
            *count = 0;
        }
        *count += 1;
        if *count > limit {
            let retry = vec![("Retry-After", "1".to_string())];
            return Some(match api {
                Api::Ovh => reply(
                    429,
                    serde_json::json!({"message": "Too many requests", "class": "Client::TooManyRequests"}),
                    &[
                        retry[0].clone(),
                        ("X-Ovh-QueryID", "EU.emulator.throttled".into()),
                    ],
                ),
                Api::Outscale => reply(
                    429,
                    serde_json::json!({"Errors": [{"Code": "24", "Type": "ErrorOperationThrottledPerAccount", "Details": "Request rate exceeded."}], "ResponseContext": {"RequestId": "emulator-throttled"}}),
                    &retry,
                ),
                Api::Oos => oos::error(503, "SlowDown", "Please reduce your request rate.", &retry),
                Api::Powervc => reply(
                    413,
                    serde_json::json!({"overLimit": {"code": 413, "message": "Over limit", "retryAfter": "1"}}),
                    &retry,
                ),
            });
        }
    }
    if world.config.fail_rate > 0.0 && world.faults.f64() < world.config.fail_rate {
        return Some(match api {
            Api::Ovh => reply(
                503,
                serde_json::json!({"message": "Service temporarily unavailable (emulated)", "class": "Server::ServiceUnavailable"}),
                &[("X-Ovh-QueryID", "EU.emulator.fault".into())],
            ),
            Api::Outscale => reply(
                503,
                serde_json::json!({"Errors": [{"Code": "6", "Type": "ErrorOperationThrottledWholePlatform", "Details": "Request rate exceeded."}], "ResponseContext": {"RequestId": "emulator-fault"}}),
                &[],
            ),
            Api::Oos => oos::error(
                503,
                "ServiceUnavailable",
                "Service unavailable (emulated)",
                &[],
            ),
            Api::Powervc => reply(
                503,
                serde_json::json!({"serviceUnavailable": {"code": 503, "message": "Service unavailable (emulated)"}}),
                &[],
            ),
        });
    }
    None
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let record = shared.lock().ok().and_then(|w| w.config.record.clone());
    let (method_, path) = (method.to_string(), uri.path().to_string());
    let resp = answer(shared, method, uri, headers, body).await;
    match record {
        Some(file) if api_of(&path).is_some() => recorded(&file, &method_, &path, resp).await,
        _ => resp,
    }
}

/// The answer, its line appended to `file` (`{"method","path","status","body"}`; the body as
/// JSON, or as text when it is not JSON, or null when empty).
async fn recorded(
    file: &std::path::Path,
    method: &str,
    path: &str,
    resp: Response<Body>,
) -> Response<Body> {
    use std::io::Write;
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let shown = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::json!({ "_not_json": String::from_utf8_lossy(&bytes) }))
    };
    let line = serde_json::json!({
        "method": method, "path": path, "status": parts.status.as_u16(), "body": shown,
    });
    // One write per line, one writer at a time: answers served together never interleave.
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = WRITING.lock().unwrap_or_else(|p| p.into_inner());
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// `POST /_emulator/clock`: `{"offset_seconds": -0.4}` (fractions allowed; 0 puts the clock
/// back) or `{"at": "2026-10-25T00:30:00Z"}`: the emulated clock from now on.
fn set_clock(world: &mut World, req: &Req) -> Response<Body> {
    let body = req.json().unwrap_or(serde_json::Value::Null);
    let offset = if let Some(at) = body["at"].as_str() {
        at.parse::<Timestamp>()
            .ok()
            .map(|at| at.duration_since(Timestamp::now()))
    } else {
        body["offset_seconds"]
            .as_f64()
            .and_then(|s| jiff::SignedDuration::try_from_secs_f64(s).ok())
    };
    let Some(offset) = offset else {
        return reply(
            400,
            serde_json::json!({"message": "give offset_seconds (seconds from the real clock, fractions allowed) or at (an RFC 3339 time)"}),
            &[],
        );
    };
    world.clock_offset = offset;
    reply(
        200,
        serde_json::json!({"now": world.now().to_string(), "offset_seconds": offset.as_secs_f64()}),
        &[],
    )
}

/// `POST /_emulator/state`: `{"id": SNAPSHOT_ID, "state": WORD}` (and `"type"` for EFS:
/// manual, automatic, system): a documented state the emulator never reaches by itself, so that
/// a client's handling of it can be tested. The word must be one the API documents.
fn set_state(world: &mut World, req: &Req) -> Response<Body> {
    let body = req.json().unwrap_or(serde_json::Value::Null);
    let id = body["id"].as_str().unwrap_or_default().to_string();
    let state = body["state"].as_str();
    let kind = body["type"].as_str();
    if id.is_empty() || (state.is_none() && kind.is_none()) {
        return reply(
            400,
            serde_json::json!({"message": "give id and state (or type, for an EFS snapshot)"}),
            &[],
        );
    }
    let done = ovh::force_state(&mut *world, &id, state, kind)
        .or_else(|| state.and_then(|st| outscale::force_state(&mut *world, &id, st)))
        .or_else(|| state.and_then(|st| powervc::force_state(&mut *world, &id, st)));
    match done {
        Some(Ok(())) => reply(200, serde_json::json!({"id": id}), &[]),
        Some(Err(words)) => reply(400, serde_json::json!({ "message": words }), &[]),
        None => reply(
            404,
            serde_json::json!({"message": format!("no snapshot {id} on this emulator")}),
            &[],
        ),
    }
}

async fn answer(
    shared: Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let req = Req {
        method,
        path: uri.path().to_string(),
        query: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
        raw_query: uri.query().unwrap_or("").to_string(),
        headers,
        body,
    };
    let latency = shared.lock().map(|w| w.config.latency).unwrap_or_default();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let Ok(mut world) = shared.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if !req.path.starts_with("/_emulator/") {
        world.requests += 1;
    }
    if asks_for_a_change(&req) {
        world.changes.push(format!("{} {}", req.method, req.path));
    }
    if req.path == "/_emulator/clock" && req.method == Method::POST {
        return set_clock(&mut world, &req);
    }
    if req.path == "/_emulator/state" && req.method == Method::POST {
        return set_state(&mut world, &req);
    }
    let Some(api) = api_of(&req.path) else {
        return reply(
            404,
            serde_json::json!({"message": "no such API on this emulator"}),
            &[],
        );
    };
    let is_time = req.path == "/1.0/auth/time";
    if !is_time && let Some(resp) = fault(&mut world, &api) {
        return resp;
    }
    match api {
        Api::Ovh => ovh::handle(&mut world, &req),
        Api::Outscale => outscale::handle(&mut world, &req),
        Api::Oos => oos::handle(&mut world, &req),
        Api::Powervc => powervc::handle(&mut world, &req),
    }
}
