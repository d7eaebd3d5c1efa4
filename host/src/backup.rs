//! The backup file: every entry of the store in one file, checked end to end, so that an
//! operator can copy a store while no run is active and put it back after damage or a
//! mistake (`toolsync backup`, `toolsync restore`; docs/formats.md "Backups").
//!
//! Why a format of our own rather than a copy of sled's folder: sled's files are only
//! consistent while sled holds them, they change with sled's version, and a copy taken by
//! hand cannot be verified. This format is a stream of the store's logical entries, written
//! while toolsync holds the store's lock, with a count and a CRC-32 at the end: a backup is
//! read back whole and verified before a restore touches anything.
//!
//! Layout (all integers big-endian):
//! ```text
//! toolsync-backup 1\n                  the magic line and the format version
//! {"store_format":1,...}\n             one line of JSON: what wrote it, when (Meta)
//! E <u32 key length> <key> <u32 value length> <value>    one per entry, in key order
//! Z <u64 entry count> <u32 CRC-32 of every byte before the CRC>
//! ```

use std::io::{BufRead, Read, Write};

use serde::{Deserialize, Serialize};

/// Bumped when the layout above changes; a newer backup is refused.
pub const FORMAT: u32 = 1;
const MAGIC: &str = "toolsync-backup";
const ENTRY: u8 = b'E';
const END: u8 = b'Z';
/// The longest key or value a backup may hold: sled's own limit is far above what toolsync
/// writes, and a length above this in a file means damage, not data (and must not make the
/// reader allocate gigabytes).
const MAX_FIELD: u32 = 256 * 1024 * 1024;

/// One entry of the store: its whole key (keyspace included) and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// What the backup says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub store_format: u32,
    pub model_version: u32,
    /// Unix seconds.
    pub created_at: i64,
    /// The toolsync version that wrote it.
    pub toolsync: String,
}

/// Why a backup cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("not a toolsync backup (it does not start with `{MAGIC}`)")]
    NotABackup,
    #[error("written by a newer toolsync (backup format {0}; this one reads format {FORMAT})")]
    Newer(u32),
    #[error("damaged: {0}")]
    Damaged(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Writes a backup: the header, then each entry, then [`Writer::finish`].
pub struct Writer<W: Write> {
    out: Hashing<W>,
    count: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W, meta: &Meta) -> std::io::Result<Self> {
        let mut out = Hashing::new(out);
        writeln!(out, "{MAGIC} {FORMAT}")?;
        serde_json::to_writer(&mut out, meta)?;
        out.write_all(b"\n")?;
        Ok(Writer { out, count: 0 })
    }

    pub fn entry(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        self.out.write_all(&[ENTRY])?;
        for field in [key, value] {
            let len = u32::try_from(field.len())
                .ok()
                .filter(|n| *n <= MAX_FIELD)
                .ok_or_else(|| std::io::Error::other("an entry larger than 256 MiB"))?;
            self.out.write_all(&len.to_be_bytes())?;
            self.out.write_all(field)?;
        }
        self.count += 1;
        Ok(())
    }

    /// Writes the trailer; returns the writer and the number of entries.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        self.out.write_all(&[END])?;
        self.out.write_all(&self.count.to_be_bytes())?;
        let crc = self.out.hasher.clone().finalize();
        let mut inner = self.out.inner;
        inner.write_all(&crc.to_be_bytes())?;
        Ok((inner, self.count))
    }
}

/// Reads a backup, entry by entry; the end is verified by [`Reader::next_entry`] returning
/// `None` only once the count and the CRC match.
pub struct Reader<R: BufRead> {
    input: Hashing<R>,
    count: u64,
    pub meta: Meta,
}

impl<R: BufRead> Reader<R> {
    pub fn open(input: R) -> Result<Self, BackupError> {
        let mut input = Hashing::new(input);
        let mut first = Vec::new();
        input
            .read_line_limited(&mut first, 64)
            .map_err(|_| BackupError::NotABackup)?;
        let first = String::from_utf8_lossy(&first);
        let version = first
            .trim_end()
            .strip_prefix(MAGIC)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .ok_or(BackupError::NotABackup)?;
        if version > FORMAT {
            return Err(BackupError::Newer(version));
        }
        let mut line = Vec::new();
        input.read_line_limited(&mut line, 64 * 1024)?;
        let meta = serde_json::from_slice(&line)
            .map_err(|e| BackupError::Damaged(format!("its header does not read ({e})")))?;
        Ok(Reader {
            input,
            count: 0,
            meta,
        })
    }

