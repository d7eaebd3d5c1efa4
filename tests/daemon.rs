//! `toolsync daemon` end to end: the real binary in the background with a schedule that fires
//! every second (cron's six-field form, seconds first), real plugins, a real store. Each test
//! bounds its waits and stops (or kills) the daemon it started.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A daemon started by a test; killed when dropped if still running.
struct Daemon {
    child: Child,
    log: PathBuf,
}

/// The longest any wait of these tests lasts.
const PATIENCE: Duration = Duration::from_secs(120);

impl Daemon {
    fn start(world: &World) -> Daemon {
        let started_before = std::fs::read_dir(&world.root).unwrap().count();
        let log = world.root.join(format!("daemon-{started_before}.log"));
        let mut cmd: Command = world.command(&["daemon"]);
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the daemon starts");
        let daemon = Daemon { child, log };
        let socket = world.data.join("daemon.sock");
        daemon.wait_for("its socket", || socket.exists());
        daemon
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `done`, failing the test (with the daemon's log) after [`PATIENCE`].
    fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let started = Instant::now();
        while !done() {
            assert!(
                started.elapsed() < PATIENCE,
                "waited {PATIENCE:?} for {what}; the daemon's log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, then its exit status (bounded).
    fn terminate(mut self) -> (ExitStatus, String) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, self.log());
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the daemon did not stop on SIGTERM; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn config(world: &World, toml: &str) {
    std::fs::create_dir_all(&world.data).unwrap();
    std::fs::write(world.data.join("toolsync.toml"), toml).unwrap();
}

/// The runs `toolsync reports --json` lists.
fn past_runs(world: &World) -> Vec<serde_json::Value> {
    let listed = world.run_bounded(&["reports", "--json"]);
    assert_eq!(listed.code(), 0, "{}", listed.stderr());
    serde_json::from_str(&listed.stdout()).unwrap()
}

/// A users file of `rows` accounts `u0`… at `path`.
fn many_users(path: &Path, rows: usize) {
    let mut text = String::from("username,firstname,lastname,email\n");
    for i in 0..rows {
        text.push_str(&format!("u{i},F{i},L{i},u{i}@example.org\n"));
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Rows committed by the interrupted run `toolsync journal` lists for users, if any.
fn committed_rows(world: &World) -> Option<u64> {
    let listed = world.run_bounded(&["journal"]);
    let text = listed.stdout();
    let line = text.lines().find(|l| l.starts_with("users:"))?;
    let count = line.split(" — ").nth(1)?.split(' ').next()?;
    count.parse().ok()
}

#[test]
fn a_dropped_file_is_ingested_then_run_on_its_schedule_once() {
    let world = World::users();
    let finished = world.root.join("finished.json");
    config(
        &world,
        &format!(
            "[users]\nschedule = \"* * * * * *\"\n[ingest]\nsettle_seconds = 1\n\
             [daemon]\non_finish = \"cat > '{}'\"\n",
            finished.display()
        ),
    );
    let daemon = Daemon::start(&world);
    // An ERP drops the file; the second row fails (a bad e-mail): the daemon goes on.
    let drop = world.data.join("sync");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::write(
        drop.join("userimport.csv"),
        "username,firstname,lastname,email\nada,Ada,L,ada@example.org\nbob,Bob,M,not-an-email\n",
    )
    .unwrap();
    daemon.wait_for("the scheduled run", || !past_runs(&world).is_empty());
    assert!(
        !drop.join("userimport.csv").exists(),
        "ingest moved the file"
    );
    assert!(world.data.join("files/userimport.csv").exists());
    // The run's report reached on_finish.
    daemon.wait_for("on_finish", || finished.exists());
    daemon.wait_for("on_finish's output", || {
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(&finished).unwrap()).is_ok()
    });
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&finished).unwrap()).unwrap();
    assert_eq!(report["processor"], "users");
    assert_eq!(report["rows_failed"], 1);
    // While the daemon holds the store, `show` is answered through it.
    let shown = world.run_bounded(&["show", "user", "ada"]);
    assert_eq!(shown.code(), 0, "{}", shown.stderr());
    assert!(shown.stdout().contains("\"username\": \"ada\""));
    assert!(
        daemon.log().contains("a client's command"),
        "{}",
        daemon.log()
    );
    let missing = world.run_bounded(&["show", "user", "nobody"]);
    assert_eq!(
        missing.code(),
        1,
        "the daemon's exit code reaches the client"
    );
    // The same content is not run again on the next seconds.
    std::thread::sleep(Duration::from_secs(3));
    let runs = past_runs(&world);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["outcome"], "failed rows");
    assert!(daemon
        .log()
        .contains("was applied by the last completed run"));
    let (status, log) = daemon.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!world.data.join("daemon.sock").exists());
    // Without the daemon, the same command runs here.
    assert_eq!(world.run_bounded(&["show", "user", "ada"]).code(), 0);
}

#[test]
fn sigterm_mid_run_then_a_restart_applies_every_row_exactly_once() {
    let world = World::users();
    config(&world, "[users]\nschedule = \"* * * * * *\"\n");
    let rows = 60_000;
    many_users(&world.data.join("files/userimport.csv"), rows);
    let daemon = Daemon::start(&world);
    daemon.wait_for("a first batch committed", || {
        committed_rows(&world).is_some_and(|n| n > 0)
    });
    // A check while the run goes on: answered, and the store it sees is consistent.
    let started = Instant::now();
    let checked = world.run_bounded(&["check"]);
    assert_eq!(
        checked.code(),
        0,
        "{}{}",
        checked.stdout(),
        checked.stderr()
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let (status, log) = daemon.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("stopping after the batch in progress"),
        "{log}"
    );
    let committed = committed_rows(&world).expect("the stopped run left its journal");
    assert!(committed > 0 && committed < rows as u64, "{committed}");
    assert!(
        past_runs(&world).is_empty(),
        "no report before the run ends"
    );

    let daemon = Daemon::start(&world);
    daemon.wait_for("the resumed run's report", || !past_runs(&world).is_empty());
    assert!(
        daemon.log().contains("resuming the interrupted run"),
        "{}",
        daemon.log()
    );
    let (status, log) = daemon.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    let runs = past_runs(&world);
    assert_eq!(runs.len(), 1, "one run, one report: {runs:?}");
    assert_eq!(runs[0]["rows_total"], rows);
    assert_eq!(runs[0]["rows_ok"], rows);
    assert_eq!(committed_rows(&world), None, "the journal is cleared");
    assert_eq!(world.export_users().len(), rows);
    world.assert_consistent();
}

#[test]
fn a_manual_run_waits_for_the_daemons_run_and_show_answers_meanwhile() {
    let world = World::users();
    config(&world, "[users]\nschedule = \"* * * * * *\"\n");
    many_users(&world.data.join("files/userimport.csv"), 40_000);
    let daemon = Daemon::start(&world);
    daemon.wait_for("a first batch committed", || {
        committed_rows(&world).is_some_and(|n| n > 0)
    });
    let started = Instant::now();
    let shown = world.run_bounded(&["show", "user", "u1"]);
    assert_eq!(shown.code(), 0, "{}", shown.stderr());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "show took {:?} while a run went on",
        started.elapsed()
    );
    let small = world.file(
        "small.csv",
        "username,firstname,lastname,email\nzed,Zed,Z,zed@example.org\n",
    );
    let manual = world.run_bounded(&["run", "users", small.to_str().unwrap()]);
    assert_eq!(manual.code(), 0, "{}", manual.stderr());
    assert!(
        manual.stderr().contains("waits for it to end"),
        "{}",
        manual.stderr()
    );
    assert!(
        manual.stdout().contains("created: 1"),
        "{}",
        manual.stdout()
    );
    // The scheduled run ended first: its report, then the manual one's.
    let runs = past_runs(&world);
    let files: Vec<&str> = runs.iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(files.len(), 2, "{runs:?}");
    assert!(files[0].ends_with("userimport.csv") && files[1].ends_with("small.csv"));
    let (status, log) = daemon.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert_eq!(world.export_users().len(), 40_001);
}

