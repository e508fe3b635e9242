#!/usr/bin/env bash
# Installs kubernetes-validate (PyPI; it carries the Kubernetes JSON schemas, so validation
# is offline) into .cache/venv and prints the path of its command. Used by tests/schema.rs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="${DEPLOY_JOBS_CACHE:-$root/.cache}"
venv="$cache/venv"
version=1.37.0
cmd="$venv/bin/kubernetes-validate"
installed() { [ -x "$cmd" ] && [ "$("$cmd" --version 2>/dev/null | awk '{print $NF}')" = "$version" ]; }

mkdir -p "$cache"
exec 9> "$cache/venv.lock"
flock 9   # concurrent test binaries wait for one installer
if ! installed; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$version" >&2
fi
installed || { echo "install-validator.sh: kubernetes-validate $version did not install" >&2; exit 1; }
echo "$cmd"
