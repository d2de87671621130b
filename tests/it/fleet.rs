//! Fleet mode (`snapctl policy …`) end to end against the emulator, on all four providers:
//! convergence over simulated days, ownership (two policies on one volume, hand-made look-alikes),
//! refusals, a failed create that stops deletes for its volume only, locks, hooks, check, metrics
//! and the report.

use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use snapctl::emulator::{Emulator, EmulatorConfig};
use snapctl::provider::ProviderKind;

use crate::common::{assert_exit, stderr, stdout};
use crate::emulator::{Cli, start};

/// The connection keys of a policy on `kind` in the emulator.
fn on(kind: ProviderKind) -> String {
    match Emulator::service(kind) {
        Some(s) => format!("provider = \"{}\"\nservice = \"{s}\"", kind.as_str()),
        None => format!("provider = \"{}\"", kind.as_str()),
    }
}

fn write(cli: &Cli, name: &str, text: &str) -> PathBuf {
    let path = cli.home().join(name);
    std::fs::write(&path, text).expect("policy file");
    path
}

pub(crate) fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", stdout(out)))
}

/// `policy apply -o json -f FILE` (plus `extra`), expecting `code`; the report.
pub(crate) async fn apply(
    cli: &Cli<'_>,
    file: &std::path::Path,
    extra: &[&str],
    code: i32,
) -> Value {
    let mut args = vec![
        "-o",
        "json",
        "policy",
        "apply",
        "-f",
        file.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let out = cli.bare(&args).await;
    assert_exit(&out, code);
    json(&out)
}

/// The unit of `volume` in a report's first policy.
fn unit_of<'a>(report: &'a Value, volume: &str) -> &'a Value {
    report["policies"][0]["units"]
        .as_array()
        .expect("units")
        .iter()
        .find(|u| u["volume_id"] == volume)
        .expect("the volume's unit")
}

/// Snapshots of `volume` whose name starts with `prefix`.
async fn named(cli: &Cli<'_>, kind: ProviderKind, volume: &str, prefix: &str) -> Vec<Value> {
    cli.json(kind, &["snapshot", "list", "--volume", volume])
        .await
        .as_array()
        .expect("array")
        .iter()
        .filter(|s| s["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .cloned()
        .collect()
}

/// `every = "6h"`, applied every 2 hours for two simulated days: one snapshot per tick, never a
/// second one within a tick, and retention (`last = 3`) converges to exactly 3 on every provider.
#[tokio::test(flavor = "multi_thread")]
async fn apply_from_cron_converges_on_every_provider() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let mut text = String::new();
    for k in ProviderKind::ALL {
        let id = format!("p-{}", k.as_str());
        text.push_str(&format!(
            "[[policy]]\nid = \"{id}\"\n{}\nevery = \"6h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 3, min = 2 }}\n\n",
            on(k),
            emu.demo_volume(k)
        ));
    }
    let file = write(&cli, "fleet.toml", &text);
    let file = file.to_str().expect("utf-8");
    let base = Timestamp::now();
    let mut created = 0;
    let runs = 24;
    for run in 0..runs {
        let back = SignedDuration::from_hours(2 * (runs - run));
        emu.set_clock_offset(-back);
        let at = (base - back).to_string();
        let out = cli
            .bare(&["-o", "json", "policy", "apply", "-f", file, "--at", &at])
            .await;
        assert_exit(&out, 0);
        let report = json(&out);
        assert_eq!(report["schema"], "snapctl.policy-report/v1");
        created += report["policies"]
            .as_array()
            .expect("policies")
            .iter()
            .flat_map(|p| p["units"].as_array().expect("units").iter())
            .filter(|u| !u["created"].is_null())
            .count();
        // A second apply within the same tick changes nothing.
        let again = cli
            .bare(&[
                "policy",
                "plan",
                "--detailed-exitcode",
                "-f",
                file,
                "--at",
                &at,
            ])
            .await;
        assert_exit(&again, 0);
    }
    emu.set_clock_offset(SignedDuration::ZERO);
    // 48 simulated hours, a tick every 6: 8 ticks (9 when the first run lands right on one).
    assert!((32..=36).contains(&created), "created {created}");
    for k in ProviderKind::ALL {
        let owned = named(
            &cli,
            k,
            &emu.demo_volume(k),
            &format!("snapctl.p-{}.", k.as_str()),
        )
        .await;
        assert_eq!(owned.len(), 3, "{k}: {owned:?}");
    }
    // Due again once the clock passes the next tick: plan says so with exit 10.
    let later = (base + SignedDuration::from_hours(7)).to_string();
    let pending = cli
        .bare(&[
            "policy",
            "plan",
            "--detailed-exitcode",
            "-f",
            file,
            "--at",
            &later,
        ])
        .await;
    assert_exit(&pending, 10);
    assert!(
        stdout(&pending).contains("+ snapctl.p-outscale."),
        "{}",
        stdout(&pending)
    );
}

/// Two policies on one volume never touch each other's snapshots; a hand-made snapshot with a
/// look-alike name survives (on NAS-HA, where only the name can carry the mark, rotate's names).
#[tokio::test(flavor = "multi_thread")]
async fn two_policies_share_a_volume_and_spare_hand_made_snapshots() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let mut text = String::new();
    for k in ProviderKind::ALL {
        for id in ["a", "b"] {
            text.push_str(&format!(
                "[[policy]]\nid = \"{id}-{}\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 1 }}\n\n",
                k.as_str(),
                on(k),
                emu.demo_volume(k)
            ));
        }
    }
    let file = write(&cli, "fleet.toml", &text);
    let file = file.to_str().expect("utf-8");
    for k in ProviderKind::ALL {
        let vol = emu.demo_volume(k);
        let look_alike = match k {
            ProviderKind::OvhNasha => "snapctl-20200101T000000Z".to_string(),
            _ => format!("snapctl.a-{}.20200101T000000Z", k.as_str()),
        };
        let mut args = vec![
            "snapshot",
            "create",
            "--volume",
            &vol,
            "--name",
            &look_alike,
            "--wait",
        ];
        if k != ProviderKind::OvhNasha {
            args.extend(["--description", "by hand"]);
        }
        cli.ok(k, &args).await;
    }
    let base = Timestamp::now();
    for hour in 0..3 {
        let back = SignedDuration::from_hours(3 - hour);
        emu.set_clock_offset(-back);
        let out = cli
            .bare(&[
                "policy",
                "apply",
                "-f",
                file,
                "--at",
                &(base - back).to_string(),
            ])
            .await;
        assert_exit(&out, 0);
    }
    emu.set_clock_offset(SignedDuration::ZERO);
    for k in ProviderKind::ALL {
        let vol = emu.demo_volume(k);
        for id in ["a", "b"] {
            let owned: Vec<Value> = named(&cli, k, &vol, &format!("snapctl.{id}-{}.", k.as_str()))
                .await
                .into_iter()
                .filter(|s| {
                    s["name"]
                        .as_str()
                        .is_some_and(|n| !n.ends_with(".20200101T000000Z"))
                })
                .collect();
            assert_eq!(owned.len(), 1, "{k} policy {id}: {owned:?}");
        }
        let all = named(&cli, k, &vol, "snapctl").await;
        assert!(
            all.iter().any(|s| s["name"]
                .as_str()
                .is_some_and(|n| n.contains("20200101T000000Z"))),
            "{k}: the hand-made snapshot must survive: {all:?}"
        );
    }
}

/// A selector that suddenly matches nothing refuses its policy (exit 9) and applies the others;
/// metrics and the report say so.
#[tokio::test(flavor = "multi_thread")]
async fn expect_volumes_refuses_one_policy_and_the_others_run() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let prom = cli.home().join("snapctl.prom");
    let report = cli.home().join("last-run.json");
    let text = format!(
        "metrics_file = {:?}\nreport_file = {:?}\n\n[[policy]]\nid = \"gone\"\n{}\nevery = \"1h\"\nexpect_volumes = \"1..\"\nselect = {{ names = [\"renamed-away\"] }}\nkeep = {{ last = 2 }}\n\n[[policy]]\nid = \"gold\"\n{}\nevery = \"1h\"\nexpect_volumes = \"1..3\"\nselect = {{ tags = {{ backup = \"gold\" }} }}\nexclude = {{ names = [\"web\"] }}\nkeep = {{ last = 2 }}\n",
        prom.to_str().expect("utf-8"),
        report.to_str().expect("utf-8"),
        on(ProviderKind::Outscale),
        on(ProviderKind::Outscale),
    );
    let file = write(&cli, "fleet.toml", &text);
    let out = cli
        .bare(&["policy", "apply", "-f", file.to_str().expect("utf-8")])
        .await;
    assert_exit(&out, 9);
    assert!(stderr(&out).contains("expect_volumes"), "{}", stderr(&out));
    let vol = emu.demo_volume(ProviderKind::Outscale);
    assert_eq!(
        named(&cli, ProviderKind::Outscale, &vol, "snapctl.gold.")
            .await
            .len(),
        1
    );
    let metrics = std::fs::read_to_string(&prom).expect("metrics written");
    for line in [
        "snapctl_policy_volumes_selected{policy=\"gone\"} 0",
        "snapctl_run_success{policy=\"gone\"} 0",
        "snapctl_run_success{policy=\"gold\"} 1",
        "snapctl_policy_volumes_selected{policy=\"gold\"} 1",
        "snapctl_volume_freshness_status{policy=\"gold\",provider=\"outscale\",volume_id=",
        "snapctl_volume_last_snapshot_timestamp_seconds{policy=\"gold\",provider=\"outscale\",volume_id=",
        "snapctl_run_snapshots_created{policy=\"gold\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    assert!(!metrics.contains("snap-"), "no snapshot ids as labels");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("json");
    assert_eq!(r["schema"], "snapctl.policy-report/v1");
    assert_eq!(r["policies"][0]["status"], "refused");
    assert_eq!(r["policies"][1]["status"], "ok");
    assert_eq!(r["policies"][1]["units"][0]["status"], "ok");
}

