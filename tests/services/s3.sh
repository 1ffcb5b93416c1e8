#!/usr/bin/env bash
# A real S3-compatible object store (SeaweedFS, Apache-2.0) for pipec's
# integration tests: pipec writes its Parquet tables through the Rust
# `object_store` crate, and these tests point it at a real server that speaks
# AWS SigV4, ListObjectsV2, multipart uploads and conditional PUTs
# (If-None-Match: * / If-Match: <etag>, what object_store sends for
# PutMode::Create / PutMode::Update).
#
# Why this shape: there is no Docker on our machines and only package
# registries are reachable (no GitHub release downloads), so SeaweedFS is
# built from source fetched through the Go module proxy. `go install
# pkg@version` refuses SeaweedFS's go.mod (it has replace directives), so we
# `go mod download` the module, copy it out of the read-only module cache and
# `go build ./weed` there (~8 minutes on an idle 2-core machine, once). The
# binary (~160 MB) is cached outside the repo so only the very first run needs
# the network and the compiler.
#
# It runs as one `weed server -s3` process (master + volume server + filer +
# S3 gateway), bound to 127.0.0.1 only, with one static S3 identity.
#
# Usage: s3.sh start|stop|kill|restart|status|endpoint|env|mb|reset|fetch|logs
#   start      build/cache the binary if needed, start, wait until the server
#              takes writes (see server_answers): ~13 s on a fresh state dir,
#              ~16 s on a restart with data. Idempotent.
#   stop       SIGTERM, wait, then SIGKILL. Safe when not running. Keeps data,
#              so a later `start` serves the same buckets and objects
#              (object-store-outage tests).
#   restart    stop then start (data kept).
#   kill       SIGKILL at once, no clean shutdown (simulates a crash; data
#              kept, `start` recovers it).
#   status     prints "running pid=N endpoint=..." (exit 0) or "stopped" (exit 3).
#   endpoint   prints http://127.0.0.1:PORT (the S3 endpoint URL).
#   env        prints the `export AWS_...=...` lines a client needs, e.g.
#              eval "$(tests/services/s3.sh env)"
#   mb BUCKET  creates BUCKET (idempotent: an existing bucket of ours is fine).
#   reset      stops the server and wipes the state dir (data, logs, config).
#   fetch      only build/cache the binary (e.g. to warm a machine); prints its path.
#   logs [N]   prints the last N (default 100) lines of the server log.
#
# Ports (all on 127.0.0.1). SeaweedFS also opens a gRPC port for every HTTP
# port at HTTP port + 10000; defaults are chosen so that neither set hits
# Kafka (19092/19093, kafka.sh) or Trino (18080), and all stay below the
# Linux ephemeral range (32768+):
#   S3 18333 (gRPC 28333), master 18334 (28334), volume 18335 (28335),
#   filer 18336 (28336).
#
# Environment knobs:
#   PIPEC_S3_PORT             S3 HTTP port                  (default 18333)
#   PIPEC_S3_MASTER_PORT      master HTTP port              (default PORT+1)
#   PIPEC_S3_VOLUME_PORT      volume server HTTP port       (default PORT+2)
#   PIPEC_S3_FILER_PORT       filer HTTP port               (default PORT+3)
#   PIPEC_S3_STATE            state dir: data, log, config  (default /tmp/pipec-s3)
#   PIPEC_CACHE               binary cache root             (default $HOME/.cache/pipec)
#   PIPEC_S3_ACCESS_KEY       access key id                 (default pipec)
#   PIPEC_S3_SECRET_KEY       secret access key             (default pipecsecret)
#   PIPEC_S3_READ_ONLY_ACCESS_KEY / _SECRET_KEY  an identity that reads and
#                             lists only       (default pipecreader / pipecreadersecret)
#   PIPEC_S3_REGION           region clients sign for       (default us-east-1)
#   PIPEC_S3_VOLUME_SIZE_MB   volume size limit in MB       (default 64)
#   PIPEC_S3_VOLUME_MAX       max number of volumes         (default 128)
#   PIPEC_S3_START_TIMEOUT    seconds to wait for the server (default 90)
#   PIPEC_S3_EMPTY_DIR_DELAY  how long an emptied "dir/" lingers before the
#                             cleaner may remove it (Go duration, default 1s)
#   PIPEC_SEAWEEDFS_VERSION   Go module version to build    (default: SEAWEEDFS_VERSION below)
#   PIPEC_GO                  go binary for the one-time build (default: `go` on
#                             PATH, else /usr/local/go/bin/go)
set -euo pipefail

