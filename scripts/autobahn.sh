#!/usr/bin/env bash
# Autobahn TestSuite conformance of the echo server, cases 1-10 (everything
# but the permessage-deflate groups 12 and 13), run with kosoku.
#
#   scripts/autobahn.sh            run, check, diff against the committed results
#   scripts/autobahn.sh --update   run and rewrite tests/autobahn/server.json
#
# Fails unless every case's behaviour is OK or INFORMATIONAL (NON-STRICT
# fails) with a clean close, and unless the results equal the committed ones,
# so any change, better or worse, shows up as a diff.
set -euo pipefail
cd "$(dirname "$0")/.."
# The server does not negotiate permessage-deflate yet: groups 1-10.
AUTOBAHN_CASES=${AUTOBAHN_CASES:-'1.* 2.* 3.* 4.* 5.* 6.* 7.* 9.* 10.*'}
source scripts/kosoku-common.sh
expected=$root/tests/autobahn/server.json
cargo build --release --quiet --bin echo-server

out=$(mktemp -d)
port=$(free_port)
./target/release/echo-server --listen "127.0.0.1:$port" --threads 1 --log warn >"$out/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$out"' EXIT
wait_port "$port"

start=$(date +%s)
set +e
timeout 1800 "${kosoku[@]}" -m fuzzingclient -o "$out/reports" \
  "${cases[@]}" \
  "ws://127.0.0.1:$port" >"$out/kosoku.log" 2>&1
rc=$?
set -e
echo "kosoku exited $rc after $(( $(date +%s) - start )) s"
tail -n 3 "$out/kosoku.log"
kill -0 "$server" 2>/dev/null || { echo "echo-server died during the run"; cat "$out/server.log"; exit 1; }

agent=$("$venv/bin/python" -c 'import json,sys; print(next(iter(json.load(open(sys.argv[1])))))' "$out/reports/index.json")
"$venv/bin/python" scripts/autobahn_check.py "$out/reports/index.json" "$expected" "$agent" "${1:-}"
