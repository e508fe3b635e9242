//! Fitting the plan's text to a width: tables whose cells are cut with an ellipsis (and whose
//! least needed columns are left out) when the rows would not fit, prose wrapped at spaces with
//! a hanging indent, and every value made one line of visible characters. Width is counted in
//! terminal columns (`unicode-width`: a CJK character takes two, a combining mark none).
//!
//! `None` as the width fits nothing: every cell whole and every line as long as it is
//! (`plan -o wide`). What the report says, and in which order, is the report's business.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// What a cut cell ends with.
const ELLIPSIS: char = '…';
/// Before each row; between two cells.
const INDENT: &str = "  ";
const GAP: &str = "  ";
/// The narrowest free text is cut to before a name is cut.
const NARROW_TEXT: usize = 12;
/// The narrowest a column is cut to when nothing else gives (a narrow terminal).
const NARROWEST: usize = 3;

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub heading: &'static str,
    /// Free text (images, commands, conditions): cut first, down to this width, before
    /// anything is left out or a name is cut.
    pub give: Option<usize>,
    /// Left out, lowest rank first, when cutting the free text is not enough.
    pub leave_out: Option<u8>,
    /// Cut at the start (`…shop:1.4.2`), for values whose end says most, as an image's tag.
    pub keep_end: bool,
}

impl Column {
    /// A column cut only when nothing else gives: names, kinds, numbers.
    pub const fn keep(heading: &'static str) -> Column {
        Column {
            heading,
            give: None,
            leave_out: None,
            keep_end: false,
        }
    }

    /// A free-text column, cut first down to `width`.
    pub const fn give(heading: &'static str, width: usize) -> Column {
        Column {
            heading,
            give: Some(width),
            leave_out: None,
            keep_end: false,
        }
    }

    /// This column cut at its start rather than its end.
    pub const fn keeping_the_end(self) -> Column {
        Column {
            keep_end: true,
            ..self
        }
    }

    /// This column left out (at `rank`, lowest first) when the table does not fit.
    pub const fn or_leave_out(self, rank: u8) -> Column {
        Column {
            leave_out: Some(rank),
            ..self
        }
    }
}

/// Tables fitted to a width.
#[derive(Debug, Default)]
pub struct Fitted {
    /// Each table: its heading line and one line per row, each ending in a newline.
    pub tables: Vec<String>,
    /// The headings of the columns left out.
    pub left_out: Vec<&'static str>,
    /// Whether a cell was cut.
    pub cut: bool,
}

