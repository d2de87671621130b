//! The provider conformance suite: the same cases run against every provider on the emulator,
//! each gated by the capabilities the provider declares (as OpenDAL's behaviour tests are). A new
//! provider gets these for free once it is in the registry and the emulator.

use snapctl::kind::{ProviderKind, Support};
use snapctl::providers::entry;

use super::emulator::{Cli, start};
use crate::common::{assert_exit, stderr};

/// create → wait → list → show → delete → wait → gone, on every provider that offers it.
#[tokio::test(flavor = "multi_thread")]
async fn snapshot_lifecycle_on_every_provider() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for kind in ProviderKind::ALL {
        let caps = entry(kind).capabilities;
        if caps.create_snapshot == Support::No || caps.delete_snapshot == Support::No {
            continue;
        }
        let volume = emu.demo_volume(kind);
        let made = cli
            .json(
                kind,
                &[
                    "snapshot",
                    "create",
                    "--volume",
                    &volume,
                    "--name",
                    "conformance",
                    "--wait",
                ],
            )
            .await;
        assert_eq!(made["state"], "available", "{kind}: {made}");
        let id = made["id"].as_str().expect("id").to_string();
        let listed = cli
            .json(kind, &["snapshot", "list", "--volume", &volume])
            .await;
        assert!(
            listed
                .as_array()
                .expect("array")
                .iter()
                .any(|s| s["id"] == id),
            "{kind}: {id} not listed"
        );
        let shown = cli
            .json(kind, &["snapshot", "show", &id, "--volume", &volume])
            .await;
        assert_eq!(shown["id"], id, "{kind}");
        assert_eq!(shown["provider"], kind.as_str());
        cli.ok(
            kind,
            &["snapshot", "delete", &id, "--volume", &volume, "--wait"],
        )
        .await;
        let gone = cli
            .run(kind, &["snapshot", "show", &id, "--volume", &volume])
            .await;
        assert_exit(&gone, 4);
    }
}

/// Every operation a provider declares it lacks answers exit 3 with a hint, and sends no change.
#[tokio::test(flavor = "multi_thread")]
async fn operations_a_provider_lacks_exit_3_everywhere() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let mut checked = 0;
    for kind in ProviderKind::ALL {
        let caps = entry(kind).capabilities;
        let volume = emu.demo_volume(kind);
        let made = cli
            .json(
                kind,
                &[
                    "snapshot", "create", "--volume", &volume, "--name", "base", "--wait",
                ],
            )
            .await;
        let snap = made["id"].as_str().expect("id").to_string();
        let (v, s) = (volume.as_str(), snap.as_str());
        let cases: [(Support, &str, Vec<&str>); 7] = [
            (caps.wait, "wait --task", vec!["wait", "--task", "1"]),
            (
                caps.clone,
                "clone",
                vec!["clone", "--volume", v, "--snapshot", s],
            ),
            (
                caps.revert,
                "revert",
                vec!["revert", "--volume", v, "--snapshot", s, "--yes"],
            ),
            (
                caps.schedules,
                "schedule",
                vec!["schedule", "list", "--volume", v],
            ),
            (caps.copy, "copy", vec!["copy", "--snapshot", s]),
            (
                caps.share,
                "share",
                vec!["snapshot", "share", s, "--public"],
            ),
            (
                caps.export,
                "export",
                vec!["snapshot", "export", s, "--bucket", "b"],
            ),
        ];
        for (support, what, args) in cases {
            if support == Support::Yes {
                continue;
            }
            let before = emu.changes().len();
            let out = cli.run(kind, &args).await;
            assert_exit(&out, 3);
            assert!(
                stderr(&out).contains("hint:"),
                "{kind} {what}: no hint\n{}",
                stderr(&out)
            );
            assert_eq!(
                emu.changes().len(),
                before,
                "{kind} {what} changed something"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 11,
        "only {checked} unsupported operations checked"
    );
}

/// An id of the wrong shape is refused (exit 2) before any request, on every provider.
#[tokio::test(flavor = "multi_thread")]
async fn invalid_ids_exit_2_without_a_request_everywhere() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for kind in ProviderKind::ALL {
        let volume = emu.demo_volume(kind);
        for args in [
            vec!["snapshot", "show", "../../etc", "--volume", volume.as_str()],
            vec!["snapshot", "delete", "x/y", "--volume", volume.as_str()],
            vec!["volume", "show", "vol?x=1"],
            vec!["snapshot", "list", "--volume", "a b"],
        ] {
            let before = emu.requests();
            let out = cli.run(kind, &args).await;
            assert_exit(&out, 2);
            assert_eq!(
                emu.requests(),
                before,
                "{kind} {args:?} sent a request:\n{}",
                stderr(&out)
            );
        }
    }
}

