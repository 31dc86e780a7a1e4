#!/usr/bin/env bash
# Interoperability matrix: our echo server and our client against the
# WebSocket implementations people really use, and through real proxies;
# the tokio driver's echo example and its hyper and axum upgrade examples.
#
#   scripts/interop.sh
#
# Every row exchanges text and binary messages of 0, 125, 126, 65536 and
# 1 MiB bytes (payloads: tests/interop/payloads.*), a ping (not in the
# browser: its API has none) and a clean close, checking every byte and the
# close code. Each row prints PASS or FAIL with its name (and its log on
# FAIL); the script exits 1 if any row failed. Rows 11a and 11b put two
# instances sharing a redis-server behind haproxy and nginx round-robin,
# with a Chromium page on each; 11c publishes to them with redis-py.
#
# Rows 9 and 10 run over TLS (wss://, and https:// for the built-in page)
# with a CA made for the run (examples/test-certs): every client verifies
# it, Chromium through an NSS database of its own (certutil) that trusts
# it, so no certificate error is ignored anywhere.
#
# Installs what it needs: Debian's chromium, nginx, haproxy, redis-server
# and libnss3-tools (certutil) when missing
# (apt-get, as root or through sudo), a venv in tests/interop/.venv from
# tests/interop/requirements.txt, and `npm ci` in tests/interop. Everything
# listens on 127.0.0.1 on ephemeral ports; every process it starts runs
# under `timeout` and is killed by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=$root/tests/interop
venv=$dir/.venv
started=$(date +%s)

work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*"; }

