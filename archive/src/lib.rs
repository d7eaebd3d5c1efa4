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
//! - an entry's failure stays that entry's: one damaged entry does not refuse the archive;
//! - its memory does not grow with the number of entries: the central directory is read as a
//!   stream, a record at a time, each time it is walked (see [`Archive`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod guard;
mod size;

#[cfg(test)]
mod tests;

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use rawzip::path::{EntryPath, ZipFilePath};
use rawzip::{
    CompressionMethod, Crc32, DataDescriptorOutput, ErrorKind, FileReader, ReaderAt,
    ZipArchiveEntryWayfinder, ZipArchiveWriter, ZipFileHeaderRecord,
};

pub use size::{human_size, parse_size};

/// Bytes decompressed per read: the most an entry is read past its limit is one byte, but the
/// chunk is what a read asks of the decompressor at a time (and the pre-pass's only buffer).
const CHUNK: usize = 64 * 1024;

/// The walk's buffer: the largest central directory record there can be (fixed part, name, extra
/// field and comment of 65,535 bytes each), so no honest record is ever too big for it.
const WALK_BUFFER: usize = rawzip::MAX_CENTRAL_DIRECTORY_RECORD_SIZE;

/// Bytes of a local file header before its name.
const LOCAL_FIXED: u64 = 30;

/// The compression methods toolsync reads (flate2 for deflate).
const STORED: u16 = 0;
const DEFLATED: u16 = 8;
/// WinZip's AES method: the data is encrypted whatever the flags say.
const AES: u16 = 99;

/// The Info-ZIP Unicode path extra field: a UTF-8 name beside a name field in CP437.
const UNICODE_PATH: u16 = 0x7075;

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

/// An open zip archive: its central directory, checked once, over the open file.
///
/// Why one object: the checks of the opening (a consistent central directory, the fingerprint)
/// hold for the file that stays open, so the rows and the pre-pass read exactly what was checked,
/// even if the path is replaced meanwhile. (A file written in place after the opening is read
/// again as it then is: each row is guarded again, and the walk stops with
/// [`Entries::read_error`] where the directory no longer reads as counted.)
///
/// Why the directory is walked, not kept: a zip reader that lists the directory into memory (the
/// zip crate's `ZipArchive` does) holds about half a kilobyte an entry, more while it builds its
/// index: 25 MB at the opening of a 50,000-entry archive, the largest part of such a run's peak.
/// rawzip reads the records as a stream through one buffer, so the opening, the pre-pass, the
/// rows and the tryback each walk the directory again, a record at a time, and a run's memory is
/// the same for ten entries or a million. The checks that need every record at once (two names
/// alike, two entries sharing their data) keep 56 bytes an entry during the opening only.
pub struct Archive {
    zip: rawzip::ZipArchive<FileReader>,
    walk_buffer: Vec<u8>,
    size: u64,
    entry_count: usize,
    fingerprint: u64,
}

/// What the rows need of a central directory record, copied out of the walk's buffer.
#[derive(Clone, Debug)]
struct Record {
    /// The name decoded: the Info-ZIP Unicode path when the record has a valid one, else UTF-8
    /// when flagged or valid, else CP437.
    path: String,
    /// Why the name is unsafe, when it is: the decoded name and the raw bytes are both checked
    /// (the Unicode path field can make the two differ), and a symbolic link is unsafe too.
    unsafe_why: Option<&'static str>,
    encrypted: bool,
    /// The compression method as written.
    method: u16,
    /// Where the entry's local header and data are, as the central directory says.
    wayfinder: ZipArchiveEntryWayfinder,
    /// The CRC-32 the directory declares for the decompressed data.
    crc: u32,
    /// The uncompressed size it declares: checked at the end of the entry, and a hint for the
    /// first allocation, never trusted as a bound.
    declared: u64,
}

