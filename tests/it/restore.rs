//! `policy restore` (issue 43 §1) against the emulator: a volume as of a time between two ticks
//! is made from the earlier tick's snapshot, on every provider that can make a volume from a
//! snapshot; NAS-HA says how to copy it by hand (exit 3); a dry run makes nothing; the restored
//! volume is the user's (no drill mark: a later apply leaves it alone).

use serde_json::Value;
use snapctl::emulator::Emulator;
use snapctl::kind::Support;
use snapctl::provider::ProviderKind;
use snapctl::providers::entry;

use crate::common::{assert_exit, stderr, stdout};
use crate::emulator::{Cli, start};

fn policy_file(cli: &Cli, emu: &Emulator) -> std::path::PathBuf {
    let mut text = String::new();
    for k in ProviderKind::ALL {
        let on = match Emulator::service(k) {
            Some(s) => format!("provider = \"{}\"\nservice = \"{s}\"", k.as_str()),
            None => format!("provider = \"{}\"", k.as_str()),
        };
        text.push_str(&format!(
            "[[policy]]\nid = \"r-{}\"\n{on}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 5 }}\n\n",
            k.as_str(),
            emu.demo_volume(k),
        ));
    }
    let path = cli.home().join("fleet.toml");
    std::fs::write(&path, text).expect("policy file");
    path
}

/// The start of the hour `n` hours before this one.
fn hours_ago(n: i64) -> jiff::Timestamp {
    let now = jiff::Timestamp::now().as_second();
    jiff::Timestamp::from_second(now - now.rem_euclid(3600) - n * 3600).expect("time")
}

fn created(report: &Value, k: ProviderKind) -> String {
    report["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .find(|p| p["id"] == format!("r-{}", k.as_str()))
        .and_then(|p| p["units"][0]["created"]["id"].as_str())
        .unwrap_or_else(|| panic!("{k}: a snapshot was taken: {report}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_volume_as_of_a_time_between_two_ticks_comes_from_the_earlier_ones_snapshot() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let file = policy_file(&cli, &emu);
    let f = file.to_str().expect("utf-8");
    let (t1, t2) = (hours_ago(3), hours_ago(1));
    let first = crate::fleet::apply(&cli, &file, &["--at", &t1.to_string()], 0).await;
    let second = crate::fleet::apply(&cli, &file, &["--at", &t2.to_string()], 0).await;
    let between = (t1 + jiff::SignedDuration::from_mins(90)).to_string();
    for k in ProviderKind::ALL {
        let (earlier, later) = (created(&first, k), created(&second, k));
        assert_ne!(earlier, later);
        let policy = format!("r-{}", k.as_str());
        let volume = emu.demo_volume(k);
        let args = |name: &str| {
            vec![
                "policy".to_string(),
                "restore".into(),
                "-f".into(),
                f.into(),
                "--policy".into(),
                policy.clone(),
                "--volume".into(),
                volume.to_string(),
                "--at".into(),
                between.clone(),
                "--name".into(),
                name.into(),
            ]
        };
        if entry(k).capabilities.clone == Support::No {
            let a = args("restored-db");
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            let out = cli.bare(&refs).await;
            assert_exit(&out, 3);
            assert!(
                stderr(&out).contains(".zfs/snapshot"),
                "{k}: {}",
                stderr(&out)
            );
            continue;
        }
        let before = cli.json(k, &["volume", "list"]).await;
        let mut dry = vec!["--dry-run".to_string()];
        dry.extend(args("restored-db"));
        let refs: Vec<&str> = dry.iter().map(String::as_str).collect();
        let out = cli.bare(&refs).await;
        assert_exit(&out, 0);
        assert!(
            stderr(&out).contains(&format!("from snapshot {earlier}")),
            "{k}: {}",
            stderr(&out)
        );
        assert_eq!(
            cli.json(k, &["volume", "list"]).await,
            before,
            "{k}: a dry run makes nothing"
        );

        let mut json = vec!["-o".to_string(), "json".into()];
        json.extend(args("restored-db"));
        let refs: Vec<&str> = json.iter().map(String::as_str).collect();
        let out = cli.bare(&refs).await;
        assert_exit(&out, 0);
        let made: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{k}: {e}: {}", stdout(&out)));
        assert_eq!(made["snapshot_id"], earlier.as_str(), "{k}: {made}");
        assert_eq!(made["tick"], t1.to_string(), "{k}: {made}");
        let id = made["volume_id"].as_str().expect("volume id").to_string();
        let shown = cli.json(k, &["volume", "show", &id]).await;
        assert_eq!(shown["name"], "restored-db", "{k}: {shown}");
        assert_eq!(shown["state"], "available", "{k}: {shown}");
    }
    // The restored volumes are the user's: the next run deletes none of them.
    let third = crate::fleet::apply(&cli, &file, &[], 0).await;
    assert!(
        third["policies"]
            .as_array()
            .is_some_and(|ps| ps.iter().all(|p| p.get("drill_cleanups").is_none()))
    );
    for k in ProviderKind::ALL
        .into_iter()
        .filter(|k| entry(*k).capabilities.clone == Support::Yes)
    {
        let vols = cli.json(k, &["volume", "list"]).await;
        assert!(
            vols.as_array()
                .expect("list")
                .iter()
                .any(|v| v["name"] == "restored-db"),
            "{k}: {vols}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_to_restore_from_is_exit_4_and_a_name_of_snapctls_own_is_refused() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let file = policy_file(&cli, &emu);
    let f = file.to_str().expect("utf-8");
    let k = ProviderKind::Outscale;
    let volume = emu.demo_volume(k).to_string();
    let out = cli
        .bare(&[
            "policy",
            "restore",
            "-f",
            f,
            "--policy",
            "r-outscale",
            "--volume",
            &volume,
            "--name",
            "restored-db",
        ])
        .await;
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("no usable snapshot of policy r-outscale"),
        "{}",
        stderr(&out)
    );
    let out = cli
        .bare(&[
            "policy",
            "restore",
            "-f",
            f,
            "--policy",
            "r-outscale",
            "--volume",
            &volume,
            "--name",
            "snapctl-drill.r-outscale.20260101T000000Z",
        ])
        .await;
    assert_exit(&out, 2);
}
