//! The cohorts bench's files, deterministic: the same sizes always give the same bytes. The
//! accounts and courses files are the enrolments bench's (`enrolments/generate.rs`): account `n`
//! has idnumber `U000001`…, course `c` shortname `C01`….
//!
//! - A cohorts file (formats.md §3.11) that creates the cohorts, empty: `cidnumber;cname`,
//!   cohort `k` (1-based) is `K00001`, named `Cohort 1`.
//! - A cohort-courses file (§3.12), `cohort;course`: cohort `k` bound to its own `bindings`
//!   courses, `(k-1)·bindings + 1` to `k·bindings`, with the default role (student), no period,
//!   no group.
//! - A members file (§3.11), `cidnumber;userid`: cohort `k` gets accounts `(k-1)·members + 1` to
//!   `k·members`, each account in one cohort. Rows are **cohort-major** (every member of
//!   `K00001`, then `K00002`…), as a cohort export lists them. A file of the first N cohorts is
//!   the start of any larger one.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::enrolment_files::{idnumber, shortname};

pub const MEMBERS_HEADER: &str = "cidnumber;userid";

pub fn cohort_idnumber(cohort: u64) -> String {
    format!("K{cohort:05}")
}

/// Writes `header`, then one line per item of `lines`.
fn write_lines(
    path: &Path,
    header: &str,
    lines: impl Iterator<Item = String>,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(out, "{header}")?;
    for line in lines {
        writeln!(out, "{line}")?;
    }
    out.flush()
}

/// Cohorts 1 to `cohorts`, created without members.
pub fn write_cohorts(path: &Path, cohorts: u64) -> std::io::Result<()> {
    write_lines(
        path,
        "cidnumber;cname",
        (1..=cohorts).map(|k| format!("{};Cohort {k}", cohort_idnumber(k))),
    )
}

/// Each of cohorts 1 to `cohorts` bound to its `bindings` courses.
pub fn write_bindings(path: &Path, cohorts: u64, bindings: u64) -> std::io::Result<()> {
    write_lines(
        path,
        "cohort;course",
        (1..=cohorts).flat_map(|k| {
            (1..=bindings).map(move |b| {
                format!(
                    "{};{}",
                    cohort_idnumber(k),
                    shortname((k - 1) * bindings + b)
                )
            })
        }),
    )
}

/// The `members` members of each of cohorts 1 to `cohorts`, cohort-major.
pub fn write_members(path: &Path, cohorts: u64, members: u64) -> std::io::Result<()> {
    write_lines(
        path,
        MEMBERS_HEADER,
        (1..=cohorts).flat_map(|k| {
            (1..=members)
                .map(move |m| format!("{};{}", cohort_idnumber(k), idnumber((k - 1) * members + m)))
        }),
    )
}
