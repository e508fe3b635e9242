//! `deploy-jobs wait` against a stand-in Kubernetes API server on loopback: the real binary,
//! the real client (kube-rs, reached through a kubeconfig that points at the stand-in), and
//! replies in the shapes a kube-apiserver 1.35/1.36 sends. Where the shapes come from:
//!
//! - List, watch and `410 Gone`: the Kubernetes API reference, "API Concepts", *Efficient
//!   detection of changes* (kubernetes/website,
//!   `content/en/docs/reference/using-api/api-concepts.md`): a watch is a chunked stream of
//!   newline-delimited `{"type":"ADDED"|"MODIFIED"|"DELETED"|"ERROR","object":{...}}`; a
//!   list carries `metadata.resourceVersion`, from which the watch resumes; a resourceVersion
//!   too old is an `ERROR` event whose object is a `Status` with code 410, reason `Expired`
//!   (also kube-rs' own fixtures: `kube-core/src/response.rs` `expired_with_continue_token`,
//!   `kube-runtime/src/watcher.rs` `..._410_before_bookmark_...`).
//! - `Status` errors (403 Forbidden, 404 NotFound, 400 BadRequest for a container still
//!   waiting): kube-rs `kube-client/src/client/mod.rs` `test_watch_error_response_is_surfaced`,
//!   and the API reference's `Status` object (`kind`, `apiVersion`, `metadata`, `status`,
//!   `message`, `reason`, `details`, `code`).
//! - Jobs: `batch/v1` Job status as the Job controller writes it since 1.31: the terminal
//!   `Complete` condition follows `SuccessCriteriaMet`, `Failed` follows `FailureTarget`,
//!   with reasons `BackoffLimitExceeded` and `DeadlineExceeded` (Kubernetes docs, "Jobs",
//!   *Job termination and cleanup*, *Terminal Job conditions*). Pods carry both
//!   `batch.kubernetes.io/job-name` and `job-name` labels and an ownerReference to the Job.
//! - pods/log: `GET .../pods/NAME/log?container=C&follow=true` answers `text/plain`, chunked,
//!   line by line until the container ends (API reference, "Pod" > "read log").
//!
//! No assertion here depends on timing: each scenario is a script of replies, and the
//! stand-in records the requests so a test can check what the client asked for.

#![cfg(feature = "wait")]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_deploy-jobs");
const NS: &str = "shop";
const GATE_INPUT: &str = "testdata/gate-holds-every-object-that-runs-the-app/input.yaml";
const HOOK_INPUT: &str = "testdata/app-labels-kept-unless-a-selector-would-match/input.yaml";

/// One scripted reply.
#[derive(Clone, Debug)]
enum Reply {
    /// A JSON body with this HTTP status.
    Json(u16, Value),
    /// A watch: these events, then the server ends the stream (as it does at
    /// `timeoutSeconds`, or when an apiserver restarts).
    Events(Vec<Value>),
    /// A log: these lines, then the end of the stream.
    Lines(Vec<String>),
}

/// The stand-in's script and what it was asked.
#[derive(Default)]
struct State {
    /// Keyed `list jobs/NAME`, `watch jobs/NAME`, `list pods`, `watch pods`, `log POD`,
    /// `get deployments/NAME`. Lists and gets repeat their last reply; an exhausted watch
    /// stays open with nothing to say, as an idle watch does.
    replies: HashMap<String, VecDeque<Reply>>,
    requests: Vec<String>,
    authorization: Vec<String>,
}

