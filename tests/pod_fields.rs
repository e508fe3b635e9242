//! The table of what `container:` does with every field of the app's pod
//! (`deploy_jobs::pod_fields`) is complete, is what the code does, and is what the book
//! says:
//! - every field of `PodSpec`, `Container`, `EphemeralContainer` and `Volume` in the
//!   Kubernetes OpenAPI schemas the validator ships (every version it has, 1.25 on) is
//!   classified, so a new Kubernetes release shows up here, not as a silent drop;
//! - the keys a job's `securityContext` and `podSecurityContext` accept are Kubernetes' own;
//! - an app pod that sets every classified field yields a Job whose pod has the copied ones
//!   as they were, lacks the left-out ones, and a `plan` warning for each dropped one;
//! - the book's table (`docs/src/container.md`) is the one `pod_fields::markdown` writes (`UPDATE_GOLDEN=1`
//!   rewrites it).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use deploy_jobs::pod_fields::{self, CONTAINER, Handling, POD, VOLUME};
use serde_json::Value as Json;

/// The validator's schema folders, one per Kubernetes version (`v1.35.0-local-strict`).
fn schema_versions() -> Vec<PathBuf> {
    let out = Command::new(common::repo_root().join("scripts/install-validator.sh"))
        .output()
        .expect("install-validator.sh runs");
    let cmd = PathBuf::from(common::succeeded(out, "installing kubernetes-validate").trim());
    let venv = cmd.parent().and_then(|p| p.parent()).expect("venv/bin/cmd");
    let mut dirs = Vec::new();
    for lib in fs::read_dir(venv.join("lib")).expect("venv/lib") {
        let root = lib
            .unwrap()
            .path()
            .join("site-packages/kubernetes_validate/kubernetes-json-schema");
        for version in fs::read_dir(&root).into_iter().flatten() {
            let path = version.unwrap().path();
            if path.to_string_lossy().ends_with("-local-strict") {
                dirs.push(path);
            }
        }
    }
    dirs.sort();
    assert!(
        dirs.len() >= 10,
        "the validator ships schemas for Kubernetes 1.25 on: {dirs:?}"
    );
    dirs
}

/// The property names of a schema file, in every version: (field, first version with it).
fn fields(file: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for dir in schema_versions() {
        let text = fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let schema: Json = serde_json::from_str(&text).unwrap();
        let version = dir.file_name().unwrap().to_string_lossy().into_owned();
        for key in schema["properties"].as_object().expect("properties").keys() {
            if !out.iter().any(|(k, _)| k == key) {
                out.push((key.clone(), version.clone()));
            }
        }
    }
    assert!(out.len() > 5, "{file}: {out:?}");
    out
}

fn unclassified(schema: &[(String, String)], table: &[&str]) -> Vec<String> {
    schema
        .iter()
        .filter(|(k, _)| !table.contains(&k.as_str()))
        .map(|(k, v)| format!("{k} (since {v})"))
        .collect()
}

#[test]
fn every_field_of_the_pod_is_classified() {
    let pod: Vec<&str> = POD.iter().map(|f| f.name).collect();
    let container: Vec<&str> = CONTAINER.iter().map(|f| f.name).collect();
    let mut volume: Vec<&str> = VOLUME.iter().map(|(k, _)| *k).collect();
    volume.push("name");
    for (file, table) in [
        ("podspec-v1.json", &pod),
        ("container-v1.json", &container),
        ("ephemeralcontainer-v1.json", &container),
        ("volume-v1.json", &volume),
    ] {
        let missing = unclassified(&fields(file), table);
        assert!(
            missing.is_empty(),
            "{file}: fields the pod_fields table does not classify (add each to src/pod_fields.rs, saying what the job's pod does with it): {missing:?}"
        );
    }
    // And nothing in the table that no Kubernetes version has (a typo would classify nothing).
    let known =
        |file: &str| -> BTreeSet<String> { fields(file).into_iter().map(|(k, _)| k).collect() };
    let (p, c, e, v) = (
        known("podspec-v1.json"),
        known("container-v1.json"),
        known("ephemeralcontainer-v1.json"),
        known("volume-v1.json"),
    );
    for name in &pod {
        assert!(p.contains(*name), "POD names `{name}`, no PodSpec field");
    }
    for name in &container {
        assert!(
            c.contains(*name) || e.contains(*name),
            "CONTAINER names `{name}`, no Container field"
        );
    }
    for name in &volume {
        assert!(v.contains(*name), "VOLUME names `{name}`, no Volume field");
    }
}

