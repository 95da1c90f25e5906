#!/usr/bin/env bash
# Side-by-side server benchmark: the same echo server and the same hyper
# HTTP/1.1 server (benches/src/bin/compat_server.rs) on tokio::net, on
# ringio-compat over io_uring and over epoll, and (echo only) on ringio's own
# runtime; driven by benches/src/bin/loadgen.rs.
#
# The server is pinned to SERVER_CPUS (default CPU 0), the load generator to
# CLIENT_CPUS (default CPU 1). Every round runs every workload once per
# contender, contenders interleaved (and rotated each round, so none always
# goes first); the table shows medians over rounds. The main number is the
# server's CPU time per request at a fixed request rate (the rate workloads):
# the same work done, so any difference is the stack's overhead. Closed-loop
# workloads show throughput and latency at saturation.
#
# Usage:   benches/scripts/compat_compare.sh
# Example: ROUNDS=1 DURATION=2 benches/scripts/compat_compare.sh       # quick look
#          ROUNDS=5 DURATION=10 WARMUP=2 benches/scripts/compat_compare.sh
#          CONTENDERS="tokio compat-uring" WORKLOADS="echo-rate http-rate" benches/scripts/compat_compare.sh
#
# Environment:
#   ROUNDS        rounds (default 3)
#   DURATION      measured seconds per run (default 3)
#   WARMUP        seconds of load before each measured window (default 1)
#   CONTENDERS    any of: tokio compat-uring compat-epoll ringio-uring ringio-epoll
#                 (default "tokio compat-uring compat-epoll ringio-uring";
#                 ringio-* serve echo only and are skipped for http)
#   WORKLOADS     any of: echo-1c echo-16c http-16c echo-rate http-rate
#                 (default: all five, in that order)
#   ECHO_RATE     requests/s of echo-rate (default 20000)
#   HTTP_RATE     requests/s of http-rate (default 10000)
#   CONNS         connections of the 16c and rate workloads (default 16)
#   SIZE          echo payload bytes (default 64)
#   FLAVOUR       tokio runtime of the server: current|multi (default current)
#   SPIN_US       loadgen --spin-us: at a fixed rate, poll instead of sleeping for the
#                 last SPIN_US microseconds before each send (default 1000; 0 = only sleep)
#   SERVER_CPUS   taskset CPU list for the server (default 0; empty = unpinned)
#   CLIENT_CPUS   taskset CPU list for the load generator (default 1; empty = unpinned)
#   BUSY_RUNQ     a run where the server or the loadgen waited for its CPU more than this
#                 % of the window counts as disturbed (default 2)
#   RETRIES       how often a disturbed run is discarded and repeated (default 2; the
#                 last try is kept, with a warning)
#   OUT           output directory (default $CARGO_TARGET_DIR/compat-compare/<timestamp>)
#   CARGO_TARGET_DIR, CARGO_FLAGS (e.g. --offline)  as for cargo
#   REPORT_ONLY   if set, run nothing: re-print the table from $OUT/results.tsv
#
# Output: $OUT/runs.jsonl (the loadgen's JSON line of every run, with round,
# workload and contender added; discarded runs go to discarded.jsonl), $OUT/results.tsv (the same, as columns),
# $OUT/summary.txt (the table), $OUT/server.log and $OUT/loadgen.log (stderr of each).
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
CONTENDERS=${CONTENDERS:-tokio compat-uring compat-epoll ringio-uring}
WORKLOADS=${WORKLOADS:-echo-1c echo-16c http-16c echo-rate http-rate}
ECHO_RATE=${ECHO_RATE:-20000}
HTTP_RATE=${HTTP_RATE:-10000}
CONNS=${CONNS:-16}
SIZE=${SIZE:-64}
FLAVOUR=${FLAVOUR:-current}
SPIN_US=${SPIN_US:-1000}
BUSY_RUNQ=${BUSY_RUNQ:-2}
RETRIES=${RETRIES:-2}
SERVER_CPUS=${SERVER_CPUS-0}
CLIENT_CPUS=${CLIENT_CPUS-1}
# shellcheck disable=SC2206 # word splitting of CARGO_FLAGS is intended
CARGO_FLAGS_ARR=(${CARGO_FLAGS:-})

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release
OUT=${OUT:-$TARGET/compat-compare/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv

say() { echo "compat_compare: $*" >&2; }

# Prefix for pinning, or nothing if the CPU list is empty or not allowed here.
pin() {
    local cpus=$1
    if [[ -n $cpus ]] && command -v taskset >/dev/null 2>&1 && taskset -c "$cpus" true 2>/dev/null; then
        echo "taskset -c $cpus"
    elif [[ -n $cpus ]]; then
        say "cannot pin to CPUs '$cpus'; running unpinned"
    fi
}

# Loadgen arguments of a workload.
workload_args() {
    case $1 in
    echo-1c) echo "--proto echo --conns 1 --size $SIZE --rate 0" ;;
    echo-16c) echo "--proto echo --conns $CONNS --size $SIZE --rate 0" ;;
    http-16c) echo "--proto http --conns $CONNS --rate 0" ;;
    echo-rate) echo "--proto echo --conns $CONNS --size $SIZE --rate $ECHO_RATE" ;;
    http-rate) echo "--proto http --conns $CONNS --rate $HTTP_RATE" ;;
    *) say "unknown workload '$1'"; exit 2 ;;
    esac
}

