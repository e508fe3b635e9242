//! Splits a rendered manifest stream into documents and joins it back.
//!
//! The split is purely lexical: a line that starts with `---` (followed by a space, a tab or
//! the end of the line) opens a new document, and a `...` line closes one. Both are column-0
//! markers in YAML, so a `---` inside a block scalar (which is always indented) or inside a
//! quoted string that continues on an indented line never splits a document. Every byte of the
//! input belongs to exactly one document, so `join(split(x)) == x`.
//!
//! What a document *means* (its kind, name, annotations) is left to `header` and the planner.

use std::fmt;

/// The byte order mark some editors put at the start of a file.
const BOM: &str = "\u{feff}";

/// One document of the stream, exactly as it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document<'a> {
    /// 1-based position among the documents that have content; 0 for a chunk that holds
    /// only separators, blank lines and comments.
    pub number: usize,
    /// Byte offset of `raw` in the stream.
    pub offset: usize,
    /// The bytes as they came in, its `---` line and any trailing `...` included.
    pub raw: &'a str,
    /// The template file it came from, from a Helm 3 `# Source:` comment.
    pub source_comment: Option<&'a str>,
}

impl<'a> Document<'a> {
    /// Whether the document holds anything but markers, blank lines and comments.
    pub fn has_content(&self) -> bool {
        self.number != 0
    }

    /// The text to hand to a YAML parser: the raw text without a leading byte order mark.
    pub fn yaml(&self) -> &'a str {
        self.raw.strip_prefix(BOM).unwrap_or(self.raw)
    }
}

/// A stream that is not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUtf8 {
    /// 1-based number of the document holding the bad byte (counted as in [`Document::number`]).
    pub document: usize,
    /// 1-based line within the whole input.
    pub line: usize,
    /// Offset of the first bad byte in the whole input.
    pub offset: usize,
    /// The `# Source:` of that document, when it comes before the bad byte.
    pub source: Option<String>,
}

impl fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        write!(
            f,
            ": input is not UTF-8 (invalid byte at offset {}, line {})",
            self.offset, self.line
        )
    }
}

impl std::error::Error for NotUtf8 {}

/// Splits `input` into documents. Fails only on bytes that are not UTF-8.
pub fn split(input: &[u8]) -> Result<Vec<Document<'_>>, NotUtf8> {
    text(input).map(split_text)
}

/// The stream as text, or where it stops being UTF-8.
pub fn text(input: &[u8]) -> Result<&str, NotUtf8> {
    std::str::from_utf8(input).map_err(|err| locate_bad_byte(input, err.valid_up_to()))
}

/// Splits text into documents.
pub fn split_text(text: &str) -> Vec<Document<'_>> {
    split_run(text, 0..text.len())
}

/// Cuts `text` into at most `n` runs of about equal size that [`split_run`] can split one
/// by one, each on its own core: every run but the first starts with a `---` line at
/// column 0, where [`split_text`] always starts a document. A stream with no such line
/// late enough is one run.
pub fn runs(text: &str, n: usize) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let n = n.max(1);
    let mut cuts = vec![0];
    for k in 1..n {
        let from = (text.len() / n * k).max(cuts[cuts.len() - 1]);
        let next = memchr::memmem::find_iter(&bytes[from..], b"\n---")
            .map(|i| from + i + 1)
            .find(|&at| is_separator(line_at(text, at)));
        match next {
            Some(at) if at > cuts[cuts.len() - 1] => cuts.push(at),
            Some(_) => {}
            None => break,
        }
    }
    cuts.push(text.len());
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// The line that starts at `at`, with its `\n`.
fn line_at(text: &str, at: usize) -> &str {
    let end = memchr::memchr(b'\n', &text.as_bytes()[at..]).map_or(text.len(), |i| at + i + 1);
    &text[at..end]
}

/// Splits one run of [`runs`] into documents, exactly as [`split_text`] splits those bytes
/// of the whole text, except that [`Document::number`] counts from the run's start: add the
/// number of documents with content in the runs before it.
pub fn split_run(text: &str, run: std::ops::Range<usize>) -> Vec<Document<'_>> {
    let mut documents = Vec::new();
    let mut number = 0;
    let mut offset = run.start;
    for raw in chunks(&text[run.clone()], run.start) {
        let (content, source_comment) = preamble(raw);
        if content {
            number += 1;
        }
        documents.push(Document {
            number: if content { number } else { 0 },
            offset,
            raw,
            source_comment,
        });
        offset += raw.len();
    }
    documents
}

/// Joins documents back into one stream.
pub fn join<'a>(documents: impl IntoIterator<Item = &'a str>) -> String {
    documents.into_iter().collect()
}

/// An output stream under construction: runs of the input, kept as borrowed ranges (so a
/// large stream is never copied), and generated documents.
#[derive(Debug, Clone)]
pub struct Output<'a> {
    input: &'a str,
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone)]
enum Piece {
    Input(std::ops::Range<usize>),
    Generated(String),
}

