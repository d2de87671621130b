//! `rotate` and `check`: flags and profile merged into options for the rotation runner and the
//! monitoring plugin.
//!
//! The argument docs are `--help` texts, where `<name>` is a placeholder, not HTML.
#![allow(rustdoc::invalid_html_tags)]

use super::cli::*;
use super::*;
use crate::engine::retention::CalendarSpan;
use clap::Args;

/// The candidate prefix: flag > profile > `snapctl-`; an empty one needs `--all-names`.
fn prefix(flag: Option<String>, profile: Option<&RotateConfig>, all_names: bool) -> Result<String> {
    let prefix = flag
        .or_else(|| profile.and_then(|r| r.prefix.clone()))
        .unwrap_or_else(|| DEFAULT_PREFIX.to_string());
    let all_names = all_names || profile.and_then(|r| r.all_names).unwrap_or(false);
    if prefix.is_empty() && !all_names {
        return Err(Error::Usage {
            message: "an empty --prefix makes every manual snapshot a candidate".into(),
            hint: Some("add --all-names if that is what you mean".into()),
        });
    }
    Ok(prefix)
}

fn volumes(
    list: Vec<String>,
    all: bool,
    profile: Option<&RotateConfig>,
    command: &str,
) -> Result<Volumes> {
    let list = if list.is_empty() {
        profile.and_then(|r| r.volumes.clone()).unwrap_or_default()
    } else {
        list
    };
    let all = all || profile.and_then(|r| r.all_volumes).unwrap_or(false);
    match (list.is_empty(), all) {
        (false, false) => Ok(Volumes::List(list)),
        (true, true) => Ok(Volumes::All),
        (false, true) => Err(Error::usage(format!(
            "{command}: give --volume or --all-volumes, not both"
        ))),
        (true, false) => Err(Error::Usage {
            message: format!("{command}: no volume given"),
            hint: Some("pass --volume ID (repeatable) or --all-volumes, or set volumes in the profile's rotate table".into()),
        }),
    }
}

/// The keep rules: each flag, else the profile's `rotate` table; at least one is needed.
fn keep_rules(a: &RotateArgs, prof: Option<&RotateConfig>) -> Result<Policy> {
    let count = |flag: Option<usize>,
                 key: &str,
                 f: fn(&RotateConfig) -> Option<i64>|
     -> Result<Option<usize>> {
        match (flag, prof.and_then(f)) {
            (Some(n), _) => Ok(Some(n)),
            (None, None) => Ok(None),
            (None, Some(n)) => crate::commands::cli::keep_count(&n.to_string())
                .map(Some)
                .map_err(|reason| Error::Config {
                    message: format!("invalid {key} {n} in profile: {reason}"),
                    hint: None,
                }),
        }
    };
    let span = |flag: Option<CalendarSpan>,
                key: &str,
                f: fn(&RotateConfig) -> Option<&String>|
     -> Result<Option<CalendarSpan>> {
        match (flag, prof.and_then(f)) {
            (Some(d), _) => Ok(Some(d)),
            (None, None) => Ok(None),
            (None, Some(text)) => {
                CalendarSpan::parse(text)
                    .map(Some)
                    .map_err(|reason| Error::Config {
                        message: format!("invalid {key} {text:?} in profile: {reason}"),
                        hint: Some("restic's grammar: 1y2m3d4h, m is months".into()),
                    })
            }
        }
    };
    let tz_name = a
        .timezone
        .clone()
        .or_else(|| prof.and_then(|r| r.timezone.clone()));
    let timezone = match &tz_name {
        None => jiff::tz::TimeZone::UTC,
        Some(name) => jiff::tz::TimeZone::get(name).map_err(|e| Error::InvalidInput {
            what: "timezone",
            value: name.to_string(),
            reason: format!("expected an IANA zone such as Europe/Paris ({e})"),
        })?,
    };
    let policy = Policy {
        keep_last: count(a.keep_last, "keep-last", |r| r.keep_last)?,
        keep_hourly: count(a.keep_hourly, "keep-hourly", |r| r.keep_hourly)?,
        keep_daily: count(a.keep_daily, "keep-daily", |r| r.keep_daily)?,
        keep_weekly: count(a.keep_weekly, "keep-weekly", |r| r.keep_weekly)?,
        keep_monthly: count(a.keep_monthly, "keep-monthly", |r| r.keep_monthly)?,
        keep_yearly: count(a.keep_yearly, "keep-yearly", |r| r.keep_yearly)?,
        keep_within: span(a.keep_within, "keep-within", |r| r.keep_within.as_ref())?,
        keep_within_hourly: span(a.keep_within_hourly, "keep-within-hourly", |r| {
            r.keep_within_hourly.as_ref()
        })?,
        keep_within_daily: span(a.keep_within_daily, "keep-within-daily", |r| {
            r.keep_within_daily.as_ref()
        })?,
        keep_within_weekly: span(a.keep_within_weekly, "keep-within-weekly", |r| {
            r.keep_within_weekly.as_ref()
        })?,
        keep_within_monthly: span(a.keep_within_monthly, "keep-within-monthly", |r| {
            r.keep_within_monthly.as_ref()
        })?,
        keep_within_yearly: span(a.keep_within_yearly, "keep-within-yearly", |r| {
            r.keep_within_yearly.as_ref()
        })?,
        timezone,
    };
    if policy.is_empty() {
        return Err(Error::Usage {
            message: "rotate needs at least one keep rule".into(),
            hint: Some(
                "for example --keep-last 24 --keep-daily 7, or a [profiles.NAME.rotate] table"
                    .into(),
            ),
        });
    }
    Ok(policy)
}

