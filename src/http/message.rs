//! What goes out and what comes back: a signed [`Outgoing`] request per attempt, its [`Effect`]
//! (a dry run stops writes), and the [`Incoming`] answer read whole. `Debug` never shows a
//! credential.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};

use super::SENSITIVE_RESPONSE_HEADERS;

/// A header to send; `sensitive` ones print as `***` in traces and in `Debug`.
#[derive(Clone)]
pub struct Header {
    /// Name.
    pub name: &'static str,
    /// Value.
    pub value: String,
    /// Whether the value is a credential.
    pub sensitive: bool,
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.sensitive { "***" } else { &self.value };
        write!(f, "{}: {value}", self.name)
    }
}

/// One attempt's request, signed by the provider.
#[derive(Clone)]
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
    /// Whether sending this changes anything (a dry run stops it).
    pub effect: Effect,
}

/// What a request does to the provider's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only (GET, OUTSCALE `Read*`, Keystone authentication, an OUTSCALE `DryRun` call).
    Read,
    /// Changes something.
    Write,
}

impl std::fmt::Debug for Outgoing {
    /// Never the body (it may hold a password or a pre-signed URL), only its size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .field("effect", &self.effect)
            .finish()
    }
}

impl Outgoing {
    /// A request with no headers and no body; GET and HEAD read, every other method writes.
    pub fn new(method: Method, url: Url) -> Self {
        let effect = if matches!(method, Method::GET | Method::HEAD) {
            Effect::Read
        } else {
            Effect::Write
        };
        Outgoing {
            method,
            url,
            headers: Vec::new(),
            body: None,
            body_sensitive: false,
            effect,
        }
    }

    /// Mark a request that only reads although its method is not GET (RPC-style reads,
    /// authentication).
    pub fn reading(mut self) -> Self {
        self.effect = Effect::Read;
        self
    }

    /// Add a header that may be shown (traces, dry runs).
    pub fn header(self, name: &'static str, value: impl Into<String>) -> Self {
        self.with_header(name, value.into(), false)
    }

    /// Add a header that carries a secret or a signature: traces and dry runs show it masked.
    pub fn secret_header(self, name: &'static str, value: impl Into<String>) -> Self {
        self.with_header(name, value.into(), true)
    }

    fn with_header(mut self, name: &'static str, value: String, sensitive: bool) -> Self {
        self.headers.push(Header {
            name,
            value,
            sensitive,
        });
        self
    }
}

/// A response, read whole.
#[derive(Clone)]
pub struct Incoming {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Which attempt this answered (1 for the first). An answer to a retry may describe the
    /// effect of an earlier attempt: a retried DELETE that finds nothing did its job.
    pub attempt: u32,
    /// The body's claim on the process-wide budget for answers, given back with the last copy.
    pub hold: std::sync::Arc<super::BodyHold>,
}

impl Incoming {
    /// Whether this is a retried delete finding the object gone (404): the earlier attempt took
    /// effect, so the delete succeeded.
    pub fn retried_delete_found_nothing(&self) -> bool {
        self.attempt > 1 && self.status == StatusCode::NOT_FOUND
    }
}

impl std::fmt::Debug for Incoming {
    /// Headers with tokens redacted, and the body's size only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let v = if SENSITIVE_RESPONSE_HEADERS.contains(&name.as_str()) {
                    "***"
                } else {
                    value.to_str().unwrap_or("<binary>")
                };
                format!("{name}: {v}")
            })
            .collect();
        f.debug_struct("Incoming")
            .field("status", &self.status)
            .field("headers", &headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl Incoming {
    /// The body as an error message when it is not the provider's JSON: its text, or the status's
    /// reason phrase when it is empty (what go-ovh and the OpenStack clients do).
    pub fn raw_message(&self) -> String {
        // Clipped (an HTML error page can be megabytes) and stripped of control characters.
        let head = &self.body[..self.body.len().min(crate::text::MAX_QUOTED_BODY * 4)];
        let text = crate::text::one_line(
            String::from_utf8_lossy(head).trim(),
            crate::text::MAX_QUOTED_BODY,
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_requests_and_responses_never_shows_a_credential() {
        let url = Url::parse("https://eu.api.ovh.com/1.0/auth/time").expect("url");
        let mut req = Outgoing::new(Method::POST, url)
            .secret_header("X-Ovh-Consumer", "ck-secret-value")
            .header("Content-Type", "application/json");
        req.body = Some(br#"{"password": "pw-secret-value"}"#.to_vec());
        req.body_sensitive = true;
        let dbg = format!("{req:?}");
        assert!(dbg.contains("Content-Type: application/json"), "{dbg}");
        assert!(
            !dbg.contains("ck-secret-value") && !dbg.contains("pw-secret-value"),
            "{dbg}"
        );

        let mut headers = HeaderMap::new();
        headers.insert(
            "x-subject-token",
            "tok-secret-value".parse().expect("value"),
        );
        let resp = Incoming {
            status: StatusCode::CREATED,
            headers,
            body: b"{}".to_vec(),
            attempt: 1,
            hold: Default::default(),
        };
        let dbg = format!("{resp:?}");
        assert!(!dbg.contains("tok-secret-value"), "{dbg}");
    }
}
