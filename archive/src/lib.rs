//! Zip archives as hostile input (formats.md §3.10, the pictures processor).
//!
//! An archive of account pictures comes from outside (an ERP, a photographer's export, a drop
//! folder), so every byte of it is an attacker's choice. This crate owns the zip part only:
//! opening and listing ([`Archive::open`]), the path guards, the size guards counted on the bytes
//! actually decompressed ([`Archive::check_total`], [`Archive::entries`]), and the tryback archive
//! of the failed entries ([`write_tryback`]). What an entry's bytes mean is the host's business.
//!
//! What it promises, whatever the input:
//! - it never panics, and refuses a file that is not a readable zip with a reason;
//! - it never writes an entry to disk (nothing is extracted);
//! - it never sizes an allocation or a read on a size the archive declares: an entry is read at
//!   most one byte past its limit, whatever its headers say, so a zip bomb costs at most the limit;
//! - an entry's failure stays that entry's: one damaged entry does not refuse the archive.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod guard;
mod size;
mod source;

#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use zip::result::ZipError;
use zip::{ZipArchive, ZipWriter};

pub use size::{human_size, parse_size};
use source::{Budget, Source, BUDGET_SPENT, OPEN_BUDGET_FACTOR};

/// Bytes decompressed per read: the most an entry is read past its limit is one byte, but the
/// chunk is what a read asks of the decompressor at a time (and the pre-pass's only buffer).
const CHUNK: usize = 64 * 1024;

/// The central directory file header: its signature and fixed size (APPNOTE 4.3.12).
const CENTRAL_SIGNATURE: [u8; 4] = *b"PK\x01\x02";
const CENTRAL_FIXED: usize = 46;
/// Bytes of a local file header before its name.
const LOCAL_FIXED: u64 = 30;

/// The compression methods the crate is built with (zip's `deflate-flate2` feature only).
const STORED: u16 = 0;
const DEFLATED: u16 = 8;
/// WinZip's AES method: the data is encrypted whatever the flags say.
const AES: u16 = 99;

/// The size limits of a run (the options `max_image_bytes` and `max_archive_bytes`).
///
/// Why two: one entry's limit keeps one decoded picture bounded in memory; the archive's limit
/// bounds the whole run's work, because a thousand entries just under the entry limit are as much
/// of a bomb as one big entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes one entry may decompress to (`max_image_bytes`); one more and it fails.
    pub max_entry_bytes: u64,
    /// The most bytes all entries together may decompress to (`max_archive_bytes`); one more and
    /// the archive is refused before any entry is applied.
    pub max_archive_bytes: u64,
}

/// An open zip archive: its central directory, read and checked once, over the open file.
///
/// Why one object: the checks of the opening (a consistent central directory, the fingerprint)
/// hold for the file that stays open, so the rows and the pre-pass read exactly what was checked,
/// even if the path is replaced meanwhile.
pub struct Archive {
    zip: ZipArchive<Source>,
    size: u64,
    records: Vec<Record>,
    fingerprint: u64,
}

/// What the crate reads itself from each central directory record (the zip crate keeps these
/// private, or gives them only once the entry's local header has been read).
#[derive(Clone, Debug)]
struct Record {
    /// General purpose flags: bit 0 = encrypted.
    flags: u16,
    /// The compression method as written (the zip crate turns unknown ones into `Unsupported`).
    method: u16,
    /// External attributes: the upper half is a Unix mode (file type bits included).
    external_attributes: u32,
    /// Why the raw name bytes are unsafe, when they are (checked besides the decoded name: the
    /// Info-ZIP Unicode path field can make the two differ).
    raw_unsafe: Option<&'static str>,
    /// The uncompressed size it declares (0 when it is in a zip64 field): only a hint for the
    /// first allocation, never trusted as a bound.
    declared: u64,
}

impl Record {
    fn encrypted(&self) -> bool {
        self.flags & 1 == 1 || self.method == AES
    }
}

