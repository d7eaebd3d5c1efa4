//! A record of the undo log: a batch's changes packed into chunks of about [`CHUNK_BYTES`],
//! so that a batch of 10,000 changed keys adds a few dozen writes to its commit, not 10,000.
//!
//! A change is `<key length: u32 LE> <key> <0 | 1> [<value length: u32 LE> <value>]`: the key
//! and the value it held before the batch (`0`: it was absent). Written by hand rather than
//! with a serde format: the layout is four lines, read by a revert key after key without
//! allocating, and must never change under the logs a store already holds.

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
        let size = 4 + key.len() + 1 + prior.map_or(0, |v| 4 + v.len());
        if !self.current.is_empty() && self.current.len() + size > CHUNK_BYTES {
            self.chunks.push(std::mem::take(&mut self.current));
        }
        put_len(&mut self.current, key.len());
        self.current.extend_from_slice(key);
        match prior {
            None => self.current.push(0),
            Some(value) => {
                self.current.push(1);
                put_len(&mut self.current, value.len());
                self.current.extend_from_slice(value);
            }
        }
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

fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).expect("store keys and values are far below 4 GiB");
    out.extend_from_slice(&len.to_le_bytes());
}

/// One change of a chunk: a key and the value it held before (`None`: absent).
pub type Change<'a> = (&'a [u8], Option<&'a [u8]>);

/// The changes of a chunk, in order; `Err` for bytes toolsync did not write (a truncated or
/// foreign record), after the changes before them.
pub fn read(mut bytes: &[u8]) -> impl Iterator<Item = Result<Change<'_>, ()>> {
    let mut failed = false;
    std::iter::from_fn(move || {
        if bytes.is_empty() || failed {
            return None;
        }
        let change = next(&mut bytes);
        failed = change.is_err();
        Some(change)
    })
}

fn next<'a>(bytes: &mut &'a [u8]) -> Result<Change<'a>, ()> {
    let key = take_sized(bytes)?;
    let (tag, rest) = bytes.split_first().ok_or(())?;
    *bytes = rest;
    let prior = match tag {
        0 => None,
        1 => Some(take_sized(bytes)?),
        _ => return Err(()),
    };
    Ok((key, prior))
}

fn take_sized<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8], ()> {
    let (len, rest) = bytes.split_first_chunk::<4>().ok_or(())?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len {
        return Err(());
    }
    let (value, rest) = rest.split_at(len);
    *bytes = rest;
    Ok(value)
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
