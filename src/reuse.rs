//! What `container:` copies from the app into a job's pod, as [`crate::pod_fields`] (the
//! book's "What `container` copies" chapter) classifies every field. The job runs the app's
//! program the way the app runs it (same image, command, env, resources, security context,
//! config and per-pod volumes and the init steps that fill them, pod settings that decide how
//! it reaches the database), minus what would hurt a one-off run (probes, ports, replicas,
//! state volumes); what it drops that the run may notice goes to `plan`'s warnings.
//!
//! Finding the container is `plan`'s job; this module only copies from it.

use anyhow::{Context, Result, bail};
use indexmap::IndexMap;
use serde_norway::{Mapping, Value};

use crate::k8s::{self, Container, PodSpec};
use crate::pod_fields::{self, VolumeUse};
use crate::spec::Job;

/// The container a job reuses, found in the stream.
pub struct Reused<'a> {
    pub doc: usize,
    /// `Deployment/web`.
    pub source: String,
    pub pod: &'a Mapping,
    /// The pod template's metadata: labels and annotations.
    pub meta: Option<&'a Mapping>,
    pub container: &'a Mapping,
}

pub fn containers(pod: &Mapping) -> Vec<&Mapping> {
    match pod.get("containers") {
        Some(Value::Sequence(items)) => items.iter().filter_map(Value::as_mapping).collect(),
        _ => Vec::new(),
    }
}

pub fn init_containers(pod: &Mapping) -> Vec<&Mapping> {
    match pod.get("initContainers") {
        Some(Value::Sequence(items)) => items.iter().filter_map(Value::as_mapping).collect(),
        _ => Vec::new(),
    }
}

pub fn str_field<'a>(map: &'a Mapping, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// The program the job runs. Kubernetes layers a container's `command` and `args` over the
/// image's ENTRYPOINT and CMD; the job layers its own over the reused container's the same way:
/// - `command` (with or without `args`) replaces the program, and the app's `args`, which were
///   arguments to the app's program, go with it;
/// - `args` alone are new arguments to the app's program: the container's `command` when it
///   sets one, else the image's ENTRYPOINT (which deploy-jobs cannot see, and need not);
/// - neither is refused by `spec` when a container is reused (the app itself would run).
///
/// With `args` alone and an image of its own, the app's `command` may not exist in that image
/// and the image's ENTRYPOINT may be what was meant: that is an error asking for `command`.
fn command(job: &Job, from: Option<&Mapping>, image: &str) -> Result<Option<Vec<String>>> {
    if job.command.is_some() || job.args.is_none() {
        return Ok(job.command.clone());
    }
    let Some(from) = from else {
        return Ok(None);
    };
    let app = match from.get("command") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Sequence(words)) => words
            .iter()
            .map(|w| w.as_str().map(str::to_string))
            .collect::<Option<Vec<String>>>(),
        Some(_) => None,
    };
    let Some(app) = app else {
        bail!(
            "{}.args: the reused container's `command` is not a list of strings, so the program these args go to is unknown; set `command` too",
            job.path()
        );
    };
    let app_image = str_field(from, "image").unwrap_or_default();
    if job.spec.image.is_some() && image != app_image {
        bail!(
            "{}.args: with its own `image` and only `args`, the program is ambiguous: the reused container runs `{}` (in {app_image}), which {image} may not have, while its entrypoint may be what is meant; set `command` too",
            job.path(),
            app.join(" ")
        );
    }
    Ok(Some(app))
}

/// The app's env with the job's merged over it, so that each variable the job sets is the
/// value the kubelet ends up with. The kubelet reads `envFrom` first, then `env` in order,
/// each entry overwriting an earlier one of the same name (and `$(NAME)` in a value expands
/// to what NAME holds at that point). So a variable the job sets takes the place of the
/// app's first entry of that name (later entries that referred to it now see the job's
/// value) and the app's later duplicates, which would win, are removed; new variables go
/// last. `env_from_names` are the variables the job's own `envFrom` provides: an app entry of
/// such a name would beat it, so it is removed unless the job's `env` sets it.
fn merge_env(mut env: Vec<Value>, job: &Job, env_from_names: &[String]) -> Result<Vec<Value>> {
    let name_of = |e: &Value| e.get("name").and_then(Value::as_str).map(str::to_string);
    env.retain(|e| {
        name_of(e)
            .is_none_or(|n| !env_from_names.contains(&n) || job.env.iter().any(|v| v.name == n))
    });
    for var in &job.env {
        let value = serde_norway::to_value(var)?;
        let mut same =
            (0..env.len()).filter(|&i| name_of(&env[i]).as_deref() == Some(var.name.as_str()));
        match same.next() {
            Some(first) => {
                let later: Vec<usize> = same.collect();
                env[first] = value;
                for i in later.into_iter().rev() {
                    env.remove(i);
                }
            }
            None => env.push(value),
        }
    }
    Ok(env)
}

