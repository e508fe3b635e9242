//! The stop, start and restore-hint scripts of an `exclusive` job, taken from a real render and
//! run by `sh` against a `kubectl` stand-in. The stand-in only replays recorded responses, in
//! order, and fails any call that differs from the recorded one; it is not a cluster. Every
//! case checks the exit status, what the log says, and the exact list of calls made.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::{documents, repo_root, run};

const CASE: &str = "testdata/exclusive-all-stops-every-workload";
const NAMESPACE: &str = "shop-ns";
const DEPLOYMENT_SELECTOR: &str = "app.kubernetes.io/name=shop,app.kubernetes.io/instance=shop";
const STATEFULSET_SELECTOR: &str = "app.kubernetes.io/name=worker,app.kubernetes.io/instance=shop";
const READ_STATE: &str =
    "-o jsonpath={.spec.replicas} {.metadata.annotations.deploy-jobs\\.io/replicas-before-stop}";
const NOT_FOUND: &str = r#"Error from server (NotFound): deployments.apps "shop" not found"#;
const FORBIDDEN: &str = r#"Error from server (Forbidden): deployments.apps "shop" is forbidden: User "system:serviceaccount:shop-ns:shop-migrate-stop" cannot get resource "deployments" in API group "apps" in the namespace "shop-ns""#;

/// The stand-in: call N must have the arguments in responses/N.args; it then prints
/// responses/N.out (to stderr when it fails, like kubectl) and exits with responses/N.rc.
const STAND_IN: &str = r#"#!/bin/sh
d=$(dirname "$0")/..
n=$(($(cat "$d/count") + 1))
echo "$n" > "$d/count"
printf '%s\n' "$*" >> "$d/calls"
r="$d/responses/$n"
if [ ! -f "$r.args" ]; then
  echo "stand-in: nothing recorded for call $n: kubectl $*" >&2
  exit 97
fi
if [ "$*" != "$(cat "$r.args")" ]; then
  echo "stand-in: call $n was 'kubectl $*', recorded 'kubectl $(cat "$r.args")'" >&2
  exit 98
fi
rc=$(cat "$r.rc")
if [ "$rc" = 0 ]; then cat "$r.out"; else cat "$r.out" >&2; fi
exit "$rc"
"#;

/// A recorded kubectl response: the arguments it answers, its exit status and its output.
struct Reply {
    args: String,
    rc: i32,
    out: String,
}

fn ok(args: &str, out: &str) -> Reply {
    Reply {
        args: args.to_string(),
        rc: 0,
        out: out.to_string(),
    }
}

fn err(args: &str, out: &str) -> Reply {
    Reply {
        args: args.to_string(),
        rc: 1,
        out: out.to_string(),
    }
}

fn get_state(target: &str, out: &str) -> Reply {
    let (kind, name) = target.split_once('/').unwrap();
    ok(&format!("get {kind} {name} {READ_STATE}"), out)
}

fn annotate(target: &str, replicas: u32) -> Reply {
    let (kind, name) = target.split_once('/').unwrap();
    ok(
        &format!(
            "annotate --overwrite {kind} {name} deploy-jobs.io/replicas-before-stop={replicas}"
        ),
        &format!("{}.apps/{name} annotated", kind.to_lowercase()),
    )
}

fn scale_args(target: &str, replicas: u32) -> String {
    let (kind, name) = target.split_once('/').unwrap();
    format!("scale {kind} {name} --replicas={replicas}")
}

fn scale(target: &str, replicas: u32) -> Reply {
    let (kind, name) = target.split_once('/').unwrap();
    ok(
        &scale_args(target, replicas),
        &format!("{}.apps/{name} scaled", kind.to_lowercase()),
    )
}

fn pods(selector: &str, out: &str) -> Reply {
    ok(&format!("get pods -l {selector} -o name"), out)
}

/// Plays `replies`, then checks the exit status, that exactly the recorded calls were made
/// in order, and that the log has every phrase.
fn check(command: &[String], replies: &[Reply], succeeds: bool, phrases: &[&str]) -> Outcome {
    let outcome = play(command, replies);
    assert_eq!(outcome.success, succeeds, "{}", outcome.log);
    assert_eq!(outcome.calls, args(replies));
    assert_log(&outcome, phrases);
    outcome
}

