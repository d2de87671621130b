//! Benchmark: planning a rotation over 100,000 snapshots (`cargo bench --bench plan`).
//!
//! Prints wall time per plan; under `cargo test --all-targets` (no `--bench` argument) it runs one
//! small round only, so the suite stays fast.

use std::hint::black_box;
use std::time::Instant;

use jiff::Timestamp;
use snapctl::engine::retention::{Policy, candidates, plan};
use snapctl::model::{Snapshot, SnapshotKind, SnapshotState};
use snapctl::provider::ProviderKind;

fn snapshots(n: usize) -> Vec<Snapshot> {
    let newest = 1_800_000_000i64;
    (0..n)
        .map(|i| Snapshot {
            provider: ProviderKind::OvhEfs,
            id: format!("snap-{i:08}"),
            volume_id: Some("vol".into()),
            name: Some(format!("snapctl-{i:08}")),
            description: None,
            state: SnapshotState::Available,
            provider_state: Some("available".into()),
            kind: SnapshotKind::Manual,
            // One every 10 minutes, going back about two years for 100k.
            created_at: Some(Timestamp::from_second(newest - 600 * i as i64).expect("in range")),
            size_gib: None,
            expires_at: None,
        })
        .collect()
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let (n, rounds) = if benching { (100_000, 10) } else { (1_000, 1) };
    let snaps = snapshots(n);
    let policy = Policy {
        keep_last: Some(24),
        keep_hourly: Some(48),
        keep_daily: Some(14),
        keep_weekly: Some(8),
        keep_monthly: Some(12),
        keep_yearly: Some(5),
        keep_within: Some(snapctl::engine::retention::CalendarSpan {
            days: 2,
            ..Default::default()
        }),
        ..Policy::default()
    };
    let now = Timestamp::from_second(1_800_000_600).expect("in range");
    let mut times = Vec::with_capacity(rounds);
    let mut kept = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        let cands = candidates(black_box(&snaps), "snapctl-");
        let p = plan(black_box(&cands), &policy, now);
        times.push(started.elapsed());
        kept = p.keep.len();
    }
    times.sort();
    println!(
        "plan over {n} snapshots: median {:.1} ms, min {:.1} ms, max {:.1} ms ({rounds} rounds, {kept} kept)",
        times[rounds / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[rounds - 1].as_secs_f64() * 1e3,
    );
}
