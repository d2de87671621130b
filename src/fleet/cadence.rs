//! When a policy's snapshot is due: the last tick of its cadence at or before now.
//!
//! Ticks are local wall-clock times in the file's time zone, each placed at the UTC offset in force
//! at that instant (never today's offset applied to an earlier day):
//! - a fixed `every` ticks where the local time is a multiple of its length counted from the Unix
//!   epoch (`every = "1d"` ticks at local midnight, `"6h"` at 00:00, 06:00, 12:00, 18:00);
//! - a `cron` ticks where POSIX cron would fire (croner: day-of-month and day-of-week OR'ed as cron
//!   does).
//!
//! Daylight saving: a local time the clocks skip (spring forward) ticks at the instant the same
//! distance past the jump (02:30 → 03:30 summer time, as RFC 5545 and Temporal's "compatible"
//! rule do); a local time the clocks repeat (fall back) ticks once for `cron`, at its first
//! occurrence, as cronie and vixie cron fire once, and at each occurrence for `every`, so that
//! `every = "1h"` stays an hour apart through the repeated hour.

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// A policy's cadence.
#[derive(Debug, Clone)]
pub enum Cadence {
    /// Every N seconds.
    Every(u64),
    /// A cron expression.
    Cron(Box<croner::Cron>),
}

/// How far back a tick is looked for: a cadence with no tick in this window never fires
/// (`0 0 30 2 *`), and `policy validate` refuses it.
pub const HORIZON_YEARS: i16 = 8;

impl Cadence {
    /// Parse a five-field cron expression (`MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK`).
    pub fn cron(text: &str) -> Result<Cadence, String> {
        croner::parser::CronParser::builder()
            .build()
            .parse(text)
            .map(|c| Cadence::Cron(Box::new(c)))
            .map_err(|e| format!("{text:?}: {e}"))
    }

    /// The last tick at or before `now`, in `tz`; `None` when there is none within
    /// [`HORIZON_YEARS`].
    pub fn last_tick(&self, now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let civil_now = now.as_second() + i64::from(tz.to_offset(now).seconds());
        let horizon = civil_now - i64::from(HORIZON_YEARS) * 366 * 86_400;
        match self {
            Cadence::Every(secs) => {
                let secs = i64::try_from(*secs).ok().filter(|s| *s > 0)?;
                let mut k = civil_now.div_euclid(secs) * secs;
                // A few steps back cover a tick pushed past now by a transition.
                for _ in 0..4 {
                    if k < horizon {
                        return None;
                    }
                    let best = instants(k, tz, true)?
                        .into_iter()
                        .filter(|t| *t <= now)
                        .max();
                    if best.is_some() {
                        return best;
                    }
                    k -= secs;
                }
                None
            }
            Cadence::Cron(c) => {
                let mut civil = previous_civil(c, civil_now, true)?;
                loop {
                    if civil < horizon {
                        return None;
                    }
                    if let Some(t) = instants(civil, tz, false)?.into_iter().find(|t| *t <= now) {
                        return Some(t);
                    }
                    civil = previous_civil(c, civil, false)?;
                }
            }
        }
    }

    /// How long between two ticks: the gap between the last tick before `now` and the one before
    /// it (24 hours when there are not two).
    pub fn interval(&self, now: Timestamp, tz: &TimeZone) -> SignedDuration {
        if let Cadence::Every(secs) = self {
            return SignedDuration::from_secs(i64::try_from(*secs).unwrap_or(0));
        }
        match self.last_tick(now, tz).and_then(|last| {
            let before = self.last_tick(last - SignedDuration::from_secs(1), tz)?;
            Some(last.duration_since(before))
        }) {
            Some(gap) => gap,
            None => SignedDuration::from_hours(24),
        }
    }
}

/// The instants of the local wall-clock time `civil` (seconds since the epoch, read as local):
/// one, or for a repeated time both (`every`) or the first (`cron`), or for a skipped time the
/// instant as far past the jump as the time was past its start.
fn instants(civil: i64, tz: &TimeZone, each_repeat: bool) -> Option<Vec<Timestamp>> {
    let dt: DateTime = Timestamp::from_second(civil)
        .ok()?
        .to_zoned_datetime(TimeZone::UTC)
        .datetime();
    let at = |offset: jiff::tz::Offset| Timestamp::from_second(civil - i64::from(offset.seconds()));
    Some(match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => vec![at(offset).ok()?],
        AmbiguousOffset::Gap { before, .. } => vec![at(before).ok()?],
        AmbiguousOffset::Fold { before, after } if each_repeat => {
            vec![at(before).ok()?, at(after).ok()?]
        }
        AmbiguousOffset::Fold { before, .. } => vec![at(before).ok()?],
    })
}

