#!/usr/bin/env bash
# A real single-node Trino (476) for pipec's integration tests: it runs the
# Hive DDL pipec emits over the Parquet files pipec writes, with Trino's own
# Parquet reader, so "Trino can read our tables" is tested, not assumed.
#
# Why this shape: there is no Docker on our machines and only package
# registries are reachable, so Trino runs as a plain Java process from the
# `io.trino:trino-server` tarball on Maven Central, fetched with `mvn` (with
# the `io.trino:trino-cli` executable jar to run SQL). Both are cached outside
# the repo, so only the very first run needs the network.
#
# The server is one coordinator that also runs tasks, bound to 127.0.0.1
# only, with one catalog `hive`: the Hive connector over a file-based
# metastore (JSON files in the state dir, no metastore service) and Trino's
# native local file system, so tables point at pipec's output with
# `external_location = 'local:///abs/path'`. Optional S3 (the SeaweedFS of tests/services/s3.sh)
# in the same catalog when PIPEC_TRINO_S3_ENDPOINT is set.
#
# Usage: trino.sh start|stop|kill|restart|status|url|reset|fetch|logs [N]
#                 |sql STATEMENT|sql-file FILE|cli [CLI ARGS...]
#   start      fetch if needed, write config, start, wait until `SELECT 1`
#              answers. Idempotent.
#   stop       SIGTERM, wait, then SIGKILL. Safe when not running. Keeps the
#              metastore, so a later `start` sees the same schemas/tables.
#   restart    stop then start (metastore kept).
#   kill       SIGKILL at once (metastore kept).
#   status     prints "running pid=N url=..." (exit 0) or "stopped" (exit 3).
#   url        prints http://127.0.0.1:PORT (the CLI's --server / JDBC host).
#   reset      stops the server and wipes the state dir (metastore, config, logs).
#              Data files behind external tables are never touched.
#   fetch      only download/cache server and CLI (e.g. to warm a machine).
#   logs       prints the tail of the server log (default 100 lines).
#   sql STMT   runs one statement (no trailing `;` needed) on the running
#              server; prints the result rows on stdout as CSV without a
#              header (the CLI's CSV format: every value double-quoted, NULL
#              and '' both as ""); exits non-zero if the query fails, with
#              "Query ... failed: MESSAGE" on stderr. DDL prints its status
#              ("CREATE TABLE") on stderr, not stdout. Session: user pipec,
#              catalog hive, schema default, time zone UTC.
#   sql-file F runs the `;`-separated statements of file F in order, same
#              output; stops at the first failing one and exits non-zero.
#   cli ARGS   the Trino CLI against this server (interactive without ARGS).
#
# Environment knobs:
#   PIPEC_TRINO_PORT           HTTP port                         (default 18080)
#   PIPEC_TRINO_STATE          state dir: etc, data, metastore, log (default /tmp/pipec-trino)
#   PIPEC_CACHE                download cache root               (default $HOME/.cache/pipec)
#   PIPEC_TRINO_VERSION        Trino version                     (default 476)
#   PIPEC_TRINO_JAVA_HOME      Java 24+ (Trino 476 refuses older) (default
#                              /usr/lib/jvm/temurin-25-jdk-amd64, else the
#                              first /usr/lib/jvm/*25* found)
#   PIPEC_TRINO_START_TIMEOUT  seconds to wait for `SELECT 1`    (default 180)
#   PIPEC_TRINO_HEAP           JVM heap options                  (default "-Xmx1G")
#   PIPEC_TRINO_JVM_OPTS       extra server JVM options, space-separated (default none)
#   PIPEC_TRINO_OUTPUT_FORMAT  CLI output format for sql/sql-file (default CSV;
#                              e.g. CSV_UNQUOTED, TSV, JSON)
#   PIPEC_TRINO_CATALOG        the session catalog of sql/sql-file/cli (default hive)
#   PIPEC_TRINO_HMS_URI        adds a catalog `hms`: the hive connector over this
#                              Hive metastore (e.g. thrift://127.0.0.1:19083,
#                              tests/services/hms.sh). Its local tables are
#                              file:///abs/path, not local:///abs/path (the
#                              metastore has no local:// scheme), read through
#                              Trino's Hadoop file system. Read at `start`.
#   PIPEC_TRINO_S3_ENDPOINT    enables native S3 in the hive catalog, e.g.
#                              http://127.0.0.1:9000 (path-style access), with
#                              AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
#                              AWS_REGION (default us-east-1). Read at `start`.
#
# Table locations: use `local:///abs/path`. Trino 476 also accepts
# `file:///abs/path` and `file:/abs/path` in CREATE TABLE, but such tables
# silently read no rows: the local file system lists every file as
# local:///..., and the Hive connector keeps only files whose parent equals
# the table/partition location, which a file: location never does.
#
# Timestamps: the Hive connector's `hive.timestamp-precision` is left at its
# default, MILLISECONDS, on purpose: pipec's DDL must run on a stock Trino.
# With it, CREATE TABLE accepts only `timestamp(3)` columns (`timestamp(6)`
# fails) and microsecond Parquet timestamps are read rounded to milliseconds.
set -euo pipefail

