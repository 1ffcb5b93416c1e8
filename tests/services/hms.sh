#!/usr/bin/env bash
# A real Apache Hive standalone metastore (HMS 4.0.1) for pipec's integration
# tests: the Thrift service that Hive, Spark and Trino share their table
# definitions through, so "our DDL registers in a real metastore and Trino
# sees it there" is tested, not assumed (tests/services/trino.sh's default
# file metastore skips that hop).
#
# Why this shape: there is no Docker on our machines and only package
# registries are reachable, so the metastore runs as a plain Java process
# from jars that `mvn` fetches from Maven Central into a cache outside the
# repo (only the very first run needs the network):
#   - org.apache.hive:hive-standalone-metastore-server:4.0.1 and its runtime
#     dependencies (dependency:copy-dependencies over a generated POM);
#   - the Hadoop jars the server declares only as `optional` (it expects a
#     Hadoop install beside it): hadoop-common, hadoop-hdfs-client,
#     hadoop-hdfs and hadoop-mapreduce-client-core, at 3.3.6, the version
#     Hive 4.0.1 is built against;
#   - hadoop-aws 3.3.6 and the AWS SDK v1 modules it is built against
#     (1.12.367): the metastore itself calls Hadoop's FileSystem (mkdirs,
#     isDir) on every table and partition location it is given, so an
#     s3a:// location fails without them;
#   - only the Derby schema scripts out of the server's -bin.tar.gz (the
#     tarball is on Maven Central too; its jars are not used): the schema
#     tool needs them and no jar carries them.
#
# The database is embedded Derby in the state dir, created at first start
# by the metastore's own schema tool (MetastoreSchemaTool -initSchema
# -dbType derby), as production does, not by DataNucleus auto-create. The
# Thrift server binds to 127.0.0.1 only; no SASL, no Kerberos.
#
# S3: when PIPEC_HMS_S3_ENDPOINT (or AWS_ENDPOINT_URL) and
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are set at `start`, fs.s3a.* is
# configured for that endpoint (path-style, static keys, TLS off for
# http://), so s3a://bucket/path locations work, e.g. against the SeaweedFS
# of tests/services/s3.sh.
#
# Local table locations: file:///abs/path. The metastore resolves every
# location with Hadoop's FileSystem, which has no local:// scheme (Trino's
# local:///abs/path fails with 'No FileSystem for scheme "local"'), and
# stores the location it resolved: file:///x comes back as file:/x. Trino
# reads such tables only through its Hadoop file system, which trino.sh
# enables when PIPEC_TRINO_HMS_URI points it at this metastore.
#
# Usage: hms.sh start|stop|kill|restart|status|uri|reset|fetch|logs [N]
#   start      fetch jars if needed, create the schema if the state dir is
#              new, start, wait until the Thrift port answers a real call
#              (get_all_databases): ~14 s on a fresh state dir (schema
#              included), ~5 s later, on a busy 2-core machine. Idempotent.
#   stop       SIGTERM, wait, then SIGKILL. Safe when not running. Keeps the
#              database, so a later `start` sees the same schemas/tables.
#   restart    stop then start (database kept).
#   kill       SIGKILL at once (Derby recovers its log at the next start).
#   status     prints "running pid=N uri=..." (exit 0) or "stopped" (exit 3).
#   uri        prints thrift://127.0.0.1:PORT (hive.metastore.uris).
#   reset      stops the metastore and wipes the state dir (Derby database,
#              config, logs, warehouse). Data behind external tables is never
#              touched.
#   fetch      only download/cache the jars (e.g. to warm a machine).
#   logs [N]   prints the last N (default 100) lines of the metastore log.
#
# Environment knobs:
#   PIPEC_HMS_PORT           Thrift port                          (default 19083)
#   PIPEC_HMS_STATE          state dir: db, conf, log, warehouse  (default /tmp/pipec-hms)
#   PIPEC_CACHE              jar cache root                       (default $HOME/.cache/pipec)
#   PIPEC_HMS_JAVA_HOME      Java to run on                       (default
#                            /usr/lib/jvm/java-17-openjdk-amd64, else the first
#                            /usr/lib/jvm/*17* found). Hive 4.0.1 is built for
#                            Java 8; 17 is what is verified here.
#   PIPEC_HMS_START_TIMEOUT  seconds to wait for the Thrift port  (default 120)
#   PIPEC_HMS_HEAP           JVM heap options                     (default "-Xms64m -Xmx512m";
#                            the idle server's RSS is ~200-230 MB)
#   PIPEC_HMS_S3_ENDPOINT    S3 endpoint for s3a:// (default $AWS_ENDPOINT_URL),
#                            with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
#                            AWS_REGION (default us-east-1). Read at `start`.
set -euo pipefail

