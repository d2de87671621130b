//! The one HTTP layer every provider sends through: timeouts, the retry policy, `Retry-After`, and
//! the redacted request trace behind `-v`.
//!
//! Providers build an [`Outgoing`] request (already signed) per attempt and get back whatever status
//! the server answered; mapping statuses to errors is theirs. This module must never print a header
//! or body marked sensitive, and never re-send a non-idempotent request once it may have reached the
//! server.

use std::io::Write;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};

use crate::error::{Error, Result};

/// Statuses worth another attempt for an idempotent request.
const RETRYABLE: [u16; 5] = [429, 500, 502, 503, 504];

/// Response headers never printed in traces.
const SENSITIVE_RESPONSE_HEADERS: [&str; 3] = ["x-subject-token", "set-cookie", "authorization"];

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
    /// `-v` count: 1 = one line per request, 2+ = headers and bodies (redacted).
    pub verbosity: u8,
    /// Extra trusted CA certificates (PEM), e.g. a private cloud's own CA.
    pub ca_pem: Option<Vec<u8>>,
    /// Skip certificate verification (the caller warns).
    pub insecure: bool,
    /// Client-side rate limit: requests per second and burst (`None`: unlimited).
    pub rate_limit: Option<RateLimit>,
}

/// Requests per second with a burst allowance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests that may go at once before the rate applies.
    pub burst: u32,
}

/// A GCRA limiter shared by every request of the client (and so by every concurrent task).
#[derive(Debug)]
struct Limiter {
    interval: Duration,
    tolerance: Duration,
    /// Theoretical arrival time of the next request.
    tat: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Limiter {
    fn new(limit: RateLimit) -> Option<Self> {
        if !(limit.per_second.is_finite() && limit.per_second > 0.0) {
            return None;
        }
        let interval = Duration::from_secs_f64(1.0 / limit.per_second);
        Some(Limiter {
            interval,
            tolerance: interval.saturating_mul(limit.burst.max(1) - 1),
            tat: tokio::sync::Mutex::new(None),
        })
    }

    /// Wait for this request's slot.
    async fn acquire(&self) {
        let mut tat = self.tat.lock().await;
        let now = tokio::time::Instant::now();
        let t = tat.map_or(now, |t| t.max(now));
        let allowed_at = t.checked_sub(self.tolerance).unwrap_or(now);
        if allowed_at > now {
            tokio::time::sleep_until(allowed_at).await;
        }
        *tat = Some(t + self.interval);
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
            verbosity: 0,
            ca_pem: None,
            insecure: false,
            rate_limit: None,
        }
    }
}

/// A header to send; `sensitive` ones print as `***` in traces.
#[derive(Debug, Clone)]
pub struct Header {
    /// Name.
    pub name: &'static str,
    /// Value.
    pub value: String,
    /// Whether the value is a credential.
    pub sensitive: bool,
}

/// One attempt's request, signed by the provider.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Method.
    pub method: Method,
    /// Full URL, exactly as signed.
    pub url: Url,
    /// Headers.
    pub headers: Vec<Header>,
    /// Body bytes, exactly as signed.
    pub body: Option<Vec<u8>>,
    /// Whether the body holds a credential (never traced).
    pub body_sensitive: bool,
}

