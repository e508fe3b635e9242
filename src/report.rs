//! What a deploy will run, for people (`deploy-jobs plan`) and machines (`--output json`):
//! the generated hooks grouped by event in the order Helm runs them, the jobs disabled in
//! this environment, and warnings about the ways migrations go wrong in practice.
//!
//! Built from a [`Plan`]; deciding anything is the planner's job.

use std::fmt::Write as _;

use serde::Serialize;
use serde_norway::Value;

use crate::exclusive::Target;
use crate::plan::{Generated, Plan, PlannedJob};
use crate::spec::{self, DEFAULT_ENV_KEY};

/// Helm's default `--timeout`, in seconds: a hook Job that runs longer is abandoned.
pub const HELM_DEFAULT_TIMEOUT: u64 = 300;

/// Events in the order of a release's life.
const EVENT_ORDER: &[&str] = &[
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

/// The whole report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub environment: Option<String>,
    pub events: Vec<EventHooks>,
    pub disabled: Vec<Disabled>,
    pub warnings: Vec<String>,
}

/// The hooks one event runs, in execution order (weight, then name, as Helm sorts).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EventHooks {
    pub event: String,
    pub hooks: Vec<Hook>,
}

/// One generated hook resource.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Hook {
    pub weight: i64,
    pub kind: String,
    pub name: String,
    /// The `deploy_jobs` entry it belongs to.
    pub job: String,
    /// For a hook copy: the object it copies (`Secret/shop-db`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy_of: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wait_for: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<u64>,
    pub delete_policy: String,
}

/// A job that does not run in this environment, and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Disabled {
    pub job: String,
    pub reason: String,
}

impl Report {
    /// The report when there is no configuration at all.
    pub fn empty() -> Report {
        Report {
            environment: None,
            events: Vec::new(),
            disabled: Vec::new(),
            warnings: vec![
                "no deploy_jobs configuration: the stream has no DeployJobs document and no --values file was given".to_string(),
            ],
        }
    }

    /// Builds the report of a plan.
    pub fn of(plan: &Plan) -> Report {
        let mut events: Vec<EventHooks> = Vec::new();
        let mut disabled = Vec::new();
        for planned in &plan.jobs {
            let Some(output) = &planned.output else {
                disabled.push(Disabled {
                    job: planned.job.name().to_string(),
                    reason: disabled_reason(planned, plan.environment.as_deref()),
                });
                continue;
            };
            let job = &planned.job;
            // Each generated hook goes under every event it runs at.
            for object in output.generated() {
                let text = |key: &str| object.annotation(key).unwrap_or_default().to_string();
                let mut hook = Hook {
                    weight: text(crate::WEIGHT_ANNOTATION).parse().unwrap_or_default(),
                    kind: object.kind().to_string(),
                    name: object.name().to_string(),
                    job: job.name().to_string(),
                    copy_of: None,
                    wait_for: Vec::new(),
                    image: None,
                    command: None,
                    active_deadline_seconds: None,
                    delete_policy: text(crate::DELETE_ANNOTATION),
                };
                match object {
                    Generated::Rbac(_) => {}
                    Generated::Copy(c) => {
                        hook.copy_of = Some(format!("{}/{}", c.kind.kind(), c.original));
                    }
                    // The stop and start steps run a script: show what they act on instead.
                    Generated::Stop(stop) => {
                        describe_job(&mut hook, &stop.stop_job, Some(step("stop", &stop.targets)))
                    }
                    Generated::Start(stop, start) => {
                        describe_job(&mut hook, start, Some(step("start", &stop.targets)))
                    }
                    Generated::Job(object) => {
                        describe_job(&mut hook, object, None);
                        hook.wait_for = job
                            .wait_for
                            .iter()
                            .map(|(h, p)| format!("{h}:{p}"))
                            .collect();
                    }
                }
                for event in text(crate::HOOK_ANNOTATION).split(',') {
                    match events.iter_mut().find(|e| e.event == event) {
                        Some(e) => e.hooks.push(hook.clone()),
                        None => events.push(EventHooks {
                            event: event.to_string(),
                            hooks: vec![hook.clone()],
                        }),
                    }
                }
            }
        }
        events.sort_by_key(|e| EVENT_ORDER.iter().position(|o| *o == e.event));
        for e in &mut events {
            e.hooks
                .sort_by(|a, b| (a.weight, &a.name).cmp(&(b.weight, &b.name)));
        }
        Report {
            environment: plan.environment.clone(),
            events,
            disabled,
            warnings: warnings(plan),
        }
    }

