//! The undo log: every committing run records, in the very batch that changes them, the value
//! each key held before that batch (or that it was absent). The log lives in the store, so it
//! is as durable as the rows and covered by the same journal; `toolsync revert` ([`revert`])
//! puts those values back, and an `--atomic` run that fails rolls itself back with it instead
//! of holding the whole file's writes in one batch.
//!
//! Layout, in the host's reserved keyspaces:
//!
//! - `_undo_log NUL <run: u64 BE> <batch: u32 BE> <chunk: u32 BE>` → a chunk of the batch's
//!   changes ([`chunk`]): each changed key with its prior value. One record per ~32 KiB of
//!   changes rather than one entry per key: a per-key entry made every run write each key twice
//!   (measured: 1.8 × the time of a run without a log). A key a run changed in several batches
//!   is in each of their records; a revert applies the records from the last batch to the
//!   first, so the value each key had before the run is the one left.
//! - `_undo_held NUL <run> <full key>` → empty: a key of the stored-file index
//!   (`picture.file`) that held a value before the run changed it. The file it names stays on
//!   disk while the log does, for a revert to name it again ([`held_before`]).
//! - `_undo_runs NUL <run>` → [`RunRecord`]: the run's report id, processor, input and state.
//! - `_meta NUL last_undo_run` → the last run number given.
//!
//! Not recorded: the host's own keyspaces (`_journal`, `_meta`, id sequences...). Ids given by
//! a reverted run are not given again.

pub mod chunk;
pub mod revert;

use serde::{Deserialize, Serialize};
use toolsync_plugin_api::engine::{
    full_key, split_key, Backend, BackendError, Staging, Writes, RESERVED_PREFIX,
};

use crate::error::StoreError;

/// The change records: `_undo_log NUL <run> <batch> <chunk>`.
pub const LOG: &str = "_undo_log";
/// The stored-file index keys that held a value: `_undo_held NUL <run> <full key>`.
pub const HELD: &str = "_undo_held";
/// The run records: `_undo_runs NUL <run>`.
pub const RUNS: &str = "_undo_runs";
/// In `_meta`: the last run number given.
const LAST_RUN: &[u8] = b"last_undo_run";
/// Runs whose log is kept when `[undo] keep_runs` is not set.
pub const DEFAULT_KEEP_RUNS: usize = 20;

/// Where a logged run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Its batches are committing (or it was killed and not resumed yet).
    Recording,
    /// Its last batch committed: it can be reverted.
    Complete,
    /// `toolsync revert` put its keys back; its log is gone.
    Reverted,
    /// An `--atomic` run that failed and put its keys back; its log is gone.
    RolledBack,
    /// Its log is being removed (a prune killed midway leaves this; the next prune ends it):
    /// never reverted from what is left of it.
    Pruning,
}

/// What the log knows of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub number: u64,
    /// Its report id (`toolsync reports`), given when its last batch commits.
    pub id: Option<String>,
    pub processor: String,
    pub input: String,
    pub started_at: i64,
    pub state: RunState,
    /// Changes in its log (a key changed by several of its batches counts once per batch).
    pub keys: u64,
    /// Batches it committed: its records are numbered 1 to `batches`.
    #[serde(default)]
    pub batches: u32,
    #[serde(default)]
    pub atomic: bool,
    /// When it was reverted or rolled back.
    #[serde(default)]
    pub undone_at: Option<i64>,
}

impl RunRecord {
    /// How the run is named to an operator: its report id, or its processor and input.
    pub fn name(&self) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => format!("the {} run on {}", self.processor, self.input),
        }
    }

    fn stage(&self, staging: &mut Staging) {
        let bytes = serde_json::to_vec(self).expect("a record always serialises");
        staging.put_raw(RUNS, &self.number.to_be_bytes(), Some(&bytes));
    }
}

/// The suffix (after `_undo_log NUL`) of every record of `run`, or of its `batch`.
pub fn log_prefix(run: u64, batch: Option<u32>) -> Vec<u8> {
    let mut suffix = run.to_be_bytes().to_vec();
    if let Some(batch) = batch {
        suffix.extend_from_slice(&batch.to_be_bytes());
    }
    full_key(LOG, &suffix)
}