    /// The next entry, or `None` at a verified end.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, BackupError> {
        let tag = self.input.byte().map_err(truncated)?;
        match tag {
            ENTRY => {
                let key = self.input.field().map_err(truncated)?;
                let value = self.input.field().map_err(truncated)?;
                self.count += 1;
                Ok(Some((key, value)))
            }
            END => {
                let mut count = [0; 8];
                self.input.read_exact(&mut count).map_err(truncated)?;
                let expected = self.input.hasher.clone().finalize();
                let mut crc = [0; 4];
                self.input.inner.read_exact(&mut crc).map_err(truncated)?;
                if u64::from_be_bytes(count) != self.count {
                    return Err(BackupError::Damaged(format!(
                        "it says {} entries, {} were read",
                        u64::from_be_bytes(count),
                        self.count
                    )));
                }
                if u32::from_be_bytes(crc) != expected {
                    return Err(BackupError::Damaged("its checksum does not match".into()));
                }
                let mut rest = [0; 1];
                if self.input.inner.read(&mut rest)? != 0 {
                    return Err(BackupError::Damaged("bytes follow its end".into()));
                }
                Ok(None)
            }
            other => Err(BackupError::Damaged(format!(
                "unexpected byte {other:#04x} after entry {}",
                self.count
            ))),
        }
    }
}

fn truncated(e: std::io::Error) -> BackupError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        BackupError::Damaged("it is cut short".into())
    } else {
        BackupError::Io(e)
    }
}

/// A reader or writer that keeps the CRC-32 of every byte through it.
struct Hashing<T> {
    inner: T,
    hasher: crc32fast::Hasher,
}

impl<T> Hashing<T> {
    fn new(inner: T) -> Self {
        Hashing {
            inner,
            hasher: crc32fast::Hasher::new(),
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

impl<R: BufRead> Hashing<R> {
    fn byte(&mut self) -> std::io::Result<u8> {
        let mut b = [0; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    fn field(&mut self) -> std::io::Result<Vec<u8>> {
        let mut len = [0; 4];
        self.read_exact(&mut len)?;
        let len = u32::from_be_bytes(len);
        if len > MAX_FIELD {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("an entry of {len} bytes"),
            ));
        }
        let mut field = vec![0; len as usize];
        self.read_exact(&mut field)?;
        Ok(field)
    }

    /// A line of at most `max` bytes (a backup's header lines are short: a long one is not a
    /// backup, and must not be read whole).
    fn read_line_limited(&mut self, line: &mut Vec<u8>, max: u64) -> std::io::Result<()> {
        let mut limited = (&mut self.inner).take(max);
        limited.read_until(b'\n', line)?;
        self.hasher.update(line);
        if line.last() != Some(&b'\n') {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a header line too long or cut short",
            ));
        }
        line.pop();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta {
            store_format: 1,
            model_version: 2,
            created_at: 1_700_000_000,
            toolsync: "0.1.0".into(),
        }
    }

    fn backup(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut writer = Writer::new(Vec::new(), &meta()).unwrap();
        for (k, v) in entries {
            writer.entry(k, v).unwrap();
        }
        writer.finish().unwrap().0
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<Entry>, BackupError> {
        let mut reader = Reader::open(bytes)?;
        let mut all = Vec::new();
        while let Some(entry) = reader.next_entry()? {
            all.push(entry);
        }
        Ok(all)
    }

    #[test]
    fn entries_come_back_as_written() {
        let entries: &[(&[u8], &[u8])] =
            &[(b"user\0\x01", b"{}"), (b"_meta\0x", b""), (b"", b"\n\0")];
        let bytes = backup(entries);
        assert!(bytes.starts_with(b"toolsync-backup 1\n{\"store_format\":1"));
        assert_eq!(Reader::open(&bytes[..]).unwrap().meta, meta());
        let read = read_all(&bytes).unwrap();
        let expected: Vec<Entry> = entries
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(read, expected);
        assert!(read_all(&backup(&[])).unwrap().is_empty());
    }

    #[test]
    fn any_damage_is_found_before_the_end() {
        let bytes = backup(&[(b"a", b"1"), (b"b", b"2")]);
        // Cut anywhere.
        for cut in 0..bytes.len() {
            assert!(
                read_all(&bytes[..cut]).is_err(),
                "cut at {cut} read as whole"
            );
        }
        // A byte flipped anywhere past the magic line.
        for at in 18..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x20;
            assert!(read_all(&flipped).is_err(), "a flip at {at} went unseen");
        }
        let mut longer = bytes.clone();
        longer.push(b'x');
        assert!(read_all(&longer).is_err());
        assert!(matches!(
            Reader::open(&b"toolsync-backup 9\n{}\n"[..]),
            Err(BackupError::Newer(9))
        ));
        assert!(matches!(
            Reader::open(&b"PK\x03\x04 a zip file"[..]),
            Err(BackupError::NotABackup)
        ));
    }
}
