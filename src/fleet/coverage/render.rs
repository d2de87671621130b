//! The coverage report as CSV, a table and a self-contained HTML page (the JSON is the types' serde
//! form). Server text is escaped or flattened here.

use super::*;

/// `-o csv`: one row per policy, volume and tick (RFC 4180, a header line), the volume's figures
/// repeated on each of its rows.
pub fn coverage_csv(r: &Coverage) -> String {
    let mut out = String::from(
        "policy,provider,volume_id,volume_name,tick,status,snapshot_id,rpo_seconds,owned_now,retention_held,drills_passed,drills_failed,last_restore_seconds,copies\r\n",
    );
    for p in &r.policies {
        for v in &p.volumes {
            for t in &v.ticks {
                let cells = [
                    p.id.clone(),
                    p.provider.map(|k| k.to_string()).unwrap_or_default(),
                    v.volume_id.clone(),
                    v.volume_name.clone().unwrap_or_default(),
                    t.at.map(|a| a.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
                        .unwrap_or_default(),
                    t.status.as_str().to_string(),
                    t.snapshot_id.clone().unwrap_or_default(),
                    v.rpo_seconds.to_string(),
                    v.owned_now.to_string(),
                    v.retention_held.to_string(),
                    v.drills.passed.to_string(),
                    v.drills.failed.to_string(),
                    v.drills
                        .restore_seconds
                        .last()
                        .map(|s| format!("{s:.3}"))
                        .unwrap_or_default(),
                    copy_words(&v.copies),
                ];
                let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                out.push_str(&row.join(","));
                out.push_str("\r\n");
            }
        }
    }
    out
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break (quotes doubled); server
/// text flattened, and a leading `=`, `+`, `-` or `@` prefixed with `'` so a spreadsheet never
/// runs it as a formula.
pub(super) fn csv_cell(text: &str) -> String {
    // Guarded after flattening, and through the blanks it leaves: a leading TAB or line break
    // becomes a space, and a spreadsheet still reads ` =HYPERLINK(…)` as a formula.
    let mut t = crate::text::flatten(text);
    if t.trim_start().starts_with(['=', '+', '-', '@']) {
        t.insert(0, '\'');
    }
    if t.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", t.replace('"', "\"\""))
    } else {
        t
    }
}

/// `-o table`: one line per volume.
pub fn coverage_table(r: &Coverage) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Coverage {} → {}{}",
        human_time(r.since),
        human_time(r.until),
        match r.history_from {
            Some(t) => format!(", history from {}", human_time(Some(t))),
            None => ", no history (set history_dir): ticks not answered now are unknown".into(),
        }
    );
    for p in &r.policies {
        let _ = writeln!(
            out,
            "policy {} on {}: every {}{}",
            p.id,
            p.provider
                .map(|k| k.to_string())
                .unwrap_or_else(|| "?".into()),
            crate::fleet::file::cadence_words(p.interval_seconds),
            p.error
                .as_deref()
                .map(|e| format!(" (not listed now: {})", crate::text::flatten(e)))
                .unwrap_or_default()
        );
        for v in &p.volumes {
            let c = &v.counts;
            let _ = writeln!(
                out,
                "  {}{}: {} met, {} pruned, {} lost, {} missed, {} unknown; RPO {}; {} owned{}; drills {}{}",
                crate::text::flatten(&v.volume_id),
                v.volume_name
                    .as_deref()
                    .map(|n| format!(" ({})", crate::text::flatten(n)))
                    .unwrap_or_default(),
                c.met,
                c.pruned,
                c.lost,
                c.missed,
                c.unknown,
                rpo_words(v.rpo_seconds),
                v.owned_now,
                if v.retention_held { "" } else { " (below min)" },
                drill_words(&v.drills, p.provider),
                if v.copies.is_empty() {
                    String::new()
                } else {
                    format!("; copies {}", copy_words(&v.copies))
                }
            );
        }
    }
    let t = &r.totals;
    let _ = writeln!(
        out,
        "Total: {} volumes; ticks answered {}; worst RPO {}; {} drills passed, {} failed{}.",
        t.volumes,
        answered_words(t),
        t.worst_rpo_seconds
            .map(rpo_words)
            .unwrap_or_else(|| "-".into()),
        t.drills_passed,
        t.drills_failed,
        if r.policies
            .iter()
            .flat_map(|p| &p.volumes)
            .any(|v| !v.copies.is_empty())
        {
            format!(
                "; {} without a recent copy{}",
                t.copies_missing,
                if t.copies_unknown > 0 {
                    format!(", {} unknown (destination not read)", t.copies_unknown)
                } else {
                    String::new()
                }
            )
        } else {
            String::new()
        }
    );
    out
}

/// `29 of 30 (96.7%)`: ticks met or pruned among those that could be judged.
pub(super) fn answered_words(t: &Totals) -> String {
    format!(
        "{} of {} ({})",
        t.ticks.met + t.ticks.pruned,
        t.ticks.met + t.ticks.pruned + t.ticks.lost + t.ticks.missed,
        t.answered_share
            .map(|s| format!("{:.1}%", s * 100.0))
            .unwrap_or_else(|| "-".into())
    )
}

