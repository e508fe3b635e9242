//! The `deploy_jobs` entries as a user writes them (serde types), and their JSON Schema.
//! Checking and resolving them is the parent module's.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_norway::Value;

use super::ShapeError;
use crate::facts::HOOK_EVENTS;
use crate::header::describe;

/// One `deploy_jobs` entry as written by the user.
#[derive(Debug, Clone, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JobSpec {
    /// DNS-1123 label, unique in the list.
    pub name: String,
    /// Reuse the container of this name from a workload in the stream.
    #[serde(default)]
    pub container: Option<String>,
    /// `Kind/name` of the workload `container` is taken from, when several have it.
    #[serde(default)]
    pub workload: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub image_pull_policy: Option<String>,
    /// A list (exec form) or a string split into words like a shell would, without a shell.
    #[serde(default)]
    #[schemars(schema_with = "words_schema")]
    pub command: Option<Value>,
    #[serde(default)]
    #[schemars(schema_with = "words_schema")]
    pub args: Option<Value>,
    /// A list of Kubernetes EnvVars, or a mapping of names to values.
    #[serde(default)]
    #[schemars(schema_with = "env_schema")]
    pub env: Option<Value>,
    #[serde(default)]
    pub env_from: Option<Vec<EnvFromSource>>,
    #[serde(default)]
    pub resources: Option<Resources>,
    #[serde(default)]
    pub service_account_name: Option<String>,
    #[serde(default)]
    pub labels: IndexMap<String, StringLike>,
    #[serde(default)]
    pub annotations: IndexMap<String, StringLike>,
    /// Hook events: a string, or a mapping from environment to string with `_default`.
    #[serde(default)]
    #[schemars(schema_with = "when_schema")]
    pub when: Option<Value>,
    /// `host:port` targets that must accept TCP connections before the job starts.
    #[serde(default)]
    pub wait_for: Vec<String>,
    #[serde(default)]
    pub wait_image: Option<String>,
    #[serde(default)]
    pub active_deadline_seconds: Option<u64>,
    #[serde(default)]
    pub backoff_limit: Option<u32>,
    #[serde(default)]
    pub ttl_seconds_after_finished: Option<u32>,
    #[serde(default)]
    pub delete_policy: Option<String>,
    #[serde(default)]
    pub weight: Option<i64>,
    /// Pod volumes of the reused workload to mount although they are not config-like
    /// (a PersistentVolumeClaim, a hostPath).
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Other containers of the reused pod to run beside the job as native sidecars, such as
    /// a database proxy the app runs as a classic sidecar. The pod's native sidecars come
    /// along without being listed.
    #[serde(default)]
    pub sidecars: Vec<String>,
    /// A Kubernetes container `securityContext` for the job's container, merged key by key
    /// over the reused container's: what the app can set, a job can (a Pod Security
    /// `restricted` namespace needs it for a job with an image of its own).
    #[serde(default)]
    #[schemars(schema_with = "security_context_schema")]
    pub security_context: Option<Value>,
    /// A Kubernetes pod `securityContext` for the job's pod, merged key by key over the
    /// reused workload's pod's.
    #[serde(default)]
    #[schemars(schema_with = "pod_security_context_schema")]
    pub pod_security_context: Option<Value>,
    /// Workloads to stop before this job runs, for migrations that need the database to
    /// themselves: `all` (every Deployment and StatefulSet the chart renders) or a list of
    /// `Deployment/name` and `StatefulSet/name`.
    #[serde(default)]
    #[schemars(schema_with = "exclusive_schema")]
    pub exclusive: Option<Value>,
    /// Image of the stop and start steps (needs `sh`, `date`, `sleep` and `kubectl`).
    #[serde(default)]
    pub stop_image: Option<String>,
    /// Seconds the stop step of an `exclusive` job waits for the stopped pods to go (default:
    /// as long as fits in Helm's default 5m hook timeout). Its Job gets 50 more for its
    /// kubectl calls; pass helm a `--timeout` longer than both.
    #[serde(default)]
    pub stop_timeout_seconds: Option<u64>,
    /// `--target gate`: the objects whose new pods wait for this job (`Kind/name` of anything
    /// with a pod template: `Deployment/web`, `CronJob/report`, `Rollout/web`); default: every
    /// one that runs the app's image, except what the job waits for. Accepted, and checked
    /// against the stream, with the hook targets too, where hooks order the jobs instead.
    #[serde(default)]
    #[schemars(schema_with = "gate_list_schema")]
    pub gates: Vec<String>,
    /// `--target gate`: the workloads a post-install/post-upgrade job waits to see rolled
    /// out before it runs; default: the one whose container it reuses.
    #[serde(default)]
    #[schemars(schema_with = "rollout_list_schema")]
    pub follows: Vec<String>,
    /// `--target gate`: image of the gate and rollout containers (needs `sh`, `date`,
    /// `sleep` and `kubectl`).
    #[serde(default)]
    pub gate_image: Option<String>,
}

