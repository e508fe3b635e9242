//! The `deploy_jobs` configuration: its serde types, where it is read from, and the checks
//! that turn it into [`Job`]s for one environment.
//!
//! Every message names the key path (`deploy_jobs[1].when.production`); the caller prefixes
//! the values file or the document the configuration came from. Deciding what to generate
//! from a valid configuration is the planner's job.

use serde_norway::Value;

use crate::header::describe;

pub use crate::facts::{DELETE_POLICIES, HOOK_EVENTS, LOG_POLICIES, ROLLOUT_KINDS};

mod error;
mod locate;
mod read;
mod types;

pub use error::{ErrorKind, Phase, ShapeError, SpecError, TargetError, ValueError, err};
pub use locate::point;

pub use read::{Config, from_document, from_values};
pub(crate) use read::{closest, deserialize};
pub use types::*;

/// Events a job runs on when `when` is not given.
pub const DEFAULT_WHEN: &str = "pre-install,pre-upgrade";
/// `activeDeadlineSeconds` when not given: four minutes, so that the Job (its wait-for
/// step included: the deadline counts from the Job's start) has failed, and its pod has had
/// the default 30 s to stop, before Helm's default `--timeout` of 5m gives up on it. A Job
/// that outlives Helm keeps running, and the next deploy's `before-hook-creation` deletes it
/// mid-run.
pub const DEFAULT_DEADLINE: u64 = 240;
/// The image of the stop and start steps. Their scripts need `sh`, `date`, `sleep` and
/// `kubectl`: this one is `FROM alpine` (busybox provides the first three) with kubectl in
/// /usr/local/bin, tagged with its kubectl version. The Kubernetes project's own
/// registry.k8s.io/kubectl is distroless (go-runner base): no shell at all.
pub const DEFAULT_STOP_IMAGE: &str = DEFAULT_KUBECTL_IMAGE;
/// The pinned image with `sh`, `date`, `sleep` and `kubectl` that every generated kubectl
/// step runs in: the stop and start steps, and the gate mode's gate and rollout containers.
pub const DEFAULT_KUBECTL_IMAGE: &str = "alpine/kubectl:1.35.0";
/// The image of the wait-for initContainer: a small, pinned busybox with `nc`.
pub const DEFAULT_WAIT_IMAGE: &str = "busybox:1.37.0";
/// The `environment` key that applies when the chosen environment has no entry.
pub const DEFAULT_ENV_KEY: &str = "_default";

/// A job, checked and resolved for one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Position in the `deploy_jobs` list.
    pub index: usize,
    pub spec: JobSpec,
    /// Hook events in this environment; empty when the job is disabled there.
    pub events: Vec<String>,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    /// Explicit env, each entry a Kubernetes EnvVar.
    pub env: Vec<EnvVar>,
    pub wait_for: Vec<(String, u16)>,
    pub delete_policy: Vec<String>,
    pub workload: Option<(String, String)>,
    pub exclusive: Exclusive,
    /// `gates`, as (kind, name).
    pub gates: Vec<(String, String)>,
    /// `follows`, as (kind, name).
    pub follows: Vec<(String, String)>,
}

impl Job {
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The image of the wait-for initContainer and the restore hint.
    pub fn wait_image(&self) -> String {
        self.spec
            .wait_image
            .clone()
            .unwrap_or_else(|| DEFAULT_WAIT_IMAGE.to_string())
    }

    /// The image of the gate mode's gate and rollout containers.
    pub fn gate_image(&self) -> String {
        self.spec
            .gate_image
            .clone()
            .unwrap_or_else(|| DEFAULT_KUBECTL_IMAGE.to_string())
    }

    /// The image of an `exclusive` job's stop and start steps.
    pub fn stop_image(&self) -> String {
        self.spec
            .stop_image
            .clone()
            .unwrap_or_else(|| DEFAULT_STOP_IMAGE.to_string())
    }

    pub fn path(&self) -> String {
        format!("deploy_jobs[{}]", self.index)
    }