# compat_server --stack of a contender, and the RINGIO_BACKEND it runs with.
contender_stack() {
    case $1 in
    tokio) echo "tokio -" ;;
    compat-uring) echo "compat uring" ;;
    compat-epoll) echo "compat epoll" ;;
    ringio-uring) echo "ringio uring" ;;
    ringio-epoll) echo "ringio epoll" ;;
    *) say "unknown contender '$1'"; exit 2 ;;
    esac
}

# A flat field of a loadgen JSON line.
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }

# Runs one workload against one contender; appends to runs.jsonl and results.tsv.
# Returns 1 (run discarded) if may_retry is 1 and the machine was busy.
run_one() {
    local round=$1 workload=$2 contender=$3 may_retry=$4
    local wargs proto stack backend
    wargs=$(workload_args "$workload")
    proto=$(awk '{print $2}' <<<"$wargs")
    read -r stack backend <<<"$(contender_stack "$contender")"
    if [[ $stack == ringio && $proto != echo ]]; then
        return 0 # ringio's own runtime has no hyper server here
    fi
    local envs=(env -u RINGIO_BACKEND)
    [[ $backend != - ]] && envs=(env "RINGIO_BACKEND=$backend")
    local log=$OUT/server.log
    echo "== round $round $workload $contender" >>"$log"

    # The server's stdin is the coproc pipe: closing it (or this script dying) stops the server.
    # shellcheck disable=SC2086 # $SERVER_PIN is a command prefix
    coproc SRV { exec "${envs[@]}" $SERVER_PIN "$BIN/compat_server" --stack "$stack" --proto "$proto" \
        --flavour "$FLAVOUR" --addr 127.0.0.1:0 2>>"$log"; }
    local pid=$SRV_PID out_fd=${SRV[0]} in_fd=${SRV[1]} addr=""
    read -r -t 10 -u "$out_fd" addr || true
    if [[ -z $addr ]]; then
        say "round $round $workload $contender: server did not start ($(tail -n 1 "$log"))"
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        return 0
    fi

    local json status=0
    # shellcheck disable=SC2086 # $CLIENT_PIN is a command prefix, $wargs a word list
    json=$($CLIENT_PIN "$BIN/loadgen" --addr "$addr" $wargs --duration "$DURATION" --warmup "$WARMUP" \
        --spin-us "$SPIN_US" --server-pid "$pid" 2>>"$OUT/loadgen.log") || status=$?

    exec {in_fd}>&-
    exec {out_fd}<&-
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true

    if [[ $status -ne 0 || -z $json ]]; then
        say "round $round $workload $contender: loadgen failed (status $status; see $OUT/loadgen.log)"
        return 0
    fi
    local line="{\"round\":$round,\"workload\":\"$workload\",\"contender\":\"$contender\",${json#\{}"
    local rps target errors lag runq crunq
    rps=$(field rps "$json")
    lag=$(field send_lag_p99_us "$json")
    target=$(field rate_target "$json")
    errors=$(field errors "$json")
    runq=$(field server_runq_pct "$json")
    crunq=$(field client_runq_pct "$json")
    if [[ $may_retry == 1 ]] &&
        awk -v q="$runq" -v c="$crunq" -v m="$BUSY_RUNQ" 'BEGIN { exit !(q > m || c > m) }'; then
        say "  $workload $contender: busy (run queue ${runq}% / ${crunq}%), run discarded; again in 2 s"
        echo "$line" >>"$OUT/discarded.jsonl"
        return 1
    fi
    echo "$line" >>"$OUT/runs.jsonl"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$workload" "$contender" "$target" "$rps" \
        "$(field p50_us "$json")" "$(field p99_us "$json")" "$(field server_cpu_pct "$json")" \
        "$(field server_cpu_us_per_req "$json")" "$errors" "$runq" "$lag" >>"$RESULTS"
    printf '  %-10s %-13s %8.0f req/s  p50 %7s us  p99 %8s us  server CPU %5s%%  %7s us/req  runq %4s%%\n' \
        "$workload" "$contender" "$rps" "$(field p50_us "$json")" "$(field p99_us "$json")" \
        "$(field server_cpu_pct "$json")" "$(field server_cpu_us_per_req "$json")" "$runq" >&2
    [[ $errors == 0 ]] || say "  warning: $errors connection(s) failed"
    if awk -v r="$rps" -v t="$target" 'BEGIN { exit !(t > 0 && r < 0.97 * t) }'; then
        say "  warning: $rps req/s is below the target $target; CPU per request is not comparable"
    fi
    if awk -v q="$runq" -v c="$crunq" -v m="$BUSY_RUNQ" 'BEGIN { exit !(q > m || c > m) }'; then
        say "  warning: server or loadgen waited for its CPU (run queue ${runq}% / ${crunq}%): busy machine?"
    fi
    if awk -v l="$lag" 'BEGIN { exit !(l > 200) }'; then
        say "  warning: the loadgen sent 1% of requests over ${lag} us late (busy machine?); latencies include that"
    fi
}

