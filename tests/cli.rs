//! The command line as a script sees it: exit codes that do not depend on whether stderr or
//! stdout can be written, what `-v` and `RUST_LOG` tell about a run, `journal clear`.

mod common;
use common::*;

use std::fs::File;
use std::process::Stdio;

use toolsync_plugin_api::engine::{full_key, Backend, Writes};

/// `/dev/full`: every write to it fails with "no space left on device" — a stream that cannot
/// be written, every time (a closed pipe only fails once its reader is gone, which races).
#[cfg(target_os = "linux")]
fn full() -> Stdio {
    Stdio::from(File::options().write(true).open("/dev/full").unwrap())
}

/// Neither a message nor a log line that cannot be written changes the outcome: no panic
/// (exit 101), the command's own exit code.
#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_stderr_changes_no_exit_code() {
    let world = World::users();
    let file = world.file("u.csv", "username;firstname;lastname\nann;A;A\nbob;B;B\n");
    let code = |args: &[&str]| {
        world
            .command(args)
            .stdout(Stdio::null())
            .stderr(full())
            .status()
            .unwrap()
            .code()
    };
    // A run's log lines, at every level (the first creates the store, which it says).
    assert_eq!(
        code(&["-vvv", "run", "users", file.to_str().unwrap()]),
        Some(0)
    );
    // A message on stderr: nothing found, a usage error, an unknown processor.
    assert_eq!(code(&["show", "user", "nobody"]), Some(1));
    assert_eq!(
        code(&["run", "users", "nowhere.csv", "--set", "x"]),
        Some(2)
    );
    assert_eq!(code(&["run", "nope"]), Some(4));
    assert_eq!(world.export_users().len(), 2, "the run went to its end");
}

/// `--help` and `--version` print the command's output: a failure to print it is exit 5 like
/// any other command's, with the same words.
#[cfg(target_os = "linux")]
#[test]
fn help_and_output_that_cannot_be_printed_fail() {
    let world = World::users();
    let file = world.file("u.csv", "username;firstname;lastname\nann;A;A\n");
    assert_eq!(
        world.run(&["run", "users", file.to_str().unwrap()]).code(),
        0
    );
    for args in [
        &["--help"][..],
        &["--version"][..],
        &["run", "--help"][..],
        &["export", "users"][..],
        &["export", "users", "--format", "json"][..],
        &["show", "user", "ann"][..],
    ] {
        let run = world.command(args).stdout(full()).output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(5), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("toolsync: cannot write to stdout: "),
            "{args:?}: {stderr}"
        );
    }
}

/// What `-v` tells about a run: where it reads, with what options, into which store, each
/// commit, and where its outputs went; never a line per row (a million-row run), which trace
/// level adds.
#[test]
fn a_verbose_run_logs_its_steps_not_its_rows() {
    let world = World::users();
    let file = world.file(
        "u.csv",
        "username;firstname;lastname;email\nann;A;A;a@x.org\nbob;B;B;not-an-email\n",
    );
    let run = world.run(&["-v", "run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let log = run.stderr();
    let input = format!("input={}", file.display());
    let store = format!("path={}", world.data.join("store").display());
    for wanted in [
        "INFO run processor=users",
        &input,
        "INFO options options=",
        "identity=\"username\"",
        "INFO store opened",
        &store,
        "INFO input opened encoding=Utf8 delimiter=;",
        "INFO no interrupted run to resume",
        "INFO batch committed rows=2 ok=1 failed=1",
        "INFO tryback written tryback=",
        "INFO reports stored report=",
        "INFO input archived archive=",
        "INFO journal cleared",
        "INFO run finished rows=2 ok=1 failed=1 exit=1",
    ] {
        assert!(log.contains(wanted), "no `{wanted}` in:\n{log}");
    }
    assert!(!log.contains("row line="), "{log}");

    let run = world
        .command(&["run", "users", file.to_str().unwrap(), "--dry-run"])
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr);
    for wanted in [
        "TRACE row line=2 outcome=\"unchanged\" subject=ann",
        "TRACE row line=3 outcome=\"failed\" subject=bob",
        "INFO a dry run: no journal is read nor written",
        "INFO nothing committed",
    ] {
        assert!(log.contains(wanted), "no `{wanted}` in:\n{log}");
    }
}

/// A journal record in the store, as a killed run leaves one (here unreadable: `clear` is the
/// way out of that too).
fn leave_journal(world: &World, processor: &str) {
    world.with_store(|store| {
        let mut writes = Writes::new();
        writes.insert(
            full_key(toolsync::run::JOURNAL_SPACE, processor.as_bytes()),
            Some(b"{not json".to_vec()),
        );
        store.apply(writes).unwrap();
        store.flush().unwrap();
    });
}

/// `journal clear`: a name no plugin provides is exit 4 with a did-you-mean, as for `run` (and
/// never clears a journal whose name merely starts with it); a processor with nothing to clear
/// is exit 0, as `rm -f` of nothing is.
#[test]
fn journal_clear_exit_codes() {
    let world = World::users();
    leave_journal(&world, "users");

    let run = world.run(&["journal", "clear", "user"]);
    assert_eq!(run.code(), 4, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("unknown processor `user`: did you mean `users`?"),
        "{}",
        run.stderr()
    );
    let run = world.run(&["journal", "clear", "nope"]);
    assert_eq!(run.code(), 4, "{}", run.stderr());
    let listed = world.run(&["journal"]).stdout();
    assert!(
        listed.starts_with("users: unreadable journal"),
        "still there: {listed}"
    );

    let run = world.run(&["journal", "clear", "users"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.stdout().contains("is forgotten"), "{}", run.stdout());
    assert_eq!(world.run(&["journal"]).stdout(), "no interrupted run\n");

    let run = world.run(&["journal", "clear", "users"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(run.stdout(), "");
    assert_eq!(
        run.stderr(),
        "toolsync: no interrupted users run: nothing to clear\n"
    );
}

/// A journal whose plugin is gone can still be cleared.
#[test]
fn a_journal_is_cleared_without_its_plugin() {
    let world = World::with(&[]);
    leave_journal(&world, "retired");
    let run = world.run(&["journal", "clear", "retired"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(world.run(&["journal"]).stdout(), "no interrupted run\n");
}

/// Every file under `dir`, recursively.
fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The host prints through `toolsync::output` only: the std macros panic on a stream that
/// cannot be written, which is how every fault above began.
#[test]
fn the_host_prints_through_its_output_module_only() {
    let mut files = Vec::new();
    sources(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 10, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap();
            for banned in ["println!(", "print!(", "dbg!("] {
                assert!(
                    !code.contains(banned),
                    "{}:{}: {banned} — write through toolsync::output instead",
                    file.display(),
                    n + 1
                );
            }
        }
    }
}
