//! `snapctl demo`: the main job on a fresh machine. Starts the emulator in-process and walks
//! snapshot → clone → rotate on every provider through the real command code, printing each command
//! and its table; then fleet mode: one policy file planned, applied and planned again.

use clap::Parser;

use crate::commands::cli::Cli;
use crate::config::Env;
use crate::emulator::{Emulator, EmulatorConfig};
use crate::error::{Error, Result};
use crate::kind::ProviderKind;

fn steps(kind: ProviderKind, volume: &str) -> Vec<Vec<String>> {
    let v = volume.to_string();
    let s = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut out = vec![
        s(&["volume", "list"]),
        s(&[
            "snapshot",
            "create",
            "--volume",
            &v,
            "--name",
            "demo-before-change",
            "--wait",
        ]),
    ];
    match kind {
        ProviderKind::OvhNasha => out.push(s(&["schedule", "list", "--volume", &v])),
        _ => out.push(s(&[
            "clone",
            "--volume",
            &v,
            "--name",
            "demo-clone",
            "--wait",
        ])),
    }
    out.push(s(&[
        "rotate",
        "--volume",
        &v,
        "--create",
        "--wait",
        "--keep-last",
        "2",
    ]));
    out.push(s(&["snapshot", "list", "--volume", &v]));
    out
}

/// How the demo runs one parsed command line: the command layer hands its own runner in, so this
/// module does not import it back.
pub type Runner = fn(Cli, Env) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u8>>>>;

/// Run the demo.
pub async fn walk_through(outer: &Env, run_command: Runner) -> Result<()> {
    let emu = crate::emulator::start(EmulatorConfig {
        delay: std::time::Duration::from_millis(200),
        ..EmulatorConfig::default()
    })
    .await
    .map_err(|source| Error::Io {
        action: "cannot start the emulator on loopback".into(),
        source,
    })?;
    let env = demo_env(&emu, outer);
    for kind in ProviderKind::ALL {
        let volume = emu.demo_volume(kind);
        for step in steps(kind, &volume) {
            let mut args = vec![
                "snapctl".to_string(),
                "-p".into(),
                kind.as_str().into(),
                "--poll-interval".into(),
                "50ms".into(),
                // The emulator is local: no need for the cloud's request budget.
                "--max-rps".into(),
                "0".into(),
            ];
            if let Some(service) = Emulator::service(kind) {
                args.extend(["--service".into(), service.into()]);
            }
            args.extend(step.iter().cloned());
            let shown = args[1..]
                .iter()
                .filter(|a| !matches!(a.as_str(), "--poll-interval" | "50ms" | "--max-rps" | "0"))
                .cloned()
                .collect::<Vec<_>>()
                .join(" ");
            print_line(&format!("\n$ snapctl {shown}\n"))?;
            let cli = Cli::try_parse_from(&args).map_err(|e| Error::usage(e.to_string()))?;
            run_command(cli, env.clone()).await?;
        }
    }
    fleet(&env, run_command).await?;
    print_line(&format!(
        "\nThat was the emulator on {}; run `snapctl emulator` to keep one up for your own scripts.\n",
        emu.base()
    ))
}

