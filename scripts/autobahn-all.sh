#!/usr/bin/env bash
# Every Autobahn TestSuite run CI makes, two at a time: the mio echo server
# and the blocking client on all 517 cases (permessage-deflate's groups 12
# and 13 included), then the tokio driver's echo example and client on
# 481 (1-10 and 180 of 12-13: see scripts/autobahn.sh). kosoku (Python) takes most of a core per run and a run mostly
# waits on it, so a pair takes about as long as one of its runs on two
# cores. Each run's output is printed when the pair ends, with its time.
#
#   scripts/autobahn-all.sh
set -uo pipefail
cd "$(dirname "$0")/.."
# The venv and the binaries first, so the parallel runs only read them.
source scripts/kosoku-common.sh
cargo build --release --quiet --bin echo-server --example autobahn-client || exit 1
cargo build --release --quiet --features tokio --example tokio-echo --example tokio-autobahn-client || exit 1

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=0

# run_pair NAME1 CMD1 NAME2 CMD2: both at once; prints both logs.
run_pair() {
  local start pids=() names=("$1" "$3") i
  start=$(date +%s)
  bash -c "$2" >"$logs/0" 2>&1 &
  pids+=($!)
  bash -c "$4" >"$logs/1" 2>&1 &
  pids+=($!)
  for i in 0 1; do
    local rc=0
    wait "${pids[$i]}" || rc=$?
    printf '\n--- %s (exit %d, pair started %d s ago)\n' "${names[$i]}" "$rc" $(( $(date +%s) - start ))
    cat "$logs/$i"
    [ "$rc" -eq 0 ] || failed=1
  done
}

run_pair "server (echo-server), cases 1-13" "scripts/autobahn.sh" \
  "client (blocking), cases 1-13" "scripts/autobahn-client.sh"
run_pair "tokio driver: echo example as server, 481 cases" "scripts/autobahn.sh --tokio" \
  "tokio driver: client, 481 cases" "scripts/autobahn-client.sh --tokio"
exit "$failed"
