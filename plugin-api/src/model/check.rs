//! `toolsync check`: the whole store against the model's invariants (design.md §4) — every
//! index entry matches its record and every record its index entries, no reference dangles,
//! every owned enrolment or role has its owner, a deleted account holds nothing, no record id is
//! beyond its sequence.
//!
//! It streams every keyspace ([`StoreRead::for_each`]) and looks each reference up: memory does
//! not grow with the store. It reads only; a damaged record is a finding, not an error.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::category::{self, Categories, Category};
use super::cohort::{self, Cohort, CohortMember, Cohorts};
use super::course::{self, Course, Courses};
use super::enrol::{self, EnrolInstance, Enrolments, Method, RoleAssignment, UserEnrolment};
use super::group::{self, Group, Grouping, Groups, Membership, Set};
use super::index::{Multi, Unique};
use super::picture::{self, Picture, Pictures};
use super::role::{self, Role, Roles};
use super::user::{self, User, Users};
use super::{activity, id_at, id_key, ids, key_id, ModelResult};
use crate::engine::SEQUENCES;
use crate::txn::StoreRead;

/// One thing wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The keyspace of the entry at fault.
    pub space: String,
    /// The entry, as readable as it can be made (`user 12`, `user.username "ann"`).
    pub entry: String,
    pub what: String,
}

/// What a check found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Findings {
    /// Entries read, per keyspace, in the order checked.
    pub checked: Vec<(String, u64)>,
    pub problems: Vec<Problem>,
}

impl Findings {
    fn add(&mut self, space: &str, entry: impl Into<String>, what: impl Into<String>) {
        self.problems.push(Problem {
            space: space.to_string(),
            entry: entry.into(),
            what: what.into(),
        });
    }

    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the whole store.
pub fn check_store(store: &impl StoreRead) -> ModelResult<Findings> {
    let mut f = Findings::default();
    users(store, &mut f)?;
    roles(store, &mut f)?;
    categories(store, &mut f)?;
    courses(store, &mut f)?;
    sections(store, &mut f)?;
    instances(store, &mut f)?;
    enrolments(store, &mut f)?;
    assignments(store, &mut f)?;
    groups(store, &mut f)?;
    cohorts(store, &mut f)?;
    pictures(store, &mut f)?;
    activities(store, &mut f)?;
    sequences(store, &mut f)?;
    Ok(f)
}

/// Visits every record of a keyspace, decoded; a record that does not decode is a finding.
fn each_record<T: DeserializeOwned>(
    store: &impl StoreRead,
    f: &mut Findings,
    space: &str,
    mut visit: impl FnMut(&mut Findings, &[u8], T) -> ModelResult<()>,
) -> ModelResult<()> {
    let mut count = 0;
    let mut result = Ok(());
    store.for_each(space, b"", &mut |key, value| {
        count += 1;
        match serde_json::from_slice::<T>(value) {
            Ok(record) => {
                if let Err(e) = visit(f, key, record) {
                    result = Err(e);
                    return Ok(false);
                }
            }
            Err(e) => f.add(
                space,
                readable(key),
                format!("the record does not decode: {e}"),
            ),
        }
        Ok(true)
    })?;
    f.checked.push((space.to_string(), count));
    result
}

/// Visits every entry of an index keyspace.
fn each_entry(
    store: &impl StoreRead,
    f: &mut Findings,
    space: &str,
    mut visit: impl FnMut(&mut Findings, &[u8], &[u8]) -> ModelResult<()>,
) -> ModelResult<()> {
    let mut count = 0;
    let mut result = Ok(());
    store.for_each(space, b"", &mut |key, value| {
        count += 1;
        if let Err(e) = visit(f, key, value) {
            result = Err(e);
            return Ok(false);
        }
        Ok(true)
    })?;
    f.checked.push((space.to_string(), count));
    result
}

/// A key as text when it is text, else as its 8-byte ids.
fn readable(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(text) if !text.contains('\0') && !key.is_empty() && key.len() != 8 => {
            format!("\"{text}\"")
        }
        _ if key.len() % 8 == 0 && !key.is_empty() => (0..key.len() / 8)
            .filter_map(|i| id_at(key, i))
            .map(|id| id.to_string())
            .collect::<Vec<_>>()
            .join("/"),
        _ => String::from_utf8_lossy(key).into_owned(),
    }
}

/// The record's id matches its key.
fn id_matches(f: &mut Findings, space: &str, key: &[u8], id: u64) {
    if key_id(key) != Some(id) {
        f.add(space, readable(key), format!("the record says id {id}"));
    }
}

