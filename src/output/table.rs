//! The table engine behind `-o table` and `-o tsv`: columns fitted to the terminal (left out,
//! then cut), written by comfy-table only where cells need cutting or colour, else by [`plain`],
//! block by block.

use comfy_table::{ColumnConstraint, ContentArrangement, Row, Table, presets::NOTHING};

use super::{TableLayout, layout, state_color};

/// Spaces between two columns.
pub(super) const GAP: u16 = 3;
/// A column that may shrink keeps at least this many characters (then `…`).
pub(super) const MIN_SHRUNK: usize = 10;

/// A compact table (no box drawing) that fits `layout().width`: columns whose every cell is `-`
/// are left out, then `optional` columns in that order while the table is too wide, then the
/// `shrink` columns are cut with `…`. Ids are never cut. Lines carry no trailing spaces.
pub(crate) fn grid(
    headers: &[&str],
    rows: &[Vec<String>],
    optional: &[&str],
    shrink: &[&str],
) -> String {
    grid_in(layout(), headers, Rows::Built(rows), optional, shrink)
}

/// A table's rows: built already, or made one at a time when asked (a long list's cells are
/// never all held at once unless comfy-table needs them).
#[derive(Clone, Copy)]
pub(super) enum Rows<'a> {
    Built(&'a [Vec<String>]),
    Made(usize, &'a dyn Fn(usize) -> Vec<String>),
}

impl Rows<'_> {
    fn len(&self) -> usize {
        match self {
            Rows::Built(rows) => rows.len(),
            Rows::Made(n, _) => *n,
        }
    }

    fn each(&self, mut f: impl FnMut(&[String])) {
        match self {
            Rows::Built(rows) => rows.iter().for_each(|r| f(r)),
            Rows::Made(n, make) => (0..*n).for_each(|i| f(&make(i))),
        }
    }
}

pub(super) fn grid_in(
    l: TableLayout,
    headers: &[&str],
    rows: Rows<'_>,
    optional: &[&str],
    shrink: &[&str],
) -> String {
    let n = headers.len();
    let len = |s: &str| s.chars().count();
    let mut natural: Vec<usize> = (0..n)
        .map(|c| if l.headers { len(headers[c]) } else { 0 })
        .collect();
    let mut shown: Vec<bool> = (0..n).map(|c| c == 0 || rows.len() == 0).collect();
    rows.each(|r| {
        for c in 0..n {
            let v = r.get(c).map_or("", String::as_str);
            natural[c] = natural[c].max(len(v));
            shown[c] |= r.get(c).is_some_and(|v| v != "-");
        }
    });
    let need = |shown: &[bool]| -> usize {
        let cols: Vec<usize> = (0..n)
            .filter(|c| shown[*c])
            .map(|c| {
                if shrink.contains(&headers[c]) {
                    natural[c].min(MIN_SHRUNK)
                } else {
                    natural[c]
                }
            })
            .collect();
        cols.iter().sum::<usize>() + GAP as usize * cols.len().saturating_sub(1)
    };
    if let Some(w) = l.width {
        for name in optional {
            if need(&shown) <= w as usize {
                break;
            }
            if let Some(c) = headers.iter().position(|h| h == name) {
                shown[c] = false;
            }
        }
    }
    let visible: Vec<usize> = (0..n).filter(|c| shown[*c]).collect();
    let natural = natural_widths(&l, headers, rows, &visible);
    let floor = floors(&l, headers, &visible, shrink, &natural);
    let widths = fit(&natural, &floor, l.width);
    if !l.color && widths == natural {
        return plain(&l, headers, rows, &visible, &widths);
    }
    fitted(&l, headers, rows, &visible, &widths, CHUNK)
}

/// Each visible column's display width (as comfy-table measures it): its widest cell or header,
/// control characters removed.
pub(super) fn natural_widths(
    l: &TableLayout,
    headers: &[&str],
    rows: Rows<'_>,
    visible: &[usize],
) -> Vec<usize> {
    use unicode_width::UnicodeWidthStr;
    let mut widths: Vec<usize> = visible
        .iter()
        .map(|c| if l.headers { headers[*c].width() } else { 0 })
        .collect();
    rows.each(|r| {
        for (k, c) in visible.iter().enumerate() {
            widths[k] = widths[k].max(cell(r, *c).width());
        }
    });
    widths
}

