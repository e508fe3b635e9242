//! Reads the few keys the planner needs from a document: apiVersion, kind, name, namespace,
//! labels, annotations and label selectors.
//!
//! Most documents in a stream are passed through untouched, so they are not parsed in full:
//! [`sniff`] walks the block-style lines Helm and kustomize emit and picks out only those keys.
//! It is deliberately timid: on anything it does not fully understand (flow collections,
//! anchors, tags, block scalars, tabs, odd indentation, duplicate keys) it answers
//! [`Unsure`], and the caller parses the document with a real YAML parser and uses
//! [`Header::from_value`]. Both paths must agree wherever `sniff` answers; a property test
//! holds them to that.

use std::borrow::Cow;

use serde_norway::Value;

/// The keys of one document that decide what deploy-jobs does with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    /// Only the labels the planner reads ([`wanted_label`]).
    pub labels: Pairs,
    /// Only the annotations the planner reads ([`wanted_annotation`]).
    pub annotations: Pairs,
    /// `spec.selector` of a Service, or `spec.selector.matchLabels` of a workload.
    pub selector: Pairs,
    /// Whether `spec.selector.matchExpressions` is present (only [`Header::from_value`] can
    /// evaluate those, so `sniff` is unsure about such documents).
    pub selector_expressions: Vec<SelectorRequirement>,
}

/// String pairs in document order: a header holds one or two, for which a map costs far
/// more memory (a header is kept for every document of a stream).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn insert(&mut self, key: String, value: String) {
        self.0.push((key, value));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// One entry of a `matchExpressions` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorRequirement {
    pub key: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// `sniff` could not read the document with certainty; parse it in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsure;

impl Header {
    /// Whether the document is a Helm hook.
    pub fn is_hook(&self) -> bool {
        self.annotations.get(crate::HOOK_ANNOTATION).is_some()
    }

    /// The template file Helm 4 says the document came from.
    pub fn filename(&self) -> Option<&str> {
        self.annotations.get(crate::FILENAME_ANNOTATION)
    }

    /// Whether deploy-jobs generated this document on an earlier run.
    pub fn is_generated(&self) -> bool {
        self.annotations.get(crate::GENERATED_ANNOTATION).is_some()
    }

    /// Whether this is a `kind` in group-less or any API group, by kind alone.
    pub fn is_kind(&self, kind: &str) -> bool {
        self.kind.as_deref() == Some(kind)
    }

    /// Builds the header from a fully parsed document. Fails when the document is not a
    /// mapping; keys of an unexpected type are ignored, as Kubernetes would reject them later.
    pub fn from_value(value: &Value) -> Result<Header, String> {
        let map = match value {
            Value::Mapping(map) => map,
            other => return Err(format!("expected a mapping, found {}", describe(other))),
        };
        let get = |m: &serde_norway::Mapping, key: &str| m.get(key).cloned();
        let string = |v: Option<Value>| match v {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let strings = |v: Option<Value>, wanted: fn(&str) -> bool| -> Pairs {
            match v {
                Some(Value::Mapping(m)) => Pairs(
                    m.into_iter()
                        .filter_map(|(k, v)| Some((scalar_string(&k)?, scalar_string(&v)?)))
                        .filter(|(k, _)| wanted(k))
                        .collect(),
                ),
                _ => Pairs::default(),
            }
        };
        let all = |_: &str| true;
        let metadata = match map.get("metadata") {
            Some(Value::Mapping(m)) => m.clone(),
            _ => serde_norway::Mapping::new(),
        };
        let mut header = Header {
            api_version: string(get(map, "apiVersion")),
            kind: string(get(map, "kind")),
            name: string(get(&metadata, "name")),
            namespace: string(get(&metadata, "namespace")),
            labels: strings(get(&metadata, "labels"), wanted_label),
            annotations: strings(get(&metadata, "annotations"), wanted_annotation),
            ..Header::default()
        };
        if let Some(Value::Mapping(selector)) = map.get("spec").and_then(|s| s.get("selector")) {
            if selector.contains_key("matchLabels") || selector.contains_key("matchExpressions") {
                header.selector = strings(selector.get("matchLabels").cloned(), all);
                header.selector_expressions = requirements(selector.get("matchExpressions"));
            } else {
                header.selector = strings(Some(Value::Mapping(selector.clone())), all);
            }
        }
        Ok(header)
    }
}

fn requirements(value: Option<&Value>) -> Vec<SelectorRequirement> {
    let Some(Value::Sequence(items)) = value else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| SelectorRequirement {
            key: item.get("key").and_then(scalar_string).unwrap_or_default(),
            operator: item
                .get("operator")
                .and_then(scalar_string)
                .unwrap_or_default(),
            values: match item.get("values") {
                Some(Value::Sequence(vs)) => vs.iter().filter_map(scalar_string).collect(),
                _ => Vec::new(),
            },
        })
        .collect()
}

/// A scalar as Kubernetes would read it into a string field.
pub fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A short name for the type of a YAML value, for messages.
pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a sequence",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Labels the planner reads (the release labels); others are not kept.
pub fn wanted_label(key: &str) -> bool {
    crate::facts::RELEASE_LABELS.contains(&key)
}

