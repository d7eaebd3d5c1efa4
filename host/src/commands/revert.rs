//! `toolsync revert <run-id>`: a past run's changes put back from its undo log
//! ([`crate::undo::revert`]).

use crate::data_dir::DataDir;
use crate::error::{CmdResult, ExitCode};
use crate::output::{self, Out};
use crate::undo::revert;

pub fn run(data: &DataDir, id: &str, force: bool, dry_run: bool, json: bool) -> CmdResult {
    let store = data.open_store()?;
    if !dry_run {
        // A revert a kill interrupted is completed first (perhaps this very one).
        for note in revert::settle(data, &store)? {
            output::note(note);
        }
    }
    let run = revert::find(&store, data, id)?;
    let done = revert::revert(data, &store, run, force, dry_run)?;
    let stored = (!dry_run)
        .then(|| revert::write_report(data, &done))
        .flatten();
    let mut out = Out::stdout();
    if json {
        let mut report = revert::report_json(&done);
        report["report"] = serde_json::json!(stored);
        out.json(&report)?;
    } else {
        for line in revert::report_text(&done).lines() {
            out.line(line)?;
        }
        if let Some(path) = &stored {
            out.line(&format!("report: {}", path.display()))?;
        }
    }
    out.flush()?;
    Ok(if done.not_restored_count > 0 {
        ExitCode::RowsFailed
    } else {
        ExitCode::Ok
    })
}
