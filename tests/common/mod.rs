//! Helpers shared by the integration tests: the binary under test, real helm binaries, and
//! throwaway Helm homes.
#![allow(dead_code)]

pub mod stand_in;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub const BIN: &str = env!("CARGO_BIN_EXE_deploy-jobs");

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// deploy-jobs with `args`, in the environment the tests expect: not run as a Helm plugin,
/// and no terminal width from the caller.
pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("HELM_PLUGIN_NAME")
        .env_remove("COLUMNS");
    cmd
}

/// Runs deploy-jobs with `args`, feeding `stdin`.
pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    pipe(&mut command(args), stdin)
}

/// Runs a command with `stdin` written to it and returns its output.
pub fn pipe(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("command starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The child may exit before reading everything; that is its answer, not ours.
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("command finishes");
    writer.join().expect("stdin writer");
    out
}

/// The path of a real binary installed by scripts/install-helm.sh: `helm4`, `helm3`, `kubectl`.
pub fn tool(name: &str) -> PathBuf {
    static PATHS: OnceLock<std::sync::Mutex<std::collections::HashMap<String, PathBuf>>> =
        OnceLock::new();
    let paths = PATHS.get_or_init(Default::default);
    let mut paths = paths.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = paths.get(name) {
        return p.clone();
    }
    let out = Command::new(repo_root().join("scripts/install-helm.sh"))
        .arg(name)
        .output()
        .expect("install-helm.sh runs");
    let path = PathBuf::from(succeeded(out, &format!("installing {name}")).trim());
    paths.insert(name.to_string(), path.clone());
    path
}

/// A helm command with its own empty config, data and cache homes.
pub struct Helm {
    pub exe: PathBuf,
    pub home: tempfile::TempDir,
}

impl Helm {
    pub fn new(version: &str) -> Helm {
        Helm {
            exe: tool(version),
            home: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Helm 4 with this repository installed as its post-renderer plugin.
    pub fn with_plugin() -> Helm {
        let helm = Helm::new("helm4");
        let out = helm
            .command()
            .args(["plugin", "install"])
            .arg(repo_root())
            .output()
            .unwrap();
        succeeded(out, "helm plugin install");
        helm
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.exe);
        let home = self.home.path();
        cmd.env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("DEPLOY_JOBS_BIN", BIN)
            .env_remove("KUBECONFIG")
            .current_dir(repo_root());
        cmd
    }

    /// Runs helm with `args`; returns stdout, failing the test with stderr if helm fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().expect("helm runs");
        succeeded(out, &format!("helm {args:?}"))
    }
}

/// The stdout of a command that must have succeeded; otherwise the test fails, naming
/// `what` and showing the command's stderr.
pub fn succeeded(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Parses a multi-document YAML stream into values, skipping empty documents.
pub fn documents(text: &str) -> Vec<serde_norway::Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).expect("valid YAML"))
        .filter(|v: &serde_norway::Value| !v.is_null())
        .collect()
}

/// `kind/name` of a document.
pub fn id(doc: &serde_norway::Value) -> String {
    format!(
        "{}/{}",
        doc["kind"].as_str().unwrap_or("?"),
        doc["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Each document of a YAML file as real kubectl reads it (Go's YAML 1.1, as Helm, Argo CD
/// and the API server read it), offline: `kubectl annotate --local -f FILE ... -o json`,
/// without the annotation `annotate` adds (nor an annotations map it alone made).
pub fn kubectl_reads_file(file: &Path) -> Vec<serde_json::Value> {
    let out = Command::new(tool("kubectl"))
        .args(["annotate", "--local", "-f"])
        .arg(file)
        .args(["deploy-jobs-test=1", "-o", "json"])
        .output()
        .expect("kubectl runs");
    let stdout = succeeded(out, "kubectl annotate --local");
    serde_json::Deserializer::from_str(&stdout)
        .into_iter::<serde_json::Value>()
        .map(|v| {
            let mut v = v.expect("kubectl prints JSON");
            let annotations = v["metadata"]["annotations"]
                .as_object_mut()
                .expect("kubectl added an annotation");
            annotations.remove("deploy-jobs-test");
            if annotations.is_empty() {
                v["metadata"].as_object_mut().unwrap().remove("annotations");
            }
            v
        })
        .collect()
}

/// Each document of `text` as real kubectl reads it (see [`kubectl_reads_file`]).
pub fn kubectl_reads(text: &str) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("stream.yaml");
    std::fs::write(&file, text).expect("writing the stream");
    kubectl_reads_file(&file)
}

/// The HOOKS and MANIFEST sections of `helm install --dry-run=client` output.
pub fn sections(out: &str) -> (String, String) {
    let hooks_start = out.find("\nHOOKS:\n").expect("helm prints a HOOKS section") + 8;
    let manifest_at = hooks_start
        + out[hooks_start..]
            .find("MANIFEST:\n")
            .expect("helm prints a MANIFEST section");
    let hooks = out[hooks_start..manifest_at].to_string();
    let rest = &out[manifest_at + 10..];
    // NOTES (if any) follow the manifest.
    let manifest = rest.split("\nNOTES:\n").next().unwrap_or(rest).to_string();
    (hooks, manifest)
}
