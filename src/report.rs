//! What a deploy will run, for people (`deploy-jobs plan`) and machines (`--output json`):
//! the generated hooks grouped by event in the order Helm runs them, the jobs disabled in
//! this environment, and warnings about the ways migrations go wrong in practice.
//!
//! Built from a [`Plan`]; deciding anything is the planner's job.

use std::fmt::Write as _;

use serde::Serialize;
use serde_norway::Value;

use crate::plan::{Generated, Plan, PlannedJob};
use crate::spec::{self, DEFAULT_ENV_KEY};
use crate::strategy::{NotHeld, StopTarget};

mod fit;

/// The whole report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub environment: Option<String>,
    /// The hooks by event (Helm and Argo CD); empty in gate mode.
    pub events: Vec<EventHooks>,
    /// In gate mode (`--target gate`): each job's Job, what it gates or follows, in list order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gate: Vec<GateJob>,
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
    /// The `deploy_jobs` entry it belongs to; `None` for a hook of the chart's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// For a hook of the chart's own: the document rendering it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chart_hook: Option<String>,
    /// For a hook of the chart's own: the jobs that read it (and so run after it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read_by: Vec<String>,
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

/// A job in gate mode: an ordinary Job, and the workloads that wait for it or that it waits for.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GateJob {
    pub job: String,
    /// The Job's name (from its content): what `kubectl wait job/NAME` waits for.
    pub name: String,
    pub namespace: Option<String>,
    /// The workloads whose new pods wait for it to succeed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<String>,
    /// The objects that run pods and that it does not hold, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_held: Vec<NotHeld>,
    /// The workloads it waits to see rolled out before it runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub follows: Vec<String>,
    /// The previous job's Job, which it waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The other objects it adds (`Role/shop-migrate-gate`).
    pub objects: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wait_for: Vec<String>,
    pub image: Option<String>,
    pub command: Option<Vec<String>>,
    pub active_deadline_seconds: u64,
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
            gate: Vec::new(),
            disabled: Vec::new(),
            warnings: vec![
                "no deploy_jobs configuration: the stream has no DeployJobs document and no --values file was given".to_string(),
            ],
        }
    }

    /// Builds the report of a plan.
    pub fn of(plan: &Plan) -> Report {
        let mut events: Vec<EventHooks> = Vec::new();
        let mut gate: Vec<GateJob> = Vec::new();
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
            if let Some(gating) = &output.gate {
                gate.push(GateJob::of(job, output, gating));
                continue;
            }
            add_job_hooks(&mut events, job, output);
        }
        add_chart_hooks(&mut events, plan);
        events.sort_by_key(|e| crate::facts::life_order(&e.event));
        for e in &mut events {
            e.hooks
                .sort_by(|a, b| (a.weight, &a.name).cmp(&(b.weight, &b.name)));
        }
        if plan.target == crate::strategy::Target::Gate {
            // No hooks: the chart's own ones run as they always do, unrelated to the jobs.
            events.clear();
        }
        if plan.target == crate::strategy::Target::ArgoCd {
            events = argocd_phases(events);
        }
        Report {
            environment: plan.environment.clone(),
            events,
            gate,
            disabled,
            warnings: warnings(plan),
        }
    }

    /// The generated Jobs as `job/NAME`, one a line, for a shell (`plan -o name`): in gate
    /// mode each job's Job in list order, otherwise every generated Job in the order the
    /// hooks run, each once. `kubectl wait`, `get` and `logs` take the form as it is.
    pub fn job_names(&self) -> String {
        let mut names: Vec<&str> = self.gate.iter().map(|g| g.name.as_str()).collect();
        for hook in self.events.iter().flat_map(|e| &e.hooks) {
            if hook.kind == "Job" && hook.job.is_some() && !names.contains(&hook.name.as_str()) {
                names.push(&hook.name);
            }
        }
        names.iter().map(|n| format!("job/{n}\n")).collect()
    }

    /// The human table; `color` adds ANSI bold to headings. With a `width` (terminal
    /// columns), tables are fitted to it (long cells cut with `…`, the least needed columns
    /// left out, said at the end) and prose is wrapped; without one (`plan -o wide`) every
    /// value is whole, one line each. Either way a newline or other control character in a
    /// value shows escaped (`\n`) and never breaks a line.
    pub fn table(&self, color: bool, width: Option<usize>) -> String {
        let bold = |s: &str| {
            if color {
                let bold = anstyle::Style::new().bold();
                format!("{bold}{s}{bold:#}")
            } else {
                s.to_string()
            }
        };
        // A heading, wrapped like prose, bold line by line.
        let heading = |out: &mut String, text: &str| {
            let mut lines = String::new();
            fit::wrap(&mut lines, "", 2, text, width);
            for line in lines.lines() {
                let _ = writeln!(out, "{}", bold(line));
            }
        };
        let mut out = String::new();
        let mut fits = Fits::default();
        let env = self
            .environment
            .as_deref()
            .unwrap_or("(none: `_default` entries apply)");
        let mut first = String::new();
        fit::wrap(&mut first, "", 2, &format!("Environment: {env}"), width);
        // Bold the label only, as before.
        let _ = write!(
            out,
            "{}{}",
            bold("Environment:"),
            &first["Environment:".len()..]
        );
        if !self.gate.is_empty() {
            out.push('\n');
            heading(
                &mut out,
                "Gate mode: ordinary Jobs, held in order in the cluster",
            );
            let rows: Vec<Vec<String>> = self.gate.iter().map(gate_row).collect();
            let fitted = fits.add(fit::tables(&GATE_COLUMNS, &[rows], width));
            out.push_str(&fitted.concat());
            for g in self.gate.iter().filter(|g| !g.not_held.is_empty()) {
                out.push('\n');
                heading(&mut out, &format!("Runs pods, not held by {}:", g.job));
                for n in &g.not_held {
                    fit::wrap(
                        &mut out,
                        "  - ",
                        4,
                        &format!("{}: {}", n.object, n.reason),
                        width,
                    );
                }
            }
        } else if self.events.is_empty() {
            let _ = writeln!(out, "\nNo hooks run in this environment.");
        }
        let hooks: Vec<Vec<Vec<String>>> = self
            .events
            .iter()
            .map(|e| e.hooks.iter().map(row).collect())
            .collect();
        let hooks = fits.add(fit::tables(&HOOK_COLUMNS, &hooks, width));
        for (event, table) in self.events.iter().zip(hooks) {
            out.push('\n');
            heading(&mut out, &event.event);
            out.push_str(&table);
        }
        if !self.disabled.is_empty() {
            out.push('\n');
            heading(&mut out, "Disabled in this environment:");
            for d in &self.disabled {
                fit::wrap(
                    &mut out,
                    "  ",
                    4,
                    &format!("{}: {}", d.job, d.reason),
                    width,
                );
            }
        }
        if !self.warnings.is_empty() {
            out.push('\n');
            heading(&mut out, "Warnings:");
            for w in &self.warnings {
                fit::wrap(&mut out, "  - ", 4, w, width);
            }
        }
        if let Some(note) = fits.note(width) {
            out.push('\n');
            for line in note.lines() {
                fit::wrap(&mut out, "", 0, line, width);
            }
        }
        out
    }
}

