//! The data directory and what lives in it (design.md §6): the store, the file area (inputs,
//! `archives/`, `reports/`), `plugins/`, `runs/` (work files of runs in progress) and
//! `toolsync.toml`.
//!
//! Two rules an operator relies on:
//! - **Only `run` creates.** A read command (`show`, `export`, `check`, `journal`, `backup`) on
//!   a data dir with no store says so (exit 5) instead of creating an empty store and printing
//!   `[]`: a mistyped `--data-dir` must not look like an empty platform.
//! - **Owner-only.** The store holds every account (password hashes included), the reports
//!   name accounts, the archives and spools keep what the files carried: toolsync creates them
//!   readable by their owner only (0700 folders, 0600 files), and tightens the store and
//!   `runs/` folders when it finds them wider (a data dir made by hand with `mkdir`).

use std::path::{Path, PathBuf};

use crate::error::{ConfigError, StoreError};
use crate::store::{EngineKind, PgTarget, Store};

/// The store the daemon holds ([`DataDir::hold_store`]).
static HELD: std::sync::Mutex<Option<Store>> = std::sync::Mutex::new(None);

/// The environment variable naming the data dir when `--data-dir` is not given.
pub const ENV: &str = "TOOLSYNC_DATA";
const DEFAULT: &str = "toolsync-data";
/// Written into a restored store once it is whole, removed once it is in place.
pub const RESTORED_MARKER: &str = "RESTORED";

/// The data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    pub root: PathBuf,
}

