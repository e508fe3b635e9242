#!/usr/bin/env bash
# Checks the GitHub Actions workflows under .github/workflows, which cannot run here: actionlint
# (with shellcheck on every `run:` script) and zizmor (security audits, offline). First both
# must reject a workflow with known mistakes, so a linter that checks nothing fails here too.
# The linters come from PyPI (scripts/install-workflow-lint.sh). Prints
# `workflows: N passed, N failed`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$("$root/scripts/install-workflow-lint.sh")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
check() {
  local name=$1
  shift
  if "$@" >"$work/out" 2>&1; then
    passed=$((passed + 1))
    echo "workflows: ok: $name" >&2
  else
    failed=$((failed + 1))
    cat "$work/out" >&2
    echo "workflows: FAILED: $name" >&2
  fi
}
actionlint() { "$bin/actionlint" -no-color -shellcheck "$bin/shellcheck" -pyflakes= "$@"; }
zizmor() { "$bin/zizmor" --offline --no-progress "$@"; }

# A workflow with one mistake of each kind the checks are for.
mkdir -p "$work/bad/.github/workflows"
cat >"$work/bad/.github/workflows/bad.yml" <<'YAML'
on: push
jobs:
  bad:
    runs-on: ubuntu-linux-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo ${{ github.event.head_commit.message }} $UNQUOTED
      - run: echo "${{ steps.nosuch.outputs.x }}"
YAML
rejects() {
  local tool=$1 pattern=$2
  if "$tool" "$work/bad/.github/workflows/bad.yml" >"$work/bad.out" 2>&1; then
    echo "$tool accepted a broken workflow" >&2
    return 1
  fi
  grep -q -- "$pattern" "$work/bad.out" || { cat "$work/bad.out" >&2; return 1; }
}
check "actionlint rejects an unknown runner label" rejects actionlint 'label "ubuntu-linux-latest" is unknown'
check "actionlint's shellcheck rejects an unquoted variable" rejects actionlint 'shellcheck reported issue'
check "actionlint rejects a reference to a step that does not exist" rejects actionlint 'property "nosuch" is not defined'
check "zizmor rejects a commit message expanded into a shell" rejects zizmor 'template-injection'
check "zizmor rejects an action not pinned to a commit" rejects zizmor 'unpinned-uses'

for workflow in "$root"/.github/workflows/*.yml; do
  name=${workflow#"$root"/}
  check "actionlint $name" actionlint "$workflow"
  check "zizmor $name" zizmor "$workflow"
done

echo "workflows: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
