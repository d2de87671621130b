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
