//! ovh-nasha end to end: partitions, custom and scheduled snapshots, tasks, schedules, the
//! 10-snapshot limit and the by-hand restore guidance.

use crate::common::*;
use serde_json::Value;
use wiremock::matchers::{body_string, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Task 42 answers the given fixtures in order, the last one forever.
async fn task_sequence(server: &MockServer, id: u32, states: &[&str]) {
    let p = nasha_path(&format!("/task/{id}"));
    for (i, st) in states.iter().enumerate() {
        let last = i == states.len() - 1;
        let mut m = ovh("GET", &p)
            .respond_with(json(200, &format!("ovh-nasha/task-{st}.json")))
            .with_priority((i + 1) as u8);
        if !last {
            m = m.up_to_n_times(1);
        }
        m.mount(server).await;
    }
}

async fn mount_partition(server: &MockServer) {
    ovh_get(
        server,
        &nasha_path("/partition/partition1/customSnapshot"),
        json(200, "ovh-nasha/custom-names.json"),
    )
    .await;
    ovh_get(
        server,
        &nasha_path("/partition/partition1/customSnapshot/snapctl-20251120T093000Z"),
        json(200, "ovh-nasha/custom-snapctl.json"),
    )
    .await;
    ovh_get(
        server,
        &nasha_path("/partition/partition1/customSnapshot/before-upgrade"),
        json(200, "ovh-nasha/custom-before-upgrade.json"),
    )
    .await;
    ovh_get(
        server,
        &nasha_path("/partition/partition1/snapshot"),
        json(200, "ovh-nasha/schedules.json"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_are_partitions() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &nasha_path("/partition"),
        json(200, "ovh-nasha/partitions.json"),
    )
    .await;
    ovh_get(
        &server,
        &nasha_path("/partition/partition1"),
        json(200, "ovh-nasha/partition1.json"),
    )
    .await;
    ovh_get(
        &server,
        &nasha_path("/partition/backups"),
        json(200, "ovh-nasha/backups.json"),
    )
    .await;
    let out = Snapctl::nasha(&server)
        .run(&["-o", "json", "volume", "list"])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["id"], "partition1");
    assert_eq!(v[0]["size_gib"], 500);
    assert_eq!(v[1]["id"], "backups");
    assert_eq!(v[0]["provider"], "ovh-nasha");
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_list_shows_custom_and_scheduled_with_expiry() {
    let server = ovh_server().await;
    mount_partition(&server).await;
    let out = Snapctl::nasha(&server)
        .run(&["-o", "json", "snapshot", "list", "--volume", "partition1"])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[0]["id"], "snapctl-20251120T093000Z");
    assert_eq!(arr[0]["kind"], "manual");
    assert_eq!(arr[0]["expires_at"], "2025-12-20T08:30:00.000Z");
    assert_eq!(arr[0]["created_at"], "2025-11-20T09:30:00.000Z");
    assert_eq!(arr[1]["id"], "before-upgrade");
    assert_eq!(arr[1]["expires_at"], Value::Null);
    assert_eq!(arr[1]["created_at"], Value::Null);
    assert_eq!(arr[2]["id"], "hour-1");
    assert_eq!(arr[2]["kind"], "scheduled");
}

/// A custom snapshot deleted between the list of names and its read (another rotate, an expiry,
/// a killed run's delete task) answers 404: it is gone, so it is left out; the partition's other
/// snapshots are listed and the command succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_gone_between_the_names_and_its_read_is_skipped() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &nasha_path("/partition/partition1/customSnapshot"),
        ResponseTemplate::new(200).set_body_json(serde_json::json!([
            "snapctl-20251120T093000Z",
            "snapctl-20251119T093000Z",
            "before-upgrade"
        ])),
    )
    .await;
    ovh_get(
        &server,
        &nasha_path("/partition/partition1/customSnapshot/snapctl-20251120T093000Z"),
        json(200, "ovh-nasha/custom-snapctl.json"),
    )
    .await;
    ovh_get(
        &server,
        &nasha_path("/partition/partition1/customSnapshot/snapctl-20251119T093000Z"),
        ResponseTemplate::new(404).set_body_json(serde_json::json!({
            "class": "Client::NotFound",
            "message": "The requested object (name = snapctl-20251119T093000Z) does not exist"
        })),
    )
    .await;
    ovh_get(
        &server,
        &nasha_path("/partition/partition1/customSnapshot/before-upgrade"),
        json(200, "ovh-nasha/custom-before-upgrade.json"),
    )
    .await;
    ovh_get(
        &server,
        &nasha_path("/partition/partition1/snapshot"),
        json(200, "ovh-nasha/schedules.json"),
    )
    .await;
    let out = Snapctl::nasha(&server)
        .run(&["-o", "ids", "snapshot", "list", "--volume", "partition1"])
        .await;
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        "snapctl-20251120T093000Z\nbefore-upgrade\nhour-1\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_with_expiry_waits_for_the_task() {
    // A date a year from today (a fixed date would fall into the past one day).
    let day = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .checked_add(jiff::Span::new().years(1))
        .expect("date");
    let server = ovh_server().await;
    mount_partition(&server).await;
    ovh("POST", nasha_path("/partition/partition1/customSnapshot"))
        .and(body_string(format!(
            r#"{{"name":"nightly","expiration":"{day}T00:00:00Z"}}"#
        )))
        .respond_with(json(200, "ovh-nasha/task-todo.json"))
        .expect(1)
        .mount(&server)
        .await;
    task_sequence(&server, 42, &["todo", "doing", "done"]).await;
    ovh_get(
        &server,
        &nasha_path("/partition/partition1/customSnapshot/nightly"),
        // The API answers the expiration at its own hour (the fixture's shape, today's date).
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "expiration": format!("{day}T09:00:00Z"),
            "name": "nightly",
        })),
    )
    .await;
    let out = Snapctl::nasha(&server)
        .run(&[
            "-o",
            "json",
            "snapshot",
            "create",
            "--volume",
            "partition1",
            "--name",
            "nightly",
            "--expires",
            &day.to_string(),
            "--wait",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["id"], "nightly");
    assert_eq!(v["state"], "available");
    assert_eq!(v["expires_at"], format!("{day}T09:00:00.000Z"));
    let polls = api_requests(&server)
        .await
        .iter()
        .filter(|r| r.url.path().ends_with("/task/42"))
        .count();
    assert_eq!(polls, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duration_expiry_becomes_a_date() {
    let server = ovh_server().await;
    mount_partition(&server).await;
    ovh("POST", nasha_path("/partition/partition1/customSnapshot"))
        .respond_with(json(200, "ovh-nasha/task-todo.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::nasha(&server)
        .run(&[
            "snapshot",
            "create",
            "--volume",
            "partition1",
            "--name",
            "weekly",
            "--expires",
            "7d",
        ])
        .await;
    assert_exit(&out, 0);
    let post = api_requests(&server)
        .await
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .expect("POST");
    let body: Value = serde_json::from_slice(&post.body).expect("json");
    let exp: jiff::Timestamp = body["expiration"]
        .as_str()
        .expect("expiration")
        .parse()
        .expect("RFC 3339");
    let days = exp.duration_since(jiff::Timestamp::now()).as_secs() as f64 / 86400.0;
    assert!((6.9..=7.0).contains(&days), "{days}");
    // Without --wait, the task id and how to wait for it.
    assert!(
        stderr(&out).contains("task 42 started; wait for it with: snapctl -p ovh-nasha --service zpool-123456 wait --task 42"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_task_follows_a_task_started_earlier() {
    let server = ovh_server().await;
    task_sequence(&server, 42, &["todo", "done"]).await;
    let out = Snapctl::nasha(&server)
        .run(&["-o", "json", "wait", "--task", "42"])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        v,
        serde_json::json!({"provider": "ovh-nasha", "task_id": "42", "state": "done"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_tasks_end_the_wait_with_their_details() {
    for (state, word) in [
        (
            "customerError",
            "snapshot name already used on this partition",
        ),
        ("ovhError", "ovhError"),
        ("cancelled", "cancelled"),
    ] {
        let server = ovh_server().await;
        task_sequence(&server, 42, &["doing", state]).await;
        let out = Snapctl::nasha(&server).run(&["wait", "--task", "42"]).await;
        assert_exit(&out, 1);
        assert!(stderr(&out).contains(word), "{state}: {}", stderr(&out));
        assert_stderr_has(&out, "task 42 to finish failed");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vanished_task_ends_the_wait_at_once_with_the_query_id() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &nasha_path("/task/42"),
        json(404, "ovh-nasha/error-404-task.json"),
    )
    .await;
    let out = Snapctl::nasha(&server)
        .run(&["--timeout", "1h", "wait", "--task", "42"])
        .await;
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(err.contains("(taskId = 42) does not exist"), "{err}");
    assert!(
        err.contains("X-Ovh-QueryID EU.ext-3.63ac85b6.10528.test"),
        "{err}"
    );
    assert_eq!(
        api_requests(&server).await.len(),
        1,
        "no polling after a 404"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_eleventh_custom_snapshot_is_refused_before_sending() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &nasha_path("/partition/partition1/customSnapshot"),
        json(200, "ovh-nasha/custom-names-full.json"),
    )
    .await;
    let out = Snapctl::nasha(&server)
        .run(&[
            "snapshot",
            "create",
            "--volume",
            "partition1",
            "--name",
            "one-more",
        ])
        .await;
    assert_exit(&out, 2);
    assert_stderr_has(
        &out,
        "already has 10 custom snapshots, the NAS-HA limit is 10",
    );
    assert!(
        api_requests(&server)
            .await
            .iter()
            .all(|r| r.method.as_str() == "GET")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_snapshots_cannot_be_deleted() {
    let server = MockServer::start().await;
    let out = Snapctl::nasha(&server)
        .run(&["snapshot", "delete", "hour-1", "--volume", "partition1"])
        .await;
    assert_exit(&out, 3);
    assert!(
        stderr(&out)
            .contains("snapctl -p ovh-nasha --service zpool-123456 schedule remove --volume partition1 --every hour-1"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_returns_the_task_id() {
    let server = ovh_server().await;
    Mock::given(method("DELETE"))
        .and(path(nasha_path(
            "/partition/partition1/customSnapshot/before-upgrade",
        )))
        .and(OvhSigned)
        .respond_with(json(200, "ovh-nasha/task-delete-todo.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::nasha(&server)
        .run(&[
            "-o",
            "json",
            "snapshot",
            "delete",
            "before-upgrade",
            "--volume",
            "partition1",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["status"], "deleting");
    assert_eq!(v[0]["task_id"], "43");
}

#[tokio::test(flavor = "multi_thread")]
async fn clone_and_revert_print_the_commands_to_do_it_by_hand() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &nasha_path(""),
        json(200, "ovh-nasha/storage.json"),
    )
    .await;
    let out = Snapctl::nasha(&server)
        .run(&[
            "clone",
            "--volume",
            "partition1",
            "--snapshot",
            "before-upgrade",
        ])
        .await;
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("mount -t nfs 192.0.2.40:/zpool-123456/partition1 /mnt/partition1"),
        "{err}"
    );
    assert!(
        err.contains(
            "rsync -a /mnt/partition1/.zfs/snapshot/before-upgrade/ /mnt/partition1-before-upgrade/"
        ),
        "{err}"
    );
    let out = Snapctl::nasha(&server)
        .run(&[
            "revert",
            "--volume",
            "partition1",
            "--snapshot",
            "before-upgrade",
            "--yes",
        ])
        .await;
    assert_exit(&out, 3);
    assert!(
        stderr(&out)
            .contains("rsync -a /mnt/partition1/.zfs/snapshot/before-upgrade/ /mnt/partition1/"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_are_listed_added_and_removed() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &nasha_path("/partition/partition1/snapshot"),
        json(200, "ovh-nasha/schedules.json"),
    )
    .await;
    ovh("POST", nasha_path("/partition/partition1/snapshot"))
        .and(body_string(r#"{"snapshotType":"day-1"}"#))
        .respond_with(json(200, "ovh-nasha/task-schedule-todo.json"))
        .expect(1)
        .mount(&server)
        .await;
    ovh(
        "DELETE",
        nasha_path("/partition/partition1/snapshot/hour-1"),
    )
    .respond_with(json(200, "ovh-nasha/task-schedule-todo.json"))
    .expect(1)
    .mount(&server)
    .await;
    task_sequence(&server, 44, &["doing", "done"]).await;
    let cli = Snapctl::nasha(&server);
    let list = cli
        .run(&["-o", "json", "schedule", "list", "--volume", "partition1"])
        .await;
    assert_exit(&list, 0);
    let v: Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(v[0]["id"], "hour-1");
    assert_eq!(v[0]["rules"][0]["schedule"], "every hour");
    let add = cli
        .run(&[
            "-o",
            "ids",
            "schedule",
            "add",
            "--volume",
            "partition1",
            "--every",
            "day-1",
            "--wait",
        ])
        .await;
    assert_exit(&add, 0);
    let rm = cli
        .run(&[
            "schedule",
            "remove",
            "--volume",
            "partition1",
            "--every",
            "hour-1",
        ])
        .await;
    assert_exit(&rm, 0);
    let bad = cli
        .run(&[
            "schedule",
            "add",
            "--volume",
            "partition1",
            "--every",
            "minute-5",
        ])
        .await;
    assert_exit(&bad, 2);
    assert!(stderr(&bad).contains("NAS-HA offers hour-1, hour-6, day-1, day-2, day-3, day-7"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_names_never_reach_the_api() {
    let server = MockServer::start().await;
    let cli = Snapctl::nasha(&server);
    for args in [
        &["snapshot", "list", "--volume", "../partition1"][..],
        &["snapshot", "delete", "a/b", "--volume", "partition1"][..],
        &["volume", "show", "part ition"][..],
        &["--service", "zpool/1", "volume", "list"][..],
    ] {
        let out = cli.run(args).await;
        assert_exit(&out, 2);
    }
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}
