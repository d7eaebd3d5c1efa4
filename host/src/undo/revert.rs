//! Putting a run's keys back as its undo log recorded them: `toolsync revert`, and the rollback
//! of a failed `--atomic` run.
//!
//! A revert applies the run's records from its last batch to its first, so that a key several
//! batches changed ends with the value it had before the run. It is journaled like a run: its
//! journal (`_revert NUL pending`) commits with each batch of restored keys, and each batch
//! removes the records it applied, so the records left are exactly the changes still to undo.
//! A kill at any instant leaves a journal that the next revert, run or daemon start completes
//! ([`settle`]).
//!
//! Before any write, a revert looks for keys a later run changed too (their logs hold a record
//! of the same key): putting those back would undo the later run's change behind its back, so
//! the revert is refused, naming them, unless forced.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use toolsync_plugin_api::engine::{full_key, split_key, Backend, Writes};

use super::{chunk, describe_key, later_logged, load, log_prefix, RunRecord, RunState};
use crate::clock;
use crate::data_dir::DataDir;
use crate::error::{Error, RunError, StoreError};
use crate::store::Store;

/// The pending revert's journal: `_revert NUL pending`.
const SPACE: &str = "_revert";
const PENDING: &[u8] = b"pending";

/// Markers removed per commit at the end of a revert.
const MARKER_BATCH: usize = 10_000;

/// Keys named in a report or a refusal; the counts cover the rest.
const NAMED: usize = 100;

/// What a revert did to the keys of one keyspace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// The key held another value: its prior one is back.
    pub restored: u64,
    /// The key had been removed: it is back.
    pub recreated: u64,
    /// The run had created the key: it is removed.
    pub removed: u64,
    /// The key already held its prior value (or absence): nothing to write.
    pub unchanged: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.restored + self.recreated + self.removed + self.unchanged
    }
}

/// A key a later run changed too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub key: String,
    pub later_runs: Vec<String>,
}

/// A key whose log entry could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotRestored {
    pub key: String,
    pub reason: String,
}

/// A revert in progress, as its journal holds it, and its outcome when it is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revert {
    /// The run reverted.
    pub run: RunRecord,
    /// An `--atomic` run's own rollback (no report of its own: the run's report says it).
    pub rollback: bool,
    pub force: bool,
    pub dry_run: bool,
    pub started_at: i64,
    #[serde(default)]
    pub finished_at: i64,
    /// Per keyspace.
    pub counts: BTreeMap<String, Counts>,
    /// Keys later runs changed too (the first [`NAMED`]), and how many in all.
    pub conflicts: Vec<Conflict>,
    pub conflict_count: u64,
    pub not_restored: Vec<NotRestored>,
    pub not_restored_count: u64,
}

impl Revert {
    fn new(run: RunRecord, rollback: bool, force: bool, dry_run: bool) -> Revert {
        Revert {
            run,
            rollback,
            force,
            dry_run,
            started_at: clock::now(),
            finished_at: 0,
            counts: BTreeMap::new(),
            conflicts: Vec::new(),
            conflict_count: 0,
            not_restored: Vec::new(),
            not_restored_count: 0,
        }
    }

    /// Keys the log held.
    pub fn total(&self) -> u64 {
        self.counts.values().map(Counts::total).sum::<u64>() + self.not_restored_count
    }

    fn stage(&self, writes: &mut Writes) {
        let bytes = serde_json::to_vec(self).expect("a revert always serialises");
        writes.insert(full_key(SPACE, PENDING), Some(bytes));
    }

    fn not_restored(&mut self, key: &[u8], reason: &str) {
        self.not_restored_count += 1;
        if self.not_restored.len() < NAMED {
            self.not_restored.push(NotRestored {
                key: describe_key(key),
                reason: reason.to_string(),
            });
        }
    }
}

fn failure(e: toolsync_plugin_api::engine::BackendError) -> StoreError {
    StoreError::Failure(e.0)
}

/// The pending revert's journal, if a revert (or a rollback) was interrupted.
pub fn pending(store: &dyn Backend) -> Result<Option<Revert>, StoreError> {
    store
        .get(&full_key(SPACE, PENDING))
        .map_err(failure)?
        .map(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| {
                StoreError::Journal(format!(
                    "the journal of an interrupted revert is unreadable ({e}): check the store \
                     with `toolsync check`"
                ))
            })
        })
        .transpose()
}

