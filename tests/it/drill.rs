//! Restore drills (`drill = { … }` in a policy) end to end against the emulator, on every provider
//! that can restore a snapshot to a new volume (gated by its declared `clone` capability):
//! restore, wait, verify, measure, clean up; a failing verify; a crash mid-drill and the next
//! run's clean-up; `check`, the metrics, `plan` and `orphans`.

use std::path::PathBuf;

use serde_json::Value;
use snapctl::emulator::Emulator;
use snapctl::kind::Support;
use snapctl::provider::ProviderKind;
use snapctl::providers::entry;

use crate::common::{assert_exit, stderr, stdout};
use crate::emulator::{Cli, start};

fn drillable() -> impl Iterator<Item = ProviderKind> {
    ProviderKind::ALL
        .into_iter()
        .filter(|k| entry(*k).capabilities.clone == Support::Yes)
}

/// A policy file of one policy per `kinds`, each on its demo volume, drilling one volume a day
/// with `verify`; written private (a file with a command is code).
fn policy_file(cli: &Cli, emu: &Emulator, kinds: &[ProviderKind], verify: &str) -> PathBuf {
    let mut text = format!(
        "state_dir = \"{}\"\nmetrics_file = \"{}\"\n\n",
        cli.home().join("state").display(),
        cli.home().join("snapctl.prom").display()
    );
    for k in kinds {
        let on = match Emulator::service(*k) {
            Some(s) => format!("provider = \"{}\"\nservice = \"{s}\"", k.as_str()),
            None => format!("provider = \"{}\"", k.as_str()),
        };
        text.push_str(&format!(
            "[[policy]]\nid = \"d-{}\"\n{on}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 3 }}\ndrill = {{ every = \"1d\", volumes = 1, verify = '{verify}', timeout = \"2min\", max_restore = \"1min\" }}\n\n",
            k.as_str(),
            emu.demo_volume(*k),
        ));
    }
    let path = cli.home().join("fleet.toml");
    std::fs::write(&path, text).expect("policy file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    path
}

async fn apply(cli: &Cli<'_>, file: &std::path::Path, code: i32) -> Value {
    crate::fleet::apply(cli, file, &[], code).await
}

fn policy(report: &Value, kind: ProviderKind) -> &Value {
    report["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .find(|p| p["id"] == format!("d-{}", kind.as_str()))
        .expect("the policy")
}

async fn volume_ids(cli: &Cli<'_>, kind: ProviderKind) -> Vec<String> {
    cli.json(kind, &["volume", "list"])
        .await
        .as_array()
        .expect("volumes")
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_string())
        .collect()
}

/// The whole drill on every provider that can: the newest owned snapshot (the one this run took)
/// is restored as a marked volume, the verify script sees where it is, the restore time is
/// measured, the volume is deleted; the metrics and `check` say so; a second run in the same day
/// drills nothing; NAS-HA refuses a drill when the file is validated.
#[tokio::test(flavor = "multi_thread")]
async fn a_drill_restores_verifies_measures_and_cleans_up_on_every_provider_that_can() {
    if cfg!(windows) {
        return;
    }
    let emu = start().await;
    let cli = Cli::new(&emu);
    let kinds: Vec<ProviderKind> = drillable().collect();
    assert_eq!(
        kinds.len(),
        3,
        "EFS, OUTSCALE and PowerVC restore snapshots"
    );
    let seen = cli.home().join("verify.log");
    let verify = format!(
        "echo \"$SNAPCTL_PROVIDER $SNAPCTL_VOLUME_ID $SNAPCTL_DRILL_VOLUME_ID $SNAPCTL_DRILL_SNAPSHOT_ID ${{SNAPCTL_DRILL_EXPORT_PATH:-}}${{SNAPCTL_DRILL_SUBREGION:-}}\" >> {}",
        seen.display()
    );
    let file = policy_file(&cli, &emu, &kinds, &verify);
    let before: Vec<Vec<String>> =
        futures_util::future::join_all(kinds.iter().map(|k| volume_ids(&cli, *k))).await;
    let plan = cli
        .bare(&["policy", "plan", "-f", file.to_str().expect("utf-8")])
        .await;
    assert_exit(&plan, 0);
    assert!(
        stdout(&plan).contains("~ drill ") && stdout(&plan).contains("Drills: 3 to run"),
        "{}",
        stdout(&plan)
    );
    let report = apply(&cli, &file, 0).await;
    let log = std::fs::read_to_string(&seen).expect("verify ran");
    for (k, before) in kinds.iter().zip(&before) {
        let p = policy(&report, *k);
        let drills = p["drills"].as_array().expect("drills");
        assert_eq!(drills.len(), 1, "{k}: {p}");
        let d = &drills[0];
        assert_eq!(d["status"], "ok", "{k}: {d}");
        assert_eq!(d["verified"], true);
        assert_eq!(d["cleaned_up"], true);
        assert!(d["restore_seconds"].as_f64().expect("measured") > 0.0);
        // The snapshot restored is the one this run took.
        let created = &p["units"][0]["created"]["id"];
        assert_eq!(&d["snapshot_id"], created, "{k}");
        let restored = d["restored_volume_id"].as_str().expect("restored");
        let line = log
            .lines()
            .find(|l| l.starts_with(k.as_str()))
            .unwrap_or_else(|| panic!("{k}: {log}"));
        assert!(
            line.contains(&format!(
                " {} {restored} {}",
                emu.demo_volume(*k),
                created.as_str().expect("id")
            )),
            "{line}"
        );
        match k {
            ProviderKind::OvhEfs => assert!(line.contains("127.0.0.1:/share_"), "{line}"),
            ProviderKind::Outscale => assert!(line.ends_with("eu-west-2a"), "{line}"),
            _ => {}
        }
        // Deleted: the account has the volumes it had.
        let after = volume_ids(&cli, *k).await;
        assert_eq!(&after, before, "{k}");
        assert_eq!(p["drill"]["volumes"][0]["last_ok"], true);
    }
    let metrics = std::fs::read_to_string(cli.home().join("snapctl.prom")).expect("metrics");
    for k in &kinds {
        let labels = format!(
            "policy=\"d-{}\",provider=\"{}\",volume_id=\"{}\"",
            k.as_str(),
            k.as_str(),
            emu.demo_volume(*k)
        );
        for family in [
            "snapctl_drill_last_success_timestamp_seconds",
            "snapctl_drill_restore_seconds",
        ] {
            assert!(
                metrics.contains(&format!("{family}{{{labels}}} ")),
                "{family} {labels}\n{metrics}"
            );
        }
        assert!(metrics.contains(&format!(
            "snapctl_drill_success{{policy=\"d-{}\"}} 1",
            k.as_str()
        )));
    }
    // Every drill series the shipped alert rules read is one this run wrote.
    let rules = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("deploy/prometheus/snapctl-rules.yml"),
    )
    .expect("rules");
    let read: std::collections::BTreeSet<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("snapctl_drill_"))
        .collect();
    assert_eq!(read.len(), 5, "{read:?}");
    for name in read {
        assert!(
            metrics.contains(&format!("\n{name}{{")),
            "{name}\n{metrics}"
        );
    }
    let check = cli
        .bare(&["policy", "check", "-f", file.to_str().expect("utf-8")])
        .await;
    assert_exit(&check, 0);
    // The same day again: the drill is not due.
    let again = apply(&cli, &file, 0).await;
    for k in &kinds {
        assert!(policy(&again, *k)["drills"].is_null(), "{k}");
    }
    // NAS-HA cannot restore a snapshot to a volume: the file is refused before anything runs.
    let nasha = std::fs::read_to_string(&file).expect("read").replacen(
        "provider = \"ovh-efs\"\nservice",
        "provider = \"ovh-nasha\"\nservice",
        1,
    );
    let bad = cli.home().join("nasha.toml");
    std::fs::write(&bad, nasha).expect("write");
    let out = cli
        .bare(&["policy", "validate", "-f", bad.to_str().expect("utf-8")])
        .await;
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("drill") && stderr(&out).contains("NAS-HA"),
        "{}",
        stderr(&out)
    );
    // The same when the provider comes from the policy's profile.
    let config = cli.home().join("config/snapctl");
    std::fs::create_dir_all(&config).expect("mkdir");
    std::fs::write(
        config.join("config.toml"),
        "[profiles.nas]\nprovider = \"ovh-nasha\"\nservice = \"zpool-100001\"\n",
    )
    .expect("profiles");
    let by_profile = cli.home().join("nasha-profile.toml");
    std::fs::write(
        &by_profile,
        "[[policy]]\nid = \"nas\"\nprofile = \"nas\"\nevery = \"1h\"\nselect = { all = true }\nkeep = { last = 1 }\ndrill = { every = \"7d\" }\n",
    )
    .expect("write");
    let out = cli
        .bare(&[
            "policy",
            "validate",
            "-f",
            by_profile.to_str().expect("utf-8"),
        ])
        .await;
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("line 7: policy \"nas\", drill") && stderr(&out).contains("NAS-HA"),
        "{}",
        stderr(&out)
    );
}

