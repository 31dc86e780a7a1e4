#!/usr/bin/env bash
# Fan-out benchmark: our echo-server's /topic/NAME against the pub/sub of
# Bun (ws.publish, uWebSockets inside), Node ws (a loop of client.send) and
# python websockets (broadcast()), the anchors of benches/peers, measured
# with `wsload --subscribers` in one run; then the report (Markdown table
# and SVG chart) from scripts/bench_fanout_report.py.
#
# Every server runs pinned to core 0 with one thread (ours: --threads 1;
# Bun, Node and python are single-threaded event loops, their helper
# threads pinned with them), wsload pinned to core 1, over 127.0.0.1. For
# each point (subscribers x message size x publish rate) the servers are
# interleaved, their order rotated each repetition, and each run gets a
# fresh server process on a free port, killed by its PID afterwards. One
# publisher; "max" is as fast as wsload's window allows (a message goes out
# once every subscriber has the one --window before it), a number is
# messages per second. Then each server holds N idle subscribers on one
# topic, and in a fresh process N idle plain connections: its VmRSS growth
# per connection in both (as many times as --reps, servers interleaved).
#
# On a shared machine: before each run it waits (up to 120 s, env
# QUIET_WAIT) until other processes use under 0.10 cores, and it records
# what they used over the middle of each window (others_cpu); the report
# leaves disturbed runs out. Before and after each run core-rtt (built with
# benches/peers) records the core-to-core round trip (rtt_before_ns,
# rtt_after_ns; "-" if it is not built): with the two vCPUs on one
# physical core (about 65 ns here) wsload shares the server's core, and
# every server's CPU per delivery moves (see scripts/bench-echo.sh), so the
# report takes each point's figures from runs in one state only.
#
# usage: scripts/bench-fanout.sh [OPTIONS]
#   --quick        smoke run: 1 repetition, 1 s per run, 2,000 idle
#                  connections, results in target/bench-fanout-quick
#   --reps N       runs of every (point, server) [default 3, env REPS]
#   --secs S       measured seconds per run [default 5, env SECS]
#   --warmup S     seconds of load before measuring [default 1, env WARMUP]
#   --window W     wsload --window for every run [default 16, env WINDOW]
#   --out DIR      where the raw runs and the report go [default benches/results]
#   --servers LIST only these servers, comma-separated, of: ours, bun,
#                  node-ws, python-websockets [default: all four]
#   --points LIST  only these points, "subscribers size rate" each,
#                  separated by commas: --points "10000 64 max,1000 1024 100"
#   --server NAME=CMD  also run this server (repeatable; a known NAME is
#                  replaced): CMD gets "127.0.0.1:PORT" appended and must
#                  serve /topic/NAME as above, e.g. an A/B of two builds:
#                  --servers ours --server "before=/tmp/echo-before --threads 1
#                  --log warn --max-connections 20000 --listen"
#   --append       add to the raw runs already in DIR instead of starting
#                  over (to split the matrix into several calls of
#                  /work/bin/bench-exclusive); the report covers them all
#   --idle-conns N idle connections for the memory figure [default 10000]
#   --no-idle      skip the idle-memory measurement
#   --idle-only    only the idle-memory measurement
#   --no-build     use the binaries already built
#   --no-install   skip npm ci and pip (the anchors are already installed)
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
WINDOW=${WINDOW:-16}
IDLE_CONNS=${IDLE_CONNS:-10000}
IDLE_HOLD=${IDLE_HOLD:-5} # seconds held after the last handshake (ours sweeps every 2 s)
OUT=${OUT:-benches/results}
BUILD=1
INSTALL=1
APPEND=0
LOAD=1
CUSTOM=()
SERVERS=(ours bun node-ws python-websockets)
# subscribers size rate: as fast as possible, and one message every 10 ms.
POINTS=(
    "1000 64 max" "1000 1024 max" "10000 64 max" "10000 1024 max"
    "1000 64 100" "1000 1024 100" "10000 64 100" "10000 1024 100"
)
while [ $# -gt 0 ]; do
    case $1 in
    --quick) REPS=1 SECS=1 WARMUP=0.3 IDLE_CONNS=2000 IDLE_HOLD=2.5 OUT=target/bench-fanout-quick ;;
    --reps) REPS=$2; shift ;;
    --secs) SECS=$2; shift ;;
    --warmup) WARMUP=$2; shift ;;
    --window) WINDOW=$2; shift ;;
    --out) OUT=$2; shift ;;
    --servers) IFS=, read -r -a SERVERS <<<"$2"; shift ;;
    --points) IFS=, read -r -a POINTS <<<"$2"; shift ;;
    --server) CUSTOM+=("$2"); shift ;;
    --append) APPEND=1 ;;
    --idle-conns) IDLE_CONNS=$2; shift ;;
    --no-idle) IDLE_CONNS=0 ;;
    --idle-only) LOAD=0 ;;
    --no-build) BUILD=0 ;;
    --no-install) INSTALL=0 ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-fanout: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

