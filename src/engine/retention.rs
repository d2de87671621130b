//! Retention planning: which snapshots a rotation keeps and which it deletes, and why.
//!
//! [`plan`] is a pure function of (candidates, policy, now) with restic's `forget` semantics; it does
//! no I/O, reads no clock and never sees a provider's wire types. Selecting candidates ([`candidates`])
//! and applying a plan live apart from it so the rules can be tested exhaustively on their own.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::model::{Snapshot, SnapshotKind, SnapshotState};

/// A `--keep-*` count meaning "every bucket" (restic's `-1`).
pub const UNLIMITED: usize = usize::MAX;

/// A duration in restic's grammar, `1y2m3d4h` (any of the four, each once, in any order): years,
/// **months**, days and hours, subtracted by calendar as restic does (Go's `AddDate`, then hours).
/// There are no minutes or seconds: `1m` is one month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CalendarSpan {
    /// Years.
    pub years: i32,
    /// Months.
    pub months: i32,
    /// Days.
    pub days: i32,
    /// Hours.
    pub hours: i64,
}

impl CalendarSpan {
    /// Parse `1y2m3d4h` (restic's `ParseDuration`).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty duration".into());
        }
        let mut span = CalendarSpan::default();
        let mut rest = t;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(format!(
                    "expected a number in {text:?} (restic's grammar: 1y2m3d4h, m is months)"
                ));
            }
            let n: i64 = rest[..digits]
                .parse()
                .map_err(|_| format!("number too large in {text:?}"))?;
            let unit = rest[digits..].chars().next().ok_or_else(|| {
                format!("no unit after {n} in {text:?} (use y, m for months, d or h)")
            })?;
            let small = || i32::try_from(n).map_err(|_| format!("{n} is too large"));
            match unit {
                'y' => span.years = small()?,
                'm' => span.months = small()?,
                'd' => span.days = small()?,
                'h' => span.hours = n,
                other => {
                    return Err(format!(
                        "unknown unit {other:?} in {text:?}: restic's durations take y, m (months), d and h"
                    ));
                }
            }
            rest = &rest[digits + unit.len_utf8()..];
        }
        Ok(span)
    }

    /// Whether it is empty (keeps nothing).
    pub fn is_zero(&self) -> bool {
        *self == CalendarSpan::default()
    }

    /// `t` minus this span, in `tz`: years, months and days by calendar with Go's normalisation
    /// (March 31 minus one month is March 3, as restic computes it), then hours.
    pub fn before(&self, t: Timestamp, tz: &TimeZone) -> Timestamp {
        let z = t.to_zoned_datetime(tz.clone());
        let months = i64::from(z.year()) * 12 + i64::from(z.month())
            - 1
            - i64::from(self.years) * 12
            - i64::from(self.months);
        let (year, month) = (months.div_euclid(12), months.rem_euclid(12) + 1);
        let first = i16::try_from(year)
            .ok()
            .and_then(|y| jiff::civil::Date::new(y, month as i8, 1).ok());
        let Some(first) = first else {
            return Timestamp::MIN;
        };
        let day_offset = i64::from(z.day()) - 1 - i64::from(self.days);
        let shifted = first
            .checked_add(jiff::Span::new().days(day_offset))
            .ok()
            .map(|d| d.to_datetime(z.time()))
            .and_then(|dt| dt.to_zoned_datetime(tz.clone()).ok())
            .map(|z| z.timestamp());
        match shifted {
            Some(ts) => ts
                .checked_sub(jiff::SignedDuration::from_hours(self.hours))
                .unwrap_or(Timestamp::MIN),
            None => Timestamp::MIN,
        }
    }
}

impl std::fmt::Display for CalendarSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, unit) in [
            (i64::from(self.years), 'y'),
            (i64::from(self.months), 'm'),
            (i64::from(self.days), 'd'),
            (self.hours, 'h'),
        ] {
            if n != 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        if self.is_zero() {
            f.write_str("0h")?;
        }
        Ok(())
    }
}

