//! The hand-written loop: what `toolsync run cohorts` does to the store for a file of
//! `cidnumber;userid` rows (`add` a member to an existing cohort), with no plugin, no ABI, no
//! staging map, no journal and no reports.
//!
//! Same reading (toolsync's reader). Per row, the reads a row needs, against sled directly,
//! seeing the rows not yet committed through a local overlay:
//!
//! - the cohort by idnumber (`cohort.idnumber\0<idnumber>` → id, then `cohort\0<id>`);
//! - the account by idnumber (`user.idnumber\0<idnumber>` → id, then `user\0<id>`, decoded: a
//!   deleted account fails the row);
//! - the membership (`cohort.member\0<cohort,user>`): present, the row is unchanged and
//!   nothing more is read or written;
//! - the cohort's bindings: a prefix scan of `cohort.binding\0<cohort>`, and each binding's
//!   instance (`enrol\0<course,instance>`, decoded);
//! - per enabled binding, the enrolment (`enrol.user\0<course,user,instance>`) and the role
//!   assignment the binding owns (`role.assignment\0<course,user,role,instance>`), each written
//!   when missing (an existing enrolment is made active and given the binding's period).
//!
//! Same records serialised by serde_json (`CohortMember`, `UserEnrolment`, `RoleAssignment`)
//! under the same keys as `Cohorts::add_member`, `Enrolments::put_enrolment` and
//! `put_assignment`, with their by-user entries (`cohort.member.by_user`, `enrol.by_user`,
//! `role.assignment.by_user`). What it leaves out, which toolsync does per enrolment made: the
//! metacourse links (`mirror`: one empty prefix scan of `enrol.meta` per course).
//!
//! The same sled configuration, a `sled::Batch` every `BATCH_ROWS` rows (none when the rows
//! wrote nothing) and a `flush` at the end.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashSet};
use std::hash::Hasher;
use std::path::Path;

use toolsync::run::BATCH_ROWS;
use toolsync_plugin_api::engine::{full_key, split_key};
use toolsync_plugin_api::model::{cohort, enrol, user};
use toolsync_plugin_api::model::{
    CohortMember, EnrolInstance, Extra, RoleAssignment, User, UserEnrolment, MODEL_VERSION,
};
use toolsync_reader::{CsvReader, Item, ReadOptions};

/// host/src/store.rs `CACHE_BYTES`.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct Counts {
    /// Members added.
    pub created: u64,
    /// Rows whose account already was a member.
    pub unchanged: u64,
    pub enrolments: u64,
    pub assignments: u64,
    pub failed: u64,
}

fn ids(parts: &[u64]) -> Vec<u8> {
    parts.iter().flat_map(|p| p.to_be_bytes()).collect()
}

fn id_at(key: &[u8], index: usize) -> Option<u64> {
    key.get(index * 8..index * 8 + 8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
}

/// A `sled::Batch` and how many writes it holds.
#[derive(Default)]
struct Writes {
    batch: sled::Batch,
    staged: usize,
}

impl Writes {
    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.batch.insert(key, value);
        self.staged += 1;
    }

    /// Applies the batch, unless it is empty.
    fn commit(&mut self, db: &sled::Db) -> Result<(), String> {
        if self.staged > 0 {
            db.apply_batch(std::mem::take(&mut self.batch))
                .map_err(|e| format!("store error: {e}"))?;
            self.staged = 0;
        }
        Ok(())
    }
}

fn open(dir: &Path) -> Result<sled::Db, String> {
    sled::Config::new()
        .path(dir)
        .cache_capacity(CACHE_BYTES)
        .open()
        .map_err(|e| format!("cannot open the store at {}: {e}", dir.display()))
}

