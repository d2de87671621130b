//! The docs cannot drift from the code: every `console` block of the README and of `docs/` runs
//! here against a fresh emulator (one per file, so files never see each other's changes), its
//! output checked by trycmd (`[..]` stands for what changes from run to run: times, new ids).
//! `sh` and `text` blocks are shown, not run. `TRYCMD=overwrite cargo test --test it docs::`
//! rewrites the expected output after a deliberate change.

use std::time::Duration;

use snapctl::emulator::{self, EmulatorConfig};

/// The files whose `console` blocks run: the README and every page of `docs/`.
fn files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 9, "docs/ lost pages: {docs:?}");
    files.extend(docs);
    files
}

#[test]
fn every_console_example_runs_against_the_emulator() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in files(root) {
        let home = tempfile::tempdir().expect("temp dir");
        // The emulator serves from its own runtime while trycmd runs the binary, blocking.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let emu = rt
            .block_on(emulator::start(EmulatorConfig {
                delay: Duration::from_millis(20),
                ..EmulatorConfig::default()
            }))
            .expect("emulator starts");
        let cases = trycmd::TestCases::new();
        cases
            .register_bin(
                "snapctl",
                std::path::Path::new(env!("CARGO_BIN_EXE_snapctl")),
            )
            .env("HOME", home.path().display().to_string())
            .env(
                "XDG_CONFIG_HOME",
                home.path().join("config").display().to_string(),
            )
            .env(
                "SNAPCTL_LOCK_DIR",
                home.path().join("locks").display().to_string(),
            )
            .env("SNAPCTL_MAX_RPS", "0")
            .env("NO_COLOR", "1");
        for (k, v) in emu.env() {
            cases.env(k, v);
        }
        cases.case(&file).run();
        drop(emu);
    }
}
