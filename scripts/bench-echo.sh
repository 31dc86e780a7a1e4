#!/usr/bin/env bash
# End-to-end echo benchmark: our echo-server against the peers (the
# fastwebsockets and tokio-tungstenite echo servers of benches/peers, Bun
# and uWebSockets.js from benches/peers/js) and the TCP floor (tcp-echo,
# driven by `wsload tcp://`), measured with wsload in one run, then the
# report (Markdown tables and SVG chart) from scripts/bench_report.py.
#
# Every server runs pinned to core 0 with one thread (ours: --threads 1;
# the Rust peers: tokio current-thread; Bun and Node run JavaScript on one
# thread, their helper threads pinned to core 0 too and counted), wsload
# pinned to core 1, over 127.0.0.1 on a free port found at run time. Each
# run gets a fresh server process, stopped by its PID afterwards.
#
# The VM's two vCPUs are sometimes near each other on the host and
# sometimes far, the state changes within seconds, and the CPU per message
# moves with it by up to 40%. So before and after every run core-rtt
# measures the core-to-core round trip; a run is "core" if both are at or
# under --rtt-core ns (the two vCPUs are hyperthreads of one physical
# core, so the server and wsload share it), "near" if both are above that
# and at or under --rtt-split ns, "far" if both are above --rtt-split,
# "mixed" otherwise, and
# "busy" if other processes took CPU in the window (--other-max); mixed
# and busy runs are never used. For each point the servers run in rounds, interleaved and in a
# rotating order, until every server has --reps runs in one state (at
# most --max-rounds rounds); the report compares medians taken in that one
# state only, and says how many runs each rests on.
#
# Then, per point and server, one more run (a "probe", whose CPU figures
# are not used) counts the server's system calls in the window with
# `perf stat -e raw_syscalls:sys_enter` (enabling that tracepoint slows
# every system call, so it never overlaps a measured run). Last, each
# WebSocket server holds N idle handshaken connections, for its resident
# memory per connection.
#
# usage: scripts/bench-echo.sh [OPTIONS]
#   --quick       smoke run: 1 repetition, 1 s per run, 2,000 idle
#                 connections, results in target/bench-quick (not committed)
#   --reps N      runs in one state of every (point, server) [default 3]
#   --max-rounds N  rounds per point at most [default 3 x reps]
#   --secs S      measured seconds per run [default 3, env SECS]
#   --warmup S    seconds of load before measuring [default 1, env WARMUP]
#   --rtt-split NS  core-to-core round trip dividing near from far
#                 [default 250, env RTT_SPLIT]
#   --rtt-core NS  round trip at or under which the two vCPUs count as
#                 one physical core's hyperthreads [default 90, env
#                 RTT_CORE; about 65 ns on this VM then, 115-150 near,
#                 320-360 far]
#   --other-max C  a run during which other processes used more than C
#                 cores (the machine's busy time from /proc/stat, less the
#                 server and wsload) is marked "busy" and not used
#                 [default 0.3, env OTHER_MAX]
#   --idle-conns N  idle connections for the memory figure [default 10000]
#   --out DIR     where the raw runs and the report go [default benches/results]
#   --append      add to DIR's runs instead of starting over (to split the
#                 matrix over several calls: the report covers all of it)
#   --rt          run the server and wsload under `chrt -f 10` (env RT=1):
#                 when other work competes for the cores, a woken process
#                 would otherwise wait for a scheduler tick; the kernel's RT
#                 throttling then caps each at 95 % of its core
#   --no-build    use the binaries (and node_modules) already there
#   --server NAME=CMD  compare these WebSocket servers instead of the
#                 standard set (repeatable; CMD gets `127.0.0.1:PORT`
#                 appended): an A/B of two builds, for instance. The report
#                 is then a plain table of medians, with ratios over the
#                 first server.
#   --tcp-server NAME=CMD  the same for a raw TCP echo server, driven with
#                 `wsload tcp://` (the epoll and io_uring floors, say)
#   --points LIST  measure only these points, "conns size pipeline" each,
#                 separated by commas: --points "100 20 1,500 16384 1"
#   --no-idle     skip the idle-memory measurement
#   --no-syscalls skip the system-call probes
#   --path P      the WebSocket path to load [default /]: /ws for the
#                 hyper and axum upgrade examples
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
MAX_ROUNDS=${MAX_ROUNDS:-}
SECS=${SECS:-3}
WARMUP=${WARMUP:-1}
RTT_SPLIT=${RTT_SPLIT:-250}
RTT_CORE=${RTT_CORE:-90}
OTHER_MAX=${OTHER_MAX:-0.3}
IDLE_CONNS=${IDLE_CONNS:-10000}
IDLE_HOLD=${IDLE_HOLD:-5} # seconds held after the last handshake (ours sweeps every 2 s)
OUT=${OUT:-benches/results}
URL_PATH=/
BUILD=1
APPEND=0
SYSCALLS=1
RT=${RT:-0}
CUSTOM=()
POINTS_ARG=()
while [ $# -gt 0 ]; do
    case $1 in
    --quick) REPS=1 SECS=1 WARMUP=0.3 IDLE_CONNS=2000 IDLE_HOLD=2.5 OUT=target/bench-quick ;;
    --reps) REPS=$2; shift ;;
    --max-rounds) MAX_ROUNDS=$2; shift ;;
    --secs) SECS=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --rtt-split) RTT_SPLIT=$2; shift ;;
    --rtt-core) RTT_CORE=$2; shift ;;
    --other-max) OTHER_MAX=$2; shift ;;
    --idle-conns) IDLE_CONNS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --append) APPEND=1 ;;
    --no-build) BUILD=0 ;;
    --rt) RT=1 ;;
    --server) CUSTOM+=("ws=$2"); shift ;;
    --tcp-server) CUSTOM+=("tcp=$2"); shift ;;
    --points) IFS=, read -r -a POINTS_ARG <<<"$2"; shift ;;
    --no-idle) IDLE_CONNS=0 ;;
    --no-syscalls) SYSCALLS=0 ;;
    --path) URL_PATH=$2; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-echo: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
