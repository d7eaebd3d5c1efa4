//! The run journal: where a run stands, committed in the same atomic batch as the rows it
//! covers. A run killed at any instant leaves the journal of its last commit; re-running the
//! same file (same fingerprint and size) resumes after the rows that commit covered, so every
//! row is applied exactly once.
//!
//! A journal that cannot be read is never ignored: taking it for "no journal" would re-apply
//! the rows it says were committed. The run is refused (exit 5) with how to recover instead.

use serde::{Deserialize, Serialize};
use toolsync_plugin_api::engine::{full_key, Backend, Staging, Writes};

use super::finish::FinishPlan;
use super::spool::SpoolLengths;
use super::tally::Tally;
use crate::error::StoreError;

pub const SPACE: &str = "_journal";
/// What the last completed run of each processor on each input path applied (fingerprint,
/// size): the daemon does not run a default file again when it holds the same content. Keyed
/// by processor and path: another file run meanwhile (a manual run) does not make the default
/// file run again, and a content applied long ago then replaced is run again if it comes back.
pub const APPLIED_SPACE: &str = "_applied";

/// The record of [`APPLIED_SPACE`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    pub input: String,
    pub fingerprint: u64,
    pub size: u64,
    pub finished_at: i64,
}

fn applied_key(processor: &str, input: &str) -> Vec<u8> {
    [processor.as_bytes(), b"\0", input.as_bytes()].concat()
}

/// What the last completed run of `processor` on `input` applied, if any (an unreadable record counts as
/// none: at worst the file runs again, its rows `unchanged`).
pub fn applied(
    store: &dyn Backend,
    processor: &str,
    input: &str,
) -> Result<Option<Applied>, StoreError> {
    let bytes = store
        .get(&full_key(APPLIED_SPACE, &applied_key(processor, input)))
        .map_err(|e| StoreError::Failure(e.0))?;
    Ok(bytes.and_then(|b| serde_json::from_slice(&b).ok()))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub input: String,
    pub fingerprint: u64,
    pub size: u64,
    /// The first attempt's start: rows of a resumed run get the same "now".
    pub started_at: i64,
    pub stamp: String,
    /// Reader items (rows and malformed records) covered by the last commit.
    pub items_done: u64,
    /// The line of the last item the last commit covers (what an operator is told).
    #[serde(default)]
    pub line_done: u64,
    pub tally: Tally,
    pub spools: SpoolLengths,
    /// The last batch is committed; only the finish (tryback, reports, archive, clean-up)
    /// remains.
    pub finished: bool,
    /// Why the run stopped early (`--max-errors`).
    #[serde(default)]
    pub stopped: Option<String>,
    /// What the processor's `finish` returned, kept for a report written after a kill.
    #[serde(default)]
    pub details: serde_json::Value,
    #[serde(default)]
    pub report_lines: Vec<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Comment lines the reader skipped (for a report written after a kill).
    #[serde(default)]
    pub comments: u64,
    /// The outputs of the finish, named when the last batch committed (None until then, and
    /// in journals written before toolsync journaled its finish).
    #[serde(default)]
    pub finish: Option<FinishPlan>,
    /// How the run was asked for: a resume by the daemon asks the same.
    #[serde(default)]
    pub asked: Asked,
    /// The input file's identity (device, inode) when the run opened it: the clean-up removes
    /// that file only, never one put in its place meanwhile.
    #[serde(default)]
    pub input_identity: Option<(u64, u64)>,
    /// An `--atomic` run: killed before its last batch, it is rolled back, not resumed.
    #[serde(default)]
    pub atomic: bool,
    /// The run's number in the undo log (`crate::undo`).
    #[serde(default)]
    pub undo_run: Option<u64>,
}

/// What a run's command line said that its resume must say again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Asked {
    pub force: bool,
    pub sets: Vec<String>,
    pub max_errors: Option<u64>,
    pub delimiter: Option<String>,
    pub encoding: Option<String>,
}

impl Journal {
    /// A new run's journal, before any commit.
    pub fn fresh(
        input: String,
        fingerprint: u64,
        size: u64,
        started_at: i64,
        stamp: String,
    ) -> Self {
        Journal {
            input,
            fingerprint,
            size,
            started_at,
            stamp,
            items_done: 0,
            line_done: 0,
            tally: Tally::default(),
            spools: SpoolLengths::default(),
            finished: false,
            stopped: None,
            details: serde_json::json!({}),
            report_lines: Vec::new(),
            warnings: Vec::new(),
            comments: 0,
            finish: None,
            asked: Asked::default(),
            input_identity: None,
            atomic: false,
            undo_run: None,
        }
    }

