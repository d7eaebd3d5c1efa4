//! "Did you mean": the closest valid word to a mistyped one (a table of `toolsync.toml`, a
//! processor, an entity), by edit distance — the rule the header check uses for column names.

use toolsync_plugin_api::schema::edit_distance;

/// The candidate closest to `word`, if it is within an edit distance of 3 and closer than the
/// word is long (so that `x` does not suggest `users`).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= 3 && *d < word.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
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
