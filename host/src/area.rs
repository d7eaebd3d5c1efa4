//! The file area (`<data dir>/files/`): where inputs wait for their run, and where runs keep
//! their `archives/` and `reports/`.
//!
//! Paths in the area are relative, `/`-separated, and never leave it: a name holding `..`, a
//! root or a drive is refused before anything is touched. The two reserved folders are listed
//! but never written by `files put` nor read as input: what is in them is toolsync's own record
//! of past runs (`toolsync reports prune` removes it).
//!
//! Writes are atomic: a file is written under a hidden temporary name in its destination
//! folder (`.<name>.partial-<pid>`), synced, renamed into place and its folder synced, so a
//! reader — a run, `ingest`, the daemon — never sees half a file, and a crash leaves at most a
//! hidden temporary file.

use std::fs::{File, Metadata};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

/// The folders of the area toolsync writes itself.
pub const RESERVED: [&str; 2] = ["archives", "reports"];

/// A problem with a path in the file area, said so that the operator knows what to type.
#[derive(Debug, thiserror::Error)]
pub enum AreaError {
    #[error("`{0}` is not a path in the file area: {1}")]
    BadPath(String, &'static str),
    #[error("`{0}` is in the reserved folder {1}/, which toolsync writes itself: {2}")]
    Reserved(String, &'static str, &'static str),
    #[error("{0} does not exist in the file area (`toolsync files ls` lists it)")]
    Missing(String),
    #[error("{path} {why}")]
    Io { path: String, why: String },
}

/// The file area of a data dir.
#[derive(Debug, Clone)]
pub struct FileArea {
    pub root: PathBuf,
}

/// One entry of a listing.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The path in the area, `/`-separated; a folder's ends with `/`.
    pub path: String,
    pub kind: &'static str,
    /// Bytes; 0 for a folder.
    pub size: u64,
    /// Modification time, Unix seconds.
    pub modified: i64,
    /// In `archives/` or `reports/`.
    pub reserved: bool,
}

impl FileArea {
    pub fn new(root: PathBuf) -> FileArea {
        FileArea { root }
    }

    /// The area path `name` as a path on disk, refused when it would leave the area. The empty
    /// name and `.` are the area itself.
    pub fn resolve(&self, name: &str) -> Result<PathBuf, AreaError> {
        let mut path = self.root.clone();
        for component in Path::new(name).components() {
            match component {
                Component::Normal(part) => path.push(part),
                Component::CurDir => {}
                Component::ParentDir => {
                    return Err(AreaError::BadPath(
                        name.into(),
                        "`..` would leave the file area",
                    ))
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(AreaError::BadPath(
                        name.into(),
                        "an area path is relative to the file area (no leading `/`)",
                    ))
                }
            }
        }
        // The folders on the way are real folders of the area: a symbolic link among them
        // would lead out of it, or into a reserved folder under another name.
        let mut on_the_way = path.parent();
        while let Some(folder) = on_the_way.filter(|f| f.starts_with(&self.root) && *f != self.root)
        {
            if is_link(folder) {
                return Err(AreaError::BadPath(
                    name.into(),
                    "a folder on its way is a symbolic link, which the file area never follows",
                ));
            }
            on_the_way = folder.parent();
        }
        Ok(path)
    }

    /// `name` resolved, the last component a symbolic link refused too (what is read or
    /// written there would be the link's target's).
    pub fn resolve_no_link(&self, name: &str) -> Result<PathBuf, AreaError> {
        let path = self.resolve(name)?;
        if is_link(&path) {
            return Err(AreaError::BadPath(
                name.into(),
                "a symbolic link, which the file area never follows",
            ));
        }
        Ok(path)
    }

