//! `--target gate`: for appliers that run no hooks (Helm 3, `kubectl apply`, Flux, GitOps).
//! The order lives in the cluster instead of in the deployer:
//!
//! - Each Job is an ordinary resource named from a hash of what it runs: its pod template
//!   and the data of the Secrets and ConfigMaps it references that the stream renders.
//!   Re-applying the same content finds the same, finished Job and never runs it again; new
//!   content is a new Job. Nothing else enters the pod template (a Job's template cannot
//!   change): what the Job waits for is in its annotations, which its own pod reads.
//! - A job at a pre-* event gates what runs the app ([`held`]): each such object gets a
//!   `deploy-jobs-gate` initContainer, first of its init containers, that waits until every
//!   Job gating it has succeeded and fails at once, naming the Job, its log and the way to
//!   run it again, when one failed. Their pod templates name those Jobs in
//!   [`GATE_JOBS_ANNOTATION`], which is how a gate tells a Job that a newer release replaced
//!   from one not created yet.
//! - A job with only post-* events follows workloads: an initContainer of its own pod waits
//!   until they have rolled out.
//! - Jobs of the list run one after the other: each Job's pod waits, with the same gate, for
//!   the previous job of the list in its namespace.
//! - Who waits for whom is one graph ([`graph`]); a gate that would close a cycle is refused,
//!   naming the way round, and by default never made.
//!
//! Every reader has least privilege: a Role per job that may `get` exactly its Job (and the
//! previous one) and the objects it reads, by name, bound to the ServiceAccounts of the pods
//! that read them (never the namespace's `default`), with a token mounted in the reading
//! container alone. The Role is derived from [`KUBECTL_CALLS`], and a test holds the scripts
//! to that table.

pub mod graph;
pub mod held;

use anyhow::{Context as _, Result, anyhow, bail};
use indexmap::IndexMap;
use serde_json::json;
use serde_norway::{Mapping, Value};

use self::graph::{Graph, Node};
use self::held::Candidate;
use super::{Context, JobOutput, Prepared, Strategy, Target, job_object, user_annotations};
use super::{Gating, NotHeld, PullSecrets, Workload};
use crate::documents::{Documents, Pods, waited_for};
pub use crate::facts::{AFTER_ANNOTATION, FOLLOWS_ANNOTATION, GATE_JOBS_ANNOTATION};
use crate::facts::{
    AFTER_APP_EVENTS, BEFORE_APP_EVENTS, GENERATED_ANNOTATION, JOB_NAME_LABEL, LOG_ANNOTATION,
    VERSION_LABELS,
};
use crate::helm;
use crate::k8s::{self, Container};
use crate::names;
use crate::spec::{Exclusive, Job, Phase, ROLLOUT_KINDS, SpecError, TargetError, err};

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

const GATE_SCRIPT: &str = include_str!("../../templates/gate.sh");
const ROLLOUT_SCRIPT: &str = include_str!("../../templates/rollout.sh");
const OWN_JOB_SCRIPT: &str = include_str!("../../templates/own-job.sh");

/// What a kubectl call in the scripts acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// A Job the gate waits for, or the pod's own Job.
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

/// The gate mode, for Helm's `--timeout` of `timeout` seconds (`helm --wait` waits for the
/// gated workloads that long).
#[derive(Debug, Clone)]
pub struct Gate {
    timeout: u64,
    /// The last Job of each namespace so far, its deadline and its node.
    previous: Vec<(Option<String>, String, u64, Node)>,
    /// Who waits for whom, so far.
    graph: Graph,
    /// What runs pods in the stream, read at the first job.
    candidates: Option<Vec<Candidate>>,
    /// Jobs arranged so far (across every configuration of an umbrella chart).
    arranged: usize,
    /// Gated objects that ran as `default`, and the ServiceAccount they run as now.
    accounts: Vec<(usize, String)>,
}

impl Gate {
    pub fn new(timeout: u64) -> Result<Gate> {
        helm::check_timeout(timeout, "a Job")?;
        Ok(Gate {
            timeout,
            previous: Vec::new(),
            graph: Graph::default(),
            candidates: None,
            arranged: 0,
            accounts: Vec::new(),
        })
    }
}

impl Strategy for Gate {
    fn target(&self) -> Target {
        Target::Gate
    }