# --- installs -------------------------------------------------------------
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v certutil >/dev/null || missing+=(libnss3-tools)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  say "installing ${missing[*]} (apt-get)"
  if ! { "${sudo[@]}" apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"; } \
      >"$work/apt.log" 2>&1; then
    tail -n 20 "$work/apt.log"
    say "FAIL installing ${missing[*]}"
    exit 1
  fi
fi
export PATH=$PATH:/usr/sbin

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$dir/requirements.txt"
(cd "$dir" && npm ci --silent --no-audit --no-fund)

cargo build --release --quiet --features redis --bin echo-server --example interop-client \
  --example test-certs
cargo build --release --quiet --features tokio --example tokio-echo --example hyper-upgrade \
  --example axum-upgrade
client=$root/target/release/examples/interop-client
say "setup done after $(( $(date +%s) - started )) s"

# --- helpers --------------------------------------------------------------
# start NAME CMD...: runs CMD in the background (under timeout), records its
# PID, waits for "ws://127.0.0.1:PORT" (or http://) on its stdout, sets $port.
start() {
  local name=$1
  shift
  # Created here, not by the background job's redirection, which may not
  # have run yet when the loop below first reads the file.
  : >"$work/$name.log"
  timeout 600 "$@" >>"$work/$name.log" 2>&1 &
  pids+=($!)
  port=
  for _ in $(seq 100); do
    port=$(sed -En 's#.*(wss|ws|https|http)://127\.0\.0\.1:([0-9]+).*#\2#p' "$work/$name.log" | head -n 1)
    [ -n "$port" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  say "FAIL starting $name"
  cat "$work/$name.log"
  exit 1
}

# wait_port PORT: until something accepts on 127.0.0.1:PORT (5 s at most).
wait_port() {
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# free_port: an unused loopback port (for nginx and haproxy, which need one
# in their config).
free_port() {
  "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

failed=()
rows=0
# row NAME CMD...: runs one row with a time bound, prints PASS/FAIL.
row() {
  local name=$1 t0 rc
  shift
  rows=$((rows + 1))
  t0=$(date +%s%N)
  set +e
  timeout 60 "$@" >"$work/row.log" 2>&1
  rc=$?
  set -e
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  local secs=$((ms / 1000)).$(( ms % 1000 / 100 ))
  if [ $rc -eq 0 ]; then
    say "PASS  $name  (${secs} s, $(grep -c '^ok ' "$work/row.log") checks)"
  else
    say "FAIL  $name  (exit $rc after ${secs} s)"
    sed 's/^/      | /' "$work/row.log"
    failed+=("$name")
  fi
}

# --- servers --------------------------------------------------------------
start echo-server "$root/target/release/echo-server" --listen 127.0.0.1:0 --threads 2 --log warn
ours=$port
start tokio-echo "$root/target/release/examples/tokio-echo" --listen 127.0.0.1:0
tokio_port=$port
start hyper-upgrade "$root/target/release/examples/hyper-upgrade" --listen 127.0.0.1:0
hyper_port=$port
start axum-upgrade "$root/target/release/examples/axum-upgrade" --listen 127.0.0.1:0
axum_port=$port
start py-server "$venv/bin/python" "$dir/py_websockets_server.py"
py_port=$port
start node-server node "$dir/node_ws_server.js"
node_port=$port
# Two instances sharing topics through a redis-server of their own.
redis_port=$(free_port)
timeout 600 redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
wait_port "$redis_port" || { say "FAIL redis-server did not start"; cat "$work/redis.log"; exit 1; }
start instance-a "$root/target/release/echo-server" --listen 127.0.0.1:0 --threads 2 --log warn \
  --redis "redis://127.0.0.1:$redis_port/0"
inst_a=$port
start instance-b "$root/target/release/echo-server" --listen 127.0.0.1:0 --threads 2 --log warn \
  --redis "redis://127.0.0.1:$redis_port/0"
inst_b=$port
# Chromium's test page comes from loopback too: a page from elsewhere may not
# open ws://127.0.0.1 (local network access checks).
start page-server "$venv/bin/python" -u -m http.server --bind 127.0.0.1 --directory "$dir" 0
page_port=$port

nginx_port=$(free_port)
nginx_multi_port=$(free_port)
mkdir -p "$work/nginx"
# ws_proxy PORT TARGET: an nginx server on PORT passing WebSockets to TARGET.
ws_proxy() {
  cat <<EOF
  server {
    listen 127.0.0.1:$1;
    location / {
      proxy_pass http://$2;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header Host \$host;
      proxy_read_timeout 60s;
      proxy_buffering off;
    }
  }
EOF
}
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log info;
events { worker_connections 256; }
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fcgi; uwsgi_temp_path $work/nginx/uwsgi; scgi_temp_path $work/nginx/scgi;
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
$(ws_proxy "$nginx_port" "127.0.0.1:$ours")
  upstream instances { server 127.0.0.1:$inst_a; server 127.0.0.1:$inst_b; }
$(ws_proxy "$nginx_multi_port" instances)
}
EOF
nginx -t -q -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log"
timeout 600 nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" \
  -g 'daemon off;' >"$work/nginx/stdout.log" 2>&1 &
pids+=($!)

haproxy_port=$(free_port)
haproxy_multi_port=$(free_port)
cat >"$work/haproxy.cfg" <<EOF
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout tunnel 60s
frontend ws
  bind 127.0.0.1:$haproxy_port
  default_backend echo
backend echo
  server ours 127.0.0.1:$ours
frontend instances
  bind 127.0.0.1:$haproxy_multi_port
  default_backend instances
backend instances
  balance roundrobin
  server a 127.0.0.1:$inst_a
  server b 127.0.0.1:$inst_b
EOF
haproxy -q -c -f "$work/haproxy.cfg"
timeout 600 haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
pids+=($!)

# TLS: a CA and a certificate for localhost and 127.0.0.1, made for this
# run; Chromium gets a home whose NSS database trusts the CA.
pki=$work/pki
"$root/target/release/examples/test-certs" "$pki" >/dev/null
chromium_home=$work/chromium-home
mkdir -p "$chromium_home/.pki/nssdb"
certutil -N -d "sql:$chromium_home/.pki/nssdb" --empty-password
certutil -A -d "sql:$chromium_home/.pki/nssdb" -n "rfc6455 interop test CA" -t "C,," -i "$pki/ca.pem"
start echo-server-tls "$root/target/release/echo-server" --listen 127.0.0.1:0 --threads 2 --log warn \
  --tls-cert "$pki/cert.pem" --tls-key "$pki/key.pem"
ours_tls=$port
start py-server-tls "$venv/bin/python" "$dir/py_websockets_server.py" --tls "$pki/cert.pem" "$pki/key.pem"
py_tls_port=$port
start node-server-tls node "$dir/node_ws_server.js" --tls "$pki/cert.pem" "$pki/key.pem"
node_tls_port=$port

wait_port "$nginx_port" || { say "FAIL nginx did not start"; cat "$work/nginx/error.log"; exit 1; }
wait_port "$haproxy_port" || { say "FAIL haproxy did not start"; cat "$work/haproxy.log"; exit 1; }
wait_port "$nginx_multi_port" || { say "FAIL nginx did not start"; cat "$work/nginx/error.log"; exit 1; }
wait_port "$haproxy_multi_port" || { say "FAIL haproxy did not start"; cat "$work/haproxy.log"; exit 1; }

# --- the matrix -----------------------------------------------------------
say "echo-server on :$ours, python websockets server on :$py_port, node ws server on :$node_port," \
  "page server on :$page_port, nginx on :$nginx_port, haproxy on :$haproxy_port"
row "1  python websockets client, permessage-deflate -> echo-server" \
  "$venv/bin/python" "$dir/py_websockets_client.py" "ws://127.0.0.1:$ours/interop" deflate
row "2  python websocket-client   -> echo-server" \
  "$venv/bin/python" "$dir/py_websocket_client.py" "ws://127.0.0.1:$ours/interop"
row "3  node ws client, permessage-deflate -> echo-server" \
  node "$dir/node_ws_client.js" "ws://127.0.0.1:$ours/interop" deflate
row "4a chromium, test page, permessage-deflate -> echo-server" \
  node "$dir/browser.js" test-page \
  "http://127.0.0.1:$page_port/browser_page.html?ws=ws://127.0.0.1:$ours/interop&ext=permessage-deflate"
row "4b chromium, built-in page, permessage-deflate -> echo-server" \
  node "$dir/browser.js" builtin-page "http://127.0.0.1:$ours"
row "4c chromium, two pages in a room + HTTP publish -> echo-server" \
  node "$dir/browser.js" room "http://127.0.0.1:$ours"
row "4d chromium, /rfc6455.js: server killed and restarted on the same port -> reconnect, resume" \
  node "$dir/browser.js" reconnect "$root/target/release/echo-server"
row "4e chromium, /rfc6455.js: server stopped (SIGSTOP, half-open) -> heartbeat timeout, connect timeout" \
  node "$dir/browser.js" half-open "$root/target/release/echo-server"
row "4f node, /rfc6455.js logic with a fake socket (backoff, resume, queue, heartbeat, close from a listener, clock steps)" \
  node "$dir/rfc6455_module.js" "$root/src/server/rfc6455.js"
row "4g chromium, a page of another origin listed with --allow-origin publishes with fetch() (CORS, preflight) -> echo-server" \
  node "$dir/browser.js" cors "$root/target/release/echo-server" "http://127.0.0.1:$page_port"
row "4h chromium, /rfc6455.js: the browser back online -> reconnect at once, not after the 60 s delay" \
  node "$dir/browser.js" back-online "$root/target/release/echo-server"
row "5a our client, permessage-deflate -> python websockets server (compression on)" \
  "$client" "ws://127.0.0.1:$py_port/interop" deflate
row "5b our client, permessage-deflate -> node ws server (perMessageDeflate on)" \
  "$client" "ws://127.0.0.1:$node_port/interop" deflate
row "6a python websockets client, permessage-deflate -> nginx -> echo-server" \
  "$venv/bin/python" "$dir/py_websockets_client.py" "ws://127.0.0.1:$nginx_port/interop" deflate
row "6b our client  -> nginx -> echo-server" \
  "$client" "ws://127.0.0.1:$nginx_port/interop"
row "7  our client  -> haproxy (lowercase headers) -> echo-server" \
  "$client" "ws://127.0.0.1:$haproxy_port/interop"

row "8a python websockets client, permessage-deflate -> tokio-echo (tokio driver)" \
  "$venv/bin/python" "$dir/py_websockets_client.py" "ws://127.0.0.1:$tokio_port/interop" deflate
row "8b python websockets client  -> hyper 1 server, /ws upgraded to the tokio driver" \
  "$venv/bin/python" "$dir/py_websockets_client.py" "ws://127.0.0.1:$hyper_port/ws"
row "8c node ws client            -> axum router, /ws upgraded to the tokio driver" \
  node "$dir/node_ws_client.js" "ws://127.0.0.1:$axum_port/ws"
row "8d python websocket-client   -> axum router, /ws upgraded to the tokio driver" \
  "$venv/bin/python" "$dir/py_websocket_client.py" "ws://127.0.0.1:$axum_port/ws"
say "over TLS: echo-server on :$ours_tls, python websockets on :$py_tls_port, node ws on :$node_tls_port"
row "9a python websockets client, permessage-deflate -> echo-server, wss" \
  "$venv/bin/python" "$dir/py_websockets_client.py" "wss://localhost:$ours_tls/interop" "$pki/ca.pem" deflate
row "9b node ws client, permessage-deflate -> echo-server, wss" \
  node "$dir/node_ws_client.js" "wss://localhost:$ours_tls/interop" "$pki/ca.pem" deflate
row "9c chromium, test page, permessage-deflate -> echo-server, wss" \
  env INTEROP_HOME="$chromium_home" node "$dir/browser.js" test-page \
  "http://127.0.0.1:$page_port/browser_page.html?ws=wss://localhost:$ours_tls/interop&ext=permessage-deflate"
row "9d chromium, built-in page, permessage-deflate -> echo-server, https + wss" \
  env INTEROP_HOME="$chromium_home" node "$dir/browser.js" builtin-page "https://localhost:$ours_tls"
row "10a our client  -> python websockets server, wss" \
  "$client" "wss://localhost:$py_tls_port/interop" --cafile "$pki/ca.pem"
row "10b our client  -> node ws server, wss" \
  "$client" "wss://localhost:$node_tls_port/interop" --cafile "$pki/ca.pem"

row "11a chromium, a room on two instances (redis) -> haproxy round-robin" \
  node "$dir/browser.js" instances "http://127.0.0.1:$haproxy_multi_port" \
  "http://127.0.0.1:$inst_a" "http://127.0.0.1:$inst_b"
row "11b chromium, a room on two instances (redis) -> nginx round-robin" \
  node "$dir/browser.js" instances "http://127.0.0.1:$nginx_multi_port" \
  "http://127.0.0.1:$inst_a" "http://127.0.0.1:$inst_b"
row "11c redis-py publish (a Flask app) -> redis -> two instances -> python websockets clients" \
  "$venv/bin/python" "$dir/py_redis_publish.py" "redis://127.0.0.1:$redis_port/0" \
  "ws://127.0.0.1:$inst_a" "ws://127.0.0.1:$inst_b"

grep -q '"GET /interop HTTP/1.1" 101' "$work/nginx/access.log" ||
  { say "FAIL nginx's access log shows no 101 for /interop"; failed+=("nginx access log"); }
for p in "${pids[@]}"; do
  kill -0 "$p" 2>/dev/null || { say "FAIL a server (pid $p) died during the run"; failed+=("pid $p"); }
done

say "$(( rows - ${#failed[@]} )) passed, ${#failed[@]} failed"
say "interop matrix took $(( $(date +%s) - started )) s"
[ ${#failed[@]} -eq 0 ]
