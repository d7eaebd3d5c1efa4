//! `show course`, `show category`, `export courses`, `export categories` end to end: courses
//! made by the real course-create, read back through the real binary.

mod common;
use common::*;

use serde_json::{json, Value};

/// Writes `csv` and runs course-create on it; returns the JSON report after checking the exit.
fn create(world: &World, name: &str, csv: &str) -> Value {
    let file = world.file(name, csv);
    let (code, report) = world.run_json("course-create", &file, &[]);
    assert_eq!(code, 0, "course-create {name}: {report}");
    report
}

/// `toolsync show <entity> <args...>` → (exit code, JSON when found, stderr).
fn show(world: &World, args: &[&str]) -> (i32, Option<Value>, String) {
    let mut all = vec!["show"];
    all.extend_from_slice(args);
    let run = world.run(&all);
    let json = match run.code() {
        0 => Some(serde_json::from_slice(&run.output.stdout).expect("show prints JSON")),
        _ => {
            assert!(
                run.output.stdout.is_empty(),
                "nothing on stdout when not found"
            );
            None
        }
    };
    (run.code(), json, run.stderr())
}

fn found(world: &World, args: &[&str]) -> Value {
    let (code, json, stderr) = show(world, args);
    assert_eq!(code, 0, "show {args:?}: {stderr}");
    json.unwrap()
}

/// `toolsync export <entity> --format <format>` → stdout, after checking the exit.
fn export(world: &World, entity: &str, format: &str) -> String {
    let run = world.run(&["export", entity, "--format", format]);
    assert_eq!(run.code(), 0, "export {entity}: {}", run.stderr());
    run.stdout()
}

const COURSES: &str = "shortname;fullname;category;idnumber;summary;topic1;topic2;self;\
                       teacher1_account;teacher2_account;teacher2_role\n\
                       C1;Course 1;Sciences/Physics;IC1;About C1;Intro|Welcome;Week 2;1;tina;nick;teacher\n\
                       C2;Course 2;/2024;;;;;;;;\n";

fn world_with_courses() -> World {
    let world = World::courses();
    let users = world.file(
        "users.csv",
        "username;firstname;lastname\ntina;Tina;T\nnick;Nick;N\n",
    );
    let (code, report) = world.run_json("users", &users, &[]);
    assert_eq!(code, 0, "{report}");
    create(&world, "courses.csv", COURSES);
    world
}

#[test]
fn show_course_by_shortname_idnumber_and_id() {
    let world = world_with_courses();
    let c1 = found(&world, &["course", "C1"]);
    assert_eq!(c1["shortname"], "C1");
    assert_eq!(c1["fullname"], "Course 1");
    assert_eq!(c1["idnumber"], "IC1");
    assert_eq!(c1["summary"], "About C1");
    assert_eq!(c1["category_path"], "Sciences/Physics");
    assert_eq!(c1["format"], "topics");
    assert_eq!(c1["maxbytes"], 0, "defaults are shown");
    assert!(c1["timecreated"].as_i64().unwrap() > 0);
    assert!(c1.get("v").is_none());
    // Sections 0..2: 0 exists empty, 1 has a summary, 2 a name only.
    assert_eq!(c1["topic0"], "");
    assert_eq!(c1["topic1"], "Intro|Welcome");
    assert_eq!(c1["topic2"], "Week 2");
    assert!(c1.get("topic3").is_none());
    assert_eq!(c1["self"], true);
    assert_eq!(c1["guest"], Value::Null, "no guest method at all");

    let e = &c1["enrolments"];
    assert_eq!(e["participants"], 2);
    assert_eq!(e["active"], 2);
    assert_eq!(
        e["teachers"],
        json!([
            { "username": "tina", "role": "editingteacher" },
            { "username": "nick", "role": "teacher" },
        ])
    );
    assert_eq!(e["fed_by"], json!([]));
    assert_eq!(e["feeds"], json!([]));
    let methods: Vec<&str> = e["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert!(
        methods.contains(&"self") && methods.contains(&"manual"),
        "{methods:?}"
    );

    let id = c1["id"].as_u64().unwrap().to_string();
    assert_eq!(found(&world, &["course", "IC1"]), c1, "by idnumber");
    assert_eq!(found(&world, &["course", &id]), c1, "by id");
    assert_eq!(found(&world, &["course", &id, "--by", "id"]), c1);
    assert_eq!(found(&world, &["course", "IC1", "--by", "idnumber"]), c1);
    // `--by` names one field only.
    let (code, _, _) = show(&world, &["course", "IC1", "--by", "shortname"]);
    assert_eq!(code, 1);
    let (code, _, _) = show(&world, &["course", "C1", "--by", "id"]);
    assert_eq!(code, 1);

    let c2 = found(&world, &["courses", "C2"]);
    assert_eq!(c2["category_path"], "2024");
    assert_eq!(c2["self"], Value::Null);
    assert_eq!(c2["topic1"], "", "a new course has sections 0 and 1");
    assert_eq!(c2["enrolments"]["participants"], 0);
    assert_eq!(c2["enrolments"]["teachers"], json!([]));
}