    /// The reserved folder `name` is in, if any.
    pub fn reserved_folder(name: &str) -> Option<&'static str> {
        let first = Path::new(name).components().find_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })?;
        RESERVED.iter().copied().find(|r| *r == first)
    }

    /// `name` resolved for writing: outside the reserved folders.
    fn writable(&self, name: &str, why: &'static str) -> Result<PathBuf, AreaError> {
        let path = self.resolve(name)?;
        if path == self.root {
            return Err(AreaError::BadPath(
                name.into(),
                "name a file or folder in it",
            ));
        }
        match Self::reserved_folder(name) {
            Some(folder) => Err(AreaError::Reserved(name.into(), folder, why)),
            None => Ok(path),
        }
    }

    /// `name` resolved for reading as a run's input: outside the reserved folders.
    pub fn input(&self, name: &str) -> Result<PathBuf, AreaError> {
        let path = self.resolve(name)?;
        match Self::reserved_folder(name) {
            Some(folder) => Err(AreaError::Reserved(
                name.into(),
                folder,
                "never read as input (`toolsync files get` copies a file out of it, to run it \
                 from there)",
            )),
            None => Ok(path),
        }
    }

    /// The entries of folder `name` (the area itself when empty), folders first, then by name.
    pub fn list(&self, name: &str) -> Result<Vec<Entry>, AreaError> {
        let dir = self.resolve(name)?;
        let shown = |p: &Path| shown(&self.root, p);
        let meta = std::fs::symlink_metadata(&dir).map_err(|e| io_error(&shown(&dir), &e))?;
        if !meta.is_dir() {
            return Ok(vec![entry(&self.root, &dir, &meta)]);
        }
        let mut entries = Vec::new();
        let reading = std::fs::read_dir(&dir).map_err(|e| io_error(&shown(&dir), &e))?;
        for item in reading {
            let item = item.map_err(|e| io_error(&shown(&dir), &e))?;
            let path = item.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue; // removed while listing
            };
            entries.push(entry(&self.root, &path, &meta));
        }
        entries.sort_by(|a, b| (a.kind != "folder", &a.path).cmp(&(b.kind != "folder", &b.path)));
        Ok(entries)
    }

    /// Copies the local file `from` to area path `to` atomically, replacing a file already
    /// there. `to` naming a folder (or ending with `/`) puts it in that folder under its own
    /// name. Returns the area path written and whether a file was replaced.
    pub fn put(&self, from: &Path, to: Option<&str>) -> Result<(String, bool), AreaError> {
        let local = from.display().to_string();
        let source_meta = std::fs::metadata(from).map_err(|e| AreaError::Io {
            path: local.clone(),
            why: format!("cannot be read: {e}"),
        })?;
        if !source_meta.is_file() {
            return Err(AreaError::Io {
                path: local,
                why: "is not a regular file".into(),
            });
        }
        let own_name = from
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| AreaError::Io {
                path: local.clone(),
                why: "has no file name".into(),
            })?;
        let mut name = match to {
            None => own_name.clone(),
            Some(to) if to.ends_with('/') => format!("{to}{own_name}"),
            Some(to) => to.to_string(),
        };
        if self.resolve(&name)?.is_dir() {
            name = format!("{}/{own_name}", name.trim_end_matches('/'));
        }
        let path = self.writable(&name, "`files put` never writes there")?;
        let parent = path.parent().unwrap_or(&self.root);
        if parent == self.root {
            // A data dir before its first run: the area is made (owner-only), as a run makes it.
            crate::data_dir::create_private_dir(&self.root)
                .map_err(|e| io_error(&self.root.display().to_string(), &e))?;
        }
        if !parent.is_dir() {
            let folder = shown(&self.root, parent);
            return Err(AreaError::Io {
                path: folder.clone(),
                why: format!(
                    "is not a folder of the file area: `toolsync files mkdir {folder}` first"
                ),
            });
        }
        if is_link(&path) {
            return Err(AreaError::BadPath(
                name,
                "a symbolic link, which the file area never follows nor replaces",
            ));
        }
        let replaced = path.exists();
        if replaced && !path.is_file() {
            return Err(AreaError::Io {
                path: shown(&self.root, &path),
                why: "is not a regular file, and is not replaced".into(),
            });
        }
        let mut source = File::open(from).map_err(|e| io_error(&local, &e))?;
        write_atomic(&path, |out| io::copy(&mut source, out).map(|_| ()))
            .map_err(|e| io_error(&shown(&self.root, &path), &e))?;
        Ok((shown(&self.root, &path), replaced))
    }

    /// Opens area file `name` for reading (reserved folders included: archives and reports are
    /// there to be read).
    pub fn open(&self, name: &str) -> Result<(File, u64), AreaError> {
        let path = self.resolve_no_link(name)?;
        let shown = shown(&self.root, &path);
        let meta = std::fs::metadata(&path).map_err(|e| io_error(&shown, &e))?;
        if !meta.is_file() {
            return Err(AreaError::Io {
                path: shown,
                why: "is not a regular file".into(),
            });
        }
        let file = File::open(&path).map_err(|e| io_error(&shown, &e))?;
        Ok((file, meta.len()))
    }

    /// Removes a file, or an empty folder, outside the reserved folders.
    pub fn remove(&self, name: &str) -> Result<&'static str, AreaError> {
        let path = self.writable(
            name,
            "`toolsync reports prune` removes old reports and archives",
        )?;
        let shown = shown(&self.root, &path);
        let meta = std::fs::symlink_metadata(&path).map_err(|e| io_error(&shown, &e))?;
        if meta.is_dir() {
            std::fs::remove_dir(&path).map_err(|e| io_error(&shown, &e))?;
            sync_dir(path.parent().unwrap_or(&self.root));
            Ok("folder")
        } else {
            std::fs::remove_file(&path).map_err(|e| io_error(&shown, &e))?;
            sync_dir(path.parent().unwrap_or(&self.root));
            Ok("file")
        }
    }

    /// Creates folder `name` and its missing parents (owner-only); an existing folder is fine.
    pub fn mkdir(&self, name: &str) -> Result<(), AreaError> {
        let path = self.writable(name, "toolsync makes its own folders there")?;
        if is_link(&path) {
            return Err(AreaError::BadPath(
                name.into(),
                "a symbolic link, which the file area never follows",
            ));
        }
        make_dirs(&path).map_err(|e| io_error(&shown(&self.root, &path), &e))
    }
}

