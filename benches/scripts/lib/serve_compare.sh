# Shared engine of the side-by-side server benchmarks (compat_compare.sh,
# net_compare.sh): a server per contender pinned to SERVER_CPUS, the load
# generator (benches/src/bin/loadgen) pinned to CLIENT_CPUS, every workload
# run once per contender per round, contenders interleaved and rotated each
# round, medians over rounds in the table.
#
# The sourcing script sets NAME (for messages and the output directory) and
# the defaults of CONTENDERS and WORKLOADS, defines `server_cmd CONTENDER
# PROTO UPSTREAM` (prints the server's command line, or nothing if the
# contender does not serve PROTO) and `bins` (the cargo --bin flags to
# build), then calls `main_compare`.
#
# Workloads (names parse as PROTO-CONNSc[-SIZE], PROTO-rate, idle):
#   echo-64c-4k   echo, 64 connections, 4 KiB messages, closed loop
#   echo-16c      echo, 16 connections, SIZE-byte messages
#   http-16c      hyper GET /, 16 connections
#   proxy-512c-64k  echo through the contender as an L4 proxy to an upstream
#                 tokio echo server (pinned with the loadgen, on CLIENT_CPUS)
#   echo-rate, http-rate, proxy-rate  fixed total rate (ECHO_RATE / HTTP_RATE),
#                 CONNS connections, SIZE bytes: compare CPU per request
#   idle          IDLE_CONNS idle connections (one 64 B echo each): the
#                 server's resident memory per connection
#
# Environment (all optional):
#   ROUNDS (3)  DURATION (3 s)  WARMUP (1 s)  CONNS (16)  SIZE (64)
#   ECHO_RATE (20000)  HTTP_RATE (10000)  IDLE_CONNS (10000)  FLAVOUR (current)
#   SPIN_US (1000: loadgen --spin-us)  SERVER_CPUS (0)  CLIENT_CPUS (1)
#   BUSY_RUNQ (2: a run where the server or loadgen waited for its CPU more
#     than this % of the window is discarded and repeated, RETRIES (2) times)
#   OUT (output directory)  CARGO_TARGET_DIR, CARGO_FLAGS  as for cargo
#   REPORT_ONLY  run nothing: re-print the tables from $OUT
#
# Output in $OUT: runs.jsonl (every loadgen JSON line, with round, workload
# and contender), results.tsv and idle.tsv (the same as columns),
# summary.txt (the tables), server.log and loadgen.log (stderr).
# shellcheck shell=bash

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
ECHO_RATE=${ECHO_RATE:-20000}
HTTP_RATE=${HTTP_RATE:-10000}
IDLE_CONNS=${IDLE_CONNS:-10000}
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

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release
OUT=${OUT:-$TARGET/$NAME/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
IDLE=$OUT/idle.tsv

say() { echo "$NAME: $*" >&2; }

# Prefix for pinning, or nothing if the CPU list is empty or not allowed here.
pin() {
    local cpus=$1
    if [[ -n $cpus ]] && command -v taskset >/dev/null 2>&1 && taskset -c "$cpus" true 2>/dev/null; then
        echo "taskset -c $cpus"
    elif [[ -n $cpus ]]; then
        say "cannot pin to CPUs '$cpus'; running unpinned"
    fi
}

# 64 -> 64, 4k -> 4096, 64k -> 65536, 1m -> 1048576.
bytes() {
    case $1 in
    *[kK]) echo $((${1%[kK]} * 1024)) ;;
    *[mM]) echo $((${1%[mM]} * 1024 * 1024)) ;;
    *) echo "$1" ;;
    esac
}

# The protocol a workload's server speaks: echo, http or proxy.
workload_proto() { echo "${1%%-*}"; }