/// Annotations the planner reads (Helm's, Helm 4's file name, deploy-jobs' own); others
/// are not kept.
pub fn wanted_annotation(key: &str) -> bool {
    key.starts_with("helm.sh/")
        || key.starts_with("postrenderer.helm.sh/")
        || key.starts_with("deploy-jobs.io/")
}

/// Reads the header of a block-style document line by line; see the module docs.
pub fn sniff(text: &str) -> Result<Header, Unsure> {
    sniff_with(text, false)
}

/// Like [`sniff`], but reads past a quoted scalar or flow collection left open inside a
/// value nobody asked for, as if it closed on its line. Only for a document the parser
/// refused: it is malformed either way, and passes through to Helm, which reports it, like
/// any other malformed document no job reads.
pub fn sniff_malformed(text: &str) -> Result<Header, Unsure> {
    sniff_with(text, true)
}

fn sniff_with(text: &str, malformed: bool) -> Result<Header, Unsure> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bytes = text.as_bytes();
    let mut header = Header::default();
    let mut scanner = Scanner {
        malformed,
        // Room for the keys of a usual header, so that it is allocated once.
        seen: Vec::with_capacity(16),
        ..Scanner::default()
    };
    let mut start = 0;
    while start < bytes.len() {
        // The hot path: most lines sit deep inside a value nobody asked for, which is all
        // that needs checking about them.
        if let Some(limit) = scanner.skip_deeper_than
            && scanner.pending_scalar.is_none()
        {
            start = scanner.skip_run(text, start, limit)?;
            if start >= bytes.len() {
                break;
            }
        }
        let end = line_end(bytes, start);
        let line = &text[start..end];
        scanner.line(line.strip_suffix('\r').unwrap_or(line), &mut header)?;
        start = end + 1;
    }
    Ok(header)
}

/// The mappings whose entries are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Ctx {
    #[default]
    Root,
    Metadata,
    Labels,
    Annotations,
    Spec,
    Selector,
    MatchLabels,
}

impl Ctx {
    /// The tracked mapping under `key`, if it is one.
    fn child(self, key: &str) -> Option<Ctx> {
        Some(match (self, key) {
            (Ctx::Root, "metadata") => Ctx::Metadata,
            (Ctx::Root, "spec") => Ctx::Spec,
            (Ctx::Metadata, "labels") => Ctx::Labels,
            (Ctx::Metadata, "annotations") => Ctx::Annotations,
            (Ctx::Spec, "selector") => Ctx::Selector,
            (Ctx::Selector, "matchLabels") => Ctx::MatchLabels,
            _ => return None,
        })
    }

    /// Where a scalar under `key` goes in the header, if anywhere.
    fn slot(self, key: &str) -> Option<Slot<'_>> {
        Some(match (self, key) {
            (Ctx::Root, "apiVersion") => Slot::ApiVersion,
            (Ctx::Root, "kind") => Slot::Kind,
            (Ctx::Metadata, "name") => Slot::Name,
            (Ctx::Metadata, "namespace") => Slot::Namespace,
            (Ctx::Labels, k) if wanted_label(k) => Slot::Label(k),
            (Ctx::Annotations, k) if wanted_annotation(k) => Slot::Annotation(k),
            (Ctx::Selector | Ctx::MatchLabels, k) => Slot::Selector(k),
            _ => return None,
        })
    }
}

/// The open tracked mappings, at most four deep (`spec.selector.matchLabels` under the
/// root): a fixed array, so sniffing a small document allocates nothing.
#[derive(Default)]
struct Stack {
    items: [(Option<usize>, Ctx, usize); 4],
    len: usize,
}

impl Stack {
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, item: (Option<usize>, Ctx, usize)) {
        // Ctx::child only nests four levels; more would be a bug in it, not in the input.
        debug_assert!(
            self.len < self.items.len(),
            "tracked mappings nest at most four deep"
        );
        if self.len < self.items.len() {
            self.items[self.len] = item;
            self.len += 1;
        }
    }

    fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    fn last(&self) -> Option<&(Option<usize>, Ctx, usize)> {
        self.len.checked_sub(1).map(|i| &self.items[i])
    }

    fn last_mut(&mut self) -> Option<&mut (Option<usize>, Ctx, usize)> {
        self.len.checked_sub(1).map(|i| &mut self.items[i])
    }
}

#[derive(Default)]
struct Scanner<'a> {
    /// Open tracked mappings: (indent of their entries, once known; which mapping; indent
    /// of the key that opened it).
    contexts: Stack,
    /// Skip lines indented deeper than this (the value of a key nobody asked for).
    skip_deeper_than: Option<usize>,
    /// A recorded scalar at this indent must not continue on deeper lines.
    pending_scalar: Option<usize>,
    /// Inside a skipped value: lines deeper than this are the text of a block scalar.
    block_deeper_than: Option<usize>,
    /// See [`sniff_malformed`].
    malformed: bool,
    /// Keys read so far, to refuse duplicates (a parser would reject those).
    seen: Vec<(Ctx, Cow<'a, str>)>,
    saw_content: bool,
}

