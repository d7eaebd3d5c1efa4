//! `toolsync reports`: the run history ([`crate::history`]): list past runs, print one stored
//! report, prune old reports and archives.

use clap::{Args, Subcommand};

use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode};
use crate::history::{self, Keep};
use crate::output::{self, Out};

/// `reports`: the list by default, or an action.
#[derive(Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportsCmd {
    #[command(subcommand)]
    pub action: Option<ReportsAction>,
    #[command(flatten)]
    pub list: ListArgs,
}

/// Which past runs to list.
#[derive(Args, Debug, Clone, Default)]
pub struct ListArgs {
    /// Only this processor's runs
    #[arg(long, value_name = "P")]
    pub processor: Option<String>,
    /// Only runs started at or after this date (`2026-12-01`, `2026-12-01 08:00`, RFC 3339)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only the N most recent runs
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug, Clone)]
pub enum ReportsAction {
    /// Print a stored report (text, or `--json`) by its run id, as `toolsync reports` lists it
    Show {
        id: String,
        /// Print the JSON report
        #[arg(long)]
        json: bool,
    },
    /// Remove old runs' reports, and their archives
    Prune {
        /// Keep each processor's N most recent runs
        #[arg(
            long,
            value_name = "N",
            required_unless_present = "older_than",
            conflicts_with = "older_than"
        )]
        keep: Option<usize>,
        /// Remove runs (and archives) older than this: `30d`, `12h`, `90m`
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// Say what would be removed, remove nothing
        #[arg(long)]
        dry_run: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(data: &DataDir, cmd: ReportsCmd) -> CmdResult {
    match cmd.action {
        None => list(data, &cmd.list),
        Some(ReportsAction::Show { id, json }) => show(data, &id, json),
        Some(ReportsAction::Prune {
            keep,
            older_than,
            dry_run,
            json,
        }) => {
            let keep = match (keep, older_than) {
                (Some(n), _) => Keep::Last(n),
                (None, Some(age)) => Keep::Since(crate::clock::now() - parse_age(&age)?),
                (None, None) => unreachable!("clap requires one"),
            };
            prune(data, keep, dry_run, json)
        }
    }
}

fn history_error(e: std::io::Error, data: &DataDir) -> Error {
    Error::output(format!("cannot read {}", data.reports().display()), e)
}

fn list(data: &DataDir, args: &ListArgs) -> CmdResult {
    let since = match &args.since {
        Some(date) => Some(
            toolsync_plugin_api::time::parse_date(date, &Default::default())
                .map_err(|why| Error::usage(format!("--since: {why}")))?,
        ),
        None => None,
    };
    let mut runs = history::past_runs(data).map_err(|e| history_error(e, data))?;
    runs.retain(|run| {
        args.processor.as_ref().is_none_or(|p| &run.processor == p)
            && since.is_none_or(|s| run.started() >= s)
    });
    if let Some(n) = args.last {
        runs.drain(..runs.len().saturating_sub(n));
    }
    let mut out = Out::stdout();
    if args.json {
        out.json(&runs)?;
    } else {
        for run in &runs {
            out.line(&format!(
                "{}  {:<14} {:<11} rows {} (ok {}, failed {}, skipped {})  {} s  {}",
                run.started_at,
                run.processor,
                run.outcome,
                run.rows_total,
                run.rows_ok,
                run.rows_failed,
                run.rows_skipped,
                run.duration,
                run.id
            ))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}

fn show(data: &DataDir, id: &str, json: bool) -> CmdResult {
    let found = if json {
        history::json_report(data, id)
    } else {
        history::text_report(data, id)
    };
    let Some(path) = found else {
        output::note(format!(
            "no stored report `{id}` in {} (`toolsync reports` lists the run ids)",
            data.reports().display()
        ));
        return Ok(ExitCode::RowsFailed);
    };
    let mut file = std::fs::File::open(&path)
        .map_err(|e| Error::output(format!("cannot read {}", path.display()), e))?;
    let mut out = Out::stdout();
    out.copy_from(&mut file)?;
    out.flush()?;
    Ok(ExitCode::Ok)
}

fn prune(data: &DataDir, keep: Keep, dry_run: bool, json: bool) -> CmdResult {
    let mut pruned = history::prune(data, keep, dry_run).map_err(|e| history_error(e, data))?;
    // The undo logs of the runs pruned go with their reports (a dry run reads which would).
    if data.has_store() {
        let store = data.open_store()?;
        let cutoff = match keep {
            Keep::Since(cutoff) => Some(cutoff),
            Keep::Last(_) => None,
        };
        let doomed = |run: &crate::undo::RunRecord| {
            run.id.as_ref().is_some_and(|id| pruned.runs.contains(id))
                || cutoff.is_some_and(|c| run.started_at < c)
        };
        pruned.undo_logs = if dry_run {
            crate::undo::runs(&store)?
                .iter()
                .filter(|r| r.state == crate::undo::RunState::Complete && doomed(r))
                .map(crate::undo::RunRecord::name)
                .collect()
        } else {
            crate::undo::prune_kept(data, &store, &doomed)?
        };
    }
    let mut out = Out::stdout();
    if json {
        out.json(&pruned)?;
    } else {
        let verb = if dry_run { "would remove" } else { "removed" };
        for id in &pruned.runs {
            out.line(&format!("{verb} report {id}"))?;
        }
        for name in &pruned.archives {
            out.line(&format!("{verb} archive {name}"))?;
        }
        for name in &pruned.undo_logs {
            out.line(&format!("{verb} the undo log of {name}"))?;
        }
        out.line(&format!(
            "{} reports, {} archives, {} bytes",
            pruned.runs.len(),
            pruned.archives.len(),
            pruned.bytes
        ))?;
    }
    out.flush()?;
    Ok(ExitCode::Ok)
}

/// `30d`, `12h`, `90m`, `45s`, or a number of days, in seconds.
fn parse_age(text: &str) -> Result<i64, Error> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "d"),
    };
    let seconds = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => 0,
    };
    match digits.parse::<i64>() {
        Ok(n) if seconds > 0 => Ok(n.saturating_mul(seconds)),
        _ => Err(Error::usage(format!(
            "--older-than `{text}`: a number and a unit, d, h, m or s (`30d`)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_have_a_unit() {
        assert_eq!(super::parse_age("30d").unwrap(), 30 * 86_400);
        assert_eq!(super::parse_age("12h").unwrap(), 12 * 3_600);
        assert_eq!(super::parse_age("7").unwrap(), 7 * 86_400);
        assert!(super::parse_age("3w").is_err());
        assert!(super::parse_age("d").is_err());
    }
}
