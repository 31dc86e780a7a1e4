"""Report for scripts/bench-fanout.sh: reads DIR/fanout-runs.tsv,
DIR/fanout-idle-memory.tsv and DIR/fanout-machine.tsv, writes DIR/fanout.md
(tables, the issue's bars checked) and DIR/fanout.svg (bar charts). Standard
library only; the statistics and axis helpers are bench_report.py's.

Where the runs recorded the core-to-core round trip, servers are compared
only on runs taken in the same state (core, near or far, as in
bench_report.py): for each point the state in which every server has the
most runs; mixed runs and runs in other states are left out.

usage: bench_fanout_report.py DIR
"""
import csv
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_report import Stat, fmt_ratio, log_axis, num, ratio, read_tsv, size_label, tick_label  # noqa: E402

SERVERS = ["ours", "bun", "node-ws", "python-websockets"]
COLOURS = {"ours": "#d9480f", "bun": "#f59f00", "node-ws": "#1971c2", "python-websockets": "#868e96"}
# For servers named with bench-fanout.sh --server.
MORE_COLOURS = ["#2f9e44", "#9c36b5", "#0c8599", "#e64980", "#5c940d"]
SATURATED = 0.95  # wsload cpu= at or above this: its core is the limit
DISTURBED = 0.10  # other work on the machine, in cores, above which a run is left out
# The core-to-core states of scripts/core-state.sh (bench-echo.sh's defaults
# unless fanout-machine.tsv has rtt_core and rtt_split): every median of a
# point comes from runs in one state, as in bench_report.py.
STATES = ["near", "far", "core"]
RTT_CORE, RTT_SPLIT = 90.0, 250.0
FIELDS = ("msgs_per_s", "p50_us", "p99_us", "max_us", "cpu", "cpu_max", "server_ns_per_msg", "server_cpu",
          "server_user", "server_sys", "hwm_kib", "published")


def point_label(p, short=False):
    subs, size, rate = p
    subs = int(subs)
    who = (f"{subs // 1000}k" if subs % 1000 == 0 else str(subs)) if short else f"{subs:,} subs"
    how = ("max" if short else "as fast as possible") if rate == "max" else f"{rate}/s"
    return f"{who} × {size_label(size)}, {how}"


def run_state(r, core, split):
    """core, near, far or mixed from the run's round trips (as state() in
    scripts/core-state.sh); None where they were not recorded."""
    a, b = num(r.get("rtt_before_ns")), num(r.get("rtt_after_ns"))
    if a is None or b is None:
        return None
    if a <= core and b <= core:
        return "core"
    if a > core and b > core and a <= split and b <= split:
        return "near"
    if a > split and b > split:
        return "far"
    return "mixed"


def choose_state(runs_by_server, core, split):
    """The state in which the server with the fewest runs has the most
    (then the most runs in all; near, then far, then core on a tie); None
    when no run has its round trips recorded (older runs: nothing to tell
    apart)."""
    states = [[run_state(r, core, split) for r in rs] for rs in runs_by_server]
    if all(st is None for sts in states for st in sts):
        return None
    return max(STATES, key=lambda name: (min(sts.count(name) for sts in states),
                                         sum(sts.count(name) for sts in states), -STATES.index(name)))


def collect(runs, core=RTT_CORE, split=RTT_SPLIT):
    points, data = [], {}
    for r in runs:
        p = (r["subscribers"], r["size"], r["publish_rate"])
        if p not in points:
            points.append(p)
        data.setdefault((p, r["server"]), []).append(r)
    # As fast as possible first, each by subscribers then size.
    points.sort(key=lambda p: (p[2] != "max", int(p[0]), int(p[1])))
    usable = {}
    for key, rs in data.items():
        ok = [r for r in rs if r["errors"] == "0"]
        # Runs during which other work took a share of the machine are left
        # out, unless no run of the point was quiet.
        quiet = [r for r in ok if (num(r.get("others_cpu")) or 0.0) < DISTURBED]
        usable[key] = (ok, quiet)
    # The vCPUs' state moves every server's CPU per delivery: servers are
    # compared only on runs in one state per point.
    state = {p: choose_state([quiet or ok for (q, _), (ok, quiet) in usable.items() if q == p], core, split)
             for p in points}
    stats = {}
    for key, rs in data.items():
        ok, quiet = usable[key]
        used = [r for r in (quiet or ok) if state[key[0]] is None or run_state(r, core, split) == state[key[0]]]
        st = {f: Stat(num(r[f]) for r in used) for f in FIELDS}
        st["failed"] = len(rs) - len(ok)
        st["disturbed"] = len(ok) - len(quiet) if quiet else 0
        st["all_disturbed"] = bool(ok) and not quiet
        st["other_state"] = len(quiet or ok) - len(used)
        st["runs"] = len(rs)
        st["lost"] = sum(int(num(r["lost"]) or 0) for r in rs)
        st["reordered"] = sum(int(num(r["reordered"]) or 0) for r in rs)
        st["rtt"] = Stat(num(r.get(k)) for r in used for k in ("rtt_before_ns", "rtt_after_ns"))
        stats[key] = st
    return points, stats, state


