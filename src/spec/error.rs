//! Every configuration error deploy-jobs reports, and every message it words them with, in
//! one place (as casey/just keeps `CompileErrorKind` and its one `Display`).
//!
//! An error is a key path plus a kind. The kinds fall in three groups, each with its own
//! `Display`: the YAML has the wrong shape ([`ShapeError`]), a value is wrong for what it
//! means ([`ValueError`]), or the chosen deployer cannot honour what is asked
//! ([`TargetError`]). Code that finds an error says which kind, with the facts the message
//! needs; it never words a message itself.

use std::fmt;

use crate::facts::{DELETE_POLICIES, HOOK_EVENTS, LOG_ANNOTATION, WORKLOAD_KINDS};
use crate::helm::{TIMEOUT_MARGIN, format_duration};

/// A configuration error at a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// `deploy_jobs[1].when`, or empty for the root.
    pub path: String,
    pub kind: ErrorKind,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.path, self.kind)
        }
    }
}

impl std::error::Error for SpecError {}

/// The error `kind` at `path`.
pub fn err<T>(path: impl Into<String>, kind: impl Into<ErrorKind>) -> Result<T, SpecError> {
    Err(SpecError {
        path: path.into(),
        kind: kind.into(),
    })
}

/// What is wrong, by group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    Shape(ShapeError),
    Value(ValueError),
    Target(TargetError),
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Shape(e) => e.fmt(f),
            ErrorKind::Value(e) => e.fmt(f),
            ErrorKind::Target(e) => e.fmt(f),
        }
    }
}

impl From<ShapeError> for ErrorKind {
    fn from(e: ShapeError) -> Self {
        ErrorKind::Shape(e)
    }
}

impl From<ValueError> for ErrorKind {
    fn from(e: ValueError) -> Self {
        ErrorKind::Value(e)
    }
}

impl From<TargetError> for ErrorKind {
    fn from(e: TargetError) -> Self {
        ErrorKind::Target(e)
    }
}

/// The YAML is not shaped as the key wants. `found` is what was there, as
/// [`crate::header::describe`] words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeError {
    /// What serde reports for a typed key, as it words it.
    Serde(String),
    /// A key no type of this place has; the closest known one, if any is close.
    UnknownKey {
        suggestion: Option<String>,
        expected: Vec<String>,
    },
    /// A key of a security context that Kubernetes does not know there.
    UnknownContextKey {
        suggestion: Option<String>,
        expected: Vec<String>,
    },
    MergeKey(String),
    Mapping {
        found: &'static str,
    },
    JobList {
        found: &'static str,
    },
    KeysNotStrings,
    EnvironmentNamesNotStrings,
    VariableNamesNotStrings,
    LossyNumber(String),
    LossyBool(bool),
    String {
        found: &'static str,
    },
    EnvString {
        found: &'static str,
    },
    EnvList {
        found: &'static str,
    },
    Words {
        found: &'static str,
    },
    NotAList,
    Unquoted,
    Empty,
    WhenEntry {
        found: &'static str,
    },
    When {
        found: &'static str,
    },
    KindName {
        found: &'static str,
    },
    /// `found` as written when it was a string, else as described.
    Exclusive {
        found: String,
    },
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShapeError::Serde(message) => f.write_str(message),
            ShapeError::UnknownKey {
                suggestion: Some(best),
                ..
            } => write!(f, "unknown key; did you mean `{best}`?"),
            ShapeError::UnknownKey { expected, .. } => {
                write!(f, "unknown key; expected one of {}", expected.join(", "))
            }
            ShapeError::UnknownContextKey {
                suggestion,
                expected,
            } => {
                f.write_str("unknown key; ")?;
                if let Some(best) = suggestion {
                    write!(f, "did you mean `{best}`? ")?;
                }
                write!(f, "expected one of {}", expected.join(", "))
            }
            ShapeError::MergeKey(e) => write!(f, "merge key (<<): {e}"),
            ShapeError::Mapping { found } => write!(f, "expected a mapping, found {found}"),
            ShapeError::JobList { found } => write!(f, "expected a list of jobs, found {found}"),
            ShapeError::KeysNotStrings => f.write_str("keys must be strings"),
            ShapeError::EnvironmentNamesNotStrings => {
                f.write_str("environment names must be strings")
            }
            ShapeError::VariableNamesNotStrings => f.write_str("variable names must be strings"),
            ShapeError::LossyNumber(n) => write!(
                f,
                "the number {n} where a string is expected: YAML reads an unquoted 3.10 as 3.1 and 1e3 as 1000, so what was written is lost; quote it (with Helm: --set-string)"
            ),
            ShapeError::LossyBool(b) => write!(
                f,
                "the boolean {b} where a string is expected: Helm's YAML reads unquoted yes, no, on, off, y and n as booleans too, so what was written is lost; quote it (with Helm: --set-string)"
            ),
            ShapeError::String { found } => write!(f, "expected a string, found {found}"),
            ShapeError::EnvString { found } => write!(
                f,
                "expected a string, found {found}; use the list form with valueFrom for references"
            ),
            ShapeError::EnvList { found } => write!(
                f,
                "expected a list of env vars or a mapping of names to values, found {found}"
            ),
            ShapeError::Words { found } => {
                write!(f, "expected a list of strings or a string, found {found}")
            }
            ShapeError::NotAList => f.write_str("starts with `[` but is not a list of strings"),
            ShapeError::Unquoted => {
                f.write_str("has an unterminated quote or ends with a lone backslash")
            }
            ShapeError::Empty => f.write_str("is empty"),
            ShapeError::WhenEntry { found } => {
                write!(f, "expected a string of hook events, found {found}")
            }
            ShapeError::When { found } => write!(
                f,
                "expected hook events as a string, or a mapping from environment to events; found {found}"
            ),
            ShapeError::KindName { found } => write!(f, "expected Kind/name, found {found}"),
            ShapeError::Exclusive { found } => write!(
                f,
                "expected `all` or a list of Deployment/name and StatefulSet/name, found {found}"
            ),
        }
    }
}

