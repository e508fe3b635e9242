//! Writes generated objects as YAML that reads back the same under YAML 1.1 and 1.2.
//!
//! serde_norway quotes a string only when its own YAML 1.2 resolver would read it as
//! something else, but Helm, kubectl, Argo CD and the API server read YAML with Go's YAML
//! 1.1 resolver (sigs.k8s.io/yaml on go-yaml v2), where plain `off`, `y`, `1_000`,
//! `0b101`, `190:20:30` or `2001-12-14` are not strings. Every generated document goes
//! through [`to_string`], which writes a string plain only when it is certain that no YAML
//! reader takes it for anything but that string, and quotes everything else, keys included.
//! The layout (block style, indentless sequences under a key, literal blocks for multi-line
//! text, no line folding) is serde_norway's, so only the quoting differs.
//!
//! Numbers, booleans and null copied from the user's manifests are written by serde_norway
//! itself; they mean the same in both versions.

use std::fmt::Write as _;

use serde_norway::Value;
use serde_norway::value::TaggedValue;

/// The YAML text of one document (no `---` line), ending with a line break.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Mapping(m) if !m.is_empty() => mapping(&mut out, m, 0),
        Value::Sequence(s) if !s.is_empty() => sequence(&mut out, s, 0),
        other => {
            out.push_str(&inline(other, 0));
            out.push('\n');
        }
    }
    out
}

/// Whether a string may be written without quotes: plain scalars that every YAML 1.1 and
/// 1.2 reader resolves to this very string, and that need no escaping in block context.
/// Deliberately narrow: anything it is not sure about is quoted, which costs two characters.
pub fn plain_is_safe(s: &str) -> bool {
    let bytes = s.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    // A leading `-` only for options (`-c`, `--force`): a letter must follow the dashes.
    let option = first == b'-'
        && bytes
            .iter()
            .find(|&&b| b != b'-')
            .is_some_and(u8::is_ascii_alphabetic);
    if !(first.is_ascii_alphanumeric() || first == b'/' || first == b'_' || option) || last == b' '
    {
        return false;
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-_./:=@+,$() ".contains(&b);
    if !bytes.iter().all(|&b| allowed(b)) || last == b':' || s.contains(": ") {
        return false;
    }
    // YAML 1.1 booleans and nulls (1.2's are among them), in any case.
    const WORDS: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null"];
    if WORDS.iter().any(|w| s.eq_ignore_ascii_case(w)) {
        return false;
    }
    // Numbers of every base, with underscores, sexagesimal, floats with exponents and
    // timestamps all start with a digit and use only these characters; a string made of
    // them alone is quoted (`500m` or `10Gi` are not).
    let numeric = |b: u8| b.is_ascii_hexdigit() || b"xXoO_.:+- tTzZ".contains(&b);
    !(first.is_ascii_digit() && bytes.iter().all(|&b| numeric(b)))
}

fn mapping(out: &mut String, m: &serde_norway::Mapping, indent: usize) {
    for (k, v) in m {
        pad(out, indent);
        key(out, k, indent);
        value_after_key(out, v, indent);
    }
}

/// `key:` (simple keys) or `? key` then `:` on its own line (keys that are collections or
/// too long for a simple key).
fn key(out: &mut String, k: &Value, indent: usize) {
    let simple = match k {
        Value::String(s) => s.chars().count() <= 1000,
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => false,
        _ => true,
    };
    if simple {
        match k {
            Value::String(s) => out.push_str(&quoted_inline(s)),
            other => out.push_str(&inline(other, indent)),
        }
        out.push(':');
    } else {
        out.push_str("? ");
        node_after_indicator(out, k, indent + 2);
        pad(out, indent);
        out.push(':');
    }
}

/// The value of a mapping entry, after its `key:`.
fn value_after_key(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            out.push('\n');
            mapping(out, m, indent + 2);
        }
        // serde_norway (libyaml) writes a sequence under a key at the key's own indentation.
        Value::Sequence(s) if !s.is_empty() => {
            out.push('\n');
            sequence(out, s, indent);
        }
        Value::Tagged(t) => {
            out.push(' ');
            tagged(out, t, indent + 2);
        }
        Value::String(s) if literal_is_safe(s) => {
            out.push(' ');
            literal(out, s, indent + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other, indent));
            out.push('\n');
        }
    }
}

fn sequence(out: &mut String, s: &[Value], indent: usize) {
    for item in s {
        pad(out, indent);
        out.push_str("- ");
        node_after_indicator(out, item, indent + 2);
    }
}

