//! Copies in another Region (`copy = [{ … }]` in a policy, OUTSCALE) end to end against the
//! emulator, which serves two Regions (each its own account and keys) and OOS: export to the
//! bucket, pre-signed URL, import in the other Region with the mark carried over, the image
//! deleted; the destination's own retention; a failed copy resumed by the next run; `plan`,
//! `check`, the metrics; and `validate`'s refusals.

use std::path::PathBuf;

use serde_json::Value;
use snapctl::emulator::{Emulator, OSC_BUCKET, OSC_DR_AK, OSC_DR_REGION, OSC_DR_SK};
use snapctl::provider::ProviderKind;

use crate::common::{assert_exit, stderr, stdout};
use crate::emulator::{Cli, start};

/// The profiles file: `dr`, the account in the other Region (its endpoint and keys).
fn profiles(cli: &Cli, emu: &Emulator) {
    let dir = cli.home().join("config/snapctl");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[profiles.dr]\nprovider = \"outscale\"\nendpoint = \"{}/api/v1\"\nregion = \"{OSC_DR_REGION}\"\naccess_key = \"{OSC_DR_AK}\"\nsecret_key = \"{OSC_DR_SK}\"\n",
            emu.base()
        ),
    )
    .expect("profiles");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
}

/// One OUTSCALE policy on the demo volume, every hour, copying to the other Region.
fn policy_file(cli: &Cli, emu: &Emulator, copy_keep: &str) -> PathBuf {
    let text = format!(
        "metrics_file = \"{}\"\n\n[[policy]]\nid = \"c-osc\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 3 }}\ncopy = [{{ region = \"{OSC_DR_REGION}\", profile = \"dr\", bucket = \"{OSC_BUCKET}\", keep = {copy_keep}, timeout = \"1min\" }}]\n",
        cli.home().join("snapctl.prom").display(),
        emu.demo_volume(ProviderKind::Outscale),
    );
    let path = cli.home().join("fleet.toml");
    std::fs::write(&path, text).expect("policy file");
    path
}

async fn apply(cli: &Cli<'_>, file: &std::path::Path, at: Option<&str>, code: i32) -> Value {
    let mut extra = vec!["-vv"];
    if let Some(at) = at {
        extra.extend(["--at", at]);
    }
    let mut args = vec!["-o", "json", "policy", "apply", "-f"];
    args.push(file.to_str().expect("utf-8"));
    args.extend(extra);
    let out = cli.bare(&args).await;
    assert_exit(&out, code);
    // A pre-signed URL is a credential: never in the report nor the (redacted) trace.
    for text in [stdout(&out), stderr(&out)] {
        assert!(
            !text.contains("X-Amz-Signature=") && !text.contains("X-Amz-Credential="),
            "a pre-signed URL leaked:\n{text}"
        );
    }
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", stdout(&out)))
}

/// The snapshots the destination account holds.
async fn at_destination(cli: &Cli<'_>) -> Vec<Value> {
    let out = cli
        .bare(&["--profile", "dr", "-o", "json", "snapshot", "list"])
        .await;
    assert_exit(&out, 0);
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("json")
        .as_array()
        .expect("list")
        .clone()
}

fn policy(report: &Value) -> &Value {
    &report["policies"][0]
}

fn hours(n: i64) -> String {
    (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(n)).to_string()
}

