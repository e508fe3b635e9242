//! LICENSE is the license Cargo.toml names: the Apache License 2.0, word for word as the
//! Apache Software Foundation publishes it (LICENSE-2.0.txt), appendix template included.

use sha2::{Digest, Sha256};

/// sha256 of https://www.apache.org/licenses/LICENSE-2.0.txt.
const APACHE_2_0_SHA256: &str = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30";

#[test]
fn license_file_is_the_license_cargo_toml_names() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let manifest: toml_line::Manifest = toml_line::read(&manifest);
    assert_eq!(
        manifest.license.as_deref(),
        Some("Apache-2.0"),
        "Cargo.toml's license is the one LICENSE holds"
    );
    assert_eq!(
        manifest.license_file, None,
        "Cargo.toml names the license by its SPDX id, not a file"
    );
    let text = std::fs::read(root.join("LICENSE")).expect("a LICENSE file at the root");
    let digest: String = Sha256::digest(&text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let head = String::from_utf8_lossy(&text[..text.len().min(200)]).into_owned();
    assert!(
        head.contains("Apache License") && head.contains("Version 2.0, January 2004"),
        "LICENSE is the Apache License 2.0: {head}"
    );
    assert_eq!(
        digest, APACHE_2_0_SHA256,
        "LICENSE is the Apache License 2.0 word for word (no edits, no crate's appendix)"
    );
}

/// The two `[package]` keys this test reads, without a TOML parser dependency.
mod toml_line {
    pub struct Manifest {
        pub license: Option<String>,
        pub license_file: Option<String>,
    }

    pub fn read(text: &str) -> Manifest {
        let package = text
            .split("\n[")
            .find(|table| table.trim_start_matches('[').starts_with("package]"))
            .expect("Cargo.toml has [package]");
        let value = |key: &str| {
            package.lines().find_map(|line| {
                let (k, v) = line.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        Manifest {
            license: value("license"),
            license_file: value("license-file"),
        }
    }
}
