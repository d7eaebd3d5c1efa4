//! Enrolment methods ("instances"), user enrolments, role assignments, and metacourse links.
//!
//! A course has enrolment instances (manual, self, guest, meta, ...). A user enrolment ties an
//! account to a course through one instance; role assignments give the account roles in the
//! course. A role assignment has a *source*: 0 when no enrolment method owns it (manual
//! enrolment, a teacher from course-create), else the id of the instance that produced it (a
//! metacourse link). Removing an owning instance removes exactly what it produced.
//!
//! Metacourse links are `meta` instances in the meta course whose `master` is the course
//! feeding them. Every change to a user's enrolments or roles in a course goes through this
//! module, which then *mirrors* it into every course that course feeds, and onwards: so the
//! rule "each active enrolment in the master gives an enrolment in the meta course with the
//! same roles" (formats.md §3.5) holds after every row, whoever made the change. Links never
//! form a cycle ([`Enrolments::link`] refuses one), so mirroring ends.
//!
//! Key layout (all course-scoped keyspaces start with the course id):
//! - `enrol`: course, instance id → [`EnrolInstance`]
//! - `enrol.meta`: master course, meta course → instance id (which courses a course feeds)
//! - `enrol.user`: course, user, instance → [`UserEnrolment`]
//! - `enrol.by_user`: user, course, instance → nothing (a user's courses)
//! - `role.assignment`: course, user, role, source → [`RoleAssignment`]
//! - `role.assignment.by_user`: user, course, role, source → nothing (a user's roles)
//!
//! Cascades live here, never in a processor: unenrolling a user's last enrolment in a course
//! removes the roles no method owns and the group memberships there; soft-deleting an account
//! ([`Enrolments::remove_user`]) removes all it holds in every course.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{
    course::Courses, dangling, id_at, id_key, ids, is_zero, key_id, model_version, scan_records,
    Extra, ModelError, ModelResult, MODEL_VERSION,
};
use crate::model::{Course, Groups};
use crate::txn::{StoreRead, Txn};

pub const INSTANCE_SPACE: &str = "enrol";
pub(crate) const FEEDS: &str = "enrol.meta";
pub const ENROLMENT_SPACE: &str = "enrol.user";
pub(crate) const BY_USER: &str = "enrol.by_user";
pub const ASSIGNMENT_SPACE: &str = "role.assignment";
/// user, course, role, source → nothing: a user's role assignments everywhere.
pub(crate) const ASSIGNMENT_BY_USER: &str = "role.assignment.by_user";
pub(crate) const SEQUENCE: &str = "enrol";
/// Links deeper than this are refused: mirroring walks them.
const MAX_CHAIN: usize = 64;

/// An enrolment method. Stored as its lowercase word (`"self"` for [`Method::SelfEnrol`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Manual,
    #[serde(rename = "self")]
    SelfEnrol,
    Guest,
    /// A metacourse link: its participants mirror the master course's.
    Meta,
    /// A cohort binding: its participants are the cohort's members.
    Cohort,
}

impl Method {
    pub const ALL: [Method; 5] = [
        Method::Manual,
        Method::SelfEnrol,
        Method::Guest,
        Method::Meta,
        Method::Cohort,
    ];

    pub fn word(self) -> &'static str {
        match self {
            Method::Manual => "manual",
            Method::SelfEnrol => "self",
            Method::Guest => "guest",
            Method::Meta => "meta",
            Method::Cohort => "cohort",
        }
    }

    /// A method by its word (any case); an unknown word is refused naming the known ones.
    pub fn parse(word: &str) -> Result<Method, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.word().eq_ignore_ascii_case(word))
            .ok_or_else(|| {
                format!(
                    "unknown enrolment method `{word}`: the methods are {}",
                    Self::ALL.map(Method::word).join(", ")
                )
            })
    }

    /// A method a row may enrol through (`manual`, `self`; formats.md §3.7: the owned methods
    /// are made by their owners, `guest` enrols nobody); an unknown or other word is refused
    /// naming the accepted ones.
    pub fn for_rows(word: &str) -> Result<Method, String> {
        match Self::parse(word) {
            Ok(m @ (Method::Manual | Method::SelfEnrol)) => Ok(m),
            _ => Err(format!(
                "unknown enrolment method `{word}`: rows enrol through manual or self"
            )),
        }
    }

    /// Whether this method *owns* what it gives: its enrolments and role assignments are made
    /// and removed by its owner (a metacourse link, a cohort binding), never by a row's `del`,
    /// `shift`, `enable` or `disable` (formats.md §3.7).
    pub fn is_owned(self) -> bool {
        matches!(self, Method::Meta | Method::Cohort)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

/// An enrolment method of a course. A course may hold several instances of one method (one
/// per metacourse link, one per cohort binding).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolInstance {
    #[serde(default = "model_version")]
    pub v: u32,
    pub id: u64,
    pub course: u64,
    pub method: Method,
    pub enabled: bool,
    /// For `meta`: the course whose participants this instance mirrors.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub master: u64,
    /// For `cohort` (a binding): the cohort whose members it enrols.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cohort: u64,
    /// For `cohort`: the role its enrolments carry.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub role: u64,
    /// For `cohort`: the period of the enrolments it makes (0: no bound).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timestart: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeend: i64,
    /// For `cohort`: the group it puts its members in (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub group: u64,
    #[serde(flatten)]
    pub extra: Extra,
}

impl EnrolInstance {
    /// A new enabled instance of a course (its id is given when it is stored).
    pub fn new(course: u64, method: Method) -> EnrolInstance {
        EnrolInstance {
            v: MODEL_VERSION,
            id: 0,
            course,
            method,
            enabled: true,
            master: 0,
            cohort: 0,
            role: 0,
            timestart: 0,
            timeend: 0,
            group: 0,
            extra: Extra::new(),
        }
    }

    /// Whether an owner (a link, a binding) makes this instance's enrolments and the role
    /// assignments they carry: those record the instance as their `source`, and go with it.
    pub fn owns_roles(&self) -> bool {
        self.method.is_owned()
    }
}

/// An enrolment period as a row gives it: `None` leaves a bound as it is (a new enrolment:
/// its default), `Some(0)` removes it, `Some(t)` sets it (Unix seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

/// What [`Enrolments::enrol_with`] asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrolRequest {
    /// Roles given (owned by the instance when its method owns roles).
    pub roles: Vec<u64>,
    pub period: Period,
    /// The start of a new enrolment when the period gives none (the start of the run, for
    /// rows; 0 = no start).
    pub default_start: i64,
    /// Whether an existing suspended enrolment is made active (the enrolments processor's
    /// `add`: yes; the users file's enrolment columns: no, as Moodle's `enrol_user`).
    pub reactivate: bool,
}

