#!/usr/bin/env bash
# A throw-away Redis on 127.0.0.1 for stsgate's shared-state tests and for trying replicas.
#
#   scripts/redis.sh install          install redis-server from Debian if missing (needs root/sudo)
#   scripts/redis.sh start DIR        start one in DIR (created, must be empty); prints
#                                     REDIS_URL=redis://127.0.0.1:PORT/0, PORT=…, PID=… on stdout
#   scripts/redis.sh start-sentinel DIR
#                                     a master, a replica and three sentinels (quorum 2, a master
#                                     is down after 1 s) in DIR; prints SENTINELS=redis://…,…,
#                                     MASTER_NAME=stsgate, MASTER_DIR=…, MASTER_PORT=…, REPLICA_PORT=…
#   scripts/redis.sh stop DIR         stop the Redis (or the whole Sentinel set) started in DIR
#
# `start` keeps nothing on disk (no RDB, no AOF) and waits until Redis answers PING.
# REDIS_PORT overrides the port (a test restarts Redis on the port it had); REDIS_PASSWORD makes
# Redis require that password (AUTH); REDIS_TLS=1 serves TLS only, with a certificate for
# 127.0.0.1 from a throw-away CA made in DIR (openssl): REDIS_URL is then rediss://… and
# CA_FILE=DIR/ca.pem is printed too.
set -euo pipefail

log() { echo "redis.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd_install() {
  command -v redis-server >/dev/null && command -v redis-sentinel >/dev/null && return 0
  log "installing redis-server and redis-sentinel from Debian"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq redis-server >/dev/null
  command -v redis-server >/dev/null || die "redis-server is still missing after apt-get install"
  command -v redis-sentinel >/dev/null && return 0
  log "installing redis-sentinel from Debian"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq redis-sentinel >/dev/null
}

# PING over a plain socket (redis-cli is in the same package, but this needs nothing else).
ping() {
  python3 - "$1" <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
    s.sendall(b"PING\r\n")
    # Without AUTH a password-protected Redis answers -NOAUTH: it is up all the same.
    sys.exit(0 if s.recv(16).startswith((b"+PONG", b"-NOAUTH")) else 1)
except OSError:
    sys.exit(1)
PY
}

# A CA and a server certificate for 127.0.0.1 in $1 (kept if already there: a restart keeps them).
tls_material() {
  local dir=$1
  [[ -f "$dir/server.pem" ]] && return 0
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 2 \
    -subj /CN=stsgate-test-redis-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$dir/server.key" -out "$dir/server.csr" \
    -subj /CN=127.0.0.1 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -out "$dir/server.pem" -days 2 -extfile "$dir/server.ext" 2>/dev/null
}

# PING over TLS.
tls_ping() {
  redis-cli --tls --cacert "$2/ca.pem" -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -qE 'PONG|NOAUTH'
}

cmd_start() {
  local dir=${1:?usage: redis.sh start DIR}
  command -v redis-server >/dev/null || die "redis-server is not installed: run scripts/redis.sh install"
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  [[ ! -f "$dir/pid" ]] || die "a Redis already runs from $dir"
  local port=${REDIS_PORT:-$(free_port)}
  local auth=() listen=(--port "$port") scheme=redis check=ping
  [[ -z "${REDIS_PASSWORD:-}" ]] || auth=(--requirepass "$REDIS_PASSWORD")
  # shellcheck disable=SC2206 # "host port"
  [[ -z "${REDIS_REPLICAOF:-}" ]] || auth+=(--replicaof ${REDIS_REPLICAOF})
  if [[ "${REDIS_TLS:-}" == 1 ]]; then
    tls_material "$dir"
    listen=(--port 0 --tls-port "$port" --tls-cert-file "$dir/server.pem"
      --tls-key-file "$dir/server.key" --tls-ca-cert-file "$dir/ca.pem" --tls-auth-clients no)
    scheme=rediss check=tls_ping
  fi
  redis-server --bind 127.0.0.1 "${listen[@]}" --dir "$dir" --save '' --appendonly no \
    --protected-mode yes --daemonize no "${auth[@]}" > "$dir/redis.log" 2>&1 &
  local pid=$!
  echo "$pid" > "$dir/pid"
  for _ in $(seq 1 100); do
    "$check" "$port" "$dir" && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/redis.log" >&2; die "redis-server exited"; }
    sleep 0.1
  done
  "$check" "$port" "$dir" || { cat "$dir/redis.log" >&2; die "redis-server did not answer PING on port $port"; }
  cat <<OUT
REDIS_URL=$scheme://127.0.0.1:$port/0
PORT=$port
PID=$pid
OUT
  [[ "$scheme" == redis ]] || echo "CA_FILE=$dir/ca.pem"
  log "redis is up at 127.0.0.1:$port (pid $pid)"
}

cmd_start_sentinel() {
  local dir=${1:?usage: redis.sh start-sentinel DIR}
  command -v redis-sentinel >/dev/null || die "redis-sentinel is not installed: run scripts/redis.sh install"
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  local master_port replica_port
  master_port=$(cmd_start "$dir/master" | sed -n 's/^PORT=//p')
  replica_port=$(REDIS_REPLICAOF="127.0.0.1 $master_port" cmd_start "$dir/replica" | sed -n 's/^PORT=//p')
  local urls=() i port
  for i in 1 2 3; do
    port=$(free_port)
    mkdir -p "$dir/s$i"
    cat > "$dir/s$i/sentinel.conf" <<CONF
bind 127.0.0.1
port $port
dir $dir/s$i
sentinel monitor stsgate 127.0.0.1 $master_port 2
sentinel down-after-milliseconds stsgate 1000
sentinel failover-timeout stsgate 3000
sentinel parallel-syncs stsgate 1
CONF
    redis-sentinel "$dir/s$i/sentinel.conf" > "$dir/s$i/sentinel.log" 2>&1 &
    echo $! > "$dir/s$i/pid"
    for _ in $(seq 1 100); do ping "$port" && break; sleep 0.1; done
    ping "$port" || { cat "$dir/s$i/sentinel.log" >&2; die "redis-sentinel did not answer on $port"; }
    urls+=("redis://127.0.0.1:$port")
  done
  cat <<OUT
SENTINELS=$(IFS=,; echo "${urls[*]}")
MASTER_NAME=stsgate
MASTER_DIR=$dir/master
MASTER_PORT=$master_port
REPLICA_PORT=$replica_port
OUT
  log "sentinel set up in $dir: master 127.0.0.1:$master_port, replica :$replica_port, sentinels ${urls[*]}"
}

cmd_stop() {
  local dir=${1:?usage: redis.sh stop DIR}
  local sub
  for sub in "$dir"/master "$dir"/replica "$dir"/s1 "$dir"/s2 "$dir"/s3; do
    [[ -f "$sub/pid" ]] && cmd_stop "$sub"
  done
  [[ -f "$dir/pid" ]] || return 0
  local pid; pid=$(cat "$dir/pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/pid"
}

case "${1:-}" in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  start-sentinel) shift; cmd_start_sentinel "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