/// `(id, name)` of every snapshot of `volume`, retried while the emulator injects faults.
async fn snapshots(cli: &Cli<'_>, kind: ProviderKind, volume: &str) -> Vec<(String, String)> {
    for _ in 0..8 {
        let out = cli
            .run(
                kind,
                &["-o", "json", "snapshot", "list", "--volume", volume],
            )
            .await;
        if out.status.code() == Some(0) {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            return v
                .as_array()
                .expect("array")
                .iter()
                .map(|s| {
                    (
                        s["id"].as_str().expect("id").to_string(),
                        s["name"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
        }
    }
    panic!("{kind}: the snapshot list never succeeded");
}

/// Rotation deletes only its candidates (manual snapshots with its prefix), never others, and
/// keeps what the policy keeps, on every provider.
#[tokio::test(flavor = "multi_thread")]
async fn rotation_deletes_only_candidates_on_every_provider() {
    for kind in ProviderKind::ALL {
        let emu = start().await;
        let cli = Cli::new(&emu);
        let volume = emu.demo_volume(kind);
        // Names in rotate's own format: NAS-HA custom snapshots have no creation time, so rotation
        // reads it from the name (and keeps, as a rail, what it cannot date).
        for name in [
            "snapctl-20261101T000000Z",
            "snapctl-20261101T010000Z",
            "snapctl-20261101T020000Z",
            "keep-me",
        ] {
            cli.ok(
                kind,
                &[
                    "snapshot", "create", "--volume", &volume, "--name", name, "--wait",
                ],
            )
            .await;
        }
        let before = snapshots(&cli, kind, &volume).await;
        cli.ok(
            kind,
            &["rotate", "--volume", &volume, "--keep-last", "1", "--wait"],
        )
        .await;
        let after = snapshots(&cli, kind, &volume).await;
        for (id, name) in &before {
            if !name.starts_with("snapctl-") {
                assert!(
                    after.iter().any(|(i, _)| i == id),
                    "{kind}: non-candidate {name} ({id}) was deleted"
                );
            }
        }
        let ours = after
            .iter()
            .filter(|(_, n)| n.starts_with("snapctl-"))
            .count();
        assert_eq!(ours, 1, "{kind}: keep-last 1 left {ours}: {after:?}");
    }
}

/// One seeded fault schedule per provider (a fifth of answers are server errors): whatever the exit
/// code, no non-candidate is deleted, and exit 0 means the policy was fully applied.
#[tokio::test(flavor = "multi_thread")]
async fn rotation_under_seeded_faults_is_safe_on_every_provider() {
    for kind in ProviderKind::ALL {
        let emu = snapctl::emulator::start(snapctl::emulator::EmulatorConfig {
            delay: std::time::Duration::from_millis(60),
            fail_rate: 0.2,
            seed: 7,
            ..snapctl::emulator::EmulatorConfig::default()
        })
        .await
        .expect("emulator starts");
        let cli = Cli::new(&emu);
        let volume = emu.demo_volume(kind);
        let before = snapshots(&cli, kind, &volume).await;
        let mut zero_exits = 0;
        for run in 0..2 {
            let out = cli
                .run(
                    kind,
                    &[
                        "rotate",
                        "--volume",
                        &volume,
                        "--create",
                        "--wait",
                        "--keep-last",
                        "1",
                    ],
                )
                .await;
            let after = snapshots(&cli, kind, &volume).await;
            for (id, name) in &before {
                if !name.starts_with("snapctl-") {
                    assert!(
                        after.iter().any(|(i, _)| i == id),
                        "{kind}: non-candidate {name} ({id}) was deleted\n{}",
                        stderr(&out)
                    );
                }
            }
            if out.status.code() == Some(0) {
                zero_exits += 1;
                let ours: Vec<_> = after
                    .iter()
                    .filter(|(_, n)| n.starts_with("snapctl-"))
                    .collect();
                assert_eq!(ours.len(), 1, "{kind}: exit 0 but {ours:?} left");
            }
            if run == 0 {
                // The next run must take a new name (names have second resolution).
                tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
            }
        }
        eprintln!("{kind}: {zero_exits} of 2 faulty rotations succeeded");
    }
}

/// A volume that does not exist is UNKNOWN (exit 3) on every provider, never CRITICAL, with no
/// count in the perfdata.
#[tokio::test(flavor = "multi_thread")]
async fn check_of_a_missing_volume_is_unknown_everywhere() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for (kind, missing) in [
        (ProviderKind::OvhEfs, "6b1e1f3a-0000-4000-8000-00000000dead"),
        (ProviderKind::OvhNasha, "no-such-partition"),
        (ProviderKind::Outscale, "vol-0000dead"),
        (
            ProviderKind::Powervc,
            "6b1e1f3a-0000-4000-8000-00000000dead",
        ),
    ] {
        let out = cli
            .run(kind, &["check", "--volume", missing, "--max-age", "1d"])
            .await;
        assert_exit(&out, 3);
        let line = crate::common::stdout(&out);
        assert!(line.starts_with("SNAPCTL UNKNOWN: "), "{kind}: {line}");
        assert!(
            line.contains(&format!("'{missing}_count'=U;")),
            "{kind}: {line}"
        );
    }
}

/// Names and descriptions that are empty, carry control characters, or are longer than the
/// provider takes are refused (exit 2) before any request, on every provider.
#[tokio::test(flavor = "multi_thread")]
async fn bad_names_exit_2_without_a_request_everywhere() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let long = "n".repeat(256);
    for kind in ProviderKind::ALL {
        let volume = emu.demo_volume(kind);
        let mut cases = vec![
            vec!["--name", "line\nbreak"],
            vec!["--name", "esc\u{1b}[2J"],
            vec!["--name", "  "],
            vec!["--name", "ok", "--description", "tab\there"],
        ];
        if entry(kind).max_label.is_some() {
            cases.push(vec!["--name", long.as_str()]);
        }
        for extra in cases {
            let mut args = vec!["snapshot", "create", "--volume", volume.as_str()];
            args.extend(extra.iter().copied());
            let before = emu.requests();
            let out = cli.run(kind, &args).await;
            assert_exit(&out, 2);
            assert_eq!(emu.requests(), before, "{kind} {extra:?} sent a request");
        }
    }
}

/// `clone --snapshot S --volume V` where S is not V's snapshot is refused on every provider with
/// clone (EFS and NAS-HA find no such snapshot under V; OUTSCALE and PowerVC, whose snapshot ids
/// are global, compare the snapshot's volume), and nothing is created.
#[tokio::test(flavor = "multi_thread")]
async fn clone_from_a_snapshot_of_another_volume_is_refused_everywhere() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let mut checked = 0;
    for kind in ProviderKind::ALL {
        if entry(kind).capabilities.clone == Support::No {
            continue;
        }
        let volume = emu.demo_volume(kind);
        let volumes = cli.json(kind, &["volume", "list"]).await;
        let other = volumes
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|v| v["id"].as_str())
            .find(|id| *id != volume)
            .unwrap_or_else(|| panic!("{kind}: the emulator seeds one volume only"))
            .to_string();
        let made = cli
            .json(
                kind,
                &[
                    "snapshot", "create", "--volume", &volume, "--name", "base", "--wait",
                ],
            )
            .await;
        let snap = made["id"].as_str().expect("id").to_string();
        let before = emu.changes().len();
        let out = cli
            .run(kind, &["clone", "--snapshot", &snap, "--volume", &other])
            .await;
        assert!(
            matches!(out.status.code(), Some(2 | 4)),
            "{kind}: exit {:?}\n{}",
            out.status.code(),
            stderr(&out)
        );
        assert_eq!(emu.changes().len(), before, "{kind}: a clone was made");
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} providers checked");
}

