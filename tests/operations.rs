//! The operator's commands end to end: the file area (`files ls|put|get|rm|mkdir`, `run
//! <processor> area:<path>`), the drop folder (`ingest`), the run history (`reports`, `reports
//! show`, `reports prune`) and the bundle (`runall`).
//!
//! Every command goes through [`World::run_bounded`] (or [`lone`]): a bug that blocks (a FIFO
//! opened, a lock never freed) fails the test instead of hanging it.

mod common;
use common::*;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Helpers

/// The JSON a command printed on stdout.
fn json(run: &Run) -> Value {
    serde_json::from_slice(&run.output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", run.stdout(), run.stderr()))
}

/// A command that must succeed; its run.
fn ok(world: &World, args: &[&str]) -> Run {
    let run = world.run_bounded(args);
    assert_eq!(
        run.code(),
        0,
        "toolsync {args:?}: exit {}\nstdout: {}\nstderr: {}",
        run.code(),
        run.stdout(),
        run.stderr()
    );
    run
}

/// `p` as a command-line argument.
fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The file area of a world.
fn area(world: &World) -> PathBuf {
    world.data.join("files")
}

/// The file area made by hand, for tests whose subject is not `files put` (which cannot make
/// it: see `files_put_into_a_fresh_data_dir`).
fn make_area(world: &World) {
    std::fs::create_dir_all(area(world)).unwrap();
}

/// `bytes` written straight into the area as `name`.
fn place(world: &World, name: &str, bytes: impl AsRef<[u8]>) {
    let path = area(world).join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The names in a folder, sorted (empty when it does not exist).
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// The values of `key` in each object of a JSON array.
fn column<'a>(array: &'a Value, key: &str) -> Vec<&'a Value> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .map(|item| &item[key])
        .collect()
}

/// The strings of `key` in each object of a JSON array.
fn strings(array: &Value, key: &str) -> Vec<String> {
    column(array, key)
        .into_iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("`{key}` is not a string: {v}"))
                .to_string()
        })
        .collect()
}

/// The toolsync binary alone in a folder of the world (the build folder holds every plugin
/// built, test fixtures included, and `runall` runs every processor it finds), with the world's
/// data and plugin dirs.
fn lone(world: &World, args: &[&str]) -> Run {
    run_bounded(world.lone_command(args), None)
}

const USERS_OK: &str = "username;firstname;lastname;email\n\
                        ann;Ann;Arbor;ann@example.org\n\
                        bob;Bob;Brook;bob@example.org\n";

const USERS_OTHER: &str = "username;firstname;lastname;email\n\
                           cid;Cid;Cole;cid@example.org\n";

// ---------------------------------------------------------------------------------------------
// files

/// put, ls (text and JSON), replace, get (stdout, a local file, --force), rm and mkdir, and
/// every path that would write outside the area or into its reserved folders refused (exit 2)
/// with nothing written.
#[test]
fn files_put_ls_get_rm_mkdir_round_trip() {
    let world = World::users();
    // Before anything: an empty area, as JSON too.
    let listing = json(&ok(&world, &["files", "ls", "--json"]));
    assert_eq!(listing, serde_json::json!([]));

    ok(&world, &["files", "mkdir", "in/sub"]);
    assert!(area(&world).join("in/sub").is_dir());
    // mkdir of a folder that exists is fine.
    ok(&world, &["files", "mkdir", "in"]);

    let local = world.file("users.csv", USERS_OK);
    // Into a folder (trailing `/`): the file's own name.
    let run = ok(&world, &["files", "put", arg(&local), "in/"]);
    assert_eq!(run.stdout(), "in/users.csv\n");
    assert!(!run.stderr().contains("replaced"), "{}", run.stderr());
    // No area path: the top of the area, own name.
    let run = ok(&world, &["files", "put", arg(&local)]);
    assert_eq!(run.stdout(), "users.csv\n");
    // An area path: that name.
    let run = ok(&world, &["files", "put", arg(&local), "in/renamed.csv"]);
    assert_eq!(run.stdout(), "in/renamed.csv\n");
    // An existing folder without the `/`: into it.
    let other = world.file("other.csv", USERS_OTHER);
    let run = ok(&world, &["files", "put", arg(&other), "in/sub"]);
    assert_eq!(run.stdout(), "in/sub/other.csv\n");
    assert_eq!(
        std::fs::read(area(&world).join("in/sub/other.csv")).unwrap(),
        USERS_OTHER.as_bytes()
    );

    // Replacing: said on stderr, the new bytes whole, no temporary file left beside it.
    let run = ok(&world, &["files", "put", arg(&other), "in/users.csv"]);
    assert_eq!(run.stdout(), "in/users.csv\n");
    assert!(run.stderr().contains("replaced"), "{}", run.stderr());
    assert_eq!(
        std::fs::read(area(&world).join("in/users.csv")).unwrap(),
        USERS_OTHER.as_bytes()
    );
    assert_eq!(
        names(&area(&world).join("in")),
        ["renamed.csv", "sub", "users.csv"]
    );

    // ls: folders first, then files, with sizes; JSON and text.
    let top = json(&ok(&world, &["files", "ls", "--json"]));
    assert_eq!(strings(&top, "path"), ["in/", "users.csv"]);
    assert_eq!(strings(&top, "kind"), ["folder", "file"]);
    assert_eq!(top[1]["size"], USERS_OK.len() as u64);
    assert_eq!(top[1]["reserved"], false);
    assert!(top[1]["modified"].as_i64().unwrap() > 0, "{top}");
    let inner = json(&ok(&world, &["files", "ls", "in", "--json"]));
    assert_eq!(
        strings(&inner, "path"),
        ["in/sub/", "in/renamed.csv", "in/users.csv"]
    );
    assert_eq!(inner[2]["size"], USERS_OTHER.len() as u64);
    let text = ok(&world, &["files", "ls", "in"]).stdout();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].ends_with("in/sub/"), "{text}");
    assert!(
        lines[2].ends_with("in/users.csv")
            && lines[2]
                .trim_start()
                .starts_with(&USERS_OTHER.len().to_string()),
        "{text}"
    );

    // A missing parent folder: refused, saying how to make it; nothing written.
    let run = world.run_bounded(&["files", "put", arg(&local), "nowhere/x.csv"]);
    assert_ne!(run.code(), 0, "{}", run.stdout());
    assert!(
        run.stderr().contains("files mkdir nowhere"),
        "{}",
        run.stderr()
    );
    assert!(!area(&world).join("nowhere").exists());

    // Reserved folders, `..` and absolute paths: usage errors (exit 2), nothing written.
    let absolute = world.root.join("abs.csv");
    for args in [
        &["files", "put", arg(&local), "archives/x.csv"][..],
        &["files", "put", arg(&local), "reports/x.csv"][..],
        &["files", "put", arg(&local), "archives/"][..],
        &["files", "put", arg(&local), "../x.csv"][..],
        &["files", "put", arg(&local), "in/../../x.csv"][..],
        &["files", "put", arg(&local), arg(&absolute)][..],
        &["files", "mkdir", "archives/new"][..],
        &["files", "mkdir", "reports"][..],
        &["files", "mkdir", "../out"][..],
        &["files", "rm", "archives"][..],
        &["files", "rm", "../users.csv"][..],
        &["files", "get", "../users.csv", "-"][..],
        &["files", "ls", "../"][..],
    ] {
        let run = world.run_bounded(args);
        assert_eq!(run.code(), 2, "{args:?}: {}{}", run.stdout(), run.stderr());
        assert!(!run.stderr().is_empty(), "{args:?}: a refusal says why");
    }
    assert!(!world.data.join("x.csv").exists());
    assert!(!world.root.join("x.csv").exists());
    assert!(!world.data.join("out").exists());
    assert!(!absolute.exists());
    assert!(!area(&world).join("archives").exists());
    assert!(!area(&world).join("reports").exists());
    assert!(local.exists(), "a refused put leaves the local file");

    // get to stdout: the bytes.
    let run = ok(&world, &["files", "get", "in/users.csv", "-"]);
    assert_eq!(run.output.stdout, USERS_OTHER.as_bytes());
    // get to a local file; again without --force refused, the local file unchanged; with
    // --force replaced.
    let out = world.root.join("out.csv");
    ok(&world, &["files", "get", "in/users.csv", arg(&out)]);
    assert_eq!(std::fs::read(&out).unwrap(), USERS_OTHER.as_bytes());
    let run = world.run_bounded(&["files", "get", "users.csv", arg(&out)]);
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("--force"), "{}", run.stderr());
    assert_eq!(std::fs::read(&out).unwrap(), USERS_OTHER.as_bytes());
    ok(&world, &["files", "get", "users.csv", arg(&out), "--force"]);
    assert_eq!(std::fs::read(&out).unwrap(), USERS_OK.as_bytes());
    // No local name: the file's own name, in the current directory.
    ok(&world, &["files", "get", "in/renamed.csv"]);
    assert_eq!(
        std::fs::read(world.root.join("renamed.csv")).unwrap(),
        USERS_OK.as_bytes()
    );
    // A file that is not there.
    let run = world.run_bounded(&["files", "get", "in/nope.csv", "-"]);
    assert_ne!(run.code(), 0);
    assert!(run.output.stdout.is_empty());

    // rm: a folder that is not empty is refused; files, then empty folders, go.
    let run = world.run_bounded(&["files", "rm", "in"]);
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("not empty"), "{}", run.stderr());
    assert!(area(&world).join("in/users.csv").exists());
    for name in [
        "in/users.csv",
        "in/renamed.csv",
        "in/sub/other.csv",
        "in/sub",
        "in",
    ] {
        ok(&world, &["files", "rm", name]);
        assert!(!area(&world).join(name).exists(), "{name}");
    }
    let run = world.run_bounded(&["files", "rm", "in"]);
    assert_ne!(run.code(), 0, "removing what is not there fails");
    let top = json(&ok(&world, &["files", "ls", "--json"]));
    assert_eq!(strings(&top, "path"), ["users.csv"]);
}

