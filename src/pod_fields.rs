//! What happens to every field of the app's pod when a job reuses one of its containers:
//! the one table of [`POD`], [`CONTAINER`] and [`VOLUME`], which `reuse` follows and the
//! book's "What `container` copies" table (`docs/src/container.md`) is written from
//! ([`markdown`]).
//!
//! `tests/pod_fields.rs` walks the Kubernetes OpenAPI schemas of every version the installed
//! validator ships and fails on a field this table does not classify, so a new Kubernetes
//! release shows up as a failing test, not as a field silently dropped.
//!
//! No field is refused for being set: a value that deploy-jobs' own steps cannot live with
//! (`os: windows` with `waitFor` or `exclusive`) refuses the job, as the field's row says.

/// What a field of the app's pod or container becomes in the job's pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    /// Copied as it is.
    Copied,
    /// Copied, changed as said.
    Adapted(&'static str),
    /// Not copied, and `plan` warns, naming the field, when the app sets it: the run may
    /// notice.
    Dropped,
    /// Not copied, without a warning: it is about serving, the app's identity or the app's
    /// replicas, which a one-off run cannot notice (or cannot have at all).
    LeftOut,
}

impl Handling {
    fn describe(self) -> String {
        match self {
            Handling::Copied => "copied".to_string(),
            Handling::Adapted(how) => format!("adapted: {how}"),
            Handling::Dropped => "dropped, and `plan` warns".to_string(),
            Handling::LeftOut => "left out".to_string(),
        }
    }
}

/// One field of a Kubernetes type, what happens to it, and why.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub handling: Handling,
    pub why: &'static str,
}

/// A field of `Container`: for the job's container (the reused one), and for the app's
/// other containers that come along (native sidecars, classic sidecars listed in
/// `sidecars`, init containers that fill a volume the job's container reads).
#[derive(Debug, Clone, Copy)]
pub struct ContainerField {
    pub name: &'static str,
    pub job: Handling,
    pub others: Handling,
    pub why: &'static str,
}

const fn f(name: &'static str, handling: Handling, why: &'static str) -> Field {
    Field {
        name,
        handling,
        why,
    }
}

use Handling::{Adapted, Copied, Dropped, LeftOut};