impl<'a> Scanner<'a> {
    fn line(&mut self, line: &'a str, header: &mut Header) -> Result<(), Unsure> {
        let indent = line.bytes().take_while(|&b| b == b' ').count();
        if crate::stream::is_separator(line) {
            let rest = line[3..].trim();
            if !(rest.is_empty() || rest.starts_with('#')) || self.saw_content {
                return Err(Unsure);
            }
            return Ok(());
        }
        let trimmed = &line[indent..];
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(());
        }
        if line.starts_with("...") || line.starts_with('%') || trimmed.starts_with('\t') {
            return Err(Unsure);
        }
        self.saw_content = true;

        if let Some(limit) = self.pending_scalar.take()
            && indent > limit
        {
            return Err(Unsure);
        }
        if let Some(limit) = self.skip_deeper_than {
            if indent > limit || (indent == limit && is_sequence_entry(trimmed)) {
                return self.skip(line);
            }
            self.skip_deeper_than = None;
            self.block_deeper_than = None;
        }

        let ctx = self.context_at(indent)?;
        let (key, value) = split_entry(trimmed).ok_or(Unsure)?;
        let tracked = ctx.child(&key);
        let slot = ctx.slot(&key);
        if tracked.is_some() || slot.is_some() {
            if self.seen.iter().any(|(c, k)| *c == ctx && *k == key) {
                return Err(Unsure);
            }
            // A selector with `matchLabels` or `matchExpressions` is read from those alone,
            // whatever their values: other keys beside them are no selector, and a scalar
            // there is none. Only a parser sorts such a mixture out.
            if ctx == Ctx::Selector {
                let is_match = |k: &str| k == "matchLabels" || k == "matchExpressions";
                let mixed = self
                    .seen
                    .iter()
                    .any(|(c, k)| *c == Ctx::Selector && is_match(k) != is_match(&key));
                if mixed || (is_match(&key) && !matches!(value, RawValue::Nested)) {
                    return Err(Unsure);
                }
            }
            self.seen.push((ctx, key.clone()));
        }

        match value {
            RawValue::Nested => {
                if let Some(child) = tracked {
                    self.contexts.push((None, child, indent));
                } else if ctx == Ctx::Selector && key == "matchExpressions" {
                    return Err(Unsure);
                } else if slot.is_some() {
                    // A recorded key whose value is on the next lines: a block collection or a
                    // multi-line scalar. Only a real parser knows.
                    self.pending_scalar = Some(indent);
                    self.skip_deeper_than = Some(indent);
                    record(header, slot, None);
                } else {
                    self.skip_deeper_than = Some(indent);
                }
            }
            RawValue::EmptyFlowMap if tracked.is_some() => {}
            RawValue::Scalar(s) if tracked.is_none() => {
                if slot.is_some() {
                    self.pending_scalar = Some(indent);
                    record(header, slot, Some(s.into_owned()));
                } else {
                    self.skip_deeper_than = Some(indent);
                }
            }
            RawValue::Complex if slot.is_none() && tracked.is_none() => {
                self.skip_deeper_than = Some(indent);
                self.skip(line)?;
            }
            _ => return Err(Unsure),
        }
        Ok(())
    }

    /// The mapping a line at `indent` belongs to: the contexts deeper than it are closed, and
    /// a freshly opened one learns its indentation here. A line that fits none is `Unsure`.
    fn context_at(&mut self, indent: usize) -> Result<Ctx, Unsure> {
        if self.contexts.is_empty() {
            self.contexts.push((Some(indent), Ctx::Root, 0));
        }
        // A freshly opened mapping learns its indentation from its first entry, which must be
        // deeper than its key; otherwise the key had no value (null) and this line is not in it.
        match self.contexts.last_mut() {
            Some((child @ None, _, key_indent)) if indent > *key_indent => *child = Some(indent),
            Some((None, _, _)) => {
                self.contexts.pop();
            }
            _ => {}
        }
        while self.contexts.len() > 1
            && self
                .contexts
                .last()
                .is_some_and(|(child, _, _)| child.is_some_and(|c| indent < c))
        {
            self.contexts.pop();
        }
        let &(Some(child), ctx, _) = self.contexts.last().ok_or(Unsure)? else {
            return Err(Unsure);
        };
        if indent != child {
            return Err(Unsure);
        }
        Ok(ctx)
    }
}