/// Fleet mode: one policy file over the four clouds, planned, applied, planned again; two of
/// its policies run a restore drill (restore, verify, measure, delete), the OUTSCALE one copies
/// its snapshots to the emulator's other Region (export, pre-signed URL, import); then the
/// coverage report of the last hour, from the run history.
async fn fleet(env: &Env, run_command: Runner) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("snapctl-demo-{}", std::process::id()));
    // The other Region's account, as a user defines it: a profile (the emulator's demo keys).
    let profiles = format!(
        "[profiles.osc-dr]\nprovider = \"outscale\"\nendpoint = \"{}\"\nregion = \"{}\"\naccess_key = \"{}\"\nsecret_key = \"{}\"\n",
        env.var("OSC_ENDPOINT_API").unwrap_or_default(),
        crate::emulator::OSC_DR_REGION,
        crate::emulator::OSC_DR_AK,
        crate::emulator::OSC_DR_SK,
    );
    let config = dir.join("config").join("snapctl").join("config.toml");
    write_private(&config, &profiles)?;
    let copy = format!(
        "copy = [{{ region = \"{}\", profile = \"osc-dr\", bucket = \"{}\", keep = {{ last = 7 }} }}]\n",
        crate::emulator::OSC_DR_REGION,
        crate::emulator::OSC_BUCKET
    );
    let mut text = format!(
        "timezone = \"UTC\"\nhistory_dir = \"{}\"\n",
        dir.join("history").display()
    );
    let verify = "drill = { every = \"1d\", verify = 'test -n \"$SNAPCTL_DRILL_VOLUME_ID\"', max_restore = \"30min\" }\n";
    let osc_extra = format!("{verify}{copy}");
    for (kind, id, select, extra) in [
        (
            ProviderKind::OvhEfs,
            "efs-app",
            "names = [\"appdata\"]",
            verify,
        ),
        (
            ProviderKind::OvhNasha,
            "nas-daily",
            "name_regex = \"^partition\"",
            "",
        ),
        (
            ProviderKind::Outscale,
            "osc-gold",
            "tags = { backup = \"gold\" }",
            osc_extra.as_str(),
        ),
        (
            ProviderKind::Powervc,
            "pvc-gold",
            "tags = { backup = \"gold\" }",
            "",
        ),
    ] {
        text.push_str(&format!(
            "\n[[policy]]\nid = \"{id}\"\nprovider = \"{}\"\n{}every = \"1h\"\nexpect_volumes = \"1..5\"\nselect = {{ {select} }}\nkeep = {{ last = 24, daily = 7, min = 2 }}\n{extra}",
            kind.as_str(),
            Emulator::service(kind)
                .map(|s| format!("service = \"{s}\"\n"))
                .unwrap_or_default(),
        ));
    }
    let path = dir.join("fleet.toml");
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, &text))
        .map_err(|source| Error::Io {
            action: format!("cannot write {}", path.display()),
            source,
        })?;
    print_line(&format!(
        "\n# Fleet mode: one policy file for all four clouds ({})\n{text}\n# The profile of the OUTSCALE account in the other Region ({})\n{profiles}",
        path.display(),
        config.display()
    ))?;
    let file = path.display().to_string();
    for step in [
        vec!["policy", "plan", "-f", &file],
        vec!["policy", "apply", "-f", &file],
        vec!["policy", "plan", "--detailed-exitcode", "-f", &file],
        vec!["policy", "report", "-f", &file, "--since", "1h"],
    ] {
        print_line(&format!("\n$ snapctl {}\n", step.join(" ")))?;
        let mut args = vec!["snapctl", "--poll-interval", "50ms", "--max-rps", "0"];
        args.extend(step);
        let cli = Cli::try_parse_from(&args).map_err(|e| Error::usage(e.to_string()))?;
        run_command(cli, env.clone()).await?;
    }
    Ok(())
}

/// `text` into `path`, readable by the user alone (a profiles file holds keys).
fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    let io = |source| Error::Io {
        action: format!("cannot write {}", path.display()),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    Ok(())
}

fn print_line(text: &str) -> Result<()> {
    crate::output::write_stdout(text.as_bytes())
}

/// The emulator's credentials, and nothing of the user's configuration.
fn demo_env(emu: &Emulator, outer: &Env) -> Env {
    let mut env = Env::default();
    for (k, v) in emu.env() {
        env.vars.insert(k.to_string(), v);
    }
    let scratch = std::env::temp_dir().join(format!("snapctl-demo-{}", std::process::id()));
    env.vars.insert(
        "XDG_CONFIG_HOME".into(),
        scratch.join("config").display().to_string(),
    );
    env.vars.insert(
        "SNAPCTL_LOCK_DIR".into(),
        scratch.join("locks").display().to_string(),
    );
    env.vars.insert(
        "SNAPCTL_STATE_DIR".into(),
        scratch.join("state").display().to_string(),
    );
    if let Some(path) = outer.var("PATH") {
        env.vars.insert("PATH".into(), path.to_string());
    }
    env
}
