//! `--target gate`: for appliers that run no hooks (Helm 3, `kubectl apply`, Flux, GitOps).
//! The order lives in the cluster instead of in the deployer:
//!
//! - Each Job is an ordinary resource named from a hash of what it runs (its resolved spec
//!   and the data of the Secrets and ConfigMaps it references that the stream renders):
//!   re-applying the same content finds the same, finished Job and never runs it again or
//!   hits Job immutability; new content is a new Job.
//! - A job at pre-install or pre-upgrade gates workloads: each gets a `deploy-jobs-gate`
//!   initContainer, first of its init containers, that waits until every Job gating it has
//!   succeeded and fails at once, naming the Job and its log, when one failed. Their pod
//!   templates name those Jobs in [`GATE_JOBS_ANNOTATION`], which is how a gate tells a Job
//!   that a newer release replaced (and pruned) from one not created yet.
//! - A job with only post-install or post-upgrade follows workloads: an initContainer of its
//!   own pod waits until they have rolled out.
//! - Jobs of the list still run one after the other: each Job's pod waits, with the same
//!   gate, for the previous job of the list in its namespace.
//!
//! Every reader has least privilege: a Role per job that may `get` exactly its Job (and the
//! previous one) and the workloads it reads, by name, bound to the ServiceAccounts of the
//! pods that read them, with a token mounted in the reading container alone. The Role is
//! derived from [`KUBECTL_CALLS`], and a test holds the scripts to that table.

use anyhow::{Context as _, Result, anyhow, bail};
use indexmap::IndexMap;
use serde_json::json;
use serde_norway::{Mapping, Value};

use super::{Context, JobOutput, Order, Prepared, Target, job_object, user_annotations};
use crate::documents::{Documents, waited_for, workloads};
use crate::helm;
use crate::k8s::{self, Container};
use crate::names;
use crate::spec::{Exclusive, Job, ROLLOUT_KINDS, SpecError, err};
use crate::{GENERATED_ANNOTATION, LOG_ANNOTATION};

/// On a gated workload's pod template: the Jobs its gate waits for, comma-separated.
pub const GATE_JOBS_ANNOTATION: &str = "deploy-jobs.io/gate-jobs";
/// The initContainer that holds a pod until its Jobs have succeeded.
pub const GATE_CONTAINER: &str = "deploy-jobs-gate";
/// The initContainer of a post-install/upgrade job's pod that waits for rollouts.
pub const ROLLOUT_CONTAINER: &str = "deploy-jobs-rollout";
/// The volume with the ServiceAccount token, mounted in the gate or rollout container only.
pub const TOKEN_VOLUME: &str = "deploy-jobs-gate-token";
/// kubectl's cache directory ($HOME) on a read-only root filesystem.
const TMP_VOLUME: &str = "deploy-jobs-gate-tmp";
/// Where in-cluster clients (kubectl) look for the token, CA and namespace.
const TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

const GATE_SCRIPT: &str = include_str!("../templates/gate.sh");
const ROLLOUT_SCRIPT: &str = include_str!("../templates/rollout.sh");

/// Events that mean "before the app": the job gates it.
const GATING_EVENTS: &[&str] = &["pre-install", "pre-upgrade"];
/// Events that mean "after the app": the job follows its rollout.
const FOLLOWING_EVENTS: &[&str] = &["post-install", "post-upgrade"];

/// What a kubectl call in the scripts acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// A Job the gate waits for.
    Job,
    /// A gated or followed workload.
    Workload,
}

/// A kubectl call the gate and rollout scripts make, and the RBAC verb it needs.
pub type Call = crate::rbac::Call<On>;

/// Every kubectl call in the scripts.
pub const KUBECTL_CALLS: &[Call] = &[
    Call {
        kubectl: "get",
        on: On::Job,
        verb: "get",
    },
    Call {
        kubectl: "get",
        on: On::Workload,
        verb: "get",
    },
];

