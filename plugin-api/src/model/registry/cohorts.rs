//! Cohorts, their members and their bindings to courses (formats.md §3.11, §3.12).
//!
//! Each CSV export is an input file of a processor, which changes nothing when it runs back on
//! the same store (every row `unchanged`):
//! - `cohorts` → the cohorts processor: `cidnumber`, `cname`, `cdescription`, the category
//!   (`ccatcontextidnumber` when it has an idnumber, else its id in `ccatcontext`; neither for a
//!   site-wide cohort), `component`;
//! - `cohort-members` → the cohorts processor: a line per membership, the cohort's key column
//!   alone (`cidnumber`, or `cname`) and `userid`, so that a line adds its member (already one:
//!   unchanged) and sets nothing of the cohort;
//! - `cohort-bindings` → the cohort-courses processor: a line per binding, `add` for an enabled
//!   one with its role, period and group (`makegroup`), `del` for a disabled one.
//!
//! The processors read idnumbers by default (`cohort_key`, `user_key`), so the exports write
//! idnumbers where every record a file lists has one; otherwise the column takes, for the whole
//! file (a key option holds for a whole file), the field every record has — the cohort's name,
//! the username — and the export's note names the options that read it back.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::enrolments::Names;
use super::groups::Accounts;
use super::{scan_keyed, scan_space, Column, Ctx, FindError, Lookup, Named, Table};
use crate::model::cohort::{self, Cohort, CohortKey, CohortMember, Cohorts};
use crate::model::enrol::{self, EnrolInstance, Method};
use crate::model::{id_at, id_key, Categories, Groups, ModelResult, UserKey};

/// Entries kept by a cache of this module before it starts over (as [`Names`]).
const KEPT: usize = 10_000;

/// How many entries a keyspace holds under a prefix: the keys are visited, no record is decoded
/// or kept (a cohort of 50,000 members costs a count).
fn count(ctx: Ctx<'_>, space: &str, prefix: &[u8]) -> ModelResult<usize> {
    let mut n = 0;
    ctx.store.for_each(space, prefix, &mut |_, _| {
        n += 1;
        Ok(true)
    })?;
    Ok(n)
}

/// How a file designates cohorts: by idnumber (the processors' default `cohort_key`) when every
/// cohort it lists has one, else by name (every cohort has one, unique) for the whole file.
/// `listed`: the keyspace whose entries under a cohort's id put the cohort in the file (its
/// members, its bindings); `None`: the file lists every cohort. A pass over the cohorts, which
/// looks into those without an idnumber only, and stops at the first one listed.
fn cohort_key(ctx: Ctx<'_>, listed: Option<&str>) -> ModelResult<CohortKey> {
    let mut key = CohortKey::Idnumber;
    scan_space(ctx, cohort::SPACE, b"", &mut |c: Cohort| {
        if c.idnumber.is_empty() {
            let in_file = match listed {
                None => true,
                Some(space) => !ctx.store.scan_prefix(space, &id_key(c.id), 1)?.is_empty(),
            };
            if in_file {
                key = CohortKey::Name;
            }
        }
        Ok(key == CohortKey::Idnumber)
    })?;
    Ok(key)
}

/// A note saying which options read a file back: `fallbacks` say why it departs from the
/// processor's defaults (empty: it does not, no note).
fn note(fallbacks: &[&str], processor: &str, options: &[&str]) -> Option<String> {
    (!fallbacks.is_empty()).then(|| {
        format!(
            "{}: run it with `toolsync run {processor} FILE {}`",
            fallbacks.join(", "),
            options.join(" ")
        )
    })
}

/// Why a file of the cohorts processor goes by `cname`.
const BY_CNAME: &str = "the cohorts go by `cname` (a cohort has no idnumber)";
const COHORT_KEY_NAME: &str = "--set cohort_key=name";

/// Each cohort's name and idnumber, loaded once (bounded).
#[derive(Default)]
struct CohortNames(HashMap<u64, (String, String)>);

