//! Courses and their sections.
//!
//! Invariants kept here: a shortname is unique among courses, a non-empty idnumber too; a
//! course's category exists; sections belong to an existing course; deleting a course removes
//! everything that hangs on it (sections, enrolment methods, user enrolments, role
//! assignments, groups, groupings, memberships, metacourse links both ways, activity data) in
//! the caller's transaction, so that no record is ever left pointing at a missing course.

use serde::{Deserialize, Serialize};

use super::index::{Multi, Unique};
use super::{
    activity::Activities, category::Categories, columns_of, enrol::Enrolments, group::Groups,
    id_key, ids, is_false, is_zero, model_version, remove_prefix, scan_records, Extra, ModelError,
    ModelResult, Omitted, MODEL_VERSION,
};
use crate::txn::{StoreRead, Txn};

pub const SPACE: &str = "course";
pub(crate) const BY_SHORTNAME: &str = "course.shortname";
pub(crate) const BY_IDNUMBER: &str = "course.idnumber";
/// Key: category id, course id → nothing: the courses of a category.
pub(crate) const BY_CATEGORY: &str = "course.category";
pub(crate) const SEQUENCE: &str = "course";

/// A course. Field names are course-create's column names; dates are Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Course {
    #[serde(default = "model_version")]
    pub v: u32,
    pub id: u64,
    pub shortname: String,
    pub fullname: String,
    pub category: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub idnumber: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    pub format: String,
    pub showgrades: bool,
    pub visible: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub legacyfiles: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub showreports: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub groupmodeforce: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub enablecompletion: bool,
    pub visibleold: bool,
    pub newsitems: u8,
    pub startdate: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub marker: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub maxbytes: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub coursedisplay: u8,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub defaultgroupingid: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub groupmode: u8,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub lang: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub theme: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sortorder: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cost: String,
    pub timecreated: i64,
    pub timemodified: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Course {
    /// A new course with the creation defaults of formats.md §3.1 (id assigned on create).
    pub fn new(shortname: &str, fullname: &str, category: u64, now: i64) -> Self {
        Course {
            v: MODEL_VERSION,
            id: 0,
            shortname: shortname.to_string(),
            fullname: fullname.to_string(),
            category,
            idnumber: String::new(),
            summary: String::new(),
            format: "topics".into(),
            showgrades: true,
            visible: true,
            legacyfiles: false,
            showreports: false,
            groupmodeforce: false,
            enablecompletion: false,
            visibleold: true,
            newsitems: 5,
            startdate: now,
            marker: 0,
            maxbytes: 0,
            coursedisplay: 0,
            defaultgroupingid: 0,
            groupmode: 0,
            lang: String::new(),
            theme: String::new(),
            sortorder: 0,
            cost: String::new(),
            timecreated: now,
            timemodified: now,
            extra: Extra::new(),
        }
    }

    /// The record as `show` and `export` print it: every stored column, empty ones included.
    pub fn to_columns(&self) -> serde_json::Map<String, serde_json::Value> {
        columns_of(
            self,
            Omitted {
                texts: &["idnumber", "summary", "lang", "theme", "cost"],
                flags: &[
                    "legacyfiles",
                    "showreports",
                    "groupmodeforce",
                    "enablecompletion",
                ],
                numbers: &[
                    "marker",
                    "maxbytes",
                    "coursedisplay",
                    "defaultgroupingid",
                    "groupmode",
                    "sortorder",
                ],
            },
        )
    }
}

/// The fields a course can be designated by (formats.md §2.6, option `course_key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CourseKey {
    Id,
    Shortname,
    Idnumber,
}

impl CourseKey {
    pub const WORDS: [&'static str; 3] = ["shortname", "idnumber", "id"];

    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "id" => Some(CourseKey::Id),
            "shortname" => Some(CourseKey::Shortname),
            "idnumber" => Some(CourseKey::Idnumber),
            _ => None,
        }
    }

    pub fn column(self) -> &'static str {
        match self {
            CourseKey::Id => "id",
            CourseKey::Shortname => "shortname",
            CourseKey::Idnumber => "idnumber",
        }
    }
}

pub struct Courses;

