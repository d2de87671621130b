//! Tables that fit: compact (no box drawing), the width of the terminal or `COLUMNS`, columns left
//! out then names cut with `…` when narrow, `--no-headers`, and `-o tsv` for scripts.

use snapctl::kind::ProviderKind;

use super::emulator::{Cli, start};
use crate::common::{assert_exit, stdout};

const BOX: &[char] = &['─', '│', '┌', '┐', '└', '┘', '╞', '═', '╡', '├', '┤', '┼'];

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_list_fits_the_width_it_is_given_and_never_cuts_an_id() {
    let emu = start().await;
    let mut cli = Cli::new(&emu);
    let kind = ProviderKind::OvhEfs;
    let share = emu.demo_volume(kind);
    let long = format!("before-the-{}-upgrade", "very-".repeat(30));
    let made = cli
        .json(
            kind,
            &[
                "snapshot", "create", "--volume", &share, "--name", &long, "--wait",
            ],
        )
        .await;
    let id = made["id"].as_str().expect("id").to_string();
    let all = cli.json(kind, &["snapshot", "list"]).await;
    let ids: Vec<String> = all
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect();

    // Piped, no COLUMNS: whole lines, every column, still no box drawing.
    let out = cli.run(kind, &["snapshot", "list"]).await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(!text.contains(BOX), "{text}");
    assert!(text.contains(&long), "a pipe gets the whole name");
    assert!(text.lines().next().expect("header").starts_with("ID "));

    for width in [100usize, 80] {
        cli.overrides = vec![("COLUMNS".into(), width.to_string())];
        let out = cli.run(kind, &["snapshot", "list"]).await;
        assert_exit(&out, 0);
        let text = stdout(&out);
        for line in text.lines() {
            assert!(
                line.chars().count() <= width,
                "{width}: {} columns: {line}",
                line.chars().count()
            );
        }
        for i in &ids {
            assert!(
                text.contains(i.as_str()),
                "{width}: id {i} cut or missing\n{text}"
            );
        }
        let row = text
            .lines()
            .find(|l| l.starts_with(&id))
            .expect("the long one");
        assert!(row.contains('…'), "{width}: the long name is cut: {row}");
        assert!(!text.contains(BOX));
    }

    cli.overrides = vec![("COLUMNS".into(), "100".into())];
    let out = cli.run(kind, &["--no-headers", "snapshot", "list"]).await;
    let text = stdout(&out);
    assert_eq!(text.lines().count(), ids.len(), "{text}");
    assert!(!text.contains("CREATED"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tsv_has_every_column_one_line_per_item_and_a_header_unless_asked() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let kind = ProviderKind::Outscale;
    let volume = emu.demo_volume(kind);
    let out = cli
        .run(
            kind,
            &["-o", "tsv", "snapshot", "list", "--volume", &volume],
        )
        .await;
    assert_exit(&out, 0);
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("ID\tVOLUME\tNAME\tKIND\tSTATE\tCREATED\tEXPIRES")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(!rows.is_empty());
    for r in &rows {
        let cells: Vec<&str> = r.split('\t').collect();
        assert_eq!(cells.len(), 7, "{r}");
        assert!(cells[0].starts_with("snap-"));
        assert_eq!(cells[1], volume);
    }
    let bare = cli
        .run(
            kind,
            &[
                "-o",
                "tsv",
                "--no-headers",
                "snapshot",
                "list",
                "--volume",
                &volume,
            ],
        )
        .await;
    assert_eq!(stdout(&bare).lines().count(), rows.len());
    let volumes = cli.run(kind, &["-o", "tsv", "volume", "list"]).await;
    assert!(stdout(&volumes).starts_with("ID\tNAME\t"));
}

/// `show` prints one `key: value` line per field of the JSON form, description and size included
/// (the one-row table left them out).
#[tokio::test(flavor = "multi_thread")]
async fn show_is_vertical_with_every_field_on_every_provider() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    for kind in ProviderKind::ALL {
        let volume = emu.demo_volume(kind);
        let listed = cli
            .json(kind, &["snapshot", "list", "--volume", &volume])
            .await;
        let first = &listed.as_array().expect("array")[0];
        let id = first["id"].as_str().expect("id");
        let out = cli
            .run(kind, &["snapshot", "show", id, "--volume", &volume])
            .await;
        assert_exit(&out, 0);
        let text = stdout(&out);
        assert!(text.starts_with("id:"), "{kind}: {text}");
        for field in first.as_object().expect("object").keys() {
            assert!(
                text.lines().any(|l| l.starts_with(&format!("{field}:"))),
                "{kind}: no {field} in\n{text}"
            );
        }
        let out = cli.run(kind, &["volume", "show", &volume]).await;
        assert!(stdout(&out).contains("size_gib:"), "{kind}");
    }
}

/// Every command's --help lists its own options first and the global ones under their heading.
#[tokio::test(flavor = "multi_thread")]
async fn help_puts_global_options_under_their_own_heading() {
    let out = crate::common::Snapctl::bare()
        .run(&["rotate", "--help"])
        .await;
    let text = stdout(&out);
    let own = text.find("--keep-hourly").expect("own option");
    let heading = text.find("Global options:").expect("heading");
    let global = text.find("--region").expect("global option");
    assert!(own < heading && heading < global, "{text}");
}

/// `--filter`, `--older-than/--newer-than`, `--sort` and `--limit` on `snapshot list`, the same on
/// every format; a bad one is refused before any request.
#[tokio::test(flavor = "multi_thread")]
async fn snapshot_lists_filter_sort_and_limit() {
    let emu = snapctl::emulator::start(snapctl::emulator::EmulatorConfig {
        bulk: 5,
        ..Default::default()
    })
    .await
    .expect("emulator");
    let cli = Cli::new(&emu);
    for kind in [
        ProviderKind::OvhEfs,
        ProviderKind::Outscale,
        ProviderKind::Powervc,
    ] {
        let ours = cli
            .json(kind, &["snapshot", "list", "--filter", "name=snapctl-*"])
            .await;
        let ours = ours.as_array().expect("array");
        assert_eq!(ours.len(), 5, "{kind}");
        assert!(ours.iter().all(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("snapctl-"))
        }));

        let newest = cli
            .json(
                kind,
                &[
                    "snapshot",
                    "list",
                    "--filter",
                    "name=snapctl-*",
                    "--sort",
                    "-created",
                    "--limit",
                    "2",
                ],
            )
            .await;
        let newest = newest.as_array().expect("array");
        assert_eq!(newest.len(), 2, "{kind}");
        assert!(newest[0]["created_at"].as_str() > newest[1]["created_at"].as_str());
        let latest = ours
            .iter()
            .filter_map(|s| s["created_at"].as_str())
            .max()
            .expect("times");
        assert_eq!(newest[0]["created_at"], latest, "{kind}");

        // Seeded one hour apart, from an hour ago: 2 are younger than 150 minutes.
        let out = cli
            .run(
                kind,
                &[
                    "-o",
                    "ids",
                    "snapshot",
                    "list",
                    "--filter",
                    "name=snapctl-*",
                    "--newer-than",
                    "150m",
                ],
            )
            .await;
        assert_exit(&out, 0);
        assert_eq!(stdout(&out).lines().count(), 2, "{kind}: {}", stdout(&out));
        let out = cli
            .run(
                kind,
                &[
                    "-o",
                    "tsv",
                    "--no-headers",
                    "snapshot",
                    "list",
                    "--filter",
                    "name=snapctl-*,before-*",
                    "--filter",
                    "state=available",
                    "--older-than",
                    "150m",
                ],
            )
            .await;
        assert_exit(&out, 0);
        assert!(
            stdout(&out).lines().count() >= 3,
            "{kind}: {}",
            stdout(&out)
        );

        let before = emu.requests();
        let bad = cli
            .run(kind, &["snapshot", "list", "--filter", "colour=red"])
            .await;
        assert_exit(&bad, 2);
        let bad = cli.run(kind, &["snapshot", "list", "--sort", "size"]).await;
        assert_exit(&bad, 2);
        assert_eq!(
            emu.requests(),
            before,
            "{kind}: a bad selection sent a request"
        );
    }
}