/// A value that is wrong for what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    NoImage,
    ReusesWithoutCommand,
    DuplicateName {
        name: String,
        first: usize,
    },
    /// The key only means something together with this one.
    OnlyWith(&'static str),
    AtLeastOne,
    PullPolicy,
    UnknownDeletePolicy(String),
    /// `written` as the user wrote it; `parts` its policies, each once.
    NoBeforeHookCreation {
        written: String,
        parts: Vec<String>,
    },
    OwnLabel,
    /// An annotation deploy-jobs sets from this key of the job.
    DerivedAnnotation {
        key: &'static str,
    },
    EmptyLogPolicy,
    UnknownLogPolicy(String),
    HelmAnnotation,
    NotStoppable,
    ExclusiveEvent {
        event: String,
        allowed: &'static [&'static str],
    },
    UnknownEvent {
        event: String,
        suggestion: Option<String>,
    },
    ValueAndValueFrom,
    VariableName,
    /// `first` is the path of the entry that set it first.
    DuplicateVariable {
        name: String,
        first: String,
    },
    KindNameSyntax(String),
    NotAKind(String),
    NoNameAfterSlash,
    NotARollout {
        kind: String,
        expected: &'static [&'static str],
    },
    HostPort(String),
    Port(String),
    Host(String),
    Label {
        value: String,
        suggestion: Option<String>,
    },
    ObjectName(String),
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::NoImage => f.write_str("needs `image`, or `container` to reuse an app container from the chart"),
            ValueError::ReusesWithoutCommand => f.write_str("reuses a container but sets neither `command` nor `args`: it would run the app's own entrypoint"),
            ValueError::DuplicateName { name, first } => write!(f, "duplicate job name `{name}` (also deploy_jobs[{first}])"),
            ValueError::OnlyWith(key) => write!(f, "only means something together with `{key}`"),
            ValueError::AtLeastOne => f.write_str("must be at least 1"),
            ValueError::PullPolicy => f.write_str("expected Always, IfNotPresent or Never"),
            ValueError::UnknownDeletePolicy(p) => write!(f, "unknown delete policy `{p}`; expected {}", DELETE_POLICIES.join(", ")),
            ValueError::NoBeforeHookCreation { written, parts } => no_before_hook_creation(f, written, parts),
            ValueError::OwnLabel => f.write_str("deploy-jobs marks the pods it generates with this label (`plan`, the exclusive stop step and a rerun recognise them by it); choose another key"),
            ValueError::DerivedAnnotation { key } => write!(f, "deploy-jobs sets this annotation itself, from the job's `{key}`; set `{key}` instead"),
            ValueError::EmptyLogPolicy => f.write_str("is empty; expected hook-failed, hook-succeeded or both"),
            ValueError::UnknownLogPolicy(p) => write!(f, "unknown log policy `{p}`; expected hook-failed, hook-succeeded or both"),
            ValueError::HelmAnnotation => write!(f, "means nothing on a generated hook Job (Helm reads only its hook annotations there, and deploy-jobs.io/ ones are deploy-jobs' own); the hook settings are the job's `when`, `weight` and `deletePolicy`, and `{LOG_ANNOTATION}` may be set here"),
            ValueError::NotStoppable => f.write_str("only Deployments and StatefulSets can be stopped"),
            ValueError::ExclusiveEvent { event, allowed } => write!(f, "`{event}` does not go with `exclusive`: the app would be stopped after the release's workloads were applied, and stay stopped. Exclusive jobs run at {} or {}", allowed[..allowed.len() - 1].join(", "), allowed[allowed.len() - 1]),
            ValueError::UnknownEvent { event, suggestion } => {
                write!(f, "unknown hook event `{event}`")?;
                if let Some(best) = suggestion {
                    write!(f, " (did you mean `{best}`?)")?;
                }
                write!(f, "; Helm would silently drop the Job. Expected: {}", HOOK_EVENTS.join(", "))
            }
            ValueError::ValueAndValueFrom => f.write_str("sets both `value` and `valueFrom`"),
            ValueError::VariableName => f.write_str("is not a valid variable name"),
            ValueError::DuplicateVariable { name, first } => write!(f, "`{name}` is already set by {first}; Kubernetes would silently use the last one, so set it once"),
            ValueError::KindNameSyntax(w) => write!(f, "expected Kind/name, like Deployment/web; got `{w}`"),
            ValueError::NotAKind(kind) => write!(f, "`{kind}` is not a Kubernetes kind (like {})", WORKLOAD_KINDS.join(", ")),
            ValueError::NoNameAfterSlash => f.write_str("names no workload after the slash"),
            ValueError::NotARollout { kind, expected } => write!(f, "a {kind} does not roll out pods the way `kubectl rollout status` follows; expected {}", expected.join(", ")),
            ValueError::HostPort(t) => write!(f, "expected host:port, got `{t}`"),
            ValueError::Port(p) => write!(f, "`{p}` is not a TCP port (1-65535)"),
            ValueError::Host(h) => write!(f, "`{h}` is not a host name or IPv4 address"),
            ValueError::Label { value, suggestion } => {
                write!(f, "`{value}` is not a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters")?;
                match suggestion {
                    Some(s) => write!(f, " (try `{s}`)"),
                    None => Ok(()),
                }
            }
            ValueError::ObjectName(s) => write!(f, "`{s}` is not a valid Kubernetes object name"),
        }
    }
}

