//! The state of a wait, fed one observation at a time: what the watches, log streams and
//! rollout reads of `cluster` saw. Pure: it answers with what to say and what to read next,
//! and `verdict` says when the wait is over. Kubernetes semantics (conditions, pod phases,
//! waiting reasons, rollout arithmetic) live here; the network lives in `cluster`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use serde_json::Value;

use super::progress::{Failure, LogReport, Progress, Verdict};
use super::targets::{Gated, WaitList};
use crate::facts::GATE_JOBS_ANNOTATION;

/// Kubernetes labels every pod of a Job with its name (both keys since 1.27).
pub const JOB_NAME_LABELS: [&str; 2] = ["batch.kubernetes.io/job-name", "job-name"];
/// Gate mode's initContainer (`strategy::gate::GATE_CONTAINER`, which the edge may not name:
/// only the pipeline picks a strategy); a unit test holds the two equal.
pub const GATE_CONTAINER: &str = "deploy-jobs-gate";
/// The initContainer of a job's own pod that waits for its `waitFor` targets (`plan`).
pub const WAIT_FOR_CONTAINER: &str = "wait-for";
/// How many lines of a failed container's log to read when it was not streamed.
pub const TAIL_LINES: i64 = 40;

/// A change a watch reports (kube-runtime's watcher events, without the library's types).
#[derive(Debug, Clone)]
pub enum Change<K> {
    /// A list (or relist, after `410 Gone`) is complete: what was not seen is not there.
    Listed,
    Seen(K),
    Gone(K),
}

/// One thing `cluster` read.
#[derive(Debug, Clone)]
pub enum Observation {
    /// The watch of the `index`th Job (one watch per Job, by name).
    Job(usize, Change<Box<Job>>),
    /// The watch of the pods of a namespace.
    Pods(String, Change<Box<Pod>>),
    Log(usize, String),
    /// The log stream ended; with the reason if it could not be read.
    LogEnded(usize, Option<String>),
    /// The tail of a failed container's log: `None` when its pod is gone (404).
    Tail(usize, Result<Option<String>, String>),
    /// A read of a gated object: `None` while it is not found.
    Gated(Gated, Option<Value>),
    /// A watch ended early or a read failed, and is being retried.
    Interrupted(String),
}

/// What `cluster` should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Say(Progress),
    StreamLog {
        job: usize,
        pod: String,
        container: String,
    },
    ReadTail {
        job: usize,
        pod: String,
        container: String,
    },
    /// Every Job succeeded: read these objects until they have rolled out.
    FollowRollouts(Vec<Gated>),
}

#[derive(Debug, Default)]
enum Log {
    #[default]
    NotRead,
    Streaming,
    Streamed,
    TailAsked,
    Final(LogReport),
}

#[derive(Debug, Default)]
struct JobState {
    created: bool,
    said_missing: bool,
    /// `Some(None)` succeeded, `Some(Some(reason))` failed.
    outcome: Option<Option<String>>,
    pod: Option<String>,
    /// The container whose log matters: the failed one, else the first.
    container: Option<String>,
    running: bool,
    /// Its pod has ended (or is gone): what it says about why is all there.
    pod_settled: bool,
    pod_state: Option<String>,
    /// What the pod said last: a waiting reason, `Evicted`, an exit code.
    pod_reasons: Vec<String>,
    log: Log,
}

/// The state of one wait.
#[derive(Debug)]
pub struct Tracker {
    targets: WaitList,
    namespaces: Vec<String>,
    jobs: Vec<JobState>,
    /// Watches whose first list has not arrived: no verdict before they all have.
    unlisted: BTreeSet<String>,
    at_gate: BTreeMap<(String, String), Gated>,
    said_at_gate: BTreeMap<Gated, usize>,
    rollouts: Option<BTreeMap<Gated, bool>>,
    said_rollout: BTreeMap<Gated, String>,
}

