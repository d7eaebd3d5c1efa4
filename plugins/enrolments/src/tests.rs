//! The enrolments processor against an in-memory store, through the same runner the host
//! uses: every command in both modes, the group commands, and every failure kind (the store
//! untouched after a failing row).

use toolsync_plugin_api::model::{
    Categories, Course, Courses, Enrolments, GroupKey, Groups, Method, Roles, User, Users,
};
use toolsync_plugin_api::testing::{MemoryStore, RowResult, Runner};
use toolsync_plugin_api::OutcomeKind;

use crate::EnrolmentsProcessor;

const NOW: i64 = 1_800_000_000;

/// Accounts u1 (idnumber U1), u2 (U2), gone (deleted); courses A and B (B has a disabled self
/// method).
struct Fixture {
    store: MemoryStore,
    a: Course,
    b: Course,
    u1: u64,
}

fn fixture() -> Fixture {
    let mut store = MemoryStore::new();
    let mut txn = store.txn();
    Roles::seed_standard(&mut txn).unwrap();
    let cat = Categories::create(&mut txn, 0, "Cat", true, 1).unwrap().id;
    let a = Courses::create(&mut txn, Course::new("A", "A", cat, 1)).unwrap();
    let b = Courses::create(&mut txn, Course::new("B", "B", cat, 1)).unwrap();
    let mut ids = Vec::new();
    for name in ["u1", "u2", "gone"] {
        let mut user = User::new(name, "F", "L", 1);
        user.idnumber = name.to_uppercase();
        ids.push(Users::create(&mut txn, user).unwrap());
    }
    Users::soft_delete(&mut txn, &mut ids[2], 1).unwrap();
    let own = Enrolments::ensure_instance(&mut txn, &b, Method::SelfEnrol, 1).unwrap();
    let mut disabled = own.clone();
    disabled.enabled = false;
    Enrolments::save_instance(&mut txn, &disabled, 1).unwrap();
    drop(txn);
    Fixture {
        store,
        a,
        b,
        u1: ids[0].id,
    }
}

impl Fixture {
    fn run_with(
        &mut self,
        options: &[(&str, &str)],
        header: &str,
        rows: &[&str],
    ) -> Vec<RowResult> {
        let runner = options.iter().fold(
            Runner::new(EnrolmentsProcessor).started_at(NOW),
            |r, (k, v)| r.option(k, v),
        );
        runner
            .run_lines(&mut self.store, header, rows, ',')
            .expect("not refused")
            .rows
    }

    fn row(&mut self, header: &str, row: &str) -> RowResult {
        self.run_with(&[], header, &[row]).remove(0)
    }

    /// A row that must fail, leaving the store as it was; returns the reason.
    fn failing(&mut self, options: &[(&str, &str)], header: &str, row: &str) -> String {
        let before = self.store.clone();
        let result = self.run_with(options, header, &[row]).remove(0);
        assert_eq!(result.kind, OutcomeKind::Failed, "{result:?}");
        assert!(
            self.store == before,
            "a failed row left writes behind: {result:?}"
        );
        result.message
    }

    fn roles(&self, course: &Course) -> Vec<String> {
        let txn = self.store.read();
        let mut names: Vec<String> = Enrolments::assignments_of(&txn, course.id, self.u1)
            .unwrap()
            .iter()
            .map(|a| Roles::get(&txn, a.role).unwrap().unwrap().shortname)
            .collect();
        names.sort();
        names
    }

    /// (method, active, start, end) of u1's enrolments in a course.
    fn enrolments(&self, course: &Course) -> Vec<(Method, bool, i64, i64)> {
        let txn = self.store.read();
        Enrolments::enrolments_of(&txn, course.id, self.u1)
            .unwrap()
            .iter()
            .map(|e| {
                let i = Enrolments::instance(&txn, course.id, e.instance)
                    .unwrap()
                    .unwrap();
                (i.method, e.active, e.timestart, e.timeend)
            })
            .collect()
    }

    fn groups_of_u1(&self, course: &Course) -> Vec<String> {
        let txn = self.store.read();
        let mut names: Vec<String> = Groups::groups_of_member(&txn, course.id, self.u1)
            .unwrap()
            .iter()
            .map(|id| Groups::group(&txn, course.id, *id).unwrap().unwrap().name)
            .collect();
        names.sort();
        names
    }
}