/// Negative numbers get a message that says so, not clap's "unexpected argument".
#[tokio::test(flavor = "multi_thread")]
async fn negative_numbers_and_meaningless_force_are_refused_with_a_clear_message() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let kind = ProviderKind::Outscale;
    let volume = emu.demo_volume(kind);
    let v = volume.as_str();
    for args in [
        vec![
            "rotate",
            "--volume",
            v,
            "--keep-last",
            "1",
            "--max-delete",
            "-2",
        ],
        vec![
            "rotate",
            "--volume",
            v,
            "--keep-last",
            "1",
            "--concurrency",
            "-4",
        ],
        vec![
            "rotate",
            "--volume",
            v,
            "--keep-last",
            "1",
            "--lock-wait",
            "-3s",
        ],
        vec!["--max-rps", "-1", "volume", "list"],
        vec!["--max-response-size", "-5M", "volume", "list"],
        vec!["clone", "--volume", v, "--size", "-10"],
    ] {
        let before = emu.requests();
        let out = cli.run(kind, &args).await;
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("negative"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(emu.requests(), before, "{args:?} sent a request");
    }
    let out = cli
        .run(
            kind,
            &[
                "rotate",
                "--volume",
                v,
                "--keep-last",
                "1",
                "--concurrency",
                "0",
            ],
        )
        .await;
    assert_exit(&out, 2);
    for kind in [
        ProviderKind::OvhEfs,
        ProviderKind::OvhNasha,
        ProviderKind::Outscale,
    ] {
        let volume = emu.demo_volume(kind);
        let before = emu.requests();
        let out = cli
            .run(
                kind,
                &["snapshot", "create", "--volume", &volume, "--force"],
            )
            .await;
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("--force means nothing"),
            "{}",
            stderr(&out)
        );
        assert_eq!(emu.requests(), before, "{kind}: --force sent a request");
    }
}

