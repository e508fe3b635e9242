//! The Kubernetes objects deploy-jobs generates, as typed values.
//!
//! Only the fields deploy-jobs sets are modelled; pieces copied from the user's own manifests
//! (env entries, volumes, security contexts) stay YAML values so they pass through exactly.
//! Serialization order is field order, so output is deterministic.

use indexmap::IndexMap;
use serde::Serialize;
use serde_norway::Value;

/// `metadata` of a generated object.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub annotations: IndexMap<String, String>,
}

/// A `batch/v1` Job.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: JobSpec,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    pub backoff_limit: u32,
    pub active_deadline_seconds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<u32>,
    pub template: PodTemplate,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PodTemplate {
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub restart_policy: &'static str,
    /// The pod's own deadline: when it passes, the kubelet ends the pod and keeps it, with
    /// its log (a Job-level deadline makes the Job controller delete a running pod).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Value>,
    /// Further pod settings copied from the app's pod (`affinity`, `hostAliases`,
    /// `dnsConfig`, ...), by their Kubernetes names, in the order `reuse` lists them.
    #[serde(flatten)]
    pub copied: IndexMap<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<Container>,
    pub containers: Vec<Container>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Value>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_context: Option<Value>,
    /// `Always` on a native sidecar (an initContainer that keeps running beside the others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
    /// The other fields of a container copied as it is (a native sidecar's ports, probes,
    /// lifecycle), by their Kubernetes names.
    #[serde(flatten)]
    pub copied: IndexMap<String, Value>,
}

/// Annotations on every generated pod asking a service mesh that injects a proxy into it
/// (by namespace or by the pod's own labels and annotations) to inject a native sidecar:
/// an initContainer with `restartPolicy: Always`, which starts before the other init
/// containers (so the wait-for step has the mesh's network) and is stopped when the job's
/// container exits. A classic sidecar proxy never exits, and the Job would never complete.
/// Inert without a mesh. Istio reads the first, Linkerd the others (2.15 the alpha name,
/// later releases the beta one); native sidecars need Kubernetes 1.29+.
pub const NATIVE_SIDECAR_ANNOTATIONS: &[(&str, &str)] = &[
    ("sidecar.istio.io/nativeSidecar", "true"),
    (
        "config.alpha.linkerd.io/proxy-enable-native-sidecar",
        "true",
    ),
    ("config.beta.linkerd.io/proxy-enable-native-sidecar", "true"),
];

/// [`NATIVE_SIDECAR_ANNOTATIONS`] as a generated pod's annotations.
pub fn mesh_annotations() -> IndexMap<String, String> {
    NATIVE_SIDECAR_ANNOTATIONS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Container {
    /// A container of deploy-jobs' own (wait, stop, start): non-root, read-only root
    /// filesystem, no capabilities, no privilege escalation, the runtime's seccomp profile,
    /// small resource requests and limits.
    pub fn hardened(name: &str, image: String, command: Vec<String>) -> Container {
        Container {
            name: name.to_string(),
            image,
            image_pull_policy: Some("IfNotPresent".to_string()),
            command: Some(command),
            resources: Some(yaml(
                "requests: {cpu: 10m, memory: 16Mi}\nlimits: {cpu: 100m, memory: 32Mi}",
            )),
            security_context: Some(yaml(
                "runAsNonRoot: true\nrunAsUser: 65534\nrunAsGroup: 65534\nreadOnlyRootFilesystem: true\nallowPrivilegeEscalation: false\ncapabilities: {drop: [ALL]}\nseccompProfile: {type: RuntimeDefault}",
            )),
            ..Container::default()
        }
    }
}

/// A value written as YAML in deploy-jobs' own source. The text is a constant, so a parse
/// failure is a bug that every test rendering the object catches, never a user's input.
pub fn yaml(text: &'static str) -> Value {
    serde_norway::from_str(text).expect("static YAML is valid")
}

/// Kinds of objects a pod can reference by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefKind {
    Secret,
    ConfigMap,
}