impl Tracker {
    /// `namespaces[i]` is where `targets.jobs[i]` runs.
    pub fn new(targets: WaitList, namespaces: Vec<String>) -> Tracker {
        let mut unlisted: BTreeSet<String> = (0..targets.jobs.len()).map(job_source).collect();
        unlisted.extend(namespaces.iter().map(|ns| pod_source(ns)));
        let jobs = targets.jobs.iter().map(|_| JobState::default()).collect();
        Tracker {
            targets,
            namespaces,
            jobs,
            unlisted,
            at_gate: BTreeMap::new(),
            said_at_gate: BTreeMap::new(),
            rollouts: None,
            said_rollout: BTreeMap::new(),
        }
    }

    /// Takes one observation; answers with what to say and do.
    pub fn observe(&mut self, observation: Observation) -> Vec<Action> {
        let mut out = Vec::new();
        match observation {
            Observation::Job(i, change) => self.job(i, change, &mut out),
            Observation::Pods(ns, change) => self.pods(&ns, change, &mut out),
            Observation::Log(i, line) => out.push(Action::Say(Progress::Log {
                job: self.targets.jobs[i].job.clone(),
                line,
            })),
            Observation::LogEnded(i, error) => {
                self.jobs[i].log = match error {
                    None => Log::Streamed,
                    Some(e) => Log::Final(LogReport::Unreadable(e)),
                }
            }
            Observation::Tail(i, result) => {
                self.jobs[i].log = Log::Final(match result {
                    Ok(Some(text)) => LogReport::Tail(text.lines().map(str::to_owned).collect()),
                    Ok(None) => LogReport::PodGone,
                    Err(e) => LogReport::Unreadable(e),
                })
            }
            Observation::Gated(w, object) => self.workload(w, object.as_ref(), &mut out),
            Observation::Interrupted(what) => out.push(Action::Say(Progress::Note(what))),
        }
        self.next_steps(&mut out);
        out
    }

    fn job(&mut self, i: usize, change: Change<Box<Job>>, out: &mut Vec<Action>) {
        let target = &self.targets.jobs[i];
        let state = &mut self.jobs[i];
        let (job, name) = (target.job.clone(), target.name.clone());
        match change {
            Change::Listed => {
                self.unlisted.remove(&job_source(i));
                if !state.created && !state.said_missing {
                    state.said_missing = true;
                    out.push(Action::Say(Progress::NotCreated { job, name }));
                }
            }
            Change::Gone(_) => {
                state.created = false;
                out.push(Action::Say(Progress::Note(format!(
                    "{job}: Job {name} was deleted"
                ))));
            }
            Change::Seen(object) => {
                if !state.created {
                    state.created = true;
                    let at = object.metadata.creation_timestamp.as_ref();
                    out.push(Action::Say(Progress::Created {
                        job: job.clone(),
                        name,
                        at: at.map(|t| t.0.to_string()),
                    }));
                }
                if state.outcome.is_none() {
                    state.outcome = outcome(&object);
                    match &state.outcome {
                        Some(None) => out.push(Action::Say(Progress::Succeeded {
                            job,
                            took: took(&object),
                        })),
                        Some(Some(reason)) => out.push(Action::Say(Progress::Failed {
                            job,
                            reason: reason.clone(),
                        })),
                        None => {}
                    }
                }
            }
        }
    }

    fn pods(&mut self, ns: &str, change: Change<Box<Pod>>, out: &mut Vec<Action>) {
        let (pod, gone) = match change {
            Change::Listed => {
                self.unlisted.remove(&pod_source(ns));
                return;
            }
            Change::Seen(pod) => (pod, false),
            Change::Gone(pod) => (pod, true),
        };
        if let Some(i) = self.job_of(ns, &pod) {
            self.job_pod(i, &pod, gone, out);
        } else if self.targets.gate {
            self.gate_pod(ns, &pod, gone, out);
        }
    }