def present(stats, idle):
    """The servers measured: the standard ones in their order, then others as they come."""
    seen = [k[1] for k in stats] + [r["server"] for r in idle]
    others = list(dict.fromkeys(s for s in seen if s not in SERVERS))
    for i, s in enumerate(others):
        COLOURS.setdefault(s, MORE_COLOURS[i % len(MORE_COLOURS)])
    return [s for s in SERVERS if s in seen] + others


def markdown(out, machine, points, stats, idle, recorded, state):
    servers = present(stats, idle)
    get = lambda p, s, f: stats.get((p, s), {}).get(f, Stat([]))
    # Ratios are over ours, or over the first server when ours is absent.
    base = "ours" if "ours" in servers else servers[0] if servers else "ours"
    others = [s for s in servers if s != base]
    lines = ["# Fan-out benchmark", ""]
    lines += [
        "Generated by `scripts/bench-fanout.sh` (report: `scripts/bench_fanout_report.py`); raw runs in "
        "`fanout-runs.tsv` and `fanout-idle-memory.tsv`.",
        "",
        f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, {machine.get('kernel', '?')}; "
        f"{machine.get('rustc', '?')}; Bun {machine.get('bun', '?')}, Node {machine.get('node', '?')} with ws "
        f"{machine.get('ws', '?')}, Python {machine.get('python', '?')} with websockets "
        f"{machine.get('websockets', '?')}; measured {machine.get('date', '?')}.",
        "",
        "Each server pinned to core 0 with one thread (ours `--threads 1`; Bun, Node and Python are one event "
        "loop each), `wsload --subscribers N` pinned to core 1, over 127.0.0.1: N subscribers and one publisher "
        "on `/topic/bench`, binary messages carrying publisher, sequence number and send time. *As fast as "
        f"possible* keeps a window of {machine.get('window', '?')} messages in flight (a message goes out once "
        "every subscriber has the one that many before it), so no server's slow-subscriber policy is ever "
        "triggered; *100/s* is one message every 10 ms, for latency. "
        f"{machine.get('secs', '?')} s per run after {machine.get('warmup', '?')} s of warm-up, "
        f"{machine.get('reps', '?')} runs per point with the servers interleaved, each run a fresh server "
        "process. Figures are medians, (min–max) over the runs"
        + (
            f"; runs during which other processes on this shared machine used {DISTURBED:.2f} cores or more "
            "(sampled over the middle of the window) are left out."
            if recorded
            else ". What other processes used during the runs was not recorded for these runs."
        ),
        "",
    ]
    if "note" in machine:
        lines += [f"**Note: {machine['note']}.**", ""]

    head = "| point | " + " | ".join(servers) + " | " + " | ".join(f"{base}/{s}" for s in others) + " |"
    rule = "|---|" + "---:|" * (len(servers) + len(others))

    def row(p, field, scale=1.0, digits=0):
        vals = [get(p, s, field) for s in servers]
        first = get(p, base, field)
        return (f"| {point_label(p)} | " + " | ".join(v.fmt(digits, scale) for v in vals) + " | "
                + " | ".join(fmt_ratio(ratio(first, get(p, s, field))) for s in others) + " |")

    fast = [p for p in points if p[2] == "max"]
    rated = [p for p in points if p[2] != "max"]
    if fast:
        lines += ["## Delivered messages per second, as fast as possible (higher is better)", "", head, rule]
        lines += [row(p, "msgs_per_s") for p in fast]
        lines += ["", "wsload's own CPU in cores (at "
                  f"{SATURATED:.2f} or more it saturates its core, and the rate is partly its limit):", "",
                  "| point | " + " | ".join(servers) + " |", "|---|" + "---:|" * len(servers)]
        for p in fast:
            lines.append(f"| {point_label(p)} | " + " | ".join(
                "–" if get(p, s, "cpu").median is None else f"{get(p, s, 'cpu').median:.2f}" for s in servers) + " |")
        lines.append("")
    if points:
        lines += ["## Server CPU per delivered message, ns (lower is better)", "", head, rule]
        lines += [row(p, "server_ns_per_msg") for p in points]
        lines += ["", "The server's CPU time over the window (all its threads) over the messages delivered in "
                  "it. Its split between user and kernel mode, in % of that time (tick-sampled):", "",
                  "| point | " + " | ".join(f"{s} user / kernel" for s in servers) + " |",
                  "|---|" + "---:|" * len(servers)]
        for p in points:
            cells = []
            for s in servers:
                u, k = get(p, s, "server_user").median, get(p, s, "server_sys").median
                cells.append("–" if u is None or k is None or u + k == 0
                             else f"{100 * u / (u + k):.0f} / {100 * k / (u + k):.0f}")
            lines.append(f"| {point_label(p)} | " + " | ".join(cells) + " |")
        if any(state[p] is not None for p in points):
            core, split = machine.get("rtt_core", f"{RTT_CORE:g}"), machine.get("rtt_split", f"{RTT_SPLIT:g}")
            lines += ["", "The core-to-core round trip before and after the runs (`core-rtt`), ns: about 65 "
                      "means the two vCPUs are hyperthreads of one physical core, which the server and wsload "
                      "then share; 115-150 near, 320-360 far on this VM. A run is *core* if both are at or under "
                      f"{core} ns, *near* if both are above that and at or under {split} ns, *far* if both are "
                      "above, *mixed* otherwise; every figure of a point comes from runs in the state named in "
                      "its row (the one in which every server has the most), and the other runs (*left out*, "
                      "same order) are not used:", "",
                      "| point | state | " + " | ".join(servers) + " | left out |",
                      "|---|---|" + "---:|" * len(servers) + "---:|"]
            lines += [f"| {point_label(p)} | {state[p]} | "
                      + " | ".join(get(p, s, "rtt").fmt(spread=True) for s in servers) + " | "
                      + ", ".join(str(stats.get((p, s), {}).get("other_state", 0)) for s in servers) + " |"
                      for p in points]
        lines.append("")
    if rated:
        lines += ["## Latency, publish to receive, at a fixed rate: p50 / p99 / max, ms (lower is better)", "",
                  "| point | " + " | ".join(servers) + " |", "|---|" + "---:|" * len(servers)]
        for p in rated:
            cells = []
            for s in servers:
                a, b, c = (get(p, s, f).median for f in ("p50_us", "p99_us", "max_us"))
                cells.append("–" if a is None else f"{a / 1e3:,.2f} / {b / 1e3:,.2f} / {c / 1e3:,.1f}")
            lines.append(f"| {point_label(p)} | " + " | ".join(cells) + " |")
        lines += ["", "Delivered messages per second at those points (the publisher's rate times the "
                  "subscribers, when the server keeps up):", "",
                  "| point | expected | " + " | ".join(servers) + " |", "|---|---:|" + "---:|" * len(servers)]
        for p in rated:
            expected = int(p[0]) * float(p[2])
            lines.append(f"| {point_label(p)} | {expected:,.0f} | "
                         + " | ".join(get(p, s, "msgs_per_s").fmt() for s in servers) + " |")
        lines.append("")
    if fast:
        lines += ["Latency as fast as possible is mostly the window's queue: p50 / p99 ms, "
                  "for reference:", "", "| point | " + " | ".join(servers) + " |", "|---|" + "---:|" * len(servers)]
        for p in fast:
            cells = []
            for s in servers:
                a, b = get(p, s, "p50_us").median, get(p, s, "p99_us").median
                cells.append("–" if a is None else f"{a / 1e3:,.1f} / {b / 1e3:,.1f}")
            lines.append(f"| {point_label(p)} | " + " | ".join(cells) + " |")
        lines.append("")

    lost = {s: sum(st["lost"] for (p, t), st in stats.items() if t == s) for s in servers}
    reordered = {s: sum(st["reordered"] for (p, t), st in stats.items() if t == s) for s in servers}
    lines += ["## Lost and reordered messages", "",
              "Summed over every run and subscriber (zero expected: no subscriber is ever slow): "
              + ", ".join(f"{s} {lost[s]:,} lost, {reordered[s]:,} reordered" for s in servers) + "."]
    disturbed = [(p, s) for (p, s), st in stats.items() if st["disturbed"]]
    if disturbed:
        lines += ["", f"Runs during which other work on the machine used {DISTURBED:.2f} cores or more (left out of "
                  "the figures): " + ", ".join(
                      f"{s} at {point_label(p)} ({stats[(p, s)]['disturbed']} of {stats[(p, s)]['runs']})"
                      for p, s in disturbed) + "."]
    noisy = [(p, s) for (p, s), st in stats.items() if st["all_disturbed"]]
    if noisy:
        lines += ["", "**Every run of these was disturbed by other work, and their figures are kept: "
                  + ", ".join(f"{s} at {point_label(p)}" for p, s in noisy) + ".**"]
    failed = [(p, s) for (p, s), st in stats.items() if st["failed"]]
    if failed:
        lines += ["", "Runs that failed (left out of the figures): " + ", ".join(
            f"{s} at {point_label(p)} ({stats[(p, s)]['failed']} of {stats[(p, s)]['runs']})" for p, s in failed
        ) + "."]
    lines.append("")

    memory = idle_memory(idle)
    if memory:
        lines += ["## Memory per idle connection", "",
                  "| server | connections | plain, bytes each | subscribed to one topic, bytes each | difference |",
                  "|---|---:|---:|---:|---:|"]
        for s in servers:
            m = memory.get(s)
            if not m:
                continue
            plain, sub = m.get("plain"), m.get("subscriber")
            diff = "–" if plain is None or sub is None else f"{sub.median - plain.median:+,.0f}"
            lines.append(f"| {s} | {m['conns']:,} | {'–' if plain is None else plain.fmt()} | "
                         f"{'–' if sub is None else sub.fmt()} | {diff} |")
        lines += ["", "Growth of the server's VmRSS from before the first connection to a few seconds after the "
                  "last handshake, over the connection count; each kind in a fresh process.", ""]

    lines += ["## The bar (issue 13)", "", "| check | point | value | bar | met |", "|---|---|---:|---:|:-:|"]
    for p in fast:
        if int(p[0]) < 10000 or not stats.get((p, "ours")) or not stats.get((p, "bun")):
            continue
        r = ratio(get(p, "ours", "msgs_per_s"), get(p, "bun", "msgs_per_s"))
        lines.append(f"| delivered msgs/s vs Bun | {point_label(p)} | {fmt_ratio(r)} | ≥ 1.00× | "
                     f"{'yes' if r is not None and r >= 1.0 else '**no**'} |")
        r = ratio(get(p, "ours", "server_ns_per_msg"), get(p, "bun", "server_ns_per_msg"))
        lines.append(f"| server CPU per delivered msg vs Bun | {point_label(p)} | {fmt_ratio(r)} | ≤ 0.80× | "
                     f"{'yes' if r is not None and r <= 0.8 else '**no**'} |")
    m = memory.get("ours", {})
    if m.get("plain") and m.get("subscriber"):
        d = m["subscriber"].median - m["plain"].median
        lines.append(f"| memory per idle subscriber over a plain connection | {m['conns']:,} conns | {d:+,.0f} B | "
                     f"≤ 2,048 B | {'yes' if d <= 2048 else '**no**'} |")
    lines += ["", "![bar chart](fanout.svg)", ""]
    (out / "fanout.md").write_text("\n".join(lines))


