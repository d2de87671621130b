//! Renderers for `-o table|json|ids`: data goes to stdout, and only data.
//!
//! Each printable type implements [`Record`] (its table columns and id); JSON is the type's serde
//! form, whose field names are the documented, stable contract. Progress, warnings and errors go to
//! stderr elsewhere; nothing here writes to stderr.

use std::sync::OnceLock;

use comfy_table::Table;
use jiff::Timestamp;
use serde::Serialize;

use crate::kind::{Capabilities, ProviderKind};
use crate::model::{ClonePair, DeleteResult, DryRunReport, ExportTask, Schedule, Snapshot, Volume};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A human table.
    Table,
    /// Stable JSON (arrays for lists, objects for single items).
    Json,
    /// One id per line.
    Ids,
    /// Tab-separated values, every column, a header line unless --no-headers (for awk and cut).
    Tsv,
    /// Comma-separated values (RFC 4180), a header line (`policy report` only).
    Csv,
    /// One self-contained HTML page (`policy report` only).
    Html,
}

impl Format {
    /// Whether only `policy report` writes this format.
    pub fn report_only(self) -> bool {
        matches!(self, Format::Csv | Format::Html)
    }
}

/// How tables look for this run: the width they must fit in and whether they have a header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableLayout {
    /// Columns available (`COLUMNS`, else the terminal's width); `None`: no limit (a pipe).
    pub width: Option<u16>,
    /// Print the header line (`--no-headers` turns it off).
    pub headers: bool,
    /// Colour the state words (`--color`, `NO_COLOR`).
    pub color: bool,
}

impl Default for TableLayout {
    fn default() -> Self {
        TableLayout {
            width: None,
            headers: true,
            color: false,
        }
    }
}

static LAYOUT: OnceLock<TableLayout> = OnceLock::new();

/// Set the table layout once, at the start of a run.
pub fn set_table_layout(layout: TableLayout) {
    let _ = LAYOUT.set(layout);
}

fn layout() -> TableLayout {
    LAYOUT.get().copied().unwrap_or_default()
}

/// The width tables fit in: `COLUMNS` when it holds a number (as `ls` and `gh` read it), else the
/// terminal's when stdout is one, else none (pipes get whole lines).
pub fn detect_width(columns: Option<&str>) -> Option<u16> {
    if let Some(n) = columns.and_then(|c| c.trim().parse::<u16>().ok()) {
        return Some(n.max(20));
    }
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        Table::new().width()
    } else {
        None
    }
}

/// Whether this run's tables are coloured.
pub fn colour_on() -> bool {
    layout().color
}

/// Whether to colour: `always`, `never`, or (`auto`) when `stream_is_terminal` and `NO_COLOR` is
/// unset or empty (<https://no-color.org>).
pub fn use_color(when: &str, no_color: Option<&str>, stream_is_terminal: bool) -> bool {
    match when {
        "always" => true,
        "never" => false,
        _ => stream_is_terminal && no_color.is_none_or(str::is_empty),
    }
}

/// The colour of a state word: green settled, yellow under way, red failed.
fn state_color(word: &str) -> Option<comfy_table::Color> {
    use comfy_table::Color;
    match word {
        "available" | "completed" | "deleted" | "done" | "yes" | "keep" | "in-use" => {
            Some(Color::Green)
        }
        "creating" | "deleting" | "restoring" | "reverting" | "pending" | "updating"
        | "would delete" | "delete" => Some(Color::Yellow),
        "error" | "failed" | "error_deleting" | "not deleted" | "skipped" => Some(Color::Red),
        _ => None,
    }
}

mod table;
use table::*;
pub(crate) use table::{grid, tsv};

/// Something printable as a table row, a JSON object and an id.
pub trait Record: Serialize {
    /// Column titles.
    fn headers() -> &'static [&'static str];
    /// Columns left out, in this order, when the table does not fit the terminal.
    fn optional() -> &'static [&'static str] {
        &[]
    }
    /// Columns cut (with `…`) when the table still does not fit.
    fn shrink() -> &'static [&'static str] {
        &["NAME", "ERROR", "DETAIL", "DESCRIPTION"]
    }
    /// Cells, in column order.
    fn cells(&self) -> Vec<String>;
    /// The id printed by `-o ids`.
    fn id(&self) -> &str;
}