/// A shortname is unique among courses, a non-empty idnumber too (formats.md §3.1).
pub(crate) const SHORTNAMES: Unique = Unique::new(BY_SHORTNAME, "shortname", "course");
pub(crate) const IDNUMBERS: Unique = Unique::new(BY_IDNUMBER, "idnumber", "course");
/// The courses of each category: category id ++ course id.
pub(crate) const IN_CATEGORY: Multi = Multi::new(BY_CATEGORY);

impl Courses {
    pub fn get(txn: &impl StoreRead, id: u64) -> ModelResult<Option<Course>> {
        Ok(txn.get_json(SPACE, &id_key(id))?)
    }

    pub fn by_shortname(txn: &impl StoreRead, shortname: &str) -> ModelResult<Option<Course>> {
        SHORTNAMES.follow(txn, shortname.as_bytes(), Self::get)
    }

    pub fn by_idnumber(txn: &impl StoreRead, idnumber: &str) -> ModelResult<Option<Course>> {
        IDNUMBERS.follow(txn, idnumber.as_bytes(), Self::get)
    }

    /// The course a key designates (exact match; an id that is not a positive integer matches
    /// nothing).
    pub fn find(txn: &impl StoreRead, key: CourseKey, value: &str) -> ModelResult<Option<Course>> {
        match key {
            CourseKey::Id => match value.parse::<u64>() {
                Ok(id) if id > 0 => Self::get(txn, id),
                _ => Ok(None),
            },
            CourseKey::Shortname => Self::by_shortname(txn, value),
            CourseKey::Idnumber => Self::by_idnumber(txn, value),
        }
    }

    /// How many courses the store holds (one pass over the shortname index: small entries).
    pub fn count(txn: &impl StoreRead) -> ModelResult<u64> {
        Ok(txn.scan_prefix(BY_SHORTNAME, b"", usize::MAX)?.len() as u64)
    }

    /// Every course, in id order.
    pub fn all(txn: &impl StoreRead) -> ModelResult<Vec<Course>> {
        scan_records(txn, SPACE, b"")
    }

    /// The ids of the courses of a category.
    pub fn in_category(txn: &impl StoreRead, category: u64) -> ModelResult<Vec<u64>> {
        IN_CATEGORY.ids(txn, &id_key(category))
    }

    /// Stores a new course: checks its shortname, idnumber and category, assigns its id, writes
    /// its indexes. Sections and enrolment methods are the caller's next steps.
    pub fn create(txn: &mut Txn<'_>, mut course: Course) -> ModelResult<Course> {
        course.id = 0;
        Self::check(txn, &course)?;
        course.id = txn.next_id(SEQUENCE)?;
        course.v = MODEL_VERSION;
        txn.put_json(SPACE, &id_key(course.id), &course)?;
        SHORTNAMES.put(txn, course.shortname.as_bytes(), course.id)?;
        IDNUMBERS.put(txn, course.idnumber.as_bytes(), course.id)?;
        IN_CATEGORY.add(txn, &id_key(course.category), course.id)?;
        Ok(course)
    }

    /// Rewrites an existing course, moving the index entries of changed fields.
    pub fn save(txn: &mut Txn<'_>, course: &mut Course) -> ModelResult<()> {
        let stored = Self::get(txn, course.id)?.ok_or_else(|| {
            ModelError::Conflict(format!("course {} no longer exists", course.id))
        })?;
        Self::check(txn, course)?;
        let id = course.id;
        SHORTNAMES.change(
            txn,
            stored.shortname.as_bytes(),
            course.shortname.as_bytes(),
            id,
        )?;
        IDNUMBERS.change(
            txn,
            stored.idnumber.as_bytes(),
            course.idnumber.as_bytes(),
            id,
        )?;
        IN_CATEGORY.change(txn, &id_key(stored.category), &id_key(course.category), id)?;
        course.v = MODEL_VERSION;
        txn.put_json(SPACE, &id_key(id), course)?;
        Ok(())
    }

