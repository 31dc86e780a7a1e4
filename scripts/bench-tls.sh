#!/usr/bin/env bash
# TLS benchmark: echo over wss:// and over ws:// for three servers, ours
# (with rustls' aws-lc-rs provider, the default, and over TLS also with its
# ring one),
# Bun (uWebSockets with BoringSSL) and fastwebsockets on tokio-rustls, then
# handshakes per second and memory per idle TLS connection; the report
# (benches/results/tls.md) from scripts/bench_tls_report.py.
#
# Every server runs pinned to core 0 with one thread (ours: --threads 1;
# fastwebsockets: tokio current-thread; Bun: its one JavaScript thread),
# wsload pinned to core 1, over 127.0.0.1, verifying the server's
# certificate against a CA made for the run (--cafile). Runs are
# interleaved: for each point and repetition every server runs once, plain
# and TLS, in a rotating order, each run with a fresh server process.
#
# The VM's two vCPUs are sometimes hyperthreads of one physical core,
# sometimes near each other and sometimes far, and every server's CPU per
# message moves with that. As in scripts/bench-echo.sh, core-rtt measures
# the core-to-core round trip before and after each run, and the run
# is "core" (both at or under --rtt-core ns), "near" (both above it and at
# or under --rtt-split ns), "far" (both above --rtt-split) or "mixed"; the
# report compares, per point, medians taken in one state only (the one in
# which the server with the fewest runs has the most) and says how many
# runs each rests on. Without core-rtt built every run is "mixed" and the
# report falls back to all runs.
#
# usage: scripts/bench-tls.sh [--reps N] [--secs S] [--warmup S]
#                             [--idle-conns N] [--out DIR] [--no-build] [--quick]
#                             [--points "C S D,..."] [--rtt-core NS] [--rtt-split NS]
#   --quick       smoke run: 1 repetition, 1 s per run, 500 idle connections,
#                 results in target/bench-tls-quick (not committed)
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
SECS=${SECS:-3}
WARMUP=${WARMUP:-1}
IDLE_CONNS=${IDLE_CONNS:-5000}
IDLE_HOLD=${IDLE_HOLD:-5}
OUT=${OUT:-benches/results}
BUILD=1
RTT_SPLIT=${RTT_SPLIT:-250}
RTT_CORE=${RTT_CORE:-90}
# conns size pipeline
POINTS=("100 1024 1" "100 16384 1" "100 1024 16" "100 16384 16")
while [ $# -gt 0 ]; do
    case $1 in
    --quick) REPS=1 SECS=1 WARMUP=0.3 IDLE_CONNS=500 IDLE_HOLD=2.5 OUT=target/bench-tls-quick ;;
    --reps) REPS=$2; shift ;;
    --secs) SECS=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --idle-conns) IDLE_CONNS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --no-build) BUILD=0 ;;
    --points) IFS=, read -r -a POINTS <<<"$2"; shift ;;
    --rtt-core) RTT_CORE=$2; shift ;;
    --rtt-split) RTT_SPLIT=$2; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-tls: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$BUILD" = 1 ]; then
    echo "== building" >&2
    cargo build --release --quiet --bin echo-server --bin wsload --example test-certs
    cargo build --release --quiet --no-default-features --features server,cli,deflate,tls \
        --target-dir target/ring --bin echo-server
    (cd benches/peers && cargo build --release --quiet --bin fastwebsockets-echo --bin fastwebsockets-tls-echo --bin core-rtt)
    (cd benches/peers/js && npm ci --silent --no-audit --no-fund)
fi

WSLOAD=target/release/wsload
PEERS=benches/peers/target/release
BUN=benches/peers/js/node_modules/@oven/bun-linux-x64/bin/bun
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/bench-tls.XXXXXX")
PKI=$LOGS/pki
target/release/examples/test-certs "$PKI" >/dev/null
TLS_FILES="--tls-cert $PKI/cert.pem --tls-key $PKI/key.pem"