/// A failed create (PowerVC refuses an attached volume) deletes nothing of that volume; the other
/// volume of the same policy is rotated; exit 6.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_create_stops_deletes_for_that_volume_only() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Powervc;
    let vols = cli.json(k, &["volume", "list"]).await;
    let id_of = |name: &str| {
        vols.as_array()
            .expect("array")
            .iter()
            .find(|v| v["name"] == name)
            .and_then(|v| v["id"].as_str())
            .expect("volume")
            .to_string()
    };
    let (data, logs) = (id_of("db-data"), id_of("db-logs"));
    // Two old snapshots owned by the policy on each volume (db-logs is attached: --force),
    // taken three days ago.
    emu.set_clock_offset(-SignedDuration::from_hours(72));
    for vol in [&data, &logs] {
        for day in ["20261101T000000Z", "20261102T000000Z"] {
            cli.ok(
                k,
                &[
                    "snapshot",
                    "create",
                    "--volume",
                    vol,
                    "--force",
                    "--wait",
                    "--name",
                    &format!("snapctl.db.{day}"),
                    "--description",
                    "snapctl:v1 policy=db",
                ],
            )
            .await;
        }
    }
    emu.set_clock_offset(SignedDuration::ZERO);
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "[[policy]]\nid = \"db\"\n{}\nevery = \"1h\"\nselect = {{ name_regex = \"^db-\" }}\nkeep = {{ last = 1 }}\n",
            on(k)
        ),
    );
    let r = apply(&cli, &file, &[], 6).await;
    let unit = |v: &str| unit_of(&r, v).clone();
    assert_eq!(unit(&logs)["status"], "failed");
    assert_eq!(unit(&logs)["failures"][0]["op"], "create");
    assert_eq!(unit(&logs)["deleted"], serde_json::json!([]));
    assert_eq!(unit(&data)["status"], "ok");
    assert_eq!(unit(&data)["deleted"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        named(&cli, k, &logs, "snapctl.db.").await.len(),
        2,
        "db-logs keeps both"
    );
    assert_eq!(
        named(&cli, k, &data, "snapctl.db.").await.len(),
        1,
        "db-data keeps the new one"
    );
}

/// `max_delete` per policy and `--max-delete` for the run refuse every deletion (exit 9), but a
/// refused deletion never costs a snapshot: the due one is still taken, on every provider.
#[tokio::test(flavor = "multi_thread")]
async fn max_delete_refuses_deletions_but_not_due_snapshots_on_every_provider() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for k in ProviderKind::ALL {
        let vol = emu.demo_volume(k);
        let id = format!("md-{}", k.as_str());
        // Three owned snapshots, each answering an hourly tick 3, 2 and 1 hours back.
        for back in [3, 2, 1] {
            let tick = hour_start(back);
            emu.set_clock_offset(tick.duration_since(Timestamp::now()));
            let file = write(
                &cli,
                "seed.toml",
                &format!(
                    "[[policy]]\nid = \"{id}\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{vol}\"] }}\nkeep = {{ last = 5 }}\n",
                    on(k)
                ),
            );
            apply(&cli, &file, &["--at", &tick.to_string()], 0).await;
        }
        emu.set_clock_offset(SignedDuration::ZERO);
        assert_eq!(
            named(&cli, k, &vol, &format!("snapctl.{id}.")).await.len(),
            3,
            "{k}"
        );
        let policy = |max: &str| {
            format!(
                "[[policy]]\nid = \"{id}\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{vol}\"] }}\nkeep = {{ last = 1 }}\n{max}",
                on(k)
            )
        };
        // keep last 1 would delete 3 (the new one counted): max_delete 2 refuses the deletions.
        let file = write(&cli, "one.toml", &policy("max_delete = 2\n"));
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
        assert_exit(&out, 9);
        assert!(stderr(&out).contains("max_delete 2"), "{}", stderr(&out));
        let report = json(&out);
        let unit = unit_of(&report, &vol);
        assert!(
            !unit["created"].is_null(),
            "{k}: the due snapshot is taken: {unit}"
        );
        assert_eq!(unit["deleted"].as_array().map(Vec::len), Some(0), "{unit}");
        assert_eq!(report["policies"][0]["status"], "refused");
        assert_eq!(
            named(&cli, k, &vol, &format!("snapctl.{id}.")).await.len(),
            4,
            "{k}"
        );
        // The run-wide flag: the same rule, the tick already answered, nothing sent at all.
        let file = write(&cli, "two.toml", &policy(""));
        let before = emu.changes().len();
        let out = cli
            .bare(&[
                "policy",
                "apply",
                "-f",
                file.to_str().expect("utf-8"),
                "--max-delete",
                "2",
            ])
            .await;
        assert_exit(&out, 9);
        assert!(stderr(&out).contains("--max-delete 2"), "{}", stderr(&out));
        assert_eq!(
            emu.changes().len(),
            before,
            "{k}: {:?}",
            &emu.changes()[before..]
        );
        // Within the limits it runs: the three old ones go, the newest stays.
        let out = cli
            .bare(&["policy", "apply", "-f", file.to_str().expect("utf-8")])
            .await;
        assert_exit(&out, 0);
        assert_eq!(
            named(&cli, k, &vol, &format!("snapctl.{id}.")).await.len(),
            1,
            "{k}"
        );
    }
}

/// Another apply of the same file holds the lock: exit 8, nothing sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_apply_of_the_same_file_waits_its_turn() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "[[policy]]\nid = \"x\"\n{}\nevery = \"1h\"\nselect = {{ names = [\"db-data\"] }}\nkeep = {{ last = 1 }}\n",
            on(k)
        ),
    );
    let _held = snapctl::lock::acquire(
        &cli.home().join("locks"),
        "policy",
        &snapctl::lock::file_scope(&file),
        "apply",
        std::time::Duration::ZERO,
    )
    .expect("lock");
    let before = emu.changes().len();
    let out = cli
        .bare(&["policy", "apply", "-f", file.to_str().expect("utf-8")])
        .await;
    assert_exit(&out, 8);
    assert_eq!(emu.changes().len(), before);
}

/// A failing pre-hook skips that volume's snapshot (reported, exit 6); the other volume's runs,
/// and hooks see which unit they run for.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_pre_hook_skips_its_volume() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let seen = cli.home().join("hooks.log");
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "[[policy]]\nid = \"hooked\"\n{}\nevery = \"1h\"\nselect = {{ name_regex = \".\" }}\nkeep = {{ last = 1 }}\npre = 'echo \"$SNAPCTL_POLICY $SNAPCTL_VOLUME_NAME\" >> {}; test \"$SNAPCTL_VOLUME_NAME\" != web'\nhook_timeout = \"10s\"\n",
            on(k),
            seen.display()
        ),
    );
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
    if cfg!(windows) {
        return;
    }
    assert_exit(&out, 6);
    let r = json(&out);
    let units = r["policies"][0]["units"].as_array().expect("units");
    let web = units
        .iter()
        .find(|u| u["volume_name"] == "web")
        .expect("web");
    assert_eq!(web["failures"][0]["op"], "pre");
    assert!(web["created"].is_null());
    let db = units
        .iter()
        .find(|u| u["volume_name"] == "db-data")
        .expect("db");
    assert!(!db["created"].is_null());
    let log = std::fs::read_to_string(&seen).expect("hook ran");
    assert!(
        log.contains("hooked db-data") && log.contains("hooked web"),
        "{log}"
    );
}

/// `check` is a monitoring plugin: OK after a run, CRITICAL when the newest snapshot is too old
/// for the cadence, UNKNOWN when a policy cannot be read; a plan shows orphans of a policy that
/// left the file; a saved plan is refused once a snapshot it deletes is gone.
#[tokio::test(flavor = "multi_thread")]
async fn check_orphans_and_saved_plans() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhNasha;
    let two = format!(
        "[[policy]]\nid = \"keep\"\n{on}\nevery = \"1h\"\nselect = {{ names = [\"partition1\"] }}\nkeep = {{ last = 5 }}\n\n[[policy]]\nid = \"old\"\n{on}\nevery = \"1h\"\nselect = {{ names = [\"partition1\"] }}\nkeep = {{ last = 5 }}\n",
        on = on(k)
    );
    let file = write(&cli, "fleet.toml", &two);
    let f = file.to_str().expect("utf-8");
    assert_exit(&cli.bare(&["policy", "apply", "-f", f]).await, 0);
    let ok = cli.bare(&["policy", "check", "-f", f]).await;
    assert_exit(&ok, 0);
    assert!(
        stdout(&ok).starts_with("SNAPCTL OK: 2 policies, 2 of 2 volumes fresh |"),
        "{}",
        stdout(&ok)
    );
    let late = (Timestamp::now() + SignedDuration::from_hours(3)).to_string();
    let crit = cli.bare(&["policy", "check", "-f", f, "--at", &late]).await;
    assert_exit(&crit, 2);
    assert!(
        stdout(&crit).contains("CRITICAL: policy keep volume partition1: newest snapshot is"),
        "{}",
        stdout(&crit)
    );

    // The policy "old" leaves the file: its snapshot is an orphan, shown and never deleted.
    let one = two.split("\n\n").next().expect("first policy").to_string();
    std::fs::write(&file, one).expect("rewrite");
    let plan = cli.bare(&["-o", "json", "policy", "plan", "-f", f]).await;
    assert_exit(&plan, 0);
    let p = json(&plan);
    assert_eq!(p["schema"], "snapctl.policy-plan/v1");
    assert_eq!(
        p["policies"][0]["units"][0]["orphans"][0]["policy_id"],
        "old"
    );
    let text = cli.bare(&["policy", "plan", "-f", f]).await;
    assert!(
        stdout(&text).contains("! snapctl.old."),
        "{}",
        stdout(&text)
    );

    // A saved plan that deletes a snapshot removed since is refused, nothing changed.
    std::fs::write(
        &file,
        format!(
            "[[policy]]\nid = \"keep\"\n{}\nevery = \"1h\"\nselect = {{ names = [\"partition1\"] }}\nkeep = {{ last = 1 }}\n",
            on(k)
        ),
    )
    .expect("rewrite");
    let later = (Timestamp::now() + SignedDuration::from_hours(1)).to_string();
    let saved = cli.home().join("plan.json");
    let out = cli
        .bare(&[
            "policy",
            "plan",
            "-f",
            f,
            "--at",
            &later,
            "--out",
            saved.to_str().expect("utf-8"),
        ])
        .await;
    assert_exit(&out, 0);
    let doomed: Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("saved")).expect("json");
    assert!(doomed["policies"][0]["units"][0]["create"].is_string());
    let owned = named(&cli, k, "partition1", "snapctl.keep.").await;
    assert_eq!(owned.len(), 1);
    cli.ok(
        k,
        &[
            "snapshot",
            "delete",
            owned[0]["id"].as_str().expect("id"),
            "--volume",
            "partition1",
            "--wait",
        ],
    )
    .await;
    let out = cli
        .bare(&[
            "policy",
            "apply",
            "-f",
            f,
            "--plan",
            saved.to_str().expect("utf-8"),
            "--at",
            &later,
        ])
        .await;
    assert_exit(&out, 9);
    assert!(
        stderr(&out).contains("gone or no longer owned"),
        "{}",
        stderr(&out)
    );
    assert!(
        named(&cli, k, "partition1", "snapctl.keep.")
            .await
            .is_empty(),
        "nothing created"
    );

    // An unreachable account is UNKNOWN for check.
    std::fs::write(&file, "[[policy]]\nid = \"x\"\nprofile = \"nope\"\nevery = \"1h\"\nselect = { names = [\"a\"] }\nkeep = { last = 1 }\n").expect("rewrite");
    let unknown = cli.bare(&["policy", "check", "-f", f]).await;
    assert_exit(&unknown, 3);
    assert!(
        stdout(&unknown).starts_with("SNAPCTL UNKNOWN"),
        "{}",
        stdout(&unknown)
    );
}

