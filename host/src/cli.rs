//! The command line (design.md §6): clap definitions and dispatch to one module per command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::plugin_search_path;
use crate::data_dir::DataDir;
use crate::error::{CmdResult, Error, ExitCode};
use crate::loader::Registry;
use crate::run::RunArgs;
use crate::{commands, logging, output};

/// Feeds a learning platform's store from CSV files, through processor plugins.
///
/// Exit codes: see [`EXIT_CODES`], which `--help` prints.
#[derive(Parser, Debug)]
#[command(name = "toolsync", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    /// Data directory: store, file area, plugins [default: $TOOLSYNC_DATA, else ./toolsync-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Extra folder to search for plugin libraries (repeatable; searched first; must exist)
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    pub plugin_dirs: Vec<PathBuf>,

    /// More logs on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr, no progress
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 every row succeeded (check: the store is consistent); \
1 the run finished with failed rows or --max-errors stopped it, show found nothing, check found \
damage; 2 usage error (flags, toolsync.toml, option values); 3 input refused (header, encoding, \
threshold, unreadable); 4 processor unknown or plugin refused; 5 store error (no store there, \
locked by another process, damaged, I/O) or an output (report, archive, stdout) cannot be written.";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the processors found (with their library and its plugin-api version), those
    /// shadowed by a library earlier in the search path, and the libraries refused with the
    /// reason
    Plugins {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a processor's columns (type, required, description) and options with defaults;
    /// every processor's when none is named
    Schema {
        processor: Option<String>,
        /// Print JSON
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print the Markdown tables of docs/formats.md
        #[arg(long)]
        markdown: bool,
    },
    /// Print an empty CSV file with the processor's header, for spreadsheet users
    Template { processor: String },
    /// Apply a processor to an input file (default: the processor's configured file)
    Run(RunCmd),
    /// Run every processor whose default file is in the file area, in dependency order
    ///
    /// course-create, users, metacourse, enrolments, groups, group-members, cohorts,
    /// cohort-courses, pictures, course-reset, course-check, course-delete; a vendor
    /// processor where its manifest says (after the others by default). Processors that are
    /// not installed, or whose file is not there, are skipped. One summary at the end; each
    /// run stores its reports as `run` does. The exit code is the worst of the runs.
    Runall {
        /// Stop at the first run with failed rows or a refusal (the rest are `not run`)
        #[arg(long)]
        stop_on_failure: bool,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print one record as JSON (e.g. `show user jdoe`, `show course PHYS101`)
    ///
    /// Entities and their keys (`toolsync export` lists every entity):
    ///   user          username, idnumber, e-mail or id (tried in that order)
    ///   role          shortname or id
    ///   course        shortname, idnumber or id
    ///   category      a path from the top level (`Sciences/Physics`, `/2024` for a category
    ///                 named 2024) or an id
    ///   enrolment     an account, then a course: its enrolments, roles and groups there
    ///   group         a course, then the group (idnumber, name or id)
    ///   grouping      a course, then the grouping (idnumber, name or id)
    ///   cohort        idnumber, name or id: its members (a count), its `bindings` (course,
    ///                 role, enabled, period, group, enrolments) and the `courses` they feed
    ///   picture       an account (username, idnumber, e-mail or id): the picture's hash,
    ///                 format, size and renditions (`toolsync picture get` writes the PNG)
    /// `--by FIELD` tries that field only. Exit 1 with a message on stderr when nothing
    /// matches.
    ///
    /// A course shows its settings (course-create's columns), `category` (id) and
    /// `category_path`, `topic0`..`topicN` (`name|summary`), `self` and `guest` (true, false,
    /// or null when the course has no such method), and an `enrolments` summary: `participants`
    /// (enrolled users), `active` (users with an active enrolment through an enabled method),
    /// `methods`, `teachers` (editingteacher and teacher role holders), `fed_by` (the courses
    /// this metacourse mirrors) and `feeds` (the metacourses this course feeds). A category
    /// shows its columns, `path`, `courses` (how many are directly in it) and `children`.
    #[command(verbatim_doc_comment)]
    Show {
        /// The entity: user, role, course, category, enrolment, group, grouping, cohort, picture
        entity: String,
        /// The record's key (two for enrolment, group, grouping: see above)
        #[arg(required = true, num_args = 1..=2)]
        keys: Vec<String>,
        /// Match this field alone (e.g. `--by idnumber`)
        #[arg(long, value_name = "FIELD")]
        by: Option<String>,
    },
    /// Check the whole store: every index entry matches its record, no reference dangles, every
    /// owned enrolment has its owner. Prints what is wrong and exits 1; exits 0 when clean
    Check {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Print every record of an entity, as CSV (default) or as a JSON array; alone, list the
    /// entities
    ///
    /// users, courses, meta-links: the CSV is a file the matching processor (users,
    /// course-create, metacourse) accepts as input: `toolsync export courses > c.csv` then
    /// `toolsync run course-create c.csv` on another store rebuilds the courses, their
    /// categories (by path), sections and self/guest access. Ids, timestamps,
    /// defaultgroupingid, teachers and other enrolments are not in it. enrolments, groups,
    /// group-members, cohorts, cohort-members (cohorts) and cohort-bindings (cohort-courses)
    /// run back through their processor unchanged; a `#` note on the first line says which
    /// options read the file when a key falls back (a cohort without an idnumber goes by name).
    /// The other entities' CSV is for reading. The JSON array holds what `show` prints,
    /// without a course's `enrolments` summary nor a category's `courses` and `children` (a
    /// cohort's `bindings` are a count there).
    #[command(verbatim_doc_comment)]
    Export {
        /// The entity (plural or singular); none lists them
        entity: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
    },
    /// The journals of interrupted runs (a run resumes from its journal when it is started
    /// again on the same file)
    Journal {
        #[command(subcommand)]
        action: Option<JournalAction>,
    },
    /// Copy the whole store into one verified file, while no run is active
    ///
    /// The copy is consistent (the store is locked meanwhile) and ends with a checksum;
    /// `toolsync restore` reads it back. Journals of interrupted runs are not included.
    Backup {
        /// The backup file to write
        file: PathBuf,
        /// Replace the file if it exists
        #[arg(long)]
        force: bool,
    },
    /// The store's engine (`store info`), and a copy of the store into another engine
    /// (`store copy --to redb:<folder>`)
    Store {
        #[command(subcommand)]
        action: commands::store::StoreAction,
    },
    /// Account pictures: `picture get` writes a stored PNG out
    Picture {
        #[command(subcommand)]
        action: PictureAction,
    },
    /// The file area (`<data dir>/files/`): list, put, get, remove files and make folders
    Files {
        #[command(subcommand)]
        action: commands::files::FilesAction,
    },
    /// Move the complete files of the drop folder ([ingest] drop_dir, default <data dir>/sync)
    /// into the file area
    ///
    /// A file is taken once unchanged for settle_seconds, or at once beside a `<name>.done`
    /// marker (removed with it); hidden names, names starting with `_` and symbolic links are
    /// left. A name already in the area is kept: the new file gets `-2`, `-3`... Exit 1 when a
    /// file could not be moved (it stays in the drop folder).
    Ingest {
        /// Override [ingest] settle_seconds
        #[arg(long, value_name = "SECONDS")]
        settle_seconds: Option<u64>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// The run history: past runs from their stored reports (`reports show <id>` prints one,
    /// `reports prune` removes old ones with their archives)
    Reports(commands::reports::ReportsCmd),
    /// Put back every key a past run changed, as its undo log recorded them
    ///
    /// RUN_ID is a run id as `toolsync reports` lists it. Every committing run records the
    /// value each key had before it changed it; the logs of the last 20 runs are kept
    /// (`[undo] keep_runs` in toolsync.toml). Reverting a course-delete brings the course
    /// back with all it took along; reverting a users run brings back what its deletions
    /// removed. Refused (exit 3), naming the keys and the runs, when later runs changed
    /// the same keys: revert those first, latest first, or use --force. Journaled: a revert
    /// that is killed is completed by the next revert, run or daemon start. Its report is
    /// stored in reports/ like a run's.
    Revert {
        /// The run to revert, as `toolsync reports` lists it
        run_id: String,
        /// Put back keys that later runs changed too (the report names them)
        #[arg(long)]
        force: bool,
        /// Say what would be put back, write nothing
        #[arg(long)]
        dry_run: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Run the processors on their schedules, in the foreground, and serve the other commands
    ///
    /// Each processor with a `schedule` option (a cron expression in toolsync.toml, e.g.
    /// `[users] schedule = "0 2 * * *"`) runs at its times: `ingest` first, then the processor
    /// on its default file (not again when its content was already applied, unless
    /// `rerun_unchanged = true`). Logs go to stderr (RUST_LOG or -v for more). While it runs,
    /// `show`, `export`, `check`, `run`... are handed to it through <data dir>/daemon.sock;
    /// a `run` waits for the run in progress. SIGTERM or SIGINT: the run in progress commits
    /// its batch and the daemon exits 0; the run resumes at the next start.
    Daemon,
    /// Replace the store with a backup made by `toolsync backup`
    ///
    /// The backup is verified whole before anything changes; the restored store is built
    /// beside the current one, which is kept as store.replaced-<stamp>. Then the restored
    /// store is checked (exit 1 if `toolsync check` finds problems).
    Restore {
        /// The backup file to read
        file: PathBuf,
        /// Replace the store the data dir holds
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum JournalAction {
    /// List the interrupted runs (the default)
    List,
    /// Forget a processor's interrupted run: its committed rows stay, the next run starts
    /// from the top of its file (rows already applied come out `unchanged`). Nothing to forget
    /// is exit 0 with a note on stderr; a name no plugin provides is exit 4
    Clear { processor: String },
}

#[derive(Subcommand, Debug, Clone)]
pub enum PictureAction {
    /// Write an account's stored picture (a PNG) to stdout or a file: `toolsync picture get
    /// jdoe > jdoe.png`. Exit 1 when the account is unknown or has no picture
    Get {
        /// The account: username, idnumber, e-mail or id (tried in that order)
        account: String,
        /// Which rendition: 512 (fits 512×512, aspect kept), 100 or 35 (square thumbnails)
        #[arg(long, default_value_t = 512, value_parser = picture_size)]
        size: u32,
        /// Match this field alone (e.g. `--by idnumber`)
        #[arg(long, value_name = "FIELD")]
        by: Option<String>,
        /// Write into this file instead of stdout
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

fn picture_size(text: &str) -> Result<u32, String> {
    match text {
        "512" | "100" | "35" => Ok(text.parse().expect("digits")),
        _ => Err("one of 512, 100, 35".to_string()),
    }
}

#[derive(Args, Debug)]
pub struct RunCmd {
    /// The processor (`toolsync plugins` lists them)
    pub processor: String,
    /// Input file: a path (looked for in the current directory, then in the file area), or
    /// `area:<path>` for the file area only [default: option `input`]
    pub file: Option<PathBuf>,
    /// Do everything but commit; the report says what would happen
    #[arg(long)]
    pub dry_run: bool,
    /// The whole file or nothing: if a row fails (or the run is stopped or killed), every
    /// batch it committed is put back from its undo log
    #[arg(long)]
    pub atomic: bool,
    /// Stop once N rows have failed (N ≥ 1)
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub max_errors: Option<u64>,
    /// Field delimiter: auto, tab, or one punctuation character (option `delimiter`)
    #[arg(long, value_name = "C")]
    pub delimiter: Option<String>,
    /// auto, utf-8, windows-1252, iso-8859-1 (option `encoding`)
    #[arg(long, value_name = "E")]
    pub encoding: Option<String>,
    /// Set a processor option for this run (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print the JSON report on stdout instead of the text one
    #[arg(long)]
    pub json: bool,
    /// What stdout gets: the summary, warnings and failed rows, or every row (the stored
    /// reports always hold every row)
    #[arg(long, value_enum, default_value_t = ReportLevel::Summary)]
    pub report: ReportLevel,
    /// Go past a safety threshold: the brake on mass changes (max_delete_ratio)
    #[arg(long)]
    pub force: bool,
}

/// `--max-errors`: 0 would stop a run after its first row, failed or not, and skip the rest of
/// the file; "never stop" is the flag left out.
fn at_least_one(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err(
            "must be at least 1 (the run stops once N rows have failed; \
                      leave --max-errors out to never stop)"
                .to_string(),
        ),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// How much of a run's report stdout gets.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReportLevel {
    /// The summary, the warnings and the failed rows
    #[default]
    Summary,
    /// Every row
    Full,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// Parses the command line, runs the command, returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A command line clap refuses: its message on stderr, exit 2.
        Err(e) if e.use_stderr() => {
            let _ = e.print();
            return ExitCode::Usage as i32;
        }
        // `--help`, `--version`: the text is the command's output, and a failure to print it
        // is a failure like any other command's (a closed pipe is not one).
        Err(e) => {
            return match output::stdout_result(e.print()) {
                Ok(()) => ExitCode::Ok as i32,
                Err(error) => fail(error),
            }
        }
    };
    let daemon = matches!(cli.command, Command::Daemon);
    logging::init(cli.verbose, cli.quiet, daemon);
    crate::panics::install();
    // While a daemon holds the data dir's store, the commands that need it run there.
    if crate::daemon::handed_over(&cli.command) || matches!(cli.command, Command::Restore { .. }) {
        let handed = DataDir::resolve(cli.data_dir.as_deref())
            .map_err(Error::from)
            .and_then(|data| {
                if matches!(cli.command, Command::Restore { .. }) {
                    if crate::daemon::client::daemon_up(&data) {
                        return Err(Error::usage(
                            "a daemon runs on this data dir: stop it before a restore (the \
                             store it holds would be replaced under it)",
                        ));
                    }
                    return Ok(None);
                }
                let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
                crate::daemon::client::forward(&data, &args)
            });
        match handed {
            Ok(Some(code)) => return code,
            Ok(None) => {}
            Err(error) => return fail(error),
        }
    }
    execute(cli)
}

/// Runs a parsed command line here; its exit code (the daemon runs its clients' commands
/// through this too).
pub fn execute(cli: Cli) -> i32 {
    match dispatch(cli) {
        Ok(code) => code as i32,
        Err(error) => fail(error),
    }
}

/// Says why on stderr, and returns the error's exit code.
fn fail(error: Error) -> i32 {
    output::note(&error);
    error.exit_code() as i32
}

fn dispatch(cli: Cli) -> CmdResult {
    let data = DataDir::resolve(cli.data_dir.as_deref())?;
    let registry = || -> Result<Registry, Error> {
        let dirs = plugin_search_path(&cli.plugin_dirs, &data)?;
        tracing::debug!(?dirs, "plugin search path");
        Ok(Registry::load(&dirs))
    };
    match cli.command {
        Command::Plugins { json } => commands::plugins::run(&registry()?, json),
        Command::Schema {
            processor,
            json,
            markdown,
        } => {
            let registry = registry()?;
            let processors = match &processor {
                Some(name) => vec![registry.require(name)?],
                None if registry.processors.is_empty() => {
                    return Err(Error::usage(registry.none_found()))
                }
                None => registry.processors.iter().collect(),
            };
            let style = match (json, markdown) {
                (true, _) => commands::schema::Style::Json,
                (_, true) => commands::schema::Style::Markdown,
                _ => commands::schema::Style::Text,
            };
            commands::schema::run(&processors, style)
        }
        Command::Template { processor } => {
            commands::schema::template(registry()?.require(&processor)?)
        }
        Command::Run(cmd) => {
            let registry = registry()?;
            let processor = registry.require(&cmd.processor)?;
            let args = RunArgs {
                processor: cmd.processor,
                file: cmd.file,
                dry_run: cmd.dry_run,
                atomic: cmd.atomic,
                max_errors: cmd.max_errors,
                delimiter: cmd.delimiter,
                encoding: cmd.encoding,
                sets: cmd.sets,
                json: cmd.json,
                full_report: cmd.report == ReportLevel::Full,
                force: cmd.force,
                quiet: cli.quiet,
                ..RunArgs::default()
            };
            if args.dry_run && args.atomic {
                return Err(Error::usage(
                    "--dry-run and --atomic do not go together: a dry run commits nothing anyway",
                ));
            }
            crate::run::run_processor(&data, processor, &registry.manifests(), &args)
        }
        Command::Runall {
            stop_on_failure,
            json,
        } => {
            let registry = registry()?;
            if registry.processors.is_empty() {
                return Err(Error::usage(registry.none_found()));
            }
            let all: Vec<&crate::loader::LoadedProcessor> = registry.processors.iter().collect();
            let options = crate::bundle::Options {
                stop_on_failure,
                skip_unchanged: false,
                quiet: cli.quiet,
            };
            let summary = crate::bundle::run_bundle(&data, &registry, &all, &options)?;
            let mut out = output::Out::stdout();
            if json {
                out.json(&summary)?;
            } else {
                for line in crate::bundle::text(&summary) {
                    out.line(&line)?;
                }
            }
            out.flush()?;
            Ok(ExitCode::from_code(summary.exit_code))
        }
        Command::Show { entity, keys, by } => {
            commands::show::show(&data, &entity, &keys, by.as_deref())
        }
        Command::Export { entity, format } => {
            commands::show::export(&data, entity.as_deref(), format)
        }
        Command::Check { json } => commands::check::run(&data, json),
        Command::Journal { action } => commands::journal::run(&data, action, registry),
        Command::Backup { file, force } => commands::backup::backup(&data, &file, force),
        Command::Restore { file, force } => commands::backup::restore(&data, &file, force),
        Command::Ingest {
            settle_seconds,
            json,
        } => commands::ingest::run(&data, settle_seconds, json),
        Command::Reports(cmd) => commands::reports::run(&data, cmd),
        Command::Revert {
            run_id,
            force,
            dry_run,
            json,
        } => commands::revert::run(&data, &run_id, force, dry_run, json),
        Command::Daemon => crate::daemon::run(&data, &registry()?),
        Command::Files { action } => commands::files::run(&data, action),
        Command::Store { action } => commands::store::run(&data, action),
        Command::Picture {
            action:
                PictureAction::Get {
                    account,
                    size,
                    by,
                    output,
                },
        } => commands::picture::get(&data, &account, size, by.as_deref(), output.as_deref()),
    }
}
