//! powervc end to end: Keystone v3 auth (body, token reuse, re-auth on 401, catalog selection) and
//! the volume service (paging, snapshots with force, clone-volumes tasks, clone from snapshot,
//! revert by microversion, error shapes).

use crate::common::*;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const V1: &str = "11111111-0000-4000-8000-000000000001";
const V2: &str = "11111111-0000-4000-8000-000000000002";
const S1: &str = "33333333-0000-4000-8000-000000000001";
const S2: &str = "33333333-0000-4000-8000-000000000002";
const TASK: &str = "84a0bb4d-4644-40b0-b45a-00d2d0d75b2a";

fn ok(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_raw(fixture(&format!("powervc/{name}")), "application/json")
        .insert_header(
            "x-openstack-request-id",
            "req-0a1b2c3d-0000-4000-8000-0000000000aa",
        )
}

/// GET on the volume service with the current token.
async fn get(server: &MockServer, p: &str, resp: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .respond_with(resp)
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn volume_list_pages_by_marker_with_one_token() {
    let server = powervc_server(1).await;
    Mock::given(method("GET"))
        .and(path(pvc_path("/volumes/detail")))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .and(query_param("limit", "1000"))
        .and(query_param("marker", V2))
        .respond_with(ok(200, "volumes-page2.json"))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(pvc_path("/volumes/detail")))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .and(query_param("limit", "1000"))
        .respond_with(ok(200, "volumes-page1.json"))
        .with_priority(2)
        .mount(&server)
        .await;
    let out = Snapctl::powervc(&server)
        .run(&["-o", "json", "volume", "list"])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0]["id"], V1);
    assert_eq!(arr[0]["name"], "db-data");
    assert_eq!(arr[0]["created_at"], "2025-10-01T08:00:00.000Z");
    assert_eq!(arr[1]["state"], "available");
    assert_eq!(arr[1]["provider_state"], "in-use");
    // expect(1) on Keystone: one token for all pages (checked when the server drops).
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_renews_the_token_once_and_repeats_the_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .and(body_json(keystone_auth_body()))
        .respond_with(keystone_token(&server, "gAAAAAB-expired-token"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(keystone_token(&server, PVC_TOKEN))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(pvc_path(&format!("/volumes/{V1}"))))
        .and(header("X-Auth-Token", "gAAAAAB-expired-token"))
        .respond_with(ok(401, "error-keystone-401.json"))
        .expect(1)
        .mount(&server)
        .await;
    get(
        &server,
        &pvc_path(&format!("/volumes/{V1}")),
        ok(200, "volume-available.json"),
    )
    .await;
    let out = Snapctl::powervc(&server)
        .run(&["-o", "ids", "volume", "show", V1])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{V1}\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_exit_5_with_keystone_words() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(ok(401, "error-keystone-401.json"))
        .mount(&server)
        .await;
    let out = Snapctl::powervc(&server).run(&["volume", "list"]).await;
    assert_exit(&out, 5);
    let err = stderr(&out);
    assert!(
        err.contains("The request you have made requires authentication. (401 Unauthorized, x-openstack-request-id req-0a1b2c3d"),
        "{err}"
    );
    assert!(!err.contains(PVC_PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_password_and_token_never_appear_in_traces() {
    let server = powervc_server(1).await;
    get(
        &server,
        &pvc_path(&format!("/volumes/{V1}")),
        ok(200, "volume-available.json"),
    )
    .await;
    let out = Snapctl::powervc(&server)
        .run(&["-vv", "volume", "show", V1])
        .await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("> X-Auth-Token: ***"), "{err}");
    assert!(err.contains("< x-subject-token: ***"), "{err}");
    assert!(err.contains("[body of"), "{err}");
    assert!(
        !err.contains(PVC_PASSWORD) && !err.contains(PVC_TOKEN),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_in_use_volume_needs_force_and_tags_become_metadata() {
    let server = powervc_server(2).await;
    get(
        &server,
        &pvc_path(&format!("/volumes/{V2}")),
        ok(200, "volume-in-use.json"),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(pvc_path("/snapshots")))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .and(body_json(json!({"snapshot": {
            "volume_id": V2, "name": "nightly", "force": true, "metadata": {"env": "prod"}
        }})))
        .respond_with(ok(202, "snapshot-creating.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(pvc_path(&format!("/snapshots/{S2}"))))
        .respond_with(ok(200, "snapshot-creating.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    get(
        &server,
        &pvc_path(&format!("/snapshots/{S2}")),
        ok(200, "snapshot-available.json"),
    )
    .await;
    let cli = Snapctl::powervc(&server);
    let refused = cli
        .run(&["snapshot", "create", "--volume", V2, "--name", "nightly"])
        .await;
    assert_exit(&refused, 2);
    assert_stderr_has(&refused, "--force");
    let out = cli
        .run(&[
            "-o", "json", "snapshot", "create", "--volume", V2, "--name", "nightly", "--tag",
            "env=prod", "--force", "--wait",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["id"], S2);
    assert_eq!(v["state"], "available");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_waits_until_gone_and_error_deleting_fails_with_a_hint() {
    let server = powervc_server(1).await;
    Mock::given(method("DELETE"))
        .and(path(pvc_path(&format!("/snapshots/{S1}"))))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(pvc_path(&format!("/snapshots/{S1}"))))
        .respond_with(ok(200, "snapshot-deleting.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    get(
        &server,
        &pvc_path(&format!("/snapshots/{S1}")),
        ok(404, "error-item-not-found.json"),
    )
    .await;
    let out = Snapctl::powervc(&server)
        .run(&["-o", "json", "snapshot", "delete", S1, "--wait"])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["status"], "deleted");

    let server = powervc_server(1).await;
    Mock::given(method("DELETE"))
        .and(path(pvc_path(&format!("/snapshots/{S1}"))))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    get(
        &server,
        &pvc_path(&format!("/snapshots/{S1}")),
        ok(200, "snapshot-error-deleting.json"),
    )
    .await;
    let out = Snapctl::powervc(&server)
        .run(&["snapshot", "delete", S1, "--wait"])
        .await;
    assert_exit(&out, 1);
    assert_stderr_has(&out, "error_deleting");
    assert_stderr_has(&out, "snapshot-reset-state");
}

#[tokio::test(flavor = "multi_thread")]
async fn clone_volumes_polls_our_own_url_until_success_and_prints_the_pairs() {
    let server = powervc_server(1).await;
    Mock::given(method("POST"))
        .and(path(pvc_path("/clone-volumes")))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .and(body_json(json!({"clone-volumes": {
            "display-name": "nightly", "volumes": [V1, V2]
        }})))
        .respond_with(ok(200, "clone-volumes-response.json"))
        .expect(1)
        .mount(&server)
        .await;
    let progress = pvc_path("/clone-volumes/get_progress");
    Mock::given(method("GET"))
        .and(path(&progress))
        .and(query_param("action", "clone-volumes"))
        .and(query_param("task_id", TASK))
        .respond_with(ok(200, "clone-progress-running.json"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(&progress))
        .and(query_param("task_id", TASK))
        .respond_with(ok(200, "clone-progress-success.json"))
        .with_priority(2)
        .mount(&server)
        .await;
    let out = Snapctl::powervc(&server)
        .run(&[
            "-o", "json", "clone", "--volume", V1, "--volume", V2, "--name", "nightly", "--wait",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["source_volume_id"], V1);
    assert_eq!(v[0]["volume_id"], "44444444-0000-4000-8000-000000000001");
    assert_eq!(v[1]["source_volume_id"], V2);
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_task_prints_the_clone_pairs() {
    let server = powervc_server(1).await;
    Mock::given(method("GET"))
        .and(path(pvc_path("/clone-volumes/get_progress")))
        .and(query_param("task_id", TASK))
        .respond_with(ok(200, "clone-progress-success.json"))
        .mount(&server)
        .await;
    let out = Snapctl::powervc(&server)
        .run(&["-o", "json", "wait", "--task", TASK])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["source_volume_id"], V1);
    assert_eq!(v[0]["volume_id"], "44444444-0000-4000-8000-000000000001");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reverted_clone_fails_with_the_failure_message() {
    let server = powervc_server(2).await;
    Mock::given(method("POST"))
        .and(path(pvc_path("/clone-volumes")))
        .respond_with(ok(200, "clone-volumes-response.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(pvc_path("/clone-volumes/get_progress")))
        .and(query_param("task_id", TASK))
        .respond_with(ok(200, "clone-progress-running.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    get(
        &server,
        &pvc_path("/clone-volumes/get_progress"),
        ok(200, "clone-progress-reverted.json"),
    )
    .await;
    let out = Snapctl::powervc(&server)
        .run(&["clone", "--volume", V1, "--volume", V2, "--wait"])
        .await;
    assert_exit(&out, 1);
    assert_stderr_has(
        &out,
        "failed: REVERTED (Volume 11111111-0000-4000-8000-000000000002 is not in a state that allows clone)",
    );
    // Without --wait: the task id, and how to wait for it.
    let started = Snapctl::powervc(&server)
        .run(&["clone", "--volume", V1])
        .await;
    assert_exit(&started, 0);
    assert_eq!(stdout(&started), format!("{TASK}\n"));
    assert!(stderr(&started).contains(&format!("wait --task {TASK}")));
}

#[tokio::test(flavor = "multi_thread")]
async fn clone_from_a_snapshot_creates_a_cinder_volume() {
    let server = powervc_server(2).await;
    get(
        &server,
        &pvc_path(&format!("/snapshots/{S1}")),
        ok(200, "snapshot-source.json"),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(pvc_path("/volumes")))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .and(body_json(
            json!({"volume": {"snapshot_id": S1, "name": "restore", "size": 40}}),
        ))
        .respond_with(ok(202, "volume-from-snapshot-creating.json"))
        .expect(1)
        .mount(&server)
        .await;
    let clone = pvc_path("/volumes/22222222-0000-4000-8000-000000000001");
    Mock::given(method("GET"))
        .and(path(&clone))
        .respond_with(ok(200, "volume-from-snapshot-creating.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    get(
        &server,
        &clone,
        ok(200, "volume-from-snapshot-available.json"),
    )
    .await;
    let out = Snapctl::powervc(&server)
        .run(&[
            "-o",
            "json",
            "clone",
            "--snapshot",
            S1,
            "--name",
            "restore",
            "--size",
            "40",
            "--wait",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["state"], "available");
    let small = Snapctl::powervc(&server)
        .run(&["clone", "--snapshot", S1, "--size", "10"])
        .await;
    assert_exit(&small, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn revert_uses_the_3_40_action_when_the_service_has_it() {
    let server = powervc_server(1).await;
    get(&server, "/v3/", ok(200, "versions.json")).await;
    Mock::given(method("POST"))
        .and(path(pvc_path(&format!("/volumes/{V1}/action"))))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .and(header("OpenStack-API-Version", "volume 3.40"))
        .and(body_json(json!({"revert": {"snapshot_id": S1}})))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(pvc_path(&format!("/volumes/{V1}"))))
        .respond_with(ok(200, "volume-reverting.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    get(
        &server,
        &pvc_path(&format!("/volumes/{V1}")),
        ok(200, "volume-available.json"),
    )
    .await;
    let out = Snapctl::powervc(&server)
        .run(&[
            "-o",
            "ids",
            "revert",
            "--volume",
            V1,
            "--snapshot",
            S1,
            "--yes",
            "--wait",
        ])
        .await;
    assert_exit(&out, 0);

    let old = powervc_server(1).await;
    get(&old, "/v3/", ok(200, "versions-old.json")).await;
    let out = Snapctl::powervc(&old)
        .run(&["revert", "--volume", V1, "--snapshot", S1, "--yes"])
        .await;
    assert_exit(&out, 3);
    assert_stderr_has(&out, "max microversion 3.27");
}

#[tokio::test(flavor = "multi_thread")]
async fn cinder_faults_map_to_exit_codes_with_request_ids() {
    let server = powervc_server(1).await;
    get(
        &server,
        &pvc_path(&format!("/snapshots/{S1}")),
        ok(404, "error-item-not-found.json"),
    )
    .await;
    let out = Snapctl::powervc(&server)
        .run(&["snapshot", "show", S1])
        .await;
    assert_exit(&out, 4);
    assert_stderr_has(
        &out,
        &format!(
            "Snapshot {S1} could not be found. (404 itemNotFound, x-openstack-request-id req-0a1b2c3d"
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_list_filters_by_volume() {
    let server = powervc_server(1).await;
    Mock::given(method("GET"))
        .and(path(pvc_path("/snapshots/detail")))
        .and(query_param("volume_id", V1))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .respond_with(ok(200, "snapshots.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::powervc(&server)
        .run(&["-o", "json", "snapshot", "list", "--volume", V1])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["created_at"], "2025-11-20T09:30:00.464Z");
    assert_eq!(v[1]["state"], "creating");
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_and_schedules_are_not_offered_and_ids_are_checked() {
    let server = MockServer::start().await;
    let cli = Snapctl::powervc(&server);
    let out = cli.run(&["copy", "--snapshot", S1]).await;
    assert_exit(&out, 3);
    assert_stderr_has(&out, "clone --snapshot");
    assert_exit(&cli.run(&["schedule", "list", "--volume", V1]).await, 3);
    assert_exit(&cli.run(&["volume", "show", "db-data"]).await, 2);
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_openstack_credentials_exit_5() {
    let server = MockServer::start().await;
    let mut cli = Snapctl::powervc(&server);
    cli.envs.retain(|(k, _)| k != "OS_PASSWORD");
    let out = cli.run(&["volume", "list"]).await;
    assert_exit(&out, 5);
    assert_stderr_has(&out, "missing PowerVC credentials: password");
}

#[tokio::test(flavor = "multi_thread")]
async fn clouds_yaml_is_read_for_os_cloud() {
    let server = powervc_server(1).await;
    get(
        &server,
        &pvc_path(&format!("/volumes/{V1}")),
        ok(200, "volume-available.json"),
    )
    .await;
    let mut cli = Snapctl::powervc(&server);
    cli.envs.clear();
    cli.args.truncate(2);
    let dir = cli.home.path().join("config/openstack");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("clouds.yaml"),
        format!(
            "clouds:\n  pvc:\n    auth:\n      auth_url: {}/v3/\n      username: {PVC_USER}\n      password: {PVC_PASSWORD}\n      project_name: ibm-default\n    region_name: RegionOne\n",
            server.uri()
        ),
    )
    .expect("write");
    let out = cli
        .env("OS_CLOUD", "pvc")
        .run(&["-o", "ids", "volume", "show", V1])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{V1}\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn update_renames_a_cinder_snapshot() {
    let server = powervc_server(1).await;
    Mock::given(method("PUT"))
        .and(path(pvc_path(&format!("/snapshots/{S2}"))))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .and(body_json(
            json!({"snapshot": {"name": "nightly", "description": "kept"}}),
        ))
        .respond_with(ok(200, "snapshot-available.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::powervc(&server)
        .run(&[
            "-o",
            "ids",
            "snapshot",
            "update",
            S2,
            "--name",
            "nightly",
            "--description",
            "kept",
        ])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{S2}\n"));
}

/// The next page's marker (the last volume of the page) deleted between two pages: Cinder answers
/// 404 `MarkerNotFound`, and the listing goes on from the volume before it, listing nothing twice
/// and missing nothing. When every volume of the page is gone it fails (exit 4), never short.
#[tokio::test(flavor = "multi_thread")]
async fn a_marker_deleted_between_pages_is_stepped_over_not_a_failed_listing() {
    let page = |marker: Option<&str>, resp: ResponseTemplate, priority: u8| {
        let mut m = Mock::given(method("GET"))
            .and(path(pvc_path("/volumes/detail")))
            .and(header("X-Auth-Token", PVC_TOKEN));
        if let Some(v) = marker {
            m = m.and(query_param("marker", v));
        }
        m.respond_with(resp).with_priority(priority).expect(1)
    };
    let v3 = "11111111-0000-4000-8000-000000000003";
    let listed = format!("{V1}\n{V2}\n{v3}\n");
    // (the answer to marker V2, to marker V1 if it is asked, exit code, stdout)
    let cases = [
        // V2 gone: on from V1, everything listed once.
        (
            (404, "error-marker-not-found.json"),
            Some((200, "volumes-page2.json")),
            0,
            listed.as_str(),
        ),
        // V2 and V1 gone: nothing left on the page to go on from.
        (
            (404, "error-marker-not-found.json"),
            Some((404, "error-marker-not-found.json")),
            4,
            "",
        ),
        // Another error on the marker's page is the listing's own: no stepping back.
        ((400, "error-bad-request.json"), None, 1, ""),
    ];
    for (after_v2, after_v1, code, want) in cases {
        let server = powervc_server(1).await;
        page(Some(V2), ok(after_v2.0, after_v2.1), 1)
            .mount(&server)
            .await;
        if let Some((status, body)) = after_v1 {
            page(Some(V1), ok(status, body), 1).mount(&server).await;
        }
        page(None, ok(200, "volumes-page1.json"), 2)
            .mount(&server)
            .await;
        let out = Snapctl::powervc(&server)
            .run(&["-o", "ids", "volume", "list"])
            .await;
        assert_exit(&out, code);
        if code == 0 {
            assert_eq!(stdout(&out), want);
        } else {
            assert!(stdout(&out).is_empty(), "never a short list");
        }
        server.verify().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_next_link_that_loops_is_an_error_not_a_short_list() {
    let server = powervc_server(1).await;
    // Every page says "next: marker V2": a broken chain.
    get(
        &server,
        &pvc_path("/volumes/detail"),
        ok(200, "volumes-page1.json"),
    )
    .await;
    let out = Snapctl::powervc(&server).run(&["volume", "list"]).await;
    assert_exit(&out, 1);
    assert_stderr_has(&out, "repeated marker");
    assert_stderr_has(&out, "the listing is incomplete");
    assert!(stdout(&out).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_near_its_expiry_is_renewed_before_the_next_call() {
    let server = MockServer::start().await;
    // Issued 100 s ago, expiring in 1 s: inside the renewal margin from the start.
    let mut body: Value = serde_json::from_slice(
        &String::from_utf8(fixture("powervc/token.json"))
            .expect("utf-8")
            .replace("https://powervc.example.com:9000", &server.uri())
            .into_bytes(),
    )
    .expect("json");
    let now = jiff::Timestamp::now();
    body["token"]["issued_at"] = json!((now - jiff::SignedDuration::from_secs(100)).to_string());
    body["token"]["expires_at"] = json!((now + jiff::SignedDuration::from_secs(1)).to_string());
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("X-Subject-Token", PVC_TOKEN)
                .set_body_json(body),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(pvc_path("/volumes/detail")))
        .and(query_param("marker", V2))
        .respond_with(ok(200, "volumes-page2.json"))
        .with_priority(1)
        .mount(&server)
        .await;
    get(
        &server,
        &pvc_path("/volumes/detail"),
        ok(200, "volumes-page1.json"),
    )
    .await;
    let out = Snapctl::powervc(&server)
        .run(&["-o", "ids", "volume", "list"])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).lines().count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn over_limit_with_retry_after_is_retried_for_reads_and_the_volume_endpoint_overrides_the_catalog()
 {
    let server = powervc_server(1).await;
    // The catalog points at /v3/{project}; the override moves the volume service elsewhere.
    let moved = "/block/v3/7f00d7a82d9c4142a295298087bf0001";
    Mock::given(method("GET"))
        .and(path(format!("{moved}/volumes/{V1}")))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .respond_with(
            ResponseTemplate::new(413)
                .insert_header("Retry-After", "0")
                .set_body_raw(fixture("powervc/error-over-limit.json"), "application/json"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{moved}/volumes/{V1}")))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .respond_with(ok(200, "volume-available.json"))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    let endpoint = format!("{}{moved}", server.uri());
    let out = Snapctl::powervc(&server)
        .run(&[
            "--volume-endpoint",
            &endpoint,
            "-o",
            "ids",
            "volume",
            "show",
            V1,
        ])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{V1}\n"));
}

/// A volume endpoint without a project id (`…/v3`, as Cinder allows since 3.67): the version
/// document is `…/v3/`, not the service root (whose `300 Multiple Choices` listing is an answer
/// too, not a redirect), and revert is offered.
#[tokio::test(flavor = "multi_thread")]
async fn revert_finds_the_version_document_when_the_endpoint_has_no_project_id() {
    let server = powervc_server(1).await;
    get(&server, "/v3/", ok(200, "versions.json")).await;
    Mock::given(method("POST"))
        .and(path(format!("/v3/volumes/{V1}/action")))
        .and(header("OpenStack-API-Version", "volume 3.40"))
        .and(body_json(json!({"revert": {"snapshot_id": S1}})))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    get(
        &server,
        &format!("/v3/volumes/{V1}"),
        ok(200, "volume-available.json"),
    )
    .await;
    let endpoint = format!("{}/v3", server.uri());
    let out = Snapctl::powervc(&server)
        .run(&[
            "--volume-endpoint",
            &endpoint,
            "-o",
            "ids",
            "revert",
            "--volume",
            V1,
            "--snapshot",
            S1,
            "--yes",
        ])
        .await;
    assert_exit(&out, 0);

    // An endpoint at the service root: its 300 listing is the version document.
    let root = powervc_server(1).await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(
            ResponseTemplate::new(300)
                .set_body_raw(fixture("powervc/versions-root.json"), "application/json"),
        )
        .expect(1)
        .mount(&root)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/volumes/{V1}/action")))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&root)
        .await;
    get(
        &root,
        &format!("/volumes/{V1}"),
        ok(200, "volume-available.json"),
    )
    .await;
    let out = Snapctl::powervc(&root)
        .run(&[
            "--volume-endpoint",
            &root.uri(),
            "revert",
            "--volume",
            V1,
            "--snapshot",
            S1,
            "--yes",
        ])
        .await;
    assert_exit(&out, 0);
}

/// The version document is an absolute-URL call: a 401 there renews the token once and repeats
/// it, like every other call.
#[tokio::test(flavor = "multi_thread")]
async fn a_401_on_the_version_document_renews_the_token_once() {
    let server = powervc_server(2).await;
    Mock::given(method("GET"))
        .and(path("/v3/"))
        .respond_with(ok(401, "error-keystone-401.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    get(&server, "/v3/", ok(200, "versions-old.json")).await;
    let out = Snapctl::powervc(&server)
        .run(&["revert", "--volume", V1, "--snapshot", S1, "--yes"])
        .await;
    assert_exit(&out, 3);
    assert_stderr_has(&out, "max microversion 3.27");
}

/// A server whose Keystone answers exactly `body` (the auth body snapctl must send).
async fn keystone_expecting(body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .and(body_json(body))
        .respond_with(keystone_token(&server, PVC_TOKEN))
        .expect(1)
        .mount(&server)
        .await;
    get(
        &server,
        &pvc_path(&format!("/volumes/{V1}")),
        ok(200, "volume-available.json"),
    )
    .await;
    server
}

/// `OS_USER_ID`, `OS_USER_DOMAIN_ID` and `OS_PROJECT_DOMAIN_ID` reach Keystone as keystoneauth
/// sends them: a user by id carries no domain; a domain by id wins over one by name.
#[tokio::test(flavor = "multi_thread")]
async fn openstack_ids_for_users_and_domains_reach_keystone() {
    let by_id = keystone_expecting(json!({"auth": {
        "identity": {"methods": ["password"],
            "password": {"user": {"id": "4b7f1ad2c0e14bbe9d4f0e0a7c1d2e3f", "password": PVC_PASSWORD}}},
        "scope": {"project": {"name": "ibm-default", "domain": {"id": "default"}}}}}))
    .await;
    let mut cli = Snapctl::powervc(&by_id);
    cli.envs.retain(|(k, _)| k != "OS_USERNAME");
    let out = cli
        .env("OS_USER_ID", "4b7f1ad2c0e14bbe9d4f0e0a7c1d2e3f")
        .env("OS_PROJECT_DOMAIN_ID", "default")
        .env("OS_PROJECT_DOMAIN_NAME", "Ignored")
        .run(&["-o", "ids", "volume", "show", V1])
        .await;
    assert_exit(&out, 0);

    let domains = keystone_expecting(json!({"auth": {
        "identity": {"methods": ["password"],
            "password": {"user": {"name": PVC_USER, "domain": {"id": "d0a1b2c3"}, "password": PVC_PASSWORD}}},
        "scope": {"project": {"id": PVC_PROJECT}}}}))
    .await;
    let out = Snapctl::powervc(&domains)
        .env("OS_USER_DOMAIN_ID", "d0a1b2c3")
        .env("OS_PROJECT_ID", PVC_PROJECT)
        .run(&["-o", "ids", "volume", "show", V1])
        .await;
    assert_exit(&out, 0);
}

/// openstacksdk reads `clouds.yml` as well as `clouds.yaml`, and merges `secure.yaml` (where the
/// password usually lives) over it; snapctl does the same.
#[tokio::test(flavor = "multi_thread")]
async fn clouds_yml_and_secure_yaml_are_read_as_openstacksdk_reads_them() {
    let server = keystone_expecting(keystone_auth_body()).await;
    let mut cli = Snapctl::powervc(&server);
    cli.envs.clear();
    cli.args.truncate(2);
    let dir = cli.home.path().join("config/openstack");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("clouds.yml"),
        format!(
            "clouds:\n  pvc:\n    auth:\n      auth_url: {}/v3/\n      username: {PVC_USER}\n      password: not-this-one\n      project_name: ibm-default\n    region_name: RegionOne\n    identity_api_version: 3\n",
            server.uri()
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("secure.yaml"),
        format!("clouds:\n  pvc:\n    auth:\n      password: {PVC_PASSWORD}\n"),
    )
    .expect("write");
    let out = cli
        .env("OS_CLOUD", "pvc")
        .run(&["-o", "ids", "volume", "show", V1])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{V1}\n"));
}

/// An `auth:` key snapctl does not know is an error naming the key, never silently ignored (a
/// misspelt domain would scope the token elsewhere). Nothing is sent.
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_auth_key_in_clouds_yaml_is_an_error() {
    let server = MockServer::start().await;
    let mut cli = Snapctl::powervc(&server);
    cli.envs.clear();
    cli.args.truncate(2);
    std::fs::write(
        cli.home.path().join("clouds.yaml"),
        format!(
            "clouds:\n  pvc:\n    auth:\n      auth_url: {}/v3/\n      username: {PVC_USER}\n      password: {PVC_PASSWORD}\n      user_domian_name: Other\n",
            server.uri()
        ),
    )
    .expect("write");
    let out = cli
        .env("OS_CLOUD", "pvc")
        .run(&["volume", "show", V1])
        .await;
    assert_exit(&out, 5);
    assert_stderr_has(&out, "user_domian_name");
    assert_stderr_has(&out, "user_domain_name");
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

/// A metadata filter goes to Cinder as `metadata={"k":"v"}`, and is still checked locally.
#[tokio::test(flavor = "multi_thread")]
async fn volume_metadata_filters_are_pushed_down_to_cinder() {
    let server = powervc_server(1).await;
    Mock::given(method("GET"))
        .and(path(pvc_path("/volumes/detail")))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .and(query_param("metadata", "{\"backup\":\"gold\"}"))
        .respond_with(ok(200, "volumes-page2.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::powervc(&server)
        .run(&[
            "-o",
            "json",
            "volume",
            "list",
            "--filter",
            "tag.backup=gold",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    // The fixture's volume has no such metadata: the local check leaves it out.
    assert_eq!(v, serde_json::json!([]));
}

/// `--filter state=available` goes to Cinder as `status=available`; the answer is still checked
/// (the fixture's creating snapshot is left out).
#[tokio::test(flavor = "multi_thread")]
async fn snapshot_state_filters_are_pushed_down_to_cinder() {
    let server = powervc_server(1).await;
    Mock::given(method("GET"))
        .and(path(pvc_path("/snapshots/detail")))
        .and(query_param("volume_id", V1))
        .and(query_param("status", "available"))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .respond_with(ok(200, "snapshots.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::powervc(&server)
        .run(&[
            "-o",
            "json",
            "snapshot",
            "list",
            "--volume",
            V1,
            "--filter",
            "state=available",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        v.as_array()
            .is_some_and(|a| a.iter().all(|s| s["state"] == "available")),
        "{v}"
    );
}

/// A restore drill on the wire: the policy's newest snapshot (it answers the tick: nothing is
/// taken) becomes a Cinder volume whose name, description and metadata carry the drill's mark in
/// the one `POST /volumes`; it is read until available, then `DELETE /volumes/{id}` (202) and
/// read until 404, all with the one token.
#[tokio::test(flavor = "multi_thread")]
async fn a_drill_restores_a_volume_and_deletes_it_as_cinder_expects() {
    let server = powervc_server(1).await;
    let owned = json!({
        "created_at": "2025-10-02T00:00:04.000000",
        "description": "snapctl:v1 policy=wire tick=20251002T000000Z",
        "id": S2,
        "metadata": {"snapctl:policy": "wire"},
        "name": "snapctl.wire.20251002T000000Z",
        "os-extended-snapshot-attributes:progress": "100%",
        "os-extended-snapshot-attributes:project_id": "38d2d7a82d9c4142a295298087bf9459",
        "size": 20,
        "status": "available",
        "updated_at": null,
        "volume_id": V1
    });
    let answer = |v: Value| {
        ResponseTemplate::new(200).set_body_json(v).insert_header(
            "x-openstack-request-id",
            "req-0a1b2c3d-0000-4000-8000-0000000000ab",
        )
    };
    // One page: the first volume of the paged fixture.
    let mut volumes: Value =
        serde_json::from_slice(&fixture("powervc/volumes-page1.json")).expect("fixture");
    volumes["volumes"]
        .as_array_mut()
        .expect("volumes")
        .truncate(1);
    volumes
        .as_object_mut()
        .expect("object")
        .remove("volumes_links");
    get(&server, &pvc_path("/volumes/detail"), answer(volumes)).await;
    get(
        &server,
        &pvc_path("/snapshots/detail"),
        answer(json!({"snapshots": [owned.clone()]})),
    )
    .await;
    get(
        &server,
        &pvc_path(&format!("/snapshots/{S2}")),
        answer(json!({"snapshot": owned})),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(pvc_path("/volumes")))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .respond_with(ok(202, "volume-from-snapshot-creating.json"))
        .expect(1)
        .mount(&server)
        .await;
    let clone = pvc_path("/volumes/22222222-0000-4000-8000-000000000001");
    Mock::given(method("GET"))
        .and(path(&clone))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .respond_with(ok(200, "volume-from-snapshot-available.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    get(&server, &clone, ok(404, "error-item-not-found.json")).await;
    Mock::given(method("DELETE"))
        .and(path(&clone))
        .and(header("X-Auth-Token", PVC_TOKEN))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let s = Snapctl::bare();
    let file = wire_fleet(
        &s,
        &format!(
            "provider = \"powervc\"\nendpoint = \"{}/v3\"\nregion = \"RegionOne\"\nusername = \"{PVC_USER}\"\npassword = \"{PVC_PASSWORD}\"\n",
            server.uri()
        ),
        &wire_policy(&s, V1, "every = \"1d\""),
    );
    let report = wire_apply(&s, &file).await;
    let d = &report["policies"][0]["drills"][0];
    assert_eq!(d["status"], "ok", "{d}");
    assert_eq!(d["snapshot_id"], S2);
    assert_eq!(
        d["restored_volume_id"],
        "22222222-0000-4000-8000-000000000001"
    );
    let posted = server
        .received_requests()
        .await
        .expect("recorded")
        .into_iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == pvc_path("/volumes"))
        .expect("the restore");
    let body: Value = serde_json::from_slice(&posted.body).expect("json body");
    let name = body["volume"]["name"].as_str().expect("name").to_string();
    assert!(
        name.starts_with("snapctl-drill.wire.") && name.len() == 35,
        "{name}"
    );
    assert_eq!(
        body,
        json!({"volume": {
            "snapshot_id": S2,
            "name": name,
            "description": format!("snapctl:v1 drill policy=wire snapshot={S2}"),
            "metadata": {"snapctl:drill": "wire"}
        }})
    );
}
