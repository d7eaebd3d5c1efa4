//! `toolsync ingest`: files an outside system (an ERP over SFTP) dropped in the drop folder,
//! moved into the file area once they are complete.
//!
//! The rules an operator relies on:
//! - **Only complete files.** A file is taken once it has not changed for `settle_seconds`
//!   (its modification time is that old, and its size and time are the same when it is moved
//!   as when it was looked at), or at once when a `<name>.done` marker stands beside it (the
//!   marker goes with it). A file still being written is left, and said so.
//! - **Never lost, never overwritten.** Same file system: a hard link into the area, then the
//!   drop's name removed; otherwise a copy into a hidden temporary file of the area, synced,
//!   linked into place, then the drop's name removed. The area's folder is synced before the
//!   drop's name goes, so a crash leaves the file in one place or both, never none. A name
//!   already in the area is kept: the new file gets `-2`, `-3`… before its extension.
//! - **Only what it should.** Hidden names and names starting with `_` (the original product's
//!   rule, for files an uploader renames when done) are left, folders included; symbolic links
//!   are never followed (a link could name any file the server can read); nothing goes into
//!   the area's reserved folders.
//! - **One at a time.** Two ingests (the daemon's and an operator's) share a lock, so one file
//!   is never taken twice.

use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::area::{self, FileArea};

/// The marker that says a dropped file is complete: `<name>.done` beside it.
pub const DONE_SUFFIX: &str = ".done";

/// What one ingest did.
#[derive(Debug, Default, Serialize)]
pub struct IngestReport {
    /// The drop folder.
    pub drop_dir: String,
    pub taken: Vec<Taken>,
    pub left: Vec<Left>,
    /// Files that should have been taken but could not be (an I/O error): they are still in
    /// the drop folder.
    pub failed: Vec<Left>,
}

/// A file moved into the area.
#[derive(Debug, Serialize)]
pub struct Taken {
    /// Its path in the drop folder.
    pub from: String,
    /// Its path in the file area.
    pub to: String,
    /// The area had a file of that name: this one got a numbered name.
    pub renamed: bool,
    /// It came with a `.done` marker (removed).
    pub marker: bool,
    pub size: u64,
}

/// A file left in the drop folder, and why.
#[derive(Debug, Serialize)]
pub struct Left {
    pub path: String,
    pub why: String,
}

/// A dropped file looked at.
struct Candidate {
    path: PathBuf,
    shown: String,
    meta: Metadata,
    marker: Option<PathBuf>,
}

/// Moves every complete file of `drop` into `area`. `settle` is how long a file must have been
/// left unchanged; `now` the time to compare with.
pub fn ingest(drop: &Path, area: &FileArea, settle: Duration) -> io::Result<IngestReport> {
    let mut report = IngestReport {
        drop_dir: drop.display().to_string(),
        ..IngestReport::default()
    };
    let mut candidates = Vec::new();
    walk(drop, drop, &mut candidates, &mut report.left)?;
    candidates.sort_by(|a, b| a.shown.cmp(&b.shown));
    let now = SystemTime::now();
    for candidate in candidates {
        if let Some(why) = unsettled(&candidate, now, settle) {
            report.left.push(Left {
                path: candidate.shown,
                why,
            });
            continue;
        }
        if FileArea::reserved_folder(&candidate.shown).is_some() {
            report.left.push(Left {
                path: candidate.shown,
                why: "its name is in a reserved folder of the file area (archives/, reports/)"
                    .into(),
            });
            continue;
        }
        match take(&candidate, area) {
            Ok(Some(taken)) => {
                tracing::info!(from = %taken.from, to = %taken.to, "ingest: taken");
                report.taken.push(taken)
            }
            Ok(None) => report.left.push(Left {
                path: candidate.shown,
                why: "changed while it was being taken: left for the next ingest".into(),
            }),
            // Removed by its uploader meanwhile: nothing to take, nothing lost.
            Err(e) if e.kind() == io::ErrorKind::NotFound && !candidate.path.exists() => {}
            Err(e) => {
                tracing::warn!(file = %candidate.shown, "ingest: cannot take it: {e}");
                report.failed.push(Left {
                    path: candidate.shown,
                    why: format!("cannot be moved into the file area: {e}"),
                })
            }
        }
    }
    Ok(report)
}

/// Collects the files under `dir`, leaving what is not to be taken in `left` (hidden and `_`
/// names are left without a word, as the original product did: they are an uploader's work in
/// progress).
fn walk(
    root: &Path,
    dir: &Path,
    candidates: &mut Vec<Candidate>,
    left: &mut Vec<Left>,
) -> io::Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    names.sort_by_key(|e| e.file_name());
    for item in names {
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let path = item.path();
        let shown = area::shown(root, &path);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue; // gone meanwhile
        };
        if meta.is_dir() {
            // A folder that cannot be read (an uploader's private one, or gone meanwhile) is
            // left; the rest of the drop folder is still taken.
            if let Err(e) = walk(root, &path, candidates, left) {
                left.push(Left {
                    path: format!("{shown}/"),
                    why: format!("a folder that cannot be read: {e}"),
                });
            }
        } else if meta.file_type().is_symlink() {
            left.push(Left {
                path: shown,
                why: "a symbolic link: never followed".into(),
            });
        } else if !meta.is_file() {
            left.push(Left {
                path: shown,
                why: "not a regular file".into(),
            });
        } else if let Some(of) = name.strip_suffix(DONE_SUFFIX) {
            if !path.with_file_name(of).exists() {
                left.push(Left {
                    path: shown,
                    why: format!("a marker for `{of}`, which is not there (yet)"),
                });
            }
        } else {
            let marker = path.with_file_name(format!("{name}{DONE_SUFFIX}"));
            let marker = std::fs::symlink_metadata(&marker)
                .is_ok_and(|m| m.is_file())
                .then_some(marker);
            candidates.push(Candidate {
                path,
                shown,
                meta,
                marker,
            });
        }
    }
    Ok(())
}

