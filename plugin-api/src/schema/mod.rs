//! Column schemas: matching header names against names, indexed patterns (`course{n}`) and
//! named patterns (`profile_field_{name}`), and checking a whole header (formats.md §2.4).
//! Shared by the host, which refuses bad headers before any row runs, and by plugin code, which
//! looks indexed columns up.

pub mod types;

use crate::abi::ColumnSpec;
pub use types::{decode_bytes, encode_bytes, quoted, Cell, ColumnType, Quoted};

/// `n` when `name` is an instance of `pattern` (`course{n}` / `course12` → 12). `n` is decimal,
/// without sign or leading zero. Range checks are the caller's.
pub fn pattern_index(pattern: &str, name: &str) -> Option<u32> {
    let (prefix, suffix) = pattern.split_once("{n}")?;
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    digits.parse().ok()
}

/// The placeholder of a named pattern (`profile_field_{name}`): a free word, not an index.
pub const NAME_PLACEHOLDER: &str = "{name}";

/// The longest name part of a named pattern: a Moodle shortname (a custom profile field's) has
/// at most 255 characters, and a longer one would be stored and exported as given.
pub const NAME_PART_MAX: usize = 255;

/// The longest header name, in bytes. The longest real one is a named pattern's (under 300
/// characters); past this a "name" is a hostile or broken file, refused without the edit
/// distance to every column being computed over it.
pub const HEADER_NAME_MAX: usize = 4096;

/// How many names of one kind a header refusal lists before it only counts the rest: a
/// 100,000-column header must not make a 2.5 MB message.
pub const LISTED: usize = 5;

/// The name part when `name` is an instance of a named pattern (`profile_field_{name}` /
/// `profile_field_shoe` → `shoe`). The part is a word of `[a-z0-9_]+` (header names are
/// lowercased before matching) of at most [`NAME_PART_MAX`] characters.
pub fn pattern_name<'n>(pattern: &str, name: &'n str) -> Option<&'n str> {
    let word = pattern_part(pattern, name)?;
    (crate::values::is_word(word) && word.len() <= NAME_PART_MAX).then_some(word)
}

/// The text `name` puts in place of a named pattern's placeholder, whatever it is.
fn pattern_part<'n>(pattern: &str, name: &'n str) -> Option<&'n str> {
    let (prefix, suffix) = pattern.split_once(NAME_PLACEHOLDER)?;
    name.strip_prefix(prefix)?.strip_suffix(suffix)
}

/// The column a (lowercased, trimmed) header name designates, with its index for a pattern.
pub fn match_column<'s>(
    columns: &'s [ColumnSpec],
    name: &str,
) -> Option<(&'s ColumnSpec, Option<u32>)> {
    for spec in columns {
        if spec.name.contains(NAME_PLACEHOLDER) {
            if pattern_name(&spec.name, name).is_some() {
                return Some((spec, None));
            }
        } else if spec.is_pattern() {
            if let Some(n) = pattern_index(&spec.name, name) {
                if n >= spec.index_min && n <= spec.index_max {
                    return Some((spec, Some(n)));
                }
            }
        } else if spec.name.as_str() == name {
            return Some((spec, None));
        }
    }
    None
}

/// The result of checking a header.
#[derive(Debug, Default)]
pub struct HeaderCheck {
    /// Canonical name per position; empty for an ignored column.
    pub canonical: Vec<String>,
    /// Why the file is refused (one entry per offending column, up to [`LISTED`] of a kind,
    /// then a count); empty when accepted. Names are quoted by [`quoted`]: cut, one line.
    pub problems: Vec<String>,
    /// Unknown columns ignored under `allow_unknown_columns`, as written.
    pub ignored: Vec<String>,
}

/// What kind of problem a header has: a refusal lists [`LISTED`] of each kind at most.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unknown,
    Twice,
    Empty,
    TooLong,
    Companion,
    Missing,
}

