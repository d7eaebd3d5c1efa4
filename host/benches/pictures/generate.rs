//! The pictures bench's files, deterministic: the same count always gives the same bytes.
//!
//! - A users file (formats.md §3.6) of the accounts, `username;firstname;lastname` (the least
//!   that creates one): account `n` (1-based) is `pic00001`, `Picture` `Number n`.
//! - A zip archive (§3.12) of `n` JPEG photos of 1200×1600 at quality 85
//!   (`toolsync_pictures::fixtures::jpeg_seeded`, about 280 KB each), entry `n` named
//!   `pic00001.jpg` with seed `n`: every picture's pixels differ, so do its renditions. The
//!   entries are *stored*, not deflated (JPEGs do not compress), in account order. An archive of
//!   N pictures is the first N entries of any larger one.
//!
//! Encoding 10,000 photos takes minutes: they are encoded on every core, a chunk at a time,
//! and written in order; the archive is written under a temporary name and renamed when whole,
//! so that a finished one can be kept and reused ([`cached_archive`]).

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use toolsync_pictures::fixtures;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 1600;
pub const QUALITY: u8 = 85;
pub const USERS_HEADER: &str = "username;firstname;lastname";

pub fn username(n: u64) -> String {
    format!("pic{n:05}")
}

pub fn entry_name(n: u64) -> String {
    format!("{}.jpg", username(n))
}

/// Picture `n`'s bytes.
pub fn picture(n: u64) -> Vec<u8> {
    fixtures::jpeg_seeded(WIDTH, HEIGHT, QUALITY, n)
}

/// Accounts 1 to `users`.
pub fn write_users(path: &Path, users: u64) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(out, "{USERS_HEADER}")?;
    for n in 1..=users {
        writeln!(out, "{};Picture;Number {n}", username(n))?;
    }
    out.flush()
}

/// `dir/archive-<pictures>.zip`, written unless a whole one is there already (the right entry
/// count, names and method, first and last entries' bytes as generated); says whether it was
/// reused.
pub fn cached_archive(dir: &Path, pictures: u64) -> Result<(PathBuf, bool), String> {
    let path = dir.join(format!("archive-{pictures}.zip"));
    if is_whole(&path, pictures) {
        return Ok((path, true));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let partial = dir.join(format!("archive-{pictures}.zip.partial"));
    write_archive(&partial, pictures)
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    std::fs::rename(&partial, &path)
        .map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
    Ok((path, false))
}

/// Whether `path` is an archive [`write_archive`] finished for `pictures` entries.
fn is_whole(path: &Path, pictures: u64) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let Ok(mut zip) = ZipArchive::new(file) else {
        return false;
    };
    if zip.len() as u64 != pictures {
        return false;
    }
    for n in [1, pictures] {
        let Ok(mut entry) = zip.by_index(n as usize - 1) else {
            return false;
        };
        let mut bytes = Vec::new();
        if entry.name() != entry_name(n)
            || entry.compression() != CompressionMethod::Stored
            || entry.read_to_end(&mut bytes).is_err()
            || bytes != picture(n)
        {
            return false;
        }
    }
    true
}

/// Pictures 1 to `pictures`, encoded on every core a chunk at a time, written in order.
fn write_archive(path: &Path, pictures: u64) -> std::io::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = threads as u64 * 8;
    let started = Instant::now();
    let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, File::create(path)?));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    let mut first = 1;
    while first <= pictures {
        let last = (first + chunk - 1).min(pictures);
        for (n, bytes) in (first..=last).zip(encode_on_every_core(first, last, threads)) {
            zip.start_file(entry_name(n), options)?;
            zip.write_all(&bytes)?;
        }
        if last % 1000 < chunk || last == pictures {
            eprint!(
                "\rgenerating {}: {last}/{pictures} pictures, {:.0} s",
                path.display(),
                started.elapsed().as_secs_f64()
            );
        }
        first = last + 1;
    }
    eprintln!();
    let mut out = zip.finish()?;
    out.flush()?;
    out.get_ref().sync_all()
}

/// Pictures `first` to `last`, in order, encoded by `threads` threads.
fn encode_on_every_core(first: u64, last: u64, threads: usize) -> Vec<Vec<u8>> {
    let count = (last - first + 1) as usize;
    let next = AtomicUsize::new(0);
    let mut slots: Vec<(usize, Vec<u8>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return done;
                        }
                        done.push((i, picture(first + i as u64)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a picture encoder panicked"))
            .collect()
    });
    slots.sort_by_key(|(i, _)| *i);
    slots.into_iter().map(|(_, bytes)| bytes).collect()
}
