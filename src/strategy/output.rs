//! The plain data a strategy returns for each job ([`JobOutput`]), which rendering, the name
//! checks and `plan` read: the generated objects, and what the hook strategy's `exclusive`
//! stop step and the gate strategy decided. It belongs to planning, below the strategies, so
//! that nothing above them needs to name one.

use serde_norway::Value;

use crate::documents::Pods;
use crate::helm::TIMEOUT_MARGIN;
use crate::k8s::{self, RefKind};

/// Seconds the stop and start Jobs allow for their kubectl calls, on top of the wait for pods.
pub const STOP_OVERHEAD_SECONDS: u64 = 50;

/// Seconds added to a workload's grace periods for the controllers and kubelet to act; the
/// stop script adds the same (a test holds them together).
pub const STOP_SLACK_SECONDS: u64 = 10;

/// The objects generated for an enabled job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutput {
    /// Hook copies, Secrets first, then ConfigMaps, in weight order.
    pub copies: Vec<HookCopy>,
    pub object: k8s::Job,
    pub weight: i64,
    /// For an `exclusive` job: the stop step before it and the start step after.
    pub stop: Option<Stop>,
    /// References to objects the stream does not render: they must already exist.
    pub external: Vec<(RefKind, String)>,
    /// The chart's hooks the job reads (indices into [`crate::plan::Plan::chart_hooks`]).
    pub reads_chart_hooks: Vec<usize>,
    /// Where the reused container came from: `Deployment/web`.
    pub source: Option<String>,
    /// Whether `helm --wait` waits for that workload's pods to be Ready and they have a
    /// readiness probe (a post-install/upgrade job the app waits for would then deadlock).
    pub source_waited_for_readiness: bool,
    /// Further objects the strategy adds before the Job (the gate's ServiceAccount, Role
    /// and RoleBinding).
    pub objects: Vec<Value>,
    /// In gate mode: what the job gates or follows.
    pub gate: Option<Gating>,
}

impl JobOutput {
    /// Every object the job adds, in the order they are emitted (and weighted): the stop
    /// step's RBAC and Job, the copies, the Job, the start step. Rendering, the name checks
    /// and the plan report all walk this one list.
    pub fn generated(&self) -> Vec<Generated<'_>> {
        let mut out: Vec<Generated<'_>> = self.objects.iter().map(Generated::Rbac).collect();
        if let Some(stop) = &self.stop {
            out.extend(stop.rbac.iter().map(Generated::Rbac));
            out.push(Generated::Stop(stop));
        }
        out.extend(self.copies.iter().map(Generated::Copy));
        out.push(Generated::Job(&self.object));
        if let Some(stop) = &self.stop {
            out.push(Generated::Start(stop, &stop.start_job));
        }
        out
    }
}

/// One object a job adds; see [`JobOutput::generated`].
#[derive(Debug, Clone, Copy)]
pub enum Generated<'a> {
    /// A ServiceAccount, Role or RoleBinding: the stop step's, or the gate's.
    Rbac(&'a Value),
    /// The stop step's Job.
    Stop(&'a Stop),
    Copy(&'a HookCopy),
    /// The job itself.
    Job(&'a k8s::Job),
    /// The start step's Job.
    Start(&'a Stop, &'a k8s::Job),
}

impl<'a> Generated<'a> {
    pub fn kind(&self) -> &'a str {
        match *self {
            Generated::Rbac(v) => v["kind"].as_str().unwrap_or_default(),
            Generated::Copy(c) => c.kind.kind(),
            Generated::Stop(_) | Generated::Job(_) | Generated::Start(..) => "Job",
        }
    }

    pub fn name(&self) -> &'a str {
        match *self {
            Generated::Rbac(v) => v["metadata"]["name"].as_str().unwrap_or_default(),
            Generated::Copy(c) => &c.name,
            _ => self
                .job()
                .and_then(|j| j.metadata.name.as_deref())
                .unwrap_or_default(),
        }
    }

    /// Its `metadata.namespace`; `None` is the release's.
    pub fn namespace(&self) -> Option<&'a str> {
        match *self {
            Generated::Rbac(v) => v["metadata"]["namespace"].as_str(),
            Generated::Copy(c) => c.object["metadata"]["namespace"].as_str(),
            _ => self.job().and_then(|j| j.metadata.namespace.as_deref()),
        }
    }

    pub fn annotation(&self, key: &str) -> Option<&'a str> {
        match *self {
            Generated::Rbac(v) => v["metadata"]["annotations"][key].as_str(),
            Generated::Copy(c) => c.object["metadata"]["annotations"][key].as_str(),
            _ => self
                .job()
                .and_then(|j| j.metadata.annotations.get(key))
                .map(String::as_str),
        }
    }

    /// The Job object of the stop step, the job and the start step.
    pub fn job(&self) -> Option<&'a k8s::Job> {
        match *self {
            Generated::Stop(stop) => Some(&stop.stop_job),
            Generated::Job(job) | Generated::Start(_, job) => Some(job),
            Generated::Rbac(_) | Generated::Copy(_) => None,
        }
    }
}

impl serde::Serialize for Generated<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Generated::Rbac(v) => v.serialize(serializer),
            Generated::Copy(c) => c.object.serialize(serializer),
            Generated::Stop(stop) => stop.stop_job.serialize(serializer),
            Generated::Job(job) | Generated::Start(_, job) => job.serialize(serializer),
        }
    }
}

