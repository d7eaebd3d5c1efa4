//! The end-to-end harness: the real `toolsync` binary, real plugin libraries (built by cargo as
//! the host's dev-dependencies) and a real sled store in a fresh folder per test.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const USERS: &str = "toolsync_users";
pub const COURSES: &str = "toolsync_courses";
pub const ENROLMENTS: &str = "toolsync_enrolments";
pub const GROUPS: &str = "toolsync_groups";
pub const COHORTS: &str = "toolsync_cohorts";
pub const PICTURES: &str = "toolsync_pictures";
pub const PANICKY: &str = "toolsync_fixture_panicky";
pub const API_V2: &str = "toolsync_fixture_api_v2";
pub const API_LAYOUT: &str = "toolsync_fixture_api_layout";
pub const BADGES: &str = "acme_badges";
pub const ROGUE: &str = "toolsync_fixture_rogue";

/// The README's sample sequence: every sample of `examples/` that writes, in the order the
/// files depend on each other (processor, file).
pub const SAMPLES: [(&str, &str); 11] = [
    ("users", "userimport.csv"),
    ("users", "userimport-excel-cp1252.csv"),
    ("course-create", "uploadcourses.csv"),
    ("metacourse", "metacourses.csv"),
    ("enrolments", "enrols.csv"),
    ("users", "userimport-enrolments.csv"),
    ("groups", "groups.csv"),
    ("group-members", "groupmembers.csv"),
    ("cohorts", "cohorts.csv"),
    ("cohort-courses", "cohortscourses.csv"),
    ("pictures", "userpictures_sample.zip"),
];

/// The `examples/` folder.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_toolsync"))
}

/// A plugin library built by cargo for this test run.
pub fn library(name: &str) -> PathBuf {
    let file = format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let dir = bin()
        .parent()
        .expect("the binary has a folder")
        .to_path_buf();
    // `deps/` first: cargo rebuilds the dev-dependency there for every test build, while a copy
    // beside the binary is only refreshed by an explicit `cargo build` and may be stale.
    for candidate in [dir.join("deps").join(&file), dir.join(&file)] {
        if candidate.exists() {
            return candidate;
        }
    }
    panic!("{file} was not built next to {}", bin().display());
}

/// A hard link where the file system allows it (plugin libraries are 15 MB each, and every
/// test makes a world), else a copy.
fn link_or_copy(from: &Path, to: &Path) {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).unwrap();
    }
}

/// One test's world: a data dir, a plugin dir holding the chosen libraries, a work folder.
/// A passing test's world is removed when it is dropped; a failing one's stays for a look.
pub struct World {
    pub root: PathBuf,
    pub data: PathBuf,
    pub plugins: PathBuf,
}

impl Drop for World {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl World {
    /// A world with the given plugin libraries only.
    pub fn with(libraries: &[&str]) -> World {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("e2e")
            .join(format!("{}-{}-{n}", std::process::id(), thread_name()));
        let _ = std::fs::remove_dir_all(&root);
        let plugins = root.join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        for name in libraries {
            let lib = library(name);
            link_or_copy(&lib, &plugins.join(lib.file_name().unwrap()));
        }
        World {
            data: root.join("data"),
            plugins,
            root,
        }
    }

    pub fn users() -> World {
        World::with(&[USERS])
    }

    /// This world's store kept in `engine` (`store = "<engine>"` in its toolsync.toml).
    pub fn on_engine(self, engine: &str) -> World {
        self.top_level(&format!("store = \"{engine}\""))
    }

    /// This world with `line` (a top-level `key = value`) first in its toolsync.toml.
    pub fn top_level(self, line: &str) -> World {
        std::fs::create_dir_all(&self.data).unwrap();
        let config = self.data.join("toolsync.toml");
        let mut text = std::fs::read_to_string(&config).unwrap_or_default();
        text.insert_str(0, &format!("{line}\n"));
        std::fs::write(&config, text).unwrap();
        self
    }

    /// This world's store on the test PostgreSQL server, in a database of its own (`store =
    /// "postgres://..."`).
    pub fn on_postgres(self) -> World {
        let url = self.database("w");
        self.on_engine(&url)
    }

    /// A new database `<what><this world's name>` on the test PostgreSQL server, and its URL.
    pub fn database(&self, what: &str) -> String {
        let name = self
            .root
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(['-', '.'], "_");
        toolsync::store::pg_cluster::Cluster::shared().database(&format!("{what}{name}"))
    }

    /// The course processors, with users (teachers are accounts).
    pub fn courses() -> World {
        World::with(&[USERS, COURSES])
    }

    /// The enrolments processor, with the users and course processors that make what it
    /// enrols.
    pub fn enrolments() -> World {
        World::with(&[USERS, COURSES, ENROLMENTS])
    }

    /// The cohort processors, with the users and course processors that make what they bind,
    /// and enrolments (a manual enrolment beside a binding's).
    pub fn cohorts() -> World {
        World::with(&[USERS, COURSES, ENROLMENTS, COHORTS])
    }

