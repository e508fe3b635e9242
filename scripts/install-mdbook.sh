#!/usr/bin/env bash
# Installs mdBook, which builds the book under docs/, and prints the path of its command.
# It comes from crates.io by name, pinned by version and by Cargo.lock (`cargo install
# --locked`), built once without the `serve` and `watch` features (a local web server and a
# file watcher, which building the book in the test suite does not use), and cached under
# .cache/ like the helm binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="${DEPLOY_JOBS_CACHE:-$root/.cache}"
version=0.5.4
dest="$cache/mdbook-$version"
cmd="$dest/bin/mdbook"
installed() { [ -x "$cmd" ] && [ "$("$cmd" --version 2>/dev/null | awk '{print $NF}')" = "v$version" ]; }

mkdir -p "$cache"
exec 9> "$cache/mdbook.lock"
flock 9   # two runs at once wait for one installer
if ! installed; then
  echo "install-mdbook.sh: building mdbook $version (once; a few minutes)" >&2
  cargo install --quiet --locked mdbook --version "=$version" --no-default-features \
    --features search --root "$dest" >&2
fi
installed || { echo "install-mdbook.sh: mdbook $version did not install" >&2; exit 1; }
echo "$cmd"
