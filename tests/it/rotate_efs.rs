//! `rotate` and `check` end to end on ovh-efs: create + prune, dry run, max-delete, partial failure
//! and the lock held by another process.

use std::time::Duration;

use crate::common::*;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SHARE2: &str = "6b1e1f3a-0000-4000-8000-000000000002";

fn snap_id(i: u32) -> String {
    format!("6b1e1f3a-0000-4000-8000-0000000001a{i}")
}

/// The snapshots a double has deleted, so its list stops showing them, as the API's does.
#[derive(Clone, Default)]
struct Gone(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

impl wiremock::Respond for Gone {
    /// The rotation fixture without what was deleted.
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let gone = self.0.lock().expect("lock");
        let mut all: Value =
            serde_json::from_slice(&fixture("ovh-efs/snapshots-rotation.json")).expect("json");
        all.as_array_mut()
            .expect("array")
            .retain(|s| !gone.contains(s["id"].as_str().unwrap_or_default()));
        ResponseTemplate::new(200).set_body_json(all)
    }
}

/// A DELETE that records its snapshot in [`Gone`].
struct DeleteInto(Gone);

impl wiremock::Respond for DeleteInto {
    fn respond(&self, r: &wiremock::Request) -> ResponseTemplate {
        if let Some(id) = r.url.path().rsplit('/').next() {
            self.0.0.lock().expect("lock").insert(id.to_string());
        }
        ResponseTemplate::new(200)
    }
}

async fn mount_list(server: &MockServer, share: &str) -> Gone {
    let gone = Gone::default();
    Mock::given(method("GET"))
        .and(path(format!(
            "/1.0/storage/netapp/{SERVICE}/share/{share}/snapshot"
        )))
        .and(OvhSigned)
        .respond_with(gone.clone())
        .mount(server)
        .await;
    gone
}

/// DELETE of each rotation snapshot: `expect` says how many times each may be hit.
async fn mount_deletes(server: &MockServer, share: &str, gone: &Gone, expected: &[(String, u64)]) {
    for (id, n) in expected {
        Mock::given(method("DELETE"))
            .and(path(format!(
                "/1.0/storage/netapp/{SERVICE}/share/{share}/snapshot/{id}"
            )))
            .and(OvhSigned)
            .respond_with(DeleteInto(gone.clone()))
            .expect(*n)
            .named(format!("DELETE {id}"))
            .mount(server)
            .await;
    }
}