impl Kind {
    /// How the ones beyond the listed are counted ("and 9995 more unknown columns").
    fn more(self, n: usize) -> String {
        let s = if n == 1 { "" } else { "s" };
        match self {
            Kind::Unknown => format!("and {n} more unknown column{s}"),
            Kind::Twice => format!("and {n} more name{s} given twice"),
            Kind::Empty => format!("and {n} more empty name{s}"),
            Kind::TooLong => format!("and {n} more name{s} too long"),
            Kind::Companion => format!(
                "and {n} more column{s} without the column {}",
                if n == 1 { "it needs" } else { "they need" }
            ),
            Kind::Missing => format!("and {n} more required column{s} missing"),
        }
    }
}

/// The problems of a header, each kind listed up to [`LISTED`] times, then counted.
#[derive(Default)]
struct Problems {
    listed: Vec<(Kind, String)>,
    more: Vec<(Kind, usize)>,
}

impl Problems {
    fn push(&mut self, kind: Kind, problem: impl FnOnce() -> String) {
        if self.listed.iter().filter(|(k, _)| *k == kind).count() < LISTED {
            self.listed.push((kind, problem()));
        } else if let Some((_, n)) = self.more.iter_mut().find(|(k, _)| *k == kind) {
            *n += 1;
        } else {
            self.more.push((kind, 1));
        }
    }

    /// Grouped by kind, in the order each kind was first met; a kind's count follows its
    /// listed problems.
    fn into_list(self) -> Vec<String> {
        let mut kinds: Vec<Kind> = Vec::new();
        for (kind, _) in &self.listed {
            if !kinds.contains(kind) {
                kinds.push(*kind);
            }
        }
        let mut list = Vec::new();
        for kind in kinds {
            list.extend(
                self.listed
                    .iter()
                    .filter(|(k, _)| *k == kind)
                    .map(|(_, p)| p.clone()),
            );
            if let Some((_, n)) = self.more.iter().find(|(k, _)| *k == kind) {
                list.push(kind.more(*n));
            }
        }
        list
    }
}

/// Checks a header against a schema (formats.md §2.4): unknown names (with a "did you mean"),
/// duplicates, empty names between named columns, companions without their anchor, and
/// required columns missing. Requirements that depend on options are the processor's to check.
///
/// A header none of whose names is a column is not a header at all: most likely the file
/// starts with data (a headerless export, or not a CSV file). It is refused with that one
/// problem, which names none of its fields: they are data, perhaps a password.
/// `allow_unknown_columns` does not change that (it would ignore every column).
pub fn check_header(
    processor: &str,
    columns: &[ColumnSpec],
    names: &[String],
    allow_unknown: bool,
) -> HeaderCheck {
    let mut check = HeaderCheck::default();
    let lowered: Vec<String> = names
        .iter()
        .map(|raw| {
            let name = raw.trim();
            if name.len() > HEADER_NAME_MAX {
                // Never matched, never lowercased whole: only its length is used.
                String::new()
            } else {
                name.to_lowercase()
            }
        })
        .collect();
    if !lowered
        .iter()
        .any(|name| match_column(columns, name).is_some())
    {
        check
            .problems
            .push(not_a_header(processor, columns, names.len()));
        check.canonical = vec![String::new(); names.len()];
        return check;
    }
    let mut problems = Problems::default();
    // The valid names met so far.
    let mut seen = std::collections::HashSet::new();
    for (raw, name) in names.iter().zip(lowered) {
        let raw = raw.trim();
        check.canonical.push(String::new());
        if raw.len() > HEADER_NAME_MAX {
            problems.push(Kind::TooLong, || {
                format!(
                    "a column name of {} bytes ({}): at most {HEADER_NAME_MAX}",
                    raw.len(),
                    Quoted(raw)
                )
            });
            continue;
        }
        if name.is_empty() {
            problems.push(Kind::Empty, || {
                "an empty column name between named columns".to_string()
            });
            continue;
        }
        match match_column(columns, &name) {
            Some(_) if !seen.insert(name.clone()) => {
                problems.push(Kind::Twice, || format!("{} appears twice", Quoted(&name)));
            }
            Some(_) => *check.canonical.last_mut().expect("pushed") = name,
            None if allow_unknown => check.ignored.push(raw.to_string()),
            None => problems.push(Kind::Unknown, || unknown_column(columns, raw, &name)),
        }
    }
    // Companions need their anchor, with the same index for patterns.
    for name in &check.canonical {
        let Some((spec, n)) = match_column(columns, name) else {
            continue;
        };
        if let Some(anchor) = spec.anchor.as_ref().into_option() {
            let wanted = match n {
                Some(n) => anchor.replace("{n}", &n.to_string()),
                None => anchor.to_string(),
            };
            if !seen.contains(&wanted) {
                problems.push(Kind::Companion, || {
                    format!("{} needs a `{wanted}` column", Quoted(name))
                });
            }
        }
    }
    for spec in columns.iter().filter(|c| c.required && !c.is_pattern()) {
        if !check.canonical.iter().any(|c| c == spec.name.as_str()) {
            problems.push(Kind::Missing, || {
                format!("the required column `{}` is missing", spec.name)
            });
        }
    }
    check.problems = problems.into_list();
    if !check.problems.is_empty() {
        check.problems.push(format!(
            "(`toolsync schema {processor}` lists the valid columns)"
        ));
    }
    check
}

