//! The archive copy of an input that is kept byte for byte (a zip, a CSV file without a secret
//! column), made on a thread of its own while the rows run instead of after them.
//!
//! Why: the copy is disk work and the rows are processor work. Copied at the finish, a 2.9 GB
//! archive of photos kept both cores idle for about 9 s after they had rendered every picture;
//! copied alongside, the disk does it while the cores render. An input whose secrets the
//! archive empties is still copied at the finish: that copy parses the file again, and would
//! take a core from the rows.
//!
//! The copy goes to the run's spool folder, synced; the finish renames it into
//! `files/archives/` under the name its plan chose. A kill leaves it in the spool folder, which
//! the next attempt empties or overwrites; anything that goes wrong (a file system that cannot
//! rename across, a read error) makes the finish copy the input itself, as it did before.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::report::private_file;

/// Bytes copied between two looks at the cancel flag.
const STEP: u64 = 16 << 20;

/// A copy in progress.
pub struct CopyAhead {
    copy: PathBuf,
    cancel: Arc<AtomicBool>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl CopyAhead {
    /// Starts copying `input` to `<spool_dir>/archive-copy`.
    pub fn start(input: &Path, spool_dir: &Path) -> CopyAhead {
        let copy = spool_dir.join("archive-copy");
        let cancel = Arc::new(AtomicBool::new(false));
        let thread = {
            let (input, copy, cancel) = (input.to_path_buf(), copy.clone(), Arc::clone(&cancel));
            std::thread::Builder::new()
                .name("archive-copy".into())
                .spawn(move || copy_file(&input, &copy, &cancel))
                .map_err(|e| tracing::debug!(error = %e, "no thread for the archive copy"))
                .ok()
        };
        CopyAhead {
            copy,
            cancel,
            thread,
        }
    }

    /// Waits for the copy and moves it to `path`; `false` when there is none to move (the
    /// caller then copies the input itself).
    pub fn place(mut self, path: &Path) -> bool {
        let Some(thread) = self.thread.take() else {
            return false;
        };
        let copied = match thread.join() {
            Ok(copied) => copied.and_then(|()| std::fs::rename(&self.copy, path)),
            Err(_) => Err(std::io::Error::other("the copy's thread panicked")),
        };
        match copied {
            Ok(()) => true,
            Err(error) => {
                tracing::info!(%error, "the archive copy made during the run is not used");
                let _ = std::fs::remove_file(&self.copy);
                false
            }
        }
    }
}

impl Drop for CopyAhead {
    /// A run that ends without its finish (a store error) stops the copy, so that no thread
    /// writes into a spool folder the next run of the same process may empty.
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.cancel.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }
}

fn copy_file(input: &Path, copy: &Path, cancel: &AtomicBool) -> std::io::Result<()> {
    let mut source = File::open(input)?;
    let mut out = private_file(copy)?;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("cancelled"));
        }
        // `io::copy` between two files uses the kernel's copy (`copy_file_range`) on Linux.
        if std::io::copy(&mut (&mut source).take(STEP), &mut out)? == 0 {
            break;
        }
    }
    out.flush()?;
    out.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder of its own for each test.
    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("toolsync-copy-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_copy_is_the_input_byte_for_byte_and_moves_into_place() {
        let dir = folder("moved");
        let input = dir.as_path().join("in.zip");
        let bytes: Vec<u8> = (0..(STEP as usize * 2 + 12_345))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&input, &bytes).unwrap();
        let target = dir.as_path().join("placed.zip");
        assert!(CopyAhead::start(&input, dir.as_path()).place(&target));
        assert_eq!(std::fs::read(&target).unwrap(), bytes);
        assert!(!dir.as_path().join("archive-copy").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_copy_that_cannot_be_made_leaves_the_finish_to_copy() {
        let dir = folder("missing");
        let missing = dir.as_path().join("gone.zip");
        assert!(!CopyAhead::start(&missing, dir.as_path()).place(&dir.as_path().join("x")));
        assert!(!dir.as_path().join("x").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dropping_a_copy_stops_it() {
        let dir = folder("dropped");
        let input = dir.as_path().join("in.csv");
        std::fs::write(&input, vec![b'a'; STEP as usize * 3]).unwrap();
        drop(CopyAhead::start(&input, dir.as_path()));
        // The thread has ended: nothing writes into the folder any more.
        let before = std::fs::metadata(dir.as_path().join("archive-copy")).map(|m| m.len());
        std::thread::sleep(std::time::Duration::from_millis(50));
        let after = std::fs::metadata(dir.as_path().join("archive-copy")).map(|m| m.len());
        assert_eq!(before.ok(), after.ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