    /// The followed Job this pod belongs to, by the label Kubernetes sets.
    fn job_of(&self, ns: &str, pod: &Pod) -> Option<usize> {
        let labels = pod.metadata.labels.as_ref()?;
        let name = JOB_NAME_LABELS.iter().find_map(|k| labels.get(*k))?;
        (0..self.targets.jobs.len())
            .find(|&i| self.targets.jobs[i].name == *name && self.namespaces[i] == ns)
    }

    fn job_pod(&mut self, i: usize, pod: &Pod, gone: bool, out: &mut Vec<Action>) {
        let job = self.targets.jobs[i].job.clone();
        let state = &mut self.jobs[i];
        let name = pod.metadata.name.clone().unwrap_or_default();
        state.pod = Some(name.clone());
        state.container = failed_container(pod).or_else(|| main_container(pod));
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        state.pod_settled = gone || matches!(phase, Some("Succeeded" | "Failed"));
        if gone {
            out.push(Action::Say(Progress::Note(format!(
                "{job}: pod {name} was deleted"
            ))));
            return;
        }
        let status = pod.status.as_ref();
        let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
        let reasons = pod_reasons(pod);
        if !reasons.is_empty() {
            state.pod_reasons = reasons;
        }
        match phase {
            "Pending" => {
                let why = pending_why(pod);
                if state.pod_state.as_ref() != Some(&why) {
                    state.pod_state = Some(why.clone());
                    out.push(Action::Say(Progress::Pending {
                        job,
                        pod: name,
                        why,
                    }));
                }
            }
            "Running" if !state.running => {
                state.running = true;
                state.pod_state = Some("running".into());
                out.push(Action::Say(Progress::Running {
                    job,
                    pod: name.clone(),
                }));
                if let (Log::NotRead, Some(container)) = (&state.log, main_container(pod)) {
                    state.log = Log::Streaming;
                    out.push(Action::StreamLog {
                        job: i,
                        pod: name,
                        container,
                    });
                }
            }
            _ => {}
        }
    }

    fn gate_pod(&mut self, ns: &str, pod: &Pod, gone: bool, out: &mut Vec<Action>) {
        let key = (ns.to_owned(), pod.metadata.name.clone().unwrap_or_default());
        let waiting = !gone && at_gate(pod);
        let workload = waiting.then(|| self.workload_of(ns, pod)).flatten();
        match workload {
            Some(w) => self.at_gate.insert(key, w),
            None => self.at_gate.remove(&key),
        };
        for w in self.targets.workloads() {
            let count = self.at_gate.values().filter(|v| **v == w).count();
            let said = self.said_at_gate.get(&w).copied();
            if said != Some(count) && (said.is_some() || count > 0) {
                self.said_at_gate.insert(w.clone(), count);
                out.push(Action::Say(Progress::AtGate {
                    workload: w,
                    pods: count,
                }));
            }
        }
    }

    /// The gated object a pod belongs to: its owner (`web-5d4f8b` of Deployment `web`, a
    /// CronJob's `cleanup-29012345`) read against the gated names, longest match first.
    fn workload_of(&self, ns: &str, pod: &Pod) -> Option<Gated> {
        let listed = pod
            .metadata
            .annotations
            .as_ref()?
            .get(GATE_JOBS_ANNOTATION)?;
        let gated: Vec<&Gated> = self
            .targets
            .jobs
            .iter()
            .zip(&self.namespaces)
            .filter(|(t, n)| *n == ns && listed.split(',').any(|j| j == t.name))
            .flat_map(|(t, _)| &t.gates)
            .collect();
        let owner = pod.metadata.owner_references.as_ref()?.first()?;
        gated
            .into_iter()
            .filter(|w| {
                owner.name == w.name
                    || owner
                        .name
                        .strip_prefix(w.name.as_str())
                        .is_some_and(|rest| rest.starts_with('-'))
            })
            .max_by_key(|w| w.name.len())
            .cloned()
    }