/// A workload a job gates or follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Its document.
    pub doc: usize,
    pub kind: String,
    pub name: String,
    /// Its pods' ServiceAccount (`default` when it names none).
    pub service_account: String,
    /// How its rollout takes the app down while the gate holds the new pods, if it does.
    pub downtime: Option<String>,
}

impl Workload {
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// What the gate mode made of one job, for the workload rewrite and `plan`.
#[derive(Debug, Clone, PartialEq)]
pub struct Gating {
    /// The workloads whose pods wait for this job (a job at pre-install or pre-upgrade).
    pub gates: Vec<Workload>,
    /// The workloads this job waits to see rolled out (a job after install or upgrade).
    pub follows: Vec<Workload>,
    /// The previous job of the list (its Job's name), which this job's pod waits for.
    pub after: Option<String>,
    /// How long a gate waits for this Job before it fails and the kubelet retries it.
    pub gate_limit: u64,
    pub gate_image: String,
}

/// The gate mode, for Helm's `--timeout` of `timeout` seconds (`helm --wait` waits for the
/// gated workloads that long).
#[derive(Debug, Clone)]
pub struct Gate {
    timeout: u64,
    /// The last Job of each namespace so far, and its deadline: the next one waits for it.
    previous: Vec<(Option<String>, String, u64)>,
}

impl Gate {
    pub fn new(timeout: u64) -> Result<Gate> {
        helm::check_timeout(timeout, "a Job")?;
        Ok(Gate {
            timeout,
            previous: Vec::new(),
        })
    }
}

/// Refuses the gate mode's keys under the hook strategies, where they would do nothing.
pub fn refuse_gate_keys(job: &Job) -> Result<(), SpecError> {
    for (key, set) in [
        ("gates", !job.spec.gates.is_empty()),
        ("follows", !job.spec.follows.is_empty()),
        ("gateImage", job.spec.gate_image.is_some()),
    ] {
        if set {
            return err(
                format!("{}.{key}", job.path()),
                "only means something with --target gate (hooks order the jobs here)",
            );
        }
    }
    Ok(())
}

impl Order for Gate {
    fn target(&self) -> Target {
        Target::Gate
    }

    fn check(&self, job: &Job) -> Result<(), SpecError> {
        let path = job.path();
        for event in &job.events {
            if !GATING_EVENTS.contains(&event.as_str())
                && !FOLLOWING_EVENTS.contains(&event.as_str())
            {
                let why = match event.as_str() {
                    "pre-delete" | "post-delete" => {
                        "nothing runs a Job at delete time without hooks: applied as an ordinary resource it would run at every deploy instead"
                    }
                    "pre-rollback" | "post-rollback" => {
                        "a rollback is just another apply without hooks: the rollback's own jobs run, gated as at an upgrade"
                    }
                    _ => "tests run with `helm test`, which needs hooks",
                };
                return err(
                    format!("{path}.when"),
                    format!(
                        "`{event}` has no meaning with --target gate: {why}. Use pre-install,pre-upgrade (the job gates the app) or post-install,post-upgrade (it runs once the app has rolled out)"
                    ),
                );
            }
        }
        if job.exclusive != Exclusive::None {
            return err(
                format!("{path}.exclusive"),
                "does not work with --target gate: without hooks nothing can stop the app before the Job and bring it back after it; the gate holds new pods, but the old ones keep running against the database. Use hook mode (Helm 4, Argo CD) for exclusive migrations",
            );
        }
        if job.spec.ttl_seconds_after_finished.is_some() {
            return err(
                format!("{path}.ttlSecondsAfterFinished"),
                "does not work with --target gate: the finished Job is the record that the migration ran, which the gate of every later pod reads; a deleted Job would be created and run again by the next apply. Old Jobs go away when a new migration replaces them (Helm prunes them; with kubectl, `apply --prune`)",
            );
        }
        for (key, set) in [
            ("deletePolicy", job.spec.delete_policy.is_some()),
            ("weight", job.spec.weight.is_some()),
        ] {
            if set {
                return err(
                    format!("{path}.{key}"),
                    "means nothing with --target gate: the Job is an ordinary resource, ordered by gates in the cluster, not a hook; jobs run in list order",
                );
            }
        }
        if job.spec.annotations.contains_key(LOG_ANNOTATION) {
            return err(
                format!("{path}.annotations.{LOG_ANNOTATION}"),
                "means nothing with --target gate (no hook, so Helm prints no log); a failed Job's gate prints the `kubectl logs` command instead",
            );
        }
        let gating = gates_app(job);
        if gating && !job.spec.follows.is_empty() {
            return err(
                format!("{path}.follows"),
                "is for jobs that run after install or upgrade only; this one runs before (it gates the app)",
            );
        }
        if !gating && !job.spec.gates.is_empty() {
            return err(
                format!("{path}.gates"),
                "is for jobs at pre-install or pre-upgrade; this one runs after install or upgrade (it follows the app's rollout)",
            );
        }
        Ok(())
    }

