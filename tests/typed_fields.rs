//! A Job's pod copied from the app's means to Kubernetes what the app's pod meant: real
//! kubectl 1.35 (YAML 1.1, offline `annotate --local`) reads the app's Deployment as written
//! in the chart (`defaultMode: 0555`, `runAsNonRoot: yes`, `readOnly: on`, `runAsUser: 1_000`)
//! and the generated Job, and the copied fields must come back equal.

mod common;

use std::fs;

const CASE: &str = "yaml11-typed-fields-copied-as-kubernetes-reads-them";

#[test]
fn copied_pod_fields_mean_what_they_meant_in_the_app() {
    let dir = common::repo_root().join("testdata").join(CASE);
    let input = fs::read_to_string(dir.join("input.yaml")).unwrap();
    let expected = fs::read_to_string(dir.join("expected.yaml")).unwrap();
    // The app as Kubernetes reads the chart's text (the DeployJobs document is not a
    // Kubernetes object kubectl knows offline, so only the Deployment is given to it).
    let deployment = input.split("\n---\n").next().unwrap();
    let app = common::kubectl_reads(deployment).remove(0);
    let job = common::kubectl_reads(&expected)
        .into_iter()
        .find(|d| d["kind"] == "Job")
        .expect("the generated Job");
    let app_pod = &app["spec"]["template"]["spec"];
    let job_pod = &job["spec"]["template"]["spec"];

    assert_eq!(
        app_pod["securityContext"]["runAsUser"], 1000,
        "kubectl reads 1_000 as 1000"
    );
    for field in ["securityContext", "enableServiceLinks", "volumes"] {
        assert_eq!(
            job_pod[field], app_pod[field],
            "{field}: the Job's reads as the app's"
        );
    }
    let (app_c, job_c) = (&app_pod["containers"][0], &job_pod["containers"][0]);
    for field in ["securityContext", "volumeMounts", "env"] {
        assert_eq!(job_c[field], app_c[field], "container {field}");
    }
    assert_eq!(
        job_c["env"][0]["value"], "off",
        "a quoted string stays the string it was"
    );
}

/// Gate mode writes the gated workload back (with its gate added): kubectl must read the
/// rewritten Deployment as it read the chart's, apart from the gate itself.
#[test]
fn a_gated_workload_means_what_it_meant_in_the_chart() {
    let dir = common::repo_root().join("testdata").join(CASE);
    let input = fs::read_to_string(dir.join("input.yaml")).unwrap();
    let gated = input.replace(
        "when: post-install,post-upgrade",
        "when: pre-install,pre-upgrade",
    );
    let out = common::run(&["render", "--target", "gate"], gated.as_bytes());
    let rendered = common::succeeded(out, "render --target gate");
    let deployment = input.split("\n---\n").next().unwrap();
    let app = common::kubectl_reads(deployment).remove(0);
    let rewritten = common::kubectl_reads(&rendered)
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("the gated Deployment");
    let (before, after) = (
        &app["spec"]["template"]["spec"],
        &rewritten["spec"]["template"]["spec"],
    );
    assert_eq!(
        after["initContainers"][0]["name"], "deploy-jobs-gate",
        "the gate was added"
    );
    for field in ["securityContext", "enableServiceLinks", "containers"] {
        assert_eq!(
            after[field], before[field],
            "{field}: as the chart meant it"
        );
    }
    let volumes = after["volumes"].as_array().unwrap();
    for volume in before["volumes"].as_array().unwrap() {
        assert!(
            volumes.contains(volume),
            "the app's volume {volume} reads as before"
        );
    }
}