impl DataDir {
    /// `--data-dir`, else `$TOOLSYNC_DATA` (an empty value counts as unset), else
    /// `./toolsync-data`. Refused when it names something that is not a folder.
    pub fn resolve(flag: Option<&Path>) -> Result<DataDir, ConfigError> {
        let root = match flag {
            Some(flag) if flag.as_os_str().is_empty() => {
                return Err(ConfigError::DataDir {
                    path: PathBuf::from("\"\""),
                    why: "is empty: name a folder".into(),
                })
            }
            Some(flag) => flag.to_path_buf(),
            None => std::env::var_os(ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT)),
        };
        match std::fs::metadata(&root) {
            Ok(meta) if !meta.is_dir() => Err(ConfigError::DataDir {
                path: root,
                why: "is not a folder (--data-dir or $TOOLSYNC_DATA names the folder that holds the store)".into(),
            }),
            _ => Ok(DataDir { root }),
        }
    }

    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    /// The content-addressed files of the store's records (pictures' PNGs), beside the store
    /// and part of it: `toolsync check` compares them, `backup` copies them.
    pub fn stored_files(&self) -> PathBuf {
        self.root.join("pictures")
    }

    /// Keeps `store` open for the rest of the process: every command this process runs on
    /// this data dir uses it (the daemon, which serves the other commands while sled allows
    /// one process per store).
    pub fn hold_store(&self, store: Store) {
        *HELD.lock().unwrap_or_else(|p| p.into_inner()) = Some(store);
    }

    /// The store this process holds for this data dir, if any.
    fn held_store(&self) -> Option<Store> {
        let held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        held.as_ref()
            .filter(|store| {
                store.path() == self.store()
                    || self
                        .configured_server()
                        .ok()
                        .flatten()
                        .is_some_and(|server| store.path() == Path::new(server.shown()))
            })
            .cloned()
    }

    /// The PostgreSQL store `store = "postgres://..."` in `toolsync.toml` names, if it names
    /// one.
    pub fn configured_server(&self) -> Result<Option<PgTarget>, ConfigError> {
        Ok(crate::config::HostSettings::read(self)?.store_server)
    }

    /// Whether this data dir has a store: its folder's, or the server's it names.
    pub fn has_store(&self) -> bool {
        match self.configured_server() {
            Ok(Some(server)) => self.open_server(&server, false).is_ok(),
            _ => Store::exists(&self.store()),
        }
    }

    /// The store on the server `server`; an embedded store left in the data dir is refused
    /// (its data would not be the one the configuration names).
    fn open_server(&self, server: &PgTarget, writer: bool) -> Result<Store, StoreError> {
        if let Some(kind) = EngineKind::of(&self.store()) {
            return Err(StoreError::Open {
                path: server.shown().into(),
                message: format!(
                    "toolsync.toml names this PostgreSQL store, and the data dir still holds a \
                     {} store at {}: copy it there first (`toolsync store copy --to {}`) and \
                     move the folder away, or remove the setting",
                    kind.name(),
                    self.store().display(),
                    server.shown()
                ),
            });
        }
        Store::connect(server, writer)
    }

    /// Opens the store that is already there; a missing one is an error, never created.
    /// `toolsync.toml` is read first (it may name a store on a server): a file it refuses is
    /// the error.
    pub fn open_store(&self) -> Result<Store, crate::error::Error> {
        if let Some(store) = self.held_store() {
            return Ok(store);
        }
        let settings = crate::config::HostSettings::read(self)?;
        if let Some(server) = &settings.store_server {
            return Ok(self.open_server(server, false)?);
        }
        self.complete_restore()?;
        let store = Store::open_existing(&self.store())?.keeping_free(settings.store_reserve);
        // Reads go on with the store's own engine; a run would be refused: say it now.
        if let Some(configured) = settings.store_engine {
            if configured != store.engine() {
                tracing::warn!(
                    "the store is a {} store, and toolsync.toml says `store = \"{}\"`: runs \
                     will be refused until the setting is removed or the store is moved \
                     (`toolsync store copy`)",
                    store.engine().name(),
                    configured.name()
                );
            }
        }
        Ok(store)
    }

    /// Where `toolsync restore` builds the restored store before putting it in place.
    pub fn restoring(&self) -> PathBuf {
        self.root.join("store.restoring")
    }

    /// A restore killed between building the new store and putting it in place: its store is
    /// whole (the marker is written after its last flush), so the swap it was making is made
    /// now. The store it replaces is kept beside it, as the restore would have.
    /// Returns where the replaced store is kept, if there was one.
    pub fn complete_restore(&self) -> Result<Option<PathBuf>, StoreError> {
        let restoring = self.restoring();
        if !restoring.join(RESTORED_MARKER).is_file() {
            return Ok(None);
        }
        let store = self.store();
        let failed = |e: std::io::Error| StoreError::Open {
            path: restoring.clone(),
            message: format!("cannot complete the interrupted restore: {e}"),
        };
        let kept = store.exists().then(|| self.replaced_store());
        if let Some(kept) = &kept {
            std::fs::rename(&store, kept).map_err(failed)?;
            tracing::info!(kept = %kept.display(), "restore: the store it replaces is kept");
        }
        std::fs::rename(&restoring, &store).map_err(failed)?;
        std::fs::remove_file(store.join(RESTORED_MARKER)).map_err(failed)?;
        Ok(kept)
    }

    /// A free name beside the store for the one a restore replaces.
    pub fn replaced_store(&self) -> PathBuf {
        let stamp = crate::clock::Zone::default().stamp(crate::clock::now());
        let mut candidate = self.root.join(format!("store.replaced-{stamp}"));
        let mut n = 1;
        while candidate.exists() {
            n += 1;
            candidate = self.root.join(format!("store.replaced-{stamp}-{n}"));
        }
        candidate
    }

    /// Opens the store, creating the data dir (owner-only) and a new store on first use: only
    /// `run` does this. A new store is announced on stderr, so that a mistyped `--data-dir`
    /// shows at once.
    pub fn open_or_create_store(&self) -> Result<Store, crate::error::Error> {
        self.open_or_create_store_with_cache(crate::store::CACHE_BYTES)
    }

    /// [`DataDir::open_or_create_store`] with a page cache of `cache_bytes`.
    pub fn open_or_create_store_with_cache(
        &self,
        cache_bytes: u64,
    ) -> Result<Store, crate::error::Error> {
        if let Some(store) = self.held_store() {
            return Ok(store);
        }
        let settings = crate::config::HostSettings::read(self)?;
        if let Some(server) = &settings.store_server {
            create_private_dir(&self.root).map_err(|e| StoreError::Open {
                path: self.root.clone(),
                message: format!("cannot create the data dir: {e}"),
            })?;
            return Ok(self.open_server(server, true)?);
        }
        self.complete_restore()?;
        let store = self.store();
        // Set, the configured engine must be the existing store's (`create` refuses another);
        // unset, an existing store keeps its own and a new one is sled.
        let engine = match settings.store_engine {
            Some(engine) => engine,
            None => EngineKind::of(&store).unwrap_or_default(),
        };
        if Store::exists(&store) {
            // `create`, not `open_existing`: a store whose first run was killed before its
            // first commit holds nothing, and is seeded now.
            return Ok(
                Store::create(&store, engine, cache_bytes)?.keeping_free(settings.store_reserve)
            );
        }
        let new_root = !self.root.exists();
        create_private_dir(&self.root).map_err(|e| StoreError::Open {
            path: self.root.clone(),
            message: format!("cannot create the data dir: {e}"),
        })?;
        let opened =
            Store::create(&store, engine, cache_bytes)?.keeping_free(settings.store_reserve);
        let ran_before = std::fs::read_dir(self.reports()).is_ok_and(|mut d| d.next().is_some());
        if new_root {
            tracing::warn!(data_dir = %self.root.display(), "created a new data dir and an empty store");
        } else if ran_before {
            tracing::warn!(
                store = %store.display(),
                "the store was missing though runs are reported in this data dir: a new, empty \
                 store was created (restore a backup if the old one was lost)"
            );
        } else {
            tracing::info!(store = %store.display(), "created an empty store");
        }
        Ok(opened)
    }

    /// The engine `store` in `toolsync.toml` names, if it names one.
    pub fn configured_engine(&self) -> Result<Option<EngineKind>, ConfigError> {
        Ok(crate::config::HostSettings::read(self)?.store_engine)
    }

    /// The engine of the store: the one its files say, else the configured one, else sled.
    pub fn store_engine(&self) -> Result<EngineKind, ConfigError> {
        match EngineKind::of(&self.store()) {
            Some(kind) => Ok(kind),
            None => Ok(self.configured_engine()?.unwrap_or_default()),
        }
    }

    /// The file area: inputs, `archives/`, `reports/`.
    pub fn files(&self) -> PathBuf {
        self.root.join("files")
    }
    pub fn archives(&self) -> PathBuf {
        self.files().join("archives")
    }
    pub fn reports(&self) -> PathBuf {
        self.files().join("reports")
    }
    pub fn plugins(&self) -> PathBuf {
        self.root.join("plugins")
    }
    /// Work files of runs in progress (report spools), kept across a kill for the resume.
    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }
    pub fn config_file(&self) -> PathBuf {
        self.root.join("toolsync.toml")
    }
}

