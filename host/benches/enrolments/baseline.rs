//! The hand-written loop: what `toolsync run enrolments` does to the store for a file of `add`
//! rows through `manual` with `gaddcreate` groups, with no plugin, no ABI, no staging map, no
//! journal and no reports.
//!
//! Same reading (toolsync's reader). Per row, the reads a row needs, against sled directly,
//! seeing the rows not yet committed through a local overlay:
//!
//! - the role by shortname (`role.shortname\0<name>` → id, then `role\0<id>`);
//! - the account by idnumber (`user.idnumber\0<idnumber>` → id, then `user\0<id>`, decoded: a
//!   deleted account fails the row);
//! - the course by shortname (`course.shortname\0<shortname>` → id, then `course\0<id>`);
//! - the course's enrolment instances (a prefix scan of `enrol\0<course>`, decoded): the
//!   first enabled `manual` one, created when the course has none;
//! - the enrolment (`enrol.user\0<course,user,instance>`), the role assignment
//!   (`role.assignment\0<course,user,role,0>`) and the membership
//!   (`group.member\0<course,group,user>`), each written when missing;
//! - the group by name (`group.name\0<course><name>` → id), created when missing.
//!
//! Same records serialised by serde_json (`EnrolInstance`, `UserEnrolment`, `RoleAssignment`,
//! `Group`, `Membership`) under the same keys as `Enrolments::instance_for_rows`,
//! `put_enrolment`, `put_assignment`, `Groups::create_group` and `add_member`, with their
//! by-user entries (`enrol.by_user`, `role.assignment.by_user`, `group.member.by_user`) and
//! the sequences `_seq\0enrol`, `_seq\0group`. What it leaves out, which toolsync does per
//! row: the metacourse links (`mirror`: one empty prefix scan of `enrol.meta`), the
//! participation checks before the groups (two prefix scans: the loop has just enrolled the
//! account), and the group record read after its name (the loop only needs the id).
//!
//! The same sled configuration, a `sled::Batch` every `BATCH_ROWS` rows and a `flush` at the
//! end.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use toolsync::run::BATCH_ROWS;
use toolsync_plugin_api::engine::full_key;
use toolsync_plugin_api::model::group::Membership;
use toolsync_plugin_api::model::{
    EnrolInstance, Extra, Group, Method, RoleAssignment, User, UserEnrolment, MODEL_VERSION,
};
use toolsync_reader::{CsvReader, Item, ReadOptions};

/// host/src/store.rs `CACHE_BYTES`.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct Counts {
    pub enrolments: u64,
    pub memberships: u64,
    pub groups: u64,
    pub instances: u64,
    pub failed: u64,
}

fn ids(parts: &[u64]) -> Vec<u8> {
    parts.iter().flat_map(|p| p.to_be_bytes()).collect()
}

fn id_of(value: &[u8]) -> Option<u64> {
    value.try_into().ok().map(u64::from_be_bytes)
}

