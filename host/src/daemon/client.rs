//! The CLI's side of the socket: while a daemon holds the store, the commands that need it
//! are handed to the daemon, and what it sends back is printed as if run here.

use std::io::Write;
use std::os::unix::net::UnixStream;

use super::protocol::{self, Request, SOCKET};
use crate::data_dir::DataDir;
use crate::error::{Error, StoreError};
use crate::output::{Out, Stderr};

/// Whether a daemon answers on the data dir's socket.
pub fn daemon_up(data: &DataDir) -> bool {
    connect(data).is_ok()
}

fn connect(data: &DataDir) -> std::io::Result<UnixStream> {
    protocol::with_socket_path(&data.root, |at| UnixStream::connect(at))
}

/// Hands the command line `args` (without the program name) to the daemon of `data`, if one
/// answers; its exit code. `None`: no daemon, the command runs here.
pub fn forward(data: &DataDir, args: &[std::ffi::OsString]) -> Result<Option<i32>, Error> {
    let path = data.root.join(SOCKET);
    let Ok(mut stream) = connect(data) else {
        return Ok(None);
    };
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            Error::usage(
                "a daemon holds this data dir's store and takes UTF-8 arguments only: name \
                 the file differently",
            )
        })?;
    tracing::info!(socket = %path.display(), "a daemon holds the store: the command runs there");
    let request = Request {
        args,
        cwd: std::env::current_dir().unwrap_or_default(),
        stdout_terminal: Out::is_terminal(),
    };
    let mut line = serde_json::to_vec(&request).expect("a request serialises");
    line.push(b'\n');
    let lost = |e: std::io::Error| -> Error {
        StoreError::Failure(format!(
            "the daemon of {} did not answer ({e}): is it stopping? Run the command again",
            data.root.display()
        ))
        .into()
    };
    stream.write_all(&line).map_err(lost)?;
    let mut out = Out::stdout();
    loop {
        match protocol::read_frame(&mut stream).map_err(lost)? {
            Some((protocol::STDOUT, bytes)) => {
                out.write_all(&bytes)?;
                out.flush()?;
            }
            Some((protocol::STDERR, bytes)) => {
                let _ = Stderr.write_all(&bytes);
            }
            Some((protocol::EXIT, code)) => {
                out.flush()?;
                return Ok(Some(i32::from(code.first().copied().unwrap_or(5))));
            }
            Some(_) => {}
            None => {
                return Err(lost(std::io::Error::other(
                    "the connection ended before the command did",
                )))
            }
        }
    }
}
