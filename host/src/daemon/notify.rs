//! `on_finish`: after each run the daemon makes, a shell command gets the run's JSON report
//! on stdin — for mail, chat or monitoring.
//!
//! The commands run one at a time on a thread of their own, in the order of the runs, so a
//! slow one never holds the schedules back. Each runs in a process group of its own, killed
//! whole after [`LIMIT`] (a `sh -c` that started a `sleep` leaves nothing behind) and when the
//! daemon stops. A failure is logged and changes nothing else.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::run::Finished;

/// How long one `on_finish` may take before it is killed.
pub const LIMIT: Duration = Duration::from_secs(60);

/// The queue of reports for `on_finish`.
pub struct Notifier {
    queue: Option<Sender<Finished>>,
    running: Arc<Mutex<Running>>,
}

/// What runs now; held while a command starts, so that a stop never misses one.
#[derive(Default)]
struct Running {
    /// The process group of the command running now.
    group: Option<i32>,
    /// The daemon stops: no command starts any more.
    stopping: bool,
}

impl Notifier {
    /// Starts the thread that runs `command` (none: reports are dropped).
    pub fn start(command: Option<String>) -> Notifier {
        let running = Arc::new(Mutex::new(Running::default()));
        let Some(command) = command else {
            return Notifier {
                queue: None,
                running,
            };
        };
        let (queue, reports) = channel::<Finished>();
        let current = running.clone();
        let spawned = std::thread::Builder::new()
            .name("toolsync-on-finish".into())
            .spawn(move || {
                for run in reports {
                    if let Err(e) = notify(&command, &run, &current) {
                        tracing::error!(processor = %run.processor, command = %command, "on_finish failed: {e}");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the on_finish thread ({e}): on_finish is off");
            return Notifier {
                queue: None,
                running,
            };
        }
        Notifier {
            queue: Some(queue),
            running,
        }
    }

    /// Queues a run's report.
    pub fn send(&self, run: &Finished) {
        if let Some(queue) = &self.queue {
            let _ = queue.send(run.clone());
        }
    }

    /// The daemon stops: the command running now is killed with its group; the queue is
    /// dropped.
    pub fn stop(self) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.stopping = true;
        if let Some(group) = running.group {
            tracing::warn!("stopping: the on_finish command still running is killed");
            kill_group(group);
        }
    }
}

fn kill_group(group: i32) {
    // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

/// Runs `command` with `sh -c`, the run's JSON report (the stored one, else the run's
/// summary) on its stdin, and `TOOLSYNC_PROCESSOR`, `TOOLSYNC_OUTCOME`, `TOOLSYNC_EXIT_CODE`,
/// `TOOLSYNC_REPORT` in its environment.
fn notify(command: &str, run: &Finished, running: &Mutex<Running>) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let report: Vec<u8> = match run.report.as_deref().map(std::fs::read) {
        Some(Ok(bytes)) => bytes,
        _ => serde_json::to_vec(run).map_err(|e| e.to_string())?,
    };
    let mut state = running.lock().unwrap_or_else(|p| p.into_inner());
    if state.stopping {
        return Err("the daemon is stopping: not run".into());
    }
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("TOOLSYNC_PROCESSOR", &run.processor)
        .env("TOOLSYNC_OUTCOME", run.outcome)
        .env("TOOLSYNC_EXIT_CODE", run.exit_code.to_string())
        .env(
            "TOOLSYNC_REPORT",
            run.report
                .as_deref()
                .map(Path::as_os_str)
                .unwrap_or_default(),
        )
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start it: {e}"))?;
    let group = child.id() as i32;
    state.group = Some(group);
    drop(state);
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || {
        // A command that does not read its stdin is no failure.
        let _ = stdin.write_all(&report);
    });
    let started = Instant::now();
    let outcome = loop {
        match child.try_wait() {
            Err(e) => break Err(e.to_string()),
            Ok(Some(status)) if status.success() => break Ok(()),
            Ok(Some(status)) => break Err(format!("it ended with {status}")),
            Ok(None) if started.elapsed() > LIMIT => {
                kill_group(group);
                let _ = child.wait();
                break Err(format!("still running after {} s: killed", LIMIT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    // What the command started and left behind goes with it.
    kill_group(group);
    running.lock().unwrap_or_else(|p| p.into_inner()).group = None;
    let _ = writer.join();
    outcome
}