struct Outcome {
    success: bool,
    log: String,
    calls: Vec<String>,
}

/// Runs `command` (`sh -c SCRIPT NAME ARGS...`) with the stand-in first on PATH.
fn play(command: &[String], replies: &[Reply]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("responses")).unwrap();
    let kubectl = root.join("bin/kubectl");
    fs::write(&kubectl, STAND_IN).unwrap();
    make_executable(&kubectl);
    fs::write(root.join("count"), "0").unwrap();
    fs::write(root.join("calls"), "").unwrap();
    for (i, reply) in replies.iter().enumerate() {
        let base = root.join(format!("responses/{}", i + 1));
        fs::write(base.with_extension("args"), &reply.args).unwrap();
        fs::write(base.with_extension("out"), &reply.out).unwrap();
        fs::write(base.with_extension("rc"), reply.rc.to_string()).unwrap();
    }
    let path = format!(
        "{}:{}",
        root.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    assert_eq!(command[..2], ["sh", "-c"], "the Job runs a shell script");
    let out = Command::new("sh")
        .args(&command[1..])
        .env("PATH", path)
        .env("POD_NAMESPACE", NAMESPACE)
        .output()
        .unwrap();
    let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    let calls = fs::read_to_string(root.join("calls"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    Outcome {
        success: out.status.success(),
        log,
        calls,
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The rendered exclusive case, rendered once for all the tests.
fn rendered() -> &'static [serde_norway::Value] {
    static DOCS: OnceLock<Vec<serde_norway::Value>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let dir = repo_root().join(CASE);
        let values = dir.join("values.yaml");
        let input = fs::read(dir.join("input.yaml")).unwrap();
        let out = run(&["render", "--values", values.to_str().unwrap()], &input);
        documents(&common::succeeded(out, "deploy-jobs render"))
    })
}

/// The container commands of the rendered exclusive case, by Job and container name.
fn rendered_command(job: &str, container: &str) -> Vec<String> {
    let job = rendered()
        .iter()
        .find(|d| d["kind"] == "Job" && d["metadata"]["name"] == job)
        .unwrap_or_else(|| panic!("the render has a Job {job}"));
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
            "Deployment/shop",
            DEPLOYMENT_SELECTOR,
            "StatefulSet/shop-worker",
            STATEFULSET_SELECTOR
        ],
        "the stop step waits 190 s (its deadline under Helm's default --timeout, less its kubectl calls) for both workloads"
    );
    command
}