/// Ids that round-trip: `snapshot list -o tsv --no-headers` across volumes feeds
/// `snapshot delete -`, which takes each line's volume, so EFS (whose deletes need the share)
/// works without --volume.
#[tokio::test(flavor = "multi_thread")]
async fn a_tsv_list_across_volumes_feeds_snapshot_delete_from_stdin() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let kind = ProviderKind::OvhEfs;
    let listed = cli
        .run(
            kind,
            &[
                "-o",
                "tsv",
                "--no-headers",
                "snapshot",
                "list",
                "--filter",
                "kind=manual",
            ],
        )
        .await;
    assert_exit(&listed, 0);
    let lines = stdout(&listed);
    let volumes: std::collections::BTreeSet<&str> =
        lines.lines().filter_map(|l| l.split('\t').nth(1)).collect();
    assert!(volumes.len() >= 2, "several shares: {lines}");
    let out = cli
        .run_with_stdin(
            kind,
            &["-o", "json", "snapshot", "delete", "-", "--wait"],
            lines.clone().into_bytes(),
        )
        .await;
    assert_exit(&out, 0);
    let left = cli
        .json(kind, &["snapshot", "list", "--filter", "kind=manual"])
        .await;
    assert_eq!(left.as_array().map(Vec::len), Some(0), "{left}");
    // A malformed id on stdin is refused before any request.
    let before = emu.requests();
    let bad = cli
        .run_with_stdin(kind, &["snapshot", "delete", "-"], b"not-an-id\n".to_vec())
        .await;
    assert_exit(&bad, 2);
    assert_eq!(emu.requests(), before);
}

