//! `snapctl emulator`: serve the local emulator until Ctrl-C.

use super::*;

/// `snapctl emulator`: serve until Ctrl-C, after printing how to point snapctl at it.
pub(super) async fn serve(a: &crate::cli::EmulatorArgs) -> Result<()> {
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
