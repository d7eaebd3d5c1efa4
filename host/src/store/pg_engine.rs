//! The server engine: PostgreSQL, for a store several hosts (a daemon, a manual run, a web
//! page) share. One table of `space NUL key` entries, `toolsync_store (key bytea primary key,
//! value bytea)`; one store per schema (a URL's `options=-csearch_path=...` picks another).
//!
//! - **A batch is one transaction**: its removals (`key = ANY($1)`) and its upserts (`unnest`
//!   of two arrays, `ON CONFLICT DO UPDATE`), in statements of [`STATEMENT_KEYS`] keys, with
//!   the run's journal record among them. Durable at commit (the server's `synchronous_commit`).
//! - **Prefix scans are range queries** on the primary key, `key >= prefix AND key < next`,
//!   in pages that grow (a look-up of one entry does not fetch a thousand): bytea compares
//!   byte by byte, the order sled and redb keep.
//! - **One run at a time per store, reads always**: a run (anything that writes) holds a
//!   session advisory lock for as long as it has the store open, taken with `try`: a second
//!   run is refused at once (exit 5), and a process that dies releases it with its session.
//!   A reader takes no lock; a reader of the whole store (a check, a backup) takes a second,
//!   exclusive lock that every batch takes shared inside its transaction, so that it sees
//!   batches whole, as [`super::Store::quiesced`] does within one process.
//! - **Reads that cost a round trip each** are few: the engine answers many keys and many
//!   prefixes in one query ([`Engine::get_many`], [`Engine::scan_many`]), which the row
//!   pipeline uses to fetch a chunk's reads together (`toolsync_plugin_api::engine::prefetch`).
//!
//! The SQL is kept to what PostgreSQL-compatible engines also take (no COPY, no stored
//! procedures); only PostgreSQL 15 was tried. The advisory locks are PostgreSQL's.
//!
//! The password never sits in `toolsync.toml` (a URL holding one is refused): it comes from
//! `TOOLSYNC_STORE_PASSWORD`, `PGPASSWORD`, or the owner-only file `store_password_file`
//! names. There is no TLS: reach a remote server through a local socket or a tunnel.

use std::collections::VecDeque;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};

use postgres::types::ToSql;
use postgres::{Client, NoTls, Statement};
use toolsync_plugin_api::engine::{BackendError, Entry, Scan, Writes};

use super::Engine;
use crate::error::StoreError;

/// The table that holds the store, in the connection's current schema.
pub const TABLE: &str = "toolsync_store";

/// Keys per statement of a batch (the arrays of one `unnest` or `ANY`).
const STATEMENT_KEYS: usize = 5_000;

/// The first page of a scan, and the largest: a scan that goes on fetches pages four times
/// larger each time.
const FIRST_PAGE: i64 = 64;
const LAST_PAGE: i64 = 4_096;

/// The environment variables the password is read from, in order.
pub const PASSWORD_VARS: [&str; 2] = ["TOOLSYNC_STORE_PASSWORD", "PGPASSWORD"];

/// Where a PostgreSQL store is, as `store = "postgres://..."` names it.
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    /// The URL as messages show it: user, hosts, port, database (never a password).
    shown: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl PartialEq for PgTarget {
    fn eq(&self, other: &Self) -> bool {
        self.shown == other.shown
    }
}

impl PgTarget {
    /// Whether `text` names a PostgreSQL store.
    pub fn is_url(text: &str) -> bool {
        text.starts_with("postgres://") || text.starts_with("postgresql://")
    }

    /// The target of a URL; the password comes from [`PASSWORD_VARS`], else from
    /// `password_file`. A URL that holds a password is refused without showing it.
    pub fn parse(url: &str, password_file: Option<&Path>) -> Result<PgTarget, String> {
        let mut config = postgres::Config::from_str(url).map_err(|e| {
            // The parser's message never quotes the URL.
            format!(
                "the PostgreSQL URL is not valid ({e}): write postgres://user@host[:port]/database"
            )
        })?;
        if config.get_password().is_some() {
            return Err(format!(
                "the PostgreSQL URL holds a password: remove it from toolsync.toml and give it \
                 in ${} (or ${}), or in a file readable by its owner only named by \
                 `store_password_file`",
                PASSWORD_VARS[0], PASSWORD_VARS[1]
            ));
        }
        if let Some(password) = password(password_file)? {
            config.password(password);
        }
        config.application_name(&format!("toolsync (pid {})", std::process::id()));
        let shown = shown(&config);
        Ok(PgTarget { config, shown })
    }

