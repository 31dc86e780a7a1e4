#!/usr/bin/env bash
# Autobahn TestSuite cases 1-10 over TLS, for the server and for the
# client, run with kosoku through a loopback proxy (kosoku cannot open
# wss://): scripts/tls_proxy.py speaks plain WebSocket bytes to kosoku and
# TLS to our side, verifying a CA made for the run.
#
#   scripts/autobahn-tls.sh
#
# Both runs must give exactly the committed plain-TCP results for the
# cases run (tests/autobahn/server.json and client.json): TLS may change
# nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
# Groups 1-10: TLS changes the transport, not permessage-deflate, which the
# plain runs cover; the check compares the cases run.
AUTOBAHN_CASES=${AUTOBAHN_CASES:-'1.* 2.* 3.* 4.* 5.* 6.* 7.* 9.* 10.*'}
source scripts/kosoku-common.sh
cargo build --release --quiet --bin echo-server --example autobahn-client --example test-certs

out=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$out"
}
trap cleanup EXIT
./target/release/examples/test-certs "$out/pki" >/dev/null

# start_proxy ARGS...: runs the proxy, sets $proxy_port.
start_proxy() {
  : >"$out/proxy.log"
  timeout 900 "$venv/bin/python" -u scripts/tls_proxy.py "$@" >>"$out/proxy.log" 2>&1 &
  pids+=($!)
  proxy_port=
  for _ in $(seq 100); do
    proxy_port=$(sed -En 's/^listening on 127\.0\.0\.1:([0-9]+)$/\1/p' "$out/proxy.log")
    [ -n "$proxy_port" ] && return 0
    sleep 0.1
  done
  echo "the TLS proxy did not start"; cat "$out/proxy.log"; exit 1
}

echo "-- server over TLS: kosoku -> plain -> proxy -> TLS -> echo-server"
port=$(free_port)
./target/release/echo-server --listen "127.0.0.1:$port" --threads 1 --log warn \
  --tls-cert "$out/pki/cert.pem" --tls-key "$out/pki/key.pem" >"$out/server.log" 2>&1 &
server=$!
pids+=($server)
wait_port "$port"
start_proxy to-tls "$port" --cafile "$out/pki/ca.pem"
start=$(date +%s)
set +e
timeout 900 "$venv/bin/kosoku" -m fuzzingclient -o "$out/server-reports" \
  "${cases[@]}" "ws://127.0.0.1:$proxy_port" >"$out/kosoku-server.log" 2>&1
rc=$?
set -e
echo "kosoku exited $rc after $(( $(date +%s) - start )) s"
kill -0 "$server" 2>/dev/null || { echo "echo-server died during the run"; cat "$out/server.log"; exit 1; }
agent=$("$venv/bin/python" -c 'import json,sys; print(next(iter(json.load(open(sys.argv[1])))))' \
  "$out/server-reports/index.json")
"$venv/bin/python" scripts/autobahn_check.py "$out/server-reports/index.json" \
  tests/autobahn/server.json "$agent" --only-run

echo "-- client over TLS: autobahn-client -> TLS -> proxy -> plain -> kosoku"
port=$(free_port)
"$venv/bin/kosoku" -m fuzzingserver -o "$out/client-reports" "${cases[@]}" \
  "127.0.0.1:$port" >"$out/kosoku-client.log" 2>&1 &
fuzzer=$!
pids+=($fuzzer)
wait_port "$port"
start_proxy from-tls "$port" --cert "$out/pki/cert.pem" --key "$out/pki/key.pem"
start=$(date +%s)
timeout 900 ./target/release/examples/autobahn-client "wss://localhost:$proxy_port" rfc6455 \
  "$out/pki/ca.pem" 2>"$out/client.log" \
  || { echo "client driver failed"; tail -n 20 "$out/client.log"; exit 1; }
for _ in $(seq 100); do
  kill -0 "$fuzzer" 2>/dev/null || break
  sleep 0.1
done
echo "client run took $(( $(date +%s) - start )) s"
"$venv/bin/python" scripts/autobahn_check.py "$out/client-reports/index.json" \
  tests/autobahn/client.json rfc6455 --only-run
