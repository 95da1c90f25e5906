#!/usr/bin/env bash
# Side-by-side server benchmark for ringio-compat: the same echo server and
# the same hyper HTTP/1.1 server (benches/src/bin/compat_server.rs) on
# tokio::net, on ringio-compat over io_uring and over epoll, and (echo only)
# on ringio's own runtime; driven by benches/src/bin/loadgen.
#
# The main number is the server's CPU time per request at a fixed request
# rate (the *-rate workloads): the same work done, so any difference is the
# stack's overhead. Closed-loop workloads show throughput and latency at
# saturation. How runs are pinned, interleaved, retried and summarised, and
# the knobs they share (ROUNDS, DURATION, CONNS, SIZE, ECHO_RATE, ...): see
# benches/scripts/lib/serve_compare.sh.
#
# Usage:   benches/scripts/compat_compare.sh
# Example: ROUNDS=1 DURATION=2 benches/scripts/compat_compare.sh       # quick look
#          ROUNDS=5 DURATION=10 WARMUP=2 benches/scripts/compat_compare.sh
#          CONTENDERS="tokio compat-uring" WORKLOADS="echo-rate http-rate" benches/scripts/compat_compare.sh
#          WORKLOADS="echo-64c echo-512c-4k http-64c" benches/scripts/compat_compare.sh
#
# Environment (besides the shared ones):
#   CONTENDERS    any of: tokio compat-uring compat-ring-waits compat-completion compat-pinned-ready
#                 compat-pinned compat-epoll ringio-uring ringio-epoll
#                 (default "tokio compat-uring compat-pinned-ready compat-epoll ringio-uring";
#                 compat-uring is compat's default: io_uring, an unpinned reactor, readiness waits
#                 through the reactor's own epoll; compat-ring-waits is that with
#                 RINGIO_COMPAT_WAITS=ring: each readiness wait a POLL_ADD on the ring;
#                 compat-completion is that with RINGIO_COMPAT_READS=completion: reads take
#                 multishot completions instead of waiting for readiness and calling recv;
#                 compat-pinned-ready / compat-pinned are the two on reactors pinned to the
#                 current-thread runtime's thread (RINGIO_COMPAT_PINNED=1, DEFER_TASKRUN);
#                 ringio-* serve echo only and are skipped for http;
#                 any contender with "@base" appended runs BASELINE_BIN's compat_server instead,
#                 to compare a change with what it replaces in one interleaved run)
#   BASELINE_BIN  a release directory of another checkout, for the "@base" contenders
#   WORKLOADS     default: echo-1c echo-16c http-16c echo-rate http-rate
#   FLAVOUR       tokio runtime of the server: current|multi (default current)
set -euo pipefail

NAME=compat-compare
CONTENDERS=${CONTENDERS:-tokio compat-uring compat-pinned-ready compat-epoll ringio-uring}
WORKLOADS=${WORKLOADS:-echo-1c echo-16c http-16c echo-rate http-rate}
# shellcheck source=lib/serve_compare.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/serve_compare.sh"

bins() { echo "-p ringio-benches --bin compat_server --bin loadgen"; }

# server_cmd CONTENDER PROTO: the server's command line (nothing: not served).
server_cmd() {
    local stack backend reads="" pinned="" waits="" bin=$BIN contender=$1
    if [[ $contender == *@base ]]; then
        bin=${BASELINE_BIN:?"BASELINE_BIN must name the baseline's release directory for $contender"}
        contender=${contender%@base}
    fi
    case $contender in
    tokio) stack=tokio backend=- ;;
    compat-uring) stack=compat backend=uring ;;
    compat-ring-waits) stack=compat backend=uring waits=ring ;;
    compat-completion) stack=compat backend=uring reads=completion ;;
    compat-pinned-ready) stack=compat backend=uring pinned=1 ;;
    compat-pinned) stack=compat backend=uring reads=completion pinned=1 ;;
    compat-epoll) stack=compat backend=epoll ;;
    ringio-uring) stack=ringio backend=uring ;;
    ringio-epoll) stack=ringio backend=epoll ;;
    *) say "unknown contender '$1'"; exit 2 ;;
    esac
    [[ $2 == proxy ]] && return 0
    [[ $stack == ringio && $2 != echo ]] && return 0 # ringio's own runtime has no hyper server here
    local env="env -u RINGIO_BACKEND"
    [[ $backend != - ]] && env="env RINGIO_BACKEND=$backend"
    [[ -n $reads ]] && env+=" RINGIO_COMPAT_READS=$reads"
    [[ -n $pinned ]] && env+=" RINGIO_COMPAT_PINNED=$pinned"
    [[ -n $waits ]] && env+=" RINGIO_COMPAT_WAITS=$waits"
    echo "$env $bin/compat_server --stack $stack --proto $2 --flavour $FLAVOUR --addr 127.0.0.1:0"
}

main_compare
