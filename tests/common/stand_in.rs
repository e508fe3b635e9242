//! A `kubectl` stand-in for running the generated shell scripts (the stop, start and gate
//! steps) with `sh`, outside a cluster. The stand-in only replays recorded responses, in
//! order, and fails any call that differs from the recorded one; it is not a cluster.
//!
//! The scripts run with a PATH that holds only programs their image really contains (links
//! to this machine's copies), so a script that calls anything else fails here as it would
//! in the pod.

use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Command;

/// The image a script runs in.
pub struct Image {
    /// The programs on its PATH besides kubectl, each checked to be in the real image.
    pub programs: &'static [&'static str],
    /// Whether it has kubectl (the stand-in).
    pub kubectl: bool,
    /// `date` is a clock that jumps 1000 s at each reading.
    pub jumping_clock: bool,
    /// `sleep` returns at once (polling scripts then loop through the replies quickly).
    pub instant_sleep: bool,
    /// The pod's namespace (`POD_NAMESPACE`).
    pub namespace: &'static str,
}

/// The stand-in: call N must have the arguments in responses/N.args; it then prints
/// responses/N.out (to stderr when it fails, like kubectl) and exits with responses/N.rc.
/// It is not part of the image, so it uses the machine's own programs. A script that keeps
/// calling it long after the recorded calls (a script that polls for ever) is stopped: the
/// stand-in kills the script's process group, which [`play`] made its own.
const STAND_IN: &str = r#"#!/bin/sh
PATH=$STAND_IN_PATH
d=$(dirname "$0")/..
n=$(($(cat "$d/count") + 1))
echo "$n" > "$d/count"
printf '%s\n' "$*" >> "$d/calls"
r="$d/responses/$n"
if [ ! -f "$r.args" ]; then
  echo "stand-in: nothing recorded for call $n: kubectl $*" >&2
  if [ "$n" -gt $(($(cat "$d/recorded") + 20)) ]; then
    echo "stand-in: 20 calls past the recorded ones: stopping the script" >&2
    kill -9 0
  fi
  exit 97
fi
if [ "$*" != "$(cat "$r.args")" ]; then
  echo "stand-in: call $n was 'kubectl $*', recorded 'kubectl $(cat "$r.args")'" >&2
  exit 98
fi
rc=$(cat "$r.rc")
if [ "$rc" = 0 ]; then cat "$r.out"; else cat "$r.out" >&2; fi
exit "$rc"
"#;

/// A clock that jumps 1000 s at each reading (1000, 2000, ...): a wait runs out at its
/// first check after it began, whatever the machine's speed.
const JUMPING_CLOCK: &str = r#"#!/bin/sh
PATH=$STAND_IN_PATH
f=$(dirname "$0")/../clock
n=$(($(cat "$f" 2>/dev/null || echo 0) + 1))
echo "$n" > "$f"
echo $((n * 1000))
"#;

/// A recorded kubectl response: the arguments it answers, its exit status and its output.
pub struct Reply {
    pub args: String,
    pub rc: i32,
    pub out: String,
}

pub fn ok(args: &str, out: &str) -> Reply {
    Reply {
        args: args.to_string(),
        rc: 0,
        out: out.to_string(),
    }
}

pub fn err(args: &str, out: &str) -> Reply {
    Reply {
        args: args.to_string(),
        rc: 1,
        out: out.to_string(),
    }
}

/// How a script run went: its exit status, its log (stdout, then stderr) and the kubectl
/// calls it made, in order.
pub struct Outcome {
    pub success: bool,
    pub log: String,
    pub calls: Vec<String>,
}

/// Runs `command` (`sh -c SCRIPT NAME ARGS...`) with a PATH of the image's programs only,
/// in a pod of namespace `image.namespace`.
pub fn play(command: &[String], replies: &[Reply], image: &Image) -> Outcome {
    play_env(command, replies, image, &[])
}

/// [`play`], with these environment variables too (as the container's `env` sets them).
pub fn play_env(
    command: &[String],
    replies: &[Reply],
    image: &Image,
    env: &[(&str, &str)],
) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let bin = root.join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::create_dir_all(root.join("responses")).unwrap();
    let host_path = std::env::var("PATH").unwrap_or_default();
    for program in image.programs {
        if *program == "sleep" && image.instant_sleep {
            fs::write(bin.join("sleep"), "#!/bin/sh\n").unwrap();
            make_executable(&bin.join("sleep"));
            continue;
        }
        if *program == "date" && image.jumping_clock {
            fs::write(bin.join("date"), JUMPING_CLOCK).unwrap();
            make_executable(&bin.join("date"));
            continue;
        }
        let found = std::env::split_paths(&host_path)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("this machine has {program}"));
        std::os::unix::fs::symlink(found, bin.join(program)).unwrap();
    }
    if image.kubectl {
        let kubectl = bin.join("kubectl");
        fs::write(&kubectl, STAND_IN).unwrap();
        make_executable(&kubectl);
    }
    fs::write(root.join("count"), "0").unwrap();
    fs::write(root.join("recorded"), replies.len().to_string()).unwrap();
    fs::write(root.join("calls"), "").unwrap();
    for (i, reply) in replies.iter().enumerate() {
        let base = root.join(format!("responses/{}", i + 1));
        fs::write(base.with_extension("args"), &reply.args).unwrap();
        fs::write(base.with_extension("out"), &reply.out).unwrap();
        fs::write(base.with_extension("rc"), reply.rc.to_string()).unwrap();
    }
    assert_eq!(command[..2], ["sh", "-c"], "the Job runs a shell script");
    let out = Command::new(bin.join("sh"))
        .args(&command[1..])
        .process_group(0)
        .env_clear()
        .env("PATH", &bin)
        .env("STAND_IN_PATH", &host_path)
        .env("POD_NAMESPACE", image.namespace)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let mut log = String::from_utf8_lossy(&out.stdout).into_owned();
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    let calls = fs::read_to_string(root.join("calls"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    Outcome {
        success: out.status.success(),
        log,
        calls,
    }
}

pub fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs real kubectl's jsonpath printer offline on a local object.
pub fn print(dir: &Path, object: &str, template: &str) -> String {
    let file = dir.join("object.yaml");
    fs::write(&file, object).unwrap();
    let out = Command::new(super::tool("kubectl"))
        .args(["annotate", "--local", "-f"])
        .arg(&file)
        .args(["unrelated=x", "-o", &format!("jsonpath={template}")])
        .output()
        .unwrap();
    super::succeeded(out, "kubectl annotate --local")
}
