"""Report for scripts/bench-echo.sh: reads DIR/echo-runs.tsv,
DIR/idle-memory.tsv and DIR/machine.tsv, writes DIR/echo.md (tables, the
issue's bars checked) and DIR/echo.svg (bar chart). Standard library only.

Servers are compared only on runs taken in the same core-to-core state:
for each point the report picks the state (near, far or core) in which
every server has the most runs, and takes every median from runs in that
state.

usage: bench_report.py DIR
"""
import csv
import math
import statistics
import sys
from pathlib import Path

SERVERS = ["ours", "fastwebsockets", "tokio-tungstenite", "bun", "uws-js", "tcp-floor"]
PEERS = ["fastwebsockets", "tokio-tungstenite", "bun", "uws-js"]
FLOOR = "tcp-floor"
NAMES = {
    "ours": "ours",
    "fastwebsockets": "fastwebsockets",
    "tokio-tungstenite": "tokio-tungstenite",
    "bun": "Bun",
    "uws-js": "uWebSockets.js",
    "tcp-floor": "TCP floor",
}
COLOURS = {
    "ours": "#d9480f",
    "fastwebsockets": "#1971c2",
    "tokio-tungstenite": "#868e96",
    "bun": "#f08c00",
    "uws-js": "#2f9e44",
    "tcp-floor": "#343a40",
}
# core: the two vCPUs are hyperthreads of one physical core. Directories
# recorded before bench-echo.sh told that state apart have no rtt_core in
# machine.tsv and stay as they were reported; in one that has it (runs
# appended to an older directory included), main() reclassifies runs by
# their round trips.
STATES = ["near", "far", "core"]
SATURATED = 0.95  # wsload cpu= at or above this: its core is the limit
FIELDS = ("rate", "p50_us", "p99_us", "cpu", "server_ns_per_msg", "user_ns_per_msg",
          "kernel_ns_per_msg", "hwm_kib", "rtt_before_ns", "rtt_after_ns")


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def size_label(n):
    n = int(n)
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} B"


def point_label(p):
    conns, size, depth = p
    label = f"{conns} × {size_label(size)}"
    return label + (f", pipeline {depth}" if depth != "1" else "")


class Stat:
    """Median and spread of one figure over runs."""

    def __init__(self, values):
        self.values = [v for v in values if v is not None]
        self.median = statistics.median(self.values) if self.values else None
        self.lo = min(self.values) if self.values else None
        self.hi = max(self.values) if self.values else None
        self.n = len(self.values)

    def fmt(self, digits=0, spread=False, count=False):
        if self.median is None:
            return "–"
        f = lambda v: f"{v:,.{digits}f}"
        text = f(self.median)
        if spread and self.n > 1:
            text += f" ({f(self.lo)}–{f(self.hi)})"
        if count:
            text += f" [{self.n}]"
        return text


EMPTY = Stat([])


def ratio(a, b):
    if a is None or b is None or a.median is None or b.median is None or b.median == 0:
        return None
    return a.median / b.median


def fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}×"


class Results:
    """The runs of one benchmark, grouped by point, server and state."""

    def __init__(self, runs, reps):
        self.reps = reps
        self.points, self.servers = [], []
        self.by_state = {}  # (point, server, state) -> [run]
        self.probes = {}  # (point, server) -> [run]
        self.failed = {}  # (point, server) -> count
        self.mixed = {}  # point -> count of runs in no one state
        self.busy = {}  # point -> count of runs disturbed by other work
        for r in runs:
            p = (r["conns"], r["size"], r["pipeline"])
            if p not in self.points:
                self.points.append(p)
            if r["server"] not in self.servers:
                self.servers.append(r["server"])
            if r["errors"] != "0":
                self.failed[(p, r["server"])] = self.failed.get((p, r["server"]), 0) + 1
                continue
            if r["kind"] == "probe":
                self.probes.setdefault((p, r["server"]), []).append(r)
            elif r["state"] in STATES:
                self.by_state.setdefault((p, r["server"], r["state"]), []).append(r)
            elif r["state"] == "busy":
                self.busy[p] = self.busy.get(p, 0) + 1
            else:
                self.mixed[p] = self.mixed.get(p, 0) + 1
        self.state = {p: self.choose_state(p) for p in self.points}

    def count(self, p, s, state):
        return len(self.by_state.get((p, s, state), []))

    def choose_state(self, p):
        """The state in which the server with the fewest runs has the most
        (near, then far, on a tie); None if no state has a run of every
        server."""
        best = max(STATES, key=lambda st: (min(self.count(p, s, st) for s in self.servers), -STATES.index(st)))
        return best if min(self.count(p, s, best) for s in self.servers) > 0 else None

    def stat(self, p, s, field, state=None):
        state = state or self.state.get(p)
        runs = self.by_state.get((p, s, state), [])
        return Stat(num(r[field]) for r in runs)

    def syscalls(self, p, s):
        probes = self.probes.get((p, s), [])
        calm = [r for r in probes if r["state"] != "busy"]
        return Stat(num(r["syscalls_per_msg"]) for r in calm or probes)

    def short_of_reps(self, p):
        st = self.state[p]
        return st is None or any(self.count(p, s, st) < self.reps for s in self.servers)