    /// The URL as messages show it.
    pub fn shown(&self) -> &str {
        &self.shown
    }
}

/// The password from the environment or the file, if any.
fn password(file: Option<&Path>) -> Result<Option<String>, String> {
    for var in PASSWORD_VARS {
        if let Ok(value) = std::env::var(var) {
            if !value.is_empty() {
                return Ok(Some(value));
            }
        }
    }
    let Some(file) = file else { return Ok(None) };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(file)
            .map_err(|e| format!("cannot read store_password_file {}: {e}", file.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "store_password_file {} is readable by others: make it owner-only (chmod 600)",
                file.display()
            ));
        }
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read store_password_file {}: {e}", file.display()))?;
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
}

/// `postgres://user@host:port/database` without the password.
fn shown(config: &postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config
        .get_ports()
        .first()
        .map_or(String::new(), |p| format!(":{p}"));
    format!(
        "postgres://{}@{}{port}/{}",
        config.get_user().unwrap_or(""),
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

/// The prepared statements every call uses.
struct Statements {
    get: Statement,
    get_many: Statement,
    scan_bounded: Statement,
    scan_open: Statement,
    scan_many: Statement,
    upsert: Statement,
    remove: Statement,
}

struct Session {
    client: Client,
    statements: Statements,
}

pub struct PgEngine {
    session: Mutex<Session>,
    target: PgTarget,
    /// The advisory lock of the store's one writer, and the one whole-store readers take
    /// exclusively: both derived from the schema, so that stores in two schemas of one
    /// database do not exclude each other.
    run_lock: i64,
    commit_lock: i64,
    writer: AtomicBool,
    pipeline: Pipeline,
}

/// Batches committed on a second session while the first goes on reading (a run applies the
/// next batch's rows while the server writes the last one): the server's work and toolsync's
/// overlap, instead of each waiting for the other. One batch at most is in flight.
#[derive(Default)]
struct Pipeline {
    /// The batch sent and not yet seen committed: reads answer from it first, so that they
    /// see the store as if it were.
    in_flight: RwLock<Option<Arc<Writes>>>,
    /// How it ended, when it has.
    outcome: Mutex<Option<mpsc::Receiver<Result<(), BackendError>>>>,
    /// A batch that failed: every later write and flush fails with it (the run stops; the
    /// journal on the server says where to resume).
    failed: Mutex<Option<BackendError>>,
    committer: Mutex<Option<Committer>>,
}

type Job = (Arc<Writes>, mpsc::SyncSender<Result<(), BackendError>>);

/// Writes in flight under a prefix, in key order (`None` removes the key).
type Pending = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// The second session and its thread.
struct Committer {
    jobs: mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<()>,
}

impl Committer {
    fn start(target: &PgTarget, commit_lock: i64) -> Result<Committer, BackendError> {
        let failed = |e: postgres::Error| {
            BackendError(format!(
                "the store at {}: cannot open the session that commits: {}",
                target.shown,
                describe(&e)
            ))
        };
        let mut client = target.config.connect(NoTls).map_err(failed)?;
        let statements = Statements::prepare(&mut client).map_err(failed)?;
        let shown = target.shown.clone();
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("store-commits".into())
            .spawn(move || {
                for (writes, done) in queue {
                    let result = write_batch(&mut client, &statements, &writes, commit_lock)
                        .map_err(|e| {
                            BackendError(format!("the store at {shown}: {}", describe(&e)))
                        });
                    let _ = done.send(result);
                }
            })
            .map_err(|e| BackendError(format!("cannot start the commit thread: {e}")))?;
        Ok(Committer { jobs, thread })
    }
}

/// One batch in one transaction: removals, then upserts, in statements of [`STATEMENT_KEYS`].
fn write_batch(
    client: &mut Client,
    statements: &Statements,
    writes: &Writes,
    commit_lock: i64,
) -> Result<(), postgres::Error> {
    let mut txn = client.transaction()?;
    // Shared with other batches, exclusive with a reader of the whole store.
    txn.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&commit_lock])?;
    let removed: Vec<&[u8]> = writes
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k.as_slice())
        .collect();
    for keys in removed.chunks(STATEMENT_KEYS) {
        txn.execute(&statements.remove, &[&keys])?;
    }
    let put: Vec<(&[u8], &[u8])> = writes
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k.as_slice(), v)))
        .collect();
    for entries in put.chunks(STATEMENT_KEYS) {
        let keys: Vec<&[u8]> = entries.iter().map(|(k, _)| *k).collect();
        let values: Vec<&[u8]> = entries.iter().map(|(_, v)| *v).collect();
        txn.execute(&statements.upsert, &[&keys, &values])?;
    }
    txn.commit()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

