//! Integration tests against the real helm 4.1.4 and 3.18.0 binaries (installed by
//! scripts/install-helm.sh): Helm itself must list the injected hooks in the intended order,
//! drop the DeployJobs document, leave the app manifests alone, show our errors, and Helm 3
//! must be refused.

mod common;

use common::{Helm, documents, id};
use serde_norway::Value;

const CHART: &str = "charts/example";

/// `helm install --dry-run=client` of the example chart through the deploy-jobs plugin.
fn install_through_plugin<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "install",
        "shop",
        CHART,
        "--dry-run=client",
        "--post-renderer",
        "deploy-jobs",
    ];
    args.extend_from_slice(extra);
    args
}

/// Splits `helm install --dry-run=client` output into its HOOKS and MANIFEST sections.
fn sections(out: &str) -> (String, String) {
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

/// The hooks Helm runs for `event`, in Helm's own execution order (weight, then name).
fn execution_order(hooks: &[Value], event: &str) -> Vec<String> {
    let mut selected: Vec<(i64, String, String)> = hooks
        .iter()
        .filter(|h| {
            h["metadata"]["annotations"]["helm.sh/hook"]
                .as_str()
                .is_some_and(|e| e.split(',').any(|x| x.trim() == event))
        })
        .map(|h| {
            let weight = h["metadata"]["annotations"]["helm.sh/hook-weight"]
                .as_str()
                .and_then(|w| w.parse().ok())
                .unwrap_or(0);
            (
                weight,
                h["metadata"]["name"].as_str().unwrap().to_string(),
                id(h),
            )
        })
        .collect();
    selected.sort();
    let weights: Vec<i64> = selected.iter().map(|s| s.0).collect();
    let mut dedup = weights.clone();
    dedup.dedup();
    assert_eq!(
        weights, dedup,
        "hook weights for {event} must never tie: {selected:?}"
    );
    selected.into_iter().map(|s| s.2).collect()
}

#[test]
fn helm4_install_runs_copies_then_the_migration_before_the_app() {
    let helm = Helm::with_plugin();
    let out = helm.ok(&install_through_plugin(&[
        "--post-renderer-args=--env=production",
    ]));
    let (hooks, manifest) = sections(&out);
    let hooks = documents(&hooks);
    assert_eq!(
        execution_order(&hooks, "pre-install"),
        [
            "Secret/shop-example-db-migrate-hook",
            "ConfigMap/shop-example-config-migrate-hook",
            "Job/shop-example-migrate",
        ],
        "pre-install hooks: the copies must exist before the Job that mounts them"
    );
    assert_eq!(
        execution_order(&hooks, "post-upgrade"),
        ["Job/shop-example-warm-cache"],
        "the production post-upgrade job references the release's own Secret, no copy"
    );

    let job = hooks
        .iter()
        .find(|h| id(h) == "Job/shop-example-migrate")
        .unwrap();
    let spec = &job["spec"];
    assert_eq!(
        spec["backoffLimit"],
        Value::from(0),
        "a failed migration is never retried"
    );
    assert_eq!(
        spec["template"]["spec"]["restartPolicy"],
        Value::from("Never")
    );
    assert_eq!(
        job["metadata"]["annotations"]["helm.sh/hook-output-log-policy"],
        Value::from("hook-failed"),
        "a failed migration's log must reach the CI output"
    );
    assert_eq!(
        spec["template"]["spec"]["containers"][0]["image"],
        Value::from("ghcr.io/example/shop:1.4.2"),
        "the job reuses the app's image"
    );
    assert!(
        spec["template"]["spec"]["containers"][0]
            .get("readinessProbe")
            .is_none(),
        "probes must not come along: they would kill a long migration"
    );

    // The app manifests are what Helm renders without deploy-jobs, minus the DeployJobs document.
    let plain = helm.ok(&[
        "install",
        "shop",
        CHART,
        "--dry-run=client",
        "--set",
        "deploy_jobs_environment=production",
    ]);
    let (_, plain_manifest) = sections(&plain);
    let expected: Vec<Value> = documents(&plain_manifest)
        .into_iter()
        .filter(|d| d["kind"] != "DeployJobs")
        .collect();
    assert!(
        documents(&plain_manifest).len() == expected.len() + 1,
        "without the post-renderer the DeployJobs document reaches the manifest (and fails at apply)"
    );
    assert_eq!(
        documents(&manifest),
        expected,
        "the app manifests must be unchanged and the DeployJobs document gone"
    );
}

#[test]
fn helm4_template_lists_hooks_without_the_config_document() {
    let helm = Helm::with_plugin();
    let out = helm.ok(&["template", "shop", CHART, "--post-renderer", "deploy-jobs"]);
    let docs = documents(&out);
    let ids: Vec<String> = docs.iter().map(id).collect();
    assert!(!ids.iter().any(|i| i.starts_with("DeployJobs/")), "{ids:?}");
    assert!(
        ids.contains(&"Job/shop-example-migrate".to_string()),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&"Job/shop-example-warm-cache".to_string()),
        "warm-cache runs only in production: {ids:?}"
    );
}