/// Why a file without a marker is not complete yet, if it is not.
fn unsettled(candidate: &Candidate, now: SystemTime, settle: Duration) -> Option<String> {
    if candidate.marker.is_some() {
        return None;
    }
    let modified = candidate.meta.modified().ok()?;
    match now.duration_since(modified) {
        Ok(age) if age >= settle => None,
        Ok(age) => Some(format!(
            "still being written: changed {:.1} s ago, taken once unchanged for {} s \
             (settle_seconds), or at once beside a `{}` marker",
            age.as_secs_f64(),
            settle.as_secs(),
            DONE_SUFFIX
        )),
        Err(_) => Some(
            "its modification time is in the future (is the clock of the system that wrote it \
             ahead?): left until that time has passed"
                .into(),
        ),
    }
}

/// Moves one file into the area under a free name; `None` when it changed since it was looked
/// at.
fn take(candidate: &Candidate, area: &FileArea) -> io::Result<Option<Taken>> {
    let now = std::fs::symlink_metadata(&candidate.path)?;
    if now.len() != candidate.meta.len() || now.modified()? != candidate.meta.modified()? {
        return Ok(None);
    }
    let wanted = area
        .resolve(&candidate.shown)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let folder = wanted.parent().unwrap_or(&area.root).to_path_buf();
    area::make_dirs(&folder).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists | io::ErrorKind::NotADirectory => io::Error::other(format!(
            "{} is a file in the file area where this file needs a folder: rename one of them",
            area::shown(&area.root, &folder)
        )),
        _ => e,
    })?;
    let (target, renamed) = link_into(&candidate.path, &wanted)?;
    area::sync_dir(&folder);
    std::fs::remove_file(&candidate.path)?;
    if let Some(marker) = &candidate.marker {
        std::fs::remove_file(marker)?;
    }
    area::sync_dir(candidate.path.parent().unwrap_or(Path::new(".")));
    Ok(Some(Taken {
        from: candidate.shown.clone(),
        to: area::shown(&area.root, &target),
        renamed,
        marker: candidate.marker.is_some(),
        size: now.len(),
    }))
}

/// Gives `source`'s content the first free name of `wanted`, `wanted-2`… without ever
/// replacing a file: a hard link where the file systems allow it, else a synced copy linked
/// into place. Returns the name used and whether it was not `wanted`.
fn link_into(source: &Path, wanted: &Path) -> io::Result<(PathBuf, bool)> {
    match link_free(source, wanted) {
        // Another file system, or a file the kernel does not let this user link
        // (`fs.protected_hardlinks`: a file of the uploader's that toolsync may only read).
        Err(e) if crosses_devices(&e) || e.kind() == io::ErrorKind::PermissionDenied => {
            let copy = copy_beside(source, wanted)?;
            let linked = link_free(&copy, wanted);
            let _ = std::fs::remove_file(&copy);
            linked
        }
        other => other,
    }
}

/// Links `from` under the first free name of `wanted`.
fn link_free(from: &Path, wanted: &Path) -> io::Result<(PathBuf, bool)> {
    let mut n = 1;
    loop {
        let target = numbered(wanted, n);
        match std::fs::hard_link(from, &target) {
            Ok(()) => return Ok((target, n > 1)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(e),
        }
    }
}

fn crosses_devices(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::CrossesDevices
}

/// A synced, owner-only copy of `source` under a hidden name beside `wanted`.
fn copy_beside(source: &Path, wanted: &Path) -> io::Result<PathBuf> {
    // Hidden, so that nothing takes it for an input.
    let (temp, mut out) = area::fresh_file(wanted.parent().unwrap_or(Path::new(".")), "ingest")?;
    let copied = io::copy(&mut File::open(source)?, &mut out).and_then(|_| out.sync_all());
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    Ok(temp)
}

/// `users.csv`, `users-2.csv`, `users-3.csv`…; `n` 1 is the name itself.
fn numbered(wanted: &Path, n: u32) -> PathBuf {
    if n == 1 {
        return wanted.to_path_buf();
    }
    let stem = wanted
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match wanted.extension() {
        Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    wanted.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names_keep_the_extension() {
        let p = Path::new("/a/users.csv");
        assert_eq!(numbered(p, 1), p);
        assert_eq!(numbered(p, 2), Path::new("/a/users-2.csv"));
        assert_eq!(
            numbered(Path::new("/a/README"), 3),
            Path::new("/a/README-3")
        );
        assert_eq!(
            numbered(Path::new("/a/x.tar.gz"), 2),
            Path::new("/a/x.tar-2.gz")
        );
    }
}