/// The emulator seeds many volumes; a plan over all of them lists snapshots in bulk where the API
/// can (OUTSCALE, PowerVC) and once per volume at most elsewhere.
#[tokio::test(flavor = "multi_thread")]
async fn a_plan_over_many_volumes_spends_at_most_one_list_per_volume() {
    let emu = snapctl::emulator::start(EmulatorConfig {
        delay: std::time::Duration::from_millis(10),
        volumes: 60,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let cli = Cli::new(&emu);
    for k in ProviderKind::ALL {
        let select = match k {
            ProviderKind::Outscale | ProviderKind::Powervc => "tags = { fleet = \"yes\" }",
            _ => "name_regex = \"^fleet-\"",
        };
        let file = write(
            &cli,
            &format!("{}.toml", k.as_str()),
            &format!(
                "[[policy]]\nid = \"many\"\n{}\nevery = \"1h\"\nexpect_volumes = \"60..60\"\nselect = {{ {select} }}\nkeep = {{ last = 1 }}\n",
                on(k)
            ),
        );
        let before = emu.requests();
        let out = cli
            .bare(&[
                "-o",
                "json",
                "policy",
                "plan",
                "-f",
                file.to_str().expect("utf-8"),
            ])
            .await;
        assert_exit(&out, 0);
        assert_eq!(json(&out)["policies"][0]["selected"], 60);
        let spent = emu.requests() - before;
        let bound = match k {
            // ReadVolumes + one ReadSnapshots for all 62 volumes.
            ProviderKind::Outscale => 4,
            // Keystone token + volumes + one snapshot listing (+ version discovery).
            ProviderKind::Powervc => 6,
            // The share list, then one snapshot list per share.
            ProviderKind::OvhEfs => 62 + 4,
            // The API has no bulk reads: each partition is read, then its custom snapshots and
            // its schedule list (3 per volume).
            ProviderKind::OvhNasha => 3 * 62 + 4,
        };
        assert!(
            spent <= bound,
            "{k}: {spent} requests for 60 volumes (bound {bound})"
        );
    }
}

/// `orphans` lists marked snapshots of a policy that left the file, deletes them only with
/// `--delete --policy-id ID`, and never those of a policy still in the file.
#[tokio::test(flavor = "multi_thread")]
async fn orphans_are_deleted_only_when_named() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let policy = |id: &str| {
        format!(
            "[[policy]]\nid = \"{id}\"\n{}\nevery = \"1h\"\nselect = {{ names = [\"db-data\"] }}\nkeep = {{ last = 2 }}\n\n",
            on(k)
        )
    };
    let file = write(&cli, "fleet.toml", &(policy("stay") + &policy("leave")));
    let f = file.to_str().expect("utf-8");
    assert_exit(&cli.bare(&["policy", "apply", "-f", f]).await, 0);
    std::fs::write(&file, policy("stay")).expect("rewrite");
    let listed = cli
        .bare(&["-o", "json", "policy", "orphans", "-f", f])
        .await;
    assert_exit(&listed, 0);
    let found = json(&listed);
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found[0]["policy_id"], "leave");
    assert_eq!(found[0]["reason"], "policy not in the file");
    let before = emu.changes().len();
    assert_exit(
        &cli.bare(&["policy", "orphans", "-f", f, "--delete"]).await,
        2,
    );
    // A policy still in the file has no orphans on its live volumes: nothing is deleted.
    let none = cli
        .bare(&[
            "policy",
            "orphans",
            "-f",
            f,
            "--delete",
            "--policy-id",
            "stay",
        ])
        .await;
    assert_exit(&none, 0);
    assert_eq!(emu.changes().len(), before, "nothing deleted yet");
    let vol = emu.demo_volume(k);
    let leave = found[0]["id"].as_str().expect("id").to_string();
    assert_exit(
        &cli.bare(&[
            "policy",
            "orphans",
            "-f",
            f,
            "--delete",
            "--policy-id",
            "leave",
        ])
        .await,
        0,
    );
    let left: Vec<String> = cli
        .json(k, &["snapshot", "list", "--volume", &vol])
        .await
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect();
    assert!(!left.contains(&leave), "the orphan is gone");
    assert_eq!(
        named(&cli, k, &vol, "snapctl.stay.").await.len(),
        1,
        "the kept policy's stays"
    );
}

/// `adopt` shows what it would mark and changes nothing without `--yes`; with it, `rotate`'s
/// snapshots become the policy's own (its retention now counts them). OUTSCALE, whose
/// descriptions cannot change, refuses with exit 3.
#[tokio::test(flavor = "multi_thread")]
async fn adopt_marks_rotate_snapshots_only_with_yes() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for k in [ProviderKind::OvhEfs, ProviderKind::Powervc] {
        let vol = emu.demo_volume(k);
        emu.set_clock_offset(-SignedDuration::from_hours(48));
        cli.ok(
            k,
            &[
                "rotate",
                "--volume",
                &vol,
                "--create",
                "--wait",
                "--keep-last",
                "5",
            ],
        )
        .await;
        emu.set_clock_offset(-SignedDuration::from_hours(24));
        cli.ok(
            k,
            &[
                "rotate",
                "--volume",
                &vol,
                "--create",
                "--wait",
                "--keep-last",
                "5",
            ],
        )
        .await;
        emu.set_clock_offset(SignedDuration::ZERO);
        let file = write(
            &cli,
            "adopt.toml",
            &format!(
                "[[policy]]\nid = \"adopter\"\n{}\nevery = \"1d\"\nselect = {{ ids = [\"{vol}\"] }}\nkeep = {{ last = 5 }}\n",
                on(k)
            ),
        );
        let f = file.to_str().expect("utf-8");
        let before = emu.changes().len();
        let shown = cli
            .bare(&["policy", "adopt", "-f", f, "--policy", "adopter"])
            .await;
        assert_exit(&shown, 0);
        assert!(
            stdout(&shown).contains("2 snapshots to adopt"),
            "{k}: {}",
            stdout(&shown)
        );
        assert!(
            stdout(&shown).contains("-> snapctl.adopter."),
            "{}",
            stdout(&shown)
        );
        assert_eq!(
            emu.changes().len(),
            before,
            "{k}: nothing changed without --yes"
        );
        assert_exit(
            &cli.bare(&["policy", "adopt", "-f", f, "--policy", "adopter", "--yes"])
                .await,
            0,
        );
        let plan = json(&cli.bare(&["-o", "json", "policy", "plan", "-f", f]).await);
        assert_eq!(plan["policies"][0]["units"][0]["owned"], 2, "{k}: {plan}");
        assert!(
            named(&cli, k, &vol, "snapctl-").await.is_empty(),
            "{k}: renamed"
        );
    }
    let file = write(
        &cli,
        "osc.toml",
        &format!(
            "[[policy]]\nid = \"adopter\"\n{}\nevery = \"1d\"\nselect = {{ names = [\"db-data\"] }}\nkeep = {{ last = 5 }}\n",
            on(ProviderKind::Outscale)
        ),
    );
    let out = cli
        .bare(&[
            "policy",
            "adopt",
            "-f",
            file.to_str().expect("utf-8"),
            "--policy",
            "adopter",
        ])
        .await;
    assert_exit(&out, 3);
}

/// The README's first command: `snapctl demo` runs every provider and ends with fleet mode (plan,
/// apply with two drills and a copy to another Region, a second plan with nothing left to do, and
/// the coverage report).
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_ends_with_a_fleet_plan_and_apply() {
    let home = tempfile::tempdir().expect("tempdir");
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_snapctl"));
    cmd.env_clear()
        .envs(crate::common::clock_env())
        .env("HOME", home.path())
        .env("TMPDIR", home.path())
        .arg("demo");
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
        .await
        .expect("join");
    assert_exit(&out, 0);
    let text = stdout(&out);
    let fleet = text.find("# Fleet mode").expect("fleet stage");
    let rest = &text[fleet..];
    assert!(rest.contains("Plan: 4 to create"), "{rest}");
    assert!(
        rest.contains("Applied: 4 created, 0 deleted, 0 of 4 units failed. Drills: 2 of 2 passed."),
        "{rest}"
    );
    assert!(
        rest.contains("~ drill ") && rest.contains("Drills: 2 to run"),
        "{rest}"
    );
    // The OUTSCALE policy copies its snapshot to the emulator's other Region.
    assert!(
        rest.contains("Copies: 1 to make, 0 to delete.")
            && rest.contains("Copies: 1 of 1 made, 0 deleted at destinations."),
        "{rest}"
    );
    // The coverage of the last hour: each volume's tick met, two drills passed.
    assert!(rest.contains("$ snapctl policy report"), "{rest}");
    assert!(
        rest.contains("Total: 4 volumes; ticks answered 4 of 4 (100.0%)")
            && rest.contains("2 drills passed, 0 failed; 0 without a recent copy."),
        "{rest}"
    );
    assert!(
        rest.contains("Plan: 0 to create, 0 to delete, 4 to keep"),
        "{rest}"
    );
}

/// On OUTSCALE the `Name` tag is written after the create and can be lost or edited: the
/// description still says who owns the snapshot, and apply puts the name back (`~`).
#[tokio::test(flavor = "multi_thread")]
async fn outscale_name_tags_are_repaired() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let vol = emu.demo_volume(k);
    let made = cli
        .json(
            k,
            &[
                "snapshot",
                "create",
                "--volume",
                &vol,
                "--wait",
                "--description",
                "snapctl:v1 policy=tagged",
            ],
        )
        .await;
    assert!(made["name"].is_null());
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "[[policy]]\nid = \"tagged\"\n{}\nevery = \"1d\"\nselect = {{ ids = [\"{vol}\"] }}\nkeep = {{ last = 5 }}\n",
            on(k)
        ),
    );
    let f = file.to_str().expect("utf-8");
    let plan = cli
        .bare(&["policy", "plan", "-f", f, "--detailed-exitcode"])
        .await;
    assert_exit(&plan, 10);
    assert!(stdout(&plan).contains("~ snap-"), "{}", stdout(&plan));
    assert_exit(&cli.bare(&["policy", "apply", "-f", f]).await, 0);
    let fixed = cli
        .json(k, &["snapshot", "show", made["id"].as_str().expect("id")])
        .await;
    assert!(
        fixed["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("snapctl.tagged.")),
        "{fixed}"
    );
    assert_exit(
        &cli.bare(&["policy", "plan", "-f", f, "--detailed-exitcode"])
            .await,
        0,
    );
}