def other_load(run):
    """Cores used during a run by anything but the server and wsload."""
    busy, ours, load = num(run.get("machine_busy")), num(run.get("server_cpu")), num(run.get("cpu"))
    if busy is None or ours is None or load is None:
        return None
    return max(0.0, busy - ours - load)


def best_peer(res, p, field="server_ns_per_msg", state=None):
    """The peer with the lowest median of `field` at p, and its Stat."""
    cands = [(res.stat(p, s, field, state), s) for s in PEERS if s in res.servers]
    cands = [(st, s) for st, s in cands if st.median is not None]
    if not cands:
        return None, EMPTY
    st, s = min(cands, key=lambda c: c[0].median)
    return s, st


def header(machine, res, title):
    lines = [f"# {title}", ""]
    lines += [
        "Generated by `scripts/bench-echo.sh` (report: `scripts/bench_report.py`); "
        "raw runs in `echo-runs.tsv` and `idle-memory.tsv`.",
        "",
        f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
        f"{machine.get('kernel', '?')}; {machine.get('rustc', '?')}; Node {machine.get('node', '?')}, "
        f"Bun {machine.get('bun', '?')}; measured {machine.get('date', '?')}"
        + (f" to {machine['appended']}" if "appended" in machine else "") + ".",
        f"Each server pinned to core 0 (one event-loop thread), `wsload` pinned to core 1, over "
        f"127.0.0.1; {machine.get('secs', '?')} s measured per run after {machine.get('warmup', '?')} s "
        f"of warm-up, each run a fresh server process, the servers interleaved in rounds.",
        "",
        "**Same-state comparison.** The two vCPUs of this VM are sometimes near each other on the host "
        "and sometimes far, and the CPU per message moves with it. `core-rtt` measures the core-to-core "
        "round trip before and after every run: a run is "
        + (f"*core* if both are at or under {machine['rtt_core']} ns (the vCPUs are hyperthreads of one "
           "physical core, shared by the server and `wsload`), *near* if both are above that and at or under "
           if "rtt_core" in machine else "*near* if both are at or under ")
        + f"{machine.get('rtt_split', '?')} ns, *far* if both are above, *mixed* otherwise; a run during "
        f"which other processes used more than {machine.get('other_max', '?')} cores is *busy*. Mixed "
        "and busy runs are not used. "
        f"Rounds go on until every server has {machine.get('reps', '?')} runs in one state (at most "
        f"{machine.get('max_rounds', '?')} rounds); every figure of a point comes from runs in the state "
        "named in its row, and **[n]** is the number of runs its median rests on.",
        "",
    ]
    if "sched" in machine:
        lines += [f"Scheduling: {machine['sched']}.", ""]
    if "note" in machine:
        lines += [f"**Note: {machine['note']}.**", ""]
    return lines


def state_cell(res, p):
    st = res.state[p]
    if st is None:
        return "–"
    return st + (" (short)" if res.short_of_reps(p) else "")