impl Record {
    fn of(header: &ZipFileHeaderRecord<'_>) -> Record {
        let raw = header.file_path();
        let raw = raw.as_ref();
        let flags = header.flags();
        let path = decoded_name(raw, flags.is_utf8(), header);
        let method = header.compression_method().as_u16();
        // Every Unicode path field's name is checked too, whatever its version or CRC: another
        // tool may take one this crate ignores.
        let unicode_unsafe = || {
            header
                .extra_fields()
                .filter(|(id, _)| id.as_u16() == UNICODE_PATH)
                .find_map(|(_, data)| guard::unsafe_reason(data.get(5..).unwrap_or_default()))
        };
        let unsafe_why = guard::unsafe_reason(path.as_bytes())
            .or_else(|| guard::unsafe_reason(raw))
            .or_else(unicode_unsafe)
            .or_else(|| guard::is_symlink(header.external_attributes()).then_some("symbolic link"));
        Record {
            path,
            unsafe_why,
            encrypted: flags.is_encrypted() || method == AES,
            method,
            wayfinder: header.wayfinder(),
            crc: header.crc32(),
            declared: header.uncompressed_size_hint(),
        }
    }

    fn is_dir(&self) -> bool {
        guard::is_dir(&self.path)
    }
}

/// The name a user sees: what unzip tools show for the record.
fn decoded_name(raw: &[u8], utf8: bool, header: &ZipFileHeaderRecord<'_>) -> String {
    // The Unicode path field: version 1, the CRC-32 of the name field it stands for, the name.
    // A field whose CRC does not match was written for another name and is ignored (APPNOTE 4.6.9).
    let unicode = header
        .extra_fields()
        .find(|(id, _)| id.as_u16() == UNICODE_PATH)
        .and_then(|(_, data)| {
            let (version, rest) = data.split_first()?;
            let (crc, name) = rest.split_at_checked(4)?;
            let crc = u32::from_le_bytes(crc.try_into().ok()?);
            (*version == 1 && crc == rawzip::crc32(raw)).then_some(name)
        })
        .and_then(|name| std::str::from_utf8(name).ok());
    if let Some(name) = unicode {
        return name.to_string();
    }
    if utf8 {
        return String::from_utf8_lossy(raw).into_owned();
    }
    // Without the flag the zip format says CP437, but some tools write UTF-8 names without
    // setting it (and the tryback does, for names it must write byte for byte). Valid UTF-8 with
    // bytes over 127 is almost never CP437 text (it would read as pairs like "Ã©").
    match std::str::from_utf8(raw) {
        Ok(name) => name.to_string(),
        Err(_) => {
            oem_cp::decode_string_complete_table(raw, &oem_cp::code_table::DECODING_TABLE_CP437)
        }
    }
}