/// `--jq` filters the JSON in-process (no external jq): strings raw, other values as JSON; a
/// filter that does not compile is refused before any request.
#[tokio::test(flavor = "multi_thread")]
async fn jq_filters_the_json_output_in_process() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let kind = ProviderKind::Outscale;
    let all = cli.json(kind, &["snapshot", "list"]).await;
    let out = cli
        .run(kind, &["snapshot", "list", "--jq", ".[] | .id"])
        .await;
    assert_exit(&out, 0);
    let ids: Vec<String> = all
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(
        stdout(&out),
        ids.iter().map(|i| format!("{i}\n")).collect::<String>()
    );
    let out = cli
        .run(kind, &["-o", "table", "snapshot", "list", "--jq", "length"])
        .await;
    assert_eq!(
        stdout(&out),
        format!("{}\n", ids.len()),
        "--jq implies JSON"
    );
    let before = emu.requests();
    let bad = cli
        .run(kind, &["snapshot", "list", "--jq", ".[] | select("])
        .await;
    assert_exit(&bad, 2);
    assert_eq!(emu.requests(), before);

    let out = crate::common::Snapctl::bare()
        .run(&[
            "providers",
            "--jq",
            ".[] | select(.capabilities.revert) | .provider",
        ])
        .await;
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        "ovh-efs\npowervc\n",
        "NAS-HA has no in-place revert"
    );
}

/// States are coloured with `--color always`, never in a pipe by default, and `--color never`
/// wins over everything.
#[tokio::test(flavor = "multi_thread")]
async fn states_are_coloured_only_when_asked_or_on_a_terminal() {
    let emu = start().await;
    let cli = Cli::new(&emu);
    let kind = ProviderKind::Outscale;
    let plain = cli.run(kind, &["snapshot", "list"]).await;
    assert!(!stdout(&plain).contains('\u{1b}'), "{}", stdout(&plain));
    let coloured = cli
        .run(kind, &["--color", "always", "snapshot", "list"])
        .await;
    assert_exit(&coloured, 0);
    assert!(
        stdout(&coloured).contains("\u{1b}["),
        "{}",
        stdout(&coloured)
    );
    let never = cli
        .run(kind, &["--color", "never", "snapshot", "list"])
        .await;
    assert!(!stdout(&never).contains('\u{1b}'));
    let json = cli
        .run(
            kind,
            &["--color", "always", "-o", "json", "snapshot", "list"],
        )
        .await;
    assert!(
        !stdout(&json).contains('\u{1b}'),
        "data formats are never coloured"
    );
}
