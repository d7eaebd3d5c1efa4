//! The users processor end to end: real plugin, real store.

mod common;
use common::*;

fn outcome_of(world: &World, file: &std::path::Path, extra: &[&str]) -> (i32, serde_json::Value) {
    world.run_json("users", file, extra)
}

#[test]
fn create_then_update_only_present_columns() {
    let world = World::users();
    let first = world.file(
        "a.csv",
        "username;firstname;lastname;email;city\nJDoe;John;Doe;jd@x.org;Lyon\n",
    );
    let (code, report) = outcome_of(&world, &first, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["counts"]["created"], 1);
    let user = world.show_user("jdoe").expect("username is lowercased");
    assert_eq!(user["city"], "Lyon");
    assert_eq!(user["auth"], "manual");
    assert!(user["id"].as_u64().unwrap() > 0);

    // No `city` column: the city stays. An empty cell leaves a value unchanged too.
    let second = world.file(
        "b.csv",
        "username;firstname;lastname;email\njdoe;Johnny;;\n",
    );
    let (code, report) = outcome_of(&world, &second, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["counts"]["updated"], 1);
    let user = world.show_user("jdoe").unwrap();
    assert_eq!(user["firstname"], "Johnny");
    assert_eq!(user["lastname"], "Doe");
    assert_eq!(user["city"], "Lyon");
    assert_eq!(user["email"], "jd@x.org");

    let (_, report) = outcome_of(&world, &second, &[]);
    assert_eq!(report["counts"]["unchanged"], 1);
}

#[test]
fn soft_delete_revive_and_suspend() {
    let world = World::users();
    let create = world.file("c.csv", "username;firstname;lastname\nann;Ann;A\n");
    outcome_of(&world, &create, &[]);
    let delete = world.file("d.csv", "username;deleted\nann;1\nghost;1\n");
    let (code, report) = outcome_of(&world, &delete, &[]);
    assert_eq!(code, 1);
    assert_eq!(report["counts"]["deleted"], 1);
    assert_eq!(
        report["errors"][0]["line"], 3,
        "deleting an unknown account fails"
    );
    assert_eq!(world.show_user("ann").unwrap()["deleted"], true);
    let (_, report) = outcome_of(&world, &delete, &["--max-errors", "5"]);
    assert_eq!(report["counts"]["unchanged"], 1, "already deleted");

    let (code, report) = outcome_of(&world, &create, &[]);
    assert_eq!(code, 0);
    assert_eq!(report["counts"]["updated"], 1);
    let text = world.run(&["run", "users", create.to_str().unwrap()]);
    assert!(text.code() == 0);
    let user = world.show_user("ann").unwrap();
    assert_eq!(user["deleted"], false, "a later row revives the account");

    let suspend = world.file("s.csv", "username;suspended\nann;1\n");
    outcome_of(&world, &suspend, &[]);
    assert_eq!(world.show_user("ann").unwrap()["suspended"], true);
}

#[test]
fn rename_needs_allow_rename() {
    let world = World::users();
    let create = world.file("c.csv", "username;firstname;lastname\nold;O;L\n");
    outcome_of(&world, &create, &[]);
    let rename = world.file("r.csv", "username;oldusername\nnew;old\n");
    let (code, _) = outcome_of(&world, &rename, &[]);
    assert_eq!(code, 1, "renaming without allow_rename fails");
    assert!(world.show_user("old").is_some());
    let (code, report) = outcome_of(&world, &rename, &["--set", "allow_rename=true"]);
    assert_eq!(code, 0, "{report}");
    assert!(world.show_user("old").is_none());
    assert!(world.show_user("new").is_some());
    // Re-running the same rename counts as done.
    let (code, _) = outcome_of(&world, &rename, &["--set", "allow_rename=true"]);
    assert_eq!(code, 0);
}

