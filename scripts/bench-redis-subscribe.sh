#!/usr/bin/env bash
# Why the relay follows topics with SUBSCRIBE rather than one PSUBSCRIBE:
# Redis' CPU and the bytes it sends to the instances, per published
# message, for two instances that split 100 topics between them (rooms
# spread by the balancer) and for two instances that both have the one
# topic published to.
#
#   scripts/bench-redis-subscribe.sh [PUBLISHES]      (default 200000)
#
# The instances are stood in for by two redis-cli subscribers; Redis' own
# total_net_output_bytes counts what it sent; redis-benchmark publishes 32-byte messages, 16
# pipelined, to rfc6455:topic:N. Needs redis-server and redis-tools (apt).
# Everything on 127.0.0.1, on a free port; every process stopped by PID.
set -euo pipefail
n=${1:-200000}
work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
timeout 600 redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
redis_pid=$(redis-cli -p "$port" info server | sed -En 's/^process_id:([0-9]+).*/\1/p')
cpu() { awk '{ printf "%.3f", ($14 + $15) / 100 }' "/proc/$redis_pid/stat"; }
sent() { redis-cli -p "$port" info stats | sed -En 's/^total_net_output_bytes:([0-9]+).*/\1/p'; }
# redis-benchmark's __rand_int__ with -r 100 gives 12-digit names.
topic() { printf 'rfc6455:topic:%012d' "$1"; }

# case NAME SPREAD MODE: two subscribers, SPREAD = split (topics 0-49 on
# one, 50-99 on the other) or shared (both on every topic); MODE =
# channels (SUBSCRIBE per topic) or pattern (PSUBSCRIBE rfc6455:topic:*).
run_case() {
  local spread=$1 mode=$2 i sub_pids=() out=()
  for i in 0 1; do
    local args=()
    if [ "$mode" = pattern ]; then
      args=(PSUBSCRIBE 'rfc6455:topic:*')
    else
      args=(SUBSCRIBE)
      local t from=0 to=99
      if [ "$spread" = split ]; then from=$((i * 50)); to=$((i * 50 + 49)); fi
      for t in $(seq "$from" "$to"); do args+=("$(topic "$t")"); done
    fi
    timeout 600 redis-cli -p "$port" "${args[@]}" >"$work/sub$i" 2>&1 &
    pids+=($!); sub_pids+=($!)
    out+=("$work/sub$i")
  done
  sleep 0.5
  local c0 c1 b0 b1
  b0=$(sent)
  c0=$(cpu)
  redis-benchmark -p "$port" -n "$n" -P 16 -r 100 -q PUBLISH 'rfc6455:topic:__rand_int__' \
    "$(head -c 32 /dev/zero | tr '\0' x)" >"$work/bench" 2>&1
  sleep 0.5
  c1=$(cpu)
  b1=$(sent)
  local bytes=$((b1 - b0))
  for i in "${sub_pids[@]}"; do kill "$i" 2>/dev/null || true; wait "$i" 2>/dev/null || true; done
  printf '%-7s %-8s publishes=%s redis_cpu_s=%s redis_us_per_publish=%s bytes_sent_per_publish=%s (%s)\n' \
    "$spread" "$mode" "$n" "$(echo "$c1 - $c0" | bc)" \
    "$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) * 1e6 / n }')" \
    "$(awk -v b="$bytes" -v n="$n" 'BEGIN { printf "%.0f", b / n }')" \
    "$(tr -d '\n' <"$work/bench" | sed -E 's/.*PUBLISH[^:]*: ?//')"
}

echo "# $(date -u +%FT%TZ) redis $(redis-server --version | sed -En 's/.*v=([^ ]+).*/\1/p')"
for r in 1 2; do
  for spread in split shared; do
    for mode in channels pattern; do run_case "$spread" "$mode"; done
  done
done
