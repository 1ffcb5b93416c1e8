#!/usr/bin/env bash
# The jars Spark needs to read Delta Lake tables, for tests/engines/spark_delta.py:
# Delta Lake's Spark connector (io.delta:delta-spark_2.13) and its storage
# layer (io.delta:delta-storage), and, for s3a:// tables on the S3 server of
# tests/services/s3.sh, Hadoop's S3A file system (org.apache.hadoop:hadoop-aws)
# with the AWS SDK v2 bundle it is built against.
#
# Why this shape: only package registries are reachable, so the jars come
# from Maven Central with `mvn dependency:copy` (as trino.sh fetches Trino),
# not with Spark's own `--packages` (Ivy at start-up, in every test). Each set
# is cached outside the repo, under $PIPEC_CACHE, and counts only once its
# .complete marker is written, so an interrupted fetch is redone, never used.
# The Maven repository used for the download is private to the fetch and
# deleted afterwards (the SDK bundle alone is ~500 MB; one copy is enough).
#
# Versions must match the pyspark of tests/services/venv.sh:
#   - delta-spark 4.0.1 is built against Spark 4.0.1 (Delta 4.0.x runs on
#     Spark 4.0.x only), i.e. pyspark==4.0.1, Scala 2.13;
#   - hadoop-aws must be exactly the Hadoop in pyspark's jars/
#     (hadoop-client-api-3.4.1.jar in pyspark 4.0.1), and the SDK bundle
#     the one that hadoop-aws 3.4.1's POM names (hadoop-project's
#     aws-java-sdk-v2.version, 2.24.6). spark_delta.py checks the Hadoop match.
# The rest delta-spark's POM asks for (scala-library, antlr4-runtime) ships
# with pyspark.
#
# Usage: delta_jars.sh [s3]
#   (none)  fetches (once) the Delta jars; the last line of stdout is their
#           paths, comma-separated (what spark.jars takes).
#   s3      the same, plus hadoop-aws and the AWS SDK bundle (in that list).
# Idempotent, and safe to run concurrently (a lock around each fetch).
#
# Environment knobs:
#   PIPEC_CACHE   cache root (default $HOME/.cache/pipec)
set -euo pipefail

DELTA_VERSION=4.0.1
HADOOP_VERSION=3.4.1
AWS_SDK_VERSION=2.24.6

CACHE="${PIPEC_CACHE:-$HOME/.cache/pipec}"

log() { printf 'delta_jars.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# fetch_set DIR GROUP:ARTIFACT:VERSION...: the given jars (no transitive
# dependencies) into DIR/jars, unless DIR/.complete says they are there.
fetch_set() {
  local dir="$1" art repo
  shift
  [ -f "$dir/.complete" ] && return 0
  mkdir -p "$dir"
  exec 8>"$dir.lock"
  flock 8
  if [ ! -f "$dir/.complete" ]; then
    command -v mvn >/dev/null 2>&1 || die "mvn not found (needed once to fetch $*)"
    repo="$dir/m2"
    rm -rf "$dir/jars" "$repo"
    mkdir -p "$dir/jars"
    : >"$dir/fetch.log"
    for art in "$@"; do
      log "fetching $art with mvn ..."
      if ! mvn -B -q -Dmaven.repo.local="$repo" \
            org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
            -Dartifact="$art:jar" -DoutputDirectory="$dir/jars" >>"$dir/fetch.log" 2>&1; then
        tail -n 20 "$dir/fetch.log" >&2 || true
        rm -rf "$dir/jars" "$repo"
        die "mvn could not fetch $art (see $dir/fetch.log)"
      fi
    done
    rm -rf "$repo"
    touch "$dir/.complete"
    log "cached $(ls "$dir/jars" | wc -l) jars in $dir/jars ($(du -sh "$dir/jars" | cut -f1))"
  fi
  flock -u 8
  exec 8>&-
}

# jar_path DIR GROUP:ARTIFACT:VERSION: where dependency:copy put that jar.
jar_path() {
  local a="${2#*:}"
  local artifact="${a%%:*}" version="${a#*:}"
  local f="$1/jars/$artifact-$version.jar"
  [ -f "$f" ] || die "$f missing although $1/.complete exists; delete $1 and rerun"
  echo "$f"
}

DELTA_DIR="$CACHE/delta-spark-$DELTA_VERSION"
DELTA_ARTS=("io.delta:delta-spark_2.13:$DELTA_VERSION" "io.delta:delta-storage:$DELTA_VERSION")
S3A_DIR="$CACHE/hadoop-aws-$HADOOP_VERSION"
S3A_ARTS=("org.apache.hadoop:hadoop-aws:$HADOOP_VERSION" "software.amazon.awssdk:bundle:$AWS_SDK_VERSION")

case "${1:-}" in
  "") sets=(delta) ;;
  s3) sets=(delta s3) ;;
  *) echo "usage: $0 [s3]" >&2; exit 2 ;;
esac

paths=()
for set in "${sets[@]}"; do
  case "$set" in
    delta) dir="$DELTA_DIR"; arts=("${DELTA_ARTS[@]}") ;;
    s3) dir="$S3A_DIR"; arts=("${S3A_ARTS[@]}") ;;
  esac
  fetch_set "$dir" "${arts[@]}"
  for art in "${arts[@]}"; do paths+=("$(jar_path "$dir" "$art")"); done
done
(IFS=,; echo "${paths[*]}")
