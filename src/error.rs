//! The one error type of snapctl and its mapping to documented exit codes.
//!
//! Every failure a user can see is a variant here: its `Display` is the one line saying what failed,
//! `hint()` is the optional second line saying what to do, and `exit_code()` is the number scripts
//! branch on (the table lives in docs/output.md and in [`Exit`]). This module never formats secrets:
//! nothing that reaches it carries a credential.

use std::fmt;
use std::time::Duration;

use crate::kind::ProviderKind;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The request a `--dry-run` stopped: the first one the real run would send that changes
/// something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WouldSend {
    /// Method and URL (without query) of the request that was not sent.
    pub request: String,
    /// Whether the provider's own dry-run API confirmed it would be allowed (OUTSCALE).
    pub checked_by_provider: bool,
}

/// What a call that may change something came to: done, or, under `--dry-run`, stopped at the
/// request it would send next. A dry run's stop is a success, so commands match on this rather
/// than on an error.
#[derive(Debug)]
pub enum Outcome<T> {
    /// It ran (or changed nothing).
    Done(T),
    /// `--dry-run` stopped it here.
    WouldSend(WouldSend),
}

impl<T> Outcome<T> {
    /// The one place where a dry run's stop leaves the error path: every other error stays one.
    pub fn of(r: Result<T>) -> Result<Outcome<T>> {
        match r {
            Ok(t) => Ok(Outcome::Done(t)),
            Err(Error::DryRunStop(w)) => Ok(Outcome::WouldSend(w)),
            Err(e) => Err(e),
        }
    }
}

/// Documented process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// Any failure not covered by a more specific code.
    Failure = 1,
    /// Usage error or invalid input (nothing was sent).
    Usage = 2,
    /// The provider does not offer this operation (or it is not built yet).
    Unsupported = 3,
    /// The volume, snapshot or other object does not exist.
    NotFound = 4,
    /// Authentication or configuration problem.
    Auth = 5,
    /// Some items of a batch failed; the others were done and reported.
    Partial = 6,
    /// Timed out waiting for an operation to finish.
    Timeout = 7,
    /// Another run holds the lock.
    Locked = 8,
    /// Refused for safety.
    Refused = 9,
    /// `policy apply` made its changes but could not write its `report_file` or `metrics_file`
    /// (the whole report went to stdout).
    Unreported = 11,
    /// Stopped by SIGINT/SIGTERM (what was done is reported).
    Interrupted = 130,
}

/// An error answered by a provider's API, with everything support will ask for.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Which provider answered.
    pub provider: ProviderKind,
    /// What snapctl was doing, phrased to follow "cannot": `list snapshots of share 6b1e…`.
    pub action: String,
    /// HTTP status code.
    pub status: u16,
    /// The provider's own error code (`INVALID_SIGNATURE`, `InvalidParameterValue`, …).
    pub code: Option<String>,
    /// The provider's own message.
    pub message: String,
    /// Name of the header carrying the request id (`X-Ovh-QueryID`, …).
    pub request_id_header: &'static str,
    /// The request id, when the API returned one.
    pub request_id: Option<String>,
    /// What to do about it, when we know.
    pub hint: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Message, code and request id come from the server: no control characters, one line.
        use crate::text::{MAX_QUOTED_BODY, one_line};
        write!(
            f,
            "cannot {}: {} ({}",
            self.action,
            one_line(&self.message, MAX_QUOTED_BODY),
            self.status
        )?;
        if let Some(code) = &self.code {
            write!(f, " {}", one_line(code, 128))?;
        }
        if let Some(id) = &self.request_id {
            write!(f, ", {} {}", self.request_id_header, one_line(id, 256))?;
        }
        write!(f, ")")
    }
}

impl ApiError {
    /// The error for this answer: `NotFound` (exit 4) for a 404 or when the provider's own code
    /// says the object does not exist (`missing`), `Api` otherwise.
    pub fn into_error(self, missing: bool) -> Error {
        if matches!(self.status, 401 | 403) {
            return Error::Unauthorized(Box::new(self));
        }
        if self.status == 404 || missing {
            Error::NotFound(Box::new(self))
        } else {
            Error::Api(Box::new(self))
        }
    }
}

/// Header carrying an S3 API's request id (OOS, the state store).
pub const S3_REQUEST_ID: &str = "x-amz-request-id";

