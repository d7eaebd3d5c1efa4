//! `toolsync daemon`: the data dir fed unattended, in the foreground (systemd, a container).
//!
//! - **Schedules.** Each processor whose `schedule` option is set ([`crate::schedule`]) runs at
//!   its times: an ingest of the drop folder first, then the processor on its default file.
//!   Processors due in the same minute run together, in bundle order ([`crate::bundle`]). A
//!   default file that is missing is logged; one whose content the processor's last completed
//!   run applied is not run again unless `rerun_unchanged` is on. A time missed while a run
//!   went on is not caught up: the next one after it counts.
//! - **One process holds the store, and serves the others.** sled allows one process per
//!   store: the daemon opens it for its lifetime ([`DataDir::hold_store`]) and listens on
//!   `<data dir>/daemon.sock` (owner-only). The CLI hands the commands that need the store to
//!   it ([`client`]): `show`, `export`, `check` and `picture get` are answered at once (a
//!   check or an export reads the store between two batches of a run in progress); `run` and
//!   `runall` wait for the run in progress to end, then run in the daemon, their report
//!   streamed back.
//! - **Runs never stop the daemon.** A failed or refused run is logged, and its reports are
//!   stored as a manual run's are. After each run it makes, the `on_finish` command
//!   (`[daemon] on_finish` in toolsync.toml) gets the JSON report on stdin; its failure is
//!   logged.
//! - **Stopping.** SIGTERM or SIGINT: the run in progress commits its batch and its journal,
//!   and the daemon exits 0; a second signal exits at once. A run stopped either way, or
//!   killed, resumes when the daemon starts again (it runs the journaled file first).

pub mod client;
mod notify;
pub mod protocol;
mod server;

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::bundle;
use crate::clock::{self, Zone};
use crate::config::{HostSettings, Options};
use crate::data_dir::DataDir;
use crate::error::{CmdResult, ConfigError, Error, ExitCode, StoreError};
use crate::loader::{LoadedProcessor, Registry};
use crate::run::{Finished, Journal, RunArgs, Tap};
use crate::schedule::Schedule;
use notify::Notifier;

/// Set by SIGTERM or SIGINT: runs stop after their batch in progress (`run::stream`).
static STOP: AtomicBool = AtomicBool::new(false);

/// Whether the daemon is stopping. Always false outside the daemon.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// One run at a time in the daemon: its scheduled runs and the runs clients hand to it.
static RUN_LOCK: Mutex<()> = Mutex::new(());

/// Waits for the run in progress, if any, to end.
fn run_turn() -> MutexGuard<'static, ()> {
    RUN_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A processor's schedule and its next time.
struct Scheduled<'r> {
    processor: &'r LoadedProcessor,
    schedule: Schedule,
    next: Option<i64>,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(data: &DataDir, registry: &Registry) -> CmdResult {
    if !data.root.is_dir() {
        return Err(Error::usage(format!(
            "no data dir at {}: is --data-dir right? (a daemon feeds a data dir set up \
             beforehand: its toolsync.toml says what to run when)",
            data.root.display()
        )));
    }
    let _lock = DaemonLock::take(data)?;
    install_signals()?;
    let settings = HostSettings::read(data)?;
    let notifier = Notifier::start(settings.on_finish.clone());
    let mut scheduled = schedules(data, registry)?;
    if scheduled.is_empty() {
        tracing::warn!(
            "no processor has a `schedule`: the daemon only serves the other commands (set \
             e.g. `[users] schedule = \"0 2 * * *\"` in toolsync.toml)"
        );
    }
    let Some(store) = open_store(data)? else {
        return Ok(ExitCode::Ok); // stopped while waiting for the store
    };
    data.hold_store(store.clone());
    let socket = server::Server::start(data)?;
    tracing::info!(
        data_dir = %data.root.display(),
        socket = %socket.path().display(),
        schedules = scheduled.len(),
        "daemon started"
    );
    resume_interrupted(data, registry, &notifier);
    let now = clock::now();
    for s in &mut scheduled {
        s.next = s.schedule.next_after(now);
        log_next(s);
    }
    while !stop_requested() {
        let now = clock::now();
        let Some(first) = scheduled.iter().filter_map(|s| s.next).min() else {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        };
        if first > now {
            let wait = Duration::from_secs((first - now) as u64).min(Duration::from_millis(500));
            std::thread::sleep(wait);
            continue;
        }
        // Every processor due in the minute of the first one runs now, in bundle order.
        let minute = first.div_euclid(60);
        let due: Vec<&LoadedProcessor> = scheduled
            .iter()
            .filter(|s| {
                s.next
                    .is_some_and(|n| n <= now || n.div_euclid(60) == minute)
            })
            .map(|s| s.processor)
            .collect();
        fire(data, registry, &notifier, &due);
        let after = clock::now().max(now);
        for s in scheduled
            .iter_mut()
            .filter(|s| due.iter().any(|d| std::ptr::eq(*d, s.processor)))
        {
            s.next = s.schedule.next_after(after);
            log_next(s);
        }
    }
    tracing::info!("stopping: waiting for the run in progress to commit its batch");
    let _turn = run_turn();
    drop(socket);
    notifier.stop();
    store.flush_all()?;
    tracing::info!("daemon stopped");
    Ok(ExitCode::Ok)
}

