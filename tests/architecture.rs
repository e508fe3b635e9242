//! The crate's layers, held against the code (as rust-analyzer's `tidy` does): every `crate::`
//! and `super::` path in `src/` outside its tests is read, resolved to the module it names,
//! and checked against ARCHITECTURE.md's rules:
//!
//! 1. A layer never imports one above it.
//! 2. Planning never names a concrete strategy (ripgrep's searcher never names a printer).
//! 3. Strategies do not import each other, except Argo CD wrapping hooks.
//! 4. Only the pipeline picks a strategy: no other module outside the strategies names one.
//!
//! A file that no rule places fails the test too, so a new module must be given a layer.

use std::fs;
use std::path::Path;

/// Layers, lowest first, and the modules in each (a module's submodules go with it).
const LAYERS: &[(&str, &[&str])] = &[
    (
        "vocabulary",
        &[
            "facts",
            "images",
            "helm",
            "k8s",
            "names",
            "yaml",
            "typed",
            "stream",
            "rbac",
            "script",
            "pod_fields",
            "pod_security",
        ],
    ),
    ("input model", &["documents", "header"]),
    ("configuration", &["spec"]),
    ("planning", &["plan", "reuse", "strategy"]),
    (
        "strategies",
        &["strategy::hooks", "strategy::argocd", "strategy::gate"],
    ),
    ("pipeline", &["render"]),
    (
        "edge",
        &[
            "cli", "report", "generate", "schema", "main", "wait", "watch",
        ],
    ),
];

/// The strategies: what rule 2, 3 and 4 protect.
const STRATEGIES: &[&str] = &["strategy::hooks", "strategy::argocd", "strategy::gate"];
/// The one strategy that may use another: Argo CD is hooks with Argo CD's annotations.
const WRAPS: &[(&str, &str)] = &[("strategy::argocd", "strategy::hooks")];
/// Who picks the strategy.
const PIPELINE: &str = "render";

/// The layer of a module path (`strategy::gate::held`), most specific entry first.
fn layer(module: &str) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (i, (_, modules)) in LAYERS.iter().enumerate() {
        for m in *modules {
            let matches = module == *m || module.starts_with(&format!("{m}::"));
            if matches && best.is_none_or(|(len, _)| m.len() > len) {
                best = Some((m.len(), i));
            }
        }
    }
    best.map(|(_, i)| i)
}

fn strategy(module: &str) -> Option<&'static str> {
    STRATEGIES
        .iter()
        .find(|s| module == **s || module.starts_with(&format!("{s}::")))
        .copied()
}

