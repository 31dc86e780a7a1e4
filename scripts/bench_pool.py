#!/usr/bin/env python3
"""Pool the runs of several echo benchmark calls taken in one core state.

    scripts/bench_pool.py [--state core] DIR [DIR ...]

Each DIR holds an `echo-runs.tsv` written by scripts/bench-echo.sh. One
call's medians rest on 3-5 runs per server, and at one message in flight
the runs of one server spread by a third on the shared VM, so a single
call can put a tie on either side of a bar. This reads every measured run
(probes and runs with errors are left out) in the given state from all the
calls, and prints per point the median of each server's CPU per message,
with user and kernel time, and ours over the best WebSocket peer. Only pool calls of the
same build of every server: the script cannot check that.
"""
import argparse
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_report import reclassify  # noqa: E402

ORDER = ["ours", "fastwebsockets", "tokio-tungstenite", "bun", "uws-js", "tcp-floor"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", default="core", help="core, near or far [core]")
    ap.add_argument("dirs", nargs="+", type=Path)
    args = ap.parse_args()

    runs = defaultdict(list)
    for d in args.dirs:
        machine = {}
        if (d / "machine.tsv").exists():
            with open(d / "machine.tsv", newline="") as f:
                machine = {r[0]: r[1] for r in csv.reader(f, delimiter="\t") if len(r) == 2}
        with open(d / "echo-runs.tsv", newline="") as f:
            dir_runs = list(csv.DictReader(f, delimiter="\t"))
        # The states as bench_report.py reads them: older near runs of a
        # directory that tells the core state apart are core or mixed.
        reclassify(dir_runs, machine)
        for r in dir_runs:
            if r["kind"] != "run" or r["state"] != args.state or r["errors"] != "0":
                continue
            try:
                cpu = float(r["server_ns_per_msg"])
                user = float(r["user_ns_per_msg"])
                kernel = float(r["kernel_ns_per_msg"])
            except ValueError:
                continue
            point = (int(r["conns"]), int(r["size"]), int(r["pipeline"]))
            runs[point, r["server"]].append((cpu, user, kernel))
    if not runs:
        print(f"bench_pool: no runs in state {args.state}", file=sys.stderr)
        return 1

    servers = [s for s in ORDER if any(k[1] == s for k in runs)]
    servers += sorted({k[1] for k in runs} - set(servers))
    points = sorted({k[0] for k in runs}, key=lambda p: (p[2], p[0], p[1]))
    print(f"Pooled runs in the {args.state} state from: " + ", ".join(str(d) for d in args.dirs))
    print()
    print("CPU ns per message, median [runs] (user / kernel):")
    print()
    print("| point | " + " | ".join(servers) + " | ours / best peer |")
    print("|---|" + "---:|" * len(servers) + "---:|")
    for p in points:
        cells, medians = [], {}
        for s in servers:
            v = runs.get((p, s))
            if not v:
                cells.append("-")
                continue
            m = [statistics.median(x[i] for x in v) for i in range(3)]
            medians[s] = m[0]
            cells.append(f"{m[0]:,.0f} [{len(v)}] ({m[1]:,.0f} / {m[2]:,.0f})")
        peers = {s: m for s, m in medians.items() if s not in ("ours", "tcp-floor")}
        ratio = "-"
        if "ours" in medians and peers:
            best = min(peers, key=peers.get)
            ratio = f"{medians['ours'] / peers[best]:.3f} ({best})"
        conns, size, depth = p
        label = f"{conns} × {size} B" + (f", {depth} in flight" if depth > 1 else "")
        print(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