impl CohortNames {
    fn get(&mut self, ctx: Ctx<'_>, id: u64) -> ModelResult<(String, String)> {
        if let Some(found) = self.0.get(&id) {
            return Ok(found.clone());
        }
        if self.0.len() >= KEPT {
            self.0.clear();
        }
        let found = Cohorts::get(&ctx.store, id)?.map_or_else(
            || (format!("#{id}"), String::new()),
            |c| (c.name, c.idnumber),
        );
        self.0.insert(id, found.clone());
        Ok(found)
    }
}

// ----- cohorts ------------------------------------------------------------------------------

/// A cohort with what its columns show besides its record.
pub struct CohortRow {
    cohort: Cohort,
    /// Its category's path and idnumber; `None` for a site-wide cohort (or a category gone).
    category: Option<(String, String)>,
    members: usize,
    bindings: usize,
}

/// Categories' paths and idnumbers by id: a store has few categories and may have many cohorts.
type Places = HashMap<u64, Option<(String, String)>>;

fn cohort_row(ctx: Ctx<'_>, places: &mut Places, cohort: Cohort) -> ModelResult<CohortRow> {
    let category = match cohort.category {
        0 => None,
        id => match places.get(&id) {
            Some(known) => known.clone(),
            None => {
                let found = match Categories::get(&ctx.store, id)? {
                    Some(c) => Some((Categories::path(&ctx.store, id)?, c.idnumber)),
                    None => None,
                };
                places.insert(id, found.clone());
                found
            }
        },
    };
    Ok(CohortRow {
        members: count(ctx, cohort::MEMBER_SPACE, &id_key(cohort.id))?,
        bindings: count(ctx, cohort::BINDING_SPACE, &id_key(cohort.id))?,
        category,
        cohort,
    })
}

const fn cohort_lookup(
    key: CohortKey,
) -> fn(Ctx<'_>, &[&str]) -> Result<Option<CohortRow>, FindError> {
    fn find(ctx: Ctx<'_>, key: CohortKey, value: &str) -> Result<Option<CohortRow>, FindError> {
        match Cohorts::find(&ctx.store, key, value)? {
            Some(c) => Ok(Some(cohort_row(ctx, &mut Places::new(), c)?)),
            None => Ok(None),
        }
    }
    match key {
        CohortKey::Idnumber => |ctx, keys| find(ctx, CohortKey::Idnumber, keys[0]),
        CohortKey::Name => |ctx, keys| find(ctx, CohortKey::Name, keys[0]),
        CohortKey::Id => |ctx, keys| find(ctx, CohortKey::Id, keys[0]),
    }
}

/// The category's idnumber, when it has one (`ccatcontextidnumber`).
fn category_idnumber(r: &CohortRow) -> &str {
    r.category.as_ref().map_or("", |(_, idnumber)| idnumber)
}

/// `show cohort`: its bindings, and the courses the enabled ones feed (the JSON column
/// `bindings`, a count, becomes the list).
fn bound(ctx: Ctx<'_>, r: &CohortRow) -> ModelResult<Named> {
    let (mut names, mut cohorts, mut enrolled) = Default::default();
    let mut bindings = Vec::new();
    let mut courses: Vec<String> = Vec::new();
    for binding in Cohorts::bindings(&ctx.store, r.cohort.id)? {
        let row = binding_row(
            ctx,
            (&mut names, &mut cohorts, &mut enrolled),
            binding,
            CohortKey::Idnumber,
        )?;
        bindings.push(json!({
            "course": row.course,
            "role": row.role,
            "enabled": row.binding.enabled,
            "enrolstart": row.binding.timestart,
            "enrolend": row.binding.timeend,
            "group": row.group,
            "enrolments": row.enrolments,
        }));
        // A cohort's bindings come by course: one course bound with two roles is one course.
        if row.binding.enabled && courses.last() != Some(&row.course) {
            courses.push(row.course);
        }
    }
    Ok(vec![
        ("bindings".into(), bindings.into()),
        ("courses".into(), courses.into()),
    ])
}

/// The note of a cohorts CSV with a cohort without an idnumber.
fn cohorts_note(ctx: Ctx<'_>) -> ModelResult<Option<String>> {
    Ok(match cohort_key(ctx, None)? {
        CohortKey::Name => note(&[BY_CNAME], "cohorts", &[COHORT_KEY_NAME]),
        _ => None,
    })
}

