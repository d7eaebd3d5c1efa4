//! Content-addressed files: bytes too large for the key-value store (a picture's PNGs), each
//! file named by the SHA-256 of its content, under a folder of the data dir.
//!
//! Why files and not store values: sled keeps up to 16 entries in a leaf and rewrites the
//! whole leaf when one of them changes, so 400 KB values would be rewritten many times over;
//! and a batch of 2,000 pictures would hold a gigabyte in memory until it commits. A file is
//! written once, by `prepare` on every core, before the row that names it commits; the record
//! that names it commits with the row, atomically, as any other.
//!
//! The rules that keep the two in step:
//! - a file is written whole or not at all (a temporary name, then renamed), and the host makes
//!   the files durable ([`Blobs::sync`]) before it commits the batch whose records name them,
//!   so a record never names a missing or half-written file, even after a power cut. One sync
//!   a batch, not one a file: here a file's own `fsync` (and its folder's) costs ~5 ms, more
//!   than a fifth of the work of a 1200×1600 photo, times three files a picture;
//! - a name is its content's hash: writing the same bytes twice is a no-op, and two records
//!   may share a file;
//! - a file no record names (a failed row, a rolled-back or killed run, a replaced picture) is
//!   an orphan: the host removes orphans after every run of a processor that stores files, and
//!   `toolsync check` lists those left.
//!
//! Layout: `<root>/<first two hex digits>/<64 hex digits>.png`, a level of 256 folders so that
//! no folder grows to millions of entries.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The extension of every stored file (they are PNGs; the name says so to an operator who
/// looks).
const EXTENSION: &str = "png";
/// Temporary files start with this; a kill may leave one, which the sweep removes.
const TEMPORARY: &str = ".partial-";

/// A folder of content-addressed files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blobs {
    root: PathBuf,
}

