//! Reading a Moodle course backup (`.mbz`) given in course-create's `template` column
//! (formats.md §3.1 "Template").
//!
//! Only what a template needs is read: the course settings of `course/course.xml` and the number,
//! name and summary of each `sections/section_*/section.xml`; `moodle_backup.xml` is only checked
//! (present, well-formed, root `moodle_backup`), so that any archive that happens to hold a
//! `course/course.xml` is not taken for a backup. Everything else in the archive (activities,
//! files, users, logs) is skipped unread where the container allows it (zip) or read through
//! without being kept (tar).
//!
//! The API is one function and two plain structs on purpose: the processor resolves the path
//! (absolute, or relative to the input file's folder), decides what "ends in `.mbz`" means,
//! converts and validates the settings with the same code as the row's own columns, and applies
//! precedence (row, then template, then default). This module only turns an archive into raw text,
//! so that none of those rules is written twice; all it takes from the plugin API is the rule that
//! a template, like an input, is a regular file (`toolsync_plugin_api::files`).
//!
//! Safety and cost, for archives that come from anywhere:
//! - the archive must be a regular file, checked before it is opened (a named pipe would block
//!   the open, `/dev/zero` would never end);
//! - nothing is extracted to disk and links are never followed: only regular-file entries are
//!   read, straight from the decompressing stream;
//! - every read is bounded by [`Read::take`], whatever the archive's headers claim: an XML entry
//!   by [`MAX_XML_BYTES`] decompressed, all of them together by [`MAX_XML_TOTAL`] (so that what is
//!   kept stays bounded however many sections an archive claims), and a tar extension header (a
//!   GNU long name, a pax header) by [`MAX_HEADER_BYTES`] — one claiming more is refused by its
//!   size before any of it is read. Zip headers are bounded by the format (16-bit lengths);
//! - XML is parsed without DTD support, so entities cannot expand beyond XML's predefined ones.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use toolsync_plugin_api::files::{self, FileProblem};

/// The largest XML entry read, decompressed (16 MiB): larger fails the row, naming the entry.
/// Real `course.xml` and `section.xml` files are a few KiB; `moodle_backup.xml` of a course with
/// thousands of activities stays well under a few MiB.
pub const MAX_XML_BYTES: u64 = 16 * 1024 * 1024;

/// The XML entries of one archive together, decompressed (64 MiB): what a template keeps (the
/// settings, each section's name and summary) is bounded by it, however many sections it holds.
pub const MAX_XML_TOTAL: u64 = 4 * MAX_XML_BYTES;

/// The largest tar extension header (1 MiB): a GNU long name (`././@LongLink`) or a pax header.
/// A path is a few hundred bytes at most; pax headers may carry extended attributes too.
/// The `tar` crate would read one whole into memory whatever its size, so extension headers are
/// read here, bounded, and the entries walked raw.
pub const MAX_HEADER_BYTES: u64 = 1024 * 1024;

/// The `course.xml` elements a template takes, in the order [`Backup::settings`] lists them.
pub const SETTINGS: [&str; 15] = [
    "format",
    "summary",
    "startdate",
    "showgrades",
    "newsitems",
    "maxbytes",
    "legacyfiles",
    "showreports",
    "visible",
    "groupmode",
    "groupmodeforce",
    "lang",
    "theme",
    "enablecompletion",
    "marker",
];

/// Moodle's way of writing a null value in backups; read as empty text.
const MOODLE_NULL: &str = "$@NULL@$";

/// What a backup gives a new course.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Backup {
    /// `course.xml` element name → its text, for the names of [`SETTINGS`] that the file holds,
    /// in [`SETTINGS`] order (a missing element is absent here: the row's value or the default
    /// applies). The text is raw (entities and CDATA resolved, not trimmed, `$@NULL@$` → empty):
    /// converting and validating it is the processor's job, as for a row's own columns.
    pub settings: Vec<(String, String)>,
    /// The sections, sorted by number, numbers unique.
    pub sections: Vec<BackupSection>,
}

impl Backup {
    /// The raw text of a setting, if the backup has it.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// One section of a backup. Directories are named by section id (`sections/section_101`), so the
/// number comes from the `<number>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSection {
    /// `<number>`: 0 is the general section.
    pub number: u32,
    /// `<name>`, empty when missing or `$@NULL@$`.
    pub name: String,
    /// `<summary>` (HTML as stored), empty when missing or `$@NULL@$`.
    pub summary: String,
}

