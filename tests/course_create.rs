//! course-create end to end (formats.md §3.1): the real users and courses plugins, a real
//! store, `.mbz` templates written by the tests in Moodle's archive layout.

mod common;
use common::*;
use serde_json::Value;
use toolsync_fixture_mbz::{write_mbz, write_raw_entries, Compression, CourseXml};

fn run(world: &World, name: &str, csv: &str, extra: &[&str]) -> (i32, Value) {
    let file = world.file(name, csv);
    world.run_json("course-create", &file, extra)
}

fn course(world: &World, key: &str) -> Value {
    world
        .show("course", key)
        .unwrap_or_else(|| panic!("course {key} not found"))
}

fn users(world: &World, csv: &str) {
    let file = world.file("users.csv", csv);
    let (code, report) = world.run_json("users", &file, &[]);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn creates_courses_with_categories_sections_access_and_defaults() {
    let world = World::courses();
    let (code, report) = run(
        &world,
        "c.csv",
        "shortname;fullname;category;idnumber;summary;topic0;topic1;topic3;self;guest\n\
         PHY1;Physics 1;Sciences/Physics;P-1;Basics;General;Intro|Welcome &#44 all;Week 3|;1;0\n\
         CHEM;Chemistry;;;;;;;;\n",
        &[],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["counts"]["created"], 2);
    let phy = course(&world, "PHY1");
    assert_eq!(phy["fullname"], "Physics 1");
    assert_eq!(phy["idnumber"], "P-1");
    assert_eq!(phy["summary"], "Basics");
    assert_eq!(phy["category_path"], "Sciences/Physics");
    assert_eq!(phy["topic0"], "General");
    assert_eq!(phy["topic1"], "Intro|Welcome , all");
    assert_eq!(phy["topic2"], "", "gaps are filled with empty sections");
    assert_eq!(phy["topic3"], "Week 3");
    assert!(phy.get("topic4").is_none());
    assert_eq!(phy["self"], true);
    assert!(
        phy["guest"].is_null(),
        "guest=0 on a new course creates nothing"
    );
    // Creation defaults.
    assert_eq!(phy["format"], "topics");
    assert_eq!(phy["newsitems"], 5);
    assert_eq!(
        (phy["visible"].clone(), phy["visibleold"].clone()),
        (Value::Bool(true), Value::Bool(true))
    );
    assert_eq!(phy["showgrades"], true);
    assert_eq!(phy["groupmode"], 0);
    let started = chrono_free_started(&report);
    assert_eq!(phy["startdate"].as_i64().unwrap(), started);
    assert_eq!(phy["timecreated"].as_i64().unwrap(), started);

    // No category: default_category, created once; sections 0 and 1 at least.
    let chem = course(&world, "CHEM");
    assert_eq!(chem["category_path"], "Miscellaneous");
    assert_eq!(chem["topic0"], "");
    assert_eq!(chem["topic1"], "");
    assert!(chem.get("topic2").is_none());

    let category = world.show("category", "Sciences/Physics").unwrap();
    assert_eq!(category["courses"], 1);
    assert_eq!(category["visible"], true);
}

/// The run's start, from the report (Unix seconds).
fn chrono_free_started(report: &Value) -> i64 {
    let text = report["started_at"].as_str().unwrap();
    // RFC 3339 UTC: YYYY-MM-DDThh:mm:ssZ
    let n = |a: usize, b: usize| text[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let days = {
        let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * m + 2) / 5 + d - 1;
        era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
    };
    days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60 + n(17, 19)
}

#[test]
fn every_setting_column_is_stored_and_dates_follow_the_timezone() {
    let world = World::courses();
    let (code, report) = run(
        &world,
        "all.csv",
        "shortname,fullname,format,showgrades,visible,visibleold,legacyfiles,showreports,\
         groupmodeforce,enablecompletion,newsitems,startdate,timecreated,timemodified,marker,\
         maxbytes,coursedisplay,defaultgroupingid,groupmode,lang,theme,sortorder,cost\n\
         S1,Full,weeks,no,0,1,yes,true,1,1,10,2026-09-01,1788220800,2026-09-01T08:30:00+02:00,3,\
         1048576,1,0,2,FR,boost,4294967295,12 EUR\n",
        &["--set", "timezone=Europe/Paris"],
    );
    assert_eq!(code, 0, "{report}");
    let c = course(&world, "S1");
    let expect = [
        ("format", Value::from("weeks")),
        ("showgrades", false.into()),
        ("visible", false.into()),
        ("visibleold", true.into()),
        ("legacyfiles", true.into()),
        ("showreports", true.into()),
        ("groupmodeforce", true.into()),
        ("enablecompletion", true.into()),
        ("newsitems", 10.into()),
        // Midnight in Paris (UTC+2 in September).
        ("startdate", 1_788_213_600i64.into()),
        ("timecreated", 1_788_220_800i64.into()),
        ("timemodified", 1_788_244_200i64.into()),
        ("marker", 3.into()),
        ("maxbytes", 1_048_576.into()),
        ("coursedisplay", 1.into()),
        ("defaultgroupingid", 0.into()),
        ("groupmode", 2.into()),
        ("lang", "fr".into()),
        ("theme", "boost".into()),
        ("sortorder", 4_294_967_295u64.into()),
        ("cost", "12 EUR".into()),
    ];
    for (column, value) in expect {
        assert_eq!(c[column], value, "{column}");
    }
}

#[test]
fn bad_values_fail_their_row_alone_and_leave_nothing_behind() {
    let world = World::courses();
    let csv = "shortname;fullname;category;newsitems;format;startdate;teacher1_account;lang\n\
               OK1;Fine;Good;;;;;\n\
               B1;Bad news;New/Deep;11;;;;\n\
               B2;Bad format;New/Deep;;Topics;;;\n\
               B3;Bad date;New/Deep;;;2026-02-30;;\n\
               B4;No teacher;New/Deep;;;;nobody;\n\
               B5;Bad category;999;;;;;\n\
               B6;Empty element;A//B;;;;;\n\
               ;No shortname;;;;;;\n\
               B7;Lang;;;;;;f r\n";
    let (code, report) = run(&world, "bad.csv", csv, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["counts"]["created"], 1);
    assert_eq!(report["rows_failed"], 8);
    let reasons: Vec<String> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}: {}", e["line"], e["reason"].as_str().unwrap()))
        .collect();
    let all = reasons.join("\n");
    for needle in [
        "3: `newsitems`",
        "4: `format`",
        "5: `startdate`",
        "6: `teacher1_account`: no account matches `nobody`",
        "7: no category with id 999",
        "8: `category`: empty element",
        "9: missing `shortname`",
        "10: `lang`",
    ] {
        assert!(all.contains(needle), "{needle} in\n{all}");
    }
    // The categories the failing rows would have created are not kept.
    assert!(world.show("category", "New").is_none());
    for shortname in ["B1", "B2", "B3", "B4", "B5", "B6", "B7"] {
        assert!(world.show("course", shortname).is_none(), "{shortname}");
    }
    // The tryback file holds the header and the failed lines, byte for byte.
    let tryback = std::fs::read_to_string(report["tryback"].as_str().unwrap()).unwrap();
    assert!(tryback.starts_with("shortname;fullname;"));
    assert_eq!(tryback.lines().count(), 9);
    assert!(!tryback.contains("OK1"));
}

