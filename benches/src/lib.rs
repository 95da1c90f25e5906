//! Criterion benchmarks live in `benches/*.rs`; the server harness (`compat_server`, `loadgen`) in
//! `src/bin/`, driven by `scripts/compat_compare.sh` (see `README.md`).
