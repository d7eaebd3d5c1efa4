//! The hand-written loop: what `toolsync run users` does to the store for a file of new
//! accounts, with no plugin, no ABI, no staging map, no journal and no reports.
//!
//! Same reading (toolsync's reader: pre-pass, decoding, unquoting), same checks against the
//! store (username, e-mail and idnumber lookups, seeing the rows not yet committed through a
//! local overlay), same records (`User` serialised by serde_json) under the same keys as
//! `Users::create` with the same sequence, the same sled configuration, a `sled::Batch` every
//! `BATCH_ROWS` rows and a `flush` at the end.

use std::collections::HashSet;
use std::path::Path;

use toolsync::run::BATCH_ROWS;
use toolsync_plugin_api::engine::full_key;
use toolsync_plugin_api::model::User;
use toolsync_reader::{CsvReader, Item, ReadOptions};

/// host/src/store.rs `CACHE_BYTES`.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

pub struct Counts {
    pub created: u64,
    pub failed: u64,
    pub last_id: u64,
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
    let column = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .ok_or(format!("no `{name}` column"))
    };
    let (c_username, c_first, c_last) = (
        column("username")?,
        column("firstname")?,
        column("lastname")?,
    );
    let (c_email, c_idnumber, c_city) = (column("email")?, column("idnumber")?, column("city")?);
    let (c_country, c_institution, c_department) = (
        column("country")?,
        column("institution")?,
        column("department")?,
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let sequence = full_key("_seq", b"user");
    let db_err = |e: sled::Error| format!("store error: {e}");

    let mut counts = Counts {
        created: 0,
        failed: 0,
        last_id: 0,
    };
    let mut batch = sled::Batch::default();
    // Index keys (username, idnumber, e-mail prefix) written by rows not yet committed.
    let mut pending: HashSet<Vec<u8>> = HashSet::new();
    let mut in_batch = 0u64;
    let mut next_id = 0u64;
    while let Some(item) = reader.next_item() {
        let fields = match item {
            Item::Row(record) => record.fields,
            Item::Bad(_) => {
                counts.failed += 1;
                continue;
            }
        };
        let username = fields[c_username].to_lowercase();
        let email = &fields[c_email];
        let idnumber = &fields[c_idnumber];

        // The identity lookup, then uniqueness (username, idnumber) and the e-mail check.
        let username_key = full_key("user.username", username.as_bytes());
        let taken = |key: &Vec<u8>| -> Result<bool, String> {
            Ok(pending.contains(key) || db.get(key).map_err(db_err)?.is_some())
        };
        if username.is_empty() || taken(&username_key)? {
            counts.failed += 1;
            continue;
        }
        let idnumber_key = full_key("user.idnumber", idnumber.as_bytes());
        if !idnumber.is_empty() && taken(&idnumber_key)? {
            counts.failed += 1;
            continue;
        }
        let mut email_prefix = email.to_lowercase().into_bytes();
        email_prefix.push(0);
        let email_prefix = full_key("user.email", &email_prefix);
        if !email.is_empty()
            && (pending.contains(&email_prefix)
                || db
                    .scan_prefix(&email_prefix)
                    .next()
                    .transpose()
                    .map_err(db_err)?
                    .is_some())
        {
            counts.failed += 1;
            continue;
        }

        next_id += 1;
        let id = next_id.to_be_bytes();
        let mut user = User::new(&username, &fields[c_first], &fields[c_last], now);
        user.id = next_id;
        user.email = email.clone();
        user.idnumber = idnumber.clone();
        user.city = fields[c_city].clone();
        user.country = fields[c_country].to_uppercase();
        user.institution = fields[c_institution].clone();
        user.department = fields[c_department].clone();
        let record = serde_json::to_vec(&user).map_err(|e| e.to_string())?;

        batch.insert(full_key("user", &id), record);
        batch.insert(username_key.clone(), &id);
        pending.insert(username_key);
        if !idnumber.is_empty() {
            batch.insert(idnumber_key.clone(), &id);
            pending.insert(idnumber_key);
        }
        if !email.is_empty() {
            let mut email_key = email_prefix.clone();
            email_key.extend_from_slice(&id);
            batch.insert(email_key, &[]);
            pending.insert(email_prefix);
        }
        counts.created += 1;
        in_batch += 1;
        if in_batch >= BATCH_ROWS {
            batch.insert(sequence.as_slice(), &id);
            db.apply_batch(std::mem::take(&mut batch)).map_err(db_err)?;
            pending.clear();
            in_batch = 0;
        }
    }
    if let Some(error) = reader.read_error() {
        return Err(format!("the input could not be read to the end: {error}"));
    }
    batch.insert(sequence.as_slice(), &next_id.to_be_bytes());
    db.apply_batch(batch).map_err(db_err)?;
    db.flush().map_err(db_err)?;
    counts.last_id = next_id;
    Ok(counts)
}
