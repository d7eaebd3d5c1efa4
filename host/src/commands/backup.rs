//! `toolsync backup <file>` and `toolsync restore <file>`: a consistent copy of the store
//! taken while no run is active, verified, and put back in place of a damaged or mistaken
//! store (the file's layout: [`crate::backup`]).

use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use toolsync_plugin_api::blobs::Blobs;
use toolsync_plugin_api::engine::{full_key, Backend};
use toolsync_plugin_api::model::check::{check_store, Findings};
use toolsync_plugin_api::model::MODEL_VERSION;

use crate::backup::{self, BackupError, Meta, Reader};
use crate::data_dir::{DataDir, RESTORED_MARKER};
use crate::error::{CmdResult, Error, ExitCode, StoreError};
use crate::output::Out;
use crate::run::JOURNAL_SPACE;
use crate::store::{FilesLock, Store, STORE_FORMAT};

/// The keyspace of a backup's stored files (never a keyspace of the store).
const FILES_SPACE: &str = "_files";

/// Writes every entry of the store to `dest` (whole or not at all), while holding the store's
/// lock: no run can change it meanwhile. Journals of interrupted runs are left out: they point
/// at work files the backup does not hold.
pub fn backup(data: &DataDir, dest: &Path, force: bool) -> CmdResult {
    let store = data.open_store()?;
    // The store between two batches, when the daemon runs a file meanwhile.
    store.quiesced(|| backup_of(data, &store, dest, force))
}

fn backup_of(data: &DataDir, store: &Store, dest: &Path, force: bool) -> CmdResult {
    if dest.exists() && !force {
        return Err(Error::usage(format!(
            "{} exists: name a new file, or add --force to replace it",
            dest.display()
        )));
    }
    let (store_format, model_version) = store.versions()?;
    let meta = Meta {
        store_format,
        model_version,
        created_at: crate::clock::now(),
        toolsync: env!("CARGO_PKG_VERSION").to_string(),
    };
    let journals = full_key(JOURNAL_SPACE, b"");
    let mut skipped = Vec::new();
    let partial = partial_path(dest);
    let failed = |e: std::io::Error| Error::output(format!("cannot write {}", dest.display()), e);
    let file = crate::run::report::private_file(&partial).map_err(failed)?;
    let mut writer = backup::Writer::new(BufWriter::new(file), &meta).map_err(failed)?;
    for item in store.scan(b"") {
        let (key, value) = item?;
        if let Some(processor) = key.strip_prefix(journals.as_slice()) {
            skipped.push(String::from_utf8_lossy(processor).into_owned());
            continue;
        }
        writer.entry(&key, &value).map_err(failed)?;
    }
    // The stored files the records name (pictures' PNGs), as entries of a keyspace of their
    // own that no store holds: a restore writes them back as files.
    let files = Blobs::new(data.stored_files());
    let named = crate::stored_files::named(data, store)?;
    for name in &named {
        let bytes = files.read(name).map_err(failed)?;
        writer
            .entry(&full_key(FILES_SPACE, name.as_bytes()), &bytes)
            .map_err(failed)?;
    }
    let (out, count) = writer.finish().map_err(failed)?;
    let file = out.into_inner().map_err(|e| failed(e.into_error()))?;
    file.sync_all().map_err(failed)?;
    std::fs::rename(&partial, dest).map_err(failed)?;
    let mut out = Out::stdout();
    out.line(&format!(
        "backed up {} entries of the store at {} and {} picture files to {} ({} bytes)",
        count - named.len() as u64,
        store.path().display(),
        named.len(),
        dest.display(),
        std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0)
    ))?;
    out.flush()?;
    for processor in skipped {
        crate::output::note(format!(
            "the journal of the interrupted {processor} run is not in the backup \
             (its committed rows are): after a restore, running its file again applies the rest"
        ));
    }
    Ok(ExitCode::Ok)
}