    pub fn enabled(&self) -> bool {
        !self.events.is_empty()
    }
}

/// Checks every job and resolves `when` for `environment`.
pub fn validate(jobs: &[JobSpec], environment: Option<&str>) -> Result<Vec<Job>, SpecError> {
    let mut out: Vec<Job> = Vec::new();
    for (index, spec) in jobs.iter().enumerate() {
        let job = validate_one(index, spec, environment, &out)?;
        out.push(job);
    }
    Ok(out)
}

/// One entry, checked key by key in a fixed order (the first error found is the one shown),
/// and resolved for `environment`. `before` are the entries checked so far.
fn validate_one(
    index: usize,
    spec: &JobSpec,
    environment: Option<&str>,
    before: &[Job],
) -> Result<Job, SpecError> {
    let path = format!("deploy_jobs[{index}]");
    check_name(spec, &path, before)?;
    check_source(spec, &path)?;
    let command = words(spec.command.as_ref(), &format!("{path}.command"))?;
    let args = words(spec.args.as_ref(), &format!("{path}.args"))?;
    if spec.container.is_some() && command.is_none() && args.is_none() {
        return err(path, ValueError::ReusesWithoutCommand);
    }
    let workload = match &spec.workload {
        None => None,
        Some(w) => Some(parse_workload(w, &format!("{path}.workload"))?),
    };
    let when = when_entries(spec.when.as_ref(), &format!("{path}.when"))?;
    let events = chosen_events(&when, environment);
    let wait_for = spec
        .wait_for
        .iter()
        .enumerate()
        .map(|(i, t)| parse_target(t, &format!("{path}.waitFor[{i}]")))
        .collect::<Result<_, _>>()?;
    let delete_policy = delete_policy(spec, &path)?;
    check_scalars(spec, &path)?;
    check_metadata(spec, &path)?;
    check_companions(spec, &path)?;
    let env = env(spec.env.as_ref(), &format!("{path}.env"))?;
    let exclusive = exclusive(spec.exclusive.as_ref(), &format!("{path}.exclusive"))?;
    check_exclusive_keys(spec, &path, &exclusive, &when)?;
    let gates = listed_objects(&spec.gates, &format!("{path}.gates"), None)?;
    let follows = listed_objects(
        &spec.follows,
        &format!("{path}.follows"),
        Some(ROLLOUT_KINDS),
    )?;
    Ok(Job {
        index,
        spec: spec.clone(),
        events,
        command,
        args,
        env,
        wait_for,
        delete_policy,
        workload,
        exclusive,
        gates,
        follows,
    })
}

/// A DNS-1123 label, unique in the list.
fn check_name(spec: &JobSpec, path: &str, before: &[Job]) -> Result<(), SpecError> {
    check_label(&spec.name, &format!("{path}.name"))?;
    if let Some(first) = before.iter().find(|j| j.spec.name == spec.name) {
        return err(
            format!("{path}.name"),
            ValueError::DuplicateName {
                name: spec.name.clone(),
                first: first.index,
            },
        );
    }
    Ok(())
}

/// What the job runs: its own image, or a container of the chart (and where from).
fn check_source(spec: &JobSpec, path: &str) -> Result<(), SpecError> {
    if spec.container.is_none() && spec.image.is_none() {
        return err(path, ValueError::NoImage);
    }
    if spec.workload.is_some() && spec.container.is_none() {
        return err(
            format!("{path}.workload"),
            ValueError::OnlyWith("container"),
        );
    }
    Ok(())
}

/// Helm's delete policies, which must keep `before-hook-creation` (see the message).
fn delete_policy(spec: &JobSpec, path: &str) -> Result<Vec<String>, SpecError> {
    Ok(match &spec.delete_policy {
        None => vec!["before-hook-creation".to_string()],
        Some(p) => {
            let parts = split_list(p);
            if parts.is_empty() {
                return err(format!("{path}.deletePolicy"), ShapeError::Empty);
            }
            for part in &parts {
                if !DELETE_POLICIES.contains(&part.as_str()) {
                    return err(
                        format!("{path}.deletePolicy"),
                        ValueError::UnknownDeletePolicy(part.clone()),
                    );
                }
            }
            if !parts.iter().any(|p| p == "before-hook-creation") {
                return err(
                    format!("{path}.deletePolicy"),
                    ValueError::NoBeforeHookCreation {
                        written: p.clone(),
                        parts,
                    },
                );
            }
            parts
        }
    })
}