/// The run `id` names, checked revertible: refused (with what to do) when it has no log, is
/// already undone, or is an interrupted run.
pub fn find(store: &dyn Backend, data: &DataDir, id: &str) -> Result<RunRecord, Error> {
    let records = super::runs(store)?;
    let Some(record) = records.into_iter().find(|r| r.id.as_deref() == Some(id)) else {
        let report = crate::history::json_report(data, id);
        let processor = report
            .as_ref()
            .and_then(|path| std::fs::read(path).ok())
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .map(|json| json["processor"].clone());
        if processor.is_some_and(|p| p == "revert") {
            return Err(RunError::Refused(format!(
                "{id} is a revert: a revert cannot be reverted (run the reverted file again \
                 instead)"
            ))
            .into());
        }
        let known = report.is_some();
        return Err(RunError::Refused(if known {
            format!(
                "run {id} has no undo log: it committed nothing (a dry run, a refused file, a \
                 read-only processor), or its log was pruned ([undo] keep_runs in toolsync.toml \
                 keeps the last {} runs' logs)",
                super::DEFAULT_KEEP_RUNS
            )
        } else {
            format!("no run {id}: `toolsync reports` lists the run ids")
        })
        .into());
    };
    match record.state {
        // A log of the per-key layout of development builds before the per-batch records.
        RunState::Complete if record.keys > 0 && record.batches == 0 => {
            Err(RunError::Refused(format!(
                "run {id} was logged by an earlier development build in a layout this one does \
                 not read: run its file again instead (`toolsync reports prune` removes the log)"
            ))
            .into())
        }
        RunState::Complete => Ok(record),
        RunState::Pruning => Err(RunError::Refused(format!(
            "run {id} has no undo log: it was pruned ([undo] keep_runs in toolsync.toml)"
        ))
        .into()),
        RunState::Recording => Err(RunError::Refused(format!(
            "run {id} has not finished: run its file again to finish it first"
        ))
        .into()),
        RunState::Reverted | RunState::RolledBack => Err(RunError::Refused(format!(
            "run {id} was already {} at {}",
            if record.state == RunState::Reverted {
                "reverted"
            } else {
                "rolled back"
            },
            record.undone_at.map(clock::rfc3339).unwrap_or_default()
        ))
        .into()),
    }
}

/// A revert of `run` (after [`find`]): the keys later runs changed too are looked for before
/// anything is written; a conflict refuses the revert unless `force`. A dry run counts what it
/// would restore and writes nothing.
pub fn revert(
    data: &DataDir,
    store: &Store,
    run: RunRecord,
    force: bool,
    dry_run: bool,
) -> Result<Revert, Error> {
    let mut revert = Revert::new(run, false, force, dry_run);
    find_conflicts(store, &mut revert)?;
    if revert.conflict_count > 0 && !force {
        return Err(RunError::Refused(refusal(&revert)).into());
    }
    if dry_run {
        count_only(store, &mut revert)?;
        revert.finished_at = clock::now();
        return Ok(revert);
    }
    apply(data, store, revert)
}

/// An `--atomic` run's rollback: every key it committed put back (no later run can have
/// changed them: one run at a time holds the store). The journal of its `processor` goes with
/// the first batch.
pub fn roll_back(
    data: &DataDir,
    store: &Store,
    run: u64,
    processor: &str,
) -> Result<Revert, Error> {
    let mut also = Writes::new();
    also.insert(
        full_key(crate::run::JOURNAL_SPACE, processor.as_bytes()),
        None,
    );
    let Some(record) = load(store, run)? else {
        // Killed before its first batch: nothing committed, nothing to put back.
        store.commit(also)?;
        let record = RunRecord {
            number: run,
            id: None,
            processor: String::new(),
            input: String::new(),
            started_at: clock::now(),
            state: RunState::RolledBack,
            keys: 0,
            batches: 0,
            atomic: true,
            undone_at: Some(clock::now()),
        };
        return Ok(Revert::new(record, true, true, false));
    };
    let revert = Revert::new(record, true, true, false);
    let mut first = also;
    revert.stage(&mut first);
    store.commit(first)?;
    apply(data, store, revert)
}

