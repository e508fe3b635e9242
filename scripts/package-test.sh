#!/usr/bin/env bash
# The crate as crates.io would ship it, installed as a user installs it:
#
#   1. `cargo package --locked` builds the .crate and compiles it on its own (what a missing
#      template or an unlisted source file breaks);
#   2. `cargo publish --dry-run --locked` runs every check of a publish short of the upload
#      (it asks the registry's index, so it needs the registry; no token);
#   3. the .crate is unpacked into a throwaway directory and `cargo install --locked --path`
#      builds and installs it from there (release profile, as `cargo install deploy-jobs`),
#      into a throwaway root;
#   4. the installed binary, alone on PATH with the pinned helm, renders the example chart as
#      Helm's post-renderer and as a pipe, and the output has the migration Job.
#
# The cargo target directory is the checkout's (CARGO_TARGET_DIR or target/), shared with
# `cargo test` and scripts/readme-test.sh's release install, so only deploy-jobs itself is
# compiled again. Uncommitted changes are packaged too (--allow-dirty): this checks the tree
# as it is. Prints `package: N passed, N failed`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
version=$(awk -F'"' '/^version = / {print $2; exit}' Cargo.toml)
crate=$CARGO_TARGET_DIR/package/deploy-jobs-$version.crate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
helm=$(scripts/install-helm.sh helm4)
helm3=$(scripts/install-helm.sh helm3)

passed=0
failed=0
step() {
  local name=$1 start=$SECONDS
  shift
  echo "package: $name" >&2
  if "$@" >"$work/step.log" 2>&1; then
    passed=$((passed + 1))
    echo "package: ok: $name ($((SECONDS - start)) s)" >&2
  else
    failed=$((failed + 1))
    cat "$work/step.log" >&2
    echo "package: FAILED: $name" >&2
  fi
}

step "cargo package --locked" cargo package --locked --allow-dirty
step "the .crate is under crates.io's 10 MiB limit" \
  test "$(stat -c %s "$crate")" -lt $((10 * 1024 * 1024))
echo "package: $(du -k "$crate" | cut -f1) KiB, $(tar -tzf "$crate" | wc -l) files" >&2
step "cargo publish --dry-run --locked" cargo publish --dry-run --locked --allow-dirty

mkdir -p "$work/src" "$work/root"
tar -xzf "$crate" -C "$work/src"
step "cargo install --locked from the unpacked .crate" \
  cargo install --locked --path "$work/src/deploy-jobs-$version" --root "$work/root"

# The installed binary and helm, alone on PATH; a Helm home of its own.
mkdir -p "$work/path"
ln -s "$work/root/bin/deploy-jobs" "$work/path/deploy-jobs"
ln -s "$helm" "$work/path/helm"
export HELM_CONFIG_HOME=$work/helm/config HELM_DATA_HOME=$work/helm/data HELM_CACHE_HOME=$work/helm/cache
unset DEPLOY_JOBS_BIN KUBECONFIG
# A document that is a Job named shop-example-migrate (hook mode) or shop-example-migrate-HASH
# (gate mode).
has_migration_job() {
  awk '/^---/ { job = 0; named = 0 }
       /^kind: Job$/ { job = 1 }
       /^  name: shop-example-migrate(-[0-9a-f]+)?$/ { named = 1 }
       job && named { found = 1 }
       END { exit !found }' "$1"
}
installed_version() {
  [ "$(PATH=$work/path deploy-jobs --version)" = "deploy-jobs $version" ]
}
pipe_render() {
  PATH=$work/path:/usr/bin:/bin
  helm template shop charts/example | deploy-jobs render >"$work/piped.yaml"
  has_migration_job "$work/piped.yaml"
}
post_render() {
  # Helm 3's --post-renderer takes a path (Helm 4's takes a plugin: tests/plugin_package.rs):
  # the installed binary by name, in gate mode, the mode for Helm 3.
  PATH=$work/path:/usr/bin:/bin
  "$helm3" template shop charts/example --post-renderer deploy-jobs \
    --post-renderer-args=--target=gate >"$work/post.yaml" 2>"$work/post.err" || {
    cat "$work/post.err" >&2
    return 1
  }
  has_migration_job "$work/post.yaml"
}
step "the installed binary says its version" installed_version
step "the installed binary renders the example chart (helm template | deploy-jobs render)" pipe_render
step "the installed binary renders the example chart as Helm 3's post-renderer" post_render

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
