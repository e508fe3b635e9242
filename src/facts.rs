//! Facts of Helm, Argo CD and Kubernetes that deploy-jobs reads or writes, and its own marks:
//! annotation and label keys, hook events, kinds. Each is here once; everything else names
//! it from here. Numbers about Helm's timeout live in `helm`, names' limits in `names`.

// --- Helm ---

/// Marks a document as a Helm hook and lists its events.
pub const HOOK_ANNOTATION: &str = "helm.sh/hook";
pub const WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
pub const DELETE_ANNOTATION: &str = "helm.sh/hook-delete-policy";
/// Helm 3.18+ and 4 print the logs of a hook's containers on these outcomes.
pub const LOG_ANNOTATION: &str = "helm.sh/hook-output-log-policy";
/// Helm 4 names each document's template file with this annotation.
pub const FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";

/// Hook events Helm knows, as Helm's documentation lists them; any other makes Helm drop
/// the whole document without a word.
pub const HOOK_EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-upgrade",
    "post-upgrade",
    "pre-delete",
    "post-delete",
    "pre-rollback",
    "post-rollback",
    "test",
];
/// Where an event falls in a release's life (install, upgrade, rollback, delete, test), for
/// listing hooks in the order they would run.
pub fn life_order(event: &str) -> usize {
    const LIFE: &[&str] = &[
        "pre-install",
        "post-install",
        "pre-upgrade",
        "post-upgrade",
        "pre-rollback",
        "post-rollback",
        "pre-delete",
        "post-delete",
        "test",
    ];
    LIFE.iter().position(|e| *e == event).unwrap_or(LIFE.len())
}
/// Events before the release's resources are applied: the app's new version is not there.
pub const BEFORE_APP_EVENTS: &[&str] = &["pre-install", "pre-upgrade"];
/// Events after the release's resources are applied (and, with `--wait`, ready).
pub const AFTER_APP_EVENTS: &[&str] = &["post-install", "post-upgrade"];
/// Helm's delete policies.
pub const DELETE_POLICIES: &[&str] = &["before-hook-creation", "hook-succeeded", "hook-failed"];
/// The hook outcomes on which Helm prints a hook's container logs.
pub const LOG_POLICIES: &[&str] = &["hook-succeeded", "hook-failed"];

// --- Argo CD ---

pub const ARGOCD_HOOK: &str = "argocd.argoproj.io/hook";
pub const ARGOCD_SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
pub const ARGOCD_DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";

/// Helm events and the Argo CD phase each becomes (argoproj/argo-cd
/// `docs/user-guide/helm.md`); pre/post-rollback and test have none. PreDelete and
/// PostDelete run once, when the Application is deleted (Argo CD 3; an older one ignores
/// them: `docs/user-guide/sync-waves.md`, `controller/hook.go`).
pub const ARGOCD_PHASES: &[(&str, &str)] = &[
    ("pre-install", "PreSync"),
    ("pre-upgrade", "PreSync"),
    ("post-install", "PostSync"),
    ("post-upgrade", "PostSync"),
    ("pre-delete", "PreDelete"),
    ("post-delete", "PostDelete"),
];

// --- Kubernetes labels ---

/// The recommended label naming the release (Helm's `.Release.Name`).
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
/// Labels that name the release, in the order they are looked for: the Kubernetes
/// recommended one, then the older convention of many charts.
pub const RELEASE_LABELS: &[&str] = &[INSTANCE_LABEL, "release"];
/// Labels that describe a chart or app version rather than what a pod runs.
pub const VERSION_LABELS: &[&str] = &["helm.sh/chart", "chart", "app.kubernetes.io/version"];
/// The label the Job controller puts on a Job's pods (Kubernetes 1.27+).
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

// --- Kinds ---

/// Kinds whose pod template a job may reuse a container from by kind alone (any other kind
/// with a pod template is found by its shape: see `documents::Pods`).
pub const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
];
/// Kinds that roll out pods from a template as `kubectl rollout status` follows them.
pub const ROLLOUT_KINDS: &[&str] = &["Deployment", "StatefulSet", "DaemonSet"];

// --- deploy-jobs' own marks ---

/// Set on every generated document (the job it belongs to), so a rerun recognises it.
pub const GENERATED_ANNOTATION: &str = "deploy-jobs.io/job";
/// Label that marks a generated pod as deploy-jobs' own (the job's name).
pub const JOB_LABEL: &str = "deploy-jobs.io/job";
/// sha256 of the generated Job's resolved spec.
pub const SPEC_HASH_ANNOTATION: &str = "deploy-jobs.io/spec-sha256";
/// On a gated workload's pod template: the Jobs its gate waits for, comma-separated.
pub const GATE_JOBS_ANNOTATION: &str = "deploy-jobs.io/gate-jobs";
/// On a gate-mode Job: the Jobs before it in the list, which its pod waits for.
pub const AFTER_ANNOTATION: &str = "deploy-jobs.io/after";
/// On a gate-mode Job that runs after install or upgrade: the workloads it follows.
pub const FOLLOWS_ANNOTATION: &str = "deploy-jobs.io/follows";
/// On a workload an `exclusive` job stopped: its replicas before the stop.
pub const REPLICAS_ANNOTATION: &str = "deploy-jobs.io/replicas-before-stop";
/// The prefix of every annotation and label key deploy-jobs owns.
pub const OWN_PREFIX: &str = "deploy-jobs.io/";