HIVE_VERSION=4.0.1
# What hive-standalone-metastore 4.0.1's POM builds against (hadoop.version).
HADOOP_VERSION=3.3.6
# What hadoop-aws 3.3.6 builds against (hadoop-project's aws-java-sdk.version).
# Its POM asks for aws-java-sdk-bundle (the whole SDK, hundreds of MB); S3A
# needs only the S3 client (and STS for its role/session-token providers), so
# those modules are taken instead and the bundle is excluded.
AWS_SDK_VERSION=1.12.367

PORT="${PIPEC_HMS_PORT:-19083}"
STATE="${PIPEC_HMS_STATE:-/tmp/pipec-hms}"
CACHE="${PIPEC_CACHE:-$HOME/.cache/pipec}"
START_TIMEOUT="${PIPEC_HMS_START_TIMEOUT:-120}"
HEAP="${PIPEC_HMS_HEAP:--Xms64m -Xmx512m}"
S3_ENDPOINT="${PIPEC_HMS_S3_ENDPOINT:-${AWS_ENDPOINT_URL:-}}"

case "$STATE" in /*) ;; *) STATE="$PWD/$STATE" ;; esac  # paths go into URLs
URI="thrift://127.0.0.1:${PORT}"
HMS_CACHE="$CACHE/hms-$HIVE_VERSION"
LIB_DIR="$HMS_CACHE/libs"
# METASTORE_HOME for the schema tool: it reads
# $METASTORE_HOME/scripts/metastore/upgrade/derby/hive-schema-*.derby.sql.
HOME_DIR="$HMS_CACHE/home"
CONF_DIR="$STATE/conf"
DB_DIR="$STATE/metastore_db"
SCHEMA_MARKER="$STATE/.schema-created"
WAREHOUSE_DIR="$STATE/warehouse"
LOG_FILE="$STATE/hms.log"
PID_FILE="$STATE/hms.pid"
MAIN_CLASS=org.apache.hadoop.hive.metastore.HiveMetaStore
SCHEMA_TOOL=org.apache.hadoop.hive.metastore.tools.schematool.MetastoreSchemaTool

log() { printf 'hms.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- java

find_java() {
  local home="${PIPEC_HMS_JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}" cand
  if [ ! -x "$home/bin/java" ] && [ -z "${PIPEC_HMS_JAVA_HOME:-}" ]; then
    for cand in /usr/lib/jvm/*17*; do
      if [ -x "$cand/bin/java" ]; then home="$cand"; break; fi
    done
  fi
  [ -x "$home/bin/java" ] || die "no Java at '$home' (set PIPEC_HMS_JAVA_HOME to a Java 17)"
  echo "$home/bin/java"
}

# ---------------------------------------------------------------- fetch

# The marker's name carries a hash of the generated POM, so a cache fetched
# with another jar set (an older version of this script) does not count and
# is fetched again.
marker() { echo "$HMS_CACHE/.complete-$(pom_text | sha256sum | cut -c1-12)"; }

has_layout() {
  [ -f "$LIB_DIR/hive-standalone-metastore-server-$HIVE_VERSION.jar" ] \
    && [ -f "$HOME_DIR/scripts/metastore/upgrade/derby/hive-schema-4.0.0.derby.sql" ]
}

is_cached() { [ -f "$(marker)" ] && has_layout; }

pom_text() {
  # Exclusions, each for a jar that would otherwise shadow another:
  #   hadoop-client-api (via orc-shims): a shaded copy of Hadoop 3.3.5's
  #     classes, beside the real hadoop-common 3.3.6;
  #   log4j:log4j 1.2 (via zookeeper) and the reload4j bindings: Hive logs
  #     through log4j2 (log4j-1.2-api bridges the 1.x API);
  #   aws-java-sdk-bundle: see AWS_SDK_VERSION above;
  #   everything under hadoop-hdfs and hadoop-mapreduce-client-core: each is
  #     here for a few classes the metastore names outside any HDFS or
  #     MapReduce use, and their trees (HDFS server, YARN, Guice, Jersey)
  #     would bring a second JLine and netty-all among other things.
  #     hadoop-hdfs: Warehouse.mkdirs catches
  #     org.apache.hadoop.hdfs.protocol.SnapshotException, so without it
  #     every CREATE SCHEMA / CREATE TABLE fails with NoClassDefFoundError
  #     (hadoop-hdfs-client does not have that class).
  #     hadoop-mapreduce-client-core: org.apache.hadoop.mapred's
  #     SequenceFile formats, named in two utility methods.
  # jackson-annotations and jackson-dataformat-cbor are pinned to
  # jackson-databind's version (2.16.1), as in Hive's own distribution;
  # Maven would otherwise pick Hadoop's 2.12.7 and the AWS SDK's 2.12.6.
  cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by pipec tests/services/hms.sh: only used to fetch jars. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>pipec.tests</groupId>
  <artifactId>hms-jars</artifactId>
  <version>$HIVE_VERSION</version>
  <packaging>pom</packaging>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>com.fasterxml.jackson.core</groupId>
        <artifactId>jackson-annotations</artifactId>
        <version>2.16.1</version>
      </dependency>
      <dependency>
        <groupId>com.fasterxml.jackson.dataformat</groupId>
        <artifactId>jackson-dataformat-cbor</artifactId>
        <version>2.16.1</version>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>org.apache.hive</groupId>
      <artifactId>hive-standalone-metastore-server</artifactId>
      <version>$HIVE_VERSION</version>
      <exclusions>
        <exclusion><groupId>org.apache.hadoop</groupId><artifactId>hadoop-client-api</artifactId></exclusion>
        <exclusion><groupId>org.apache.hadoop</groupId><artifactId>hadoop-client-runtime</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.hadoop</groupId>
      <artifactId>hadoop-common</artifactId>
      <version>$HADOOP_VERSION</version>
      <exclusions>
        <exclusion><groupId>log4j</groupId><artifactId>log4j</artifactId></exclusion>
        <exclusion><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId></exclusion>
        <exclusion><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId></exclusion>
        <exclusion><groupId>org.slf4j</groupId><artifactId>slf4j-log4j12</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.hadoop</groupId>
      <artifactId>hadoop-hdfs-client</artifactId>
      <version>$HADOOP_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.hadoop</groupId>
      <artifactId>hadoop-hdfs</artifactId>
      <version>$HADOOP_VERSION</version>
      <exclusions>
        <exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.hadoop</groupId>
      <artifactId>hadoop-mapreduce-client-core</artifactId>
      <version>$HADOOP_VERSION</version>
      <exclusions>
        <exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.hadoop</groupId>
      <artifactId>hadoop-aws</artifactId>
      <version>$HADOOP_VERSION</version>
      <exclusions>
        <exclusion><groupId>com.amazonaws</groupId><artifactId>aws-java-sdk-bundle</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>com.amazonaws</groupId>
      <artifactId>aws-java-sdk-s3</artifactId>
      <version>$AWS_SDK_VERSION</version>
    </dependency>
    <dependency>
      <groupId>com.amazonaws</groupId>
      <artifactId>aws-java-sdk-sts</artifactId>
      <version>$AWS_SDK_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
}

# Resolves the jars into $LIB_DIR and the Derby scripts into $HOME_DIR, with
# a private local Maven repository inside the cache that is deleted
# afterwards, like the -bin tarball: keeping them would double the disk used
# for nothing. The cache counts only once the .complete-* marker is written,
# so an interrupted fetch is redone from scratch, never used half-done.
fetch() {
  local repo="$HMS_CACHE/m2" dl="$HMS_CACHE/dl" top
  command -v mvn >/dev/null 2>&1 || die "mvn not found (needed once to fetch the metastore jars)"
  mkdir -p "$HMS_CACHE"
  rm -rf "$LIB_DIR" "$HOME_DIR" "$HMS_CACHE"/.complete* "$dl" "$repo"
  mkdir -p "$dl"
  pom_text >"$HMS_CACHE/pom.xml"
  : >"$HMS_CACHE/fetch.log"
  log "fetching hive-standalone-metastore-server $HIVE_VERSION, Hadoop $HADOOP_VERSION client jars and their dependencies with mvn ..."
  if ! (cd "$HMS_CACHE" && mvn -B -q -Dmaven.repo.local="$repo" -f pom.xml \
        org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$LIB_DIR") >>"$HMS_CACHE/fetch.log" 2>&1; then
    tail -n 20 "$HMS_CACHE/fetch.log" >&2 || true
    rm -rf "$LIB_DIR" "$dl" "$repo"
    die "mvn could not resolve the metastore jars (see $HMS_CACHE/fetch.log)"
  fi
  log "fetching the schema scripts (hive-standalone-metastore-server-$HIVE_VERSION-bin.tar.gz) ..."
  if ! mvn -B -q -Dmaven.repo.local="$repo" \
        org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
        -Dartifact="org.apache.hive:hive-standalone-metastore-server:$HIVE_VERSION:tar.gz:bin" \
        -DoutputDirectory="$dl" >>"$HMS_CACHE/fetch.log" 2>&1; then
    tail -n 20 "$HMS_CACHE/fetch.log" >&2 || true
    rm -rf "$LIB_DIR" "$dl" "$repo"
    die "mvn could not fetch the metastore -bin tarball (see $HMS_CACHE/fetch.log)"
  fi
  top="apache-hive-metastore-$HIVE_VERSION-bin"
  mkdir -p "$HOME_DIR"
  tar -xzf "$dl/hive-standalone-metastore-server-$HIVE_VERSION-bin.tar.gz" -C "$HOME_DIR" \
      --strip-components=1 "$top/scripts/metastore/upgrade/derby" \
    || { rm -rf "$LIB_DIR" "$HOME_DIR" "$dl" "$repo"; die "could not extract the Derby scripts from the -bin tarball"; }
  rm -rf "$dl" "$repo"
  has_layout || die "unexpected layout after fetch (no server jar or no hive-schema-4.0.0.derby.sql)"
  touch "$(marker)"
  log "cached $(find "$LIB_DIR" -name '*.jar' | wc -l) jars in $LIB_DIR ($(du -sh "$HMS_CACHE" | cut -f1) in all)"
}

ensure_fetched() { is_cached || fetch; }

# ---------------------------------------------------------------- config

xml_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g'; }
prop() {
  printf '  <property><name>%s</name><value>%s</value></property>\n' \
    "$1" "$(printf '%s' "$2" | xml_escape)"
}

# Everything in conf/ is regenerated on every start, so a changed port or S3
# setting takes effect; the database is untouched. conf/ is first on the
# class path: MetastoreConf reads metastore-site.xml from there and Hadoop's
# Configuration core-site.xml.
write_config() {
  mkdir -p "$CONF_DIR" "$WAREHOUSE_DIR/managed" "$WAREHOUSE_DIR/external" "$STATE/tmp"
  {
    echo '<?xml version="1.0"?>'
    echo '<!-- Generated by pipec tests/services/hms.sh — edits are overwritten on start. -->'
    echo '<configuration>'
    prop metastore.thrift.port "$PORT"
    # Loopback only (the default is every interface).
    prop metastore.thrift.bind.host 127.0.0.1
    # Embedded Derby in the state dir. Without create=true: the database is
    # made by the schema tool (which is given the URL with create=true), and
    # a server that finds none fails rather than creating an empty one.
    prop javax.jdo.option.ConnectionURL "jdbc:derby:;databaseName=$DB_DIR"
    prop javax.jdo.option.ConnectionDriverName org.apache.derby.jdbc.EmbeddedDriver
    # The schema comes from the schema tool, never from DataNucleus, and the
    # server checks that the database holds the schema version it expects.
    prop datanucleus.schema.autoCreateAll false
    prop metastore.schema.verification true
    # Where databases and managed tables go when a client gives no location
    # (CREATE SCHEMA without LOCATION, for one).
    prop metastore.warehouse.dir "file://$WAREHOUSE_DIR/managed"
    prop metastore.warehouse.external.dir "file://$WAREHOUSE_DIR/external"
    # No background threads a test does not need (compaction, ACID
    # housekeeping, metrics): fewer threads and less CPU on a 2-core machine.
    prop metastore.housekeeping.threads.on false
    prop metastore.compactor.initiator.on false
    prop metastore.metrics.enabled false
    # The default, true, makes the server switch log4j2 to async loggers,
    # which need the LMAX disruptor jar; nothing in the server's dependency
    # tree (nor in Hive's own -bin tarball) brings it, so the server dies
    # at start-up with NoClassDefFoundError: com/lmax/disruptor/...
    prop metastore.async.log.enabled false
    # Clients (Trino) call get_next_notification etc. without being the
    # metastore's own user; nothing here is secret.
    prop metastore.event.db.notification.api.auth false
    echo '</configuration>'
  } >"$CONF_DIR/metastore-site.xml"

  {
    echo '<?xml version="1.0"?>'
    echo '<!-- Generated by pipec tests/services/hms.sh — edits are overwritten on start. -->'
    echo '<configuration>'
    prop hadoop.tmp.dir "$STATE/tmp"
    if [ -n "$S3_ENDPOINT" ]; then
      if [ -z "${AWS_ACCESS_KEY_ID:-}" ] || [ -z "${AWS_SECRET_ACCESS_KEY:-}" ]; then
        die "an S3 endpoint ($S3_ENDPOINT) is set but AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not"
      fi
      # A local S3-compatible server: path-style URLs (virtual-host style
      # needs DNS for bucket.host), static keys only (the default provider
      # chain would also try the EC2 instance metadata service, slowly).
      prop fs.s3a.endpoint "$S3_ENDPOINT"
      prop fs.s3a.endpoint.region "${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
      prop fs.s3a.path.style.access true
      prop fs.s3a.aws.credentials.provider org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider
      prop fs.s3a.access.key "$AWS_ACCESS_KEY_ID"
      prop fs.s3a.secret.key "$AWS_SECRET_ACCESS_KEY"
      case "$S3_ENDPOINT" in
        http://*) prop fs.s3a.connection.ssl.enabled false ;;
        *) prop fs.s3a.connection.ssl.enabled true ;;
      esac
      # Fail in seconds, not after S3A's default retry budget (minutes),
      # when the server is down: tests want the error, not a hang.
      prop fs.s3a.attempts.maximum 3
      prop fs.s3a.retry.limit 3
      prop fs.s3a.connection.establish.timeout 5000
      prop fs.s3a.connection.timeout 20000
    fi
    echo '</configuration>'
  } >"$CONF_DIR/core-site.xml"
  chmod 600 "$CONF_DIR/core-site.xml"  # may hold the S3 secret

  # log4j2 for the server and the schema tool, to stdout (redirected into
  # $LOG_FILE). Named metastore-log4j2.properties because the server looks
  # for exactly that name on its class path at start-up and reconfigures
  # log4j with it (otherwise it keeps log4j2's default: errors only).
  cat >"$CONF_DIR/metastore-log4j2.properties" <<EOF
# Generated by pipec tests/services/hms.sh — edits are overwritten on start.
status = WARN
name = pipec-hms
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_OUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yyyy-MM-dd'T'HH:mm:ss.SSS} %-5p [%t] %c{2}: %m%n
rootLogger.level = INFO
rootLogger.appenderRef.console.ref = console
# DataNucleus and the Hadoop metrics system are chatty at INFO.
logger.dn.name = DataNucleus
logger.dn.level = WARN
logger.datanucleus.name = org.datanucleus
logger.datanucleus.level = WARN
logger.metrics.name = org.apache.hadoop.metrics2
logger.metrics.level = WARN
EOF
}

classpath() { echo "$CONF_DIR:$LIB_DIR/*"; }

# JVM options shared by the schema tool and the server. Derby writes its
# own log (derby.log) into the working directory unless told otherwise.
common_jvm_opts() {
  JVM_COMMON=(
    -Djava.io.tmpdir="$STATE/tmp"
    -Dderby.system.home="$STATE"
    -Dderby.stream.error.file="$STATE/derby.log"
    -Dlog4j2.configurationFile="$CONF_DIR/metastore-log4j2.properties"
    -Duser.timezone=UTC
    -Dfile.encoding=UTF-8
  )
}

# The schema tool runs once per fresh state dir. The marker is written only
# after it succeeded, so a database left half-created by an interrupted run
# is dropped and created again rather than used. It connects twice with
# create=true, so the log shows a harmless SQLWarning with a stack trace
# ("Database ... not created, connection made to existing database instead").
create_schema_if_new() {
  local java="$1"
  [ -f "$SCHEMA_MARKER" ] && [ -d "$DB_DIR" ] && return 0
  rm -rf "$DB_DIR" "$SCHEMA_MARKER"
  log "creating the metastore schema in $DB_DIR (MetastoreSchemaTool -initSchema -dbType derby)"
  echo "===== $(date -u +%FT%TZ) schema tool: -initSchema -dbType derby =====" >>"$LOG_FILE"
  common_jvm_opts
  (cd "$STATE" && METASTORE_HOME="$HOME_DIR" "$java" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
      "${JVM_COMMON[@]}" -cp "$(classpath)" "$SCHEMA_TOOL" -initSchema -dbType derby \
      -url "jdbc:derby:;databaseName=$DB_DIR;create=true") \
      >>"$LOG_FILE" 2>&1 </dev/null \
    || { tail -n 40 "$LOG_FILE" >&2; rm -rf "$DB_DIR"; die "schema creation failed (log: $LOG_FILE)"; }
  touch "$SCHEMA_MARKER"
}

# ---------------------------------------------------------------- process

# The pid in the pid file is ours only if that process is alive and is a
# metastore JVM using our conf dir (guards against pid reuse).
running_pid() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-cp $CONF_DIR:.* $MAIN_CLASS" || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The metastore "answers" when a real Thrift call gets its reply: one
# get_all_databases() in TBinaryProtocol (strict, unframed: what the server
# speaks by default), which reads the Derby database. The port opens as soon
# as the server socket is bound; only a reply shows the handler behind it
# works. The reply is read to its end (version|REPLY, name, seqid, then the
# result struct: field 0, a list of strings, and the stop byte) before the
# socket is closed: a client that closes with unread bytes sends a TCP reset,
# which the server logs as an ERROR with a stack trace.
thrift_answers() {
  # shellcheck disable=SC2016  # the script is expanded by the inner bash
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\x80\x01\x00\x01\x00\x00\x00\x11get_all_databases\x00\x00\x00\x01\x00" >&3
    bytes() { head -c "$1" <&3 | od -An -v -tu1 | tr -s " \n" " " | sed "s/^ //; s/ $//"; }
    i32() { local b; read -r -a b <<<"$(bytes 4)"; [ "${#b[@]}" -eq 4 ] || exit 1
            echo $(( (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3] )); }
    [ "$(bytes 4)" = "128 1 0 2" ] || exit 1        # version 1, message type REPLY
    bytes "$(i32)" >/dev/null; i32 >/dev/null       # method name, seqid
    [ "$(bytes 3)" = "15 0 0" ] || exit 1           # field 0 "success": a list
    [ "$(bytes 1)" = "11" ] || exit 1               # of strings
    n="$(i32)"
    for ((k = 0; k < n; k++)); do bytes "$(i32)" >/dev/null; done
    [ "$(bytes 1)" = "0" ]                          # end of the result struct
  ' _ "$PORT" 2>/dev/null
}

cmd_start() {
  local pid java deadline
  if pid="$(running_pid)"; then
    if thrift_answers; then log "already running (pid $pid) at $URI"; return 0; fi
    log "pid $pid is running but not answering yet; waiting"
  else
    ensure_fetched
    java="$(find_java)"
    if port_open "$PORT"; then
      die "port $PORT is in use by another process (set PIPEC_HMS_PORT)"
    fi
    mkdir -p "$STATE"
    write_config
    create_schema_if_new "$java"
    log "starting Hive metastore $HIVE_VERSION at $URI (java $java, state $STATE, log $LOG_FILE)"
    echo "===== $(date -u +%FT%TZ) start Hive metastore $HIVE_VERSION =====" >>"$LOG_FILE"
    common_jvm_opts
    # setsid + nohup: the server outlives this script and its process group.
    # Serial GC: one small heap, no pause target worth a GC thread per core.
    # shellcheck disable=SC2086  # $HEAP is intentionally word-split
    (cd "$STATE" && exec nohup setsid "$java" $HEAP -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true "${JVM_COMMON[@]}" \
        -cp "$(classpath)" "$MAIN_CLASS" \
        >>"$LOG_FILE" 2>&1 </dev/null) &
    pid=$!
    echo "$pid" >"$PID_FILE"
  fi

  deadline=$((SECONDS + START_TIMEOUT))
  until thrift_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "metastore process $pid exited during startup; log tail:"
      tail -n 60 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE"
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "metastore did not answer at $URI within ${START_TIMEOUT}s; log tail:"
      tail -n 60 "$LOG_FILE" >&2 || true
      cmd_stop || true
      exit 1
    fi
    sleep 0.5
  done
  log "up (pid $pid) at $URI"
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
  # The shutdown hook closes the Thrift server and shuts Derby down; give it
  # 30 s before forcing it.
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
    if thrift_answers; then echo "running pid=$pid uri=$URI"
    else echo "starting pid=$pid uri=$URI (not answering yet)"; fi
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

case "${1:-}" in
  start)    cmd_start ;;
  stop)     cmd_stop ;;
  kill)     cmd_kill ;;
  restart)  cmd_stop; cmd_start ;;
  status)   cmd_status ;;
  uri)      echo "$URI" ;;
  reset)    cmd_reset ;;
  fetch)    ensure_fetched; echo "$HMS_CACHE" ;;
  logs)     tail -n "${2:-100}" "$LOG_FILE" ;;
  *) echo "usage: $0 start|stop|kill|restart|status|uri|reset|fetch|logs [N]" >&2; exit 2 ;;
esac
