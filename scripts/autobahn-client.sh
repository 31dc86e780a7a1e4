#!/usr/bin/env bash
# Autobahn TestSuite conformance of our blocking client, all 517 cases
# (groups 1-13), with kosoku's fuzzing server.
#
#   scripts/autobahn-client.sh            run, check, diff against the committed results
#   scripts/autobahn-client.sh --update   run and rewrite tests/autobahn/client.json
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/kosoku-common.sh
expected=$root/tests/autobahn/client.json
cargo build --release --quiet --example autobahn-client

out=$(mktemp -d)
port=$(free_port)
"${kosoku[@]}" -m fuzzingserver -o "$out/reports" \
  "${cases[@]}" \
  "127.0.0.1:$port" >"$out/kosoku.log" 2>&1 &
fuzzer=$!
trap 'kill "$fuzzer" 2>/dev/null || true; wait "$fuzzer" 2>/dev/null || true; rm -rf "$out"' EXIT
wait_port "$port"

start=$(date +%s)
timeout 1800 ./target/release/examples/autobahn-client "ws://127.0.0.1:$port" rfc6455 2>"$out/client.log" \
  || { echo "client driver failed"; tail -n 20 "$out/client.log"; exit 1; }
# kosoku writes the reports and exits after updateReports.
for _ in $(seq 100); do
  kill -0 "$fuzzer" 2>/dev/null || break
  sleep 0.1
done
echo "client run took $(( $(date +%s) - start )) s"
tail -n 3 "$out/kosoku.log"

"$venv/bin/python" scripts/autobahn_check.py "$out/reports/index.json" "$expected" rfc6455 "${1:-}"