/// How narrow each visible column may get: a column that may be cut keeps `MIN_SHRUNK`
/// characters or its header, whichever is wider (or all of its width when that is less); any
/// other column keeps its whole width.
pub(super) fn floors(
    l: &TableLayout,
    headers: &[&str],
    visible: &[usize],
    shrink: &[&str],
    natural: &[usize],
) -> Vec<usize> {
    use unicode_width::UnicodeWidthStr;
    visible
        .iter()
        .zip(natural)
        .map(|(c, n)| {
            if shrink.contains(&headers[*c]) {
                let header = if l.headers { headers[*c].width() } else { 0 };
                (*n).min(MIN_SHRUNK.max(header))
            } else {
                *n
            }
        })
        .collect()
}

/// One row's cell `c` as a table shows it: control characters removed.
pub(super) fn cell(r: &[String], c: usize) -> String {
    crate::text::sanitize(r.get(c).map_or("", String::as_str))
}

/// The column widths that fit `width`: the natural ones when they fit; else the columns that may
/// be cut (`floor` below `natural`) share what the others leave, narrowest first (a column never
/// gets more than it needs), none below its floor while that fits, down to one character when
/// nothing else does. Ids and the other uncut columns keep their width even when the line then
/// overflows.
pub(super) fn fit(natural: &[usize], floor: &[usize], width: Option<u16>) -> Vec<usize> {
    let gaps = GAP as usize * natural.len().saturating_sub(1);
    let Some(width) = width.map(usize::from) else {
        return natural.to_vec();
    };
    if natural.iter().sum::<usize>() + gaps <= width {
        return natural.to_vec();
    }
    let cut = |k: &usize| floor[*k] < natural[*k];
    let kept: usize = (0..natural.len())
        .filter(|k| !cut(k))
        .map(|k| natural[k])
        .sum();
    let room = width.saturating_sub(kept + gaps);
    let mut order: Vec<usize> = (0..natural.len()).filter(cut).collect();
    order.sort_by_key(|k| natural[*k]);
    let share = |least: &dyn Fn(usize) -> usize| {
        let (mut widths, mut room, mut left) = (natural.to_vec(), room, order.len());
        for &k in &order {
            widths[k] = natural[k].min((room / left).max(least(k)));
            room = room.saturating_sub(widths[k]);
            left -= 1;
        }
        widths
    };
    let widths = share(&|k| floor[k]);
    if order.iter().map(|k| widths[*k]).sum::<usize>() <= room {
        return widths;
    }
    share(&|_| 1)
}

/// Rows comfy-table lays out at a time when a table is cut or coloured: the column widths are
/// fixed beforehand, so each block lines up with the others and a table of 100,000 rows never
/// holds more than this many rows of cell objects.
pub(super) const CHUNK: usize = 256;

/// The table with the given column widths, cells wider than their column cut with `…` and state
/// words coloured when `l.color`, laid out by comfy-table `chunk` rows at a time.
pub(super) fn fitted(
    l: &TableLayout,
    headers: &[&str],
    rows: Rows<'_>,
    visible: &[usize],
    widths: &[usize],
    chunk: usize,
) -> String {
    let mut out = String::with_capacity(text_size(rows.len() + 1, widths));
    let mut block: Vec<Vec<String>> = Vec::with_capacity(chunk.min(rows.len()));
    let mut header = l.headers;
    let mut flush = |block: &mut Vec<Vec<String>>, header: &mut bool| {
        comfy_block(l, headers, block, visible, widths, *header, &mut out);
        *header = false;
        block.clear();
    };
    rows.each(|r| {
        block.push(r.to_vec());
        if block.len() == chunk.max(1) {
            flush(&mut block, &mut header);
        }
    });
    if !block.is_empty() || header {
        flush(&mut block, &mut header);
    }
    out
}

