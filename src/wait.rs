//! Polling an [`Operation`] to a terminal state: the loop, the deadline and the progress display for
//! every provider.
//!
//! Providers answer one poll step ([`Provider::poll`]); this module decides when to ask again and when
//! to give up. The spinner goes to stderr only when stderr is a terminal and `-q` is not set, so
//! scripts and cron see nothing but the result.

use std::future::Future;
use std::io::IsTerminal;
use std::time::Duration;

use tokio::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Error, Result};
use crate::model::{Operation, Progress, Until};
use crate::provider::Provider;

/// How to wait.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    /// Give up after this long (exit 7).
    pub timeout: Duration,
    /// The longest pause between polls (`--poll-interval`): pauses start short and grow to it.
    pub interval: Duration,
    /// Draw a spinner on stderr.
    pub show_progress: bool,
}

impl WaitOptions {
    /// Progress is shown when stderr is a terminal and the user did not ask for quiet.
    pub fn new(timeout: Duration, interval: Duration, quiet: bool) -> Self {
        WaitOptions {
            timeout,
            interval,
            show_progress: !quiet && std::io::stderr().is_terminal(),
        }
    }
}

/// Poll `op` until it is done, failed, or the deadline passes.
pub async fn wait_for(provider: &dyn Provider, op: &Operation, opts: &WaitOptions) -> Result<()> {
    if *op == Operation::Done {
        return Ok(());
    }
    poll_until(&op.describe(), opts, || provider.poll(op)).await
}

/// The shortest pause between polls.
pub const FIRST_PAUSE: Duration = Duration::from_millis(25);

/// How long to pause before the next poll, `elapsed` after the wait began: a quarter of the time
/// waited so far, at least [`FIRST_PAUSE`], at most `cap`. The pauses grow geometrically (each
/// poll comes 1.25× as late as the one before), so a transition of T is seen by about 1.25 T plus
/// one round trip, and a long wait settles at one poll per `cap`: a 300 ms snapshot is seen after
/// ~0.4 s, not after a full 5 s interval, and a 5-minute one costs ~80 polls instead of 60.
pub fn pause_after(elapsed: Duration, cap: Duration) -> Duration {
    (elapsed / 4).max(FIRST_PAUSE).min(cap)
}

/// When a timed wait saw its operation, each since the wait began: the last poll that found it
/// not done yet (`None`: the first poll found it done) and the poll that found it done. The
/// transition happened between the two.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seen {
    /// The last poll that found it pending.
    pub pending: Option<Duration>,
    /// The poll that found it done.
    pub done: Duration,
}

/// How long to pause when the operation is expected to end `expected` after the wait began:
/// [`pause_after`] until half of it, never sleeping past that point; from there, one poll per
/// fiftieth of `expected` (at least [`FIRST_PAUSE`]), so an end anywhere from half to twice the
/// expectation is seen within 2 % of the expectation (a restore faster than the last one too,
/// whose time is then not read off a coarse gap); from twice `expected` on, [`pause_after`]
/// again (a slow operation is not polled hard for long).
pub fn pause_expecting(elapsed: Duration, cap: Duration, expected: Duration) -> Duration {
    let fine = (expected / 50).max(FIRST_PAUSE);
    let coarse = pause_after(elapsed, cap);
    if elapsed >= expected * 2 {
        return coarse;
    }
    match (expected / 2).checked_sub(elapsed) {
        Some(ahead) if ahead > fine => coarse.min(ahead),
        _ => fine.min(cap.max(FIRST_PAUSE)),
    }
}

/// [`wait_for`], timed: polls paced by [`pause_expecting`] when the operation's length is
/// expected (a volume's last restore, or the longest it may take), else by [`pause_after`]; what
/// was seen when ([`Seen`]).
pub async fn wait_timed(
    provider: &dyn Provider,
    op: &Operation,
    opts: &WaitOptions,
    expected: Option<Duration>,
) -> Result<Seen> {
    if *op == Operation::Done {
        return Ok(Seen {
            pending: None,
            done: Duration::ZERO,
        });
    }
    let pace = |elapsed: Duration| match expected {
        Some(e) if !e.is_zero() => pause_expecting(elapsed, opts.interval, e),
        _ => pause_after(elapsed, opts.interval),
    };
    poll_paced(&op.describe(), opts, &pace, || provider.poll(op)).await
}