/// The full key of the marker saying `key` held a value before `run` changed it.
fn held_key(run: u64, key: &[u8]) -> Vec<u8> {
    let mut suffix = Vec::with_capacity(8 + key.len());
    suffix.extend_from_slice(&run.to_be_bytes());
    suffix.extend_from_slice(key);
    full_key(HELD, &suffix)
}

/// Whether the log records writes to `key`: every keyspace but the host's own.
pub fn is_recorded(key: &[u8]) -> bool {
    split_key(key).is_some_and(|(space, _)| !space.starts_with(RESERVED_PREFIX))
}

/// Records a run's log as its batches commit.
#[derive(Debug)]
pub struct Recorder {
    record: RunRecord,
    /// The record and the run counter are in the store (after the first commit).
    begun: bool,
}

impl Recorder {
    /// A new run's log; its number is taken with its first batch.
    pub fn begin(
        store: &dyn Backend,
        processor: &str,
        input: &str,
        started_at: i64,
        atomic: bool,
    ) -> Result<Recorder, StoreError> {
        let last = store
            .get(&full_key(crate::store::META, LAST_RUN))
            .map_err(failure)?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(0, u64::from_be_bytes);
        Ok(Recorder {
            record: RunRecord {
                number: last + 1,
                id: None,
                processor: processor.to_string(),
                input: input.to_string(),
                started_at,
                state: RunState::Recording,
                keys: 0,
                batches: 0,
                atomic,
                undone_at: None,
            },
            begun: false,
        })
    }

    /// The log of the run `journal` stands for: the one it names (a resumed run), else a new
    /// one, whose number the journal then names.
    pub fn for_run(
        store: &dyn Backend,
        journal: &mut crate::run::Journal,
        processor: &str,
        atomic: bool,
    ) -> Result<Recorder, StoreError> {
        let resumed = match journal.undo_run {
            Some(run) => load(store, run)?,
            None => None,
        };
        let recorder = match resumed {
            Some(record) => Recorder {
                record,
                begun: true,
            },
            None => Recorder::begin(store, processor, &journal.input, journal.started_at, atomic)?,
        };
        journal.undo_run = Some(recorder.run());
        Ok(recorder)
    }

    pub fn run(&self) -> u64 {
        self.record.number
    }

    /// Adds to the batch about to commit the record of every key it changes, with the value
    /// the store holds for it now; with `id`, the batch is the run's last and the record
    /// becomes revertible under that id.
    pub fn stage(
        &mut self,
        staging: &mut Staging,
        store: &dyn Backend,
        id: Option<&str>,
    ) -> Result<(), StoreError> {
        let file_index = toolsync_plugin_api::model::Pictures::file_index_prefix("");
        let mut chunks = chunk::Writer::default();
        let mut held = Vec::new();
        // The prior values read many at a time: on a server, one round trip per key would
        // cost more than the batch's rows.
        let keys: Vec<Vec<u8>> = staging
            .batch()
            .keys()
            .filter(|k| is_recorded(k))
            .cloned()
            .collect();
        for keys in keys.chunks(PRIOR_READS) {
            let priors = store.get_many(keys).map_err(failure)?;
            for (key, prior) in keys.iter().zip(priors) {
                if prior.is_some() && key.starts_with(&file_index) {
                    held.push(held_key(self.record.number, key));
                }
                chunks.push(key, prior.as_deref());
            }
        }
        // A batch that changed nothing (the last one, often: the journal's) has no number.
        self.record.keys += chunks.changes();
        let chunks = chunks.finish();
        if !chunks.is_empty() {
            self.record.batches += 1;
        }
        let prefix = log_prefix(self.record.number, Some(self.record.batches));
        for (at, bytes) in chunks.into_iter().enumerate() {
            let mut key = prefix.clone();
            key.extend_from_slice(&(at as u32).to_be_bytes());
            let (space, key) = split_key(&key).expect("a record key has its space");
            staging.put_raw(space, key, Some(&bytes));
        }
        for key in held {
            let (space, key) = split_key(&key).expect("a marker key has its space");
            staging.put_raw(space, key, Some(&[]));
        }
        if !self.begun {
            staging.put_raw(
                crate::store::META,
                LAST_RUN,
                Some(&self.record.number.to_be_bytes()),
            );
            self.begun = true;
        }
        if let Some(id) = id {
            self.record.id = Some(id.to_string());
            self.record.state = RunState::Complete;
        }
        self.record.stage(staging);
        Ok(())
    }
}

