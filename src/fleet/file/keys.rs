//! One checker per key of a policy: each answers the key it refuses and why (the caller adds the
//! line).

use super::*;

pub(super) fn check_id(id: &str) -> std::result::Result<(), Refusal> {
    let ok = !id.is_empty()
        && id.len() <= 32
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then_some(()).ok_or((
        "id",
        "use 1 to 32 characters of a-z, 0-9 and - (it marks the snapshots the policy owns)".into(),
    ))
}

/// `every` in seconds, or `None` for a `cron` that fires.
pub(super) fn check_cadence(p: &Policy) -> std::result::Result<Option<u64>, Refusal> {
    match (&p.every, &p.cron) {
        (Some(e), None) => Ok(Some(cadence(e).map_err(|why| ("every", why))?)),
        (None, Some(c)) => {
            if c.split_whitespace().count() != 5 {
                return Err((
                    "cron",
                    format!("{c:?} is not MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK"),
                ));
            }
            let cron = crate::fleet::cadence::Cadence::cron(c).map_err(|why| ("cron", why))?;
            // A cron that matches no date (`0 0 30 2 *`) would never answer a tick, so every
            // apply would take a snapshot.
            if cron
                .last_tick(jiff::Timestamp::now(), &jiff::tz::TimeZone::UTC)
                .is_none()
            {
                return Err((
                    "cron",
                    format!(
                        "{c:?} never fires (no tick in {} years)",
                        crate::fleet::cadence::HORIZON_YEARS
                    ),
                ));
            }
            Ok(None)
        }
        (Some(_), Some(_)) => Err(("cron", "give every or cron, not both".into())),
        (None, None) => Err((
            "every",
            "give a cadence: every = \"1h\" or cron = \"0 */6 * * *\"".into(),
        )),
    }
}

/// The `alert` thresholds in seconds (warn, crit).
pub(super) fn check_alert(p: &Policy) -> std::result::Result<(Option<u64>, Option<u64>), Refusal> {
    let age = |t: &Option<String>| {
        t.as_deref()
            .map(cadence)
            .transpose()
            .map_err(|why| ("alert", why))
    };
    let (warn, crit) = match &p.alert {
        Some(a) => (age(&a.warn)?, age(&a.crit)?),
        None => (None, None),
    };
    if let (Some(w), Some(c)) = (warn, crit)
        && w > c
    {
        return Err((
            "alert",
            "warn is above crit: the warning could never come first".into(),
        ));
    }
    Ok((warn, crit))
}

/// Hooks, their environment and timeout (in seconds), and `force`.
pub(super) fn check_hooks(p: &Policy) -> std::result::Result<u64, Refusal> {
    let timeout = match p.hook_timeout.as_deref() {
        None => 300,
        Some(t) => cadence(t).map_err(|why| ("hook_timeout", why))?,
    };
    for name in &p.hook_env {
        let ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err((
                "hook_env",
                format!("{name:?} is not an environment variable name"),
            ));
        }
    }
    if p.force
        && p.provider
            .is_some_and(|k| !crate::providers::entry(k).force_attached)
    {
        return Err((
            "force",
            "only PowerVC refuses to snapshot an attached volume; drop force here".into(),
        ));
    }
    for (key, hook) in [("pre", &p.pre), ("post", &p.post)] {
        if hook.as_deref().is_some_and(|h| h.trim().is_empty()) {
            return Err((key, "an empty command".into()));
        }
    }
    Ok(timeout)
}

/// `drill`: durations that parse, at least one volume, a provider that can restore a snapshot.
pub(super) fn check_drill(p: &Policy) -> std::result::Result<Option<DrillTimes>, Refusal> {
    let Some(d) = &p.drill else {
        return Ok(None);
    };
    let secs = |what: &str, t: &str| cadence(t).map_err(|why| ("drill", format!("{what}: {why}")));
    if let Some(kind) = p.provider {
        drill_refusal(kind).map_err(|why| ("drill", why))?;
    }
    let volumes = d.volumes.unwrap_or(1);
    if volumes == 0 {
        return Err((
            "drill",
            "volumes = 0 drills nothing: give 1 or more, or drop drill".into(),
        ));
    }
    if d.verify.as_deref().is_some_and(|v| v.trim().is_empty()) {
        return Err(("drill", "verify: an empty command".into()));
    }
    let timeout = match &d.timeout {
        Some(t) => secs("timeout", t)?,
        None => 2 * 3600,
    };
    let max_restore = d
        .max_restore
        .as_deref()
        .map(|t| secs("max_restore", t))
        .transpose()?;
    if max_restore.is_some_and(|m| m > timeout) {
        return Err((
            "drill",
            "max_restore is longer than timeout: a restore that slow is stopped first".into(),
        ));
    }
    Ok(Some(DrillTimes {
        every: secs("every", &d.every)?,
        volumes,
        timeout,
        max_restore,
    }))
}