struct Server {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                thread::spawn(move || serve(conn, &state));
            }
        });
        Server { port, state }
    }

    fn script(&self, key: &str, replies: Vec<Reply>) -> &Server {
        let mut state = self.state.lock().unwrap();
        state.replies.entry(key.into()).or_default().extend(replies);
        self
    }

    fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    // A client may open a connection and close it unused (a pooled connection at exit):
    // no request line, nothing to record.
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 || request_line.trim().is_empty() {
        return;
    }
    let mut authorization = String::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        if let Some(value) = header.to_ascii_lowercase().strip_prefix("authorization:") {
            authorization = value.trim().to_owned();
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or("").to_owned();
    let (key, collection) = route(&target);
    let reply = {
        let mut state = state.lock().unwrap();
        state.requests.push(target.clone());
        state.authorization.push(authorization);
        let queue = state.replies.entry(key.clone()).or_default();
        let repeats = key.starts_with("list") || key.starts_with("get");
        match queue.len() {
            0 => None,
            1 if repeats => queue.front().cloned(),
            _ => queue.pop_front(),
        }
    };
    let mut conn = conn;
    match reply {
        Some(Reply::Json(code, body)) => json_reply(&mut conn, code, &body),
        Some(Reply::Events(events)) => {
            let lines = events.iter().map(|e| e.to_string());
            chunked(&mut conn, "application/json", lines, false)
        }
        Some(Reply::Lines(lines)) => chunked(&mut conn, "text/plain", lines.into_iter(), false),
        None if key.starts_with("watch") => {
            chunked(&mut conn, "application/json", std::iter::empty(), true)
        }
        None if key.starts_with("log") => {
            json_reply(&mut conn, 404, &not_found("pods", collection.as_str()))
        }
        None => json_reply(&mut conn, 404, &not_found(&collection, "")),
    }
}

/// `list jobs/NAME` from `/apis/batch/v1/namespaces/shop/jobs?fieldSelector=metadata.name%3DNAME`.
fn route(target: &str) -> (String, String) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: HashMap<&str, String> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k, v.replace("%3D", "=").replace("%3d", "=")))
        .collect();
    let verb = if params.get("watch").is_some_and(|v| v == "true") {
        "watch"
    } else {
        "list"
    };
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [.., "jobs"] => {
            let name = params["fieldSelector"]
                .trim_start_matches("metadata.name=")
                .to_owned();
            (format!("{verb} jobs/{name}"), "jobs".into())
        }
        [.., "pods"] => (format!("{verb} pods"), "pods".into()),
        [.., "pods", pod, "log"] => (format!("log {pod}"), (*pod).into()),
        [.., kind, name] => (format!("get {kind}/{name}"), (*kind).into()),
        _ => ("unknown".into(), "unknown".into()),
    }
}

fn json_reply(conn: &mut TcpStream, code: u16, body: &Value) {
    let body = body.to_string();
    let _ = write!(
        conn,
        "HTTP/1.1 {code} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        if code == 200 { "OK" } else { "Error" },
        body.len()
    );
}

/// A chunked stream, one line per chunk, as the apiserver flushes watch events and log lines.
fn chunked(conn: &mut TcpStream, kind: &str, lines: impl Iterator<Item = String>, hang: bool) {
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for line in lines {
        let line = line + "\n";
        let _ = write!(conn, "{:x}\r\n{line}\r\n", line.len());
        let _ = conn.flush();
    }
    if hang {
        // An idle watch: the client ends it by closing the connection.
        let mut buf = [0u8; 64];
        let _ = conn.set_read_timeout(Some(Duration::from_secs(120)));
        let _ = conn.read(&mut buf);
        return;
    }
    let _ = write!(conn, "0\r\n\r\n");
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn not_found(kind: &str, name: &str) -> Value {
    let mut s = status(404, "NotFound", &format!("{kind} \"{name}\" not found"));
    s["details"] = json!({"name": name, "kind": kind});
    s
}

fn list(kind: &str, rv: &str, items: Vec<Value>) -> Reply {
    let api = if kind == "JobList" { "batch/v1" } else { "v1" };
    Reply::Json(
        200,
        json!({"kind": kind, "apiVersion": api,
        "metadata": {"resourceVersion": rv}, "items": items}),
    )
}

fn event(kind: &str, object: Value) -> Value {
    json!({"type": kind, "object": object})
}

const T0: &str = "2026-05-04T10:00:00Z";

/// A Job as the apiserver returns it; `status` is what the Job controller wrote.
fn job(name: &str, rv: &str, status: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
      "metadata": {"name": name, "namespace": NS, "uid": format!("uid-{name}"),
        "resourceVersion": rv, "generation": 1, "creationTimestamp": T0,
        "labels": {"app.kubernetes.io/instance": "shop"}},
      "spec": {"backoffLimit": 0, "activeDeadlineSeconds": 240, "completions": 1, "parallelism": 1,
        "template": {"metadata": {"labels": {"batch.kubernetes.io/job-name": name, "job-name": name}},
          "spec": {"restartPolicy": "Never", "containers": [{"name": "web", "image": "ghcr.io/example/shop:v4.2.0"}]}}},
      "status": status})
}