/// Whether `path` is a symbolic link (not followed).
fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Creates `dir` and its missing parents, new ones owner-only; folders already there keep
/// their mode (an operator may have opened one to a group).
pub fn make_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// `path` as an area path, `/`-separated.
pub fn shown(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

fn entry(root: &Path, path: &Path, meta: &Metadata) -> Entry {
    let name = shown(root, path);
    let (kind, size, path) = if meta.is_dir() {
        ("folder", 0, format!("{name}/"))
    } else if meta.is_file() {
        ("file", meta.len(), name.clone())
    } else if meta.file_type().is_symlink() {
        ("link", 0, name.clone())
    } else {
        ("other", 0, name.clone())
    };
    Entry {
        reserved: FileArea::reserved_folder(&name).is_some(),
        path,
        kind,
        size,
        modified: modified_secs(meta),
    }
}

/// A file's modification time in Unix seconds (0 when the system cannot say).
pub fn modified_secs(meta: &Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn io_error(path: &str, e: &io::Error) -> AreaError {
    if e.kind() == io::ErrorKind::NotFound {
        return AreaError::Missing(path.to_string());
    }
    let why = match e.kind() {
        io::ErrorKind::AlreadyExists => "already exists".to_string(),
        io::ErrorKind::DirectoryNotEmpty => "is a folder that is not empty".to_string(),
        _ => format!("cannot be used: {e}"),
    };
    AreaError::Io {
        path: path.to_string(),
        why,
    }
}

/// Writes `path` whole or not at all: `write` fills a hidden owner-only temporary file beside
/// it, which is synced, renamed over `path`, and the folder synced.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let (temp, mut out) = fresh_file(dir, "partial")?;
    let attempt = || -> io::Result<()> {
        write(&mut out)?;
        out.flush()?;
        out.sync_all()?;
        std::fs::rename(&temp, path)?;
        sync_dir(dir);
        Ok(())
    };
    let result = attempt();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// A new hidden, owner-only file in `dir`, under a name nobody had: created exclusively and
/// never through a symbolic link, so that a link planted under a predictable name cannot
/// redirect the write. Short whatever the final name's length (names may take 255 bytes).
pub fn fresh_file(dir: &Path, what: &str) -> io::Result<(PathBuf, File)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for n in 0u32.. {
        let temp = dir.join(format!(
            ".toolsync-{what}-{}-{nanos}-{n}",
            std::process::id()
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        match options.open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("a fresh name is found or an error returned")
}

/// Makes a folder's entries durable (a rename or an unlink in it); best effort where the
/// system cannot open a folder.
pub fn sync_dir(dir: &Path) {
    if let Ok(folder) = File::open(dir) {
        let _ = folder.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area() -> (FileArea, PathBuf) {
        let root = std::env::temp_dir().join(format!(
            "toolsync-area-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("files")).unwrap();
        (FileArea::new(root.join("files")), root)
    }

    #[test]
    fn area_paths_stay_inside_and_reserved_folders_are_not_written() {
        let (area, root) = area();
        assert_eq!(
            area.resolve("a/./b.csv").unwrap(),
            area.root.join("a/b.csv")
        );
        for bad in ["../x", "a/../../x", "/etc/passwd"] {
            assert!(
                matches!(area.resolve(bad), Err(AreaError::BadPath(..))),
                "{bad}"
            );
        }
        for reserved in ["archives/x.csv", "reports", "./reports/a.txt"] {
            let why = area.mkdir(reserved).unwrap_err().to_string();
            assert!(why.contains("reserved folder"), "{reserved}: {why}");
            assert!(area.input(reserved).is_err(), "{reserved}");
        }
        assert!(area.input("archive.csv").is_ok());
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn fresh_files_are_new_owner_only_and_never_through_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let (_, root) = area();
        let (a, _) = fresh_file(&root, "t").unwrap();
        let (b, _) = fresh_file(&root, "t").unwrap();
        assert_ne!(a, b);
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn put_replaces_whole_files_and_leaves_no_temporary_file() {
        let (area, root) = area();
        let local = root.join("users.csv");
        std::fs::write(&local, "one").unwrap();
        assert_eq!(area.put(&local, None).unwrap(), ("users.csv".into(), false));
        std::fs::write(&local, "two").unwrap();
        area.mkdir("in").unwrap();
        assert_eq!(
            area.put(&local, Some("in")).unwrap(),
            ("in/users.csv".into(), false)
        );
        assert_eq!(
            area.put(&local, Some("users.csv")).unwrap(),
            ("users.csv".into(), true)
        );
        assert_eq!(std::fs::read(area.root.join("users.csv")).unwrap(), b"two");
        let names: Vec<String> = area.list("").unwrap().into_iter().map(|e| e.path).collect();
        assert_eq!(names, ["in/", "users.csv"]);
        let missing = area
            .put(&local, Some("nowhere/u.csv"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("files mkdir nowhere"), "{missing}");
        assert!(area
            .remove("in")
            .unwrap_err()
            .to_string()
            .contains("not empty"));
        assert_eq!(area.remove("in/users.csv").unwrap(), "file");
        assert_eq!(area.remove("in").unwrap(), "folder");
        std::fs::remove_dir_all(root).unwrap();
    }
}