impl Archive {
    /// Opens the archive and reads its central directory; `Err(reason)` means the archive is
    /// refused (the host exits 3).
    ///
    /// Why so strict here: everything the rows rely on is decided now, once. Refused: a file that
    /// is not a regular file, an empty one, one with no end record (not a zip, or truncated), a
    /// central directory the zip crate cannot parse, and one whose records do not match the
    /// entries the zip crate lists. The last one is two entries with one name: the zip crate
    /// keeps only the last of them, at the first one's place, so entries would vanish and the
    /// `line` numbers would lie; different tools would also see different files in it.
    pub fn open(path: &Path) -> Result<Archive, String> {
        // Checked before opening: opening a named pipe would block until a writer comes.
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err("not a regular file".to_string()),
            Err(e) => return Err(format!("cannot be read: {e}")),
        }
        let file = File::open(path).map_err(|e| format!("cannot be read: {e}"))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("cannot be read: {e}"))?;
        if !meta.is_file() {
            return Err("not a regular file".to_string());
        }
        let size = meta.len();
        if size == 0 {
            return Err("not a zip archive: the file is empty".to_string());
        }
        let walker = file
            .try_clone()
            .map_err(|e| format!("cannot be read: {e}"))?;
        let mut walker = Source::new(walker, size, Budget::new(u64::MAX));
        let budget = Budget::new(
            size.saturating_mul(OPEN_BUDGET_FACTOR)
                .saturating_add(1 << 20),
        );
        let zip = match ZipArchive::new(Source::new(file, size, budget.clone())) {
            Ok(zip) => zip,
            Err(e) => return Err(open_error(e, &mut walker)),
        };
        budget.lift();
        let (records, fingerprint) =
            walk_central_directory(walker, zip.central_directory_start(), zip.len(), size)?;
        Ok(Archive {
            zip,
            size,
            records,
            fingerprint,
        })
    }

    /// The number of entries in the central directory, directories included.
    ///
    /// Why directories count: a row's `line` is its position in the archive, directories
    /// included, so this is the highest `line` there can be.
    pub fn entry_count(&self) -> usize {
        self.zip.len()
    }

    /// The size of the archive file in bytes, as it was when opened (for the report, and part of
    /// the [`fingerprint`](Archive::fingerprint)).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// A stable 64-bit identity of the archive, to recognise the same archive when a run that was
    /// killed is run again (and resume it with `skip`).
    ///
    /// It is FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3) over the file size
    /// (8 bytes, little-endian) then every central directory record byte for byte: names, CRCs,
    /// sizes, offsets, attributes, extra fields and comments. Why those bytes and this hash: both
    /// are fixed by the zip format and written here, not by a library, so the value cannot change
    /// between builds; and any change to an entry's content changes its CRC, so its record. It
    /// recognises, it does not authenticate: it is no defence against someone forging a collision.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The pre-pass of `max_archive_bytes`: `Ok(total bytes decompressed)`, or `Err(reason)` when
    /// the archive is refused.
    ///
    /// Why a pass of its own: the archive must be refused before any picture is applied, and only
    /// decompressing tells the true size (declared sizes can lie). Every entry but directories is
    /// decompressed into a counting sink (nothing is kept), system files and unsafe entries
    /// included: they are part of what the archive weighs. Each entry counts at most
    /// `max_entry_bytes + 1` bytes (such an entry fails on its own later); the pass stops as soon
    /// as the running total passes the limit, and the reason names the limit and the entry where
    /// it was passed. An entry that cannot be read (bad CRC, unsupported method, encrypted) is no
    /// refusal: it counts what it gave and fails on its own among the rows.
    pub fn check_total(&mut self, limits: &Limits) -> Result<u64, String> {
        let mut chunk = vec![0; CHUNK];
        let mut total: u64 = 0;
        for index in 0..self.zip.len() {
            let Some(name) = self.zip.name_for_index(index) else {
                continue;
            };
            if guard::is_dir(name) || self.records[index].encrypted() {
                continue;
            }
            let room = limits.max_archive_bytes - total;
            let cap = limits.max_entry_bytes.min(room);
            let (read, _) = stream_entry(&mut self.zip, index, cap, &mut chunk, |_| {});
            total += read;
            if total > limits.max_archive_bytes {
                let path = self.zip.name_for_index(index).unwrap_or_default();
                return Err(format!(
                    "over max_archive_bytes: more than {} once decompressed, passed at entry {} ({})",
                    human_size(limits.max_archive_bytes),
                    index + 1,
                    quoted(path)
                ));
            }
        }
        Ok(total)
    }

    /// The rows: every entry but directories, in archive order, each once, skipping the first
    /// `skip` rows without decompressing them (a resumed run has applied them already).
    ///
    /// Why an iterator: only one entry's bytes (at most `max_entry_bytes`) are held at a time.
    pub fn entries(&mut self, limits: Limits, skip: u64) -> Entries<'_> {
        Entries {
            archive: self,
            limits,
            skip,
            next: 0,
            rows: 0,
            chunk: vec![0; CHUNK],
        }
    }

    /// One row: the guards, then the bytes.
    fn row(&mut self, index: usize, limits: &Limits, chunk: &mut [u8]) -> Entry {
        let path = self
            .zip
            .name_for_index(index)
            .unwrap_or_default()
            .to_string();
        let record = self.records[index].clone();
        let entry = |kind: EntryKind, decompressed: u64| Entry {
            line: index as u64 + 1,
            index,
            path: path.clone(),
            kind,
            decompressed,
        };
        let unsafe_why = guard::unsafe_reason(path.as_bytes())
            .or(record.raw_unsafe)
            .or_else(|| guard::is_symlink(record.external_attributes).then_some("symbolic link"));
        if let Some(why) = unsafe_why {
            return entry(
                EntryKind::Failed {
                    reason: format!("unsafe path ({why})"),
                    tryback: false,
                },
                0,
            );
        }
        if guard::is_system(path.as_bytes()) {
            return entry(EntryKind::Skipped("system file".to_string()), 0);
        }
        if record.encrypted() {
            // Not in the tryback: the zip crate's raw copy does not carry the encryption flag or
            // AES field, so the copy would be garbage under a plain entry's header.
            return entry(
                EntryKind::Failed {
                    reason: "cannot be read: encrypted".to_string(),
                    tryback: false,
                },
                0,
            );
        }
        if record.method != STORED && record.method != DEFLATED {
            let reason = format!(
                "cannot be read: compression method {} is not supported (only stored and deflated)",
                record.method
            );
            let tryback = self.copyable(index);
            return entry(EntryKind::Failed { reason, tryback }, 0);
        }
        let cap = limits.max_entry_bytes;
        // Sized by what the entry declares (no more than the limit, whatever it claims), so
        // that an honest entry is read without regrowing; a lying one grows by doubling, capped.
        let mut data = Vec::with_capacity(usize::try_from(record.declared.min(cap)).unwrap_or(0));
        let (read, outcome) = stream_entry(&mut self.zip, index, cap, chunk, |bytes| {
            push_capped(&mut data, bytes, cap)
        });
        let kind = match outcome {
            Outcome::Complete => EntryKind::Data(data),
            Outcome::OverLimit => EntryKind::Failed {
                reason: format!(
                    "over max_image_bytes: more than {} once decompressed",
                    human_size(cap)
                ),
                tryback: true,
            },
            Outcome::Unreadable(why) => EntryKind::Failed {
                reason: format!("cannot be read: {why}"),
                tryback: self.copyable(index),
            },
        };
        entry(kind, read)
    }

    /// Whether the entry can be copied raw into the tryback: its local header must be found.
    fn copyable(&mut self, index: usize) -> bool {
        !self.records[index].encrypted() && self.zip.by_index_raw(index).is_ok()
    }

    /// Copies the listed entries raw into a new zip written to `out` (see [`write_tryback`]).
    fn copy_raw(&mut self, indexes: &[usize], out: impl Write + Seek) -> io::Result<()> {
        let mut writer = ZipWriter::new(out);
        let mut done = std::collections::HashSet::new();
        for &index in indexes {
            let Some(name) = self.zip.name_for_index(index) else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "the archive has no entry at index {index} ({} entries)",
                        self.zip.len()
                    ),
                ));
            };
            let record = &self.records[index];
            let unsafe_name = guard::unsafe_reason(name.as_bytes()).is_some()
                || record.raw_unsafe.is_some()
                || guard::is_symlink(record.external_attributes);
            if unsafe_name || guard::is_dir(name) || record.encrypted() || !done.insert(index) {
                continue;
            }
            // An entry whose local header cannot be found cannot be copied (its row said so).
            let Ok(file) = self.zip.by_index_raw(index) else {
                continue;
            };
            writer.raw_copy_file(file)?;
        }
        writer.finish()?;
        Ok(())
    }
}