fn log_next(s: &Scheduled<'_>) {
    match s.next {
        Some(next) => {
            tracing::info!(processor = %s.processor.manifest.name, schedule = %s.schedule.text, next = %clock::rfc3339(next), "scheduled")
        }
        None => {
            tracing::warn!(processor = %s.processor.manifest.name, schedule = %s.schedule.text, "the schedule never fires again")
        }
    }
}

/// The processors with a `schedule`, parsed: a bad expression refuses the daemon's start
/// (exit 2), naming the processor.
fn schedules<'r>(data: &DataDir, registry: &'r Registry) -> Result<Vec<Scheduled<'r>>, Error> {
    let manifests = registry.manifests();
    let mut scheduled = Vec::new();
    for processor in &registry.processors {
        let options = Options::resolve(&processor.manifest, data, &[], &manifests)?;
        let text = options.get("schedule").trim();
        if text.is_empty() {
            continue;
        }
        let name = processor.manifest.name.to_string();
        let zone = Zone::parse(options.get("timezone")).map_err(|why| ConfigError::BadValue {
            key: format!("[{name}] timezone"),
            why,
        })?;
        let schedule = Schedule::parse(text, zone).map_err(|why| ConfigError::BadValue {
            key: format!("[{name}] schedule"),
            why,
        })?;
        scheduled.push(Scheduled {
            processor,
            schedule,
            next: None,
        });
    }
    Ok(scheduled)
}

