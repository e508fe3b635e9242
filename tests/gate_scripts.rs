//! The gate mode's gate and rollout scripts, taken from real renders of the golden cases and
//! run by `sh` against the `kubectl` stand-in (tests/common/stand_in.rs), with a PATH of
//! the gate image's programs only. Each case checks the exit status, what the log says, and
//! the exact list of kubectl calls. The replies' shapes are checked against what real
//! kubectl 1.35 prints for the same jsonpath, offline.

mod common;

use std::fs;

use common::stand_in::{Image, Outcome, Reply, err, ok, play, print};
use common::{documents, repo_root, run};
use serde_norway::Value;

const NAMESPACE: &str = "shop-ns";
const GATED_CASE: &str = "testdata/gate-job-gates-the-app-it-reuses";
const CHAINED_CASE: &str = "testdata/gate-two-jobs-run-in-list-order";
const FOLLOWING_CASE: &str = "testdata/gate-post-job-runs-after-the-rollout";
const JOB: &str = "shop-migrate-ab6468615f";
const JOB_STATE: &str = "-o jsonpath={.status.conditions[?(@.status==\"True\")].type}";
const GATE_JOBS: &str =
    "-o jsonpath={.spec.template.metadata.annotations.deploy-jobs\\.io/gate-jobs}";
const ROLLOUT_STATE: &str = "-o jsonpath={.metadata.generation}|{.status.observedGeneration}|{.spec.replicas}|{.status.updatedReplicas}|{.status.availableReplicas}|{.status.currentRevision}|{.status.updateRevision}";
const NOT_FOUND: &str =
    r#"Error from server (NotFound): jobs.batch "shop-migrate-ab6468615f" not found"#;
const FORBIDDEN: &str = r#"Error from server (Forbidden): jobs.batch "shop-migrate-ab6468615f" is forbidden: User "system:serviceaccount:shop-ns:shop" cannot get resource "jobs" in API group "batch" in the namespace "shop-ns""#;

/// The default gate image, `alpine/kubectl`, is `FROM alpine` with kubectl added: Alpine's
/// busybox provides these (as for the stop step, whose image it is).
const GATE_IMAGE: &str = "alpine/kubectl:1.35.0";
const GATE_IMAGE_PROGRAMS: &[&str] = &["sh", "date", "sleep"];

fn image(jumping_clock: bool) -> Image {
    Image {
        programs: GATE_IMAGE_PROGRAMS,
        kubectl: true,
        jumping_clock,
        instant_sleep: true,
        namespace: NAMESPACE,
    }
}

/// A golden case rendered with `--target gate` by the binary under test.
fn rendered(case: &str) -> Vec<Value> {
    let input = fs::read(repo_root().join(case).join("input.yaml")).unwrap();
    let out = run(&["render", "--target", "gate"], &input);
    documents(&common::succeeded(out, "deploy-jobs render --target gate"))
}