/// Keep rules. Counts of `None` or `Some(0)` are off; [`UNLIMITED`] keeps every bucket.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Keep the N newest.
    pub keep_last: Option<usize>,
    /// Keep the newest in each of the N most recent hours that have one.
    pub keep_hourly: Option<usize>,
    /// … days.
    pub keep_daily: Option<usize>,
    /// … ISO weeks.
    pub keep_weekly: Option<usize>,
    /// … months.
    pub keep_monthly: Option<usize>,
    /// … years.
    pub keep_yearly: Option<usize>,
    /// Keep everything younger than this, measured from the newest candidate.
    pub keep_within: Option<CalendarSpan>,
    /// Keep the newest of each hour within this span of the newest candidate.
    pub keep_within_hourly: Option<CalendarSpan>,
    /// … of each day.
    pub keep_within_daily: Option<CalendarSpan>,
    /// … of each ISO week.
    pub keep_within_weekly: Option<CalendarSpan>,
    /// … of each month.
    pub keep_within_monthly: Option<CalendarSpan>,
    /// … of each year.
    pub keep_within_yearly: Option<CalendarSpan>,
    /// Zone the calendar buckets are cut in.
    pub timezone: TimeZone,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            keep_last: None,
            keep_hourly: None,
            keep_daily: None,
            keep_weekly: None,
            keep_monthly: None,
            keep_yearly: None,
            keep_within: None,
            keep_within_hourly: None,
            keep_within_daily: None,
            keep_within_weekly: None,
            keep_within_monthly: None,
            keep_within_yearly: None,
            timezone: TimeZone::UTC,
        }
    }
}

impl Policy {
    /// Whether no rule keeps anything (rotation refuses such a policy).
    pub fn is_empty(&self) -> bool {
        [
            self.keep_last,
            self.keep_hourly,
            self.keep_daily,
            self.keep_weekly,
            self.keep_monthly,
            self.keep_yearly,
        ]
        .iter()
        .all(|c| c.unwrap_or(0) == 0)
            && self
                .spans()
                .iter()
                .all(|(s, _)| s.is_none_or(|d| d.is_zero()))
    }

    /// The keep-within rules with their reason words.
    fn spans(&self) -> [(Option<CalendarSpan>, &'static str); 6] {
        [
            (self.keep_within, "within"),
            (self.keep_within_hourly, "hourly within"),
            (self.keep_within_daily, "daily within"),
            (self.keep_within_weekly, "weekly within"),
            (self.keep_within_monthly, "monthly within"),
            (self.keep_within_yearly, "yearly within"),
        ]
    }

    /// One line describing the policy, for plan output.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (n, what) in [
            (self.keep_last, "last"),
            (self.keep_hourly, "hourly"),
            (self.keep_daily, "daily"),
            (self.keep_weekly, "weekly"),
            (self.keep_monthly, "monthly"),
            (self.keep_yearly, "yearly"),
        ] {
            match n {
                Some(UNLIMITED) => parts.push(format!("all {what}")),
                Some(n) if n > 0 => parts.push(format!("{n} {what}")),
                _ => {}
            }
        }
        for (span, words) in self.spans() {
            if let Some(d) = span.filter(|d| !d.is_zero()) {
                let what = if words == "within" {
                    "everything within".to_string()
                } else {
                    words.to_string()
                };
                parts.push(format!("{what} {d}"));
            }
        }
        format!("keep {}", parts.join(", "))
    }
}

/// A snapshot the plan keeps, with every reason.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Kept {
    /// The snapshot.
    #[serde(flatten)]
    pub entry: Entry,
    /// Why it is kept (`daily snapshot`, `newest`, `not settled (creating)`, …).
    pub reasons: Vec<String>,
}