# name -> command (the listen address is appended); plain and TLS twins.
declare -A CMD=(
    [ours]="target/release/echo-server --threads 1 --log warn --max-connections 20000 --listen"
    [ours-tls]="target/release/echo-server --threads 1 --log warn --max-connections 20000 $TLS_FILES --listen"
    [ours-ring-tls]="target/ring/release/echo-server --threads 1 --log warn --max-connections 20000 $TLS_FILES --listen"
    [bun]="$BUN benches/peers/js/bun-echo.js --listen"
    [bun-tls]="$BUN benches/peers/js/bun-echo-tls.js $TLS_FILES --listen"
    [fastwebsockets]="$PEERS/fastwebsockets-echo --listen"
    [fastwebsockets-tls]="$PEERS/fastwebsockets-tls-echo $TLS_FILES --listen"
)
# ours-ring differs from ours only over TLS: it has no plain twin.
SERVERS=(ours ours-tls ours-ring-tls bun bun-tls fastwebsockets fastwebsockets-tls)
CORE_RTT=$PEERS/core-rtt
# Handshakes in flight for the handshake rate.
CHURN_CONNS=16

need=$((IDLE_CONNS + 256))
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$need" ]; then
    ulimit -Sn "$need" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
fi

declare -A LIVE=()
cleanup() {
    for p in "${!LIVE[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    rm -rf "$LOGS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME: sets SERVER_PID and PORT once the port accepts.
start_server() {
    local name=$1
    PORT=$(free_port)
    # shellcheck disable=SC2086 # CMD holds a command line
    taskset -c 0 ${CMD[$name]} "127.0.0.1:$PORT" >"$LOGS/$name.log" 2>&1 &
    SERVER_PID=$!
    LIVE[$SERVER_PID]=1
    for _ in $(seq 200); do
        if ss -Hltn "sport = :$PORT" | grep -q .; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench-tls: $name did not start listening on $PORT:" >&2
    cat "$LOGS/$name.log" >&2
    exit 1
}

stop_server() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    unset "LIVE[$1]"
}

url() {
    case $1 in
    *-tls) echo "wss://localhost:$PORT/" ;;
    *) echo "ws://127.0.0.1:$PORT/" ;;
    esac
}

# field, rtt and state.
# shellcheck source=scripts/core-state.sh
. scripts/core-state.sh

status_kib() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# run_wsload NAME ARGS...: one wsload run against a fresh server; prints
# its result line (without wsload's fields on failure), with the core
# round trips before and after it.
run_wsload() {
    local name=$1
    shift
    start_server "$name"
    local pid=$SERVER_PID status=0
    local before after
    before=$(rtt)
    taskset -c 1 timeout -k 5 "$(awk -v s="$SECS" -v w="$WARMUP" 'BEGIN { print int(s + w + 60) }')" \
        "$WSLOAD" "$(url "$name")" --cafile "$PKI/ca.pem" --secs "$SECS" --warmup "$WARMUP" \
        --server-pid "$pid" "$@" >"$LOGS/wsload.out" 2>"$LOGS/wsload.err" || status=$?
    after=$(rtt)
    stop_server "$pid"
    if [ "$status" != 0 ]; then
        echo "bench-tls: wsload against $name failed (status $status):" >&2
        head -5 "$LOGS/wsload.err" >&2
    fi
    echo "$(cat "$LOGS/wsload.out") core_rtt_before=$before core_rtt_after=$after"
}

mkdir -p "$OUT"
RUNS=$OUT/tls-runs.tsv
model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
printf 'cpu\t%s\ncores\t%s\nkernel\t%s\nrustc\t%s\nbun\t%s\ndate\t%s\nreps\t%s\nsecs\t%s\nwarmup\t%s\n' \
    "$model" "$(nproc)" "$(uname -sr)" "$(rustc --version)" "$("$BUN" --version)" \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$REPS" "$SECS" "$WARMUP" >"$OUT/tls-machine.tsv"