#[test]
fn identity_idnumber_and_duplicate_emails() {
    let world = World::users();
    let file = world.file(
        "i.csv",
        "idnumber;username;firstname;lastname;email\nU1;a;A;A;same@x.org\nU2;b;B;B;SAME@x.org\n",
    );
    let (code, report) = outcome_of(&world, &file, &["--set", "identity=idnumber"]);
    assert_eq!(code, 1, "the second e-mail is a duplicate: {report}");
    assert_eq!(report["errors"][0]["line"], 3);
    let (code, report) = outcome_of(
        &world,
        &file,
        &[
            "--set",
            "identity=idnumber",
            "--set",
            "allow_duplicate_emails=1",
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(world.show_user("U2").unwrap()["username"], "b");

    // identity = idnumber needs the idnumber column.
    let missing = world.file("m.csv", "username;firstname;lastname\nc;C;C\n");
    let (code, report) = outcome_of(&world, &missing, &["--set", "identity=idnumber"]);
    assert_eq!(code, 3);
    assert!(
        report["refused"].as_str().unwrap().contains("idnumber"),
        "{report}"
    );
}

#[test]
fn passwords_are_stored_only_as_bcrypt_hashes() {
    let world = World::users();
    let secret = "Tr0ub4dor&3-unique-secret";
    let file = world.file(
        "p.csv",
        format!(
            "username;firstname;lastname;password\nsec;S;S;{secret}\nnop;N;N;*NOPASS*\nnew;N;N;\n"
        ),
    );
    let (code, report) = outcome_of(&world, &file, &["--set", "bcrypt_cost=4"]);
    assert_eq!(code, 0, "{report}");
    let sec = world.show_user("sec").unwrap();
    let hash = sec["password_hash"].as_str().unwrap();
    assert!(hash.starts_with("$2y$04$"), "{hash}");
    assert_eq!(world.show_user("nop").unwrap()["password_state"], "nologin");
    assert_eq!(
        world.show_user("new").unwrap()["password_state"],
        "to_be_created"
    );
    // Same password again: unchanged (the stored hash verifies it).
    let (_, report) = outcome_of(&world, &file, &["--set", "bcrypt_cost=4"]);
    assert_eq!(report["counts"]["unchanged"], 3, "{report}");

    // Nowhere in clear: not in the store, not in the reports.
    assert!(!contains_bytes(&world.store_bytes(), secret.as_bytes()));
    let run = world.run(&[
        "run",
        "users",
        file.to_str().unwrap(),
        "--set",
        "bcrypt_cost=4",
    ]);
    assert!(!run.stdout().contains(secret) && !run.stderr().contains(secret));
    for entry in std::fs::read_dir(world.data.join("files/reports")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!contains_bytes(&bytes, secret.as_bytes()));
    }

    // Over 72 bytes fails the row without quoting the password.
    let long = "x".repeat(73);
    let file = world.file(
        "l.csv",
        format!("username;firstname;lastname;password\nlong;L;L;{long}\n"),
    );
    let (code, report) = outcome_of(&world, &file, &["--set", "bcrypt_cost=4"]);
    assert_eq!(code, 1);
    assert!(!report.to_string().contains(&long));
}

/// The idnumber and members (user ids) of each cohort named, or `None`, read from the store
/// in this process. Only as a test's last look: the store's lock outlives the handle for a
/// moment (sled's background threads release it), so neither a second open here nor a
/// toolsync command may follow at once.
fn last_look_at_cohorts(world: &World, names: &[&str]) -> Vec<Option<(String, Vec<u64>)>> {
    use toolsync_plugin_api::model::{CohortKey, Cohorts};
    let store = toolsync::store::Store::open_existing(&world.data.join("store")).unwrap();
    names
        .iter()
        .map(|name| {
            let cohort = Cohorts::find(&store, CohortKey::Name, name).unwrap()?;
            let members = Cohorts::members(&store, cohort.id).unwrap();
            Some((cohort.idnumber, members))
        })
        .collect()
}

/// `cohort` joins the account to the cohort, created if missing with `cohortid` as its
/// idnumber; a row whose cohort cannot be made or joined fails whole.
#[test]
fn cohort_columns_create_and_join_cohorts() {
    let world = World::users();
    let file = world.file(
        "c.csv",
        "username;firstname;lastname;cohort;cohortid\n\
         ann;Ann;A;3A;K3A\n\
         bob;Bob;B;3A;\n\
         cy;Cy;C;;K9\n",
    );
    let (code, report) = outcome_of(&world, &file, &["--report", "full"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(counts(&report), (2, 0, 0, 0, 1), "{report}");
    let rows = &report["rows"];
    assert_eq!(
        rows[0]["message"],
        "cohort `3A` created (idnumber `K3A`); joined cohort `3A`"
    );
    assert_eq!(rows[1]["message"], "joined cohort `3A`");
    assert_eq!(report["errors"][0]["line"], 4);
    assert!(
        reasons(&report)[0].contains("`cohortid` `K9` needs a `cohort`"),
        "{report}"
    );
    assert!(
        world.show_user("cy").is_none(),
        "the failed row created nothing"
    );

    // Already members: unchanged. A cohortid another cohort holds fails its row, account
    // included; a differing cohortid of an existing cohort is a warning.
    let again = world.file(
        "d.csv",
        "username;firstname;lastname;cohort;cohortid\n\
         ann;Ann;A;3A;K3A\n\
         bob;Bob;B;3A;\n\
         dan;Dan;D;3B;K3A\n\
         eve;Eve;E;3A;K3\n",
    );
    let (code, report) = outcome_of(&world, &again, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(counts(&report), (1, 0, 0, 2, 1), "{report}");
    assert_eq!(
        reasons(&report),
        vec![
            "`cohortid`: cohort `3B` cannot be created: idnumber `K3A` belongs to another cohort (id 1)"
        ]
    );
    assert!(
        report["warnings"]
            .to_string()
            .contains("cohort `3A` exists with idnumber `K3A`; cohortid `K3` ignored"),
        "{report}"
    );
    assert!(world.show_user("dan").is_none());
    world.assert_consistent();
    let id = |name: &str| world.show_user(name).unwrap()["id"].as_u64().unwrap();
    let members = vec![id("ann"), id("bob"), id("eve")];
    assert_eq!(
        last_look_at_cohorts(&world, &["3A", "3B"]),
        vec![Some(("K3A".to_string(), members)), None],
        "3A made with its idnumber and joined by ann, bob and eve; 3B never made"
    );
}

#[test]
fn export_csv_is_accepted_back_as_input() {
    let world = World::users();
    let file = world.file(
        "x.csv",
        "username;firstname;lastname;email;description;profile_field_shoe\na;A;A;a@x.org;\"semi; colon\";42\n",
    );
    let (code, report) = outcome_of(&world, &file, &[]);
    assert_eq!(code, 0, "{report}");
    let export = world.run(&["export", "users"]);
    assert_eq!(export.code(), 0);
    let other = World::users();
    let back = other.file("back.csv", export.stdout());
    let (code, report) = other.run_json("users", &back, &[]);
    assert_eq!(code, 0, "{report}\n{}", export.stdout());
    let strip = |mut v: serde_json::Value| {
        for k in ["timecreated", "timemodified"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(
        strip(world.show_user("a").unwrap()),
        strip(other.show_user("a").unwrap())
    );
}

#[test]
fn options_come_from_the_config_file_then_set() {
    let world = World::users();
    std::fs::create_dir_all(&world.data).unwrap();
    std::fs::write(
        world.data.join("toolsync.toml"),
        "[users]\nidentity = \"idnumber\"\nbcrypt_cost = 4\n",
    )
    .unwrap();
    // identity = idnumber from the file: a file without idnumber is refused.
    let file = world.file("o.csv", "username;firstname;lastname\nx;X;X\n");
    let (code, report) = outcome_of(&world, &file, &[]);
    assert_eq!(code, 3, "{report}");
    // --set wins over the file.
    let (code, report) = outcome_of(&world, &file, &["--set", "identity=username"]);
    assert_eq!(code, 0, "{report}");
    // An unknown key in the file is a usage error naming the valid keys.
    std::fs::write(
        world.data.join("toolsync.toml"),
        "[users]\nidentiy = \"idnumber\"\n",
    )
    .unwrap();
    let run = world.run(&["run", "users", file.to_str().unwrap()]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("identiy") && run.stderr().contains("identity"),
        "{}",
        run.stderr()
    );
}

/// An updated row says what changed, field by field, in a dry run as in the real run; a
/// password only as "changed".
#[test]
fn an_update_lists_each_changed_field_in_dry_and_real_runs() {
    let world = World::users();
    let create = world.file(
        "a.csv",
        "username;firstname;lastname;city;password\nann;Ann;A;Lyon;Secret-1\n",
    );
    assert_eq!(outcome_of(&world, &create, &[]).0, 0);
    let update = world.file(
        "b.csv",
        "username;firstname;lastname;city;password\nann;Anna;A;Paris;Secret-2\n",
    );
    // Fields in alphabetical order, the password last.
    let expected =
        "line 2: updated: ann: city: Lyon → Paris; firstname: Ann → Anna; password: changed";
    for extra in [&["--dry-run"][..], &[][..]] {
        let (code, text) = world.run_text("users", &update, extra);
        assert_eq!(code, 0, "{text}");
        assert!(text.contains(expected), "{extra:?}: {text}");
        assert!(!text.contains("Secret-2"));
    }
    assert_eq!(world.show_user("ann").unwrap()["city"], "Paris");
}

/// The brake on mass deletions, end to end: refused before any row (exit 3, the numbers
/// named, nothing applied, not archived), through with `--force` (the report says so).
#[test]
fn a_file_deleting_most_accounts_is_refused_unless_forced() {
    let world = World::users();
    let mut accounts = String::from("username,firstname,lastname,email\n");
    for i in 0..20 {
        accounts.push_str(&format!("u{i},U,{i},u{i}@example.org\n"));
    }
    let accounts = world.file("accounts.csv", accounts);
    assert_eq!(
        world
            .run(&["run", "users", accounts.to_str().unwrap()])
            .code(),
        0
    );
    let mut wrong = String::from("username,deleted\n");
    for i in 0..15 {
        wrong.push_str(&format!("u{i},1\n"));
    }
    let wrong = world.file("wrong.csv", wrong);
    let refused = world.run(&["run", "users", wrong.to_str().unwrap()]);
    assert_eq!(refused.code(), 3, "{}", refused.stderr());
    assert!(
        refused
            .stderr()
            .contains("would delete 15 of the 20 accounts"),
        "{}",
        refused.stderr()
    );
    assert!(world.export_users().iter().all(|u| u["deleted"] == false));
    let (code, report) = world.run_json("users", &wrong, &["--force"]);
    assert_eq!(code, 0);
    assert!(
        report["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("--force: deleting 15 of 20 accounts"),
        "{report}"
    );
    let deleted = world
        .export_users()
        .iter()
        .filter(|u| u["deleted"] == true)
        .count();
    assert_eq!(deleted, 15);
}