    fn check(&self, job: &Job) -> Result<(), SpecError> {
        check_keys(job)?;
        check_events(job)
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
        mut prepared: Prepared<'_>,
        ctx: &Context<'_>,
    ) -> Result<JobOutput> {
        if self.candidates.is_none() {
            self.candidates = Some(held::candidates(docs)?);
        }
        let namespace = prepared.namespace.clone();
        let gating = gates_app(job);
        let node = Node::Job(self.arranged);
        self.arranged += 1;
        self.graph.name(node, format!("Job `{}`", job.name()));
        let previous = self.previous_in(&namespace);
        self.add_own_waits(docs, job, node, previous.as_ref().map(|p| p.2))?;
        if prepared.pod.runs_on_windows() {
            bail!(
                "{}.container: the reused pod runs on Windows nodes, and --target gate adds Linux containers to the Job's pod (the gate that keeps the jobs in order, kubectl in Alpine), which no Windows node runs; deploy this job with hooks (Helm 4, Argo CD), or give it a Linux `image` of its own",
                job.path()
            );
        }
        let account = own_account(job, &prepared);
        let (gates, not_held, follows) = self.waits(docs, job, &prepared, ctx, node, &account)?;

        let mut pod = std::mem::take(&mut prepared.pod);
        add_own_gates(&mut pod, job, gating, &account);
        crate::reuse::check_container_names(&pod)
            .with_context(|| crate::reuse::container_name_key(job))?;
        crate::reuse::check_local_waits(job, &pod, prepared.reused.as_ref())?;

        let user = user_annotations(job);
        let (pod_annotations, volatile) = stable_pod_metadata(job, &mut prepared, &pod, &user);
        // The Job waits before it runs: its deadline (its own, or the default) is extended
        // by the previous job's, and for a job that follows rollouts by the default deadline,
        // in which `helm --wait` expects them done. A Job's deadline may change; its pod
        // template may not, so only the template names it.
        let deadline = job
            .spec
            .active_deadline_seconds
            .unwrap_or(ctx.default_deadline)
            .saturating_add(previous.as_ref().map_or(0, |p| p.1))
            .saturating_add(if gating { 0 } else { ctx.default_deadline });
        let annotations = job_annotations(job, &user, previous.as_ref().map(|p| &p.0), &follows);
        let mut object = job_object(job, &prepared, pod, annotations, pod_annotations, deadline)?;
        let name = content_name(docs, &prepared, &object)?;
        object.metadata.name = Some(name.clone());
        let own_deadline = object.spec.active_deadline_seconds;

        let jobs: Vec<String> = std::iter::once(name.clone())
            .chain(previous.as_ref().map(|p| p.0.clone()))
            .collect();
        let read = if gating { &gates } else { &follows };
        let objects = rbac_objects(job, &prepared, &account, &jobs, read)?;
        for w in &gates {
            self.graph.add(
                Node::Object(w.doc),
                node,
                "its pods wait at the gate for it",
            );
        }
        self.previous.retain(|(ns, ..)| *ns != namespace);
        self.previous
            .push((namespace.clone(), name.clone(), own_deadline, node));
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
                not_held,
                follows,
                after: previous.map(|p| p.0),
                gate_limit: own_deadline + helm::TIMEOUT_MARGIN,
                gate_image: job.gate_image(),
                volatile,
            }),
        })
    }

    fn rewrite(
        &self,
        docs: &dyn Documents,
        jobs: &[(&Job, &JobOutput)],
    ) -> Result<Vec<(usize, Value)>> {
        let mut out = Vec::new();
        for held in gated_objects(jobs) {
            let mut value = docs.value(held.workload.doc)?.clone();
            // Written back by a YAML 1.1-safe writer, the workload must keep the booleans and
            // numbers Kubernetes read in the chart's text, not strings a YAML 1.2 reader made.
            crate::typed::as_kubernetes_reads(&mut value);
            let w = held.workload;
            let Pods::Template(path) = w.pods else {
                bail!("{}: {} has no pod template", docs.label(w.doc), w.id());
            };
            let template = path
                .iter()
                .try_fold(&mut value, |v, key| v.get_mut(*key))
                .and_then(Value::as_mapping_mut)
                .ok_or_else(|| anyhow!("{}: {} has no pod template", docs.label(w.doc), w.id()))?;
            let meta = entry_mapping(template, "metadata");
            let annotations = entry_mapping(meta, "annotations");
            annotations.insert(GATE_JOBS_ANNOTATION.into(), held.jobs.join(",").into());
            let spec = entry_mapping(template, "spec");
            if w.left_default.is_some() {
                spec.remove("serviceAccount");
                spec.insert(
                    "serviceAccountName".into(),
                    w.service_account.clone().into(),
                );
            }
            let mut args = vec![held.limit.to_string(), w.kubectl.clone()];
            args.extend(held.jobs);
            let container = gate_container(
                GATE_CONTAINER,
                held.image,
                script(GATE_SCRIPT, "gate", args),
            );
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
            volumes.extend(gate_volumes());
            out.push((w.doc, value));
        }
        Ok(out)
    }
}