impl Scanner<'_> {
    /// Reads the lines from `pos` on that are indented deeper than `limit` (inside a value
    /// nobody asked for) exactly as [`Scanner::skip`] would one by one, and returns where
    /// the first line that is not starts (or the end of the text).
    ///
    /// It is quicker because it reads a line only when it holds a byte that can open
    /// something ([`OPENERS`]): the next such byte is found for many lines at once, and a
    /// line before it needs no reading. Even then it looks only where a node starts: at the
    /// line's first byte and after each `: `. A quote, bracket or block indicator anywhere
    /// else is plain text (or a comment), which cannot run on to the next line; a line whose
    /// node starts all hold plain text needs no reading. Any other line goes to [`opens`],
    /// as before. Inside a block scalar, a line indented deeper than its indicator's is
    /// text: only its end is looked for.
    fn skip_run(&mut self, text: &str, mut pos: usize, limit: usize) -> Result<usize, Unsure> {
        let b = text.as_bytes();
        let mut openers = NextOpener::default();
        while pos < b.len() {
            let indent = b[pos..].iter().take_while(|&&c| c == b' ').count();
            if indent <= limit {
                return Ok(pos);
            }
            let start = pos + indent;
            let end = line_end(b, start);
            pos = end + 1;
            if self.block_deeper_than.is_some_and(|block| indent > block) {
                continue;
            }
            let end = if end > start && b[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            if end == start {
                continue;
            }
            self.block_deeper_than = None;
            if openers.from(b, start) >= end || surely_plain(&b[start..end]) {
                continue;
            }
            // After spaces and before `\r` or `\n`: both ends are character boundaries.
            match opens(&text[start..end]) {
                Opens::Nothing => {}
                Opens::Block => self.block_deeper_than = Some(indent),
                Opens::Unclosed if self.malformed => {}
                Opens::Unclosed => return Err(Unsure),
            }
        }
        Ok(pos)
    }

    /// A line inside a value nobody asked for. It needs no reading, except where it starts
    /// something that may run on to later, less indented lines, which would then look like
    /// keys: a quoted scalar or a flow collection that does not close on this line. Block
    /// scalars are followed so that their text is not mistaken for either.
    fn skip(&mut self, line: &str) -> Result<(), Unsure> {
        let indent = line.bytes().take_while(|&b| b == b' ').count();
        let trimmed = &line[indent..];
        if trimmed.is_empty() {
            return Ok(());
        }
        if let Some(block) = self.block_deeper_than {
            if indent > block {
                return Ok(());
            }
            self.block_deeper_than = None;
        }
        // The hot path: most skipped lines hold none of the characters that open anything.
        // Lines are short, so one pass with a table beats two vectorised searches.
        if !trimmed.bytes().any(|c| OPENERS[usize::from(c)]) {
            return Ok(());
        }
        match opens(trimmed) {
            Opens::Nothing => Ok(()),
            Opens::Block => {
                self.block_deeper_than = Some(indent);
                Ok(())
            }
            Opens::Unclosed if self.malformed => Ok(()),
            Opens::Unclosed => Err(Unsure),
        }
    }
}

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);

/// The high bit of each byte of `word` that equals `byte`, and no other bit.
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    // A byte of `x` is zero exactly when adding 0x7f to its low bits carries nothing into
    // its high bit and its high bit is clear. No carry crosses bytes.
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// The 8 bytes at `at` as a word whose first byte is the lowest.
fn word_at(b: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(word)
}

/// The offset of the first `byte` in `b` from `from` on. Lines are short, so eight bytes
/// at a time in a register beat a vectorised search's setup.
fn find_byte(b: &[u8], from: usize, byte: u8) -> Option<usize> {
    let mut i = from;
    while i + 8 <= b.len() {
        let found = bytes_equal(word_at(b, i), byte);
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..].iter().position(|&c| c == byte).map(|p| i + p)
}

/// The offset of the `\n` that ends the line at `start`, or the length of `b`.
fn line_end(b: &[u8], start: usize) -> usize {
    find_byte(b, start, b'\n').unwrap_or(b.len())
}

/// Where the next byte of [`OPENERS`] is, found with two vectorised searches that run far
/// ahead of the line being read and are repeated only once a line reaches what they found.
#[derive(Default)]
struct NextOpener {
    /// The next `"`, `'` or `[` from where it was last looked for (or the end of the text).
    quote_or_bracket: usize,
    /// The next `{`, `|` or `>`.
    brace_or_block: usize,
}

impl NextOpener {
    /// The offset of the first byte of [`OPENERS`] at or after `from`, or the length of `b`.
    /// `from` never goes back between calls.
    fn from(&mut self, b: &[u8], from: usize) -> usize {
        let next = |found: Option<usize>| found.map_or(b.len(), |i| from + i);
        if self.quote_or_bracket < from {
            self.quote_or_bracket = next(memchr::memchr3(b'"', b'\'', b'[', &b[from..]));
        }
        if self.brace_or_block < from {
            self.brace_or_block = next(memchr::memchr3(b'{', b'|', b'>', &b[from..]));
        }
        self.quote_or_bracket.min(self.brace_or_block)
    }
}

/// Whether [`opens`] surely finds nothing that runs on in `line` (one line's content,
/// without its indentation or `\r`). It walks the same node starts, but searches plain
/// text only for the next `: `, eight bytes at a time; it does not stop at a comment, so it
/// may leave a line to [`opens`] that needed none, never the other way round.
fn surely_plain(line: &[u8]) -> bool {
    let blank = |c: u8| c == b' ' || c == b'\t';
    let mut i = 0;
    loop {
        while i < line.len() && blank(line[i]) {
            i += 1;
        }
        let Some(&c) = line.get(i) else {
            return true;
        };
        match c {
            b'-' | b'?' | b':' if line.get(i + 1).is_none_or(|&n| blank(n)) => i += 1,
            b'#' => return true,
            b'"' | b'\'' => {
                let Some(end) = close_quote(line, i) else {
                    return false;
                };
                i = end;
                while i < line.len() && blank(line[i]) {
                    i += 1;
                }
                if line.get(i) != Some(&b':') || !line.get(i + 1).is_none_or(|&n| blank(n)) {
                    return true;
                }
                i += 1;
            }
            b'|' | b'>' | b'[' | b'{' | b'&' | b'!' => return false,
            _ => match next_key_colon(line, i) {
                Some(colon) => i = colon + 1,
                None => return true,
            },
        }
    }
}

