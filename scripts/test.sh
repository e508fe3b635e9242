#!/usr/bin/env bash
# The whole test suite, runnable on a fresh machine: installs the pinned helm and kubectl
# binaries the integration tests drive, then checks formatting and lints, runs every test,
# runs the command blocks of the README and the book (scripts/readme-test.sh), builds the book
# with the pinned mdBook, checking its links (scripts/book-test.sh), packages and installs the
# crate (scripts/package-test.sh) and lints the GitHub Actions workflows
# (scripts/lint-workflows.sh).
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
# The command blocks of the README and the book, run as a new user would (see the script).
scripts/readme-test.sh 2>&1 | tee -a "$log"
# The book under docs/, built offline with the pinned mdBook, its links checked.
scripts/book-test.sh 2>&1 | tee -a "$log"
# The crate as published and installed from its .crate; after the README's release install,
# whose dependencies it shares (see the script).
scripts/package-test.sh 2>&1 | tee -a "$log"
# The release workflow, checked by actionlint, shellcheck and zizmor (see the script).
scripts/lint-workflows.sh 2>&1 | tee -a "$log"
# One closing line for the whole run, summed over every test binary, the command blocks, the
# book's build and links, the package steps and the workflow lint.
awk '/^test result:/ { p += $4; f += $6 }
     /^(readme|book|package|workflows): [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
     END { printf "%d passed, %d failed\n", p, f; exit (p == 0 || f > 0) }' "$log"