impl Archive {
    /// Opens the archive and walks its central directory; `Err(reason)` means the archive is
    /// refused (the host exits 3).
    ///
    /// Why so strict here: everything the rows rely on is decided now, once. Refused: a file that
    /// is not a regular file, an empty one, one with no end record (not a zip, or truncated), a
    /// central directory that cannot be read to its end or holds another number of records than
    /// its end record declares, two entries with one name (an extractor keeps one of them,
    /// different tools see different files) and two entries whose data overlap (a second name
    /// for the same bytes: a streaming reader sees one file where this one sees two, and a zip
    /// bomb multiplies its output that way).
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
        let evidence = file
            .try_clone()
            .map_err(|e| format!("cannot be read: {e}"))?;
        let mut walk_buffer = vec![0; WALK_BUFFER];
        // rawzip takes the last end record signature of the file's tail and never tries another,
        // so a file full of fake end records costs one read of its tail, not one per record.
        let zip = match rawzip::ZipArchive::from_file(file, &mut walk_buffer) {
            Ok(zip) => zip,
            Err(e) => return Err(open_error(&e, evidence)),
        };
        let mut archive = Archive {
            zip,
            walk_buffer,
            size,
            entry_count: 0,
            fingerprint: 0,
        };
        archive.entry_count = archive.check_directory()?;
        archive.fingerprint = archive.hash_directory().map_err(|e| {
            format!("damaged zip archive: its central directory cannot be read: {e}")
        })?;
        Ok(archive)
    }

    /// The opening's walk: every record read, the record count, names and extents checked.
    /// Returns the number of records.
    fn check_directory(&mut self) -> Result<usize, String> {
        let damaged = "damaged zip archive: its central directory cannot be read";
        let keys = RandomState::new();
        // (hash of the name as bytes, record number), the same as decoded, and (local header
        // offset, compressed size, record number) of every record: 56 bytes an entry, freed
        // when the opening ends.
        // Sized once, not grown by doubling: by the count the end record declares, but never
        // above what the directory's bytes can hold (a record takes at least 46 of them), so a
        // lying count costs nothing.
        let room = self
            .zip
            .eocd_offset()
            .saturating_sub(self.zip.directory_offset())
            / 46;
        let capacity = usize::try_from(self.zip.entries_hint().min(room)).unwrap_or(0);
        let mut names: Vec<(u64, usize)> = Vec::with_capacity(capacity.saturating_mul(2));
        let mut extents: Vec<(u64, u64, usize)> = Vec::with_capacity(capacity);
        let declared = self.zip.entries_hint();
        let directory = self.zip.directory_offset();
        let mut walk = self.zip.entries(&mut self.walk_buffer);
        let mut count = 0;
        loop {
            let header = match walk.next_entry() {
                Ok(Some(header)) => header,
                Ok(None) => break,
                Err(_) => return Err(damaged.to_string()),
            };
            count += 1;
            if count as u64 > declared {
                return Err(format!(
                    "damaged zip archive: its end record declares {declared} entries, its \
                     central directory holds more"
                ));
            }
            // Two names alike, as bytes (what an extractor writes) or as decoded (what a row
            // is keyed by: a CP437 name and a UTF-8 one can decode alike).
            let raw = header.file_path();
            let decoded = decoded_name(raw.as_ref(), header.flags().is_utf8(), &header);
            names.push((keys.hash_one((0u8, raw.as_ref())), count));
            names.push((keys.hash_one((1u8, decoded.as_bytes())), count));
            // An entry's data lies before the directory: one inside it, or after it, is seen by
            // this reader and by no tool that reads the archive from its start.
            let (at, size) = (header.local_header_offset(), header.compressed_size_hint());
            if at.saturating_add(LOCAL_FIXED).saturating_add(size) > directory {
                return Err(format!(
                    "damaged zip archive: the data of entry {count} is not before the central \
                     directory: different tools would see different files in it"
                ));
            }
            extents.push((at, size, count));
        }
        if declared != count as u64 {
            return Err(format!(
                "damaged zip archive: its end record declares {declared} entries, its central \
                 directory holds {count}"
            ));
        }
        extents.sort_unstable();
        for pair in extents.windows(2) {
            let ((at, size, first), (next_at, _, second)) = (pair[0], pair[1]);
            // At least the 30 bytes of a local header, then the data, before the next one starts.
            if next_at < at.saturating_add(LOCAL_FIXED).saturating_add(size) {
                return Err(format!(
                    "entries {} and {} overlap (their data share bytes of the archive): different \
                     tools would see different files in it",
                    first.min(second),
                    first.max(second)
                ));
            }
        }
        drop(extents);
        self.check_names(names)?;
        Ok(count)
    }

    /// Refuses two records with one name, as bytes or as decoded. The opening kept a keyed hash
    /// of each (the keys are random, so no archive can be made to collide); records whose hashes
    /// are alike are read again and their names compared. Only those records' names are held
    /// (at most the directory's own size, for an archive that is then refused).
    fn check_names(&mut self, mut names: Vec<(u64, usize)>) -> Result<(), String> {
        names.sort_unstable();
        let mut suspects = std::collections::HashSet::new();
        for pair in names.windows(2) {
            if pair[0].0 == pair[1].0 {
                suspects.insert(pair[0].1);
                suspects.insert(pair[1].1);
            }
        }
        drop(names);
        if suspects.is_empty() {
            return Ok(());
        }
        // The first record of each name, and the earliest record that repeats one.
        let mut first_raw: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut first_decoded: HashMap<String, usize> = HashMap::new();
        let mut repeat: Option<(usize, usize, String)> = None;
        let mut walk = self.zip.entries(&mut self.walk_buffer);
        let mut n = 0;
        while let Ok(Some(header)) = walk.next_entry() {
            n += 1;
            if !suspects.contains(&n) {
                continue;
            }
            let raw = header.file_path();
            let raw = raw.as_ref();
            let decoded = decoded_name(raw, header.flags().is_utf8(), &header);
            let first = first_raw.get(raw).or_else(|| first_decoded.get(&decoded));
            if let Some(&first) = first {
                repeat = Some((first, n, decoded));
                break;
            }
            first_raw.insert(raw.to_vec(), n);
            first_decoded.insert(decoded, n);
        }
        match repeat {
            Some((first, n, name)) => Err(format!(
                "entries {first} and {n} have the same name {}: different tools would see \
                 different files in it",
                quoted(&name)
            )),
            None => Ok(()),
        }
    }

    /// The fingerprint's bytes: the file size, then the central directory as it is on disk, from
    /// its first record to the end record, read a buffer at a time.
    fn hash_directory(&mut self) -> io::Result<u64> {
        let mut hash = Fnv::new();
        hash.write(&self.size.to_le_bytes());
        let start = self.zip.directory_offset();
        let end = self.zip.eocd_offset().max(start);
        let mut at = start;
        while at < end {
            let want = (end - at).min(self.walk_buffer.len() as u64) as usize;
            let buffer = &mut self.walk_buffer[..want];
            self.zip.get_ref().read_exact_at(buffer, at)?;
            hash.write(buffer);
            at += want as u64;
        }
        Ok(hash.finish())
    }

    /// The number of entries in the central directory, directories included.
    ///
    /// Why directories count: a row's `line` is its position in the archive, directories
    /// included, so this is the highest `line` there can be.
    pub fn entry_count(&self) -> usize {
        self.entry_count
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
    /// (8 bytes, little-endian) then the central directory byte for byte, from its first record to
    /// the end record: names, CRCs, sizes, offsets, attributes, extra fields and comments. Why
    /// those bytes and this hash: both are fixed by the zip format and written here, not by a
    /// library, so the value cannot change between builds; and any change to an entry's content
    /// changes its CRC, so its record. It recognises, it does not authenticate: it is no defence
    /// against someone forging a collision.
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
        let mut walk = self.zip.entries(&mut self.walk_buffer);
        let mut index = 0;
        loop {
            let record = match walk.next_entry() {
                Ok(Some(header)) => Record::of(&header),
                Ok(None) => break,
                Err(e) => return Err(changed(&e)),
            };
            index += 1;
            if record.is_dir() || record.encrypted {
                continue;
            }
            let room = limits.max_archive_bytes - total;
            let cap = limits.max_entry_bytes.min(room);
            let (read, _) = stream_entry(&self.zip, &record, cap, &mut chunk, |_| {});
            total += read;
            if total > limits.max_archive_bytes {
                return Err(format!(
                    "over max_archive_bytes: more than {} once decompressed, passed at entry {} ({})",
                    human_size(limits.max_archive_bytes),
                    index,
                    quoted(&record.path)
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
        let zip = &self.zip;
        Entries {
            zip,
            walk: zip.entries(&mut self.walk_buffer),
            limits,
            skip,
            index: 0,
            count: self.entry_count,
            rows: 0,
            chunk: vec![0; CHUNK],
            read_error: None,
        }
    }
}

/// One row: the guards, then the bytes.
fn row(
    zip: &rawzip::ZipArchive<FileReader>,
    index: usize,
    record: Record,
    limits: &Limits,
    chunk: &mut [u8],
) -> Entry {
    let entry = |kind: EntryKind, decompressed: u64| Entry {
        line: index as u64 + 1,
        index,
        path: record.path.clone(),
        kind,
        decompressed,
    };
    if let Some(why) = record.unsafe_why {
        return entry(
            EntryKind::Failed {
                reason: format!("unsafe path ({why})"),
                tryback: false,
            },
            0,
        );
    }
    if guard::is_system(record.path.as_bytes()) {
        return entry(EntryKind::Skipped("system file".to_string()), 0);
    }
    if record.encrypted {
        // Not in the tryback: a raw copy would not carry the encryption header or AES field, so
        // the copy would be garbage under a plain entry's header.
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
        let tryback = zip.get_entry(record.wayfinder).is_ok();
        return entry(EntryKind::Failed { reason, tryback }, 0);
    }
    let cap = limits.max_entry_bytes;
    // Sized by what the entry declares (no more than the limit, whatever it claims), so that an
    // honest entry is read without regrowing; a lying one grows by doubling, capped.
    // At most 1 MiB up front: the limit itself may be set very high.
    let hint = record.declared.min(cap).min(1 << 20);
    let mut data = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    let (read, outcome) = stream_entry(zip, &record, cap, chunk, |bytes| {
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
        Outcome::Unreadable { why, located } => EntryKind::Failed {
            reason: format!("cannot be read: {why}"),
            tryback: located,
        },
    };
    entry(kind, read)
}

/// The rows of an archive, from [`Archive::entries`]: an iterator of [`Entry`].
///
/// Why it borrows the archive mutably: the walk of the directory goes through the archive's one
/// buffer, and each row is decompressed when it is asked for, so the host holds one entry's bytes
/// at a time.
pub struct Entries<'a> {
    zip: &'a rawzip::ZipArchive<FileReader>,
    walk: rawzip::ZipEntries<'a, 'a, FileReader>,
    limits: Limits,
    skip: u64,
    /// Records walked so far.
    index: usize,
    /// The records the opening counted: the walk goes no further.
    count: usize,
    /// Rows (records but directories) walked so far.
    rows: u64,
    chunk: Vec<u8>,
    read_error: Option<String>,
}

impl Entries<'_> {
    /// Why the walk ended before the last entry the opening counted, if it did: the file changed
    /// under the run (written in place). The rows before were read as checked; the run must
    /// stop there, not end as if the archive had no more entries.
    pub fn read_error(&self) -> Option<&str> {
        self.read_error.as_deref()
    }
}

impl Iterator for Entries<'_> {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        while self.index < self.count && self.read_error.is_none() {
            let record = match self.walk.next_entry() {
                Ok(Some(header)) => Record::of(&header),
                Ok(None) => {
                    let why = format!(
                        "the archive's central directory ends after {} of its {} entries: was \
                         the file changed during the run?",
                        self.index, self.count
                    );
                    self.read_error = Some(why);
                    break;
                }
                Err(e) => {
                    self.read_error = Some(changed(&e));
                    break;
                }
            };
            let index = self.index;
            self.index += 1;
            if record.is_dir() {
                continue;
            }
            self.rows += 1;
            if self.rows <= self.skip {
                continue;
            }
            return Some(row(self.zip, index, record, &self.limits, &mut self.chunk));
        }
        None
    }
}

