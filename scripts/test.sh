#!/usr/bin/env bash
# The whole test suite, once per Linux backend: io_uring (the default where
# the kernel allows it) and epoll (forced with RINGIO_BACKEND); and the
# compat crate's three more times on io_uring: with its completion read
# path, and both read paths on pinned (DEFER_TASKRUN) reactors, which
# RINGIO_COMPAT_PINNED=1 gives current-thread runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== test suite on io_uring"
RINGIO_BACKEND=uring cargo test --workspace "$@"
echo "== ringio-compat on io_uring with completion reads (opt-in there)"
RINGIO_BACKEND=uring RINGIO_COMPAT_READS=completion cargo test -p ringio-compat "$@"
echo "== ringio-compat on io_uring, pinned reactors, readiness reads"
RINGIO_BACKEND=uring RINGIO_COMPAT_PINNED=1 cargo test -p ringio-compat "$@"
echo "== ringio-compat on io_uring, pinned reactors, completion reads"
RINGIO_BACKEND=uring RINGIO_COMPAT_PINNED=1 RINGIO_COMPAT_READS=completion cargo test -p ringio-compat "$@"
echo "== test suite on epoll"
RINGIO_BACKEND=epoll cargo test --workspace "$@"