fn active() -> Value {
    json!({"startTime": T0, "active": 1, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}})
}

fn condition(kind: &str, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": "True", "lastProbeTime": "2026-05-04T10:00:41Z",
           "lastTransitionTime": "2026-05-04T10:00:41Z", "reason": reason, "message": message})
}

fn complete() -> Value {
    let m = "Reached expected number of succeeded pods";
    json!({"startTime": T0, "completionTime": "2026-05-04T10:00:41Z", "succeeded": 1, "ready": 0,
      "terminating": 0, "uncountedTerminatedPods": {},
      "conditions": [condition("SuccessCriteriaMet", "CompletionsReached", m),
                     condition("Complete", "CompletionsReached", m)]})
}

fn failed(reason: &str, message: &str) -> Value {
    json!({"startTime": T0, "failed": 1, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {},
      "conditions": [condition("FailureTarget", reason, message), condition("Failed", reason, message)]})
}

/// A Job's pod; `status` is what the kubelet wrote.
fn job_pod(job: &str, name: &str, rv: &str, status: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
      "metadata": {"name": name, "namespace": NS, "uid": format!("uid-{name}"), "resourceVersion": rv,
        "creationTimestamp": T0,
        "labels": {"batch.kubernetes.io/controller-uid": format!("uid-{job}"), "batch.kubernetes.io/job-name": job,
                   "controller-uid": format!("uid-{job}"), "job-name": job},
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job, "uid": format!("uid-{job}"),
                             "controller": true, "blockOwnerDeletion": true}]},
      "spec": {"restartPolicy": "Never", "containers": [{"name": "web", "image": "ghcr.io/example/shop:v4.2.0"}]},
      "status": status})
}

fn container(state: Value) -> Value {
    json!({"name": "web", "image": "ghcr.io/example/shop:v4.2.0", "imageID": "", "ready": false,
           "restartCount": 0, "started": false, "state": state})
}

fn running() -> Value {
    json!({"phase": "Running", "startTime": T0,
      "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
      "containerStatuses": [container(json!({"running": {"startedAt": T0}}))]})
}

fn exited(phase: &str, code: i32, reason: &str) -> Value {
    json!({"phase": phase, "startTime": T0,
      "containerStatuses": [container(json!({"terminated": {"exitCode": code, "reason": reason,
          "startedAt": T0, "finishedAt": "2026-05-04T10:00:40Z"}}))]})
}

/// A pod of Deployment `shop-web` (through its ReplicaSet) that waits at, or has passed, its gate.
fn web_pod(name: &str, rv: &str, jobs: &str, gate: Value, phase: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
      "metadata": {"name": name, "namespace": NS, "uid": format!("uid-{name}"), "resourceVersion": rv,
        "creationTimestamp": T0, "labels": {"app.kubernetes.io/name": "web", "pod-template-hash": "5d4f8b9c7"},
        "annotations": {"deploy-jobs.io/gate-jobs": jobs},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "shop-web-5d4f8b9c7",
                             "uid": "uid-rs", "controller": true, "blockOwnerDeletion": true}]},
      "spec": {"initContainers": [{"name": "deploy-jobs-gate", "image": "alpine/kubectl:1.35.0"}],
               "containers": [{"name": "web", "image": "ghcr.io/example/shop:v4.2.0"}]},
      "status": {"phase": phase, "startTime": T0,
        "initContainerStatuses": [{"name": "deploy-jobs-gate", "image": "alpine/kubectl:1.35.0", "imageID": "",
            "ready": false, "restartCount": 0, "state": gate}]}})
}

fn deployment(name: &str, generation: i64, updated: i64, available: i64) -> Reply {
    Reply::Json(
        200,
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
      "metadata": {"name": name, "namespace": NS, "generation": generation, "resourceVersion": "300"},
      "spec": {"replicas": 2},
      "status": {"observedGeneration": generation, "replicas": 2, "updatedReplicas": updated,
                 "readyReplicas": available, "availableReplicas": available}}),
    )
}

/// A kubeconfig for the stand-in; `user` is its `users[0].user`.
fn kubeconfig(dir: &Path, port: u16, user: Value) {
    let config = json!({"apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
      "clusters": [{"name": "stand-in", "cluster": {"server": format!("http://127.0.0.1:{port}")}}],
      "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "ci", "namespace": NS}}],
      "users": [{"name": "ci", "user": user}]});
    // JSON is YAML: the kubeconfig loader reads it as written.
    std::fs::write(dir.join("kubeconfig"), config.to_string()).unwrap();
}

