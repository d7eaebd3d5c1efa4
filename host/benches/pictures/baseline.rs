//! The hand-written loop: what `toolsync run pictures` computes for an archive, with no plugin,
//! no ABI, no guard, no store, no file written and no report.
//!
//! The archive is opened with the `zip` crate; each entry is read whole into memory and given
//! to `toolsync_pictures::imaging::process` with the processor's default limits (4096×4096):
//! detection, header check, decoding under limits, the 512 rendition and the 100 and 35
//! thumbnails encoded as PNG — the same code, with the same `image` crate, as the plugin's
//! `prepare`. With `threads` > 1 each thread opens the archive for itself and takes the next
//! entry from a shared atomic index: at most one entry (and its renditions) per thread is in
//! memory at a time.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use toolsync_pictures::imaging::{self, Limits};
use zip::ZipArchive;

/// What the loop did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Entries processed into three renditions.
    pub processed: u64,
    /// Bytes of the entries read.
    pub read: u64,
    /// Bytes of the PNGs made (kept nowhere: counted, then dropped).
    pub png: u64,
}

pub fn run(archive: &Path, threads: usize) -> Result<Counts, String> {
    let open = || -> Result<ZipArchive<File>, String> {
        let file =
            File::open(archive).map_err(|e| format!("cannot open {}: {e}", archive.display()))?;
        ZipArchive::new(file).map_err(|e| format!("{}: {e}", archive.display()))
    };
    let entries = open()?.len();
    let next = AtomicUsize::new(0);
    let limits = Limits {
        max_width: 4096,
        max_height: 4096,
    };
    let results: Vec<Result<Counts, String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut zip = open()?;
                    let mut counts = Counts::default();
                    let mut bytes = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= entries {
                            return Ok(counts);
                        }
                        let mut entry = zip.by_index(i).map_err(|e| format!("entry {i}: {e}"))?;
                        if entry.is_dir() {
                            continue;
                        }
                        bytes.clear();
                        entry
                            .read_to_end(&mut bytes)
                            .map_err(|e| format!("{}: {e}", entry.name()))?;
                        let processed = imaging::process(&bytes, &limits)
                            .map_err(|e| format!("{}: {e}", entry.name()))?;
                        if processed.renditions.len() != imaging::SIZES.len() {
                            return Err(format!(
                                "{}: {} renditions",
                                entry.name(),
                                processed.renditions.len()
                            ));
                        }
                        counts.processed += 1;
                        counts.read += bytes.len() as u64;
                        counts.png += processed
                            .renditions
                            .iter()
                            .map(|r| r.png.len() as u64)
                            .sum::<u64>();
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    let mut total = Counts::default();
    for counts in results {
        let counts = counts?;
        total.processed += counts.processed;
        total.read += counts.read;
        total.png += counts.png;
    }
    Ok(total)
}