/// A mistake only deploy-jobs can see (values.schema.json catches the misspellings first).
#[test]
fn helm4_shows_our_error_although_it_discards_plugin_stderr() {
    let helm = Helm::with_plugin();
    let out = helm
        .command()
        .args(install_through_plugin(&[
            "--set",
            "deploy_jobs[0].name=migrate",
            "--set",
            "deploy_jobs[0].container=api",
            "--set",
            "deploy_jobs[0].command=migrate",
        ]))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a bad config must stop the install");
    assert!(
        stderr.contains("deploy_jobs[0].container: no container named `api`"),
        "helm's error must carry our message with the key path, got:\n{stderr}"
    );
    assert!(
        stderr.contains("example/templates/deploy-jobs.yaml"),
        "and the template file:\n{stderr}"
    );
}

#[test]
fn helm3_post_renderer_is_refused_with_the_remedies() {
    let helm = Helm::new("helm3");
    let out = helm
        .command()
        .args(["template", "shop", CHART, "--post-renderer", common::BIN])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "Helm 3 must not get injected hooks as ordinary resources"
    );
    assert!(stderr.contains("Helm 3 post-renderer"), "{stderr}");
    assert!(
        stderr.contains("Helm 4") && stderr.contains("deploy-jobs render"),
        "remedies: {stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing rendered");
}

#[test]
fn helm3_template_piped_into_render_works() {
    let helm = Helm::new("helm3");
    let rendered = helm.ok(&[
        "template",
        "shop",
        CHART,
        "-f",
        "charts/example/values-production.yaml",
    ]);
    let text = common::succeeded(
        common::run(&["render"], rendered.as_bytes()),
        "deploy-jobs render",
    );
    let ids: Vec<String> = documents(&text).iter().map(id).collect();
    assert!(
        ids.contains(&"Job/shop-example-migrate".to_string()),
        "{ids:?}"
    );
    assert!(
        ids.contains(&"Job/shop-example-warm-cache".to_string()),
        "production enables warm-cache: {ids:?}"
    );
    assert!(!ids.iter().any(|i| i.starts_with("DeployJobs/")));
    assert!(
        text.contains("# Source: example/templates/deploy-jobs/migrate.yaml"),
        "Helm 3 style sources"
    );
}

#[test]
fn helm_lint_checks_deploy_jobs_against_the_schema() {
    let helm = Helm::new("helm4");
    helm.ok(&["lint", CHART]);
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("typo.yaml");
    std::fs::write(
        &values,
        "deploy_jobs:\n- name: migrate\n  container: app\n  command: [migrate]\n  activeDeadlineSecond: 60\n",
    )
    .unwrap();
    let out = helm
        .command()
        .args(["lint", CHART, "-f"])
        .arg(&values)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a misspelled key must fail helm lint:\n{text}"
    );
    assert!(
        text.contains("activeDeadlineSecond") && text.contains("/deploy_jobs/0"),
        "helm lint names the key and where it is:\n{text}"
    );
}