fn token() -> Value {
    json!({"token": "stand-in-token"})
}

/// Runs `deploy-jobs ARGS` against the stand-in, with `stdin`; killed if it outlives a
/// minute (a guard against a hang, not an assertion).
fn run(server: &Server, dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("HOME", dir)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("wait hung; requests: {:#?}", server.requests());
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> (String, String) {
    // Shown with the failing test's output.
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "STDOUT:\n{}\nSTDERR:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The gate-mode plan of the test chart: its Job names, as `plan -o json` gives them.
fn gate_names() -> Vec<String> {
    let out = Command::new(BIN)
        .args(["plan", "--target", "gate", "-o", "json"])
        .stdin(std::fs::File::open(GATE_INPUT).unwrap())
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    plan["gate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The Deployments the gate-mode plan of the test chart gates.
fn gated_deployments() -> Vec<String> {
    let out = Command::new(BIN)
        .args(["plan", "--target", "gate", "-o", "json"])
        .stdin(std::fs::File::open(GATE_INPUT).unwrap())
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    plan["gate"][0]["gates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g.as_str().unwrap().strip_prefix("Deployment/"))
        .map(str::to_owned)
        .collect()
}

/// A `plan -o json` file of a hook-mode chart (what Argo CD runs as PreSync), and its Job name.
fn hook_plan(dir: &Path) -> (String, String) {
    let out = Command::new(BIN)
        .args(["plan", "-o", "json"])
        .stdin(std::fs::File::open(HOOK_INPUT).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let name = plan["events"][0]["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == "Job")
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = dir.join("plan.json");
    std::fs::write(&path, &out.stdout).unwrap();
    (path.display().to_string(), name)
}

fn gate_input() -> Vec<u8> {
    std::fs::read(GATE_INPUT).unwrap()
}

#[test]
fn success_streams_the_log_counts_pods_at_the_gate_and_waits_for_the_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    kubeconfig(dir.path(), server.port, token());
    let names = gate_names();
    let (migrate, index) = (&names[0], &names[1]);
    let waiting = json!({"running": {"startedAt": T0}});
    let passed = json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": T0, "finishedAt": T0}});
    let gate_jobs = names.join(",");
    server
        .script(
            &format!("list jobs/{migrate}"),
            vec![list("JobList", "100", vec![job(migrate, "100", active())])],
        )
        .script(
            &format!("watch jobs/{migrate}"),
            vec![Reply::Events(vec![event(
                "MODIFIED",
                job(migrate, "120", complete()),
            )])],
        )
        .script(
            &format!("list jobs/{index}"),
            vec![list("JobList", "100", vec![job(index, "110", complete())])],
        )
        .script(
            "list pods",
            vec![list(
                "PodList",
                "100",
                vec![
                    job_pod(migrate, "migrate-x7k2p", "101", running()),
                    web_pod(
                        "shop-web-5d4f8b9c7-abcde",
                        "102",
                        &gate_jobs,
                        waiting,
                        "Pending",
                    ),
                ],
            )],
        )
        .script(
            "watch pods",
            vec![Reply::Events(vec![event(
                "MODIFIED",
                web_pod(
                    "shop-web-5d4f8b9c7-abcde",
                    "130",
                    &gate_jobs,
                    passed,
                    "Running",
                ),
            )])],
        )
        .script(
            "log migrate-x7k2p",
            vec![Reply::Lines(vec![
                "== 20260504 CreateUsers: migrating".into(),
                "== 20260504 CreateUsers: migrated (0.0123s)".into(),
            ])],
        )
        .script(
            "get deployments/shop-web",
            vec![
                deployment("shop-web", 2, 1, 1),
                deployment("shop-web", 2, 2, 2),
            ],
        );
    // Every other Deployment the plan gates has rolled out already.
    let others: Vec<String> = gated_deployments()
        .into_iter()
        .filter(|d| d != "shop-web")
        .collect();
    assert!(
        !others.is_empty(),
        "the chart gates more than one Deployment"
    );
    for name in &others {
        server.script(
            &format!("get deployments/{name}"),
            vec![deployment(name, 3, 2, 2)],
        );
    }
    let out = run(
        &server,
        dir.path(),
        &["wait", "--target", "gate"],
        &gate_input(),
    );
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "a deploy whose jobs succeeded and workloads rolled out exits 0:\n{stdout}\n{stderr}"
    );
    for expected in [
        "[migrate] == 20260504 CreateUsers: migrated (0.0123s)",
        "migrate: succeeded in 41s",
        "search-index: succeeded",
        "Deployment/shop-web: 1 new pod waits at the gate",
        "Deployment/shop-web: no new pod waits at the gate",
        "Deployment/shop-web: rolled out",
        "CronJob/shop-cleanup: its rollout is not followed",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
    for name in &others {
        let expected = format!("Deployment/{name}: rolled out");
        assert!(
            stdout.contains(&expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
    let rolling = stdout
        .find("Deployment/shop-web: 1 of 2 updated, 1 available")
        .expect(&stdout);
    let rolled = stdout
        .find("Deployment/shop-web: rolled out")
        .expect(&stdout);
    assert!(
        rolling < rolled,
        "the wait lasts until the rollout ends:\n{stdout}"
    );
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.contains("/log?")
            && r.contains("follow=true")
            && r.contains("container=web")),
        "the log is followed, of the Job's container: {requests:#?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.contains("/jobs?") && !r.contains("fieldSelector=metadata.name")),
        "Jobs are read by their exact names only, never by listing the namespace: {requests:#?}"
    );
}

#[test]
fn failed_migration_prints_its_log_reason_and_how_to_run_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    kubeconfig(dir.path(), server.port, token());
    let (plan, name) = hook_plan(dir.path());
    let pod = "shop-migrate-q9z8r";
    let reason = "Job has reached the specified backoff limit";
    server
        .script(
            &format!("list jobs/{name}"),
            vec![list("JobList", "200", vec![job(&name, "200", active())])],
        )
        .script(
            &format!("watch jobs/{name}"),
            vec![Reply::Events(vec![event(
                "MODIFIED",
                job(&name, "230", failed("BackoffLimitExceeded", reason)),
            )])],
        )
        .script(
            "list pods",
            vec![list(
                "PodList",
                "200",
                vec![job_pod(&name, pod, "201", running())],
            )],
        )
        .script(
            "watch pods",
            vec![Reply::Events(vec![event(
                "MODIFIED",
                job_pod(&name, pod, "229", exited("Failed", 1, "Error")),
            )])],
        )
        .script(
            &format!("log {pod}"),
            vec![Reply::Lines(vec![
                "== CreateOrders: migrating".into(),
                "PG::DuplicateTable: ERROR:  relation \"orders\" already exists".into(),
            ])],
        );
    let out = run(&server, dir.path(), &["wait", "--plan", &plan], b"");
    let (stdout, stderr) = text(&out);
    assert!(
        !out.status.success(),
        "a failed Job fails the wait:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("[migrate] PG::DuplicateTable: ERROR:  relation \"orders\" already exists"),
        "the migration's log is streamed with its prefix:\n{stdout}"
    );
    for expected in [
        &*format!("job `migrate` failed (Job {name} in namespace shop)"),
        "reason: BackoffLimitExceeded: Job has reached the specified backoff limit",
        "container web: Error, exit code 1",
        "deploy again",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
}

#[test]
fn an_image_that_cannot_be_pulled_is_said_while_pending_and_in_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    kubeconfig(dir.path(), server.port, token());
    let (plan, name) = hook_plan(dir.path());
    let pod = "shop-migrate-p4ll1";
    let pull = json!({"phase": "Pending", "startTime": T0,
      "conditions": [{"type": "PodScheduled", "status": "True"}],
      "containerStatuses": [container(json!({"waiting": {"reason": "ImagePullBackOff",
         "message": "Back-off pulling image \"ghcr.io/example/shop:v9\": ErrImagePull: not found"}}))]});
    server
        .script(&format!("list jobs/{name}"), vec![list("JobList", "300", vec![job(&name, "300", active())])])
        .script(&format!("watch jobs/{name}"), vec![Reply::Events(vec![event("MODIFIED", job(&name, "340",
            failed("DeadlineExceeded", "Job was active longer than specified deadline")))])])
        .script("list pods", vec![list("PodList", "300", vec![job_pod(&name, pod, "301", pull.clone())])])
        // The deadline deletes the pod.
        .script("watch pods", vec![Reply::Events(vec![event("DELETED", job_pod(&name, pod, "339", pull))])])
        .script(&format!("log {pod}"), vec![Reply::Json(400, status(400, "BadRequest",
            &format!("container \"web\" in pod \"{pod}\" is waiting to start: trying and failing to pull image")))]);
    let out = run(&server, dir.path(), &["wait", "--plan", &plan], b"");
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "migrate: pod {pod} pending: web: ImagePullBackOff: Back-off pulling image"
        )),
        "the pull failure is said while the pod waits:\n{stdout}"
    );
    assert!(stderr.contains("reason: DeadlineExceeded"), "{stderr}");
    assert!(
        stderr.contains("its pod never started: web: ImagePullBackOff"),
        "the failure says why:\n{stderr}"
    );
    assert!(
        stderr.contains("is waiting to start"),
        "why there is no log:\n{stderr}"
    );
}

#[test]
fn deadline_exceeded_after_the_pod_was_deleted_says_so_and_how_to_see_the_log_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    kubeconfig(dir.path(), server.port, token());
    let names = gate_names();
    let migrate = &names[0];
    let pod = "migrate-d3adl";
    let init = json!({"phase": "Pending", "startTime": T0,
      "conditions": [{"type": "PodScheduled", "status": "True"}],
      "initContainerStatuses": [{"name": "wait-for", "image": "busybox", "imageID": "", "ready": false,
          "restartCount": 0, "state": {"running": {"startedAt": T0}}}],
      "containerStatuses": [container(json!({"waiting": {"reason": "PodInitializing"}}))]});
    server
        .script(
            &format!("list jobs/{migrate}"),
            vec![list("JobList", "400", vec![job(migrate, "400", active())])],
        )
        .script(
            &format!("watch jobs/{migrate}"),
            vec![Reply::Events(vec![event(
                "MODIFIED",
                job(
                    migrate,
                    "450",
                    failed(
                        "DeadlineExceeded",
                        "Job was active longer than specified deadline",
                    ),
                ),
            )])],
        )
        .script(
            &format!("list jobs/{}", names[1]),
            vec![list(
                "JobList",
                "400",
                vec![job(&names[1], "401", active())],
            )],
        )
        .script(
            "list pods",
            vec![list(
                "PodList",
                "400",
                vec![job_pod(migrate, pod, "402", init)],
            )],
        )
        .script(
            "watch pods",
            vec![Reply::Events(vec![event(
                "DELETED",
                job_pod(migrate, pod, "449", json!({"phase": "Failed"})),
            )])],
        );
    // No log is scripted: the stand-in answers 404 NotFound for the deleted pod's log.
    let out = run(
        &server,
        dir.path(),
        &["wait", "--target", "gate"],
        &gate_input(),
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("waits for what it needs (waitFor)"),
        "why it waited:\n{stdout}"
    );
    for expected in [
        "reason: DeadlineExceeded: Job was active longer than specified deadline",
        "its pod was deleted before the log was read",
        "start `deploy-jobs wait` right after the apply",
        &format!("`kubectl -n shop delete job {migrate}`; the next apply creates the Job again"),
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.contains(&format!("pods/{pod}/log"))),
        "the log was asked for before saying it is gone"
    );
}