/// A gated object, with the Jobs it waits for in list order, the longest wait of its gate
/// and the gate's image.
struct Held<'a> {
    workload: &'a Workload,
    jobs: Vec<String>,
    limit: u64,
    image: String,
}

fn gated_objects<'a>(jobs: &[(&Job, &'a JobOutput)]) -> Vec<Held<'a>> {
    let mut out: Vec<Held<'a>> = Vec::new();
    for (_, output) in jobs {
        let Some(gating) = &output.gate else { continue };
        let name = output.object.metadata.name.clone().unwrap_or_default();
        for w in &gating.gates {
            match out.iter_mut().find(|h| h.workload.doc == w.doc) {
                Some(h) => {
                    h.jobs.push(name.clone());
                    h.limit = h.limit.max(gating.gate_limit);
                }
                None => out.push(Held {
                    workload: w,
                    jobs: vec![name.clone()],
                    limit: gating.gate_limit,
                    image: gating.gate_image.clone(),
                }),
            }
        }
    }
    out
}

/// A job's events in gate mode: before the app (a pre-* event) or after it, and both at
/// install and at upgrade, since nothing tells the two apart without hooks.
fn check_events(job: &Job) -> Result<(), SpecError> {
    let path = job.path();
    for event in &job.events {
        if !BEFORE_APP_EVENTS.contains(&event.as_str())
            && !AFTER_APP_EVENTS.contains(&event.as_str())
        {
            return err(
                format!("{path}.when"),
                TargetError::GateEvent(event.clone()),
            );
        }
    }
    let has = |phase: &str| job.events.iter().any(|e| e.ends_with(phase));
    let missing = match (has("-install"), has("-upgrade")) {
        (true, true) => return Ok(()),
        (false, _) => Phase::Install,
        (_, false) => Phase::Upgrade,
    };
    err(
        format!("{path}.when"),
        TargetError::GatePhase {
            events: job.events.clone(),
            missing,
        },
    )
}

/// Keys that mean nothing, or something unsafe, without hooks.
fn check_keys(job: &Job) -> Result<(), SpecError> {
    let path = job.path();
    if job.exclusive != Exclusive::None {
        return err(format!("{path}.exclusive"), TargetError::GateExclusive);
    }
    if job.spec.ttl_seconds_after_finished.is_some() {
        return err(
            format!("{path}.ttlSecondsAfterFinished"),
            TargetError::GateTtl,
        );
    }
    for (key, set) in [
        ("deletePolicy", job.spec.delete_policy.is_some()),
        ("weight", job.spec.weight.is_some()),
    ] {
        if set {
            return err(format!("{path}.{key}"), TargetError::GateHookKey);
        }
    }
    if job.spec.annotations.contains_key(LOG_ANNOTATION) {
        return err(
            format!("{path}.annotations.{LOG_ANNOTATION}"),
            TargetError::GateLogAnnotation,
        );
    }
    let gating = gates_app(job);
    if gating && !job.spec.follows.is_empty() {
        return err(format!("{path}.follows"), TargetError::FollowsBeforeApp);
    }
    if !gating && !job.spec.gates.is_empty() {
        return err(format!("{path}.gates"), TargetError::GatesAfterApp);
    }
    Ok(())
}

/// Whether a job runs before the app (and so gates it) rather than after its rollout.
pub fn gates_app(job: &Job) -> bool {
    job.events
        .iter()
        .any(|e| BEFORE_APP_EVENTS.contains(&e.as_str()))
}

