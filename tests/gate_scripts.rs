//! The gate mode's gate and rollout scripts, taken from real renders of the golden cases and
//! run by `sh` against the `kubectl` stand-in (tests/common/stand_in.rs), with a PATH of
//! the gate image's programs only. Each case checks the exit status, what the log says, and
//! the exact list of kubectl calls. The replies' shapes are checked against what real
//! kubectl 1.35 prints for the same jsonpath, offline.
//!
//! Job names come from the renders (they follow the hashing); the Jobs of a newer release
//! are made up here, as a newer render would name them.

mod common;

use std::fs;

use common::stand_in::{Image, Outcome, Reply, err, ok, play_env, print};
use common::{documents, repo_root, run};
use serde_norway::Value;

const NAMESPACE: &str = "shop-ns";
const GATED_CASE: &str = "testdata/gate-job-gates-the-app-it-reuses";
const CHAINED_CASE: &str = "testdata/gate-two-jobs-run-in-list-order";
const FOLLOWING_CASE: &str = "testdata/gate-post-job-runs-after-the-rollout";
const JOB_STATE: &str = "-o jsonpath={.status.conditions[?(@.status==\"True\")].type}";
/// A workload's pod template, or a CronJob's (an object has one of the two).
const GATE_JOBS: &str = "-o jsonpath={.spec.template.metadata.annotations.deploy-jobs\\.io/gate-jobs}{.spec.jobTemplate.spec.template.metadata.annotations.deploy-jobs\\.io/gate-jobs}";
/// The jobs of newer releases, as they would be named.
const NEW_MIGRATE: &str = "shop-migrate-0f1e2d3c4b";
const NEW_SEED: &str = "shop-seed-1a2b3c4d5e";
const NEWER_MIGRATE: &str = "shop-migrate-9e8d7c6b5a";

/// What `kubectl rollout status` reads, per kind (kubectl's rollout_status.go).
const DEPLOYMENT_FIELDS: &str = "{.metadata.generation}|{.status.observedGeneration}|{.status.conditions[?(@.type==\"Progressing\")].reason}|{.spec.replicas}|{.status.replicas}|{.status.updatedReplicas}|{.status.availableReplicas}";
const STATEFULSET_FIELDS: &str = "{.spec.updateStrategy.type}|{.metadata.generation}|{.status.observedGeneration}|{.spec.replicas}|{.status.readyReplicas}|{.spec.updateStrategy.rollingUpdate}|{.spec.updateStrategy.rollingUpdate.partition}|{.status.updatedReplicas}|{.status.currentRevision}|{.status.updateRevision}";
const DAEMONSET_FIELDS: &str = "{.spec.updateStrategy.type}|{.metadata.generation}|{.status.observedGeneration}|{.status.desiredNumberScheduled}|{.status.updatedNumberScheduled}|{.status.numberAvailable}";

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

/// The first line of each script: in a Job's own pod, a preamble may come before it.
const GATE_SCRIPT_START: &str = "# deploy-jobs gate: hold this pod";
const ROLLOUT_SCRIPT_START: &str = "# deploy-jobs rollout: hold this Job's pod";

/// The init container of this name.
fn init_container<'a>(pod_template: &'a Value, name: &str) -> &'a Value {
    pod_template["spec"]["initContainers"]
        .as_sequence()
        .and_then(|s| s.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("the pod has the init container {name}"))
}

/// `sh -c SCRIPT NAME ARGS...` with the script of `container` from its first line on.
fn script_command(container: &Value, start: &str, args: &[&str]) -> Vec<String> {
    let command = command_of(container);
    let text = &command[2];
    let at = text
        .find(start)
        .unwrap_or_else(|| panic!("the container runs the script that starts {start:?}"));
    let mut out = vec![
        "sh".into(),
        "-c".into(),
        text[at..].to_string(),
        command[3].clone(),
    ];
    out.extend(args.iter().map(|a| a.to_string()));
    out
}

/// What a Job's own gate or rollout container waits for: the Job's annotation `key` where
/// the Job carries it, else the container's arguments after the first `skip`.
fn own_waits(job: &Value, container: &Value, key: &str, skip: usize) -> Vec<String> {
    match job["metadata"]["annotations"][key].as_str() {
        Some(list) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        None => command_of(container)[4 + skip..].to_vec(),
    }
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("the render has {kind}/{name}"))
}

/// The Job of the list entry `job` (its `deploy-jobs.io/job` annotation).
fn job_doc<'a>(docs: &'a [Value], job: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == "Job" && d["metadata"]["annotations"]["deploy-jobs.io/job"] == job)
        .unwrap_or_else(|| panic!("the render has the Job of {job}"))
}

fn name_of(doc: &Value) -> String {
    doc["metadata"]["name"].as_str().unwrap().to_string()
}

/// A gated Deployment's gate command, and the Jobs its template names.
struct Gated {
    command: Vec<String>,
    jobs: Vec<String>,
}

