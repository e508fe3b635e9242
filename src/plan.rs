//! Decides what to add to a stream: for each enabled job, the Job object, the hook copies of
//! the Secrets and ConfigMaps it needs, their names and their weights.
//!
//! Pure: it reads documents (through [`Documents`]) and the validated jobs, and returns a
//! [`Plan`]. Turning the plan into text is `render`'s job.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use indexmap::IndexMap;
use serde_norway::{Mapping, Value};

use crate::exclusive;
use crate::header::{Header, describe};
use crate::k8s::{self, Container, ObjectMeta, PodSpec, PodTemplate, RefKind};
use crate::names;
use crate::script;
use crate::spec::{self, Exclusive, Job};
use crate::{GENERATED_ANNOTATION, HOOK_ANNOTATION, SPEC_HASH_ANNOTATION};

/// Kinds whose pod template a job may reuse a container from.
pub const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
];

/// Label that marks a generated pod as deploy-jobs' own.
pub const JOB_LABEL: &str = "deploy-jobs.io/job";
const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
const COMPONENT_LABEL: &str = "app.kubernetes.io/component";

/// Volume types that are safe to mount in a second pod: they hold configuration, not state.
const CONFIG_VOLUME_TYPES: &[&str] = &[
    "configMap",
    "secret",
    "projected",
    "downwardAPI",
    "emptyDir",
];

/// Events at which the release's ordinary resources do not exist (yet, or any more) with
/// this release's content: a job running then needs hook copies of what it references.
/// After install or upgrade, and before delete, the ordinary resources are there.
const COPY_EVENTS: &[&str] = &["pre-install", "pre-upgrade", "post-delete"];

/// Read access to the documents of the stream, parsing them only when asked.
pub trait Documents {
    /// Number of documents.
    fn count(&self) -> usize;
    /// The header of document `i`, or `None` for a document without content.
    fn header(&self, i: usize) -> Option<&Header>;
    /// The raw text of document `i`.
    fn raw(&self, i: usize) -> &str;
    /// Document `i` parsed in full; errors already carry the document's context.
    fn value(&self, i: usize) -> Result<&Value>;
    /// `document 3 (chart/templates/x.yaml)`.
    fn label(&self, i: usize) -> String;
    /// Whether document `i` is skipped for planning (the configuration, generated output).
    fn ignored(&self, i: usize) -> bool;
}

/// Everything the planner decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub environment: Option<String>,
    pub jobs: Vec<PlannedJob>,
}

/// One `deploy_jobs` entry and what it turns into.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedJob {
    pub job: Job,
    /// `None` when the job is disabled in this environment.
    pub output: Option<JobOutput>,
}

/// The objects generated for an enabled job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutput {
    /// Hook copies, Secrets first, then ConfigMaps, in weight order.
    pub copies: Vec<HookCopy>,
    pub object: k8s::Job,
    pub weight: i64,
    /// For an `exclusive` job: the stop step before it and the start step after.
    pub stop: Option<exclusive::Stop>,
    /// References to objects the stream does not render: they must already exist.
    pub external: Vec<(RefKind, String)>,
    /// Where the reused container came from: `Deployment/web`.
    pub source: Option<String>,
    /// Whether that workload's pods have a readiness probe (a post-install/upgrade job
    /// the app waits for would deadlock `helm --wait`).
    pub source_has_readiness_probe: bool,
}

impl JobOutput {
    /// Every object the job adds, in the order they are emitted (and weighted): the stop
    /// step's RBAC and Job, the copies, the Job, the start step. Rendering, the name checks
    /// and the plan report all walk this one list.
    pub fn generated(&self) -> Vec<Generated<'_>> {
        let mut out = Vec::new();
        if let Some(stop) = &self.stop {
            out.extend(stop.rbac.iter().map(Generated::Rbac));
            out.push(Generated::Stop(stop));
        }
        out.extend(self.copies.iter().map(Generated::Copy));
        out.push(Generated::Job(&self.object));
        if let Some(stop) = &self.stop
            && let Some(start) = &stop.start_job
        {
            out.push(Generated::Start(stop, start));
        }
        out
    }
}

