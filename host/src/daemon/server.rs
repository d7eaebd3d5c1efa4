//! The daemon's side of the socket: each connection a thread, each request a command run as
//! the CLI would run it, its stdout and messages sent back ([`crate::output::Remote`]).

use std::io::{BufRead, BufReader, Read};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use clap::Parser;

use super::protocol::{self, Request, SOCKET};
use crate::cli::{Cli, Command, JournalAction, PictureAction};
use crate::data_dir::DataDir;
use crate::error::{Error, ExitCode};
use crate::output::{self, Remote};

/// The listening socket; removed when dropped.
pub struct Server {
    path: PathBuf,
}

/// The longest request line read (a command line).
const MAX_REQUEST: u64 = 1 << 20;

impl Server {
    /// Binds `<data dir>/daemon.sock` (owner-only) and serves it on a thread.
    pub fn start(data: &DataDir) -> Result<Server, Error> {
        let path = data.root.join(SOCKET);
        let failed = |e| Error::output(format!("cannot listen on {}", path.display()), e);
        if std::fs::symlink_metadata(&path).is_ok() {
            // A socket a killed daemon left: nobody answers it (the daemon lock says no other
            // daemon runs).
            std::fs::remove_file(&path).map_err(failed)?;
        }
        let listener =
            protocol::with_socket_path(&data.root, |at| UnixListener::bind(at)).map_err(failed)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(failed)?;
        }
        let data = data.clone();
        std::thread::Builder::new()
            .name("toolsync-socket".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    match stream {
                        Ok(stream) => {
                            let data = data.clone();
                            let spawned = std::thread::Builder::new()
                                .name("toolsync-client".into())
                                .spawn(move || serve(&data, stream));
                            if let Err(e) = spawned {
                                tracing::error!("cannot start a thread for a client: {e}");
                            }
                        }
                        Err(e) => tracing::warn!("a client could not connect: {e}"),
                    }
                }
            })
            .map_err(failed)?;
        Ok(Server { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads one request, runs it, sends its exit code.
fn serve(data: &DataDir, stream: UnixStream) {
    let Ok(reader) = stream.try_clone() else {
        return;
    };
    let mut line = String::new();
    if BufReader::new(reader.take(MAX_REQUEST))
        .read_line(&mut line)
        .is_err()
    {
        return;
    }
    let remote = |terminal| Remote::new(stream.try_clone().expect("cloned above"), terminal);
    let request: Request = match serde_json::from_str(&line) {
        Ok(request) => request,
        Err(e) => {
            let remote = remote(false);
            let _ = remote.send(
                protocol::STDERR,
                format!("toolsync: not a request: {e}\n").as_bytes(),
            );
            let _ = remote.send(protocol::EXIT, &[ExitCode::Usage as u8]);
            return;
        }
    };
    let remote = remote(request.stdout_terminal);
    let code = remote.serve(|| {
        let run = || execute(data, &request);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
            Ok(code) => code,
            Err(_) => {
                output::note("the daemon failed on this command (a bug: see its log)");
                ExitCode::Store as i32
            }
        }
    });
    tracing::debug!(args = ?request.args, code, "client command done");
    let _ = remote.send(protocol::EXIT, &[code as u8]);
}

/// Runs a client's command line in the daemon; its exit code.
fn execute(data: &DataDir, request: &Request) -> i32 {
    let args = std::iter::once("toolsync".to_string()).chain(request.args.iter().cloned());
    let mut cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            output::note(e.to_string().trim_end());
            return ExitCode::Usage as i32;
        }
    };
    if !super::handed_over(&cli.command) {
        output::note("the daemon does not run this command: run it without the daemon's socket");
        return ExitCode::Usage as i32;
    }
    tracing::info!(args = ?request.args, "a client's command");
    cli.data_dir = Some(data.root.clone());
    absolutize(&mut cli, &request.cwd);
    let takes_turn = matches!(
        cli.command,
        Command::Run(_)
            | Command::Runall { .. }
            | Command::Revert { .. }
            | Command::Reports(crate::commands::reports::ReportsCmd {
                action: Some(crate::commands::reports::ReportsAction::Prune { .. }),
                ..
            })
            | Command::Journal {
                action: Some(JournalAction::Clear { .. })
            }
    );
    let _turn = if takes_turn {
        let turn = match super::RUN_LOCK.try_lock() {
            Ok(turn) => turn,
            Err(_) => {
                output::note("the daemon is running a file: this command waits for it to end");
                super::run_turn()
            }
        };
        if super::stop_requested() {
            output::note(
                "the daemon is stopping: run the command again once it is back, or without it",
            );
            return ExitCode::Store as i32;
        }
        Some(turn)
    } else {
        None
    };
    crate::cli::execute(cli)
}

/// Paths on a client's command line are the client's: made absolute against its working
/// directory. A relative `FILE` that is not there is a name in the file area (never one in
/// the daemon's own directory).
fn absolutize(cli: &mut Cli, cwd: &Path) {
    for dir in &mut cli.plugin_dirs {
        *dir = cwd.join(&*dir);
    }
    match &mut cli.command {
        Command::Run(cmd) => {
            if let Some(file) = &mut cmd.file {
                let given = file.to_string_lossy().into_owned();
                let plain = file.is_relative()
                    && given != "-"
                    && !given.starts_with(crate::run::AREA_PREFIX);
                if plain {
                    let here = cwd.join(&*file);
                    *file = if std::fs::symlink_metadata(&here).is_ok() {
                        here
                    } else {
                        PathBuf::from(format!("{}{given}", crate::run::AREA_PREFIX))
                    };
                }
            }
        }
        Command::Backup { file, .. } => *file = cwd.join(&*file),
        Command::Store {
            action: crate::commands::store::StoreAction::Copy { to, .. },
        } => {
            if let Some((engine, folder)) = to.split_once(':') {
                *to = format!("{engine}:{}", cwd.join(folder).display());
            }
        }
        Command::Picture {
            action: PictureAction::Get {
                output: Some(out), ..
            },
        } => *out = cwd.join(&*out),
        _ => {}
    }
}