    fn default_deadline(&self) -> u64 {
        helm::deadline_within(self.timeout)
    }

    /// Everything is applied at once: a database in the same release comes up with the Job,
    /// which waits for it, and the job's ServiceAccount is there too.
    fn absent_at(&self, _events: &[String]) -> Option<(&'static str, &'static str)> {
        None
    }

    fn arrange(
        &mut self,
        docs: &dyn Documents,
        job: &Job,
        prepared: Prepared<'_>,
        ctx: &Context<'_>,
    ) -> Result<JobOutput> {
        let namespace = prepared.namespace.clone();
        let gating = gates_app(job);
        let chosen = if gating { &job.gates } else { &job.follows };
        let key = if gating { "gates" } else { "follows" };
        let selected = select(docs, job, &prepared, chosen, gating)
            .map_err(|e| anyhow!("{}.{key}: {e}", job.path()))?;
        let previous = self
            .previous
            .iter()
            .find(|(ns, _, _)| *ns == namespace)
            .map(|(_, name, deadline)| (name.clone(), *deadline));

        let mut pod = prepared.pod.clone();
        let needs_token = previous.is_some() || !gating;
        // Without a ServiceAccount of the job's own, one for reading what it waits for.
        let rbac_name = names::fit(
            &format!("{}-gate", prepared.job_name),
            names::MAX_OBJECT_NAME,
        );
        let mut create_account = false;
        if needs_token {
            let account = match &job.spec.service_account_name {
                Some(sa) => sa.clone(),
                None => {
                    create_account = true;
                    rbac_name.clone()
                }
            };
            pod.service_account_name = Some(account);
            pod.automount_service_account_token = Some(false);
            let mut first = Vec::new();
            if let Some((after, _)) = &previous {
                first.push(gate_container(
                    GATE_CONTAINER,
                    job.gate_image(),
                    script(
                        GATE_SCRIPT,
                        "gate",
                        ["0".to_string(), String::new(), after.clone()],
                    ),
                ));
            }
            if !gating {
                first.push(gate_container(
                    ROLLOUT_CONTAINER,
                    job.gate_image(),
                    script(ROLLOUT_SCRIPT, "rollout", selected.iter().map(Workload::id)),
                ));
            }
            first.append(&mut pod.init_containers);
            pod.init_containers = first;
            pod.volumes.extend(gate_volumes());
        }
        crate::reuse::check_container_names(&pod)
            .with_context(|| crate::reuse::container_name_key(job))?;
        crate::reuse::check_local_waits(job, &pod, prepared.reused.as_ref())?;

        let user = user_annotations(job);
        let mut annotations = IndexMap::new();
        annotations.insert(GENERATED_ANNOTATION.to_string(), job.name().to_string());
        for (k, v) in &user {
            annotations.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let pod_annotations = crate::reuse::pod_annotations(
            prepared.reused.as_ref().and_then(|r| r.meta),
            &pod,
            &user,
        );
        // The Job starts with everything else and waits before it runs: its deadline (its
        // own, or the default) is extended by the previous job's, and for a job that follows
        // rollouts by the default deadline, in which `helm --wait` expects them done.
        let deadline = job
            .spec
            .active_deadline_seconds
            .unwrap_or(ctx.default_deadline)
            .saturating_add(previous.as_ref().map_or(0, |(_, d)| *d))
            .saturating_add(if gating { 0 } else { ctx.default_deadline });
        let mut object = job_object(job, &prepared, pod, annotations, pod_annotations, deadline)?;
        let name = content_name(docs, &prepared, &object)?;
        object.metadata.name = Some(name.clone());
        let own_deadline = object.spec.active_deadline_seconds;

        let mut jobs = vec![name.clone()];
        jobs.extend(previous.as_ref().map(|(p, _)| p.clone()));
        let mut subjects: Vec<String> = Vec::new();
        if gating {
            for w in &selected {
                if !subjects.contains(&w.service_account) {
                    subjects.push(w.service_account.clone());
                }
            }
        }
        if needs_token {
            let own = object.spec.template.spec.service_account_name.clone();
            if let Some(own) = own
                && !subjects.contains(&own)
            {
                subjects.push(own);
            }
        }
        let mut objects = Vec::new();
        if !subjects.is_empty() {
            let meta = |labels: &IndexMap<String, String>| {
                let mut annotations = IndexMap::new();
                annotations.insert(GENERATED_ANNOTATION.to_string(), job.name().to_string());
                k8s::ObjectMeta {
                    name: Some(rbac_name.clone()),
                    namespace: namespace.clone(),
                    labels: labels.clone(),
                    annotations,
                }
            };
            if create_account {
                objects.push(json!({
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": meta(&prepared.labels),
                    "automountServiceAccountToken": false,
                }));
            }
            objects.push(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": meta(&prepared.labels),
                "rules": rules(&jobs, &selected),
            }));
            objects.push(json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": meta(&prepared.labels),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": rbac_name},
                "subjects": subjects
                    .iter()
                    .map(|sa| json!({"kind": "ServiceAccount", "name": sa}))
                    .collect::<Vec<_>>(),
            }));
        }
        let objects = objects
            .iter()
            .map(serde_norway::to_value)
            .collect::<Result<Vec<_>, _>>()?;

        self.previous.retain(|(ns, _, _)| *ns != namespace);
        self.previous
            .push((namespace.clone(), name.clone(), own_deadline));
        let (gates, follows) = if gating {
            (selected, Vec::new())
        } else {
            (Vec::new(), selected)
        };
        Ok(JobOutput {
            copies: Vec::new(),
            object,
            weight: 0,
            stop: None,
            external: prepared.external,
            reads_chart_hooks: prepared.reads_chart_hooks,
            source: prepared.reused.as_ref().map(|r| r.source.clone()),
            source_waited_for_readiness: prepared.source_waited_for_readiness,
            objects,
            gate: Some(Gating {
                gates,
                follows,
                after: previous.map(|(p, _)| p),
                gate_limit: own_deadline + helm::TIMEOUT_MARGIN,
                gate_image: job.gate_image(),
            }),
        })
    }

    fn rewrite(
        &self,
        docs: &dyn Documents,
        jobs: &[(&Job, &JobOutput)],
    ) -> Result<Vec<(usize, Value)>> {
        // Each gated workload, with the Jobs it waits for in list order.
        let mut gated: Vec<(usize, String, Vec<String>, u64, String)> = Vec::new();
        for (_, output) in jobs {
            let Some(gating) = &output.gate else { continue };
            let name = output.object.metadata.name.clone().unwrap_or_default();
            for w in &gating.gates {
                match gated.iter_mut().find(|g| g.0 == w.doc) {
                    Some(g) => {
                        g.2.push(name.clone());
                        g.3 = g.3.max(gating.gate_limit);
                    }
                    None => gated.push((
                        w.doc,
                        w.id(),
                        vec![name.clone()],
                        gating.gate_limit,
                        gating.gate_image.clone(),
                    )),
                }
            }
        }
        let mut out = Vec::new();
        for (doc, id, names, limit, image) in gated {
            let mut value = docs.value(doc)?.clone();
            // Written back by a YAML 1.1-safe writer, the workload must keep the booleans and
            // numbers Kubernetes read in the chart's text, not strings a YAML 1.2 reader made.
            crate::typed::as_kubernetes_reads(&mut value);
            let template = value
                .get_mut("spec")
                .and_then(|s| s.get_mut("template"))
                .and_then(Value::as_mapping_mut)
                .ok_or_else(|| anyhow!("{}: {id} has no pod template", docs.label(doc)))?;
            let meta = entry_mapping(template, "metadata");
            let annotations = entry_mapping(meta, "annotations");
            annotations.insert(GATE_JOBS_ANNOTATION.into(), names.join(",").into());
            let spec = entry_mapping(template, "spec");
            let mut args = vec![limit.to_string(), id.clone()];
            args.extend(names);
            let container =
                gate_container(GATE_CONTAINER, image, script(GATE_SCRIPT, "gate", args));
            let container = serde_norway::to_value(&container)?;
            let init = entry_sequence(spec, "initContainers");
            // A rerun on its own output regenerates the gate instead of adding a second one.
            init.retain(|c| c.get("name").and_then(Value::as_str) != Some(GATE_CONTAINER));
            init.insert(0, container);
            let volumes = entry_sequence(spec, "volumes");
            volumes.retain(|v| {
                let name = v.get("name").and_then(Value::as_str);
                name != Some(TOKEN_VOLUME) && name != Some(TMP_VOLUME)
            });
            for volume in gate_volumes() {
                volumes.push(volume);
            }
            out.push((doc, value));
        }
        Ok(out)
    }
}