fn gated(case: &str, limit: &str) -> Gated {
    let docs = rendered(case);
    let shop = find(&docs, "Deployment", "shop");
    let template = &shop["spec"]["template"];
    let gate = init_container(template, "deploy-jobs-gate");
    assert_eq!(gate["name"], "deploy-jobs-gate");
    assert_eq!(gate["image"], GATE_IMAGE);
    let listed = template["metadata"]["annotations"]["deploy-jobs.io/gate-jobs"]
        .as_str()
        .expect("the gated template names its Jobs");
    let jobs: Vec<String> = listed.split(',').map(str::to_string).collect();
    let command = command_of(gate);
    let mut args = vec![limit.to_string(), "Deployment/shop".to_string()];
    args.extend(jobs.iter().cloned());
    assert_eq!(
        command[4..],
        args,
        "the gate waits for the Jobs its template names (giving up after the longest deadline and a minute) and reads its own workload"
    );
    Gated { command, jobs }
}

/// The app's gate in the one-job case, and its migration Job.
fn gate() -> (Vec<String>, String) {
    let Gated { command, jobs } = gated(GATED_CASE, "300");
    assert_eq!(jobs.len(), 1, "one job gates the app");
    let job = jobs[0].clone();
    (command, job)
}

fn job_state(job: &str, out: &str) -> Reply {
    ok(&format!("-n {NAMESPACE} get job {job} {JOB_STATE}"), out)
}

fn job_error(job: &str, out: &str) -> Reply {
    err(&format!("-n {NAMESPACE} get job {job} {JOB_STATE}"), out)
}