/// Completes a revert or a rollback a kill interrupted, then rolls back every `--atomic` run a
/// kill stopped before its last batch. Returns what an operator is told of each.
pub fn settle(data: &DataDir, store: &Store) -> Result<Vec<String>, Error> {
    let mut notes = Vec::new();
    if let Some(revert) = pending(store)? {
        let name = revert.run.name();
        let rollback = revert.rollback;
        let done = apply(data, store, revert)?;
        notes.push(if rollback {
            format!(
                "an interrupted rollback of {name} was completed ({} keys put back)",
                done.total()
            )
        } else {
            format!(
                "an interrupted revert of {name} was completed ({} keys put back){}",
                done.total(),
                write_report(data, &done)
                    .map(|p| format!("; its report: {}", p.display()))
                    .unwrap_or_default()
            )
        });
    }
    let killed = crate::run::Journal::all(store)
        .into_iter()
        .filter(|(_, journal)| journal.atomic && !journal.finished);
    for (processor, journal) in killed {
        let Some(run) = journal.undo_run else {
            // Killed before its first batch: nothing to put back.
            crate::run::Journal::clear(store, &processor)?;
            continue;
        };
        let done = roll_back(data, store, run, &processor)?;
        notes.push(format!(
            "an --atomic run of {processor} on {} was interrupted: it was rolled back ({} keys \
             put back)",
            journal.input,
            done.total()
        ));
    }
    for note in &notes {
        tracing::warn!("{note}");
    }
    Ok(notes)
}

/// Calls `each` with every change in the log of `run`, batch after batch (a record that does
/// not decode is skipped: the revert names it).
fn each_change(
    store: &dyn Backend,
    run: u64,
    mut each: impl FnMut(&[u8]),
) -> Result<(), StoreError> {
    for item in store.scan(&log_prefix(run, None)) {
        let (_, bytes) = item.map_err(failure)?;
        for (key, _) in chunk::read(&bytes).map_while(Result::ok) {
            each(key);
        }
    }
    Ok(())
}

/// A 64-bit hash of a key or a value: what a revert remembers of the keys it has met.
fn hash_of(bytes: &[u8]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    hasher.finish()
}

/// Names every key of the run a later logged run changed too. The later runs' keys are held
/// as 64-bit hashes with the set of runs that changed them (a false match, odds around one in
/// 10^9 at 10 million keys, refuses a revert `--force` would let through: never the other way).
fn find_conflicts(store: &dyn Backend, revert: &mut Revert) -> Result<(), StoreError> {
    let later = later_logged(store, revert.run.number)?;
    if later.is_empty() {
        return Ok(());
    }
    // Bit i: `later[i]` changed the key (the last bit stands for the 64th later run and after).
    let mut changed_by: HashMap<u64, u64> = HashMap::new();
    for (i, run) in later.iter().enumerate() {
        let bit = 1u64 << i.min(63);
        each_change(store, run.number, |key| {
            *changed_by.entry(hash_of(key)).or_default() |= bit;
        })?;
    }
    let mut named = HashSet::new();
    each_change(store, revert.run.number, |key| {
        let hash = hash_of(key);
        let Some(bits) = changed_by.get(&hash) else {
            return;
        };
        if !named.insert(hash) {
            return;
        }
        revert.conflict_count += 1;
        if revert.conflicts.len() < NAMED {
            let later_runs = later
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1u64 << (*i).min(63)) != 0)
                .map(|(_, run)| run.name())
                .collect();
            revert.conflicts.push(Conflict {
                key: describe_key(key),
                later_runs,
            });
        }
    })
}

