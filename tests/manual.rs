//! `deploy-jobs completions` and `deploy-jobs man`: the bash script loads in a real bash and
//! completes commands and values; every shell's script and the man page name every command
//! `--help` lists; the man page renders with man-db and groff without a warning.

mod common;

use std::process::Command;

use common::{BIN, succeeded};

/// The commands `deploy-jobs --help` lists (clap's `help` aside).
fn commands() -> Vec<String> {
    let help = succeeded(
        Command::new(BIN).arg("--help").output().unwrap(),
        "deploy-jobs --help",
    );
    let names: Vec<String> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect();
    assert!(
        names.iter().any(|n| n == "plan") && names.iter().any(|n| n == "man"),
        "read the command list from --help: {names:?}"
    );
    names
}

fn stdout_of(args: &[&str]) -> String {
    succeeded(
        Command::new(BIN).args(args).output().unwrap(),
        &format!("deploy-jobs {args:?}"),
    )
}

/// What bash's completion offers for `line` (the words typed, the last being completed),
/// with the script from `deploy-jobs completions bash` loaded as a user's shell loads it.
fn bash_complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let words: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        r#"set -e
source "$1"
# The function `complete -p` names is the one bash runs on <Tab>.
func=$(complete -p deploy-jobs | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
[ -n "$func" ] || {{ echo "no completion function registered" >&2; exit 1; }}
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$func" deploy-jobs "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        words = words.join(" ")
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program, "bash"])
        .arg(script)
        .output()
        .expect("bash runs");
    succeeded(out, &format!("bash completion of {words:?}"))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completion_loads_and_completes_commands_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("deploy-jobs.bash");
    std::fs::write(&script, stdout_of(&["completions", "bash"])).unwrap();

    let registered = Command::new("bash")
        .args([
            "--norc",
            "--noprofile",
            "-c",
            "source \"$1\" && complete -p deploy-jobs",
            "bash",
        ])
        .arg(&script)
        .output()
        .unwrap();
    let registered = succeeded(
        registered,
        "bash: source the script; complete -p deploy-jobs",
    );
    assert!(
        registered.starts_with("complete ") && registered.contains("deploy-jobs"),
        "sourcing the script registers a completion for deploy-jobs: {registered}"
    );

    let all = bash_complete(&script, &["deploy-jobs", ""]);
    for command in commands() {
        assert!(
            all.contains(&command),
            "<Tab> after deploy-jobs offers the command {command}: {all:?}"
        );
    }
    assert_eq!(
        bash_complete(&script, &["deploy-jobs", "pl"]),
        ["plan"],
        "a prefix completes to the one command it starts"
    );
    let targets = bash_complete(&script, &["deploy-jobs", "plan", "--target", ""]);
    for target in ["helm", "argocd", "gate"] {
        assert!(
            targets.contains(&target.to_string()),
            "--target completes its values, {target} among them: {targets:?}"
        );
    }
    let shells = bash_complete(&script, &["deploy-jobs", "completions", ""]);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(
            shells.contains(&shell.to_string()),
            "completions completes the shell names, {shell} among them: {shells:?}"
        );
    }
}

#[test]
fn every_shell_script_names_every_command() {
    let commands = commands();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = stdout_of(&["completions", shell]);
        for command in &commands {
            assert!(
                script.contains(command.as_str()),
                "the {shell} completion script names the command {command}"
            );
        }
    }
    let out = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("powershell"),
        "an unknown shell is refused, listing the shells there are"
    );
}

/// The page as man-db formats it for a reader; fails on any groff warning.
fn rendered(roff: &str, dir: &std::path::Path, name: &str) -> String {
    assert!(
        roff.is_ascii(),
        "{name} is ASCII (other characters as \\[uXXXX]), as troff reads it without preconv"
    );
    let file = dir.join(name);
    std::fs::write(&file, roff).unwrap();
    // groff's own check first: -ww turns on every warning, -z formats without output.
    let checked = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&file)
        .output()
        .expect("groff runs (Debian's groff-base)");
    assert!(
        checked.status.success() && checked.stderr.is_empty(),
        "groff formats {name} without a warning: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let out = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("man runs (Debian's man-db)");
    succeeded(out, &format!("man -l {name}"))
}

#[test]
fn man_page_renders_and_names_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie") || page.starts_with(".TH"),
        "man prints roff: {}",
        &page[..page.len().min(200)]
    );
    let text = rendered(&page, dir.path(), "deploy-jobs.1");
    assert!(
        text.contains("NAME") && text.contains("SYNOPSIS") && text.contains("OPTIONS"),
        "the page has the usual sections:\n{text}"
    );
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        text.contains(&format!("deploy-jobs {version}")),
        "the page names the version it describes:\n{text}"
    );
    let subcommands = text
        .split_once("SUBCOMMANDS")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("the page has a SUBCOMMANDS section:\n{text}"));
    for command in commands() {
        assert!(
            subcommands.contains(&format!("deploy-jobs-{command}(1)")),
            "the SUBCOMMANDS section names {command} and its page:\n{subcommands}"
        );
        let own = stdout_of(&["man", &command]);
        let own = rendered(&own, dir.path(), &format!("deploy-jobs-{command}.1"));
        assert!(
            own.contains(&format!("deploy-jobs-{command}")),
            "deploy-jobs man {command} prints that command's page:\n{own}"
        );
    }
}

#[test]
fn man_dir_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let out = Command::new(BIN)
        .args(["man", "--dir"])
        .arg(&pages)
        .output()
        .unwrap();
    assert_eq!(
        succeeded(out, "deploy-jobs man --dir"),
        "",
        "pages written to a directory are not printed too"
    );
    let mut expected: Vec<String> = commands()
        .iter()
        .map(|c| format!("deploy-jobs-{c}.1"))
        .collect();
    expected.push("deploy-jobs.1".to_string());
    expected.sort();
    let mut written: Vec<String> = std::fs::read_dir(&pages)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written, expected,
        "one page for deploy-jobs and one per command"
    );
    let out = Command::new(BIN).args(["man", "nosuch"]).output().unwrap();
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("plan"),
        "a page for an unknown command is refused, naming the commands"
    );
}
