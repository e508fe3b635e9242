//! The Argo CD Config Management Plugin example: its generate command, run as Argo CD runs
//! it (in the chart directory, with the ARGOCD_* variables), against charts/example.

mod common;

use std::process::Command;

use common::{documents, id};
use serde_norway::Value;

/// The `sh -c` script of the plugin's `init` or `generate` step.
fn step_script(step: &str) -> String {
    let text =
        std::fs::read_to_string(common::repo_root().join("examples/argocd/plugin.yaml")).unwrap();
    let plugin: Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(
        plugin["spec"][step]["command"],
        serde_norway::from_str::<Value>("[sh, -c]").unwrap()
    );
    plugin["spec"][step]["args"][0]
        .as_str()
        .unwrap()
        .to_string()
}

fn generate_script() -> String {
    step_script("generate")
}

/// Runs the plugin's init step in `chart` as Argo CD would, with a throwaway Helm home.
fn run_init(chart: &std::path::Path) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    Command::new("sh")
        .args(["-c", &step_script("init")])
        .current_dir(chart)
        .env("PATH", path_with_tools())
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .output()
        .unwrap()
}

#[test]
fn the_plugin_init_step_fails_loudly_on_a_missing_dependency() {
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("app");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: db\n  version: 0.1.0\n  repository: file://../db\n",
    )
    .unwrap();
    let out = run_init(&chart);
    assert!(
        !out.status.success(),
        "a dependency that cannot be built must fail the init step"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("../db not found"),
        "with Helm's own reason: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same chart once its dependency exists: init builds it.
    let db = work.path().join("db");
    std::fs::create_dir_all(db.join("templates")).unwrap();
    std::fs::write(
        db.join("Chart.yaml"),
        "apiVersion: v2\nname: db\nversion: 0.1.0\n",
    )
    .unwrap();
    common::succeeded(
        run_init(&chart),
        "the init step with the dependency present",
    );
    assert!(chart.join("charts/db-0.1.0.tgz").is_file());
}

#[test]
fn the_plugin_init_step_passes_a_chart_without_dependencies() {
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("app");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    )
    .unwrap();
    common::succeeded(run_init(&chart), "the init step without dependencies");
}

fn path_with_tools() -> String {
    let helm_dir = common::tool("helm4").parent().unwrap().to_path_buf();
    // The plugin calls `helm`; the installed binary is named helm already.
    let bin_dir = std::path::Path::new(common::BIN)
        .parent()
        .unwrap()
        .to_path_buf();
    format!(
        "{}:{}:{}",
        helm_dir.display(),
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn the_plugin_generates_presync_and_postsync_hooks_for_the_example_chart() {
    let out = Command::new("sh")
        .args(["-c", &generate_script()])
        .current_dir(common::repo_root().join("charts/example"))
        .env("PATH", path_with_tools())
        .env("ARGOCD_APP_NAME", "shop")
        .env("ARGOCD_APP_NAMESPACE", "shop")
        .env("ARGOCD_ENV_DEPLOY_JOBS_ENV", "production")
        .env("ARGOCD_ENV_HELM_ARGS", "-f values-production.yaml")
        .output()
        .unwrap();
    let docs = documents(&common::succeeded(out, "the plugin's generate command"));
    let ids: Vec<String> = docs.iter().map(id).collect();
    assert!(!ids.iter().any(|i| i.starts_with("DeployJobs/")), "{ids:?}");
    let annotation = |name: &str, key: &str| {
        let doc = docs
            .iter()
            .find(|d| id(d) == name)
            .unwrap_or_else(|| panic!("{name} in {ids:?}"));
        doc["metadata"]["annotations"][key]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        annotation("Job/shop-example-migrate", "argocd.argoproj.io/hook"),
        "PreSync"
    );
    assert_eq!(
        annotation(
            "Secret/shop-example-db-migrate-hook",
            "argocd.argoproj.io/hook"
        ),
        "PreSync"
    );
    assert_eq!(
        annotation("Job/shop-example-warm-cache", "argocd.argoproj.io/hook"),
        "PostSync",
        "production enables warm-cache"
    );
    let wave = |name: &str| {
        annotation(name, "argocd.argoproj.io/sync-wave")
            .parse::<i64>()
            .unwrap()
    };
    assert!(
        wave("Secret/shop-example-db-migrate-hook")
            < wave("ConfigMap/shop-example-config-migrate-hook")
            && wave("ConfigMap/shop-example-config-migrate-hook")
                < wave("Job/shop-example-migrate"),
        "copies come before the Job"
    );
    assert!(
        annotation(
            "Job/shop-example-migrate",
            "argocd.argoproj.io/hook-delete-policy"
        )
        .contains("BeforeHookCreation"),
        "a previous sync's Job is deleted, so the hook is never skipped"
    );
    // The app itself is there, untouched.
    assert!(ids.contains(&"Deployment/shop-example".to_string()));
}

#[test]
fn the_argocd_target_refuses_events_argo_cd_does_not_run() {
    let input = "---\napiVersion: deploy-jobs/v1\nkind: DeployJobs\nmetadata:\n  name: shop\ndeploy_jobs:\n- name: undo\n  image: x\n  when: pre-rollback\n";
    let out = common::run(&["render", "--target", "argocd"], input.as_bytes());
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("deploy_jobs[0].when: `pre-rollback` does not work under Argo CD")
    );
    let helm = common::run(&["render"], input.as_bytes());
    assert!(helm.status.success(), "the Helm target accepts it");
}
