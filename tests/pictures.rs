//! pictures end to end (formats.md §3.12): the real binary, the users and pictures plugins, a
//! real store and its folder of picture files. Every archive and image is made here: a good
//! archive, and each hostile kind an archive from outside may be.

mod common;
use common::*;

use std::io::{Cursor, Write};
use std::path::PathBuf;

use serde_json::Value;
use toolsync_pictures::fixtures;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// Accounts ann, bob, cy, dan, j.doe, eve, and del (soft-deleted).
///
/// No undo log is kept (`[undo] keep_runs = 0`): a replaced picture's files are swept at once,
/// as these tests check. While a log names them they stay (tests/undo.rs).
fn world() -> World {
    let world = World::with(&[USERS, PICTURES]);
    std::fs::create_dir_all(&world.data).unwrap();
    std::fs::write(world.data.join("toolsync.toml"), "[undo]\nkeep_runs = 0\n").unwrap();
    let users = world.file(
        "users.csv",
        "username;firstname;lastname;deleted\nann;Ann;A;0\nbob;Bob;B;0\ncy;Cy;C;0\ndan;Dan;D;0\n\
         j.doe;J;Doe;0\neve;Eve;E;0\ndel;Del;D;0\n",
    );
    let (code, report) = world.run_json("users", &users, &[]);
    assert_eq!(code, 0, "{report}");
    let gone = world.file("gone.csv", "username;deleted\ndel;1\n");
    let (code, report) = world.run_json("users", &gone, &[]);
    assert_eq!(code, 0, "{report}");
    world
}

/// A zip of `(name, bytes)` entries, deflated.
fn zip(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    zip_with(|w| {
        for (name, bytes) in entries {
            w.start_file(*name, deflated()).unwrap();
            w.write_all(bytes).unwrap();
        }
    })
}

fn zip_with(build: impl FnOnce(&mut ZipWriter<Cursor<Vec<u8>>>)) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    build(&mut writer);
    writer.finish().unwrap().into_inner()
}

fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
}

/// Each row of a full JSON report as `outcome subject: message`.
fn rows(report: &Value) -> Vec<String> {
    report["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in {report}"))
        .iter()
        .map(|r| {
            format!(
                "{} {}: {}",
                r["outcome"].as_str().unwrap_or("?"),
                r["subject"].as_str().unwrap_or(""),
                r["message"].as_str().or(r["reason"].as_str()).unwrap_or("")
            )
        })
        .collect()
}

fn run_archive(world: &World, name: &str, bytes: &[u8], extra: &[&str]) -> (i32, Value) {
    let file = world.file(name, bytes);
    let mut args = vec!["--report", "full"];
    args.extend_from_slice(extra);
    world.run_json("pictures", &file, &args)
}

/// The width and height a PNG's header says.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// Every stored picture file of the world.
fn stored_files(world: &World) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let root = world.data.join("pictures");
    let Ok(shards) = std::fs::read_dir(&root) else {
        return found;
    };
    for shard in shards.flatten() {
        for file in std::fs::read_dir(shard.path()).unwrap().flatten() {
            found.push(file.path());
        }
    }
    found.sort();
    found
}

fn sha256_hex(bytes: &[u8]) -> String {
    toolsync_plugin_api::blobs::sha256_hex(bytes)
}

fn picture_get(world: &World, account: &str, size: &str) -> Vec<u8> {
    let run = world.run(&["picture", "get", account, "--size", size]);
    assert_eq!(run.code(), 0, "picture get {account}: {}", run.stderr());
    run.output.stdout
}

