#!/usr/bin/env bash
# The whole test suite, runnable on a fresh machine: installs the pinned helm and kubectl
# binaries the integration tests drive, then checks formatting and lints, runs every test,
# runs the command blocks of the README and the book (scripts/readme-test.sh), and builds the
# book with the pinned mdBook, checking its links (scripts/book-test.sh).
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
# One closing line for the whole run, summed over every test binary, the command blocks and
# the book's build and links.
awk '/^test result:/ { p += $4; f += $6 }
     /^(readme|book): [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
     END { printf "%d passed, %d failed\n", p, f; exit (p == 0 || f > 0) }' "$log"