/// A verify that fails: the drill fails (exit 6), the restored volume is deleted all the same,
/// and `check` turns CRITICAL with the reason.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_verify_still_cleans_up_and_turns_check_critical() {
    if cfg!(windows) {
        return;
    }
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let file = policy_file(
        &cli,
        &emu,
        &[k],
        "echo the database did not start >&2; exit 3",
    );
    let before = volume_ids(&cli, k).await;
    let report = apply(&cli, &file, 6).await;
    let d = &policy(&report, k)["drills"][0];
    assert_eq!(d["status"], "failed");
    assert_eq!(d["verified"], false);
    assert_eq!(d["cleaned_up"], true, "{d}");
    assert!(
        d["error"]
            .as_str()
            .expect("error")
            .contains("the database did not start"),
        "{d}"
    );
    assert_eq!(volume_ids(&cli, k).await, before);
    let check = cli
        .bare(&["policy", "check", "-f", file.to_str().expect("utf-8")])
        .await;
    assert_exit(&check, 2);
    assert!(
        stdout(&check).contains("CRITICAL: policy d-outscale volume")
            && stdout(&check).contains("last drill failed: verify failed"),
        "{}",
        stdout(&check)
    );
    let metrics = std::fs::read_to_string(cli.home().join("snapctl.prom")).expect("metrics");
    assert!(
        metrics.contains("snapctl_drill_success{policy=\"d-outscale\"} 0"),
        "{metrics}"
    );
}

