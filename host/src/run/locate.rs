//! Where a run's input is (formats.md §2.9): the `FILE` argument as the operator wrote it, else
//! the `input` option — and whether it may be read at all.
//!
//! - `FILE` absolute: that file. Relative: in the current directory when something is there,
//!   else in the file area. A path from the current directory is the operator's own business,
//!   `..` included; a name looked up in the file area stays inside it, so one holding `..` is
//!   not looked up there.
//! - `FILE` `area:<path>`: that path in the file area only, never the current directory.
//! - The file area's reserved folders (`archives/`, `reports/`) are never read as input.
//! - `FILE` `-` is refused, as the standard input itself would be (below): toolsync has no
//!   name for a stream.
//! - The `input` option: absolute, or a name in the file area (no `..`).
//!
//! Whatever is found must be a regular file ([`toolsync_plugin_api::files`]), checked with
//! `stat` before anything opens it: a named pipe with no writer would block the open forever.
//! A refusal says every place looked at and why each failed.

use std::path::{Component, Path, PathBuf};

use toolsync_plugin_api::files::{self, FileProblem, NEEDS_A_REGULAR_FILE};

/// The input a run names.
#[derive(Debug)]
pub struct Located {
    /// The file to read; for a refusal, the path that names its reports.
    pub path: PathBuf,
    /// Why the file cannot be read (the run is refused, exit 3), `None` when it can.
    pub refused: Option<String>,
}

/// Finds the input: `file` from the command line, else the `input` option, against the file
/// area `area`.
pub fn locate(area: &Path, file: Option<&Path>, option: &str) -> Located {
    match file {
        Some(p) if p == Path::new("-") => Located {
            path: p.to_path_buf(),
            refused: Some(format!(
                "`-` is not read as the standard input: {NEEDS_A_REGULAR_FILE}"
            )),
        },
        Some(p) if area_name(p).is_some() => {
            let name = area_name(p).expect("checked");
            match in_area(area, Path::new(name)) {
                Ok(path) => only(path),
                Err(why) => Located {
                    path: p.to_path_buf(),
                    refused: Some(why),
                },
            }
        }
        Some(p) if p.is_absolute() => only(p.to_path_buf()),
        Some(p) => here_or_in_area(area, p),
        None if Path::new(option).is_absolute() => only(PathBuf::from(option)),
        None => match in_area(area, Path::new(option)) {
            Ok(path) => only(path),
            Err(why) => Located {
                path: PathBuf::from(option),
                refused: Some(format!(
                    "option `input` = `{option}`: {why}: give a file outside it by an absolute \
                     path"
                )),
            },
        },
    }
}

/// A path looked at alone.
fn only(path: PathBuf) -> Located {
    match files::regular_file(&path) {
        Ok(()) => Located::found(&path),
        Err(problem) => Located::refused(&path, &problem),
    }
}

/// A relative `FILE`: the current directory when something is there (a dangling link is
/// nothing), else the file area.
fn here_or_in_area(area: &Path, given: &Path) -> Located {
    let here = match files::regular_file(given) {
        Ok(()) => return Located::found(given),
        Err(problem @ FileProblem::NotRegular(_)) => return Located::refused(given, &problem),
        Err(problem) => format!("{} {problem}", shown_here(given)),
    };
    let (path, there) = match in_area(area, given) {
        Ok(path) => match files::regular_file(&path) {
            Ok(()) => return Located::found(&path),
            Err(problem @ FileProblem::NotRegular(_)) => return Located::refused(&path, &problem),
            Err(problem) => {
                let there = format!("in the file area, {} {problem}", path.display());
                (path, there)
            }
        },
        Err(why) => (
            given.to_path_buf(),
            format!("not looked for in the file area: {why}"),
        ),
    };
    Located {
        path,
        refused: Some(format!(
            "cannot find {}: in the current directory, {here}; {there}",
            given.display()
        )),
    }
}

impl Located {
    fn found(path: &Path) -> Located {
        Located {
            path: path.to_path_buf(),
            refused: None,
        }
    }

    fn refused(path: &Path, problem: &FileProblem) -> Located {
        Located {
            path: path.to_path_buf(),
            refused: Some(format!("{} {problem}", path.display())),
        }
    }
}

/// `name` in the file area, unless it would leave it (`..`; an absolute name would replace the
/// area's path when joined) or is in a reserved folder.
fn in_area(area: &Path, name: &Path) -> Result<PathBuf, String> {
    if name
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "a name in the file area stays inside it, and `{}` would leave {}",
            name.display(),
            area.display()
        ));
    }
    if let Some(folder) = crate::area::FileArea::reserved_folder(&name.to_string_lossy()) {
        return Err(format!(
            "`{}` is in the file area's {folder}/, which is never read as input: copy it out \
             (`toolsync files get {}`) and run the copy",
            name.display(),
            name.display()
        ));
    }
    // Symbolic links in the area are never followed (docs/operations.md).
    let path = crate::area::FileArea::new(area.to_path_buf())
        .resolve_no_link(&name.to_string_lossy())
        .map_err(|e| e.to_string())?;
    // (Belt and braces: a reserved folder is never read under another name.)
    if let (Ok(real), Ok(area_real)) = (std::fs::canonicalize(&path), std::fs::canonicalize(area)) {
        if let Some(folder) = crate::area::RESERVED
            .iter()
            .find(|r| real.starts_with(area_real.join(r)))
        {
            return Err(format!(
                "`{}` leads into the file area's {folder}/ (a symbolic link), which is never \
                 read as input",
                name.display()
            ));
        }
    }
    Ok(path)
}

/// The prefix that names a file in the file area only.
pub const AREA_PREFIX: &str = "area:";

/// The area path of a `FILE` written `area:<path>`.
fn area_name(given: &Path) -> Option<&str> {
    given.to_str()?.strip_prefix(AREA_PREFIX)
}

/// A relative path with the current directory it was looked for in, for messages.
fn shown_here(path: &Path) -> String {
    std::env::current_dir()
        .map(|dir| dir.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_the_file_area_stay_inside_it() {
        let area = Path::new("/data/files");
        assert_eq!(
            in_area(area, Path::new("sub/./a.csv")).unwrap(),
            area.join("sub/./a.csv")
        );
        for name in ["../a.csv", "sub/../../a.csv", "/etc/passwd"] {
            let why = in_area(area, Path::new(name)).unwrap_err();
            assert!(
                why.starts_with(&format!(
                    "a name in the file area stays inside it, and `{name}` would leave /data/files"
                )),
                "{name}: {why}"
            );
        }
    }

    #[test]
    fn the_input_option_with_dot_dot_is_refused_and_dash_is_not_stdin() {
        let area = Path::new("/nonexistent-toolsync/files");
        let located = locate(area, None, "../../etc/passwd");
        let why = located.refused.unwrap();
        assert!(
            why.starts_with(
                "option `input` = `../../etc/passwd`: a name in the file area stays inside it"
            ),
            "{why}"
        );
        let located = locate(area, Some(Path::new("-")), "userimport.csv");
        assert_eq!(
            located.refused.unwrap(),
            format!("`-` is not read as the standard input: {NEEDS_A_REGULAR_FILE}")
        );
    }
}