/// Lays out each table of `tables` (rows of cells) under the columns' headings, each column
/// as wide as its widest cell in any of them, within `width` columns if it is given. The
/// tables share their columns and widths, so that they line up one under the other.
pub fn tables(columns: &[Column], tables: &[Vec<Vec<String>>], width: Option<usize>) -> Fitted {
    let tables: Vec<Vec<Vec<String>>> = tables
        .iter()
        .map(|rows| {
            rows.iter()
                .map(|r| r.iter().map(|c| visible(c)).collect())
                .collect()
        })
        .collect();
    let natural: Vec<usize> = (0..columns.len())
        .map(|i| {
            tables
                .iter()
                .flatten()
                .map(|r| r[i].width())
                .chain([columns[i].heading.width()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Fitted, a column with nothing in it says nothing: it goes first, and silently.
    let empty: Vec<usize> = (0..columns.len())
        .filter(|&i| tables.iter().flatten().all(|r| r[i].is_empty()))
        .collect();
    let (shown, widths) = match width {
        Some(width) if empty.len() < columns.len() => layout(columns, &natural, &empty, width),
        _ => ((0..columns.len()).collect(), natural.clone()),
    };
    let mut fitted = Fitted {
        left_out: (0..columns.len())
            .filter(|i| !shown.contains(i) && !empty.contains(i))
            .map(|i| columns[i].heading)
            .collect(),
        ..Fitted::default()
    };
    let headings: Vec<String> = columns.iter().map(|c| c.heading.to_string()).collect();
    for rows in &tables {
        let mut text = String::new();
        for row in std::iter::once(&headings).chain(rows) {
            let cells: Vec<String> = shown
                .iter()
                .zip(&widths)
                .map(|(&i, &w)| {
                    fitted.cut |= row[i].width() > w;
                    if columns[i].keep_end {
                        cut_start(&row[i], w)
                    } else {
                        cut(&row[i], w)
                    }
                })
                .collect();
            text.push_str(INDENT);
            text.push_str(&join_padded(&cells, &widths));
            text.push('\n');
        }
        fitted.tables.push(text);
    }
    fitted
}

/// The cells with the padding that lines them up, up to the last cell with text in it.
fn join_padded(cells: &[String], widths: &[usize]) -> String {
    let last = cells.iter().rposition(|c| !c.is_empty()).unwrap_or(0);
    let mut line = String::new();
    for (i, (cell, w)) in cells.iter().zip(widths).enumerate().take(last + 1) {
        if i > 0 {
            line.push_str(GAP);
        }
        line.push_str(cell);
        if i < last {
            line.push_str(&" ".repeat(w.saturating_sub(cell.width())));
        }
    }
    line
}

/// Which columns are shown and how wide each is: the free text cut first (to its `give`),
/// then the columns that may go are left out, then the free text cut further, and last every
/// column cut evenly, the widest first. The `empty` columns are never shown.
fn layout(
    columns: &[Column],
    natural: &[usize],
    empty: &[usize],
    width: usize,
) -> (Vec<usize>, Vec<usize>) {
    let mut shown: Vec<usize> = (0..columns.len()).filter(|i| !empty.contains(i)).collect();
    loop {
        let budget = width.saturating_sub(INDENT.len() + GAP.len() * (shown.len() - 1));
        let mut widths: Vec<usize> = shown.iter().map(|&i| natural[i]).collect();
        let give: Vec<usize> = shown
            .iter()
            .map(|&i| columns[i].give.map_or(natural[i], |g| g.min(natural[i])))
            .collect();
        shrink(&mut widths, &give, budget);
        if widths.iter().sum::<usize>() <= budget {
            return (shown, widths);
        }
        let next = shown
            .iter()
            .enumerate()
            .filter_map(|(at, &i)| Some((columns[i].leave_out?, at)))
            .min();
        match next {
            Some((_, at)) => {
                shown.remove(at);
            }
            None => {
                let text: Vec<usize> = shown
                    .iter()
                    .map(|&i| match columns[i].give {
                        Some(_) => natural[i].min(NARROW_TEXT),
                        None => natural[i],
                    })
                    .collect();
                shrink(&mut widths, &text, budget);
                let floor: Vec<usize> = shown.iter().map(|&i| natural[i].min(NARROWEST)).collect();
                shrink(&mut widths, &floor, budget);
                return (shown, widths);
            }
        }
    }
}

/// Narrows the widest column above its floor, one column of text at a time, until the
/// widths add up to `budget` or every column is at its floor.
fn shrink(widths: &mut [usize], floor: &[usize], budget: usize) {
    let mut total: usize = widths.iter().sum();
    while total > budget {
        let widest = (0..widths.len())
            .filter(|&i| widths[i] > floor[i])
            .max_by_key(|&i| (widths[i], i));
        let Some(i) = widest else { return };
        // Down to the next narrower column's width at once, not beyond what is needed.
        let next = (0..widths.len())
            .filter(|&j| widths[j] < widths[i])
            .map(|j| widths[j])
            .max()
            .unwrap_or(0);
        let step = (widths[i] - next.max(floor[i])).min(total - budget).max(1);
        widths[i] -= step;
        total -= step;
    }
}

/// `text` cut to `width` terminal columns, ending in `…` when anything was cut.
pub fn cut(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    if width > 0 {
        out.push(ELLIPSIS);
    }
    out
}

/// `text` cut to `width` terminal columns at its start, beginning with `…` when anything was
/// cut.
pub fn cut_start(text: &str, width: usize) -> String {
    if text.width() <= width || width == 0 {
        return cut(text, width);
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in text.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        tail.push(c);
    }
    std::iter::once(ELLIPSIS)
        .chain(tail.into_iter().rev())
        .collect()
}

/// `text` as one line of visible characters: a newline, tab or carriage return as `\n`, `\t`,
/// `\r`, any other control character or bidirectional override (which would reorder what
/// follows on screen) as `\u{..}`.
pub fn visible(text: &str) -> String {
    if !text.chars().any(hidden) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if hidden(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Writes `text` after `first`, wrapped at spaces within `width`, each further line starting
/// with as many spaces as `hang`. A word longer than a line is broken where the line ends.
pub fn wrap(out: &mut String, first: &str, hang: usize, text: &str, width: Option<usize>) {
    let text = visible(text);
    let Some(width) = width else {
        out.push_str(first);
        out.push_str(&text);
        out.push('\n');
        return;
    };
    let indent = " ".repeat(hang);
    let mut line = first.to_string();
    // Whether the line holds a word yet (the prefix alone is not one).
    let mut has_word = false;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let mut word = word.to_string();
        if has_word && line.width() + 1 + word.width() > width {
            out.push_str(&line);
            out.push('\n');
            line.clone_from(&indent);
            has_word = false;
        }
        if has_word {
            line.push(' ');
        }
        // A word wider than what is left: as much as fits, then the rest on the next line.
        while line.width() + word.width() > width && width > line.width() {
            let (head, rest) = split_at_width(&word, width - line.width());
            if head.is_empty() {
                break;
            }
            line.push_str(head);
            out.push_str(&line);
            out.push('\n');
            line.clone_from(&indent);
            word = rest.to_string();
        }
        line.push_str(&word);
        has_word = true;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// The longest start of `text` that is at most `width` columns wide, and the rest.
fn split_at_width(text: &str, width: usize) -> (&str, &str) {
    let mut used = 0;
    for (at, c) in text.char_indices() {
        used += c.width().unwrap_or(0);
        if used > width {
            return text.split_at(at);
        }
    }
    (text, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_counts_terminal_columns_and_ends_in_an_ellipsis() {
        assert_eq!(cut("migrate", 7), "migrate", "fits: whole");
        assert_eq!(cut("migrate", 5), "migr…");
        assert_eq!(cut("数据库迁移", 5), "数据…", "two columns a character");
        assert_eq!(cut("a", 0), "");
        assert_eq!(
            cut_start("registry.example.com/shop:1.4.2", 11),
            "…shop:1.4.2"
        );
        assert_eq!(cut_start("数据库迁移", 5), "…迁移");
    }

    #[test]
    fn visible_escapes_what_would_break_or_reorder_a_line() {
        assert_eq!(visible("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(visible("x\u{1b}[2Jy\u{202e}z"), "x\\u{1b}[2Jy\\u{202e}z");
        assert_eq!(visible("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn wrap_hangs_its_indent_and_breaks_words_longer_than_a_line() {
        let mut out = String::new();
        wrap(&mut out, "  - ", 4, "one two three four", Some(14));
        assert_eq!(out, "  - one two\n    three four\n");
        let mut out = String::new();
        wrap(&mut out, "  - ", 4, "abcdefghijklmnop", Some(10));
        assert_eq!(out, "  - abcdef\n    ghijkl\n    mnop\n");
        let mut out = String::new();
        wrap(&mut out, "  - ", 4, "one\ntwo", None);
        assert_eq!(out, "  - one\\ntwo\n", "no width: one line");
    }

    #[test]
    fn free_text_gives_first_then_columns_are_left_out_then_everything_is_cut() {
        let columns = [
            Column::keep("NAME"),
            Column::give("COMMAND", 8),
            Column::give("IMAGE", 8).or_leave_out(1),
        ];
        let rows = vec![vec![
            "shop-migrate".to_string(),
            "/app/shop migrate --all".to_string(),
            "registry.example.com/shop:1".to_string(),
        ]];
        let table = |width| {
            let fitted = tables(&columns, std::slice::from_ref(&rows), width);
            (fitted.tables.concat(), fitted.left_out, fitted.cut)
        };
        let (wide, left_out, cut) = table(None);
        assert!(wide.contains("/app/shop migrate --all  registry.example.com/shop:1"));
        assert!(!cut && left_out.is_empty(), "wide: nothing cut");
        let (fitted, left_out, cut) = table(Some(36));
        assert_eq!(
            fitted,
            "  NAME          COMMAND     IMAGE\n  shop-migrate  /app/shop…  registr…\n"
        );
        assert!(cut && left_out.is_empty());
        let (narrow, left_out, _) = table(Some(26));
        assert_eq!(left_out, ["IMAGE"]);
        assert!(narrow.lines().all(|l| l.width() <= 26), "{narrow}");
        assert!(
            narrow.contains("shop-migrate"),
            "the name is whole: {narrow}"
        );
        let (narrowest, _, _) = table(Some(12));
        assert!(narrowest.lines().all(|l| l.width() <= 12), "{narrowest}");
    }
}