/// A volume's drills in words: `2 passed, 0 failed; last restore 81.2 s`; `n/a` where the
/// policy's provider cannot restore a snapshot to a volume (NAS-HA), so no drill can run.
pub(super) fn drill_words(d: &Drills, provider: Option<crate::kind::ProviderKind>) -> String {
    let drillable = provider
        .is_none_or(|k| crate::providers::entry(k).capabilities.clone == crate::kind::Support::Yes);
    if !drillable && d.passed == 0 && d.failed == 0 {
        return "n/a (no restore to a volume on this provider)".into();
    }
    format!(
        "{} passed, {} failed{}",
        d.passed,
        d.failed,
        d.restore_seconds
            .last()
            .map(|s| format!("; last restore {}", crate::text::seconds_words(*s)))
            .unwrap_or_default()
    )
}

/// An RPO in words, to the nearest minute (clocks differ by fractions of a second).
pub(super) fn rpo_words(secs: i64) -> String {
    let minutes = (secs.max(0) as u64 + 30) / 60;
    if minutes == 0 {
        return "under a minute".into();
    }
    crate::fleet::file::cadence_words(minutes * 60)
}

/// A time for people: `2026-12-02 17:45 UTC`, `-` for none.
pub(super) fn human_time(t: Option<Timestamp>) -> String {
    t.map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

/// A volume's copies in words: `cloudgouv-eu-west-1: 3, newest 2026-12-01 00:00 UTC`.
pub(super) fn copy_words(copies: &[CopyCoverage]) -> String {
    copies
        .iter()
        .map(|c| {
            let Some(copies) = c.copies else {
                return format!(
                    "{}: unknown ({})",
                    c.region,
                    c.error.as_deref().unwrap_or("not read")
                );
            };
            format!(
                "{}: {}{}{}",
                c.region,
                copies,
                c.newest
                    .map(|t| format!(", newest {}", human_time(Some(t))))
                    .unwrap_or_default(),
                if c.present { "" } else { " (not recent)" }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// HTML text: `&`, `<`, `>`, `"` and `'` escaped, control characters removed.
pub(super) fn esc(text: &str) -> String {
    crate::text::flatten(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The mark of a tick in the HTML table: a symbol that reads without colour (printing).
pub(super) fn symbol(s: TickStatus) -> &'static str {
    match s {
        TickStatus::Met => "●",
        TickStatus::Pruned => "○",
        TickStatus::Lost => "!",
        TickStatus::Missed => "✕",
        TickStatus::Pending => "…",
        TickStatus::Unknown => "?",
    }
}

/// `-o html`: one self-contained page (inline CSS, no script, no external asset), readable and
/// printable: totals first, then per policy a row per volume with a mark per tick.
pub fn coverage_html(r: &Coverage) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let t = &r.totals;
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>snapctl coverage {} to {}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<h1>Snapshot coverage</h1>\n<p class=\"window\">From <time>{}</time> to <time>{}</time>. {}</p>\n",
        esc(&human_time(r.since)),
        esc(&human_time(r.until)),
        esc(&human_time(r.since)),
        esc(&human_time(r.until)),
        match r.history_from {
            Some(h) => format!(
                "Run history from <time>{}</time> ({} runs in the window).",
                esc(&human_time(Some(h))),
                r.history_runs
            ),
            None => "No run history (history_dir is not set): ticks not answered by a snapshot kept now are unknown.".into(),
        }
    );
    let _ = write!(
        o,
        "<table class=\"totals\">\n<caption>Totals</caption>\n<tbody>\n<tr><th scope=\"row\">Volumes</th><td id=\"total-volumes\">{}</td></tr>\n<tr><th scope=\"row\">Ticks answered</th><td id=\"total-answered\">{}</td></tr>\n<tr><th scope=\"row\">Ticks missed</th><td id=\"total-missed\">{}</td></tr>\n<tr><th scope=\"row\">Snapshots pruned as planned</th><td id=\"total-pruned\">{}</td></tr>\n<tr><th scope=\"row\">Snapshots lost (deleted outside the policy)</th><td id=\"total-lost\">{}</td></tr>\n<tr><th scope=\"row\">Ticks unknown (no history)</th><td id=\"total-unknown\">{}</td></tr>\n<tr><th scope=\"row\">Worst RPO</th><td id=\"total-rpo\">{}</td></tr>\n<tr><th scope=\"row\">Volumes below their retention floor</th><td id=\"total-retention\">{}</td></tr>\n<tr><th scope=\"row\">Restore drills</th><td id=\"total-drills\">{} passed, {} failed{}</td></tr>\n<tr><th scope=\"row\">Volumes without a recent copy in another Region</th><td id=\"total-copies-missing\">{}</td></tr>\n<tr><th scope=\"row\">Copies unknown (destination not read)</th><td id=\"total-copies-unknown\">{}</td></tr>\n</tbody>\n</table>\n",
        t.volumes,
        answered_words(t),
        t.ticks.missed,
        t.ticks.pruned,
        t.ticks.lost,
        t.ticks.unknown,
        t.worst_rpo_seconds
            .map(|s| esc(&rpo_words(s)))
            .unwrap_or_else(|| "-".into()),
        t.retention_short,
        t.drills_passed,
        t.drills_failed,
        t.slowest_restore_seconds
            .map(|s| format!("; slowest restore {}", crate::text::seconds_words(s)))
            .unwrap_or_default(),
        t.copies_missing,
        t.copies_unknown
    );
    o.push_str("<p class=\"legend\">");
    for s in TickStatus::ALL {
        let _ = write!(
            o,
            "<span class=\"tick {}\">{}</span> {} ",
            s.as_str(),
            symbol(s),
            s.as_str()
        );
    }
    o.push_str("</p>\n");
    for p in &r.policies {
        html_policy(&mut o, p);
    }
    let _ = writeln!(
        o,
        "<footer>Generated by snapctl {} from the run history and the clouds' listings. Schema {}.</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION"),
        COVERAGE_SCHEMA
    );
    o
}

/// One policy's section of the HTML report: a row per volume, a mark per tick.
pub(super) fn html_policy(o: &mut String, p: &PolicyCoverage) {
    use std::fmt::Write as _;
    let _ = write!(
        o,
        "<section class=\"policy\" id=\"policy-{}\">\n<h2>Policy {} <small>{}, every {}</small></h2>\n",
        esc(&p.id),
        esc(&p.id),
        esc(&p
            .provider
            .map(|k| k.to_string())
            .unwrap_or_else(|| "?".into())),
        esc(&crate::fleet::file::cadence_words(p.interval_seconds))
    );
    if let Some(e) = &p.error {
        let _ = writeln!(o, "<p class=\"error\">Not listed now: {}</p>", esc(e));
    }
    o.push_str("<table class=\"volumes\">\n<thead><tr><th scope=\"col\">Volume</th><th scope=\"col\">Ticks</th><th scope=\"col\">Met</th><th scope=\"col\">Pruned</th><th scope=\"col\">Missed</th><th scope=\"col\">RPO</th><th scope=\"col\">Owned now</th><th scope=\"col\">Drills</th><th scope=\"col\">Copies</th></tr></thead>\n<tbody>\n");
    for v in &p.volumes {
        let _ = write!(
            o,
            "<tr data-volume=\"{}\"><th scope=\"row\">{}{}</th><td class=\"marks\">",
            esc(&v.volume_id),
            esc(&v.volume_id),
            v.volume_name
                .as_deref()
                .map(|n| format!("<br><small>{}</small>", esc(n)))
                .unwrap_or_default()
        );
        for tick in &v.ticks {
            let when = tick
                .at
                .map(|a| a.strftime("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            let _ = write!(
                o,
                "<span class=\"tick {}\" title=\"{} {}{}\">{}</span>",
                tick.status.as_str(),
                esc(&when),
                tick.status.as_str(),
                tick.snapshot_id
                    .as_deref()
                    .map(|s| format!(" {}", esc(s)))
                    .unwrap_or_default(),
                symbol(tick.status)
            );
        }
        let c = &v.counts;
        let _ = writeln!(
            o,
            "</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}{}</td><td>{}</td><td class=\"copies{}\">{}</td></tr>",
            c.met,
            c.pruned,
            if c.missed > 0 { "bad" } else { "good" },
            c.missed,
            esc(&rpo_words(v.rpo_seconds)),
            v.owned_now,
            if v.retention_held { "" } else { " (below min)" },
            drill_words(&v.drills, p.provider),
            if v.copies.iter().any(|c| !c.present) {
                " bad"
            } else {
                ""
            },
            if v.copies.is_empty() {
                "-".to_string()
            } else {
                esc(&copy_words(&v.copies))
            }
        );
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

pub(super) const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#1b1b1b}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}h2 small{font-weight:normal;color:#555}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.3em .5em;text-align:left;vertical-align:top}
caption{text-align:left;font-weight:bold}
.volumes tbody th{white-space:nowrap}
.marks{font-family:ui-monospace,monospace;line-height:1.4;max-width:60em;word-break:break-all}
.tick{display:inline-block;min-width:1.1em;text-align:center}
.met{color:#176b2c}.pruned{color:#5a6f86}.lost{color:#a04a00;font-weight:bold}.missed{color:#b00020;font-weight:bold}
.pending{color:#555}.unknown{color:#888}
td.bad{background:#fde8ea}td.good{background:#eaf6ec}
.error{color:#b00020}
footer{margin-top:3em;color:#555;font-size:.9em}
@media print{body{margin:0}.marks{max-width:none}section{break-inside:avoid}}
";
