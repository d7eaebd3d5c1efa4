//! groups (formats.md §3.8): creates and updates the groups and groupings of courses, and puts
//! groups in groupings. Main subject: the group or grouping, `COURSE/NAME` as the row names
//! them (`COURSE/NAME (grouping)` for a grouping).
//!
//! A row finds its record one of two ways — update mode (`updateid` non-empty) by the
//! `group_key` / `grouping_key` field, add mode by idnumber when the row gives one, else by
//! name — and then treats it alike: a record found takes the row's present columns, a record
//! not found is created. Unique names and idnumbers within a course are the model's rule
//! ([`Groups`]): a row that would break it fails with the model's reason.

use serde_json::{Map, Value};
use toolsync_plugin_api::keys;
use toolsync_plugin_api::model::diff::{self, DiffRules};
use toolsync_plugin_api::model::{
    Course, CourseKey, Group, GroupKey, Grouping, Groups, ModelError, ModelResult,
};
use toolsync_plugin_api::{
    fail, ColumnSpec, Derived, Manifest, OptionSpec, Outcome, OutcomeKind, Processor, Row,
    RowError, RowHandler, StartContext, StartError, Txn,
};

use crate::row;

pub struct GroupsProcessor;

impl Processor for GroupsProcessor {
    fn manifest(&self) -> Manifest {
        Manifest::new(
            "groups",
            env!("CARGO_PKG_VERSION"),
            "Creates and updates the groups and groupings of courses; puts groups in groupings",
            "groups.csv",
        )
        .column(
            ColumnSpec::new(
                "courseid",
                "key(course)",
                "the course (a key per course_key, despite the name)",
            )
            .required(),
        )
        .column(
            ColumnSpec::new(
                "name",
                "text(254)",
                "unique among the course's groups (resp. groupings)",
            )
            .required(),
        )
        .column(ColumnSpec::new(
            "type",
            "enum group grouping",
            "what the row creates or updates — group",
        ))
        .column(ColumnSpec::new(
            "idnumber",
            "text(100)",
            "unique within the course when not empty — empty",
        ))
        .column(ColumnSpec::new(
            "updateid",
            "key(group)",
            "the group (by group_key) or grouping (by grouping_key) to update, created if missing; empty: add mode, which finds it by idnumber, else by name",
        ))
        .column(ColumnSpec::new(
            "description",
            "longtext",
            "the group's or grouping's description — empty",
        ))
        .column(ColumnSpec::new(
            "grouping",
            "key(grouping)",
            "groups only: a grouping (by grouping_key) the group joins; it leaves none",
        ))
        .column(ColumnSpec::new(
            "selfgrouping",
            "bool",
            "groups only: 1 puts the group in the grouping of its name, created if missing",
        ))
        .option(keys::course_key_option())
        .option(keys::group_key_option(
            "group_key",
            "idnumber",
            "the group in `updateid`",
        ))
        .option(keys::group_key_option(
            "grouping_key",
            "idnumber",
            "the grouping in `updateid` or `grouping`",
        ))
        .option(
            OptionSpec::boolean(
                "empty_clears",
                "false",
                "an empty cell resets description and idnumber",
            ),
        )
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        Ok(Box::new(GroupsRun {
            course_key: ctx.course_key()?,
            group_key: ctx.group_key("group_key")?,
            grouping_key: ctx.group_key("grouping_key")?,
            empty_clears: ctx.option_bool("empty_clears")?,
            now: ctx.started_at,
        }))
    }
}

struct GroupsRun {
    course_key: CourseKey,
    group_key: GroupKey,
    grouping_key: GroupKey,
    empty_clears: bool,
    now: i64,
}

/// What a row creates or updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Group,
    Grouping,
}

impl Kind {
    /// The row's `type`: empty or absent means a group. The column's type lets only `group`
    /// and `grouping` through; the comparison ignores case for a row that failed before its
    /// cells were converted (its subject is still wanted).
    fn of(row: &Row<'_>) -> Kind {
        match row.text("type") {
            Some(word) if word.eq_ignore_ascii_case("grouping") => Kind::Grouping,
            _ => Kind::Group,
        }
    }

    fn subject(self, row: &Row<'_>) -> String {
        let place = row::in_course(row, "name");
        match self {
            Kind::Group => place,
            Kind::Grouping => format!("{place} (grouping)"),
        }
    }
}

/// The fields of a group or grouping a row sets.
struct Texts<'a> {
    name: &'a mut String,
    idnumber: &'a mut String,
    description: &'a mut String,
}