/// Numbers and names: the deadline, the pull policy, the ServiceAccount.
fn check_scalars(spec: &JobSpec, path: &str) -> Result<(), SpecError> {
    if spec.active_deadline_seconds == Some(0) {
        return err(
            format!("{path}.activeDeadlineSeconds"),
            ValueError::AtLeastOne,
        );
    }
    if let Some(p) = &spec.image_pull_policy
        && !["Always", "IfNotPresent", "Never"].contains(&p.as_str())
    {
        return err(format!("{path}.imagePullPolicy"), ValueError::PullPolicy);
    }
    if let Some(sa) = &spec.service_account_name {
        check_subdomain(sa, &format!("{path}.serviceAccountName"))?;
    }
    Ok(())
}

/// The job's own annotations and labels, which may not take deploy-jobs' or Helm's.
fn check_metadata(spec: &JobSpec, path: &str) -> Result<(), SpecError> {
    for key in spec.annotations.keys() {
        check_annotation(
            key,
            &spec.annotations[key].0,
            &format!("{path}.annotations"),
        )?;
    }
    for key in spec.labels.keys() {
        if key == crate::facts::COMPONENT_LABEL || key == crate::facts::JOB_LABEL {
            return err(format!("{path}.labels.{key}"), ValueError::OwnLabel);
        }
    }
    Ok(())
}

/// What comes along from the reused pod (volumes, sidecars) and the security contexts.
fn check_companions(spec: &JobSpec, path: &str) -> Result<(), SpecError> {
    for (i, name) in spec.volumes.iter().enumerate() {
        if spec.container.is_none() {
            return err(format!("{path}.volumes"), ValueError::OnlyWith("container"));
        }
        check_label(name, &format!("{path}.volumes[{i}]"))?;
    }
    for (i, name) in spec.sidecars.iter().enumerate() {
        if spec.container.is_none() {
            return err(
                format!("{path}.sidecars"),
                ValueError::OnlyWith("container"),
            );
        }
        check_label(name, &format!("{path}.sidecars[{i}]"))?;
    }
    check_security_context(
        spec.security_context.as_ref(),
        crate::pod_fields::SECURITY_CONTEXT,
        &format!("{path}.securityContext"),
    )?;
    check_security_context(
        spec.pod_security_context.as_ref(),
        crate::pod_fields::POD_SECURITY_CONTEXT,
        &format!("{path}.podSecurityContext"),
    )?;
    Ok(())
}

/// `exclusive`'s events and the keys that only mean something with it.
fn check_exclusive_keys(
    spec: &JobSpec,
    path: &str,
    exclusive: &Exclusive,
    when: &[WhenEntry],
) -> Result<(), SpecError> {
    if *exclusive != Exclusive::None {
        exclusive_events(when)?;
    }
    if spec.stop_image.is_some() && *exclusive == Exclusive::None {
        return err(
            format!("{path}.stopImage"),
            ValueError::OnlyWith("exclusive"),
        );
    }
    if spec.stop_timeout_seconds.is_some() && *exclusive == Exclusive::None {
        return err(
            format!("{path}.stopTimeoutSeconds"),
            ValueError::OnlyWith("exclusive"),
        );
    }
    if spec.stop_timeout_seconds == Some(0) {
        return err(format!("{path}.stopTimeoutSeconds"), ValueError::AtLeastOne);
    }
    Ok(())
}