/// The rows of an archive, from [`Archive::entries`]: an iterator of [`Entry`].
///
/// Why it borrows the archive mutably: each row is decompressed when it is asked for, from the
/// archive's one open file, so the host holds one entry's bytes at a time.
pub struct Entries<'a> {
    archive: &'a mut Archive,
    limits: Limits,
    skip: u64,
    next: usize,
    rows: u64,
    chunk: Vec<u8>,
}

impl Iterator for Entries<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        while self.next < self.archive.zip.len() {
            let index = self.next;
            self.next += 1;
            let is_dir = self
                .archive
                .zip
                .name_for_index(index)
                .is_none_or(guard::is_dir);
            if is_dir {
                continue;
            }
            self.rows += 1;
            if self.rows <= self.skip {
                continue;
            }
            return Some(self.archive.row(index, &self.limits, &mut self.chunk));
        }
        None
    }
}

/// One row of the archive: an entry that is not a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The 1-based position of the entry in the central directory, directories counted: the
    /// row's `line` in the report, which the user finds by listing the archive.
    pub line: u64,
    /// The 0-based index of the entry in the zip, to name it to [`write_tryback`].
    pub index: usize,
    /// The name as the zip crate decoded it (UTF-8 when flagged, else CP437). It may hold control
    /// characters: escaping it is the host's business, as for every message it prefixes.
    pub path: String,
    /// What the row is.
    pub kind: EntryKind,
    /// The bytes actually decompressed for this entry (0 when it was not read): at most
    /// `max_entry_bytes + 1`, whatever the archive declares, which is how tests see a bomb stop.
    pub decompressed: u64,
}