VERSION="${PIPEC_TRINO_VERSION:-476}"
PORT="${PIPEC_TRINO_PORT:-18080}"
STATE="${PIPEC_TRINO_STATE:-/tmp/pipec-trino}"
CACHE="${PIPEC_CACHE:-$HOME/.cache/pipec}"
START_TIMEOUT="${PIPEC_TRINO_START_TIMEOUT:-180}"
HEAP="${PIPEC_TRINO_HEAP:--Xmx1G}"
JVM_OPTS="${PIPEC_TRINO_JVM_OPTS:-}"
OUTPUT_FORMAT="${PIPEC_TRINO_OUTPUT_FORMAT:-CSV}"
# Trino 476 checks at start-up that it runs on Java >= 24.0.1
# (io.trino.server.TrinoSystemRequirements); the machine's default `java` is 17.
MIN_JAVA_MAJOR=24

case "$STATE" in /*) ;; *) STATE="$PWD/$STATE" ;; esac  # paths go into URIs
URL="http://127.0.0.1:${PORT}"
TRINO_CACHE="$CACHE/trino-$VERSION"
SERVER_DIR="$TRINO_CACHE/trino-server-$VERSION"
CLI_JAR="$TRINO_CACHE/trino-cli-$VERSION-executable.jar"
ETC_DIR="$STATE/etc"
DATA_DIR="$STATE/data"
METASTORE_DIR="$STATE/metastore"
DELTA_METASTORE_DIR="$STATE/delta-metastore"
LOG_FILE="$STATE/trino.log"
PID_FILE="$STATE/trino.pid"

log() { printf 'trino.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- java

# Prints the java binary to use for both server and CLI, or dies.
find_java() {
  local home="${PIPEC_TRINO_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}" cand ver
  if [ ! -x "$home/bin/java" ] && [ -z "${PIPEC_TRINO_JAVA_HOME:-}" ]; then
    # The exact directory name differs between packagings (temurin-25-jdk,
    # java-25-openjdk, jdk-25.0.x): take the first Java 25 we can find.
    for cand in /usr/lib/jvm/*25*; do
      if [ -x "$cand/bin/java" ]; then home="$cand"; break; fi
    done
  fi
  [ -x "$home/bin/java" ] || die "no Java at '$home' (Trino $VERSION needs Java $MIN_JAVA_MAJOR+; set PIPEC_TRINO_JAVA_HOME)"
  ver="$("$home/bin/java" -version 2>&1 | sed -nE '1s/.*version "([0-9]+).*/\1/p')"
  [ "${ver:-0}" -ge "$MIN_JAVA_MAJOR" ] 2>/dev/null \
    || die "Java at '$home' is version '${ver:-?}'; Trino $VERSION needs $MIN_JAVA_MAJOR+ (set PIPEC_TRINO_JAVA_HOME)"
  echo "$home"
}

# ---------------------------------------------------------------- fetch

# The plugins kept after extraction (see fetch). The marker's name carries
# the set, so a cache pruned to another set (an older script kept only hive)
# does not count and is fetched again.
PLUGINS=(hive delta-lake)
MARKER="$TRINO_CACHE/.complete-$(IFS=+; echo "${PLUGINS[*]}")"
is_cached() { [ -f "$MARKER" ] && [ -f "$CLI_JAR" ] && [ -x "$SERVER_DIR/bin/launcher" ]; }