/// The identifying fields of a planned snapshot, as printed (and read back from a saved plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Entry {
    /// Snapshot id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Creation time.
    #[serde(serialize_with = "crate::model::ser_time")]
    pub created_at: Option<Timestamp>,
}

impl From<&Snapshot> for Entry {
    fn from(s: &Snapshot) -> Self {
        Entry {
            id: s.id.clone(),
            name: s.name.clone(),
            created_at: s.created_at,
        }
    }
}

/// The outcome of planning one volume.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Kept, newest first.
    pub keep: Vec<Kept>,
    /// To delete, newest first.
    pub delete: Vec<Snapshot>,
}

/// Name prefix of the snapshots `clone --volume` takes as the base of a clone.
pub const CLONE_BASE_PREFIX: &str = "snapctl-clone-";

/// Description `clone --volume` gives the snapshot it takes as the base of a clone.
pub const CLONE_BASE_DESCRIPTION: &str = "taken by snapctl clone";

/// Whether `s` is a snapshot `clone --volume` took as a clone's base: a clone may depend on it, so
/// rotation never counts or deletes it, whatever prefix it rotates.
pub fn is_clone_base(s: &Snapshot) -> bool {
    s.name
        .as_deref()
        .is_some_and(|n| n.starts_with(CLONE_BASE_PREFIX))
        || s.description.as_deref() == Some(CLONE_BASE_DESCRIPTION)
}

/// Rotation candidates: manual snapshots whose name starts with `prefix`. Automatic, system and
/// scheduled snapshots, unnamed ones, and the bases of clones never are.
pub fn candidates(snapshots: &[Snapshot], prefix: &str) -> Vec<Snapshot> {
    snapshots
        .iter()
        .filter(|s| s.kind == SnapshotKind::Manual)
        .filter(|s| s.name.as_deref().is_some_and(|n| n.starts_with(prefix)))
        .filter(|s| !is_clone_base(s))
        .cloned()
        .collect()
}

#[cfg(test)]
mod clone_base_tests {
    use super::*;
    use crate::kind::ProviderKind;
    use crate::model::SnapshotState;

    fn snap(name: &str, description: Option<&str>) -> Snapshot {
        Snapshot {
            provider: ProviderKind::OvhEfs,
            id: name.into(),
            volume_id: Some("v".into()),
            name: Some(name.into()),
            description: description.map(str::to_string),
            state: SnapshotState::Available,
            provider_state: None,
            kind: SnapshotKind::Manual,
            created_at: None,
            size_gib: None,
            expires_at: None,
        }
    }

    #[test]
    fn clone_bases_are_never_candidates_whatever_the_prefix() {
        let all = [
            snap("snapctl-20261124T093000Z", None),
            snap(
                "snapctl-clone-20261124T093500Z",
                Some(CLONE_BASE_DESCRIPTION),
            ),
            // Renamed by hand, but still the base of a clone.
            snap("nightly-base", Some(CLONE_BASE_DESCRIPTION)),
        ];
        let names = |prefix| -> Vec<String> {
            candidates(&all, prefix)
                .into_iter()
                .filter_map(|s| s.name)
                .collect()
        };
        assert_eq!(names("snapctl-"), ["snapctl-20261124T093000Z"]);
        assert!(names("nightly").is_empty());
        assert_eq!(names(""), ["snapctl-20261124T093000Z"]);
    }
}

type Bucker = fn(&jiff::civil::DateTime, usize) -> i64;

struct Bucket {
    remaining: usize,
    last: Option<i64>,
    reason: &'static str,
    bucker: Bucker,
}

