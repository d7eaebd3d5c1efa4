//! Every entity the model holds, as `toolsync show` and `toolsync export` present it
//! (design.md §6): each declares its columns once — a name and how to read it from the record
//! — and the host's `show` and `export` are generic over [`ENTITIES`]. Adding an entity adds a
//! [`Table`] here and no host code.
//!
//! - `show <entity> <key>…` prints one JSON object: every JSON column (a family such as
//!   `topic{n}` as its members), keys in alphabetical order, plus what the entity shows only
//!   there (a course's enrolment summary).
//! - `export <entity> --format json` prints those objects as an array; `--format csv` prints
//!   the CSV columns in their declared order, a family expanded to the members any record has.
//!   Where an entity names a processor, that CSV is an input file the processor accepts.

mod accounts;

pub use accounts::user_fields;
mod cohorts;
mod courses;
mod enrolments;
mod groups;
mod pictures;

pub use pictures::PictureRow;

use serde_json::{Map, Value};

use super::{ModelError, ModelResult};
use crate::txn::StoreRead;

/// A record as `show` and the JSON export print it.
pub type Fields = Map<String, Value>;

/// What a record is read with: the store, and "now" (for what depends on the time, such as an
/// enrolment being effective).
#[derive(Clone, Copy)]
pub struct Ctx<'s> {
    pub store: &'s dyn StoreRead,
    pub now: i64,
}

/// Why `show` found nothing to print.
#[derive(Debug)]
pub enum FindError {
    /// The key cannot designate anything (a usage error): the reason.
    BadKey(String),
    /// Nothing matches, said by an entity of several keys naming the one that found nothing
    /// (`no course matches `HIST101``, `course `HIST101` has no group `g``). An entity of one
    /// key returns `Ok(None)` instead, and `show` says it.
    NotFound(String),
    Model(ModelError),
}

impl From<ModelError> for FindError {
    fn from(e: ModelError) -> Self {
        FindError::Model(e)
    }
}

impl From<crate::txn::StoreError> for FindError {
    fn from(e: crate::txn::StoreError) -> Self {
        FindError::Model(e.into())
    }
}