const METHOD: &str = "cmd,rolename,uid,cid,enrol,starttime,endtime";

#[test]
fn add_enrols_with_role_and_period_then_updates() {
    let mut f = fixture();
    let r = f.row(METHOD, "add,student,U1,A,,,");
    assert_eq!(r.kind, OutcomeKind::Created, "{r:?}");
    assert_eq!(r.subject, "U1 in A");
    assert_eq!(f.enrolments(&f.a), vec![(Method::Manual, true, NOW, 0)]);
    assert_eq!(f.roles(&f.a), vec!["student"]);
    // Same row again: nothing to change.
    assert_eq!(
        f.row(METHOD, "add,student,U1,A,,,").kind,
        OutcomeKind::Unchanged
    );
    // Another role, and dates in two of §2.5's forms.
    let r = f.row(
        METHOD,
        "add,teacher,U1,A,manual,2026-09-01,2027-07-01T00:00:00Z",
    );
    assert_eq!(r.kind, OutcomeKind::Updated, "{r:?}");
    assert_eq!(
        f.enrolments(&f.a),
        vec![(Method::Manual, true, 1_788_220_800, 1_814_400_000)]
    );
    assert_eq!(f.roles(&f.a), vec!["student", "teacher"]);
    // 0 removes a bound.
    f.row(METHOD, "add,student,U1,A,,,0");
    assert_eq!(f.enrolments(&f.a)[0].3, 0);
}

#[test]
fn del_removes_the_enrolment_its_roles_and_the_groups_with_the_last_one() {
    let mut f = fixture();
    let header = "cmd,rolename,uid,cid,enrol,gcmd,g1";
    f.row(header, "add,student,U1,A,,gaddcreate,Red");
    assert_eq!(f.groups_of_u1(&f.a), vec!["Red"]);
    let r = f.row(header, "del,student,U1,A,,,");
    assert_eq!(r.kind, OutcomeKind::Deleted, "{r:?}");
    assert!(f.enrolments(&f.a).is_empty());
    assert!(f.roles(&f.a).is_empty());
    assert!(
        f.groups_of_u1(&f.a).is_empty(),
        "the last enrolment took the groups"
    );
    assert_eq!(
        f.row(header, "del,student,U1,A,,,").kind,
        OutcomeKind::Unchanged
    );
    // `delete` is `del`'s alias; B has no manual method: nobody to remove, nothing created.
    assert_eq!(
        f.row(header, "delete,*,U1,B,,,").kind,
        OutcomeKind::Unchanged
    );
    assert!(
        Enrolments::instance_of(&f.store.read(), f.b.id, Method::Manual)
            .unwrap()
            .is_none()
    );
}

#[test]
fn shift_replaces_the_roles_no_owner_gave() {
    let mut f = fixture();
    f.row(METHOD, "add,student,U1,A,,,");
    f.row(METHOD, "add,teacher,U1,A,,,");
    // A metacourse link from B gives u1 a role it owns in A.
    {
        let mut txn = f.store.txn();
        let manual = Enrolments::ensure_instance(&mut txn, &f.b, Method::Manual, 1).unwrap();
        let guest = Roles::by_shortname(&txn, "guest").unwrap().unwrap().id;
        Enrolments::enrol(&mut txn, &manual, f.u1, &[guest], 1).unwrap();
        Enrolments::link(&mut txn, &f.b, &f.a, 1).unwrap();
    }
    assert_eq!(f.roles(&f.a), vec!["guest", "student", "teacher"]);
    let r = f.row(METHOD, "shift,editingteacher,U1,A,,,");
    assert_eq!(r.kind, OutcomeKind::Updated, "{r:?}");
    assert_eq!(
        f.roles(&f.a),
        vec!["editingteacher", "guest"],
        "the link's role stays"
    );
    assert_eq!(
        f.row(METHOD, "shift,editingteacher,U1,A,,,").kind,
        OutcomeKind::Unchanged
    );
}