/// Groups and groupings, which this processor finds, creates and updates alike (the model
/// names each operation per kind).
trait Record: Clone + PartialEq {
    const WHAT: &'static str;
    fn find(
        txn: &Txn<'_>,
        course: &Course,
        key: GroupKey,
        value: &str,
    ) -> ModelResult<Option<Self>>;
    fn create(
        txn: &mut Txn<'_>,
        course: &Course,
        name: &str,
        idnumber: &str,
        now: i64,
    ) -> ModelResult<Self>;
    fn save(txn: &mut Txn<'_>, record: &mut Self, now: i64) -> ModelResult<()>;
    fn texts(&mut self) -> Texts<'_>;
    /// The record as the model's change list compares it (`name: A → B`).
    fn fields(&self) -> Map<String, Value>;
}

macro_rules! record {
    ($ty:ty, $what:literal, $find:ident, $create:ident, $save:ident) => {
        impl Record for $ty {
            const WHAT: &'static str = $what;

            fn find(
                txn: &Txn<'_>,
                course: &Course,
                key: GroupKey,
                value: &str,
            ) -> ModelResult<Option<Self>> {
                Groups::$find(txn, course.id, key, value)
            }

            fn create(
                txn: &mut Txn<'_>,
                course: &Course,
                name: &str,
                idnumber: &str,
                now: i64,
            ) -> ModelResult<Self> {
                Groups::$create(txn, course, name, idnumber, now)
            }

            fn save(txn: &mut Txn<'_>, record: &mut Self, now: i64) -> ModelResult<()> {
                Groups::$save(txn, record, now)
            }

            fn texts(&mut self) -> Texts<'_> {
                Texts {
                    name: &mut self.name,
                    idnumber: &mut self.idnumber,
                    description: &mut self.description,
                }
            }

            fn fields(&self) -> Map<String, Value> {
                match serde_json::to_value(self) {
                    Ok(Value::Object(fields)) => fields,
                    _ => Map::new(),
                }
            }
        }
    };
}

record!(Group, "group", find_group, create_group, save_group);
record!(
    Grouping,
    "grouping",
    find_grouping,
    create_grouping,
    save_grouping
);

/// What a row did to its record.
struct Upserted<R> {
    record: R,
    kind: OutcomeKind,
    notes: Vec<String>,
}

impl GroupsRun {
    /// Applies the row to the group or grouping it designates, found by `key` in update mode:
    /// the record found takes the row's present columns, a record not found is created.
    fn upsert<R: Record>(
        &self,
        txn: &mut Txn<'_>,
        course: &Course,
        row: &Row<'_>,
        key: GroupKey,
    ) -> Result<Upserted<R>, RowError> {
        let name = row::required(row, "name")?;
        let idnumber = row.edit("idnumber", self.empty_clears);
        let description = row.edit("description", self.empty_clears);
        let updateid = row.text("updateid");
        let given_idnumber = idnumber.filter(|i| !i.is_empty());
        let found = match (updateid, given_idnumber) {
            (Some(value), _) => R::find(txn, course, key, value)?,
            (None, Some(value)) => R::find(txn, course, GroupKey::Idnumber, value)?,
            (None, None) => R::find(txn, course, GroupKey::Name, name)?,
        };
        if let Some(before) = found {
            let mut record = before.clone();
            let texts = record.texts();
            name.clone_into(texts.name);
            if let Some(value) = idnumber {
                value.clone_into(texts.idnumber);
            }
            if let Some(value) = description {
                value.clone_into(texts.description);
            }
            if record == before {
                return Ok(Upserted {
                    record,
                    kind: OutcomeKind::Unchanged,
                    notes: Vec::new(),
                });
            }
            let notes = diff::changes(
                &before.fields(),
                &record.fields(),
                &DiffRules {
                    ignore: &[],
                    secret: &[],
                    secret_name: "",
                },
            );
            R::save(txn, &mut record, self.now)?;
            return Ok(Upserted {
                record,
                kind: OutcomeKind::Updated,
                notes,
            });
        }
        let mut notes = Vec::new();
        // In update mode by idnumber, a record created without an idnumber cell takes the one
        // it was looked for by: the next run of the same file finds it.
        let new_idnumber = match (given_idnumber, updateid) {
            (Some(value), _) => value,
            (None, Some(value)) if key == GroupKey::Idnumber => value,
            _ => "",
        };
        if let Some(value) = updateid {
            notes.push(format!(
                "no {} with {} = {value} to update: created",
                R::WHAT,
                key.column()
            ));
        }
        let mut record = match R::create(txn, course, name, new_idnumber, self.now) {
            Ok(record) => record,
            Err(refused) => {
                return Err(explain_add_mode::<R>(
                    txn,
                    course,
                    name,
                    given_idnumber,
                    updateid,
                    refused,
                ))
            }
        };
        if let Some(value) = description.filter(|d| !d.is_empty()) {
            value.clone_into(record.texts().description);
            R::save(txn, &mut record, self.now)?;
        }
        Ok(Upserted {
            record,
            kind: OutcomeKind::Created,
            notes,
        })
    }

