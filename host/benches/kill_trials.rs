//! Kill trials (not a timed benchmark; RELIABILITY.md): runs killed with SIGKILL at random
//! instants, or aborted in a phase of their finish, then run again until they complete, must
//! leave what one uninterrupted run leaves — every row applied once, every output (report pair,
//! archive, tryback) once and byte for byte, nothing pending.
//!
//! ```text
//! cargo bench -p toolsync --bench kill-trials                     # 100 trials, a fresh seed
//! cargo bench -p toolsync --bench kill-trials -- --trials 20 --seed 42
//! cargo bench -p toolsync --bench kill-trials -- --seed 42 --trial 17   # trial 17 again
//! ```
//!
//! The scenarios, taken in turn (kill_trials/scenario.rs): users (20,000 rows, one in 500
//! failing, passwords), the same with `cleanup=true`, an `--atomic` users run, course-create on
//! a generated file (categories, sections, failing rows) and on the shipped sample. Each is run
//! once uninterrupted first: the reference. Then each trial, in a fresh data folder:
//!
//! - two trials in five abort their run at a fault point of the finish (`TOOLSYNC_FAULT`,
//!   host/src/faults.rs), in turn so that 100 trials meet every (scenario, point) pair; the
//!   others kill it one to three times, each attempt after a delay drawn uniformly over the
//!   reference's duration ([`Interruption::draw`]);
//! - the run is started again until it completes — unless a kill landed after its journal was
//!   cleared, when the run was complete and nothing is due;
//! - what is left is compared with the reference (kill_trials/outcome.rs): the exported store,
//!   the stored JSON report (counts, failed lines, every row's outcome), one report pair, one
//!   archive and one tryback with the reference's bytes, the input removed or not, no `.partial`
//!   file, no journal, `toolsync check` passing, the last run's exit code.
//!
//! One line per mismatching trial on stdout (trial, seed, what differed; its folder is kept),
//! then `N trials, M mismatches`; the exit status is non-zero when M > 0. The verdict does not
//! depend on timing: where a kill lands does, and every instant must pass.
//!
//! Each trial's randomness comes from the seed and its number, so `--seed S --trial K` draws
//! trial K again: the same scenario, the same fault point or the same kill instants relative
//! to the reference run's duration (the machine decides which instruction they hit).
//!
//! Environment: `TOOLSYNC_BENCH_DIR` (work folder, default `target/tmp/kill-trials`),
//! `TOOLSYNC_BENCH_BINARY` (another build's `toolsync` to try, its plugins taken from beside it:
//! an older build shows what the trials find).

#[allow(dead_code)] // the course benchmark's generator: only its file is needed here
#[path = "courses/generate.rs"]
mod courses_generate;
#[path = "common/measure.rs"]
mod measure;
#[path = "kill_trials/outcome.rs"]
mod outcome;
#[path = "kill_trials/scenario.rs"]
mod scenario;
#[path = "kill_trials/trial.rs"]
mod trial;
#[allow(dead_code)] // the users benchmark's generator: its file and its random numbers
#[path = "users/generate.rs"]
mod users_generate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use measure::parse_count;
use outcome::Outcome;
use scenario::{Scenario, Sizes};
use trial::{Interruption, Stage, Tools, World};
use users_generate::Rng;

fn main() -> ExitCode {
    // `cargo bench` adds `--bench` to the arguments of harness-less benches.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match Settings::parse(&args).and_then(|s| trials(&s)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("bench kill-trials: {message}");
            ExitCode::FAILURE
        }
    }
}

struct Settings {
    trials: u64,
    seed: u64,
    /// Only this trial (its number among `trials`).
    only: Option<u64>,
    sizes: Sizes,
    work: PathBuf,
}

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let mut settings = Settings {
            trials: 100,
            // A fresh seed each time unless one is given; it is printed first.
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64 % 1_000_000_000),
            only: None,
            sizes: Sizes {
                users: 20_000,
                courses: 6_000,
            },
            work: std::env::var_os("TOOLSYNC_BENCH_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("kill-trials")),
        };
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            let mut value = || rest.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--trials" => settings.trials = parse_count(value()?)?,
                "--seed" => settings.seed = parse_count(value()?)?,
                "--trial" => settings.only = Some(parse_count(value()?)?),
                "--rows" => settings.sizes.users = parse_count(value()?)?,
                "--courses" => settings.sizes.courses = parse_count(value()?)?,
                other => {
                    return Err(format!(
                        "unknown argument `{other}` (use --trials N, --seed S, --trial K, \
                         --rows N, --courses N)"
                    ))
                }
            }
        }
        Ok(settings)
    }

    fn numbers(&self) -> std::ops::Range<u64> {
        match self.only {
            Some(k) => k..k + 1,
            None => 0..self.trials,
        }
    }
}

/// A scenario and what its uninterrupted run left.
struct Reference {
    scenario: Scenario,
    outcome: Outcome,
    took: Duration,
}