/// Every field of `PodSpec` (Kubernetes 1.25 to 1.37). The copied ones are copied in this
/// order, after `imagePullSecrets`, `securityContext`, `nodeSelector` and `tolerations`.
pub const POD: &[Field] = &[
    f(
        "imagePullSecrets",
        Adapted(
            "the pod's, then those of the ServiceAccount the app runs as when the stream renders it",
        ),
        "the same pull rights: the Job runs as another ServiceAccount, whose pull secrets are not the app's; when the stream does not render the app's ServiceAccount and the pod lists none of its own, `plan` warns (unless the job runs as that ServiceAccount)",
    ),
    f(
        "securityContext",
        Adapted("the job's `podSecurityContext` is merged over it, key by key"),
        "the same user, groups, seccomp and SELinux settings, so the same file access and the same Pod Security level",
    ),
    f(
        "nodeSelector",
        Copied,
        "the same nodes: the right CPU architecture and operating system, a node pool that can reach the database",
    ),
    f(
        "tolerations",
        Copied,
        "the same nodes, among them tainted pools dedicated to the app",
    ),
    f(
        "affinity",
        Adapted("`nodeAffinity` only"),
        "the same nodes; `podAffinity` and `podAntiAffinity` place the app's replicas, and a required anti-affinity to the app would leave the job's pod unschedulable while the app runs",
    ),
    f(
        "priorityClassName",
        Copied,
        "scheduled like the app, with a priority that fits the namespace's quota",
    ),
    f("schedulerName", Copied, "scheduled like the app"),
    f(
        "runtimeClassName",
        Copied,
        "the same sandbox (gVisor, Kata) and so the same network path",
    ),
    f(
        "os",
        Copied,
        "the same operating system; on `windows`, `waitFor` is refused (its step is a Linux shell script in a Linux image, and the API server rejects Linux-only settings in a Windows pod)",
    ),
    f(
        "hostNetwork",
        Copied,
        "the node's address, which a database allowlist may be written for",
    ),
    f(
        "hostUsers",
        Copied,
        "the same user namespace, so the same file ownership",
    ),
    f(
        "hostAliases",
        Copied,
        "the names the app resolves; without them the wait-for step loops on a host it cannot resolve",
    ),
    f("dnsPolicy", Copied, "the same resolvers"),
    f("dnsConfig", Copied, "the same resolvers and search domains"),
    f(
        "enableServiceLinks",
        Copied,
        "charts turn service links off where the injected variables would clobber the app's env",
    ),
    f(
        "hostPID",
        Copied,
        "the same view of the node's processes; it sets the Pod Security level, which must stay the app's",
    ),
    f(
        "hostIPC",
        Copied,
        "the same IPC namespace; it sets the Pod Security level, which must stay the app's",
    ),
    f(
        "shareProcessNamespace",
        Copied,
        "sidecars that come along may signal or inspect the job's process as they do the app's",
    ),
    f(
        "nodeName",
        Copied,
        "a pod pinned to a node runs there, with what that node has",
    ),
    f(
        "resources",
        Adapted("copied unless the job sets `resources`"),
        "the pod-level budget the app's containers share, so that a `resourceFieldRef` means what it meant; the job's own `resources` may not fit in the app's budget",
    ),
    f(
        "resourceClaims",
        Adapted("those the copied containers' `resources.claims` name"),
        "the devices (DRA) the job's container uses, as the app's does; a claim no container names is the app's",
    ),
    f(
        "volumes",
        Adapted("see the volume table below"),
        "config and per-pod volumes come along; shared state only when listed in `volumes`",
    ),
    f(
        "initContainers",
        Adapted(
            "native sidecars (`restartPolicy: Always`), and classic init containers that write into a per-pod volume (emptyDir, ephemeral, no source) that the job's container (or another one coming along) mounts read-only, in the pod's order, before the wait-for step; others when listed in `sidecars`",
        ),
        "a database proxy or secret agent the app needs, and the step that renders the app's config into an emptyDir; other init steps often wait for the database or run the migration themselves. One that writes into a volume the job's container mounts writable too (a shared `/tmp`, or config the app may rewrite) is not copied, and `plan` warns, naming it",
    ),
    f(
        "containers",
        Adapted("the reused one only; a classic sidecar listed in `sidecars` runs as a native one"),
        "a classic sidecar never exits, so the Job would never complete, and the app's other containers (a web server, a worker) must not run twice",
    ),
    f(
        "restartPolicy",
        Adapted("`Never`"),
        "a Job's pod may not restart forever; `backoffLimit` decides retries",
    ),
    f(
        "serviceAccountName",
        Adapted(
            "the job's `serviceAccountName`, else none (`automountServiceAccountToken: false`)",
        ),
        "the app's ServiceAccount may not exist yet at pre-install, and its token may grant more than a migration needs; its pull secrets come along (see `imagePullSecrets`)",
    ),
    f(
        "serviceAccount",
        Adapted("as `serviceAccountName`, whose deprecated alias it is"),
        "see `serviceAccountName`",
    ),
    f(
        "automountServiceAccountToken",
        Adapted("`false` unless the job sets `serviceAccountName`"),
        "no token the migration does not ask for",
    ),
    f(
        "activeDeadlineSeconds",
        Adapted("the job's `activeDeadlineSeconds`, on the Job"),
        "the run is bounded by the Job's deadline, fitted to Helm's timeout",
    ),
    f(
        "terminationGracePeriodSeconds",
        LeftOut,
        "the Job's default deadline counts on the default 30 s for its pod to stop before Helm gives up",
    ),
    f(
        "topologySpreadConstraints",
        LeftOut,
        "they spread the app's replicas; the job's pod is not one",
    ),
    f(
        "hostname",
        LeftOut,
        "the app's identity; a Job's pods are named after the Job",
    ),
    f(
        "subdomain",
        LeftOut,
        "the app's DNS identity behind a headless Service, which must not resolve to a migration pod",
    ),
    f(
        "setHostnameAsFQDN",
        LeftOut,
        "goes with `hostname` and `subdomain`",
    ),
    f("hostnameOverride", LeftOut, "the app's identity"),
    f(
        "readinessGates",
        LeftOut,
        "about serving: nothing routes to the job's pod",
    ),
    f(
        "schedulingGates",
        LeftOut,
        "a controller that knows the app's pods removes them; the job's pod would wait forever",
    ),
    f(
        "workloadRef",
        LeftOut,
        "the gang the app's pods are scheduled with; the job's pod is not one of them",
    ),
    f(
        "schedulingGroup",
        LeftOut,
        "the gang the app's pods are scheduled with; the job's pod is not one of them",
    ),
    f(
        "evictionResponders",
        LeftOut,
        "they act on the app's pods' evictions; a Job's pod is not rescheduled",
    ),
    f(
        "priority",
        LeftOut,
        "filled in by admission from `priorityClassName` (copied); a stale copy is rejected",
    ),
    f(
        "preemptionPolicy",
        LeftOut,
        "filled in by admission from `priorityClassName` (copied)",
    ),
    f(
        "overhead",
        LeftOut,
        "filled in by admission from `runtimeClassName` (copied); a stale copy is rejected",
    ),
    f(
        "ephemeralContainers",
        LeftOut,
        "added to running pods by `kubectl debug`; a pod is not created with them",
    ),
];

