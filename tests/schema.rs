//! Every object deploy-jobs generates validates against the Kubernetes 1.35 JSON schema for
//! its apiVersion with unknown fields rejected (kubernetes-validate --strict, installed from
//! PyPI by scripts/install-validator.sh; it carries the schemas, so this runs offline), and
//! against the oldest Kubernetes docs/src/support.md names.

mod common;

use std::fs;
use std::process::Command;

use serde_norway::Value;

fn validator() -> String {
    let out = Command::new(common::repo_root().join("scripts/install-validator.sh"))
        .output()
        .expect("install-validator.sh runs");
    common::succeeded(out, "installing kubernetes-validate")
        .trim()
        .to_string()
}

/// The generated documents of an output stream (and the workloads the gate mode rewrote),
/// as deploy-jobs wrote them (the validator
/// reads YAML 1.1, as Kubernetes does, so they are not re-serialized by a YAML 1.2 writer).
/// Some golden inputs, passed through, are deliberately not valid YAML, so each document is
/// parsed on its own to tell whether it is generated.
fn generated(stream: &str) -> Vec<String> {
    deploy_jobs::stream::split(stream.as_bytes())
        .unwrap()
        .iter()
        .filter(|d| d.raw.contains("deploy-jobs.io/"))
        .filter(|d| {
            let value: Value = serde_norway::from_str(d.yaml()).unwrap_or(Value::Null);
            value["metadata"]["annotations"][deploy_jobs::GENERATED_ANNOTATION].is_string()
                || is_gated(&value)
        })
        .map(|d| d.yaml().to_string())
        .collect()
}

/// A workload the gate mode rewrote (its gate initContainer and token volume included),
/// where its pod template is (a CronJob's too), of a kind the Kubernetes schema has: a
/// custom resource (an Argo Rollout) has none to validate against.
fn is_gated(value: &Value) -> bool {
    let builtin = value["apiVersion"]
        .as_str()
        .is_some_and(|v| !v.contains('.') || v.contains(".k8s.io/"));
    let template = &value["spec"]["jobTemplate"]["spec"]["template"];
    let template = if template.is_mapping() {
        template
    } else {
        &value["spec"]["template"]
    };
    builtin
        && template["metadata"]["annotations"][deploy_jobs::strategy::gate::GATE_JOBS_ANNOTATION]
            .is_string()
}

/// The generated objects of every golden case.
fn golden_generated() -> Vec<String> {
    let mut objects = Vec::new();
    let mut cases = 0;
    for entry in fs::read_dir(common::repo_root().join("testdata")).unwrap() {
        let expected = entry.unwrap().path().join("expected.yaml");
        if let Ok(text) = fs::read_to_string(&expected) {
            let found = generated(&text);
            cases += usize::from(!found.is_empty());
            objects.extend(found);
        }
    }
    assert!(
        cases >= 20 && objects.len() >= 50,
        "{cases} cases, {} objects",
        objects.len()
    );
    objects
}

/// Validates `objects` strictly against the schema of Kubernetes `version`; fails the test
/// with the validator's report.
fn assert_valid(objects: &[String], version: &str, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("generated.yaml");
    let mut text = String::new();
    for object in objects {
        text.push_str("---\n");
        text.push_str(object);
        if !object.ends_with('\n') {
            text.push('\n');
        }
    }
    fs::write(&file, text).unwrap();
    let out = Command::new(validator())
        .args(["--strict", "--kubernetes-version", version, "--quiet"])
        .arg(&file)
        .output()
        .expect("kubernetes-validate runs");
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !report.contains("ERROR"),
        "{what} fail the Kubernetes {version} schema:\n{report}"
    );
}

#[test]
fn generated_objects_validate_strictly_against_the_kubernetes_schema() {
    assert_valid(&golden_generated(), "1.35.0", "generated objects");
}

/// Whether a pod of this object runs a native sidecar (an init container with
/// `restartPolicy: Always`, Kubernetes 1.29+).
fn has_native_sidecar(object: &str) -> bool {
    let value: Value = serde_norway::from_str(object).unwrap();
    let pod = &value["spec"]["template"]["spec"];
    let pod = if pod.is_mapping() {
        pod
    } else {
        &value["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    };
    pod["initContainers"]
        .as_sequence()
        .is_some_and(|c| c.iter().any(|c| c["restartPolicy"] == "Always"))
}

/// docs/src/support.md's minimum versions: every generated object fits the Kubernetes 1.27
/// schema (the oldest gate mode supports), and those that bring a native sidecar along fit
/// 1.29's (when native sidecars came on by default); the sidecars are refused by 1.27's.
#[test]
fn generated_objects_fit_the_oldest_supported_kubernetes() {
    let (sidecars, plain): (Vec<String>, Vec<String>) = golden_generated()
        .into_iter()
        .partition(|o| has_native_sidecar(o));
    assert!(
        !sidecars.is_empty() && plain.len() >= 50,
        "golden cases with and without native sidecars: {} and {}",
        sidecars.len(),
        plain.len()
    );
    assert_valid(
        &plain,
        "1.27.0",
        "generated objects without native sidecars",
    );
    assert_valid(
        &sidecars,
        "1.29.0",
        "generated objects with native sidecars",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sidecars.yaml");
    fs::write(&file, format!("---\n{}", sidecars.join("\n---\n"))).unwrap();
    let out = Command::new(validator())
        .args(["--strict", "--kubernetes-version", "1.27.0", "--quiet"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "1.27's schema refuses a native sidecar, so the 1.29 floor for `sidecars` is real"
    );
}

#[test]
fn the_validator_rejects_unknown_fields() {
    // Guards the test above: a validator that accepts anything would prove nothing.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    fs::write(
        &file,
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n  backofLimit: 0\n  template: {spec: {restartPolicy: Never, containers: [{name: a, image: b}]}}\n",
    )
    .unwrap();
    let out = Command::new(validator())
        .args(["--strict", "--kubernetes-version", "1.35.0"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a misspelled backoffLimit must be rejected"
    );
}
