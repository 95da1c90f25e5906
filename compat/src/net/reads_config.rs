//! Which read path compat streams take, and the sizes of the completion
//! path's buffer group, from the environment (read when a tokio thread's
//! reactor first makes a stream, so a benchmark can flip them per process):
//!
//! | variable | values | default |
//! |---|---|---|
//! | `RINGIO_COMPAT_READS` | `completion`, `readiness` | `readiness` |
//! | `RINGIO_COMPAT_BUFS` | buffers per reactor, a power of two | 256 |
//! | `RINGIO_COMPAT_BUF_LEN` | bytes per buffer | 16384 |
//! | `RINGIO_COMPAT_MAX_UNREAD` | buffers one stream may hold unread | 8 |
//!
//! Readiness is the default: on this project's benchmark the completion
//! path costs less CPU per request at a fixed rate but serves fewer
//! requests per second when saturated (`docs/performance.md`, ringio-compat).
//!
//! The defaults: 256 x 16 KiB is 4 MiB per tokio thread, enough for 32
//! connections that all fall behind at once before any waits for a buffer;
//! 16 KiB holds a typical request or TLS record whole; 8 unread buffers
//! (128 KiB) is about what a loopback socket's receive buffer holds, so a
//! slow reader keeps no more in user space than the kernel would have.

use std::str::FromStr;

/// How compat streams read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadPath {
    /// One multishot receive per stream into the reactor's buffer ring
    /// (io_uring with provided-buffer rings only).
    Completion,
    /// A readiness wait, then a non-blocking `recv` into the caller's buffer.
    Readiness,
}

/// The read path and group sizes in force.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadsConfig {
    pub(crate) path: ReadPath,
    pub(crate) bufs: usize,
    pub(crate) buf_len: usize,
    pub(crate) max_unread: usize,
}

impl ReadsConfig {
    /// From the environment, with the defaults above for what is unset (or
    /// unparsable: logged, not fatal).
    pub(crate) fn from_env() -> ReadsConfig {
        let path = match std::env::var("RINGIO_COMPAT_READS").as_deref() {
            Ok("completion") => ReadPath::Completion,
            Err(_) | Ok("readiness") => ReadPath::Readiness,
            Ok(other) => {
                tracing::warn!(
                    value = other,
                    "RINGIO_COMPAT_READS is completion or readiness; using readiness"
                );
                ReadPath::Readiness
            }
        };
        ReadsConfig {
            path,
            bufs: number("RINGIO_COMPAT_BUFS", 256),
            buf_len: number("RINGIO_COMPAT_BUF_LEN", 16 * 1024),
            max_unread: number("RINGIO_COMPAT_MAX_UNREAD", 8),
        }
    }
}

fn number<T: FromStr + Copy + std::fmt::Display>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Err(_) => default,
        Ok(v) => v.parse().unwrap_or_else(|_| {
            tracing::warn!(variable = name, value = %v, %default, "not a number; using the default");
            default
        }),
    }
}