/// Loads `file` into the store in `dir` (which holds the accounts and courses).
pub fn run(file: &Path, dir: &Path) -> Result<Counts, String> {
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(CACHE_BYTES)
        .open()
        .map_err(|e| format!("cannot open the store at {}: {e}", dir.display()))?;
    let (mut reader, info) =
        CsvReader::open(file, &ReadOptions::default()).map_err(|e| e.message)?;
    let names = info.header.ok_or("no header")?.names;
    let column = |name: &str| names.iter().position(|n| n == name);
    let need = |name: &str| column(name).ok_or(format!("no `{name}` column"));
    let (c_role, c_uid, c_cid) = (need("rolename")?, need("uid")?, need("cid")?);
    let (c_enrol, c_gcmd) = (column("enrol"), column("gcmd"));
    let c_groups: Vec<usize> = (1..=9).filter_map(|n| column(&format!("g{n}"))).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let db_err = |e: sled::Error| format!("store error: {e}");
    let json = |e: serde_json::Error| e.to_string();
    let get = |key: &[u8]| db.get(key).map_err(db_err);

    let instance_sequence = full_key("_seq", b"enrol");
    let group_sequence = full_key("_seq", b"group");
    let sequence =
        |key: &[u8]| -> Result<u64, String> { Ok(get(key)?.and_then(|v| id_of(&v)).unwrap_or(0)) };
    let (mut last_instance, mut last_group) =
        (sequence(&instance_sequence)?, sequence(&group_sequence)?);

    let mut counts = Counts::default();
    let mut batch = sled::Batch::default();
    // What the rows not yet committed wrote and later rows may read: the course's manual
    // instance, group names (full key → id), enrolment, assignment and membership keys.
    let mut pending_instances: HashMap<u64, u64> = HashMap::new();
    let mut pending_groups: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut pending: HashSet<Vec<u8>> = HashSet::new();
    let mut in_batch = 0u64;
    while let Some(item) = reader.next_item() {
        let fields = match item {
            Item::Row(record) => record.fields,
            Item::Bad(_) => {
                counts.failed += 1;
                continue;
            }
        };
        let cell = |c: Option<usize>| c.map_or("", |c| fields[c].as_str());
        if !matches!(cell(c_enrol), "" | "manual") || !matches!(cell(c_gcmd), "" | "gaddcreate") {
            return Err("the loop only does `add` through manual, with gaddcreate".into());
        }

        // The role, the account and the course, by their indexes.
        let role = match get(&full_key(
            "role.shortname",
            fields[c_role].to_lowercase().as_bytes(),
        ))?
        .and_then(|v| id_of(&v))
        {
            Some(id) if get(&full_key("role", &id.to_be_bytes()))?.is_some() => id,
            _ => {
                counts.failed += 1;
                continue;
            }
        };
        let user = match get(&full_key("user.idnumber", fields[c_uid].as_bytes()))?
            .and_then(|v| id_of(&v))
        {
            Some(id) => match get(&full_key("user", &id.to_be_bytes()))? {
                Some(record)
                    if !serde_json::from_slice::<User>(&record)
                        .map_err(json)?
                        .deleted =>
                {
                    id
                }
                _ => {
                    counts.failed += 1;
                    continue;
                }
            },
            None => {
                counts.failed += 1;
                continue;
            }
        };
        let course = match get(&full_key("course.shortname", fields[c_cid].as_bytes()))?
            .and_then(|v| id_of(&v))
        {
            Some(id) if get(&full_key("course", &id.to_be_bytes()))?.is_some() => id,
            _ => {
                counts.failed += 1;
                continue;
            }
        };

        // The course's first enabled manual instance, created when it has none.
        let instance = match pending_instances.get(&course) {
            Some(id) => *id,
            None => {
                let mut found = None;
                let mut disabled = false;
                for entry in db.scan_prefix(full_key("enrol", &course.to_be_bytes())) {
                    let (_, value) = entry.map_err(db_err)?;
                    let i: EnrolInstance = serde_json::from_slice(&value).map_err(json)?;
                    if i.method == Method::Manual {
                        if i.enabled {
                            found = Some(i.id);
                            break;
                        }
                        disabled = true;
                    }
                }
                match found {
                    Some(id) => id,
                    None if disabled => {
                        counts.failed += 1;
                        continue;
                    }
                    None => {
                        last_instance += 1;
                        let record = EnrolInstance {
                            id: last_instance,
                            ..EnrolInstance::new(course, Method::Manual)
                        };
                        batch.insert(
                            full_key("enrol", &ids(&[course, last_instance])),
                            serde_json::to_vec(&record).map_err(json)?,
                        );
                        pending_instances.insert(course, last_instance);
                        counts.instances += 1;
                        last_instance
                    }
                }
            }
        };

        // The enrolment (active) and its by-user entry.
        let key = full_key("enrol.user", &ids(&[course, user, instance]));
        if !pending.contains(&key) {
            let record = match get(&key)? {
                // An existing enrolment is made active again if it was suspended.
                Some(bytes) => {
                    let mut record: UserEnrolment = serde_json::from_slice(&bytes).map_err(json)?;
                    (!record.active).then(|| {
                        record.active = true;
                        record.timemodified = now;
                        record
                    })
                }
                None => {
                    batch.insert(
                        full_key("enrol.by_user", &ids(&[user, course, instance])),
                        &[],
                    );
                    counts.enrolments += 1;
                    Some(UserEnrolment {
                        v: MODEL_VERSION,
                        course,
                        user,
                        instance,
                        active: true,
                        timestart: now,
                        timeend: 0,
                        timecreated: now,
                        timemodified: now,
                        extra: Extra::new(),
                    })
                }
            };
            if let Some(record) = record {
                batch.insert(key.as_slice(), serde_json::to_vec(&record).map_err(json)?);
            }
            pending.insert(key);
        }

        // The role, owned by no method (source 0).
        let key = full_key("role.assignment", &ids(&[course, user, role, 0]));
        if !pending.contains(&key) && get(&key)?.is_none() {
            let record = RoleAssignment {
                v: MODEL_VERSION,
                course,
                user,
                role,
                source: 0,
                timemodified: now,
                extra: Extra::new(),
            };
            batch.insert(key.as_slice(), serde_json::to_vec(&record).map_err(json)?);
            batch.insert(
                full_key("role.assignment.by_user", &ids(&[user, course, role, 0])),
                &[],
            );
            pending.insert(key);
        }

        // The groups, created on first use, and the memberships.
        for &c in &c_groups {
            let name = fields[c].as_str();
            if name.is_empty() {
                continue;
            }
            let mut name_key = ids(&[course]);
            name_key.extend_from_slice(name.as_bytes());
            let name_key = full_key("group.name", &name_key);
            let found = match pending_groups.get(&name_key) {
                Some(id) => Some(*id),
                None => get(&name_key)?.and_then(|v| id_of(&v)),
            };
            let group = match found {
                Some(id) => id,
                None => {
                    last_group += 1;
                    let record = Group {
                        v: MODEL_VERSION,
                        id: last_group,
                        course,
                        name: name.to_string(),
                        idnumber: String::new(),
                        description: String::new(),
                        timecreated: now,
                        timemodified: 0,
                        extra: Extra::new(),
                    };
                    batch.insert(
                        full_key("group", &ids(&[course, last_group])),
                        serde_json::to_vec(&record).map_err(json)?,
                    );
                    batch.insert(name_key.as_slice(), &last_group.to_be_bytes());
                    pending_groups.insert(name_key, last_group);
                    counts.groups += 1;
                    last_group
                }
            };
            let key = full_key("group.member", &ids(&[course, group, user]));
            if !pending.contains(&key) && get(&key)?.is_none() {
                let record = Membership {
                    v: MODEL_VERSION,
                    user,
                    timeadded: now,
                    source: 0,
                    extra: Extra::new(),
                };
                batch.insert(key.as_slice(), serde_json::to_vec(&record).map_err(json)?);
                batch.insert(
                    full_key("group.member.by_user", &ids(&[user, course, group])),
                    &[],
                );
                pending.insert(key);
                counts.memberships += 1;
            }
        }

        in_batch += 1;
        if in_batch >= BATCH_ROWS {
            batch.insert(instance_sequence.as_slice(), &last_instance.to_be_bytes());
            batch.insert(group_sequence.as_slice(), &last_group.to_be_bytes());
            db.apply_batch(std::mem::take(&mut batch)).map_err(db_err)?;
            pending_instances.clear();
            pending_groups.clear();
            pending.clear();
            in_batch = 0;
        }
    }
    if let Some(error) = reader.read_error() {
        return Err(format!("the input could not be read to the end: {error}"));
    }
    batch.insert(instance_sequence.as_slice(), &last_instance.to_be_bytes());
    batch.insert(group_sequence.as_slice(), &last_group.to_be_bytes());
    db.apply_batch(batch).map_err(db_err)?;
    db.flush().map_err(db_err)?;
    Ok(counts)
}
