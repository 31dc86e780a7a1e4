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

# run_errors STATUS LINE: a run's errors column from wsload's exit status
# and line: its errors= when it exited 0; when it did not, that count, or
# statusN where it says 0 (a fan-out run that lost or reordered messages
# exits 1 with errors=0), or "all" without a line. The reports take only
# runs whose column is 0 into their figures.
run_errors() {
    local errors
    errors=$(field "$2" errors)
    if [ "$1" != 0 ] || [ -z "$2" ]; then
        errors=${errors:-all}
        [ "$errors" = 0 ] && errors=status$1
    fi
    echo "$errors"
}
