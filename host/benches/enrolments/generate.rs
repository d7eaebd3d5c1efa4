//! The enrolments bench's files, deterministic: the same sizes always give the same bytes.
//!
//! - A users file (formats.md §3.6), `username;firstname;lastname;email;idnumber`, no
//!   `password` column (so no bcrypt in the untimed setup): account `n` (1-based) is
//!   `user000001`, idnumber `U000001`.
//! - A course-create file (§3.1), `shortname;fullname;category`: course `c` is `C01`, all in
//!   category `Bench`.
//! - An enrolments file (§3.7), `rolename;uid;cid;enrol;gcmd;g1`: every account enrolled as a
//!   student through `manual` in every course, joining `Group <k>` of the course, created on
//!   first use (`gaddcreate`), with `k` = the account's number modulo the groups per course.
//!   Rows are **user-major** (`U000001` in `C01`…`C10`, then `U000002`…): the way a student
//!   information system lists each student's courses. Each account's index entry and record
//!   are then read `courses` times in a row, and every keyspace is written near a few append
//!   points (the by-user entries at one, the per-course ones at one per course or group).
//!   A file of N rows is the first N rows of any larger one, so the sizes share their start.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub const ENROLMENTS_HEADER: &str = "rolename;uid;cid;enrol;gcmd;g1";
pub const ROLE: &str = "student";

pub fn username(user: u64) -> String {
    format!("user{user:06}")
}

pub fn idnumber(user: u64) -> String {
    format!("U{user:06}")
}

pub fn shortname(course: u64) -> String {
    format!("C{course:02}")
}

/// The group account `user` joins in every course, of `groups` per course.
pub fn group(user: u64, groups: u64) -> String {
    format!("Group {}", (user - 1) % groups + 1)
}

fn create(path: &Path) -> std::io::Result<BufWriter<File>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    Ok(BufWriter::with_capacity(1 << 20, File::create(path)?))
}

/// Accounts 1 to `users`.
pub fn write_users(path: &Path, users: u64) -> std::io::Result<()> {
    let mut out = create(path)?;
    writeln!(out, "username;firstname;lastname;email;idnumber")?;
    for n in 1..=users {
        let name = username(n);
        writeln!(
            out,
            "{name};Student;Number {n};{name}@example.org;{}",
            idnumber(n)
        )?;
    }
    out.flush()
}

/// Courses 1 to `courses`.
pub fn write_courses(path: &Path, courses: u64) -> std::io::Result<()> {
    let mut out = create(path)?;
    writeln!(out, "shortname;fullname;category")?;
    for c in 1..=courses {
        writeln!(out, "{};Bench course {c};Bench", shortname(c))?;
    }
    out.flush()
}

/// The first `rows` rows of the user-major enrolments of every account in `courses` courses
/// (`groups` groups each). Returns the last row's account and course numbers.
pub fn write_enrolments(
    path: &Path,
    rows: u64,
    courses: u64,
    groups: u64,
) -> std::io::Result<(u64, u64)> {
    let mut out = create(path)?;
    writeln!(out, "{ENROLMENTS_HEADER}")?;
    let mut last = (0, 0);
    for row in 0..rows {
        let (user, course) = (row / courses + 1, row % courses + 1);
        writeln!(
            out,
            "{ROLE};{};{};manual;gaddcreate;{}",
            idnumber(user),
            shortname(course),
            group(user, groups)
        )?;
        last = (user, course);
    }
    out.flush()?;
    Ok(last)
}