#[test]
fn enable_and_disable_set_the_state_and_need_an_enrolment() {
    let mut f = fixture();
    let reason = f.failing(&[], METHOD, "disable,,U1,A,,,");
    assert_eq!(reason, "not enrolled in `A` through manual");
    f.row(METHOD, "add,student,U1,A,,,");
    assert_eq!(f.row(METHOD, "disable,,U1,A,,,").kind, OutcomeKind::Updated);
    assert!(!f.enrolments(&f.a)[0].1);
    assert_eq!(
        f.row(METHOD, "disable,,U1,A,,,").kind,
        OutcomeKind::Unchanged
    );
    assert_eq!(
        f.row(METHOD, "enable,student,U1,A,,2026-01-01,").kind,
        OutcomeKind::Updated
    );
    assert_eq!(
        f.enrolments(&f.a)[0],
        (Method::Manual, true, 1_767_225_600, 0)
    );
    // `add` re-activates a suspended enrolment.
    f.row(METHOD, "disable,,U1,A,,,");
    assert_eq!(
        f.row(METHOD, "add,student,U1,A,,,").kind,
        OutcomeKind::Updated
    );
    assert!(f.enrolments(&f.a)[0].1);
}

#[test]
fn role_only_mode_gives_and_takes_roles_and_sets_every_enrolment() {
    let mut f = fixture();
    let roles = "cmd,rolename,uid,cid";
    assert_eq!(f.row(roles, "add,teacher,U1,A").kind, OutcomeKind::Created);
    assert!(f.enrolments(&f.a).is_empty(), "a role without an enrolment");
    assert_eq!(
        f.row(roles, "add,teacher,U1,A").kind,
        OutcomeKind::Unchanged
    );
    assert_eq!(f.row(roles, "add,student,U1,A").kind, OutcomeKind::Created);
    assert_eq!(
        f.row(roles, "shift,manager,U1,A").kind,
        OutcomeKind::Updated
    );
    assert_eq!(f.roles(&f.a), vec!["manager"]);
    assert_eq!(
        f.row(roles, "del,student,U1,A").kind,
        OutcomeKind::Unchanged
    );
    assert_eq!(f.row(roles, "del,*,U1,A").kind, OutcomeKind::Deleted);
    assert!(f.roles(&f.a).is_empty());
    // enable/disable act on the enrolments; none fails.
    let reason = f.failing(&[], roles, "disable,,U1,A");
    assert_eq!(reason, "no enrolment in `A` to disable");
    f.row(METHOD, "add,student,U1,A,,,");
    assert_eq!(f.row(roles, "disable,,U1,A").kind, OutcomeKind::Updated);
    assert!(!f.enrolments(&f.a)[0].1);
}

#[test]
fn default_cmd_applies_without_a_cmd_column_and_empty_cmd_means_add() {
    let mut f = fixture();
    let r = f.run_with(&[("default_cmd", "del")], "rolename,uid,cid", &["*,U1,A"]);
    assert_eq!(r[0].kind, OutcomeKind::Unchanged, "{r:?}");
    assert_eq!(
        f.row("cmd,rolename,uid,cid", ",student,U1,A").kind,
        OutcomeKind::Created
    );
}

#[test]
fn self_needs_an_enabled_method_unless_disabled_ones_are_allowed() {
    let mut f = fixture();
    let reason = f.failing(&[], METHOD, "add,student,U1,B,self,,");
    assert_eq!(
        reason,
        "the `self` method of course `B` is disabled (option use_disabled_instances allows it)"
    );
    let r = f.run_with(
        &[("use_disabled_instances", "true")],
        METHOD,
        &["add,student,U1,B,self,,"],
    );
    assert_eq!(r[0].kind, OutcomeKind::Created, "{r:?}");
    assert_eq!(f.enrolments(&f.b)[0].0, Method::SelfEnrol);
    // A has no self method at all.
    let reason = f.failing(&[], METHOD, "add,student,U1,A,self,,");
    assert_eq!(reason, "course `A` has no `self` method");
}