/// Reads the backup at `path` (already resolved by the caller).
///
/// The container is recognised by its first bytes: gzip (a tar inside) or zip (`PK`); the name's
/// extension is not looked at. Entry names may start with `./`.
///
/// Errors are operator-readable sentences for the row's message: a missing file gives
/// `template not found: <path>`; every other error names the archive by its file name in
/// backticks (`template \`y.mbz\` ...`) and, when one entry is at fault, that entry as written in
/// the archive.
pub fn read_backup(path: &Path) -> Result<Backup, String> {
    let label = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    // Checked before the open, which a named pipe with no writer would block forever.
    match files::regular_file(path) {
        Ok(()) => {}
        Err(FileProblem::Missing { link: None }) => {
            return Err(format!("template not found: {}", path.display()))
        }
        Err(problem) => return Err(format!("template `{label}` {problem}")),
    }
    let mut file =
        File::open(path).map_err(|err| format!("template `{label}` cannot be opened: {err}"))?;
    let mut collector = Collector::new(label);
    let magic = read_magic(&mut file).map_err(|err| collector.unreadable(err))?;
    if magic.starts_with(&[0x1f, 0x8b]) {
        read_tar_gz(file, &mut collector)?;
    } else if magic.starts_with(b"PK") {
        read_zip(file, &mut collector)?;
    } else {
        return Err(format!(
            "template `{}` is neither gzip nor zip",
            collector.label
        ));
    }
    collector.finish()
}

/// The first (up to) 4 bytes, the file then rewound.
fn read_magic(file: &mut File) -> io::Result<Vec<u8>> {
    let mut magic = Vec::with_capacity(4);
    file.by_ref().take(4).read_to_end(&mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(magic)
}

/// A gzip-compressed tar, read as one stream: entries that are not wanted are read through by the
/// tar reader without being kept. The entries are walked raw and long names resolved here as the
/// `tar` crate would (a GNU long name, else a pax `path`, else the ustar prefix and name), because
/// the crate's own resolution reads each extension header whole, a 1 GiB long name included;
/// here each is bounded by [`MAX_HEADER_BYTES`]. What the raw walk does not do: a pax `size`
/// (only for entries over 8 GiB) is refused rather than followed, and the extra headers of a GNU
/// sparse entry (never in a backup) would fail the archive's checksum.
fn read_tar_gz(file: File, collector: &mut Collector) -> Result<(), String> {
    let gzip = flate2::read::MultiGzDecoder::new(BufReader::new(file));
    let mut archive = tar::Archive::new(gzip);
    let entries = archive
        .entries()
        .map_err(|err| collector.corrupt(TAR, err))?
        .raw(true);
    let mut extensions = Extensions::default();
    for entry in entries {
        let mut entry = entry.map_err(|err| collector.corrupt(TAR, err))?;
        if extensions.take_in(&mut entry, collector)? {
            continue;
        }
        let name = extensions.name_of(&entry, collector)?;
        let kind = entry.header().entry_type();
        // Only file contents: links, directories and special entries are never followed.
        if !(kind.is_file() || kind.is_contiguous()) {
            continue;
        }
        if let Some(wanted) = Wanted::of(&name) {
            collector.entry(&name, wanted, entry)?;
        }
    }
    Ok(())
}

const TAR: &str = "gzip-compressed tar";

/// The extension headers read since the last entry, which describe the next one.
#[derive(Default)]
struct Extensions {
    /// A GNU long name (`L`), its trailing NUL dropped.
    long_name: Option<Vec<u8>>,
    /// A pax header's records (`x`).
    pax: Option<Vec<u8>>,
}

impl Extensions {
    /// Reads `entry` if it is an extension header (true), bounded; false for an entry.
    fn take_in<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        collector: &Collector,
    ) -> Result<bool, String> {
        let header = entry.header();
        let kind = header.entry_type();
        // As the crate: extension types count in ustar and GNU headers only.
        let recognised = header.as_ustar().is_some() || header.as_gnu().is_some();
        if !recognised {
            return Ok(false);
        }
        let (slot, what) = if kind.is_gnu_longname() {
            (&mut self.long_name, "GNU long name")
        } else if kind.is_pax_local_extensions() {
            (&mut self.pax, "pax header")
        } else {
            // A long link name or global pax records: nothing a template needs, left unread.
            return Ok(kind.is_gnu_longlink() || kind.is_pax_global_extensions());
        };
        let size = entry.size();
        if size > MAX_HEADER_BYTES {
            return Err(format!(
                "template `{}` holds a tar {what} of {size} bytes, over the {} KiB a header may \
                 have",
                collector.label,
                MAX_HEADER_BYTES / 1024
            ));
        }
        if slot.is_some() {
            return Err(collector.corrupt(TAR, format!("two {what}s describe one entry")));
        }
        let mut data = Vec::with_capacity(size as usize);
        entry
            .by_ref()
            .take(MAX_HEADER_BYTES)
            .read_to_end(&mut data)
            .map_err(|err| collector.corrupt(TAR, err))?;
        if kind.is_gnu_longname() && data.last() == Some(&0) {
            data.pop();
        }
        *slot = Some(data);
        Ok(true)
    }

    /// The name of `entry`, the extension headers read before it used up.
    fn name_of<R: Read>(
        &mut self,
        entry: &tar::Entry<'_, R>,
        collector: &Collector,
    ) -> Result<String, String> {
        let pax = self.pax.take();
        let records =
            || tar::PaxExtensions::new(pax.as_deref().unwrap_or_default()).filter_map(Result::ok);
        // A pax size the raw walk did not use would put every later entry off its place.
        if let Some(size) = records().find(|r| r.key_bytes() == b"size") {
            let declared = size.value().ok().and_then(|v| v.parse::<u64>().ok());
            if declared != Some(entry.size()) {
                return Err(collector.corrupt(
                    TAR,
                    "a pax size differs from its entry's header (entries over 8 GiB are not read)",
                ));
            }
        }
        let name = match self.long_name.take() {
            Some(long) => long,
            None => match records().find(|r| r.key_bytes() == b"path") {
                Some(path) => path.value_bytes().to_vec(),
                None => entry.header().path_bytes().into_owned(),
            },
        };
        Ok(String::from_utf8_lossy(&name).into_owned())
    }
}

