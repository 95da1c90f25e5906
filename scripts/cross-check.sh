#!/usr/bin/env bash
# Type-checks the engine for the platforms whose backends cannot run here
# (kqueue: FreeBSD, macOS, NetBSD; event ports: illumos), with Debian's
# rustc-web toolchain and its std sources (-Zbuild-std).
#
#   scripts/cross-check.sh                 # all four targets
#   scripts/cross-check.sh x86_64-unknown-freebsd
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/src/rust/library ]; then
    echo "installing rustc-web and rust-web-src (needs root)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq rustc-web rust-web-src >/dev/null
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(x86_64-unknown-freebsd aarch64-apple-darwin x86_64-unknown-netbsd x86_64-unknown-illumos)
fi

for target in "${targets[@]}"; do
    echo "== cargo check -p ringio --target $target"
    RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=target/cross \
        cargo check -q -p ringio --lib --tests -Zbuild-std=std,panic_abort --target "$target"
done
echo "cross-check: ${#targets[@]} target(s) type-check"
