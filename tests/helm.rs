//! Integration tests against the real helm 4.1.4 and 3.18.0 binaries (installed by
//! scripts/install-helm.sh): Helm itself must list the injected hooks in the intended order,
//! drop the DeployJobs document, leave the app manifests alone, show our errors, and Helm 3
//! must be refused.

mod common;

use common::{Helm, documents, id, sections};
use serde_norway::Value;
use std::process::Command;

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
    // Helm appends its own unmarshal error to the message: it must come after a line that
    // tells the user the error is above, never run on from the message itself.
    let ours = stderr
        .lines()
        .position(|l| l.contains("no container named `api`"))
        .unwrap();
    let helms = stderr
        .lines()
        .position(|l| l.contains("unmarshal"))
        .unwrap_or_else(|| panic!("helm appends its parse error:\n{stderr}"));
    assert!(
        helms > ours
            && stderr
                .lines()
                .nth(helms)
                .unwrap()
                .starts_with(deploy_jobs::helm::HELM_TEXT_FOLLOWS),
        "helm's own text is announced as noise, after our message:\n{stderr}"
    );

    // The same mistake through a pipe (`helm template | deploy-jobs render`), where the
    // stream has another order and `# Source:` comments instead of Helm 4's annotation: the
    // message names the same template file, never a document number that would differ.
    let values = [
        "--set",
        "deploy_jobs[0].name=migrate",
        "--set",
        "deploy_jobs[0].container=api",
        "--set",
        "deploy_jobs[0].command=migrate",
    ];
    let mut args = vec!["template", "shop", CHART];
    args.extend(values);
    let rendered = helm.ok(&args);
    let piped = common::run(&["render"], rendered.as_bytes());
    let piped_err = String::from_utf8_lossy(&piped.stderr);
    let message = "example/templates/deploy-jobs.yaml: deploy_jobs[0].container: no container named `api`; the rendered workloads are: Deployment/shop-example in example/templates/deployment.yaml";
    assert!(
        piped_err.contains(message),
        "the pipe names the file:\n{piped_err}"
    );
    assert!(
        stderr.contains(message),
        "and so does the plugin, word for word:\n{stderr}"
    );
    assert!(
        !stderr.contains("document ") && !piped_err.contains("document "),
        "no document numbers, which differ between the two streams:\n{stderr}\n{piped_err}"
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
    assert!(
        stderr.contains("--post-renderer-args=--target=gate"),
        "the refusal names the gate mode, which Helm 3 can run: {stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing rendered");
}

/// Helm 3 with deploy-jobs behind a wrapper: the refusal, with nothing on stdout for Helm to
/// apply (old deploy-jobs looked only at its direct parent, or trusted HELM_PLUGIN_NAME,
/// and Helm 3 then put the migration Job under MANIFEST, beside the app).
fn assert_helm3_refused(out: std::process::Output, how: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "{how}: Helm 3 must not get injected hooks as ordinary resources; it rendered:\n{stdout}"
    );
    assert!(
        stderr.contains("Helm 3 post-renderer") && stderr.contains("deploy-jobs render"),
        "{how}: the refusal and its remedies reach Helm 3's error: {stderr}"
    );
    assert!(
        !stdout.contains("kind: Job"),
        "{how}: nothing rendered: {stdout}"
    );
}

#[test]
fn helm3_post_renderer_is_refused_through_a_wrapper_script() {
    let helm = Helm::new("helm3");
    let wrapper = helm.home.path().join("wrap.sh");
    // No `exec`: the shell stays between Helm 3 and deploy-jobs.
    std::fs::write(
        &wrapper,
        "#!/bin/sh\n\"$DEPLOY_JOBS_BIN\" render --env production \"$@\"\n",
    )
    .unwrap();
    make_executable(&wrapper);
    let out = helm
        .command()
        .args(["template", "shop", CHART, "--post-renderer"])
        .arg(&wrapper)
        .output()
        .unwrap();
    assert_helm3_refused(out, "through a wrapper script");
}

#[test]
fn helm3_post_renderer_is_refused_inside_a_helm3_plugin() {
    let helm = Helm::new("helm3");
    // A Helm 3 plugin that runs helm again, as helm-secrets and helm-diff do: Helm 3 sets
    // HELM_PLUGIN_NAME and HELM_PLUGIN_DIR for it, and the inner helm passes them on.
    let dir = helm.home.path().join("data/plugins/wrap");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("plugin.yaml"),
        "name: wrap\nversion: 0.1.0\nusage: runs helm\ndescription: a wrapper plugin\ncommand: \"$HELM_PLUGIN_DIR/wrap.sh\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("wrap.sh"), "#!/bin/sh\n\"$HELM_BIN\" \"$@\"\n").unwrap();
    make_executable(&dir.join("wrap.sh"));
    let plugins = helm.ok(&["plugin", "list"]);
    assert!(
        plugins.contains("wrap"),
        "the plugin is installed: {plugins}"
    );
    let out = helm
        .command()
        .args([
            "wrap",
            "template",
            "shop",
            CHART,
            "--post-renderer",
            common::BIN,
        ])
        .output()
        .unwrap();
    assert_helm3_refused(out, "inside a Helm 3 plugin");
}

fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
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

/// A chart that renders a Secret of its own as a pre-install hook at weight 5, read by the
/// migration: real Helm 4 must run the Secret first (deploy-jobs used to give the Job
/// weight 0, before the Secret existed), and the Secret is not copied.
#[test]
fn helm4_runs_the_charts_own_hook_before_the_job_that_reads_it() {
    let helm = Helm::with_plugin();
    let dir = tempfile::tempdir().unwrap();
    let chart = dir.path().join("example");
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(common::repo_root().join(CHART))
        .arg(&chart)
        .status()
        .unwrap();
    assert!(copied.success());
    std::fs::write(
        chart.join("templates/bootstrap-secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ include \"example.fullname\" . }}-bootstrap\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-weight: \"5\"\nstringData:\n  token: generated-at-install\n",
    )
    .unwrap();
    let values = dir.path().join("reads-hook.yaml");
    std::fs::write(
        &values,
        "deploy_jobs:\n- name: migrate\n  container: app\n  command: [/app/shop, migrate]\n  env:\n  - name: BOOTSTRAP_TOKEN\n    valueFrom:\n      secretKeyRef: {name: shop-example-bootstrap, key: token}\n",
    )
    .unwrap();
    let out = helm.ok(&[
        "install",
        "shop",
        chart.to_str().unwrap(),
        "--dry-run=client",
        "--post-renderer",
        "deploy-jobs",
        "-f",
        values.to_str().unwrap(),
    ]);
    let (hooks, _) = sections(&out);
    let hooks = documents(&hooks);
    let expected = [
        "Secret/shop-example-bootstrap",
        "Secret/shop-example-db-migrate-hook",
        "ConfigMap/shop-example-config-migrate-hook",
        "Job/shop-example-migrate",
    ];
    assert_eq!(execution_order(&hooks, "pre-install"), expected);
    assert_eq!(execution_order(&hooks, "pre-upgrade"), expected);
}

/// A long migration through real Helm 4: refused under Helm's default --timeout, with the
/// fix in the message Helm shows; accepted when the same --timeout reaches deploy-jobs.
#[test]
fn helm4_long_deadline_needs_the_same_timeout_in_deploy_jobs() {
    let helm = Helm::with_plugin();
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("long.yaml");
    std::fs::write(
        &values,
        "deploy_jobs:\n- name: migrate\n  container: app\n  command: [/app/shop, migrate]\n  activeDeadlineSeconds: 1800\n",
    )
    .unwrap();
    let values = values.to_str().unwrap();
    let out = helm
        .command()
        .args(install_through_plugin(&["-f", values]))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a Job outliving Helm's wait is refused"
    );
    assert!(
        stderr.contains("deploy_jobs[0].activeDeadlineSeconds")
            && stderr.contains("--post-renderer-args=--timeout=31m"),
        "Helm shows the key and the fix: {stderr}"
    );
    let out = helm.ok(&install_through_plugin(&[
        "-f",
        values,
        "--timeout",
        "31m",
        "--post-renderer-args=--timeout=31m",
    ]));
    let (hooks, _) = sections(&out);
    let job = documents(&hooks)
        .into_iter()
        .find(|h| id(h) == "Job/shop-example-migrate")
        .expect("the migration is a hook");
    assert_eq!(job["spec"]["activeDeadlineSeconds"], Value::from(1800));
}