/// Whether a job runs before the app (and so gates it) rather than after its rollout.
pub fn gates_app(job: &Job) -> bool {
    job.events
        .iter()
        .any(|e| GATING_EVENTS.contains(&e.as_str()))
}

/// The workloads a job gates (or follows): those listed, else the one whose container it
/// reuses, else every Deployment, StatefulSet and DaemonSet the stream renders; never, for a
/// gate, one its `waitFor` reaches (the database would wait for the migration that waits for
/// it). All in the Job's namespace, where its Role can grant access to them.
fn select(
    docs: &dyn Documents,
    job: &Job,
    prepared: &Prepared<'_>,
    listed: &[(String, String)],
    gating: bool,
) -> Result<Vec<Workload>> {
    let waited = if gating {
        waited_for(docs, &job.wait_for)?
    } else {
        Vec::new()
    };
    let rendered: Vec<(usize, String, String, Option<String>)> = workloads(docs)
        .filter(|(_, _, kind)| ROLLOUT_KINDS.contains(kind))
        .map(|(i, h, kind)| {
            (
                i,
                kind.to_string(),
                h.name.clone().unwrap_or_default(),
                h.namespace.clone(),
            )
        })
        .collect();
    let mut chosen: Vec<usize> = Vec::new();
    if !listed.is_empty() {
        for (kind, name) in listed {
            let Some((i, ..)) = rendered.iter().find(|(_, k, n, _)| k == kind && n == name) else {
                bail!(
                    "{kind}/{name} is not rendered by this chart as an ordinary resource (it renders: {})",
                    list(&rendered)
                );
            };
            if let Some((_, reach)) = waited.iter().find(|(w, _)| w == i) {
                bail!(
                    "{kind}/{name} is what the job waits for ({reach}): its pods would wait for the migration that waits for them; list only the app's workloads"
                );
            }
            chosen.push(*i);
        }
    } else if let Some(reused) = &prepared.reused {
        let (kind, _) = reused.source.split_once('/').unwrap_or_default();
        if !ROLLOUT_KINDS.contains(&kind) {
            bail!(
                "the job reuses {}, which does not roll out pods; list the workloads to {} (Deployment/name, StatefulSet/name or DaemonSet/name)",
                reused.source,
                if gating { "gate" } else { "follow" }
            );
        }
        if let Some((_, reach)) = waited.iter().find(|(w, _)| *w == reused.doc) {
            bail!(
                "the job reuses {}, which is also what it waits for ({reach}); list the workloads to gate",
                reused.source
            );
        }
        chosen.push(reused.doc);
    } else {
        chosen.extend(
            rendered
                .iter()
                .map(|(i, ..)| *i)
                .filter(|i| !waited.iter().any(|(w, _)| w == i)),
        );
        if chosen.is_empty() {
            bail!(
                "the job reuses no container and the chart renders no Deployment, StatefulSet or DaemonSet {} could {}; list them",
                if waited.is_empty() {
                    "it"
                } else {
                    "besides what the job waits for, that it"
                },
                if gating { "gate" } else { "follow" }
            );
        }
    }
    let mut out = Vec::new();
    for i in chosen {
        let (_, kind, name, ns) = rendered.iter().find(|(d, ..)| *d == i).expect("rendered");
        if *ns != prepared.namespace {
            let place = |ns: &Option<String>| match ns {
                Some(ns) => format!("namespace `{ns}`"),
                None => "the release namespace".to_string(),
            };
            bail!(
                "{kind}/{name} is rendered in {}, but the Job runs in {}: a gate reads its Job through a Role in its own namespace; render them in one namespace, or list the workloads of the Job's namespace",
                place(ns),
                place(&prepared.namespace)
            );
        }
        let value = docs.value(i)?;
        let service_account = value
            .get("spec")
            .and_then(|s| s.get("template"))
            .and_then(|t| t.get("spec"))
            .and_then(|s| {
                s.get("serviceAccountName")
                    .or_else(|| s.get("serviceAccount"))
            })
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("default")
            .to_string();
        out.push(Workload {
            doc: i,
            kind: kind.clone(),
            name: name.clone(),
            service_account,
            downtime: downtime(kind, value),
        });
    }
    Ok(out)
}

