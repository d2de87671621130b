//! End to end against `snapctl emulator`: the real binary, every command on every provider, wrong
//! secrets, and a rotation run every 12 hours over five simulated weeks.

use std::process::Output;
use std::time::Duration;

use crate::common::{assert_exit, assert_stderr_has, stderr, stdout};
use serde_json::Value;
use snapctl::emulator::{self, Emulator, EmulatorConfig};
use snapctl::provider::ProviderKind;

pub(crate) async fn start() -> Emulator {
    emulator::start(EmulatorConfig {
        delay: Duration::from_millis(60),
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator starts")
}

pub(crate) struct Cli<'a> {
    emu: &'a Emulator,
    home: tempfile::TempDir,
    pub(crate) overrides: Vec<(String, String)>,
    /// A shell line run before the binary, which it then `exec`s (`ulimit -n 256`).
    pub(crate) shell_prelude: Option<String>,
}

impl<'a> Cli<'a> {
    pub(crate) fn new(emu: &'a Emulator) -> Self {
        Cli {
            emu,
            home: tempfile::tempdir().expect("tempdir"),
            overrides: vec![],
            shell_prelude: None,
        }
    }

    pub(crate) async fn run(&self, kind: ProviderKind, args: &[&str]) -> Output {
        self.run_with_stdin(kind, args, Vec::new()).await
    }

    /// [`Cli::run`] with `stdin` on the standard input.
    pub(crate) async fn run_with_stdin(
        &self,
        kind: ProviderKind,
        args: &[&str],
        stdin: Vec<u8>,
    ) -> Output {
        let mut full = vec!["-p", kind.as_str()];
        if let Some(service) = Emulator::service(kind) {
            full.extend(["--service", service]);
        }
        full.extend_from_slice(args);
        self.bare_with_stdin(&full, stdin).await
    }

    /// The binary with the emulator's environment but no provider chosen (policy commands).
    pub(crate) async fn bare(&self, args: &[&str]) -> Output {
        self.bare_with_stdin(args, Vec::new()).await
    }

    async fn bare_with_stdin(&self, args: &[&str], stdin: Vec<u8>) -> Output {
        let bin = env!("CARGO_BIN_EXE_snapctl");
        let mut cmd = match &self.shell_prelude {
            None => assert_cmd::Command::new(bin),
            Some(prelude) => {
                let mut c = assert_cmd::Command::new("/bin/sh");
                c.args(["-c", &format!("{prelude} && exec \"$0\" \"$@\""), bin]);
                c
            }
        };
        cmd.env_clear()
            .envs(crate::common::clock_env())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("SNAPCTL_LOCK_DIR", self.home.path().join("locks"))
            .env("SNAPCTL_MAX_RPS", "0")
            // Faults are retried; the backoff has its own unit tests.
            .env("SNAPCTL_RETRY_DELAY", "10ms")
            .current_dir(self.home.path())
            .write_stdin(stdin)
            .args(["--poll-interval", "20ms", "--timeout", "20s"]);
        for (k, v) in self.emu.env() {
            cmd.env(k, v);
        }
        for (k, v) in &self.overrides {
            cmd.env(k, v);
        }
        cmd.args(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
            .await
            .expect("join")
    }

    /// `snapctl -o json --poll-interval 50ms policy apply -f FILE` as a plain process with the
    /// emulator's environment (and the profiles of this home), for tests that signal it.
    pub(crate) fn apply_process(&self, file: &std::path::Path) -> std::process::Command {
        let mut cmd = self.process(&["-o", "json", "--poll-interval", "50ms", "policy", "apply"]);
        cmd.arg("-f").arg(file);
        cmd
    }

    /// `snapctl ARGS` as a plain process with the emulator's environment (and the profiles of
    /// this home), for tests that signal it.
    pub(crate) fn process(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_snapctl"));
        cmd.env_clear()
            .envs(crate::common::clock_env())
            .env("HOME", self.home.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("SNAPCTL_LOCK_DIR", self.home.path().join("locks"))
            .env("SNAPCTL_MAX_RPS", "0")
            .envs(self.emu.env())
            .args(args);
        cmd
    }

    /// The temporary home directory (policy files, reports, locks live here).
    pub(crate) fn home(&self) -> &std::path::Path {
        self.home.path()
    }

    pub(crate) async fn json(&self, kind: ProviderKind, args: &[&str]) -> Value {
        let mut full = vec!["-o", "json"];
        full.extend_from_slice(args);
        let out = self.run(kind, &full).await;
        assert_exit(&out, 0);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", stdout(&out)))
    }

    pub(crate) async fn ok(&self, kind: ProviderKind, args: &[&str]) -> Output {
        let out = self.run(kind, args).await;
        assert_exit(&out, 0);
        out
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn ovh_efs_every_command() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhEfs;
    let share = emu.demo_volume(k);
    cli.ok(k, &["volume", "list"]).await;
    assert_eq!(
        cli.json(k, &["volume", "show", &share]).await["name"],
        "appdata"
    );
    let snaps = cli.json(k, &["snapshot", "list", "--volume", &share]).await;
    let auto = snaps
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["kind"] == "automatic")
        .map(id)
        .expect("an automatic snapshot");
    // Clone refuses the automatic one and says how to hold it; hold gives a new id.
    let refused = cli
        .run(k, &["clone", "--volume", &share, "--snapshot", &auto])
        .await;
    assert_exit(&refused, 2);
    assert!(stderr(&refused).contains("snapshot hold"));
    let held = cli
        .json(k, &["snapshot", "hold", &auto, "--volume", &share])
        .await;
    assert_ne!(id(&held), auto);
    assert_eq!(held["kind"], "manual");
    let made = cli
        .json(
            k,
            &[
                "snapshot", "create", "--volume", &share, "--name", "e2e", "--wait",
            ],
        )
        .await;
    assert_eq!(made["state"], "available");
    let made = id(&made);
    cli.json(k, &["snapshot", "show", &made, "--volume", &share])
        .await;
    let renamed = cli
        .json(
            k,
            &[
                "snapshot",
                "update",
                &made,
                "--volume",
                &share,
                "--name",
                "e2e-renamed",
            ],
        )
        .await;
    assert_eq!(renamed["name"], "e2e-renamed");
    let clone = cli
        .json(
            k,
            &[
                "clone",
                "--volume",
                &share,
                "--snapshot",
                &made,
                "--name",
                "e2e-clone",
                "--wait",
            ],
        )
        .await;
    assert_eq!(clone["state"], "available");
    assert_eq!(clone["size_gib"], 500);
    cli.json(k, &["clone", "--volume", &share, "--wait"]).await;
    // Revert to the latest manual snapshot.
    let latest = cli
        .json(k, &["snapshot", "create", "--volume", &share, "--wait"])
        .await;
    let reverted = cli
        .json(
            k,
            &[
                "revert",
                "--volume",
                &share,
                "--snapshot",
                &id(&latest),
                "--yes",
                "--wait",
            ],
        )
        .await;
    assert_eq!(reverted["state"], "available");
    assert_exit(
        &cli.run(
            k,
            &["revert", "--volume", &share, "--snapshot", &made, "--yes"],
        )
        .await,
        2,
    );
    // Schedules.
    cli.ok(k, &["schedule", "list", "--volume", &share, "--all"])
        .await;
    cli.ok(
        k,
        &[
            "schedule", "add", "--volume", &share, "--prefix", "daily", "--keep", "7", "--every",
            "day", "--at", "02:30",
        ],
    )
    .await;
    let policies = cli.json(k, &["schedule", "list", "--volume", &share]).await;
    assert_eq!(policies[0]["rules"][0]["schedule"], "30 2 * * *");
    let removed = cli.ok(k, &["schedule", "remove", "--volume", &share]).await;
    assert_stderr_has(&removed, "deleted policy");
    // Delete, dry run, rotate, check.
    let dry = cli
        .run(
            k,
            &["snapshot", "delete", &made, "--volume", &share, "--dry-run"],
        )
        .await;
    assert!(stdout(&dry).contains("would delete"));
    let deleted = cli
        .json(
            k,
            &["snapshot", "delete", &made, "--volume", &share, "--wait"],
        )
        .await;
    assert_eq!(deleted[0]["status"], "deleted");
    cli.ok(
        k,
        &[
            "rotate",
            "--volume",
            &share,
            "--create",
            "--wait",
            "--keep-last",
            "1",
        ],
    )
    .await;
    cli.ok(k, &["check", "--volume", &share, "--max-age", "1h"])
        .await;
}

/// A provider whose API cannot clone refuses `clone --volume` (exit 3, with what to do) before
/// the snapshot the clone would be made from: nothing is left behind.
#[tokio::test(flavor = "multi_thread")]
async fn clone_of_a_volume_is_refused_before_any_snapshot_where_the_api_cannot_clone() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let before = emu.changes().len();
    let out = cli
        .run(ProviderKind::OvhNasha, &["clone", "--volume", "partition1"])
        .await;
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("snapshot create --volume partition1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(emu.changes().len(), before, "{:?}", emu.changes());
}

#[tokio::test(flavor = "multi_thread")]
async fn ovh_nasha_every_command() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhNasha;
    cli.ok(k, &["volume", "list"]).await;
    cli.ok(k, &["volume", "show", "partition1"]).await;
    let made = cli
        .json(
            k,
            &[
                "snapshot",
                "create",
                "--volume",
                "partition1",
                "--name",
                "e2e",
                "--expires",
                "7d",
                "--wait",
            ],
        )
        .await;
    assert_eq!(made["state"], "available");
    assert!(made["expires_at"].is_string());
    let listed = cli
        .json(k, &["snapshot", "list", "--volume", "partition1"])
        .await;
    assert!(
        listed
            .as_array()
            .expect("array")
            .iter()
            .any(|s| s["kind"] == "scheduled")
    );
    cli.ok(k, &["snapshot", "show", "e2e", "--volume", "partition1"])
        .await;
    // Without --wait: a task id to wait for later.
    let started = cli
        .run(
            k,
            &[
                "schedule",
                "add",
                "--volume",
                "partition1",
                "--every",
                "day-1",
            ],
        )
        .await;
    assert_exit(&started, 0);
    let line = stderr(&started);
    let task = line
        .split("wait --task ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("task id printed")
        .to_string();
    cli.ok(k, &["wait", "--task", &task]).await;
    cli.ok(
        k,
        &[
            "schedule",
            "remove",
            "--volume",
            "partition1",
            "--every",
            "day-1",
            "--wait",
        ],
    )
    .await;
    assert_exit(
        &cli.run(
            k,
            &["snapshot", "delete", "hour-1", "--volume", "partition1"],
        )
        .await,
        3,
    );
    assert_exit(
        &cli.run(k, &["clone", "--volume", "partition1", "--snapshot", "e2e"])
            .await,
        3,
    );
    let deleted = cli
        .json(
            k,
            &[
                "snapshot",
                "delete",
                "e2e",
                "--volume",
                "partition1",
                "--wait",
            ],
        )
        .await;
    assert_eq!(deleted[0]["status"], "deleted");
    // The 10-snapshot limit.
    for i in 0..9 {
        cli.ok(
            k,
            &[
                "snapshot",
                "create",
                "--volume",
                "partition1",
                "--name",
                &format!("fill-{i}"),
            ],
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let full = cli
        .run(
            k,
            &[
                "snapshot",
                "create",
                "--volume",
                "partition1",
                "--name",
                "eleventh",
            ],
        )
        .await;
    assert_exit(&full, 2);
    assert_stderr_has(&full, "limit is 10");
}

#[tokio::test(flavor = "multi_thread")]
async fn outscale_every_command() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let vol = emu.demo_volume(k);
    cli.ok(k, &["volume", "list"]).await;
    cli.ok(k, &["volume", "show", &vol]).await;
    let dry = cli
        .json(k, &["snapshot", "create", "--volume", &vol, "--dry-run"])
        .await;
    assert_eq!(dry["checked_by_provider"], true);
    let made = cli
        .json(
            k,
            &[
                "snapshot", "create", "--volume", &vol, "--name", "e2e", "--tag", "env=test",
                "--wait",
            ],
        )
        .await;
    assert_eq!(made["state"], "available");
    assert_eq!(made["name"], "e2e");
    let snap = id(&made);
    cli.ok(k, &["snapshot", "list", "--volume", &vol]).await;
    cli.ok(k, &["snapshot", "show", &snap]).await;
    cli.ok(k, &["snapshot", "update", &snap, "--name", "e2e-renamed"])
        .await;
    let copy = cli.json(k, &["copy", "--snapshot", &snap, "--wait"]).await;
    assert_eq!(copy["state"], "available");
    cli.ok(
        k,
        &["snapshot", "share", &snap, "--account", "987654321098"],
    )
    .await;
    cli.ok(
        k,
        &["snapshot", "unshare", &snap, "--account", "987654321098"],
    )
    .await;
    let export = cli
        .json(
            k,
            &["snapshot", "export", &snap, "--bucket", "backups", "--wait"],
        )
        .await;
    assert!(
        export["id"]
            .as_str()
            .expect("id")
            .starts_with("snap-export-")
    );
    cli.ok(
        k,
        &[
            "snapshot",
            "import",
            "--file-location",
            &crate::emulator_wire::presigned(&emu, "backups", &format!("{snap}.qcow2")),
            "--size",
            "10737418240",
            "--wait",
        ],
    )
    .await;
    let clone = cli
        .json(k, &["clone", "--snapshot", &snap, "--size", "20", "--wait"])
        .await;
    assert_eq!(clone["size_gib"], 20);
    cli.ok(k, &["clone", "--volume", &vol, "--wait"]).await;
    assert_exit(
        &cli.run(
            k,
            &["revert", "--volume", &vol, "--snapshot", &snap, "--yes"],
        )
        .await,
        3,
    );
    assert_exit(
        &cli.run(k, &["schedule", "list", "--volume", &vol]).await,
        3,
    );
    let deleted = cli
        .json(k, &["snapshot", "delete", &id(&copy), "--wait"])
        .await;
    assert_eq!(deleted[0]["status"], "deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn powervc_every_command() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Powervc;
    let vols = cli.json(k, &["volume", "list"]).await;
    // Cinder lists newest first, ids descending among equals: pick by state, not by place.
    let with = |state: &str| {
        vols.as_array()
            .and_then(|a| a.iter().find(|v| v["provider_state"] == state))
            .map(id)
            .expect("a seeded volume in that state")
    };
    let free = with("available");
    let attached = with("in-use");
    cli.ok(k, &["volume", "show", &free]).await;
    assert_exit(
        &cli.run(k, &["snapshot", "create", "--volume", &attached])
            .await,
        2,
    );
    cli.ok(
        k,
        &[
            "snapshot", "create", "--volume", &attached, "--force", "--wait",
        ],
    )
    .await;
    let made = cli
        .json(
            k,
            &[
                "snapshot", "create", "--volume", &free, "--name", "e2e", "--tag", "app=db",
                "--wait",
            ],
        )
        .await;
    let snap = id(&made);
    cli.ok(k, &["snapshot", "list", "--volume", &free]).await;
    cli.ok(k, &["snapshot", "show", &snap]).await;
    cli.ok(k, &["snapshot", "update", &snap, "--description", "kept"])
        .await;
    let clone = cli
        .json(
            k,
            &["clone", "--snapshot", &snap, "--name", "restore", "--wait"],
        )
        .await;
    assert_eq!(clone["state"], "available");
    let pairs = cli
        .json(
            k,
            &[
                "clone", "--volume", &free, "--volume", &attached, "--name", "pair", "--wait",
            ],
        )
        .await;
    assert_eq!(pairs.as_array().expect("pairs").len(), 2);
    let reverted = cli
        .json(
            k,
            &[
                "revert",
                "--volume",
                &free,
                "--snapshot",
                &snap,
                "--yes",
                "--wait",
            ],
        )
        .await;
    assert_eq!(reverted["state"], "available");
    assert_exit(&cli.run(k, &["copy", "--snapshot", &snap]).await, 3);
    let deleted = cli.json(k, &["snapshot", "delete", &snap, "--wait"]).await;
    assert_eq!(deleted[0]["status"], "deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_secrets_get_the_real_refusals() {
    let emu = start().await;
    let mut cli = Cli::new(&emu);
    cli.overrides = vec![
        ("OVH_APPLICATION_SECRET".into(), "not-the-secret".into()),
        ("OSC_SECRET_KEY".into(), "x".repeat(40)),
        ("OS_PASSWORD".into(), "guess".into()),
    ];
    let ovh = cli.run(ProviderKind::OvhEfs, &["volume", "list"]).await;
    // A 400 INVALID_SIGNATURE is a refusal of the credentials: exit 5, like the others.
    assert_exit(&ovh, 5);
    assert_stderr_has(&ovh, "INVALID_SIGNATURE");
    let osc = cli.run(ProviderKind::Outscale, &["volume", "list"]).await;
    assert_exit(&osc, 5);
    assert_stderr_has(&osc, "AccessDenied");
    let pvc = cli.run(ProviderKind::Powervc, &["volume", "list"]).await;
    assert_exit(&pvc, 5);
    assert_stderr_has(&pvc, "requires authentication");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_and_faults_are_survived_by_reads() {
    let emu = emulator::start(EmulatorConfig {
        delay: Duration::from_millis(30),
        throttle: Some(2),
        fail_rate: 0.2,
        seed: 7,
        ..EmulatorConfig::default()
    })
    .await
    .expect("emulator");
    let cli = Cli::new(&emu);
    for _ in 0..3 {
        cli.ok(ProviderKind::Outscale, &["volume", "list"]).await;
        cli.ok(ProviderKind::Powervc, &["volume", "list"]).await;
    }
}

/// A cron job every 12 hours for five weeks: `rotate --create --keep-daily 7 --keep-weekly 4`.
#[tokio::test(flavor = "multi_thread")]
async fn rotation_over_five_simulated_weeks() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let vol = emu.demo_volume(k);
    let runs = 70;
    for run in 0..runs {
        let back = jiff::SignedDuration::from_hours(12 * (runs - run));
        emu.set_clock_offset(-back);
        cli.ok(
            k,
            &[
                "rotate",
                "--volume",
                &vol,
                "--create",
                "--wait",
                "--keep-daily",
                "7",
                "--keep-weekly",
                "4",
            ],
        )
        .await;
    }
    emu.set_clock_offset(jiff::SignedDuration::ZERO);
    let snaps = cli.json(k, &["snapshot", "list", "--volume", &vol]).await;
    let ours: Vec<jiff::Timestamp> = snaps
        .as_array()
        .expect("array")
        .iter()
        .filter(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("snapctl-"))
        })
        .map(|s| {
            s["created_at"]
                .as_str()
                .expect("time")
                .parse()
                .expect("RFC 3339")
        })
        .collect();
    // One per day for the last seven days, plus at most four older weekly ones.
    let days: std::collections::BTreeSet<jiff::civil::Date> = ours
        .iter()
        .map(|t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())
        .collect();
    assert_eq!(
        days.len(),
        ours.len(),
        "one snapshot per day at most: {ours:?}"
    );
    assert!(
        (7..=11).contains(&ours.len()),
        "{} kept: {ours:?}",
        ours.len()
    );
    let newest = ours.iter().max().expect("kept");
    let last_week = ours
        .iter()
        .filter(|t| newest.duration_since(**t) < jiff::SignedDuration::from_hours(24 * 7))
        .count();
    assert_eq!(last_week, 7, "the last seven days each keep one");
    // What rotation did not make is never touched.
    assert!(
        snaps
            .as_array()
            .expect("array")
            .iter()
            .any(|s| s["name"] == "before-upgrade")
    );
}

/// A dry run shows what the run does: with or without `--wait`, `rotate --create` on every
/// provider deletes exactly what its dry run said it would (without `--wait` the new snapshot is
/// still being made when the deletions go out, so it is not counted on, in the plan or the run).
#[tokio::test(flavor = "multi_thread")]
async fn rotate_does_what_its_dry_run_shows_with_and_without_wait() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let ids = |v: &Value, key: &str| -> Vec<String> {
        v["volumes"][0][key]
            .as_array()
            .expect(key)
            .iter()
            .map(|e| e["id"].as_str().expect("id").to_string())
            .collect()
    };
    for k in ProviderKind::ALL {
        let vol = emu.demo_volume(k);
        for wait in [false, true] {
            for n in 0..3 {
                let name = format!("snapctl-old-{wait}-{n}");
                cli.ok(
                    k,
                    &[
                        "snapshot", "create", "--volume", &vol, "--name", &name, "--wait",
                    ],
                )
                .await;
            }
            let mut args = vec!["rotate", "--volume", &vol, "--create", "--keep-last", "2"];
            if wait {
                args.push("--wait");
            }
            let mut dry = vec!["--dry-run"];
            dry.extend_from_slice(&args);
            let planned = cli.json(k, &dry).await;
            let done = cli.json(k, &args).await;
            assert_eq!(
                ids(&planned, "delete"),
                ids(&done, "deleted"),
                "{k} wait={wait}: the run deleted other snapshots than its dry run showed"
            );
            assert_eq!(
                ids(&done, "delete"),
                ids(&done, "deleted"),
                "{k} wait={wait}"
            );
            if k == ProviderKind::OvhNasha {
                // The next run's snapshot name (one per second) must not be this one's.
                tokio::time::sleep(Duration::from_millis(1100)).await;
            }
        }
    }
}

/// Error text with each request id (unique per request) masked.
fn without_request_ids(text: &str) -> String {
    let mut out = text.to_string();
    for marker in ["RequestId ", "X-Ovh-QueryID ", "x-openstack-request-id "] {
        let mut from = 0;
        while let Some(at) = out[from..].find(marker) {
            let start = from + at + marker.len();
            let end = out[start..]
                .find([')', ',', '\n'])
                .map_or(out.len(), |e| start + e);
            out.replace_range(start..end, "*");
            from = start + 1;
        }
    }
    out
}

/// Run `args` for real and with `--dry-run`: both must refuse with the same exit code and the same
/// words, and the dry run must ask for no change.
async fn assert_same_refusal(cli: &Cli<'_>, emu: &Emulator, kind: ProviderKind, args: &[&str]) {
    let before = emu.changes().len();
    let mut dry_args = args.to_vec();
    dry_args.push("--dry-run");
    let dry = cli.run(kind, &dry_args).await;
    assert_eq!(
        emu.changes()[before..],
        [] as [String; 0],
        "{kind} {args:?}: the dry run asked for a change"
    );
    let real = cli.run(kind, args).await;
    assert_ne!(real.status.code(), Some(0), "{kind} {args:?}: not refused");
    assert_eq!(
        dry.status.code(),
        real.status.code(),
        "{kind} {args:?}:\ndry: {}\nreal: {}",
        stderr(&dry),
        stderr(&real)
    );
    assert_eq!(
        without_request_ids(&stderr(&dry)),
        without_request_ids(&stderr(&real)),
        "{kind} {args:?}"
    );
    assert!(dry.stdout.is_empty(), "{kind} {args:?}: {}", stdout(&dry));
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_refuses_exactly_what_the_real_run_refuses_on_every_provider() {
    let emu = start().await;
    let cli = Cli::new(&emu);

    // EFS snapshots take no tags.
    let share = emu.demo_volume(ProviderKind::OvhEfs);
    let tagged = ["snapshot", "create", "--volume", &share, "--tag", "a=b"];
    assert_same_refusal(&cli, &emu, ProviderKind::OvhEfs, &tagged).await;

    // PowerVC: a snapshot of an in-use volume needs --force.
    let volumes = cli.json(ProviderKind::Powervc, &["volume", "list"]).await;
    let in_use = volumes
        .as_array()
        .expect("array")
        .iter()
        .find(|v| v["provider_state"] == "in-use")
        .map(id)
        .expect("an in-use volume is seeded");
    let unforced = ["snapshot", "create", "--volume", &in_use, "--name", "x"];
    assert_same_refusal(&cli, &emu, ProviderKind::Powervc, &unforced).await;

    // NAS-HA: the 11th custom snapshot of a partition.
    let partition = emu.demo_volume(ProviderKind::OvhNasha);
    for i in 0..10 {
        let name = format!("fill-{i}");
        let out = cli
            .run(
                ProviderKind::OvhNasha,
                &[
                    "snapshot", "create", "--volume", &partition, "--name", &name, "--wait",
                ],
            )
            .await;
        if out.status.code() != Some(0) {
            break; // the limit is already reached (seeded snapshots count too)
        }
    }
    let eleventh = [
        "snapshot",
        "create",
        "--volume",
        &partition,
        "--name",
        "one-too-many",
    ];
    assert_same_refusal(&cli, &emu, ProviderKind::OvhNasha, &eleventh).await;

    // OUTSCALE: the API's own refusal, through its DryRun check.
    let missing = [
        "snapshot",
        "create",
        "--volume",
        "vol-0000dead",
        "--name",
        "x",
    ];
    assert_same_refusal(&cli, &emu, ProviderKind::Outscale, &missing).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_that_would_succeed_names_the_next_request_and_changes_nothing() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for kind in ProviderKind::ALL {
        let volume = emu.demo_volume(kind);
        let before = emu.changes().len();
        let report = cli
            .json(
                kind,
                &[
                    "snapshot",
                    "create",
                    "--volume",
                    &volume,
                    "--name",
                    "snapctl-dry",
                    "--dry-run",
                ],
            )
            .await;
        assert_eq!(emu.changes().len(), before, "{kind}: {:?}", emu.changes());
        assert_eq!(report["dry_run"], true, "{kind}");
        let request = report["request"].as_str().expect("request");
        assert!(
            request.starts_with("POST http://127.0.0.1:"),
            "{kind}: {request}"
        );
        assert_eq!(
            report["checked_by_provider"],
            kind == ProviderKind::Outscale,
            "{kind}"
        );
        // The real run sends exactly that request.
        cli.ok(
            kind,
            &[
                "snapshot",
                "create",
                "--volume",
                &volume,
                "--name",
                "snapctl-dry",
            ],
        )
        .await;
        let sent = emu.changes();
        let path = request.split_once("127.0.0.1:").expect("url").1;
        let path = &path[path.find('/').expect("path")..];
        assert!(
            sent[before..].iter().any(|c| c == &format!("POST {path}")),
            "{kind}: dry run said {request}, the real run sent {:?}",
            &sent[before..]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_dry_run_plans_with_the_snapshot_it_would_take_and_the_report_shows_the_final_state()
 {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhEfs;
    let vol = emu.demo_volume(k);
    for name in [
        "snapctl-20261101T000000Z",
        "snapctl-20261101T010000Z",
        "snapctl-20261101T020000Z",
    ] {
        cli.ok(
            k,
            &[
                "snapshot", "create", "--volume", &vol, "--name", name, "--wait",
            ],
        )
        .await;
    }
    let args = [
        "rotate",
        "--volume",
        &vol,
        "--create",
        "--wait",
        "--keep-last",
        "2",
    ];
    let mut dry_args = args.to_vec();
    dry_args.push("--dry-run");
    let dry = cli.json(k, &dry_args).await;
    let real = cli.json(k, &args).await;
    let count = |v: &Value, key: &str| v["volumes"][0][key].as_array().map_or(0, Vec::len);
    // keep-last 2 with the new snapshot: the newest old one and the new one stay.
    assert_eq!(count(&dry, "delete"), 2, "{dry}");
    assert_eq!(count(&real, "deleted"), 2, "{real}");
    assert_eq!(
        real["volumes"][0]["created"]["state"], "available",
        "the report shows what the last read saw: {real}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clone_base_snapshot_is_not_a_rotation_candidate() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhEfs;
    let vol = emu.demo_volume(k);
    cli.ok(k, &["clone", "--volume", &vol, "--name", "copy", "--wait"])
        .await;
    cli.ok(
        k,
        &[
            "snapshot",
            "create",
            "--volume",
            &vol,
            "--name",
            "snapctl-20261101T000000Z",
            "--wait",
        ],
    )
    .await;
    let plan = cli
        .json(
            k,
            &["rotate", "--volume", &vol, "--keep-last", "1", "--dry-run"],
        )
        .await;
    let mentioned = plan.to_string();
    assert!(
        !mentioned.contains("snapctl-clone-"),
        "the clone's base snapshot is planned: {plan}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_dry_run_reports_each_item_as_the_real_run_does() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let vol = emu.demo_volume(k);
    let made = cli
        .json(
            k,
            &[
                "snapshot", "create", "--volume", &vol, "--name", "x", "--wait",
            ],
        )
        .await;
    let real_id = id(&made);
    let args = ["snapshot", "delete", real_id.as_str(), "snap-0000dead"];
    let mut dry_args = args.to_vec();
    dry_args.push("--dry-run");
    let before = emu.changes().len();
    let dry = cli.run(k, &dry_args).await;
    assert_eq!(emu.changes().len(), before, "the dry run changed something");
    let real = cli.run(k, &args).await;
    // Both: the existing snapshot goes (or would), the missing one fails, exit 6.
    assert_exit(&dry, 6);
    assert_exit(&real, 6);
    assert!(
        stdout(&dry).contains(&format!("would delete snapshot {real_id}")),
        "{}",
        stdout(&dry)
    );
    assert_eq!(
        without_request_ids(&stderr(&dry)),
        without_request_ids(&stderr(&real))
    );
}

/// osc-sdk-python signs the host without its port (`parse_url(endpoint).host`) but sends
/// `Host: 127.0.0.1:PORT`. The real gateway, on 443, never sees the difference; the emulator accepts
/// a signature over either form, and still refuses one over neither.
#[tokio::test(flavor = "multi_thread")]
async fn the_outscale_double_accepts_a_signature_over_the_host_without_its_port() {
    use snapctl::providers::outscale::sign::{OSC4, SignedRequest, authorization};
    let emu = start().await;
    let http = reqwest::Client::new();
    let date = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let body = b"{}".to_vec();
    let send = |signed_host: String| {
        let headers = [
            ("content-type", "application/json"),
            ("host", signed_host.as_str()),
            ("x-osc-date", date.as_str()),
        ];
        let auth = authorization(
            OSC4,
            emulator::OSC_AK,
            emulator::OSC_SK,
            emulator::OSC_REGION,
            "api",
            &date,
            &SignedRequest {
                method: "POST",
                path: "/api/v1/ReadVolumes",
                headers: &headers,
                body: &body,
            },
        );
        http.post(format!("{}/api/v1/ReadVolumes", emu.base()))
            .header("content-type", "application/json")
            .header("x-osc-date", date.clone())
            .header("authorization", auth)
            .body(body.clone())
            .send()
    };
    let bare = send(emu.addr.ip().to_string()).await.expect("sent");
    assert_eq!(bare.status(), 200, "{:?}", bare.text().await);
    let with_port = send(emu.addr.to_string()).await.expect("sent");
    assert_eq!(with_port.status(), 200);
    let other = send("api.eu-west-2.outscale.com".into())
        .await
        .expect("sent");
    assert_eq!(other.status(), 401);
}

/// keystoneauth's discovery: the identity URL answers Keystone's version document and the volume
/// service's root answers Cinder's (a 300 listing), on distinct roots, with the catalog pointing at
/// the volume service. This is what `openstack volume snapshot list` needs; the seeded PowerVC
/// snapshot is there.
#[tokio::test(flavor = "multi_thread")]
async fn keystone_and_the_volume_service_answer_their_own_discovery() {
    let emu = start().await;
    let http = reqwest::Client::new();
    let env: std::collections::HashMap<_, _> = emu.env().into_iter().collect();
    let auth_url = &env["OS_AUTH_URL"];
    let identity: Value = http
        .get(auth_url)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert!(
        identity["version"]["id"]
            .as_str()
            .is_some_and(|v| v.starts_with("v3")),
        "{identity}"
    );
    assert!(
        identity["version"]["media-types"][0]["type"]
            .as_str()
            .is_some_and(|t| t.contains("identity"))
    );
    let token = http
        .post(format!("{auth_url}/auth/tokens"))
        .json(&serde_json::json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": env["OS_USERNAME"], "domain": {"name": "Default"}, "password": env["OS_PASSWORD"]}}}}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(token.status(), 201);
    let body_token = token
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .expect("X-Subject-Token")
        .to_string();
    let body: Value = token.json().await.expect("json");
    let volume_url = body["token"]["catalog"]
        .as_array()
        .expect("catalog")
        .iter()
        .find(|s| s["type"] == "volumev3")
        .and_then(|s| s["endpoints"][0]["url"].as_str())
        .expect("volume endpoint")
        .to_string();
    assert!(!volume_url.starts_with(auth_url.trim_end_matches("/v3")));
    let root = volume_url
        .rsplit_once("/v3/")
        .map(|(r, _)| format!("{r}/"))
        .expect("…/v3/{project}");
    let listing = http.get(&root).send().await.expect("sent");
    assert_eq!(listing.status(), 300);
    let versions: Value = listing.json().await.expect("json");
    assert_eq!(versions["versions"][0]["version"], "3.71");
    // A route the emulator does not serve is never a 404, which clients read as "already gone"
    // (openstacksdk's delete_volume(ignore_missing=True) passed while the volume stayed).
    let subject = body_token.clone();
    let vol = emu.demo_volume(ProviderKind::Powervc);
    let unserved = http
        .post(format!("{volume_url}/backups"))
        .json(&serde_json::json!({"backup": {"volume_id": vol}}))
        .header("X-Auth-Token", subject)
        .send()
        .await
        .expect("sent");
    assert_eq!(unserved.status(), 501);
    let fault: Value = unserved.json().await.expect("json");
    assert_eq!(fault["notImplemented"]["code"], 501, "{fault}");

    let cli = Cli::new(&emu);
    let snaps = cli.json(ProviderKind::Powervc, &["snapshot", "list"]).await;
    assert!(
        snaps
            .as_array()
            .expect("array")
            .iter()
            .any(|s| s["name"] == "before-upgrade"),
        "{snaps}"
    );
}

/// A dry run of deleting a snapshot that does not exist is refused as the real run is (exit 4, same
/// words), on every provider: it asks whether the target exists where the API cannot check a
/// DELETE itself (OVH, PowerVC; OUTSCALE sends DryRun).
#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_missing_snapshot_is_refused_alike_by_dry_and_real_runs_everywhere() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for (kind, missing) in [
        (ProviderKind::OvhEfs, "6b1e1f3a-0000-4000-8000-00000000dead"),
        (ProviderKind::OvhNasha, "no-such-snapshot"),
        (ProviderKind::Outscale, "snap-0000dead"),
        (
            ProviderKind::Powervc,
            "6b1e1f3a-0000-4000-8000-00000000dead",
        ),
    ] {
        let volume = emu.demo_volume(kind);
        let args = ["snapshot", "delete", missing, "--volume", &volume];
        assert_same_refusal(&cli, &emu, kind, &args).await;
        let real = cli.run(kind, &args).await;
        assert_exit(&real, 4);
    }
}

/// `share --public` asks for `--yes`, like revert: without a terminal it is refused (exit 9) with
/// the command to paste, and nothing is sent; with `--yes` the snapshot becomes public.
#[tokio::test(flavor = "multi_thread")]
async fn sharing_publicly_needs_yes() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let kind = ProviderKind::Outscale;
    let listed = cli
        .json(
            kind,
            &["snapshot", "list", "--volume", &emu.demo_volume(kind)],
        )
        .await;
    let id = listed[0]["id"].as_str().expect("id").to_string();
    let before = emu.changes().len();
    let out = cli.run(kind, &["snapshot", "share", &id, "--public"]).await;
    assert_exit(&out, 9);
    assert_stderr_has(&out, &format!("snapshot share {id} --public --yes"));
    assert_eq!(emu.changes().len(), before, "nothing was sent");
    let out = cli
        .run(kind, &["snapshot", "share", &id, "--public", "--yes"])
        .await;
    assert_exit(&out, 0);
    assert_eq!(emu.changes().len(), before + 1);
    // Taking it back needs no confirmation.
    let out = cli
        .run(kind, &["snapshot", "unshare", &id, "--public"])
        .await;
    assert_exit(&out, 0);
}

/// `volume list` selects like `snapshot list`: names, states and, where the provider has them,
/// tags (OUTSCALE tags, Cinder metadata); sorts and limits; a key that means nothing for volumes
/// is refused before any request.
#[tokio::test(flavor = "multi_thread")]
async fn volume_list_filters_sorts_and_limits() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for k in [ProviderKind::Outscale, ProviderKind::Powervc] {
        let gold = cli
            .json(k, &["volume", "list", "--filter", "tag.backup=gold"])
            .await;
        let names: Vec<&str> = gold
            .as_array()
            .expect("array")
            .iter()
            .map(|v| v["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, ["db-data"], "{k}");
        assert_eq!(gold[0]["tags"]["backup"], "gold");
    }
    let sorted = cli
        .json(
            ProviderKind::OvhEfs,
            &["volume", "list", "--sort", "-size", "--limit", "1"],
        )
        .await;
    assert_eq!(sorted.as_array().map(Vec::len), Some(1));
    assert_eq!(sorted[0]["name"], "appdata", "the largest share");
    let globbed = cli
        .json(
            ProviderKind::OvhNasha,
            &["volume", "list", "--filter", "name=back*"],
        )
        .await;
    assert_eq!(globbed[0]["name"], "backups");
    let before = emu.requests();
    let refused = cli
        .run(
            ProviderKind::Outscale,
            &["volume", "list", "--filter", "kind=manual"],
        )
        .await;
    assert_exit(&refused, 2);
    assert!(
        stderr(&refused).contains("no key \"kind\""),
        "{}",
        stderr(&refused)
    );
    assert_eq!(emu.requests(), before, "refused before any request");
}

/// Dynamic completion asks the API the command line names for volume and snapshot ids (names as
/// help), and gives up quietly after `SNAPCTL_COMPLETE_TIMEOUT` when the API does not answer.
#[tokio::test(flavor = "multi_thread")]
async fn volume_and_snapshot_ids_complete_from_the_api_within_a_deadline() {
    let emu = start().await;
    let home = tempfile::tempdir().expect("tempdir");
    let complete = |words: Vec<String>, extra: Vec<(String, String)>| {
        let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_snapctl"));
        cmd.env_clear()
            .envs(crate::common::clock_env())
            .env("HOME", home.path())
            .env("COMPLETE", "fish")
            .envs(emu.env())
            .envs(extra)
            .arg("--")
            .arg("snapctl")
            .args(words);
        cmd
    };
    let run = |mut cmd: assert_cmd::Command| async move {
        tokio::task::spawn_blocking(move || cmd.output().expect("runs"))
            .await
            .expect("join")
    };
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let vol = emu.demo_volume(ProviderKind::Outscale);
    let out = run(complete(
        words(&["-p", "outscale", "snapshot", "list", "--volume", "vol-"]),
        vec![],
    ))
    .await;
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains(&format!("{vol}\tdb-data")),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).is_empty(),
        "nothing on the terminal: {}",
        stderr(&out)
    );
    let out = run(complete(
        words(&["-p", "powervc", "snapshot", "show", ""]),
        vec![],
    ))
    .await;
    assert!(
        stdout(&out).contains("\tbefore-upgrade"),
        "{}",
        stdout(&out)
    );

    // An endpoint that accepts connections and never answers: nothing offered, promptly.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let started = std::time::Instant::now();
    let out = run(complete(
        words(&["-p", "outscale", "snapshot", "list", "--volume", ""]),
        vec![
            (
                "OSC_ENDPOINT_API".into(),
                format!("http://127.0.0.1:{port}/api/v1"),
            ),
            ("SNAPCTL_COMPLETE_TIMEOUT".into(), "300ms".into()),
        ],
    ))
    .await;
    assert_exit(&out, 0);
    assert!(!stdout(&out).contains("vol-"), "{}", stdout(&out));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    drop(silent);

    // An --endpoint typed on the line is never contacted (it would receive the credentials,
    // here the Keystone password): completion asks the environment's endpoint.
    let typed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    typed.set_nonblocking(true).expect("nonblocking");
    let port = typed.local_addr().expect("addr").port();
    let out = run(complete(
        words(&[
            "-p",
            "powervc",
            "--endpoint",
            &format!("http://127.0.0.1:{port}/identity/v3"),
            "--allow-http",
            "snapshot",
            "show",
            "",
        ]),
        vec![],
    ))
    .await;
    assert!(
        stdout(&out).contains("\tbefore-upgrade"),
        "{}",
        stdout(&out)
    );
    assert!(typed.accept().is_err(), "the typed endpoint was contacted");
}

/// A hint that names a command can be pasted as it is: the EFS and NAS-HA `--volume` hints carry
/// the provider and the service, and running them lists the volumes.
#[tokio::test(flavor = "multi_thread")]
async fn volume_hints_paste_as_they_are() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for (k, id) in [
        (ProviderKind::OvhEfs, "6b1e0000-0000-4000-8000-000000000001"),
        (ProviderKind::OvhNasha, "before-upgrade"),
    ] {
        let out = cli.run(k, &["snapshot", "show", id]).await;
        assert_exit(&out, 2);
        let err = stderr(&out);
        let start = err.find("snapctl -p").expect("a command in the hint");
        let hint = &err[start..];
        let hint = &hint[..hint.find(')').expect("closing parenthesis")];
        let words: Vec<&str> = hint.split_whitespace().skip(1).collect();
        let pasted = cli.bare(&words).await;
        assert_exit(&pasted, 0);
        assert!(
            stdout(&pasted).contains(&emu.demo_volume(k)),
            "{k}: {hint}: {}",
            stdout(&pasted)
        );
    }
}

/// The emulator applies ReadSnapshots' `States` and creation-date filters as OUTSCALE does, and
/// `snapshot list` gives the same answer with them as without.
#[tokio::test(flavor = "multi_thread")]
async fn outscale_snapshot_filters_by_state_and_age() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let vol = emu.demo_volume(k);
    let names = |v: Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|s| s["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let old = cli
        .json(
            k,
            &["snapshot", "list", "--volume", &vol, "--older-than", "12h"],
        )
        .await;
    assert_eq!(names(old), ["before-upgrade"]);
    let new = cli
        .json(
            k,
            &["snapshot", "list", "--volume", &vol, "--newer-than", "12h"],
        )
        .await;
    assert!(names(new).is_empty());
    let done = cli
        .json(
            k,
            &[
                "snapshot",
                "list",
                "--volume",
                &vol,
                "--filter",
                "state=available",
            ],
        )
        .await;
    assert_eq!(names(done), ["before-upgrade"]);
}

/// `schedule list` selects too: name globs and states, sorted, limited; ages are refused (a
/// schedule has no creation time).
#[tokio::test(flavor = "multi_thread")]
async fn schedule_list_filters_and_sorts() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhNasha;
    cli.ok(
        k,
        &[
            "schedule",
            "add",
            "--volume",
            "partition1",
            "--every",
            "day-1",
        ],
    )
    .await;
    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|s| s["id"].as_str().expect("id").to_string())
            .collect()
    };
    let sorted = cli
        .json(
            k,
            &[
                "schedule",
                "list",
                "--volume",
                "partition1",
                "--sort",
                "-id",
            ],
        )
        .await;
    assert_eq!(ids(sorted), ["hour-1", "day-1"]);
    let days = cli
        .json(
            k,
            &[
                "schedule",
                "list",
                "--volume",
                "partition1",
                "--filter",
                "name=day-*",
            ],
        )
        .await;
    assert_eq!(ids(days), ["day-1"]);
    let refused = cli
        .run(
            k,
            &[
                "schedule",
                "list",
                "--volume",
                "partition1",
                "--older-than",
                "1d",
            ],
        )
        .await;
    assert_exit(&refused, 2);
}

/// `POST /_emulator/clock` moves the emulated clock by a number of seconds (fractions too) or to
/// a time; anything else is refused with what to send.
#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_clock_takes_fractions_and_times() {
    let emu = start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/_emulator/clock", emu.base());
    let post = |body: Value| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let r = http.post(&url).json(&body).send().await.expect("sent");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let (status, v) = post(serde_json::json!({"offset_seconds": -0.4})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["offset_seconds"], -0.4);
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 400);
    let (status, v) = post(serde_json::json!({"at": at.to_string()})).await;
    assert_eq!(status, 200, "{v}");
    let now: jiff::Timestamp = v["now"].as_str().expect("now").parse().expect("time");
    assert!(
        now.duration_since(at).abs() < jiff::SignedDuration::from_secs(2),
        "{now} vs {at}"
    );
    let (status, v) = post(serde_json::json!({"offset_seconds": "soon"})).await;
    assert_eq!(status, 400);
    assert!(
        v["message"]
            .as_str()
            .expect("message")
            .contains("offset_seconds")
    );
    let (status, _) = post(serde_json::json!({"offset_seconds": 0})).await;
    assert_eq!(status, 200);
}