/// The width `plan` fits its table to when neither `COLUMNS` nor a terminal says: a log or a
/// pager read by a person, as wide as a terminal commonly is. `-o wide` and `-o json` cut nothing.
pub const DEFAULT_WIDTH: usize = 100;

/// The hooks of one event. Free text gives way first (an image keeps its tag); then the
/// columns a reader needs least go (the delete policy, then the image), as `kubectl get`
/// keeps some columns for `-o wide`.
const HOOK_COLUMNS: [fit::Column; 8] = [
    fit::Column::keep("WEIGHT"),
    fit::Column::keep("KIND"),
    fit::Column::keep("NAME"),
    fit::Column::give("WAITS FOR", 16),
    fit::Column::give("IMAGE", 16)
        .keeping_the_end()
        .or_leave_out(2),
    fit::Column::give("COMMAND", 30),
    fit::Column::keep("DEADLINE"),
    fit::Column::keep("DELETE POLICY").or_leave_out(1),
];

/// The jobs of gate mode. The Job's name goes first (`plan -o name` prints it whole), then
/// the image: what a job runs after and waits for is the point of the table.
const GATE_COLUMNS: [fit::Column; 7] = [
    fit::Column::keep("JOB"),
    fit::Column::keep("JOB NAME").or_leave_out(1),
    fit::Column::give("RUNS", 40),
    fit::Column::give("WAITS FOR", 16),
    fit::Column::give("IMAGE", 16)
        .keeping_the_end()
        .or_leave_out(2),
    fit::Column::give("COMMAND", 30),
    fit::Column::keep("DEADLINE"),
];

/// What fitting the tables cost, said once at the end.
#[derive(Default)]
struct Fits {
    left_out: Vec<&'static str>,
    cut: bool,
}

