//! ovh-efs snapshot policies (schedule list|add|remove), hold and update, against wiremock doubles.

use crate::common::*;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, body_string};
use wiremock::{MockServer, ResponseTemplate};

const DEFAULT: &str = "7c1e0f3a-0000-4000-8000-0000000000f0";
const OLD: &str = "7c1e0f3a-0000-4000-8000-0000000000f1";
const NEW: &str = "7c1e0f3a-0000-4000-8000-0000000000f2";
const SHARE2: &str = "6b1e1f3a-0000-4000-8000-000000000002";

fn policy_path(id: Option<&str>) -> String {
    match id {
        Some(id) => format!("/1.0/storage/netapp/{SERVICE}/snapshotPolicy/{id}"),
        None => format!("/1.0/storage/netapp/{SERVICE}/snapshotPolicy"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn schedule_list_shows_the_attached_policy_and_with_all_the_others() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &share_path("/snapshotPolicy"),
        json(200, "ovh-efs/share-policy-old.json"),
    )
    .await;
    ovh_get(
        &server,
        &policy_path(Some(OLD)),
        json(200, "ovh-efs/policy-old.json"),
    )
    .await;
    ovh_get(
        &server,
        &policy_path(None),
        json(200, "ovh-efs/policies.json"),
    )
    .await;
    let cli = Snapctl::efs(&server);
    let out = cli
        .run(&["-o", "json", "schedule", "list", "--volume", SHARE])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v.as_array().expect("array").len(), 1);
    assert_eq!(v[0]["id"], OLD);
    assert_eq!(v[0]["volume_id"], SHARE);
    assert_eq!(
        v[0]["rules"][0],
        json!({"schedule": "30 2 * * *", "keep": 7, "prefix": "daily"})
    );

    let all = cli
        .run(&["-o", "json", "schedule", "list", "--volume", SHARE, "--all"])
        .await;
    assert_exit(&all, 0);
    let v: Value = serde_json::from_slice(&all.stdout).expect("json");
    assert_eq!(v.as_array().expect("array").len(), 3);
    assert_eq!(v[0]["id"], OLD, "the attached policy comes first");
    assert_eq!(v[1]["volume_id"], Value::Null);
    assert_eq!(v[1]["is_default"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn schedule_add_creates_waits_and_attaches_a_policy() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &share_path("/snapshotPolicy"),
        json(200, "ovh-efs/share-policy-old.json"),
    )
    .await;
    ovh_get(
        &server,
        &policy_path(Some(OLD)),
        json(200, "ovh-efs/policy-old.json"),
    )
    .await;
    ovh("POST", policy_path(None))
        .and(body_json(json!({
            "name": "nightly",
            "description": format!("made by snapctl for share {SHARE}"),
            "rules": [{"copies": 7, "prefix": "daily",
                "schedule": {"minutes": [30], "hours": [2], "days": [], "months": [], "weekdays": []}}]
        })))
        .respond_with(json(200, "ovh-efs/policy-new-creating.json"))
        .expect(1)
        .mount(&server)
        .await;
    ovh("GET", policy_path(Some(NEW)))
        .respond_with(json(200, "ovh-efs/policy-new-creating.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    ovh_get(
        &server,
        &policy_path(Some(NEW)),
        json(200, "ovh-efs/policy-new-available.json"),
    )
    .await;
    ovh("PUT", share_path("/snapshotPolicy"))
        .and(body_string(format!(r#"{{"snapshotPolicyID":"{NEW}"}}"#)))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server)
        .run(&[
            "schedule", "add", "--volume", SHARE, "--prefix", "daily", "--keep", "7", "--every",
            "day", "--at", "02:30", "--name", "nightly",
        ])
        .await;
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("snapshot policy {NEW} (nightly) is attached")),
        "{err}"
    );
    assert!(err.contains("cannot be edited later"), "{err}");
    assert!(err.contains(&format!("it replaces policy {OLD}")), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_limits_are_enforced_before_sending() {
    let server = MockServer::start().await;
    let cli = Snapctl::efs(&server);
    let five: Vec<String> = (0..5).map(|i| format!("r{i}:1:{i} 1 * * *")).collect();
    let mut args = vec!["schedule", "add", "--volume", SHARE];
    for r in &five {
        args.extend(["--rule", r.as_str()]);
    }
    let out = cli.run(&args).await;
    assert_exit(&out, 2);
    assert_stderr_has(&out, "at most 4");
    for (cron, why) in [
        ("* 2 * * *", "explicit minutes"),
        ("0 25 * * *", "hours take values 0 to 23"),
        ("0 2 * * 7", "weekdays take values 0 to 6"),
        ("0 2 *", "five fields"),
    ] {
        let out = cli
            .run(&[
                "schedule", "add", "--volume", SHARE, "--prefix", "p", "--keep", "3", "--cron",
                cron,
            ])
            .await;
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(why), "{cron}: {}", stderr(&out));
    }
    // Nothing reached the API (not even the policy lookups).
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .all(|r| r.method.as_str() == "GET")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn schedule_remove_attaches_the_default_and_deletes_an_unused_snapctl_policy() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &share_path("/snapshotPolicy"),
        json(200, "ovh-efs/share-policy-old.json"),
    )
    .await;
    ovh_get(
        &server,
        &format!("/1.0/storage/netapp/{SERVICE}/share/{SHARE2}/snapshotPolicy"),
        json(200, "ovh-efs/share-policy-default.json"),
    )
    .await;
    ovh_get(
        &server,
        &policy_path(Some(OLD)),
        json(200, "ovh-efs/policy-old.json"),
    )
    .await;
    ovh_get(
        &server,
        &policy_path(Some(DEFAULT)),
        json(200, "ovh-efs/policy-default.json"),
    )
    .await;
    ovh_get(
        &server,
        &policy_path(None),
        json(200, "ovh-efs/policies.json"),
    )
    .await;
    ovh_get(
        &server,
        &format!("/1.0/storage/netapp/{SERVICE}/share"),
        json(200, "ovh-efs/shares.json"),
    )
    .await;
    ovh("PUT", share_path("/snapshotPolicy"))
        .and(body_string(format!(
            r#"{{"snapshotPolicyID":"{DEFAULT}"}}"#
        )))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    ovh("DELETE", policy_path(Some(OLD)))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server)
        .run(&["-o", "ids", "schedule", "remove", "--volume", SHARE])
        .await;
    assert_exit(&out, 0);
    assert_stderr_has(&out, &format!("deleted policy {OLD}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn hold_prints_the_new_id_and_refuses_manual_snapshots() {
    let server = ovh_server().await;
    ovh_get(
        &server,
        &share_path(&format!("/snapshot/{AUTOMATIC}")),
        json(200, "ovh-efs/snapshot-automatic.json"),
    )
    .await;
    ovh_get(
        &server,
        &share_path(&format!("/snapshot/{MANUAL}")),
        json(200, "ovh-efs/snapshot-manual.json"),
    )
    .await;
    ovh("POST", share_path(&format!("/snapshot/{AUTOMATIC}/hold")))
        .respond_with(json(200, "ovh-efs/snapshot-held.json"))
        .expect(1)
        .mount(&server)
        .await;
    let cli = Snapctl::efs(&server);
    let out = cli
        .run(&[
            "-o", "ids", "snapshot", "hold", AUTOMATIC, "--volume", SHARE,
        ])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "6b1e1f3a-0000-4000-8000-0000000000b2\n");
    assert!(stderr(&out).contains("now manual under a new id"));
    let manual = cli
        .run(&["snapshot", "hold", MANUAL, "--volume", SHARE])
        .await;
    assert_exit(&manual, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn update_renames_with_put() {
    let server = ovh_server().await;
    ovh("PUT", share_path(&format!("/snapshot/{MANUAL}")))
        .and(body_string(
            r#"{"name":"audit-2026","description":"kept for the audit"}"#,
        ))
        .respond_with(json(200, "ovh-efs/snapshot-updated.json"))
        .expect(1)
        .mount(&server)
        .await;
    let out = Snapctl::efs(&server)
        .run(&[
            "-o",
            "json",
            "snapshot",
            "update",
            MANUAL,
            "--volume",
            SHARE,
            "--name",
            "audit-2026",
            "--description",
            "kept for the audit",
        ])
        .await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["name"], "audit-2026");
}
