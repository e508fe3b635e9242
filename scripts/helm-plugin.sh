#!/bin/sh
# Entry point of the Helm 4 plugin on Linux and macOS (plugin.yaml). The first argument is
# the platform Helm picked for this machine (linux-amd64, darwin-arm64, ...; `other` where
# plugin.yaml names none); the rest go to deploy-jobs.
#
# Runs $DEPLOY_JOBS_BIN if set, else the binary a packaged plugin holds for the platform
# (bin/PLATFORM, see scripts/package-plugin.sh), else the one built in this checkout, else
# one on PATH. Helm 4 discards a plugin's stderr, so when no binary is found the reason is
# reported as a document Helm refuses, naming the fix.
platform=${1:-other}
[ $# -gt 0 ] && shift
dir=$(cd "$(dirname "$0")/.." && pwd)
for bin in "${DEPLOY_JOBS_BIN:-}" "$dir/bin/$platform/deploy-jobs" "$dir/target/release/deploy-jobs" "$dir/target/debug/deploy-jobs"; do
  if [ -n "$bin" ] && [ -x "$bin" ]; then
    exec "$bin" "$@"
  fi
done
if command -v deploy-jobs >/dev/null 2>&1; then
  exec deploy-jobs "$@"
fi
cat >/dev/null
cat <<YAML
apiVersion: deploy-jobs/v1
kind: {error: binary not built}
metadata:
  name: deploy-jobs-error
  annotations:
    postrenderer.helm.sh/postrender-filename: "deploy-jobs failed: the plugin in $dir has no binary for $platform; install deploy-jobs on PATH (cargo install deploy-jobs), or run cargo build --release there"
YAML
