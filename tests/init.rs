//! `deploy-jobs init` on a chart made by real `helm create`, then real `helm lint` and
//! `helm template --post-renderer deploy-jobs` on the result.

mod common;

use std::fs;
use std::process::Command;

use common::{Helm, documents, id};

fn init(chart: &std::path::Path, helm: &Helm) -> std::process::Output {
    init_with(chart, helm, &[])
}

fn init_with(chart: &std::path::Path, helm: &Helm, extra: &[&str]) -> std::process::Output {
    Command::new(common::BIN)
        .arg("init")
        .arg(chart)
        .args(extra)
        .arg("--helm")
        .arg(&helm.exe)
        .env("HELM_CONFIG_HOME", helm.home.path().join("config"))
        .env("HELM_DATA_HOME", helm.home.path().join("data"))
        .env("HELM_CACHE_HOME", helm.home.path().join("cache"))
        .output()
        .unwrap()
}

fn snapshot(chart: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for dir in [chart.to_path_buf(), chart.join("templates")] {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                files.push((path.display().to_string(), fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn init_makes_a_helm_create_chart_ready_and_is_idempotent() {
    let helm = Helm::with_plugin();
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("web");
    helm.ok(&["create", chart.to_str().unwrap()]);
    let original_values = fs::read_to_string(chart.join("values.yaml")).unwrap();

    let report = common::succeeded(init(&chart, &helm), "deploy-jobs init");
    assert!(
        report.contains("Deployment/<release>-web: web"),
        "lists reusable containers, with no release name the user never chose:\n{report}"
    );
    let values = fs::read_to_string(chart.join("values.yaml")).unwrap();
    assert!(
        values.starts_with(&original_values),
        "values.yaml is appended to, never rewritten"
    );
    assert!(chart.join("templates/deploy-jobs.yaml").is_file());
    assert!(chart.join("values.schema.json").is_file());

    let before = snapshot(&chart);
    let again = init(&chart, &helm);
    assert!(again.status.success());
    assert_eq!(snapshot(&chart), before, "a second init changes nothing");

    helm.ok(&["lint", chart.to_str().unwrap()]);
    // The chart with a job configured: lint checks it, and the post-renderer turns it into a hook.
    let jobs = work.path().join("jobs.yaml");
    fs::write(
        &jobs,
        "deploy_jobs:\n- name: migrate\n  container: web\n  command: [migrate]\n",
    )
    .unwrap();
    helm.ok(&[
        "lint",
        chart.to_str().unwrap(),
        "-f",
        jobs.to_str().unwrap(),
    ]);
    let rendered = helm.ok(&[
        "template",
        "shop",
        chart.to_str().unwrap(),
        "-f",
        jobs.to_str().unwrap(),
        "--post-renderer",
        "deploy-jobs",
    ]);
    let ids: Vec<String> = documents(&rendered).iter().map(id).collect();
    assert!(ids.contains(&"Job/shop-migrate".to_string()), "{ids:?}");
    assert!(!ids.iter().any(|i| i.starts_with("DeployJobs/")), "{ids:?}");

    fs::write(
        &jobs,
        "deploy_jobs:\n- name: migrate\n  container: web\n  comand: [migrate]\n",
    )
    .unwrap();
    let lint = helm
        .command()
        .args([
            "lint",
            chart.to_str().unwrap(),
            "-f",
            jobs.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        !lint.status.success(),
        "the schema init added rejects a misspelled key"
    );
}

#[test]
fn init_refuses_a_directory_that_is_not_a_chart() {
    let helm = Helm::new("helm4");
    let dir = tempfile::tempdir().unwrap();
    let out = init(dir.path(), &helm);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a Helm chart: it has no Chart.yaml")
    );
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

/// Most real charts refuse to render without some values (`required`); init takes them as
/// helm template does, and renders under the user's release name when asked.
#[test]
fn init_renders_a_chart_that_needs_values_with_helms_flags() {
    let helm = Helm::new("helm4");
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("rails");
    helm.ok(&["create", chart.to_str().unwrap()]);
    let deployment = chart.join("templates/deployment.yaml");
    let text = fs::read_to_string(&deployment).unwrap();
    fs::write(
        &deployment,
        format!(
            "{{{{- $key := required \"secretKeyBase is required\" .Values.secretKeyBase }}}}\n{text}"
        ),
    )
    .unwrap();

    let without = common::succeeded(init(&chart, &helm), "deploy-jobs init");
    assert!(
        without.contains("secretKeyBase is required") && without.contains("-f/--set"),
        "says why it could not list containers and how to pass values:\n{without}"
    );

    let values = work.path().join("ci.yaml");
    fs::write(&values, "secretKeyBase: from-a-file\n").unwrap();
    for extra in [
        vec!["--set", "secretKeyBase=x", "--release", "shop"],
        vec!["-f", values.to_str().unwrap(), "--release", "shop"],
        vec!["--set-string", "secretKeyBase=1", "--release", "shop"],
    ] {
        let report = common::succeeded(init_with(&chart, &helm, &extra), "deploy-jobs init");
        assert!(
            report.contains("as named in release shop")
                && report.contains("Deployment/shop-rails: rails"),
            "{extra:?} lists the containers under the user's release name:\n{report}"
        );
    }
}

/// `helm template shop CHART | deploy-jobs ARGS`, as the README and the book pipe it.
fn plan(helm: &Helm, chart: &std::path::Path, args: &[&str]) -> std::process::Output {
    let rendered = helm.ok(&["template", "shop", chart.to_str().unwrap()]);
    common::run(args, rendered.as_bytes())
}

/// The values block init appends, uncommented as a user would (issue 18, class 7: every
/// example deploy-jobs writes must pass `plan` as written).
fn uncomment_example(chart: &std::path::Path) {
    let path = chart.join("values.yaml");
    let values = fs::read_to_string(&path).unwrap();
    let uncommented: String = values
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if rest.starts_with("deploy_jobs") || rest.starts_with("  ") => rest,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(uncommented, values, "the example is there to uncomment");
    fs::write(&path, uncommented).unwrap();
}

#[test]
fn inits_own_example_passes_plan_as_written_and_names_the_release_through_tpl() {
    let helm = Helm::new("helm4");
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("web");
    helm.ok(&["create", chart.to_str().unwrap()]);
    common::succeeded(init(&chart, &helm), "deploy-jobs init");
    uncomment_example(&chart);
    helm.ok(&["lint", chart.to_str().unwrap()]);
    let out = plan(&helm, &chart, &["plan", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_str(&common::succeeded(
        out,
        "plan of init's uncommented example",
    ))
    .unwrap();
    let job = &report["events"][0]["hooks"][0];
    assert_eq!(job["name"], "shop-migrate");
    assert_eq!(
        job["waitFor"][0], "shop-postgresql:5432",
        "the values went through tpl: the release's name is in the Service's"
    );
}

#[test]
fn init_lists_the_services_a_job_can_wait_for_as_tpl_writes_them() {
    let helm = Helm::new("helm4");
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("web");
    helm.ok(&["create", chart.to_str().unwrap()]);
    let report = common::succeeded(init(&chart, &helm), "deploy-jobs init");
    assert!(
        report.contains("Services jobs can wait for")
            && report.contains("\"{{ .Release.Name }}-web:80\""),
        "{report}"
    );
}

#[test]
fn a_chart_that_bundles_its_database_learns_of_gate_mode_on_its_first_plan() {
    let helm = Helm::new("helm4");
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("web");
    helm.ok(&["create", chart.to_str().unwrap()]);
    // The bundled database: a subchart whose Service is `<release>-postgresql`.
    helm.ok(&["create", chart.join("charts/postgresql").to_str().unwrap()]);
    common::succeeded(init(&chart, &helm), "deploy-jobs init");
    let values = chart.join("values.yaml");
    let mut text = fs::read_to_string(&values).unwrap();
    text.push_str("deploy_jobs:\n  - name: migrate\n    container: web\n    command: [/app/migrate]\n    waitFor: ['{{ .Release.Name }}-postgresql:80']\n");
    fs::write(&values, text).unwrap();

    let first = plan(&helm, &chart, &["plan"]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        !first.status.success(),
        "at pre-install the database is not there"
    );
    assert!(
        stderr.contains("Service/shop-postgresql") && stderr.contains("`--target gate`"),
        "the first plan names gate mode as the path: {stderr}"
    );
    common::succeeded(
        plan(&helm, &chart, &["plan", "--target", "gate"]),
        "the plan it points to",
    );
}

/// The book's umbrella recipe, command for command (`docs/src/configuration.md`, "Umbrella
/// charts").
#[test]
fn inits_umbrella_recipe_gives_each_subchart_its_own_prefix() {
    let helm = Helm::new("helm4");
    let work = tempfile::tempdir().unwrap();
    let platform = work.path().join("platform");
    helm.ok(&["create", platform.to_str().unwrap()]);
    for sub in ["api", "worker"] {
        helm.ok(&[
            "create",
            platform.join("charts").join(sub).to_str().unwrap(),
        ]);
    }
    for sub in ["api", "worker"] {
        common::succeeded(init(&platform.join("charts").join(sub), &helm), "init");
    }
    let values = platform.join("values.yaml");
    let mut text = fs::read_to_string(&values).unwrap();
    text.push_str("api:\n  deploy_jobs:\n    - name: migrate\n      container: api\n      command: [/app/migrate]\nworker:\n  deploy_jobs:\n    - name: migrate\n      container: worker\n      command: [/app/migrate]\n");
    fs::write(&values, text).unwrap();
    let out = plan(&helm, &platform, &["plan", "-o", "json"]);
    let report: serde_json::Value =
        serde_json::from_str(&common::succeeded(out, "plan of the umbrella chart")).unwrap();
    let names: Vec<&str> = report["events"][0]["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["name"].as_str())
        .collect();
    assert_eq!(names, ["shop-api-migrate", "shop-worker-migrate"]);
}

/// The README's quickstart, steps 2 and 3 (issue 19): `helm create` plus the bundled
/// PostgreSQL of `examples/quickstart/`, then `init`. A new user learns from `init` itself,
/// in one round trip, that a chart bundling its database deploys in gate mode; the README
/// shows exactly what `init` prints; and the plan it points to passes.
#[test]
fn the_quickstart_chart_learns_of_gate_mode_from_init() {
    let helm = Helm::new("helm4");
    let work = tempfile::tempdir().unwrap();
    let chart = work.path().join("shop");
    helm.ok(&["create", chart.to_str().unwrap()]);
    fs::copy(
        common::repo_root().join("examples/quickstart/postgresql.yaml"),
        chart.join("templates/postgresql.yaml"),
    )
    .unwrap();
    let out = Command::new(common::BIN)
        .args(["init", "shop", "--helm"])
        .arg(&helm.exe)
        .current_dir(work.path())
        .env("HELM_CONFIG_HOME", helm.home.path().join("config"))
        .env("HELM_DATA_HOME", helm.home.path().join("data"))
        .env("HELM_CACHE_HOME", helm.home.path().join("cache"))
        .output()
        .unwrap();
    let report = common::succeeded(out, "deploy-jobs init shop");
    assert!(
        report.contains(
            "The chart bundles its database (StatefulSet/<release>-postgresql (postgres:17.2))"
        ) && report.contains("Deploy in gate mode, `--target gate`")
            && report.contains("deploy-jobs plan --target gate`"),
        "init names gate mode for a bundled database:\n{report}"
    );
    let readme = fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("```\n{report}```\n")),
        "the README's quickstart shows init's output as it is now:\n{report}"
    );

    let values = chart.join("values.yaml");
    let mut text = fs::read_to_string(&values).unwrap();
    text.push_str("deploy_jobs:\n  - name: migrate\n    container: shop\n    command: [/app/migrate, up]\n    waitFor: [\"{{ .Release.Name }}-postgresql:5432\"]\n");
    fs::write(&values, text).unwrap();
    let hooks = plan(&helm, &chart, &["plan"]);
    assert!(
        !hooks.status.success()
            && String::from_utf8_lossy(&hooks.stderr).contains("`--target gate`"),
        "in hook mode the job is refused, pointing at gate mode"
    );
    let gate = common::succeeded(
        plan(&helm, &chart, &["plan", "--target", "gate"]),
        "the plan init points to",
    );
    assert!(
        gate.contains("before Deployment/shop starts"),
        "the app waits for the migration:\n{gate}"
    );
    assert!(
        readme.contains(&format!("```\n{gate}```\n")),
        "the README's quickstart shows the gate-mode plan as it is now:\n{gate}"
    );
}
