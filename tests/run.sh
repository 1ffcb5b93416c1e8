#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: installs the tools the
# tests drive (kcat, ab), starts a real Apache Kafka broker, then runs
# formatting, lints and every test of every crate, and stops the broker.
# Python (pyarrow, DuckDB) goes into a venv under ~/.cache/pipec.
set -euo pipefail
cd "$(dirname "$0")/.."

# The target dir lives outside the clone, so a fresh clone builds incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pipec/target}"
# Snapshots are compared, never rewritten, by the test command.
export INSTA_UPDATE=no

echo "== tools"
bash tests/services/tools.sh
# pyarrow and DuckDB: the independent readers of the Parquet files.
PIPEC_TEST_PYTHON="$(bash tests/services/venv.sh | tail -n 1)"
export PIPEC_TEST_PYTHON

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo build"
cargo build --workspace --all-targets --locked

echo "== kafka"
# A fresh broker per run, stopped however the run ends.
bash tests/services/kafka.sh reset >/dev/null
trap 'bash tests/services/kafka.sh stop >/dev/null 2>&1 || true' EXIT
bash tests/services/kafka.sh start
export PIPEC_TEST_KAFKA="$(bash tests/services/kafka.sh bootstrap)"
export PIPEC_REQUIRE_KAFKA=1

echo "== cargo test"
cargo test --workspace --locked