/// The reason when a directory the opening read whole cannot be walked again.
fn changed(e: &rawzip::Error) -> String {
    format!(
        "the archive's central directory cannot be read again ({}): was the file changed during \
         the run?",
        lower_first(&e.to_string())
    )
}

/// One row of the archive: an entry that is not a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The 1-based position of the entry in the central directory, directories counted: the
    /// row's `line` in the report, which the user finds by listing the archive.
    pub line: u64,
    /// The 0-based index of the entry in the zip, to name it to [`write_tryback`].
    pub index: usize,
    /// The name as decoded (the Unicode path field, else UTF-8 when flagged, else CP437). It may
    /// hold control characters: escaping it is the host's business, as for every message it
    /// prefixes.
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
/// recompression: the same compressed bytes, method, CRC and sizes, under its name).
///
/// Why raw: the user gets back exactly what failed, to fix and send again, and a failed entry (a
/// bomb, a damaged one) is never decompressed to be copied. The host creates `out` (owner-only
/// permissions) and names the indexes of the failed rows whose `tryback` is true. Whatever it
/// names, an unsafe entry, an encrypted one, one whose local header cannot be found, a directory
/// or an index given twice is left out: a tryback must never carry a path that escapes the folder
/// it is extracted into, nor an entry that cannot be copied as stored (nor one whose decoded name
/// is too long to be written back). Names are written as read, in UTF-8; each entry's sizes
/// follow its data (a data descriptor), as zip tools that write to a stream do. An index past the
/// archive's entries, an archive that is refused, and read or write errors are errors.
///
/// Memory: the records of the named entries (one walk of the directory finds them), and the
/// writer's central directory of what it copied: it follows the failed entries, not the archive.
pub fn write_tryback(source: &Path, indexes: &[usize], out: impl Write + Seek) -> io::Result<()> {
    let mut archive =
        Archive::open(source).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if let Some(&past) = indexes.iter().find(|&&i| i >= archive.entry_count) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the archive has no entry at index {past} ({} entries)",
                archive.entry_count
            ),
        ));
    }
    // Each index's place in the order given, first occurrence only.
    let mut place: HashMap<usize, usize> = HashMap::new();
    for &index in indexes {
        let next = place.len();
        place.entry(index).or_insert(next);
    }
    let mut wanted: Vec<Option<Record>> = vec![None; place.len()];
    let mut walk = archive.zip.entries(&mut archive.walk_buffer);
    let mut index = 0;
    while let Some(header) = walk
        .next_entry()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, changed(&e)))?
    {
        if let Some(&at) = place.get(&index) {
            wanted[at] = Some(Record::of(&header));
        }
        index += 1;
    }
    let mut writer = ZipArchiveWriter::new(out);
    for record in wanted.into_iter().flatten() {
        if record.unsafe_why.is_some() || record.is_dir() || record.encrypted {
            continue;
        }
        // An entry whose local header cannot be found cannot be copied (its row said so).
        let Ok(entry) = archive.zip.get_entry(record.wayfinder) else {
            continue;
        };
        // The name as it was read. rawzip's path type, which sets the UTF-8 flag, rewrites some
        // names (`\` to `/`, and a `:` drops what comes before it): those are written byte for
        // byte instead, in UTF-8 without the flag (which this crate reads back as UTF-8).
        let path = record.path.as_str();
        let normalized = ZipFilePath::from_str(path);
        let file = if normalized.as_str() == path {
            writer.new_file(EntryPath::from(normalized))
        } else {
            writer.new_file(EntryPath::verbatim(path.as_bytes()))
        }
        .compression_method(CompressionMethod::from(record.method));
        let (mut copy, _) = match file.start() {
            Ok(started) => started,
            // A name over 65,535 bytes (a CP437 name grows when decoded): nothing was written.
            Err(e) if matches!(e.kind(), ErrorKind::InvalidInput { .. }) => continue,
            Err(e) => return Err(io::Error::other(e)),
        };
        io::copy(&mut entry.reader(), &mut copy)?;
        copy.finish(DataDescriptorOutput::new(record.crc, record.declared))
            .map_err(io::Error::other)?;
    }
    writer.finish().map_err(io::Error::other)?;
    Ok(())
}