#[test]
fn categories_by_id_path_and_idnumber() {
    let world = World::courses();
    let (code, report) = run(
        &world,
        "a.csv",
        "shortname;fullname;category\nA;A;/2024\nB;B;Sciences\n",
        &["--set", "new_categories_visible=0"],
    );
    assert_eq!(code, 0, "{report}");
    let year = world
        .show("category", "/2024")
        .expect("a leading / forces a path");
    assert_eq!(year["name"], "2024");
    assert_eq!(year["visible"], false);
    let id = year["id"].as_u64().unwrap();
    let (code, report) = run(
        &world,
        "b.csv",
        &format!("shortname;fullname;category\nC;C;{id}\n"),
        &[],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(course(&world, "C")["category_path"], "2024");
    // idnumber mode: an existing category's idnumber only, nothing created.
    let (code, report) = run(
        &world,
        "c.csv",
        "shortname;fullname;category\nD;D;Sciences\n",
        &["--set", "category_key=idnumber"],
    );
    assert_eq!(code, 1, "{report}");
    assert!(report["errors"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no category with idnumber = Sciences"));
}

#[test]
fn existing_courses_are_left_alone_unless_update_existing() {
    let world = World::courses();
    run(
        &world,
        "a.csv",
        "shortname;fullname;idnumber;summary;category;topic1;lang\nA;Course A;IA;Old;Cat1;Intro|Old summary;fr\n",
        &[],
    );
    let before = course(&world, "A");
    let update = "shortname;fullname;summary;category;topic1;topic2;template;lang\n\
                  A;Course A2;New;Cat2;|New summary;Week 2;Other;\n";
    let (code, report) = run(&world, "b.csv", update, &[]);
    assert_eq!((code, report["counts"]["unchanged"].clone()), (0, 1.into()));
    assert_eq!(course(&world, "A"), before, "nothing written");

    let (code, report) = run(&world, "b.csv", update, &["--set", "update_existing=1"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["counts"]["updated"], 1);
    let after = course(&world, "A");
    assert_eq!(after["fullname"], "Course A2");
    assert_eq!(after["summary"], "New");
    assert_eq!(after["category_path"], "Cat2");
    assert_eq!(
        after["topic1"], "Intro|New summary",
        "an empty part is unchanged"
    );
    assert_eq!(after["topic2"], "Week 2");
    assert_eq!(after["idnumber"], "IA", "absent column unchanged");
    assert_eq!(after["lang"], "fr", "empty cell unchanged");
    assert_eq!(after["timecreated"], before["timecreated"]);
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("template `Other` not applied"),
        "{warnings}"
    );

    // protect_category keeps the course where it is; empty_clears resets clearable columns.
    let (code, report) = run(
        &world,
        "c.csv",
        "shortname;fullname;category;lang;summary\nA;Course A2;Cat3;;\n",
        &[
            "--set",
            "update_existing=1",
            "--set",
            "protect_category=1",
            "--set",
            "empty_clears=1",
        ],
    );
    assert_eq!(code, 0, "{report}");
    let after = course(&world, "A");
    assert_eq!(after["category_path"], "Cat2");
    assert_eq!(after["lang"], "");
    assert_eq!(after["summary"], "");
    assert!(report["warnings"].to_string().contains("protect_category"));
    // Same values again: unchanged.
    let (_, report) = run(
        &world,
        "d.csv",
        "shortname;fullname\nA;Course A2\n",
        &["--set", "update_existing=1"],
    );
    assert_eq!(report["counts"]["unchanged"], 1, "{report}");
}

#[test]
fn idnumber_and_id_keys_rename_and_never_create_by_id() {
    let world = World::courses();
    run(
        &world,
        "a.csv",
        "shortname;fullname;idnumber\nA;A;IA\nB;B;IB\n",
        &[],
    );
    let (code, report) = run(
        &world,
        "b.csv",
        "idnumber;shortname;fullname\nIA;A-renamed;A\nIB;A-renamed;B\nIC;C;C\n;D;D\n",
        &["--set", "course_key=idnumber", "--set", "update_existing=1"],
    );
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["counts"]["updated"], 1);
    assert_eq!(report["counts"]["created"], 1, "IC is new");
    assert!(report["errors"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("shortname `A-renamed` belongs to another course"));
    assert!(report["errors"][1]["reason"]
        .as_str()
        .unwrap()
        .contains("missing `idnumber`"));
    let renamed = course(&world, "A-renamed");
    assert_eq!(renamed["idnumber"], "IA");
    let id = renamed["id"].as_u64().unwrap();

    let (code, report) = run(
        &world,
        "c.csv",
        &format!("id;shortname;fullname\n{id};A3;A\n99999;Z;Z\n"),
        &["--set", "course_key=id", "--set", "update_existing=1"],
    );
    assert_eq!(code, 1, "{report}");
    assert_eq!(course(&world, "A3")["id"].as_u64(), Some(id));
    assert!(report["errors"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("never creates"));
    // `id` without course_key = id, and an idnumber key column missing: refused.
    let (code, report) = run(&world, "d.csv", "id;shortname;fullname\n1;X;X\n", &[]);
    assert_eq!(code, 3, "{report}");
    let (code, report) = run(
        &world,
        "e.csv",
        "shortname;fullname\nX;X\n",
        &["--set", "course_key=idnumber"],
    );
    assert_eq!(code, 3, "{report}");
    assert!(report["refused"]
        .as_str()
        .unwrap()
        .contains("`idnumber` is required"));
    // A duplicate idnumber on creation fails.
    let (code, report) = run(
        &world,
        "f.csv",
        "shortname;fullname;idnumber\nN;N;IB\n",
        &[],
    );
    assert_eq!(code, 1, "{report}");
}

#[test]
fn teachers_are_matched_in_identity_username_and_email_and_enrolled() {
    let world = World::courses();
    users(
        &world,
        "username;firstname;lastname;email;idnumber\n\
         t1;Tea;One;one@x.org;T-1\n\
         t2;Tea;Two;two@x.org;T-2\n\
         two@x.org;Confusing;Name;three@x.org;T-3\n\
         gone;Gone;Away;gone@x.org;T-4\n",
    );
    let deleted = world.file("del.csv", "username;deleted\ngone;1\n");
    world.run_json("users", &deleted, &[]);
    let (code, report) = run(
        &world,
        "c.csv",
        "shortname;fullname;teacher1_account;teacher1_role;teacher2_account;teacher2_role\n\
         A;A;t1;;one@x.org;teacher\n\
         B;B;two@x.org;;;\n\
         C;C;t1;nosuchrole;;\n\
         D;D;;student;;\n\
         E;E;gone;;;\n\
         F;F;T-1;;;\n",
        &[],
    );
    assert_eq!(code, 1, "{report}");
    let errors = report["errors"].to_string();
    assert!(errors.contains("2 accounts match `two@x.org`"), "{errors}");
    assert!(errors.contains("no role `nosuchrole`"), "{errors}");
    assert!(
        errors.contains("`teacher1_role` is given but `teacher1_account` is empty"),
        "{errors}"
    );
    assert!(
        errors.contains("no account matches `gone`"),
        "deleted accounts are ignored: {errors}"
    );
    assert!(
        errors.contains("no account matches `T-1`"),
        "identity = username by default: {errors}"
    );
    let a = course(&world, "A");
    let teachers = a["enrolments"]["teachers"].to_string();
    assert!(
        teachers.contains("editingteacher") && teachers.contains("\"teacher\""),
        "{teachers}"
    );
    assert_eq!(a["enrolments"]["participants"], 1, "one account, two roles");
    // With the users processor's identity = idnumber (its own table), T-1 is found.
    std::fs::write(
        world.data.join("toolsync.toml"),
        "[users]\nidentity = \"idnumber\"\n",
    )
    .unwrap();
    let (code, report) = run(
        &world,
        "g.csv",
        "shortname;fullname;teacher1_account\nG;G;T-1\n",
        &[],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(course(&world, "G")["enrolments"]["participants"], 1);
}

#[test]
fn a_course_template_gives_settings_and_sections_but_not_participants() {
    let world = World::courses();
    users(&world, "username;firstname;lastname\nt1;T;One\n");
    run(
        &world,
        "t.csv",
        "shortname;fullname;idnumber;category;format;newsitems;topic1;topic4;teacher1_account;guest\n\
         TPL;Template;TPL-ID;Models;weeks;2;Intro|Hello;Last;t1;1\n",
        &[],
    );
    let (code, report) = run(
        &world,
        "c.csv",
        "shortname;fullname;template;topic2\nNEW;New;TPL;Mine\n",
        &[],
    );
    assert_eq!(code, 0, "{report}");
    let c = course(&world, "NEW");
    assert_eq!(c["format"], "weeks");
    assert_eq!(c["newsitems"], 2);
    assert_eq!(c["idnumber"], "", "idnumber is not copied");
    assert_eq!(c["category_path"], "Models", "the template's category");
    assert_eq!(c["topic1"], "Intro|Hello");
    assert_eq!(c["topic2"], "Mine", "the row wins");
    assert_eq!(c["topic4"], "Last", "up to the template's highest section");
    assert_eq!(c["enrolments"]["participants"], 0);
    assert!(c["guest"].is_null(), "self/guest are not copied");

    let (code, report) = run(
        &world,
        "d.csv",
        "shortname;fullname;template\nX;X;NOPE\nY;Y;missing.mbz\n",
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(report["rows_failed"], 2);
    assert!(
        report["errors"].to_string().contains("template not found"),
        "{report}"
    );
}

#[test]
fn backups_in_both_compressions_give_settings_and_sections() {
    let world = World::courses();
    let backup = CourseXml::new(
        &[
            ("format", "weeks"),
            ("summary", "<p>From &amp; backup</p>"),
            ("startdate", "1788220800"),
            ("newsitems", "3"),
            ("visible", "0"),
            ("lang", "$@NULL@$"),
            ("shortname", "IGNORED"),
        ],
        &[
            (0, None, "General summary"),
            (1, Some("Week one"), ""),
            (2, Some("Week two"), "S2"),
        ],
    );
    write_mbz(
        &world.root.join("course.mbz"),
        Compression::GzipTar,
        &backup,
    )
    .unwrap();
    let mut dotted = backup.clone();
    dotted.dot_slash = true;
    std::fs::create_dir_all(world.root.join("sub")).unwrap();
    write_mbz(
        &world.root.join("sub/course.MBZ"),
        Compression::Zip,
        &dotted,
    )
    .unwrap();
    let absolute = world.root.join("course.mbz");
    let (code, report) = run(
        &world,
        "c.csv",
        &format!(
            "shortname;fullname;template;newsitems\nG;G;course.mbz;\nZ;Z;sub/course.MBZ;7\nABS;Abs;{};\n",
            absolute.display()
        ),
        &[],
    );
    assert_eq!(code, 0, "{report}");
    for shortname in ["G", "Z", "ABS"] {
        let c = course(&world, shortname);
        assert_eq!(c["format"], "weeks", "{shortname}");
        assert_eq!(
            c["summary"], "<p>From &amp; backup</p>",
            "entities resolved once"
        );
        assert_eq!(c["startdate"], 1_788_220_800);
        assert_eq!(c["visible"], false);
        assert_eq!(c["visibleold"], false);
        assert_eq!(c["lang"], "");
        assert_eq!(c["topic0"], "|General summary");
        assert_eq!(c["topic1"], "Week one");
        assert_eq!(c["topic2"], "Week two|S2");
        assert_eq!(c["category_path"], "Miscellaneous");
    }
    assert_eq!(course(&world, "Z")["newsitems"], 7, "the row wins");
    assert_eq!(course(&world, "G")["newsitems"], 3);

    // Broken archives fail their row, naming the problem.
    write_raw_entries(
        &world.root.join("broken.mbz"),
        Compression::Zip,
        &[
            ("moodle_backup.xml", "<moodle_backup/>".as_bytes()),
            (
                "course/course.xml",
                "<course><format>weeks</course>".as_bytes(),
            ),
        ],
    )
    .unwrap();
    std::fs::write(world.root.join("text.mbz"), "not an archive").unwrap();
    let (code, report) = run(
        &world,
        "d.csv",
        "shortname;fullname;template\nB1;B;broken.mbz\nB2;B;text.mbz\n",
        &[],
    );
    assert_eq!(code, 1);
    let errors = report["errors"].to_string();
    assert!(errors.contains("course/course.xml"), "{errors}");
    assert!(errors.contains("neither gzip nor zip"), "{errors}");
}

#[test]
fn header_rules_refuse_the_file() {
    let world = World::courses();
    for (csv, needle) in [
        (
            "shortname;fullname;teacher2_role\nA;A;x\n",
            "teacher2_account",
        ),
        ("shortname;fullname;topic53\nA;A;x\n", "topic53"),
        ("shortname;fulname\nA;A\n", "did you mean `fullname`"),
        ("shortname\nA\n", "fullname"),
    ] {
        let (code, report) = run(&world, "h.csv", csv, &[]);
        assert_eq!(code, 3, "{csv}: {report}");
        assert!(
            report["refused"].as_str().unwrap().contains(needle),
            "{report}"
        );
    }
}

#[test]
fn bad_option_values_are_usage_errors_before_any_row() {
    let world = World::courses();
    let file = world.file("o.csv", "shortname;fullname\nA;A\n");
    for set in [
        "default_category=A//B",
        "users.identity=shoe_size",
        "timezone=Mars/Olympus",
        "category_key=name",
        "update_existing=maybe",
    ] {
        let run = world.run(&["run", "course-create", file.to_str().unwrap(), "--set", set]);
        assert_eq!(run.code(), 2, "{set}: {}", run.stderr());
        assert!(
            !run.stderr().is_empty(),
            "{set}: the error says what to fix"
        );
    }
    assert!(world.show("course", "A").is_none());
}
