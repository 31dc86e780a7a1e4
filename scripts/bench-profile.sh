#!/usr/bin/env bash
# Where a server's CPU goes at one point of the echo benchmark: runs the
# server pinned to core 0 and wsload pinned to core 1 as
# scripts/bench-echo.sh does, records the server with `perf record` inside
# the measured window, and writes the profile split by object (kernel,
# the binary, libc, ...) and by symbol.
#
# usage: scripts/bench-profile.sh [OPTIONS] -- CMD...
#   CMD gets `127.0.0.1:PORT` appended, e.g.
#   scripts/bench-profile.sh --point "100 1024 1" -- \
#       target/release/echo-server --threads 1 --log warn --listen
#   --point "C S D"  connections, message size, messages in flight
#                    [default "100 1024 1"]
#   --tcp            drive the server with `wsload tcp://` (a raw TCP echo)
#   --tls CAFILE     drive it with `wsload wss://localhost:PORT/`, verifying
#                    the server's certificate against CAFILE
#   --secs S         measured seconds [default 4]; perf records the middle
#   --warmup S       seconds of load before [default 1]
#   --freq HZ        sampling frequency [default 4999]
#   --callgraph      record call graphs too (-g; larger, slower to report)
#   --load-args ARGS more wsload flags, e.g. "--deflate --payload json"
#   --out DIR        where perf.data and the reports go [default: a new
#                    directory under target/bench-profile]
# Prints the wsload line, the split by object and the 25 hottest symbols.
# Run it through /work/bin/bench-exclusive when the figures matter.
set -euo pipefail
cd "$(dirname "$0")/.."

POINT="100 1024 1"
SCHEME=ws
CAFILE=
SECS=4
WARMUP=1
FREQ=4999
GRAPH=()
LOAD_ARGS=()
OUT=
while [ $# -gt 0 ]; do
    case $1 in
    --point) POINT=$2; shift ;;
    --tcp) SCHEME=tcp ;;
    --tls) SCHEME=wss CAFILE=$2; shift ;;
    --secs) SECS=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --freq) FREQ=$2; shift ;;
    --callgraph) GRAPH=(-g) ;;
    --load-args) read -r -a LOAD_ARGS <<<"$2"; shift ;;
    --out) OUT=$2; shift ;;
    --) shift; break ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-profile: unknown argument $1 (the server command goes after --)" >&2; exit 2 ;;
    esac
    shift
done
[ $# -gt 0 ] || { echo "bench-profile: no server command (after --)" >&2; exit 2; }
read -r conns size depth <<<"$POINT"
OUT=${OUT:-target/bench-profile/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
declare -A LIVE=()
cleanup() {
    for p in "${!LIVE[@]}"; do
        kill "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

taskset -c 0 "$@" "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
server=$!
LIVE[$server]=1
for _ in $(seq 200); do
    ss -Hltn "sport = :$PORT" | grep -q . && break
    kill -0 "$server" 2>/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
    sleep 0.05
done
TLS=()
case $SCHEME in
tcp) url="tcp://127.0.0.1:$PORT" ;;
wss) url="wss://localhost:$PORT/" TLS=(--cafile "$CAFILE") ;;
*) url="ws://127.0.0.1:$PORT/" ;;
esac
taskset -c 1 timeout -k 5 "$(awk -v s="$SECS" -v w="$WARMUP" 'BEGIN { print int(s + w + 60) }')" \
    target/release/wsload "$url" "${TLS[@]}" "${LOAD_ARGS[@]}" --conns "$conns" --size "$size" --pipeline "$depth" \
    --secs "$SECS" --warmup "$WARMUP" --server-pid "$server" >"$OUT/wsload.out" 2>"$OUT/wsload.err" &
load=$!
LIVE[$load]=1
for _ in $(seq 1500); do
    grep -q ' up in ' "$OUT/wsload.err" 2>/dev/null && break
    kill -0 "$load" 2>/dev/null || break
    sleep 0.02
done
sleep "$(awk -v w="$WARMUP" 'BEGIN { print w + 0.5 }')"
perf record -q -F "$FREQ" "${GRAPH[@]}" -p "$server" -o "$OUT/perf.data" \
    -- sleep "$(awk -v s="$SECS" 'BEGIN { print (s > 1.5 ? s - 1 : s / 2) }')" >/dev/null 2>&1
wait "$load" || echo "bench-profile: wsload failed: $(head -3 "$OUT/wsload.err")" >&2
unset "LIVE[$load]"
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
unset "LIVE[$server]"

perf report -i "$OUT/perf.data" --no-children --sort dso --stdio 2>/dev/null |
    grep -v '^#' | grep -v '^$' >"$OUT/dso.txt" || true
perf report -i "$OUT/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null |
    grep -v '^#' | grep -v '^$' >"$OUT/sym.txt" || true
cat "$OUT/wsload.out"
echo "-- by object ($OUT/dso.txt)"
head -8 "$OUT/dso.txt"
echo "-- hottest symbols ($OUT/sym.txt)"
head -25 "$OUT/sym.txt"
