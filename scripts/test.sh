#!/usr/bin/env bash
# The whole test suite, once per Linux backend: io_uring (the default where
# the kernel allows it) and epoll (forced with RINGIO_BACKEND); and the
# compat crate's twice more on io_uring with its completion read path, on
# ordinary and on pinned reactors (current-thread runtimes only).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== test suite on io_uring"
RINGIO_BACKEND=uring cargo test --workspace "$@"
echo "== ringio-compat on io_uring with completion reads (opt-in there)"
RINGIO_BACKEND=uring RINGIO_COMPAT_READS=completion cargo test -p ringio-compat "$@"
echo "== ringio-compat on io_uring, completion reads on pinned (DEFER_TASKRUN) reactors"
RINGIO_BACKEND=uring RINGIO_COMPAT_READS=completion RINGIO_COMPAT_PINNED=1 cargo test -p ringio-compat "$@"
echo "== test suite on epoll"
RINGIO_BACKEND=epoll cargo test --workspace "$@"