/// `files put` into a data dir that has no file area yet (before any run): the area is made,
/// as `files mkdir` and `ingest` make it.
#[test]
fn files_put_into_a_fresh_data_dir() {
    let world = World::users();
    assert!(!world.data.exists());
    let local = world.file("userimport.csv", USERS_OK);
    let run = world.run_bounded(&["files", "put", arg(&local)]);
    assert_eq!(
        run.code(),
        0,
        "the first put of a new data dir: {}",
        run.stderr()
    );
    assert_eq!(run.stdout(), "userimport.csv\n");
    assert_eq!(
        std::fs::read(area(&world).join("userimport.csv")).unwrap(),
        USERS_OK.as_bytes()
    );
}

/// `run users area:<path>` reads the file of the area, never a local file of that name; the
/// area's archives are never read as input (exit 3), though `files get` copies them out.
#[test]
fn run_reads_the_area_and_never_its_archives() {
    let world = World::users();
    ok(&world, &["files", "mkdir", "in"]);
    let local = world.file("good.csv", USERS_OK);
    ok(&world, &["files", "put", arg(&local), "in/users.csv"]);
    // A local file of the same relative path, which would fail a row and add an account.
    std::fs::create_dir_all(world.root.join("in")).unwrap();
    std::fs::write(
        world.root.join("in/users.csv"),
        "username;firstname;lastname\nbad user;X;Y\nzed;Zed;Z\n",
    )
    .unwrap();

    let run = world.run_bounded(&["run", "users", "area:in/users.csv", "--json"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let report = json(&run);
    assert_eq!(counts(&report), (2, 0, 0, 0, 0), "{report}");
    assert!(
        report["file"]
            .as_str()
            .unwrap()
            .ends_with("files/in/users.csv"),
        "{report}"
    );
    let usernames: Vec<String> = world
        .export_users()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(usernames, ["ann", "bob"]);

    // The run archived its input: readable with `files get`, never runnable.
    let archives = json(&ok(&world, &["files", "ls", "archives", "--json"]));
    let archived = strings(&archives, "path");
    assert_eq!(archived.len(), 1, "{archives}");
    assert_eq!(archives[0]["reserved"], true);
    let run = ok(&world, &["files", "get", &archived[0], "-"]);
    assert_eq!(run.output.stdout, USERS_OK.as_bytes());
    for input in [
        format!("area:{}", archived[0]),
        "area:archives/x".to_string(),
    ] {
        let run = world.run_bounded(&["run", "users", &input]);
        assert_eq!(run.code(), 3, "{input}: {}", run.stderr());
        assert!(run.stderr().contains("archives"), "{}", run.stderr());
    }
    // A path leaving the area is refused too.
    let run = world.run_bounded(&["run", "users", "area:../good.csv"]);
    assert_eq!(run.code(), 3, "{}", run.stderr());
    assert_eq!(world.export_users().len(), 2, "no refused run wrote");
}

// ---------------------------------------------------------------------------------------------
// ingest

/// A thread appending to a file every `period` for `total`, as an uploader writes a file in
/// several pieces. Stopped and joined when dropped, so that a failing test leaves no thread.
struct Writer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<(Vec<u8>, Instant)>>,
}

impl Writer {
    fn start(path: PathBuf, period: Duration, total: Duration) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let handle = std::thread::spawn(move || {
            use std::io::Write;
            let started = Instant::now();
            let mut written = Vec::new();
            let mut last = Instant::now();
            let mut i = 0;
            while started.elapsed() < total && !stopping.load(Ordering::SeqCst) {
                let piece = if i == 0 {
                    "username;firstname;lastname;email\n".to_string()
                } else {
                    format!("slow{i};First{i};Last{i};slow{i}@example.org\n")
                };
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .expect("the drop folder's file opens");
                file.write_all(piece.as_bytes()).unwrap();
                drop(file);
                last = Instant::now();
                written.extend_from_slice(piece.as_bytes());
                i += 1;
                std::thread::sleep(period);
            }
            (written, last)
        });
        Writer {
            stop,
            handle: Some(handle),
        }
    }

    fn running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// What was written, and when the last piece was.
    fn finish(mut self) -> (Vec<u8>, Instant) {
        self.handle
            .take()
            .unwrap()
            .join()
            .expect("the writer thread ran to its end")
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// A world whose data dir has its (default) drop folder.
fn drop_world() -> (World, PathBuf) {
    let world = World::users();
    let sync = world.data.join("sync");
    std::fs::create_dir_all(&sync).unwrap();
    (world, sync)
}

/// `ingest --json` with the given extra arguments.
fn ingest(world: &World, extra: &[&str]) -> Value {
    let mut args = vec!["ingest", "--json"];
    args.extend_from_slice(extra);
    json(&ok(world, &args))
}

/// The `from` of every taken file.
fn taken(report: &Value) -> Vec<String> {
    strings(&report["taken"], "from")
}

/// The `path` of every file left.
fn left(report: &Value) -> Vec<String> {
    strings(&report["left"], "path")
}

/// Why `path` was left.
fn why_left<'a>(report: &'a Value, path: &str) -> &'a str {
    report["left"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["path"] == path)
        .unwrap_or_else(|| panic!("{path} is not left: {report}"))["why"]
        .as_str()
        .unwrap()
}