#[test]
fn a_job_not_created_yet_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    kubeconfig(dir.path(), server.port, token());
    let (plan, name) = hook_plan(dir.path());
    server
        .script(
            &format!("list jobs/{name}"),
            vec![list("JobList", "500", vec![])],
        )
        .script(
            &format!("watch jobs/{name}"),
            vec![Reply::Events(vec![
                event("ADDED", job(&name, "510", json!({}))),
                event("MODIFIED", job(&name, "520", complete())),
            ])],
        )
        .script("list pods", vec![list("PodList", "500", vec![])]);
    let out = run(&server, dir.path(), &["wait", "--plan", &plan], b"");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let missing = stdout.find("not created yet").expect(&stdout);
    let created = stdout.find(&format!("Job {name} created")).expect(&stdout);
    let done = stdout.find("migrate: succeeded").expect(&stdout);
    assert!(
        missing < created && created < done,
        "said in the order it happened:\n{stdout}"
    );
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.contains("watch=true") && r.contains("resourceVersion=500")),
        "the watch starts from the list's resourceVersion: {:#?}",
        server.requests()
    );
}

#[test]
fn rbac_forbidden_names_what_is_refused_and_the_rbac_needed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    // Through an exec credential plugin, as EKS, GKE and AKS kubeconfigs are.
    let plugin = dir.path().join("credential-plugin");
    std::fs::write(&plugin, "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"from-exec-plugin\"}}'\n").unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&plugin).unwrap().permissions(),
        0o755,
    );
    let mut perms = std::fs::metadata(&plugin).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&plugin, perms).unwrap();
    kubeconfig(
        dir.path(),
        server.port,
        json!({"exec": {"apiVersion": "client.authentication.k8s.io/v1",
        "command": plugin.display().to_string(), "interactiveMode": "Never"}}),
    );
    let (plan, name) = hook_plan(dir.path());
    let refusal = format!(
        "jobs.batch \"{name}\" is forbidden: User \"system:serviceaccount:ci:deployer\" cannot list resource \"jobs\" in API group \"batch\" in the namespace \"shop\""
    );
    let mut forbidden = status(403, "Forbidden", &refusal);
    forbidden["details"] = json!({"name": name, "group": "batch", "kind": "jobs"});
    server
        .script(
            &format!("list jobs/{name}"),
            vec![Reply::Json(403, forbidden)],
        )
        .script("list pods", vec![list("PodList", "600", vec![])]);
    let out = run(&server, dir.path(), &["wait", "--plan", &plan], b"");
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("Forbidden (403)") && stderr.contains("cannot list resource \"jobs\""),
        "the cluster's refusal is quoted:\n{stderr}"
    );
    assert!(
        stderr.contains("get, list and watch on jobs") && stderr.contains("get on pods/log"),
        "the RBAC wait needs is named:\n{stderr}"
    );
    let auth = server.state.lock().unwrap().authorization.clone();
    assert!(
        auth.iter().any(|a| a == "bearer from-exec-plugin"),
        "the exec plugin's token is sent: {auth:?}"
    );
}

