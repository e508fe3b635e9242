//! Decides what to add to a stream: for each enabled job, the Job object, the hook copies of
//! the Secrets and ConfigMaps it needs, their names and their weights.
//!
//! Pure: it reads documents (through [`Documents`]) and the validated jobs, and returns a
//! [`Plan`]. Turning the plan into text is `render`'s job.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context as _, Result, anyhow, bail};
use indexmap::IndexMap;
use serde_norway::{Mapping, Value};

use crate::HOOK_ANNOTATION;
use crate::documents::selector_matches;
pub use crate::documents::{Documents, WORKLOAD_KINDS, workloads};
use crate::k8s::{Container, PodSpec, RefKind};
use crate::names;
use crate::pod_security;
use crate::reuse::{self, Reused, containers, init_containers, str_field};
use crate::script;
use crate::spec::{self, Job};
use crate::strategy::Strategy;
use crate::strategy::chart_hooks;
pub use crate::strategy::{
    ChartHook, Context, Generated, HookCopy, JobOutput, Prepared, Reference,
};

pub use crate::facts::{COMPONENT_LABEL, INSTANCE_LABEL, JOB_LABEL, RELEASE_LABELS};

/// Everything the planner decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub environment: Option<String>,
    pub jobs: Vec<PlannedJob>,
    /// The chart's own hooks (the stream's, not deploy-jobs'), in stream order.
    pub chart_hooks: Vec<ChartHook>,
    /// How the jobs' order is enforced.
    pub target: crate::strategy::Target,
}

/// One `deploy_jobs` entry and what it turns into.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedJob {
    pub job: Job,
    /// `None` when the job is disabled in this environment.
    pub output: Option<JobOutput>,
    /// What `plan` warns about the job's pod: fields of the app's pod it leaves out, pull
    /// rights it cannot see, a lower Pod Security level than the app's.
    pub notes: Vec<String>,
}

/// Options that do not come from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Option<String>,
    /// Prefix of generated names: `--name-prefix`, else the DeployJobs document's
    /// `metadata.name`; without either, a release label of the stream.
    pub name_prefix: Option<NamePrefix>,
    /// `activeDeadlineSeconds` of jobs that set none.
    pub default_deadline: u64,
    /// `--namespace`: the release namespace, where a Job that reuses no container runs.
    pub namespace: Option<String>,
    /// Whether to work out the notes only `plan` shows that cost a parse of every workload.
    pub plan_notes: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            environment: None,
            name_prefix: None,
            default_deadline: spec::DEFAULT_DEADLINE,
            namespace: None,
            plan_notes: true,
        }
    }
}

/// The prefix of generated names, and where it was set (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePrefix {
    pub name: String,
    /// `--name-prefix`, `metadata.name of document 5 (...)`.
    pub origin: String,
}

/// The first value of each of [`RELEASE_LABELS`] in the stream, with its document.
type StreamLabels = Vec<Option<(String, usize)>>;

/// What the planner reads of the whole stream once, for every job.
#[derive(Clone, Copy)]
struct Stream<'s> {
    /// The first value of each of [`RELEASE_LABELS`] in the stream, and its document.
    labels: &'s StreamLabels,
    chart_hooks: &'s [ChartHook],
    /// See [`selecting`].
    selecting: &'s [usize],
}

/// The jobs of one configuration: an umbrella chart renders one DeployJobs document per
/// subchart, each with its own name prefix and environment.
#[derive(Debug, Clone)]
pub struct Group {
    pub jobs: Vec<Job>,
    pub settings: Settings,
    /// The document it came from, for messages; `None` when there is only one.
    pub origin: Option<String>,
}

/// Plans the jobs of every group, in order, each arranged by `strategy`: weights keep
/// increasing from one group to the next, so the first group's jobs run first at every event.
pub fn plan_groups(
    docs: &dyn Documents,
    groups: Vec<Group>,
    strategy: &mut dyn Strategy,
) -> Result<Plan> {
    let stream_labels: StreamLabels = RELEASE_LABELS
        .iter()
        .map(|key| {
            (0..docs.count())
                .filter(|&i| !docs.ignored(i))
                .find_map(|i| Some((docs.header(i)?.labels.get(key)?.to_string(), i)))
        })
        .collect();
    let chart_hooks = chart_hooks(docs);
    let selecting = selecting(docs);
    let stream = Stream {
        labels: &stream_labels,
        chart_hooks: &chart_hooks,
        selecting: &selecting,
    };
    let environment = groups.first().and_then(|g| g.settings.environment.clone());
    let several = groups.len() > 1;
    // First what every job needs, then the strategy: a strategy may weigh one job against
    // the whole list (the gate mode holds what runs any job's image).
    let mut prepared: Vec<Vec<Option<Prepared<'_>>>> = Vec::with_capacity(groups.len());
    for group in &groups {
        let ctx = &group.settings;
        let origin = group.origin.as_deref();
        if let Some(prefix) = &ctx.name_prefix {
            check_prefix(prefix).map_err(|e| in_origin(e, origin))?;
        }
        let mut jobs = Vec::with_capacity(group.jobs.len());
        for job in &group.jobs {
            jobs.push(if job.enabled() {
                Some(
                    prepare(docs, job, ctx, &stream, &*strategy)
                        .map_err(|e| in_origin(e, origin))?,
                )
            } else {
                None
            });
        }
        prepared.push(jobs);
    }
    let app_images = app_images(prepared.iter().flatten().flatten());
    let mut planned = Vec::new();
    // Who each planned job is, for messages about a clash with a later one.
    let mut owners: Vec<String> = Vec::new();
    for (group, prepared) in groups.into_iter().zip(prepared) {
        let origin = group.origin.as_deref();
        // With one configuration, its jobs need no document to tell them apart.
        let previous_origin = origin.filter(|_| several);
        let first = planned.len();
        for (job, prepared) in group.jobs.into_iter().zip(prepared) {
            let Some(mut prepared) = prepared else {
                planned.push(PlannedJob {
                    job,
                    output: None,
                    notes: Vec::new(),
                });
                continue;
            };
            let notes = std::mem::take(&mut prepared.notes);
            let context = Context {
                default_deadline: group.settings.default_deadline,
                chart_hooks: &chart_hooks,
                origin: previous_origin,
                app_images: &app_images,
            };
            let output = strategy
                .arrange(docs, &job, prepared, &context)
                .map_err(|e| in_origin(e, origin))?;
            planned.push(PlannedJob {
                job,
                output: Some(output),
                notes,
            });
        }
        owners.extend(planned[first..].iter().map(|p| match previous_origin {
            Some(o) => format!("{} of {o}", p.job.path()),
            None => p.job.path(),
        }));
        check_unique_names(docs, &planned, first, &owners).map_err(|e| in_origin(e, origin))?;
    }
    Ok(Plan {
        environment,
        jobs: planned,
        chart_hooks,
        target: strategy.target(),
    })
}