/// `exclusive: all` with a Deployment whose replica count an autoscaler owns (the chart
/// leaves `replicas` out): Helm 4 itself must order RBAC, the stop Job, the copies and the
/// migration, and bring the RBAC back for the post-upgrade start Job.
#[test]
fn helm4_install_stops_the_app_before_an_exclusive_migration() {
    let helm = Helm::with_plugin();
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("exclusive.yaml");
    std::fs::write(
        &values,
        "replicaCount: null\n\
         deploy_jobs:\n\
         - name: migrate\n  container: app\n  command: [/app/shop, migrate]\n  exclusive: all\n",
    )
    .unwrap();
    let out = helm.ok(&install_through_plugin(&["-f", values.to_str().unwrap()]));
    let (hooks, manifest) = sections(&out);
    let hooks = documents(&hooks);
    let before = [
        "ServiceAccount/shop-example-migrate-stop",
        "Role/shop-example-migrate-stop",
        "RoleBinding/shop-example-migrate-stop",
        "Job/shop-example-migrate-stop",
        "Secret/shop-example-db-migrate-hook",
        "ConfigMap/shop-example-config-migrate-hook",
        "Job/shop-example-migrate",
    ];
    assert_eq!(execution_order(&hooks, "pre-install"), before);
    assert_eq!(execution_order(&hooks, "pre-upgrade"), before);
    let after = [
        "ServiceAccount/shop-example-migrate-stop",
        "Role/shop-example-migrate-stop",
        "RoleBinding/shop-example-migrate-stop",
        "Job/shop-example-migrate-start",
    ];
    assert_eq!(
        execution_order(&hooks, "post-upgrade"),
        after,
        "the upgrade does not restore an autoscaled Deployment, so a start Job does, with RBAC"
    );
    assert_eq!(execution_order(&hooks, "post-install"), after);

    let find = |wanted: &str| hooks.iter().find(|h| id(h) == wanted).unwrap();
    let role = find("Role/shop-example-migrate-stop");
    let rules = serde_norway::to_string(&role["rules"]).unwrap();
    assert_eq!(
        role["rules"][0]["resourceNames"],
        Value::from(vec!["shop-example"]),
        "only the rendered Deployment: {rules}"
    );
    assert!(!rules.contains('*'), "no wildcards: {rules}");

    // The stop Job waits for the Deployment's pods; its own pods must not be among them.
    let deployment = documents(&manifest)
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap();
    assert!(
        deployment["spec"].get("replicas").is_none(),
        "the chart left replicas to an autoscaler"
    );
    let selector = deployment["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .unwrap();
    for job in ["Job/shop-example-migrate-stop", "Job/shop-example-migrate"] {
        let labels = &find(job)["spec"]["template"]["metadata"]["labels"];
        assert!(
            !selector.iter().all(|(k, v)| labels.get(k) == Some(v)),
            "{job}'s pods match the Deployment's selector {selector:?}"
        );
    }
    let migrate = &find("Job/shop-example-migrate")["spec"]["template"]["spec"];
    assert_eq!(
        migrate["containers"][1]["name"],
        Value::from("restore-hint"),
        "a failed migration's log says how to bring the app back"
    );
    assert_eq!(
        find("Job/shop-example-migrate-stop")["spec"]["template"]["spec"]["serviceAccountName"],
        Value::from("shop-example-migrate-stop")
    );
}

/// An umbrella chart (tests/charts/platform): a bundled database subchart labelled the old
/// way (`release:`, `heritage:`), and two subcharts made ready with `deploy-jobs init`, one
/// with a feature-flag ConfigMap (`MAINTENANCE_MODE: "off"`), one that sets its namespace.
/// Real Helm 4 installs it through the plugin; each subchart's jobs keep their own prefix,
/// the first subchart's hooks run first, the copies sit in their Job's namespace, and the
/// flags are still strings when kubectl (YAML 1.1) reads what Helm would apply.
#[test]
fn helm4_installs_an_umbrella_chart_with_two_deploy_jobs_subcharts() {
    let helm = Helm::with_plugin();
    let out = helm.ok(&[
        "install",
        "platform",
        "tests/charts/platform",
        "--namespace",
        "nsapp",
        "--dry-run=client",
        "--post-renderer",
        "deploy-jobs",
    ]);
    let (hooks_text, manifest) = sections(&out);
    let hooks = documents(&hooks_text);
    assert_eq!(
        execution_order(&hooks, "pre-install"),
        [
            "Secret/platform-postgresql-migrate-hook",
            "ConfigMap/platform-api-migrate-hook",
            "Job/platform-api-migrate",
            "Secret/platform-worker-migrate-hook",
            "Job/platform-worker-migrate",
        ],
        "each subchart's jobs keep their prefix, and the first subchart's run first"
    );
    let namespace = |name: &str| {
        hooks.iter().find(|h| id(h) == name).expect(name)["metadata"]["namespace"].clone()
    };
    assert_eq!(
        (
            namespace("Job/platform-worker-migrate"),
            namespace("Secret/platform-worker-migrate-hook")
        ),
        (Value::from("nsapp"), Value::from("nsapp")),
        "the worker's Job runs in its workload's namespace, and its copy is created there"
    );
    assert!(
        !manifest.contains("kind: DeployJobs"),
        "both DeployJobs documents are consumed"
    );

    // What Kubernetes reads: kubectl parses the hooks as Helm would apply them.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hooks.yaml");
    std::fs::write(&file, &hooks_text).unwrap();
    let read = std::process::Command::new(common::tool("kubectl"))
        .args(["annotate", "--local", "-f"])
        .arg(&file)
        .args(["x=y", "-o", "json"])
        .output()
        .unwrap();
    let read = common::succeeded(read, "kubectl annotate --local");
    let objects: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&read)
        .into_iter()
        .map(|v| v.expect("JSON"))
        .collect();
    let copy = objects
        .iter()
        .find(|o| o["metadata"]["name"] == "platform-api-migrate-hook")
        .expect("the ConfigMap copy");
    assert_eq!(
        copy["data"],
        serde_json::json!({"MAINTENANCE_MODE": "off", "FEATURE_BILLING": "yes", "RETRY_LIMIT": "1_000"}),
        "feature flags stay strings under YAML 1.1"
    );
    let job = objects
        .iter()
        .find(|o| o["metadata"]["name"] == "platform-api-migrate")
        .expect("the api Job");
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["env"][1],
        serde_json::json!({"name": "STRICT_MODE", "value": "on"}),
        "a reused env value stays a string under YAML 1.1"
    );
}
