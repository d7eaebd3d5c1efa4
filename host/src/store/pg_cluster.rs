//! A private PostgreSQL cluster for the tests and the benchmarks of the PostgreSQL engine: not
//! part of toolsync's job, kept here so that unit tests, end-to-end tests and benches share it.
//!
//! `TOOLSYNC_TEST_POSTGRES` names a running server's admin URL (`.ci/run` starts one for the
//! whole test suite); without it, the first caller starts a cluster of its own with the
//! server's `initdb` and `pg_ctl` (on `PATH` or in `/usr/lib/postgresql/*/bin`), in a temporary
//! folder, listening on a socket in that folder only, and stops it when the process exits. As
//! root, the server runs as the `postgres` user (it refuses root). A machine without
//! PostgreSQL fails the caller with a message that says so: a test never skips silently.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The environment variable naming a running server's admin URL.
pub const SERVER_VAR: &str = "TOOLSYNC_TEST_POSTGRES";

/// A server the caller may create databases on.
pub struct Cluster {
    /// The admin URL, without its database (`postgres://user@host:port`, percent-encoded
    /// socket folder as host).
    base: String,
    /// A cluster this process started: its folder, and how to run its tools.
    owned: Option<Owned>,
}

struct Owned {
    dir: PathBuf,
    tools: PathBuf,
    as_postgres: bool,
    /// The server's options (`pg_ctl -o`).
    options: String,
}

static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();

impl Cluster {
    /// The server of this process: `TOOLSYNC_TEST_POSTGRES`'s, or a private one started now
    /// (without fsync: a test's cluster need not survive a power cut). Panics with the reason
    /// when there is none.
    pub fn shared() -> &'static Cluster {
        let cluster = SHARED.get_or_init(|| match std::env::var(SERVER_VAR) {
            Ok(url) if !url.is_empty() => Ok(Cluster {
                base: url.trim_end_matches('/').to_string(),
                owned: None,
            }),
            _ => {
                let started = Cluster::start(false);
                if started.is_ok() {
                    extern "C" fn stop() {
                        if let Some(Ok(cluster)) = SHARED.get() {
                            cluster.stop();
                        }
                    }
                    // SAFETY: registers a plain function to run at exit.
                    unsafe { libc::atexit(stop) };
                }
                started
            }
        });
        match cluster {
            Ok(cluster) => cluster,
            Err(why) => panic!(
                "the PostgreSQL engine's tests need a PostgreSQL server: {why} (install \
                 PostgreSQL's server package, or set {SERVER_VAR} to a server's admin URL)"
            ),
        }
    }

    /// Starts a cluster of this process in a new temporary folder; `durable`: with fsync.
    /// The caller stops it ([`Cluster::stop`]).
    pub fn start(durable: bool) -> Result<Cluster, String> {
        Cluster::start_named("", durable)
    }

    /// [`Cluster::start`], a second cluster of this process told apart by `name` (a test that
    /// stops its server must not stop the others').
    pub fn start_named(name: &str, durable: bool) -> Result<Cluster, String> {
        let tools = find_tools().ok_or("initdb and pg_ctl are not on PATH")?;
        let dir = std::env::temp_dir().join(format!("toolsync-pg-{}{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let as_postgres = is_root();
        if as_postgres {
            let chown = Command::new("chown")
                .arg("postgres:")
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !chown.success() {
                return Err("cannot give the cluster's folder to the postgres user".into());
            }
        }
        let owned = Owned {
            dir: dir.clone(),
            tools,
            as_postgres,
            options: String::new(),
        };
        let data = dir.join("data");
        owned.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth=trust".as_ref(),
                "--no-sync".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
            ],
        )?;
        let fsync = if durable { "on" } else { "off" };
        let options = format!(
            "-k {} -c listen_addresses='' -p 5432 -c fsync={fsync} -c max_connections=200",
            dir.display()
        );
        let cluster = Cluster {
            base: format!("postgres://postgres@{}:5432", encode(&dir)),
            owned: Some(Owned { options, ..owned }),
        };
        cluster.resume()?;
        Ok(cluster)
    }

    /// Starts again a cluster of this process stopped by [`Cluster::pause`].
    pub fn resume(&self) -> Result<(), String> {
        let owned = self.owned.as_ref().ok_or("not a cluster of this process")?;
        let (data, log) = (owned.dir.join("data"), owned.dir.join("server.log"));
        owned.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-o".as_ref(),
                owned.options.as_ref(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        )
    }

    /// Stops a cluster of this process as an operator would (`pg_ctl stop -m fast`: sessions
    /// cut, transactions in progress rolled back), keeping its data.
    pub fn pause(&self) -> Result<(), String> {
        let owned = self.owned.as_ref().ok_or("not a cluster of this process")?;
        let data = owned.dir.join("data");
        owned.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )
    }

    /// A new, empty database `name` (an older one of that name dropped), and its URL.
    pub fn database(&self, name: &str) -> String {
        let admin = format!("{}/postgres", self.base);
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to the test server {admin}: {e}"));
        // Two statements: CREATE DATABASE cannot run in the implicit transaction of a batch.
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            client.batch_execute(&sql).unwrap_or_else(|e| {
                let why = e
                    .as_db_error()
                    .map_or(e.to_string(), |d| d.message().to_string());
                panic!("cannot create the test database {name}: {why}")
            });
        }
        format!("{}/{name}", self.base)
    }

    /// The URL of database `database` on this server (not created).
    pub fn url(&self, database: &str) -> String {
        format!("{}/{database}", self.base)
    }

    /// Stops a cluster this process started, and removes its folder.
    pub fn stop(&self) {
        if let Some(owned) = &self.owned {
            let data = owned.dir.join("data");
            let _ = owned.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-m".as_ref(),
                    "immediate".as_ref(),
                    "-w".as_ref(),
                    "stop".as_ref(),
                ],
            );
            let _ = std::fs::remove_dir_all(&owned.dir);
        }
    }

    /// The folder of a cluster this process started (its `server.log`).
    pub fn folder(&self) -> Option<&Path> {
        self.owned.as_ref().map(|o| o.dir.as_path())
    }
}

impl Owned {
    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
        let program = self.tools.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let output = command
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        if !output.status.success() {
            return Err(format!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(())
    }
}

/// The folder holding `initdb` and `pg_ctl`.
fn find_tools() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut packaged: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    packaged.sort();
    packaged.reverse();
    on_path
        .into_iter()
        .chain(packaged)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A socket folder as a URL's host.
fn encode(dir: &Path) -> String {
    dir.display()
        .to_string()
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
