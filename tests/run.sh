#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: formatting, lints, then
# every test of every crate. Later suites start the services they need here.
set -euo pipefail
cd "$(dirname "$0")/.."

# The target dir lives outside the clone, so a fresh clone builds incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pipec/target}"
# Snapshots are compared, never rewritten, by the test command.
export INSTA_UPDATE=no

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