/// How reading one entry ended.
enum Outcome {
    /// The whole entry, its CRC and size as declared.
    Complete,
    /// More bytes than the cap: reading stopped one byte past it.
    OverLimit,
    /// The entry cannot be read: why, and whether its data could be located (a raw copy can be
    /// made of it).
    Unreadable { why: String, located: bool },
}

/// Decompresses the entry into `sink`, never more than `cap + 1` bytes: the read stops at the end
/// of the entry, at an error, or one byte past `cap` (that byte is not given to the sink).
/// Returns the bytes decompressed and how it ended.
fn stream_entry(
    zip: &rawzip::ZipArchive<FileReader>,
    record: &Record,
    cap: u64,
    chunk: &mut [u8],
    sink: impl FnMut(&[u8]),
) -> (u64, Outcome) {
    let entry = match zip.get_entry(record.wayfinder) {
        Ok(entry) => entry,
        Err(e) => {
            let why = zip_error(&e);
            return (
                0,
                Outcome::Unreadable {
                    why,
                    located: false,
                },
            );
        }
    };
    let raw = entry.reader();
    match record.method {
        STORED => read_capped(raw, record, cap, chunk, sink),
        DEFLATED => read_capped(
            flate2::read::DeflateDecoder::new(raw),
            record,
            cap,
            chunk,
            sink,
        ),
        method => {
            let why = format!("compression method {method} is not supported");
            (0, Outcome::Unreadable { why, located: true })
        }
    }
}

