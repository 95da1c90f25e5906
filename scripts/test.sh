#!/usr/bin/env bash
# The whole test suite, once per Linux backend: io_uring (the default where
# the kernel allows it) and epoll (forced with RINGIO_BACKEND); and the
# compat crate's four more times on io_uring: with readiness waits as
# POLL_ADDs on the ring (RINGIO_COMPAT_WAITS=ring; by default they go
# through the reactor's own epoll), with its completion read path, and both
# read paths on pinned (DEFER_TASKRUN) reactors, which
# RINGIO_COMPAT_PINNED=1 gives current-thread runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== test suite on io_uring"
RINGIO_BACKEND=uring cargo test --workspace "$@"
echo "== ringio-compat on io_uring with readiness waits on the ring"
RINGIO_BACKEND=uring RINGIO_COMPAT_WAITS=ring cargo test -p ringio-compat "$@"
echo "== ringio-compat on io_uring with completion reads (opt-in there)"
RINGIO_BACKEND=uring RINGIO_COMPAT_READS=completion cargo test -p ringio-compat "$@"
echo "== ringio-compat on io_uring, pinned reactors, readiness reads"
RINGIO_BACKEND=uring RINGIO_COMPAT_PINNED=1 cargo test -p ringio-compat "$@"
echo "== ringio-compat on io_uring, pinned reactors, completion reads"
RINGIO_BACKEND=uring RINGIO_COMPAT_PINNED=1 RINGIO_COMPAT_READS=completion cargo test -p ringio-compat "$@"
echo "== test suite on epoll"
RINGIO_BACKEND=epoll cargo test --workspace "$@"