/// The key a container-name clash is reported at: `container` when the job reuses one (its
/// name is the app's), else `name` (the job's container is named after the job).
pub fn container_name_key(job: &Job) -> String {
    match job.spec.container {
        Some(_) => format!("{}.container", job.path()),
        None => format!("{}.name", job.path()),
    }
}

/// Checks that container names are unique in the pod (the reused container keeps the app's
/// name, deploy-jobs' own steps have theirs) and that every `resourceFieldRef.containerName`
/// (in env and in downward API volumes) names a container the pod runs: the API server
/// accepts a dangling one and the kubelet then fails the pod.
pub fn check_container_names(pod: &PodSpec) -> Result<()> {
    let all: Vec<&Container> = pod.init_containers.iter().chain(&pod.containers).collect();
    for (i, c) in all.iter().enumerate() {
        if all[..i].iter().any(|o| o.name == c.name) {
            bail!(
                "the Job's pod would have two containers named `{}`: the job's container (named after the app's container it reuses, else after the job) and one of deploy-jobs' own steps (wait-for, restore-hint) or a copied sidecar; a pod cannot have two containers of one name, so rename the job or pick another container",
                c.name
            );
        }
    }
    let runs = |name: &str| all.iter().any(|c| c.name == name);
    for c in &all {
        for var in &c.env {
            if let Some(target) = var["valueFrom"]["resourceFieldRef"]["containerName"].as_str()
                && !runs(target)
            {
                bail!(
                    "env `{}` of container `{}` reads the resources of container `{target}` (resourceFieldRef), which the Job does not run, so the kubelet would fail the pod; set `{0}` in the job's `env`",
                    var["name"].as_str().unwrap_or("?"),
                    c.name
                );
            }
        }
    }
    for volume in &pod.volumes {
        let mut items: Vec<&Value> = Vec::new();
        if let Some(Value::Sequence(list)) = volume["downwardAPI"].get("items") {
            items.extend(list);
        }
        if let Some(Value::Sequence(sources)) = volume["projected"].get("sources") {
            for source in sources {
                if let Some(Value::Sequence(list)) = source["downwardAPI"].get("items") {
                    items.extend(list);
                }
            }
        }
        for item in items {
            if let Some(target) = item["resourceFieldRef"]["containerName"].as_str()
                && !runs(target)
            {
                bail!(
                    "volume `{}` reads the resources of container `{target}` (resourceFieldRef), which the Job does not run, so the kubelet would fail the pod",
                    volume["name"].as_str().unwrap_or("?")
                );
            }
        }
    }
    Ok(())
}

/// Turns on a Vault agent injector for a pod; without `agent-pre-populate-only` the injector
/// adds a classic sidecar that never exits, and the Job would never complete.
const VAULT_INJECT: &str = "vault.hashicorp.com/agent-inject";
const VAULT_INIT_ONLY: &str = "vault.hashicorp.com/agent-pre-populate-only";
/// Per-container annotations: the API server rejects one naming a container the pod lacks.
const APPARMOR_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";
/// kubectl's default container, which for the app may be one the Job does not run.
const DEFAULT_CONTAINER: &[&str] = &[
    "kubectl.kubernetes.io/default-container",
    "kubectl.kubernetes.io/default-logs-container",
];

/// The annotations of a generated pod: the app pod's (sidecar injectors, secret agents and
/// identity webhooks act on them; those about containers the Job does not run are left out),
/// then the native-sidecar requests to service meshes ([`k8s::NATIVE_SIDECAR_ANNOTATIONS`]),
/// then the job's own `annotations`, which win. A Vault agent the pod asks for is made
/// init-only (it fetches the secrets before the job starts), unless the job says otherwise.
pub fn pod_annotations(
    app: Option<&Mapping>,
    pod: &PodSpec,
    user: &IndexMap<String, String>,
) -> IndexMap<String, String> {
    let runs = |name: &str| {
        pod.init_containers
            .iter()
            .chain(&pod.containers)
            .any(|c| c.name == name)
    };
    let mut out: IndexMap<String, String> = app
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?, v.as_str()?)))
        // deploy-jobs' own (the gate mode's list of Jobs a workload waits for) are about
        // the app's pods, not the job's.
        .filter(|(k, _)| {
            !DEFAULT_CONTAINER.contains(k)
                && !k.starts_with("deploy-jobs.io/")
                && k.strip_prefix(APPARMOR_PREFIX).is_none_or(&runs)
        })
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.extend(k8s::mesh_annotations());
    out.extend(user.iter().map(|(k, v)| (k.clone(), v.clone())));
    if out.get(VAULT_INJECT).map(String::as_str) == Some("true")
        && !user.contains_key(VAULT_INIT_ONLY)
    {
        out.insert(VAULT_INIT_ONLY.to_string(), "true".to_string());
    }
    out
}

