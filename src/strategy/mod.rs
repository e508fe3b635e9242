//! How a job's order is enforced: one strategy of three, chosen once from the command line.
//!
//! What a job needs (its pod, references, labels, name prefix, namespace) is decided once by
//! the planner ([`Prepared`]); an [`Strategy`] turns that into the generated
//! objects: Helm hooks with weights and copies ([`hooks`]), the same with Argo CD's
//! annotations ([`argocd`]), or ordinary resources held in order by gates in the cluster
//! ([`gate`]). A further strategy is one more file here and one more [`Target`].

pub mod argocd;
pub mod gate;
pub mod hooks;
pub mod output;

pub use output::{
    Gating, Generated, HookCopy, JobOutput, LeftRunning, NotHeld, PullSecrets, Stop, StopTarget,
    Workload,
};

use anyhow::{Context as _, Result};
use indexmap::IndexMap;
use serde_norway::{Mapping, Value};

use crate::HOOK_ANNOTATION;
use crate::SPEC_HASH_ANNOTATION;
use crate::documents::Documents;
use crate::k8s::{self, ObjectMeta, PodSpec, PodTemplate, RefKind};
use crate::names;
use crate::reuse::Reused;
use crate::spec::{Job, SpecError};

/// Who applies the rendered output, and so how the jobs' order is enforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Target {
    /// Helm (as a post-renderer), or anything that honours Helm hook annotations.
    #[default]
    Helm,
    /// Argo CD: its own hook annotations are added, and events it ignores are refused.
    ArgoCd,
    /// Appliers that run no hooks (Helm 3, kubectl, Flux, GitOps): the Jobs are ordinary
    /// resources, and gates in the workloads' pods wait for them in the cluster.
    Gate,
}

/// One way of enforcing the jobs' order. The planner calls [`Strategy::check`] on every
/// enabled job, then [`Strategy::arrange`] on each in list order (a strategy may carry state
/// from one job to the next, like the last weight); the renderer then asks for rewritten
/// input documents and lets the strategy annotate every generated one.
pub trait Strategy {
    /// The target this strategy serves.
    fn target(&self) -> Target;

    /// Refuses a job whose events or keys this strategy cannot honour.
    fn check(&self, job: &Job) -> Result<(), SpecError>;

    /// `activeDeadlineSeconds` of jobs that set none.
    fn default_deadline(&self) -> u64;

    /// Turns what the job needs into its generated objects: names, annotations, weights,
    /// copies and further objects.
    fn arrange(
        &mut self,
        docs: &dyn Documents,
        job: &Job,
        prepared: Prepared<'_>,
        ctx: &Context<'_>,
    ) -> Result<JobOutput>;

    /// Whether the release's ordinary resources are missing when a job runs at `events`:
    /// the first such event and how (`("pre-install", "does not exist yet")`). The planner
    /// then refuses a `waitFor` or `serviceAccountName` the job could never reach. Hooks run
    /// before the first apply and after the delete.
    fn absent_at(&self, events: &[String]) -> Option<(&'static str, &'static str)> {
        hooks::ABSENT_EVENTS
            .iter()
            .find(|(e, _)| events.iter().any(|j| j == e))
            .copied()
    }

    /// Input documents to replace, by index, once every job is planned (each enabled job
    /// with what [`Strategy::arrange`] made of it).
    fn rewrite(
        &self,
        _docs: &dyn Documents,
        _jobs: &[(&Job, &JobOutput)],
    ) -> Result<Vec<(usize, Value)>> {
        Ok(Vec::new())
    }

    /// Adds what this strategy wants on every generated document's annotations.
    fn annotate(&self, _annotations: &mut Mapping) {}
}

/// What a job needs whatever enforces its order, decided once: its pod (the reused
/// container, env, volumes, the wait-for step), labels, namespace, name and the objects it
/// references. The strategy ([`Strategy`]) turns it into the generated objects.
pub struct Prepared<'a> {
    pub reused: Option<Reused<'a>>,
    /// The Job's namespace (the reused workload's); `None` is the release's.
    pub namespace: Option<String>,
    pub pod: PodSpec,
    /// The pod's labels.
    pub labels: IndexMap<String, String>,
    /// The generated objects' own labels: the pod's and every release label of the stream.
    pub object_labels: IndexMap<String, String>,
    /// `<prefix>-<job>`, fitted to a Job name.
    pub job_name: String,
    /// What the pod references, in kind order (Secrets first), each once.
    pub references: Vec<Reference>,
    /// References to objects the stream does not render: they must already exist.
    pub external: Vec<(RefKind, String)>,
    /// The chart's hooks the job reads (indices into [`crate::plan::Plan::chart_hooks`]).
    pub reads_chart_hooks: Vec<usize>,
    /// See [`JobOutput::source_waited_for_readiness`].
    pub source_waited_for_readiness: bool,
    /// See [`crate::plan::PlannedJob::notes`].
    pub notes: Vec<String>,
}

