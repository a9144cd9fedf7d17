#!/usr/bin/env bash
# Keycloak for stsgate's federation tests, on 127.0.0.1 only, over https with a test CA.
#
#   scripts/keycloak.sh install            fetch keycloak-quarkus-dist from Maven Central (mvn
#                                          dependency:get) and unpack it into the cache, if missing
#   scripts/keycloak.sh start DIR REALM    start it in DIR (created, must be empty) with the realm
#                                          file REALM imported; waits for its discovery document
#   scripts/keycloak.sh stop DIR           stop the Keycloak started in DIR
#
# `start` prints KEY=VALUE lines on stdout (URL: https://localhost:PORT, CA: the test CA's PEM,
# ADMIN_USER, ADMIN_PASSWORD, PID); progress goes to stderr. Keycloak 26 needs Java 21 or newer:
# KEYCLOAK_JAVA_HOME (default /usr/lib/jvm/temurin-25-jdk-amd64, else JAVA_HOME).
set -euo pipefail

KEYCLOAK_VERSION=26.5.6
CACHE="${STSGATE_CACHE:-$HOME/.cache/stsgate}"
KC_HOME="$CACHE/keycloak-$KEYCLOAK_VERSION"

log() { echo "keycloak.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

java_home() {
  local j="${KEYCLOAK_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
  [[ -x "$j/bin/java" ]] || j="${JAVA_HOME:-}"
  [[ -n "$j" && -x "$j/bin/java" ]] || die "no Java 21+ found (set KEYCLOAK_JAVA_HOME)"
  echo "$j"
}

cmd_install() {
  if [[ -x "$KC_HOME/bin/kc.sh" ]]; then
    log "keycloak $KEYCLOAK_VERSION already unpacked ($KC_HOME)"; return
  fi
  command -v mvn >/dev/null || die "mvn (Debian package maven) is needed to fetch Keycloak"
  command -v unzip >/dev/null || die "unzip (Debian package unzip) is needed to unpack Keycloak"
  local artifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip"
  log "fetching $artifact from Maven Central"
  mvn -q dependency:get -Dartifact="$artifact" -Dtransitive=false >&2
  local zip="${MAVEN_REPO:-$HOME/.m2/repository}/org/keycloak/keycloak-quarkus-dist/$KEYCLOAK_VERSION/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
  [[ -f "$zip" ]] || die "the zip is not where Maven puts it: $zip"
  mkdir -p "$CACHE"
  local tmp; tmp="$(mktemp -d "$CACHE/unpack.XXXXXX")"
  unzip -q "$zip" -d "$tmp"
  mv "$tmp/keycloak-$KEYCLOAK_VERSION" "$KC_HOME"
  rmdir "$tmp"
  log "keycloak $KEYCLOAK_VERSION unpacked into $KC_HOME"
}

# A test CA and a certificate for localhost it signed.
make_pki() {
  local dir="$1"
  (
    cd "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=stsgate keycloak test CA" -keyout ca.key -out ca.pem \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
      -keyout tls.key -out tls.csr 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' > tls.ext
    openssl x509 -req -in tls.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile tls.ext -out tls.crt 2>/dev/null
  )
}

cmd_start() {
  local dir="$1" realm="$2"
  [[ -f "$realm" ]] || die "no realm file $realm"
  [[ -x "$KC_HOME/bin/kc.sh" ]] || cmd_install
  mkdir -p "$dir"
  [[ -z "$(ls -A "$dir")" ]] || die "$dir is not empty"
  dir="$(cd "$dir" && pwd)"
  make_pki "$dir"
  # --import-realm reads the install's data/import (the same realm file for every instance).
  mkdir -p "$KC_HOME/data/import"
  cp "$realm" "$KC_HOME/data/import/"
  local port mport java; port="$(free_port)"; mport="$(free_port)"; java="$(java_home)"
  log "starting keycloak $KEYCLOAK_VERSION on https://localhost:$port (log: $dir/keycloak.log)"
  # The database is in memory: nothing outlives the instance.
  JAVA_HOME="$java" KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=admin-password-for-tests-only \
    JAVA_OPTS_APPEND="-Xms256m -Xmx768m" \
    setsid "$KC_HOME/bin/kc.sh" start-dev --db=dev-mem \
      --http-enabled=false --https-port="$port" --http-host=127.0.0.1 \
      --hostname="https://localhost:$port" \
      --https-certificate-file="$dir/tls.crt" --https-certificate-key-file="$dir/tls.key" \
      --http-management-port="$mport" --import-realm \
      >"$dir/keycloak.log" 2>&1 &
  local pid=$!
  echo "$pid" > "$dir/pid"
  local i
  for i in $(seq 1 240); do
    if curl -sf --cacert "$dir/ca.pem" "https://localhost:$port/realms/stsgate/.well-known/openid-configuration" >/dev/null 2>&1; then
      log "keycloak answers after ${i}/2 s"
      echo "URL=https://localhost:$port"
      echo "CA=$dir/ca.pem"
      echo "ADMIN_USER=admin"
      echo "ADMIN_PASSWORD=admin-password-for-tests-only"
      echo "PID=$pid"
      return
    fi
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$dir/keycloak.log" >&2; die "keycloak exited"; }
    sleep 0.5
  done
  tail -n 30 "$dir/keycloak.log" >&2
  die "keycloak did not answer within 120 s"
}

cmd_stop() {
  local dir="$1"
  [[ -f "$dir/pid" ]] || return 0
  local pid; pid="$(cat "$dir/pid")"
  kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
}

case "${1:-}" in
  install) cmd_install ;;
  start) [[ $# -eq 3 ]] || die "usage: keycloak.sh start DIR REALM"; cmd_start "$2" "$3" ;;
  stop) [[ $# -eq 2 ]] || die "usage: keycloak.sh stop DIR"; cmd_stop "$2" ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