/// A snapshot reaches the other Region through export and import, with the mark carried over
/// and no image left in the bucket; the destination keeps its own retention as the source
/// snapshots come; `plan`, `check` and the metrics say so.
#[tokio::test(flavor = "multi_thread")]
async fn copies_reach_the_other_region_with_their_own_retention_and_leave_no_image() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    let file = policy_file(&cli, &emu, "{ last = 2 }");
    let f = file.to_str().expect("utf-8");
    let plan = cli.bare(&["policy", "plan", "-f", f]).await;
    assert_exit(&plan, 0);
    let shown = stdout(&plan);
    assert!(
        shown.contains(&format!(
            "~ copy {} to {OSC_DR_REGION}: the snapshot this run takes: export to bucket {OSC_BUCKET}, import in {OSC_DR_REGION}, delete the image",
            emu.demo_volume(ProviderKind::Outscale)
        )) && shown.contains("Copies: 1 to make, 0 to delete."),
        "{shown}"
    );

    let report = apply(&cli, &file, None, 0).await;
    let p = policy(&report);
    let copies = p["copies"].as_array().expect("copies");
    assert_eq!(copies.len(), 1, "{p}");
    assert_eq!(copies[0]["status"], "ok", "{p}");
    let taken = p["units"][0]["created"]["id"].as_str().expect("a snapshot");
    assert_eq!(
        copies[0]["snapshot_id"], taken,
        "this run's snapshot is copied"
    );
    let copy_id = copies[0]["copy_id"].as_str().expect("copy id").to_string();
    assert!(
        emu.bucket_keys(OSC_BUCKET).is_empty(),
        "the image is deleted"
    );
    let there = at_destination(&cli).await;
    assert_eq!(there.len(), 1, "{there:?}");
    let copy = &there[0];
    assert_eq!(copy["id"], copy_id.as_str());
    assert_eq!(copy["state"], "available");
    let description = copy["description"].as_str().expect("description");
    assert!(
        description.starts_with("snapctl:v1 copy policy=c-osc tick=")
            && description.ends_with(&format!("of={taken} from=eu-west-2 acct=123456789012")),
        "{description}"
    );
    assert!(
        copy["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("snapctl.c-osc.")),
        "{copy}"
    );
    assert_eq!(copy["size_gib"], 10, "SnapshotSize covers the volume");
    let metrics = std::fs::read_to_string(cli.home().join("snapctl.prom")).expect("metrics");
    assert!(
        metrics.contains(&format!(
            "snapctl_copy_last_success_timestamp_seconds{{policy=\"c-osc\",volume_id=\"{}\",region=\"{OSC_DR_REGION}\"}}",
            emu.demo_volume(ProviderKind::Outscale)
        )) && metrics.contains("snapctl_copy_failures{policy=\"c-osc\"} 0"),
        "{metrics}"
    );
    let check = cli.bare(&["policy", "check", "-f", f]).await;
    assert_exit(&check, 0);

    // Three more hourly runs: each copies its snapshot; the destination keeps two.
    for n in 1..=3 {
        let report = apply(&cli, &file, Some(&hours(n)), 0).await;
        let p = policy(&report);
        assert_eq!(p["copies"].as_array().map(Vec::len), Some(1), "{p}");
        assert_eq!(p["copies"][0]["status"], "ok", "{p}");
        if n >= 2 {
            let gone = p["copy_deletions"].as_array().expect("deletions");
            assert_eq!(gone.len(), 1, "{p}");
            assert_eq!(gone[0]["ok"], true, "{p}");
        }
    }
    let there = at_destination(&cli).await;
    assert_eq!(there.len(), 2, "{there:?}");
    assert!(
        there.iter().all(|s| s["id"] != copy_id.as_str()),
        "the oldest copy went"
    );
    assert!(emu.bucket_keys(OSC_BUCKET).is_empty());
    // Nothing left to do an hour later but the next snapshot's copy.
    let plan = cli
        .bare(&["policy", "plan", "-f", f, "--at", &hours(3)])
        .await;
    assert_exit(&plan, 0);
    assert!(!stdout(&plan).contains("~ copy"), "{}", stdout(&plan));
    // The coverage report says which copies each volume has, in every format.
    let vol = emu.demo_volume(ProviderKind::Outscale);
    let report = |format: &'static str| {
        let (cli, f, at) = (&cli, f.to_string(), hours(3));
        async move {
            let out = cli
                .bare(&[
                    "-o", format, "policy", "report", "-f", &f, "--since", "1d", "--at", &at,
                ])
                .await;
            assert_exit(&out, 0);
            stdout(&out)
        }
    };
    let json: Value = serde_json::from_str(&report("json").await).expect("json");
    let volume = &json["policies"][0]["volumes"][0];
    assert_eq!(volume["volume_id"], vol.as_str());
    assert_eq!(volume["copies"][0]["region"], OSC_DR_REGION, "{volume}");
    assert_eq!(volume["copies"][0]["copies"], 2, "{volume}");
    assert_eq!(volume["copies"][0]["present"], true, "{volume}");
    assert_eq!(json["totals"]["copies_missing"], 0);
    let csv = report("csv").await;
    assert!(
        csv.lines().next().is_some_and(|h| h.ends_with(",copies"))
            && csv.contains(&format!("{OSC_DR_REGION}: 2, newest ")),
        "{csv}"
    );
    let html = report("html").await;
    assert!(
        html.contains("<th scope=\"col\">Copies</th>")
            && html.contains(&format!("<td class=\"copies\">{OSC_DR_REGION}: 2, newest ")),
        "{html}"
    );
}

