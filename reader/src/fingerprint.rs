//! A stable 64-bit fingerprint of the raw input (FNV-1a).
//!
//! The host stores it in its journal to recognise "the same file" when a killed run is started
//! again. It must therefore never change between builds, platforms or Rust versions, which rules
//! out `std::hash` (its `DefaultHasher` is explicitly unspecified and may change). FNV-1a is tiny,
//! fully specified and fast enough for a pre-pass that is dominated by I/O anyway; it is not meant
//! to resist deliberate collisions, only to tell two honest inputs apart.

/// FNV-1a 64 offset basis.
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64 prime.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// Incremental FNV-1a 64: feeding a file in chunks gives the same value as feeding it at once,
/// so the pre-pass can stream with a fixed buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv1a64(u64);

impl Fnv1a64 {
    pub(crate) fn new() -> Self {
        Fnv1a64(OFFSET_BASIS)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
        self.0 = h;
    }

    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// FNV-1a 64 of a byte string, for callers that hold the bytes already (tests, host checks).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = Fnv1a64::new();
    h.update(bytes);
    h.finish()
}

/// The fingerprint and size of a whole file, as a run's pre-pass computes them: whether a file
/// is the one a completed run applied (the daemon's `rerun_unchanged`), without reading it as
/// CSV.
pub fn fingerprint_file(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 256 * 1024];
    let (mut h, mut size) = (Fnv1a64::new(), 0u64);
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok((h.finish(), size)),
            Ok(n) => {
                h.update(&buf[..n]);
                size += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_test_vectors() {
        // Vectors from the FNV reference (draft-eastlake-fnv).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn chunked_equals_whole() {
        let data = b"one;two\r\nthree;\"four\nfive\"\n";
        let mut h = Fnv1a64::new();
        for chunk in data.chunks(3) {
            h.update(chunk);
        }
        assert_eq!(h.finish(), fnv1a64(data));
    }
}