pub(super) async fn rotate(ctx: &Ctx, settings: &Settings, a: RotateArgs) -> Result<()> {
    let prof = settings.profile.rotate.as_ref();
    let policy = keep_rules(&a, prof)?;
    let opts = RotateOptions {
        volumes: volumes(a.volumes, a.all_volumes, prof, "rotate")?,
        create: a.create || prof.and_then(|r| r.create).unwrap_or(false),
        prefix: prefix(a.prefix, prof, a.all_names)?,
        policy,
        max_delete: a
            .max_delete
            .or_else(|| prof.and_then(|r| r.max_delete))
            .unwrap_or(50),
        dry_run: ctx.dry_run,
        concurrency: a
            .concurrency
            .or_else(|| prof.and_then(|r| r.concurrency))
            .unwrap_or(4)
            .max(1),
        wait: a.wait || prof.and_then(|r| r.wait).unwrap_or(false),
        lock_wait: a.lock_wait.unwrap_or_default(),
        lock_dir: lock_dir(&settings.env)?,
    };
    let max_delete = opts.max_delete;
    let mut report =
        crate::rotation::rotate::rotate(ctx.provider.clone(), opts, ctx.wait.clone()).await?;
    ctx.print(&render_rotation(&report, ctx.format))?;
    // Failures also go to stderr, where cron mail and logs look.
    for v in &report.volumes {
        if let Some(e) = &v.error {
            let line = format!("volume {}: {e}", v.volume_id);
            eprintln!(
                "error: {}",
                crate::text::one_line(&line, crate::text::MAX_LINE)
            );
        }
        for f in &v.failed {
            let line = format!("volume {}: snapshot {}: {}", v.volume_id, f.id, f.error);
            eprintln!(
                "error: {}",
                crate::text::one_line(&line, crate::text::MAX_LINE)
            );
        }
    }
    report.outcome(max_delete)
}