impl Fits {
    /// The fitted tables' text; what was cut or left out is kept for the note.
    fn add(&mut self, fitted: fit::Fitted) -> Vec<String> {
        self.cut |= fitted.cut;
        for heading in fitted.left_out {
            if !self.left_out.contains(&heading) {
                self.left_out.push(heading);
            }
        }
        fitted.tables
    }

    fn note(&self, width: Option<usize>) -> Option<String> {
        let width = width?;
        let mut what = Vec::new();
        if let [columns @ .., last] = self.left_out.as_slice() {
            let columns = match columns {
                [] => (*last).to_string(),
                _ => format!("{} and {last}", columns.join(", ")),
            };
            what.push(format!("{columns} left out"));
        }
        if self.cut {
            what.push("long values cut (…)".to_string());
        }
        (!what.is_empty()).then(|| {
            format!(
                "Fitted to {width} columns: {}.\n`-o wide` or `-o json` shows it all.",
                what.join(", ")
            )
        })
    }
}

/// One job of the gate mode's table: `before Deployment/shop; after migrate`.
fn gate_row(g: &GateJob) -> Vec<String> {
    let mut runs = Vec::new();
    if !g.gates.is_empty() {
        runs.push(format!("before {} starts", g.gates.join(", ")));
    }
    if !g.follows.is_empty() {
        runs.push(format!("after {} rolled out", g.follows.join(", ")));
    }
    if let Some(after) = &g.after {
        runs.push(format!("after Job {after}"));
    }
    vec![
        g.job.clone(),
        g.name.clone(),
        runs.join("; "),
        g.wait_for.join(", "),
        g.image.clone().unwrap_or_default(),
        g.command.as_ref().map(|w| w.join(" ")).unwrap_or_default(),
        format!("{}s", g.active_deadline_seconds),
    ]
}

/// Fills in a generated Job's image, command and deadline: its first container's, with
/// `command` replacing the container's command words when given.
fn describe_job(hook: &mut Hook, object: &crate::k8s::Job, command: Option<Vec<String>>) {
    let (image, words) = main_command(object);
    hook.image = image;
    hook.command = command.or(words);
    hook.active_deadline_seconds = Some(object.spec.active_deadline_seconds);
}

/// A Job's first container's image, and its command and args as one list of words.
fn main_command(object: &crate::k8s::Job) -> (Option<String>, Option<Vec<String>>) {
    let main = object.spec.template.spec.containers.first();
    let words = main.and_then(|c| {
        let words: Vec<String> = c
            .command
            .clone()
            .unwrap_or_default()
            .into_iter()
            .chain(c.args.clone().unwrap_or_default())
            .collect();
        (!words.is_empty()).then_some(words)
    });
    (main.map(|c| c.image.clone()), words)
}

/// `(stop) Deployment/web StatefulSet/db`.
fn step<'a>(name: &str, targets: impl IntoIterator<Item = &'a StopTarget>) -> Vec<String> {
    std::iter::once(format!("({name})"))
        .chain(targets.into_iter().map(StopTarget::id))
        .collect()
}