/// The prefix of a job's generated names, so that two releases in one namespace never share
/// a Job: `--name-prefix`, else the DeployJobs document's `metadata.name`, else a release
/// label of the reused workload or, failing that, of the stream. Never guessed, never empty,
/// always a valid start of a Kubernetes name.
fn name_prefix(
    docs: &dyn Documents,
    ctx: &Settings,
    workload: Option<usize>,
    stream_labels: &StreamLabels,
) -> Result<String> {
    let from_labels = || {
        RELEASE_LABELS
            .iter()
            .zip(stream_labels)
            .find_map(|(key, first)| {
                let own = workload.and_then(|i| Some((docs.header(i)?.labels.get(key)?, i)));
                let (value, doc) = own.or(first.as_ref().map(|(v, i)| (v.as_str(), *i)))?;
                Some(NamePrefix {
                    name: value.to_string(),
                    origin: format!("the `{key}` label of {}", docs.label(doc)),
                })
            })
    };
    let Some(prefix) = ctx.name_prefix.clone().or_else(from_labels) else {
        bail!(
            "no release name to prefix the generated names with (two releases in one namespace would otherwise share their Jobs): no `--name-prefix`, no `metadata.name` in a DeployJobs document, and no {} label in the stream. Pass `--name-prefix RELEASE` (to Helm 4's post-renderer: `--post-renderer-args=--name-prefix=RELEASE`)",
            RELEASE_LABELS
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        );
    };
    check_prefix(&prefix)?;
    Ok(prefix.name)
}

fn check_prefix(prefix: &NamePrefix) -> Result<()> {
    names::check_prefix(&prefix.name).map_err(|why| {
        let shown: String = prefix.name.chars().take(64).collect();
        let more = if shown.len() < prefix.name.len() {
            "…"
        } else {
            ""
        };
        anyhow!(
            "{}: `{}{more}` cannot start the generated names: {why}; set `--name-prefix` (or the DeployJobs document's metadata.name) to the release name",
            prefix.origin,
            shown.escape_debug()
        )
    })
}

/// Names the configuration document an error comes from, when there is one.
fn in_origin(err: anyhow::Error, origin: Option<&str>) -> anyhow::Error {
    match origin {
        Some(origin) => err.context(origin.to_string()),
        None => err,
    }
}

/// The images of the containers the jobs reuse, each once: the app's.
fn app_images<'p, 'a: 'p>(prepared: impl Iterator<Item = &'p Prepared<'a>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in prepared.filter(|p| p.reused.is_some()) {
        if let Some(c) = p.pod.containers.first()
            && !out.contains(&c.image)
        {
            out.push(c.image.clone());
        }
    }
    out
}

fn prepare<'a>(
    docs: &'a dyn Documents,
    job: &Job,
    ctx: &Settings,
    stream: &Stream<'_>,
    strategy: &dyn Strategy,
) -> Result<Prepared<'a>> {
    let Stream {
        labels: stream_labels,
        chart_hooks,
        ..
    } = *stream;
    let reused = match &job.spec.container {
        Some(name) => Some(
            find_container(docs, job, name).with_context(|| format!("{}.container", job.path()))?,
        ),
        None => None,
    };
    let workload_header = reused.as_ref().and_then(|r| docs.header(r.doc));
    let instance = workload_header
        .and_then(|h| h.labels.get(INSTANCE_LABEL))
        .or(stream_labels[0].as_ref().map(|(v, _)| v.as_str()));
    // The reused workload's, else the release's as far as it was given.
    let namespace = workload_header
        .and_then(|h| h.namespace.clone())
        .or_else(|| ctx.namespace.clone());
    // Whether the release's resources exist when the job runs is the strategy's to say.
    let absent = strategy.absent_at(&job.events);
    check_wait_targets(docs, job, namespace.as_deref(), absent)?;
    check_service_account(docs, job, namespace.as_deref(), absent)?;

    let mut notes = Vec::new();
    let mut pod = job_pod(docs, job, reused.as_ref(), namespace.as_deref(), &mut notes)?;
    let prefix = name_prefix(docs, ctx, reused.as_ref().map(|r| r.doc), stream_labels)
        .with_context(|| job.path())?;
    let job_name = names::job_name(&prefix, job.name(), names::MAX_JOB_NAME);
    match &job.spec.service_account_name {
        Some(sa) => pod.service_account_name = Some(sa.clone()),
        None => pod.automount_service_account_token = Some(false),
    }
    if let Some(r) = &reused {
        pull_rights(docs, job, r, namespace.as_deref(), &mut pod, &mut notes)?;
    }
    if ctx.plan_notes {
        notes.extend(pod_security_notes(docs, job, reused.as_ref(), &pod)?);
    }
    notes.extend(provider_class_notes(
        docs,
        job,
        &pod,
        namespace.as_deref(),
        absent,
    ));

    let labels = pod_labels(
        docs,
        stream.selecting,
        job,
        instance,
        reused.as_ref().and_then(|r| r.meta),
    )
    .with_context(|| format!("{}.labels", job.path()))?;
    let object_labels = object_labels(&labels, stream_labels);
    check_listed_workloads(docs, job)?;

    let (references, external, reads_chart_hooks) =
        references(docs, job, &mut pod, chart_hooks, namespace.as_deref())?;
    let source_waited_for_readiness = match &reused {
        Some(r) => waited_for_readiness(docs, r)?,
        None => false,
    };
    Ok(Prepared {
        notes,
        source_waited_for_readiness,
        reused,
        namespace,
        pod,
        labels,
        object_labels,
        job_name,
        references,
        external,
        reads_chart_hooks,
    })
}