/// Lowercase hex of a SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Whether `name` is a file name this folder gives: 64 lowercase hex digits. Checked before a
/// name read from a record becomes a path, so that a damaged record cannot point outside.
pub fn is_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Blobs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Blobs { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the file named `name` lives (`None` for a name this folder never gives).
    pub fn path(&self, name: &str) -> Option<PathBuf> {
        is_name(name).then(|| {
            self.root
                .join(&name[..2])
                .join(format!("{name}.{EXTENSION}"))
        })
    }

    /// Stores `bytes` and returns their name (their SHA-256). Whole or not at all; durable
    /// after the next [`Blobs::sync`]. A file of that name already there is kept (same name,
    /// same content).
    pub fn put(&self, bytes: &[u8]) -> io::Result<String> {
        let name = sha256_hex(bytes);
        let path = self.path(&name).expect("a SHA-256 is a valid name");
        if fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(name);
        }
        let dir = path.parent().expect("a stored file has a folder");
        create_private_dir_all(dir)?;
        // Unique per process and thread: `prepare` writes from several threads at once, and
        // two of them may store the same bytes.
        let temporary = dir.join(format!(
            "{TEMPORARY}{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let written = (|| {
            let mut file = private_file(&temporary)?;
            file.write_all(bytes)?;
            start_writeback(&file);
            fs::rename(&temporary, &path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written.map(|()| name)
    }

    /// Makes every file written so far durable, with their folders' entries: one `syncfs` of
    /// the file system that holds them (Linux); elsewhere a sync of each file and folder.
    pub fn sync(&self) -> io::Result<()> {
        if !self.root.is_dir() {
            return Ok(());
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let root = File::open(&self.root)?;
            // SAFETY: a plain system call on a descriptor this function owns.
            if unsafe { libc::syncfs(root.as_raw_fd()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            for name in self.list()?.names {
                if let Some(path) = self.path(&name) {
                    File::open(&path)?.sync_all()?;
                    sync_dir(path.parent().unwrap_or(&self.root))?;
                }
            }
        }
        Ok(())
    }

    /// The content of the file named `name`.
    pub fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        match self.path(name) {
            Some(path) => fs::read(path),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{name}` is not the name of a stored file"),
            )),
        }
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path(name).is_some_and(|p| p.is_file())
    }

    /// Every stored file's name, and the temporary files a kill left (as paths), in no
    /// particular order. A missing root holds nothing.
    pub fn list(&self) -> io::Result<Listing> {
        let mut listing = Listing::default();
        for folder in self.folders()? {
            let folder = Blobs::list_folder(&folder)?;
            listing.names.extend(folder.names);
            listing.temporary.extend(folder.temporary);
        }
        Ok(listing)
    }

    /// The folders files are spread over (up to 256), for a walk over every file a folder at
    /// a time ([`Blobs::list_folder`]): the sweep after each pictures run and `toolsync check`
    /// hold a few hundred names at once, not every name of a platform's pictures (150,000
    /// names held together took 15 MiB at the end of a run).
    pub fn folders(&self) -> io::Result<Vec<PathBuf>> {
        let shards = match fs::read_dir(&self.root) {
            Ok(shards) => shards,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut folders = Vec::new();
        for shard in shards {
            let shard = shard?;
            if shard.file_type()?.is_dir() {
                folders.push(shard.path());
            }
        }
        Ok(folders)
    }

    /// The stored files and temporary files of one of [`Blobs::folders`].
    pub fn list_folder(folder: &Path) -> io::Result<Listing> {
        let mut listing = Listing::default();
        let suffix = format!(".{EXTENSION}");
        for entry in fs::read_dir(folder)? {
            let entry = entry?;
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            match file_name.strip_suffix(&suffix) {
                Some(name) if is_name(name) => listing.names.push(name.to_string()),
                _ if file_name.starts_with(TEMPORARY) => listing.temporary.push(entry.path()),
                _ => {}
            }
        }
        Ok(listing)
    }

    /// Removes the file named `name` (gone already: fine).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        match self.path(name).map(fs::remove_file) {
            Some(Err(e)) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// What [`Blobs::list`] found.
#[derive(Debug, Default)]
pub struct Listing {
    pub names: Vec<String>,
    pub temporary: Vec<PathBuf>,
}

/// Owner-only, as everything in the data dir: pictures are personal data.
fn private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes a rename in `dir` durable (the folder's entry is data too).
#[cfg(not(target_os = "linux"))]
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Asks the kernel to start writing `file` to disk now, without waiting: the batch's
/// [`Blobs::sync`] then finds little left to write, instead of every file of the batch (about
/// 480 MB for 2,000 photos) while the cores wait. Linux only; elsewhere the sync does it all.
fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain system call on a descriptor the caller owns; a failure only means
        // the sync will write the file itself.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_named_by_its_content_stored_once_and_listed() {
        let dir = std::env::temp_dir().join(format!("toolsync-blobs-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let blobs = Blobs::new(&dir);
        assert!(blobs.list().unwrap().names.is_empty(), "no folder yet");
        blobs.sync().unwrap();
        let name = blobs.put(b"picture").unwrap();
        blobs.sync().unwrap();
        assert_eq!(name, sha256_hex(b"picture"));
        assert_eq!(
            blobs.put(b"picture").unwrap(),
            name,
            "same bytes, same file"
        );
        assert_eq!(blobs.read(&name).unwrap(), b"picture");
        let path = blobs.path(&name).unwrap();
        assert!(path.starts_with(dir.join(&name[..2])));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let stray = dir.join(&name[..2]).join(format!("{TEMPORARY}x"));
        fs::write(&stray, b"half").unwrap();
        let listing = blobs.list().unwrap();
        assert_eq!(listing.names, vec![name.clone()]);
        assert_eq!(listing.temporary, vec![stray]);
        blobs.remove(&name).unwrap();
        blobs.remove(&name).unwrap();
        assert!(!blobs.exists(&name));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_name_that_is_no_hash_is_never_a_path() {
        let blobs = Blobs::new("/data/pictures");
        for bad in ["../../etc/passwd", "", &"A".repeat(64), &"0".repeat(63)] {
            assert_eq!(blobs.path(bad), None, "{bad}");
            assert!(blobs.read(bad).is_err());
        }
        assert!(blobs.path(&"0".repeat(64)).is_some());
    }
}
