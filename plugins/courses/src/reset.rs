//! course-reset (formats.md §3.3): removes selected data from courses.
//!
//! Every reset column is one entry of [`COLUMNS`]: its name, the words its cells may hold and
//! what each word does. A row first reads every present cell into a [`Request`] (a bad word or
//! an unknown role fails the row before anything is written), then carries the requests out in
//! table order through the model, which keeps links mirrored and what they own untouched.

use std::collections::BTreeSet;

use toolsync_plugin_api::model::{Activities, Course, CourseKey, Enrolments, Groups, Roles};
use toolsync_plugin_api::values::parse_bool;
use toolsync_plugin_api::{
    ColumnSpec, Columns, Derived, Manifest, Outcome, Processor, Row, RowError, RowHandler,
    StartContext, StartError, StoreRead, Txn,
};

use toolsync_plugin_api::keys;

pub struct CourseReset;

/// What a true word of a column removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Accepted, but the store keeps no such data: "nothing to reset (not modelled)".
    NotModelled,
    /// Role assignments no enrolment carries.
    UnbackedRoles,
    /// Groups, with their memberships.
    DeleteGroups,
    /// Group memberships (the groups stay).
    EmptyGroups,
    /// Groupings (their groups stay).
    DeleteGroupings,
    /// The groups bound to groupings (the groupings stay).
    UnbindGroupings,
    /// One module's activity data of one kind (`None`: every kind).
    Activity {
        module: &'static str,
        kind: Option<&'static str>,
    },
}

/// The words a reset column takes.
#[derive(Debug, Clone, Copy)]
pub enum Values {
    /// `all`, `none`, or role shortnames separated by spaces: their holders are unenrolled.
    Roles,
    /// `all`, `none`, module names separated by spaces, or `-name` exclusions.
    Modules,
    /// Fixed words (case-insensitive); `None`: the word resets nothing.
    Words(&'static [(&'static str, Option<Action>)]),
    /// A boolean, plus `all` (true) and `none` (false) and the extra true words: true does the
    /// action.
    Flag {
        action: Action,
        also: &'static [&'static str],
    },
}

/// One reset column.
#[derive(Debug, Clone, Copy)]
pub struct ResetColumn {
    pub name: &'static str,
    pub values: Values,
    /// For the schema; empty for flags, whose description follows from their action.
    pub about: &'static str,
}

const fn flag(name: &'static str, module: &'static str, kind: Option<&'static str>) -> ResetColumn {
    ResetColumn {
        name,
        values: Values::Flag {
            action: Action::Activity { module, kind },
            also: &[],
        },
        about: "",
    }
}