/// The Job's pod: the reused workload's (see `reuse`) or an empty one, its one container,
/// and the wait-for step after the native sidecars.
fn job_pod(
    docs: &dyn Documents,
    job: &Job,
    reused: Option<&Reused<'_>>,
    namespace: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<PodSpec> {
    let mut pod = match reused {
        Some(r) => reuse::pod_from_workload(job, r, notes)?,
        None => PodSpec {
            security_context: job
                .spec
                .pod_security_context
                .clone()
                .filter(|v| !v.is_null()),
            ..PodSpec::default()
        },
    };
    pod.restart_policy = "Never";
    let env_from_names = match &job.spec.env_from {
        Some(sources) if reused.is_some() => env_from_names(docs, sources, namespace)?,
        _ => Vec::new(),
    };
    pod.containers = vec![reuse::main_container(
        job,
        reused,
        &pod.volumes,
        &env_from_names,
    )?];
    check_linux(job, &pod)?;
    if !job.wait_for.is_empty() {
        // After the native sidecars: a database proxy among them must be up first.
        pod.init_containers
            .push(wait_container(job).with_context(|| job.path())?);
    }
    Ok(pod)
}

/// A Secret or ConfigMap reference's documents: every reference (kind order, Secrets
/// first, each once) with the document rendering it, the ones that must already exist, and
/// the chart's hooks the job reads.
type References = (Vec<Reference>, Vec<(RefKind, String)>, Vec<usize>);

/// What the pod references, and where each is: rendered by the stream, a hook of the chart,
/// or outside the release (required references only; an optional one may be absent).
fn references(
    docs: &dyn Documents,
    job: &Job,
    pod: &mut PodSpec,
    chart_hooks: &[ChartHook],
    namespace: Option<&str>,
) -> Result<References> {
    let mut wanted: Vec<(RefKind, String)> = Vec::new();
    // Referenced only as `optional: true`: the pod starts without them.
    let mut optional: Vec<(RefKind, String)> = Vec::new();
    let mut required: Vec<(RefKind, String)> = Vec::new();
    pod.for_each_reference_optional(&mut |kind, name, is_optional| {
        let key = (kind, name.clone());
        if !wanted.contains(&key) {
            wanted.push(key.clone());
        }
        if is_optional {
            optional.push(key);
        } else {
            required.push(key);
        }
    });
    optional.retain(|key| !required.contains(key));
    wanted.sort_by_key(|(kind, _)| *kind);
    let mut references = Vec::new();
    let mut external = Vec::new();
    let mut reads_chart_hooks = Vec::new();
    for (kind, original) in wanted {
        let found = find_object(docs, kind, &original, namespace).with_context(|| job.path())?;
        if found.is_none() {
            match find_chart_hook(chart_hooks, kind.kind(), &original, namespace) {
                Some(hook) => reads_chart_hooks.push(hook),
                None if optional.contains(&(kind, original.clone())) => {}
                None => external.push((kind, original.clone())),
            }
        }
        references.push(Reference {
            kind,
            name: original,
            rendered: found,
        });
    }
    if let Some(sa) = &job.spec.service_account_name
        && let Some(hook) = find_chart_hook(chart_hooks, "ServiceAccount", sa, namespace)
    {
        reads_chart_hooks.push(hook);
    }
    Ok((references, external, reads_chart_hooks))
}

/// The labels of the generated objects themselves: the pod's, and the release labels of the
/// stream even where the pod may not carry them (a Service selecting on them would route to
/// the Job's pod), so that `kubectl apply --prune -l` and `kubectl get -l` find every one.
fn object_labels(
    pod: &IndexMap<String, String>,
    stream_labels: &StreamLabels,
) -> IndexMap<String, String> {
    let mut out = pod.clone();
    for (key, first) in RELEASE_LABELS.iter().zip(stream_labels) {
        if let Some((value, _)) = first {
            out.entry(key.to_string()).or_insert_with(|| value.clone());
        }
    }
    out
}

/// `gates` and `follows` name objects the stream renders, whatever the target: one
/// configuration serves hook mode in one environment and gate mode in another, and a typo
/// is caught in both.
fn check_listed_workloads(docs: &dyn Documents, job: &Job) -> Result<()> {
    for (key, listed) in [("gates", &job.gates), ("follows", &job.follows)] {
        for (i, (kind, name)) in listed.iter().enumerate() {
            let rendered = (0..docs.count()).any(|d| {
                docs.header(d).is_some_and(|h| {
                    !docs.ignored(d)
                        && !h.is_hook()
                        && h.is_kind(kind)
                        && h.name.as_deref() == Some(name.as_str())
                })
            });
            if !rendered {
                let runs: Vec<String> = (0..docs.count())
                    .filter(|&d| !docs.ignored(d))
                    .filter_map(|d| docs.header(d))
                    .filter(|h| !h.is_hook() && runs_pods(h))
                    .map(|h| {
                        format!(
                            "{}/{}",
                            h.kind.as_deref().unwrap_or_default(),
                            h.name.as_deref().unwrap_or_default()
                        )
                    })
                    .collect();
                bail!(
                    "{}.{key}[{i}]: {kind}/{name} is not rendered by this chart as an ordinary resource (it renders: {})",
                    job.path(),
                    if runs.is_empty() {
                        "nothing that runs pods".to_string()
                    } else {
                        runs.join(", ")
                    }
                );
            }
        }
    }
    Ok(())
}

/// Whether a header's kind is one that runs pods, for a message's list.
fn runs_pods(header: &crate::header::Header) -> bool {
    header
        .kind
        .as_deref()
        .is_some_and(|k| WORKLOAD_KINDS.contains(&k) || k == "Rollout")
}

/// Kinds whose pods `helm --wait` waits to be Ready (not Jobs, and not CronJobs).
const WAITED_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Pod",
];

/// Whether `helm --wait` waits for the reused workload's pods to pass a readiness probe
/// before it runs post-install/upgrade hooks: a kind it waits for, with pods (not
/// `replicas: 0`), and a probe on a container or a native sidecar.
fn waited_for_readiness(docs: &dyn Documents, reused: &Reused<'_>) -> Result<bool> {
    let header = docs.header(reused.doc);
    let kind = header.and_then(|h| h.kind.as_deref()).unwrap_or_default();
    if !WAITED_KINDS.contains(&kind) {
        return Ok(false);
    }
    let replicas = docs
        .value(reused.doc)?
        .get("spec")
        .and_then(|s| s.get("replicas"));
    if replicas.and_then(Value::as_u64) == Some(0) {
        return Ok(false);
    }
    let sidecars = match reused.pod.get("initContainers") {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(Value::as_mapping)
            .filter(|c| str_field(c, "restartPolicy") == Some("Always"))
            .collect(),
        _ => Vec::new(),
    };
    Ok(containers(reused.pod)
        .into_iter()
        .chain(sidecars)
        .any(|c| c.contains_key("readinessProbe")))
}