/// What a row is. The reasons never start with the entry's path: the host prefixes every message
/// of an archive row with the path itself.
#[derive(Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// The entry's bytes, complete, CRC checked, at most `max_entry_bytes`.
    Data(Vec<u8>),
    /// A row that is not a picture and is not an error: "system file".
    Skipped(String),
    /// A failed row. `tryback` says whether the entry goes to the tryback archive: false for an
    /// unsafe path (never handed back to a user who may extract it), for an encrypted entry and
    /// for one whose data cannot be located (neither can be copied as stored).
    Failed {
        /// Why, e.g. "unsafe path (`..`)", "over max_image_bytes: more than 8 MiB once
        /// decompressed", "cannot be read: CRC mismatch".
        reason: String,
        /// Whether [`write_tryback`] may copy the entry.
        tryback: bool,
    },
}

impl std::fmt::Debug for EntryKind {
    /// Data is shown by its length: a picture's bytes drown a failing test's message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryKind::Data(bytes) => write!(f, "Data({} bytes)", bytes.len()),
            EntryKind::Skipped(reason) => f.debug_tuple("Skipped").field(reason).finish(),
            EntryKind::Failed { reason, tryback } => f
                .debug_struct("Failed")
                .field("reason", reason)
                .field("tryback", tryback)
                .finish(),
        }
    }
}

/// Writes the tryback archive: a new zip holding the entries at `indexes` of the archive at
/// `source`, in the order given, each copied raw, "as stored" (no decompression, no
/// recompression: the same compressed bytes, CRC, sizes and name).
///
/// Why raw: the user gets back exactly what failed, to fix and send again, and a failed entry (a
/// bomb, a damaged one) is never decompressed to be copied. The host creates `out` (owner-only
/// permissions) and names the indexes of the failed rows whose `tryback` is true. Whatever it
/// names, an unsafe entry, an encrypted one, one whose local header cannot be found, a directory
/// or an index given twice is left out: a tryback must never carry a path that escapes the folder
/// it is extracted into, nor an entry that cannot be copied as stored. An index past the
/// archive's entries, an archive that is refused, and read or write errors are errors.
pub fn write_tryback(source: &Path, indexes: &[usize], out: impl Write + Seek) -> io::Result<()> {
    let mut archive =
        Archive::open(source).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    archive.copy_raw(indexes, out)
}

/// How reading one entry ended.
enum Outcome {
    /// The whole entry, CRC checked, its size as declared.
    Complete,
    /// More bytes than the cap: reading stopped one byte past it.
    OverLimit,
    /// The entry cannot be read; why.
    Unreadable(String),
}