#[test]
fn a_good_archive_sets_every_picture_and_runs_again_unchanged() {
    let world = world();
    let png = fixtures::png(600, 400);
    let jpeg = fixtures::jpeg(1200, 1600, 85);
    let archive = zip(&[
        ("photos/", Vec::new()),
        ("photos/ann.png", png.clone()),
        ("photos/bob.jpg", jpeg.clone()),
        ("cy.gif", fixtures::gif(300, 200)),
        ("dan.gif", fixtures::animated_gif(64, 64, 3)),
        // A PNG under a JPEG's name: the content decides.
        ("j.doe.jpg", fixtures::png(50, 80)),
    ]);
    let (code, report) = run_archive(&world, "userpictures_a.zip", &archive, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["encoding"], Value::Null);
    assert_eq!(report["delimiter"], Value::Null);
    assert_eq!(
        rows(&report),
        [
            "created ann: photos/ann.png: png 600×400",
            "created bob: photos/bob.jpg: jpeg 1200×1600",
            "created cy: cy.gif: gif 300×200",
            "created dan: dan.gif: gif 64×64",
            "created j.doe: j.doe.jpg: png 50×80",
        ]
    );
    let lines: Vec<u64> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(
        lines,
        [2, 3, 4, 5, 6],
        "entries keep their place, the folder counted"
    );

    let ann = world.show("picture", "ann").expect("ann has a picture");
    assert_eq!(ann["sha256"], sha256_hex(&png));
    assert_eq!(ann["format"], "png");
    assert_eq!(
        (ann["width"].as_u64(), ann["height"].as_u64()),
        (Some(600), Some(400))
    );
    assert_eq!(ann["renditions"]["512"]["width"], 512);
    assert_eq!(ann["renditions"]["512"]["height"], 341);
    let bob = world.show("picture", "bob").unwrap();
    assert_eq!(bob["renditions"]["512"]["width"], 384);
    assert_eq!(bob["renditions"]["512"]["height"], 512);
    assert_eq!(png_size(&picture_get(&world, "bob", "512")), (384, 512));
    assert_eq!(png_size(&picture_get(&world, "bob", "100")), (100, 100));
    assert_eq!(png_size(&picture_get(&world, "bob", "35")), (35, 35));
    // Never enlarged: a 50×80 picture stays so.
    assert_eq!(png_size(&picture_get(&world, "j.doe", "512")), (50, 80));
    assert_eq!(stored_files(&world).len(), 15, "three files a picture");
    world.assert_consistent();

    let export = world.run(&["export", "pictures", "--format", "json"]);
    assert_eq!(export.code(), 0, "{}", export.stderr());
    let all: Vec<Value> = serde_json::from_slice(&export.output.stdout).unwrap();
    assert_eq!(all.len(), 5);
    let csv = world.run(&["export", "pictures"]);
    assert!(
        csv.stdout()
            .starts_with("username;sha256;format;width;height;size512;size100;size35"),
        "{}",
        csv.stdout()
    );

    // The same archive again: nothing is decoded, nothing changes.
    let before = stored_files(&world);
    let (code, report) = run_archive(&world, "userpictures_a.zip", &archive, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["counts"]["unchanged"], 5, "{report}");
    assert_eq!(stored_files(&world), before);

    // Another picture for ann: updated, and her old files go; with overwrite off, skipped.
    let other = fixtures::png(200, 200);
    let (code, report) = run_archive(
        &world,
        "userpictures_b.zip",
        &zip(&[("ann.png", other.clone()), ("bob.png", other.clone())]),
        &["--set", "overwrite=true"],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["counts"]["updated"], 2, "{report}");
    assert_eq!(
        world.show("picture", "ann").unwrap()["sha256"],
        sha256_hex(&other)
    );
    // ann and bob now share their three files; the six they had are gone.
    assert_eq!(stored_files(&world).len(), 15 - 6 + 3);
    let (code, report) = run_archive(
        &world,
        "userpictures_c.zip",
        &zip(&[("cy.png", fixtures::png(10, 10))]),
        &["--set", "overwrite=false"],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        rows(&report),
        ["skipped cy: cy.png: has a picture; overwrite is off"]
    );
    world.assert_consistent();
}

