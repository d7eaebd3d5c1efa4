//! Hostile and careless inputs, end to end: what an attacker or a hurried operator names as the
//! input or a course template — a named pipe, a device, the standard input, a path out of the
//! file area, a missing file behind a link, an archive with a huge header. Each is refused at
//! once, saying why and what to do; none hangs (the runs are bounded and killed when they do).

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use toolsync_fixture_mbz::{write_huge_header, CourseXml, HugeHeader};

const USERS_CSV: &str = "username;firstname;lastname\njdoe;John;Doe\n";

/// The end of every refusal of a stream (plugin-api's `files::NEEDS_A_REGULAR_FILE`).
const NEEDS: &str = "toolsync reads its input twice and resumes after a kill, so it needs a \
                     regular file: save the stream to a file first";

/// A named pipe that nothing writes to: opening it for reading blocks forever.
fn fifo(path: &Path) {
    let name = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path that outlives the call.
    let done = unsafe { libc::mkfifo(name.as_ptr(), 0o600) };
    assert_eq!(done, 0, "mkfifo {}", path.display());
}

/// `run <processor> <args> --json`, bounded: (exit code, JSON report, stderr).
fn refused_run(world: &World, args: &[&str], stdin: Stdio) -> (i32, Value, String) {
    let mut cmd = world.command(args);
    cmd.arg("--json").stdin(stdin);
    report_of(run_bounded(cmd, None))
}

fn report_of(run: Run) -> (i32, Value, String) {
    let report = serde_json::from_slice(&run.output.stdout)
        .unwrap_or_else(|e| panic!("not a JSON report ({e}): {}{}", run.stdout(), run.stderr()));
    (run.code(), report, run.stderr())
}

/// A refusal: exit 3, the reason in the report and on stderr, nothing in the store.
fn assert_refused(world: &World, (code, report, stderr): &(i32, Value, String), reason: &str) {
    assert_eq!(*code, 3, "{report}\n{stderr}");
    assert_eq!(report["refused"], reason, "{stderr}");
    assert!(stderr.contains(reason), "{stderr}");
    assert_eq!(report["committed"], false);
    assert!(world.export_users().is_empty());
}

#[test]
fn a_named_pipe_as_input_is_refused_at_once() {
    let world = World::users();
    // In the current directory, as FILE; in the file area, as the default input.
    fifo(&world.root.join("f.csv"));
    let run = refused_run(&world, &["run", "users", "f.csv"], Stdio::null());
    assert_refused(
        &world,
        &run,
        &format!("f.csv is a named pipe (FIFO), not a regular file: {NEEDS}"),
    );
    let area = world.data.join("files");
    std::fs::create_dir_all(&area).unwrap();
    let default = area.join("userimport.csv");
    fifo(&default);
    let run = refused_run(&world, &["run", "users"], Stdio::null());
    assert_refused(
        &world,
        &run,
        &format!(
            "{} is a named pipe (FIFO), not a regular file: {NEEDS}",
            default.display()
        ),
    );
}

#[test]
fn a_device_or_the_standard_input_is_refused_at_once() {
    let world = World::users();
    // /dev/zero never ends.
    let run = refused_run(&world, &["run", "users", "/dev/zero"], Stdio::null());
    assert_refused(
        &world,
        &run,
        &format!("/dev/zero is a character device, not a regular file: {NEEDS}"),
    );
    // `-` is no name for the standard input, even with a file piped in.
    let cmd = world.command(&["run", "users", "-", "--json"]);
    let run = report_of(run_bounded(cmd, Some(USERS_CSV.into())));
    assert_refused(
        &world,
        &run,
        &format!("`-` is not read as the standard input: {NEEDS}"),
    );
    // `cat file | toolsync run users /dev/stdin`: a pipe.
    let cmd = world.command(&["run", "users", "/dev/stdin", "--json"]);
    let run = report_of(run_bounded(cmd, Some(USERS_CSV.into())));
    assert_refused(
        &world,
        &run,
        &format!("/dev/stdin is a named pipe (FIFO), not a regular file: {NEEDS}"),
    );
    // `toolsync run users /dev/stdin < file`: a regular file, but through a descriptor; its
    // tryback would go to /dev and a clean-up would remove /dev/stdin.
    let file = world.file("users.csv", USERS_CSV);
    let stdin = Stdio::from(std::fs::File::open(&file).unwrap());
    let run = refused_run(&world, &["run", "users", "/dev/stdin"], stdin);
    assert_refused(
        &world,
        &run,
        &format!(
            "/dev/stdin is an open file descriptor (a link into /proc), not a file by name: \
             {NEEDS}"
        ),
    );
}