/// A Kubernetes `EnvFromSource`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvFromSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<LocalRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalRef>,
}

/// A reference by name to a ConfigMap or Secret in the same namespace.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocalRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// A Kubernetes `ResourceRequirements`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Resources {
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub limits: IndexMap<String, StringLike>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub requests: IndexMap<String, StringLike>,
}

/// A Kubernetes `EnvVar`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<StringLike>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

/// A Kubernetes `EnvVarSource`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvVarSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<KeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<KeyRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "object_schema")]
    pub field_ref: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "object_schema")]
    pub resource_field_ref: Option<Value>,
}

/// A key of a ConfigMap or Secret.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyRef {
    pub name: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// A string that may be written as a number or boolean in YAML (`DB_PORT: 5432`):
/// Kubernetes wants strings there, so it is kept as the text the user meant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct StringLike(pub String);

impl<'de> Deserialize<'de> for StringLike {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        scalar_text(&Value::deserialize(d)?)
            .map(StringLike)
            .map_err(serde::de::Error::custom)
    }
}

/// The text of a scalar where Kubernetes wants a string (an env value, a command word, a
/// label): a string, or an integer, whose text is unambiguous. Anything else is refused
/// rather than guessed at: by the time deploy-jobs reads it, a YAML reader has already turned
/// `3.10` into the number 3.1, `1e3` into 1000, and (Helm's YAML 1.1) `yes`, `on` or `off`
/// into a boolean, so the text the user wrote is gone.
pub fn scalar_text(value: &Value) -> Result<String, ShapeError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Value::Number(n) => Err(ShapeError::LossyNumber(n.to_string())),
        Value::Bool(b) => Err(ShapeError::LossyBool(*b)),
        other => Err(ShapeError::String {
            found: describe(other),
        }),
    }
}

impl schemars::JsonSchema for StringLike {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StringLike".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A string; an integer is taken as its decimal text. Other numbers and booleans are refused: quote them.",
            "type": ["string", "integer"]
        })
    }
}

// Schemas of the fields kept as YAML values because they take more than one shape; the
// checks in `validate` accept exactly these shapes.

fn words_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "A list (exec form), or a string split into words like a shell would, without running a shell.",
        "oneOf": [
            {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1},
            {"type": "string", "minLength": 1},
            {"type": "null"}
        ]
    })
}

fn env_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let var = generator.subschema_for::<EnvVar>();
    schemars::json_schema!({
        "description": "A list of Kubernetes EnvVars, or a mapping of names to values; merged by name over the reused container's env.",
        "oneOf": [
            {"type": "array", "items": var},
            {"type": "object", "additionalProperties": {"type": ["string", "integer", "null"]}},
            {"type": "null"}
        ]
    })
}

fn when_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let events = HOOK_EVENTS.join("|");
    let pattern = format!("^\\s*(({events})\\s*(,\\s*({events})\\s*)*)?$");
    schemars::json_schema!({
        "description": "Helm hook events (\"pre-install,pre-upgrade\"), or a mapping from environment to events with _default as fallback; empty disables the job.",
        "oneOf": [
            {"type": "string", "pattern": pattern},
            {"type": "object", "additionalProperties": {"type": ["string", "null"], "pattern": pattern}},
            {"type": "null"}
        ]
    })
}

fn exclusive_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Stop these workloads before the job runs: `all`, or a list of Deployment/name and StatefulSet/name.",
        "oneOf": [
            {"type": "string", "enum": ["all"]},
            {"type": "array", "items": {"type": "string", "pattern": "^(Deployment|StatefulSet)/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"}, "minItems": 1},
            {"type": "null"}
        ]
    })
}

fn gate_list_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "With --target gate: the objects whose new pods wait for the job, as Kind/name of anything with a pod template.",
        "type": "array",
        "items": {"type": "string", "pattern": "^[A-Z][A-Za-z0-9]*/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"}
    })
}

fn rollout_list_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "With --target gate: a list of Deployment/name, StatefulSet/name and DaemonSet/name.",
        "type": "array",
        "items": {"type": "string", "pattern": "^(Deployment|StatefulSet|DaemonSet)/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"}
    })
}

fn object_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object"})
}

fn security_context_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "A Kubernetes SecurityContext, merged key by key over the reused container's.",
        "oneOf": [
            {"type": "object", "propertyNames": {"enum": crate::pod_fields::SECURITY_CONTEXT}},
            {"type": "null"}
        ]
    })
}

fn pod_security_context_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "A Kubernetes PodSecurityContext, merged key by key over the reused pod's.",
        "oneOf": [
            {"type": "object", "propertyNames": {"enum": crate::pod_fields::POD_SECURITY_CONTEXT}},
            {"type": "null"}
        ]
    })
}