/// Every hostile kind of entry gets its outcome and reason; the run goes on; nothing of a
/// failed entry is stored; the tryback holds the failed entries, unsafe ones excluded.
#[test]
fn each_hostile_entry_fails_alone_with_its_reason() {
    let world = world();
    let tiny = fixtures::png(8, 8);
    let archive = zip_with(|w| {
        let add = |w: &mut ZipWriter<Cursor<Vec<u8>>>, name: &str, bytes: &[u8]| {
            w.start_file(name, deflated()).unwrap();
            w.write_all(bytes).unwrap();
        };
        add(w, "ann.png", &tiny);
        add(w, "../bob.png", &tiny);
        add(w, "/etc/cy.png", &tiny);
        add(w, "C:\\dan.png", &tiny);
        w.add_symlink("link.png", "/etc/passwd", deflated())
            .unwrap();
        add(w, "__MACOSX/._ann.png", b"resource fork");
        add(w, ".DS_Store", b"finder");
        add(w, "zed.png", &tiny);
        add(w, "del.png", &tiny);
        add(w, "bob.png", b"hello, this is not an image\n");
        add(w, "cy.png", &fixtures::pixel_bomb_png(100_000, 100_000));
        add(w, "dan.jpg", &fixtures::truncated_jpeg(40, 30));
        add(w, "eve.png", &vec![7u8; 3000]);
        add(w, "j.doe.png", &fixtures::png(9, 9));
    });
    let (code, report) = run_archive(
        &world,
        "hostile.zip",
        &archive,
        &["--set", "max_image_bytes=2 KiB"],
    );
    assert_eq!(code, 1, "{report}");
    let rows = rows(&report);
    let expect = [
        ("created ann: ann.png", ""),
        ("failed : ../bob.png: unsafe path", ""),
        ("failed : /etc/cy.png: unsafe path", ""),
        ("failed : C:\\dan.png: unsafe path", ""),
        ("failed : link.png: unsafe path", ""),
        ("skipped : __MACOSX/._ann.png: system file", ""),
        ("skipped : .DS_Store: system file", ""),
        ("failed zed: zed.png: no user with username = zed", ""),
        ("failed del: del.png: account deleted (del)", ""),
        ("failed bob: bob.png: not a PNG, JPEG or GIF image", ""),
        (
            "failed cy: cy.png: 100000×100000 pixels, over the limit",
            "",
        ),
        ("failed dan: dan.jpg: cannot decode the image", ""),
        ("failed : eve.png: over max_image_bytes", ""),
        ("created j.doe: j.doe.png", ""),
    ];
    assert_eq!(rows.len(), expect.len(), "{rows:#?}");
    for (row, (start, inside)) in rows.iter().zip(expect) {
        assert!(
            row.starts_with(start) && row.contains(inside),
            "{row} ≠ {start}…{inside}"
        );
    }
    // Only the two good pictures are stored: 6 files, none of a failed entry.
    assert_eq!(stored_files(&world).len(), 6);
    assert!(world.show("picture", "zed").is_none());
    for account in ["bob", "cy", "dan", "eve"] {
        let run = world.run(&["show", "picture", account]);
        assert_eq!(run.code(), 1, "{account}: {}", run.stdout());
        assert!(run.stderr().contains("has no picture"), "{}", run.stderr());
    }
    let check = world.run(&["check"]);
    assert_eq!(check.code(), 0, "{}", check.stdout());
    assert!(
        !check.stdout().contains("no record names"),
        "{}",
        check.stdout()
    );

    // The tryback: the failed entries as stored, the unsafe ones left out, owner-only.
    let tryback = PathBuf::from(report["tryback"].as_str().expect("a tryback"));
    assert!(tryback
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("hostile_tryback_"));
    assert_eq!(tryback.extension().unwrap(), "zip");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&tryback).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mut back = zip::ZipArchive::new(std::fs::File::open(&tryback).unwrap()).unwrap();
    let names: Vec<String> = (0..back.len())
        .map(|i| back.by_index_raw(i).unwrap().name().to_string())
        .collect();
    assert_eq!(
        names,
        ["zed.png", "del.png", "bob.png", "cy.png", "dan.jpg", "eve.png"]
    );
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut back.by_name("bob.png").unwrap(), &mut bytes).unwrap();
    assert_eq!(bytes, b"hello, this is not an image\n");
}