/// `copy`: a provider with the route, distinct Regions other than the policy's own, bucket names
/// S3 accepts, retention that keeps something, a timeout that parses.
pub(super) fn check_copies(p: &Policy) -> std::result::Result<(), Refusal> {
    if let Some(n) = p.copy_concurrency
        && !(1..=MAX_COPY_CONCURRENCY).contains(&n)
    {
        return Err((
            "copy_concurrency",
            format!("{n}: expected 1 to {MAX_COPY_CONCURRENCY} copies under way at once"),
        ));
    }
    if let Some(b) = &p.copy_budget {
        cadence(b).map_err(|why| ("copy_budget", why))?;
    }
    if p.copy.is_empty() {
        return Ok(());
    }
    if let Some(kind) = p.provider {
        copy_refusal(kind).map_err(|why| ("copy", why))?;
    }
    let mut regions = BTreeSet::new();
    for c in &p.copy {
        let r = &c.region;
        if r.is_empty()
            || !r
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
        {
            return Err((
                "copy",
                format!("region {r:?}: expected a Region such as cloudgouv-eu-west-1"),
            ));
        }
        if !regions.insert(r.as_str()) {
            return Err(("copy", format!("region {r:?} is named twice")));
        }
        if p.region.as_deref() == Some(r.as_str()) {
            return Err((
                "copy",
                format!("region {r:?} is the policy's own region: a copy goes to another one"),
            ));
        }
        let b = &c.bucket;
        let bucket_ok = (3..=63).contains(&b.len())
            && b.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '.')
            && b.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && b.ends_with(|ch: char| ch.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err((
                "copy",
                format!(
                    "bucket {b:?}: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit"
                ),
            ));
        }
        if c.profile.trim().is_empty() {
            return Err((
                "copy",
                "profile: name the destination account's profile".into(),
            ));
        }
        check_keep(&c.keep).map_err(|(_, why)| ("copy", format!("keep: {why}")))?;
        cadence(c.timeout.as_deref().unwrap_or(DEFAULT_COPY_TIMEOUT))
            .map_err(|why| ("copy", format!("timeout: {why}")))?;
    }
    Ok(())
}

/// `select` and `exclude`: regexes that compile, something selected, not everything excluded.
pub(super) fn check_selection(p: &Policy) -> std::result::Result<(), Refusal> {
    for (key, sel) in [("select", Some(&p.select)), ("exclude", p.exclude.as_ref())] {
        let Some(sel) = sel else { continue };
        if let Some(re) = &sel.name_regex {
            regex_lite::Regex::new(re).map_err(|e| (key, format!("name_regex {re:?}: {e}")))?;
        }
    }
    let s = &p.select;
    let narrowed =
        !(s.ids.is_empty() && s.names.is_empty() && s.name_regex.is_none() && s.tags.is_empty());
    if s.all && narrowed {
        return Err((
            "select",
            "all = true selects every volume: drop it, or drop the other keys".into(),
        ));
    }
    if !s.all && !narrowed {
        return Err((
            "select",
            "select nothing is not a policy: give ids, names, name_regex or tags (or all = true for every volume)".into(),
        ));
    }
    if p.exclude.as_ref().is_some_and(|x| x.all) {
        return Err((
            "exclude",
            "exclude = { all = true } would leave nothing selected".into(),
        ));
    }
    Ok(())
}

/// `keep`: a `within` that is unambiguous and keeps something, and some rule at all.
pub(super) fn check_keep(k: &Keep) -> std::result::Result<(), Refusal> {
    let within = match &k.within {
        Some(w) => {
            if w.trim_end().ends_with('m') && !w.trim_end().ends_with("mo") {
                return Err((
                    "keep",
                    format!(
                        "within {w:?}: a bare m is ambiguous (months in restic, minutes elsewhere); write mo for months"
                    ),
                ));
            }
            let span = CalendarSpan::parse(&w.replace("mo", "m"))
                .map_err(|why| ("keep", format!("within {w:?}: {why}")))?;
            if (span.years, span.months, span.days, span.hours) == (0, 0, 0, 0) {
                return Err((
                    "keep",
                    format!("within {w:?} keeps nothing: give a span such as 7d"),
                ));
            }
            true
        }
        None => false,
    };
    let rules = [k.last, k.hourly, k.daily, k.weekly, k.monthly, k.yearly];
    if rules.iter().all(|r| r.unwrap_or(0) == 0) && !within {
        return Err((
            "keep",
            "keep nothing would delete every snapshot: give last, hourly, daily, weekly, monthly, yearly or within".into(),
        ));
    }
    Ok(())
}
