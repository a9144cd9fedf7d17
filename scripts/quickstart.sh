#!/usr/bin/env bash
# Brings up a real Garage on 127.0.0.1:3900 (with the demo config's backend key), a tiny demo
# HTTP API on 127.0.0.1:7490 (scripts/demo_api.py) and stsgate with config/stsgate.toml, prints
# commands to try, and runs until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

config=config/stsgate.toml
scripts/backend.sh install garage
cargo build --release --quiet

data=$(mktemp -d -t stsgate-quickstart-XXXX)
cleanup() {
  [[ -n "${gw_pid:-}" ]] && kill "$gw_pid" 2>/dev/null
  [[ -n "${api_pid:-}" ]] && kill "$api_pid" 2>/dev/null
  scripts/backend.sh stop "$data/garage"
}
trap cleanup EXIT

# The demo config names this backend key; Garage imports it.
key_id=$(grep -m1 '^access_key_id = "GK' "$config" | cut -d'"' -f2)
secret=$(grep -m1 '^secret_access_key = "' "$config" | cut -d'"' -f2)
BACKEND_PORT=3900 BACKEND_KEY_ID=$key_id BACKEND_SECRET=$secret BACKEND_BUCKET=demo-bucket \
  scripts/backend.sh start garage "$data/garage" > "$data/backend.env"

python3 scripts/demo_api.py 7490 &
api_pid=$!

target/release/stsgate check --config "$config"
target/release/stsgate serve --config "$config" &
gw_pid=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:7481/health >/dev/null && break; sleep 0.1; done

cat <<'EOT'

stsgate is running: gateway http://127.0.0.1:7480, admin http://127.0.0.1:7481
Garage (backend) is on http://127.0.0.1:3900 with bucket demo-bucket; the demo HTTP API on
http://127.0.0.1:7490 is routed at http://127.0.0.1:7480/_api/demo/.

Try (aws-cli; awscurl from `pip install awscurl`):

  curl -s http://127.0.0.1:7481/metrics | head
  export AWS_DEFAULT_REGION=us-east-1 GW=http://127.0.0.1:7480

  # `session ROLE NAME` exports temporary credentials for ROLE, obtained by the demo user develop:
  session() {
    unset AWS_SESSION_TOKEN
    read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN < <(
      AWS_ACCESS_KEY_ID=AKIARTX3GSDSSMDOBCNR AWS_SECRET_ACCESS_KEY=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 \
      aws --endpoint-url $GW sts assume-role --role-arn arn:aws:iam::111122223333:role/$1 \
        --role-session-name $2 --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
  }

  # S3: upload as the writer role, then list and read as the read-only s3_role.
  session demo_writer writer
  aws --endpoint-url $GW sts get-caller-identity
  aws --endpoint-url $GW s3 cp README.md s3://demo-bucket/docs/README.md
  session s3_role reader
  aws --endpoint-url $GW s3 ls s3://demo-bucket/docs/
  aws --endpoint-url $GW s3 cp s3://demo-bucket/docs/README.md - | head -3

  # A refusal, and its encoded message decoded by the auditor user:
  aws --endpoint-url $GW s3 cp README.md s3://demo-bucket/denied.md 2>&1 | tee /tmp/refusal.txt
  AWS_ACCESS_KEY_ID=AKIARTX3GSDSYQ5LXWVD AWS_SECRET_ACCESS_KEY=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 AWS_SESSION_TOKEN= \
    aws --endpoint-url $GW sts decode-authorization-message --query DecodedMessage --output text \
    --encoded-message "$(sed -n 's/.*Encoded authorization failure message: \([^ ]*\).*/\1/p' /tmp/refusal.txt)"

  # HTTP API (execute-api): api_role may GET anything under the demo API, nothing else.
  session api_role api
  awscurl --service execute-api --session_token "$AWS_SESSION_TOKEN" $GW/_api/demo/hello
  awscurl --service execute-api --session_token "$AWS_SESSION_TOKEN" -X POST -d '{}' $GW/_api/demo/hello

  # MFA: no_skill may assume s3_role only with a code:
  AWS_ACCESS_KEY_ID=AKIARTX3GSDSQ7NFB6A5 AWS_SECRET_ACCESS_KEY=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 AWS_SESSION_TOKEN= \
    aws --endpoint-url $GW sts assume-role --role-arn arn:aws:iam::111122223333:role/s3_role \
    --role-session-name mfa --serial-number arn:aws:iam::111122223333:mfa/no_skill \
    --token-code "$(target/release/stsgate mfa-code --serial arn:aws:iam::111122223333:mfa/no_skill)"

Press Ctrl-C to stop everything.
EOT
wait "$gw_pid"
