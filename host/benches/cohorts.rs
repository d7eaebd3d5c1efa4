//! Benchmark (not a timed test): `toolsync run cohorts` on a file of memberships of cohorts
//! already bound to courses — each row adds a member and enrols it in every course its cohort is
//! bound to — then the same file again (every row `unchanged`, nothing written), against a
//! hand-written loop doing the same sled reads and writes with no plugin layer; rows/s,
//! enrolments/s and peak memory at two sizes.
//!
//! ```text
//! cargo bench -p toolsync --bench cohorts            # 2,000 and 200 cohorts of 50 members
//! cargo bench -p toolsync --bench cohorts -- --cohorts 40 --small-cohorts 4 --pairs 1
//! cargo bench -p toolsync --bench cohorts -- --generate 2000 DIR   # only the files
//! ```
//!
//! Setup, untimed (each step's time is reported): one template data folder, where toolsync
//! itself creates the accounts (`run users`, `--members` per cohort of the larger size, each in
//! one cohort), the courses (`run course-create`, `--bindings` per cohort, none shared), the
//! cohorts (`run cohorts` with `cidnumber;cname`, no member yet) and binds each cohort to its
//! courses (`run cohort-courses`, while the cohorts are empty: no enrolment yet). Every measured
//! run is a child process on a copy of that folder: the members file (first feed), then the
//! same file again (re-feed) on the same copy. Each is timed from spawn to exit, its peak
//! resident memory read with `wait4` (`ru_maxrss`). The baseline is this same binary in its
//! hidden `--baseline FILE DATA_DIR` mode, fed the same two files on its own copy.
//!
//! Checks (untimed), so that a regression cannot pass as a speed-up: the counts each run gives
//! (toolsync's stored JSON report: every row `created`, then every row `unchanged`; the loop's
//! own counts); after the first feed, the store's entries per keyspace (`--digest` mode: a
//! child reading the store with sled) must be the template's plus one membership and its
//! by-user entry per row and `--bindings` enrolments and role assignments, with their by-user
//! entries, per row; after the re-feed, every key and value must be byte for byte what the
//! first feed left (a rewritten record carries the re-feed's time); then toolsync's exports
//! (`enrolments`, `role-assignments`, `enrol-instances`) must give the same digest for every
//! run of a size, and `toolsync check` must find the store consistent with the same entries per
//! keyspace.
//!
//! Environment: `TOOLSYNC_BENCH_COHORTS_PLUGIN`, `TOOLSYNC_BENCH_PLUGIN`,
//! `TOOLSYNC_BENCH_COURSES_PLUGIN` (libraries to use instead of the ones cargo built),
//! `TOOLSYNC_BENCH_DIR` (work folder, default `target/tmp/bench-cohorts`).

#[path = "cohorts/baseline.rs"]
mod baseline;
// The accounts and courses files are the enrolments bench's.
#[allow(dead_code)]
#[path = "enrolments/generate.rs"]
mod enrolment_files;
#[path = "cohorts/generate.rs"]
mod generate;
#[path = "common/harness.rs"]
mod harness;
#[path = "common/measure.rs"]
mod measure;

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use harness::{Bench, Plugin, Side};
use measure::{bytes, disk_usage, file_size, kib, parse_count, size_name, verdict, Measure};

const PLUGINS: [Plugin; 3] = [
    Plugin {
        env: "TOOLSYNC_BENCH_COHORTS_PLUGIN",
        library: "toolsync_cohorts",
        package: "toolsync-cohorts",
    },
    Plugin {
        env: "TOOLSYNC_BENCH_PLUGIN",
        library: "toolsync_users",
        package: "toolsync-users",
    },
    Plugin {
        env: "TOOLSYNC_BENCH_COURSES_PLUGIN",
        library: "toolsync_courses",
        package: "toolsync-courses",
    },
];

/// The re-feed's speed against the first feed's, for toolsync at the larger size.
const REFEED_TARGET: f64 = 5.0;

/// The keyspaces a membership row writes to: (space, entries per row, or per row and binding).
const WRITTEN: [(&str, bool); 6] = [
    ("cohort.member", false),
    ("cohort.member.by_user", false),
    ("enrol.user", true),
    ("enrol.by_user", true),
    ("role.assignment", true),
    ("role.assignment.by_user", true),
];

