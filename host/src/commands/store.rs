//! `toolsync store info` and `toolsync store copy --to <engine>:<folder>`: which engine keeps
//! the store, and moving it to another one.
//!
//! A copy reads the store under its lock (no run can change it meanwhile, as for a backup)
//! and writes every key into a new store of the engine named, in batches; then it counts the
//! copy's entries against the source's and runs `toolsync check` on the copy. It never writes
//! into a folder that holds anything: a copy is always whole and new.

use std::path::{Path, PathBuf};

use serde::Serialize;
use toolsync_plugin_api::engine::Backend;
use toolsync_plugin_api::model::check::check_store;

use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode, StoreError};
use crate::output::Out;
use crate::store::{EngineKind, PgTarget, Store};

#[derive(clap::Subcommand, Debug, Clone)]
pub enum StoreAction {
    /// The store's engine, folder, entries and size on disk
    Info {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Copy every key of the store into a new store of another engine, then verify the copy
    ///
    /// TARGET is `<engine>:<folder>`, e.g. `redb:/srv/toolsync/store.redb-copy`; the folder
    /// must not exist or be empty. Or a PostgreSQL URL, `postgres://user@host/database`,
    /// whose store must be empty (the password from $TOOLSYNC_STORE_PASSWORD or $PGPASSWORD). The copy's entries are counted against the store's and
    /// `toolsync check` runs on it (exit 1 if it finds problems). To switch the data dir to
    /// the copy: stop the daemon, replace <data dir>/store with the copy's folder, and set
    /// `store = "<engine>"` at the top of toolsync.toml.
    Copy {
        /// The new store: `<engine>:<folder>` (engines: sled, redb), or `postgres://...`
        #[arg(long, value_name = "TARGET")]
        to: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(data: &DataDir, action: StoreAction) -> CmdResult {
    match action {
        StoreAction::Info { json } => info(data, json),
        StoreAction::Copy { to, json } => copy(data, &to, json),
    }
}

#[derive(Serialize)]
struct Info {
    engine: &'static str,
    path: PathBuf,
    entries: u64,
    bytes_on_disk: u64,
}

fn info(data: &DataDir, json: bool) -> CmdResult {
    let store = data.open_store()?;
    let entries = store.quiesced(|| count(&store))?;
    let info = Info {
        engine: store.engine().name(),
        path: store.path().to_path_buf(),
        entries,
        bytes_on_disk: store.size_on_disk(),
    };
    let mut out = Out::stdout();
    if json {
        out.json(&info)?;
    } else {
        out.line(&format!(
            "{} store at {}: {} entries, {} bytes on disk",
            info.engine,
            info.path.display(),
            info.entries,
            info.bytes_on_disk
        ))?;
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}

fn count(store: &Store) -> Result<u64, Error> {
    let mut entries = 0;
    for item in store.scan(b"") {
        item?;
        entries += 1;
    }
    Ok(entries)
}

/// `<engine>:<folder>`, the folder checked new or empty.
fn target(to: &str) -> Result<(EngineKind, PathBuf), Error> {
    let names = EngineKind::EMBEDDED.map(EngineKind::name).join(", ");
    let Some((engine, folder)) = to.split_once(':') else {
        return Err(Error::usage(format!(
            "--to {to}: give `<engine>:<folder>` (engines: {names})"
        )));
    };
    let kind = EngineKind::parse(engine)
        .ok_or_else(|| Error::usage(format!("--to {to}: `{engine}` is not an engine: {names}")))?;
    if folder.is_empty() {
        return Err(Error::usage(format!(
            "--to {to}: name the new store's folder"
        )));
    }
    let folder = PathBuf::from(folder);
    if folder.exists() && !folder.is_dir() {
        return Err(Error::usage(format!(
            "{} is a file: a copy goes into a new or empty folder",
            folder.display()
        )));
    }
    if std::fs::read_dir(&folder).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::usage(format!(
            "{} is not empty: a copy goes into a new or empty folder",
            folder.display()
        )));
    }
    Ok((kind, folder))
}

/// Where a copy is written before it is verified and renamed to `folder`: a killed copy leaves
/// this (removed by the next copy to the same folder), never a store that looks whole.
fn partial_of(folder: &Path) -> PathBuf {
    let name = folder.file_name().unwrap_or_default().to_string_lossy();
    folder.with_file_name(format!(".{name}.partial"))
}

#[derive(Serialize)]
struct Copied<'a> {
    from_engine: &'static str,
    to_engine: &'static str,
    to: &'a Path,
    entries: u64,
    consistent: bool,
    problems: usize,
}

fn copy(data: &DataDir, to: &str, json: bool) -> CmdResult {
    if PgTarget::is_url(to) {
        return copy_to_server(data, to, json);
    }
    let (kind, folder) = target(to)?;
    let source = data.open_store()?;
    let inside = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a.starts_with(b),
        _ => false,
    };
    let parent = folder.parent().filter(|p| !p.as_os_str().is_empty());
    if parent.is_some_and(|p| inside(p, source.path())) {
        return Err(Error::usage(format!(
            "{} is inside the store being copied: name a folder outside {}",
            folder.display(),
            source.path().display()
        )));
    }
    let partial = partial_of(&folder);
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| {
            Error::output(
                format!("cannot remove the interrupted copy {}", partial.display()),
                e,
            )
        })?;
    }
    let from = source.engine();
    let (copy, entries, copied) = source.quiesced(|| -> Result<_, Error> {
        let entries = count(&source)?;
        let mut scan = source.scan(b"");
        let (copy, copied) =
            Store::import(&partial, kind, || scan.next().transpose().map_err(|e| e.0))?;
        Ok((copy, entries, copied))
    })?;
    drop(source);
    let findings = verified(data, &copy, entries, copied, &partial)?;
    // Whole and counted: it takes its name (an empty folder there gives way).
    copy.flush_all()?;
    drop(copy);
    let placed = match std::fs::remove_dir(&folder) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => std::fs::rename(&partial, &folder),
    };
    placed.map_err(|e| {
        Error::output(
            format!(
                "cannot rename {} to {}",
                partial.display(),
                folder.display()
            ),
            e,
        )
    })?;
    reported(from, kind, &folder, entries, &findings, json)
}