def idle_memory(idle):
    """server -> {kind: Stat of bytes per connection, 'conns': n}, from the runs without errors."""
    memory = {}
    for r in idle:
        m = memory.setdefault(r["server"], {"conns": int(r["conns"]), "values": {}})
        if r["errors"] == "0":
            m["values"].setdefault(r["kind"], []).append(num(r["bytes_per_conn"]))
    for m in memory.values():
        for kind, values in m.pop("values").items():
            m[kind] = Stat(values)
    return memory


def short_number(v):
    """Three significant digits: 2.9M, 185k, 7.4."""
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if v >= div:
            return f"{v / div:.3g}{unit}"
    return f"{v:.3g}"


def panel(points, stats, servers, field, title, y0, width, height, scale=1.0):
    """One grouped bar panel on a log scale, whiskers at min and max."""
    left, right = 70, 20
    plot_w, plot_h = width - left - right, height - 70
    top = y0 + 30
    values = [v / scale for (p, s), st in stats.items() if p in points for v in st[field].values if v]
    if not values:
        return []
    lo, hi, ticks = log_axis(min(values), max(values))
    y = lambda v: top + plot_h - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * plot_h
    out = [f'<text x="{left}" y="{y0 + 18}" font-size="14" font-weight="bold">{title}</text>']
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#dee2e6"/>')
        out.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" font-size="10" text-anchor="end">{tick_label(t)}</text>')
    group = plot_w / len(points)
    bar = group * 0.8 / len(servers)
    for i, p in enumerate(points):
        gx = left + i * group + group * 0.1
        for j, s in enumerate(servers):
            st = stats.get((p, s), {}).get(field)
            if st is None or not st.median:
                continue
            med, lo_v, hi_v = st.median / scale, st.lo / scale, st.hi / scale
            x = gx + j * bar
            out.append(
                f'<rect x="{x:.1f}" y="{y(med):.1f}" width="{bar - 2:.1f}" height="{top + plot_h - y(med):.1f}" '
                f'fill="{COLOURS[s]}"><title>{s}, {point_label(p)}: {med:,.2f}</title></rect>'
            )
            cx = x + (bar - 2) / 2
            if hi_v > lo_v:
                out.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(hi_v):.1f}" y2="{y(lo_v):.1f}" stroke="#212529"/>')
            label = short_number(med)
            out.append(f'<text x="{cx:.1f}" y="{y(hi_v) - 3:.1f}" font-size="8" text-anchor="middle">{label}</text>')
        out.append(
            f'<text x="{left + (i + 0.5) * group:.1f}" y="{top + plot_h + 16}" font-size="{11 if group >= 150 else 9}" '
            f'text-anchor="middle">{point_label(p, short=True)}</text>'
        )
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#495057"/>')
    return out