/// Keys whose prior values are read at once.
const PRIOR_READS: usize = 4_096;

fn failure(e: BackendError) -> StoreError {
    StoreError::Failure(e.0)
}

/// The record of run `number`.
pub fn load(store: &dyn Backend, number: u64) -> Result<Option<RunRecord>, StoreError> {
    store
        .get(&full_key(RUNS, &number.to_be_bytes()))
        .map_err(failure)?
        .map(|bytes| parse_record(&bytes))
        .transpose()
}

fn parse_record(bytes: &[u8]) -> Result<RunRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| {
        StoreError::Failure(format!(
            "an undo log's run record is unreadable ({e}): check the store with `toolsync check`"
        ))
    })
}

/// Every run record, oldest first.
pub fn runs(store: &dyn Backend) -> Result<Vec<RunRecord>, StoreError> {
    store
        .scan(&full_key(RUNS, b""))
        .map(|item| parse_record(&item.map_err(failure)?.1))
        .collect()
}

/// The runs after `run` whose log is still there: those that may have changed its keys since.
pub fn later_logged(store: &dyn Backend, run: u64) -> Result<Vec<RunRecord>, StoreError> {
    Ok(runs(store)?
        .into_iter()
        .filter(|r| r.number > run && has_log(r.state))
        .collect())
}

fn has_log(state: RunState) -> bool {
    matches!(state, RunState::Recording | RunState::Complete)
}

/// The runs whose log is there, by number.
pub fn logged(store: &dyn Backend) -> Result<Vec<u64>, StoreError> {
    Ok(runs(store)?
        .iter()
        .filter(|r| has_log(r.state))
        .map(|r| r.number)
        .collect())
}