/// The ServiceAccount of the job's own pod, and whether deploy-jobs creates it: the job's
/// `serviceAccountName`, else `<prefix>-<job>-gate`.
#[derive(Debug, Clone)]
struct Account {
    name: String,
    created: bool,
    /// The name of the job's Role, RoleBinding and, when created, ServiceAccount.
    rbac: String,
}

fn own_account(job: &Job, prepared: &Prepared<'_>) -> Account {
    let rbac = names::fit(
        &format!("{}-gate", prepared.job_name),
        names::MAX_OBJECT_NAME,
    );
    match &job.spec.service_account_name {
        Some(sa) => Account {
            name: sa.clone(),
            created: false,
            rbac,
        },
        None => Account {
            name: rbac.clone(),
            created: true,
            rbac,
        },
    }
}

/// The Job's own pod: a gate that waits for the Jobs before it, and for a job after the app
/// a wait for the rollouts it follows. Both read what they wait for from the Job's
/// annotations, so the pod template is the same whatever comes before the job. The job's own
/// ServiceAccount keeps the token it mounts; one deploy-jobs creates mounts none.
fn add_own_gates(pod: &mut k8s::PodSpec, job: &Job, gating: bool, account: &Account) {
    pod.service_account_name = Some(account.name.clone());
    if account.created {
        pod.automount_service_account_token = Some(false);
    }
    let own = |name: &str, mode: &str, text: &str| {
        let mut c = gate_container(
            name,
            job.gate_image(),
            script(&format!("{OWN_JOB_SCRIPT}{text}"), mode, [mode.to_string()]),
        );
        let field = format!("metadata.labels['{JOB_NAME_LABEL}']");
        let env = json!({"name": "JOB_NAME", "valueFrom": {"fieldRef": {"fieldPath": field}}});
        c.env
            .push(serde_norway::to_value(env).expect("a JSON value is a YAML value"));
        c
    };
    let mut first = vec![own(GATE_CONTAINER, "gate", GATE_SCRIPT)];
    if !gating {
        first.push(own(ROLLOUT_CONTAINER, "rollout", ROLLOUT_SCRIPT));
    }
    first.append(&mut pod.init_containers);
    pod.init_containers = first;
    pod.volumes.extend(gate_volumes());
}