/// A `waitFor` target on localhost can only be reached through a sidecar in the job's own
/// pod (a database proxy) or, with `hostNetwork`, on the node: without either, the wait-for
/// step would loop until the deadline. The message names the app's other containers, one of
/// which is likely the proxy to list in `sidecars`.
pub fn check_local_waits(job: &Job, pod: &PodSpec, reused: Option<&Reused<'_>>) -> Result<()> {
    let has_sidecar = pod
        .init_containers
        .iter()
        .any(|c| c.restart_policy.as_deref() == Some("Always"));
    let host_network = pod.copied.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    if has_sidecar || host_network {
        return Ok(());
    }
    for (i, (host, port)) in job.wait_for.iter().enumerate() {
        if !["localhost", "127.0.0.1", "::1", "[::1]"].contains(&host.as_str()) {
            continue;
        }
        let others: Vec<&str> = reused
            .map(|r| {
                containers(r.pod)
                    .into_iter()
                    .filter_map(|c| str_field(c, "name"))
                    .filter(|n| Some(*n) != str_field(r.container, "name"))
                    .collect()
            })
            .unwrap_or_default();
        let hint = match (reused, others.is_empty()) {
            (Some(r), false) => format!(
                "; {} runs {} beside the app: if one of them is the proxy, list it in `sidecars` to run it in the job's pod",
                r.source,
                others
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => "; run the proxy as a native sidecar of the app's pod, or wait for the database's own address".to_string(),
        };
        bail!(
            "{}.waitFor[{i}]: `{host}:{port}` is inside the job's own pod, where nothing would listen: it has no sidecar (a database proxy) and no host network, so the wait would last until the deadline{hint}",
            job.path()
        );
    }
    Ok(())
}

fn seq_field(map: &Mapping, key: &str) -> Vec<Value> {
    match map.get(key) {
        Some(Value::Sequence(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// How a container mounts a volume, for [`mounted_volumes`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mount {
    Any,
    ReadOnly,
    Writable,
}

/// The names of the volumes a container mounts (`volumeMounts` and `volumeDevices`) the way
/// `how` says.
fn mounted_volumes(c: &Mapping, how: Mount) -> Vec<String> {
    let mut mounts = seq_field(c, "volumeMounts");
    mounts.extend(seq_field(c, "volumeDevices"));
    mounts
        .iter()
        .filter(|m| {
            // As Kubernetes reads it: `readOnly: yes` is true to YAML 1.1.
            let read_only = match m.get("readOnly") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => crate::typed::yaml11_bool(s) == Some(true),
                _ => false,
            };
            match how {
                Mount::Any => true,
                Mount::ReadOnly => read_only,
                Mount::Writable => !read_only,
            }
        })
        .filter_map(|m| m.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// `key` of a YAML mapping, merged key by key with `over` (the job's): the job's keys win.
/// `None` when neither sets anything.
fn merged(app: Option<&Value>, over: Option<&Value>) -> Option<Value> {
    let over = over.filter(|v| !v.is_null());
    match (app.filter(|v| !v.is_null()), over) {
        (None, None) => None,
        (Some(a), None) => Some(a.clone()),
        (a, Some(o)) => {
            let mut out = a.and_then(Value::as_mapping).cloned().unwrap_or_default();
            for (k, v) in o.as_mapping().into_iter().flatten() {
                out.insert(k.clone(), v.clone());
            }
            Some(Value::Mapping(out))
        }
    }
}

/// The app's containers and init containers that come along with the reused one, in the
/// order they go into the job's pod's `initContainers`, each with whether it is to be made
/// a native sidecar:
/// - the pod's init containers, in its order: native sidecars (a database proxy, a secret
///   agent), classic init containers that write into a per-pod volume (emptyDir, ephemeral,
///   no source) that a container coming along mounts read-only (it renders the app's config
///   or fetches its secrets there: without it the job would find an empty directory), and
///   those listed in `sidecars`; when the reused container is itself an init container,
///   only those before it;
/// - then classic sidecars listed in `sidecars`, which are made native.
///
/// An init container that writes into a per-pod volume the job's container mounts writable
/// too may fill it or only share it as scratch space (`/tmp`): it is not copied, and `plan`
/// warns, naming it and `sidecars`.
fn companions<'a>(
    job: &Job,
    reused: &Reused<'a>,
    notes: &mut Vec<String>,
) -> Result<Vec<(&'a Mapping, bool)>> {
    let pod = reused.pod;
    let own = str_field(reused.container, "name");
    let per_pod: Vec<String> = seq_field(pod, "volumes")
        .iter()
        .filter(|v| pod_fields::volume_use(v) == VolumeUse::PerPod)
        .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    let inits: Vec<&Mapping> = init_containers(pod)
        .into_iter()
        .take_while(|c| str_field(c, "name") != own)
        .collect();
    let native = |c: &Mapping| str_field(c, "restartPolicy") == Some("Always");
    let listed = |c: &Mapping| {
        str_field(c, "name").is_some_and(|n| job.spec.sidecars.iter().any(|s| s == n))
    };
    let chosen = fillers(reused, &inits, &per_pod, |c| native(c) || listed(c));
    note_shared_fillers(job, reused, &inits, &chosen, &per_pod, notes);
    let mut out: Vec<(&Mapping, bool)> = inits
        .iter()
        .zip(&chosen)
        .filter(|(_, k)| **k)
        .map(|(c, _)| (*c, false))
        .collect();
    for (i, wanted) in job.spec.sidecars.iter().enumerate() {
        if out
            .iter()
            .any(|(c, _)| str_field(c, "name") == Some(wanted.as_str()))
        {
            continue;
        }
        let found = containers(pod)
            .into_iter()
            .filter(|c| str_field(c, "name") != own)
            .find(|c| str_field(c, "name") == Some(wanted.as_str()));
        let Some(found) = found else {
            let others: Vec<&str> = containers(pod)
                .into_iter()
                .chain(inits.iter().copied())
                .filter_map(|c| str_field(c, "name"))
                .filter(|n| Some(*n) != own)
                .collect();
            let hint = crate::spec::closest(
                wanted,
                &others.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            )
            .map(|n| format!("did you mean `{n}`? "))
            .unwrap_or_default();
            bail!(
                "{}.sidecars[{i}]: {} has no other container named `{wanted}`; {hint}(its other containers and init containers: {}; native sidecars come along without being listed)",
                job.path(),
                reused.source,
                list_or_none(&others)
            );
        };
        out.push((found, true));
    }
    Ok(out)
}

/// Which init containers come along: those `first` picks, and each classic one that writes
/// into a per-pod volume that something coming along reads (read-only), until none is added
/// (what comes along grows as fillers are added).
fn fillers(
    reused: &Reused<'_>,
    inits: &[&Mapping],
    per_pod: &[String],
    first: impl Fn(&Mapping) -> bool,
) -> Vec<bool> {
    let mut chosen: Vec<bool> = inits.iter().map(|c| first(c)).collect();
    // The volumes read by what comes along grow as fillers are added: repeat until none is.
    loop {
        let reads: Vec<String> = std::iter::once(reused.container)
            .chain(
                inits
                    .iter()
                    .zip(&chosen)
                    .filter(|(_, k)| **k)
                    .map(|(c, _)| *c),
            )
            .flat_map(|c| mounted_volumes(c, Mount::ReadOnly))
            .collect();
        let mut added = false;
        for (i, c) in inits.iter().enumerate() {
            if !chosen[i]
                && mounted_volumes(c, Mount::Writable)
                    .iter()
                    .any(|v| per_pod.contains(v) && reads.contains(v))
            {
                chosen[i] = true;
                added = true;
            }
        }
        if !added {
            break;
        }
    }
    chosen
}

/// A note for each init container left out that writes into a per-pod volume the job's
/// container writes too: it may prepare what the job reads, or be scratch space.
fn note_shared_fillers(
    job: &Job,
    reused: &Reused<'_>,
    inits: &[&Mapping],
    chosen: &[bool],
    per_pod: &[String],
    notes: &mut Vec<String>,
) {
    let shares = mounted_volumes(reused.container, Mount::Writable);
    for (c, _) in inits.iter().zip(chosen).filter(|(_, k)| !**k) {
        let both: Vec<String> = mounted_volumes(c, Mount::Writable)
            .into_iter()
            .filter(|v| per_pod.contains(v) && shares.contains(v))
            .map(|v| format!("`{v}`"))
            .collect();
        if !both.is_empty() {
            notes.push(format!(
                "{}: init container `{}` of {} writes into {} {}, which container `{}` mounts writable too, and is not copied: if it prepares what the job reads (renders config, fetches secrets), list it in `sidecars`; scratch space the two share needs nothing",
                job.name(),
                str_field(c, "name").unwrap_or("?"),
                reused.source,
                if both.len() == 1 { "volume" } else { "volumes" },
                both.join(", "),
                str_field(reused.container, "name").unwrap_or("?")
            ));
        }
    }
}

/// Pod-level settings that come along with a reused container, as [`pod_fields::POD`]
/// says: the pod's own settings, the containers [`companions`] chooses, and the volumes the
/// copied containers mount (config-like and per-pod ones, plus those the job asks for by
/// name). What [`pod_fields`] marks dropped, or a shared volume the job's container mounts
/// and the job does not list, is pushed to `notes` for `plan` to warn about.
pub fn pod_from_workload(
    job: &Job,
    reused: &Reused<'_>,
    notes: &mut Vec<String>,
) -> Result<PodSpec> {
    let pod = reused.pod;
    check_listed_volumes(job, reused)?;
    let companions = companions(job, reused, notes)?;
    let mounted: Vec<String> = std::iter::once(reused.container)
        .chain(companions.iter().map(|(c, _)| *c))
        .flat_map(|c| mounted_volumes(c, Mount::Any))
        .collect();
    let volumes = volumes_along(job, reused, &mounted, notes);
    let copied = copied_pod_fields(job, reused, &companions);
    let mut init_containers = Vec::new();
    for (c, make_native) in companions {
        let mut c = sidecar(c, &volumes).with_context(|| {
            format!(
                "{}.container: copying the container `{}` of {}",
                job.path(),
                str_field(c, "name").unwrap_or("?"),
                reused.source
            )
        })?;
        if make_native {
            // A classic sidecar listed in `sidecars`: as a native one it starts before the
            // job and is stopped when the job exits, instead of keeping the pod running.
            c.restart_policy = Some("Always".to_string());
        }
        init_containers.push(c);
    }
    note_dropped_fields(job, reused, notes);
    Ok(PodSpec {
        image_pull_secrets: seq_field(pod, "imagePullSecrets"),
        security_context: merged(
            pod.get("securityContext"),
            job.spec.pod_security_context.as_ref(),
        ),
        node_selector: pod.get("nodeSelector").cloned(),
        tolerations: pod.get("tolerations").cloned(),
        copied,
        init_containers,
        volumes,
        ..PodSpec::default()
    })
}

fn volume_name(v: &Value) -> Option<String> {
    v.get("name").and_then(Value::as_str).map(str::to_string)
}

/// Every volume `volumes` names is one of the pod's.
fn check_listed_volumes(job: &Job, reused: &Reused<'_>) -> Result<()> {
    let volumes = seq_field(reused.pod, "volumes");
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
                list_or_none(&have)
            );
        }
    }
    Ok(())
}

/// The pod's volumes the job's containers mount (per-pod and config ones; a shared one only
/// when listed in `volumes`, with a note), and those `volumes` lists.
fn volumes_along(
    job: &Job,
    reused: &Reused<'_>,
    mounted: &[String],
    notes: &mut Vec<String>,
) -> Vec<Value> {
    let volumes = seq_field(reused.pod, "volumes");
    // A volume listed in `volumes` comes along even when no copied container mounts it: a
    // pod annotation may name it for an injected sidecar (Kuma's token volume, say).
    volumes
        .iter()
        .filter(|v| {
            let name = volume_name(v).unwrap_or_default();
            if job.spec.volumes.contains(&name) {
                return true;
            }
            if !mounted.contains(&name) {
                return false;
            }
            let shared = pod_fields::volume_use(v) == VolumeUse::Shared;
            if shared && mounted_volumes(reused.container, Mount::Any).contains(&name) {
                let source = v
                    .as_mapping()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, _)| k.as_str())
                    .find(|k| *k != "name")
                    .unwrap_or("unknown source");
                notes.push(format!(
                    "{}: volume `{name}` ({source}) of {}, which container `{}` mounts, is left out: it holds state shared with the running app; list it in `volumes` to mount it",
                    job.name(),
                    reused.source,
                    str_field(reused.container, "name").unwrap_or("?")
                ));
            }
            !shared
        })
        .cloned()
        .collect()
}