/// Creates `dir` (and its missing parents) readable by its owner only, or tightens an existing
/// one to that. Tightening is best effort: a folder owned by someone else keeps its mode (the
/// operator chose it), with a warning.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            let tightened = std::fs::Permissions::from_mode(mode & 0o700);
            if let Err(e) = std::fs::set_permissions(dir, tightened) {
                tracing::warn!(
                    dir = %dir.display(),
                    "cannot make the folder owner-only ({e}); others may read it"
                );
            }
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_dirs_are_created_owner_only_and_tightened_when_wider() {
        let root = std::env::temp_dir().join(format!("toolsync-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let fresh = root.join("a/b");
        create_private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(mode(&root.join("a")), 0o700);

        let wide = root.join("wide");
        std::fs::create_dir(&wide).unwrap();
        std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&wide).unwrap();
        assert_eq!(mode(&wide), 0o700);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_data_dir_that_is_a_file_is_refused() {
        let file = std::env::temp_dir().join(format!("toolsync-file-{}", std::process::id()));
        std::fs::write(&file, "hi").unwrap();
        let refused = DataDir::resolve(Some(&file)).unwrap_err();
        assert!(refused.to_string().contains("is not a folder"), "{refused}");
        std::fs::remove_file(&file).unwrap();
        assert!(DataDir::resolve(Some(Path::new(""))).is_err());
    }
}
