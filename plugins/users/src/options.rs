//! The processor's options (formats.md §3.6), and the checks `start` makes before any row runs:
//! option values, and the columns whose presence depends on them.

use toolsync_plugin_api::keys;
use toolsync_plugin_api::model::{CourseKey, UserKey};
use toolsync_plugin_api::{Columns, OptionSpec, StartContext, StartError};

const IDENTITIES: [&str; 4] = ["username", "idnumber", "email", "id"];

/// bcrypt's own bounds for the cost (2^cost rounds).
const COST_MIN: i64 = 4;
const COST_MAX: i64 = 31;

/// The enrolment column families (`course{n}` and its companions).
pub const ENROLMENT_PATTERNS: [&str; 6] = [
    "course{n}",
    "role{n}",
    "enrol{n}",
    "start{n}",
    "end{n}",
    "group{n}",
];
/// The cohort membership columns (applied by [`crate::cohort`]).
pub const COHORT_COLUMNS: [&str; 2] = ["cohort", "cohortid"];

/// The options as the manifest declares them, with their defaults.
pub fn specs() -> Vec<OptionSpec> {
    vec![
        OptionSpec::new(
            "identity",
            "username",
            "column that finds the row's account; that column is required; id never creates",
        )
        .choices(&IDENTITIES),
        keys::course_key_option(),
        OptionSpec::new(
            "allow_rename",
            "false",
            "allow a row to change an account's username",
        ),
        OptionSpec::new(
            "allow_duplicate_emails",
            "false",
            "off: a row fails if its e-mail belongs to another non-deleted account",
        ),
        OptionSpec::new(
            "protect_emails",
            "false",
            "on: an existing account's e-mail is never changed (warning when the row differs)",
        ),
        OptionSpec::new(
            "bcrypt_cost",
            "10",
            "bcrypt cost of new password hashes, 4 to 31",
        ),
        OptionSpec::new(
            "empty_clears",
            "false",
            "an empty cell resets the profile columns, email, idnumber (unless identity) and \
             profile_field_* to their creation default",
        ),
    ]
}

/// A run's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub identity: UserKey,
    pub allow_rename: bool,
    pub allow_duplicate_emails: bool,
    pub protect_emails: bool,
    pub bcrypt_cost: u32,
    pub empty_clears: bool,
    /// The key of `course{n}`.
    pub course_key: CourseKey,
    /// The run's start: `timecreated`, `timemodified` of what the run writes.
    pub now: i64,
    /// The host fetches a chunk's reads together (a store on a server): `prepare` makes
    /// the reads `apply` will make.
    pub prefetching: bool,
}

impl Settings {
    /// Reads and checks every option (a bad value is a usage error, before the file is read).
    pub fn from_context(ctx: &StartContext) -> Result<Settings, StartError> {
        let identity = ctx.option_choice("identity", &IDENTITIES)?;
        Ok(Settings {
            course_key: ctx.course_key()?,
            identity: UserKey::parse(&identity).unwrap_or(UserKey::Username),
            allow_rename: ctx.option_bool("allow_rename")?,
            allow_duplicate_emails: ctx.option_bool("allow_duplicate_emails")?,
            protect_emails: ctx.option_bool("protect_emails")?,
            bcrypt_cost: u32::try_from(ctx.option_int("bcrypt_cost", COST_MIN, COST_MAX)?)
                .unwrap_or(10),
            empty_clears: ctx.option_bool("empty_clears")?,
            now: ctx.started_at,
            prefetching: ctx.prefetching(),
        })
    }

    /// Refuses a file whose columns cannot work with these settings; every problem is named.
    ///
    /// - The identity column is required.
    /// - `id` is accepted only as the identity: ids are assigned by the store, so an `id` column
    ///   next to another identity could only contradict the account found.
    pub fn check_columns(&self, columns: &Columns) -> Result<(), StartError> {
        let mut problems = Vec::new();
        let identity = self.identity.column();
        if !columns.has(identity) {
            problems.push(format!(
                "`{identity}` is required because identity = {identity}"
            ));
        }
        if columns.has("id") && self.identity != UserKey::Id {
            problems.push(format!(
                "`id` is only accepted with identity = id (this run's identity is {identity})"
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StartError::Refused(problems.join("; ").into()))
        }
    }
}
