#!/usr/bin/env bash
# Runs every test of stsgate on a fresh machine. Installs what the suites need first:
#   - Debian packages: curl, openssl, rclone, s3cmd, unzip, maven, redis-server (apt-get; needs
#     root or sudo)
#   - Python clients from PyPI: awscli, boto3, awscurl
#   - Chromium from Debian and puppeteer-core from npm (pinned in tests/browser/) into
#     target/browser-driver, for tests/browser.rs
#   - an independent IAM simulator from npm (@cloud-copilot/iam-simulate, pinned with its lock
#     file in tests/iam_differential/) into target/iam-simulate, for tests/iam_differential.rs
#   - real S3 backends: Garage and s3s-fs from crates.io (built once into ~/.cargo/bin), MinIO
#     from the Go module proxy (built once into $(go env GOPATH)/bin; skipped without Go), Ceph's
#     radosgw from Debian (radosgw ceph-mon ceph-osd)
#   - Keycloak 26 from Maven Central (org.keycloak:keycloak-quarkus-dist, unpacked once into
#     ~/.cache/stsgate; run with the Java 25 in /usr/lib/jvm/temurin-25-jdk-amd64), for
#     tests/keycloak.rs
# Set STSGATE_REQUIRE_BACKENDS=1 to make a missing backend a failure instead of a SKIPPED test.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "test.sh: $*" >&2; }

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

missing=()
for tool in curl openssl rclone s3cmd unzip; do command -v "$tool" >/dev/null || missing+=("$tool"); done
command -v mvn >/dev/null || missing+=(maven)
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v aws >/dev/null || ! python3 -c 'import boto3' 2>/dev/null; then
  log "installing awscli and boto3 from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check awscli boto3
fi
if ! command -v awscurl >/dev/null; then
  log "installing awscurl from PyPI (signs execute-api requests in tests/http_api.rs)"
  python3 -m pip install --quiet --disable-pip-version-check awscurl==0.44
fi

# The independent IAM simulator the policy engine is compared with (tests/iam_differential.rs).
simulator=target/iam-simulate
if ! cmp -s tests/iam_differential/package-lock.json "$simulator/package-lock.json" \
  || [[ ! -d "$simulator/node_modules/@cloud-copilot/iam-simulate" ]]; then
  if command -v npm >/dev/null; then
    log "installing @cloud-copilot/iam-simulate from npm into $simulator"
    rm -rf "$simulator" && mkdir -p "$simulator"
    cp tests/iam_differential/package.json tests/iam_differential/package-lock.json "$simulator/"
    (cd "$simulator" && npm ci --no-audit --no-fund --loglevel=error >&2)
  else
    log "npm not found: tests/iam_differential.rs will report the simulator missing"
  fi
fi

# Headless Chromium from Debian and the DevTools driver (puppeteer-core from npm, pinned with its
# lock file in tests/browser/) for tests/browser.rs.
if ! command -v chromium >/dev/null; then
  log "installing chromium from Debian (tests/browser.rs)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium fonts-liberation >/dev/null
fi
driver=target/browser-driver
if ! cmp -s tests/browser/package-lock.json "$driver/package-lock.json" \
  || [[ ! -d "$driver/node_modules/puppeteer-core" ]]; then
  if command -v npm >/dev/null; then
    log "installing puppeteer-core from npm into $driver"
    rm -rf "$driver" && mkdir -p "$driver"
    cp tests/browser/package.json tests/browser/package-lock.json "$driver/"
    (cd "$driver" && npm ci --no-audit --no-fund --loglevel=error >&2)
  else
    log "npm not found: tests/browser.rs will report the driver missing"
  fi
fi

scripts/backend.sh install all
scripts/redis.sh install
scripts/keycloak.sh install

log "running cargo test"
cargo test --workspace --all-targets
