#!/usr/bin/env bash
# Autobahn TestSuite conformance of the echo server, cases 1-10 (everything
# but the permessage-deflate groups 12 and 13), run with kosoku.
#
#   scripts/autobahn.sh            run, check, diff against the committed results
#   scripts/autobahn.sh --update   run and rewrite tests/autobahn/server.json
#
# Fails unless every case's behaviour is OK or INFORMATIONAL (NON-STRICT
# fails) with a clean close, and unless the results equal the committed ones,
# so any change, better or worse, shows up as a diff.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${VENV:-$root/.venv}
expected=$root/tests/autobahn/server.json

if [ ! -x "$venv/bin/kosoku" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet kosoku
fi
cargo build --release --quiet --bin echo-server

out=$(mktemp -d)
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
./target/release/echo-server --listen "127.0.0.1:$port" --threads 1 --log warn >"$out/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 50); do
  (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

start=$(date +%s)
set +e
timeout 900 "$venv/bin/kosoku" -m fuzzingclient -o "$out/reports" \
  -i '1.*' -i '2.*' -i '3.*' -i '4.*' -i '5.*' -i '6.*' -i '7.*' -i '9.*' -i '10.*' \
  "ws://127.0.0.1:$port" >"$out/kosoku.log" 2>&1
rc=$?
set -e
echo "kosoku exited $rc after $(( $(date +%s) - start )) s"
tail -n 3 "$out/kosoku.log"
kill -0 "$server" 2>/dev/null || { echo "echo-server died during the run"; cat "$out/server.log"; exit 1; }

"$venv/bin/python" - "$out/reports/index.json" "$expected" "${1:-}" <<'PY'
import json, sys
index, expected_path, mode = sys.argv[1], sys.argv[2], sys.argv[3]
agents = json.load(open(index))
assert len(agents) == 1, f"one agent expected, got {list(agents)}"
cases = next(iter(agents.values()))
def key(case):
    return tuple(int(p) for p in case.split("."))
results = {c: {"behavior": v["behavior"], "behaviorClose": v["behaviorClose"]}
           for c, v in sorted(cases.items(), key=lambda kv: key(kv[0]))}
bad = {c: r for c, r in results.items()
       if r["behavior"] not in ("OK", "INFORMATIONAL") or r["behaviorClose"] not in ("OK", "INFORMATIONAL")}
counts = {}
for r in results.values():
    counts[r["behavior"]] = counts.get(r["behavior"], 0) + 1
print(f"{len(results)} cases: " + ", ".join(f"{n} {b}" for b, n in sorted(counts.items())))
if mode == "--update":
    with open(expected_path, "w") as f:
        json.dump(results, f, indent=1)
        f.write("\n")
    print(f"wrote {expected_path}")
else:
    expected = json.load(open(expected_path))
    changed = sorted(set(expected) | set(results), key=key)
    diff = [(c, expected.get(c), results.get(c)) for c in changed if expected.get(c) != results.get(c)]
    for c, was, now in diff:
        print(f"CHANGED {c}: expected {was}, got {now}")
    if diff:
        sys.exit(f"{len(diff)} case(s) differ from {expected_path}; rerun with --update if intended")
for c, r in bad.items():
    print(f"FAILED {c}: {r}")
if bad:
    sys.exit(f"{len(bad)} case(s) not OK/INFORMATIONAL")
print("all cases OK or INFORMATIONAL, same as committed")
PY