    fn check(txn: &impl StoreRead, course: &Course) -> ModelResult<()> {
        if course.shortname.is_empty() {
            return Err(ModelError::Conflict("a course needs a shortname".into()));
        }
        SHORTNAMES.check_free(
            txn,
            course.shortname.as_bytes(),
            &course.shortname,
            course.id,
        )?;
        IDNUMBERS.check_free(txn, course.idnumber.as_bytes(), &course.idnumber, course.id)?;
        if Categories::get(txn, course.category)?.is_none() {
            return Err(ModelError::Conflict(format!(
                "no category with id {}",
                course.category
            )));
        }
        Ok(())
    }

    /// Deletes a course and everything that hangs on it, in the caller's transaction.
    /// Categories stay, even empty.
    pub fn delete(txn: &mut Txn<'_>, course: &Course, now: i64) -> ModelResult<()> {
        // Links first: the courses this one feeds lose what it gave them (mirrored onwards).
        Enrolments::remove_course(txn, course, now)?;
        Groups::remove_course(txn, course.id)?;
        Activities::remove_course(txn, course.id)?;
        Sections::remove_course(txn, course.id)?;
        SHORTNAMES.remove(txn, course.shortname.as_bytes())?;
        IDNUMBERS.remove(txn, course.idnumber.as_bytes())?;
        IN_CATEGORY.remove(txn, &id_key(course.category), course.id)?;
        txn.remove(SPACE, &id_key(course.id))?;
        Ok(())
    }
}

pub const SECTION_SPACE: &str = "section";
/// Highest section number a course may have.
pub const SECTION_MAX: u32 = 52;

/// A course section (a "topic"). Key: course id, section number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    #[serde(default = "model_version")]
    pub v: u32,
    pub course: u64,
    pub section: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Section {
    pub fn new(course: u64, section: u32) -> Self {
        Section {
            v: MODEL_VERSION,
            course,
            section,
            name: String::new(),
            summary: String::new(),
            extra: Extra::new(),
        }
    }
}

pub struct Sections;

impl Sections {
    /// A course's sections, by number.
    pub fn of(txn: &impl StoreRead, course: u64) -> ModelResult<Vec<Section>> {
        scan_records(txn, SECTION_SPACE, &id_key(course))
    }

    pub fn get(txn: &impl StoreRead, course: u64, number: u32) -> ModelResult<Option<Section>> {
        Ok(txn.get_json(SECTION_SPACE, &section_key(course, number))?)
    }

    /// Writes a section of a course the caller holds (its record proves it exists).
    pub fn put(txn: &mut Txn<'_>, course: &Course, section: &mut Section) -> ModelResult<()> {
        if section.section > SECTION_MAX {
            return Err(ModelError::Conflict(format!(
                "section {} is over the highest, {SECTION_MAX}",
                section.section
            )));
        }
        section.course = course.id;
        section.v = MODEL_VERSION;
        txn.put_json(
            SECTION_SPACE,
            &section_key(course.id, section.section),
            section,
        )?;
        Ok(())
    }

    fn remove_course(txn: &mut Txn<'_>, course: u64) -> ModelResult<usize> {
        remove_prefix(txn, SECTION_SPACE, &id_key(course))
    }
}