/// snapctl killed during a drill's verify leaves the restored, marked volume behind: `orphans`
/// lists it, `plan` shows its clean-up, the next run deletes it (even with the drill not due),
/// the killed drill stays a failed one for `check`, and a volume with a look-alike name but not
/// the whole mark is never deleted.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_mid_drill_leaves_a_marked_volume_the_next_run_removes() {
    if cfg!(windows) {
        return;
    }
    for k in drillable() {
        let emu = start().await;
        let cli = Cli::new(&emu);
        // The verify kills snapctl itself (its parent), as a crash or an OOM kill would.
        let file = policy_file(&cli, &emu, &[k], "kill -9 $PPID; sleep 5");
        let before = volume_ids(&cli, k).await;
        let out = cli
            .bare(&["policy", "apply", "-f", file.to_str().expect("utf-8")])
            .await;
        assert_eq!(out.status.code(), None, "{k}: killed by a signal");
        let left: Vec<String> = volume_ids(&cli, k)
            .await
            .into_iter()
            .filter(|v| !before.contains(v))
            .collect();
        assert_eq!(left.len(), 1, "{k}: the restored volume is left");
        // A look-alike: a drill's name, but none of the rest of the mark.
        let snap = cli
            .json(k, &["snapshot", "list", "--volume", &emu.demo_volume(k)])
            .await
            .as_array()
            .expect("snapshots")
            .iter()
            .filter(|s| s["state"] == "available")
            .map(|s| s["id"].as_str().expect("id").to_string())
            .next_back()
            .expect("a snapshot");
        let lookalike = cli
            .json(
                k,
                &[
                    "clone",
                    "--volume",
                    &emu.demo_volume(k),
                    "--snapshot",
                    &snap,
                    "--name",
                    "snapctl-drill.d-x.20261201T000000Z",
                    "--wait",
                ],
            )
            .await;
        let lookalike = lookalike["id"].as_str().expect("clone id").to_string();
        let orphans = cli
            .bare(&[
                "-o",
                "json",
                "policy",
                "orphans",
                "-f",
                file.to_str().expect("utf-8"),
            ])
            .await;
        assert_exit(&orphans, 0);
        let found = crate::fleet::json(&orphans);
        let found = found.as_array().expect("orphans");
        assert_eq!(found.len(), 1, "{k}: {found:?}");
        assert_eq!(found[0]["id"], left[0].as_str());
        assert_eq!(found[0]["kind"], "drill_volume");
        let plan = cli
            .bare(&["policy", "plan", "-f", file.to_str().expect("utf-8")])
            .await;
        assert!(
            stdout(&plan).contains(&format!("- drill volume {}", left[0])),
            "{k}: {}",
            stdout(&plan)
        );
        // A drill leftover's clean-up is a deletion: --max-delete 0 refuses it (exit 9).
        let report = crate::fleet::apply(&cli, &file, &["--max-delete", "0"], 9).await;
        let p = policy(&report, k);
        assert_eq!(p["drill_cleanups"][0]["ok"], false, "{p}");
        assert!(
            p["drill_cleanups"][0]["error"]
                .as_str()
                .is_some_and(|e| e.contains("--max-delete 0 refused")),
            "{p}"
        );
        assert!(volume_ids(&cli, k).await.contains(&left[0]), "{k}: kept");
        // The drill is not due again today; the leftover goes all the same. The killed drill
        // is still the volume's last one: check says it failed.
        let report = crate::fleet::apply(&cli, &file, &["--max-delete", "1"], 0).await;
        let p = policy(&report, k);
        assert_eq!(p["drill_cleanups"][0]["volume_id"], left[0].as_str(), "{p}");
        assert_eq!(p["drill_cleanups"][0]["ok"], true);
        assert!(p["drills"].is_null());
        let now: Vec<String> = volume_ids(&cli, k).await;
        assert!(!now.contains(&left[0]), "{k}: deleted");
        assert!(now.contains(&lookalike), "{k}: the look-alike stays");
        let check = cli
            .bare(&["policy", "check", "-f", file.to_str().expect("utf-8")])
            .await;
        assert_exit(&check, 2);
        assert!(
            stdout(&check).contains("did not finish"),
            "{}",
            stdout(&check)
        );
    }
}