/// SIGINT during `apply`: creates already sent finish, no new one starts, the report says which
/// units were skipped, exit 130 within 2 s of the signal; every snapshot taken is in the report.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_apply_reports_what_it_did() {
    let emu = snapctl::emulator::start(EmulatorConfig {
        delay: std::time::Duration::from_millis(200),
        volumes: 20,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "[[policy]]\nid = \"slow\"\n{}\nevery = \"1h\"\nselect = {{ tags = {{ fleet = \"yes\" }} }}\nkeep = {{ last = 1 }}\n",
            on(k)
        ),
    );
    let mut cmd = cli.apply_process(&file);
    // Four requests a second: most units have not started when the signal comes.
    cmd.env("SNAPCTL_MAX_RPS", "4");
    let started = std::time::Instant::now();
    let out = crate::common::signal_after(cmd, "INT", std::time::Duration::from_millis(1500)).await;
    let after_signal = started.elapsed() - std::time::Duration::from_millis(1500);
    assert_exit(&out, 130);
    // Honoured at once: no wait for the rate limiter's queue (about 15 s of it here) or the next
    // poll. The promise is 2 s; the bound leaves room for a loaded CI machine.
    assert!(
        after_signal < std::time::Duration::from_secs(5),
        "exited {after_signal:?} after the signal"
    );
    let r = json(&out);
    let units = r["policies"][0]["units"].as_array().expect("units");
    let created = units.iter().filter(|u| !u["created"].is_null()).count();
    let skipped = units.iter().filter(|u| u["status"] == "skipped").count();
    assert!(skipped > 0, "{r}");
    assert!(created + skipped <= 20, "{r}");
    // The cloud holds exactly the snapshots the report says were taken.
    let made = emu
        .changes()
        .iter()
        .filter(|c| c.contains("CreateSnapshot"))
        .count();
    assert_eq!(made, created, "{:?}", emu.changes());
}

/// A signal stops `plan`, `report` and `orphans` with 130, as every command (they exited 6), and
/// a plan cut short prints nothing (not one "interrupted" line per volume it did not list).
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_stops_plan_report_and_orphans_with_130() {
    let emu = snapctl::emulator::start(EmulatorConfig {
        volumes: 40,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let cli = Cli::new(&emu);
    // EFS lists each share's snapshots on its own: 40 shares take 20 s at 2 requests a second.
    let k = ProviderKind::OvhEfs;
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "[[policy]]\nid = \"slow\"\n{}\nevery = \"1h\"\nselect = {{ name_regex = \"^fleet-\" }}\nkeep = {{ last = 1 }}\n",
            on(k)
        ),
    );
    let f = file.to_str().expect("utf-8");
    for sub in ["plan", "report", "orphans"] {
        let mut cmd = cli.process(&["policy", sub, "-f", f]);
        // Two requests a second: the listings are far from done when the signal comes.
        cmd.env("SNAPCTL_MAX_RPS", "2");
        let out =
            crate::common::signal_after(cmd, "TERM", std::time::Duration::from_millis(1500)).await;
        assert_exit(&out, 130);
        let interrupted = stdout(&out).matches("interrupted").count();
        assert!(interrupted <= 1, "{sub}: {}", stdout(&out));
    }
}

/// On every provider: a policy whose selector suddenly matches nothing is refused (exit 9) while
/// a policy on the same account runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_selector_matching_nothing_is_refused_on_every_provider() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for k in ProviderKind::ALL {
        let text = format!(
            "[[policy]]\nid = \"gone\"\n{on}\nevery = \"1h\"\nexpect_volumes = \"1..\"\nselect = {{ names = [\"renamed-away\"] }}\nkeep = {{ last = 2 }}\n\n[[policy]]\nid = \"here\"\n{on}\nevery = \"1h\"\nexpect_volumes = \"1..1\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 2 }}\n",
            emu.demo_volume(k),
            on = on(k),
        );
        let file = write(&cli, &format!("{}.toml", k.as_str()), &text);
        let r = apply(&cli, &file, &[], 9).await;
        assert_eq!(r["policies"][0]["status"], "refused", "{k}: {r}");
        assert_eq!(r["policies"][0]["selected"], 0);
        assert_eq!(r["policies"][1]["status"], "ok", "{k}: {r}");
        assert!(!r["policies"][1]["units"][0]["created"].is_null(), "{k}");
        // --jq filters the report of a run that ends in exit 9: it is printed all the same.
        let out = cli
            .bare(&[
                "policy",
                "apply",
                "-f",
                file.to_str().expect("utf-8"),
                "--jq",
                ".policies[] | .id + \" \" + .status",
            ])
            .await;
        assert_exit(&out, 9);
        assert_eq!(stdout(&out), "gone refused\nhere ok\n", "{k}");
    }
}

/// A volume deleted out of band leaves its snapshots (OUTSCALE keeps them): `orphans` reports
/// the policy's marked ones as `volume gone`, and deletes them only when asked.
#[tokio::test(flavor = "multi_thread")]
async fn snapshots_of_a_deleted_volume_are_orphans() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let vol = emu.demo_volume(k);
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "[[policy]]\nid = \"db\"\n{}\nevery = \"1h\"\nselect = {{ name_regex = \"^db-\" }}\nkeep = {{ last = 2 }}\n",
            on(k)
        ),
    );
    let f = file.to_str().expect("utf-8");
    assert_exit(&cli.bare(&["policy", "apply", "-f", f]).await, 0);
    assert!(
        json(
            &cli.bare(&["-o", "json", "policy", "orphans", "-f", f])
                .await
        )
        .as_array()
        .is_some_and(Vec::is_empty)
    );
    emu.delete_outscale_volume(&vol);
    let found = json(
        &cli.bare(&["-o", "json", "policy", "orphans", "-f", f])
            .await,
    );
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found[0]["reason"], "volume gone");
    assert_eq!(found[0]["policy_id"], "db");
    assert_eq!(found[0]["volume_id"], vol.as_str());
    // The policy still stands; its only orphans are the snapshots of the gone volume.
    let out = cli
        .bare(&[
            "policy",
            "orphans",
            "-f",
            f,
            "--delete",
            "--policy-id",
            "db",
        ])
        .await;
    assert_exit(&out, 0);
    let left = json(
        &cli.bare(&["-o", "json", "policy", "orphans", "-f", f])
            .await,
    );
    assert_eq!(left, serde_json::json!([]));
}

/// `--dry-run` on a mutating policy command is refused before anything is read: the plan is
/// fleet mode's dry run.
#[tokio::test(flavor = "multi_thread")]
async fn dry_run_points_to_the_plan() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "[[policy]]\nid = \"p\"\n{}\nevery = \"1h\"\nselect = {{ names = [\"db-data\"] }}\nkeep = {{ last = 1 }}\n",
            on(ProviderKind::Outscale)
        ),
    );
    let f = file.to_str().expect("utf-8");
    let before = emu.requests();
    for args in [
        vec!["--dry-run", "policy", "apply", "-f", f],
        vec![
            "--dry-run",
            "policy",
            "adopt",
            "-f",
            f,
            "--policy",
            "p",
            "--yes",
        ],
        vec![
            "--dry-run",
            "policy",
            "orphans",
            "-f",
            f,
            "--delete",
            "--policy-id",
            "x",
        ],
    ] {
        let out = cli.bare(&args).await;
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("snapctl policy plan"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(emu.requests(), before, "nothing was read or sent");
}

/// A pre-hook that outlives `hook_timeout` is killed and counts as failed: no snapshot, exit 6.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_hook_past_its_timeout_is_killed() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "[[policy]]\nid = \"slow\"\n{}\nevery = \"1h\"\nselect = {{ names = [\"db-data\"] }}\nkeep = {{ last = 1 }}\npre = \"sleep 30\"\nhook_timeout = \"1s\"\n",
            on(ProviderKind::Outscale)
        ),
    );
    let started = std::time::Instant::now();
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
    assert_exit(&out, 6);
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    let r = json(&out);
    let unit = &r["policies"][0]["units"][0];
    assert_eq!(unit["failures"][0]["op"], "pre");
    assert!(
        unit["failures"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("killed")),
        "{unit}"
    );
    assert!(unit["created"].is_null());
}

/// On every provider: when the API refuses a volume's create, nothing of that volume is deleted,
/// and the other volume of the same policy is rotated (exit 6).
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_create_keeps_that_volume_whole_on_every_provider() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for (k, other) in [
        (ProviderKind::OvhEfs, "logs"),
        (ProviderKind::OvhNasha, "backups"),
        (ProviderKind::Outscale, "web"),
        (ProviderKind::Powervc, "db-logs"),
    ] {
        let a = emu.demo_volume(k);
        let b = cli
            .json(k, &["volume", "list"])
            .await
            .as_array()
            .expect("array")
            .iter()
            .find(|v| v["name"] == other)
            .and_then(|v| v["id"].as_str())
            .expect("the other volume")
            .to_string();
        // Two snapshots of the policy on each volume, three days old.
        let back = SignedDuration::from_hours(72);
        emu.set_clock_offset(-back);
        for vol in [&a, &b] {
            for minutes in [0, 30] {
                let at = Timestamp::now() - back + SignedDuration::from_mins(minutes);
                let name = format!("snapctl.f.{}", at.strftime("%Y%m%dT%H%M%SZ"));
                let mut args = vec![
                    "snapshot", "create", "--volume", vol, "--name", &name, "--wait",
                ];
                if k != ProviderKind::OvhNasha {
                    args.extend(["--description", "snapctl:v1 policy=f"]);
                }
                if k == ProviderKind::Powervc {
                    args.push("--force");
                }
                cli.ok(k, &args).await;
            }
        }
        emu.set_clock_offset(SignedDuration::ZERO);
        emu.refuse_creates_on(&b);
        let file = write(
            &cli,
            &format!("{}.toml", k.as_str()),
            &format!(
                "[[policy]]\nid = \"f\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{a}\", \"{b}\"] }}\nkeep = {{ last = 1 }}\n",
                on(k)
            ),
        );
        let r = apply(&cli, &file, &[], 6).await;
        let unit = |v: &str| unit_of(&r, v).clone();
        assert_eq!(unit(&b)["failures"][0]["op"], "create", "{k}: {r}");
        assert_eq!(unit(&b)["deleted"], serde_json::json!([]), "{k}");
        assert_eq!(unit(&a)["status"], "ok", "{k}: {r}");
        assert_eq!(
            unit(&a)["deleted"].as_array().map(Vec::len),
            Some(2),
            "{k}: {r}"
        );
        assert_eq!(
            named(&cli, k, &b, "snapctl.f.").await.len(),
            2,
            "{k}: the refused volume keeps both"
        );
        assert_eq!(
            named(&cli, k, &a, "snapctl.f.").await.len(),
            1,
            "{k}: the other keeps the new one"
        );
    }
}

/// The start of the hour `hours` before now's.
fn hour_start(hours_back: i64) -> Timestamp {
    let now = Timestamp::now().as_second();
    Timestamp::from_second(now.div_euclid(3600) * 3600 - hours_back * 3600).expect("time")
}

/// Move the emulator's clock so that it reads `at` plus `skew` (the cloud's clock against the
/// runner's `--at`).
fn cloud_clock(emu: &Emulator, at: Timestamp, skew: SignedDuration) {
    emu.set_clock_offset(at.duration_since(Timestamp::now()) + skew);
}