    /// The journal a killed run of `processor` left, if any.
    pub fn load(store: &dyn Backend, processor: &str) -> Result<Option<Journal>, StoreError> {
        let bytes = store
            .get(&full_key(SPACE, processor.as_bytes()))
            .map_err(|e| StoreError::Failure(e.0))?;
        match bytes {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                StoreError::Journal(format!(
                    "the journal of the interrupted {processor} run is unreadable ({e}): its \
                     committed rows cannot be told from the others, so the run is not resumed. \
                     Check the store with `toolsync check`; to start over from the whole file \
                     (rows already applied come out `unchanged`), remove the journal with \
                     `toolsync journal clear {processor}`"
                ))
            }),
        }
    }

    /// Every interrupted run's journal, by processor; an unreadable one is left out (the run
    /// of its processor says why when it starts).
    pub fn all(store: &dyn Backend) -> Vec<(String, Journal)> {
        store
            .scan(&full_key(SPACE, b""))
            .filter_map(Result::ok)
            .filter_map(|(key, value)| {
                let processor = String::from_utf8_lossy(&key[SPACE.len() + 1..]).into_owned();
                Some((processor, serde_json::from_slice(&value).ok()?))
            })
            .collect()
    }

    /// Stages this journal record into the batch about to commit.
    pub fn stage(&self, staging: &mut Staging, processor: &str) {
        let bytes = serde_json::to_vec(self).expect("a journal always serialises");
        staging.put_raw(SPACE, processor.as_bytes(), Some(&bytes));
    }

    /// Removes the journal of a completed run and records what it applied ([`Applied`]), in
    /// one commit, durably.
    pub fn complete(
        &self,
        store: &dyn Backend,
        processor: &str,
        finished_at: i64,
    ) -> Result<(), StoreError> {
        let applied = Applied {
            input: self.input.clone(),
            fingerprint: self.fingerprint,
            size: self.size,
            finished_at,
        };
        let mut writes = Writes::new();
        writes.insert(full_key(SPACE, processor.as_bytes()), None);
        // A run stopped early (`--max-errors`, an input unreadable to its end) left rows
        // unapplied: its file is not "applied", and runs again.
        if self.stopped.is_none() {
            writes.insert(
                full_key(APPLIED_SPACE, &applied_key(processor, &self.input)),
                Some(serde_json::to_vec(&applied).expect("a record always serialises")),
            );
        }
        store.apply(writes).map_err(|e| StoreError::Failure(e.0))?;
        store.flush().map_err(|e| StoreError::Failure(e.0))
    }

    /// Removes the journal of a completed (or abandoned) run, durably.
    pub fn clear(store: &dyn Backend, processor: &str) -> Result<(), StoreError> {
        let mut writes = Writes::new();
        writes.insert(full_key(SPACE, processor.as_bytes()), None);
        store.apply(writes).map_err(|e| StoreError::Failure(e.0))?;
        store.flush().map_err(|e| StoreError::Failure(e.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolsync_plugin_api::engine::MemoryBackend;
    use toolsync_plugin_api::OutcomeKind;

    fn journal() -> Journal {
        let mut j = Journal::fresh("in.csv".into(), 42, 1000, 1_700_000_000, "s".into());
        j.items_done = 2000;
        j.tally.add(OutcomeKind::Created);
        j
    }

    #[test]
    fn a_completed_run_is_applied_unless_it_stopped_early() {
        let store = MemoryBackend::new();
        let mut j = journal();
        j.complete(&store, "users", 5).unwrap();
        let record = applied(&store, "users", "in.csv").unwrap().unwrap();
        assert_eq!((record.fingerprint, record.size), (42, 1000));
        assert!(applied(&store, "users", "other.csv").unwrap().is_none());
        j.input = "stopped.csv".into();
        j.stopped = Some("stopped after 1 failed rows".into());
        j.complete(&store, "users", 6).unwrap();
        assert!(applied(&store, "users", "stopped.csv").unwrap().is_none());
    }

    #[test]
    fn a_journal_commits_with_its_batch_and_clears() {
        let store = MemoryBackend::new();
        let mut staging = Staging::default();
        staging.put_raw("user", b"1", Some(b"row"));
        journal().stage(&mut staging, "users");
        assert_eq!(Journal::load(&store, "users").unwrap(), None, "staged only");
        store.apply(staging.take_batch()).unwrap();
        assert_eq!(Journal::load(&store, "users").unwrap(), Some(journal()));
        assert_eq!(Journal::load(&store, "courses").unwrap(), None);
        Journal::clear(&store, "users").unwrap();
        assert_eq!(Journal::load(&store, "users").unwrap(), None);
    }

    #[test]
    fn an_unreadable_journal_refuses_the_resume_and_says_how_to_recover() {
        let store = MemoryBackend::new();
        let mut writes = Writes::new();
        writes.insert(full_key(SPACE, b"users"), Some(b"{not json".to_vec()));
        store.apply(writes).unwrap();
        let failure = Journal::load(&store, "users").unwrap_err();
        assert!(matches!(failure, StoreError::Journal(_)));
        let text = failure.to_string();
        assert!(
            text.contains("not resumed") && text.contains("journal clear"),
            "{text}"
        );
    }
}
