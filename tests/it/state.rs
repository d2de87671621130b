//! Fleet state in the user's own object storage (`state = "s3://…"`, issue 40): disposable
//! runners (each a fresh HOME, as a CronJob's pod) share the drill records through the bucket,
//! against the emulator's OOS and against moto (an independent S3 implementation); a store
//! that ignores conditional writes is refused. (That a record another runner changed is never
//! overwritten is `store::mirror`'s unit test.)

use std::path::{Path, PathBuf};

use serde_json::Value;
use snapctl::emulator::{Emulator, OSC_AK, OSC_BUCKET, OSC_REGION, OSC_SK};
use snapctl::provider::ProviderKind;

use crate::common::{assert_exit, stderr};
use crate::emulator::{Cli, start};

/// The profiles file of a runner: `state`, an `s3` profile of `endpoint`.
fn state_profile(cli: &Cli, endpoint: &str, region: &str, (ak, sk): (&str, &str)) {
    let dir = cli.home().join("config/snapctl");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[profiles.state]\nprovider = \"s3\"\nendpoint = \"{endpoint}\"\nregion = \"{region}\"\naccess_key = \"{ak}\"\nsecret_key = \"{sk}\"\n"
        ),
    )
    .expect("profiles");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

/// One OUTSCALE policy on the demo volume, hourly, drilling once a week, its state at `url`.
fn policy_file(cli: &Cli, emu: &Emulator, url: &str) -> PathBuf {
    let path = cli.home().join("fleet.toml");
    std::fs::write(
        &path,
        format!(
            "state = \"{url}\"\nstate_profile = \"state\"\n\n[[policy]]\nid = \"s-osc\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 3 }}\ndrill = {{ every = \"7d\", volumes = 1, timeout = \"2min\" }}\n",
            emu.demo_volume(ProviderKind::Outscale)
        ),
    )
    .expect("policy file");
    path
}

async fn apply(cli: &Cli<'_>, file: &Path, at: &str, code: i32) -> Value {
    crate::fleet::apply(cli, file, &["--at", at], code).await
}

fn drills(report: &Value) -> usize {
    report["policies"][0]["drills"]
        .as_array()
        .map_or(0, Vec::len)
}

/// The start of the hour `2 - n` hours before this one, as `--at` takes it (three runs at
/// three ticks ending with the current one).
fn hour(n: i64) -> String {
    let now = jiff::Timestamp::now().as_second();
    let s = now - now.rem_euclid(3600) - (2 - n) * 3600;
    jiff::Timestamp::from_second(s).expect("time").to_string()
}

