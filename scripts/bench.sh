#!/usr/bin/env bash
# Side-by-side load bench: the backend alone (s3s-fs), nginx as a plain reverse proxy, and
# stsgate, all in front of the same s3s-fs, in one command. Installs nginx and wrk (Debian) and
# s3s-fs (crates.io) when missing, builds stsgate in release mode, runs `cargo bench --bench
# compare`, and writes the table to benches/RESULTS.md. Bounded: every run stops by itself
# (about 10 minutes with the defaults).
#   STSGATE_BENCH_SECONDS  length of each run (default 5)
#   STSGATE_BENCH_ROUNDS   interleaved rounds per scenario (default 3)
#   STSGATE_BENCH_ONLY     run only scenarios whose name contains this (no RESULTS.md then)
#   STSGATE_BENCH_BASELINE another stsgate binary (an earlier build) measured in the same rounds
#   STSGATE_BENCH_BASELINE_LABEL  what that binary is, for RESULTS.md (e.g. "commit 8e3f111")
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "bench.sh: $*" >&2; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"
scripts/backend.sh install s3s-fs
# 1,000 idle connections need more than the usual 1,024 descriptors in each process.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet
cargo bench --bench compare