/// `store copy --to postgres://...`: into the store on that server, which must be empty (a
/// new database, or one whose table holds nothing). The version record is written last: a
/// copy killed midway leaves a store that opens as damaged, never one that looks whole.
fn copy_to_server(data: &DataDir, to: &str, json: bool) -> CmdResult {
    let password_file = crate::config::HostSettings::read(data)?.store_password_file;
    let target = PgTarget::parse(to, password_file.as_deref())
        .map_err(|e| Error::usage(format!("--to: {e}")))?;
    let source = data.open_store()?;
    if source.path() == Path::new(target.shown()) {
        return Err(Error::usage(format!(
            "--to {}: that is the store being copied",
            target.shown()
        )));
    }
    let from = source.engine();
    let shown = PathBuf::from(target.shown());
    let (copy, entries, copied) = source.quiesced(|| -> Result<_, Error> {
        let entries = count(&source)?;
        let mut scan = source.scan(b"");
        let (copy, copied) =
            Store::import_server(&target, || scan.next().transpose().map_err(|e| e.0))?;
        Ok((copy, entries, copied))
    })?;
    drop(source);
    let findings = verified(data, &copy, entries, copied, &shown)?;
    copy.flush_all()?;
    reported(from, EngineKind::Postgres, &shown, entries, &findings, json)
}

/// The copy counted against the store (`copied` written, `entries` in the source) and
/// checked as `toolsync check` would, picture files included.
fn verified(
    data: &DataDir,
    copy: &Store,
    entries: u64,
    copied: u64,
    at: &Path,
) -> Result<toolsync_plugin_api::model::check::Findings, Error> {
    let in_copy = count(copy)?;
    if copied != entries || in_copy != entries {
        return Err(StoreError::Failure(format!(
            "the copy at {} holds {in_copy} entries ({copied} written) where the store holds \
             {entries}: it is not usable (remove it and copy again)",
            at.display()
        ))
        .into());
    }
    let mut findings = check_store(copy).map_err(Error::from)?;
    crate::stored_files::compare(data, copy, &mut findings)?;
    Ok(findings)
}

fn reported(
    from: EngineKind,
    kind: EngineKind,
    to: &Path,
    entries: u64,
    findings: &toolsync_plugin_api::model::check::Findings,
    json: bool,
) -> CmdResult {
    let copied = Copied {
        from_engine: from.name(),
        to_engine: kind.name(),
        to,
        entries,
        consistent: findings.is_clean(),
        problems: findings.problems.len(),
    };
    let mut out = Out::stdout();
    if json {
        out.json(&copied)?;
        out.flush()?;
        return Ok(if findings.is_clean() {
            ExitCode::Ok
        } else {
            ExitCode::RowsFailed
        });
    }
    out.line(&format!(
        "copied {entries} entries from the {} store into a new {} store at {}",
        copied.from_engine,
        copied.to_engine,
        to.display()
    ))?;
    super::backup::verdict(out, findings, "the copy")
}