fn section_key(course: u64, number: u32) -> Vec<u8> {
    let mut key = ids(&[course]);
    key.extend_from_slice(&number.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Categories, Enrolments, Users};
    use crate::model::{Roles, User};
    use crate::testing::MemoryStore;

    fn category(txn: &mut Txn<'_>) -> u64 {
        Categories::create(txn, 0, "Misc", true, 1).unwrap().id
    }

    #[test]
    fn shortnames_and_idnumbers_stay_unique_and_indexes_follow() {
        let mut store = MemoryStore::new();
        let mut txn = store.txn();
        let cat = category(&mut txn);
        let mut a = Course::new("A", "Course A", cat, 1);
        a.idnumber = "IA".into();
        let mut a = Courses::create(&mut txn, a).unwrap();
        assert!(Courses::create(&mut txn, Course::new("A", "again", cat, 1)).is_err());
        let mut b = Course::new("B", "Course B", cat, 1);
        b.idnumber = "IA".into();
        assert!(Courses::create(&mut txn, b).is_err());
        assert!(Courses::create(&mut txn, Course::new("C", "no category", 99, 1)).is_err());

        let other = Categories::create(&mut txn, 0, "Other", true, 1)
            .unwrap()
            .id;
        a.shortname = "A2".into();
        a.idnumber = String::new();
        a.category = other;
        Courses::save(&mut txn, &mut a).unwrap();
        assert!(Courses::by_shortname(&txn, "A").unwrap().is_none());
        assert_eq!(Courses::by_shortname(&txn, "A2").unwrap().unwrap().id, a.id);
        assert!(Courses::by_idnumber(&txn, "IA").unwrap().is_none());
        assert_eq!(Courses::in_category(&txn, other).unwrap(), vec![a.id]);
        assert!(Courses::in_category(&txn, cat).unwrap().is_empty());
        assert_eq!(Courses::count(&txn).unwrap(), 1);
        assert_eq!(
            Courses::find(&txn, CourseKey::Id, &a.id.to_string())
                .unwrap()
                .unwrap()
                .shortname,
            "A2"
        );
    }

    #[test]
    fn defaults_are_not_stored_but_always_shown() {
        let course = Course::new("S", "F", 1, 5);
        let stored = serde_json::to_string(&course).unwrap();
        assert!(!stored.contains("maxbytes"), "{stored}");
        let back: Course = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, course);
        let columns = course.to_columns();
        for key in ["maxbytes", "idnumber", "cost", "legacyfiles", "startdate"] {
            assert!(columns.contains_key(key), "{key}");
        }
        assert!(!columns.contains_key("v"));
        // A course with every omittable field set lists the same columns.
        let mut full = course.clone();
        full.idnumber = "I".into();
        full.summary = "S".into();
        full.lang = "fr".into();
        full.theme = "t".into();
        full.cost = "1".into();
        full.legacyfiles = true;
        full.showreports = true;
        full.groupmodeforce = true;
        full.enablecompletion = true;
        full.marker = 1;
        full.maxbytes = 1;
        full.coursedisplay = 1;
        full.defaultgroupingid = 1;
        full.groupmode = 1;
        full.sortorder = 1;
        let keys = |c: &Course| c.to_columns().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&course), keys(&full));
    }

    #[test]
    fn deleting_a_course_leaves_nothing_behind_but_its_category() {
        let mut store = MemoryStore::new();
        {
            let mut txn = store.txn();
            Roles::seed_standard(&mut txn).unwrap();
        }
        let before = store.keys_outside(&["category", "category.child"]);
        let mut txn = store.txn();
        let cat = category(&mut txn);
        let course = Courses::create(&mut txn, Course::new("A", "A", cat, 1)).unwrap();
        let other = Courses::create(&mut txn, Course::new("B", "B", cat, 1)).unwrap();
        for n in 0..3 {
            Sections::put(&mut txn, &course, &mut Section::new(0, n)).unwrap();
        }
        let user = Users::create(&mut txn, User::new("t", "T", "T", 1)).unwrap();
        let teacher = Roles::by_shortname(&txn, "editingteacher")
            .unwrap()
            .unwrap();
        let manual =
            Enrolments::ensure_instance(&mut txn, &course, crate::model::Method::Manual, 1)
                .unwrap();
        Enrolments::enrol(&mut txn, &manual, user.id, &[teacher.id], 1).unwrap();
        Enrolments::link(&mut txn, &course, &other, 1).unwrap();
        let group = Groups::create_group(&mut txn, &course, "G", "", 1).unwrap();
        Groups::add_member(&mut txn, &group, user.id, 1).unwrap();
        let grouping = Groups::create_grouping(&mut txn, &course, "GG", "", 1).unwrap();
        Groups::bind(&mut txn, &grouping, &group).unwrap();
        Activities::add(&mut txn, &course, "forum", "posts", &serde_json::json!({})).unwrap();

        Courses::delete(&mut txn, &course, 2).unwrap();
        Courses::delete(&mut txn, &other, 2).unwrap();
        drop(txn);
        // Users, roles, categories, sequences stay; nothing else.
        let after = store.keys_outside(&["category", "category.child", "user", "user.username"]);
        assert_eq!(after, before, "leftovers: {after:?}");
        assert_eq!(store.count("category"), 1);
    }
}