/// The cloud's clock 5 s behind or ahead of the runner's, cron firing right on the tick: one
/// snapshot per tick on every provider, because what a snapshot answers is read from its mark, not
/// from the `created_at` the cloud stamps (5 s behind, that falls before the tick).
#[tokio::test(flavor = "multi_thread")]
async fn clock_skew_never_doubles_snapshots_on_every_provider() {
    for skew in [-5, 5] {
        let skew = SignedDuration::from_secs(skew);
        let emu = start().await;
        let cli = Cli::new(&emu);
        let mut text = String::new();
        for k in ProviderKind::ALL {
            text.push_str(&format!(
                "[[policy]]\nid = \"s-{}\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 10 }}\n\n",
                k.as_str(),
                on(k),
                emu.demo_volume(k)
            ));
        }
        let file = write(&cli, "fleet.toml", &text);
        let first = hour_start(6);
        for h in 0..4 {
            let tick = first + SignedDuration::from_hours(h);
            cloud_clock(&emu, tick, skew);
            let r = apply(&cli, &file, &["--at", &tick.to_string()], 0).await;
            for p in r["policies"].as_array().expect("policies") {
                assert!(
                    !p["units"][0]["created"].is_null(),
                    "skew {skew}: tick {tick} not answered: {p}"
                );
            }
            // Half an hour on (the same tick), nothing is due.
            let later = tick + SignedDuration::from_mins(30);
            cloud_clock(&emu, later, skew);
            let out = cli
                .bare(&[
                    "policy",
                    "plan",
                    "--detailed-exitcode",
                    "-f",
                    file.to_str().expect("utf-8"),
                    "--at",
                    &later.to_string(),
                ])
                .await;
            assert_exit(&out, 0);
        }
        emu.set_clock_offset(SignedDuration::ZERO);
        for k in ProviderKind::ALL {
            let owned = named(
                &cli,
                k,
                &emu.demo_volume(k),
                &format!("snapctl.s-{}.", k.as_str()),
            )
            .await;
            assert_eq!(owned.len(), 4, "skew {skew} on {k}: {owned:?}");
            // Each is named after the tick it answers, whatever the cloud's clock said.
            for h in 0..4 {
                let name = format!(
                    "snapctl.s-{}.{}",
                    k.as_str(),
                    (first + SignedDuration::from_hours(h)).strftime("%Y%m%dT%H%M%SZ")
                );
                assert!(
                    owned.iter().any(|s| s["name"] == name.as_str()),
                    "skew {skew} on {k}: no {name} in {owned:?}"
                );
            }
        }
    }
}

/// A future-dated snapshot with the policy's mark (made by hand, or left by `apply --at` ahead)
/// answers no tick: plan shows it with `!` and still creates, check warns, on every provider.
#[tokio::test(flavor = "multi_thread")]
async fn a_future_dated_snapshot_never_stops_due_snapshots_on_every_provider() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let mut text = String::new();
    for k in ProviderKind::ALL {
        let id = format!("f-{}", k.as_str());
        let vol = emu.demo_volume(k);
        let name = format!("snapctl.{id}.20991231T000000Z");
        let description = format!("snapctl:v1 policy={id}");
        let mut args = vec![
            "snapshot", "create", "--volume", &vol, "--name", &name, "--wait",
        ];
        if k != ProviderKind::OvhNasha {
            args.extend(["--description", &description]);
        }
        cli.ok(k, &args).await;
        text.push_str(&format!(
            "[[policy]]\nid = \"{id}\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{vol}\"] }}\nkeep = {{ last = 5 }}\n\n",
            on(k)
        ));
    }
    let file = write(&cli, "fleet.toml", &text);
    let path = file.to_str().expect("utf-8");
    let plan = cli
        .bare(&["policy", "plan", "--detailed-exitcode", "-f", path])
        .await;
    assert_exit(&plan, 10);
    let said = stdout(&plan);
    for k in ProviderKind::ALL {
        assert!(
            said.contains(&format!("+ snapctl.f-{}.", k.as_str())),
            "{k}: {said}"
        );
    }
    assert_eq!(said.matches("! ").count(), 4, "{said}");
    assert!(said.contains("future-dated"), "{said}");
    let r = apply(&cli, &file, &[], 0).await;
    assert_eq!(
        r["policies"][0]["units"][0]["future"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{r}"
    );
    let check = cli.bare(&["policy", "check", "-f", path]).await;
    assert_exit(&check, 1);
    assert!(
        stdout(&check).contains("is dated in the future"),
        "{}",
        stdout(&check)
    );
    let again = cli
        .bare(&["policy", "plan", "--detailed-exitcode", "-f", path])
        .await;
    assert_exit(&again, 0);
}

/// A saved plan can only narrow what the live plan does: deletions of kept snapshots, a cleared
/// refusal, and a plan from an older version of the file are refused (exit 9, nothing changed);
/// names come from the file, never from the plan.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_can_only_narrow_the_live_plan() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhEfs;
    let vol = emu.demo_volume(k);
    let policy = |extra: &str| {
        format!(
            "[[policy]]\nid = \"sp\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{vol}\"] }}\nkeep = {{ last = 2 }}\n{extra}",
            on(k)
        )
    };
    let file = write(&cli, "fleet.toml", &policy(""));
    let f = file.to_str().expect("utf-8");
    // Three ticks answered: the policy keeps two.
    let first = hour_start(5);
    for h in 0..3 {
        let tick = first + SignedDuration::from_hours(h);
        cloud_clock(&emu, tick, SignedDuration::ZERO);
        apply(&cli, &file, &["--at", &tick.to_string()], 0).await;
    }
    emu.set_clock_offset(SignedDuration::ZERO);
    let owned = || named(&cli, k, &vol, "snapctl.sp.");
    assert_eq!(owned().await.len(), 2);
    let saved = cli.home().join("plan.json");
    let save = || async {
        let out = cli
            .bare(&[
                "policy",
                "plan",
                "-f",
                f,
                "--out",
                saved.to_str().expect("utf-8"),
            ])
            .await;
        // 9 when the live plan refuses the policy; the plan is saved all the same.
        assert!(matches!(out.status.code(), Some(0 | 9)), "{}", stderr(&out));
        serde_json::from_str::<Value>(&std::fs::read_to_string(&saved).expect("plan"))
            .expect("json")
    };
    let apply_saved = || async {
        cli.bare(&[
            "policy",
            "apply",
            "-f",
            f,
            "--plan",
            saved.to_str().expect("utf-8"),
        ])
        .await
    };
    let count = emu.changes().len();

    // 1. The kept snapshots listed as deletions (the newest among them).
    let mut plan = save().await;
    let unit = &mut plan["policies"][0]["units"][0];
    let kept = unit["keep"].clone();
    unit["delete"] = Value::Array(
        kept.as_array()
            .expect("keep")
            .iter()
            .map(|k| {
                let mut d = k.clone();
                d["reason"] = "edited".into();
                d
            })
            .collect(),
    );
    std::fs::write(&saved, plan.to_string()).expect("edit");
    let out = apply_saved().await;
    assert_exit(&out, 9);
    assert!(
        stderr(&out).contains("the live plan keeps it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(emu.changes().len(), count, "nothing was changed");

    // 2. A refusal cleared in the plan, its held deletions put back: the live plan still
    // refuses them (max_delete = 0), so nothing at all is done.
    std::fs::write(&file, policy("max_delete = 0\n")).expect("rewrite");
    let mut plan = save().await;
    assert!(
        plan["policies"][0]["deletions_refused"]
            .as_str()
            .is_some_and(|r| r.contains("max_delete 0")),
        "{plan}"
    );
    plan["policies"][0]["deletions_refused"] = Value::Null;
    let unit = &mut plan["policies"][0]["units"][0];
    let held: Vec<Value> = unit["keep"]
        .as_array()
        .expect("keep")
        .iter()
        .filter(|k| {
            k["reasons"][0]
                .as_str()
                .is_some_and(|r| r.contains("max_delete"))
        })
        .map(|k| {
            let mut d = k.clone();
            d["reason"] = "edited".into();
            d
        })
        .collect();
    assert!(!held.is_empty(), "{unit}");
    unit["delete"] = Value::Array(held);
    std::fs::write(&saved, plan.to_string()).expect("edit");
    let out = apply_saved().await;
    assert_exit(&out, 9);
    assert!(
        stderr(&out).contains("the live plan keeps it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(emu.changes().len(), count, "nothing was changed");

    // 3. A plan saved before the file changed is refused.
    std::fs::write(&file, policy("")).expect("rewrite");
    let _ = save().await;
    std::fs::write(&file, policy("max_delete = 0\n")).expect("rewrite");
    let out = apply_saved().await;
    assert_exit(&out, 9);
    assert!(
        stderr(&out).contains("file changed since"),
        "{}",
        stderr(&out)
    );
    assert_eq!(emu.changes().len(), count, "nothing was changed");

    // 4. A due create renamed in the plan: the snapshot gets the file's name.
    std::fs::write(&file, policy("")).expect("rewrite");
    let later = hour_start(-1);
    cloud_clock(&emu, later, SignedDuration::ZERO);
    let out = cli
        .bare(&[
            "policy",
            "plan",
            "-f",
            f,
            "--at",
            &later.to_string(),
            "--out",
            saved.to_str().expect("utf-8"),
        ])
        .await;
    assert_exit(&out, 0);
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("plan")).expect("json");
    assert!(
        plan["policies"][0]["units"][0]["create"].is_string(),
        "{plan}"
    );
    plan["policies"][0]["units"][0]["create"] = "evil\n\u{1b}[2J".into();
    std::fs::write(&saved, plan.to_string()).expect("edit");
    let out = cli
        .bare(&[
            "policy",
            "apply",
            "-f",
            f,
            "--at",
            &later.to_string(),
            "--plan",
            saved.to_str().expect("utf-8"),
        ])
        .await;
    assert_exit(&out, 0);
    emu.set_clock_offset(SignedDuration::ZERO);
    let want = format!("snapctl.sp.{}", later.strftime("%Y%m%dT%H%M%SZ"));
    let names: Vec<Value> = owned().await.iter().map(|s| s["name"].clone()).collect();
    assert!(names.iter().any(|n| n == want.as_str()), "{names:?}");
    assert!(
        !stdout(&out).contains('\u{1b}')
            && !names
                .iter()
                .any(|n| n.as_str().is_some_and(|n| n.contains("evil"))),
        "{names:?}"
    );
}

/// A metrics or report file in a missing directory is refused before any request (exit 2): no
/// snapshot is taken by a run that could not say so.
#[tokio::test(flavor = "multi_thread")]
async fn unwritable_report_paths_are_refused_before_any_change() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhEfs;
    for key in ["metrics_file", "report_file"] {
        let missing = cli.home().join("no-such-dir").join("out");
        let file = write(
            &cli,
            "fleet.toml",
            &format!(
                "{key} = {:?}\n\n[[policy]]\nid = \"w\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 2 }}\n",
                missing.to_str().expect("utf-8"),
                on(k),
                emu.demo_volume(k)
            ),
        );
        let before = emu.changes().len();
        let out = cli
            .bare(&["policy", "apply", "-f", file.to_str().expect("utf-8")])
            .await;
        assert_exit(&out, 2);
        assert!(stderr(&out).contains("no-such-dir"), "{}", stderr(&out));
        assert_eq!(emu.changes().len(), before, "{key}: nothing was changed");
    }
}

/// The same policy file at two paths, applied at once (two cron entries, two copies of a
/// config): the second run plans while the first holds the volume locks in its `pre` hook, waits
/// for them (`--lock-wait`), sees that the volume changed since it listed it, lists it again
/// under the lock and takes no second snapshot for the tick, on every provider.
#[tokio::test(flavor = "multi_thread")]
async fn two_copies_of_one_file_applied_at_once_take_one_snapshot_per_tick_on_every_provider() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let mut text = String::new();
    for k in ProviderKind::ALL {
        text.push_str(&format!(
            "[[policy]]\nid = \"twin-{}\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 3 }}\npre = \"sleep 1\"\n\n",
            k.as_str(),
            on(k),
            emu.demo_volume(k)
        ));
    }
    let a = write(&cli, "a.toml", &text);
    let b = write(&cli, "b.toml", &text);
    let (first, second) = tokio::join!(apply(&cli, &a, &[], 0), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        apply(&cli, &b, &["--lock-wait", "1m"], 0).await
    });
    for k in ProviderKind::ALL {
        let owned = named(
            &cli,
            k,
            &emu.demo_volume(k),
            &format!("snapctl.twin-{}.", k.as_str()),
        )
        .await;
        assert_eq!(owned.len(), 1, "{k}: {owned:?}\n{first}\n{second}");
    }
    let made = |r: &Value| {
        r["policies"]
            .as_array()
            .expect("policies")
            .iter()
            .flat_map(|p| p["units"].as_array().expect("units"))
            .filter(|u| !u["created"].is_null())
            .count()
    };
    assert_eq!((made(&first), made(&second)), (4, 0), "{first}\n{second}");
}

