//! Plugin loading through the real loader: version refusal, panics, unknown processors.

mod common;
use common::*;

#[test]
fn a_plugin_built_against_another_api_major_is_refused_with_both_versions() {
    let world = World::with(&[USERS, API_V2]);
    let run = world.run(&["plugins"]);
    assert_eq!(run.code(), 4, "a refused library makes `plugins` exit 4");
    let out = run.stdout();
    let refused = out
        .lines()
        .find(|l| l.starts_with("refused:") && l.contains("api_v2"))
        .unwrap_or_else(|| panic!("the v2 fixture is not listed as refused:\n{out}"));
    assert!(refused.contains("2.0.0"), "{refused}");
    assert!(
        refused.contains(toolsync_plugin_api::API_VERSION),
        "{refused}"
    );
    // The other library still loads.
    assert!(out.lines().any(|l| l.starts_with("users ")), "{out}");

    let json = world.run(&["plugins", "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.output.stdout).unwrap();
    let names: Vec<&str> = value["processors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"users"), "{names:?}");
    assert!(value["refused"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("2.0.0"));
}

#[test]
fn a_panicking_plugin_fails_its_row_and_the_run_goes_on() {
    let world = World::with(&[PANICKY]);
    let file = world.file("p.csv", "value\na\npanic\nb\n");
    let (code, report) = world.run_json("panicky", &file, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["counts"]["created"], 2);
    assert_eq!(report["rows_failed"], 1);
    assert_eq!(report["errors"][0]["line"], 3);
    let reason = report["errors"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("panicked") && reason.contains("boom"),
        "{reason}"
    );
    // The write made before the panic was dropped with the row: a re-run creates nothing new
    // for `a` and `b` (the fixture always says created), so check the store bytes instead.
    assert!(!contains_bytes(&world.store_bytes(), b"panicky\0panic"));
}

#[test]
fn an_unknown_processor_exits_4_and_names_the_available_ones() {
    let world = World::users();
    let run = world.run(&["run", "nosuch", "x.csv"]);
    assert_eq!(run.code(), 4);
    assert!(
        run.stderr().contains("unknown processor `nosuch`"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("users"), "{}", run.stderr());
}

#[test]
fn schema_and_template_describe_the_processor() {
    let world = World::users();
    let schema = world.run(&["schema", "users", "--json"]);
    assert_eq!(schema.code(), 0, "{}", schema.stderr());
    let value: serde_json::Value = serde_json::from_slice(&schema.output.stdout).unwrap();
    let options: Vec<&str> = value["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    for key in [
        "identity",
        "allow_rename",
        "bcrypt_cost",
        "delimiter",
        "encoding",
        "archive",
    ] {
        assert!(options.contains(&key), "{key} missing from {options:?}");
    }
    let template = world.run(&["template", "users"]);
    assert_eq!(template.code(), 0);
    let header = template.stdout();
    assert!(header.starts_with("username;"), "{header}");
    // The template is a file the processor accepts.
    let file = world.file("t.csv", header);
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["refused"], serde_json::Value::Null);
}

#[test]
fn bad_usage_exits_2() {
    let world = World::users();
    let file = world.file("u.csv", "username;firstname;lastname\nx;y;z\n");
    let run = world.run(&["run", "users", file.to_str().unwrap(), "--set", "nosuch=1"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("identity"),
        "valid keys are named: {}",
        run.stderr()
    );
    let run = world.run(&[
        "run",
        "users",
        file.to_str().unwrap(),
        "--set",
        "identity=shoe",
    ]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let run = world.run(&["frobnicate"]);
    assert_eq!(run.code(), 2);
}

#[test]
fn a_vendor_plugin_uses_the_shared_model_and_its_own_keyspace() {
    let world = World::with(&[USERS, BADGES]);
    let users = world.file("u.csv", "username;firstname;lastname\nann;Ann;A\n");
    assert_eq!(world.run_json("users", &users, &[]).0, 0);
    let long = "x".repeat(60);
    let badges = world.file(
        "b.csv",
        format!(
            "username;badge;cmd\nann;gold;\nann;gold;ADD\nbob;gold;\nann;gold;del\nann;{long};\nann;silver;remove\nann;bronze;\n"
        ),
    );
    let (code, report) = world.run_json("badges", &badges, &[]);
    assert_eq!(code, 1, "bob does not exist: {report}");
    assert_eq!(report["counts"]["created"], 2);
    assert_eq!(report["counts"]["unchanged"], 1);
    assert_eq!(report["counts"]["deleted"], 1);
    let reasons = reasons(&report);
    // The schema the plugin declares is enforced by plugin-api before its code runs: a
    // 60-character value in its text(50) column, a word outside its enum.
    assert_eq!(
        reasons,
        [
            "no user with username = bob".to_string(),
            format!(
                "`badge`: `{}…` (+20 characters) has 60 characters, at most 50 allowed",
                "x".repeat(40)
            ),
            "`cmd`: `remove` is not one of add, del".to_string(),
        ]
    );
    // Its own data is under its processor's namespace.
    assert!(contains_bytes(&world.store_bytes(), b"badges:award"));
}

#[test]
fn a_layout_mismatch_is_refused_in_one_line() {
    let world = World::with(&[API_LAYOUT, USERS]);
    let run = world.run(&["plugins"]);
    assert_eq!(run.code(), 4);
    let out = run.stdout();
    let refused = out
        .lines()
        .find(|l| l.starts_with("refused:") && l.contains("api_layout"))
        .unwrap_or_else(|| panic!("the layout fixture is not refused:\n{out}"));
    assert!(refused.contains("does not match this host's"), "{refused}");
    assert!(refused.contains("rebuild"), "{refused}");
    assert!(
        refused.len() < 600,
        "a one-line summary, not a layout dump: {refused}"
    );
    assert!(out.lines().any(|l| l.starts_with("users ")), "{out}");
}

#[test]
fn plugins_are_found_in_the_data_dir_and_the_plugin_path() {
    let world = World::with(&[]);
    let in_data = world.data.join("plugins");
    std::fs::create_dir_all(&in_data).unwrap();
    let users = library(USERS);
    std::fs::copy(&users, in_data.join(users.file_name().unwrap())).unwrap();
    let run = world.run(&["plugins", "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&run.output.stdout).unwrap();
    let library_of = |value: &serde_json::Value, name: &str| {
        value["processors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["library"].as_str().unwrap().to_string())
    };
    assert!(
        library_of(&value, "users")
            .unwrap()
            .contains("data/plugins"),
        "{value}"
    );

    let elsewhere = world.root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let badges = library(BADGES);
    std::fs::copy(&badges, elsewhere.join(badges.file_name().unwrap())).unwrap();
    let run = world
        .command(&["plugins", "--json"])
        .env("TOOLSYNC_PLUGIN_PATH", &elsewhere)
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(
        library_of(&value, "badges").unwrap().contains("elsewhere"),
        "{value}"
    );
}

/// A folder the operator names for plugins must be one: a typo would otherwise load nothing
/// from it in silence. The places toolsync looks on its own (the data dir's `plugins/`, absent
/// in every world here) may be absent.
#[test]
fn a_plugin_folder_the_operator_names_must_exist() {
    let world = World::users();
    let missing = world.root.join("nowhere");
    let file = world.file("not-a-folder", "");
    let refused = |run: Run, path: &std::path::Path, what: &str| {
        assert_eq!(run.code(), 2, "{}", run.stdout());
        let wanted = format!("{}: {what}", path.display());
        assert!(run.stderr().contains(&wanted), "{}", run.stderr());
    };
    for command in [&["plugins"][..], &["run", "users", "u.csv"][..]] {
        let mut args = vec!["--plugin-dir", missing.to_str().unwrap()];
        args.extend_from_slice(command);
        refused(world.run(&args), &missing, "the folder does not exist");
    }
    refused(
        world.run(&["--plugin-dir", file.to_str().unwrap(), "plugins"]),
        &file,
        "not a folder",
    );
    let run = world
        .command(&["plugins"])
        .env("TOOLSYNC_PLUGIN_PATH", &missing)
        .output()
        .unwrap();
    refused(Run { output: run }, &missing, "the folder does not exist");
    let users = world.file("u.csv", "username;firstname;lastname\nann;A;A\n");
    let run = world.run(&["run", "users", users.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert!(!world.data.join("plugins").exists());
}

/// A file that is not a library at all is refused with the system's reason, whole, on one
/// line: in the listing and in its JSON.
#[test]
fn a_file_that_is_no_library_is_refused_with_the_whole_reason() {
    let world = World::users();
    let evil = world.plugins.join(format!(
        "{}evil{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    std::fs::write(&evil, "not a library, ".repeat(20)).unwrap();
    let run = world.run(&["plugins"]);
    assert_eq!(run.code(), 4, "{}", run.stderr());
    let line = run
        .stdout()
        .lines()
        .find(|l| l.starts_with("refused: "))
        .unwrap_or_else(|| panic!("{}", run.stdout()))
        .to_string();
    let reason = line
        .strip_prefix(&format!("refused: {}: ", evil.display()))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        reason.starts_with("cannot be loaded as a library: "),
        "{reason}"
    );
    #[cfg(target_os = "linux")]
    assert!(
        reason.ends_with("invalid ELF header"),
        "dlerror's text: {reason}"
    );

    let run = world.run(&["plugins", "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&run.output.stdout).unwrap();
    assert_eq!(value["refused"][0]["reason"], reason, "{value}");
}

/// A plugin writing through the raw ABI (as one built against an older plugin-api could) is
/// held to the same rule as the model-bound API: its own namespace and the model's keyspaces,
/// nothing else; a refused write fails its row with the reason and the run goes on.
#[test]
fn the_host_refuses_writes_outside_the_model_and_the_plugins_namespace() {
    let world = World::with(&[ROGUE, BADGES]);
    let file = world.file(
        "rogue.csv",
        "space\nrogue:things\nbadges:award\nwidgets\n_journal\n",
    );
    let (code, report) = world.run_json("rogue", &file, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["counts"]["created"], 1, "{report}");
    let reasons = reasons(&report);
    assert_eq!(reasons.len(), 3, "{report}");
    assert!(
        reasons[0].starts_with("write refused: keyspace `badges:award` is neither")
            && reasons[0].contains("`rogue:…`"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("keyspace `widgets`"), "{reasons:?}");
    assert_eq!(
        reasons[2],
        "write refused: keyspace `_journal` is reserved for the host"
    );
    assert!(contains_bytes(&world.store_bytes(), b"rogue:things"));
    assert!(!contains_bytes(&world.store_bytes(), b"widgets"));
}

/// A plugin built with `panic = "abort"` would take the host down with its first panic:
/// `export_plugin!` refuses to compile it, saying why.
#[test]
fn a_plugin_built_with_panic_abort_does_not_compile() {
    let deps = bin().parent().unwrap().join("deps");
    let rlib = std::fs::read_dir(&deps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("libtoolsync_plugin_api-") && name.ends_with(".rlib")
        })
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .expect("plugin-api was built for the tests");
    let world = World::with(&[]);
    let source = world.file("aborting.rs", "toolsync_plugin_api::export_plugin!(0u8);\n");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = std::process::Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "lib",
            "--emit",
            "metadata",
        ])
        .args(["-C", "panic=abort", "--out-dir"])
        .arg(&world.root)
        .arg("--extern")
        .arg(format!("toolsync_plugin_api={}", rlib.display()))
        .arg("-L")
        .arg(format!("dependency={}", deps.display()))
        .arg(&source)
        .output()
        .expect("rustc runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("toolsync plugins must be built with panic = \"unwind\""),
        "{stderr}"
    );
}

/// Logs on a pipe carry no colour codes, and a plugin's lines carry its own name.
#[test]
fn logs_are_plain_on_a_pipe_and_name_their_plugin() {
    let world = World::with(&[PANICKY]);
    let file = world.file("p.csv", "value\nfine\npanic\n");
    let run = world
        .command(&["run", "panicky", file.to_str().unwrap()])
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("processor panicked"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("toolsync-fixture-panicky"), "{line}");
}

/// Mistakes an operator makes get a did-you-mean or a refusal, never silence: a misspelt
/// table in toolsync.toml, a misspelt processor, a delimiter with a space.
#[test]
fn misspellings_are_refused_with_a_suggestion() {
    let world = World::users();
    let file = world.file("u.csv", "username;firstname;lastname\nann;A;A\n");
    std::fs::create_dir_all(&world.data).unwrap();
    std::fs::write(
        world.data.join("toolsync.toml"),
        "[user]\nidentity = \"idnumber\"\n",
    )
    .unwrap();
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 2, "{}", run.stdout());
    assert!(
        run.stderr()
            .contains("unknown table [user]: did you mean [users]?"),
        "{}",
        run.stderr()
    );
    std::fs::remove_file(world.data.join("toolsync.toml")).unwrap();

    let run = world.run(&["run", "user", file.to_str().unwrap()]);
    assert_eq!(run.code(), 4);
    assert!(
        run.stderr().contains("did you mean `users`?"),
        "{}",
        run.stderr()
    );

    // Every table is checked against its processor, whichever processor runs; a key outside
    // any table is named so.
    for (toml, wanted) in [
        (
            "[course-create]\nusers.identity = \"idnumber\"\n",
            "[course-create] users.identity: course-create's `users.identity` follows [users] identity: set it there",
        ),
        (
            "[course-create]\nupdate_existin = true\n",
            "unknown option `update_existin` for course-create (did you mean `update_existing`?)",
        ),
        (
            "identity = \"idnumber\"\n",
            "`identity` is a key outside any table: an option goes in the table of its processor: [users] has this option",
        ),
        (
            "[users]\nidentity = [\"idnumber\"]\n",
            "[users] identity: expected a string, number or boolean, found an array",
        ),
    ] {
        let world = World::courses();
        std::fs::create_dir_all(&world.data).unwrap();
        std::fs::write(world.data.join("toolsync.toml"), toml).unwrap();
        let run = world.run(&["run", "users", file.to_str().unwrap()]);
        assert_eq!(run.code(), 2, "{toml}: {}", run.stdout());
        assert!(run.stderr().contains(wanted), "{toml}: {}", run.stderr());
    }

    let run = world.run(&["run", "users", file.to_str().unwrap(), "--delimiter", ", "]);
    assert_eq!(run.code(), 2, "{}", run.stdout());
    assert!(
        run.stderr().contains("invalid delimiter `, `"),
        "{}",
        run.stderr()
    );
}

/// With no plugin anywhere (a binary whose folder holds none, as after `cargo test` alone),
/// `plugins` and `run` say where toolsync looked and how to build the plugins.
#[test]
fn no_plugin_found_says_how_to_get_some() {
    let world = World::with(&[]);
    let binary = world.lone_binary();
    let nowhere = world.root.join("nowhere");
    std::fs::create_dir_all(&nowhere).unwrap();
    let run = std::process::Command::new(&binary)
        .args(["--data-dir"])
        .arg(&world.data)
        .arg("plugins")
        .env("TOOLSYNC_PLUGIN_PATH", &nowhere)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.contains("no processor was found"), "{out}");
    assert!(out.contains("`cargo build`"), "{out}");
    assert!(
        out.contains("nowhere"),
        "the searched folders are listed: {out}"
    );
    let run = std::process::Command::new(&binary)
        .args(["--data-dir"])
        .arg(&world.data)
        .args(["run", "users"])
        .env("TOOLSYNC_PLUGIN_PATH", &nowhere)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("`cargo build`"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Two libraries providing one processor: the search path decides as PATH does (the first
/// folder wins, the other is listed as shadowed, naming both); two in the same folder cannot be
/// ordered, and both are refused, each naming the other.
#[test]
fn the_search_path_decides_between_two_libraries_of_one_processor() {
    let world = World::with(&[]);
    let users = library(USERS);
    let (first, second) = (world.root.join("first"), world.root.join("second"));
    for dir in [&first, &second] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::copy(&users, dir.join("libtoolsync_users.so")).unwrap();
    }
    let binary = world.lone_binary();
    let listing = |dirs: &[&std::path::Path]| {
        let mut cmd = std::process::Command::new(&binary);
        cmd.arg("--data-dir").arg(&world.data);
        for dir in dirs {
            cmd.arg("--plugin-dir").arg(dir);
        }
        let out = cmd.args(["plugins", "--json"]).output().unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), value)
    };
    let (code, value) = listing(&[&first, &second]);
    assert_eq!(code, Some(0), "{value}");
    let used = value["processors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "users")
        .unwrap()["library"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(used.contains("/first/"), "{used}");
    let shadowed = value["shadowed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["processor"] == "users")
        .unwrap_or_else(|| panic!("{value}"));
    assert!(shadowed["library"].as_str().unwrap().contains("/second/"));
    assert_eq!(shadowed["by"], used.as_str());
    let (_, value) = listing(&[&second, &first]);
    let used = value["processors"].to_string();
    assert!(
        used.contains("/second/libtoolsync_users.so"),
        "the order decides: {used}"
    );

    std::fs::copy(&users, first.join("libtoolsync_users_old.so")).unwrap();
    let (code, value) = listing(&[&first]);
    assert_eq!(code, Some(4), "{value}");
    let refused = value["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 2, "{value}");
    for r in refused {
        let reason = r["reason"].as_str().unwrap();
        let other = if r["library"].as_str().unwrap().ends_with("old.so") {
            "libtoolsync_users.so"
        } else {
            "libtoolsync_users_old.so"
        };
        assert!(
            reason.contains("also provided by") && reason.contains(other),
            "{reason}"
        );
    }
}

/// A vendor builds plugin-api as a dependency outside this workspace: its manifest inherits
/// nothing from the workspace (cargo would fail to find a workspace root), and neither does the
/// vendor example's.
#[test]
fn plugin_api_and_the_vendor_example_stand_outside_the_workspace() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Out of the repository's tree: cargo looks for a workspace root in every parent folder.
    let outside = std::env::temp_dir().join(format!("toolsync-outside-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&outside);
    for part in ["plugin-api", "examples/vendor-plugin"] {
        copy_tree(&repo.join(part), &outside.join(part));
    }
    for manifest in ["plugin-api/Cargo.toml", "examples/vendor-plugin/Cargo.toml"] {
        let out = std::process::Command::new(env!("CARGO"))
            .args([
                "metadata",
                "--no-deps",
                "--offline",
                "--format-version",
                "1",
            ])
            .arg("--manifest-path")
            .arg(outside.join(manifest))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{manifest}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let vendor =
        std::fs::read_to_string(outside.join("examples/vendor-plugin/Cargo.toml")).unwrap();
    assert!(!vendor.contains("workspace = true") && !vendor.contains(".workspace"));
    let _ = std::fs::remove_dir_all(&outside);
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}
