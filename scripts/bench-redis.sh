#!/usr/bin/env bash
# Fan-out across two instances through Redis, against one instance alone,
# in the same run:
#
#   scripts/bench-redis.sh [--subs "1000 10000"] [--secs 5] [--rates "100 max"] [--runs 2] [--ids]
#
# The redis rows run without topic history (--no-history: a PUBLISH per
# message, a channel per topic); with --ids they keep history, so every
# publish runs the id script and every instance receives every topic.
#
# For each subscriber count and publish rate, interleaved and repeated:
#   single  one echo-server (--threads 1), no Redis
#   redis   two echo-servers (--threads 1 --redis URL) on the same port:
#           SO_REUSEPORT lets the kernel spread the subscribers over both,
#           and the publisher lands on one of them, so most deliveries
#           cross Redis (every publish does: with --redis, the publishing
#           instance delivers what comes back too).
# wsload's fan-out mode (one publisher, 64-byte messages) gives delivered
# messages per second and publish-to-receive p50/p99; this script adds
# each process's CPU over the run (from /proc: servers, and Redis' own,
# per published message), and checks that both instances had subscribers.
#
# Needs redis-server (apt) and wsload with --subscribers (WSLOAD=path to
# override). Everything listens on 127.0.0.1, on free ports; every process
# is stopped by PID. Figures depend on the machine: two cores here carry
# Redis, the servers and wsload at once, so compare rows of the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

subs="1000 10000"
secs=5
rates="100 max"
runs=2
history=(--no-history)
while [ $# -gt 0 ]; do
  case $1 in
    --ids) history=(); shift ;;
    --subs) subs=$2; shift 2 ;;
    --secs) secs=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

cargo build --release --quiet --features redis --bin echo-server --bin wsload
server=$root/target/release/echo-server
wsload=${WSLOAD:-$root/target/release/wsload}
"$wsload" --help 2>&1 | grep -q -- '--subscribers' ||
  { echo "this wsload has no fan-out mode (--subscribers); set WSLOAD" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

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
  pids=()
}
trap 'cleanup; rm -rf "$work"' EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# CPU seconds (user + system) a process has used so far.
cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
# child_of PID: the process `timeout` (PID) runs.
child_of() {
  local c
  for _ in $(seq 100); do
    c=$(pgrep -P "$1" | head -n 1) && [ -n "$c" ] && { echo "$c"; return 0; }
    sleep 0.02
  done
  echo "$1"
}
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on $1" >&2
  return 1
}
field() { sed -En "s/.*\\b$1=([^ ]+).*/\\1/p" <<<"$2"; }

redis_port=$(free_port)
timeout 3600 redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$work" >"$work/redis.log" 2>&1 &
redis_timeout=$!
redis_pid=$(child_of "$redis_timeout")
wait_port "$redis_port"
url="redis://127.0.0.1:$redis_port/0"

# run MODE SUBS RATE: one row.
run() {
  local mode=$1 n=$2 rate=$3 port servers=() s
  port=$(free_port)
  local big=(--max-connections $((n + 100)) --log warn)
  if [ "$mode" = single ]; then
    timeout 600 "$server" --listen "127.0.0.1:$port" --threads 1 "${big[@]}" >"$work/a.log" 2>&1 &
    pids+=($!); servers+=("$(child_of $!)")
  else
    for _ in 1 2; do
      timeout 600 "$server" --listen "127.0.0.1:$port" --threads 1 --redis "$url" "${history[@]}" "${big[@]}" \
        >>"$work/a.log" 2>&1 &
      pids+=($!); servers+=("$(child_of $!)")
    done
  fi
  wait_port "$port"
  sleep 0.5 # the instances connect to Redis
  local before=() r0
  for s in "${servers[@]}"; do before+=("$(cpu "$s")"); done
  r0=$(cpu "$redis_pid")
  local t0 rate_args=()
  [ "$rate" = max ] || rate_args=(--rate "$rate")
  t0=$(date +%s.%N)
  # The most file descriptors each server held during the run: how the
  # kernel split the connections.
  (
    declare -A most
    while :; do
      for s in "${servers[@]}"; do
        c=$(ls "/proc/$s/fd" 2>/dev/null | wc -l)
        [ "$c" -gt "${most[$s]:-0}" ] && most[$s]=$c
      done
      out=""
      for s in "${servers[@]}"; do out+="${out:+/}${most[$s]:-0}"; done
      echo "$out" >"$work/fds"
      sleep 0.3
    done
  ) &
  local sampler=$!
  local line
  line=$("$wsload" "ws://127.0.0.1:$port/topic/bench" --subscribers "$n" --publishers 1 \
    --size 64 --secs "$secs" --warmup 1 --handshakes 256 "${rate_args[@]}" 2>"$work/wsload.err") ||
    { echo "wsload failed: $(tail -n 3 "$work/wsload.err")" >&2; line=""; }
  local wall
  wall=$(echo "$(date +%s.%N) - $t0" | bc)
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  local split i=0 server_cpu=""
  split=$(cat "$work/fds")
  for s in "${servers[@]}"; do
    server_cpu+="${server_cpu:+/}$(echo "$(cpu "$s") - ${before[$i]}" | bc)"
    i=$((i + 1))
  done
  local r1 published redis_cpu per_msg
  r1=$(cpu "$redis_pid")
  redis_cpu=$(echo "$r1 - $r0" | bc)
  published=$(field published "$line")
  per_msg=$(awk -v c="$redis_cpu" -v p="${published:-0}" 'BEGIN { if (p > 0 && c > 0) printf "%.2f", c * 1e6 / p; else print "-" }')
  [ "$mode" = single ] && per_msg="-"
  printf '%-6s subs=%-5s rate=%-4s delivered/s=%-9s p50_us=%-8s p99_us=%-8s lost=%s published=%s fds=%s server_cpu_s=%s redis_cpu_s=%s redis_us_per_publish=%s wsload_cpu=%s wall_s=%.1f\n' \
    "$mode" "$n" "$rate" "$(field rate "$line")" "$(field p50_us "$line")" "$(field p99_us "$line")" \
    "$(field lost "$line")" "$published" "$split" "$server_cpu" "$redis_cpu" "$per_msg" \
    "$(field cpu "$line")" "$wall"
  for s in "${servers[@]}"; do kill -TERM "$s" 2>/dev/null || true; done
  for p in "${pids[@]:1}"; do wait "$p" 2>/dev/null || true; done
  pids=("$redis_timeout")
}

pids=("$redis_timeout")
echo "# $(date -u +%FT%TZ) $(nproc) cores; redis $(redis-server --version | sed -En 's/.*v=([^ ]+).*/\1/p');" \
  "fds = open file descriptors per server (about its connections)"
for r in $(seq "$runs"); do
  for n in $subs; do
    for rate in $rates; do
      run single "$n" "$rate"
      run redis "$n" "$rate"
    done
  done
done
