//! Where a key path (`deploy_jobs[1].when.production`) is in a values file the user wrote,
//! so that an error can point at it with line, column and a caret, as compilers do. Values
//! files are block-style YAML almost always; the walk follows indentation and `- ` items,
//! and where it cannot follow (flow style, anchors) it points at the deepest key it found.

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, rest) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            out.push(Step::Key(key.to_string()));
        }
        for index in rest.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                out.push(Step::Index(i));
            }
        }
    }
    out
}

/// The nodes a line starts: `  - name: x` is a `- ` item at column 2 and a key at column 4.
fn nodes(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut col = line.len() - line.trim_start_matches(' ').len();
    let mut rest = &line[col..];
    out.push((col, rest));
    while let Some(after) = rest.strip_prefix("- ").or_else(|| rest.strip_prefix("? ")) {
        let pad = after.len() - after.trim_start_matches(' ').len();
        col += 2 + pad;
        rest = &after[pad..];
        out.push((col, rest));
    }
    out
}

fn is_key(content: &str, key: &str) -> bool {
    [key.to_string(), format!("\"{key}\""), format!("'{key}'")]
        .iter()
        .any(|k| {
            content
                .strip_prefix(k.as_str())
                .is_some_and(|r| r.starts_with(':'))
        })
}

/// The 1-based line and column of `path` in `text`, or of the deepest step of it found (a
/// key the user left out is pointed at through its parent).
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = None;
    // The block being searched: lines from `start`, nodes right of `parent` (a column).
    let mut start = 0;
    let mut parent: Option<usize> = None;
    // Whether the parent is a key (whose list may start at its own column).
    let mut after_key = false;
    for step in steps(path) {
        let mut hit = None;
        let mut seen = 0;
        for (l, line) in lines.iter().enumerate().skip(start) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let nodes = nodes(line);
            // A sequence may sit at its key's own column (`deploy_jobs:` then `- name:`).
            let indentless = matches!(step, Step::Index(_)) && nodes[0].1.starts_with('-');
            let inside = |col: usize| {
                parent.is_none_or(|p| col > p || (indentless && col == p && after_key))
            };
            // A line that starts at or left of the parent has left its block (the parent's
            // own line, when it holds the first child after `- `, excepted).
            if l > start && !inside(nodes[0].0) {
                break;
            }
            let candidate = match &step {
                Step::Key(key) => nodes
                    .iter()
                    .find(|(c, content)| inside(*c) && is_key(content, key))
                    .map(|(c, _)| *c),
                Step::Index(i) => nodes
                    .iter()
                    .find(|(c, content)| inside(*c) && content.starts_with('-'))
                    .and_then(|(c, _)| {
                        seen += 1;
                        (seen == i + 1).then_some(*c)
                    }),
            };
            if let Some(col) = candidate {
                hit = Some((l, col));
                break;
            }
        }
        let Some((l, col)) = hit else { break };
        found = Some((l + 1, col + 1));
        after_key = matches!(step, Step::Key(_));
        start = l;
        parent = Some(col);
    }
    found
}

/// `file:line:col: message`, then the line and a caret under the column, when the path is
/// found; `file: message` otherwise.
pub fn point(file: &str, text: &str, path: &str, message: &str) -> String {
    let Some((line, col)) = locate(text, path) else {
        return format!("{file}: {message}");
    };
    let source = text.lines().nth(line - 1).unwrap_or_default();
    let gutter = " ".repeat(line.to_string().len());
    format!(
        "{file}:{line}:{col}: {message}\n{gutter} |\n{line} | {source}\n{gutter} | {}^",
        " ".repeat(col - 1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUES: &str = "\
image:
  tag: 1.0
# the jobs
deploy_jobs:
  - name: migrate
    image: x
  - name: seed
    command: [a]
    when:
      production: post-upgrade
      _default: ''
    exclusive: everything
other: 1
";

    #[test]
    fn paths_are_found_at_their_key() {
        for (path, at) in [
            ("deploy_jobs", (4, 1)),
            ("deploy_jobs[0]", (5, 3)),
            ("deploy_jobs[0].name", (5, 5)),
            ("deploy_jobs[1].name", (7, 5)),
            ("deploy_jobs[1].when.production", (10, 7)),
            ("deploy_jobs[1].exclusive", (12, 5)),
            ("image.tag", (2, 3)),
        ] {
            assert_eq!(locate(VALUES, path), Some(at), "{path}");
        }
    }

    #[test]
    fn a_list_at_its_keys_own_column_is_followed() {
        let text = "deploy_jobs:\n- name: a\n- name: b\n  when: x\nother:\n- 1\n";
        assert_eq!(locate(text, "deploy_jobs[1].when"), Some((4, 3)));
        assert_eq!(
            locate(text, "deploy_jobs[2]"),
            Some((1, 1)),
            "the list ends at `other`"
        );
    }

    #[test]
    fn a_key_of_another_item_or_block_is_not_taken_the_parent_is() {
        assert_eq!(
            locate(VALUES, "deploy_jobs[0].exclusive"),
            Some((5, 3)),
            "item 0 has none"
        );
        assert_eq!(locate(VALUES, "deploy_jobs[2]"), Some((4, 1)), "two items");
        assert_eq!(
            locate(VALUES, "deploy_jobs[1].tag"),
            Some((7, 3)),
            "tag is image's"
        );
        assert_eq!(locate(VALUES, "jobs"), None);
        assert_eq!(
            locate("deploy_jobs: [{name: x}]\n", "deploy_jobs[0].name"),
            Some((1, 1))
        );
    }

    #[test]
    fn the_caret_sits_under_the_key() {
        let text = point(
            "values.yaml",
            VALUES,
            "deploy_jobs[1].exclusive",
            "deploy_jobs[1].exclusive: bad",
        );
        assert_eq!(
            text,
            "values.yaml:12:5: deploy_jobs[1].exclusive: bad\n   |\n12 |     exclusive: everything\n   |     ^"
        );
        assert_eq!(point("v.yaml", VALUES, "nothing.here", "m"), "v.yaml: m");
    }
}
