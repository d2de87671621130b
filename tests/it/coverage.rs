//! `policy report`: the coverage of 30 simulated days against the emulator (one apply a day, one
//! day skipped, retention pruning the rest), checked in JSON, CSV, the table and the HTML page,
//! which a real headless Chromium renders.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use snapctl::provider::ProviderKind;

use crate::common::{assert_exit, stderr, stdout, tool};
use crate::emulator::{Cli, start};

/// 30 days of a daily policy keeping 3: the report over them has the skipped day `missed`, the
/// days whose snapshots retention deleted `pruned`, and the 3 kept `met`, in every format; a
/// file without `history_dir` reports what it cannot know as `unknown`.
#[tokio::test(flavor = "multi_thread")]
async fn thirty_days_report_a_missed_tick_and_pruned_ones_in_every_format() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::Outscale;
    let volume = emu.demo_volume(k);
    let history = cli.home().join("history");
    let text = format!(
        "history_dir = \"{}\"\n[[policy]]\nid = \"daily\"\nprovider = \"outscale\"\nevery = \"1d\"\nselect = {{ ids = [\"{volume}\"] }}\nkeep = {{ last = 3 }}\n",
        history.display()
    );
    let file = cli.home().join("fleet.toml");
    std::fs::write(&file, &text).expect("policy file");
    let f = file.to_str().expect("utf-8");
    // Midnight (UTC) at least three hours ago: every simulated run is in the past.
    let now = Timestamp::now();
    let base = Timestamp::from_second((now.as_second() - 3 * 3600).div_euclid(86_400) * 86_400)
        .expect("midnight");
    let skipped = 10;
    for day in (0..30).rev() {
        if day == skipped {
            continue;
        }
        let at = base - SignedDuration::from_hours(24 * day) + SignedDuration::from_hours(1);
        emu.set_clock_offset(at.duration_since(Timestamp::now()));
        let out = cli
            .bare(&["policy", "apply", "-f", f, "--at", &at.to_string()])
            .await;
        assert_exit(&out, 0);
    }
    emu.set_clock_offset(SignedDuration::ZERO);
    assert_eq!(
        std::fs::read_dir(&history).expect("history").count(),
        29,
        "one file per run"
    );
    let until = (base + SignedDuration::from_hours(2)).to_string();
    let json = report(&cli, f, &until, "json").await;
    assert_exit(&json, 0);
    let r: Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(r["schema"], "snapctl.coverage-report/v1");
    assert_eq!(r["history_runs"], 29);
    let v = &r["policies"][0]["volumes"][0];
    assert_eq!(v["volume_id"], volume.as_str());
    let ticks = v["ticks"].as_array().expect("ticks");
    assert_eq!(ticks.len(), 30, "{ticks:?}");
    let status_on = |day: i64| {
        let at = (base - SignedDuration::from_hours(24 * day))
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        ticks
            .iter()
            .find(|t| t["at"] == at.as_str())
            .unwrap_or_else(|| panic!("tick {at}: {ticks:?}"))["status"]
            .as_str()
            .expect("status")
            .to_string()
    };
    assert_eq!(status_on(skipped), "missed");
    for day in [0, 1, 2] {
        assert_eq!(status_on(day), "met", "day -{day}");
    }
    for day in [3, 9, 11, 29] {
        assert_eq!(status_on(day), "pruned", "day -{day}");
    }
    assert_eq!(
        v["counts"],
        serde_json::json!({"met": 3, "pruned": 26, "lost": 0, "missed": 1, "pending": 0, "unknown": 0})
    );
    // The skipped day makes a two-day gap.
    let rpo = v["rpo_seconds"].as_i64().expect("rpo");
    assert!((2 * 86_400 - 60..=2 * 86_400 + 60).contains(&rpo), "{rpo}");
    assert_eq!(v["owned_now"], 3);
    assert_eq!(r["totals"]["ticks"]["missed"], 1);

    let csv = report(&cli, f, &until, "csv").await;
    assert_exit(&csv, 0);
    let csv = stdout(&csv);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 31, "a header and one row per tick");
    assert!(rows[0].starts_with("policy,provider,volume_id,volume_name,tick,status,"));
    let missed: Vec<&&str> = rows.iter().filter(|r| r.contains(",missed,")).collect();
    assert_eq!(missed.len(), 1);
    let day = (base - SignedDuration::from_hours(24 * skipped))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert!(missed[0].contains(&day), "{}", missed[0]);
    assert_eq!(rows.iter().filter(|r| r.contains(",pruned,")).count(), 26);

    let table = report(&cli, f, &until, "table").await;
    assert_exit(&table, 0);
    assert!(
        stdout(&table).contains("3 met, 26 pruned, 0 lost, 1 missed, 0 unknown; RPO 2d"),
        "{}",
        stdout(&table)
    );

    // The page: written with --out, then rendered by a real browser.
    let page = cli.home().join("coverage.html");
    let html = cli
        .bare(&[
            "-o",
            "html",
            "policy",
            "report",
            "-f",
            f,
            "--since",
            "30d",
            "--at",
            &until,
            "--out",
            page.to_str().expect("utf-8"),
        ])
        .await;
    assert_exit(&html, 0);
    let written = std::fs::read_to_string(&page).expect("page");
    for external in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!written.contains(external), "self-contained: {external}");
    }
    if let Some(chromium) = tool("chromium", "chromium") {
        let profile = tempfile::tempdir().expect("profile");
        let rendered = render(&chromium, profile.path(), &page, "--dump-dom");
        let dom = String::from_utf8_lossy(&rendered.stdout).into_owned();
        assert!(
            rendered.status.success(),
            "{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        assert!(dom.contains("<h1>Snapshot coverage</h1>"), "{dom}");
        assert!(dom.contains("id=\"total-missed\">1<"), "{dom}");
        assert!(dom.contains("id=\"total-pruned\">26<"), "{dom}");
        let row_start = dom
            .find(&format!("data-volume=\"{volume}\""))
            .expect("the volume's row");
        let row = &dom[row_start..dom[row_start..].find("</tr>").expect("row end") + row_start];
        assert_eq!(row.matches("class=\"tick missed\"").count(), 1, "{row}");
        assert_eq!(row.matches("class=\"tick pruned\"").count(), 26, "{row}");
        assert_eq!(row.matches("class=\"tick met\"").count(), 3, "{row}");
        assert!(
            row.contains(&format!(
                "title=\"{} missed\"",
                day.replace('T', " ").replace(":00:00Z", ":00 UTC")
            )),
            "{row}"
        );
        // And it prints.
        let pdf = cli.home().join("coverage.pdf");
        let printed = render(
            &chromium,
            profile.path(),
            &page,
            &format!("--print-to-pdf={}", pdf.display()),
        );
        assert!(
            printed.status.success(),
            "{}",
            String::from_utf8_lossy(&printed.stderr)
        );
        let bytes = std::fs::read(&pdf).expect("pdf");
        assert!(bytes.starts_with(b"%PDF-") && bytes.len() > 1000);
    }

    // Without history, what is gone cannot be judged: unknown, and a warning says why.
    let bare = cli.home().join("bare.toml");
    std::fs::write(&bare, text.lines().skip(1).collect::<Vec<_>>().join("\n")).expect("write");
    let out = cli
        .bare(&[
            "-o",
            "json",
            "policy",
            "report",
            "-f",
            bare.to_str().expect("utf-8"),
            "--since",
            "30d",
            "--at",
            &until,
        ])
        .await;
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("no history_dir"), "{}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        r["policies"][0]["volumes"][0]["counts"],
        serde_json::json!({"met": 3, "pruned": 0, "lost": 0, "missed": 0, "pending": 0, "unknown": 27})
    );
    // A run that changes nothing leaves a few hundred bytes of history, whatever the fleet.
    let last = (base + SignedDuration::from_hours(1)).to_string();
    let before: std::collections::BTreeSet<_> = std::fs::read_dir(&history)
        .expect("history")
        .map(|e| e.expect("entry").path())
        .collect();
    let again = cli.bare(&["policy", "apply", "-f", f, "--at", &last]).await;
    assert_exit(&again, 0);
    let added: Vec<_> = std::fs::read_dir(&history)
        .expect("history")
        .map(|e| e.expect("entry").path())
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(added.len(), 1);
    let run: Value = serde_json::from_slice(&std::fs::read(&added[0]).expect("run")).expect("json");
    assert_eq!(run["policies"][0]["units"], serde_json::json!([]), "{run}");
    assert!(std::fs::metadata(&added[0]).expect("meta").len() < 1024);
    // csv and html are the report's formats only.
    let refused = cli.run(k, &["-o", "csv", "volume", "list"]).await;
    assert_exit(&refused, 2);
}