fn row(h: &Hook) -> Vec<String> {
    vec![
        h.weight.to_string(),
        h.kind.clone(),
        h.name.clone(),
        h.wait_for.join(", "),
        h.image.clone().unwrap_or_default(),
        match (&h.command, &h.copy_of, &h.chart_hook) {
            (Some(words), _, _) => words.join(" "),
            (None, Some(of), _) => format!("(copy of {of})"),
            (None, None, Some(_)) if h.read_by.is_empty() => "(the chart's hook)".to_string(),
            (None, None, Some(_)) => {
                format!("(the chart's hook, read by {})", h.read_by.join(", "))
            }
            (None, None, None) => String::new(),
        },
        h.active_deadline_seconds
            .map(|s| format!("{s}s"))
            .unwrap_or_default(),
        h.delete_policy.clone(),
    ]
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

/// Argo CD runs phases, not Helm events: pre-install and pre-upgrade are one PreSync that
/// runs at every sync, so each hook is listed once under the phase it runs in.
fn argocd_phases(events: Vec<EventHooks>) -> Vec<EventHooks> {
    let mut phases: Vec<EventHooks> = Vec::new();
    for (event, phase) in crate::facts::ARGOCD_PHASES {
        let Some(from) = events.iter().find(|e| e.event == *event) else {
            continue;
        };
        if !phases.iter().any(|p| p.event == *phase) {
            phases.push(EventHooks {
                event: (*phase).to_string(),
                hooks: Vec::new(),
            });
        }
        let into = phases
            .iter_mut()
            .find(|p| p.event == *phase)
            .expect("pushed above");
        for hook in &from.hooks {
            if !into
                .hooks
                .iter()
                .any(|h| h.kind == hook.kind && h.name == hook.name)
            {
                let mut hook = hook.clone();
                // What Argo CD reads: its own policy names, BeforeHookCreation always first.
                let mut policies = vec!["BeforeHookCreation"];
                for policy in hook.delete_policy.split(',') {
                    match policy.trim() {
                        "hook-succeeded" => policies.push("HookSucceeded"),
                        "hook-failed" => policies.push("HookFailed"),
                        _ => {}
                    }
                }
                hook.delete_policy = policies.join(",");
                into.hooks.push(hook);
            }
        }
        into.hooks
            .sort_by(|a, b| (a.weight, &a.name).cmp(&(b.weight, &b.name)));
    }
    phases
}

impl GateJob {
    fn of(
        job: &spec::Job,
        output: &crate::plan::JobOutput,
        gating: &crate::strategy::Gating,
    ) -> GateJob {
        let (image, command) = main_command(&output.object);
        GateJob {
            job: job.name().to_string(),
            name: output.object.metadata.name.clone().unwrap_or_default(),
            namespace: output.object.metadata.namespace.clone(),
            gates: gating.gates.iter().map(|w| w.id()).collect(),
            not_held: gating.not_held.clone(),
            follows: gating.follows.iter().map(|w| w.id()).collect(),
            after: gating.after.clone(),
            objects: output
                .objects
                .iter()
                .map(|o| {
                    format!(
                        "{}/{}",
                        o["kind"].as_str().unwrap_or_default(),
                        o["metadata"]["name"].as_str().unwrap_or_default()
                    )
                })
                .collect(),
            wait_for: job
                .wait_for
                .iter()
                .map(|(h, p)| format!("{h}:{p}"))
                .collect(),
            image,
            command,
            active_deadline_seconds: output.object.spec.active_deadline_seconds,
        }
    }
}

/// A job's generated objects as hooks, each under every event it runs at.
fn add_job_hooks(events: &mut Vec<EventHooks>, job: &spec::Job, output: &crate::plan::JobOutput) {
    // Each generated hook goes under every event it runs at.
    for object in output.generated() {
        let text = |key: &str| object.annotation(key).unwrap_or_default().to_string();
        let mut hook = Hook {
            weight: text(crate::WEIGHT_ANNOTATION).parse().unwrap_or_default(),
            kind: object.kind().to_string(),
            name: object.name().to_string(),
            job: Some(job.name().to_string()),
            chart_hook: None,
            read_by: Vec::new(),
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

/// The chart's own hooks, at the events where jobs run: the order is theirs and ours.
fn add_chart_hooks(events: &mut [EventHooks], plan: &Plan) {
    for (i, chart) in plan.chart_hooks.iter().enumerate() {
        let read_by: Vec<String> = plan
            .jobs
            .iter()
            .filter(|p| {
                p.output
                    .as_ref()
                    .is_some_and(|o| o.reads_chart_hooks.contains(&i))
            })
            .map(|p| p.job.name().to_string())
            .collect();
        let hook = Hook {
            weight: chart.weight,
            kind: chart.kind.clone(),
            name: chart.name.clone(),
            job: None,
            chart_hook: Some(chart.document.clone()),
            read_by,
            copy_of: None,
            wait_for: Vec::new(),
            image: None,
            command: None,
            active_deadline_seconds: None,
            delete_policy: chart.delete_policy.clone(),
        };
        for event in &chart.events {
            if let Some(e) = events.iter_mut().find(|e| &e.event == event) {
                e.hooks.push(hook.clone());
            }
        }
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
        out.extend(planned.notes.iter().cloned());
        if let Some(gating) = &output.gate {
            out.extend(gate_warnings(job, output, gating));
            continue;
        }
        let post = job
            .events
            .iter()
            .any(|e| crate::facts::AFTER_APP_EVENTS.contains(&e.as_str()));
        if post
            && output.source_waited_for_readiness
            && plan.target == crate::strategy::Target::ArgoCd
        {
            out.push(format!(
                "{}: runs at PostSync and reuses {}, which has a readiness probe: if the app is not Ready until this job has run, the sync never gets there (Argo CD runs PostSync hooks only once the app is healthy); run it pre-install/pre-upgrade (PreSync) instead",
                job.name(),
                output.source.as_deref().unwrap_or("a workload")
            ));
        } else if post && output.source_waited_for_readiness {
            out.push(format!(
                "{}: runs after install/upgrade and reuses {}, which has a readiness probe: if the app is not Ready until this job has run, `helm --wait` deadlocks (Helm waits for the app before it runs post hooks); run it pre-install/pre-upgrade instead, or, when it needs a database the release itself installs (which does not exist at pre-install), deploy with --target gate, where the app's new pods wait for the Job in the cluster",
                job.name(),
                output.source.as_deref().unwrap_or("a workload")
            ));
        }
        for chart in output
            .reads_chart_hooks
            .iter()
            .map(|&i| &plan.chart_hooks[i])
        {
            if !chart.runs_at(&job.events) {
                out.push(format!(
                    "{}: reads {}, which the chart renders as a {} hook ({}): at {} it exists only if an earlier hook left it there",
                    job.name(),
                    chart.id(),
                    chart.events.join(","),
                    chart.document,
                    job.events.join(", ")
                ));
            }
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
    out.extend(rollback_warning(plan));
    out.extend(environment_warning(plan));
    out
}

/// What a rollback does to the jobs, by target, when any of them migrates (runs before an
/// upgrade: one that runs only at install leaves nothing for a rollback to miss, and one
/// that runs only after an upgrade, warming a cache, is not a migration).
fn rollback_warning(plan: &Plan) -> Option<String> {
    let migrations = plan
        .jobs
        .iter()
        .any(|p| p.output.is_some() && p.job.events.iter().any(|e| e == "pre-upgrade"));
    let gate_mode = plan.target == crate::strategy::Target::Gate;
    if migrations && gate_mode {
        Some("rollback: rolling back re-applies the earlier release's Job, which a later one replaced (and Helm pruned), so the earlier migration runs again before the old pods pass their gate; make migrations idempotent, and backward compatible (nothing undoes them)".to_string())
    } else if migrations && plan.target == crate::strategy::Target::ArgoCd {
        Some("rollback: an Argo CD rollback syncs an earlier revision, running that revision's PreSync jobs (its older migration) again, and nothing undoes migrations; make them backward compatible or write a down migration".to_string())
    } else if migrations {
        Some("rollback: `helm rollback` does not undo migrations, and it runs the target release's pre-rollback hooks (with the old image), not these; make migrations backward compatible or write a down migration".to_string())
    } else {
        None
    }
}

/// An environment that no `when` names, but one close to it does: a typo.
fn environment_warning(plan: &Plan) -> Option<String> {
    let env = plan.environment.as_ref()?;
    let keys: Vec<String> = plan
        .jobs
        .iter()
        .filter_map(|p| p.job.spec.when.as_ref()?.as_mapping())
        .flat_map(|m| m.keys())
        .filter_map(|k| k.as_str().map(str::to_string))
        .filter(|k| k != DEFAULT_ENV_KEY)
        .collect();
    if keys.contains(env) {
        return None;
    }
    let close = spec::closest(env, &keys)?;
    Some(format!(
        "environment `{env}` is not a key of any job's `when`, but `{close}` is: a typo? Only `{DEFAULT_ENV_KEY}` entries apply"
    ))
}

/// The gate mode's warnings for one job: rollouts that take the app down while the gate
/// holds the new pods, and a follow-up job the app's readiness may wait for.
fn gate_warnings(
    job: &spec::Job,
    output: &crate::plan::JobOutput,
    gating: &crate::strategy::Gating,
) -> Vec<String> {
    let mut out = Vec::new();
    for w in &gating.gates {
        if let Some(why) = &w.downtime {
            out.push(format!("{}: gates {}, but {why}", job.name(), w.id()));
        }
        if w.kind == "Job" {
            out.push(format!(
                "{}: gates {}, the chart's own Job: a Job's pod template cannot change, so unless its name changes with every release (include .Release.Revision or a hash of its content), an apply after the migration changed fails with `field is immutable`",
                job.name(),
                w.id()
            ));
        }
    }
    let moved: Vec<&crate::strategy::Workload> = gating
        .gates
        .iter()
        .filter(|w| w.left_default.is_some())
        .collect();
    if let Some(first) = moved.first() {
        let lacking: Vec<String> = moved
            .iter()
            .filter(|w| w.left_default == Some(crate::strategy::PullSecrets::None))
            .map(|w| w.id())
            .collect();
        out.push(format!(
            "{}: gates {}, which ran as the namespace's `default` ServiceAccount: their pods now run as `{}`, since granting the gate's read access to `default` would grant it to every pod of the namespace{}",
            job.name(),
            moved.iter().map(|w| w.id()).collect::<Vec<_>>().join(", "),
            first.service_account,
            if lacking.is_empty() {
                String::new()
            } else {
                format!(
                    ". Image pull secrets that `default` carries do not come along: list them in the imagePullSecrets of {}",
                    lacking.join(", ")
                )
            }
        ));
    }
    if !gating.volatile.is_empty() {
        out.push(format!(
            "{}: the app's pod annotations {} change with every render or config change and are left out of the Job's pod, whose content names the Job (the config it reads is in that name already): copied, they would run the job again at deploys that change nothing of its own",
            job.name(),
            gating
                .volatile
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let (image, _) = main_command(&output.object);
    if let Some(tag) = image.as_deref().and_then(crate::images::mutable_tag) {
        out.push(format!(
            "{}: its image's tag is {tag}: an image pushed again under the same tag does not change the Job's name, so the job does not run again; use a versioned tag or a digest",
            job.name()
        ));
    }
    if !gating.follows.is_empty() && output.source_waited_for_readiness {
        out.push(format!(
            "{}: runs once {} has rolled out, and {} has a readiness probe: if the app is not Ready until this job has run, the rollout never completes and the job never runs; run it at pre-install,pre-upgrade instead (it then gates the app)",
            job.name(),
            gating.follows.iter().map(|w| w.id()).collect::<Vec<_>>().join(", "),
            output.source.as_deref().unwrap_or("the app")
        ));
    }
    out
}

/// What an exclusive job stops, what it leaves running, and whether its stop step fits in
/// the time Helm gives it.
fn exclusive_warnings(job: &spec::Job, stop: &crate::strategy::Stop) -> Vec<String> {
    let name = job.name();
    let ids: Vec<String> = stop.targets.iter().map(StopTarget::id).collect();
    let restarted: Vec<String> = stop.restarted().map(StopTarget::id).collect();
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
                crate::strategy::output::start_events(&job.events).join(", "),
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
            need + crate::strategy::output::STOP_OVERHEAD_SECONDS + crate::helm::TIMEOUT_MARGIN
        ));
    }
    let deadline = stop.stop_job.spec.active_deadline_seconds;
    if stop.helm_timeout() > crate::helm::DEFAULT_TIMEOUT {
        out.push(format!(
            "{name}: its stop step may run {deadline}s (stopTimeoutSeconds {} plus {}s for its kubectl calls), longer than Helm's default --timeout of 5m allows: give Helm the --timeout given to deploy-jobs ({}s or more)",
            stop.wait_seconds,
            crate::strategy::output::STOP_OVERHEAD_SECONDS,
            stop.helm_timeout()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Options, render};

    /// A Deployment (or `kind`) with an `app` container; `pod` adds to its pod spec and
    /// `container` to the container, both indented as YAML at their place.
    fn workload(kind: &str, replicas: &str, container: &str, pod: &str) -> String {
        let pod_spec = format!(
            "      containers:\n      - name: app\n        image: shop:1\n{container}{pod}"
        );
        let template = format!(
            "  template:\n    metadata:\n      labels: {{app: shop}}\n    spec:\n{pod_spec}"
        );
        let spec = match kind {
            "CronJob" => format!(
                "  schedule: '@daily'\n  jobTemplate:\n    spec:\n{}",
                template
                    .lines()
                    .map(|l| format!("    {l}\n"))
                    .collect::<String>()
            ),
            _ => format!("{replicas}  selector:\n    matchLabels: {{app: shop}}\n{template}"),
        };
        format!(
            "---\napiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: shop\n  labels:\n    app.kubernetes.io/instance: shop\nspec:\n{spec}"
        )
    }

    const PROBE: &str = "        readinessProbe: {tcpSocket: {port: 8080}}\n";

    /// The plan warnings for `stream` with a DeployJobs document holding `jobs`.
    fn warnings_for(stream: &str, jobs: &str, environment: Option<&str>) -> Vec<String> {
        let input = format!(
            "{stream}---\napiVersion: deploy-jobs/v1\nkind: DeployJobs\nmetadata:\n  name: shop\ndeploy_jobs:\n{jobs}"
        );
        let options = Options {
            environment: environment.map(str::to_string),
            ..Options::default()
        };
        let rendered = render(input.as_bytes(), &options).expect("renders");
        Report::of(rendered.plan.as_ref().expect("a plan")).warnings
    }

    fn fires(what: &str, stream: &str, jobs: &str, environment: Option<&str>) -> bool {
        warnings_for(stream, jobs, environment)
            .iter()
            .any(|w| w.contains(what))
    }

    const READINESS: &str = "`helm --wait` deadlocks";

    #[test]
    fn readiness_warning_fires_where_helm_wait_can_deadlock() {
        let post = "- {name: warm, container: app, command: [warm], when: post-upgrade}\n";
        let probed = workload("Deployment", "  replicas: 2\n", PROBE, "");
        assert!(
            fires(READINESS, &probed, post, None),
            "post-upgrade, probed Deployment"
        );
        let sidecar = workload(
            "Deployment",
            "",
            "",
            "      initContainers:\n      - name: proxy\n        image: proxy:1\n        restartPolicy: Always\n        readinessProbe: {tcpSocket: {port: 5432}}\n",
        );
        assert!(
            fires(READINESS, &sidecar, post, None),
            "a native sidecar's probe gates the pod's readiness too"
        );
    }

    #[test]
    fn readiness_warning_is_silent_where_nothing_can_deadlock() {
        let post = "- {name: warm, container: app, command: [warm], when: post-upgrade}\n";
        let pre = "- {name: migrate, container: app, command: [migrate], when: pre-upgrade}\n";
        let probed = workload("Deployment", "", PROBE, "");
        for (why, stream, jobs) in [
            (
                "a pre-upgrade job runs before the wait",
                probed.clone(),
                pre,
            ),
            (
                "no probe: pods are Ready once running",
                workload("Deployment", "", "", ""),
                post,
            ),
            (
                "replicas: 0: nothing to wait for",
                workload("Deployment", "  replicas: 0\n", PROBE, ""),
                post,
            ),
            (
                "helm --wait does not wait for a CronJob",
                workload("CronJob", "", PROBE, ""),
                post,
            ),
        ] {
            assert!(!fires(READINESS, &stream, jobs, None), "{why}");
        }
    }

    #[test]
    fn external_reference_warning_only_for_objects_that_must_exist() {
        let refs = |optional: &str| {
            workload(
                "Deployment",
                "",
                &format!("        envFrom:\n        - secretRef: {{name: db{optional}}}\n"),
                "",
            )
        };
        let job = "- {name: migrate, container: app, command: [migrate]}\n";
        let external = "Secret `db` is not rendered by the chart";
        assert!(fires(external, &refs(""), job, None), "not rendered");
        let secret = |annotations: &str| {
            format!(
                "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n{annotations}stringData: {{p: x}}\n"
            )
        };
        let rendered = format!("{}{}", secret(""), refs(""));
        assert!(
            !fires(external, &rendered, job, None),
            "rendered by the chart"
        );
        let hook = format!(
            "{}{}",
            secret("  annotations: {helm.sh/hook: 'pre-install,pre-upgrade'}\n"),
            refs("")
        );
        assert!(!fires(external, &hook, job, None), "a hook of the chart");
        assert!(
            !fires(external, &refs(", optional: true"), job, None),
            "optional: the pod starts without it"
        );
    }

    #[test]
    fn chart_hook_of_other_events_warning() {
        let stream = |events: &str| {
            format!(
                "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  annotations: {{helm.sh/hook: '{events}'}}\nstringData: {{p: x}}\n{}",
                workload(
                    "Deployment",
                    "",
                    "        envFrom:\n        - secretRef: {name: db}\n",
                    ""
                )
            )
        };
        let job = "- {name: migrate, container: app, command: [migrate], when: pre-install}\n";
        let warning = "which the chart renders as a post-install hook";
        assert!(fires(warning, &stream("post-install"), job, None));
        assert!(!fires(
            "which the chart renders as",
            &stream("pre-install"),
            job,
            None
        ));
    }

    #[test]
    fn policy_and_downtime_warnings_fire_only_when_set() {
        let app = workload("Deployment", "", "", "");
        let job = |extra: &str| {
            format!("- {{name: migrate, container: app, command: [migrate]{extra}}}\n")
        };
        for (warning, setting) in [
            (
                "deletes a failed Job, and its logs",
                ", deletePolicy: 'before-hook-creation,hook-failed'",
            ),
            (
                "ttlSecondsAfterFinished deletes the Job",
                ", ttlSecondsAfterFinished: 60",
            ),
            ("causes downtime", ", exclusive: all"),
        ] {
            assert!(
                fires(warning, &app, &job(setting), None),
                "{warning} with {setting}"
            );
            assert!(
                !fires(warning, &app, &job(""), None),
                "{warning} without {setting}"
            );
        }
    }

    #[test]
    fn rollback_warning_only_for_jobs_before_an_upgrade() {
        let app = workload("Deployment", "", "", "");
        let job =
            |when: &str| format!("- {{name: j, container: app, command: [j], when: '{when}'}}\n");
        let rollback = "`helm rollback` does not undo migrations";
        assert!(fires(rollback, &app, &job("pre-install,pre-upgrade"), None));
        assert!(
            !fires(rollback, &app, &job("pre-install"), None),
            "install only"
        );
        assert!(
            !fires(rollback, &app, &job("post-upgrade"), None),
            "after the upgrade"
        );
    }

    #[test]
    fn environment_typo_warning_only_for_near_misses() {
        let app = workload("Deployment", "", "", "");
        let job = "- {name: j, container: app, command: [j], when: {production: pre-upgrade, _default: pre-install}}\n";
        let typo = "a typo?";
        assert!(fires(typo, &app, job, Some("prodution")));
        assert!(!fires(typo, &app, job, Some("production")), "a key of when");
        assert!(
            !fires(typo, &app, job, Some("staging")),
            "far from every key"
        );
    }

    /// The plan warnings of `--target gate` for `stream` with a DeployJobs document.
    fn gate_warnings_for(stream: &str, jobs: &str) -> Vec<String> {
        let input = format!(
            "{stream}---\napiVersion: deploy-jobs/v1\nkind: DeployJobs\nmetadata:\n  name: shop\ndeploy_jobs:\n{jobs}"
        );
        let options = Options {
            target: crate::Target::Gate,
            ..Options::default()
        };
        let rendered = render(input.as_bytes(), &options).expect("renders");
        Report::of(rendered.plan.as_ref().expect("a plan")).warnings
    }

    #[test]
    fn gate_downtime_warnings_fire_only_for_rollouts_that_stop_pods_first() {
        let job = "- {name: migrate, container: app, command: [migrate]}\n";
        let down = "is down while the migration runs";
        let with_spec = |kind: &str, spec: &str| workload(kind, spec, "", "");
        for (why, stream) in [
            (
                "Recreate",
                with_spec(
                    "Deployment",
                    "  replicas: 3\n  strategy: {type: Recreate}\n",
                ),
            ),
            (
                "one replica allowed to go unavailable",
                with_spec(
                    "Deployment",
                    "  replicas: 1\n  strategy: {rollingUpdate: {maxUnavailable: 1}}\n",
                ),
            ),
            (
                "one replica (the default), 100% unavailable",
                with_spec(
                    "Deployment",
                    "  strategy: {rollingUpdate: {maxUnavailable: '100%'}}\n",
                ),
            ),
            ("a StatefulSet", with_spec("StatefulSet", "  replicas: 1\n")),
            ("a DaemonSet", with_spec("DaemonSet", "")),
        ] {
            let warnings = gate_warnings_for(&stream, job);
            assert!(
                warnings.iter().any(|w| w.contains(down)),
                "{why}: {warnings:?}"
            );
        }
        for (why, stream) in [
            (
                "rolling update of one replica: maxUnavailable 25% rounds down to 0",
                with_spec("Deployment", "  replicas: 1\n"),
            ),
            (
                "two replicas, one unavailable: the other serves",
                with_spec(
                    "Deployment",
                    "  replicas: 2\n  strategy: {rollingUpdate: {maxUnavailable: 1}}\n",
                ),
            ),
            (
                "a StatefulSet updated OnDelete",
                with_spec("StatefulSet", "  updateStrategy: {type: OnDelete}\n"),
            ),
        ] {
            let warnings = gate_warnings_for(&stream, job);
            assert!(
                !warnings.iter().any(|w| w.contains(down)),
                "{why}: {warnings:?}"
            );
        }
    }

    #[test]
    fn gate_readiness_warning_only_for_a_follow_up_job_of_a_probed_app() {
        let post =
            "- {name: warm, container: app, command: [warm], when: 'post-install,post-upgrade'}\n";
        let pre = "- {name: migrate, container: app, command: [migrate]}\n";
        let never = "the rollout never completes";
        let probed = workload("Deployment", "", PROBE, "");
        assert!(
            gate_warnings_for(&probed, post)
                .iter()
                .any(|w| w.contains(never))
        );
        assert!(
            !gate_warnings_for(&probed, pre)
                .iter()
                .any(|w| w.contains(never)),
            "a job that gates the app runs first"
        );
        assert!(
            !gate_warnings_for(&workload("Deployment", "", "", ""), post)
                .iter()
                .any(|w| w.contains(never)),
            "no probe"
        );
    }

    #[test]
    fn gate_rollback_warning_says_the_earlier_job_runs_again() {
        let app = workload("Deployment", "", "", "");
        let job = "- {name: migrate, container: app, command: [migrate]}\n";
        let warnings = gate_warnings_for(&app, job);
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("the earlier migration runs again")),
            "{warnings:?}"
        );
        assert!(
            !warnings.iter().any(|w| w.contains("pre-rollback hooks")),
            "no hooks in gate mode: {warnings:?}"
        );
    }
}
