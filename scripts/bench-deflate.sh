#!/usr/bin/env bash
# permessage-deflate echo benchmark (issue 14): our echo-server (deflate on
# by default) against Bun (perMessageDeflate: true), Node's ws
# (perMessageDeflate: true) and python-websockets (default compression),
# loaded by `wsload --deflate --payload json`: JSON-like text records, the
# same bytes for every server, the extension offered without context
# takeover (so every server compresses each message on its own).
#
# Same pinning as scripts/bench-echo.sh: server on core 0 (ours with one
# worker thread; Bun, Node and Python run their JavaScript/Python on one
# thread, every helper thread pinned to core 0 too and counted), wsload on
# core 1, 127.0.0.1, a free port found at run time, a fresh server process
# per run stopped by its PID. The servers run interleaved, in a rotating
# order, --reps rounds per point.
#
# Per run, from wsload --server-pid: the server's CPU per echoed message
# (/proc/PID/task/*/schedstat over the window). Bytes on the wire, from
# wsload: wire_in_per_msg, the bytes it read from its sockets in the window
# per echo (the server's frames with their headers, no TCP/IP headers);
# over the payload size, the server's compression ratio. Cross-check: `ss -ti`
# on the server's established sockets, bytes_acked (what the server sent)
# and bytes_received (what wsload sent), each summed over the connections
# (TCP payload: WebSocket frames with their headers, without TCP/IP
# headers), sampled at two points inside the measured window and divided
# by the messages echoed between them (wsload's rate times the time
# between the samples), approximate to a few percent. What wsload sends (our compressor,
# level 1, the same for every server) is kept as a check.
#
# Servers: ours at its defaults (level 1 under 4 KiB, level 4 from 4 KiB),
# ours-l1 at --deflate-level 1 for every size, and ours-l6 at
# --deflate-level 6 (zlib's default level, which Node's ws and
# python-websockets use), so each peer has an equal-settings match. The machine's busy time in the same span (/proc/stat) less the
# server and wsload is recorded, as bench-echo.sh does.
#
# Before and after each run, core-rtt (benches/peers, as in bench-echo.sh)
# measures the round trip of a cache line between cores 0 and 1
# (core_rtt_before_ns, core_rtt_after_ns): this machine's two cores are
# sometimes close and sometimes far, which moves every server's CPU per
# message, so runs can be compared like with like. "-" when core-rtt is
# not built.
#
# Also defined, for a level sweep with --servers: ours-l2 to ours-l5
# (--deflate-level 2 to 5).
#
# usage: scripts/bench-deflate.sh [--quick] [--reps N] [--secs S]
#          [--points "conns size depth,..."] [--servers "a b ..."]
#          [--server NAME=COMMAND] [--out DIR] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=3
SECS=3
WARMUP=1
OUT=benches/results
BUILD=1
PICK=()
CUSTOM=()
POINTS=("100 1024 1" "100 16384 1" "100 1024 16" "100 16384 16")
while [ $# -gt 0 ]; do
    case $1 in
    --quick) REPS=1 SECS=1 WARMUP=0.5 OUT=target/bench-quick ;;
    --reps) REPS=$2; shift ;;
    --secs) SECS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --no-build) BUILD=0 ;;
    --points) IFS=, read -r -a POINTS <<<"$2"; shift ;;
    --servers) read -r -a PICK <<<"$2"; shift ;;
    --server) CUSTOM+=("$2"); shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-deflate: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

JS=benches/peers/js
VENV=target/py-websockets
WSLOAD=target/release/wsload
CORE_RTT=benches/peers/target/release/core-rtt
declare -A CMD=(
    [ours]="target/release/echo-server --threads 1 --log warn --max-connections 20000 --listen"
    [ours-l6]="target/release/echo-server --threads 1 --log warn --max-connections 20000 --deflate-level 6 --listen"
    [bun]="$JS/node_modules/@oven/bun-linux-x64/bin/bun $JS/bun-echo-deflate.js --listen"
    [node-ws]="node $JS/node-ws-echo-deflate.js --listen"
    [py-websockets]="$VENV/bin/python $JS/py-websockets-echo.py --listen"
)
for level in 1 2 3 4 5; do
    CMD[ours-l$level]="target/release/echo-server --threads 1 --log warn --max-connections 20000 --deflate-level $level --listen"