#[test]
fn a_missing_input_names_every_place_looked_at() {
    let world = World::users();
    let area = world.data.join("files");
    // The current directory as the process sees it (symbolic links resolved).
    let cwd = world.root.canonicalize().unwrap();
    let cases = |name: &str, here: &str| {
        let run = refused_run(&world, &["run", "users", name], Stdio::null());
        let reason = format!(
            "cannot find {name}: in the current directory, {} {here}; in the file area, {} \
             does not exist",
            cwd.join(name).display(),
            area.join(name).display()
        );
        assert_refused(&world, &run, &reason);
    };
    cases("missing.csv", "does not exist");
    std::os::unix::fs::symlink("gone.csv", world.root.join("dangling.csv")).unwrap();
    cases(
        "dangling.csv",
        "is a symbolic link to `gone.csv`, which does not exist",
    );
    std::os::unix::fs::symlink("loop.csv", world.root.join("loop.csv")).unwrap();
    cases(
        "loop.csv",
        "is a symbolic link to `loop.csv` that cannot be followed: Too many levels of symbolic \
         links (os error 40)",
    );
    // An absolute path is the only place looked at.
    let absent = world.root.join("absent.csv");
    let run = refused_run(
        &world,
        &["run", "users", absent.to_str().unwrap()],
        Stdio::null(),
    );
    assert_refused(
        &world,
        &run,
        &format!("{} does not exist", absent.display()),
    );

    // Found in the file area when the current directory has nothing by that name.
    std::fs::create_dir_all(&area).unwrap();
    std::fs::write(area.join("there.csv"), USERS_CSV).unwrap();
    let (code, report) = world.run_json("users", Path::new("there.csv"), &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["file"], area.join("there.csv").display().to_string());
}

#[test]
fn a_name_in_the_file_area_cannot_leave_it() {
    let world = World::users();
    // <data>/outside.csv is reached from the file area by `../outside.csv`.
    std::fs::create_dir_all(world.data.join("files")).unwrap();
    std::fs::write(world.data.join("outside.csv"), USERS_CSV).unwrap();
    let run = refused_run(&world, &["run", "users", "../outside.csv"], Stdio::null());
    assert_refused(
        &world,
        &run,
        &format!(
            "cannot find ../outside.csv: in the current directory, {} does not exist; not \
             looked for in the file area: a name in the file area stays inside it, and \
             `../outside.csv` would leave {}",
            world
                .root
                .canonicalize()
                .unwrap()
                .join("../outside.csv")
                .display(),
            world.data.join("files").display()
        ),
    );
    let run = refused_run(
        &world,
        &["run", "users", "--set", "input=../outside.csv"],
        Stdio::null(),
    );
    assert_refused(
        &world,
        &run,
        &format!(
            "option `input` = `../outside.csv`: a name in the file area stays inside it, and \
             `../outside.csv` would leave {}: give a file outside it by an absolute path",
            world.data.join("files").display()
        ),
    );

    // From the current directory, `..` is the operator's own business.
    std::fs::create_dir_all(world.root.join("sub")).unwrap();
    world.file("mine.csv", USERS_CSV);
    let (code, report) = world.run_json("users", Path::new("sub/../mine.csv"), &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(world.export_users().len(), 1);
}

/// course-create's rows naming `template` (a path relative to the input's folder).
fn create_with_template(world: &World, template: &str) -> (i32, Value, String) {
    let csv = world.file(
        "c.csv",
        format!("shortname;fullname;template\nNEW;New;{template}\nPLAIN;Plain;\n"),
    );
    let cmd = world.command(&["run", "course-create", csv.to_str().unwrap(), "--json"]);
    report_of(run_bounded(cmd, None))
}

#[test]
fn a_named_pipe_or_a_device_as_template_fails_its_row_at_once() {
    let world = World::courses();
    fifo(&world.root.join("pipe.mbz"));
    std::os::unix::fs::symlink("/dev/zero", world.root.join("zero.mbz")).unwrap();
    for (template, kind) in [
        ("pipe.mbz", "a named pipe (FIFO)"),
        ("zero.mbz", "a character device"),
    ] {
        let (code, report, stderr) = create_with_template(&world, template);
        assert_eq!(code, 1, "{report}\n{stderr}");
        assert_eq!(
            reasons(&report),
            [format!(
                "template `{template}` is {kind}, not a regular file: {NEEDS}"
            )],
            "{template}"
        );
        // The run went on (and let go of the store): the other row is there.
        assert!(world.show("course", "PLAIN").is_some());
        assert!(world.show("course", "NEW").is_none());
    }
}

/// Limits the child's data segment (heap included) to `bytes`: an allocation past it fails,
/// and Rust aborts the process.
fn limit_memory(cmd: &mut std::process::Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: setrlimit is async-signal-safe and only reads `limit`, copied into the closure.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_DATA, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

#[test]
fn a_template_with_a_huge_tar_header_fails_its_row_in_bounded_memory() {
    let world = World::courses();
    let course = CourseXml::new(
        &[("format", "weeks")],
        &[(0, None, ""), (1, Some("One"), "")],
    );
    const GIB: u64 = 1 << 30;
    for (kind, what) in [
        (HugeHeader::GnuLongName, "GNU long name"),
        (HugeHeader::Pax, "pax header"),
    ] {
        write_huge_header(&world.root.join("huge.mbz"), kind, GIB, &course).unwrap();
        let csv = world.file("c.csv", "shortname;fullname;template\nNEW;New;huge.mbz\n");
        let mut cmd = world.command(&["run", "course-create", csv.to_str().unwrap(), "--json"]);
        // Reading the 1 GiB header whole took 1.1 to 2.1 GB.
        limit_memory(&mut cmd, 512 << 20);
        let run = run_bounded(cmd, None);
        assert_eq!(run.code(), 1, "{kind:?}: {}", run.stderr());
        let (_, report, _) = report_of(run);
        assert_eq!(
            reasons(&report),
            [format!(
                "template `huge.mbz` holds a tar {what} of {GIB} bytes, over the 1024 KiB a \
                 header may have"
            )]
        );
    }
    assert!(world.show("course", "NEW").is_none());
}