pub static COHORTS: Table<CohortRow> = Table {
    name: "cohorts",
    singular: "cohort",
    about: "cohorts (site-wide or of a category), with their counts of members and bindings",
    key_help: Some("idnumber, name or id"),
    arity: 1,
    processor: Some("cohorts"),
    json_separator: ",\n",
    scan: |ctx, visit| {
        let mut places = Places::new();
        scan_space(ctx, cohort::SPACE, b"", &mut |c: Cohort| {
            visit(cohort_row(ctx, &mut places, c)?)
        })
    },
    lookups: &[
        Lookup {
            field: "idnumber",
            find: cohort_lookup(CohortKey::Idnumber),
        },
        Lookup {
            field: "name",
            find: cohort_lookup(CohortKey::Name),
        },
        Lookup {
            field: "id",
            find: cohort_lookup(CohortKey::Id),
        },
    ],
    // The CSV is a cohorts file: both the idnumber and the name, whichever `cohort_key` reads
    // (the other one is set to what it is); the category by idnumber where it has one, else by
    // id (ccatcontext takes ids only), none for a site-wide cohort; the counts stay in the JSON.
    columns: &[
        Column::json("id", |r| r.cohort.id.into()),
        Column::json("name", |r| r.cohort.name.clone().into()),
        Column::json("idnumber", |r| r.cohort.idnumber.clone().into()),
        Column::json("description", |r| r.cohort.description.clone().into()),
        Column::json("category", |r| {
            r.category.as_ref().map(|(path, _)| path.clone()).into()
        }),
        Column::json("categoryid", |r| r.cohort.category.into()),
        Column::csv("cidnumber", |r| r.cohort.idnumber.clone().into()),
        Column::csv("cname", |r| r.cohort.name.clone().into()),
        Column::csv("cdescription", |r| r.cohort.description.clone().into()),
        Column::csv("ccatcontext", |r| {
            match (r.cohort.category, category_idnumber(r)) {
                (0, _) => Value::Null,
                (id, "") => id.into(),
                _ => Value::Null,
            }
        }),
        Column::csv("ccatcontextidnumber", |r| category_idnumber(r).into()),
        Column::both("component", |r| r.cohort.component.clone().into()),
        Column::json("members", |r| r.members.into()),
        Column::json("bindings", |r| r.bindings.into()),
        Column::json("timecreated", |r| r.cohort.timecreated.into()),
        Column::json("timemodified", |r| r.cohort.timemodified.into()),
    ],
    show_extra: Some(bound),
    csv_lines: None,
    csv_note: Some(cohorts_note),
    csv_header: None,
};

// ----- members ------------------------------------------------------------------------------

/// How the CSV of `cohort-members` designates cohorts and accounts (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberKeys {
    pub cohort: CohortKey,
    pub user: UserKey,
}

/// The keys the members' CSV is written with: the cohorts' pass, then one over the
/// memberships which stops at the first account without an idnumber.
pub fn member_keys(ctx: Ctx<'_>) -> ModelResult<MemberKeys> {
    let cohort = cohort_key(ctx, Some(cohort::MEMBER_SPACE))?;
    let mut user = UserKey::Idnumber;
    let mut accounts = Accounts::default();
    scan_space(ctx, cohort::MEMBER_SPACE, b"", &mut |m: CohortMember| {
        if accounts.get(ctx, m.user)?.1.is_empty() {
            user = UserKey::Username;
        }
        Ok(user == UserKey::Idnumber)
    })?;
    Ok(MemberKeys { cohort, user })
}

/// The members' CSV header: the cohort's key column alone (with `cohort_key = idnumber`, a
/// `cname` cell would set the name; with `name`, a `cidnumber` cell the idnumber), then `userid`.
fn member_header(ctx: Ctx<'_>) -> ModelResult<Vec<String>> {
    let cohort = match cohort_key(ctx, Some(cohort::MEMBER_SPACE))? {
        CohortKey::Name => "cname",
        _ => "cidnumber",
    };
    Ok(vec![cohort.to_string(), "userid".to_string()])
}

