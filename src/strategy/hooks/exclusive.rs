//! `exclusive:` jobs: migrations that need the database to themselves. Before such a job,
//! in strictly increasing weights: a ServiceAccount, a Role and a RoleBinding (least
//! privilege: only the verbs the stop script uses, only on the named workloads, a Role and
//! RoleBinding in each namespace they live in), then a "stop" Job that scales the workloads
//! to zero and waits for their pods to go. After the release's apply (post-install, -upgrade
//! or -rollback), a "start" Job ends the stop: it restores the workloads whose manifests do
//! not set `replicas` (an autoscaler owns them, so the apply itself would leave them at zero)
//! and clears the replica count recorded on every one.
//!
//! What is stopped is decided here too: never a workload the job waits for (`waitFor`
//! reaching it through a Service), and the report is told what is left running and why.
//!
//! The Role is derived from [`KUBECTL_CALLS`], and a test holds the scripts to that table,
//! so the permissions and what the scripts do cannot drift apart.

use anyhow::{Result, bail};
use indexmap::IndexMap;
use serde_json::json;
use serde_norway::Value;

use crate::documents::{Documents, waited_for, workloads};
use crate::helm::TIMEOUT_MARGIN;
use crate::k8s::{self, Container, ObjectMeta, PodSpec, PodTemplate};
use crate::names;
use crate::rbac;
use crate::spec::{Exclusive, Job};
use crate::strategy::{LeftRunning, Stop, StopTarget};

pub use crate::strategy::output::{STOP_OVERHEAD_SECONDS, STOP_SLACK_SECONDS, start_events};

/// How long the stop step waits for pods by default, when its Job may run `deadline`
/// seconds (what a job without `activeDeadlineSeconds` gets, so it fails inside Helm's
/// `--timeout`): 190 s under Helm's default 5m.
pub fn default_stop_wait(deadline: u64) -> u64 {
    deadline
        .saturating_sub(STOP_OVERHEAD_SECONDS)
        .max(deadline / 2)
}

/// Kubernetes' default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: u64 = 30;

/// Annotation the stop step records the replica count in.
pub use crate::facts::REPLICAS_ANNOTATION;

const STOP_SCRIPT: &str = include_str!("../../templates/stop.sh");
const START_SCRIPT: &str = include_str!("../../templates/start.sh");
const HINT_SCRIPT: &str = include_str!("../../templates/restore-hint.sh");

/// What a kubectl call in the scripts acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// One of the named workloads.
    Workload,
    /// Their `scale` subresource.
    Scale,
    /// Pods, listed by the workload's selector.
    Pods,
}

/// A kubectl call the stop and start scripts make, and the RBAC verb it needs.
pub type Call = crate::rbac::Call<On>;

/// Every kubectl call in the scripts. `kubectl scale` reads the workload (covered by `get`)
/// and patches its scale subresource.
pub const KUBECTL_CALLS: &[Call] = &[
    Call {
        kubectl: "get",
        on: On::Workload,
        verb: "get",
    },
    Call {
        kubectl: "annotate",
        on: On::Workload,
        verb: "patch",
    },
    Call {
        kubectl: "scale",
        on: On::Scale,
        verb: "patch",
    },
    Call {
        kubectl: "get",
        on: On::Pods,
        verb: "list",
    },
];

/// What an `exclusive` setting selects in a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub targets: Vec<StopTarget>,
    pub left_running: Vec<LeftRunning>,
}