/// An error answer of the state store.
#[derive(Debug)]
pub struct StoreError {
    /// What snapctl was doing, phrased to follow "cannot".
    pub action: String,
    /// The store (`s3://BUCKET/PREFIX`).
    pub store: String,
    /// HTTP status.
    pub status: u16,
    /// S3's own code (`NoSuchBucket`, `AccessDenied`, …).
    pub code: Option<String>,
    /// S3's own message.
    pub message: String,
    /// The request id, when the store sent one.
    pub request_id: Option<String>,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Code, message and id are server text: one line, no control characters.
        use crate::text::{MAX_QUOTED_BODY, one_line};
        write!(
            f,
            "cannot {} in {}: {} ({}",
            self.action,
            self.store,
            one_line(&self.message, MAX_QUOTED_BODY),
            self.status
        )?;
        if let Some(code) = &self.code {
            write!(f, " {}", one_line(code, 128))?;
        }
        if let Some(id) = &self.request_id {
            write!(f, ", {S3_REQUEST_ID} {}", one_line(id, 256))?;
        }
        write!(f, ")")
    }
}

impl StoreError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        match (self.status, self.code.as_deref()) {
            (_, Some("NoSuchBucket")) => {
                "create the bucket with the state profile's keys (snapctl never creates it)".into()
            }
            (401 | 403, _) => {
                "the state profile's keys must be allowed to read, write and delete objects under the prefix".into()
            }
            (s, _) if s >= 500 => "the store answered a server error: retry later".into(),
            _ => "check state and state_profile in the policy file".into(),
        }
    }
}