/// One object a job adds; see [`JobOutput::generated`].
#[derive(Debug, Clone, Copy)]
pub enum Generated<'a> {
    /// The stop step's ServiceAccount, Role or RoleBinding.
    Rbac(&'a Value),
    /// The stop step's Job.
    Stop(&'a exclusive::Stop),
    Copy(&'a HookCopy),
    /// The job itself.
    Job(&'a k8s::Job),
    /// The start step's Job.
    Start(&'a exclusive::Stop, &'a k8s::Job),
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

/// Options that do not come from the configuration.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub environment: Option<String>,
    /// Prefix of generated names: the DeployJobs document's `metadata.name`.
    pub name_prefix: Option<String>,
}

/// Plans every job.
pub fn plan(docs: &dyn Documents, jobs: Vec<Job>, ctx: &Settings) -> Result<Plan> {
    plan_groups(
        docs,
        vec![Group {
            jobs,
            settings: ctx.clone(),
            origin: None,
        }],
    )
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

/// Plans the jobs of every group, in order: weights keep increasing from one group to the
/// next, so the first group's jobs run first at every event.
pub fn plan_groups(docs: &dyn Documents, groups: Vec<Group>) -> Result<Plan> {
    let stream_instance = (0..docs.count())
        .filter(|&i| !docs.ignored(i))
        .find_map(|i| {
            docs.header(i)?
                .labels
                .get(INSTANCE_LABEL)
                .map(str::to_string)
        });
    let mut planned = Vec::new();
    let mut last_weight: Option<(i64, String)> = None;
    // Who each planned job is, for messages about a clash with a later one.
    let mut owners: Vec<String> = Vec::new();
    let environment = groups.first().and_then(|g| g.settings.environment.clone());
    let several = groups.len() > 1;
    for group in groups {
        let ctx = &group.settings;
        let origin = group.origin.as_deref();
        // With one configuration, its jobs need no document to tell them apart.
        let previous_origin = origin.filter(|_| several);
        let first = planned.len();
        for job in group.jobs {
            if !job.enabled() {
                planned.push(PlannedJob { job, output: None });
                continue;
            }
            let output = plan_job(
                docs,
                &job,
                ctx,
                stream_instance.as_deref(),
                &mut last_weight,
                previous_origin,
            )
            .map_err(|e| in_origin(e, origin))?;
            planned.push(PlannedJob {
                job,
                output: Some(output),
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
    })
}

/// Names the configuration document an error comes from, when there is one.
fn in_origin(err: anyhow::Error, origin: Option<&str>) -> anyhow::Error {
    match origin {
        Some(origin) => err.context(origin.to_string()),
        None => err,
    }
}

/// The container a job reuses, found in the stream.
struct Reused<'a> {
    doc: usize,
    source: String,
    pod: &'a Mapping,
    container: &'a Mapping,
}

fn plan_job(
    docs: &dyn Documents,
    job: &Job,
    ctx: &Settings,
    stream_instance: Option<&str>,
    last_weight: &mut Option<(i64, String)>,
    origin: Option<&str>,
) -> Result<JobOutput> {
    let reused = match &job.spec.container {
        Some(name) => Some(
            find_container(docs, job, name).with_context(|| format!("{}.container", job.path()))?,
        ),
        None => None,
    };
    let workload_header = reused.as_ref().and_then(|r| docs.header(r.doc));
    let instance = workload_header
        .and_then(|h| h.labels.get(INSTANCE_LABEL))
        .or(stream_instance);
    let prefix = ctx.name_prefix.as_deref().or(instance);
    let job_name = names::fit(&names::join(prefix, job.name()), names::MAX_JOB_NAME);
    let namespace = workload_header.and_then(|h| h.namespace.clone());

    let mut pod = match &reused {
        Some(r) => pod_from_workload(job, r)?,
        None => PodSpec::default(),
    };
    pod.restart_policy = "Never";
    pod.containers = vec![main_container(job, reused.as_ref(), &pod.volumes)?];
    if !job.wait_for.is_empty() {
        pod.init_containers = vec![wait_container(job).with_context(|| job.path())?];
    }
    match &job.spec.service_account_name {
        Some(sa) => pod.service_account_name = Some(sa.clone()),
        None => pod.automount_service_account_token = Some(false),
    }

    let labels =
        pod_labels(docs, job, instance).with_context(|| format!("{}.labels", job.path()))?;

    // Hook copies of what the stream renders as ordinary resources.
    let mut wanted: Vec<(RefKind, String)> = Vec::new();
    pod.for_each_reference(&mut |kind, name| {
        if !wanted.iter().any(|(k, n)| *k == kind && n == name) {
            wanted.push((kind, name.clone()));
        }
    });
    wanted.sort_by_key(|(kind, _)| *kind);
    let mut copies = Vec::new();
    let mut external = Vec::new();
    let copies_needed = job.events.iter().any(|e| COPY_EVENTS.contains(&e.as_str()));
    for (kind, original) in wanted {
        let found =
            find_object(docs, kind, &original, namespace.as_deref()).with_context(|| job.path())?;
        match found {
            Some(_) if !copies_needed => {}
            Some(doc) => {
                let name = names::fit(
                    &format!("{original}-{}-hook", job.name()),
                    names::MAX_OBJECT_NAME,
                );
                copies.push((kind, original, name, doc));
            }
            None => external.push((kind, original)),
        }
    }
    let renames: BTreeMap<(RefKind, String), String> = copies
        .iter()
        .map(|(kind, original, name, _)| ((*kind, original.clone()), name.clone()))
        .collect();
    pod.for_each_reference(&mut |kind, name| {
        if let Some(new) = renames.get(&(kind, name.clone())) {
            *name = new.clone();
        }
    });

    let stop_targets = match &job.exclusive {
        Exclusive::None => None,
        e => {
            Some(exclusive::targets(docs, e).with_context(|| format!("{}.exclusive", job.path()))?)
        }
    };

    // Weights: strictly increasing through the list, never tied. Before the Job: the stop
    // step's four objects (if exclusive), then the copies.
    let n = copies.len() as i64;
    let before = n + if stop_targets.is_some() { 4 } else { 0 };
    let weight = match (job.spec.weight, last_weight.as_ref()) {
        (Some(w), Some((last, previous))) if w.checked_sub(before).is_none_or(|w| w <= *last) => {
            bail!(
                "{}.weight: {w} does not come after {previous}, whose last hook has weight {last}; weights must increase down the list, and this job needs {} of them (its stop step and hook copies, then its Job), so use at least {}",
                job.path(),
                before + 1,
                last.saturating_add(before + 1)
            )
        }
        (Some(w), _) => w,
        (None, Some((last, _))) => last
            .checked_add(1 + before)
            .ok_or_else(|| {
                anyhow!(
                    "{}: no hook weight is left after {last} ({}); Helm reads hook weights as 64-bit integers, so give the jobs before it lower weights",
                    job.path(),
                    last_weight.as_ref().map_or("", |(_, p)| p.as_str())
                )
            })?,
        (None, None) => before,
    };
    // Helm reads hook weights as Go ints (64-bit): every weight this job uses must fit,
    // never wrap around and reorder the hooks.
    let after = i64::from(stop_targets.is_some());
    if weight.checked_sub(before).is_none() || weight.checked_add(after).is_none() {
        bail!(
            "{}.weight: {weight} leaves no room for this job's {} hooks; Helm reads hook weights as 64-bit integers ({} to {}), so use a weight between {} and {}",
            job.path(),
            before + 1 + after,
            i64::MIN,
            i64::MAX,
            i64::MIN + before,
            i64::MAX - after
        );
    }
    let stop = match stop_targets {
        None => None,
        Some(targets) => Some(exclusive::build(
            targets,
            &exclusive::Context {
                job,
                job_name: &job_name,
                namespace: namespace.clone(),
                labels: labels.clone(),
                first_weight: weight - before,
                start_weight: weight + 1,
            },
        )?),
    };
    let last = match &stop {
        Some(s) if s.start_job.is_some() => weight + 1,
        _ => weight,
    };
    let previous = match origin {
        Some(origin) => format!("deploy_jobs[{}] of {origin}", job.index),
        None => format!("deploy_jobs[{}]", job.index),
    };
    *last_weight = Some((last, previous));
    if let Some(stop) = &stop {
        pod.containers
            .push(exclusive::restore_hint(job, &stop.targets));
    }
    // The job's container is named after the job; the API server would refuse a second
    // container of that name (`wait-for`, `restore-hint`) only when the hook runs.
    let mut names: Vec<&str> = Vec::new();
    for c in pod.init_containers.iter().chain(&pod.containers) {
        if names.contains(&c.name.as_str()) {
            bail!(
                "{}.name: `{}` is also the name of the container deploy-jobs adds to the job's pod ({}); a pod cannot have two containers of one name, so rename the job",
                job.path(),
                c.name,
                if pod.init_containers.iter().any(|i| i.name == c.name) {
                    "the initContainer that waits for `waitFor`"
                } else {
                    "the one that prints how to restore the workloads `exclusive` stops"
                }
            );
        }
        names.push(&c.name);
    }

    let mut annotations = IndexMap::new();
    annotations.insert(HOOK_ANNOTATION.to_string(), job.events.join(","));
    annotations.insert(crate::WEIGHT_ANNOTATION.to_string(), weight.to_string());
    annotations.insert(
        crate::DELETE_ANNOTATION.to_string(),
        job.delete_policy.join(","),
    );
    annotations.insert(crate::LOG_ANNOTATION.to_string(), "hook-failed".to_string());
    annotations.insert(GENERATED_ANNOTATION.to_string(), job.name().to_string());
    let user_annotations: IndexMap<String, String> = job
        .spec
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in &user_annotations {
        annotations.entry(k.clone()).or_insert_with(|| v.clone());
    }
    let mut pod_annotations = user_annotations;
    if stop.is_some() {
        // `kubectl logs job/NAME` shows the migration, not the restore hint next to it.
        pod_annotations
            .entry("kubectl.kubernetes.io/default-container".to_string())
            .or_insert_with(|| pod.containers[0].name.clone());
    }

    let mut object = k8s::Job {
        api_version: "batch/v1",
        kind: "Job",
        metadata: ObjectMeta {
            name: Some(job_name),
            namespace: namespace.clone(),
            labels: labels.clone(),
            annotations,
        },
        spec: k8s::JobSpec {
            backoff_limit: job.spec.backoff_limit.unwrap_or(0),
            active_deadline_seconds: job
                .spec
                .active_deadline_seconds
                .unwrap_or(spec::DEFAULT_DEADLINE),
            ttl_seconds_after_finished: job.spec.ttl_seconds_after_finished,
            template: PodTemplate {
                metadata: ObjectMeta {
                    labels,
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

    let copies = copies
        .into_iter()
        .enumerate()
        .map(|(i, (kind, original, name, doc))| {
            let weight = weight - n + i as i64;
            let object = hook_copy(docs.value(doc)?, job, &name, namespace.as_deref(), weight)
                .with_context(|| docs.label(doc))?;
            Ok(HookCopy {
                kind,
                original,
                name,
                weight,
                object,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    Ok(JobOutput {
        copies,
        object,
        weight,
        stop,
        external,
        source: reused.as_ref().map(|r| r.source.clone()),
        source_has_readiness_probe: reused.as_ref().is_some_and(|r| {
            containers(r.pod)
                .iter()
                .any(|c| c.contains_key("readinessProbe"))
        }),
    })
}

fn find_container<'a>(docs: &'a dyn Documents, job: &Job, name: &str) -> Result<Reused<'a>> {
    let mut found = Vec::new();
    let mut candidates: Vec<String> = Vec::new();
    for (i, header, kind) in workloads(docs) {
        let workload = format!("{kind}/{}", header.name.as_deref().unwrap_or("?"));
        if let Some((want_kind, want_name)) = &job.workload
            && (want_kind != kind || header.name.as_deref() != Some(want_name.as_str()))
        {
            continue;
        }
        // Cheap pre-check before a full parse: the name must appear in the text.
        if job.workload.is_none() && !docs.raw(i).contains(name) {
            candidates.push(format!("{workload} in {}", docs.label(i)));
            continue;
        }
        let value = docs.value(i)?;
        let pod = pod_spec(kind, value)
            .ok_or_else(|| anyhow!("{}: {workload} has no pod template", docs.label(i)))?;
        let containers = containers(pod);
        let names: Vec<&str> = containers
            .iter()
            .filter_map(|c| str_field(c, "name"))
            .collect();
        candidates.push(format!(
            "{workload} in {} (containers: {})",
            docs.label(i),
            names.join(", ")
        ));
        if let Some(container) = containers
            .into_iter()
            .find(|c| str_field(c, "name") == Some(name))
        {
            found.push(Reused {
                doc: i,
                source: workload,
                pod,
                container,
            });
        }
    }
    let scope = match &job.workload {
        Some((kind, wl)) => format!(" in {kind}/{wl}"),
        None => String::new(),
    };
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

/// The workloads the stream renders as ordinary resources (hooks and ignored documents left
/// out): document index, header and kind.
pub fn workloads<'a>(
    docs: &'a dyn Documents,
) -> impl Iterator<Item = (usize, &'a Header, &'a str)> + 'a {
    (0..docs.count()).filter_map(move |i| {
        let header = docs.header(i)?;
        let kind = header.kind.as_deref()?;
        (!docs.ignored(i) && !header.is_hook() && WORKLOAD_KINDS.contains(&kind))
            .then_some((i, header, kind))
    })
}

/// Every workload the stream renders (hooks excluded) with the names of its containers:
/// what `container:` can reuse.
pub fn reusable_containers(docs: &dyn Documents) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    for (i, header, kind) in workloads(docs) {
        let names = pod_spec(kind, docs.value(i)?)
            .map(|pod| {
                containers(pod)
                    .iter()
                    .filter_map(|c| str_field(c, "name").map(str::to_string))
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

/// The pod spec inside a workload.
fn pod_spec<'a>(kind: &str, value: &'a Value) -> Option<&'a Mapping> {
    let spec = value.get("spec")?;
    let pod = match kind {
        "Pod" => spec,
        "CronJob" => spec
            .get("jobTemplate")?
            .get("spec")?
            .get("template")?
            .get("spec")?,
        _ => spec.get("template")?.get("spec")?,
    };
    pod.as_mapping()
}

fn containers(pod: &Mapping) -> Vec<&Mapping> {
    match pod.get("containers") {
        Some(Value::Sequence(items)) => items.iter().filter_map(Value::as_mapping).collect(),
        _ => Vec::new(),
    }
}

fn str_field<'a>(map: &'a Mapping, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

fn seq_field(map: &Mapping, key: &str) -> Vec<Value> {
    match map.get(key) {
        Some(Value::Sequence(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// Pod-level settings that come along with a reused container, and the volumes its mounts
/// need (config-like ones, plus those the job asks for by name).
fn pod_from_workload(job: &Job, reused: &Reused<'_>) -> Result<PodSpec> {
    let pod = reused.pod;
    let volumes = seq_field(pod, "volumes");
    let volume_name = |v: &Value| v.get("name").and_then(Value::as_str).map(str::to_string);
    for (i, wanted) in job.spec.volumes.iter().enumerate() {
        if !volumes
            .iter()
            .any(|v| volume_name(v).as_deref() == Some(wanted.as_str()))
        {
            let have: Vec<String> = volumes.iter().filter_map(volume_name).collect();
            bail!(
                "{}.volumes[{i}]: {} has no volume named `{wanted}` (it has: {})",
                job.path(),
                reused.source,
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                }
            );
        }
    }
    let keep = |v: &Value| {
        let name = volume_name(v).unwrap_or_default();
        job.spec.volumes.contains(&name)
            || v.as_mapping().is_some_and(|m| {
                m.keys()
                    .any(|k| k.as_str().is_some_and(|k| CONFIG_VOLUME_TYPES.contains(&k)))
            })
    };
    let mounted: Vec<String> = seq_field(reused.container, "volumeMounts")
        .iter()
        .filter_map(|m| m.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    Ok(PodSpec {
        image_pull_secrets: seq_field(pod, "imagePullSecrets"),
        security_context: pod.get("securityContext").cloned(),
        node_selector: pod.get("nodeSelector").cloned(),
        tolerations: pod.get("tolerations").cloned(),
        volumes: volumes
            .iter()
            .filter(|v| keep(v) && mounted.contains(&volume_name(v).unwrap_or_default()))
            .cloned()
            .map(|mut v| {
                file_modes_as_kubernetes_reads(&mut v);
                v
            })
            .collect(),
        ..PodSpec::default()
    })
}

/// `defaultMode: 0644` is an octal number to Kubernetes (YAML 1.1) but the string `"0644"`
/// to a YAML 1.2 reader, and a string there makes the API server refuse the Job. File modes
/// in a copied volume are integers, so such a string can only have been a plain octal number.
fn file_modes_as_kubernetes_reads(value: &mut Value) {
    match value {
        Value::Mapping(m) => {
            for (k, v) in m.iter_mut() {
                let mode = matches!(k.as_str(), Some("defaultMode" | "mode"));
                match v {
                    Value::String(s) if mode => {
                        if let Some(octal) = s.strip_prefix('0')
                            && !octal.is_empty()
                            && octal.bytes().all(|b| (b'0'..=b'7').contains(&b))
                            && let Ok(n) = u32::from_str_radix(octal, 8)
                        {
                            *v = Value::Number(n.into());
                        }
                    }
                    _ => file_modes_as_kubernetes_reads(v),
                }
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(file_modes_as_kubernetes_reads),
        _ => {}
    }
}

fn main_container(job: &Job, reused: Option<&Reused<'_>>, volumes: &[Value]) -> Result<Container> {
    let from = reused.map(|r| r.container);
    let field = |key: &str| from.and_then(|c| str_field(c, key)).map(str::to_string);
    let image = match (&job.spec.image, field("image")) {
        (Some(image), _) => image.clone(),
        (None, Some(image)) => image,
        (None, None) => bail!(
            "{}.image: the reused container has no image; set `image`",
            job.path()
        ),
    };
    let mut env: Vec<Value> = from.map(|c| seq_field(c, "env")).unwrap_or_default();
    for var in &job.env {
        let value = serde_norway::to_value(var).with_context(|| format!("{}.env", job.path()))?;
        match env
            .iter_mut()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(var.name.as_str()))
        {
            Some(existing) => *existing = value,
            None => env.push(value),
        }
    }
    let env_from = match &job.spec.env_from {
        Some(list) => list
            .iter()
            .map(serde_norway::to_value)
            .collect::<Result<_, _>>()
            .with_context(|| format!("{}.envFrom", job.path()))?,
        None => from.map(|c| seq_field(c, "envFrom")).unwrap_or_default(),
    };
    let volume_mounts = match reused {
        Some(r) => {
            let kept: Vec<&str> = volumes
                .iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str))
                .collect();
            seq_field(r.container, "volumeMounts")
                .into_iter()
                .filter(|m| {
                    m.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| kept.contains(&n))
                })
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Container {
        name: job.name().to_string(),
        image,
        image_pull_policy: job
            .spec
            .image_pull_policy
            .clone()
            .or_else(|| field("imagePullPolicy")),
        command: job.command.clone(),
        args: job.args.clone(),
        working_dir: field("workingDir"),
        env,
        env_from,
        resources: match &job.spec.resources {
            Some(r) => Some(
                serde_norway::to_value(r).with_context(|| format!("{}.resources", job.path()))?,
            ),
            None => None,
        },
        volume_mounts,
        security_context: from.and_then(|c| c.get("securityContext").cloned()),
    })
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

/// Labels for the Job and its pods: deploy-jobs' own, never ones a Service or workload in the
/// stream selects (that would send live traffic to a migration pod).
fn pod_labels(
    docs: &dyn Documents,
    job: &Job,
    instance: Option<&str>,
) -> Result<IndexMap<String, String>> {
    let mut labels = IndexMap::new();
    // Ours to drop if a broad selector would match; a label the user set is never dropped.
    let own_instance = instance.is_some() && !job.spec.labels.contains_key(INSTANCE_LABEL);
    if let Some(instance) = instance {
        labels.insert(INSTANCE_LABEL.to_string(), instance.to_string());
    }
    labels.insert(COMPONENT_LABEL.to_string(), "deploy-job".to_string());
    labels.insert(JOB_LABEL.to_string(), job.name().to_string());
    for (k, v) in &job.spec.labels {
        labels.insert(k.clone(), v.0.clone());
    }
    for i in 0..docs.count() {
        let Some(header) = docs.header(i) else {
            continue;
        };
        let selects = header.is_kind("Service")
            || header
                .kind
                .as_deref()
                .is_some_and(|k| WORKLOAD_KINDS.contains(&k));
        if docs.ignored(i) || !selects || !selector_matches(header, &labels) {
            continue;
        }
        // The instance label alone is what usually makes a broad selector match.
        if own_instance
            && labels.shift_remove(INSTANCE_LABEL).is_some()
            && !selector_matches(header, &labels)
        {
            continue;
        }
        bail!(
            "the job's pods would be selected by {}/{} in {}, which would route live traffic or ownership to a migration pod; change the labels",
            header.kind.as_deref().unwrap_or("?"),
            header.name.as_deref().unwrap_or("?"),
            docs.label(i)
        );
    }
    Ok(labels)
}

/// Whether a document's selector selects pods with these labels. An empty selector selects
/// nothing here: Services without one route to no pods, and workloads must have one.
fn selector_matches(header: &Header, labels: &IndexMap<String, String>) -> bool {
    if header.selector.is_empty() && header.selector_expressions.is_empty() {
        return false;
    }
    let labels_ok = header
        .selector
        .iter()
        .all(|(k, v)| labels.get(k).map(String::as_str) == Some(v));
    let expressions_ok = header.selector_expressions.iter().all(|r| {
        let value = labels.get(&r.key);
        match r.operator.as_str() {
            "In" => value.is_some_and(|v| r.values.contains(v)),
            "NotIn" => value.is_none_or(|v| !r.values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
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
        "the Job references {} `{name}`, which {} renders in {object_ns}, while the Job runs in {job_ns}; deploy-jobs is not told the release namespace, so it cannot tell whether they are the same object: set metadata.namespace on both (e.g. {{{{ .Release.Namespace }}}}) or on neither",
        kind.kind(),
        docs.label(i)
    )
}

/// A hook copy of a rendered Secret or ConfigMap: same content, new name and hook annotations.
/// The copy is created in the Job's namespace, where the Job looks for it.
fn hook_copy(
    original: &Value,
    job: &Job,
    name: &str,
    namespace: Option<&str>,
    weight: i64,
) -> Result<Value> {
    let Value::Mapping(source) = original else {
        bail!("expected a mapping, found {}", describe(original));
    };
    let old_meta = source.get("metadata").and_then(Value::as_mapping);
    let mut meta = Mapping::new();
    meta.insert("name".into(), name.into());
    if let Some(ns) = namespace {
        meta.insert("namespace".into(), ns.into());
    }
    if let Some(labels) = old_meta.and_then(|m| m.get("labels")) {
        meta.insert("labels".into(), labels.clone());
    }
    let mut annotations = Mapping::new();
    if let Some(Value::Mapping(old)) = old_meta.and_then(|m| m.get("annotations")) {
        for (k, v) in old {
            let drop = k.as_str().is_some_and(|k| {
                k.starts_with("helm.sh/")
                    || k == crate::FILENAME_ANNOTATION
                    || k.starts_with("deploy-jobs.io/")
            });
            if !drop {
                annotations.insert(k.clone(), v.clone());
            }
        }
    }
    annotations.insert(HOOK_ANNOTATION.into(), job.events.join(",").into());
    annotations.insert(crate::WEIGHT_ANNOTATION.into(), weight.to_string().into());
    annotations.insert(
        crate::DELETE_ANNOTATION.into(),
        "before-hook-creation,hook-succeeded".into(),
    );
    annotations.insert(GENERATED_ANNOTATION.into(), job.name().into());
    meta.insert("annotations".into(), Value::Mapping(annotations));
    let mut copy = Mapping::new();
    for (k, v) in source {
        if k.as_str() == Some("metadata") {
            copy.insert(k.clone(), Value::Mapping(meta.clone()));
        } else {
            copy.insert(k.clone(), v.clone());
        }
    }
    if !copy.contains_key("metadata") {
        copy.insert("metadata".into(), Value::Mapping(meta));
    }
    Ok(Value::Mapping(copy))
}

/// Generated names must not clash with each other or with what the stream renders.
/// Checks the jobs from `first` on against all planned before them and against the stream.
fn check_unique_names(
    docs: &dyn Documents,
    planned: &[PlannedJob],
    first: usize,
    owners: &[String],
) -> Result<()> {
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    for (i, p) in planned.iter().enumerate() {
        if i < first {
            for g in p.output.iter().flat_map(JobOutput::generated) {
                seen.insert(
                    (g.kind().to_string(), g.name().to_string()),
                    owners[i].clone(),
                );
            }
            continue;
        }
        let Some(out) = &p.output else { continue };
        let generated = out
            .generated()
            .into_iter()
            .map(|g| (g.kind().to_string(), g.name().to_string()));
        for (kind, name) in generated {
            if let Some(other) = seen.insert((kind.clone(), name.clone()), p.job.path()) {
                bail!(
                    "{}: generated {kind} `{name}` has the same name as one generated for {other}; rename one of the jobs",
                    p.job.path()
                );
            }
            let clash = (0..docs.count()).find(|&i| {
                !docs.ignored(i)
                    && docs.header(i).is_some_and(|h| {
                        h.is_kind(&kind) && h.name.as_deref() == Some(name.as_str())
                    })
            });
            if let Some(i) = clash {
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
