#!/usr/bin/env bash
# Creates (once) the Python virtualenv that pipec's tests use to read back
# what pipec writes with independent implementations: pyarrow reads the
# Parquet files, duckdb queries them with SQL, pyspark runs the Hive DDL,
# deltalake (delta-rs' Python bindings) and delta-spark read Delta tables.
#
# Why a venv outside the repo: machines are handed out fresh, so the project
# must install its own test dependencies, and a cached venv makes every run
# after the first instant. Versions are pinned so results do not drift; all
# install as binary wheels for the machine's Python 3.11 from PyPI (pyspark
# is an sdist, but of jars and Python only).
#
# Idempotent: if the venv exists, its python runs, and it was built from the
# exact same requirement list (recorded in a stamp file), nothing is done.
# Changing REQUIREMENTS below rebuilds it on the next run.
#
# Last line of stdout is always the venv's python path, so callers can do:
#   PY="$(tests/services/venv.sh | tail -n 1)"
#
# Environment knobs:
#   PIPEC_CACHE   cache root (default $HOME/.cache/pipec); venv at $PIPEC_CACHE/venv
#   PIPEC_PYTHON  interpreter to build the venv from (default python3)
set -euo pipefail

REQUIREMENTS=(
  "pyarrow==26.0.1"
  "duckdb==2.0.1"
  # Spark with Hive support (embedded Derby metastore, Hive 2.3's parser):
  # runs the generated DDL over pipec's files. Published as an sdist of
  # jars and Python only, so it installs without compiling anything.
  # 4.0.1 exactly: the Spark that delta-spark 4.0.1 is built against (its
  # POM's spark-sql_2.13 version); Delta 4.0.x supports only Spark 4.0.x,
  # and delta-spark's own metadata says just pyspark>=4.0.0.
  "pyspark==4.0.1"
  # Delta Lake readers independent of delta-rs' Rust crate pipec writes
  # with: the Python bindings (a Rust wheel, abi3, manylinux2014) and
  # Delta's Python API for Spark. The Spark side's jars (delta-spark_2.13,
  # delta-storage) come from Maven Central via tests/services/delta_jars.sh.
  "deltalake==1.6.6"
  "delta-spark==4.0.1"
)

CACHE="${PIPEC_CACHE:-$HOME/.cache/pipec}"
VENV="$CACHE/venv"
PY="$VENV/bin/python"
STAMP="$VENV/.pipec-requirements"
BASE_PYTHON="${PIPEC_PYTHON:-python3}"

log() { printf 'venv.sh: %s\n' "$*" >&2; }

want="$(printf '%s\n' "${REQUIREMENTS[@]}")"

# Fast path: same requirements and a working interpreter (a venv breaks if
# the base Python it points to was removed or upgraded).
if [ -x "$PY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
   && "$PY" -c 'import sys' >/dev/null 2>&1; then
  log "venv up to date at $VENV"
  echo "$PY"
  exit 0
fi

command -v "$BASE_PYTHON" >/dev/null 2>&1 || { log "ERROR: $BASE_PYTHON not found"; exit 1; }
log "building venv at $VENV with $("$BASE_PYTHON" --version 2>&1) for: ${REQUIREMENTS[*]}"
mkdir -p "$CACHE"
# Start clean: a half-built or stale venv is cheaper to redo than to repair.
rm -rf "$VENV"
"$BASE_PYTHON" -m venv "$VENV"
# Wheels only: building pyarrow/duckdb from source would take far too long
# on a 2-core machine; if no wheel fits, fail at once and loudly.
"$PY" -m pip install --quiet --disable-pip-version-check --only-binary=:all: --no-binary=pyspark \
  "${REQUIREMENTS[@]}" >&2
"$PY" -c 'import pyarrow, duckdb, pyspark, deltalake, delta; print("pyarrow", pyarrow.__version__, "duckdb", duckdb.__version__, "pyspark", pyspark.__version__, "deltalake", deltalake.__version__)' >&2
# Written last: its presence means the venv is complete.
printf '%s\n' "${REQUIREMENTS[@]}" >"$STAMP"
log "done"
echo "$PY"