/// Every way snapctl can fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command line or input; nothing was sent.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },

    /// An identifier or value failed validation before any request.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        /// What the value is (`share id`, `snapshot id`, …).
        what: &'static str,
        /// The value as typed.
        value: String,
        /// Why it is rejected.
        reason: String,
    },

    /// The operation exists in snapctl but this provider's API does not offer it.
    #[error("{operation} is not supported by {provider}")]
    Unsupported {
        /// Provider asked.
        provider: ProviderKind,
        /// Operation asked.
        operation: &'static str,
        /// What the provider offers instead.
        hint: String,
    },

    /// The object does not exist.
    #[error("{0}")]
    NotFound(Box<ApiError>),

    /// Configuration or credentials are missing or wrong (before any request).
    #[error("{message}")]
    Config {
        /// What is wrong.
        message: String,
        /// Where to fix it.
        hint: Option<String>,
    },

    /// The API answered with an error.
    #[error("{0}")]
    Api(Box<ApiError>),

    /// The state store (the policy file's `state` bucket) answered with an error.
    #[error("{0}")]
    Store(Box<StoreError>),

    /// The API refused the credentials, whatever the HTTP status said (OVH answers a wrong
    /// secret with 400 `INVALID_SIGNATURE`).
    #[error("{0}")]
    Unauthorized(Box<ApiError>),

    /// The request never got an answer (DNS, connect, TLS, timeout, broken body).
    #[error("cannot {action}: {detail}")]
    Transport {
        /// What snapctl was doing.
        action: String,
        /// What went wrong on the wire, without URL credentials.
        detail: String,
        /// Whether the request may have reached the server.
        maybe_sent: bool,
        /// Whether TLS verification refused the server's certificate.
        tls: bool,
    },

    /// Not a failure: the carrier of a `--dry-run`'s stop. The transport stops the first request
    /// that would change something and unwinds with it through the provider's `?`s, so a dry run
    /// walks exactly the real run's path; [`Outcome::of`] turns it back into what it is, an
    /// outcome, at the command that asked. It reaches a user as an error only if a command
    /// forgot to ask (a bug).
    #[error("dry run: the next request would change something: {}", .0.request)]
    DryRunStop(WouldSend),

    /// The server answered with a redirect, which snapctl never follows.
    #[error(
        "cannot {action}: the server answered {status} redirecting to {location}; snapctl does not follow redirects"
    )]
    Redirected {
        /// What snapctl was doing.
        action: String,
        /// The 3xx status.
        status: u16,
        /// The `Location` header, sanitised.
        location: String,
    },

    /// The response body was larger than the cap.
    #[error("cannot {action}: the response is larger than the {} cap{}", crate::text::bytes(*limit), declared.map(|d| format!(" (Content-Length {})", crate::text::bytes(d))).unwrap_or_default())]
    ResponseTooLarge {
        /// What snapctl was doing.
        action: String,
        /// The cap in bytes.
        limit: u64,
        /// The size the server declared, if it did.
        declared: Option<u64>,
    },

    /// The responses being read at once by the whole process (concurrent policies, accounts and
    /// batches) went over the process-wide budget.
    #[error("cannot {action}: the responses held at once would exceed snapctl's {} memory budget for API answers", crate::text::bytes(*budget))]
    ResponsesTooLarge {
        /// What snapctl was doing.
        action: String,
        /// The budget in bytes.
        budget: u64,
    },

    /// The API answered 2xx with a body snapctl cannot read.
    #[error("cannot {action}: unexpected response from {provider}: {detail}")]
    Decode {
        /// Provider.
        provider: ProviderKind,
        /// What snapctl was doing.
        action: String,
        /// Parser message.
        detail: String,
    },

    /// An operation reached a failed terminal state.
    #[error("{what} failed: {state}{}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    OperationFailed {
        /// What was being waited for.
        what: String,
        /// The provider's state word.
        state: String,
        /// The provider's explanation, if any.
        message: Option<String>,
    },

    /// `--wait` ran out of time.
    #[error("timed out after {} waiting for {what} (last state: {last_state})", humanize(*after))]
    Timeout {
        /// What was being waited for.
        what: String,
        /// The deadline that passed.
        after: Duration,
        /// The last state seen.
        last_state: String,
    },

    /// Some items of a batch failed.
    #[error("{failed} of {total} {what} failed")]
    Partial {
        /// How many failed.
        failed: usize,
        /// How many were attempted.
        total: usize,
        /// What the items are (`snapshot deletions`).
        what: &'static str,
    },

    /// Another runner holds the policy file's lease in the state store.
    #[error("another runner ({holder}) holds the lease {lease} until {until}")]
    Leased {
        /// The lease object (`s3://BUCKET/PREFIX/lease-….json`).
        lease: String,
        /// Its holder (`HOST:PID:NONCE`), as the lease says it.
        holder: String,
        /// When it expires unless renewed.
        until: String,
    },

    /// Another run holds the lock.
    #[error("another snapctl run (pid {holder}) holds the lock {path}")]
    Locked {
        /// Lock file path.
        path: String,
        /// The holder's pid, as written in the lock file.
        holder: String,
    },

    /// An error reported once already (in a run's report) and now ending the run: the same
    /// message, exit code and hint.
    #[error(transparent)]
    Carried(std::sync::Arc<Error>),

    /// Refused for safety.
    #[error("{reason}")]
    Refused {
        /// Why.
        reason: String,
        /// How to proceed deliberately.
        hint: Option<String>,
    },

    /// A run's changes were made but its report or metrics could not be written.
    #[error("the run is not fully reported: {failed}")]
    Unreported {
        /// Each file that could not be written, and why.
        failed: String,
    },

    /// SIGINT/SIGTERM stopped the command before it finished.
    #[error("interrupted: {done}")]
    Interrupted {
        /// What was done and what was not.
        done: String,
    },

    /// Local I/O (config files, terminal).
    #[error("{action}: {source}")]
    Io {
        /// What snapctl was doing.
        action: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl Error {
    /// Shorthand for a usage error without hint.
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: None,
        }
    }

    /// The documented exit code for this error.
    pub fn exit_code(&self) -> Exit {
        match self {
            Error::Carried(e) => e.exit_code(),
            Error::Usage { .. } | Error::InvalidInput { .. } => Exit::Usage,
            Error::Unsupported { .. } => Exit::Unsupported,
            Error::NotFound(_) => Exit::NotFound,
            Error::Unauthorized(_) => Exit::Auth,
            Error::Config { .. } => Exit::Auth,
            Error::Api(api) => match api.status {
                401 | 403 => Exit::Auth,
                404 => Exit::NotFound,
                _ => Exit::Failure,
            },
            Error::Store(e) => match e.status {
                401 | 403 => Exit::Auth,
                _ => Exit::Failure,
            },
            Error::Timeout { .. } => Exit::Timeout,
            Error::Partial { .. } => Exit::Partial,
            Error::Unreported { .. } => Exit::Unreported,
            Error::Locked { .. } | Error::Leased { .. } => Exit::Locked,
            Error::Refused { .. } => Exit::Refused,
            Error::Interrupted { .. } => Exit::Interrupted,
            Error::Transport { .. }
            | Error::DryRunStop(_)
            | Error::Redirected { .. }
            | Error::ResponseTooLarge { .. }
            | Error::ResponsesTooLarge { .. }
            | Error::Decode { .. }
            | Error::OperationFailed { .. }
            | Error::Io { .. } => Exit::Failure,
        }
    }

    /// The second line: what to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Carried(e) => e.hint(),
            Error::Usage { hint, .. } | Error::Config { hint, .. } | Error::Refused { hint, .. } => {
                hint.clone()
            }
            Error::Unsupported { hint, .. } => Some(hint.clone()),
            Error::NotFound(api) | Error::Api(api) | Error::Unauthorized(api) => api.hint.clone(),
            Error::Store(e) => Some(e.hint()),
            Error::Transport { tls: true, .. } => Some(
                "the server's certificate is not trusted: pass its CA with --cacert FILE (PowerVC: a copy of /etc/pki/tls/certs/powervc.crt) or OS_CACERT, and check the host name in the URL".into(),
            ),
            Error::Transport { maybe_sent, .. } => Some(if *maybe_sent {
                "the request may have reached the server: check with a list before retrying a create".into()
            } else {
                "check the endpoint and your network, then run the command again".into()
            }),
            Error::Redirected { .. } => Some(
                "none of these APIs redirect: check the endpoint (a proxy, a moved host or a hostile server answers for it) and set --endpoint to the real API URL".into(),
            ),
            Error::ResponseTooLarge { .. } => Some(
                "if the endpoint is genuine and the list really is that long, raise --max-response-size; otherwise check the endpoint".into(),
            ),
            Error::ResponsesTooLarge { .. } => Some(
                "several endpoints answered huge lists at once: check them, or raise --max-response-size (the budget is twice it, 32 MiB at least)".into(),
            ),
            Error::Timeout { .. } => Some(
                "the operation goes on server-side; raise --timeout or check later with a show command"
                    .into(),
            ),
            Error::Partial { .. } => {
                Some("the failed items are listed above; the others were done".into())
            }
            Error::Locked { .. } => Some(
                "wait for the other run to finish (the kernel releases the lock when it exits), or pass --lock-wait DURATION".into(),
            ),
            Error::Leased { .. } => Some(
                "wait for the other runner to finish (--lock-wait DURATION waits); a runner that died leaves its lease to expire (lease_ttl)".into(),
            ),
            Error::Interrupted { .. } => {
                Some("the output lists what was done; run the command again for the rest".into())
            }
            Error::Unreported { .. } => Some(
                "the report on stdout says what the run did; make the directory writable (monitoring reads these files)".into(),
            ),
            Error::InvalidInput { .. }
            | Error::DryRunStop(_)
            | Error::Decode { .. }
            | Error::OperationFailed { .. }
            | Error::Io { .. } => None,
        }
    }
}