pub(crate) fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

pub(crate) fn time(t: &Option<Timestamp>) -> String {
    t.map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".into())
}

fn num(n: &Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
}

impl Record for Volume {
    fn headers() -> &'static [&'static str] {
        &[
            "ID",
            "NAME",
            "SIZE (GiB)",
            "STATE",
            "PROVIDER STATE",
            "CREATED",
        ]
    }
    fn optional() -> &'static [&'static str] {
        &["PROVIDER STATE", "CREATED"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            opt(&self.name),
            num(&self.size_gib),
            self.state.as_str().into(),
            opt(&self.provider_state),
            time(&self.created_at),
        ]
    }
    fn id(&self) -> &str {
        &self.id
    }
}

impl Record for Snapshot {
    fn headers() -> &'static [&'static str] {
        &[
            "ID", "VOLUME", "NAME", "KIND", "STATE", "CREATED", "EXPIRES",
        ]
    }
    fn optional() -> &'static [&'static str] {
        &["EXPIRES", "KIND", "VOLUME"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            opt(&self.volume_id),
            opt(&self.name),
            self.kind.as_str().into(),
            self.state.as_str().into(),
            time(&self.created_at),
            time(&self.expires_at),
        ]
    }
    fn id(&self) -> &str {
        &self.id
    }
}

impl Record for DeleteResult {
    fn headers() -> &'static [&'static str] {
        &["ID", "VOLUME", "STATUS", "ERROR"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            opt(&self.volume_id),
            self.status.into(),
            opt(&self.error),
        ]
    }
    fn id(&self) -> &str {
        &self.id
    }
}

impl Record for Schedule {
    fn headers() -> &'static [&'static str] {
        &[
            "ID", "VOLUME", "NAME", "STATE", "SCHEDULE", "KEEP", "PREFIX",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let join = |f: &dyn Fn(&crate::model::ScheduleRule) -> String| {
            self.rules.iter().map(f).collect::<Vec<_>>().join("\n")
        };
        let state = match (&self.state, self.is_default) {
            (Some(s), Some(true)) => format!("{s} (default)"),
            (Some(s), _) => s.clone(),
            (None, Some(true)) => "default".into(),
            (None, _) => "-".into(),
        };
        vec![
            self.id.clone(),
            opt(&self.volume_id),
            opt(&self.name),
            state,
            join(&|r| r.schedule.clone()),
            join(&|r| r.keep.map(|k| k.to_string()).unwrap_or_else(|| "-".into())),
            join(&|r| r.prefix.clone().unwrap_or_else(|| "-".into())),
        ]
    }
    fn id(&self) -> &str {
        &self.id
    }
}

impl Record for ExportTask {
    fn headers() -> &'static [&'static str] {
        &[
            "TASK", "SNAPSHOT", "STATE", "PROGRESS", "BUCKET", "PREFIX", "FORMAT",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            opt(&self.snapshot_id),
            opt(&self.state),
            self.progress
                .map(|p| format!("{p}%"))
                .unwrap_or_else(|| "-".into()),
            opt(&self.bucket),
            opt(&self.prefix),
            opt(&self.format),
        ]
    }
    fn id(&self) -> &str {
        &self.id
    }
}

/// `--dry-run` of a mutating command: what would happen, and who checked.
pub fn render_dry_run(reports: &[DryRunReport], format: Format) -> String {
    match format {
        Format::Json => match reports {
            [one] => json(one),
            many => json(many),
        },
        Format::Ids => String::new(),
        Format::Table | Format::Tsv | Format::Csv | Format::Html => reports
            .iter()
            .map(|r| {
                let check = if r.checked_by_provider {
                    format!("{} confirmed it would be allowed", r.provider)
                } else {
                    format!(
                        "{} has no dry-run API: every check and read of the real run passed",
                        r.provider
                    )
                };
                let request = r
                    .request
                    .as_deref()
                    .map(|q| format!("\n  next request: {q}"))
                    .unwrap_or_default();
                format!("dry run: would {} ({check}){request}\n", r.would)
            })
            .collect(),
    }
}

