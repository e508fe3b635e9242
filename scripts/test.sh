#!/usr/bin/env bash
# The whole test suite, runnable on a fresh machine: installs the pinned helm and kubectl
# binaries the integration tests drive, then checks formatting and lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-helm.sh helm4 >/dev/null
scripts/install-helm.sh helm3 >/dev/null
scripts/install-helm.sh kubectl >/dev/null
scripts/install-validator.sh >/dev/null
cargo fmt --all --check
cargo clippy --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked 2>&1 | tee "$log"
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f; exit (p == 0 || f > 0) }' "$log"