/// Decompresses entry `index` into `sink`, never more than `cap + 1` bytes: the read stops at
/// the end of the entry, at an error, or one byte past `cap` (that byte is not given to the sink).
/// Returns the bytes decompressed and how it ended.
fn stream_entry(
    zip: &mut ZipArchive<Source>,
    index: usize,
    cap: u64,
    chunk: &mut [u8],
    mut sink: impl FnMut(&[u8]),
) -> (u64, Outcome) {
    let mut file = match zip.by_index(index) {
        Ok(file) => file,
        Err(e) => return (0, Outcome::Unreadable(zip_error(e))),
    };
    let declared = file.size();
    let mut total: u64 = 0;
    loop {
        // total <= cap here, so there is room for at least one byte: the one that tells "over".
        let room = cap.saturating_add(1) - total;
        let want = room.min(chunk.len() as u64) as usize;
        match file.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => {
                total += n as u64;
                if total > cap {
                    return (total, Outcome::OverLimit);
                }
                sink(&chunk[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (total, Outcome::Unreadable(io_error(&e))),
        }
    }
    // The zip crate checks the CRC at the end but trusts neither size; a size that differs from
    // the declared one (with a CRC that matches) is an archive that lies about this entry.
    if total != declared {
        let why = format!(
            "{} decompressed where the archive declares {}",
            plural_bytes(total),
            plural_bytes(declared)
        );
        return (total, Outcome::Unreadable(why));
    }
    (total, Outcome::Complete)
}

/// Appends to `data`, growing it by doubling but never past `cap` bytes of capacity: an entry just
/// under its limit must not cost twice the limit.
fn push_capped(data: &mut Vec<u8>, bytes: &[u8], cap: u64) {
    let needed = data.len() + bytes.len();
    if needed > data.capacity() {
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        let target = data
            .capacity()
            .saturating_mul(2)
            .max(CHUNK)
            .min(cap)
            .max(needed);
        data.reserve_exact(target - data.len());
    }
    data.extend_from_slice(bytes);
}

/// Reads every central directory record of the archive (the zip crate has listed `count`
/// entries starting at `start`): the fields the zip crate keeps private, the raw names' guard, and
/// the fingerprint. Refuses the archive when the records and the zip crate's entries disagree.
fn walk_central_directory(
    mut reader: Source,
    start: u64,
    count: usize,
    size: u64,
) -> Result<(Vec<Record>, u64), String> {
    let damaged = |n: usize, e: io::Error| {
        format!("damaged zip archive: central directory record {n} cannot be read: {e}")
    };
    let mut hash = Fnv::new();
    hash.write(&size.to_le_bytes());
    let mut records = Vec::new();
    reader
        .seek(SeekFrom::Start(start))
        .map_err(|e| damaged(1, e))?;
    let mut fixed = [0u8; CENTRAL_FIXED];
    let mut variable = Vec::new();
    let mut names: std::collections::HashMap<Vec<u8>, usize> = Default::default();
    // (local header offset, compressed size, record number) of each entry, to find two records
    // that share their data.
    let mut extents: Vec<(u64, u64, usize)> = Vec::new();
    for n in 1..=count {
        reader.read_exact(&mut fixed).map_err(|e| damaged(n, e))?;
        if fixed[..4] != CENTRAL_SIGNATURE {
            return Err(format!(
                "damaged zip archive: central directory record {n} has no signature"
            ));
        }
        let u16_at = |at: usize| u16::from_le_bytes([fixed[at], fixed[at + 1]]);
        let name_len = usize::from(u16_at(28));
        let rest = name_len + usize::from(u16_at(30)) + usize::from(u16_at(32));
        variable.resize(rest, 0);
        reader
            .read_exact(&mut variable)
            .map_err(|e| damaged(n, e))?;
        hash.write(&fixed);
        hash.write(&variable);
        let name = &variable[..name_len];
        if let Some(first) = names.insert(name.to_vec(), n) {
            return Err(format!(
                "entries {first} and {n} have the same name {}: different tools would see \
                 different files in it",
                quoted(&String::from_utf8_lossy(name))
            ));
        }
        let u32_at = |at: usize| {
            u32::from_le_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]])
        };
        let (compressed, offset) = (u32_at(20), u32_at(42));
        // Zip64 sizes and offsets live in an extra field: those entries are not compared.
        if compressed != u32::MAX && offset != u32::MAX {
            extents.push((u64::from(offset), u64::from(compressed), n));
        }
        records.push(Record {
            flags: u16_at(8),
            method: u16_at(10),
            external_attributes: u32::from_le_bytes([fixed[38], fixed[39], fixed[40], fixed[41]]),
            raw_unsafe: guard::unsafe_reason(&variable[..name_len]),
            declared: match u32_at(24) {
                u32::MAX => 0,
                size => u64::from(size),
            },
        });
    }
    // Two records whose data overlap (a second name for the same bytes): a streaming reader sees
    // one file where this one sees two, and a zip bomb multiplies its output that way.
    extents.sort_unstable();
    for pair in extents.windows(2) {
        let ((at, size, first), (next_at, _, second)) = (pair[0], pair[1]);
        // At least the 30 bytes of a local header, then the data, before the next one starts.
        if next_at < at + LOCAL_FIXED + size {
            return Err(format!(
                "entries {} and {} overlap (their data share bytes of the archive): different \
                 tools would see different files in it",
                first.min(second),
                first.max(second)
            ));
        }
    }
    // The zip crate read as many records as the end record declares; it lists fewer entries only
    // when names repeat (it keeps one entry per name). Then a record follows the last one listed.
    let mut next = [0u8; 4];
    if reader.read_exact(&mut next).is_ok() && next == CENTRAL_SIGNATURE {
        return Err(format!(
            "two entries have the same name (the central directory has more than {count} records \
             for {count} names): different tools would see different files in it"
        ));
    }
    Ok((records, hash.finish()))
}

