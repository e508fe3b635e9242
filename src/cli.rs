//! Command line: arguments, files, stdin and stdout. The only module that does I/O.
#![allow(clippy::print_stderr)]

use std::io::{self, IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use deploy_jobs::report::Report;
use deploy_jobs::{Options, ValuesFile, helm, render, schema};
use stdio::{read_stdin, write_stdout};

mod manual;
mod stdio;
#[cfg(feature = "wait")]
mod wait;

/// Inject safe, ordered Helm hook Jobs (database migrations and other one-off deploy
/// commands) into rendered Kubernetes manifests.
///
/// Reads a manifest stream on stdin and writes it to stdout with the hook resources added.
/// Run with no command, it renders (that is how Helm calls a post-renderer).
#[derive(Parser, Debug)]
#[command(name = "deploy-jobs", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    render: RenderArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Add the hook Jobs (and hook copies of the Secrets and ConfigMaps they use) to a stream.
    ///
    ///   helm template shop ./chart | deploy-jobs render --env production > out.yaml
    Render(RenderArgs),
    /// Show what a deploy will run, without rendering: the generated hooks grouped by event
    /// in execution order, jobs disabled in this environment, and warnings.
    ///
    ///   helm template shop ./chart | deploy-jobs plan --env production
    Plan(PlanArgs),
    /// Print the JSON Schema (draft-07) of the `deploy_jobs` list, for editors and
    /// `values.schema.json`.
    Schema(SchemaArgs),
    /// Make a chart deploy-jobs-ready: add the DeployJobs template, a commented example in
    /// values.yaml and the schema in values.schema.json, list the containers jobs can reuse
    /// and the Services they can wait for, and say so when the chart bundles its database
    /// (deploy it with `--target gate`). Never rewrites what you wrote; running it again
    /// changes nothing.
    Init(InitArgs),
    /// Follow the deploy's Jobs in the cluster, after or while it is applied: their progress,
    /// the migration's log, and in gate mode the gated workloads' rollout. Exits non-zero,
    /// with the log and the reason, when a Job fails.
    ///
    ///   helm template shop ./chart | deploy-jobs wait --target gate --env production
    #[cfg(feature = "wait")]
    Wait(wait::WaitArgs),
    /// Print a shell completion script, generated from these definitions.
    ///
    ///   deploy-jobs completions bash > ~/.local/share/bash-completion/completions/deploy-jobs
    Completions(manual::CompletionsArgs),
    /// Print the man page (roff), generated from these definitions.
    ///
    ///   deploy-jobs man > ~/.local/share/man/man1/deploy-jobs.1
    Man(manual::ManArgs),
}

#[derive(Args, Debug)]
struct InitArgs {
    /// The chart directory (the one with Chart.yaml).
    chart: std::path::PathBuf,
    /// The helm binary used to render the chart and list its containers (default: $HELM_BIN,
    /// then `helm` on PATH).
    #[arg(long, value_name = "PATH")]
    helm: Option<std::path::PathBuf>,
    /// Render under this release name, to see the workload names your release will have.
    /// Without it, names show `<release>` where the release name goes.
    #[arg(long, value_name = "NAME")]
    release: Option<String>,
    /// Values files for rendering the chart, as with `helm template -f`. Repeatable.
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    values: Vec<std::path::PathBuf>,
    /// Set a value for rendering the chart, as with `helm template --set`. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Set a string value for rendering, as with `helm template --set-string`. Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    set_string: Vec<String>,
    /// Set a value from a file for rendering, as with `helm template --set-file`. Repeatable.
    #[arg(long, value_name = "KEY=PATH")]
    set_file: Vec<String>,
}

#[derive(Args, Debug)]
struct SchemaArgs {
    /// Print a whole `values.schema.json` (an object with `deploy_jobs` and `environment`)
    /// instead of the schema of the list.
    #[arg(long)]
    values: bool,
}

