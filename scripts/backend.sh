#!/usr/bin/env bash
# Real S3 backends for stsgate's tests and demo, on 127.0.0.1 only.
#
#   scripts/backend.sh install [garage|s3s-fs|minio|mc|all]
#                                                     build Garage and s3s-fs from crates.io into
#                                                     ~/.cargo/bin, MinIO from the Go module proxy into
#                                                     $(go env GOPATH)/bin, each pinned, if missing
#   scripts/backend.sh start garage|s3s-fs|minio DIR  start one in DIR (created, must be empty)
#   scripts/backend.sh stop DIR                       stop the backend started in DIR
#
# `start` waits until the backend answers, creates a bucket and a key pair, and prints
# KEY=VALUE lines on stdout (ENDPOINT, ACCESS_KEY_ID, SECRET_ACCESS_KEY, BUCKET, REGION, PID, KIND);
# progress goes to stderr. Environment overrides for `start`:
#   BACKEND_PORT        S3 port (default: a free port)
#   BACKEND_KEY_ID      access key id to import (garage: GK + 24 hex; default: random)
#   BACKEND_SECRET      secret to import (garage: 64 hex; default: random)
#   BACKEND_BUCKET      bucket to create (default: stsgate-test)
#   BACKEND_REGION      region the backend signs with (default: us-east-1)
set -euo pipefail

GARAGE_VERSION=2.5.0
S3S_FS_VERSION=0.14.1
# MinIO publishes no semver tags, so the Go module proxy serves it as a pseudo-version: this
# one is the commit of 2026-02-12 (the newest the proxy served when it was pinned).
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# mc, the MinIO client (a client for the test suites, not a backend), pinned the same way.
MC_MODULE=github.com/minio/mc
MC_VERSION=v0.0.0-20250313080218-cf909e1063a9