/// FNV-1a, 64 bits: small, fixed by its definition, so the fingerprint never depends on a
/// library's version (std's hashers are randomised or unspecified).
struct Fnv(u64);

impl Fnv {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Fnv {
        Fnv(Self::OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The reason of a refusal at opening.
///
/// When no end record could be used, the zip crate only says so (it drops the errors of the
/// candidates it tried), so the file itself tells a text file from a truncated or damaged zip.
fn open_error(e: ZipError, file: &mut Source) -> String {
    match e {
        ZipError::InvalidArchive(m) if m.contains("EOCD") => match end_record_evidence(file) {
            Evidence::EndRecord => {
                "damaged zip archive: its central directory cannot be read".to_string()
            }
            Evidence::LocalHeader => {
                "truncated or damaged zip archive: no end of central directory record".to_string()
            }
            Evidence::None => "not a zip archive".to_string(),
        },
        ZipError::Io(e) if e.to_string() == BUDGET_SPENT => {
            format!("damaged zip archive: {BUDGET_SPENT}")
        }
        ZipError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            "truncated or damaged zip archive: its central directory is cut short".to_string()
        }
        e => format!("damaged zip archive: {}", zip_error(e)),
    }
}

/// What a file that has no usable end record still shows of a zip.
enum Evidence {
    /// An end record signature where one must be (the last 22 + 65,535 bytes).
    EndRecord,
    /// The file starts with an entry's local header.
    LocalHeader,
    None,
}

fn end_record_evidence(file: &mut Source) -> Evidence {
    const TAIL: u64 = 22 + u16::MAX as u64;
    let mut head = [0u8; 4];
    let starts_with_entry = file.seek(SeekFrom::Start(0)).is_ok()
        && file.read_exact(&mut head).is_ok()
        && head == *b"PK\x03\x04";
    let mut tail = Vec::new();
    let len = file.seek(SeekFrom::End(0)).unwrap_or(0);
    let read = file
        .seek(SeekFrom::Start(len.saturating_sub(TAIL)))
        .and_then(|_| file.take(TAIL).read_to_end(&mut tail));
    if read.is_ok() && tail.windows(4).any(|w| w == b"PK\x05\x06") {
        Evidence::EndRecord
    } else if starts_with_entry {
        Evidence::LocalHeader
    } else {
        Evidence::None
    }
}

/// A zip error as a reason (the zip crate's `Display` prefixes its own category words).
fn zip_error(e: ZipError) -> String {
    match e {
        ZipError::Io(e) => io_error(&e),
        ZipError::InvalidArchive(m) => lower_first(&m),
        ZipError::UnsupportedArchive(ZipError::PASSWORD_REQUIRED) => "encrypted".to_string(),
        ZipError::UnsupportedArchive(m) => lower_first(m),
        ZipError::InvalidPassword => "encrypted".to_string(),
        e => lower_first(&e.to_string()),
    }
}

/// An error met while decompressing, as a reason.
fn io_error(e: &io::Error) -> String {
    let text = e.to_string();
    if text == "Invalid checksum" {
        "CRC mismatch (the data is damaged)".to_string()
    } else if e.kind() == io::ErrorKind::UnexpectedEof {
        "the data is cut short".to_string()
    } else {
        lower_first(&text)
    }
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn plural_bytes(n: u64) -> String {
    match n {
        1 => "1 byte".to_string(),
        n => format!("{n} bytes"),
    }
}

/// A name inside a refusal reason (where the host cannot escape it): in quotes, control
/// characters escaped so a name cannot forge lines or terminal sequences in a report.
fn quoted(name: &str) -> String {
    let mut out = String::from("\"");
    for c in name.chars() {
        if c.is_control() || c == '"' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}