/// The unique index has `value → id`.
fn indexed(
    store: &impl StoreRead,
    f: &mut Findings,
    index: Unique,
    value: &[u8],
    id: u64,
    what: &str,
) -> ModelResult<()> {
    if value.is_empty() {
        return Ok(());
    }
    match store.get(index.space, value)? {
        Some(found) if key_id(&found) == Some(id) => {}
        Some(found) => f.add(
            index.space,
            readable(value),
            format!(
                "points to {} instead of {what} {id}",
                key_id(&found).map_or("garbage".to_string(), |o| format!("id {o}"))
            ),
        ),
        None => f.add(
            index.space,
            readable(value),
            format!("missing: {what} {id} holds this {}", index.field),
        ),
    }
    Ok(())
}

/// The multi index has `value ++ id`.
fn listed(
    store: &impl StoreRead,
    f: &mut Findings,
    index: Multi,
    value: &[u8],
    id: u64,
    what: &str,
) -> ModelResult<()> {
    let mut entry = value.to_vec();
    entry.extend_from_slice(&id_key(id));
    if store.get(index.space, &entry)?.is_none() {
        f.add(
            index.space,
            readable(value),
            format!("missing the entry of {what} {id}"),
        );
    }
    Ok(())
}

/// A unique index entry: its record exists and holds the value.
fn entry_points_home<T: DeserializeOwned>(
    store: &impl StoreRead,
    f: &mut Findings,
    index: Unique,
    record_space: &str,
    value_of: impl Fn(&T) -> Vec<u8>,
) -> ModelResult<()> {
    each_entry(store, f, index.space, |f, key, value| {
        let Some(id) = key_id(value) else {
            f.add(index.space, readable(key), "its value is not an id");
            return Ok(());
        };
        match store.get(record_space, &id_key(id))? {
            None => f.add(
                index.space,
                readable(key),
                format!("points to {} {id}, which does not exist", index.entity),
            ),
            Some(bytes) => match serde_json::from_slice::<T>(&bytes) {
                Ok(record) if value_of(&record) == key => {}
                Ok(_) => f.add(
                    index.space,
                    readable(key),
                    format!(
                        "points to {} {id}, which holds another {}",
                        index.entity, index.field
                    ),
                ),
                Err(_) => {} // the record's own finding
            },
        }
        Ok(())
    })
}

fn exists(store: &impl StoreRead, space: &str, key: &[u8]) -> ModelResult<bool> {
    Ok(store.get(space, key)?.is_some())
}

fn users(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    each_record(store, f, user::SPACE, |f, key, u: User| {
        id_matches(f, user::SPACE, key, u.id);
        indexed(
            store,
            f,
            user::USERNAMES,
            u.username.as_bytes(),
            u.id,
            "account",
        )?;
        indexed(
            store,
            f,
            user::IDNUMBERS,
            u.idnumber.as_bytes(),
            u.id,
            "account",
        )?;
        if !u.email.is_empty() {
            listed(
                store,
                f,
                user::EMAILS,
                &user::email_key(&u.email),
                u.id,
                "account",
            )?;
        }
        if u.deleted {
            let held = Enrolments::courses_of(store, u.id)?.len()
                + Enrolments::courses_with_roles(store, u.id)?.len()
                + Groups::courses_of_member(store, u.id)?.len()
                + Cohorts::cohorts_of(store, u.id)?.len();
            if held > 0 {
                f.add(
                    user::SPACE,
                    format!("{} ({})", u.id, u.username),
                    "a deleted account still holds enrolments, roles, group or cohort memberships",
                );
            }
        }
        Ok(())
    })?;
    entry_points_home(store, f, user::USERNAMES, user::SPACE, |u: &User| {
        u.username.as_bytes().to_vec()
    })?;
    entry_points_home(store, f, user::IDNUMBERS, user::SPACE, |u: &User| {
        u.idnumber.as_bytes().to_vec()
    })?;
    each_entry(store, f, user::BY_EMAIL, |f, key, _| {
        let split = key.len().saturating_sub(8);
        let (email, id) = (&key[..split], key_id(&key[split..]));
        match id.map(|id| Users::get(store, id)).transpose()?.flatten() {
            Some(u) if user::email_key(&u.email) == email => {}
            Some(u) => f.add(
                user::BY_EMAIL,
                readable(email),
                format!("lists account {}, whose e-mail is another", u.id),
            ),
            None => f.add(
                user::BY_EMAIL,
                readable(email),
                "lists an account that does not exist",
            ),
        }
        Ok(())
    })
}