    fn workload(&mut self, w: Gated, object: Option<&Value>, out: &mut Vec<Action>) {
        let (done, state) = match object {
            None => (false, "not found yet".to_owned()),
            Some(object) => rollout(&w.kind, object),
        };
        if let Some(rollouts) = &mut self.rollouts {
            rollouts.insert(w.clone(), done);
        }
        let say = if done {
            Progress::RolledOut {
                workload: w.clone(),
            }
        } else {
            Progress::Rollout {
                workload: w.clone(),
                state: state.clone(),
            }
        };
        if self.said_rollout.get(&w) != Some(&state) {
            self.said_rollout.insert(w, state);
            out.push(Action::Say(say));
        }
    }

    /// Once every watch has listed: read the log of failed Jobs that was not streamed, and
    /// follow the rollouts once every Job succeeded.
    fn next_steps(&mut self, out: &mut Vec<Action>) {
        if !self.unlisted.is_empty() {
            return;
        }
        for (i, state) in self.jobs.iter_mut().enumerate() {
            if !matches!(state.outcome, Some(Some(_))) || !matches!(state.log, Log::NotRead) {
                continue;
            }
            match (&state.pod, &state.container) {
                (Some(pod), Some(container)) => {
                    state.log = Log::TailAsked;
                    out.push(Action::ReadTail {
                        job: i,
                        pod: pod.clone(),
                        container: container.clone(),
                    });
                }
                _ => state.log = Log::Final(LogReport::PodGone),
            }
        }
        let all_succeeded = self.jobs.iter().all(|j| matches!(j.outcome, Some(None)));
        if all_succeeded && self.rollouts.is_none() && self.targets.gate {
            let (followed, skipped): (Vec<_>, Vec<_>) = self
                .targets
                .workloads()
                .into_iter()
                .partition(|w| rollout_kind(&w.kind));
            for w in skipped {
                out.push(Action::Say(Progress::Note(format!(
                    "{w}: its rollout is not followed (deploy-jobs wait follows Deployments, StatefulSets, DaemonSets and ReplicaSets); its new pods pass the gate"
                ))));
            }
            self.rollouts = Some(followed.iter().map(|w| (w.clone(), false)).collect());
            if !followed.is_empty() {
                out.push(Action::FollowRollouts(followed));
            }
        }
    }

    /// How the wait ends, once it has.
    pub fn verdict(&self) -> Option<Verdict> {
        if !self.unlisted.is_empty() {
            return None;
        }
        let failed: Vec<usize> = (0..self.jobs.len())
            .filter(|&i| matches!(self.jobs[i].outcome, Some(Some(_))))
            .collect();
        if !failed.is_empty() {
            // All a failure says is in: its log, and its pod's last word (a Job is marked
            // Failed once its pods have ended; the pod's watch may tell it a moment later).
            let settled = failed.iter().all(|&i| {
                let job = &self.jobs[i];
                matches!(job.log, Log::Final(_) | Log::Streamed)
                    && (job.pod.is_none() || job.pod_settled)
            });
            return settled
                .then(|| Verdict::Failed(failed.iter().map(|&i| self.failure(i)).collect()));
        }
        // A streamed log is printed to its end before saying the Job succeeded.
        let jobs_done = self
            .jobs
            .iter()
            .all(|j| j.outcome.is_some() && !matches!(j.log, Log::Streaming));
        let rolled_out = match &self.rollouts {
            Some(r) => r.values().all(|done| *done),
            None => !self.targets.gate,
        };
        (jobs_done && rolled_out).then_some(Verdict::Succeeded)
    }

    fn failure(&self, i: usize) -> Failure {
        let (target, state) = (&self.targets.jobs[i], &self.jobs[i]);
        let mut reasons: Vec<String> = state.outcome.clone().flatten().into_iter().collect();
        reasons.extend(state.pod_reasons.iter().cloned());
        if let Some(why) = state.pod_state.as_ref().filter(|_| !state.running) {
            reasons.push(format!("its pod never started: {why}"));
        }
        Failure {
            job: target.job.clone(),
            name: target.name.clone(),
            namespace: self.namespaces[i].clone(),
            reasons,
            container: state.container.clone(),
            log: match &state.log {
                Log::Final(report) => report.clone(),
                _ => LogReport::Streamed,
            },
            gate: self.targets.gate,
        }
    }

