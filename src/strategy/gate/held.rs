//! What runs pods in the release, and which of it a gate-mode job holds.
//!
//! Every ordinary object of the stream that runs pods is a candidate, whatever its kind is
//! called (see [`Pods`]): Deployments, StatefulSets, DaemonSets, ReplicaSets, CronJobs, the
//! chart's own Jobs, Argo Rollouts, any custom resource with a pod template. By default a job
//! that gates the app holds every candidate that runs one of the app's images (those of the
//! containers the list's jobs reuse, or every candidate when they reuse none), except what
//! it waits for. Each candidate it does not hold is named with the reason, for
//! `plan`. The graph decides what would deadlock; this file only classifies.

use anyhow::Result;
use serde_norway::Value;

use crate::documents::{Documents, Pods, WORKLOAD_KINDS, workloads};
use crate::images::same_app;

/// An object of the stream that runs pods.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub doc: usize,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    /// Its API group (`apps`; empty for the core group).
    pub group: String,
    pub pods: Pods,
    /// The images of its containers and init containers.
    pub images: Vec<String>,
    /// Its pods' ServiceAccount; `None` when they run as the namespace's `default`.
    pub service_account: Option<String>,
    /// Whether its pod spec lists `imagePullSecrets` of its own.
    pub pull_secrets: bool,
    /// Whether its pods run on Windows nodes, where no Linux gate container runs.
    pub windows: bool,
    /// Whether it updates its pods only when they are deleted (`updateStrategy: OnDelete`),
    /// which `kubectl rollout status` refuses to wait for.
    pub on_delete: bool,
}

impl Candidate {
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// The RBAC resource: kubectl's guess from the kind (`meta.UnsafeGuessKindToResource`),
    /// right for every built-in kind and for the custom resources that follow the convention.
    pub fn resource(&self) -> String {
        let singular = self.kind.to_lowercase();
        if let Some(stem) = singular.strip_suffix('y') {
            format!("{stem}ies")
        } else if singular.ends_with('s') {
            format!("{singular}es")
        } else {
            format!("{singular}s")
        }
    }

    /// How the gate script names it to `kubectl get`: the kind for the built-in kinds,
    /// `resource.group` for others, which no other API group's kind can shadow.
    pub fn kubectl_type(&self) -> String {
        if WORKLOAD_KINDS.contains(&self.kind.as_str()) || self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.resource(), self.group)
        }
    }

    /// Whether any of its containers runs one of these images, or a sibling of one (see
    /// [`same_app`]).
    pub fn runs_any(&self, images: &[String]) -> bool {
        self.images
            .iter()
            .any(|i| images.iter().any(|a| same_app(a, i)))
    }
}

/// Every ordinary object of the stream that runs pods (not hooks, not the configuration,
/// not deploy-jobs' own output), in stream order.
pub fn candidates(docs: &dyn Documents) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    // The same ordinary objects that run pods as everywhere else (see `workloads`).
    for (i, header, kind) in workloads(docs) {
        let value = docs.value(i)?;
        let Some(pods) = Pods::of(kind, value) else {
            continue;
        };
        let spec = pods.spec(value);
        let field = |key: &str| spec.and_then(|s| s.get(key));
        let images = ["initContainers", "containers"]
            .iter()
            .filter_map(|key| field(key)?.as_sequence())
            .flatten()
            .filter(|c| {
                c.get("name")
                    .and_then(Value::as_str)
                    .is_none_or(|n| !n.starts_with("deploy-jobs-"))
            })
            .filter_map(|c| Some(c.get("image")?.as_str()?.to_string()))
            .collect();
        let service_account = field("serviceAccountName")
            .or_else(|| field("serviceAccount"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && *s != "default")
            .map(str::to_string);
        let group = header
            .api_version
            .as_deref()
            .and_then(|v| v.split_once('/'))
            .map(|(g, _)| g.to_string())
            .unwrap_or_default();
        out.push(Candidate {
            doc: i,
            kind: kind.to_string(),
            name: header.name.clone().unwrap_or_default(),
            namespace: header.namespace.clone(),
            group,
            pods,
            images,
            service_account,
            pull_secrets: field("imagePullSecrets")
                .and_then(Value::as_sequence)
                .is_some_and(|s| !s.is_empty()),
            windows: crate::k8s::runs_on_windows(field("os"), field("nodeSelector")),
            on_delete: crate::documents::at(value, &["spec", "updateStrategy", "type"])
                .and_then(Value::as_str)
                == Some("OnDelete"),
        });
    }
    Ok(out)
}

/// Why a candidate cannot take a gate at all, if it cannot.
pub fn cannot_gate(candidate: &Candidate, job_namespace: &Option<String>) -> Option<String> {
    if candidate.pods == Pods::Bare {
        return Some(
            "a bare Pod: its containers cannot change once it is created, so it cannot take a gate; run it from a Deployment or a Job".to_string(),
        );
    }
    if candidate.windows {
        return Some(
            "its pods run on Windows nodes, and the gate is a Linux container (kubectl in Alpine) that no Windows node runs; hold it with hooks (Helm 4, Argo CD), or let its app wait for the migration itself".to_string(),
        );
    }
    if candidate.namespace != *job_namespace {
        let place = |ns: &Option<String>| match ns {
            Some(ns) => format!("namespace `{ns}`"),
            None => "the release namespace".to_string(),
        };
        return Some(format!(
            "rendered in {}, while the Job runs in {}: a gate reads its Job through a Role in its own namespace",
            place(&candidate.namespace),
            place(job_namespace)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_follow_kubectls_guess() {
        let c = |kind: &str, group: &str| Candidate {
            doc: 0,
            kind: kind.into(),
            name: "x".into(),
            namespace: None,
            group: group.into(),
            pods: Pods::Template(crate::documents::TEMPLATE),
            images: Vec::new(),
            service_account: None,
            pull_secrets: false,
            windows: false,
            on_delete: false,
        };
        for (kind, group, resource, arg) in [
            ("Deployment", "apps", "deployments", "Deployment"),
            ("CronJob", "batch", "cronjobs", "CronJob"),
            ("Rollout", "argoproj.io", "rollouts", "rollouts.argoproj.io"),
            ("Policy", "example.com", "policies", "policies.example.com"),
            ("Ingress", "", "ingresses", "Ingress"),
        ] {
            assert_eq!(c(kind, group).resource(), resource);
            assert_eq!(c(kind, group).kubectl_type(), arg);
        }
    }
}
