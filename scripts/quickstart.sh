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

  # STS as the demo user develop (see README "Demo users" for aws-cli profiles):
  export AWS_ACCESS_KEY_ID=AKIARTX3GSDSSMDOBCNR AWS_SECRET_ACCESS_KEY=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 AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url http://127.0.0.1:7480 sts get-caller-identity
  aws --endpoint-url http://127.0.0.1:7480 sts assume-role --role-arn arn:aws:iam::111122223333:role/s3_role --role-session-name demo
  aws --endpoint-url http://127.0.0.1:7480 sts get-access-key-info --access-key-id AKIARTX3GSDSSMDOBCNR

  # no_skill may assume the role only with MFA:
  AWS_ACCESS_KEY_ID=AKIARTX3GSDSQ7NFB6A5 AWS_SECRET_ACCESS_KEY=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 \\
    aws --endpoint-url http://127.0.0.1:7480 sts assume-role --role-arn arn:aws:iam::111122223333:role/s3_role \\
    --role-session-name mfa --serial-number arn:aws:iam::111122223333:mfa/no_skill \\
    --token-code "\$(target/release/stsgate mfa-code --serial arn:aws:iam::111122223333:mfa/no_skill)"

S3 requests through the gateway fail closed (503 ServiceUnavailable) until the S3 pipeline
lands (README "Status"); the backend itself is on :3900.
Press Ctrl-C to stop both.
EOT
wait "$gw_pid"