fn roles(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    each_record(store, f, role::SPACE, |f, key, r: Role| {
        id_matches(f, role::SPACE, key, r.id);
        indexed(
            store,
            f,
            role::SHORTNAMES,
            r.shortname.to_lowercase().as_bytes(),
            r.id,
            "role",
        )
    })?;
    entry_points_home(store, f, role::SHORTNAMES, role::SPACE, |r: &Role| {
        r.shortname.to_lowercase().into_bytes()
    })
}

fn categories(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    each_record(store, f, category::SPACE, |f, key, c: Category| {
        id_matches(f, category::SPACE, key, c.id);
        if c.parent != 0 && Categories::get(store, c.parent)?.is_none() {
            f.add(
                category::SPACE,
                c.id.to_string(),
                format!("its parent {} does not exist", c.parent),
            );
        }
        indexed(
            store,
            f,
            category::SIBLINGS,
            &category::child_key(c.parent, &c.name),
            c.id,
            "category",
        )?;
        indexed(
            store,
            f,
            category::IDNUMBERS,
            c.idnumber.as_bytes(),
            c.id,
            "category",
        )
    })?;
    entry_points_home(
        store,
        f,
        category::SIBLINGS,
        category::SPACE,
        |c: &Category| category::child_key(c.parent, &c.name),
    )?;
    entry_points_home(
        store,
        f,
        category::IDNUMBERS,
        category::SPACE,
        |c: &Category| c.idnumber.as_bytes().to_vec(),
    )
}

fn courses(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    each_record(store, f, course::SPACE, |f, key, c: Course| {
        id_matches(f, course::SPACE, key, c.id);
        if Categories::get(store, c.category)?.is_none() {
            f.add(
                course::SPACE,
                format!("{} ({})", c.id, c.shortname),
                format!("its category {} does not exist", c.category),
            );
        }
        indexed(
            store,
            f,
            course::SHORTNAMES,
            c.shortname.as_bytes(),
            c.id,
            "course",
        )?;
        indexed(
            store,
            f,
            course::IDNUMBERS,
            c.idnumber.as_bytes(),
            c.id,
            "course",
        )?;
        listed(
            store,
            f,
            course::IN_CATEGORY,
            &id_key(c.category),
            c.id,
            "course",
        )
    })?;
    entry_points_home(store, f, course::SHORTNAMES, course::SPACE, |c: &Course| {
        c.shortname.as_bytes().to_vec()
    })?;
    entry_points_home(store, f, course::IDNUMBERS, course::SPACE, |c: &Course| {
        c.idnumber.as_bytes().to_vec()
    })?;
    each_entry(store, f, course::BY_CATEGORY, |f, key, _| {
        let (category, id) = (id_at(key, 0), id_at(key, 1));
        let course = id.map(|id| Courses::get(store, id)).transpose()?.flatten();
        if course.is_none_or(|c| Some(c.category) != category) {
            f.add(
                course::BY_CATEGORY,
                readable(key),
                "lists a course that is not in that category",
            );
        }
        Ok(())
    })
}

/// A course-scoped record's course exists.
fn course_exists(
    store: &impl StoreRead,
    f: &mut Findings,
    space: &str,
    key: &[u8],
    course: u64,
) -> ModelResult<bool> {
    let found = Courses::get(store, course)?.is_some();
    if !found {
        f.add(
            space,
            readable(key),
            format!("its course {course} does not exist"),
        );
    }
    Ok(found)
}

fn sections(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    each_entry(store, f, course::SECTION_SPACE, |f, key, _| {
        if let Some(course) = id_at(key, 0) {
            course_exists(store, f, course::SECTION_SPACE, key, course)?;
        }
        Ok(())
    })
}

fn instances(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    each_record(
        store,
        f,
        enrol::INSTANCE_SPACE,
        |f, key, i: EnrolInstance| {
            if id_at(key, 0) != Some(i.course) || id_at(key, 1) != Some(i.id) {
                f.add(
                    enrol::INSTANCE_SPACE,
                    readable(key),
                    "its key and record disagree",
                );
            }
            course_exists(store, f, enrol::INSTANCE_SPACE, key, i.course)?;
            if i.method == Method::Meta {
                if Courses::get(store, i.master)?.is_none() {
                    f.add(
                        enrol::INSTANCE_SPACE,
                        readable(key),
                        format!(
                            "the metacourse link's master course {} does not exist",
                            i.master
                        ),
                    );
                }
                let feeds = store.get(enrol::FEEDS, &ids(&[i.master, i.course]))?;
                if feeds.as_deref().and_then(key_id) != Some(i.id) {
                    f.add(
                        enrol::FEEDS,
                        format!("{}/{}", i.master, i.course),
                        format!("missing or wrong: the link is instance {}", i.id),
                    );
                }
            }
            if i.method == Method::Cohort {
                binding(store, f, key, &i)?;
            }
            Ok(())
        },
    )?;
    each_entry(store, f, enrol::FEEDS, |f, key, value| {
        let (master, meta, id) = (id_at(key, 0), id_at(key, 1), key_id(value));
        let instance = match (meta, id) {
            (Some(meta), Some(id)) => Enrolments::instance(store, meta, id)?,
            _ => None,
        };
        if instance.is_none_or(|i| i.method != Method::Meta || Some(i.master) != master) {
            f.add(enrol::FEEDS, readable(key), "points to no metacourse link");
        }
        Ok(())
    })
}

