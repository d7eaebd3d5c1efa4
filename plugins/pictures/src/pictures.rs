//! The `pictures` processor (formats.md §3.10): each entry of a zip archive is an account's
//! picture, named after the account (`j.doe.jpg` → `j.doe`).
//!
//! The host has already applied the archive rules (safe paths, sizes counted on the bytes
//! decompressed, system files skipped) and hands over each remaining entry as a row of `path`
//! and `content`. Here:
//!
//! - `prepare` (on every core) finds the account, hashes the entry, and — unless the stored
//!   picture has that hash already, or `overwrite` is off and there is one — decodes it under
//!   the limits, renders the three PNGs and stores them as files (not in a dry run): the slow
//!   part, in parallel;
//! - `apply` (in archive order) decides the outcome against the store as it is then (an
//!   earlier entry may have set the same account's picture) and writes the record, which
//!   commits with the row. A row that fails leaves its files unnamed: the host's sweep removes
//!   them after the run.

use toolsync_plugin_api::abi::protocol::STORE_FAILURE;
use toolsync_plugin_api::blobs::{sha256_hex, Blobs};
use toolsync_plugin_api::model::picture::{Picture, Rendition, Set};
use toolsync_plugin_api::model::{Pictures, UserKey};
use toolsync_plugin_api::{
    keys, ColumnSpec, Derived, Manifest, OptionSpec, Outcome, Processor, ReadTxn, Row, RowError,
    RowHandler, StartContext, StartError, Txn,
};

use crate::imaging::{self, Limits};

pub struct PicturesProcessor;

/// What `prepare` hands to `apply`, as one JSON value in the [`Derived`] (the ABI carries
/// text).
const PREPARED: &str = "prepared";

impl Processor for PicturesProcessor {
    fn manifest(&self) -> Manifest {
        Manifest::new(
            "pictures",
            env!("CARGO_PKG_VERSION"),
            "Account pictures from zip archives: an entry per account, named after it \
             (j.doe.jpg sets j.doe's picture); PNG, JPEG or GIF, stored as a PNG fitting \
             512×512 and square thumbnails of 100 and 35",
            "userpictures_*.zip",
        )
        .headerless()
        .archive_input()
        .stores_files()
        .parallel_prepare()
        .column(
            ColumnSpec::new(
                "path",
                "text",
                "the entry's path in the archive (set by the host)",
            )
            .required(),
        )
        .column(
            ColumnSpec::new("content", "bytes", "the entry's bytes (set by the host)").required(),
        )
        .option(OptionSpec::new(
            "file_prefix",
            "userpictures_",
            "archives read when no file is named: every <file_prefix>*.zip of the file area",
        ))
        .option(keys::user_key_option("username"))
        .option(OptionSpec::boolean(
            "overwrite",
            "true",
            "replace an account's existing picture",
        ))
        .option(OptionSpec::new(
            "max_archive_bytes",
            "64 MiB",
            "total size of an archive's entries once decompressed; over it the archive is refused",
        ))
        .option(OptionSpec::new(
            "max_image_bytes",
            "8 MiB",
            "size of one entry once decompressed; over it the entry fails",
        ))
        .option(OptionSpec::new(
            "max_image_width",
            "4096",
            "widest picture accepted, in pixels (read from the header, before decoding)",
        ))
        .option(OptionSpec::new(
            "max_image_height",
            "4096",
            "tallest picture accepted, in pixels",
        ))
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        Ok(Box::new(PicturesRun {
            key: ctx.user_key()?,
            overwrite: ctx.option_bool("overwrite")?,
            limits: Limits {
                max_width: ctx.option_int("max_image_width", 1, 65_535)? as u32,
                max_height: ctx.option_int("max_image_height", 1, 65_535)? as u32,
            },
            // A dry run stores nothing, files included.
            files: ctx.files().filter(|_| !ctx.dry_run),
            now: ctx.started_at,
        }))
    }
}

struct PicturesRun {
    key: UserKey,
    overwrite: bool,
    limits: Limits,
    files: Option<Blobs>,
    now: i64,
}

/// `prepare`'s verdict on an entry, re-checked by `apply`.
#[derive(serde::Serialize, serde::Deserialize)]
enum Prepared {
    /// The entry cannot set a picture: the reason.
    Failed(String),
    /// The stored picture had this hash, or `overwrite` was off and one was there: nothing
    /// was rendered (`apply` renders after all if an earlier entry changed the picture).
    NotRendered { user: u64, sha256: String },
    /// Rendered, and stored unless the run is dry.
    Rendered(Picture),
}

/// What `find_user` calls the key it was given (and this processor's messages leave out).
const NAME: &str = "name";

/// The account key an entry names: its file name without the last extension.
fn account_key(path: &str) -> &str {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    match name.rfind('.') {
        Some(dot) if dot > 0 => &name[..dot],
        _ => name,
    }
}