const fn c(
    name: &'static str,
    job: Handling,
    others: Handling,
    why: &'static str,
) -> ContainerField {
    ContainerField {
        name,
        job,
        others,
        why,
    }
}

/// Every field of `Container` and `EphemeralContainer` (Kubernetes 1.25 to 1.37). The
/// copied ones are copied in this order.
pub const CONTAINER: &[ContainerField] = &[
    c(
        "name",
        Copied,
        Copied,
        "`resourceFieldRef.containerName`, per-container annotations and `kubectl logs -c` refer to it; a dangling `resourceFieldRef` passes the API server and fails in the kubelet, so one to a container the Job does not run is an error",
    ),
    c(
        "image",
        Adapted("the job's `image` when it sets one"),
        Copied,
        "the same program",
    ),
    c(
        "imagePullPolicy",
        Adapted("the job's `imagePullPolicy` when it sets one"),
        Copied,
        "pulled as the app's is",
    ),
    c(
        "command",
        Adapted("the job's; kept when the job sets only `args`"),
        Copied,
        "see `command`, `args` in Configuration",
    ),
    c(
        "args",
        Adapted("the job's"),
        Copied,
        "the app's arguments belong to the app's program",
    ),
    c(
        "workingDir",
        Copied,
        Copied,
        "the same program in the same place",
    ),
    c(
        "env",
        Adapted("the job's `env` merged over it"),
        Copied,
        "see `env`, `envFrom` in Configuration",
    ),
    c(
        "envFrom",
        Adapted("replaced by the job's `envFrom` when it sets one"),
        Copied,
        "see `env`, `envFrom` in Configuration",
    ),
    c(
        "resources",
        Adapted("the job's `resources` when it sets them"),
        Copied,
        "the same limits, so that a `resourceFieldRef` (`GOMEMLIMIT` from `limits.memory`) means what it meant, and a namespace's quota admits the pod",
    ),
    c(
        "resizePolicy",
        LeftOut,
        Copied,
        "about resizing the app's running pods in place; in a pod with `restartPolicy: Never` the API server refuses `RestartContainer`",
    ),
    c(
        "volumeMounts",
        Adapted("those of the volumes the job's pod has"),
        Adapted("those of the volumes the job's pod has"),
        "see the volume table below",
    ),
    c(
        "volumeDevices",
        Adapted("those of the volumes the job's pod has"),
        Adapted("those of the volumes the job's pod has"),
        "see the volume table below",
    ),
    c(
        "securityContext",
        Adapted("the job's `securityContext` is merged over it, key by key"),
        Copied,
        "the same user and privileges, so the same file access and the same Pod Security level",
    ),
    c(
        "terminationMessagePath",
        Copied,
        Copied,
        "where the program leaves its last words",
    ),
    c(
        "terminationMessagePolicy",
        Copied,
        Copied,
        "`FallbackToLogsOnError` shows why a failed run failed",
    ),
    c(
        "restartPolicy",
        LeftOut,
        Adapted("`Always` on a classic sidecar listed in `sidecars`"),
        "the job's container runs once; a native sidecar keeps running beside it and stops when it exits",
    ),
    c(
        "restartPolicyRules",
        LeftOut,
        Copied,
        "the job's container runs once; a Job's `backoffLimit` decides retries",
    ),
    c(
        "livenessProbe",
        LeftOut,
        Copied,
        "a liveness probe would kill a long migration; a sidecar's probes tell the kubelet when it is ready for the next container",
    ),
    c(
        "readinessProbe",
        LeftOut,
        Copied,
        "about serving: nothing connects to the job",
    ),
    c(
        "startupProbe",
        LeftOut,
        Copied,
        "a startup probe would kill a migration that does not serve; a sidecar's gates the job's container",
    ),
    c("ports", LeftOut, Copied, "nothing connects to the job"),
    c(
        "lifecycle",
        LeftOut,
        Copied,
        "a `postStart` that waits for the app to serve would hang the job; a sidecar's was written for running beside the app's containers, as it does beside the job's",
    ),
    c(
        "stdin",
        Dropped,
        Copied,
        "nothing attaches to a Job's container: the program reads end of file, not a stream that never ends",
    ),
    c("stdinOnce", Dropped, Copied, "goes with `stdin`"),
    c(
        "tty",
        Dropped,
        Copied,
        "nothing attaches to a Job's container; its log is plain text",
    ),
    c(
        "targetContainerName",
        LeftOut,
        LeftOut,
        "only in an `EphemeralContainer`, which a pod is not created with",
    ),
];