/// `snapshot list` without `--volume` lists the account's own snapshots only, on every provider:
/// every snapshot listed is of one of the account's volumes (the OUTSCALE emulator also serves
/// another account's public snapshot, as the real API does).
#[tokio::test(flavor = "multi_thread")]
async fn snapshot_list_without_a_volume_is_the_accounts_own_everywhere() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for kind in ProviderKind::ALL {
        let volumes = cli.json(kind, &["volume", "list"]).await;
        let own: Vec<&str> = volumes
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|v| v["id"].as_str())
            .collect();
        let listed = cli.json(kind, &["snapshot", "list"]).await;
        for s in listed.as_array().expect("array") {
            let vol = s["volume_id"].as_str().unwrap_or_default();
            assert!(own.contains(&vol), "{kind}: {s} is not of an own volume");
        }
    }
}

/// A rotation's deletions are sent back to back and confirmed in bulk: one snapshot list per volume
/// per poll, not one poll loop per snapshot. Deleting 30 snapshots with --wait costs the 30
/// deletions and a handful of reads, on every provider with bulk-seeded snapshots.
#[tokio::test(flavor = "multi_thread")]
async fn rotation_deletions_are_confirmed_in_bulk_on_every_provider() {
    const N: usize = 30;
    let emu = snapctl::emulator::start(snapctl::emulator::EmulatorConfig {
        delay: std::time::Duration::from_millis(60),
        bulk: N + 1,
        ..Default::default()
    })
    .await
    .expect("emulator");
    let cli = Cli::new(&emu);
    for kind in [
        ProviderKind::OvhEfs,
        ProviderKind::Outscale,
        ProviderKind::Powervc,
    ] {
        let volume = emu.demo_volume(kind);
        let before = emu.requests();
        let out = cli
            .run(
                kind,
                &[
                    "-v",
                    "-o",
                    "json",
                    "rotate",
                    "--volume",
                    &volume,
                    "--keep-last",
                    "1",
                    "--max-delete",
                    "100",
                    "--wait",
                ],
            )
            .await;
        assert_exit(&out, 0);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        // -v tells what the run cost the API, and it is what the API saw.
        let told = format!("snapctl: {} requests in ", emu.requests() - before);
        assert!(stderr(&out).contains(&told), "{kind}: {}", stderr(&out));
        let vol = &report["volumes"][0];
        assert_eq!(
            vol["deleted"].as_array().map(Vec::len),
            Some(N),
            "{kind}: {vol}"
        );
        let requests = emu.requests() - before;
        assert!(
            requests <= (N + 15) as u64,
            "{kind}: {requests} requests for {N} deletions"
        );
        let left = cli
            .json(kind, &["snapshot", "list", "--volume", &volume])
            .await;
        let rotated = left
            .as_array()
            .expect("array")
            .iter()
            .filter(|s| {
                s["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("snapctl-"))
            })
            .count();
        assert_eq!(rotated, 1, "{kind}: {left}");
    }
}