/// One block of [`fitted`]: comfy-table with every column at its fixed width.
pub(super) fn comfy_block(
    l: &TableLayout,
    headers: &[&str],
    rows: &[Vec<String>],
    visible: &[usize],
    widths: &[usize],
    header: bool,
    out: &mut String,
) {
    use comfy_table::Width;
    let mut table = Table::new();
    table
        .load_style(NOTHING)
        .set_truncation_indicator("…")
        .set_content_arrangement(ContentArrangement::Disabled);
    if header {
        let mut row = Row::from(visible.iter().map(|c| headers[*c]).collect::<Vec<_>>());
        row.max_height(1);
        table.set_header(row);
    }
    const COLOURED: &[&str] = &["STATE", "STATUS", "ACTION"];
    for r in rows {
        let cells: Vec<comfy_table::Cell> = visible
            .iter()
            .map(|c| {
                // Each cell loses its control characters here, before any colour is added.
                let text = cell(r, *c);
                let colour = (l.color && COLOURED.contains(&headers[*c]))
                    .then(|| state_color(&text))
                    .flatten();
                let cell = comfy_table::Cell::new(text);
                match colour {
                    Some(col) => cell.fg(col),
                    None => cell,
                }
            })
            .collect();
        let mut row = Row::from(cells);
        row.max_height(1);
        table.add_row(row);
    }
    if l.color {
        table.enforce_styling();
    }
    let last = visible.len().saturating_sub(1);
    for (i, w) in widths.iter().enumerate() {
        if let Some(col) = table.column_mut(i) {
            let pad = if i == last { 0 } else { GAP };
            let w = u16::try_from(*w).unwrap_or(u16::MAX - GAP);
            col.set_padding((0, pad));
            col.set_constraint(ColumnConstraint::Absolute(Width::Fixed(w + pad)));
        }
    }
    for line in table.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// About the size of a table's text (exact for ASCII cells at full width; colours and wide
/// characters add a little): reserved at once, so a long table's string is not grown by doubling,
/// which holds the old and the new copy together for a moment.
pub(super) fn text_size(lines: usize, widths: &[usize]) -> usize {
    let line = widths.iter().sum::<usize>() + GAP as usize * widths.len().saturating_sub(1) + 1;
    lines.saturating_mul(line)
}

/// The table [`grid_in`] draws when nothing is to be cut or coloured (a pipe, a file, or a
/// terminal wide enough): every column as wide as its widest cell (`widths`), `GAP` spaces
/// between, no trailing spaces. The same text comfy-table prints there, written straight into one
/// string: a table of 100,000 rows costs its text, not a cell object per value.
pub(super) fn plain(
    l: &TableLayout,
    headers: &[&str],
    rows: Rows<'_>,
    visible: &[usize],
    widths: &[usize],
) -> String {
    use unicode_width::UnicodeWidthStr;
    let mut out = String::with_capacity(text_size(rows.len() + 1, widths));
    let mut line = String::new();
    let mut put = |texts: &mut dyn Iterator<Item = String>| {
        line.clear();
        for (k, text) in texts.enumerate() {
            if k > 0 {
                line.push_str(&" ".repeat(GAP as usize));
            }
            line.push_str(&text);
            line.push_str(&" ".repeat(widths[k].saturating_sub(text.width())));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    if l.headers {
        put(&mut visible.iter().map(|c| headers[*c].to_string()));
    }
    rows.each(|r| put(&mut visible.iter().map(|c| cell(r, *c))));
    out
}

/// Tab-separated values: every column, a header line unless --no-headers; tabs and line breaks
/// inside a value become spaces.
pub(crate) fn tsv(headers: &[&str], rows: &[Vec<String>]) -> String {
    let clean = |v: &str| v.replace(['\t', '\n', '\r'], " ");
    let mut out = String::new();
    if layout().headers {
        out.push_str(&headers.join("\t"));
        out.push('\n');
    }
    for r in rows {
        out.push_str(&r.iter().map(|v| clean(v)).collect::<Vec<_>>().join("\t"));
        out.push('\n');
    }
    out
}