fn enrolments(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    each_record(
        store,
        f,
        enrol::ENROLMENT_SPACE,
        |f, key, e: UserEnrolment| {
            let space = enrol::ENROLMENT_SPACE;
            if course_exists(store, f, space, key, e.course)?
                && Enrolments::instance(store, e.course, e.instance)?.is_none()
            {
                f.add(
                    space,
                    readable(key),
                    format!("its method (instance {}) does not exist", e.instance),
                );
            }
            if Users::get(store, e.user)?.is_none() {
                f.add(
                    space,
                    readable(key),
                    format!("its account {} does not exist", e.user),
                );
            }
            if let Some(owner) = Enrolments::instance(store, e.course, e.instance)? {
                if owner.method == Method::Cohort
                    && !Cohorts::is_member(store, owner.cohort, e.user)?
                {
                    f.add(
                        space,
                        readable(key),
                        format!(
                            "made by the binding of cohort {}, of which account {} is not a member",
                            owner.cohort, e.user
                        ),
                    );
                }
            }
            if !exists(store, enrol::BY_USER, &ids(&[e.user, e.course, e.instance]))? {
                f.add(
                    enrol::BY_USER,
                    readable(key),
                    "missing the entry of this enrolment",
                );
            }
            Ok(())
        },
    )?;
    each_entry(store, f, enrol::BY_USER, |f, key, _| {
        let parts: Option<Vec<u64>> = (0..3).map(|i| id_at(key, i)).collect();
        let found = match parts.as_deref() {
            Some([user, course, instance]) => exists(
                store,
                enrol::ENROLMENT_SPACE,
                &ids(&[*course, *user, *instance]),
            )?,
            _ => false,
        };
        if !found {
            f.add(
                enrol::BY_USER,
                readable(key),
                "lists an enrolment that does not exist",
            );
        }
        Ok(())
    })
}

fn assignments(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    let space = enrol::ASSIGNMENT_SPACE;
    each_record(store, f, space, |f, key, a: RoleAssignment| {
        course_exists(store, f, space, key, a.course)?;
        if Users::get(store, a.user)?.is_none() {
            f.add(
                space,
                readable(key),
                format!("its account {} does not exist", a.user),
            );
        }
        if Roles::get(store, a.role)?.is_none() {
            f.add(
                space,
                readable(key),
                format!("its role {} does not exist", a.role),
            );
        }
        if a.source != 0 {
            match Enrolments::instance(store, a.course, a.source)? {
                None => f.add(
                    space,
                    readable(key),
                    format!("owned by instance {}, which does not exist", a.source),
                ),
                Some(owner) if !owner.owns_roles() => f.add(
                    space,
                    readable(key),
                    format!("owned by a `{}` method, which owns no roles", owner.method),
                ),
                Some(owner) => {
                    let through = ids(&[a.course, a.user, owner.id]);
                    if !exists(store, enrol::ENROLMENT_SPACE, &through)? {
                        f.add(
                            space,
                            readable(key),
                            "owned by a method the account is not enrolled through",
                        );
                    }
                }
            }
        }
        let by_user = ids(&[a.user, a.course, a.role, a.source]);
        if !exists(store, enrol::ASSIGNMENT_BY_USER, &by_user)? {
            f.add(
                enrol::ASSIGNMENT_BY_USER,
                readable(key),
                "missing the entry of this role assignment",
            );
        }
        Ok(())
    })?;
    each_entry(store, f, enrol::ASSIGNMENT_BY_USER, |f, key, _| {
        let parts: Option<Vec<u64>> = (0..4).map(|i| id_at(key, i)).collect();
        let found = match parts.as_deref() {
            Some([user, course, role, source]) => {
                exists(store, space, &ids(&[*course, *user, *role, *source]))?
            }
            _ => false,
        };
        if !found {
            f.add(
                enrol::ASSIGNMENT_BY_USER,
                readable(key),
                "lists a role assignment that does not exist",
            );
        }
        Ok(())
    })
}

