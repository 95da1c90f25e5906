#!/usr/bin/env bash
# Storage benchmark: ringio (plain buffers) vs tokio::fs vs fio (io_uring
# plain and tuned, psync) on one 1 GiB file, plus the log store's puts/s and
# p99 latency. Not run by CI.
#
#   benches/scripts/storage_bench.sh                    # ROUNDS=3, SECONDS_PER_RUN=3
#   ROUNDS=5 SECONDS_PER_RUN=5 benches/scripts/storage_bench.sh
#   REPORT_ONLY=1 OUT=target/storage-bench/<run> benches/scripts/storage_bench.sh
#
# Knobs: ROUNDS, SECONDS_PER_RUN, BENCH_DIR (where the 1 GiB file lives;
# default /var/tmp/ringio-bench, which must not be tmpfs for O_DIRECT), CPU
# (the core everything under test is pinned to, default 0), CLIENT_CPU (the
# log store's load generator, default 1), WORKLOADS, CONTENDERS,
# LOGSTORE_CLIENTS ("1 16 128"), OUT, CARGO_FLAGS, PLOT (1: write the PNG).
#
# Method: every contender runs every workload once per round; the order of
# contenders rotates each round; the page cache is re-warmed (the file read
# once) before the buffered workloads of each round, since the O_DIRECT
# write workload invalidates cached pages. Reported: the median over rounds
# of each contender's IOPS, min..max, and the ratios the issue targets.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-3}
BENCH_DIR=${BENCH_DIR:-/var/tmp/ringio-bench}
CPU=${CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
WORKLOADS=${WORKLOADS:-"rand4k-buf-qd1 rand4k-buf-qd32 rand4k-buf-qd128 rand4k-direct-qd1 rand4k-direct-qd32 rand4k-direct-qd128 seqread1m-direct-qd8 seqwrite1m-direct-qd8"}
CONTENDERS=${CONTENDERS:-"ringio ringio-fixed tokio fio-uring fio-uring-tuned fio-psync"}
LOGSTORE_CLIENTS=${LOGSTORE_CLIENTS:-"1 16 128"}
OUT=${OUT:-target/storage-bench/$(date +%Y%m%d-%H%M%S)}
PLOT=${PLOT:-1}
FILE=$BENCH_DIR/file-1g

report() {
    local plot=()
    [ "$PLOT" = 1 ] && plot=(--plot "$OUT/storage.png")
    python3 benches/scripts/storage_report.py "$OUT" "${plot[@]}" | tee "$OUT/summary.md"
}

if [ "${REPORT_ONLY:-0}" = 1 ]; then
    report
    exit 0
fi

mkdir -p "$OUT" "$BENCH_DIR"
if ! command -v fio >/dev/null; then
    echo "installing fio"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq fio >/dev/null
fi
echo "== build (release)"
cargo build --release ${CARGO_FLAGS:-} -p ringio-benches --bin fileio -p ringio-examples --bin logstore
FILEIO=target/release/fileio
LOGSTORE=target/release/logstore

if [ ! -f "$FILE" ] || [ "$(stat -c %s "$FILE")" != 1073741824 ]; then
    echo "== creating $FILE (1 GiB of random bytes)"
    head -c 1073741824 /dev/urandom >"$FILE"
    sync "$FILE"
fi
fstype=$(stat -f -c %T "$BENCH_DIR")
{
    echo "date: $(date -u +%FT%TZ)"
    echo "kernel: $(uname -r)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) x $(nproc)"
    echo "filesystem: $fstype ($BENCH_DIR); device: $(df --output=source "$BENCH_DIR" | tail -1)"
    echo "fio: $(fio --version)"
    echo "pinned to CPU $CPU (log store clients on CPU $CLIENT_CPU); rounds $ROUNDS x ${SECONDS_PER_RUN}s"
    echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/conditions.txt"

# workload name -> fileio/fio parameters
params() {
    local w=$1
    rw=randread; bs=4096; direct=0
    case $w in
        rand4k-buf-*) ;;
        rand4k-direct-*) direct=1 ;;
        seqread1m-*) rw=read; bs=1048576; direct=1 ;;
        seqwrite1m-*) rw=write; bs=1048576; direct=1 ;;
    esac
    qd=${w##*-qd}
}