/// Three fresh runners applying one file at three ticks make one drill, not three; a fourth
/// machine's `check` sees it.
async fn three_runners_share_one_drill(
    emu: &Emulator,
    endpoint: &str,
    region: &str,
    keys: (&str, &str),
    url: &str,
) {
    let mut drilled = Vec::new();
    for n in 0..3 {
        let runner = Cli::new(emu);
        state_profile(&runner, endpoint, region, keys);
        let file = policy_file(&runner, emu, url);
        let report = apply(&runner, &file, &hour(n), 0).await;
        drilled.push(drills(&report));
    }
    assert_eq!(drilled, [1, 0, 0], "one drill across three fresh runners");
    // A fourth machine plans no drill this week (a fresh one without the bucket would plan
    // one), and its check is OK.
    let auditor = Cli::new(emu);
    state_profile(&auditor, endpoint, region, keys);
    let file = policy_file(&auditor, emu, url);
    let f = file.to_str().expect("utf-8");
    let plan = auditor
        .bare(&["-o", "json", "policy", "plan", "-f", f])
        .await;
    assert_exit(&plan, 0);
    let plan: Value = serde_json::from_slice(&plan.stdout).expect("json");
    assert_eq!(
        plan["policies"][0]["drills"].as_array().map_or(0, Vec::len),
        0,
        "{plan}"
    );
    let check = auditor.bare(&["policy", "check", "-f", f]).await;
    assert_exit(&check, 0);
    let stranger = Cli::new(emu);
    let text = std::fs::read_to_string(&file).expect("file");
    let local = stranger.home().join("fleet.toml");
    std::fs::write(
        &local,
        text.replace("state = ", "# state = ")
            .replace("state_profile = ", "# state_profile = "),
    )
    .expect("write");
    let plan = stranger
        .bare(&[
            "-o",
            "json",
            "policy",
            "plan",
            "-f",
            local.to_str().expect("utf-8"),
        ])
        .await;
    assert_exit(&plan, 0);
    let plan: Value = serde_json::from_slice(&plan.stdout).expect("json");
    assert_eq!(
        plan["policies"][0]["drills"].as_array().map(Vec::len),
        Some(1),
        "without the bucket a fresh machine would drill again: {plan}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fresh_runners_share_their_drill_records_through_the_emulators_oos() {
    let emu = start().await;
    let endpoint = format!("{}/oos", emu.base());
    three_runners_share_one_drill(
        &emu,
        &endpoint,
        OSC_REGION,
        (OSC_AK, OSC_SK),
        &format!("s3://{OSC_BUCKET}/fleet/prod"),
    )
    .await;
    assert!(
        emu.bucket_keys(OSC_BUCKET)
            .contains(&"fleet/prod/drill-s-osc.json".to_string()),
        "{:?}",
        emu.bucket_keys(OSC_BUCKET)
    );
}

/// `moto_server` on a free loopback port, with `bucket` created; `None` (with the reason
/// printed) where it is not installed, which CI never accepts.
struct Moto(std::process::Child, u16);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn moto(bucket: &str) -> Option<Moto> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "moto_server is needed in CI (pip install 'moto[server]'): {e}"
            );
            eprintln!("skipped: moto_server not found ({e}); pip install 'moto[server]'");
            return None;
        }
    };
    let server = Moto(child, port);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client
            .put(format!("{base}/{bucket}"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Some(server);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("moto_server did not start on {base}");
}

#[tokio::test(flavor = "multi_thread")]
async fn fresh_runners_share_their_drill_records_through_moto() {
    let Some(m) = moto("snapctl-state").await else {
        return;
    };
    let emu = start().await;
    let endpoint = format!("http://127.0.0.1:{}", m.1);
    three_runners_share_one_drill(
        &emu,
        &endpoint,
        "us-east-1",
        ("AKIAEXAMPLEEXAMPLE00", "moto-accepts-any-secret-key"),
        "s3://snapctl-state/fleet",
    )
    .await;
}

/// A store that answers every write 200 (conditions ignored) is refused before anything is
/// written there or done in the clouds: exit 5, the store named.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_that_ignores_conditional_writes_is_refused() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let careless = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200).insert_header("etag", "\"0123\""))
        .mount(&careless)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&careless)
        .await;
    let emu = start().await;
    let cli = Cli::new(&emu);
    state_profile(
        &cli,
        &careless.uri(),
        "us-east-1",
        ("AKIAEXAMPLEEXAMPLE00", "any"),
    );
    let file = policy_file(&cli, &emu, "s3://snapctl-state/fleet");
    let out = cli
        .bare(&["policy", "apply", "-f", file.to_str().expect("utf-8")])
        .await;
    assert_exit(&out, 5);
    assert!(
        stderr(&out).contains("s3://snapctl-state/fleet ignores conditional writes"),
        "{}",
        stderr(&out)
    );
    let sent: Vec<String> = careless
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert!(
        sent.iter()
            .all(|r| r.contains("/snapctl-state/fleet/.snapctl-probe-")),
        "only the probe was written: {sent:?}"
    );
}