/// What an enrolment request changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enrolled {
    /// The enrolment is new.
    pub created: bool,
    /// Something stored changed (the enrolment, its state or period, a role).
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserEnrolment {
    #[serde(default = "model_version")]
    pub v: u32,
    pub course: u64,
    pub user: u64,
    pub instance: u64,
    pub active: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timestart: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeend: i64,
    pub timecreated: i64,
    pub timemodified: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

impl UserEnrolment {
    /// Whether the enrolment counts at `now`: its method enabled, itself active, `now` inside
    /// its period (0 = no bound).
    pub fn is_effective(&self, instance_enabled: bool, now: i64) -> bool {
        instance_enabled
            && self.active
            && (self.timestart == 0 || self.timestart <= now)
            && (self.timeend == 0 || now < self.timeend)
    }

    /// Applies a period; returns whether a bound changed.
    fn apply(&mut self, period: Period) -> bool {
        let before = (self.timestart, self.timeend);
        if let Some(start) = period.start {
            self.timestart = start;
        }
        if let Some(end) = period.end {
            self.timeend = end;
        }
        before != (self.timestart, self.timeend)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleAssignment {
    #[serde(default = "model_version")]
    pub v: u32,
    pub course: u64,
    pub user: u64,
    pub role: u64,
    /// 0: not owned by an enrolment method; else the owning instance's id.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub source: u64,
    pub timemodified: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

pub struct Enrolments;

/// What [`Enrolments::unenrol_unowned`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unenrolled {
    pub enrolments: usize,
    pub assignments: usize,
    pub memberships: usize,
}

impl Enrolments {
    // ----- instances -------------------------------------------------------------------

    pub fn instances(txn: &impl StoreRead, course: u64) -> ModelResult<Vec<EnrolInstance>> {
        scan_records(txn, INSTANCE_SPACE, &id_key(course))
    }

    pub fn instance(
        txn: &impl StoreRead,
        course: u64,
        id: u64,
    ) -> ModelResult<Option<EnrolInstance>> {
        Ok(txn.get_json(INSTANCE_SPACE, &ids(&[course, id]))?)
    }

    /// The course's instances of a method, in creation order.
    pub fn instances_of(
        txn: &impl StoreRead,
        course: u64,
        method: Method,
    ) -> ModelResult<Vec<EnrolInstance>> {
        Ok(Self::instances(txn, course)?
            .into_iter()
            .filter(|i| i.method == method)
            .collect())
    }

    /// The course's first instance of a method.
    pub fn instance_of(
        txn: &impl StoreRead,
        course: u64,
        method: Method,
    ) -> ModelResult<Option<EnrolInstance>> {
        Ok(Self::instances_of(txn, course, method)?.into_iter().next())
    }

    /// The instance a row enrols through (formats.md §3.7): the course's first enabled
    /// instance of the method, else (with `allow_disabled`) its first disabled one; a missing
    /// `manual` instance is created. Refuses the owned methods (links and bindings make
    /// their own), a missing `self` or `guest` instance and a disabled one.
    pub fn instance_for_rows(
        txn: &mut Txn<'_>,
        course: &Course,
        method: Method,
        allow_disabled: bool,
        now: i64,
    ) -> ModelResult<EnrolInstance> {
        match Self::row_instance(txn, course, method, allow_disabled)? {
            Some(found) => Ok(found),
            None if method == Method::Manual => Self::ensure_instance(txn, course, method, now),
            None => Err(ModelError::Conflict(format!(
                "course `{}` has no `{method}` method",
                course.shortname
            ))),
        }
    }

    /// The instance a row acts on, as [`Enrolments::instance_for_rows`] picks it, without
    /// creating one: `None` when the course has no instance of the method (a `del` then finds
    /// nobody enrolled).
    pub fn row_instance(
        txn: &impl StoreRead,
        course: &Course,
        method: Method,
        allow_disabled: bool,
    ) -> ModelResult<Option<EnrolInstance>> {
        if method.is_owned() {
            return Err(ModelError::Conflict(format!(
                "`{method}` enrolments are made by their owner (a {}), not by rows: use manual or self",
                if method == Method::Meta { "metacourse link" } else { "cohort binding" }
            )));
        }
        let all = Self::instances_of(txn, course.id, method)?;
        if let Some(enabled) = all.iter().find(|i| i.enabled) {
            return Ok(Some(enabled.clone()));
        }
        match all.into_iter().next() {
            Some(disabled) if allow_disabled => Ok(Some(disabled)),
            Some(_) => Err(ModelError::Conflict(format!(
                "the `{method}` method of course `{}` is disabled (option use_disabled_instances allows it)",
                course.shortname
            ))),
            None => Ok(None),
        }
    }

    /// The course's instance of a method, created (enabled) when missing. Not for the owned
    /// methods: links are made by [`Enrolments::link`].
    pub fn ensure_instance(
        txn: &mut Txn<'_>,
        course: &Course,
        method: Method,
        now: i64,
    ) -> ModelResult<EnrolInstance> {
        if method.is_owned() {
            return Err(ModelError::Conflict(format!(
                "`{method}` instances are made by their owner (a link, a binding)"
            )));
        }
        if let Some(found) = Self::instance_of(txn, course.id, method)? {
            return Ok(found);
        }
        Self::add_instance(txn, course.id, method, 0, now)
    }

    /// A new enabled instance (several of one method may exist).
    fn add_instance(
        txn: &mut Txn<'_>,
        course: u64,
        method: Method,
        master: u64,
        now: i64,
    ) -> ModelResult<EnrolInstance> {
        let mut instance = EnrolInstance::new(course, method);
        instance.master = master;
        Self::create_instance(txn, instance, now)
    }

    /// Stores a new instance prepared by its owner (a cohort binding), with its id assigned
    /// here.
    pub(crate) fn create_instance(
        txn: &mut Txn<'_>,
        mut instance: EnrolInstance,
        now: i64,
    ) -> ModelResult<EnrolInstance> {
        instance.id = txn.next_id(SEQUENCE)?;
        Self::save_instance(txn, &instance, now)?;
        Ok(instance)
    }

    /// Rewrites an instance (enable/disable). Disabling or enabling changes who is active in
    /// the course, so linked courses are brought in step.
    pub fn save_instance(txn: &mut Txn<'_>, instance: &EnrolInstance, now: i64) -> ModelResult<()> {
        let before = Self::instance(txn, instance.course, instance.id)?;
        let mut record = instance.clone();
        record.v = MODEL_VERSION;
        txn.put_json(
            INSTANCE_SPACE,
            &ids(&[instance.course, instance.id]),
            &record,
        )?;
        if before.is_some_and(|b| b.enabled != instance.enabled) {
            for user in Self::users_of_instance(txn, instance)? {
                Self::mirror(txn, instance.course, user, now, 0)?;
            }
        }
        Ok(())
    }

    /// The accounts enrolled through an instance.
    pub(crate) fn users_of_instance(
        txn: &impl StoreRead,
        instance: &EnrolInstance,
    ) -> ModelResult<Vec<u64>> {
        Ok(Self::enrolments(txn, instance.course)?
            .into_iter()
            .filter(|e| e.instance == instance.id)
            .map(|e| e.user)
            .collect())
    }

    // ----- enrolments and roles -------------------------------------------------------------

    /// Every user enrolment of a course, by user.
    pub fn enrolments(txn: &impl StoreRead, course: u64) -> ModelResult<Vec<UserEnrolment>> {
        scan_records(txn, ENROLMENT_SPACE, &id_key(course))
    }

    /// A user's enrolments in a course.
    pub fn enrolments_of(
        txn: &impl StoreRead,
        course: u64,
        user: u64,
    ) -> ModelResult<Vec<UserEnrolment>> {
        scan_records(txn, ENROLMENT_SPACE, &ids(&[course, user]))
    }

    /// The courses a user has an enrolment in.
    pub fn courses_of(txn: &impl StoreRead, user: u64) -> ModelResult<Vec<u64>> {
        let mut courses: Vec<u64> = txn
            .scan_prefix(BY_USER, &id_key(user), usize::MAX)?
            .iter()
            .filter_map(|(k, _)| id_at(k, 1))
            .collect();
        courses.dedup();
        Ok(courses)
    }

    /// Every role assignment of a course.
    pub fn assignments(txn: &impl StoreRead, course: u64) -> ModelResult<Vec<RoleAssignment>> {
        scan_records(txn, ASSIGNMENT_SPACE, &id_key(course))
    }

    /// A user's role assignments in a course.
    pub fn assignments_of(
        txn: &impl StoreRead,
        course: u64,
        user: u64,
    ) -> ModelResult<Vec<RoleAssignment>> {
        scan_records(txn, ASSIGNMENT_SPACE, &ids(&[course, user]))
    }

    /// Whether the user takes part in the course: an active enrolment through an enabled
    /// method, whatever its period (a metacourse mirrors it with its period).
    pub fn is_active(txn: &impl StoreRead, course: u64, user: u64) -> ModelResult<bool> {
        Ok(Self::active_period(txn, course, user)?.is_some())
    }

    /// The span of the user's active enrolments through enabled methods in a course — the
    /// earliest start and the latest end, 0 for an open bound — or `None` when there is none.
    /// What a metacourse link gives in the course it feeds.
    fn active_period(txn: &impl StoreRead, course: u64, user: u64) -> ModelResult<Option<Period>> {
        let mut span: Option<(i64, i64)> = None;
        for enrolment in Self::enrolments_of(txn, course, user)? {
            if !enrolment.active
                || !Self::instance(txn, course, enrolment.instance)?.is_some_and(|i| i.enabled)
            {
                continue;
            }
            let (start, end) = (enrolment.timestart, enrolment.timeend);
            span = Some(match span {
                None => (start, end),
                Some((s, e)) => (
                    if s == 0 || start == 0 {
                        0
                    } else {
                        s.min(start)
                    },
                    if e == 0 || end == 0 { 0 } else { e.max(end) },
                ),
            });
        }
        Ok(span.map(|(start, end)| Period {
            start: Some(start),
            end: Some(end),
        }))
    }

    /// Whether the user holds an enrolment (active or suspended, any period) or a role in the
    /// course: what a group member needs (formats.md §3.9).
    pub fn participates(txn: &impl StoreRead, course: u64, user: u64) -> ModelResult<bool> {
        let prefix = ids(&[course, user]);
        Ok(!txn.scan_prefix(ENROLMENT_SPACE, &prefix, 1)?.is_empty()
            || !txn.scan_prefix(ASSIGNMENT_SPACE, &prefix, 1)?.is_empty())
    }

    /// Enrols a user through an instance (re-activating a suspended enrolment) and gives the
    /// roles, owned by the instance when its method owns roles. Returns whether anything
    /// changed. Linked courses follow.
    pub fn enrol(
        txn: &mut Txn<'_>,
        instance: &EnrolInstance,
        user: u64,
        roles: &[u64],
        now: i64,
    ) -> ModelResult<bool> {
        let request = EnrolRequest {
            roles: roles.to_vec(),
            reactivate: true,
            ..EnrolRequest::default()
        };
        Ok(Self::enrol_with(txn, instance, user, &request, now)?.changed)
    }

    /// Enrols a user through an instance with the request's period applied (a new enrolment
    /// is active, starts at `default_start` and has no end unless the period says otherwise)
    /// and gives the roles (owned by the instance when its method owns roles). An existing
    /// suspended enrolment is made active only when the request says so. Linked courses
    /// follow.
    pub fn enrol_with(
        txn: &mut Txn<'_>,
        instance: &EnrolInstance,
        user: u64,
        request: &EnrolRequest,
        now: i64,
    ) -> ModelResult<Enrolled> {
        let state = request.reactivate.then_some(true);
        let (period, default_start) = (request.period, request.default_start);
        let mut done = Self::put_enrolment(txn, instance, user, state, period, default_start, now)?;
        let roles = &request.roles;
        let source = if instance.owns_roles() {
            instance.id
        } else {
            0
        };
        for role in roles {
            done.changed |= Self::put_assignment(txn, instance.course, user, *role, source, now)?;
        }
        if done.changed {
            Self::mirror(txn, instance.course, user, now, 0)?;
        }
        Ok(done)
    }

    /// Sets a user's enrolment through an instance active or suspended, with the period
    /// applied. Returns whether it changed, or `None` when the user is not enrolled there.
    /// Linked courses follow.
    pub fn set_status(
        txn: &mut Txn<'_>,
        instance: &EnrolInstance,
        user: u64,
        active: bool,
        period: Period,
        now: i64,
    ) -> ModelResult<Option<bool>> {
        let key = enrolment_key(instance.course, user, instance.id);
        if txn.get(ENROLMENT_SPACE, &key)?.is_none() {
            return Ok(None);
        }
        let done = Self::put_enrolment(txn, instance, user, Some(active), period, 0, now)?;
        if done.changed {
            Self::mirror(txn, instance.course, user, now, 0)?;
        }
        Ok(Some(done.changed))
    }

    /// Gives a role in a course (source 0: owned by no method). Returns whether it was new.
    pub fn assign(
        txn: &mut Txn<'_>,
        course: u64,
        user: u64,
        role: u64,
        now: i64,
    ) -> ModelResult<bool> {
        let changed = Self::put_assignment(txn, course, user, role, 0, now)?;
        if changed {
            Self::mirror(txn, course, user, now, 0)?;
        }
        Ok(changed)
    }

    /// Removes a role the user holds in the course that no method owns. Returns whether there
    /// was one. Holding nothing more in the course (no enrolment, no role), the user leaves
    /// its groups. Linked courses follow.
    pub fn unassign(
        txn: &mut Txn<'_>,
        course: u64,
        user: u64,
        role: u64,
        now: i64,
    ) -> ModelResult<bool> {
        let key = ids(&[course, user, role, 0]);
        let Some(assignment) = txn.get_json::<RoleAssignment>(ASSIGNMENT_SPACE, &key)? else {
            return Ok(false);
        };
        Self::remove_assignment(txn, &assignment)?;
        Self::after_losing_roles(txn, course, user, now)?;
        Ok(true)
    }

    /// Removes every role the user holds in the course that no method owns (`*`), except
    /// `keep`; returns how many went. Holding nothing more in the course, the user leaves its
    /// groups. Linked courses follow.
    pub fn unassign_all(
        txn: &mut Txn<'_>,
        course: u64,
        user: u64,
        keep: Option<u64>,
        now: i64,
    ) -> ModelResult<usize> {
        let mut removed = 0;
        for assignment in Self::assignments_of(txn, course, user)? {
            if assignment.source == 0 && Some(assignment.role) != keep {
                Self::remove_assignment(txn, &assignment)?;
                removed += 1;
            }
        }
        if removed > 0 {
            Self::after_losing_roles(txn, course, user, now)?;
        }
        Ok(removed)
    }

    /// `shift` (formats.md §3.7): the user's roles in the course that no method owns become
    /// `role` alone. Returns (roles removed, whether `role` was added).
    pub fn shift_roles(
        txn: &mut Txn<'_>,
        course: u64,
        user: u64,
        role: u64,
        now: i64,
    ) -> ModelResult<(usize, bool)> {
        // Added first, so that the user never holds nothing in between (which would take
        // their group memberships).
        let added = Self::put_assignment(txn, course, user, role, 0, now)?;
        let removed = Self::unassign_all(txn, course, user, Some(role), now)?;
        if added && removed == 0 {
            Self::mirror(txn, course, user, now, 0)?;
        }
        Ok((removed, added))
    }

    /// After roles went: a user holding nothing more in the course leaves its groups; linked
    /// courses follow.
    fn after_losing_roles(txn: &mut Txn<'_>, course: u64, user: u64, now: i64) -> ModelResult<()> {
        if !Self::participates(txn, course, user)? {
            Groups::remove_user(txn, course, user)?;
        }
        Self::mirror(txn, course, user, now, 0)
    }

    /// Removes a user's enrolment through one instance, with the roles it owned; when no
    /// enrolment is left in the course, the roles owned by no method go too.
    pub fn unenrol(
        txn: &mut Txn<'_>,
        instance: &EnrolInstance,
        user: u64,
        now: i64,
    ) -> ModelResult<bool> {
        let removed = Self::drop_enrolment(txn, instance, user)?;
        if removed {
            Self::after_unenrol(txn, instance.course, user)?;
            Self::mirror(txn, instance.course, user, now, 0)?;
        }
        Ok(removed)
    }

    /// What goes with a user's last enrolment in a course: the roles no method owns, and the
    /// group memberships there. Returns (roles, memberships) removed.
    fn after_unenrol(txn: &mut Txn<'_>, course: u64, user: u64) -> ModelResult<(usize, usize)> {
        if !Self::enrolments_of(txn, course, user)?.is_empty() {
            return Ok((0, 0));
        }
        let mut roles = 0;
        for assignment in Self::assignments_of(txn, course, user)? {
            if assignment.source == 0 {
                Self::remove_assignment(txn, &assignment)?;
                roles += 1;
            }
        }
        let memberships = Groups::remove_user(txn, course, user)?;
        Ok((roles, memberships))
    }

    /// Removes everything an account holds in every course — enrolments, role assignments,
    /// group memberships — as soft-deleting it requires (formats.md §3.6); the courses it
    /// was in feed their metacourses the change.
    pub fn remove_user(txn: &mut Txn<'_>, user: u64, now: i64) -> ModelResult<()> {
        let mut courses: BTreeSet<u64> = Self::courses_of(txn, user)?.into_iter().collect();
        courses.extend(Self::courses_with_roles(txn, user)?);
        courses.extend(Groups::courses_of_member(txn, user)?);
        for course in courses {
            for enrolment in Self::enrolments_of(txn, course, user)? {
                Self::remove_enrolment_record(txn, &enrolment)?;
            }
            for assignment in Self::assignments_of(txn, course, user)? {
                Self::remove_assignment(txn, &assignment)?;
            }
            Groups::remove_user(txn, course, user)?;
            Self::mirror(txn, course, user, now, 0)?;
        }
        Ok(())
    }

    /// The courses where a user holds a role.
    pub fn courses_with_roles(txn: &impl StoreRead, user: u64) -> ModelResult<Vec<u64>> {
        let mut courses: Vec<u64> = txn
            .scan_prefix(ASSIGNMENT_BY_USER, &id_key(user), usize::MAX)?
            .iter()
            .filter_map(|(k, _)| id_at(k, 1))
            .collect();
        courses.dedup();
        Ok(courses)
    }

    fn remove_enrolment_record(txn: &mut Txn<'_>, e: &UserEnrolment) -> ModelResult<()> {
        txn.remove(
            ENROLMENT_SPACE,
            &enrolment_key(e.course, e.user, e.instance),
        )?;
        txn.remove(BY_USER, &ids(&[e.user, e.course, e.instance]))?;
        Ok(())
    }

    fn remove_assignment(txn: &mut Txn<'_>, a: &RoleAssignment) -> ModelResult<()> {
        txn.remove(ASSIGNMENT_SPACE, &assignment_key(a))?;
        txn.remove(
            ASSIGNMENT_BY_USER,
            &ids(&[a.user, a.course, a.role, a.source]),
        )?;
        Ok(())
    }

    /// Unenrols a user from a course, except what an owning method (a metacourse link, a
    /// cohort binding) gave: those enrolments and roles stay. When no enrolment is left, the
    /// group memberships there go too.
    pub fn unenrol_unowned(
        txn: &mut Txn<'_>,
        course: u64,
        user: u64,
        now: i64,
    ) -> ModelResult<Unenrolled> {
        let mut done = Unenrolled::default();
        for enrolment in Self::enrolments_of(txn, course, user)? {
            let instance = Self::instance(txn, course, enrolment.instance)?;
            if instance.as_ref().is_some_and(|i| i.owns_roles()) {
                continue;
            }
            Self::remove_enrolment_record(txn, &enrolment)?;
            done.enrolments += 1;
        }
        for assignment in Self::assignments_of(txn, course, user)? {
            if assignment.source == 0 {
                Self::remove_assignment(txn, &assignment)?;
                done.assignments += 1;
            }
        }
        let (roles, memberships) = Self::after_unenrol(txn, course, user)?;
        done.assignments += roles;
        done.memberships += memberships;
        if done.enrolments + done.assignments > 0 {
            Self::mirror(txn, course, user, now, 0)?;
        }
        Ok(done)
    }

    /// Removes the role assignments of users who hold no enrolment in the course. Returns how
    /// many went.
    pub fn remove_unbacked_assignments(
        txn: &mut Txn<'_>,
        course: u64,
        now: i64,
    ) -> ModelResult<usize> {
        let mut removed = 0;
        let mut users = BTreeSet::new();
        for assignment in Self::assignments(txn, course)? {
            if Self::enrolments_of(txn, course, assignment.user)?.is_empty() {
                Self::remove_assignment(txn, &assignment)?;
                users.insert(assignment.user);
                removed += 1;
            }
        }
        for user in users {
            Self::mirror(txn, course, user, now, 0)?;
        }
        Ok(removed)
    }

    /// Writes the user's enrolment through an instance in the given state (`None`: as it is;
    /// a new one is active), with the period applied (a new one starts at `default_start`,
    /// unless the period says otherwise).
    fn put_enrolment(
        txn: &mut Txn<'_>,
        instance: &EnrolInstance,
        user: u64,
        state: Option<bool>,
        period: Period,
        default_start: i64,
        now: i64,
    ) -> ModelResult<Enrolled> {
        let key = enrolment_key(instance.course, user, instance.id);
        let existing: Option<UserEnrolment> = txn.get_json(ENROLMENT_SPACE, &key)?;
        let created = existing.is_none();
        let mut record = existing.unwrap_or_else(|| UserEnrolment {
            v: MODEL_VERSION,
            course: instance.course,
            user,
            instance: instance.id,
            active: true,
            timestart: default_start,
            timeend: 0,
            timecreated: now,
            timemodified: now,
            extra: Extra::new(),
        });
        let mut changed = record.apply(period) | created;
        if let Some(active) = state.filter(|a| *a != record.active) {
            record.active = active;
            changed = true;
        }
        if !changed {
            return Ok(Enrolled::default());
        }
        record.v = MODEL_VERSION;
        record.timemodified = now;
        txn.put_json(ENROLMENT_SPACE, &key, &record)?;
        if created {
            txn.put(BY_USER, &ids(&[user, instance.course, instance.id]), &[])?;
        }
        Ok(Enrolled { created, changed })
    }

    fn drop_enrolment(txn: &mut Txn<'_>, instance: &EnrolInstance, user: u64) -> ModelResult<bool> {
        let key = enrolment_key(instance.course, user, instance.id);
        if txn.get(ENROLMENT_SPACE, &key)?.is_none() {
            return Ok(false);
        }
        txn.remove(ENROLMENT_SPACE, &key)?;
        txn.remove(BY_USER, &ids(&[user, instance.course, instance.id]))?;
        if instance.owns_roles() {
            for assignment in Self::assignments_of(txn, instance.course, user)? {
                if assignment.source == instance.id {
                    Self::remove_assignment(txn, &assignment)?;
                }
            }
            Groups::remove_owned(txn, instance.course, user, instance.id)?;
        }
        Ok(true)
    }

    fn put_assignment(
        txn: &mut Txn<'_>,
        course: u64,
        user: u64,
        role: u64,
        source: u64,
        now: i64,
    ) -> ModelResult<bool> {
        let key = ids(&[course, user, role, source]);
        if txn.get(ASSIGNMENT_SPACE, &key)?.is_some() {
            return Ok(false);
        }
        let assignment = RoleAssignment {
            v: MODEL_VERSION,
            course,
            user,
            role,
            source,
            timemodified: now,
            extra: Extra::new(),
        };
        txn.put_json(ASSIGNMENT_SPACE, &key, &assignment)?;
        txn.put(ASSIGNMENT_BY_USER, &ids(&[user, course, role, source]), &[])?;
        Ok(true)
    }

    // ----- metacourse links -----------------------------------------------------------------

    /// The link feeding `meta` from `master`, if any.
    pub fn link_between(
        txn: &impl StoreRead,
        master: u64,
        meta: u64,
    ) -> ModelResult<Option<EnrolInstance>> {
        match txn.get(FEEDS, &ids(&[master, meta]))? {
            None => Ok(None),
            Some(id) => {
                let id = key_id(&id).ok_or_else(|| dangling(FEEDS, "a link"))?;
                Self::instance(txn, meta, id)?
                    .map(Some)
                    .ok_or_else(|| dangling(FEEDS, "a link"))
            }
        }
    }

    /// The courses `course` feeds directly, as (meta course, instance id).
    pub fn fed_by(txn: &impl StoreRead, course: u64) -> ModelResult<Vec<(u64, u64)>> {
        txn.scan_prefix(FEEDS, &id_key(course), usize::MAX)?
            .iter()
            .map(|(k, v)| match (id_at(k, 1), key_id(v)) {
                (Some(meta), Some(instance)) => Ok((meta, instance)),
                _ => Err(dangling(FEEDS, "a link")),
            })
            .collect()
    }

    /// The chain of courses through which `from` already feeds `to`, both included, if any.
    pub fn feed_path(txn: &impl StoreRead, from: u64, to: u64) -> ModelResult<Option<Vec<u64>>> {
        // Breadth-first over the links, remembering how each course was reached.
        let mut reached: Vec<(u64, usize)> = vec![(from, usize::MAX)];
        let mut next = 0;
        while next < reached.len() {
            let (course, _) = reached[next];
            if course == to {
                let mut path = vec![course];
                let mut at = reached[next].1;
                while at != usize::MAX {
                    path.push(reached[at].0);
                    at = reached[at].1;
                }
                path.reverse();
                return Ok(Some(path));
            }
            for (meta, _) in Self::fed_by(txn, course)? {
                if !reached.iter().any(|(c, _)| *c == meta) {
                    reached.push((meta, next));
                }
            }
            next += 1;
        }
        Ok(None)
    }

    /// Links `master` to `meta`: a `meta` instance in the meta course, and the master's current
    /// participants mirrored at once. Refuses a self-link, an existing link and a cycle (the
    /// reason shows the path by shortname).
    pub fn link(
        txn: &mut Txn<'_>,
        master: &Course,
        meta: &Course,
        now: i64,
    ) -> ModelResult<EnrolInstance> {
        if master.id == meta.id {
            return Err(ModelError::Conflict(format!(
                "`{}` cannot be its own metacourse",
                master.shortname
            )));
        }
        if Self::link_between(txn, master.id, meta.id)?.is_some() {
            return Err(ModelError::Conflict(format!(
                "`{}` already feeds `{}`",
                master.shortname, meta.shortname
            )));
        }
        if let Some(path) = Self::feed_path(txn, meta.id, master.id)? {
            let mut names = vec![master.shortname.clone()];
            for id in path {
                names.push(
                    Courses::get(txn, id)?
                        .map(|c| c.shortname)
                        .unwrap_or_else(|| format!("#{id}")),
                );
            }
            return Err(ModelError::Conflict(format!(
                "the link would close a cycle: {}",
                names.join(" → ")
            )));
        }
        if Self::chain_depth(txn, meta.id)? + 1 > MAX_CHAIN {
            return Err(ModelError::Conflict(format!(
                "links may not chain more than {MAX_CHAIN} courses"
            )));
        }
        let instance = Self::add_instance(txn, meta.id, Method::Meta, master.id, now)?;
        txn.put(FEEDS, &ids(&[master.id, meta.id]), &id_key(instance.id))?;
        let mut users: Vec<u64> = Self::enrolments(txn, master.id)?
            .iter()
            .map(|e| e.user)
            .collect();
        users.dedup();
        for user in users {
            Self::sync(txn, &instance, user, now, 0)?;
        }
        Ok(instance)
    }

    /// Removes the link feeding `meta` from `master` with the enrolments and roles it gave.
    /// Returns whether there was one.
    pub fn unlink(txn: &mut Txn<'_>, master: u64, meta: u64, now: i64) -> ModelResult<bool> {
        let Some(instance) = Self::link_between(txn, master, meta)? else {
            return Ok(false);
        };
        Self::remove_instance(txn, &instance, now)?;
        Ok(true)
    }

    /// Removes an instance with its enrolments (and what they owned); linked courses follow.
    pub fn remove_instance(
        txn: &mut Txn<'_>,
        instance: &EnrolInstance,
        now: i64,
    ) -> ModelResult<()> {
        let users = Self::users_of_instance(txn, instance)?;
        for user in &users {
            Self::drop_enrolment(txn, instance, *user)?;
            Self::after_unenrol(txn, instance.course, *user)?;
        }
        Self::remove_instance_record(txn, instance)?;
        for user in users {
            Self::mirror(txn, instance.course, user, now, 0)?;
        }
        Ok(())
    }

    /// An instance's record and the entry its owner keeps of it (a link's, a binding's).
    fn remove_instance_record(txn: &mut Txn<'_>, instance: &EnrolInstance) -> ModelResult<()> {
        txn.remove(INSTANCE_SPACE, &ids(&[instance.course, instance.id]))?;
        match instance.method {
            Method::Meta => txn.remove(FEEDS, &ids(&[instance.master, instance.course]))?,
            Method::Cohort => txn.remove(
                super::cohort::BINDING_SPACE,
                &ids(&[instance.cohort, instance.course, instance.id]),
            )?,
            _ => {}
        }
        Ok(())
    }

    /// Everything enrolment-related of a course that is being deleted: the courses it feeds
    /// lose what it gave them; its own instances, enrolments and roles go.
    pub(crate) fn remove_course(txn: &mut Txn<'_>, course: &Course, now: i64) -> ModelResult<()> {
        for (meta, _) in Self::fed_by(txn, course.id)? {
            Self::unlink(txn, course.id, meta, now)?;
        }
        for instance in Self::instances(txn, course.id)? {
            Self::remove_instance_record(txn, &instance)?;
        }
        for enrolment in Self::enrolments(txn, course.id)? {
            txn.remove(
                ENROLMENT_SPACE,
                &enrolment_key(course.id, enrolment.user, enrolment.instance),
            )?;
            txn.remove(
                BY_USER,
                &ids(&[enrolment.user, course.id, enrolment.instance]),
            )?;
        }
        for assignment in Self::assignments(txn, course.id)? {
            Self::remove_assignment(txn, &assignment)?;
        }
        Ok(())
    }

    fn chain_depth(txn: &impl StoreRead, course: u64) -> ModelResult<usize> {
        let mut depth = 0;
        let mut frontier = vec![course];
        while !frontier.is_empty() && depth <= MAX_CHAIN {
            let mut next = Vec::new();
            for c in frontier {
                next.extend(Self::fed_by(txn, c)?.into_iter().map(|(m, _)| m));
            }
            frontier = next;
            depth += 1;
        }
        Ok(depth)
    }

    /// Brings every course `course` feeds in step with the user's participation in it.
    fn mirror(
        txn: &mut Txn<'_>,
        course: u64,
        user: u64,
        now: i64,
        depth: usize,
    ) -> ModelResult<()> {
        if depth > MAX_CHAIN {
            return Err(ModelError::Conflict(
                "metacourse links nest too deep (a cycle?)".into(),
            ));
        }
        for (meta, instance) in Self::fed_by(txn, course)? {
            let instance =
                Self::instance(txn, meta, instance)?.ok_or_else(|| dangling(FEEDS, "a link"))?;
            Self::sync(txn, &instance, user, now, depth)?;
        }
        Ok(())
    }

    /// One link, one user: an active participant of the master is enrolled in the meta course
    /// through the link with the master's roles; anyone else loses what the link gave.
    fn sync(
        txn: &mut Txn<'_>,
        instance: &EnrolInstance,
        user: u64,
        now: i64,
        depth: usize,
    ) -> ModelResult<()> {
        let meta = instance.course;
        let mut changed = false;
        if let Some(period) = Self::active_period(txn, instance.master, user)? {
            changed |=
                Self::put_enrolment(txn, instance, user, Some(true), period, 0, now)?.changed;
            let wanted: BTreeSet<u64> = Self::assignments_of(txn, instance.master, user)?
                .iter()
                .map(|a| a.role)
                .collect();
            let mut held = BTreeSet::new();
            for assignment in Self::assignments_of(txn, meta, user)? {
                if assignment.source != instance.id {
                    continue;
                }
                if wanted.contains(&assignment.role) {
                    held.insert(assignment.role);
                } else {
                    Self::remove_assignment(txn, &assignment)?;
                    changed = true;
                }
            }
            for role in wanted.difference(&held) {
                changed |= Self::put_assignment(txn, meta, user, *role, instance.id, now)?;
            }
        } else if Self::drop_enrolment(txn, instance, user)? {
            Self::after_unenrol(txn, meta, user)?;
            changed = true;
        }
        if changed {
            Self::mirror(txn, meta, user, now, depth + 1)?;
        }
        Ok(())
    }
}

fn enrolment_key(course: u64, user: u64, instance: u64) -> Vec<u8> {
    ids(&[course, user, instance])
}

fn assignment_key(a: &RoleAssignment) -> Vec<u8> {
    ids(&[a.course, a.user, a.role, a.source])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Categories, Roles, User, Users};
    use crate::testing::MemoryStore;

    struct World {
        store: MemoryStore,
    }

    fn world() -> (World, Vec<Course>, u64, u64, u64) {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        Roles::seed_standard(&mut txn).unwrap();
        let cat = Categories::create(&mut txn, 0, "C", true, 1).unwrap().id;
        let courses = ["A", "B", "C", "D"]
            .iter()
            .map(|s| Courses::create(&mut txn, Course::new(s, s, cat, 1)).unwrap())
            .collect();
        let user = Users::create(&mut txn, User::new("u", "U", "U", 1))
            .unwrap()
            .id;
        let student = Roles::by_shortname(&txn, "student").unwrap().unwrap().id;
        let teacher = Roles::by_shortname(&txn, "teacher").unwrap().unwrap().id;
        drop(txn);
        (World { store }, courses, user, student, teacher)
    }

    fn roles_in(txn: &impl StoreRead, course: u64, user: u64) -> Vec<(u64, bool)> {
        Enrolments::assignments_of(txn, course, user)
            .unwrap()
            .iter()
            .map(|a| (a.role, a.source != 0))
            .collect()
    }

    #[test]
    fn links_mirror_participants_now_and_later_and_through_chains() {
        let (mut w, c, user, student, teacher) = world();
        let mut txn = w.store.txn();
        let manual = Enrolments::ensure_instance(&mut txn, &c[0], Method::Manual, 1).unwrap();
        Enrolments::enrol(&mut txn, &manual, user, &[student], 1).unwrap();
        // A feeds B (existing participant mirrored at once), B feeds C (chain).
        Enrolments::link(&mut txn, &c[0], &c[1], 1).unwrap();
        Enrolments::link(&mut txn, &c[1], &c[2], 1).unwrap();
        assert!(Enrolments::is_active(&txn, c[1].id, user).unwrap());
        assert_eq!(roles_in(&txn, c[2].id, user), vec![(student, true)]);
        // A later role change in A reaches C.
        Enrolments::assign(&mut txn, c[0].id, user, teacher, 2).unwrap();
        assert_eq!(
            roles_in(&txn, c[2].id, user),
            vec![(teacher, true), (student, true)]
                .into_iter()
                .filter(|_| true)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        );
        // Unenrolling in A empties B and C.
        Enrolments::unenrol(&mut txn, &manual, user, 3).unwrap();
        assert!(Enrolments::enrolments_of(&txn, c[1].id, user)
            .unwrap()
            .is_empty());
        assert!(roles_in(&txn, c[2].id, user).is_empty());
    }

    /// The last enrolment of a user in a course gone, the group memberships there go (in the
    /// model's unenrol, whoever unenrols), in the metacourse it fed too.
    #[test]
    fn the_last_enrolment_gone_takes_the_group_memberships() {
        let (mut w, c, user, student, _) = world();
        let mut txn = w.store.txn();
        let manual = Enrolments::ensure_instance(&mut txn, &c[0], Method::Manual, 1).unwrap();
        let own = Enrolments::ensure_instance(&mut txn, &c[0], Method::SelfEnrol, 1).unwrap();
        Enrolments::enrol(&mut txn, &manual, user, &[student], 1).unwrap();
        Enrolments::enrol(&mut txn, &own, user, &[], 1).unwrap();
        Enrolments::link(&mut txn, &c[0], &c[1], 1).unwrap();
        let group = Groups::create_group(&mut txn, &c[0], "G", "", 1).unwrap();
        let meta_group = Groups::create_group(&mut txn, &c[1], "M", "", 1).unwrap();
        Groups::add_member(&mut txn, &group, user, 1).unwrap();
        Groups::add_member(&mut txn, &meta_group, user, 1).unwrap();

        Enrolments::unenrol(&mut txn, &manual, user, 2).unwrap();
        assert_eq!(
            Groups::members(&txn, &group).unwrap(),
            vec![user],
            "one left"
        );
        Enrolments::unenrol(&mut txn, &own, user, 2).unwrap();
        assert!(Groups::members(&txn, &group).unwrap().is_empty());
        assert!(
            Groups::members(&txn, &meta_group).unwrap().is_empty(),
            "the metacourse lost its mirrored enrolment, and the groups with it"
        );
        assert!(Groups::courses_of_member(&txn, user).unwrap().is_empty());
    }

    #[test]
    fn cycles_and_self_links_are_refused_with_the_path() {
        let (mut w, c, ..) = world();
        let mut txn = w.store.txn();
        Enrolments::link(&mut txn, &c[0], &c[1], 1).unwrap();
        Enrolments::link(&mut txn, &c[1], &c[2], 1).unwrap();
        let err = Enrolments::link(&mut txn, &c[2], &c[0], 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the link would close a cycle: C → A → B → C"
        );
        assert!(Enrolments::link(&mut txn, &c[3], &c[3], 1).is_err());
        assert!(Enrolments::link(&mut txn, &c[0], &c[1], 1).is_err());
    }

    #[test]
    fn unlinking_removes_only_what_the_link_gave() {
        let (mut w, c, user, student, teacher) = world();
        let mut txn = w.store.txn();
        let manual_a = Enrolments::ensure_instance(&mut txn, &c[0], Method::Manual, 1).unwrap();
        Enrolments::enrol(&mut txn, &manual_a, user, &[student], 1).unwrap();
        let manual_b = Enrolments::ensure_instance(&mut txn, &c[1], Method::Manual, 1).unwrap();
        Enrolments::enrol(&mut txn, &manual_b, user, &[teacher], 1).unwrap();
        Enrolments::link(&mut txn, &c[0], &c[1], 1).unwrap();
        assert_eq!(
            Enrolments::enrolments_of(&txn, c[1].id, user)
                .unwrap()
                .len(),
            2
        );
        assert!(Enrolments::unlink(&mut txn, c[0].id, c[1].id, 2).unwrap());
        assert!(!Enrolments::unlink(&mut txn, c[0].id, c[1].id, 2).unwrap());
        assert_eq!(roles_in(&txn, c[1].id, user), vec![(teacher, false)]);
        assert_eq!(
            Enrolments::enrolments_of(&txn, c[1].id, user)
                .unwrap()
                .len(),
            1
        );
        assert!(Enrolments::instance_of(&txn, c[1].id, Method::Meta)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_reset_of_roles_keeps_what_links_own() {
        let (mut w, c, user, student, teacher) = world();
        let mut txn = w.store.txn();
        let manual_a = Enrolments::ensure_instance(&mut txn, &c[0], Method::Manual, 1).unwrap();
        Enrolments::enrol(&mut txn, &manual_a, user, &[student], 1).unwrap();
        Enrolments::link(&mut txn, &c[0], &c[1], 1).unwrap();
        let manual_b = Enrolments::ensure_instance(&mut txn, &c[1], Method::Manual, 1).unwrap();
        Enrolments::enrol(&mut txn, &manual_b, user, &[teacher], 1).unwrap();
        assert_eq!(
            Enrolments::unenrol_unowned(&mut txn, c[1].id, user, 2).unwrap(),
            Unenrolled {
                enrolments: 1,
                assignments: 1,
                memberships: 0
            }
        );
        assert_eq!(roles_in(&txn, c[1].id, user), vec![(student, true)]);
        // A role with no enrolment behind it is "local".
        Enrolments::assign(&mut txn, c[3].id, user, teacher, 2).unwrap();
        assert_eq!(
            Enrolments::remove_unbacked_assignments(&mut txn, c[3].id, 2).unwrap(),
            1
        );
        assert_eq!(
            Enrolments::remove_unbacked_assignments(&mut txn, c[1].id, 2).unwrap(),
            0
        );
    }

    #[test]
    fn methods_are_words_and_rows_enrol_through_manual_or_self_only() {
        assert_eq!(Method::parse("SELF"), Ok(Method::SelfEnrol));
        assert_eq!(
            Method::parse("sync").unwrap_err(),
            "unknown enrolment method `sync`: the methods are manual, self, guest, meta, cohort"
        );
        assert!(Method::for_rows("meta").is_err());
        assert_eq!(Method::for_rows("manual"), Ok(Method::Manual));
        let json = serde_json::to_string(&Method::SelfEnrol).unwrap();
        assert_eq!(json, "\"self\"");
    }

    /// A new enrolment starts at the default start; a period bound of 0 removes it; an
    /// existing suspended enrolment stays suspended unless the request reactivates it; the
    /// state and the period reach the courses a link feeds, as the span of the master's.
    #[test]
    fn periods_and_states_are_kept_and_mirrored() {
        let (mut w, c, user, student, _) = world();
        let mut txn = w.store.txn();
        let manual = Enrolments::ensure_instance(&mut txn, &c[0], Method::Manual, 1).unwrap();
        Enrolments::link(&mut txn, &c[0], &c[1], 1).unwrap();
        let request = EnrolRequest {
            roles: vec![student],
            period: Period {
                start: None,
                end: Some(900),
            },
            default_start: 100,
            reactivate: false,
        };
        let done = Enrolments::enrol_with(&mut txn, &manual, user, &request, 1).unwrap();
        assert_eq!((done.created, done.changed), (true, true));
        let held = |txn: &Txn<'_>, course: u64| {
            Enrolments::enrolments_of(txn, course, user)
                .unwrap()
                .iter()
                .map(|e| (e.active, e.timestart, e.timeend))
                .collect::<Vec<_>>()
        };
        assert_eq!(held(&txn, c[0].id), vec![(true, 100, 900)]);
        assert_eq!(held(&txn, c[1].id), vec![(true, 100, 900)], "mirrored");
        let again = Enrolments::enrol_with(&mut txn, &manual, user, &request, 2).unwrap();
        assert_eq!(again, Enrolled::default(), "nothing to change");
        // Suspended: the meta course loses it; a request without reactivate keeps it so.
        let suspend = Enrolments::set_status(&mut txn, &manual, user, false, Period::default(), 3);
        assert_eq!(suspend.unwrap(), Some(true));
        assert!(held(&txn, c[1].id).is_empty());
        Enrolments::enrol_with(&mut txn, &manual, user, &request, 4).unwrap();
        assert_eq!(held(&txn, c[0].id), vec![(false, 100, 900)]);
        let open = Period {
            start: Some(0),
            end: Some(0),
        };
        assert_eq!(
            Enrolments::set_status(&mut txn, &manual, user, true, open, 5).unwrap(),
            Some(true)
        );
        assert_eq!(held(&txn, c[0].id), vec![(true, 0, 0)]);
        assert_eq!(held(&txn, c[1].id), vec![(true, 0, 0)]);
        let own = Enrolments::ensure_instance(&mut txn, &c[2], Method::SelfEnrol, 1).unwrap();
        assert_eq!(
            Enrolments::set_status(&mut txn, &own, user, true, open, 5).unwrap(),
            None,
            "not enrolled there"
        );
    }

    #[test]
    fn effective_means_enabled_active_and_inside_the_period() {
        let e = UserEnrolment {
            v: MODEL_VERSION,
            course: 1,
            user: 1,
            instance: 1,
            active: true,
            timestart: 100,
            timeend: 200,
            timecreated: 0,
            timemodified: 0,
            extra: Extra::new(),
        };
        assert!(e.is_effective(true, 100));
        assert!(!e.is_effective(true, 99));
        assert!(!e.is_effective(true, 200));
        assert!(!e.is_effective(false, 150));
        assert!(!UserEnrolment {
            active: false,
            ..e.clone()
        }
        .is_effective(true, 150));
    }

    #[test]
    fn the_owned_methods_are_not_for_rows_and_a_disabled_one_needs_the_option() {
        let (mut w, c, ..) = world();
        let mut txn = w.store.txn();
        assert!(Enrolments::instance_for_rows(&mut txn, &c[0], Method::Meta, false, 1).is_err());
        let err = Enrolments::instance_for_rows(&mut txn, &c[0], Method::SelfEnrol, false, 1)
            .unwrap_err();
        assert_eq!(err.to_string(), "course `A` has no `self` method");
        let manual =
            Enrolments::instance_for_rows(&mut txn, &c[0], Method::Manual, false, 1).unwrap();
        let mut off = manual.clone();
        off.enabled = false;
        Enrolments::save_instance(&mut txn, &off, 1).unwrap();
        assert!(Enrolments::instance_for_rows(&mut txn, &c[0], Method::Manual, false, 1).is_err());
        assert_eq!(
            Enrolments::instance_for_rows(&mut txn, &c[0], Method::Manual, true, 1)
                .unwrap()
                .id,
            manual.id
        );
    }
}