/// The first colon from `from` on that is followed by a blank or the end of `line`.
fn next_key_colon(line: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let colon = find_byte(line, from, b':')?;
        if line.get(colon + 1).is_none_or(|&n| n == b' ' || n == b'\t') {
            return Some(colon);
        }
        from = colon + 1;
    }
}

/// The bytes that can open something that runs on to later lines: quotes, flow
/// collections and block scalar indicators.
const OPENERS: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    let openers = b"\"'[{|>";
    while i < openers.len() {
        table[openers[i] as usize] = true;
        i += 1;
    }
    table
};

/// What a line starts that may continue on the following lines.
#[derive(Debug, PartialEq, Eq)]
enum Opens {
    Nothing,
    /// A block scalar (`|`, `>`): its text follows on deeper lines.
    Block,
    /// A quoted scalar or flow collection that does not end on this line (or a line this
    /// reading is not sure about).
    Unclosed,
}

/// Walks the nodes of one line (`- `, `? `, keys, anchors and tags before a value) and says
/// whether the last one runs on. Quotes and brackets inside plain scalars do not count.
fn opens(trimmed: &str) -> Opens {
    let b = trimmed.as_bytes();
    let blank = |c: u8| c == b' ' || c == b'\t';
    let mut i = 0;
    'node: loop {
        while i < b.len() && blank(b[i]) {
            i += 1;
        }
        let Some(&c) = b.get(i) else {
            return Opens::Nothing;
        };
        match c {
            b'-' | b'?' | b':' if b.get(i + 1).is_none_or(|&n| blank(n)) => i += 1,
            b'#' => return Opens::Nothing,
            b'|' | b'>' => return Opens::Block,
            b'&' | b'!' => {
                while i < b.len() && !blank(b[i]) {
                    i += 1;
                }
            }
            b'"' | b'\'' => {
                let Some(end) = close_quote(b, i) else {
                    return Opens::Unclosed;
                };
                i = end;
                while i < b.len() && blank(b[i]) {
                    i += 1;
                }
                // A quoted key goes on to its value; anything else ends the line's nodes.
                if b.get(i) == Some(&b':') && b.get(i + 1).is_none_or(|&n| blank(n)) {
                    i += 1;
                    continue 'node;
                }
                return Opens::Nothing;
            }
            b'[' | b'{' => {
                return if flow_closes(b, i) {
                    Opens::Nothing
                } else {
                    Opens::Unclosed
                };
            }
            _ => {
                // A plain scalar, or a plain key whose value follows its `: `.
                while i < b.len() {
                    if b[i] == b':' && b.get(i + 1).is_none_or(|&n| blank(n)) {
                        i += 1;
                        continue 'node;
                    }
                    if b[i] == b'#' && i > 0 && blank(b[i - 1]) {
                        return Opens::Nothing;
                    }
                    i += 1;
                }
                return Opens::Nothing;
            }
        }
    }
}