/// `pending` (the batch in flight's writes under a prefix, in key order) laid over `stored`
/// (the server's entries under it): a written key replaces or removes the stored one.
fn overlaid<'a>(pending: Pending, stored: Scan<'a>) -> Scan<'a> {
    let mut pending = pending.into_iter().peekable();
    let mut stored = stored.peekable();
    Box::new(std::iter::from_fn(move || loop {
        let stored_key = match stored.peek() {
            Some(Ok((k, _))) => Some(k.clone()),
            Some(Err(_)) => return stored.next(),
            None => None,
        };
        let from_pending = match (pending.peek(), &stored_key) {
            (None, None) => return None,
            (None, Some(_)) => false,
            (Some(_), None) => true,
            (Some((k, _)), Some(s)) => k <= s,
        };
        if !from_pending {
            return stored.next();
        }
        let (key, value) = pending.next()?;
        if stored_key.as_ref() == Some(&key) {
            stored.next();
        }
        if let Some(value) = value {
            return Some(Ok((key, value)));
        }
    }))
}

impl PgEngine {
    /// Connects to the store at `target`. `create`: the table is made when missing (a run);
    /// otherwise a missing table is [`StoreError::Missing`] (a read command never creates).
    pub fn connect(target: &PgTarget, create: bool) -> Result<PgEngine, StoreError> {
        let open = |message: String| StoreError::Open {
            path: target.shown.clone().into(),
            message,
        };
        let mut client = target
            .config
            .connect(NoTls)
            .map_err(|e| open(format!("cannot connect: {}", describe(&e))))?;
        let failed = |e: postgres::Error| open(describe(&e));
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&TABLE])
            .map_err(failed)?
            .get(0);
        if !exists {
            if !create {
                return Err(StoreError::Missing {
                    path: target.shown.clone().into(),
                });
            }
            client
                .batch_execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {TABLE} (key BYTEA PRIMARY KEY, value BYTEA NOT NULL)"
                ))
                .map_err(failed)?;
        }
        let schema: String = client
            .query_one("SELECT current_schema()", &[])
            .map_err(failed)?
            .get(0);
        let statements = Statements::prepare(&mut client).map_err(failed)?;
        Ok(PgEngine {
            session: Mutex::new(Session { client, statements }),
            target: target.clone(),
            run_lock: lock_key("run", &schema),
            commit_lock: lock_key("commit", &schema),
            writer: AtomicBool::new(false),
            pipeline: Pipeline::default(),
        })
    }

    /// Takes the store's one-writer lock for this session, or says who has it.
    pub fn claim_writer(&self) -> Result<(), StoreError> {
        if self.writer.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut session = self.session();
        let got: bool = session
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&self.run_lock])
            .map_err(|e| StoreError::Failure(self.error(&e).0))?
            .get(0);
        if !got {
            return Err(StoreError::Locked {
                path: self.target.shown.clone().into(),
            });
        }
        self.writer.store(true, Ordering::Release);
        Ok(())
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        lock(&self.session)
    }

    /// Waits for the batch in flight; its failure (or an earlier one) is the answer.
    fn settle(&self) -> Result<(), BackendError> {
        let mut outcome = lock(&self.pipeline.outcome);
        if let Some(failed) = lock(&self.pipeline.failed).clone() {
            return Err(failed);
        }
        let Some(waiting) = outcome.take() else {
            return Ok(());
        };
        let result = waiting.recv().unwrap_or_else(|_| {
            Err(BackendError(format!(
                "the store at {}: the session that commits ended",
                self.target.shown
            )))
        });
        *write(&self.pipeline.in_flight) = None;
        if let Err(e) = &result {
            *lock(&self.pipeline.failed) = Some(e.clone());
        }
        result
    }

    fn in_flight(&self) -> Option<Arc<Writes>> {
        self.pipeline
            .in_flight
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The writes in flight under `prefix`, in key order.
    fn pending_under(&self, prefix: &[u8]) -> Pending {
        let Some(writes) = self.in_flight() else {
            return Vec::new();
        };
        writes
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The server's entries under `prefix`, in pages.
    fn stored_scan(&self, prefix: &[u8]) -> Scan<'_> {
        let upper = successor(prefix);
        let mut from = Some(prefix.to_vec());
        let mut page: VecDeque<Entry> = VecDeque::new();
        let mut size = FIRST_PAGE;
        Box::new(std::iter::from_fn(move || {
            if page.is_empty() {
                let start = from.take()?;
                match self.page(&start, upper.as_deref(), size) {
                    Ok(entries) => {
                        // A full page: there may be more, from just after its last key.
                        if entries.len() as i64 == size {
                            from = entries.last().map(|(k, _)| [k.as_slice(), &[0]].concat());
                            size = (size * 4).min(LAST_PAGE);
                        }
                        page.extend(entries);
                    }
                    Err(e) => return Some(Err(e)),
                }
            }
            page.pop_front().map(Ok)
        }))
    }

    fn error(&self, e: &postgres::Error) -> BackendError {
        BackendError(format!(
            "the store at {}: {}",
            self.target.shown,
            describe(e)
        ))
    }

    /// One page of a scan: entries from `from` (included) under `upper` (excluded).
    fn page(
        &self,
        from: &[u8],
        upper: Option<&[u8]>,
        size: i64,
    ) -> Result<Vec<Entry>, BackendError> {
        let mut session = self.session();
        let Session { client, statements } = &mut *session;
        let rows = match upper {
            Some(upper) => client.query(&statements.scan_bounded, &[&from, &upper, &size]),
            None => client.query(&statements.scan_open, &[&from, &size]),
        }
        .map_err(|e| self.error(&e))?;
        Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}

impl Statements {
    fn prepare(client: &mut Client) -> Result<Statements, postgres::Error> {
        Ok(Statements {
            get: client.prepare(&format!("SELECT value FROM {TABLE} WHERE key = $1"))?,
            get_many: client.prepare(&format!(
                "SELECT key, value FROM {TABLE} WHERE key = ANY($1::bytea[])"
            ))?,
            scan_bounded: client.prepare(&format!(
                "SELECT key, value FROM {TABLE} WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3"
            ))?,
            scan_open: client.prepare(&format!(
                "SELECT key, value FROM {TABLE} WHERE key >= $1 ORDER BY key LIMIT $2"
            ))?,
            // Each prefix's first entries, all prefixes in one query.
            scan_many: client.prepare(&format!(
                "SELECT s.i, e.key, e.value \
                 FROM unnest($1::bytea[], $2::bytea[], $3::int8[]) WITH ORDINALITY AS s(lo, hi, n, i) \
                 CROSS JOIN LATERAL (SELECT key, value FROM {TABLE} \
                 WHERE key >= s.lo AND key < s.hi ORDER BY key LIMIT s.n) AS e"
            ))?,
            upsert: client.prepare(&format!(
                "INSERT INTO {TABLE} (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
            ))?,
            remove: client.prepare(&format!("DELETE FROM {TABLE} WHERE key = ANY($1::bytea[])"))?,
        })
    }
}

impl Engine for PgEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        tracing::trace!(key = %String::from_utf8_lossy(key).escape_debug(), "get");
        if let Some(value) = self.in_flight().and_then(|w| w.get(key).cloned()) {
            return Ok(value);
        }
        let mut session = self.session();
        let Session { client, statements } = &mut *session;
        let row = client
            .query_opt(&statements.get, &[&key])
            .map_err(|e| self.error(&e))?;
        Ok(row.map(|r| r.get(0)))
    }

    fn scan(&self, prefix: &[u8]) -> Scan<'_> {
        tracing::trace!(prefix = %String::from_utf8_lossy(prefix).escape_debug(), "scan");
        let pending = self.pending_under(prefix);
        let stored = self.stored_scan(prefix);
        if pending.is_empty() {
            return stored;
        }
        overlaid(pending, stored)
    }

    /// One transaction, on the committer's session: the batch lands whole or not at all,
    /// journal record included. It is sent, not waited for: the rows of the next batch are
    /// applied meanwhile, reading it from [`Pipeline::in_flight`]; the next `apply` or a
    /// `flush` waits for it and stops on its failure.
    fn apply(&self, writes: Writes) -> Result<(), BackendError> {
        if !self.writer.load(Ordering::Acquire) {
            self.claim_writer()
                .map_err(|e| BackendError(e.to_string()))?;
        }
        self.settle()?;
        let mut committer = lock(&self.pipeline.committer);
        if committer.is_none() {
            *committer = Some(Committer::start(&self.target, self.commit_lock)?);
        }
        let writes = Arc::new(writes);
        let (done, outcome) = mpsc::sync_channel(1);
        let mut waiting = lock(&self.pipeline.outcome);
        *write(&self.pipeline.in_flight) = Some(writes.clone());
        *waiting = Some(outcome);
        let sent = committer
            .as_ref()
            .is_some_and(|c| c.jobs.send((writes, done)).is_ok());
        drop((waiting, committer));
        if !sent {
            // The committer is gone: its channel says so when settled.
            return self.settle();
        }
        Ok(())
    }

    /// Every batch committed: waits for the one in flight.
    fn flush(&self) -> Result<(), BackendError> {
        self.settle()
    }

    fn is_empty(&self) -> Result<bool, BackendError> {
        self.settle()?;
        let mut session = self.session();
        let row = session
            .client
            .query_one(&format!("SELECT NOT EXISTS (SELECT 1 FROM {TABLE})"), &[])
            .map_err(|e| self.error(&e))?;
        Ok(row.get(0))
    }

    fn size_on_disk(&self) -> u64 {
        let _ = self.settle();
        let mut session = self.session();
        session
            .client
            .query_one("SELECT pg_total_relation_size(to_regclass($1))", &[&TABLE])
            .ok()
            .and_then(|r| r.get::<_, Option<i64>>(0))
            .map_or(0, |n| n.max(0) as u64)
    }

    fn reads_cost_a_round_trip(&self) -> bool {
        true
    }

    fn get_many(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, BackendError> {
        let in_flight = self.in_flight();
        let pending = |key: &Vec<u8>| in_flight.as_ref().and_then(|w| w.get(key).cloned());
        let asked: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| pending(k).is_none())
            .cloned()
            .collect();
        let mut found = std::collections::HashMap::new();
        for keys in asked.chunks(STATEMENT_KEYS) {
            let mut session = self.session();
            let Session { client, statements } = &mut *session;
            let list: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            for row in client
                .query(&statements.get_many, &[&list])
                .map_err(|e| self.error(&e))?
            {
                found.insert(row.get::<_, Vec<u8>>(0), row.get::<_, Vec<u8>>(1));
            }
        }
        Ok(keys
            .iter()
            .map(|k| pending(k).unwrap_or_else(|| found.remove(k)))
            .collect())
    }

    fn scan_many(&self, scans: &[(Vec<u8>, usize)]) -> Result<Vec<Vec<Entry>>, BackendError> {
        let mut results: Vec<Vec<Entry>> = vec![Vec::new(); scans.len()];
        // A prefix without a successor (never a keyspace's) is scanned alone.
        let (bounded, open): (Vec<usize>, Vec<usize>) =
            (0..scans.len()).partition(|i| successor(&scans[*i].0).is_some());
        for i in open {
            results[i] = self
                .scan(&scans[i].0)
                .take(scans[i].1)
                .collect::<Result<_, _>>()?;
        }
        for part in bounded.chunks(STATEMENT_KEYS) {
            let lows: Vec<&[u8]> = part.iter().map(|i| scans[*i].0.as_slice()).collect();
            let highs: Vec<Vec<u8>> = part
                .iter()
                .map(|i| successor(&scans[*i].0).unwrap_or_default())
                .collect();
            // The batch in flight may remove entries: enough more are read to fill each limit.
            let pending: Vec<Pending> = part
                .iter()
                .map(|i| self.pending_under(&scans[*i].0))
                .collect();
            let limits: Vec<i64> = part
                .iter()
                .zip(&pending)
                .map(|(i, p)| {
                    i64::try_from(scans[*i].1.saturating_add(p.len())).unwrap_or(i64::MAX)
                })
                .collect();
            let params: [&(dyn ToSql + Sync); 3] = [&lows, &highs, &limits];
            let mut session = self.session();
            let Session { client, statements } = &mut *session;
            for row in client
                .query(&statements.scan_many, &params)
                .map_err(|e| self.error(&e))?
            {
                let at: i64 = row.get(0);
                results[part[(at - 1) as usize]].push((row.get(1), row.get(2)));
            }
            drop(session);
            for (i, pending) in part.iter().zip(pending) {
                if !pending.is_empty() {
                    let stored = std::mem::take(&mut results[*i]);
                    results[*i] = overlaid(pending, Box::new(stored.into_iter().map(Ok)))
                        .take(scans[*i].1)
                        .collect::<Result<_, _>>()?;
                }
            }
        }
        Ok(results)
    }

    fn exclusive_reads(&self, on: bool) -> Result<(), BackendError> {
        self.settle()?;
        let sql = if on {
            "SELECT pg_advisory_lock($1)"
        } else {
            "SELECT pg_advisory_unlock($1)"
        };
        let mut session = self.session();
        session
            .client
            .execute(sql, &[&self.commit_lock])
            .map(|_| ())
            .map_err(|e| self.error(&e))
    }

    fn claim_writer(&self) -> Result<(), StoreError> {
        PgEngine::claim_writer(self)
    }

    fn settle(&self) -> Result<(), BackendError> {
        PgEngine::settle(self)
    }
}

