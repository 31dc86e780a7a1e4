#!/usr/bin/env bash
# Autobahn TestSuite conformance of our blocking client, all 517 cases
# (groups 1-13), with kosoku's fuzzing server.
#
#   scripts/autobahn-client.sh            run, check, diff against the committed results
#   scripts/autobahn-client.sh --update   run and rewrite tests/autobahn/client.json
#   scripts/autobahn-client.sh --tokio    the same for the tokio driver's client
#                                         (examples/tokio-autobahn-client.rs;
#                                         tests/autobahn/tokio-client.json)
set -euo pipefail
cd "$(dirname "$0")/.."
driver=blocking mode=
for arg in "$@"; do
  case $arg in
  --tokio) driver=tokio ;;
  --update) mode=--update ;;
  *) echo "autobahn-client.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
if [ "$driver" = tokio ]; then
  # Groups 1-10, and of permessage-deflate's 12 and 13 what these globs
  # select (kosoku matches a prefix: 12.*.1 takes 12.x.1 and 12.x.10-18),
  # cases 1-6 and 10-18 of every subgroup: every payload kind and every
  # negotiation variant. The tokio driver shares the connection layer the
  # full runs of the mio server and the blocking client cover, and differs
  # in the handshake. 481 cases.
  AUTOBAHN_CASES=${AUTOBAHN_CASES:-'1.* 2.* 3.* 4.* 5.* 6.* 7.* 9.* 10.* 12.*.1 12.*.2 12.*.3 12.*.4 12.*.5 12.*.6 13.*.1 13.*.2 13.*.3 13.*.4 13.*.5 13.*.6'}
fi
source scripts/kosoku-common.sh
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
"${kosoku[@]}" -m fuzzingserver -o "$out/reports" \
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