#[test]
fn a_jobs_security_context_keys_are_kubernetes_own() {
    for (file, table) in [
        ("securitycontext-v1.json", pod_fields::SECURITY_CONTEXT),
        (
            "podsecuritycontext-v1.json",
            pod_fields::POD_SECURITY_CONTEXT,
        ),
    ] {
        let schema: BTreeSet<String> = fields(file).into_iter().map(|(k, _)| k).collect();
        let ours: BTreeSet<String> = table.iter().map(|k| k.to_string()).collect();
        assert_eq!(
            ours, schema,
            "{file}: the keys a job may set are exactly Kubernetes'"
        );
    }
}

/// A sample value for a field: a mapping naming it, which no code path reads as anything.
fn sample(name: &str) -> String {
    format!("{{sample: {name}}}")
}

/// An app whose pod and container set every classified field (those the test cannot give a
/// neutral sample are left to the golden cases: `containers`, `volumes` and the like).
fn app() -> String {
    let mut pod = String::new();
    for field in POD {
        if matches!(
            field.handling,
            Handling::Copied | Handling::LeftOut | Handling::Dropped
        ) {
            pod.push_str(&format!("      {}: {}\n", field.name, sample(field.name)));
        }
    }
    let mut container = String::new();
    for field in CONTAINER {
        if matches!(
            field.job,
            Handling::Copied | Handling::LeftOut | Handling::Dropped
        ) && field.name != "name"
            && field.name != "workingDir"
        {
            container.push_str(&format!("        {}: {}\n", field.name, sample(field.name)));
        }
    }
    format!(
        "---\n# Source: shop/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\n  labels: {{app.kubernetes.io/instance: shop}}\nspec:\n  selector: {{matchLabels: {{app: shop}}}}\n  template:\n    metadata: {{labels: {{app: shop}}}}\n    spec:\n{pod}      containers:\n      - name: app\n        image: shop:1\n        workingDir: /srv\n{container}---\n# Source: shop/templates/deploy-jobs.yaml\napiVersion: deploy-jobs/v1\nkind: DeployJobs\nmetadata: {{name: shop}}\ndeploy_jobs:\n  - name: migrate\n    container: app\n    command: [migrate]\n"
    )
}

fn generated_pod(output: &str) -> Json {
    for doc in deploy_jobs::stream::split(output.as_bytes()).unwrap() {
        let value: serde_norway::Value = serde_norway::from_str(doc.yaml()).unwrap();
        if value["kind"].as_str() == Some("Job") {
            let json = serde_json::to_value(value).unwrap();
            return json["spec"]["template"]["spec"].clone();
        }
    }
    panic!("no Job in {output}")
}

#[test]
fn the_job_pod_is_what_the_table_says() {
    let input = app();
    let out = common::run(&["render"], input.as_bytes());
    let output = common::succeeded(out, "render");
    let pod = generated_pod(&output);
    let container = &pod["containers"][0];
    let want = |name: &str| serde_json::json!({ "sample": name });
    for field in POD {
        match field.handling {
            Handling::Copied => assert_eq!(
                pod[field.name],
                want(field.name),
                "pod `{}` is copied",
                field.name
            ),
            Handling::LeftOut | Handling::Dropped => assert!(
                pod.get(field.name).is_none(),
                "pod `{}` is left out: {}",
                field.name,
                pod[field.name]
            ),
            Handling::Adapted(_) => {}
        }
    }
    for field in CONTAINER {
        match field.job {
            Handling::Copied => assert_eq!(
                container[field.name],
                match field.name {
                    "name" => Json::from("app"),
                    "workingDir" => Json::from("/srv"),
                    n => want(n),
                },
                "container `{}` is copied",
                field.name
            ),
            Handling::LeftOut | Handling::Dropped => assert!(
                container.get(field.name).is_none(),
                "container `{}` is left out: {}",
                field.name,
                container[field.name]
            ),
            Handling::Adapted(_) => {}
        }
    }

    let out = common::run(&["plan", "--output", "json"], input.as_bytes());
    let report: Json = serde_json::from_str(&common::succeeded(out, "plan")).unwrap();
    let warnings: Vec<&str> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .collect();
    let dropped: Vec<&str> = CONTAINER
        .iter()
        .filter(|f| f.job == Handling::Dropped)
        .map(|f| f.name)
        .chain(
            POD.iter()
                .filter(|f| f.handling == Handling::Dropped)
                .map(|f| f.name),
        )
        .collect();
    assert!(
        !dropped.is_empty(),
        "the table drops something with a warning"
    );
    for name in dropped {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("migrate: ") && w.contains(&format!("`{name}`"))),
            "plan warns about the dropped `{name}`: {warnings:?}"
        );
    }
    for field in POD.iter().filter(|f| f.handling == Handling::LeftOut) {
        assert!(
            !warnings
                .iter()
                .any(|w| w.contains(&format!("`{}` ", field.name))),
            "no warning for `{}`, left out on purpose: {warnings:?}",
            field.name
        );
    }
}

