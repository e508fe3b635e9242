#!/usr/bin/env bash
# The whole test suite, runnable on a fresh machine: installs the pinned helm binaries the
# integration tests drive, then checks formatting and lints and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-helm.sh helm4 >/dev/null
scripts/install-helm.sh helm3 >/dev/null
cargo fmt --all --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