/// The gate mode's structure as a real Helm applies it: the Job, its Role and RoleBinding
/// are ordinary resources (no deploy-jobs hook), and the app's Deployment has the gate as
/// its first init container, waiting for exactly that Job.
fn assert_gate_structure(manifest: &[Value], hooks: &[Value], how: &str) {
    assert!(
        !hooks
            .iter()
            .any(|h| !h["metadata"]["annotations"]["deploy-jobs.io/job"].is_null()),
        "{how}: no deploy-jobs hook: {:?}",
        hooks.iter().map(id).collect::<Vec<_>>()
    );
    let job = manifest
        .iter()
        .find(|d| d["kind"] == "Job")
        .unwrap_or_else(|| panic!("{how}: the Job is in the manifest"));
    let name = job["metadata"]["name"].as_str().unwrap();
    assert!(
        name.starts_with("shop-example-migrate-")
            && name.len() == "shop-example-migrate-".len() + 10,
        "{how}: the Job is named from its content: {name}"
    );
    assert!(
        job["metadata"]["annotations"]["helm.sh/hook"].is_null(),
        "{how}: the Job is no hook"
    );
    for kind in ["Role", "RoleBinding"] {
        assert!(
            manifest
                .iter()
                .any(|d| d["kind"] == kind && d["metadata"]["name"] == "shop-example-migrate-gate"),
            "{how}: the {kind} is in the manifest"
        );
    }
    let deployment = manifest
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap_or_else(|| panic!("{how}: the app is in the manifest"));
    let pod = &deployment["spec"]["template"];
    let gate = &pod["spec"]["initContainers"][0];
    assert_eq!(
        gate["name"], "deploy-jobs-gate",
        "{how}: the gate runs first"
    );
    let args: Vec<&str> = gate["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args[4..],
        ["300", "Deployment/shop-example", name],
        "{how}: the gate waits for that Job"
    );
    assert_eq!(
        pod["metadata"]["annotations"]["deploy-jobs.io/gate-jobs"], name,
        "{how}: the pod template names the Job it waits for"
    );
}

#[test]
fn helm3_template_with_the_gate_mode_is_not_refused() {
    let helm = Helm::new("helm3");
    let out = helm
        .command()
        .args([
            "template",
            "shop",
            CHART,
            "--post-renderer",
            common::BIN,
            "--post-renderer-args=--target=gate",
        ])
        .output()
        .unwrap();
    let text = common::succeeded(out, "helm3 template --post-renderer-args=--target=gate");
    assert_gate_structure(&documents(&text), &[], "helm 3.18.0");
}

#[test]
fn helm4_install_with_the_gate_mode_applies_everything_as_ordinary_resources() {
    let helm = Helm::with_plugin();
    let out = helm.ok(&install_through_plugin(&[
        "--post-renderer-args=--target=gate",
    ]));
    let (hooks, manifest) = sections(&out);
    assert_gate_structure(
        &documents(&manifest),
        &documents(&hooks),
        "helm 4.1.4 install --dry-run=client",
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
        execution_order(&hooks, "pre-upgrade"),
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
    let objects = common::kubectl_reads(&hooks_text);
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

/// Issue 18, class 5: teams moving from Helm 3 to Helm 4 run both on one Helm data
/// directory. Real Helm 3.18.0 cannot read a Helm 4 plugin's plugin.yaml and says so on
/// every command; the `helm3` that `scripts/install-helm.sh helm3 DIR` writes keeps its
/// plugins apart, and runs as the book's gate-mode command needs (`docs/src/helm-versions.md`).
#[test]
fn helm3_from_the_installer_runs_cleanly_beside_the_helm4_plugin() {
    let helm4 = Helm::with_plugin();
    let bin = tempfile::tempdir().unwrap();
    let out = Command::new(common::repo_root().join("scripts/install-helm.sh"))
        .args(["helm3"])
        .arg(bin.path())
        .output()
        .unwrap();
    let helm3 =
        std::path::PathBuf::from(common::succeeded(out, "install-helm.sh helm3 DIR").trim());
    assert_eq!(
        helm3,
        bin.path().join("helm3"),
        "named as the book types it"
    );
    let home = helm4.home.path();
    let run = |exe: &std::path::Path, args: &[&str]| {
        Command::new(exe)
            .args(args)
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env_remove("HELM_PLUGINS")
            .env_remove("HELM3_PLUGINS")
            .output()
            .unwrap()
    };
    // The fact the wrapper answers: the bare Helm 3 binary on the shared home complains.
    let bare = run(&common::tool("helm3"), &["version", "--short"]);
    assert!(
        String::from_utf8_lossy(&bare.stderr).contains("failed to load plugins"),
        "Helm 3 reads Helm 4's plugin directory: {}",
        String::from_utf8_lossy(&bare.stderr)
    );
    for args in [&["version", "--short"][..], &["plugin", "list"][..]] {
        let out = run(&helm3, args);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "helm3 {args:?} runs without a word about Helm 4's plugin: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        String::from_utf8_lossy(&run(&helm3, &["version", "--short"]).stdout).starts_with("v3."),
        "it is Helm 3"
    );
    // Helm 4 still sees its plugin.
    let list = run(&helm4.exe, &["plugin", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("deploy-jobs"));
}
