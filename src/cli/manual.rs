//! `deploy-jobs completions` and `deploy-jobs man`: shell completion scripts and man pages,
//! generated from the clap definitions in `cli`, so they always describe the binary that
//! prints them. Writing them to a file is the caller's choice (a package, a dotfile).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, CommandFactory};

use super::Cli;

/// The name users type, and the one completion scripts register.
const BIN_NAME: &str = "deploy-jobs";

#[derive(Args, Debug)]
pub(super) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub(super) struct ManArgs {
    /// Print the page of this command (`deploy-jobs-plan(1)`, ...) instead of
    /// `deploy-jobs(1)`.
    command: Option<String>,
    /// Write every page (`deploy-jobs.1` and one per command) into this directory instead of
    /// printing one, as a package installs them.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    dir: Option<PathBuf>,
}

/// The completion script for `args.shell`.
pub(super) fn completions(args: &CompletionsArgs) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), BIN_NAME, &mut out);
    if args.shell == clap_complete::Shell::Bash {
        out = mend_bash_state_labels(&out);
    }
    out
}

/// clap_complete's bash script (4.6.12) spells the state of a command's words two ways when
/// the binary's name has a hyphen: its loop arrives at `deploy__jobs__subcmd__plan`, its case
/// arms read `deploy__subcmd__jobs__subcmd__plan`, so nothing after a command ever completed
/// (clap-rs/clap#6421, open). The arms are respelled the loop's way; once clap spells them
/// so itself, this replaces nothing.
fn mend_bash_state_labels(script: &[u8]) -> Vec<u8> {
    let script = String::from_utf8_lossy(script);
    script
        .replace("deploy__subcmd__jobs__subcmd__", "deploy__jobs__subcmd__")
        .into_bytes()
}

/// The roff of one page, or nothing printed when the pages went into `--dir`.
pub(super) fn man(args: &ManArgs) -> Result<Vec<u8>> {
    let mut cli = Cli::command().disable_help_subcommand(true);
    // Building sets each command's display name (`deploy-jobs-plan`), which titles its page.
    cli.build();
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for page in pages(&cli) {
            let man = clap_mangen::Man::new(page);
            let path = dir.join(man.get_filename());
            std::fs::write(&path, render(&man)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(Vec::new());
    }
    let page = match &args.command {
        None => cli,
        Some(name) => match cli.find_subcommand(name) {
            Some(command) => command.clone(),
            None => {
                let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
                bail!(
                    "no command `{name}` to print a page for; the commands are {}",
                    names.join(", ")
                );
            }
        },
    };
    render(&clap_mangen::Man::new(page))
}

/// The command and every command under it that `--help` shows, each a page.
fn pages(command: &clap::Command) -> Vec<clap::Command> {
    let mut all = vec![command.clone()];
    for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
        all.extend(pages(sub));
    }
    all
}

/// The page's roff, every character outside ASCII written as groff's `\[uXXXX]` escape: troff
/// reads its input as Latin-1 unless a preprocessor converts it, so a `…` in a help text
/// would print as mojibake (and groff warns) on a man that does not run `preconv`.
fn render(man: &clap_mangen::Man) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    man.render(&mut out).context("rendering the man page")?;
    let text = String::from_utf8(out).context("the man page is not UTF-8")?;
    let mut ascii = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            ascii.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    Ok(ascii.into_bytes())
}
