//! The engine's rules, tested in-process over the memory cloud: milliseconds, no wire.

use std::time::Duration;

use super::rules::Hooks;
use super::*;
use crate::engine::retention::Policy;
use crate::model::CreateSnapshot;
use crate::providers::memory::Memory;
use crate::rotation::rotate::RotateRules;
use crate::wait::WaitOptions;

/// `rotate`'s rules with hooks of a test's choosing.
struct Hooked {
    inner: RotateRules,
    pre: Option<String>,
    post: Option<String>,
}

impl Rules for Hooked {
    fn id(&self) -> &str {
        "test"
    }
    fn request(&self, kind: ProviderKind, unit: &Unit) -> CreateSnapshot {
        self.inner.request(kind, unit)
    }
    fn replan(&self, k: ProviderKind, u: &Unit, l: Vec<Snapshot>, now: Timestamp) -> Unit {
        self.inner.replan(k, u, l, now)
    }
    fn floor(&self) -> usize {
        self.inner.floor()
    }
    fn hooks(&self) -> Hooks<'_> {
        Hooks {
            pre: self.pre.as_deref(),
            post: self.post.as_deref(),
            pass: &[],
            timeout: Duration::from_secs(10),
        }
    }
    fn plans_after_create(&self) -> bool {
        self.inner.plans_after_create()
    }
    fn reports_snapshot(&self) -> bool {
        self.inner.reports_snapshot()
    }
}

fn keep_last(n: usize) -> Policy {
    Policy {
        keep_last: Some(n),
        ..Policy::default()
    }
}

fn hooked(confirm: bool, pre: Option<&str>, post: Option<&str>) -> Arc<dyn Rules> {
    Arc::new(Hooked {
        inner: RotateRules::new("snapctl-", keep_last(2), confirm),
        pre: pre.map(str::to_string),
        post: post.map(str::to_string),
    })
}

/// A memory cloud whose volumes each hold three old `snapctl-` snapshots, a day apart.
fn cloud(volumes: &[&str]) -> Arc<Memory> {
    let m = Memory::new(volumes);
    let now = Timestamp::now();
    for v in volumes {
        for d in [3, 2, 1] {
            let at = now - jiff::SignedDuration::from_hours(24 * d);
            m.add(v, &format!("snapctl-old{d}"), None, at);
        }
    }
    Arc::new(m)
}

struct Run {
    dir: tempfile::TempDir,
    listed_at: Timestamp,
    verdict: Verdict,
    confirm: bool,
}

impl Run {
    fn new(confirm: bool) -> Run {
        Run {
            dir: tempfile::tempdir().expect("tempdir"),
            listed_at: Timestamp::now(),
            verdict: Verdict::Known(None),
            confirm,
        }
    }

    /// Plan every volume of `m` with `rules` (as `rotate` does), then carry the plan out.
    async fn go(
        &self,
        m: &Arc<Memory>,
        rules: &Arc<dyn Rules>,
        edit: impl Fn(&mut Unit),
    ) -> Vec<UnitRun> {
        let volumes: Vec<String> = m
            .list_volumes()
            .await
            .expect("volumes")
            .into_iter()
            .map(|v| v.id)
            .collect();
        let lists = m.list_snapshots_of(&volumes).await;
        let now = Timestamp::now();
        let work: Vec<Work> = volumes
            .iter()
            .zip(lists)
            .enumerate()
            .map(|(j, (v, l))| {
                let mut unit = rules.replan(
                    ProviderKind::OvhEfs,
                    &Unit {
                        create: Some("due".into()),
                        ..Unit::empty(v, None)
                    },
                    l.expect("listing"),
                    now,
                );
                edit(&mut unit);
                Work {
                    slot: (0, j),
                    rules: rules.clone(),
                    unit,
                }
            })
            .collect();
        m.state.lock().expect("state").log.clear();
        let opts = Options {
            wait: WaitOptions::new(Duration::from_secs(5), Duration::from_millis(1), true),
            confirm: self.confirm,
            lock_dir: self.dir.path().to_path_buf(),
            lock_wait: Duration::ZERO,
            listed_at: self.listed_at,
        };
        let mut out = carry_out(
            Target::new(m.clone(), 4),
            work,
            Arc::new(opts),
            self.verdict.clone(),
            Arc::new(Semaphore::new(64)),
            now,
        )
        .await;
        out.sort_by_key(|(slot, _)| *slot);
        out.into_iter().map(|(_, r)| r).collect()
    }
}