impl Drop for PgEngine {
    /// The batch in flight is waited for: a command that wrote and did not flush (nothing
    /// should) still leaves it committed.
    fn drop(&mut self) {
        if let Err(e) = self.settle() {
            tracing::error!("{e}");
        }
        if let Some(committer) = lock(&self.pipeline.committer).take() {
            drop(committer.jobs);
            let _ = committer.thread.join();
        }
        // Let go of the one-writer lock now: the server would release it with the session,
        // but only once it has noticed the session's end, after the next writer may ask.
        if self.writer.load(Ordering::Acquire) {
            let _ = self
                .session()
                .client
                .execute("SELECT pg_advisory_unlock($1)", &[&self.run_lock]);
        }
    }
}

/// The first key after every key that starts with `prefix`, if there is one.
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut upper = prefix.to_vec();
    while let Some(last) = upper.pop() {
        if last < u8::MAX {
            upper.push(last + 1);
            return Some(upper);
        }
    }
    None
}

/// A stable advisory lock key for one lock of the store in `schema` (FNV-1a).
fn lock_key(lock: &str, schema: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("toolsync {lock} {schema}").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// A client error as the operator reads it: the server's own message when it sent one.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        // "error connecting to server" alone says nothing: its cause follows.
        None => match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_successor_is_the_first_key_past_every_key_under_it() {
        assert_eq!(successor(b"user\0"), Some(b"user\x01".to_vec()));
        assert_eq!(successor(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(successor(b"\xff"), None);
        assert_eq!(successor(b""), None);
    }

    #[test]
    fn a_url_with_a_password_is_refused_without_showing_it() {
        let refused = PgTarget::parse("postgres://ts:s3cret@db.example/toolsync", None)
            .err()
            .unwrap();
        assert!(refused.contains("holds a password"), "{refused}");
        assert!(!refused.contains("s3cret"), "{refused}");
        let target = PgTarget::parse("postgres://ts@db.example:5433/toolsync", None).unwrap();
        assert_eq!(target.shown(), "postgres://ts@db.example:5433/toolsync");
    }

    #[test]
    fn lock_keys_differ_by_lock_and_schema() {
        assert_ne!(lock_key("run", "public"), lock_key("commit", "public"));
        assert_ne!(lock_key("run", "public"), lock_key("run", "site2"));
        assert_eq!(lock_key("run", "public"), lock_key("run", "public"));
    }
}