fn by_last(_: &jiff::civil::DateTime, nr: usize) -> i64 {
    nr as i64
}
fn by_hour(t: &jiff::civil::DateTime, _: usize) -> i64 {
    i64::from(t.year()) * 1_000_000
        + i64::from(t.month()) * 10_000
        + i64::from(t.day()) * 100
        + i64::from(t.hour())
}
fn by_day(t: &jiff::civil::DateTime, _: usize) -> i64 {
    i64::from(t.year()) * 10_000 + i64::from(t.month()) * 100 + i64::from(t.day())
}
fn by_week(t: &jiff::civil::DateTime, _: usize) -> i64 {
    let w = t.date().iso_week_date();
    i64::from(w.year()) * 100 + i64::from(w.week())
}
fn by_month(t: &jiff::civil::DateTime, _: usize) -> i64 {
    i64::from(t.year()) * 100 + i64::from(t.month())
}
fn by_year(t: &jiff::civil::DateTime, _: usize) -> i64 {
    i64::from(t.year())
}

/// Plan a rotation of `candidates` under `policy` at `now`.
///
/// restic's rules: candidates sorted newest first; each count rule keeps the newest snapshot of each
/// of its N most recent buckets, and the oldest candidate when it still has count left at the end;
/// `keep_within` keeps everything younger than that, measured from the newest. A snapshot kept by any
/// rule is kept with every reason. Safety rails on top: the newest candidate is always kept; only
/// `available` snapshots with a creation time not in the future take part in the rules, every other
/// one is kept with the reason why.
pub fn plan(candidates: &[Snapshot], policy: &Policy, now: Timestamp) -> Plan {
    let mut out = Plan::default();
    let mut pool: Vec<(&Snapshot, Timestamp)> = Vec::with_capacity(candidates.len());
    let mut held: Vec<Kept> = Vec::new();
    for s in candidates {
        let reason = match (s.state, s.created_at) {
            (SnapshotState::Available, Some(t)) if t <= now => {
                pool.push((s, t));
                continue;
            }
            (SnapshotState::Available, Some(_)) => "created in the future".to_string(),
            (SnapshotState::Available, None) => "no creation time".to_string(),
            (state, _) => format!(
                "not settled ({})",
                s.provider_state.as_deref().unwrap_or(state.as_str())
            ),
        };
        held.push(Kept {
            entry: s.into(),
            reasons: vec![reason],
        });
    }
    pool.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.id.cmp(&a.0.id)));

    let mut buckets: Vec<Bucket> = [
        (policy.keep_last, "last snapshot", by_last as Bucker),
        (policy.keep_hourly, "hourly snapshot", by_hour),
        (policy.keep_daily, "daily snapshot", by_day),
        (policy.keep_weekly, "weekly snapshot", by_week),
        (policy.keep_monthly, "monthly snapshot", by_month),
        (policy.keep_yearly, "yearly snapshot", by_year),
    ]
    .into_iter()
    .filter_map(|(n, reason, bucker)| {
        n.filter(|n| *n > 0).map(|remaining| Bucket {
            remaining,
            last: None,
            reason,
            bucker,
        })
    })
    .collect();

    // restic measures every keep-within from the newest snapshot, by calendar.
    let newest = pool.first().map(|(_, t)| *t);
    let floor = |span: Option<CalendarSpan>| match (span, newest) {
        (Some(d), Some(n)) if !d.is_zero() => Some((d, d.before(n, &policy.timezone))),
        _ => None,
    };
    let within = floor(policy.keep_within);
    let mut within_buckets: Vec<(CalendarSpan, Timestamp, Option<i64>, &'static str, Bucker)> = [
        (
            policy.keep_within_hourly,
            "hourly within",
            by_hour as Bucker,
        ),
        (policy.keep_within_daily, "daily within", by_day),
        (policy.keep_within_weekly, "weekly within", by_week),
        (policy.keep_within_monthly, "monthly within", by_month),
        (policy.keep_within_yearly, "yearly within", by_year),
    ]
    .into_iter()
    .filter_map(|(span, reason, bucker)| floor(span).map(|(d, f)| (d, f, None, reason, bucker)))
    .collect();

    let last_index = pool.len().saturating_sub(1);
    for (nr, (snap, t)) in pool.iter().enumerate() {
        let mut reasons = Vec::new();
        if nr == 0 {
            reasons.push("newest".to_string());
        }
        if let Some((d, floor)) = within
            && *t > floor
        {
            reasons.push(format!("within {d}"));
        }
        let civil = t.to_zoned_datetime(policy.timezone.clone()).datetime();
        for b in buckets.iter_mut().filter(|b| b.remaining > 0) {
            let val = (b.bucker)(&civil, nr);
            // restic: a rule with count left at the end also keeps the oldest snapshot.
            if b.last != Some(val) || nr == last_index {
                let oldest = b.last == Some(val);
                b.last = Some(val);
                if b.remaining != UNLIMITED {
                    b.remaining -= 1;
                }
                reasons.push(if oldest {
                    format!("oldest {}", b.reason)
                } else {
                    b.reason.to_string()
                });
            }
        }
        for (d, floor, last, reason, bucker) in within_buckets.iter_mut() {
            if *t > *floor {
                let val = bucker(&civil, nr);
                if *last != Some(val) || nr == last_index {
                    *last = Some(val);
                    reasons.push(format!("{reason} {d}"));
                }
            }
        }
        if reasons.is_empty() {
            out.delete.push((*snap).clone());
        } else {
            out.keep.push(Kept {
                entry: (*snap).into(),
                reasons,
            });
        }
    }
    out.keep.extend(held);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::ProviderKind;

    fn snap(id: &str, at: &str) -> Snapshot {
        Snapshot {
            provider: ProviderKind::OvhEfs,
            id: id.into(),
            volume_id: Some("v".into()),
            name: Some(format!("snapctl-{id}")),
            description: None,
            state: SnapshotState::Available,
            provider_state: Some("available".into()),
            kind: SnapshotKind::Manual,
            created_at: Some(at.parse().expect("timestamp")),
            size_gib: None,
            expires_at: None,
        }
    }

    fn kept_ids(p: &Plan) -> Vec<&str> {
        let mut v: Vec<&str> = p.keep.iter().map(|k| k.entry.id.as_str()).collect();
        v.sort();
        v
    }

    fn now() -> Timestamp {
        "2030-01-01T00:00:00Z".parse().expect("ts")
    }

    fn span(text: &str) -> CalendarSpan {
        CalendarSpan::parse(text).expect("span")
    }

    #[test]
    fn spans_use_restic_grammar_where_m_is_months() {
        assert_eq!(
            span("1y2m3d4h"),
            CalendarSpan {
                years: 1,
                months: 2,
                days: 3,
                hours: 4
            }
        );
        assert_eq!(span("1m").months, 1, "1m is a month, as in restic");
        assert_eq!(span("4h1y").to_string(), "1y4h");
        for bad in ["", "90s", "1w", "m", "7", "1d-2h"] {
            assert!(CalendarSpan::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spans_subtract_by_calendar_as_go_adddate_does() {
        let at = |s: &str| s.parse::<Timestamp>().expect("ts");
        let utc = TimeZone::UTC;
        // March 31 minus one month is "February 31", which Go normalises to March 3.
        assert_eq!(
            span("1m").before(at("2026-03-31T10:00:00Z"), &utc),
            at("2026-03-03T10:00:00Z")
        );
        assert_eq!(
            span("1y").before(at("2024-02-29T00:00:00Z"), &utc),
            at("2023-03-01T00:00:00Z")
        );
        assert_eq!(
            span("1d25h").before(at("2026-01-03T00:00:00Z"), &utc),
            at("2025-12-31T23:00:00Z")
        );
        assert_eq!(
            span("14m").before(at("2026-01-15T00:00:00Z"), &utc),
            at("2024-11-15T00:00:00Z")
        );
    }

    #[test]
    fn keep_within_one_month_keeps_a_month_not_a_minute() {
        let list = [
            snap("a", "2029-12-31T00:00:00Z"),
            snap("b", "2029-12-11T00:00:00Z"),
            snap("c", "2029-11-20T00:00:00Z"),
        ];
        let p = plan(
            &list,
            &Policy {
                keep_within: Some(span("1m")),
                ..Policy::default()
            },
            now(),
        );
        // One month back from the newest (Dec 31) is Dec 1: b is kept, c (Nov 20) is not.
        assert_eq!(kept_ids(&p), ["a", "b"]);
        assert_eq!(p.delete.len(), 1);
        assert!(
            p.keep[1].reasons.contains(&"within 1m".to_string()),
            "{:?}",
            p.keep
        );
    }

    #[test]
    fn minus_one_is_every_bucket() {
        let list: Vec<Snapshot> = (0..40)
            .flat_map(|i| {
                let day = jiff::civil::date(2029, 10, 1)
                    .checked_add(jiff::Span::new().days(i))
                    .expect("date");
                // Two a day: the morning one of each day goes.
                let t = |h| {
                    day.at(h, 0, 0, 0)
                        .to_zoned_datetime(TimeZone::UTC)
                        .expect("zoned")
                        .timestamp()
                        .to_string()
                };
                [
                    snap(&format!("{i}-am"), &t(6)),
                    snap(&format!("{i}-pm"), &t(18)),
                ]
            })
            .collect();
        let p = plan(
            &list,
            &Policy {
                keep_daily: Some(UNLIMITED),
                ..Policy::default()
            },
            now(),
        );
        assert_eq!(p.keep.len(), 41, "40 evenings and the oldest morning");
        assert!(
            p.keep
                .iter()
                .all(|k| k.entry.id.ends_with("-pm") || k.entry.id == "0-am")
        );
        assert!(
            Policy {
                keep_daily: Some(UNLIMITED),
                ..Policy::default()
            }
            .describe()
            .contains("all daily")
        );
    }

    #[test]
    fn keep_within_daily_keeps_one_a_day_inside_the_span_only() {
        let list = [
            snap("d0-pm", "2029-12-31T18:00:00Z"),
            snap("d0-am", "2029-12-31T06:00:00Z"),
            snap("d1-pm", "2029-12-30T18:00:00Z"),
            snap("d1-am", "2029-12-30T06:00:00Z"),
            snap("d5", "2029-12-26T18:00:00Z"),
        ];
        let p = plan(
            &list,
            &Policy {
                keep_within_daily: Some(span("3d")),
                ..Policy::default()
            },
            now(),
        );
        assert_eq!(kept_ids(&p), ["d0-pm", "d1-pm"]);
        assert!(
            p.keep
                .iter()
                .all(|k| k.reasons.iter().any(|r| r == "daily within 3d")),
            "{:?}",
            p.keep
        );
    }

    /// restic doc/060_forget.rst: one backup every Sunday for 12 weeks, `--keep-daily 4` keeps the
    /// last four (8f8018c0, 59403279, dfee9fb4, e1ae2f40) and removes the other eight.
    #[test]
    fn restic_doc_twelve_sundays_keep_daily_4() {
        let list = [
            ("0a1f9759", "2019-09-01T11:00:00Z"),
            ("46cfe4d5", "2019-09-08T11:00:00Z"),
            ("f6b1f037", "2019-09-15T11:00:00Z"),
            ("eb430a5d", "2019-09-22T11:00:00Z"),
            ("8cf1cb9a", "2019-09-29T11:00:00Z"),
            ("5d33b116", "2019-10-06T11:00:00Z"),
            ("b9553125", "2019-10-13T11:00:00Z"),
            ("e1a7b58b", "2019-10-20T11:00:00Z"),
            ("8f8018c0", "2019-10-27T11:00:00Z"),
            ("59403279", "2019-11-03T11:00:00Z"),
            ("dfee9fb4", "2019-11-10T11:00:00Z"),
            ("e1ae2f40", "2019-11-17T11:00:00Z"),
        ];
        let snaps: Vec<Snapshot> = list.iter().map(|(id, t)| snap(id, t)).collect();
        let policy = Policy {
            keep_daily: Some(4),
            ..Policy::default()
        };
        let p = plan(&snaps, &policy, now());
        assert_eq!(
            kept_ids(&p),
            ["59403279", "8f8018c0", "dfee9fb4", "e1ae2f40"]
        );
        assert_eq!(p.delete.len(), 8);
        let e1 = p
            .keep
            .iter()
            .find(|k| k.entry.id == "e1ae2f40")
            .expect("kept");
        assert_eq!(e1.reasons, ["newest", "daily snapshot"]);
    }

    /// restic doc/060_forget.rst: a backup every day, `--keep-daily 7 --keep-weekly 5
    /// --keep-monthly 12 --keep-yearly 75` keeps 7 dailies, 4 more weekly ones, 11 or 12 more monthly
    /// ones and 74 or 75 more yearly ones.
    #[test]
    fn restic_doc_daily_for_a_century() {
        let start: Timestamp = "1930-01-01T12:00:00Z".parse().expect("ts");
        let days = 365 * 100 + 24;
        let snaps: Vec<Snapshot> = (0..days)
            .map(|d| {
                let t = start + jiff::SignedDuration::from_hours(24 * d);
                snap(&format!("s{d:06}"), &t.to_string())
            })
            .collect();
        let policy = Policy {
            keep_daily: Some(7),
            keep_weekly: Some(5),
            keep_monthly: Some(12),
            keep_yearly: Some(75),
            ..Policy::default()
        };
        let p = plan(&snaps, &policy, now());
        let daily = p
            .keep
            .iter()
            .filter(|k| k.reasons.iter().any(|r| r == "daily snapshot"))
            .count();
        assert_eq!(daily, 7);
        let weekly_extra = p
            .keep
            .iter()
            .filter(|k| k.reasons.iter().any(|r| r == "weekly snapshot"))
            .filter(|k| !k.reasons.iter().any(|r| r == "daily snapshot"))
            .count();
        assert_eq!(weekly_extra, 4);
        let monthly_extra = p
            .keep
            .iter()
            .filter(|k| k.reasons.iter().any(|r| r == "monthly snapshot"))
            .filter(|k| {
                !k.reasons
                    .iter()
                    .any(|r| r == "daily snapshot" || r == "weekly snapshot")
            })
            .count();
        assert!((11..=12).contains(&monthly_extra), "{monthly_extra}");
        let yearly_extra = p
            .keep
            .iter()
            .filter(|k| k.reasons.iter().any(|r| r == "yearly snapshot"))
            .filter(|k| k.reasons.len() == 1)
            .count();
        assert!((74..=75).contains(&yearly_extra), "{yearly_extra}");
        assert_eq!(p.keep.len() + p.delete.len(), snaps.len());
    }

    #[test]
    fn keep_last_keeps_the_n_newest() {
        let snaps: Vec<Snapshot> = (0..5)
            .map(|h| snap(&format!("h{h}"), &format!("2026-11-24T0{h}:00:00Z")))
            .collect();
        let p = plan(
            &snaps,
            &Policy {
                keep_last: Some(2),
                ..Policy::default()
            },
            now(),
        );
        assert_eq!(kept_ids(&p), ["h3", "h4"]);
    }

    #[test]
    fn too_few_buckets_keeps_the_oldest_too() {
        // Two days of snapshots, keep-daily 5: newest of each day, plus the oldest overall.
        let snaps = vec![
            snap("a", "2026-11-23T08:00:00Z"),
            snap("b", "2026-11-23T20:00:00Z"),
            snap("c", "2026-11-24T08:00:00Z"),
            snap("d", "2026-11-24T20:00:00Z"),
        ];
        let p = plan(
            &snaps,
            &Policy {
                keep_daily: Some(5),
                ..Policy::default()
            },
            now(),
        );
        assert_eq!(kept_ids(&p), ["a", "b", "d"]);
        let a = p.keep.iter().find(|k| k.entry.id == "a").expect("a kept");
        assert_eq!(a.reasons, ["oldest daily snapshot"]);
    }

    #[test]
    fn keep_within_counts_from_the_newest_snapshot() {
        let snaps = vec![
            snap("old", "2026-01-01T00:00:00Z"),
            snap("mid", "2026-11-20T00:00:00Z"),
            snap("new", "2026-11-24T00:00:00Z"),
        ];
        let p = plan(
            &snaps,
            &Policy {
                keep_within: Some(CalendarSpan {
                    days: 7,
                    ..CalendarSpan::default()
                }),
                ..Policy::default()
            },
            "2027-06-01T00:00:00Z".parse().expect("ts"),
        );
        assert_eq!(kept_ids(&p), ["mid", "new"]);
    }

    #[test]
    fn unsettled_and_future_snapshots_are_kept_with_the_reason() {
        let mut creating = snap("c", "2026-11-24T10:00:00Z");
        creating.state = SnapshotState::Creating;
        creating.provider_state = Some("creating".into());
        let future = snap("f", "2031-01-01T00:00:00Z");
        let snaps = vec![snap("a", "2026-11-24T08:00:00Z"), creating, future];
        let p = plan(
            &snaps,
            &Policy {
                keep_last: Some(1),
                ..Policy::default()
            },
            now(),
        );
        assert!(p.delete.is_empty());
        let c = p.keep.iter().find(|k| k.entry.id == "c").expect("c");
        assert_eq!(c.reasons, ["not settled (creating)"]);
        let f = p.keep.iter().find(|k| k.entry.id == "f").expect("f");
        assert_eq!(f.reasons, ["created in the future"]);
    }

    #[test]
    fn buckets_follow_the_given_timezone() {
        // 23:30 and 00:30 UTC are the same day in New York (18:30, 19:30).
        let snaps = vec![
            snap("a", "2026-11-23T23:30:00Z"),
            snap("b", "2026-11-24T00:30:00Z"),
        ];
        let utc = plan(
            &snaps,
            &Policy {
                keep_daily: Some(1),
                ..Policy::default()
            },
            now(),
        );
        assert_eq!(kept_ids(&utc), ["b"]);
        let ny = plan(
            &snaps,
            &Policy {
                keep_daily: Some(2),
                timezone: TimeZone::get("America/New_York").expect("tzdb"),
                ..Policy::default()
            },
            now(),
        );
        // One New York day: the newest, plus the oldest because a bucket was left unused.
        assert_eq!(
            ny.keep
                .iter()
                .find(|k| k.entry.id == "a")
                .expect("a")
                .reasons,
            ["oldest daily snapshot"]
        );
    }

    #[test]
    fn candidates_are_manual_with_the_prefix() {
        let mut auto = snap("auto", "2026-11-24T00:00:00Z");
        auto.kind = SnapshotKind::Automatic;
        let mut other = snap("other", "2026-11-24T00:00:00Z");
        other.name = Some("before-upgrade".into());
        let mut unnamed = snap("unnamed", "2026-11-24T00:00:00Z");
        unnamed.name = None;
        let ours = snap("ours", "2026-11-24T00:00:00Z");
        let c = candidates(&[auto, other, unnamed, ours], "snapctl-");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].id, "ours");
    }

    #[test]
    fn empty_policy_is_detected() {
        assert!(Policy::default().is_empty());
        assert!(
            Policy {
                keep_last: Some(0),
                ..Policy::default()
            }
            .is_empty()
        );
        assert!(
            !Policy {
                keep_within: Some(CalendarSpan {
                    hours: 1,
                    ..CalendarSpan::default()
                }),
                ..Policy::default()
            }
            .is_empty()
        );
    }
}