#[test]
fn a_bad_schedule_or_a_second_daemon_is_refused() {
    let world = World::users();
    config(&world, "[users]\nschedule = \"every night\"\n");
    let refused = world.run_bounded(&["daemon"]);
    assert_eq!(refused.code(), 2, "{}", refused.stderr());
    assert!(
        refused.stderr().contains("[users] schedule") && refused.stderr().contains("every night"),
        "{}",
        refused.stderr()
    );
    // A mistyped data dir is refused, and nothing is made there.
    let typo = world.root.join("typo");
    let mut cmd = Command::new(bin());
    cmd.arg("--data-dir")
        .arg(&typo)
        .arg("--plugin-dir")
        .arg(&world.plugins)
        .arg("daemon");
    let refused = run_bounded(cmd, None);
    assert_eq!(refused.code(), 2, "{}", refused.stderr());
    assert!(
        refused.stderr().contains("no data dir"),
        "{}",
        refused.stderr()
    );
    assert!(!typo.exists());
    config(&world, "");
    let daemon = Daemon::start(&world);
    let second = world.run_bounded(&["daemon"]);
    assert_eq!(second.code(), 5, "{}", second.stderr());
    assert!(
        second.stderr().contains("a daemon already runs"),
        "{}",
        second.stderr()
    );
    let restore = world.run_bounded(&["restore", "x.bak", "--force"]);
    assert_eq!(restore.code(), 2);
    assert!(restore.stderr().contains("stop it before a restore"));
    let (status, _) = daemon.terminate();
    assert_eq!(status.code(), Some(0));
}

