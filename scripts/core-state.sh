# Sourced by the benchmark scripts: the vCPUs' state around a run.
# Needs CORE_RTT (benches/peers' core-rtt), RTT_CORE and RTT_SPLIT (ns).

# field LINE NAME: the value of NAME= in a wsload (or core-rtt) line.
field() {
    tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

# The core-to-core round trip now, in ns ("-" if it cannot be measured).
rtt() {
    local line
    line=$("$CORE_RTT" 2>/dev/null) || { echo -; return; }
    field "$line" rtt_ns
}

# state BEFORE AFTER: core (both at or under RTT_CORE: the two vCPUs are
# hyperthreads of one physical core), near (both above it and at or under
# RTT_SPLIT), far (both above RTT_SPLIT) or mixed.
state() {
    awk -v a="$1" -v b="$2" -v s="$RTT_SPLIT" -v c="$RTT_CORE" 'BEGIN {
        if (a == "-" || b == "-") print "mixed"
        else if (a <= c && b <= c) print "core"
        else if (a > c && b > c && a <= s && b <= s) print "near"
        else if (a > s && b > s) print "far"
        else print "mixed" }'
}
