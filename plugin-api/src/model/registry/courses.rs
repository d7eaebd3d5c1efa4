//! Categories, courses and sections.
//!
//! Courses' CSV is an input file of course-create (formats.md §3.1): `toolsync export courses`
//! then `toolsync run course-create` on another store rebuilds the courses, their categories
//! (by path, never an id, which belongs to one store), sections and self/guest access. Left
//! out: ids, timestamps, `defaultgroupingid` (a grouping of this store), teachers and other
//! enrolments (the accounts may not exist on the other side).

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Value};

use super::{scan_space, Column, Ctx, FindError, Lookup, Table};
use crate::model::category::{self, Categories, Category, CategoryRef};
use crate::model::course::{self, Course, CourseKey, Courses, Section, Sections};
use crate::model::{Enrolments, Method, ModelResult, Roles, Users};
use crate::txn::StoreRead;

// ----- categories ---------------------------------------------------------------------------

/// A category with its path.
pub struct CategoryRow {
    category: Category,
    path: String,
}

fn category_row(ctx: Ctx<'_>, category: Category) -> ModelResult<CategoryRow> {
    Ok(CategoryRow {
        path: Categories::path(&ctx.store, category.id)?,
        category,
    })
}

pub static CATEGORIES: Table<CategoryRow> = Table {
    name: "categories",
    singular: "category",
    about: "course categories (course-create makes them from course paths; for reading)",
    key_help: Some("a path from the top level (`Sciences/Physics`, `/2024` for a category named 2024) or an id"),
    arity: 1,
    processor: None,
    json_separator: ",",
    scan: |ctx, visit| {
        scan_space(ctx, category::SPACE, b"", &mut |c: Category| {
            visit(category_row(ctx, c)?)
        })
    },
    lookups: &[Lookup {
        field: "path",
        find: |ctx, keys| {
            let reference = CategoryRef::parse(keys[0]).map_err(|e| {
                FindError::BadKey(format!(
                    "{e}: a category is a path (`Sciences/Physics`, `/2024`) or an id"
                ))
            })?;
            match Categories::find(&ctx.store, &reference)? {
                Some(c) => Ok(Some(category_row(ctx, c)?)),
                None => Ok(None),
            }
        },
    }],
    columns: &[
        Column::both("id", |r| r.category.id.into()),
        Column::both("path", |r| r.path.clone().into()),
        Column::both("idnumber", |r| r.category.idnumber.clone().into()),
        Column::both("visible", |r| r.category.visible.into()),
        Column::both("parent", |r| r.category.parent.into()),
        Column::json("name", |r| r.category.name.clone().into()),
        Column::json("description", |r| r.category.description.clone().into()),
        Column::json("timemodified", |r| r.category.timemodified.into()),
    ],
    show_extra: Some(|ctx, r| {
        let children: Vec<Value> = Categories::children(&ctx.store, r.category.id)?
            .into_iter()
            .map(|c| c.name.into())
            .collect();
        Ok(vec![
            (
                "courses".into(),
                Courses::in_category(&ctx.store, r.category.id)?.len().into(),
            ),
            ("children".into(), children.into()),
        ])
    }),
    csv_lines: None,
    csv_note: None,
    csv_header: None,
};

// ----- courses ------------------------------------------------------------------------------

/// A course with what its columns show besides its record.
pub struct CourseRow {
    course: Course,
    /// The category's path, and the same as course-create's `category` cell (`/2024`).
    path: String,
    path_cell: String,
    sections: Vec<Section>,
    /// Self enrolment and guest access: enabled, disabled, or no such method.
    self_access: Option<bool>,
    guest_access: Option<bool>,
}

/// Category paths by id: a store has few categories and many courses.
type Paths = HashMap<u64, (String, String)>;

