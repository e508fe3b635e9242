//! What `cargo package` ships (Cargo.toml's `include`): every file the sources embed with
//! `include_str!`/`include_bytes!` (the templates of src/templates, a unit test's input), the
//! license and the documents a crate's user reads, and nothing that only the repository's own
//! tests use. A template added under a path the list misses fails here, before a publish
//! would. scripts/package-test.sh builds, publishes (dry run) and installs the package.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `cargo package --list`: the files the .crate would hold, as paths from the root.
fn packaged() -> BTreeSet<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["package", "--list", "--locked", "--allow-dirty"])
        .current_dir(root())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo package --list failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a/b/../c` as `a/c`, with `/` between parts, relative to the root.
fn normal(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in path.strip_prefix(root()).unwrap().components() {
        match part {
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

/// Every file a source under src/ embeds, as a path from the root.
fn embedded() -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut embedded = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for macro_name in ["include_str!(\"", "include_bytes!(\""] {
            for (at, _) in text.match_indices(macro_name) {
                let rest = &text[at + macro_name.len()..];
                let target = &rest[..rest.find('"').unwrap()];
                embedded.insert(normal(&file.parent().unwrap().join(target)));
            }
        }
    }
    embedded
}

#[test]
fn the_package_carries_every_embedded_file_and_the_documents() {
    let packaged = packaged();
    let embedded = embedded();
    assert!(
        embedded.contains("src/templates/gate.sh")
            && embedded.iter().any(|f| f.starts_with("testdata/")),
        "found the embedded files in src/: {embedded:?}"
    );
    let missing: Vec<&String> = embedded.difference(&packaged).collect();
    assert!(
        missing.is_empty(),
        "Cargo.toml's include leaves out files the sources embed (the package would not \
         build): {missing:?}"
    );
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "src/main.rs",
        "src/lib.rs",
    ] {
        assert!(
            packaged.contains(file),
            "the package holds {file}: {packaged:?}"
        );
    }
}

#[test]
fn the_package_leaves_out_what_only_the_repository_uses() {
    let embedded = embedded();
    let packaged = packaged();
    let extra: Vec<&String> = packaged
        .iter()
        .filter(|f| !embedded.contains(*f))
        .filter(|f| {
            [
                "tests/",
                "testdata/",
                "fuzz/",
                "charts/",
                "examples/",
                "scripts/",
                "target/",
                ".cache/",
                ".ci/",
                "docs/",
                "schema/",
            ]
            .iter()
            .any(|dir| f.starts_with(dir))
        })
        .collect();
    assert!(
        extra.is_empty(),
        "the package holds files only the repository's tests and tools use: {extra:?}"
    );
}
