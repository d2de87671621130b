//! A policy's copies carried out: per destination, the plan made again from fresh listings,
//! failed imports deleted, each due copy exported, pre-signed, imported and its image deleted,
//! the destination's retention applied (each DELETE checked first), leftover images swept.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use secrecy::ExposeSecret;

use super::*;
use crate::model::{ExportRequest, ImportRequest, Operation};

/// Carry out a policy's copies after its snapshots are taken: per destination, plan again from
/// fresh listings (this run's snapshot is among the sources now), copy what is due, delete what
/// the retention does not keep, remove images left behind, and read what it holds.
pub async fn carry_out(
    src: &dyn Provider,
    c: &Compiled,
    volumes: &[String],
    wait: &WaitOptions,
    lock_dir: &std::path::Path,
    now: Timestamp,
) -> Outcome {
    let mut out = carry_out_all(src, c, volumes, wait, lock_dir, now).await;
    // Every error a destination or the source answered may quote the pre-signed URL it was
    // given (bare, upper-case, URL-encoded, JSON-escaped): it leaves this module redacted, so
    // no report, history, metric or line of output ever carries one.
    let redact = |e: &mut String| *e = crate::text::redact_signed_urls(e);
    out.errors.iter_mut().for_each(redact);
    out.runs
        .iter_mut()
        .filter_map(|r| r.error.as_mut())
        .for_each(redact);
    out.deletions
        .iter_mut()
        .filter_map(|d| d.error.as_mut())
        .for_each(redact);
    out
}

async fn carry_out_all(
    src: &dyn Provider,
    c: &Compiled,
    volumes: &[String],
    wait: &WaitOptions,
    lock_dir: &std::path::Path,
    now: Timestamp,
) -> Outcome {
    let mut out = Outcome::default();
    if c.copies.is_empty() || volumes.is_empty() {
        return out;
    }
    let id = c.policy.id.as_str();
    let from = src.scope();
    let Some(route) = src.export_route() else {
        out.errors.push(format!(
            "{} has no export route: copies cannot be made",
            src.kind()
        ));
        return out;
    };
    let lock = crate::lock::acquire_async(
        lock_dir,
        src.kind().as_str(),
        &from,
        &format!("copy-{id}"),
        Duration::ZERO,
    )
    .await;
    let _lock = match lock {
        Ok(l) => l,
        Err(e) => {
            out.errors.push(format!(
                "another run is copying policy {id}'s snapshots: {e}"
            ));
            return out;
        }
    };
    let whose = match whose(src, volumes.iter().cloned()).await {
        Ok(w) => w,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let listed = src.list_snapshots_of(volumes).await;
    let mut all = Vec::new();
    for (v, l) in volumes.iter().zip(listed) {
        match l {
            Ok(l) => all.extend(sources(id, &l, now)),
            Err(e) => out.errors.push(format!(
                "cannot list the snapshots of {v} to copy them: {e}"
            )),
        }
    }
    let run = Run {
        src,
        route,
        policy: id,
        from: &from,
        whose: &whose,
        volumes,
        sources: &all,
        wait,
        now,
        concurrency: c
            .policy
            .copy_concurrency
            .unwrap_or(crate::fleet::file::DEFAULT_COPY_CONCURRENCY)
            .max(1),
        until: std::time::Instant::now() + c.copy_budget,
    };
    for d in &c.copies {
        if crate::interrupt::requested() {
            break;
        }
        run.destination(d, &mut out).await;
    }
    out
}

/// What every destination of one policy's copies shares in a run.
struct Run<'a> {
    src: &'a dyn Provider,
    route: &'a dyn crate::provider::ExportRoute,
    policy: &'a str,
    from: &'a str,
    /// What a copy's mark must name to be this run's to count and prune.
    whose: &'a Whose,
    /// Every volume the policy selects: each gets a `held` entry, none or not.
    volumes: &'a [String],
    sources: &'a [Source],
    wait: &'a WaitOptions,
    now: Timestamp,
    /// Copies to one destination under way at once (`copy_concurrency`).
    concurrency: usize,
    /// When the run stops waiting for copies (`copy_budget` from the start of the copies).
    until: std::time::Instant,
}

