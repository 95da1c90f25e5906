//! Owned-buffer I/O traits, so that code can be generic over ringio's byte
//! streams ([`TcpStream`](crate::net::TcpStream),
//! [`UnixStream`](crate::net::UnixStream), [`Fd`](crate::fd::Fd)), and the
//! copies written on top of them ([`copy`], [`copy_bidirectional`];
//! [`splice_bidirectional`], which moves TCP bytes through pipes instead of
//! user memory; and [`copy_bidirectional_buf_ring`], which receives into a
//! shared provided-buffer group and writes each buffer on as is).
//!
//! The shape is monoio's `AsyncReadRent`/`AsyncWriteRent`: the buffer is
//! moved in and handed back with the result, because on io_uring the kernel
//! writes into it after the call that submitted the read returned. Every
//! method keeps the cancel rules of the type it calls: a dropped read loses
//! no byte, a dropped write wrote nothing, a `write_all` once polled
//! finishes.
//!
//! # Examples
//!
//! ```no_run
//! use ringio::io::{AsyncReadOwned, AsyncWriteOwned};
//!
//! /// Echoes until end of stream, on any stream type.
//! async fn echo<S: AsyncReadOwned + AsyncWriteOwned>(s: &S) -> std::io::Result<u64> {
//!     let mut buf = Vec::with_capacity(4096);
//!     let mut total = 0;
//!     loop {
//!         buf.clear();
//!         let (n, b) = s.read(buf).await;
//!         if n? == 0 {
//!             return Ok(total);
//!         }
//!         let (res, b) = s.write_all(b).await;
//!         res?;
//!         total += b.len() as u64;
//!         buf = b;
//!     }
//! }
//! ```

mod buf_ring_copy;
mod copy;
#[cfg(target_os = "linux")]
mod splice;
mod traits;

pub use buf_ring_copy::copy_bidirectional_buf_ring;
pub use copy::{copy, copy_bidirectional, copy_bidirectional_with_size};
#[cfg(target_os = "linux")]
pub use splice::splice_bidirectional;
pub use traits::{AsyncReadOwned, AsyncWriteOwned};