WSLOAD=target/release/wsload
PEERS=benches/peers
declare -A CMD=(
    [ours]="target/release/echo-server --threads 1 --log warn --max-connections 20000 --listen"
    [bun]="$PEERS/node_modules/@oven/bun-linux-x64/bin/bun $PEERS/js/fanout-bun.js"
    [node-ws]="node $PEERS/js/fanout-node-ws.js"
    [python-websockets]="$PEERS/.venv/bin/python $PEERS/python/fanout_websockets.py"
)
for name in "${SERVERS[@]}"; do
    [ -n "${CMD[$name]:-}" ] || { echo "bench-fanout: unknown server $name" >&2; exit 2; }
done
for spec in "${CUSTOM[@]}"; do
    name=${spec%%=*}
    [[ " ${SERVERS[*]} " == *" $name "* ]] || SERVERS+=("$name")
    CMD[$name]=${spec#*=}
done

if [ "$BUILD" = 1 ]; then
    echo "== building release binaries" >&2
    cargo build --release --bins --quiet
    (cd "$PEERS" && cargo build --release --bin core-rtt --quiet)
fi
if [ "$INSTALL" = 1 ]; then
    echo "== installing the anchors (npm ci, pip)" >&2
    (cd "$PEERS" && npm ci --silent --no-audit --no-fund)
    [ -x "$PEERS/.venv/bin/python" ] || python3 -m venv "$PEERS/.venv"
    "$PEERS/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$PEERS/requirements.txt"
fi

# Each side holds one descriptor per connection, plus a few.
need=$((IDLE_CONNS > 10001 ? IDLE_CONNS + 256 : 10256))
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$need" ]; then
    ulimit -Sn "$need" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"
fi
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$need" ]; then
    echo "bench-fanout: open-file limit $(ulimit -Sn) is below $need" >&2
    exit 1
fi

mkdir -p "$OUT"
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/bench-fanout.XXXXXX")
RUNS=$OUT/fanout-runs.tsv
IDLE=$OUT/fanout-idle-memory.tsv

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
    taskset -c 0 ${CMD[$name]} "127.0.0.1:$PORT" >"$2" 2>&1 &
    SERVER_PID=$!
    LIVE[$SERVER_PID]=1
    for _ in $(seq 200); do
        if ss -Hltn "sport = :$PORT" | grep -q .; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench-fanout: $name did not start listening on $PORT:" >&2
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

# others_cpu SECS: the CPU (in cores) that processes other than this
# script and its descendants (servers, wsload) and kernel threads used over
# the next SECS seconds: other people's work on this shared machine.
others_cpu() {
    python3 - "$1" $$ <<'PY'
import os, sys, time

secs, me = float(sys.argv[1]), sys.argv[2]

def ticks():
    stats = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stats[pid] = f.read().rsplit(")", 1)[1].split()
            except OSError:
                pass
    def ours(pid):
        while pid not in ("0", "1", "2"):
            if pid == me:
                return True
            pid = stats[pid][1] if pid in stats else "0"
        return pid == "2"  # kernel threads (children of kthreadd) count as ours: network work
    # utime and stime (not the children's: a reaped child's whole life would
    # land in the interval). A process that ends within it is missed.
    return {pid: int(st[11]) + int(st[12]) for pid, st in stats.items() if pid != "2" and not ours(pid)}

t0, a = time.monotonic(), ticks()
time.sleep(secs)
t1, b = time.monotonic(), ticks()
# A process born within the interval brings all of its time.
used = sum(max(0, v - a.get(pid, 0)) for pid, v in b.items())
print(f"{used / os.sysconf('SC_CLK_TCK') / (t1 - t0):.2f}")
PY
}

# wait_quiet: waits (up to QUIET_WAIT seconds, default 120) until other
# work uses under 0.10 cores over a second; bench-exclusive holds back only
# the commands started through `heavy`.
wait_quiet() {
    local waited=0 busy
    while [ "$waited" -lt "${QUIET_WAIT:-120}" ]; do
        busy=$(others_cpu 1)
        awk -v b="$busy" 'BEGIN { exit !(b < 0.10) }' && return 0
        [ "$waited" = 0 ] && echo "bench-fanout: other work uses $busy cores; waiting for quiet" >&2
        waited=$((waited + 2))
        sleep 1
    done
    echo "bench-fanout: still busy after ${QUIET_WAIT:-120} s; measuring anyway (others_cpu records it)" >&2
}

# field, rtt and run_errors.
CORE_RTT=$PEERS/target/release/core-rtt
# shellcheck source=scripts/core-state.sh
. scripts/core-state.sh

machine() {
    local model
    model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    printf 'cpu\t%s\ncores\t%s\nkernel\t%s\nrustc\t%s\ndate\t%s\nreps\t%s\nsecs\t%s\nwarmup\t%s\nwindow\t%s\n' \
        "$model" "$(nproc)" "$(uname -sr)" "$(rustc --version)" "$(date -u +%Y-%m-%dT%H:%MZ)" \
        "$REPS" "$SECS" "$WARMUP" "$WINDOW"
    printf 'bun\t%s\nnode\t%s\nws\t%s\npython\t%s\nwebsockets\t%s\n' \
        "$("$PEERS/node_modules/@oven/bun-linux-x64/bin/bun" --version 2>/dev/null || echo -)" \
        "$(node --version 2>/dev/null || echo -)" \
        "$(node -p "require('./$PEERS/node_modules/ws/package.json').version" 2>/dev/null || echo -)" \
        "$("$PEERS/.venv/bin/python" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo -)" \
        "$("$PEERS/.venv/bin/python" -c 'import websockets; print(websockets.__version__)' 2>/dev/null || echo -)"
    if pgrep -f 'fuzz/target' >/dev/null; then
        printf 'note\tother jobs (fuzzers) were running during the measurement\n'
    fi
}
if [ "$APPEND" = 0 ] || [ ! -s "$OUT/fanout-machine.tsv" ]; then
    machine >"$OUT/fanout-machine.tsv"
fi

COLUMNS_RUN='server\tsubscribers\tsize\tpublish_rate\trep\twindow\tpublished\tmsgs\tmsgs_per_s\tp50_us\tp99_us\tmax_us\tlost\treordered\tlossy_subs\tcpu\tcpu_max\tserver_cpu\tserver_ns_per_msg\tserver_user\tserver_sys\trss_kib\thwm_kib\tothers_cpu\terrors\trtt_before_ns\trtt_after_ns\n'
if [ "$LOAD" = 1 ]; then
    if [ "$APPEND" = 1 ] && [ -s "$RUNS" ] && [ "$(head -1 "$RUNS")" != "$(printf %b "$COLUMNS_RUN" | head -1)" ]; then
        echo "bench-fanout: $RUNS has other columns (an older run); --append needs the same" >&2
        exit 2
    fi
    if [ "$APPEND" = 0 ] || [ ! -s "$RUNS" ]; then
        printf %b "$COLUMNS_RUN" >"$RUNS"
    fi
    total=$((${#POINTS[@]} * REPS * ${#SERVERS[@]}))
    n=0
    for point in "${POINTS[@]}"; do
        read -r subs size rate <<<"$point"
        rate_args=()
        [ "$rate" = max ] || rate_args=(--rate "$rate")
        for rep in $(seq "$REPS"); do
            # Rotate the order each repetition so no server always runs first.
            for i in "${!SERVERS[@]}"; do
                name=${SERVERS[$(((i + rep - 1) % ${#SERVERS[@]}))]}
                n=$((n + 1))
                wait_quiet
                rtt0=$(rtt)
                start_server "$name" "$LOGS/$name.log"
                pid=$SERVER_PID
                # Connecting 10,000 takes python about 10 s; draining its
                # backlog after the window some more.
                limit=$(awk -v s="$SECS" -v w="$WARMUP" 'BEGIN { print int(s + w + 120) }')
                taskset -c 1 timeout -k 5 "$limit" "$WSLOAD" "ws://127.0.0.1:$PORT/topic/bench" \
                    --subscribers "$subs" --size "$size" "${rate_args[@]}" --window "$WINDOW" \
                    --secs "$SECS" --warmup "$WARMUP" --server-pid "$pid" \
                    >"$LOGS/wsload.out" 2>"$LOGS/wsload.err" &
                wpid=$!
                LIVE[$wpid]=1
                # Resident memory mid-window, once every connection is up.
                for _ in $(seq 1200); do
                    grep -q 'connections up' "$LOGS/wsload.err" && break
                    kill -0 "$wpid" 2>/dev/null || break
                    sleep 0.1
                done
                # Other work on the machine over the middle of the window.
                sleep "$(awk -v s="$SECS" -v w="$WARMUP" 'BEGIN { print w + s / 4 }')"
                others=$(others_cpu "$(awk -v s="$SECS" 'BEGIN { print s / 2 }')")
                rss=$(status_kib "$pid" VmRSS)
                status=0
                wait "$wpid" || status=$?
                unset "LIVE[$wpid]"
                hwm=$(status_kib "$pid" VmHWM)
                stop_server "$pid"
                rtt1=$(rtt)
                line=$(cat "$LOGS/wsload.out")
                errors=$(run_errors "$status" "$line")
                if [ "$status" != 0 ]; then
                    echo "bench-fanout: wsload against $name at $point exited $status:" >&2
                    grep -v 'connections up' "$LOGS/wsload.err" | head -5 >&2 || true
                fi
                printf '%s\t%s\t%s\t%s\t%s\t%s' "$name" "$subs" "$size" "$rate" "$rep" "$WINDOW" >>"$RUNS"
                for f in published msgs rate p50_us p99_us max_us lost reordered lossy_subs cpu cpu_max \
                    server_cpu server_ns_per_msg server_user server_sys; do
                    printf '\t%s' "$(field "$line" $f)" >>"$RUNS"
                done
                printf '\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rss" "$hwm" "$others" "$errors" "$rtt0" "$rtt1" >>"$RUNS"
                printf '[%d/%d] %-17s %5s x %-4s %-3s msgs/s=%-8s ns/msg=%-6s p99_us=%-9s lost=%s cpu=%s others=%s rtt=%s/%s\n' \
                    "$n" "$total" "$name" "$subs" "$size" "$rate" "$(field "$line" rate)" \
                    "$(field "$line" server_ns_per_msg)" "$(field "$line" p99_us)" \
                    "$(field "$line" lost)" "$(field "$line" cpu)" "$others" "$rtt0" "$rtt1" >&2
            done
        done
    done
fi

# Idle memory: N idle connections, subscribed to one topic or plain, each
# kind in a fresh server process.
if [ "$IDLE_CONNS" -gt 0 ]; then
    if [ "$APPEND" = 0 ] || [ ! -s "$IDLE" ]; then
        printf 'server\tkind\tconns\trss_before_kib\trss_after_kib\tbytes_per_conn\terrors\n' >"$IDLE"
    fi
    for rep in $(seq "$REPS"); do
        for i in "${!SERVERS[@]}"; do
            name=${SERVERS[$(((i + rep - 1) % ${#SERVERS[@]}))]}
            for kind in subscriber plain; do
                path=/
                [ "$kind" = subscriber ] && path=/topic/idle
                start_server "$name" "$LOGS/$name.log"
                pid=$SERVER_PID
                sleep 0.5
                fds0=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
                before=$(status_kib "$pid" VmRSS)
                hold=$(awk -v h="$IDLE_HOLD" 'BEGIN { print h + 60 }')
                taskset -c 1 timeout -k 5 "$(awk -v h="$hold" 'BEGIN { print int(h + 60) }')" \
                    "$WSLOAD" "ws://127.0.0.1:$PORT$path" --idle --conns "$IDLE_CONNS" --secs "$hold" \
                    >"$LOGS/wsload.out" 2>"$LOGS/wsload.err" &
                wpid=$!
                LIVE[$wpid]=1
                # Wait for every connection to reach the server, then past a sweep.
                up=0
                fds=$fds0
                for _ in $(seq 900); do
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
                    echo "bench-fanout: $name held only $((fds - fds0)) of $IDLE_CONNS connections" >&2
                    head -5 "$LOGS/wsload.err" >&2
                    errors=$((IDLE_CONNS - (fds - fds0)))
                fi
                kill "$wpid" 2>/dev/null || true
                wait "$wpid" 2>/dev/null || true
                unset "LIVE[$wpid]"
                stop_server "$pid"
                per=$(awk -v a="$after" -v b="$before" -v n="$IDLE_CONNS" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$IDLE_CONNS" "$before" "$after" "$per" \
                    "$errors" >>"$IDLE"
                printf 'idle %-17s %-10s %s conns: %s -> %s KiB, %s B per connection\n' "$name" "$kind" \
                    "$IDLE_CONNS" "$before" "$after" "$per" >&2
            done
        done
    done
fi

python3 scripts/bench_fanout_report.py "$OUT"
echo "== report: $OUT/fanout.md, $OUT/fanout.svg" >&2
