//! Choosing an upstream: round-robin, and on a failed or slow connect, the
//! next one, each tried at most once per client.

use ringio::net::TcpStream;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

pub struct Upstreams {
    addrs: Vec<SocketAddr>,
    next: AtomicUsize,
}

impl Upstreams {
    pub fn new(addrs: Vec<SocketAddr>) -> Upstreams {
        Upstreams {
            addrs,
            next: AtomicUsize::new(0),
        }
    }

    /// A connection to the next upstream in turn that answers within
    /// `timeout`; the last error if none does.
    pub async fn connect(&self, timeout: Duration) -> io::Result<(TcpStream, SocketAddr)> {
        let start = self.next.fetch_add(1, Relaxed);
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no upstreams");
        for i in 0..self.addrs.len() {
            let addr = self.addrs[(start + i) % self.addrs.len()];
            match ringio::time::timeout(timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => return Ok((stream, addr)),
                Ok(Err(e)) => {
                    tracing::debug!(%addr, %e, "upstream refused; trying the next");
                    last = e;
                }
                Err(_) => {
                    tracing::debug!(%addr, ?timeout, "upstream connect timed out; trying the next");
                    last = io::Error::new(io::ErrorKind::TimedOut, format!("connect to {addr} timed out"));
                }
            }
        }
        Err(last)
    }
}