/// A zip, read through its central directory: only the wanted entries are decompressed.
fn read_zip(file: File, collector: &mut Collector) -> Result<(), String> {
    let mut archive =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|err| collector.corrupt("zip", err))?;
    for index in 0..archive.len() {
        let Some(name) = archive.name_for_index(index).map(str::to_string) else {
            continue;
        };
        let Some(wanted) = Wanted::of(&name) else {
            continue;
        };
        let entry = archive.by_index(index).map_err(|err| {
            format!(
                "template `{}`: cannot read `{name}`: {err}",
                collector.label
            )
        })?;
        if !entry.is_file() {
            continue;
        }
        collector.entry(&name, wanted, entry)?;
    }
    Ok(())
}

/// The entries a template reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    MoodleBackup,
    Course,
    Section,
}

impl Wanted {
    /// What the entry `name` is, `./` prefixes ignored; `None` for an entry to skip.
    fn of(name: &str) -> Option<Wanted> {
        let mut name = name;
        while let Some(rest) = name.strip_prefix("./") {
            name = rest;
        }
        match name {
            "moodle_backup.xml" => Some(Wanted::MoodleBackup),
            "course/course.xml" => Some(Wanted::Course),
            _ => name
                .strip_prefix("sections/section_")
                .and_then(|rest| rest.strip_suffix("/section.xml"))
                .filter(|id| !id.contains('/'))
                .map(|_| Wanted::Section),
        }
    }
}

/// What the entries read so far gave.
struct Collector {
    /// The archive's file name, for messages.
    label: String,
    /// The name of the `moodle_backup.xml` entry read, if any.
    moodle_backup: Option<String>,
    /// The name of the `course.xml` entry read and its settings.
    course: Option<(String, Vec<(String, String)>)>,
    /// Each section with the name of its entry (for the duplicate-number message).
    sections: Vec<(BackupSection, String)>,
    /// What the XML entries still to read may hold together ([`MAX_XML_TOTAL`]).
    budget: u64,
}

impl Collector {
    fn new(label: String) -> Collector {
        Collector {
            label,
            moodle_backup: None,
            course: None,
            sections: Vec::new(),
            budget: MAX_XML_TOTAL,
        }
    }

    fn unreadable(&self, err: io::Error) -> String {
        format!("template `{}` cannot be read: {err}", self.label)
    }

    fn corrupt(&self, container: &str, err: impl std::fmt::Display) -> String {
        format!(
            "template `{}` is not a readable {container}: {err}",
            self.label
        )
    }

    fn malformed(&self, entry: &str, problem: impl std::fmt::Display) -> String {
        format!(
            "template `{}`: `{entry}` is malformed: {problem}",
            self.label
        )
    }

    fn twice(&self, first: &str, second: &str) -> String {
        format!(
            "template `{}` holds both `{first}` and `{second}`",
            self.label
        )
    }