fn not_found(job: &str) -> Reply {
    job_error(
        job,
        &format!(r#"Error from server (NotFound): jobs.batch "{job}" not found"#),
    )
}

fn forbidden(job: &str) -> Reply {
    job_error(
        job,
        &format!(
            r#"Error from server (Forbidden): jobs.batch "{job}" is forbidden: User "system:serviceaccount:shop-ns:shop" cannot get resource "jobs" in API group "batch" in the namespace "shop-ns""#
        ),
    )
}

fn gate_jobs(listed: &str) -> Reply {
    ok(
        &format!("-n {NAMESPACE} get Deployment shop {GATE_JOBS}"),
        listed,
    )
}

fn gate_jobs_error(out: &str) -> Reply {
    err(
        &format!("-n {NAMESPACE} get Deployment shop {GATE_JOBS}"),
        out,
    )
}

const COMPLETE: &str = "SuccessCriteriaMet Complete";
const FAILED: &str = "FailureTarget Failed";
const RUNNING: &str = "";

fn played(command: &[String], replies: &[Reply], clock: bool, succeeds: bool) -> Outcome {
    played_env(command, replies, clock, succeeds, &[])
}

fn played_env(
    command: &[String],
    replies: &[Reply],
    clock: bool,
    succeeds: bool,
    env: &[(&str, &str)],
) -> Outcome {
    let outcome: Outcome = play_env(command, replies, &image(clock), env);
    assert_eq!(outcome.success, succeeds, "{}", outcome.log);
    let expected: Vec<String> = replies.iter().map(|r| r.args.clone()).collect();
    assert_eq!(outcome.calls, expected, "{}", outcome.log);
    outcome
}

fn check(command: &[String], replies: &[Reply], clock: bool, succeeds: bool, phrases: &[&str]) {
    let outcome = played(command, replies, clock, succeeds);
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
    let (command, job) = gate();
    check(
        &command,
        &[job_state(&job, COMPLETE)],
        false,
        true,
        &[
            &format!("Job {job} (namespace shop-ns) succeeded"),
            "every Job this pod waits for has succeeded",
        ],
    );
}

/// What the gate says when a Job failed: the exact way back (issue 16, class 5). `later`:
/// the Jobs after it in the list that did not succeed.
fn recovery(failed: &str, later: &[&str]) -> String {
    let (which, delete) = if later.is_empty() {
        ("it".to_string(), failed.to_string())
    } else {
        (
            "it and the Jobs after it that failed with it".to_string(),
            format!("{failed} {}", later.join(" ")),
        )
    };
    format!(
        "deploy-jobs gate: Job {failed} (namespace shop-ns) failed; its log: kubectl -n shop-ns logs job/{failed}\n\
         deploy-jobs gate: a failed Job never runs again by itself. Once the cause is fixed, delete {which}: kubectl -n shop-ns delete job {delete}\n\
         deploy-jobs gate: the next apply of the release (helm upgrade --install; kubectl apply; flux reconcile kustomization NAME, or flux reconcile helmrelease NAME --force) then creates it again and it runs; gated pods wait for it meanwhile. A change to what the Job runs makes a new Job instead, which needs no delete.\n"
    )
}

#[test]
fn a_failed_job_fails_the_gate_at_once_naming_its_log_and_the_command_that_runs_it_again() {
    let (command, job) = gate();
    // The workload still waits for it: the failure is final.
    let outcome = played(
        &command,
        &[job_state(&job, FAILED), gate_jobs(&job)],
        false,
        false,
    );
    assert_eq!(
        outcome.log,
        recovery(&job, &[]),
        "the whole message: the log command, the delete command, and what the next apply does"
    );
    // Nor can it tell that a newer release replaced it when the workload cannot be read.
    let outcome = played(
        &command,
        &[
            job_state(&job, FAILED),
            gate_jobs_error(r#"Error from server (NotFound): deployments.apps "shop" not found"#),
        ],
        false,
        false,
    );
    assert_eq!(outcome.log, recovery(&job, &[]));
}

#[test]
fn a_failed_job_names_the_later_jobs_that_failed_with_it_in_its_delete_command() {
    let Gated { command, jobs } = gated(CHAINED_CASE, "540");
    let [migrate, seed] = &jobs[..] else {
        panic!("two jobs gate the app: {jobs:?}")
    };
    // The seed's own gate failed when the migration did: the seed failed too, and must be
    // deleted with it, or it would stay failed after the migration ran again.
    let listed = jobs.join(",");
    let outcome = played(
        &command,
        &[
            job_state(migrate, FAILED),
            gate_jobs(&listed),
            job_state(seed, FAILED),
        ],
        false,
        false,
    );
    assert_eq!(outcome.log, recovery(migrate, &[seed]));
    // A later Job that succeeded is never named: deleted, it would run again; nor one still
    // running: it would be killed (the next run of the gate names it once it failed).
    for state in [COMPLETE, RUNNING] {
        let outcome = played(
            &command,
            &[
                job_state(migrate, FAILED),
                gate_jobs(&listed),
                job_state(seed, state),
            ],
            false,
            false,
        );
        assert_eq!(outcome.log, recovery(migrate, &[]), "the seed is {state:?}");
    }
    // A later Job that is not there has nothing to delete.
    let outcome = played(
        &command,
        &[
            job_state(migrate, FAILED),
            gate_jobs(&listed),
            not_found(seed),
        ],
        false,
        false,
    );
    assert_eq!(outcome.log, recovery(migrate, &[]));
}

#[test]
fn after_the_failed_job_is_deleted_the_gate_waits_for_it_and_passes_once_it_ran_again() {
    let (command, job) = gate();
    // The kubelet runs the gate again after it failed; meanwhile the user deleted the Job,
    // and the next apply creates it again.
    let first = played(
        &command,
        &[job_state(&job, FAILED), gate_jobs(&job)],
        false,
        false,
    );
    assert!(
        first.log.contains(&format!("delete job {job}\n")),
        "{}",
        first.log
    );
    check(
        &command,
        &[
            not_found(&job),
            gate_jobs(&job),
            not_found(&job),
            gate_jobs(&job),
            job_state(&job, RUNNING),
            job_state(&job, COMPLETE),
        ],
        false,
        true,
        &[
            &format!("waiting for Job {job} (namespace shop-ns), which is not created yet"),
            &format!("waiting for Job {job} (namespace shop-ns), which is running"),
            &format!("Job {job} (namespace shop-ns) succeeded"),
            "every Job this pod waits for has succeeded",
        ],
    );
}

#[test]
fn the_gate_waits_while_the_job_is_not_created_yet_then_running() {
    let (command, job) = gate();
    check(
        &command,
        &[
            not_found(&job),
            gate_jobs(&job),
            job_state(&job, RUNNING),
            job_state(&job, COMPLETE),
        ],
        false,
        true,
        &[
            &format!("waiting for Job {job} (namespace shop-ns), which is not created yet"),
            &format!("waiting for Job {job} (namespace shop-ns), which is running"),
            "succeeded",
        ],
    );
}

/// Issue 16, class 2: an old pod whose Job a newer release replaced (and pruned) waits for
/// the Jobs its workload waits for now, and passes only when they have succeeded.
#[test]
fn an_old_pod_whose_job_was_replaced_waits_for_the_new_job_to_succeed() {
    let (command, job) = gate();
    check(
        &command,
        &[
            not_found(&job),
            gate_jobs(NEW_MIGRATE),
            job_state(NEW_MIGRATE, RUNNING),
            job_state(NEW_MIGRATE, COMPLETE),
            gate_jobs(NEW_MIGRATE),
        ],
        false,
        true,
        &[
            &format!(
                "Job {job} (namespace shop-ns) is gone and Deployment/shop no longer waits for it: a newer release replaced it; this pod waits for the Jobs Deployment/shop waits for now: {NEW_MIGRATE}"
            ),
            &format!("waiting for Job {NEW_MIGRATE} (namespace shop-ns), which is running"),
            &format!("Job {NEW_MIGRATE} (namespace shop-ns) succeeded"),
            "every Job Deployment/shop waits for has succeeded",
        ],
    );
}

/// The case seen on a real API server: the first install's migration failed, the next
/// release replaced it, and the failed Job is not pruned yet.
#[test]
fn an_old_pod_whose_failed_job_was_replaced_waits_for_the_new_job_to_succeed() {
    let (command, job) = gate();
    check(
        &command,
        &[
            job_state(&job, FAILED),
            gate_jobs(NEW_MIGRATE),
            job_state(NEW_MIGRATE, RUNNING),
            job_state(NEW_MIGRATE, COMPLETE),
            gate_jobs(NEW_MIGRATE),
        ],
        false,
        true,
        &[
            &format!(
                "Job {job} (namespace shop-ns) failed and Deployment/shop no longer waits for it: a newer release replaced it; this pod waits for the Jobs Deployment/shop waits for now: {NEW_MIGRATE}"
            ),
            &format!("Job {NEW_MIGRATE} (namespace shop-ns) succeeded"),
            "every Job Deployment/shop waits for has succeeded",
        ],
    );
}

#[test]
fn an_old_pod_fails_when_the_job_that_replaced_its_own_failed() {
    let (command, job) = gate();
    let outcome = played(
        &command,
        &[
            not_found(&job),
            gate_jobs(NEW_MIGRATE),
            job_state(NEW_MIGRATE, FAILED),
            gate_jobs(NEW_MIGRATE),
        ],
        false,
        false,
    );
    assert!(
        outcome.log.ends_with(&recovery(NEW_MIGRATE, &[])),
        "it names the new Job and its way back:\n{}",
        outcome.log
    );
}

#[test]
fn an_old_pod_follows_the_list_when_it_changes_again() {
    let (command, job) = gate();
    check(
        &command,
        &[
            not_found(&job),
            gate_jobs(NEW_MIGRATE),
            job_state(NEW_MIGRATE, RUNNING),
            // A third release replaced (and pruned) the second one's Job.
            not_found(NEW_MIGRATE),
            gate_jobs(NEWER_MIGRATE),
            job_state(NEWER_MIGRATE, COMPLETE),
            gate_jobs(NEWER_MIGRATE),
        ],
        false,
        true,
        &[
            &format!("this pod waits for the Jobs Deployment/shop waits for now: {NEW_MIGRATE}"),
            &format!(
                "Job {NEW_MIGRATE} (namespace shop-ns) is gone and Deployment/shop no longer waits for it"
            ),
            &format!("waits for now: {NEWER_MIGRATE}"),
            "every Job Deployment/shop waits for has succeeded",
        ],
    );
}

#[test]
fn an_old_pod_reads_the_list_again_once_the_new_jobs_succeeded() {
    let (command, job) = gate();
    check(
        &command,
        &[
            not_found(&job),
            gate_jobs(NEW_MIGRATE),
            job_state(NEW_MIGRATE, COMPLETE),
            // Meanwhile a third release came, and its Job was not pruned (yet): the old pod
            // waits for it too.
            gate_jobs(&format!("{NEW_MIGRATE},{NEWER_MIGRATE}")),
            job_state(NEW_MIGRATE, COMPLETE),
            job_state(NEWER_MIGRATE, RUNNING),
            job_state(NEWER_MIGRATE, COMPLETE),
            gate_jobs(&format!("{NEW_MIGRATE},{NEWER_MIGRATE}")),
        ],
        false,
        true,
        &[
            &format!("Deployment/shop now waits for: {NEW_MIGRATE},{NEWER_MIGRATE}"),
            &format!("Job {NEWER_MIGRATE} (namespace shop-ns) succeeded"),
            "every Job Deployment/shop waits for has succeeded",
        ],
    );
}

#[test]
fn an_old_pod_passes_once_its_workload_is_no_longer_gated() {
    let (command, job) = gate();
    check(
        &command,
        &[
            not_found(&job),
            gate_jobs(NEW_MIGRATE),
            job_state(NEW_MIGRATE, RUNNING),
            not_found(NEW_MIGRATE),
            gate_jobs(""),
        ],
        false,
        true,
        &[&format!(
            "Job {NEW_MIGRATE} (namespace shop-ns) is gone and Deployment/shop waits for no Job any more: this pod passes"
        )],
    );
}

#[test]
fn a_new_job_this_pod_may_not_read_yet_is_waited_for() {
    let (command, job) = gate();
    let listed = format!("{NEW_MIGRATE},{NEW_SEED}");
    check(
        &command,
        &[
            // The old Role went with the old Job.
            forbidden(&job),
            gate_jobs(&listed),
            // The new release's Role is not there yet.
            forbidden(NEW_MIGRATE),
            gate_jobs(&listed),
            job_state(NEW_MIGRATE, COMPLETE),
            job_state(NEW_SEED, COMPLETE),
            gate_jobs(&listed),
        ],
        false,
        true,
        &[
            &format!("this pod waits for the Jobs Deployment/shop waits for now: {listed}"),
            &format!(
                "waiting for Job {NEW_MIGRATE} (namespace shop-ns), which cannot be read by this pod (Forbidden): the Role that grants it is not applied yet, or was removed with the Job"
            ),
            &format!("Job {NEW_SEED} (namespace shop-ns) succeeded"),
            "every Job Deployment/shop waits for has succeeded",
        ],
    );
}

#[test]
fn an_old_pod_whose_workload_is_gone_gives_up_and_the_kubelet_retries() {
    let (command, job) = gate();
    let gone = r#"Error from server (NotFound): deployments.apps "shop" not found"#;
    check(
        &command,
        &[
            not_found(&job),
            gate_jobs(NEW_MIGRATE),
            not_found(NEW_MIGRATE),
            gate_jobs_error(gone),
        ],
        true,
        false,
        &[&format!(
            "gave up after 300s: Job {NEW_MIGRATE} (namespace shop-ns) is not created yet, and Deployment/shop cannot be read to tell whether a newer release replaced it: {gone}; this container fails and the kubelet retries it"
        )],
    );
}

#[test]
fn forbidden_while_the_role_is_not_there_yet_keeps_waiting() {
    let (command, job) = gate();
    let workload_forbidden = gate_jobs_error(
        r#"Error from server (Forbidden): deployments.apps "shop" is forbidden: User "system:serviceaccount:shop-ns:shop" cannot get resource "deployments" in API group "apps" in the namespace "shop-ns""#,
    );
    check(
        &command,
        &[
            forbidden(&job),
            workload_forbidden,
            job_state(&job, COMPLETE),
        ],
        false,
        true,
        &[
            "which cannot be read by this pod (Forbidden)",
            "and Deployment/shop cannot be read to tell whether a newer release replaced it",
            "succeeded",
        ],
    );
}

/// A CronJob's runs are held as a workload's pods are: its gate reads the Jobs its job
/// template names.
#[test]
fn a_cronjob_run_reads_what_the_cronjob_waits_for_now() {
    let (command, job) = gate();
    let mut command = command;
    command[5] = "CronJob/report".to_string();
    let listed = |out: &str| {
        ok(
            &format!("-n {NAMESPACE} get CronJob report {GATE_JOBS}"),
            out,
        )
    };
    check(
        &command,
        &[
            not_found(&job),
            listed(&job),
            not_found(&job),
            listed(NEW_MIGRATE),
            job_state(NEW_MIGRATE, COMPLETE),
            listed(NEW_MIGRATE),
        ],
        false,
        true,
        &[
            &format!("waiting for Job {job} (namespace shop-ns), which is not created yet"),
            "CronJob/report no longer waits for it: a newer release replaced it",
            "every Job CronJob/report waits for has succeeded",
        ],
    );
}

#[test]
fn a_job_never_found_makes_the_gate_give_up_and_the_kubelet_retry() {
    let (command, job) = gate();
    check(
        &command,
        &[not_found(&job), gate_jobs(&job)],
        true,
        false,
        &[&format!(
            "deploy-jobs gate: gave up after 300s: Job {job} (namespace shop-ns) is not created yet; this container fails and the kubelet retries it"
        )],
    );
}

#[test]
fn the_second_job_waits_for_the_first_without_a_workload_to_read() {
    let docs = rendered(CHAINED_CASE);
    let migrate = name_of(job_doc(&docs, "migrate"));
    let seed = job_doc(&docs, "seed");
    let gate = init_container(&seed["spec"]["template"], "deploy-jobs-gate");
    assert_eq!(
        own_waits(seed, gate, "deploy-jobs.io/after", 2),
        [migrate.as_str()],
        "the seed waits for the migration"
    );
    // No limit (the Job's deadline bounds it), no workload.
    let command = script_command(gate, GATE_SCRIPT_START, &["0", "", &migrate]);
    // Not found is "not created yet": there is no workload to tell it was superseded.
    check(
        &command,
        &[not_found(&migrate), job_state(&migrate, FAILED)],
        true,
        false,
        &[
            "which is not created yet",
            &format!("Job {migrate} (namespace shop-ns) failed"),
            &format!(
                "this pod's Job fails with it. A failed Job never runs again by itself. Once the cause is fixed, delete it: kubectl -n shop-ns delete job {migrate}; and delete this pod's Job too"
            ),
        ],
    );
    // Where the pod knows its Job, the command names both.
    let seed_name = name_of(seed);
    let outcome = played_env(
        &command,
        &[job_state(&migrate, FAILED)],
        false,
        false,
        &[("JOB_NAME", &seed_name)],
    );
    assert!(
        outcome.log.contains(&format!(
            "this pod's Job fails with it. A failed Job never runs again by itself. Once the cause is fixed, delete them: kubectl -n shop-ns delete job {migrate} {seed_name}\n"
        )),
        "{}",
        outcome.log
    );
}

/// The `deploy-jobs-rollout` script of a real render, with other arguments.
fn rollout_script(args: &[&str]) -> Vec<String> {
    let docs = rendered(FOLLOWING_CASE);
    let job = job_doc(&docs, "cache-clear");
    let rollout = init_container(&job["spec"]["template"], "deploy-jobs-rollout");
    assert_eq!(
        own_waits(job, rollout, "deploy-jobs.io/follows", 0),
        ["Deployment/shop", "StatefulSet/shop-postgresql"],
        "the follow-up job waits for the app and its database"
    );
    script_command(rollout, ROLLOUT_SCRIPT_START, args)
}

fn rollout(target: &str, out: &str) -> Reply {
    let (kind, name) = target.split_once('/').unwrap();
    let fields = match kind {
        "Deployment" => DEPLOYMENT_FIELDS,
        "StatefulSet" => STATEFULSET_FIELDS,
        "DaemonSet" => DAEMONSET_FIELDS,
        _ => panic!("no rollout status for {kind}"),
    };
    ok(
        &format!("-n {NAMESPACE} get {kind} {name} -o jsonpath={fields}"),
        out,
    )
}

fn rollout_not_found(target: &str, resource: &str) -> Reply {
    let name = target.split_once('/').unwrap().1;
    err(
        &rollout(target, "").args,
        &format!(r#"Error from server (NotFound): {resource} "{name}" not found"#),
    )
}

/// Every state in which `kubectl rollout status` says a Deployment is not rolled out, in
/// the order kubectl checks them, then rolled out; then the StatefulSet.
#[test]
fn the_follow_up_job_waits_until_each_workload_has_rolled_out_as_kubectl_means_it() {
    check(
        &rollout_script(&["Deployment/shop", "StatefulSet/shop-postgresql"]),
        &[
            rollout_not_found("Deployment/shop", "deployments.apps"),
            // Just created: no status yet.
            rollout("Deployment/shop", "1|||2|||"),
            // A new generation the controller has not seen yet (its old status said done).
            rollout("Deployment/shop", "5|4|NewReplicaSetAvailable|2|2|2|2"),
            // Seen, one pod updated.
            rollout("Deployment/shop", "5|5|ReplicaSetUpdated|2|3|1|1"),
            // Every pod updated and available, but an old one still terminating (issue 16).
            rollout("Deployment/shop", "5|5|ReplicaSetUpdated|2|3|2|2"),
            // No old pod left, one new one not available yet.
            rollout("Deployment/shop", "5|5|ReplicaSetUpdated|2|2|2|1"),
            rollout("Deployment/shop", "5|5|NewReplicaSetAvailable|2|2|2|2"),
            // The database: the API server set rollingUpdate {partition: 0}.
            rollout(
                "StatefulSet/shop-postgresql",
                r#"RollingUpdate|3||1||{"partition":0}|0|||"#,
            ),
            rollout(
                "StatefulSet/shop-postgresql",
                r#"RollingUpdate|3|2|1|1|{"partition":0}|0|1|shop-postgresql-6d5f|shop-postgresql-6d5f"#,
            ),
            rollout(
                "StatefulSet/shop-postgresql",
                r#"RollingUpdate|3|3|1||{"partition":0}|0||shop-postgresql-6d5f|shop-postgresql-7c9a"#,
            ),
            // Ready and updated: done for kubectl, although the controller has not moved
            // currentRevision yet.
            rollout(
                "StatefulSet/shop-postgresql",
                r#"RollingUpdate|3|3|1|1|{"partition":0}|0|1|shop-postgresql-6d5f|shop-postgresql-7c9a"#,
            ),
        ],
        false,
        true,
        &[
            "waiting for Deployment/shop (namespace shop-ns): does not exist yet\n",
            "waiting for Deployment/shop (namespace shop-ns): its spec update is not observed yet\n",
            "waiting for Deployment/shop (namespace shop-ns): 1 out of 2 new replicas have been updated\n",
            "waiting for Deployment/shop (namespace shop-ns): 1 old replicas are pending termination\n",
            "waiting for Deployment/shop (namespace shop-ns): 1 of 2 updated replicas are available\n",
            "Deployment/shop (namespace shop-ns) has rolled out",
            "waiting for StatefulSet/shop-postgresql (namespace shop-ns): its spec update is not observed yet\n",
            "waiting for StatefulSet/shop-postgresql (namespace shop-ns): 1 pods are not ready yet\n",
            "StatefulSet/shop-postgresql (namespace shop-ns) has rolled out",
        ],
    );
}

#[test]
fn a_deployment_past_its_progress_deadline_fails_the_follow_up_job_as_kubectl_does() {
    let command = rollout_script(&["Deployment/shop"]);
    let deadline = "deploy-jobs rollout: Deployment/shop (namespace shop-ns) exceeded its progress deadline (condition Progressing, reason ProgressDeadlineExceeded), so kubectl rollout status fails and so does this Job. Why it is stuck: kubectl -n shop-ns describe Deployment shop\n";
    check(
        &command,
        &[
            // kubectl reads the condition only once the generation is observed: a deadline
            // a previous rollout exceeded does not count for a new one.
            rollout("Deployment/shop", "6|5|ProgressDeadlineExceeded|2|2|2|2"),
            rollout("Deployment/shop", "6|6|ReplicaSetUpdated|2|3|1|1"),
            rollout("Deployment/shop", "6|6|ProgressDeadlineExceeded|2|3|1|1"),
        ],
        false,
        false,
        &[
            "waiting for Deployment/shop (namespace shop-ns): its spec update is not observed yet\n",
            "waiting for Deployment/shop (namespace shop-ns): 1 out of 2 new replicas have been updated\n",
            deadline,
        ],
    );
    // Where the pod knows its Job, it says how to run it again.
    let outcome = played_env(
        &command,
        &[rollout(
            "Deployment/shop",
            "6|6|ProgressDeadlineExceeded|2|3|1|1",
        )],
        false,
        false,
        &[("JOB_NAME", "shop-cache-clear-0a1b2c3d4e")],
    );
    assert_eq!(
        outcome.log,
        format!(
            "{deadline}deploy-jobs rollout: a failed Job never runs again by itself. Once Deployment/shop has rolled out, delete it: kubectl -n shop-ns delete job shop-cache-clear-0a1b2c3d4e; the next apply of the release then creates it again and it runs.\n"
        )
    );
}

#[test]
fn a_statefulset_rolls_out_by_revision_without_rolling_update_settings_and_by_count_with_a_partition()
 {
    // `updateStrategy: {type: RollingUpdate}` as written, without rollingUpdate: kubectl
    // compares the revisions.
    check(
        &rollout_script(&["StatefulSet/db"]),
        &[
            rollout("StatefulSet/db", "RollingUpdate|4|4|3|3|||2|db-1|db-2"),
            rollout("StatefulSet/db", "RollingUpdate|4|4|3|3|||3|db-2|db-2"),
        ],
        false,
        true,
        &[
            "waiting for StatefulSet/db (namespace shop-ns): rolling update: 2 pods at revision db-2 so far\n",
            "StatefulSet/db (namespace shop-ns) has rolled out",
        ],
    );
    // A partition of 2 of 3: the rollout is done once the one pod above it is updated.
    check(
        &rollout_script(&["StatefulSet/db"]),
        &[
            rollout(
                "StatefulSet/db",
                r#"RollingUpdate|4|4|3|3|{"partition":2}|2||db-1|db-2"#,
            ),
            rollout(
                "StatefulSet/db",
                r#"RollingUpdate|4|4|3|3|{"partition":2}|2|1|db-1|db-2"#,
            ),
        ],
        false,
        true,
        &[
            "waiting for StatefulSet/db (namespace shop-ns): partitioned roll out: 0 out of 1 new pods have been updated\n",
            "StatefulSet/db (namespace shop-ns) has rolled out",
        ],
    );
}

#[test]
fn a_daemonset_has_rolled_out_when_every_scheduled_pod_is_updated_and_available() {
    check(
        &rollout_script(&["DaemonSet/agent"]),
        &[
            rollout_not_found("DaemonSet/agent", "daemonsets.apps"),
            rollout("DaemonSet/agent", "RollingUpdate|2|1|3|3|3"),
            rollout("DaemonSet/agent", "RollingUpdate|2|2|3|1|3"),
            rollout("DaemonSet/agent", "RollingUpdate|2|2|3|3|2"),
            rollout("DaemonSet/agent", "RollingUpdate|2|2|3|3|3"),
        ],
        false,
        true,
        &[
            "waiting for DaemonSet/agent (namespace shop-ns): does not exist yet\n",
            "waiting for DaemonSet/agent (namespace shop-ns): its spec update is not observed yet\n",
            "waiting for DaemonSet/agent (namespace shop-ns): 1 out of 3 new pods have been updated\n",
            "waiting for DaemonSet/agent (namespace shop-ns): 2 of 3 updated pods are available\n",
            "DaemonSet/agent (namespace shop-ns) has rolled out",
        ],
    );
}

#[test]
fn an_on_delete_update_strategy_fails_the_follow_up_job_as_kubectl_does() {
    for (target, reply) in [
        ("StatefulSet/db", "OnDelete|4|4|3|3||||db-1|db-2"),
        ("DaemonSet/agent", "OnDelete|2|2|3||3"),
    ] {
        check(
            &rollout_script(&[target]),
            &[rollout(target, reply)],
            false,
            false,
            &[&format!(
                "deploy-jobs rollout: {target} (namespace shop-ns) has update strategy OnDelete, and kubectl rollout status waits only for the RollingUpdate strategy: this Job cannot tell when it has rolled out, and fails"
            )],
        );
    }
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
    let (gate, _) = gate();
    let rollout = rollout_script(&[]);
    for template in [JOB_STATE, GATE_JOBS] {
        let path = template.strip_prefix("-o jsonpath=").unwrap();
        assert!(
            gate[2].contains(&format!("-o 'jsonpath={path}'")),
            "the gate reads {path}"
        );
    }
    for (kind, fields) in [
        ("Deployment", DEPLOYMENT_FIELDS),
        ("StatefulSet", STATEFULSET_FIELDS),
        ("DaemonSet", DAEMONSET_FIELDS),
    ] {
        assert!(
            rollout[2].contains(&format!("{kind}) fields='{fields}'")),
            "the rollout step reads {fields} of a {kind}"
        );
    }
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
        COMPLETE
    );
    assert_eq!(
        print(
            dir,
            &job("  - {type: FailureTarget, status: 'True'}\n  - {type: Failed, status: 'True'}\n"),
            state
        ),
        FAILED
    );
    assert_eq!(
        print(dir, &job("  - {type: Suspended, status: 'False'}\n"), state),
        RUNNING,
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
                &format!(
                    "      annotations: {{deploy-jobs.io/gate-jobs: '{NEW_MIGRATE},{NEW_SEED}'}}\n"
                ),
                ""
            ),
            listed
        ),
        format!("{NEW_MIGRATE},{NEW_SEED}")
    );
    assert_eq!(
        print(dir, &deployment("", ""), listed),
        "",
        "a template without the annotation: no Job"
    );
    let cronjob = object(
        "CronJob",
        &format!(
            "spec:\n  schedule: '0 * * * *'\n  jobTemplate:\n    spec:\n      template:\n        metadata:\n          annotations: {{deploy-jobs.io/gate-jobs: '{NEW_MIGRATE}'}}\n        spec: {{restartPolicy: Never, containers: [{{name: c, image: i}}]}}\n"
        ),
    )
    .replace("apps/v1", "batch/v1");
    assert_eq!(
        print(dir, &cronjob, listed),
        NEW_MIGRATE,
        "a CronJob's job template"
    );
    assert_eq!(
        print(dir, &deployment("", ""), DEPLOYMENT_FIELDS),
        "5|||2|||",
        "no status yet"
    );
    assert_eq!(
        print(
            dir,
            &deployment(
                "",
                "status:\n  observedGeneration: 5\n  replicas: 3\n  updatedReplicas: 2\n  availableReplicas: 2\n  conditions:\n  - {type: Available, status: 'True', reason: MinimumReplicasAvailable}\n  - {type: Progressing, status: 'True', reason: ReplicaSetUpdated}\n"
            ),
            DEPLOYMENT_FIELDS
        ),
        "5|5|ReplicaSetUpdated|2|3|2|2"
    );
    assert_eq!(
        print(
            dir,
            &deployment(
                "",
                "status:\n  observedGeneration: 5\n  replicas: 3\n  updatedReplicas: 1\n  availableReplicas: 1\n  conditions:\n  - {type: Progressing, status: 'False', reason: ProgressDeadlineExceeded}\n  - {type: Available, status: 'True', reason: MinimumReplicasAvailable}\n"
            ),
            DEPLOYMENT_FIELDS
        ),
        "5|5|ProgressDeadlineExceeded|2|3|1|1"
    );
    let statefulset = |strategy: &str, status: &str| {
        object(
            "StatefulSet",
            &format!(
                "spec:\n  replicas: 3\n  serviceName: x\n  updateStrategy: {strategy}\n  selector: {{matchLabels: {{a: b}}}}\n  template: {{metadata: {{labels: {{a: b}}}}, spec: {{containers: [{{name: c, image: i}}]}}}}\n{status}"
            ),
        )
    };
    assert_eq!(
        print(
            dir,
            &statefulset("{type: RollingUpdate, rollingUpdate: {partition: 0}}", ""),
            STATEFULSET_FIELDS
        ),
        r#"RollingUpdate|5||3||{"partition":0}|0|||"#,
        "no status yet"
    );
    assert_eq!(
        print(
            dir,
            &statefulset(
                "{type: RollingUpdate, rollingUpdate: {partition: 2}}",
                "status: {observedGeneration: 5, replicas: 3, readyReplicas: 3, currentReplicas: 2, updatedReplicas: 1, availableReplicas: 3, currentRevision: x-6d5f, updateRevision: x-7c9a}\n"
            ),
            STATEFULSET_FIELDS
        ),
        r#"RollingUpdate|5|5|3|3|{"partition":2}|2|1|x-6d5f|x-7c9a"#
    );
    assert_eq!(
        print(
            dir,
            &statefulset(
                "{type: RollingUpdate}",
                "status: {observedGeneration: 5, replicas: 3, readyReplicas: 3, currentReplicas: 1, updatedReplicas: 2, availableReplicas: 3, currentRevision: x-6d5f, updateRevision: x-7c9a}\n"
            ),
            STATEFULSET_FIELDS
        ),
        "RollingUpdate|5|5|3|3|||2|x-6d5f|x-7c9a",
        "the strategy as written, without rollingUpdate"
    );
    assert_eq!(
        print(
            dir,
            &statefulset(
                "{type: OnDelete}",
                "status: {observedGeneration: 5, replicas: 3, readyReplicas: 3, currentReplicas: 3, currentRevision: x-6d5f, updateRevision: x-7c9a}\n"
            ),
            STATEFULSET_FIELDS
        ),
        "OnDelete|5|5|3|3||||x-6d5f|x-7c9a"
    );
    let daemonset = |strategy: &str, status: &str| {
        object(
            "DaemonSet",
            &format!(
                "spec:\n  updateStrategy: {strategy}\n  selector: {{matchLabels: {{a: b}}}}\n  template: {{metadata: {{labels: {{a: b}}}}, spec: {{containers: [{{name: c, image: i}}]}}}}\nstatus: {status}\n"
            ),
        )
    };
    assert_eq!(
        print(
            dir,
            &daemonset(
                "{type: RollingUpdate, rollingUpdate: {maxUnavailable: 1, maxSurge: 0}}",
                "{observedGeneration: 5, desiredNumberScheduled: 3, updatedNumberScheduled: 2, numberAvailable: 3, currentNumberScheduled: 3, numberMisscheduled: 0, numberReady: 3}"
            ),
            DAEMONSET_FIELDS
        ),
        "RollingUpdate|5|5|3|2|3"
    );
    assert_eq!(
        print(
            dir,
            &daemonset(
                "{type: OnDelete}",
                "{observedGeneration: 5, desiredNumberScheduled: 3, currentNumberScheduled: 3, numberMisscheduled: 0, numberReady: 0}"
            ),
            DAEMONSET_FIELDS
        ),
        "OnDelete|5|5|3||",
        "counts the API server leaves out when 0"
    );
}
