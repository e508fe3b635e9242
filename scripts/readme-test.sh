#!/usr/bin/env bash
# Runs the command blocks of the README, then of the book's chapters in the order of
# docs/src/SUMMARY.md, as a new user would, so neither can drift from what works. Every
# ```sh block runs; a block whose info string names a reason after `sh` (```sh cluster,
# ```sh signing-key) needs something this machine cannot give and is listed as not run.
# Output blocks (plain ```) are never run. The blocks of all the files run as one script in
# one shell, so a chapter may use what the README or an earlier chapter installed.
#
# It runs in a copy of the checkout's tracked files, with its own Helm homes, `cargo install`
# going into a throwaway root that stands for ~/.cargo/bin, and a PATH with no helm and no
# deploy-jobs on it: only what the README itself installs. Two caches are shared with the
# checkout, both of the same pinned bits: the cargo target directory (so `cargo install`
# does not rebuild from scratch) and the sha256-checked helm downloads.
#
# The README's own `scripts/test.sh` line is the command running this script, so it is not
# run again. Prints `readme: N passed, N failed`, counting the blocks of every file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

copy=$work/checkout
mkdir -p "$copy"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$copy" 2>/dev/null) || true
[ -f "$copy/README.md" ] || { echo "readme-test: could not copy the checkout" >&2; exit 1; }

# PATH without any directory that holds helm or deploy-jobs.
clean_path=
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -n "$d" ] || continue
  if [ -e "$d/helm" ] || [ -e "$d/deploy-jobs" ]; then continue; fi
  clean_path=${clean_path:+$clean_path:}$d
done

# The files, README first, then the chapters as the book's contents list them.
files=(README.md)
while IFS= read -r chapter; do files+=("docs/src/$chapter"); done < <(
  grep -o '](\([^)#]*\.md\))' "$root/docs/src/SUMMARY.md" | sed 's/^](//; s/)$//')
for f in "${files[@]}"; do
  [ -f "$root/$f" ] || { echo "readme-test: $f is in docs/src/SUMMARY.md but missing" >&2; exit 1; }
done

# The blocks, as one script that announces each block before it runs.
script=$work/readme.sh
(cd "$root" && awk -v script="$script" '
  BEGIN { n = 0; skipped = 0; print "set -euo pipefail" > script }
  FNR == 1 { inblock = 0 }
  /^```/ && !inblock {
    info = substr($0, 4); inblock = 1; start = FNR
    run = (info == "sh")
    if (run) { n++; printf "echo \"readme: block %d (%s line %d)\" >&2\n", n, FILENAME, FNR > script }
    else if (info ~ /^sh /) { skipped++; printf "readme: not run: %s line %d (```%s)\n", FILENAME, FNR, info }
    next
  }
  /^```/ && inblock { inblock = 0; if (run) printf "echo \"readme: block %d ok\" >&2\n", n > script; next }
  inblock && run {
    if ($0 ~ /^scripts\/test\.sh/) { print "echo \"readme: scripts/test.sh is the run that is running this\" >&2" > script; next }
    print > script
  }
  END { printf "%d\n", n > (script ".count") }
' "${files[@]}")
blocks=$(cat "$script.count")

log=$work/log
set +e
(
  cd "$copy"
  export PATH="$work/cargo/bin:$clean_path"
  export CARGO_INSTALL_ROOT=$work/cargo
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
  export DEPLOY_JOBS_CACHE=${DEPLOY_JOBS_CACHE:-$root/.cache}
  export HELM_CONFIG_HOME=$work/helm/config HELM_DATA_HOME=$work/helm/data HELM_CACHE_HOME=$work/helm/cache
  unset DEPLOY_JOBS_BIN HELM_BIN KUBECONFIG
  bash "$script"
) >"$log" 2>&1
status=$?
set -e
passed=$(grep -c '^readme: block [0-9]* ok$' "$log" || true)
if [ "$status" -ne 0 ]; then
  cat "$log" >&2
  echo "readme: a block failed (the last 'readme: block N' above); that file is out of step with what works" >&2
fi
grep '^readme: block [0-9]* ok$' "$log" || true
echo "readme: $passed passed, $((blocks - passed)) failed"
[ "$status" -eq 0 ] && [ "$passed" -eq "$blocks" ]