    /// Reads, parses and records one wanted entry.
    fn entry(&mut self, name: &str, wanted: Wanted, data: impl Read) -> Result<(), String> {
        let text = self.read_text(name, data)?;
        let doc = roxmltree::Document::parse(&text).map_err(|err| self.malformed(name, err))?;
        let root = doc.root_element();
        let expected = match wanted {
            Wanted::MoodleBackup => "moodle_backup",
            Wanted::Course => "course",
            Wanted::Section => "section",
        };
        if root.tag_name().name() != expected {
            return Err(format!(
                "template `{}`: the root element of `{name}` is `{}`, not `{expected}`",
                self.label,
                root.tag_name().name()
            ));
        }
        match wanted {
            Wanted::MoodleBackup => {
                if let Some(first) = &self.moodle_backup {
                    return Err(self.twice(first, name));
                }
                self.moodle_backup = Some(name.to_string());
            }
            Wanted::Course => {
                if let Some((first, _)) = &self.course {
                    return Err(self.twice(first, name));
                }
                let settings = SETTINGS
                    .iter()
                    .filter_map(|key| child(root, key).map(|el| (key.to_string(), text_of(el))))
                    .collect();
                self.course = Some((name.to_string(), settings));
            }
            Wanted::Section => {
                let Some(number) = child(root, "number") else {
                    return Err(self.malformed(name, "it has no `<number>`"));
                };
                let number_text = text_of(number);
                let Ok(number) = number_text.trim().parse::<u32>() else {
                    return Err(self.malformed(
                        name,
                        format!("`<number>` `{number_text}` is not a section number"),
                    ));
                };
                if let Some((_, first)) = self.sections.iter().find(|(s, _)| s.number == number) {
                    return Err(format!(
                        "template `{}`: `{first}` and `{name}` are both section {number}",
                        self.label
                    ));
                }
                let section = BackupSection {
                    number,
                    name: child(root, "name").map(text_of).unwrap_or_default(),
                    summary: child(root, "summary").map(text_of).unwrap_or_default(),
                };
                self.sections.push((section, name.to_string()));
            }
        }
        Ok(())
    }

    /// The entry's text: at most [`MAX_XML_BYTES`], and what is left of [`MAX_XML_TOTAL`]; UTF-8
    /// (as Moodle writes), BOM dropped.
    fn read_text(&mut self, name: &str, data: impl Read) -> Result<String, String> {
        let limit = MAX_XML_BYTES.min(self.budget);
        let mut bytes = Vec::new();
        data.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| format!("template `{}`: cannot read `{name}`: {err}", self.label))?;
        let read = bytes.len() as u64;
        if read > MAX_XML_BYTES {
            return Err(format!(
                "template `{}`: `{name}` exceeds 16 MiB decompressed",
                self.label
            ));
        }
        if read > self.budget {
            return Err(format!(
                "template `{}`: its XML entries exceed 64 MiB decompressed together (at `{name}`)",
                self.label
            ));
        }
        self.budget -= read;
        if bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes.drain(..3);
        }
        String::from_utf8(bytes).map_err(|err| self.malformed(name, format!("not UTF-8: {err}")))
    }

    /// The backup, once every entry is read: the three kinds of entries must all be there.
    fn finish(self) -> Result<Backup, String> {
        let label = &self.label;
        if self.moodle_backup.is_none() {
            return Err(format!("template `{label}` holds no `moodle_backup.xml`"));
        }
        let Some((_, settings)) = self.course else {
            return Err(format!("template `{label}` holds no `course/course.xml`"));
        };
        if self.sections.is_empty() {
            return Err(format!(
                "template `{label}` holds no `sections/section_*/section.xml`"
            ));
        }
        let mut sections: Vec<BackupSection> = self
            .sections
            .into_iter()
            .map(|(section, _)| section)
            .collect();
        sections.sort_by_key(|section| section.number);
        Ok(Backup { settings, sections })
    }
}

/// The first child element of `parent` named `name` (direct children only: `<category>` has a
/// `<name>` of its own).
fn child<'a, 'input>(
    parent: roxmltree::Node<'a, 'input>,
    name: &str,
) -> Option<roxmltree::Node<'a, 'input>> {
    parent
        .children()
        .find(|node| node.is_element() && node.tag_name().name() == name)
}

