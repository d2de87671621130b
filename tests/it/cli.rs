//! The command surface without a cloud: providers matrix, configuration errors and their exit codes.

use crate::common::*;
use serde_json::Value;
use wiremock::MockServer;

#[tokio::test(flavor = "multi_thread")]
async fn providers_prints_the_capability_matrix() {
    let out = Snapctl::bare().run(&["providers"]).await;
    assert_exit(&out, 0);
    let table = stdout(&out);
    for key in [
        "ovh-efs",
        "ovh-nasha",
        "outscale",
        "powervc",
        "snapshot create",
        "clone",
    ] {
        assert!(table.contains(key), "{key} missing from:\n{table}");
    }
    let out = Snapctl::bare().run(&["providers", "-o", "json"]).await;
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let rows = v.as_array().expect("array");
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["provider"], "ovh-efs");
    assert_eq!(rows[0]["capabilities"]["clone"], true);
    assert_eq!(
        rows[2]["capabilities"]["revert"], false,
        "outscale has no revert"
    );
    let ids = Snapctl::bare().run(&["providers", "-o", "ids"]).await;
    assert_eq!(stdout(&ids), "ovh-efs\novh-nasha\noutscale\npowervc\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_provider_is_a_usage_error_listing_the_valid_ones() {
    let out = Snapctl::bare().run(&["-p", "aws", "volume", "list"]).await;
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("ovh-efs") && err.contains("powervc"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_provider_is_a_usage_error() {
    let out = Snapctl::bare().run(&["volume", "list"]).await;
    assert_exit(&out, 2);
    assert_stderr_has(&out, "no provider chosen");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_profile_lists_the_valid_ones() {
    let cli = Snapctl::bare();
    let dir = cli.home.path().join("config/snapctl");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("config.toml"),
        "[profiles.prod]\nprovider = \"ovh-efs\"\n[profiles.lab]\nprovider = \"outscale\"\n",
    )
    .expect("write");
    let out = cli.run(&["--profile", "staging", "volume", "list"]).await;
    assert_exit(&out, 2);
    assert_stderr_has(&out, "valid profiles: lab, prod");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_exit_5_naming_the_three_places() {
    let server = MockServer::start().await;
    let mut cli = Snapctl::efs(&server);
    cli.envs.retain(|(k, _)| k == "OVH_APPLICATION_KEY");
    let out = cli.run(&["volume", "list"]).await;
    assert_exit(&out, 5);
    let err = stderr(&out);
    assert!(
        err.contains("error: missing OVH credentials: application_secret, consumer_key"),
        "{err}"
    );
    assert!(err.contains("OVH_APPLICATION_SECRET"), "{err}");
    assert!(err.contains("snapctl profile"), "{err}");
    assert!(err.contains("ovh.conf"), "{err}");
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn profile_credentials_and_endpoint_are_used() {
    let server = ovh_server().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(share_path("")))
        .and(OvhSigned)
        .respond_with(json(200, "ovh-efs/share.json"))
        .expect(1)
        .mount(&server)
        .await;
    let cli = Snapctl::bare();
    let dir = cli.home.path().join("config/snapctl");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("config.toml");
    std::fs::write(
        &file,
        format!(
            "default_profile = \"prod\"\n[profiles.prod]\nprovider = \"ovh-efs\"\nendpoint = \"{}/1.0\"\nservice = \"{SERVICE}\"\napplication_key = \"{AK}\"\napplication_secret = \"{AS}\"\nconsumer_key = \"{CK}\"\n",
            server.uri()
        ),
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let out = cli.run(&["-o", "ids", "volume", "show", SHARE]).await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("{SHARE}\n"));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn ovh_conf_in_the_working_directory_is_read() {
    let server = ovh_server().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(share_path("")))
        .and(OvhSigned)
        .respond_with(json(200, "ovh-efs/share.json"))
        .expect(2)
        .mount(&server)
        .await;
    let mut cli = Snapctl::efs(&server);
    cli.envs.clear();
    let endpoint = format!("{}/1.0", server.uri());
    std::fs::write(
        cli.home.path().join("ovh.conf"),
        format!(
            "[default]\nendpoint={endpoint}\n[{endpoint}]\napplication_key={AK}\napplication_secret={AS}\nconsumer_key={CK}\n"
        ),
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            cli.home.path().join("ovh.conf"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
    }
    let i = cli
        .args
        .iter()
        .position(|a| a == "--endpoint")
        .expect("flag");
    cli.args.drain(i..i + 2);
    let out = cli.run(&["-o", "ids", "volume", "show", SHARE]).await;
    assert_exit(&out, 0);
    // The file holds secrets and is readable by others: warned, even under -q (which silences
    // progress and notices, never this), and -q leaves the data alone.
    assert_stderr_has(&out, "chmod 600");
    let quiet = cli.run(&["-q", "-o", "ids", "volume", "show", SHARE]).await;
    assert_exit(&quiet, 0);
    assert_stderr_has(&quiet, "chmod 600");
    assert_eq!(stdout(&quiet), format!("{SHARE}\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_arguments_exit_2() {
    let out = Snapctl::bare().run(&["snapshot", "create"]).await;
    assert_exit(&out, 2);
    let out = Snapctl::bare()
        .run(&["--timeout", "soon", "providers"])
        .await;
    assert_exit(&out, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicting_flags_are_refused_before_anything_runs() {
    for args in [
        vec!["-q", "-v", "providers"],
        vec![
            "-p",
            "ovh-efs",
            "schedule",
            "add",
            "--volume",
            "v",
            "--every",
            "day",
            "--cron",
            "1 1 * * *",
            "--prefix",
            "p",
            "--keep",
            "1",
        ],
    ] {
        let out = Snapctl::bare().run(&args).await;
        assert_exit(&out, 2);
        assert_stderr_has(&out, "cannot be used with");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn help_lists_the_exit_codes() {
    let out = Snapctl::bare().run(&["--help"]).await;
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("9 refused for safety"));
}

#[tokio::test(flavor = "multi_thread")]
async fn completions_are_generated_for_bash() {
    let out = Snapctl::bare().run(&["completions", "bash"]).await;
    assert_exit(&out, 0);
    let script = stdout(&out);
    assert!(
        script.contains("_snapctl()") && script.contains("rotate"),
        "{script}"
    );
}

/// Under `check`, even a command line clap refuses is the plugin's UNKNOWN (exit 3) with a status
/// line, never exit 2 (which a monitoring system reads as CRITICAL). Elsewhere it stays exit 2.
#[tokio::test(flavor = "multi_thread")]
async fn a_bad_check_command_line_is_unknown_not_critical() {
    let out = Snapctl::bare()
        .run(&["-p", "powervc", "check", "--volume", "v", "--bogus"])
        .await;
    assert_exit(&out, 3);
    assert!(
        stdout(&out).starts_with("SNAPCTL UNKNOWN: unexpected argument '--bogus'"),
        "{}",
        stdout(&out)
    );
    let out = Snapctl::bare()
        .run(&["-p", "powervc", "snapshot", "create", "--bogus"])
        .await;
    assert_exit(&out, 2);
    let out = Snapctl::bare().run(&["check", "--help"]).await;
    assert_exit(&out, 0);
}

/// The man page comes from the clap tree: printed, or one page per command into a directory.
#[tokio::test(flavor = "multi_thread")]
async fn man_pages_are_generated_from_the_command_tree() {
    let out = Snapctl::bare().run(&["man"]).await;
    assert_exit(&out, 0);
    let page = stdout(&out);
    assert!(page.contains(".TH snapctl 1"), "{page}");
    assert!(page.contains("rotate"));
    let cli = Snapctl::bare();
    let dir = cli.home.path().join("man/man1");
    let out = cli
        .run(&["man", "--dir", dir.to_str().expect("utf-8")])
        .await;
    assert_exit(&out, 0);
    for page in ["snapctl.1", "snapctl-rotate.1", "snapctl-snapshot-list.1"] {
        let text = std::fs::read_to_string(dir.join(page)).expect(page);
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
    }
}

/// Config errors say the file, the line and column, and the key; ovh.conf errors carry no Rust
/// debug text.
#[tokio::test(flavor = "multi_thread")]
async fn config_errors_name_the_file_line_and_key() {
    let cli = Snapctl::bare();
    let path = cli.home.path().join("c.toml");
    std::fs::write(
        &path,
        "[profiles.p]\nprovider = \"outscale\"\nregoin = \"eu-west-2\"\n",
    )
    .expect("write");
    let out = cli
        .run(&[
            "--config",
            path.to_str().expect("utf-8"),
            "--profile",
            "p",
            "volume",
            "list",
        ])
        .await;
    assert_exit(&out, 5);
    assert_stderr_has(&out, "c.toml, line 3, column 1: unknown field `regoin`");

    let cli = Snapctl::bare();
    std::fs::write(
        cli.home.path().join("ovh.conf"),
        "[default]\nendpoint=ovh-eu\n[ovh-eu\napplication_key=x\n",
    )
    .expect("write");
    let out = cli.run(&["-p", "ovh-efs", "volume", "list"]).await;
    assert_exit(&out, 5);
    assert_stderr_has(&out, "ovh.conf, line 5, column 1");
    assert!(!stderr(&out).contains("Some("), "{}", stderr(&out));
}

/// A policy naming a profile is not valid when there is no profiles file to find it in: exit 2,
/// whether the file is missing at the default path or where `SNAPCTL_CONFIG` names it.
#[tokio::test(flavor = "multi_thread")]
async fn a_policy_profile_without_a_profiles_file_is_refused() {
    let cli = Snapctl::bare();
    let text = "[[policy]]\nid = \"db\"\nprofile = \"prod\"\nevery = \"1h\"\nselect = { ids = [\"vol-12345678\"] }\nkeep = { last = 3 }\n";
    let path = cli.home.path().join("fleet.toml");
    std::fs::write(&path, text).expect("write");
    let f = path.to_str().expect("utf-8");
    let out = cli.run(&["policy", "validate", "-f", f]).await;
    assert_exit(&out, 2);
    let missing = cli.home.path().join("nowhere.toml");
    let cli = cli.env("SNAPCTL_CONFIG", missing.to_str().expect("utf-8"));
    let out = cli.run(&["policy", "validate", "-f", f]).await;
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("names profile \"prod\""),
        "{}",
        stderr(&out)
    );
}

/// `policy validate` checks a policy file and sends nothing: a good file lists its policies; a
/// mistake exits 2 naming the file, the line and the key (a bare `m` is refused for naming both
/// readings).
#[tokio::test(flavor = "multi_thread")]
async fn policy_validate_checks_the_file_and_names_the_line_and_key() {
    let cli = Snapctl::bare();
    let good = "[[policy]]\nid = \"db-gold\"\nprovider = \"outscale\"\nevery = \"1h\"\nexpect_volumes = \"1..20\"\nselect = { tags = { backup = \"gold\" } }\nkeep = { last = 3, daily = 7, min = 2 }\n";
    let path = cli.home.path().join("fleet.toml");
    std::fs::write(&path, good).expect("write");
    let f = path.to_str().expect("utf-8");
    let out = cli.run(&["policy", "validate", "-f", f]).await;
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("1 valid policy"), "{}", stdout(&out));
    assert!(stdout(&out).contains("db-gold: outscale, every 1h"));
    let ids = cli
        .run(&["policy", "validate", "-f", f, "--jq", ".policies[].id"])
        .await;
    assert_eq!(stdout(&ids), "db-gold\n");

    std::fs::write(&path, good.replace("\"1h\"", "\"30m\"")).expect("write");
    let out = cli.run(&["policy", "validate", "-f", f]).await;
    assert_exit(&out, 2);
    assert_stderr_has(&out, "fleet.toml, line 4: policy \"db-gold\", every");
    assert_stderr_has(&out, "write 30min or 30mo");
}

/// Dynamic completion (`COMPLETE=<shell> snapctl`): `--profile` completes from the config file's
/// profile names, read locally; subcommands complete too.
#[tokio::test(flavor = "multi_thread")]
async fn profile_names_complete_from_the_config_file() {
    let cli = Snapctl::bare();
    let dir = cli.home.path().join("config/snapctl");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("config.toml"),
        "[profiles.prod-efs]\nprovider = \"ovh-efs\"\n[profiles.prod-osc]\nprovider = \"outscale\"\n[profiles.lab]\nprovider = \"powervc\"\n",
    )
    .expect("write");
    let out = cli
        .env("COMPLETE", "fish")
        .run(&["--", "snapctl", "--profile", "prod"])
        .await;
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), "prod-efs\nprod-osc\n");
    let script = Snapctl::bare().env("COMPLETE", "bash").run(&[]).await;
    assert!(stdout(&script).contains("_clap_complete_snapctl"));
}

/// A server that never answers: SIGTERM one second into `volume list` ends it at once (the read
/// in flight is dropped), exit 130, on every provider.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drops_a_read_in_flight_on_every_provider() {
    let server = silent_server().await;
    for cli in [
        Snapctl::efs(&server),
        Snapctl::nasha(&server),
        Snapctl::outscale(&server),
        Snapctl::powervc(&server),
    ] {
        let cmd = cli.command(&["--timeout", "5m", "volume", "list"]);
        let started = std::time::Instant::now();
        let out = signal_after(cmd, "TERM", std::time::Duration::from_secs(1)).await;
        let took = started.elapsed();
        assert_exit(&out, 130);
        assert!(
            // The server would hold the read for 60 s; the bound leaves room for a loaded machine.
            took < std::time::Duration::from_secs(10),
            "{:?} after the signal: {took:?}\n{}",
            cli.args,
            stderr(&out)
        );
    }
}

/// The monitoring plugins answer within their deadline (`--timeout`, default 50 s) against an
/// endpoint that never answers: UNKNOWN, exit 3, for `check` and `policy check`.
#[tokio::test(flavor = "multi_thread")]
async fn plugins_answer_unknown_within_their_deadline() {
    let server = silent_server().await;
    let cli = Snapctl::efs(&server);
    let started = std::time::Instant::now();
    let out = cli
        .run(&[
            "--timeout",
            "2s",
            "check",
            "--volume",
            SHARE,
            "--max-age",
            "1d",
        ])
        .await;
    assert_exit(&out, 3);
    assert!(
        stdout(&out).starts_with("SNAPCTL UNKNOWN: no answer within 2s"),
        "{}",
        stdout(&out)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // policy check: the connection comes from the environment, the policy from the file.
    let file = cli.home.path().join("fleet.toml");
    std::fs::write(
        &file,
        "[[policy]]\nid = \"p\"\nprovider = \"outscale\"\nevery = \"1h\"\nselect = { all = true }\nkeep = { last = 1 }\n",
    )
    .expect("write");
    let started = std::time::Instant::now();
    let out = Snapctl::bare()
        .env("OSC_ENDPOINT_API", &format!("{}/api/v1", server.uri()))
        .env("OSC_ACCESS_KEY", "AKIDEXAMPLE0000000001")
        .env("OSC_SECRET_KEY", "secretsecretsecretsecretsecret00")
        .env("OSC_REGION", "eu-west-2")
        .run(&[
            "--timeout",
            "2s",
            "policy",
            "check",
            "-f",
            file.to_str().expect("utf-8"),
        ])
        .await;
    assert_exit(&out, 3);
    assert!(
        stdout(&out).starts_with("SNAPCTL UNKNOWN: no answer within 2s"),
        "{}",
        stdout(&out)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
