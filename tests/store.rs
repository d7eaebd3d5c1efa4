//! The store meets mistakes and damage: a mistyped data dir, a data dir that is a file, one
//! made by hand with wide permissions, sled's interrupted snapshot files, truncated files; the
//! engine of a store (`store = "redb"`) chosen, mistyped, or changed under an existing store.
mod common;

use common::*;

const USERS_FILE: &str = "username;firstname;lastname;email;password\n\
                          ann;Ann;A;ann@example.org;Secret-1\n\
                          bob;Bob;B;bob@example.org;Secret-2\n";

fn loaded(world: &World) {
    let file = world.file("u.csv", USERS_FILE);
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
}

#[test]
fn read_commands_never_create_a_store() {
    let world = World::users();
    for args in [
        &["show", "user", "ann"][..],
        &["export", "users", "--format", "json"],
        &["check"],
        &["journal"],
        &["journal", "clear", "users"],
    ] {
        let run = world.run(args);
        assert_eq!(run.code(), 5, "{args:?}: {}{}", run.stdout(), run.stderr());
        assert!(
            run.stderr().contains("no store at") && run.stderr().contains("--data-dir"),
            "{args:?}: {}",
            run.stderr()
        );
        assert_eq!(run.stdout(), "", "{args:?} printed something");
        assert!(
            !world.data.exists(),
            "{args:?} created {}",
            world.data.display()
        );
    }
    // The list of entities needs no store, and makes none.
    assert_eq!(world.run(&["export"]).code(), 0);
    assert!(!world.data.exists());
    // `run` creates the data dir and the store, and says so on stderr.
    let file = world.file("u.csv", USERS_FILE);
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr().contains("created a new data dir"),
        "{}",
        run.stderr()
    );
    assert!(world.show_user("ann").is_some());
}

#[test]
fn a_data_dir_that_is_a_file_is_a_usage_error_for_every_command() {
    let world = World::users();
    let file = world.file("u.csv", USERS_FILE);
    std::fs::write(&world.data, "not a folder").unwrap();
    for args in [
        &["run", "users", file.to_str().unwrap()][..],
        &["show", "user", "ann"],
        &["check"],
        &["export"],
    ] {
        let run = world.run(args);
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
        assert!(
            run.stderr().contains("is not a folder"),
            "{args:?}: {}",
            run.stderr()
        );
    }
}

#[test]
fn an_empty_toolsync_data_is_unset() {
    let world = World::users();
    let file = world.file("u.csv", USERS_FILE);
    let run = std::process::Command::new(bin())
        .args(["--plugin-dir"])
        .arg(&world.plugins)
        .args(["run", "users"])
        .arg(&file)
        .env("TOOLSYNC_DATA", "")
        .env_remove("TOOLSYNC_PLUGIN_PATH")
        .current_dir(&world.root)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(world.root.join("toolsync-data/store").is_dir());
    assert!(
        !world.root.join("store").exists(),
        "the current folder became the data dir"
    );
}