# Loadgen arguments of a workload.
workload_args() {
    local w=$1 proto rest conns size
    proto=$(workload_proto "$w")
    rest=${w#*-}
    local lproto=$proto
    [[ $proto == proxy ]] && lproto=echo
    case $proto in echo | http | proxy) ;; idle) echo "--proto echo --size 64 --idle $IDLE_CONNS"; return ;;
    *) say "unknown workload '$w'"; exit 2 ;; esac
    if [[ $rest == rate ]]; then
        local rate=$ECHO_RATE
        [[ $proto == http ]] && rate=$HTTP_RATE
        echo "--proto $lproto --conns $CONNS --size $SIZE --rate $rate"
        return
    fi
    conns=${rest%%-*}
    size=$SIZE
    [[ $rest == *-* ]] && size=$(bytes "${rest#*-}")
    [[ $conns =~ ^[0-9]+c$ && $size =~ ^[0-9]+$ ]] || { say "unknown workload '$w'"; exit 2; }
    echo "--proto $lproto --conns ${conns%c} --size $size --rate 0"
}

# A flat field of a loadgen JSON line.
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }

busy() { awk -v q="$1" -v c="$2" -v m="$BUSY_RUNQ" 'BEGIN { exit !(q > m || c > m) }'; }

# Starts the upstream echo server of the proxy workloads (once per script run).
UPSTREAM=""
start_upstream() {
    [[ -n $UPSTREAM ]] && return
    local file=$OUT/upstream.addr
    # shellcheck disable=SC2086 # $CLIENT_PIN is a command prefix
    $CLIENT_PIN "$BIN/net_server" --stack tokio --proto echo --no-stdin >"$file" 2>>"$OUT/server.log" &
    UPSTREAM_PID=$!
    trap 'kill $UPSTREAM_PID 2>/dev/null || true' EXIT
    for _ in $(seq 50); do [[ -s $file ]] && break; sleep 0.1; done
    UPSTREAM=$(head -n 1 "$file")
    [[ -n $UPSTREAM ]] || { say "upstream echo server did not start"; exit 1; }
}

# Runs one workload against one contender; appends to runs.jsonl and
# results.tsv (or idle.tsv). Returns 1 (run discarded) if may_retry is 1 and
# the machine was busy.
run_one() {
    local round=$1 workload=$2 contender=$3 may_retry=$4
    local wargs proto cmd
    wargs=$(workload_args "$workload")
    proto=$(workload_proto "$workload")
    [[ $proto == idle ]] && proto=echo
    [[ $proto == proxy ]] && start_upstream
    cmd=$(server_cmd "$contender" "$proto" "$UPSTREAM")
    [[ -n $cmd ]] || return 0 # this contender does not serve this protocol
    local log=$OUT/server.log
    echo "== round $round $workload $contender: $cmd" >>"$log"

    # The server's stdin is the coproc pipe: closing it (or this script dying) stops the server.
    # shellcheck disable=SC2086 # $SERVER_PIN is a command prefix, $cmd a word list
    coproc SRV { exec $SERVER_PIN $cmd 2>>"$log"; }
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
    if [[ $workload == idle ]]; then
        echo "$line" >>"$OUT/runs.jsonl"
        printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$contender" "$(field idle_conns "$json")" \
            "$(field rss_kb "$json")" "$(field idle_bytes_per_conn "$json")" >>"$IDLE"
        printf '  %-14s %-13s %6s B per idle connection (RSS %s kB with %s)\n' "$workload" "$contender" \
            "$(field idle_bytes_per_conn "$json")" "$(field rss_kb "$json")" "$(field idle_conns "$json")" >&2
        return 0
    fi
    local rps target errors lag runq crunq
    rps=$(field rps "$json")
    lag=$(field send_lag_p99_us "$json")
    target=$(field rate_target "$json")
    errors=$(field errors "$json")
    runq=$(field server_runq_pct "$json")
    crunq=$(field client_runq_pct "$json")
    if [[ $may_retry == 1 ]] && busy "$runq" "$crunq"; then
        say "  $workload $contender: busy (run queue ${runq}% / ${crunq}%), run discarded; again in 2 s"
        echo "$line" >>"$OUT/discarded.jsonl"
        return 1
    fi
    echo "$line" >>"$OUT/runs.jsonl"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$workload" "$contender" "$target" "$rps" \
        "$(field p50_us "$json")" "$(field p99_us "$json")" "$(field server_cpu_pct "$json")" \
        "$(field server_cpu_us_per_req "$json")" "$errors" "$runq" "$lag" >>"$RESULTS"
    printf '  %-14s %-13s %8.0f req/s  p50 %7s us  p99 %8s us  server CPU %5s%%  %7s us/req  runq %4s%%\n' \
        "$workload" "$contender" "$rps" "$(field p50_us "$json")" "$(field p99_us "$json")" \
        "$(field server_cpu_pct "$json")" "$(field server_cpu_us_per_req "$json")" "$runq" >&2
    [[ $errors == 0 ]] || say "  warning: $errors connection(s) failed"
    if awk -v r="$rps" -v t="$target" 'BEGIN { exit !(t > 0 && r < 0.97 * t) }'; then
        say "  warning: $rps req/s is below the target $target; CPU per request is not comparable"
    fi
    if busy "$runq" "$crunq"; then
        say "  warning: server or loadgen waited for its CPU (run queue ${runq}% / ${crunq}%): busy machine?"
    fi
    if awk -v l="$lag" 'BEGIN { exit !(l > 200) }'; then
        say "  warning: the loadgen sent 1% of requests over ${lag} us late (busy machine?); latencies include that"
    fi
}