/// Why a delete policy without `before-hook-creation` goes wrong, for the policies it has.
fn no_before_hook_creation(
    f: &mut fmt::Formatter<'_>,
    written: &str,
    parts: &[String],
) -> fmt::Result {
    let has = |p: &str| parts.iter().any(|x| x == p);
    let outcome = if has("hook-failed") && has("hook-succeeded") {
        "a Job Helm stopped waiting for (a timeout, an interrupted deploy) stays, and the next deploy finds it instead of running the new one, or fails with `field is immutable` (new image)"
    } else if has("hook-failed") {
        "after a success the completed Job stays, and the next deploy either finds it and runs nothing (same spec) or fails with `field is immutable` (new image)"
    } else {
        "after a failure the failed Job stays, and the next deploy either finds it and fails again without running (same spec) or fails with `field is immutable` (new image)"
    };
    write!(
        f,
        "`{written}` lacks before-hook-creation: Helm would not delete the previous deploy's Job before creating this one, so {outcome}. Write `before-hook-creation,{}`",
        parts.join(",")
    )
}

/// Which phase of a deploy a gate-mode job lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Install,
    Upgrade,
}

/// What the chosen deployer (`--target`) cannot honour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// Helm would give up on the job: its deadline (or an exclusive job's stop step:
    /// `stopTimeoutSeconds` plus `overhead` for its kubectl calls) outlives `--timeout`.
    HelmTimeout {
        seconds: u64,
        overhead: Option<u64>,
        timeout: u64,
    },
    ArgoEvent(String),
    ArgoTwice {
        events: Vec<String>,
        pre: Vec<String>,
        post: Vec<String>,
    },
    GateEvent(String),
    GatePhase {
        events: Vec<String>,
        missing: Phase,
    },
    GateExclusive,
    GateTtl,
    GateHookKey,
    GateLogAnnotation,
    FollowsBeforeApp,
    GatesAfterApp,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::HelmTimeout { seconds, overhead, timeout } => helm_timeout(f, *seconds, *overhead, *timeout),
            TargetError::ArgoEvent(event) => write!(f, "`{event}` does not work under Argo CD (it ignores rollback and test hooks); with --target argocd use pre-install, pre-upgrade (PreSync), post-install, post-upgrade (PostSync), pre-delete (PreDelete) or post-delete (PostDelete)"),
            TargetError::ArgoTwice { events, pre, post } => write!(f, "`{}` would run twice on every Argo CD sync: Argo CD cannot tell an install from an upgrade, so {} becomes PreSync and {} becomes PostSync, and both run each sync. Pick one phase: pre-install,pre-upgrade (PreSync, before the sync applies the app) or post-install,post-upgrade (PostSync, after it), e.g. in a `when` entry for the environment Argo CD deploys", events.join(","), pre.join(","), post.join(",")),
            TargetError::GateEvent(event) => {
                let why = match event.as_str() {
                    "pre-delete" | "post-delete" => "nothing runs a Job at delete time without hooks: applied as an ordinary resource it would run at every deploy instead",
                    "pre-rollback" | "post-rollback" => "a rollback is just another apply without hooks: the rollback's own jobs run, gated as at an upgrade",
                    _ => "tests run with `helm test`, which needs hooks",
                };
                write!(f, "`{event}` has no meaning with --target gate: {why}. Use pre-install,pre-upgrade (the job gates the app) or post-install,post-upgrade (it runs once the app has rolled out)")
            }
            TargetError::GatePhase { events, missing } => {
                let (missing, why) = match missing {
                    Phase::Install => ("install", "without hooks nothing tells a first install from an upgrade, so it would run at the first install too"),
                    Phase::Upgrade => ("upgrade", "without hooks nothing tells an upgrade from the first install: the Job stays, finished, and runs again at any upgrade that changes what it runs or reads, so a run-once bootstrap would not run once"),
                };
                write!(f, "`{}` has no {missing} event, which --target gate cannot honour: {why}. Run it at both (pre-install,pre-upgrade or post-install,post-upgrade), or deploy with hooks (Helm 4, Argo CD)", events.join(","))
            }
            TargetError::GateExclusive => f.write_str("does not work with --target gate: without hooks nothing can stop the app before the Job and bring it back after it; the gate holds new pods, but the old ones keep running against the database. Use hook mode (Helm 4, Argo CD) for exclusive migrations"),
            TargetError::GateTtl => f.write_str("does not work with --target gate: the finished Job is the record that the migration ran, which the gate of every later pod reads; a deleted Job would be created and run again by the next apply. Old Jobs go away when a new migration replaces them (Helm prunes them; with kubectl, `apply --prune`)"),
            TargetError::GateHookKey => f.write_str("means nothing with --target gate: the Job is an ordinary resource, ordered by gates in the cluster, not a hook; jobs run in list order"),
            TargetError::GateLogAnnotation => f.write_str("means nothing with --target gate (no hook, so Helm prints no log); a failed Job's gate prints the `kubectl logs` command instead"),
            TargetError::FollowsBeforeApp => f.write_str("is for jobs that run after install or upgrade only; this one runs before (it gates the app)"),
            TargetError::GatesAfterApp => f.write_str("is for jobs at pre-install or pre-upgrade; this one runs after install or upgrade (it follows the app's rollout)"),
        }
    }
}