done
SERVERS=(ours ours-l1 ours-l6 bun node-ws py-websockets)
# --server NAME=COMMAND: another build of ours (COMMAND ends where
# --listen ADDR follows), for a before/after comparison in the same run.
for spec in "${CUSTOM[@]}"; do
    CMD[${spec%%=*}]=${spec#*=}
    SERVERS+=("${spec%%=*}")
done
if [ ${#PICK[@]} -gt 0 ]; then
    for name in "${PICK[@]}"; do
        [ -n "${CMD[$name]:-}" ] || { echo "bench-deflate: no server $name" >&2; exit 2; }
    done
    SERVERS=("${PICK[@]}")
fi

if [ "$BUILD" = 1 ]; then
    echo "== building, npm ci, venv" >&2
    cargo build --release --bins --quiet
    (cd benches/peers && cargo build --release --bin core-rtt --quiet)
    (cd "$JS" && npm ci --no-audit --no-fund --loglevel=error >&2)
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q websockets >&2
fi

mkdir -p "$OUT"
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/bench-deflate.XXXXXX")
RUNS=$OUT/deflate-runs.tsv
declare -A LIVE=()
cleanup() {
    for p in "${!LIVE[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$LOGS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# field and rtt.
# shellcheck source=scripts/core-state.sh
. scripts/core-state.sh
busy_ticks() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat
}
busy_cores() {
    awk -v a="$1" -v b="$2" -v n="$(nproc)" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        if (y[2] > x[2]) printf "%.2f", (y[1] - x[1]) / (y[2] - x[2]) * n; else print "-" }'
}
# wire_bytes PORT: "SENT RECEIVED", bytes_acked and bytes_received summed
# over the server's established sockets on PORT.
wire_bytes() {
    ss -Htin state established "sport = :$1" |
        awk '{ for (i = 1; i <= NF; i++) {
                if ($i ~ /^bytes_acked:/) { split($i, a, ":"); tx += a[2] }
                if ($i ~ /^bytes_received:/) { split($i, a, ":"); rx += a[2] } } }
             END { printf "%.0f %.0f\n", tx, rx }'
}

{
    printf 'date\t%s\ncpu\t%s\nkernel\t%s\nnode\t%s\nbun\t%s\nws\t%s\nwebsockets\t%s\n' \
        "$(date -u +%Y-%m-%dT%H:%MZ)" "$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)" \
        "$(uname -sr)" "$(node --version)" "$("$JS/node_modules/@oven/bun-linux-x64/bin/bun" --version)" \
        "$(node -p 'require("./'"$JS"'/node_modules/ws/package.json").version')" \
        "$("$VENV/bin/python" -c 'import websockets; print(websockets.__version__)')"
} >"$OUT/deflate-machine.tsv"
printf 'server\tconns\tsize\tpipeline\tround\trate\tp50_us\tp99_us\twsload_cpu\tmachine_busy\tserver_cpu\tserver_ns_per_msg\twire_in_per_msg\tratio\tss_server_sent_per_msg\tss_wsload_sent_per_msg\terrors\tcore_rtt_before_ns\tcore_rtt_after_ns\n' >"$RUNS"