/// Finds the workloads an `exclusive` setting names, and those it leaves running. Never one
/// the job waits for: stopping the database would leave the migration waiting for it.
pub fn targets(docs: &dyn Documents, job: &Job) -> Result<Selection> {
    let waited = waited_for(docs, &job.wait_for)?;
    let mut found = Vec::new();
    let mut left_running = Vec::new();
    let mut rendered = Vec::new();
    for (i, h, kind) in workloads(docs) {
        let name = h.name.clone().unwrap_or_default();
        let id = format!("{kind}/{name}");
        let stoppable = kind == "Deployment" || kind == "StatefulSet";
        if stoppable {
            rendered.push(id.clone());
        }
        let listed = match &job.exclusive {
            Exclusive::None => false,
            Exclusive::All => stoppable,
            Exclusive::Listed(list) => list.iter().any(|(k, n)| k == kind && *n == name),
        };
        if let Some((_, reach)) = waited.iter().find(|(w, _)| *w == i) {
            if matches!(job.exclusive, Exclusive::Listed(_)) && listed {
                bail!(
                    "{id} is what the job waits for ({reach}): stopping it would leave the migration waiting for its own database; list only the app's workloads"
                );
            }
            left_running.push(LeftRunning {
                id,
                reason: format!("the job waits for it: {reach}"),
                may_interfere: false,
            });
            continue;
        }
        if !listed {
            let reason = match kind {
                "Deployment" | "StatefulSet" => "not listed in `exclusive`".to_string(),
                "CronJob" => {
                    "a CronJob is not stopped: a run may start during the migration; suspend it if that matters".to_string()
                }
                "DaemonSet" => "a DaemonSet cannot be scaled to zero".to_string(),
                other => format!("a {other} is not stopped"),
            };
            left_running.push(LeftRunning {
                id,
                reason,
                may_interfere: true,
            });
            continue;
        }
        if !h.selector_expressions.is_empty() || h.selector.is_empty() {
            bail!(
                "{id} in {} has no plain matchLabels selector, which the stop step needs to find its pods",
                docs.label(i)
            );
        }
        let selector = h
            .selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let spec = docs.value(i)?.get("spec");
        let field = |path: &[&str]| {
            path.iter()
                .try_fold(spec?, |v, key| v.get(*key))
                .filter(|v| !v.is_null())
        };
        let replicas = field(&["replicas"]);
        let grace_seconds = field(&["template", "spec", "terminationGracePeriodSeconds"])
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_GRACE_SECONDS);
        // A StatefulSet scales down one pod at a time unless its policy is Parallel.
        let ordered = kind == "StatefulSet"
            && field(&["podManagementPolicy"]).and_then(Value::as_str) != Some("Parallel");
        let sequential_pods = if ordered {
            replicas.and_then(Value::as_u64).unwrap_or(1).max(1)
        } else {
            1
        };
        found.push(StopTarget {
            kind: kind.to_string(),
            name,
            namespace: h.namespace.clone(),
            selector,
            sets_replicas: replicas.is_some(),
            grace_seconds,
            sequential_pods,
        });
    }
    if let Exclusive::Listed(list) = &job.exclusive {
        for (kind, name) in list {
            if !found.iter().any(|t| t.kind == *kind && t.name == *name) {
                bail!(
                    "{kind}/{name} is not rendered by this chart (it renders: {})",
                    if rendered.is_empty() {
                        "no Deployment or StatefulSet".to_string()
                    } else {
                        rendered.join(", ")
                    }
                );
            }
        }
    }
    if found.is_empty() {
        if left_running.iter().any(|l| !l.may_interfere) {
            bail!(
                "`all` stops the app's Deployments and StatefulSets, but the chart renders only what the job waits for"
            );
        }
        bail!("`all` stops every Deployment and StatefulSet, but the chart renders none");
    }
    Ok(Selection {
        targets: found,
        left_running,
    })
}

/// Common settings of the generated objects.
pub struct StopSettings<'a> {
    pub job: &'a Job,
    /// The migration Job's name; the stop objects derive theirs from it.
    pub job_name: &'a str,
    pub namespace: Option<String>,
    pub labels: IndexMap<String, String>,
    /// Weight of the first of the four objects before the copies.
    pub first_weight: i64,
    /// Weight of the start Job.
    pub start_weight: i64,
    /// `activeDeadlineSeconds` of the stop and start Jobs: what a job without one gets, so
    /// they fail inside Helm's `--timeout` too.
    pub deadline: u64,
}

/// Where the stop step runs: the namespace every target can be addressed from. `None` is
/// the release's namespace, which deploy-jobs cannot know at render time, so a target there
/// and one named explicitly (or a job placed explicitly) cannot share a stop step: the
/// RoleBinding in one namespace would have to name the ServiceAccount's namespace.
fn home_namespace(targets: &[StopTarget], job_namespace: Option<&str>) -> Result<Option<String>> {
    let explicit = targets.iter().find(|t| t.namespace.is_some());
    let implicit = targets.iter().find(|t| t.namespace.is_none());
    match (implicit, explicit, job_namespace) {
        (Some(t), Some(e), _) => bail!(
            "{} is rendered without a namespace (it goes to the release's namespace) and {} into namespace `{}`: one stop step cannot reach both, as deploy-jobs cannot know the release's namespace when it renders; pass it with --namespace (Helm 4: --post-renderer-args=--namespace=NS), render both with an explicit namespace, or list only one of them",
            t.id(),
            e.id(),
            e.namespace.as_deref().unwrap_or_default()
        ),
        (Some(t), None, Some(ns)) => bail!(
            "{} is rendered without a namespace (it goes to the release's namespace), but the job runs in namespace `{ns}`: deploy-jobs cannot know the release's namespace when it renders, so it cannot grant the stop step access there; pass it with --namespace (Helm 4: --post-renderer-args=--namespace=NS), or render {} with an explicit namespace",
            t.id(),
            t.id()
        ),
        (Some(_), None, None) => Ok(None),
        (None, _, Some(ns)) => Ok(Some(ns.to_string())),
        (None, e, None) => Ok(e.and_then(|t| t.namespace.clone())),
    }
}