/// `Deployment/shop in shop/templates/deployment.yaml (containers: app, sidecar)`: a
/// workload as a `container:` message lists it.
fn describe_candidate(workload: &str, label: &str, pod: &Mapping) -> String {
    let names = |list: &[&Mapping]| {
        list.iter()
            .filter_map(|c| str_field(c, "name"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let init = init_containers(pod);
    format!(
        "{workload} in {label} (containers: {}{})",
        names(&containers(pod)),
        if init.is_empty() {
            String::new()
        } else {
            format!("; init containers: {}", names(&init))
        }
    )
}

fn find_container<'a>(docs: &'a dyn Documents, job: &Job, name: &str) -> Result<Reused<'a>> {
    let mut found = Vec::new();
    let mut candidates: Vec<String> = Vec::new();
    // Workloads whose text does not even contain the name: parsed only if a message must
    // list their containers.
    let mut skipped: Vec<(usize, usize, &str, &crate::header::Header)> = Vec::new();
    let name_in = memchr::memmem::Finder::new(name);
    let kind_name = |kind: &str, header: &crate::header::Header| {
        format!("{kind}/{}", header.name.as_deref().unwrap_or("?"))
    };
    for (i, header, kind) in workloads(docs) {
        if let Some((want_kind, want_name)) = &job.workload
            && (want_kind != kind || header.name.as_deref() != Some(want_name.as_str()))
        {
            continue;
        }
        // Cheap pre-check before a full parse: the name must appear in the text.
        if job.workload.is_none() && name_in.find(docs.raw(i).as_bytes()).is_none() {
            skipped.push((candidates.len(), i, kind, header));
            candidates.push(String::new());
            continue;
        }
        let workload = kind_name(kind, header);
        let value = docs.value(i)?;
        let pod = pod_spec(kind, value)
            .ok_or_else(|| anyhow!("{}: {workload} has no pod template", docs.label(i)))?;
        let containers = containers(pod);
        let init = init_containers(pod);
        candidates.push(describe_candidate(&workload, &docs.label(i), pod));
        // An init container too: a chart that runs its migration as one has the very
        // container the job should run.
        if let Some(container) = containers
            .into_iter()
            .chain(init)
            .find(|c| str_field(c, "name") == Some(name))
        {
            found.push(Reused {
                doc: i,
                source: workload,
                pod,
                meta: pod_metadata(kind, value),
                container,
            });
        }
    }
    let scope = match &job.workload {
        Some((kind, wl)) => format!(" in {kind}/{wl}"),
        None => String::new(),
    };
    if found.is_empty() {
        let hooks = hook_workloads_with(docs, job, name)?;
        if !hooks.is_empty() {
            bail!(
                "no container named `{name}`{scope} in the workloads the chart renders as ordinary resources; it is in {}: a hook is a one-off step that Helm creates at its own event and deletes by its own policy (often the chart's own migration), not the running app, so its container is not reused; set `image` and `command` on the job instead, or reuse a container of the app",
                hooks.join(", ")
            );
        }
    }
    if found.is_empty() {
        for (slot, i, kind, header) in skipped {
            let workload = kind_name(kind, header);
            let pod = docs.value(i).ok().and_then(|v| pod_spec(kind, v));
            candidates[slot] = match pod {
                Some(pod) => describe_candidate(&workload, &docs.label(i), pod),
                None => format!("{workload} in {}", docs.label(i)),
            };
        }
    }
    match found.len() {
        1 => Ok(found.pop().expect("one match")),
        0 if candidates.is_empty() => bail!(
            "no container named `{name}`{scope}: the stream renders no workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod) to take it from"
        ),
        0 => bail!(
            "no container named `{name}`{scope}; the rendered workloads are: {}",
            candidates.join("; ")
        ),
        _ => bail!(
            "`{name}` is a container in several workloads: {}; set `workload: Kind/name` to pick one",
            found
                .iter()
                .map(|r| format!("{} in {}", r.source, docs.label(r.doc)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The hook workloads (`helm.sh/hook`) that have a container of this name, described for a
/// message: `Job/shop-db-init in shop/templates/db-init.yaml, a pre-install hook`.
fn hook_workloads_with(docs: &dyn Documents, job: &Job, name: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for i in 0..docs.count() {
        let Some(header) = docs.header(i) else {
            continue;
        };
        let Some(kind) = header.kind.as_deref() else {
            continue;
        };
        let wanted = job
            .workload
            .as_ref()
            .is_none_or(|(k, n)| k == kind && header.name.as_deref() == Some(n.as_str()));
        if docs.ignored(i)
            || !header.is_hook()
            || !WORKLOAD_KINDS.contains(&kind)
            || !wanted
            || !docs.raw(i).contains(name)
        {
            continue;
        }
        let has = pod_spec(kind, docs.value(i)?).is_some_and(|pod| {
            containers(pod)
                .into_iter()
                .chain(init_containers(pod))
                .any(|c| str_field(c, "name") == Some(name))
        });
        if has {
            out.push(format!(
                "{kind}/{} in {}, a {} hook",
                header.name.as_deref().unwrap_or("?"),
                docs.label(i),
                header.annotations.get(HOOK_ANNOTATION).unwrap_or_default()
            ));
        }
    }
    Ok(out)
}

/// Every workload the stream renders (hooks excluded) with the names of its containers, then
/// its init containers (`name (init container)`): what `container:` can reuse.
pub fn reusable_containers(docs: &dyn Documents) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    for (i, header, kind) in workloads(docs) {
        let names = pod_spec(kind, docs.value(i)?)
            .map(|pod| {
                let init = init_containers(pod)
                    .into_iter()
                    .filter_map(|c| str_field(c, "name"))
                    .map(|n| format!("{n} (init container)"));
                containers(pod)
                    .iter()
                    .filter_map(|c| str_field(c, "name").map(str::to_string))
                    .chain(init)
                    .collect()
            })
            .unwrap_or_default();
        out.push((
            format!("{kind}/{}", header.name.as_deref().unwrap_or("?")),
            names,
        ));
    }
    Ok(out)
}

/// The pod template's metadata inside a workload (a Pod's own).
fn pod_metadata<'a>(kind: &str, value: &'a Value) -> Option<&'a Mapping> {
    crate::documents::Pods::of(kind, value)?
        .metadata(value)?
        .as_mapping()
}

/// The pod spec inside a workload, wherever its kind keeps it.
fn pod_spec<'a>(kind: &str, value: &'a Value) -> Option<&'a Mapping> {
    crate::documents::Pods::of(kind, value)?
        .spec(value)?
        .as_mapping()
}

/// The variables a job's `envFrom` provides, as far as the stream shows them: the keys of the
/// Secrets and ConfigMaps it renders (with the source's prefix). Sources it does not render
/// are left out: their keys cannot be known here.
fn env_from_names(
    docs: &dyn Documents,
    sources: &[spec::EnvFromSource],
    namespace: Option<&str>,
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for source in sources {
        let (kind, local, fields) = match (&source.secret_ref, &source.config_map_ref) {
            (Some(r), _) => (RefKind::Secret, r, &["data", "stringData"][..]),
            (None, Some(r)) => (RefKind::ConfigMap, r, &["data", "binaryData"][..]),
            (None, None) => continue,
        };
        let Some(doc) = find_object(docs, kind, &local.name, namespace)? else {
            continue;
        };
        let value = docs.value(doc)?;
        for field in fields {
            if let Some(Value::Mapping(data)) = value.get(field) {
                names.extend(
                    data.keys()
                        .filter_map(Value::as_str)
                        .map(|k| format!("{}{k}", source.prefix.as_deref().unwrap_or_default())),
                );
            }
        }
    }
    Ok(names)
}

/// Refuses a `waitFor` target that is a Service this release renders as an ordinary
/// resource, for a job that runs when such resources are not there: it would wait out its
/// deadline and fail the deploy. (Charts that bundle their database as a subchart do this.)
fn check_wait_targets(
    docs: &dyn Documents,
    job: &Job,
    namespace: Option<&str>,
    absent: Option<(&str, &str)>,
) -> Result<()> {
    let Some((event, absent)) = absent else {
        return Ok(());
    };
    for (i, (host, port)) in job.wait_for.iter().enumerate() {
        let service = (0..docs.count()).find(|&d| {
            docs.header(d).is_some_and(|h| {
                !docs.ignored(d)
                    && h.is_kind("Service")
                    && !h.is_hook()
                    && h.name.as_deref().is_some_and(|name| {
                        service_host(host, name, h.namespace.as_deref(), namespace)
                    })
            })
        });
        if let Some(d) = service {
            bail!(
                "{}.waitFor[{i}]: `{host}:{port}` is Service/{}, which this release renders as an ordinary resource in {}: at {event} it {absent}, so the job would wait until its deadline and the deploy would fail. A chart that bundles its database deploys with `--target gate` (render and plan take it; Helm 3, kubectl, Flux and Argo CD apply it): there the Job is an ordinary resource that waits for the database in the cluster and the app waits for the Job, at the first install as at every upgrade. With hooks, the job can only run once the release's resources are there (`when: post-install,pre-upgrade`, under Argo CD `post-install,post-upgrade`), and then the app must become Ready without its migration, or `helm --wait` deadlocks; or wait for a database outside the release",
                job.path(),
                docs.header(d)
                    .and_then(|h| h.name.as_deref())
                    .unwrap_or("?"),
                docs.label(d)
            );
        }
    }
    Ok(())
}

/// Refuses a `serviceAccountName` this release renders as an ordinary resource, for a job
/// that runs when such resources are not there: no pod could be created, and the Job would
/// wait out its deadline. (Its RBAC bindings name it, so a hook copy would not do.)
fn check_service_account(
    docs: &dyn Documents,
    job: &Job,
    namespace: Option<&str>,
    absent: Option<(&str, &str)>,
) -> Result<()> {
    let Some(sa) = &job.spec.service_account_name else {
        return Ok(());
    };
    let Some((event, absent)) = absent else {
        return Ok(());
    };
    let rendered = (0..docs.count()).find(|&d| {
        docs.header(d).is_some_and(|h| {
            !docs.ignored(d)
                && h.is_kind("ServiceAccount")
                && !h.is_hook()
                && h.name.as_deref() == Some(sa.as_str())
                && (h.namespace.is_none()
                    || namespace.is_none()
                    || h.namespace.as_deref() == namespace)
        })
    });
    if let Some(d) = rendered {
        bail!(
            "{}.serviceAccountName: ServiceAccount/{sa} is rendered by this release as an ordinary resource in {}: at {event} it {absent}, so no pod of the job could start and it would fail at its deadline. Render it (and its Role and RoleBinding) as hooks weighted before the job, or run the job at post-install,pre-upgrade",
            job.path(),
            docs.label(d)
        );
    }
    Ok(())
}

/// Whether `host`, resolved from a pod in `job_namespace`, names the Service `name` in
/// `service_namespace` (`None`: the release's namespace): `name`, `name.ns`, `name.ns.svc`
/// or `name.ns.svc.<cluster domain>`. A match unless the namespaces are certainly
/// different (both explicit): charts often set `metadata.namespace` in a bundled
/// subchart's templates and not in their own, and Helm does not tell us the release's.
fn service_host(
    host: &str,
    name: &str,
    service_namespace: Option<&str>,
    job_namespace: Option<&str>,
) -> bool {
    let host = host.trim_end_matches('.');
    let mut parts = host.splitn(3, '.');
    if parts.next() != Some(name) {
        return false;
    }
    let may_be = |a: Option<&str>, b: Option<&str>| a.is_none() || b.is_none() || a == b;
    match parts.next() {
        None => may_be(service_namespace, job_namespace),
        Some(ns) => {
            let rest = parts.next();
            let svc_suffix = rest.is_none_or(|r| r == "svc" || r.starts_with("svc."));
            svc_suffix && may_be(service_namespace, Some(ns))
        }
    }
}

/// Refuses deploy-jobs' own steps in a Windows pod (the wait-for step of `waitFor`, the
/// restore hint of `exclusive`): they are Linux shell scripts in a Linux image, hardened
/// with Linux-only settings (seccomp, capabilities, `runAsUser`) that the API server rejects
/// in a pod with `os.name: windows`, and that no Windows node could run.
fn check_linux(job: &Job, pod: &PodSpec) -> Result<()> {
    if !pod.runs_on_windows() {
        return Ok(());
    }
    let (key, step, instead) = if !job.wait_for.is_empty() {
        (
            "waitFor",
            "the wait-for step",
            "wait for the database in the job's own command instead",
        )
    } else if job.exclusive != spec::Exclusive::None {
        (
            "exclusive",
            "the restore hint beside the job",
            "give the exclusive job an image of its own instead of `container` (it then runs on Linux nodes)",
        )
    } else {
        return Ok(());
    };
    bail!(
        "{}.{key}: the reused pod runs on Windows nodes, and {step} is a Linux shell script in a Linux image ({}) with Linux-only security settings, which the API server rejects in a Windows pod (and no Windows node could run); {instead}",
        job.path(),
        job.wait_image()
    )
}

/// The app's pull rights: a pod pulls with its own `imagePullSecrets` and those of the
/// ServiceAccount it runs as. The Job runs as another one (the job's `serviceAccountName`, or
/// the namespace's `default`), so the pull secrets of the app's ServiceAccount are added to
/// the Job's pod when the stream renders it; when it does not, and the pod lists none of its
/// own, they cannot be known, and `plan` warns.
fn pull_rights(
    docs: &dyn Documents,
    job: &Job,
    reused: &Reused<'_>,
    namespace: Option<&str>,
    pod: &mut PodSpec,
    notes: &mut Vec<String>,
) -> Result<()> {
    let Some(app_sa) = str_field(reused.pod, "serviceAccountName")
        .or_else(|| str_field(reused.pod, "serviceAccount"))
        .filter(|sa| !sa.is_empty() && *sa != "default")
    else {
        return Ok(());
    };
    if job.spec.service_account_name.as_deref() == Some(app_sa) {
        return Ok(());
    }
    let rendered = (0..docs.count()).find(|&d| {
        docs.header(d).is_some_and(|h| {
            !docs.ignored(d)
                && h.is_kind("ServiceAccount")
                && h.name.as_deref() == Some(app_sa)
                && (h.namespace.is_none()
                    || namespace.is_none()
                    || h.namespace.as_deref() == namespace)
        })
    });
    match rendered {
        Some(d) => {
            if let Some(Value::Sequence(secrets)) = docs.value(d)?.get("imagePullSecrets") {
                for secret in secrets {
                    if !pod.image_pull_secrets.contains(secret) {
                        pod.image_pull_secrets.push(secret.clone());
                    }
                }
            }
        }
        None if pod.image_pull_secrets.is_empty() => notes.push(format!(
            "{}: {} runs as ServiceAccount `{app_sa}`, which the chart does not render, and the Job as {}: image pull secrets attached to `{app_sa}` do not reach the Job, and a private image fails with ErrImagePull; set `serviceAccountName: {app_sa}` on the job, or list the pull secret in the pod's `imagePullSecrets`",
            job.name(),
            reused.source,
            match &job.spec.service_account_name {
                Some(sa) => format!("`{sa}`"),
                None => "the namespace's `default`".to_string(),
            }
        )),
        None => {}
    }
    Ok(())
}

/// A warning for each CSI volume of the Secrets Store driver whose SecretProviderClass the
/// release renders as an ordinary resource, for a job that runs when such resources are not
/// there: the driver cannot mount the volume, and the pod waits out its deadline.
fn provider_class_notes(
    docs: &dyn Documents,
    job: &Job,
    pod: &PodSpec,
    namespace: Option<&str>,
    absent: Option<(&str, &str)>,
) -> Vec<String> {
    let Some((event, absent)) = absent else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for volume in &pod.volumes {
        let Some(class) = volume["csi"]["volumeAttributes"]["secretProviderClass"].as_str() else {
            continue;
        };
        let rendered = (0..docs.count()).find(|&d| {
            docs.header(d).is_some_and(|h| {
                !docs.ignored(d)
                    && h.is_kind("SecretProviderClass")
                    && !h.is_hook()
                    && h.name.as_deref() == Some(class)
                    && (h.namespace.is_none()
                        || namespace.is_none()
                        || h.namespace.as_deref() == namespace)
            })
        });
        if let Some(d) = rendered {
            out.push(format!(
                "{}: volume `{}` mounts SecretProviderClass `{class}`, which the chart renders as an ordinary resource in {}: at {event} it {absent}, so the CSI driver cannot mount the volume and the pod waits until its deadline; render it as a hook weighted before the job, or run the job at post-install,pre-upgrade",
                job.name(),
                volume["name"].as_str().unwrap_or("?"),
                docs.label(d)
            ));
        }
    }
    out
}

/// A pod's annotations as `(key, value)` pairs, for [`pod_security`].
fn annotation_pairs(meta: Option<&Mapping>) -> Vec<(&str, &str)> {
    meta.and_then(|m| m.get("annotations"))
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?, v.as_str()?)))
        .collect()
}