fn main() -> ExitCode {
    let args = harness::args();
    let result = match args.first().map(String::as_str) {
        Some("--generate") => generate_command(&args[1..]),
        Some("--baseline") => baseline_command(&args[1..]),
        Some("--digest") => digest_command(&args[1..]),
        _ => Settings::parse(&args).and_then(|s| bench(&s)),
    };
    harness::exit("cohorts", result)
}

struct Settings {
    cohorts: u64,
    small_cohorts: u64,
    members: u64,
    bindings: u64,
    pairs: usize,
    work: PathBuf,
}

const USAGE: &str =
    "--cohorts N, --small-cohorts N, --members N, --bindings N, --pairs N, --generate COHORTS DIR";

impl Settings {
    fn parse(args: &[String]) -> Result<Settings, String> {
        let mut s = Settings {
            cohorts: 2_000,
            small_cohorts: 200,
            members: 50,
            bindings: 5,
            pairs: 2,
            work: harness::work_dir("bench-cohorts"),
        };
        harness::parse_flags(args, USAGE, |flag, value| {
            match flag {
                "--cohorts" => s.cohorts = parse_count(value)?,
                "--small-cohorts" => s.small_cohorts = parse_count(value)?,
                "--members" => s.members = parse_count(value)?,
                "--bindings" => s.bindings = parse_count(value)?,
                "--pairs" => s.pairs = harness::parse_pairs(value)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if [s.cohorts, s.small_cohorts, s.members, s.bindings].contains(&0) {
            return Err(
                "--cohorts, --small-cohorts, --members and --bindings must be at least 1".into(),
            );
        }
        Ok(s)
    }

    /// The cohorts of the template: those of the larger file.
    fn all_cohorts(&self) -> u64 {
        self.cohorts.max(self.small_cohorts)
    }

    /// The accounts, each a member of one cohort.
    fn accounts(&self) -> u64 {
        self.all_cohorts() * self.members
    }

    /// The courses, each bound to one cohort.
    fn courses(&self) -> u64 {
        self.all_cohorts() * self.bindings
    }
}

/// The input files: the setup's, and the members file of each size.
struct Files {
    users: PathBuf,
    courses: PathBuf,
    cohorts: PathBuf,
    bindings: PathBuf,
    members: Vec<Input>,
}

/// A members file.
struct Input {
    cohorts: u64,
    rows: u64,
    /// The enrolments (and role assignments) its first feed makes.
    enrolments: u64,
    bytes: u64,
    path: PathBuf,
}

fn write_files(settings: &Settings, dir: &Path) -> Result<Files, String> {
    let fail = |path: &Path, e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let started = Instant::now();
    let files = Files {
        users: dir.join("users.csv"),
        courses: dir.join("courses.csv"),
        cohorts: dir.join("cohorts.csv"),
        bindings: dir.join("cohort-courses.csv"),
        members: Vec::new(),
    };
    enrolment_files::write_users(&files.users, settings.accounts())
        .map_err(|e| fail(&files.users, e))?;
    enrolment_files::write_courses(&files.courses, settings.courses())
        .map_err(|e| fail(&files.courses, e))?;
    generate::write_cohorts(&files.cohorts, settings.all_cohorts())
        .map_err(|e| fail(&files.cohorts, e))?;
    generate::write_bindings(&files.bindings, settings.all_cohorts(), settings.bindings)
        .map_err(|e| fail(&files.bindings, e))?;
    let mut files = files;
    for cohorts in [settings.cohorts, settings.small_cohorts] {
        let rows = cohorts * settings.members;
        let path = dir.join(format!("members-{rows}.csv"));
        generate::write_members(&path, cohorts, settings.members).map_err(|e| fail(&path, e))?;
        files.members.push(Input {
            cohorts,
            rows,
            enrolments: rows * settings.bindings,
            bytes: file_size(&path),
            path,
        });
    }
    eprintln!(
        "generated {} accounts, {} courses, {} cohorts and {} bindings, members files of {} in {:.1} s",
        settings.accounts(),
        settings.courses(),
        settings.all_cohorts(),
        settings.all_cohorts() * settings.bindings,
        files
            .members
            .iter()
            .map(|i| format!("{} rows ({})", i.rows, bytes(i.bytes)))
            .collect::<Vec<_>>()
            .join(" and "),
        started.elapsed().as_secs_f64()
    );
    Ok(files)
}

/// `--generate COHORTS DIR`: writes the setup files and the members file for COHORTS cohorts
/// (with `--members`, `--bindings` after them) and exits.
fn generate_command(args: &[String]) -> Result<(), String> {
    let [cohorts, dir, rest @ ..] = args else {
        return Err("usage: --generate COHORTS DIR [--members N] [--bindings N]".into());
    };
    let mut settings = Settings::parse(rest)?;
    settings.cohorts = parse_count(cohorts)?;
    settings.small_cohorts = settings.cohorts;
    let files = write_files(&settings, Path::new(dir))?;
    for path in [
        &files.users,
        &files.courses,
        &files.cohorts,
        &files.bindings,
        &files.members[0].path,
    ] {
        println!("{}", path.display());
    }
    Ok(())
}

/// `--baseline FILE DATA_DIR`: the hand-written loop, in its own process; prints its counts
/// (members added, rows unchanged, enrolments, role assignments, rows failed).
fn baseline_command(args: &[String]) -> Result<(), String> {
    let [file, data] = args else {
        return Err("usage: --baseline FILE DATA_DIR".into());
    };
    let c = baseline::run(Path::new(file), &Path::new(data).join("store"))?;
    println!(
        "{} {} {} {} {}",
        c.created, c.unchanged, c.enrolments, c.assignments, c.failed
    );
    Ok(())
}

/// `--digest DATA_DIR`: the store's entries per keyspace (`SPACE COUNT` lines) and the digest
/// of every key and value (`digest N`), host keyspaces aside.
fn digest_command(args: &[String]) -> Result<(), String> {
    let [data] = args else {
        return Err("usage: --digest DATA_DIR".into());
    };
    let (spaces, digest) = baseline::digest(&Path::new(data).join("store"))?;
    for (space, count) in spaces {
        println!("{space} {count}");
    }
    println!("digest {digest}");
    Ok(())
}

/// The store as the `--digest` child read it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Raw {
    spaces: BTreeMap<String, u64>,
    digest: u64,
}

impl Raw {
    fn count(&self, space: &str) -> u64 {
        self.spaces.get(space).copied().unwrap_or(0)
    }
}

fn raw(data: &Path) -> Result<Raw, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the bench binary: {e}"))?;
    let output = Command::new(exe)
        .arg("--digest")
        .arg(data)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start the digest: {e}"))?;
    if !output.status.success() {
        return Err(format!("the digest of {} failed", data.display()));
    }
    let mut raw = Raw {
        spaces: BTreeMap::new(),
        digest: 0,
    };
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let (name, n) = line
            .rsplit_once(' ')
            .ok_or("a digest line without a count")?;
        let n = n.parse().map_err(|_| format!("bad digest line `{line}`"))?;
        match name {
            "digest" => raw.digest = n,
            space => {
                raw.spaces.insert(space.to_string(), n);
            }
        }
    }
    Ok(raw)
}