#[test]
fn an_interrupted_watch_resumes_and_a_410_gone_lists_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    kubeconfig(dir.path(), server.port, token());
    let (plan, name) = hook_plan(dir.path());
    let expired = status(410, "Expired", "too old resource version: 705 (900)");
    server
        .script(
            &format!("list jobs/{name}"),
            vec![
                list("JobList", "700", vec![job(&name, "700", active())]),
                list("JobList", "900", vec![job(&name, "890", complete())]),
            ],
        )
        .script(
            &format!("watch jobs/{name}"),
            vec![
                // Ends after one event: resumed from 705.
                Reply::Events(vec![event("MODIFIED", job(&name, "705", active()))]),
                // The resumed watch is too old: the client must list again.
                Reply::Events(vec![event("ERROR", expired)]),
            ],
        )
        .script("list pods", vec![list("PodList", "700", vec![])]);
    let out = run(&server, dir.path(), &["wait", "--plan", &plan], b"");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("expired (410 Gone"),
        "the relist is said:\n{stdout}"
    );
    assert!(stdout.contains("migrate: succeeded"), "{stdout}");
    let jobs: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.contains("/jobs?"))
        .collect();
    let resumed = jobs
        .iter()
        .position(|r| r.contains("watch=true") && r.contains("resourceVersion=705"));
    assert!(
        resumed.is_some(),
        "the ended watch resumes from the last event's resourceVersion: {jobs:#?}"
    );
    assert!(
        jobs[resumed.unwrap() + 1..]
            .iter()
            .any(|r| !r.contains("watch=true")),
        "after 410 Gone the Job is listed again: {jobs:#?}"
    );
}