impl Record for ClonePair {
    fn headers() -> &'static [&'static str] {
        &["SOURCE VOLUME", "CLONE"]
    }
    fn cells(&self) -> Vec<String> {
        vec![self.source_volume_id.clone(), self.volume_id.clone()]
    }
    fn id(&self) -> &str {
        &self.volume_id
    }
}

impl Record for crate::model::FinishedTask {
    fn headers() -> &'static [&'static str] {
        &["TASK", "STATE"]
    }
    fn cells(&self) -> Vec<String> {
        vec![self.task_id.clone(), self.state.to_string()]
    }
    fn id(&self) -> &str {
        &self.task_id
    }
}

/// One provider's row of `snapctl providers -o json`.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderRow {
    /// Provider key.
    pub provider: ProviderKind,
    /// Product name.
    pub product: &'static str,
    /// Operation → support.
    pub capabilities: Capabilities,
}

/// `snapctl providers`: operations down, providers across.
pub fn render_providers(format: Format) -> String {
    match format {
        Format::Json => {
            let rows: Vec<ProviderRow> = ProviderKind::ALL
                .into_iter()
                .map(|k| ProviderRow {
                    provider: k,
                    product: crate::providers::entry(k).product,
                    capabilities: crate::providers::entry(k).capabilities,
                })
                .collect();
            json(&rows)
        }
        Format::Ids => lines(ProviderKind::ALL.iter().map(|k| k.as_str())),
        Format::Table | Format::Tsv | Format::Csv | Format::Html => {
            let mut header = vec!["OPERATION"];
            header.extend(ProviderKind::ALL.iter().map(|k| k.as_str()));
            let columns: Vec<_> = ProviderKind::ALL
                .iter()
                .map(|k| crate::providers::entry(*k).capabilities.rows())
                .collect();
            let rows: Vec<Vec<String>> = columns[0]
                .iter()
                .enumerate()
                .map(|(i, (op, _))| {
                    let mut row = vec![op.to_string()];
                    row.extend(columns.iter().map(|c| c[i].1.as_str().to_string()));
                    row
                })
                .collect();
            if format == Format::Tsv {
                tsv(&header, &rows)
            } else {
                grid(&header, &rows, &[], &[])
            }
        }
    }
}

/// Pretty JSON with C1, line-separator and bidi controls escaped as `\uXXXX` (every JSON output
/// of snapctl, fleet plans and reports included).
pub fn json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    write_json(&mut out, value).expect("output records serialise");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// [`json`] written straight to `w` as it is serialised (a fleet report of 20,000 units is never
/// one string in memory), through a small buffer.
pub fn write_json<T: Serialize + ?Sized>(
    w: &mut dyn std::io::Write,
    value: &T,
) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = Invisible {
        inner: std::io::BufWriter::with_capacity(64 * 1024, w),
        tail: Vec::new(),
    };
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// [`json`] to stdout, streamed.
pub fn json_stdout<T: Serialize + ?Sized>(value: &T) -> crate::error::Result<()> {
    write_json(&mut std::io::stdout().lock(), value).map_err(|source| crate::error::Error::Io {
        action: "cannot write to stdout".into(),
        source,
    })
}

/// A writer that escapes what [`escape_invisible`] escapes, on the fly. serde_json writes whole
/// characters, but a character split across two writes is held until it is whole.
struct Invisible<W: std::io::Write> {
    inner: W,
    tail: Vec<u8>,
}

impl<W: std::io::Write> std::io::Write for Invisible<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut bytes = std::mem::take(&mut self.tail);
        bytes.extend_from_slice(buf);
        let (text, rest) = match std::str::from_utf8(&bytes) {
            Ok(t) => (t, &[][..]),
            Err(e) if e.error_len().is_none() => {
                let (ok, rest) = bytes.split_at(e.valid_up_to());
                (std::str::from_utf8(ok).expect("valid up to here"), rest)
            }
            Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        };
        self.inner.write_all(escape_invisible(text).as_bytes())?;
        self.tail = rest.to_vec();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.tail.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a character was cut short",
            ));
        }
        self.inner.flush()
    }
}