/// Whether one of the `logged` runs changed a key under `key` (a stored-file index prefix)
/// that held a value before: the stored files a picture record named before a run replaced it
/// stay for a revert.
pub fn held_before(store: &dyn Backend, logged: &[u64], key: &[u8]) -> Result<bool, StoreError> {
    for run in logged {
        if let Some(item) = store.scan(&held_key(*run, key)).next() {
            item.map_err(failure)?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// [`prune`] to the last `[undo] keep_runs` complete runs (and the runs `also` names), sparing
/// the runs interrupted journals name.
pub fn prune_kept(
    data: &crate::data_dir::DataDir,
    store: &dyn Backend,
    also: &dyn Fn(&RunRecord) -> bool,
) -> Result<Vec<String>, crate::error::Error> {
    let keep = crate::config::HostSettings::read(data)?.undo_keep_runs;
    let mut pending: Vec<u64> = crate::run::Journal::all(store)
        .into_iter()
        .filter_map(|(_, journal)| journal.undo_run)
        .collect();
    // A revert or a rollback a kill interrupted (its run's journal may be gone already) reads
    // the rest of the log when it is completed.
    pending.extend(revert::pending(store)?.map(|r| r.run.number));
    Ok(prune(store, keep, also, &pending)?)
}

/// Entries a prune removes per commit.
const PRUNE_BATCH: usize = 20_000;

/// Removes the logs of every run but the `keep` most recent complete ones (and of the runs
/// `also` names by id), with the records of runs already reverted or rolled back that are
/// older than the oldest kept. Never the log of a run an interrupted journal names
/// (`pending`): it may resume, or roll back. Returns the ids of the logs removed.
pub fn prune(
    store: &dyn Backend,
    keep: usize,
    also: &dyn Fn(&RunRecord) -> bool,
    pending: &[u64],
) -> Result<Vec<String>, StoreError> {
    let records = runs(store)?;
    let complete: Vec<u64> = records
        .iter()
        .filter(|r| r.state == RunState::Complete)
        .map(|r| r.number)
        .collect();
    // Fewer complete runs than `keep`: every log stays; `keep` 0: none does.
    let oldest_kept = match complete.len().checked_sub(keep) {
        None => 0,
        Some(at) => complete.get(at).copied().unwrap_or(u64::MAX),
    };
    let mut removed = Vec::new();
    for record in &records {
        let kept = record.number >= oldest_kept && !also(record);
        if pending.contains(&record.number) || (kept && record.state != RunState::Pruning) {
            continue;
        }
        // Marked first: a kill while the log goes leaves a run no revert reads half of.
        let key = full_key(RUNS, &record.number.to_be_bytes());
        let mut pruning = record.clone();
        pruning.state = RunState::Pruning;
        let mut writes = Writes::new();
        writes.insert(
            key.clone(),
            Some(serde_json::to_vec(&pruning).expect("serialises")),
        );
        store.apply(writes).map_err(failure)?;
        remove_log(store, record.number)?;
        let mut writes = Writes::new();
        writes.insert(key, None);
        store.apply(writes).map_err(failure)?;
        if has_log(record.state) {
            removed.push(record.name());
        }
    }
    if !removed.is_empty() {
        tracing::info!(runs = removed.len(), "undo logs pruned");
    }
    Ok(removed)
}

/// Removes every record and marker of `run`, in batches (a kill in between leaves fewer
/// records of a log being pruned anyway).
fn remove_log(store: &dyn Backend, run: u64) -> Result<(), StoreError> {
    // `_undo`: the per-key entries of development builds before the per-batch records.
    let old_entries = full_key("_undo", &run.to_be_bytes());
    for prefix in [
        log_prefix(run, None),
        full_key(HELD, &run.to_be_bytes()),
        old_entries,
    ] {
        remove_prefix(store, &prefix, PRUNE_BATCH)?;
    }
    Ok(())
}

/// Removes every key under `prefix`, `per_batch` keys per committed batch.
pub(crate) fn remove_prefix(
    store: &dyn Backend,
    prefix: &[u8],
    per_batch: usize,
) -> Result<(), StoreError> {
    loop {
        let keys: Vec<Vec<u8>> = store
            .scan(prefix)
            .take(per_batch)
            .map(|item| item.map(|(k, _)| k))
            .collect::<Result<_, _>>()
            .map_err(failure)?;
        if keys.is_empty() {
            return Ok(());
        }
        let writes: Writes = keys.into_iter().map(|k| (k, None)).collect();
        store.apply(writes).map_err(failure)?;
    }
}

/// A key as an operator reads it: `space/key`, printable bytes as they are, an 8-byte id as
/// `#n`, other bytes as `\xNN`.
pub fn describe_key(key: &[u8]) -> String {
    let (space, rest) = split_key(key).unwrap_or(("?", key));
    let mut out = format!("{space}/");
    let mut at = 0;
    while at < rest.len() {
        // Ids are stored as 8 big-endian bytes, far below 2^56.
        if rest.len() - at >= 8 && rest[at] == 0 {
            let id = u64::from_be_bytes(rest[at..at + 8].try_into().expect("8 bytes"));
            out.push_str(&format!("#{id}"));
            at += 8;
            continue;
        }
        let b = rest[at];
        if b.is_ascii_graphic() || b == b' ' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
        at += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolsync_plugin_api::engine::MemoryBackend;

    type Write<'a> = (&'a str, &'a [u8], Option<&'a [u8]>);

    fn commit(
        store: &MemoryBackend,
        recorder: &mut Recorder,
        writes: &[Write<'_>],
        id: Option<&str>,
    ) {
        let mut staging = Staging::default();
        for (space, key, value) in writes {
            staging.put_raw(space, key, *value);
        }
        recorder.stage(&mut staging, store, id).unwrap();
        store.apply(staging.take_batch()).unwrap();
    }

    /// The changes `run` recorded for `batch`.
    fn changes(store: &MemoryBackend, run: u64, batch: u32) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        store
            .scan(&log_prefix(run, Some(batch)))
            .flat_map(|item| {
                let bytes = item.unwrap().1;
                chunk::read(&bytes)
                    .map(|c| {
                        let (key, prior) = c.unwrap();
                        (key.to_vec(), prior.map(<[u8]>::to_vec))
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn each_batch_records_the_priors_of_its_keys() {
        let store = MemoryBackend::new();
        let mut seed = Staging::default();
        seed.put_raw("user", b"a", Some(b"old"));
        seed.put_raw("picture.file", b"f1", Some(b""));
        store.apply(seed.take_batch()).unwrap();
        let mut run = Recorder::begin(&store, "users", "in.csv", 0, false).unwrap();
        commit(
            &store,
            &mut run,
            &[("user", b"a", Some(b"new")), ("user", b"b", Some(b"x"))],
            None,
        );
        commit(
            &store,
            &mut run,
            &[
                ("user", b"a", Some(b"newer")),
                ("_journal", b"users", Some(b"j")),
                ("picture.file", b"f1", None),
                ("picture.file", b"f2", Some(b"")),
            ],
            Some("id-1"),
        );
        let user = |k: &[u8]| full_key("user", k);
        assert_eq!(
            changes(&store, 1, 1),
            vec![(user(b"a"), Some(b"old".to_vec())), (user(b"b"), None)]
        );
        assert_eq!(
            changes(&store, 1, 2),
            vec![
                (full_key("picture.file", b"f1"), Some(Vec::new())),
                (full_key("picture.file", b"f2"), None),
                (user(b"a"), Some(b"new".to_vec())),
            ],
            "the value before this batch; the host's keyspaces are not recorded"
        );
        let record = load(&store, 1).unwrap().unwrap();
        assert_eq!(
            (
                record.keys,
                record.batches,
                record.state,
                record.id.as_deref()
            ),
            (5, 2, RunState::Complete, Some("id-1"))
        );
        // The stored file f1's index entry held a value before the run; f2's did not.
        let logged = logged(&store).unwrap();
        let file = toolsync_plugin_api::model::Pictures::file_index_prefix;
        assert!(held_before(&store, &logged, &file("f1")).unwrap());
        assert!(!held_before(&store, &logged, &file("f2")).unwrap());
        let next = Recorder::begin(&store, "users", "in.csv", 0, false).unwrap();
        assert_eq!(next.run(), 2);
        prune(&store, 0, &|_| false, &[]).unwrap();
        assert!(store.scan(&full_key(LOG, b"")).next().is_none());
        assert!(store.scan(&full_key(HELD, b"")).next().is_none());
    }

    /// A prune killed while it removed a log leaves its record `Pruning`: the next prune ends
    /// it whatever `keep`, and no revert reads what is left.
    #[test]
    fn a_run_left_pruning_is_pruned_by_the_next_prune() {
        let store = MemoryBackend::new();
        let mut run = Recorder::begin(&store, "users", "in.csv", 0, false).unwrap();
        commit(&store, &mut run, &[("user", b"a", Some(b"1"))], None);
        commit(
            &store,
            &mut run,
            &[("user", b"b", Some(b"2"))],
            Some("id-1"),
        );
        let mut record = load(&store, 1).unwrap().unwrap();
        record.state = RunState::Pruning;
        let mut staging = Staging::default();
        record.stage(&mut staging);
        store.apply(staging.take_batch()).unwrap();
        // Killed midway: the second batch's record is gone, the first's is left.
        let mut chunk = log_prefix(1, Some(2));
        chunk.extend_from_slice(&0u32.to_be_bytes());
        assert!(store.get(&chunk).unwrap().is_some());
        store.apply([(chunk, None)].into_iter().collect()).unwrap();
        assert!(
            logged(&store).unwrap().is_empty(),
            "a pruning log is no log"
        );
        prune(&store, 20, &|_| false, &[]).unwrap();
        assert!(load(&store, 1).unwrap().is_none());
        assert!(store.scan(&full_key(LOG, b"")).next().is_none());
    }

    #[test]
    fn keys_read_as_spaces_text_and_ids() {
        let mut key = full_key("picture.file", b"ab12");
        key.extend_from_slice(&5u64.to_be_bytes());
        assert_eq!(describe_key(&key), "picture.file/ab12#5");
        assert_eq!(
            describe_key(&full_key("user.username", b"j\x01")),
            "user.username/j\\x01"
        );
    }
}
