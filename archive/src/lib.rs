//! STUB until the archive-reader branch lands.
use std::path::Path;
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entry_bytes: u64,
    pub max_archive_bytes: u64,
}
pub struct Archive;
impl Archive {
    pub fn open(_path: &Path) -> Result<Archive, String> {
        todo!()
    }
    pub fn entry_count(&self) -> usize {
        todo!()
    }
    pub fn size(&self) -> u64 {
        todo!()
    }
    pub fn fingerprint(&self) -> u64 {
        todo!()
    }
    pub fn check_total(&mut self, _limits: &Limits) -> Result<u64, String> {
        todo!()
    }
    pub fn entries(&mut self, _limits: Limits, _skip: u64) -> std::vec::IntoIter<Entry> {
        todo!()
    }
}
pub struct Entry {
    pub line: u64,
    pub index: usize,
    pub path: String,
    pub kind: EntryKind,
    pub decompressed: u64,
}
pub enum EntryKind {
    Data(Vec<u8>),
    Skipped(String),
    Failed { reason: String, tryback: bool },
}
pub fn write_tryback(
    _source: &Path,
    _indexes: &[usize],
    _out: impl std::io::Write + std::io::Seek,
) -> std::io::Result<()> {
    todo!()
}
pub fn human_size(_bytes: u64) -> String {
    todo!()
}
pub fn parse_size(_text: &str) -> Result<u64, String> {
    todo!()
}
