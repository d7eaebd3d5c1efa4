//! Tryback support (formats.md §4.3): the tryback file holds the header line(s) and every failed
//! record byte for byte as read (original encoding, line endings, multi-line records whole), so
//! that it can run again as is. The reader hands out absolute byte ranges; this copies them.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Copies bytes `start..end` of `file`, unchanged, to `out`.
///
/// Seeks explicitly, so it can share the file with nothing else's position in mind; fails with
/// `UnexpectedEof` if the file became shorter than the range (changed since it was read).
pub fn copy_raw(file: &mut File, start: u64, end: u64, out: &mut impl Write) -> io::Result<()> {
    if end < start {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid byte range {start}..{end}"),
        ));
    }
    file.seek(SeekFrom::Start(start))?;
    let want = end - start;
    let copied = io::copy(&mut Read::by_ref(file).take(want), out)?;
    if copied != want {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the input ends at byte {} instead of {end}", start + copied),
        ));
    }
    Ok(())
}
