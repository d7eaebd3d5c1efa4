//! The store's content-addressed files (pictures' PNGs, `toolsync_plugin_api::blobs`), kept in
//! step with the records that name them.
//!
//! A processor writes a file before the row naming it commits (in `prepare`, on every core), so
//! a row that fails afterwards, a run rolled back or killed, or a picture replaced leaves a file
//! no record names. [`sweep`] removes those after every run of a processor that stores files,
//! once the store is durable — never before: a record committed but not yet flushed could come
//! back after a crash and name a file already gone. [`compare`] is `toolsync check`'s part:
//! every file a record names is there, and the orphans are counted.

use toolsync_plugin_api::blobs::Blobs;
use toolsync_plugin_api::model::check::{Findings, Problem};
use toolsync_plugin_api::model::picture::{self, Picture};
use toolsync_plugin_api::model::Pictures;
use toolsync_plugin_api::txn::StoreRead;

use crate::data_dir::DataDir;
use crate::error::Error;
use crate::store::Store;

/// What a sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub orphans: usize,
    /// Half-written files a kill left.
    pub temporary: usize,
}

/// Removes every stored file no record names, and the temporary files of killed writes. This
/// process holds the store's lock, so no other run is between writing a file and committing
/// its record.
pub fn sweep(data: &DataDir, store: &Store) -> Result<Swept, Error> {
    let blobs = Blobs::new(data.stored_files());
    let mut swept = Swept::default();
    each_folder(&blobs, store, |folder| {
        for name in &folder.orphans {
            blobs.remove(name).map_err(|e| files_error(&blobs, e))?;
            swept.orphans += 1;
        }
        for path in &folder.temporary {
            if std::fs::remove_file(path).is_ok() {
                swept.temporary += 1;
            }
        }
        Ok(())
    })?;
    tracing::info!(
        orphans = swept.orphans,
        temporary = swept.temporary,
        "stored files no record names removed"
    );
    Ok(swept)
}

/// `toolsync check`: a file a picture names and that is missing is a problem; files no record
/// names are counted (the next pictures run removes them) in the returned note.
pub fn compare(
    data: &DataDir,
    store: &Store,
    findings: &mut Findings,
) -> Result<Option<String>, Error> {
    let blobs = Blobs::new(data.stored_files());
    let mut named = 0u64;
    store.for_each(picture::SPACE, b"", &mut |_, value| {
        let Ok(p) = serde_json::from_slice::<Picture>(value) else {
            return Ok(true); // the model's check names it
        };
        for r in &p.renditions {
            named += 1;
            if toolsync_plugin_api::blobs::is_name(&r.file) && !blobs.exists(&r.file) {
                findings.problems.push(Problem {
                    space: picture::SPACE.to_string(),
                    entry: format!("account {}", p.user),
                    what: format!(
                        "its {} rendition's file {} is missing",
                        r.size,
                        blobs.path(&r.file).unwrap_or_default().display()
                    ),
                });
            }
        }
        Ok(true)
    })?;
    let (mut files, mut orphans, mut temporary) = (0u64, 0usize, 0usize);
    each_folder(&blobs, store, |folder| {
        files += (folder.named.len() + folder.orphans.len()) as u64;
        orphans += folder.orphans.len();
        temporary += folder.temporary.len();
        Ok(())
    })?;
    findings.checked.push(("stored files".to_string(), files));
    tracing::debug!(named, files, orphans, "stored files compared");
    let stray = orphans + temporary;
    Ok((stray > 0).then(|| {
        format!(
            "{stray} stored file{} in {} no record names (left by failed, rolled-back or killed \
             rows, replaced pictures or deleted accounts): the next pictures run removes them",
            if stray == 1 { "" } else { "s" },
            blobs.root().display()
        )
    }))
}

/// The stored files some record names, sorted (what `toolsync backup` copies).
pub fn named(data: &DataDir, store: &Store) -> Result<Vec<String>, Error> {
    let blobs = Blobs::new(data.stored_files());
    let mut named = Vec::new();
    each_folder(&blobs, store, |folder| {
        named.extend(folder.named);
        Ok(())
    })?;
    named.sort();
    Ok(named)
}

/// One folder's files ([`Blobs::folders`]), sorted by whether a record names them.
#[derive(Default)]
struct FolderFiles {
    /// Stored files some record names (or the undo log of a run that can still be reverted).
    named: Vec<String>,
    /// Stored files no record names.
    orphans: Vec<String>,
    /// Half-written files a kill left.
    temporary: Vec<std::path::PathBuf>,
}

/// Calls `each` with every folder's files, a folder at a time: the sweep, `check` and `backup`
/// hold a few hundred names at once, not every picture's of a platform.
fn each_folder(
    blobs: &Blobs,
    store: &Store,
    mut each: impl FnMut(FolderFiles) -> Result<(), Error>,
) -> Result<(), Error> {
    let logged = crate::undo::logged(store)?;
    for folder in blobs.folders().map_err(|e| files_error(blobs, e))? {
        let listing = Blobs::list_folder(&folder).map_err(|e| files_error(blobs, e))?;
        let mut files = FolderFiles {
            temporary: listing.temporary,
            ..FolderFiles::default()
        };
        for name in listing.names {
            let named = Pictures::names(store, &name).map_err(Error::from)?
                || crate::undo::held_before(store, &logged, &Pictures::file_index_prefix(&name))?;
            if named {
                files.named.push(name);
            } else {
                files.orphans.push(name);
            }
        }
        each(files)?;
    }
    Ok(())
}

fn files_error(blobs: &Blobs, e: std::io::Error) -> Error {
    Error::output(format!("cannot read {}", blobs.root().display()), e)
}