/// `--max-age`, `--warn-age` and `--min-count`, checked as the plugin guidelines ask: a usage
/// problem is UNKNOWN (exit 3, through `run`), never a CRITICAL.
fn check_thresholds(
    a: &CheckArgs,
    kind: ProviderKind,
) -> Result<(Duration, Option<Duration>, usize)> {
    let age = |flag: &'static str, text: &str| -> Result<Duration> {
        let d = parse_duration(text).map_err(|reason| Error::InvalidInput {
            what: flag,
            value: text.to_string(),
            reason,
        })?;
        if d.is_zero() {
            return Err(Error::InvalidInput {
                what: flag,
                value: text.to_string(),
                reason: "an age of zero would always alert".into(),
            });
        }
        Ok(d)
    };
    let max_age = match &a.max_age {
        Some(t) => age("--max-age", t)?,
        None => {
            return Err(Error::Usage {
                message: "check needs --max-age".into(),
                hint: Some(format!(
                    "e.g. snapctl -p {kind} check --volume ID --max-age 26h --warn-age 25h"
                )),
            });
        }
    };
    let warn_age = a
        .warn_age
        .as_deref()
        .map(|t| age("--warn-age", t))
        .transpose()?;
    if let Some(w) = warn_age
        && w > max_age
    {
        return Err(Error::Usage {
            message: format!(
                "--warn-age ({}) is above --max-age ({}): the warning could never come first",
                crate::error::humanize(w),
                crate::error::humanize(max_age)
            ),
            hint: Some("give a --warn-age at most --max-age".into()),
        });
    }
    let min_count = match &a.min_count {
        None => 1,
        Some(t) => t.trim().parse::<usize>().map_err(|_| Error::InvalidInput {
            what: "--min-count",
            value: t.clone(),
            reason: "expected a whole number, 0 or more".into(),
        })?,
    };
    Ok((max_age, warn_age, min_count))
}

pub(super) async fn check(ctx: &Ctx, settings: &Settings, a: CheckArgs) -> Result<u8> {
    let prof = settings.profile.rotate.as_ref();
    let (max_age, warn_age, min_count) = check_thresholds(&a, ctx.provider.kind())?;
    let opts = CheckOptions {
        volumes: volumes(a.volumes, a.all_volumes, prof, "check")?,
        prefix: prefix(a.prefix, prof, a.all_names)?,
        max_age,
        warn_age,
        min_count,
    };
    let (status, checks) =
        rotation::check(ctx.provider.as_ref(), &opts, jiff::Timestamp::now()).await?;
    let text = match ctx.format {
        Format::Table => status_line(status, &checks, &opts),
        other => render_check(status, &checks, other),
    };
    ctx.print(&text)?;
    Ok(status as u8)
}

// Rendering: `rotate` and `check` outputs (the table engine is crate::output's).

use crate::output::{grid, json, lines, opt, time, tsv};
use crate::rotation::rotate::RotateReport;
use crate::rotation::{Status, VolumeCheck};
use jiff::Timestamp;
use serde::Serialize;

