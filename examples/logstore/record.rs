//! The on-disk record: a 32-byte header, the payload, and zeros up to the
//! store's alignment, so every record starts at an aligned offset and can be
//! written and read with `O_DIRECT`.
//!
//! ```text
//! offset  size  field
//!      0     4  magic  0x4c4f4752 ("RGOL" little-endian)
//!      4     4  crc32c of bytes 8..32 of the header, then the payload
//!      8     8  seq    sequence number (1, 2, 3, ... across segments)
//!     16     4  len    payload length in bytes
//!     20    12  zero
//!     32   len  payload
//!      -     -  zero padding to a multiple of the alignment
//! ```

use crate::crc32c;

pub const MAGIC: u32 = 0x4c4f_4752;
pub const HEADER: usize = 32;
/// Largest payload the store accepts (the protocol says the same).
pub const MAX_PAYLOAD: usize = crate::protocol::MAX_BLOB;

/// Bytes a record of `len` payload bytes takes on disk.
pub fn size_on_disk(len: usize, align: usize) -> usize {
    (HEADER + len).div_ceil(align) * align
}

/// Appends the record for (`seq`, `payload`), padded to `align`, to `out`.
pub fn encode(seq: u64, payload: &[u8], align: usize, out: &mut ringio::buf::AlignedBuf) {
    let mut header = [0u8; HEADER];
    header[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    header[8..16].copy_from_slice(&seq.to_le_bytes());
    header[16..20].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    let crc = crc32c::update(crc32c::update(0, &header[8..]), payload);
    header[4..8].copy_from_slice(&crc.to_le_bytes());
    let end = out.len() + size_on_disk(payload.len(), align);
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    out.resize(end, 0);
}

/// What a header at some offset says, before the payload is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub seq: u64,
    pub len: usize,
    crc: u32,
}

/// Parses a header; `None` if it is not one (zeros past the end of the data,
/// a torn write, garbage).
pub fn header(bytes: &[u8]) -> Option<Header> {
    if bytes.len() < HEADER || u32::from_le_bytes(bytes[0..4].try_into().ok()?) != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(bytes[16..20].try_into().ok()?) as usize;
    if len > MAX_PAYLOAD || bytes[20..32].iter().any(|&b| b != 0) {
        return None;
    }
    Some(Header {
        seq: u64::from_le_bytes(bytes[8..16].try_into().ok()?),
        len,
        crc: u32::from_le_bytes(bytes[4..8].try_into().ok()?),
    })
}

/// True if `record` (header and at least `len` payload bytes) is intact.
pub fn verify(h: &Header, record: &[u8]) -> bool {
    record.len() >= HEADER + h.len
        && crc32c::update(crc32c::update(0, &record[8..HEADER]), &record[HEADER..HEADER + h.len]) == h.crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let mut buf = ringio::buf::AlignedBuf::new(8192, 512).unwrap();
        encode(7, b"hello", 512, &mut buf);
        assert_eq!(buf.len(), 512);
        encode(8, &[1u8; 600], 512, &mut buf);
        assert_eq!(buf.len(), 512 + 1024);
        let h = header(&buf).unwrap();
        assert_eq!((h.seq, h.len), (7, 5));
        assert!(verify(&h, &buf));
        let h2 = header(&buf[512..]).unwrap();
        assert_eq!((h2.seq, h2.len), (8, 600));
        assert!(verify(&h2, &buf[512..]));
        let mut torn = buf[512..].to_vec();
        torn[HEADER + 599] ^= 1;
        assert!(!verify(&h2, &torn), "a flipped payload bit is caught");
        assert!(header(&[0u8; 64]).is_none());
    }
}
