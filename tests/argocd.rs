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

/// Argo CD's sidecars run the steps with the image's `sh`; the example image is Debian's, so
/// `dash`, which has no pipefail.
fn dash() -> Command {
    let mut cmd = Command::new("dash");
    cmd.env_clear()
        .env("PATH", path_with_tools())
        .env("HOME", std::env::temp_dir());
    cmd
}

/// Runs the generate step in `dir` with Argo CD's build environment
/// (reposerver/repository/repository.go: getPluginEnvs) and the given parameters.
fn generate(dir: &std::path::Path, env: &[(&str, &str)]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = dash();
    cmd.args(["-c", &generate_script()])
        .current_dir(dir)
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"))
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("ARGOCD_APP_NAME", "shop")
        .env("ARGOCD_APP_NAMESPACE", "shop")
        .env("KUBE_VERSION", "1.35.0")
        .env("KUBE_API_VERSIONS", "v1,apps/v1,batch/v1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn the_plugin_fails_with_helms_message_when_helm_template_fails() {
    // dash has no pipefail: `helm template | deploy-jobs render` used to exit 0 with no
    // output, and Argo CD would sync an application with no resources (and prune the app).
    let out = generate(
        &common::repo_root().join("charts/example"),
        &[("PARAM_VALUES_FILES_0", "values-missing.yaml")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a failed helm template must fail generate"
    );
    assert!(out.stdout.is_empty(), "nothing for Argo CD to apply");
    assert!(
        stderr.contains("values-missing.yaml") && stderr.contains("no such file"),
        "with Helm's own message: {stderr}"
    );
}

#[test]
fn the_plugin_passes_argo_cds_kube_version_api_versions_and_crds_to_helm() {
    // What Argo CD's own Helm rendering passes (util/helm/cmd.go, Cmd.template): the
    // cluster's version and API versions, and --include-crds.
    let work = tempfile::tempdir().unwrap();
    let chart = work.path();
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::create_dir_all(chart.join("crds")).unwrap();
    std::fs::write(
        chart.join("Chart.yaml"),
        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("crds/widget.yaml"),
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n",
    )
    .unwrap();
    std::fs::write(
        chart.join("templates/facts.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: facts\ndata:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n  widgets: {{ .Capabilities.APIVersions.Has \"example.com/v1\" | quote }}\n  tag: {{ .Values.tag | quote }}\n  env: {{ .Values.env | quote }}\n",
    )
    .unwrap();
    std::fs::write(chart.join("values.yaml"), "tag: none\nenv: none\n").unwrap();
    std::fs::write(chart.join("one.yaml"), "tag: from-file\nenv: from-file\n").unwrap();
    std::fs::write(chart.join("two file.yaml"), "env: from-second-file\n").unwrap();
    let out = generate(
        chart,
        &[
            ("KUBE_API_VERSIONS", "v1,example.com/v1"),
            ("PARAM_VALUES_FILES_0", "one.yaml"),
            ("PARAM_VALUES_FILES_1", "two file.yaml"),
            ("PARAM_SET_0", "tag=set; echo injected"),
        ],
    );
    let docs = documents(&common::succeeded(out, "generate"));
    let ids: Vec<String> = docs.iter().map(id).collect();
    assert!(
        ids.contains(&"CustomResourceDefinition/widgets.example.com".to_string()),
        "--include-crds: {ids:?}"
    );
    let facts = docs.iter().find(|d| id(d) == "ConfigMap/facts").unwrap();
    assert_eq!(
        facts["data"]["kube"], "v1.35.0",
        "--kube-version from KUBE_VERSION"
    );
    assert_eq!(
        facts["data"]["widgets"], "true",
        "--api-versions from KUBE_API_VERSIONS"
    );
    assert_eq!(
        facts["data"]["env"], "from-second-file",
        "values files in order, spaces kept"
    );
    assert_eq!(
        facts["data"]["tag"], "set; echo injected",
        "--set wins, never evaluated"
    );
}

#[test]
fn the_plugin_takes_the_environment_from_a_parameter_or_the_applications_env() {
    let chart = common::repo_root().join("charts/example");
    let jobs = |env: &[(&str, &str)]| -> Vec<String> {
        documents(&common::succeeded(generate(&chart, env), "generate"))
            .iter()
            .map(id)
            .filter(|i| i.starts_with("Job/"))
            .collect()
    };
    let warm = "Job/shop-example-warm-cache".to_string();
    assert!(
        !jobs(&[]).contains(&warm),
        "production alone enables warm-cache"
    );
    assert!(jobs(&[("PARAM_ENVIRONMENT", "production")]).contains(&warm));
    assert!(
        jobs(&[("ARGOCD_ENV_DEPLOY_JOBS_ENV", "production")]).contains(&warm),
        "spec.source.plugin.env, as Argo CD passes it"
    );
}

#[test]
fn the_plugin_configmap_holds_plugin_yaml_as_kubectl_kustomize_builds_it() {
    let out = Command::new(common::tool("kubectl"))
        .args(["kustomize", "examples/argocd"])
        .current_dir(common::repo_root())
        .output()
        .unwrap();
    let docs = documents(&common::succeeded(out, "kubectl kustomize examples/argocd"));
    assert_eq!(docs.len(), 1, "only the ConfigMap");
    assert_eq!(
        id(&docs[0]),
        "ConfigMap/argocd-cmp-deploy-jobs",
        "the name the patch mounts"
    );
    assert_eq!(docs[0]["metadata"]["namespace"], "argocd");
    let patch =
        std::fs::read_to_string(common::repo_root().join("examples/argocd/repo-server-patch.yaml"))
            .unwrap();
    assert!(
        patch.contains("name: argocd-cmp-deploy-jobs") && patch.contains("subPath: plugin.yaml")
    );
    assert_eq!(
        docs[0]["data"]["plugin.yaml"].as_str().unwrap(),
        std::fs::read_to_string(common::repo_root().join("examples/argocd/plugin.yaml")).unwrap()
    );
}

#[test]
fn the_sidecar_image_pins_the_helm_the_tests_run() {
    let dockerfile =
        std::fs::read_to_string(common::repo_root().join("examples/argocd/Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("scripts/install-helm.sh helm4"),
        "helm from the sha256-pinned installer"
    );
    assert!(
        dockerfile.contains("cargo install --path . --locked"),
        "deploy-jobs from Cargo.lock"
    );
    let cargo = std::fs::read_to_string(common::repo_root().join("Cargo.toml")).unwrap();
    let rust = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        dockerfile.contains(&format!("FROM rust:{rust}-")),
        "the declared rust-version"
    );
}

#[test]
fn the_plugin_generates_presync_and_postsync_hooks_for_the_example_chart() {
    let out = generate(
        &common::repo_root().join("charts/example"),
        &[
            ("PARAM_ENVIRONMENT", "production"),
            ("PARAM_VALUES_FILES_0", "values-production.yaml"),
        ],
    );
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