impl Outgoing {
    /// A request with no headers and no body.
    pub fn new(method: Method, url: Url) -> Self {
        Outgoing {
            method,
            url,
            headers: Vec::new(),
            body: None,
            body_sensitive: false,
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>, sensitive: bool) -> Self {
        self.headers.push(Header {
            name,
            value: value.into(),
            sensitive,
        });
        self
    }
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Incoming {
    /// The body as an error message when it is not the provider's JSON: its text, or the status's
    /// reason phrase when it is empty (what go-ovh and the OpenStack clients do).
    pub fn raw_message(&self) -> String {
        let text = String::from_utf8_lossy(&self.body).trim().to_string();
        if text.is_empty() {
            self.status
                .canonical_reason()
                .unwrap_or("no message")
                .to_string()
        } else {
            text
        }
    }

    /// A header's value, case-insensitively, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// The shared client.
#[derive(Debug)]
pub struct Http {
    client: reqwest::Client,
    config: HttpConfig,
    limiter: Option<Limiter>,
}

impl Http {
    /// Build the client (rustls, no proxy surprises beyond the environment's).
    pub fn new(config: HttpConfig) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("snapctl/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &config.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| Error::Config {
                message: format!("cannot read the CA certificate: {e}"),
                hint: Some("--cacert expects a PEM file (-----BEGIN CERTIFICATE-----)".into()),
            })?;
            if certs.is_empty() {
                return Err(Error::Config {
                    message: "the CA file holds no PEM certificate".into(),
                    hint: Some("--cacert expects a PEM file (-----BEGIN CERTIFICATE-----)".into()),
                });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if config.insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let client = builder.build().map_err(|e| Error::Config {
            message: format!("cannot set up the HTTP client: {e}"),
            hint: None,
        })?;
        let limiter = config.rate_limit.and_then(Limiter::new);
        Ok(Http {
            client,
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
        loop {
            if let Some(l) = &self.limiter {
                l.acquire().await;
            }
            let req = build()?;
            let started = Instant::now();
            self.trace_request(&req, attempt);
            match self.send_once(&req).await {
                Ok(resp) => {
                    self.trace_response(&resp, started.elapsed());
                    // 413 with Retry-After is OpenStack's rate limit (Cinder `overLimit`).
                    let over_limit =
                        resp.status.as_u16() == 413 && resp.header("retry-after").is_some();
                    // An HTML page where JSON belongs is a proxy or gateway answering for the API.
                    let html = resp.status.is_success()
                        && !resp.body.is_empty()
                        && resp
                            .header("content-type")
                            .is_some_and(|c| c.starts_with("text/html"));
                    let retryable = idempotent
                        && (RETRYABLE.contains(&resp.status.as_u16()) || over_limit || html);
                    if retryable && attempt < self.config.max_attempts {
                        match self.delay_for(attempt, &resp) {
                            Some(delay) => {
                                self.note(&format!(
                                    "{} answered {}; retrying in {} ms (attempt {}/{})",
                                    req.url.path(),
                                    resp.status.as_u16(),
                                    delay.as_millis(),
                                    attempt + 1,
                                    self.config.max_attempts
                                ));
                                tokio::time::sleep(delay).await;
                                attempt += 1;
                                continue;
                            }
                            None => return Ok(resp),
                        }
                    }
                    return Ok(resp);
                }
                Err(err) => {
                    let not_sent = err.is_connect();
                    let detail = describe(&err);
                    // A refused certificate will be refused again: no retry.
                    let tls = detail.contains("certificate");
                    let may_retry = (idempotent || not_sent) && !tls;
                    if may_retry && attempt < self.config.max_attempts {
                        let delay = self.backoff(attempt);
                        self.note(&format!(
                            "{} failed ({detail}); retrying in {} ms (attempt {}/{})",
                            req.url.path(),
                            delay.as_millis(),
                            attempt + 1,
                            self.config.max_attempts
                        ));
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                        continue;
                    }
                    return Err(Error::Transport {
                        action: action.to_string(),
                        detail,
                        maybe_sent: !not_sent,
                        tls,
                    });
                }
            }
        }
    }

    async fn send_once(&self, req: &Outgoing) -> std::result::Result<Incoming, reqwest::Error> {
        let mut builder = self.client.request(req.method.clone(), req.url.clone());
        for h in &req.headers {
            builder = builder.header(h.name, &h.value);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let resp = builder.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        Ok(Incoming {
            status,
            headers,
            body,
        })
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

    fn trace_request(&self, req: &Outgoing, attempt: u32) {
        if self.config.verbosity == 0 {
            return;
        }
        let mut err = std::io::stderr().lock();
        let suffix = if attempt > 1 {
            format!(" (attempt {attempt})")
        } else {
            String::new()
        };
        let _ = writeln!(err, "> {} {}{suffix}", req.method, req.url);
        if self.config.verbosity >= 2 {
            for h in &req.headers {
                let v = if h.sensitive { "***" } else { h.value.as_str() };
                let _ = writeln!(err, "> {}: {v}", h.name);
            }
            if let Some(body) = &req.body {
                if req.body_sensitive {
                    let _ = writeln!(err, "> [body of {} bytes redacted]", body.len());
                } else {
                    let _ = writeln!(err, "> {}", clip(body));
                }
            }
        }
    }

    fn trace_response(&self, resp: &Incoming, elapsed: Duration) {
        if self.config.verbosity == 0 {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "< {} in {} ms", resp.status, elapsed.as_millis());
        if self.config.verbosity >= 2 {
            for (name, value) in &resp.headers {
                let v = if SENSITIVE_RESPONSE_HEADERS.contains(&name.as_str()) {
                    "***"
                } else {
                    value.to_str().unwrap_or("<binary>")
                };
                let _ = writeln!(err, "< {name}: {v}");
            }
            if !resp.body.is_empty() {
                let _ = writeln!(err, "< {}", clip(&resp.body));
            }
        }
    }
}

/// A body for the trace: text, clipped to 4 KiB.
fn clip(body: &[u8]) -> String {
    const MAX: usize = 4096;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]).into_owned();
    if body.len() > MAX {
        format!("{text}… [{} more bytes]", body.len() - MAX)
    } else {
        text
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

    #[tokio::test(start_paused = true)]
    async fn the_limiter_lets_a_burst_through_then_spaces_requests() {
        let l = Limiter::new(RateLimit {
            per_second: 2.0,
            burst: 3,
        })
        .expect("limited");
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            l.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst goes at once");
        for _ in 0..4 {
            l.acquire().await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "then one every 500 ms"
        );
        assert!(
            Limiter::new(RateLimit {
                per_second: 0.0,
                burst: 1
            })
            .is_none()
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