/// An element's own text (entities and CDATA resolved), `$@NULL@$` read as empty.
fn text_of(element: roxmltree::Node<'_, '_>) -> String {
    let text: String = element
        .children()
        .filter(|node| node.is_text())
        .filter_map(|node| node.text())
        .collect();
    if text == MOODLE_NULL {
        String::new()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use toolsync_fixture_mbz::{
        course_xml, entries, section_xml, write_huge_header, write_mbz, write_raw_entries,
        Compression, CourseXml, HugeHeader,
    };

    const ALL: [Compression; 3] = [
        Compression::GzipTar,
        Compression::GzipTarPax,
        Compression::Zip,
    ];

    /// A fresh folder under the system's temporary folder, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            static COUNT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "toolsync-courses-backup-{}-{}",
                std::process::id(),
                COUNT.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn sample() -> CourseXml {
        CourseXml::new(
            &[
                ("shortname", "MATH101"),
                ("fullname", "Mathematics & Co"),
                // Not in the order of SETTINGS, with elements that are not taken in between.
                ("summary", "<p>Numbers \"and\" <b>more</b></p>"),
                ("summaryformat", "1"),
                ("format", "weeks"),
                ("showgrades", "0"),
                ("newsitems", "3"),
                ("startdate", "1788220800"),
                ("enddate", "0"),
                ("marker", "2"),
                ("maxbytes", "0"),
                ("legacyfiles", "0"),
                ("showreports", "1"),
                ("visible", "1"),
                ("groupmode", "1"),
                ("groupmodeforce", "0"),
                ("defaultgroupingid", "0"),
                ("lang", "$@NULL@$"),
                ("theme", ""),
                ("enablecompletion", "1"),
            ],
            &[
                (0, None, ""),
                (1, Some("Week 1 & intro"), "<p>Read <em>this</em></p>"),
                (3, Some("Week 3"), "$@NULL@$"),
                (2, Some(""), "Two"),
            ],
        )
    }

    fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn section(number: u32, name: &str, summary: &str) -> BackupSection {
        BackupSection {
            number,
            name: name.into(),
            summary: summary.into(),
        }
    }

    fn expected_sample() -> Backup {
        Backup {
            settings: settings(&[
                ("format", "weeks"),
                ("summary", "<p>Numbers \"and\" <b>more</b></p>"),
                ("startdate", "1788220800"),
                ("showgrades", "0"),
                ("newsitems", "3"),
                ("maxbytes", "0"),
                ("legacyfiles", "0"),
                ("showreports", "1"),
                ("visible", "1"),
                ("groupmode", "1"),
                ("groupmodeforce", "0"),
                ("lang", ""),
                ("theme", ""),
                ("enablecompletion", "1"),
                ("marker", "2"),
            ]),
            sections: vec![
                section(0, "", ""),
                section(1, "Week 1 & intro", "<p>Read <em>this</em></p>"),
                section(2, "", "Two"),
                section(3, "Week 3", ""),
            ],
        }
    }

    /// Writes raw entries and reads them back.
    fn read_raw(compression: Compression, list: &[(String, Vec<u8>)]) -> Result<Backup, String> {
        let dir = TempDir::new();
        let path = dir.path("t.mbz");
        write_raw_entries(&path, compression, list).unwrap();
        read_backup(&path)
    }

    /// The sample's entries with the entry `name` replaced by `data` (added when missing).
    fn with_entry(name: &str, data: impl Into<Vec<u8>>) -> Vec<(String, Vec<u8>)> {
        let mut list = entries(&sample());
        let data = data.into();
        match list.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = data,
            None => list.push((name.to_string(), data)),
        }
        list
    }

    fn without_entry(name: &str) -> Vec<(String, Vec<u8>)> {
        let mut list = entries(&sample());
        list.retain(|(n, _)| n != name);
        list
    }

    #[test]
    fn backup_reads_the_real_layout_in_every_container() {
        for compression in ALL {
            let dir = TempDir::new();
            let path = dir.path("course.mbz");
            write_mbz(&path, compression, &sample()).unwrap();
            let backup = read_backup(&path).unwrap_or_else(|e| panic!("{compression:?}: {e}"));
            assert_eq!(backup, expected_sample(), "{compression:?}");
            assert_eq!(backup.setting("format"), Some("weeks"));
            assert_eq!(backup.setting("coursedisplay"), None);
        }
    }

    #[test]
    fn backup_accepts_dot_slash_prefixes() {
        for compression in ALL {
            let dir = TempDir::new();
            let path = dir.path("course.mbz");
            let mut course = sample();
            course.dot_slash = true;
            write_mbz(&path, compression, &course).unwrap();
            assert!(entries(&course).iter().all(|(n, _)| n.starts_with("./")));
            let backup = read_backup(&path).unwrap_or_else(|e| panic!("{compression:?}: {e}"));
            assert_eq!(backup, expected_sample(), "{compression:?}");
        }
    }

    #[test]
    fn backup_reads_long_entry_names() {
        // Section directories are named by id: long ones need the ustar prefix (up to 255
        // bytes), a GNU long name or a pax record (beyond).
        for id_len in [90, 200] {
            for compression in ALL {
                let id = "7".repeat(id_len);
                let name = format!("sections/section_{id}/section.xml");
                let list = with_entry(&name, section_xml(7, 9, Some("Far"), "away"));
                let backup = read_raw(compression, &list)
                    .unwrap_or_else(|e| panic!("{compression:?} {id_len}: {e}"));
                assert_eq!(
                    backup.sections.last(),
                    Some(&section(9, "Far", "away")),
                    "{compression:?} {id_len}"
                );
            }
        }
    }

    #[test]
    fn backup_resolves_entities_and_cdata() {
        let course =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<course id=\"1\" contextid=\"2\">\
            <summary><![CDATA[<p>a & b</p>]]></summary><lang>&#x66;r</lang>\
            <theme>x<![CDATA[<y>]]>&amp;z</theme><format>$@NULL@$</format></course>";
        let section_text = "\u{feff}<section id=\"5\"><number> 4 </number>\
            <name>&lt;b&gt;Bold&lt;/b&gt; &#233;t&#xE9;</name>\
            <summary><![CDATA[$@NULL@$]]></summary></section>";
        let mut list = with_entry("course/course.xml", course);
        list.push(("sections/section_5/section.xml".into(), section_text.into()));
        for compression in ALL {
            let backup = read_raw(compression, &list).unwrap();
            assert_eq!(
                backup.settings,
                settings(&[
                    ("format", ""),
                    ("summary", "<p>a & b</p>"),
                    ("lang", "fr"),
                    ("theme", "x<y>&z"),
                ])
            );
            let four = backup.sections.iter().find(|s| s.number == 4).unwrap();
            // A CDATA `$@NULL@$` is still Moodle's null.
            assert_eq!(four, &section(4, "<b>Bold</b> été", ""));
        }
    }

    #[test]
    fn backup_takes_no_missing_element() {
        let course = CourseXml::new(
            &[("format", "topics"), ("visible", "0")],
            &[(0, None, ""), (1, Some("One"), "")],
        );
        let dir = TempDir::new();
        let path = dir.path("small.mbz");
        write_mbz(&path, Compression::GzipTar, &course).unwrap();
        let backup = read_backup(&path).unwrap();
        assert_eq!(
            backup.settings,
            settings(&[("format", "topics"), ("visible", "0")])
        );
        assert_eq!(
            backup.sections,
            vec![section(0, "", ""), section(1, "One", "")]
        );

        // Only direct children of <course> count: the <category>'s own elements are not its.
        let nested = "<course id=\"1\"><category id=\"1\"><name>Misc</name><format>weeks</format>\
            </category><tags><tag><lang>de</lang></tag></tags></course>";
        let backup = read_raw(Compression::Zip, &with_entry("course/course.xml", nested)).unwrap();
        assert!(backup.settings.is_empty(), "{:?}", backup.settings);

        // A section without name or summary elements: both empty.
        let bare = "<section id=\"1\"><number>5</number></section>";
        let list = with_entry("sections/section_1/section.xml", bare);
        let backup = read_raw(Compression::GzipTar, &list).unwrap();
        assert_eq!(backup.sections.last(), Some(&section(5, "", "")));
    }

    #[test]
    fn backup_needs_moodle_backup_xml_with_its_root() {
        for compression in ALL {
            let err = read_raw(compression, &without_entry("moodle_backup.xml")).unwrap_err();
            assert_eq!(err, "template `t.mbz` holds no `moodle_backup.xml`");

            let list = with_entry("moodle_backup.xml", "<?xml version=\"1.0\"?><backup/>");
            let err = read_raw(compression, &list).unwrap_err();
            assert_eq!(
                err,
                "template `t.mbz`: the root element of `moodle_backup.xml` is `backup`, not \
                 `moodle_backup`"
            );

            let list = with_entry("moodle_backup.xml", "<moodle_backup><information>");
            let err = read_raw(compression, &list).unwrap_err();
            assert!(
                err.starts_with("template `t.mbz`: `moodle_backup.xml` is malformed: "),
                "{err}"
            );
        }
        // A moodle_backup.xml elsewhere than at the top does not count.
        let mut list = without_entry("moodle_backup.xml");
        list.push((
            "course/moodle_backup.xml".into(),
            b"<moodle_backup/>".to_vec(),
        ));
        let err = read_raw(Compression::GzipTar, &list).unwrap_err();
        assert_eq!(err, "template `t.mbz` holds no `moodle_backup.xml`");
    }

    #[test]
    fn backup_needs_course_xml() {
        for compression in ALL {
            let err = read_raw(compression, &without_entry("course/course.xml")).unwrap_err();
            assert_eq!(err, "template `t.mbz` holds no `course/course.xml`");
        }
        let list = with_entry("course/course.xml", "<activity/>");
        let err = read_raw(Compression::Zip, &list).unwrap_err();
        assert_eq!(
            err,
            "template `t.mbz`: the root element of `course/course.xml` is `activity`, not `course`"
        );
        let list = with_entry(
            "course/course.xml",
            &b"<course><lang>\xff</lang></course>"[..],
        );
        let err = read_raw(Compression::GzipTar, &list).unwrap_err();
        assert!(
            err.starts_with("template `t.mbz`: `course/course.xml` is malformed: not UTF-8"),
            "{err}"
        );
        // Two course.xml (one with `./`): ambiguous.
        let mut list = entries(&sample());
        list.push(("./course/course.xml".into(), course_xml(&sample()).into()));
        let err = read_raw(Compression::GzipTar, &list).unwrap_err();
        assert_eq!(
            err,
            "template `t.mbz` holds both `course/course.xml` and `./course/course.xml`"
        );
    }

    #[test]
    fn backup_needs_sections() {
        let course = CourseXml::new(&[("format", "topics")], &[]);
        for compression in ALL {
            let dir = TempDir::new();
            let path = dir.path("nosections.mbz");
            write_mbz(&path, compression, &course).unwrap();
            let err = read_backup(&path).unwrap_err();
            assert_eq!(
                err,
                "template `nosections.mbz` holds no `sections/section_*/section.xml`"
            );
        }
        // Files that only look like sections are skipped.
        let mut list: Vec<(String, Vec<u8>)> = entries(&course);
        for name in [
            "sections/section_1/inforef.xml",
            "sections/section.xml",
            "sections/other_1/section.xml",
            "sections/section_1/deeper/section.xml",
            "course/sections/section_1/section.xml",
        ] {
            list.push((name.into(), section_xml(1, 1, None, "").into()));
        }
        let err = read_raw(Compression::Zip, &list).unwrap_err();
        assert_eq!(
            err,
            "template `t.mbz` holds no `sections/section_*/section.xml`"
        );
    }

    #[test]
    fn backup_names_a_malformed_section() {
        let name = format!(
            "sections/section_{}/section.xml",
            toolsync_fixture_mbz::section_id(1)
        );
        for compression in ALL {
            let list = with_entry(
                &name,
                "<section id=\"3\"><number>1</number><name>x</section>",
            );
            let err = read_raw(compression, &list).unwrap_err();
            assert!(
                err.starts_with(&format!("template `t.mbz`: `{name}` is malformed: ")),
                "{err}"
            );
        }
        let list = with_entry(&name, "<section id=\"3\"><name>x</name></section>");
        let err = read_raw(Compression::GzipTar, &list).unwrap_err();
        assert_eq!(
            err,
            format!("template `t.mbz`: `{name}` is malformed: it has no `<number>`")
        );
        let list = with_entry(&name, "<section id=\"3\"><number>-1</number></section>");
        let err = read_raw(Compression::Zip, &list).unwrap_err();
        assert_eq!(
            err,
            format!(
                "template `t.mbz`: `{name}` is malformed: `<number>` `-1` is not a section number"
            )
        );
        // Two sections with one number.
        let list = with_entry(
            "sections/section_5/section.xml",
            section_xml(5, 3, None, ""),
        );
        let err = read_raw(Compression::GzipTar, &list).unwrap_err();
        assert!(err.contains("are both section 3"), "{err}");
        assert!(err.contains("`sections/section_5/section.xml`"), "{err}");
    }

    #[test]
    fn backup_bounds_xml_entries_not_others() {
        // Highly compressible: the archives stay small.
        let mut big = b"<section id=\"3\"><number>1</number><summary>".to_vec();
        big.resize(MAX_XML_BYTES as usize, b'a');
        big.extend_from_slice(b"</summary></section>");
        let name = format!(
            "./sections/section_{}/section.xml",
            toolsync_fixture_mbz::section_id(1)
        );
        let mut course = sample();
        course.dot_slash = true;
        let mut list = entries(&course);
        list.iter_mut().find(|(n, _)| *n == name).unwrap().1 = big;
        for compression in [Compression::GzipTar, Compression::Zip] {
            let err = read_raw(compression, &list).unwrap_err();
            assert_eq!(
                err,
                format!("template `t.mbz`: `{name}` exceeds 16 MiB decompressed")
            );
        }
        // A skipped entry may be larger, and one of exactly 16 MiB is read.
        let mut list = entries(&sample());
        list.push(("files/ab/big".into(), vec![0; MAX_XML_BYTES as usize + 10]));
        let mut exact = b"<section id=\"9\"><number>8</number><summary>".to_vec();
        let tail = b"</summary></section>";
        exact.resize(MAX_XML_BYTES as usize - tail.len(), b'b');
        exact.extend_from_slice(tail);
        list.push(("sections/section_9/section.xml".into(), exact));
        let backup = read_raw(Compression::GzipTar, &list).unwrap();
        let eight = backup.sections.last().unwrap();
        assert_eq!(eight.number, 8);
        assert!(eight.summary.len() > 16_000_000 && eight.summary.bytes().all(|b| b == b'b'));
    }

    #[test]
    fn backup_bounds_the_xml_entries_together() {
        // Five sections of 15 MiB each: each under the entry cap, over the total.
        let mut list = entries(&sample());
        for id in 1..=5 {
            let mut big =
                format!("<section id=\"{id}\"><number>{}</number><summary>", 10 + id).into_bytes();
            big.resize(15 * 1024 * 1024, b'a');
            big.extend_from_slice(b"</summary></section>");
            list.push((format!("sections/section_{id}/section.xml"), big));
        }
        for compression in [Compression::GzipTar, Compression::Zip] {
            let err = read_raw(compression, &list).unwrap_err();
            assert_eq!(
                err,
                "template `t.mbz`: its XML entries exceed 64 MiB decompressed together (at \
                 `sections/section_5/section.xml`)",
                "{compression:?}"
            );
        }
        // Four of them fit.
        list.pop();
        let backup = read_raw(Compression::GzipTar, &list).unwrap();
        assert_eq!(backup.sections.len(), 4 + sample().sections.len());
    }

    #[test]
    fn backup_refuses_a_huge_tar_header_before_reading_it() {
        let dir = TempDir::new();
        let path = dir.path("huge.mbz");
        for (kind, what) in [
            (HugeHeader::GnuLongName, "GNU long name"),
            (HugeHeader::Pax, "pax header"),
        ] {
            // At the cap, the header is read and describes the first entry (a directory).
            write_huge_header(&path, kind, MAX_HEADER_BYTES, &sample()).unwrap();
            let backup = read_backup(&path).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(backup, expected_sample(), "{kind:?}");
            // Over it, refused by its size: a reader that took it whole would hold 1 GiB.
            for size in [MAX_HEADER_BYTES + 1, 1 << 30] {
                write_huge_header(&path, kind, size, &sample()).unwrap();
                assert_eq!(
                    read_backup(&path).unwrap_err(),
                    format!(
                        "template `huge.mbz` holds a tar {what} of {size} bytes, over the 1024 \
                         KiB a header may have"
                    )
                );
            }
        }
    }

    #[test]
    fn backup_refuses_a_pax_size_its_header_does_not_carry() {
        let dir = TempDir::new();
        let path = dir.path("pax.mbz");
        let file = std::fs::File::create(&path).unwrap();
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ));
        for (name, data) in entries(&sample()) {
            if name == "course/course.xml" {
                // The raw walk goes by the header's size: a pax size would be ignored.
                tar.append_pax_extensions([("size", &b"99999"[..])])
                    .unwrap();
            }
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, &name, data.as_slice())
                .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        let err = read_backup(&path).unwrap_err();
        assert_eq!(
            err,
            "template `pax.mbz` is not a readable gzip-compressed tar: a pax size differs from \
             its entry's header (entries over 8 GiB are not read)"
        );
    }

    #[test]
    fn backup_container_is_told_by_its_first_bytes() {
        let dir = TempDir::new();
        // A plain (uncompressed) tar, an XML file, an empty file.
        let tar_path = dir.path("plain.mbz");
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(3);
        tar.append_data(&mut header, "moodle_backup.xml", &b"<a/"[..])
            .unwrap();
        std::fs::write(&tar_path, tar.into_inner().unwrap()).unwrap();
        let err = read_backup(&tar_path).unwrap_err();
        assert_eq!(err, "template `plain.mbz` is neither gzip nor zip");
        for (name, data) in [
            ("xml.mbz", &b"<moodle_backup/>"[..]),
            ("empty.mbz", b""),
            ("p.mbz", b"P"),
        ] {
            let path = dir.path(name);
            std::fs::write(&path, data).unwrap();
            assert_eq!(
                read_backup(&path).unwrap_err(),
                format!("template `{name}` is neither gzip nor zip")
            );
        }
        // The extension plays no part: a zip named .tgz is a zip.
        let path = dir.path("named.tgz");
        write_mbz(&path, Compression::Zip, &sample()).unwrap();
        assert_eq!(read_backup(&path).unwrap(), expected_sample());
    }

    #[test]
    fn backup_reports_a_missing_or_broken_file() {
        let dir = TempDir::new();
        let missing = dir.path("gone.mbz");
        assert_eq!(
            read_backup(&missing).unwrap_err(),
            format!("template not found: {}", missing.display())
        );
        let folder = dir.path("folder.mbz");
        std::fs::create_dir(&folder).unwrap();
        assert_eq!(
            read_backup(&folder).unwrap_err(),
            "template `folder.mbz` is a directory, not a regular file"
        );
        // Truncated archives fail with a message, never a panic.
        for compression in ALL {
            let path = dir.path("cut.mbz");
            write_mbz(&path, compression, &sample()).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            for keep in [2, 40, bytes.len() / 2, bytes.len() - 30] {
                std::fs::write(&path, &bytes[..keep]).unwrap();
                let err = read_backup(&path).unwrap_err();
                assert!(
                    err.starts_with("template `cut.mbz`"),
                    "{compression:?} {keep}: {err}"
                );
            }
        }
        // PK but not a zip.
        let path = dir.path("pk.mbz");
        std::fs::write(&path, b"PK\x03\x04 not really").unwrap();
        let err = read_backup(&path).unwrap_err();
        assert!(
            err.starts_with("template `pk.mbz` is not a readable zip: "),
            "{err}"
        );
    }

    #[test]
    fn backup_skips_links_and_directories_named_like_entries() {
        // A symlink named course/course.xml is not followed (nor read).
        let dir = TempDir::new();
        let path = dir.path("link.mbz");
        let file = std::fs::File::create(&path).unwrap();
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ));
        for (name, data) in without_entry("course/course.xml") {
            if name.ends_with('/') {
                continue;
            }
            let mut header = tar::Header::new_ustar();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, &name, data.as_slice())
                .unwrap();
        }
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        tar.append_link(&mut header, "course/course.xml", "/etc/passwd")
            .unwrap();
        tar.into_inner().unwrap().finish().unwrap();
        assert_eq!(
            read_backup(&path).unwrap_err(),
            "template `link.mbz` holds no `course/course.xml`"
        );
    }
}