/// An entity, as the host's commands see it.
pub trait Entity: Sync {
    /// `export <name>`: `users`.
    fn name(&self) -> &'static str;
    /// `show <singular>`: `user`.
    fn singular(&self) -> &'static str;
    fn about(&self) -> &'static str;
    /// What `show` takes, for help and errors (`username, idnumber, e-mail or id`); `None`
    /// when the entity has no `show`.
    fn key_help(&self) -> Option<&'static str>;
    /// How many keys `show` takes (a group: its course, then the group).
    fn arity(&self) -> usize;
    /// The fields `show --by` may name, in the order `show` tries them without it.
    fn lookup_fields(&self) -> Vec<&'static str>;
    /// The processor that takes the CSV export as input, if any.
    fn processor(&self) -> Option<&'static str>;
    /// The text between two records of the JSON export: `",\n"` (a record a line), or `","`
    /// for the entities whose export has always been one line.
    fn json_separator(&self) -> &'static str;
    /// `show`: one record, by its keys (and `--by`), or `None`.
    fn show(
        &self,
        ctx: Ctx<'_>,
        keys: &[&str],
        by: Option<&str>,
    ) -> Result<Option<Fields>, FindError>;
    /// Every record as JSON fields, in key order.
    fn each_json(
        &self,
        ctx: Ctx<'_>,
        visit: &mut dyn FnMut(Fields) -> ModelResult<()>,
    ) -> ModelResult<()>;
    /// What the operator must know to run the CSV export back, when the store leaves no
    /// choice but to depart from the processor's defaults (group-members: groups without an
    /// idnumber are written by name, to be read with `group_key = name`). `export` prints it
    /// on stderr and as a `#` comment, the first line of the CSV, so that the file says how to
    /// read it wherever it goes; comments are skipped by every processor.
    fn csv_note(&self, ctx: Ctx<'_>) -> ModelResult<Option<String>>;
    /// The CSV header (a first pass over the records when a family needs it).
    fn csv_header(&self, ctx: Ctx<'_>) -> ModelResult<Vec<String>>;
    /// Every record as CSV cells under `header`.
    fn each_csv(
        &self,
        ctx: Ctx<'_>,
        header: &[String],
        visit: &mut dyn FnMut(Vec<String>) -> ModelResult<()>,
    ) -> ModelResult<()>;
}

/// Every entity, in the order `export` lists them.
pub static ENTITIES: &[&dyn Entity] = &[
    &accounts::USERS,
    &accounts::ROLES,
    &courses::CATEGORIES,
    &courses::COURSES,
    &courses::SECTIONS,
    &enrolments::INSTANCES,
    &enrolments::ENROLMENTS,
    &enrolments::ASSIGNMENTS,
    &enrolments::META_LINKS,
    &groups::GROUPS,
    &groups::GROUPINGS,
    &groups::MEMBERS,
    &cohorts::COHORTS,
    &cohorts::MEMBERS,
    &cohorts::BINDINGS,
    &pictures::PICTURES,
];

/// The entity `word` names, by its name or its singular.
pub fn entity(word: &str) -> Option<&'static dyn Entity> {
    ENTITIES
        .iter()
        .copied()
        .find(|e| e.name() == word || e.singular() == word)
}

/// See [`Entity::csv_note`].
pub type CsvNote = fn(Ctx<'_>) -> ModelResult<Option<String>>;

/// See [`Table::csv_header`].
pub type CsvHeader = fn(Ctx<'_>) -> ModelResult<Vec<String>>;

/// Named values (a family's members, what `show` adds).
pub type Named = Vec<(String, Value)>;

/// Reads a family's members present in a record.
pub type ReadFamily<R> = fn(&R) -> Named;

/// How a column reads a record.
pub enum Read<R> {
    One(fn(&R) -> Value),
    /// A family of columns (`topic{n}`, `profile_field_{name}`): its members present in this
    /// record.
    Family(ReadFamily<R>),
}

/// A column, declared once.
pub struct Column<R> {
    pub name: &'static str,
    pub read: Read<R>,
    /// Printed by `show` and the JSON export.
    pub json: bool,
    /// Written by the CSV export (in declaration order).
    pub csv: bool,
}

impl<R> Column<R> {
    /// In both the JSON and the CSV.
    pub const fn both(name: &'static str, read: fn(&R) -> Value) -> Self {
        Column {
            name,
            read: Read::One(read),
            json: true,
            csv: true,
        }
    }

    /// In the JSON only (ids, timestamps: another store assigns its own).
    pub const fn json(name: &'static str, read: fn(&R) -> Value) -> Self {
        Column {
            name,
            read: Read::One(read),
            json: true,
            csv: false,
        }
    }

    /// In the CSV only (a value written the way the processor reads it back).
    pub const fn csv(name: &'static str, read: fn(&R) -> Value) -> Self {
        Column {
            name,
            read: Read::One(read),
            json: false,
            csv: true,
        }
    }

    pub const fn family(name: &'static str, read: ReadFamily<R>) -> Self {
        Column {
            name,
            read: Read::Family(read),
            json: true,
            csv: true,
        }
    }
}

/// A way `show` finds a record.
pub struct Lookup<R> {
    /// The field, for `--by`.
    pub field: &'static str,
    pub find: fn(Ctx<'_>, &[&str]) -> Result<Option<R>, FindError>,
}

/// Reads every record of an entity, as its row type, in key order; `visit` returning `false`
/// stops.
pub type Scan<R> = fn(Ctx<'_>, &mut dyn FnMut(R) -> ModelResult<bool>) -> ModelResult<()>;

/// An entity declared as a table of columns over a row type `R` (the stored record, or the
/// record with what its columns need besides: a course with its sections and category path).
pub struct Table<R: 'static> {
    pub name: &'static str,
    pub singular: &'static str,
    pub about: &'static str,
    pub key_help: Option<&'static str>,
    pub arity: usize,
    pub processor: Option<&'static str>,
    /// See [`Entity::json_separator`].
    pub json_separator: &'static str,
    pub scan: Scan<R>,
    pub lookups: &'static [Lookup<R>],
    pub columns: &'static [Column<R>],
    /// What `show` prints besides the columns (a course's enrolment summary).
    pub show_extra: Option<fn(Ctx<'_>, &R) -> ModelResult<Named>>,
    /// A record the CSV writes as several lines, or none (an enrolment: a line per role,
    /// none for an enrolment a metacourse link made); `None`: one line per record.
    pub csv_lines: Option<fn(&R) -> Vec<R>>,
    /// See [`Entity::csv_note`].
    pub csv_note: Option<CsvNote>,
    /// A CSV header decided by a pass of its own rather than the declared order of the CSV
    /// columns: a file keyed by one field or another names its key column after the field
    /// (cohort-members: `cidnumber`, or `cname` when a cohort has no idnumber). Every name is
    /// one of the table's CSV columns; the columns it leaves out are not written.
    pub csv_header: Option<CsvHeader>,
}

impl<R: 'static> Table<R> {
    /// A row as `show` prints it (without what only `show` adds).
    pub fn json_fields(&self, row: &R) -> Fields {
        let mut fields = Fields::new();
        for column in self.columns.iter().filter(|c| c.json) {
            match &column.read {
                Read::One(read) => {
                    fields.insert(column.name.to_string(), read(row));
                }
                Read::Family(read) => fields.extend(read(row)),
            }
        }
        fields
    }
}

impl<R: 'static> Entity for Table<R> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn singular(&self) -> &'static str {
        self.singular
    }

    fn about(&self) -> &'static str {
        self.about
    }

    fn key_help(&self) -> Option<&'static str> {
        self.key_help
    }

    fn arity(&self) -> usize {
        self.arity
    }

    fn lookup_fields(&self) -> Vec<&'static str> {
        self.lookups.iter().map(|l| l.field).collect()
    }

