//! Cohorts, their members, and their bindings to courses (formats.md §3.11, §3.12).
//!
//! A cohort is a site-wide (or category-owned) list of accounts — a class, a year group. A
//! *binding* enrols the cohort's members in a course with a role: it is a `cohort` enrolment
//! instance of the course ([`EnrolInstance`] with `cohort`, `role`, a period and an optional
//! group), one per (cohort, course, role). A binding *owns* what it makes (the ownership
//! mechanism of [`Enrolments`]): the enrolments through it, the role assignments they carry
//! (source = the instance) and the group memberships it adds (source = the instance). Rows of
//! the enrolments or group-members processors never touch them; removing the binding, or the
//! member from the cohort, removes exactly them — a manual enrolment of the same account stays.
//!
//! Invariants kept here, after every row:
//! - a name is unique among cohorts, and a non-empty idnumber too (both indexed);
//! - members are live accounts; soft-deleting an account removes its memberships, and what
//!   they produced;
//! - the accounts enrolled through a binding are members of its cohort; an enabled binding
//!   enrols every member, actively, with its role, period and group; a disabled one holds its
//!   enrolments suspended and enrols nobody new.
//!
//! Key layout:
//! - `cohort`: cohort id → [`Cohort`]
//! - `cohort.name`: name → id; `cohort.idnumber`: idnumber → id
//! - `cohort.member`: cohort, user → [`CohortMember`]
//! - `cohort.member.by_user`: user, cohort → nothing (an account's cohorts)
//! - `cohort.binding`: cohort, course, instance → nothing (where a cohort is bound; the
//!   binding itself is the instance, in `enrol`)
//!
//! Scale: a row that binds a cohort of 50,000 members makes 50,000 enrolments in that row's
//! transaction, and a member joining a cohort bound to 200 courses is enrolled in 200. Both
//! walk the members or the bindings as a prefix scan of ids; the row's writes are held until
//! its batch commits, and the host commits a batch early once it holds many writes.

use serde::{Deserialize, Serialize};

use super::index::Unique;
use super::{
    id_at, id_key, ids, is_zero, model_version, remove_prefix, Categories, EnrolInstance,
    EnrolRequest, Enrolments, Extra, GroupKey, Groups, Method, ModelError, ModelResult, Period,
    MODEL_VERSION,
};
use crate::model::Course;
use crate::txn::{StoreRead, Txn};

pub const SPACE: &str = "cohort";
pub(crate) const BY_NAME: &str = "cohort.name";
pub(crate) const BY_IDNUMBER: &str = "cohort.idnumber";
pub const MEMBER_SPACE: &str = "cohort.member";
pub(crate) const MEMBER_BY_USER: &str = "cohort.member.by_user";
pub const BINDING_SPACE: &str = "cohort.binding";
pub(crate) const SEQUENCE: &str = "cohort";