/// A job's own annotation. Those that deploy-jobs derives from a key of the job are errors
/// naming the key (they would be overwritten, or worse, copied onto the pod where they mean
/// nothing); Helm's log policy is the one hook annotation a job may set itself.
fn check_annotation(key: &str, value: &str, path: &str) -> Result<(), SpecError> {
    let instead = match key {
        crate::facts::HOOK_ANNOTATION | crate::facts::ARGOCD_HOOK => Some("when"),
        crate::facts::WEIGHT_ANNOTATION | crate::facts::ARGOCD_SYNC_WAVE => Some("weight"),
        crate::facts::DELETE_ANNOTATION | crate::facts::ARGOCD_DELETE_POLICY => {
            Some("deletePolicy")
        }
        _ => None,
    };
    let path = format!("{path}.{key}");
    if let Some(instead) = instead {
        return err(path, ValueError::DerivedAnnotation { key: instead });
    }
    if key == crate::LOG_ANNOTATION {
        let parts = split_list(value);
        return match parts.iter().find(|p| !LOG_POLICIES.contains(&p.as_str())) {
            _ if parts.is_empty() => err(path, ValueError::EmptyLogPolicy),
            Some(bad) => err(path, ValueError::UnknownLogPolicy(bad.clone())),
            None => Ok(()),
        };
    }
    if key.starts_with("helm.sh/") || key.starts_with(crate::facts::OWN_PREFIX) {
        return err(path, ValueError::HelmAnnotation);
    }
    Ok(())
}

/// Which workloads a job stops before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusive {
    None,
    /// Every Deployment and StatefulSet the stream renders.
    All,
    /// These, as (kind, name).
    Listed(Vec<(String, String)>),
}

fn exclusive(value: Option<&Value>, path: &str) -> Result<Exclusive, SpecError> {
    match value {
        None | Some(Value::Null) => Ok(Exclusive::None),
        Some(Value::String(s)) if s == "all" => Ok(Exclusive::All),
        Some(Value::Sequence(items)) if !items.is_empty() => {
            let mut out: Vec<(String, String)> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                let Some(text) = item.as_str() else {
                    return err(
                        item_path,
                        ShapeError::KindName {
                            found: describe(item),
                        },
                    );
                };
                let (kind, name) = parse_workload(text, &item_path)?;
                if kind != "Deployment" && kind != "StatefulSet" {
                    return err(item_path, ValueError::NotStoppable);
                }
                if !out.contains(&(kind.clone(), name.clone())) {
                    out.push((kind, name));
                }
            }
            Ok(Exclusive::Listed(out))
        }
        Some(other) => err(
            path,
            ShapeError::Exclusive {
                found: match other {
                    Value::String(s) => format!("`{s}`"),
                    other => describe(other).to_string(),
                },
            },
        ),
    }
}

/// Events an `exclusive` job may run at: the release's own apply follows them and brings the
/// stopped workloads back. Checked in every environment of `when`, like the spelling.
pub const EXCLUSIVE_EVENTS: &[&str] = &["pre-install", "pre-upgrade", "pre-rollback"];

