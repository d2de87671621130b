//! The deployment files an operator applies as they are: the Kubernetes CronJob (it parses, its
//! policy file validates, its limits hold together) and the systemd units (`systemd-analyze
//! verify`, with the binary path substituted). The image itself is built and run by
//! `scripts/image.sh` in CI.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::common::{Snapctl, assert_exit, stderr, tool};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Seconds between two runs of a `*/N * * * *` schedule (the form the example uses).
fn every_minutes(schedule: &str) -> u64 {
    let minute = schedule.split_whitespace().next().expect("a minute field");
    let n: u64 = minute
        .strip_prefix("*/")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the example's schedule is */N minutes: {schedule}"));
    n * 60
}

#[test]
fn the_cronjob_parses_its_policy_file_validates_and_its_limits_hold_together() {
    let text = std::fs::read_to_string(repo("deploy/kubernetes/cronjob.yaml")).expect("manifest");
    let docs: Vec<Value> = serde_norway::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("each document parses"))
        .collect();
    let kind = |k: &str| {
        docs.iter()
            .find(|d| d["kind"] == k)
            .unwrap_or_else(|| panic!("a {k}"))
    };
    let config = kind("ConfigMap");
    let cron = kind("CronJob");
    let profiles = kind("Secret")["stringData"]["config.toml"]
        .as_str()
        .expect("the profiles file");
    assert_eq!(cron["apiVersion"], "batch/v1");

    // The policy file of the ConfigMap passes validate, and pushes its metrics.
    let cli = Snapctl::bare();
    let fleet = config["data"]["fleet.toml"].as_str().expect("fleet.toml");
    assert!(
        fleet.contains("metrics_push_url"),
        "metrics go through the Pushgateway"
    );
    // Its state is in a bucket: a fresh pod decides as a long-lived runner would.
    assert!(
        fleet.contains("state = \"s3://") && !fleet.contains("state_dir"),
        "the CronJob keeps its state in object storage"
    );
    let path = cli.home.path().join("fleet.toml");
    std::fs::write(&path, fleet).expect("write");
    let config_path = cli.home.path().join("profiles.toml");
    std::fs::write(&config_path, profiles).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }
    let out = cli
        .command(&[
            "--config",
            config_path.to_str().expect("utf-8"),
            "policy",
            "validate",
            "-f",
            path.to_str().expect("utf-8"),
        ])
        .output()
        .expect("runs");
    assert_exit(&out, 0);

    let spec = &cron["spec"];
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    let job = &spec["jobTemplate"]["spec"];
    let pod = &job["template"]["spec"];
    let interval = every_minutes(spec["schedule"].as_str().expect("schedule"));
    let deadline = job["activeDeadlineSeconds"]
        .as_u64()
        .expect("activeDeadlineSeconds");
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds");
    assert!(
        deadline + grace < interval,
        "a stuck run ends before the next is due: {deadline} + {grace} >= {interval}"
    );
    // SIGTERM: 2 s, one change in flight (the 60 s request timeout), the push (10 s).
    assert!(grace >= 2 + 60 + 10, "grace {grace}");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65534);

    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    for (side, what) in [
        ("requests", "cpu"),
        ("requests", "memory"),
        ("limits", "memory"),
    ] {
        assert!(
            c["resources"][side][what].is_string(),
            "resources.{side}.{what}"
        );
    }
    let args: Vec<&str> = c["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string"))
        .collect();
    assert_eq!(&args[..2], ["policy", "apply"]);
    let env: Vec<(&str, &str)> = c["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().expect("name"),
                e["value"].as_str().expect("value"),
            )
        })
        .collect();
    let lock_dir = env
        .iter()
        .find(|(n, _)| *n == "SNAPCTL_LOCK_DIR")
        .expect("SNAPCTL_LOCK_DIR")
        .1;

    // Every path the run writes is on a writable mount (the root filesystem is read-only).
    let mounts: Vec<(&str, bool, &str)> = c["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .map(|m| {
            (
                m["mountPath"].as_str().expect("mountPath"),
                m["readOnly"].as_bool().unwrap_or(false),
                m["name"].as_str().expect("name"),
            )
        })
        .collect();
    let volumes = pod["volumes"].as_array().expect("volumes");
    let writable = |p: &str| {
        mounts.iter().any(|(at, ro, name)| {
            !ro && Path::new(p).starts_with(at)
                && volumes
                    .iter()
                    .any(|v| v["name"] == *name && v["emptyDir"].is_object())
        })
    };
    let report = fleet
        .lines()
        .find_map(|l| l.strip_prefix("report_file = "))
        .map(|v| v.trim_matches('"'));
    for p in [Some("/tmp"), Some(lock_dir), report].into_iter().flatten() {
        assert!(writable(p), "{p} is on a writable emptyDir");
    }
    // No state on the pod's disk: no emptyDir other than /tmp, and no PersistentVolume.
    for v in volumes {
        assert!(
            v.get("persistentVolumeClaim").is_none()
                && (v.get("emptyDir").is_none() || v["name"] == "tmp"),
            "the pod keeps no state of its own: {v}"
        );
    }
    assert!(
        mounts
            .iter()
            .any(|(at, ro, _)| *at == "/etc/snapctl" && *ro),
        "the policy file is mounted read-only"
    );
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let Some(analyze) = tool("systemd-analyze", "systemd") else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let bin = env!("CARGO_BIN_EXE_snapctl");
    let mut units = Vec::new();
    for name in ["snapctl-policy.service", "snapctl-policy.timer"] {
        let text = std::fs::read_to_string(repo(&format!("deploy/systemd/{name}"))).expect("unit");
        if name.ends_with(".service") {
            assert!(text.contains("/usr/local/bin/snapctl"), "{name}");
        }
        let path = dir.path().join(name);
        std::fs::write(&path, text.replace("/usr/local/bin/snapctl", bin)).expect("write");
        units.push(path);
    }
    let out = std::process::Command::new(analyze)
        .arg("verify")
        .args(&units)
        .output()
        .expect("systemd-analyze runs");
    // Unknown keys are warnings with exit 0: any word on stderr fails the check too.
    assert!(
        out.status.success() && stderr(&out).trim().is_empty(),
        "systemd-analyze verify: {}\n{}",
        out.status,
        stderr(&out)
    );
}

/// The alert rules load, and fire when they should and not before (`promtool test rules` over
/// simulated series: pushes that stop, a failing exit code, a late volume).
#[test]
fn the_alert_rules_pass_promtool_check_and_their_unit_tests() {
    let Some(promtool) = tool("promtool", "prometheus") else {
        return;
    };
    let dir = repo("deploy/prometheus");
    for args in [
        ["check", "rules", "snapctl-rules.yml"],
        ["test", "rules", "snapctl-rules.test.yml"],
    ] {
        let out = std::process::Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool runs");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
    }
}