pub(crate) const NAMES: Unique = Unique::new(BY_NAME, "name", "cohort");
pub(crate) const IDNUMBERS: Unique = Unique::new(BY_IDNUMBER, "idnumber", "cohort");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    #[serde(default = "model_version")]
    pub v: u32,
    pub id: u64,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub idnumber: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The category owning the cohort; 0: site-wide.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub category: u64,
    /// A free owner tag (the component that manages the cohort), stored as given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub component: String,
    pub timecreated: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timemodified: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Cohort {
    /// A new site-wide cohort (id given by [`Cohorts::create`]).
    pub fn new(name: &str, now: i64) -> Cohort {
        Cohort {
            v: MODEL_VERSION,
            id: 0,
            name: name.to_string(),
            idnumber: String::new(),
            description: String::new(),
            category: 0,
            component: String::new(),
            timecreated: now,
            timemodified: 0,
            extra: Extra::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortMember {
    #[serde(default = "model_version")]
    pub v: u32,
    pub user: u64,
    pub timeadded: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The fields a cohort can be designated by (option `cohort_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CohortKey {
    Id,
    Idnumber,
    Name,
}

impl CohortKey {
    pub const WORDS: [&'static str; 3] = ["id", "idnumber", "name"];

    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "id" => Some(CohortKey::Id),
            "idnumber" => Some(CohortKey::Idnumber),
            "name" => Some(CohortKey::Name),
            _ => None,
        }
    }

    pub fn column(self) -> &'static str {
        match self {
            CohortKey::Id => "id",
            CohortKey::Idnumber => "idnumber",
            CohortKey::Name => "name",
        }
    }
}

/// What a change carried to the courses a cohort is bound to did, in enrolments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Synced {
    /// Enrolments made.
    pub enrolled: usize,
    /// Enrolments changed (state, period, role, group).
    pub updated: usize,
    /// Enrolments removed.
    pub unenrolled: usize,
}

impl Synced {
    pub fn is_empty(&self) -> bool {
        *self == Synced::default()
    }

    pub fn add(&mut self, other: Synced) {
        self.enrolled += other.enrolled;
        self.updated += other.updated;
        self.unenrolled += other.unenrolled;
    }

    /// `5 enrolments made, 1 removed` (empty when nothing happened), for a row's message.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (n, what) in [
            (self.enrolled, "made"),
            (self.updated, "updated"),
            (self.unenrolled, "removed"),
        ] {
            if n > 0 {
                if parts.is_empty() {
                    let noun = if n == 1 { "enrolment" } else { "enrolments" };
                    parts.push(format!("{n} {noun} {what}"));
                } else {
                    parts.push(format!("{n} {what}"));
                }
            }
        }
        parts.join(", ")
    }
}

/// What a binding is asked to be (formats.md §3.12, `add`): `None` leaves a field as it is
/// (a new binding: no bound, no group).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BindingSpec {
    pub period: Period,
    pub makegroup: Option<bool>,
}

/// What deleting a cohort removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CohortDeleted {
    pub members: usize,
    pub bindings: usize,
    pub enrolments: usize,
}

pub struct Cohorts;

impl Cohorts {
    // ----- cohorts ---------------------------------------------------------------------------

    pub fn get(txn: &impl StoreRead, id: u64) -> ModelResult<Option<Cohort>> {
        Ok(txn.get_json(SPACE, &id_key(id))?)
    }

    /// The cohort a key designates, or `None` (an id that is not a number designates none).
    pub fn find(txn: &impl StoreRead, key: CohortKey, value: &str) -> ModelResult<Option<Cohort>> {
        match key {
            CohortKey::Id => match value.parse::<u64>() {
                Ok(id) if id > 0 => Self::get(txn, id),
                _ => Ok(None),
            },
            CohortKey::Name => NAMES.follow(txn, value.as_bytes(), |t, id| Self::get(t, id)),
            CohortKey::Idnumber => {
                IDNUMBERS.follow(txn, value.as_bytes(), |t, id| Self::get(t, id))
            }
        }
    }

    /// Creates a cohort: a non-empty name no other cohort holds, an idnumber likewise when not
    /// empty, an existing category (0: site-wide). The record's id is assigned here.
    pub fn create(txn: &mut Txn<'_>, mut cohort: Cohort) -> ModelResult<Cohort> {
        Self::check(txn, &cohort, 0)?;
        cohort.id = txn.next_id(SEQUENCE)?;
        cohort.v = MODEL_VERSION;
        txn.put_json(SPACE, &id_key(cohort.id), &cohort)?;
        NAMES.put(txn, cohort.name.as_bytes(), cohort.id)?;
        IDNUMBERS.put(txn, cohort.idnumber.as_bytes(), cohort.id)?;
        Ok(cohort)
    }

    /// Writes a changed cohort back (name, idnumber, description, category, component),
    /// moving its index entries; a name or idnumber another cohort holds is refused. The
    /// groups its bindings made keep their names.
    pub fn save(txn: &mut Txn<'_>, cohort: &mut Cohort, now: i64) -> ModelResult<()> {
        let before = Self::get(txn, cohort.id)?.ok_or_else(|| {
            ModelError::Conflict(format!("cohort {} no longer exists", cohort.id))
        })?;
        Self::check(txn, cohort, cohort.id)?;
        NAMES.change(
            txn,
            before.name.as_bytes(),
            cohort.name.as_bytes(),
            cohort.id,
        )?;
        IDNUMBERS.change(
            txn,
            before.idnumber.as_bytes(),
            cohort.idnumber.as_bytes(),
            cohort.id,
        )?;
        cohort.v = MODEL_VERSION;
        cohort.timemodified = now;
        txn.put_json(SPACE, &id_key(cohort.id), cohort)?;
        Ok(())
    }

    fn check(txn: &impl StoreRead, cohort: &Cohort, id: u64) -> ModelResult<()> {
        if cohort.name.is_empty() {
            return Err(ModelError::Conflict("a cohort needs a name".into()));
        }
        NAMES.check_free(txn, cohort.name.as_bytes(), &cohort.name, id)?;
        IDNUMBERS.check_free(txn, cohort.idnumber.as_bytes(), &cohort.idnumber, id)?;
        if cohort.category != 0 && Categories::get(txn, cohort.category)?.is_none() {
            return Err(ModelError::Conflict(format!(
                "category {} does not exist",
                cohort.category
            )));
        }
        Ok(())
    }

    /// Deletes a cohort with its bindings and what they made, then its memberships.
    pub fn delete(txn: &mut Txn<'_>, cohort: &Cohort, now: i64) -> ModelResult<CohortDeleted> {
        let mut done = CohortDeleted::default();
        for binding in Self::bindings(txn, cohort.id)? {
            done.enrolments += Self::unbind(txn, &binding, now)?.unenrolled;
            done.bindings += 1;
        }
        for user in Self::members(txn, cohort.id)? {
            txn.remove(MEMBER_BY_USER, &ids(&[user, cohort.id]))?;
            done.members += 1;
        }
        remove_prefix(txn, MEMBER_SPACE, &id_key(cohort.id))?;
        NAMES.remove(txn, cohort.name.as_bytes())?;
        IDNUMBERS.remove(txn, cohort.idnumber.as_bytes())?;
        txn.remove(SPACE, &id_key(cohort.id))?;
        Ok(done)
    }

    // ----- members ---------------------------------------------------------------------------

    /// The user ids of a cohort's members, in id order.
    pub fn members(txn: &impl StoreRead, cohort: u64) -> ModelResult<Vec<u64>> {
        Ok(txn
            .scan_prefix(MEMBER_SPACE, &id_key(cohort), usize::MAX)?
            .iter()
            .filter_map(|(k, _)| id_at(k, 1))
            .collect())
    }

    pub fn is_member(txn: &impl StoreRead, cohort: u64, user: u64) -> ModelResult<bool> {
        Ok(txn.get(MEMBER_SPACE, &ids(&[cohort, user]))?.is_some())
    }

    /// The ids of the cohorts an account is in.
    pub fn cohorts_of(txn: &impl StoreRead, user: u64) -> ModelResult<Vec<u64>> {
        Ok(txn
            .scan_prefix(MEMBER_BY_USER, &id_key(user), usize::MAX)?
            .iter()
            .filter_map(|(k, _)| id_at(k, 1))
            .collect())
    }

    /// Adds a member (a live account: the caller found it) and enrols it through every
    /// enabled binding of the cohort. `None`: already a member, nothing written.
    pub fn add_member(
        txn: &mut Txn<'_>,
        cohort: &Cohort,
        user: u64,
        now: i64,
    ) -> ModelResult<Option<Synced>> {
        let key = ids(&[cohort.id, user]);
        if txn.get(MEMBER_SPACE, &key)?.is_some() {
            return Ok(None);
        }
        let member = CohortMember {
            v: MODEL_VERSION,
            user,
            timeadded: now,
            extra: Extra::new(),
        };
        txn.put_json(MEMBER_SPACE, &key, &member)?;
        txn.put(MEMBER_BY_USER, &ids(&[user, cohort.id]), &[])?;
        let mut synced = Synced::default();
        for binding in Self::bindings(txn, cohort.id)? {
            if binding.enabled {
                synced.add(Self::enrol_member(txn, &binding, user, now)?);
            }
        }
        Ok(Some(synced))
    }

    /// Removes a member and what the cohort's bindings made for it (enabled or not): its
    /// enrolments through them, the roles and group memberships they carried. `None`: not a
    /// member.
    pub fn remove_member(
        txn: &mut Txn<'_>,
        cohort: &Cohort,
        user: u64,
        now: i64,
    ) -> ModelResult<Option<Synced>> {
        if !Self::is_member(txn, cohort.id, user)? {
            return Ok(None);
        }
        txn.remove(MEMBER_SPACE, &ids(&[cohort.id, user]))?;
        txn.remove(MEMBER_BY_USER, &ids(&[user, cohort.id]))?;
        let mut synced = Synced::default();
        for binding in Self::bindings(txn, cohort.id)? {
            if Enrolments::unenrol(txn, &binding, user, now)? {
                synced.unenrolled += 1;
            }
        }
        Ok(Some(synced))
    }

    /// Removes every member (`free`); returns how many went and what their bindings lost.
    pub fn empty(txn: &mut Txn<'_>, cohort: &Cohort, now: i64) -> ModelResult<(usize, Synced)> {
        let members = Self::members(txn, cohort.id)?;
        let mut synced = Synced::default();
        for user in &members {
            if let Some(done) = Self::remove_member(txn, cohort, *user, now)? {
                synced.add(done);
            }
        }
        Ok((members.len(), synced))
    }

    /// Removes an account from every cohort, with what the bindings made for it (soft
    /// delete, formats.md §3.6). Returns how many memberships went.
    pub fn remove_user(txn: &mut Txn<'_>, user: u64, now: i64) -> ModelResult<usize> {
        let cohorts = Self::cohorts_of(txn, user)?;
        for id in &cohorts {
            match Self::get(txn, *id)? {
                Some(cohort) => {
                    Self::remove_member(txn, &cohort, user, now)?;
                }
                None => return Err(super::dangling(MEMBER_BY_USER, "a cohort")),
            }
        }
        Ok(cohorts.len())
    }

    // ----- bindings --------------------------------------------------------------------------

    /// Every binding of a cohort, by course then creation.
    pub fn bindings(txn: &impl StoreRead, cohort: u64) -> ModelResult<Vec<EnrolInstance>> {
        Self::bindings_under(txn, &id_key(cohort))
    }

    /// The bindings of a cohort to one course (one per role).
    pub fn bindings_between(
        txn: &impl StoreRead,
        cohort: u64,
        course: u64,
    ) -> ModelResult<Vec<EnrolInstance>> {
        Self::bindings_under(txn, &ids(&[cohort, course]))
    }

    /// The binding of a cohort to a course with a role, if any.
    pub fn binding(
        txn: &impl StoreRead,
        cohort: u64,
        course: u64,
        role: u64,
    ) -> ModelResult<Option<EnrolInstance>> {
        Ok(Self::bindings_between(txn, cohort, course)?
            .into_iter()
            .find(|b| b.role == role))
    }

    fn bindings_under(txn: &impl StoreRead, prefix: &[u8]) -> ModelResult<Vec<EnrolInstance>> {
        let mut found = Vec::new();
        for (key, _) in txn.scan_prefix(BINDING_SPACE, prefix, usize::MAX)? {
            let (Some(course), Some(id)) = (id_at(&key, 1), id_at(&key, 2)) else {
                return Err(super::dangling(BINDING_SPACE, "a binding"));
            };
            let instance = Enrolments::instance(txn, course, id)?
                .ok_or_else(|| super::dangling(BINDING_SPACE, "a binding"))?;
            found.push(instance);
        }
        Ok(found)
    }

    /// Binds a cohort to a course with a role: a new enabled `cohort` instance with the
    /// spec's period (and group: one named after the cohort, reused if present), and every
    /// member enrolled through it. Refuses a second binding of the same cohort, course and
    /// role.
    pub fn bind(
        txn: &mut Txn<'_>,
        cohort: &Cohort,
        course: &Course,
        role: u64,
        spec: &BindingSpec,
        now: i64,
    ) -> ModelResult<(EnrolInstance, Synced)> {
        if Self::binding(txn, cohort.id, course.id, role)?.is_some() {
            return Err(ModelError::Conflict(format!(
                "cohort `{}` is already bound to `{}` with that role",
                cohort.name, course.shortname
            )));
        }
        let mut binding = EnrolInstance::new(course.id, Method::Cohort);
        binding.cohort = cohort.id;
        binding.role = role;
        binding.timestart = spec.period.start.unwrap_or(0);
        binding.timeend = spec.period.end.unwrap_or(0);
        if spec.makegroup == Some(true) {
            binding.group = Self::group_for(txn, cohort, course, now)?;
        }
        let binding = Enrolments::create_instance(txn, binding, now)?;
        txn.put(
            BINDING_SPACE,
            &ids(&[cohort.id, course.id, binding.id]),
            &[],
        )?;
        let synced = Self::sync(txn, &binding, now)?;
        Ok((binding, synced))
    }

    /// `add` on an existing binding: re-enabled if disabled, the spec's period and group
    /// applied, then every member enrolled (made, reactivated, given the period and group).
    /// `None`: the binding already was so, nothing written.
    pub fn update_binding(
        txn: &mut Txn<'_>,
        cohort: &Cohort,
        course: &Course,
        binding: &EnrolInstance,
        spec: &BindingSpec,
        now: i64,
    ) -> ModelResult<Option<Synced>> {
        let mut wanted = binding.clone();
        wanted.enabled = true;
        if let Some(start) = spec.period.start {
            wanted.timestart = start;
        }
        if let Some(end) = spec.period.end {
            wanted.timeend = end;
        }
        let mut synced = Synced::default();
        match spec.makegroup {
            Some(true) if Self::bound_group(txn, binding)?.is_none() => {
                wanted.group = Self::group_for(txn, cohort, course, now)?;
            }
            Some(false) if binding.group != 0 => {
                // The group stays; the memberships the binding made go.
                if let Some(group) = Self::bound_group(txn, binding)? {
                    for user in Groups::members(txn, &group)? {
                        if Groups::remove_owned_member(txn, &group, user, binding.id)? {
                            synced.updated += 1;
                        }
                    }
                }
                wanted.group = 0;
            }
            _ => {}
        }
        if wanted == *binding {
            return Ok(None);
        }
        Enrolments::save_instance(txn, &wanted, now)?;
        synced.add(Self::sync(txn, &wanted, now)?);
        Ok(Some(synced))
    }

    /// `del` (false) and `restore` (true): disables a binding, suspending its enrolments, or
    /// re-enables it, reactivating them and enrolling the members who joined meanwhile.
    /// `None`: it already was so.
    pub fn set_enabled(
        txn: &mut Txn<'_>,
        binding: &EnrolInstance,
        enabled: bool,
        now: i64,
    ) -> ModelResult<Option<Synced>> {
        if binding.enabled == enabled {
            return Ok(None);
        }
        let mut changed = binding.clone();
        changed.enabled = enabled;
        Enrolments::save_instance(txn, &changed, now)?;
        if enabled {
            return Ok(Some(Self::sync(txn, &changed, now)?));
        }
        let mut synced = Synced::default();
        for user in Enrolments::users_of_instance(txn, &changed)? {
            if Enrolments::set_status(txn, &changed, user, false, Period::default(), now)?
                == Some(true)
            {
                synced.updated += 1;
            }
        }
        Ok(Some(synced))
    }

    /// `fulldel`: removes a binding with the enrolments, roles and group memberships it made
    /// (the group stays).
    pub fn unbind(txn: &mut Txn<'_>, binding: &EnrolInstance, now: i64) -> ModelResult<Synced> {
        let unenrolled = Enrolments::users_of_instance(txn, binding)?.len();
        Enrolments::remove_instance(txn, binding, now)?;
        Ok(Synced {
            unenrolled,
            ..Synced::default()
        })
    }

    /// Every member of an enabled binding's cohort enrolled through it as the binding says.
    fn sync(txn: &mut Txn<'_>, binding: &EnrolInstance, now: i64) -> ModelResult<Synced> {
        let mut synced = Synced::default();
        if !binding.enabled {
            return Ok(synced);
        }
        for user in Self::members(txn, binding.cohort)? {
            synced.add(Self::enrol_member(txn, binding, user, now)?);
        }
        Ok(synced)
    }

    /// One member through one binding: enrolled (or reactivated) with its role and period,
    /// and put in its group.
    fn enrol_member(
        txn: &mut Txn<'_>,
        binding: &EnrolInstance,
        user: u64,
        now: i64,
    ) -> ModelResult<Synced> {
        let request = EnrolRequest {
            roles: vec![binding.role],
            period: Period {
                start: Some(binding.timestart),
                end: Some(binding.timeend),
            },
            default_start: 0,
            reactivate: true,
        };
        let done = Enrolments::enrol_with(txn, binding, user, &request, now)?;
        let mut grouped = false;
        if let Some(group) = Self::bound_group(txn, binding)? {
            grouped = Groups::add_owned_member(txn, &group, user, binding.id, now)?;
        }
        Ok(Synced {
            enrolled: usize::from(done.created),
            updated: usize::from(!done.created && (done.changed || grouped)),
            unenrolled: 0,
        })
    }

    /// The group a binding fills, if it has one that still exists.
    fn bound_group(
        txn: &impl StoreRead,
        binding: &EnrolInstance,
    ) -> ModelResult<Option<super::Group>> {
        if binding.group == 0 {
            return Ok(None);
        }
        Groups::group(txn, binding.course, binding.group)
    }

    /// The course's group named after the cohort, created if missing (`makegroup`).
    fn group_for(
        txn: &mut Txn<'_>,
        cohort: &Cohort,
        course: &Course,
        now: i64,
    ) -> ModelResult<u64> {
        match Groups::find_group(txn, course.id, GroupKey::Name, &cohort.name)? {
            Some(group) => Ok(group.id),
            None => Ok(Groups::create_group(txn, course, &cohort.name, "", now)?.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::check::check_store;
    use crate::model::{Categories, Courses, Roles, User, Users};
    use crate::testing::MemoryStore;

    struct World {
        store: MemoryStore,
        courses: Vec<Course>,
        users: Vec<u64>,
        student: u64,
        teacher: u64,
    }

    fn world() -> World {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "C", true, 1).unwrap().id;
        let courses = ["A", "B"]
            .iter()
            .map(|s| Courses::create(&mut txn, Course::new(s, s, cat, 1)).unwrap())
            .collect();
        let users = ["ann", "bob", "cy"]
            .iter()
            .map(|u| Users::create(&mut txn, User::new(u, u, u, 1)).unwrap().id)
            .collect();
        let student = Roles::by_shortname(&txn, "student").unwrap().unwrap().id;
        let teacher = Roles::by_shortname(&txn, "teacher").unwrap().unwrap().id;
        drop(txn);
        World {
            store,
            courses,
            users,
            student,
            teacher,
        }
    }

    fn clean(txn: &Txn<'_>) {
        let findings = check_store(txn).unwrap();
        assert!(findings.is_clean(), "{:#?}", findings.problems);
    }

    /// (user, active) of the enrolments through a binding.
    fn through(txn: &Txn<'_>, binding: &EnrolInstance) -> Vec<(u64, bool)> {
        Enrolments::enrolments(txn, binding.course)
            .unwrap()
            .iter()
            .filter(|e| e.instance == binding.id)
            .map(|e| (e.user, e.active))
            .collect()
    }

    fn cohort(txn: &mut Txn<'_>, name: &str) -> Cohort {
        Cohorts::create(txn, Cohort::new(name, 1)).unwrap()
    }

    #[test]
    fn names_and_idnumbers_are_unique_and_found() {
        let mut w = world();
        let mut txn = w.store.txn();
        let mut a = Cohort::new("Class A", 1);
        a.idnumber = "CA".into();
        let a = Cohorts::create(&mut txn, a).unwrap();
        let err = Cohorts::create(&mut txn, Cohort::new("Class A", 1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "name `Class A` belongs to another cohort (id 1)"
        );
        let mut b = Cohort::new("Class B", 1);
        b.idnumber = "CA".into();
        assert!(Cohorts::create(&mut txn, b).is_err());
        let mut orphan = Cohort::new("Class C", 1);
        orphan.category = 99;
        assert_eq!(
            Cohorts::create(&mut txn, orphan).unwrap_err().to_string(),
            "category 99 does not exist"
        );
        let found = |txn: &Txn<'_>, key, value| Cohorts::find(txn, key, value).unwrap();
        assert_eq!(found(&txn, CohortKey::Idnumber, "CA"), Some(a.clone()));
        assert_eq!(found(&txn, CohortKey::Name, "Class A"), Some(a.clone()));
        assert_eq!(found(&txn, CohortKey::Id, "1"), Some(a.clone()));
        assert_eq!(found(&txn, CohortKey::Id, "x"), None);
        let mut renamed = a.clone();
        renamed.name = "Class Z".into();
        renamed.idnumber = String::new();
        Cohorts::save(&mut txn, &mut renamed, 2).unwrap();
        assert_eq!(found(&txn, CohortKey::Name, "Class A"), None);
        assert_eq!(found(&txn, CohortKey::Idnumber, "CA"), None);
        assert_eq!(found(&txn, CohortKey::Name, "Class Z"), Some(renamed));
        clean(&txn);
    }

    /// Joining enrols through every enabled binding with its role, period and group; leaving
    /// removes only what the bindings made: a manual enrolment of the same account stays, with
    /// the group membership a row made.
    #[test]
    fn members_follow_the_bindings_and_leave_the_rest_alone() {
        let mut w = world();
        let (ann, bob) = (w.users[0], w.users[1]);
        let mut txn = w.store.txn();
        let class = cohort(&mut txn, "Class");
        let spec = BindingSpec {
            period: Period {
                start: Some(100),
                end: Some(900),
            },
            makegroup: Some(true),
        };
        let (a, made) =
            Cohorts::bind(&mut txn, &class, &w.courses[0], w.student, &spec, 1).unwrap();
        assert!(made.is_empty(), "an empty cohort enrols nobody");
        let (b, _) = Cohorts::bind(
            &mut txn,
            &class,
            &w.courses[1],
            w.teacher,
            &BindingSpec::default(),
            1,
        )
        .unwrap();
        assert!(Cohorts::bind(&mut txn, &class, &w.courses[1], w.teacher, &spec, 1).is_err());
        // Bob is a manual participant of A and a member of its group, before the cohort.
        let manual =
            Enrolments::ensure_instance(&mut txn, &w.courses[0], Method::Manual, 1).unwrap();
        Enrolments::enrol(&mut txn, &manual, bob, &[w.teacher], 1).unwrap();
        let group = Groups::find_group(&txn, w.courses[0].id, GroupKey::Name, "Class")
            .unwrap()
            .unwrap();
        Groups::add_member(&mut txn, &group, bob, 1).unwrap();

        let joined = Cohorts::add_member(&mut txn, &class, ann, 2)
            .unwrap()
            .unwrap();
        assert_eq!(joined.enrolled, 2);
        assert_eq!(Cohorts::add_member(&mut txn, &class, ann, 2).unwrap(), None);
        Cohorts::add_member(&mut txn, &class, bob, 2).unwrap();
        assert_eq!(through(&txn, &a), vec![(ann, true), (bob, true)]);
        let ann_a = &Enrolments::enrolments_of(&txn, w.courses[0].id, ann).unwrap()[0];
        assert_eq!((ann_a.timestart, ann_a.timeend), (100, 900));
        assert_eq!(Groups::members(&txn, &group).unwrap(), vec![ann, bob]);
        clean(&txn);

        let left = Cohorts::remove_member(&mut txn, &class, bob, 3)
            .unwrap()
            .unwrap();
        assert_eq!(left.unenrolled, 2);
        assert_eq!(through(&txn, &a), vec![(ann, true)]);
        assert_eq!(through(&txn, &b), vec![(ann, true)]);
        assert_eq!(
            Enrolments::enrolments_of(&txn, w.courses[0].id, bob)
                .unwrap()
                .len(),
            1,
            "the manual enrolment stays"
        );
        assert_eq!(
            Groups::members(&txn, &group).unwrap(),
            vec![ann, bob],
            "the membership a row made stays"
        );
        Cohorts::remove_member(&mut txn, &class, ann, 3).unwrap();
        assert!(Groups::members(&txn, &group).unwrap() == vec![bob]);
        assert!(Enrolments::assignments_of(&txn, w.courses[1].id, ann)
            .unwrap()
            .is_empty());
        clean(&txn);
    }

    /// `del` suspends, `restore` reactivates and enrols who joined meanwhile, `fulldel` removes
    /// what the binding made and keeps the group; deleting the cohort or soft-deleting an
    /// account removes the rest.
    #[test]
    fn disable_restore_unbind_and_the_cascades() {
        let mut w = world();
        let (ann, bob, cy) = (w.users[0], w.users[1], w.users[2]);
        let mut txn = w.store.txn();
        let class = cohort(&mut txn, "Class");
        Cohorts::add_member(&mut txn, &class, ann, 1).unwrap();
        let spec = BindingSpec {
            makegroup: Some(true),
            ..BindingSpec::default()
        };
        let (a, made) =
            Cohorts::bind(&mut txn, &class, &w.courses[0], w.student, &spec, 1).unwrap();
        assert_eq!(made.enrolled, 1);
        let off = Cohorts::set_enabled(&mut txn, &a, false, 2)
            .unwrap()
            .unwrap();
        assert_eq!(off.updated, 1);
        let a = Enrolments::instance(&txn, a.course, a.id).unwrap().unwrap();
        assert_eq!(through(&txn, &a), vec![(ann, false)]);
        assert_eq!(Cohorts::set_enabled(&mut txn, &a, false, 2).unwrap(), None);
        Cohorts::add_member(&mut txn, &class, bob, 3).unwrap();
        assert_eq!(
            through(&txn, &a),
            vec![(ann, false)],
            "disabled: nobody new"
        );
        clean(&txn);
        let on = Cohorts::set_enabled(&mut txn, &a, true, 4)
            .unwrap()
            .unwrap();
        assert_eq!((on.enrolled, on.updated), (1, 1));
        let a = Enrolments::instance(&txn, a.course, a.id).unwrap().unwrap();
        assert_eq!(through(&txn, &a), vec![(ann, true), (bob, true)]);
        // Dates applied to every enrolment of the binding.
        let spec = BindingSpec {
            period: Period {
                start: None,
                end: Some(500),
            },
            makegroup: None,
        };
        let changed = Cohorts::update_binding(&mut txn, &class, &w.courses[0], &a, &spec, 5)
            .unwrap()
            .unwrap();
        assert_eq!(changed.updated, 2);
        let a = Enrolments::instance(&txn, a.course, a.id).unwrap().unwrap();
        assert_eq!(
            Cohorts::update_binding(&mut txn, &class, &w.courses[0], &a, &spec, 5).unwrap(),
            None
        );
        clean(&txn);

        let group = Groups::group(&txn, a.course, a.group).unwrap().unwrap();
        assert_eq!(Cohorts::unbind(&mut txn, &a, 6).unwrap().unenrolled, 2);
        assert!(Enrolments::enrolments(&txn, a.course).unwrap().is_empty());
        assert!(Groups::members(&txn, &group).unwrap().is_empty());
        assert!(
            Groups::group(&txn, a.course, group.id).unwrap().is_some(),
            "the group stays"
        );
        assert!(Cohorts::bindings(&txn, class.id).unwrap().is_empty());
        clean(&txn);

        // Soft-deleting an account takes its memberships and their enrolments.
        Cohorts::add_member(&mut txn, &class, cy, 7).unwrap();
        Cohorts::bind(
            &mut txn,
            &class,
            &w.courses[1],
            w.student,
            &BindingSpec::default(),
            7,
        )
        .unwrap();
        let mut cy_user = Users::get(&txn, cy).unwrap().unwrap();
        Users::soft_delete(&mut txn, &mut cy_user, 8).unwrap();
        assert!(!Cohorts::is_member(&txn, class.id, cy).unwrap());
        assert!(Enrolments::enrolments_of(&txn, w.courses[1].id, cy)
            .unwrap()
            .is_empty());
        clean(&txn);

        let gone = Cohorts::delete(&mut txn, &class, 9).unwrap();
        assert_eq!(
            gone,
            CohortDeleted {
                members: 2,
                bindings: 1,
                enrolments: 2
            }
        );
        assert!(Enrolments::enrolments(&txn, w.courses[1].id)
            .unwrap()
            .is_empty());
        assert_eq!(Cohorts::find(&txn, CohortKey::Name, "Class").unwrap(), None);
        clean(&txn);
    }

    /// A binding's group deleted by a row: the binding fills no group any more.
    #[test]
    fn deleting_the_bound_group_unhooks_the_binding() {
        let mut w = world();
        let mut txn = w.store.txn();
        let class = cohort(&mut txn, "Class");
        Cohorts::add_member(&mut txn, &class, w.users[0], 1).unwrap();
        let spec = BindingSpec {
            makegroup: Some(true),
            ..BindingSpec::default()
        };
        let (a, _) = Cohorts::bind(&mut txn, &class, &w.courses[0], w.student, &spec, 1).unwrap();
        let group = Groups::group(&txn, a.course, a.group).unwrap().unwrap();
        Groups::delete_group(&mut txn, &group).unwrap();
        let a = Enrolments::instance(&txn, a.course, a.id).unwrap().unwrap();
        assert_eq!(a.group, 0);
        clean(&txn);
        // makegroup again makes a new group and fills it.
        Cohorts::update_binding(&mut txn, &class, &w.courses[0], &a, &spec, 2).unwrap();
        let a = Enrolments::instance(&txn, a.course, a.id).unwrap().unwrap();
        let group = Groups::group(&txn, a.course, a.group).unwrap().unwrap();
        assert_eq!(Groups::members(&txn, &group).unwrap(), vec![w.users[0]]);
        // makegroup 0 empties what the binding put there, keeps the group.
        let off = BindingSpec {
            makegroup: Some(false),
            ..BindingSpec::default()
        };
        Cohorts::update_binding(&mut txn, &class, &w.courses[0], &a, &off, 3).unwrap();
        assert!(Groups::members(&txn, &group).unwrap().is_empty());
        clean(&txn);
    }
}
