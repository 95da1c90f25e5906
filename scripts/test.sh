#!/usr/bin/env bash
# The whole test suite, once per Linux backend: io_uring (the default where
# the kernel allows it) and epoll (forced with RINGIO_BACKEND); and the
# compat crate's three more times on io_uring: with its completion read
# path, and both read paths on unpinned reactors (RINGIO_COMPAT_PINNED=0;
# current-thread runtimes get pinned, DEFER_TASKRUN, reactors by default).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== test suite on io_uring"
RINGIO_BACKEND=uring cargo test --workspace "$@"
echo "== ringio-compat on io_uring with completion reads (opt-in there)"
RINGIO_BACKEND=uring RINGIO_COMPAT_READS=completion cargo test -p ringio-compat "$@"
echo "== ringio-compat on io_uring, unpinned reactors, readiness reads"
RINGIO_BACKEND=uring RINGIO_COMPAT_PINNED=0 cargo test -p ringio-compat "$@"
echo "== ringio-compat on io_uring, unpinned reactors, completion reads"
RINGIO_BACKEND=uring RINGIO_COMPAT_PINNED=0 RINGIO_COMPAT_READS=completion cargo test -p ringio-compat "$@"
echo "== test suite on epoll"
RINGIO_BACKEND=epoll cargo test --workspace "$@"
