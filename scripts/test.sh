#!/usr/bin/env bash
# The whole test suite, once per Linux backend: io_uring (the default where
# the kernel allows it) and epoll (forced with RINGIO_BACKEND).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== test suite on io_uring"
RINGIO_BACKEND=uring cargo test --workspace "$@"
echo "== test suite on epoll"
RINGIO_BACKEND=epoll cargo test --workspace "$@"
