//! Reading throughput of `toolsync_reader` (see BENCHMARKS.md, "Reading throughput").
//!
//! ```sh
//! cargo bench -p toolsync-reader --bench read                      # against rust-csv's ByteRecord loop
//! cargo bench -p toolsync-reader --bench read -- --vs OTHER_BINARY  # against another build of this bench
//! ```
//!
//! Options after `--`: `--rows N` (default 1,000,000), `--pairs N` (default 5), `--vs BINARY`.
//! Hidden modes, used by the runs themselves: `--read FILE` (toolsync_reader with
//! `ReadOptions::default()`, every item), `--baseline FILE` (the `csv` crate's
//! `read_byte_record` loop), `--generate N FILE [--cp1252]`, `--long-line MB FILE` (a header
//! and one line of MB megabytes, to check that memory follows the record, not the file).
//!
//! Every measured run is a child process (this binary, or the `--vs` one) reading one file from
//! the page cache (warmed first); A and B alternate, A B A B, since the machine drifts. A run
//! prints `rows bytes peak_rss_kib`; rows must agree between A and B.
//!
//! Only the public API is used, so the same file builds against an older reader: that is how a
//! before/after comparison is one run (`--vs`).

use std::env;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use toolsync_reader::{CsvReader, Item, ReadOptions};

const HEADER: &str =
    "username;firstname;lastname;email;idnumber;city;country;institution;department";

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).map(|i| &args[i + 1..]);
    if let Some(rest) = flag("--read") {
        return report(read_toolsync(Path::new(&rest[0])));
    }
    if let Some(rest) = flag("--baseline") {
        return report(read_baseline(Path::new(&rest[0])));
    }
    if let Some(rest) = flag("--generate") {
        let rows = rest[0].parse().expect("--generate N FILE");
        let cp1252 = args.iter().any(|a| a == "--cp1252");
        return generate(rows, Path::new(&rest[1]), cp1252);
    }
    if let Some(rest) = flag("--long-line") {
        let mb: usize = rest[0].parse().expect("--long-line MB FILE");
        return long_line(mb, Path::new(&rest[1]));
    }
    let number = |name: &str, default: usize| {
        flag(name).map_or(default, |r| r[0].parse().expect("a number"))
    };
    let rows = number("--rows", 1_000_000);
    let pairs = number("--pairs", 5);
    let vs = flag("--vs").map(|r| PathBuf::from(&r[0]));
    compare(rows, pairs, vs.as_deref());
}

// ---- the measured work ----

/// Rows, bytes consumed, peak RSS (KiB), time on CPU (ns).
type Counts = (u64, u64, u64, u64);

fn read_toolsync(path: &Path) -> Counts {
    let (mut reader, info) = match CsvReader::open(path, &ReadOptions::default()) {
        Ok(r) => r,
        Err(e) => panic!("refused: {e}"),
    };
    let mut rows = 0u64;
    let mut field_bytes = 0usize;
    while let Some(item) = reader.next_item() {
        match item {
            Item::Row(r) => field_bytes += r.fields.iter().map(String::len).sum::<usize>(),
            Item::Bad(b) => panic!("line {}: {}", b.line, b.reason),
        }
        rows += 1;
    }
    assert!(reader.read_error().is_none());
    assert!(field_bytes > 0 || rows == 0);
    assert_eq!(reader.position(), info.size);
    (rows, reader.position(), peak_rss_kib(), cpu_ns())
}

fn read_baseline(path: &Path) -> Counts {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(true)
        .from_path(path)
        .expect("open");
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    let mut field_bytes = 0usize;
    while reader.read_byte_record(&mut record).expect("read") {
        field_bytes += record.as_slice().len();
        rows += 1;
    }
    assert!(field_bytes > 0 || rows == 0);
    (rows, reader.position().byte(), peak_rss_kib(), cpu_ns())
}

fn report((rows, bytes, rss, cpu): Counts) {
    println!("{rows} {bytes} {rss} {cpu}");
}

