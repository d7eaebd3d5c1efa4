//! `show course`, `show category`, `export courses` and `export categories` (design.md §6).
//!
//! A course is printed as course-create's columns (formats.md §3.1) plus its id, timestamps,
//! `category_path`, its sections as `topic{n}` cells, `self`/`guest` from its enrolment
//! methods, and (in `show` only) a summary of its enrolments. `export courses --format csv`
//! writes a file course-create accepts, so that a store's courses can be rebuilt elsewhere:
//! the category as a path (never an id, which belongs to one store), every setting, every
//! section, self/guest. Left out: ids, timestamps, `defaultgroupingid` (groupings are per
//! store), teachers and enrolments (the accounts may not exist on the other side).

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::io::Write;

use serde_json::{json, Map, Value};
use toolsync_plugin_api::model::{
    course, Categories, Category, CategoryRef, Course, CourseKey, Courses, Enrolments, ModelError,
    Roles, Section, Sections, Users,
};
use toolsync_plugin_api::StoreRead;

use super::show::{cell, csv_field};
use crate::cli::{CourseField, Format};
use crate::exit::{CmdResult, ExitCode, Failure};
use crate::store::Store;

/// course-create's setting columns, in the order the export writes them (formats.md §3.1).
/// Not `id`, `timecreated`, `timemodified` (another store assigns its own) nor
/// `defaultgroupingid` (a grouping id of this store).
pub const SETTINGS: [&str; 20] = [
    "idnumber",
    "summary",
    "format",
    "showgrades",
    "visible",
    "visibleold",
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
];

/// The roles listed as a course's teachers in `show course`.
const TEACHER_ROLES: [&str; 2] = ["editingteacher", "teacher"];

fn model(e: ModelError) -> Failure {
    Failure::store(e.to_string())
}

// ----- show -------------------------------------------------------------------------------

/// The course a key designates: the field `by` names, else shortname, then idnumber, then id.
pub fn find_course(
    txn: &impl StoreRead,
    key: &str,
    by: Option<CourseField>,
) -> Result<Option<Course>, ModelError> {
    let fields = match by {
        Some(CourseField::Shortname) => &[CourseKey::Shortname][..],
        Some(CourseField::Idnumber) => &[CourseKey::Idnumber][..],
        Some(CourseField::Id) => &[CourseKey::Id][..],
        None => &[CourseKey::Shortname, CourseKey::Idnumber, CourseKey::Id][..],
    };
    for &field in fields {
        if let Some(found) = Courses::find(txn, field, key)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// `show course`: the export's object plus the `enrolments` summary; None when not found.
pub fn show_course(
    store: &Store,
    key: &str,
    by: Option<CourseField>,
) -> Result<Option<Map<String, Value>>, Failure> {
    let Some(course) = find_course(store, key, by).map_err(model)? else {
        return Ok(None);
    };
    let facts = CourseFacts::read(store, course, &mut PathCache::default()).map_err(model)?;
    let mut record = facts.to_json();
    record.insert(
        "enrolments".into(),
        enrolment_summary(store, &facts.course).map_err(model)?,
    );
    Ok(Some(record))
}

/// `show category`: its columns, `courses` (directly in it) and `children` (names).
pub fn show_category(store: &Store, key: &str) -> Result<Option<Map<String, Value>>, Failure> {
    let reference = CategoryRef::parse(key).map_err(|e| {
        Failure::usage(format!(
            "{e}: a category is a path (`Sciences/Physics`, `/2024`) or an id"
        ))
    })?;
    let Some(category) = Categories::find(store, &reference).map_err(model)? else {
        return Ok(None);
    };
    category_record(store, &category).map(Some).map_err(model)
}

fn category_record(
    txn: &impl StoreRead,
    category: &Category,
) -> Result<Map<String, Value>, ModelError> {
    let mut record = category.to_columns(txn)?;
    record.insert(
        "courses".into(),
        Courses::in_category(txn, category.id)?.len().into(),
    );
    let children: Vec<Value> = Categories::children(txn, category.id)?
        .into_iter()
        .map(|c| c.name.into())
        .collect();
    record.insert("children".into(), children.into());
    Ok(record)
}

/// Who takes part in a course, as an operator wants it at a glance.
pub fn enrolment_summary(txn: &impl StoreRead, course: &Course) -> Result<Value, ModelError> {
    let instances = Enrolments::instances(txn, course.id)?;
    let enabled: HashMap<u64, bool> = instances.iter().map(|i| (i.id, i.enabled)).collect();
    let mut participants = BTreeSet::new();
    let mut active = BTreeSet::new();
    for enrolment in Enrolments::enrolments(txn, course.id)? {
        participants.insert(enrolment.user);
        if enrolment.active && enabled.get(&enrolment.instance) == Some(&true) {
            active.insert(enrolment.user);
        }
    }

    let shortname = |id: u64| -> Result<Value, ModelError> {
        Ok(Courses::get(txn, id)?.map_or(Value::Null, |c| c.shortname.into()))
    };
    let mut methods = Vec::new();
    let mut fed_by = Vec::new();
    for instance in &instances {
        let mut method = json!({ "method": instance.method, "enabled": instance.enabled });
        if instance.method == "meta" {
            let master = shortname(instance.master)?;
            method["master"] = master.clone();
            fed_by.push(master);
        }
        methods.push(method);
    }
    // `Enrolments::fed_by` lists the courses this one feeds (its metacourses).
    let feeds = Enrolments::fed_by(txn, course.id)?
        .into_iter()
        .map(|(meta, _)| shortname(meta))
        .collect::<Result<Vec<_>, _>>()?;

    let mut role_names: HashMap<u64, Option<String>> = HashMap::new();
    let mut seen = BTreeSet::new();
    let mut teachers = Vec::new();
    for assignment in Enrolments::assignments(txn, course.id)? {
        let role = match role_names.entry(assignment.role) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                new.insert(Roles::get(txn, assignment.role)?.map(|r| r.shortname))
            }
        };
        let Some(role) = role.as_deref() else {
            continue;
        };
        // One line per user and role, whatever the number of sources (manual, metacourse...).
        if !TEACHER_ROLES.contains(&role) || !seen.insert((assignment.user, assignment.role)) {
            continue;
        }
        let username = Users::get(txn, assignment.user)?.map(|u| u.username);
        teachers.push(json!({ "username": username, "role": role }));
    }

    Ok(json!({
        "participants": participants.len(),
        "active": active.len(),
        "methods": methods,
        "teachers": teachers,
        "fed_by": fed_by,
        "feeds": feeds,
    }))
}