/// Whether rolling out this workload stops old pods before their replacements pass the
/// gate, so the app (or part of it) is down while the migration runs, and stays down if it
/// fails: a Recreate Deployment, a single replica allowed to go unavailable, a StatefulSet's
/// or a DaemonSet's rolling update (each pod is deleted before its replacement starts).
pub fn downtime(kind: &str, value: &Value) -> Option<String> {
    let spec = value.get("spec");
    let field = |path: &[&str]| path.iter().try_fold(spec?, |v, key| v.get(*key));
    let replicas = field(&["replicas"]).and_then(Value::as_u64).unwrap_or(1);
    match kind {
        "Deployment" => {
            if field(&["strategy", "type"]).and_then(Value::as_str) == Some("Recreate") {
                return Some(
                    "its strategy is Recreate: every old pod is stopped before the new ones start, and those wait at the gate, so the app is down while the migration runs (and stays down if it fails); use RollingUpdate".to_string(),
                );
            }
            // Kubernetes rounds a percentage down for maxUnavailable (default 25%).
            let unavailable = match field(&["strategy", "rollingUpdate", "maxUnavailable"]) {
                None => 0,
                Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
                Some(Value::String(p)) => p
                    .strip_suffix('%')
                    .and_then(|p| p.parse::<u64>().ok())
                    .map_or(0, |p| replicas * p / 100),
                Some(_) => 0,
            };
            (replicas == 1 && unavailable > 0).then(|| {
                "it runs a single replica with maxUnavailable above 0: its pod is stopped before the new one, which waits at the gate, so the app is down while the migration runs; set maxUnavailable: 0".to_string()
            })
        }
        "StatefulSet" | "DaemonSet" => {
            if field(&["updateStrategy", "type"]).and_then(Value::as_str) == Some("OnDelete") {
                return None;
            }
            Some(if kind == "StatefulSet" {
                format!(
                    "a StatefulSet's rolling update deletes a pod before its replacement starts, and the replacement waits at the gate: {} is down while the migration runs",
                    if replicas == 1 {
                        "with one replica the app".to_string()
                    } else {
                        format!("one of its {replicas} pods")
                    }
                )
            } else {
                "a DaemonSet's rolling update deletes a node's pod before its replacement starts, and the replacement waits at the gate: that node's pod is down while the migration runs".to_string()
            })
        }
        _ => None,
    }
}