/// A group's or grouping's record and its name and idnumber entries, both ways.
fn group_sets<S: Set>(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    each_record(store, f, S::SPACE, |f, key, g: S| {
        if id_at(key, 0) != Some(g.course()) || id_at(key, 1) != Some(g.id()) {
            f.add(S::SPACE, readable(key), "its key and record disagree");
        }
        course_exists(store, f, S::SPACE, key, g.course())?;
        for (index, text) in [(S::NAMES, g.name()), (S::IDNUMBERS, g.idnumber())] {
            let entry = group::text_in_course(g.course(), text);
            indexed(store, f, index, &entry, g.id(), S::WHAT)?;
        }
        Ok(())
    })?;
    for (index, field) in [
        (S::NAMES, S::name as fn(&S) -> &str),
        (S::IDNUMBERS, S::idnumber),
    ] {
        each_entry(store, f, index.space, |f, key, value| {
            let record = match (id_at(key, 0), key_id(value)) {
                (Some(course), Some(id)) => store.get(S::SPACE, &ids(&[course, id]))?,
                _ => None,
            };
            let holds = record
                .and_then(|bytes| serde_json::from_slice::<S>(&bytes).ok())
                .is_some_and(|r| group::text_in_course(r.course(), field(&r)) == key);
            if !holds {
                f.add(
                    index.space,
                    readable(key),
                    format!(
                        "points to no {} of the course holding this {}",
                        S::WHAT,
                        index.field
                    ),
                );
            }
            Ok(())
        })?;
    }
    Ok(())
}

fn groups(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    group_sets::<Group>(store, f)?;
    group_sets::<Grouping>(store, f)?;
    each_record(store, f, group::MEMBER_SPACE, |f, key, m: Membership| {
        let space = group::MEMBER_SPACE;
        let (course, group_id) = (id_at(key, 0).unwrap_or(0), id_at(key, 1).unwrap_or(0));
        if !exists(store, group::GROUP_SPACE, &ids(&[course, group_id]))? {
            f.add(
                space,
                readable(key),
                format!("its group {group_id} does not exist"),
            );
        }
        if Users::get(store, m.user)?.is_none() {
            f.add(
                space,
                readable(key),
                format!("its account {} does not exist", m.user),
            );
        } else if !Enrolments::participates(store, course, m.user)? {
            f.add(
                space,
                readable(key),
                format!(
                    "account {} holds no enrolment or role in the group's course",
                    m.user
                ),
            );
        }
        if m.source != 0 {
            let through = ids(&[course, m.user, m.source]);
            let owner = Enrolments::instance(store, course, m.source)?;
            if !owner.is_some_and(|o| o.owns_roles())
                || !exists(store, enrol::ENROLMENT_SPACE, &through)?
            {
                f.add(
                    space,
                    readable(key),
                    format!(
                        "owned by instance {}, which is no binding the account is enrolled through",
                        m.source
                    ),
                );
            }
        }
        if !exists(
            store,
            group::MEMBER_BY_USER,
            &ids(&[m.user, course, group_id]),
        )? {
            f.add(
                group::MEMBER_BY_USER,
                readable(key),
                "missing the entry of this membership",
            );
        }
        Ok(())
    })?;
    each_entry(store, f, group::MEMBER_BY_USER, |f, key, _| {
        let parts: Option<Vec<u64>> = (0..3).map(|i| id_at(key, i)).collect();
        let found = match parts.as_deref() {
            Some([user, course, group]) => {
                exists(store, group::MEMBER_SPACE, &ids(&[*course, *group, *user]))?
            }
            _ => false,
        };
        if !found {
            f.add(
                group::MEMBER_BY_USER,
                readable(key),
                "lists a membership that does not exist",
            );
        }
        Ok(())
    })?;
    each_entry(store, f, group::BINDING_SPACE, |f, key, _| {
        let (course, grouping, group_id) = (
            id_at(key, 0).unwrap_or(0),
            id_at(key, 1).unwrap_or(0),
            id_at(key, 2).unwrap_or(0),
        );
        if !exists(store, group::GROUPING_SPACE, &ids(&[course, grouping]))?
            || !exists(store, group::GROUP_SPACE, &ids(&[course, group_id]))?
        {
            f.add(
                group::BINDING_SPACE,
                readable(key),
                "binds a group or a grouping that does not exist",
            );
        }
        Ok(())
    })
}