# A pseudo-version of github.com/seaweedfs/seaweedfs (SeaweedFS 4.53, commit
# 7506e5f91cd6) that the Go module proxy serves. It is the one verified to
# honour If-None-Match/If-Match on PUT atomically (412 on conflict). Its
# go.mod asks for Go >= 1.26.6 (with an older local Go, GOTOOLCHAIN=auto
# lets `go` fetch a newer toolchain through the module proxy).
SEAWEEDFS_MODULE=github.com/seaweedfs/seaweedfs
SEAWEEDFS_VERSION="${PIPEC_SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"

PORT="${PIPEC_S3_PORT:-18333}"
MASTER_PORT="${PIPEC_S3_MASTER_PORT:-$((PORT + 1))}"
VOLUME_PORT="${PIPEC_S3_VOLUME_PORT:-$((PORT + 2))}"
FILER_PORT="${PIPEC_S3_FILER_PORT:-$((PORT + 3))}"
STATE="${PIPEC_S3_STATE:-/tmp/pipec-s3}"
CACHE="${PIPEC_CACHE:-$HOME/.cache/pipec}"
ACCESS_KEY="${PIPEC_S3_ACCESS_KEY:-pipec}"
SECRET_KEY="${PIPEC_S3_SECRET_KEY:-pipecsecret}"
# A second identity that may read and list but not write: what a sink sees
# when its store refuses writes (tests/health.rs).
READ_ONLY_ACCESS_KEY="${PIPEC_S3_READ_ONLY_ACCESS_KEY:-pipecreader}"
READ_ONLY_SECRET_KEY="${PIPEC_S3_READ_ONLY_SECRET_KEY:-pipecreadersecret}"
REGION="${PIPEC_S3_REGION:-us-east-1}"
VOLUME_SIZE_MB="${PIPEC_S3_VOLUME_SIZE_MB:-64}"
VOLUME_MAX="${PIPEC_S3_VOLUME_MAX:-128}"
START_TIMEOUT="${PIPEC_S3_START_TIMEOUT:-90}"
EMPTY_DIR_DELAY="${PIPEC_S3_EMPTY_DIR_DELAY:-1s}"

HOST=127.0.0.1
ENDPOINT="http://${HOST}:${PORT}"
GRPC_OFFSET=10000  # SeaweedFS's own convention: gRPC port = HTTP port + 10000
DATA_DIR="$STATE/data"
CONF_DIR="$STATE/conf"
LOG_FILE="$STATE/weed.log"
PID_FILE="$STATE/weed.pid"
S3_CONFIG="$STATE/s3.json"

BIN_DIR="$CACHE/seaweedfs-$SEAWEEDFS_VERSION"
WEED="$BIN_DIR/weed"

