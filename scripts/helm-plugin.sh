#!/bin/sh
# Entry point of the Helm 4 plugin (plugin.yaml). Runs $DEPLOY_JOBS_BIN if set, else the
# binary inside a packaged plugin (bin/, see scripts/package-plugin.sh), else the one built in
# this checkout, else one on PATH. Helm 4 discards a plugin's stderr, so when no binary is
# found the reason is reported as a document Helm refuses, naming the fix.
dir=$(cd "$(dirname "$0")/.." && pwd)
for bin in "${DEPLOY_JOBS_BIN:-}" "$dir/bin/deploy-jobs" "$dir/target/release/deploy-jobs" "$dir/target/debug/deploy-jobs"; do
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
    postrenderer.helm.sh/postrender-filename: "deploy-jobs failed: the plugin in $dir has no binary; run cargo build --release there"
YAML
