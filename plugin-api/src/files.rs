//! The regular-file rule, for every file a run reads: its input, and the files a cell or an
//! option names (course-create's `.mbz` templates; picture archives later).
//!
//! Each must be a regular file (a symbolic link to one is fine). toolsync reads its input twice
//! (a pre-pass, then the rows) and again to resume after a kill, to write the tryback file and
//! the archive copy; a template is read once per row naming it. A named pipe gives the second
//! read nothing, `/dev/zero` never ends, and opening a named pipe that has no writer blocks
//! forever — while the run holds the store. So the type is checked with `stat`, which never
//! blocks, before the file is opened, and anything else is refused with one wording wherever it
//! is named.
//!
//! A name that reaches a regular file only through a process's open descriptors (`/dev/stdin`,
//! `/dev/fd/0`, `/proc/self/fd/0` after `< file`) is refused too: it names a stream the shell
//! opened, not a file, and the tryback file written beside it (or the clean-up removing it)
//! would land in `/dev`.

use std::fmt;
use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

/// Why toolsync needs a regular file, and what to do: the end of every refusal of a stream.
pub const NEEDS_A_REGULAR_FILE: &str = "toolsync reads its input twice and resumes after a \
     kill, so it needs a regular file: save the stream to a file first";

/// Why a path cannot be read as a file. Its `Display` is what follows the path in a message
/// ("`x.csv` does not exist", "`f` is a named pipe (FIFO), not a regular file: …").
#[derive(Debug)]
pub enum FileProblem {
    /// Nothing is there; `link` is the target of a dangling symbolic link.
    Missing { link: Option<PathBuf> },
    /// `stat` failed another way (a permission, a symbolic-link loop); `link` as above.
    Unreadable {
        error: io::Error,
        link: Option<PathBuf>,
    },
    /// Something is there, but not a regular file.
    NotRegular(NotRegular),
}

/// What a path names when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRegular {
    Directory,
    NamedPipe,
    CharDevice,
    BlockDevice,
    Socket,
    /// An open file descriptor (a link into `/proc`), whatever it reads.
    Descriptor,
    Other,
}

/// Checks that `path` names a regular file, following symbolic links, without opening it.
pub fn regular_file(path: &Path) -> Result<(), FileProblem> {
    let problem = match std::fs::metadata(path) {
        Ok(meta) => {
            return match NotRegular::of(&meta) {
                Some(kind) => Err(kind.into()),
                None if through_descriptor(path) => Err(NotRegular::Descriptor.into()),
                None => Ok(()),
            }
        }
        Err(error) => {
            // The link itself, when the failure is following it.
            let link = std::fs::symlink_metadata(path)
                .ok()
                .filter(|meta| meta.file_type().is_symlink())
                .and_then(|_| std::fs::read_link(path).ok());
            if error.kind() == io::ErrorKind::NotFound {
                FileProblem::Missing { link }
            } else {
                FileProblem::Unreadable { error, link }
            }
        }
    };
    Err(problem)
}

/// Whether `path` reaches its file through a process's descriptor table: on Linux, `/dev/stdin`
/// and `/dev/fd` are links into `/proc/<pid>/fd`, whose entries link to the open files.
fn through_descriptor(path: &Path) -> bool {
    let mut path = path.to_path_buf();
    // The kernel's own limit on links followed in one lookup.
    for _ in 0..40 {
        let parent = match path.parent() {
            Some(p) if p.as_os_str().is_empty() => Path::new("."),
            Some(p) => p,
            None => return false,
        };
        let Ok(dir) = std::fs::canonicalize(parent) else {
            return false;
        };
        if dir.starts_with("/proc") {
            return true;
        }
        match std::fs::read_link(&path) {
            // An absolute target replaces `dir` when joined.
            Ok(target) => path = dir.join(target),
            Err(_) => return false,
        }
    }
    false
}

impl NotRegular {
    /// What `meta` (of a followed path) names, `None` for a regular file.
    pub fn of(meta: &Metadata) -> Option<NotRegular> {
        let kind = meta.file_type();
        if kind.is_file() {
            return None;
        }
        if kind.is_dir() {
            return Some(NotRegular::Directory);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if kind.is_fifo() {
                return Some(NotRegular::NamedPipe);
            }
            if kind.is_char_device() {
                return Some(NotRegular::CharDevice);
            }
            if kind.is_block_device() {
                return Some(NotRegular::BlockDevice);
            }
            if kind.is_socket() {
                return Some(NotRegular::Socket);
            }
        }
        Some(NotRegular::Other)
    }

