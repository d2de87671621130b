//! The one HTTP layer every provider sends through: timeouts, the retry policy, `Retry-After`, and
//! the redacted request trace behind `-v`.
//!
//! Providers build an [`Outgoing`] request (already signed) per attempt and get back whatever status
//! the server answered; mapping statuses to errors is theirs. This module must never print a header
//! or body marked sensitive, and never re-send a non-idempotent request once it may have reached the
//! server.

use std::time::{Duration, Instant};

use reqwest::Url;

use crate::error::{Error, Result};

mod limit;
mod message;
mod pages;
mod trace;

use limit::Limiter;
pub use limit::RateLimit;
pub use message::{Effect, Header, Incoming, Outgoing};
pub use pages::{decode_list, decode_page, for_each_page};

/// Statuses worth another attempt for an idempotent request.
const RETRYABLE: [u16; 5] = [429, 500, 502, 503, 504];

/// Response headers never printed in traces.
pub(crate) const SENSITIVE_RESPONSE_HEADERS: [&str; 3] =
    ["x-subject-token", "set-cookie", "authorization"];

/// Tunables of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// TCP+TLS connect timeout.
    pub connect_timeout: Duration,
    /// Attempts per idempotent request, first included.
    pub max_attempts: u32,
    /// First backoff step; doubles per attempt, with full jitter.
    pub base_delay: Duration,
    /// Backoff ceiling.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured; longer answers end the retries.
    pub max_retry_after: Duration,
    /// How long one request may spend waiting out throttling answers (429, Cinder's 413
    /// `overLimit`) in all. Throttled requests were not carried out, so every one is re-sent,
    /// writes included, and such retries do not count against `max_attempts`.
    pub max_throttled_wait: Duration,
    /// `-v` count: 1 = one line per request, 2+ = headers and bodies (redacted).
    pub verbosity: u8,
    /// Extra trusted CA certificates (PEM), e.g. a private cloud's own CA.
    pub ca_pem: Option<Vec<u8>>,
    /// Skip certificate verification (the caller warns).
    pub insecure: bool,
    /// Client-side rate limit: requests per second and burst (`None`: unlimited).
    pub rate_limit: Option<RateLimit>,
    /// Send to plain `http://` URLs whose host is not loopback (the caller warns).
    pub allow_http: bool,
    /// `--dry-run`: reads go out, the first request that would change something is stopped here
    /// and unwinds as [`Error::DryRunStop`] (which the command that asked turns back into an
    /// outcome with [`crate::error::Outcome::of`]), so a dry run walks exactly the real run's
    /// path (its validations and reads) and never sends a change.
    pub dry_run: bool,
    /// Refuse, before sending, every request to a host that is not loopback (`policy … --at`:
    /// a simulated time is for the emulator only).
    pub loopback_only: bool,
    /// Largest response body read, in bytes: checked against `Content-Length` before reading and
    /// enforced while reading, so a hostile endpoint cannot exhaust memory.
    pub max_body: u64,
    /// Requests sent (every attempt), shared by every client built from this configuration: `-v`
    /// reports it at the end of a run.
    pub sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Bytes of response bodies held at once by every client built from this configuration
    /// (every account, policy and batch of a run share one): never more than `body_budget`, so
    /// a fleet of hostile endpoints costs what one command does.
    pub held: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The most `held` may reach; a response that would pass it fails with
    /// [`Error::ResponsesTooLarge`]. `None`: [`HttpConfig::body_budget`], derived from
    /// `max_body`.
    pub body_budget: Option<u64>,
}

/// Default [`HttpConfig::max_body`]: 16 MiB, room for ~25,000 snapshots in one OVH answer (an
/// EFS share holds at most a few hundred; OUTSCALE and Cinder page their lists, 1,000 items
/// a page, about 1 MiB), and a bound on what one answer can cost in memory whatever a server
/// sends.
pub const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;

impl HttpConfig {
    /// The most response bytes held at once: as set, else two answers at the cap and never less
    /// than 32 MiB.
    pub fn body_budget(&self) -> u64 {
        self.body_budget
            .unwrap_or_else(|| self.max_body.saturating_mul(2).max(32 * 1024 * 1024))
    }
}

