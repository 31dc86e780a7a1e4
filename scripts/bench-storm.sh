#!/usr/bin/env bash
# Reconnect storm: CLIENTS WebSocket clients connected to an echo-server,
# the server killed (SIGKILL) and started again on the same port, and every
# client reconnecting with
#   jitter: our clients' policy (rfc6455::reconnect::Backoff::default and
#           /rfc6455.js): full jitter below 1 s, doubling, 5 s at most;
#   jitter-max30: the same with a 30 s ceiling;
#   fixed:  the seed's Vue client: 5 s after the loss, 5 s after each failure.
# Both policies run in the same invocation, interleaved, REPEAT times each,
# for each DOWN: how many seconds the server stays down before it starts
# again (0: at once, as after a crash; 3: a restart that takes time).
#
#   scripts/bench-storm.sh [CLIENTS] [REPEAT] [DOWN...]   # default 10000 2 0 3
#   /work/bin/bench-exclusive scripts/bench-storm.sh # for figures to report
#
# Figures (one JSON line per run, driver: examples/storm.rs): all_back_s,
# the time from the first loss until every client has completed its
# handshake again; peak_per_s, the most handshakes completed in a 100 ms
# window, times ten; p50_s / p99_s of the clients' times back;
# failed_attempts (refused, reset or timed out). The server runs on CPU 0,
# the driver on CPU 1. Results go to benches/results/storm.jsonl
# (appended) and benches/results/storm.md (this run).
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${1:-10000}
repeat=${2:-2}
downs=("${@:3}")
[ ${#downs[@]} -gt 0 ] || downs=(0 3)
out=benches/results
# Each side holds one descriptor per client: as many as the hard limit allows.
ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet --bin echo-server --example storm
driver=(taskset -c 1 timeout 300 target/release/examples/storm
        --server target/release/echo-server --server-cpu 0 --clients "$clients")
runs=()
for down in "${downs[@]}"; do
  for r in $(seq "$repeat"); do
    for policy in jitter jitter-max30 fixed; do
      line=$("${driver[@]}" --policy "$policy" --down "$down")
      echo "$line"
      runs+=("$line")
    done
  done
done
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD)
for line in "${runs[@]}"; do
  printf '{"date":"%s","commit":"%s",%s\n' "$stamp" "$commit" "${line#\{}" >>"$out/storm.jsonl"
done
python3 - "$stamp" "$commit" "${runs[@]}" >"$out/storm.md" <<'PY'
import json, sys
stamp, commit, runs = sys.argv[1], sys.argv[2], [json.loads(r) for r in sys.argv[3:]]
print(f"# Reconnect storm ({stamp}, {commit})\n")
print(f"{runs[0]['clients']} clients on one echo-server (2 threads, CPU 0; driver on CPU 1); the server "
      "killed with SIGKILL and started again on the same port. `scripts/bench-storm.sh`; policies "
      "interleaved in one run.\n")
print("Times are from the first loss. jitter: our clients' policy (full jitter below 1 s, doubling, 5 s at "
      "most); jitter-max30: the same up to 30 s; fixed: 5 s after the loss and after each failure (the seed's "
      "client).\n")
print("| server down (s) | policy | all back (s) | p50 (s) | p99 (s) | peak handshakes/s (100 ms windows) | failed attempts | back |")
print("|---|---|---|---|---|---|---|---|")
for r in runs:
    print(f"| {r['server_down_ms'] / 1000:.1f} | {r['policy']} | {r['all_back_s']:.2f} | {r['p50_s']:.2f} | "
          f"{r['p99_s']:.2f} | {r['peak_per_s']} | {r['failed_attempts']} | {r['back']}/{r['clients']} |")
PY
cat "$out/storm.md"