fn refusal(revert: &Revert) -> String {
    let mut runs: Vec<&str> = revert
        .conflicts
        .iter()
        .flat_map(|c| c.later_runs.iter().map(String::as_str))
        .collect();
    runs.sort_unstable();
    runs.dedup();
    let keys: Vec<&str> = revert
        .conflicts
        .iter()
        .take(10)
        .map(|c| c.key.as_str())
        .collect();
    let more = revert.conflict_count.saturating_sub(keys.len() as u64);
    format!(
        "{} key{} that run {} changed {} changed again by later runs ({}): {}{}. Revert the \
         later runs first (the latest first), or put these keys back anyway with --force",
        revert.conflict_count,
        if revert.conflict_count == 1 { "" } else { "s" },
        revert.run.name(),
        if revert.conflict_count == 1 {
            "was"
        } else {
            "were"
        },
        runs.join(", "),
        keys.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

/// How restoring a prior value over the current one counts, both as [`value_hash`]es.
fn classify(prior: u64, current: u64) -> fn(&mut Counts) -> &mut u64 {
    match (prior, current) {
        (p, c) if p == c => |c| &mut c.unchanged,
        (ABSENT, _) => |c| &mut c.removed,
        (_, ABSENT) => |c| &mut c.recreated,
        _ => |c| &mut c.restored,
    }
}

/// The [`value_hash`] of an absent value.
const ABSENT: u64 = 0;

fn value_hash(value: Option<&[u8]>) -> u64 {
    value.map_or(ABSENT, |v| hash_of(v).max(1))
}

/// The keys a revert has met, so that each counts once though several batches of the run
/// changed it: key hash → (hash of the value the store held when the revert began, hash of
/// the prior value last met). Records are read from the last batch to the first, so a key's
/// first meeting is with the value it holds now and its last with the value it had before the
/// run. About 40 bytes a key; a revert resumed after a kill starts it afresh (a key met on
/// both sides of the kill may then count twice).
#[derive(Default)]
struct Seen(HashMap<u64, (u64, u64)>);

/// A dry run's counts: every record read, nothing written.
fn count_only(store: &dyn Backend, revert: &mut Revert) -> Result<(), StoreError> {
    let mut seen = Seen::default();
    for batch in (1..=revert.run.batches).rev() {
        undo_batch(store, revert, &mut seen, batch, None)?;
    }
    Ok(())
}

/// Counts the changes of the run's `batch`; with `writes` (not a dry run), adds to it the prior
/// values that differ from what their keys hold, and the removal of the batch's records.
fn undo_batch(
    store: &dyn Backend,
    revert: &mut Revert,
    seen: &mut Seen,
    batch: u32,
    mut writes: Option<&mut Writes>,
) -> Result<(), StoreError> {
    for item in store.scan(&log_prefix(revert.run.number, Some(batch))) {
        let (record, bytes) = item.map_err(failure)?;
        for change in chunk::read(&bytes) {
            let Ok((key, prior)) = change else {
                revert.not_restored(
                    &record,
                    "this undo record does not decode: the changes after its broken point are \
                     lost",
                );
                break;
            };
            let Some((space, _)) = split_key(key) else {
                revert.not_restored(key, "not a key toolsync writes");
                continue;
            };
            // A batch changes a key once, so what the key holds is the store's (a dry run
            // writes nothing: its counts come from `seen`).
            let holds = store.get(key).map_err(failure)?;
            let counts = revert.counts.entry(space.to_string()).or_default();
            let prior_hash = value_hash(prior);
            let key_hash = hash_of(key);
            match seen.0.get_mut(&key_hash) {
                None => {
                    let current = value_hash(holds.as_deref());
                    *classify(prior_hash, current)(counts) += 1;
                    seen.0.insert(key_hash, (current, prior_hash));
                }
                Some((current, last_prior)) => {
                    *classify(*last_prior, *current)(counts) -= 1;
                    *classify(prior_hash, *current)(counts) += 1;
                    *last_prior = prior_hash;
                }
            }
            if let Some(writes) = writes.as_deref_mut().filter(|_| prior != holds.as_deref()) {
                writes.insert(key.to_vec(), prior.map(<[u8]>::to_vec));
            }
        }
        if let Some(writes) = writes.as_deref_mut() {
            writes.insert(record, None);
        }
    }
    Ok(())
}

/// Applies the log from its last batch to its first, each in a commit with the journal, until
/// no record is left; then marks the run undone, removes the journal, and makes it all durable.
fn apply(data: &DataDir, store: &Store, mut revert: Revert) -> Result<Revert, Error> {
    let mut seen = Seen::default();
    loop {
        // One batch of the run per commit, the last first: the run's batches were sized for a
        // commit, so are their reverts.
        let mut writes = Writes::new();
        if revert.run.batches > 0 {
            let batch = revert.run.batches;
            undo_batch(store, &mut revert, &mut seen, batch, Some(&mut writes))?;
            revert.run.batches -= 1;
        }
        let last = revert.run.batches == 0;
        if last {
            revert.finished_at = clock::now();
            revert.run.state = if revert.rollback {
                RunState::RolledBack
            } else {
                RunState::Reverted
            };
            revert.run.undone_at = Some(revert.finished_at);
            let record = serde_json::to_vec(&revert.run).expect("a record always serialises");
            writes.insert(
                full_key(super::RUNS, &revert.run.number.to_be_bytes()),
                Some(record),
            );
            writes.insert(full_key(SPACE, PENDING), None);
        } else {
            revert.stage(&mut writes);
        }
        store.commit(writes)?;
        tracing::info!(keys = revert.total(), last, "revert batch committed");
        if last {
            // After the last restore: the files the markers keep are named again by now. (A
            // kill before they go leaves markers of an undone run, which its prune removes.)
            let held = full_key(super::HELD, &revert.run.number.to_be_bytes());
            super::remove_prefix(store, &held, MARKER_BATCH)?;
            break;
        }
        crate::faults::point("after-revert-batch");
    }
    store.flush_all()?;
    // The files the run's pictures named are orphans now (those its log kept are named again).
    crate::stored_files::sweep(data, store)?;
    Ok(revert)
}

/// `reports/<stamp>_revert.report.{txt,json}`; its path, or `None` when it could not be written
/// (said in the log: the revert itself is done).
pub fn write_report(data: &DataDir, revert: &Revert) -> Option<std::path::PathBuf> {
    let dir = data.reports();
    let stamp = clock::Zone::default().stamp(revert.started_at);
    let at = |s: &str| {
        (
            dir.join(format!("{s}_revert.report.txt")),
            dir.join(format!("{s}_revert.report.json")),
        )
    };
    let stamp = crate::run::free_stamp(&stamp, |s| {
        let (t, j) = at(s);
        vec![t, j]
    });
    let (txt, json) = at(&stamp);
    let written = crate::data_dir::create_private_dir(&dir)
        .and_then(|()| {
            crate::area::write_atomic(&json, |f| {
                serde_json::to_writer_pretty(&mut *f, &report_json(revert))?;
                std::io::Write::write_all(f, b"\n")
            })
        })
        .and_then(|()| {
            crate::area::write_atomic(&txt, |f| {
                std::io::Write::write_all(f, report_text(revert).as_bytes())
            })
        });
    match written {
        Ok(()) => Some(txt),
        Err(e) => {
            tracing::warn!(report = %txt.display(), "the revert's report could not be written: {e}");
            None
        }
    }
}

/// The JSON report: the keys `toolsync reports` reads (a revert counts keys as rows), then the
/// revert's own.
pub fn report_json(revert: &Revert) -> serde_json::Value {
    let restored: u64 = revert.counts.values().map(Counts::total).sum();
    serde_json::json!({
        "processor": "revert",
        "file": revert.run.name(),
        "started_at": clock::rfc3339(revert.started_at),
        "finished_at": clock::rfc3339(revert.finished_at),
        "dry_run": revert.dry_run,
        "committed": !revert.dry_run,
        "rows_total": revert.total(),
        "rows_ok": restored,
        "rows_failed": revert.not_restored_count,
        "rows_skipped": 0,
        "refused": null,
        "stopped": null,
        "warnings": [],
        "reverted": {
            "run": revert.run.id,
            "processor": revert.run.processor,
            "input": revert.run.input,
            "started_at": clock::rfc3339(revert.run.started_at),
        },
        "force": revert.force,
        "keys": revert.counts,
        "conflicts": revert.conflict_count,
        "forced": revert.conflicts,
        "not_restored": revert.not_restored,
        "not_restored_count": revert.not_restored_count,
    })
}

/// The text report, as `toolsync revert` prints it.
pub fn report_text(revert: &Revert) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let verb = if revert.dry_run {
        "would be put back"
    } else {
        "put back"
    };
    let _ = writeln!(
        out,
        "revert of {} ({} on {}){}",
        revert.run.name(),
        revert.run.processor,
        revert.run.input,
        if revert.dry_run { " — dry run" } else { "" }
    );
    let _ = writeln!(
        out,
        "{} keys {verb}: {} restored, {} recreated, {} removed, {} already as before",
        revert.total() - revert.not_restored_count,
        sum(revert, |c| c.restored),
        sum(revert, |c| c.recreated),
        sum(revert, |c| c.removed),
        sum(revert, |c| c.unchanged),
    );
    for (space, c) in &revert.counts {
        let _ = writeln!(
            out,
            "  {space:<24} restored {:>8}  recreated {:>8}  removed {:>8}  unchanged {:>8}",
            c.restored, c.recreated, c.removed, c.unchanged
        );
    }
    if revert.conflict_count > 0 {
        let _ = writeln!(
            out,
            "{} keys later runs had changed were put back anyway (--force):",
            revert.conflict_count
        );
        for c in &revert.conflicts {
            let _ = writeln!(out, "  {} (changed by {})", c.key, c.later_runs.join(", "));
        }
    }
    if revert.not_restored_count > 0 {
        let _ = writeln!(out, "{} keys not restored:", revert.not_restored_count);
        for n in &revert.not_restored {
            let _ = writeln!(out, "  {}: {}", n.key, n.reason);
        }
    }
    out
}

fn sum(revert: &Revert, field: fn(&Counts) -> u64) -> u64 {
    revert.counts.values().map(field).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::undo::Recorder;
    use toolsync_plugin_api::engine::Staging;

    fn commit(store: &Store, run: &mut Recorder, writes: &[(&[u8], Option<&[u8]>)], last: bool) {
        let mut staging = Staging::default();
        for (key, value) in writes {
            staging.put_raw("user", key, *value);
        }
        run.stage(&mut staging, store, last.then_some("id-1"))
            .unwrap();
        store.commit(staging.take_batch()).unwrap();
    }

    #[test]
    fn a_key_several_batches_changed_ends_as_before_the_run_and_counts_once() {
        let dir = std::env::temp_dir().join(format!("toolsync-revert-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let data = DataDir::resolve(Some(&dir)).unwrap();
        let store = data.open_or_create_store().unwrap();
        commit_seed(&store, &[(b"a", b"old"), (b"c", b"c0")]);
        let before = user_keys(&store);
        let mut run = Recorder::begin(&store, "users", "in.csv", 0, false).unwrap();
        commit(
            &store,
            &mut run,
            &[
                (b"a", Some(b"new")),
                (b"b", Some(b"x")),
                (b"d", Some(b"d1")),
            ],
            false,
        );
        commit(
            &store,
            &mut run,
            &[(b"a", Some(b"newer")), (b"b", None), (b"c", None)],
            true,
        );
        let record = load(&store, run.run()).unwrap().unwrap();
        assert_eq!((record.keys, record.batches), (6, 2));

        let dry = revert(&data, &store, record.clone(), false, true).unwrap();
        assert_ne!(user_keys(&store), before, "a dry run writes nothing");
        let done = revert(&data, &store, record, false, false).unwrap();
        assert_eq!(user_keys(&store), before);
        let expected = Counts {
            restored: 1,
            recreated: 1,
            removed: 1,
            unchanged: 1,
        };
        assert_eq!(done.counts["user"], expected, "a, c, d, b: once each");
        assert_eq!(dry.counts["user"], expected);
        assert!(store
            .scan(&log_prefix(done.run.number, None))
            .next()
            .is_none());
        assert_eq!(
            load(&store, done.run.number).unwrap().unwrap().state,
            RunState::Reverted
        );
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn commit_seed(store: &Store, values: &[(&[u8], &[u8])]) {
        let mut writes = Writes::new();
        for (key, value) in values {
            writes.insert(full_key("user", key), Some(value.to_vec()));
        }
        store.commit(writes).unwrap();
    }

    fn user_keys(store: &Store) -> Vec<(Vec<u8>, Vec<u8>)> {
        store
            .scan(&full_key("user", b""))
            .collect::<Result<_, _>>()
            .unwrap()
    }
}