    /// The human table; `color` adds ANSI bold to headings.
    pub fn table(&self, color: bool) -> String {
        let bold = |s: &str| {
            if color {
                format!("\x1b[1m{s}\x1b[0m")
            } else {
                s.to_string()
            }
        };
        let mut out = String::new();
        let env = self
            .environment
            .as_deref()
            .unwrap_or("(none: `_default` entries apply)");
        let _ = writeln!(out, "{} {env}", bold("Environment:"));
        if self.events.is_empty() {
            let _ = writeln!(out, "\nNo hooks run in this environment.");
        }
        for event in &self.events {
            let _ = writeln!(out, "\n{}", bold(&event.event));
            let rows: Vec<[String; 8]> = event.hooks.iter().map(row).collect();
            let header = [
                "WEIGHT",
                "KIND",
                "NAME",
                "WAITS FOR",
                "IMAGE",
                "COMMAND",
                "DEADLINE",
                "DELETE POLICY",
            ]
            .map(str::to_string);
            let widths: Vec<usize> = (0..8)
                .map(|i| {
                    std::iter::once(&header)
                        .chain(&rows)
                        .map(|r| r[i].chars().count())
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            for r in std::iter::once(&header).chain(&rows) {
                let line: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .map(|(cell, w)| format!("{cell:<w$}"))
                    .collect();
                let _ = writeln!(out, "  {}", line.join("  ").trim_end());
            }
        }
        if !self.disabled.is_empty() {
            let _ = writeln!(out, "\n{}", bold("Disabled in this environment:"));
            for d in &self.disabled {
                let _ = writeln!(out, "  {}: {}", d.job, d.reason);
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(out, "\n{}", bold("Warnings:"));
            for w in &self.warnings {
                let _ = writeln!(out, "  - {w}");
            }
        }
        out
    }
}

/// Fills in a generated Job's image, command and deadline: its first container's, with
/// `command` replacing the container's command words when given.
fn describe_job(hook: &mut Hook, object: &crate::k8s::Job, command: Option<Vec<String>>) {
    let main = object.spec.template.spec.containers.first();
    hook.image = main.map(|c| c.image.clone());
    hook.command = command.or_else(|| {
        let c = main?;
        let words: Vec<String> = c
            .command
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(c.args.clone().unwrap_or_default())
            .collect();
        (!words.is_empty()).then_some(words)
    });
    hook.active_deadline_seconds = Some(object.spec.active_deadline_seconds);
}

/// `(stop) Deployment/web StatefulSet/db`.
fn step<'a>(name: &str, targets: impl IntoIterator<Item = &'a Target>) -> Vec<String> {
    std::iter::once(format!("({name})"))
        .chain(targets.into_iter().map(Target::id))
        .collect()
}

fn row(h: &Hook) -> [String; 8] {
    [
        h.weight.to_string(),
        h.kind.clone(),
        h.name.clone(),
        h.wait_for.join(", "),
        h.image.clone().unwrap_or_default(),
        match (&h.command, &h.copy_of) {
            (Some(words), _) => shorten(&words.join(" "), 40),
            (None, Some(of)) => format!("(copy of {of})"),
            (None, None) => String::new(),
        },
        h.active_deadline_seconds
            .map(|s| format!("{s}s"))
            .unwrap_or_default(),
        h.delete_policy.clone(),
    ]
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max - 1).collect();
        format!("{head}…")
    }
}

fn disabled_reason(planned: &PlannedJob, environment: Option<&str>) -> String {
    let Some(Value::Mapping(map)) = &planned.job.spec.when else {
        return "`when` is empty".to_string();
    };
    match environment {
        Some(env) if map.contains_key(env) => format!("`when.{env}` is empty"),
        Some(env) if map.contains_key(DEFAULT_ENV_KEY) => {
            format!("`when` has no `{env}` entry and `when.{DEFAULT_ENV_KEY}` is empty")
        }
        Some(env) => format!("`when` has no `{env}` entry and no `{DEFAULT_ENV_KEY}`"),
        None if map.contains_key(DEFAULT_ENV_KEY) => {
            format!("no environment chosen and `when.{DEFAULT_ENV_KEY}` is empty")
        }
        None => format!("no environment chosen (--env) and `when` has no `{DEFAULT_ENV_KEY}`"),
    }
}