impl PicturesRun {
    /// Everything `prepare` does; `apply` calls it too when `prepare` did not run.
    fn prepare_entry(
        &self,
        row: &Row<'_>,
        store: &impl toolsync_plugin_api::txn::StoreRead,
    ) -> Prepared {
        let (path, content) = (row.get("path").unwrap_or(""), row.bytes("content"));
        let Some(content) = content.as_deref() else {
            return Prepared::Failed("the entry has no content".to_string());
        };
        let user = match keys::find_user(store, self.key, NAME, account_key(path)) {
            Ok(user) => user,
            // The row has no column to name: the entry's path starts every message already.
            Err(e) => {
                let reason = e
                    .reason
                    .strip_prefix(&format!("`{NAME}`: "))
                    .unwrap_or(&e.reason);
                return Prepared::Failed(reason.to_string());
            }
        };
        let sha256 = sha256_hex(content);
        match Pictures::get(store, user.id) {
            Ok(Some(stored)) if stored.sha256 == sha256 || !self.overwrite => {
                return Prepared::NotRendered {
                    user: user.id,
                    sha256,
                }
            }
            Ok(_) => {}
            Err(e) => return Prepared::Failed(e.to_string()),
        }
        match self.render(user.id, content, sha256) {
            Ok(picture) => Prepared::Rendered(picture),
            Err(reason) => Prepared::Failed(reason),
        }
    }

    /// Decodes, renders and stores the files of a picture.
    fn render(&self, user: u64, content: &[u8], sha256: String) -> Result<Picture, String> {
        let processed = imaging::process(content, &self.limits)?;
        let mut renditions = Vec::with_capacity(processed.renditions.len());
        for r in &processed.renditions {
            let file = match &self.files {
                // Not the entry's fault (a full disk, a permission): a failure of the store,
                // which stops the run (exit 5) so that a re-run resumes here, rather than a
                // failed row that would stay failed.
                Some(files) => files.put(&r.png).map_err(|e| {
                    format!(
                        "{STORE_FAILURE}cannot write a picture file in {}: {e}",
                        files.root().display()
                    )
                })?,
                None => sha256_hex(&r.png),
            };
            renditions.push(Rendition {
                size: r.size,
                width: r.width,
                height: r.height,
                bytes: r.png.len() as u64,
                file,
            });
        }
        Ok(Picture {
            v: 0,
            user,
            sha256,
            format: processed.format.as_str().to_string(),
            width: processed.width,
            height: processed.height,
            renditions,
            timecreated: 0,
            timemodified: 0,
            extra: Default::default(),
        })
    }
}

impl RowHandler for PicturesRun {
    fn prepare(&self, row: &Row<'_>, store: &ReadTxn<'_>) -> Derived {
        let mut derived = Derived::default();
        let prepared = self.prepare_entry(row, store);
        if let Ok(json) = serde_json::to_string(&prepared) {
            derived.insert(PREPARED, json);
        }
        derived
    }

    fn subject(&self, row: &Row<'_>) -> String {
        account_key(row.get("path").unwrap_or("")).to_string()
    }