// ----- one course, read once for show and both exports ---------------------------------------

/// Category paths by id: a store has few categories and many courses.
#[derive(Default)]
struct PathCache(HashMap<u64, (String, String)>);

impl PathCache {
    /// (path, path as course-create's `category` cell).
    fn get(&mut self, txn: &impl StoreRead, id: u64) -> Result<&(String, String), ModelError> {
        Ok(match self.0.entry(id) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                new.insert((Categories::path(txn, id)?, Categories::path_cell(txn, id)?))
            }
        })
    }
}

struct CourseFacts {
    course: Course,
    path: String,
    path_cell: String,
    sections: Vec<Section>,
    self_access: Option<bool>,
    guest_access: Option<bool>,
}

impl CourseFacts {
    fn read(
        txn: &impl StoreRead,
        course: Course,
        paths: &mut PathCache,
    ) -> Result<CourseFacts, ModelError> {
        let (path, path_cell) = paths.get(txn, course.category)?.clone();
        let sections = Sections::of(txn, course.id)?;
        let instances = Enrolments::instances(txn, course.id)?;
        // The first instance of the method, as course-create reads it.
        let access = |method: &str| {
            instances
                .iter()
                .find(|i| i.method == method)
                .map(|i| i.enabled)
        };
        Ok(CourseFacts {
            self_access: access("self"),
            guest_access: access("guest"),
            course,
            path,
            path_cell,
            sections,
        })
    }

    fn to_json(&self) -> Map<String, Value> {
        let mut record = self.course.to_columns();
        record.insert("category_path".into(), self.path.clone().into());
        for section in &self.sections {
            record.insert(
                format!("topic{}", section.section),
                topic_cell(section).into(),
            );
        }
        record.insert("self".into(), self.self_access.into());
        record.insert("guest".into(), self.guest_access.into());
        record
    }

    /// The course-create line under [`csv_header`]`(topics)`.
    fn to_csv(&self, topics: u32) -> String {
        let columns = self.course.to_columns();
        let mut line = vec![
            csv_field(&self.course.shortname),
            csv_field(&self.course.fullname),
            csv_field(&self.path_cell),
        ];
        line.extend(SETTINGS.iter().map(|c| csv_field(&cell(columns.get(*c)))));
        let by_number: HashMap<u32, &Section> =
            self.sections.iter().map(|s| (s.section, s)).collect();
        for n in 0..=topics {
            line.push(
                by_number
                    .get(&n)
                    .map_or(String::new(), |s| csv_field(&topic_cell(s))),
            );
        }
        for access in [self.self_access, self.guest_access] {
            line.push(access.map_or(String::new(), |on| u8::from(on).to_string()));
        }
        line.join(";")
    }
}

