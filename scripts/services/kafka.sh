#!/usr/bin/env bash
# A throwaway single-node Apache Kafka broker (KRaft, combined broker + controller) for tests.
#
#   scripts/services/kafka.sh start    # provision (first time: jars from Maven Central) and start; no-op if running
#   scripts/services/kafka.sh stop     # stop the broker (data is kept)
#   scripts/services/kafka.sh status   # exit 0 if it answers, 1 otherwise
#   scripts/services/kafka.sh env      # print WEIR_KAFKA_BOOTSTRAP=host:port
#   scripts/services/kafka.sh reset    # stop and delete the broker's data (next start formats anew)
#
# Environment:
#   WEIR_KAFKA_PORT                  client listener port (default 39092); the controller uses port + 1
#   WEIR_KAFKA_VERSION               org.apache.kafka:kafka_2.13 version (default 4.1.1)
#   WEIR_KAFKA_TRANSACTION_VERSION   the transaction.version feature at format time (default 1; see below)
#   WEIR_KAFKA_START_TIMEOUT         seconds to wait for the broker to answer (default 120)
#   WEIR_SERVICES_CACHE              cache root (default <repo>/.cache/services)
#
# Everything lives under $WEIR_SERVICES_CACHE/kafka: the generated pom, the jars (libs/), the data
# (data-<port>/), the log (kafka-<port>.log) and the pid file. The broker listens on 127.0.0.1 only.
# Concurrent `start`s (parallel test workers) are serialized with flock.
#
# transaction.version=1: Kafka 4 defaults to transaction protocol V2 (KIP-890), which bumps the
# producer epoch at every commit. @platformatic/kafka speaks EndTxn <= v4 (protocol V1) and our
# exactly-once sink resumes a pre-committed transaction after a restart by its producer id and
# epoch, so the test broker is formatted with TV1, the protocol the client actually uses.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${WEIR_SERVICES_CACHE:-$root/.cache/services}"
dir="$cache/kafka"
port="${WEIR_KAFKA_PORT:-39092}"
controller_port=$((port + 1))
version="${WEIR_KAFKA_VERSION:-4.1.1}"
tv="${WEIR_KAFKA_TRANSACTION_VERSION:-1}"
start_timeout="${WEIR_KAFKA_START_TIMEOUT:-120}"
libs="$dir/libs-$version"
data="$dir/data-$port"
log="$dir/kafka-$port.log"
pidfile="$dir/kafka-$port.pid"
props="$dir/server-$port.properties"