MAX_ROUNDS=${MAX_ROUNDS:-$((3 * REPS))}
[ "$MAX_ROUNDS" -ge "$REPS" ] || MAX_ROUNDS=$REPS

WSLOAD=target/release/wsload
PEERS=benches/peers/target/release
JS=benches/peers/js
CORE_RTT=$PEERS/core-rtt
SCHED=()
[ "$RT" = 1 ] && SCHED=(chrt -f 10)
declare -A CMD=(
    [ours]="target/release/echo-server --threads 1 --log warn --max-connections 20000 --listen"
    [fastwebsockets]="$PEERS/fastwebsockets-echo --listen"
    [tokio-tungstenite]="$PEERS/tokio-tungstenite-echo --listen"
    [bun]="$JS/node_modules/@oven/bun-linux-x64/bin/bun $JS/bun-echo.js --listen"
    [uws-js]="node $JS/uws-echo.js --listen"
    [tcp-floor]="$PEERS/tcp-echo --listen"
)
SERVERS=(ours fastwebsockets tokio-tungstenite bun uws-js tcp-floor)
declare -A SCHEME=([tcp-floor]=tcp)
if [ ${#CUSTOM[@]} -gt 0 ]; then
    SERVERS=()
    for spec in "${CUSTOM[@]}"; do
        scheme=${spec%%=*}
        spec=${spec#*=}
        name=${spec%%=*}
        CMD[$name]=${spec#*=}
        SCHEME[$name]=$scheme
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
    if [ ! -e "$JS/node_modules/.package-lock.json" ] ||
        [ "$JS/package-lock.json" -nt "$JS/node_modules/.package-lock.json" ]; then
        echo "== npm ci in $JS" >&2
        (cd "$JS" && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
fi
if [ "$SYSCALLS" = 1 ] && ! perf stat -e raw_syscalls:sys_enter -x, -- true >/dev/null 2>&1; then
    echo "bench-echo: perf cannot count raw_syscalls:sys_enter here; no system-call probes" >&2
    SYSCALLS=0
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

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME LOGFILE: sets SERVER_PID and PORT once the port accepts.
start_server() {
    local name=$1
    PORT=$(free_port)
    # shellcheck disable=SC2086 # CMD holds a command line
    taskset -c 0 "${SCHED[@]}" ${CMD[$name]} "127.0.0.1:$PORT" >"$2" 2>&1 &
    SERVER_PID=$!
    LIVE[$SERVER_PID]=1
    for _ in $(seq 200); do
        if ss -Hltn "sport = :$PORT" | grep -q .; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench-echo: $name did not start listening on $PORT:" >&2
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

# field, rtt, state and run_errors.
# shellcheck source=scripts/core-state.sh
. scripts/core-state.sh

# busy_ticks: "BUSY TOTAL" jiffies of all CPUs so far, from /proc/stat.
busy_ticks() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat
}

# busy_cores "B0 T0" "B1 T1": cores busy in between (all processes).
busy_cores() {
    awk -v a="$1" -v b="$2" -v n="$(nproc)" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        if (y[2] > x[2]) printf "%.2f", (y[1] - x[1]) / (y[2] - x[2]) * n; else print "-" }'
}

url_for() {
    if [ "${SCHEME[$1]:-ws}" = tcp ]; then
        echo "tcp://127.0.0.1:$2"
    else
        echo "ws://127.0.0.1:$2$URL_PATH"
    fi
}

machine() {
    local model
    model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    printf 'cpu\t%s\ncores\t%s\nkernel\t%s\nrustc\t%s\ndate\t%s\nreps\t%s\nmax_rounds\t%s\nsecs\t%s\nwarmup\t%s\nrtt_split\t%s\nrtt_core\t%s\nother_max\t%s\n' \
        "$model" "$(nproc)" "$(uname -sr)" "$(rustc --version)" "$(date -u +%Y-%m-%dT%H:%MZ)" \
        "$REPS" "$MAX_ROUNDS" "$SECS" "$WARMUP" "$RTT_SPLIT" "$RTT_CORE" "$OTHER_MAX"
    printf 'node\t%s\nbun\t%s\n' "$(node --version 2>/dev/null || echo -)" \
        "$("$JS/node_modules/@oven/bun-linux-x64/bin/bun" --version 2>/dev/null || echo -)"
    [ "$RT" = 1 ] && printf 'sched\tSCHED_FIFO priority 10 (chrt -f 10), each process capped at 95 %% of its core\n'
    if pgrep -f 'fuzz/target' >/dev/null; then
        printf 'note\tother jobs (fuzzers) were running during the measurement\n'
    fi
}
if [ "$APPEND" = 1 ] && [ -s "$OUT/machine.tsv" ] && [ -s "$RUNS" ]; then
    printf 'appended\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" >>"$OUT/machine.tsv"
    # Runs of an older call that counted hyperthread siblings as near: the
    # report reclassifies them by their round trips once this is set.
    grep -q '^rtt_core' "$OUT/machine.tsv" || printf 'rtt_core\t%s\n' "$RTT_CORE" >>"$OUT/machine.tsv"
else
    machine >"$OUT/machine.tsv"
    printf 'server\tconns\tsize\tpipeline\tround\tkind\trate\tp50_us\tp99_us\tcpu\tmachine_busy\tserver_cpu\tserver_ns_per_msg\tuser_ns_per_msg\tkernel_ns_per_msg\tsyscalls_per_msg\trtt_before_ns\trtt_after_ns\tstate\trss_kib\thwm_kib\terrors\n' >"$RUNS"
fi

# run_one NAME CONNS SIZE DEPTH ROUND KIND: one wsload run against a fresh
# server, appended to the runs; KIND "run" (measured) or "probe" (system
# calls counted). Sets RUN_STATE.
run_one() {
    local name=$1 conns=$2 size=$3 depth=$4 round=$5 kind=$6
    local pid wpid rtt0 rtt1 rss hwm status line errors syscalls=- limit span busy0 busy
    start_server "$name" "$LOGS/$name.log"
    pid=$SERVER_PID
    rtt0=$(rtt)
    limit=$(awk -v s="$SECS" -v w="$WARMUP" 'BEGIN { print int(s + w + 60) }')
    taskset -c 1 "${SCHED[@]}" timeout -k 5 "$limit" \
        "$WSLOAD" "$(url_for "$name" "$PORT")" --conns "$conns" --size "$size" \
        --pipeline "$depth" --secs "$SECS" --warmup "$WARMUP" --server-pid "$pid" \
        >"$LOGS/wsload.out" 2>"$LOGS/wsload.err" &
    wpid=$!
    LIVE[$wpid]=1
    # The window opens WARMUP after the connections are up: sample inside
    # it, 0.2 s in from each end.
    for _ in $(seq 1500); do
        grep -q ' up in ' "$LOGS/wsload.err" 2>/dev/null && break
        kill -0 "$wpid" 2>/dev/null || break
        sleep 0.02
    done
    sleep "$(awk -v w="$WARMUP" 'BEGIN { print w + 0.2 }')"
    span=$(awk -v s="$SECS" 'BEGIN { print (s > 0.6 ? s - 0.4 : s / 2) }')
    busy0=$(busy_ticks)
    if [ "$kind" = probe ]; then
        perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -o "$LOGS/perf.out" -- sleep "$span" \
            >/dev/null 2>&1 || true
        syscalls=$(awk -F, '/raw_syscalls:sys_enter/ { print $1 }' "$LOGS/perf.out" 2>/dev/null)
        syscalls=${syscalls:--}
        rss=-
    else
        sleep "$(awk -v s="$span" 'BEGIN { print s / 2 }')"
        rss=$(status_kib "$pid" VmRSS)
        sleep "$(awk -v s="$span" 'BEGIN { print s / 2 }')"
    fi
    busy=$(busy_cores "$busy0" "$(busy_ticks)")
    status=0
    wait "$wpid" || status=$?
    unset "LIVE[$wpid]"
    rtt1=$(rtt)
    hwm=$(status_kib "$pid" VmHWM)
    stop_server "$pid"
    line=$(cat "$LOGS/wsload.out")
    errors=$(run_errors "$status" "$line")
    if [ "$status" != 0 ] || [ -z "$line" ]; then
        echo "bench-echo: wsload against $name failed (status $status):" >&2
        head -5 "$LOGS/wsload.err" >&2
    fi
    if [ "$syscalls" != - ]; then
        syscalls=$(awk -v c="$syscalls" -v r="$(field "$line" rate)" -v s="$span" \
            'BEGIN { if (r > 0) printf "%.3f", c / (r * s); else print "-" }')
    fi
    RUN_STATE=$(state "$rtt0" "$rtt1")
    # Anything else that ran in the window makes the run worthless: the
    # server and wsload may have waited for their cores.
    if awk -v b="$busy" -v s="$(field "$line" server_cpu)" -v c="$(field "$line" cpu)" -v m="$OTHER_MAX" \
        'BEGIN { exit !(b != "-" && s != "-" && c != "-" && b - s - c > m) }'; then
        RUN_STATE=busy
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$name" "$conns" "$size" "$depth" "$round" "$kind" \
        "$(field "$line" rate)" "$(field "$line" p50_us)" "$(field "$line" p99_us)" \
        "$(field "$line" cpu)" "$busy" "$(field "$line" server_cpu)" "$(field "$line" server_ns_per_msg)" \
        "$(field "$line" server_user_ns_per_msg)" "$(field "$line" server_kernel_ns_per_msg)" \
        "$syscalls" "$rtt0" "$rtt1" "$RUN_STATE" "$rss" "$hwm" "$errors" >>"$RUNS"
    printf '%-5s r%-2s %-17s %4s x %-5s d%-2s rate=%-8s ns/msg=%-7s user=%-5s cpu=%-4s busy=%-4s rtt=%s/%s %s%s\n' \
        "$kind" "$round" "$name" "$conns" "$size" "$depth" "$(field "$line" rate)" \
        "$(field "$line" server_ns_per_msg)" "$(field "$line" server_user_ns_per_msg)" \
        "$(field "$line" cpu)" "$busy" "$rtt0" "$rtt1" "$RUN_STATE" \
        "$([ "$syscalls" != - ] && echo " syscalls/msg=$syscalls")" >&2
    [ "$errors" = 0 ]
}

started=$(date +%s)
for point in "${POINTS[@]}"; do
    read -r conns size depth <<<"$point"
    declare -A CORE=() NEAR=() FAR=()
    for name in "${SERVERS[@]}"; do
        CORE[$name]=0 NEAR[$name]=0 FAR[$name]=0
    done
    round=0
    while :; do
        round=$((round + 1))
        # Rotate the order each round so no server always runs first.
        for i in "${!SERVERS[@]}"; do
            name=${SERVERS[$(((i + round - 1) % ${#SERVERS[@]}))]}
            if run_one "$name" "$conns" "$size" "$depth" "$round" run; then
                case $RUN_STATE in
                core) CORE[$name]=$((CORE[$name] + 1)) ;;
                near) NEAR[$name]=$((NEAR[$name] + 1)) ;;
                far) FAR[$name]=$((FAR[$name] + 1)) ;;
                esac
            fi
        done
        core_ok=1 near_ok=1 far_ok=1
        for name in "${SERVERS[@]}"; do
            [ "${CORE[$name]}" -ge "$REPS" ] || core_ok=0
            [ "${NEAR[$name]}" -ge "$REPS" ] || near_ok=0
            [ "${FAR[$name]}" -ge "$REPS" ] || far_ok=0
        done
        if [ "$core_ok" = 1 ] || [ "$near_ok" = 1 ] || [ "$far_ok" = 1 ]; then
            break
        fi
        if [ "$round" -ge "$MAX_ROUNDS" ]; then
            echo "bench-echo: $point: no state with $REPS runs of every server after $round rounds" >&2
            break
        fi
    done
    if [ "$SYSCALLS" = 1 ]; then
        for name in "${SERVERS[@]}"; do
            for _ in 1 2 3; do
                run_one "$name" "$conns" "$size" "$depth" 0 probe || true
                [ "$RUN_STATE" = busy ] || break
            done
        done
    fi
    echo "== $point done after $round rounds ($(($(date +%s) - started)) s so far)" >&2
done

# Idle memory: N handshaken connections held without traffic.
[ "$APPEND" = 1 ] && [ -s "$IDLE" ] && [ "$IDLE_CONNS" -gt 0 ] && sed -i '1!d' "$IDLE"
if [ "$APPEND" = 0 ] || [ ! -s "$IDLE" ]; then
    printf 'server\tconns\trss_before_kib\trss_after_kib\tbytes_per_conn\terrors\n' >"$IDLE"
fi
[ "$IDLE_CONNS" -gt 0 ] || SERVERS=()
for name in "${SERVERS[@]}"; do
    [ "${SCHEME[$name]:-ws}" = ws ] || continue
    start_server "$name" "$LOGS/$name.log"
    pid=$SERVER_PID
    sleep 0.5
    fds0=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    before=$(status_kib "$pid" VmRSS)
    hold=$(awk -v h="$IDLE_HOLD" 'BEGIN { print h + 60 }')
    taskset -c 1 "${SCHED[@]}" timeout -k 5 "$(awk -v h="$hold" 'BEGIN { print int(h + 60) }')" \
        "$WSLOAD" "ws://127.0.0.1:$PORT$URL_PATH" --idle --conns "$IDLE_CONNS" --secs "$hold" \
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
