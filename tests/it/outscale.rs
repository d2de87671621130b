//! outscale end to end: every action against wiremock doubles that recompute the OSC4 signature,
//! pagination, error shapes, throttling with a reused ClientToken, clone, copy, share and export.

use crate::common::*;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, body_partial_json, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn action(a: &str) -> String {
    format!("/api/v1/{a}")
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_raw(fixture(&format!("outscale/{name}")), "application/json")
}

fn err(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_raw(fixture(&format!("outscale/{name}")), "application/json")
}

async fn requests_to(server: &MockServer, a: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == action(a))
        .collect()
}

fn body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).expect("json body")
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_list_follows_next_page_token_to_the_end() {
    let server = MockServer::start().await;
    osc("ReadSnapshots")
        .and(body_json(
            json!({"Filters": {"VolumeIds": ["vol-0a1b2c3d"]}, "ResultsPerPage": 1000}),
        ))
        .respond_with(ok("read-snapshots-page1.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("ReadSnapshots")
        .and(body_json(json!({
            "Filters": {"VolumeIds": ["vol-0a1b2c3d"]},
            "ResultsPerPage": 1000,
            "NextPageToken": "T1RJemFXUjVlRzlvZDJKbVlXdGxZWEJwYTJWNQ=="
        })))
        .respond_with(ok("read-snapshots-page2.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&["-o", "json", "snapshot", "list", "--volume", "vol-0a1b2c3d"])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0]["id"], "snap-00000001");
    assert_eq!(arr[0]["name"], "snapctl-20251120T093000Z");
    assert_eq!(arr[0]["state"], "available");
    assert_eq!(arr[0]["provider_state"], "completed");
    assert_eq!(arr[0]["size_gib"], 10);
    assert_eq!(arr[0]["kind"], "manual");
    assert_eq!(arr[2]["state"], "creating");
    assert_eq!(arr[2]["provider_state"], "pending/queued");
    assert_eq!(arr[2]["name"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_page_token_is_an_error_not_a_short_list() {
    let server = MockServer::start().await;
    osc("ReadSnapshots")
        .respond_with(ok("read-snapshots-page1.json"))
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&["snapshot", "list", "--volume", "vol-0a1b2c3d"])
        .await;
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("repeated NextPageToken"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn create_tags_the_name_and_waits_for_completed() {
    let server = MockServer::start().await;
    osc("CreateSnapshot")
        .and(body_partial_json(
            json!({"VolumeId": "vol-0a1b2c3d", "Description": "before upgrade"}),
        ))
        .respond_with(ok("create-snapshot.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("CreateTags")
        .and(body_json(json!({
            "ResourceIds": ["snap-0000000a"],
            "Tags": [{"Key": "Name", "Value": "nightly"}, {"Key": "env", "Value": "prod"}]
        })))
        .respond_with(ok("response-context.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("ReadSnapshots")
        .and(body_json(
            json!({"Filters": {"SnapshotIds": ["snap-0000000a"]}, "ResultsPerPage": 1000}),
        ))
        .respond_with(ok("read-snapshot-pending.json"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    osc("ReadSnapshots")
        .respond_with(ok("read-snapshot-completed.json"))
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&[
            "-o",
            "json",
            "snapshot",
            "create",
            "--volume",
            "vol-0a1b2c3d",
            "--name",
            "nightly",
            "--description",
            "before upgrade",
            "--tag",
            "env=prod",
            "--wait",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["id"], "snap-0000000a");
    assert_eq!(v["name"], "nightly");
    assert_eq!(v["state"], "available");
    let create = &requests_to(&server, "CreateSnapshot").await[0];
    let token = body(create)["ClientToken"]
        .as_str()
        .expect("ClientToken")
        .to_string();
    assert!(
        token.starts_with("snapctl-") && token.len() <= 64,
        "{token}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_create_is_retried_with_the_same_client_token() {
    let server = MockServer::start().await;
    osc("CreateSnapshot")
        .respond_with(err(429, "error-throttled-per-call.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    osc("CreateSnapshot")
        .respond_with(ok("create-snapshot.json"))
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&[
            "-o",
            "ids",
            "snapshot",
            "create",
            "--volume",
            "vol-0a1b2c3d",
        ])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "snap-0000000a\n");
    let creates = requests_to(&server, "CreateSnapshot").await;
    assert_eq!(creates.len(), 2);
    assert_eq!(
        body(&creates[0])["ClientToken"],
        body(&creates[1])["ClientToken"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn error_bodies_show_type_code_details_and_request_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(action("ReadSnapshots")))
        .respond_with(err(400, "error-invalid-parameter.json"))
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&["snapshot", "show", "snap-00000001"])
        .await;
    assert_exit(&out, 1);
    assert_stderr_has(
        &out,
        "error: cannot read snapshot snap-00000001: InvalidParameterValue: invalid-snapshot-id (400 4061, RequestId 0475ca1e-d0c5-441d-712a-da55a4175157)",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_snapshots_exit_4_and_bad_keys_exit_5() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(action("ReadSnapshots")))
        .respond_with(ok("read-snapshots-empty.json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(action("DeleteSnapshot")))
        .respond_with(err(400, "error-no-such-snapshot.json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(action("ReadVolumes")))
        .respond_with(err(401, "error-auth.json"))
        .mount(&server)
        .await;
    let cli = Snapctl::outscale(&server);
    assert_exit(&cli.run(&["snapshot", "show", "snap-0000000f"]).await, 4);
    assert_exit(&cli.run(&["snapshot", "delete", "snap-0000000f"]).await, 4);
    let auth = cli.run(&["volume", "list"]).await;
    assert_exit(&auth, 5);
    assert_stderr_has(&auth, "hint: check OSC_ACCESS_KEY");
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_list_with_names_from_tags() {
    let server = MockServer::start().await;
    osc("ReadVolumes")
        .and(body_json(json!({"Filters": {}, "ResultsPerPage": 1000})))
        .respond_with(ok("read-volumes.json"))
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&["-o", "json", "volume", "list"])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["id"], "vol-0a1b2c3d");
    assert_eq!(v[0]["name"], "db-data");
    assert_eq!(v[1]["state"], "available");
    assert_eq!(v[1]["provider_state"], "in-use");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_host_without_scheme_works_as_oapi_cli_writes_it() {
    let server = MockServer::start().await;
    osc("ReadVolumes")
        .respond_with(ok("read-volumes.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut cli = Snapctl::outscale(&server);
    cli.args
        .retain(|a| a != "--endpoint" && !a.starts_with("http://"));
    let host = server.uri().trim_start_matches("http://").to_string();
    let out = cli
        .env("OSC_ENDPOINT_API", &host)
        .env("OSC_PROTOCOL", "http")
        .run(&["-o", "ids", "volume", "list"])
        .await;
    assert_exit(&out, 0);
    assert!(stdout(&out).starts_with("vol-0a1b2c3d"), "{}", stdout(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn clone_creates_a_volume_in_the_source_subregion_and_waits() {
    let server = MockServer::start().await;
    osc("ReadSnapshots")
        .respond_with(ok("read-snapshot-source.json"))
        .mount(&server)
        .await;
    osc("ReadVolumes")
        .and(body_json(
            json!({"Filters": {"VolumeIds": ["vol-0a1b2c3d"]}, "ResultsPerPage": 1000}),
        ))
        .respond_with(ok("read-volume-source.json"))
        .mount(&server)
        .await;
    osc("CreateVolume")
        .and(body_partial_json(json!({
            "SnapshotId": "snap-00000001",
            "SubregionName": "eu-west-2a",
            "Size": 20,
            "VolumeType": "gp2"
        })))
        .respond_with(ok("create-volume.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("CreateTags")
        .and(body_json(
            json!({"ResourceIds": ["vol-0c0c0c0c"], "Tags": [{"Key": "Name", "Value": "restore"}]}),
        ))
        .respond_with(ok("response-context.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("ReadVolumes")
        .and(body_json(
            json!({"Filters": {"VolumeIds": ["vol-0c0c0c0c"]}, "ResultsPerPage": 1000}),
        ))
        .respond_with(ok("read-volume-clone-creating.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    osc("ReadVolumes")
        .and(body_json(
            json!({"Filters": {"VolumeIds": ["vol-0c0c0c0c"]}, "ResultsPerPage": 1000}),
        ))
        .respond_with(ok("read-volume-clone-available.json"))
        .with_priority(2)
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&[
            "-o",
            "json",
            "clone",
            "--snapshot",
            "snap-00000001",
            "--size",
            "20",
            "--volume-type",
            "gp2",
            "--name",
            "restore",
            "--wait",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["id"], "vol-0c0c0c0c");
    assert_eq!(v["state"], "available");
    assert_eq!(v["name"], "restore");
}

#[tokio::test(flavor = "multi_thread")]
async fn clone_never_shrinks_below_the_snapshot() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(action("ReadSnapshots")))
        .respond_with(ok("read-snapshot-source.json"))
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&["clone", "--snapshot", "snap-00000001", "--size", "5"])
        .await;
    assert_exit(&out, 2);
    assert_stderr_has(&out, "the snapshot holds 10 GiB");
    assert!(requests_to(&server, "CreateVolume").await.is_empty());
    let io1 = Snapctl::outscale(&server)
        .run(&[
            "clone",
            "--snapshot",
            "snap-00000001",
            "--volume-type",
            "io1",
        ])
        .await;
    assert_exit(&io1, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_within_the_region_and_refuse_across_regions_before_sending() {
    let server = MockServer::start().await;
    osc("ReadSnapshots")
        .respond_with(ok("read-snapshot-source.json"))
        .mount(&server)
        .await;
    // The copy keeps the source's Name tag.
    osc("CreateTags")
        .and(body_json(json!({
            "ResourceIds": ["snap-0000000a"],
            "Tags": [{"Key": "Name", "Value": "snapctl-20251120T093000Z"}]
        })))
        .respond_with(ok("response-context.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("CreateSnapshot")
        .and(body_partial_json(json!({
            "SourceSnapshotId": "snap-00000001",
            "SourceRegionName": "eu-west-2",
            "Description": "copy for test"
        })))
        .respond_with(ok("create-snapshot.json"))
        .expect(1)
        .mount(&server)
        .await;
    let cli = Snapctl::outscale(&server);
    let out = cli
        .run(&[
            "-o",
            "ids",
            "copy",
            "--snapshot",
            "snap-00000001",
            "--description",
            "copy for test",
        ])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "snap-0000000a\n");
    let cross = cli
        .run(&[
            "copy",
            "--snapshot",
            "snap-00000001",
            "--source-region",
            "us-east-2",
        ])
        .await;
    assert_exit(&cross, 2);
    assert!(stderr(&cross).contains("only within the account's region (eu-west-2)"));
    assert!(stderr(&cross).contains("snapshot export"));
    assert_eq!(requests_to(&server, "CreateSnapshot").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn share_and_unshare_update_permissions() {
    let server = MockServer::start().await;
    osc("UpdateSnapshot")
        .and(body_json(json!({
            "SnapshotId": "snap-00000001",
            "PermissionsToCreateVolume": {"Additions": {"AccountIds": ["987654321098"]}}
        })))
        .respond_with(ok("update-snapshot.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("UpdateSnapshot")
        .and(body_json(json!({
            "SnapshotId": "snap-00000001",
            "PermissionsToCreateVolume": {"Removals": {"GlobalPermission": true}}
        })))
        .respond_with(ok("update-snapshot.json"))
        .expect(1)
        .mount(&server)
        .await;
    let cli = Snapctl::outscale(&server);
    assert_exit(
        &cli.run(&[
            "snapshot",
            "share",
            "snap-00000001",
            "--account",
            "987654321098",
        ])
        .await,
        0,
    );
    assert_exit(
        &cli.run(&["snapshot", "unshare", "snap-00000001", "--public"])
            .await,
        0,
    );
    let bad = cli
        .run(&["snapshot", "share", "snap-00000001", "--account", "12345"])
        .await;
    assert_exit(&bad, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn export_waits_for_the_task_with_progress() {
    let server = MockServer::start().await;
    osc("CreateSnapshotExportTask")
        .and(body_json(json!({
            "SnapshotId": "snap-00000001",
            "OsuExport": {"DiskImageFormat": "qcow2", "OsuBucket": "backups", "OsuPrefix": "db/"}
        })))
        .respond_with(ok("create-export-task.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("ReadSnapshotExportTasks")
        .and(body_json(
            json!({"Filters": {"TaskIds": ["snap-export-0000000e"]}, "ResultsPerPage": 1000}),
        ))
        .respond_with(ok("read-export-tasks-active.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    osc("ReadSnapshotExportTasks")
        .respond_with(ok("read-export-tasks-completed.json"))
        .with_priority(2)
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&[
            "-o",
            "json",
            "snapshot",
            "export",
            "snap-00000001",
            "--bucket",
            "backups",
            "--prefix",
            "db/",
            "--wait",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["id"], "snap-export-0000000e");
    // What the last read saw, not the create's "pending 0".
    assert_eq!(v["state"], "completed", "{v}");
    assert_eq!(v["progress"], 100, "{v}");
    // Two polls, then one read of the finished task for the output.
    assert_eq!(
        requests_to(&server, "ReadSnapshotExportTasks").await.len(),
        3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn revert_and_schedules_are_not_offered() {
    let server = MockServer::start().await;
    let cli = Snapctl::outscale(&server);
    let out = cli
        .run(&[
            "revert",
            "--volume",
            "vol-0a1b2c3d",
            "--snapshot",
            "snap-00000001",
            "--yes",
        ])
        .await;
    assert_exit(&out, 3);
    assert_stderr_has(&out, "clone --snapshot snap-00000001");
    let out = cli
        .run(&["schedule", "list", "--volume", "vol-0a1b2c3d"])
        .await;
    assert_exit(&out, 3);
    assert_stderr_has(&out, "snapctl rotate --create");
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_ids_never_reach_the_api() {
    let server = MockServer::start().await;
    let cli = Snapctl::outscale(&server);
    for args in [
        &["snapshot", "show", "snap-123"][..],
        &["snapshot", "list", "--volume", "vol-../../x"][..],
        &["snapshot", "delete", "vol-12345678"][..],
        &["clone", "--snapshot", "snap-1234567z"][..],
        &["wait", "--task", "snap-export-nothex00"][..],
    ] {
        assert_exit(&cli.run(args).await, 2);
    }
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_a_server_answers_are_checked_before_anything_uses_them() {
    let server = MockServer::start().await;
    let forged = "snap-1\nSNAPCTL OK: forged";
    let listing = String::from_utf8(fixture("outscale/read-snapshots-rotation.json"))
        .expect("utf-8")
        .replace("snap-000001a0", "snap-1\\nSNAPCTL OK: forged")
        .replace("snap-000001a1", "../../x");
    osc("ReadSnapshots")
        .respond_with(ResponseTemplate::new(200).set_body_raw(listing, "application/json"))
        .mount(&server)
        .await;
    osc("DeleteSnapshot")
        .respond_with(ok("response-context.json"))
        .mount(&server)
        .await;
    osc("CreateSnapshot")
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(
                String::from_utf8(fixture("outscale/create-snapshot.json"))
                    .expect("utf-8")
                    .replace("snap-0000000a", "snap-0a/../x"),
                "application/json",
            ),
        )
        .mount(&server)
        .await;
    let cli = Snapctl::outscale(&server);

    let out = cli
        .run(&["-o", "ids", "snapshot", "list", "--volume", "vol-0a1b2c3d"])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 5, "{}", stdout(&out));
    assert!(!stdout(&out).contains("forged") && !stdout(&out).contains(".."));
    assert_stderr_has(
        &out,
        "warning: outscale listed a snapshot with a malformed id \"snap-1 SNAPCTL OK: forged\"; it is skipped",
    );
    assert_stderr_has(&out, "malformed id \"../../x\"; it is skipped");
    assert!(
        !stderr(&out).contains(forged),
        "a raw line break reached stderr"
    );

    // Rotation never deletes what it could not name.
    let lock_dir = cli.home.path().join("locks").display().to_string();
    let out = cli
        .env("SNAPCTL_LOCK_DIR", &lock_dir)
        .run(&["rotate", "--volume", "vol-0a1b2c3d", "--keep-last", "1"])
        .await;
    assert_exit(&out, 0);
    let deletes = requests_to(&server, "DeleteSnapshot").await;
    assert!(!deletes.is_empty(), "the well-formed ones are rotated");
    for d in &deletes {
        let id = body(d)["SnapshotId"].as_str().expect("id").to_string();
        assert!(id.starts_with("snap-0000"), "{id}");
    }

    // A create answering a malformed id fails: nothing could wait for it or delete it.
    let out = Snapctl::outscale(&server)
        .run(&["snapshot", "create", "--volume", "vol-0a1b2c3d"])
        .await;
    assert_exit(&out, 1);
    assert_stderr_has(&out, "the new snapshot's id \"snap-0a/../x\" is malformed");
}

#[tokio::test(flavor = "multi_thread")]
async fn server_text_never_forges_a_line_of_rotate_or_check_output() {
    let server = MockServer::start().await;
    let forged = "bad\nSNAPCTL OK: all fine\n  created snapctl-FAKE (snap-fake)";
    osc("ReadSnapshots")
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "Errors": [{"Code": "4000", "Type": "InvalidParameterValue", "Details": forged}],
            "ResponseContext": {"RequestId": "ab1e2c3d-0000-4000-8000-0000000000ff"}
        })))
        .mount(&server)
        .await;
    let cli = Snapctl::outscale(&server);
    let lock_dir = cli.home.path().join("locks").display().to_string();
    let cli = cli.env("SNAPCTL_LOCK_DIR", &lock_dir);
    for args in [
        &["rotate", "--volume", "vol-0a1b2c3d", "--keep-last", "1"][..],
        &[
            "rotate",
            "--volume",
            "vol-0a1b2c3d",
            "--volume",
            "vol-0a1b2c3e",
            "--keep-last",
            "1",
        ][..],
        &["check", "--volume", "vol-0a1b2c3d", "--max-age", "1d"][..],
        &[
            "check",
            "--volume",
            "vol-0a1b2c3d",
            "--volume",
            "vol-0a1b2c3e",
            "--max-age",
            "1d",
        ][..],
    ] {
        let out = cli.run(args).await;
        for line in stdout(&out).lines().chain(stderr(&out).lines()) {
            assert!(
                !line.starts_with("SNAPCTL OK")
                    && !line.trim_start().starts_with("created snapctl-FAKE"),
                "{args:?} printed a forged line: {line:?}\n{}{}",
                stdout(&out),
                stderr(&out)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_creates_and_prunes_on_outscale() {
    let server = MockServer::start().await;
    osc("CreateSnapshot")
        .respond_with(ok("create-snapshot.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("CreateTags")
        .respond_with(ok("response-context.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("ReadSnapshots")
        .and(body_json(
            json!({"Filters": {"VolumeIds": ["vol-0a1b2c3d"]}, "ResultsPerPage": 1000}),
        ))
        .respond_with(ok("read-snapshots-rotation.json"))
        .mount(&server)
        .await;
    for (id, n) in [
        ("snap-000001a0", 1),
        ("snap-000001a1", 1),
        ("snap-000001a2", 0),
        ("snap-000001a3", 0),
        ("snap-0000000a", 0),
        ("snap-00000002", 0),
        ("snap-00000003", 0),
    ] {
        osc("DeleteSnapshot")
            .and(body_json(json!({"SnapshotId": id})))
            .respond_with(ok("response-context.json"))
            .expect(n)
            .named(format!("DeleteSnapshot {id}"))
            .mount(&server)
            .await;
    }
    let cli = Snapctl::outscale(&server);
    let lock_dir = cli.home.path().join("locks").display().to_string();
    let out = cli
        .env("SNAPCTL_LOCK_DIR", &lock_dir)
        .run(&[
            "-o",
            "json",
            "rotate",
            "--volume",
            "vol-0a1b2c3d",
            "--create",
            "--keep-last",
            "3",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v["volumes"][0]["deleted"]
            .as_array()
            .expect("deleted")
            .len(),
        2
    );
    let tags = &requests_to(&server, "CreateTags").await[0];
    let name = body(tags)["Tags"][0]["Value"]
        .as_str()
        .expect("name")
        .to_string();
    assert!(
        name.starts_with("snapctl-20") && name.ends_with('Z'),
        "{name}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn osc_config_json_profiles_are_read() {
    let server = MockServer::start().await;
    osc("ReadVolumes")
        .respond_with(ok("read-volumes.json"))
        .expect(1)
        .mount(&server)
        .await;
    let mut cli = Snapctl::outscale(&server);
    cli.envs.clear();
    cli.args.truncate(2);
    let dir = cli.home.path().join(".osc");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("config.json"),
        json!({"lab": {"access_key": OSC_AK, "secret_key": OSC_SK, "region": "eu-west-2",
            "endpoints": {"api": format!("{}/api/v1", server.uri())}}})
        .to_string(),
    )
    .expect("write");
    let out = cli
        .env("OSC_PROFILE", "lab")
        .run(&["-o", "ids", "volume", "list"])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "vol-0a1b2c3d\nvol-0a1b2c3e\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_asks_the_api_and_creates_nothing() {
    let server = MockServer::start().await;
    osc("CreateSnapshot")
        .and(body_json(
            json!({"VolumeId": "vol-0a1b2c3d", "DryRun": true}),
        ))
        .respond_with(ok("response-context.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&[
            "-o",
            "json",
            "snapshot",
            "create",
            "--volume",
            "vol-0a1b2c3d",
            "--dry-run",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["would"], "create a snapshot of vol-0a1b2c3d");
    assert_eq!(v["checked_by_provider"], true);
    assert!(requests_to(&server, "CreateTags").await.is_empty());

    // A refusal from the API is the command's error.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(action("DeleteSnapshot")))
        .respond_with(err(401, "error-auth.json"))
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&["snapshot", "delete", "snap-00000001", "--dry-run"])
        .await;
    assert_exit(&out, 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn update_renames_through_the_name_tag_only() {
    let server = MockServer::start().await;
    osc("CreateTags")
        .and(body_json(
            json!({"ResourceIds": ["snap-00000001"], "Tags": [{"Key": "Name", "Value": "audit"}]}),
        ))
        .respond_with(ok("response-context.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("ReadSnapshots")
        .respond_with(ok("read-snapshot-source.json"))
        .mount(&server)
        .await;
    let cli = Snapctl::outscale(&server);
    assert_exit(
        &cli.run(&["snapshot", "update", "snap-00000001", "--name", "audit"])
            .await,
        0,
    );
    let desc = cli
        .run(&["snapshot", "update", "snap-00000001", "--description", "x"])
        .await;
    // Not offered by the API: exit 3, with a hint that is a real command.
    assert_exit(&desc, 3);
    assert_stderr_has(
        &desc,
        "snapshot update --description is not supported by outscale",
    );
    assert_stderr_has(
        &desc,
        "hint: an OUTSCALE snapshot keeps the description it was created with; rename it instead: snapctl -p outscale snapshot update snap-00000001 --name NEW",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_side_rate_limit_spaces_a_batch() {
    let server = MockServer::start().await;
    osc("DeleteSnapshot")
        .respond_with(ok("response-context.json"))
        .expect(8)
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..8).map(|i| format!("snap-0000000{i}")).collect();
    let mut args = vec!["snapshot", "delete"];
    args.extend(ids.iter().map(String::as_str));
    let started = std::time::Instant::now();
    // OUTSCALE's burst is 5: the last three wait 100 ms each at 10 requests/s.
    let out = Snapctl::outscale(&server)
        .env("SNAPCTL_MAX_RPS", "10")
        .run(&args)
        .await;
    assert_exit(&out, 0);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= std::time::Duration::from_millis(290),
        "{elapsed:?}"
    );
}

/// Pages of generated snapshots, chained by `NextPageToken`, for a large volume.
struct ManyPages {
    total: usize,
}

impl wiremock::Respond for ManyPages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).expect("json body");
        let per = body["ResultsPerPage"]
            .as_u64()
            .expect("ResultsPerPage is always sent") as usize;
        let start: usize = body["NextPageToken"]
            .as_str()
            .map(|t| t.trim_start_matches("tok-").parse().expect("our token"))
            .unwrap_or(0);
        let end = (start + per).min(self.total);
        let snaps: Vec<Value> = (start..end)
            .map(|i| {
                json!({"SnapshotId": format!("snap-{i:08x}"), "VolumeId": "vol-0a1b2c3d",
                    "VolumeSize": 10, "State": "completed", "Progress": 100,
                    "CreationDate": "2025-11-20T09:30:00.000Z", "Tags": [],
                    "PermissionsToCreateVolume": {"AccountIds": [], "GlobalPermission": false}})
            })
            .collect();
        let mut page = json!({"Snapshots": snaps, "ResponseContext": {"RequestId": "r"}});
        if end < self.total {
            page["NextPageToken"] = json!(format!("tok-{end}"));
        }
        ResponseTemplate::new(200).set_body_json(page)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_snapshots_list_completely_page_by_page() {
    let server = MockServer::start().await;
    osc("ReadSnapshots")
        .respond_with(ManyPages { total: 10_000 })
        .expect(10)
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&["-o", "ids", "snapshot", "list", "--volume", "vol-0a1b2c3d"])
        .await;
    assert_exit(&out, 0);
    let ids: Vec<&str> = std::str::from_utf8(&out.stdout)
        .expect("utf-8")
        .lines()
        .collect();
    assert_eq!(ids.len(), 10_000);
    assert_eq!(ids[9_999], format!("snap-{:08x}", 9_999));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_delete_that_finds_nothing_succeeded() {
    let server = MockServer::start().await;
    // The first attempt deletes the snapshot but its answer is lost behind a 503; the retry finds
    // nothing.
    osc("DeleteSnapshot")
        .respond_with(err(503, "error-throttled-per-call.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    osc("DeleteSnapshot")
        .respond_with(err(400, "error-no-such-snapshot.json"))
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .env("SNAPCTL_RETRY_DELAY", "10ms")
        .run(&["-o", "json", "snapshot", "delete", "snap-0a1b2c3d"])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["status"], "deleting", "{v}");
    // A first answer of "no such snapshot" is still not found.
    let server = MockServer::start().await;
    osc("DeleteSnapshot")
        .respond_with(err(400, "error-no-such-snapshot.json"))
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&["snapshot", "delete", "snap-0a1b2c3d"])
        .await;
    assert_exit(&out, 4);
}

/// Without `--volume`, only the account's own snapshots: ReadSnapshots also answers what other
/// accounts share or make public, so the list is filtered by the caller's AccountId (ReadAccounts).
#[tokio::test(flavor = "multi_thread")]
async fn snapshot_list_without_a_volume_lists_the_accounts_own_snapshots() {
    let server = MockServer::start().await;
    osc("ReadAccounts")
        .and(body_json(json!({})))
        .respond_with(ok("read-accounts.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("ReadSnapshots")
        .and(body_json(
            json!({"Filters": {"AccountIds": ["123456789012"]}, "ResultsPerPage": 1000}),
        ))
        .respond_with(ok("read-snapshots-page2.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&["-o", "json", "snapshot", "list"])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(!v.as_array().expect("array").is_empty());
}

/// An EIM user without `api:ReadAccounts` still gets the list, with a warning that it includes
/// snapshots shared by others.
#[tokio::test(flavor = "multi_thread")]
async fn snapshot_list_without_read_accounts_warns_that_shared_snapshots_are_included() {
    let server = MockServer::start().await;
    osc("ReadAccounts")
        .respond_with(err(401, "error-auth.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("ReadSnapshots")
        .and(body_json(json!({"Filters": {}, "ResultsPerPage": 1000})))
        .respond_with(ok("read-snapshots-page2.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&["-o", "json", "snapshot", "list"])
        .await;
    assert_exit(&out, 0);
    assert_stderr_has(&out, "ReadAccounts was refused");
    assert_stderr_has(&out, "share with you or make public");
}

/// An account with many volumes, each with two `snapctl-` snapshots. Records when each action
/// arrived, and forgets what was deleted.
#[derive(Clone)]
struct Fleet {
    volumes: Vec<String>,
    log: std::sync::Arc<std::sync::Mutex<Vec<(std::time::Instant, String)>>>,
    deleted: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl Fleet {
    fn new(n: usize) -> Self {
        Fleet {
            volumes: (0..n).map(|i| format!("vol-{:08x}", 0x1000 + i)).collect(),
            log: Default::default(),
            deleted: Default::default(),
        }
    }

    fn actions(&self, name: &str) -> usize {
        self.log
            .lock()
            .expect("log")
            .iter()
            .filter(|(_, a)| a == name)
            .count()
    }
}

impl wiremock::Respond for Fleet {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let action = r
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        self.log
            .lock()
            .expect("log")
            .push((std::time::Instant::now(), action.clone()));
        let ctx = json!({"RequestId": "ab1e2c3d-0000-4000-8000-00000000f1ee"});
        let body = body(r);
        match action.as_str() {
            "ReadVolumes" => {
                let vols: Vec<Value> = self
                    .volumes
                    .iter()
                    .map(|v| json!({"VolumeId": v, "State": "available", "Size": 10,
                        "SubregionName": "eu-west-2a", "CreationDate": "2025-01-01T00:00:00.000Z", "Tags": []}))
                    .collect();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"Volumes": vols, "ResponseContext": ctx}))
            }
            "ReadSnapshots" => {
                let wanted: Vec<String> = body["Filters"]["VolumeIds"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                let deleted = self.deleted.lock().expect("deleted");
                let mut snaps = Vec::new();
                for (i, v) in self.volumes.iter().enumerate() {
                    if !wanted.contains(v) {
                        continue;
                    }
                    for day in [20, 21] {
                        let id = format!("snap-{:04x}{day:04}", i);
                        if deleted.contains(&id) {
                            continue;
                        }
                        snaps.push(json!({"SnapshotId": id, "VolumeId": v, "State": "completed",
                            "Progress": 100, "VolumeSize": 10, "AccountId": "123456789012",
                            "CreationDate": format!("2025-11-{day}T09:30:00.000Z"),
                            "Tags": [{"Key": "Name", "Value": format!("snapctl-202511{day}T093000Z")}]}));
                    }
                }
                ResponseTemplate::new(200)
                    .set_body_json(json!({"Snapshots": snaps, "ResponseContext": ctx}))
            }
            "DeleteSnapshot" => {
                let id = body["SnapshotId"].as_str().unwrap_or_default().to_string();
                self.deleted.lock().expect("deleted").insert(id);
                ResponseTemplate::new(200).set_body_json(json!({"ResponseContext": ctx}))
            }
            _ => ResponseTemplate::new(400),
        }
    }
}

/// `rotate --all-volumes` the way cron runs it: default rate limits on (no SNAPCTL_MAX_RPS).
async fn rotate_fleet(server: &MockServer, extra: &[&str]) -> std::process::Output {
    let cli = Snapctl::outscale(server);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_snapctl"));
    cmd.env_clear()
        .envs(crate::common::clock_env())
        .env("HOME", cli.home.path())
        .env("XDG_CONFIG_HOME", cli.home.path().join("config"))
        .env("SNAPCTL_LOCK_DIR", cli.home.path().join("locks"))
        .envs(cli.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cli.home.path())
        .args(&cli.args)
        .args(["-o", "json", "rotate", "--all-volumes", "--keep-last", "1"])
        .args(extra)
        .stdin(std::process::Stdio::null());
    tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("join")
}

/// Fleet scale: the snapshots of 50 volumes are listed in one ReadSnapshots (filtered on every
/// VolumeId), not 50; and with the default rate limit (5/s, burst 5) the double never sees more
/// than the limiter allows in any one-second window.
#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_rotation_lists_once_and_keeps_to_the_default_rate_limit() {
    let fleet = Fleet::new(50);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(OscSigned)
        .respond_with(fleet.clone())
        .mount(&server)
        .await;
    let out = rotate_fleet(&server, &["--dry-run"]).await;
    assert_exit(&out, 0);
    assert_eq!(fleet.actions("ReadVolumes"), 1);
    assert_eq!(
        fleet.actions("ReadSnapshots"),
        1,
        "one listing for 50 volumes"
    );
    let plan: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(plan["volumes"].as_array().map(Vec::len), Some(50));
    assert!(
        plan["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .all(|v| v["delete"].as_array().map(Vec::len) == Some(1))
    );

    // The real run, over 12 volumes: 14 requests that a burst of 5 cannot cover.
    let fleet = Fleet::new(12);
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(OscSigned)
        .respond_with(fleet.clone())
        .mount(&server)
        .await;
    let out = rotate_fleet(&server, &["--max-delete", "20"]).await;
    assert_exit(&out, 0);
    assert_eq!(fleet.actions("DeleteSnapshot"), 12);
    let times: Vec<std::time::Instant> = fleet
        .log
        .lock()
        .expect("log")
        .iter()
        .map(|(t, _)| *t)
        .collect();
    // A token bucket of 5/s with a burst of 5 lets at most 5 + 5 requests into any one second
    // (a little slack for scheduling on a loaded machine).
    for (i, t) in times.iter().enumerate() {
        let within = times[i..]
            .iter()
            .filter(|u| u.duration_since(*t) < std::time::Duration::from_millis(950))
            .count();
        assert!(within <= 10, "{within} requests within a second");
    }
    let span = times.last().expect("requests").duration_since(times[0]);
    assert!(
        span >= std::time::Duration::from_millis(1500),
        "14 requests at 5/s after a burst of 5 take ~1.8s, took {span:?}"
    );
}

/// `-o json` and `-o ids` are written page by page. A page that fails after others were written
/// exits non-zero with the error on stderr, and the JSON is left unterminated, so no parser takes
/// the pages before it for the whole list.
#[tokio::test(flavor = "multi_thread")]
async fn a_listing_that_fails_mid_stream_exits_non_zero_and_never_looks_complete() {
    let server = MockServer::start().await;
    osc("ReadSnapshots")
        .and(body_json(
            json!({"Filters": {"VolumeIds": ["vol-0a1b2c3d"]}, "ResultsPerPage": 1000}),
        ))
        .respond_with(ok("read-snapshots-page1.json"))
        .mount(&server)
        .await;
    osc("ReadSnapshots")
        .and(body_partial_json(
            json!({"NextPageToken": "T1RJemFXUjVlRzlvZDJKbVlXdGxZWEJwYTJWNQ=="}),
        ))
        .respond_with(err(400, "error-invalid-parameter.json"))
        .mount(&server)
        .await;
    for format in ["json", "ids"] {
        let out = Snapctl::outscale(&server)
            .run(&["-o", format, "snapshot", "list", "--volume", "vol-0a1b2c3d"])
            .await;
        assert_ne!(out.status.code(), Some(0), "{format}");
        assert_stderr_has(&out, "cannot list snapshots of volume vol-0a1b2c3d");
        let text = stdout(&out);
        assert!(
            text.contains("snap-00000001"),
            "{format}: the first page was written: {text}"
        );
        if format == "json" {
            assert!(text.starts_with("[\n"));
            assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
        }
    }
}

/// A tag filter goes to the API (`Filters.Tags`), and the answer is still checked locally.
#[tokio::test(flavor = "multi_thread")]
async fn volume_tag_filters_are_pushed_down_to_read_volumes() {
    let server = MockServer::start().await;
    osc("ReadVolumes")
        .and(body_json(
            json!({"Filters": {"Tags": ["Name=db-data"]}, "ResultsPerPage": 1000}),
        ))
        .respond_with(ok("read-volumes.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::outscale(&server)
        .run(&[
            "-o",
            "json",
            "volume",
            "list",
            "--filter",
            "tag.Name=db-data",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    // The fixture answers both volumes; only the tagged one is printed.
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v[0]["id"], "vol-0a1b2c3d");
}

/// `snapshot list --filter state=… --newer-than/--older-than` goes to ReadSnapshots as
/// `States` (the API's words) and `FromCreationDate`/`ToCreationDate`; the answer is still checked.
#[tokio::test(flavor = "multi_thread")]
async fn snapshot_state_and_age_filters_are_pushed_down() {
    let server = MockServer::start().await;
    osc("ReadSnapshots")
        .and(body_partial_json(json!({"Filters": {
            "VolumeIds": ["vol-0a1b2c3d"],
            "States": ["in-queue", "pending", "error"],
        }})))
        .respond_with(ok("read-snapshots-empty.json"))
        .expect(1)
        .mount(&server)
        .await;
    let before = jiff::Timestamp::now();
    let out = Snapctl::outscale(&server)
        .run(&[
            "snapshot",
            "list",
            "--volume",
            "vol-0a1b2c3d",
            "--filter",
            "state=creating,error",
            "--newer-than",
            "2d",
            "--older-than",
            "1h",
        ])
        .await;
    assert_exit(&out, 0);
    let sent = api_requests(&server).await;
    let body: Value = serde_json::from_slice(&sent[0].body).expect("json body");
    let from: jiff::Timestamp = body["Filters"]["FromCreationDate"]
        .as_str()
        .expect("FromCreationDate")
        .parse()
        .expect("ISO 8601");
    let to: jiff::Timestamp = body["Filters"]["ToCreationDate"]
        .as_str()
        .expect("ToCreationDate")
        .parse()
        .expect("ISO 8601");
    let day = jiff::SignedDuration::from_hours(24);
    assert!(
        (before - day * 2 - from).abs() < jiff::SignedDuration::from_secs(60),
        "{from}"
    );
    assert!(
        (before - jiff::SignedDuration::from_hours(1) - to).abs()
            < jiff::SignedDuration::from_secs(60),
        "{to}"
    );
}

/// The source side of a wire drill: policy `wire`'s newest snapshot of `vol-0a1b2c3d` (it
/// answers the daily tick, so nothing is taken) and the caller's account.
async fn mount_drill_source(server: &MockServer) {
    let owned = json!({
        "ResponseContext": {"RequestId": "ab1e2c3d-0000-4000-8000-000000000031"},
        "Snapshots": [{
            "AccountId": "123456789012",
            "CreationDate": "2025-10-02T00:00:04.000Z",
            "Description": "snapctl:v1 policy=wire tick=20251002T000000Z",
            "PermissionsToCreateVolume": {"AccountIds": [], "GlobalPermission": false},
            "Progress": 100,
            "SnapshotId": "snap-0000000d",
            "State": "completed",
            "Tags": [
                {"Key": "Name", "Value": "snapctl.wire.20251002T000000Z"},
                {"Key": "snapctl:policy", "Value": "wire"}
            ],
            "VolumeId": "vol-0a1b2c3d",
            "VolumeSize": 10
        }]
    });
    osc("ReadSnapshots")
        .respond_with(ResponseTemplate::new(200).set_body_json(owned))
        .mount(server)
        .await;
    osc("ReadAccounts")
        .respond_with(ok("read-accounts.json"))
        .mount(server)
        .await;
}

/// The profile and policy file of a wire drill against `server`: policy `wire` on `vol-0a1b2c3d`.
fn drill_fleet(s: &Snapctl, server: &MockServer) -> std::path::PathBuf {
    wire_fleet(
        s,
        &format!(
            "provider = \"outscale\"\nendpoint = \"{}/api/v1\"\nregion = \"eu-west-2\"\naccess_key = \"{OSC_AK}\"\nsecret_key = \"{OSC_SK}\"\n",
            server.uri()
        ),
        &wire_policy(s, "vol-0a1b2c3d", "every = \"1d\""),
    )
}

/// A restore drill on the wire: the restore is `CreateVolume` in the source's subregion, then one
/// `CreateTags` with the whole mark (Name, `snapctl:drill`, Description); the restored volume is
/// read until available, then `DeleteVolume` and read until gone, each signed, with these exact
/// bodies. The snapshot restored is the policy's newest (it answers the tick: nothing is taken).
#[tokio::test(flavor = "multi_thread")]
async fn a_drill_restores_marks_and_deletes_as_outscale_expects() {
    let server = MockServer::start().await;
    mount_drill_source(&server).await;
    osc("ReadVolumes")
        .and(body_json(
            json!({"Filters": {"VolumeIds": ["vol-0a1b2c3d"]}, "ResultsPerPage": 1000}),
        ))
        // An io1 source: the restore is like it, type and IOPS.
        .respond_with(ResponseTemplate::new(200).set_body_json({
            let mut v: Value = serde_json::from_slice(&fixture("outscale/read-volume-source.json"))
                .expect("fixture");
            v["Volumes"][0]["VolumeType"] = json!("io1");
            v["Volumes"][0]["Iops"] = json!(3000);
            v
        }))
        .with_priority(1)
        .mount(&server)
        .await;
    let restored = json!({"Filters": {"VolumeIds": ["vol-0c0c0c0c"]}, "ResultsPerPage": 1000});
    // Available for the wait and for `reach`, then gone once deleted.
    osc("ReadVolumes")
        .and(body_json(restored.clone()))
        .respond_with(ok("read-volume-clone-available.json"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    osc("ReadVolumes")
        .and(body_json(restored))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ResponseContext": {"RequestId": "ab1e2c3d-0000-4000-8000-000000000032"},
            "Volumes": []
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    osc("ReadVolumes")
        .respond_with(ok("read-volumes.json"))
        .with_priority(3)
        .mount(&server)
        .await;
    osc("CreateVolume")
        .and(body_partial_json(
            json!({"SnapshotId": "snap-0000000d", "SubregionName": "eu-west-2a", "VolumeType": "io1", "Iops": 3000}),
        ))
        .respond_with(ok("create-volume.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("CreateTags")
        .respond_with(ok("response-context.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("DeleteVolume")
        .and(body_json(json!({"VolumeId": "vol-0c0c0c0c"})))
        .respond_with(ok("response-context.json"))
        .expect(1)
        .mount(&server)
        .await;
    let s = Snapctl::bare();
    let file = drill_fleet(&s, &server);
    let report = wire_apply(&s, &file).await;
    let p = &report["policies"][0];
    assert!(p["units"][0]["created"].is_null(), "{p}");
    let d = &p["drills"][0];
    assert_eq!(d["status"], "ok", "{d}");
    assert_eq!(d["snapshot_id"], "snap-0000000d");
    assert_eq!(d["restored_volume_id"], "vol-0c0c0c0c");
    assert_eq!(d["cleaned_up"], true);
    let create = &requests_to(&server, "CreateVolume").await[0];
    assert!(
        body(create)["ClientToken"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{}",
        body(create)
    );
    let tags = body(&requests_to(&server, "CreateTags").await[0]);
    assert_eq!(tags["ResourceIds"], json!(["vol-0c0c0c0c"]));
    let tags = tags["Tags"].as_array().expect("tags");
    assert_eq!(tags.len(), 3, "{tags:?}");
    assert_eq!(tags[0]["Key"], "Name");
    let name = tags[0]["Value"].as_str().expect("name");
    assert!(
        name.starts_with("snapctl-drill.wire.") && name.len() == 35,
        "{name}"
    );
    assert_eq!(tags[1], json!({"Key": "snapctl:drill", "Value": "wire"}));
    assert_eq!(
        tags[2],
        json!({"Key": "Description", "Value": "snapctl:v1 drill policy=wire snapshot=snap-0000000d"})
    );
}

/// A drill's `CreateVolume` carries a `ClientToken` derived from the policy, the volume and the
/// drill's time; when `CreateTags` is then refused, the volume just made (its id is in the
/// answer) is deleted at once: an untagged volume carries no mark, so no later run would ever
/// find it, and it would be billed for good.
#[tokio::test(flavor = "multi_thread")]
async fn a_drill_volume_whose_tags_are_refused_is_deleted_at_once() {
    let server = MockServer::start().await;
    mount_drill_source(&server).await;
    osc("ReadVolumes")
        .and(body_json(
            json!({"Filters": {"VolumeIds": ["vol-0a1b2c3d"]}, "ResultsPerPage": 1000}),
        ))
        .respond_with(ok("read-volume-source.json"))
        .with_priority(1)
        .mount(&server)
        .await;
    osc("ReadVolumes")
        .respond_with(ok("read-volumes.json"))
        .with_priority(3)
        .mount(&server)
        .await;
    osc("CreateVolume")
        .respond_with(ok("create-volume.json"))
        .expect(1)
        .mount(&server)
        .await;
    osc("CreateTags")
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "Errors": [{"Code": "4045", "Type": "InvalidParameterValue", "Details": "TagLimitExceeded"}],
            "ResponseContext": {"RequestId": "ab1e2c3d-0000-4000-8000-000000000042"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    osc("DeleteVolume")
        .and(body_json(json!({"VolumeId": "vol-0c0c0c0c"})))
        .respond_with(ok("response-context.json"))
        .expect(1)
        .mount(&server)
        .await;
    let s = Snapctl::bare();
    let file = drill_fleet(&s, &server);
    let report = wire_apply_ending(&s, &file, 6).await;
    let d = &report["policies"][0]["drills"][0];
    assert_eq!(d["status"], "failed", "{d}");
    let error = d["error"].as_str().expect("error");
    assert!(
        error.contains("TagLimitExceeded") && error.contains("vol-0c0c0c0c"),
        "{error}"
    );
    let create = body(&requests_to(&server, "CreateVolume").await[0]);
    let token = create["ClientToken"].as_str().expect("ClientToken");
    assert!(
        token.starts_with("snapctl-drill-") && token.len() == 46,
        "{token}"
    );
}