fn command_of(container: &Value) -> Vec<String> {
    container["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// The first init container of the object of this kind and name.
fn first_init_container(case: &str, kind: &str, name: &str) -> Value {
    let docs = rendered(case);
    let doc = docs
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{case} renders {kind}/{name}"));
    doc["spec"]["template"]["spec"]["initContainers"][0].clone()
}

fn gate_command() -> Vec<String> {
    let gate = first_init_container(GATED_CASE, "Deployment", "shop");
    assert_eq!(gate["name"], "deploy-jobs-gate");
    assert_eq!(gate["image"], GATE_IMAGE);
    let command = command_of(&gate);
    assert_eq!(
        command[4..],
        ["300", "Deployment/shop", JOB],
        "the gate waits for the Job (giving up after its deadline and a minute) and reads its own workload"
    );
    command
}

fn job_state(out: &str) -> Reply {
    ok(&format!("-n {NAMESPACE} get job {JOB} {JOB_STATE}"), out)
}

fn job_error(out: &str) -> Reply {
    err(&format!("-n {NAMESPACE} get job {JOB} {JOB_STATE}"), out)
}

fn gate_jobs(listed: &str) -> Reply {
    ok(
        &format!("-n {NAMESPACE} get Deployment shop {GATE_JOBS}"),
        listed,
    )
}

fn check(command: &[String], replies: &[Reply], clock: bool, succeeds: bool, phrases: &[&str]) {
    let outcome: Outcome = play(command, replies, &image(clock));
    assert_eq!(outcome.success, succeeds, "{}", outcome.log);
    let expected: Vec<String> = replies.iter().map(|r| r.args.clone()).collect();
    assert_eq!(outcome.calls, expected, "{}", outcome.log);
    for phrase in phrases {
        assert!(
            outcome.log.contains(phrase),
            "the log lacks {phrase:?}:\n{}",
            outcome.log
        );
    }
}

#[test]
fn the_gate_passes_once_the_job_has_succeeded() {
    check(
        &gate_command(),
        &[job_state("SuccessCriteriaMet Complete")],
        false,
        true,
        &[
            "Job shop-migrate-ab6468615f (namespace shop-ns) succeeded",
            "every Job this pod waits for has succeeded",
        ],
    );
}

#[test]
fn the_gate_fails_at_once_naming_the_job_and_its_log_when_it_failed() {
    check(
        &gate_command(),
        &[job_state("FailureTarget Failed")],
        false,
        false,
        &[
            "deploy-jobs gate: Job shop-migrate-ab6468615f (namespace shop-ns) failed; its log: kubectl -n shop-ns logs job/shop-migrate-ab6468615f",
        ],
    );
}

#[test]
fn the_gate_waits_while_the_job_is_not_created_yet_then_running() {
    check(
        &gate_command(),
        &[
            job_error(NOT_FOUND),
            gate_jobs(JOB),
            job_state(""),
            job_state("SuccessCriteriaMet Complete"),
        ],
        false,
        true,
        &[
            "waiting for Job shop-migrate-ab6468615f (namespace shop-ns), which is not created yet",
            "waiting for Job shop-migrate-ab6468615f (namespace shop-ns), which is running",
            "succeeded",
        ],
    );
}

#[test]
fn an_old_pod_passes_when_a_newer_release_replaced_its_job() {
    check(
        &gate_command(),
        &[job_error(NOT_FOUND), gate_jobs("shop-migrate-0f1e2d3c4b")],
        false,
        true,
        &[
            "no longer waits for it (it waits for: shop-migrate-0f1e2d3c4b): a newer release replaced it; this pod passes",
        ],
    );
}

#[test]
fn a_job_no_longer_readable_because_the_role_moved_on_is_superseded_too() {
    check(
        &gate_command(),
        &[
            job_error(FORBIDDEN),
            gate_jobs("shop-migrate-0f1e2d3c4b,shop-seed-1a2b3c4d5e"),
        ],
        false,
        true,
        &["a newer release replaced it; this pod passes"],
    );
}

#[test]
fn forbidden_while_the_role_is_not_there_yet_keeps_waiting() {
    let workload_forbidden = err(
        &format!("-n {NAMESPACE} get Deployment shop {GATE_JOBS}"),
        r#"Error from server (Forbidden): deployments.apps "shop" is forbidden: User "system:serviceaccount:shop-ns:shop" cannot get resource "deployments" in API group "apps" in the namespace "shop-ns""#,
    );
    check(
        &gate_command(),
        &[
            job_error(FORBIDDEN),
            workload_forbidden,
            job_state("SuccessCriteriaMet Complete"),
        ],
        false,
        true,
        &["which is not created yet", "succeeded"],
    );
}

#[test]
fn a_job_never_found_makes_the_gate_give_up_and_the_kubelet_retry() {
    check(
        &gate_command(),
        &[job_error(NOT_FOUND), gate_jobs(JOB)],
        true,
        false,
        &[
            "deploy-jobs gate: gave up after 300s: Job shop-migrate-ab6468615f (namespace shop-ns) is not created yet; this container fails and the kubelet retries it",
        ],
    );
}

#[test]
fn the_second_job_waits_for_the_first_without_a_workload_to_read() {
    let docs = rendered(CHAINED_CASE);
    let seed = docs
        .iter()
        .find(|d| {
            d["kind"] == "Job" && d["metadata"]["annotations"]["deploy-jobs.io/job"] == "seed"
        })
        .expect("the seed Job");
    let gate = &seed["spec"]["template"]["spec"]["initContainers"][0];
    assert_eq!(gate["name"], "deploy-jobs-gate");
    let command = command_of(gate);
    assert_eq!(
        command[4..],
        ["0", "", JOB],
        "no limit (the Job's deadline bounds it), no workload: it waits for the migration"
    );
    // Not found is "not created yet": there is no workload to tell it was superseded.
    check(
        &command,
        &[job_error(NOT_FOUND), job_state("FailureTarget Failed")],
        true,
        false,
        &[
            "which is not created yet",
            "Job shop-migrate-ab6468615f (namespace shop-ns) failed",
        ],
    );
}

fn rollout_command() -> Vec<String> {
    let rollout = first_init_container(FOLLOWING_CASE, "Job", "shop-cache-clear-bfa29df00f");
    assert_eq!(rollout["name"], "deploy-jobs-rollout");
    let command = command_of(&rollout);
    assert_eq!(
        command[4..],
        ["Deployment/shop", "StatefulSet/shop-postgresql"]
    );
    command
}

fn rollout(target: &str, out: &str) -> Reply {
    let (kind, name) = target.split_once('/').unwrap();
    ok(
        &format!("-n {NAMESPACE} get {kind} {name} {ROLLOUT_STATE}"),
        out,
    )
}

#[test]
fn the_follow_up_job_waits_until_each_workload_has_rolled_out() {
    check(
        &rollout_command(),
        &[
            err(
                &rollout("Deployment/shop", "").args,
                r#"Error from server (NotFound): deployments.apps "shop" not found"#,
            ),
            // A new generation the controller has not seen yet.
            rollout("Deployment/shop", "5|4|2|2|2||"),
            // Seen, one pod updated.
            rollout("Deployment/shop", "5|5|2|1|2||"),
            rollout("Deployment/shop", "5|5|2|2|2||"),
            // Updated and available, but not every pod on the new revision yet.
            rollout(
                "StatefulSet/shop-postgresql",
                "3|3|1|1|1|shop-postgresql-6d5f|shop-postgresql-7c9a",
            ),
            rollout(
                "StatefulSet/shop-postgresql",
                "3|3|1|1|1|shop-postgresql-7c9a|shop-postgresql-7c9a",
            ),
        ],
        false,
        true,
        &[
            "waiting for Deployment/shop (namespace shop-ns), which does not exist yet",
            "which has 1 of 2 pods updated and 2 available",
            "Deployment/shop (namespace shop-ns) has rolled out",
            "StatefulSet/shop-postgresql (namespace shop-ns) has rolled out",
        ],
    );
}

fn object(kind: &str, extra: &str) -> String {
    format!(
        "apiVersion: {}\nkind: {kind}\nmetadata:\n  name: x\n  generation: 5\n{extra}",
        if kind == "Job" { "batch/v1" } else { "apps/v1" }
    )
}

/// The replies above have the shape real kubectl 1.35 prints for the scripts' jsonpaths,
/// on objects as the API server returns them.
#[test]
fn recorded_replies_have_the_shape_real_kubectl_prints() {
    let gate = gate_command();
    let rollout = rollout_command();
    for template in [JOB_STATE, GATE_JOBS] {
        let path = template.strip_prefix("-o jsonpath=").unwrap();
        assert!(
            gate[2].contains(&format!("-o 'jsonpath={path}'")),
            "the gate reads {path}"
        );
    }
    let fields = ROLLOUT_STATE.strip_prefix("-o jsonpath=").unwrap();
    assert!(
        rollout[2].contains(&format!("fields='{fields}'")),
        "the rollout step reads {fields} of Deployments and StatefulSets"
    );
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let state = JOB_STATE.strip_prefix("-o jsonpath=").unwrap();
    let job = |conditions: &str| {
        object(
            "Job",
            &format!(
                "spec: {{template: {{spec: {{restartPolicy: Never, containers: [{{name: c, image: i}}]}}}}}}\nstatus:\n  conditions:\n{conditions}"
            ),
        )
    };
    assert_eq!(
        print(
            dir,
            &job(
                "  - {type: SuccessCriteriaMet, status: 'True'}\n  - {type: Complete, status: 'True'}\n"
            ),
            state
        ),
        "SuccessCriteriaMet Complete"
    );
    assert_eq!(
        print(
            dir,
            &job("  - {type: FailureTarget, status: 'True'}\n  - {type: Failed, status: 'True'}\n"),
            state
        ),
        "FailureTarget Failed"
    );
    assert_eq!(
        print(dir, &job("  - {type: Suspended, status: 'False'}\n"), state),
        "",
        "a running Job: no condition is True"
    );
    let deployment = |annotations: &str, status: &str| {
        object(
            "Deployment",
            &format!(
                "spec:\n  replicas: 2\n  selector: {{matchLabels: {{a: b}}}}\n  template:\n    metadata:\n      labels: {{a: b}}\n{annotations}    spec: {{containers: [{{name: c, image: i}}]}}\n{status}"
            ),
        )
    };
    let listed = GATE_JOBS.strip_prefix("-o jsonpath=").unwrap();
    assert_eq!(
        print(
            dir,
            &deployment(
                "      annotations: {deploy-jobs.io/gate-jobs: 'shop-migrate-0f1e2d3c4b,shop-seed-1a2b3c4d5e'}\n",
                ""
            ),
            listed
        ),
        "shop-migrate-0f1e2d3c4b,shop-seed-1a2b3c4d5e"
    );
    assert_eq!(
        print(
            dir,
            &deployment(
                "",
                "status: {observedGeneration: 5, replicas: 2, updatedReplicas: 1, availableReplicas: 2}\n"
            ),
            fields
        ),
        "5|5|2|1|2||"
    );
    let statefulset = object(
        "StatefulSet",
        "spec:\n  replicas: 1\n  serviceName: x\n  selector: {matchLabels: {a: b}}\n  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}\nstatus: {observedGeneration: 3, replicas: 1, updatedReplicas: 1, availableReplicas: 1, currentRevision: x-6d5f, updateRevision: x-7c9a}\n",
    );
    assert_eq!(print(dir, &statefulset, fields), "5|3|1|1|1|x-6d5f|x-7c9a");
    let daemon_fields = "{.metadata.generation}|{.status.observedGeneration}|{.status.desiredNumberScheduled}|{.status.updatedNumberScheduled}|{.status.numberAvailable}||";
    assert!(
        rollout[2].contains(&format!("DaemonSet) fields='{daemon_fields}'")),
        "a DaemonSet's rollout is counted in nodes"
    );
    let daemonset = object(
        "DaemonSet",
        "spec:\n  selector: {matchLabels: {a: b}}\n  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}\nstatus: {observedGeneration: 5, desiredNumberScheduled: 3, updatedNumberScheduled: 2, numberAvailable: 3, currentNumberScheduled: 3, numberMisscheduled: 0, numberReady: 3}\n",
    );
    assert_eq!(print(dir, &daemonset, daemon_fields), "5|5|3|2|3||");
}
