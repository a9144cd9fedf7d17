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

# Installs the npm packages pinned by the lock file in $1 into $2 (again only when the lock file
# changed); $3 says what for.
npm_pinned() {
  local from=$1 into=$2 what=$3
  if cmp -s "$from/package-lock.json" "$into/package-lock.json" && [[ -d "$into/node_modules" ]]; then
    return
  fi
  if ! command -v npm >/dev/null; then
    log "npm not found: $what will report its tool missing"
    return
  fi
  log "installing $from's npm packages into $into ($what)"
  rm -rf "$into" && mkdir -p "$into"
  cp "$from/package.json" "$from/package-lock.json" "$into/"
  (cd "$into" && npm ci --no-audit --no-fund --loglevel=error >&2)
}

# The independent IAM simulator the policy engine is compared with (tests/iam_differential.rs).
npm_pinned tests/iam_differential target/iam-simulate tests/iam_differential.rs

# Headless Chromium from Debian and the DevTools driver (puppeteer-core from npm, pinned with its
# lock file in tests/browser/) for tests/browser.rs.
if ! command -v chromium >/dev/null; then
  log "installing chromium from Debian (tests/browser.rs)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium fonts-liberation >/dev/null
fi
npm_pinned tests/browser target/browser-driver tests/browser.rs

scripts/backend.sh install all
scripts/redis.sh install
scripts/keycloak.sh install

log "running cargo test"
cargo test --workspace --all-targets
