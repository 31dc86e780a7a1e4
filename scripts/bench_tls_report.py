"""The TLS benchmark's report: medians of scripts/bench-tls.sh's runs.

usage: bench_tls_report.py DIR

Reads DIR/tls-runs.tsv, DIR/tls-idle-memory.tsv and DIR/tls-machine.tsv,
writes DIR/tls.md: echo over TLS against the same server in plain TCP
(server CPU per message, the TLS/plain ratio), ours against the best peer,
handshakes per second, and memory per idle connection.

Echo runs are compared within one core-to-core state per point (see
scripts/bench-tls.sh): the state, among core, near and far, in which the
TLS server with the fewest runs has the most. Runs recorded without a
state (or when no state has a run of every TLS server) are all used.
"""
import csv
import os
import statistics
import sys

SERVERS = ["ours", "ours-ring", "bun", "fastwebsockets"]
OURS = ["ours", "ours-ring"]
PEERS = ["bun", "fastwebsockets"]
# The provider only matters over TLS: ours-ring's plain runs are ours'.
PLAIN = {"ours-ring": "ours"}
STATES = ["core", "near", "far"]
LABEL = {
    "ours": "ours (mio + rustls, aws-lc-rs)",
    "ours-ring": "ours (mio + rustls, ring)",
    "bun": "Bun 1.4 (uWebSockets + BoringSSL)",
    "fastwebsockets": "fastwebsockets + tokio-rustls",
}


