#!/usr/bin/env bash
# Brings up a real Garage on 127.0.0.1:3900 (with the demo config's backend key) and stsgate
# with config/stsgate.toml, prints commands to try, and runs until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

config=config/stsgate.toml
scripts/backend.sh install garage
cargo build --release --quiet

data=$(mktemp -d -t stsgate-quickstart-XXXX)
cleanup() { [[ -n "${gw_pid:-}" ]] && kill "$gw_pid" 2>/dev/null; scripts/backend.sh stop "$data/garage"; }
trap cleanup EXIT

# The demo config names this backend key; Garage imports it.
key_id=$(grep -m1 '^access_key_id = "GK' "$config" | cut -d'"' -f2)
secret=$(grep -m1 '^secret_access_key = "' "$config" | cut -d'"' -f2)
BACKEND_PORT=3900 BACKEND_KEY_ID=$key_id BACKEND_SECRET=$secret BACKEND_BUCKET=demo-bucket \
  scripts/backend.sh start garage "$data/garage" > "$data/backend.env"

target/release/stsgate check --config "$config"
target/release/stsgate serve --config "$config" &
gw_pid=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:7481/health >/dev/null && break; sleep 0.1; done

cat <<EOT

stsgate is running: gateway http://127.0.0.1:7480, admin http://127.0.0.1:7481
Garage (backend) is running on http://127.0.0.1:3900 with bucket demo-bucket.

Try:
  curl -s http://127.0.0.1:7481/health
  curl -s http://127.0.0.1:7481/metrics
  target/release/stsgate check --config $config

  # aws-cli profiles for the demo users (see README "Demo users"):
  aws configure set aws_access_key_id AKIARTX3GSDSSMDOBCNR --profile develop
  aws configure set aws_secret_access_key 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 --profile develop
  aws configure set region us-east-1 --profile develop
  aws --profile develop --endpoint-url http://127.0.0.1:7480 s3 ls s3://demo-bucket/

The gateway currently fails closed (503 ServiceUnavailable) for every S3/STS request: the
verify-authorize-forward pipeline is being built (see README "Status").
Press Ctrl-C to stop both.
EOT
wait "$gw_pid"