fn exclusive_events(entries: &[WhenEntry]) -> Result<(), SpecError> {
    for entry in entries {
        for event in split_list(&entry.text) {
            if !EXCLUSIVE_EVENTS.contains(&event.to_ascii_lowercase().as_str()) {
                return err(
                    entry.path.clone(),
                    ValueError::ExclusiveEvent {
                        event,
                        allowed: EXCLUSIVE_EVENTS,
                    },
                );
            }
        }
    }
    Ok(())
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// One entry of `when`: the whole string, or one environment of a mapping.
struct WhenEntry {
    /// The environment, for an entry of a mapping.
    environment: Option<String>,
    path: String,
    /// As written.
    text: String,
    /// Checked and lowercased.
    events: Vec<String>,
}

/// Every entry of `when`, each with its events checked: every environment's, not only the
/// chosen one, so that a typo in the production entry does not wait for a production deploy
/// to surface.
fn when_entries(when: Option<&Value>, path: &str) -> Result<Vec<WhenEntry>, SpecError> {
    let entry = |environment: Option<&str>, text: &str| -> Result<WhenEntry, SpecError> {
        let path = match environment {
            Some(key) => format!("{path}.{key}"),
            None => path.to_string(),
        };
        Ok(WhenEntry {
            environment: environment.map(str::to_string),
            events: check_events(text, &path)?,
            path,
            text: text.to_string(),
        })
    };
    match when {
        None => Ok(vec![entry(None, DEFAULT_WHEN)?]),
        Some(Value::String(s)) => Ok(vec![entry(None, s)?]),
        Some(Value::Null) => Ok(vec![entry(None, "")?]),
        Some(Value::Mapping(map)) => map
            .iter()
            .map(|(key, value)| {
                let Value::String(key) = key else {
                    return err(path, ShapeError::EnvironmentNamesNotStrings);
                };
                match value {
                    Value::String(s) => entry(Some(key), s),
                    Value::Null => entry(Some(key), ""),
                    other => err(
                        format!("{path}.{key}"),
                        ShapeError::WhenEntry {
                            found: describe(other),
                        },
                    ),
                }
            })
            .collect(),
        Some(other) => err(
            path,
            ShapeError::When {
                found: describe(other),
            },
        ),
    }
}

/// The events `environment` selects: a string's, else the environment's own entry, else
/// `_default`'s, else none (the job is disabled).
fn chosen_events(entries: &[WhenEntry], environment: Option<&str>) -> Vec<String> {
    let find = |key: &str| {
        entries
            .iter()
            .find(|e| e.environment.as_deref() == Some(key))
    };
    match entries {
        [single] if single.environment.is_none() => Some(single),
        _ => environment.and_then(find).or_else(|| find(DEFAULT_ENV_KEY)),
    }
    .map(|e| e.events.clone())
    .unwrap_or_default()
}

fn check_events(text: &str, path: &str) -> Result<Vec<String>, SpecError> {
    let mut events: Vec<String> = Vec::new();
    for event in split_list(text) {
        let lower = event.to_ascii_lowercase();
        if !HOOK_EVENTS.contains(&lower.as_str()) {
            let suggestion = closest(
                &lower,
                &HOOK_EVENTS
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>(),
            );
            return err(path, ValueError::UnknownEvent { event, suggestion });
        }
        if !events.contains(&lower) {
            events.push(lower);
        }
    }
    Ok(events)
}

/// A command or args: a list of strings, or one string split into words like a POSIX shell
/// would (quotes and backslashes honoured; no variables, globs or pipes: nothing runs a shell).
/// A string that starts with `[` is read as a YAML/JSON list, as the seeds wrote it.
fn words(value: Option<&Value>, path: &str) -> Result<Option<Vec<String>>, SpecError> {
    let Some(value) = value else { return Ok(None) };
    let list = match value {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim_start().starts_with('[') => {
            match serde_norway::from_str::<Value>(s) {
                Ok(inner @ Value::Sequence(_)) => return words(Some(&inner), path),
                _ => return err(path, ShapeError::NotAList),
            }
        }
        Value::String(s) => shell_words(s).or_else(|kind| err(path, kind))?,
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| scalar_text(item).or_else(|kind| err(format!("{path}[{i}]"), kind)))
            .collect::<Result<_, _>>()?,
        other => {
            return err(
                path,
                ShapeError::Words {
                    found: describe(other),
                },
            );
        }
    };
    if list.is_empty() {
        return err(path, ShapeError::Empty);
    }
    Ok(Some(list))
}

/// Splits a string into words by POSIX shell quoting rules, without any expansion (`shlex`,
/// the crate the field uses for this): quotes and backslashes are honoured, and a word that
/// starts with `#` starts a comment, as in a shell.
pub fn shell_words(s: &str) -> Result<Vec<String>, ShapeError> {
    shlex::split(s).ok_or(ShapeError::Unquoted)
}