def runs_table(res, servers):
    """How many runs each state got at each point, and how calm they were."""
    lines = ["", "## Runs and states", "",
             "Runs per state at each point (measured runs without errors, all servers), the state used, the "
             "median core-to-core round trip of the runs used, and the most CPU that anything other than the "
             "server and `wsload` used during one of them (the machine's busy time from /proc/stat over the "
             "window, less the two), in cores.", "",
             "| point | near | far | core | mixed | busy | used | round trip (ns) | other load, max |",
             "|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for p in res.points:
        near = sum(res.count(p, s, "near") for s in servers)
        far = sum(res.count(p, s, "far") for s in servers)
        core = sum(res.count(p, s, "core") for s in servers)
        st = res.state[p]
        used = [r for s in servers for r in res.by_state.get((p, s, st), [])]
        rtt = Stat(num(r[k]) for r in used for k in ("rtt_before_ns", "rtt_after_ns")).fmt()
        other = [other_load(r) for r in used]
        other = [o for o in other if o is not None]
        other = f"{max(other):.2f}" if other else "–"
        lines.append(f"| {point_label(p)} | {near} | {far} | {core} | {res.mixed.get(p, 0)} | {res.busy.get(p, 0)} "
                     f"| {state_cell(res, p)} | {rtt} | {other} |")
    return lines


def markdown(out, machine, res, idle):
    servers = [s for s in SERVERS if s in res.servers]
    names = " | ".join(NAMES[s] for s in servers)
    align = "---:|" * len(servers)
    lines = header(machine, res, "End-to-end echo benchmark")

    lines += ["## Server CPU per echoed message, ns (lower is better)", "",
              f"| point | state | {names} | best peer | ours / best peer |", f"|---|---|{align}---|---:|"]
    for p in res.points:
        cells = [res.stat(p, s, "server_ns_per_msg").fmt(count=True) for s in servers]
        peer, pst = best_peer(res, p)
        r = ratio(res.stat(p, "ours", "server_ns_per_msg"), pst)
        lines.append(f"| {point_label(p)} | {state_cell(res, p)} | " + " | ".join(cells)
                     + f" | {NAMES.get(peer, '–')} | {fmt_ratio(r)} |")
    lines += ["", "Medians [runs]. *short*: fewer than the asked runs in the best state after the last "
              "round; the figures still come from that one state.", ""]

    lines += ["## Messages per second (higher is better)", "",
              f"| point | state | {names} | wsload cpu (same order) |", f"|---|---|{align}---:|"]
    for p in res.points:
        cells = [res.stat(p, s, "rate").fmt() for s in servers]
        cpus = ", ".join("–" if res.stat(p, s, "cpu").median is None else f"{res.stat(p, s, 'cpu').median:.2f}"
                         for s in servers)
        lines.append(f"| {point_label(p)} | {state_cell(res, p)} | " + " | ".join(cells) + f" | {cpus} |")
    lines += ["", f"wsload cpu is its own CPU time over the window in cores; at {SATURATED:.2f} or more it "
              "saturates its core and the rate is partly its limit, which the server CPU per message does "
              "not depend on.", ""]

    lines += ["## Where each server's CPU goes", "",
              "User-space ns per message and its share of the server's CPU per message (from the "
              "server's utime and stime over the window), then system calls per message (`perf stat -e "
              "raw_syscalls:sys_enter` over a separate probe run of each server at each point, since "
              "enabling the tracepoint slows every system call). The rest of each server's CPU is kernel "
              "time: the system calls, the loopback TCP work and the wake-ups.", "",
              f"| point | {names} |", f"|---|{align}"]
    for p in res.points:
        cells = []
        for s in servers:
            u, t = res.stat(p, s, "user_ns_per_msg"), res.stat(p, s, "server_ns_per_msg")
            if u.median is None or not t.median:
                cells.append("–")
            else:
                cells.append(f"{u.median:,.0f} ({100 * u.median / t.median:.0f}%)")
        lines.append(f"| {point_label(p)} | " + " | ".join(cells) + " |")
    lines += ["", "System calls per message:", "", f"| point | {names} |", f"|---|{align}"]
    for p in res.points:
        lines.append(f"| {point_label(p)} | " + " | ".join(res.syscalls(p, s).fmt(2) for s in servers) + " |")

    if FLOOR in servers:
        lines += ["", "## Above the TCP floor", "",
                  "The floor is `tcp-echo` (benches/peers): our server's read and write pattern on mio with "
                  "no WebSocket work, driven by `wsload tcp://` with the same sizes and pacing. Each cell is "
                  "the server's CPU per message above the floor's, in ns, and that part's share of the "
                  "server's CPU per message.", "",
                  "| point | " + " | ".join(NAMES[s] for s in servers if s != FLOOR) + " |",
                  "|---|" + "---:|" * (len(servers) - 1)]
        for p in res.points:
            floor = res.stat(p, FLOOR, "server_ns_per_msg").median
            cells = []
            for s in servers:
                if s == FLOOR:
                    continue
                v = res.stat(p, s, "server_ns_per_msg").median
                if v is None or floor is None:
                    cells.append("–")
                else:
                    cells.append(f"{v - floor:,.0f} ({100 * (v - floor) / v:.0f}%)")
            lines.append(f"| {point_label(p)} | " + " | ".join(cells) + " |")

    lines += ["", "## Latency p50 / p99 (µs) and server peak memory (VmHWM, MiB)", "",
              f"| point | {names} | VmHWM (same order) |", f"|---|{align}---:|"]
    for p in res.points:
        lat = []
        for s in servers:
            a, b = res.stat(p, s, "p50_us").median, res.stat(p, s, "p99_us").median
            lat.append("–" if a is None else f"{a:,.0f} / {b:,.0f}")
        hwm = " / ".join("–" if res.stat(p, s, "hwm_kib").median is None
                         else f"{res.stat(p, s, 'hwm_kib').median / 1024:.1f}" for s in servers)
        lines.append(f"| {point_label(p)} | " + " | ".join(lat) + f" | {hwm} |")

    lines += runs_table(res, servers)
    other = []
    for p in res.points:
        st = res.state[p]
        for alt in STATES:
            if not st or alt == st or not all(res.count(p, s, alt) > 0 for s in servers):
                continue
            peer, pst = best_peer(res, p, state=alt)
            r = ratio(res.stat(p, "ours", "server_ns_per_msg", alt), pst)
            n = min(res.count(p, s, alt) for s in servers)
            other.append(f"| {point_label(p)} | {alt} | {NAMES.get(peer, '–')} | {fmt_ratio(r)} | {n} |")
    if other:
        lines += ["", "Where every server also has runs in another state, ours over the best peer there "
                  "(fewest runs of any server in the last column):", "",
                  "| point | state | best peer | ours / best peer | runs |", "|---|---|---|---:|---:|"] + other

    failed = [(p, s) for (p, s) in res.failed]
    if failed:
        lines += ["", "Runs that failed (left out of the figures): " + ", ".join(
            f"{NAMES.get(s, s)} at {point_label(p)} ({res.failed[(p, s)]})" for p, s in failed) + "."]

    per_conn = {r["server"]: r for r in idle}
    lines += ["", "## Memory per idle connection", "",
              "| server | connections | RSS before (KiB) | RSS held (KiB) | bytes per connection |",
              "|---|---:|---:|---:|---:|"]
    for s in servers:
        r = per_conn.get(s)
        if r:
            note = "" if r["errors"] == "0" else f" ({r['errors']} connections missing)"
            lines.append(f"| {NAMES[s]} | {int(r['conns']):,} | {int(r['rss_before_kib']):,} | "
                         f"{int(r['rss_after_kib']):,} | {int(r['bytes_per_conn']):,}{note} |")
    lines += ["", "Growth of the server's VmRSS from before the first connection to a few seconds after the "
              "last handshake (past our server's 2 s idle sweep), over the connection count.", ""]

    lines += ["## The bar (issue 19)", "", "| check | point | value | bar | met |", "|---|---|---:|---:|:-:|"]
    for p in res.points:
        peer, pst = best_peer(res, p)
        r = ratio(res.stat(p, "ours", "server_ns_per_msg"), pst)
        bar = 1.0 if p[2] == "1" else 0.8
        lines.append(f"| CPU/msg, ours over the best peer ({NAMES.get(peer, '–')}) | {point_label(p)} | "
                     f"{fmt_ratio(r)} | ≤ {bar:.2f}× | {'yes' if r is not None and r <= bar else '**no**'} |")
    for p in res.points:
        if p[2] != "1" or p[0] != "100" or p[1] not in ("20", "1024"):
            continue
        u, t = res.stat(p, "ours", "user_ns_per_msg"), res.stat(p, "ours", "server_ns_per_msg")
        if u.median is None or not t.median:
            continue
        share = u.median / t.median
        lines.append(f"| our user-space share of CPU/msg | {point_label(p)} | {100 * share:.1f}% | ≤ 10% | "
                     f"{'yes' if share <= 0.10 else '**no**'} |")
    lines += ["", "![bar chart](echo.svg)", ""]
    (out / "echo.md").write_text("\n".join(lines))


def log_axis(vmin, vmax):
    lo = 10 ** math.floor(math.log10(vmin))
    hi = 10 ** math.ceil(math.log10(vmax))
    ticks, d = [], lo
    while d <= hi:
        for m in (1, 2, 5):
            if lo <= d * m <= hi:
                ticks.append(d * m)
        d *= 10
    return lo, hi, ticks


def tick_label(v):
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if v >= div:
            return f"{v / div:g}{unit}"
    return f"{v:g}"


def panel(res, servers, field, title, y0, width, height):
    """One grouped bar panel on a log scale, whiskers at min and max."""
    left, right = 70, 20
    plot_w, plot_h = width - left - right, height - 70
    top = y0 + 30
    values = [v for p in res.points for s in servers for v in res.stat(p, s, field).values if v]
    if not values:
        return []
    lo, hi, ticks = log_axis(min(values), max(values))
    y = lambda v: top + plot_h - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * plot_h
    out = [f'<text x="{left}" y="{y0 + 18}" font-size="14" font-weight="bold">{title}</text>']
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#dee2e6"/>')
        out.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" font-size="10" text-anchor="end">{tick_label(t)}</text>')
    group = plot_w / len(res.points)
    bar = group * 0.84 / len(servers)
    for i, p in enumerate(res.points):
        gx = left + i * group + group * 0.08
        for j, s in enumerate(servers):
            st = res.stat(p, s, field)
            if not st.median:
                continue
            x = gx + j * bar
            w = max(bar - 1, 1)
            out.append(
                f'<rect x="{x:.1f}" y="{y(st.median):.1f}" width="{w:.1f}" '
                f'height="{top + plot_h - y(st.median):.1f}" fill="{COLOURS.get(s, "#adb5bd")}">'
                f"<title>{NAMES.get(s, s)}, {point_label(p)} ({res.state[p]}, {st.n} runs): "
                f"{st.median:,.0f}</title></rect>"
            )
            cx = x + w / 2
            if st.hi > st.lo:
                out.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(st.hi):.1f}" y2="{y(st.lo):.1f}" stroke="#212529"/>')
        conns, size, depth = p
        label = f"{conns}×{size_label(size)}" + (f" d{depth}" if depth != "1" else "")
        label_size = 11 if group >= 100 else 9  # px per group: keep labels apart
        out.append(f'<text x="{left + (i + 0.5) * group:.1f}" y="{top + plot_h + 16}" font-size="{label_size}" '
                   f'text-anchor="middle">{label}</text>')
        out.append(f'<text x="{left + (i + 0.5) * group:.1f}" y="{top + plot_h + 28}" font-size="8" '
                   f'text-anchor="middle" fill="#868e96">{res.state[p] or "–"}</text>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="#495057"/>')
    return out