/// The note of a members' CSV that departs from the cohorts processor's default keys.
fn member_note(ctx: Ctx<'_>) -> ModelResult<Option<String>> {
    let keys = member_keys(ctx)?;
    let (mut fallbacks, mut options) = (Vec::new(), Vec::new());
    if keys.cohort == CohortKey::Name {
        fallbacks.push(BY_CNAME);
        options.push(COHORT_KEY_NAME);
    }
    if keys.user == UserKey::Username {
        fallbacks.push("`userid` holds usernames (an account has no idnumber)");
        options.push("--set user_key=username");
    }
    Ok(note(&fallbacks, "cohorts", &options))
}

pub struct MemberRow {
    member: CohortMember,
    cohort: String,
    cohort_idnumber: String,
    user: String,
    user_idnumber: String,
    keys: MemberKeys,
}

pub static MEMBERS: Table<MemberRow> = Table {
    name: "cohort-members",
    singular: "cohort-member",
    about: "cohort memberships: cohort, account",
    key_help: None,
    arity: 1,
    processor: Some("cohorts"),
    json_separator: ",\n",
    scan: |ctx, visit| {
        let keys = member_keys(ctx)?;
        let (mut cohorts, mut accounts) = (CohortNames::default(), Accounts::default());
        scan_keyed(
            ctx,
            cohort::MEMBER_SPACE,
            b"",
            &mut |key, member: CohortMember| {
                let (cohort, cohort_idnumber) = cohorts.get(ctx, id_at(key, 0).unwrap_or(0))?;
                let (user, user_idnumber) = accounts.get(ctx, member.user)?;
                visit(MemberRow {
                    cohort,
                    cohort_idnumber,
                    user,
                    user_idnumber,
                    keys,
                    member,
                })
            },
        )
    },
    lookups: &[],
    // The JSON names each membership's cohort and account; the CSV is a cohorts file with
    // the keys [`member_keys`] chose, of which [`member_header`] writes one cohort column.
    columns: &[
        Column::json("cohort", |r| r.cohort.clone().into()),
        Column::json("cohort_idnumber", |r| r.cohort_idnumber.clone().into()),
        Column::json("user", |r| r.user.clone().into()),
        Column::json("user_idnumber", |r| r.user_idnumber.clone().into()),
        Column::json("timeadded", |r| r.member.timeadded.into()),
        Column::csv("cidnumber", |r| r.cohort_idnumber.clone().into()),
        Column::csv("cname", |r| r.cohort.clone().into()),
        Column::csv("userid", |r| match r.keys.user {
            UserKey::Idnumber => r.user_idnumber.clone().into(),
            _ => r.user.clone().into(),
        }),
    ],
    show_extra: None,
    csv_lines: None,
    csv_note: Some(member_note),
    csv_header: Some(member_header),
};

// ----- bindings -----------------------------------------------------------------------------

/// The enrolments of each instance of the course being read, counted from the enrolments' keys
/// (course, user, instance): bindings come course by course, so that one scan of a course's
/// enrolments serves all its bindings, and one course's counts are kept at a time.
#[derive(Default)]
struct Enrolled(Option<(u64, HashMap<u64, usize>)>);

impl Enrolled {
    fn through(&mut self, ctx: Ctx<'_>, binding: &EnrolInstance) -> ModelResult<usize> {
        if self.0.as_ref().is_none_or(|(c, _)| *c != binding.course) {
            let mut counts: HashMap<u64, usize> = HashMap::new();
            ctx.store.for_each(
                enrol::ENROLMENT_SPACE,
                &id_key(binding.course),
                &mut |key, _| {
                    if let Some(instance) = id_at(key, 2) {
                        *counts.entry(instance).or_default() += 1;
                    }
                    Ok(true)
                },
            )?;
            self.0 = Some((binding.course, counts));
        }
        Ok(self
            .0
            .as_ref()
            .and_then(|(_, counts)| counts.get(&binding.id).copied())
            .unwrap_or(0))
    }
}