impl<'a> Output<'a> {
    /// An empty output over the stream `input`, which every kept document comes from.
    pub fn new(input: &'a str) -> Output<'a> {
        Output {
            input,
            pieces: Vec::new(),
        }
    }

    /// Passes a document of the input through, byte for byte.
    pub fn keep(&mut self, doc: &Document<'a>) {
        let range = doc.offset..doc.offset + doc.raw.len();
        debug_assert_eq!(
            &self.input[range.clone()],
            doc.raw,
            "documents come from the input"
        );
        match self.pieces.last_mut() {
            Some(Piece::Input(last)) if last.end == range.start => last.end = range.end,
            _ => self.pieces.push(Piece::Input(range)),
        }
    }

    /// Appends a generated document that starts with its own `---` line, making sure the
    /// previous one ends with a line break first.
    pub fn append(&mut self, document: String) {
        if self
            .pieces()
            .next_back()
            .is_some_and(|p| !p.is_empty() && !p.ends_with('\n'))
        {
            self.pieces.push(Piece::Generated("\n".to_string()));
        }
        self.pieces.push(Piece::Generated(document));
    }

    /// The output, in order, as slices to write one after the other.
    pub fn pieces(&self) -> impl DoubleEndedIterator<Item = &str> + Clone {
        self.pieces.iter().map(|p| match p {
            Piece::Input(range) => &self.input[range.clone()],
            Piece::Generated(text) => text.as_str(),
        })
    }
}

impl std::fmt::Display for Output<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.pieces().try_for_each(|p| f.write_str(p))
    }
}

fn locate_bad_byte(input: &[u8], offset: usize) -> NotUtf8 {
    // The valid prefix is UTF-8, so it can be split like any stream to count documents.
    let prefix = std::str::from_utf8(&input[..offset]).unwrap_or_default();
    let mut document = 0;
    let mut last: Option<(&str, bool)> = None;
    for raw in chunks(prefix, 0) {
        let (content, _) = preamble(raw);
        document += usize::from(content);
        last = Some((raw, content));
    }
    // The bad byte itself is content: unless the chunk it sits in already had some, it
    // starts a new document.
    let open = last.filter(|(raw, _)| !ends_document(raw));
    if !open.is_some_and(|(_, content)| content) {
        document += 1;
    }
    NotUtf8 {
        document,
        line: prefix.matches('\n').count() + 1,
        offset,
        source: open
            .and_then(|(raw, _)| preamble(raw).1)
            .map(str::to_string),
    }
}

/// True when a chunk ended with a `...` marker, so whatever follows starts a new document.
fn ends_document(raw: &str) -> bool {
    raw.lines().last().is_some_and(is_end_marker)
}

/// Splits text into chunks at document markers; every byte lands in exactly one chunk.
///
/// Markers are found with a substring search for `\n---` and `\n...` rather than line by
/// line: a stream has far fewer documents than lines.
fn chunks(text: &str, base: usize) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut candidates: Vec<usize> = memchr::memmem::find_iter(bytes, b"\n---")
        .chain(memchr::memmem::find_iter(bytes, b"\n..."))
        .map(|i| i + 1)
        .collect();
    candidates.sort_unstable();
    let mut chunks = Vec::with_capacity(candidates.len() + 1);
    let mut start = 0;
    // The first line has no `\n` before it.
    for pos in std::iter::once(0).chain(candidates) {
        let line_end = memchr::memchr(b'\n', &bytes[pos..]).map_or(text.len(), |i| pos + i + 1);
        let line = line_without_bom(&text[pos..line_end], base + pos);
        if is_separator(line) && pos > start {
            chunks.push(&text[start..pos]);
            start = pos;
        } else if is_end_marker(line) {
            chunks.push(&text[start..line_end]);
            start = line_end;
        }
    }
    if start < text.len() {
        chunks.push(&text[start..]);
    }
    chunks
}

fn line_without_bom(line: &str, offset: usize) -> &str {
    if offset == 0 {
        line.strip_prefix(BOM).unwrap_or(line)
    } else {
        line
    }
}

/// `---` at column 0, followed by nothing or by white space.
pub(crate) fn is_separator(line: &str) -> bool {
    is_marker(line, "---")
}

/// `...` at column 0, followed by nothing or by white space.
fn is_end_marker(line: &str) -> bool {
    is_marker(line, "...")
}

fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']))
}