impl RefKind {
    pub fn kind(self) -> &'static str {
        match self {
            RefKind::Secret => "Secret",
            RefKind::ConfigMap => "ConfigMap",
        }
    }
}

/// Whether a pod with this `os` and `nodeSelector` runs on Windows nodes: `os.name: windows`
/// (which makes the API server reject Linux-only settings) or a node selector that picks
/// Windows nodes. For the typed pod of a Job and the raw pod spec of a chart's workload alike.
pub fn runs_on_windows(os: Option<&Value>, node_selector: Option<&Value>) -> bool {
    let windows = |v: Option<&Value>, key: &str| {
        v.and_then(|v| v.get(key)).and_then(Value::as_str) == Some("windows")
    };
    windows(os, "name") || windows(node_selector, "kubernetes.io/os")
}

impl PodSpec {
    /// Whether the pod runs on Windows nodes (see [`runs_on_windows`]).
    pub fn runs_on_windows(&self) -> bool {
        runs_on_windows(self.copied.get("os"), self.node_selector.as_ref())
    }

    /// Calls `visit` with every Secret and ConfigMap name the pod refers to (env, envFrom,
    /// volumes including projected sources and a CSI driver's `nodePublishSecretRef`,
    /// imagePullSecrets), letting it rewrite the name.
    pub fn for_each_reference(&mut self, visit: &mut dyn FnMut(RefKind, &mut String)) {
        self.for_each_reference_optional(&mut |kind, name, _| visit(kind, name));
    }

    /// Like [`PodSpec::for_each_reference`], also telling whether the reference is marked
    /// `optional: true` (the pod starts without the object).
    pub fn for_each_reference_optional(
        &mut self,
        visit: &mut dyn FnMut(RefKind, &mut String, bool),
    ) {
        use RefKind::{ConfigMap, Secret};
        // (key of the referring object, key of the name inside it, kind referred to)
        const ENV_VALUE: [(&str, &str, RefKind); 2] = [
            ("secretKeyRef", "name", Secret),
            ("configMapKeyRef", "name", ConfigMap),
        ];
        const ENV_FROM: [(&str, &str, RefKind); 2] = [
            ("secretRef", "name", Secret),
            ("configMapRef", "name", ConfigMap),
        ];
        const VOLUME: [(&str, &str, RefKind); 2] = [
            ("secret", "secretName", Secret),
            ("configMap", "name", ConfigMap),
        ];
        const PROJECTED: [(&str, &str, RefKind); 2] =
            [("secret", "name", Secret), ("configMap", "name", ConfigMap)];

        let mut each = |object: &mut Value, table: &[(&str, &str, RefKind)]| {
            for &(key, name_key, kind) in table {
                let Some(target) = object.get_mut(key) else {
                    continue;
                };
                let optional = target.get("optional").and_then(Value::as_bool) == Some(true);
                if let Some(Value::String(name)) = target.get_mut(name_key) {
                    visit(kind, name, optional);
                }
            }
        };
        for c in self.init_containers.iter_mut().chain(&mut self.containers) {
            for var in &mut c.env {
                if let Some(from) = var.get_mut("valueFrom") {
                    each(from, &ENV_VALUE);
                }
            }
            for source in &mut c.env_from {
                each(source, &ENV_FROM);
            }
        }
        for volume in &mut self.volumes {
            each(volume, &VOLUME);
            // The Secret a CSI driver is given to mount the volume (a Secrets Store
            // provider's credentials).
            if let Some(csi) = volume.get_mut("csi") {
                each(csi, &[("nodePublishSecretRef", "name", Secret)]);
            }
            if let Some(Value::Sequence(sources)) = volume
                .get_mut("projected")
                .and_then(|p| p.get_mut("sources"))
            {
                for source in sources {
                    each(source, &PROJECTED);
                }
            }
        }
        for secret in &mut self.image_pull_secrets {
            if let Some(Value::String(name)) = secret.get_mut("name") {
                visit(Secret, name, false);
            }
        }
    }
}
