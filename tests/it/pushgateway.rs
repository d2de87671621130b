//! `policy apply` pushing its metrics to a Prometheus Pushgateway: the real one (Debian's
//! `prometheus-pushgateway`, started here on a loopback port) for what the gateway keeps, a
//! wiremock double for the exact request (method, path, headers, body) and its failures.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use snapctl::emulator::Emulator;
use snapctl::provider::ProviderKind;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::{assert_exit, stderr, tool};
use crate::emulator::{Cli, start};

/// A Pushgateway on a free loopback port, stopped on drop.
struct Gateway {
    child: Child,
    url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    async fn start(bin: &std::path::Path) -> Gateway {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("addr")
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let child = Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Debian's build persists to /var/lib/prometheus by default: another run's groups
            // would come back. In memory only.
            .arg("--persistence.file=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the pushgateway starts");
        let gw = Gateway { child, url };
        let deadline = Instant::now() + Duration::from_secs(20);
        while gw.get("/-/ready").await.is_none() {
            assert!(Instant::now() < deadline, "the pushgateway never got ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        gw
    }

    /// GET a path of the gateway: the body of a 200.
    async fn get(&self, route: &str) -> Option<String> {
        let resp = reqwest::get(format!("{}{route}", self.url)).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.text().await.ok()
    }

    /// Every sample line of `name` the gateway serves for this test's groups.
    async fn samples(&self, name: &str) -> Vec<String> {
        self.get("/metrics")
            .await
            .expect("the gateway's metrics")
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .filter(|l| l.contains("policy_file=\"push-"))
            .map(str::to_string)
            .collect()
    }
}

fn policy(cli: &Cli, emu: &Emulator, id: &str, extra: &str) -> PathBuf {
    let kind = ProviderKind::Outscale;
    let path = cli.home().join(format!("{id}.toml"));
    std::fs::write(
        &path,
        format!(
            "{extra}\n[[policy]]\nid = \"{id}\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 2, min = 1 }}\n",
            emu.demo_volume(kind)
        ),
    )
    .expect("policy file");
    path
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8")
}

/// `policy apply -q -f FILE --push-url URL`.
async fn push_to(cli: &Cli<'_>, file: &std::path::Path, url: &str) -> std::process::Output {
    cli.bare(&["policy", "apply", "-q", "-f", s(file), "--push-url", url])
        .await
}

/// Each file's run replaces its own group (its policies' ids), never another file's; a run that
/// ends before it has a report updates only `snapctl_apply_exit_code`, keeping the last full
/// metrics; the gateway stamps every push (`push_time_seconds`).
#[tokio::test(flavor = "multi_thread")]
async fn each_run_replaces_its_own_group_in_a_real_pushgateway() {
    let Some(bin) = tool("prometheus-pushgateway", "prometheus-pushgateway") else {
        return;
    };
    let gw = Gateway::start(&bin).await;
    let emu = start().await;
    let cli = Cli::new(&emu);
    let a = policy(
        &cli,
        &emu,
        "push-a",
        &format!("metrics_push_url = \"{}\"", gw.url),
    );
    let b = policy(&cli, &emu, "push-b", "");

    let out = cli.bare(&["policy", "apply", "-q", "-f", s(&a)]).await;
    assert_exit(&out, 0);
    // The flag for a file that names no gateway.
    let out = cli
        .bare(&["policy", "apply", "-q", "-f", s(&b), "--push-url", &gw.url])
        .await;
    assert_exit(&out, 0);
    let success = gw.samples("snapctl_run_success").await;
    for id in ["push-a", "push-b"] {
        let line = success
            .iter()
            .find(|l| l.contains(&format!("policy_file=\"{id}\"")))
            .unwrap_or_else(|| panic!("{id}'s group: {success:?}"));
        assert!(line.contains("job=\"snapctl\""), "{line}");
        assert!(line.contains(&format!("policy=\"{id}\"")), "{line}");
        assert!(line.ends_with(" 1"), "{line}");
    }
    let volumes = gw
        .samples("snapctl_volume_last_snapshot_timestamp_seconds")
        .await;
    assert_eq!(volumes.len(), 2, "{volumes:?}");
    let codes = gw.samples("snapctl_apply_exit_code").await;
    assert_eq!(codes.len(), 2, "{codes:?}");
    assert!(codes.iter().all(|l| l.ends_with(" 0")), "{codes:?}");
    let stamped = gw.samples("push_time_seconds").await;
    assert!(
        stamped.iter().any(|l| l.contains("policy_file=\"push-a\"")),
        "{stamped:?}"
    );

    // A saved plan that is not one: exit 2 before any report. Only the exit code changes.
    let bogus = cli.home().join("plan.json");
    std::fs::write(&bogus, "not a plan").expect("plan");
    let out = cli
        .bare(&["policy", "apply", "-q", "-f", s(&a), "--plan", s(&bogus)])
        .await;
    assert_exit(&out, 2);
    let codes = gw.samples("snapctl_apply_exit_code").await;
    assert!(
        codes
            .iter()
            .any(|l| l.contains("policy_file=\"push-a\"") && l.ends_with(" 2")),
        "{codes:?}"
    );
    assert!(
        codes
            .iter()
            .any(|l| l.contains("policy_file=\"push-b\"") && l.ends_with(" 0")),
        "the other file's group is untouched: {codes:?}"
    );
    let success = gw.samples("snapctl_run_success").await;
    assert!(
        success.iter().any(|l| l.contains("policy_file=\"push-a\"")),
        "the last full run's metrics stay: {success:?}"
    );

    // The next full run replaces the group whole (PUT): the exit code is 0 again.
    let out = cli.bare(&["policy", "apply", "-q", "-f", s(&a)]).await;
    assert_exit(&out, 0);
    let codes = gw.samples("snapctl_apply_exit_code").await;
    assert!(
        codes
            .iter()
            .any(|l| l.contains("policy_file=\"push-a\"") && l.ends_with(" 0")),
        "{codes:?}"
    );
}

/// The request itself: PUT of the text format to `/metrics/job/snapctl/policy_file/<group>`,
/// with basic authentication from the environment (never from the file); a gateway that fails
/// or does not answer is a warning, and the run's own exit code stands.
#[tokio::test(flavor = "multi_thread")]
async fn the_push_is_one_put_with_the_environments_credentials_and_never_fails_the_run() {
    let gw = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/metrics/job/snapctl/policy_file/push-c"))
        .and(header(
            "content-type",
            "text/plain; version=0.0.4; charset=utf-8",
        ))
        // base64("ops:s3cret")
        .and(header("authorization", "Basic b3BzOnMzY3JldA=="))
        .and(body_string_contains(
            "# TYPE snapctl_run_success gauge\nsnapctl_run_success{policy=\"push-c\"} 1\n",
        ))
        .and(body_string_contains("\nsnapctl_apply_exit_code 0\n"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&gw)
        .await;
    let emu = start().await;
    let mut cli = Cli::new(&emu);
    let file = policy(
        &cli,
        &emu,
        "push-c",
        &format!("metrics_push_url = \"{}/\"", gw.uri()),
    );
    cli.overrides = vec![
        ("SNAPCTL_PUSH_USERNAME".into(), "ops".into()),
        ("SNAPCTL_PUSH_PASSWORD".into(), "s3cret".into()),
    ];
    let out = cli.bare(&["policy", "apply", "-q", "-f", s(&file)]).await;
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("s3cret"));
    gw.verify().await;

    // A gateway that answers 500: one attempt, a warning, exit 0 all the same.
    let failing = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(500).set_body_string("storage full"))
        .expect(1)
        .mount(&failing)
        .await;
    let out = push_to(&cli, &file, &failing.uri()).await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("warning: metrics not pushed to") && err.contains("500"),
        "{err}"
    );
    failing.verify().await;

    // A gateway that never answers: the push gives up within its timeout.
    let silent = crate::common::silent_server().await;
    let started = Instant::now();
    let out = push_to(&cli, &file, &silent.uri()).await;
    assert_exit(&out, 0);
    assert!(
        started.elapsed() < Duration::from_secs(18),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr(&out).contains("metrics not pushed"),
        "{}",
        stderr(&out)
    );

    // The password never goes over plain http beyond loopback: refused before any request.
    let out = push_to(&cli, &file, "http://pushgateway.invalid:9091").await;
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("unencrypted"), "{}", stderr(&out));

    // A malformed URL is refused before anything is sent: in the file at validate, as a flag
    // at once.
    let out = cli
        .bare(&["policy", "apply", "-f", s(&file), "--push-url", "gw:9091"])
        .await;
    assert_exit(&out, 2);
    let bad = policy(&cli, &emu, "push-d", "metrics_push_url = \"ftp://gw/\"");
    let out = cli.bare(&["policy", "validate", "-f", s(&bad)]).await;
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("metrics_push_url"),
        "{}",
        stderr(&out)
    );
}