/// A section as a `topic{n}` cell: `name|summary`, or the name alone when there is no summary.
fn topic_cell(section: &Section) -> String {
    if section.summary.is_empty() {
        section.name.clone()
    } else {
        format!("{}|{}", section.name, section.summary)
    }
}

/// The header of `export courses --format csv`, with `topic0` to `topic{topics}`.
pub fn csv_header(topics: u32) -> String {
    let mut header: Vec<String> = ["shortname", "fullname", "category"]
        .iter()
        .chain(SETTINGS.iter())
        .map(|c| c.to_string())
        .collect();
    header.extend((0..=topics).map(|n| format!("topic{n}")));
    header.push("self".into());
    header.push("guest".into());
    header.join(";")
}

// ----- export -----------------------------------------------------------------------------

/// Every course in id order, read lazily (a store may hold many).
fn each_course(store: &Store) -> impl Iterator<Item = Result<Course, Failure>> + '_ {
    store.scan_space(course::SPACE, b"").map(|item| {
        let (_, bytes) = item?;
        serde_json::from_slice::<Course>(&bytes)
            .map_err(|e| Failure::store(format!("corrupt record in `{}`: {e}", course::SPACE)))
    })
}

pub fn export_courses(store: &Store, format: Format) -> CmdResult {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let io = |e: std::io::Error| Failure::io("cannot write the export", e);
    let mut paths = PathCache::default();
    match format {
        Format::Json => {
            out.write_all(b"[").map_err(io)?;
            for (i, course) in each_course(store).enumerate() {
                let facts = CourseFacts::read(store, course?, &mut paths).map_err(model)?;
                if i > 0 {
                    out.write_all(b",\n").map_err(io)?;
                }
                serde_json::to_writer(&mut out, &Value::Object(facts.to_json()))
                    .map_err(|e| io(e.into()))?;
            }
            out.write_all(b"]\n").map_err(io)?;
        }
        Format::Csv => {
            // Two passes: the header names topic0 up to the highest section of any course
            // (every course has sections 0 and 1), then one line per course.
            let mut topics = 1;
            for course in each_course(store) {
                if let Some(last) = Sections::of(store, course?.id).map_err(model)?.last() {
                    topics = topics.max(last.section);
                }
            }
            writeln!(out, "{}", csv_header(topics)).map_err(io)?;
            for course in each_course(store) {
                let facts = CourseFacts::read(store, course?, &mut paths).map_err(model)?;
                writeln!(out, "{}", facts.to_csv(topics)).map_err(io)?;
            }
        }
    }
    out.flush().map_err(io)?;
    Ok(ExitCode::Ok)
}

/// The CSV columns of `export categories`: for reading, there is no category processor.
pub const CATEGORY_COLUMNS: [&str; 5] = ["id", "path", "idnumber", "visible", "parent"];