/// How a volume of the app's pod is treated: by its source, the key besides `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeUse {
    /// Configuration the job's pod reads: copied when a copied container mounts it.
    Config,
    /// Made for each pod, empty or filled by the pod itself: copied when a copied container
    /// mounts it.
    PerPod,
    /// State shared with the running app: mounted only when the job lists it in `volumes`;
    /// else left out, and `plan` warns when the job's container mounts it.
    Shared,
}

/// Every volume source of `Volume` (Kubernetes 1.25 to 1.37), and `name`.
pub const VOLUME: &[(&str, VolumeUse)] = &[
    ("configMap", VolumeUse::Config),
    ("secret", VolumeUse::Config),
    ("projected", VolumeUse::Config),
    ("downwardAPI", VolumeUse::Config),
    // Inline CSI volumes are ephemeral, made for the pod by the driver (the Secrets Store
    // CSI driver's secrets, cert-manager's certificates).
    ("csi", VolumeUse::Config),
    // A read-only OCI artifact.
    ("image", VolumeUse::Config),
    ("emptyDir", VolumeUse::PerPod),
    ("ephemeral", VolumeUse::PerPod),
    // Cloned for each pod (deprecated).
    ("gitRepo", VolumeUse::PerPod),
    ("persistentVolumeClaim", VolumeUse::Shared),
    ("hostPath", VolumeUse::Shared),
    ("nfs", VolumeUse::Shared),
    ("awsElasticBlockStore", VolumeUse::Shared),
    ("azureDisk", VolumeUse::Shared),
    ("azureFile", VolumeUse::Shared),
    ("cephfs", VolumeUse::Shared),
    ("cinder", VolumeUse::Shared),
    ("fc", VolumeUse::Shared),
    ("flexVolume", VolumeUse::Shared),
    ("flocker", VolumeUse::Shared),
    ("gcePersistentDisk", VolumeUse::Shared),
    ("glusterfs", VolumeUse::Shared),
    ("iscsi", VolumeUse::Shared),
    ("photonPersistentDisk", VolumeUse::Shared),
    ("portworxVolume", VolumeUse::Shared),
    ("quobyte", VolumeUse::Shared),
    ("rbd", VolumeUse::Shared),
    ("scaleIO", VolumeUse::Shared),
    ("storageos", VolumeUse::Shared),
    ("vsphereVolume", VolumeUse::Shared),
];

/// How a volume (a `Volume` mapping) is used: by its source; one naming no source is an
/// emptyDir to Kubernetes, and one whose source this table does not know is treated as
/// shared state (mounted only when listed).
pub fn volume_use(volume: &serde_norway::Value) -> VolumeUse {
    let Some(map) = volume.as_mapping() else {
        return VolumeUse::Shared;
    };
    let sources: Vec<&str> = map
        .iter()
        .filter(|(_, v)| !v.is_null())
        .filter_map(|(k, _)| k.as_str())
        .filter(|k| *k != "name")
        .collect();
    match sources.as_slice() {
        [] => VolumeUse::PerPod,
        [one] => VOLUME
            .iter()
            .find(|(k, _)| k == one)
            .map_or(VolumeUse::Shared, |(_, u)| *u),
        _ => VolumeUse::Shared,
    }
}