/// The pod fields `pod_fields` copies, the node affinity, the device claims the copied
/// containers use, and the pod's resource budget when the job sets none.
fn copied_pod_fields(
    job: &Job,
    reused: &Reused<'_>,
    companions: &[(&Mapping, bool)],
) -> IndexMap<String, Value> {
    let pod = reused.pod;
    let mut copied = IndexMap::new();
    if let Some(node) = pod.get("affinity").and_then(|a| a.get("nodeAffinity")) {
        let mut affinity = Mapping::new();
        affinity.insert("nodeAffinity".into(), node.clone());
        copied.insert("affinity".to_string(), Value::Mapping(affinity));
    }
    for key in pod_fields::copied_pod_fields() {
        if let Some(value) = pod.get(key).filter(|v| !v.is_null()) {
            copied.insert(key.to_string(), value.clone());
        }
    }
    // Device claims (DRA) the copied containers use.
    let claims: Vec<String> = std::iter::once(reused.container)
        .chain(companions.iter().map(|(c, _)| *c))
        .flat_map(|c| match c.get("resources").and_then(|r| r.get("claims")) {
            Some(Value::Sequence(list)) => list
                .iter()
                .filter_map(|x| x.get("name").and_then(Value::as_str).map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let resource_claims: Vec<Value> = seq_field(pod, "resourceClaims")
        .into_iter()
        .filter(|r| volume_name(r).is_some_and(|n| claims.contains(&n)))
        .collect();
    if !resource_claims.is_empty() {
        copied.insert(
            "resourceClaims".to_string(),
            Value::Sequence(resource_claims),
        );
    }
    if job.spec.resources.is_none()
        && let Some(budget) = pod.get("resources").filter(|v| !v.is_null())
    {
        copied.insert("resources".to_string(), budget.clone());
    }
    copied
}

/// A `plan` note for each field of the container and the pod that is left out.
fn note_dropped_fields(job: &Job, reused: &Reused<'_>, notes: &mut Vec<String>) {
    let pod = reused.pod;
    for (name, why) in pod_fields::dropped_container_fields() {
        if reused.container.get(name).is_some_and(|v| !v.is_null()) {
            notes.push(format!(
                "{}: `{name}` of container `{}` in {} is left out: {why}",
                job.name(),
                str_field(reused.container, "name").unwrap_or("?"),
                reused.source,
            ));
        }
    }
    for (name, why) in pod_fields::dropped_pod_fields() {
        if pod.get(name).is_some_and(|v| !v.is_null()) {
            notes.push(format!(
                "{}: `{name}` of the pod of {} is left out: {why}",
                job.name(),
                reused.source,
            ));
        }
    }
}

/// A native sidecar of the app's pod, as it is (its probes tell the kubelet when it is ready
/// for the next container; its lifecycle was written for running beside the app's containers,
/// as it does beside the job's), but with only the mounts of volumes the job's pod has.
fn sidecar(c: &Mapping, volumes: &[Value]) -> Result<Container> {
    let name = str_field(c, "name").unwrap_or_default().to_string();
    let words = |key: &str| -> Result<Option<Vec<String>>> {
        match c.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_norway::from_value(v.clone())
                .map(Some)
                .with_context(|| format!("its `{key}` is not a list of strings")),
        }
    };
    let field = |key: &str| str_field(c, key).map(str::to_string);
    let mut copied = IndexMap::new();
    for (k, v) in c {
        let Some(k) = k.as_str() else { continue };
        let typed = [
            "name",
            "image",
            "imagePullPolicy",
            "command",
            "args",
            "workingDir",
            "env",
            "envFrom",
            "resources",
            "volumeMounts",
            "securityContext",
            "restartPolicy",
        ];
        if typed.contains(&k) {
            continue;
        }
        let v = match k {
            "volumeDevices" => Value::Sequence(mounts(c, k, volumes)),
            _ => v.clone(),
        };
        copied.insert(k.to_string(), v);
    }
    Ok(Container {
        image: field("image").unwrap_or_default(),
        image_pull_policy: field("imagePullPolicy"),
        command: words("command")?,
        args: words("args")?,
        working_dir: field("workingDir"),
        env: seq_field(c, "env"),
        env_from: seq_field(c, "envFrom"),
        resources: c.get("resources").cloned(),
        volume_mounts: mounts(c, "volumeMounts", volumes),
        security_context: c.get("securityContext").cloned(),
        restart_policy: field("restartPolicy"),
        copied,
        name,
    })
}

/// A container's `volumeMounts` (or `volumeDevices`) of the volumes the job's pod has.
fn mounts(c: &Mapping, key: &str, volumes: &[Value]) -> Vec<Value> {
    let kept: Vec<&str> = volumes
        .iter()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .collect();
    seq_field(c, key)
        .into_iter()
        .filter(|m| {
            m.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| kept.contains(&n))
        })
        .collect()
}

pub fn main_container(
    job: &Job,
    reused: Option<&Reused<'_>>,
    volumes: &[Value],
    env_from_names: &[String],
) -> Result<Container> {
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
    let command = command(job, from, &image)?;
    let env = merge_env(
        from.map(|c| seq_field(c, "env")).unwrap_or_default(),
        job,
        env_from_names,
    )
    .with_context(|| format!("{}.env", job.path()))?;
    let env_from = match &job.spec.env_from {
        Some(list) => list
            .iter()
            .map(serde_norway::to_value)
            .collect::<Result<_, _>>()
            .with_context(|| format!("{}.envFrom", job.path()))?,
        None => from.map(|c| seq_field(c, "envFrom")).unwrap_or_default(),
    };
    let volume_mounts = match reused {
        Some(r) => mounts(r.container, "volumeMounts", volumes),
        None => Vec::new(),
    };
    Ok(Container {
        // The app's name, so that what refers to the container by name (resourceFieldRef,
        // per-container annotations, kubectl's default container) still finds it.
        name: field("name").unwrap_or_else(|| job.name().to_string()),
        image,
        image_pull_policy: job
            .spec
            .image_pull_policy
            .clone()
            .or_else(|| field("imagePullPolicy")),
        command,
        args: job.args.clone(),
        working_dir: field("workingDir"),
        env,
        env_from,
        // The app's, so that a `resourceFieldRef` (GOMEMLIMIT from limits.memory) reads
        // the limit it was written for, not the node's capacity.
        resources: match &job.spec.resources {
            Some(r) => Some(
                serde_norway::to_value(r).with_context(|| format!("{}.resources", job.path()))?,
            ),
            None => from
                .and_then(|c| c.get("resources"))
                .filter(|v| !v.is_null())
                .cloned(),
        },
        volume_mounts,
        security_context: merged(
            from.and_then(|c| c.get("securityContext")),
            job.spec.security_context.as_ref(),
        ),
        copied: from
            .into_iter()
            .flat_map(|c| {
                pod_fields::copied_container_fields().filter_map(|k| {
                    let v = c.get(k).filter(|v| !v.is_null())?;
                    Some((k.to_string(), v.clone()))
                })
            })
            .collect(),
        ..Container::default()
    })
}

/// `a, b, c`, or `none` for a message that lists what there is.
fn list_or_none(items: &[impl AsRef<str>]) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one job of `yaml` (a `deploy_jobs` list).
    fn job(yaml: &str) -> Job {
        let value: Value = serde_norway::from_str(&format!("deploy_jobs:\n{yaml}")).unwrap();
        let specs = crate::spec::from_values(value).unwrap().unwrap();
        crate::spec::validate(&specs, None).unwrap().remove(0)
    }

    fn mapping(yaml: &str) -> Mapping {
        serde_norway::from_str(yaml).unwrap()
    }

    /// The job's container when it reuses `app` (a container) of a pod without volumes.
    fn container(job: &Job, app: &Mapping, env_from_names: &[&str]) -> Result<Container> {
        let pod = Mapping::new();
        let reused = Reused {
            doc: 0,
            source: "Deployment/shop".to_string(),
            pod: &pod,
            meta: None,
            container: app,
        };
        let names: Vec<String> = env_from_names.iter().map(|n| n.to_string()).collect();
        main_container(job, Some(&reused), &[], &names)
    }

    const APP: &str = "name: app\nimage: shop:1\ncommand: [/app/shop, serve]\nargs: [--port=8080]\nenv:\n- {name: DB_HOST, value: db}\n- {name: DB_URL, value: postgres://$(DB_HOST)}\n- {name: LOG, value: info}\n- {name: DB_URL, value: postgres://override}\n";

    fn words(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn command_with_args_replaces_the_apps_program_and_arguments() {
        let job = job(
            "- name: migrate\n  container: app\n  command: [/app/shop, migrate]\n  args: [--to, latest]\n",
        );
        let c = container(&job, &mapping(APP), &[]).unwrap();
        assert_eq!(
            c.command,
            words(&["/app/shop", "migrate"]),
            "the job's command"
        );
        assert_eq!(
            c.args,
            words(&["--to", "latest"]),
            "the job's args, not the app's --port"
        );
    }

    #[test]
    fn command_alone_drops_the_apps_args() {
        let job = job("- name: migrate\n  container: app\n  command: [/app/shop, migrate]\n");
        let c = container(&job, &mapping(APP), &[]).unwrap();
        assert_eq!(c.command, words(&["/app/shop", "migrate"]));
        assert_eq!(c.args, None, "the app's --port was an argument to `serve`");
    }

    #[test]
    fn args_alone_go_to_the_apps_command() {
        let job = job("- name: migrate\n  container: app\n  args: [migrate]\n");
        let c = container(&job, &mapping(APP), &[]).unwrap();
        assert_eq!(
            c.command,
            words(&["/app/shop", "serve"]),
            "the app's program"
        );
        assert_eq!(c.args, words(&["migrate"]));
        let no_command = mapping("name: app\nimage: shop:1\nargs: [--port=8080]\n");
        let c = container(&job, &no_command, &[]).unwrap();
        assert_eq!(
            c.command, None,
            "the image's ENTRYPOINT, which a command would hide"
        );
        assert_eq!(c.args, words(&["migrate"]));
    }

    #[test]
    fn args_alone_with_the_apps_own_image_named_again_are_not_ambiguous() {
        let job = job("- name: migrate\n  container: app\n  image: shop:1\n  args: [migrate]\n");
        let c = container(&job, &mapping(APP), &[]).unwrap();
        assert_eq!(c.command, words(&["/app/shop", "serve"]));
        let other = crate::reuse::tests::job(
            "- name: migrate\n  container: app\n  image: other:2\n  args: [migrate]\n",
        );
        let err = container(&other, &mapping(APP), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("deploy_jobs[0].args: with its own `image` and only `args`"),
            "{err}"
        );
    }

    fn env_names(c: &Container) -> Vec<(String, String)> {
        c.env
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_string(),
                    e["value"].as_str().unwrap_or("<from>").to_string(),
                )
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn env_from_of_the_job_beats_the_apps_entries_of_its_keys() {
        // The job's envFrom provides DB_URL: the app's two DB_URL entries would beat it
        // (env wins over envFrom), so both go; the others stay, in order.
        let job = job(
            "- name: migrate\n  container: app\n  command: [migrate]\n  envFrom: [{secretRef: {name: shop-db}}]\n",
        );
        let c = container(&job, &mapping(APP), &["DB_URL"]).unwrap();
        assert_eq!(
            env_names(&c),
            pairs(&[("DB_HOST", "db"), ("LOG", "info")]),
            "app entries named by the job's envFrom are removed"
        );
        assert_eq!(c.env_from.len(), 1, "the job's envFrom replaces the app's");
        assert_eq!(c.env_from[0]["secretRef"]["name"], "shop-db");
    }

    #[test]
    fn env_set_by_the_job_wins_over_its_env_from_and_the_apps_entries() {
        // DB_URL is in the job's envFrom and in its env: the env entry takes the place of
        // the app's first DB_URL (after DB_HOST, whose value it may reference), and the
        // app's later duplicate, which would win, goes.
        let job = job(
            "- name: migrate\n  container: app\n  command: [migrate]\n  envFrom: [{secretRef: {name: shop-db}}]\n  env: {DB_URL: 'postgres://job', NEW: x}\n",
        );
        let c = container(&job, &mapping(APP), &["DB_URL", "LOG"]).unwrap();
        assert_eq!(
            env_names(&c),
            pairs(&[
                ("DB_HOST", "db"),
                ("DB_URL", "postgres://job"),
                ("NEW", "x")
            ]),
            "LOG comes from the job's envFrom now; DB_URL is the job's, once, in the app's place"
        );
    }

    #[test]
    fn env_from_names_do_not_touch_the_app_env_without_an_env_from_of_the_job() {
        let job =
            job("- name: migrate\n  container: app\n  command: [migrate]\n  env: {LOG: debug}\n");
        let c = container(&job, &mapping(APP), &[]).unwrap();
        assert_eq!(
            env_names(&c),
            pairs(&[
                ("DB_HOST", "db"),
                ("DB_URL", "postgres://$(DB_HOST)"),
                ("LOG", "debug"),
                ("DB_URL", "postgres://override"),
            ]),
            "only LOG changes, in place"
        );
    }

    #[test]
    fn init_containers_that_fill_what_the_job_reads_come_along_in_order() {
        let pod = mapping(
            "initContainers:\n- {name: fetch, image: f, volumeMounts: [{name: secrets, mountPath: /s}]}\n- {name: render, image: r, volumeMounts: [{name: secrets, mountPath: /s, readOnly: true}, {name: cfg, mountPath: /c}]}\n- {name: scratch, image: s, volumeMounts: [{name: tmp, mountPath: /tmp}]}\n- {name: db-migrate, image: app, volumeMounts: [{name: cfg, mountPath: /c, readOnly: true}, {name: tmp, mountPath: /tmp}]}\n- {name: late, image: l, volumeMounts: [{name: cfg, mountPath: /c}]}\ncontainers:\n- {name: app, image: app, volumeMounts: [{name: cfg, mountPath: /c, readOnly: true}]}\nvolumes:\n- {name: secrets, emptyDir: {medium: Memory}}\n- {name: cfg}\n- {name: tmp, ephemeral: {volumeClaimTemplate: {spec: {}}}}\n",
        );
        let names = |container: &str, job: &Job| {
            let reused = Reused {
                doc: 0,
                source: "Deployment/shop".to_string(),
                pod: &pod,
                meta: None,
                container: init_containers(&pod)
                    .into_iter()
                    .chain(containers(&pod))
                    .find(|c| str_field(c, "name") == Some(container))
                    .unwrap(),
            };
            let mut notes = Vec::new();
            let out: Vec<String> = companions(job, &reused, &mut notes)
                .unwrap()
                .into_iter()
                .map(|(c, native)| {
                    format!(
                        "{}{}",
                        str_field(c, "name").unwrap(),
                        if native { " (native)" } else { "" }
                    )
                })
                .collect();
            (out, notes)
        };
        let plain = job("- name: seed\n  container: app\n  command: [seed]\n");
        let (out, notes) = names("app", &plain);
        assert_eq!(
            out,
            ["fetch", "render", "late"],
            "render fills cfg, which app reads; fetch fills secrets, which render reads; late writes cfg too; db-migrate only reads"
        );
        assert!(notes.is_empty(), "{notes:?}");
        let (out, notes) = names("db-migrate", &plain);
        assert_eq!(
            out,
            ["fetch", "render"],
            "an init container reused: only what runs before it"
        );
        assert_eq!(
            notes.len(),
            1,
            "scratch shares tmp, writable, with db-migrate: {notes:?}"
        );
        assert!(
            notes[0].starts_with("seed: init container `scratch` of Deployment/shop writes into volume `tmp`, which container `db-migrate` mounts writable too"),
            "{}",
            notes[0]
        );
        let listed = job(
            "- name: seed\n  container: db-migrate\n  command: [seed]\n  sidecars: [scratch]\n",
        );
        let (out, notes) = names("db-migrate", &listed);
        assert_eq!(
            out,
            ["fetch", "render", "scratch"],
            "listed: runs as it is, in the pod's order"
        );
        assert!(notes.is_empty(), "{notes:?}");
    }
}
