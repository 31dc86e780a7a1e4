"""Median table of scripts/bench-deflate.sh's runs: DIR/deflate-runs.tsv
to DIR/deflate-table.md (the prose of deflate.md is written by hand)."""

import csv
import statistics
import sys
from pathlib import Path

out = Path(sys.argv[1] if len(sys.argv) > 1 else "benches/results")
rows = list(csv.DictReader(open(out / "deflate-runs.tsv"), delimiter="\t"))
points = []
for r in rows:
    p = (int(r["conns"]), int(r["size"]), int(r["pipeline"]))
    if p not in points:
        points.append(p)
servers = []
for r in rows:
    if r["server"] not in servers:
        servers.append(r["server"])


def med(p, s, key):
    vals = [
        float(r[key])
        for r in rows
        if (int(r["conns"]), int(r["size"]), int(r["pipeline"])) == p
        and r["server"] == s
        and r["errors"] == "0"
        and r.get(key) not in (None, "", "-")
    ]
    return (statistics.median(vals), len(vals)) if vals else (None, 0)


lines = [
    "| conns | size | depth | server | runs | rate (msg/s) | server ns/msg | ours ÷ this (CPU) "
    "| wire bytes/echo (wsload read) | ratio (÷ size) | ss: server sent/echo | ss: wsload sent/msg "
    "| core round trip before (ns) |",
    "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for p in points:
    ours_ns, _ = med(p, "ours", "server_ns_per_msg")
    for s in servers:
        rate, n = med(p, s, "rate")
        ns, _ = med(p, s, "server_ns_per_msg")
        wire, _ = med(p, s, "wire_in_per_msg")
        tx, _ = med(p, s, "ss_server_sent_per_msg")
        rx, _ = med(p, s, "ss_wsload_sent_per_msg")
        ratio, _ = med(p, s, "ratio")
        rtt, _ = med(p, s, "core_rtt_before_ns")
        if rtt is None:
            rtt, _ = med(p, s, "core_rtt_ns")
        f = lambda v, fmt: "-" if v is None else format(v, fmt)
        lines.append(
            f"| {p[0]} | {p[1]} | {p[2]} | {s} | {n} | {f(rate, '.0f')} | {f(ns, '.0f')} "
            f"| {f(ours_ns / ns if ours_ns and ns else None, '.2f')} | {f(wire, '.0f')} "
            f"| {f(ratio, '.3f')} | {f(tx, '.0f')} | {f(rx, '.0f')} | {f(rtt, '.0f')} |"
        )
(out / "deflate-table.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
