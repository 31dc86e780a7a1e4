"""Checks an Autobahn report (kosoku's index.json) against committed results.

usage: autobahn_check.py INDEX.json EXPECTED.json AGENT [--update | --only-run]

Fails unless every case's behaviour is OK or INFORMATIONAL with an OK or
INFORMATIONAL close (NON-STRICT fails), and unless the results equal the
committed ones, so any change, better or worse, is a reviewed diff.
With --only-run the committed results are those of the cases the report
holds (a run of a selection, compared with the full committed run).
"""
import json
import sys


def case_key(case):
    return tuple(int(part) for part in case.split("."))


def main(index_path, expected_path, agent, mode=""):
    agents = json.load(open(index_path))
    if agent not in agents:
        sys.exit(f"no results for agent {agent!r} in {index_path}: {sorted(agents)}")
    cases = agents[agent]
    results = {
        case: {"behavior": v["behavior"], "behaviorClose": v["behaviorClose"]}
        for case, v in sorted(cases.items(), key=lambda kv: case_key(kv[0]))
    }
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
        if mode == "--only-run":
            expected = {c: r for c, r in expected.items() if c in results}
        every = sorted(set(expected) | set(results), key=case_key)
        diff = [(c, expected.get(c), results.get(c)) for c in every if expected.get(c) != results.get(c)]
        for case, was, now in diff:
            print(f"CHANGED {case}: expected {was}, got {now}")
        if diff:
            sys.exit(f"{len(diff)} case(s) differ from {expected_path}; rerun with --update if intended")
    passing = ("OK", "INFORMATIONAL")
    bad = {c: r for c, r in results.items() if r["behavior"] not in passing or r["behaviorClose"] not in passing}
    for case, r in bad.items():
        print(f"FAILED {case}: {r}")
    if bad:
        sys.exit(f"{len(bad)} case(s) not OK/INFORMATIONAL")
    print("all cases OK or INFORMATIONAL, same as committed")


if __name__ == "__main__":
    main(*sys.argv[1:])