printf 'rtt_core\t%s\nrtt_split\t%s\n' "$RTT_CORE" "$RTT_SPLIT" >>"$OUT/tls-machine.tsv"
printf 'server\tkind\tconns\tsize\tpipeline\trep\trate\tp50_us\tp99_us\tcpu\tserver_cpu\tserver_ns_per_msg\terrors\tcore_rtt_before_ns\tcore_rtt_after_ns\tstate\n' >"$RUNS"

record() { # server kind conns size pipeline rep line
    local line=$7 st before after
    before=$(field "$line" core_rtt_before)
    after=$(field "$line" core_rtt_after)
    st=$(state "$before" "$after")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" \
        "$(field "$line" rate)" "$(field "$line" p50_us)" "$(field "$line" p99_us)" \
        "$(field "$line" cpu)" "$(field "$line" server_cpu)" "$(field "$line" server_ns_per_msg)" \
        "$(field "$line" errors)" "$before" "$after" "$st" >>"$RUNS"
    printf '%-19s %-10s %4s x %-5s d%-2s rate=%-8s ns=%-7s cpu=%s rtt=%s/%s %s\n' "$1" "$2" "$3" "$4" "$5" \
        "$(field "$line" rate)" "$(field "$line" server_ns_per_msg)" "$(field "$line" cpu)" \
        "$before" "$after" "$st" >&2
}

for rep in $(seq "$REPS"); do
    for point in "${POINTS[@]}"; do
        read -r conns size depth <<<"$point"
        for i in "${!SERVERS[@]}"; do
            name=${SERVERS[$(((i + rep - 1) % ${#SERVERS[@]}))]}
            line=$(run_wsload "$name" --conns "$conns" --size "$size" --pipeline "$depth")
            record "$name" echo "$conns" "$size" "$depth" "$rep" "$line"
        done
    done
    for i in "${!SERVERS[@]}"; do
        name=${SERVERS[$(((i + rep - 1) % ${#SERVERS[@]}))]}
        line=$(run_wsload "$name" --churn --conns "$CHURN_CONNS")
        record "$name" handshakes "$CHURN_CONNS" 0 0 "$rep" "$line"
    done
done

# Memory per idle TLS connection: N connections held without traffic.
IDLE=$OUT/tls-idle-memory.tsv
printf 'server\tconns\trss_before_kib\trss_after_kib\tbytes_per_conn\n' >"$IDLE"
for name in "${SERVERS[@]}"; do
    start_server "$name"
    pid=$SERVER_PID
    sleep 0.5
    fds0=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    before=$(status_kib "$pid" VmRSS)
    taskset -c 1 timeout -k 5 300 "$WSLOAD" "$(url "$name")" --cafile "$PKI/ca.pem" --idle \
        --conns "$IDLE_CONNS" --secs 200 >"$LOGS/wsload.out" 2>"$LOGS/wsload.err" &
    wpid=$!
    LIVE[$wpid]=1
    for _ in $(seq 1200); do
        fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
        [ "$((fds - fds0))" -ge "$IDLE_CONNS" ] && break
        kill -0 "$wpid" 2>/dev/null || break
        sleep 0.1
    done
    sleep "$IDLE_HOLD"
    after=$(status_kib "$pid" VmRSS)
    kill "$wpid" 2>/dev/null || true
    wait "$wpid" 2>/dev/null || true
    unset "LIVE[$wpid]"
    stop_server "$pid"
    per=$(awk -v a="$after" -v b="$before" -v n="$IDLE_CONNS" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$IDLE_CONNS" "$before" "$after" "$per" >>"$IDLE"
    printf 'idle %-19s %s conns: %s -> %s KiB, %s B per connection\n' "$name" "$IDLE_CONNS" \
        "$before" "$after" "$per" >&2
done

python3 scripts/bench_tls_report.py "$OUT"
echo "== report: $OUT/tls.md" >&2
