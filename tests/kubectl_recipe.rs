//! The book's kubectl pipeline (`docs/src/deployers.md`, "kubectl pipelines"), block for block: the
//! rendering block runs with the real helm and deploy-jobs; the cluster block runs under
//! `dash` against a kubectl stand-in that answers the Job's state, and its `kubectl apply`
//! line is checked against what the rendering produced (every kind in the prune allowlist,
//! every object carrying the `-l` label, which also filters what is applied).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The `sh` block of `docs/src/deployers.md` that starts with `first`, and the block right
/// after it.
fn blocks(first: &str) -> (String, String) {
    let readme =
        std::fs::read_to_string(common::repo_root().join("docs/src/deployers.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match &mut current {
            None if line.starts_with("```sh") => current = Some(String::new()),
            Some(_) if line.starts_with("```") => blocks.push(current.take().unwrap()),
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    let i = blocks
        .iter()
        .position(|b| b.starts_with(first))
        .unwrap_or_else(|| panic!("docs/src/deployers.md has a block starting with {first}"));
    (blocks[i].clone(), blocks[i + 1].clone())
}

fn path(extra: &Path) -> String {
    let helm = common::tool("helm4").parent().unwrap().to_path_buf();
    let bin = Path::new(common::BIN).parent().unwrap().to_path_buf();
    format!(
        "{}:{}:{}:/usr/bin:/bin",
        extra.display(),
        helm.display(),
        bin.display()
    )
}

/// Renders as the book does, in a fresh directory; returns it.
fn rendered() -> (tempfile::TempDir, String) {
    let (render, cluster) = blocks(
        "helm template shop ./charts/example -f charts/example/values-production.yaml > rendered.yaml\ndeploy-jobs render --target gate",
    );
    assert!(!render.contains("jq") && !cluster.contains("jq"), "no jq");
    let work = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        common::repo_root().join("charts"),
        work.path().join("charts"),
    )
    .unwrap();
    let home = work.path().join(".helm");
    let out = Command::new("dash")
        .args(["-ec", &render])
        .current_dir(work.path())
        .env_clear()
        .env("PATH", path(work.path()))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .output()
        .unwrap();
    common::succeeded(out, "the book's rendering block");
    (work, cluster)
}

#[test]
fn the_kubectl_recipes_apply_prunes_every_kind_and_applies_every_object() {
    let (work, cluster) = rendered();
    let gated = std::fs::read_to_string(work.path().join("gated.yaml")).unwrap();
    let allowed: BTreeSet<String> = cluster
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("--prune-allowlist="))
        .map(str::to_string)
        .collect();
    let label = cluster
        .split_whitespace()
        .skip_while(|w| *w != "-l")
        .nth(1)
        .expect("the apply line prunes by label");
    let (key, value) = label.split_once('=').unwrap();
    for doc in common::documents(&gated) {
        let api = doc["apiVersion"].as_str().unwrap();
        let gvk = match api.split_once('/') {
            Some(_) => format!("{api}/{}", doc["kind"].as_str().unwrap()),
            None => format!("core/{api}/{}", doc["kind"].as_str().unwrap()),
        };
        assert!(
            allowed.contains(&gvk),
            "{gvk} is not in the prune allowlist: an old one would never be pruned"
        );
        assert_eq!(
            doc["metadata"]["labels"][key].as_str(),
            Some(value),
            "{}: without the label, `-l` would skip applying it",
            common::id(&doc)
        );
    }
}

/// A kubectl that reports every Job in `state` and records its calls.
fn stand_in(dir: &Path, state: &str) {
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> {calls}\ncase \"$1\" in\n  get) printf '%s' '{state}' ;;\n  logs) echo \"log of $2\" ;;\nesac\n",
        calls = dir.join("calls").display()
    );
    let kubectl = dir.join("kubectl");
    std::fs::write(&kubectl, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&kubectl, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run_cluster_block(state: &str) -> (std::process::Output, String, Vec<String>) {
    let (work, cluster) = rendered();
    stand_in(work.path(), state);
    let out = Command::new("dash")
        .args(["-ec", &cluster])
        .current_dir(work.path())
        .env_clear()
        .env("PATH", path(work.path()))
        .output()
        .unwrap();
    let calls = std::fs::read_to_string(work.path().join("calls")).unwrap_or_default();
    let jobs = std::fs::read_to_string(work.path().join("jobs.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    (out, calls, jobs)
}

#[test]
fn the_kubectl_recipe_waits_for_each_job_by_the_name_plan_prints() {
    let (out, calls, jobs) = run_cluster_block("Complete");
    assert_eq!(jobs.len(), 2, "migrate and warm-cache: {jobs:?}");
    assert!(
        jobs.iter().all(|j| j.starts_with("job/shop-example-")),
        "{jobs:?}"
    );
    let stdout = common::succeeded(out, "the cluster block with every Job Complete");
    for job in &jobs {
        assert!(
            calls.contains(&format!("get {job} -o")),
            "waits for {job}: {calls}"
        );
        assert!(
            stdout.contains(&format!("log of {job}")),
            "prints its log: {stdout}"
        );
        assert!(stdout.contains(&format!("{job} succeeded")), "{stdout}");
    }
    assert!(calls.contains("rollout status deployment/shop-example"));
}

#[test]
fn the_kubectl_recipe_fails_the_pipeline_with_the_log_when_a_job_failed() {
    let (out, calls, jobs) = run_cluster_block("Failed");
    assert!(
        !out.status.success(),
        "a failed migration fails the pipeline"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains(&format!("log of {}", jobs[0])),
        "its log: {stdout}"
    );
    assert!(
        stderr.contains(&format!("{} did not succeed: Failed", jobs[0])),
        "{stderr}"
    );
    assert!(!calls.contains("rollout status"), "stops at the failed Job");
}