/// Builds the RBAC objects and the stop and start Jobs.
pub fn build(selection: Selection, ctx: &StopSettings<'_>) -> Result<Stop> {
    let Selection {
        targets,
        left_running,
    } = selection;
    let job = ctx.job;
    let home = home_namespace(&targets, ctx.namespace.as_deref())?;
    let name = names::fit(&format!("{}-stop", ctx.job_name), names::MAX_JOB_NAME);
    let start_events = start_events(&job.events);
    let mut rbac_events = job.events.clone();
    rbac_events.extend(start_events.iter().cloned());
    let meta = |kind_weight: i64, events: &[String], delete: &str| -> ObjectMeta {
        let mut annotations = IndexMap::new();
        annotations.insert(crate::HOOK_ANNOTATION.to_string(), events.join(","));
        annotations.insert(
            crate::WEIGHT_ANNOTATION.to_string(),
            kind_weight.to_string(),
        );
        annotations.insert(crate::DELETE_ANNOTATION.to_string(), delete.to_string());
        annotations.insert(
            crate::GENERATED_ANNOTATION.to_string(),
            job.name().to_string(),
        );
        ObjectMeta {
            name: Some(name.clone()),
            namespace: home.clone(),
            labels: ctx.labels.clone(),
            annotations,
        }
    };
    let rbac_delete = "before-hook-creation,hook-succeeded";
    let w = ctx.first_weight;
    let mut rbac = vec![json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(w, &rbac_events, rbac_delete),
    })];
    // A Role and RoleBinding in each namespace, the home one first; weights are per kind, so
    // Helm creates every Role before any RoleBinding.
    let mut namespaces: Vec<Option<String>> = vec![home.clone()];
    for t in &targets {
        if !namespaces.contains(&t.namespace) {
            namespaces.push(t.namespace.clone());
        }
    }
    let mut bindings = Vec::new();
    for ns in namespaces {
        let here: Vec<&StopTarget> = targets.iter().filter(|t| t.namespace == ns).collect();
        if here.is_empty() {
            continue;
        }
        let mut role_meta = meta(w + 1, &rbac_events, rbac_delete);
        role_meta.namespace = ns.clone();
        rbac.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": role_meta,
            "rules": rules(&here),
        }));
        let mut binding_meta = meta(w + 2, &rbac_events, rbac_delete);
        binding_meta.namespace = ns.clone();
        let mut subject = json!({"kind": "ServiceAccount", "name": name});
        if ns != home {
            subject["namespace"] = json!(home);
        }
        bindings.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": binding_meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [subject],
        }));
    }
    rbac.extend(bindings);
    let rbac = rbac
        .iter()
        .map(serde_norway::to_value)
        .collect::<Result<Vec<_>, _>>()?;

    let wait_seconds = job
        .spec
        .stop_timeout_seconds
        .unwrap_or_else(|| default_stop_wait(ctx.deadline));
    let deadline = wait_seconds + STOP_OVERHEAD_SECONDS;
    // A target in the home namespace is passed as "": the pod's own, which is the release's
    // when the home is.
    let ns_arg = |t: &StopTarget| {
        if t.namespace == home {
            String::new()
        } else {
            t.namespace.clone().unwrap_or_default()
        }
    };
    let stop_args = [wait_seconds, STOP_OVERHEAD_SECONDS + TIMEOUT_MARGIN]
        .map(|n| n.to_string())
        .into_iter()
        .chain(
            targets
                .iter()
                .flat_map(|t| [t.id(), ns_arg(t), t.selector.clone()]),
        );
    let mut stop_meta = meta(w + 3, &job.events, "before-hook-creation");
    stop_meta.namespace = home.clone();
    let stop_job = kubectl_job(
        "stop",
        job.stop_image(),
        script(STOP_SCRIPT, "stop", stop_args),
        stop_meta,
        deadline,
        &name,
        ctx,
    );
    let mut m = meta(ctx.start_weight, &start_events, "before-hook-creation");
    m.name = Some(names::fit(
        &format!("{}-start", ctx.job_name),
        names::MAX_JOB_NAME,
    ));
    let start_args = targets.iter().flat_map(|t| {
        let mode = if t.sets_replicas { "clear" } else { "restore" };
        [t.id(), ns_arg(t), mode.to_string()]
    });
    let start_job = kubectl_job(
        "start",
        job.stop_image(),
        script(START_SCRIPT, "start", start_args),
        m,
        // It waits for nothing: a few kubectl calls per target.
        2 * STOP_OVERHEAD_SECONDS,
        &name,
        ctx,
    );
    Ok(Stop {
        targets,
        left_running,
        rbac,
        stop_job,
        wait_seconds,
        start_job,
    })
}

