//! The streaming pre-pass over the whole raw file, before the first row (formats.md §2.1).
//!
//! One read of the file gives everything that must be known before any row is applied: the
//! fingerprint (the host's journal recognises a re-run of a killed run by it), the size (progress
//! bar), the first bytes (byte order mark), whether the file is valid UTF-8 (`encoding = auto`)
//! and whether it holds a NUL byte. The last two also tell the reader whether rows need a
//! per-row byte check at all: on a clean file (the usual case) they never do.

use std::fs::File;
use std::io::{self, Read};

use crate::encoding::Utf8Validator;
use crate::fingerprint::Fnv1a64;

/// Buffer size for both passes: large enough that system calls do not dominate.
pub(crate) const CHUNK: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Prepass {
    pub size: u64,
    pub fingerprint: u64,
    pub utf8_valid: bool,
    pub has_nul: bool,
    /// A byte above 0x7F was seen; only looked for when asked (see [`run`]).
    pub non_ascii: bool,
    head: [u8; 4],
    head_len: usize,
}

impl Prepass {
    /// The first (up to) 4 bytes of the file.
    pub(crate) fn head(&self) -> &[u8] {
        &self.head[..self.head_len]
    }
}

/// Reads `file` from its current position to the end. `look_for_non_ascii`: whether to tell
/// an ASCII file from one with other bytes; it costs a scan of each chunk until the first such
/// byte, so it is asked only when the answer is used (windows-1252 configured on a file that may
/// be UTF-8).
pub(crate) fn run(file: &mut File, look_for_non_ascii: bool) -> io::Result<Prepass> {
    let mut buf = vec![0u8; CHUNK];
    let mut fnv = Fnv1a64::new();
    let mut utf8 = Utf8Validator::new();
    let mut p = Prepass {
        size: 0,
        fingerprint: 0,
        utf8_valid: true,
        has_nul: false,
        non_ascii: false,
        head: [0; 4],
        head_len: 0,
    };
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        if p.head_len < 4 {
            let take = (4 - p.head_len).min(n);
            p.head[p.head_len..p.head_len + take].copy_from_slice(&chunk[..take]);
            p.head_len += take;
        }
        fnv.update(chunk);
        utf8.update(chunk);
        p.has_nul = p.has_nul || chunk.contains(&0);
        p.non_ascii = p.non_ascii || (look_for_non_ascii && !chunk.is_ascii());
        p.size += n as u64;
    }
    p.fingerprint = fnv.finish();
    p.utf8_valid = utf8.finish();
    Ok(p)
}