/// The ledger every connection of this process shares (commands build one, a fleet run one per
/// account: all of them hold their answers against one budget).
pub fn process_ledger() -> std::sync::Arc<std::sync::atomic::AtomicU64> {
    static LEDGER: std::sync::LazyLock<std::sync::Arc<std::sync::atomic::AtomicU64>> =
        std::sync::LazyLock::new(Default::default);
    LEDGER.clone()
}

/// A response body's claim on [`HttpConfig::held`], given back when the response is dropped.
#[derive(Debug, Default)]
pub struct BodyHold {
    ledger: std::sync::Arc<std::sync::atomic::AtomicU64>,
    claimed: u64,
}

impl BodyHold {
    fn on(ledger: &std::sync::Arc<std::sync::atomic::AtomicU64>) -> Self {
        BodyHold {
            ledger: ledger.clone(),
            claimed: 0,
        }
    }

    /// Claim `more` bytes, unless the ledger would then hold more than `budget`.
    fn grow(&mut self, more: u64, budget: u64) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        let claimed = self.ledger.fetch_update(SeqCst, SeqCst, |held| {
            held.checked_add(more).filter(|total| *total <= budget)
        });
        if claimed.is_ok() {
            self.claimed += more;
        }
        claimed.is_ok()
    }
}

impl Drop for BodyHold {
    fn drop(&mut self) {
        self.ledger
            .fetch_sub(self.claimed, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 4,
            base_delay: Duration::from_millis(300),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
            max_throttled_wait: Duration::from_secs(600),
            verbosity: 0,
            ca_pem: None,
            insecure: false,
            rate_limit: None,
            allow_http: false,
            loopback_only: false,
            dry_run: false,
            max_body: DEFAULT_MAX_BODY,
            sent: Default::default(),
            held: Default::default(),
            body_budget: None,
        }
    }
}

