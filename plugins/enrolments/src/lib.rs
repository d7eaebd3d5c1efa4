//! toolsync's `enrolments` processor (formats.md §3.7), one plugin library:
//!
//! - [`command`]: the row's command (`add`, `del`, `shift`, `enable`, `disable`) and group
//!   command (`gadd`, `gaddcreate`, `greplace`, `greplacecreate`, `gdel`), read from their cells;
//! - [`apply`]: what each command does, in method mode (an `enrol` column) and role-only mode.
//!
//! Every invariant (who may be in a group, what a metacourse link owns, what goes with a last
//! enrolment) is the model's (`toolsync_plugin_api::model::Enrolments`, `Groups`): this crate
//! reads the row, asks, and reports.

pub mod apply;
pub mod command;

#[cfg(test)]
mod tests;

use toolsync_plugin_api::{
    keys, ColumnSpec, Manifest, OptionSpec, Processor, RowHandler, StartContext, StartError,
};

use crate::apply::{EnrolmentsRun, Settings};
use crate::command::{Cmd, GROUP_COLUMNS};

pub struct EnrolmentsProcessor;

impl Processor for EnrolmentsProcessor {
    fn manifest(&self) -> Manifest {
        let mut manifest = Manifest::new(
            "enrolments",
            env!("CARGO_PKG_VERSION"),
            "Enrols and unenrols users, changes their roles, suspends and re-activates enrolments, moves users between groups",
            "enrols.csv",
        )
        .column(
            ColumnSpec::new(
                "rolename",
                "text(100)",
                "role shortname, or * (every role, del only); may be empty for enable and disable",
            )
            .required(),
        )
        .column(ColumnSpec::new("uid", "key(user)", "the account (by user_key)").required())
        .column(ColumnSpec::new("cid", "key(course)", "the course (by course_key)").required())
        .column(ColumnSpec::new(
            "cmd",
            "enum add del delete shift enable disable",
            "absent: default_cmd; empty: add",
        ))
        .column(ColumnSpec::new(
            "enrol",
            "text(20)",
            "manual (instance created if missing) or self (must exist); column absent: role-only mode; empty: manual",
        ))
        .column(ColumnSpec::new(
            "starttime",
            "date",
            "enrolment start; a new enrolment starts at the start of the run; 0: no start",
        ))
        .column(ColumnSpec::new(
            "endtime",
            "date",
            "enrolment end; none by default; 0: no end",
        ))
        .column(ColumnSpec::new(
            "gcmd",
            "enum gadd gaddcreate greplace greplacecreate gdel",
            "group command, after cmd; empty: none",
        ));
        for column in GROUP_COLUMNS {
            manifest = manifest.column(
                ColumnSpec::new(
                    column,
                    "text(254)",
                    "a group name in the course; empty: ignored",
                )
                .not_in_template(),
            );
        }
        manifest
            .option(keys::user_key_option("idnumber"))
            .option(keys::course_key_option())
            .option(
                OptionSpec::new(
                    "default_cmd",
                    "add",
                    "the command of every row when the file has no cmd column",
                )
                .choices(&Cmd::WORDS),
            )
            .option(OptionSpec::new(
                "use_disabled_instances",
                "false",
                "allow rows to act through a disabled manual or self method",
            ))
            // The brake on mass removals (`del`, `shift`): every file is surveyed, since
            // `default_cmd` may make a file without `cmd` remove.
            .options(toolsync_plugin_api::brake::options(10))
            .surveyed()
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        let brake = toolsync_plugin_api::brake::Brake::new(ctx, "enrolments and role assignments")?;
        Ok(Box::new(EnrolmentsRun::new(
            Settings::from_context(ctx)?,
            brake,
        )))
    }
}

toolsync_plugin_api::export_plugin!(EnrolmentsProcessor);