/// `90s` → `1m 30s`, for messages.
pub fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_dry_run_stop_becomes_an_outcome() {
        let stop = WouldSend {
            request: "DELETE http://127.0.0.1:1/v1/x".into(),
            checked_by_provider: false,
        };
        assert!(matches!(
            Outcome::of(Err::<(), _>(Error::DryRunStop(stop.clone()))),
            Ok(Outcome::WouldSend(w)) if w == stop
        ));
        assert!(matches!(Outcome::of(Ok(7)), Ok(Outcome::Done(7))));
        assert!(matches!(
            Outcome::<()>::of(Err(Error::usage("no"))),
            Err(Error::Usage { .. })
        ));
    }

    fn api(status: u16) -> ApiError {
        ApiError {
            provider: ProviderKind::OvhEfs,
            action: "delete snapshot 3f1e".into(),
            status,
            code: Some("CONFLICT".into()),
            message: "busy".into(),
            request_id_header: "X-Ovh-QueryID",
            request_id: Some("EU.ext-3.63ac".into()),
            hint: None,
        }
    }

    #[test]
    fn api_error_line_names_code_status_and_query_id() {
        assert_eq!(
            api(409).to_string(),
            "cannot delete snapshot 3f1e: busy (409 CONFLICT, X-Ovh-QueryID EU.ext-3.63ac)"
        );
    }

    #[test]
    fn api_status_maps_to_exit_codes() {
        assert_eq!(Error::Api(Box::new(api(403))).exit_code(), Exit::Auth);
        assert_eq!(Error::Api(Box::new(api(401))).exit_code(), Exit::Auth);
        assert_eq!(Error::Api(Box::new(api(404))).exit_code(), Exit::NotFound);
        assert_eq!(Error::Api(Box::new(api(500))).exit_code(), Exit::Failure);
    }

    #[test]
    fn humanize_reads_like_a_person() {
        assert_eq!(humanize(Duration::from_secs(90)), "1m 30s");
        assert_eq!(humanize(Duration::from_secs(3600)), "1h");
        assert_eq!(humanize(Duration::from_millis(250)), "250ms");
    }
}