/// A copy that fails (the bucket is gone: the export is refused) fails the run (exit 6) and
/// `check` warns that the destination has no copy; once the bucket is back, the next run copies
/// the snapshots that have none there, newest first.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_copy_fails_the_run_warns_and_is_resumed_by_the_next_run() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    let file = policy_file(&cli, &emu, "{ last = 5 }");
    let f = file.to_str().expect("utf-8");
    emu.set_bucket(OSC_BUCKET, false);
    let report = apply(&cli, &file, None, 6).await;
    let p = policy(&report);
    assert_eq!(p["status"], "failed", "{p}");
    assert_eq!(p["copies"][0]["status"], "failed", "{p}");
    assert_eq!(p["copies"][0]["step"], "export", "{p}");
    assert!(
        p["copies"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("bucket")),
        "{p}"
    );
    assert_eq!(p["copy_errors"], Value::Null, "one failure per copy: {p}");
    // The volume never had a copy: the alert on a missing copy still sees it (0: none), and the
    // missing bucket is one failure, not two (the export's, not also the sweep's).
    let metrics = std::fs::read_to_string(cli.home().join("snapctl.prom")).expect("metrics");
    let volume = emu.demo_volume(ProviderKind::Outscale);
    assert!(
        metrics.contains(&format!(
            "snapctl_copy_last_success_timestamp_seconds{{policy=\"c-osc\",volume_id=\"{volume}\",region=\"{OSC_DR_REGION}\"}} 0\n"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("snapctl_copy_failures{policy=\"c-osc\"} 1\n"),
        "{metrics}"
    );
    let check = cli.bare(&["policy", "check", "-f", f]).await;
    assert_exit(&check, 1);
    assert!(
        stdout(&check).contains(&format!("no copy in {OSC_DR_REGION}")),
        "{}",
        stdout(&check)
    );
    let first = p["units"][0]["created"]["id"]
        .as_str()
        .expect("taken")
        .to_string();

    emu.set_bucket(OSC_BUCKET, true);
    // Nothing to take this tick, but a copy to make: a change for --detailed-exitcode.
    let plan = cli
        .bare(&["policy", "plan", "--detailed-exitcode", "-f", f])
        .await;
    assert_exit(&plan, 10);
    assert!(
        stdout(&plan).contains(&format!("snapshot {first}"))
            && stdout(&plan).contains("Plan: 0 to create")
            && stdout(&plan).contains("Copies: 1 to make"),
        "{}",
        stdout(&plan)
    );
    let report = apply(&cli, &file, Some(&hours(1)), 0).await;
    let p = policy(&report);
    let copied: Vec<&str> = p["copies"]
        .as_array()
        .expect("copies")
        .iter()
        .map(|c| {
            assert_eq!(c["status"], "ok", "{c}");
            c["snapshot_id"].as_str().expect("id")
        })
        .collect();
    let second = p["units"][0]["created"]["id"].as_str().expect("taken");
    // Both have a copy now, the newest first (the seeded snapshot is not the policy's).
    assert_eq!(copied, [second, first.as_str()], "{p}");
    assert_eq!(at_destination(&cli).await.len(), 2);
    assert!(emu.bucket_keys(OSC_BUCKET).is_empty());
    let check = cli
        .bare(&["policy", "check", "-f", f, "--at", &hours(1)])
        .await;
    assert_exit(&check, 0);
}

/// `validate` refuses a copy where there is no route (EFS), one whose profile is not defined,
/// and one to the policy's own region (exit 2, with the line).
#[tokio::test(flavor = "multi_thread")]
async fn validate_refuses_a_copy_without_a_route_a_profile_or_another_region() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    let cases = [
        (
            "provider = \"ovh-efs\"\nservice = \"x\"",
            "dr",
            OSC_DR_REGION,
            "no export of a snapshot to a bucket",
        ),
        (
            "provider = \"outscale\"",
            "nope",
            OSC_DR_REGION,
            "no such profile",
        ),
        (
            "provider = \"outscale\"\nregion = \"eu-west-2\"",
            "dr",
            "eu-west-2",
            "the policy's own region",
        ),
    ];
    for (on, profile, region, why) in cases {
        let path = cli.home().join("bad.toml");
        std::fs::write(
            &path,
            format!(
                "[[policy]]\nid = \"c\"\n{on}\nevery = \"1h\"\nselect = {{ all = true }}\nkeep = {{ last = 1 }}\ncopy = [{{ region = \"{region}\", profile = \"{profile}\", bucket = \"b-1\", keep = {{ last = 1 }} }}]\n"
            ),
        )
        .expect("write");
        let out = cli
            .bare(&["policy", "validate", "-f", path.to_str().expect("utf-8")])
            .await;
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("policy \"c\", copy") && stderr(&out).contains(why),
            "{why}: {}",
            stderr(&out)
        );
    }
}