/// croner works on jiff 0.2 values; ours are jiff 1. The search runs on local wall-clock time
/// (seconds read as UTC), so each tick's own offset is applied afterwards by [`instants`].
fn previous_civil(c: &croner::Cron, civil: i64, inclusive: bool) -> Option<i64> {
    let t = jiff02::Timestamp::from_second(civil)
        .ok()?
        .to_zoned(jiff02::tz::TimeZone::UTC);
    let prev = c.find_previous_occurrence(&t, inclusive).ok()?;
    Some(prev.timestamp().as_second())
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

    /// Every distinct tick in `[from, to]`, as a run every five minutes would see them.
    fn ticks(c: &Cadence, tz: &str, from: &str, to: &str) -> Vec<String> {
        let tz = TimeZone::get(tz).expect("tz");
        let (from, to) = (ts(from), ts(to));
        let mut out: Vec<Timestamp> = Vec::new();
        let mut now = from;
        while now <= to {
            if let Some(t) = c.last_tick(now, &tz)
                && t >= from
                && !out.contains(&t)
            {
                out.push(t);
            }
            now += SignedDuration::from_mins(5);
        }
        out.iter()
            .map(|t| t.strftime("%m-%dT%H:%MZ").to_string())
            .collect()
    }

    #[test]
    fn fall_back_takes_each_tick_once_in_paris() {
        // 2026-10-25 01:00Z: 03:00 CEST becomes 02:00 CET.
        let (from, to) = ("2026-10-24T21:00:00Z", "2026-10-26T00:00:00Z");
        let tz = "Europe/Paris";
        assert_eq!(
            ticks(&Cadence::Every(86_400), tz, from, to),
            ["10-24T22:00Z", "10-25T23:00Z"],
            "local midnight, each at its own offset"
        );
        let six = Cadence::cron("0 */6 * * *").expect("cron");
        assert_eq!(
            ticks(&six, tz, from, to),
            [
                "10-24T22:00Z",
                "10-25T05:00Z",
                "10-25T11:00Z",
                "10-25T17:00Z",
                "10-25T23:00Z"
            ]
        );
        let half_past_two = Cadence::cron("30 2 * * *").expect("cron");
        assert_eq!(
            ticks(&half_past_two, tz, from, to),
            ["10-25T00:30Z"],
            "the repeated 02:30 fires once, at its first occurrence"
        );
        assert_eq!(
            ticks(
                &Cadence::Every(3600),
                tz,
                "2026-10-24T23:00:00Z",
                "2026-10-25T02:00:00Z"
            ),
            [
                "10-24T23:00Z",
                "10-25T00:00Z",
                "10-25T01:00Z",
                "10-25T02:00Z"
            ],
            "every hour stays an hour apart through the repeated hour"
        );
    }

    #[test]
    fn spring_forward_skips_nothing_in_paris() {
        // 2026-03-29 01:00Z: 02:00 CET becomes 03:00 CEST.
        let tz = "Europe/Paris";
        let (from, to) = ("2026-03-28T22:00:00Z", "2026-03-30T00:00:00Z");
        assert_eq!(
            ticks(&Cadence::Every(86_400), tz, from, to),
            ["03-28T23:00Z", "03-29T22:00Z"]
        );
        assert_eq!(
            ticks(&Cadence::cron("30 2 * * *").expect("cron"), tz, from, to),
            ["03-29T01:30Z"],
            "the skipped 02:30 ticks at 03:30 CEST"
        );
        assert_eq!(
            ticks(
                &Cadence::Every(3600),
                tz,
                "2026-03-28T23:00:00Z",
                "2026-03-29T02:00:00Z"
            ),
            [
                "03-28T23:00Z",
                "03-29T00:00Z",
                "03-29T01:00Z",
                "03-29T02:00Z"
            ]
        );
    }

    #[test]
    fn both_transitions_in_new_york() {
        let tz = "America/New_York";
        // 2026-11-01 06:00Z: 02:00 EDT becomes 01:00 EST.
        let (from, to) = ("2026-11-01T03:00:00Z", "2026-11-02T06:00:00Z");
        assert_eq!(
            ticks(&Cadence::Every(86_400), tz, from, to),
            ["11-01T04:00Z", "11-02T05:00Z"]
        );
        assert_eq!(
            ticks(&Cadence::cron("30 1 * * *").expect("cron"), tz, from, to),
            ["11-01T05:30Z"],
            "01:30 happens twice; cron fires once"
        );
        assert_eq!(
            ticks(&Cadence::cron("0 */6 * * *").expect("cron"), tz, from, to),
            [
                "11-01T04:00Z",
                "11-01T11:00Z",
                "11-01T17:00Z",
                "11-01T23:00Z",
                "11-02T05:00Z"
            ]
        );
        // 2026-03-08 07:00Z: 02:00 EST becomes 03:00 EDT.
        let (from, to) = ("2026-03-08T04:00:00Z", "2026-03-09T05:00:00Z");
        assert_eq!(
            ticks(&Cadence::Every(86_400), tz, from, to),
            ["03-08T05:00Z", "03-09T04:00Z"]
        );
        assert_eq!(
            ticks(&Cadence::cron("30 2 * * *").expect("cron"), tz, from, to),
            ["03-08T07:30Z"],
            "the skipped 02:30 ticks at 03:30 EDT"
        );
    }

    #[test]
    fn a_cron_that_never_fires_has_no_tick() {
        let never = Cadence::cron("0 0 30 2 *").expect("parses");
        let started = std::time::Instant::now();
        assert_eq!(
            never.last_tick(ts("2026-11-25T17:42:10Z"), &TimeZone::UTC),
            None
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        // February 29th fires every four years: within the horizon.
        let leap = Cadence::cron("0 0 29 2 *").expect("parses");
        assert_eq!(
            leap.last_tick(ts("2026-11-25T17:42:10Z"), &TimeZone::UTC),
            Some(ts("2024-02-29T00:00:00Z"))
        );
    }
}