impl Run<'_> {
    /// One destination: plan from its listing, delete failed imports, copy what is due, delete
    /// what its retention does not keep, sweep the images left, read what it holds.
    async fn destination(&self, d: &CopyDest, out: &mut Outcome) {
        let (id, from) = (self.policy, self.from);
        let plan = match survey(d, (id, from), self.whose, self.sources, self.now).await {
            Ok(p) => p,
            Err(e) => {
                out.errors.push(format!("copy to {}: {e}", d.region));
                return;
            }
        };
        let dst = d.link.get().expect("surveyed").as_ref();
        let sizes: BTreeMap<&str, Option<u64>> = self
            .sources
            .iter()
            .filter_map(|s| Some((s.id.as_deref()?, s.size_gib)))
            .collect();
        // A failed import first: its snapshot is copied again below.
        for doomed in plan.delete.iter().filter(|x| x.import_failed) {
            out.deletions
                .push(delete_copy(dst, (id, from), self.whose, d, doomed).await);
        }
        // `copies` at once, started in the plan's order (newest first per volume, round-robin
        // across volumes); after a signal none starts, the ones under way end.
        let copies = plan.copies.iter().filter_map(|due| {
            let snapshot = due.snapshot_id.as_deref()?;
            Some(Copy {
                policy: id,
                from,
                account: &self.whose.account,
                dest: d,
                volume: &due.volume_id,
                snapshot,
                tick: due.tick.unwrap_or(self.now),
                size_gib: sizes.get(snapshot).copied().flatten(),
                until: self.until,
            })
        });
        let copies: Vec<Copy<'_>> = copies.collect();
        // A FIFO semaphore: copies start in the plan's order as slots free up.
        let slots = tokio::sync::Semaphore::new(self.concurrency);
        let runs: Vec<_> = copies
            .iter()
            .map(|copy| {
                let slots = &slots;
                async move {
                    let _slot = slots.acquire().await.ok()?;
                    if crate::interrupt::requested() {
                        return None;
                    }
                    if std::time::Instant::now() >= copy.until {
                        return Some(copy.queued());
                    }
                    Some(copy.run(self.src, self.route, dst, self.wait).await)
                }
            })
            .collect();
        let ran: Vec<Option<CopyRun>> = futures_util::future::join_all(runs).await;
        out.runs.extend(ran.into_iter().flatten());
        for doomed in plan.delete.iter().filter(|x| !x.import_failed) {
            if crate::interrupt::requested() {
                break;
            }
            out.deletions
                .push(delete_copy(dst, (id, from), self.whose, d, doomed).await);
        }
        // A copy that failed here already counts as this destination's failure: the sweep's
        // error for the same cause (a wrong bucket) is not a second one.
        let failed_here = out
            .runs
            .iter()
            .any(|r| r.region == d.region && r.status == CopyStatus::Failed);
        if let Err(e) = sweep(self.route, dst, id, from, d, self.sources).await
            && !failed_here
        {
            out.errors.push(format!("copy to {}: {e}", d.region));
        }
        match held(dst, id, from).await {
            Ok(h) => {
                let mut held = plan_dest(dst.kind(), d, self.whose, &[], &h, self.now).held;
                // A selected volume the destination holds nothing of is held at 0 (no newest):
                // what the metrics and the alert on a missing copy need to see.
                for v in self.volumes {
                    if !held.iter().any(|x| x.volume_id == *v) {
                        held.push(HeldCopies {
                            volume_id: v.clone(),
                            copies: 0,
                            newest: None,
                        });
                    }
                }
                out.held.extend(held.into_iter().map(|held| CopiesHeld {
                    region: d.region.clone(),
                    held,
                }));
            }
            Err(e) => out.errors.push(format!(
                "cannot list the copies in {} after the run: {e}",
                d.region
            )),
        }
    }
}

/// One snapshot on its way to one destination.
struct Copy<'a> {
    policy: &'a str,
    from: &'a str,
    account: &'a str,
    dest: &'a CopyDest,
    volume: &'a str,
    snapshot: &'a str,
    tick: Timestamp,
    size_gib: Option<u64>,
    /// When the run stops waiting for it (`copy_budget`).
    until: std::time::Instant,
}