/// A node after `- ` or `? `, whose content sits at `indent`: a collection starts on the same
/// line, as libyaml writes it.
fn node_after_indicator(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Mapping(m) if !m.is_empty() => {
            let mut first = true;
            for (k, v) in m {
                if !first {
                    pad(out, indent);
                }
                first = false;
                key(out, k, indent);
                value_after_key(out, v, indent);
            }
        }
        Value::Sequence(s) if !s.is_empty() => {
            let mut first = true;
            for item in s {
                if !first {
                    pad(out, indent);
                }
                first = false;
                out.push_str("- ");
                node_after_indicator(out, item, indent + 2);
            }
        }
        Value::Tagged(t) => tagged(out, t, indent),
        Value::String(s) if literal_is_safe(s) => literal(out, s, indent),
        other => {
            out.push_str(&inline(other, indent));
            out.push('\n');
        }
    }
}

/// `!tag value`, the value inline or as a block below.
fn tagged(out: &mut String, t: &TaggedValue, indent: usize) {
    out.push_str(&t.tag.to_string());
    match &t.value {
        Value::Mapping(m) if !m.is_empty() => {
            out.push('\n');
            mapping(out, m, indent);
        }
        Value::Sequence(s) if !s.is_empty() => {
            out.push('\n');
            sequence(out, s, indent);
        }
        Value::String(s) if literal_is_safe(s) => {
            out.push(' ');
            literal(out, s, indent);
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other, indent));
            out.push('\n');
        }
    }
}

/// A scalar, an empty collection, or a tagged scalar on one line.
fn inline(v: &Value, indent: usize) -> String {
    match v {
        Value::String(s) => quoted_inline(s),
        Value::Mapping(_) => "{}".to_string(),
        Value::Sequence(_) => "[]".to_string(),
        Value::Tagged(t) => {
            let mut out = String::new();
            tagged(&mut out, t, indent);
            out.trim_end_matches('\n').to_string()
        }
        // Null, booleans and numbers: serde_norway's own spelling (`null`, `true`, `1.5`,
        // `.inf`), which every YAML version reads the same.
        scalar => serde_norway::to_string(scalar)
            .map(|s| s.trim_end_matches('\n').to_string())
            .unwrap_or_else(|_| "null".to_string()),
    }
}

/// A string on one line: plain when safe, else single-quoted, else double-quoted with
/// escapes (line breaks, control characters and the like).
fn quoted_inline(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_string()
    } else if s.chars().all(printable) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        double_quoted(s)
    }
}

/// Characters YAML allows unescaped in a quoted or block scalar (no tabs: libyaml escapes
/// them too).
fn printable(c: char) -> bool {
    matches!(c, ' '..='~')
        || (c >= '\u{a0}'
            && !matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            ))
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Multi-line text that a literal block holds exactly with `|` or `|-`: printable, no
/// leading space or line break (that would need an indentation indicator), no space at a
/// line's end (libyaml refuses it), at most one final line break.
fn literal_is_safe(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\n'])
        && !s.ends_with("\n\n")
        && !s.ends_with(' ')
        && !s.contains(" \n")
        && s.chars().all(|c| c == '\n' || printable(c))
}

fn literal(out: &mut String, s: &str, indent: usize) {
    let body = match s.strip_suffix('\n') {
        Some(body) => {
            out.push_str("|\n");
            body
        }
        None => {
            out.push_str("|-\n");
            s
        }
    };
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(yaml: &str) -> String {
        let value: Value = serde_norway::from_str(yaml).unwrap();
        let text = to_string(&value);
        let back: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(back, value, "{text}");
        text
    }

    #[test]
    fn quotes_what_yaml_1_1_reads_as_something_else() {
        for s in [
            "off",
            "On",
            "Y",
            "n",
            "NO",
            "yes",
            "~",
            "null",
            "",
            "1_000",
            "0b101",
            "0o17",
            "0x1F",
            "017",
            "190:20:30",
            "1e5",
            "2001-12-14",
            "2001-12-14 21:59:43.10 -5",
            "<<",
            "=",
            ".inf",
            "-.Inf",
            ".NaN",
            "1.4.2",
            "+1",
            "-",
            "-1",
            "--",
            "-.5",
            " a",
            "a ",
            "a: b",
            "a #b",
            "x:",
        ] {
            assert!(!plain_is_safe(s), "{s:?} must be quoted");
        }
        for s in [
            "shop",
            "/app/shop",
            "ghcr.io/example/shop:1.4.2",
            "500m",
            "10Gi",
            "a b",
            "-c",
            "--force",
        ] {
            assert!(plain_is_safe(s), "{s:?} may stay plain");
        }
    }

    #[test]
    fn keeps_serde_norways_layout() {
        let text = "a:\n  b: 1\n  c:\n  - d: x\n    e:\n    - 1\n  - - x\n    - z\n  f: |\n    one\n    two\n  g: |-\n    x\n\n    y\nh: []\ni: {}\nj: null\n";
        assert_eq!(round_trip(text), text);
    }

    #[test]
    fn keys_and_odd_strings_read_back() {
        round_trip("'off': 'yes'\n'1_000': \"a\\tb\"\n\"x\\ny\": \"  lead\\n\"\n? [a]\n: b\n");
        round_trip("a: \"\\u2028 \\x01 é ' \\\" \\\\\"\n");
    }
}
