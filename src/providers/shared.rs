//! Client behaviour every provider shares, written once: the call loop that renews stale
//! credentials once, the dry-run probe of a DELETE, and the API time format.

use std::future::Future;

use jiff::Timestamp;
use reqwest::Method;

use crate::error::{Error, Result};
use crate::http::Incoming;

/// One API call the way every client makes it: `send(renew)` sends it with the current
/// credentials (`renew` = true asks for fresh ones first: a new token, a new clock delta); a
/// success (`done`), or a retried DELETE finding nothing (the earlier attempt took effect), is the
/// answer; an error that says the credentials were stale (`stale`: a 401, OVH's
/// `QUERY_TIME_OUT`, rejected before processing) renews them and repeats the call once; any other
/// answer becomes `error(answer)`.
pub async fn call_renewing_once<S, Fut>(
    method: &Method,
    mut send: S,
    done: impl Fn(&Incoming) -> bool,
    error: impl Fn(&Incoming) -> Error,
    stale: impl Fn(&Incoming, &Error) -> bool,
) -> Result<Incoming>
where
    S: FnMut(bool) -> Fut,
    Fut: Future<Output = Result<Incoming>>,
{
    let mut renewed = false;
    loop {
        let resp = send(renewed).await?;
        if done(&resp) || (method == Method::DELETE && resp.retried_delete_found_nothing()) {
            return Ok(resp);
        }
        let err = error(&resp);
        if !renewed && stale(&resp, &err) {
            renewed = true;
            continue;
        }
        return Err(err);
    }
}

/// A dry run never sends a DELETE, and neither OVH nor Cinder has a flag to check one: `get`
/// asks whether its target exists, so a missing one is refused as the real run's 404 is. Any
/// other answer (a 405 on a URL without GET, say) leaves the verdict to the API.
pub async fn probe_delete(
    method: &Method,
    dry_run: bool,
    get: impl Future<Output = Result<Incoming>>,
) -> Result<()> {
    if method == Method::DELETE
        && dry_run
        && let Err(e @ Error::NotFound(_)) = get.await
    {
        return Err(e);
    }
    Ok(())
}

/// A time as the APIs write it: RFC 3339 (OUTSCALE, OVH, Keystone), or naive UTC as Cinder
/// writes it (`2016-02-11T09:58:34.000000`). Anything else is no time.
pub fn api_time(s: Option<&str>) -> Option<Timestamp> {
    let s = s?;
    s.parse::<Timestamp>().ok().or_else(|| {
        s.parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_times_are_rfc3339_or_naive_utc() {
        let want: Timestamp = "2016-02-11T09:58:34Z".parse().expect("time");
        for s in [
            "2016-02-11T09:58:34Z",
            "2016-02-11T09:58:34.000Z",
            "2016-02-11T10:58:34+01:00",
            "2016-02-11T09:58:34.000000",
            "2016-02-11T09:58:34",
        ] {
            assert_eq!(api_time(Some(s)), Some(want), "{s}");
        }
        assert_eq!(api_time(Some("yesterday")), None);
        assert_eq!(api_time(None), None);
    }

    fn answer(status: u16) -> Incoming {
        Incoming {
            status: reqwest::StatusCode::from_u16(status).expect("status"),
            headers: Default::default(),
            body: Vec::new(),
            attempt: 1,
            hold: Default::default(),
        }
    }

    #[tokio::test]
    async fn stale_credentials_are_renewed_once_and_the_call_repeated_once() {
        let run = |statuses: Vec<u16>| async move {
            let mut sent = Vec::new();
            let out = call_renewing_once(
                &Method::GET,
                |renew| {
                    sent.push(renew);
                    let s = statuses[sent.len() - 1];
                    async move { Ok(answer(s)) }
                },
                |r| r.status.is_success(),
                |r| Error::usage(format!("status {}", r.status.as_u16())),
                |r, _| r.status.as_u16() == 401,
            )
            .await
            .map(|r| r.status.as_u16())
            .map_err(|e| e.to_string());
            (out, sent)
        };
        assert_eq!(run(vec![200]).await, (Ok(200), vec![false]));
        assert_eq!(run(vec![401, 200]).await, (Ok(200), vec![false, true]));
        // Renewed once only: a second 401 is the answer.
        let (out, sent) = run(vec![401, 401, 200]).await;
        assert_eq!(sent, vec![false, true]);
        assert!(out.unwrap_err().contains("status 401"));
        // Other errors are never repeated.
        let (out, sent) = run(vec![500, 200]).await;
        assert_eq!(sent, vec![false]);
        assert!(out.unwrap_err().contains("status 500"));
    }
}
