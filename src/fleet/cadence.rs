//! When a policy's snapshot is due: the last tick of its cadence at or before now. A fixed
//! `every` ticks on multiples of its length counted from the Unix epoch in the file's time zone
//! (`every = "1d"` ticks at local midnight); a `cron` ticks where POSIX cron would fire (croner:
//! day-of-month and day-of-week OR'ed as cron does), read in the file's time zone.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// A policy's cadence.
#[derive(Debug, Clone)]
pub enum Cadence {
    /// Every N seconds.
    Every(u64),
    /// A cron expression.
    Cron(Box<croner::Cron>),
}

impl Cadence {
    /// Parse a five-field cron expression (`MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK`).
    pub fn cron(text: &str) -> Result<Cadence, String> {
        croner::parser::CronParser::builder()
            .build()
            .parse(text)
            .map(|c| Cadence::Cron(Box::new(c)))
            .map_err(|e| format!("{text:?}: {e}"))
    }

    /// The last tick at or before `now`, in `tz`.
    pub fn last_tick(&self, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let offset = i64::from(tz.to_offset(now).seconds());
        match self {
            Cadence::Every(secs) => {
                let secs = i64::try_from(*secs).ok()?;
                let local = now.as_second() + offset;
                Timestamp::from_second(local.div_euclid(secs) * secs - offset).ok()
            }
            Cadence::Cron(c) => previous(c, now, offset, true),
        }
    }

    /// How long between two ticks: the length of `every`, or the gap between a cron's last two
    /// ticks before `now`.
    pub fn interval(&self, now: Timestamp, tz: &TimeZone) -> SignedDuration {
        match self {
            Cadence::Every(secs) => SignedDuration::from_secs(i64::try_from(*secs).unwrap_or(0)),
            Cadence::Cron(c) => {
                let offset = i64::from(tz.to_offset(now).seconds());
                match previous(c, now, offset, true)
                    .and_then(|last| Some((last, previous(c, last, offset, false)?)))
                {
                    Some((last, before)) => last.duration_since(before),
                    None => SignedDuration::from_hours(24),
                }
            }
        }
    }
}

/// croner works on jiff 0.2 values; ours are jiff 1. Instants cross as Unix seconds, the zone as
/// the fixed offset in force at `now`.
fn previous(c: &croner::Cron, at: Timestamp, offset: i64, inclusive: bool) -> Option<Timestamp> {
    let off = jiff02::tz::Offset::from_seconds(i32::try_from(offset).ok()?).ok()?;
    let t = jiff02::Timestamp::from_second(at.as_second())
        .ok()?
        .to_zoned(jiff02::tz::TimeZone::fixed(off));
    let prev = c.find_previous_occurrence(&t, inclusive).ok()?;
    Timestamp::from_second(prev.timestamp().as_second()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn every_ticks_on_multiples_in_the_zone() {
        let utc = TimeZone::UTC;
        let hourly = Cadence::Every(3600);
        assert_eq!(
            hourly.last_tick(ts("2026-11-25T17:42:10Z"), &utc),
            Some(ts("2026-11-25T17:00:00Z"))
        );
        let paris = TimeZone::get("Europe/Paris").expect("tz");
        assert_eq!(
            Cadence::Every(86_400).last_tick(ts("2026-11-25T17:42:10Z"), &paris),
            Some(ts("2026-11-24T23:00:00Z")),
            "local midnight"
        );
        assert_eq!(
            hourly.interval(ts("2026-11-25T17:42:10Z"), &utc).as_secs(),
            3600
        );
    }

    #[test]
    fn cron_ticks_where_cron_fires() {
        let utc = TimeZone::UTC;
        let six = Cadence::cron("0 */6 * * *").expect("cron");
        assert_eq!(
            six.last_tick(ts("2026-11-25T17:42:10Z"), &utc),
            Some(ts("2026-11-25T12:00:00Z"))
        );
        assert_eq!(
            six.last_tick(ts("2026-11-25T18:00:00Z"), &utc),
            Some(ts("2026-11-25T18:00:00Z")),
            "a tick at now counts"
        );
        assert_eq!(
            six.interval(ts("2026-11-25T17:42:10Z"), &utc).as_secs(),
            6 * 3600
        );
        // 0 is Sunday, as in POSIX cron: 2026-11-22 is a Sunday.
        let sunday = Cadence::cron("30 2 * * 0").expect("cron");
        assert_eq!(
            sunday.last_tick(ts("2026-11-25T17:42:10Z"), &utc),
            Some(ts("2026-11-22T02:30:00Z"))
        );
        assert!(Cadence::cron("61 * * * *").is_err());
    }
}
