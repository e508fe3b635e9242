#!/usr/bin/env bash
# Runs deploy-jobs end to end on the bundled example chart with the real Helm 4, offline:
# builds the binary, installs this checkout as a Helm 4 post-renderer plugin (in a throwaway
# Helm home), shows what the deploy will run (`deploy-jobs plan`), then runs
# `helm install --dry-run=client` through the plugin and lists the hooks Helm itself reports.
# The whole dry run is saved to target/example/dry-run.txt (printed with --full).
#
#   scripts/example.sh [--env production|staging] [--full] [extra helm args...]
set -euo pipefail
cd "$(dirname "$0")/.."

env_name=staging
full=false
while [ $# -gt 0 ]; do
  case "$1" in
    --env) env_name=$2; shift 2 ;;
    --full) full=true; shift ;;
    *) break ;;
  esac
done
step() { printf '\n==> %s\n' "$*" >&2; }

step "1/4 building deploy-jobs (cargo build --release, without the wait client the example does not use; a minute or two the first time)"
cargo build --release --locked --no-default-features
bin=$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)/deploy-jobs
# The plugin runs exactly the binary just built (wherever CARGO_TARGET_DIR put it).
export DEPLOY_JOBS_BIN=$bin

step "2/4 installing the pinned Helm 4.1.4 (scripts/install-helm.sh helm4; cached after the first time)"
helm=$(scripts/install-helm.sh helm4)
echo "$helm" >&2

step "3/4 installing this checkout as a Helm 4 post-renderer plugin, in a throwaway Helm home"
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export HELM_CONFIG_HOME=$home/config HELM_DATA_HOME=$home/data HELM_CACHE_HOME=$home/cache
"$helm" plugin install . >&2

step "4/4 helm install --dry-run=client through the plugin (offline: no cluster needed)"
values=charts/example/values-$env_name.yaml
mkdir -p target/example
out=target/example/dry-run.txt
"$helm" install shop charts/example --dry-run=client -f "$values" \
  --post-renderer deploy-jobs --post-renderer-args="--env=$env_name" "$@" >"$out"

printf '\nWhat the deploy runs, in order (helm template ... | deploy-jobs plan --env %s):\n\n' "$env_name"
"$helm" template shop charts/example -f "$values" "$@" | "$bin" plan --env "$env_name"

printf '\nThe hooks Helm itself reports (HOOKS section of the dry run):\n'
awk '
  /^HOOKS:/ { section = "hooks"; next }
  /^MANIFEST:/ { section = "manifest"; next }
  section == "hooks" && /^kind:/ { kind = $2 }
  section == "hooks" && /^  name:/ && kind != "" { name = $2 }
  section == "hooks" && /^    helm.sh\/hook:/ { events = $2 }
  section == "hooks" && /^    helm.sh\/hook-weight:/ {
    gsub(/["\047]/, "", $2)
    printf "  %-45s %-28s weight %s\n", kind "/" name, events, $2
    kind = ""
  }
  section == "manifest" && /^kind:/ { app++ }
  END { printf "\nThe app (MANIFEST section): %d documents, passed through unchanged.\n", app }
' "$out"
if $full; then
  echo
  cat "$out"
else
  echo "The whole dry run is in $out (or run with --full)."
fi