    fn processor(&self) -> Option<&'static str> {
        self.processor
    }

    fn json_separator(&self) -> &'static str {
        self.json_separator
    }

    fn show(
        &self,
        ctx: Ctx<'_>,
        keys: &[&str],
        by: Option<&str>,
    ) -> Result<Option<Fields>, FindError> {
        let lookups: Vec<&Lookup<R>> = match by {
            None => self.lookups.iter().collect(),
            Some(field) => {
                let one: Vec<&Lookup<R>> =
                    self.lookups.iter().filter(|l| l.field == field).collect();
                if one.is_empty() {
                    return Err(FindError::BadKey(format!(
                        "--by {field}: a {} is found by {}",
                        self.singular,
                        self.lookup_fields().join(", ")
                    )));
                }
                one
            }
        };
        for lookup in lookups {
            if let Some(row) = (lookup.find)(ctx, keys)? {
                let mut fields = self.json_fields(&row);
                if let Some(extra) = self.show_extra {
                    fields.extend(extra(ctx, &row)?);
                }
                return Ok(Some(fields));
            }
        }
        Ok(None)
    }

    fn each_json(
        &self,
        ctx: Ctx<'_>,
        visit: &mut dyn FnMut(Fields) -> ModelResult<()>,
    ) -> ModelResult<()> {
        (self.scan)(ctx, &mut |row| {
            visit(self.json_fields(&row))?;
            Ok(true)
        })
    }

    fn csv_note(&self, ctx: Ctx<'_>) -> ModelResult<Option<String>> {
        self.csv_note.map_or(Ok(None), |note| note(ctx))
    }

    fn csv_header(&self, ctx: Ctx<'_>) -> ModelResult<Vec<String>> {
        if let Some(header) = self.csv_header {
            return header(ctx);
        }
        let families: Vec<(usize, ReadFamily<R>)> = self
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.csv)
            .filter_map(|(i, c)| match c.read {
                Read::Family(read) => Some((i, read)),
                Read::One(_) => None,
            })
            .collect();
        // The members of each family any record has.
        let mut members: Vec<std::collections::BTreeSet<Member>> =
            vec![Default::default(); families.len()];
        if !families.is_empty() {
            (self.scan)(ctx, &mut |row| {
                for (k, (_, read)) in families.iter().enumerate() {
                    members[k].extend(read(&row).into_iter().map(|(name, _)| Member(name)));
                }
                Ok(true)
            })?;
        }
        let mut header = Vec::new();
        for (i, column) in self.columns.iter().enumerate().filter(|(_, c)| c.csv) {
            match families.iter().position(|(at, _)| *at == i) {
                Some(k) => header.extend(members[k].iter().map(|m| m.0.clone())),
                None => header.push(column.name.to_string()),
            }
        }
        Ok(header)
    }

    fn each_csv(
        &self,
        ctx: Ctx<'_>,
        header: &[String],
        visit: &mut dyn FnMut(Vec<String>) -> ModelResult<()>,
    ) -> ModelResult<()> {
        let mut write = |row: &R| -> ModelResult<()> {
            let mut cells: Vec<(String, Value)> = Vec::new();
            for column in self.columns.iter().filter(|c| c.csv) {
                match &column.read {
                    Read::One(read) => cells.push((column.name.to_string(), read(row))),
                    Read::Family(read) => cells.extend(read(row)),
                }
            }
            let line = header
                .iter()
                .map(|name| {
                    cells
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or(String::new(), |(_, v)| cell(v))
                })
                .collect();
            visit(line)
        };
        (self.scan)(ctx, &mut |row| {
            match self.csv_lines {
                None => write(&row)?,
                Some(lines) => {
                    for line in lines(&row) {
                        write(&line)?;
                    }
                }
            }
            Ok(true)
        })
    }
}