/// Requests this process refused to send because `--at` allows loopback only: a policy command
/// that met one is a usage error (exit 2), whatever else it could plan.
static LOOPBACK_REFUSALS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many requests `--at` kept from a host that is not loopback in this process.
pub fn loopback_refusals() -> u64 {
    LOOPBACK_REFUSALS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The shared client.
#[derive(Debug)]
pub struct Http {
    client: reqwest::Client,
    /// Never through a proxy: loopback requests (a proxy would see them, in clear text on http).
    direct: reqwest::Client,
    config: HttpConfig,
    limiter: Option<Limiter>,
}

impl Http {
    /// Build the clients (rustls, no proxy surprises beyond the environment's): one that uses the
    /// environment's proxies, and one that never does, for loopback.
    pub fn new(config: HttpConfig) -> Result<Self> {
        let built = |proxied: bool| -> Result<reqwest::Client> {
            let mut builder = reqwest::Client::builder()
                .timeout(config.request_timeout)
                .connect_timeout(config.connect_timeout)
                // None of these APIs redirect: a 3xx is an error naming its Location, never
                // followed (a followed redirect carries signatures, tokens or the Keystone
                // password elsewhere).
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("snapctl/", env!("CARGO_PKG_VERSION")));
            if !proxied {
                builder = builder.no_proxy();
            }
            if let Some(pem) = &config.ca_pem {
                let certs =
                    reqwest::Certificate::from_pem_bundle(pem).map_err(|e| Error::Config {
                        message: format!("cannot read the CA certificate: {e}"),
                        hint: Some(
                            "--cacert expects a PEM file (-----BEGIN CERTIFICATE-----)".into(),
                        ),
                    })?;
                if certs.is_empty() {
                    return Err(Error::Config {
                        message: "the CA file holds no PEM certificate".into(),
                        hint: Some(
                            "--cacert expects a PEM file (-----BEGIN CERTIFICATE-----)".into(),
                        ),
                    });
                }
                for cert in certs {
                    builder = builder.add_root_certificate(cert);
                }
            }
            if config.insecure {
                builder = builder.tls_danger_accept_invalid_certs(true);
            }
            builder.build().map_err(|e| Error::Config {
                message: format!("cannot set up the HTTP client: {e}"),
                hint: None,
            })
        };
        let client = built(true)?;
        let direct = built(false)?;
        let limiter = config.rate_limit.and_then(Limiter::new);
        Ok(Http {
            client,
            direct,
            config,
            limiter,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Send a request built afresh for each attempt (so signatures carry a fresh timestamp).
    ///
    /// `idempotent` requests are retried on 429/500/502/503/504 and on transport errors, with capped
    /// full-jitter exponential backoff, honouring `Retry-After`. Other requests are retried only when
    /// the connection failed before anything was sent. The last response is returned whatever its
    /// status; `action` names the call in transport errors.
    pub async fn execute<F>(&self, action: &str, idempotent: bool, mut build: F) -> Result<Incoming>
    where
        F: FnMut() -> Result<Outgoing>,
    {
        let mut attempt = 1;
        let mut throttled_for = Duration::ZERO;
        let mut throttled_times = 0u32;
        loop {
            self.take_turn(action).await?;
            let req = build()?;
            self.check_destination(action, &req.url)?;
            if self.config.dry_run && req.effect == Effect::Write {
                let mut url = req.url.clone();
                url.set_query(None);
                return Err(Error::DryRunStop(crate::error::WouldSend {
                    request: format!("{} {url}", req.method),
                    checked_by_provider: false,
                }));
            }
            let started = Instant::now();
            self.trace_request(&req, attempt);
            let next = match self.send_interruptible(&req, action).await? {
                Ok(mut resp) => {
                    resp.attempt = attempt;
                    self.trace_response(&resp, started.elapsed());
                    if let Some(e) = redirected(action, &resp) {
                        return Err(e);
                    }
                    if is_throttled(&resp) {
                        throttled_times += 1;
                        match self.throttled_delay(throttled_times, &resp) {
                            Some(delay)
                                if throttled_for + delay <= self.config.max_throttled_wait =>
                            {
                                throttled_for += delay;
                                Next::Wait(Retry {
                                    delay,
                                    note: format!(
                                        "answered {} (throttled); re-sending",
                                        resp.status.as_u16()
                                    ),
                                    last: format!("it answered {}", resp.status),
                                    counts: false,
                                })
                            }
                            _ => Next::Done(Ok(resp)),
                        }
                    } else {
                        self.judge_answer(resp, idempotent, attempt)
                    }
                }
                Err(err) => self.judge_failure(action, &err, idempotent, attempt),
            };
            let retry = match next {
                Next::Done(answer) => return answer,
                Next::Wait(retry) => retry,
            };
            self.note(&retry.describe(req.url.path(), attempt, self.config.max_attempts));
            if !pause_unless_interrupted(retry.delay).await {
                return Err(stopped_retrying(action, attempt, &retry.last));
            }
            if retry.counts {
                attempt += 1;
            }
        }
    }

    /// Wait for the rate limiter's slot; after SIGINT/SIGTERM nothing more is sent, retries and
    /// follow-ups included, and no one waits for a slot.
    async fn take_turn(&self, action: &str) -> Result<()> {
        let not_sent = || Error::Interrupted {
            done: format!("did not {action}: interrupted before the request was sent"),
        };
        if let Some(l) = &self.limiter {
            if crate::interrupt::is_finishing() {
                l.acquire().await;
            } else {
                tokio::select! {
                    () = l.acquire() => {}
                    () = crate::interrupt::arrived() => return Err(not_sent()),
                }
            }
        }
        if crate::interrupt::stops_requests() {
            return Err(not_sent());
        }
        Ok(())
    }

    /// Send once. A read in flight is dropped at once on an interrupt; a change in flight is let
    /// finish (or time out), so its outcome is known and reported.
    async fn send_interruptible(
        &self,
        req: &Outgoing,
        action: &str,
    ) -> Result<std::result::Result<Incoming, reqwest::Error>> {
        if req.effect == Effect::Read && !crate::interrupt::is_finishing() {
            tokio::select! {
                a = self.send_once(req, action) => a,
                () = crate::interrupt::arrived() => Err(Error::Interrupted {
                    done: format!("stopped waiting for the answer to {action}"),
                }),
            }
        } else {
            self.send_once(req, action).await
        }
    }

    /// How long to wait before re-sending a throttled request: `Retry-After` (or backoff) plus
    /// up to a quarter more, so throttled clients do not all come back in the same instant.
    fn throttled_delay(&self, times: u32, resp: &Incoming) -> Option<Duration> {
        self.delay_for(times.min(6), resp)
            .map(|d| d + Duration::from_millis(fastrand::u64(0..=d.as_millis() as u64 / 4)))
    }

    /// An answer that is not throttling: returned, or retried when it is worth another attempt
    /// (an idempotent request answered 5xx, OpenStack's `overLimit`, or an HTML page where JSON
    /// belongs: a proxy or gateway answering for the API).
    fn judge_answer(&self, resp: Incoming, idempotent: bool, attempt: u32) -> Next {
        let over_limit = resp.status.as_u16() == 413 && resp.header("retry-after").is_some();
        let html = resp.status.is_success()
            && !resp.body.is_empty()
            && resp
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/html"));
        let retryable =
            idempotent && (RETRYABLE.contains(&resp.status.as_u16()) || over_limit || html);
        if !retryable || attempt >= self.config.max_attempts {
            return Next::Done(Ok(resp));
        }
        match self.delay_for(attempt, &resp) {
            Some(delay) => Next::Wait(Retry {
                delay,
                note: format!("answered {}; retrying", resp.status.as_u16()),
                last: format!("it answered {}", resp.status),
                counts: true,
            }),
            None => Next::Done(Ok(resp)),
        }
    }

    /// A request that got no answer: retried when it is idempotent or was never sent (a refused
    /// certificate will be refused again: no retry), else a transport error.
    fn judge_failure(
        &self,
        action: &str,
        err: &reqwest::Error,
        idempotent: bool,
        attempt: u32,
    ) -> Next {
        let not_sent = err.is_connect();
        let detail = describe(err);
        let tls = detail.contains("certificate");
        let may_retry = (idempotent || not_sent) && !tls;
        if may_retry && attempt < self.config.max_attempts {
            return Next::Wait(Retry {
                delay: self.backoff(attempt),
                note: format!("failed ({detail}); retrying"),
                last: detail,
                counts: true,
            });
        }
        Next::Done(Err(Error::Transport {
            action: action.to_string(),
            detail,
            maybe_sent: !not_sent,
            tls,
        }))
    }

    /// Refuse plain `http://` to a host that is not loopback unless the user opted in: every
    /// request carries a signature, a token or a password.
    fn check_destination(&self, action: &str, url: &Url) -> Result<()> {
        if self.config.loopback_only && !is_loopback(url) {
            LOOPBACK_REFUSALS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(Error::Usage {
                message: format!(
                    "cannot {action}: --at simulates another time and acts only against a loopback endpoint (the emulator), not {}",
                    url.host_str().unwrap_or("?")
                ),
                hint: Some(
                    "drop --at to act now; plan what-ifs against the emulator (snapctl emulator)"
                        .into(),
                ),
            });
        }
        if url.scheme() == "http" && !self.config.allow_http && !is_loopback(url) {
            return Err(Error::Refused {
                reason: format!(
                    "cannot {action}: refusing plain http:// to {}: credentials and data would cross the network unencrypted",
                    url.host_str().unwrap_or("?")
                ),
                hint: Some(
                    "use an https:// endpoint; if this network is trusted, pass --allow-http (or allow_http = true in the profile)".into(),
                ),
            });
        }
        Ok(())
    }

    /// One attempt. The outer error is final (an oversized body will be oversized again); the
    /// inner one is a transport failure the caller may retry.
    async fn send_once(
        &self,
        req: &Outgoing,
        action: &str,
    ) -> Result<std::result::Result<Incoming, reqwest::Error>> {
        self.config
            .sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let client = if is_loopback(&req.url) {
            &self.direct
        } else {
            &self.client
        };
        let mut builder = client.request(req.method.clone(), req.url.clone());
        for h in &req.headers {
            builder = builder.header(h.name, &h.value);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let mut resp = match builder.send().await {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let status = resp.status();
        let headers = std::mem::take(resp.headers_mut());
        let limit = self.config.max_body;
        let too_large = |declared: Option<u64>| Error::ResponseTooLarge {
            action: action.to_string(),
            limit,
            declared,
        };
        let declared = resp.content_length();
        if let Some(len) = declared
            && len > limit
        {
            return Err(too_large(Some(len)));
        }
        // Every byte held is claimed from the run-wide budget first: the buffer's capacity,
        // not its length, is what costs memory, so growth is claimed before it happens.
        let budget = self.config.body_budget();
        let mut hold = BodyHold::on(&self.config.held);
        let over_budget = || Error::ResponsesTooLarge {
            action: action.to_string(),
            budget,
        };
        let first = declared.unwrap_or(0).min(limit).min(16 << 20);
        if !hold.grow(first, budget) {
            return Err(over_budget());
        }
        // One copy: chunks are appended to a buffer sized from Content-Length (capped).
        let mut body = Vec::with_capacity(first as usize);
        let mut claimed = first;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let needed = body.len() as u64 + chunk.len() as u64;
                    if needed > limit {
                        return Err(too_large(declared));
                    }
                    if needed > claimed {
                        // Room for what this chunk needs, doubling as Vec does, never past the cap.
                        let target = needed.max(claimed.saturating_mul(2)).min(limit);
                        if !hold.grow(target - claimed, budget) {
                            return Err(over_budget());
                        }
                        body.reserve_exact((target - body.len() as u64) as usize);
                        claimed = target;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(Ok(Incoming {
            status,
            headers,
            body,
            attempt: 1,
            hold: std::sync::Arc::new(hold),
        }))
    }

    /// Delay before the next attempt: `Retry-After` when present (capped), else backoff.
    fn delay_for(&self, attempt: u32, resp: &Incoming) -> Option<Duration> {
        match resp
            .header("retry-after")
            .and_then(|v| parse_retry_after(&v))
        {
            Some(d) if d > self.config.max_retry_after => None,
            Some(d) => Some(d),
            None => Some(self.backoff(attempt)),
        }
    }

    /// Full-jitter exponential backoff: uniform in `[0, min(max, base * 2^(attempt-1))]`, floored at
    /// a tenth of the step so retries never stampede.
    fn backoff(&self, attempt: u32) -> Duration {
        let step = self
            .config
            .base_delay
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.config.max_delay);
        let millis = step.as_millis() as u64;
        Duration::from_millis(millis / 10 + fastrand::u64(0..=millis - millis / 10))
    }

    fn note(&self, line: &str) {
        if self.config.verbosity >= 1 {
            eprintln!("snapctl: {line}");
        }
    }
}

/// What [`Http::execute`] does after an attempt.
enum Next {
    /// Return this.
    Done(Result<Incoming>),
    /// Send again after a pause.
    Wait(Retry),
}

/// A pause before sending again.
struct Retry {
    delay: Duration,
    /// What happened, for the `-v` note ("answered 503; retrying").
    note: String,
    /// What the last attempt got, for the error when the pause is interrupted.
    last: String,
    /// Whether it counts against `max_attempts` (throttling does not: the request was not
    /// carried out).
    counts: bool,
}

impl Retry {
    /// The `-v` note: `PATH answered 503; retrying in 200 ms (attempt 2/3)`; a throttled
    /// re-send has no attempt count.
    fn describe(&self, path: &str, attempt: u32, max: u32) -> String {
        let ms = self.delay.as_millis();
        if self.counts {
            format!(
                "{path} {} in {ms} ms (attempt {}/{max})",
                self.note,
                attempt + 1
            )
        } else {
            format!("{path} {} in {ms} ms", self.note)
        }
    }
}

/// A redirect, which snapctl never follows. A 300 without Location is an answer, not a
/// redirect: OpenStack service roots list their versions that way.
fn redirected(action: &str, resp: &Incoming) -> Option<Error> {
    let listing = resp.status.as_u16() == 300 && resp.header("location").is_none();
    (resp.status.is_redirection() && !listing).then(|| Error::Redirected {
        action: action.to_string(),
        status: resp.status.as_u16(),
        location: resp
            .header("location")
            .map(|l| crate::text::one_line(&l, 512))
            .unwrap_or_else(|| "no Location header".into()),
    })
}

/// Throttled: 429, or 413 with Retry-After (OpenStack's rate limit, Cinder `overLimit`). The
/// request was not carried out, so it is re-sent whatever it does, after Retry-After (or
/// backoff), for as long as the budget allows.
fn is_throttled(resp: &Incoming) -> bool {
    let s = resp.status.as_u16();
    s == 429 || (s == 413 && resp.header("retry-after").is_some())
}

/// Sleep `delay` before a retry, unless SIGINT/SIGTERM arrives (checked every 50 ms): then answer
/// `false` at once, so an interrupt never waits out a backoff or a long `Retry-After`.
async fn pause_unless_interrupted(delay: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + delay;
    loop {
        if crate::interrupt::requested() {
            return false;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return !crate::interrupt::requested();
        }
        tokio::time::sleep((deadline - now).min(Duration::from_millis(50))).await;
    }
}

/// The error of a read whose retries an interrupt stopped.
fn stopped_retrying(action: &str, attempt: u32, last: &str) -> Error {
    Error::Interrupted {
        done: format!(
            "stopped retrying: {action} was tried {attempt} time(s) and not again ({})",
            crate::text::one_line(last, 300)
        ),
    }
}

/// Read a CA certificate file named by `--cacert`, a profile's `cacert` or `OS_CACERT`.
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Config {
        message: format!("cannot read CA file {}: {e}", path.display()),
        hint: Some(
            "--cacert, cacert in the profile and OS_CACERT name a PEM file, e.g. /etc/pki/tls/certs/powervc.crt copied from a PowerVC host".into(),
        ),
    })
}

/// Whether a URL's host is this machine: a loopback address or `localhost` (RFC 6761).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        // The address connected to (`127.1` and `0x7f000001` are 127.0.0.1 once parsed).
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        // `::1` only, not an IPv4-mapped spelling.
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        // `localhost` exactly: `localhost.` and `x.localhost` are names a resolver may send
        // anywhere.
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A transport error as one line, without the URL (which is printed elsewhere) and with its causes.
fn describe(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else if err.is_body() || err.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    let mut detail = String::from(kind);
    let mut source = err.source();
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    detail
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let now = jiff::Timestamp::now();
    let wait = when.duration_since(now);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Method;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(30);
        let header = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&later)
            .expect("timestamps format");
        let d = parse_retry_after(&header).expect("date parses");
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(28),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn plain_http_is_refused_off_loopback_unless_allowed() {
        let http = Http::new(HttpConfig::default()).expect("client builds");
        for ok in [
            "http://127.0.0.1:8080/1.0",
            "http://127.8.9.10/api/v1",
            "http://[::1]:5000/v3",
            "http://localhost:9000/v3",
            "http://LOCALHOST:9000/v3",
            "https://eu.api.ovh.com/1.0",
            "https://198.51.100.7:9000/v3",
        ] {
            let url = Url::parse(ok).expect("url");
            assert!(http.check_destination("list", &url).is_ok(), "{ok}");
        }
        for bad in [
            "http://eu.api.ovh.com/1.0",
            "http://198.51.100.7:9000/v3",
            "http://[2001:db8::1]/v3",
            "http://localhost.evil.example/",
            "http://0.0.0.0:8080/",
            // Names a resolver may send anywhere, and a mapped spelling: not loopback.
            "http://api.localhost/",
            "http://localhost./",
            "http://[::ffff:127.0.0.1]:5000/v3",
        ] {
            let url = Url::parse(bad).expect("url");
            let err = http.check_destination("list volumes", &url).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::Exit::Refused, "{bad}");
            assert!(err.to_string().contains("refusing plain http://"), "{err}");
            assert!(err.hint().is_some_and(|h| h.contains("--allow-http")));
        }
        let allowed = Http::new(HttpConfig {
            allow_http: true,
            ..HttpConfig::default()
        })
        .expect("client builds");
        let url = Url::parse("http://198.51.100.7:9000/v3").expect("url");
        assert!(allowed.check_destination("list", &url).is_ok());
    }

    #[test]
    fn a_simulated_time_reaches_loopback_only() {
        let http = Http::new(HttpConfig {
            loopback_only: true,
            ..HttpConfig::default()
        })
        .expect("client builds");
        let url = Url::parse("http://127.0.0.1:8080/1.0/auth/time").expect("url");
        assert!(http.check_destination("list", &url).is_ok());
        for bad in ["https://eu.api.ovh.com/1.0", "https://198.51.100.7:9000/v3"] {
            let url = Url::parse(bad).expect("url");
            let err = http.check_destination("list", &url).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::Exit::Usage, "{bad}");
            assert!(err.to_string().contains("--at"), "{err}");
        }
    }

    fn small_cap() -> Http {
        Http::new(HttpConfig {
            max_body: 1024,
            base_delay: Duration::from_millis(1),
            ..HttpConfig::default()
        })
        .expect("client builds")
    }

    #[tokio::test]
    async fn a_body_over_the_declared_cap_is_refused_and_not_retried() {
        use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 4096]))
            .expect(1)
            .mount(&server)
            .await;
        let url = Url::parse(&server.uri()).expect("url");
        let err = small_cap()
            .execute("list snapshots", true, || {
                Ok(Outgoing::new(Method::GET, url.clone()))
            })
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::ResponseTooLarge {
                    limit: 1024,
                    declared: Some(4096),
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "cannot list snapshots: the response is larger than the 1 KiB cap (Content-Length 4 KiB)"
        );
    }

    #[tokio::test]
    async fn an_endless_chunked_body_stops_at_the_cap() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = sent.clone();
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await;
            let chunk = format!("100\r\n{}\r\n", "y".repeat(256));
            // Without a cap this would go on for 1 GiB.
            for _ in 0..(4 << 20) {
                if sock.write_all(chunk.as_bytes()).await.is_err() {
                    break;
                }
                counter.fetch_add(256, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let url = Url::parse(&format!("http://{addr}/")).expect("url");
        let err = small_cap()
            .execute("list snapshots", false, || {
                Ok(Outgoing::new(Method::GET, url.clone()))
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::ResponseTooLarge { declared: None, .. }),
            "{err:?}"
        );
        assert!(
            sent.load(std::sync::atomic::Ordering::Relaxed) < 16 << 20,
            "the client kept reading"
        );
    }

    #[tokio::test]
    async fn answers_held_at_once_share_one_budget_and_give_it_back() {
        use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 900]))
            .mount(&server)
            .await;
        let url = Url::parse(&server.uri()).expect("url");
        let config = HttpConfig {
            max_body: 1024,
            body_budget: Some(2048),
            ..HttpConfig::default()
        };
        // Two clients from one configuration, as two accounts of a fleet run are.
        let (one, two) = (
            Http::new(config.clone()).expect("client builds"),
            Http::new(config.clone()).expect("client builds"),
        );
        async fn get(http: &Http, url: &Url) -> Result<Incoming> {
            http.execute("list volumes", true, || {
                Ok(Outgoing::new(Method::GET, url.clone()))
            })
            .await
        }
        let first = get(&one, &url).await.expect("the first answer fits");
        let second = get(&two, &url).await.expect("the second answer fits");
        assert_eq!(config.held.load(std::sync::atomic::Ordering::SeqCst), 1800);
        let err = get(&one, &url).await.unwrap_err();
        assert!(
            matches!(err, Error::ResponsesTooLarge { budget: 2048, .. }),
            "{err:?}"
        );
        assert_eq!(err.exit_code(), crate::error::Exit::Failure);
        drop(first);
        let third = get(&two, &url)
            .await
            .expect("room again once an answer is dropped");
        drop((second, third));
        assert_eq!(config.held.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn every_connection_of_the_process_holds_against_one_ledger() {
        // `commands::connect` builds one configuration per account of a fleet run, each with
        // this ledger: they must be one counter, or four accounts hold four budgets.
        let (a, b) = (process_ledger(), process_ledger());
        assert!(std::sync::Arc::ptr_eq(&a, &b));
        assert!(!std::sync::Arc::ptr_eq(&a, &HttpConfig::default().held));
    }

    #[test]
    fn retry_notes_keep_their_words() {
        let retry = |note: &str, counts| Retry {
            delay: Duration::from_millis(250),
            note: note.into(),
            last: String::new(),
            counts,
        };
        assert_eq!(
            retry("answered 503; retrying", true).describe("/v1/x", 1, 3),
            "/v1/x answered 503; retrying in 250 ms (attempt 2/3)"
        );
        assert_eq!(
            retry("failed (connection refused); retrying", true).describe("/v1/x", 2, 3),
            "/v1/x failed (connection refused); retrying in 250 ms (attempt 3/3)"
        );
        // Throttling does not count against the attempts, so the note names none.
        assert_eq!(
            retry("answered 429 (throttled); re-sending", false).describe("/v1/x", 1, 3),
            "/v1/x answered 429 (throttled); re-sending in 250 ms"
        );
    }

    #[test]
    fn backoff_stays_within_cap() {
        let http = Http::new(HttpConfig {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
            ..HttpConfig::default()
        })
        .expect("client builds");
        for attempt in 1..20 {
            let d = http.backoff(attempt);
            assert!(d <= Duration::from_millis(400), "{attempt}: {d:?}");
        }
        assert!(http.backoff(1) <= Duration::from_millis(100));
    }
}
