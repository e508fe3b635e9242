//! The Helm 4 plugin as a self-contained package (scripts/package-plugin.sh), served over
//! HTTP from 127.0.0.1 as a release page serves it: signed with a throwaway GnuPG key and
//! installed by real helm 4.1.4 from its URL with the signature (URL.prov) verified, then
//! still working as the post-renderer after the package and the directory it was built from
//! are gone, with no deploy-jobs binary anywhere else (no DEPLOY_JOBS_BIN, none on PATH).
//! plugin.yaml picks the binary for the machine's OS and architecture among six.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// A static file server on 127.0.0.1 for the files of one directory, as a release page
/// serves its assets: GET and HEAD, 404 for anything else. It records the paths asked for,
/// answers at most 64 requests and stops by itself after two minutes.
struct FileServer {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FileServer {
    fn serve(dir: &Path) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (dir, seen) = (dir.to_path_buf(), Arc::clone(&requests));
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut served = 0;
            while served < 64 && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        served += 1;
                        stream.set_nonblocking(false).unwrap();
                        answer(stream, &dir, &seen);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FileServer { url, requests }
    }

    fn requested(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn answer(stream: std::net::TcpStream, dir: &Path, seen: &Mutex<Vec<String>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    // The headers: read to the blank line, and ignore.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim() != "" {
        line.clear();
    }
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    seen.lock().unwrap().push(format!("{method} {path}"));
    let file = path
        .strip_prefix('/')
        .filter(|name| !name.contains('/') && !name.starts_with('.'))
        .map(|name| dir.join(name))
        .filter(|file| file.is_file());
    let mut out = &stream;
    let _ = match (method, file) {
        ("GET" | "HEAD", Some(file)) => {
            let body = std::fs::read(file).unwrap();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            out.write_all(head.as_bytes()).and_then(|()| {
                if method == "GET" {
                    out.write_all(&body)
                } else {
                    Ok(())
                }
            })
        }
        _ => out
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}

/// This machine's platform in plugin.yaml's words (Go's GOOS-GOARCH).
fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}-{arch}", std::env::consts::OS)
}

/// Packages the plugin with `binaries` (`PLATFORM=PATH`) into `out`, signed when a key is
/// given; returns the package's path.
fn package(helm: &Helm, out: &Path, binaries: &[String], sign: Option<&Path>) -> PathBuf {
    let mut command = Command::new(repo_root().join("scripts/package-plugin.sh"));
    command.arg("--out").arg(out).env("HELM_BIN", &helm.exe);
    for binary in binaries {
        command.args(["--binary", binary]);
    }
    if let Some(secring) = sign {
        command
            .args(["--sign", "deploy-jobs test", "--keyring"])
            .arg(secring);
    }
    let packaged = succeeded(command.output().unwrap(), "scripts/package-plugin.sh");
    PathBuf::from(packaged.trim())
}