fn env(value: Option<&Value>, path: &str) -> Result<Vec<EnvVar>, SpecError> {
    let vars: Vec<EnvVar> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Mapping(map)) => {
            let mut vars = Vec::new();
            for (k, v) in map {
                let Value::String(name) = k else {
                    return err(path, ShapeError::VariableNamesNotStrings);
                };
                let value = match v {
                    Value::Null => String::new(),
                    Value::Mapping(_) | Value::Sequence(_) => {
                        return err(
                            format!("{path}.{name}"),
                            ShapeError::EnvString { found: describe(v) },
                        );
                    }
                    scalar => {
                        scalar_text(scalar).or_else(|kind| err(format!("{path}.{name}"), kind))?
                    }
                };
                vars.push(EnvVar {
                    name: name.clone(),
                    value: Some(StringLike(value)),
                    value_from: None,
                });
            }
            vars
        }
        Some(list @ Value::Sequence(_)) => {
            let parsed: Vec<EnvVar> = deserialize(list.clone(), path)?;
            for (i, var) in parsed.iter().enumerate() {
                if var.value.is_some() && var.value_from.is_some() {
                    return err(format!("{path}[{i}]"), ValueError::ValueAndValueFrom);
                }
            }
            parsed
        }
        Some(other) => {
            return err(
                path,
                ShapeError::EnvList {
                    found: describe(other),
                },
            );
        }
    };
    for (i, var) in vars.iter().enumerate() {
        if var.name.is_empty() || var.name.contains('=') {
            return err(format!("{path}[{i}].name"), ValueError::VariableName);
        }
        if let Some(first) = vars[..i].iter().position(|v| v.name == var.name) {
            return err(
                format!("{path}[{i}].name"),
                ValueError::DuplicateVariable {
                    name: var.name.clone(),
                    first: format!("{path}[{first}]"),
                },
            );
        }
    }
    Ok(vars)
}

fn parse_workload(w: &str, path: &str) -> Result<(String, String), SpecError> {
    let Some((kind, name)) = w.split_once('/') else {
        return err(path, ValueError::KindNameSyntax(w.to_string()));
    };
    // Any kind with a pod template (a Rollout too): the planner finds it by its shape.
    if !is_kind_name(kind) {
        return err(path, ValueError::NotAKind(kind.to_string()));
    }
    if name.is_empty() {
        return err(path, ValueError::NoNameAfterSlash);
    }
    Ok((kind.to_string(), name.to_string()))
}

/// A list of `Kind/name`, each once: of `kinds`, or of any kind (a gate holds whatever has a
/// pod template, custom resources too; the planner checks that the stream renders it).
fn listed_objects(
    list: &[String],
    path: &str,
    kinds: Option<&'static [&'static str]>,
) -> Result<Vec<(String, String)>, SpecError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let (kind, name) = match item.split_once('/') {
            Some((kind, name)) if is_kind_name(kind) && !name.is_empty() => {
                (kind.to_string(), name.to_string())
            }
            _ => {
                return err(item_path, ValueError::KindNameSyntax(item.clone()));
            }
        };
        if let Some(kinds) = kinds
            && !kinds.contains(&kind.as_str())
        {
            return err(
                item_path,
                ValueError::NotARollout {
                    kind,
                    expected: kinds,
                },
            );
        }
        if !out.contains(&(kind.clone(), name.clone())) {
            out.push((kind, name));
        }
    }
    Ok(out)
}

/// A Kubernetes kind: a capital letter, then letters and digits.
fn is_kind_name(kind: &str) -> bool {
    kind.starts_with(|c: char| c.is_ascii_uppercase())
        && kind.chars().all(|c| c.is_ascii_alphanumeric())
}