    /// The toolsync binary, linked into a folder of this world's that holds nothing else: its
    /// own folder is on the plugin search path, and the build's target folder may hold test
    /// fixtures (`cargo build --workspace` puts them there).
    pub fn lone_binary(&self) -> PathBuf {
        let dir = self.root.join("bin");
        std::fs::create_dir_all(&dir).unwrap();
        let binary = dir.join("toolsync");
        if !binary.exists() {
            link_or_copy(&bin(), &binary);
        }
        binary
    }

    /// `toolsync --data-dir D --plugin-dir P <args>`, stdin closed.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_of(&bin(), args)
    }

    /// [`World::command`] with [`World::lone_binary`]: no plugin but the world's is found.
    pub fn lone_command(&self, args: &[&str]) -> Command {
        self.command_of(&self.lone_binary(), args)
    }

    fn command_of(&self, binary: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary);
        cmd.arg("--data-dir")
            .arg(&self.data)
            .arg("--plugin-dir")
            .arg(&self.plugins)
            .args(args)
            .current_dir(&self.root)
            .env_remove("TOOLSYNC_DATA")
            .env_remove("TOOLSYNC_PLUGIN_PATH")
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// Runs toolsync to its end. Whatever the test expects, a panic reaching the user (exit
    /// 101, a "panicked at" on stderr) fails it: no input, however hostile, may cause one.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("toolsync runs");
        let run = Run { output };
        run.assert_no_panic(args);
        run
    }

    /// [`World::run`] for a command that a bug would block forever: see [`run_bounded`].
    pub fn run_bounded(&self, args: &[&str]) -> Run {
        run_bounded(self.command(args), None)
    }

    /// Writes a file in the work folder and returns its path.
    pub fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.root.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// `toolsync run <processor> <file> --json <extra>` → (exit code, JSON report).
    pub fn run_json(
        &self,
        processor: &str,
        file: &Path,
        extra: &[&str],
    ) -> (i32, serde_json::Value) {
        let file = file.to_str().unwrap();
        let mut args = vec!["run", processor, file, "--json"];
        args.extend_from_slice(extra);
        let run = self.run(&args);
        let report = serde_json::from_slice(&run.output.stdout).unwrap_or_else(|e| {
            panic!(
                "not a JSON report ({e}): {}\nstderr: {}",
                run.stdout(),
                run.stderr()
            )
        });
        (run.code(), report)
    }

    /// `export users --format json`, as a JSON array.
    pub fn export_users(&self) -> Vec<serde_json::Value> {
        let run = self.run(&["export", "users", "--format", "json"]);
        assert_eq!(run.code(), 0, "export failed: {}", run.stderr());
        serde_json::from_slice(&run.output.stdout).expect("export prints JSON")
    }

    /// `show user <key>` as JSON, or None when not found.
    pub fn show_user(&self, key: &str) -> Option<serde_json::Value> {
        let run = self.run(&["show", "user", key]);
        match run.code() {
            0 => Some(serde_json::from_slice(&run.output.stdout).expect("show prints JSON")),
            1 => None,
            code => panic!("show user {key}: exit {code}: {}", run.stderr()),
        }
    }

    /// `show <entity> <key>` as JSON, or None when not found (exit 1).
    pub fn show(&self, entity: &str, key: &str) -> Option<serde_json::Value> {
        let run = self.run(&["show", entity, key]);
        match run.code() {
            0 => Some(serde_json::from_slice(&run.output.stdout).expect("show prints JSON")),
            1 => None,
            code => panic!("show {entity} {key}: exit {code}: {}", run.stderr()),
        }
    }

    /// `run <processor> <file> --report full <extra>` → (exit code, text report with every
    /// row).
    pub fn run_text(&self, processor: &str, file: &Path, extra: &[&str]) -> (i32, String) {
        let mut args = vec!["run", processor, file.to_str().unwrap(), "--report", "full"];
        args.extend_from_slice(extra);
        let run = self.run(&args);
        (run.code(), run.stdout())
    }

    /// `toolsync check` passes: every index matches its record, nothing dangles.
    pub fn assert_consistent(&self) {
        let run = self.run(&["check"]);
        assert_eq!(
            run.code(),
            0,
            "toolsync check found problems:\n{}{}",
            run.stdout(),
            run.stderr()
        );
    }

    /// Opens the world's store in this process (created if need be) for `f`, and returns once
    /// its lock is free again, so that a toolsync command may follow at once.
    pub fn with_store<T>(&self, f: impl FnOnce(&toolsync::store::Store) -> T) -> T {
        let store = toolsync::data_dir::DataDir::resolve(Some(&self.data))
            .unwrap()
            .open_or_create_store()
            .unwrap();
        let value = f(&store);
        self.release_store(store);
        value
    }

    /// Drops a store this process opened and waits until its lock is free: sled's background
    /// threads let go of the store's file a moment after the handle goes, and a toolsync command
    /// started meanwhile would find the store "in use" (seen in CI).
    pub fn release_store(&self, store: toolsync::store::Store) {
        let on_server = store.engine() == toolsync::store::EngineKind::Postgres;
        drop(store);
        if on_server {
            // Its session, and so its lock, ends with the handle.
            return;
        }
        let store = self.data.join("store");
        let name = ["db", "store.redb"]
            .into_iter()
            .find(|name| store.join(name).is_file())
            .expect("the store has a file");
        let file = std::fs::File::open(store.join(name)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            use std::os::fd::AsRawFd;
            // SAFETY: plain system calls on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the store stays locked after its drop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every byte of every file under the store folder.
    pub fn store_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        collect(&self.data.join("store"), &mut all);
        all
    }
}