/// A hook copy of a Secret or ConfigMap the stream renders as an ordinary resource.
#[derive(Debug, Clone, PartialEq)]
pub struct HookCopy {
    pub kind: RefKind,
    pub original: String,
    pub name: String,
    pub weight: i64,
    /// The copy, ready to serialize.
    pub object: Value,
}

/// A workload to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct StopTarget {
    pub kind: String,
    pub name: String,
    /// Its `metadata.namespace`; `None` is the release's namespace.
    pub namespace: Option<String>,
    /// `k=v,k2=v2`: its pods.
    pub selector: String,
    /// Whether the rendered manifest sets `spec.replicas` (then the upgrade restores it).
    pub sets_replicas: bool,
    /// `terminationGracePeriodSeconds` of its pods.
    pub grace_seconds: u64,
    /// How many pods go one after the other: an OrderedReady StatefulSet's replicas
    /// (1 when the manifest leaves them to an autoscaler), otherwise 1.
    pub sequential_pods: u64,
}

impl StopTarget {
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// How long its pods may take to go, by its manifest; the stop script computes the same
    /// from the live object before it stops anything.
    pub fn stop_seconds(&self) -> u64 {
        self.grace_seconds * self.sequential_pods + STOP_SLACK_SECONDS
    }

    /// `3 pods one after the other, 120s grace period each`, for messages.
    pub fn stop_reason(&self) -> String {
        if self.sequential_pods > 1 {
            format!(
                "{} pods one after the other, {}s grace period each",
                self.sequential_pods, self.grace_seconds
            )
        } else {
            format!("a {}s grace period", self.grace_seconds)
        }
    }
}

/// A workload the stream renders that an exclusive job leaves running, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct LeftRunning {
    /// `CronJob/report`.
    pub id: String,
    pub reason: String,
    /// Whether it can still reach the database during the migration (a CronJob's runs, a
    /// DaemonSet's pods), as opposed to being left running on purpose.
    pub may_interfere: bool,
}

/// The objects an exclusive job adds.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    pub targets: Vec<StopTarget>,
    /// The workloads of the stream it does not stop.
    pub left_running: Vec<LeftRunning>,
    /// ServiceAccount, then a Role and a RoleBinding per namespace of the targets.
    pub rbac: Vec<Value>,
    pub stop_job: k8s::Job,
    /// Seconds the stop step waits for pods to go.
    pub wait_seconds: u64,
    /// After the release's apply: restores the targets that do not set `replicas`, and
    /// clears the recorded counts.
    pub start_job: k8s::Job,
}

impl Stop {
    /// The targets the start step brings back: those whose manifest leaves `replicas` out.
    pub fn restarted(&self) -> impl Iterator<Item = &StopTarget> {
        self.targets.iter().filter(|t| !t.sets_replicas)
    }

    /// The slowest target to stop, by its manifest.
    pub fn slowest(&self) -> Option<&StopTarget> {
        self.targets.iter().max_by_key(|t| t.stop_seconds())
    }

    /// The `--timeout` Helm needs to wait for the stop step to finish.
    pub fn helm_timeout(&self) -> u64 {
        self.stop_job.spec.active_deadline_seconds + TIMEOUT_MARGIN
    }
}

/// An object a job gates or follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Its document.
    pub doc: usize,
    pub kind: String,
    pub name: String,
    /// Its API group and RBAC resource.
    pub group: String,
    pub resource: String,
    /// How the scripts name it to kubectl: `Deployment/web`, `rollouts.argoproj.io/web`.
    pub kubectl: String,
    /// Where its pod template is.
    pub pods: Pods,
    /// Its pods' ServiceAccount, once gated (a gated object that ran as `default` runs as
    /// the job's own ServiceAccount: see [`Workload::left_default`]).
    pub service_account: String,
    /// Whether this job moved it off the namespace's `default` ServiceAccount, and whether
    /// its pod spec lists image pull secrets of its own (those `default` carries are lost).
    pub left_default: Option<PullSecrets>,
    /// Whether this job creates that ServiceAccount (the first job that gates it, when the
    /// job's own pod runs as a ServiceAccount of the user's).
    pub creates_account: bool,
    /// How its rollout takes the app down while the gate holds the new pods, if it does.
    pub downtime: Option<String>,
}

impl Workload {
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// Whether a pod spec lists image pull secrets of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullSecrets {
    Listed,
    None,
}

/// An object that runs pods and that a gate-mode job does not hold, and why: planned here,
/// and shown as it is by `plan` (its JSON has these two fields).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NotHeld {
    /// `Kind/name` of the object.
    pub object: String,
    pub reason: String,
}

/// What the gate mode made of one job, for the workload rewrite and `plan`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gating {
    /// The objects whose pods wait for this job (a job at pre-install or pre-upgrade).
    pub gates: Vec<Workload>,
    /// The objects that run pods and that this job does not hold, each with the reason.
    pub not_held: Vec<NotHeld>,
    /// The workloads this job waits to see rolled out (a job after install or upgrade).
    pub follows: Vec<Workload>,
    /// The previous job of the list (its Job's name), which this job's pod waits for.
    pub after: Option<String>,
    /// How long a gate waits for this Job before it fails and the kubelet retries it.
    pub gate_limit: u64,
    pub gate_image: String,
    /// Pod annotations of the app left out of the Job's pod: they change at every render.
    pub volatile: Vec<String>,
}

/// Where the start step runs: after the release's own apply that follows each event the stop
/// step runs at (`pre-upgrade` -> `post-upgrade`).
pub fn start_events(events: &[String]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| e.strip_prefix("pre-"))
        .map(|e| format!("post-{e}"))
        .collect()
}