    fn apply(
        &mut self,
        row: &Row<'_>,
        derived: Derived,
        txn: &mut Txn<'_>,
    ) -> Result<Outcome, RowError> {
        let subject = self.subject(row);
        let prepared = derived
            .get(PREPARED)
            .and_then(|json| serde_json::from_str::<Prepared>(json).ok())
            .unwrap_or_else(|| self.prepare_entry(row, txn));
        let (user, sha256, rendered) = match prepared {
            Prepared::Failed(reason) => return Err(RowError::new(reason).about(&subject)),
            Prepared::NotRendered { user, sha256 } => (user, sha256, None),
            Prepared::Rendered(picture) => (picture.user, picture.sha256.clone(), Some(picture)),
        };
        // The store as it is now: an earlier entry of the archive may have set this picture.
        let stored = Pictures::get(txn, user).map_err(|e| RowError::from(e).about(&subject))?;
        // In the order of formats.md §3.10: with `overwrite` off, any picture there stays.
        if let Some(stored) = &stored {
            if !self.overwrite {
                return Ok(Outcome::skipped(subject).note("has a picture; overwrite is off"));
            }
            if stored.sha256 == sha256 {
                return Ok(Outcome::unchanged(subject).note("same picture (SHA-256)"));
            }
        }
        let picture = match rendered {
            Some(picture) => picture,
            None => {
                let content = row.bytes("content").unwrap_or_default();
                self.render(user, &content, sha256)
                    .map_err(|reason| RowError::new(reason).about(&subject))?
            }
        };
        let described = format!("{} {}×{}", picture.format, picture.width, picture.height);
        Ok(
            match Pictures::set(txn, picture, self.now)
                .map_err(|e| RowError::from(e).about(&subject))?
            {
                Set::Created => Outcome::created(subject).note(described),
                Set::Updated => Outcome::updated(subject).note(described),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use toolsync_plugin_api::model::check::check_store;
    use toolsync_plugin_api::model::{User, Users};
    use toolsync_plugin_api::schema::encode_bytes;
    use toolsync_plugin_api::testing::{MemoryStore, Report, Runner};
    use toolsync_plugin_api::OutcomeKind::*;

    #[test]
    fn the_account_is_the_file_name_without_its_last_extension() {
        assert_eq!(account_key("j.doe.jpg"), "j.doe");
        assert_eq!(account_key("photos/2024/ann.PNG"), "ann");
        assert_eq!(account_key("photos\\bob.gif"), "bob");
        assert_eq!(account_key("carol"), "carol");
        assert_eq!(account_key("dir/.hidden"), ".hidden");
    }

    /// Accounts ann, bob, and dee (soft-deleted).
    fn store() -> MemoryStore {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        for name in ["ann", "bob", "dee"] {
            let mut user = Users::create(&mut txn, User::new(name, name, "T", 1)).unwrap();
            if name == "dee" {
                Users::soft_delete(&mut txn, &mut user, 1).unwrap();
            }
        }
        drop(txn);
        store
    }

    fn run(store: &mut MemoryStore, runner: Runner, entries: &[(&str, Vec<u8>)]) -> Report {
        let lines: Vec<String> = entries
            .iter()
            .map(|(path, bytes)| format!("{path};{}", encode_bytes(bytes)))
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let report = runner
            .started_at(100)
            .run_lines(store, "path;content", &lines, ';')
            .expect("not refused");
        assert!(check_store(&*store).unwrap().is_clean());
        report
    }

    fn said(report: &Report) -> Vec<String> {
        report
            .rows
            .iter()
            .map(|r| format!("{:?} {}: {}", r.kind, r.subject, r.message))
            .collect()
    }

    #[test]
    fn each_outcome_in_archive_order() {
        let mut store = store();
        let (a, b) = (fixtures::png(60, 40), fixtures::jpeg(90, 120, 80));
        let report = run(
            &mut store,
            Runner::new(PicturesProcessor),
            &[
                ("ann.png", a.clone()),
                ("x/bob.jpeg", b.clone()),
                ("again/ann.png", a.clone()),
                ("zed.png", a.clone()),
                ("dee.png", a.clone()),
                ("bob.png", b"not an image".to_vec()),
            ],
        );
        assert_eq!(
            said(&report),
            [
                "Created ann: png 60×40",
                "Created bob: jpeg 90×120",
                "Unchanged ann: same picture (SHA-256)",
                "Failed zed: no user with username = zed",
                "Failed dee: account deleted (dee)",
                "Failed bob: not a PNG, JPEG or GIF image",
            ]
        );
        let ann = Users::by_username(&store.txn(), "ann").unwrap().unwrap();
        let picture = Pictures::get(&store.txn(), ann.id).unwrap().unwrap();
        assert_eq!(picture.sha256, sha256_hex(&a));
        assert_eq!(picture.timecreated, 100);
        let sizes: Vec<(u32, u32, u32)> = picture
            .renditions
            .iter()
            .map(|r| (r.size, r.width, r.height))
            .collect();
        assert_eq!(sizes, [(512, 60, 40), (100, 100, 100), (35, 35, 35)]);

        // Another picture: updated; with overwrite off: skipped; the same again: unchanged.
        let c = fixtures::gif(30, 30);
        let report = run(
            &mut store,
            Runner::new(PicturesProcessor),
            &[("ann.gif", c.clone())],
        );
        assert_eq!(report.kinds(), [Updated]);
        let report = run(
            &mut store,
            Runner::new(PicturesProcessor).option("overwrite", "false"),
            &[("ann.png", a), ("ann.gif", c)],
        );
        assert_eq!(
            said(&report),
            [
                "Skipped ann: has a picture; overwrite is off",
                "Skipped ann: has a picture; overwrite is off"
            ]
        );
    }

    /// Two entries for one account in one chunk: `prepare` saw no picture for either, so the
    /// second is rendered against the first in `apply`, in order; without `prepare` (one
    /// core), `apply` does all the work and the outcomes are the same.
    #[test]
    fn prepare_and_apply_agree_whatever_ran_first() {
        for (runner, expected) in [
            (Runner::new(PicturesProcessor), [Created, Updated, Updated]),
            (
                Runner::new(PicturesProcessor).without_prepare(),
                [Created, Updated, Updated],
            ),
            (
                Runner::new(PicturesProcessor).option("overwrite", "false"),
                [Created, Skipped, Skipped],
            ),
        ] {
            let mut store = store();
            let report = run(
                &mut store,
                runner,
                &[
                    ("ann.png", fixtures::png(20, 20)),
                    ("dup/ann.png", fixtures::png(30, 30)),
                    // The first entry's bytes again, after the second replaced them.
                    ("dup/ann.jpg", fixtures::png(20, 20)),
                ],
            );
            assert_eq!(report.kinds(), expected, "{:?}", said(&report));
        }
    }

    #[test]
    fn limits_and_keys_are_options() {
        let mut store = store();
        let report = run(
            &mut store,
            Runner::new(PicturesProcessor)
                .option("max_image_width", "50")
                .option("user_key", "id"),
            &[
                ("1.png", fixtures::png(51, 10)),
                ("2.png", fixtures::png(50, 10)),
            ],
        );
        assert_eq!(
            said(&report),
            [
                "Failed 1: 51×10 pixels, over the limit of 50×4096 (max_image_width, max_image_height)",
                "Created 2: png 50×10",
            ]
        );
    }
}