log() { echo "backend.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

cargo_bin() { echo "${CARGO_HOME:-$HOME/.cargo}/bin"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

installed_version() { "$1" --version 2>/dev/null | head -n1 || true; }

install_garage() {
  local bin; bin="$(cargo_bin)/garage"
  if [[ -x "$bin" ]] && installed_version "$bin" | grep -q "$GARAGE_VERSION"; then
    log "garage $GARAGE_VERSION already installed ($bin)"; return
  fi
  log "building garage $GARAGE_VERSION from crates.io (about 12 minutes on 2 cores)..."
  cargo install --locked "garage@$GARAGE_VERSION" >&2
}

install_s3s_fs() {
  local bin; bin="$(cargo_bin)/s3s-fs"
  if [[ -x "$bin" ]] && installed_version "$bin" | grep -q "$S3S_FS_VERSION"; then
    log "s3s-fs $S3S_FS_VERSION already installed ($bin)"; return
  fi
  log "building s3s-fs $S3S_FS_VERSION from crates.io (about 3 minutes)..."
  cargo install --locked "s3s-fs@$S3S_FS_VERSION" --features binary >&2
}

go_bin() { echo "$(go env GOPATH)/bin"; }

# The module version a Go binary was built from (empty if it was not built by go install).
go_binary_version() { go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'; }

minio_bin() {
  if command -v go >/dev/null && [[ -x "$(go_bin)/minio" ]]; then echo "$(go_bin)/minio"; return; fi
  command -v minio || true
}

# Builds NAME from MODULE@VERSION with `go install` (Go module proxy) into $(go env GOPATH)/bin,
# unless that exact version is there. Without a Go toolchain it stays optional: a loud SKIPPED
# line, exit 0.
go_install_pinned() {
  local name=$1 module=$2 version=$3 estimate=$4
  if ! command -v go >/dev/null; then
    log "******** SKIPPED: $name (no Go toolchain; its suites will be skipped) ********"
    return 0
  fi
  local bin; bin="$(go_bin)/$name"
  if [[ -x "$bin" ]] && [[ "$(go_binary_version "$bin")" == "$version" ]]; then
    log "$name $version already installed ($bin)"; return
  fi
  log "building $name $version with go install ($estimate)..."
  GOFLAGS=-buildvcs=false go install "$module@$version" >&2
}

install_minio() { go_install_pinned minio "$MINIO_MODULE" "$MINIO_VERSION" "about 5 minutes on 2 cores"; }
install_mc() { go_install_pinned mc "$MC_MODULE" "$MC_VERSION" "about a minute once MinIO's modules are cached"; }

# Waits until an S3 endpoint answers HTTP at all (any status).
wait_http() {
  local url=$1 pid=$2 i
  for i in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    if curl -s -o /dev/null "$url"; then return 0; fi
    sleep 0.2
  done
  return 1
}

start_garage() {
  local dir=$1 port=$2 key_id=$3 secret=$4 bucket=$5 region=$6
  local bin; bin="$(cargo_bin)/garage"
  [[ -x "$bin" ]] || bin=$(command -v garage) || die "garage is not installed: run scripts/backend.sh install garage"
  local rpc admin; rpc=$(free_port); admin=$(free_port)
  mkdir -p "$dir/meta" "$dir/data"
  cat > "$dir/garage.toml" <<EOF
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(random_hex 32)"

[s3_api]
s3_region = "$region"
api_bind_addr = "127.0.0.1:$port"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
EOF
  chmod 600 "$dir/garage.toml"
  local g=("$bin" -c "$dir/garage.toml")
  "${g[@]}" server > "$dir/server.log" 2>&1 &
  local pid=$!
  echo "$pid" > "$dir/pid"
  local node="" i
  for i in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { cat "$dir/server.log" >&2; die "garage exited during start-up"; }
    node=$("${g[@]}" node id -q 2>/dev/null | cut -d@ -f1) && [[ -n "$node" ]] && break
    sleep 0.2
  done
  [[ -n "$node" ]] || die "garage did not answer on its RPC port"
  # `node id` reads a local key file: the RPC listener may not be up yet. Wait for it, and retry
  # the first command that needs it.
  for i in $(seq 1 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$rpc") 2>/dev/null && break
    sleep 0.2
  done
  for i in $(seq 1 25); do
    "${g[@]}" layout assign -z dc1 -c 1G "$node" >&2 && break
    [[ $i -lt 25 ]] || die "garage refused the layout"
    sleep 0.2
  done
  "${g[@]}" layout apply --version 1 >&2
  "${g[@]}" key import --yes -n stsgate-test "$key_id" "$secret" >&2
  "${g[@]}" key allow --create-bucket "$key_id" >&2
  "${g[@]}" bucket create "$bucket" >&2
  "${g[@]}" bucket allow --read --write --owner "$bucket" --key "$key_id" >&2
  wait_http "http://127.0.0.1:$port/" "$pid" || die "garage's S3 API did not come up"
}

start_s3s_fs() {
  local dir=$1 port=$2 key_id=$3 secret=$4 bucket=$5
  local bin; bin="$(cargo_bin)/s3s-fs"
  [[ -x "$bin" ]] || bin=$(command -v s3s-fs) || die "s3s-fs is not installed: run scripts/backend.sh install s3s-fs"
  mkdir -p "$dir/root/$bucket"
  "$bin" --host 127.0.0.1 --port "$port" --access-key "$key_id" --secret-key "$secret" "$dir/root" > "$dir/server.log" 2>&1 &
  local pid=$!
  echo "$pid" > "$dir/pid"
  wait_http "http://127.0.0.1:$port/" "$pid" || { cat "$dir/server.log" >&2; die "s3s-fs did not come up"; }
}

start_minio() {
  local dir=$1 port=$2 key_id=$3 secret=$4 bucket=$5 region=$6
  local bin; bin=$(minio_bin)
  [[ -n "$bin" ]] || die "minio is not installed: run scripts/backend.sh install minio"
  local console; console=$(free_port)
  mkdir -p "$dir/data/$bucket"
  MINIO_ROOT_USER="$key_id" MINIO_ROOT_PASSWORD="$secret" MINIO_SITE_REGION="$region" \
    MINIO_BROWSER=off "$bin" server --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" "$dir/data" > "$dir/server.log" 2>&1 &
  local pid=$!
  echo "$pid" > "$dir/pid"
  wait_http "http://127.0.0.1:$port/minio/health/live" "$pid" || { cat "$dir/server.log" >&2; die "minio did not come up"; }
}

cmd_start() {
  local kind=${1:?usage: backend.sh start garage|s3s-fs|minio DIR} dir=${2:?usage: backend.sh start KIND DIR}
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  [[ -z "$(ls -A "$dir")" ]] || die "$dir is not empty; give a fresh directory"
  local port=${BACKEND_PORT:-$(free_port)}
  local bucket=${BACKEND_BUCKET:-stsgate-test} region=${BACKEND_REGION:-us-east-1}
  local key_id secret
  case "$kind" in
    garage)
      key_id=${BACKEND_KEY_ID:-GK$(random_hex 12)}; secret=${BACKEND_SECRET:-$(random_hex 32)}
      start_garage "$dir" "$port" "$key_id" "$secret" "$bucket" "$region" ;;
    s3s-fs)
      key_id=${BACKEND_KEY_ID:-AKS3SFS$(random_hex 6)}; secret=${BACKEND_SECRET:-$(random_hex 20)}
      start_s3s_fs "$dir" "$port" "$key_id" "$secret" "$bucket" ;;
    minio)
      key_id=${BACKEND_KEY_ID:-minio$(random_hex 6)}; secret=${BACKEND_SECRET:-$(random_hex 20)}
      start_minio "$dir" "$port" "$key_id" "$secret" "$bucket" "$region" ;;
    *) die "unknown backend '$kind' (garage, s3s-fs, minio)" ;;
  esac
  cat <<EOF
KIND=$kind
ENDPOINT=http://127.0.0.1:$port
ACCESS_KEY_ID=$key_id
SECRET_ACCESS_KEY=$secret
BUCKET=$bucket
REGION=$region
PID=$(cat "$dir/pid")
EOF
  log "$kind is up at http://127.0.0.1:$port (bucket $bucket, data in $dir)"
}

cmd_stop() {
  local dir=${1:?usage: backend.sh stop DIR}
  [[ -f "$dir/pid" ]] || { log "nothing started in $dir"; return 0; }
  local pid; pid=$(cat "$dir/pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/pid"
}

case "${1:-}" in
  install)
    case "${2:-all}" in
      garage) install_garage ;;
      s3s-fs) install_s3s_fs ;;
      minio) install_minio ;;
      mc) install_mc ;;
      all) install_garage; install_s3s_fs; install_minio; install_mc ;;
      *) die "unknown backend '$2'" ;;
    esac ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