/// A run killed (`kill -9`) while the destination imports: the next run copies nothing twice
/// (the copy arrived, and counts), deletes the image the killed run left in the bucket, and the
/// destination holds one copy.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_during_the_import_leaves_one_copy_and_the_next_run_removes_the_image() {
    if cfg!(windows) {
        return;
    }
    let emu = snapctl::emulator::start(snapctl::emulator::EmulatorConfig {
        delay: std::time::Duration::from_millis(1500),
        ..Default::default()
    })
    .await
    .expect("emulator");
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    let file = policy_file(&cli, &emu, "{ last = 5 }");
    let cmd = cli.apply_process(&file);
    let importing = async {
        // The second CreateSnapshot is the import (the first took the snapshot).
        for _ in 0..400 {
            let creates = emu
                .changes()
                .iter()
                .filter(|c| c.as_str() == "POST /api/v1/CreateSnapshot")
                .count();
            if creates >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let out = crate::common::signal_when(cmd, "KILL", importing).await;
    assert!(out.status.code().is_none(), "killed: {}", stderr(&out));
    assert_eq!(
        emu.bucket_keys(OSC_BUCKET).len(),
        1,
        "the killed run left its image"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let report = apply(&cli, &file, None, 0).await;
    let p = policy(&report);
    assert!(p.get("copies").is_none(), "nothing copied twice: {p}");
    assert!(emu.bucket_keys(OSC_BUCKET).is_empty(), "the image is swept");
    let there = at_destination(&cli).await;
    assert_eq!(there.len(), 1, "{there:?}");
    assert_eq!(p["copies_held"][0]["copies"], 1, "{p}");
}

/// A copy entry whose profile is another Region's account than the entry says: planning that
/// destination fails (exit 6, saying which region the profile is for), and nothing is copied.
#[tokio::test(flavor = "multi_thread")]
async fn a_profile_of_another_region_than_the_entry_fails_the_plan() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    let file = policy_file(&cli, &emu, "{ last = 2 }");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        text.replace(
            &format!("region = \"{OSC_DR_REGION}\""),
            "region = \"eu-west-1\"",
        ),
    )
    .expect("write");
    let plan = cli
        .bare(&["policy", "plan", "-f", file.to_str().expect("utf-8")])
        .await;
    assert_exit(&plan, 6);
    assert!(
        stderr(&plan).contains(&format!(
            "copy to eu-west-1: profile \"dr\" is for region {OSC_DR_REGION}, not eu-west-1"
        )),
        "{}",
        stderr(&plan)
    );
    let report = apply(&cli, &file, None, 6).await;
    let p = policy(&report);
    assert!(p.get("copies").is_none(), "{p}");
    assert_eq!(at_destination(&cli).await.len(), 0);
}

/// A copy deleted at the destination by hand is made again by the next run: the earlier export
/// task (completed, its image deleted) is not reused, a new export is made.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_deleted_by_hand_is_made_again_with_a_new_export() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    let file = policy_file(&cli, &emu, "{ last = 2 }");
    let report = apply(&cli, &file, None, 0).await;
    let first = policy(&report)["copies"][0]["copy_id"]
        .as_str()
        .expect("copied")
        .to_string();
    let out = cli
        .bare(&["--profile", "dr", "snapshot", "delete", &first])
        .await;
    assert_exit(&out, 0);
    assert!(at_destination(&cli).await.is_empty());
    let report = apply(&cli, &file, None, 0).await;
    let p = policy(&report);
    assert_eq!(p["copies"][0]["status"], "ok", "{p}");
    let there = at_destination(&cli).await;
    assert_eq!(there.len(), 1, "{there:?}");
    assert_ne!(there[0]["id"], first.as_str());
    assert!(emu.bucket_keys(OSC_BUCKET).is_empty());
}

/// A destination that cannot be read (a wrong secret in its profile; it holds copies) is
/// `unknown` with its error in every format of `policy report`, never "0 copies", and the report
/// exits 6 naming the profile to fix. `check` with a failed restore drill beside that unreadable
/// destination exits CRITICAL (2): CRITICAL outranks UNKNOWN, every item's line still prints.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_destination_is_unknown_and_never_hides_a_failed_drill() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    let state = cli.home().join("state");
    let text = format!(
        "state_dir = \"{}\"\n\n[[policy]]\nid = \"c-osc\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 3 }}\ncopy = [{{ region = \"{OSC_DR_REGION}\", profile = \"dr\", bucket = \"{OSC_BUCKET}\", keep = {{ last = 5 }}, timeout = \"1min\" }}]\ndrill = {{ every = \"1d\", volumes = 1, verify = 'false', timeout = \"2min\" }}\n",
        state.display(),
        emu.demo_volume(ProviderKind::Outscale),
    );
    let file = cli.home().join("fleet.toml");
    std::fs::write(&file, text).expect("policy file");
    let f = file.to_str().expect("utf-8");
    // The copy is made, the drill fails (its verify says no).
    let report = apply(&cli, &file, None, 6).await;
    let p = policy(&report);
    assert_eq!(p["copies"][0]["status"], "ok", "{p}");
    assert_eq!(p["drills"][0]["status"], "failed", "{p}");
    assert_eq!(at_destination(&cli).await.len(), 1);
    // Now the destination's secret is wrong.
    let path = cli.home().join("config/snapctl/config.toml");
    let profiles_text = std::fs::read_to_string(&path).expect("profiles");
    std::fs::write(
        &path,
        profiles_text.replace(OSC_DR_SK, "WRONGSECRETWRONGSECRETWRONGSECRET0000000"),
    )
    .expect("profiles");
    let out = cli.bare(&["-o", "json", "policy", "report", "-f", f]).await;
    assert_exit(&out, 6);
    let cov: Value = serde_json::from_slice(&out.stdout).expect("json");
    let copies = &cov["policies"][0]["volumes"][0]["copies"][0];
    assert!(copies["copies"].is_null(), "{copies}");
    assert!(
        copies["error"]
            .as_str()
            .is_some_and(|e| e.contains("profile \"dr\"")),
        "{copies}"
    );
    assert_eq!(cov["totals"]["copies_unknown"], 1, "{}", cov["totals"]);
    assert!(stderr(&out).contains("profile \"dr\""), "{}", stderr(&out));
    for format in ["table", "csv", "html"] {
        let out = cli.bare(&["-o", format, "policy", "report", "-f", f]).await;
        assert_exit(&out, 6);
        let text = stdout(&out);
        assert!(text.contains("unknown"), "{format}: {text}");
        assert!(!text.contains(": 0 (not recent)"), "{format}: {text}");
    }
    let check = cli.bare(&["policy", "check", "-f", f]).await;
    assert_exit(&check, 2);
    let text = stdout(&check);
    assert!(text.starts_with("SNAPCTL CRITICAL"), "{text}");
    assert!(text.contains("CRITICAL: policy c-osc volume"), "{text}");
    assert!(text.contains("UNKNOWN: policy c-osc"), "{text}");
}