#[test]
fn group_commands_join_replace_and_leave() {
    let mut f = fixture();
    let h = "cmd,rolename,uid,cid,enrol,gcmd,g1,g2";
    let r = f.row(h, "add,student,U1,A,,gaddcreate,Red,Blue");
    assert_eq!(r.kind, OutcomeKind::Created);
    assert!(r.message.contains("created Red, Blue"), "{}", r.message);
    assert_eq!(f.groups_of_u1(&f.a), vec!["Blue", "Red"]);
    // greplace: leaves all, joins the named ones (which must exist).
    f.row(h, "add,student,U1,A,,gaddcreate,Green,");
    assert_eq!(
        f.row(h, "add,student,U1,A,,greplace,Red,").kind,
        OutcomeKind::Unchanged
    );
    assert_eq!(f.groups_of_u1(&f.a), vec!["Red"]);
    // greplace with no group: only leaves.
    f.row(h, "add,student,U1,A,,greplace,,");
    assert!(f.groups_of_u1(&f.a).is_empty());
    f.row(h, "add,student,U1,A,,greplacecreate,Violet,Red");
    assert_eq!(f.groups_of_u1(&f.a), vec!["Red", "Violet"]);
    // gdel: leaves the named ones; one the user is not in stays as it is.
    let r = f.row(h, "add,student,U1,A,,gdel,Red,Blue");
    assert!(r.message.contains("left Red"), "{}", r.message);
    assert_eq!(f.groups_of_u1(&f.a), vec!["Violet"]);
    // gadd joins existing groups.
    f.row(h, "add,student,U1,A,,gadd,Blue,");
    assert_eq!(f.groups_of_u1(&f.a), vec!["Blue", "Violet"]);
    let g = Groups::find_group(&f.store.read(), f.a.id, GroupKey::Name, "Blue")
        .unwrap()
        .unwrap();
    assert!(Groups::is_member(&f.store.read(), &g, f.u1).unwrap());
}

#[test]
fn each_failure_names_its_value_and_leaves_nothing() {
    let mut f = fixture();
    f.row(METHOD, "add,student,U1,A,,,");
    let h = "cmd,rolename,uid,cid,enrol,gcmd,g1";
    let cases: &[(&str, &str, &str)] = &[
        (h, "add,student,U9,A,,,", "no user with idnumber = U9"),
        (h, "add,student,U1,Z,,,", "`cid`: course not found: no course with shortname = Z"),
        (h, "add,boss,U1,A,,,", "`rolename`: no role with shortname = boss"),
        (h, "add,student,U1,A,sync,,", "`enrol`: unknown enrolment method `sync`: rows enrol through manual or self"),
        (h, "add,student,U1,A,meta,,", "`enrol`: unknown enrolment method `meta`: rows enrol through manual or self"),
        (h, "add,student,GONE,A,,,", "`uid`: account deleted (gone)"),
        (h, "add,*,U1,A,,,", "`rolename` * (every role) is for `del` only"),
        (h, "add,,U1,A,,,", "missing `rolename`"),
        (h, "shift,,U1,A,,,", "missing `rolename`"),
        (h, "add,student,,A,,,", "missing `uid`"),
        (h, "add,student,U1,,,,", "`cid`: missing `cid`"),
        (h, "add,student,U1,A,,gadd,", "`gcmd` gadd names no group: fill g1 (to g9)"),
        (h, "add,student,U1,A,,gdel,Nope", "`g1`: course `A` has no group named `Nope`"),
        // The enrolment of this row would be new: the failing group command takes it back.
        (h, "add,student,U2,A,,gadd,Nope", "`g1`: course `A` has no group named `Nope`"),
        (h, "del,student,U1,A,,gaddcreate,Red", "`gcmd`: the account holds no enrolment or role in `A` (after `cmd`), so it cannot be in its groups"),
        // Group commands that join nothing check it too.
        (h, "del,student,U1,A,,greplace,", "`gcmd`: the account holds no enrolment or role in `A` (after `cmd`), so it cannot be in its groups"),
        (h, "del,student,U1,A,,gdel,Red", "`gcmd`: the account holds no enrolment or role in `A` (after `cmd`), so it cannot be in its groups"),
    ];
    for (header, row, reason) in cases {
        let got = f.failing(&[], header, row);
        assert_eq!(&got, reason, "row {row}");
    }
}