fn mutations(reqs: &[wiremock::Request]) -> Vec<String> {
    reqs.iter()
        .filter(|r| r.method.as_str() != "GET")
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

fn lock_dir(cli: &Snapctl) -> std::path::PathBuf {
    cli.home.path().join("locks")
}

fn efs_with_locks(server: &MockServer) -> Snapctl {
    let cli = Snapctl::efs(server);
    let dir = lock_dir(&cli).display().to_string();
    cli.env("SNAPCTL_LOCK_DIR", &dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_creates_then_prunes_only_its_own_snapshots() {
    let server = ovh_server().await;
    ovh("POST", share_path("/snapshot"))
        .respond_with(json(200, "ovh-efs/snapshot-creating.json"))
        .expect(1)
        .mount(&server)
        .await;
    ovh("GET", share_path(&format!("/snapshot/{NEW_SNAP}")))
        .respond_with(json(200, "ovh-efs/snapshot-available.json"))
        .mount(&server)
        .await;
    let gone = mount_list(&server, SHARE).await;
    // keep-last 2 keeps e1 (newest) and 1a3; 1a0..1a2 go; the automatic, the hand-named and the
    // deleting one are never touched.
    mount_deletes(
        &server,
        SHARE,
        &gone,
        &[
            (snap_id(0), 1),
            (snap_id(1), 1),
            (snap_id(2), 1),
            (snap_id(3), 0),
            (NEW_SNAP.into(), 0),
            (AUTOMATIC.into(), 0),
            (MANUAL.into(), 0),
            ("6b1e1f3a-0000-4000-8000-0000000001c0".into(), 0),
        ],
    )
    .await;
    let out = efs_with_locks(&server)
        .run(&[
            "-o",
            "json",
            "rotate",
            "--volume",
            SHARE,
            "--create",
            "--wait",
            "--keep-last",
            "2",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["dry_run"], false);
    let vol = &v["volumes"][0];
    assert_eq!(vol["volume_id"], SHARE);
    assert_eq!(vol["created"]["id"], NEW_SNAP);
    assert_eq!(vol["deleted"].as_array().expect("deleted").len(), 3);
    assert_eq!(vol["failed"].as_array().expect("failed").len(), 0);
    let kept: Vec<&str> = vol["keep"]
        .as_array()
        .expect("keep")
        .iter()
        .map(|k| k["id"].as_str().expect("id"))
        .collect();
    assert!(kept.contains(&NEW_SNAP) && kept.contains(&snap_id(3).as_str()));
    let deleting = vol["keep"]
        .as_array()
        .expect("keep")
        .iter()
        .find(|k| k["id"] == "6b1e1f3a-0000-4000-8000-0000000001c0")
        .expect("the deleting snapshot is kept");
    assert_eq!(deleting["reasons"][0], "not settled (deleting)");

    let create = api_requests(&server)
        .await
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("POST");
    let body: Value = serde_json::from_slice(&create.body).expect("body");
    let name = body["name"].as_str().expect("name");
    assert!(
        name.len() == "snapctl-20261124T093000Z".len()
            && name.starts_with("snapctl-20")
            && name.ends_with('Z'),
        "{name}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_sends_no_mutating_request_and_says_would() {
    let server = ovh_server().await;
    mount_list(&server, SHARE).await;
    let cli = efs_with_locks(&server);
    let out = cli
        .run(&[
            "rotate",
            "--volume",
            SHARE,
            "--create",
            "--keep-last",
            "2",
            "--dry-run",
        ])
        .await;
    assert_exit(&out, 0);
    let table = stdout(&out);
    assert!(table.contains("would delete"), "{table}");
    assert!(table.contains("would create snapctl-"), "{table}");
    assert!(!table.contains("| deleted"), "{table}");
    let json = cli
        .run(&[
            "-o",
            "json",
            "rotate",
            "--volume",
            SHARE,
            "--keep-last",
            "2",
            "--dry-run",
        ])
        .await;
    assert_exit(&json, 0);
    let v: Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(v["dry_run"], true);
    assert_eq!(
        v["volumes"][0]["delete"].as_array().expect("delete").len(),
        3
    );
    assert_eq!(
        v["volumes"][0]["deleted"]
            .as_array()
            .expect("deleted")
            .len(),
        0
    );
    assert!(mutations(&api_requests(&server).await).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn more_deletions_than_max_delete_are_refused_with_exit_9() {
    let server = ovh_server().await;
    mount_list(&server, SHARE).await;
    let out = efs_with_locks(&server)
        .run(&[
            "rotate",
            "--volume",
            SHARE,
            "--keep-last",
            "1",
            "--max-delete",
            "2",
        ])
        .await;
    assert_exit(&out, 9);
    assert!(stdout(&out).contains("would delete"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("more than --max-delete 2; nothing was deleted"),
        "{}",
        stderr(&out)
    );
    assert!(mutations(&api_requests(&server).await).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_failing_volume_does_not_stop_the_others() {
    let server = ovh_server().await;
    let gone = mount_list(&server, SHARE).await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/1.0/storage/netapp/{SERVICE}/share/{SHARE2}/snapshot"
        )))
        .and(OvhSigned)
        .respond_with(json(403, "ovh-efs/error-not-granted.json"))
        .mount(&server)
        .await;
    mount_deletes(
        &server,
        SHARE,
        &gone,
        &[(snap_id(0), 1), (snap_id(1), 1), (snap_id(2), 1)],
    )
    .await;
    let out = efs_with_locks(&server)
        .run(&[
            "-o",
            "json",
            "rotate",
            "--volume",
            SHARE,
            "--volume",
            SHARE2,
            "--keep-last",
            "2",
        ])
        .await;
    assert_exit(&out, 6);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["volumes"][0]["deleted"].as_array().expect("d").len(), 3);
    assert!(
        v["volumes"][1]["error"]
            .as_str()
            .expect("error")
            .contains("NOT_GRANTED_CALL")
    );
    // Nothing was planned, let alone deleted, for the volume whose listing failed.
    assert_eq!(v["volumes"][1]["delete"].as_array().expect("d").len(), 0);
    assert!(stderr(&out).contains("1 of 2 volume rotations failed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_lock_exits_8_with_the_holder_pid() {
    let server = ovh_server().await;
    mount_list(&server, SHARE).await;
    let cli = efs_with_locks(&server);
    let held = snapctl::lock::acquire(&lock_dir(&cli), "ovh-efs", SERVICE, SHARE, Duration::ZERO)
        .expect("test takes the lock");
    let out = cli
        .run(&["rotate", "--volume", SHARE, "--keep-last", "2"])
        .await;
    assert_exit(&out, 8);
    assert_stderr_has(&out, &format!("pid {}", std::process::id()));
    assert!(mutations(&api_requests(&server).await).is_empty());
    drop(held);
    let out = cli
        .run(&["rotate", "--volume", SHARE, "--keep-last", "2", "--dry-run"])
        .await;
    assert_exit(&out, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_without_a_keep_rule_is_refused_with_exit_2() {
    let server = MockServer::start().await;
    let out = efs_with_locks(&server)
        .run(&["rotate", "--volume", SHARE])
        .await;
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("at least one keep rule"));
    let out = efs_with_locks(&server)
        .run(&[
            "rotate",
            "--volume",
            SHARE,
            "--keep-last",
            "1",
            "--prefix",
            "",
        ])
        .await;
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--all-names"));
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_profile_rotate_table_keeps_the_crontab_line_short() {
    let server = ovh_server().await;
    mount_list(&server, SHARE).await;
    let cli = efs_with_locks(&server);
    let dir = cli.home.path().join("config/snapctl");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[profiles.prod]\nprovider = \"ovh-efs\"\n[profiles.prod.rotate]\nvolumes = [\"{SHARE}\"]\nkeep-last = 4\n"
        ),
    )
    .expect("write");
    let out = cli
        .run(&["--profile", "prod", "-o", "ids", "rotate", "--dry-run"])
        .await;
    assert_exit(&out, 0);
    // keep-last 4 over five settled candidates: only the oldest would go.
    assert_eq!(stdout(&out), format!("{}\n", snap_id(0)));
}

/// Every perfdata item follows the plugin guidelines:
/// `'label'=value[UOM];[warn];[crit];[min];[max]`, value a number or a bare `U`, thresholds in range
/// syntax (`[@][start:][end]`, `~` for minus infinity).
fn assert_perfdata_grammar(line: &str) {
    let (_, perf) = line
        .trim_end()
        .split_once(" | ")
        .expect("perfdata after ' | '");
    for item in perf.split(' ') {
        let (label, rest) = item.rsplit_once('=').expect("label=value");
        assert!(
            label.starts_with('\'') && label.ends_with('\'') && label.len() > 2,
            "{item}"
        );
        let fields: Vec<&str> = rest.split(';').collect();
        assert!((1..=5).contains(&fields.len()), "{item}");
        let value = fields[0];
        let number = value.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%');
        assert!(
            value == "U" || number.parse::<f64>().is_ok(),
            "value {value:?} in {item}"
        );
        let is_num = |s: &str| s.is_empty() || s == "~" || s.parse::<f64>().is_ok();
        for range in &fields[1..fields.len().min(3)] {
            let r = range.trim_start_matches('@');
            let ok = match r.split_once(':') {
                Some((start, end)) => {
                    is_num(start) && (end.is_empty() || end.parse::<f64>().is_ok())
                }
                None => is_num(r),
            };
            assert!(ok, "threshold {range:?} in {item}");
        }
        for bound in fields.iter().skip(3) {
            assert!(bound.is_empty() || bound.parse::<f64>().is_ok(), "{item}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_usage_problems_are_unknown_not_critical() {
    let server = ovh_server().await;
    mount_list(&server, SHARE).await;
    let cli = efs_with_locks(&server);
    for (args, words) in [
        (vec!["check", "--volume", SHARE], "check needs --max-age"),
        (
            vec![
                "check",
                "--volume",
                SHARE,
                "--max-age",
                "1h",
                "--warn-age",
                "2h",
            ],
            "--warn-age (2h) is above --max-age (1h)",
        ),
        (
            vec!["check", "--volume", SHARE, "--max-age", "0s"],
            "an age of zero would always alert",
        ),
        (
            vec![
                "check",
                "--volume",
                SHARE,
                "--max-age",
                "1h",
                "--min-count",
                "-1",
            ],
            "invalid --min-count",
        ),
    ] {
        let out = cli.run(&args).await;
        assert_exit(&out, 3);
        let line = stdout(&out);
        assert!(line.starts_with("SNAPCTL UNKNOWN: "), "{line}");
        assert!(line.contains(words), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_ok_and_critical_as_a_monitoring_plugin() {
    let server = ovh_server().await;
    mount_list(&server, SHARE).await;
    let cli = efs_with_locks(&server);
    let ok = cli
        .run(&["check", "--volume", SHARE, "--max-age", "100000d"])
        .await;
    assert_exit(&ok, 0);
    let line = stdout(&ok);
    assert!(line.starts_with("SNAPCTL OK: "), "{line}");
    assert!(
        line.contains(&format!("'{SHARE}_count'=5;;1:;0;")),
        "{line}"
    );
    assert_perfdata_grammar(&line);

    let crit = cli
        .run(&["check", "--volume", SHARE, "--max-age", "1h"])
        .await;
    assert_exit(&crit, 2);
    assert!(stdout(&crit).starts_with("SNAPCTL CRITICAL: "));

    let warn = cli
        .run(&[
            "check",
            "--volume",
            SHARE,
            "--max-age",
            "100000d",
            "--warn-age",
            "1h",
        ])
        .await;
    assert_exit(&warn, 1);

    let json = cli
        .run(&[
            "-o",
            "json",
            "check",
            "--volume",
            SHARE,
            "--max-age",
            "100000d",
        ])
        .await;
    let v: Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(v["status"], "OK");
    assert_eq!(v["volumes"][0]["newest"]["id"], NEW_SNAP);
}

#[tokio::test(flavor = "multi_thread")]
async fn check_is_unknown_when_it_cannot_list() {
    let server = ovh_server().await;
    Mock::given(method("GET"))
        .and(path(share_path("/snapshot")))
        .respond_with(json(500, "ovh-efs/error-500.json"))
        .mount(&server)
        .await;
    let out = efs_with_locks(&server)
        .run(&["check", "--volume", SHARE, "--max-age", "1d"])
        .await;
    assert_exit(&out, 3);
    assert!(
        stdout(&out).starts_with("SNAPCTL UNKNOWN: "),
        "{}",
        stdout(&out)
    );
    let missing = Snapctl::bare()
        .run(&[
            "-p",
            "ovh-efs",
            "check",
            "--volume",
            SHARE,
            "--max-age",
            "1d",
        ])
        .await;
    assert_exit(&missing, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn deletions_an_interrupt_kept_from_starting_are_skipped_not_failed() {
    // The first deletions (as many as EFS allows in flight) are under way when SIGINT comes;
    // the other ones of the four planned never start.
    let in_flight = snapctl::providers::entry(snapctl::kind::ProviderKind::OvhEfs).max_in_flight;
    let server = ovh_server().await;
    mount_list(&server, SHARE).await;
    Mock::given(method("DELETE"))
        .and(OvhSigned)
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(800)))
        .expect(in_flight as u64)
        .mount(&server)
        .await;
    let cli = Snapctl::efs(&server);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_snapctl"));
    cmd.env_clear()
        .envs(crate::common::clock_env())
        .env("HOME", cli.home.path())
        .env("SNAPCTL_MAX_RPS", "0")
        .env("SNAPCTL_LOCK_DIR", cli.home.path().join("locks"))
        .envs(cli.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cli.home.path())
        .args(&cli.args)
        .args([
            "-o",
            "json",
            "rotate",
            "--volume",
            SHARE,
            "--keep-last",
            "1",
        ]);
    let out = crate::common::signal_after(cmd, "INT", Duration::from_millis(400)).await;
    assert_exit(&out, 130);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let vol = &v["volumes"][0];
    assert_eq!(
        vol["deleted"].as_array().map(Vec::len),
        Some(in_flight),
        "{vol}"
    );
    assert_eq!(
        vol["skipped"].as_array().map(Vec::len),
        Some(4 - in_flight),
        "{vol}"
    );
    // In the plan's order: the newest candidates first.
    assert_eq!(vol["deleted"][0]["id"], vol["delete"][0]["id"], "{vol}");
    assert_eq!(vol["failed"].as_array().map(Vec::len), Some(0), "{vol}");
}

#[tokio::test(flavor = "multi_thread")]
async fn restic_counts_and_spans_are_accepted_on_the_command_line() {
    let server = ovh_server().await;
    mount_list(&server, SHARE).await;
    let cli = efs_with_locks(&server);
    let out = cli
        .run(&[
            "rotate",
            "--volume",
            SHARE,
            "--keep-daily",
            "-1",
            "--keep-within-weekly",
            "1y",
            "--dry-run",
        ])
        .await;
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("keep all daily, weekly within 1y"),
        "{}",
        stdout(&out)
    );
    // Seconds are not restic's grammar: refused before anything is sent, with the rule spelled out.
    let bad = cli
        .run(&["rotate", "--volume", SHARE, "--keep-within", "90s"])
        .await;
    assert_exit(&bad, 2);
    assert_stderr_has(&bad, "restic's durations take y, m (months), d and h");
}