/// `strategy::gate::held` for `src/order/gate/held.rs`, `order` for `src/order/mod.rs`.
fn module_of(path: &Path, src: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without its `#[cfg(test)]` module and its comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module a file's code names: `crate::a::b`, `use crate::{a, b::c}`, `super::x`.
fn imports(code: &str, module: &str) -> Vec<String> {
    let mut out = Vec::new();
    let words: Vec<char> = code.chars().collect();
    let text: String = words.iter().collect();
    let ident = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|p| {
                p.trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|p| !p.is_empty() && p.chars().next().is_some_and(|c| c.is_lowercase()))
            .collect()
    };
    for (start, _) in text.match_indices("crate::") {
        let rest = &text[start + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let path = ident(item);
                if !path.is_empty() {
                    out.push(path.join("::"));
                }
            }
        } else {
            let path = ident(rest);
            if !path.is_empty() {
                out.push(path.join("::"));
            }
        }
    }
    // `super::x` names a sibling of the module: from `strategy::hooks` (hooks.rs or
    // hooks/mod.rs alike) it is `strategy::x`.
    let parent: Vec<&str> = {
        let mut p: Vec<&str> = module.split("::").collect();
        p.pop();
        p
    };
    for (start, _) in text.match_indices("super::") {
        if start >= 2 && &text[start - 2..start] == "::" {
            continue;
        }
        let rest = &text[start + "super::".len()..];
        let items: Vec<Vec<String>> = match rest.strip_prefix('{') {
            Some(group) => group[..group.find('}').unwrap_or(group.len())]
                .split(',')
                .map(ident)
                .collect(),
            None => vec![ident(rest)],
        };
        for path in items {
            let mut full: Vec<String> = parent.iter().map(|s| s.to_string()).collect();
            full.extend(path);
            if !full.is_empty() {
                out.push(full.join("::"));
            }
        }
    }
    // `self::x` inside a mod.rs is a submodule.
    for (start, _) in text.match_indices("self::") {
        if start >= 1 && text[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let path = ident(&text[start + "self::".len()..]);
        if !path.is_empty() {
            out.push(format!("{module}::{}", path.join("::")));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The module a path names: the longest prefix that is a file of the crate.
fn target(path: &str, modules: &[String]) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|p| modules.contains(p))
}

fn violations(files: &[(String, bool, String)]) -> Vec<String> {
    let modules: Vec<String> = files.iter().map(|(m, _, _)| m.clone()).collect();
    let mut out = Vec::new();
    for (module, _, text) in files {
        if module.is_empty() {
            continue; // lib.rs: the root declares every module
        }
        let Some(own) = layer(module) else {
            out.push(format!(
                "{module}: in no layer (add it to LAYERS and ARCHITECTURE.md)"
            ));
            continue;
        };
        for import in imports(&code(text), module) {
            let Some(to) = target(&import, &modules) else {
                continue; // a name the crate root re-exports, or a macro
            };
            if to == *module || to.is_empty() || module.starts_with(&format!("{to}::")) {
                continue;
            }
            let Some(theirs) = layer(&to) else { continue };
            if theirs > own {
                out.push(format!(
                    "{module} ({}) imports {to} ({}): a layer never imports one above it",
                    LAYERS[own].0, LAYERS[theirs].0
                ));
            }
            let (mine, other) = (strategy(module), strategy(&to));
            if let Some(other) = other {
                let allowed = match mine {
                    Some(mine) => mine == other || WRAPS.contains(&(mine, other)),
                    None => module == PIPELINE,
                };
                if !allowed {
                    out.push(format!(
                        "{module} names the strategy {other}: only the pipeline ({PIPELINE}) picks a strategy, and strategies do not import each other (but {:?})",
                        WRAPS
                    ));
                }
            }
        }
    }
    out
}

fn sources() -> Vec<(String, bool, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let is_mod = path.file_stem().is_some_and(|s| s == "mod");
                files.push((
                    module_of(&path, &src),
                    is_mod,
                    fs::read_to_string(&path).unwrap(),
                ));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_import_follows_the_layers() {
    let files = sources();
    assert!(files.len() >= 20, "read the crate's files");
    let found = violations(&files);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn a_forbidden_import_is_caught() {
    // The rule test fails on each kind of forbidden import: an upward one, planning naming
    // a strategy, a strategy importing a sibling, and an edge module picking a strategy.
    let mut files = sources();
    let add = |files: &mut Vec<(String, bool, String)>, module: &str, line: &str| {
        let file = files.iter_mut().find(|(m, _, _)| m == module).unwrap();
        file.2 = format!("{line}\n{}", file.2);
    };
    for (module, line, says) in [
        (
            "header",
            "use crate::plan::Plan;",
            "never imports one above it",
        ),
        (
            "plan",
            "use crate::strategy::gate::Gate;",
            "names the strategy strategy::gate",
        ),
        (
            "strategy::gate",
            "use super::hooks::Hooks;",
            "names the strategy strategy::hooks",
        ),
        (
            "report",
            "use crate::strategy::hooks::Hooks;",
            "names the strategy",
        ),
    ] {
        let mut changed = files.clone();
        add(&mut changed, module, line);
        let found = violations(&changed).join("\n");
        assert!(
            found.contains(says),
            "`{line}` in {module} must be caught: {found}"
        );
    }
    // And the real tree is clean, so the additions above are what was caught.
    add(&mut files, "render", "use crate::strategy::gate::Gate;");
    assert!(
        violations(&files).is_empty(),
        "the pipeline may pick a strategy"
    );
}

/// The lines of each function of `src/` outside its tests, as rustfmt lays it out: from
/// `fn` to the closing brace at the same indentation.
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("#[cfg(test)]"))
        .unwrap_or(lines.len());
    let mut out = Vec::new();
    for (i, line) in lines[..end].iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let rest = ["pub(crate) ", "pub ", "const ", "async "]
            .iter()
            .fold(trimmed, |t, p| t.strip_prefix(p).unwrap_or(t));
        let Some(name) = rest.strip_prefix("fn ") else {
            continue;
        };
        let name: String = name
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if line.trim_end().ends_with(';') || line.trim_end().ends_with("{}") {
            continue;
        }
        let close = format!("{indent}}}");
        if let Some(j) = lines[i + 1..].iter().position(|l| *l == close) {
            out.push((name, j + 2));
        }
    }
    out
}