def chart(out, res, idle):
    servers = [s for s in SERVERS if s in res.servers]
    width, ph = 1000, 330
    height = 2 * ph + 40 + 22 * len(servers) + 20
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    svg += panel(res, servers, "rate", "Messages per second (log scale; higher is better)", 0, width, ph)
    svg += panel(res, servers, "server_ns_per_msg",
                 "Server CPU per echoed message, ns (log scale; lower is better)", ph, width, ph)
    y0 = 2 * ph + 10
    per = {r["server"]: int(r["bytes_per_conn"]) for r in idle}
    if per:
        top = max(per.values()) or 1
        svg.append(f'<text x="70" y="{y0 + 8}" font-size="14" font-weight="bold">'
                   f'Memory per idle connection, bytes (lower is better)</text>')
        k = 0
        for s in servers:
            if s not in per:
                continue
            yy = y0 + 20 + k * 22
            k += 1
            w = max(1, per[s] / top * 600)
            svg.append(f'<text x="205" y="{yy + 13}" font-size="11" text-anchor="end">{NAMES[s]}</text>')
            svg.append(f'<rect x="210" y="{yy}" width="{w:.1f}" height="16" fill="{COLOURS[s]}"/>')
            svg.append(f'<text x="{214 + w:.1f}" y="{yy + 13}" font-size="11">{per[s]:,}</text>')
    for k, s in enumerate(servers):
        x = width - 6 * 118 + k * 118
        svg.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{COLOURS[s]}"/>')
        svg.append(f'<text x="{x + 16}" y="16" font-size="11">{NAMES[s]}</text>')
    svg.append("</svg>")
    (out / "echo.svg").write_text("\n".join(svg) + "\n")