    fn name(self) -> &'static str {
        match self {
            NotRegular::Directory => "a directory",
            NotRegular::NamedPipe => "a named pipe (FIFO)",
            NotRegular::CharDevice => "a character device",
            NotRegular::BlockDevice => "a block device",
            NotRegular::Socket => "a socket",
            NotRegular::Descriptor => "an open file descriptor (a link into /proc)",
            NotRegular::Other => "not a file",
        }
    }
}

impl From<NotRegular> for FileProblem {
    fn from(kind: NotRegular) -> Self {
        FileProblem::NotRegular(kind)
    }
}

impl fmt::Display for NotRegular {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Nothing was streamed: the operator named the wrong thing.
            NotRegular::Directory => f.write_str("is a directory, not a regular file"),
            // It may read a regular file, but only the shell that opened it knows which.
            NotRegular::Descriptor => write!(
                f,
                "is {}, not a file by name: {NEEDS_A_REGULAR_FILE}",
                self.name()
            ),
            kind => write!(
                f,
                "is {}, not a regular file: {NEEDS_A_REGULAR_FILE}",
                kind.name()
            ),
        }
    }
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileProblem::Missing { link: None } => f.write_str("does not exist"),
            FileProblem::Missing { link: Some(to) } => write!(
                f,
                "is a symbolic link to `{}`, which does not exist",
                to.display()
            ),
            FileProblem::Unreadable { error, link: None } => write!(f, "cannot be read: {error}"),
            FileProblem::Unreadable {
                error,
                link: Some(to),
            } => write!(
                f,
                "is a symbolic link to `{}` that cannot be followed: {error}",
                to.display()
            ),
            FileProblem::NotRegular(kind) => kind.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system's temporary folder, removed on drop.
    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir =
                std::env::temp_dir().join(format!("toolsync-files-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn problem(path: &Path) -> String {
        regular_file(path).unwrap_err().to_string()
    }

    #[test]
    fn a_regular_file_and_a_link_to_one_pass() {
        let dir = Dir::new("regular");
        let file = dir.0.join("a.csv");
        std::fs::write(&file, "x").unwrap();
        regular_file(&file).unwrap();
        #[cfg(unix)]
        {
            let link = dir.0.join("link.csv");
            std::os::unix::fs::symlink("a.csv", &link).unwrap();
            regular_file(&link).unwrap();
        }
    }

    #[test]
    fn each_problem_says_what_is_there() {
        let dir = Dir::new("problems");
        assert_eq!(problem(&dir.0.join("gone.csv")), "does not exist");
        assert_eq!(problem(&dir.0), "is a directory, not a regular file");
        #[cfg(unix)]
        {
            let dangling = dir.0.join("dangling.csv");
            std::os::unix::fs::symlink("gone.csv", &dangling).unwrap();
            assert_eq!(
                problem(&dangling),
                "is a symbolic link to `gone.csv`, which does not exist"
            );
            let looped = dir.0.join("loop");
            std::os::unix::fs::symlink("loop", &looped).unwrap();
            let text = problem(&looped);
            assert!(
                text.starts_with("is a symbolic link to `loop` that cannot be followed: "),
                "{text}"
            );
            assert_eq!(
                problem(Path::new("/dev/null")),
                format!("is a character device, not a regular file: {NEEDS_A_REGULAR_FILE}")
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_descriptor_of_a_regular_file_is_no_file_by_name() {
        let dir = Dir::new("descriptor");
        let file = dir.0.join("a.csv");
        std::fs::write(&file, "x").unwrap();
        let open = std::fs::File::open(&file).unwrap();
        use std::os::fd::AsRawFd;
        let fd = open.as_raw_fd();
        let descriptor = format!(
            "is an open file descriptor (a link into /proc), not a file by name: \
             {NEEDS_A_REGULAR_FILE}"
        );
        for path in [format!("/proc/self/fd/{fd}"), format!("/dev/fd/{fd}")] {
            assert_eq!(problem(Path::new(&path)), descriptor, "{path}");
        }
        // A link to such a name is followed to it.
        let link = dir.0.join("link.csv");
        std::os::unix::fs::symlink(format!("/dev/fd/{fd}"), &link).unwrap();
        assert_eq!(problem(&link), descriptor);
    }
}
