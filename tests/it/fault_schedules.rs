//! Seeded fault schedules against `rotate --create` on ovh-efs: throttling, server errors, garbage
//! bodies and answers that never come, on any request. Whatever happens, no kept snapshot and no
//! non-candidate is deleted, at most one snapshot is created, and a zero exit means everything
//! planned was done.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use wiremock::matchers::any;
use wiremock::{Mock, Request, Respond, ResponseTemplate};

/// How many schedules to run; each is one `snapctl rotate --create` process.
const SCHEDULES: u64 = 60;

/// What the fake EFS saw and did.
#[derive(Default)]
struct Seen {
    creates: usize,
    deleted: BTreeSet<String>,
    faults: usize,
}

/// An EFS double that injects a seeded fault on about one request in six.
struct Faulty {
    rng: Mutex<fastrand::Rng>,
    seen: Arc<Mutex<Seen>>,
}

enum Fault {
    None,
    Throttle,
    ServerError,
    Garbage,
    Slow,
}

impl Faulty {
    fn fault(&self) -> Fault {
        let mut rng = self.rng.lock().expect("rng");
        match rng.u32(0..100) {
            0..=5 => Fault::Throttle,
            6..=11 => Fault::ServerError,
            12..=14 => Fault::Garbage,
            15..=16 => Fault::Slow,
            _ => Fault::None,
        }
    }

    /// The real answer for a request the server processed.
    fn answer(&self, req: &Request) -> ResponseTemplate {
        let p = req.url.path();
        let mut seen = self.seen.lock().expect("seen");
        match req.method.as_str() {
            "GET" if p == "/1.0/auth/time" => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_secs();
                ResponseTemplate::new(200).set_body_string(now.to_string())
            }
            // The list no longer shows what was deleted, as the API's does.
            "GET" if p.ends_with("/snapshot") => {
                let mut all: serde_json::Value =
                    serde_json::from_slice(&fixture("ovh-efs/snapshots-rotation.json"))
                        .expect("json");
                all.as_array_mut()
                    .expect("array")
                    .retain(|s| !seen.deleted.contains(s["id"].as_str().unwrap_or_default()));
                ResponseTemplate::new(200).set_body_json(all)
            }
            "GET" => {
                let id = p.rsplit('/').next().unwrap_or_default();
                if seen.deleted.contains(id) {
                    json(404, "ovh-efs/error-404.json")
                } else {
                    json(200, "ovh-efs/snapshot-available.json")
                }
            }
            "POST" => {
                seen.creates += 1;
                json(200, "ovh-efs/snapshot-creating.json")
            }
            "DELETE" => {
                let id = p.rsplit('/').next().unwrap_or_default().to_string();
                seen.deleted.insert(id);
                ResponseTemplate::new(200)
            }
            _ => ResponseTemplate::new(405),
        }
    }
}

impl Respond for Faulty {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let fault = if req.url.path() == "/1.0/auth/time" {
            Fault::None
        } else {
            self.fault()
        };
        if !matches!(fault, Fault::None) {
            self.seen.lock().expect("seen").faults += 1;
        }
        match fault {
            Fault::None => self.answer(req),
            // Refused before processing.
            Fault::Throttle => ResponseTemplate::new(429)
                .insert_header("Retry-After", "0")
                .set_body_raw(fixture("ovh-efs/error-500.json"), "application/json"),
            Fault::ServerError => ResponseTemplate::new(503)
                .set_body_raw(fixture("ovh-efs/error-500.json"), "application/json"),
            // Processed, but the answer is unreadable or comes too late.
            Fault::Garbage => {
                let _ = self.answer(req);
                ResponseTemplate::new(200).set_body_raw(b"<html>oops</html>".to_vec(), "text/html")
            }
            Fault::Slow => self.answer(req).set_delay(Duration::from_millis(600)),
        }
    }
}

/// One schedule: a fresh faulty double and one `rotate --create` run. Returns the exit code, what the
/// double saw and the run's stderr.
async fn run_schedule(seed: u64) -> (Option<i32>, usize, BTreeSet<String>, String) {
    let server = wiremock::MockServer::start().await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let faulty = Faulty {
        rng: Mutex::new(fastrand::Rng::with_seed(seed)),
        seen: seen.clone(),
    };
    Mock::given(any()).respond_with(faulty).mount(&server).await;
    let cli = Snapctl::efs(&server);
    let locks = cli.home.path().join("locks").display().to_string();
    // A late answer (SLOW) outlives the request timeout: the run must treat it as maybe-sent.
    let out = cli
        .env("SNAPCTL_LOCK_DIR", &locks)
        .run(&[
            "--timeout",
            "2s",
            "--request-timeout",
            "300ms",
            "rotate",
            "--volume",
            SHARE,
            "--create",
            "--wait",
            "--keep-last",
            "2",
        ])
        .await;
    let seen = seen.lock().expect("seen");
    (
        out.status.code(),
        seen.creates,
        seen.deleted.clone(),
        stderr(&out),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_stays_safe_under_seeded_faults() {
    // keep-last 2 over the fixture: the new snapshot and 1a3 are kept; only 1a0..1a2 may go.
    let allowed: BTreeSet<String> = (0..3)
        .map(|i| format!("6b1e1f3a-0000-4000-8000-0000000001a{i}"))
        .collect();
    // Independent schedules (one double and one process each), a few at a time.
    let mut runs = tokio::task::JoinSet::new();
    let mut results = Vec::new();
    for seed in 0..SCHEDULES {
        if runs.len() >= 6 {
            results.push(runs.join_next().await.expect("a run").expect("join"));
        }
        runs.spawn(async move { (seed, run_schedule(seed).await) });
    }
    while let Some(r) = runs.join_next().await {
        results.push(r.expect("join"));
    }
    let mut outcomes = (0, 0);
    for (seed, (code, creates, deleted, err)) in results {
        assert!(
            deleted.is_subset(&allowed),
            "seed {seed}: deleted {deleted:?}, stderr:\n{err}"
        );
        assert!(creates <= 1, "seed {seed}: {creates} creates");
        if code == Some(0) {
            assert_eq!(creates, 1, "seed {seed}: success without a snapshot");
            assert_eq!(
                deleted, allowed,
                "seed {seed}: success with deletions missing"
            );
            outcomes.0 += 1;
        } else {
            outcomes.1 += 1;
        }
    }
    eprintln!(
        "{SCHEDULES} fault schedules: {} succeeded, {} failed safely",
        outcomes.0, outcomes.1
    );
    assert!(
        outcomes.0 > 0 && outcomes.1 > 0,
        "the schedules exercise both outcomes"
    );
}