def comparison(out, machine, res):
    """Any set of servers (bench-echo.sh --server/--tcp-server): medians in
    one state side by side, each over the first server. Printed, and
    written to DIR/echo.md."""
    servers = res.servers
    first = servers[0]
    lines = header(machine, res, "Echo benchmark comparison")
    lines += [f"Ratios are over `{first}`.", ""]
    for field, title in (("server_ns_per_msg", "server CPU ns per message"), ("rate", "messages per second"),
                         ("user_ns_per_msg", "user-space ns per message")):
        lines += [f"## {title}", "", "| point | state | " + " | ".join(servers) + " | "
                  + " | ".join(f"{s}/{first}" for s in servers[1:]) + " |",
                  "|---|---|" + "---:|" * (2 * len(servers) - 1)]
        for p in res.points:
            vals = [res.stat(p, s, field) for s in servers]
            lines.append(f"| {point_label(p)} | {state_cell(res, p)} | "
                         + " | ".join(v.fmt(spread=True, count=True) for v in vals) + " | "
                         + " | ".join(fmt_ratio(ratio(v, vals[0])) for v in vals[1:]) + " |")
        lines.append("")
    if res.probes:
        lines += ["## system calls per message", "", "| point | " + " | ".join(servers) + " |",
                  "|---|" + "---:|" * len(servers)]
        for p in res.points:
            lines.append(f"| {point_label(p)} | " + " | ".join(res.syscalls(p, s).fmt(2) for s in servers) + " |")
        lines.append("")
    lines += runs_table(res, servers) + [""]
    text = "\n".join(lines)
    (out / "echo.md").write_text(text)
    print(text)


