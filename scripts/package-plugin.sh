#!/usr/bin/env bash
# Packages the Helm 4 plugin with release binaries inside, so an installed plugin does not
# depend on this checkout staying where it is. Prints the path of the package.
#
#   scripts/package-plugin.sh [--out DIR] [--binary [PLATFORM=]PATH]... [--all-platforms]
#                             [--sign KEY --keyring SECRET_KEYRING [--passphrase-file FILE]]
#
# PLATFORM is one plugin.yaml selects by (Helm's GOOS-GOARCH): linux-amd64, linux-arm64,
# darwin-amd64, darwin-arm64, windows-amd64, windows-arm64. A binary goes to bin/PLATFORM/
# (deploy-jobs, or deploy-jobs.exe on Windows). --binary is repeatable; a PATH without
# PLATFORM= is a binary for this machine. With no --binary, this checkout's release build is
# packaged for this machine. --all-platforms refuses a package that lacks any of the six (a
# release).
# Unsigned by default: install it with `helm plugin install FILE --verify=false`. With --sign
# (a GnuPG key name and a keyring in the legacy format, `gpg --export-secret-keys > FILE`) it
# writes FILE.prov beside the package, and `helm plugin install FILE` verifies it against the
# installer's public keyring. A key with a passphrase reads it from --passphrase-file.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
platforms="linux-amd64 linux-arm64 darwin-amd64 darwin-arm64 windows-amd64 windows-arm64"
out=$root/dist
key=
keyring=
passphrase=
all=
binaries=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --sign) key=$2; shift 2 ;;
    --keyring) keyring=$2; shift 2 ;;
    --passphrase-file) passphrase=$2; shift 2 ;;
    --binary) binaries+=("$2"); shift 2 ;;
    --all-platforms) all=1; shift ;;
    *) echo "package-plugin.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -n "$key" ] && [ -z "$keyring" ]; then
  echo "package-plugin.sh: --sign needs --keyring (gpg --export-secret-keys > secring.gpg)" >&2
  exit 2
fi

# This machine's platform in Helm's words (Go's GOOS-GOARCH).
host_platform() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;; Darwin) os=darwin ;; MINGW*|MSYS*|CYGWIN*) os=windows ;;
    *) os=$(uname -s | tr '[:upper:]' '[:lower:]') ;;
  esac
  case "$(uname -m)" in
    x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; *) arch=$(uname -m) ;;
  esac
  echo "$os-$arch"
}
host=$(host_platform)

if [ ${#binaries[@]} -eq 0 ]; then
  echo "package-plugin.sh: building the release binary (cargo build --release)" >&2
  (cd "$root" && cargo build --release --locked)
  binaries=("${CARGO_TARGET_DIR:-$root/target}/release/deploy-jobs")
fi

# The plugin's version is the crate's, and a binary that can run here must say so too: a
# package never claims a version it does not hold.
plugin_version=$(awk '$1 == "version:" {print $2}' "$root/plugin.yaml")
crate_version=$(awk -F'"' '/^version = / {print $2; exit}' "$root/Cargo.toml")
if [ "$crate_version" != "$plugin_version" ]; then
  echo "package-plugin.sh: plugin.yaml says version $plugin_version, Cargo.toml $crate_version" >&2
  exit 1
fi

helm=${HELM_BIN:-$("$root/scripts/install-helm.sh" helm4)}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/deploy-jobs/bin" "$stage/deploy-jobs/scripts"
cp "$root/plugin.yaml" "$root/README.md" "$root/LICENSE" "$stage/deploy-jobs/"
cp "$root/scripts/helm-plugin.sh" "$stage/deploy-jobs/scripts/"

for spec in "${binaries[@]}"; do
  case "$spec" in
    *=*) platform=${spec%%=*} bin=${spec#*=} ;;
    *) platform=$host bin=$spec ;;
  esac
  case " $platforms " in
    *" $platform "*) ;;
    *) echo "package-plugin.sh: plugin.yaml selects no binary for $platform (it knows $platforms)" >&2; exit 2 ;;
  esac
  [ -f "$bin" ] || { echo "package-plugin.sh: no binary at $bin" >&2; exit 1; }
  if [ "$platform" = "$host" ]; then
    version=$("$bin" --version | awk '{print $2}')
    if [ "$version" != "$plugin_version" ]; then
      echo "package-plugin.sh: plugin.yaml says version $plugin_version, $bin is $version" >&2
      exit 1
    fi
  fi
  name=deploy-jobs
  case "$platform" in windows-*) name=deploy-jobs.exe ;; esac
  mkdir -p "$stage/deploy-jobs/bin/$platform"
  cp "$bin" "$stage/deploy-jobs/bin/$platform/$name"
  chmod 755 "$stage/deploy-jobs/bin/$platform/$name"
done
if [ -n "$all" ]; then
  for platform in $platforms; do
    if [ ! -d "$stage/deploy-jobs/bin/$platform" ]; then
      echo "package-plugin.sh: --all-platforms, and no binary for $platform" >&2
      exit 1
    fi
  done
fi

mkdir -p "$out"
if [ -n "$key" ]; then
  sign=(--sign --key "$key" --keyring "$keyring")
  [ -n "$passphrase" ] && sign+=(--passphrase-file "$passphrase")
  "$helm" plugin package "$stage/deploy-jobs" -d "$out" "${sign[@]}" >&2
else
  "$helm" plugin package "$stage/deploy-jobs" -d "$out" --sign=false >&2
fi
echo "$out/deploy-jobs-$plugin_version.tgz"