/// The refusal of a first line that is not a header; it quotes none of the fields.
fn not_a_header(processor: &str, columns: &[ColumnSpec], fields: usize) -> String {
    let expected: Vec<String> = columns
        .iter()
        .filter(|c| !c.is_pattern() && !c.name.contains(NAME_PLACEHOLDER))
        .take(3)
        .map(|c| format!("`{}`", c.name))
        .collect();
    let fields = if fields == 1 {
        "its one field is not".to_string()
    } else {
        format!("none of its {fields} fields is")
    };
    format!(
        "this does not look like a header: {fields} a column of {processor} (expected e.g. \
         {}, …); the file must start with a header line (`toolsync schema {processor}` lists \
         the columns)",
        expected.join(", ")
    )
}

/// Why an unknown name is refused: a close valid name, or what is wrong with a named pattern's
/// part.
fn unknown_column(columns: &[ColumnSpec], raw: &str, name: &str) -> String {
    let mut problem = format!("unknown column {}", Quoted(raw));
    for spec in columns.iter().filter(|c| c.name.contains(NAME_PLACEHOLDER)) {
        if let Some(part) = pattern_part(&spec.name, name) {
            if crate::values::is_word(part) && part.len() > NAME_PART_MAX {
                problem.push_str(&format!(
                    ": the name in `{}` has {} characters, at most {NAME_PART_MAX}",
                    spec.name,
                    part.len()
                ));
                return problem;
            }
        }
    }
    if let Some(best) = suggest(columns, name) {
        problem.push_str(&format!(": did you mean `{best}`?"));
    }
    problem
}

/// The valid column name closest to `name` ([`closest`]); a pattern is offered with its
/// smallest index.
fn suggest(columns: &[ColumnSpec], name: &str) -> Option<String> {
    let candidates: Vec<String> = columns
        .iter()
        .filter(|c| !c.name.contains(NAME_PLACEHOLDER))
        .map(|c| {
            if c.is_pattern() {
                c.name.replace("{n}", &c.index_min.max(1).to_string())
            } else {
                c.name.to_string()
            }
        })
        .collect();
    closest(name, candidates.iter().map(String::as_str)).map(str::to_string)
}

/// "Did you mean": the candidate closest to `word` by edit distance, if close — at most 3
/// edits and at most a third of the word's length (`fristname` → `firstname`, but not `jdoe` →
/// `id` nor `nope` → `role`: a far suggestion is noise, or worse, echoes data). Ties go to the
/// earlier candidate. The rule for every did-you-mean: header names, options, tables,
/// processors, entities.
///
/// Linear in the length of `word`: a candidate whose length differs by more than the allowed
/// distance is never compared.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let allowed = (word.chars().count() / 3).min(3);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let within = best.map_or(allowed, |(d, _)| d.saturating_sub(1).min(allowed));
        if best.is_some_and(|(d, _)| d == 0) {
            break;
        }
        if let Some(d) = edit_distance_within(word, candidate, within) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// The edit distance of `a` and `b` if it is at most `max`, else `None`; never looks at more of
