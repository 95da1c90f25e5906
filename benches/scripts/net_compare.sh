#!/usr/bin/env bash
# Side-by-side network benchmark of ringio's own runtime against tokio,
# monoio and tokio-uring: the same echo server and the same layer-4 proxy
# (benches/src/bin/net_server/, one file per stack), one thread each, driven
# by benches/src/bin/loadgen. The proxy workloads put an upstream tokio echo
# server behind the contender (pinned with the loadgen), so the loadgen's
# requests cross the contender twice each way.
#
# Cells: connections 1, 64, 512 x messages 64 B, 4 KiB, 64 KiB, for echo
# and proxy; the server's CPU per request at a fixed rate (echo-rate,
# proxy-rate: CONNS connections at ECHO_RATE requests/s); and resident
# memory per idle connection (idle: IDLE_CONNS connections). How runs are
# pinned, interleaved, retried and summarised, and the shared knobs: see
# benches/scripts/lib/serve_compare.sh. Plot the result with
# `python3 benches/scripts/net_plot.py $OUT` (needs matplotlib).
#
# Usage:   benches/scripts/net_compare.sh
# Example: ROUNDS=1 DURATION=1 WARMUP=0.5 WORKLOADS="echo-64c-4k idle" benches/scripts/net_compare.sh
#          CONTENDERS="tokio ringio" WORKLOADS="proxy-64c-64k" RINGIO_COPY=splice benches/scripts/net_compare.sh
#
# Environment (besides the shared ones):
#   CONTENDERS    any of: tokio ringio ringio-epoll monoio tokio-uring
#                 (default "tokio ringio monoio tokio-uring")
#   WORKLOADS     default: the 18 cells, echo-rate, proxy-rate, idle
#   RINGIO_COPY   the ringio proxy's copies: buffers|splice (default buffers)
#   BUF_KIB       every stack's read buffer per connection (echo) or per
#                 direction (proxy), KiB (default 16)
set -euo pipefail

NAME=net-compare
CELLS=""
for proto in echo proxy; do
    for conns in 1 64 512; do
        for size in 64 4k 64k; do CELLS+=" $proto-${conns}c-$size"; done
    done
done
CONTENDERS=${CONTENDERS:-tokio ringio monoio tokio-uring}
WORKLOADS=${WORKLOADS:-${CELLS# } echo-rate proxy-rate idle}
CONNS=${CONNS:-64}
RINGIO_COPY=${RINGIO_COPY:-buffers}
BUF_KIB=${BUF_KIB:-16}
# shellcheck source=lib/serve_compare.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/serve_compare.sh"

bins() { echo "-p ringio-benches --bin net_server --bin loadgen"; }

# server_cmd CONTENDER PROTO UPSTREAM: the server's command line.
server_cmd() {
    local stack env="env -u RINGIO_BACKEND"
    case $1 in
    tokio) stack=tokio ;;
    ringio) stack=ringio env="env RINGIO_BACKEND=uring" ;;
    ringio-epoll) stack=ringio env="env RINGIO_BACKEND=epoll" ;;
    monoio) stack=monoio ;;
    tokio-uring) stack=tokio-uring ;;
    *) say "unknown contender '$1'"; exit 2 ;;
    esac
    [[ $2 == http ]] && return 0
    local up=""
    [[ $2 == proxy ]] && up="--upstream $3"
    echo "$env $BIN/net_server --stack $stack --proto $2 $up --buf-kib $BUF_KIB --copy $RINGIO_COPY --addr 127.0.0.1:0"
}

main_compare