/// Runs the trials; how many mismatched.
fn trials(settings: &Settings) -> Result<u64, String> {
    let started = Instant::now();
    let tools = tools(&settings.work)?;
    eprintln!(
        "kill trials: seed {} (`--seed {}` draws them again), toolsync {}",
        settings.seed,
        settings.seed,
        tools.toolsync.display()
    );
    let scenarios = scenario::prepare(&settings.work.join("inputs"), &settings.sizes)?;
    let references = scenarios
        .into_iter()
        .enumerate()
        .map(|(i, scenario)| {
            reference(
                &tools,
                &settings.work.join(format!("reference-{i}")),
                scenario,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    // A run that has not ended after this is taken for hung (and is a mismatch).
    let limit =
        Duration::from_secs(60) + 20 * references.iter().map(|r| r.took).max().unwrap_or_default();

    let (mut count, mut mismatches) = (0, 0);
    let mut stages = Vec::new();
    let rounds = references.len() as u64;
    for number in settings.numbers() {
        let (round, scenario) = (number / rounds, number % rounds);
        let reference = &references[scenario as usize];
        let mut rng = Rng::new(settings.seed ^ number.wrapping_mul(0xA24B_AED4_963E_E407));
        let interruption = Interruption::draw(round, scenario, reference.took, &mut rng);
        let dir = settings.work.join(format!("trial-{number:03}"));
        let took = Instant::now();
        let verdict = World::fresh(&tools, dir.clone()).and_then(|mut world| {
            trial::run(
                &mut world,
                &reference.scenario,
                &interruption,
                &reference.outcome,
                limit,
            )
        });
        let (story, differences) = match verdict {
            Ok(v) => {
                stages.extend(v.stages);
                (v.story.join(", "), v.differences)
            }
            // A trial that could not be carried out is not a pass either.
            Err(failure) => (String::from("not carried out"), vec![failure]),
        };
        count += 1;
        let what = format!("{}: {story}", reference.scenario.name);
        eprintln!(
            "trial {number}: {what} ({:.1} s): {}",
            took.elapsed().as_secs_f64(),
            if differences.is_empty() {
                "ok"
            } else {
                "MISMATCH"
            }
        );
        if differences.is_empty() {
            let _ = std::fs::remove_dir_all(&dir);
        } else {
            mismatches += 1;
            println!(
                "trial {number}, seed {}: {what}: {} (kept in {})",
                settings.seed,
                differences.join("; "),
                dir.display()
            );
        }
    }
    let landed: Vec<String> = Stage::ALL
        .iter()
        .map(|stage| {
            let n = stages.iter().filter(|s| *s == stage).count();
            format!("{n} {}", stage.describe())
        })
        .collect();
    eprintln!(
        "{} interruptions found the run: {}",
        stages.len(),
        landed.join(", ")
    );
    let seconds = started.elapsed().as_secs();
    eprintln!("took {} min {:02} s", seconds / 60, seconds % 60);
    if mismatches == 0 {
        let _ = std::fs::remove_dir_all(&settings.work);
    }
    println!("{count} trials, {mismatches} mismatches");
    Ok(mismatches)
}

/// The toolsync binary cargo built for this profile (or `TOOLSYNC_BENCH_BINARY`'s), and a plugin
/// folder holding the users and course libraries built with it.
fn tools(work: &Path) -> Result<Tools, String> {
    let toolsync = std::env::var_os("TOOLSYNC_BENCH_BINARY").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_toolsync")),
        PathBuf::from,
    );
    let _ = std::fs::remove_dir_all(work);
    let plugins = work.join("plugins");
    std::fs::create_dir_all(&plugins)
        .map_err(|e| format!("cannot create {}: {e}", plugins.display()))?;
    for (library, package) in [
        ("toolsync_users", "toolsync-users"),
        ("toolsync_courses", "toolsync-courses"),
    ] {
        let found = measure::plugin_library(&toolsync, library, package)?;
        std::fs::copy(&found, plugins.join(found.file_name().unwrap_or_default()))
            .map_err(|e| format!("cannot copy {}: {e}", found.display()))?;
    }
    Ok(Tools { toolsync, plugins })
}

/// Runs `scenario` once, uninterrupted, in a world at `root`: what every trial must leave.
fn reference(tools: &Tools, root: &Path, scenario: Scenario) -> Result<Reference, String> {
    let failed = |why: String| format!("the reference run of {}: {why}", scenario.name);
    let limit = Duration::from_secs(600);
    let mut world = World::fresh(tools, root.to_path_buf())?;
    let input = world.prepare(&scenario, limit)?;
    let started = Instant::now();
    let code = world.run_through(&scenario.main, &input, limit)?;
    let took = started.elapsed();
    if code != scenario.main.exit {
        return Err(failed(format!("exit {code}, not {}", scenario.main.exit)));
    }
    let outcome = Outcome::collect(&world, scenario.main.processor, &input)?;
    let unfit = outcome.unfit_as_reference(scenario.main.exit == 1);
    if !unfit.is_empty() {
        return Err(failed(unfit.join("; ")));
    }
    eprintln!(
        "reference: {}: exit {code} in {:.2} s",
        scenario.name,
        took.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(root);
    Ok(Reference {
        scenario,
        outcome,
        took,
    })
}