pub struct BindingRow {
    binding: EnrolInstance,
    cohort: String,
    cohort_idnumber: String,
    course: String,
    role: String,
    /// The name of the group it fills.
    group: Option<String>,
    enrolments: usize,
    /// How the CSV's `cohort` designates the cohort.
    key: CohortKey,
}

fn binding_row(
    ctx: Ctx<'_>,
    (names, cohorts, enrolled): (&mut Names, &mut CohortNames, &mut Enrolled),
    binding: EnrolInstance,
    key: CohortKey,
) -> ModelResult<BindingRow> {
    let (cohort, cohort_idnumber) = cohorts.get(ctx, binding.cohort)?;
    let group = match binding.group {
        0 => None,
        id => Some(
            Groups::group(&ctx.store, binding.course, id)?
                .map_or_else(|| format!("#{id}"), |g| g.name),
        ),
    };
    Ok(BindingRow {
        cohort,
        cohort_idnumber,
        course: names.course(ctx, binding.course)?,
        role: names.role(ctx, binding.role)?,
        group,
        enrolments: enrolled.through(ctx, &binding)?,
        key,
        binding,
    })
}

/// The note of a bindings' CSV that names cohorts by name.
fn binding_note(ctx: Ctx<'_>) -> ModelResult<Option<String>> {
    Ok(match cohort_key(ctx, Some(cohort::BINDING_SPACE))? {
        CohortKey::Name => note(
            &["`cohort` holds cohort names (a cohort has no idnumber)"],
            "cohort-courses",
            &[COHORT_KEY_NAME],
        ),
        _ => None,
    })
}

