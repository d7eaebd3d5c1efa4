//! `toolsync files ls|put|get|rm|mkdir`: the file area managed without a shell on the server.
//!
//! stdout carries what a script wants (a listing; the area path `put` wrote; a file `get`
//! prints with `-`); what was done besides goes to stderr.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::area::{write_atomic, AreaError, FileArea};
use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode};
use crate::escape::escape_controls;
use crate::output::{self, Out};

#[derive(Subcommand, Debug, Clone)]
pub enum FilesAction {
    /// List a folder of the file area (the area itself by default): folders first, then
    /// files, with their size and modification time; `archives/` and `reports/` are
    /// toolsync's own
    Ls {
        /// A folder (or a file) in the area
        dir: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Copy a local file into the area, atomically (a run never sees half a file); replaces
    /// a file of the same name
    Put {
        /// The local file
        local: PathBuf,
        /// Where in the area: a path, or a folder (ending with `/` or existing) to keep the
        /// file's own name [default: the file's name, at the top of the area]
        area_path: Option<String>,
    },
    /// Copy a file of the area (reports and archives included) out
    Get {
        /// The file in the area
        area_path: String,
        /// The local file to write, or `-` for stdout [default: the file's name, in the
        /// current directory]
        local: Option<PathBuf>,
        /// Replace the local file if it exists
        #[arg(long)]
        force: bool,
    },
    /// Remove a file, or an empty folder, of the area (not in archives/ nor reports/: see
    /// `toolsync reports prune`)
    Rm { area_path: String },
    /// Create a folder (and its missing parents) in the area
    Mkdir { area_path: String },
}

pub fn run(data: &DataDir, action: FilesAction) -> CmdResult {
    let area = FileArea::new(data.files());
    match action {
        FilesAction::Ls { dir, json } => ls(&area, dir.as_deref().unwrap_or(""), json),
        FilesAction::Put { local, area_path } => {
            let (written, replaced) = area.put(&local, area_path.as_deref()).map_err(refused)?;
            if replaced {
                output::note(format!("{written}: replaced"));
            }
            let mut out = Out::stdout();
            out.line(&escape_controls(&written))?;
            out.flush()?;
            Ok(ExitCode::Ok)
        }
        FilesAction::Get {
            area_path,
            local,
            force,
        } => get(&area, &area_path, local.as_deref(), force),
        FilesAction::Rm { area_path } => {
            area.remove(&area_path).map_err(refused)?;
            Ok(ExitCode::Ok)
        }
        FilesAction::Mkdir { area_path } => {
            area.mkdir(&area_path).map_err(refused)?;
            Ok(ExitCode::Ok)
        }
    }
}

/// A path the area cannot serve is a usage error when it is malformed, else an I/O one.
fn refused(e: AreaError) -> Error {
    match e {
        AreaError::BadPath(..) | AreaError::Reserved(..) | AreaError::Missing(_) => {
            Error::usage(e.to_string())
        }
        AreaError::Io { .. } => Error::output(
            e.to_string(),
            std::io::Error::other("the file area refused it"),
        ),
    }
}

fn ls(area: &FileArea, dir: &str, json: bool) -> CmdResult {
    if !area.root.exists() {
        // A data dir before its first run: an empty area, not an error.
        if json {
            let mut out = Out::stdout();
            out.line("[]")?;
            return out.flush().map(|()| ExitCode::Ok);
        }
        return Ok(ExitCode::Ok);
    }
    let entries = area.list(dir).map_err(refused)?;
    let mut out = Out::stdout();
    if json {
        out.json(&entries)?;
    } else {
        let zone = crate::clock::Zone::default();
        for entry in &entries {
            let size = if entry.kind == "folder" {
                "-".to_string()
            } else {
                entry.size.to_string()
            };
            out.line(&format!(
                "{size:>12}  {}  {}",
                zone.stamp(entry.modified),
                escape_controls(&entry.path)
            ))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}

fn get(area: &FileArea, name: &str, local: Option<&Path>, force: bool) -> CmdResult {
    let (mut file, _) = area.open(name).map_err(refused)?;
    if local == Some(Path::new("-")) {
        let mut out = Out::stdout();
        out.copy_from(&mut file)?;
        out.flush()?;
        return Ok(ExitCode::Ok);
    }
    let target = match local {
        Some(path) if path.is_dir() => path.join(file_name(name)),
        Some(path) => path.to_path_buf(),
        None => PathBuf::from(file_name(name)),
    };
    if std::fs::symlink_metadata(&target).is_ok_and(|m| !m.is_file()) {
        return Err(Error::usage(format!(
            "{} is not a regular file (a device, a folder, a link...): it is never replaced; \
             give a file name, or `-` for stdout",
            target.display()
        )));
    }
    if target.exists() && !force {
        return Err(Error::usage(format!(
            "{} exists: give --force to replace it, or another local name",
            target.display()
        )));
    }
    write_atomic(&target, |out| {
        std::io::copy(&mut file, out)?;
        out.flush()
    })
    .map_err(|e| Error::output(format!("cannot write {}", target.display()), e))?;
    Ok(ExitCode::Ok)
}

fn file_name(name: &str) -> String {
    Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string())
}