/// A deadline, or an exclusive job's stop step, that Helm's `--timeout` would cut short.
fn helm_timeout(
    f: &mut fmt::Formatter<'_>,
    seconds: u64,
    overhead: Option<u64>,
    timeout: u64,
) -> fmt::Result {
    let needed = format_duration(
        seconds
            .saturating_add(overhead.unwrap_or(0))
            .saturating_add(TIMEOUT_MARGIN),
    );
    let timeout = format_duration(timeout);
    let flags = format!(
        "`helm upgrade --timeout {needed} --post-renderer-args=--timeout={needed}` (or `deploy-jobs render --timeout {needed}`)"
    );
    match overhead {
        Some(overhead) => write!(
            f,
            "{seconds}, plus {overhead}s for the stop step's kubectl calls, does not end inside Helm's --timeout of {timeout} (less {TIMEOUT_MARGIN}s for the Job to start and its pod to stop): Helm would give up on the stop step while it still runs. Give Helm and deploy-jobs the same longer timeout: {flags}"
        ),
        None => write!(
            f,
            "{seconds} does not end inside Helm's --timeout of {timeout} (less {TIMEOUT_MARGIN}s for the Job to start and its pod to stop): Helm would give up while the Job still runs, and the next deploy would delete it mid-run. For a long job give Helm and deploy-jobs the same timeout: {flags}; the deadline can then be left out, it defaults to the timeout less {TIMEOUT_MARGIN}s"
        ),
    }
}