fn list(rendered: &[(usize, String, String, Option<String>)]) -> String {
    if rendered.is_empty() {
        return "no Deployment, StatefulSet or DaemonSet".to_string();
    }
    rendered
        .iter()
        .map(|(_, k, n, _)| format!("{k}/{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `<prefix>-<job>-<hash>`: the hash (10 hex characters, at the end) covers the resolved
/// Job spec and the data of every Secret and ConfigMap it references that the stream
/// renders, so a changed migration config runs the job again.
fn content_name(
    docs: &dyn Documents,
    prepared: &Prepared<'_>,
    object: &k8s::Job,
) -> Result<String> {
    let mut content = serde_json::to_vec(&object.spec)?;
    for reference in &prepared.references {
        let Some(doc) = reference.rendered else {
            continue;
        };
        let value = docs.value(doc)?;
        let mut data = Mapping::new();
        for field in ["data", "stringData", "binaryData"] {
            if let Some(v) = value.get(field) {
                data.insert(field.into(), v.clone());
            }
        }
        content.extend(format!("\n{}/{}\n", reference.kind.kind(), reference.name).bytes());
        content.extend(serde_json::to_vec(&data)?);
    }
    let hash = &names::sha256_hex(&content)[..10];
    let base = names::fit(&prepared.job_name, names::MAX_JOB_NAME - hash.len() - 1);
    Ok(format!("{base}-{hash}"))
}

/// Role rules: exactly the verbs of [`KUBECTL_CALLS`], on these Jobs and workloads only.
fn rules(jobs: &[String], workloads: &[Workload]) -> Vec<serde_json::Value> {
    let verbs = |on: On| crate::rbac::verbs(KUBECTL_CALLS, on);
    let mut out = vec![json!({
        "apiGroups": ["batch"],
        "resources": ["jobs"],
        "resourceNames": jobs,
        "verbs": verbs(On::Job),
    })];
    for (kind, resource) in [
        ("Deployment", "deployments"),
        ("StatefulSet", "statefulsets"),
        ("DaemonSet", "daemonsets"),
    ] {
        let names: Vec<&str> = workloads
            .iter()
            .filter(|w| w.kind == kind)
            .map(|w| w.name.as_str())
            .collect();
        if !names.is_empty() {
            out.push(json!({
                "apiGroups": ["apps"],
                "resources": [resource],
                "resourceNames": names,
                "verbs": verbs(On::Workload),
            }));
        }
    }
    out
}

/// A hardened kubectl container with the token mounted in it alone.
fn gate_container(name: &str, image: String, command: Vec<String>) -> Container {
    let mut c = Container::hardened(name, image, command);
    c.resources = Some(k8s::yaml(
        "requests: {cpu: 10m, memory: 32Mi}\nlimits: {cpu: 200m, memory: 128Mi}",
    ));
    c.env = vec![
        k8s::yaml("{name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}"),
        k8s::yaml("{name: HOME, value: /tmp}"),
    ];
    let mut token = Mapping::new();
    token.insert("name".into(), TOKEN_VOLUME.into());
    token.insert("mountPath".into(), TOKEN_PATH.into());
    token.insert("readOnly".into(), true.into());
    let mut tmp = Mapping::new();
    tmp.insert("name".into(), TMP_VOLUME.into());
    tmp.insert("mountPath".into(), "/tmp".into());
    c.volume_mounts = vec![Value::Mapping(token), Value::Mapping(tmp)];
    c
}

/// The token (the pod's ServiceAccount's, short-lived and rotated by the kubelet), the
/// cluster's CA and the namespace, as the kubelet would mount them, and kubectl's cache.
fn gate_volumes() -> Vec<Value> {
    // The names are the constants above (a test renders and checks them).
    vec![
        k8s::yaml(
            "name: deploy-jobs-gate-token\nprojected:\n  sources:\n  - serviceAccountToken: {path: token, expirationSeconds: 3607}\n  - configMap:\n      name: kube-root-ca.crt\n      items: [{key: ca.crt, path: ca.crt}]\n  - downwardAPI:\n      items: [{path: namespace, fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}}]",
        ),
        k8s::yaml("name: deploy-jobs-gate-tmp\nemptyDir: {sizeLimit: 16Mi}"),
    ]
}

/// `sh -c SCRIPT NAME ARGS...`: the script sees NAME as `$0` and ARGS as `$1...`, so no
/// value is ever part of the script's text.
fn script(text: &str, name: &str, args: impl IntoIterator<Item = String>) -> Vec<String> {
    ["sh", "-c", text, name]
        .map(str::to_string)
        .into_iter()
        .chain(args)
        .collect()
}

fn entry_mapping<'a>(map: &'a mut Mapping, key: &str) -> &'a mut Mapping {
    if !map.get(key).is_some_and(Value::is_mapping) {
        map.insert(key.into(), Value::Mapping(Mapping::new()));
    }
    map.get_mut(key)
        .and_then(Value::as_mapping_mut)
        .expect("just made a mapping")
}

fn entry_sequence<'a>(map: &'a mut Mapping, key: &str) -> &'a mut Vec<Value> {
    if !map.get(key).is_some_and(Value::is_sequence) {
        map.insert(key.into(), Value::Sequence(Vec::new()));
    }
    map.get_mut(key)
        .and_then(Value::as_sequence_mut)
        .expect("just made a sequence")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kubectl calls a script makes: `$(kubectl -n "$ns" get WHAT ...`.
    fn calls_in(script: &str) -> Vec<(String, On)> {
        crate::rbac::calls_in(script, |_, what| match what {
            Some("job") => On::Job,
            _ => On::Workload,
        })
    }

    #[test]
    fn the_role_covers_exactly_what_the_scripts_call() {
        let mut used = calls_in(GATE_SCRIPT);
        used.extend(calls_in(ROLLOUT_SCRIPT));
        assert_eq!(used.len(), 3, "found the calls: {used:?}");
        crate::rbac::assert_exactly_granted(KUBECTL_CALLS, &used);
        let workload = Workload {
            doc: 0,
            kind: "StatefulSet".into(),
            name: "db".into(),
            service_account: "default".into(),
            downtime: None,
        };
        let text = serde_json::to_string(&rules(&["shop-migrate-0123456789".into()], &[workload]))
            .unwrap();
        assert_eq!(
            text,
            r#"[{"apiGroups":["batch"],"resourceNames":["shop-migrate-0123456789"],"resources":["jobs"],"verbs":["get"]},{"apiGroups":["apps"],"resourceNames":["db"],"resources":["statefulsets"],"verbs":["get"]}]"#,
            "get only, on named objects only"
        );
    }

    #[test]
    fn the_volumes_are_the_ones_the_containers_mount() {
        let volumes = gate_volumes();
        let names: Vec<&str> = volumes
            .iter()
            .map(|v| v["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, [TOKEN_VOLUME, TMP_VOLUME]);
    }

    #[test]
    fn scripts_are_valid_shell() {
        for script in [GATE_SCRIPT, ROLLOUT_SCRIPT] {
            let status = std::process::Command::new("sh")
                .args(["-n", "-c", script])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
}
