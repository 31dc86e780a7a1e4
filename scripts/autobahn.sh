#!/usr/bin/env bash
# Autobahn TestSuite conformance of the echo server, all 517 cases (groups
# 1-13, permessage-deflate included), run with kosoku.
#
#   scripts/autobahn.sh            run, check, diff against the committed results
#   scripts/autobahn.sh --update   run and rewrite tests/autobahn/server.json
#   scripts/autobahn.sh --tokio    the same for the tokio driver's echo example
#                                  (examples/tokio-echo.rs; tests/autobahn/tokio-server.json)
#
# Fails unless every case's behaviour is OK or INFORMATIONAL (NON-STRICT
# fails) with a clean close, and unless the results equal the committed ones,
# so any change, better or worse, shows up as a diff.
set -euo pipefail
cd "$(dirname "$0")/.."
driver=mio mode=
for arg in "$@"; do
  case $arg in
  --tokio) driver=tokio ;;
  --update) mode=--update ;;
  *) echo "autobahn.sh: unknown argument $arg" >&2; exit 2 ;;
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
mio)
  expected=$root/tests/autobahn/server.json
  cargo build --release --quiet --bin echo-server
  server=(./target/release/echo-server --threads 1 --log warn --listen)
  ;;
tokio)
  expected=$root/tests/autobahn/tokio-server.json
  cargo build --release --quiet --features tokio --example tokio-echo
  server=(./target/release/examples/tokio-echo --listen)
  ;;
esac

out=$(mktemp -d)
port=$(free_port)
"${server[@]}" "127.0.0.1:$port" >"$out/server.log" 2>&1 &
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
kill -0 "$server" 2>/dev/null || { echo "the server died during the run"; cat "$out/server.log"; exit 1; }

agent=$("$venv/bin/python" -c 'import json,sys; print(next(iter(json.load(open(sys.argv[1])))))' "$out/reports/index.json")
"$venv/bin/python" scripts/autobahn_check.py "$out/reports/index.json" "$expected" "$agent" $mode
