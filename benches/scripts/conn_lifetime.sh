#!/usr/bin/env bash
# What one connection lifetime (accept, 10 echoes of 64 B, close) costs the
# ringio server's thread in system calls: the ring's own counters from the
# `conn_lifetime` binary, and every system call of the server thread counted
# by `strace -c` (without -f: the client thread is not traced).
#
# Usage: benches/scripts/conn_lifetime.sh [conn_lifetime args, e.g. --conns 5000]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
cargo build --release -q -p ringio-benches --bin conn_lifetime
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/conn_lifetime
echo "== ring counters per lifetime"
"$BIN" "$@"
if command -v strace >/dev/null 2>&1; then
    out=$(mktemp)
    strace -c -o "$out" "$BIN" "$@" >/dev/null
    echo "== server-thread system calls over the whole run (warm-up and setup included)"
    cat "$out"
    rm -f "$out"
else
    echo "(strace not installed: no per-syscall count)"
fi