run_fio() {
    local engine=$1 extra=()
    local jobs=1 depth=$qd
    case $engine in
        fio-uring) extra=(--ioengine=io_uring) ;;
        fio-uring-tuned)
            local batch=$(( qd / 4 > 0 ? qd / 4 : 1 ))
            extra=(--ioengine=io_uring --fixedbufs --registerfiles --sqthread_poll=0
                --iodepth_batch_submit=$batch --iodepth_batch_complete_min=1 --iodepth_batch_complete_max=$qd) ;;
        fio-psync) extra=(--ioengine=psync --thread --group_reporting); jobs=$qd; depth=1 ;;
    esac
    local out
    out=$(taskset -c "$CPU" fio --name=bench --filename="$FILE" --size=1g --rw=$rw --bs=$bs \
        --iodepth=$depth --numjobs=$jobs --direct=$direct --invalidate=0 --norandommap --randrepeat=0 \
        --time_based --ramp_time=0.3 --runtime="$SECONDS_PER_RUN" --output-format=json "${extra[@]}")
    python3 -c '
import json, sys
j = json.loads(sys.argv[1]); rw = sys.argv[2]
side = "write" if rw == "write" else "read"
print(int(sum(job[side]["iops"] for job in j["jobs"])))' "$out" "$rw"
}

run_one() {
    local contender=$1
    case $contender in
        ringio | ringio-fixed | tokio)
            local flags=(--contender "$contender" --file "$FILE" --bs $bs --qd $qd --seconds "$SECONDS_PER_RUN")
            case $rw in randread) flags+=(--workload randread) ;; read) flags+=(--workload seqread) ;; write) flags+=(--workload seqwrite) ;; esac
            [ $direct = 1 ] && flags+=(--direct)
            taskset -c "$CPU" $FILEIO "${flags[@]}" 2>/dev/null | sed -n 's/.* iops=\([0-9]*\).*/\1/p'
            ;;
        fio-*) run_fio "$contender" ;;
    esac
}

read -r -a contenders <<<"$CONTENDERS"
: >"$OUT/iops.tsv"
for round in $(seq 1 "$ROUNDS"); do
    # Rotate the contender order.
    n=${#contenders[@]}
    order=()
    for i in $(seq 0 $((n - 1))); do order+=("${contenders[$(( (i + round - 1) % n ))]}"); done
    echo "== round $round/$ROUNDS (order: ${order[*]}); warming the page cache"
    cat "$FILE" >/dev/null
    for w in $WORKLOADS; do
        params "$w"
        for c in "${order[@]}"; do
            iops=$(run_one "$c")
            printf '%s\t%s\t%s\t%s\n' "$round" "$w" "$c" "${iops:-0}" | tee -a "$OUT/iops.tsv"
        done
    done
done

echo "== log store: puts/s and latency ($LOGSTORE_CLIENTS clients, 256-byte blobs)"
: >"$OUT/logstore.tsv"
for round in $(seq 1 "$ROUNDS"); do
    for clients in $LOGSTORE_CLIENTS; do
        dir=$BENCH_DIR/logstore
        rm -rf "$dir"
        coproc SERVER { exec taskset -c "$CPU" $LOGSTORE serve --dir "$dir" --listen 127.0.0.1:0 2>"$OUT/logstore-server.log"; }
        read -r _ addr mode <&"${SERVER[0]}"
        line=$(taskset -c "$CLIENT_CPU" $LOGSTORE bench --addr "$addr" --clients "$clients" --seconds "$SECONDS_PER_RUN" 2>/dev/null)
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        printf '%s\t%s\t%s\t%s\n' "$round" "$clients" "$mode" "$line" | tee -a "$OUT/logstore.tsv"
    done
done
rm -rf "$BENCH_DIR/logstore"
echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/conditions.txt"
report