/// Where a signature parameter's value shows in `text` (any case, any encoding) instead of
/// `***`: the text around it.
fn signature_leak(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    for key in ["x-amz-signature", "x-amz-credential"] {
        for (at, _) in lower.match_indices(key) {
            let rest = &lower[at + key.len()..];
            let value = ["=", "%3d", "%253d"]
                .iter()
                .find_map(|e| rest.strip_prefix(e));
            if let Some(value) = value
                && !value.starts_with("***")
            {
                let end = (at + 120).min(text.len());
                return Some(text[at..end].to_string());
            }
        }
    }
    None
}

/// A destination that echoes the pre-signed URL back in its error (as a bare query string, as
/// `HTTP://`, URL-encoded, or JSON-escaped `http:\/\/`) never gets it into stdout, stderr
/// (`-vv` traces included), `report_file` or the history: the signature and credential are
/// redacted wherever they appear, by the parameter itself.
#[tokio::test(flavor = "multi_thread")]
async fn an_echoed_pre_signed_url_leaks_in_no_form_anywhere() {
    for form in 0..4u8 {
        let emu = start().await;
        let cli = Cli::new(&emu);
        profiles(&cli, &emu);
        let report = cli.home().join("last.json");
        let history = cli.home().join("history");
        let text = format!(
            "report_file = \"{}\"\nhistory_dir = \"{}\"\n\n[[policy]]\nid = \"c-osc\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 3 }}\ncopy = [{{ region = \"{OSC_DR_REGION}\", profile = \"dr\", bucket = \"{OSC_BUCKET}\", keep = {{ last = 5 }}, timeout = \"1min\" }}]\n",
            report.display(),
            history.display(),
            emu.demo_volume(ProviderKind::Outscale),
        );
        let file = cli.home().join("fleet.toml");
        std::fs::write(&file, text).expect("policy file");
        emu.refuse_imports_echoing(Some(form));
        let out = cli
            .bare(&[
                "-vv",
                "-o",
                "json",
                "policy",
                "apply",
                "-f",
                file.to_str().expect("utf-8"),
            ])
            .await;
        assert_exit(&out, 6);
        let run: Value = serde_json::from_slice(&out.stdout).expect("json");
        let copy = &run["policies"][0]["copies"][0];
        assert_eq!(copy["step"], "import", "form {form}: {copy}");
        let error = copy["error"].as_str().expect("error");
        assert!(error.contains("cannot be read"), "form {form}: {error}");
        let mut texts = vec![
            ("stdout", stdout(&out)),
            ("stderr", stderr(&out)),
            (
                "report_file",
                std::fs::read_to_string(&report).expect("report"),
            ),
        ];
        for entry in std::fs::read_dir(&history).expect("history") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                let bytes = std::fs::read(&path).expect("history file");
                texts.push(("history", String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
        assert!(
            texts
                .iter()
                .any(|(_, t)| t.to_ascii_lowercase().contains("x-amz-signature")),
            "form {form}: the echo reached the outputs (redacted)"
        );
        for (what, t) in &texts {
            assert_eq!(signature_leak(t), None, "form {form}: {what} leaks");
        }
    }
}

/// A bucket listing is the server's word: one that ignores the prefix asked for (or a key put
/// there by another user of the bucket) never makes a foreign object the image that is imported
/// or deleted, and a key shorter than the prefix, or cut inside a character, panics nothing: the
/// due snapshot is taken, the copy made from the real image, the strangers left and warned about.
#[tokio::test(flavor = "multi_thread")]
async fn a_bucket_listing_beyond_the_prefix_is_never_trusted() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    let file = policy_file(&cli, &emu, "{ last = 5 }");
    let strangers = [
        "prod/db-dump.qcow2",
        "sn",
        "snapctl/c-osc/\u{e9}",
        "snapctl/c-osc/cloudgouv-eu-west-1/\u{e9}",
        "snapctl/c-osc/cloudgouv-eu-west-1/snap-x",
    ];
    for key in strangers {
        // Bigger than any image: the largest listed object would be taken for the image.
        emu.put_object(OSC_BUCKET, key, 1 << 40);
    }
    emu.list_ignoring_prefix(true);
    let out = cli
        .bare(&[
            "-o",
            "json",
            "policy",
            "apply",
            "-f",
            file.to_str().expect("utf-8"),
        ])
        .await;
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let p = policy(&report);
    assert!(p["units"][0]["created"]["id"].is_string(), "{p}");
    assert_eq!(p["copies"][0]["status"], "ok", "{p}");
    assert!(
        stderr(&out).contains("prod/db-dump.qcow2") && stderr(&out).contains("skipped"),
        "{}",
        stderr(&out)
    );
    let mut left = emu.bucket_keys(OSC_BUCKET);
    left.sort();
    let mut want: Vec<String> = strangers.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(left, want, "only the real image was deleted");
    // The copy is the real image's: its size is the volume's, not the stranger's.
    let copies = at_destination(&cli).await;
    assert_eq!(copies.len(), 1);
    assert!(
        copies[0]["size_gib"].as_u64().is_some_and(|s| s < 1024),
        "{}",
        copies[0]
    );
}

/// Two fleets with one policy id and one DR account (or two accounts of one Region) never prune
/// each other's copies: the copy mark names the source account, and a run prunes only copies
/// from its own account of volumes the policy selects. Another account's copies, copies of
/// volumes the policy does not select, and copies made before marks carried the account are
/// shown by `plan` as not pruned, and left.
#[tokio::test(flavor = "multi_thread")]
async fn copies_of_another_account_or_volume_are_never_pruned() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    let file = policy_file(&cli, &emu, "{ last = 1 }");
    let f = file.to_str().expect("utf-8");
    let volume = emu.demo_volume(ProviderKind::Outscale);
    let mark = |tick: &str, vol: &str, of: &str, acct: &str| {
        format!("snapctl:v1 copy policy=c-osc tick={tick} vol={vol} of={of} from=eu-west-2{acct}")
    };
    let planted = [
        emu.plant_osc_snapshot(
            OSC_DR_REGION,
            &mark(
                "20261101T000000Z",
                &volume,
                "snap-0000000a",
                " acct=987654321098",
            ),
        ),
        emu.plant_osc_snapshot(
            OSC_DR_REGION,
            &mark(
                "20261101T000000Z",
                "vol-99999999",
                "snap-0000000b",
                " acct=123456789012",
            ),
        ),
        emu.plant_osc_snapshot(
            OSC_DR_REGION,
            &mark(
                "20261102T000000Z",
                "vol-99999999",
                "snap-0000000c",
                " acct=123456789012",
            ),
        ),
        emu.plant_osc_snapshot(
            OSC_DR_REGION,
            &mark("20261101T000000Z", &volume, "snap-0000000d", ""),
        ),
    ];
    let plan = cli.bare(&["policy", "plan", "-f", f]).await;
    assert_exit(&plan, 0);
    let text = stdout(&plan);
    for (id, why) in planted.iter().zip([
        "from account 987654321098",
        "not one this policy selects",
        "not one this policy selects",
        "made before copies carried their source account",
    ]) {
        assert!(
            text.contains(&format!("? copy {id} in {OSC_DR_REGION}")) && text.contains(why),
            "{id}: {text}"
        );
    }
    assert!(!text.contains("  - copy "), "{text}");
    // Three runs: the policy's own copies are pruned to `last = 1`; the planted ones stay.
    let mut deleted: Vec<String> = Vec::new();
    for at in [None, Some(hours(1)), Some(hours(2))] {
        let report = apply(&cli, &file, at.as_deref(), 0).await;
        let p = policy(&report);
        deleted.extend(
            p["copy_deletions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| x["id"].as_str().expect("id").to_string()),
        );
    }
    assert!(!deleted.is_empty(), "the policy's own copies are pruned");
    assert!(
        !planted.iter().any(|id| deleted.contains(id)),
        "{deleted:?}"
    );
    let there: Vec<String> = at_destination(&cli)
        .await
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect();
    for id in &planted {
        assert!(there.contains(id), "{id} stays: {there:?}");
    }
    // The policy's own copy there carries the source account.
    let ours = at_destination(&cli)
        .await
        .into_iter()
        .find(|s| !planted.iter().any(|id| s["id"] == id.as_str()))
        .expect("a copy of ours");
    assert!(
        ours["description"]
            .as_str()
            .is_some_and(|d| d.ends_with(" acct=123456789012")),
        "{ours}"
    );
}

/// A policy's copies to one destination run `copy_concurrency` at once (issue 41): three volumes'
/// copies, each a 2 s export and a 2 s import, start within 1.5 s of each other (one after the
/// other they would start at least 4 s apart), all complete, and the images are gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_policys_copies_run_at_once() {
    let emu = snapctl::emulator::start(snapctl::emulator::EmulatorConfig {
        delay: std::time::Duration::from_secs(2),
        volumes: 3,
        ..snapctl::emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    let file = cli.home().join("fleet.toml");
    std::fs::write(
        &file,
        format!(
            "[[policy]]\nid = \"c-osc\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = {{ name_regex = \"^fleet-\" }}\nkeep = {{ last = 3 }}\ncopy = [{{ region = \"{OSC_DR_REGION}\", profile = \"dr\", bucket = \"{OSC_BUCKET}\", keep = {{ last = 2 }}, timeout = \"1min\" }}]\ncopy_concurrency = 3\n"
        ),
    )
    .expect("policy file");
    let report = apply(&cli, &file, None, 0).await;
    let copies = policy(&report)["copies"]
        .as_array()
        .expect("copies")
        .clone();
    assert_eq!(copies.len(), 3, "{copies:?}");
    let starts: Vec<jiff::Timestamp> = copies
        .iter()
        .map(|c| {
            assert_eq!(c["status"], "ok", "{c}");
            c["started_at"]
                .as_str()
                .expect("started")
                .parse()
                .expect("time")
        })
        .collect();
    let first = *starts.iter().min().expect("a start");
    let last = *starts.iter().max().expect("a start");
    assert!(
        last.duration_since(first) < jiff::SignedDuration::from_millis(1500),
        "started {first} … {last}"
    );
    assert!(
        emu.bucket_keys(OSC_BUCKET).is_empty(),
        "the images are deleted"
    );
    assert_eq!(at_destination(&cli).await.len(), 3);
}

/// `copy_concurrency` outside 1..=16 and a `copy_budget` that is no duration are refused by
/// `validate`, with the key named.
#[tokio::test(flavor = "multi_thread")]
async fn validate_refuses_a_copy_concurrency_out_of_range_and_a_budget_that_does_not_parse() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    for n in [0, 17] {
        let path = cli.home().join("bad.toml");
        std::fs::write(
            &path,
            format!(
                "[[policy]]\nid = \"c\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = {{ all = true }}\nkeep = {{ last = 1 }}\ncopy = [{{ region = \"{OSC_DR_REGION}\", profile = \"dr\", bucket = \"b-1\", keep = {{ last = 1 }} }}]\ncopy_concurrency = {n}\n"
            ),
        )
        .expect("write");
        let out = cli
            .bare(&["policy", "validate", "-f", path.to_str().expect("utf-8")])
            .await;
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("copy_concurrency") && stderr(&out).contains("1 to 16"),
            "{n}: {}",
            stderr(&out)
        );
    }
    let path = cli.home().join("bad.toml");
    std::fs::write(
        &path,
        "[[policy]]\nid = \"c\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = { all = true }\nkeep = { last = 1 }\ncopy_budget = \"soon\"\n",
    )
    .expect("write");
    let out = cli
        .bare(&["policy", "validate", "-f", path.to_str().expect("utf-8")])
        .await;
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("copy_budget"), "{}", stderr(&out));
}