# Download the server tarball and the CLI jar with `mvn dependency:copy`,
# extract the server and prune it. The tarball (~820 MB) is resolved into a
# private local repository inside the cache that is deleted afterwards, like
# the tarball itself: keeping either would triple the disk used for nothing.
# The cache counts only once the .complete marker is written, so an
# interrupted fetch is redone from scratch, never used half-done.
fetch() {
  local dir="$TRINO_CACHE" repo="$TRINO_CACHE/m2" dl="$TRINO_CACHE/dl" art p
  command -v mvn >/dev/null 2>&1 || die "mvn not found (needed once to fetch Trino)"
  mkdir -p "$dir"
  rm -rf "$SERVER_DIR" "$CLI_JAR" "$dir"/.complete* "$dl" "$repo"
  mkdir -p "$dl"
  : >"$dir/fetch.log"
  for art in "io.trino:trino-server:$VERSION:tar.gz" "io.trino:trino-cli:$VERSION:jar:executable"; do
    log "fetching $art with mvn ..."
    if ! mvn -B -q -Dmaven.repo.local="$repo" \
          org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
          -Dartifact="$art" -DoutputDirectory="$dl" >>"$dir/fetch.log" 2>&1; then
      tail -n 20 "$dir/fetch.log" >&2 || true
      rm -rf "$dl" "$repo"
      die "mvn could not fetch $art (see $dir/fetch.log)"
    fi
  done
  log "extracting trino-server-$VERSION.tar.gz ..."
  tar -xzf "$dl/trino-server-$VERSION.tar.gz" -C "$dir" \
    || { rm -rf "$SERVER_DIR"; die "could not extract $dl/trino-server-$VERSION.tar.gz"; }
  [ -x "$SERVER_DIR/bin/launcher" ] || die "unexpected tarball layout: no $SERVER_DIR/bin/launcher"
  for p in "${PLUGINS[@]}"; do
    [ -d "$SERVER_DIR/plugin/$p" ] || die "unexpected tarball layout: no $SERVER_DIR/plugin/$p"
  done
  # Trino loads every directory under plugin/ at start-up (55 of them in
  # 476, each with its own class loader); we only use the Hive and Delta
  # Lake connectors. Pruning the rest saves most of the disk and start-up
  # work on a 2-core machine.
  for p in "$SERVER_DIR"/plugin/*; do
    case " ${PLUGINS[*]} " in *" $(basename "$p") "*) ;; *) rm -rf "$p" ;; esac
  done
  mv "$dl/trino-cli-$VERSION-executable.jar" "$CLI_JAR"
  rm -rf "$dl" "$repo"
  touch "$MARKER"
  log "cached Trino $VERSION in $TRINO_CACHE ($(du -sh "$TRINO_CACHE" | cut -f1))"
}

ensure_fetched() { is_cached || fetch; }

# ---------------------------------------------------------------- config

write_config() {
  mkdir -p "$ETC_DIR/catalog" "$DATA_DIR" "$METASTORE_DIR" "$DELTA_METASTORE_DIR" "$STATE/tmp"
  # Everything in etc/ is regenerated on every start so a changed port or S3
  # setting takes effect; the metastore and data dir are untouched.
  cat >"$ETC_DIR/node.properties" <<EOF
# Generated by pipec tests/services/trino.sh — edits are overwritten on start.
node.environment=pipec_test
# Fixed id: one node per state dir; recognisable in logs and system.runtime.nodes.
node.id=pipec-trino
# Loopback only: the HTTP server binds to node.bind-ip, and the node announces
# node.internal-address to itself (the default would be the host's IP).
node.bind-ip=127.0.0.1
node.internal-address=127.0.0.1
EOF

  # shellcheck disable=SC2086  # $HEAP is intentionally word-split
  {
    echo "# Generated by pipec tests/services/trino.sh — edits are overwritten on start."
    echo "-server"
    printf '%s\n' $HEAP
    cat <<EOF
# The rest is Trino's recommended jvm.config (core/docker/default/etc), minus
# -XX:G1HeapRegionSize=32M (sized for big heaps; with 1 GB it would leave 32
# regions) and the RAM-percentage flags (replaced by the explicit heap above).
-XX:+UseG1GC
-XX:+ExplicitGCInvokesConcurrent
-XX:+ExitOnOutOfMemoryError
-XX:-OmitStackTraceInFastThrow
-XX:ReservedCodeCacheSize=256M
-XX:PerMethodRecompilationCutoff=10000
-XX:PerBytecodeRecompilationCutoff=10000
-Djdk.attach.allowAttachSelf=true
-Djdk.nio.maxCachedBufferSize=2000000
-XX:+EnableDynamicAgentLoading
-XX:+UnlockDiagnosticVMOptions
-XX:G1NumCollectionsKeepPinned=10000000
# Trino refuses to start unless the default charset is UTF-8.
-Dfile.encoding=UTF-8
# Java 24+ warns at start-up about sun.misc.Unsafe and JNI use by libraries
# (JOL, JNA, zstd, snappy); both are still allowed on Java 25 and Trino needs
# them. Say so explicitly, which also keeps the warnings out of the log.
--sun-misc-unsafe-memory-access=allow
--enable-native-access=ALL-UNNAMED
# Results must not depend on the machine's zone (the Hive connector's Parquet
# time-zone settings default to the JVM zone).
-Duser.timezone=UTC
# Spill/temp files in the state dir, not in a shared /tmp.
-Djava.io.tmpdir=$STATE/tmp
EOF
    # shellcheck disable=SC2086  # one option per word
    [ -z "$JVM_OPTS" ] || printf '%s\n' $JVM_OPTS
  } >"$ETC_DIR/jvm.config"

  cat >"$ETC_DIR/config.properties" <<EOF
# Generated by pipec tests/services/trino.sh — edits are overwritten on start.
# One node that is both coordinator and worker: without
# include-coordinator=true a lone coordinator has no node to run tasks on and
# every query waits for a worker.
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=${PORT}
# The coordinator's embedded discovery service, i.e. itself.
discovery.uri=${URL}
# Memory: query.max-memory-per-node and memory.heap-headroom-per-node are
# left at their defaults, 30% of the heap each, so they stay consistent with
# whatever PIPEC_TRINO_HEAP says (Trino refuses to start if the two add up to
# more than the heap). query.max-memory (cluster-wide, default 20GB) is not
# binding on a single node: the per-node limit is hit first.
EOF

  cat >"$ETC_DIR/log.properties" <<EOF
# Generated by pipec tests/services/trino.sh — edits are overwritten on start.
io.trino=INFO
EOF

  write_catalog
}

write_catalog() {
  local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
  rm -f "$ETC_DIR/catalog/hms.properties"
  if [ -n "${PIPEC_TRINO_HMS_URI:-}" ]; then
    cat >"$ETC_DIR/catalog/hms.properties" <<EOF
# Generated by pipec tests/services/trino.sh — edits are overwritten on start.
# The hive connector over a Hive metastore service (tests/services/hms.sh),
# from PIPEC_TRINO_HMS_URI: the tables \`pipec run --metastore\` registers.
# Its tables are not wiped by \`trino.sh reset\`.
connector.name=hive
hive.metastore=thrift
hive.metastore.uri=${PIPEC_TRINO_HMS_URI}
# Local tables: file:///abs/path. The metastore checks every location with
# Hadoop's FileSystem, which has no local:// scheme, and stores file:///x as
# file:/x. Trino's native local file system would read no rows there (see
# the header), so file: goes to Trino's Hadoop file system instead (the
# fallback for every scheme no native file system claims).
fs.hadoop.enabled=true
hive.non-managed-table-writes-enabled=false
EOF
  fi
  cat >"$ETC_DIR/catalog/hive.properties" <<EOF
# Generated by pipec tests/services/trino.sh — edits are overwritten on start.
connector.name=hive
# File-based metastore: schemas/tables/partitions as JSON under this dir. No
# metastore service to run; wiped by \`trino.sh reset\`.
hive.metastore=file
hive.metastore.catalog.dir=local://${METASTORE_DIR}
# Trino's native local file system (Trino 476 has no file system enabled by
# default). Paths are resolved under local.location, so "/" makes
# local:///abs/path mean /abs/path. It also takes file:// locations, but
# tables there read no rows (see the header): use local:///.
fs.native-local.enabled=true
local.location=/
# CREATE TABLE ... WITH (external_location = ...): allowed by default (the
# property is hive.non-managed-table-creates-enabled); set explicitly because
# pipec's DDL depends on it. Writes (INSERT) into such external tables stay
# disabled (the default): tests only read what pipec wrote.
hive.non-managed-table-creates-enabled=true
hive.non-managed-table-writes-enabled=false
# hive.timestamp-precision is deliberately left at its default, MILLISECONDS
# (see the header): the DDL pipec emits must work on a stock Trino.
EOF
  cat >"$ETC_DIR/catalog/delta.properties" <<EOF
# Generated by pipec tests/services/trino.sh — edits are overwritten on start.
connector.name=delta_lake
# Its own file metastore (not the hive catalog's): each connector refuses
# the other's tables, so one shared dir would only list tables that fail.
hive.metastore=file
hive.metastore.catalog.dir=local://${DELTA_METASTORE_DIR}
# The same native local file system as the hive catalog: local:///abs/path.
fs.native-local.enabled=true
local.location=/
# CALL delta.system.register_table(schema_name => ..., table_name => ...,
# table_location => ...): adds an existing Delta table (pipec's, written by
# delta-rs) to the metastore, reading its schema from the _delta_log.
# Disabled by default.
delta.register-table-procedure.enabled=true
EOF
  if [ -n "${PIPEC_TRINO_S3_ENDPOINT:-}" ]; then
    if [ -z "${AWS_ACCESS_KEY_ID:-}" ] || [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
      die "PIPEC_TRINO_S3_ENDPOINT is set but AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not"
    fi
    local catalog
    for catalog in hive delta $([ -f "$ETC_DIR/catalog/hms.properties" ] && echo hms); do
      cat >>"$ETC_DIR/catalog/$catalog.properties" <<EOF
# Native S3 (s3://, s3a://, s3n://) next to the local file system, for a local
# S3-compatible server: path-style URLs (http://host:port/bucket/key), since
# virtual-host style needs DNS for bucket.host.
fs.native-s3.enabled=true
s3.endpoint=${PIPEC_TRINO_S3_ENDPOINT}
s3.region=${region}
s3.path-style-access=true
s3.aws-access-key=${AWS_ACCESS_KEY_ID}
s3.aws-secret-key=${AWS_SECRET_ACCESS_KEY}
EOF
    done
  fi
}

# ---------------------------------------------------------------- process

# The pid in the pid file is ours only if that process is alive and is a
# Trino server using our etc dir (guards against pid reuse). The launcher
# exec()s java, so the pid we started is the JVM's.
running_pid() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-Dconfig=$ETC_DIR/config.properties" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The Trino CLI command against our server, in the array CLI.
# -XX:TieredStopAtLevel=1, serial GC and a small heap: every call is a
# short-lived JVM, which starts fastest that way. --enable-native-access:
# JLine loads its native library, and Java 24+ warns about that on stderr.
# With "batch" as $1 the CLI gets a dumb terminal on purpose: otherwise JLine
# warns on stderr, for every statement, that it could not open a real one.
cli_cmd() {
  local java_home batch=()
  java_home="$(find_java)"
  [ -f "$CLI_JAR" ] || die "Trino CLI not cached ($CLI_JAR); run: $0 fetch"
  [ "${1:-}" = batch ] && batch=(-Dorg.jline.terminal.dumb=true)
  CLI=("$java_home/bin/java" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
       --enable-native-access=ALL-UNNAMED "${batch[@]}"
       -jar "$CLI_JAR" --server "$URL" --user pipec --catalog "${PIPEC_TRINO_CATALOG:-hive}" --schema default
       --timezone UTC)
}
cli() { cli_cmd; "${CLI[@]}" "$@"; }
cli_batch() { cli_cmd batch; "${CLI[@]}" "$@"; }

# /v1/info says "starting":false once all plugins and catalogs are loaded.
info_ready() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 2 "$URL/v1/info" 2>/dev/null | grep -q '"starting":false'
  else
    port_open "$PORT"
  fi
}

# The server "answers" when a real query completes: right after start-up
# the node may not yet be announced to its own discovery service, and
# queries fail or wait until it is.
select1() {
  local out
  cli_cmd batch
  out="$(timeout 30 "${CLI[@]}" --output-format CSV_UNQUOTED --execute 'SELECT 1' 2>/dev/null)" || return 1
  [ "$out" = "1" ]
}

cmd_start() {
  local pid java_home deadline
  if pid="$(running_pid)"; then
    if select1; then log "already running (pid $pid) at $URL"; return 0; fi
    log "pid $pid is running but not answering yet; waiting"
  else
    ensure_fetched
    java_home="$(find_java)"
    if port_open "$PORT"; then
      die "port $PORT is in use by another process (set PIPEC_TRINO_PORT)"
    fi
    # Trino refuses to start with fewer than 4096 open files allowed.
    if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
      ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
      [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 4096 ] \
        || die "open-file limit $(ulimit -n) < 4096, which Trino requires (hard limit $(ulimit -Hn))"
    fi
    mkdir -p "$STATE"
    write_config
    log "starting Trino $VERSION at $URL (java $java_home, state $STATE, log $LOG_FILE)"
    echo "===== $(date -u +%FT%TZ) start Trino $VERSION =====" >>"$LOG_FILE"
    # `launcher run` exec()s java in the foreground (server log on stdout);
    # setsid + nohup: the server outlives this script and its process group.
    JAVA_HOME="$java_home" nohup setsid "$SERVER_DIR/bin/launcher" \
        --etc-dir="$ETC_DIR" --data-dir="$DATA_DIR" run \
        >>"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
  fi

  deadline=$((SECONDS + START_TIMEOUT))
  until info_ready && select1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "Trino process $pid exited during startup; log tail:"
      tail -n 60 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "Trino did not answer SELECT 1 at $URL within ${START_TIMEOUT}s; log tail:"
      tail -n 60 "$LOG_FILE" >&2 || true
      cmd_stop || true
      exit 1
    fi
    sleep 1
  done
  log "up (pid $pid) at $URL"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid (SIGTERM)"
  echo "===== $(date -u +%FT%TZ) stop requested (pid $pid) =====" >>"$LOG_FILE"
  kill -TERM "$pid" 2>/dev/null || true
  # Trino's shutdown hooks are quick when idle; give it 30 s before forcing.
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after 30s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_kill() {
  local pid
  if ! pid="$(running_pid)"; then rm -f "$PID_FILE"; log "not running"; return 0; fi
  echo "===== $(date -u +%FT%TZ) SIGKILL (pid $pid) =====" >>"$LOG_FILE"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$PID_FILE"
  log "killed pid $pid"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if info_ready; then echo "running pid=$pid url=$URL"
    else echo "starting pid=$pid url=$URL (not answering yet)"; fi
    return 0
  fi
  echo "stopped"
  return 3
}

cmd_reset() {
  cmd_stop
  # Guard against wiping something that is obviously not ours.
  case "$STATE" in ""|"/"|"$HOME") die "refusing to wipe state dir '$STATE'";; esac
  rm -rf "$STATE"
  log "wiped $STATE"
}

require_running() {
  running_pid >/dev/null || die "Trino is not running (run: $0 start)"
}

case "${1:-}" in
  start)    cmd_start ;;
  stop)     cmd_stop ;;
  kill)     cmd_kill ;;
  restart)  cmd_stop; cmd_start ;;
  status)   cmd_status ;;
  url)      echo "$URL" ;;
  reset)    cmd_reset ;;
  fetch)    ensure_fetched; echo "$TRINO_CACHE" ;;
  logs)     tail -n "${2:-100}" "$LOG_FILE" ;;
  sql)
    [ $# -eq 2 ] || die "usage: $0 sql STATEMENT"
    require_running
    cli_batch --output-format "$OUTPUT_FORMAT" --execute "$2" ;;
  sql-file)
    [ $# -eq 2 ] || die "usage: $0 sql-file FILE"
    [ -f "$2" ] || die "no such file: $2"
    require_running
    cli_batch --output-format "$OUTPUT_FORMAT" --file "$2" ;;
  cli)      shift; cli "$@" ;;
  *) echo "usage: $0 start|stop|kill|restart|status|url|reset|fetch|logs [N]|sql STATEMENT|sql-file FILE|cli [ARGS]" >&2; exit 2 ;;
esac