fn parse_target(t: &str, path: &str) -> Result<(String, u16), SpecError> {
    let Some((host, port)) = t.rsplit_once(':') else {
        return err(path, ValueError::HostPort(t.to_string()));
    };
    let port: u16 = match port.parse() {
        Ok(p) if p > 0 => p,
        _ => return err(path, ValueError::Port(port.to_string())),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !host.starts_with(['-', '.']);
    if !host_ok {
        return err(path, ValueError::Host(host.to_string()));
    }
    Ok((host.to_string(), port))
}

/// A `securityContext` or `podSecurityContext` of a job: a mapping of the keys Kubernetes
/// knows there (a misspelled one would be dropped by the API server without a word, or
/// refused by a strict one).
fn check_security_context(
    value: Option<&Value>,
    known: &[&str],
    path: &str,
) -> Result<(), SpecError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let Some(map) = value.as_mapping() else {
        return err(
            path,
            ShapeError::Mapping {
                found: describe(value),
            },
        );
    };
    for key in map.keys() {
        let Some(key) = key.as_str() else {
            return err(path, ShapeError::KeysNotStrings);
        };
        if !known.contains(&key) {
            let expected: Vec<String> = known.iter().map(|k| k.to_string()).collect();
            return err(
                format!("{path}.{key}"),
                ShapeError::UnknownContextKey {
                    suggestion: closest(key, &expected),
                    expected,
                },
            );
        }
    }
    Ok(())
}

fn check_label(s: &str, path: &str) -> Result<(), SpecError> {
    if crate::names::is_label(s) {
        return Ok(());
    }
    let suggestion: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    err(
        path,
        ValueError::Label {
            value: s.to_string(),
            suggestion: crate::names::is_label(&suggestion).then_some(suggestion),
        },
    )
}