/// A cohort binding (a `cohort` instance): its cohort, role and group exist, its entry is
/// there, and when enabled it enrols every member of the cohort, actively.
fn binding(
    store: &impl StoreRead,
    f: &mut Findings,
    key: &[u8],
    i: &EnrolInstance,
) -> ModelResult<()> {
    let space = enrol::INSTANCE_SPACE;
    if Cohorts::get(store, i.cohort)?.is_none() {
        f.add(
            space,
            readable(key),
            format!("the binding's cohort {} does not exist", i.cohort),
        );
        return Ok(());
    }
    if Roles::get(store, i.role)?.is_none() {
        f.add(
            space,
            readable(key),
            format!("the binding's role {} does not exist", i.role),
        );
    }
    if i.group != 0 && Groups::group(store, i.course, i.group)?.is_none() {
        f.add(
            space,
            readable(key),
            format!("the binding's group {} does not exist", i.group),
        );
    }
    if !exists(
        store,
        cohort::BINDING_SPACE,
        &ids(&[i.cohort, i.course, i.id]),
    )? {
        f.add(
            cohort::BINDING_SPACE,
            readable(key),
            "missing the entry of this binding",
        );
    }
    if i.enabled {
        let mut missing = 0;
        for user in Cohorts::members(store, i.cohort)? {
            let through = store
                .get_json::<UserEnrolment>(enrol::ENROLMENT_SPACE, &ids(&[i.course, user, i.id]))?;
            if !through.is_some_and(|e| e.active) {
                missing += 1;
            }
        }
        if missing > 0 {
            f.add(
                space,
                readable(key),
                format!("{missing} members of cohort {} are not actively enrolled through this enabled binding", i.cohort),
            );
        }
    }
    Ok(())
}

fn cohorts(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    each_record(store, f, cohort::SPACE, |f, key, c: Cohort| {
        id_matches(f, cohort::SPACE, key, c.id);
        indexed(store, f, cohort::NAMES, c.name.as_bytes(), c.id, "cohort")?;
        indexed(
            store,
            f,
            cohort::IDNUMBERS,
            c.idnumber.as_bytes(),
            c.id,
            "cohort",
        )?;
        if c.category != 0 && Categories::get(store, c.category)?.is_none() {
            f.add(
                cohort::SPACE,
                readable(key),
                format!("its category {} does not exist", c.category),
            );
        }
        Ok(())
    })?;
    entry_points_home(store, f, cohort::NAMES, cohort::SPACE, |c: &Cohort| {
        c.name.as_bytes().to_vec()
    })?;
    entry_points_home(store, f, cohort::IDNUMBERS, cohort::SPACE, |c: &Cohort| {
        c.idnumber.as_bytes().to_vec()
    })?;
    each_record(store, f, cohort::MEMBER_SPACE, |f, key, m: CohortMember| {
        let space = cohort::MEMBER_SPACE;
        let id = id_at(key, 0).unwrap_or(0);
        if id_at(key, 1) != Some(m.user) {
            f.add(space, readable(key), "its key and record disagree");
        }
        if Cohorts::get(store, id)?.is_none() {
            f.add(
                space,
                readable(key),
                format!("its cohort {id} does not exist"),
            );
        }
        match Users::get(store, m.user)? {
            None => f.add(
                space,
                readable(key),
                format!("its account {} does not exist", m.user),
            ),
            Some(u) if u.deleted => f.add(
                space,
                readable(key),
                format!("its account {} is deleted", m.user),
            ),
            Some(_) => {}
        }
        if !exists(store, cohort::MEMBER_BY_USER, &ids(&[m.user, id]))? {
            f.add(
                cohort::MEMBER_BY_USER,
                readable(key),
                "missing the entry of this membership",
            );
        }
        Ok(())
    })?;
    each_entry(store, f, cohort::MEMBER_BY_USER, |f, key, _| {
        let found = match (id_at(key, 0), id_at(key, 1)) {
            (Some(user), Some(id)) => Cohorts::is_member(store, id, user)?,
            _ => false,
        };
        if !found {
            f.add(
                cohort::MEMBER_BY_USER,
                readable(key),
                "lists a membership that does not exist",
            );
        }
        Ok(())
    })?;
    each_entry(store, f, cohort::BINDING_SPACE, |f, key, _| {
        let instance = match (id_at(key, 1), id_at(key, 2)) {
            (Some(course), Some(id)) => Enrolments::instance(store, course, id)?,
            _ => None,
        };
        if instance.is_none_or(|i| i.method != Method::Cohort || Some(i.cohort) != id_at(key, 0)) {
            f.add(
                cohort::BINDING_SPACE,
                readable(key),
                "points to no binding of this cohort",
            );
        }
        Ok(())
    })
}