/// A shorter wait for pods. With 0 the first listing that still shows pods is the last one,
/// which keeps the call list exact whatever the machine's speed.
fn with_timeout(mut command: Vec<String>, seconds: &str) -> Vec<String> {
    command[4] = seconds.to_string();
    command
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

#[test]
fn stop_scales_both_to_zero_records_the_counts_and_waits_for_the_pods() {
    let replies = [
        get_state(DEPLOYMENT, "3 "),
        annotate(DEPLOYMENT, 3),
        scale(DEPLOYMENT, 0),
        get_state(STATEFULSET, "2 "),
        annotate(STATEFULSET, 2),
        scale(STATEFULSET, 0),
        pods(
            DEPLOYMENT_SELECTOR,
            "pod/shop-7d9f-abcde\npod/shop-7d9f-fghij\n",
        ),
        pods(DEPLOYMENT_SELECTOR, ""),
        pods(STATEFULSET_SELECTOR, ""),
    ];
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
            "Deployment/shop does not exist yet (first install): nothing to stop",
            "StatefulSet/shop-worker does not exist yet (first install): nothing to stop",
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
fn stop_fails_when_a_workload_exists_but_cannot_be_scaled() {
    let denied = r#"Error from server (Forbidden): admission webhook "validate.policy.example" denied the request: scaling to zero is not allowed"#;
    let replies = [
        get_state(DEPLOYMENT, "3 "),
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
        get_state(DEPLOYMENT, "3 "),
        annotate(DEPLOYMENT, 3),
        scale(DEPLOYMENT, 0),
        get_state(STATEFULSET, "2 "),
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
            "kubectl -n shop-ns scale Deployment/shop --replicas=3",
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
    let stuck = "pod/shop-7d9f-abcde\n";
    let replies = [
        get_state(DEPLOYMENT, "3 "),
        annotate(DEPLOYMENT, 3),
        scale(DEPLOYMENT, 0),
        get_state(STATEFULSET, "2 "),
        annotate(STATEFULSET, 2),
        scale(STATEFULSET, 0),
        pods(DEPLOYMENT_SELECTOR, stuck),
    ];
    // The calls stop once time is up.
    let outcome = check(
        &with_timeout(stop_command(), "0"),
        &replies,
        false,
        &[
            "FAILED: pods of Deployment/shop did not terminate within 0s: pod/shop-7d9f-abcde",
            "kubectl -n shop-ns scale Deployment/shop --replicas=3 && kubectl -n shop-ns scale StatefulSet/shop-worker --replicas=2",
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
    let replies = [
        get_state(DEPLOYMENT, "3 "),
        annotate(DEPLOYMENT, 3),
        scale(DEPLOYMENT, 0),
        get_state(STATEFULSET, "2 "),
        annotate(STATEFULSET, 2),
        scale(STATEFULSET, 0),
        err(
            &pods(DEPLOYMENT_SELECTOR, "").args,
            r#"Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:shop-ns:shop-migrate-stop" cannot list resource "pods""#,
        ),
    ];
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
        &["FAILED: cannot read Deployment/shop: The connection to the server"],
    );
}

#[test]
fn stop_after_a_failed_run_keeps_the_count_recorded_by_that_run() {
    // The previous migration failed with the app stopped: replicas is 0 and the annotation
    // still says 3. Overwriting it with 0 would lose the way back.
    let stuck = "pod/shop-7d9f-abcde\n";
    let replies = [
        get_state(DEPLOYMENT, "0 3"),
        get_state(STATEFULSET, "2 "),
        annotate(STATEFULSET, 2),
        scale(STATEFULSET, 0),
        pods(DEPLOYMENT_SELECTOR, stuck),
    ];
    // No annotate or scale of it.
    check(
        &with_timeout(stop_command(), "0"),
        &replies,
        false,
        &[
            "Deployment/shop is already stopped; it had 3 replicas before deploy-jobs stopped it",
            "kubectl -n shop-ns scale Deployment/shop --replicas=3",
        ],
    );
}

fn start_command() -> Vec<String> {
    let command = rendered_command("shop-migrate-start", "start");
    assert_eq!(
        command[4..],
        [STATEFULSET],
        "only the StatefulSet leaves replicas to an autoscaler"
    );
    command
}

const READ_RECORDED: &str = "get StatefulSet shop-worker -o jsonpath={.metadata.annotations.deploy-jobs\\.io/replicas-before-stop}";
const READ_REPLICAS: &str = "get StatefulSet shop-worker -o jsonpath={.spec.replicas}";
const CLEAR: &str = "annotate StatefulSet shop-worker deploy-jobs.io/replicas-before-stop-";

#[test]
fn start_scales_back_to_the_recorded_count() {
    let replies = [
        ok(READ_RECORDED, "2"),
        ok(READ_REPLICAS, "0"),
        scale(STATEFULSET, 2),
        ok(CLEAR, "statefulset.apps/shop-worker annotated"),
    ];
    check(
        &start_command(),
        &replies,
        true,
        &["scaled StatefulSet/shop-worker back to 2 replicas"],
    );
}

#[test]
fn start_leaves_alone_what_deploy_jobs_did_not_stop() {
    let replies = [ok(READ_RECORDED, "")];
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
        ok(READ_RECORDED, "2"),
        ok(READ_REPLICAS, "4"),
        ok(CLEAR, "statefulset.apps/shop-worker annotated"),
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
    let replies = [err(
        READ_RECORDED,
        r#"Error from server (NotFound): statefulsets.apps "shop-worker" not found"#,
    )];
    check(
        &start_command(),
        &replies,
        true,
        &["does not exist: nothing to start"],
    );
}

#[test]
fn start_fails_when_it_cannot_scale_back() {
    let replies = [
        ok(READ_RECORDED, "2"),
        ok(READ_REPLICAS, "0"),
        err(&scale_args(STATEFULSET, 2), FORBIDDEN),
    ];
    check(
        &start_command(),
        &replies,
        false,
        &["FAILED: cannot scale StatefulSet/shop-worker back to 2 replicas"],
    );
}

#[test]
fn the_restore_hint_prints_one_command_that_restores_every_stopped_workload() {
    let hint = rendered_command("shop-migrate", "restore-hint");
    let printed = play(&hint, &[]);
    assert!(printed.success, "{}", printed.log);
    assert!(printed.calls.is_empty(), "the hint itself calls nothing");
    let command = printed
        .log
        .lines()
        .find_map(|l| l.strip_prefix("  "))
        .unwrap_or_else(|| panic!("an indented command line in:\n{}", printed.log));

    // Run what a user would paste, against the stand-in.
    let read = |target: &str| {
        format!(
            "-n {NAMESPACE} get {target} -o jsonpath={{.metadata.annotations.deploy-jobs\\.io/replicas-before-stop}}"
        )
    };
    let replies = [
        ok(&read(DEPLOYMENT), "3"),
        ok(
            &format!("-n {NAMESPACE} scale {DEPLOYMENT} --replicas=3"),
            "deployment.apps/shop scaled",
        ),
        ok(&read(STATEFULSET), "2"),
        ok(
            &format!("-n {NAMESPACE} scale {STATEFULSET} --replicas=2"),
            "statefulset.apps/shop-worker scaled",
        ),
    ];
    let pasted = play(&["sh".into(), "-c".into(), command.to_string()], &replies);
    assert!(pasted.success, "{command}\n{}", pasted.log);
    assert_eq!(pasted.calls, args(&replies));
}

/// The recorded replies to the scripts' `-o jsonpath=...` reads have the shape real kubectl
/// 1.35 prints: `{.spec.replicas} {annotation}` gives "3 " without the annotation and "0 3"
/// with it. kubectl's printer is run offline on a local object with the scripts' templates.
#[test]
fn recorded_replies_have_the_shape_real_kubectl_prints() {
    let stop = stop_command();
    let start = start_command();
    let template = READ_STATE.strip_prefix("-o jsonpath=").unwrap();
    assert!(
        stop[2].contains(&format!("-o 'jsonpath={template}'")),
        "the stop script reads {template}"
    );
    let recorded = READ_RECORDED.split_once("-o jsonpath=").unwrap().1;
    assert!(start[2].contains(&format!("-o 'jsonpath={recorded}'")));

    let dir = tempfile::tempdir().unwrap();
    let print = |replicas: u32, annotation: Option<&str>, template: &str| -> String {
        let annotations = annotation
            .map(|a| format!("  annotations:\n    deploy-jobs.io/replicas-before-stop: \"{a}\"\n"))
            .unwrap_or_default();
        let file = dir.path().join("deployment.yaml");
        fs::write(
            &file,
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\n{annotations}spec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{a: b}}}}\n  template: {{metadata: {{labels: {{a: b}}}}, spec: {{containers: [{{name: c, image: i}}]}}}}\n"
            ),
        )
        .unwrap();
        let out = Command::new(common::tool("kubectl"))
            .args(["annotate", "--local", "-f"])
            .arg(&file)
            .args(["unrelated=x", "-o", &format!("jsonpath={template}")])
            .output()
            .unwrap();
        common::succeeded(out, "kubectl annotate --local")
    };
    assert_eq!(print(3, None, template), "3 ");
    assert_eq!(print(0, Some("3"), template), "0 3");
    assert_eq!(print(0, Some("2"), recorded), "2");
    assert_eq!(print(4, None, recorded), "");
}