#[derive(Args, Debug)]
struct PlanArgs {
    #[command(flatten)]
    render: RenderArgs,
    /// `table` for people (bold headings on a terminal unless NO_COLOR is set), fitted to
    /// $COLUMNS, else the terminal's width, else 100 columns: long cells cut with `…`, warnings
    /// wrapped; `wide`: the same table with every column and value whole, one line each;
    /// `json` for machines; `name` for a shell: the generated Jobs as `job/NAME`, one a line
    /// (in gate mode each job's Job, in list order), as `kubectl get -o name` prints them.
    #[arg(long, short = 'o', value_enum, default_value = "table")]
    output: Format,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Format {
    Table,
    Wide,
    Json,
    Name,
}

#[derive(Args, Debug, Default)]
struct RenderArgs {
    /// Read `deploy_jobs` from this values file instead of the stream's DeployJobs document.
    /// Repeatable; later files win, as with Helm.
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    values: Vec<String>,
    /// Environment that picks each job's `when` entry (overrides the DeployJobs document's
    /// `environment`).
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Check that every document is valid YAML, not only those deploy-jobs reads. Helm and
    /// kubectl parse every document anyway; this catches it earlier, at several times the cost.
    #[arg(long)]
    strict: bool,
    /// Who applies the output: `helm` (hook annotations); `argocd` (adds Argo CD's hook,
    /// sync-wave and delete-policy annotations; refuses events Argo CD does not run); or
    /// `gate`: for appliers that run no hooks (Helm 3, kubectl apply, Flux, GitOps): the Job
    /// is an ordinary resource and each workload it gates waits for it in the cluster.
    #[arg(long, value_enum, default_value = "helm")]
    target: TargetArg,
    /// The `--timeout` Helm is given (Go duration: 5m, 1h30m). Every hook Job must fail
    /// inside it, or Helm would give up on a Job that keeps running; jobs without
    /// `activeDeadlineSeconds` get the timeout less a minute. Default: Helm's 5m.
    #[arg(long, value_name = "DURATION", value_parser = helm::parse_duration)]
    timeout: Option<u64>,
    /// Prefix of the generated names, normally the release name, so that two releases in one
    /// namespace never share a Job. Default: the DeployJobs document's metadata.name, else
    /// the stream's `app.kubernetes.io/instance` label, else its `release` label.
    #[arg(long, value_name = "NAME")]
    name_prefix: Option<String>,
    /// The release namespace (Helm's `-n`): objects rendered without `metadata.namespace`
    /// are taken to be there, so they can be matched with objects a chart puts there
    /// explicitly (`namespace: {{ .Release.Namespace }}`). Helm 4 does not tell a
    /// post-renderer its namespace: `--post-renderer-args=--namespace=NS`.
    #[arg(long, short = 'n', value_name = "NAME")]
    namespace: Option<String>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
enum TargetArg {
    #[default]
    Helm,
    Argocd,
    /// For appliers that run no hooks (Helm 3, kubectl apply, Flux, GitOps): the Job is an
    /// ordinary resource and each workload it gates waits for it in the cluster.
    Gate,
}

/// Whether a Helm plugin started us (Helm 4 sets these for its post-renderer plugin, but
/// Helm 3 also sets them for every plugin it runs, so the input decides; see `helm`).
fn started_as_plugin() -> bool {
    std::env::var_os("HELM_PLUGIN_NAME").is_some() && std::env::var_os("HELM_PLUGIN_DIR").is_some()
}

pub fn run() -> Result<ExitCode> {
    let plugin = started_as_plugin();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Only Helm 4 needs the error as a document, and only its input says it is Helm 4.
        Err(err) if plugin && err.use_stderr() && stdin_from_helm4() => {
            return report_to_helm4(&err.to_string());
        }
        Err(err) => err.exit(),
    };
    let args = match cli.command {
        Some(Command::Render(args)) => args,
        Some(Command::Plan(args)) => return plan_stdin(&args),
        Some(Command::Init(args)) => return init(&args),
        #[cfg(feature = "wait")]
        Some(Command::Wait(args)) => return wait::wait(&args),
        Some(Command::Completions(args)) => {
            return write_stdout(std::iter::once(manual::completions(&args).as_slice()));
        }
        Some(Command::Man(args)) => {
            return write_stdout(std::iter::once(manual::man(&args)?.as_slice()));
        }
        Some(Command::Schema(args)) => {
            let schema = if args.values {
                schema::values()
            } else {
                schema::deploy_jobs()
            };
            return write_stdout(std::iter::once(schema::to_file_text(&schema).as_bytes()));
        }
        None => cli.render,
    };
    let input = read_stdin("render")?;
    match render_stdin(&args, &input) {
        Ok(code) => Ok(code),
        Err(err) if plugin && helm::input_from_helm4(&input) => {
            report_to_helm4(&format!("{err:#}"))
        }
        Err(err) => Err(err),
    }
}

/// Whether stdin is a stream from Helm 4 (see `helm::input_from_helm4`).
fn stdin_from_helm4() -> bool {
    let stdin = io::stdin();
    let mut input = Vec::new();
    !stdin.is_terminal()
        && stdin.lock().read_to_end(&mut input).is_ok()
        && helm::input_from_helm4(&input)
}

fn options(args: &RenderArgs) -> Result<Options> {
    let mut options = Options {
        environment: args.env.clone(),
        values: Vec::new(),
        strict: args.strict,
        target: match args.target {
            TargetArg::Helm => deploy_jobs::Target::Helm,
            TargetArg::Argocd => deploy_jobs::Target::ArgoCd,
            TargetArg::Gate => deploy_jobs::Target::Gate,
        },
        helm_timeout: args.timeout,
        name_prefix: args.name_prefix.clone(),
        namespace: args.namespace.clone(),
        plan_notes: false,
    };
    for path in &args.values {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        options.values.push(ValuesFile {
            name: path.clone(),
            text,
        });
    }
    Ok(options)
}

fn render_stdin(args: &RenderArgs, input: &[u8]) -> Result<ExitCode> {
    // Gate mode emits no hooks: what Helm 3 applies is what it means.
    if !matches!(args.target, TargetArg::Gate)
        && helm::is_helm3_post_renderer(&ancestor_command_lines(), input)
    {
        bail!(helm::HELM3_REFUSAL);
    }
    refuse_nothing_rendered(input)?;
    let rendered = render(input, &options(args)?)?;
    write_stdout(rendered.stream.pieces().map(str::as_bytes))
}

/// A stream with no object in it is almost always a render that failed upstream of the pipe
/// (`sh` runs pipes without pipefail): passed on as success, it would read as "no
/// migrations", and an applier that prunes would delete the app. Helm 4 itself fails a
/// post-renderer whose output is empty, so a chart with no resources cannot deploy through
/// deploy-jobs there either; refusing it here says why in the same words everywhere.
fn refuse_nothing_rendered(input: &[u8]) -> Result<()> {
    // Bytes, not text: the first line with content ends the look (a text conversion would
    // read the whole stream first; `render` checks the encoding anyway).
    let input = input.strip_prefix("\u{feff}".as_bytes()).unwrap_or(input);
    let nothing = input.split(|&b| b == b'\n').all(|line| {
        let line = line.trim_ascii();
        line.is_empty() || line.starts_with(b"#") || line == b"---" || line == b"..."
    });
    if nothing {
        bail!(
            "the stream on stdin holds no object: nothing was rendered (did `helm template` fail before the pipe?); deploy-jobs refuses to pass an empty stream off as a chart"
        );
    }
    Ok(())
}

fn plan_stdin(args: &PlanArgs) -> Result<ExitCode> {
    let input = read_stdin("plan")?;
    // A plan of nothing reads like "no migrations here".
    refuse_nothing_rendered(&input)?;
    let options = Options {
        plan_notes: true,
        ..options(&args.render)?
    };
    let rendered = render(&input, &options)?;
    let report = match &rendered.plan {
        Some(plan) => Report::of(plan),
        None => Report::empty(),
    };
    let text = match args.output {
        Format::Json => serde_json::to_string_pretty(&report).context("writing JSON")? + "\n",
        Format::Name => report.job_names(),
        Format::Table | Format::Wide => {
            let color = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let width = matches!(args.output, Format::Table).then(table_width);
            report.table(color, width)
        }
    };
    write_stdout(std::iter::once(text.as_bytes()))
}

/// The width `plan` fits its table to: `COLUMNS` when it holds a number, else the terminal's
/// when stdout is one, else `DEFAULT_WIDTH` (a pipe to a pager or a CI log).
fn table_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c: &usize| c > 0)
        .or_else(|| terminal_size::terminal_size_of(io::stdout()).map(|(w, _)| usize::from(w.0)))
        .unwrap_or(deploy_jobs::report::DEFAULT_WIDTH)
}