if [[ -z ${REPORT_ONLY:-} ]]; then
    SERVER_PIN=$(pin "$SERVER_CPUS")
    CLIENT_PIN=$(pin "$CLIENT_CPUS")
    read -r -a contenders <<<"$CONTENDERS"
    read -r -a workloads <<<"$WORKLOADS"
    for w in "${workloads[@]}"; do workload_args "$w" >/dev/null; done
    for c in "${contenders[@]}"; do contender_stack "$c" >/dev/null; done

    echo "== building (not timed)"
    cargo build "${CARGO_FLAGS_ARR[@]}" --release -p ringio-benches --bin compat_server --bin loadgen

    {
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
        echo "kernel: $(uname -r)  cpus: $(nproc)  server: '${SERVER_PIN:-unpinned}'  loadgen: '${CLIENT_PIN:-unpinned}'"
        echo "rounds: $ROUNDS  duration: ${DURATION}s (+${WARMUP}s warm-up)  flavour: $FLAVOUR  conns: $CONNS  echo size: $SIZE B  spin: ${SPIN_US} us"
        echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    } >"$OUT/header.txt"
    cat "$OUT/header.txt"
    : >"$RESULTS"
    n=${#contenders[@]}
    for ((r = 1; r <= ROUNDS; r++)); do
        echo "== round $r/$ROUNDS"
        for w in "${workloads[@]}"; do
            for ((i = 0; i < n; i++)); do
                c=${contenders[$(((i + r - 1) % n))]}
                a=0
                while ! run_one "$r" "$w" "$c" $((a < RETRIES ? 1 : 0)); do
                    a=$((a + 1))
                    sleep 2
                done
            done
        done
    done
fi

[[ -s $RESULTS ]] || { say "no results in $RESULTS"; exit 1; }
echo
echo "== medians over rounds; raw runs in $OUT/runs.jsonl"
{
    [[ -s $OUT/header.txt ]] && cat "$OUT/header.txt"
    echo
    awk -F'\t' '
function median(s,    n, i, j, t, a) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    spread = (n > 1) ? sprintf("%.2f..%.2f", a[1], a[n]) : "-"
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(key, v) { vals[key] = (key in vals) ? vals[key] " " v : v }
{
    w = $2; c = $3
    if (!(w in wseen)) { wseen[w] = 1; ws[++nw] = w; target[w] = $4 }
    if (!((w, c) in cseen)) { cseen[w, c] = 1; cs[w] = cs[w] " " c }
    add(w SUBSEP c SUBSEP "rps", $5); add(w SUBSEP c SUBSEP "p50", $6); add(w SUBSEP c SUBSEP "p99", $7)
    add(w SUBSEP c SUBSEP "cpu", $8); add(w SUBSEP c SUBSEP "cpr", $9); add(w SUBSEP c SUBSEP "rq", $11)
}
END {
    printf "%-10s %-13s %9s %8s %8s %6s %10s %13s %8s %8s %7s\n", "workload", "contender", "req/s", "p50 us", "p99 us",
        "CPU %", "CPU us/req", "(min..max)", "rps/tok", "cpu/tok", "runq %"
    for (i = 1; i <= nw; i++) {
        w = ws[i]
        n = split(substr(cs[w], 2), cl, " ")
        trps = ""; tcpr = ""
        for (j = 1; j <= n; j++) if (cl[j] == "tokio") {
            trps = median(vals[w SUBSEP "tokio" SUBSEP "rps"]); tcpr = median(vals[w SUBSEP "tokio" SUBSEP "cpr"])
        }
        for (j = 1; j <= n; j++) {
            k = w SUBSEP cl[j]
            rps = median(vals[k SUBSEP "rps"]); p50 = median(vals[k SUBSEP "p50"]); p99 = median(vals[k SUBSEP "p99"])
            cpu = median(vals[k SUBSEP "cpu"]); rq = median(vals[k SUBSEP "rq"])
            cpr = median(vals[k SUBSEP "cpr"]); cspread = spread
            r1 = (trps > 0) ? sprintf("%.2fx", rps / trps) : "-"
            r2 = (tcpr > 0) ? sprintf("%.2fx", cpr / tcpr) : "-"
            printf "%-10s %-13s %9.0f %8.1f %8.1f %6.1f %10.2f %13s %8s %8s %7.1f\n", w, cl[j], rps, p50, p99, cpu,
                cpr, cspread, r1, r2, rq
        }
    }
    print ""
    print "CPU % and CPU us/req: the server process (all threads), from /proc/<pid>/task/*/schedstat over the window."
    print "runq %: time the server was runnable but not running (wake-up delays make ~0.5% normal; more: something"
    print "        else ran on its CPU)."
    print "rps/tok: req/s over tokio (> 1: more). cpu/tok: CPU us per request over tokio (< 1: cheaper)."
    print "At a fixed rate (*-rate) req/s is the target for every contender, so cpu/tok is the comparison;"
    print "closed-loop workloads (*-1c, *-16c) saturate the server: compare req/s and latency."
}' "$RESULTS"
} | tee "$OUT/summary.txt"
