//! Shared test harness: OVH wiremock doubles that verify signatures the way the API does, and a
//! runner for the real `snapctl` binary pointed at them with a clean environment.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Output;

use sha1::{Digest, Sha1};
use wiremock::matchers::{method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

pub const AK: &str = "TDPKJdwZwAQPwKX2";
pub const AS: &str = "9ufkBmLaTQ9nz5yMUlg79taH0GNnzDjk";
pub const CK: &str = "5mBuy6SUQcRw2ZUxg0cG68BoDKpED4KY";
pub const SERVICE: &str = "6b1e1f3a-0000-4000-8000-000000000000";
pub const SHARE: &str = "6b1e1f3a-0000-4000-8000-000000000001";
pub const MANUAL: &str = "6b1e1f3a-0000-4000-8000-0000000000a1";
pub const AUTOMATIC: &str = "6b1e1f3a-0000-4000-8000-0000000000b1";
pub const NEW_SNAP: &str = "6b1e1f3a-0000-4000-8000-0000000000e1";
pub const CLONE: &str = "6b1e1f3a-0000-4000-8000-0000000000c1";
pub const NASHA: &str = "zpool-123456";
pub const OSC_AK: &str = "OSCAKTEST00000000001";
pub const OSC_SK: &str = "oscSecretKeyForTests00000000000000000001";

/// `/1.0/dedicated/nasha/zpool-123456` + rest.
pub fn nasha_path(rest: &str) -> String {
    format!("/1.0/dedicated/nasha/{NASHA}{rest}")
}

/// A fixture file's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A JSON response from a fixture, with an OVH query id.
pub fn json(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_raw(fixture(name), "application/json")
        .insert_header("X-Ovh-QueryID", "EU.ext-3.63ac85b6.10528.test")
}

/// `/1.0/storage/netapp/{SERVICE}/share/{SHARE}` + rest.
pub fn share_path(rest: &str) -> String {
    format!("/1.0/storage/netapp/{SERVICE}/share/{SHARE}{rest}")
}

/// Verifies an OVH v1 signature the way the API does: recomputed from the request as received
/// (method, full URL, body bytes, timestamp header) with an independent SHA-1.
pub struct OvhSigned;

impl Match for OvhSigned {
    fn matches(&self, req: &Request) -> bool {
        let h = |n: &str| {
            req.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (Some(app), Some(consumer), Some(ts), Some(sig)) = (
            h("x-ovh-application"),
            h("x-ovh-consumer"),
            h("x-ovh-timestamp"),
            h("x-ovh-signature"),
        ) else {
            return false;
        };
        let Ok(ts_num) = ts.parse::<i64>() else {
            return false;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs() as i64;
        if (now - ts_num).abs() > 30 {
            return false;
        }
        // The URL as the client addressed it: scheme + Host header + path and query, which is what
        // the real API rebuilds (wiremock's own `url` says `localhost`).
        let Some(host) = h("host") else {
            return false;
        };
        let mut url = format!("http://{host}{}", req.url.path());
        if let Some(q) = req.url.query() {
            url.push('?');
            url.push_str(q);
        }
        let mut hasher = Sha1::new();
        hasher.update(format!("{AS}+{CK}+{}+{url}+", req.method.as_str()).as_bytes());
        hasher.update(&req.body);
        hasher.update(format!("+{ts}").as_bytes());
        let expected = format!("$1${}", hex::encode(hasher.finalize()));
        let body_typed =
            req.body.is_empty() || h("content-type").as_deref() == Some("application/json");
        app == AK && consumer == CK && sig == expected && body_typed
    }
}

/// Verifies an OSC4-HMAC-SHA256 `Authorization` header recomputed from the request as received
/// (Host header, path, Content-Type, X-Osc-Date, body bytes), with its own SigV4 code.
pub struct OscSigned;

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

impl Match for OscSigned {
    fn matches(&self, req: &Request) -> bool {
        use sha2::Digest as _;
        let h = |n: &str| {
            req.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (Some(auth), Some(date), Some(host), Some(ct)) = (
            h("authorization"),
            h("x-osc-date"),
            h("host"),
            h("content-type"),
        ) else {
            return false;
        };
        if req.method.as_str() != "POST" || date.len() != 16 {
            return false;
        }
        let day = &date[..8];
        let canonical = format!(
            "POST\n{}\n\ncontent-type:{ct}\nhost:{host}\nx-osc-date:{date}\n\ncontent-type;host;x-osc-date\n{}",
            req.url.path(),
            hex::encode(sha2::Sha256::digest(&req.body))
        );
        let scope = format!("{day}/eu-west-2/api/osc4_request");
        let to_sign = format!(
            "OSC4-HMAC-SHA256\n{date}\n{scope}\n{}",
            hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac256(format!("OSC4{OSC_SK}").as_bytes(), day.as_bytes());
        for part in ["eu-west-2", "api", "osc4_request"] {
            key = hmac256(&key, part.as_bytes());
        }
        let sig = hex::encode(hmac256(&key, to_sign.as_bytes()));
        auth == format!(
            "OSC4-HMAC-SHA256 Credential={OSC_AK}/{scope}, SignedHeaders=content-type;host;x-osc-date, Signature={sig}"
        )
    }
}

pub const PVC_USER: &str = "root";
pub const PVC_PASSWORD: &str = "pvc-Secret-passw0rd";
pub const PVC_TOKEN: &str = "gAAAAABpvcFernetToken-first";
pub const PVC_PROJECT: &str = "38d2d7a82d9c4142a295298087bf9459";

/// The Keystone token answer with its catalog pointing back at `server`.
pub fn keystone_token(server: &MockServer, token: &str) -> ResponseTemplate {
    let body = String::from_utf8(fixture("powervc/token.json"))
        .expect("utf-8")
        .replace("https://powervc.example.com:9000", &server.uri())
        .replace("https://powervc.example.com:5000", &server.uri());
    ResponseTemplate::new(201)
        .insert_header("X-Subject-Token", token)
        .insert_header(
            "x-openstack-request-id",
            "req-6f3c1b2a-0000-4000-8000-000000000001",
        )
        .set_body_raw(body.into_bytes(), "application/json")
}

/// The password-auth body PowerVC documents, with our test user.
pub fn keystone_auth_body() -> serde_json::Value {
    serde_json::json!({"auth": {
        "identity": {"methods": ["password"],
            "password": {"user": {"name": PVC_USER, "domain": {"name": "Default"}, "password": PVC_PASSWORD}}},
        "scope": {"project": {"name": "ibm-default", "domain": {"name": "Default"}}}}})
}

/// A server whose Keystone answers the documented auth body with `PVC_TOKEN` (`expect` times).
pub async fn powervc_server(expect_auth: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .and(wiremock::matchers::body_json(keystone_auth_body()))
        .respond_with(keystone_token(&server, PVC_TOKEN))
        .expect(expect_auth)
        .named("keystone auth")
        .mount(&server)
        .await;
    server
}

/// `/v3/{project}` + rest: the volume service path from the catalog.
pub fn pvc_path(rest: &str) -> String {
    format!("/v3/{PVC_PROJECT}{rest}")
}

/// A server with `GET /1.0/auth/time` answering the current time (unauthenticated).
pub async fn ovh_server() -> MockServer {
    let server = MockServer::start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    Mock::given(method("GET"))
        .and(path("/1.0/auth/time"))
        .respond_with(ResponseTemplate::new(200).set_body_string(now.to_string()))
        .mount(&server)
        .await;
    server
}

/// The binary with a clean environment: no real config, no real ovh.conf, OVH keys from env.
pub struct Snapctl {
    pub home: tempfile::TempDir,
    pub args: Vec<String>,
    pub envs: Vec<(String, String)>,
}

impl Snapctl {
    /// Pointed at `server` as ovh-efs with the test service and a 10 ms poll interval.
    pub fn efs(server: &MockServer) -> Self {
        let mut s = Snapctl::bare();
        s.args = vec![
            "-p".into(),
            "ovh-efs".into(),
            "--endpoint".into(),
            format!("{}/1.0", server.uri()),
            "--service".into(),
            SERVICE.into(),
            "--poll-interval".into(),
            "10ms".into(),
        ];
        s.envs = vec![
            ("OVH_APPLICATION_KEY".into(), AK.into()),
            ("OVH_APPLICATION_SECRET".into(), AS.into()),
            ("OVH_CONSUMER_KEY".into(), CK.into()),
        ];
        s
    }

    /// Pointed at `server` as ovh-nasha on `zpool-123456`.
    pub fn nasha(server: &MockServer) -> Self {
        let mut s = Snapctl::efs(server);
        s.args[1] = "ovh-nasha".into();
        s.args[5] = NASHA.into();
        s
    }

    /// Pointed at `server` as outscale in eu-west-2.
    pub fn outscale(server: &MockServer) -> Self {
        let mut s = Snapctl::bare();
        s.args = vec![
            "-p".into(),
            "outscale".into(),
            "--endpoint".into(),
            format!("{}/api/v1", server.uri()),
            "--poll-interval".into(),
            "10ms".into(),
        ];
        s.envs = vec![
            ("OSC_ACCESS_KEY".into(), OSC_AK.into()),
            ("OSC_SECRET_KEY".into(), OSC_SK.into()),
            ("OSC_REGION".into(), "eu-west-2".into()),
        ];
        s
    }

    /// Pointed at `server` as powervc (identity URL on the server, region RegionOne).
    pub fn powervc(server: &MockServer) -> Self {
        let mut s = Snapctl::bare();
        s.args = vec![
            "-p".into(),
            "powervc".into(),
            "--endpoint".into(),
            format!("{}/v3", server.uri()),
            "--poll-interval".into(),
            "10ms".into(),
        ];
        s.envs = vec![
            ("OS_USERNAME".into(), PVC_USER.into()),
            ("OS_PASSWORD".into(), PVC_PASSWORD.into()),
            ("OS_REGION_NAME".into(), "RegionOne".into()),
        ];
        s
    }

    /// No provider, no credentials.
    pub fn bare() -> Self {
        Snapctl {
            home: tempfile::tempdir().expect("tempdir"),
            args: vec![],
            envs: vec![],
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.push((k.into(), v.into()));
        self
    }

    /// The command [`Snapctl::run`] runs, to start it by hand (and signal it).
    pub fn command(&self, extra: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_snapctl"));
        cmd.env_clear()
            .envs(crate::common::clock_env())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // The default client-side limits (1/s on OVH) would only slow the doubles down; the
            // limiter has its own tests.
            .env("SNAPCTL_MAX_RPS", "0")
            .current_dir(self.home.path())
            .args(&self.args)
            .args(extra)
            .envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    /// Run with extra arguments, off the async runtime so the mock server keeps serving.
    pub async fn run(&self, extra: &[&str]) -> Output {
        let mut cmd = assert_cmd::Command::from_std(self.command(extra));
        // Never a terminal: prompts (revert without --yes) must refuse, not wait.
        cmd.write_stdin(Vec::<u8>::new());
        tokio::task::spawn_blocking(move || cmd.output().expect("snapctl runs"))
            .await
            .expect("join")
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit code, with the outputs in the panic message when it is not what was expected.
#[track_caller]
pub fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}

/// A mock of a signed OVH call: method, path, and a signature recomputed from the request.
pub fn ovh(m: &str, p: impl Into<String>) -> wiremock::MockBuilder {
    Mock::given(method(m)).and(path(p.into())).and(OvhSigned)
}

/// A mock of a signed OUTSCALE action (`POST /api/v1/<action>`).
pub fn osc(action: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(format!("/api/v1/{action}")))
        .and(OscSigned)
}

/// A signed OVH `GET` on `p` answered with `resp`.
pub async fn ovh_get(server: &MockServer, p: &str, resp: ResponseTemplate) {
    ovh("GET", p).respond_with(resp).mount(server).await;
}

/// Stderr contains `needle`, or the test fails showing stderr.
#[track_caller]
pub fn assert_stderr_has(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
}

/// Requests the server received on paths other than `/1.0/auth/time`.
pub async fn api_requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() != "/1.0/auth/time")
        .collect()
}

/// Run `cmd` (stdin empty, output captured), send it `signal` (`INT`, `TERM`) after `after`, and
/// return what it printed and how it exited (Unix: it runs `kill`).
pub async fn signal_after(
    cmd: std::process::Command,
    signal: &str,
    after: std::time::Duration,
) -> Output {
    signal_when(cmd, signal, tokio::time::sleep(after)).await
}

/// [`signal_after`], the signal sent once `when` is done (a file appeared, a request came).
pub async fn signal_when(
    mut cmd: std::process::Command,
    signal: &str,
    when: impl std::future::Future<Output = ()>,
) -> Output {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("spawn");
    let pid = child.id().to_string();
    when.await;
    let kill = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join")
}

/// The variables that shift the clock of a test run (libfaketime's `LD_PRELOAD` and `FAKETIME*`,
/// as `.ci/run` sets them to run the suite years ahead), passed on to every `snapctl` the tests
/// start, so the binary and the in-process doubles see the same "now". Empty on a normal run.
pub fn clock_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k == "LD_PRELOAD" || k.starts_with("FAKETIME"))
        .collect()
}

/// A server that accepts every request and holds its answer for 60 s: an endpoint that never
/// answers, for signal and deadline tests.
pub async fn silent_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(60)))
        .mount(&server)
        .await;
    server
}