/// Runners in step: `apply` of one file on two fresh machines started at once, ten times, each
/// round at its own tick (so each run has snapshots to take): never are both inside the file's
/// run (the lease serialises them; the loser exits 8), and a lease released at the end lets the
/// next round start at once.
#[tokio::test(flavor = "multi_thread")]
async fn runners_started_at_once_are_never_both_inside_the_files_run() {
    let emu = snapctl::emulator::start(snapctl::emulator::EmulatorConfig {
        delay: std::time::Duration::from_millis(300),
        ..snapctl::emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let endpoint = format!("{}/oos", emu.base());
    let url = format!("s3://{OSC_BUCKET}/race");
    let runners: Vec<Cli> = (0..2).map(|_| Cli::new(&emu)).collect();
    let files: Vec<PathBuf> = runners
        .iter()
        .map(|r| {
            state_profile(r, &endpoint, OSC_REGION, (OSC_AK, OSC_SK));
            policy_file(r, &emu, &url)
        })
        .collect();
    let now = jiff::Timestamp::now().as_second();
    let (mut lost, mut won) = (0, 0);
    for round in 0..10i64 {
        let at = jiff::Timestamp::from_second(now - now.rem_euclid(3600) - (10 - round) * 3600)
            .expect("time")
            .to_string();
        let children: Vec<std::process::Child> = runners
            .iter()
            .zip(&files)
            .map(|(r, f)| {
                let mut cmd = r.apply_process(f);
                cmd.args(["--at", &at])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                cmd.spawn().expect("spawns")
            })
            .collect();
        let mut inside = Vec::new();
        for child in children {
            let out = child.wait_with_output().expect("runs");
            match out.status.code() {
                Some(0) => {
                    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
                    let t = |k: &str| -> jiff::Timestamp {
                        report[k].as_str().expect(k).parse().expect("time")
                    };
                    inside.push((t("started_at"), t("finished_at")));
                    won += 1;
                }
                Some(8) => {
                    assert!(stderr(&out).contains("holds the lease"), "{}", stderr(&out));
                    lost += 1;
                }
                code => panic!("round {round}: exit {code:?}: {}", stderr(&out)),
            }
        }
        if let [a, b] = inside[..] {
            assert!(
                a.1 <= b.0 || b.1 <= a.0,
                "round {round}: both inside the run: {a:?} and {b:?}"
            );
        }
    }
    assert!(won >= 10, "every round one run went through ({won})");
    assert!(
        lost >= 1,
        "the two runners met at least once ({lost} refused)"
    );
}

/// A runner killed (SIGKILL) inside its run leaves its lease: the next run is refused (exit 8,
/// the holder named) until the lease expires, and takes it over then (`--lock-wait` waits).
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_runners_lease_is_taken_over_after_its_expiry_not_before() {
    if cfg!(windows) {
        return;
    }
    let emu = snapctl::emulator::start(snapctl::emulator::EmulatorConfig {
        delay: std::time::Duration::from_secs(3),
        ..snapctl::emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let endpoint = format!("{}/oos", emu.base());
    let url = format!("s3://{OSC_BUCKET}/killed");
    let runner = |emu| {
        let r = Cli::new(emu);
        state_profile(&r, &endpoint, OSC_REGION, (OSC_AK, OSC_SK));
        let f = policy_file(&r, emu, &url);
        let text = std::fs::read_to_string(&f).expect("file");
        std::fs::write(&f, format!("lease_ttl = \"2s\"\n{text}")).expect("write");
        (r, f)
    };
    let (dying, file) = runner(&emu);
    let mut child = dying.apply_process(&file).spawn().expect("spawns");
    let lease = "killed/lease-apply-s-osc.json".to_string();
    for _ in 0..200 {
        if emu.bucket_keys(OSC_BUCKET).contains(&lease) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        emu.bucket_keys(OSC_BUCKET).contains(&lease),
        "the run took its lease"
    );
    child.kill().expect("SIGKILL");
    let _ = child.wait();

    let (next, file) = runner(&emu);
    let f = file.to_str().expect("utf-8");
    let refused = next.bare(&["policy", "apply", "-f", f]).await;
    assert_exit(&refused, 8);
    assert!(
        stderr(&refused).contains(&format!("holds the lease s3://{OSC_BUCKET}/{lease} until")),
        "{}",
        stderr(&refused)
    );
    let taken = next
        .bare(&["policy", "apply", "-f", f, "--lock-wait", "10s"])
        .await;
    assert_exit(&taken, 0);
}

/// `validate` refuses what would leave the state nowhere or half-named: `state` without a
/// profile or with `state_dir`, a URL that is not `s3://BUCKET/PREFIX`, a `state_profile` the
/// profiles file lacks, a `lease_ttl` without `state` or out of range; and a cloud command run
/// with the store's profile.
#[tokio::test(flavor = "multi_thread")]
async fn validate_refuses_a_state_half_named() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    state_profile(&cli, "https://s3.example.invalid", "gra", ("AK", "SK"));
    let policy = "[[policy]]\nid = \"p\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = { all = true }\nkeep = { last = 1 }\n";
    for (head, why) in [
        ("state = \"s3://b-1/p\"", "state: name the store's profile"),
        (
            "state_profile = \"state\"",
            "state_profile: given without state",
        ),
        (
            "state = \"b-1/p\"\nstate_profile = \"state\"",
            "expected s3://BUCKET/PREFIX",
        ),
        (
            "state = \"s3://b-1/../p\"\nstate_profile = \"state\"",
            "prefix",
        ),
        (
            "state = \"s3://b-1/p\"\nstate_profile = \"state\"\nstate_dir = \"/tmp/x\"",
            "choose one place",
        ),
        (
            "state = \"s3://b-1/p\"\nstate_profile = \"nope\"",
            "state_profile \"nope\": no such profile",
        ),
        ("lease_ttl = \"10s\"", "lease_ttl: given without state"),
        (
            "state = \"s3://b-1/p\"\nstate_profile = \"state\"\nlease_ttl = \"1s\"",
            "between 2s and 1h",
        ),
    ] {
        let path = cli.home().join("bad.toml");
        std::fs::write(&path, format!("{head}\n{policy}")).expect("write");
        let out = cli
            .bare(&["policy", "validate", "-f", path.to_str().expect("utf-8")])
            .await;
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(why), "{why}: {}", stderr(&out));
    }
    let out = cli
        .bare(&["--profile", "state", "-p", "outscale", "volume", "list"])
        .await;
    assert_exit(&out, 5);
    assert!(
        stderr(&out).contains("is an S3 state store's"),
        "{}",
        stderr(&out)
    );
}