/// One drill per policy at a time: two copies of one file applied at once (cron on two hosts, a
/// manual run beside the timer) drill once; the other run says another drill is running.
#[tokio::test(flavor = "multi_thread")]
async fn one_drill_per_policy_at_a_time() {
    if cfg!(windows) {
        return;
    }
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let file = policy_file(&cli, &emu, &[k], "sleep 2");
    let copy = cli.home().join("copy.toml");
    std::fs::copy(&file, &copy).expect("copy");
    let (f1, f2) = (
        file.to_str().expect("utf-8").to_string(),
        copy.to_str().expect("utf-8").to_string(),
    );
    let (args1, args2) = (
        ["-o", "json", "policy", "apply", "-f", &f1],
        ["-o", "json", "policy", "apply", "-f", &f2],
    );
    let (a, b) = tokio::join!(cli.bare(&args1), cli.bare(&args2));
    let reports = [crate::fleet::json(&a), crate::fleet::json(&b)];
    // One drill in all; the other run found it running (or, had it come later, already done).
    let drills: Vec<Value> = reports
        .iter()
        .flat_map(|r| {
            policy(r, k)["drills"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(drills.len(), 1, "{reports:?}");
    assert_eq!(drills[0]["status"], "ok");
    let other = reports
        .iter()
        .find(|r| policy(r, k)["drills"].is_null())
        .expect("the run that did not drill");
    let why = &policy(other, k)["drill_error"];
    assert!(
        why.is_null()
            || why
                .as_str()
                .is_some_and(|e| e.contains("another drill of policy d-outscale is running")),
        "{why}"
    );
}

/// A signal during a drill's verify stops it at once: the verify's process group is killed, the
/// restored volume deleted, the drill reported interrupted (exit 130), and the volume's drill
/// record left as it was, so `check` does not call the drill failed and the next run drills it.
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_during_verify_stops_the_drill_and_deletes_the_volume() {
    if cfg!(windows) {
        return;
    }
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let began = cli.home().join("verify-began");
    let ended = cli.home().join("verify-ended");
    let file = policy_file(
        &cli,
        &emu,
        &[k],
        &format!(
            "touch {}; sleep 20; touch {}",
            began.display(),
            ended.display()
        ),
    );
    let before = volume_ids(&cli, k).await;
    let cmd = cli.apply_process(&file);
    let signalled = {
        let began = began.clone();
        async move {
            // The signal comes once the verify runs.
            for _ in 0..200 {
                if began.exists() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    let started = std::time::Instant::now();
    let out = crate::common::signal_when(cmd, "TERM", signalled).await;
    assert_exit(&out, 130);
    assert!(began.exists(), "the verify ran");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "stopped at once, not after the verify's 20 s"
    );
    let r = crate::fleet::json(&out);
    let d = &policy(&r, k)["drills"][0];
    assert_eq!(d["status"], "interrupted", "{d}");
    assert_eq!(d["cleaned_up"], true, "{d}");
    // The DELETE was sent: the volume is deleting, then gone.
    let mut gone = false;
    for _ in 0..100 {
        if volume_ids(&cli, k).await == before {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(gone, "the restored volume is deleted");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!ended.exists(), "the verify was killed, not left running");
    let state: Value = serde_json::from_slice(
        &std::fs::read(cli.home().join("state/drill-d-outscale.json")).expect("state"),
    )
    .expect("json");
    assert!(
        state["volumes"].as_object().expect("volumes").is_empty(),
        "{state}"
    );
    assert!(state["last_started"].is_null(), "{state}");
}

/// The drill mark is a label anyone who may tag or rename a volume can write (OUTSCALE
/// `CreateTags`, Cinder `PUT /volumes`, EFS `PUT share`). Written on the very volume the policy
/// protects, and on a blank volume no policy selects, it makes neither a leftover: `plan` shows
/// each as `? drill-like volume … not deleted, because …`, `apply` deletes neither (and still
/// drills), `orphans` lists them as drill-like and `orphans --delete` leaves them.
#[tokio::test(flavor = "multi_thread")]
async fn a_forged_drill_mark_never_deletes_a_volume() {
    if cfg!(windows) {
        return;
    }
    for k in drillable() {
        let emu = start().await;
        let cli = Cli::new(&emu);
        let file = policy_file(&cli, &emu, &[k], "true");
        let f = file.to_str().expect("utf-8");
        let id = format!("d-{}", k.as_str());
        let production = emu.demo_volume(k);
        let all = volume_ids(&cli, k).await;
        let blank = all
            .iter()
            .find(|v| **v != production)
            .unwrap_or_else(|| panic!("{k}: a second volume"))
            .clone();
        let forged_tags = [("snapctl:drill", id.as_str())];
        for v in [&production, &blank] {
            emu.label_volume(
                k,
                v,
                &format!("snapctl-drill.{id}.20261201T000000Z"),
                &format!("snapctl:v1 drill policy={id} snapshot=snap-00000001"),
                &forged_tags,
            );
        }
        let plan = cli.bare(&["policy", "plan", "-f", f]).await;
        assert_exit(&plan, 0);
        let text = stdout(&plan);
        assert!(
            text.contains(&format!(
                "? drill-like volume {production} (snapctl-drill.{id}.20261201T000000Z): not deleted, because policy {id} of this file selects it"
            )),
            "{k}: {text}"
        );
        assert!(
            text.contains(&format!("? drill-like volume {blank}"))
                && text.contains("the cloud records no snapshot it was made from"),
            "{k}: {text}"
        );
        assert!(!text.contains("- drill volume"), "{k}: {text}");
        let report = apply(&cli, &file, 0).await;
        let p = policy(&report, k);
        assert!(p["drill_cleanups"].is_null(), "{k}: {p}");
        assert_eq!(
            p["drill_suspects"].as_array().map(Vec::len),
            Some(2),
            "{k}: {p}"
        );
        assert_eq!(p["drills"][0]["status"], "ok", "{k}: {p}");
        let now = volume_ids(&cli, k).await;
        assert!(
            now.contains(&production),
            "{k}: the production volume stays"
        );
        assert!(now.contains(&blank), "{k}: the blank volume stays");
        let orphans = cli
            .bare(&[
                "-o",
                "json",
                "policy",
                "orphans",
                "-f",
                f,
                "--delete",
                "--policy-id",
                &id,
            ])
            .await;
        assert_exit(&orphans, 0);
        let found = crate::fleet::json(&orphans);
        let kinds: Vec<&str> = found
            .as_array()
            .expect("orphans")
            .iter()
            .map(|o| o["kind"].as_str().expect("kind"))
            .collect();
        assert_eq!(
            kinds,
            ["drill_like_volume", "drill_like_volume"],
            "{k}: {found}"
        );
        let now = volume_ids(&cli, k).await;
        assert!(now.contains(&production) && now.contains(&blank), "{k}");
    }
}

/// A signal while the drill volume's DELETE is being waited on: the DELETE was accepted, so the
/// volume counts as cleaned up (not "could not be deleted"), and the next run, finding it gone
/// or going, succeeds instead of failing on a 404.
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_while_the_drill_volume_is_deleted_still_counts_it_cleaned_up() {
    if cfg!(windows) {
        return;
    }
    let emu = snapctl::emulator::start(snapctl::emulator::EmulatorConfig {
        delay: std::time::Duration::from_secs(3),
        ..snapctl::emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let cli = Cli::new(&emu);
    // A Cinder volume is `deleting` for the emulator's delay after its DELETE is accepted.
    let k = ProviderKind::Powervc;
    // The verify passes at once and, from outside snapctl's process group, signals it a second
    // later: inside the three seconds the DELETE of the restored volume takes.
    let file = policy_file(
        &cli,
        &emu,
        &[k],
        r#"setsid sh -c "sleep 1; kill -TERM $PPID" >/dev/null 2>&1 &"#,
    );
    let out = cli.apply_process(&file).output().expect("runs");
    assert_exit(&out, 130);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let d = &policy(&report, k)["drills"][0];
    assert_eq!(d["cleaned_up"], true, "{d}");
    assert!(
        !d["error"]
            .as_str()
            .is_some_and(|e| e.contains("could not be deleted")),
        "{d}"
    );
    // The next run (the drill is not due again) leaves nothing failed behind.
    let report = apply(&cli, &file, 0).await;
    let p = policy(&report, k);
    assert!(
        p["drill_cleanups"]
            .as_array()
            .is_none_or(|c| c.iter().all(|c| c["ok"] == true)),
        "{p}"
    );
}

/// A restore is timed truly and judged fairly: the volume becomes usable 8 s after the restore
/// is sent; polling a quarter of the time waited would see it about 2 s late and call it slower
/// than `max_restore = "9s"`. The drill judges by the last poll that still saw it pending, so a
/// restore within `max_restore` never fails for the poll's sake, and reports the middle of the
/// two polls around the transition.
#[tokio::test(flavor = "multi_thread")]
async fn a_restore_within_max_restore_never_fails_for_the_polls_sake() {
    if cfg!(windows) {
        return;
    }
    let emu = snapctl::emulator::start(snapctl::emulator::EmulatorConfig {
        delay: std::time::Duration::from_secs(8),
        ..snapctl::emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let file = cli.home().join("fleet.toml");
    std::fs::write(
        &file,
        format!(
            "state_dir = \"{}\"\n[[policy]]\nid = \"d-outscale\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 3 }}\ndrill = {{ every = \"1d\", volumes = 1, timeout = \"2min\", max_restore = \"9s\" }}\n",
            cli.home().join("state").display(),
            emu.demo_volume(k),
        ),
    )
    .expect("policy file");
    // The default pacing (pauses up to 5 s), not the suite's fast one.
    let out = cli
        .process(&[
            "-o",
            "json",
            "--poll-interval",
            "5s",
            "policy",
            "apply",
            "-f",
            file.to_str().expect("utf-8"),
        ])
        .output()
        .expect("runs");
    assert_exit(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    let d = &policy(&report, k)["drills"][0];
    assert_eq!(d["status"], "ok", "{d}");
    assert_eq!(d["slow"], false, "{d}");
    let took = d["restore_seconds"].as_f64().expect("measured");
    assert!((7.8..9.0).contains(&took), "{took} s for an 8 s restore");
}

/// The drills of one policy run at once (a few at a time): three volumes' restores overlap
/// instead of following one another, and each is recorded.
#[tokio::test(flavor = "multi_thread")]
async fn a_policys_drills_run_at_once() {
    if cfg!(windows) {
        return;
    }
    let emu = snapctl::emulator::start(snapctl::emulator::EmulatorConfig {
        delay: std::time::Duration::from_secs(2),
        volumes: 3,
        ..snapctl::emulator::EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let cli = Cli::new(&emu);
    let k = ProviderKind::Powervc;
    let file = cli.home().join("fleet.toml");
    std::fs::write(
        &file,
        format!(
            "state_dir = \"{}\"\n[[policy]]\nid = \"d-powervc\"\nprovider = \"powervc\"\nevery = \"1h\"\nselect = {{ name_regex = \"^fleet-\" }}\nkeep = {{ last = 3 }}\ndrill = {{ every = \"1d\", volumes = 3, timeout = \"2min\" }}\n",
            cli.home().join("state").display(),
        ),
    )
    .expect("policy file");
    let report = apply(&cli, &file, 0).await;
    let drills = policy(&report, k)["drills"]
        .as_array()
        .expect("drills")
        .clone();
    assert_eq!(drills.len(), 3, "{drills:?}");
    let starts: Vec<jiff::Timestamp> = drills
        .iter()
        .map(|d| {
            assert_eq!(d["status"], "ok", "{d}");
            d["started_at"]
                .as_str()
                .expect("started")
                .parse()
                .expect("time")
        })
        .collect();
    let first = *starts.iter().min().expect("a start");
    let last = *starts.iter().max().expect("a start");
    // One after the other, each would wait for the one before: a 2 s restore and a 2 s delete.
    assert!(
        last.duration_since(first) < jiff::SignedDuration::from_millis(1500),
        "started {first} … {last}"
    );
    let check = cli
        .bare(&["policy", "check", "-f", file.to_str().expect("utf-8")])
        .await;
    assert_exit(&check, 0);
}