run_one() {
    local name=$1 conns=$2 size=$3 depth=$4 round=$5
    local port pid wpid line status b0 b1 t0 t1 busy0 busy tx rx wire ratio rtt0 rtt1
    rtt0=$(rtt)
    port=$(free_port)
    # shellcheck disable=SC2086 # CMD holds a command line
    taskset -c 0 ${CMD[$name]} "127.0.0.1:$port" >"$LOGS/$name.log" 2>&1 &
    pid=$!
    LIVE[$pid]=1
    for _ in $(seq 200); do
        ss -Hltn "sport = :$port" | grep -q . && break
        sleep 0.05
    done
    taskset -c 1 timeout -k 5 "$((SECS + 70))" "$WSLOAD" "ws://127.0.0.1:$port/" \
        --deflate --payload json --conns "$conns" --size "$size" --pipeline "$depth" \
        --secs "$SECS" --warmup "$WARMUP" --server-pid "$pid" \
        >"$LOGS/wsload.out" 2>"$LOGS/wsload.err" &
    wpid=$!
    LIVE[$wpid]=1
    for _ in $(seq 1500); do
        grep -q ' up in ' "$LOGS/wsload.err" 2>/dev/null && break
        kill -0 "$wpid" 2>/dev/null || break
        sleep 0.02
    done
    sleep "$(awk -v w="$WARMUP" 'BEGIN { print w + 0.2 }')"
    busy0=$(busy_ticks)
    t0=$(date +%s.%N)
    b0=$(wire_bytes "$port")
    sleep "$(awk -v s="$SECS" 'BEGIN { print s - 0.4 }')"
    b1=$(wire_bytes "$port")
    t1=$(date +%s.%N)
    busy=$(busy_cores "$busy0" "$(busy_ticks)")
    status=0
    wait "$wpid" || status=$?
    unset "LIVE[$wpid]"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "LIVE[$pid]"
    rtt1=$(rtt)
    line=$(cat "$LOGS/wsload.out")
    if [ "$status" != 0 ] || [ -z "$line" ]; then
        echo "bench-deflate: wsload against $name failed (status $status):" >&2
        head -5 "$LOGS/wsload.err" >&2
        head -5 "$LOGS/$name.log" >&2
    fi
    per_msg() {
        awk -v a="$1" -v b="$2" -v r="$(field "$line" rate)" -v t0="$t0" -v t1="$t1" \
            'BEGIN { if (r > 0 && t1 > t0) printf "%.0f", (b - a) / (r * (t1 - t0)); else print "-" }'
    }
    tx=$(per_msg "${b0% *}" "${b1% *}")
    rx=$(per_msg "${b0#* }" "${b1#* }")
    wire=$(field "$line" wire_in_per_msg)
    ratio=$(awk -v w="${wire:--}" -v s="$size" 'BEGIN { if (w != "-") printf "%.3f", w / s; else print "-" }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$name" "$conns" "$size" "$depth" "$round" "$(field "$line" rate)" \
        "$(field "$line" p50_us)" "$(field "$line" p99_us)" "$(field "$line" cpu)" "$busy" \
        "$(field "$line" server_cpu)" "$(field "$line" server_ns_per_msg)" "$wire" "$ratio" "$tx" "$rx" \
        "$(field "$line" errors)" "$rtt0" "$rtt1" >>"$RUNS"
    printf 'r%s %-14s %4s x %-5s d%-2s rate=%-7s ns/msg=%-7s wire_in=%-6s ss_sent=%-6s ss_recv=%-6s ratio=%-6s wsload_cpu=%s busy=%s core_rtt=%s/%s\n' \
        "$round" "$name" "$conns" "$size" "$depth" "$(field "$line" rate)" \
        "$(field "$line" server_ns_per_msg)" "$wire" "$tx" "$rx" "$ratio" "$(field "$line" cpu)" "$busy" "$rtt0" "$rtt1" >&2
}

for point in "${POINTS[@]}"; do
    read -r conns size depth <<<"$point"
    for round in $(seq "$REPS"); do
        for i in "${!SERVERS[@]}"; do
            name=${SERVERS[$(((i + round - 1) % ${#SERVERS[@]}))]}
            run_one "$name" "$conns" "$size" "$depth" "$round"
        done
    done
done
python3 scripts/bench_deflate_report.py "$OUT"
