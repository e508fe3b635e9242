#!/usr/bin/env bash
# Packages the Helm 4 plugin with the release binary inside, so an installed plugin does not
# depend on this checkout staying where it is. Prints the path of the package.
#
#   scripts/package-plugin.sh [--out DIR] [--binary PATH] [--sign KEY --keyring SECRET_KEYRING]
#
# --binary packages a deploy-jobs binary built elsewhere (another platform, a CI artifact)
# instead of building this checkout.
# Unsigned by default: install it with `helm plugin install FILE --verify=false`. With --sign
# (a GnuPG key name and a keyring in the legacy format, `gpg --export-secret-keys > FILE`) it
# writes FILE.prov beside the package, and `helm plugin install FILE` verifies it against the
# installer's public keyring.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/dist
key=
keyring=
bin=
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --sign) key=$2; shift 2 ;;
    --keyring) keyring=$2; shift 2 ;;
    --binary) bin=$2; shift 2 ;;
    *) echo "package-plugin.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -n "$key" ] && [ -z "$keyring" ]; then
  echo "package-plugin.sh: --sign needs --keyring (gpg --export-secret-keys > secring.gpg)" >&2
  exit 2
fi

if [ -z "$bin" ]; then
  echo "package-plugin.sh: building the release binary (cargo build --release)" >&2
  (cd "$root" && cargo build --release --locked)
  bin=${CARGO_TARGET_DIR:-$root/target}/release/deploy-jobs
fi

# The plugin's version is the binary's: a package never claims a version it does not hold.
version=$("$bin" --version | awk '{print $2}')
plugin_version=$(awk '$1 == "version:" {print $2}' "$root/plugin.yaml")
if [ "$version" != "$plugin_version" ]; then
  echo "package-plugin.sh: plugin.yaml says version $plugin_version, the binary is $version" >&2
  exit 1
fi

helm=${HELM_BIN:-$("$root/scripts/install-helm.sh" helm4)}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/deploy-jobs/bin" "$stage/deploy-jobs/scripts"
cp "$root/plugin.yaml" "$root/README.md" "$stage/deploy-jobs/"
cp "$root/scripts/helm-plugin.sh" "$stage/deploy-jobs/scripts/"
cp "$bin" "$stage/deploy-jobs/bin/deploy-jobs"

mkdir -p "$out"
if [ -n "$key" ]; then
  "$helm" plugin package "$stage/deploy-jobs" -d "$out" --sign --key "$key" --keyring "$keyring" >&2
else
  "$helm" plugin package "$stage/deploy-jobs" -d "$out" --sign=false >&2
fi
echo "$out/deploy-jobs-$version.tgz"