/// The drop folder's relative path and the store are the daemon's; paths on a client's
/// command line are the client's.
#[test]
fn a_client_s_relative_paths_are_its_own() {
    let world = World::users();
    config(&world, "");
    let daemon = Daemon::start(&world);
    let work = world.root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        work.join("mine.csv"),
        "username,firstname,lastname,email\nkim,Kim,K,kim@example.org\n",
    )
    .unwrap();
    let mut cmd = world.command(&["run", "users", "mine.csv"]);
    cmd.current_dir(&work);
    let ran = run_bounded(cmd, None);
    assert_eq!(ran.code(), 0, "{}", ran.stderr());
    let mut cmd = world.command(&["backup", "copy.bak"]);
    cmd.current_dir(&work);
    let backed = run_bounded(cmd, None);
    assert_eq!(backed.code(), 0, "{}", backed.stderr());
    assert!(
        work.join("copy.bak").exists(),
        "the backup is in the client's folder"
    );
    let (status, _) = daemon.terminate();
    assert_eq!(status.code(), Some(0));
}

/// A slow `on_finish` holds no schedule back, and what it started goes with it when the daemon
/// stops.
#[test]
fn a_slow_on_finish_holds_nothing_back() {
    let world = World::users();
    // A duration no other process of this machine sleeps for: found by `pgrep` below.
    let nap = "sleep 297.31";
    config(
        &world,
        &format!("[users]\nschedule = \"* * * * * *\"\n[daemon]\non_finish = \"{nap}; true\"\n"),
    );
    let daemon = Daemon::start(&world);
    let area = world.data.join("files");
    std::fs::create_dir_all(&area).unwrap();
    let file =
        |name: &str| format!("username,firstname,lastname,email\n{name},F,L,{name}@example.org\n");
    std::fs::write(area.join("userimport.csv"), file("first")).unwrap();
    daemon.wait_for("the first run", || past_runs(&world).len() == 1);
    // The first on_finish sleeps: the next file still runs at its time.
    std::fs::write(area.join("userimport.csv"), file("second")).unwrap();
    daemon.wait_for("the second run", || past_runs(&world).len() == 2);
    let napping = || {
        Command::new("pgrep")
            .args(["-f", nap])
            .output()
            .map(|o| !o.stdout.is_empty())
            .unwrap_or(false)
    };
    assert!(napping(), "on_finish runs");
    let started = Instant::now();
    let (status, log) = daemon.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(!napping(), "the on_finish command's group is killed: {log}");
}