/// The offset just after the quoted scalar opening at `start`, if it closes on this line.
fn close_quote(b: &[u8], start: usize) -> Option<usize> {
    let quote = b[start];
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if quote == b'"' => i += 2,
            c if c == quote => {
                if quote == b'\'' && b.get(i + 1) == Some(&b'\'') {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Whether the flow collection opening at `start` closes on this line.
fn flow_closes(b: &[u8], start: usize) -> bool {
    let mut depth = 0usize;
    let mut i = start;
    // Quotes open a scalar only where a node starts: after `[`, `{`, `,`, `:` or `?`.
    let mut node_start = true;
    while i < b.len() {
        let c = b[i];
        match c {
            b'[' | b'{' => {
                depth += 1;
                node_start = true;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return true;
                }
                node_start = false;
            }
            b',' | b':' | b'?' => node_start = true,
            b'"' | b'\'' if node_start => match close_quote(b, i) {
                Some(end) => {
                    i = end;
                    node_start = false;
                    continue;
                }
                None => return false,
            },
            b'#' if i > 0 && (b[i - 1] == b' ' || b[i - 1] == b'\t') => return false,
            b' ' | b'\t' => {}
            _ => node_start = false,
        }
        i += 1;
    }
    false
}

/// Where a scalar goes in the header.
#[derive(Clone, Copy)]
enum Slot<'k> {
    ApiVersion,
    Kind,
    Name,
    Namespace,
    Label(&'k str),
    Annotation(&'k str),
    Selector(&'k str),
}

fn record(header: &mut Header, slot: Option<Slot<'_>>, value: Option<String>) {
    let Some(slot) = slot else { return };
    match (slot, value) {
        (Slot::ApiVersion, v) => header.api_version = v,
        (Slot::Kind, v) => header.kind = v,
        (Slot::Name, v) => header.name = v,
        (Slot::Namespace, v) => header.namespace = v,
        (Slot::Label(k), Some(v)) => {
            header.labels.insert(k.to_string(), v);
        }
        (Slot::Annotation(k), Some(v)) => {
            header.annotations.insert(k.to_string(), v);
        }
        (Slot::Selector(k), Some(v)) => {
            header.selector.insert(k.to_string(), v);
        }
        _ => {}
    }
}

fn is_sequence_entry(trimmed: &str) -> bool {
    trimmed == "-" || trimmed.starts_with("- ")
}

enum RawValue<'a> {
    /// Nothing after the colon: the value is on the following lines (or null).
    Nested,
    EmptyFlowMap,
    Scalar(Cow<'a, str>),
    /// Something only a parser can read (block scalar, flow collection, anchor, alias, tag).
    Complex,
}

/// Splits `key: value` into the key and what follows; `None` when the line is no simple entry.
fn split_entry(line: &str) -> Option<(Cow<'_, str>, RawValue<'_>)> {
    let (key, rest) = match line.chars().next()? {
        '"' | '\'' => {
            let (key, len) = quoted(line)?;
            let rest = line[len..].strip_prefix(':')?;
            (key, rest)
        }
        '-' | '?' | ':' | ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '%'
        | '@' | '`' => return None,
        _ => {
            let colon = next_key_colon(line.as_bytes(), 0)?;
            let key = &line[..colon];
            if has_pair(key, b' ', b'#') || key.ends_with([' ', '\t']) {
                return None;
            }
            (Cow::Borrowed(key), &line[colon + 1..])
        }
    };
    if key == "<<" {
        return None;
    }
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let rest = rest.trim_start_matches([' ', '\t']);
    if rest.is_empty() || rest.starts_with('#') {
        return Some((key, RawValue::Nested));
    }
    let value = match rest.chars().next()? {
        '"' | '\'' => {
            let (value, len) = quoted(rest)?;
            let tail = rest[len..].trim_start_matches([' ', '\t']);
            if !(tail.is_empty() || (tail.starts_with('#') && len < rest.len())) {
                return None;
            }
            RawValue::Scalar(value)
        }
        '{' if strip_comment(rest) == "{}" => RawValue::EmptyFlowMap,
        '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`' | ',' | '?' | '-' => {
            if rest.starts_with('-') && !rest.starts_with("- ") && rest != "-" {
                plain(rest)?
            } else {
                RawValue::Complex
            }
        }
        _ => plain(rest)?,
    };
    Some((key, value))
}

fn plain(rest: &str) -> Option<RawValue<'_>> {
    let value = strip_comment(rest);
    if has_pair(value, b':', b' ') || value.ends_with(':') || value.as_bytes().contains(&b'\t') {
        return None;
    }
    // Plain scalars that YAML may read as something other than a string (null, booleans,
    // numbers) are resolved by a parser.
    let maybe_not_string = matches!(
        value,
        "~" | "null"
            | "Null"
            | "NULL"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    ) || value
        .starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.'));
    if maybe_not_string {
        return Some(RawValue::Complex);
    }
    Some(RawValue::Scalar(Cow::Borrowed(value)))
}

/// Whether `a` is directly followed by `b` somewhere in `s` (cheaper than a substring search
/// on the short strings this module looks at, where `a` is rare: a blank in a key, a colon
/// in a value).
fn has_pair(s: &str, a: u8, b: u8) -> bool {
    let s = s.as_bytes();
    let mut from = 0;
    while let Some(i) = find_byte(s, from, a) {
        if s.get(i + 1) == Some(&b) {
            return true;
        }
        from = i + 1;
    }
    false
}

fn strip_comment(rest: &str) -> &str {
    // `#` and blanks are ASCII, so bytes find them where characters would.
    let b = rest.as_bytes();
    let mut end = b.len();
    let mut from = 1;
    while let Some(i) = find_byte(b, from.min(b.len()), b'#') {
        if matches!(b[i - 1], b' ' | b'\t') {
            end = i;
            break;
        }
        from = i + 1;
    }
    rest[..end].trim_end_matches([' ', '\t'])
}

/// Reads a quoted scalar that closes on this line: its value and its length in bytes.
fn quoted(text: &str) -> Option<(Cow<'_, str>, usize)> {
    let quote = text.chars().next()?;
    // Common case: no escapes, so the value borrows from the line.
    if let Some(close) = text[1..].find(quote) {
        let inner = &text[1..1 + close];
        let escaped = match quote {
            '\'' => text[2 + close..].starts_with('\''),
            _ => inner.contains('\\'),
        };
        if !escaped {
            return Some((Cow::Borrowed(inner), close + 2));
        }
    }
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            ('\'', '\'') => {
                if text[i + 1..].starts_with('\'') {
                    out.push('\'');
                    chars.next();
                } else {
                    return Some((Cow::Owned(out), i + 1));
                }
            }
            ('"', '"') => return Some((Cow::Owned(out), i + 1)),
            ('"', '\\') => match chars.next()?.1 {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                '/' => out.push('/'),
                _ => return None,
            },
            _ => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parsed(text: &str) -> Header {
        let value: Value = serde_norway::from_str(text).expect("test documents are valid YAML");
        Header::from_value(&value).expect("test documents are mappings")
    }

    #[track_caller]
    fn agrees(text: &str) -> Header {
        let sniffed = sniff(text).expect("sniff should read this document");
        assert_eq!(
            sniffed,
            parsed(text),
            "sniff and parse disagree on:\n{text}"
        );
        sniffed
    }

    #[test]
    fn reads_kind_name_labels_annotations() {
        let h = agrees(
            "---\n# Source: x\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: \"web\"\n  namespace: 'prod'\n  labels:\n    app.kubernetes.io/instance: shop # release\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'shop/templates/d.yaml'\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n      name: not-this\n    spec:\n      containers:\n      - name: app\n        image: x\n",
        );
        assert_eq!(h.kind.as_deref(), Some("Deployment"));
        assert_eq!(h.name.as_deref(), Some("web"));
        assert_eq!(h.namespace.as_deref(), Some("prod"));
        assert_eq!(h.filename(), Some("shop/templates/d.yaml"));
        assert_eq!(h.selector.get("app"), Some("web"));
    }

    #[test]
    fn reads_service_selectors() {
        let h = agrees(
            "kind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n",
        );
        assert_eq!(h.selector.len(), 1);
    }

    #[test]
    fn block_scalars_inside_skipped_values_do_not_confuse_it() {
        let h = agrees(
            "kind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  f: |\n    kind: Secret\n    metadata:\n      name: nope\n",
        );
        assert_eq!(h.kind.as_deref(), Some("ConfigMap"));
        assert_eq!(h.name.as_deref(), Some("cm"));
    }

    #[test]
    fn gives_up_on_what_only_a_parser_can_read() {
        for text in [
            "kind: &k Deployment\n",
            "kind: !!str Deployment\n",
            "{kind: Deployment}\n",
            "- a\n- b\n",
            "metadata:\n  name: a\n    b\n",
            "metadata: {name: a}\n",
            "kind: A\nkind: B\n",
            "metadata:\n  <<: *base\n",
            "kind: \"unterminated\n",
            "metadata:\n\tname: a\n",
            "spec:\n  selector:\n    matchExpressions:\n    - key: a\n",
            "--- kind: A\n",
            "metadata:\n  name: |\n    a\n",
            "kind: Deployment\n  extra: 1\n",
        ] {
            assert_eq!(sniff(text), Err(Unsure), "should give up on:\n{text}");
        }
    }

    #[test]
    fn multi_line_scalars_and_flow_collections_in_skipped_values_go_to_the_parser() {
        // A quoted scalar or flow collection may continue on less indented lines, where
        // they look like keys of the mapping around them.
        for text in [
            "kind: Secret\nmetadata:\n  finalizers:\n  - \"multi\n  name: rotated-by-vault\"\n",
            "kind: Secret\nmetadata:\n  finalizers:\n  - 'it''s\n  name: rotated-by-vault'\n",
            "kind: Secret\nmetadata:\n  x:\n    y: \"a \\\" b\n  name: rotated-by-vault\"\n",
            "kind: Secret\nmetadata:\n  x: [a,\n  name: b]\n",
            "kind: Secret\nmetadata:\n  x:\n    - {a: \"b\",\n  name: c}\n",
            "kind: Secret\nmetadata:\n  x:\n    y: &a \"b\n  name: c\"\n",
        ] {
            let value: Value = serde_norway::from_str(text).expect("valid YAML");
            let parsed = Header::from_value(&value).expect("a mapping");
            assert!(
                sniff(text).is_err() || sniff(text) == Ok(parsed.clone()),
                "sniff read {:?} but the parser {:?} in:\n{text}",
                sniff(text),
                parsed
            );
        }
        // Quotes and brackets inside block scalars and plain text do not matter.
        agrees(
            "kind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  run.sh: |\n    echo \"it's\n    [ -n x\n  note: it's plain, [not] \"flow\"\n",
        );
        agrees(
            "kind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: \"closed\" # it's\n  b:\n  - ['x', \"y\", {z: 1}]\n",
        );
    }

    #[test]
    fn an_empty_mapping_value_does_not_swallow_the_next_key() {
        // Found by the yaml_shapes fuzz target.
        agrees("  metadata:\n  \"kind\": x\n");
        let h = agrees(
            "kind: Secret\nmetadata:\n  name: db\n  labels:\n  annotations:\n    helm.sh/hook: pre-install\n",
        );
        assert!(
            h.is_hook(),
            "the hook annotation after an empty labels key is read"
        );
    }

    /// The scanner as it was before [`Scanner::skip_run`]: every line on its own, skipped
    /// lines through [`Scanner::skip`] (which checks every byte for an opener first). The
    /// fast path must answer exactly as this does, `Unsure` included.
    fn sniff_line_by_line(text: &str, malformed: bool) -> Result<Header, Unsure> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut header = Header::default();
        let mut scanner = Scanner {
            malformed,
            ..Scanner::default()
        };
        for line in text.split('\n') {
            if let Some(limit) = scanner.skip_deeper_than
                && scanner.pending_scalar.is_none()
                && line.len() > limit
                && line.as_bytes()[..=limit].iter().all(|&b| b == b' ')
            {
                scanner.skip(line.strip_suffix('\r').unwrap_or(line))?;
                continue;
            }
            scanner.line(line.strip_suffix('\r').unwrap_or(line), &mut header)?;
        }
        Ok(header)
    }

    /// Pieces of lines inside values: node indicators, keys, quoted, plain and flow
    /// scalars that close or run on, block indicators, comments, tabs, `\r` and non-ASCII.
    const PIECES: &[&str] = &[
        "- ", "-", "? ", ": ", ":", "key: ", "k:", "a:b ", "\"", "'", "''", "\\\"", "\"q\" ",
        "'s' ", "\"k\": ", "[", "]", "{", "}", ", ", "|", "|-", ">", "&a ", "!t ", "*a", "# ",
        " #", "#", " ", "  ", "\t", "\r", "plain", "x y", "é", "--- ", "...", "value",
    ];

    fn skipped_line() -> impl Strategy<Value = String> {
        (
            0usize..10,
            proptest::collection::vec(proptest::sample::select(PIECES), 0..8),
            proptest::bool::ANY,
        )
            .prop_map(|(indent, pieces, crlf)| {
                let mut line = " ".repeat(indent);
                line.extend(pieces);
                if crlf {
                    line.push('\r');
                }
                line
            })
    }

    /// Documents whose skipped values hold every kind of line above, around keys the
    /// scanner reads.
    fn document() -> impl Strategy<Value = String> {
        const HEAD: &[&str] = &[
            "kind: Secret",
            "metadata:",
            "  name: db",
            "  labels:",
            "    app.kubernetes.io/instance: shop",
            "  annotations:",
            "    helm.sh/hook: pre-install",
            "  finalizers:",
            "  x:",
            "data:",
            "  f: |",
            "  g: >-",
            "spec:",
            "  selector:",
            "    app: web",
            "  template:",
            "# comment",
            "",
        ];
        proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(HEAD).prop_map(str::to_string),
                skipped_line(),
                skipped_line(),
            ],
            0..24,
        )
        .prop_map(|lines| lines.join("\n"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        #[test]
        fn the_fast_skip_answers_as_the_line_by_line_scan(text in document()) {
            for malformed in [false, true] {
                prop_assert_eq!(
                    sniff_with(&text, malformed),
                    sniff_line_by_line(&text, malformed),
                    "malformed: {}, text:\n{}",
                    malformed,
                    text
                );
            }
        }

        #[test]
        fn surely_plain_lines_open_nothing(line in skipped_line()) {
            let line = line.trim_start_matches(' ').trim_end_matches('\r');
            if surely_plain(line.as_bytes()) {
                prop_assert_eq!(opens(line), Opens::Nothing, "line: {:?}", line);
            }
        }

        #[test]
        fn find_byte_finds_the_first(
            bytes in proptest::collection::vec(proptest::sample::select(b"a:\n ".as_slice()), 0..40),
            from in 0usize..40,
        ) {
            let from = from.min(bytes.len());
            for byte in [b':', b'\n'] {
                prop_assert_eq!(
                    find_byte(&bytes, from, byte),
                    bytes[from..].iter().position(|&c| c == byte).map(|p| from + p)
                );
            }
        }
    }

    #[test]
    fn a_selector_mixing_match_labels_with_plain_keys_goes_to_the_parser() {
        // Found by the yaml_shapes fuzz target: a selector with matchLabels or
        // matchExpressions is read from those alone, and a scalar there selects nothing.
        for text in [
            "spec:\n   selector:\n      matchExpressions: rotated-by-vault\"\n",
            "spec:\n  selector:\n    app: web\n    matchLabels:\n      x: y\n",
            "spec:\n  selector:\n    matchLabels:\n      x: y\n    app: web\n",
            "spec:\n  selector:\n    app: web\n    matchLabels: {}\n",
            "spec:\n  selector:\n    matchLabels: x\n",
        ] {
            assert_eq!(sniff(text), Err(Unsure), "should give up on:\n{text}");
        }
        let h = agrees("spec:\n  selector:\n    matchLabels:\n      x: y\n  template:\n    a: b\n");
        assert_eq!(
            h.selector.get("x"),
            Some("y"),
            "plain matchLabels are still read"
        );
    }

    #[test]
    fn null_like_values_are_left_to_the_parser() {
        assert_eq!(sniff("kind: ~\n"), Err(Unsure));
    }

    #[test]
    fn from_value_reads_match_expressions() {
        let h = parsed(
            "spec:\n  selector:\n    matchExpressions:\n    - {key: a, operator: In, values: [x]}\n",
        );
        assert_eq!(h.selector_expressions.len(), 1);
        assert_eq!(h.selector_expressions[0].values, ["x"]);
    }

    #[test]
    fn from_value_refuses_non_mappings() {
        let value: Value = serde_norway::from_str("- a").unwrap();
        assert_eq!(
            Header::from_value(&value),
            Err("expected a mapping, found a sequence".to_string())
        );
    }
}
