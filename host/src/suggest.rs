//! "Did you mean": the closest valid word to a mistyped one (a table of `toolsync.toml`, a
//! processor, an entity), by the rule the header check uses for column names
//! ([`schema::closest`]: a few edits, at most a third of the word).

use toolsync_plugin_api::schema;

/// The candidate closest to `word`, if close ([`schema::closest`]).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    schema::closest(word, candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_words_are_suggested_far_ones_not() {
        let processors = ["users", "course-create", "course-delete"];
        assert_eq!(did_you_mean("user", processors), Some("users"));
        assert_eq!(
            did_you_mean("course-creat", processors),
            Some("course-create")
        );
        assert_eq!(did_you_mean("x", processors), None);
        assert_eq!(did_you_mean("enrolments", processors), None);
    }
}