/// The Job's annotations: deploy-jobs' mark, the user's, and what its pod waits for.
fn job_annotations(
    job: &Job,
    user: &IndexMap<String, String>,
    after: Option<&String>,
    follows: &[Workload],
) -> IndexMap<String, String> {
    let mut annotations = IndexMap::new();
    annotations.insert(GENERATED_ANNOTATION.to_string(), job.name().to_string());
    for (k, v) in user {
        annotations.entry(k.clone()).or_insert_with(|| v.clone());
    }
    annotations.insert(
        AFTER_ANNOTATION.to_string(),
        after.cloned().unwrap_or_default(),
    );
    if !gates_app(job) {
        annotations.insert(
            FOLLOWS_ANNOTATION.to_string(),
            follows
                .iter()
                .map(|w| w.kubectl.clone())
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    annotations
}

/// Whether a pod annotation of the app changes from one render to the next (a checksum or
/// a timestamp that rolls the app's pods at every deploy): copied into the Job's pod, it
/// would rename the Job, and run it again, at every deploy.
pub fn is_volatile(key: &str, value: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key).to_ascii_lowercase();
    let key_says = key.starts_with("checksum/")
        || name.starts_with("checksum")
        || [
            "timestamp",
            "rollme",
            "restartedat",
            "deployedat",
            "deploytime",
            "redeploy",
        ]
        .iter()
        .any(|w| name.replace(['-', '_'], "").contains(w));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let v = value.trim().trim_matches('"');
    // 2026-12-02, 2026-12-02T10:00:00Z, 2026-12-02 10:00:00.123 +0000 UTC, a Unix time.
    let date = v.len() >= 10
        && digits(&v[..4])
        && v.as_bytes()[4] == b'-'
        && digits(&v[5..7])
        && v.as_bytes()[7] == b'-'
        && v.is_char_boundary(10)
        && digits(&v[8..10]);
    let epoch = digits(v) && (10..=19).contains(&v.len());
    key_says || date || epoch
}

/// The app's pod annotations and the Job's pod labels, less what changes from one render to
/// the next (see [`is_volatile`]) and version labels: the pod template names the Job. Returns
/// the annotations and the keys left out, for `plan`.
fn stable_pod_metadata(
    job: &Job,
    prepared: &mut Prepared<'_>,
    pod: &k8s::PodSpec,
    user: &IndexMap<String, String>,
) -> (IndexMap<String, String>, Vec<String>) {
    let mut annotations =
        crate::reuse::pod_annotations(prepared.reused.as_ref().and_then(|r| r.meta), pod, user);
    let volatile: Vec<String> = annotations
        .iter()
        .filter(|(k, v)| !user.contains_key(*k) && is_volatile(k, v))
        .map(|(k, _)| k.clone())
        .collect();
    annotations.retain(|k, _| !volatile.contains(k));
    let own_labels = &job.spec.labels;
    prepared.labels.retain(|k, v| {
        own_labels.contains_key(k) || !(VERSION_LABELS.contains(&k.as_str()) || is_volatile(k, v))
    });
    (annotations, volatile)
}

/// What a job waits for or holds: (gated, not held, followed).
type Waits = (Vec<Workload>, Vec<NotHeld>, Vec<Workload>);

impl Gate {
    /// The last Job of this namespace so far: its name, deadline and node.
    fn previous_in(&self, namespace: &Option<String>) -> Option<(String, u64, Node)> {
        self.previous
            .iter()
            .find(|(ns, ..)| ns == namespace)
            .map(|(_, name, deadline, node)| (name.clone(), *deadline, *node))
    }

    /// A job before the app gates what runs the app; one after it follows the rollouts.
    fn waits(
        &mut self,
        docs: &dyn Documents,
        job: &Job,
        prepared: &Prepared<'_>,
        ctx: &Context<'_>,
        node: Node,
        account: &Account,
    ) -> Result<Waits> {
        if gates_app(job) {
            let (gates, not_held) = self
                .gated(docs, job, prepared, ctx, node, account)
                .map_err(|e| anyhow!("{}.gates: {e:#}", job.path()))?;
            Ok((gates, not_held, Vec::new()))
        } else {
            let follows = self
                .followed(job, prepared, ctx, node)
                .map_err(|e| anyhow!("{}.follows: {e:#}", job.path()))?;
            Ok((Vec::new(), Vec::new(), follows))
        }
    }

    /// The job's own waits: the Job before it, and what its `waitFor` reaches.
    fn add_own_waits(
        &mut self,
        docs: &dyn Documents,
        job: &Job,
        node: Node,
        previous: Option<Node>,
    ) -> Result<()> {
        if let Some(previous) = previous {
            self.graph
                .add(node, previous, "it runs after it: jobs run in list order");
        }
        for (doc, reach) in waited_for(docs, &job.wait_for)? {
            self.name_object(doc);
            self.graph.add(node, Node::Object(doc), reach);
        }
        Ok(())
    }

    fn name_object(&mut self, doc: usize) {
        let label = self
            .candidates
            .iter()
            .flatten()
            .find(|c| c.doc == doc)
            .map(Candidate::id)
            .unwrap_or_else(|| format!("document {}", doc + 1));
        self.graph.name(Node::Object(doc), label);
    }

    /// The objects a gating job holds, and those it does not with the reason: the listed
    /// ones, else every one that runs an image of the app (one the list's jobs reuse; every
    /// object when they reuse none); never one the job already waits for (a cycle), which
    /// is refused when listed.
    fn gated(
        &mut self,
        docs: &dyn Documents,
        job: &Job,
        prepared: &Prepared<'_>,
        ctx: &Context<'_>,
        node: Node,
        account: &Account,
    ) -> Result<(Vec<Workload>, Vec<NotHeld>)> {
        let candidates = self.candidates.clone().unwrap_or_default();
        let app_images = ctx.app_images;
        let mut gates = Vec::new();
        let mut not_held = Vec::new();
        for c in &candidates {
            self.name_object(c.doc);
            let listed = job.gates.iter().any(|(k, n)| *k == c.kind && *n == c.name);
            match self.why_not_held(c, job, listed, app_images, node, &prepared.namespace)? {
                Some(reason) => not_held.push(NotHeld {
                    object: c.id(),
                    reason,
                }),
                None => {
                    let mut w = self.workload(c, Some(account));
                    w.downtime = downtime(&c.kind, docs.value(c.doc)?);
                    gates.push(w);
                }
            }
        }
        for (kind, name) in &job.gates {
            if !candidates
                .iter()
                .any(|c| c.kind == *kind && c.name == *name)
            {
                bail!("{kind}/{name} runs no pods: it has no pod template to hold");
            }
        }
        if gates.is_empty() {
            bail!(
                "holds nothing: no object of the release runs the app's pods in the Job's namespace{}; list what it gates",
                if not_held.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({})",
                        not_held
                            .iter()
                            .map(|n| format!("{}: {}", n.object, n.reason))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                }
            );
        }
        Ok((gates, not_held))
    }

    /// Why a gating job does not hold a candidate, if it does not; an error when the
    /// candidate is listed in `gates` and cannot be held.
    fn why_not_held(
        &self,
        c: &Candidate,
        job: &Job,
        listed: bool,
        app_images: &[String],
        node: Node,
        namespace: &Option<String>,
    ) -> Result<Option<String>> {
        if !job.gates.is_empty() && !listed {
            return Ok(Some("not listed in `gates`".to_string()));
        }
        if let Some(path) = self.graph.path(node, Node::Object(c.doc)) {
            let way = path.join(", and ");
            if listed {
                bail!(
                    "{} cannot wait for this job, which already waits for it: {way}. Its pods would wait for a migration that waits for them; list only the app's objects",
                    c.id()
                );
            }
            return Ok(Some(format!("the job waits for it: {way}")));
        }
        if !listed && !app_images.is_empty() && !c.runs_any(app_images) {
            return Ok(Some(format!(
                "runs none of the app's images ({}); list it in `gates` to hold it",
                c.images.join(", ")
            )));
        }
        match held::cannot_gate(c, namespace) {
            Some(why) if listed => bail!("{} cannot be held: {why}", c.id()),
            why => Ok(why),
        }
    }

    /// The workloads a job after the app waits to see rolled out: the listed ones, else
    /// every one `kubectl rollout status` follows (Deployments, StatefulSets, DaemonSets)
    /// that runs the app's image, in the Job's namespace: a "migrations finish" step runs
    /// once all of the app runs the new code.
    fn followed(
        &mut self,
        job: &Job,
        prepared: &Prepared<'_>,
        ctx: &Context<'_>,
        node: Node,
    ) -> Result<Vec<Workload>> {
        let candidates = self.candidates.clone().unwrap_or_default();
        let rollable = |c: &&Candidate| ROLLOUT_KINDS.contains(&c.kind.as_str());
        let chosen: Vec<&Candidate> = if !job.follows.is_empty() {
            let mut out = Vec::new();
            for (kind, name) in &job.follows {
                let Some(c) = candidates
                    .iter()
                    .find(|c| c.kind == *kind && c.name == *name)
                else {
                    bail!("{kind}/{name} runs no pods: it has no rollout to wait for");
                };
                out.push(c);
            }
            out
        } else {
            candidates
                .iter()
                .filter(rollable)
                .filter(|c| {
                    ctx.app_images.is_empty()
                        || c.runs_any(ctx.app_images)
                        || prepared.reused.as_ref().is_some_and(|r| r.doc == c.doc)
                })
                .filter(|c| held::cannot_gate(c, &prepared.namespace).is_none() && !c.on_delete)
                .collect()
        };
        let mut out = Vec::new();
        for c in chosen {
            if let Some(why) = held::cannot_gate(c, &prepared.namespace) {
                bail!("{} cannot be followed: {why}", c.id());
            }
            if c.on_delete {
                bail!(
                    "{} cannot be followed: its updateStrategy is OnDelete, so it never rolls out by itself and `kubectl rollout status` has nothing to wait for; follow the workloads that roll out",
                    c.id()
                );
            }
            self.name_object(c.doc);
            self.graph
                .add(node, Node::Object(c.doc), "it waits for its rollout");
            out.push(self.workload(c, None));
        }
        if out.is_empty() {
            bail!(
                "the chart renders no Deployment, StatefulSet or DaemonSet of the app in the Job's namespace that the job could follow; list them"
            );
        }
        Ok(out)
    }

    /// A candidate as a gated (with the gating job's account) or followed workload. A gated
    /// object that runs as the namespace's `default` ServiceAccount runs as a ServiceAccount
    /// of deploy-jobs' own from then on: binding the gate's read access to `default` would
    /// give it to every pod of the namespace.
    fn workload(&mut self, c: &Candidate, account: Option<&Account>) -> Workload {
        let value_kind = c.kind.clone();
        let mut left_default = None;
        let mut creates_account = false;
        let service_account = match (&c.service_account, account) {
            (Some(sa), _) => sa.clone(),
            (None, None) => "default".to_string(),
            (None, Some(account)) => {
                let assigned = self.accounts.iter().find(|(d, _)| *d == c.doc);
                match assigned {
                    Some((_, name)) => name.clone(),
                    None => {
                        let name = if account.created {
                            account.name.clone()
                        } else {
                            creates_account = true;
                            account.rbac.clone()
                        };
                        self.accounts.push((c.doc, name.clone()));
                        // Said once, by the job that made the change.
                        left_default = Some(if c.pull_secrets {
                            PullSecrets::Listed
                        } else {
                            PullSecrets::None
                        });
                        name
                    }
                }
            }
        };
        Workload {
            doc: c.doc,
            kind: value_kind,
            name: c.name.clone(),
            group: c.group.clone(),
            resource: c.resource(),
            kubectl: format!("{}/{}", c.kubectl_type(), c.name),
            pods: c.pods,
            service_account,
            left_default,
            creates_account,
            downtime: None,
        }
    }
}

