#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 60) and
# fails if any of them finds a crash, a timeout or an out-of-memory.
#
#   scripts/fuzz.sh [SECONDS]
#
# - Installs cargo-fuzz if it is missing.
# - Seeds fuzz/corpus/<target>/ from vectors/ (scripts/fuzz-seeds.py), and
#   also reads the committed fuzz/regressions/<target>/.
# - Toolchain: nightly when installed, else stable (FUZZ_TOOLCHAIN overrides).
#   Sanitizer: none by default (FUZZ_SANITIZER=address for ASan). The crate
#   forbids unsafe code, and without ASan libFuzzer runs about five times
#   faster; overflow checks and debug assertions stay on either way. ASan on
#   stable needs RUSTC_BOOTSTRAP=1, which this script sets.
# - A crash leaves its input in fuzz/artifacts/<target>/: minimise it with
#   `cargo fuzz tmin <target> <file>`, fix the bug, and keep the minimised
#   input in fuzz/regressions/<target>/ (cargo test replays it).
#
# Extra libFuzzer flags can be given in FUZZ_FLAGS, e.g. FUZZ_FLAGS=-jobs=2.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz

toolchain=${FUZZ_TOOLCHAIN:-}
if [[ -z $toolchain ]]; then
    if rustup run nightly rustc --version >/dev/null 2>&1; then
        toolchain=nightly
    else
        toolchain=stable
    fi
fi
sanitizer=${FUZZ_SANITIZER:-none}
if [[ $sanitizer != none && $toolchain != nightly ]]; then
    # Sanitizers need -Z flags; stable accepts them with this.
    export RUSTC_BOOTSTRAP=1
fi
# Cargo caches the compiler's answer to a -Z probe in here, keyed without
# the environment: a run without RUSTC_BOOTSTRAP poisons later runs with it.
rm -f fuzz/target/.rustc_info.json
fuzz=(cargo "+$toolchain" fuzz)
echo "fuzz.sh: $toolchain toolchain, sanitizer $sanitizer, ${secs}s per target"

if command -v python3 >/dev/null; then
    python3 scripts/fuzz-seeds.py vectors fuzz/corpus
else
    echo "fuzz.sh: no python3, corpora not seeded from vectors/" >&2
fi

"${fuzz[@]}" build --sanitizer "$sanitizer"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=()
summary=()
for target in $("${fuzz[@]}" list); do
    mkdir -p "fuzz/corpus/$target" "fuzz/regressions/$target"
    echo "== $target"
    # New inputs go to the first directory only; regressions stay as
    # committed.
    # shellcheck disable=SC2086
    if "${fuzz[@]}" run --sanitizer "$sanitizer" "$target" \
        "fuzz/corpus/$target" "fuzz/regressions/$target" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        ${FUZZ_FLAGS:-} >"$logs/$target" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$target")
        grep -E -A12 "panicked|ERROR: libFuzzer|SUMMARY" "$logs/$target" | head -40 || true
        grep -E "Reproduce with|fuzz/artifacts" "$logs/$target" | head -3 || true
    fi
    # The last status line: runs, coverage (edges), features, speed.
    last=$(grep -E '^#[0-9]+' "$logs/$target" | tail -1 || true)
    runs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
    cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
    ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
    speed=$(sed -nE 's/.* exec\/s: ([0-9]+).*/\1/p' <<<"$last")
    line=$(printf '%-20s %-6s runs %-11s exec/s %-8s cov %-6s ft %s' \
        "$target" "$status" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}")
    echo "$line"
    summary+=("$line")
done

echo
echo "== fuzz summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "fuzz.sh: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