const BEGIN: &str =
    "<!-- pod-fields: generated from src/pod_fields.rs by tests/pod_fields.rs -->\n";
const END: &str = "<!-- pod-fields end -->\n";

#[test]
fn the_books_table_is_the_code_table() {
    let path = common::repo_root().join("docs/src/container.md");
    let readme = fs::read_to_string(&path).unwrap();
    let start = readme
        .find(BEGIN)
        .expect("docs/src/container.md marks the generated table")
        + BEGIN.len();
    let end = start
        + readme[start..]
            .find(END)
            .expect("docs/src/container.md ends the generated table");
    let table = pod_fields::markdown();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(
            &path,
            format!("{}{table}{}", &readme[..start], &readme[end..]),
        )
        .unwrap();
        return;
    }
    assert!(
        readme[start..end] == table,
        "the book's \"What `container` copies\" table (docs/src/container.md) is stale: UPDATE_GOLDEN=1 cargo test --test pod_fields"
    );
}

/// A pod spec and its template's annotations.
type Pod = (serde_norway::Value, Vec<(String, String)>);

/// The pod spec inside a workload, and its template's annotations.
fn pod_of(doc: &serde_norway::Value) -> Option<Pod> {
    let kind = doc["kind"].as_str()?;
    let template = match kind {
        "Pod" => doc,
        "CronJob" => &doc["spec"]["jobTemplate"]["spec"]["template"],
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            &doc["spec"]["template"]
        }
        _ => return None,
    };
    let spec = template["spec"].clone();
    if !spec.is_mapping() {
        return None;
    }
    let annotations = template["metadata"]["annotations"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
        .collect();
    Some((spec, annotations))
}

fn level_of(
    pod: &(serde_norway::Value, Vec<(String, String)>),
) -> deploy_jobs::pod_security::Level {
    let pairs: Vec<(&str, &str)> = pod
        .1
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    deploy_jobs::pod_security::level(&pod.0, &pairs)
}

fn names_in(pod: &serde_norway::Value) -> Vec<String> {
    ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod[*k].as_sequence())
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// Every Job generated in the golden cases for a job that reuses a container meets the Pod
/// Security level of the app's pod (the lowest, when several workloads have a container of
/// that name), and every workload the gate mode rewrites keeps its own.
#[test]
fn every_generated_pod_meets_the_level_of_the_apps_pod() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for entry in fs::read_dir(common::repo_root().join("testdata")).unwrap() {
        let case = entry.unwrap().path();
        let (Ok(input), Ok(expected)) = (
            fs::read_to_string(case.join("input.yaml")),
            fs::read_to_string(case.join("expected.yaml")),
        ) else {
            continue;
        };
        let parse = |text: &str| -> Vec<serde_norway::Value> {
            deploy_jobs::stream::split(text.as_bytes())
                .map(|docs| {
                    docs.iter()
                        .filter_map(|d| serde_norway::from_str(d.yaml()).ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        let apps: Vec<(String, Pod)> = parse(&input)
            .iter()
            .filter(|d| d["metadata"]["annotations"]["helm.sh/hook"].is_null())
            .filter_map(|d| {
                let id = format!(
                    "{}/{}",
                    d["kind"].as_str()?,
                    d["metadata"]["name"].as_str()?
                );
                Some((id, pod_of(d)?))
            })
            .collect();
        for doc in parse(&expected) {
            let generated =
                doc["metadata"]["annotations"][deploy_jobs::GENERATED_ANNOTATION].is_string();
            let gated = doc["spec"]["template"]["metadata"]["annotations"]
                [deploy_jobs::strategy::gate::GATE_JOBS_ANNOTATION]
                .is_string();
            let Some(pod) = pod_of(&doc) else { continue };
            let name = format!(
                "{}/{}",
                doc["kind"].as_str().unwrap_or("?"),
                doc["metadata"]["name"].as_str().unwrap_or("?")
            );
            let app_level = if gated && !generated {
                apps.iter()
                    .find(|(id, _)| *id == name)
                    .map(|(_, p)| level_of(p))
            } else if generated && doc["kind"] == "Job" {
                let main = pod.0["containers"][0]["name"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string();
                apps.iter()
                    .filter(|(_, p)| names_in(&p.0).contains(&main))
                    .map(|(_, p)| level_of(p))
                    .min()
            } else {
                None
            };
            let Some(app_level) = app_level else { continue };
            checked += 1;
            let ours = level_of(&pod);
            if ours < app_level {
                failures.push(format!(
                    "{}: {name} meets {:?}, its app {app_level:?}",
                    case.file_name().unwrap().to_string_lossy(),
                    ours
                ));
            }
        }
    }
    assert!(
        checked >= 30,
        "only {checked} generated pods had an app to compare with"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