def chart(out, points, stats, idle):
    servers = present(stats, idle)
    fast = [p for p in points if p[2] == "max"]
    rated = [p for p in points if p[2] != "max"]
    width, ph = 960, 300
    panels = []
    if fast:
        panels.append((fast, "msgs_per_s", "Delivered messages per second, as fast as possible (log; higher is better)", 1.0))
    if points:
        panels.append((points, "server_ns_per_msg", "Server CPU per delivered message, ns (log; lower is better)", 1.0))
    if rated:
        panels.append((rated, "p99_us", "p99 latency at a fixed rate, ms (log; lower is better)", 1e3))
    memory = idle_memory(idle)
    mem_rows = [(s, k) for s in servers if s in memory for k in ("plain", "subscriber") if memory[s].get(k)]
    legend = 26  # a row of its own above the panels
    height = legend + len(panels) * ph + (40 + 20 * len(mem_rows) if mem_rows else 0) + 10
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for k, (pts, field, title, scale) in enumerate(panels):
        svg += panel(pts, stats, servers, field, title, legend + k * ph, width, ph, scale)
    if mem_rows:
        y0 = legend + len(panels) * ph + 10
        top = max(memory[s][k].median for s, k in mem_rows) or 1
        svg.append(f'<text x="70" y="{y0 + 8}" font-size="14" font-weight="bold">'
                   f'Memory per idle connection, bytes: plain and subscribed (lower is better)</text>')
        for n, (s, k) in enumerate(mem_rows):
            yy = y0 + 20 + n * 20
            v = memory[s][k].median
            w = max(1, v / top * 560)
            svg.append(f'<text x="255" y="{yy + 12}" font-size="11" text-anchor="end">{s}, {k}</text>')
            svg.append(f'<rect x="260" y="{yy}" width="{w:.1f}" height="14" fill="{COLOURS[s]}" '
                       f'fill-opacity="{0.55 if k == "plain" else 1}"/>')
            svg.append(f'<text x="{264 + w:.1f}" y="{yy + 12}" font-size="11">{v:,.0f}</text>')
    for k, s in enumerate(servers):
        x = width - 140 * len(servers) + k * 140
        svg.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{COLOURS[s]}"/>')
        svg.append(f'<text x="{x + 16}" y="16" font-size="12">{s}</text>')
    svg.append("</svg>")
    (out / "fanout.svg").write_text("\n".join(svg) + "\n")


def main():
    out = Path(sys.argv[1])
    machine = {r[0]: r[1] for r in csv.reader(open(out / "fanout-machine.tsv"), delimiter="\t") if len(r) == 2}
    runs = read_tsv(out / "fanout-runs.tsv") if (out / "fanout-runs.tsv").exists() else []
    idle = read_tsv(out / "fanout-idle-memory.tsv") if (out / "fanout-idle-memory.tsv").exists() else []
    core, split = float(machine.get("rtt_core", RTT_CORE)), float(machine.get("rtt_split", RTT_SPLIT))
    points, stats, state = collect(runs, core, split)
    # Older raw runs have no others_cpu column: nothing was left out of those.
    recorded = any("others_cpu" in r for r in runs)
    markdown(out, machine, points, stats, idle, recorded, state)
    chart(out, points, stats, idle)


if __name__ == "__main__":
    main()
