//! The run journal: where a run stands, committed in the same sled batch as the rows it
//! covers. A run killed at any instant leaves the journal of its last commit; re-running the
//! same file (same fingerprint) resumes after the rows that commit covered, so every row is
//! applied exactly once.

use serde::{Deserialize, Serialize};

use super::spool::SpoolLengths;
use super::tally::Tally;
use crate::exit::Failure;
use crate::store::{Staging, Store};

const SPACE: &str = "_journal";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    pub input: String,
    pub fingerprint: u64,
    pub size: u64,
    /// The first attempt's start: rows of a resumed run get the same "now".
    pub started_at: i64,
    pub stamp: String,
    /// Reader items (rows and malformed records) covered by the last commit.
    pub items_done: u64,
    pub tally: Tally,
    pub spools: SpoolLengths,
    /// The last batch is committed; only the reports and the input's archiving remain.
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
}

impl Journal {
    pub fn load(store: &Store, processor: &str) -> Result<Option<Journal>, Failure> {
        match store.get(SPACE, processor.as_bytes())? {
            None => Ok(None),
            Some(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        }
    }

    /// Stages this journal record into the batch about to commit.
    pub fn stage(&self, staging: &mut Staging, processor: &str) {
        let bytes = serde_json::to_vec(self).expect("a journal always serialises");
        staging.put_raw(SPACE, processor.as_bytes(), Some(&bytes));
    }

    /// Removes the journal of a completed (or abandoned) run.
    pub fn clear(store: &Store, processor: &str) -> Result<(), Failure> {
        let mut staging = Staging::default();
        staging.put_raw(SPACE, processor.as_bytes(), None);
        store.commit(&mut staging)?;
        store.flush()
    }
}
