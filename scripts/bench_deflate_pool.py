"""Pool the runs of several scripts/bench-deflate.sh result directories
into one median table, for a point whose single runs spread more than the
difference being judged.

usage: python3 scripts/bench_deflate_pool.py [--same a,b ...] DIR...

--same ours,ours-l1 counts the runs of ours-l1 as ours at sizes under
4 KiB, where the two configurations run the same code (level 1; from
4 KiB ours uses level 4). Prints, per point and server, the runs, the median
CPU per message with its range, ÷ Bun and ÷ Node, and the bytes per echo."""

import csv
import statistics
import sys
from pathlib import Path

SAME_BELOW = 4096
args = sys.argv[1:]
alias = {}
dirs = []
while args:
    a = args.pop(0)
    if a == "--same":
        names = args.pop(0).split(",")
        for n in names[1:]:
            alias[n] = names[0]
    else:
        dirs.append(Path(a))
if not dirs:
    sys.exit(__doc__)

runs = {}
order = []
for d in dirs:
    for r in csv.DictReader(open(d / "deflate-runs.tsv"), delimiter="\t"):
        if r["errors"] != "0" or "-" in (r["server_ns_per_msg"] or "-", r["wire_in_per_msg"] or "-"):
            continue
        server = alias.get(r["server"], r["server"]) if int(r["size"]) < SAME_BELOW else r["server"]
        key = (int(r["size"]), int(r["pipeline"]), server)
        if key not in runs:
            order.append(key)
            runs[key] = []
        runs[key].append((float(r["server_ns_per_msg"]), float(r["wire_in_per_msg"])))

print("| size | depth | server | runs | server ns/msg (median) | range | ÷ Bun | ÷ Node | bytes/echo |")
print("|---:|---:|---|---:|---:|---|---:|---:|---:|")
for key in sorted(order, key=lambda k: (k[1], k[0], order.index(k))):
    size, depth, server = key
    ns = [v[0] for v in runs[key]]
    mid = statistics.median(ns)

    def over(peer):
        other = runs.get((size, depth, peer))
        return f"{mid / statistics.median(v[0] for v in other):.2f}" if other and peer != server else ""

    wire = statistics.median(v[1] for v in runs[key])
    print(
        f"| {size} | {depth} | {server} | {len(ns)} | {mid:,.0f} | {min(ns):,.0f}-{max(ns):,.0f} "
        f"| {over('bun')} | {over('node-ws')} | {wire:,.0f} |"
    )