/// The example chart through the installed plugin, with no deploy-jobs binary reachable
/// except the one inside it; returns the names of the Jobs in the output.
fn rendered_jobs(helm: &Helm, cwd: &Path) -> Vec<String> {
    let rendered = helm
        .command()
        .env_remove("DEPLOY_JOBS_BIN")
        .env("PATH", "/usr/bin:/bin")
        .current_dir(cwd)
        .args(["template", "shop"])
        .arg(repo_root().join("charts/example"))
        .args(["--post-renderer", "deploy-jobs"])
        .output()
        .unwrap();
    let rendered = succeeded(rendered, "helm template through the installed plugin");
    documents(&rendered)
        .iter()
        .filter(|d| d["kind"] == "Job")
        .filter_map(|d| d["metadata"]["name"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn signed_package_installs_from_a_url_verified_and_runs_without_the_checkout() {
    let work = tempfile::tempdir().unwrap();
    let (secring, pubring) = signing_key(work.path());
    let out_dir = work.path().join("dist");
    let helm = Helm::new("helm4");
    let binary = format!("{}={BIN}", host_platform());
    let package = package(&helm, &out_dir, &[binary], Some(&secring));
    let version = env!("CARGO_PKG_VERSION");
    let name = format!("deploy-jobs-{version}.tgz");
    assert_eq!(
        package.file_name().unwrap().to_str().unwrap(),
        name,
        "the package is named after the crate's version"
    );
    assert!(
        out_dir.join(format!("{name}.prov")).is_file(),
        "a signed package has its provenance file beside it"
    );

    let server = FileServer::serve(&out_dir);
    let url = format!("{}/{name}", server.url);
    let installed = helm
        .command()
        .args(["plugin", "install", &url, "--keyring"])
        .arg(&pubring)
        .output()
        .unwrap();
    let installed = succeeded(installed, "helm plugin install URL (verified)");
    assert!(
        installed.contains("Plugin Hash Verified"),
        "helm verified the signature: {installed}"
    );
    let requested = server.requested();
    assert!(
        requested.contains(&format!("GET /{name}"))
            && requested.contains(&format!("GET /{name}.prov")),
        "helm fetched the package and its provenance from the URL: {requested:?}"
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

    // Nothing left of where it came from.
    std::fs::remove_dir_all(&out_dir).unwrap();
    let jobs = rendered_jobs(&helm, work.path());
    assert!(
        jobs.iter().any(|n| n == "shop-example-migrate"),
        "the plugin installed from a URL injected the migration Job: {jobs:?}"
    );
}

#[test]
fn unsigned_package_from_a_url_is_refused_unless_verification_is_skipped() {
    let work = tempfile::tempdir().unwrap();
    let helm = Helm::new("helm4");
    let package = package(&helm, work.path(), &[BIN.to_string()], None);
    let server = FileServer::serve(work.path());
    let url = format!(
        "{}/{}",
        server.url,
        package.file_name().unwrap().to_str().unwrap()
    );
    let refused = helm
        .command()
        .args(["plugin", "install", &url])
        .output()
        .unwrap();
    assert!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stderr).contains("no provenance file"),
        "helm 4 verifies a package from a URL by default and refuses one without URL.prov, so \
         the book (docs/src/using.md, docs/src/install.md) says --verify=false for an unsigned one: {}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let installed = helm.ok(&["plugin", "install", &url, "--verify=false"]);
    assert!(
        installed.contains("WARNING: Skipping plugin signature verification"),
        "--verify=false installs it, with helm's warning: {installed}"
    );
}

/// The six platforms plugin.yaml selects a binary for.
const PLATFORMS: [&str; 6] = [
    "linux-amd64",
    "linux-arm64",
    "darwin-amd64",
    "darwin-arm64",
    "windows-amd64",
    "windows-arm64",
];

#[test]
fn plugin_yaml_selects_a_binary_for_each_os_and_architecture() {
    let text = std::fs::read_to_string(repo_root().join("plugin.yaml")).unwrap();
    let yaml: serde_json::Value = serde_norway::from_str(&text).unwrap();
    let entries = yaml["runtimeConfig"]["platformCommand"]
        .as_array()
        .expect("runtimeConfig.platformCommand is a list");
    for platform in PLATFORMS {
        let (os, arch) = platform.split_once('-').unwrap();
        let entry = entries
            .iter()
            .find(|e| e["os"] == os && e["arch"] == arch)
            .unwrap_or_else(|| panic!("plugin.yaml has an entry for os {os}, arch {arch}"));
        let command = entry["command"].as_str().unwrap();
        let args: Vec<&str> = entry["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        if os == "windows" {
            assert_eq!(
                command,
                format!("${{HELM_PLUGIN_DIR}}/bin/{platform}/deploy-jobs.exe"),
                "Windows has no sh: its entry runs its binary"
            );
            assert_eq!(args, ["render"], "the {platform} binary renders");
        } else {
            assert_eq!(
                command, "${HELM_PLUGIN_DIR}/scripts/helm-plugin.sh",
                "the {platform} entry goes through the wrapper"
            );
            assert_eq!(
                args,
                [platform, "render"],
                "the {platform} entry names its binary's directory to the wrapper"
            );
        }
    }
    assert!(
        entries
            .iter()
            .any(|e| e.get("os").is_none() && e.get("arch").is_none()),
        "an entry without os and arch serves any other platform"
    );
}

/// The package with a binary for each of the six platforms (the release's): helm on this
/// machine runs this machine's, never another's (the others here answer with a document helm
/// refuses, naming themselves).
#[test]
fn helm_runs_the_binary_for_its_own_platform_from_a_six_platform_package() {
    let work = tempfile::tempdir().unwrap();
    let helm = Helm::new("helm4");
    let host = host_platform();
    let wrong = work.path().join("wrong-platform");
    std::fs::write(
        &wrong,
        "#!/bin/sh\ncat >/dev/null\necho 'kind: {error: helm ran the binary of another platform}'\n",
    )
    .unwrap();
    common::stand_in::make_executable(&wrong);
    let binaries: Vec<String> = PLATFORMS
        .iter()
        .map(|p| match *p == host {
            true => format!("{p}={BIN}"),
            false => format!("{p}={}", wrong.display()),
        })
        .collect();
    let out_dir = work.path().join("dist");
    let mut command = Command::new(repo_root().join("scripts/package-plugin.sh"));
    command
        .args(["--all-platforms", "--out"])
        .arg(&out_dir)
        .env("HELM_BIN", &helm.exe);
    for binary in &binaries {
        command.args(["--binary", binary]);
    }
    let package = PathBuf::from(
        succeeded(
            command.output().unwrap(),
            "package-plugin.sh --all-platforms",
        )
        .trim()
        .to_string(),
    );
    let listing = Command::new("tar")
        .arg("-tzvf")
        .arg(&package)
        .output()
        .unwrap();
    let listing = succeeded(listing, "tar -tzvf the package");
    for platform in PLATFORMS {
        let exe = match platform.starts_with("windows") {
            true => "deploy-jobs.exe",
            false => "deploy-jobs",
        };
        let row = listing
            .lines()
            .find(|l| l.ends_with(&format!("deploy-jobs/bin/{platform}/{exe}")))
            .unwrap_or_else(|| panic!("the package holds bin/{platform}/{exe}:\n{listing}"));
        assert!(
            row.starts_with("-rwxr-xr-x"),
            "bin/{platform}/{exe} is executable in the package: {row}"
        );
    }
    for file in ["plugin.yaml", "scripts/helm-plugin.sh", "LICENSE"] {
        assert!(
            listing
                .lines()
                .any(|l| l.ends_with(&format!("deploy-jobs/{file}"))),
            "the package holds {file}:\n{listing}"
        );
    }

    let missing = Command::new(repo_root().join("scripts/package-plugin.sh"))
        .args(["--all-platforms", "--out"])
        .arg(work.path().join("partial"))
        .args(["--binary", &format!("{host}={BIN}")])
        .env("HELM_BIN", &helm.exe)
        .output()
        .unwrap();
    assert!(
        !missing.status.success(),
        "--all-platforms refuses a package that lacks a platform"
    );

    let installed = helm
        .command()
        .args(["plugin", "install", "--verify=false"])
        .arg(&package)
        .output()
        .unwrap();
    succeeded(installed, "helm plugin install the six-platform package");
    let jobs = rendered_jobs(&helm, work.path());
    assert!(
        jobs.iter().any(|n| n == "shop-example-migrate"),
        "helm ran bin/{host}/deploy-jobs, which injected the migration Job: {jobs:?}"
    );
}
