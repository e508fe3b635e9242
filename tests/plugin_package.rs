//! The Helm 4 plugin as a self-contained package (scripts/package-plugin.sh): signed with a
//! throwaway GnuPG key, installed by real helm 4.1.4 with its signature verified, and still
//! working as the post-renderer after the package file and the directory it was built from
//! are gone, with no deploy-jobs binary anywhere else (no DEPLOY_JOBS_BIN, none on PATH).

mod common;

use std::path::Path;
use std::process::Command;

use common::{BIN, Helm, documents, repo_root, succeeded};

/// A throwaway signing key in its own GnuPG home; returns (secret keyring, public keyring)
/// in the legacy format Helm reads.
fn signing_key(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let home = dir.join("gnupg");
    std::fs::create_dir(&home).unwrap();
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg runs")
    };
    succeeded(
        gpg(&[
            "--quick-gen-key",
            "deploy-jobs test <test@example.invalid>",
            "rsa2048",
            "sign",
            "never",
        ]),
        "gpg --quick-gen-key",
    );
    let secring = dir.join("secring.gpg");
    let pubring = dir.join("pubring.gpg");
    let secret = gpg(&["--export-secret-keys"]);
    std::fs::write(
        &secring,
        succeeded_bytes(secret, "gpg --export-secret-keys"),
    )
    .unwrap();
    let public = gpg(&["--export"]);
    std::fs::write(&pubring, succeeded_bytes(public, "gpg --export")).unwrap();
    (secring, pubring)
}

fn succeeded_bytes(out: std::process::Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty(), "{what} printed no key");
    out.stdout
}

#[test]
fn signed_package_installs_verified_and_runs_without_the_checkout() {
    let work = tempfile::tempdir().unwrap();
    let (secring, pubring) = signing_key(work.path());
    let out_dir = work.path().join("dist");
    let helm = Helm::new("helm4");

    let packaged = Command::new(repo_root().join("scripts/package-plugin.sh"))
        .args(["--binary", BIN, "--out"])
        .arg(&out_dir)
        .args(["--sign", "deploy-jobs test", "--keyring"])
        .arg(&secring)
        .env("HELM_BIN", &helm.exe)
        .output()
        .unwrap();
    let package = succeeded(packaged, "scripts/package-plugin.sh");
    let package = Path::new(package.trim()).to_path_buf();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        package.file_name().unwrap().to_str().unwrap(),
        format!("deploy-jobs-{version}.tgz"),
        "the package is named after the binary's version"
    );
    assert!(
        package.with_extension("tgz.prov").is_file(),
        "a signed package has its provenance file beside it"
    );

    let installed = helm
        .command()
        .args(["plugin", "install"])
        .arg(&package)
        .arg("--keyring")
        .arg(&pubring)
        .output()
        .unwrap();
    let installed = succeeded(installed, "helm plugin install (verified)");
    assert!(
        installed.contains("Plugin Hash Verified"),
        "helm verified the signature: {installed}"
    );
    let list = helm.ok(&["plugin", "list"]);
    let row = list
        .lines()
        .find(|l| l.starts_with("deploy-jobs"))
        .unwrap_or_else(|| panic!("plugin listed: {list}"));
    assert!(
        row.contains(version) && row.contains("signed"),
        "helm plugin list shows the version and the signature: {row}"
    );

    // Nothing left of where it came from: the package and its directory are gone, and no
    // deploy-jobs binary is reachable except the one inside the installed plugin.
    std::fs::remove_dir_all(&out_dir).unwrap();
    let rendered = helm
        .command()
        .env_remove("DEPLOY_JOBS_BIN")
        .env("PATH", "/usr/bin:/bin")
        .current_dir(work.path())
        .args(["template", "shop"])
        .arg(repo_root().join("charts/example"))
        .args(["--post-renderer", "deploy-jobs"])
        .output()
        .unwrap();
    let rendered = succeeded(rendered, "helm template through the packaged plugin");
    let jobs: Vec<String> = documents(&rendered)
        .iter()
        .filter(|d| d["kind"] == "Job")
        .filter_map(|d| d["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    assert!(
        jobs.iter().any(|n| n == "shop-example-migrate"),
        "the packaged plugin injected the migration Job: {jobs:?}"
    );
}

#[test]
fn unsigned_package_is_refused_unless_verification_is_skipped() {
    let work = tempfile::tempdir().unwrap();
    let helm = Helm::new("helm4");
    let packaged = Command::new(repo_root().join("scripts/package-plugin.sh"))
        .args(["--binary", BIN, "--out"])
        .arg(work.path())
        .env("HELM_BIN", &helm.exe)
        .output()
        .unwrap();
    let package = succeeded(packaged, "scripts/package-plugin.sh");
    let package = package.trim();
    let refused = helm
        .command()
        .args(["plugin", "install", package])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "helm 4 verifies packages by default, so the book (docs/src/using.md) must say --verify=false"
    );
    helm.ok(&["plugin", "install", package, "--verify=false"]);
}