/// Pictures: of live accounts, with their three renditions named by valid file names, each
/// file name indexed both ways. (Whether the files exist is the host's part: the model does not
/// know where the data dir is.)
fn pictures(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    each_record(store, f, picture::SPACE, |f, key, p: Picture| {
        let space = picture::SPACE;
        if key_id(key) != Some(p.user) {
            f.add(
                space,
                readable(key),
                format!("the record says account {}", p.user),
            );
        }
        match Users::get(store, p.user)? {
            None => f.add(
                space,
                readable(key),
                format!("its account {} does not exist", p.user),
            ),
            Some(u) if u.deleted => f.add(
                space,
                readable(key),
                format!("its account {} is deleted", p.user),
            ),
            Some(_) => {}
        }
        let sizes: Vec<u32> = p.renditions.iter().map(|r| r.size).collect();
        if sizes != picture::SIZES {
            f.add(
                space,
                readable(key),
                format!("its renditions are {sizes:?}, not 512, 100, 35"),
            );
        }
        for r in &p.renditions {
            if !crate::blobs::is_name(&r.file) {
                f.add(
                    space,
                    readable(key),
                    format!("`{}` is not a stored file's name", r.file),
                );
            } else if !Pictures::holders(store, &r.file)?.contains(&p.user) {
                f.add(
                    picture::BY_FILE,
                    format!("\"{}\"", r.file),
                    format!("missing the entry of the picture of account {}", p.user),
                );
            }
        }
        Ok(())
    })?;
    each_entry(store, f, picture::BY_FILE, |f, key, _| {
        let split = key.len().saturating_sub(8);
        let (name, user) = (
            String::from_utf8_lossy(&key[..split]),
            id_at(&key[split..], 0),
        );
        let named = match user {
            Some(user) => Pictures::get(store, user)?
                .is_some_and(|p| p.renditions.iter().any(|r| r.file == name)),
            None => false,
        };
        if !named {
            f.add(
                picture::BY_FILE,
                format!("\"{name}\""),
                "lists a picture that does not name this file",
            );
        }
        Ok(())
    })
}

fn activities(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    each_entry(store, f, activity::SPACE, |f, key, _| {
        if let Some(course) = id_at(key, 0) {
            course_exists(store, f, activity::SPACE, &key[..8], course)?;
        }
        Ok(())
    })
}

