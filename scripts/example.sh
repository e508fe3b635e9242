#!/usr/bin/env bash
# Runs deploy-jobs end to end on the bundled example chart with the real Helm 4: builds the
# binary, installs this checkout as a Helm 4 post-renderer plugin (in a throwaway Helm home),
# and prints what `helm install --dry-run=client` would run: the HOOKS section lists the
# injected copies and Jobs, MANIFEST the unchanged app.
#
#   scripts/example.sh [--env production] [extra helm args...]
set -euo pipefail
cd "$(dirname "$0")/.."

env_name=staging
if [ "${1:-}" = "--env" ]; then env_name=$2; shift 2; fi

cargo build --release --locked --quiet
helm=$(scripts/install-helm.sh helm4)
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export HELM_CONFIG_HOME=$home/config HELM_DATA_HOME=$home/data HELM_CACHE_HOME=$home/cache
"$helm" plugin install . >/dev/null
"$helm" install shop charts/example --dry-run=client \
  -f "charts/example/values-$env_name.yaml" \
  --post-renderer deploy-jobs --post-renderer-args="--env=$env_name" "$@"