say() { echo "kafka.sh: $*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# --- helpers -------------------------------------------------------------------------------

pid_alive() {
  [[ -f "$pidfile" ]] || return 1
  local pid
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q 'kafka.Kafka' "/proc/$pid/cmdline" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Send a real Kafka request (ApiVersions v0, correlation id 1, client id "weir") and check that
# a response with that correlation id comes back.
answers_api_versions() {
  local reply
  reply="$(
    timeout 5 bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
      printf "\x00\x00\x00\x0e\x00\x12\x00\x00\x00\x00\x00\x01\x00\x04weir" >&3
      head -c 8 <&3 | od -An -tx1 | tr -d " \n"
    ' _ "$port" 2>/dev/null
  )" || return 1
  # 4 bytes of size, then correlation id 00000001.
  [[ "${reply:8:8}" == "00000001" ]]
}

running() { pid_alive && answers_api_versions; }

# In a daemon's subshell: close every descriptor above stderr (the lock, a caller's pipes), so the
# daemon holds neither the lock nor a test runner's output open.
close_inherited_fds() {
  local fd
  for fd in $(ls /proc/$BASHPID/fd); do
    ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null || true
  done
}

find_java() {
  local candidate major
  for candidate in "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [[ -n "$candidate" && -x "$candidate" ]] || continue
    major="$("$candidate" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    if [[ "${major%%.*}" =~ ^[0-9]+$ ]] && ((${major%%.*} >= 17)); then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

ensure_tools() {
  if ! java_bin="$(find_java)" || ! command -v mvn >/dev/null; then
    [[ "$(id -u)" == 0 ]] || die "Java >= 17 and Maven are needed (install openjdk-17-jre-headless and maven)"
    say "installing Java 17 and Maven from Debian packages"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jdk-headless maven >&2
    java_bin="$(find_java)" || die "no Java >= 17 after installing openjdk-17-jdk-headless"
  fi
}

provision() {
  [[ -f "$libs/.complete" ]] && return 0
  say "downloading Kafka $version jars from Maven Central into $libs (first start only)"
  mkdir -p "$dir"
  local pom="$dir/pom-$version.xml"
  # kafka_2.13 brings the broker, the KRaft controller and the storage formatter
  # (kafka.tools.StorageTool); log4j-slf4j-impl is the logging backend the distribution ships.
  cat >"$pom" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>weir.services</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>2.24.3</version>
    </dependency>
  </dependencies>
</project>
EOF
  rm -rf "$libs.tmp"
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$libs.tmp" >"$dir/mvn.log" 2>&1; then
    tail -n 40 "$dir/mvn.log" >&2
    die "Maven could not fetch org.apache.kafka:kafka_2.13:$version (log: $dir/mvn.log)"
  fi
  rm -rf "$libs"
  mv "$libs.tmp" "$libs"
  touch "$libs/.complete"
}

write_config() {
  cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
EOF
  cat >"$props" <<EOF
# Generated by scripts/services/kafka.sh: a single-node test broker, loopback only.
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
log.dirs=$data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Exactly-once sinks keep transactions open across a checkpoint and a restart (Flink uses 1 h).
transaction.max.timeout.ms=3600000
auto.create.topics.enable=true
# Tests write records with small event timestamps (near 1970): time-based retention deleted
# their segments at its next check (every 5 minutes), in the middle of a suite, and a reader
# then found offset 0 out of range. Test topics are unique per run; the data directory is
# scratch (kafka.sh reset removes it).
log.retention.ms=-1
EOF
}

format_storage() {
  [[ -f "$data/meta.properties" ]] && return 0
  local cluster_id
  # A KRaft cluster id is 16 random bytes in URL-safe base64 without padding.
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
  say "formatting $data (cluster id $cluster_id, transaction.version=$tv)"
  rm -rf "$data"
  if ! "$java_bin" -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$libs/*" kafka.tools.StorageTool \
    format --config "$props" --cluster-id "$cluster_id" --standalone \
    --feature "transaction.version=$tv" >"$dir/format-$port.log" 2>&1; then
    tail -n 30 "$dir/format-$port.log" >&2
    rm -rf "$data"
    die "formatting the storage failed (log: $dir/format-$port.log)"
  fi
}

do_start() {
  if running; then
    say "already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
    return 0
  fi
  if ! pid_alive && answers_api_versions; then
    # Another checkout's broker (same script, same port): share it rather than fail.
    say "a Kafka broker not started from $cache answers on 127.0.0.1:$port; using it"
    return 0
  fi
  if pid_alive; then
    # Started by someone else and still coming up: wait for it below instead of starting another.
    say "broker pid $(cat "$pidfile") is starting; waiting"
  else
    if port_open "$port" || port_open "$controller_port"; then
      die "port $port or $controller_port on 127.0.0.1 is taken by another process; set WEIR_KAFKA_PORT"
    fi
    ensure_tools
    provision
    write_config
    format_storage
    [[ -f "$log" ]] && mv -f "$log" "$log.1"
    say "starting Kafka $version on 127.0.0.1:$port (controller $controller_port)"
    # Detached: own session, no inherited stdio or lock descriptor, so callers (and flock) are released.
    (
      close_inherited_fds
      exec setsid "$java_bin" -Xms128m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$libs/*" kafka.Kafka "$props" \
        </dev/null >"$log" 2>&1
    ) &
    echo $! >"$pidfile"
  fi
  local deadline=$((SECONDS + start_timeout))
  local pid
  pid="$(cat "$pidfile")"
  while ((SECONDS < deadline)); do
    # kill -0, not pid_alive: right after the fork the process is still bash, not yet java.
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 60 "$log" >&2 || true
      die "the broker exited during startup (log: $log)"
    fi
    if grep -q 'Kafka Server started' "$log" 2>/dev/null && answers_api_versions; then
      say "ready on 127.0.0.1:$port after $((start_timeout - deadline + SECONDS)) s"
      return 0
    fi
    sleep 0.5
  done
  tail -n 60 "$log" >&2 || true
  die "the broker did not answer on 127.0.0.1:$port within ${start_timeout}s (log: $log)"
}

do_stop() {
  if ! pid_alive; then
    rm -f "$pidfile"
    say "not running"
    return 0
  fi
  local pid
  pid="$(cat "$pidfile")"
  say "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid did not stop in 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# --- main ----------------------------------------------------------------------------------

cmd="${1:-}"
case "$cmd" in
start | stop | reset)
  mkdir -p "$dir"
  exec 9>"$cache/kafka-$port.lock"
  flock -w 900 9 || die "timed out waiting for the lock $cache/kafka-$port.lock"
  case "$cmd" in
  start) do_start ;;
  stop) do_stop ;;
  reset)
    do_stop
    rm -rf "$data" "$log" "$log.1"
    say "deleted $data"
    ;;
  esac
  ;;
status)
  if running; then
    echo "kafka: running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
  elif answers_api_versions; then
    echo "kafka: a broker not started from $cache answers on 127.0.0.1:$port"
  else
    echo "kafka: not running"
    exit 1
  fi
  ;;
env)
  echo "WEIR_KAFKA_BOOTSTRAP=127.0.0.1:$port"
  ;;
*)
  echo "usage: $0 {start|stop|status|env|reset}" >&2
  exit 2
  ;;
esac