/// The job's ServiceAccount (when deploy-jobs creates it), Role and RoleBinding: `get` on
/// exactly these Jobs and workloads, for the job's own pod and the gated pods.
fn rbac_objects(
    job: &Job,
    prepared: &Prepared<'_>,
    account: &Account,
    jobs: &[String],
    read: &[Workload],
) -> Result<Vec<Value>> {
    let mut subjects: Vec<String> = vec![account.name.clone()];
    let mut extra_accounts: Vec<String> = Vec::new();
    for w in read.iter().filter(|_| gates_app(job)) {
        if !subjects.contains(&w.service_account) {
            subjects.push(w.service_account.clone());
        }
        if w.creates_account && !extra_accounts.contains(&w.service_account) {
            extra_accounts.push(w.service_account.clone());
        }
    }
    let meta = |name: &str| {
        let mut annotations = IndexMap::new();
        annotations.insert(GENERATED_ANNOTATION.to_string(), job.name().to_string());
        k8s::ObjectMeta {
            name: Some(name.to_string()),
            namespace: prepared.namespace.clone(),
            labels: prepared.object_labels.clone(),
            annotations,
        }
    };
    let mut objects = Vec::new();
    let accounts = std::iter::once(&account.name)
        .filter(|_| account.created)
        .chain(&extra_accounts);
    for name in accounts {
        objects.push(json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta(name),
            "automountServiceAccountToken": false,
        }));
    }
    objects.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta(&account.rbac),
        "rules": rules(jobs, read),
    }));
    objects.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta(&account.rbac),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account.rbac},
        "subjects": subjects
            .iter()
            .map(|sa| json!({"kind": "ServiceAccount", "name": sa}))
            .collect::<Vec<_>>(),
    }));
    objects
        .iter()
        .map(|o| serde_norway::to_value(o).map_err(Into::into))
        .collect()
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

