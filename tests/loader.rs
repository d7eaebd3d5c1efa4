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
    let reasons: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    // The schema the plugin declares is enforced by plugin-api before its code runs: a
    // 60-character value in its text(50) column, a word outside its enum.
    assert_eq!(
        reasons,
        [
            "no user with username = bob".to_string(),
            format!(
                "`badge`: `{}…` has 60 characters, at most 50 allowed",
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
    let reasons: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
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
