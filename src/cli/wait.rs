//! `deploy-jobs wait`: reads what to follow (a plan, from the stream or a file), runs the
//! library's follower on a single-threaded runtime, and prints what it reports.
#![allow(clippy::print_stderr)]

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use deploy_jobs::render;
use deploy_jobs::report::Report;
use deploy_jobs::wait::{self, WaitList, cluster};

use super::{RenderArgs, options, read_stdin};

const WAIT_TIMEOUT_HELP: &str = "How long the deploy has, as given to `render` (Go duration: 5m, 1h30m): the wait gives up then, naming what is still pending. Default: the longest Job deadline plus 10 minutes for the rollouts";

#[derive(Args, Debug)]
#[command(mut_arg("timeout", |arg| arg.help(WAIT_TIMEOUT_HELP)))]
pub(super) struct WaitArgs {
    /// The same flags as `render` (the same `--target`, `--env`, `--values`, `--name-prefix`,
    /// `--namespace`), so the same Jobs are followed. `--timeout` bounds the wait (default:
    /// the longest Job deadline plus 10 minutes for the rollouts).
    #[command(flatten)]
    render: RenderArgs,
    /// Read what to follow from this file, written by `plan -o json` with the deploy's flags,
    /// instead of a stream on stdin.
    #[arg(long, value_name = "FILE")]
    plan: Option<std::path::PathBuf>,
    /// The kubeconfig context to use (default: its current context; in a pod without a
    /// kubeconfig, the pod's ServiceAccount).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
}

/// `deploy-jobs wait`: what to follow comes from a plan; the library follows it and this
/// prints what it says.
#[allow(clippy::print_stdout)]
pub(super) fn wait(args: &WaitArgs) -> Result<ExitCode> {
    let targets = wait_targets(args)?;
    if targets.jobs.is_empty() {
        println!("nothing to wait for: no job runs in this deploy");
        return Ok(ExitCode::SUCCESS);
    }
    let options = cluster::Options {
        namespace: args.render.namespace.clone(),
        timeout: Some(std::time::Duration::from_secs(
            args.render
                .timeout
                .unwrap_or_else(|| wait::default_timeout(&targets)),
        )),
        poll: std::time::Duration::from_secs(2),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut view = WaitView::new();
    let verdict = runtime.block_on(async {
        let client = cluster::connect(args.context.as_deref()).await?;
        cluster::follow(client, targets, &options, &mut |p, pending| {
            view.say(p, &pending)
        })
        .await
    });
    view.finish();
    let verdict = verdict?;
    let text = wait::verdict_text(&verdict);
    match verdict {
        wait::Verdict::Succeeded => {
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprint!("{text}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// What `wait` follows: the plan of the stream on stdin, or of `--plan FILE`.
fn wait_targets(args: &WaitArgs) -> Result<WaitList> {
    let text = match &args.plan {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => {
            let input = read_stdin("wait")?;
            if input.iter().all(u8::is_ascii_whitespace) {
                bail!(
                    "the stream on stdin is empty: nothing was rendered (did `helm template` fail before the pipe?)"
                );
            }
            let rendered = render(&input, &options(&args.render)?)?;
            let report = rendered
                .plan
                .as_ref()
                .map_or_else(Report::empty, Report::of);
            serde_json::to_string(&report).context("reading the plan")?
        }
    };
    wait::from_plan_json(&text)
}

/// Prints a wait's progress: plain lines with the time since the start; on a terminal, a
/// status line under them says what is still pending.
struct WaitView {
    start: std::time::Instant,
    live: bool,
}

impl WaitView {
    fn new() -> WaitView {
        WaitView {
            start: std::time::Instant::now(),
            live: io::stdout().is_terminal(),
        }
    }

    #[allow(clippy::print_stdout)]
    fn say(&mut self, progress: &wait::Progress, pending: &[String]) {
        let at = wait::progress::duration(self.start.elapsed().as_secs() as i64);
        let mut out = io::stdout().lock();
        if self.live {
            // Clear the status line, print the event, draw the status line again.
            let _ = write!(out, "\r\x1b[2K");
        }
        let _ = writeln!(out, "{at:>6} {progress}");
        if self.live && !pending.is_empty() {
            let mut status = format!("waiting: {}", pending.join(" · "));
            if let Some((cut, _)) = status.char_indices().nth(119) {
                status.truncate(cut);
            }
            let _ = write!(out, "\x1b[2m{status}\x1b[0m");
        }
        let _ = out.flush();
    }

    fn finish(&mut self) {
        if self.live {
            let _ = write!(io::stdout(), "\r\x1b[2K");
        }
    }
}