/// serde_json escapes C0 controls but writes C1 controls (U+0080–U+009F, where U+009B is an 8-bit
/// CSI some terminals obey) and the line and bidi-override characters as they are. In JSON they
/// can only be inside strings, so `\uXXXX` keeps the document equal and the terminal safe.
fn escape_invisible(json: &str) -> String {
    let needs = |c: char| matches!(c, '\u{80}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !json.chars().any(needs) {
        return json.to_string();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn lines<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    ids.map(|id| format!("{id}\n")).collect()
}

/// A started task without `--wait`: `{"task_id"}` in JSON, the bare id otherwise.
pub fn render_task_id(id: &str, format: Format) -> String {
    #[derive(Serialize)]
    struct TaskId<'a> {
        task_id: &'a str,
    }
    match format {
        Format::Json => json(&TaskId { task_id: id }),
        _ => format!("{id}\n"),
    }
}

/// The one way data reaches stdout: written whole and flushed, a closed pipe or full disk
/// reported as an error (exit 1) rather than a panic.
pub fn write_stdout(data: &[u8]) -> crate::error::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(data)
        .and_then(|_| out.flush())
        .map_err(|source| crate::error::Error::Io {
            action: "cannot write to stdout".into(),
            source,
        })
}

/// A list written as it is read, page by page: `-o json` is still one JSON array, byte for byte
/// what [`render_list`] prints for the same items; `-o ids` one id per line. Tables need every
/// row for their widths and are not streamed.
#[derive(Debug)]
pub struct ListStream {
    format: Format,
    started: bool,
}

impl ListStream {
    /// A stream in `format` (`json` or `ids`).
    pub fn new(format: Format) -> Self {
        ListStream {
            format,
            started: false,
        }
    }

    /// The text for the next items.
    pub fn items<T: Record>(&mut self, items: &[T]) -> String {
        let mut out = String::new();
        for item in items {
            match self.format {
                Format::Json => {
                    out.push_str(if self.started { ",\n" } else { "[\n" });
                    let one = serde_json::to_string_pretty(item).expect("output records serialise");
                    for (i, line) in one.lines().enumerate() {
                        if i > 0 {
                            out.push('\n');
                        }
                        out.push_str("  ");
                        out.push_str(line);
                    }
                }
                Format::Tsv => {
                    if !self.started && layout().headers {
                        out.push_str(&T::headers().join("\t"));
                        out.push('\n');
                    }
                    let clean: Vec<String> = item
                        .cells()
                        .iter()
                        .map(|v| v.replace(['\t', '\n', '\r'], " "))
                        .collect();
                    out.push_str(&clean.join("\t"));
                    out.push('\n');
                }
                Format::Ids | Format::Table | Format::Csv | Format::Html => {
                    out.push_str(item.id());
                    out.push('\n');
                }
            }
            self.started = true;
        }
        if self.format == Format::Json {
            escape_invisible(&out)
        } else {
            out
        }
    }

    /// The text that closes the list (only once every page was read: a failed listing leaves
    /// `-o json` unterminated, so no parser mistakes it for the whole list).
    pub fn finish<T: Record>(self) -> String {
        match (self.format, self.started) {
            (Format::Tsv, false) if layout().headers => format!("{}\n", T::headers().join("\t")),
            (Format::Json, false) => "[]\n".into(),
            (Format::Json, true) => "\n]\n".into(),
            _ => String::new(),
        }
    }
}

/// A list: table, JSON array or ids.
pub fn render_list<T: Record>(items: &[T], format: Format) -> String {
    match format {
        Format::Json => json(items),
        Format::Ids => lines(items.iter().map(Record::id)),
        Format::Table | Format::Csv | Format::Html => grid_in(
            layout(),
            T::headers(),
            Rows::Made(items.len(), &|i| items[i].cells()),
            T::optional(),
            T::shrink(),
        ),
        Format::Tsv => tsv(
            T::headers(),
            &items.iter().map(Record::cells).collect::<Vec<_>>(),
        ),
    }
}

