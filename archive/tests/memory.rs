//! The archive's memory does not grow with its number of entries.
//!
//! Why a test binary of its own: it counts every allocation of the process with a global
//! allocator, so it holds one test only (tests of one binary run on parallel threads).
//!
//! What it proves: opening, the pre-pass and the rows of an archive of 20,000 entries hold the
//! same memory as those of 2,000 (the central directory is walked, not listed), and the opening's
//! checks cost a few dozen bytes an entry, freed when it returns. A reader that lists the
//! directory into memory (the zip crate's holds about 0.3 KB an entry, and 0.5 KB more while it
//! builds its index) fails both.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use toolsync_archive::{Archive, EntryKind, Limits};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// The system allocator, counting the bytes live and their highest mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Starts a new measure: the peak is reset to what is live now, which is returned.
fn start() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// The highest mark since `start`, above what was live then.
fn peak_since(base: usize) -> usize {
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

/// An archive of `count` small stored entries, written to a temporary file.
fn archive_of(count: usize) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "toolsync-archive-memory-{}-{count}.zip",
        std::process::id()
    ));
    let file = std::fs::File::create(&path).unwrap();
    let mut zip = ZipWriter::new(std::io::BufWriter::new(file));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for n in 0..count {
        zip.start_file(format!("photos/account{n:06}.png"), options)
            .unwrap();
        zip.write_all(b"not a picture, 28 bytes long").unwrap();
    }
    zip.finish().unwrap().flush().unwrap();
    path
}

/// What one archive costs: (bytes held by the open archive, the opening's peak, the peak of the
/// pre-pass and the rows while the archive is open).
fn measure(count: usize) -> (usize, usize, usize) {
    let path = archive_of(count);
    let limits = Limits {
        max_entry_bytes: 1 << 20,
        max_archive_bytes: 1 << 30,
    };
    let base = start();
    let mut archive = Archive::open(&path).unwrap();
    let opening = peak_since(base);
    let held = LIVE.load(Ordering::Relaxed) - base;
    assert_eq!(archive.entry_count(), count);

    let base = start();
    assert_eq!(archive.check_total(&limits), Ok(28 * count as u64));
    let mut rows = 0;
    for entry in archive.entries(limits, 0) {
        assert!(matches!(entry.kind, EntryKind::Data(ref d) if d.len() == 28));
        rows += 1;
    }
    assert_eq!(rows, count);
    let reading = peak_since(base);
    drop(archive);
    std::fs::remove_file(&path).unwrap();
    (held, opening, reading)
}

#[test]
fn memory_does_not_grow_with_the_entry_count() {
    let (small_held, small_opening, small_reading) = measure(2_000);
    let (big_held, big_opening, big_reading) = measure(20_000);
    eprintln!(
        "2,000 entries: held {small_held} B, opening peak {small_opening} B, reading peak \
         {small_reading} B; 20,000: {big_held} B, {big_opening} B, {big_reading} B"
    );
    // What the open archive holds, and what reading it takes: the same at both sizes (a few
    // bytes of slack for the allocator's rounding of names).
    assert!(big_held <= small_held + 1024, "{small_held} -> {big_held}");
    assert!(
        big_reading <= small_reading + 4096,
        "{small_reading} -> {big_reading}"
    );
    // The opening's checks: 56 bytes an entry (two hashes of its name, its extent), freed on
    // return.
    let per_entry = big_opening.saturating_sub(small_opening) / 18_000;
    assert!(per_entry <= 64, "{per_entry} bytes an entry at the opening");
}