log() { printf 's3.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- binary

find_go() {
  if [ -n "${PIPEC_GO:-}" ]; then echo "$PIPEC_GO"; return; fi
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go; return; fi
  return 1
}

# The binary is usable only once the .complete marker is written (after a
# successful build and a smoke run), so an interrupted build is redone,
# never used.
is_cached() { [ -f "$BIN_DIR/.complete" ] && [ -x "$WEED" ]; }

build_weed() {
  local go modjson moddir t0 t1 t2 src="$BIN_DIR/src"
  go="$(find_go)" || die "no Go toolchain found (needed once to build SeaweedFS; set PIPEC_GO)"
  mkdir -p "$BIN_DIR"
  rm -rf "$src" "$WEED" "$WEED.tmp" "$BIN_DIR/.complete"
  log "building SeaweedFS $SEAWEEDFS_VERSION once with $go ($("$go" version 2>/dev/null || echo '?')); log: $BIN_DIR/build.log"
  : >"$BIN_DIR/build.log"
  t0=$SECONDS
  # The proxy resolves the pseudo-version; -json tells us where the module
  # landed in the module cache.
  if ! modjson="$("$go" mod download -json "$SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION" 2>>"$BIN_DIR/build.log")"; then
    printf '%s\n' "$modjson" >>"$BIN_DIR/build.log"
    tail -n 20 "$BIN_DIR/build.log" >&2
    die "go mod download $SEAWEEDFS_MODULE@$SEAWEEDFS_VERSION failed"
  fi
  moddir="$(printf '%s\n' "$modjson" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [ -n "$moddir" ] && [ -f "$moddir/go.mod" ] \
    || { printf '%s\n' "$modjson" >&2; die "go mod download gave no usable module dir"; }
  t1=$SECONDS
  log "module downloaded in $((t1 - t0))s: $moddir"
  # The module cache is read-only; building inside it would also treat the
  # module as a dependency, not the main module, so its replace directives
  # would be ignored. Build in a writable copy instead.
  cp -r "$moddir" "$src"
  chmod -R u+w "$src"
  # CGO_ENABLED=0: a static binary, no C toolchain needed, as upstream's
  # release/docker builds do. -trimpath: no build-machine paths inside, so
  # the Go build cache is reused whatever $CACHE is. -s -w: ~30% smaller.
  # -buildvcs=false: the copy is not a git checkout. nice: builds share the
  # machine with other work (tests, cargo).
  log "go build ./weed (~8 min of 2 cores; longer on a busy machine) ..."
  if ! (cd "$src" && nice -n 10 env CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
          "$go" build -trimpath \
          -ldflags "-s -w -X $SEAWEEDFS_MODULE/weed/util/version.COMMIT=${SEAWEEDFS_VERSION##*-}" \
          -o "$WEED.tmp" ./weed) >>"$BIN_DIR/build.log" 2>&1; then
    tail -n 30 "$BIN_DIR/build.log" >&2
    rm -f "$WEED.tmp"
    die "go build of SeaweedFS failed (full log: $BIN_DIR/build.log)"
  fi
  t2=$SECONDS
  "$WEED.tmp" version >>"$BIN_DIR/build.log" 2>&1 || die "built weed binary does not run"
  mv "$WEED.tmp" "$WEED"
  # The source copy (~150 MB) is not needed any more; the module cache keeps
  # the pristine one for a rebuild.
  rm -rf "$src"
  touch "$BIN_DIR/.complete"
  log "built $WEED in $((t2 - t1))s ($("$WEED" version 2>/dev/null | head -n 1))"
}

# Builds the binary unless it is cached. Under a lock: two test runs starting
# at once on a cold machine must not both spend minutes building into the
# same directory.
ensure_weed() {
  is_cached && return 0
  mkdir -p "$CACHE"
  exec 8>"$CACHE/seaweedfs.lock"
  flock 8
  is_cached || build_weed
  flock -u 8
  exec 8>&-
}

# ---------------------------------------------------------------- process

# start/stop/kill/reset of one state dir run one at a time: two concurrent
# starts would both launch a server, and the loser's cleanup would remove
# the winner's pid file. The lock file sits beside the state dir so `reset`
# can wipe the dir. The server must not inherit the lock's fd (it would hold
# the lock for its whole life): see `9>&-` in cmd_start.
lock_state() {
  mkdir -p "$(dirname "$STATE")"
  exec 9>>"$STATE.lock"
  flock 9
}

# The pid in the pid file is ours only if that process is alive and is a
# `weed server` using our data dir (guards against pid reuse).
running_pid() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "server -dir=$DATA_DIR " || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

all_ports() {
  local p
  for p in "$PORT" "$MASTER_PORT" "$VOLUME_PORT" "$FILER_PORT"; do
    echo "$p" "$((p + GRPC_OFFSET))"
  done
}

# An S3 request signed with SigV4 by curl (>= 7.75). AWS requires the
# x-amz-content-sha256 header, which curl 7.x does not add by itself
# (SeaweedFS accepts requests without it, but this is what real clients
# send). Keep paths free of query strings: curl 7.88 signs those wrongly
# for S3 (SignatureDoesNotMatch). Prints the HTTP status code; the response
# body goes to $STATE/last-response.xml for error messages.
s3_request() {
  local method="$1" path="$2"
  shift 2
  curl -sS -o "$STATE/last-response.xml" -w '%{http_code}' --max-time 10 \
    --aws-sigv4 "aws:amz:${REGION}:s3" --user "${ACCESS_KEY}:${SECRET_KEY}" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -X "$method" "$@" "${ENDPOINT}${path}" 2>/dev/null || true
}

# The server "answers" when it can really take writes, which is three checks:
#  1. an authenticated ListBuckets returns 200: the S3 gateway, its identity
#     config and the filer behind it are up;
#  2. the master hands out a file id: after a restart with data the master
#     refuses assignments for 15 s after it becomes leader (hard-coded 3 x
#     5 s heartbeat pulses, time for volume servers to re-register), and S3
#     PUTs in that window stall ~10 s inside the gateway or fail. Asking for
#     an id reserves a number, nothing else;
#  3. the filer has joined the master's lock ring (its log says so since the
#     last start): every S3 object write takes a filer lock, and until the
#     ring exists PUTs stall retrying "no lock server found" (~12 s after a
#     fresh start). There is no HTTP endpoint that tells, hence the log.
# WAITING_FOR names the first check that failed, for the timeout message.
WAITING_FOR=""
server_answers() {
  WAITING_FOR="S3 ListBuckets to return 200"
  [ "$(s3_request GET /)" = "200" ] || return 1
  WAITING_FOR="the master to assign file ids (/dir/assign)"
  curl -sS --max-time 5 "http://${HOST}:${MASTER_PORT}/dir/assign" 2>/dev/null | grep -q '"fid"' || return 1
  WAITING_FOR="the filer to join the lock ring (log line 'LockRing: applying master ring update')"
  awk '/^===== .* start SeaweedFS/ { ready = 0 }
       /LockRing: applying master ring update/ { ready = 1 }
       END { exit !ready }' "$LOG_FILE" 2>/dev/null || return 1
  WAITING_FOR=""
}

write_config() {
  mkdir -p "$DATA_DIR" "$CONF_DIR"
  # Regenerated on every start so changed keys take effect; the data in
  # $DATA_DIR is untouched. One identity with every action on every bucket,
  # one that reads and lists only, and no anonymous identity: unsigned
  # requests are refused, as on AWS.
  (umask 077; cat >"$S3_CONFIG") <<EOF
{
  "identities": [
    {
      "name": "pipec",
      "credentials": [
        { "accessKey": "${ACCESS_KEY}", "secretKey": "${SECRET_KEY}" }
      ],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    },
    {
      "name": "pipec-reader",
      "credentials": [
        { "accessKey": "${READ_ONLY_ACCESS_KEY}", "secretKey": "${READ_ONLY_SECRET_KEY}" }
      ],
      "actions": ["Read", "List"]
    }
  ]
}
EOF
}

cmd_start() {
  local pid deadline p t0
  t0=$SECONDS
  if pid="$(running_pid)"; then
    if server_answers; then log "already running (pid $pid) at $ENDPOINT"; return 0; fi
    log "pid $pid is running but not answering yet; waiting"
  else
    ensure_weed
    command -v curl >/dev/null 2>&1 || die "curl not found (needed to check the server)"
    for p in $(all_ports); do
      port_open "$p" && die "port $p is in use by another process (set PIPEC_S3_PORT / PIPEC_S3_*_PORT; gRPC ports are HTTP+$GRPC_OFFSET)"
    done
    mkdir -p "$STATE"
    if [ -n "$(ls -A "$DATA_DIR" 2>/dev/null)" ]; then
      log "existing data in $DATA_DIR: the master holds writes for its first 15 s, so this takes ~16 s"
    fi
    write_config
    log "starting SeaweedFS at $ENDPOINT (state $STATE, log $LOG_FILE)"
    echo "===== $(date -u +%FT%TZ) start SeaweedFS $SEAWEEDFS_VERSION =====" >>"$LOG_FILE"
    # Flags, and why:
    #  -logtostderr           glog writes to stderr (our log file), not to
    #                         files of its own in /tmp.
    #  -config_dir=$CONF_DIR  an empty dir: no master.toml/filer.toml from the
    #                         cwd leaks in (cwd is $STATE, also ours). Note
    #                         SeaweedFS still reads $HOME/.seaweedfs and
    #                         /etc/seaweedfs if they exist.
    #  -ip / -ip.bind         127.0.0.1 only, every component.
    #  -s3 (implies -filer)   the S3 gateway and the filer that stores its
    #                         metadata (leveldb under -dir).
    #  -*.port, -*.port.grpc  fixed, explicit ports (see header).
    #  -master.peers=none     single-master mode: a restarted master resumes
    #                         as leader at once instead of holding a ~10 s
    #                         raft election (no volume server registers, and
    #                         so nothing is readable, until it is over).
    #  -s3.port.iceberg=0, -s3.port.lance=0
    #                         this version also serves an Iceberg REST catalog
    #                         (8181) and a Lance namespace (9101) by default;
    #                         not needed, and they would take ports.
    #  -s3.config             the static identity (SigV4 access/secret key).
    #  -s3.autoCreateBucket=false
    #                         like AWS: a PUT to a missing bucket fails with
    #                         NoSuchBucket instead of creating it, so a test of
    #                         a misconfigured bucket sees the real error.
    #  -master.volumeSizeLimitMB, -volume.max
    #                         small volumes (default 30 GB each!) so it works
    #                         with little disk; volume files grow as written
    #                         (no preallocation), the limit only caps them.
    #                         Each bucket needs at least one volume of its own
    #                         (plus one for the filer's own log), so 128 slots
    #                         of 64 MB: ~125 buckets or ~8 GB of objects.
    #  -master.telemetry=false  no phoning home (and no network anyway).
    #  -volume.preStopSeconds=0 on SIGTERM the volume server would otherwise
    #                         wait 10 s for other masters to notice; there are
    #                         none, and stop/start cycles should be quick.
    # WEED_MASTER_VOLUME_GROWTH_COPY_1=1: the master pre-grows 7 volumes per
    # collection, and every bucket is a collection; with the small volume
    # count a handful of buckets would exhaust the slots ("no free volumes
    # left"). Grow one at a time instead (what `weed mini` does).
    # WEED_FILER_OPTIONS_S3_EMPTY_FOLDER_CLEANUP_DELAY: SeaweedFS keeps real
    # directories, so once the last object under a "dir/" is deleted, "dir/"
    # still shows up as a CommonPrefix in ListObjectsV2 (AWS has no such
    # leftovers) until a background cleaner removes it: after 2 min by
    # default, checked every 30 s. 1s brings that to 30 s at most.
    # setsid + nohup: the server outlives this script and its process group
    # (and is not killed by a ^C in the calling shell). SENTRY_DSN unset: the
    # binary initialises Sentry, which must stay a no-op.
    (
      cd "$STATE"
      exec 9>&-
      exec nohup setsid env -u SENTRY_DSN WEED_MASTER_VOLUME_GROWTH_COPY_1=1 \
        WEED_FILER_OPTIONS_S3_EMPTY_FOLDER_CLEANUP_DELAY="$EMPTY_DIR_DELAY" \
        "$WEED" -logtostderr=true -v=0 -config_dir="$CONF_DIR" \
        server -dir="$DATA_DIR" \
        -ip="$HOST" -ip.bind="$HOST" \
        -master.port="$MASTER_PORT" -master.port.grpc="$((MASTER_PORT + GRPC_OFFSET))" \
        -master.peers=none \
        -master.volumeSizeLimitMB="$VOLUME_SIZE_MB" \
        -master.telemetry=false \
        -volume.port="$VOLUME_PORT" -volume.port.grpc="$((VOLUME_PORT + GRPC_OFFSET))" \
        -volume.max="$VOLUME_MAX" \
        -volume.preStopSeconds=0 \
        -filer.port="$FILER_PORT" -filer.port.grpc="$((FILER_PORT + GRPC_OFFSET))" \
        -s3 -s3.port="$PORT" -s3.port.grpc="$((PORT + GRPC_OFFSET))" \
        -s3.port.iceberg=0 -s3.port.lance=0 \
        -s3.config="$S3_CONFIG" \
        -s3.autoCreateBucket=false
    ) >>"$LOG_FILE" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PID_FILE"
  fi

  deadline=$((SECONDS + START_TIMEOUT))
  until server_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "server process $pid exited during startup; log tail:"
      tail -n 60 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "server not ready at $ENDPOINT within ${START_TIMEOUT}s (waiting for $WAITING_FOR); log tail:"
      tail -n 60 "$LOG_FILE" >&2 || true
      cmd_stop || true
      exit 1
    fi
    sleep 0.5
  done
  log "up (pid $pid) at $ENDPOINT in $((SECONDS - t0))s"
}

cmd_stop() {
  local pid i
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid (SIGTERM)"
  echo "===== $(date -u +%FT%TZ) stop requested (pid $pid) =====" >>"$LOG_FILE"
  kill -TERM "$pid" 2>/dev/null || true
  # A clean shutdown takes ~2 s: components stop in reverse order of start
  # (S3, filer, volume server, master), the filer flushing its metadata log
  # to a volume on the way. That order comes from when each component
  # registered its shutdown hook; should the volume server ever go first,
  # the filer retries the flush for 15 s and then gives up on the log tail
  # (objects are unaffected). Give it 30 s before forcing it.
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after 30s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$PID_FILE"
  log "stopped"
}

cmd_kill() {
  local pid i
  if ! pid="$(running_pid)"; then rm -f "$PID_FILE"; log "not running"; return 0; fi
  echo "===== $(date -u +%FT%TZ) SIGKILL (pid $pid) =====" >>"$LOG_FILE"
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  rm -f "$PID_FILE"
  log "killed pid $pid"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if server_answers; then echo "running pid=$pid endpoint=$ENDPOINT"
    else echo "starting pid=$pid endpoint=$ENDPOINT (not answering yet)"; fi
    return 0
  fi
  echo "stopped"
  return 3
}

cmd_env() {
  # AWS_ALLOW_HTTP: object_store refuses plain-http endpoints without it.
  # AWS_DEFAULT_REGION too: some clients (boto, older SDKs) only read that.
  # Path-style addressing is what SeaweedFS serves here; object_store uses it
  # unless AWS_VIRTUAL_HOSTED_STYLE_REQUEST is set.
  cat <<EOF
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=$REGION
export AWS_DEFAULT_REGION=$REGION
export AWS_ALLOW_HTTP=true
export PIPEC_S3_READ_ONLY_ACCESS_KEY=$READ_ONLY_ACCESS_KEY
export PIPEC_S3_READ_ONLY_SECRET_KEY=$READ_ONLY_SECRET_KEY
EOF
}

cmd_mb() {
  local bucket="${1:-}" code
  [ -n "$bucket" ] || die "usage: $0 mb BUCKET"
  running_pid >/dev/null || die "server not running (run: $0 start)"
  code="$(s3_request PUT "/$bucket")"
  case "$code" in
    200) log "created bucket $bucket" ;;
    409)
      # BucketAlreadyOwnedByYou is fine (idempotent); anything else at 409
      # (e.g. BucketAlreadyExists, owned by someone else) is not.
      if grep -q BucketAlreadyOwnedByYou "$STATE/last-response.xml" 2>/dev/null; then
        log "bucket $bucket already exists"
      else
        { cat "$STATE/last-response.xml"; echo; } >&2 2>/dev/null || true
        die "could not create bucket $bucket (HTTP 409)"
      fi ;;
    *)
      { cat "$STATE/last-response.xml"; echo; } >&2 2>/dev/null || true
      die "could not create bucket $bucket (HTTP ${code:-no answer})" ;;
  esac
}

cmd_reset() {
  cmd_stop
  # Guard against wiping something that is obviously not ours.
  case "$STATE" in ""|"/"|"$HOME") die "refusing to wipe state dir '$STATE'";; esac
  rm -rf "$STATE"
  log "wiped $STATE"
}

case "${1:-}" in
  start)    lock_state; cmd_start ;;
  stop)     lock_state; cmd_stop ;;
  kill)     lock_state; cmd_kill ;;
  restart)  lock_state; cmd_stop; cmd_start ;;
  status)   cmd_status ;;
  endpoint) echo "$ENDPOINT" ;;
  env)      cmd_env ;;
  mb)       cmd_mb "${2:-}" ;;
  reset)    lock_state; cmd_reset ;;
  fetch)    ensure_weed; echo "$WEED" ;;
  logs)     tail -n "${2:-100}" "$LOG_FILE" ;;
  *) echo "usage: $0 start|stop|kill|restart|status|endpoint|env|mb BUCKET|reset|fetch|logs [N]" >&2; exit 2 ;;
esac