/// A file written in pieces is never taken while they keep coming; once unchanged for
/// settle_seconds it is, byte for byte as written.
#[test]
fn ingest_never_takes_a_file_being_written() {
    let (world, sync) = drop_world();
    let path = sync.join("slow.csv");
    let writer = Writer::start(
        path.clone(),
        Duration::from_millis(100),
        Duration::from_millis(2500),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "the writer never wrote");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut polls = 0;
    while writer.running() {
        let report = ingest(&world, &["--settle-seconds", "1"]);
        assert!(
            taken(&report).is_empty(),
            "taken while being written: {report}"
        );
        assert!(
            why_left(&report, "slow.csv").contains("still being written"),
            "{report}"
        );
        assert!(!area(&world).join("slow.csv").exists());
        polls += 1;
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(
        polls >= 3,
        "only {polls} ingests while the file was written"
    );
    let (written, last_write) = writer.finish();
    assert!(written.len() > 100, "{} bytes written", written.len());

    let deadline = Instant::now() + Duration::from_secs(20);
    let report = loop {
        let report = ingest(&world, &["--settle-seconds", "1"]);
        if !taken(&report).is_empty() {
            break report;
        }
        assert_eq!(left(&report), ["slow.csv"], "{report}");
        assert!(
            Instant::now() < deadline,
            "not taken 20 s after its last change: {report}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        last_write.elapsed() >= Duration::from_millis(900),
        "taken {:?} after its last change, settle_seconds is 1",
        last_write.elapsed()
    );
    assert_eq!(taken(&report), ["slow.csv"]);
    let one = &report["taken"][0];
    assert_eq!(one["to"], "slow.csv");
    assert_eq!(one["renamed"], false);
    assert_eq!(one["marker"], false);
    assert_eq!(one["size"], written.len() as u64);
    assert_eq!(
        std::fs::read(area(&world).join("slow.csv")).unwrap(),
        written,
        "the area's file is what was written, byte for byte"
    );
    assert!(!path.exists(), "moved, not copied");
    // A next ingest has nothing to do.
    let report = ingest(&world, &["--settle-seconds", "1"]);
    assert!(
        taken(&report).is_empty() && left(&report).is_empty(),
        "{report}"
    );
}

/// A `.done` marker makes a fresh file complete at once (settle_seconds 5 by default), and goes
/// with it; a fresh file without one waits.
#[test]
fn ingest_takes_a_file_with_a_done_marker_at_once() {
    let (world, sync) = drop_world();
    std::fs::create_dir_all(sync.join("sub")).unwrap();
    std::fs::write(sync.join("sub/marked.csv"), USERS_OK).unwrap();
    std::fs::write(sync.join("sub/marked.csv.done"), "").unwrap();
    std::fs::write(sync.join("fresh.csv"), USERS_OTHER).unwrap();
    let report = ingest(&world, &[]);
    assert_eq!(taken(&report), ["sub/marked.csv"], "{report}");
    let one = &report["taken"][0];
    assert_eq!(one["to"], "sub/marked.csv");
    assert_eq!(one["marker"], true);
    assert_eq!(one["size"], USERS_OK.len() as u64);
    assert_eq!(
        std::fs::read(area(&world).join("sub/marked.csv")).unwrap(),
        USERS_OK.as_bytes()
    );
    assert!(!sync.join("sub/marked.csv").exists());
    assert!(
        !sync.join("sub/marked.csv.done").exists(),
        "the marker goes"
    );
    assert!(!area(&world).join("sub/marked.csv.done").exists());
    assert!(
        why_left(&report, "fresh.csv").contains("still being written"),
        "{report}"
    );
    assert!(sync.join("fresh.csv").exists());
    assert!(!area(&world).join("fresh.csv").exists());
    assert!(!report.to_string().contains(".done\""), "{report}");
}

/// Hidden names and names starting with `_` are an uploader's work in progress: left where they
/// are, without a word, files and folders alike.
#[test]
fn ingest_leaves_hidden_and_underscore_names_silently() {
    let (world, sync) = drop_world();
    std::fs::write(sync.join(".hidden.csv"), USERS_OK).unwrap();
    std::fs::write(sync.join("_uploading.csv"), USERS_OK).unwrap();
    std::fs::write(sync.join("_uploading.csv.done"), "").unwrap();
    std::fs::create_dir_all(sync.join(".cache")).unwrap();
    std::fs::write(sync.join(".cache/in.csv"), USERS_OK).unwrap();
    std::fs::create_dir_all(sync.join("_tmp")).unwrap();
    std::fs::write(sync.join("_tmp/in.csv"), USERS_OK).unwrap();
    std::fs::write(sync.join("plain.csv"), USERS_OTHER).unwrap();
    let report = ingest(&world, &["--settle-seconds", "0"]);
    assert_eq!(taken(&report), ["plain.csv"], "{report}");
    assert!(left(&report).is_empty(), "left silently: {report}");
    for name in [
        ".hidden.csv",
        "_uploading.csv",
        "_uploading.csv.done",
        ".cache/in.csv",
        "_tmp/in.csv",
    ] {
        assert!(sync.join(name).exists(), "{name} stays");
        assert!(!area(&world).join(name).exists(), "{name} is not taken");
    }
    assert_eq!(names(&area(&world)), ["plain.csv"]);
}

/// A name already in the area is never overwritten: the new file gets `-2`, then `-3`.
#[test]
fn ingest_never_overwrites_a_file_of_the_area() {
    let (world, sync) = drop_world();
    place(&world, "dup.csv", USERS_OK);
    std::fs::write(sync.join("dup.csv"), USERS_OTHER).unwrap();
    let report = ingest(&world, &["--settle-seconds", "0"]);
    assert_eq!(taken(&report), ["dup.csv"], "{report}");
    assert_eq!(report["taken"][0]["to"], "dup-2.csv");
    assert_eq!(report["taken"][0]["renamed"], true);
    assert_eq!(
        std::fs::read(area(&world).join("dup.csv")).unwrap(),
        USERS_OK.as_bytes(),
        "the area's file is untouched"
    );
    assert_eq!(
        std::fs::read(area(&world).join("dup-2.csv")).unwrap(),
        USERS_OTHER.as_bytes()
    );
    // Once more: -3.
    std::fs::write(sync.join("dup.csv"), "third\n").unwrap();
    let report = ingest(&world, &["--settle-seconds", "0"]);
    assert_eq!(report["taken"][0]["to"], "dup-3.csv", "{report}");
    assert_eq!(report["taken"][0]["renamed"], true);
    assert_eq!(
        std::fs::read(area(&world).join("dup-3.csv")).unwrap(),
        b"third\n"
    );
    assert_eq!(names(&area(&world)), ["dup-2.csv", "dup-3.csv", "dup.csv"]);
    assert!(!sync.join("dup.csv").exists());
    // A name without a clash is not renamed.
    std::fs::write(sync.join("new.csv"), "new\n").unwrap();
    let report = ingest(&world, &["--settle-seconds", "0"]);
    assert_eq!(report["taken"][0]["to"], "new.csv");
    assert_eq!(report["taken"][0]["renamed"], false);
}

/// A symbolic link in the drop folder is never followed: left with its reason, its target
/// untouched; a named pipe is left too (and does not block the ingest).
#[cfg(unix)]
#[test]
fn ingest_leaves_symlinks_and_fifos() {
    let (world, sync) = drop_world();
    let secret = world.file("secret.csv", "username;firstname;lastname\nroot;R;R\n");
    std::os::unix::fs::symlink(&secret, sync.join("link.csv")).unwrap();
    std::fs::write(sync.join("link.csv.done"), "").unwrap();
    let fifo = sync.join("pipe.csv");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a plain system call with a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let report = ingest(&world, &["--settle-seconds", "0"]);
    assert!(taken(&report).is_empty(), "{report}");
    assert!(
        why_left(&report, "link.csv").contains("symbolic link"),
        "{report}"
    );
    assert!(
        why_left(&report, "pipe.csv").contains("not a regular file"),
        "{report}"
    );
    assert!(std::fs::symlink_metadata(sync.join("link.csv"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(&secret).unwrap(),
        b"username;firstname;lastname\nroot;R;R\n",
        "the link's target is untouched"
    );
    assert!(std::fs::symlink_metadata(&fifo).is_ok());
    assert!(
        names(&area(&world)).is_empty(),
        "{:?}",
        names(&area(&world))
    );
}

/// `[ingest] drop_dir` (relative to the data dir) and `settle_seconds` in toolsync.toml are
/// honoured; an unknown key of `[ingest]` is refused (exit 2) with nothing moved.
#[test]
fn ingest_reads_its_table_of_toolsync_toml() {
    let (world, sync) = drop_world();
    let elsewhere = world.data.join("incoming");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("e.csv"), USERS_OK).unwrap();
    std::fs::write(sync.join("s.csv"), USERS_OTHER).unwrap();
    let config = world.data.join("toolsync.toml");
    std::fs::write(
        &config,
        "[ingest]\ndrop_dir = \"incoming\"\nsettle_seconds = 0\n",
    )
    .unwrap();
    let report = ingest(&world, &[]);
    assert!(
        report["drop_dir"].as_str().unwrap().ends_with("incoming"),
        "{report}"
    );
    assert_eq!(taken(&report), ["e.csv"], "{report}");
    assert!(!elsewhere.join("e.csv").exists());
    assert!(
        sync.join("s.csv").exists(),
        "the default folder is not read"
    );
    assert_eq!(names(&area(&world)), ["e.csv"]);

    // settle_seconds from the file: 3600 leaves a fresh file; --settle-seconds overrides it.
    std::fs::write(
        &config,
        "[ingest]\ndrop_dir = \"incoming\"\nsettle_seconds = 3600\n",
    )
    .unwrap();
    std::fs::write(elsewhere.join("f.csv"), USERS_OTHER).unwrap();
    let report = ingest(&world, &[]);
    assert!(taken(&report).is_empty(), "{report}");
    assert!(why_left(&report, "f.csv").contains("3600"), "{report}");
    let report = ingest(&world, &["--settle-seconds", "0"]);
    assert_eq!(taken(&report), ["f.csv"], "{report}");

    // An unknown key: exit 2, nothing moved.
    std::fs::write(elsewhere.join("g.csv"), USERS_OTHER).unwrap();
    std::fs::write(
        &config,
        "[ingest]\ndrop_dir = \"incoming\"\nsettle_secs = 0\n",
    )
    .unwrap();
    let run = world.run_bounded(&["ingest", "--settle-seconds", "0"]);
    assert_eq!(run.code(), 2, "{}{}", run.stdout(), run.stderr());
    assert!(run.stderr().contains("settle_secs"), "{}", run.stderr());
    assert!(elsewhere.join("g.csv").exists());
    assert!(!area(&world).join("g.csv").exists());
    // A configured drop folder that does not exist: exit 2.
    std::fs::write(&config, "[ingest]\ndrop_dir = \"nowhere\"\n").unwrap();
    let run = world.run_bounded(&["ingest"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(!world.data.join("nowhere").exists());
}

/// A drop folder that is the data dir itself, or the file area, would move toolsync's own files
/// (toolsync.toml, the store, the area's files) into the area: refused (exit 2), nothing moved.
#[test]
fn ingest_refuses_a_drop_folder_holding_the_data_dir_or_the_area() {
    let (world, _sync) = drop_world();
    place(&world, "userimport.csv", USERS_OK);
    let config = world.data.join("toolsync.toml");
    for drop_dir in [".", "files"] {
        let text = format!("[ingest]\ndrop_dir = \"{drop_dir}\"\nsettle_seconds = 0\n");
        std::fs::write(&config, &text).unwrap();
        let run = world.run_bounded(&["ingest", "--json"]);
        assert!(
            config.exists(),
            "drop_dir = {drop_dir:?}: toolsync.toml was moved"
        );
        assert_eq!(
            names(&area(&world)),
            ["userimport.csv"],
            "drop_dir = {drop_dir:?}: {}",
            run.stdout()
        );
        assert_eq!(
            run.code(),
            2,
            "drop_dir = {drop_dir:?}: {}{}",
            run.stdout(),
            run.stderr()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// reports

/// `files put` then `run users` on the default file (`userimport.csv`): exit code.
fn put_and_run_users(world: &World, csv: &str) -> i32 {
    let local = world.file("userimport.csv", csv);
    ok(world, &["files", "put", arg(&local)]);
    world.run_bounded(&["run", "users"]).code()
}

/// Three runs of users (one with a failed row), then one refused (its file gone), and a run of
/// course-create: listed oldest first with their outcomes and exit codes; `--last`,
/// `--processor`, `--since`; `show` in text and JSON; an unknown id is exit 1; `prune --keep 1`
/// removes the older reports with their archives, `--dry-run` nothing.
#[test]
fn reports_list_show_and_prune() {
    let world = World::courses();
    make_area(&world);
    let local = world.file(
        "uploadcourses.csv",
        "shortname;fullname;category\nPHY1;Physics;Sci\n",
    );
    ok(&world, &["files", "put", arg(&local)]);
    ok(&world, &["run", "course-create"]);
    assert_eq!(put_and_run_users(&world, USERS_OK), 0);
    let failing = "username;firstname;lastname\nann;Ann;Arbor\nbad user;X;Y\ncid;Cid;Cole\n";
    assert_eq!(put_and_run_users(&world, failing), 1);
    assert_eq!(put_and_run_users(&world, USERS_OTHER), 0);
    ok(&world, &["files", "rm", "userimport.csv"]);
    assert_eq!(world.run_bounded(&["run", "users"]).code(), 3);

    let all = json(&ok(&world, &["reports", "--json"]));
    assert_eq!(all.as_array().unwrap().len(), 5, "{all}");
    let users = json(&ok(&world, &["reports", "--processor", "users", "--json"]));
    assert_eq!(
        strings(&users, "outcome"),
        ["ok", "failed rows", "ok", "refused"],
        "{users}"
    );
    assert_eq!(
        column(&users, "exit_code"),
        [
            &Value::from(0),
            &Value::from(1),
            &Value::from(0),
            &Value::from(3)
        ]
    );
    assert_eq!(
        column(&users, "rows_failed"),
        [
            &Value::from(0),
            &Value::from(1),
            &Value::from(0),
            &Value::from(0)
        ]
    );
    assert_eq!(
        column(&users, "rows_total"),
        [
            &Value::from(2),
            &Value::from(3),
            &Value::from(1),
            &Value::from(0)
        ]
    );
    for run in users.as_array().unwrap() {
        assert_eq!(run["processor"], "users");
        assert!(
            run["file"].as_str().unwrap().ends_with("userimport.csv"),
            "{run}"
        );
        for key in ["started_at", "finished_at"] {
            assert!(run[key].as_str().unwrap().len() >= 20, "{run}");
        }
        assert!(run["duration"].as_i64().unwrap() >= 0);
    }
    let ids = strings(&users, "id");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4, "{ids:?}");
    let courses = json(&ok(
        &world,
        &["reports", "--processor", "course-create", "--json"],
    ));
    assert_eq!(strings(&courses, "processor"), ["course-create"]);
    assert_eq!(strings(&courses, "outcome"), ["ok"]);
    let courses_id = strings(&courses, "id").remove(0);
    assert!(strings(&all, "id").contains(&courses_id), "{all}");
    let none = json(&ok(&world, &["reports", "--processor", "badges", "--json"]));
    assert_eq!(none, serde_json::json!([]));
    // --last 1: the most recent run, the refused one.
    let last = json(&ok(&world, &["reports", "--last", "1", "--json"]));
    assert_eq!(strings(&last, "id"), [ids[3].clone()], "{last}");
    let last2 = json(&ok(
        &world,
        &["reports", "--processor", "users", "--last", "2", "--json"],
    ));
    assert_eq!(strings(&last2, "id"), ids[2..].to_vec());
    // --since: a date long past lists all, one to come none; not a date is exit 2.
    let since = json(&ok(&world, &["reports", "--since", "2000-01-01", "--json"]));
    assert_eq!(since.as_array().unwrap().len(), 5);
    let since = json(&ok(&world, &["reports", "--since", "2999-01-01", "--json"]));
    assert_eq!(since, serde_json::json!([]));
    assert_eq!(world.run_bounded(&["reports", "--since", "soon"]).code(), 2);
    // The text list: a line per run, naming its id and outcome.
    let text = ok(&world, &["reports", "--processor", "users"]).stdout();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[1].contains("failed rows") && lines[1].ends_with(&ids[1]),
        "{text}"
    );
    assert!(
        lines[3].contains("refused") && lines[3].ends_with(&ids[3]),
        "{text}"
    );

    // show: the stored text report, and the JSON one.
    let shown = ok(&world, &["reports", "show", &ids[1]]).stdout();
    assert!(shown.starts_with("processor: users\n"), "{shown}");
    assert!(
        shown.contains("rows: 3 (ok 2, failed 1, skipped 0)"),
        "{shown}"
    );
    assert!(shown.contains("failed: bad user"), "{shown}");
    assert!(shown.trim_end().ends_with("end of report"), "{shown}");
    let report = json(&ok(&world, &["reports", "show", &ids[1], "--json"]));
    assert_eq!(report["processor"], "users");
    assert_eq!(report["rows_failed"], 1);
    assert_eq!(counts(&report), (1, 0, 0, 1, 1), "{report}");
    // The same bytes as the stored report.
    let stored = ok(
        &world,
        &[
            "files",
            "get",
            &format!("reports/{}.report.json", ids[1]),
            "-",
        ],
    );
    assert_eq!(
        ok(&world, &["reports", "show", &ids[1], "--json"])
            .output
            .stdout,
        stored.output.stdout
    );
    let refused = ok(&world, &["reports", "show", &ids[3]]).stdout();
    assert!(refused.contains("refused: "), "{refused}");
    for args in [
        &["reports", "show", "20000101-000000_nope.csv"][..],
        &["reports", "show", "20000101-000000_nope.csv", "--json"][..],
        &["reports", "show", "../../toolsync.toml"][..],
    ] {
        let run = world.run_bounded(args);
        assert_eq!(run.code(), 1, "{args:?}: {}", run.stdout());
        assert!(run.output.stdout.is_empty());
        assert!(
            run.stderr().contains("no stored report"),
            "{}",
            run.stderr()
        );
    }

    // Each users run but the refused one archived its input under its id.
    let archives = area(&world).join("archives");
    let reports = area(&world).join("reports");
    for id in &ids[..3] {
        assert!(
            archives.join(id).is_file(),
            "no archive {id}: {:?}",
            names(&archives)
        );
    }
    assert!(!archives.join(&ids[3]).exists());
    assert!(archives.join(&courses_id).is_file());

    // prune --keep 1 --dry-run: says what would go, removes nothing.
    let (reports_before, archives_before) = (names(&reports), names(&archives));
    let dry = json(&ok(
        &world,
        &["reports", "prune", "--keep", "1", "--dry-run", "--json"],
    ));
    let doomed: Vec<String> = ids[..3].to_vec();
    assert_eq!(dry["runs"], serde_json::json!(doomed), "{dry}");
    assert_eq!(dry["archives"], serde_json::json!(doomed), "{dry}");
    assert!(dry["bytes"].as_u64().unwrap() > 0, "{dry}");
    assert_eq!(names(&reports), reports_before);
    assert_eq!(names(&archives), archives_before);
    assert_eq!(
        json(&ok(&world, &["reports", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        5
    );
    // --older-than 30d: nothing that old.
    let old = json(&ok(
        &world,
        &["reports", "prune", "--older-than", "30d", "--json"],
    ));
    assert_eq!(old["runs"], serde_json::json!([]), "{old}");
    assert_eq!(names(&archives), archives_before);
    assert_eq!(
        world
            .run_bounded(&["reports", "prune", "--older-than", "3w"])
            .code(),
        2
    );

    // prune --keep 1: the same, done.
    let pruned = json(&ok(&world, &["reports", "prune", "--keep", "1", "--json"]));
    assert_eq!(pruned["runs"], dry["runs"], "{pruned}");
    assert_eq!(pruned["archives"], dry["archives"]);
    assert_eq!(pruned["bytes"], dry["bytes"]);
    for id in &ids[..3] {
        assert!(!archives.join(id).exists(), "archive {id} stays");
        for suffix in [".report.txt", ".report.json"] {
            assert!(
                !reports.join(format!("{id}{suffix}")).exists(),
                "{id}{suffix}"
            );
        }
    }
    assert_eq!(names(&archives), std::slice::from_ref(&courses_id));
    let after = json(&ok(&world, &["reports", "--json"]));
    let mut kept = strings(&after, "id");
    kept.sort();
    let mut expected = vec![courses_id.clone(), ids[3].clone()];
    expected.sort();
    assert_eq!(kept, expected);
    let run = world.run_bounded(&["reports", "show", &ids[0]]);
    assert_eq!(run.code(), 1);
    // Nothing more to prune.
    let again = json(&ok(&world, &["reports", "prune", "--keep", "1", "--json"]));
    assert_eq!(again["runs"], serde_json::json!([]));
}

/// Runs of the same second are listed in the order they ran (oldest first), whatever their
/// files are called: `--last 1` is the run made last.
#[test]
fn reports_lists_runs_of_one_second_in_the_order_they_ran() {
    let world = World::users();
    ok(&world, &["files", "mkdir", "in"]);
    // Two quick runs usually share their second; try again when they did not.
    for attempt in 0..10 {
        let (first, second) = (format!("z{attempt}.csv"), format!("a{attempt}.csv"));
        for name in [&first, &second] {
            let local = world.file(name, USERS_OK);
            ok(&world, &["files", "put", arg(&local), "in/"]);
        }
        ok(&world, &["run", "users", &format!("area:in/{first}")]);
        ok(&world, &["run", "users", &format!("area:in/{second}")]);
        let all = json(&ok(&world, &["reports", "--json"]));
        let runs: Vec<&Value> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                let file = r["file"].as_str().unwrap();
                file.ends_with(&first) || file.ends_with(&second)
            })
            .collect();
        assert_eq!(runs.len(), 2, "{all}");
        if runs[0]["started_at"] != runs[1]["started_at"] {
            continue;
        }
        let files: Vec<&str> = runs.iter().map(|r| r["file"].as_str().unwrap()).collect();
        assert!(
            files[0].ends_with(&first) && files[1].ends_with(&second),
            "{first} ran before {second}, in the same second: listed {files:?}"
        );
        let last = json(&ok(&world, &["reports", "--last", "1", "--json"]));
        assert!(
            last[0]["file"].as_str().unwrap().ends_with(&second),
            "--last 1 is the run made last ({second}): {last}"
        );
        return;
    }
    panic!("two runs never shared a second in 10 attempts");
}

/// A run's id names its archive even when a refused run of the same file took the stamp of
/// that second (a refused run stores reports but no archive): `prune` of the refused run never
/// removes the archive of the run kept.
#[test]
fn reports_prune_never_removes_the_archive_of_a_kept_run() {
    let world = World::users();
    ok(&world, &["files", "mkdir", "in"]);
    for attempt in 0..10 {
        let name = format!("u{attempt}.csv");
        // Refused: not there yet.
        let run = world.run_bounded(&["run", "users", &format!("area:in/{name}")]);
        assert_eq!(run.code(), 3, "{}", run.stderr());
        let local = world.file(&name, USERS_OK);
        ok(&world, &["files", "put", arg(&local), "in/"]);
        ok(&world, &["run", "users", &format!("area:in/{name}")]);
        let all = json(&ok(&world, &["reports", "--json"]));
        let runs: Vec<&Value> = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["file"].as_str().unwrap().ends_with(&name))
            .collect();
        assert_eq!(runs.len(), 2, "{all}");
        if runs[0]["started_at"] != runs[1]["started_at"] {
            continue;
        }
        // Same second: the run that committed is the second; the only archive of this file is
        // its own (the refused run made none).
        let (refused, applied) = (runs[0], runs[1]);
        assert_eq!(refused["outcome"], "refused");
        assert_eq!(applied["outcome"], "ok");
        let applied_id = applied["id"].as_str().unwrap().to_string();
        let archives = area(&world).join("archives");
        let of_this_file: Vec<String> = names(&archives)
            .into_iter()
            .filter(|n| n.ends_with(&format!("_{name}")))
            .collect();
        assert_eq!(of_this_file.len(), 1, "{of_this_file:?}");
        let archive = of_this_file[0].clone();
        // Prune keeps the last run of users, the applied one: its archive stays, in a dry run
        // and in a real one.
        let dry = json(&ok(
            &world,
            &["reports", "prune", "--keep", "1", "--dry-run", "--json"],
        ));
        let real = json(&ok(&world, &["reports", "prune", "--keep", "1", "--json"]));
        let kept = json(&ok(&world, &["reports", "--json"]));
        assert_eq!(
            strings(&kept, "id"),
            std::slice::from_ref(&applied_id),
            "{kept}"
        );
        assert!(
            archives.join(&archive).is_file(),
            "prune removed {archive}, the archive of the run it kept ({applied_id}): dry run \
             {dry}, prune {real}"
        );
        assert_eq!(
            names(&archives),
            std::slice::from_ref(&archive),
            "only the kept run's archive is left"
        );
        assert_eq!(
            std::fs::read(archives.join(&archive)).unwrap(),
            USERS_OK.as_bytes()
        );
        // And the run's id names it, as the history promises.
        assert_eq!(
            archive, applied_id,
            "run {applied_id} has no archive of that name"
        );
        return;
    }
    panic!("the two runs never shared a second in 10 attempts");
}

// ---------------------------------------------------------------------------------------------
// runall

/// The processors `runall` lists for users + courses + badges, in bundle order.
const BUNDLE: [&str; 7] = [
    "course-create",
    "users",
    "badges",
    "metacourse",
    "course-reset",
    "course-check",
    "course-delete",
];

fn bundle_world(users_csv: &str, courses_csv: &str, badges_csv: &str) -> World {
    let world = World::with(&[USERS, COURSES, BADGES]);
    for (name, csv) in [
        ("userimport.csv", users_csv),
        ("uploadcourses.csv", courses_csv),
        ("badges.csv", badges_csv),
    ] {
        place(&world, name, csv);
    }
    world
}

const COURSES_OK: &str = "shortname;fullname;category\nPHY1;Physics;Sciences\n";
const BADGES_OK: &str = "username;badge\nann;gold\nbob;silver\n";

/// The step of `processor` in a runall summary.
fn step<'a>(summary: &'a Value, processor: &str) -> &'a Value {
    summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["processor"] == processor)
        .unwrap_or_else(|| panic!("no step {processor}: {summary}"))
}

/// course-create, users, then badges (declared after users), then the processors without a
/// file; each run's report stored.
#[test]
fn runall_runs_in_bundle_order_with_a_vendor_processor_after_users() {
    let world = bundle_world(USERS_OK, COURSES_OK, BADGES_OK);
    let run = lone(&world, &["runall", "--json"]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    let summary = json(&run);
    assert_eq!(strings(&summary["steps"], "processor"), BUNDLE, "{summary}");
    assert_eq!(
        strings(&summary["steps"], "status"),
        ["ran", "ran", "ran", "no file", "no file", "no file", "no file"]
    );
    assert_eq!(summary["exit_code"], 0);
    for (processor, file, rows) in [
        ("course-create", "uploadcourses.csv", 1),
        ("users", "userimport.csv", 2),
        ("badges", "badges.csv", 2),
    ] {
        let step = step(&summary, processor);
        assert_eq!(step["exit_code"], 0, "{step}");
        let runs = step["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 1, "{step}");
        let r = &runs[0];
        assert_eq!(r["processor"], processor);
        assert!(r["file"].as_str().unwrap().ends_with(file), "{r}");
        assert_eq!(r["rows_total"], rows);
        assert_eq!(r["rows_ok"], rows);
        assert_eq!(r["rows_failed"], 0);
        assert_eq!(r["outcome"], "ok");
        assert_eq!(r["exit_code"], 0);
        let report = PathBuf::from(r["report"].as_str().unwrap());
        let report = if report.is_absolute() {
            report
        } else {
            world.root.join(report)
        };
        assert!(report.is_file(), "{}", report.display());
    }
    for processor in &BUNDLE[3..] {
        let step = step(&summary, processor);
        assert_eq!(step["runs"], serde_json::json!([]));
        assert_eq!(step["exit_code"], 0);
    }
    // The badges run found the accounts users had just made.
    let history = json(&lone(&world, &["reports", "--json"]));
    let mut processors = strings(&history, "processor");
    processors.sort();
    assert_eq!(processors, ["badges", "course-create", "users"]);
}

/// A users file with a failed row and `--stop-on-failure`: course-create ran, users ran (exit
/// 1), every later processor is `not run`; the badges file is left as it was.
#[test]
fn runall_stop_on_failure_leaves_the_rest_not_run() {
    let failing = "username;firstname;lastname\nann;Ann;Arbor\nbad user;X;Y\nbob;Bob;Brook\n";
    let world = bundle_world(failing, COURSES_OK, BADGES_OK);
    let run = lone(&world, &["runall", "--stop-on-failure", "--json"]);
    assert_eq!(run.code(), 1, "{}{}", run.stdout(), run.stderr());
    let summary = json(&run);
    assert_eq!(strings(&summary["steps"], "processor"), BUNDLE, "{summary}");
    assert_eq!(
        strings(&summary["steps"], "status"),
        ["ran", "ran", "not run", "not run", "not run", "not run", "not run"],
        "{summary}"
    );
    assert_eq!(summary["exit_code"], 1);
    let users = step(&summary, "users");
    assert_eq!(users["exit_code"], 1);
    assert_eq!(users["runs"][0]["rows_failed"], 1);
    assert_eq!(users["runs"][0]["outcome"], "failed rows");
    assert_eq!(users["runs"][0]["exit_code"], 1);
    assert_eq!(step(&summary, "badges")["runs"], serde_json::json!([]));
    let history = json(&lone(&world, &["reports", "--json"]));
    let mut processors = strings(&history, "processor");
    processors.sort();
    assert_eq!(processors, ["course-create", "users"], "badges never ran");
    assert!(area(&world).join("badges.csv").is_file());

    // Without --stop-on-failure: everything with a file runs.
    let run = lone(&world, &["runall", "--json"]);
    let summary = json(&run);
    assert_eq!(run.code(), 1, "{summary}");
    assert_eq!(step(&summary, "badges")["status"], "ran");
    assert_eq!(step(&summary, "badges")["exit_code"], 0);
}

/// The exit code is the worst of the runs, not the last one's: a refused course-create file (3)
/// before a users file with a failed row (1) and a clean badges run (0).
#[test]
fn runall_exit_code_is_the_worst_of_the_runs() {
    let failing = "username;firstname;lastname\nann;Ann;Arbor\nbad user;X;Y\nbob;Bob;Brook\n";
    let world = bundle_world(failing, "nonsense;columns\nx;y\n", BADGES_OK);
    let run = lone(&world, &["runall", "--json"]);
    let summary = json(&run);
    assert_eq!(run.code(), 3, "{summary}\n{}", run.stderr());
    assert_eq!(summary["exit_code"], 3);
    let exits: Vec<&Value> = column(&summary["steps"], "exit_code");
    assert_eq!(
        exits[..3],
        [&Value::from(3), &Value::from(1), &Value::from(0)],
        "{summary}"
    );
    let courses = step(&summary, "course-create");
    assert_eq!(courses["runs"][0]["outcome"], "refused", "{courses}");
    assert_eq!(strings(&summary["steps"], "processor"), BUNDLE);
    // The text summary says the same.
    let text = lone(&world, &["runall"]);
    assert_eq!(text.code(), 3);
    assert!(
        text.stdout().trim_end().ends_with("exit 3"),
        "{}",
        text.stdout()
    );
}

/// A symbolic link in the file area (made by hand) never leads `files`, `ingest` or `run
/// area:` out of the area nor into its reserved folders; a local target that is not a regular
/// file (a FIFO here, a device in real life) is never replaced by `files get`.
#[test]
fn links_in_the_area_are_never_followed_out_of_it() {
    let (world, sync) = drop_world();
    let users = "username,firstname,lastname,email\nada,Ada,L,ada@example.org\n";
    let local = world.file("u.csv", users);
    ok(&world, &["run", "users", arg(&local)]);
    let outside = world.root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    let area = area(&world);
    std::os::unix::fs::symlink("archives", area.join("arch")).unwrap();
    std::os::unix::fs::symlink(&outside, area.join("out")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), area.join("secret.txt")).unwrap();
    for args in [
        vec!["files", "put", arg(&local), "arch/x.csv"],
        vec!["files", "put", arg(&local), "out/x.csv"],
        vec!["files", "put", arg(&local), "secret.txt"],
        vec!["files", "get", "out/secret.txt", "-"],
        vec!["files", "get", "secret.txt", "-"],
        vec!["files", "rm", "out/secret.txt"],
        vec!["files", "mkdir", "arch/new"],
    ] {
        let refused = world.run_bounded(&args);
        assert_eq!(
            refused.code(),
            2,
            "{args:?}: {}{}",
            refused.stdout(),
            refused.stderr()
        );
        assert!(
            refused.stderr().contains("symbolic link"),
            "{args:?}: {}",
            refused.stderr()
        );
        assert!(!refused.stdout().contains("secret"), "{args:?}");
    }
    assert_eq!(names(&outside), ["secret.txt"]);
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "secret"
    );
    // `rm` of the link itself removes the link, never its target.
    ok(&world, &["files", "rm", "secret.txt"]);
    assert!(outside.join("secret.txt").exists());
    // A run never reads through a link in the area.
    let refused = world.run_bounded(&["run", "users", "area:out/secret.txt"]);
    assert_eq!(refused.code(), 3, "{}", refused.stderr());
    assert!(
        refused.stderr().contains("symbolic link"),
        "{}",
        refused.stderr()
    );
    // A run never reads a reserved folder through a link.
    let archive = names(&area.join("archives")).remove(0);
    let refused = world.run_bounded(&["run", "users", &format!("area:arch/{archive}")]);
    assert_eq!(refused.code(), 3, "{}", refused.stderr());
    assert!(
        refused.stderr().contains("symbolic link"),
        "{}",
        refused.stderr()
    );
    // Ingest does not drop a file through a link either: it stays in the drop folder.
    std::fs::create_dir_all(sync.join("out")).unwrap();
    std::fs::write(sync.join("out/evil.csv"), users).unwrap();
    std::fs::write(sync.join("out/evil.csv.done"), "").unwrap();
    let run = world.run_bounded(&["ingest", "--json"]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    assert!(sync.join("out/evil.csv").exists());
    assert_eq!(names(&outside), ["secret.txt"]);
    // `files get` never replaces what is not a regular file.
    let fifo = world.root.join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    ok(&world, &["files", "put", arg(&local), "plain.csv"]);
    let refused = world.run_bounded(&["files", "get", "plain.csv", arg(&fifo), "--force"]);
    assert_eq!(refused.code(), 2, "{}", refused.stderr());
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

/// Ingest leaves the folders of the area as they are (their mode included), and a file its
/// uploader removed meanwhile is no failure.
#[test]
fn ingest_keeps_the_area_s_folders_as_they_are() {
    use std::os::unix::fs::PermissionsExt;
    let (world, sync) = drop_world();
    let shared = area(&world).join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o2770)).unwrap();
    std::fs::create_dir_all(sync.join("shared")).unwrap();
    std::fs::write(sync.join("shared/a.csv"), "x").unwrap();
    std::fs::write(sync.join("shared/a.csv.done"), "").unwrap();
    let report = ingest(&world, &[]);
    assert_eq!(taken(&report), ["shared/a.csv"]);
    let mode = std::fs::metadata(&shared).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o2770, "{mode:o}");
}

/// `cleanup` removes the file the run read, never one put under its name while the run went
/// on (`files put` while the daemon runs it): that one is kept for the next run.
#[test]
fn cleanup_keeps_a_file_put_in_the_input_s_place_during_the_run() {
    let world = World::users();
    make_area(&world);
    place(
        &world,
        "userimport.csv",
        "username,firstname,lastname,email\nada,Ada,L,ada@example.org\n",
    );
    let newer = world.file(
        "newer.csv",
        "username,firstname,lastname,email\nbob,Bob,M,bob@example.org\n",
    );
    let pause = world.root.join("pause");
    let mut child = world
        .command(&["run", "users", "--set", "cleanup=true"])
        .env(
            "TOOLSYNC_FAULT",
            format!("after-archive:pause={}", pause.display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !pause.join("reached").exists() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        assert!(started.elapsed() < Duration::from_secs(60), "never paused");
        std::thread::sleep(Duration::from_millis(10));
    }
    ok(&world, &["files", "put", arg(&newer), "userimport.csv"]);
    std::fs::write(pause.join("go"), "").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let kept = std::fs::read_to_string(area(&world).join("userimport.csv")).unwrap();
    assert!(kept.contains("bob"), "the new file is kept: {kept}");
    // Without a replacement, cleanup removes the input.
    ok(&world, &["run", "users", "--set", "cleanup=true"]);
    assert!(!area(&world).join("userimport.csv").exists());
}
