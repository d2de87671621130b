//! Properties of the retention planner over random snapshot sets and policies.

use std::collections::HashSet;

use jiff::Timestamp;
use proptest::prelude::*;
use snapctl::engine::retention::{CalendarSpan, Policy, candidates, plan};
use snapctl::model::{Snapshot, SnapshotKind, SnapshotState};
use snapctl::provider::ProviderKind;

const NOW: i64 = 1_800_000_000;

fn arb_snapshot() -> impl Strategy<Value = Snapshot> {
    (
        0u32..5000,
        // Up to a year and a half before NOW, a few in the future.
        -3_600i64..(540 * 86_400),
        prop_oneof![
            8 => Just(SnapshotKind::Manual),
            1 => Just(SnapshotKind::Automatic),
            1 => Just(SnapshotKind::System),
        ],
        prop_oneof![
            8 => Just(SnapshotState::Available),
            1 => Just(SnapshotState::Creating),
            1 => Just(SnapshotState::Deleting),
            1 => Just(SnapshotState::Error),
        ],
        prop::bool::weighted(0.9),
    )
        .prop_map(|(id, age, kind, state, ours)| Snapshot {
            provider: ProviderKind::OvhEfs,
            id: format!("s{id}"),
            volume_id: Some("v".into()),
            name: Some(if ours {
                format!("snapctl-{id}")
            } else {
                format!("manual-{id}")
            }),
            description: None,
            state,
            provider_state: None,
            kind,
            created_at: Some(Timestamp::from_second(NOW - age).expect("in range")),
            size_gib: None,
            expires_at: None,
        })
}

fn arb_snapshots() -> impl Strategy<Value = Vec<Snapshot>> {
    prop::collection::vec(arb_snapshot(), 0..120).prop_map(|mut v| {
        let mut seen = HashSet::new();
        v.retain(|s| seen.insert(s.id.clone()));
        v
    })
}

fn arb_count() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![2 => Just(None), 3 => (1usize..12).prop_map(Some)]
}

fn arb_policy() -> impl Strategy<Value = Policy> {
    (
        arb_count(),
        arb_count(),
        arb_count(),
        arb_count(),
        arb_count(),
        arb_count(),
        prop_oneof![3 => Just(None), 1 => (1i32..60).prop_map(|d| Some(CalendarSpan { days: d, ..CalendarSpan::default() }))],
    )
        .prop_map(|(l, h, d, w, m, y, within)| Policy {
            keep_last: l,
            keep_hourly: h,
            keep_daily: d,
            keep_weekly: w,
            keep_monthly: m,
            keep_yearly: y,
            keep_within: within,
            ..Policy::default()
        })
}

fn now() -> Timestamp {
    Timestamp::from_second(NOW).expect("in range")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_deletes_a_non_candidate_or_an_unsettled_one(snaps in arb_snapshots(), policy in arb_policy()) {
        let cands = candidates(&snaps, "snapctl-");
        let p = plan(&cands, &policy, now());
        for d in &p.delete {
            prop_assert_eq!(d.kind, SnapshotKind::Manual);
            prop_assert!(d.name.as_deref().unwrap_or("").starts_with("snapctl-"));
            prop_assert_eq!(d.state, SnapshotState::Available);
            prop_assert!(d.created_at.expect("has time") <= now());
        }
    }

    #[test]
    fn never_deletes_the_newest(snaps in arb_snapshots(), policy in arb_policy()) {
        let cands = candidates(&snaps, "snapctl-");
        let p = plan(&cands, &policy, now());
        let newest = cands
            .iter()
            .filter(|s| s.state == SnapshotState::Available && s.created_at.expect("t") <= now())
            .max_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        if let Some(n) = newest {
            prop_assert!(!p.delete.iter().any(|d| d.id == n.id));
        }
    }

    #[test]
    fn keep_and_delete_partition_the_candidates(snaps in arb_snapshots(), policy in arb_policy()) {
        let cands = candidates(&snaps, "snapctl-");
        let p = plan(&cands, &policy, now());
        let keep: HashSet<&str> = p.keep.iter().map(|k| k.entry.id.as_str()).collect();
        let delete: HashSet<&str> = p.delete.iter().map(|d| d.id.as_str()).collect();
        let all: HashSet<&str> = cands.iter().map(|c| c.id.as_str()).collect();
        prop_assert!(keep.is_disjoint(&delete));
        prop_assert_eq!(keep.union(&delete).copied().collect::<HashSet<_>>(), all);
        prop_assert_eq!(p.keep.len() + p.delete.len(), cands.len());
        for k in &p.keep {
            prop_assert!(!k.reasons.is_empty());
        }
    }

    #[test]
    fn a_second_plan_over_the_kept_set_deletes_nothing(snaps in arb_snapshots(), policy in arb_policy()) {
        let cands = candidates(&snaps, "snapctl-");
        let p = plan(&cands, &policy, now());
        let kept: HashSet<&str> = p.keep.iter().map(|k| k.entry.id.as_str()).collect();
        let remaining: Vec<Snapshot> = cands.iter().filter(|c| kept.contains(c.id.as_str())).cloned().collect();
        let again = plan(&remaining, &policy, now());
        prop_assert!(again.delete.is_empty(), "second pass deletes {:?}", again.delete.iter().map(|d| &d.id).collect::<Vec<_>>());
    }

    #[test]
    fn adding_a_keep_rule_never_deletes_more(snaps in arb_snapshots(), policy in arb_policy(), extra in 0usize..7, n in 1usize..10) {
        let cands = candidates(&snaps, "snapctl-");
        let before = plan(&cands, &policy, now());
        let mut wider = policy.clone();
        match extra {
            0 => wider.keep_last = Some(wider.keep_last.unwrap_or(0) + n),
            1 => wider.keep_hourly = Some(wider.keep_hourly.unwrap_or(0) + n),
            2 => wider.keep_daily = Some(wider.keep_daily.unwrap_or(0) + n),
            3 => wider.keep_weekly = Some(wider.keep_weekly.unwrap_or(0) + n),
            4 => wider.keep_monthly = Some(wider.keep_monthly.unwrap_or(0) + n),
            5 => wider.keep_yearly = Some(wider.keep_yearly.unwrap_or(0) + n),
            _ => {
                let mut span = wider.keep_within.unwrap_or_default();
                span.days += n as i32;
                wider.keep_within = Some(span);
            }
        }
        let after = plan(&cands, &wider, now());
        let before_del: HashSet<&str> = before.delete.iter().map(|d| d.id.as_str()).collect();
        for d in &after.delete {
            prop_assert!(before_del.contains(d.id.as_str()), "{} newly deleted", d.id);
        }
    }
}
