#!/usr/bin/env bash
# Runs the side-by-side bench suite (benches `nop`, `ring_overhead` and `echo`
# of package `ringio-benches`) ROUNDS times and prints, per benchmark group,
# the median over rounds of criterion's per-round median for each contender,
# the per-round spread, and the ratios tokio/ringio (> 1: ringio is faster)
# and ringio/raw_uring (the factor the engine costs over a raw io-uring loop).
#
# Usage:   benches/scripts/compare.sh [extra criterion args...]
# Example: ROUNDS=1 benches/scripts/compare.sh --measurement-time 1
#          ROUNDS=5 benches/scripts/compare.sh yield_now   # criterion filter
#
# Environment:
#   ROUNDS            rounds of the whole suite (default 3)
#   NOP_CPUS          taskset CPU list for the single-threaded `nop` and
#                     `ring_overhead` benches
#                     (default 0; empty = no pinning)
#   ECHO_CPUS         taskset CPU list for the `echo` bench, whose server and
#                     client run on two threads (default empty = no pinning;
#                     "0" forces both threads onto one core, which measures
#                     something different: context switches, not wake-ups)
#   OUT               where each round's criterion output goes
#                     (default $CARGO_TARGET_DIR/ringio-compare/<timestamp>)
#   CARGO_TARGET_DIR  as for cargo (default <workspace>/target)
#   CARGO_FLAGS       extra flags for every cargo invocation (e.g. --offline)
#   RINGIO_URING_SETUP  defer|coop|plain, read by the ringio runtime itself
#   REPORT_ONLY       if set, run nothing: re-print the table from an earlier
#                     run's $OUT/medians.tsv (OUT must be given)
#
# Every round writes criterion's output to $OUT/round<N> (CRITERION_HOME), so
# the rounds do not overwrite one another; the numbers are read from
# $OUT/round<N>/<group>/<contender>/new/{estimates,benchmark}.json, the same
# files criterion otherwise writes under target/criterion.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
NOP_CPUS=${NOP_CPUS-0}
ECHO_CPUS=${ECHO_CPUS-}
# shellcheck disable=SC2206 # word splitting of CARGO_FLAGS is intended
CARGO_FLAGS_ARR=(${CARGO_FLAGS:-})

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${OUT:-$TARGET/ringio-compare/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
if [[ -n ${REPORT_ONLY:-} ]]; then
    [[ -s $OUT/medians.tsv ]] || { echo "compare.sh: no $OUT/medians.tsv" >&2; exit 1; }
    ROUNDS=$(cut -f1 "$OUT/medians.tsv" | sort -u | wc -l)
fi

if command -v jq >/dev/null 2>&1; then
    # prints: group <TAB> contender <TAB> median_ns <TAB> elements-per-iteration
    read_estimate() {
        local dir=$1
        printf '%s\t%s\t%s\t%s\n' \
            "$(jq -r .group_id "$dir/benchmark.json")" \
            "$(jq -r .function_id "$dir/benchmark.json")" \
            "$(jq -r .median.point_estimate "$dir/estimates.json")" \
            "$(jq -r '.throughput.Elements // 0' "$dir/benchmark.json")"
    }
elif command -v python3 >/dev/null 2>&1; then
    read_estimate() {
        python3 - "$1" <<'PY'
import json, sys
d = sys.argv[1]
b = json.load(open(d + "/benchmark.json"))
e = json.load(open(d + "/estimates.json"))
t = (b.get("throughput") or {}).get("Elements", 0)
print(f"{b['group_id']}\t{b['function_id']}\t{e['median']['point_estimate']}\t{t}")
PY
    }
else
    echo "compare.sh: needs jq or python3 to read criterion's JSON" >&2
    exit 1
fi

# Prefix for pinning, or nothing if the CPU list is empty or not allowed here.
pin() {
    local cpus=$1
    if [[ -n $cpus ]] && command -v taskset >/dev/null 2>&1 && taskset -c "$cpus" true 2>/dev/null; then
        echo "taskset -c $cpus"
    elif [[ -n $cpus ]]; then
        echo "compare.sh: cannot pin to CPUs '$cpus'; running unpinned" >&2
    fi
}
NOP_PIN=$(pin "$NOP_CPUS")
ECHO_PIN=$(pin "$ECHO_CPUS")

if [[ -z ${REPORT_ONLY:-} ]]; then
    echo "== building (not timed)"
    cargo bench "${CARGO_FLAGS_ARR[@]}" -p ringio-benches --bench nop --bench ring_overhead --bench echo --no-run

    echo "== $ROUNDS round(s); output in $OUT"
    for ((r = 1; r <= ROUNDS; r++)); do
        home=$OUT/round$r
        echo "== round $r/$ROUNDS (nop pinned: '${NOP_PIN:-no}', echo pinned: '${ECHO_PIN:-no}')"
        # shellcheck disable=SC2086 # $NOP_PIN / $ECHO_PIN are command prefixes
        CRITERION_HOME=$home $NOP_PIN cargo bench "${CARGO_FLAGS_ARR[@]}" -p ringio-benches \
            --bench nop -- "$@" 2>&1 | tee "$OUT/round$r.nop.log"
        # shellcheck disable=SC2086
        CRITERION_HOME=$home $NOP_PIN cargo bench "${CARGO_FLAGS_ARR[@]}" -p ringio-benches \
            --bench ring_overhead -- "$@" 2>&1 | tee "$OUT/round$r.ring_overhead.log"
        # shellcheck disable=SC2086
        CRITERION_HOME=$home $ECHO_PIN cargo bench "${CARGO_FLAGS_ARR[@]}" -p ringio-benches \
            --bench echo -- "$@" 2>&1 | tee "$OUT/round$r.echo.log"
        find "$home" -path '*/new/estimates.json' -print0 | sort -z |
            while IFS= read -r -d '' f; do
                printf '%s\t' "$r"
                read_estimate "$(dirname "$f")"
            done >>"$OUT/medians.tsv"
    done
fi

echo
echo "== per-round medians: $OUT/medians.tsv (round, group, contender, median ns, elements/iter)"
echo "== median of $ROUNDS per-round medians (spread = min..max over rounds)"
echo
awk -F'\t' '
function fmt(ns) {
    if (ns >= 1e6) return sprintf("%.3f ms", ns / 1e6)
    if (ns >= 1e3) return sprintf("%.3f us", ns / 1e3)
    return sprintf("%.1f ns", ns)
}
function median(key,    n, i, j, t, a) {
    n = split(vals[key], a, " ")
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    lo[key] = a[1]; hi[key] = a[n]
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
    key = $2 SUBSEP $3
    vals[key] = (key in vals) ? vals[key] " " $4 : $4
    elems[$2] = $5
    if (!($2 in seen)) { seen[$2] = 1; groups[++ng] = $2 }
    if (!(($2, $3) in cseen)) { cseen[$2, $3] = 1; contenders[$2] = contenders[$2] " " $3 }
}
END {
    printf "%-18s %-9s %14s %25s %14s %16s\n", "group", "who", "median", "spread", "msgs/s", "ratio"
    for (g = 1; g <= ng; g++) {
        grp = groups[g]
        n = split(substr(contenders[grp], 2), cs, " ")
        r = ""; t = ""; w = ""
        for (i = 1; i <= n; i++) {
            key = grp SUBSEP cs[i]
            m[cs[i]] = median(key)
            if (cs[i] == "ringio") r = m[cs[i]]
            if (cs[i] == "tokio") t = m[cs[i]]
            if (cs[i] == "raw_uring") w = m[cs[i]]
        }
        for (i = 1; i <= n; i++) {
            key = grp SUBSEP cs[i]
            rate = (elems[grp] > 0) ? sprintf("%.0f", elems[grp] * 1e9 / m[cs[i]]) : "-"
            ratio = ""
            if (cs[i] == "tokio" && r != "" && r > 0) ratio = sprintf("tok/ring %.2fx", t / r)
            if (cs[i] == "raw_uring" && r != "" && w > 0) ratio = sprintf("ring/raw %.2fx", r / w)
            printf "%-18s %-9s %14s %25s %14s %16s\n", grp, cs[i], fmt(m[cs[i]]),
                fmt(lo[key]) " .. " fmt(hi[key]), rate, ratio
        }
    }
    print ""
    print "tok/ring = tokio median / ringio median: > 1 means ringio takes less time."
    print "ring/raw = ringio median / raw io-uring median: what the engine adds (1.00x = nothing)."
    print "nop_roundtrip pits ringio::nop() (an io_uring NOP round trip) against tokio::task::yield_now()."
}' "$OUT/medians.tsv" | tee "$OUT/summary.txt"