def median(values):
    values = [float(v) for v in values if v not in ("", "-", None)]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def main(out):
    runs = list(csv.DictReader(open(os.path.join(out, "tls-runs.tsv")), delimiter="\t"))
    machine = dict(line.rstrip("\n").split("\t", 1) for line in open(os.path.join(out, "tls-machine.tsv")))
    idle_path = os.path.join(out, "tls-idle-memory.tsv")
    idle = list(csv.DictReader(open(idle_path), delimiter="\t")) if os.path.exists(idle_path) else []
    errors = sum(1 for r in runs if r["errors"] not in ("0",))

    def all_rows(server, kind, size, depth):
        return [r for r in runs if r["server"] == server and r["kind"] == kind
                and r["size"] == size and r["pipeline"] == depth]

    def choose_state(size, depth):
        """(state, runs of the TLS server with the fewest), or (None, 0)."""
        best = (None, 0)
        for st in STATES:
            fewest = min(sum(1 for r in all_rows(s + "-tls", "echo", size, depth) if r.get("state") == st)
                         for s in SERVERS)
            if fewest > best[1]:
                best = (st, fewest)
        return best

    chosen = {}

    def rows_of(server, kind, size, depth):
        rows = all_rows(server, kind, size, depth)
        st = chosen.get((size, depth), (None, 0))[0] if kind == "echo" else None
        return [r for r in rows if r.get("state") == st] if st else rows

    def med(server, kind, size, depth, key):
        rows = rows_of(server, kind, size, depth)
        return median(r[key] for r in rows), len(rows)

    def spread(server, kind, size, depth, key):
        values = [float(r[key]) for r in rows_of(server, kind, size, depth) if r[key] not in ("", "-")]
        return f"{min(values):,.0f}-{max(values):,.0f}" if values else "-"

    points = []
    for r in runs:
        p = (r["size"], r["pipeline"])
        if r["kind"] == "echo" and p not in points:
            points.append(p)
    for p in points:
        chosen[p] = choose_state(*p)

    lines = ["# TLS: echo over wss:// and handshakes", ""]
    lines += [
        f"Produced by `scripts/bench-tls.sh` on {machine.get('date', '?')}: {machine.get('cpu', '?')}, "
        f"{machine.get('cores', '?')} cores, {machine.get('kernel', '?')}, {machine.get('rustc', '?')}, "
        f"Bun {machine.get('bun', '?')}. Medians of {machine.get('reps', '?')} interleaved runs of "
        f"{machine.get('secs', '?')} s (after {machine.get('warmup', '?')} s of warm-up), each server pinned "
        "to core 0 with one thread, wsload on core 1, 100 connections, wsload verifying the server's "
        "certificate (ECDSA P-256, a CA made for the run) with `--cafile`. The raw runs are in "
        "`tls-runs.tsv`.",
        "",
        "`ns/msg` is the server's CPU time per echoed message (`server_ns_per_msg`, all its threads), "
        "the figure that does not depend on whether wsload saturates its own core; `kept` is the "
        "server's plain-TCP CPU per message over its TLS one: the share of its cleartext throughput "
        "a CPU-bound server keeps over TLS (uWebSockets claims 60-80 %). `ours` is the default build "
        "(rustls' aws-lc-rs provider), `ours-ring` the same server built with rustls' ring provider "
        "(`--no-default-features --features server,cli,deflate,tls`); its plain figure is ours'.",
        "",
    ]
    if errors:
        lines += [f"**{errors} run(s) reported errors; see tls-runs.tsv.**", ""]

    lines += ["## Runs compared", "",
              "The core-to-core state of each point's compared runs (`core`: the two vCPUs are "
              f"hyperthreads of one core, round trip at most {machine.get('rtt_core', '?')} ns before "
              f"and after the run; `near`: above that and at most {machine.get('rtt_split', '?')} ns; "
              "`far`: above that), and how many runs of each TLS server it holds; runs in other "
              "states are left out of the medians below.", "",
              "| size | in flight | state | " + " | ".join(f"{s} TLS runs" for s in SERVERS) + " | left out |",
              "|---:|---:|---|" + "---:|" * len(SERVERS) + "---:|"]
    for size, depth in points:
        st, _ = chosen[(size, depth)]
        counts = [len(rows_of(s + "-tls", "echo", size, depth)) for s in SERVERS]
        total = sum(len(all_rows(s + "-tls", "echo", size, depth)) for s in SERVERS)
        lines.append(f"| {int(size) // 1024} KiB | {depth} | {st or 'all'} | "
                     + " | ".join(str(c) for c in counts) + f" | {total - sum(counts)} |")
    lines.append("")

    lines += ["## Echo: server CPU per message, TLS and plain", ""]
    head = "| size | in flight |"
    rule = "|---:|---:|"
    for s in SERVERS:
        head += f" {s} TLS ns/msg | {s} plain | {s} kept |"
        rule += "---:|---:|---:|"
    lines += [head, rule]
    for size, depth in points:
        row = f"| {int(size) // 1024} KiB | {depth} |"
        for s in SERVERS:
            tls, _ = med(s + "-tls", "echo", size, depth, "server_ns_per_msg")
            plain, _ = med(PLAIN.get(s, s), "echo", size, depth, "server_ns_per_msg")
            kept = plain / tls if tls and plain else None
            row += f" {fmt(tls)} | {fmt(plain)} | {fmt(kept * 100 if kept else None)} % |"
        lines.append(row)
    lines.append("")

    lines += ["## Echo over TLS: rate and latency", "",
              "| size | in flight | server | msgs/s | p50 µs | p99 µs | wsload cpu |",
              "|---:|---:|---|---:|---:|---:|---:|"]
    for size, depth in points:
        for s in SERVERS:
            name = s + "-tls"
            rate, _ = med(name, "echo", size, depth, "rate")
            p50, _ = med(name, "echo", size, depth, "p50_us")
            p99, _ = med(name, "echo", size, depth, "p99_us")
            cpu, _ = med(name, "echo", size, depth, "cpu")
            lines.append(f"| {int(size) // 1024} KiB | {depth} | {LABEL[s]} | {fmt(rate)} | {fmt(p50, 1)} | "
                         f"{fmt(p99, 1)} | {fmt(cpu, 2)} |")
    lines.append("")

    lines += ["## Ours against the best peer over TLS", "",
              "Ours' TLS CPU per message over the lowest of the peers' (the issue's bar: at most 1.0 "
              "with one message in flight, at most 0.8 with 16), with each provider.", "",
              "| size | in flight | ours | ours ns/msg | ours range | best peer | its ns/msg | its range | ratio | bar |",
              "|---:|---:|---|---:|---:|---|---:|---:|---:|---:|"]
    for size, depth in points:
        peers = [(med(s + "-tls", "echo", size, depth, "server_ns_per_msg")[0], s) for s in PEERS]
        peers = [p for p in peers if p[0]]
        for o in OURS:
            ours, _ = med(o + "-tls", "echo", size, depth, "server_ns_per_msg")
            if not peers or not ours:
                continue
            best, who = min(peers)
            bar = 1.0 if depth == "1" else 0.8
            verdict = "met" if ours / best <= bar else "missed"
            lines.append(f"| {int(size) // 1024} KiB | {depth} | {o} | {fmt(ours)} | "
                         f"{spread(o + '-tls', 'echo', size, depth, 'server_ns_per_msg')} | {who} | {fmt(best)} | "
                         f"{spread(who + '-tls', 'echo', size, depth, 'server_ns_per_msg')} | "
                         f"{ours / best:.2f} | {bar} ({verdict}) |")
    lines.append("")

    lines += ["## Handshakes per second", "",
              "16 connections at a time, each connecting (TCP, TLS 1.3 with X25519 and an ECDSA P-256 "
              "certificate, the upgrade), closing with a close handshake and connecting again. The "
              "rate is bounded by whichever side saturates first (wsload verifies every certificate "
              "chain); the server's CPU per handshake is the comparable figure.", "",
              "| server | TLS handshakes/s | server µs each | p50 connect→101 µs | plain handshakes/s | "
              "server µs each |",
              "|---|---:|---:|---:|---:|---:|"]
    for s in SERVERS:
        rate, _ = med(s + "-tls", "handshakes", "0", "0", "rate")
        ns, _ = med(s + "-tls", "handshakes", "0", "0", "server_ns_per_msg")
        p50, _ = med(s + "-tls", "handshakes", "0", "0", "p50_us")
        prate, _ = med(PLAIN.get(s, s), "handshakes", "0", "0", "rate")
        pns, _ = med(PLAIN.get(s, s), "handshakes", "0", "0", "server_ns_per_msg")
        lines.append(f"| {LABEL[s]} | {fmt(rate)} | {fmt(ns / 1e3 if ns else None, 1)} | {fmt(p50)} | "
                     f"{fmt(prate)} | {fmt(pns / 1e3 if pns else None, 1)} |")
    lines.append("")

    if idle:
        lines += ["## Memory per idle connection", "",
                  "Resident memory of the server holding N handshaken connections without traffic "
                  f"(held {IDLE_NOTE}), over its memory before them, per connection.", "",
                  "| server | connections | TLS bytes each | plain bytes each |", "|---|---:|---:|---:|"]
        by = {r["server"]: r for r in idle}
        for s in SERVERS:
            t, p = by.get(s + "-tls"), by.get(PLAIN.get(s, s))
            lines.append(f"| {LABEL[s]} | {t['conns'] if t else '-'} | "
                         f"{fmt(float(t['bytes_per_conn'])) if t else '-'} | "
                         f"{fmt(float(p['bytes_per_conn'])) if p else '-'} |")
        lines.append("")

    secs, warmup = machine.get("secs", "3"), machine.get("warmup", "1")
    lines += ["## Commands", "",
              "The whole run, as recorded here (`--no-build` after the build step's own commands; "
              "`/work/bin/bench-exclusive` is the shared machine's lock that keeps other work off "
              "the cores while it runs):", "",
              "```sh",
              "cargo build --release --bin echo-server --bin wsload --example test-certs",
              "cargo build --release --no-default-features --features server,cli,deflate,tls "
              "--target-dir target/ring --bin echo-server",
              "(cd benches/peers && cargo build --release --bin fastwebsockets-echo --bin fastwebsockets-tls-echo)",
              "(cd benches/peers/js && npm ci)",
              "/work/bin/bench-exclusive bash scripts/bench-tls.sh --no-build",
              "```", "",
              "Each echo run is one fresh server and one wsload (PORT free at run time, the PKI from "
              "`target/release/examples/test-certs DIR`):", "",
              "```sh",
              "taskset -c 0 target/release/echo-server --threads 1 --log warn --max-connections 20000 "
              "[--tls-cert DIR/cert.pem --tls-key DIR/key.pem] --listen 127.0.0.1:PORT",
              "taskset -c 0 target/ring/release/echo-server --threads 1 --log warn --max-connections 20000 "
              "--tls-cert DIR/cert.pem --tls-key DIR/key.pem --listen 127.0.0.1:PORT",
              "taskset -c 0 benches/peers/js/node_modules/@oven/bun-linux-x64/bin/bun "
              "benches/peers/js/bun-echo-tls.js --tls-cert DIR/cert.pem --tls-key DIR/key.pem --listen 127.0.0.1:PORT",
              "taskset -c 0 benches/peers/js/node_modules/@oven/bun-linux-x64/bin/bun "
              "benches/peers/js/bun-echo.js --listen 127.0.0.1:PORT",
              "taskset -c 0 benches/peers/target/release/fastwebsockets-tls-echo "
              "--tls-cert DIR/cert.pem --tls-key DIR/key.pem --listen 127.0.0.1:PORT",
              "taskset -c 0 benches/peers/target/release/fastwebsockets-echo --listen 127.0.0.1:PORT",
              f"taskset -c 1 target/release/wsload wss://localhost:PORT/ --cafile DIR/ca.pem --secs {secs} "
              f"--warmup {warmup} --server-pid SERVER_PID --conns 100 --size 1024|16384 --pipeline 1|16",
              f"taskset -c 1 target/release/wsload wss://localhost:PORT/ --cafile DIR/ca.pem --secs {secs} "
              f"--warmup {warmup} --server-pid SERVER_PID --churn --conns 16",
              "```", "",
              "(`ws://127.0.0.1:PORT/` for the plain runs.)", ""]

    with open(os.path.join(out, "tls.md"), "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


IDLE_NOTE = "past ours' 2 s idle sweep"

if __name__ == "__main__":
    main(sys.argv[1])