#[test]
fn timeout_names_what_is_still_pending() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    kubeconfig(dir.path(), server.port, token());
    let (plan, name) = hook_plan(dir.path());
    server
        .script(
            &format!("list jobs/{name}"),
            vec![list("JobList", "800", vec![])],
        )
        .script("list pods", vec![list("PodList", "800", vec![])]);
    let out = run(
        &server,
        dir.path(),
        &["wait", "--plan", &plan, "--timeout", "1s"],
        b"",
    );
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("timed out")
            && stderr.contains(&format!("Job {name} (migrate): not created")),
        "the timeout says what was pending:\n{stderr}"
    );
}

#[test]
fn an_empty_stream_is_refused_rather_than_waited_for_as_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    kubeconfig(dir.path(), server.port, token());
    let out = run(&server, dir.path(), &["wait", "--target", "gate"], b"\n");
    let (stdout, stderr) = text(&out);
    assert!(
        !out.status.success(),
        "a render that failed upstream must not pass:\n{stdout}"
    );
    assert!(stderr.contains("the stream on stdin is empty"), "{stderr}");
    assert!(
        server.requests().is_empty(),
        "nothing is asked of the cluster"
    );
}

#[test]
fn an_unreachable_cluster_is_an_error_not_a_job_not_created_yet() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let (plan, _) = hook_plan(dir.path());
    // A port nothing listens on: bound, then closed.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    kubeconfig(dir.path(), closed, token());
    let out = run(&server, dir.path(), &["wait", "--plan", &plan], b"");
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("the Kubernetes API cannot be reached"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("not created yet"),
        "nothing was read, so nothing is said about the Job:\n{stdout}"
    );
}