#[test]
fn an_archive_over_its_total_or_no_zip_at_all_is_refused() {
    let world = world();
    let big = zip(&[
        ("ann.png", fixtures::png(64, 64)),
        ("bob.bin", vec![0u8; 200_000]),
        ("cy.bin", vec![0u8; 200_000]),
    ]);
    let (code, report) = run_archive(
        &world,
        "big.zip",
        &big,
        &["--set", "max_archive_bytes=300 KiB"],
    );
    assert_eq!(code, 3, "{report}");
    let refused = report["refused"].as_str().unwrap();
    assert!(
        refused.contains("max_archive_bytes") && refused.contains("cy.bin"),
        "{refused}"
    );
    assert!(world.show("picture", "ann").is_none(), "nothing applied");
    assert!(stored_files(&world).is_empty());

    let good = zip(&[("ann.png", fixtures::png(64, 64))]);
    for (name, bytes) in [
        ("text.zip", b"ann;bob\n".to_vec()),
        ("empty.zip", Vec::new()),
        ("cut.zip", good[..good.len() / 2].to_vec()),
    ] {
        let (code, report) = run_archive(&world, name, &bytes, &[]);
        assert_eq!(code, 3, "{name}: {report}");
        assert!(!report["refused"].as_str().unwrap().is_empty(), "{name}");
    }
}

/// A zip bomb: 64 MiB of zeros deflated into a small entry whose headers claim 1 KiB. Its size
/// is counted on what decompresses: the archive total refuses it, or its entry fails.
#[test]
fn a_zip_bomb_whose_sizes_lie_is_stopped() {
    let world = world();
    let mut archive = zip(&[("ann.png", vec![0u8; 64 << 20])]);
    lie_about_sizes(&mut archive, 1024);
    // Counted as it decompresses: its entry stops at max_image_bytes (8 MiB) + 1 byte.
    let (code, report) = run_archive(&world, "bomb.zip", &archive, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        reasons(&report),
        ["ann.png: over max_image_bytes: more than 8 MiB once decompressed"]
    );
    // And the archive's total is what decompressed, not the 1 KiB it declares.
    let (code, report) = run_archive(
        &world,
        "bomb.zip",
        &archive,
        &["--set", "max_archive_bytes=4 MiB"],
    );
    assert_eq!(code, 3, "{report}");
    assert!(
        report["refused"]
            .as_str()
            .unwrap()
            .contains("max_archive_bytes"),
        "{report}"
    );
}

/// Writes `size` as the uncompressed size of every entry, in its local header and in the
/// central directory.
fn lie_about_sizes(zip: &mut [u8], size: u32) {
    let mut at = 0;
    while at + 4 <= zip.len() {
        match &zip[at..at + 4] {
            [0x50, 0x4b, 0x03, 0x04] => zip[at + 22..at + 26].copy_from_slice(&size.to_le_bytes()),
            [0x50, 0x4b, 0x01, 0x02] => zip[at + 24..at + 28].copy_from_slice(&size.to_le_bytes()),
            _ => {}
        }
        at += 1;
    }
}

