//! The hand-written loop: what `toolsync run course-create` does to the store for a file of new
//! courses, with no plugin, no ABI, no staging map, no journal and no reports.
//!
//! Same reading (toolsync's reader), same lookups against the store (the shortname index; the
//! category child index for each element of the path, seeing the rows not yet committed
//! through a local overlay), same records serialised by serde_json (`Course::new`, `Category`,
//! `Section`) under the same keys as `Courses::create`, `Categories::create` and
//! `Sections::put`:
//!
//! - `course\0<id>` record, `course.shortname\0<shortname>` → id,
//!   `course.category\0<category id><course id>` → empty;
//! - `category\0<id>` record, `category.child\0<parent id><name>` → id;
//! - `section\0<course id><number u32>` record, sections 0 to the highest topic;
//! - `_seq\0course`, `_seq\0category` (ids big-endian u64).
//!
//! The same sled configuration, a `sled::Batch` every `BATCH_ROWS` rows and a `flush` at the
//! end.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use toolsync::run::BATCH_ROWS;
use toolsync_plugin_api::engine::full_key;
use toolsync_plugin_api::model::{Category, Course, Extra, Section, MODEL_VERSION};
use toolsync_reader::{CsvReader, Item, ReadOptions};

/// host/src/store.rs `CACHE_BYTES`.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

pub struct Counts {
    pub created: u64,
    pub failed: u64,
    pub categories: u64,
}

fn ids(parts: &[u64]) -> Vec<u8> {
    parts.iter().flat_map(|p| p.to_be_bytes()).collect()
}

/// Loads `file` into a new store in `dir`.
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
    let (c_shortname, c_fullname, c_category) =
        (need("shortname")?, need("fullname")?, need("category")?);
    // (section number, column), in section order.
    let mut topics: Vec<(u32, usize)> = (0..=52)
        .filter_map(|n| column(&format!("topic{n}")).map(|c| (n, c)))
        .collect();
    topics.sort_unstable();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let course_sequence = full_key("_seq", b"course");
    let category_sequence = full_key("_seq", b"category");
    let db_err = |e: sled::Error| format!("store error: {e}");
    let json = |e: serde_json::Error| e.to_string();

    let mut counts = Counts {
        created: 0,
        failed: 0,
        categories: 0,
    };
    let mut batch = sled::Batch::default();
    // Shortname and category-child keys written by rows not yet committed.
    let mut pending_shortnames: HashSet<Vec<u8>> = HashSet::new();
    let mut pending_children: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut in_batch = 0u64;
    let (mut next_course, mut next_category) = (0u64, 0u64);
    while let Some(item) = reader.next_item() {
        let fields = match item {
            Item::Row(record) => record.fields,
            Item::Bad(_) => {
                counts.failed += 1;
                continue;
            }
        };
        let shortname = &fields[c_shortname];
        let shortname_key = full_key("course.shortname", shortname.as_bytes());
        if shortname.is_empty()
            || pending_shortnames.contains(&shortname_key)
            || db.get(&shortname_key).map_err(db_err)?.is_some()
        {
            counts.failed += 1;
            continue;
        }

        // The category path, element by element, created where missing.
        let mut parent = 0u64;
        for name in fields[c_category].trim_matches('/').split('/') {
            let name = name.trim();
            let mut child = ids(&[parent]);
            child.extend_from_slice(name.as_bytes());
            let child = full_key("category.child", &child);
            let found = match pending_children.get(&child) {
                Some(id) => Some(*id),
                None => db
                    .get(&child)
                    .map_err(db_err)?
                    .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)),
            };
            parent = match found {
                Some(id) => id,
                None => {
                    next_category += 1;
                    let category = Category {
                        v: MODEL_VERSION,
                        id: next_category,
                        name: name.to_string(),
                        parent,
                        idnumber: String::new(),
                        description: String::new(),
                        visible: true,
                        timemodified: now,
                        extra: Extra::new(),
                    };
                    let id = next_category.to_be_bytes();
                    batch.insert(
                        full_key("category", &id),
                        serde_json::to_vec(&category).map_err(json)?,
                    );
                    batch.insert(child.as_slice(), &id);
                    pending_children.insert(child, next_category);
                    counts.categories += 1;
                    next_category
                }
            };
        }

        next_course += 1;
        let id = next_course.to_be_bytes();
        let mut course = Course::new(shortname, &fields[c_fullname], parent, now);
        course.id = next_course;
        batch.insert(
            full_key("course", &id),
            serde_json::to_vec(&course).map_err(json)?,
        );
        batch.insert(shortname_key.as_slice(), &id);
        pending_shortnames.insert(shortname_key);
        batch.insert(
            full_key("course.category", &ids(&[parent, next_course])),
            &[],
        );

        // Sections 0 (and 1) up to the highest topic given.
        let mut sections: Vec<Section> = Vec::new();
        for &(number, c) in &topics {
            let cell = &fields[c];
            if cell.is_empty() {
                continue;
            }
            let (name, summary) = match cell.split_once('|') {
                Some((name, summary)) => (name.trim(), summary.trim()),
                None => (cell.as_str(), ""),
            };
            while sections.len() <= number as usize {
                sections.push(Section::new(next_course, sections.len() as u32));
            }
            let section = &mut sections[number as usize];
            section.name = name.to_string();
            section.summary = summary.to_string();
        }
        while sections.len() < 2 {
            sections.push(Section::new(next_course, sections.len() as u32));
        }
        for section in &sections {
            let mut key = ids(&[next_course]);
            key.extend_from_slice(&section.section.to_be_bytes());
            batch.insert(
                full_key("section", &key),
                serde_json::to_vec(section).map_err(json)?,
            );
        }

        counts.created += 1;
        in_batch += 1;
        if in_batch >= BATCH_ROWS {
            batch.insert(course_sequence.as_slice(), &id);
            batch.insert(category_sequence.as_slice(), &next_category.to_be_bytes());
            db.apply_batch(std::mem::take(&mut batch)).map_err(db_err)?;
            pending_shortnames.clear();
            pending_children.clear();
            in_batch = 0;
        }
    }
    if let Some(error) = reader.read_error() {
        return Err(format!("the input could not be read to the end: {error}"));
    }
    batch.insert(course_sequence.as_slice(), &next_course.to_be_bytes());
    batch.insert(category_sequence.as_slice(), &next_category.to_be_bytes());
    db.apply_batch(batch).map_err(db_err)?;
    db.flush().map_err(db_err)?;
    Ok(counts)
}
