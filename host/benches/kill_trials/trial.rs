//! One trial: a fresh data folder, the scenario's run interrupted (killed at random instants, or
//! aborted at a fault point of its finish), run again until it completes, then what it left
//! compared with the reference run's.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::measure;
use crate::outcome::{self, Outcome};
use crate::scenario::{Run, Scenario};
use crate::users_generate::Rng;

/// The fault points of a committed run's finish, in the order it meets them
/// (host/src/faults.rs).
pub const FAULT_POINTS: &[&str] = &[
    "after-last-commit",
    "before-final-flush",
    "after-final-flush",
    "after-tryback",
    "after-report",
    "after-archive",
    "after-cleanup",
    "after-journal-clear",
];

/// How a trial interrupts its run.
pub enum Interruption {
    /// SIGKILL after each of these delays, one attempt after the other, as long as a re-run is
    /// due.
    Kills(Vec<Duration>),
    /// `TOOLSYNC_FAULT=<point>`: the run aborts there, as `kill -9` would.
    Fault(&'static str),
}

/// Fault rounds: two rounds in five.
const FAULT_ROUNDS: [u64; 2] = [1, 3];

impl Interruption {
    /// The interruption of a trial of scenario `scenario` in round `round` (a round is one trial
    /// of each scenario, in turn). Two rounds in five abort at fault points: the k-th fault
    /// round gives scenario s the point k + s (mod 8), so that 100 trials (8 fault rounds of 5
    /// scenarios) meet every (scenario, point) pair. In the other rounds the run is killed one
    /// to three times, each at an instant drawn uniformly over the reference run's duration.
    pub fn draw(round: u64, scenario: u64, reference: Duration, rng: &mut Rng) -> Self {
        if FAULT_ROUNDS.contains(&(round % 5)) {
            let k = round / 5 * 2 + u64::from(round % 5 == FAULT_ROUNDS[1]);
            let point = (k + scenario) as usize % FAULT_POINTS.len();
            return Interruption::Fault(FAULT_POINTS[point]);
        }
        let micros = reference.as_micros() as usize;
        let kills = 1 + rng.below(3);
        Interruption::Kills(
            (0..kills)
                .map(|_| Duration::from_micros(rng.below(micros + 1) as u64))
                .collect(),
        )
    }
}

/// Where a killed run stood, as its data folder shows it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Nothing committed, no report: the next run starts afresh.
    BeforeFirstCommit,
    /// Some batches committed: the next run resumes after them.
    MidRun,
    /// The last batch committed: the next run completes the finish only.
    InFinish,
    /// The journal cleared, the reports stored: the run was complete, nothing is due.
    Complete,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::BeforeFirstCommit,
        Stage::MidRun,
        Stage::InFinish,
        Stage::Complete,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            Stage::BeforeFirstCommit => "before its first commit",
            Stage::MidRun => "mid-run",
            Stage::InFinish => "in its finish",
            Stage::Complete => "after its journal was cleared",
        }
    }
}

/// The binary and plugin folder every world uses.
pub struct Tools {
    pub toolsync: PathBuf,
    pub plugins: PathBuf,
}

/// One data folder with the scenario's input beside it; the trybacks land beside the input,
/// each attempt's stderr in `logs/`.
pub struct World<'a> {
    tools: &'a Tools,
    pub root: PathBuf,
    pub data: PathBuf,
    attempts: u32,
}

/// A finished command's exit code and what it printed.
pub struct Reply {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Reply {
    /// The exit code and the first line printed, for a mismatch line.
    pub fn gist(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        format!("exit {}: {}", self.code, text.lines().next().unwrap_or(""))
    }
}

impl<'a> World<'a> {
    /// A fresh folder at `root` (whatever was there is removed).
    pub fn fresh(tools: &'a Tools, root: PathBuf) -> Result<World<'a>, String> {
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("logs"))
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        Ok(World {
            tools,
            data: root.join("data"),
            root,
            attempts: 0,
        })
    }