/// The read loop of [`stream_entry`]: the cap, then the CRC and the size the directory declares.
fn read_capped(
    mut data: impl Read,
    record: &Record,
    cap: u64,
    chunk: &mut [u8],
    mut sink: impl FnMut(&[u8]),
) -> (u64, Outcome) {
    let unreadable = |why: String| Outcome::Unreadable { why, located: true };
    let mut crc = Crc32::new();
    let mut total: u64 = 0;
    loop {
        // total <= cap here, so there is room for at least one byte: the one that tells "over".
        let room = cap.saturating_add(1) - total;
        let want = room.min(chunk.len() as u64) as usize;
        match data.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => {
                total += n as u64;
                if total > cap {
                    return (total, Outcome::OverLimit);
                }
                crc.update(&chunk[..n]);
                sink(&chunk[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return (total, unreadable(io_error(&e))),
        }
    }
    if crc.checksum() != record.crc {
        return (
            total,
            unreadable("CRC mismatch (the data is damaged)".to_string()),
        );
    }
    // A size that differs from the declared one (with a CRC that matches) is an archive that
    // lies about this entry.
    if total != record.declared {
        let why = format!(
            "{} decompressed where the archive declares {}",
            plural_bytes(total),
            plural_bytes(record.declared)
        );
        return (total, unreadable(why));
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
/// When no end record was found, the file itself tells a text file from a truncated zip.
fn open_error(e: &rawzip::Error, file: File) -> String {
    match e.kind() {
        ErrorKind::MissingEndOfCentralDirectory => {
            if starts_with_entry(file) {
                "truncated or damaged zip archive: no end of central directory record".to_string()
            } else {
                "not a zip archive".to_string()
            }
        }
        ErrorKind::Eof => {
            "truncated or damaged zip archive: its central directory is cut short".to_string()
        }
        ErrorKind::IO(e) => format!("cannot be read: {e}"),
        _ => "damaged zip archive: its central directory cannot be read".to_string(),
    }
}

/// Whether the file starts with an entry's local header (a zip cut before its end record).
fn starts_with_entry(mut file: File) -> bool {
    let mut head = [0u8; 4];
    file.seek(SeekFrom::Start(0)).is_ok()
        && file.read_exact(&mut head).is_ok()
        && head == *b"PK\x03\x04"
}

/// A rawzip error as a reason.
fn zip_error(e: &rawzip::Error) -> String {
    match e.kind() {
        ErrorKind::IO(e) => io_error(e),
        ErrorKind::Eof => "the data is cut short".to_string(),
        ErrorKind::InvalidSignature { .. } => "its local header is damaged".to_string(),
        _ => lower_first(&e.to_string()),
    }
}

/// An error met while decompressing, as a reason.
fn io_error(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        "the data is cut short".to_string()
    } else {
        lower_first(&e.to_string())
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