/// A family member's name, ordered naturally: `topic2` before `topic10`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member(String);

impl Member {
    fn parts(&self) -> (&str, Option<u64>) {
        let digits = self.0.len() - self.0.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (stem, number) = self.0.split_at(self.0.len() - digits);
        (stem, number.parse().ok())
    }
}

impl Ord for Member {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts()
            .cmp(&other.parts())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Member {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A JSON value as a CSV cell: booleans as 1/0 (what every processor reads), null as empty,
/// a list of texts joined by `, `.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Decodes stored records of a keyspace for a scan; a record that does not decode stops the
/// export with a store error (`toolsync check` names it).
pub(crate) fn scan_space<T: serde::de::DeserializeOwned>(
    ctx: Ctx<'_>,
    space: &str,
    prefix: &[u8],
    visit: &mut dyn FnMut(T) -> ModelResult<bool>,
) -> ModelResult<()> {
    scan_keyed(ctx, space, prefix, &mut |_, record| visit(record))
}

/// Like [`scan_space`], with each record's key (a membership's course and group are in it).
pub(crate) fn scan_keyed<T: serde::de::DeserializeOwned>(
    ctx: Ctx<'_>,
    space: &str,
    prefix: &[u8],
    visit: &mut dyn FnMut(&[u8], T) -> ModelResult<bool>,
) -> ModelResult<()> {
    let mut failure = None;
    ctx.store.for_each(
        space,
        prefix,
        &mut |key, bytes| match super::decode(space, bytes).and_then(|record| visit(key, record)) {
            Ok(go_on) => Ok(go_on),
            Err(e) => {
                failure = Some(e);
                Ok(false)
            }
        },
    )?;
    failure.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_members_sort_naturally_and_cells_read_back() {
        let mut names: Vec<Member> = [
            "topic10",
            "topic2",
            "topic0",
            "profile_field_b",
            "profile_field_a",
        ]
        .into_iter()
        .map(|n| Member(n.to_string()))
        .collect();
        names.sort();
        let sorted: Vec<&str> = names.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(
            sorted,
            [
                "profile_field_a",
                "profile_field_b",
                "topic0",
                "topic2",
                "topic10"
            ]
        );
        assert_eq!(cell(&Value::Bool(true)), "1");
        assert_eq!(cell(&Value::Null), "");
        assert_eq!(cell(&serde_json::json!(["a", "b"])), "a, b");
        assert_eq!(cell(&serde_json::json!(12)), "12");
    }

    #[test]
    fn every_entity_has_a_unique_name_and_singular() {
        let mut words: Vec<&str> = ENTITIES
            .iter()
            .flat_map(|e| [e.name(), e.singular()])
            .collect();
        let count = words.len();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), count);
        for e in ENTITIES {
            assert_eq!(
                e.key_help().is_some(),
                !e.lookup_fields().is_empty(),
                "{}",
                e.name()
            );
        }
    }
}

#[cfg(test)]
mod world_tests {
    use super::*;
    use crate::model::{Categories, Course, Courses, Enrolments, Groups, Roles, User, Users};
    use crate::testing::MemoryStore;
    use crate::txn::Txn;
    use serde_json::json;