/// `<prefix>-<job>-<hash>`: the hash (10 hex characters, at the end) covers the Job's pod
/// template, which is what it runs, and the data of every Secret and ConfigMap it
/// references that the stream renders, which is what it reads: a changed migration or
/// config runs the job again, and nothing else does. The rest of the Job (its deadline,
/// annotations, labels) may change on the same Job.
fn content_name(
    docs: &dyn Documents,
    prepared: &Prepared<'_>,
    object: &k8s::Job,
) -> Result<String> {
    let mut content = serde_json::to_vec(&object.spec.template)?;
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
    let mut groups: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for w in workloads {
        match groups
            .iter_mut()
            .find(|(g, r, _)| *g == w.group && *r == w.resource)
        {
            Some((_, _, names)) => names.push(&w.name),
            None => groups.push((&w.group, &w.resource, vec![&w.name])),
        }
    }
    for (group, resource, names) in groups {
        out.push(json!({
            "apiGroups": [group],
            "resources": [resource],
            "resourceNames": names,
            "verbs": verbs(On::Workload),
        }));
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
            group: "apps".into(),
            resource: "statefulsets".into(),
            kubectl: "StatefulSet/db".into(),
            pods: Pods::Template(crate::documents::TEMPLATE),
            service_account: "default".into(),
            left_default: None,
            creates_account: false,
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
    fn a_jobs_own_gate_finds_its_job_by_the_job_controllers_label() {
        let mut pod = k8s::PodSpec::default();
        let job: Job = serde_norway::from_str::<Vec<crate::spec::JobSpec>>(
            "- {name: migrate, image: flyway, command: [flyway, migrate], when: {_default: post-install,post-upgrade}}",
        )
        .map(|specs| crate::spec::validate(&specs, None).unwrap().remove(0))
        .unwrap();
        let account = Account {
            name: "x".into(),
            created: true,
            rbac: "x".into(),
        };
        add_own_gates(&mut pod, &job, false, &account);
        let names: Vec<&str> = pod
            .init_containers
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            names,
            [GATE_CONTAINER, ROLLOUT_CONTAINER],
            "after the previous Job, then the rollouts"
        );
        for c in &pod.init_containers {
            let env = serde_json::to_string(&c.env).unwrap();
            assert!(
                env.contains(&format!("metadata.labels['{JOB_NAME_LABEL}']")),
                "{env}"
            );
        }
        assert_eq!(
            pod.automount_service_account_token,
            Some(false),
            "a ServiceAccount of ours mounts no token"
        );
    }

    #[test]
    fn volatile_annotations_are_checksums_and_times() {
        for (k, v) in [
            ("checksum/config", "abc"),
            ("example.com/checksum-secret", "abc"),
            ("timestamp", "whatever"),
            ("rollme", "x1y2"),
            ("kubectl.kubernetes.io/restartedAt", "x"),
            ("deployed", "2026-12-02T10:00:00Z"),
            ("at", "2026-12-02 10:00:00.123 +0000 UTC"),
            ("epoch", "1764669600"),
        ] {
            assert!(is_volatile(k, v), "{k}: {v}");
        }
        for (k, v) in [
            ("vault.hashicorp.com/agent-inject", "true"),
            ("prometheus.io/port", "9090"),
            ("sidecar.istio.io/inject", "false"),
            ("note", "2026"),
            ("x", "é2026-12-02"),
            ("x", "abcdefghijk"),
            ("x", "2026-1x-02 but not a date"),
            ("x", "12345"),
        ] {
            assert!(!is_volatile(k, v), "{k}: {v}");
        }
    }

    #[test]
    fn downtime_follows_how_kubernetes_rounds_max_unavailable() {
        let deployment = |replicas: u64, unavailable: &str| -> Value {
            serde_norway::from_str(&format!(
                "spec: {{replicas: {replicas}, strategy: {{rollingUpdate: {{maxUnavailable: {unavailable}}}}}}}"
            ))
            .unwrap()
        };
        // Kubernetes rounds a percentage of maxUnavailable down: 50% of one replica is 0.
        assert!(downtime("Deployment", &deployment(1, "'50%'")).is_none());
        assert!(downtime("Deployment", &deployment(1, "'100%'")).is_some());
        assert!(downtime("Deployment", &deployment(1, "1")).is_some());
        assert!(downtime("Deployment", &deployment(1, "0")).is_none());
        assert!(
            downtime("Deployment", &deployment(2, "1")).is_none(),
            "one pod keeps serving"
        );
        assert!(downtime("Deployment", &deployment(3, "'34%'")).is_none());
        let recreate: Value = serde_norway::from_str("spec: {strategy: {type: Recreate}}").unwrap();
        assert!(downtime("Deployment", &recreate).is_some());
        let one: Value = serde_norway::from_str("spec: {replicas: 1}").unwrap();
        assert!(
            downtime("StatefulSet", &one)
                .unwrap()
                .contains("with one replica the app")
        );
        let three: Value = serde_norway::from_str("spec: {replicas: 3}").unwrap();
        assert!(
            downtime("StatefulSet", &three)
                .unwrap()
                .contains("one of its 3 pods")
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