/// What a run of toolsync or the loop says it did: (created, unchanged, other), where other
/// counts rows updated, deleted or failed; the loop's enrolments and role assignments made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Said {
    created: u64,
    unchanged: u64,
    other: u64,
    /// The loop's only (toolsync's report does not count them apart).
    made: Option<(u64, u64)>,
}

/// The `.report.json` files in a data folder's reports folder.
fn reports(data: &Path) -> Vec<PathBuf> {
    let dir = data.join("files").join("reports");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().ends_with(".report.json"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The counts of the one report stored since `before`.
fn new_report_counts(data: &Path, before: &[PathBuf]) -> Result<Said, String> {
    let new: Vec<PathBuf> = reports(data)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let [path] = new.as_slice() else {
        return Err(format!("{} new reports stored, not 1", new.len()));
    };
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let report: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let count = |kind: &str| report["counts"][kind].as_u64().unwrap_or(0);
    Ok(Said {
        created: count("created"),
        unchanged: count("unchanged"),
        other: count("updated") + count("deleted") + count("failed"),
        made: None,
    })
}

/// One measured run of a side on `data`; `shown` names it on the console. Fails unless it
/// says it did `expected`.
fn feed(
    bench: &Bench,
    side: Side,
    (label, shown): (&str, &str),
    input: &Input,
    data: &Path,
    expected: Said,
) -> Result<Measure, String> {
    let (mut measure, said) = match side {
        Side::Toolsync => {
            let before = reports(data);
            let measure = bench.run_toolsync(
                shown,
                input.rows,
                data,
                &[OsStr::new("cohorts"), input.path.as_os_str()],
            )?;
            (measure, new_report_counts(data, &before)?)
        }
        Side::Baseline => {
            let (measure, out) = bench.run_baseline(
                shown,
                input.rows,
                data,
                &[input.path.as_os_str(), data.as_os_str()],
            )?;
            let n: Vec<u64> = out
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            let [created, unchanged, enrolments, assignments, failed] = n[..] else {
                return Err(format!("{shown}: the baseline printed {out:?}"));
            };
            let said = Said {
                created,
                unchanged,
                other: failed,
                made: Some((enrolments, assignments)),
            };
            (measure, said)
        }
    };
    let expected = Said {
        made: (side == Side::Baseline).then_some(expected.made.unwrap_or_default()),
        ..expected
    };
    if said != expected {
        return Err(format!(
            "{shown}: the run said {said:?}, not {expected:?} (created, unchanged, updated + deleted + failed rows; the loop's enrolments and role assignments)"
        ));
    }
    measure.label = label.to_string();
    Ok(measure)
}

/// What a store holds after the two feeds, as toolsync reads it: compared across the runs of a
/// size.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Content {
    enrolments: u64,
    assignments: u64,
    instances: u64,
    /// One digest of the three exports.
    digest: u64,
    /// Entries per keyspace of the model, as `toolsync check` counted them.
    keyspaces: BTreeMap<String, u64>,
}

/// One side's two feeds on a copy of the template, with their checks.
struct Fed {
    first: Measure,
    again: Measure,
    content: Content,
}

fn feed_twice(
    bench: &Bench,
    (template, before): (&Path, &Raw),
    settings: &Settings,
    input: &Input,
    side: Side,
    label: &str,
) -> Result<Fed, String> {
    let data = bench.copied_data(template, label)?;
    let first = feed(
        bench,
        side,
        (label, &format!("{label} first feed")),
        input,
        &data,
        Said {
            created: input.rows,
            unchanged: 0,
            other: 0,
            made: Some((input.enrolments, input.enrolments)),
        },
    )?;
    let checked = Instant::now();
    let after = raw(&data)?;
    for (space, count) in &before.spaces {
        if !WRITTEN.iter().any(|(s, _)| s == space) && after.count(space) != *count {
            return Err(format!(
                "{label}: `{space}` holds {} entries after the first feed, {count} before",
                after.count(space)
            ));
        }
    }
    for (space, per_binding) in WRITTEN {
        let made = if per_binding {
            input.enrolments
        } else {
            input.rows
        };
        let expected = before.count(space) + made;
        if after.count(space) != expected {
            return Err(format!(
                "{label}: `{space}` holds {} entries after the first feed, not {expected}",
                after.count(space)
            ));
        }
    }
    eprintln!(
        "  checked in {:.1} s: {} memberships, {} enrolments, {} role assignments",
        checked.elapsed().as_secs_f64(),
        after.count("cohort.member"),
        after.count("enrol.user"),
        after.count("role.assignment")
    );

    let again = feed(
        bench,
        side,
        (label, &format!("{label} re-feed")),
        input,
        &data,
        Said {
            created: 0,
            unchanged: input.rows,
            other: 0,
            made: Some((0, 0)),
        },
    )?;
    let checked = Instant::now();
    if raw(&data)? != after {
        return Err(format!(
            "{label}: the re-feed changed the store (every row was unchanged: it should write nothing)"
        ));
    }
    let content = content(bench, &data)?;
    let found = (content.enrolments, content.assignments, content.instances);
    let expected = (
        input.enrolments + before.count("enrol.user"),
        input.enrolments + before.count("role.assignment"),
        settings.all_cohorts() * settings.bindings,
    );
    if found != expected {
        return Err(format!(
            "{label}: the exports list (enrolments, role assignments, instances) {found:?}, not {expected:?}"
        ));
    }
    eprintln!(
        "  checked in {:.1} s: the store unchanged byte for byte; exports of {} enrolments, {} role assignments, {} instances; check clean",
        checked.elapsed().as_secs_f64(),
        content.enrolments,
        content.assignments,
        content.instances
    );
    let _ = std::fs::remove_dir_all(&data);
    Ok(Fed {
        first,
        again,
        content,
    })
}

/// The store as toolsync reads it: the exports (counted, one digest) and `check` (consistent;
/// entries per model keyspace).
fn content(bench: &Bench, data: &Path) -> Result<Content, String> {
    let mut hasher = DefaultHasher::new();
    // The CSV export of enrolments is the enrolments processor's input: it leaves out those
    // a method owns (cohort bindings), so the JSON one, without its times (each run's own).
    let enrolments = bench.digest_json_export(
        data,
        "enrolments",
        &["timecreated", "timemodified"],
        &mut hasher,
    )?;
    let mut count = |entity: &str| bench.digest_export(data, entity, &[], &mut hasher);
    let assignments = count("role-assignments")?;
    let instances = count("enrol-instances")?;
    let keyspaces = bench
        .check(data)?
        .into_iter()
        .filter(|(space, _)| !space.starts_with('_'))
        .collect();
    Ok(Content {
        enrolments,
        assignments,
        instances,
        digest: hasher.finish(),
        keyspaces,
    })
}

/// The machine's load average over 1, 5 and 15 minutes.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The setup: what each step made and how long it took.
struct Setup {
    steps: Vec<(String, f64)>,
    store: u64,
}

fn bench(settings: &Settings) -> Result<(), String> {
    let load_before = load();
    let bench = Bench::prepare(&settings.work, &PLUGINS)?;
    let files = write_files(settings, &settings.work)?;

    // The template: accounts, courses, cohorts bound to their courses (no members), made by
    // toolsync, copied for every measured run.
    let template = settings.work.join("template");
    let mut steps = Vec::new();
    for (processor, file, made) in [
        ("users", &files.users, settings.accounts()),
        ("course-create", &files.courses, settings.courses()),
        ("cohorts", &files.cohorts, settings.all_cohorts()),
        (
            "cohort-courses",
            &files.bindings,
            settings.all_cohorts() * settings.bindings,
        ),
    ] {
        let started = Instant::now();
        bench.setup_run(&template, processor, file)?;
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("setup: `run {processor}`, {made} rows, {seconds:.1} s");
        steps.push((format!("`run {processor}` {made} rows"), seconds));
    }
    let before = raw(&template)?;
    let expected = [
        ("cohort", settings.all_cohorts()),
        ("cohort.binding", settings.all_cohorts() * settings.bindings),
        ("enrol", settings.all_cohorts() * settings.bindings),
        ("cohort.member", 0),
        ("enrol.user", 0),
    ];
    for (space, count) in expected {
        if before.count(space) != count {
            return Err(format!(
                "setup: the template holds {} `{space}` entries, not {count}",
                before.count(space)
            ));
        }
    }
    let setup = Setup {
        steps,
        store: disk_usage(&template.join("store")),
    };

    let mut sizes = Vec::new();
    for input in &files.members {
        let fed = harness::alternate(settings.pairs, input.rows, |side, label| {
            feed_twice(&bench, (&template, &before), settings, input, side, label)
        })?;
        let contents: Vec<_> = fed
            .iter()
            .map(|f| (f.first.label.clone(), f.content.clone()))
            .collect();
        harness::same_content(&contents)?;
        let (first, again): (Vec<Measure>, Vec<Measure>) =
            fed.into_iter().map(|f| (f.first, f.again)).unzip();
        sizes.push((first, again));
    }
    let _ = std::fs::remove_dir_all(&settings.work);
    let (big, small) = (&sizes[0], &sizes[1]);
    report(
        settings,
        &files,
        &setup,
        (&big.0, &big.1),
        (&small.0, &small.1),
    );
    println!(
        "load average (1, 5, 15 min): {load_before} at the start, {} at the end",
        load()
    );
    Ok(())
}

type Feeds<'a> = (&'a [Measure], &'a [Measure]);

fn report(settings: &Settings, files: &Files, setup: &Setup, big: Feeds<'_>, small: Feeds<'_>) {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let (rows, small_rows) = (files.members[0].rows, files.members[1].rows);
    println!();
    println!(
        "toolsync cohorts benchmark: {cores} cores, {} pair(s) per size",
        settings.pairs
    );
    println!(
        "  store before each run: {} accounts, {} courses, {} cohorts each bound to {} courses ({} bindings, no members yet) ({} on disk)",
        settings.accounts(),
        settings.courses(),
        settings.all_cohorts(),
        settings.bindings,
        settings.all_cohorts() * settings.bindings,
        bytes(setup.store)
    );
    println!(
        "  setup (untimed below): {}",
        setup
            .steps
            .iter()
            .map(|(what, s)| format!("{what} {s:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for input in &files.members {
        println!(
            "  input {}: {} rows `{}` ({} cohorts x {} members, cohort-major) -> {} enrolments, {}",
            size_name(input.rows),
            input.rows,
            generate::MEMBERS_HEADER,
            input.cohorts,
            settings.members,
            input.enrolments,
            bytes(input.bytes)
        );
    }

    println!();
    println!(
        "First feed: every row adds a member, enrolled through {} bindings (`created`)",
        settings.bindings
    );
    println!();
    measure::print_table(big.0.iter().chain(small.0));
    println!();
    println!("{}", harness::throughput_line(rows, big.0, Some(0.8)).0);
    println!("{}", harness::throughput_line(small_rows, small.0, None).0);
    for (n, feeds) in [(rows, big.0), (small_rows, small.0)] {
        println!(
            "{} enrolments/s: best toolsync {:.0}, best baseline {:.0}",
            size_name(n),
            harness::best_rate(feeds, Side::Toolsync) * settings.bindings as f64,
            harness::best_rate(feeds, Side::Baseline) * settings.bindings as f64
        );
    }
    growth_and_ratios((rows, big.0), (small_rows, small.0));

    println!();
    println!("Re-feed: the same file on the same store, every row `unchanged`, nothing written");
    println!();
    measure::print_table(big.1.iter().chain(small.1));
    println!();
    println!("{}", harness::throughput_line(rows, big.1, None).0);
    println!("{}", harness::throughput_line(small_rows, small.1, None).0);
    growth_and_ratios((rows, big.1), (small_rows, small.1));
    for (n, feeds, target) in [(rows, big, Some(REFEED_TARGET)), (small_rows, small, None)] {
        for side in [Side::Toolsync, Side::Baseline] {
            let (first, again) = (harness::of(feeds.0, side), harness::of(feeds.1, side));
            let best = harness::best_rate(feeds.1, side) / harness::best_rate(feeds.0, side);
            let per_run: Vec<String> = first
                .iter()
                .zip(&again)
                .map(|(f, a)| format!("{:.1}", a.rate() / f.rate()))
                .collect();
            let mut line = format!(
                "{} re-feed/first feed speed, {}: best {best:.1}x (per run: {})",
                size_name(n),
                side.word(),
                per_run.join(", ")
            );
            if let (Some(target), Side::Toolsync) = (target, side) {
                line.push_str(&format!(
                    "; target >= {target:.0}x: {}",
                    verdict(best >= target)
                ));
            }
            println!("{line}");
        }
    }
}

/// Each side's memory growth from the small size to the large one, and the per-pair ratios of
/// CPU time and peak memory.
fn growth_and_ratios(big: (u64, &[Measure]), small: (u64, &[Measure])) {
    for side in [Side::Toolsync, Side::Baseline] {
        println!("{}", harness::growth_line(side, small, big, None).0);
    }
    println!(
        "CPU time baseline/toolsync (throughput by CPU time): {} per pair {}; {} per pair {}",
        size_name(big.0),
        harness::per_pair(big.1, cpu_ratio),
        size_name(small.0),
        harness::per_pair(small.1, cpu_ratio)
    );
    println!(
        "peak RSS toolsync/baseline: {} per pair {}; {} per pair {} (largest: toolsync {}, baseline {})",
        size_name(big.0),
        harness::per_pair(big.1, rss_ratio),
        size_name(small.0),
        harness::per_pair(small.1, rss_ratio),
        kib(harness::peak(big.1, Side::Toolsync)),
        kib(harness::peak(big.1, Side::Baseline))
    );
}

fn cpu_ratio(t: &Measure, b: &Measure) -> f64 {
    b.cpu_seconds / t.cpu_seconds
}

fn rss_ratio(t: &Measure, b: &Measure) -> f64 {
    t.peak_rss_kib as f64 / b.peak_rss_kib.max(1) as f64
}