/// The pod fields `reuse` copies as they are (in table order), apart from the typed ones.
pub fn copied_pod_fields() -> impl Iterator<Item = &'static str> {
    POD.iter()
        .filter(|f| f.handling == Copied)
        .map(|f| f.name)
        .filter(|n| !["nodeSelector", "tolerations"].contains(n))
}

/// The job's container fields copied as they are, apart from the typed ones.
pub fn copied_container_fields() -> impl Iterator<Item = &'static str> {
    CONTAINER
        .iter()
        .filter(|f| f.job == Copied)
        .map(|f| f.name)
        .filter(|n| !["name", "workingDir"].contains(n))
}

/// The container fields `plan` warns about when the reused container sets them: (name,
/// why).
pub fn dropped_container_fields() -> impl Iterator<Item = (&'static str, &'static str)> {
    CONTAINER
        .iter()
        .filter(|f| f.job == Dropped)
        .map(|f| (f.name, f.why))
}

/// The pod fields `plan` warns about when the app's pod sets them: (name, why).
pub fn dropped_pod_fields() -> impl Iterator<Item = (&'static str, &'static str)> {
    POD.iter()
        .filter(|f| f.handling == Dropped)
        .map(|f| (f.name, f.why))
}

/// The keys of a Kubernetes `SecurityContext` (a container's): a job's `securityContext`
/// may set these. `tests/pod_fields.rs` holds it to the schemas.
pub const SECURITY_CONTEXT: &[&str] = &[
    "allowPrivilegeEscalation",
    "appArmorProfile",
    "capabilities",
    "privileged",
    "procMount",
    "readOnlyRootFilesystem",
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "seLinuxOptions",
    "seccompProfile",
    "windowsOptions",
];

/// The keys of a Kubernetes `PodSecurityContext`: a job's `podSecurityContext` may set
/// these.
pub const POD_SECURITY_CONTEXT: &[&str] = &[
    "appArmorProfile",
    "fsGroup",
    "fsGroupChangePolicy",
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "seLinuxChangePolicy",
    "seLinuxOptions",
    "seccompProfile",
    "supplementalGroups",
    "supplementalGroupsPolicy",
    "sysctls",
    "windowsOptions",
];

/// The book's "What `container` copies" tables (`docs/src/container.md`), written from
/// [`POD`], [`CONTAINER`] and [`VOLUME`].
pub fn markdown() -> String {
    let mut out = String::new();
    out.push_str("| pod field | in the job's pod | why |\n|---|---|---|\n");
    for field in POD {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            field.name,
            field.handling.describe(),
            field.why
        ));
    }
    out.push_str("\n| container field | the job's container | sidecars and init containers that come along | why |\n|---|---|---|---|\n");
    for field in CONTAINER {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            field.name,
            field.job.describe(),
            field.others.describe(),
            field.why
        ));
    }
    out.push_str("\n| volume source | in the job's pod | why |\n|---|---|---|\n");
    let group = |u: VolumeUse| {
        VOLUME
            .iter()
            .filter(|(_, v)| *v == u)
            .map(|(k, _)| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push_str(&format!(
        "| {} | copied when a copied container mounts it | configuration, or made for each pod by its CSI driver (the Secrets Store CSI driver's secrets) |\n",
        group(VolumeUse::Config)
    ));
    out.push_str(&format!(
        "| {}, and a volume naming no source (an emptyDir to Kubernetes) | copied when a copied container mounts it, with the init containers that fill it for one that mounts it read-only | made for each pod, so the job's is its own: scratch space (`/tmp` under `readOnlyRootFilesystem`), or config an init step renders |\n",
        group(VolumeUse::PerPod)
    ));
    out.push_str(&format!(
        "| {} | only when listed in `volumes`; else left out, and `plan` warns when the job's container mounts it | state shared with the running app: a ReadWriteOnce volume the app holds would block the migration pod forever |\n",
        group(VolumeUse::Shared)
    ));
    out
}