/// No record id beyond its sequence: the next record would overwrite it.
fn sequences(store: &impl StoreRead, f: &mut Findings) -> ModelResult<()> {
    let spaces = [
        (user::SPACE, user::SEQUENCE, 0),
        (role::SPACE, role::SEQUENCE, 0),
        (category::SPACE, category::SEQUENCE, 0),
        (course::SPACE, course::SEQUENCE, 0),
        (enrol::INSTANCE_SPACE, enrol::SEQUENCE, 1),
        (group::GROUP_SPACE, group::GROUP_SEQUENCE, 1),
        (group::GROUPING_SPACE, group::GROUPING_SEQUENCE, 1),
        (cohort::SPACE, cohort::SEQUENCE, 0),
    ];
    for (space, sequence, position) in spaces {
        let last = store
            .get(SEQUENCES, sequence.as_bytes())?
            .and_then(|v| key_id(&v))
            .unwrap_or(0);
        let mut highest = 0;
        store.for_each(space, b"", &mut |key, _| {
            highest = highest.max(id_at(key, position).unwrap_or(0));
            Ok(true)
        })?;
        if highest > last {
            f.add(
                SEQUENCES,
                format!("\"{sequence}\""),
                format!(
                    "at {last}, but `{space}` holds id {highest}: a new record would overwrite it"
                ),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{full_key, Backend, Writes};
    use crate::model::{Course, Courses, User};
    use crate::testing::MemoryStore;
    use crate::txn::Txn;

    /// A store with every kind of record: accounts (one deleted), a category tree, courses
    /// linked as master and metacourse, enrolments with roles, a group with a member, a grouping.
    fn world() -> MemoryStore {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let (cat, _) =
            Categories::ensure_path(&mut txn, &["A".into(), "B".into()], true, 1).unwrap();
        let mut c = Course::new("C1", "One", cat.id, 1);
        c.idnumber = "I1".into();
        let c1 = Courses::create(&mut txn, c).unwrap();
        let c2 = Courses::create(&mut txn, Course::new("C2", "Two", cat.id, 1)).unwrap();
        let mut u = User::new("ann", "A", "A", 1);
        u.email = "Ann@x.org".into();
        u.idnumber = "U1".into();
        let ann = Users::create(&mut txn, u).unwrap();
        let mut bob = Users::create(&mut txn, User::new("bob", "B", "B", 1)).unwrap();
        let student = Roles::by_shortname(&txn, "student").unwrap().unwrap().id;
        let manual = Enrolments::ensure_instance(&mut txn, &c1, Method::Manual, 1).unwrap();
        Enrolments::enrol(&mut txn, &manual, ann.id, &[student], 1).unwrap();
        Enrolments::enrol(&mut txn, &manual, bob.id, &[student], 1).unwrap();
        Enrolments::link(&mut txn, &c1, &c2, 1).unwrap();
        let group = Groups::create_group(&mut txn, &c1, "G", "", 1).unwrap();
        Groups::add_member(&mut txn, &group, ann.id, 1).unwrap();
        let grouping = Groups::create_grouping(&mut txn, &c1, "GG", "", 1).unwrap();
        Groups::bind(&mut txn, &grouping, &group).unwrap();
        Users::soft_delete(&mut txn, &mut bob, 2).unwrap();
        drop(txn);
        store
    }

    fn problems(store: &MemoryStore) -> Vec<String> {
        check_store(store)
            .unwrap()
            .problems
            .iter()
            .map(|p| format!("{} {}: {}", p.space, p.entry, p.what))
            .collect()
    }

    fn raw(store: &MemoryStore, space: &str, key: &[u8], value: Option<&[u8]>) {
        let mut writes = Writes::new();
        writes.insert(full_key(space, key), value.map(<[u8]>::to_vec));
        store.apply(writes).unwrap();
    }

    #[test]
    fn a_store_written_through_the_model_is_clean() {
        let store = world();
        let findings = check_store(&store).unwrap();
        assert!(findings.is_clean(), "{:?}", findings.problems);
        let read = |space: &str| {
            findings
                .checked
                .iter()
                .find(|(s, _)| s == space)
                .map(|(_, n)| *n)
        };
        assert_eq!(read(user::SPACE), Some(2));
        assert_eq!(read(enrol::FEEDS), Some(1));
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        type Damage = Box<dyn Fn(&MemoryStore)>;
        let cases: Vec<(&str, Damage, &str)> = vec![
            (
                "an index entry lost",
                Box::new(|s| raw(s, user::BY_USERNAME, b"ann", None)),
                "user.username \"ann\": missing: account 1 holds this username",
            ),
            (
                "an index entry pointing nowhere",
                Box::new(|s| raw(s, course::BY_SHORTNAME, b"GHOST", Some(&id_key(99)))),
                "course.shortname \"GHOST\": points to course 99, which does not exist",
            ),
            (
                "an enrolment without its course",
                Box::new(|s| {
                    let course: Course = s.get_json(course::SPACE, &id_key(1)).unwrap().unwrap();
                    raw(s, course::SPACE, &id_key(course.id), None);
                }),
                "its course 1 does not exist",
            ),
            (
                "an owned role without its owner",
                Box::new(|s| {
                    let link = Enrolments::link_between(s, 1, 2).unwrap().unwrap();
                    raw(s, enrol::INSTANCE_SPACE, &ids(&[2, link.id]), None);
                }),
                "does not exist",
            ),
            (
                "a sequence behind its records",
                Box::new(|s| raw(s, SEQUENCES, b"user", Some(&1u64.to_be_bytes()))),
                "_seq \"user\": at 1, but `user` holds id 2",
            ),
            (
                "a record that does not decode",
                Box::new(|s| raw(s, group::GROUP_SPACE, &ids(&[1, 1]), Some(b"{oops"))),
                "group 1/1: the record does not decode",
            ),
            (
                "a deleted account still enrolled",
                Box::new(|s| {
                    let mut store = s.clone();
                    let mut txn = store.txn();
                    let course = Courses::get(&txn, 1).unwrap().unwrap();
                    let manual = Enrolments::instance_of(&txn, 1, Method::Manual)
                        .unwrap()
                        .unwrap();
                    let bob = Users::by_username(&txn, "bob").unwrap().unwrap();
                    Enrolments::enrol(&mut txn, &manual, bob.id, &[], 3).unwrap();
                    let _ = course;
                    drop(txn);
                    s.restore_from(&store);
                }),
                "a deleted account still holds",
            ),
        ];
        for (case, damage, expected) in cases {
            let store = world();
            damage(&store);
            let found = problems(&store);
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "{case}: expected `{expected}` among {found:#?}"
            );
        }
    }

    #[test]
    fn a_txn_based_store_read_checks_too() {
        // Through the ABI (a plugin's view): the same verdict.
        let mut store = world();
        let txn: Txn<'_> = store.txn();
        assert!(check_store(&txn).unwrap().is_clean());
    }
}