/// A table's rows gathered page by page as a listing arrives, packed into one string: a long
/// listing's table holds its cells' text, not its items (100,000 snapshots: about 8 MB instead of
/// their structs), and is laid out once every page is in.
pub struct TableRows<T: Record> {
    text: String,
    /// Where each cell ends in `text`, `T::headers().len()` per row.
    ends: Vec<usize>,
    kind: std::marker::PhantomData<fn(&T)>,
}

impl<T: Record> Default for TableRows<T> {
    fn default() -> Self {
        TableRows {
            text: String::new(),
            ends: Vec::new(),
            kind: std::marker::PhantomData,
        }
    }
}

impl<T: Record> TableRows<T> {
    /// Add these items' rows.
    pub fn push(&mut self, items: &[T]) {
        let n = T::headers().len();
        for item in items {
            let mut cells = item.cells();
            cells.resize(n, String::new());
            for cell in &cells {
                self.text.push_str(cell);
                self.ends.push(self.text.len());
            }
        }
    }

    /// Rows so far.
    pub fn len(&self) -> usize {
        self.ends.len() / T::headers().len()
    }

    fn row(&self, i: usize) -> Vec<String> {
        let n = T::headers().len();
        (i * n..(i + 1) * n)
            .map(|k| {
                let start = if k == 0 { 0 } else { self.ends[k - 1] };
                self.text[start..self.ends[k]].to_string()
            })
            .collect()
    }

    /// The table, as [`render_list`] draws it for the same items.
    pub fn render(&self) -> String {
        grid_in(
            layout(),
            T::headers(),
            Rows::Made(self.len(), &|i| self.row(i)),
            T::optional(),
            T::shrink(),
        )
    }
}

/// One item: table, JSON object or its id.
pub fn render_one<T: Record>(item: &T, format: Format) -> String {
    match format {
        Format::Json => json(item),
        Format::Table => vertical(item),
        _ => render_list(std::slice::from_ref(item), format),
    }
}

