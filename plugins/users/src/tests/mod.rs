//! The processor's behaviour, row by row, through the same path the host drives (header check,
//! `start`, parallel `prepare`, `apply`, all across the ABI objects) over an in-memory store.

mod cohorts;
mod create_update;
mod delete_revive;
mod emails;
mod enrolments;
mod identities;
mod passwords;
mod rename;
mod start;
mod validation;

use toolsync_plugin_api::model::{User, UserKey, Users};
use toolsync_plugin_api::testing::{MemoryStore, Refusal, Report, RowResult, Runner};
use toolsync_plugin_api::OutcomeKind;

use crate::UsersProcessor;

/// The run's start in most tests.
pub const T0: i64 = 1_700_000_000;

/// A store and a clock, with helpers to run users files on it.
pub struct World {
    pub store: MemoryStore,
    pub now: i64,
}

impl World {
    pub fn new() -> Self {
        World {
            store: MemoryStore::new(),
            now: T0,
        }
    }

    pub fn runner(&self, options: &[(&str, &str)]) -> Runner {
        // Cost 4 keeps hashing fast; tests that care set it again.
        let runner = Runner::new(UsersProcessor)
            .option("bcrypt_cost", "4")
            .started_at(self.now);
        options.iter().fold(runner, |r, (k, v)| r.option(k, v))
    }

    /// Runs a file given as `;`-separated lines; panics if it is refused.
    pub fn run(&mut self, options: &[(&str, &str)], header: &str, rows: &[&str]) -> Report {
        let runner = self.runner(options);
        self.run_with(runner, header, rows)
    }

    pub fn run_with(&mut self, runner: Runner, header: &str, rows: &[&str]) -> Report {
        let (header, rows) = split(header, rows);
        let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
        match runner.run(&mut self.store, &header, &rows) {
            Ok(report) => report,
            Err(refusal) => panic!("refused: {refusal:?}"),
        }
    }

    /// Runs one row and returns its result.
    pub fn row(&mut self, options: &[(&str, &str)], header: &str, row: &str) -> RowResult {
        self.run(options, header, &[row]).rows.remove(0)
    }

    /// Runs a file that must be refused, and says why.
    pub fn refused(&mut self, options: &[(&str, &str)], header: &str, rows: &[&str]) -> Refusal {
        let runner = self.runner(options);
        let (header, rows) = split(header, rows);
        let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
        let before = self.store.clone();
        let refusal = runner
            .run(&mut self.store, &header, &rows)
            .expect_err("the file should be refused");
        assert_eq!(self.store, before, "a refused file writes nothing");
        refusal
    }

    pub fn user(&self, username: &str) -> Option<User> {
        Users::by_username(&self.store.read(), username).unwrap()
    }

    pub fn by(&self, key: UserKey, value: &str) -> Vec<User> {
        Users::find(&self.store.read(), key, value).unwrap()
    }

    /// Creates plain accounts: `username;firstname;lastname[;more columns…]`.
    pub fn given(&mut self, header: &str, rows: &[&str]) {
        let report = self.run(&[], header, rows);
        assert!(
            report.kinds().iter().all(|k| *k == OutcomeKind::Created),
            "{report:?}"
        );
    }
}

fn split<'a>(header: &'a str, rows: &[&'a str]) -> (Vec<&'a str>, Vec<Vec<&'a str>>) {
    let header = header.split(';').collect();
    let rows = rows.iter().map(|r| r.split(';').collect()).collect();
    (header, rows)
}

/// Asserts a row's outcome kind, showing the row on failure.
#[track_caller]
pub fn assert_kind(row: &RowResult, kind: OutcomeKind) {
    assert_eq!(row.kind, kind, "{row:?}");
}

/// Asserts a row failed with a reason containing `part`.
#[track_caller]
pub fn assert_failed(row: &RowResult, part: &str) {
    assert_eq!(row.kind, OutcomeKind::Failed, "{row:?}");
    assert!(
        row.message.contains(part),
        "reason {:?} lacks {part:?}",
        row.message
    );
}