/// A chunk has content when some line is neither blank, a comment, nor a marker.
/// Reads a chunk's lines up to its first content: whether it has any (a line that is not
/// blank, a comment or a marker), and the Helm 3 `# Source:` comment before it.
fn preamble(raw: &str) -> (bool, Option<&str>) {
    let bytes = raw.as_bytes();
    let mut source = None;
    let mut start = 0;
    let mut separated = false;
    while start < raw.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(raw.len(), |i| start + i);
        let line = line_without_bom(&raw[start..end], start);
        let line = line.strip_suffix('\r').unwrap_or(line);
        start = end + 1;
        if line.starts_with('%') && !separated {
            // A directive (`%YAML 1.2`, `%TAG`) before the `---` it belongs to.
            continue;
        }
        if is_separator(line) {
            separated = true;
            // `--- value` puts content on the separator line itself.
            let rest = line[3..].trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                return (true, source);
            }
            continue;
        }
        if let Some(path) = line.strip_prefix("# Source: ") {
            let path = path.trim();
            if source.is_none() && !path.is_empty() {
                source = Some(path);
            }
            continue;
        }
        let trimmed = line.trim();
        if !(trimmed.is_empty() || trimmed.starts_with('#') || is_end_marker(line)) {
            return (true, source);
        }
    }
    (false, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raws(input: &str) -> Vec<&str> {
        split(input.as_bytes())
            .expect("utf-8 input")
            .into_iter()
            .map(|d| d.raw)
            .collect()
    }

    #[test]
    fn splits_at_column_zero_markers_only() {
        let input = "---\na: 1\n---\nb: |\n  ---\n  x\n---\nc: 2";
        assert_eq!(
            raws(input),
            ["---\na: 1\n", "---\nb: |\n  ---\n  x\n", "---\nc: 2"]
        );
    }

    #[test]
    fn first_document_may_lack_a_separator() {
        assert_eq!(raws("a: 1\n---\nb: 2\n"), ["a: 1\n", "---\nb: 2\n"]);
    }

    #[test]
    fn end_marker_closes_a_document() {
        assert_eq!(raws("a: 1\n...\nb: 2\n"), ["a: 1\n...\n", "b: 2\n"]);
    }

    #[test]
    fn dashes_followed_by_text_are_not_a_separator() {
        assert_eq!(
            raws("a: 1\n---apiVersion: v1\n"),
            ["a: 1\n---apiVersion: v1\n"]
        );
    }

    #[test]
    fn crlf_separators_split() {
        assert_eq!(
            raws("a: 1\r\n---\r\nb: 2\r\n"),
            ["a: 1\r\n", "---\r\nb: 2\r\n"]
        );
    }

    #[test]
    fn numbers_only_documents_with_content() {
        let docs = split(b"---\n# only a comment\n---\na: 1\n---\n---\nb: 2\n").unwrap();
        let numbers: Vec<usize> = docs.iter().map(|d| d.number).collect();
        assert_eq!(numbers, [0, 1, 0, 2]);
    }

    #[test]
    fn directives_are_not_documents() {
        let docs =
            split(b"%YAML 1.2\n---\na: 1\n...\n%YAML 1.2\n%TAG ! tag:x,1:\n---\nb: 2\n").unwrap();
        let numbers: Vec<usize> = docs.iter().map(|d| d.number).collect();
        assert_eq!(numbers, [0, 1, 0, 2]);
    }

    #[test]
    fn reads_helm3_source_comments() {
        let docs = split(b"---\n# Source: shop/templates/a.yaml\nkind: A\n").unwrap();
        assert_eq!(docs[0].source_comment, Some("shop/templates/a.yaml"));
    }

    #[test]
    fn bom_is_kept_in_raw_and_dropped_for_parsing() {
        let docs = split("\u{feff}---\na: 1\n".as_bytes()).unwrap();
        assert_eq!(docs.len(), 1);
        assert!(docs[0].raw.starts_with(BOM));
        assert_eq!(docs[0].yaml(), "---\na: 1\n");
    }

    #[test]
    fn not_utf8_names_the_document_and_line() {
        let err = split(b"a: 1\n---\nb: \xff\n").unwrap_err();
        assert_eq!((err.document, err.line, err.offset), (2, 3, 12));
    }

    #[test]
    fn empty_input_has_no_documents() {
        assert!(split(b"").unwrap().is_empty());
    }

    #[test]
    fn output_merges_adjacent_input_and_adds_missing_line_breaks() {
        let input = "a: 1\n---\nb: 2\n---\nc: 3";
        let docs = split_text(input);
        let mut out = Output::new(input);
        out.keep(&docs[0]);
        out.keep(&docs[1]);
        out.keep(&docs[2]);
        out.append("---\nd: 4\n".to_string());
        assert_eq!(
            out.pieces().count(),
            3,
            "three kept documents are one slice, then a line break"
        );
        assert_eq!(out.to_string(), "a: 1\n---\nb: 2\n---\nc: 3\n---\nd: 4\n");
    }

    #[test]
    fn output_skips_dropped_documents() {
        let input = "a: 1\n---\nb: 2\n---\nc: 3\n";
        let docs = split_text(input);
        let mut out = Output::new(input);
        out.keep(&docs[0]);
        out.keep(&docs[2]);
        assert_eq!(out.to_string(), "a: 1\n---\nc: 3\n");
    }

    #[test]
    fn join_restores_the_input() {
        for input in [
            "",
            "a",
            "---\na: 1\n---\n",
            "x\n...\n---\r\ny\n# c",
            "\u{feff}a: 1\n",
        ] {
            assert_eq!(join(raws(input)), input, "round trip of {input:?}");
        }
    }
}
