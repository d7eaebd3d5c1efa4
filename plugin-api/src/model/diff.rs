//! What an update changed, for the row's message (formats.md §2.8: `updated` means a stored
//! value changed): each field as `field: old → new`, read from the record as `show` prints it,
//! so a dry run and a real run say the same. A secret field (a password hash) only says that
//! it changed.

use serde_json::Value;

use super::registry::{cell, Fields};

/// Longest value shown in a change before it is cut (a description can be pages long).
const SHOWN_CHARS: usize = 60;

/// Which fields a change list leaves out or keeps secret.
pub struct DiffRules<'a> {
    /// Fields not listed (stamps, or what the message says otherwise: a rename).
    pub ignore: &'a [&'a str],
    /// Fields listed only as `<secret>: changed`, once for all of them.
    pub secret: &'a [&'a str],
    /// The name a secret change is listed under (`password`).
    pub secret_name: &'a str,
}

/// `field: old → new` for each field that differs, in field order.
pub fn changes(before: &Fields, after: &Fields, rules: &DiffRules<'_>) -> Vec<String> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut listed = Vec::new();
    let mut secret_changed = false;
    for key in keys {
        if rules.ignore.contains(&key.as_str()) {
            continue;
        }
        let (old, new) = (before.get(key), after.get(key));
        if old == new {
            continue;
        }
        if rules.secret.contains(&key.as_str()) {
            secret_changed = true;
            continue;
        }
        listed.push(format!("{key}: {} → {}", shown(old), shown(new)));
    }
    if secret_changed {
        listed.push(format!("{}: changed", rules.secret_name));
    }
    listed
}

/// A value as an operator wrote it in the file (`1`/`0` for booleans), `(empty)` for nothing,
/// on one line and cut when long.
fn shown(value: Option<&Value>) -> String {
    let text = value.map(cell).unwrap_or_default();
    if text.is_empty() {
        return "(empty)".into();
    }
    let one_line = text.replace("\r\n", " ").replace(['\n', '\r'], " ");
    if one_line.chars().count() > SHOWN_CHARS {
        let cut: String = one_line.chars().take(SHOWN_CHARS).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_are_listed_old_to_new_and_secrets_only_named() {
        let before = json!({"city": "Lyon", "mailformat": 1, "suspended": false, "hash": "$2y$a",
            "description": "", "timemodified": 1});
        let after = json!({"city": "Paris", "mailformat": 1, "suspended": true, "hash": "$2y$b",
            "description": "x".repeat(70), "timemodified": 2});
        let rules = DiffRules {
            ignore: &["timemodified"],
            secret: &["hash"],
            secret_name: "password",
        };
        let fields = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            changes(&fields(before), &fields(after), &rules),
            [
                "city: Lyon → Paris".to_string(),
                format!("description: (empty) → {}…", "x".repeat(60)),
                "suspended: 0 → 1".to_string(),
                "password: changed".to_string(),
            ]
        );
    }
}