/// 2,000 units (two policies over 1,000 volumes) under `ulimit -n 256`, the soft limit of many
/// services: the run holds a bounded number of volume locks at once and every unit ends ok.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_large_fleet_applies_under_a_low_open_file_limit() {
    let emu = snapctl::emulator::start(EmulatorConfig {
        delay: std::time::Duration::from_millis(20),
        volumes: 1000,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let mut cli = Cli::new(&emu);
    cli.shell_prelude = Some("ulimit -n 256".into());
    let k = ProviderKind::Outscale;
    let mut text = String::new();
    for id in ["fd-a", "fd-b"] {
        text.push_str(&format!(
            "[[policy]]\nid = \"{id}\"\n{}\nevery = \"1h\"\nexpect_volumes = \"1000..1000\"\nselect = {{ tags = {{ fleet = \"yes\" }} }}\nkeep = {{ last = 1 }}\n\n",
            on(k)
        ));
    }
    let file = write(&cli, "fleet.toml", &text);
    let limit = cli.bare(&["policy", "validate", "-f", "fleet.toml"]).await;
    assert_exit(&limit, 0);
    let report = apply(&cli, &file, &[], 0).await;
    let units: Vec<&Value> = report["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .flat_map(|p| p["units"].as_array().expect("units"))
        .collect();
    assert_eq!(units.len(), 2000);
    assert!(
        units
            .iter()
            .all(|u| u["status"] == "ok" && !u["created"].is_null()),
        "{}",
        units
            .iter()
            .find(|u| u["status"] != "ok")
            .map(|u| u.to_string())
            .unwrap_or_default()
    );
}

/// SIGTERM while `pre` hooks run (a database freeze): no create is sent after the signal, every
/// unit whose `pre` ran runs `post` (the thaw) before exit, the report says `interrupted`, the
/// metrics say the run did not succeed, exit 130; on every provider.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_signal_during_pre_hooks_still_thaws_and_creates_nothing_on_every_provider() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let marks = cli.home().join("marks");
    std::fs::create_dir_all(&marks).expect("dir");
    let mut text = format!(
        "metrics_file = \"{}\"\n\n",
        cli.home().join("fleet.prom").display()
    );
    for k in ProviderKind::ALL {
        text.push_str(&format!(
            "[[policy]]\nid = \"frozen-{k}\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 3 }}\npre = 'touch {m}/froze-$SNAPCTL_PROVIDER; sleep 2'\npost = 'touch {m}/thawed-$SNAPCTL_PROVIDER'\nhook_timeout = \"10s\"\n\n",
            on(k),
            emu.demo_volume(k),
            k = k.as_str(),
            m = marks.display(),
        ));
    }
    let file = write(&cli, "fleet.toml", &text);
    let before = emu.changes().len();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_snapctl"));
    cmd.env_clear()
        .envs(crate::common::clock_env())
        .env("HOME", cli.home())
        .env("SNAPCTL_LOCK_DIR", cli.home().join("locks"))
        .env("SNAPCTL_MAX_RPS", "0")
        .envs(emu.env())
        .args([
            "-o",
            "json",
            "--poll-interval",
            "20ms",
            "policy",
            "apply",
            "-f",
        ])
        .arg(&file);
    let out =
        crate::common::signal_after(cmd, "TERM", std::time::Duration::from_millis(1200)).await;
    assert_exit(&out, 130);
    let report = json(&out);
    assert!(
        emu.changes()[before..]
            .iter()
            .all(|c| !c.starts_with("POST") || c.contains("/auth/")),
        "no create after the signal: {:?}",
        &emu.changes()[before..]
    );
    for k in ProviderKind::ALL {
        let froze = marks.join(format!("froze-{}", k.as_str())).exists();
        let thawed = marks.join(format!("thawed-{}", k.as_str())).exists();
        assert!(froze, "{k}: pre ran before the signal\n{report}");
        assert!(thawed, "{k}: post ran after its pre\n{report}");
    }
    for p in report["policies"].as_array().expect("policies") {
        assert_eq!(p["status"], "interrupted", "{p}");
        assert!(p["units"][0]["created"].is_null(), "{p}");
    }
    let metrics = std::fs::read_to_string(cli.home().join("fleet.prom")).expect("metrics");
    assert!(
        metrics.contains("snapctl_run_success{policy=\"frozen-outscale\"} 0"),
        "{metrics}"
    );
}

/// A hook that outlives `hook_timeout` is killed with everything it started (its process
/// group), and a hook's output is bounded: 300 MB on stderr is read, only its end is kept.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn hooks_are_killed_as_a_group_and_their_output_is_bounded() {
    // Sleeps of a length no other process uses, so pgrep finds only these.
    let (a, b) = (
        9_000_000 + std::process::id(),
        9_500_000 + std::process::id(),
    );
    let env = [("SNAPCTL_HOOK", "pre".to_string())];
    let started = std::time::Instant::now();
    let err = snapctl::engine::hook::execute(
        &format!("sleep {a} & sleep {b}; true"),
        &env,
        &[],
        std::time::Duration::from_secs(1),
    )
    .await
    .unwrap_err();
    assert!(err.contains("killed"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let left: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&format!("sleep {a}")) || c.contains(&format!("sleep {b}")))
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");
    // 300 MB on stderr, then a last line: only the end is kept, and it says why.
    let err = snapctl::engine::hook::execute(
        "head -c 300000000 /dev/zero | tr '\\0' x >&2; echo >&2; echo 'disk full' >&2; exit 3",
        &env,
        &[],
        std::time::Duration::from_secs(60),
    )
    .await
    .unwrap_err();
    assert!(err.ends_with("disk full"), "{err}");
    assert!(err.len() < 400, "{}", err.len());
}

/// The emulator throttling at half the client's rate (429 with Retry-After; OUTSCALE code 24,
/// Cinder 413 overLimit), 50 volumes on every provider: throttled requests were not carried out,
/// so each is re-sent after Retry-After, creates and tags included, and every unit ends ok with
/// exactly one snapshot per volume.
#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_waited_out_on_every_provider() {
    let emu = snapctl::emulator::start(EmulatorConfig {
        delay: std::time::Duration::from_millis(60),
        volumes: 50,
        throttle: Some(100),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let mut cli = Cli::new(&emu);
    cli.overrides.push(("SNAPCTL_MAX_RPS".into(), "200".into()));
    let mut text = String::new();
    for k in ProviderKind::ALL {
        let select = match k {
            ProviderKind::OvhEfs | ProviderKind::OvhNasha => "name_regex = \"^fleet-\"",
            _ => "tags = { fleet = \"yes\" }",
        };
        text.push_str(&format!(
            "[[policy]]\nid = \"busy-{}\"\n{}\nevery = \"1h\"\nexpect_volumes = \"50..50\"\nselect = {{ {select} }}\nkeep = {{ last = 2 }}\n\n",
            k.as_str(),
            on(k)
        ));
    }
    let file = write(&cli, "fleet.toml", &text);
    let report = apply(&cli, &file, &[], 0).await;
    for p in report["policies"].as_array().expect("policies") {
        let units = p["units"].as_array().expect("units");
        assert_eq!(units.len(), 50, "{}", p["id"]);
        for u in units {
            assert!(
                u["status"] == "ok" && !u["created"].is_null(),
                "{}: {u}",
                p["id"]
            );
        }
    }
    for k in ProviderKind::ALL {
        let all = cli.json(k, &["snapshot", "list"]).await;
        let owned = all
            .as_array()
            .expect("array")
            .iter()
            .filter(|s| {
                s["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(&format!("snapctl.busy-{}.", k.as_str())))
            })
            .count();
        assert_eq!(owned, 50, "{k}");
    }
}

/// The report directory vanishes during the run (a `pre` hook removes it, as an unmounted disk
/// would): the snapshot is taken, the metrics are still written, the whole report goes to stdout
/// and the exit code says the run is not fully reported (11).
#[tokio::test(flavor = "multi_thread")]
async fn a_report_that_cannot_be_written_after_changes_goes_to_stdout_with_exit_11() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhEfs;
    let gone = cli.home().join("reports");
    std::fs::create_dir_all(&gone).expect("dir");
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "report_file = \"{r}\"\nmetrics_file = \"{m}\"\n\n[[policy]]\nid = \"w\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 2 }}\npre = \"rm -rf {g}\"\n",
            on(k),
            emu.demo_volume(k),
            r = gone.join("report.json").display(),
            m = cli.home().join("fleet.prom").display(),
            g = gone.display(),
        ),
    );
    let out = cli
        .bare(&["policy", "apply", "-f", file.to_str().expect("utf-8")])
        .await;
    assert_exit(&out, 11);
    assert!(stderr(&out).contains("report.json"), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["schema"], "snapctl.policy-report/v1");
    assert!(!unit_of(&report, &emu.demo_volume(k))["created"].is_null());
    let metrics = std::fs::read_to_string(cli.home().join("fleet.prom")).expect("metrics");
    assert!(
        metrics.contains("snapctl_run_snapshots_created{policy=\"w\"} 1"),
        "{metrics}"
    );
    // A report_file that is a directory is refused before anything is sent (exit 2).
    let file = write(
        &cli,
        "dir.toml",
        &format!(
            "report_file = \"{}\"\n\n[[policy]]\nid = \"w\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 2 }}\n",
            cli.home().display(),
            on(k),
            emu.demo_volume(k),
        ),
    );
    let before = emu.changes().len();
    let out = cli
        .bare(&["policy", "apply", "-f", file.to_str().expect("utf-8")])
        .await;
    assert_exit(&out, 2);
    assert_eq!(emu.changes().len(), before);
}