/// OVH calls with no result answer `200` with the JSON `null`, as the real API does (python-ovh
/// decodes every non-204 answer as JSON): an EFS snapshot DELETE and a revert.
#[tokio::test(flavor = "multi_thread")]
async fn ovh_calls_without_a_result_answer_json_null() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhEfs;
    let share = emu.demo_volume(k);
    let made = cli
        .json(
            k,
            &[
                "snapshot", "create", "--volume", &share, "--name", "n", "--wait",
            ],
        )
        .await;
    let id = made["id"].as_str().expect("id").to_string();
    let out = cli
        .run(
            k,
            &[
                "-vv",
                "revert",
                "--volume",
                &share,
                "--snapshot",
                &id,
                "--yes",
            ],
        )
        .await;
    assert_exit(&out, 0);
    let trace = stderr(&out);
    assert!(
        trace.contains("< 200 OK") && !trace.contains("< 202"),
        "{trace}"
    );
    assert!(trace.lines().any(|l| l == "< null"), "{trace}");
    let out = cli
        .run(
            k,
            &[
                "-vv", "snapshot", "delete", &id, "--volume", &share, "--wait",
            ],
        )
        .await;
    assert_exit(&out, 0);
    assert!(
        stderr(&out).lines().any(|l| l == "< null"),
        "{}",
        stderr(&out)
    );
}
