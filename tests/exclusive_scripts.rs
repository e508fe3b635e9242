//! The stop, start and restore-hint scripts of an `exclusive` job, taken from a real render and
//! run by `sh` against a `kubectl` stand-in. The stand-in only replays recorded responses, in
//! order, and fails any call that differs from the recorded one; it is not a cluster. Every
//! case checks the exit status, what the log says, and the exact list of calls made.
//!
//! The scripts run with a PATH that holds only programs their image really contains (links
//! to this machine's copies), so a script that calls anything else fails here as it would
//! in the pod.

mod common;

use std::fs;
use std::sync::OnceLock;

use common::stand_in::{Outcome, Reply, err, ok, print};
use common::{documents, repo_root, run};

const CASE: &str = "testdata/exclusive-all-stops-every-workload";
const NAMESPACED_CASE: &str = "testdata/exclusive-targets-in-their-own-namespaces";
const NAMESPACE: &str = "shop-ns";
const DEPLOYMENT_SELECTOR: &str = "app.kubernetes.io/name=shop,app.kubernetes.io/instance=shop";
const STATEFULSET_SELECTOR: &str = "app.kubernetes.io/name=worker,app.kubernetes.io/instance=shop";
const READ_STATE: &str = "-o jsonpath={.spec.replicas}|{.spec.template.spec.terminationGracePeriodSeconds}|{.spec.podManagementPolicy}|{.metadata.annotations.deploy-jobs\\.io/replicas-before-stop}";
const LIVE_PODS: &str = "--field-selector=status.phase!=Succeeded,status.phase!=Failed -o jsonpath={range .items[*]}{.metadata.name} {.metadata.ownerReferences[?(@.controller==true)].kind}/{.metadata.ownerReferences[?(@.controller==true)].name}{\"\\n\"}{end}";
const NOT_FOUND: &str = r#"Error from server (NotFound): deployments.apps "shop" not found"#;
const FORBIDDEN: &str = r#"Error from server (Forbidden): deployments.apps "shop" is forbidden: User "system:serviceaccount:shop-ns:shop-migrate-stop" cannot get resource "deployments" in API group "apps" in the namespace "shop-ns""#;

/// The default stop image, `alpine/kubectl`, is `FROM alpine` with kubectl added (its
/// published Dockerfile, alpine-docker/multi-arch-docker-images kubectl/Dockerfile): Alpine's
/// busybox provides these. Only the ones the scripts need are linked; add one here only
/// after checking the image has it.
const STOP_IMAGE: &str = "alpine/kubectl:1.35.0";
const STOP_IMAGE_PROGRAMS: &[&str] = &["sh", "date", "sleep"];
/// The restore hint runs in the wait image, busybox, whose `sh` is all it may use.
const HINT_IMAGE_PROGRAMS: &[&str] = &["sh"];

fn get_state_in(ns: &str, target: &str, out: &str) -> Reply {
    let (kind, name) = target.split_once('/').unwrap();
    ok(&format!("-n {ns} get {kind} {name} {READ_STATE}"), out)
}

fn get_state(target: &str, out: &str) -> Reply {
    get_state_in(NAMESPACE, target, out)
}

fn annotate_in(ns: &str, target: &str, replicas: u32) -> Reply {
    let (kind, name) = target.split_once('/').unwrap();
    ok(
        &format!(
            "-n {ns} annotate --overwrite {kind} {name} deploy-jobs.io/replicas-before-stop={replicas}"
        ),
        &format!("{}.apps/{name} annotated", kind.to_lowercase()),
    )
}

fn annotate(target: &str, replicas: u32) -> Reply {
    annotate_in(NAMESPACE, target, replicas)
}

fn scale_args(target: &str, replicas: u32) -> String {
    let (kind, name) = target.split_once('/').unwrap();
    format!("-n {NAMESPACE} scale {kind} {name} --replicas={replicas}")
}

fn scale_in(ns: &str, target: &str, replicas: u32) -> Reply {
    let (kind, name) = target.split_once('/').unwrap();
    ok(
        &format!("-n {ns} scale {kind} {name} --replicas={replicas}"),
        &format!("{}.apps/{name} scaled", kind.to_lowercase()),
    )
}