pub fn export_categories(store: &Store, format: Format) -> CmdResult {
    let categories = Categories::all(store).map_err(model)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let io = |e: std::io::Error| Failure::io("cannot write the export", e);
    match format {
        Format::Json => {
            let records = categories
                .iter()
                .map(|c| c.to_columns(store).map(Value::Object))
                .collect::<Result<Vec<_>, _>>()
                .map_err(model)?;
            serde_json::to_writer(&mut out, &Value::Array(records)).map_err(|e| io(e.into()))?;
            out.write_all(b"\n").map_err(io)?;
        }
        Format::Csv => {
            writeln!(out, "{}", CATEGORY_COLUMNS.join(";")).map_err(io)?;
            for category in &categories {
                let columns = category.to_columns(store).map_err(model)?;
                let line: Vec<String> = CATEGORY_COLUMNS
                    .iter()
                    .map(|c| csv_field(&cell(columns.get(*c))))
                    .collect();
                writeln!(out, "{}", line.join(";")).map_err(io)?;
            }
        }
    }
    out.flush().map_err(io)?;
    Ok(ExitCode::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolsync_plugin_api::model::{Roles, User};
    use toolsync_plugin_api::testing::MemoryStore;
    use toolsync_plugin_api::Txn;

    /// Metacourse links and teachers have no end-to-end processor yet: the summary is checked
    /// on the model directly.
    #[test]
    fn the_enrolment_summary_names_teachers_and_links_both_ways() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "Misc", true, 1).unwrap().id;
        let master = Courses::create(&mut txn, Course::new("M", "Master", cat, 1)).unwrap();
        let meta = Courses::create(&mut txn, Course::new("X", "Meta", cat, 1)).unwrap();
        let teacher = Users::create(&mut txn, User::new("tina", "T", "T", 1)).unwrap();
        let student = Users::create(&mut txn, User::new("sam", "S", "S", 1)).unwrap();
        let role = |txn: &Txn, name: &str| Roles::by_shortname(txn, name).unwrap().unwrap().id;
        let (editing, learner) = (role(&txn, "editingteacher"), role(&txn, "student"));
        let manual = Enrolments::ensure_instance(&mut txn, &master, "manual", 1).unwrap();
        Enrolments::enrol(&mut txn, &manual, teacher.id, &[editing], 1).unwrap();
        Enrolments::enrol(&mut txn, &manual, student.id, &[learner], 1).unwrap();
        Enrolments::link(&mut txn, &master, &meta, 1).unwrap();

        let summary = enrolment_summary(&txn, &master).unwrap();
        assert_eq!(summary["participants"], 2);
        assert_eq!(summary["active"], 2);
        assert_eq!(
            summary["teachers"],
            json!([{ "username": "tina", "role": "editingteacher" }])
        );
        assert_eq!(summary["feeds"], json!(["X"]));
        assert_eq!(summary["fed_by"], json!([]));

        // The metacourse mirrors both, and the teacher keeps the role there (owned by the link).
        let summary = enrolment_summary(&txn, &meta).unwrap();
        assert_eq!(summary["participants"], 2);
        assert_eq!(summary["fed_by"], json!(["M"]));
        assert_eq!(summary["feeds"], json!([]));
        assert_eq!(summary["teachers"][0]["username"], "tina");
        assert_eq!(summary["methods"][0]["method"], "meta");
        assert_eq!(summary["methods"][0]["master"], "M");
    }

    #[test]
    fn lookups_go_shortname_idnumber_id_unless_told() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        let cat = Categories::create(&mut txn, 0, "Misc", true, 1).unwrap().id;
        let first = Courses::create(&mut txn, Course::new("A", "A", cat, 1)).unwrap();
        // A course whose shortname is the other's id, and whose idnumber is the other's
        // shortname.
        let mut tricky = Course::new(&first.id.to_string(), "digits", cat, 1);
        tricky.idnumber = "B".into();
        let tricky = Courses::create(&mut txn, tricky).unwrap();
        let mut b = Course::new("B", "B", cat, 1);
        b.idnumber = "IB".into();
        let b = Courses::create(&mut txn, b).unwrap();

        let found = |key: &str, by| find_course(&txn, key, by).unwrap().map(|c| c.id);
        assert_eq!(found("A", None), Some(first.id));
        assert_eq!(found(&first.id.to_string(), None), Some(tricky.id));
        assert_eq!(
            found(&first.id.to_string(), Some(CourseField::Id)),
            Some(first.id)
        );
        assert_eq!(found("B", None), Some(b.id), "shortname before idnumber");
        assert_eq!(found("B", Some(CourseField::Idnumber)), Some(tricky.id));
        assert_eq!(found("IB", None), Some(b.id));
        assert_eq!(found("IB", Some(CourseField::Shortname)), None);
        assert_eq!(found("nothing", None), None);
    }

    #[test]
    fn csv_lines_follow_the_header() {
        let mut course = Course::new("S;1", "Full \"name\"", 1, 1_700_000_000);
        course.summary = "two\nlines".into();
        let mut intro = Section::new(1, 1);
        intro.name = "Intro".into();
        intro.summary = "Welcome; all".into();
        let facts = CourseFacts {
            course,
            path: "2024".into(),
            path_cell: "/2024".into(),
            sections: vec![Section::new(1, 0), intro],
            self_access: Some(true),
            guest_access: None,
        };
        let header = csv_header(3);
        assert!(header.starts_with("shortname;fullname;category;idnumber;summary;format;"));
        assert!(header.ends_with(";cost;topic0;topic1;topic2;topic3;self;guest"));
        let line = facts.to_csv(3);
        assert!(
            line.starts_with("\"S;1\";\"Full \"\"name\"\"\";/2024;;\"two\nlines\";topics;1;1;1;0;"),
            "{line}"
        );
        assert!(line.ends_with(";;\"Intro|Welcome; all\";;;1;"), "{line}");
    }
}