/// Opens the store (creating it on first use), waiting while another process holds it (a
/// manual run that started before the daemon). `None` when a signal came meanwhile.
fn open_store(data: &DataDir) -> Result<Option<crate::store::Store>, Error> {
    let mut said = false;
    loop {
        match data.open_or_create_store() {
            Ok(store) => return Ok(Some(store)),
            Err(Error::Store(StoreError::Locked { .. })) => {
                if !said {
                    tracing::warn!(
                        "the store is in use by another toolsync process: waiting for it"
                    );
                    said = true;
                }
            }
            Err(e) => return Err(e),
        }
        for _ in 0..4 {
            if stop_requested() {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Runs first what a stopped or killed daemon (or run) left half done: each journaled file,
/// so that it is applied exactly once.
fn resume_interrupted(data: &DataDir, registry: &Registry, notifier: &Notifier) {
    let Ok(store) = data.open_store() else { return };
    // A revert or an --atomic run's rollback that a kill interrupted: completed first.
    if let Err(e) = crate::undo::revert::settle(data, &store) {
        tracing::error!("an interrupted revert could not be completed: {e}");
    }
    let journals = Journal::all(&store);
    // In bundle order: what a later processor's rows need (accounts, courses) comes first.
    let loaded: Vec<&LoadedProcessor> = journals
        .iter()
        .filter_map(|(name, _)| registry.require(name).ok())
        .collect();
    let order: Vec<String> = bundle::order(&loaded)
        .map(|o| o.iter().map(|p| p.manifest.name.to_string()).collect())
        .unwrap_or_default();
    let mut journals = journals;
    journals.sort_by_key(|(name, _)| order.iter().position(|o| o == name).unwrap_or(usize::MAX));
    for (name, journal) in journals {
        if stop_requested() {
            break;
        }
        let Ok(processor) = registry.require(&name) else {
            tracing::warn!(processor = %name, "an interrupted run of a processor that is not loaded: left for `toolsync journal`");
            continue;
        };
        tracing::info!(processor = %name, input = %journal.input, rows_committed = journal.items_done, "resuming the interrupted run");
        let _turn = run_turn();
        let tap: Tap = Default::default();
        // As it was asked (`--force`, `--set`…): a resume must read and decide as the run did.
        let asked = journal.asked.clone();
        let args = RunArgs {
            processor: name.clone(),
            file: Some(PathBuf::from(&journal.input)),
            force: asked.force,
            sets: asked.sets,
            max_errors: asked.max_errors,
            delimiter: asked.delimiter,
            encoding: asked.encoding,
            quiet: true,
            silent: true,
            tap: Some(tap.clone()),
            ..RunArgs::default()
        };
        let result = crate::run::run_processor(data, processor, &registry.manifests(), &args);
        if let Err(e) = &result {
            tracing::error!(processor = %name, "the resumed run failed: {e}");
        }
        let finished = std::mem::take(&mut *tap.lock().unwrap_or_else(|p| p.into_inner()));
        after_runs(notifier, &finished);
    }
}

/// A scheduled time: ingest, then the due processors in bundle order.
fn fire(data: &DataDir, registry: &Registry, notifier: &Notifier, due: &[&LoadedProcessor]) {
    let names: Vec<&str> = due.iter().map(|p| p.manifest.name.as_str()).collect();
    tracing::info!(processors = ?names, "schedule due");
    match crate::commands::ingest::ingest_once(data, None) {
        Ok(report) => {
            for taken in &report.taken {
                if taken.renamed {
                    tracing::warn!(from = %taken.from, to = %taken.to, "ingest: a file of that name is still in the file area, so this one is kept under another name, which no schedule runs: set `cleanup = true` for the processor (its file goes once run)");
                } else {
                    tracing::info!(from = %taken.from, to = %taken.to, "ingest: taken");
                }
            }
            for left in report.left.iter().chain(&report.failed) {
                tracing::info!(file = %left.path, "ingest: left: {}", left.why);
            }
        }
        Err(e) => tracing::error!("ingest failed: {e}"),
    }
    let _turn = run_turn();
    if stop_requested() {
        return;
    }
    let options = bundle::Options {
        stop_on_failure: false,
        skip_unchanged: true,
        quiet: true,
    };
    match bundle::run_bundle(data, registry, due, &options) {
        Ok(summary) => {
            for step in &summary.steps {
                match step.status {
                    "ran" => {}
                    "no file" => {
                        tracing::info!(processor = %step.processor, "no default file in the file area: nothing to run")
                    }
                    _ if stop_requested() => {
                        tracing::info!(processor = %step.processor, note = ?step.note, "stopped")
                    }
                    "error" => {
                        tracing::error!(processor = %step.processor, note = ?step.note, "not run")
                    }
                    _ => {
                        tracing::info!(processor = %step.processor, status = step.status, note = ?step.note, "not run")
                    }
                }
            }
            let runs: Vec<Finished> = summary.steps.into_iter().flat_map(|s| s.runs).collect();
            after_runs(notifier, &runs);
        }
        Err(e) => tracing::error!("the scheduled runs failed: {e}"),
    }
}

/// Logs each run's outcome and hands its report to `on_finish` (in the background: a slow
/// command never holds the schedules back).
fn after_runs(notifier: &Notifier, runs: &[Finished]) {
    for run in runs {
        let log = format!(
            "{}: {} rows {} (ok {}, failed {}, skipped {}), exit {}",
            run.file,
            run.outcome,
            run.rows_total,
            run.rows_ok,
            run.rows_failed,
            run.rows_skipped,
            run.exit_code
        );
        if run.exit_code == 0 {
            tracing::info!(processor = %run.processor, "{log}");
        } else {
            tracing::warn!(processor = %run.processor, "{log}");
        }
        notifier.send(run);
    }
}

/// SIGTERM and SIGINT set [`STOP`]; a second one ends the process at once (exit 130: the
/// journal covers what was committed).
fn install_signals() -> Result<(), Error> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [SIGTERM, SIGINT] {
        let installed = signal_hook::flag::register_conditional_shutdown(signal, 130, flag.clone())
            .and_then(|_| signal_hook::flag::register(signal, flag.clone()));
        installed.map_err(|e| Error::output("cannot install the signal handlers", e))?;
    }
    // The flag the runs read is a static; a thread relays the handlers' one to it.
    std::thread::Builder::new()
        .name("toolsync-signals".into())
        .spawn(move || loop {
            if flag.load(Ordering::Relaxed) {
                STOP.store(true, Ordering::Relaxed);
                tracing::info!("signal received: stopping after the batch in progress");
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        })
        .map_err(|e| Error::output("cannot start the signal thread", e))?;
    Ok(())
}

/// One daemon per data dir: `<data dir>/daemon.lock`, held for the daemon's life.
struct DaemonLock(std::fs::File);

impl DaemonLock {
    fn take(data: &DataDir) -> Result<DaemonLock, Error> {
        let path = data.root.join("daemon.lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::output(format!("cannot open {}", path.display()), e))?;
        if fs2::FileExt::try_lock_exclusive(&file).is_err() {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            // Exit 5, as a store locked by another process is.
            return Err(StoreError::Failure(format!(
                "a daemon already runs for the data dir {} (pid {}): one is enough",
                data.root.display(),
                pid.trim()
            ))
            .into());
        }
        let _ = file.set_len(0);
        let _ = writeln!(file, "{}", std::process::id());
        Ok(DaemonLock(file))
    }
}

impl Drop for DaemonLock {
    fn drop(&mut self) {
        let _ = fs2::FileExt::unlock(&self.0);
    }
}

/// The commands a client hands to the daemon while one runs (they need the store).
pub fn handed_over(command: &crate::cli::Command) -> bool {
    use crate::cli::Command;
    matches!(
        command,
        Command::Run(_)
            | Command::Runall { .. }
            | Command::Show { .. }
            | Command::Export { .. }
            | Command::Check { .. }
            | Command::Journal { .. }
            | Command::Picture { .. }
            | Command::Backup { .. }
            | Command::Revert { .. }
            | Command::Reports(_)
            | Command::Store { .. }
    )
}