/// One volume's rotation rows (snapshot, name, created, action, reasons), newest first.
fn rotation_rows(
    v: &crate::rotation::rotate::VolumeReport,
    hypothetical: bool,
) -> Vec<Vec<String>> {
    let mut rows: Vec<(Option<Timestamp>, Vec<String>)> = Vec::new();
    for k in &v.keep {
        rows.push((
            k.entry.created_at,
            vec![
                k.entry.id.clone(),
                opt(&k.entry.name),
                time(&k.entry.created_at),
                "keep".into(),
                k.reasons.join(", "),
            ],
        ));
    }
    for d in &v.delete {
        let failed = v.failed.iter().find(|f| f.id == d.id);
        let (action, detail) = match (hypothetical, failed) {
            (true, _) => ("would delete", String::new()),
            (false, Some(f)) => ("failed", f.error.clone()),
            (false, None) if v.deleted.iter().any(|x| x.id == d.id) => ("deleted", String::new()),
            (false, None) if v.skipped.iter().any(|x| x.id == d.id) => {
                ("skipped", "interrupted before it started".to_string())
            }
            (false, None) => ("not deleted", String::new()),
        };
        rows.push((
            d.created_at,
            vec![
                d.id.clone(),
                opt(&d.name),
                time(&d.created_at),
                action.into(),
                detail,
            ],
        ));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    rows.into_iter().map(|(_, r)| r).collect()
}

/// `rotate`: a table per volume, the report as JSON, or the ids deleted (would be, in a dry run).
pub(super) fn render_rotation(report: &RotateReport, format: Format) -> String {
    let hypothetical = report.dry_run || report.refused;
    match format {
        Format::Json => json(report),
        Format::Ids => {
            let ids = report.volumes.iter().flat_map(|v| {
                if hypothetical { &v.delete } else { &v.deleted }
                    .iter()
                    .map(|e| e.id.as_str())
            });
            lines(ids)
        }
        Format::Table | Format::Tsv | Format::Csv | Format::Html => {
            let tsv_mode = format == Format::Tsv;
            let mut tsv_rows: Vec<Vec<String>> = Vec::new();
            let mut out = String::new();
            for v in &report.volumes {
                let verb = if hypothetical {
                    "would delete"
                } else {
                    "delete"
                };
                let mark = out.len();
                out.push_str(&format!(
                    "volume {}: {} ({}): keep {}, {verb} {}",
                    crate::text::flatten(&v.volume_id),
                    if report.dry_run {
                        "dry run"
                    } else {
                        "rotation"
                    },
                    report.policy,
                    v.keep.len(),
                    v.delete.len()
                ));
                if !hypothetical {
                    out.push_str(&format!(
                        ", deleted {}, failed {}",
                        v.deleted.len(),
                        v.failed.len()
                    ));
                }
                out.push('\n');
                // Server text (names, ids, error messages) is flattened: it never forges a line.
                use crate::text::flatten;
                if let Some(name) = &v.would_create {
                    out.push_str(&format!("  would create {}\n", flatten(name)));
                }
                if let Some(c) = &v.created {
                    out.push_str(&format!(
                        "  created {} ({})\n",
                        flatten(c.name.as_deref().unwrap_or("-")),
                        flatten(&c.id)
                    ));
                }
                if let Some(e) = &v.error {
                    out.push_str(&format!("  not rotated: {}\n", flatten(&e.to_string())));
                }
                if tsv_mode {
                    // Scripts get the rows only, each with its volume.
                    out.truncate(mark);
                }
                if v.keep.is_empty() && v.delete.is_empty() {
                    continue;
                }
                let rows = rotation_rows(v, hypothetical);
                if tsv_mode {
                    tsv_rows.extend(rows.into_iter().map(|r| {
                        let mut with_volume = vec![v.volume_id.clone()];
                        with_volume.extend(r);
                        with_volume
                    }));
                    continue;
                }
                out.push_str(&grid(
                    &["SNAPSHOT", "NAME", "CREATED", "ACTION", "REASONS"],
                    &rows,
                    &["CREATED"],
                    &["NAME", "REASONS"],
                ));
            }
            if tsv_mode {
                return tsv(
                    &["VOLUME", "SNAPSHOT", "NAME", "CREATED", "ACTION", "REASONS"],
                    &tsv_rows,
                );
            }
            out
        }
    }
}

/// `check -o json|ids`: the status and each volume's newest snapshot and age.
pub(super) fn render_check(status: Status, checks: &[VolumeCheck], format: Format) -> String {
    #[derive(Serialize)]
    struct CheckReport<'a> {
        status: Status,
        volumes: &'a [VolumeCheck],
    }
    match format {
        Format::Ids => lines(
            checks
                .iter()
                .filter_map(|c| c.newest.as_ref().map(|n| n.id.as_str())),
        ),
        _ => json(&CheckReport {
            status,
            volumes: checks,
        }),
    }
}