fn scale(target: &str, replicas: u32) -> Reply {
    scale_in(NAMESPACE, target, replicas)
}

fn pods_in(ns: &str, selector: &str, out: &str) -> Reply {
    ok(&format!("-n {ns} get pods -l {selector} {LIVE_PODS}"), out)
}

fn pods(selector: &str, out: &str) -> Reply {
    pods_in(NAMESPACE, selector, out)
}

/// Plays `replies`, then checks the exit status, that exactly the recorded calls were made
/// in order, and that the log has every phrase.
fn check(command: &[String], replies: &[Reply], succeeds: bool, phrases: &[&str]) -> Outcome {
    let outcome = play(command, replies, Image::Stop);
    assert_eq!(outcome.success, succeeds, "{}", outcome.log);
    assert_eq!(outcome.calls, args(replies));
    assert_log(&outcome, phrases);
    outcome
}

/// A golden case, rendered once for all the tests.
fn rendered(case: &'static str) -> &'static [serde_norway::Value] {
    static DOCS: OnceLock<
        std::sync::Mutex<std::collections::HashMap<&str, &'static [serde_norway::Value]>>,
    > = OnceLock::new();
    let mut cache = DOCS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    cache.entry(case).or_insert_with(|| {
        let dir = repo_root().join(case);
        let values = dir.join("values.yaml");
        let input = fs::read(dir.join("input.yaml")).unwrap();
        let out = run(&["render", "--values", values.to_str().unwrap()], &input);
        documents(&common::succeeded(out, "deploy-jobs render")).leak()
    })
}

/// The rendered Job of the exclusive case by name.
fn rendered_job(case: &'static str, job: &str) -> &'static serde_norway::Value {
    rendered(case)
        .iter()
        .find(|d| d["kind"] == "Job" && d["metadata"]["name"] == job)
        .unwrap_or_else(|| panic!("the render has a Job {job}"))
}

/// The container commands of the rendered exclusive case, by Job and container name.
fn rendered_command(job: &str, container: &str) -> Vec<String> {
    rendered_command_in(CASE, job, container)
}

fn rendered_command_in(case: &'static str, job: &str, container: &str) -> Vec<String> {
    let job = rendered_job(case, job);
    let containers = job["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap();
    let c = containers
        .iter()
        .find(|c| c["name"] == container)
        .unwrap_or_else(|| panic!("{job:?} has a container {container}"));
    c["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

fn stop_command() -> Vec<String> {
    let command = rendered_command("shop-migrate-stop", "stop");
    assert_eq!(
        command[4..],
        [
            "190",
            "110",
            "Deployment/shop",
            "",
            DEPLOYMENT_SELECTOR,
            "StatefulSet/shop-worker",
            "",
            STATEFULSET_SELECTOR
        ],
        "the stop step waits 190 s (its deadline under Helm's default --timeout, less its kubectl calls) for both workloads, in the pod's own namespace; a longer wait needs 110 s more of --timeout"
    );
    command
}

/// The image a script runs in, and so the programs on its PATH.
#[derive(Clone, Copy, PartialEq)]
enum Image {
    /// The stop image, with the kubectl stand-in.
    Stop,
    /// The stop image with a clock that jumps: the wait for pods runs out at once.
    StopWithJumpingClock,
    /// The wait image, for the restore hint.
    Hint,
}

/// Runs `command` (`sh -c SCRIPT NAME ARGS...`) with a PATH of the image's programs only.
fn play(command: &[String], replies: &[Reply], image: Image) -> Outcome {
    let programs = match image {
        Image::Stop | Image::StopWithJumpingClock => STOP_IMAGE_PROGRAMS,
        Image::Hint => HINT_IMAGE_PROGRAMS,
    };
    common::stand_in::play(
        command,
        replies,
        &common::stand_in::Image {
            programs,
            kubectl: image != Image::Hint,
            jumping_clock: image == Image::StopWithJumpingClock,
            instant_sleep: false,
            namespace: NAMESPACE,
        },
    )
}

fn args(replies: &[Reply]) -> Vec<String> {
    replies.iter().map(|r| r.args.clone()).collect()
}

fn assert_log(outcome: &Outcome, phrases: &[&str]) {
    for phrase in phrases {
        assert!(
            outcome.log.contains(phrase),
            "the log lacks {phrase:?}:\n{}",
            outcome.log
        );
    }
}

const DEPLOYMENT: &str = "Deployment/shop";
const STATEFULSET: &str = "StatefulSet/shop-worker";
/// `replicas|grace|podManagementPolicy|recorded`, as the API server returns them (it
/// defaults the grace period and, for a StatefulSet, the policy).
const DEPLOYMENT_RUNNING: &str = "3|30||";
const STATEFULSET_RUNNING: &str = "2|30|OrderedReady|";

fn pod(name: &str, owner: &str) -> String {
    format!("{name} {owner}\n")
}

fn stops_both() -> Vec<Reply> {
    vec![
        get_state(DEPLOYMENT, DEPLOYMENT_RUNNING),
        get_state(STATEFULSET, STATEFULSET_RUNNING),
        annotate(DEPLOYMENT, 3),
        scale(DEPLOYMENT, 0),
        annotate(STATEFULSET, 2),
        scale(STATEFULSET, 0),
    ]
}

#[test]
fn the_default_stop_image_is_the_one_whose_programs_the_tests_allow() {
    let job = rendered_job(CASE, "shop-migrate-stop");
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        serde_norway::Value::from(STOP_IMAGE)
    );
}

#[test]
fn stop_scales_both_to_zero_records_the_counts_and_waits_for_the_pods() {
    let mut replies = stops_both();
    replies.extend([
        pods(
            DEPLOYMENT_SELECTOR,
            &(pod("shop-7d9f8c-abcde", "ReplicaSet/shop-7d9f8c")
                + &pod("shop-7d9f8c-fghij", "ReplicaSet/shop-7d9f8c")),
        ),
        pods(DEPLOYMENT_SELECTOR, ""),
        pods(STATEFULSET_SELECTOR, ""),
    ]);
    let outcome = check(
        &stop_command(),
        &replies,
        true,
        &[
            "scaled Deployment/shop from 3 to 0 replicas",
            "scaled StatefulSet/shop-worker from 2 to 0 replicas",
            "waiting for 2 pod(s) of Deployment/shop to terminate",
            "Deployment/shop has no pods left",
            "StatefulSet/shop-worker has no pods left",
            "the next job has the database to itself",
        ],
    );
    assert!(!outcome.log.contains("FAILED"), "{}", outcome.log);
}

#[test]
fn stop_waits_only_for_pods_the_workload_owns() {
    // The server leaves out Succeeded and Failed pods (the field selector is part of the
    // exact call). What matches the labels but belongs to something else is not waited
    // for: a CronJob's pod, a pod of Deployment/shop-api (its ReplicaSet is shop-api-HASH),
    // a bare pod.
    let mut replies = stops_both();
    replies.extend([
        pods(
            DEPLOYMENT_SELECTOR,
            &(pod("shop-report-29000-x2x", "Job/shop-report-29000")
                + &pod("shop-api-5f6d7-abcde", "ReplicaSet/shop-api-5f6d7")
                + "debug /\n"),
        ),
        pods(
            STATEFULSET_SELECTOR,
            &pod("shop-worker-1", "StatefulSet/shop-worker"),
        ),
        pods(STATEFULSET_SELECTOR, ""),
    ]);
    check(
        &stop_command(),
        &replies,
        true,
        &[
            "Deployment/shop has no pods left",
            "waiting for 1 pod(s) of StatefulSet/shop-worker to terminate",
            "the next job has the database to itself",
        ],
    );
}

#[test]
fn stop_succeeds_on_first_install_when_nothing_exists_yet() {
    let replies = [
        err(&get_state(DEPLOYMENT, "").args, NOT_FOUND),
        err(
            &get_state(STATEFULSET, "").args,
            r#"Error from server (NotFound): statefulsets.apps "shop-worker" not found"#,
        ),
    ];
    // The calls end there: no scaling, no pod listing.
    check(
        &stop_command(),
        &replies,
        true,
        &[
            "Deployment/shop does not exist in namespace shop-ns yet (first install): nothing to stop",
            "StatefulSet/shop-worker does not exist in namespace shop-ns yet (first install): nothing to stop",
        ],
    );
}

#[test]
fn stop_fails_and_says_so_when_rbac_denies_it() {
    let replies = [err(&get_state(DEPLOYMENT, "").args, FORBIDDEN)];
    // The calls end at the denial.
    let outcome = check(
        &stop_command(),
        &replies,
        false,
        &[
            "FAILED: not allowed to read Deployment/shop",
            "cannot get resource \"deployments\"",
            "lacks RBAC",
        ],
    );
    assert!(
        !outcome.log.contains("To restore service"),
        "nothing was stopped, so there is nothing to restore:\n{}",
        outcome.log
    );
}

#[test]
fn stop_reads_every_target_before_it_stops_any() {
    // The second target cannot be read: the first is not stopped either.
    let replies = [
        get_state(DEPLOYMENT, DEPLOYMENT_RUNNING),
        err(
            &get_state(STATEFULSET, "").args,
            "The connection to the server 10.0.0.1:443 was refused - did you specify the right host or port?",
        ),
    ];
    let outcome = check(
        &stop_command(),
        &replies,
        false,
        &["FAILED: cannot read StatefulSet/shop-worker in namespace shop-ns"],
    );
    assert!(
        !outcome.log.contains("To restore service"),
        "{}",
        outcome.log
    );
}

#[test]
fn stop_refuses_before_stopping_anything_when_a_grace_period_is_longer_than_its_wait() {
    // Workers that take up to 10 minutes to shut down.
    let replies = [get_state(DEPLOYMENT, "3|600||")];
    let outcome = check(
        &stop_command(),
        &replies,
        false,
        &[
            "FAILED: Deployment/shop may need 610s to stop (a 600s grace period), longer than this step waits (190s); nothing was stopped",
            "Set stopTimeoutSeconds: 610 on the job and run helm with --timeout 720s or more",
        ],
    );
    assert!(
        !outcome.log.contains("To restore service"),
        "{}",
        outcome.log
    );
}

#[test]
fn stop_counts_an_ordered_statefulsets_pods_one_after_the_other() {
    // Five pods, 60 s each, one at a time: 310 s. In Parallel they go together: 70 s.
    let replies = [
        get_state(DEPLOYMENT, DEPLOYMENT_RUNNING),
        get_state(STATEFULSET, "5|60|OrderedReady|"),
    ];
    check(
        &stop_command(),
        &replies,
        false,
        &[
            "StatefulSet/shop-worker may need 310s to stop (5 pods one after the other, 60s grace period each)",
        ],
    );

    let mut replies = vec![
        get_state(DEPLOYMENT, DEPLOYMENT_RUNNING),
        get_state(STATEFULSET, "5|60|Parallel|"),
        annotate(DEPLOYMENT, 3),
        scale(DEPLOYMENT, 0),
        annotate(STATEFULSET, 5),
        scale(STATEFULSET, 0),
    ];
    replies.extend([
        pods(DEPLOYMENT_SELECTOR, ""),
        pods(STATEFULSET_SELECTOR, ""),
    ]);
    check(
        &stop_command(),
        &replies,
        true,
        &["scaled StatefulSet/shop-worker from 5 to 0 replicas"],
    );
}

#[test]
fn stop_fails_when_a_workload_exists_but_cannot_be_scaled() {
    let denied = r#"Error from server (Forbidden): admission webhook "validate.policy.example" denied the request: scaling to zero is not allowed"#;
    let replies = [
        get_state(DEPLOYMENT, DEPLOYMENT_RUNNING),
        get_state(STATEFULSET, STATEFULSET_RUNNING),
        annotate(DEPLOYMENT, 3),
        err(&scale_args(DEPLOYMENT, 0), denied),
    ];
    check(
        &stop_command(),
        &replies,
        false,
        &[
            "FAILED: cannot scale Deployment/shop to 0 replicas",
            "scaling to zero is not allowed",
        ],
    );
}

#[test]
fn stop_prints_the_restore_command_when_it_fails_after_stopping_something() {
    let replies = [
        get_state(DEPLOYMENT, DEPLOYMENT_RUNNING),
        get_state(STATEFULSET, STATEFULSET_RUNNING),
        annotate(DEPLOYMENT, 3),
        scale(DEPLOYMENT, 0),
        annotate(STATEFULSET, 2),
        err(
            &scale_args(STATEFULSET, 0),
            "error: timed out waiting for the condition",
        ),
    ];
    let outcome = check(
        &stop_command(),
        &replies,
        false,
        &[
            "FAILED: cannot scale StatefulSet/shop-worker to 0 replicas",
            "To restore service run:",
            "kubectl -n shop-ns scale Deployment/shop --replicas=3 && kubectl -n shop-ns annotate Deployment/shop deploy-jobs.io/replicas-before-stop-",
        ],
    );
    assert!(
        !outcome
            .log
            .contains("scale StatefulSet/shop-worker --replicas="),
        "the StatefulSet was not stopped, so it is not in the restore command:\n{}",
        outcome.log
    );
}

#[test]
fn stop_fails_when_pods_do_not_terminate_in_time() {
    let mut replies = stops_both();
    replies.push(pods(
        DEPLOYMENT_SELECTOR,
        &pod("shop-7d9f8c-abcde", "ReplicaSet/shop-7d9f8c"),
    ));
    // The calls stop once time is up.
    let outcome = play(&stop_command(), &replies, Image::StopWithJumpingClock);
    assert!(!outcome.success, "{}", outcome.log);
    assert_eq!(outcome.calls, args(&replies));
    assert_log(
        &outcome,
        &[
            "FAILED: 1 pod(s) of Deployment/shop did not terminate within 190s: shop-7d9f8c-abcde",
            "kubectl -n shop-ns scale Deployment/shop --replicas=3 && kubectl -n shop-ns annotate Deployment/shop deploy-jobs.io/replicas-before-stop- && kubectl -n shop-ns scale StatefulSet/shop-worker --replicas=2 && kubectl -n shop-ns annotate StatefulSet/shop-worker deploy-jobs.io/replicas-before-stop-",
        ],
    );
    assert!(
        !outcome
            .log
            .contains("the next job has the database to itself"),
        "{}",
        outcome.log
    );
}

#[test]
fn stop_fails_when_it_cannot_list_pods() {
    let mut replies = stops_both();
    replies.push(err(
        &pods(DEPLOYMENT_SELECTOR, "").args,
        r#"Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:shop-ns:shop-migrate-stop" cannot list resource "pods""#,
    ));
    check(
        &stop_command(),
        &replies,
        false,
        &[
            "FAILED: cannot list the pods of Deployment/shop",
            "To restore service run:",
        ],
    );
}

#[test]
fn stop_fails_on_an_unexpected_error() {
    let replies = [err(
        &get_state(DEPLOYMENT, "").args,
        "The connection to the server 10.0.0.1:443 was refused - did you specify the right host or port?",
    )];
    check(
        &stop_command(),
        &replies,
        false,
        &["FAILED: cannot read Deployment/shop in namespace shop-ns: The connection to the server"],
    );
}

#[test]
fn stop_after_a_failed_run_keeps_the_count_recorded_by_that_run() {
    // The previous migration failed with the app stopped: replicas is 0 and the annotation
    // still says 3. Overwriting it with 0 would lose the way back.
    let replies = [
        get_state(DEPLOYMENT, "0|30||3"),
        get_state(STATEFULSET, STATEFULSET_RUNNING),
        annotate(STATEFULSET, 2),
        scale(STATEFULSET, 0),
        pods(
            DEPLOYMENT_SELECTOR,
            &pod("shop-7d9f8c-abcde", "ReplicaSet/shop-7d9f8c"),
        ),
    ];
    // No annotate or scale of it.
    let outcome = play(&stop_command(), &replies, Image::StopWithJumpingClock);
    assert!(!outcome.success, "{}", outcome.log);
    assert_eq!(outcome.calls, args(&replies));
    assert_log(
        &outcome,
        &[
            "Deployment/shop is already stopped; it had 3 replicas before deploy-jobs stopped it",
            "kubectl -n shop-ns scale Deployment/shop --replicas=3",
        ],
    );
}

#[test]
fn stop_addresses_each_target_in_its_own_namespace() {
    // The job runs in `shop` (its own, passed as ""), the worker lives in `shop-jobs`.
    let command = rendered_command_in(NAMESPACED_CASE, "shop-migrate-stop", "stop");
    let worker = "Deployment/shop-worker";
    assert_eq!(
        command[4..],
        [
            "190",
            "110",
            "Deployment/shop",
            "",
            DEPLOYMENT_SELECTOR,
            worker,
            "shop-jobs",
            STATEFULSET_SELECTOR
        ]
    );
    let replies = [
        err(&get_state(DEPLOYMENT, "").args, NOT_FOUND),
        err(
            &get_state_in("shop-jobs", worker, "").args,
            r#"Error from server (NotFound): deployments.apps "shop-worker" not found"#,
        ),
    ];
    // A worker that is missing where it is rendered is reported there, not looked for in
    // the job's namespace.
    let outcome = play(&command, &replies, Image::Stop);
    assert_eq!(outcome.calls, args(&replies), "{}", outcome.log);
    assert_log(
        &outcome,
        &["Deployment/shop-worker does not exist in namespace shop-jobs yet"],
    );

    let replies = [
        get_state(DEPLOYMENT, DEPLOYMENT_RUNNING),
        get_state_in("shop-jobs", worker, "4|30||"),
        annotate(DEPLOYMENT, 3),
        scale(DEPLOYMENT, 0),
        annotate_in("shop-jobs", worker, 4),
        scale_in("shop-jobs", worker, 0),
        pods(DEPLOYMENT_SELECTOR, ""),
        pods_in(
            "shop-jobs",
            STATEFULSET_SELECTOR,
            &pod("shop-worker-6c7d8-abcde", "ReplicaSet/shop-worker-6c7d8"),
        ),
        pods_in("shop-jobs", STATEFULSET_SELECTOR, ""),
    ];
    let outcome = play(&command, &replies, Image::Stop);
    assert!(outcome.success, "{}", outcome.log);
    assert_eq!(outcome.calls, args(&replies));
    assert_log(
        &outcome,
        &[
            "scaled Deployment/shop-worker from 4 to 0 replicas",
            "waiting for 1 pod(s) of Deployment/shop-worker to terminate",
        ],
    );
}

fn start_command() -> Vec<String> {
    let command = rendered_command("shop-migrate-start", "start");
    assert_eq!(
        command[4..],
        [DEPLOYMENT, "", "clear", STATEFULSET, "", "restore"],
        "the Deployment sets replicas (the apply restores it), the StatefulSet leaves them to an autoscaler"
    );
    command
}

fn read(target: &str) -> String {
    let (kind, name) = target.split_once('/').unwrap();
    format!(
        "-n {NAMESPACE} get {kind} {name} -o jsonpath={{.spec.replicas}}|{{.metadata.annotations.deploy-jobs\\.io/replicas-before-stop}}"
    )
}

fn clear(target: &str) -> Reply {
    let (kind, name) = target.split_once('/').unwrap();
    ok(
        &format!("-n {NAMESPACE} annotate {kind} {name} deploy-jobs.io/replicas-before-stop-"),
        &format!("{}.apps/{name} annotated", kind.to_lowercase()),
    )
}

#[test]
fn start_scales_back_what_the_apply_leaves_at_zero_and_clears_every_recorded_count() {
    let replies = [
        ok(&read(DEPLOYMENT), "3|3"),
        clear(DEPLOYMENT),
        ok(&read(STATEFULSET), "0|2"),
        scale(STATEFULSET, 2),
        clear(STATEFULSET),
    ];
    check(
        &start_command(),
        &replies,
        true,
        &[
            "Deployment/shop has the 3 replicas its manifest sets",
            "cleared the replica count recorded on Deployment/shop",
            "scaled StatefulSet/shop-worker back to 2 replicas",
            "cleared the replica count recorded on StatefulSet/shop-worker",
        ],
    );
}

#[test]
fn start_never_scales_up_a_workload_whose_manifest_sets_replicas() {
    // The chart sets replicas: 0 now (maintenance): the count recorded before goes, and the
    // app stays at the manifest's 0.
    let replies = [
        ok(&read(DEPLOYMENT), "0|3"),
        clear(DEPLOYMENT),
        ok(&read(STATEFULSET), "|"),
    ];
    check(
        &start_command(),
        &replies,
        true,
        &["Deployment/shop has the 0 replicas its manifest sets"],
    );
}

#[test]
fn start_leaves_alone_what_deploy_jobs_did_not_stop() {
    let replies = [ok(&read(DEPLOYMENT), "3|"), ok(&read(STATEFULSET), "2|")];
    check(
        &start_command(),
        &replies,
        true,
        &["was not stopped by deploy-jobs: left as it is"],
    );
}

#[test]
fn start_does_not_undo_an_autoscaler_that_already_scaled_up() {
    let replies = [
        ok(&read(DEPLOYMENT), "3|"),
        ok(&read(STATEFULSET), "4|2"),
        clear(STATEFULSET),
    ];
    // No scale call.
    check(
        &start_command(),
        &replies,
        true,
        &["already has 4 replicas"],
    );
}

#[test]
fn start_skips_a_workload_that_is_gone() {
    let replies = [
        err(&read(DEPLOYMENT), NOT_FOUND),
        err(
            &read(STATEFULSET),
            r#"Error from server (NotFound): statefulsets.apps "shop-worker" not found"#,
        ),
    ];
    check(
        &start_command(),
        &replies,
        true,
        &["does not exist in namespace shop-ns: nothing to start"],
    );
}

#[test]
fn start_fails_when_it_cannot_scale_back() {
    let replies = [
        ok(&read(DEPLOYMENT), "3|"),
        ok(&read(STATEFULSET), "0|2"),
        err(&scale_args(STATEFULSET, 2), FORBIDDEN),
    ];
    check(
        &start_command(),
        &replies,
        false,
        &["FAILED: cannot scale StatefulSet/shop-worker back to 2 replicas"],
    );
}

/// A line of a hook's log as Helm 4.1.4 prints it: through its slog handler, which escapes
/// quotes and backslashes (measured with real Helm on a real API server, HELM-FACTS, Dec
/// 2026). A user copies the command from that output.
fn as_helm4_prints(line: &str) -> String {
    line.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The annotation read by the `-o` argument of the hint's `kubectl get`, evaluated by real
/// kubectl 1.35 (offline: `annotate --local` prints the object with the same printer).
fn real_kubectl_reads(output: &str, replicas: u32) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("workload.yaml");
    std::fs::write(
        &file,
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\n  annotations:\n    deploy-jobs.io/replicas-before-stop: \"{replicas}\"\nspec:\n  selector:\n    matchLabels: {{a: b}}\n  template:\n    metadata:\n      labels: {{a: b}}\n    spec:\n      containers: [{{name: a, image: x}}]\n"),
    )
    .unwrap();
    let out = std::process::Command::new(common::tool("kubectl"))
        .args(["annotate", "--local", "-f"])
        .arg(&file)
        .args(["x=y", output])
        .output()
        .unwrap();
    common::succeeded(out, "kubectl annotate --local with the hint's -o")
}

/// Runs the restore hint and then what a user would paste from it, as Helm 4 printed it,
/// against the stand-in.
fn paste_the_hint(case: &'static str, reads: &[(&str, &str, u32)]) {
    let hint = rendered_command_in(case, "shop-migrate", "restore-hint");
    let printed = play(&hint, &[], Image::Hint);
    assert!(printed.success, "{}", printed.log);
    let line = printed
        .log
        .lines()
        .find_map(|l| l.strip_prefix("  "))
        .unwrap_or_else(|| panic!("an indented command line in:\n{}", printed.log));
    let command = as_helm4_prints(line);
    const READ: &str =
        "-o go-template={{index .metadata.annotations `deploy-jobs.io/replicas-before-stop`}}";

    let mut replies = Vec::new();
    for (ns, target, replicas) in reads {
        let (kind, name) = target.split_once('/').unwrap();
        assert_eq!(
            real_kubectl_reads(&READ.replace("-o ", "-o="), *replicas),
            replicas.to_string(),
            "the hint's template reads the recorded count"
        );
        replies.push(ok(
            &format!("-n {ns} get {target} {READ}"),
            &replicas.to_string(),
        ));
        replies.push(ok(
            &format!("-n {ns} scale {target} --replicas={replicas}"),
            &format!("{}.apps/{name} scaled", kind.to_lowercase()),
        ));
        replies.push(ok(
            &format!("-n {ns} annotate {target} deploy-jobs.io/replicas-before-stop-"),
            &format!("{}.apps/{name} annotated", kind.to_lowercase()),
        ));
    }
    let pasted = play(
        &["sh".into(), "-c".into(), command.to_string()],
        &replies,
        Image::Stop,
    );
    assert!(pasted.success, "{command}\n{}", pasted.log);
    assert_eq!(pasted.calls, args(&replies));
}

#[test]
fn the_restore_hint_prints_one_command_that_restores_every_stopped_workload_and_clears_its_count() {
    paste_the_hint(
        CASE,
        &[(NAMESPACE, DEPLOYMENT, 3), (NAMESPACE, STATEFULSET, 2)],
    );
}

#[test]
fn the_restore_hint_names_each_workloads_own_namespace() {
    paste_the_hint(
        NAMESPACED_CASE,
        &[
            (NAMESPACE, DEPLOYMENT, 3),
            ("shop-jobs", "Deployment/shop-worker", 4),
        ],
    );
}

fn workload(kind: &str, replicas: u32, annotation: Option<&str>, extra: &str) -> String {
    let annotations = annotation
        .map(|a| format!("  annotations:\n    deploy-jobs.io/replicas-before-stop: \"{a}\"\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: shop\n{annotations}spec:\n  replicas: {replicas}\n{extra}  selector: {{matchLabels: {{a: b}}}}\n  template: {{metadata: {{labels: {{a: b}}}}, spec: {{terminationGracePeriodSeconds: 600, containers: [{{name: c, image: i}}]}}}}\n"
    )
}

/// The recorded replies to the scripts' `-o jsonpath=...` reads have the shape real kubectl
/// 1.35 prints, on objects as the API server returns them (defaults filled in).
#[test]
fn recorded_replies_have_the_shape_real_kubectl_prints() {
    let stop = stop_command();
    let start = start_command();
    let state = READ_STATE.strip_prefix("-o jsonpath=").unwrap();
    assert!(
        stop[2].contains(&format!("-o 'jsonpath={state}'")),
        "the stop script reads {state}"
    );
    let live = LIVE_PODS.split_once("-o jsonpath=").unwrap().1;
    assert!(
        stop[2].contains(&format!("-o 'jsonpath={live}'")),
        "the stop script lists {live}"
    );
    let started = read(STATEFULSET);
    let recorded = started.split_once("-o jsonpath=").unwrap().1;
    assert!(start[2].contains(&format!("-o 'jsonpath={recorded}'")));

    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    assert_eq!(
        print(dir, &workload("Deployment", 3, None, ""), state),
        "3|600||"
    );
    assert_eq!(
        print(dir, &workload("Deployment", 0, Some("3"), ""), state),
        "0|600||3"
    );
    assert_eq!(
        print(
            dir,
            &workload(
                "StatefulSet",
                5,
                None,
                "  podManagementPolicy: OrderedReady\n"
            ),
            state
        ),
        "5|600|OrderedReady|"
    );
    assert_eq!(
        print(dir, &workload("StatefulSet", 0, Some("2"), ""), recorded),
        "0|2"
    );
    assert_eq!(
        print(dir, &workload("StatefulSet", 4, None, ""), recorded),
        "4|"
    );

    // One line per pod: name, then its controller as Kind/name ("/" for a bare pod). The
    // server returns a list; kubectl prints the template inside `range` for each item.
    let item = live
        .strip_prefix("{range .items[*]}")
        .and_then(|t| t.strip_suffix("{end}"))
        .expect("the template ranges over the list's items");
    let owned = |owner: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n{owner}spec: {{containers: [{{name: c, image: i}}]}}\n"
        )
    };
    assert_eq!(
        print(
            dir,
            &owned(
                "  ownerReferences:\n  - {apiVersion: apps/v1, kind: Job, name: other, uid: '1', controller: false}\n  - {apiVersion: apps/v1, kind: ReplicaSet, name: shop-7d9f8c, uid: '2', controller: true}\n"
            ),
            item
        ),
        "p ReplicaSet/shop-7d9f8c\n"
    );
    assert_eq!(print(dir, &owned(""), item), "p /\n");
}
