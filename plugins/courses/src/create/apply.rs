//! One course-create row: read and convert every cell first (a bad value fails the row before
//! anything is written), then create the course or update it.

use std::collections::BTreeMap;

use toolsync_plugin_api::model::diff::{self, DiffRules};
use toolsync_plugin_api::model::{
    Categories, Category, CategoryRef, Course, CourseKey, Courses, Enrolments, Groups, Method,
    Roles, Section, Sections, User, UserKey, Users,
};
use toolsync_plugin_api::{fail, Derived, Outcome, Row, RowError, RowHandler, StoreRead, Txn};

use super::fields::{cleared, Field, FIELDS};
use super::template;
use super::Settings;
use toolsync_plugin_api::keys;
use toolsync_plugin_api::schema::Cell;

pub struct CreateRun {
    settings: Settings,
}

impl CreateRun {
    pub fn new(settings: Settings) -> Self {
        CreateRun { settings }
    }
}

/// A row, converted.
struct Plan {
    shortname: String,
    /// Settings to write, in table order: given values, and cleared ones (`empty_clears`).
    settings: Vec<(&'static Field, Cell)>,
    category: Option<String>,
    self_access: Option<bool>,
    guest_access: Option<bool>,
    template: Option<String>,
    /// Section number → (name, summary); `None` leaves a part unchanged.
    topics: BTreeMap<u32, (Option<String>, Option<String>)>,
    /// (n, account, role shortname or empty).
    teachers: Vec<(u32, String, String)>,
}

impl Plan {
    fn given(&self, column: &str) -> bool {
        self.settings.iter().any(|(f, _)| f.column == column)
    }
}

impl RowHandler for CreateRun {
    /// The course as the row names it: its shortname, else its key.
    fn subject(&self, row: &Row<'_>) -> String {
        row.non_empty("shortname")
            .or_else(|| row.get(self.settings.course_key.column()))
            .unwrap_or_default()
            .to_string()
    }

