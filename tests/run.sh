#!/usr/bin/env bash
# The whole test suite, as a newcomer and CI run it: installs the tools the
# tests drive (kcat, ab, chromium, neovim), starts a real Apache Kafka broker, a real S3
# server (SeaweedFS) and a real Trino, then runs formatting, lints and every
# test of every crate, and stops the services. A Hive metastore (Java 17)
# runs beside them for `pipec run --metastore`. Python (pyarrow, DuckDB,
# PySpark) goes into a venv; Kafka's jars, SeaweedFS and Trino's server into
# ~/.cache/pipec.
set -euo pipefail
cd "$(dirname "$0")/.."

# The target dir lives outside the clone, so a fresh clone builds incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pipec/target}"
# Snapshots are compared, never rewritten, by the test command.
export INSTA_UPDATE=no

echo "== tools"
bash tests/services/tools.sh
# Downloads only (Trino's server from Maven Central), in the background while
# Rust builds; SeaweedFS compiles (CPU), so it is built after cargo.
bash tests/services/trino.sh fetch >/tmp/pipec-trino-fetch.log 2>&1 &
trino_fetch=$!
# The Hive standalone metastore's jars (Maven Central).
bash tests/services/hms.sh fetch >/tmp/pipec-hms-fetch.log 2>&1 &
hms_fetch=$!
# delta-spark's jars (and hadoop-aws for S3) from Maven Central, for Spark's
# reads of the Delta tables.
bash tests/services/delta_jars.sh s3 >/tmp/pipec-delta-jars.log 2>&1 &
delta_jars_fetch=$!
# The Mermaid CLI (npm), which checks that `pipec graph` Mermaid renders.
bash tests/services/mermaid.sh fetch >/tmp/pipec-mermaid-fetch.log 2>&1 &
mermaid_fetch=$!
# pyarrow and DuckDB: the independent readers of the Parquet files.
PIPEC_TEST_PYTHON="$(bash tests/services/venv.sh | tail -n 1)"
export PIPEC_TEST_PYTHON

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo build"
cargo build --workspace --all-targets --locked
echo "== pipec test (every pipeline's own tests)"
"$CARGO_TARGET_DIR/debug/pipec" test pipelines/*.pipe examples/*.pipe
wait "$trino_fetch" || { cat /tmp/pipec-trino-fetch.log; exit 1; }
wait "$hms_fetch" || { cat /tmp/pipec-hms-fetch.log; exit 1; }
wait "$mermaid_fetch" || { cat /tmp/pipec-mermaid-fetch.log; exit 1; }
wait "$delta_jars_fetch" || { cat /tmp/pipec-delta-jars.log; exit 1; }
PIPEC_DELTA_JARS="$(tail -n 1 /tmp/pipec-delta-jars.log)"
export PIPEC_DELTA_JARS
export PIPEC_TEST_MERMAID="$PWD/tests/services/mermaid.sh"
export PIPEC_REQUIRE_BROWSER=1
export PIPEC_REQUIRE_EDITOR=1
bash tests/services/s3.sh fetch >/dev/null

echo "== kafka, s3, hive metastore, trino"
# Fresh state per run (broker, object store, Trino metastore), stopped however
# the run ends. SeaweedFS is built once (minutes, cached); Trino, which reads
# the S3 server's tables too, starts in the background while the broker does.
stop_services() {
  bash tests/services/kafka.sh stop >/dev/null 2>&1 || true
  bash tests/services/trino.sh stop >/dev/null 2>&1 || true
  bash tests/services/s3.sh stop >/dev/null 2>&1 || true
  bash tests/services/hms.sh stop >/dev/null 2>&1 || true
}
trap stop_services EXIT
bash tests/services/kafka.sh reset >/dev/null
bash tests/services/s3.sh reset >/dev/null
bash tests/services/trino.sh reset >/dev/null
bash tests/services/hms.sh reset >/dev/null
bash tests/services/s3.sh start
eval "$(bash tests/services/s3.sh env)"
bash tests/services/s3.sh mb pipec-test
export PIPEC_TEST_S3_URL="s3://pipec-test"
export PIPEC_TRINO_S3_ENDPOINT="$AWS_ENDPOINT_URL"
# Before Trino, whose `hms` catalog reads the tables registered there.
bash tests/services/hms.sh start
export PIPEC_TRINO_HMS_URI="$(bash tests/services/hms.sh uri)"
export PIPEC_TEST_HMS="$PWD/tests/services/hms.sh"
bash tests/services/trino.sh start &
trino_start=$!
bash tests/services/kafka.sh start
wait "$trino_start"
export PIPEC_TEST_KAFKA="$(bash tests/services/kafka.sh bootstrap)"
export PIPEC_TEST_TRINO="$PWD/tests/services/trino.sh"
export PIPEC_REQUIRE_KAFKA=1

echo "== cargo test"
cargo test --workspace --locked