/// A warning when the job's pod meets a lower Pod Security level than the app's pod (or,
/// for a job with no `container`, than every workload the chart renders): a namespace that
/// enforces the app's level would reject the Job's pod.
fn pod_security_notes(
    docs: &dyn Documents,
    job: &Job,
    reused: Option<&Reused<'_>>,
    pod: &PodSpec,
) -> Result<Vec<String>> {
    let (target, what) = match reused {
        Some(r) => (
            pod_security::level(&Value::Mapping(r.pod.clone()), &annotation_pairs(r.meta)),
            format!("the app's pod ({})", r.source),
        ),
        None => {
            let mut lowest = None;
            for (i, _, kind) in workloads(docs) {
                // A workload deploy-jobs cannot read passes through as it is, as it did
                // before: it has no say in the level.
                let Ok(value) = docs.value(i) else { continue };
                if let Some(p) = pod_spec(kind, value) {
                    let level = pod_security::level(
                        &Value::Mapping(p.clone()),
                        &annotation_pairs(pod_metadata(kind, value)),
                    );
                    lowest = Some(lowest.map_or(level, |l: pod_security::Level| l.min(level)));
                }
            }
            let Some(lowest) = lowest else {
                return Ok(Vec::new());
            };
            (lowest, "every workload the chart renders".to_string())
        }
    };
    let ours = serde_norway::to_value(pod).context("reading the Job's pod")?;
    let annotations = reuse::pod_annotations(
        reused.and_then(|r| r.meta),
        pod,
        &crate::strategy::user_annotations(job),
    );
    let pairs: Vec<(&str, &str)> = annotations
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let missing = pod_security::violations(&ours, &pairs, target);
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![format!(
        "{}: the Job's pod meets Pod Security `{}` only, while {what} meets `{}`, so a namespace that enforces `{2}` would reject it: {}; set what it needs with the job's `securityContext` and `podSecurityContext`",
        job.name(),
        pod_security::level(&ours, &pairs).name(),
        target.name(),
        missing.join("; ")
    )])
}