/// Replaces the store with the content of a backup. The backup is read and verified whole
/// first; the new store is built beside the old one and only then put in its place, the old
/// one kept (`store.replaced-<stamp>`). Killed at any point, the data dir holds either the old
/// store or the restored one (an interrupted swap is completed by the next command).
pub fn restore(data: &DataDir, source: &Path, force: bool) -> CmdResult {
    let unreadable = |e: BackupError| {
        Error::Store(StoreError::Failure(format!(
            "{} cannot be restored: {e}",
            source.display()
        )))
    };
    let open = || -> Result<Reader<BufReader<std::fs::File>>, BackupError> {
        Reader::open(BufReader::new(std::fs::File::open(source)?))
    };
    // 1. Verify the whole backup before touching anything.
    let mut reader = open().map_err(unreadable)?;
    let meta = reader.meta.clone();
    if meta.store_format > STORE_FORMAT || meta.model_version > MODEL_VERSION {
        return Err(StoreError::Newer {
            path: source.to_path_buf(),
            what: format!(
                "holds a store of format {} and data model {} (this toolsync: {STORE_FORMAT} and {MODEL_VERSION})",
                meta.store_format, meta.model_version
            ),
        }
        .into());
    }
    let files_prefix = full_key(FILES_SPACE, b"");
    while let Some((key, value)) = reader.next_entry().map_err(unreadable)? {
        // A stored file must hash to its name: checked before anything is written.
        if let Some(name) = key.strip_prefix(files_prefix.as_slice()) {
            if toolsync_plugin_api::blobs::sha256_hex(&value).as_bytes() != name {
                return Err(unreadable(BackupError::Damaged(format!(
                    "the stored file {} does not hash to its name",
                    String::from_utf8_lossy(name)
                ))));
            }
        }
    }

    // 2. The store in place, if any, must not be in use, and is replaced only when asked. A
    // store on a PostgreSQL server is restored into, and must be empty (the import says so).
    let server = data.configured_server()?;
    let mut lock = None;
    if server.is_none() {
        data.complete_restore()?;
        let store_dir = data.store();
        if Store::exists(&store_dir) && !force {
            return Err(Error::usage(format!(
                "the data dir {} already holds a store: add --force to replace it (it is kept as store.replaced-<stamp>)",
                data.root.display()
            )));
        }
        lock = Some(FilesLock::take(&store_dir)?);
    }
    // The restored store keeps the engine of the one it replaces (else the configured one).
    let engine = data.store_engine()?;

    // 3. Build the restored store beside it (its data model brought up to date), check it,
    // then swap.
    let restoring = data.restoring();
    let _ = std::fs::remove_dir_all(&restoring);
    let mut reader = open().map_err(unreadable)?;
    let files = Blobs::new(data.stored_files());
    let mut restored_files = 0u64;
    let next = || loop {
        let entry = reader.next_entry().map_err(|e| e.to_string())?;
        match entry {
            // A stored file (its name checked in step 1): back into the folder. Content-
            // addressed, so adding one never disturbs the store in place; the next sweep
            // removes what no record names.
            Some((key, value)) if key.starts_with(&files_prefix) => {
                files
                    .put(&value)
                    .map_err(|e| format!("cannot write {}: {e}", files.root().display()))?;
                restored_files += 1;
            }
            other => return Ok(other),
        }
    };
    let (restored, count) = match &server {
        Some(server) => Store::import_server(server, next)?,
        None => Store::import(&restoring, engine, next)?,
    };
    files.sync().map_err(|e| StoreError::Open {
        path: files.root().to_path_buf(),
        message: format!("cannot make the restored picture files durable: {e}"),
    })?;
    let findings = check_store(&restored).map_err(Error::from)?;
    drop(restored);
    let kept = match server {
        Some(_) => None,
        None => {
            let marker = restoring.join(RESTORED_MARKER);
            std::fs::write(&marker, b"").map_err(|e| StoreError::Open {
                path: restoring.clone(),
                message: format!("cannot mark the restored store whole: {e}"),
            })?;
            crate::faults::point("restore-before-swap");
            data.complete_restore()?
        }
    };
    drop(lock);

    let mut out = Out::stdout();
    out.line(&format!(
        "restored {count} entries and {restored_files} picture files from {} (written {} by \
         toolsync {})",
        source.display(),
        crate::clock::rfc3339(meta.created_at),
        meta.toolsync
    ))?;
    if let Some(kept) = kept {
        out.line(&format!(
            "the store it replaces is kept at {}",
            kept.display()
        ))?;
    }
    verdict(out, &findings, "the restored store")
}

/// Prints what `toolsync check` found in a store just written (`what`: "the restored store",
/// "the copy") and flushes: exit 0 when it is consistent, 1 otherwise.
pub fn verdict(mut out: Out, findings: &Findings, what: &str) -> CmdResult {
    out.line(&if findings.is_clean() {
        format!("toolsync check: {what} is consistent")
    } else {
        format!(
            "toolsync check: {} problems in {what} (run `toolsync check` on it)",
            findings.problems.len()
        )
    })?;
    out.flush()?;
    Ok(if findings.is_clean() {
        ExitCode::Ok
    } else {
        ExitCode::RowsFailed
    })
}

/// `<dest>.partial`: where a backup is written before it is renamed into place.
fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}