    /// What is still pending, one line each, for a timeout.
    pub fn pending(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (target, state) in self.targets.jobs.iter().zip(&self.jobs) {
            let what = match (&state.outcome, state.created, &state.pod_state) {
                (Some(_), _, _) => continue,
                (None, false, _) => "not created".to_owned(),
                (None, true, None) => "created, no pod yet".to_owned(),
                (None, true, Some(pod)) => format!("pod {}", pod),
            };
            out.push(format!("Job {} ({}): {what}", target.name, target.job));
        }
        for (w, count) in &self.said_at_gate {
            if *count > 0 {
                out.push(format!("{w}: {count} new pod(s) waiting at the gate"));
            }
        }
        for (w, done) in self.rollouts.iter().flatten() {
            if !done {
                let state = self
                    .said_rollout
                    .get(w)
                    .map_or("not read yet", String::as_str);
                out.push(format!("{w}: rollout not finished ({state})"));
            }
        }
        out
    }
}

fn job_source(i: usize) -> String {
    format!("job {i}")
}

fn pod_source(ns: &str) -> String {
    format!("pods {ns}")
}

/// `Some(None)` when the Job completed, `Some(Some(reason))` when it failed (its `Failed`
/// condition's reason and message: DeadlineExceeded, BackoffLimitExceeded).
fn outcome(job: &Job) -> Option<Option<String>> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    let active = |kind: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    if active("Complete").is_some() {
        return Some(None);
    }
    let failed = active("Failed")?;
    let reason = failed.reason.as_deref().unwrap_or("Failed");
    Some(Some(match failed.message.as_deref() {
        Some(message) if !message.is_empty() => format!("{reason}: {message}"),
        _ => reason.to_owned(),
    }))
}

fn took(job: &Job) -> Option<i64> {
    let status = job.status.as_ref()?;
    let (start, end) = (
        status.start_time.as_ref()?,
        status.completion_time.as_ref()?,
    );
    Some(end.0.as_second() - start.0.as_second())
}

fn main_container(pod: &Pod) -> Option<String> {
    Some(pod.spec.as_ref()?.containers.first()?.name.clone())
}

/// The container that exited with an error, if one did.
fn failed_container(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses
        .iter()
        .find(|s| terminated_code(s).is_some_and(|code| code != 0))
        .map(|s| s.name.clone())
}

fn terminated_code(status: &ContainerStatus) -> Option<i32> {
    Some(status.state.as_ref()?.terminated.as_ref()?.exit_code)
}

/// What a pod says about how it ended: `Evicted: ...`, `container web: Error, exit code 1`.
fn pod_reasons(pod: &Pod) -> Vec<String> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(reason) = &status.reason {
        let message = status.message.as_deref().unwrap_or_default();
        out.push(
            format!("pod {reason}: {message}")
                .trim_end_matches([' ', ':'])
                .to_owned(),
        );
    }
    for s in status.container_statuses.iter().flatten() {
        let Some(t) = s.state.as_ref().and_then(|st| st.terminated.as_ref()) else {
            continue;
        };
        if t.exit_code != 0 {
            let reason = t.reason.as_deref().unwrap_or("terminated");
            out.push(format!(
                "container {}: {reason}, exit code {}",
                s.name, t.exit_code
            ));
        }
    }
    out
}

