//! CRC-32C (Castagnoli), the checksum of every record: table-driven, one
//! byte at a time, small and dependency-free. Fast enough here: a record is
//! checksummed once when written and once when read or scanned, and the
//! device, not this loop, bounds the store's throughput.

/// The reflected Castagnoli polynomial.
const POLY: u32 = 0x82f6_3b78;

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ POLY } else { crc >> 1 };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// Continues a CRC-32C over `data` (start with `0`).
pub fn update(crc: u32, data: &[u8]) -> u32 {
    let mut crc = !crc;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_vectors() {
        // RFC 3720, appendix B.4, and the usual check value.
        assert_eq!(super::update(0, b"123456789"), 0xe306_9283);
        assert_eq!(super::update(0, &[0u8; 32]), 0x8a91_36aa);
        assert_eq!(super::update(0, &[0xffu8; 32]), 0x62a8_ab43);
        let split = super::update(super::update(0, b"1234"), b"56789");
        assert_eq!(split, 0xe306_9283);
    }
}
