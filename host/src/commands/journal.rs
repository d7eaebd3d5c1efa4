//! `toolsync journal`: the journals interrupted runs left (a run killed before its end
//! resumes from its journal when it is started again on the same file), and the way out when
//! one cannot be read or is no longer wanted.

use crate::cli::JournalAction;
use crate::data_dir::DataDir;
use crate::error::{CmdResult, ExitCode};
use crate::output::Out;
use crate::run::{Journal, JOURNAL_SPACE};
use crate::store::Store;

pub fn run(data: &DataDir, action: Option<JournalAction>) -> CmdResult {
    let store = data.open_store()?;
    match action.unwrap_or(JournalAction::List) {
        JournalAction::List => list(&store),
        JournalAction::Clear { processor } => {
            if store
                .scan_space(JOURNAL_SPACE, processor.as_bytes())
                .next()
                .is_none()
            {
                eprintln!("toolsync: no interrupted {processor} run");
                return Ok(ExitCode::RowsFailed);
            }
            Journal::clear(&store, &processor)?;
            let _ = std::fs::remove_dir_all(data.runs().join(&processor));
            let mut out = Out::stdout();
            out.line(&format!(
                "the interrupted {processor} run is forgotten: its committed rows stay"
            ))?;
            out.flush()?;
            Ok(ExitCode::Ok)
        }
    }
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
    if !any {
        out.line("no interrupted run")?;
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}
