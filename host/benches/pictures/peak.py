#!/usr/bin/env python3
"""Peak memory of one pictures run, for BENCHMARKS.md ("An archive's memory").

Why a script beside the bench: the bench times toolsync against the image loop; the question
here is only how a run's peak moves with the archive's entry count and the store's size, on
each engine, with archives of many small entries that the bench does not make.

    peak.py small N OUT_DIR
        writes OUT_DIR/archive-N.zip (N stored 48x48 PNGs of random pixels, pic000001.png...)
        and OUT_DIR/users-N.csv (the accounts pic000001...). With --other, the pixels differ
        (archive-Nb.zip): every entry is an update on a store that has the first archive.
    peak.py run ARCHIVE --store DIR --core C [--release target/release]
        copies the data dir DIR, runs `toolsync run pictures ARCHIVE` on the copy pinned to
        core C (taskset), prints the peak resident memory wait4 reports, removes the copy.
    peak.py seed USERS ENGINE DIR
        makes DIR a data dir whose store (ENGINE: sled or redb) holds the accounts of USERS.

Run from the repository root after `cargo build --release -p toolsync -p toolsync-pictures
-p toolsync-users`.
"""
import argparse
import os
import random
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib


def png(seed):
    side = 48
    r = random.Random(seed)
    rows = b"".join(b"\x00" + bytes(r.getrandbits(8) for _ in range(side * 3)) for _ in range(side))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def small(n, out, other):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"users-{n}.csv"), "w") as f:
        f.write("username;firstname;lastname\n")
        for i in range(1, n + 1):
            f.write(f"pic{i:06};Picture;Number {i}\n")
    name = f"archive-{n}b.zip" if other else f"archive-{n}.zip"
    offset = 1_000_000 if other else 0
    with zipfile.ZipFile(os.path.join(out, name), "w", zipfile.ZIP_STORED) as z:
        for i in range(1, n + 1):
            z.writestr(f"pic{i:06}.png", png(i + offset))


def seed(users, engine, data_dir, release):
    os.makedirs(data_dir)
    with open(os.path.join(data_dir, "toolsync.toml"), "w") as f:
        f.write(f'store = "{engine}"\n')
    subprocess.run(
        [f"{release}/toolsync", "-q", "--data-dir", data_dir, "--plugin-dir", release, "run", "users", users],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def run(archive, store, core, release):
    copy = f"{store.rstrip('/')}.run-{os.getpid()}"
    shutil.copytree(store, copy)
    try:
        child = subprocess.Popen(
            ["taskset", "-c", str(core), f"{release}/toolsync", "-q", "--data-dir", copy, "--plugin-dir", release,
             "run", "pictures", archive, "--set", "max_archive_bytes=64GiB", "--set", "archive=false"],
            stdout=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(child.pid, 0)
        print(f"{archive} on {store}: exit {os.waitstatus_to_exitcode(status)}, "
              f"peak {usage.ru_maxrss / 1024:.1f} MiB", flush=True)
    finally:
        shutil.rmtree(copy)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", default="target/release")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("small")
    p.add_argument("n", type=int)
    p.add_argument("out")
    p.add_argument("--other", action="store_true")
    p = sub.add_parser("run")
    p.add_argument("archive")
    p.add_argument("--store", required=True)
    p.add_argument("--core", default="1")
    p = sub.add_parser("seed")
    p.add_argument("users")
    p.add_argument("engine", choices=["sled", "redb"])
    p.add_argument("dir")
    args = parser.parse_args()
    if args.command == "small":
        small(args.n, args.out, args.other)
    elif args.command == "seed":
        seed(args.users, args.engine, args.dir, args.release)
    else:
        run(args.archive, args.store, args.core, args.release)


if __name__ == "__main__":
    sys.exit(main())
