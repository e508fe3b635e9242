//! `exclusive:` jobs: migrations that need the database to themselves. Before such a job,
//! in strictly increasing weights: a ServiceAccount, a Role and a RoleBinding (least
//! privilege: only the verbs the stop script uses, only on the named workloads), then a
//! "stop" Job that scales the workloads to zero and waits for their pods to go. After the
//! release's apply (post-install, -upgrade or -rollback), a "start" Job restores the
//! workloads whose manifests do not set `replicas` (an autoscaler owns them, so the apply
//! itself would leave them at zero).
//!
//! The Role is derived from [`KUBECTL_CALLS`], and a test holds the scripts to that table,
//! so the permissions and what the scripts do cannot drift apart.

use anyhow::{Result, bail};
use indexmap::IndexMap;
use serde_json::json;
use serde_norway::Value;

use crate::k8s::{self, Container, ObjectMeta, PodSpec, PodTemplate};
use crate::names;
use crate::plan::{self, Documents};
use crate::spec::{Exclusive, Job};

/// How long the stop step waits for pods to terminate; with its Job deadline 50 s later, the
/// step stays inside Helm's default 5m hook timeout.
pub const STOP_WAIT_SECONDS: u64 = 240;

/// Annotation the stop step records the replica count in.
pub const REPLICAS_ANNOTATION: &str = "deploy-jobs.io/replicas-before-stop";

const STOP_SCRIPT: &str = include_str!("templates/stop.sh");
const START_SCRIPT: &str = include_str!("templates/start.sh");
const HINT_SCRIPT: &str = include_str!("templates/restore-hint.sh");

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub kubectl: &'static str,
    pub on: On,
    pub verb: &'static str,
}

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

/// A workload to stop.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub kind: String,
    pub name: String,
    /// `k=v,k2=v2`: its pods.
    pub selector: String,
    /// Whether the rendered manifest sets `spec.replicas` (then the upgrade restores it).
    pub sets_replicas: bool,
}

impl Target {
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// The objects an exclusive job adds.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    pub targets: Vec<Target>,
    /// ServiceAccount, Role, RoleBinding.
    pub rbac: Vec<Value>,
    pub stop_job: k8s::Job,
    /// After the release's apply: restores the targets that do not set `replicas`.
    pub start_job: Option<k8s::Job>,
}

impl Stop {
    /// The targets the start step brings back: those whose manifest leaves `replicas` out.
    pub fn restarted(&self) -> impl Iterator<Item = &Target> {
        restarted(&self.targets)
    }
}

fn restarted(targets: &[Target]) -> impl Iterator<Item = &Target> {
    targets.iter().filter(|t| !t.sets_replicas)
}

/// Finds the workloads an `exclusive` setting names.
pub fn targets(docs: &dyn Documents, exclusive: &Exclusive) -> Result<Vec<Target>> {
    let mut found = Vec::new();
    let mut rendered = Vec::new();
    for (i, h, kind) in plan::workloads(docs) {
        if !(kind == "Deployment" || kind == "StatefulSet") {
            continue;
        }
        let name = h.name.clone().unwrap_or_default();
        rendered.push(format!("{kind}/{name}"));
        let wanted = match exclusive {
            Exclusive::None => false,
            Exclusive::All => true,
            Exclusive::Listed(list) => list.iter().any(|(k, n)| k == kind && *n == name),
        };
        if !wanted {
            continue;
        }
        if !h.selector_expressions.is_empty() || h.selector.is_empty() {
            bail!(
                "{kind}/{name} in {} has no plain matchLabels selector, which the stop step needs to find its pods",
                docs.label(i)
            );
        }
        let selector = h
            .selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let sets_replicas = docs
            .value(i)?
            .get("spec")
            .and_then(|s| s.get("replicas"))
            .is_some();
        found.push(Target {
            kind: kind.to_string(),
            name,
            selector,
            sets_replicas,
        });
    }
    if let Exclusive::Listed(list) = exclusive {
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
        bail!("`all` stops every Deployment and StatefulSet, but the chart renders none");
    }
    Ok(found)
}

/// Common settings of the generated objects.
pub struct Context<'a> {
    pub job: &'a Job,
    /// The migration Job's name; the stop objects derive theirs from it.
    pub job_name: &'a str,
    pub namespace: Option<String>,
    pub labels: IndexMap<String, String>,
    /// Weight of the first of the four objects before the copies.
    pub first_weight: i64,
    /// Weight of the start Job.
    pub start_weight: i64,
}