#[test]
fn context_picks_the_kubeconfig_context_and_its_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    let (plan, name) = hook_plan(dir.path());
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The current context points nowhere; `--context ci` reaches the stand-in, namespace `ci-ns`.
    let config = json!({"apiVersion": "v1", "kind": "Config", "current-context": "nowhere",
      "clusters": [{"name": "nowhere", "cluster": {"server": format!("http://127.0.0.1:{closed}")}},
                   {"name": "stand-in", "cluster": {"server": format!("http://127.0.0.1:{}", server.port)}}],
      "contexts": [{"name": "nowhere", "context": {"cluster": "nowhere", "user": "ci"}},
                   {"name": "ci", "context": {"cluster": "stand-in", "user": "ci", "namespace": "ci-ns"}}],
      "users": [{"name": "ci", "user": token()}]});
    std::fs::write(dir.path().join("kubeconfig"), config.to_string()).unwrap();
    server
        .script(
            &format!("list jobs/{name}"),
            vec![list("JobList", "900", vec![job(&name, "900", complete())])],
        )
        .script("list pods", vec![list("PodList", "900", vec![])]);
    let out = run(
        &server,
        dir.path(),
        &["wait", "--plan", &plan, "--context", "ci"],
        b"",
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.contains("/namespaces/ci-ns/")),
        "the context's namespace is the release namespace: {:#?}",
        server.requests()
    );
}

#[test]
fn an_evicted_pod_found_after_the_fact_gives_the_reason_and_its_logs_tail() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start();
    kubeconfig(dir.path(), server.port, token());
    let (plan, name) = hook_plan(dir.path());
    let pod = "shop-migrate-3v1ct";
    // What the kubelet leaves of a pod it evicted: phase Failed, reason Evicted, the container
    // killed (137).
    let evicted = json!({"phase": "Failed", "reason": "Evicted", "startTime": T0,
      "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki.",
      "containerStatuses": [container(json!({"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
          "startedAt": T0, "finishedAt": "2026-05-04T10:00:30Z"}}))]});
    let reason = "Job has reached the specified backoff limit";
    server
        .script(
            &format!("list jobs/{name}"),
            vec![list(
                "JobList",
                "950",
                vec![job(&name, "950", failed("BackoffLimitExceeded", reason))],
            )],
        )
        .script(
            "list pods",
            vec![list(
                "PodList",
                "950",
                vec![job_pod(&name, pod, "940", evicted)],
            )],
        )
        .script(
            &format!("log {pod}"),
            vec![Reply::Lines(vec![
                "== CreateIndexes: migrating".into(),
                "-- add_index(:orders, :created_at)".into(),
            ])],
        );
    let out = run(&server, dir.path(), &["wait", "--plan", &plan], b"");
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}\n{stderr}");
    for expected in [
        "reason: BackoffLimitExceeded",
        "reason: pod Evicted: The node was low on resource: memory.",
        "container web: ContainerStatusUnknown, exit code 137",
        "last lines of the log of web:",
        "    | -- add_index(:orders, :created_at)",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.contains(&format!("pods/{pod}/log?"))
                && r.contains("tailLines=40")
                && !r.contains("follow=true")),
        "a pod that ended before wait saw it running has its tail read, not followed: {:#?}",
        server.requests()
    );
}