fn init(args: &InitArgs) -> Result<ExitCode> {
    use deploy_jobs::generate;
    let dir = &args.chart;
    if !dir.join("Chart.yaml").is_file() {
        bail!(
            "{} is not a Helm chart: it has no Chart.yaml (give the chart's directory)",
            dir.display()
        );
    }
    let read = |path: &str| std::fs::read_to_string(dir.join(path)).ok();
    let chart = generate::Chart {
        template: read(generate::TEMPLATE_PATH),
        values: read(generate::VALUES_PATH),
        schema: read(generate::SCHEMA_PATH),
    };
    let (workloads, services, databases) = match rendered_chart(args) {
        Ok(out) => (
            deploy_jobs::render::workloads(&out),
            generate::services(&out),
            generate::databases(&out),
        ),
        Err(err) => (Err(err), Vec::new(), Vec::new()),
    };
    let first_container = workloads
        .as_ref()
        .ok()
        .and_then(|w| w.iter().find_map(|(_, c)| c.first().cloned()));
    let changes = generate::init(&chart, first_container.as_deref())
        .with_context(|| format!("{}", dir.display()))?;
    for change in &changes {
        if let Some(content) = &change.content {
            let path = dir.join(change.path);
            let tmp = path.with_extension("deploy-jobs-tmp");
            std::fs::write(&tmp, content)
                .and_then(|()| std::fs::rename(&tmp, &path))
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let release = match &args.release {
        Some(name) => generate::Release::Named(name),
        None => generate::Release::Placeholder,
    };
    let report = generate::summary(
        &dir.display().to_string(),
        &changes,
        &workloads,
        &services,
        &databases,
        &release,
    );
    write_stdout(std::iter::once(report.as_bytes()))
}

/// Renders the chart with helm, for its containers and Services.
fn rendered_chart(args: &InitArgs) -> Result<Vec<u8>> {
    let helm = args
        .helm
        .clone()
        .or_else(|| std::env::var_os("HELM_BIN").map(Into::into))
        .unwrap_or_else(|| "helm".into());
    let release = args
        .release
        .as_deref()
        .unwrap_or(deploy_jobs::generate::PLACEHOLDER_RELEASE);
    let mut command = std::process::Command::new(&helm);
    command.arg("template").arg(release).arg(&args.chart);
    for file in &args.values {
        command.arg("--values").arg(file);
    }
    for (flag, values) in [
        ("--set", &args.set),
        ("--set-string", &args.set_string),
        ("--set-file", &args.set_file),
    ] {
        for value in values {
            command.arg(flag).arg(value);
        }
    }
    let out = command
        .output()
        .with_context(|| format!("running {}", helm.display()))?;
    if !out.status.success() {
        bail!(
            "helm template failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// Helm 4 discards a plugin's stderr; report through a document it will refuse (see `helm`).
fn report_to_helm4(message: &str) -> Result<ExitCode> {
    eprintln!("error: {message}");
    write_stdout(std::iter::once(helm::error_document(message).as_bytes()))
}

/// Writes the whole output; it was built completely before this is called.
/// The command lines of the parent process, its parent, and so on up to init, where the OS
/// tells (Linux); empty elsewhere.
#[cfg(not(unix))]
fn ancestor_command_lines() -> Vec<Vec<String>> {
    Vec::new()
}

/// The command lines of the parent process, its parent, and so on up to init, where the OS
/// tells (Linux); empty elsewhere.
#[cfg(unix)]
fn ancestor_command_lines() -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut pid = std::os::unix::process::parent_id();
    // A bound, not an expectation: process trees are shallow.
    for _ in 0..64 {
        if pid <= 1 {
            break;
        }
        let args: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|raw| {
                raw.split(|&b| b == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        out.push(args);
        // /proc/PID/stat: `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let Some(parent) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let after = &stat[stat.rfind(')')? + 1..];
                after.split_whitespace().nth(1)?.parse().ok()
            })
        else {
            break;
        };
        pid = parent;
    }
    out
}