#[test]
fn metacourse_links_follow_enrolments_made_here_and_keep_what_they_own() {
    let mut f = fixture();
    {
        let mut txn = f.store.txn();
        Enrolments::link(&mut txn, &f.a, &f.b, 1).unwrap();
    }
    f.row(METHOD, "add,student,U1,A,,2026-09-01,2027-07-01");
    // Mirrored into B with the period.
    assert_eq!(
        f.enrolments(&f.b),
        vec![(Method::Meta, true, 1_788_220_800, 1_814_400_000)]
    );
    assert_eq!(f.roles(&f.b), vec!["student"]);
    // Rows never touch what the link owns in B.
    let roles = "cmd,rolename,uid,cid";
    assert_eq!(f.row(roles, "del,*,U1,B").kind, OutcomeKind::Unchanged);
    let reason = f.failing(&[], roles, "disable,,U1,B");
    assert_eq!(reason, "no enrolment in `B` to disable");
    assert_eq!(f.roles(&f.b), vec!["student"]);
    // Suspending in A suspends the mirror: B's enrolment goes.
    f.row(METHOD, "disable,,U1,A,,,");
    assert!(f.enrolments(&f.b).is_empty());
    f.row(METHOD, "enable,,U1,A,,,");
    assert_eq!(f.enrolments(&f.b).len(), 1);
    f.row(METHOD, "del,student,U1,A,,,");
    assert!(f.enrolments(&f.b).is_empty());
    assert!(f.roles(&f.b).is_empty());
}

#[test]
fn the_model_check_is_clean_after_every_command() {
    let mut f = fixture();
    let h = "cmd,rolename,uid,cid,enrol,gcmd,g1";
    for row in [
        "add,student,U1,A,,gaddcreate,Red",
        "add,teacher,U2,A,,gaddcreate,Red",
        "shift,teacher,U1,A,,greplacecreate,Blue",
        "disable,,U1,A,,,",
        "del,*,U2,A,,,",
        "add,student,U2,A,,gadd,Blue",
        "del,student,U1,A,,,",
    ] {
        let r = f.row(h, row);
        assert_ne!(r.kind, OutcomeKind::Failed, "{row}: {r:?}");
        let findings = toolsync_plugin_api::model::check::check_store(&f.store.read()).unwrap();
        assert!(findings.is_clean(), "after {row}: {:?}", findings.problems);
    }
}

/// The brake: `del` and `shift` rows that would remove more than `max_delete_ratio` of the
/// enrolments and role assignments (from `max_delete_min` on) refuse the file before any row,
/// also when `default_cmd` makes a file without `cmd` remove.
#[test]
fn mass_removals_are_refused_unless_forced() {
    use toolsync_plugin_api::testing::Refusal;
    let mut f = fixture();
    // u1 and u2 enrolled in A as students (2 enrolments, 2 role assignments); u1 also
    // teacher there by role only (1 more assignment): 5 records.
    f.run_with(
        &[],
        "cmd,rolename,uid,cid,enrol",
        &["add,student,U1,A,", "add,student,U2,A,"],
    );
    f.row("cmd,rolename,uid,cid", "add,teacher,U1,A");
    let refuse = |f: &mut Fixture, options: &[(&str, &str)], header: &str, rows: &[&str]| {
        let runner = options.iter().fold(
            Runner::new(EnrolmentsProcessor).started_at(NOW),
            |r, (k, v)| r.option(k, v),
        );
        Refusal::expect_survey(runner.run_lines(&mut f.store, header, rows, ','))
    };
    // Role-only `del *` of u1's roles (student, teacher) and `shift` of u2 to teacher (its
    // student role goes): 3 of 5, over 0.5 × 5 = 2.5.
    let why = refuse(
        &mut f,
        &[("max_delete_min", "1")],
        "cmd,rolename,uid,cid",
        &["del,*,U1,A", "shift,teacher,U2,A"],
    );
    assert!(
        why.contains("would remove 3 of the 5 enrolments and role assignments"),
        "{why}"
    );
    // Without a `cmd` column, `default_cmd = del` removes too: two enrolments of five, over
    // 0.3 × 5 = 1.5; within the default ratio, they go.
    let no_cmd = ("rolename,uid,cid,enrol", ["student,U1,A,", "student,U2,A,"]);
    let why = refuse(
        &mut f,
        &[
            ("max_delete_min", "1"),
            ("max_delete_ratio", "0.3"),
            ("default_cmd", "del"),
        ],
        no_cmd.0,
        &no_cmd.1,
    );
    assert!(why.contains("would remove 2 of the 5"), "{why}");
    let rows = f.run_with(
        &[("max_delete_min", "1"), ("default_cmd", "del")],
        no_cmd.0,
        &no_cmd.1,
    );
    assert!(
        rows.iter().all(|r| r.kind == OutcomeKind::Deleted),
        "{rows:?}"
    );
}