pub static BINDINGS: Table<BindingRow> = Table {
    name: "cohort-bindings",
    singular: "cohort-binding",
    about: "cohorts bound to courses: role, period, group, enrolments made",
    key_help: None,
    arity: 1,
    processor: Some("cohort-courses"),
    json_separator: ",\n",
    // Course by course (the bindings are `cohort` enrolment instances), so that a course's
    // enrolments are counted once for all its bindings.
    scan: |ctx, visit| {
        let key = cohort_key(ctx, Some(cohort::BINDING_SPACE))?;
        let (mut names, mut cohorts, mut enrolled) = Default::default();
        scan_space(ctx, enrol::INSTANCE_SPACE, b"", &mut |i: EnrolInstance| {
            if i.method != Method::Cohort {
                return Ok(true);
            }
            visit(binding_row(
                ctx,
                (&mut names, &mut cohorts, &mut enrolled),
                i,
                key,
            )?)
        })
    },
    lookups: &[],
    // The CSV is a cohort-courses file: `add` makes an enabled binding with its period and
    // group what it is, `del` leaves a disabled one disabled; dates as the enrolments export
    // writes them (Unix seconds, 0: no bound).
    columns: &[
        Column::json("cohort", |r| r.cohort.clone().into()),
        Column::csv("cohort", |r| match r.key {
            CohortKey::Idnumber => r.cohort_idnumber.clone().into(),
            _ => r.cohort.clone().into(),
        }),
        Column::both("course", |r| r.course.clone().into()),
        Column::csv("cmd", |r| {
            if r.binding.enabled { "add" } else { "del" }.into()
        }),
        Column::both("role", |r| r.role.clone().into()),
        Column::json("enabled", |r| r.binding.enabled.into()),
        Column::both("enrolstart", |r| r.binding.timestart.into()),
        Column::both("enrolend", |r| r.binding.timeend.into()),
        Column::csv("makegroup", |r| r.group.is_some().into()),
        Column::json("group", |r| r.group.clone().into()),
        Column::json("enrolments", |r| r.enrolments.into()),
        Column::json("id", |r| r.binding.id.into()),
    ],
    show_extra: None,
    csv_lines: None,
    csv_note: Some(binding_note),
    csv_header: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::registry::entity;
    use crate::model::registry::world_tests::{csv, ctx};
    use crate::model::{
        BindingSpec, Course, CourseKey, Courses, Enrolments, Period, RoleKey, Roles, User, Users,
    };
    use crate::testing::MemoryStore;
    use crate::txn::Txn;

    /// Class A (idnumber CA, of category Sciences, which has the idnumber SCI) holds ann and
    /// bob, and is bound to A as student (a period, a group) and to B as teacher (disabled);
    /// Class B (CB, of Sciences/Physics, no idnumber) is empty. cy has no idnumber.
    fn world() -> MemoryStore {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let misc = Categories::create(&mut txn, 0, "Misc", true, 1).unwrap().id;
        let mut sciences = Categories::create(&mut txn, 0, "Sciences", true, 1).unwrap();
        sciences.idnumber = "SCI".into();
        Categories::save(&mut txn, &mut sciences).unwrap();
        let physics = Categories::create(&mut txn, sciences.id, "Physics", true, 1).unwrap();
        let courses: Vec<Course> = ["A", "B"]
            .iter()
            .map(|s| Courses::create(&mut txn, Course::new(s, s, misc, 1)).unwrap())
            .collect();
        // A manual method beside the bindings: not a binding.
        Enrolments::ensure_instance(&mut txn, &courses[0], Method::Manual, 1).unwrap();
        let users: Vec<u64> = [("ann", "A-1"), ("bob", "B-1"), ("cy", "")]
            .iter()
            .map(|(name, idnumber)| {
                let mut user = User::new(name, name, name, 1);
                user.idnumber = idnumber.to_string();
                Users::create(&mut txn, user).unwrap().id
            })
            .collect();
        let mut class_a = Cohort::new("Class A", 1);
        class_a.idnumber = "CA".into();
        class_a.description = "Year 1".into();
        class_a.category = sciences.id;
        class_a.component = "ldap".into();
        let class_a = Cohorts::create(&mut txn, class_a).unwrap();
        let mut class_b = Cohort::new("Class B", 1);
        class_b.idnumber = "CB".into();
        class_b.category = physics.id;
        Cohorts::create(&mut txn, class_b).unwrap();
        for user in &users[..2] {
            Cohorts::add_member(&mut txn, &class_a, *user, 2).unwrap();
        }
        let role = |txn: &Txn, name: &str| Roles::by_shortname(txn, name).unwrap().unwrap().id;
        let (student, teacher) = (role(&txn, "student"), role(&txn, "teacher"));
        let spec = BindingSpec {
            period: Period {
                start: Some(100),
                end: Some(900),
            },
            makegroup: Some(true),
        };
        Cohorts::bind(&mut txn, &class_a, &courses[0], student, &spec, 3).unwrap();
        let (to_b, _) = Cohorts::bind(
            &mut txn,
            &class_a,
            &courses[1],
            teacher,
            &BindingSpec::default(),
            3,
        )
        .unwrap();
        Cohorts::set_enabled(&mut txn, &to_b, false, 4).unwrap();
        drop(txn);
        store
    }

    fn json(store: &MemoryStore, word: &str) -> Vec<Value> {
        let mut records = Vec::new();
        entity(word)
            .unwrap()
            .each_json(ctx(store), &mut |fields| {
                records.push(Value::Object(fields));
                Ok(())
            })
            .unwrap();
        records
    }

    fn note(store: &MemoryStore, word: &str) -> Option<String> {
        entity(word).unwrap().csv_note(ctx(store)).unwrap()
    }

    /// A new cohort without an idnumber (and, with `member`, that account in it).
    fn loose(store: &mut MemoryStore, member: Option<&str>) -> Cohort {
        let mut txn = store.txn();
        let cohort = Cohorts::create(&mut txn, Cohort::new("Loose", 5)).unwrap();
        if let Some(name) = member {
            let user = Users::by_username(&txn, name).unwrap().unwrap();
            Cohorts::add_member(&mut txn, &cohort, user.id, 5).unwrap();
        }
        cohort
    }

    #[test]
    fn show_cohort_lists_its_bindings_and_the_courses_they_feed() {
        let store = world();
        let cohorts = entity("cohort").unwrap();
        assert_eq!(cohorts.lookup_fields(), ["idnumber", "name", "id"]);
        for key in ["CA", "Class A", "1"] {
            let shown = cohorts.show(ctx(&store), &[key], None).unwrap().unwrap();
            assert_eq!(shown["name"], "Class A", "{key}");
        }
        assert!(cohorts
            .show(ctx(&store), &["Class A"], Some("idnumber"))
            .unwrap()
            .is_none());
        let shown = Value::Object(cohorts.show(ctx(&store), &["CA"], None).unwrap().unwrap());
        assert_eq!(shown["category"], "Sciences");
        assert_eq!(shown["categoryid"], 2);
        assert_eq!(shown["component"], "ldap");
        assert_eq!(shown["members"], 2);
        assert_eq!(
            shown["bindings"],
            serde_json::json!([
                {
                    "course": "A", "role": "student", "enabled": true, "enrolstart": 100,
                    "enrolend": 900, "group": "Class A", "enrolments": 2
                },
                {
                    "course": "B", "role": "teacher", "enabled": false, "enrolstart": 0,
                    "enrolend": 0, "group": null, "enrolments": 2
                }
            ])
        );
        assert_eq!(
            shown["courses"],
            serde_json::json!(["A"]),
            "enabled bindings only"
        );
    }

    /// The cohorts CSV is a cohorts file: idnumber and name, the category by idnumber where it
    /// has one, else by id; a cohort without an idnumber makes the file go by name.
    #[test]
    fn the_cohorts_csv_keys_by_idnumber_where_every_cohort_has_one() {
        let mut store = world();
        assert_eq!(
            csv(&store, "cohorts"),
            [
                "cidnumber;cname;cdescription;ccatcontext;ccatcontextidnumber;component",
                "CA;Class A;Year 1;;SCI;ldap",
                "CB;Class B;;3;;",
            ]
        );
        assert_eq!(note(&store, "cohorts"), None);
        let records = json(&store, "cohorts");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["bindings"], 2, "a count in the export");
        assert_eq!(records[0]["members"], 2);
        assert_eq!(records[1]["category"], "Sciences/Physics");
        assert_eq!(records[1]["categoryid"], 3);
        assert_eq!(records[1]["bindings"], 0);
        loose(&mut store, None);
        let lines = csv(&store, "cohorts");
        assert_eq!(lines[3], ";Loose;;;;", "site-wide: no category");
        assert_eq!(json(&store, "cohorts")[2]["category"], Value::Null);
        assert_eq!(
            note(&store, "cohorts").unwrap(),
            "the cohorts go by `cname` (a cohort has no idnumber): run it with \
             `toolsync run cohorts FILE --set cohort_key=name`"
        );
        // A cohort without an idnumber and without members or bindings: the other files are
        // not concerned.
        assert_eq!(note(&store, "cohort-members"), None);
        assert_eq!(note(&store, "cohort-bindings"), None);
    }

    /// A line per membership, the cohort's key column alone; an account without an idnumber
    /// makes `userid` go by username, a listed cohort without one makes the file go by `cname`.
    #[test]
    fn the_members_csv_writes_one_key_column_and_falls_back_per_file() {
        let mut store = world();
        assert_eq!(
            csv(&store, "cohort-members"),
            ["cidnumber;userid", "CA;A-1", "CA;B-1"]
        );
        assert_eq!(note(&store, "cohort-members"), None);
        let records = json(&store, "cohort-members");
        assert_eq!(
            records[0],
            serde_json::json!({
                "cohort": "Class A", "cohort_idnumber": "CA", "user": "ann",
                "user_idnumber": "A-1", "timeadded": 2
            })
        );
        {
            let mut txn = store.txn();
            let class = Cohorts::find(&txn, CohortKey::Idnumber, "CA")
                .unwrap()
                .unwrap();
            let cy = Users::by_username(&txn, "cy").unwrap().unwrap();
            Cohorts::add_member(&mut txn, &class, cy.id, 6).unwrap();
        }
        assert_eq!(
            csv(&store, "cohort-members"),
            ["cidnumber;userid", "CA;ann", "CA;bob", "CA;cy"]
        );
        assert_eq!(
            note(&store, "cohort-members").unwrap(),
            "`userid` holds usernames (an account has no idnumber): run it with \
             `toolsync run cohorts FILE --set user_key=username`"
        );
        loose(&mut store, Some("ann"));
        assert_eq!(
            csv(&store, "cohort-members"),
            [
                "cname;userid",
                "Class A;ann",
                "Class A;bob",
                "Class A;cy",
                "Loose;ann"
            ]
        );
        assert_eq!(
            note(&store, "cohort-members").unwrap(),
            "the cohorts go by `cname` (a cohort has no idnumber), `userid` holds usernames \
             (an account has no idnumber): run it with \
             `toolsync run cohorts FILE --set cohort_key=name --set user_key=username`"
        );
        assert_eq!(
            note(&store, "cohort-bindings"),
            None,
            "Loose is bound nowhere"
        );
    }

    /// A line per binding, which the model finds unchanged: `add` with its period and group for
    /// an enabled one, `del` for a disabled one.
    #[test]
    fn the_bindings_csv_runs_back_unchanged() {
        let mut store = world();
        let lines = csv(&store, "cohort-bindings");
        assert_eq!(
            lines,
            [
                "cohort;course;cmd;role;enrolstart;enrolend;makegroup",
                "CA;A;add;student;100;900;1",
                "CA;B;del;teacher;0;0;0",
            ]
        );
        assert_eq!(note(&store, "cohort-bindings"), None);
        let records = json(&store, "cohort-bindings");
        assert_eq!(records[0]["cohort"], "Class A");
        assert_eq!(records[0]["group"], "Class A");
        assert_eq!(records[0]["enrolments"], 2);
        assert_eq!(records[1]["enabled"], false);
        assert_eq!(records[1]["group"], Value::Null);
        // Each line as the cohort-courses processor applies it, through the model.
        {
            let mut txn = store.txn();
            for line in &lines[1..] {
                let cells: Vec<&str> = line.split(';').collect();
                let cohort = Cohorts::find(&txn, CohortKey::Idnumber, cells[0])
                    .unwrap()
                    .unwrap();
                let course = Courses::find(&txn, CourseKey::Shortname, cells[1])
                    .unwrap()
                    .unwrap();
                let role = Roles::find(&txn, RoleKey::Shortname, cells[3])
                    .unwrap()
                    .unwrap();
                let binding = Cohorts::binding(&txn, cohort.id, course.id, role.id)
                    .unwrap()
                    .unwrap();
                let unchanged = match cells[2] {
                    "add" => {
                        let spec = BindingSpec {
                            period: Period {
                                start: Some(cells[4].parse().unwrap()),
                                end: Some(cells[5].parse().unwrap()),
                            },
                            makegroup: Some(cells[6] == "1"),
                        };
                        Cohorts::update_binding(&mut txn, &cohort, &course, &binding, &spec, 9)
                            .unwrap()
                    }
                    _ => Cohorts::set_enabled(&mut txn, &binding, false, 9).unwrap(),
                };
                assert_eq!(unchanged, None, "{line}");
            }
        }
        // A bound cohort without an idnumber: the file goes by name.
        let cohort = loose(&mut store, Some("cy"));
        {
            let mut txn = store.txn();
            let a = Courses::find(&txn, CourseKey::Shortname, "A")
                .unwrap()
                .unwrap();
            let student = Roles::by_shortname(&txn, "student").unwrap().unwrap().id;
            Cohorts::bind(&mut txn, &cohort, &a, student, &BindingSpec::default(), 7).unwrap();
        }
        assert_eq!(
            csv(&store, "cohort-bindings"),
            [
                "cohort;course;cmd;role;enrolstart;enrolend;makegroup",
                "Class A;A;add;student;100;900;1",
                "Loose;A;add;student;0;0;0",
                "Class A;B;del;teacher;0;0;0",
            ]
        );
        assert_eq!(json(&store, "cohort-bindings")[1]["enrolments"], 1);
        assert_eq!(
            note(&store, "cohort-bindings").unwrap(),
            "`cohort` holds cohort names (a cohort has no idnumber): run it with \
             `toolsync run cohort-courses FILE --set cohort_key=name`"
        );
    }
}