fn collect(dir: &Path, out: &mut Vec<u8>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
}

fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("t")
        .replace("::", "-")
}

/// How long a bounded command may take: far beyond any run of these tests, so that only a hang
/// reaches it.
pub const HANG: Duration = Duration::from_secs(120);

/// Runs `cmd` to its end, `stdin` written to it when given (else its own stdin setting). A command
/// still running after [`HANG`] is killed and the test fails, instead of the test hanging too.
pub fn run_bounded(mut cmd: Command, stdin: Option<Vec<u8>>) -> Run {
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("toolsync starts");
    // Each pipe drained by its own thread, so that a full pipe never stops the child.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A child that never reads closes the pipe: that write may fail.
        std::thread::spawn(move || pipe.write_all(&bytes));
    }
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "toolsync hung: killed after {HANG:?}; stderr so far: {}",
                String::from_utf8_lossy(&stderr.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        output: Output {
            status,
            stdout: stdout.join().unwrap(),
            stderr: stderr.join().unwrap(),
        },
    };
    run.assert_no_panic(&[]);
    run
}

pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn assert_no_panic(&self, args: &[&str]) {
        let stderr = self.stderr();
        assert!(
            self.code() != 101
                && !stderr.contains("panicked at")
                && !stderr.contains("RUST_BACKTRACE"),
            "toolsync {args:?} panicked (exit {}): {stderr}",
            self.code()
        );
    }

    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
}

/// Does `haystack` contain `needle` anywhere?
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A JSON report's counts: (created, updated, deleted, unchanged, failed).
pub fn counts(report: &serde_json::Value) -> (u64, u64, u64, u64, u64) {
    let c = &report["counts"];
    (
        c["created"].as_u64().unwrap(),
        c["updated"].as_u64().unwrap(),
        c["deleted"].as_u64().unwrap(),
        c["unchanged"].as_u64().unwrap(),
        c["failed"].as_u64().unwrap(),
    )
}

/// The reason of each failed row of a JSON report, in line order.
pub fn reasons(report: &serde_json::Value) -> Vec<&str> {
    report["errors"]
        .as_array()
        .expect("a JSON report lists its errors")
        .iter()
        .map(|e| e["reason"].as_str().expect("every error has a reason"))
        .collect()
}

/// A users file of `rows` generated accounts in the world's folder; with `bad_every: Some(n)`,
/// every n-th row has a username the users processor refuses.
pub fn users_file(world: &World, name: &str, rows: usize, bad_every: Option<usize>) -> PathBuf {
    use std::io::Write;
    let path = world.root.join(name);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "username;firstname;lastname;email;idnumber;city").unwrap();
    for i in 0..rows {
        if bad_every.is_some_and(|n| i % n == n - 1) {
            writeln!(out, "bad user {i};x;y;bad{i}@x.org;B{i};Lyon").unwrap();
        } else {
            writeln!(
                out,
                "user{i};First{i};Last{i};user{i}@example.org;ID{i};City {}",
                i % 97
            )
            .unwrap();
        }
    }
    out.flush().unwrap();
    path
}

/// `export users` without the run-time stamps, which differ between two stores by
/// construction.
pub fn export_without_stamps(world: &World) -> Vec<serde_json::Value> {
    world
        .export_users()
        .into_iter()
        .map(|mut u| {
            let o = u.as_object_mut().unwrap();
            o.remove("timecreated");
            o.remove("timemodified");
            u
        })
        .collect()
}

/// The JSON export of each entity, without what differs between two stores holding the same
/// data by construction: stamps and dates from a run's "now" (`time…`, `startdate`,
/// `enddate`) and salted password hashes. Compared before and after a run, or across stores.
pub fn exports_without_stamps(world: &World, entities: &[&str]) -> Vec<String> {
    entities
        .iter()
        .map(|entity| {
            let run = world.run(&["export", entity, "--format", "json"]);
            assert_eq!(run.code(), 0, "export {entity}: {}", run.stderr());
            let mut rows: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
            for row in rows.as_array_mut().unwrap() {
                row.as_object_mut().unwrap().retain(|key, _| {
                    !key.starts_with("time")
                        && !matches!(key.as_str(), "password_hash" | "startdate" | "enddate")
                });
            }
            rows.to_string()
        })
        .collect()
}