def reclassify(runs, machine):
    """Where machine.tsv has rtt_core, runs recorded as near by the older
    rule (both round trips at or under rtt_split) become core if both are
    at or under rtt_core, mixed if only one is."""
    if "rtt_core" not in machine:
        return
    core = float(machine["rtt_core"])
    for r in runs:
        rtts = [num(r.get(k)) for k in ("rtt_before_ns", "rtt_after_ns")]
        if r.get("state") != "near" or any(v is None for v in rtts):
            continue
        at_core = [v <= core for v in rtts]
        if all(at_core):
            r["state"] = "core"
        elif any(at_core):
            r["state"] = "mixed"


def main():
    out = Path(sys.argv[1])
    machine = {}
    for r in csv.reader(open(out / "machine.tsv"), delimiter="\t"):
        if len(r) == 2:
            machine[r[0]] = r[1]
    runs = read_tsv(out / "echo-runs.tsv")
    reclassify(runs, machine)
    idle = read_tsv(out / "idle-memory.tsv") if (out / "idle-memory.tsv").exists() else []
    res = Results(runs, int(machine.get("reps", "3")))
    if sorted(res.servers) != sorted(SERVERS):
        comparison(out, machine, res)
        return
    markdown(out, machine, res, idle)
    chart(out, res, idle)


if __name__ == "__main__":
    main()