/// `rotate …`; unset options fall back to the profile's `[profiles.NAME.rotate]` table.
#[derive(Debug, Args, Default)]
pub struct RotateArgs {
    /// Volume to rotate (repeatable).
    #[arg(long = "volume", value_name = "ID")]
    pub volumes: Vec<String>,
    /// Rotate every volume of the service/account.
    #[arg(long)]
    pub all_volumes: bool,
    /// Take a snapshot named <prefix><UTC YYYYMMDDTHHMMSSZ> first.
    #[arg(long)]
    pub create: bool,
    /// Only manual snapshots whose name starts with this are candidates [default: snapctl-].
    #[arg(long)]
    pub prefix: Option<String>,
    /// Allow an empty --prefix (every manual snapshot becomes a candidate).
    #[arg(long)]
    pub all_names: bool,
    /// Keep the N newest.
    #[arg(long, value_name = "N", value_parser = keep_count, allow_negative_numbers = true)]
    pub keep_last: Option<usize>,
    /// Keep the newest of each of the N most recent hours.
    #[arg(long, value_name = "N", value_parser = keep_count, allow_negative_numbers = true)]
    pub keep_hourly: Option<usize>,
    /// Keep the newest of each of the N most recent days.
    #[arg(long, value_name = "N", value_parser = keep_count, allow_negative_numbers = true)]
    pub keep_daily: Option<usize>,
    /// Keep the newest of each of the N most recent ISO weeks.
    #[arg(long, value_name = "N", value_parser = keep_count, allow_negative_numbers = true)]
    pub keep_weekly: Option<usize>,
    /// Keep the newest of each of the N most recent months.
    #[arg(long, value_name = "N", value_parser = keep_count, allow_negative_numbers = true)]
    pub keep_monthly: Option<usize>,
    /// Keep the newest of each of the N most recent years.
    #[arg(long, value_name = "N", value_parser = keep_count, allow_negative_numbers = true)]
    pub keep_yearly: Option<usize>,
    /// Keep everything younger than this, measured from the newest snapshot. restic's grammar:
    /// 1y2m3d4h, where m is MONTHS (there are no minutes): 1m is one month.
    #[arg(long, value_parser = span, value_name = "SPAN")]
    pub keep_within: Option<CalendarSpan>,
    /// Keep the newest of each hour within SPAN of the newest snapshot (restic's grammar).
    #[arg(long, value_parser = span, value_name = "SPAN")]
    pub keep_within_hourly: Option<CalendarSpan>,
    /// Keep the newest of each day within SPAN of the newest snapshot.
    #[arg(long, value_parser = span, value_name = "SPAN")]
    pub keep_within_daily: Option<CalendarSpan>,
    /// Keep the newest of each ISO week within SPAN of the newest snapshot.
    #[arg(long, value_parser = span, value_name = "SPAN")]
    pub keep_within_weekly: Option<CalendarSpan>,
    /// Keep the newest of each month within SPAN of the newest snapshot.
    #[arg(long, value_parser = span, value_name = "SPAN")]
    pub keep_within_monthly: Option<CalendarSpan>,
    /// Keep the newest of each year within SPAN of the newest snapshot.
    #[arg(long, value_parser = span, value_name = "SPAN")]
    pub keep_within_yearly: Option<CalendarSpan>,
    /// Refuse (exit 9) when the plan would delete more than this [default: 50].
    #[arg(long, value_name = "N", value_parser = count::<usize>, allow_negative_numbers = true)]
    pub max_delete: Option<usize>,
    /// Volumes processed at once [default: 4].
    #[arg(long, value_name = "N", value_parser = positive::<usize>, allow_negative_numbers = true)]
    pub concurrency: Option<usize>,
    /// Wait for the new snapshot to be usable before deleting anything, and for deletions to finish.
    #[arg(long)]
    pub wait: bool,
    /// Zone the hour/day/week/month/year buckets are cut in [default: UTC].
    #[arg(long, value_name = "IANA_NAME")]
    pub timezone: Option<String>,
    /// Wait this long for another run's lock instead of exiting 8.
    #[arg(long, value_parser = duration, allow_hyphen_values = true, value_name = "DURATION")]
    pub lock_wait: Option<Duration>,
}

/// `check …`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Volume to check (repeatable).
    #[arg(long = "volume", value_name = "ID")]
    pub volumes: Vec<String>,
    /// Check every volume.
    #[arg(long)]
    pub all_volumes: bool,
    // The values are checked by the command, not by clap, so that a bad one is the plugin's
    // UNKNOWN (exit 3), as the monitoring-plugin guidelines want, rather than a usage exit 2.
    /// CRITICAL when the newest snapshot is older than this (required).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub max_age: Option<String>,
    /// WARNING when the newest snapshot is older than this (at most --max-age).
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub warn_age: Option<String>,
    /// CRITICAL when fewer snapshots than this exist [default: 1].
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub min_count: Option<String>,
    /// Only manual snapshots whose name starts with this count [default: the profile's rotate prefix, else snapctl-].
    #[arg(long)]
    pub prefix: Option<String>,
    /// Allow an empty --prefix.
    #[arg(long)]
    pub all_names: bool,
}