/// Role rules: exactly the verbs of [`KUBECTL_CALLS`], on the named workloads only.
fn rules(targets: &[&StopTarget]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for (kind, resource) in [
        ("Deployment", "deployments"),
        ("StatefulSet", "statefulsets"),
    ] {
        let names: Vec<&str> = targets
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.name.as_str())
            .collect();
        if names.is_empty() {
            continue;
        }
        for (on, suffix) in [(On::Workload, ""), (On::Scale, "/scale")] {
            out.push(json!({
                "apiGroups": ["apps"],
                "resources": [format!("{resource}{suffix}")],
                "resourceNames": names,
                "verbs": rbac::verbs(KUBECTL_CALLS, on),
            }));
        }
    }
    out.push(json!({
        "apiGroups": [""],
        "resources": ["pods"],
        "verbs": rbac::verbs(KUBECTL_CALLS, On::Pods),
    }));
    out
}

fn kubectl_job(
    container: &str,
    image: String,
    command: Vec<String>,
    mut metadata: ObjectMeta,
    deadline: u64,
    service_account: &str,
    ctx: &StopSettings<'_>,
) -> k8s::Job {
    metadata
        .annotations
        .insert(crate::LOG_ANNOTATION.to_string(), "hook-failed".to_string());
    let mut c = Container::hardened(container, image, command);
    c.resources = Some(k8s::yaml(
        "requests: {cpu: 10m, memory: 32Mi}\nlimits: {cpu: 200m, memory: 128Mi}",
    ));
    // kubectl keeps a discovery cache under $HOME; the root filesystem is read-only.
    c.env = vec![pod_namespace_env(), k8s::yaml("{name: HOME, value: /tmp}")];
    c.volume_mounts = vec![k8s::yaml("{name: tmp, mountPath: /tmp}")];
    k8s::Job {
        api_version: "batch/v1",
        kind: "Job",
        metadata,
        spec: k8s::JobSpec {
            backoff_limit: 0,
            active_deadline_seconds: deadline,
            ttl_seconds_after_finished: None,
            template: PodTemplate {
                metadata: ObjectMeta {
                    labels: ctx.labels.clone(),
                    annotations: k8s::mesh_annotations(),
                    ..ObjectMeta::default()
                },
                spec: PodSpec {
                    restart_policy: "Never",
                    service_account_name: Some(service_account.to_string()),
                    // The whole pod is deploy-jobs' own, so it gets a pod-level context too.
                    security_context: Some(k8s::yaml(
                        "{runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: {type: RuntimeDefault}}",
                    )),
                    containers: vec![c],
                    volumes: vec![k8s::yaml("{name: tmp, emptyDir: {}}")],
                    ..PodSpec::default()
                },
            },
        },
    }
}

fn pod_namespace_env() -> Value {
    k8s::yaml("{name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}")
}

/// `sh -c SCRIPT NAME ARGS...`: the script sees NAME as `$0` and ARGS as `$1...`.
fn script(text: &str, name: &str, args: impl IntoIterator<Item = String>) -> Vec<String> {
    ["sh", "-c", text, name]
        .map(str::to_string)
        .into_iter()
        .chain(args)
        .collect()
}