/// Time this process has spent on a CPU, in ns (/proc/self/schedstat); 0 where it is missing.
/// Less sensitive than wall time to other work on the machine, which only delays the process.
fn cpu_ns() -> u64 {
    fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The process's peak resident set (VmHWM), in KiB; 0 where /proc is missing.
fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

// ---- the comparison ----

struct Run {
    label: String,
    file: &'static str,
    rows: u64,
    seconds: f64,
    mb_per_s: f64,
    cpu_seconds: f64,
    cpu_mb_per_s: f64,
    rss_kib: u64,
}

/// Rows, wall seconds, peak RSS (KiB), CPU seconds.
fn measure(program: &Path, mode: &str, file: &Path) -> (u64, f64, u64, f64) {
    let start = Instant::now();
    let out = Command::new(program)
        .arg(mode)
        .arg(file)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("spawn");
    let seconds = start.elapsed().as_secs_f64();
    assert!(out.status.success(), "{} {mode} failed", program.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<u64> = text
        .split_whitespace()
        .map(|w| w.parse().expect("rows bytes rss cpu"))
        .collect();
    let size = fs::metadata(file).unwrap().len();
    assert_eq!(
        nums[1],
        size,
        "{} read {} of {size} bytes",
        program.display(),
        nums[1]
    );
    (nums[0], seconds, nums[2], nums[3] as f64 / 1e9)
}

fn compare(rows: usize, pairs: usize, vs: Option<&Path>) {
    let me = env::current_exe().expect("current exe");
    let dir = option_env!("CARGO_TARGET_TMPDIR")
        .map_or_else(env::temp_dir, PathBuf::from)
        .join("bench-read");
    fs::create_dir_all(&dir).unwrap();
    let files = [
        ("utf-8", dir.join(format!("users-{rows}.csv")), false),
        ("cp1252", dir.join(format!("users-{rows}-cp1252.csv")), true),
    ];
    let (a, b): ((&Path, &str, &str), (&Path, &str, &str)) = match vs {
        Some(other) => ((&me, "--read", "this"), (other, "--read", "other")),
        None => (
            (&me, "--read", "toolsync"),
            (&me, "--baseline", "csv-crate"),
        ),
    };
    println!(
        "toolsync-reader read benchmark: {} cores, {pairs} pair(s) per file",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("  A = {} {}: {}", a.2, a.1, a.0.display());
    println!("  B = {} {}: {}", b.2, b.1, b.0.display());
    println!("  load average at the start: {}", load_average());
    for (name, path, cp1252) in &files {
        // Deterministic, so a file left by an earlier run is the same; written aside, then
        // renamed, so an interrupted run leaves no half file.
        if !path.exists() {
            let part = path.with_extension("part");
            generate(rows, &part, *cp1252);
            fs::rename(&part, path).unwrap();
        }
        let size = fs::metadata(path).unwrap().len();
        println!(
            "  {name}: {rows} rows, {:.1} MB, {}",
            size as f64 / 1e6,
            path.display()
        );
    }

    let mut runs = Vec::new();
    for (name, path, _) in &files {
        warm(path);
        let size = fs::metadata(path).unwrap().len() as f64;
        for pair in 1..=pairs {
            for (program, mode, label) in [a, b] {
                let (n, seconds, rss, cpu) = measure(program, mode, path);
                runs.push(Run {
                    label: format!("{label} #{pair}"),
                    file: name,
                    rows: n,
                    seconds,
                    mb_per_s: size / seconds / 1e6,
                    cpu_seconds: cpu,
                    cpu_mb_per_s: size / cpu / 1e6,
                    rss_kib: rss,
                });
            }
        }
    }

    println!("  load average at the end: {}", load_average());
    println!();
    println!("| run            | file   |     rows | wall s | wall MB/s | CPU s | CPU MB/s |  peak RSS |");
    println!("|----------------|--------|----------|--------|-----------|-------|----------|-----------|");
    for r in &runs {
        println!(
            "| {:<14} | {:<6} | {:>8} | {:>6.3} | {:>9.1} | {:>5.3} | {:>8.1} | {:>5.1} MiB |",
            r.label,
            r.file,
            r.rows,
            r.seconds,
            r.mb_per_s,
            r.cpu_seconds,
            r.cpu_mb_per_s,
            r.rss_kib as f64 / 1024.0
        );
    }
    println!();
    for (name, _, _) in &files {
        let mine: Vec<&Run> = runs.iter().filter(|r| r.file == *name).collect();
        for p in mine.chunks(2) {
            assert_eq!(p[0].rows, p[1].rows, "A and B disagree on the row count");
        }
        let med = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let n = v.len();
            if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            }
        };
        for (what, speed) in [
            ("wall", (|r: &Run| r.mb_per_s) as fn(&Run) -> f64),
            ("CPU", |r: &Run| r.cpu_mb_per_s),
        ] {
            let ratios: Vec<f64> = mine.chunks(2).map(|p| speed(p[0]) / speed(p[1])).collect();
            let speeds = |k: usize| med(mine.iter().skip(k).step_by(2).map(|r| speed(r)).collect());
            let per_pair: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
            println!(
                "{name}, {what} time: median A {:.1} MB/s, median B {:.1} MB/s; median ratio A/B {:.3} (per pair: {})",
                speeds(0),
                speeds(1),
                med(ratios.clone()),
                per_pair.join(", ")
            );
        }
    }
}

/// The first three fields of /proc/loadavg.
fn load_average() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads the file once so that every measured run finds it in the page cache.
fn warm(path: &Path) {
    let mut f = File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    while f.read(&mut buf).unwrap() > 0 {}
}

// ---- the input ----

/// SplitMix64: the same sequence on every platform, so the same N gives the same bytes.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.below(list.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

// Names within Windows-1252, so both variants hold the same text.
#[rustfmt::skip]
const FIRST: &[&str] = &[
    "Jean", "Marie", "Pierre", "Anne", "Louis", "Camille", "Léa", "Chloé", "Zoé", "Inès",
    "Anaïs", "Hélène", "Gaëlle", "Joël", "Raphaël", "Loïc", "Héloïse", "Amélie", "Céline",
    "Sébastien", "Jérôme", "Frédéric", "Benoît", "François", "Cécile", "Thérèse", "Agnès",
    "André", "Stéphane", "Élodie", "Éric", "Étienne", "Ève", "Thomas", "Nicolas", "Julien",
    "Hugo", "Lucas", "Manon", "Sarah", "Julie", "Emma", "Jade", "Louise", "Alice", "Léon",
    "Gabriel", "Arthur", "José", "María", "Lucía", "Sofía", "Álvaro", "Jesús", "Begoña",
    "Íñigo", "Jürgen", "Jörg", "Björn", "Günter", "Käthe", "Søren", "Åsa", "Ørjan", "Þóra",
    "João", "Gonçalo", "Conceição", "Niccolò", "Chiara", "Aïcha", "Siobhán", "Seán", "Liam",
    "Olivia", "Noah", "Emily", "Jack", "Grace", "Oliver", "Charlotte", "William", "James",
    "Anne-Sophie", "Jean-Baptiste", "Marie-Hélène", "Zoë", "Noémie", "Maëlys", "Ana Lúcia",
];

#[rustfmt::skip]
const LAST: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Fournier", "Girard", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "Légaré",
    "Hébert", "Gagné", "Bélanger", "Côté", "Müller", "Schäfer", "Größer", "Jørgensen", "Ångström",
    "García Márquez", "Núñez", "Peña", "Ibáñez", "O'Brien", "D'Amico", "Da Silva", "Gonçalves",
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
    "Van der Berg", "De la Fontaine", "Saint-Exupéry", "Le Goff", "N'Diaye", "Ben Saïd",
];