/// Why a copy stopped short of complete.
enum Stop {
    /// A step failed.
    Failed(&'static str, crate::error::Error),
    /// The run's `copy_budget` was spent while this step went on in the cloud.
    InFlight(&'static str),
}

impl Copy<'_> {
    /// The copy's outcome when the budget was spent before it started.
    fn queued(&self) -> CopyRun {
        CopyRun {
            status: CopyStatus::Queued,
            started_at: None,
            ..self.outcome()
        }
    }

    fn outcome(&self) -> CopyRun {
        CopyRun {
            region: self.dest.region.clone(),
            volume_id: self.volume.to_string(),
            snapshot_id: self.snapshot.to_string(),
            copy_id: None,
            started_at: Some(Timestamp::now()),
            status: CopyStatus::Ok,
            step: None,
            seconds: 0.0,
            error: None,
        }
    }

    /// `wait` cut to the run's budget, and a map of a wait's error to why the copy stopped: a
    /// time-out the budget made (not the copy's own `timeout`) leaves the step in flight.
    fn within_budget(
        &self,
        step: &'static str,
        wait: &WaitOptions,
    ) -> (WaitOptions, impl Fn(crate::error::Error) -> Stop) {
        let left = self
            .until
            .saturating_duration_since(std::time::Instant::now());
        let budget_binds = left < wait.timeout;
        let wait = WaitOptions {
            timeout: wait.timeout.min(left).max(Duration::from_millis(1)),
            ..wait.clone()
        };
        (wait, move |e| match e {
            crate::error::Error::Timeout { .. } if budget_binds => Stop::InFlight(step),
            e => Stop::Failed(step, e),
        })
    }

    async fn run(
        &self,
        src: &dyn Provider,
        route: &dyn crate::provider::ExportRoute,
        dst: &dyn Provider,
        wait: &WaitOptions,
    ) -> CopyRun {
        let started = std::time::Instant::now();
        let mut run = self.outcome();
        let wait = WaitOptions {
            timeout: self.dest.timeout,
            show_progress: false,
            ..wait.clone()
        };
        match self.steps(src, route, dst, &wait, started, &mut run).await {
            Ok(()) => {}
            Err(Stop::InFlight(step)) => {
                run.status = CopyStatus::InFlight;
                run.step = Some(step);
            }
            Err(Stop::Failed(step, e)) => {
                run.status = if crate::interrupt::requested() {
                    CopyStatus::Interrupted
                } else {
                    CopyStatus::Failed
                };
                run.step = Some(step);
                // A server may quote the URL it was given: redacted on the way out of carry_out.
                run.error = Some(e.to_string());
            }
        }
        run.seconds = started.elapsed().as_secs_f64();
        run
    }

    /// The images under `prefix` once an export of the snapshot there is complete: an earlier
    /// run's when `reuse` and there is one that did not fail, else a new one.
    async fn exported(
        &self,
        src: &dyn Provider,
        route: &dyn crate::provider::ExportRoute,
        wait: &WaitOptions,
        prefix: &str,
        reuse: bool,
    ) -> std::result::Result<Vec<crate::model::StoredObject>, Stop> {
        let failed = |step| move |e| Stop::Failed(step, e);
        let d = self.dest;
        let earlier = if reuse {
            route
                .export_tasks_of(self.snapshot)
                .await
                .map_err(failed("export"))?
                .into_iter()
                .find(|t| {
                    t.bucket.as_deref() == Some(d.bucket.as_str())
                        && t.prefix.as_deref() == Some(prefix)
                        && !matches!(t.state.as_deref(), Some("failed" | "cancelled"))
                })
        } else {
            None
        };
        let task = match earlier {
            Some(t) => t.id,
            None => {
                let req = ExportRequest {
                    snapshot: self.snapshot.to_string(),
                    bucket: d.bucket.clone(),
                    prefix: Some(prefix.to_string()),
                    format: "qcow2".into(),
                };
                src.export_snapshot(&req)
                    .await
                    .map_err(failed("export"))?
                    .0
                    .id
            }
        };
        let (wait, stop) = self.within_budget("export", wait);
        crate::wait::wait_for(src, &Operation::Task { id: task }, &wait)
            .await
            .map_err(stop)?;
        route
            .list_objects(&d.bucket, prefix)
            .await
            .map(|listed| only_under(listed, prefix))
            .map_err(failed("find image"))
    }

    async fn steps(
        &self,
        src: &dyn Provider,
        route: &dyn crate::provider::ExportRoute,
        dst: &dyn Provider,
        wait: &WaitOptions,
        started: std::time::Instant,
        run: &mut CopyRun,
    ) -> std::result::Result<(), Stop> {
        let d = self.dest;
        let prefix = object_prefix(self.policy, &d.region, self.snapshot);
        // An export an earlier run started (same bucket and prefix, not failed) is reused; one
        // whose image is gone already (its copy made, then deleted at the destination) is not.
        let mut objects = self.exported(src, route, wait, &prefix, true).await?;
        if objects.is_empty() {
            objects = self.exported(src, route, wait, &prefix, false).await?;
        }
        let Some(image) = objects.iter().max_by_key(|o| o.size) else {
            return Err(Stop::Failed(
                "find image",
                crate::error::Error::usage(format!(
                    "the export completed but left nothing under {}/{prefix}",
                    d.bucket
                )),
            ));
        };
        let url = route.presign_get(&d.bucket, &image.key, URL_TTL_SECONDS);
        let gib = self
            .size_gib
            .unwrap_or_else(|| image.size.div_ceil(1 << 30).max(1));
        let req = ImportRequest {
            file_location: url.expose_secret().to_string(),
            // At least the original's size: the volume the snapshot was taken of.
            size_bytes: gib << 30,
            name: Some(mark::name(self.policy, self.tick)),
            description: Some(description(
                self.policy,
                self.tick,
                (self.volume, self.snapshot),
                (self.from, self.account),
            )),
            tags: vec![(TAG_KEY.to_string(), self.policy.to_string())],
        };
        let (copy, op) = dst
            .import_snapshot(&req)
            .await
            .map_err(|e| Stop::Failed("import", e))?;
        drop(req);
        run.copy_id = Some(copy.id.clone());
        // `timeout` bounds the export and the import together.
        let rest = WaitOptions {
            timeout: wait
                .timeout
                .saturating_sub(started.elapsed())
                .max(Duration::from_secs(1)),
            ..wait.clone()
        };
        // Past the budget the import goes on at the destination: the next run counts the copy
        // (importing counts as made) and sweeps the image once it is complete.
        let (rest, stop) = self.within_budget("wait import", &rest);
        crate::wait::wait_for(dst, &op, &rest).await.map_err(stop)?;
        // Complete at the destination: the images under the prefix have done their job.
        for o in &objects {
            crate::engine::delete::object(route, &d.bucket, &o.key, &prefix)
                .await
                .map_err(|e| Stop::Failed("delete image", e))?;
        }
        Ok(())
    }
}

/// Delete one copy, checked right before the DELETE: it still carries this policy's copy mark
/// from this Region, and it is complete (a failed import: in `error`).
async fn delete_copy(
    dst: &dyn Provider,
    (policy, from): (&str, &str),
    whose: &Whose,
    d: &CopyDest,
    doomed: &CopyDoomed,
) -> CopyDeletion {
    let mut out = CopyDeletion {
        region: d.region.clone(),
        id: doomed.id.clone(),
        volume_id: doomed.volume_id.clone(),
        reason: doomed.reason.clone(),
        ok: false,
        error: None,
    };
    // Read again right before the DELETE (the gate does): this policy's, from this account, of
    // the volume planned (one the policy selects), in the state planned.
    let check = |s: &Snapshot| {
        let mark = s.description.as_deref().and_then(parse);
        let state_ok = if doomed.import_failed {
            s.state == SnapshotState::Error
        } else {
            s.state == SnapshotState::Available
        };
        match mark {
            Some(m)
                if m.policy == policy
                    && m.from == from
                    && m.volume == doomed.volume_id
                    && whose.judge(&m) == Ok(false)
                    && state_ok =>
            {
                Ok(())
            }
            Some(_) | None => Err(format!(
                "refused: {} no longer carries this policy's copy mark in the expected state",
                doomed.id
            )),
        }
    };
    match crate::engine::delete::checked_snapshot(dst, None, &doomed.id, check).await {
        Ok(()) => out.ok = true,
        Err(e) => out.error = Some(e),
    }
    out
}

/// Delete the images under the policy's prefix whose copy is complete at the destination, or
/// whose snapshot is gone from the source (nothing left to copy); the others wait for the next
/// run's attempt.
async fn sweep(
    route: &dyn crate::provider::ExportRoute,
    dst: &dyn Provider,
    policy: &str,
    from: &str,
    d: &CopyDest,
    sources: &[Source],
) -> Result<()> {
    let base = format!("snapctl/{policy}/{}/", d.region);
    let objects = route.list_objects(&d.bucket, &base).await?;
    if objects.is_empty() {
        return Ok(());
    }
    let complete: BTreeSet<String> = held(dst, policy, from)
        .await?
        .into_iter()
        .filter(|h| h.state == SnapshotState::Available)
        .map(|h| h.mark.of)
        .collect();
    let present: BTreeSet<&str> = sources.iter().filter_map(|s| s.id.as_deref()).collect();
    for o in objects {
        // Only an image in a snapshot's own folder under the policy's prefix is ever deleted.
        let Some(snapshot) = snapshot_of_key(&o.key, &base) else {
            eprintln!(
                "warning: the bucket listed {:?} under {base}, not in a snapshot's folder there: left alone",
                crate::text::one_line(&o.key, 200)
            );
            continue;
        };
        if complete.contains(snapshot) || !present.contains(snapshot) {
            let own = object_prefix(policy, &d.region, snapshot);
            crate::engine::delete::object(route, &d.bucket, &o.key, &own).await?;
        }
    }
    Ok(())
}