    /// Copies `file` into the world's folder (a run with `cleanup` removes its input).
    fn copy_in(&self, file: &Path) -> Result<PathBuf, String> {
        let to = self.root.join(file.file_name().unwrap_or_default());
        std::fs::copy(file, &to).map_err(|e| format!("cannot copy {}: {e}", file.display()))?;
        Ok(to)
    }

    fn command(&self) -> Command {
        let mut command =
            measure::toolsync_command(&self.tools.toolsync, &self.tools.plugins, &self.data);
        command.current_dir(&self.root).env_remove("TOOLSYNC_FAULT");
        command
    }

    /// `toolsync <args>` (a read command), to its end.
    pub fn toolsync(&self, args: &[&str]) -> Result<Reply, String> {
        let output = self
            .command()
            .args(args)
            .output()
            .map_err(|e| format!("cannot start toolsync: {e}"))?;
        Ok(Reply {
            code: code(output.status),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Starts `toolsync run <processor> <input> <args>`, stdout discarded, stderr kept in
    /// `logs/attempt-<n>.stderr`.
    fn start(&mut self, run: &Run, input: &Path, fault: Option<&str>) -> Result<Child, String> {
        self.attempts += 1;
        let log = self
            .root
            .join(format!("logs/attempt-{}.stderr", self.attempts));
        let log = std::fs::File::create(&log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let mut command = self.command();
        command
            .arg("run")
            .arg(run.processor)
            .arg(input)
            .args(&run.args)
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(point) = fault {
            command.env("TOOLSYNC_FAULT", point);
        }
        command
            .spawn()
            .map_err(|e| format!("cannot start toolsync: {e}"))
    }

    /// Runs `run` on `input` to its end (or to the fault point's abort); a run still going
    /// after `limit` is taken for hung, killed, and reported.
    fn run_to_end(
        &mut self,
        run: &Run,
        input: &Path,
        fault: Option<&str>,
        limit: Duration,
    ) -> Result<ExitStatus, String> {
        let mut child = self.start(run, input, fault)?;
        match wait_until(&mut child, Instant::now() + limit)? {
            Some(status) => Ok(status),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("a run did not end within {} s", limit.as_secs()))
            }
        }
    }

    /// Runs `run` on `input` to its end; its exit code.
    pub fn run_through(&mut self, run: &Run, input: &Path, limit: Duration) -> Result<i32, String> {
        self.run_to_end(run, input, None, limit).map(code)
    }

    /// Makes the scenario's setup run, if any, and copies its main run's input in.
    pub fn prepare(&mut self, scenario: &Scenario, limit: Duration) -> Result<PathBuf, String> {
        if let Some(setup) = &scenario.setup {
            let input = self.copy_in(&setup.input)?;
            let code = self.run_through(setup, &input, limit)?;
            if code != setup.exit {
                return Err(format!("the setup run exited {code}, not {}", setup.exit));
            }
        }
        self.copy_in(&scenario.main.input)
    }

    /// Where the run on `input` stands after a kill: told by `toolsync journal` (whether a run
    /// is pending, and whether only its finish remains) and by its stored reports. Only
    /// [`Stage::Complete`] decides anything (no re-run is due); the others tell the story.
    fn stage(&self, input: &Path) -> Result<Stage, String> {
        let journal = self.toolsync(&["journal"])?;
        let listed = journal.stdout.trim();
        Ok(if journal.code != 0 {
            // No store yet, or one that holds nothing (read commands exit 5).
            Stage::BeforeFirstCommit
        } else if listed.contains("only its finish remains") {
            Stage::InFinish
        } else if listed != "no interrupted run" {
            Stage::MidRun
        } else if outcome::stored_reports(&self.data, input, "json").is_empty() {
            Stage::BeforeFirstCommit
        } else {
            Stage::Complete
        })
    }

    /// What `toolsync journal` says, unless it says that no run is pending.
    pub fn pending_journal(&self) -> Result<Option<String>, String> {
        let journal = self.toolsync(&["journal"])?;
        let none = journal.code == 0 && journal.stdout.trim() == "no interrupted run";
        Ok((!none).then(|| format!("exit {}: {}", journal.code, journal.stdout.trim())))
    }
}

/// What a trial did and what it found.
pub struct Verdict {
    /// The attempts, in order (`killed at 0.412 s (mid-run)`, `re-run: exit 1`).
    pub story: Vec<String>,
    /// Where each interruption found the run.
    pub stages: Vec<Stage>,
    pub differences: Vec<String>,
}

/// Runs `scenario` in `world`, interrupted as `interruption` says, then again until it
/// completes; compares what it left with `reference`.
pub fn run(
    world: &mut World,
    scenario: &Scenario,
    interruption: &Interruption,
    reference: &Outcome,
    limit: Duration,
) -> Result<Verdict, String> {
    let input = world.prepare(scenario, limit)?;
    let mut story = Vec::new();
    let mut stages = Vec::new();
    let mut differences = Vec::new();
    // The exit code of the last run when it ended by itself; None when a kill was the end.
    let mut ended = None;
    match interruption {
        Interruption::Fault(point) => {
            let status = world.run_to_end(&scenario.main, &input, Some(point), limit)?;
            if status.code().is_none() {
                let stage = world.stage(&input)?;
                stages.push(stage);
                story.push(format!(
                    "fault {point}: {} ({})",
                    describe(status),
                    stage.describe()
                ));
            } else {
                story.push(format!("fault {point}: {}", describe(status)));
            }
            if status.code().is_some() {
                differences.push(format!("the fault point {point} was not reached"));
                ended = Some(code(status));
            } else if code(status) != -libc::SIGABRT {
                differences.push(format!(
                    "{point}: {}, not the fault's abort",
                    describe(status)
                ));
            }
        }
        Interruption::Kills(delays) => {
            for delay in delays {
                let mut child = world.start(&scenario.main, &input, None)?;
                let status = match wait_until(&mut child, Instant::now() + *delay)? {
                    Some(status) => status,
                    None => {
                        let _ = child.kill();
                        child.wait().map_err(|e| format!("wait: {e}"))?
                    }
                };
                // A run may end by itself between the last look and the kill.
                if status.code().is_some() {
                    story.push(format!(
                        "ended before the kill due at {:.3} s: {}",
                        delay.as_secs_f64(),
                        describe(status)
                    ));
                    ended = Some(code(status));
                    break;
                }
                let stage = world.stage(&input)?;
                stages.push(stage);
                story.push(format!(
                    "killed at {:.3} s ({})",
                    delay.as_secs_f64(),
                    stage.describe()
                ));
                if stage == Stage::Complete {
                    break;
                }
            }
        }
    }
    if ended.is_none() {
        if stages.last() != Some(&Stage::Complete) {
            match world.run_through(&scenario.main, &input, limit) {
                Ok(code) => {
                    story.push(format!("re-run: exit {code}"));
                    ended = Some(code);
                }
                Err(hung) => differences.push(hung),
            }
        } else {
            story.push("nothing due".into());
        }
    }
    if let Some(code) = ended.filter(|c| *c != scenario.main.exit) {
        differences.push(format!(
            "the last run exited {code} (reference: {})",
            scenario.main.exit
        ));
    }
    let outcome = Outcome::collect(world, scenario.main.processor, &input)?;
    differences.extend(outcome.differences(reference, ended.is_some()));
    Ok(Verdict {
        story,
        stages,
        differences,
    })
}

/// Waits for `child` until `deadline`; its status if it ended by then.
fn wait_until(child: &mut Child, deadline: Instant) -> Result<Option<ExitStatus>, String> {
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("wait: {e}"))? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(1)));
    }
}

/// The exit code, or minus the signal that ended the process.
fn code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0))
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit {code}"),
        None => format!("signal {}", -code(status)),
    }
}