#[rustfmt::skip]
const CITIES: &[&str] = &[
    "Paris", "Lyon", "Marseille", "Toulouse", "Nice", "Nantes", "Montpellier", "Besançon",
    "Orléans", "Saint-Étienne", "Genève", "Zürich", "Köln", "München", "Málaga", "Córdoba",
    "São Paulo", "Québec", "Montréal", "Trois-Rivières", "Bruxelles", "Liège", "Reykjavík",
];

const COUNTRIES: &[&str] = &["FR", "CH", "DE", "ES", "BR", "CA", "BE", "IS", "GB", "US"];

#[rustfmt::skip]
const INSTITUTIONS: &[&str] = &[
    "Université de Lyon", "Lycée Victor Hugo", "École normale supérieure", "IUT de Nantes",
    "Collège Jean Moulin", "Universität Zürich", "Universidad de Málaga", "Open University",
    "Œuvre des écoles", "Campus Sud; annexe", "Lycée \"Les Eucalyptus\"", "CNAM; site Est",
];

#[rustfmt::skip]
const DEPARTMENTS: &[&str] = &[
    "Mathématiques", "Physique", "Chimie", "Histoire", "Géographie", "Lettres", "Langues",
    "Informatique", "Économie", "Sciences de l'éducation", "Arts plastiques", "Musique",
    "Biologie; écologie", "Le \"Lab\"", "Sport", "Philosophie", "Droit", "Médecine",
];