/// Builds the RBAC objects and the stop and start Jobs.
pub fn build(targets: Vec<Target>, ctx: &Context<'_>) -> Result<Stop> {
    let job = ctx.job;
    let name = names::fit(&format!("{}-stop", ctx.job_name), names::MAX_JOB_NAME);
    let restarting: Vec<&Target> = restarted(&targets).collect();
    let start_events = if restarting.is_empty() {
        Vec::new()
    } else {
        start_events(&job.events)
    };
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
            namespace: ctx.namespace.clone(),
            labels: ctx.labels.clone(),
            annotations,
        }
    };
    let rbac_delete = "before-hook-creation,hook-succeeded";
    let w = ctx.first_weight;
    let sa = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(w, &rbac_events, rbac_delete),
    });
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta(w + 1, &rbac_events, rbac_delete),
        "rules": rules(&targets),
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta(w + 2, &rbac_events, rbac_delete),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name}],
    });
    let rbac = [sa, role, binding]
        .iter()
        .map(serde_norway::to_value)
        .collect::<Result<Vec<_>, _>>()?;

    let stop_args = std::iter::once(STOP_WAIT_SECONDS.to_string())
        .chain(targets.iter().flat_map(|t| [t.id(), t.selector.clone()]));
    let stop_job = kubectl_job(
        "stop",
        job.stop_image(),
        script(STOP_SCRIPT, "stop", stop_args),
        meta(w + 3, &job.events, "before-hook-creation"),
        &name,
        ctx,
    );
    let start_job = (!start_events.is_empty()).then(|| {
        let mut m = meta(ctx.start_weight, &start_events, "before-hook-creation");
        m.name = Some(names::fit(
            &format!("{}-start", ctx.job_name),
            names::MAX_JOB_NAME,
        ));
        let args = script(START_SCRIPT, "start", restarting.iter().map(|t| t.id()));
        kubectl_job("start", job.stop_image(), args, m, &name, ctx)
    });
    Ok(Stop {
        targets,
        rbac,
        stop_job,
        start_job,
    })
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

/// Role rules: exactly the verbs of [`KUBECTL_CALLS`], on the named workloads only.
fn rules(targets: &[Target]) -> Vec<serde_json::Value> {
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
            let verbs: Vec<&str> = KUBECTL_CALLS
                .iter()
                .filter(|c| c.on == on)
                .map(|c| c.verb)
                .collect();
            out.push(json!({
                "apiGroups": ["apps"],
                "resources": [format!("{resource}{suffix}")],
                "resourceNames": names,
                "verbs": verbs,
            }));
        }
    }
    let pod_verbs: Vec<&str> = KUBECTL_CALLS
        .iter()
        .filter(|c| c.on == On::Pods)
        .map(|c| c.verb)
        .collect();
    out.push(json!({"apiGroups": [""], "resources": ["pods"], "verbs": pod_verbs}));
    out
}

fn kubectl_job(
    container: &str,
    image: String,
    command: Vec<String>,
    mut metadata: ObjectMeta,
    service_account: &str,
    ctx: &Context<'_>,
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
            active_deadline_seconds: STOP_WAIT_SECONDS + 50,
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
pub fn restore_hint(job: &Job, targets: &[Target]) -> Container {
    let command = script(HINT_SCRIPT, "hint", targets.iter().map(Target::id));
    let mut c = Container::hardened("restore-hint", job.wait_image(), command);
    c.env = vec![pod_namespace_env()];
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kubectl calls a script makes: `$(kubectl SUBCOMMAND ...` (echoed hints are not
    /// calls), classified like [`KUBECTL_CALLS`].
    fn calls_in(script: &str) -> Vec<(String, On)> {
        script
            .match_indices("$(kubectl ")
            .map(|(i, m)| {
                let rest = &script[i + m.len()..];
                let sub = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let on = match (sub.as_str(), rest.split_whitespace().nth(1)) {
                    (_, Some("pods")) => On::Pods,
                    ("scale", _) => On::Scale,
                    _ => On::Workload,
                };
                (sub, on)
            })
            .collect()
    }

    #[test]
    fn the_role_covers_exactly_what_the_scripts_call() {
        let mut used = calls_in(STOP_SCRIPT);
        used.extend(calls_in(START_SCRIPT));
        assert!(used.len() >= 6, "found the calls: {used:?}");
        for (sub, on) in &used {
            assert!(
                KUBECTL_CALLS
                    .iter()
                    .any(|c| c.kubectl == sub && c.on == *on),
                "the scripts run `kubectl {sub}` on {on:?}, which the Role does not grant"
            );
        }
        for call in KUBECTL_CALLS {
            assert!(
                used.iter()
                    .any(|(sub, on)| sub == call.kubectl && *on == call.on),
                "the Role grants {call:?}, which no script uses: least privilege"
            );
        }
    }

    #[test]
    fn rules_name_only_the_targets() {
        let t = |kind: &str, name: &str| Target {
            kind: kind.into(),
            name: name.into(),
            selector: "app=x".into(),
            sets_replicas: true,
        };
        let rules = rules(&[t("Deployment", "web"), t("StatefulSet", "db")]);
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