#[test]
fn the_default_archives_run_in_name_order_and_a_dry_run_stores_nothing() {
    let world = world();
    let area = world.data.join("files");
    std::fs::create_dir_all(&area).unwrap();
    std::fs::write(
        area.join("userpictures_2.zip"),
        zip(&[("ann.png", fixtures::png(30, 30))]),
    )
    .unwrap();
    std::fs::write(
        area.join("USERPICTURES_1.ZIP"),
        zip(&[("ann.png", fixtures::png(20, 20))]),
    )
    .unwrap();
    std::fs::write(area.join("other.zip"), b"not read").unwrap();

    let dry = world.run(&["run", "pictures", "--dry-run"]);
    assert_eq!(dry.code(), 0, "{}{}", dry.stdout(), dry.stderr());
    assert!(world.show("picture", "ann").is_none());
    assert!(stored_files(&world).is_empty(), "a dry run writes no file");

    let run = world.run(&["run", "pictures"]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    let out = run.stdout();
    let first = out
        .find("USERPICTURES_1.ZIP")
        .expect("the first archive's report");
    let second = out
        .find("userpictures_2.zip")
        .expect("the second archive's report");
    assert!(first < second, "byte order of names: {out}");
    // The last one applied wins: ann's picture is 30×30.
    assert_eq!(world.show("picture", "ann").unwrap()["width"], 30);
    assert_eq!(
        stored_files(&world).len(),
        3,
        "the first picture's files were swept"
    );
    let reports = std::fs::read_dir(area.join("reports")).unwrap().count();
    // Two reports a run: the world's two users runs, then two archives dry and for real.
    assert_eq!(reports, 2 * 2 + 2 * 2 + 2 * 2);

    std::fs::remove_file(area.join("userpictures_2.zip")).unwrap();
    std::fs::remove_file(area.join("USERPICTURES_1.ZIP")).unwrap();
    let none = world.run(&["run", "pictures"]);
    assert_eq!(none.code(), 3);
    assert!(
        none.stderr()
            .contains("no archive named userpictures_*.zip"),
        "{}",
        none.stderr()
    );
}

#[test]
fn a_deleted_account_loses_its_picture_and_a_backup_keeps_the_files() {
    let world = world();
    let (code, report) = run_archive(
        &world,
        "p.zip",
        &zip(&[
            ("ann.png", fixtures::png(40, 40)),
            ("bob.png", fixtures::png(41, 41)),
        ]),
        &[],
    );
    assert_eq!(code, 0, "{report}");
    let backup = world.root.join("store.backup");
    let run = world.run(&["backup", backup.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{}", run.stderr());

    let gone = world.file("gone.csv", "username;deleted\nbob;1\n");
    let (code, report) = world.run_json("users", &gone, &[]);
    assert_eq!(code, 0, "{report}");
    assert!(world.show("picture", "bob").is_none());
    let check = world.run(&["check"]);
    assert_eq!(
        check.code(),
        0,
        "unnamed files are no damage: {}",
        check.stdout()
    );
    assert!(
        check.stdout().contains("3 stored files"),
        "{}",
        check.stdout()
    );
    // The next pictures run removes them.
    let (code, report) = run_archive(
        &world,
        "q.zip",
        &zip(&[("ann.png", fixtures::png(40, 40))]),
        &[],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(stored_files(&world).len(), 3);

    // A lost file is damage check names; a restore brings the files back.
    for file in stored_files(&world) {
        std::fs::remove_file(file).unwrap();
    }
    let check = world.run(&["check"]);
    assert_eq!(check.code(), 1, "{}", check.stdout());
    assert!(check.stdout().contains("is missing"), "{}", check.stdout());
    let run = world.run(&["restore", backup.to_str().unwrap(), "--force"]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    world.assert_consistent();
    assert_eq!(stored_files(&world).len(), 6);
    assert_eq!(png_size(&picture_get(&world, "bob", "512")), (41, 41));
}

#[test]
fn picture_get_says_what_is_missing_and_never_writes_on_a_terminal_by_mistake() {
    let world = world();
    let run = world.run(&["picture", "get", "ann"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    assert!(
        run.stderr().contains("`ann` has no picture"),
        "{}",
        run.stderr()
    );
    let run = world.run(&["picture", "get", "nobody"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("no user matches `nobody`"),
        "{}",
        run.stderr()
    );
    let run = world.run(&["picture", "get", "ann", "--size", "64"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    let (code, _) = run_archive(
        &world,
        "p.zip",
        &zip(&[("ann.png", fixtures::png(40, 40))]),
        &[],
    );
    assert_eq!(code, 0);
    let out = world.root.join("ann.png");
    let run = world.run(&[
        "picture",
        "get",
        "ann",
        "--size",
        "35",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    assert_eq!(png_size(&std::fs::read(&out).unwrap()), (35, 35));
}

/// A run killed after `prepare` stored its files, before its rows are durable (an abort right
/// after the last commit, which sled has not written yet): whatever of it survived, the next
/// run leaves exactly the files the pictures name — three a picture — and a consistent store.
#[test]
fn a_killed_run_leaves_no_stray_file_after_the_next_run() {
    let world = world();
    let first = world.file(
        "k.zip",
        zip(&[
            ("ann.png", fixtures::png(40, 40)),
            ("bob.png", fixtures::png(41, 41)),
        ]),
    );
    let run = world
        .command(&["run", "pictures", first.to_str().unwrap()])
        .env("TOOLSYNC_FAULT", "after-last-commit")
        .output()
        .unwrap();
    assert_ne!(run.status.code(), Some(0), "the fault point was reached");
    assert_eq!(
        stored_files(&world).len(),
        6,
        "prepare stored the files before the kill"
    );
    let (code, report) = run_archive(
        &world,
        "l.zip",
        &zip(&[("ann.png", fixtures::png(50, 50))]),
        &[],
    );
    assert!(code == 0, "{report}");
    world.assert_consistent();
    let pictures = ["ann", "bob"]
        .iter()
        .filter(|a| world.show("picture", a).is_some())
        .count();
    assert_eq!(stored_files(&world).len(), 3 * pictures);
    assert_eq!(world.show("picture", "ann").unwrap()["width"], 50);
}

/// Two entries for one account apply in order; the first one's files, rendered and stored by
/// `prepare` and then replaced, are swept at the end of the run.
#[test]
fn two_entries_for_one_account_apply_in_order() {
    let world = world();
    let (code, report) = run_archive(
        &world,
        "twice.zip",
        &zip(&[
            ("ann.png", fixtures::png(40, 40)),
            ("again/ann.png", fixtures::png(50, 50)),
        ]),
        &[],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        rows(&report),
        [
            "created ann: ann.png: png 40×40",
            "updated ann: again/ann.png: png 50×50"
        ]
    );
    assert_eq!(world.show("picture", "ann").unwrap()["width"], 50);
    assert_eq!(stored_files(&world).len(), 3);
    world.assert_consistent();
}

/// `--atomic` with a failed entry commits nothing: no record, and the files `prepare` stored
/// for the good entries are swept; `--max-errors` keeps what came before the stop.
#[test]
fn an_atomic_run_rolled_back_leaves_no_picture_and_no_file() {
    let world = world();
    let archive = zip(&[
        ("ann.png", fixtures::png(40, 40)),
        ("bob.png", b"not an image".to_vec()),
        ("cy.png", fixtures::png(41, 41)),
    ]);
    let (code, report) = run_archive(&world, "atomic.zip", &archive, &["--atomic"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["committed"], false);
    assert!(world.show("picture", "ann").is_none());
    assert!(
        stored_files(&world).is_empty(),
        "{:?}",
        stored_files(&world)
    );
    assert_eq!(
        report["tryback"],
        Value::Null,
        "no tryback for a rolled-back run"
    );

    let (code, report) = run_archive(&world, "stop.zip", &archive, &["--max-errors", "1"]);
    assert_eq!(code, 1, "{report}");
    assert!(report["stopped"].as_str().unwrap().contains("--max-errors"));
    assert!(world.show("picture", "ann").is_some());
    assert!(world.show("picture", "cy").is_none(), "after the stop");
    assert_eq!(
        stored_files(&world).len(),
        3,
        "cy's files, prepared in the same chunk, swept"
    );
    world.assert_consistent();
}

/// A picture file that cannot be written (a full disk; here, `pictures/` is a file) is no fault
/// of the entry: the run stops as on any store error (exit 5), nothing is counted failed, and
/// once the cause is gone the same archive runs to its end.
#[test]
fn a_picture_file_that_cannot_be_written_stops_the_run_and_the_next_run_resumes() {
    let world = world();
    let archive = zip(&[
        ("ann.png", fixtures::png(40, 40)),
        ("bob.png", fixtures::png(41, 41)),
    ]);
    let file = world.file("w.zip", &archive);
    std::fs::write(world.data.join("pictures"), b"in the way").unwrap();
    let run = world.run(&["run", "pictures", file.to_str().unwrap()]);
    assert_eq!(run.code(), 5, "{}{}", run.stdout(), run.stderr());
    assert!(
        run.stderr().contains("cannot write a picture file"),
        "{}",
        run.stderr()
    );
    assert!(world.show("picture", "ann").is_none());
    std::fs::remove_file(world.data.join("pictures")).unwrap();
    let (code, report) = world.run_json("pictures", &file, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["counts"]["created"], 2, "{report}");
    assert_eq!(report["counts"]["failed"], 0, "{report}");
    world.assert_consistent();
}

/// Killed after the clean-up removed the first archive, before its journal was cleared: the
/// next default run says what that run did (its stored report, its failed entry in the exit
/// code), then reads the archives still there.
#[test]
fn a_default_run_killed_after_a_clean_up_still_reports_that_archive() {
    let world = world();
    let area = world.data.join("files");
    std::fs::create_dir_all(&area).unwrap();
    std::fs::write(
        area.join("userpictures_a.zip"),
        zip(&[
            ("ann.png", fixtures::png(30, 30)),
            ("zed.png", fixtures::png(31, 31)),
        ]),
    )
    .unwrap();
    std::fs::write(
        area.join("userpictures_b.zip"),
        zip(&[("bob.png", fixtures::png(32, 32))]),
    )
    .unwrap();
    let killed = world
        .command(&["run", "pictures", "--set", "cleanup=true"])
        .env("TOOLSYNC_FAULT", "after-cleanup")
        .output()
        .unwrap();
    assert_ne!(killed.status.code(), Some(0));
    assert!(
        !area.join("userpictures_a.zip").exists(),
        "cleaned up before the kill"
    );
    let run = world.run(&["run", "pictures", "--set", "cleanup=true"]);
    assert_eq!(
        run.code(),
        1,
        "zed.png failed in the first archive: {}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .contains("zed.png: no user with username = zed"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stderr().contains("had finished and removed its input"),
        "{}",
        run.stderr()
    );
    assert!(
        world.show("picture", "bob").is_some(),
        "the second archive ran"
    );
    assert!(!area.join("userpictures_b.zip").exists());
    world.assert_consistent();
}

/// What means nothing to an archive is refused, not ignored; `input` names the archive.
#[test]
fn csv_flags_are_refused_and_the_input_option_names_the_archive() {
    let world = world();
    let file = world.file("in.zip", zip(&[("ann.png", fixtures::png(30, 30))]));
    let path = file.to_str().unwrap();
    for args in [
        vec!["run", "pictures", path, "--delimiter", ";"],
        vec!["run", "pictures", path, "--encoding", "utf-8"],
        vec!["run", "pictures", path, "--set", "max_image_bytes=0"],
        vec!["run", "pictures", path, "--set", "max_archive_bytes=12 KB"],
    ] {
        let run = world.run(&args);
        assert_eq!(run.code(), 2, "{args:?}: {}", run.stderr());
    }
    let input = format!("input={path}");
    let run = world.run(&["run", "pictures", "--set", &input]);
    assert_eq!(run.code(), 0, "{}{}", run.stdout(), run.stderr());
    assert!(world.show("picture", "ann").is_some());
}

/// An archive's rows commit 200 entries at a time (each entry is heavy, a commit light: a kill
/// loses little, and the store's memory stays small). The archive copy, made while the rows
/// run, is the archive byte for byte.
#[test]
fn an_archive_commits_every_200_entries_and_its_copy_is_the_archive() {
    let world = world();
    let mut entries: Vec<(String, Vec<u8>)> = (0..450)
        .map(|i| (format!("nobody{i:03}.png"), fixtures::png(2, 2)))
        .collect();
    entries.push(("ann.png".into(), fixtures::png(20, 20)));
    let named: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    let bytes = zip(&named);
    let file = world.file("b.zip", &bytes);
    let run = world.run(&["-v", "run", "pictures", file.to_str().unwrap()]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let committed: Vec<String> = run
        .stderr()
        .lines()
        .filter(|l| l.contains("batch committed"))
        .filter_map(|l| l.split("rows=").nth(1)?.split(' ').next().map(String::from))
        .collect();
    assert_eq!(committed, ["200", "400", "451"], "{}", run.stderr());
    let archives: Vec<PathBuf> = std::fs::read_dir(world.data.join("files/archives"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("_b.zip"))
        .collect();
    assert_eq!(archives.len(), 1, "{archives:?}");
    assert_eq!(std::fs::read(&archives[0]).unwrap(), bytes);
    assert_eq!(world.show("picture", "ann").unwrap()["width"], 20);
}