/// The hardened initContainer that waits for TCP targets.
fn wait_container(job: &Job) -> Result<Container> {
    let targets: Vec<String> = job
        .wait_for
        .iter()
        .map(|(h, p)| format!("{h}:{p}"))
        .collect();
    let script = script::wait_for(&targets)?;
    Ok(Container::hardened(
        "wait-for",
        job.wait_image(),
        vec!["sh".into(), "-c".into(), script],
    ))
}

/// The documents whose selectors pick pods by their labels (Services and workloads), which
/// the labels of a job's pods must stay clear of. The same for every job: found once.
fn selecting(docs: &dyn Documents) -> Vec<usize> {
    (0..docs.count())
        .filter(|&i| {
            docs.header(i).is_some_and(|h| {
                !docs.ignored(i)
                    && (h.is_kind("Service")
                        || h.kind
                            .as_deref()
                            .is_some_and(|k| WORKLOAD_KINDS.contains(&k)))
            })
        })
        .collect()
}

/// Labels for the Job and its pods: deploy-jobs' own, the app pod's (a NetworkPolicy that
/// lets the app reach the database, or a sidecar injector or identity webhook, may select on
/// them), and the job's; never a set that a Service or workload selector in the stream
/// matches (live traffic or ownership would reach the migration pod). Where a selector would
/// match, the labels that are not the user's are dropped one at a time, the app's labels the
/// selector names first, the release's instance label last, until it no longer does; a match
/// the user's labels cause is an error.
fn pod_labels(
    docs: &dyn Documents,
    selecting: &[usize],
    job: &Job,
    instance: Option<&str>,
    app: Option<&Mapping>,
) -> Result<IndexMap<String, String>> {
    let mut labels = IndexMap::new();
    if let Some(instance) = instance {
        labels.insert(INSTANCE_LABEL.to_string(), instance.to_string());
    }
    labels.insert(COMPONENT_LABEL.to_string(), "deploy-job".to_string());
    labels.insert(JOB_LABEL.to_string(), job.name().to_string());
    let app_labels = app
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?, v.as_str()?)));
    for (k, v) in app_labels {
        labels.entry(k.to_string()).or_insert_with(|| v.to_string());
    }
    for (k, v) in &job.spec.labels {
        labels.insert(k.clone(), v.0.clone());
    }
    // Ours to drop: everything but deploy-jobs' identity labels and the user's.
    let droppable =
        |k: &str| k != COMPONENT_LABEL && k != JOB_LABEL && !job.spec.labels.contains_key(k);
    // Dropping a label can make a `DoesNotExist` or `NotIn` selector match: repeat until a
    // pass drops nothing.
    loop {
        let mut dropped = false;
        for &i in selecting {
            let header = docs.header(i).expect("selecting documents have headers");
            // Most selectors of the stream select other pods: nothing to drop for them.
            if !selector_matches(header, &labels) {
                continue;
            }
            let keys = header
                .selector
                .0
                .iter()
                .map(|(k, _)| k.as_str())
                // Removing a label cannot unmatch a `NotIn` or `DoesNotExist` requirement.
                .chain(
                    header
                        .selector_expressions
                        .iter()
                        .filter(|r| r.operator == "In" || r.operator == "Exists")
                        .map(|r| r.key.as_str()),
                )
                .filter(|k| *k != INSTANCE_LABEL)
                .chain(std::iter::once(INSTANCE_LABEL))
                .map(str::to_string)
                .collect::<Vec<_>>();
            for key in keys {
                if !selector_matches(header, &labels) {
                    break;
                }
                if droppable(&key) && labels.shift_remove(&key).is_some() {
                    dropped = true;
                }
            }
            if selector_matches(header, &labels) {
                bail!(
                    "the job's pods would be selected by {}/{} in {}, which would route live traffic or ownership to a migration pod; change the labels",
                    header.kind.as_deref().unwrap_or("?"),
                    header.name.as_deref().unwrap_or("?"),
                    docs.label(i)
                );
            }
        }
        if !dropped {
            return Ok(labels);
        }
    }
}