/// The ways a deploy with these jobs goes wrong in practice.
fn warnings(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for planned in &plan.jobs {
        let Some(output) = &planned.output else {
            continue;
        };
        let job = &planned.job;
        let deadline = output.object.spec.active_deadline_seconds;
        let waits = if job.wait_for.is_empty() {
            ""
        } else {
            " (plus the wait for its targets)"
        };
        if deadline > HELM_DEFAULT_TIMEOUT {
            out.push(format!(
                "{}: activeDeadlineSeconds {deadline} is longer than Helm's default --timeout of 5m: Helm would stop waiting while the Job still runs{waits}; pass --timeout {}s or more",
                job.name(),
                deadline + 60
            ));
        }
        let post = job
            .events
            .iter()
            .any(|e| e == "post-install" || e == "post-upgrade");
        if post && output.source_has_readiness_probe {
            out.push(format!(
                "{}: runs after install/upgrade and reuses {}, which has a readiness probe: if the app is not Ready until this job has run, `helm --wait` deadlocks (Helm waits for the app before it runs post hooks); run it pre-install/pre-upgrade instead",
                job.name(),
                output.source.as_deref().unwrap_or("a workload")
            ));
        }
        for (kind, name) in &output.external {
            out.push(format!(
                "{}: {} `{name}` is not rendered by the chart: it must already exist in the cluster when the job runs",
                job.name(),
                kind.kind()
            ));
        }
        if job.delete_policy.iter().any(|p| p == "hook-failed") {
            out.push(format!(
                "{}: deletePolicy hook-failed deletes a failed Job, and its logs with it",
                job.name()
            ));
        }
        if let Some(stop) = &output.stop {
            out.extend(exclusive_warnings(job, stop));
        }
        if job.spec.ttl_seconds_after_finished.is_some() {
            out.push(format!(
                "{}: ttlSecondsAfterFinished deletes the Job, and its logs, after it finishes",
                job.name()
            ));
        }
    }
    let migrations = plan.jobs.iter().any(|p| {
        p.output.is_some()
            && p.job
                .events
                .iter()
                .any(|e| e == "pre-install" || e == "pre-upgrade")
    });
    if migrations {
        out.push("rollback: `helm rollback` does not undo migrations, and it runs the target release's pre-rollback hooks (with the old image), not these; make migrations backward compatible or write a down migration".to_string());
    }
    if let Some(env) = &plan.environment {
        let keys: Vec<String> = plan
            .jobs
            .iter()
            .filter_map(|p| p.job.spec.when.as_ref()?.as_mapping())
            .flat_map(|m| m.keys())
            .filter_map(|k| k.as_str().map(str::to_string))
            .filter(|k| k != DEFAULT_ENV_KEY)
            .collect();
        if !keys.contains(env)
            && let Some(close) = spec::closest(env, &keys)
        {
            out.push(format!(
                "environment `{env}` is not a key of any job's `when`, but `{close}` is: a typo? Only `{DEFAULT_ENV_KEY}` entries apply"
            ));
        }
    }
    out
}

/// What an exclusive job stops, what it leaves running, and whether its stop step fits in
/// the time Helm gives it.
fn exclusive_warnings(job: &spec::Job, stop: &crate::exclusive::Stop) -> Vec<String> {
    let name = job.name();
    let ids: Vec<String> = stop.targets.iter().map(Target::id).collect();
    let restarted: Vec<String> = stop.restarted().map(Target::id).collect();
    let slowest = stop
        .slowest()
        .map(|t| {
            format!(
                " (the slowest, {}, needs about {}s: {})",
                t.id(),
                t.stop_seconds(),
                t.stop_reason()
            )
        })
        .unwrap_or_default();
    let mut out = vec![format!(
        "{name}: causes downtime: stops {} before it runs, waiting up to {}s for {} pods to go{slowest}, and the release's own apply brings {} back{}; if the job fails, the app stays down and the job's log says how to restore it",
        ids.join(", "),
        stop.wait_seconds,
        if ids.len() == 1 { "its" } else { "their" },
        if ids.len() == 1 { "it" } else { "them" },
        if restarted.is_empty() {
            String::new()
        } else {
            format!(
                " (a start step at {} restores {}, whose manifest leaves `replicas` out)",
                crate::exclusive::start_events(&job.events).join(", "),
                restarted.join(", ")
            )
        }
    )];
    for (interfering, what) in [
        (false, "keeps running what it needs"),
        (
            true,
            "leaves running, still able to reach the database while it runs",
        ),
    ] {
        let left: Vec<String> = stop
            .left_running
            .iter()
            .filter(|l| l.may_interfere == interfering)
            .map(|l| format!("{} ({})", l.id, l.reason))
            .collect();
        if !left.is_empty() {
            out.push(format!("{name}: {what}: {}", left.join("; ")));
        }
    }
    if let Some(slow) = stop.slowest()
        && slow.stop_seconds() > stop.wait_seconds
    {
        let need = slow.stop_seconds();
        out.push(format!(
            "{name}: {} may need {need}s to stop ({}), but the stop step waits {}s: it will fail before stopping anything; set stopTimeoutSeconds: {need} and pass --timeout {}s or more",
            slow.id(),
            slow.stop_reason(),
            stop.wait_seconds,
            need + crate::exclusive::STOP_OVERHEAD_SECONDS + crate::exclusive::HELM_MARGIN_SECONDS
        ));
    }
    let deadline = stop.stop_job.spec.active_deadline_seconds;
    if stop.helm_timeout() > HELM_DEFAULT_TIMEOUT {
        out.push(format!(
            "{name}: its stop step may run {deadline}s (stopTimeoutSeconds {} plus {}s for its kubectl calls), too long for Helm's default --timeout of 5m: pass --timeout {}s or more",
            stop.wait_seconds,
            crate::exclusive::STOP_OVERHEAD_SECONDS,
            stop.helm_timeout()
        ));
    }
    out
}
