//! Column schemas: matching header names against names, indexed patterns (`course{n}`) and
//! named patterns (`profile_field_{name}`), and checking a whole header (formats.md §2.4).
//! Shared by the host, which refuses bad headers before any row runs, and by plugin code, which
//! looks indexed columns up.

pub mod types;

use crate::abi::ColumnSpec;
pub use types::{Cell, ColumnType};

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

/// The name part when `name` is an instance of a named pattern (`profile_field_{name}` /
/// `profile_field_shoe` → `shoe`). The part is a word of `[a-z0-9_]+` (header names are
/// lowercased before matching).
pub fn pattern_name<'n>(pattern: &str, name: &'n str) -> Option<&'n str> {
    let (prefix, suffix) = pattern.split_once(NAME_PLACEHOLDER)?;
    let word = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    crate::values::is_word(word).then_some(word)
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
    /// Why the file is refused (one entry per offending column); empty when accepted.
    pub problems: Vec<String>,
    /// Unknown columns ignored under `allow_unknown_columns`.
    pub ignored: Vec<String>,
}

/// Checks a header against a schema (formats.md §2.4): unknown names (with a "did you mean"),
/// duplicates, empty names between named columns, companions without their anchor, and
/// required columns missing. Requirements that depend on options are the processor's to check.
pub fn check_header(
    processor: &str,
    columns: &[ColumnSpec],
    names: &[String],
    allow_unknown: bool,
) -> HeaderCheck {
    let mut check = HeaderCheck::default();
    for raw in names {
        let name = raw.trim().to_lowercase();
        if name.is_empty() {
            check
                .problems
                .push("an empty column name between named columns".to_string());
            check.canonical.push(String::new());
            continue;
        }
        if check.canonical.contains(&name) {
            check.problems.push(format!("`{name}` appears twice"));
            check.canonical.push(String::new());
            continue;
        }
        match match_column(columns, &name) {
            Some(_) => check.canonical.push(name),
            None if allow_unknown => {
                check.ignored.push(raw.trim().to_string());
                check.canonical.push(String::new());
            }
            None => {
                let mut problem = format!("unknown column `{}`", raw.trim());
                if let Some(best) = suggest(columns, &name) {
                    problem.push_str(&format!(": did you mean `{best}`?"));
                }
                check.problems.push(problem);
                check.canonical.push(String::new());
            }
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
            if !check.canonical.contains(&wanted) {
                check
                    .problems
                    .push(format!("`{name}` needs a `{wanted}` column"));
            }
        }
    }
    for spec in columns.iter().filter(|c| c.required && !c.is_pattern()) {
        if !check.canonical.iter().any(|c| c == spec.name.as_str()) {
            check
                .problems
                .push(format!("the required column `{}` is missing", spec.name));
        }
    }
    if !check.problems.is_empty() {
        check.problems.push(format!(
            "(`toolsync schema {processor}` lists the valid columns)"
        ));
    }
    check
}

/// The valid column name closest to `name`, if within an edit distance of 3.
fn suggest(columns: &[ColumnSpec], name: &str) -> Option<String> {
    columns
        .iter()
        .map(|c| {
            let candidate = if c.is_pattern() {
                c.name.replace("{n}", &c.index_min.max(1).to_string())
            } else {
                c.name.to_string()
            };
            (edit_distance(name, &candidate), candidate)
        })
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
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

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("fristname", "firstname"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