    fn apply(
        &mut self,
        row: &Row<'_>,
        _derived: Derived,
        txn: &mut Txn<'_>,
    ) -> Result<Outcome, RowError> {
        let s = &self.settings;
        let key_column = s.course_key.column();
        let key_value = row.get(key_column).unwrap_or("");
        let subject = self.subject(row);
        let subject = subject.as_str();
        let plan = read(row, s).map_err(|e| e.about(subject))?;
        let found = keys::lookup_course(txn, s.course_key, key_column, key_value)
            .map_err(|e| e.about(subject))?;
        match found {
            None if s.course_key == CourseKey::Id => Err(RowError::new(format!(
                "no course with id = {key_value} (course_key = id never creates a course)"
            ))
            .about(subject)),
            None => create(txn, s, plan).map_err(|e| e.about(subject)),
            Some(course) if !s.update_existing => {
                Ok(Outcome::unchanged(course.shortname).note("course exists"))
            }
            Some(course) => {
                let shortname = course.shortname.clone();
                update(txn, s, plan, course).map_err(|e| e.about(&shortname))
            }
        }
    }
}

/// Reads the row into a plan (its cells were converted by their columns' types before it got
/// here); nothing touches the store.
fn read(row: &Row<'_>, s: &Settings) -> Result<Plan, RowError> {
    let shortname = required(row, "shortname")?;
    required(row, "fullname")?;
    let mut settings = Vec::new();
    for field in FIELDS {
        match (row.get(field.column), row.cell(field.column)) {
            (Some(""), _) if s.empty_clears && field.clearable => {
                settings.push((field, cleared(field)));
            }
            (_, Some(value)) => settings.push((field, value.clone())),
            _ => {}
        }
    }
    let template = row.text("template").map(str::to_string);
    let mut topics = BTreeMap::new();
    for &n in &s.topics {
        let column = format!("topic{n}");
        let cell = row.get(&column).unwrap_or("");
        let (name, summary) = match cell.split_once('|') {
            Some((name, summary)) => (name.trim(), summary.trim()),
            None => (cell, ""),
        };
        let part = |text: &str, whole_cell_has_summary: bool| -> Option<String> {
            if !text.is_empty() {
                Some(text.to_string())
            } else if s.empty_clears && (whole_cell_has_summary || cell.is_empty()) {
                Some(String::new())
            } else {
                None
            }
        };
        let has_bar = cell.contains('|');
        let entry = (part(name, true), part(summary, has_bar));
        if entry != (None, None) {
            topics.insert(n, entry);
        }
    }
    let mut teachers = Vec::new();
    for &n in &s.teachers {
        let account = row
            .get(&format!("teacher{n}_account"))
            .unwrap_or("")
            .to_string();
        let role = row
            .get(&format!("teacher{n}_role"))
            .unwrap_or("")
            .to_string();
        if account.is_empty() {
            if !role.is_empty() {
                fail!("`teacher{n}_role` is given but `teacher{n}_account` is empty");
            }
            continue;
        }
        teachers.push((n, account, role));
    }
    Ok(Plan {
        shortname,
        settings,
        category: row.non_empty("category").map(str::to_string),
        self_access: row.bool("self"),
        guest_access: row.bool("guest"),
        template,
        topics,
        teachers,
    })
}

fn required(row: &Row<'_>, column: &str) -> Result<String, RowError> {
    row.non_empty(column)
        .map(str::to_string)
        .ok_or_else(|| RowError::new(format!("missing `{column}`")))
}

fn create(txn: &mut Txn<'_>, s: &Settings, plan: Plan) -> Result<Outcome, RowError> {
    let mut notes = Vec::new();
    let base = match &plan.template {
        Some(value) => Some(template::load(txn, value, s)?),
        None => None,
    };
    let (category, created) = match (&plan.category, base.as_ref().and_then(|b| b.category)) {
        (Some(cell), _) => category_of(txn, s, cell, true)?,
        (None, Some(id)) => (
            Categories::get(txn, id)?.ok_or("the template's category is gone")?,
            Vec::new(),
        ),
        (None, None) => default_category(txn, s)?,
    };
    for path in created {
        notes.push(format!("category `{path}` created"));
    }
    let (mut course, template_sections) = match base {
        Some(base) => {
            notes.push(format!(
                "from template `{}`",
                plan.template.as_deref().unwrap_or_default()
            ));
            (base.course, base.sections)
        }
        None => (Course::new("", "", 0, s.now), Vec::new()),
    };
    course.id = 0;
    course.shortname = plan.shortname.clone();
    course.idnumber = String::new();
    course.category = category.id;
    course.timecreated = s.now;
    course.timemodified = s.now;
    course.extra.clear();
    for (field, value) in &plan.settings {
        (field.set)(&mut course, value);
    }
    if !plan.given("visibleold") {
        course.visibleold = course.visible;
    }
    if course.defaultgroupingid != 0 {
        fail!(
            "`defaultgroupingid`: a new course has no grouping {}",
            course.defaultgroupingid
        );
    }
    let course = Courses::create(txn, course)?;

    // Sections: the template's, then the row's, then 0 and 1 and every gap.
    let mut sections: BTreeMap<u32, Section> = BTreeMap::new();
    for (number, name, summary) in template_sections {
        let mut section = Section::new(course.id, number);
        section.name = name;
        section.summary = summary;
        sections.insert(number, section);
    }
    for (&number, (name, summary)) in &plan.topics {
        let section = sections
            .entry(number)
            .or_insert_with(|| Section::new(course.id, number));
        if let Some(name) = name {
            section.name = name.clone();
        }
        if let Some(summary) = summary {
            section.summary = summary.clone();
        }
    }
    let highest = sections.keys().next_back().copied().unwrap_or(0).max(1);
    for number in 0..=highest {
        let mut section = sections
            .remove(&number)
            .unwrap_or_else(|| Section::new(course.id, number));
        Sections::put(txn, &course, &mut section)?;
    }
    notes.push(format!("{} sections", highest + 1));

    notes.extend(access(txn, s, &course, &plan)?);
    notes.extend(teachers(txn, s, &course, &plan)?);
    let mut outcome = Outcome::created(course.shortname);
    for note in notes {
        outcome = outcome.note(note);
    }
    Ok(outcome)
}

fn update(
    txn: &mut Txn<'_>,
    s: &Settings,
    plan: Plan,
    mut course: Course,
) -> Result<Outcome, RowError> {
    let before = course.clone();
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    if let Some(template) = &plan.template {
        warnings.push(format!(
            "template `{template}` not applied: templates apply only when a course is created"
        ));
    }
    if let Some(cell) = &plan.category {
        if s.protect_category {
            let wanted = category_of(txn, s, cell, false).ok().map(|(c, _)| c.id);
            if wanted != Some(course.category) {
                warnings.push("category not changed (protect_category)".to_string());
            }
        } else {
            let (category, created) = category_of(txn, s, cell, true)?;
            for path in created {
                notes.push(format!("category `{path}` created"));
            }
            if category.id != course.category {
                notes.push(format!(
                    "moved to `{}`",
                    Categories::path(txn, category.id)?
                ));
                course.category = category.id;
            }
        }
    }
    if s.course_key != CourseKey::Shortname && plan.shortname != course.shortname {
        notes.push(format!("renamed from `{}`", course.shortname));
        course.shortname = plan.shortname.clone();
    }
    for (field, value) in &plan.settings {
        (field.set)(&mut course, value);
    }
    if course.defaultgroupingid != before.defaultgroupingid
        && course.defaultgroupingid != 0
        && !Groups::groupings(txn, course.id)?
            .iter()
            .any(|g| g.id == course.defaultgroupingid)
    {
        fail!(
            "`defaultgroupingid`: no grouping {} in this course",
            course.defaultgroupingid
        );
    }
    // A changed setting stamps `timemodified` (unless the row gives it).
    let mut stamped = course.clone();
    stamped.timemodified = before.timemodified;
    if stamped != before && !plan.given("timemodified") {
        course.timemodified = s.now;
    }
    let mut changed = course != before;
    if changed {
        // Each setting as `field: old → new`; a move and a rename have notes of their own.
        notes.extend(diff::changes(
            &before.to_columns(),
            &course.to_columns(),
            &DiffRules {
                ignore: &["shortname", "category", "timemodified"],
                secret: &[],
                secret_name: "",
            },
        ));
        Courses::save(txn, &mut course)?;
    }

    // The sections given; missing ones up to the highest are created empty.
    if let Some(&highest) = plan.topics.keys().next_back() {
        let existing = Sections::of(txn, course.id)?;
        let mut sections_changed = 0;
        for number in 0..=highest {
            let stored = existing.iter().find(|x| x.section == number).cloned();
            let mut section = stored
                .clone()
                .unwrap_or_else(|| Section::new(course.id, number));
            if let Some((name, summary)) = plan.topics.get(&number) {
                if let Some(name) = name {
                    section.name = name.clone();
                }
                if let Some(summary) = summary {
                    section.summary = summary.clone();
                }
            }
            if stored.as_ref() != Some(&section) {
                Sections::put(txn, &course, &mut section)?;
                sections_changed += 1;
            }
        }
        if sections_changed > 0 {
            notes.push(format!("{sections_changed} sections written"));
            changed = true;
        }
    }
    let access = access(txn, s, &course, &plan)?;
    let teachers = teachers(txn, s, &course, &plan)?;
    changed |= !access.is_empty() || !teachers.is_empty();
    notes.extend(access);
    notes.extend(teachers);
    let mut outcome = if changed {
        Outcome::updated(course.shortname)
    } else {
        Outcome::unchanged(course.shortname)
    };
    for note in notes {
        outcome = outcome.note(note);
    }
    for warning in warnings {
        outcome = outcome.warn(warning);
    }
    Ok(outcome)
}

/// The category a cell designates; a path is created when `create` (returns the created
/// paths); an id or idnumber must exist.
fn category_of(
    txn: &mut Txn<'_>,
    s: &Settings,
    cell: &str,
    create: bool,
) -> Result<(Category, Vec<String>), RowError> {
    if s.category_by_idnumber {
        return match Categories::by_idnumber(txn, cell)? {
            Some(c) => Ok((c, Vec::new())),
            None => fail!("no category with idnumber = {cell}"),
        };
    }
    let reference =
        CategoryRef::parse(cell).map_err(|e| RowError::new(format!("`category`: {e}")))?;
    resolve(txn, s, &reference, create)
}

fn resolve(
    txn: &mut Txn<'_>,
    s: &Settings,
    reference: &CategoryRef,
    create: bool,
) -> Result<(Category, Vec<String>), RowError> {
    match reference {
        CategoryRef::Id(id) => match Categories::get(txn, *id)? {
            Some(c) => Ok((c, Vec::new())),
            None => fail!("no category with id {id}"),
        },
        CategoryRef::Path(names) if create => Ok(Categories::ensure_path(
            txn,
            names,
            s.new_categories_visible,
            s.now,
        )?),
        CategoryRef::Path(names) => match Categories::find(txn, reference)? {
            Some(c) => Ok((c, Vec::new())),
            None => fail!("no category at `{}`", names.join("/")),
        },
    }
}

fn default_category(txn: &mut Txn<'_>, s: &Settings) -> Result<(Category, Vec<String>), RowError> {
    resolve(txn, s, &s.default_category.clone(), true)
        .map_err(|e| RowError::new(format!("default_category: {}", e.reason)))
}

/// `self` and `guest`: 1 enables the method (creating it), 0 disables an existing one.
fn access(
    txn: &mut Txn<'_>,
    s: &Settings,
    course: &Course,
    plan: &Plan,
) -> Result<Vec<String>, RowError> {
    let mut notes = Vec::new();
    for (method, wanted, label) in [
        (Method::SelfEnrol, plan.self_access, "self enrolment"),
        (Method::Guest, plan.guest_access, "guest access"),
    ] {
        let Some(wanted) = wanted else { continue };
        match Enrolments::instance_of(txn, course.id, method)? {
            None if wanted => {
                Enrolments::ensure_instance(txn, course, method, s.now)?;
                notes.push(format!("{label} enabled"));
            }
            Some(mut instance) if instance.enabled != wanted => {
                instance.enabled = wanted;
                Enrolments::save_instance(txn, &instance, s.now)?;
                notes.push(format!(
                    "{label} {}",
                    if wanted { "enabled" } else { "disabled" }
                ));
            }
            _ => {}
        }
    }
    Ok(notes)
}

/// Enrols each `teacher{n}_account` through the manual method with its role (added, never
/// removed).
fn teachers(
    txn: &mut Txn<'_>,
    s: &Settings,
    course: &Course,
    plan: &Plan,
) -> Result<Vec<String>, RowError> {
    let mut notes = Vec::new();
    for (n, account, role) in &plan.teachers {
        let user = teacher_account(txn, s.identity, account)
            .map_err(|e| RowError::new(format!("`teacher{n}_account`: {}", e.reason)))?;
        let role_name = if role.is_empty() {
            "editingteacher"
        } else {
            role
        };
        let Some(role) = Roles::by_shortname(txn, role_name)? else {
            fail!("`teacher{n}_role`: no role `{role_name}`");
        };
        let manual = Enrolments::ensure_instance(txn, course, Method::Manual, s.now)?;
        if Enrolments::enrol(txn, &manual, user.id, &[role.id], s.now)? {
            notes.push(format!("teacher {} ({})", user.username, role.shortname));
        }
    }
    Ok(notes)
}

/// The one live account a teacher cell designates, searched at once in the users processor's
/// identity field, in username and in e-mail.
fn teacher_account(txn: &impl StoreRead, identity: UserKey, value: &str) -> Result<User, RowError> {
    let mut found: Vec<User> = Vec::new();
    let mut fields = vec![identity];
    for extra in [UserKey::Username, UserKey::Email] {
        if !fields.contains(&extra) {
            fields.push(extra);
        }
    }
    for field in fields {
        for user in Users::find(txn, field, value)? {
            if !user.deleted && !found.iter().any(|u| u.id == user.id) {
                found.push(user);
            }
        }
    }
    match found.len() {
        0 => fail!("no account matches `{value}`"),
        1 => Ok(found.remove(0)),
        n => fail!("{n} accounts match `{value}`"),
    }
}