run_all() {
    SERVER_PIN=$(pin "$SERVER_CPUS")
    CLIENT_PIN=$(pin "$CLIENT_CPUS")
    read -r -a contenders <<<"$CONTENDERS"
    read -r -a workloads <<<"$WORKLOADS"
    for w in "${workloads[@]}"; do workload_args "$w" >/dev/null; done

    echo "== building (not timed)"
    # shellcheck disable=SC2046 # `bins` prints a word list
    cargo build "${CARGO_FLAGS_ARR[@]}" --release $(bins)

    {
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
        echo "kernel: $(uname -r)  cpus: $(nproc)  server: '${SERVER_PIN:-unpinned}'  loadgen: '${CLIENT_PIN:-unpinned}'"
        echo "rounds: $ROUNDS  duration: ${DURATION}s (+${WARMUP}s warm-up)  flavour: $FLAVOUR  conns: $CONNS  size: $SIZE B  spin: ${SPIN_US} us"
        echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
    } >"$OUT/header.txt"
    cat "$OUT/header.txt"
    : >"$RESULTS"
    : >"$IDLE"
    local n=${#contenders[@]} r w i c a
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
}

# The table of medians over rounds, from results.tsv and idle.tsv.
report() {
    [[ -s $OUT/header.txt ]] && cat "$OUT/header.txt"
    echo
    if [[ -s $RESULTS ]]; then
        awk -F'\t' -f "$ROOT/benches/scripts/lib/medians.awk" "$RESULTS"
    fi
    if [[ -s $IDLE ]]; then
        echo
        awk -F'\t' '
{ k = $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k }; v[k] = (k in v) ? v[k] " " $5 : $5; c[k] = $3 }
function median(s,    m, i, j, t, a) {
    m = split(s, a, " ")
    for (i = 2; i <= m; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
    printf "%-13s %12s %22s\n", "contender", "idle conns", "bytes per idle conn"
    for (i = 1; i <= n; i++) printf "%-13s %12s %22.0f\n", order[i], c[order[i]], median(v[order[i]])
    print "bytes per idle conn: growth of the server'"'"'s resident memory from 1,000 to the given number of idle"
    print "connections (one 64 B echo each), over the connections added; median over rounds."
}' "$IDLE"
    fi
}

main_compare() {
    if [[ -z ${REPORT_ONLY:-} ]]; then
        run_all
    fi
    [[ -s $RESULTS || -s $IDLE ]] || { say "no results in $OUT"; exit 1; }
    echo
    echo "== medians over rounds; raw runs in $OUT/runs.jsonl"
    report | tee "$OUT/summary.txt"
}