/// Loads `file` into the store in `dir` (which holds the accounts, courses and bound cohorts).
pub fn run(file: &Path, dir: &Path) -> Result<Counts, String> {
    let db = open(dir)?;
    let (mut reader, info) =
        CsvReader::open(file, &ReadOptions::default()).map_err(|e| e.message)?;
    let names = info.header.ok_or("no header")?.names;
    let need = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .ok_or(format!("no `{name}` column"))
    };
    let (c_cohort, c_user) = (need("cidnumber")?, need("userid")?);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let db_err = |e: sled::Error| format!("store error: {e}");
    let json = |e: serde_json::Error| e.to_string();
    let get = |key: &[u8]| db.get(key).map_err(db_err);
    let id_of = |space: &str, key: &[u8]| -> Result<Option<u64>, String> {
        Ok(get(&full_key(space, key))?.and_then(|v| id_at(&v, 0)))
    };

    let mut counts = Counts::default();
    let mut batch = Writes::default();
    // The keys the rows not yet committed wrote (memberships, enrolments, assignments).
    let mut pending: HashSet<Vec<u8>> = HashSet::new();
    let mut in_batch = 0u64;
    loop {
        let fields = match reader.next_item() {
            None => break,
            Some(Item::Row(record)) => record.fields,
            Some(Item::Bad(_)) => {
                counts.failed += 1;
                continue;
            }
        };
        let row = (|| -> Result<bool, String> {
            // The cohort and the account, by their indexes.
            let Some(cohort) = id_of("cohort.idnumber", fields[c_cohort].as_bytes())? else {
                return Ok(false);
            };
            if get(&full_key(cohort::SPACE, &cohort.to_be_bytes()))?.is_none() {
                return Ok(false);
            }
            let Some(user) = id_of("user.idnumber", fields[c_user].as_bytes())? else {
                return Ok(false);
            };
            match get(&full_key(user::SPACE, &user.to_be_bytes()))? {
                Some(record)
                    if !serde_json::from_slice::<User>(&record)
                        .map_err(json)?
                        .deleted => {}
                _ => return Ok(false),
            }

            // The membership: present, nothing to do.
            let key = full_key(cohort::MEMBER_SPACE, &ids(&[cohort, user]));
            if pending.contains(&key) || get(&key)?.is_some() {
                counts.unchanged += 1;
                return Ok(true);
            }
            let member = CohortMember {
                v: MODEL_VERSION,
                user,
                timeadded: now,
                extra: Extra::new(),
            };
            batch.put(&key, &serde_json::to_vec(&member).map_err(json)?);
            batch.put(
                &full_key("cohort.member.by_user", &ids(&[user, cohort])),
                &[],
            );
            pending.insert(key);
            counts.created += 1;

            // Every enabled binding of the cohort: the enrolment and the role it owns.
            for entry in db.scan_prefix(full_key(cohort::BINDING_SPACE, &cohort.to_be_bytes())) {
                let (key, _) = entry.map_err(db_err)?;
                let key = &key[cohort::BINDING_SPACE.len() + 1..];
                let (Some(course), Some(instance)) = (id_at(key, 1), id_at(key, 2)) else {
                    return Err("a damaged binding key".into());
                };
                let Some(bytes) = get(&full_key(enrol::INSTANCE_SPACE, &ids(&[course, instance])))?
                else {
                    return Err("a binding without its instance".into());
                };
                let binding: EnrolInstance = serde_json::from_slice(&bytes).map_err(json)?;
                if !binding.enabled {
                    continue;
                }

                let key = full_key(enrol::ENROLMENT_SPACE, &ids(&[course, user, instance]));
                if !pending.contains(&key) {
                    let record = match get(&key)? {
                        Some(bytes) => {
                            let mut e: UserEnrolment =
                                serde_json::from_slice(&bytes).map_err(json)?;
                            let before = (e.active, e.timestart, e.timeend);
                            (e.active, e.timestart, e.timeend) =
                                (true, binding.timestart, binding.timeend);
                            (before != (e.active, e.timestart, e.timeend)).then(|| {
                                e.timemodified = now;
                                e
                            })
                        }
                        None => {
                            batch.put(
                                &full_key("enrol.by_user", &ids(&[user, course, instance])),
                                &[],
                            );
                            counts.enrolments += 1;
                            Some(UserEnrolment {
                                v: MODEL_VERSION,
                                course,
                                user,
                                instance,
                                active: true,
                                timestart: binding.timestart,
                                timeend: binding.timeend,
                                timecreated: now,
                                timemodified: now,
                                extra: Extra::new(),
                            })
                        }
                    };
                    if let Some(record) = record {
                        batch.put(&key, &serde_json::to_vec(&record).map_err(json)?);
                    }
                    pending.insert(key);
                }

                let role = binding.role;
                let key = full_key(
                    enrol::ASSIGNMENT_SPACE,
                    &ids(&[course, user, role, instance]),
                );
                if !pending.contains(&key) && get(&key)?.is_none() {
                    let record = RoleAssignment {
                        v: MODEL_VERSION,
                        course,
                        user,
                        role,
                        source: instance,
                        timemodified: now,
                        extra: Extra::new(),
                    };
                    batch.put(&key, &serde_json::to_vec(&record).map_err(json)?);
                    batch.put(
                        &full_key(
                            "role.assignment.by_user",
                            &ids(&[user, course, role, instance]),
                        ),
                        &[],
                    );
                    pending.insert(key);
                    counts.assignments += 1;
                }
            }
            Ok(true)
        })()?;
        if !row {
            counts.failed += 1;
        }

        in_batch += 1;
        if in_batch >= BATCH_ROWS {
            batch.commit(&db)?;
            pending.clear();
            in_batch = 0;
        }
    }
    if let Some(error) = reader.read_error() {
        return Err(format!("the input could not be read to the end: {error}"));
    }
    batch.commit(&db)?;
    db.flush().map_err(db_err)?;
    Ok(counts)
}

/// Every entry of the store in `dir` outside the host's own keyspaces (`_meta`, `_journal`,
/// `_seq`): the entries per keyspace, and one digest of every key and value, byte for byte.
/// Equal digests before and after a run: the run rewrote nothing (a record rewritten carries
/// that run's time).
pub fn digest(dir: &Path) -> Result<(BTreeMap<String, u64>, u64), String> {
    let db = open(dir)?;
    let mut spaces = BTreeMap::new();
    let mut hasher = DefaultHasher::new();
    for entry in db.iter() {
        let (key, value) = entry.map_err(|e| format!("store error: {e}"))?;
        let Some((space, _)) = split_key(&key) else {
            continue;
        };
        if space.starts_with('_') {
            continue;
        }
        *spaces.entry(space.to_string()).or_insert(0) += 1;
        hasher.write(&key);
        hasher.write_u8(0xff);
        hasher.write(&value);
        hasher.write_u8(0xfe);
    }
    Ok((spaces, hasher.finish()))
}