/// A CSV value: quoted when it holds `;`, `"` or a line end, with `"` doubled.
fn push_value(line: &mut String, v: &str) {
    if v.contains([';', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&v.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(v);
    }
}

fn ascii_lower(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The users file of `rows` rows: always the same bytes for the same arguments.
fn generate(rows: usize, path: &Path, cp1252: bool) {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).expect("create"));
    let mut rng = Rng(0x7001_5EED);
    let mut write = |text: &str| {
        if cp1252 {
            out.write_all(&to_cp1252(text)).unwrap();
        } else {
            out.write_all(text.as_bytes()).unwrap();
        }
    };
    write(&format!("{HEADER}\n"));
    let mut line = String::with_capacity(512);
    for i in 0..rows {
        line.clear();
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let user = format!("{}.{}{i}", ascii_lower(first), ascii_lower(last));
        let email = if rng.chance(10) {
            format!(
                "{}.{}{i}@Example.ORG",
                ascii_lower(first),
                ascii_lower(last)
            )
        } else {
            format!("{user}@example.org")
        };
        // Scrambled, unique idnumbers (an odd multiplier is a bijection modulo 2^32).
        let id = (i as u64).wrapping_mul(2_654_435_761) & 0xFFFF_FFFF;
        let fields: [String; 9] = [
            user,
            if rng.chance(3) {
                format!("  {first} ")
            } else {
                first.to_owned()
            },
            last.to_owned(),
            email,
            format!("E{id:010}"),
            rng.pick(CITIES).to_owned(),
            rng.pick(COUNTRIES).to_owned(),
            rng.pick(INSTITUTIONS).to_owned(),
            if rng.below(20_000) == 0 {
                // A few multi-line values, with each kind of line end.
                ["Ligne un\nligne deux", "Line one\r\nline two", "A\rB"][rng.below(3)].to_owned()
            } else {
                rng.pick(DEPARTMENTS).to_owned()
            },
        ];
        for (k, f) in fields.iter().enumerate() {
            if k > 0 {
                line.push(';');
            }
            push_value(&mut line, f);
        }
        line.push('\n');
        write(&line);
    }
    out.flush().unwrap();
}

/// Windows-1252 bytes of text that only uses Latin-1 letters, `œ`/`Œ` and ASCII.
fn to_cp1252(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            'œ' => 0x9C,
            'Œ' => 0x8C,
            c if (c as u32) < 0x80 || (0xA0..=0xFF).contains(&(c as u32)) => c as u32 as u8,
            c => panic!("{c:?} is not in the generator's Windows-1252 subset"),
        })
        .collect()
}

/// A header and one data line of `mb` megabytes, for the memory check.
fn long_line(mb: usize, path: &Path) {
    let mut out = BufWriter::new(File::create(path).expect("create"));
    writeln!(out, "a;b").unwrap();
    let chunk = "x".repeat(1 << 20);
    write!(out, "1;").unwrap();
    for _ in 0..mb {
        out.write_all(chunk.as_bytes()).unwrap();
    }
    writeln!(out).unwrap();
    out.flush().unwrap();
}