/// The document rendering this Secret or ConfigMap as an ordinary resource in the Job's
/// namespace, if any. `None` as a namespace is the release namespace, which deploy-jobs is
/// not told (Helm 4 gives a post-renderer no release namespace): an object with an explicit
/// namespace and a Job without one, or the other way round, may or may not be in the same
/// namespace, and that is an error rather than a guess, unless an object in exactly the
/// Job's namespace settles it.
fn find_object(
    docs: &dyn Documents,
    kind: RefKind,
    name: &str,
    namespace: Option<&str>,
) -> Result<Option<usize>> {
    let candidates = (0..docs.count()).filter(|&i| {
        docs.header(i).is_some_and(|h| {
            !docs.ignored(i)
                && h.is_kind(kind.kind())
                && h.api_version.as_deref() == Some("v1")
                && h.name.as_deref() == Some(name)
                && !h.is_hook()
        })
    });
    let mut unsure = None;
    for i in candidates {
        let theirs = docs.header(i).and_then(|h| h.namespace.as_deref());
        match (theirs, namespace) {
            (a, b) if a == b => return Ok(Some(i)),
            (Some(_), Some(_)) => {}
            _ => unsure = unsure.or(Some(i)),
        }
    }
    let Some(i) = unsure else { return Ok(None) };
    let theirs = docs.header(i).and_then(|h| h.namespace.as_deref());
    let (object_ns, job_ns) = match (theirs, namespace) {
        (Some(t), None) => (
            format!("namespace `{t}`"),
            "the release namespace (its workload sets none)".to_string(),
        ),
        (_, Some(n)) => (
            "the release namespace (it sets none)".to_string(),
            format!("namespace `{n}` (from its workload)"),
        ),
        (None, None) => unreachable!("equal namespaces matched above"),
    };
    bail!(
        "the Job references {} `{name}`, which {} renders in {object_ns}, while the Job runs in {job_ns}; deploy-jobs is not told the release namespace, so it cannot tell whether they are the same object: pass the release namespace with --namespace (to Helm 4's post-renderer: --post-renderer-args=--namespace=NS), or set metadata.namespace on both (e.g. {{{{ .Release.Namespace }}}}) or on neither",
        kind.kind(),
        docs.label(i)
    )
}

/// The chart hook of this kind and name the job can see (its namespace), if any.
fn find_chart_hook(
    hooks: &[ChartHook],
    kind: &str,
    name: &str,
    namespace: Option<&str>,
) -> Option<usize> {
    hooks.iter().position(|h| {
        h.kind == kind
            && h.name == name
            && (h.namespace.is_none() || namespace.is_none() || h.namespace.as_deref() == namespace)
    })
}

/// Generated names must not clash with each other or with what the stream renders.
/// Checks the jobs from `first` on against all planned before them and against the stream.
/// The first document of the stream (not ignored) of each kind and name that `planned`
/// generates: one pass over the stream, whatever the number of generated objects.
fn documents_named<'d>(
    docs: &'d dyn Documents,
    planned: impl Iterator<Item = &'d PlannedJob>,
) -> HashMap<(&'d str, &'d str), usize> {
    // A few dozen names at most, each compared with every document's: a look along them
    // costs less than hashing every document's kind and name.
    let wanted: Vec<(&str, &str)> = planned
        .filter_map(|p| p.output.as_ref())
        .flat_map(JobOutput::generated)
        .map(|g| (g.kind(), g.name()))
        .collect();
    let mut found = HashMap::new();
    for i in (0..docs.count()).filter(|&i| !docs.ignored(i)) {
        if let Some(h) = docs.header(i)
            && let (Some(kind), Some(name)) = (h.kind.as_deref(), h.name.as_deref())
            && wanted.iter().any(|&(k, n)| n == name && k == kind)
        {
            found.entry((kind, name)).or_insert(i);
        }
    }
    found
}