/// Why a pending pod waits: scheduling, an image, an init container.
fn pending_why(pod: &Pod) -> String {
    let Some(status) = pod.status.as_ref() else {
        return "not scheduled yet".into();
    };
    let unscheduled = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False");
    if let Some(c) = unscheduled {
        let reason = c.reason.as_deref().unwrap_or("not scheduled");
        return format!("{reason}: {}", c.message.as_deref().unwrap_or_default());
    }
    let inits = status.init_container_statuses.iter().flatten();
    let mains = status.container_statuses.iter().flatten();
    for s in inits.clone().chain(mains) {
        let Some(w) = s.state.as_ref().and_then(|st| st.waiting.as_ref()) else {
            continue;
        };
        let reason = w.reason.as_deref().unwrap_or("waiting");
        if !matches!(reason, "PodInitializing" | "ContainerCreating") {
            let message = w.message.as_deref().unwrap_or_default();
            return format!("{}: {reason}: {message}", s.name)
                .trim_end_matches([' ', ':'])
                .to_owned();
        }
    }
    for s in inits {
        if s.state.as_ref().is_some_and(|st| st.running.is_some()) {
            return match s.name.as_str() {
                GATE_CONTAINER => "waits at its gate for the job before it".into(),
                WAIT_FOR_CONTAINER => "waits for what it needs (waitFor)".into(),
                other => format!("init container {other} running"),
            };
        }
    }
    "containers being created".into()
}

/// Whether a pod's gate container has not passed yet.
fn at_gate(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return pod.metadata.deletion_timestamp.is_none();
    };
    if pod.metadata.deletion_timestamp.is_some() || status.phase.as_deref() != Some("Pending") {
        return false;
    }
    status
        .init_container_statuses
        .iter()
        .flatten()
        .find(|s| s.name == GATE_CONTAINER)
        .is_none_or(|s| s.state.as_ref().is_none_or(|st| st.terminated.is_none()))
}

fn rollout_kind(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
    )
}

