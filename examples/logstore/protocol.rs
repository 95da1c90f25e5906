//! The wire protocol: length-prefixed binary over TCP, integers little-endian.
//!
//! ```text
//! request                                   response
//! PUT  0x01 | len u32 | len bytes           0x00 | seq u64            (sent once the put is durable)
//! GET  0x02 | seq u64                       0x00 | len u32 | bytes    or 0x01 (no such record)
//! LAST 0x03                                 0x00 | seq u64            (highest durable seq, 0 if none)
//! any error                                 0x02 | len u32 | UTF-8 message, then the server closes
//! ```
//!
//! A client may pipeline requests on one connection; responses come back in
//! request order.

pub const PUT: u8 = 0x01;
pub const GET: u8 = 0x02;
pub const LAST: u8 = 0x03;

pub const OK: u8 = 0x00;
pub const NOT_FOUND: u8 = 0x01;
pub const ERROR: u8 = 0x02;

/// The largest blob a PUT may carry.
pub const MAX_BLOB: usize = 16 << 20;

/// A PUT request for `blob`.
pub fn put(blob: &[u8]) -> Vec<u8> {
    let mut req = Vec::with_capacity(5 + blob.len());
    req.push(PUT);
    req.extend_from_slice(&(blob.len() as u32).to_le_bytes());
    req.extend_from_slice(blob);
    req
}

/// A GET request for `seq`.
pub fn get(seq: u64) -> Vec<u8> {
    let mut req = vec![GET];
    req.extend_from_slice(&seq.to_le_bytes());
    req
}

/// Blocking client calls, for tests and tools.
pub mod blocking {
    use std::io::{self, Read, Write};
    use std::net::TcpStream;

    fn status(s: &mut TcpStream) -> io::Result<u8> {
        let mut b = [0u8; 1];
        s.read_exact(&mut b)?;
        if b[0] == super::ERROR {
            let mut len = [0u8; 4];
            s.read_exact(&mut len)?;
            let mut msg = vec![0u8; u32::from_le_bytes(len) as usize];
            s.read_exact(&mut msg)?;
            return Err(io::Error::other(String::from_utf8_lossy(&msg).into_owned()));
        }
        Ok(b[0])
    }

    fn u64_of(s: &mut TcpStream) -> io::Result<u64> {
        let mut b = [0u8; 8];
        s.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Stores `blob`; returns its sequence number once it is durable.
    pub fn put(s: &mut TcpStream, blob: &[u8]) -> io::Result<u64> {
        s.write_all(&super::put(blob))?;
        status(s)?;
        u64_of(s)
    }

    /// The blob stored under `seq`, if any.
    pub fn get(s: &mut TcpStream, seq: u64) -> io::Result<Option<Vec<u8>>> {
        s.write_all(&super::get(seq))?;
        if status(s)? == super::NOT_FOUND {
            return Ok(None);
        }
        let mut len = [0u8; 4];
        s.read_exact(&mut len)?;
        let mut blob = vec![0u8; u32::from_le_bytes(len) as usize];
        s.read_exact(&mut blob)?;
        Ok(Some(blob))
    }

    /// The highest durable sequence number.
    pub fn last(s: &mut TcpStream) -> io::Result<u64> {
        s.write_all(&[super::LAST])?;
        status(s)?;
        u64_of(s)
    }
}
