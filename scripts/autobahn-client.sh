#!/usr/bin/env bash
# Autobahn TestSuite conformance of our blocking client, cases 1-10, with
# kosoku's fuzzing server.
#
#   scripts/autobahn-client.sh            run, check, diff against the committed results
#   scripts/autobahn-client.sh --update   run and rewrite tests/autobahn/client.json
#   scripts/autobahn-client.sh --tokio    the same for the tokio driver's client
#                                         (examples/tokio-autobahn-client.rs;
#                                         tests/autobahn/tokio-client.json)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/kosoku-common.sh
driver=blocking mode=
for arg in "$@"; do
  case $arg in
  --tokio) driver=tokio ;;
  --update) mode=--update ;;
  *) echo "autobahn-client.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
case $driver in
blocking)
  expected=$root/tests/autobahn/client.json
  agent=rfc6455
  cargo build --release --quiet --example autobahn-client
  client=./target/release/examples/autobahn-client
  ;;
tokio)
  expected=$root/tests/autobahn/tokio-client.json
  agent=rfc6455-tokio
  cargo build --release --quiet --features tokio --example tokio-autobahn-client
  client=./target/release/examples/tokio-autobahn-client
  ;;
esac

out=$(mktemp -d)
port=$(free_port)
"$venv/bin/kosoku" -m fuzzingserver -o "$out/reports" \
  "${cases[@]}" \
  "127.0.0.1:$port" >"$out/kosoku.log" 2>&1 &
fuzzer=$!
trap 'kill "$fuzzer" 2>/dev/null || true; wait "$fuzzer" 2>/dev/null || true; rm -rf "$out"' EXIT
wait_port "$port"

start=$(date +%s)
timeout 900 "$client" "ws://127.0.0.1:$port" "$agent" 2>"$out/client.log" \
  || { echo "client driver failed"; tail -n 20 "$out/client.log"; exit 1; }
# kosoku writes the reports and exits after updateReports.
for _ in $(seq 100); do
  kill -0 "$fuzzer" 2>/dev/null || break
  sleep 0.1
done
echo "client run took $(( $(date +%s) - start )) s"
tail -n 3 "$out/kosoku.log"

"$venv/bin/python" scripts/autobahn_check.py "$out/reports/index.json" "$expected" "$agent" $mode