fn at(log: &[String], prefix: &str) -> Option<usize> {
    log.iter().position(|l| l.starts_with(prefix))
}

#[tokio::test]
async fn a_create_is_confirmed_before_any_deletion_and_the_plan_is_carried_out() {
    let m = cloud(&["v1"]);
    m.state.lock().expect("state").settle_after = 2;
    let runs = Run::new(true)
        .go(&m, &hooked(true, None, None), |_| {})
        .await;
    let log = m.log();
    let create = at(&log, "create v1").expect("a create");
    let delete = at(&log, "delete").expect("a deletion");
    // Looked at (listed) until usable, after the create and before the first deletion.
    assert!(
        log[create..delete]
            .iter()
            .filter(|l| *l == "list v1")
            .count()
            >= 3,
        "{log:?}"
    );
    // keep-last 2: the new snapshot and the newest old one stay.
    let r = &runs[0];
    assert_eq!(r.status, UnitStatus::Ok, "{:?}", r.failures);
    let deleted: Vec<&str> = r
        .deleted
        .iter()
        .map(|e| e.name.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(deleted, ["snapctl-old2", "snapctl-old3"]);
    assert_eq!(m.ids("v1").len(), 2);
    assert_eq!(
        r.snapshot.as_ref().map(|s| s.state),
        Some(SnapshotState::Available)
    );
}

#[tokio::test]
async fn without_confirm_nothing_is_waited_for_and_no_deletion_counts_on_the_new_one() {
    let m = cloud(&["v1"]);
    m.state.lock().expect("state").settle_after = 100;
    let runs = Run::new(false)
        .go(&m, &hooked(false, None, None), |_| {})
        .await;
    let log = m.log();
    assert!(
        !log.iter()
            .any(|l| l.starts_with("poll") || l.starts_with("get")),
        "{log:?}"
    );
    // The new one is still being made: keep-last 2 keeps the two newest old ones.
    let deleted: Vec<&str> = runs[0]
        .deleted
        .iter()
        .map(|e| e.name.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(deleted, ["snapctl-old3"]);
}

#[tokio::test]
async fn a_refused_create_deletes_nothing_of_its_volume_and_the_others_go_on() {
    let m = cloud(&["v1", "v2"]);
    m.state
        .lock()
        .expect("state")
        .refuse_create
        .insert("v1".into());
    let runs = Run::new(true)
        .go(&m, &hooked(true, None, None), |_| {})
        .await;
    assert_eq!(runs[0].status, UnitStatus::Failed);
    assert_eq!(runs[0].failures[0].op, "create");
    assert!(runs[0].deleted.is_empty());
    assert_eq!(m.ids("v1").len(), 3);
    assert_eq!(runs[1].status, UnitStatus::Ok);
    assert_eq!(runs[1].deleted.len(), 2);
}

#[tokio::test]
async fn the_gate_stops_a_plan_that_deletes_the_newest_whatever_made_it() {
    let m = cloud(&["v1"]);
    let runs = Run::new(true)
        .go(&m, &hooked(true, None, None), |u| {
            // A plan gone wrong: no create, and every old snapshot deleted.
            u.create = None;
            for k in std::mem::take(&mut u.keep) {
                u.delete.push(crate::engine::unit::Doomed {
                    entry: k.entry,
                    reason: "a bug".into(),
                });
            }
        })
        .await;
    assert!(
        !m.log().iter().any(|l| l.starts_with("delete")),
        "{:?}",
        m.log()
    );
    assert_eq!(runs[0].failures[0].op, "delete");
    assert!(runs[0].failures[0].error.contains("nothing deleted"));
    assert_eq!(m.ids("v1").len(), 3);
}

#[tokio::test]
async fn a_refused_verdict_holds_every_deletion_but_takes_the_due_snapshots() {
    let m = cloud(&["v1"]);
    let mut run = Run::new(true);
    run.verdict = Verdict::Known(Some("--max-delete 0 refused the deletions".into()));
    let runs = run.go(&m, &hooked(true, None, None), |_| {}).await;
    let log = m.log();
    assert!(at(&log, "create v1").is_some());
    assert!(at(&log, "delete").is_none(), "{log:?}");
    assert!(
        runs[0]
            .kept
            .iter()
            .any(|k| k.reasons[0].contains("--max-delete 0"))
    );
    assert_eq!(m.ids("v1").len(), 4);
}

#[tokio::test]
async fn a_held_lock_changes_nothing_and_says_who_holds_it() {
    let m = cloud(&["v1"]);
    let run = Run::new(true);
    let held = crate::lock::acquire(run.dir.path(), "ovh-efs", "memory", "v1", Duration::ZERO)
        .expect("lock");
    let runs = run.go(&m, &hooked(true, None, None), |_| {}).await;
    drop(held);
    assert_eq!(runs[0].failures[0].op, "lock");
    assert!(matches!(
        runs[0].failures[0].cause.as_deref(),
        Some(Error::Locked { .. })
    ));
    assert!(m.log().is_empty(), "{:?}", m.log());
}

#[tokio::test]
async fn a_volume_another_run_changed_since_the_listing_is_listed_again_under_its_lock() {
    let m = cloud(&["v1"]);
    let mut run = Run::new(true);
    run.listed_at = Timestamp::now() - jiff::SignedDuration::from_secs(60);
    // Another run changed the volume after this run's listing: it took a snapshot.
    m.add("v1", "snapctl-other", None, Timestamp::now());
    let mut other = crate::lock::acquire(run.dir.path(), "ovh-efs", "memory", "v1", Duration::ZERO)
        .expect("lock");
    other.mark_changed();
    drop(other);
    let runs = run
        .go(&m, &hooked(true, None, None), |u| {
            // This run's plan was made before that snapshot existed: it deletes nothing.
            for d in std::mem::take(&mut u.delete) {
                u.keep.push(Kept {
                    entry: d.entry,
                    reasons: vec!["planned earlier".into()],
                });
            }
        })
        .await;
    let log = m.log();
    // Listed again before anything was changed.
    assert_eq!(log.first().map(String::as_str), Some("list v1"), "{log:?}");
    assert!(at(&log, "create v1").is_some());
    // Only the deletions both plans agree on go: none.
    assert!(at(&log, "delete").is_none(), "{log:?}");
    assert_eq!(runs[0].status, UnitStatus::Ok);
}

#[tokio::test]
async fn a_failed_pre_hook_takes_nothing_and_post_follows_every_pre_that_ran() {
    let m = cloud(&["v1"]);
    let runs = Run::new(true)
        .go(&m, &hooked(true, Some("exit 3"), Some("true")), |_| {})
        .await;
    assert_eq!(runs[0].failures[0].op, "pre");
    assert!(m.log().is_empty(), "{:?}", m.log());
    // A create that fails after its pre-hook ran: post runs all the same.
    let dir = tempfile::tempdir().expect("tempdir");
    let mark = dir.path().join("post-ran");
    let post = format!("touch '{}'", mark.display());
    m.state
        .lock()
        .expect("state")
        .refuse_create
        .insert("v1".into());
    let runs = Run::new(true)
        .go(&m, &hooked(true, Some("true"), Some(&post)), |_| {})
        .await;
    assert_eq!(runs[0].failures[0].op, "create");
    assert!(mark.exists(), "post did not run after a failed create");
    assert!(at(&m.log(), "delete").is_none());
}
