//! Path guards on entry names (formats.md §3.10): unsafe paths and system files.
//!
//! The checks work on bytes, so that the same function judges the name as the zip crate decoded
//! it (UTF-8 or CP437, or the Info-ZIP Unicode path field) and the raw bytes of the central
//! directory: every byte they look for (`/`, `\`, `.`, `:`, NUL, ASCII letters) is ASCII, and
//! ASCII bytes never occur inside a multi-byte UTF-8 character.

/// The Unix symbolic link file type, in the upper half of the external attributes.
const S_IFLNK: u32 = 0o120000;

/// Why a name is unsafe, as the precision of "unsafe path (…)"; `None` when it is not.
///
/// Unsafe: a NUL byte (names are cut there by C tools, so two tools read two names), an absolute
/// path (`/…`, `\…`), a drive letter (`C:`, whatever follows), or a `..` component, split on both
/// `/` and `\`. A component made only of dots and spaces with two dots or more counts as `..`:
/// Windows trims trailing dots and spaces from names, so `.. ` may be read as `..`.
pub(crate) fn unsafe_reason(name: &[u8]) -> Option<&'static str> {
    if name.contains(&0) {
        return Some("NUL byte");
    }
    if matches!(name.first(), Some(b'/' | b'\\')) {
        return Some("absolute");
    }
    if name.len() >= 2 && name[0].is_ascii_alphabetic() && name[1] == b':' {
        return Some("drive letter");
    }
    let parent = |c: &[u8]| {
        c.iter().all(|&b| b == b'.' || b == b' ') && c.iter().filter(|&&b| b == b'.').count() >= 2
    };
    if components(name).any(parent) {
        return Some("`..`");
    }
    None
}

/// Whether the external attributes mark a symbolic link.
///
/// The upper 16 bits hold a Unix mode whatever system the archive says made it: tools that
/// restore links (Info-ZIP's unzip among them) read them for several systems, so the check does
/// not trust the "made by" field an attacker writes too. The test is the zip crate's own (both
/// bits of the link type set), wider than an exact type match: the zip crate, hence any tool
/// built on it that extracts the tryback, also takes the invalid types 0o13, 0o16 and 0o17 for
/// links.
pub(crate) fn is_symlink(external_attributes: u32) -> bool {
    (external_attributes >> 16) & S_IFLNK == S_IFLNK
}

/// Whether a (safe) name is a system file: under a `__MACOSX` folder (macOS's resource forks), or
/// with a file name or a folder name starting with `.` (`.DS_Store`, `photos/.hidden/a.png`).
/// A lone `.` component means "this folder" and is harmless.
pub(crate) fn is_system(name: &[u8]) -> bool {
    let parts: Vec<&[u8]> = components(name).collect();
    let folders = parts.len().saturating_sub(1);
    parts.iter().any(|c| c.first() == Some(&b'.') && *c != b".")
        || parts[..folders].iter().any(|c| *c == b"__MACOSX")
}

/// Whether the zip crate sees the entry as a directory (a name ending with `/` or `\`).
pub(crate) fn is_dir(name: &str) -> bool {
    name.ends_with('/') || name.ends_with('\\')
}

/// The non-empty components of a name, split on both separators.
fn components(name: &[u8]) -> impl Iterator<Item = &[u8]> {
    name.split(|&b| b == b'/' || b == b'\\')
        .filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names() {
        for (name, why) in [
            ("../evil.png", "`..`"),
            ("a/../../b.png", "`..`"),
            ("a\\..\\b.png", "`..`"),
            ("a/..", "`..`"),
            ("a/.. /b.png", "`..`"),
            ("/etc/x.png", "absolute"),
            ("\\x.png", "absolute"),
            ("\\\\server\\share\\x.png", "absolute"),
            ("C:/x.png", "drive letter"),
            ("c:\\x.png", "drive letter"),
            ("C:x.png", "drive letter"),
            ("a\0.png", "NUL byte"),
        ] {
            assert_eq!(unsafe_reason(name.as_bytes()), Some(why), "{name:?}");
        }
        for name in [
            "a.png",
            "./a.png",
            "a/./b.png",
            "a..b.png",
            "a/b..png",
            "photos/x:y.png",
        ] {
            assert_eq!(unsafe_reason(name.as_bytes()), None, "{name:?}");
        }
    }

    #[test]
    fn system_names() {
        for name in [
            "__MACOSX/x.jpg",
            "__MACOSX/photos/._a.jpg",
            "photos/__MACOSX/a.jpg",
            ".DS_Store",
            "photos/.DS_Store",
            "photos/.hidden/a.png",
            ".git\\config",
            "./.hidden.png",
        ] {
            assert!(is_system(name.as_bytes()), "{name:?}");
        }
        for name in [
            "a.png",
            "./a.png",
            "photos/./a.png",
            "__MACOSX",
            "photos/a.b.png",
            "",
        ] {
            assert!(!is_system(name.as_bytes()), "{name:?}");
        }
    }

    #[test]
    fn symlinks() {
        assert!(is_symlink(0o120777 << 16));
        assert!(!is_symlink(0o100644 << 16));
        assert!(!is_symlink(0o040755 << 16));
        // A socket shares a bit with the link type, it is no link.
        assert!(!is_symlink(0o140755 << 16));
        // Types no system defines, read as links by the zip crate.
        assert!(is_symlink(0o160755 << 16));
        assert!(is_symlink(0o170755 << 16));
        assert!(!is_symlink(0x20)); // MS-DOS "archive" attribute only
    }
}