#[test]
fn every_function_fits_on_a_screen() {
    const MAX: usize = 100;
    let mut long = Vec::new();
    for (module, _, text) in sources() {
        for (name, lines) in function_lengths(&text) {
            if lines > MAX {
                long.push(format!("{module}::{name}: {lines} lines"));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX} lines (split them by concern):\n{}",
        long.join("\n")
    );
    // The measure itself: a function of 3 lines, one of 1, and a test module left out.
    let sample = "fn a() {\n    x();\n}\nfn b() {}\n#[cfg(test)]\nfn c() {\n}\n";
    assert_eq!(function_lengths(sample), [("a".to_string(), 3)]);
}

/// The modules whose code may hold `unsafe`, and why. Everything else stays safe Rust: the
/// crate denies `unsafe_code`, and a module that allows it must be listed here.
const UNSAFE_ALLOWED: &[(&str, &str)] = &[(
    "cli::stdio",
    "maps a large file on stdin instead of reading it",
)];

/// The modules whose code (outside tests and comments) uses `unsafe`.
fn unsafe_users(files: &[(String, bool, String)]) -> Vec<String> {
    files
        .iter()
        .filter(|(_, _, text)| {
            code(text)
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|w| w == "unsafe")
        })
        .map(|(module, _, _)| module.clone())
        .collect()
}

#[test]
fn unsafe_stands_only_where_it_is_listed() {
    let files = sources();
    let users = unsafe_users(&files);
    let listed: Vec<&str> = UNSAFE_ALLOWED.iter().map(|(m, _)| *m).collect();
    let unlisted: Vec<&String> = users
        .iter()
        .filter(|m| !listed.contains(&m.as_str()))
        .collect();
    assert!(
        unlisted.is_empty(),
        "`unsafe` outside the modules listed in UNSAFE_ALLOWED: {unlisted:?}"
    );
    // Every listed module still needs it: a stale entry would let a later one in unseen.
    let stale: Vec<&&str> = listed
        .iter()
        .filter(|m| !users.iter().any(|u| u == *m))
        .collect();
    assert!(
        stale.is_empty(),
        "listed in UNSAFE_ALLOWED but safe now: {stale:?}"
    );
    // The check itself: an `unsafe` block in another module is found, one in a comment is not.
    let mut planted = files.clone();
    planted.push(("plan".into(), false, "fn f() { unsafe { g() } }\n".into()));
    planted.push((
        "names".into(),
        false,
        "// unsafe { g() }\nfn f() {}\n".into(),
    ));
    let found = unsafe_users(&planted);
    assert!(
        found.iter().any(|m| m == "plan"),
        "a planted unsafe block is found"
    );
    assert!(
        !found.iter().any(|m| m == "names"),
        "an unsafe in a comment is not code"
    );
}