fn check_subdomain(s: &str, path: &str) -> Result<(), SpecError> {
    if !s.is_empty() && s.len() <= 253 && s.split('.').all(crate::names::is_label) {
        Ok(())
    } else {
        err(path, ValueError::ObjectName(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(yaml: &str) -> Result<Vec<Job>, SpecError> {
        let value: Value = serde_norway::from_str(yaml).unwrap();
        let specs = from_values(value)?.unwrap_or_default();
        validate(&specs, Some("production"))
    }

    fn error(yaml: &str) -> String {
        jobs(yaml)
            .expect_err("config should be rejected")
            .to_string()
    }

    #[test]
    fn misspelled_key_names_the_path_and_the_fix() {
        assert_eq!(
            error("deploy_jobs:\n- name: m\n  image: x\n  activeDeadlineSecond: 5\n"),
            "deploy_jobs[0].activeDeadlineSecond: unknown key; did you mean `activeDeadlineSeconds`?"
        );
    }

    #[test]
    fn when_picks_the_environment_then_default() {
        let j = jobs("deploy_jobs:\n- name: a\n  image: x\n  when: {production: post-upgrade, _default: pre-install}\n- name: b\n  image: x\n  when: {_default: pre-install}\n- name: c\n  image: x\n  when: {staging: pre-install}\n").unwrap();
        assert_eq!(j[0].events, ["post-upgrade"]);
        assert_eq!(j[1].events, ["pre-install"]);
        assert!(
            !j[2].enabled(),
            "an environment missing without _default disables the job"
        );
    }

    #[test]
    fn unknown_event_in_any_environment_is_an_error() {
        assert!(error("deploy_jobs:\n- name: a\n  image: x\n  when: {staging: pre-instal}\n")
            .starts_with("deploy_jobs[0].when.staging: unknown hook event `pre-instal` (did you mean `pre-install`?)"));
    }

    #[test]
    fn duplicate_names_are_rejected() {
        assert_eq!(
            error("deploy_jobs:\n- {name: a, image: x}\n- {name: a, image: y}\n"),
            "deploy_jobs[1].name: duplicate job name `a` (also deploy_jobs[0])"
        );
    }

    #[test]
    fn string_commands_split_like_a_shell_without_one() {
        assert_eq!(
            shell_words(r#"php artisan "migrate --force" 'a b' c\ d"#).unwrap(),
            ["php", "artisan", "migrate --force", "a b", "c d"]
        );
        assert!(shell_words("echo 'open").is_err());
    }

    #[test]
    fn a_string_holding_a_list_is_read_as_a_list() {
        let j = jobs("deploy_jobs:\n- name: a\n  image: x\n  command: '[\"/usr/bin/php\", \"artisan\", \"migrate\"]'\n").unwrap();
        assert_eq!(
            j[0].command.as_deref().unwrap(),
            ["/usr/bin/php", "artisan", "migrate"]
        );
    }

    #[test]
    fn env_accepts_a_mapping_with_numbers() {
        let j = jobs("deploy_jobs:\n- name: a\n  image: x\n  env: {DB_PORT: 5432}\n").unwrap();
        assert_eq!(j[0].env[0].value, Some(StringLike("5432".into())));
    }

    #[test]
    fn lossy_scalars_where_a_string_is_expected_are_refused_with_the_key_path() {
        for (yaml, path, what) in [
            (
                "env: {RUBY_VERSION: 3.10}",
                "deploy_jobs[0].env.RUBY_VERSION",
                "the number 3.1",
            ),
            (
                "env: {FEATURE: true}",
                "deploy_jobs[0].env.FEATURE",
                "boolean",
            ),
            ("args: [sleep, 1e3]", "deploy_jobs[0].args[1]", "1000"),
            (
                "env: [{name: A, value: false}]",
                "deploy_jobs[0].env",
                "boolean",
            ),
            (
                "labels: {tier: 1.10}",
                "deploy_jobs[0].labels",
                "the number",
            ),
        ] {
            let message = error(&format!(
                "deploy_jobs:\n- name: a\n  image: x\n  command: [m]\n  {yaml}\n"
            ));
            assert!(
                message.contains(path) && message.contains(what) && message.contains("quote it"),
                "{yaml}: {message}"
            );
        }
    }

    #[test]
    fn deploy_jobs_own_labels_are_not_the_users() {
        for key in ["app.kubernetes.io/component", "deploy-jobs.io/job"] {
            let message = error(&format!(
                "deploy_jobs:\n- name: a\n  image: x\n  command: [m]\n  labels: {{{key}: web}}\n"
            ));
            assert!(
                message.contains(&format!("deploy_jobs[0].labels.{key}"))
                    && message.contains("choose another key"),
                "{message}"
            );
        }
    }

    #[test]
    fn reusing_a_container_needs_a_command() {
        assert!(error("deploy_jobs:\n- {name: a, container: app}\n").contains("entrypoint"));
    }

    #[test]
    fn bad_names_suggest_a_valid_one() {
        assert!(
            error("deploy_jobs:\n- {name: Migrate_DB, image: x}\n").contains("(try `migrate-db`)")
        );
    }

    #[test]
    fn hook_annotations_name_the_key_that_sets_them() {
        for (key, instead) in [
            ("helm.sh/hook", "when"),
            ("helm.sh/hook-weight", "weight"),
            ("helm.sh/hook-delete-policy", "deletePolicy"),
            ("argocd.argoproj.io/sync-wave", "weight"),
        ] {
            let message = error(&format!(
                "deploy_jobs:\n- name: a\n  image: x\n  annotations: {{{key}: '1'}}\n"
            ));
            assert!(
                message.starts_with(&format!("deploy_jobs[0].annotations.{key}: "))
                    && message.contains(&format!("set `{instead}` instead")),
                "{key}: {message}"
            );
        }
        for key in ["helm.sh/resource-policy", "deploy-jobs.io/job"] {
            let message = error(&format!(
                "deploy_jobs:\n- name: a\n  image: x\n  annotations: {{{key}: keep}}\n"
            ));
            assert!(message.contains("means nothing"), "{key}: {message}");
        }
        assert!(
            error("deploy_jobs:\n- name: a\n  image: x\n  annotations: {helm.sh/hook-output-log-policy: always}\n")
                .contains("unknown log policy `always`")
        );
        jobs("deploy_jobs:\n- name: a\n  image: x\n  annotations: {helm.sh/hook-output-log-policy: 'hook-succeeded,hook-failed', example.com/x: y}\n")
            .expect("the log policy and other annotations are the job's to set");
    }

    #[test]
    fn merge_keys_apply() {
        let j = jobs("base: &base\n  image: x\n  activeDeadlineSeconds: 60\ndeploy_jobs:\n- <<: *base\n  name: a\n").unwrap();
        assert_eq!(j[0].spec.active_deadline_seconds, Some(60));
    }
}