/// Policy commands read the profiles file every command reads: `--config` names it (it used to
/// be only `SNAPCTL_CONFIG` or the default path, so a profile defined there was "no profile").
#[tokio::test(flavor = "multi_thread")]
async fn policy_commands_read_the_profiles_file_config_names() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let file = write(
        &cli,
        "alt.toml",
        "[[policy]]\nid = \"p\"\nprofile = \"elsewhere\"\nevery = \"1h\"\nselect = { all = true }\nkeep = { last = 1 }\n",
    );
    let profiles = cli.home().join("other-profiles.toml");
    std::fs::write(
        &profiles,
        "[profiles.elsewhere]\nprovider = \"outscale\"\nregion = \"eu-west-2\"\n",
    )
    .expect("profiles");
    let f = file.to_str().expect("utf-8");
    let out = cli.bare(&["policy", "validate", "-f", f]).await;
    assert_exit(&out, 2);
    let c = profiles.to_str().expect("utf-8");
    let out = cli
        .bare(&["--config", c, "policy", "validate", "-f", f])
        .await;
    assert_exit(&out, 0);
}

/// What `validate` refuses (exit 2, before any request), as plan and apply do: a profile the
/// profiles file does not define, and a policy file that is missing, a dangling link, a
/// directory or not UTF-8.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn unknown_profiles_and_unreadable_files_exit_2() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let file = write(
        &cli,
        "nope.toml",
        "[[policy]]\nid = \"p\"\nprofile = \"nope\"\nevery = \"1h\"\nselect = { all = true }\nkeep = { last = 1 }\n",
    );
    let before = emu.changes().len();
    for cmd in ["validate", "plan", "apply"] {
        let out = cli
            .bare(&["policy", cmd, "-f", file.to_str().expect("utf-8")])
            .await;
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("line 3: policy \"p\", profile: no profile \"nope\""),
            "{cmd}: {}",
            stderr(&out)
        );
    }
    let dangling = cli.home().join("dangling.toml");
    std::os::unix::fs::symlink(cli.home().join("gone.toml"), &dangling).expect("symlink");
    let binary = cli.home().join("binary.toml");
    std::fs::write(&binary, b"[[policy]]\nid = \"\xff\xfe\"\n").expect("write");
    for (path, says) in [
        (cli.home().join("missing.toml"), "No such file"),
        (dangling, "symbolic link to nothing"),
        (cli.home().to_path_buf(), "it is a directory"),
        (binary, "line 2: not UTF-8"),
    ] {
        let out = cli
            .bare(&["policy", "validate", "-f", path.to_str().expect("utf-8")])
            .await;
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(says), "{says}: {}", stderr(&out));
    }
    assert_eq!(emu.changes().len(), before);
}

/// PowerVC refuses to snapshot an attached volume unless forced: without `force` the unit fails
/// (exit 6); with `force = true` the snapshot is taken.
#[tokio::test(flavor = "multi_thread")]
async fn force_snapshots_an_attached_powervc_volume() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Powervc;
    let policy = |force: &str| {
        format!(
            "[[policy]]\nid = \"attached\"\n{}\nevery = \"1h\"\nselect = {{ names = [\"db-logs\"] }}\nkeep = {{ last = 2 }}\n{force}",
            on(k)
        )
    };
    let file = write(&cli, "plain.toml", &policy(""));
    let out = cli
        .bare(&["policy", "apply", "-f", file.to_str().expect("utf-8")])
        .await;
    assert_exit(&out, 6);
    assert!(stderr(&out).contains("in-use"), "{}", stderr(&out));
    let file = write(&cli, "forced.toml", &policy("force = true\n"));
    let report = apply(&cli, &file, &[], 0).await;
    let unit = &report["policies"][0]["units"][0];
    assert_eq!(unit["volume_name"], "db-logs");
    assert!(!unit["created"].is_null(), "{unit}");
}

/// The words of a run with a policy whose volumes cannot be listed and a unit whose create is
/// refused: the plan and the report name the cadence in the file's units and say the volume count
/// is unknown (the metrics leave it out rather than say 0), a failure line has no empty id, the
/// summary counts what the exit status counts, `check` gives perfdata (U) for a volume with no
/// snapshot, and a report lists the snapshot it took among the kept ones.
#[tokio::test(flavor = "multi_thread")]
async fn failed_listings_and_failures_are_reported_in_the_files_words() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let osc = ProviderKind::Outscale;
    let vol = emu.demo_volume(osc);
    emu.refuse_creates_on(&vol);
    let prom = cli.home().join("fleet.prom");
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "metrics_file = \"{}\"\n\n[[policy]]\nid = \"lost\"\nprovider = \"ovh-efs\"\nservice = \"00000000-0000-4000-8000-00000000dead\"\nevery = \"30min\"\nselect = {{ all = true }}\nkeep = {{ last = 1 }}\n\n[[policy]]\nid = \"refused\"\n{}\nevery = \"90min\"\nselect = {{ ids = [\"{vol}\"] }}\nkeep = {{ last = 1 }}\n",
            prom.display(),
            on(osc)
        ),
    );
    let f = file.to_str().expect("utf-8");
    let plan = cli.bare(&["policy", "plan", "-f", f]).await;
    assert_exit(&plan, 6);
    let text = stdout(&plan);
    assert!(
        text.contains("policy lost on ovh-efs: volumes unknown (not listed), every 30min"),
        "{text}"
    );
    assert!(text.contains("every 1h 30min"), "{text}");
    let out = cli.bare(&["policy", "apply", "-f", f]).await;
    assert_exit(&out, 6);
    let text = stdout(&out);
    assert!(text.contains("    x create: "), "{text}");
    assert!(
        text.contains("Applied: 0 created, 0 deleted, 2 of 2 units failed."),
        "{text}"
    );
    assert!(stderr(&out).contains("2 of 2"), "{}", stderr(&out));
    let metrics = std::fs::read_to_string(&prom).expect("metrics");
    assert!(
        metrics.contains("snapctl_policy_expected_interval_seconds{policy=\"lost\"} 1800"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("snapctl_policy_volumes_selected{policy=\"lost\"}"),
        "{metrics}"
    );
    // check: the volume has no snapshot of the policy; its perfdata says U.
    let check = cli
        .bare(&["policy", "check", "-f", f, "--policy", "refused"])
        .await;
    assert_exit(&check, 2);
    assert!(
        stdout(&check).contains(&format!("'refused/{vol}'=U;")),
        "{}",
        stdout(&check)
    );
    // Once the create goes through, the report keeps the new snapshot.
    let ok = write(
        &cli,
        "ok.toml",
        &format!(
            "[[policy]]\nid = \"fine\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 1 }}\n",
            on(ProviderKind::OvhEfs),
            emu.demo_volume(ProviderKind::OvhEfs)
        ),
    );
    let report = apply(&cli, &ok, &[], 0).await;
    let unit = &report["policies"][0]["units"][0];
    assert_eq!(unit["kept"][0]["id"], unit["created"]["id"], "{unit}");
    assert_eq!(unit["kept"][0]["reasons"][0], "taken by this run");
}

/// A hook sees a minimal environment: no cloud's credentials (the OUTSCALE policy's hook sees
/// neither OVH's, OUTSCALE's nor Keystone's secrets), the documented `SNAPCTL_*` variables,
/// `PATH`, and what the policy names in `hook_env`.
#[tokio::test(flavor = "multi_thread")]
async fn hooks_see_no_credentials_only_what_the_policy_passes() {
    let emu = start().await;
    let mut cli = Cli::new(&emu);
    cli.overrides.push(("KEEP_ME".into(), "kept".into()));
    cli.overrides.push(("DROP_ME".into(), "dropped".into()));
    cli.overrides.push(("PATH".into(), "/usr/bin:/bin".into()));
    let dump = cli.home().join("env.txt");
    let k = ProviderKind::Outscale;
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "[[policy]]\nid = \"envy\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 2 }}\npre = \"env > {}\"\nhook_env = [\"KEEP_ME\"]\n",
            on(k),
            emu.demo_volume(k),
            dump.display()
        ),
    );
    apply(&cli, &file, &[], 0).await;
    let env = std::fs::read_to_string(&dump).expect("the hook ran");
    for secret in [
        "OVH_APPLICATION_SECRET",
        "OVH_CONSUMER_KEY",
        "OSC_SECRET_KEY",
        "OSC_ACCESS_KEY",
        "OS_PASSWORD",
        "DROP_ME",
    ] {
        assert!(!env.contains(secret), "{secret} reached the hook:\n{env}");
    }
    for wanted in [
        "KEEP_ME=kept",
        "PATH=/usr/bin:/bin",
        "SNAPCTL_POLICY=envy",
        "SNAPCTL_PROVIDER=outscale",
        "SNAPCTL_HOOK=pre",
    ] {
        assert!(env.contains(wanted), "{wanted} missing:\n{env}");
    }
}

/// A policy file with hooks is code, a saved plan carries decisions: refused (exit 9, nothing
/// run) when group or others can write it or its directory (unless sticky), or when it belongs to
/// someone else than the user or root.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn files_others_could_write_are_refused_before_anything_runs() {
    use std::os::unix::fs::PermissionsExt;
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhEfs;
    let ran = cli.home().join("ran");
    let text = format!(
        "[[policy]]\nid = \"hooked\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 2 }}\npre = \"touch {}\"\n",
        on(k),
        emu.demo_volume(k),
        ran.display()
    );
    let chmod = |p: &std::path::Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    let shared = cli.home().join("shared");
    std::fs::create_dir_all(&shared).expect("dir");
    let file = shared.join("fleet.toml");
    std::fs::write(&file, &text).expect("write");
    let f = file.to_str().expect("utf-8");
    let before = emu.changes().len();
    // The file writable by others.
    chmod(&shared, 0o755);
    chmod(&file, 0o666);
    for cmd in ["validate", "apply"] {
        let out = cli.bare(&["policy", cmd, "-f", f]).await;
        assert_exit(&out, 9);
        assert!(stderr(&out).contains("mode 666"), "{}", stderr(&out));
    }
    // Its directory writable by others, not sticky.
    chmod(&file, 0o644);
    chmod(&shared, 0o777);
    let out = cli.bare(&["policy", "apply", "-f", f]).await;
    assert_exit(&out, 9);
    assert!(stderr(&out).contains("its directory"), "{}", stderr(&out));
    assert!(!ran.exists(), "the hook never ran");
    assert_eq!(emu.changes().len(), before, "nothing was sent");
    // Sticky, as /tmp is: allowed.
    chmod(&shared, 0o1777);
    let out = cli.bare(&["policy", "validate", "-f", f]).await;
    assert_exit(&out, 0);
    // A saved plan others can write is refused too.
    chmod(&shared, 0o755);
    let plan = shared.join("plan.json");
    let out = cli
        .bare(&[
            "policy",
            "plan",
            "-f",
            f,
            "--out",
            plan.to_str().expect("utf-8"),
        ])
        .await;
    assert_exit(&out, 0);
    chmod(&plan, 0o664);
    let out = cli
        .bare(&[
            "policy",
            "apply",
            "-f",
            f,
            "--plan",
            plan.to_str().expect("utf-8"),
        ])
        .await;
    assert_exit(&out, 9);
    assert!(stderr(&out).contains("saved plan"), "{}", stderr(&out));
    // Someone else's file (when the tests can make one: as root).
    if rustix::process::geteuid().is_root() {
        chmod(&plan, 0o600);
        std::os::unix::fs::chown(&file, Some(65534), Some(65534)).expect("chown");
        let out = cli.bare(&["policy", "validate", "-f", f]).await;
        assert_exit(&out, 9);
        assert!(stderr(&out).contains("uid 65534"), "{}", stderr(&out));
    } else {
        eprintln!("skipping the foreign-owner case: it needs root to chown");
    }
    assert!(!ran.exists(), "the hook never ran");
}

