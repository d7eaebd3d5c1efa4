//! Fault points: named instants of a run where a test (or the kill-trials bench) can make the
//! process die as `kill -9` would, or wait while the test damages something, so that crash
//! safety is tested at exactly the instants that matter instead of by luck.
//!
//! `TOOLSYNC_FAULT=<point>` aborts the process at that point (SIGABRT: no destructor, no
//! flush, like a kill). `TOOLSYNC_FAULT=<point>:pause=<dir>` creates `<dir>/reached` there and
//! waits until `<dir>/go` exists (two minutes at most), then goes on. Unset, a point costs one
//! comparison. This is a testing hook, not an operator feature (docs/formats.md says so).
//!
//! The points, in the order a run meets them: `after-batch-commit` (a batch of rows and the
//! journal are committed, not the last: a run killed there resumes after that batch, once sled
//! has written it — it does every 500 ms), `after-last-commit` (the last batch and the
//! finish plan are committed, but sled may not have written them to its files yet: an abort
//! here, like a kill, usually loses them, and the next run does the last batch again),
//! `before-final-flush`, `after-final-flush` (the finish plan is durable, no output is
//! written), `after-tryback`, `after-report`, `after-archive`, `after-cleanup` (the input
//! removed), `after-journal-clear`; `between-batch-chunks` (a batch too large for one sled batch
//! is being applied in chunks under its redo record: the next open completes it); and
//! `restore-before-swap` (`toolsync restore` has built
//! and marked the restored store, and not yet put it in place).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const ENV: &str = "TOOLSYNC_FAULT";

enum Action {
    Abort,
    Pause(PathBuf),
}

struct Fault {
    point: String,
    action: Action,
}

fn configured() -> Option<&'static Fault> {
    static FAULT: OnceLock<Option<Fault>> = OnceLock::new();
    FAULT
        .get_or_init(|| {
            let value = std::env::var(ENV).ok()?;
            let (point, action) = match value.split_once(":pause=") {
                Some((point, dir)) => (point.to_string(), Action::Pause(PathBuf::from(dir))),
                None => (value, Action::Abort),
            };
            Some(Fault { point, action })
        })
        .as_ref()
}

/// The run has reached `point`.
pub fn point(point: &str) {
    let Some(fault) = configured() else {
        return;
    };
    if fault.point != point {
        return;
    }
    match &fault.action {
        Action::Abort => std::process::abort(),
        Action::Pause(dir) => {
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::write(dir.join("reached"), point);
            let deadline = Instant::now() + Duration::from_secs(120);
            while !dir.join("go").exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
