//! toolsync's `users` processor (formats.md §3.6): creates, updates, soft-deletes, revives,
//! suspends and renames accounts from `userimport.csv`.
//!
//! - [`options`]: the options and the column checks `start` makes;
//! - [`fields`]: the table of stored fields (type, clearable, place) that drives conversions;
//! - [`identity`]: finding a row's account and resolving renames;
//! - [`password`]: bcrypt hashing, spread over the cores by `prepare`;
//! - [`apply`]: the per-row logic;
//! - [`cohort`], [`enrol`]: the cohort and enrolment columns, applied in the account's
//!   transaction.
//!
//! Every invariant of the shared data (unique usernames and idnumbers, index entries) is the
//! model's (`toolsync_plugin_api::model::Users`): this crate asks, and fails the row when the
//! model refuses.

pub mod apply;
pub mod cohort;
pub mod enrol;
pub mod fields;
pub mod identity;
pub mod options;
pub mod password;

#[cfg(test)]
mod tests;

use toolsync_plugin_api::brake::{self, Brake};
use toolsync_plugin_api::{ColumnSpec, Manifest, Processor, RowHandler, StartContext, StartError};

use crate::apply::UsersRun;
use crate::cohort::CohortColumns;
use crate::enrol::EnrolmentColumns;
use crate::fields::{Target, FIELDS};
use crate::options::Settings;

/// The processor.
pub struct UsersProcessor;

impl Processor for UsersProcessor {
    fn manifest(&self) -> Manifest {
        let mut manifest = Manifest::new(
            "users",
            env!("CARGO_PKG_VERSION"),
            "Creates, updates, soft-deletes, revives, suspends and renames accounts",
            "userimport.csv",
        )
        // Password hashing is the expensive part of a row: let the host spread it.
        .parallel_prepare()
        .column(ColumnSpec::new(
            "username",
            "text(100)",
            "login name, lowercased; only a-z 0-9 _ - . @; needed to create; required with identity = username",
        ));
        for field in FIELDS {
            manifest =
                manifest.column(ColumnSpec::new(field.column, field.kind, field.description));
        }
        manifest = manifest
            .column(ColumnSpec::new(
                "password",
                "secret",
                "stored only as a bcrypt hash; *NOPASS* forbids password log-in; at most 72 bytes; emptied in the archived copy",
            ))
            .column(ColumnSpec::new(
                "deleted",
                "bool",
                "1 soft-deletes the account; 0 does nothing",
            ))
            .column(ColumnSpec::new(
                "oldusername",
                "text(100)",
                "current username of an account to rename (needs allow_rename)",
            ))
            .column(
                ColumnSpec::new("id", "int[1..]", "account id; only with identity = id")
                    .not_in_template(),
            )
            .column(
                ColumnSpec::new(
                    "profile_field_{name}",
                    fields::CUSTOM_TYPE,
                    "custom profile field `name` ([a-z0-9_]+, at most 255 characters)",
                )
                .not_in_template(),
            );
        for column in options::COHORT_COLUMNS {
            manifest = manifest.column(ColumnSpec::new(
                column,
                column_kind(column),
                cohort_help(column),
            ));
        }
        for pattern in options::ENROLMENT_PATTERNS {
            let mut spec = ColumnSpec::new(pattern, column_kind(pattern), enrolment_help(pattern))
                .indexed(1, u32::MAX);
            if pattern != "course{n}" {
                spec = spec.anchor("course{n}");
            }
            manifest = manifest.column(spec);
        }
        options::specs()
            .into_iter()
            .fold(manifest, Manifest::option)
            // The brake on mass deletions: counted in a survey of files that can delete.
            .options(brake::options(10))
            .surveyed_when(&["deleted"])
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        let settings = Settings::from_context(ctx)?;
        settings.check_columns(ctx.columns())?;
        let targets = Target::present(ctx.columns(), settings.identity.column());
        let cohorts = CohortColumns::of(ctx.columns());
        let enrolments = EnrolmentColumns::of(ctx.columns(), settings.course_key);
        let brake = Brake::new(ctx, "accounts")?.said_as("delete", "deleting");
        Ok(Box::new(UsersRun::new(
            settings, targets, cohorts, enrolments, brake,
        )))
    }
}

/// What a cohort column means (formats.md §3.6).
fn cohort_help(column: &str) -> &'static str {
    match column {
        "cohort" => "cohort name: the account joins it (and the courses it is bound to); created if missing, site-wide",
        "cohortid" => "idnumber of a cohort that `cohort` creates (ignored, with a warning, when the cohort exists with another); non-empty needs `cohort`",
        _ => "",
    }
}

/// What an enrolment column means (formats.md §3.6).
fn enrolment_help(pattern: &str) -> &'static str {
    match pattern {
        "course{n}" => "course to enrol the account in (by course_key); empty: nothing for this n",
        "role{n}" => "role shortname in course{n} — student",
        "enrol{n}" => "manual (instance created if missing) or self (must exist, enabled) — manual",
        "start{n}" => "enrolment start — the start of the run",
        "end{n}" => "enrolment end — none",
        "group{n}" => "group name in course{n}, created if missing; joined after enrolment",
        _ => "",
    }
}

/// The type of a cohort or enrolment column.
fn column_kind(column: &str) -> &'static str {
    match column {
        "cohort" | "group{n}" => "text(254)",
        "cohortid" => "text(100)",
        "course{n}" => "key(course)",
        "role{n}" => "key(role)",
        "enrol{n}" => "enum manual self",
        "start{n}" | "end{n}" => "date",
        _ => "text",
    }
}

toolsync_plugin_api::export_plugin!(UsersProcessor);