/// The container added to an exclusive migration Job: Helm prints the logs of a failed
/// hook's containers, so the way back to a running app is right next to the failure.
/// `namespace` is the migration Job's: a target there is passed as the pod's own.
pub fn restore_hint(job: &Job, stop: &Stop, namespace: Option<&str>) -> Container {
    let command = script(
        HINT_SCRIPT,
        "hint",
        stop.targets.iter().flat_map(|t| {
            let ns = t.namespace.as_deref().filter(|ns| Some(*ns) != namespace);
            [t.id(), ns.unwrap_or_default().to_string()]
        }),
    );
    let mut c = Container::hardened("restore-hint", job.wait_image(), command);
    c.env = vec![pod_namespace_env()];
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kubectl calls a script makes, classified like [`KUBECTL_CALLS`].
    fn calls_in(script: &str) -> Vec<(String, On)> {
        rbac::calls_in(script, |sub, what| match (sub, what) {
            (_, Some("pods")) => On::Pods,
            ("scale", _) => On::Scale,
            _ => On::Workload,
        })
    }

    #[test]
    fn the_role_covers_exactly_what_the_scripts_call() {
        let mut used = calls_in(STOP_SCRIPT);
        used.extend(calls_in(START_SCRIPT));
        assert!(used.len() >= 6, "found the calls: {used:?}");
        rbac::assert_exactly_granted(KUBECTL_CALLS, &used);
    }

    #[test]
    fn rules_name_only_the_targets() {
        let t = |kind: &str, name: &str| StopTarget {
            kind: kind.into(),
            ..target_in(name, None)
        };
        let rules = rules(&[&t("Deployment", "web"), &t("StatefulSet", "db")]);
        let text = serde_json::to_string(&rules).unwrap();
        assert!(
            text.contains(r#""resourceNames":["web"]"#)
                && text.contains(r#""resourceNames":["db"]"#)
        );
        assert!(!text.contains("\"*\""), "no wildcards");
        for rule in &rules {
            let verbs = rule["verbs"].as_array().unwrap();
            assert!(
                verbs
                    .iter()
                    .all(|v| ["get", "patch", "list"].contains(&v.as_str().unwrap()))
            );
        }
    }

    fn target_in(name: &str, namespace: Option<&str>) -> StopTarget {
        StopTarget {
            kind: "Deployment".into(),
            name: name.into(),
            namespace: namespace.map(str::to_string),
            selector: "app=x".into(),
            sets_replicas: true,
            grace_seconds: 30,
            sequential_pods: 1,
        }
    }

    #[test]
    fn the_stop_step_runs_where_it_can_reach_every_target() {
        let home = |targets: &[StopTarget], job: Option<&str>| {
            home_namespace(targets, job).map_err(|e| e.to_string())
        };
        let (web, worker) = (target_in("web", None), target_in("worker", None));
        assert_eq!(
            home(&[web.clone(), worker], None),
            Ok(None),
            "all in the release's"
        );
        let (a, b) = (target_in("a", Some("x")), target_in("b", Some("y")));
        assert_eq!(
            home(&[a.clone(), b.clone()], Some("z")),
            Ok(Some("z".into())),
            "next to the job when it is placed explicitly"
        );
        assert_eq!(
            home(&[a.clone(), b], None),
            Ok(Some("x".into())),
            "the first target's when the job goes to the release's namespace"
        );
        let mixed = home(&[web.clone(), a], None).unwrap_err();
        assert!(
            mixed.contains("Deployment/web is rendered without a namespace"),
            "{mixed}"
        );
        let job_elsewhere = home(&[web], Some("z")).unwrap_err();
        assert!(
            job_elsewhere.contains("the job runs in namespace `z`"),
            "{job_elsewhere}"
        );
    }

    #[test]
    fn the_stop_script_estimates_stop_times_like_the_planner() {
        assert!(
            STOP_SCRIPT.contains(&format!("need=$((grace * pods + {STOP_SLACK_SECONDS}))")),
            "the script's slack is STOP_SLACK_SECONDS"
        );
        assert!(
            STOP_SCRIPT.contains(&format!(
                "[ -n \"$grace\" ] || grace={DEFAULT_GRACE_SECONDS}"
            )),
            "the script's default grace period is Kubernetes' own"
        );
    }

    #[test]
    fn scripts_are_valid_shell() {
        for script in [STOP_SCRIPT, START_SCRIPT, HINT_SCRIPT] {
            let status = std::process::Command::new("sh")
                .args(["-n", "-c", script])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
}
