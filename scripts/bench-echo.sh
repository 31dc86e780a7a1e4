#!/usr/bin/env bash
# End-to-end echo benchmark: our echo-server against the fastwebsockets and
# tokio-tungstenite echo servers of benches/peers, measured with wsload in
# one run, then the report (Markdown table and SVG chart) from
# scripts/bench_report.py.
#
# Every server runs pinned to core 0 with one thread (ours: --threads 1;
# the peers: tokio current-thread), wsload pinned to core 1, over 127.0.0.1.
# For each point of the matrix the servers are interleaved and each run gets
# a fresh server process, killed by its PID afterwards. Then each server
# holds N idle handshaken connections, for its resident memory per
# connection.
#
# usage: scripts/bench-echo.sh [--quick] [--reps N] [--secs S] [--warmup S]
#                              [--idle-conns N] [--out DIR] [--no-build]
#   --quick       smoke run: 1 repetition, 1 s per run, 2,000 idle
#                 connections, results in target/bench-quick (not committed)
#   --reps N      runs of every (point, server) [default 3, env REPS]
#   --secs S      measured seconds per run [default 5, env SECS]
#   --warmup S    seconds of load before measuring [default 1, env WARMUP]
#   --idle-conns N  idle connections for the memory figure [default 10000]
#   --out DIR     where the raw runs and the report go [default benches/results]
#   --rt          run the server and wsload under `chrt -f 10` (env RT=1):
#                 when other work competes for the cores, a woken process
#                 would otherwise wait for a scheduler tick; the kernel's RT
#                 throttling then caps each at 95 % of its core
#   --no-build    use the binaries already built
#   --server NAME=CMD  compare these servers instead of the standard three
#                 (repeatable; CMD gets the listen address appended): an A/B
#                 of two builds, for instance. The report is then a plain
#                 table of medians, with ratios over the first server.
#   --points LIST  measure only these points, "conns size pipeline" each,
#                 separated by commas: --points "100 20 1,500 16384 1"
#   --no-idle     skip the idle-memory measurement
#   --path P      the WebSocket path to load [default /]: /ws for the
#                 hyper and axum upgrade examples
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
IDLE_CONNS=${IDLE_CONNS:-10000}
IDLE_HOLD=${IDLE_HOLD:-5} # seconds held after the last handshake (ours sweeps every 2 s)
OUT=${OUT:-benches/results}
URL_PATH=/
BUILD=1
RT=${RT:-0}
CUSTOM=()
POINTS_ARG=()
while [ $# -gt 0 ]; do
    case $1 in
    --quick) REPS=1 SECS=1 WARMUP=0.3 IDLE_CONNS=2000 IDLE_HOLD=2.5 OUT=target/bench-quick ;;
    --reps) REPS=$2; shift ;;
    --secs) SECS=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --idle-conns) IDLE_CONNS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --no-build) BUILD=0 ;;
    --rt) RT=1 ;;
    --server) CUSTOM+=("$2"); shift ;;
    --points) IFS=, read -r -a POINTS_ARG <<<"$2"; shift ;;
    --no-idle) IDLE_CONNS=0 ;;
    --path) URL_PATH=$2; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-echo: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

