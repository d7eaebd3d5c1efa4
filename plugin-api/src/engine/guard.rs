//! Which keyspaces a plugin may write (design.md §4).
//!
//! The shared entities' keyspaces (`user`, `course`, `enrol.user`...) are written only through
//! the model: plugin-api gives plugin code no raw write on them, so a plugin built against this
//! API cannot break an invariant by hand. A plugin built against an older API could still send
//! any write over the ABI; the guard is the host's side of the rule, and it cannot tell a model
//! write from a hand-made one, so it admits exactly the model's keyspaces and the plugin's own
//! namespace, `<processor>:<space>` for any processor the plugin's library provides. Two vendors
//! never collide: the host refuses two libraries providing one processor name.
//!
//! The same guard stands in the host and in the testing runner, so a processor's unit tests
//! meet the rules its cdylib will meet.

use crate::model;

/// Between a namespace (a processor's name) and the name of one of its keyspaces.
pub const NAMESPACE_SEPARATOR: char = ':';

/// Keyspaces and sequences starting with this are the host's (`_meta`, `_journal`, `_seq`).
pub const RESERVED_PREFIX: char = '_';

/// How every refusal of the guard starts: the plugin side tells a refused write (the row fails)
/// from a store failure (the run stops) by it.
pub const WRITE_REFUSED: &str = "write refused: ";

/// What a run may write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    /// The namespaces of the processors of the writing plugin's library.
    namespaces: Vec<String>,
    /// A processor that declared it writes nothing: every write is refused.
    read_only: bool,
}

impl Guard {
    /// The model's keyspaces only (the host seeding a store, a model unit test).
    pub fn model() -> Guard {
        Guard::default()
    }

    /// A plugin library providing these processors: the model's keyspaces, and each
    /// processor's own namespace.
    pub fn plugin<S: Into<String>>(processors: impl IntoIterator<Item = S>) -> Guard {
        Guard {
            namespaces: processors.into_iter().map(Into::into).collect(),
            read_only: false,
        }
    }

    /// No write at all (a processor whose manifest says it writes nothing).
    pub fn read_only() -> Guard {
        Guard {
            namespaces: Vec::new(),
            read_only: true,
        }
    }

    /// Whether a write to `space` is allowed; the error is the row's reason.
    pub fn check_space(&self, space: &str) -> Result<(), String> {
        if self.read_only {
            return Err(format!(
                "{WRITE_REFUSED}the processor declared that it writes nothing (keyspace `{space}`)"
            ));
        }
        if model::KEYSPACES.contains(&space) || self.in_own_namespace(space) {
            return Ok(());
        }
        Err(self.refusal("keyspace", space))
    }

    /// Whether `next_id` on `sequence` is allowed (the model's sequences, and the namespace).
    pub fn check_sequence(&self, sequence: &str) -> Result<(), String> {
        if self.read_only {
            return Err(format!(
                "{WRITE_REFUSED}the processor declared that it writes nothing (sequence `{sequence}`)"
            ));
        }
        if model::SEQUENCES.contains(&sequence) || self.in_own_namespace(sequence) {
            return Ok(());
        }
        Err(self.refusal("sequence", sequence))
    }

    fn in_own_namespace(&self, name: &str) -> bool {
        name.split_once(NAMESPACE_SEPARATOR)
            .is_some_and(|(ns, rest)| !rest.is_empty() && self.namespaces.iter().any(|n| n == ns))
    }

    fn refusal(&self, what: &str, name: &str) -> String {
        if name.starts_with(RESERVED_PREFIX) {
            return format!("{WRITE_REFUSED}{what} `{name}` is reserved for the host");
        }
        let own = match self.namespaces.as_slice() {
            [] => "none".to_string(),
            list => list
                .iter()
                .map(|n| format!("`{n}{NAMESPACE_SEPARATOR}…`"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        format!(
            "{WRITE_REFUSED}{what} `{name}` is neither one of the shared model's nor this \
             plugin's own ({own}); shared entities are written through the model, a plugin's own \
             data through `txn.data()`"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_spaces_and_the_own_namespace_only() {
        let guard = Guard::plugin(["badges", "badge-check"]);
        assert!(guard.check_space("user").is_ok());
        assert!(guard.check_space("enrol.user").is_ok());
        assert!(guard.check_space("badges:award").is_ok());
        assert!(guard.check_space("badge-check:x").is_ok());
        for refused in [
            "rooms:x",
            "badges",
            "badges:",
            "badgesx:a",
            "other",
            "_journal",
            "",
        ] {
            assert!(guard.check_space(refused).is_err(), "{refused:?}");
        }
        let reason = guard.check_space("rooms:x").unwrap_err();
        assert!(
            reason.contains("`rooms:x`") && reason.contains("`badges:…`"),
            "{reason}"
        );
        assert!(guard
            .check_space("_meta")
            .unwrap_err()
            .contains("reserved for the host"));
        assert!(guard.check_sequence("user").is_ok());
        assert!(guard.check_sequence("badges:n").is_ok());
        assert!(guard.check_sequence("rooms:n").is_err());
        assert!(Guard::model().check_space("badges:award").is_err());
        assert!(Guard::read_only().check_space("user").is_err());
        assert!(Guard::read_only().check_sequence("user").is_err());
    }
}