/// The one polling loop: call `step` until it answers done or failed, the deadline passes, or an
/// interrupt arrives, pausing [`pause_after`] between calls (on tokio's clock, so tests can pause
/// time). `what` names the awaited thing in progress and errors.
pub async fn poll_until<F, Fut>(what: &str, opts: &WaitOptions, step: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Progress>>,
{
    let pace = |elapsed| pause_after(elapsed, opts.interval);
    poll_paced(what, opts, &pace, step).await.map(|_| ())
}

/// [`poll_until`] with the pauses `pace` gives (from the time waited so far), saying when the
/// operation was last seen pending and when it was seen done.
async fn poll_paced<F, Fut>(
    what: &str,
    opts: &WaitOptions,
    pace: &(dyn Fn(Duration) -> Duration + Sync),
    mut step: F,
) -> Result<Seen>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Progress>>,
{
    let what = what.to_string();
    let started = Instant::now();
    let mut pending_at: Option<Duration> = None;
    let bar = opts.show_progress.then(|| spinner(&what));
    let mut last_state = String::from("unknown");
    let result = loop {
        if crate::interrupt::requested() {
            break Err(Error::Interrupted {
                done: format!(
                    "stopped waiting for {what} (last state: {last_state}); it goes on server-side"
                ),
            });
        }
        let asked = started.elapsed();
        match step().await {
            Ok(Progress::Done) => {
                break Ok(Seen {
                    pending: pending_at,
                    done: started.elapsed(),
                });
            }
            Ok(Progress::Failed { state, message }) => {
                break Err(Error::OperationFailed {
                    what: what.clone(),
                    state,
                    message,
                });
            }
            Ok(Progress::Pending { state, percent }) => {
                if let Some(bar) = &bar {
                    bar.set_message(crate::text::one_line(
                        &format!("waiting for {what}: {state}"),
                        200,
                    ));
                    if let Some(p) = percent {
                        // The API reports progress: show a real percentage bar from now on.
                        if bar.length() != Some(100) {
                            bar.set_length(100);
                            bar.set_style(
                                ProgressStyle::with_template(
                                    "{spinner} {msg} [{bar:30}] {pos:>3}% [{elapsed}]",
                                )
                                .expect("static template is valid")
                                .progress_chars("=> "),
                            );
                        }
                        bar.set_position(u64::from(p.min(100)));
                    }
                }
                // Pending when the request was answered: still pending when it was sent.
                pending_at = Some(asked);
                last_state = state;
            }
            Err(e) => break Err(e),
        }
        if crate::interrupt::requested() {
            break Err(Error::Interrupted {
                done: format!(
                    "stopped waiting for {what} (last state: {last_state}); it goes on server-side"
                ),
            });
        }
        let elapsed = started.elapsed();
        if elapsed >= opts.timeout {
            break Err(Error::Timeout {
                what: what.clone(),
                after: opts.timeout,
                last_state,
            });
        }
        // An interrupt ends the pause at once; the next check reports it.
        tokio::select! {
            () = tokio::time::sleep(pace(elapsed).min(opts.timeout - elapsed)) => {}
            () = crate::interrupt::arrived() => {}
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    result
}

/// Wait for a snapshot to be ready and return it as the last poll saw it, so the command prints
/// it without reading it once more (one round trip less per `create --wait`). Operations other
/// than a snapshot becoming ready are waited for as usual, and `None` comes back.
pub async fn wait_for_snapshot(
    provider: &dyn Provider,
    op: &Operation,
    opts: &WaitOptions,
) -> Result<Option<crate::model::Snapshot>> {
    let Operation::Snapshot {
        volume,
        id,
        until: Until::Ready,
    } = op
    else {
        wait_for(provider, op, opts).await?;
        return Ok(None);
    };
    let seen = std::sync::Mutex::new(None);
    let seen_ref = &seen;
    poll_until(&op.describe(), opts, move || async move {
        let s = provider.get_snapshot(volume.as_deref(), id).await?;
        let progress = Progress::of_snapshot(s.state, s.provider_state.clone(), Until::Ready, None);
        *seen_ref.lock().expect("last snapshot") = Some(s);
        Ok(progress)
    })
    .await?;
    Ok(seen.into_inner().expect("last snapshot"))
}

/// One operation of a batch, with the volume it belongs to when the caller knows it (a rotation
/// knows every snapshot's volume even where the API's delete answer does not say).
#[derive(Debug, Clone)]
pub struct Awaited {
    /// The snapshot's volume.
    pub volume: Option<String>,
    /// What to wait for.
    pub op: Operation,
}

/// Polls of a batch's items that cannot be confirmed by a listing, in flight at once.
const ONE_BY_ONE_AT_ONCE: usize = 8;

/// Wait for every operation of a batch, and say item by item how each ended (one result per item,
/// in order; one failure never hides the others). Snapshots whose volume is known (deletions and
/// new snapshots) are confirmed in bulk: each poll lists the volumes' snapshots
/// ([`Provider::list_snapshots_of`]: one call for all of them on OUTSCALE and PowerVC, one per
/// volume elsewhere), which settles every pending one at once, instead of one poll loop per
/// snapshot. Other operations (tasks) are polled one by one, several at once, in the same ticks. Pauses follow [`pause_after`]; the deadline and interrupts end the wait for
/// every item still pending.
pub async fn wait_for_all(
    provider: &dyn Provider,
    items: &[Awaited],
    opts: &WaitOptions,
) -> Vec<Result<()>> {
    wait_for_all_seen(provider, items, opts, &|_| false).await.0
}

/// [`wait_for_all`], also answering, for each item `keep` asks for that a listing of its volume
/// settled, that listing (what the volume held when the item was confirmed): a run that plans
/// from what the cloud shows after its create needs no second listing. Other items' listings are
/// not kept.
pub async fn wait_for_all_seen(
    provider: &dyn Provider,
    items: &[Awaited],
    opts: &WaitOptions,
    keep: &(dyn Fn(usize) -> bool + Sync),
) -> (Vec<Result<()>>, Vec<Option<Vec<crate::model::Snapshot>>>) {
    let mut t = Tally::new(items.len(), opts.show_progress);
    let started = Instant::now();
    // Volumes whose list failed once: their items are polled one by one from then on.
    let mut unlistable = std::collections::BTreeSet::new();
    loop {
        // After an interrupt nothing more is asked: every pending item is reported below.
        if !crate::interrupt::requested() {
            let (by_volume, mut one_by_one) = t.sort(items, &unlistable);
            // Every volume's list at once: one call where the API filters by many volumes.
            let volumes: Vec<String> = by_volume.keys().cloned().collect();
            let lists = provider.list_snapshots_of(&volumes).await;
            for ((volume, idxs), listed) in by_volume.into_iter().zip(lists) {
                match listed {
                    Ok(list) => t.read_list(items, &idxs, &list, keep),
                    // The list failed: ask about each one, so each gets its own answer.
                    Err(_) => {
                        unlistable.insert(volume);
                        one_by_one.extend(idxs);
                    }
                }
            }
            t.poll_each(provider, items, one_by_one).await;
        }
        if t.results.iter().all(Option::is_some) {
            break;
        }
        let elapsed = started.elapsed();
        let interrupted = crate::interrupt::requested();
        if interrupted || elapsed >= opts.timeout {
            t.give_up(items, interrupted, opts.timeout);
            break;
        }
        // An interrupt ends the pause at once; the next check reports it.
        tokio::select! {
            () = tokio::time::sleep(pause_after(elapsed, opts.interval).min(opts.timeout - elapsed)) => {}
            () = crate::interrupt::arrived() => {}
        }
    }
    t.finish()
}

/// What [`wait_for_all_seen`] knows of its items: each one's outcome once settled, the listing
/// kept for it, its last state, and the progress bar.
struct Tally {
    results: Vec<Option<Result<()>>>,
    seen: Vec<Option<Vec<crate::model::Snapshot>>>,
    last_state: Vec<String>,
    bar: Option<ProgressBar>,
}

impl Tally {
    fn new(n: usize, show_progress: bool) -> Tally {
        let bar = (show_progress && n > 0).then(|| {
            let bar = ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} {pos}/{len} [{elapsed}]")
                    .expect("static template is valid"),
            );
            bar.set_message("waiting:");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Tally {
            results: (0..n).map(|_| None).collect(),
            seen: (0..n).map(|_| None).collect(),
            last_state: vec!["unknown".into(); n],
            bar,
        }
    }

    /// Settle item `i` (once).
    fn settle(&mut self, i: usize, r: Result<()>) {
        if self.results[i].is_none() {
            self.results[i] = Some(r);
            if let Some(bar) = &self.bar {
                bar.inc(1);
            }
        }
    }

    /// The pending items: those a listing of their volume answers, by volume, and the others.
    /// Items already done settle here.
    fn sort(
        &mut self,
        items: &[Awaited],
        unlistable: &std::collections::BTreeSet<String>,
    ) -> (std::collections::BTreeMap<String, Vec<usize>>, Vec<usize>) {
        let mut by_volume: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
        let mut one_by_one = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if self.results[i].is_some() {
                continue;
            }
            match &item.op {
                Operation::Done => self.settle(i, Ok(())),
                Operation::Snapshot { volume, .. } => {
                    match item.volume.as_ref().or(volume.as_ref()) {
                        Some(v) if !unlistable.contains(v) => {
                            by_volume.entry(v.clone()).or_default().push(i)
                        }
                        _ => one_by_one.push(i),
                    }
                }
                _ => one_by_one.push(i),
            }
        }
        (by_volume, one_by_one)
    }

    /// Items `idxs` of one volume, as its listing shows them.
    fn read_list(
        &mut self,
        items: &[Awaited],
        idxs: &[usize],
        list: &[crate::model::Snapshot],
        keep: &(dyn Fn(usize) -> bool + Sync),
    ) {
        for &i in idxs {
            let Operation::Snapshot { id, until, .. } = &items[i].op else {
                continue;
            };
            let progress = match (list.iter().find(|s| &s.id == id), until) {
                (None, Until::Gone) => Progress::Done,
                // A new snapshot the list does not show yet.
                (None, _) => Progress::Pending {
                    state: "not listed yet".into(),
                    percent: None,
                },
                (Some(s), until) => {
                    Progress::of_snapshot(s.state, s.provider_state.clone(), *until, None)
                }
            };
            if let Some(r) = record(&items[i].op, progress, &mut self.last_state[i]) {
                if r.is_ok() && keep(i) {
                    self.seen[i] = Some(list.to_vec());
                }
                self.settle(i, r);
            }
        }
    }

    /// The rest, one poll each, several at once (the rate limiter paces them).
    async fn poll_each(&mut self, provider: &dyn Provider, items: &[Awaited], idxs: Vec<usize>) {
        use futures_util::StreamExt;
        let polled: Vec<(usize, Result<Progress>)> = futures_util::stream::iter(idxs)
            .map(|i| async move { (i, provider.poll(&items[i].op).await) })
            .buffered(ONE_BY_ONE_AT_ONCE)
            .collect()
            .await;
        for (i, polled) in polled {
            let outcome = match polled {
                Ok(progress) => record(&items[i].op, progress, &mut self.last_state[i]),
                Err(e) => Some(Err(e)),
            };
            if let Some(r) = outcome {
                self.settle(i, r);
            }
        }
    }

    /// Every pending item, stopped by an interrupt or the timeout, with its last state.
    fn give_up(&mut self, items: &[Awaited], interrupted: bool, timeout: Duration) {
        for (i, item) in items.iter().enumerate() {
            let what = item.op.describe();
            let state = self.last_state[i].clone();
            let e = if interrupted {
                Error::Interrupted {
                    done: format!(
                        "stopped waiting for {what} (last state: {state}); it goes on server-side"
                    ),
                }
            } else {
                Error::Timeout {
                    what,
                    after: timeout,
                    last_state: state,
                }
            };
            self.settle(i, Err(e));
        }
    }

    fn finish(self) -> (Vec<Result<()>>, Vec<Option<Vec<crate::model::Snapshot>>>) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        (
            self.results
                .into_iter()
                .map(|r| r.expect("every item is settled before the loop ends"))
                .collect(),
            self.seen,
        )
    }
}

/// What a poll answer means for one item: `Some` when it is settled.
fn record(op: &Operation, progress: Progress, last_state: &mut String) -> Option<Result<()>> {
    match progress {
        Progress::Done => Some(Ok(())),
        Progress::Failed { state, message } => Some(Err(Error::OperationFailed {
            what: op.describe(),
            state,
            message,
        })),
        Progress::Pending { state, .. } => {
            *last_state = state;
            None
        }
    }
}

fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
            .expect("static template is valid"),
    );
    bar.set_message(format!("waiting for {what}"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(timeout: u64, interval: u64) -> WaitOptions {
        WaitOptions {
            timeout: Duration::from_secs(timeout),
            interval: Duration::from_secs(interval),
            show_progress: false,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn polls_on_tokio_time_until_done() {
        let mut calls = 0;
        let started = Instant::now();
        poll_until("thing", &opts(60, 5), || {
            calls += 1;
            let n = calls;
            async move {
                Ok(if n < 4 {
                    Progress::Pending {
                        state: "creating".into(),
                        percent: None,
                    }
                } else {
                    Progress::Done
                })
            }
        })
        .await
        .expect("done");
        assert_eq!(calls, 4);
        // Three pauses of 25 ms (a quarter of the time waited is less until 100 ms): the first
        // polls come soon, not after a whole --poll-interval.
        assert_eq!(started.elapsed(), Duration::from_millis(75));
    }

    #[test]
    fn pauses_grow_geometrically_from_a_fraction_of_a_second_to_the_cap() {
        let cap = Duration::from_secs(5);
        assert_eq!(pause_after(Duration::ZERO, cap), FIRST_PAUSE);
        assert_eq!(
            pause_after(Duration::from_secs(2), cap),
            Duration::from_millis(500)
        );
        assert_eq!(pause_after(Duration::from_secs(60), cap), cap);
        // A whole 5-minute wait: the polls a fixed 5 s interval would make, plus the early ones.
        let (mut t, mut polls) = (Duration::ZERO, 0);
        while t < Duration::from_secs(300) {
            t += pause_after(t, cap);
            polls += 1;
        }
        assert!((60..=90).contains(&polls), "{polls} polls");
    }

    /// The first poll at or after `end` under `pace`, and how many polls it took.
    fn first_poll_after(end: Duration, pace: impl Fn(Duration) -> Duration) -> (Duration, u32) {
        let (mut t, mut polls) = (Duration::ZERO, 1);
        while t < end {
            t += pace(t);
            polls += 1;
        }
        (t, polls)
    }

    #[test]
    fn an_expected_end_is_seen_within_two_percent() {
        let cap = Duration::from_secs(5);
        let end = Duration::from_secs(20);
        // Paced for a quarter of the time waited, a 20 s end is seen seconds late.
        let (coarse, _) = first_poll_after(end, |t| pause_after(t, cap));
        assert!(coarse - end > Duration::from_secs(1), "{coarse:?}");
        // Expected at 20 s: seen within 2 % (0.4 s), in about 50 polls (25 of them one per
        // fiftieth over the expectation's second half).
        let (seen, polls) = first_poll_after(end, |t| pause_expecting(t, cap, end));
        assert!(seen - end <= end / 50, "{seen:?}");
        assert!(polls <= 55, "{polls} polls");
        // A restore a little slower than the last one: still seen within 2 % of the expectation.
        let later = Duration::from_secs(23);
        let (seen, _) = first_poll_after(later, |t| pause_expecting(t, cap, end));
        assert!(seen - later <= end / 50, "{seen:?}");
        // Faster than expected (a restore quicker than the last one, or than max_restore): seen
        // within 2 % of the expectation too, not read off a coarse gap.
        for faster in [11, 14, 17] {
            let faster = Duration::from_secs(faster);
            let (seen, _) = first_poll_after(faster, |t| pause_expecting(t, cap, end));
            assert!(seen - faster <= end / 50, "{faster:?}: {seen:?}");
        }
        // Far slower (past twice the expectation): polled as usual, not every 0.4 s for long.
        let (_, polls) =
            first_poll_after(Duration::from_secs(300), |t| pause_expecting(t, cap, end));
        // (75 of them one per 0.4 s from 10 to 40 s, the rest as a plain wait's.)
        assert!(polls < 170, "{polls} polls");
    }

    #[tokio::test(start_paused = true)]
    async fn a_timed_wait_says_when_it_last_saw_pending_and_when_done() {
        let start = Instant::now();
        let end = Duration::from_secs(20);
        let seen = poll_paced(
            "volume v to become available",
            &opts(60, 5),
            &|t| pause_expecting(t, Duration::from_secs(5), end),
            || async move {
                Ok(if start.elapsed() >= end {
                    Progress::Done
                } else {
                    Progress::Pending {
                        state: "creating".into(),
                        percent: None,
                    }
                })
            },
        )
        .await
        .expect("done");
        let pending = seen.pending.expect("seen pending");
        assert!(pending < end && end <= seen.done, "{seen:?}");
        assert!(seen.done - pending <= end / 50, "{seen:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline_with_the_last_state() {
        let err = poll_until("policy p1 to become available", &opts(12, 5), || async {
            Ok(Progress::Pending {
                state: "creating".into(),
                percent: None,
            })
        })
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "timed out after 12s waiting for policy p1 to become available (last state: creating)"
        );
    }
}