/// A program the suite drives for real (Debian's `package`): its path, or `None` after saying
/// why the test is skipped. Under `CI=true` a missing program fails the test: `.ci/run`
/// installs every one.
pub fn tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true and {name} is missing: .ci/run installs it (apt-get install {package})"
        );
        eprintln!("skipped: {name} is not installed (apt-get install {package})");
    }
    found
}

/// A fleet run against a double, set up as a user would: a private profiles file whose profile
/// `wire` is `profile` (the lines under `[profiles.wire]`), and the policy file `policy`, whose
/// path is returned.
pub fn wire_fleet(s: &Snapctl, profile: &str, policy: &str) -> PathBuf {
    let config = s.home.path().join("config/snapctl");
    std::fs::create_dir_all(&config).expect("mkdir");
    let profiles = config.join("config.toml");
    std::fs::write(&profiles, format!("[profiles.wire]\n{profile}")).expect("profiles");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&profiles, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let file = s.home.path().join("fleet.toml");
    std::fs::write(&file, policy).expect("policy file");
    file
}

/// `policy apply -o json` of `file` as of 2025-10-02T12:00:00Z (the daily tick the doubles'
/// snapshots answer), expecting exit 0; the report.
pub async fn wire_apply(s: &Snapctl, file: &std::path::Path) -> serde_json::Value {
    wire_apply_ending(s, file, 0).await
}

/// [`wire_apply`], expecting exit `code`.
pub async fn wire_apply_ending(
    s: &Snapctl,
    file: &std::path::Path,
    code: i32,
) -> serde_json::Value {
    let out = s
        .run(&[
            "-o",
            "json",
            "--poll-interval",
            "10ms",
            "policy",
            "apply",
            "-f",
            file.to_str().expect("utf-8"),
            "--at",
            "2025-10-02T12:00:00Z",
        ])
        .await;
    assert_exit(&out, code);
    serde_json::from_slice(&out.stdout).expect("json")
}

/// The policy file of a wire drill test: policy `wire` on profile `wire`, daily, on `volume`,
/// keeping 1, with `drill` (the inline table's contents), its state in the test's home.
pub fn wire_policy(s: &Snapctl, volume: &str, drill: &str) -> String {
    format!(
        "state_dir = \"{}\"\n[[policy]]\nid = \"wire\"\nprofile = \"wire\"\nevery = \"1d\"\nselect = {{ ids = [\"{volume}\"] }}\nkeep = {{ last = 1 }}\ndrill = {{ {drill} }}\n",
        s.home.path().join("state").display()
    )
}