/// `-o FORMAT policy report -f FILE --since 30d --at UNTIL`.
async fn report(cli: &Cli<'_>, file: &str, until: &str, format: &str) -> std::process::Output {
    cli.bare(&[
        "-o", format, "policy", "report", "-f", file, "--since", "30d", "--at", until,
    ])
    .await
}

/// Chromium, headless, with nothing of the network (this machine has none) and a fresh profile.
fn render(
    chromium: &std::path::Path,
    profile: &std::path::Path,
    page: &std::path::Path,
    action: &str,
) -> std::process::Output {
    std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(action)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

/// Where the provider cannot restore a snapshot to a volume (NAS-HA), the report says drills are
/// `n/a`, not "0 passed, 0 failed" (issue 43 §5).
#[tokio::test(flavor = "multi_thread")]
async fn drills_are_not_applicable_where_the_provider_cannot_restore() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let k = ProviderKind::OvhNasha;
    let text = format!(
        "[[policy]]\nid = \"nas\"\nprovider = \"ovh-nasha\"\nservice = \"{}\"\nevery = \"1h\"\nselect = {{ ids = [\"{}\"] }}\nkeep = {{ last = 3 }}\n",
        snapctl::emulator::Emulator::service(k).expect("a service"),
        emu.demo_volume(k)
    );
    let file = cli.home().join("fleet.toml");
    std::fs::write(&file, &text).expect("policy file");
    let f = file.to_str().expect("utf-8");
    assert_exit(&cli.bare(&["policy", "apply", "-f", f]).await, 0);
    let table = cli
        .bare(&["policy", "report", "-f", f, "--since", "1d"])
        .await;
    assert!(
        stdout(&table).contains("drills n/a (no restore to a volume on this provider)"),
        "{}",
        stdout(&table)
    );
}