/// A run never waits for copies past `copy_budget` (issue 41): with 2 s exports and imports, a
/// one-at-a-time policy and a 1 s budget, the first volume's copy is left in flight at its
/// export and the second queued; the run succeeds and its metrics show the backlog. The next run
/// (with time to spare) waits for the same export, not a new one, and completes both.
#[tokio::test(flavor = "multi_thread")]
async fn copies_past_the_budget_stay_in_flight_and_the_next_run_completes_them() {
    let emu = snapctl::emulator::start(snapctl::emulator::EmulatorConfig {
        delay: std::time::Duration::from_secs(2),
        volumes: 2,
        ..snapctl::emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    let file = cli.home().join("fleet.toml");
    let metrics = cli.home().join("snapctl.prom");
    let write = |budget: &str| {
        std::fs::write(
            &file,
            format!(
                "metrics_file = \"{}\"\n[[policy]]\nid = \"c-osc\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = {{ name_regex = \"^fleet-\" }}\nkeep = {{ last = 3 }}\ncopy = [{{ region = \"{OSC_DR_REGION}\", profile = \"dr\", bucket = \"{OSC_BUCKET}\", keep = {{ last = 2 }}, timeout = \"1min\" }}]\ncopy_concurrency = 1\ncopy_budget = \"{budget}\"\n",
                metrics.display()
            ),
        )
        .expect("policy file");
    };
    write("1s");
    let first = apply(&cli, &file, None, 0).await;
    let copies = policy(&first)["copies"].as_array().expect("copies").clone();
    assert_eq!(copies.len(), 2, "{copies:?}");
    assert_eq!(copies[0]["status"], "in_flight", "{copies:?}");
    assert_eq!(copies[0]["step"], "export", "{copies:?}");
    assert_eq!(copies[1]["status"], "queued", "{copies:?}");
    assert!(copies[1]["started_at"].is_null(), "{copies:?}");
    assert!(at_destination(&cli).await.is_empty());
    let prom = std::fs::read_to_string(&metrics).expect("metrics");
    let series =
        |name: &str, n: u32| format!("{name}{{policy=\"c-osc\",region=\"{OSC_DR_REGION}\"}} {n}\n");
    for want in [
        series("snapctl_copy_backlog", 2),
        series("snapctl_copy_in_flight", 1),
        "snapctl_copy_failures{policy=\"c-osc\"} 0\n".to_string(),
    ] {
        assert!(prom.contains(&want), "{want}\n{prom}");
    }
    let exports_before = emu.export_task_count();

    write("1min");
    let second = apply(&cli, &file, None, 0).await;
    let again = policy(&second)["copies"]
        .as_array()
        .expect("copies")
        .clone();
    for c in &copies {
        assert!(
            again
                .iter()
                .any(|a| a["snapshot_id"] == c["snapshot_id"] && a["status"] == "ok"),
            "{c} not completed: {again:?}"
        );
    }
    assert_eq!(
        emu.export_task_count(),
        exports_before + 1,
        "the in-flight export is reused; only the queued copy exports"
    );
    assert_eq!(at_destination(&cli).await.len(), 2);
    assert!(
        emu.bucket_keys(OSC_BUCKET).is_empty(),
        "the images are deleted"
    );
    let prom = std::fs::read_to_string(&metrics).expect("metrics");
    assert!(prom.contains(&series("snapctl_copy_backlog", 0)), "{prom}");
}

/// The day a Region is lost (issue 43 §1): `policy restore --region` makes the volume in the other
/// Region from the policy's copy that answers the time, with the destination's profile only.
#[tokio::test(flavor = "multi_thread")]
async fn a_volume_is_restored_in_the_other_region_from_its_copy() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    profiles(&cli, &emu);
    let file = policy_file(&cli, &emu, "{ last = 2 }");
    let f = file.to_str().expect("utf-8");
    let report = apply(&cli, &file, None, 0).await;
    let copy_id = policy(&report)["copies"][0]["copy_id"]
        .as_str()
        .expect("a copy")
        .to_string();
    let volume = emu.demo_volume(ProviderKind::Outscale).to_string();
    // What the destination holds, as `restore --region` sees it.
    let listed = cli.bare(&["-o", "json", "policy", "copies", "-f", f]).await;
    assert_exit(&listed, 0);
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["region"], OSC_DR_REGION);
    assert_eq!(listed[0]["copy"]["copy_id"], copy_id.as_str());
    assert_eq!(listed[0]["copy"]["volume_id"], volume.as_str());
    assert_eq!(listed[0]["copy"]["state"], "available");
    let none = cli
        .bare(&["policy", "copies", "-f", f, "--volume", "vol-00000000"])
        .await;
    assert_exit(&none, 0);
    assert!(stdout(&none).contains("0 copies."), "{}", stdout(&none));
    let out = cli
        .bare(&[
            "-o",
            "json",
            "policy",
            "restore",
            "-f",
            f,
            "--policy",
            "c-osc",
            "--volume",
            &volume,
            "--region",
            OSC_DR_REGION,
            "--name",
            "dr-restored",
        ])
        .await;
    assert_exit(&out, 0);
    let made: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(made["snapshot_id"], copy_id.as_str(), "{made}");
    assert_eq!(made["region"], OSC_DR_REGION, "{made}");
    let id = made["volume_id"].as_str().expect("volume id");
    let shown = cli
        .bare(&["--profile", "dr", "-o", "json", "volume", "show", id])
        .await;
    assert_exit(&shown, 0);
    let shown: Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(shown["name"], "dr-restored", "{shown}");
    // A Region the policy does not copy to is refused before anything is sent.
    let out = cli
        .bare(&[
            "policy",
            "restore",
            "-f",
            f,
            "--policy",
            "c-osc",
            "--volume",
            &volume,
            "--region",
            "us-east-2",
            "--name",
            "x",
        ])
        .await;
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("copies nothing to us-east-2"),
        "{}",
        stderr(&out)
    );
}