fn course_row(ctx: Ctx<'_>, course: Course, paths: &mut Paths) -> ModelResult<CourseRow> {
    let (path, path_cell) = match paths.get(&course.category) {
        Some(known) => known.clone(),
        None => {
            let found = (
                Categories::path(&ctx.store, course.category)?,
                Categories::path_cell(&ctx.store, course.category)?,
            );
            paths.insert(course.category, found.clone());
            found
        }
    };
    let instances = Enrolments::instances(&ctx.store, course.id)?;
    // The first instance of the method, as course-create reads it.
    let access = |method: Method| {
        instances
            .iter()
            .find(|i| i.method == method)
            .map(|i| i.enabled)
    };
    Ok(CourseRow {
        self_access: access(Method::SelfEnrol),
        guest_access: access(Method::Guest),
        sections: Sections::of(&ctx.store, course.id)?,
        course,
        path,
        path_cell,
    })
}

const fn course_lookup(
    key: CourseKey,
) -> fn(Ctx<'_>, &[&str]) -> Result<Option<CourseRow>, FindError> {
    fn find(ctx: Ctx<'_>, key: CourseKey, value: &str) -> Result<Option<CourseRow>, FindError> {
        match Courses::find(&ctx.store, key, value)? {
            Some(c) => Ok(Some(course_row(ctx, c, &mut Paths::new())?)),
            None => Ok(None),
        }
    }
    match key {
        CourseKey::Shortname => |ctx, keys| find(ctx, CourseKey::Shortname, keys[0]),
        CourseKey::Idnumber => |ctx, keys| find(ctx, CourseKey::Idnumber, keys[0]),
        CourseKey::Id => |ctx, keys| find(ctx, CourseKey::Id, keys[0]),
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

fn topics(r: &CourseRow) -> Vec<(String, Value)> {
    r.sections
        .iter()
        .map(|s| (format!("topic{}", s.section), topic_cell(s).into()))
        .collect()
}

/// A course setting read as is.
macro_rules! setting {
    ($field:ident) => {
        Column::both(stringify!($field), |r: &CourseRow| {
            Value::from(r.course.$field.clone())
        })
    };
}

pub static COURSES: Table<CourseRow> = Table {
    name: "courses",
    singular: "course",
    about: "courses with their sections and access (course-create's input format)",
    key_help: Some("shortname, idnumber or id"),
    arity: 1,
    processor: Some("course-create"),
    json_separator: ",\n",
    scan: |ctx, visit| {
        let mut paths = Paths::new();
        scan_space(ctx, course::SPACE, b"", &mut |c: Course| {
            visit(course_row(ctx, c, &mut paths)?)
        })
    },
    lookups: &[
        Lookup {
            field: "shortname",
            find: course_lookup(CourseKey::Shortname),
        },
        Lookup {
            field: "idnumber",
            find: course_lookup(CourseKey::Idnumber),
        },
        Lookup {
            field: "id",
            find: course_lookup(CourseKey::Id),
        },
    ],
    columns: &[
        Column::json("id", |r| r.course.id.into()),
        setting!(shortname),
        setting!(fullname),
        Column::json("category", |r| r.course.category.into()),
        Column::csv("category", |r| r.path_cell.clone().into()),
        Column::json("category_path", |r| r.path.clone().into()),
        setting!(idnumber),
        setting!(summary),
        setting!(format),
        setting!(showgrades),
        setting!(visible),
        setting!(visibleold),
        setting!(legacyfiles),
        setting!(showreports),
        setting!(groupmodeforce),
        setting!(enablecompletion),
        setting!(newsitems),
        setting!(startdate),
        setting!(marker),
        setting!(maxbytes),
        setting!(coursedisplay),
        Column::json("defaultgroupingid", |r| r.course.defaultgroupingid.into()),
        setting!(groupmode),
        setting!(lang),
        setting!(theme),
        setting!(sortorder),
        setting!(cost),
        Column::json("timecreated", |r| r.course.timecreated.into()),
        Column::json("timemodified", |r| r.course.timemodified.into()),
        Column::family("topic{n}", topics),
        Column::both("self", |r| r.self_access.into()),
        Column::both("guest", |r| r.guest_access.into()),
    ],
    show_extra: Some(|ctx, r| {
        Ok(vec![(
            "enrolments".into(),
            enrolment_summary(&ctx.store, &r.course, ctx.now)?,
        )])
    }),
    csv_lines: None,
    csv_note: None,
    csv_header: None,
};

/// The roles `show course` lists as teachers.
const TEACHER_ROLES: [&str; 2] = ["editingteacher", "teacher"];

/// Who takes part in a course, as an operator wants it at a glance: `participants` (enrolled
/// users), `active` (users with an active enrolment through an enabled method), `effective`
/// (the active ones whose period holds now), `methods`,
/// `teachers` (editingteacher and teacher role holders), `fed_by` (the courses this
/// metacourse mirrors), `feeds` (the metacourses this course feeds).
pub fn enrolment_summary(txn: &impl StoreRead, course: &Course, now: i64) -> ModelResult<Value> {
    let instances = Enrolments::instances(txn, course.id)?;
    let enabled: HashMap<u64, bool> = instances.iter().map(|i| (i.id, i.enabled)).collect();
    let mut participants = BTreeSet::new();
    let mut active = BTreeSet::new();
    let mut effective = BTreeSet::new();
    for enrolment in Enrolments::enrolments(txn, course.id)? {
        participants.insert(enrolment.user);
        let enabled = enabled.get(&enrolment.instance) == Some(&true);
        if enrolment.active && enabled {
            active.insert(enrolment.user);
        }
        if enrolment.is_effective(enabled, now) {
            effective.insert(enrolment.user);
        }
    }
    let shortname = |id: u64| -> ModelResult<Value> {
        Ok(Courses::get(txn, id)?.map_or(Value::Null, |c| c.shortname.into()))
    };
    let mut methods = Vec::new();
    let mut fed_by = Vec::new();
    for instance in &instances {
        let mut method = json!({ "method": instance.method, "enabled": instance.enabled });
        if instance.method == Method::Meta {
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
        .collect::<ModelResult<Vec<_>>>()?;
    let mut role_names: HashMap<u64, Option<String>> = HashMap::new();
    let mut seen = BTreeSet::new();
    let mut teachers = Vec::new();
    for assignment in Enrolments::assignments(txn, course.id)? {
        let role = match role_names.get(&assignment.role) {
            Some(known) => known.clone(),
            None => {
                let name = Roles::get(txn, assignment.role)?.map(|r| r.shortname);
                role_names.insert(assignment.role, name.clone());
                name
            }
        };
        let Some(role) = role else { continue };
        // One line per user and role, whatever the number of sources (manual, metacourse...).
        if !TEACHER_ROLES.contains(&role.as_str())
            || !seen.insert((assignment.user, assignment.role))
        {
            continue;
        }
        let username = Users::get(txn, assignment.user)?.map(|u| u.username);
        teachers.push(json!({ "username": username, "role": role }));
    }
    Ok(json!({
        "participants": participants.len(),
        "active": active.len(),
        // Active, through an enabled method, and now inside the period.
        "effective": effective.len(),
        "methods": methods,
        "teachers": teachers,
        "fed_by": fed_by,
        "feeds": feeds,
    }))
}

// ----- sections -----------------------------------------------------------------------------

/// A section with its course's shortname.
pub struct SectionRow {
    section: Section,
    course: String,
}

pub static SECTIONS: Table<SectionRow> = Table {
    name: "sections",
    singular: "section",
    about: "course sections (course-create's topic{n} columns; for reading)",
    key_help: None,
    arity: 1,
    processor: None,
    json_separator: ",\n",
    scan: |ctx, visit| {
        let mut last: Option<(u64, String)> = None;
        scan_space(ctx, course::SECTION_SPACE, b"", &mut |s: Section| {
            let course = match &last {
                Some((id, name)) if *id == s.course => name.clone(),
                _ => {
                    let name = Courses::get(&ctx.store, s.course)?
                        .map(|c| c.shortname)
                        .unwrap_or_default();
                    last = Some((s.course, name.clone()));
                    name
                }
            };
            visit(SectionRow { section: s, course })
        })
    },
    lookups: &[],
    columns: &[
        Column::both("course", |r| r.course.clone().into()),
        Column::json("course_id", |r| r.section.course.into()),
        Column::both("section", |r| r.section.section.into()),
        Column::both("name", |r| r.section.name.clone().into()),
        Column::both("summary", |r| r.section.summary.clone().into()),
    ],
    show_extra: None,
    csv_lines: None,
    csv_note: None,
    csv_header: None,
};
