#!/usr/bin/env bash
# Autobahn TestSuite conformance of our blocking client, cases 1-10, with
# kosoku's fuzzing server.
#
#   scripts/autobahn-client.sh            run, check, diff against the committed results
#   scripts/autobahn-client.sh --update   run and rewrite tests/autobahn/client.json
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${VENV:-$root/.venv}
expected=$root/tests/autobahn/client.json

if [ ! -x "$venv/bin/kosoku" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet kosoku
fi
cargo build --release --quiet --example autobahn-client

out=$(mktemp -d)
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/kosoku" -m fuzzingserver -o "$out/reports" \
  -i '1.*' -i '2.*' -i '3.*' -i '4.*' -i '5.*' -i '6.*' -i '7.*' -i '9.*' -i '10.*' \
  "127.0.0.1:$port" >"$out/kosoku.log" 2>&1 &
fuzzer=$!
trap 'kill "$fuzzer" 2>/dev/null || true; wait "$fuzzer" 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 50); do
  (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

start=$(date +%s)
timeout 900 ./target/release/examples/autobahn-client "ws://127.0.0.1:$port" rfc6455 2>"$out/client.log" \
  || { echo "client driver failed"; tail -n 20 "$out/client.log"; exit 1; }
# kosoku writes the reports and exits after updateReports.
for _ in $(seq 100); do
  kill -0 "$fuzzer" 2>/dev/null || break
  sleep 0.1
done
echo "client run took $(( $(date +%s) - start )) s"
tail -n 3 "$out/kosoku.log"

"$venv/bin/python" scripts/autobahn_check.py "$out/reports/index.json" "$expected" rfc6455 "${1:-}"
