//! `toolsync journal`: the journals interrupted runs left (a run killed before its end
//! resumes from its journal when it is started again on the same file), and the way out when
//! one cannot be read or is no longer wanted.

use toolsync_plugin_api::engine::{full_key, Backend};

use crate::cli::JournalAction;
use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode, StoreError};
use crate::loader::Registry;
use crate::output::{self, Out};
use crate::run::{Journal, JOURNAL_SPACE};
use crate::store::Store;

/// `registry` loads the plugins, for `clear` to tell a processor with nothing to clear from a
/// name that is no processor at all.
pub fn run(
    data: &DataDir,
    action: Option<JournalAction>,
    registry: impl FnOnce() -> Result<Registry, Error>,
) -> CmdResult {
    let store = data.open_store()?;
    match action.unwrap_or(JournalAction::List) {
        JournalAction::List => list(&store),
        JournalAction::Clear { processor } => clear(data, &store, &processor, registry),
    }
}

/// Forgets `processor`'s interrupted run. A journal is cleared whether or not its plugin is
/// still installed (it may have been removed since); with none, a processor's name is not an
/// error — there is nothing to clear, as `rm -f` has nothing to remove: exit 0 and a note on
/// stderr — but a name no plugin provides is exit 4, as for `run`.
fn clear(
    data: &DataDir,
    store: &Store,
    processor: &str,
    registry: impl FnOnce() -> Result<Registry, Error>,
) -> CmdResult {
    // The record itself, not its contents: an unreadable journal is what `clear` is for.
    let held = store
        .get(&full_key(JOURNAL_SPACE, processor.as_bytes()))
        .map_err(|e| StoreError::Failure(e.0))?
        .is_some();
    if !held {
        registry()?.require(processor)?;
        output::note(format!("no interrupted {processor} run: nothing to clear"));
        return Ok(ExitCode::Ok);
    }
    Journal::clear(store, processor)?;
    let _ = std::fs::remove_dir_all(data.runs().join(processor));
    let mut out = Out::stdout();
    out.line(&format!(
        "the interrupted {processor} run is forgotten: its committed rows stay"
    ))?;
    out.flush()?;
    Ok(ExitCode::Ok)
}

fn list(store: &Store) -> CmdResult {
    let mut out = Out::stdout();
    let mut any = false;
    for item in store.scan_space(JOURNAL_SPACE, b"") {
        let (key, _) = item?;
        let processor = String::from_utf8_lossy(&key).into_owned();
        any = true;
        match Journal::load(store, &processor) {
            // The input's path is whatever the file was named.
            Ok(Some(j)) => out.line(&format!(
                "{processor}: {} — {} rows committed{}",
                crate::escape::escape_controls(&j.input),
                j.items_done,
                if j.finished {
                    ", all of them (only its finish remains: tryback, reports, archive)"
                } else {
                    ""
                }
            ))?,
            Ok(None) => {}
            Err(e) => out.line(&format!("{processor}: unreadable journal: {e}"))?,
        }
    }
    if let Some(revert) = crate::undo::revert::pending(store)? {
        any = true;
        out.line(&format!(
            "{} of {} interrupted: the next revert, run or daemon start completes it",
            if revert.rollback {
                "the rollback"
            } else {
                "a revert"
            },
            revert.run.name()
        ))?;
    }
    if !any {
        out.line("no interrupted run")?;
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}