#[cfg(unix)]
#[test]
fn the_store_and_work_files_are_owner_only_in_a_data_dir_made_by_hand() {
    use std::os::unix::fs::PermissionsExt;
    let world = World::users();
    std::fs::create_dir_all(&world.data).unwrap();
    std::fs::set_permissions(&world.data, std::fs::Permissions::from_mode(0o755)).unwrap();
    loaded(&world);
    let mode = |p: &str| {
        std::fs::metadata(world.data.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("store"), 0o700, "the store holds every account");
    assert_eq!(mode("runs"), 0o700, "spools hold what the files carried");
    assert_eq!(mode("files/reports"), 0o700);
    // A store made readable later is tightened at the next open.
    std::fs::set_permissions(
        world.data.join("store"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    world.assert_consistent();
    assert_eq!(mode("store"), 0o700);
}

/// sled 0.34 leaves `snap.<lsn>.generating` when a snapshot is interrupted (a full disk, a
/// kill) and then refuses to open ("Read corrupted data") for ever after.
#[test]
fn an_interrupted_snapshot_file_does_not_make_the_store_unopenable() {
    let world = World::users();
    loaded(&world);
    let store = world.data.join("store");
    std::fs::write(store.join("snap.FFFFFFFFFFFFFFFF.generating"), b"").unwrap();
    std::fs::write(
        store.join("snap.FFFFFFFFFFFFFFFE.generating"),
        b"half a snapshot",
    )
    .unwrap();
    assert_eq!(
        world.export_users().len(),
        2,
        "every committed row is there"
    );
    world.assert_consistent();
    let left: Vec<_> = std::fs::read_dir(&store)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".generating"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A truncated log: sled panics (index out of bounds) or reports corruption; either way the
/// operator gets one line that names the store and what to do, exit 5, and no half output.
#[test]
fn a_truncated_store_is_reported_as_damaged_without_a_panic() {
    let world = World::users();
    loaded(&world);
    let db = world.data.join("store/db");
    let len = std::fs::metadata(&db).unwrap().len();
    for keep in [len / 2, 100, 0] {
        let file = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        file.set_len(keep).unwrap();
        drop(file);
        for args in [
            &["export", "users", "--format", "json"][..],
            &["show", "user", "ann"],
            &["check"],
        ] {
            let run = world.run(args);
            let stderr = run.stderr();
            assert_ne!(
                run.code(),
                101,
                "{args:?} panicked at {keep} bytes: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
            assert!(!stderr.contains("RUST_BACKTRACE"), "{args:?}: {stderr}");
            if args[0] == "export" && !run.stdout().is_empty() {
                let whole: Result<serde_json::Value, _> = serde_json::from_str(&run.stdout());
                assert!(
                    whole.is_ok(),
                    "a partial export was printed: {}",
                    run.stdout()
                );
            }
            // sled recovers a log cut anywhere after its first segment by dropping the
            // torn tail (then `ann` may be gone: exit 1 for show); a log cut before it
            // holds no version record and is reported as damaged, never shown as empty.
            match run.code() {
                0 | 1 => assert!(keep > 0, "an emptied log read as a store: {args:?}"),
                5 => assert!(
                    stderr.contains("the store at") && stderr.contains("damaged"),
                    "{args:?} at {keep} bytes: {stderr}"
                ),
                code => panic!("{args:?} at {keep} bytes: exit {code}: {stderr}"),
            }
        }
    }
}

/// The store folder deleted while a run has it open: sled would write on into the unlinked
/// files and the run would report success. The run notices at its final flush and fails.
#[test]
fn a_store_deleted_during_a_run_fails_the_run() {
    let world = World::users();
    loaded(&world);
    let file = world.file("more.csv", "username;firstname;lastname\ncid;Cid;C\n");
    let hook = world.root.join("hook");
    let child = world
        .command(&["run", "users", file.to_str().unwrap()])
        .env(
            "TOOLSYNC_FAULT",
            format!("before-final-flush:pause={}", hook.display()),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !hook.join("reached").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never reached its final flush"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::fs::remove_dir_all(world.data.join("store")).unwrap();
    std::fs::write(hook.join("go"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("was deleted or replaced"), "{stderr}");
}

/// A first run killed right after sled created its log, before the store was seeded: read
/// commands say the store holds nothing (never an empty platform), and the next run seeds it.
#[test]
fn a_store_killed_before_its_first_commit_is_seeded_by_the_next_run() {
    let world = World::users();
    let store = world.data.join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("db"), b"").unwrap();
    let check = world.run(&["check"]);
    assert_eq!(check.code(), 5, "{}", check.stderr());
    assert!(
        check.stderr().contains("holds nothing"),
        "{}",
        check.stderr()
    );
    loaded(&world);
    assert_eq!(world.export_users().len(), 2);
    world.assert_consistent();
}

fn export_all(world: &World) -> Vec<String> {
    ["users", "courses", "categories", "enrolments"]
        .iter()
        .map(|entity| {
            let run = world.run(&["export", entity]);
            assert_eq!(run.code(), 0, "{}", run.stderr());
            run.stdout()
        })
        .collect()
}

fn courses_world() -> World {
    courses_world_in(World::courses())
}

/// Accounts and one course with a teacher, in `world`.
fn courses_world_in(world: World) -> World {
    loaded(&world);
    let file = world.file(
        "c.csv",
        "shortname;fullname;category;teacher1_account\nC1;Course 1;Sciences;ann\n",
    );
    let run = world.run(&["run", "course-create", file.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    world
}

#[test]
fn a_backup_restores_the_store_as_it_was_and_keeps_the_replaced_one() {
    let world = courses_world();
    let before = export_all(&world);
    let backup = world.root.join("store.backup");
    let run = world.run(&["backup", backup.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(run.stdout().starts_with("backed up "), "{}", run.stdout());
    // Refused: the file exists.
    assert_eq!(world.run(&["backup", backup.to_str().unwrap()]).code(), 2);

    // The store moves on...
    let more = world.file("more.csv", "username;firstname;lastname\nzed;Zed;Z\n");
    assert_eq!(
        world.run(&["run", "users", more.to_str().unwrap()]).code(),
        0
    );
    assert_ne!(export_all(&world), before);
    // ...a restore over it is refused unless forced, and changes nothing.
    let refused = world.run(&["restore", backup.to_str().unwrap()]);
    assert_eq!(refused.code(), 2, "{}", refused.stderr());
    assert!(refused.stderr().contains("--force"), "{}", refused.stderr());
    assert!(world.show_user("zed").is_some());

    let restored = world.run(&["restore", backup.to_str().unwrap(), "--force"]);
    assert_eq!(
        restored.code(),
        0,
        "{}{}",
        restored.stdout(),
        restored.stderr()
    );
    assert!(
        restored.stdout().contains("is consistent"),
        "{}",
        restored.stdout()
    );
    assert_eq!(export_all(&world), before);
    world.assert_consistent();
    let kept: Vec<_> = std::fs::read_dir(&world.data)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("store.replaced-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");

    // Into a data dir with no store at all (a new machine): no --force needed.
    let fresh = World::courses();
    let run = fresh.run(&["restore", backup.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    assert_eq!(export_all(&fresh), before);
}

#[test]
fn a_damaged_backup_is_refused_before_anything_changes() {
    let world = courses_world();
    let before = export_all(&world);
    let backup = world.root.join("store.backup");
    assert_eq!(world.run(&["backup", backup.to_str().unwrap()]).code(), 0);
    let bytes = std::fs::read(&backup).unwrap();
    let mut flipped = bytes.clone();
    let at = bytes.len() / 2;
    flipped[at] ^= 0x01;
    for (name, damaged) in [
        ("flipped", flipped),
        ("cut", bytes[..bytes.len() - 10].to_vec()),
        ("not-a-backup", b"username;firstname\n".to_vec()),
    ] {
        let path = world.file(name, &damaged);
        let run = world.run(&["restore", path.to_str().unwrap(), "--force"]);
        assert_eq!(run.code(), 5, "{name}: {}", run.stderr());
        assert!(
            run.stderr().contains("cannot be restored"),
            "{name}: {}",
            run.stderr()
        );
        assert_eq!(export_all(&world), before, "{name}: the store changed");
    }
}

#[test]
fn a_damaged_store_is_replaced_by_its_backup() {
    let world = courses_world();
    let before = export_all(&world);
    let backup = world.root.join("store.backup");
    assert_eq!(world.run(&["backup", backup.to_str().unwrap()]).code(), 0);
    std::fs::OpenOptions::new()
        .write(true)
        .open(world.data.join("store/db"))
        .unwrap()
        .set_len(0)
        .unwrap();
    assert_eq!(world.run(&["check"]).code(), 5);
    let run = world.run(&["restore", backup.to_str().unwrap(), "--force"]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    assert_eq!(export_all(&world), before);
}

#[test]
fn a_restore_killed_before_its_swap_is_completed_by_the_next_command() {
    let world = courses_world();
    let before = export_all(&world);
    let backup = world.root.join("store.backup");
    assert_eq!(world.run(&["backup", backup.to_str().unwrap()]).code(), 0);
    let more = world.file("more.csv", "username;firstname;lastname\nzed;Zed;Z\n");
    assert_eq!(
        world.run(&["run", "users", more.to_str().unwrap()]).code(),
        0
    );
    let killed = world
        .command(&["restore", backup.to_str().unwrap(), "--force"])
        .env("TOOLSYNC_FAULT", "restore-before-swap")
        .output()
        .unwrap();
    assert_eq!(
        killed.status.code(),
        None,
        "the fault point was not reached"
    );
    assert_eq!(export_all(&world), before, "the restore was not completed");
    world.assert_consistent();
}

#[test]
fn backup_needs_the_store_to_itself_and_leaves_journals_out() {
    let world = World::users();
    loaded(&world);
    let backup = world.root.join("b");
    let held = toolsync::data_dir::DataDir::resolve(Some(&world.data))
        .unwrap()
        .open_or_create_store()
        .unwrap();
    let run = world.run(&["backup", backup.to_str().unwrap()]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    assert!(run.stderr().contains("in use"), "{}", run.stderr());
    assert!(!backup.exists());
    world.release_store(held);

    // A run killed in its finish leaves a journal.
    let file = world.file("j.csv", "username;firstname;lastname\njo;Jo;J\n");
    let killed = world
        .command(&["run", "users", file.to_str().unwrap()])
        .env("TOOLSYNC_FAULT", "after-report")
        .output()
        .unwrap();
    assert_eq!(killed.status.code(), None);
    let run = world.run(&["backup", backup.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("journal of the interrupted users run"),
        "{}",
        run.stderr()
    );
    let fresh = World::users();
    assert_eq!(fresh.run(&["restore", backup.to_str().unwrap()]).code(), 0);
    assert!(
        fresh.show_user("jo").is_some(),
        "committed rows are in the backup"
    );
    assert_eq!(
        fresh.run(&["journal"]).stdout().trim(),
        "no interrupted run"
    );
}

#[test]
fn check_names_an_unreadable_journal() {
    let world = World::users();
    loaded(&world);
    world.with_store(|store| {
        let mut writes = toolsync_plugin_api::engine::Writes::new();
        writes.insert(
            toolsync_plugin_api::engine::full_key("_journal", b"users"),
            Some(b"{not json".to_vec()),
        );
        store.commit(writes).unwrap();
        store.flush_all().unwrap();
    });
    let run = world.run(&["check"]);
    assert_eq!(run.code(), 1, "{}{}", run.stdout(), run.stderr());
    assert!(
        run.stdout().contains("_journal journal users:"),
        "{}",
        run.stdout()
    );
}

#[test]
fn a_redb_store_runs_backs_up_and_restores_as_redb() {
    let world = courses_world_in(World::courses().on_engine("redb"));
    let store = world.data.join("store");
    assert!(store.join("store.redb").is_file() && !store.join("db").exists());
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.join("store.redb"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the store file holds every account");
    }
    world.assert_consistent();
    let before = export_all(&world);
    let again = world
        .run_json("users", &world.file("u.csv", USERS_FILE), &[])
        .1;
    assert_eq!(counts(&again).3, 2, "unchanged on a re-run: {again}");

    let backup = world.root.join("store.backup");
    assert_eq!(world.run(&["backup", backup.to_str().unwrap()]).code(), 0);
    let more = world.file("more.csv", "username;firstname;lastname\nzed;Zed;Z\n");
    assert_eq!(
        world.run(&["run", "users", more.to_str().unwrap()]).code(),
        0
    );
    let restored = world.run(&["restore", backup.to_str().unwrap(), "--force"]);
    assert_eq!(restored.code(), 0, "{}", restored.stderr());
    assert!(
        store.join("store.redb").is_file(),
        "restored as another engine"
    );
    assert_eq!(export_all(&world), before);
    world.assert_consistent();
}

#[test]
fn a_mistyped_engine_or_one_changed_under_a_store_is_refused_by_name() {
    let world = World::users().on_engine("rocksdb");
    let file = world.file("u.csv", USERS_FILE);
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("\"rocksdb\" is not an engine: \"sled\" or \"redb\""),
        "{}",
        run.stderr()
    );
    assert!(!world.data.join("store").exists());

    let world = World::users();
    loaded(&world);
    let world = world.on_engine("redb");
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 5, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("it is a sled store, and toolsync.toml says `store = \"redb\"`"),
        "{}",
        run.stderr()
    );
    // Read commands open the store with its own engine, and warn.
    let show = world.run(&["show", "user", "ann"]);
    assert_eq!(show.code(), 0, "{}", show.stderr());
    assert!(
        show.stderr().contains("runs will be refused"),
        "{}",
        show.stderr()
    );
}

/// A redb file cut short: refused as damaged (or repaired by redb), never a panic nor an
/// emptied store shown as a platform.
#[test]
fn a_truncated_redb_store_is_reported_as_damaged_without_a_panic() {
    let world = World::users().on_engine("redb");
    loaded(&world);
    let file = world.data.join("store/store.redb");
    let len = std::fs::metadata(&file).unwrap().len();
    for keep in [len / 2, 4096, 100, 0] {
        let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.set_len(keep).unwrap();
        drop(f);
        for args in [&["show", "user", "ann"][..], &["check"]] {
            let run = world.run(args);
            let stderr = run.stderr();
            assert!(!stderr.contains("panicked"), "{args:?} at {keep}: {stderr}");
            match run.code() {
                0 | 1 => {}
                5 => assert!(
                    stderr.contains("the store at") || stderr.contains("store"),
                    "{args:?} at {keep} bytes: {stderr}"
                ),
                code => panic!("{args:?} at {keep} bytes: exit {code}: {stderr}"),
            }
        }
    }
}

/// Moving a store to the other engine: a backup of a sled store restored into a data dir whose
/// toolsync.toml names redb is a redb store with the same content.
#[test]
fn a_sled_store_moves_to_redb_through_backup_and_restore() {
    let world = courses_world();
    let before = export_all(&world);
    let backup = world.root.join("store.backup");
    assert_eq!(world.run(&["backup", backup.to_str().unwrap()]).code(), 0);
    let moved = World::courses().on_engine("redb");
    let run = moved.run(&["restore", backup.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    assert!(moved.data.join("store/store.redb").is_file());
    assert!(!moved.data.join("store/db").exists());
    assert_eq!(export_all(&moved), before);
    moved.assert_consistent();
}

/// `store copy` moves a store to another engine: every entry counted and checked, the copy
/// put in place serves the same platform; a non-empty target or an unknown engine is refused.
#[test]
fn store_copy_moves_a_store_to_redb_and_refuses_what_it_would_overwrite() {
    let world = courses_world();
    let before = export_all(&world);
    let info = world.run(&["store", "info", "--json"]);
    assert_eq!(info.code(), 0, "{}", info.stderr());
    let info: serde_json::Value = serde_json::from_str(&info.stdout()).unwrap();
    assert_eq!(info["engine"], "sled");
    let entries = info["entries"].as_u64().unwrap();
    assert!(entries > 10, "{info}");

    let copy = world.root.join("copy");
    let to = format!("redb:{}", copy.display());
    let run = world.run(&["store", "copy", "--to", &to, "--json"]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    let copied: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(copied["entries"].as_u64(), Some(entries));
    assert_eq!(copied["consistent"], true);
    assert!(copy.join("store.redb").is_file());

    let again = world.run(&["store", "copy", "--to", &to]);
    assert_eq!(again.code(), 2);
    assert!(
        again.stderr().contains("is not empty"),
        "{}",
        again.stderr()
    );
    let inside = format!("redb:{}", world.data.join("store/sub").display());
    let refused = world.run(&["store", "copy", "--to", &inside]);
    assert_eq!(refused.code(), 2);
    assert!(
        refused.stderr().contains("inside the store"),
        "{}",
        refused.stderr()
    );
    let a_file = world.file("a-file", "");
    let refused = world.run(&[
        "store",
        "copy",
        "--to",
        &format!("sled:{}", a_file.display()),
    ]);
    assert_eq!(refused.code(), 2);
    assert!(
        refused.stderr().contains("is a file"),
        "{}",
        refused.stderr()
    );
    // A copy killed midway leaves `.<name>.partial`, never a store under the name asked.
    let again = world.root.join("again");
    std::fs::create_dir_all(world.root.join(".again.partial")).unwrap();
    std::fs::write(world.root.join(".again.partial/db"), b"half").unwrap();
    let run = world.run(&[
        "store",
        "copy",
        "--to",
        &format!("sled:{}", again.display()),
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(again.join("db").is_file() && !world.root.join(".again.partial").exists());
    let unknown = world.run(&["store", "copy", "--to", "rocksdb:/tmp/x"]);
    assert_eq!(unknown.code(), 2);
    assert!(
        unknown.stderr().contains("not an engine"),
        "{}",
        unknown.stderr()
    );

    // Put in place: the same platform, on redb, with no setting (a store keeps its engine).
    std::fs::remove_dir_all(world.data.join("store")).unwrap();
    std::fs::rename(&copy, world.data.join("store")).unwrap();
    assert_eq!(export_all(&world), before);
    let more = world.file("more.csv", "username;firstname;lastname\nzed;Zed;Z\n");
    let run = world.run(&["run", "users", more.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(world.data.join("store/store.redb").is_file());
    let info = world.run(&["store", "info"]);
    assert!(
        info.stdout().starts_with("redb store at "),
        "{}",
        info.stdout()
    );
    world.assert_consistent();
}

/// A tmpfs mounted on a world's data dir, unmounted when dropped.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    /// `None` (with the reason printed) where this process may not mount one.
    fn mount(dir: &std::path::Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output();
        match out {
            Ok(out) if out.status.success() => Some(SmallDisk(dir.to_path_buf())),
            Ok(out) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs to fill ({}): run the tests as root to try a \
                     full disk",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: no `mount` ({e}): run the tests as root to try a full disk");
                None
            }
        }
    }

    fn grow(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A disk that fills up under a redb run, no space kept free (`store_reserve = 0`): the run
/// fails with a message that says so, the store still opens and passes `toolsync check` with
/// the batches it committed, and once there is room the same file runs to its end. Skipped,
/// saying why, where this process may not mount a tmpfs.
#[test]
fn a_full_disk_never_leaves_a_redb_store_unopenable() {
    let world = World::users();
    let Some(disk) = SmallDisk::mount(&world.data, "4m") else {
        return;
    };
    let world = world.on_engine("redb").top_level("store_reserve = 0");
    let file = users_file(&world, "many.csv", 20_000, None);
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_ne!(run.code(), 0, "4 MiB held 20,000 accounts?");
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    assert!(run.stderr().contains("is full"), "{}", run.stderr());
    let check = world.run(&["check"]);
    assert!(
        check.code() == 0 || check.stderr().contains("holds nothing"),
        "redb after a full disk: {}{}",
        check.stdout(),
        check.stderr()
    );
    runs_to_its_end_with_room(&world, &disk, &file);
}

/// sled does not survive a full disk (see `store::DEFAULT_RESERVE`): a run stops before the
/// disk has less than `store_reserve` free, committing nothing more, with a message that says
/// so; the batches it committed before pass `toolsync check`, and once there is room the same
/// file runs to its end.
#[test]
fn a_sled_run_stops_before_its_disk_is_full() {
    let world = World::users();
    let Some(disk) = SmallDisk::mount(&world.data, "24m") else {
        return;
    };
    let world = world
        .on_engine("sled")
        .top_level("store_reserve = \"16 MiB\"");
    let file = users_file(&world, "many.csv", 20_000, None);
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_ne!(
        run.code(),
        0,
        "24 MiB kept 16 MiB free with 20,000 accounts?"
    );
    assert!(!run.stderr().contains("panicked"), "{}", run.stderr());
    assert!(
        run.stderr().contains("is nearly full")
            && run
                .stderr()
                .contains("under the 16 MiB toolsync keeps free"),
        "{}",
        run.stderr()
    );
    let committed = world.run(&["export", "users", "--format", "csv"]).stdout();
    assert!(
        committed.lines().count() > 1,
        "the run stopped before its first batch: nothing shows the reserve is checked per batch"
    );
    let check = world.run(&["check"]);
    assert_eq!(check.code(), 0, "{}{}", check.stdout(), check.stderr());
    runs_to_its_end_with_room(&world, &disk, &file);
}

/// Grows `disk`, runs `file` again: every account is there, once.
fn runs_to_its_end_with_room(world: &World, disk: &SmallDisk, file: &std::path::Path) {
    disk.grow("256m");
    runs_again_to_its_end(world, file, 20_000);
}

/// Runs the users file `file` again: it ends, and the store holds its `accounts`, once, and
/// passes `check`.
fn runs_again_to_its_end(world: &World, file: &std::path::Path, accounts: usize) {
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    let users = world.run(&["export", "users", "--format", "csv"]).stdout();
    assert_eq!(users.lines().count(), accounts + 1);
    world.assert_consistent();
}

/// A store folder holding the files of two engines (made by hand) is refused, naming both.
#[test]
fn a_store_folder_with_two_engines_files_is_refused() {
    let world = World::users();
    loaded(&world);
    std::fs::write(world.data.join("store/store.redb"), b"").unwrap();
    let show = world.run(&["show", "user", "ann"]);
    assert_eq!(show.code(), 5);
    assert!(
        show.stderr().contains("db, store.redb") && show.stderr().contains("one store per folder"),
        "{}",
        show.stderr()
    );
}

/// A store file that is there but unusable (a folder in its place) is reported with its real
/// error, not as "no store"; a store lost from a data dir that has run before is recreated with
/// a warning that says so.
#[test]
fn an_unusable_store_file_is_named_and_a_lost_store_is_not_recreated_silently() {
    let world = World::users().on_engine("redb");
    loaded(&world);
    let file = world.data.join("store/store.redb");
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let show = world.run(&["show", "user", "ann"]);
    assert_eq!(show.code(), 5);
    assert!(!show.stderr().contains("no store at"), "{}", show.stderr());
    assert!(show.stderr().contains("the store at"), "{}", show.stderr());

    std::fs::remove_dir_all(world.data.join("store")).unwrap();
    let run = world.run(&[
        "run",
        "users",
        world.file("u.csv", USERS_FILE).to_str().unwrap(),
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("the store was missing though runs are reported"),
        "{}",
        run.stderr()
    );
}

/// A users file whose rows read what earlier rows of the same chunk and batch wrote: an
/// account updated a few rows after its creation, renamed, deleted, revived, an e-mail taken
/// by an earlier row.
fn entangled_users(world: &World, rows: usize) -> std::path::PathBuf {
    use std::fmt::Write;
    let mut text = String::from("username;oldusername;firstname;lastname;email;city;deleted\n");
    for i in 0..rows {
        let line = match i {
            i if i >= 5 && i % 7 == 0 => {
                format!("user{};;F;L;user{}@example.org;Moved {i};", i - 3, i - 3)
            }
            i if i >= 5 && i % 11 == 0 => format!("user{i};;F;L;user{}@example.org;C;", i - 5),
            i if i >= 5 && i % 13 == 0 => {
                format!("ren{i};user{};F;L;ren{i}@example.org;C;", i - 2)
            }
            i if i >= 5 && i % 17 == 0 => format!("user{};;F;L;;;1", i - 4),
            i if i >= 25 && i % 19 == 0 => {
                format!("user{};;F;L;user{}@example.org;Back;0", i - 21, i - 21)
            }
            i => format!(
                "user{i};;First{i};Last{i};user{i}@example.org;City {};",
                i % 97
            ),
        };
        writeln!(text, "{line}").unwrap();
    }
    world.file("entangled.csv", &text)
}

/// On PostgreSQL the rows of a chunk are prepared in waves and their reads fetched together
/// into a cache that each commit updates: the same files must end exactly as on sled, where
/// every read goes to the store — every row's outcome, the counts, the platform. 3,000 rows
/// make batches commit in the middle of chunks.
#[test]
fn a_postgres_store_ends_as_a_sled_store_for_the_same_files() {
    let mut results = Vec::new();
    for world in [World::users(), World::users().on_postgres()] {
        let file = entangled_users(&world, 3_000);
        let mut outcomes = Vec::new();
        for pass in 0..2 {
            let (code, report) = world.run_json("users", &file, &["--set", "allow_rename=true"]);
            assert_eq!(code, 1, "pass {pass}: some rows fail by design");
            outcomes.push(report["counts"].clone());
            let stored = world.run(&["reports", "--json"]);
            assert_eq!(stored.code(), 0, "{}", stored.stderr());
        }
        let text = std::fs::read_dir(world.data.join("files/reports"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".report.txt"))
            .map(|e| {
                let text = std::fs::read_to_string(e.path()).unwrap();
                // Row lines only: the header names times and paths.
                text.lines()
                    .filter(|l| l.starts_with("line "))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect::<std::collections::BTreeSet<_>>();
        results.push((outcomes, text, export_without_stamps(&world)));
        world.assert_consistent();
    }
    let (sled, postgres) = (&results[0], &results[1]);
    assert_eq!(sled.0, postgres.0, "the counts");
    assert!(
        sled.0[0]["failed"].as_u64().unwrap() > 0 && sled.0[0]["updated"].as_u64().unwrap() > 0,
        "the file exercises failures and updates: {}",
        sled.0[0]
    );
    assert_eq!(sled.1, postgres.1, "the row outcomes");
    assert_eq!(sled.2, postgres.2, "the platform");
}

/// `store copy --to postgres://…` moves a store to an empty PostgreSQL database, counted and
/// checked; a second copy there is refused (it holds a store); a data dir that names the
/// database while its old store folder is still there is refused; once the folder is moved
/// away, the platform is the same, and runs go on there.
#[test]
fn store_copy_moves_a_store_to_postgres_and_the_data_dir_follows_it() {
    let world = courses_world();
    let before = export_all(&world);
    let url = world.database("copy");
    let run = world.run(&["store", "copy", "--to", &url, "--json"]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    let copied: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(copied["to_engine"], "postgres");
    assert_eq!(copied["consistent"], true);
    let again = world.run(&["store", "copy", "--to", &url]);
    assert_eq!(again.code(), 5, "{}", again.stderr());
    assert!(
        again.stderr().contains("already holds entries"),
        "{}",
        again.stderr()
    );

    let world = world.on_engine(&url);
    let refused = world.run(&["export", "users", "--format", "json"]);
    assert_eq!(refused.code(), 5);
    assert!(
        refused.stderr().contains("still holds a sled store"),
        "{}",
        refused.stderr()
    );
    std::fs::rename(world.data.join("store"), world.root.join("store.old")).unwrap();
    assert_eq!(export_all(&world), before);
    let info = world.run(&["store", "info"]);
    assert!(
        info.stdout().starts_with("postgres store at postgres://"),
        "{}",
        info.stdout()
    );
    let file = world.file("more.csv", "username;firstname;lastname\nzoe;Zoe;Z\n");
    assert_eq!(
        world.run(&["run", "users", file.to_str().unwrap()]).code(),
        0
    );
    world.assert_consistent();
}

/// A backup restored into a data dir that names an empty PostgreSQL database lands there
/// whole; a restore into a database that holds a store is refused, `--force` or not.
#[test]
fn a_backup_restores_into_an_empty_postgres_store_only() {
    let world = courses_world();
    let before = export_all(&world);
    let backup = world.root.join("store.backup");
    assert_eq!(world.run(&["backup", backup.to_str().unwrap()]).code(), 0);
    let moved = World::courses().on_postgres();
    let run = moved.run(&["restore", backup.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    assert!(
        !moved.data.join("store").exists(),
        "nothing embedded was made"
    );
    assert_eq!(export_all(&moved), before);
    moved.assert_consistent();
    let again = moved.run(&["restore", backup.to_str().unwrap(), "--force"]);
    assert_eq!(again.code(), 5, "{}", again.stderr());
    assert!(
        again.stderr().contains("already holds entries"),
        "{}",
        again.stderr()
    );
}

/// The password of a PostgreSQL store is never taken from toolsync.toml, nor shown: a URL
/// holding one is refused (exit 2) without echoing it; a password file others may read is
/// refused.
#[test]
fn a_postgres_password_never_sits_in_the_configuration_nor_in_messages() {
    let world = World::users();
    std::fs::create_dir_all(&world.data).unwrap();
    std::fs::write(
        world.data.join("toolsync.toml"),
        "store = \"postgres://ts:Sup3rSecret@localhost/x\"\n",
    )
    .unwrap();
    let file = world.file("l.csv", "username;firstname;lastname\nx;X;X\n");
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("holds a password"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("Sup3rSecret") && !run.stdout().contains("Sup3rSecret"));

    let secret = world.root.join("password");
    std::fs::write(&secret, "Sup3rSecret\n").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    std::fs::write(
        world.data.join("toolsync.toml"),
        format!(
            "store = \"postgres://ts@localhost/x\"\nstore_password_file = \"{}\"\n",
            secret.display()
        ),
    )
    .unwrap();
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("readable by others"),
        "{}",
        run.stderr()
    );
}

/// A PostgreSQL server stopped in the middle of a run (`pg_ctl stop -m fast`, on a cluster of
/// this test's own): the run stops with exit 5 and claims no more committed rows than the
/// store holds; once the server is back, the run resumes and every row lands once. (The
/// over-claim once seen — the line of a batch lost in flight — needs the stop to fall while a
/// batch is in flight: this test meets it only by chance, 0 of 3 runs with the fix removed.)
#[test]
fn a_server_stopped_mid_run_claims_nothing_it_lost_and_the_rerun_lands_every_row() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    use toolsync::store::pg_cluster::Cluster;
    struct Stopped(Cluster);
    impl Drop for Stopped {
        fn drop(&mut self) {
            self.0.stop();
        }
    }
    let cluster = Stopped(Cluster::start_named("-stopped", false).unwrap());
    let world = World::users().on_engine(&cluster.0.database("mid_run"));
    let file = users_file(&world, "big.csv", 30_000, None);
    let committed = |world: &World| -> u64 {
        let journal = world.run(&["journal"]).stdout();
        journal
            .split(" rows committed")
            .next()
            .and_then(|head| head.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let mut child = world
        .command(&["run", "users", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while committed(&world) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before a batch landed"
        );
        assert!(Instant::now() < deadline, "no batch committed in 120 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    cluster.0.pause().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    cluster.0.resume().unwrap();
    let landed = committed(&world);
    assert!(landed > 0 && landed < 30_000, "{landed}");
    match stderr.split("rows up to line ").nth(1) {
        Some(rest) => {
            let line: u64 = rest
                .split(' ')
                .next()
                .unwrap()
                .trim_end_matches(',')
                .parse()
                .unwrap();
            assert!(
                line - 1 <= landed,
                "claims line {line}, {landed} rows landed: {stderr}"
            );
        }
        None => assert!(stderr.contains("cannot say now"), "{stderr}"),
    }
    runs_again_to_its_end(&world, &file, 30_000);
}

/// `store_reserve` takes a size or 0; anything else is refused before the run, naming the key.
#[test]
fn a_store_reserve_that_is_not_a_size_is_refused() {
    let world = World::users().top_level("store_reserve = \"64 MB\"");
    let file = users_file(&world, "few.csv", 3, None);
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr().contains("store_reserve") && run.stderr().contains("ambiguous"),
        "{}",
        run.stderr()
    );
    let world = World::users().top_level("store_reserve = 0");
    let file = users_file(&world, "few.csv", 3, None);
    assert_eq!(
        world.run(&["run", "users", file.to_str().unwrap()]).code(),
        0
    );
}