WSLOAD=target/release/wsload
SCHED=()
[ "$RT" = 1 ] && SCHED=(chrt -f 10)
PEERS=benches/peers/target/release
declare -A CMD=(
    [ours]="target/release/echo-server --threads 1 --log warn --max-connections 20000 --listen"
    [fastwebsockets]="$PEERS/fastwebsockets-echo --listen"
    [tokio-tungstenite]="$PEERS/tokio-tungstenite-echo --listen"
)
SERVERS=(ours fastwebsockets tokio-tungstenite)
declare -A PORT=([ours]=9301 [fastwebsockets]=9302 [tokio-tungstenite]=9303)
if [ ${#CUSTOM[@]} -gt 0 ]; then
    SERVERS=()
    for spec in "${CUSTOM[@]}"; do
        name=${spec%%=*}
        CMD[$name]=${spec#*=}
        PORT[$name]=$((9310 + ${#SERVERS[@]}))
        SERVERS+=("$name")
    done
fi
# conns size pipeline
# With one message in flight wsload saturates its core before any server
# does, so every point where that happens is also run with 16 in flight.
POINTS=(
    "1 20 1" "100 20 1" "100 1024 1" "100 16384 1" "500 1024 1" "500 16384 1"
    "100 20 16" "100 1024 16" "100 16384 16" "500 1024 16" "500 16384 16"
)
[ ${#POINTS_ARG[@]} -gt 0 ] && POINTS=("${POINTS_ARG[@]}")

if [ "$BUILD" = 1 ]; then
    echo "== building release binaries" >&2
    cargo build --release --bins --quiet
    (cd benches/peers && cargo build --release --bins --quiet)
fi

# Each side holds one descriptor per connection, plus a few.
need=$((IDLE_CONNS + 256))
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$need" ]; then
    ulimit -Sn "$need" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
fi
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$need" ]; then
    echo "bench-echo: open-file limit $(ulimit -Sn) is below $need; lowering --idle-conns" >&2
    IDLE_CONNS=$(($(ulimit -Sn) - 256))
fi

mkdir -p "$OUT"
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/bench-echo.XXXXXX")
RUNS=$OUT/echo-runs.tsv
IDLE=$OUT/idle-memory.tsv

# Every process started here is recorded and killed by its PID on exit.
# A PID leaves the set once it has been waited for, so a reused PID is never hit.
declare -A LIVE=()
cleanup() {
    for p in "${!LIVE[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    rm -rf "$LOGS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME LOGFILE: sets SERVER_PID once the port accepts.
start_server() {
    local name=$1 port=${PORT[$1]}
    # shellcheck disable=SC2086 # CMD holds a command line
    taskset -c 0 "${SCHED[@]}" ${CMD[$name]} "127.0.0.1:$port" >"$2" 2>&1 &
    SERVER_PID=$!
    LIVE[$SERVER_PID]=1
    for _ in $(seq 100); do
        if ss -Hltn "sport = :$port" | grep -q .; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench-echo: $name did not start listening on $port:" >&2
    cat "$2" >&2
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

# status_kib PID FIELD: VmRSS or VmHWM of the process, in KiB.
status_kib() {
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# field LINE NAME: the value of NAME= in a wsload line.
field() {
    tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

machine() {
    local model
    model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    printf 'cpu\t%s\ncores\t%s\nkernel\t%s\nrustc\t%s\ndate\t%s\nreps\t%s\nsecs\t%s\nwarmup\t%s\n' \
        "$model" "$(nproc)" "$(uname -sr)" "$(rustc --version)" "$(date -u +%Y-%m-%dT%H:%MZ)" \
        "$REPS" "$SECS" "$WARMUP"
    [ "$RT" = 1 ] && printf 'sched\tSCHED_FIFO priority 10 (chrt -f 10), each process capped at 95 %% of its core\n'
    if pgrep -f 'fuzz/target' >/dev/null; then
        printf 'note\tother jobs (fuzzers) were running during the measurement\n'
    fi
}
machine >"$OUT/machine.tsv"

printf 'server\tconns\tsize\tpipeline\trep\trate\tp50_us\tp99_us\tcpu\tserver_cpu\tserver_ns_per_msg\trss_kib\thwm_kib\terrors\n' >"$RUNS"
total=$((${#POINTS[@]} * REPS * ${#SERVERS[@]}))
n=0
for point in "${POINTS[@]}"; do
    read -r conns size depth <<<"$point"
    for rep in $(seq "$REPS"); do
        # Rotate the order each repetition so no server always runs first.
        for i in "${!SERVERS[@]}"; do
            name=${SERVERS[$(((i + rep - 1) % ${#SERVERS[@]}))]}
            n=$((n + 1))
            start_server "$name" "$LOGS/$name.log"
            pid=$SERVER_PID
            taskset -c 1 "${SCHED[@]}" timeout -k 5 "$(awk -v s="$SECS" -v w="$WARMUP" 'BEGIN { print int(s + w + 60) }')" \
                "$WSLOAD" "ws://127.0.0.1:${PORT[$name]}$URL_PATH" --conns "$conns" --size "$size" \
                --pipeline "$depth" --secs "$SECS" --warmup "$WARMUP" --server-pid "$pid" \
                >"$LOGS/wsload.out" 2>"$LOGS/wsload.err" &
            wpid=$!
            LIVE[$wpid]=1
            # Resident memory mid-window (connection set-up is well under 1 s).
            sleep "$(awk -v s="$SECS" -v w="$WARMUP" 'BEGIN { print w + s / 2 + 0.5 }')"
            rss=$(status_kib "$pid" VmRSS)
            status=0
            wait "$wpid" || status=$?
            unset "LIVE[$wpid]"
            hwm=$(status_kib "$pid" VmHWM)
            stop_server "$pid"
            line=$(cat "$LOGS/wsload.out")
            if [ "$status" != 0 ] || [ -z "$line" ]; then
                echo "bench-echo: wsload against $name failed (status $status):" >&2
                head -5 "$LOGS/wsload.err" >&2
                errors=$(field "$line" errors)
                errors=${errors:-all}
            else
                errors=$(field "$line" errors)
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
                "$name" "$conns" "$size" "$depth" "$rep" \
                "$(field "$line" rate)" "$(field "$line" p50_us)" "$(field "$line" p99_us)" \
                "$(field "$line" cpu)" "$(field "$line" server_cpu)" \
                "$(field "$line" server_ns_per_msg)" "$rss" "$hwm" "$errors" >>"$RUNS"
            printf '[%d/%d] %-17s %4s x %-5s d%-2s rate=%-8s ns/msg=%-7s cpu=%s\n' "$n" "$total" \
                "$name" "$conns" "$size" "$depth" "$(field "$line" rate)" \
                "$(field "$line" server_ns_per_msg)" "$(field "$line" cpu)" >&2
        done
    done
done

# Idle memory: N handshaken connections held without traffic.
printf 'server\tconns\trss_before_kib\trss_after_kib\tbytes_per_conn\terrors\n' >"$IDLE"
[ "$IDLE_CONNS" -gt 0 ] || SERVERS=()
for name in "${SERVERS[@]}"; do
    start_server "$name" "$LOGS/$name.log"
    pid=$SERVER_PID
    sleep 0.5
    fds0=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    before=$(status_kib "$pid" VmRSS)
    hold=$(awk -v h="$IDLE_HOLD" 'BEGIN { print h + 60 }')
    taskset -c 1 "${SCHED[@]}" timeout -k 5 "$(awk -v h="$hold" 'BEGIN { print int(h + 60) }')" \
        "$WSLOAD" "ws://127.0.0.1:${PORT[$name]}$URL_PATH" --idle --conns "$IDLE_CONNS" --secs "$hold" \
        >"$LOGS/wsload.out" 2>"$LOGS/wsload.err" &
    wpid=$!
    LIVE[$wpid]=1
    # Wait for every connection to reach the server, then past a sweep.
    up=0
    for _ in $(seq 600); do
        fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
        if [ "$((fds - fds0))" -ge "$IDLE_CONNS" ]; then
            up=1
            break
        fi
        kill -0 "$wpid" 2>/dev/null || break
        sleep 0.1
    done
    sleep "$IDLE_HOLD"
    after=$(status_kib "$pid" VmRSS)
    errors=0
    if [ "$up" != 1 ]; then
        echo "bench-echo: $name held only $((fds - fds0)) of $IDLE_CONNS connections" >&2
        head -5 "$LOGS/wsload.err" >&2
        errors=$((IDLE_CONNS - (fds - fds0)))
    fi
    kill "$wpid" 2>/dev/null || true
    wait "$wpid" 2>/dev/null || true
    unset "LIVE[$wpid]"
    stop_server "$pid"
    per=$(awk -v a="$after" -v b="$before" -v n="$IDLE_CONNS" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$IDLE_CONNS" "$before" "$after" "$per" "$errors" >>"$IDLE"
    printf 'idle %-17s %s conns: %s -> %s KiB, %s B per connection\n' "$name" "$IDLE_CONNS" \
        "$before" "$after" "$per" >&2
done

python3 scripts/bench_report.py "$OUT"
echo "== report: $OUT/echo.md, $OUT/echo.svg" >&2
