//! A generator of large course-create files (formats.md §3.1), deterministic: the same sizes
//! always give the same bytes.
//!
//! Columns: `shortname;fullname;category;topic1;…;topic10`. Categories are two levels,
//! `Faculty NN/Dept NNNN`, a hundred departments per faculty; rows visit the departments in a
//! scrambled order, so that every category is created within the first rows and shortnames do
//! not come in key order. Shortnames are `DNNNN-CNNNN` (department, serial); full names are
//! built from lists of subjects and levels, one in fifty holds a `;` and is quoted. Each
//! `topic{n}` is `Week n|Summary n`. For the kill trials, one row in `bad_every` may fail: its
//! category path has an empty element (`Faculty NN//Dept NNNN`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Sections 1..=TOPICS are given; course-create adds section 0.
pub const TOPICS: u32 = 10;

#[rustfmt::skip]
const SUBJECTS: &[&str] = &[
    "Physics", "Chemistry", "Biology", "Mathematics", "Statistics", "Computer science",
    "Économie", "Histoire de l'art", "Géographie", "Philosophy", "Linguistics", "Sociology",
    "Law", "Medicine", "Pharmacy", "Engineering", "Architecture", "Music", "Literature",
    "Psychology", "Astronomy", "Geology", "Anthropology", "Political science", "Ethics",
];

#[rustfmt::skip]
const LEVELS: &[&str] = &[
    "Introduction to", "Foundations of", "Advanced", "Topics in", "Seminar:", "Workshop:",
    "Methods in", "History of", "Applied", "Théorie de",
];

/// The department of row `i` (0-based) among `departments`: every department once per
/// `departments` rows, in a scrambled order (7919 is prime).
pub fn department(i: u64, departments: u64) -> u64 {
    (i % departments) * 7919 % departments
}

/// `Faculty NN/Dept NNNN`: a hundred departments per faculty.
pub fn category_path(department: u64) -> String {
    format!("Faculty {:02}/Dept {department:04}", department / 100)
}

pub fn shortname(i: u64, departments: u64) -> String {
    format!("D{:04}-C{:04}", department(i, departments), i / departments)
}

/// The number of category records a file of `rows` rows creates (departments and faculties).
pub fn category_count(rows: u64, departments: u64) -> u64 {
    let used = departments.min(rows);
    let faculties: std::collections::BTreeSet<u64> = (0..used)
        .map(|i| department(i, departments) / 100)
        .collect();
    used + faculties.len() as u64
}

/// Writes `rows` courses over `departments` departments; returns the last row's shortname.
pub fn write_file(path: &Path, rows: u64, departments: u64) -> std::io::Result<String> {
    write_file_failing(path, rows, departments, None)
}

/// [`write_file`], where one row in `bad_every` fails (formats.md §3.1: an empty element in a
/// category path).
pub fn write_file_failing(
    path: &Path,
    rows: u64,
    departments: u64,
    bad_every: Option<u64>,
) -> std::io::Result<String> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut header = String::from("shortname;fullname;category");
    for n in 1..=TOPICS {
        header.push_str(&format!(";topic{n}"));
    }
    writeln!(out, "{header}")?;
    let mut last = String::new();
    for i in 0..rows {
        let dept = department(i, departments);
        let shortname = shortname(i, departments);
        let level = LEVELS[(i as usize * 7) % LEVELS.len()];
        let subject = SUBJECTS[(i as usize * 13 + dept as usize) % SUBJECTS.len()];
        let fullname = if i % 50 == 0 {
            format!("\"{level} {subject}; lab {}\"", i / departments + 1)
        } else {
            format!("{level} {subject} {}", i / departments + 1)
        };
        let mut category = category_path(dept);
        if bad_every.is_some_and(|every| i % every == every - 1) {
            category = category.replace('/', "//");
        }
        write!(out, "{shortname};{fullname};{category}")?;
        for n in 1..=TOPICS {
            write!(out, ";Week {n}|Summary {n}")?;
        }
        writeln!(out)?;
        last = shortname;
    }
    out.flush()?;
    Ok(last)
}
