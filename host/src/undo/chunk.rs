//! A record of the undo log: a batch's changes packed into chunks of about [`CHUNK_BYTES`],
//! so that a batch of 10,000 changed keys adds a few dozen writes to its commit, not 10,000.
//! A change is a key and the value it held before the batch (`None`: absent), in
//! [`crate::write_bytes`]' layout.

use crate::write_bytes;

/// A chunk is closed once it holds this much (a single larger change has a chunk of its own).
/// Well below sled's inline limit (a quarter of its 512 KiB segments): larger values would
/// be written to files of their own.
pub const CHUNK_BYTES: usize = 32 * 1024;

/// Packs changes into chunks.
#[derive(Debug, Default)]
pub struct Writer {
    chunks: Vec<Vec<u8>>,
    current: Vec<u8>,
    changes: u64,
}

impl Writer {
    pub fn push(&mut self, key: &[u8], prior: Option<&[u8]>) {
        let size = write_bytes::size(key, prior);
        if !self.current.is_empty() && self.current.len() + size > CHUNK_BYTES {
            self.chunks.push(std::mem::take(&mut self.current));
        }
        write_bytes::push(&mut self.current, key, prior);
        self.changes += 1;
    }

    /// Changes pushed.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// The chunks, in order (none for no change).
    pub fn finish(mut self) -> Vec<Vec<u8>> {
        if !self.current.is_empty() {
            self.chunks.push(self.current);
        }
        self.chunks
    }
}

/// One change of a chunk: a key and the value it held before (`None`: absent).
pub type Change<'a> = write_bytes::Write<'a>;

/// The changes of a chunk, in order; `Err` for bytes toolsync did not write (a truncated or
/// foreign record), after the changes before them.
pub fn read(bytes: &[u8]) -> impl Iterator<Item = Result<Change<'_>, ()>> {
    write_bytes::read(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_back_in_order_across_chunks() {
        let mut writer = Writer::default();
        let big = vec![7u8; CHUNK_BYTES + 10];
        writer.push(b"user\0a", Some(b"old"));
        writer.push(b"user\0b", None);
        writer.push(b"user\0c", Some(&big));
        writer.push(b"user\0d", Some(b""));
        assert_eq!(writer.changes(), 4);
        let chunks = writer.finish();
        assert_eq!(chunks.len(), 3, "the large change has a chunk of its own");
        assert_eq!(chunks[1].len(), 4 + 6 + 1 + 4 + big.len());
        let read: Vec<Change<'_>> = chunks
            .iter()
            .flat_map(|c| read(c))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            read,
            vec![
                (&b"user\0a"[..], Some(&b"old"[..])),
                (&b"user\0b"[..], None),
                (&b"user\0c"[..], Some(&big[..])),
                (&b"user\0d"[..], Some(&b""[..])),
            ]
        );
    }

    #[test]
    fn a_truncated_chunk_reads_its_whole_changes_then_fails_once() {
        let mut writer = Writer::default();
        writer.push(b"k1", Some(b"v1"));
        writer.push(b"k2", Some(b"v2"));
        let chunk = writer.finish().remove(0);
        let cut = &chunk[..chunk.len() - 1];
        let read: Vec<_> = read(cut).collect();
        assert_eq!(read, vec![Ok((&b"k1"[..], Some(&b"v1"[..]))), Err(())]);
        assert_eq!(Writer::default().finish().len(), 0);
    }
}