/// Whether an object has rolled out, read as `kubectl rollout status` does, and its state.
fn rollout(kind: &str, object: &Value) -> (bool, String) {
    let int = |path: &str| object.pointer(path).and_then(Value::as_i64);
    let observed =
        int("/status/observedGeneration").unwrap_or(0) >= int("/metadata/generation").unwrap_or(0);
    let (desired, updated, ready) = match kind {
        "DaemonSet" => (
            int("/status/desiredNumberScheduled").unwrap_or(0),
            int("/status/updatedNumberScheduled").unwrap_or(0),
            int("/status/numberAvailable").unwrap_or(0),
        ),
        "StatefulSet" => (
            int("/spec/replicas").unwrap_or(1),
            int("/status/updatedReplicas").unwrap_or(0),
            int("/status/readyReplicas").unwrap_or(0),
        ),
        _ => (
            int("/spec/replicas").unwrap_or(1),
            int("/status/updatedReplicas").unwrap_or(int("/status/replicas").unwrap_or(0)),
            int("/status/availableReplicas").unwrap_or(0),
        ),
    };
    let old = kind == "Deployment" && int("/status/replicas").unwrap_or(0) > updated;
    let stalled = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["reason"] == "ProgressDeadlineExceeded");
    let done = observed && updated >= desired && ready >= desired && !old;
    let mut state = format!("{updated} of {desired} updated, {ready} available");
    if stalled {
        state.push_str(" (progress deadline exceeded: a new pod does not become ready)");
    }
    (done, state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wait::targets::Followed;
    use serde_json::json;

    fn pod(value: Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    fn gate_targets(gates: &[(&str, &str)]) -> WaitList {
        let gates = gates
            .iter()
            .map(|(kind, name)| Gated {
                kind: (*kind).into(),
                name: (*name).into(),
            })
            .collect();
        WaitList {
            jobs: vec![Followed {
                job: "migrate".into(),
                name: "shop-migrate-0123456789".into(),
                namespace: None,
                gates,
                deadline: None,
            }],
            gate: true,
        }
    }

    #[test]
    fn container_names_are_those_the_render_gives() {
        assert_eq!(GATE_CONTAINER, crate::strategy::gate::GATE_CONTAINER);
        let rendered = crate::render(
            include_bytes!("../../testdata/gate-holds-every-object-that-runs-the-app/input.yaml"),
            &crate::Options {
                target: crate::Target::Gate,
                ..crate::Options::default()
            },
        )
        .unwrap();
        let text: String = rendered.stream.pieces().collect();
        for name in [GATE_CONTAINER, WAIT_FOR_CONTAINER] {
            assert!(
                text.contains(&format!("- name: {name}\n")),
                "the rendered Job's pod has a container `{name}`"
            );
        }
    }

    #[test]
    fn an_evicted_pod_says_so_with_the_kubelets_message() {
        let evicted = pod(
            json!({"metadata": {"name": "p"}, "status": {"phase": "Failed",
            "reason": "Evicted", "message": "The node was low on resource: memory."}}),
        );
        assert_eq!(
            pod_reasons(&evicted),
            ["pod Evicted: The node was low on resource: memory."]
        );
    }

    #[test]
    fn an_unscheduled_pod_says_why_the_scheduler_left_it() {
        let pending = pod(
            json!({"metadata": {"name": "p"}, "status": {"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
              "message": "0/3 nodes are available: 3 Insufficient cpu."}]}}),
        );
        assert_eq!(
            pending_why(&pending),
            "Unschedulable: 0/3 nodes are available: 3 Insufficient cpu."
        );
    }

    #[test]
    fn a_gated_pod_is_counted_for_the_object_that_owns_it_longest_name_first() {
        let targets = gate_targets(&[
            ("Deployment", "shop-web"),
            ("Deployment", "shop-web-api"),
            ("CronJob", "shop-cleanup"),
        ]);
        let tracker = Tracker::new(targets, vec!["shop".into()]);
        let owned_by = |owner: &str| {
            pod(json!({"metadata": {"name": "p",
              "annotations": {GATE_JOBS_ANNOTATION: "shop-migrate-0123456789"},
              "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "uid": "u"}]}}))
        };
        let of = |owner: &str| {
            tracker
                .workload_of("shop", &owned_by(owner))
                .map(|w| w.to_string())
        };
        assert_eq!(
            of("shop-web-api-7f9c").as_deref(),
            Some("Deployment/shop-web-api")
        );
        assert_eq!(
            of("shop-web-5d4f8b").as_deref(),
            Some("Deployment/shop-web")
        );
        assert_eq!(
            of("shop-cleanup-29012345").as_deref(),
            Some("CronJob/shop-cleanup")
        );
        assert_eq!(
            of("shop-webhook-1"),
            None,
            "a name that only starts alike is not ours"
        );
    }

    #[test]
    fn rollouts_end_as_kubectl_rollout_status_says() {
        let deployment = |replicas: i64, updated: i64, available: i64| {
            json!({"metadata": {"generation": 4}, "spec": {"replicas": 2},
              "status": {"observedGeneration": 4, "replicas": replicas,
                         "updatedReplicas": updated, "availableReplicas": available}})
        };
        assert!(rollout("Deployment", &deployment(2, 2, 2)).0);
        assert!(
            !rollout("Deployment", &deployment(3, 2, 2)).0,
            "an old pod still runs"
        );
        let stale = json!({"metadata": {"generation": 5}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 4, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}});
        assert!(
            !rollout("Deployment", &stale).0,
            "the controller has not seen the new spec"
        );
        let sts = json!({"metadata": {"generation": 1}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 1, "updatedReplicas": 3, "readyReplicas": 2}});
        assert!(!rollout("StatefulSet", &sts).0, "a pod is not ready");
    }

    #[test]
    fn no_verdict_before_every_watch_has_listed() {
        let mut tracker = Tracker::new(gate_targets(&[]), vec!["shop".into()]);
        let job: Job =
            serde_json::from_value(json!({"metadata": {"name": "shop-migrate-0123456789"},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}}))
            .unwrap();
        tracker.observe(Observation::Job(0, Change::Seen(Box::new(job))));
        tracker.observe(Observation::Job(0, Change::Listed));
        assert_eq!(
            tracker.verdict(),
            None,
            "the pods of the namespace are not listed yet"
        );
        tracker.observe(Observation::Pods("shop".into(), Change::Listed));
        assert_eq!(tracker.verdict(), Some(Verdict::Succeeded));
    }
}