/// One item as `key: value` lines, every field of its JSON form (the documented names), nested
/// objects flattened as `parent.key`; absent values print `-`.
fn vertical<T: Serialize>(item: &T) -> String {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            serde_json::Value::Null => out.push((prefix.to_string(), "-".into())),
            serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
            serde_json::Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
                let parts: Vec<String> = a
                    .iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                    .collect();
                out.push((
                    prefix.to_string(),
                    if parts.is_empty() {
                        "-".into()
                    } else {
                        parts.join(", ")
                    },
                ));
            }
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    let value = serde_json::to_value(item).expect("output records serialise");
    let mut pairs = Vec::new();
    walk("", &value, &mut pairs);
    // Who it is first, then the rest in the JSON form's (alphabetical) order.
    let rank = |k: &str| match k {
        "id" => 0,
        "name" => 1,
        _ => 2,
    };
    pairs.sort_by_key(|(k, _)| rank(k));
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(&format!(
            "{:<width$} {}\n",
            format!("{k}:"),
            v.replace('\n', " ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed writer escapes exactly what the whole-string path does, even when a
    /// character arrives in two writes.
    #[test]
    fn streamed_json_escapes_invisible_characters_split_across_writes() {
        use std::io::Write;
        let text = "a\u{9b}31m b\u{2028}c\u{202e}d é";
        let want = escape_invisible(text);
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            let mut out = Vec::new();
            let mut w = Invisible {
                inner: &mut out,
                tail: Vec::new(),
            };
            w.write_all(&bytes[..cut]).expect("first half");
            w.write_all(&bytes[cut..]).expect("second half");
            w.flush().expect("whole");
            assert_eq!(String::from_utf8(out).expect("utf-8"), want, "cut at {cut}");
        }
        let value = serde_json::json!({"name": text});
        let whole = format!(
            "{}\n",
            escape_invisible(&serde_json::to_string_pretty(&value).expect("json"))
        );
        assert_eq!(json(&value), whole);
    }

    #[test]
    fn a_table_written_without_comfy_table_is_byte_for_byte_its_table() {
        let headers = ["ID", "NAME", "STATE", "NOTE"];
        let words = [
            "snap-0a1b2c3d",
            "",
            "-",
            "日本語の名前",
            "e\u{301}te\u{301}",
            "🦀 crab",
            "tab\there",
            "a\u{1b}]0;x\u{7}b",
            "trailing   ",
            "x",
        ];
        let mut rows = Vec::new();
        for i in 0..40usize {
            rows.push(
                (0..4)
                    .map(|c| words[(i * 7 + c * 3) % words.len()].to_string())
                    .collect::<Vec<_>>(),
            );
        }
        for (headers_on, width) in [
            (true, None),
            (false, None),
            (true, Some(200)),
            (false, Some(61)),
        ] {
            let l = TableLayout {
                width,
                headers: headers_on,
                color: false,
            };
            for take in [0, 1, 5, 40] {
                let rows = &rows[..take];
                for visible in [vec![0], vec![0, 1, 2, 3], vec![0, 2]] {
                    let natural = natural_widths(&l, &headers, Rows::Built(rows), &visible);
                    let floor = floors(&l, &headers, &visible, &["NAME"], &natural);
                    if fit(&natural, &floor, width) != natural {
                        // Too wide for the terminal: cut, which the next test covers.
                        assert!(width.is_some());
                        continue;
                    }
                    let text = plain(&l, &headers, Rows::Built(rows), &visible, &natural);
                    for chunk in [1, 7, 1000] {
                        assert_eq!(
                            text,
                            fitted(&l, &headers, Rows::Built(rows), &visible, &natural, chunk),
                            "headers {headers_on}, width {width:?}, {take} rows, columns {visible:?}, chunk {chunk}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_cut_table_fits_keeps_its_ids_and_is_the_same_whatever_the_block_size() {
        use unicode_width::UnicodeWidthStr;
        let headers = ["ID", "NAME", "STATE", "DESCRIPTION"];
        let rows: Vec<Vec<String>> = (0..600)
            .map(|i| {
                vec![
                    format!("snap-{i:08x}"),
                    format!("nightly-{}-{i}", "very-long-name-".repeat(i % 5)),
                    ["completed", "pending", "error"][i % 3].to_string(),
                    format!("日本語 {}", "d".repeat(i % 90)),
                ]
            })
            .collect();
        let visible = [0, 1, 2, 3];
        let shrink = ["NAME", "DESCRIPTION"];
        for (width, color) in [(60u16, false), (80, true), (41, false), (20, false)] {
            let l = TableLayout {
                width: Some(width),
                headers: true,
                color,
            };
            let text = grid_in(l, &headers, Rows::Built(&rows), &[], &shrink);
            let natural = natural_widths(&l, &headers, Rows::Built(&rows), &visible);
            let floor = floors(&l, &headers, &visible, &shrink, &natural);
            let widths = fit(&natural, &floor, Some(width));
            for chunk in [1, 3, 256, 10_000] {
                assert_eq!(
                    text,
                    fitted(&l, &headers, Rows::Built(&rows), &visible, &widths, chunk),
                    "width {width}, chunk {chunk}"
                );
            }
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), rows.len() + 1, "{width}");
            assert!(lines[0].starts_with("ID "), "{}", lines[0]);
            let uncut = 13 + 3 + 1 + 3 + 9 + 3 + 1;
            for (line, row) in lines[1..].iter().zip(&rows) {
                assert!(line.starts_with(&row[0]), "the id is whole: {line}");
                if !color {
                    assert!(
                        line.width() <= usize::from(width).max(uncut),
                        "{width}: {} columns: {line}",
                        line.width()
                    );
                }
            }
            if width >= 60 {
                assert!(text.contains('…'), "long names are cut");
                let ends = lines[1..]
                    .iter()
                    .filter(|l| l.trim_end().ends_with('…') || l.contains("… "))
                    .count();
                assert!(ends > 0);
            }
            if color {
                assert!(text.contains("\u{1b}["), "state words are coloured");
            }
        }
    }

    #[test]
    fn a_streamed_list_is_byte_for_byte_the_rendered_one() {
        use crate::model::FinishedTask;
        let items: Vec<FinishedTask> = (0..5)
            .map(|i| FinishedTask {
                provider: crate::kind::ProviderKind::Outscale,
                task_id: format!("t-{i}\u{9b}"),
                state: "done",
            })
            .collect();
        for format in [Format::Json, Format::Ids, Format::Tsv] {
            let mut stream = ListStream::new(format);
            let mut text = stream.items(&items[..2]);
            text.push_str(&stream.items(&items[2..2]));
            text.push_str(&stream.items(&items[2..]));
            text.push_str(&stream.finish::<FinishedTask>());
            assert_eq!(text, render_list(&items, format), "{format:?}");
            let empty = ListStream::new(format);
            assert_eq!(
                empty.finish::<FinishedTask>(),
                render_list::<FinishedTask>(&[], format)
            );
        }
        let mut table = TableRows::<FinishedTask>::default();
        assert_eq!(table.len(), 0);
        assert_eq!(
            table.render(),
            render_list::<FinishedTask>(&[], Format::Table)
        );
        table.push(&items[..2]);
        table.push(&items[2..2]);
        table.push(&items[2..]);
        assert_eq!(table.len(), 5);
        assert_eq!(table.render(), render_list(&items, Format::Table));
    }

    #[test]
    fn colour_follows_the_flag_the_terminal_and_no_color() {
        assert!(use_color("auto", None, true));
        assert!(
            use_color("auto", Some(""), true),
            "an empty NO_COLOR does not count"
        );
        assert!(!use_color("auto", Some("1"), true));
        assert!(!use_color("auto", None, false), "pipes get no colour");
        assert!(use_color("always", Some("1"), false));
        assert!(!use_color("never", None, true));
    }

    #[test]
    fn show_is_vertical_with_every_field() {
        let v = crate::model::FinishedTask {
            provider: ProviderKind::Powervc,
            task_id: "t-1".into(),
            state: "done",
        };
        assert_eq!(
            vertical(&v),
            "provider: powervc\nstate:    done\ntask_id:  t-1\n"
        );
    }

    #[test]
    fn json_output_escapes_c1_controls_and_bidi_overrides_yet_stays_the_same_document() {
        let name = "x\u{9b}31m\u{202e}gnp.exe\u{2028}é";
        let out = json(&serde_json::json!({ "name": name }));
        assert!(out.contains("\\u009b31m\\u202egnp.exe\\u2028é"), "{out}");
        assert!(!out.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)));
        let back: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(back["name"], name);
    }
    use crate::model::{SnapshotKind, SnapshotState};

    fn snap() -> Snapshot {
        Snapshot {
            provider: ProviderKind::OvhEfs,
            id: "s1".into(),
            volume_id: Some("v1".into()),
            name: None,
            description: None,
            state: SnapshotState::Available,
            provider_state: Some("available".into()),
            kind: SnapshotKind::Manual,
            created_at: Some("2026-11-24T08:00:00Z".parse().expect("ts")),
            size_gib: None,
            expires_at: None,
        }
    }

    #[test]
    fn snapshot_json_has_the_documented_fields_in_order() {
        let out = render_one(&snap(), Format::Json);
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        // serde_json without preserve_order sorts keys; the set is the contract.
        let mut expected = vec![
            "provider",
            "id",
            "volume_id",
            "name",
            "description",
            "state",
            "provider_state",
            "kind",
            "created_at",
            "size_gib",
            "expires_at",
        ];
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(
            v["created_at"], "2026-11-24T08:00:00.000Z",
            "one precision everywhere"
        );
        assert_eq!(v["name"], serde_json::Value::Null);
        assert_eq!(v["provider"], "ovh-efs");
    }

    #[test]
    fn ids_print_one_per_line() {
        assert_eq!(render_list(&[snap(), snap()], Format::Ids), "s1\ns1\n");
    }
}