#[test]
fn show_of_nothing_exits_1_with_a_message() {
    let world = world_with_courses();
    let (code, json, stderr) = show(&world, &["course", "NOPE"]);
    assert_eq!((code, json), (1, None));
    assert!(stderr.contains("no course matches `NOPE`"), "{stderr}");
    let (code, _, stderr) = show(&world, &["course", "999"]);
    assert_eq!(code, 1, "{stderr}");
    let (code, _, stderr) = show(&world, &["category", "Sciences/Chemistry"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no category matches `Sciences/Chemistry`"),
        "{stderr}"
    );
    let (code, _, _) = show(&world, &["category", "999"]);
    assert_eq!(code, 1);
    // Two keys: the message names the one that found nothing.
    for (args, wanted) in [
        (
            &["group", "C1", "g"][..],
            "toolsync: course `C1` has no group `g`\n",
        ),
        (
            &["grouping", "C1", "g"][..],
            "toolsync: course `C1` has no grouping `g`\n",
        ),
        (
            &["group", "NOPE", "g"][..],
            "toolsync: no course matches `NOPE`\n",
        ),
        (
            &["enrolment", "ghost", "C1"][..],
            "toolsync: no user matches `ghost`\n",
        ),
        (
            &["enrolment", "tina", "NOPE"][..],
            "toolsync: no course matches `NOPE`\n",
        ),
        (
            &["enrolment", "tina", "C2"][..],
            "toolsync: account `tina` has no enrolment, role or group in course `C2`\n",
        ),
    ] {
        let (code, _, stderr) = show(&world, args);
        assert_eq!((code, stderr.as_str()), (1, wanted), "{args:?}");
    }
    // Not a category reference at all, or `--by` a field the entity has no lookup for: usage
    // errors. A field it has, with no match: nothing found.
    let (code, _, stderr) = show(&world, &["category", "A//B"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("empty element"), "{stderr}");
    let (code, _, stderr) = show(&world, &["user", "tina", "--by", "id"]);
    assert_eq!(code, 1, "{stderr}");
    let (code, _, stderr) = show(&world, &["user", "tina", "--by", "shoesize"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("a user is found by username, idnumber, email, id"),
        "{stderr}"
    );
    let (code, _, _) = show(&world, &["course", "C1", "--by", "email"]);
    assert_eq!(code, 2);
    let (code, _, stderr) = show(&world, &["cours", "C1"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("did you mean `course`?"), "{stderr}");
}

#[test]
fn show_category_by_path_and_id() {
    let world = world_with_courses();
    let sciences = found(&world, &["category", "Sciences"]);
    assert_eq!(sciences["name"], "Sciences");
    assert_eq!(sciences["parent"], 0);
    assert_eq!(sciences["path"], "Sciences");
    assert_eq!(sciences["courses"], 0);
    assert_eq!(sciences["children"], json!(["Physics"]));
    assert_eq!(sciences["visible"], true);
    assert_eq!(sciences["idnumber"], "");

    let physics = found(&world, &["category", "/Sciences/Physics/"]);
    assert_eq!(physics["path"], "Sciences/Physics");
    assert_eq!(physics["parent"], sciences["id"]);
    assert_eq!(physics["courses"], 1);
    assert_eq!(physics["children"], json!([]));
    let c1 = found(&world, &["course", "C1"]);
    assert_eq!(c1["category"], physics["id"]);

    let id = physics["id"].as_u64().unwrap().to_string();
    assert_eq!(found(&world, &["category", &id]), physics);
    // A leading `/` reads digits as a name.
    let year = found(&world, &["categories", "/2024"]);
    assert_eq!(
        (year["name"].as_str(), year["courses"].as_u64()),
        (Some("2024"), Some(1))
    );
}

#[test]
fn export_json_holds_the_show_objects_without_the_enrolments() {
    let world = world_with_courses();
    let all: Value = serde_json::from_str(&export(&world, "courses", "json")).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    for record in all {
        let shortname = record["shortname"].as_str().unwrap();
        let mut shown = found(&world, &["course", shortname]);
        shown.as_object_mut().unwrap().remove("enrolments");
        assert_eq!(record, &shown);
    }
    let categories: Value = serde_json::from_str(&export(&world, "categories", "json")).unwrap();
    let paths: Vec<&str> = categories
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["Sciences", "Sciences/Physics", "2024"]);
    assert!(export(&world, "courses", "json").ends_with("]\n"));

    // A data dir where nothing ran has no store: said, never an empty list.
    let empty = World::courses();
    let missing = empty.run(&["export", "courses", "--format", "json"]);
    assert_eq!(missing.code(), 5, "{}", missing.stderr());
    assert!(
        missing.stderr().contains("no store at"),
        "{}",
        missing.stderr()
    );
    assert_eq!(missing.stdout(), "");
    assert!(!empty.data.join("store").exists(), "export created a store");
    // A store without courses exports an empty list.
    let header_only = empty.file("none.csv", "username;firstname;lastname\n");
    assert_eq!(
        empty
            .run(&["run", "users", header_only.to_str().unwrap()])
            .code(),
        0
    );
    assert_eq!(export(&empty, "courses", "json"), "[]\n");
    assert_eq!(export(&empty, "categories", "json"), "[]\n");
}

#[test]
fn export_categories_as_csv_for_reading() {
    let world = world_with_courses();
    let sciences = found(&world, &["category", "Sciences"])["id"].clone();
    let physics = found(&world, &["category", "Sciences/Physics"])["id"].clone();
    let year = found(&world, &["category", "/2024"])["id"].clone();
    assert_eq!(
        export(&world, "categories", "csv"),
        format!(
            "id;path;idnumber;visible;parent\n\
             {sciences};Sciences;;1;0\n\
             {physics};Sciences/Physics;;1;{sciences}\n\
             {year};2024;;1;0\n"
        )
    );
    let list = world.run(&["export"]).stdout();
    let line = list
        .lines()
        .find(|l| l.trim_start().starts_with("categories"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.contains("for reading"), "{line}");
}

/// A course-create file: `header` then one line per row of (column, cell) pairs; cells are
/// written as given (quote them yourself).
fn course_file(header: &[&str], rows: &[&[(&str, &str)]]) -> String {
    let mut out = header.join(";");
    out.push('\n');
    for row in rows {
        let cells: Vec<&str> = header
            .iter()
            .map(|h| row.iter().find(|(c, _)| c == h).map_or("", |(_, v)| *v))
            .collect();
        out.push_str(&cells.join(";"));
        out.push('\n');
    }
    out
}

/// Every kind of value course-create takes, for the round trip.
fn varied() -> String {
    let header = [
        "shortname",
        "fullname",
        "category",
        "idnumber",
        "summary",
        "format",
        "showgrades",
        "visible",
        "legacyfiles",
        "showreports",
        "groupmodeforce",
        "enablecompletion",
        "newsitems",
        "startdate",
        "marker",
        "maxbytes",
        "coursedisplay",
        "groupmode",
        "lang",
        "theme",
        "sortorder",
        "cost",
        "topic0",
        "topic1",
        "topic3",
        "topic5",
        "self",
        "guest",
    ];
    course_file(
        &header,
        &[
            &[
                ("shortname", "PHYS"),
                ("fullname", "Physics"),
                ("category", "Sciences/Physics"),
                ("idnumber", "P-1"),
                ("summary", "\"Semi; colon, \"\"quotes\"\"\nand a new line\""),
                ("format", "weeks"),
                ("showgrades", "0"),
                ("visible", "0"),
                ("legacyfiles", "1"),
                ("showreports", "yes"),
                ("groupmodeforce", "true"),
                ("enablecompletion", "1"),
                ("newsitems", "10"),
                ("startdate", "2026-09-01"),
                ("marker", "3"),
                ("maxbytes", "1048576"),
                ("coursedisplay", "1"),
                ("groupmode", "2"),
                ("lang", "FR"),
                ("theme", "boost"),
                ("sortorder", "42"),
                ("cost", "12 EUR"),
                ("topic0", "General|News"),
                ("topic1", "Intro|Welcome"),
                ("topic5", "|Only a summary"),
                ("self", "1"),
                ("guest", "1"),
            ],
            &[
                ("shortname", "Y24"),
                ("fullname", "The year"),
                ("category", "/2024"),
                ("topic3", "Week 3"),
                ("guest", "0"),
            ],
            // A first cell starting with `#` would be a comment: quoted in the source file.
            &[
                ("shortname", "\"#hash\""),
                ("fullname", "Starts with a hash"),
                ("category", "Misc"),
            ],
            &[
                ("shortname", "plain"),
                ("fullname", "Plain"),
                ("category", "Sciences"),
                ("topic1", "A|B|C"),
            ],
        ],
    )
}

#[test]
fn export_csv_feeds_course_create_in_a_fresh_store_and_comes_back_identical() {
    let world = World::courses();
    let report = create(&world, "varied.csv", &varied());
    assert_eq!(report["counts"]["created"], 4, "{report}");
    let phys = found(&world, &["course", "PHYS"]);
    assert_eq!(phys["summary"], "Semi; colon, \"quotes\"\nand a new line");
    assert_eq!(phys["topic5"], "|Only a summary");
    assert_eq!(phys["topic4"], "", "gaps are empty sections");
    assert_eq!(phys["guest"], true);
    assert_eq!(found(&world, &["course", "plain"])["topic1"], "A|B|C");

    let first = export(&world, "courses", "csv");
    let mut lines = first.split('\n');
    let header = lines.next().unwrap();
    assert_eq!(
        header,
        "shortname;fullname;category;idnumber;summary;format;showgrades;visible;visibleold;\
         legacyfiles;showreports;groupmodeforce;enablecompletion;newsitems;startdate;marker;\
         maxbytes;coursedisplay;groupmode;lang;theme;sortorder;cost;topic0;topic1;topic2;\
         topic3;topic4;topic5;self;guest"
    );
    for left_out in ["id", "timecreated", "timemodified", "defaultgroupingid"] {
        assert!(!header.split(';').any(|c| c == left_out), "{left_out}");
    }
    // RFC 4180 quoting, the digits-only category as `/2024`, a comment-like cell quoted.
    assert!(
        first.contains("PHYS;Physics;Sciences/Physics;P-1;\"Semi; colon, \"\"quotes\"\"\nand"),
        "{first}"
    );
    assert!(first.contains("\nY24;The year;/2024;"), "{first}");
    assert!(
        first.contains("\n\"#hash\";Starts with a hash;Misc;"),
        "{first}"
    );
    assert!(
        first.ends_with(";;;\n"),
        "the last course has neither self nor guest"
    );

    let fresh = World::courses();
    let file = fresh.file("exported.csv", &first);
    let (code, report) = fresh.run_json("course-create", &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["counts"]["created"], 4, "{report}");
    assert_eq!(report["comments"], 0, "{report}");
    let second = export(&fresh, "courses", "csv");
    assert_eq!(second, first);

    // The JSON agrees too, but for what each store assigns by itself.
    let comparable = |world: &World| -> Vec<Value> {
        let all: Value = serde_json::from_str(&export(world, "courses", "json")).unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                for own in ["id", "category", "timecreated", "timemodified"] {
                    c.as_object_mut().unwrap().remove(own);
                }
                c
            })
            .collect()
    };
    assert_eq!(comparable(&fresh), comparable(&world));
    // And running the same file again changes nothing.
    let (code, report) = fresh.run_json("course-create", &file, &[]);
    assert_eq!((code, report["counts"]["unchanged"].as_u64()), (0, Some(4)));
}

#[test]
fn a_disabled_method_shows_false_and_exports_0() {
    let world = World::courses();
    create(&world, "a.csv", "shortname;fullname;self;guest\nA;A;1;1\n");
    let file = world.file("b.csv", "shortname;fullname;self\nA;A;0\n");
    let (code, report) = world.run_json("course-create", &file, &["--set", "update_existing=1"]);
    assert_eq!(code, 0, "{report}");
    let a = found(&world, &["course", "A"]);
    assert_eq!(
        (a["self"].clone(), a["guest"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(a["category_path"], "Miscellaneous", "default_category");
    let csv = export(&world, "course", "csv");
    assert!(csv.ends_with(";0;1\n"), "{csv}");
}

#[test]
fn show_course_names_metacourse_links_both_ways() {
    let world = world_with_courses();
    create(&world, "meta.csv", "shortname;fullname\nMETA;Meta course\n");
    let links = world.file("links.csv", "master;meta\nC1;META\n");
    let (code, report) = world.run_json("metacourse", &links, &[]);
    assert_eq!(code, 0, "{report}");

    let c1 = found(&world, &["course", "C1"]);
    assert_eq!(c1["enrolments"]["feeds"], json!(["META"]));
    assert_eq!(c1["enrolments"]["fed_by"], json!([]));
    let meta = found(&world, &["course", "META"]);
    let e = &meta["enrolments"];
    assert_eq!(e["fed_by"], json!(["C1"]));
    assert_eq!(e["feeds"], json!([]));
    assert_eq!(e["participants"], 2, "C1's two teachers are mirrored: {e}");
    assert_eq!(e["teachers"], c1["enrolments"]["teachers"]);
    assert_eq!(
        e["methods"],
        json!([{ "method": "meta", "enabled": true, "master": "C1" }])
    );
}

/// `toolsync check` on a real store: clean after the processors wrote it; after an index entry
/// is lost (written around the model, as damage would), it names the entry and exits 1.
#[test]
fn check_passes_a_clean_store_and_names_damage() {
    use toolsync_plugin_api::engine::{full_key, Backend, Writes};
    let world = world_with_courses();
    let run = world.run(&["check"]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    assert!(
        run.stdout().starts_with("the store is consistent"),
        "{}",
        run.stdout()
    );
    world.with_store(|store| {
        let mut writes = Writes::new();
        writes.insert(full_key("course.shortname", b"C1"), None);
        store.apply(writes).unwrap();
        store.flush_all().unwrap();
    });
    let run = world.run(&["check"]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    assert!(
        run.stdout()
            .contains("course.shortname \"C1\": missing: course 1 holds this shortname"),
        "{}",
        run.stdout()
    );
    let run = world.run(&["check", "--json"]);
    let verdict: Value = serde_json::from_slice(&run.output.stdout).unwrap();
    assert_eq!(verdict["clean"], false);
    assert_eq!(verdict["problems"][0]["space"], "course.shortname");
}
