//! What the CLI and the daemon say to each other over the data dir's socket.
//!
//! The client sends one [`Request`] as a JSON line: its command line, its working directory,
//! whether its stdout is a terminal. The daemon answers with frames — a kind byte, a 32-bit
//! big-endian length, the bytes: [`STDOUT`] and [`STDERR`] as the command prints, then one
//! [`EXIT`] frame holding the exit code. A connection that ends before its `EXIT` frame is a
//! daemon that stopped (exit 5 on the client).

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The socket's name in the data dir.
pub const SOCKET: &str = "daemon.sock";

pub const STDOUT: u8 = b'o';
pub const STDERR: u8 = b'e';
pub const EXIT: u8 = b'x';

/// The most bytes one frame carries; longer writes go in several.
const MAX_FRAME: usize = 1 << 20;

/// The longest socket path `bind` and `connect` take (`sun_path` holds 108 bytes, NUL
/// included).
const MAX_SOCKET_PATH: usize = 107;

/// Calls `with` on a path that names the data dir's socket: `<data dir>/daemon.sock`, or when
/// that is too long for a socket address, the same file reached through an open handle of
/// the data dir (`/proc/self/fd/<n>/daemon.sock`, Linux), so that a deep data dir still works.
pub fn with_socket_path<T>(
    data_dir: &std::path::Path,
    with: impl FnOnce(&std::path::Path) -> io::Result<T>,
) -> io::Result<T> {
    let path = data_dir.join(SOCKET);
    if path.as_os_str().len() <= MAX_SOCKET_PATH {
        return with(&path);
    }
    let dir = std::fs::File::open(data_dir)?;
    let short = {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/proc/self/fd/{}/{SOCKET}", dir.as_raw_fd()))
    };
    let result = with(&short);
    drop(dir);
    result
}

/// A command the CLI hands to the daemon.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// The command line, without the program name.
    pub args: Vec<String>,
    /// Where relative paths on it are.
    pub cwd: PathBuf,
    pub stdout_terminal: bool,
}

/// Writes `bytes` as frames of `kind`.
pub fn write_frame(out: &mut impl Write, kind: u8, bytes: &[u8]) -> io::Result<()> {
    for piece in bytes.chunks(MAX_FRAME) {
        let mut header = [kind, 0, 0, 0, 0];
        header[1..].copy_from_slice(&(piece.len() as u32).to_be_bytes());
        out.write_all(&header)?;
        out.write_all(piece)?;
    }
    if bytes.is_empty() {
        out.write_all(&[kind, 0, 0, 0, 0])?;
    }
    Ok(())
}

/// Reads one frame; `None` at the end of the stream.
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 5];
    match input.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes: not a toolsync daemon"),
        ));
    }
    let mut bytes = vec![0; len];
    input.read_exact(&mut bytes)?;
    Ok(Some((header[0], bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_split() {
        let mut wire = Vec::new();
        write_frame(&mut wire, STDOUT, b"hello").unwrap();
        write_frame(&mut wire, EXIT, &[1]).unwrap();
        let big = vec![7u8; MAX_FRAME + 10];
        write_frame(&mut wire, STDERR, &big).unwrap();
        let mut input = &wire[..];
        assert_eq!(
            read_frame(&mut input).unwrap(),
            Some((STDOUT, b"hello".to_vec()))
        );
        assert_eq!(read_frame(&mut input).unwrap(), Some((EXIT, vec![1])));
        assert_eq!(read_frame(&mut input).unwrap().unwrap().1.len(), MAX_FRAME);
        assert_eq!(read_frame(&mut input).unwrap().unwrap().1.len(), 10);
        assert_eq!(read_frame(&mut input).unwrap(), None);
    }
}