    /// Master M feeds metacourse X; tina teaches M, sam studies there and is in group G of
    /// grouping GG.
    fn world() -> MemoryStore {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "Misc", true, 1).unwrap().id;
        let master = Courses::create(&mut txn, Course::new("M", "Master", cat, 1)).unwrap();
        let meta = Courses::create(&mut txn, Course::new("X", "Meta", cat, 1)).unwrap();
        let tina = Users::create(&mut txn, User::new("tina", "T", "T", 1)).unwrap();
        let sam = Users::create(&mut txn, User::new("sam", "S", "S", 1)).unwrap();
        let role = |txn: &Txn, name: &str| Roles::by_shortname(txn, name).unwrap().unwrap().id;
        let (editing, learner) = (role(&txn, "editingteacher"), role(&txn, "student"));
        let manual =
            Enrolments::ensure_instance(&mut txn, &master, crate::model::Method::Manual, 1)
                .unwrap();
        Enrolments::enrol(&mut txn, &manual, tina.id, &[editing], 1).unwrap();
        Enrolments::enrol(&mut txn, &manual, sam.id, &[learner], 1).unwrap();
        Enrolments::link(&mut txn, &master, &meta, 1).unwrap();
        let group = Groups::create_group(&mut txn, &master, "G", "G-1", 1).unwrap();
        Groups::add_member(&mut txn, &group, sam.id, 1).unwrap();
        let grouping = Groups::create_grouping(&mut txn, &master, "GG", "", 1).unwrap();
        Groups::bind(&mut txn, &grouping, &group).unwrap();
        drop(txn);
        store
    }

    pub(super) fn ctx(store: &MemoryStore) -> Ctx<'_> {
        Ctx { store, now: 10 }
    }

    fn show(store: &MemoryStore, word: &str, keys: &[&str]) -> Value {
        let fields = entity(word)
            .unwrap()
            .show(ctx(store), keys, None)
            .unwrap()
            .unwrap_or_else(|| panic!("show {word} {keys:?}: not found"));
        Value::Object(fields)
    }

    /// An entity's CSV export, header first, a line each.
    pub(super) fn csv(store: &MemoryStore, word: &str) -> Vec<String> {
        let e = entity(word).unwrap();
        let header = e.csv_header(ctx(store)).unwrap();
        let mut lines = vec![header.join(";")];
        e.each_csv(ctx(store), &header, &mut |cells| {
            lines.push(cells.join(";"));
            Ok(())
        })
        .unwrap();
        lines
    }

    #[test]
    fn the_enrolment_summary_names_teachers_and_links_both_ways() {
        let store = world();
        let summary = &show(&store, "course", &["M"])["enrolments"];
        assert_eq!(summary["participants"], 2);
        assert_eq!(summary["active"], 2);
        assert_eq!(
            summary["teachers"],
            json!([{ "username": "tina", "role": "editingteacher" }])
        );
        assert_eq!(summary["feeds"], json!(["X"]));
        let meta = &show(&store, "course", &["X"])["enrolments"];
        assert_eq!(meta["participants"], 2);
        assert_eq!(meta["fed_by"], json!(["M"]));
        assert_eq!(meta["methods"][0]["master"], "M");
    }

    #[test]
    fn every_entity_exports_its_records_readably() {
        let store = world();
        assert_eq!(
            csv(&store, "enrolments"),
            [
                // An enrolments file: the link's enrolments in X are the link's to make.
                "cmd;rolename;uid;cid;enrol;starttime;endtime",
                "add;editingteacher;tina;M;manual;0;0",
                "add;student;sam;M;manual;0;0",
            ]
        );
        assert_eq!(
            csv(&store, "role-assignments"),
            [
                "user;course;role;owner",
                "tina;M;editingteacher;",
                "sam;M;student;",
                "tina;X;editingteacher;meta:M",
                "sam;X;student;meta:M",
            ]
        );
        assert_eq!(csv(&store, "meta-links"), ["master;meta", "M;X"]);
        assert_eq!(
            csv(&store, "enrol-instances"),
            [
                "course;id;method;enabled;master",
                "M;1;manual;1;",
                "X;2;meta;1;M"
            ]
        );
        assert_eq!(
            csv(&store, "groups"),
            ["courseid;name;idnumber;description", "M;G;G-1;"]
        );
        assert_eq!(
            csv(&store, "groupings"),
            ["course;id;name;idnumber;groups", "M;1;GG;;G"]
        );
        // sam has no idnumber: the accounts go by username (see the note's test below).
        assert_eq!(
            csv(&store, "group-members"),
            ["courseid;groupid;userid", "M;G-1;sam"]
        );
        assert_eq!(csv(&store, "sections"), ["course;section;name;summary"]);
        // The enrolments CSV is an enrolments file: a line per role, none for a link's.
        for e in ENTITIES.iter().filter(|e| e.name() != "enrolments") {
            let mut count = 0;
            e.each_json(ctx(&store), &mut |_| {
                count += 1;
                Ok(())
            })
            .unwrap();
            assert_eq!(
                count + 1,
                csv(&store, e.name()).len(),
                "{}: one JSON object per CSV line",
                e.name()
            );
        }
    }

    /// The group-members CSV is read back with the processor's default keys (idnumbers) when
    /// every group and member has one; else a column falls back, for the whole file, to the
    /// field every record has, and the note names the options that read it.
    #[test]
    fn the_group_members_csv_keys_by_idnumber_where_the_store_allows() {
        let mut store = world();
        let note = |store: &MemoryStore| entity("group-members").unwrap().csv_note(ctx(store));
        assert_eq!(
            note(&store).unwrap().unwrap(),
            "`userid` holds usernames (an account has no idnumber): run it with \
             `toolsync run group-members FILE --set user_key=username`"
        );
        {
            let mut txn = store.txn();
            let mut sam = Users::find(&txn, crate::model::UserKey::Username, "sam")
                .unwrap()
                .remove(0);
            sam.idnumber = "S-1".into();
            Users::save(&mut txn, &mut sam).unwrap();
        }
        assert_eq!(note(&store).unwrap(), None, "the defaults read it");
        assert_eq!(
            csv(&store, "group-members"),
            ["courseid;groupid;userid", "M;G-1;S-1"]
        );
        {
            // A second group, without an idnumber: every group goes by name.
            let mut txn = store.txn();
            let master = crate::model::Courses::by_shortname(&txn, "M")
                .unwrap()
                .unwrap();
            let other = Groups::create_group(&mut txn, &master, "H", "", 2).unwrap();
            let tina = Users::find(&txn, crate::model::UserKey::Username, "tina")
                .unwrap()
                .remove(0);
            Groups::add_member(&mut txn, &other, tina.id, 2).unwrap();
            let mut tina = tina;
            tina.idnumber = "T-1".into();
            Users::save(&mut txn, &mut tina).unwrap();
        }
        assert_eq!(
            csv(&store, "group-members"),
            ["courseid;groupid;userid", "M;G;S-1", "M;H;T-1"]
        );
        assert_eq!(
            note(&store).unwrap().unwrap(),
            "`groupid` holds group names (a group has no idnumber): run it with \
             `toolsync run group-members FILE --set group_key=name`"
        );
        for e in ENTITIES.iter().filter(|e| e.name() != "group-members") {
            assert_eq!(e.csv_note(ctx(&store)).unwrap(), None, "{}", e.name());
        }
    }

    #[test]
    fn show_finds_two_key_entities_within_their_course() {
        let store = world();
        let held = show(&store, "enrolment", &["sam", "M"]);
        assert_eq!(held["user"], "sam");
        assert_eq!(held["enrolments"][0]["method"], "manual");
        assert_eq!(held["roles"], json!([{ "role": "student", "owner": "" }]));
        assert_eq!(held["groups"], json!(["G"]));
        let mirrored = show(&store, "enrolment", &["sam", "X"]);
        assert_eq!(mirrored["roles"][0]["owner"], "meta:M");
        for key in ["G-1", "G", "1"] {
            assert_eq!(show(&store, "group", &["M", key])["name"], "G", "{key}");
        }
        assert_eq!(
            show(&store, "grouping", &["M", "GG"])["groups"],
            json!(["G"])
        );
        // Nothing found: the message names the key that found nothing.
        let not_found =
            |name: &str, keys: &[&str]| match entity(name).unwrap().show(ctx(&store), keys, None) {
                Err(FindError::NotFound(why)) => why,
                other => panic!("{name} {keys:?}: {:?}", other.map(|f| f.is_some())),
            };
        assert_eq!(
            not_found("group", &["X", "G"]),
            "course `X` has no group `G`",
            "groups are found within their course"
        );
        assert_eq!(
            not_found("group", &["NOPE", "G"]),
            "no course matches `NOPE`"
        );
        assert_eq!(
            not_found("grouping", &["M", "G"]),
            "course `M` has no grouping `G`"
        );
        assert_eq!(
            not_found("enrolment", &["nobody", "M"]),
            "no user matches `nobody`"
        );
        assert_eq!(
            not_found("enrolment", &["sam", "NOPE"]),
            "no course matches `NOPE`"
        );
        let bad = entity("user")
            .unwrap()
            .show(ctx(&store), &["sam"], Some("shoesize"));
        assert!(matches!(bad, Err(FindError::BadKey(_))));
    }
}
