//! `snapctl emulator`: serve the local emulator until Ctrl-C.

use super::cli::*;
use super::*;
use clap::Args;
use std::path::PathBuf;

/// `snapctl emulator`: serve until Ctrl-C, after printing how to point snapctl at it.
pub(super) async fn serve(a: &crate::commands::cli::EmulatorArgs) -> Result<()> {
    if !a.listen.ip().is_loopback() {
        if !a.allow_remote {
            return Err(Error::Refused {
                reason: format!(
                    "refusing to serve the emulator on {}: it is not a loopback address, and the emulator accepts public demo credentials",
                    a.listen
                ),
                hint: Some(
                    "listen on 127.0.0.1 (the default) or [::1]; pass --allow-remote to expose it deliberately".into(),
                ),
            });
        }
        eprintln!(
            "warning: the emulator listens on {}, reachable from other hosts, with public demo credentials",
            a.listen
        );
    }
    crate::interrupt::set_notice("stopping the emulator");
    let emu = crate::emulator::start(crate::emulator::EmulatorConfig {
        listen: a.listen,
        delay: a.delay,
        fail_rate: a.fail_rate.clamp(0.0, 1.0),
        latency: a.latency,
        throttle: a.throttle,
        seed: a.seed,
        bulk: a.bulk,
        volumes: a.volumes,
        record: a.record.clone(),
    })
    .await
    .map_err(|source| Error::Io {
        action: format!("cannot listen on {}", a.listen),
        source,
    })?;
    let mut text = format!(
        "# snapctl emulator on {} (Ctrl-C to stop); paste these lines into a shell:\n",
        emu.base()
    );
    for (k, v) in emu.env() {
        text.push_str(&format!("export {k}={v}\n"));
    }
    text.push_str(&format!(
        "# then: snapctl -p ovh-efs --service {} volume list\n#       snapctl -p ovh-nasha --service {} volume list\n#       snapctl -p outscale volume list\n#       snapctl -p powervc volume list\n",
        crate::emulator::EFS_SERVICE,
        crate::emulator::NASHA_SERVICE
    ));
    crate::output::write_stdout(text.as_bytes())?;
    while !crate::interrupt::requested() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// `emulator …`
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on (loopback only unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Allow a non-loopback --listen address: the emulator accepts public demo credentials and
    /// serves an unauthenticated clock, so anyone who can reach it can use it.
    #[arg(long)]
    pub allow_remote: bool,
    /// How long transitions take (creating → available, tasks, clones).
    #[arg(long, value_parser = duration, allow_hyphen_values = true, default_value = "300ms", value_name = "DURATION")]
    pub delay: Duration,
    /// Share of requests answered with a server error (0.0-1.0).
    #[arg(long, default_value = "0", value_parser = fraction, allow_negative_numbers = true)]
    pub fail_rate: f64,
    /// Added to every answer.
    #[arg(long, value_parser = duration, allow_hyphen_values = true, default_value = "0s", value_name = "DURATION")]
    pub latency: Duration,
    /// Requests per second before answering 429 (413 on PowerVC) with Retry-After.
    #[arg(long, value_name = "N", value_parser = positive::<u32>, allow_negative_numbers = true)]
    pub throttle: Option<u32>,
    /// Seed N extra `snapctl-<time>` snapshots (hourly, going back from now) on the first EFS share,
    /// OUTSCALE volume and PowerVC volume, for benchmarks.
    #[arg(long, value_name = "N", default_value = "0", value_parser = count::<usize>, allow_negative_numbers = true)]
    pub bulk: usize,
    /// Seed N extra volumes per provider (`fleet-0001`…, tagged `fleet=yes` on OUTSCALE and
    /// PowerVC), for fleet-mode scale tests.
    #[arg(long, value_name = "N", default_value = "0", value_parser = count::<usize>, allow_negative_numbers = true)]
    pub volumes: usize,
    /// Seed for fault injection and generated ids.
    #[arg(long, default_value = "1", value_parser = count::<u64>, allow_negative_numbers = true)]
    pub seed: u64,
    /// Append every answer of the emulated APIs to FILE, one JSON object a line
    /// ({"method","path","status","body"}), to check them against the providers' specs.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}
