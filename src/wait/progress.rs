//! What `deploy-jobs wait` reports as it goes, and how it ends: plain values with a one-line
//! `Display` each, which the CLI prints (with a clock, on a terminal with a status line).

use std::fmt;

use super::targets::Gated;

/// One thing that happened in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The Job is not in the cluster yet (Helm 3 creates Jobs after Deployments).
    NotCreated {
        job: String,
        name: String,
    },
    /// `at`: its creationTimestamp (in hook mode a Job found finished may be an earlier
    /// deploy's, which has the same name).
    Created {
        job: String,
        name: String,
        at: Option<String>,
    },
    /// Its pod waits: for a node, an image, or in an init container.
    Pending {
        job: String,
        pod: String,
        why: String,
    },
    Running {
        job: String,
        pod: String,
    },
    /// A line of the migration container's log.
    Log {
        job: String,
        line: String,
    },
    Succeeded {
        job: String,
        took: Option<i64>,
    },
    Failed {
        job: String,
        reason: String,
    },
    /// How many new pods of a gated object wait at its gate.
    AtGate {
        workload: Gated,
        pods: usize,
    },
    /// A gated object's rollout, as `kubectl rollout status` reads it.
    Rollout {
        workload: Gated,
        state: String,
    },
    RolledOut {
        workload: Gated,
    },
    /// Something worth saying that is none of the above (a watch resumed, a kind not followed).
    Note(String),
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Progress::NotCreated { job, name } => {
                write!(f, "{job}: Job {name} not created yet; waiting for it")
            }
            Progress::Created { job, name, at } => match at {
                Some(at) => write!(f, "{job}: Job {name} created at {at}"),
                None => write!(f, "{job}: Job {name} created"),
            },
            Progress::Pending { job, pod, why } => write!(f, "{job}: pod {pod} pending: {why}"),
            Progress::Running { job, pod } => write!(f, "{job}: pod {pod} running"),
            Progress::Log { job, line } => write!(f, "[{job}] {line}"),
            Progress::Succeeded { job, took } => match took {
                Some(s) => write!(f, "{job}: succeeded in {}", duration(*s)),
                None => write!(f, "{job}: succeeded"),
            },
            Progress::Failed { job, reason } => write!(f, "{job}: failed: {reason}"),
            Progress::AtGate { workload, pods: 0 } => {
                write!(f, "{workload}: no new pod waits at the gate")
            }
            Progress::AtGate { workload, pods: 1 } => {
                write!(f, "{workload}: 1 new pod waits at the gate")
            }
            Progress::AtGate { workload, pods } => {
                write!(f, "{workload}: {pods} new pods wait at the gate")
            }
            Progress::Rollout { workload, state } => write!(f, "{workload}: {state}"),
            Progress::RolledOut { workload } => write!(f, "{workload}: rolled out"),
            Progress::Note(text) => f.write_str(text),
        }
    }
}

/// `41s`, `3m05s`, `1h02m`.
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// How a failed Job's log reached the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogReport {
    /// Streamed above as it ran.
    Streamed,
    /// Its last lines, read after the Job failed.
    Tail(Vec<String>),
    /// Its pod is gone: Kubernetes deleted it (a deadline deletes the running pod) before the
    /// log was read.
    PodGone,
    /// The log could not be read, and why.
    Unreadable(String),
}

/// A Job that failed, with everything needed to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub job: String,
    pub name: String,
    pub namespace: String,
    /// Kubernetes' reason and message: `DeadlineExceeded: Job was active longer than ...`,
    /// with what its pod last said (`ImagePullBackOff`, `Evicted`).
    pub reasons: Vec<String>,
    pub container: Option<String>,
    pub log: LogReport,
    /// Gate mode: deleting the Job lets the next apply create it again.
    pub gate: bool,
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every Job succeeded and, in gate mode, every gated object rolled out.
    Succeeded,
    Failed(Vec<Failure>),
    /// `--timeout` ran out; what was still pending, one line each.
    TimedOut(Vec<String>),
}

/// What a wait ends with, for people: the outcome, and for each failure the reason, the
/// log (or why there is none) and how to run the Job again.
pub fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Succeeded => "every job succeeded; the gated workloads, if any, rolled out".into(),
        Verdict::TimedOut(pending) => {
            let mut out = String::from("timed out (--timeout); still pending:\n");
            for line in pending {
                out.push_str(&format!("  {line}\n"));
            }
            out
        }
        Verdict::Failed(failures) => failures.iter().map(failure_text).collect(),
    }
}

fn failure_text(f: &Failure) -> String {
    let mut out = format!(
        "error: job `{}` failed (Job {} in namespace {})\n",
        f.job, f.name, f.namespace
    );
    for reason in &f.reasons {
        out.push_str(&format!("  reason: {reason}\n"));
    }
    let container = f.container.as_deref().unwrap_or("its container");
    match &f.log {
        LogReport::Streamed => out.push_str(&format!("  log of {container}: above\n")),
        LogReport::Tail(lines) => {
            out.push_str(&format!("  last lines of the log of {container}:\n"));
            for line in lines {
                out.push_str(&format!("    | {line}\n"));
            }
        }
        LogReport::PodGone => out.push_str(
            "  log: none: its pod was deleted before the log was read (Kubernetes deletes a Job's running pod when its deadline passes). Next time, start `deploy-jobs wait` right after the apply, or alongside it: it streams the log while the pod runs\n",
        ),
        LogReport::Unreadable(why) => out.push_str(&format!("  log: could not be read: {why}\n")),
    }
    if f.gate {
        out.push_str(&format!(
            "  to run it again: fix the cause, then `kubectl -n {} delete job {}`; the next apply creates the Job again and it runs (old pods keep serving meanwhile)\n",
            f.namespace, f.name
        ));
    } else {
        out.push_str("  to run it again: fix the cause and deploy again (the hook Job is created again at every deploy)\n");
    }
    out
}