const fn not_modelled(name: &'static str, also: &'static [&'static str]) -> ResetColumn {
    ResetColumn {
        name,
        values: Values::Flag {
            action: Action::NotModelled,
            also,
        },
        about: "",
    }
}

/// Every reset column, in the order a row carries them out (formats.md §3.3).
pub const COLUMNS: &[ResetColumn] = &[
    ResetColumn {
        name: "roles",
        values: Values::Roles,
        about: "all, none, or role shortnames separated by spaces: users holding one of the roles (any, for all) are unenrolled, except what a metacourse link or cohort binding owns; unknown role fails",
    },
    ResetColumn {
        name: "local_roles",
        values: Values::Words(&[
            ("all", Some(Action::UnbackedRoles)),
            ("roles", Some(Action::UnbackedRoles)),
            ("overrides", Some(Action::NotModelled)),
            ("none", None),
        ]),
        about: "all/roles: removes role assignments no enrolment carries; overrides: not modelled",
    },
    ResetColumn {
        name: "groups",
        values: Values::Words(&[
            ("all", Some(Action::DeleteGroups)),
            ("groups", Some(Action::DeleteGroups)),
            ("members", Some(Action::EmptyGroups)),
            ("none", None),
        ]),
        about: "all/groups: deletes groups with their memberships; members: empties them",
    },
    ResetColumn {
        name: "groupings",
        values: Values::Words(&[
            ("all", Some(Action::DeleteGroupings)),
            ("groupings", Some(Action::DeleteGroupings)),
            ("members", Some(Action::UnbindGroupings)),
            ("none", None),
        ]),
        about: "all/groupings: deletes groupings (groups stay); members: unbinds their groups",
    },
    ResetColumn {
        name: "modules",
        values: Values::Modules,
        about: "all, none, module names separated by spaces ([a-z][a-z0-9_]*), or -name exclusions (not mixed): removes the activity data of the listed modules, or of all but the excluded ones",
    },
    flag("forum_all", "forum", None),
    flag("forum_subscriptions", "forum", Some("subscriptions")),
    flag("glossary_all", "glossary", None),
    flag("chat", "chat", None),
    flag("data", "data", None),
    flag("slots", "scheduler", Some("slots")),
    flag("apointments", "scheduler", Some("appointments")),
    flag("appointments", "scheduler", Some("appointments")),
    flag("assignment_submissions", "assignment", Some("submissions")),
    flag("assign_submissions", "assign", Some("submissions")),
    flag("survey_answers", "survey", Some("answers")),
    flag("lesson", "lesson", None),
    flag("choice", "choice", None),
    flag("scorm", "scorm", None),
    flag("quiz_attempts", "quiz", Some("attempts")),
    not_modelled("events", &[]),
    not_modelled("logs", &[]),
    not_modelled("notes", &[]),
    not_modelled("grades", &["items", "grades"]),
    not_modelled("completion", &[]),
    not_modelled("blog_associations", &[]),
    not_modelled("comments", &[]),
];

impl ResetColumn {
    /// The column's type: the words it takes (a role or module list is free text this
    /// processor reads itself).
    fn kind(&self) -> String {
        match self.values {
            Values::Roles | Values::Modules => "text".into(),
            Values::Words(words) => {
                let words: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
                format!("enum {}", words.join(" "))
            }
            Values::Flag { also, .. } => {
                let mut words = vec!["1", "0", "yes", "no", "true", "false", "all", "none"];
                words.extend(also.iter());
                format!("enum {}", words.join(" "))
            }
        }
    }

    fn description(&self) -> String {
        match self.values {
            Values::Flag {
                action: Action::Activity { module, kind },
                ..
            } => format!(
                "true removes the {module}/{} activity data",
                kind.unwrap_or("all")
            ),
            Values::Flag {
                action: Action::NotModelled,
                ..
            } => {
                "accepted; not modelled by the store: a true value reports nothing to reset".into()
            }
            _ => self.about.into(),
        }
    }

    /// Reads a non-empty cell; `None` when it asks for nothing. The error is phrased without
    /// the column name.
    fn read(&self, txn: &impl StoreRead, cell: &str) -> Result<Option<Request>, String> {
        let lower = cell.to_ascii_lowercase();
        match self.values {
            Values::Roles => read_roles(txn, &lower),
            Values::Modules => read_modules(&lower),
            Values::Words(words) => match words.iter().find(|(w, _)| *w == lower) {
                Some((_, action)) => Ok(action.map(Request::Do)),
                None => Err(format!(
                    "`{cell}` is not one of {}",
                    words.iter().map(|(w, _)| *w).collect::<Vec<_>>().join(", ")
                )),
            },
            Values::Flag { action, also } => {
                let truth = match lower.as_str() {
                    "all" => Ok(true),
                    "none" => Ok(false),
                    word if also.contains(&word) => Ok(true),
                    _ => parse_bool(cell),
                };
                match truth {
                    Ok(true) => Ok(Some(Request::Do(action))),
                    Ok(false) => Ok(None),
                    Err(_) => Err(format!(
                        "`{cell}` is not a boolean (1/0, yes/no, true/false), all or none{}",
                        also.iter().map(|w| format!(", {w}")).collect::<String>()
                    )),
                }
            }
        }
    }
}

/// What one cell asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    /// Unenrol the holders of these roles (`None`: of any role).
    Unenrol(Option<BTreeSet<u64>>),
    Modules(ModuleChoice),
    Do(Action),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ModuleChoice {
    All,
    Only(BTreeSet<String>),
    AllBut(BTreeSet<String>),
}

fn read_roles(txn: &impl StoreRead, cell: &str) -> Result<Option<Request>, String> {
    match cell {
        "none" => return Ok(None),
        "all" => return Ok(Some(Request::Unenrol(None))),
        _ => {}
    }
    let mut roles = BTreeSet::new();
    for name in cell.split_whitespace() {
        if name == "all" || name == "none" {
            return Err(format!("`{name}` stands alone, not among role shortnames"));
        }
        match Roles::by_shortname(txn, name).map_err(|e| e.to_string())? {
            Some(role) => roles.insert(role.id),
            None => return Err(format!("unknown role `{name}`")),
        };
    }
    Ok(Some(Request::Unenrol(Some(roles))))
}

fn read_modules(cell: &str) -> Result<Option<Request>, String> {
    match cell {
        "none" => return Ok(None),
        "all" => return Ok(Some(Request::Modules(ModuleChoice::All))),
        _ => {}
    }
    let mut names = BTreeSet::new();
    let mut excluded = BTreeSet::new();
    for word in cell.split_whitespace() {
        let (set, name) = match word.strip_prefix('-') {
            Some(name) => (&mut excluded, name),
            None => (&mut names, word),
        };
        if name == "all" || name == "none" {
            return Err(format!("`{name}` stands alone, not among module names"));
        }
        if !is_module_name(name) {
            return Err(format!(
                "`{word}` is not a module name ([a-z][a-z0-9_]*, or -name to exclude one)"
            ));
        }
        set.insert(name.to_string());
    }
    match (names.is_empty(), excluded.is_empty()) {
        (false, false) => Err(
            "mixes module names and -name exclusions: list the modules to reset, or the ones to keep"
                .into(),
        ),
        (false, true) => Ok(Some(Request::Modules(ModuleChoice::Only(names)))),
        _ => Ok(Some(Request::Modules(ModuleChoice::AllBut(excluded)))),
    }
}

/// `[a-z][a-z0-9_]*`.
fn is_module_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// What a column removed, for the row's message.
#[derive(Debug, Default)]
struct Tally {
    parts: Vec<String>,
    total: usize,
    not_modelled: bool,
}

impl Tally {
    fn add(&mut self, n: usize, one: &str, many: &str) {
        if n > 0 {
            self.total += n;
            self.parts
                .push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }

    fn text(&self) -> String {
        if !self.parts.is_empty() {
            format!("{} removed", self.parts.join(", "))
        } else if self.not_modelled {
            "nothing to reset (not modelled)".into()
        } else {
            "nothing to reset".into()
        }
    }
}

impl Processor for CourseReset {
    fn manifest(&self) -> Manifest {
        let mut manifest = Manifest::new(
            "course-reset",
            env!("CARGO_PKG_VERSION"),
            "Removes selected data from courses: participants by role, groups, groupings, activity data",
            "resetcourses.csv",
        )
        .column(ColumnSpec::new(
            "shortname",
            "key(course)",
            "the course, with course_key = shortname (required then)",
        ))
        .column(
            ColumnSpec::new(
                "idnumber",
                "key(course)",
                "the course, with course_key = idnumber (required then)",
            )
            .not_in_template(),
        )
        .column(
            ColumnSpec::new(
                "id",
                "key(course)",
                "the course, with course_key = id (required then)",
            )
            .not_in_template(),
        );
        for column in COLUMNS {
            let mut spec = ColumnSpec::new(column.name, &column.kind(), &column.description());
            // tool_sync's spelling; a file may carry one of the two, the template the right one.
            if column.name == "apointments" {
                spec = spec.not_in_template();
            }
            manifest = manifest.column(spec);
        }
        manifest.option(keys::course_key_option())
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        let key = ctx.course_key()?;
        let columns = check_columns(key, ctx.columns())?;
        Ok(Box::new(ResetRun {
            key,
            columns,
            now: ctx.started_at,
        }))
    }
}

/// The key column must be there (and no other key column), with at least one reset column and
/// not both spellings of `appointments`. Returns the reset columns present, in table order.
fn check_columns(key: CourseKey, columns: &Columns) -> Result<Vec<ResetColumn>, StartError> {
    let mut problems = Vec::new();
    let column = key.column();
    if !columns.has(column) {
        problems.push(format!(
            "`{column}` is required because course_key = {column}"
        ));
    }
    for other in CourseKey::WORDS {
        if other != column && columns.has(other) {
            problems.push(format!(
                "`{other}` designates the course only with course_key = {other} (course_key = {column})"
            ));
        }
    }
    let present: Vec<ResetColumn> = COLUMNS
        .iter()
        .filter(|c| columns.has(c.name))
        .copied()
        .collect();
    if present.is_empty() {
        let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        problems.push(format!(
            "no reset column: give at least one of {}",
            names.join(", ")
        ));
    }
    if columns.has("apointments") && columns.has("appointments") {
        problems.push(
            "`apointments` and `appointments` are the same column (tool_sync's spelling and the right one): keep one"
                .into(),
        );
    }
    if problems.is_empty() {
        Ok(present)
    } else {
        problems.push("(`toolsync schema course-reset` lists the valid columns)".into());
        Err(StartError::Refused(problems.join("; ").into()))
    }
}

struct ResetRun {
    key: CourseKey,
    columns: Vec<ResetColumn>,
    now: i64,
}

impl RowHandler for ResetRun {
    fn apply(
        &mut self,
        row: &Row<'_>,
        _derived: Derived,
        txn: &mut Txn<'_>,
    ) -> Result<Outcome, RowError> {
        let key_column = self.key.column();
        let key_value = row.get(key_column).unwrap_or("");
        let course = keys::find_course(txn, self.key, key_column, key_value)
            .map_err(|e| e.about(key_value))?;
        let subject = course.shortname.clone();
        // Every cell is read before anything is written.
        let mut requests = Vec::new();
        for column in &self.columns {
            let cell = row.get(column.name).unwrap_or("");
            if cell.is_empty() {
                continue;
            }
            match column.read(txn, cell) {
                Ok(Some(request)) => requests.push((column.name, request)),
                Ok(None) => {}
                Err(why) => {
                    return Err(RowError::new(format!("`{}`: {why}", column.name)).about(&subject))
                }
            }
        }
        let mut outcome_parts = Vec::new();
        let mut removed = 0;
        for (name, request) in requests {
            let tally =
                carry_out(txn, &course, &request, self.now).map_err(|e| e.about(&subject))?;
            removed += tally.total;
            outcome_parts.push(format!("{name}: {}", tally.text()));
        }
        let mut outcome = if removed > 0 {
            Outcome::updated(subject)
        } else {
            Outcome::unchanged(subject)
        };
        if outcome_parts.is_empty() {
            outcome = outcome.note("nothing to reset (every reset cell is empty or none)");
        }
        for part in outcome_parts {
            outcome = outcome.note(part);
        }
        Ok(outcome)
    }
}

fn carry_out(
    txn: &mut Txn<'_>,
    course: &Course,
    request: &Request,
    now: i64,
) -> Result<Tally, RowError> {
    let mut tally = Tally::default();
    match request {
        Request::Unenrol(roles) => {
            let holders: BTreeSet<u64> = Enrolments::assignments(txn, course.id)?
                .into_iter()
                .filter(|a| roles.as_ref().is_none_or(|r| r.contains(&a.role)))
                .map(|a| a.user)
                .collect();
            let (mut enrolments, mut assignments, mut memberships) = (0, 0, 0);
            for user in holders {
                // The model's unenrol: what a link or a cohort owns stays, and so do the groups
                // of someone it keeps in the course.
                let done = Enrolments::unenrol_unowned(txn, course.id, user, now)?;
                enrolments += done.enrolments;
                assignments += done.assignments;
                memberships += done.memberships;
            }
            tally.add(enrolments, "enrolment", "enrolments");
            tally.add(assignments, "role assignment", "role assignments");
            tally.add(memberships, "group membership", "group memberships");
        }
        Request::Modules(choice) => {
            let modules: Vec<String> = match choice {
                ModuleChoice::Only(names) => names.iter().cloned().collect(),
                ModuleChoice::All => Activities::modules(txn, course.id)?,
                ModuleChoice::AllBut(excluded) => Activities::modules(txn, course.id)?
                    .into_iter()
                    .filter(|m| !excluded.contains(m))
                    .collect(),
            };
            for module in modules {
                let n = Activities::remove(txn, course.id, &module, None)?;
                tally.add(n, &format!("{module} record"), &format!("{module} records"));
            }
        }
        Request::Do(action) => match *action {
            Action::NotModelled => tally.not_modelled = true,
            Action::UnbackedRoles => {
                let n = Enrolments::remove_unbacked_assignments(txn, course.id, now)?;
                tally.add(n, "role assignment", "role assignments");
            }
            Action::DeleteGroups => {
                let (mut groups, mut memberships) = (0, 0);
                for group in Groups::groups(txn, course.id)? {
                    memberships += Groups::empty(txn, &group)?;
                    Groups::delete_group(txn, &group)?;
                    groups += 1;
                }
                tally.add(groups, "group", "groups");
                tally.add(memberships, "group membership", "group memberships");
            }
            Action::EmptyGroups => {
                let mut memberships = 0;
                for group in Groups::groups(txn, course.id)? {
                    memberships += Groups::empty(txn, &group)?;
                }
                tally.add(memberships, "group membership", "group memberships");
            }
            Action::DeleteGroupings => {
                let (mut groupings, mut bindings) = (0, 0);
                for grouping in Groups::groupings(txn, course.id)? {
                    bindings += Groups::unbind_all(txn, &grouping)?;
                    Groups::delete_grouping(txn, &grouping)?;
                    groupings += 1;
                }
                tally.add(groupings, "grouping", "groupings");
                tally.add(bindings, "group binding", "group bindings");
            }
            Action::UnbindGroupings => {
                let mut bindings = 0;
                for grouping in Groups::groupings(txn, course.id)? {
                    bindings += Groups::unbind_all(txn, &grouping)?;
                }
                tally.add(bindings, "group binding", "group bindings");
            }
            Action::Activity { module, kind } => {
                let n = Activities::remove(txn, course.id, module, kind)?;
                tally.add(n, "record", "records");
            }
        },
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use toolsync_plugin_api::model::{Categories, Courses, Group, Grouping, User, Users};
    use toolsync_plugin_api::testing::{MemoryStore, Refusal, Report, RowResult, Runner};
    use toolsync_plugin_api::OutcomeKind;

    /// Course A (idnumber `A-ID`) with two students and a teacher through its manual method,
    /// two groups (the teacher and student 1 in the first, student 2 in the second), a grouping
    /// holding both groups, and activity data; course B empty.
    struct Fixture {
        store: MemoryStore,
        a: Course,
        b: Course,
        students: [u64; 2],
        teacher: u64,
        student_role: u64,
        teacher_role: u64,
    }

    fn fixture() -> Fixture {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "Cat", true, 1).unwrap().id;
        let mut a = Course::new("A", "Course A", cat, 1);
        a.idnumber = "A-ID".into();
        let a = Courses::create(&mut txn, a).unwrap();
        let b = Courses::create(&mut txn, Course::new("B", "Course B", cat, 1)).unwrap();
        let user = |txn: &mut Txn<'_>, name: &str| {
            Users::create(txn, User::new(name, name, name, 1))
                .unwrap()
                .id
        };
        let students = [user(&mut txn, "s1"), user(&mut txn, "s2")];
        let teacher = user(&mut txn, "t1");
        let student_role = Roles::by_shortname(&txn, "student").unwrap().unwrap().id;
        let teacher_role = Roles::by_shortname(&txn, "editingteacher")
            .unwrap()
            .unwrap()
            .id;
        let manual = Enrolments::ensure_instance(
            &mut txn,
            &a,
            toolsync_plugin_api::model::Method::Manual,
            1,
        )
        .unwrap();
        for s in students {
            Enrolments::enrol(&mut txn, &manual, s, &[student_role], 1).unwrap();
        }
        Enrolments::enrol(&mut txn, &manual, teacher, &[teacher_role], 1).unwrap();
        let g1 = Groups::create_group(&mut txn, &a, "G1", "", 1).unwrap();
        let g2 = Groups::create_group(&mut txn, &a, "G2", "", 1).unwrap();
        Groups::add_member(&mut txn, &g1, teacher, 1).unwrap();
        Groups::add_member(&mut txn, &g1, students[0], 1).unwrap();
        Groups::add_member(&mut txn, &g2, students[1], 1).unwrap();
        let grouping = Groups::create_grouping(&mut txn, &a, "GG", "", 1).unwrap();
        Groups::bind(&mut txn, &grouping, &g1).unwrap();
        Groups::bind(&mut txn, &grouping, &g2).unwrap();
        for (module, kind) in [
            ("forum", "posts"),
            ("forum", "posts"),
            ("forum", "subscriptions"),
            ("quiz", "attempts"),
            ("quiz", "overrides"),
            ("glossary", "entries"),
        ] {
            Activities::add(&mut txn, &a, module, kind, &json!({})).unwrap();
        }
        drop(txn);
        Fixture {
            store,
            a,
            b,
            students,
            teacher,
            student_role,
            teacher_role,
        }
    }

    fn split<'a>(header: &'a str, rows: &'a [&'a str]) -> (Vec<&'a str>, Vec<Vec<&'a str>>) {
        (
            header.split(';').collect(),
            rows.iter().map(|r| r.split(';').collect()).collect(),
        )
    }

    impl Fixture {
        fn try_run(
            &mut self,
            options: &[(&str, &str)],
            header: &str,
            rows: &[&str],
        ) -> Result<Report, Refusal> {
            let runner = options
                .iter()
                .fold(Runner::new(CourseReset), |r, (k, v)| r.option(k, v));
            let (header, rows) = split(header, rows);
            let rows: Vec<&[&str]> = rows.iter().map(Vec::as_slice).collect();
            runner.run(&mut self.store, &header, &rows)
        }

        fn run(&mut self, header: &str, rows: &[&str]) -> Report {
            self.try_run(&[], header, rows).expect("not refused")
        }

        fn row(&mut self, header: &str, row: &str) -> RowResult {
            self.run(header, &[row]).rows.remove(0)
        }

        /// Runs a row that must fail, and checks it wrote nothing.
        fn failing(&mut self, header: &str, row: &str) -> String {
            let before = self.store.clone();
            let result = self.row(header, row);
            assert_eq!(result.kind, OutcomeKind::Failed, "{result:?}");
            assert_eq!(self.store, before, "a failed row writes nothing");
            result.message
        }

        fn refused(&mut self, options: &[(&str, &str)], header: &str) -> String {
            let before = self.store.clone();
            let refusal = self
                .try_run(options, header, &["A;1"])
                .expect_err("the file should be refused");
            assert_eq!(self.store, before);
            match refusal {
                Refusal::Start(StartError::Refused(r)) => r.to_string(),
                other => panic!("expected a start refusal, got {other:?}"),
            }
        }

        fn enrolled(&self, course: u64) -> Vec<u64> {
            let mut users: Vec<u64> = Enrolments::enrolments(&self.store.read(), course)
                .unwrap()
                .iter()
                .map(|e| e.user)
                .collect();
            users.dedup();
            users
        }

        fn groups(&self) -> Vec<Group> {
            Groups::groups(&self.store.read(), self.a.id).unwrap()
        }

        fn groupings(&self) -> Vec<Grouping> {
            Groups::groupings(&self.store.read(), self.a.id).unwrap()
        }

        fn members(&self) -> usize {
            let read = self.store.read();
            self.groups()
                .iter()
                .map(|g| Groups::members(&read, g).unwrap().len())
                .sum()
        }

        fn bindings(&self) -> usize {
            let read = self.store.read();
            self.groupings()
                .iter()
                .map(|g| Groups::bound(&read, g).unwrap().len())
                .sum()
        }

        fn activity(&self, module: Option<&str>, kind: Option<&str>) -> usize {
            Activities::count(&self.store.read(), self.a.id, module, kind).unwrap()
        }
    }

    // ----- the file ------------------------------------------------------------------------

    #[test]
    fn a_file_without_a_reset_column_or_key_is_refused() {
        let mut f = fixture();
        let reason = f.refused(&[], "shortname");
        assert!(reason.contains("no reset column"), "{reason}");
        let reason = f.refused(&[("course_key", "idnumber")], "shortname;roles");
        assert!(
            reason.contains("`idnumber` is required because course_key = idnumber"),
            "{reason}"
        );
        assert!(
            reason.contains("`shortname` designates the course only with course_key = shortname")
        );
        let reason = f.refused(&[], "shortname;apointments;appointments");
        assert!(
            reason.contains("`apointments` and `appointments`"),
            "{reason}"
        );
        // Every refusal names the schema command.
        assert!(reason.contains("toolsync schema course-reset"));
    }

    #[test]
    fn the_manifest_lists_every_column_and_its_template_is_accepted() {
        let runner = Runner::new(CourseReset);
        let manifest = runner.manifest();
        for column in COLUMNS {
            assert!(
                manifest
                    .columns
                    .iter()
                    .any(|c| c.name.as_str() == column.name),
                "{}",
                column.name
            );
        }
        let template: Vec<&str> = manifest
            .columns
            .iter()
            .filter(|c| c.in_template)
            .map(|c| c.name.as_str())
            .collect();
        assert!(template.contains(&"appointments") && !template.contains(&"apointments"));
        let empty: Vec<&str> = template.iter().map(|_| "").collect();
        let mut f = fixture();
        let mut row = empty.clone();
        row[0] = "A";
        let report = runner.run(&mut f.store, &template, &[&row]).unwrap();
        assert_eq!(report.rows[0].kind, OutcomeKind::Unchanged);
        assert_eq!(
            report.rows[0].message,
            "nothing to reset (every reset cell is empty or none)"
        );
    }

    #[test]
    fn an_unknown_course_fails_and_other_keys_work() {
        let mut f = fixture();
        let reason = f.failing("shortname;roles", "Z;all");
        assert_eq!(reason, "course not found: no course with shortname = Z");
        let reason = f.failing("shortname;roles", ";all");
        assert_eq!(reason, "missing `shortname`");
        let report = f
            .try_run(
                &[("course_key", "idnumber")],
                "idnumber;groups",
                &["A-ID;members"],
            )
            .unwrap();
        assert_eq!(report.rows[0].kind, OutcomeKind::Updated);
        assert_eq!(report.rows[0].subject, "A");
        let id = f.b.id.to_string();
        let rows = [format!("{id};all")];
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let report = f
            .try_run(&[("course_key", "id")], "id;groups", &rows)
            .unwrap();
        assert_eq!(report.rows[0].kind, OutcomeKind::Unchanged);
        assert_eq!(report.rows[0].message, "groups: nothing to reset");
    }

    // ----- roles ---------------------------------------------------------------------------

    #[test]
    fn roles_all_unenrols_everyone_with_their_roles_and_groups() {
        let mut f = fixture();
        let result = f.row("shortname;roles", "A;all");
        assert_eq!(result.kind, OutcomeKind::Updated, "{result:?}");
        assert_eq!(
            result.message,
            "roles: 3 enrolments, 3 role assignments, 3 group memberships removed"
        );
        assert!(f.enrolled(f.a.id).is_empty());
        assert!(Enrolments::assignments(&f.store.read(), f.a.id)
            .unwrap()
            .is_empty());
        assert_eq!(f.members(), 0);
        assert_eq!(f.groups().len(), 2, "groups stay");
        // Again: nothing left.
        let result = f.row("shortname;roles", "A;ALL");
        assert_eq!(result.kind, OutcomeKind::Unchanged);
        assert_eq!(result.message, "roles: nothing to reset");
    }

    #[test]
    fn roles_by_shortname_unenrol_only_their_holders() {
        let mut f = fixture();
        let result = f.row("shortname;roles", "A;EditingTeacher");
        assert_eq!(
            result.message,
            "roles: 1 enrolment, 1 role assignment, 1 group membership removed"
        );
        assert_eq!(f.enrolled(f.a.id), f.students.to_vec());
        let result = f.row("shortname;roles", "A;student  teacher");
        assert_eq!(
            result.message,
            "roles: 2 enrolments, 2 role assignments, 2 group memberships removed"
        );
        assert!(f.enrolled(f.a.id).is_empty());
        let result = f.row("shortname;roles", "A;none");
        assert_eq!(result.kind, OutcomeKind::Unchanged);
    }

    #[test]
    fn an_unknown_role_or_a_stray_word_fails_the_row() {
        let mut f = fixture();
        let reason = f.failing("shortname;roles;groups", "A;student nobody;all");
        assert_eq!(reason, "`roles`: unknown role `nobody`");
        let reason = f.failing("shortname;roles", "A;all student");
        assert!(reason.contains("`all` stands alone"), "{reason}");
    }

    #[test]
    fn a_reset_of_roles_keeps_what_a_link_owns() {
        let mut f = fixture();
        {
            let mut txn = f.store.txn();
            // A feeds B: its three participants are mirrored; the teacher is also enrolled
            // by hand in B, with a role of its own, and sits in a group of B.
            Enrolments::link(&mut txn, &f.a, &f.b, 2).unwrap();
            let manual = Enrolments::ensure_instance(
                &mut txn,
                &f.b,
                toolsync_plugin_api::model::Method::Manual,
                2,
            )
            .unwrap();
            let role = Roles::by_shortname(&txn, "teacher").unwrap().unwrap().id;
            Enrolments::enrol(&mut txn, &manual, f.teacher, &[role], 2).unwrap();
            let group = Groups::create_group(&mut txn, &f.b, "BG", "", 2).unwrap();
            Groups::add_member(&mut txn, &group, f.teacher, 2).unwrap();
        }
        let result = f.row("shortname;roles", "B;all");
        assert_eq!(
            result.message,
            "roles: 1 enrolment, 1 role assignment removed"
        );
        // The link's enrolments and roles stay, and so does the group of someone it keeps.
        assert_eq!(f.enrolled(f.b.id).len(), 3);
        let read = f.store.read();
        let roles: Vec<(u64, bool)> = Enrolments::assignments_of(&read, f.b.id, f.teacher)
            .unwrap()
            .iter()
            .map(|a| (a.role, a.source != 0))
            .collect();
        assert_eq!(roles, vec![(f.teacher_role, true)]);
        let group = &Groups::groups(&read, f.b.id).unwrap()[0];
        assert_eq!(Groups::members(&read, group).unwrap(), vec![f.teacher]);
        drop(read);
        // A reset in the master is mirrored: B loses what the link gave.
        let result = f.row("shortname;roles", "A;student");
        assert_eq!(result.kind, OutcomeKind::Updated);
        assert_eq!(f.enrolled(f.b.id), vec![f.teacher]);
    }

    // ----- local roles, groups, groupings --------------------------------------------------

    #[test]
    fn local_roles_remove_assignments_no_enrolment_carries() {
        let mut f = fixture();
        {
            let mut txn = f.store.txn();
            Enrolments::assign(&mut txn, f.b.id, f.teacher, f.teacher_role, 2).unwrap();
            Enrolments::assign(&mut txn, f.b.id, f.students[0], f.student_role, 2).unwrap();
        }
        let result = f.row("shortname;local_roles", "B;roles");
        assert_eq!(result.kind, OutcomeKind::Updated);
        assert_eq!(result.message, "local_roles: 2 role assignments removed");
        let result = f.row("shortname;local_roles", "A;all");
        assert_eq!(result.kind, OutcomeKind::Unchanged, "A's roles are carried");
        assert_eq!(result.message, "local_roles: nothing to reset");
        let result = f.row("shortname;local_roles", "A;Overrides");
        assert_eq!(result.kind, OutcomeKind::Unchanged);
        assert_eq!(
            result.message,
            "local_roles: nothing to reset (not modelled)"
        );
        let result = f.row("shortname;local_roles", "A;none");
        assert_eq!(result.kind, OutcomeKind::Unchanged);
        let reason = f.failing("shortname;local_roles", "A;some");
        assert_eq!(
            reason,
            "`local_roles`: `some` is not one of all, roles, overrides, none"
        );
    }

    #[test]
    fn groups_are_deleted_or_emptied() {
        for word in ["all", "groups"] {
            let mut f = fixture();
            let result = f.row("shortname;groups", &format!("A;{word}"));
            assert_eq!(result.kind, OutcomeKind::Updated);
            assert_eq!(
                result.message,
                "groups: 2 groups, 3 group memberships removed"
            );
            assert!(f.groups().is_empty());
            assert_eq!(f.groupings().len(), 1, "groupings stay");
            assert_eq!(f.bindings(), 0, "bindings go with their groups");
            assert_eq!(f.enrolled(f.a.id).len(), 3, "participants stay");
        }
        let mut f = fixture();
        let result = f.row("shortname;groups", "A;members");
        assert_eq!(result.message, "groups: 3 group memberships removed");
        assert_eq!((f.groups().len(), f.members(), f.bindings()), (2, 0, 2));
        let result = f.row("shortname;groups", "A;members");
        assert_eq!(result.kind, OutcomeKind::Unchanged);
        assert_eq!(result.message, "groups: nothing to reset");
        assert_eq!(
            f.row("shortname;groups", "A;none").kind,
            OutcomeKind::Unchanged
        );
        let reason = f.failing("shortname;groups", "A;yes");
        assert_eq!(
            reason,
            "`groups`: `yes` is not one of all, groups, members, none"
        );
    }

    #[test]
    fn groupings_are_deleted_or_unbound() {
        for word in ["all", "groupings"] {
            let mut f = fixture();
            let result = f.row("shortname;groupings", &format!("A;{word}"));
            assert_eq!(
                result.message,
                "groupings: 1 grouping, 2 group bindings removed"
            );
            assert!(f.groupings().is_empty());
            assert_eq!((f.groups().len(), f.members()), (2, 3), "groups stay");
        }
        let mut f = fixture();
        let result = f.row("shortname;groupings", "A;members");
        assert_eq!(result.message, "groupings: 2 group bindings removed");
        assert_eq!((f.groupings().len(), f.bindings()), (1, 0));
        assert_eq!(
            f.row("shortname;groupings", "A;none").kind,
            OutcomeKind::Unchanged
        );
        f.failing("shortname;groupings", "A;groups");
    }

    // ----- modules and flags ---------------------------------------------------------------

    #[test]
    fn modules_all_names_and_exclusions() {
        let mut f = fixture();
        let result = f.row("shortname;modules", "A;all");
        assert_eq!(
            result.message,
            "modules: 3 forum records, 1 glossary record, 2 quiz records removed"
        );
        assert_eq!(f.activity(None, None), 0);

        let mut f = fixture();
        let result = f.row("shortname;modules", "A;Quiz  chat forum");
        assert_eq!(
            result.message,
            "modules: 3 forum records, 2 quiz records removed"
        );
        assert_eq!(f.activity(None, None), 1);

        let mut f = fixture();
        let result = f.row("shortname;modules", "A;-forum -chat");
        assert_eq!(
            result.message,
            "modules: 1 glossary record, 2 quiz records removed"
        );
        assert_eq!(f.activity(Some("forum"), None), 3);
        assert_eq!(f.activity(None, None), 3);

        let mut f = fixture();
        let result = f.row("shortname;modules", "A;chat");
        assert_eq!(result.kind, OutcomeKind::Unchanged);
        assert_eq!(result.message, "modules: nothing to reset");
        assert_eq!(
            f.row("shortname;modules", "A;none").kind,
            OutcomeKind::Unchanged
        );
        assert_eq!(f.activity(None, None), 6);
    }

    #[test]
    fn module_lists_are_checked() {
        let mut f = fixture();
        let reason = f.failing("shortname;modules", "A;forum -quiz");
        assert!(reason.starts_with("`modules`: mixes module names and -name exclusions"));
        let reason = f.failing("shortname;modules", "A;forum 2quiz");
        assert_eq!(
            reason,
            "`modules`: `2quiz` is not a module name ([a-z][a-z0-9_]*, or -name to exclude one)"
        );
        f.failing("shortname;modules", "A;forum,quiz");
        f.failing("shortname;modules", "A;-");
        f.failing("shortname;modules", "A;all forum");
        f.failing("shortname;modules", "A;-none");
    }

    #[test]
    fn every_flag_removes_its_module_and_kind() {
        let flags: &[(&str, &str, Option<&str>)] = &[
            ("forum_all", "forum", None),
            ("forum_subscriptions", "forum", Some("subscriptions")),
            ("glossary_all", "glossary", None),
            ("chat", "chat", None),
            ("data", "data", None),
            ("slots", "scheduler", Some("slots")),
            ("apointments", "scheduler", Some("appointments")),
            ("appointments", "scheduler", Some("appointments")),
            ("assignment_submissions", "assignment", Some("submissions")),
            ("assign_submissions", "assign", Some("submissions")),
            ("survey_answers", "survey", Some("answers")),
            ("lesson", "lesson", None),
            ("choice", "choice", None),
            ("scorm", "scorm", None),
            ("quiz_attempts", "quiz", Some("attempts")),
        ];
        for (column, module, kind) in flags {
            for (word, removes) in [
                ("1", true),
                ("Yes", true),
                ("true", true),
                ("ALL", true),
                ("0", false),
                ("no", false),
                ("false", false),
                ("none", false),
            ] {
                let mut f = fixture();
                {
                    // Two records of the flag's kind (or of two kinds for `all`), one of
                    // another kind, one of another module.
                    let mut txn = f.store.txn();
                    let kinds = match kind {
                        Some(k) => [*k, *k],
                        None => ["posts", "entries"],
                    };
                    for k in kinds {
                        Activities::add(&mut txn, &f.b, module, k, &json!({})).unwrap();
                    }
                    Activities::add(&mut txn, &f.b, module, "other", &json!({})).unwrap();
                    Activities::add(&mut txn, &f.b, "zzz", "all", &json!({})).unwrap();
                }
                let result = f.row(&format!("shortname;{column}"), &format!("B;{word}"));
                let left = Activities::count(&f.store.read(), f.b.id, None, None).unwrap();
                if !removes {
                    assert_eq!(result.kind, OutcomeKind::Unchanged, "{column}={word}");
                    assert_eq!(left, 4);
                    continue;
                }
                assert_eq!(result.kind, OutcomeKind::Updated, "{column}={word}");
                let gone = if kind.is_some() { 2 } else { 3 };
                assert_eq!(
                    result.message,
                    format!("{column}: {gone} records removed"),
                    "{column}"
                );
                assert_eq!(left, 4 - gone, "{column}");
            }
            let mut f = fixture();
            let reason = f.failing(&format!("shortname;{column}"), "B;maybe");
            assert_eq!(
                reason,
                format!("`{column}`: `maybe` is not one of 1, 0, yes, no, true, false, all, none")
            );
        }
    }

    #[test]
    fn unmodelled_flags_report_nothing_to_reset() {
        let names = [
            "events",
            "logs",
            "notes",
            "grades",
            "completion",
            "blog_associations",
            "comments",
        ];
        let mut f = fixture();
        let before = f.store.clone();
        for name in names {
            for word in ["1", "all", "yes"] {
                let result = f.row(&format!("shortname;{name}"), &format!("A;{word}"));
                assert_eq!(result.kind, OutcomeKind::Unchanged);
                assert_eq!(
                    result.message,
                    format!("{name}: nothing to reset (not modelled)")
                );
            }
            let result = f.row(&format!("shortname;{name}"), "A;none");
            assert_eq!(
                result.message,
                "nothing to reset (every reset cell is empty or none)"
            );
            let reason = f.failing(&format!("shortname;{name}"), "A;items-x");
            assert!(reason.contains("`items-x` is not one of 1, 0"), "{reason}");
        }
        for word in ["items", "GRADES"] {
            let result = f.row("shortname;grades", &format!("A;{word}"));
            assert_eq!(result.message, "grades: nothing to reset (not modelled)");
        }
        let reason = f.failing("shortname;events", "A;items");
        assert_eq!(
            reason,
            "`events`: `items` is not one of 1, 0, yes, no, true, false, all, none"
        );
        let reason = f.failing("shortname;grades", "A;marks");
        assert!(reason.ends_with("all, none, items, grades"), "{reason}");
        assert_eq!(f.store, before, "nothing was written");
    }

    #[test]
    fn a_row_reports_every_column_it_asked_for_in_table_order() {
        let mut f = fixture();
        let result = f.row(
            "shortname;events;modules;groups;roles;quiz_attempts;chat;local_roles",
            "A;1;-forum;all;all;1;;none",
        );
        assert_eq!(result.kind, OutcomeKind::Updated);
        assert_eq!(
            result.message,
            "roles: 3 enrolments, 3 role assignments, 3 group memberships removed; \
             groups: 2 groups removed; \
             modules: 1 glossary record, 2 quiz records removed; \
             quiz_attempts: nothing to reset; \
             events: nothing to reset (not modelled)"
        );
    }

    #[test]
    fn a_bad_cell_fails_the_row_before_anything_is_removed() {
        let mut f = fixture();
        let reason = f.failing("shortname;roles;groups;chat", "A;all;all;perhaps");
        assert!(reason.starts_with("`chat`:"), "{reason}");
        assert_eq!(f.enrolled(f.a.id).len(), 3);
        // Later rows run normally.
        let report = f.run("shortname;groups", &["A;bad", "A;all"]);
        assert_eq!(
            report.kinds(),
            vec![OutcomeKind::Failed, OutcomeKind::Updated]
        );
    }
}
