//! The `-v`/`-vv` request trace on stderr: one line per request and answer, then (with `-vv`)
//! headers and bodies with credentials, tokens and pre-signed URL query strings redacted.

use std::io::Write;
use std::time::Duration;

use super::{Http, Incoming, Outgoing, SENSITIVE_RESPONSE_HEADERS};

impl Http {
    pub(super) fn trace_request(&self, req: &Outgoing, attempt: u32) {
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

    pub(super) fn trace_response(&self, resp: &Incoming, elapsed: Duration) {
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
    let text = crate::text::sanitize(&crate::text::redact_signed_urls(&String::from_utf8_lossy(
        &body[..body.len().min(MAX)],
    )));
    if body.len() > MAX {
        format!("{text}… [{} more bytes]", body.len() - MAX)
    } else {
        text
    }
}