/// Every policy file is code, hooks or not: a hook-less file others can write (its
/// `report_file`, `metrics_push_url`, `copy` and `drill` steer what root does) is refused with
/// exit 9 and nothing sent. Output paths another user could redirect are refused the same way: a
/// parent directory others can write to without the sticky bit, a symbolic link in a parent
/// owned by another user.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_hook_less_file_and_its_output_paths_are_code_too() {
    use std::os::unix::fs::PermissionsExt;
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhEfs;
    let chmod = |p: &std::path::Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    let policy = |report: &std::path::Path| {
        format!(
            "report_file = \"{}\"\n[[policy]]\nid = \"plain\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 2 }}\n",
            report.display(),
            on(k),
            emu.demo_volume(k),
        )
    };
    let shared = cli.home().join("shared");
    std::fs::create_dir_all(&shared).expect("dir");
    let file = shared.join("fleet.toml");
    let f = file.to_str().expect("utf-8");
    let (changes, requests) = (emu.changes().len(), emu.requests());
    // A hook-less file anyone can write, in a directory anyone can write.
    std::fs::write(&file, policy(&cli.home().join("last.json"))).expect("write");
    chmod(&file, 0o666);
    chmod(&shared, 0o777);
    let out = cli.bare(&["policy", "apply", "-f", f]).await;
    assert_exit(&out, 9);
    assert!(stderr(&out).contains("mode 666"), "{}", stderr(&out));
    chmod(&file, 0o644);
    let out = cli.bare(&["policy", "apply", "-f", f]).await;
    assert_exit(&out, 9);
    assert!(stderr(&out).contains("its directory"), "{}", stderr(&out));
    chmod(&shared, 0o755);
    // report_file under a directory others can write to (not sticky).
    let open = cli.home().join("open");
    std::fs::create_dir_all(&open).expect("dir");
    chmod(&open, 0o777);
    std::fs::write(&file, policy(&open.join("last.json"))).expect("write");
    let out = cli.bare(&["policy", "apply", "-f", f]).await;
    assert_exit(&out, 9);
    assert!(
        stderr(&out).contains("report_file") && stderr(&out).contains("not sticky"),
        "{}",
        stderr(&out)
    );
    assert_eq!(emu.changes().len(), changes, "nothing was changed");
    assert_eq!(emu.requests(), requests, "nothing was sent");
    // A link planted in a parent by another user (when the tests can make one: as root).
    if rustix::process::geteuid().is_root() {
        let victim = cli.home().join("victim");
        std::fs::create_dir_all(&victim).expect("dir");
        let link = cli.home().join("link");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).expect("lchown");
        std::fs::write(&file, policy(&link.join("last.json"))).expect("write");
        let out = cli.bare(&["policy", "apply", "-f", f]).await;
        assert_exit(&out, 9);
        assert!(
            stderr(&out).contains("symbolic link owned by uid 65534"),
            "{}",
            stderr(&out)
        );
        assert!(!victim.join("last.json").exists());
        assert_eq!(emu.requests(), requests, "nothing was sent");
    } else {
        eprintln!("skipping the planted-link case: it needs root to lchown");
    }
    // The same file, its report where only we write: runs.
    std::fs::write(&file, policy(&cli.home().join("last.json"))).expect("write");
    let out = cli.bare(&["policy", "apply", "-f", f]).await;
    assert_exit(&out, 0);
}

/// Server text never forges a line: a volume named with a line break, a fake deletion line, a
/// terminal escape and a bidi override shows on one line in plan, apply and check output.
#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_volume_name_never_forges_a_line() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let hostile =
        "db\n    - snap-FAKE0001  forged line\n\u{1b}]0;owned\u{7}\u{202e}SNAPCTL OK: forged";
    let mut text = String::new();
    for k in [ProviderKind::OvhEfs, ProviderKind::Powervc] {
        emu.rename_first_volume(k, hostile);
        text.push_str(&format!(
            "[[policy]]\nid = \"h-{}\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 2 }}\n\n",
            k.as_str(),
            on(k),
            emu.demo_volume(k)
        ));
    }
    let file = write(&cli, "fleet.toml", &text);
    let f = file.to_str().expect("utf-8");
    let forged = |out: &std::process::Output| {
        let all = format!("{}{}", stdout(out), stderr(out));
        assert!(
            !all.lines().any(
                |l| l.starts_with("    - snap-FAKE0001") || l.starts_with("SNAPCTL OK: forged")
            ),
            "a forged line:\n{all}"
        );
        assert!(
            !all.contains('\u{1b}') && !all.contains('\u{202e}'),
            "a control reached the terminal:\n{all}"
        );
        assert!(
            all.contains("forged line"),
            "the name is still shown:\n{all}"
        );
    };
    let plan = cli.bare(&["policy", "plan", "-f", f]).await;
    assert_exit(&plan, 0);
    forged(&plan);
    // JSON keeps the name, its bidi override escaped as every JSON output escapes it.
    let json_plan = cli.bare(&["-o", "json", "policy", "plan", "-f", f]).await;
    assert_exit(&json_plan, 0);
    assert!(
        !stdout(&json_plan).contains('\u{202e}'),
        "{}",
        stdout(&json_plan)
    );
    assert!(
        stdout(&json_plan).contains("\\u202e"),
        "{}",
        stdout(&json_plan)
    );
    let out = cli.bare(&["policy", "apply", "-f", f]).await;
    assert_exit(&out, 0);
    forged(&out);
}

/// Accounts progress on their own: a slow account's listing (an OUTSCALE endpoint answering
/// after 3 s) never holds back a fast account's snapshot (PowerVC on the emulator), which is
/// taken within a second or two of the start; the run still ends with every account's report.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_account_never_holds_back_a_fast_one() {
    use wiremock::{
        Mock, MockServer, ResponseTemplate,
        matchers::{method, path},
    };
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/ReadVolumes"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(
                    crate::common::fixture("outscale/read-volumes.json"),
                    "application/json",
                )
                .set_delay(std::time::Duration::from_secs(3)),
        )
        .mount(&slow)
        .await;
    // Everything else answers at once, with nothing in it.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"ResponseContext": {"RequestId": "ab1e2c3d-0000-4000-8000-000000000001"}}"#,
            "application/json",
        ))
        .mount(&slow)
        .await;
    let emu = start().await;
    let cli = Cli::new(&emu);
    let config = cli.home().join("config/snapctl");
    std::fs::create_dir_all(&config).expect("mkdir");
    std::fs::write(
        config.join("config.toml"),
        format!(
            "[profiles.slow]\nprovider = \"outscale\"\nendpoint = \"{}\"\nregion = \"eu-west-2\"\naccess_key = \"AKIAEXAMPLE00000009\"\nsecret_key = \"{}\"\n",
            slow.uri(),
            "s".repeat(40)
        ),
    )
    .expect("profiles");
    let volume = emu.demo_volume(ProviderKind::Powervc);
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "[[policy]]\nid = \"slow\"\nprofile = \"slow\"\nevery = \"1h\"\nselect = {{ all = true }}\nkeep = {{ last = 1 }}\n\n[[policy]]\nid = \"fast\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{volume}\"] }}\nkeep = {{ last = 1 }}\n",
            on(ProviderKind::Powervc)
        ),
    );
    let began = Timestamp::now();
    // The slow account's create gets an empty answer: its unit fails (exit 6), the other's not.
    let report = apply(&cli, &file, &[], 6).await;
    let took = Timestamp::now().duration_since(began);
    assert!(
        took >= SignedDuration::from_secs(3),
        "the slow listing took {took}"
    );
    let fast = &report["policies"][1];
    assert_eq!(fast["id"], "fast");
    assert_eq!(fast["status"], "ok", "{fast}");
    assert_eq!(report["policies"][0]["status"], "failed");
    let made: Timestamp = fast["units"][0]["created"]["created_at"]
        .as_str()
        .expect("a snapshot was taken")
        .parse()
        .expect("a time");
    let after = made.duration_since(began);
    assert!(
        after < SignedDuration::from_millis(2500),
        "the fast account's snapshot came {after} after the start, behind the slow listing"
    );
    assert!(
        fast["duration_seconds"].as_f64().expect("duration") < 2.5,
        "{}",
        fast["duration_seconds"]
    );
}

/// `--at` simulates another time for the emulator only: against a host that is not loopback
/// nothing is sent and the command is a usage error (exit 2, as documented), for plan, apply
/// and report alike; against the emulator it runs.
#[tokio::test(flavor = "multi_thread")]
async fn at_against_a_host_that_is_not_loopback_is_a_usage_error() {
    let emu = start().await;
    let mut cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let file = write(
        &cli,
        "fleet.toml",
        &format!(
            "[[policy]]\nid = \"sim\"\n{}\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 2 }}\n",
            on(k),
            emu.demo_volume(k)
        ),
    );
    let f = file.to_str().expect("utf-8");
    let at = "2030-01-01T00:00:00Z";
    let out = cli.bare(&["policy", "plan", "-f", f, "--at", at]).await;
    assert_exit(&out, 0);
    // The same policy, its endpoint a real cloud's (never reached: refused before sending).
    cli.overrides = vec![(
        "OSC_ENDPOINT_API".into(),
        "https://api.eu-west-2.outscale.invalid/api/v1".into(),
    )];
    for cmd in [
        &["policy", "plan"][..],
        &["policy", "apply"],
        &["policy", "report"],
    ] {
        let mut args = cmd.to_vec();
        args.extend(["-f", f, "--at", at]);
        let out = cli.bare(&args).await;
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("acts only against a loopback endpoint"),
            "{cmd:?}: {}",
            stderr(&out)
        );
    }
}