fn check_unique_names(
    docs: &dyn Documents,
    planned: &[PlannedJob],
    first: usize,
    owners: &[String],
) -> Result<()> {
    let in_stream = documents_named(docs, planned[first..].iter());
    // An exclusive job's Role and RoleBinding repeat in each namespace of its targets.
    let mut seen: BTreeMap<(String, Option<String>, String), String> = BTreeMap::new();
    for (i, p) in planned.iter().enumerate() {
        if i < first {
            for g in p.output.iter().flat_map(JobOutput::generated) {
                seen.insert(
                    (
                        g.kind().to_string(),
                        g.namespace().map(str::to_string),
                        g.name().to_string(),
                    ),
                    owners[i].clone(),
                );
            }
            continue;
        }
        let Some(out) = &p.output else { continue };
        let generated = out.generated().into_iter().map(|g| {
            (
                g.kind().to_string(),
                g.namespace().map(str::to_string),
                g.name().to_string(),
            )
        });
        for (kind, namespace, name) in generated {
            if let Some(other) = seen.insert((kind.clone(), namespace, name.clone()), p.job.path())
            {
                bail!(
                    "{}: generated {kind} `{name}` has the same name as one generated for {other}; rename one of the jobs",
                    p.job.path()
                );
            }
            if let Some(&i) = in_stream.get(&(kind.as_str(), name.as_str())) {
                bail!(
                    "{}: generated {kind} `{name}` has the same name as {}; rename the job",
                    p.job.path(),
                    docs.label(i)
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_hosts_match_a_service_by_every_name_it_resolves_as() {
        for host in [
            "db",
            "db.shop",
            "db.shop.svc",
            "db.shop.svc.cluster.local",
            "db.shop.svc.cluster.local.",
        ] {
            assert!(
                service_host(host, "db", Some("shop"), Some("shop")),
                "{host}"
            );
            assert!(
                service_host(host, "db", None, None),
                "{host}: both in the release namespace, which may be shop"
            );
        }
        assert!(
            service_host("db", "db", Some("shop"), None),
            "a subchart that sets its namespace, an app that does not"
        );
        assert!(
            !service_host("db", "db", Some("other"), Some("shop")),
            "certainly another namespace"
        );
        assert!(!service_host("db.other", "db", Some("shop"), None));
        assert!(
            !service_host("db.shop.example.com", "db", None, None),
            "an external host"
        );
        assert!(!service_host("dbx", "db", None, None));
    }

    #[test]
    fn reusable_containers_include_init_containers() {
        let input = b"---\n# Source: shop/templates/d.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop}\nspec:\n  selector: {matchLabels: {app: shop}}\n  template:\n    metadata: {labels: {app: shop}}\n    spec:\n      initContainers: [{name: db-migrate, image: x}]\n      containers: [{name: app, image: x}]\n";
        assert_eq!(
            crate::render::workloads(input).unwrap(),
            vec![(
                "Deployment/shop".to_string(),
                vec!["app".to_string(), "db-migrate (init container)".to_string()]
            )],
            "init lists the init containers `container:` can name, after the containers"
        );
    }

    /// The rendered Job's pod spec (as JSON) and the plan's warnings for `stream` with a
    /// DeployJobs document holding `jobs`, or the error.
    fn planned(stream: &str, jobs: &str) -> Result<(serde_json::Value, Vec<String>)> {
        let input = format!(
            "{stream}---\napiVersion: deploy-jobs/v1\nkind: DeployJobs\nmetadata:\n  name: shop\ndeploy_jobs:\n{jobs}"
        );
        let rendered = crate::render::render(input.as_bytes(), &crate::Options::default())?;
        let warnings = crate::report::Report::of(rendered.plan.as_ref().expect("a plan")).warnings;
        let text = rendered.stream.to_string();
        let job = crate::stream::split(text.as_bytes())?
            .iter()
            .filter_map(|d| serde_norway::from_str::<Value>(d.yaml()).ok())
            .find(|v| v["kind"].as_str() == Some("Job"))
            .expect("a Job");
        Ok((
            serde_json::to_value(&job["spec"]["template"]["spec"])?,
            warnings,
        ))
    }

    fn deployment(pod: &str) -> String {
        format!(
            "---\n# Source: shop/templates/d.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\n  labels: {{app.kubernetes.io/instance: shop}}\nspec:\n  selector: {{matchLabels: {{app: shop}}}}\n  template:\n    metadata: {{labels: {{app: shop}}}}\n    spec:\n{pod}      containers: [{{name: app, image: registry.example.com/shop:1}}]\n"
        )
    }

    const SA: &str = "---\n# Source: shop/templates/sa.yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: shop-sa}\nimagePullSecrets: [{name: regcred}, {name: other}]\n";
    const MIGRATE: &str = "  - name: migrate\n    container: app\n    command: [migrate]\n";
    const PULL_WARNING: &str = "image pull secrets attached to `shop-sa` do not reach the Job";

    fn pull_secrets(pod: &serde_json::Value) -> Vec<&str> {
        pod["imagePullSecrets"]
            .as_array()
            .map(|l| l.iter().filter_map(|s| s["name"].as_str()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn pull_secrets_of_the_apps_service_account_come_along_once() {
        let app = deployment(
            "      serviceAccountName: shop-sa\n      imagePullSecrets: [{name: regcred}]\n",
        );
        let (pod, warnings) = planned(&format!("{SA}{app}"), MIGRATE).unwrap();
        assert_eq!(
            pull_secrets(&pod),
            ["regcred", "other"],
            "the pod's own first, then the ServiceAccount's, each once"
        );
        assert!(
            !warnings.iter().any(|w| w.contains(PULL_WARNING)),
            "{warnings:?}"
        );
    }

    #[test]
    fn pull_rights_warning_only_where_the_jobs_pull_secrets_are_unknown() {
        let unrendered = deployment("      serviceAccountName: shop-sa\n");
        let (pod, warnings) = planned(&unrendered, MIGRATE).unwrap();
        assert!(pull_secrets(&pod).is_empty());
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("migrate: ") && w.contains(PULL_WARNING)),
            "the app's ServiceAccount is not rendered: {warnings:?}"
        );
        for (why, stream, jobs) in [
            (
                "the pod lists pull secrets of its own",
                deployment(
                    "      serviceAccountName: shop-sa\n      imagePullSecrets: [{name: regcred}]\n",
                ),
                MIGRATE.to_string(),
            ),
            (
                "the job runs as the app's ServiceAccount",
                unrendered.clone(),
                format!("{MIGRATE}    serviceAccountName: shop-sa\n"),
            ),
            (
                "the app runs as `default`",
                deployment("      serviceAccountName: default\n"),
                MIGRATE.to_string(),
            ),
            (
                "the app names no ServiceAccount",
                deployment(""),
                MIGRATE.to_string(),
            ),
        ] {
            let (_, warnings) = planned(&stream, &jobs).unwrap();
            assert!(
                !warnings.iter().any(|w| w.contains("image pull secrets")),
                "{why}: {warnings:?}"
            );
        }
        let (pod, _) = planned(
            &format!("{SA}{unrendered}"),
            // At pre-install a ServiceAccount the release renders does not exist yet.
            &format!("{MIGRATE}    serviceAccountName: shop-sa\n    when: pre-upgrade\n"),
        )
        .unwrap();
        assert!(
            pull_secrets(&pod).is_empty(),
            "running as the app's ServiceAccount, the Job pulls with it: nothing to copy"
        );
    }

    #[test]
    fn a_windows_node_selector_refuses_wait_for_too() {
        let app = deployment("      nodeSelector: {kubernetes.io/os: windows}\n");
        let err = planned(&app, &format!("{MIGRATE}    waitFor: [db:5432]\n")).unwrap_err();
        assert!(
            format!("{err:#}")
                .contains("deploy_jobs[0].waitFor: the reused pod runs on Windows nodes"),
            "{err:#}"
        );
        let linux = deployment("      nodeSelector: {kubernetes.io/os: linux}\n");
        assert!(planned(&linux, &format!("{MIGRATE}    waitFor: [db:5432]\n")).is_ok());
    }
}
