#!/usr/bin/env bash
# Real S3 backends for stsgate's tests and demo, on 127.0.0.1 only.
#
#   scripts/backend.sh install [garage|s3s-fs|minio|mc|all]
#                                                     build Garage and s3s-fs from crates.io into
#                                                     ~/.cargo/bin, MinIO from the Go module proxy into
#                                                     $(go env GOPATH)/bin, each pinned, if missing
#   scripts/backend.sh install radosgw                Ceph's S3 gateway from Debian (apt-get: radosgw,
#                                                     ceph-mon, ceph-osd), if missing
#   scripts/backend.sh start garage|s3s-fs|minio|minio-svcacct|radosgw DIR
#                                                     start one in DIR (created, must be empty);
#                                                     minio-svcacct: MinIO reached through a service
#                                                     account (made with mc) limited to s3:* actions;
#                                                     radosgw: a throw-away single-host Ceph cluster
#                                                     (mon, memstore OSD, rgw) on 127.0.0.1
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

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

install_radosgw() {
  if command -v radosgw >/dev/null && command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null; then
    log "radosgw already installed ($(radosgw --version | awk '{print $3}'))"; return
  fi
  log "installing radosgw, ceph-mon and ceph-osd from Debian (about 75 MiB)..."
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq radosgw ceph-mon ceph-osd >/dev/null
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

# A single-host Ceph cluster in DIR: one monitor, one memstore OSD placed in the CRUSH map by
# hand, size-1 pools, cephx with keys in DIR/keyring, and radosgw (beast) on 127.0.0.1:PORT.
# Every daemon writes its pid to DIR/run/*.pid (`stop` kills them all) and logs to DIR/log.
start_radosgw() {
  local dir=$1 port=$2 key_id=$3 secret=$4 bucket=$5 region=$6
  command -v radosgw >/dev/null || die "radosgw is not installed: run scripts/backend.sh install radosgw"
  local mon; mon=$(free_port)
  local fsid osd_uuid; fsid=$(python3 -c 'import uuid; print(uuid.uuid4())'); osd_uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  mkdir -p "$dir/run" "$dir/log" "$dir/mon" "$dir/osd/ceph-0" "$dir/rgw"
  cat > "$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
osd crush update on start = false
osd class update on start = false
osd objectstore = memstore
memstore device bytes = 2147483648
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
keyring = $dir/keyring
[client.rgw.gw]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw data = $dir/rgw
rgw dns name = localhost
EOF
  local c=(-c "$dir/ceph.conf")
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' >/dev/null
  monmaptool --create --addv a "[v2:127.0.0.1:$mon]" --fsid "$fsid" "$dir/monmap" >/dev/null
  ceph-mon "${c[@]}" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" >&2
  # Daemons fork: their output goes to files so no pipe of the caller stays open.
  ceph-mon "${c[@]}" -i a </dev/null >"$dir/log/mon.out" 2>&1 || { cat "$dir/log/mon.out" >&2; die "ceph-mon did not start"; }
  timeout 60 ceph "${c[@]}" osd create "$osd_uuid" >/dev/null
  ceph "${c[@]}" auth get-or-create osd.0 mon 'allow profile osd' mgr 'allow profile osd' osd 'allow *' >> "$dir/keyring"
  ceph "${c[@]}" auth get-or-create client.rgw.gw mon 'allow rw' osd 'allow rwx' >> "$dir/keyring"
  ceph-osd "${c[@]}" -i 0 --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd-mkfs.out" 2>&1 || { cat "$dir/log/osd-mkfs.out" >&2; die "ceph-osd --mkfs failed"; }
  ceph "${c[@]}" osd crush add-bucket host0 host >/dev/null 2>&1
  ceph "${c[@]}" osd crush move host0 root=default >/dev/null 2>&1
  ceph "${c[@]}" osd crush add osd.0 1.0 host=host0 >/dev/null 2>&1
  ceph-osd "${c[@]}" -i 0 </dev/null >"$dir/log/osd.out" 2>&1 || { cat "$dir/log/osd.out" >&2; die "ceph-osd did not start"; }
  radosgw "${c[@]}" -n client.rgw.gw </dev/null >"$dir/log/rgw.out" 2>&1 || { cat "$dir/log/rgw.out" >&2; die "radosgw did not start"; }
  local pid="" i
  for i in $(seq 1 100); do
    pid=$(cat "$dir/run/client.rgw.gw.pid" 2>/dev/null) && [[ -n "$pid" ]] && break
    sleep 0.2
  done
  [[ -n "$pid" ]] || die "radosgw wrote no pid file"
  echo "$pid" > "$dir/pid"
  # rgw creates its pools before it answers: allow it a minute.
  for i in $(seq 1 300); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    kill -0 "$pid" 2>/dev/null || { tail -20 "$dir/log/client.rgw.gw.log" >&2; die "radosgw exited"; }
    sleep 0.2
  done
  curl -s -o /dev/null "http://127.0.0.1:$port/" || { tail -20 "$dir/log/client.rgw.gw.log" >&2; die "radosgw did not answer on port $port"; }
  radosgw-admin "${c[@]}" -n client.admin user create --uid stsgate-test --display-name stsgate-test \
    --access-key "$key_id" --secret-key "$secret" >/dev/null
  # The bucket, with the new user's key: a signed PUT (python's botocore is installed with awscli).
  python3 - "http://127.0.0.1:$port" "$key_id" "$secret" "$bucket" "$region" >&2 <<'PY'
import sys, botocore.session
endpoint, key, secret, bucket, region = sys.argv[1:]
s3 = botocore.session.get_session().create_client(
    "s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
s3.create_bucket(Bucket=bucket)
PY
}

# MinIO as operators should run it behind stsgate: the printed key is a service account of the
# root user, made with `mc`, whose policy allows S3 actions only (no admin:* actions, so no
# user, policy or config management even if a request reached MinIO's admin API).
start_minio_svcacct() {
  local dir=$1 port=$2 key_id=$3 secret=$4 bucket=$5 region=$6
  local mc; mc="$(go_bin)/mc"
  [[ -x "$mc" ]] || mc=$(command -v mc) || die "mc is not installed: run scripts/backend.sh install mc"
  local root_id root_secret; root_id="root$(random_hex 6)"; root_secret=$(random_hex 20)
  start_minio "$dir" "$port" "$root_id" "$root_secret" "$bucket" "$region"
  cat > "$dir/svcacct-policy.json" <<EOF
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}]}
EOF
  MC_HOST_root="http://$root_id:$root_secret@127.0.0.1:$port" "$mc" --config-dir "$dir/mc" --quiet \
    admin user svcacct add root "$root_id" --access-key "$key_id" --secret-key "$secret" \
    --policy "$dir/svcacct-policy.json" >&2 || die "mc could not create the service account"
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
    minio-svcacct)
      key_id=${BACKEND_KEY_ID:-svc$(random_hex 8)}; secret=${BACKEND_SECRET:-$(random_hex 20)}
      start_minio_svcacct "$dir" "$port" "$key_id" "$secret" "$bucket" "$region" ;;
    radosgw)
      key_id=${BACKEND_KEY_ID:-RGW$(random_hex 8 | tr a-f A-F)}; secret=${BACKEND_SECRET:-$(random_hex 20)}
      start_radosgw "$dir" "$port" "$key_id" "$secret" "$bucket" "$region" ;;
    *) die "unknown backend '$kind' (garage, s3s-fs, minio, minio-svcacct, radosgw)" ;;
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

stop_pid() {
  local pid=$1
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
}

cmd_stop() {
  local dir=${1:?usage: backend.sh stop DIR}
  local f
  # A Ceph cluster: every daemon's pid file (rgw first, the monitor last).
  for f in "$dir"/run/client.*.pid "$dir"/run/osd.*.pid "$dir"/run/mon.*.pid; do
    [[ -f "$f" ]] && stop_pid "$(cat "$f")" && rm -f "$f"
  done
  [[ -f "$dir/pid" ]] || { log "nothing (else) started in $dir"; return 0; }
  stop_pid "$(cat "$dir/pid")"
  rm -f "$dir/pid"
}

case "${1:-}" in
  install)
    case "${2:-all}" in
      garage) install_garage ;;
      s3s-fs) install_s3s_fs ;;
      minio) install_minio ;;
      mc) install_mc ;;
      radosgw) install_radosgw ;;
      all) install_garage; install_s3s_fs; install_minio; install_mc; install_radosgw ;;
      *) die "unknown backend '$2'" ;;
    esac ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