    /// `grouping` and a true `selfgrouping`: the groupings the group joins (it leaves none).
    /// Returns a note per change.
    fn join_groupings(
        &self,
        txn: &mut Txn<'_>,
        course: &Course,
        group: &Group,
        row: &Row<'_>,
    ) -> Result<Vec<String>, RowError> {
        let mut notes = Vec::new();
        if let Some(value) = row.text("grouping") {
            let grouping = keys::find_grouping(txn, course, self.grouping_key, "grouping", value)?;
            if Groups::bind(txn, &grouping, group)? {
                notes.push(format!("joined grouping `{}`", grouping.name));
            }
        }
        if row.bool("selfgrouping") == Some(true) {
            let grouping = match Groups::find_grouping(txn, course.id, GroupKey::Name, &group.name)?
            {
                Some(grouping) => grouping,
                None => {
                    let grouping = Groups::create_grouping(txn, course, &group.name, "", self.now)?;
                    notes.push(format!("grouping `{}` created", grouping.name));
                    grouping
                }
            };
            if Groups::bind(txn, &grouping, group)? {
                notes.push(format!("joined grouping `{}`", grouping.name));
            }
        }
        Ok(notes)
    }

    fn apply_row(&self, row: &Row<'_>, kind: Kind, txn: &mut Txn<'_>) -> Result<Outcome, RowError> {
        if kind == Kind::Grouping {
            refuse_group_columns(row)?;
        }
        let course = row::course(txn, self.course_key, row)?;
        let (kind_done, notes) = match kind {
            Kind::Grouping => {
                let done = self.upsert::<Grouping>(txn, &course, row, self.grouping_key)?;
                (done.kind, done.notes)
            }
            Kind::Group => {
                let mut done = self.upsert::<Group>(txn, &course, row, self.group_key)?;
                let joined = self.join_groupings(txn, &course, &done.record, row)?;
                // A grouping joined changes what the store holds about the group.
                if !joined.is_empty() && done.kind == OutcomeKind::Unchanged {
                    done.kind = OutcomeKind::Updated;
                }
                done.notes.extend(joined);
                (done.kind, done.notes)
            }
        };
        Ok(notes
            .iter()
            .fold(Outcome::new(kind_done, kind.subject(row)), |o, n| o.note(n)))
    }
}

/// Add mode matches by idnumber when the row gives one, and only then by name: a row giving
/// an idnumber to a record that has none (or another) finds nothing, and the record it would
/// create has a name in use. The model's refusal says so; this says what to do.
fn explain_add_mode<R: Record>(
    txn: &Txn<'_>,
    course: &Course,
    name: &str,
    given_idnumber: Option<&str>,
    updateid: Option<&str>,
    refused: ModelError,
) -> RowError {
    let (ModelError::Conflict(_), Some(idnumber), None) = (&refused, given_idnumber, updateid)
    else {
        return refused.into();
    };
    let reason = RowError::from(refused);
    match R::find(txn, course, GroupKey::Name, name) {
        Ok(Some(_)) => RowError::new(format!(
            "{}: add mode found no {what} with idnumber = {idnumber}; to give `{name}` that idnumber, update it (`updateid` = {name} with {what}_key = name)",
            reason.reason,
            what = R::WHAT
        )),
        _ => reason,
    }
}

/// `grouping` and a true `selfgrouping` put a group in a grouping: on a grouping row they fail
/// it (a grouping holds groups, not groupings).
fn refuse_group_columns(row: &Row<'_>) -> Result<(), RowError> {
    if let Some(value) = row.text("grouping") {
        fail!("`grouping` = `{value}` on a grouping row: only a group joins a grouping");
    }
    if row.bool("selfgrouping") == Some(true) {
        fail!(
            "`selfgrouping` = `{}` on a grouping row: only a group is put in a grouping",
            row.get("selfgrouping").unwrap_or("")
        );
    }
    Ok(())
}

impl RowHandler for GroupsRun {
    fn subject(&self, row: &Row<'_>) -> String {
        Kind::of(row).subject(row)
    }

    fn apply(
        &mut self,
        row: &Row<'_>,
        _derived: Derived,
        txn: &mut Txn<'_>,
    ) -> Result<Outcome, RowError> {
        let kind = Kind::of(row);
        self.apply_row(row, kind, txn)
            .map_err(|e| e.about(&kind.subject(row)))
    }
}

#[cfg(test)]
mod tests;