/// `a` than `b`'s length plus `max` characters.
pub fn edit_distance_within(a: &str, b: &str, max: usize) -> Option<usize> {
    let b_len = b.chars().count();
    if a.chars().take(b_len + max + 1).count() > b_len + max {
        return None;
    }
    Some(edit_distance(a, b)).filter(|d| *d <= max)
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<ColumnSpec> {
        vec![
            ColumnSpec::new("username", "text(100)", "").required(),
            ColumnSpec::new("firstname", "text(100)", ""),
            ColumnSpec::new("course{n}", "key(course)", "").indexed(1, u32::MAX),
            ColumnSpec::new("role{n}", "text", "")
                .indexed(1, u32::MAX)
                .anchor("course{n}"),
        ]
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn patterns_take_plain_decimal_indexes() {
        assert_eq!(pattern_index("course{n}", "course12"), Some(12));
        assert_eq!(pattern_index("teacher{n}_role", "teacher3_role"), Some(3));
        assert_eq!(pattern_index("course{n}", "course01"), None);
        assert_eq!(pattern_index("course{n}", "course-1"), None);
        assert_eq!(pattern_index("course{n}", "course"), None);
    }

    #[test]
    fn named_patterns_take_a_word() {
        let custom = "profile_field_{name}";
        assert_eq!(
            pattern_name(custom, "profile_field_shoe_size"),
            Some("shoe_size")
        );
        assert_eq!(pattern_name(custom, "profile_field_"), None);
        assert_eq!(pattern_name(custom, "profile_field_a-b"), None);
        assert_eq!(pattern_name(custom, "profile_shoe"), None);
        let columns = vec![ColumnSpec::new(custom, "longtext", "").not_in_template()];
        let c = check_header(
            "users",
            &columns,
            &names(&["Profile_Field_Shoe", "profile_field_x y"]),
            false,
        );
        assert_eq!(c.canonical[0], "profile_field_shoe");
        assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
        assert!(c.problems[0].contains("unknown column `profile_field_x y`"));
    }

    #[test]
    fn a_good_header_is_case_insensitive() {
        let c = check_header(
            "users",
            &cols(),
            &names(&["UserName", " FirstName ", "Course1", "ROLE1"]),
            false,
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(
            c.canonical,
            names(&["username", "firstname", "course1", "role1"])
        );
    }

    #[test]
    fn every_offending_column_is_listed() {
        let c = check_header(
            "users",
            &cols(),
            &names(&["fristname", "firstname", "firstname", "", "role3", "x"]),
            false,
        );
        let all = c.problems.join("\n");
        assert!(
            all.contains("`fristname`: did you mean `firstname`?"),
            "{all}"
        );
        assert!(all.contains("`firstname` appears twice"), "{all}");
        assert!(all.contains("empty column name"), "{all}");
        assert!(all.contains("`role3` needs a `course3` column"), "{all}");
        assert!(
            all.contains("required column `username` is missing"),
            "{all}"
        );
        assert!(all.contains("toolsync schema users"), "{all}");
    }

    #[test]
    fn unknown_columns_can_be_ignored() {
        let c = check_header("users", &cols(), &names(&["username", "shoesize"]), true);
        assert!(c.problems.is_empty());
        assert_eq!(c.ignored, names(&["shoesize"]));
        assert_eq!(c.canonical, names(&["username", ""]));
    }

    /// A first line of data (a headerless file, `/etc/shadow`) is refused without quoting it.
    #[test]
    fn a_line_without_any_column_is_not_a_header_and_is_not_echoed() {
        let data = names(&[
            "jdoe",
            "John",
            "Doe",
            "jdoe@example.org",
            "HeaderlessS3cret",
        ]);
        for allow_unknown in [false, true] {
            let c = check_header("users", &cols(), &data, allow_unknown);
            assert_eq!(
                c.problems,
                [
                    "this does not look like a header: none of its 5 fields is a column of users \
                  (expected e.g. `username`, `firstname`, …); the file must start with a \
                  header line (`toolsync schema users` lists the columns)"
                ]
            );
            assert!(c.ignored.is_empty());
        }
        let c = check_header("users", &cols(), &names(&["root:x:0"]), false);
        assert!(
            c.problems[0].contains("its one field is not a column"),
            "{:?}",
            c.problems
        );
    }

    #[test]
    fn long_lists_are_cut_and_long_names_refused_and_quoted_short() {
        let mut header = names(&["username", "n\u{1b}]0;PWNED\u{7}"]);
        header.extend((0..10_000).map(|i| format!("nope{i}")));
        header.extend((0..7).map(|i| format!("role{}", i + 1)));
        header.push(format!("p{}", "x".repeat(HEADER_NAME_MAX)));
        let c = check_header("users", &cols(), &header, false);
        let all = c.problems.join("; ");
        assert!(all.len() < 1500, "{} bytes: {all}", all.len());
        assert_eq!(
            c.problems
                .iter()
                .filter(|p| p.starts_with("unknown column"))
                .count(),
            LISTED
        );
        assert!(
            all.starts_with("unknown column `n ]0;PWNED `; unknown column `nope0`;"),
            "{all}"
        );
        assert!(
            all.contains("unknown column `nope3`; and 9996 more unknown columns;"),
            "{all}"
        );
        assert!(
            all.contains(
                "`role5` needs a `course5` column; and 2 more columns without the column they \
                 need"
            ),
            "{all}"
        );
        assert!(
            all.contains(&format!(
                "a column name of 4097 bytes (`p{}…` (+4057 characters)): at most 4096",
                "x".repeat(39)
            )),
            "{all}"
        );
    }

    #[test]
    fn a_huge_name_costs_its_length_only() {
        let huge = "y".repeat(20 << 20);
        let started = std::time::Instant::now();
        let c = check_header("users", &cols(), &[huge, "username".into()], false);
        assert!(
            c.problems[0].starts_with("a column name of 20971520 bytes"),
            "{:?}",
            c.problems
        );
        let huge = format!("fristname{}", "y".repeat(HEADER_NAME_MAX - 100));
        let c = check_header("users", &cols(), &[huge, "username".into()], false);
        assert!(!c.problems[0].contains("did you mean"), "{:?}", c.problems);
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }

    #[test]
    fn only_close_names_are_suggested() {
        let names = ["id", "icq", "role", "firstname", "username", "users"];
        for (word, want) in [
            ("jdoe", None),
            ("doe", None),
            ("nope", None),
            ("fristname", Some("firstname")),
            ("usernme", Some("username")),
            ("user", Some("users")),
            ("x", None),
            ("firstnames", Some("firstname")),
        ] {
            assert_eq!(closest(word, names), want, "{word}");
        }
        assert_eq!(edit_distance_within("abcdefgh", "ab", 3), None);
        assert_eq!(edit_distance_within("abd", "abc", 1), Some(1));
    }

    #[test]
    fn a_named_pattern_takes_a_name_of_255_characters_at_most() {
        let custom = "profile_field_{name}";
        let columns = vec![ColumnSpec::new(custom, "longtext", "").not_in_template()];
        let ok = format!("profile_field_{}", "s".repeat(NAME_PART_MAX));
        assert!(pattern_name(custom, &ok).is_some());
        let long = format!("profile_field_{}", "s".repeat(NAME_PART_MAX + 1));
        assert_eq!(pattern_name(custom, &long), None);
        let c = check_header("users", &columns, &[ok, long], false);
        assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
        assert!(
            c.problems[0].ends_with(
                "(+230 characters): the name in `profile_field_{name}` has 256 characters, at \
                 most 255"
            ),
            "{:?}",
            c.problems
        );
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("fristname", "firstname"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