/// A Secret or ConfigMap the job's pod references, and the document rendering it as an
/// ordinary resource in the Job's namespace, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub kind: RefKind,
    pub name: String,
    pub rendered: Option<usize>,
}

/// What the strategy is told besides the job.
pub struct Context<'a> {
    /// `activeDeadlineSeconds` of jobs that set none.
    pub default_deadline: u64,
    /// The chart's own hooks, in stream order.
    pub chart_hooks: &'a [ChartHook],
    /// The DeployJobs document of the job, when there are several (for messages).
    pub origin: Option<&'a str>,
    /// The images of the containers the list's jobs reuse: the app's.
    pub app_images: &'a [String],
}

/// The Job object with the annotations and deadline a strategy chose, and its spec hash.
pub fn job_object(
    job: &Job,
    prepared: &Prepared<'_>,
    pod: PodSpec,
    annotations: IndexMap<String, String>,
    pod_annotations: IndexMap<String, String>,
    deadline: u64,
) -> Result<k8s::Job> {
    let mut object = k8s::Job {
        api_version: "batch/v1",
        kind: "Job",
        metadata: ObjectMeta {
            name: Some(prepared.job_name.clone()),
            namespace: prepared.namespace.clone(),
            labels: prepared.object_labels.clone(),
            annotations,
        },
        spec: k8s::JobSpec {
            backoff_limit: job.spec.backoff_limit.unwrap_or(0),
            active_deadline_seconds: deadline,
            ttl_seconds_after_finished: job.spec.ttl_seconds_after_finished,
            template: PodTemplate {
                metadata: ObjectMeta {
                    labels: prepared.labels.clone(),
                    annotations: pod_annotations,
                    ..ObjectMeta::default()
                },
                spec: pod,
            },
        },
    };
    let hash = names::sha256_hex(&serde_json::to_vec(&object.spec).context("hashing the Job")?);
    object
        .metadata
        .annotations
        .insert(SPEC_HASH_ANNOTATION.to_string(), hash);
    Ok(object)
}

/// The job's own annotations (validation refused the hook ones it may not set).
pub fn user_annotations(job: &Job) -> IndexMap<String, String> {
    job.spec
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect()
}

/// A hook the chart renders itself. Jobs are weighted after the chart's hooks of their
/// events, and a job that reads one (a Secret, ConfigMap or ServiceAccount) may not be
/// weighted before it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartHook {
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    /// Its events, as Helm reads them.
    pub events: Vec<String>,
    /// As Helm reads it: an integer, else 0.
    pub weight: i64,
    pub delete_policy: String,
    /// `chart/templates/x.yaml`, or `document 3` when the stream names no file.
    pub document: String,
}

impl ChartHook {
    /// Whether it runs at any of these events.
    pub fn runs_at(&self, events: &[String]) -> bool {
        self.events.iter().any(|e| events.contains(e))
    }

    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// The chart's own hooks in the stream.
pub fn chart_hooks(docs: &dyn Documents) -> Vec<ChartHook> {
    (0..docs.count())
        .filter(|&i| !docs.ignored(i))
        .filter_map(|i| {
            let h = docs.header(i)?;
            let events = h.annotations.get(HOOK_ANNOTATION)?;
            let annotation = |key: &str| h.annotations.get(key).unwrap_or_default();
            Some(ChartHook {
                kind: h.kind.clone().unwrap_or_default(),
                name: h.name.clone().unwrap_or_default(),
                namespace: h.namespace.clone(),
                events: events
                    .split(',')
                    .map(|e| e.trim().to_string())
                    .filter(|e| !e.is_empty())
                    .collect(),
                // Helm: strconv.Atoi, and 0 when that fails.
                weight: annotation(crate::WEIGHT_ANNOTATION).parse().unwrap_or(0),
                delete_policy: match annotation(crate::DELETE_ANNOTATION) {
                    "" => "before-hook-creation".to_string(),
                    policy => policy.to_string(),
                },
                document: docs.label(i),
            })
        })
        .collect()
}
