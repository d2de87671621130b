//! ovh-efs end to end: the real binary against wiremock doubles of `/storage/netapp` that check
//! method, path, query, recomputed signatures and exact bodies.

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;
use wiremock::matchers::{body_string, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread")]
async fn volume_list_prints_table_json_and_ids() {
    let server = ovh_server().await;
    Mock::given(method("GET"))
        .and(path(format!("/1.0/storage/netapp/{SERVICE}/share")))
        .and(query_param("detail", "true"))
        .and(OvhSigned)
        .respond_with(json(200, "ovh-efs/shares.json"))
        .expect(3)
        .mount(&server)
        .await;
    let cli = Snapctl::efs(&server);

    let table = cli.run(&["volume", "list"]).await;
    assert_exit(&table, 0);
    let out = stdout(&table);
    assert!(out.contains("appdata") && out.contains("logs"), "{out}");
    assert!(
        out.contains("updating"),
        "extending maps to updating: {out}"
    );

    let j = cli.run(&["-o", "json", "volume", "list"]).await;
    assert_exit(&j, 0);
    let v: Value = serde_json::from_slice(&j.stdout).expect("json array");
    assert_eq!(v[0]["id"], SHARE);
    assert_eq!(v[0]["provider"], "ovh-efs");
    assert_eq!(v[0]["size_gib"], 500);
    assert_eq!(v[0]["state"], "available");
    assert_eq!(v[0]["created_at"], "2024-02-12T10:02:11.482Z");
    // +01:00 offsets are normalised to UTC.
    assert_eq!(v[1]["created_at"], "2024-03-01T15:45:00.003Z");
    assert_eq!(v[1]["provider_state"], "extending");
    let keys: Vec<&String> = v[0].as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 8, "volume fields: {keys:?}");
    assert_eq!(v[0]["tags"], serde_json::json!({}));

    let ids = cli.run(&["-o", "ids", "volume", "list"]).await;
    assert_exit(&ids, 0);
    assert_eq!(
        stdout(&ids),
        format!("{SHARE}\n6b1e1f3a-0000-4000-8000-000000000002\n")
    );
    assert!(stderr(&ids).is_empty(), "stderr: {}", stderr(&ids));
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_list_maps_kinds_and_states() {
    let server = ovh_server().await;
    Mock::given(method("GET"))
        .and(path(share_path("/snapshot")))
        .and(query_param("detail", "true"))
        .and(OvhSigned)
        .respond_with(json(200, "ovh-efs/snapshots.json"))
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server)
        .run(&["-o", "json", "snapshot", "list", "--volume", SHARE])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let kinds: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["automatic", "manual", "system"]);
    let s = &v[1];
    assert_eq!(s["id"], MANUAL);
    assert_eq!(s["volume_id"], SHARE);
    assert_eq!(s["name"], "snap-1");
    assert_eq!(s["description"], "before upgrade");
    assert_eq!(s["state"], "available");
    assert_eq!(s["provider_state"], "available");
    assert_eq!(s["created_at"], "2026-11-21T07:00:04.902Z");
    assert_eq!(s["size_gib"], Value::Null);
    assert_eq!(s["expires_at"], Value::Null);
    assert_eq!(v[2]["description"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_create_signs_the_exact_body_and_waits_until_available() {
    let server = ovh_server().await;
    ovh("POST", share_path("/snapshot"))
        .and(body_string(
            r#"{"name":"nightly","description":"before upgrade"}"#,
        ))
        .respond_with(json(200, "ovh-efs/snapshot-creating.json"))
        .expect(1)
        .mount(&server)
        .await;
    let snap = share_path(&format!("/snapshot/{NEW_SNAP}"));
    ovh("GET", &snap)
        .respond_with(json(200, "ovh-efs/snapshot-creating.json"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    ovh_get(&server, &snap, json(200, "ovh-efs/snapshot-available.json")).await;

    let out = Snapctl::efs(&server)
        .run(&[
            "-o",
            "json",
            "snapshot",
            "create",
            "--volume",
            SHARE,
            "--name",
            "nightly",
            "--description",
            "before upgrade",
            "--wait",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json object");
    assert_eq!(v["id"], NEW_SNAP);
    assert_eq!(v["state"], "available");
    assert_eq!(v["kind"], "manual");
    // No spinner when stderr is not a terminal.
    assert!(stderr(&out).is_empty(), "stderr: {}", stderr(&out));
    // Two polls saw it creating, the third available: that answer is what is printed, with no
    // read after it.
    let gets = api_requests(&server)
        .await
        .iter()
        .filter(|r| r.method.as_str() == "GET" && r.url.path() == snap)
        .count();
    assert_eq!(gets, 3, "polled until available, then no extra read");
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_create_without_name_sends_an_empty_object() {
    let server = ovh_server().await;
    ovh("POST", share_path("/snapshot"))
        .and(body_string("{}"))
        .respond_with(json(200, "ovh-efs/snapshot-creating.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server)
        .run(&["-o", "ids", "snapshot", "create", "--volume", SHARE])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{NEW_SNAP}\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_ends_with_the_error_state() {
    let server = ovh_server().await;
    ovh("POST", share_path("/snapshot"))
        .respond_with(json(200, "ovh-efs/snapshot-creating.json"))
        .mount(&server)
        .await;
    ovh_get(
        &server,
        &share_path(&format!("/snapshot/{NEW_SNAP}")),
        json(200, "ovh-efs/snapshot-error.json"),
    )
    .await;
    let out = Snapctl::efs(&server)
        .run(&["snapshot", "create", "--volume", SHARE, "--wait"])
        .await;
    assert_exit(&out, 1);
    assert_stderr_has(
        &out,
        &format!("error: snapshot {NEW_SNAP} to become available failed: error"),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_times_out_with_exit_7() {
    let server = ovh_server().await;
    ovh("POST", share_path("/snapshot"))
        .respond_with(json(200, "ovh-efs/snapshot-creating.json"))
        .mount(&server)
        .await;
    ovh_get(
        &server,
        &share_path(&format!("/snapshot/{NEW_SNAP}")),
        json(200, "ovh-efs/snapshot-creating.json"),
    )
    .await;
    let started = Instant::now();
    let out = Snapctl::efs(&server)
        .run(&[
            "--timeout",
            "300ms",
            "snapshot",
            "create",
            "--volume",
            SHARE,
            "--wait",
        ])
        .await;
    assert_exit(&out, 7);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_stderr_has(&out, "timed out after 300ms waiting for snapshot");
    assert_stderr_has(&out, "last state: creating");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_batch_reports_partial_failure_with_exit_6() {
    let server = ovh_server().await;
    let missing = "6b1e1f3a-0000-4000-8000-0000000000f9";
    ovh("DELETE", share_path(&format!("/snapshot/{MANUAL}")))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    ovh("DELETE", share_path(&format!("/snapshot/{missing}")))
        .respond_with(json(404, "ovh-efs/error-404.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server)
        .run(&[
            "-o", "json", "snapshot", "delete", MANUAL, missing, "--volume", SHARE,
        ])
        .await;
    assert_exit(&out, 6);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["status"], "deleting");
    assert_eq!(v[1]["status"], "failed");
    assert!(
        v[1]["error"]
            .as_str()
            .expect("error")
            .contains("EU.ext-3.63ac85b6.10528.test")
    );
    assert!(stderr(&out).contains("1 of 2 snapshot deletions failed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_with_wait_confirms_the_snapshot_is_gone() {
    let server = ovh_server().await;
    let snap = share_path(&format!("/snapshot/{NEW_SNAP}"));
    ovh("DELETE", &snap)
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    // The share's list confirms it: `deleting` twice, then gone.
    let deleting: Value =
        serde_json::from_slice(&fixture("ovh-efs/snapshot-deleting.json")).expect("json");
    ovh("GET", share_path("/snapshot"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([deleting])))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    ovh_get(
        &server,
        &share_path("/snapshot"),
        ResponseTemplate::new(200).set_body_json(serde_json::json!([])),
    )
    .await;
    let out = Snapctl::efs(&server)
        .run(&[
            "-o", "ids", "snapshot", "delete", NEW_SNAP, "--volume", SHARE, "--wait",
        ])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{NEW_SNAP}\n"));
    let gets = api_requests(&server)
        .await
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count();
    assert_eq!(gets, 3, "listed until it was gone");
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_exits_4_with_the_query_id() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &share_path(&format!("/snapshot/{MANUAL}")),
        json(404, "ovh-efs/error-404.json"),
    )
    .await;
    let out = Snapctl::efs(&server)
        .run(&["snapshot", "show", MANUAL, "--volume", SHARE])
        .await;
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: cannot read snapshot {MANUAL} of share {SHARE}: The requested object"
        )) && err.contains("(404 Client::NotFound, X-Ovh-QueryID EU.ext-3.63ac85b6.10528.test)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_get_after_503_then_succeeds() {
    let server = ovh_server().await;
    let p = share_path("");
    ovh("GET", &p)
        .respond_with(json(503, "ovh-efs/error-500.json"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    ovh_get(&server, &p, json(200, "ovh-efs/share.json")).await;
    let out = Snapctl::efs(&server)
        .run(&["-o", "ids", "volume", "show", SHARE])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{SHARE}\n"));
    assert_eq!(api_requests(&server).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn never_resends_post_after_500() {
    let server = ovh_server().await;
    ovh("POST", share_path("/snapshot"))
        .respond_with(json(500, "ovh-efs/error-500.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server)
        .run(&["snapshot", "create", "--volume", SHARE])
        .await;
    assert_exit(&out, 1);
    assert_stderr_has(&out, "Internal server error (500");
    assert_eq!(api_requests(&server).await.len(), 1);
}

/// A throttled POST (429) was not carried out: it is re-sent after Retry-After, beyond the
/// attempts other errors get, and one snapshot is made.
#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_post_is_re_sent_after_retry_after() {
    let server = ovh_server().await;
    ovh("POST", share_path("/snapshot"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0")
                .set_body_raw(fixture("ovh-efs/error-500.json"), "application/json"),
        )
        .up_to_n_times(5)
        .with_priority(1)
        .mount(&server)
        .await;
    ovh("POST", share_path("/snapshot"))
        .respond_with(json(200, "ovh-efs/snapshot-creating.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server)
        .run(&["-o", "ids", "snapshot", "create", "--volume", SHARE])
        .await;
    assert_exit(&out, 0);
    let posts = api_requests(&server)
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 6, "five throttled, then the one that made it");
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_honoured() {
    let server = ovh_server().await;
    let p = share_path("");
    ovh("GET", &p)
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "2")
                .set_body_raw(fixture("ovh-efs/error-500.json"), "application/json"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    ovh_get(&server, &p, json(200, "ovh-efs/share.json")).await;
    let started = Instant::now();
    let out = Snapctl::efs(&server)
        .run(&["-o", "ids", "volume", "show", SHARE])
        .await;
    assert_exit(&out, 0);
    let reqs = api_requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_appear_in_vv_traces() {
    let server = ovh_server().await;
    ovh_get(&server, &share_path(""), json(200, "ovh-efs/share.json")).await;
    ovh("POST", share_path("/snapshot"))
        .respond_with(json(200, "ovh-efs/snapshot-creating.json"))
        .mount(&server)
        .await;
    let cli = Snapctl::efs(&server);
    for args in [
        &["-vv", "volume", "show", SHARE][..],
        &[
            "-vv", "snapshot", "create", "--volume", SHARE, "--name", "x",
        ][..],
    ] {
        let out = cli.run(args).await;
        assert_exit(&out, 0);
        let err = stderr(&out);
        assert!(err.contains("> X-Ovh-Signature: ***"), "{err}");
        assert!(err.contains("> X-Ovh-Consumer: ***"), "{err}");
        assert!(err.contains("< 200 OK"), "{err}");
        for secret in [AK, AS, CK] {
            assert!(!err.contains(secret), "secret leaked in:\n{err}");
            assert!(!stdout(&out).contains(secret));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_ids_are_rejected_before_any_request() {
    let server = MockServer::start().await;
    let cli = Snapctl::efs(&server);
    for args in [
        &["snapshot", "show", "../../../me", "--volume", SHARE][..],
        &["volume", "show", "6b1e1f3a-0000-4000-8000-00000000000Z"][..],
        &["snapshot", "delete", MANUAL, "x?y=1", "--volume", SHARE][..],
        &["clone", "--volume", SHARE, "--snapshot", "snap-1"][..],
    ] {
        let out = cli.run(args).await;
        assert_exit(&out, 2);
        assert_stderr_has(&out, "expected a UUID");
    }
    let bad_service = Snapctl::efs(&server)
        .run(&["--service", "zpool-123", "volume", "list"])
        .await;
    assert_exit(&bad_service, 2);
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn clone_refuses_an_automatic_snapshot_before_posting() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &share_path(&format!("/snapshot/{AUTOMATIC}")),
        json(200, "ovh-efs/snapshot-automatic.json"),
    )
    .await;
    let out = Snapctl::efs(&server)
        .run(&["clone", "--volume", SHARE, "--snapshot", AUTOMATIC])
        .await;
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("automatic (policy) snapshot"), "{err}");
    assert!(
        err.contains(&format!(
            "snapctl -p ovh-efs --service {SERVICE} snapshot hold {AUTOMATIC} --volume {SHARE}"
        )),
        "{err}"
    );
    let posts = api_requests(&server)
        .await
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn clone_uses_the_parent_size_and_waits_for_the_new_share() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &share_path(&format!("/snapshot/{MANUAL}")),
        json(200, "ovh-efs/snapshot-manual.json"),
    )
    .await;
    ovh_get(&server, &share_path(""), json(200, "ovh-efs/share.json")).await;
    ovh("POST", format!("/1.0/storage/netapp/{SERVICE}/share"))
        .and(body_string(format!(
            r#"{{"name":"clone-1","description":"from snap","protocol":"NFS","size":500,"snapshotID":"{MANUAL}"}}"#
        )))
        .respond_with(json(201, "ovh-efs/clone-creating.json"))
        .expect(1)
        .mount(&server)
        .await;
    let clone = format!("/1.0/storage/netapp/{SERVICE}/share/{CLONE}");
    ovh("GET", &clone)
        .respond_with(json(200, "ovh-efs/clone-creating.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    ovh_get(&server, &clone, json(200, "ovh-efs/clone-available.json")).await;
    let out = Snapctl::efs(&server)
        .run(&[
            "-o",
            "json",
            "clone",
            "--volume",
            SHARE,
            "--snapshot",
            MANUAL,
            "--name",
            "clone-1",
            "--description",
            "from snap",
            "--wait",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["id"], CLONE);
    assert_eq!(v["state"], "available");
    assert_eq!(v["size_gib"], 500);
}

#[tokio::test(flavor = "multi_thread")]
async fn clone_without_snapshot_takes_a_manual_one_first() {
    let server = ovh_server().await;
    ovh("POST", share_path("/snapshot"))
        .respond_with(json(200, "ovh-efs/snapshot-creating.json"))
        .expect(1)
        .mount(&server)
        .await;
    ovh_get(
        &server,
        &share_path(&format!("/snapshot/{NEW_SNAP}")),
        json(200, "ovh-efs/snapshot-available.json"),
    )
    .await;
    ovh_get(&server, &share_path(""), json(200, "ovh-efs/share.json")).await;
    ovh("POST", format!("/1.0/storage/netapp/{SERVICE}/share"))
        .and(body_string(format!(
            r#"{{"protocol":"NFS","size":800,"snapshotID":"{NEW_SNAP}"}}"#
        )))
        .respond_with(json(201, "ovh-efs/clone-creating.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server)
        .run(&["-o", "ids", "clone", "--volume", SHARE, "--size", "800"])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{CLONE}\n"));
    assert!(stderr(&out).contains(&format!("took snapshot {NEW_SNAP}")));
    let create = api_requests(&server)
        .await
        .into_iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/snapshot"))
        .expect("snapshot POST");
    let body: Value = serde_json::from_slice(&create.body).expect("json body");
    assert!(
        body["name"]
            .as_str()
            .expect("name")
            .starts_with("snapctl-clone-")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn revert_without_yes_is_refused_with_exit_9_and_sends_nothing() {
    let server = MockServer::start().await;
    let out = Snapctl::efs(&server)
        .run(&["revert", "--volume", SHARE, "--snapshot", MANUAL])
        .await;
    assert_exit(&out, 9);
    assert!(stderr(&out).contains("revert is destructive"));
    assert!(stderr(&out).contains("--yes"));
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

/// `MANUAL` and the share's snapshot list, in which a newer snapshot exists (so revert refuses).
async fn mount_manual_snapshot_with_a_newer_one(server: &MockServer) {
    ovh_get(
        server,
        &share_path(&format!("/snapshot/{MANUAL}")),
        json(200, "ovh-efs/snapshot-manual.json"),
    )
    .await;
    ovh_get(
        server,
        &share_path("/snapshot"),
        json(200, "ovh-efs/snapshots.json"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revert_refuses_a_snapshot_that_is_not_the_latest() {
    let server = ovh_server().await;
    mount_manual_snapshot_with_a_newer_one(&server).await;
    let out = Snapctl::efs(&server)
        .run(&["revert", "--volume", SHARE, "--snapshot", MANUAL, "--yes"])
        .await;
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("EFS reverts only to the latest snapshot"),
        "{err}"
    );
    assert!(
        err.contains("6b1e1f3a-0000-4000-8000-0000000000d1"),
        "{err}"
    );
    assert!(
        !api_requests(&server)
            .await
            .iter()
            .any(|r| r.url.path().ends_with("/revert"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn revert_posts_the_snapshot_id_and_waits_for_the_share() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &share_path(&format!("/snapshot/{MANUAL}")),
        json(200, "ovh-efs/snapshot-manual.json"),
    )
    .await;
    // Only the target and an older automatic snapshot: the target is the latest.
    let older: Vec<Value> =
        serde_json::from_slice::<Vec<Value>>(&fixture("ovh-efs/snapshots.json"))
            .expect("fixture")
            .into_iter()
            .filter(|s| s["type"] != "system")
            .collect();
    ovh("GET", share_path("/snapshot"))
        .respond_with(ResponseTemplate::new(200).set_body_json(older))
        .mount(&server)
        .await;
    ovh("POST", share_path("/revert"))
        .and(body_string(format!(r#"{{"snapshotID":"{MANUAL}"}}"#)))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    ovh("GET", share_path(""))
        .respond_with(json(200, "ovh-efs/share-reverting.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    ovh_get(&server, &share_path(""), json(200, "ovh-efs/share.json")).await;
    let out = Snapctl::efs(&server)
        .run(&[
            "-o",
            "json",
            "revert",
            "--volume",
            SHARE,
            "--snapshot",
            MANUAL,
            "--yes",
            "--wait",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["state"], "available");
}

#[tokio::test(flavor = "multi_thread")]
async fn query_time_out_refreshes_the_clock_and_resends_once() {
    let server = ovh_server().await;
    ovh("POST", share_path("/snapshot"))
        .respond_with(json(400, "ovh-efs/error-query-time-out.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    ovh("POST", share_path("/snapshot"))
        .respond_with(json(200, "ovh-efs/snapshot-creating.json"))
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server)
        .run(&["-o", "ids", "snapshot", "create", "--volume", SHARE])
        .await;
    assert_exit(&out, 0);
    let all = server.received_requests().await.unwrap_or_default();
    let times = all
        .iter()
        .filter(|r| r.url.path() == "/1.0/auth/time")
        .count();
    assert_eq!(times, 2, "the delta is fetched again after QUERY_TIME_OUT");
    assert_eq!(all.len() - times, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_exit_5_with_a_hint() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &format!("/1.0/storage/netapp/{SERVICE}/share"),
        json(403, "ovh-efs/error-not-granted.json"),
    )
    .await;
    let out = Snapctl::efs(&server).run(&["volume", "list"]).await;
    assert_exit(&out, 5);
    let err = stderr(&out);
    assert!(
        err.contains("This call has not been granted (403 NOT_GRANTED_CALL, X-Ovh-QueryID"),
        "{err}"
    );
    assert!(
        err.contains("hint: the consumer key has no access rule for GET"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ovh_credential_codes_exit_5_whatever_the_status() {
    // OVH answers a wrong application secret with 400 INVALID_SIGNATURE, a stale timestamp with
    // 400 QUERY_TIME_OUT (twice: snapctl refreshes the clock once).
    for (fixture_name, code) in [
        ("ovh-efs/error-invalid-signature.json", "INVALID_SIGNATURE"),
        ("ovh-efs/error-query-time-out.json", "QUERY_TIME_OUT"),
    ] {
        let server = ovh_server().await;
        ovh_get(
            &server,
            &format!("/1.0/storage/netapp/{SERVICE}/share"),
            json(400, fixture_name),
        )
        .await;
        let out = Snapctl::efs(&server).run(&["volume", "list"]).await;
        assert_exit(&out, 5);
        assert_stderr_has(&out, &format!("(400 {code}, X-Ovh-QueryID"));
        assert_stderr_has(&out, "hint: ");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_only_service_is_used_when_none_is_given() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        "/1.0/storage/netapp",
        json(200, "ovh-efs/services.json"),
    )
    .await;
    ovh_get(
        &server,
        &format!("/1.0/storage/netapp/{SERVICE}/share"),
        json(200, "ovh-efs/shares.json"),
    )
    .await;
    let mut cli = Snapctl::efs(&server);
    let i = cli
        .args
        .iter()
        .position(|a| a == "--service")
        .expect("flag");
    cli.args.drain(i..i + 2);
    let out = cli.run(&["-o", "ids", "volume", "list"]).await;
    assert_exit(&out, 0);
    assert!(stdout(&out).starts_with(SHARE));
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_walks_the_real_path_and_stops_before_the_first_change() {
    let server = ovh_server().await;
    mount_manual_snapshot_with_a_newer_one(&server).await;
    // A dry-run delete reads its target first (OVH cannot check a DELETE).
    ovh_get(
        &server,
        &share_path(&format!("/snapshot/{AUTOMATIC}")),
        json(200, "ovh-efs/snapshot-automatic.json"),
    )
    .await;
    let cli = Snapctl::efs(&server);
    let out = cli
        .run(&[
            "snapshot",
            "delete",
            MANUAL,
            AUTOMATIC,
            "--volume",
            SHARE,
            "--dry-run",
        ])
        .await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "dry run: would delete snapshot {MANUAL} of {SHARE}"
        )),
        "{text}"
    );
    assert!(text.contains("ovh-efs has no dry-run API"), "{text}");
    assert!(
        text.contains(&format!(
            "next request: DELETE {}{}",
            server.uri(),
            share_path(&format!("/snapshot/{MANUAL}"))
        )),
        "{text}"
    );

    // Revert to a snapshot that is not the latest: the dry run refuses exactly as the real run.
    let real = cli
        .run(&["revert", "--volume", SHARE, "--snapshot", MANUAL, "--yes"])
        .await;
    let dry = cli
        .run(&[
            "-o",
            "json",
            "revert",
            "--volume",
            SHARE,
            "--snapshot",
            MANUAL,
            "--dry-run",
        ])
        .await;
    assert_exit(&real, 2);
    assert_exit(&dry, 2);
    assert_eq!(stderr(&dry), stderr(&real));
    assert!(stdout(&dry).is_empty(), "{}", stdout(&dry));
    let changes: Vec<String> = api_requests(&server)
        .await
        .iter()
        .filter(|r| r.method != wiremock::http::Method::GET)
        .map(|r| format!("{} {}", r.method, r.url))
        .collect();
    assert!(changes.is_empty(), "a dry run sent {changes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_stops_a_batch_after_the_request_in_flight_with_exit_130() {
    // EFS sends two deletions at once: those are in flight when SIGINT comes; the rest never start.
    let in_flight = snapctl::providers::entry(snapctl::kind::ProviderKind::OvhEfs).max_in_flight;
    assert_eq!(in_flight, 2);
    let server = ovh_server().await;
    let ids = [
        MANUAL.to_string(),
        "6b1e1f3a-0000-4000-8000-0000000000a2".to_string(),
        "6b1e1f3a-0000-4000-8000-0000000000a3".to_string(),
    ];
    Mock::given(method("DELETE"))
        .and(OvhSigned)
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(800)))
        .expect(2)
        .mount(&server)
        .await;
    let cli = Snapctl::efs(&server);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_snapctl"));
    cmd.env_clear()
        .envs(crate::common::clock_env())
        .env("HOME", cli.home.path())
        .env("SNAPCTL_MAX_RPS", "0")
        .envs(cli.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cli.home.path())
        .args(&cli.args)
        .args(["-o", "json", "snapshot", "delete"])
        .args(&ids)
        .args(["--volume", SHARE]);
    let out = crate::common::signal_after(cmd, "INT", Duration::from_millis(400)).await;
    assert_exit(&out, 130);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v[0]["status"], "deleting",
        "the requests in flight finished"
    );
    assert_eq!(
        v[1]["status"], "deleting",
        "the requests in flight finished"
    );
    assert_eq!(v[2]["status"], "skipped");
    assert_stderr_has(&out, "2 of 3 deletions were sent, 1 not started");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_stuck_read_sends_no_further_attempt() {
    let server = ovh_server().await;
    ovh("GET", format!("/1.0/storage/netapp/{SERVICE}/share"))
        .respond_with(json(200, "ovh-efs/shares.json").set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let cli = Snapctl::efs(&server);
    let cmd = cli.command(&["--request-timeout", "700ms", "volume", "list"]);
    let started = Instant::now();
    let out = crate::common::signal_after(cmd, "TERM", Duration::from_millis(300)).await;
    assert_exit(&out, 130);
    assert_stderr_has(&out, "stopped waiting for the answer");
    // The read in flight is dropped at once (it would time out after 700 ms, and three more
    // attempts followed before the first fix).
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    let reads = api_requests(&server).await.len();
    assert_eq!(reads, 1, "attempts after the signal: {}", reads - 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_delete_that_finds_nothing_succeeded() {
    let server = ovh_server().await;
    // The first attempt deletes the snapshot but its answer is lost behind a 503; the retry gets
    // a 404.
    ovh("DELETE", share_path(&format!("/snapshot/{MANUAL}")))
        .respond_with(json(503, "ovh-efs/error-500.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    ovh("DELETE", share_path(&format!("/snapshot/{MANUAL}")))
        .respond_with(json(404, "ovh-efs/error-404.json"))
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server)
        .env("SNAPCTL_RETRY_DELAY", "10ms")
        .run(&["-o", "ids", "snapshot", "delete", MANUAL, "--volume", SHARE])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim(), MANUAL);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unanswered_create_is_found_by_name_not_resent() {
    let server = ovh_server().await;
    // The server makes the snapshot but the answer never arrives in time.
    ovh("POST", share_path("/snapshot"))
        .respond_with(json(200, "ovh-efs/snapshot-creating.json").set_delay(Duration::from_secs(3)))
        .expect(1)
        .mount(&server)
        .await;
    let listed: Value =
        serde_json::from_slice(&fixture("ovh-efs/snapshot-available.json")).expect("fixture");
    ovh("GET", share_path("/snapshot"))
        .respond_with(ResponseTemplate::new(200).set_body_json(vec![listed]))
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server)
        .run(&[
            "--timeout",
            "1s",
            "--request-timeout",
            "1s",
            "-o",
            "ids",
            "snapshot",
            "create",
            "--volume",
            SHARE,
            "--name",
            "snapctl-20261124T093000Z",
        ])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{NEW_SNAP}\n"));
    assert_stderr_has(&out, "got no answer");
    let posts = api_requests(&server)
        .await
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1, "exactly one create was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_html_page_from_a_proxy_is_retried_for_reads() {
    let server = ovh_server().await;
    let p = share_path("");
    ovh("GET", &p)
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            b"<html><body>Gateway maintenance</body></html>".to_vec(),
            "text/html",
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    ovh_get(&server, &p, json(200, "ovh-efs/share.json")).await;
    let out = Snapctl::efs(&server)
        .run(&["-o", "ids", "volume", "show", SHARE])
        .await;
    assert_exit(&out, 0);
    assert_eq!(api_requests(&server).await.len(), 2);
}

/// A restore drill on the wire: the policy's newest snapshot (it answers the tick: nothing is
/// taken) becomes a new share of the parent's size (`POST …/share` with the drill's name and
/// description), read until available, its NFS path read (`…/accessPath`) for `verify`, then
/// `DELETE …/share/{id}` and read until 404; every call signed.
#[tokio::test(flavor = "multi_thread")]
async fn a_drill_restores_a_share_and_deletes_it_as_efs_expects() {
    if cfg!(windows) {
        return;
    }
    let server = ovh_server().await;
    let snap = "6b1e1f3a-0000-4000-8000-0000000000d1";
    let owned = serde_json::json!({
        "createdAt": "2025-10-02T00:00:04.000Z",
        "description": "snapctl:v1 policy=wire tick=20251002T000000Z",
        "id": snap,
        "name": "snapctl.wire.20251002T000000Z",
        "path": "/appdata/.snapshot/snapctl.wire.20251002T000000Z",
        "status": "available",
        "type": "manual"
    });
    let tagged = |v: serde_json::Value| {
        ResponseTemplate::new(200)
            .set_body_json(v)
            .insert_header("X-Ovh-QueryID", "EU.ext-3.63ac85b6.10528.test")
    };
    ovh("GET", format!("/1.0/storage/netapp/{SERVICE}/share"))
        .respond_with(json(200, "ovh-efs/shares.json"))
        .mount(&server)
        .await;
    ovh("GET", share_path("/snapshot"))
        .respond_with(tagged(serde_json::json!([owned.clone()])))
        .mount(&server)
        .await;
    ovh_get(
        &server,
        &share_path(&format!("/snapshot/{snap}")),
        tagged(owned),
    )
    .await;
    ovh_get(&server, &share_path(""), json(200, "ovh-efs/share.json")).await;
    ovh("POST", format!("/1.0/storage/netapp/{SERVICE}/share"))
        .respond_with(json(201, "ovh-efs/clone-creating.json"))
        .expect(1)
        .mount(&server)
        .await;
    let clone = format!("/1.0/storage/netapp/{SERVICE}/share/{CLONE}");
    ovh("GET", &clone)
        .respond_with(json(200, "ovh-efs/clone-available.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    ovh_get(&server, &clone, json(404, "ovh-efs/error-404.json")).await;
    ovh_get(
        &server,
        &format!("{clone}/accessPath"),
        tagged(serde_json::json!([{
            "id": "6b1e1f3a-0000-4000-8000-0000000000f1",
            "path": "127.0.0.1:/share_6b1e1f3a_0000_4000_8000_0000000000c1",
            "preferred": true
        }])),
    )
    .await;
    ovh("DELETE", &clone)
        .and(body_string(""))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let s = Snapctl::bare();
    let seen = s.home.path().join("verify.log");
    let file = wire_fleet(
        &s,
        &format!(
            "provider = \"ovh-efs\"\nendpoint = \"{}/1.0\"\nservice = \"{SERVICE}\"\napplication_key = \"{AK}\"\napplication_secret = \"{AS}\"\nconsumer_key = \"{CK}\"\n",
            server.uri()
        ),
        &wire_policy(
            &s,
            SHARE,
            &format!(
                "every = \"1d\", verify = 'echo \"$SNAPCTL_DRILL_VOLUME_ID $SNAPCTL_DRILL_EXPORT_PATH\" > {}'",
                seen.display()
            ),
        ),
    );
    let report = wire_apply(&s, &file).await;
    let d = &report["policies"][0]["drills"][0];
    assert_eq!(d["status"], "ok", "{d}");
    assert_eq!(d["restored_volume_id"], CLONE);
    assert_eq!(d["size_gib"], 500);
    assert_eq!(
        std::fs::read_to_string(&seen).expect("verify ran").trim(),
        format!("{CLONE} 127.0.0.1:/share_6b1e1f3a_0000_4000_8000_0000000000c1")
    );
    let posted = server
        .received_requests()
        .await
        .expect("recorded")
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("the restore");
    let body: Value = serde_json::from_slice(&posted.body).expect("json body");
    let name = body["name"].as_str().expect("name").to_string();
    assert!(
        name.starts_with("snapctl-drill.wire.") && name.len() == 35,
        "{name}"
    );
    assert_eq!(
        body,
        serde_json::json!({
            "name": name,
            "description": format!("snapctl:v1 drill policy=wire snapshot={snap}"),
            "protocol": "NFS",
            "size": 500,
            "snapshotID": snap
        })
    );
}
