//! course-create (formats.md §3.1): creates courses with their categories, sections,
//! self/guest access and teachers; optionally updates existing courses.
//!
//! - [`fields`]: the table of course settings (type, clearable, place in the record);
//! - [`template`]: a course template or a `.mbz` backup as the base of a new course;
//! - [`apply`]: the per-row logic (category, settings, sections, access, teachers).

pub mod apply;
pub mod fields;
pub mod template;

use std::path::PathBuf;

use toolsync_plugin_api::model::{CategoryRef, CourseKey, UserKey};
use toolsync_plugin_api::time::Zone;
use toolsync_plugin_api::{
    ColumnSpec, Columns, Manifest, OptionSpec, Processor, RowHandler, StartContext, StartError,
};

use apply::CreateRun;
use fields::FIELDS;
use toolsync_plugin_api::keys;

pub struct CourseCreate;

/// The options of a run, checked once at start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub course_key: CourseKey,
    /// `category_key` = idnumber: categories are found by idnumber, never created.
    pub category_by_idnumber: bool,
    pub default_category: CategoryRef,
    pub new_categories_visible: bool,
    pub update_existing: bool,
    pub protect_category: bool,
    pub empty_clears: bool,
    /// The users processor's `identity`: the first field a teacher account is searched in.
    pub identity: UserKey,
    pub zone: Zone,
    /// Relative `.mbz` paths are taken from the input file's folder.
    pub input_dir: PathBuf,
    pub now: i64,
    /// The `n` of every `topic{n}` and `teacher{n}_account` column present.
    pub topics: Vec<u32>,
    pub teachers: Vec<u32>,
}

impl Processor for CourseCreate {
    fn manifest(&self) -> Manifest {
        let mut manifest = Manifest::new(
            "course-create",
            env!("CARGO_PKG_VERSION"),
            "Creates courses with categories, sections, self/guest access and teachers; optionally updates existing ones",
            "uploadcourses.csv",
        )
        .column(ColumnSpec::new("shortname", "text(255)", "unique among courses").required());
        for field in FIELDS {
            let mut spec = ColumnSpec::new(field.column, field.kind, field.description);
            if field.column == "fullname" {
                spec = spec.required();
            }
            manifest = manifest.column(spec);
        }
        manifest
            .column(
                ColumnSpec::new("id", "int[1..]", "existing course id (course_key = id only)")
                    .not_in_template(),
            )
            .column(ColumnSpec::new(
                "category",
                "key(category)",
                "digits: an existing category id; else a /-separated path, created as needed (idnumber with category_key = idnumber) — template's category, else default_category",
            ))
            .column(ColumnSpec::new(
                "self",
                "bool",
                "1: self-enrolment enabled (created if missing); 0: disabled — none",
            ))
            .column(ColumnSpec::new(
                "guest",
                "bool",
                "1: guest access enabled (created if missing); 0: disabled — none",
            ))
            .column(ColumnSpec::new(
                "template",
                "text(1024)",
                "an existing course's shortname, or a .mbz backup (path absolute or relative to the input's folder); new courses only",
            ))
            .column(
                ColumnSpec::new("topic{n}", "longtext", "section n as name|summary")
                    .indexed(0, toolsync_plugin_api::model::course::SECTION_MAX),
            )
            .column(
                ColumnSpec::new(
                    "teacher{n}_account",
                    "text(255)",
                    "account enrolled as teacher: matched in users' identity field, username and email",
                )
                .indexed(1, u32::MAX),
            )
            .column(
                ColumnSpec::new("teacher{n}_role", "text(100)", "role shortname — editingteacher")
                    .indexed(1, u32::MAX)
                    .anchor("teacher{n}_account"),
            )
            .option(keys::course_key_option())
            .option(
                OptionSpec::new(
                    "category_key",
                    "path-or-id",
                    "how the category column designates a category: path-or-id or idnumber",
                )
                .choices(&["path-or-id", "idnumber"]),
            )
            .option(OptionSpec::new(
                "default_category",
                "Miscellaneous",
                "category path used when a new course has none (created if missing)",
            ))
            .option(
                OptionSpec::boolean(
                    "new_categories_visible",
                    "true",
                    "visibility of categories created from a path",
                ),
            )
            .option(
                OptionSpec::boolean("update_existing", "false", "apply rows to existing courses"),
            )
            .option(
                OptionSpec::boolean(
                    "protect_category",
                    "false",
                    "with update_existing: never move a course",
                ),
            )
            .option(
                OptionSpec::boolean(
                    "empty_clears",
                    "false",
                    "an empty cell resets summary, idnumber, lang, theme, cost and topic parts",
                ),
            )
            .option(
                OptionSpec::new(
                    "users.identity",
                    "username",
                    "the users processor's identity (read from its [users] table): teacher accounts are matched in it, in username and in email",
                )
                .choices(&["username", "idnumber", "email", "id"]),
            )
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        let settings = Settings::from_context(ctx)?;
        Ok(Box::new(CreateRun::new(settings)))
    }
}

impl Settings {
    pub fn from_context(ctx: &StartContext) -> Result<Settings, StartError> {
        let columns = ctx.columns();
        let course_key = ctx.course_key()?;
        check_key_columns(course_key, columns)?;
        let default_category = CategoryRef::parse(ctx.option("default_category"))
            .map_err(|e| StartError::BadOption(format!("option `default_category`: {e}").into()))?;
        // The host always passes `timezone`; a unit-test runner may not.
        let zone = Zone::parse(match ctx.option("timezone") {
            "" => "UTC",
            name => name,
        })
        .map_err(|e| StartError::BadOption(format!("option `timezone`: {e}").into()))?;
        let identity = UserKey::parse(
            &ctx.option_choice("users.identity", &["username", "idnumber", "email", "id"])?,
        )
        .unwrap_or(UserKey::Username);
        Ok(Settings {
            course_key,
            category_by_idnumber: ctx.option_choice("category_key", &["path-or-id", "idnumber"])?
                == "idnumber",
            default_category,
            new_categories_visible: ctx.option_bool("new_categories_visible")?,
            update_existing: ctx.option_bool("update_existing")?,
            protect_category: ctx.option_bool("protect_category")?,
            empty_clears: ctx.option_bool("empty_clears")?,
            identity,
            zone,
            input_dir: std::path::Path::new(&ctx.input)
                .parent()
                .map(PathBuf::from)
                .unwrap_or_default(),
            now: ctx.started_at,
            topics: columns.indices_of("topic{n}"),
            teachers: columns.indices_of("teacher{n}_account"),
        })
    }
}

/// `course_key` names the column that finds a course: it must be there; `id` is accepted only
/// as that key.
fn check_key_columns(key: CourseKey, columns: &Columns) -> Result<(), StartError> {
    let column = key.column();
    if !columns.has(column) {
        return Err(StartError::Refused(
            format!("`{column}` is required because course_key = {column}").into(),
        ));
    }
    if columns.has("id") && key != CourseKey::Id {
        return Err(StartError::Refused(
            "the `id` column is accepted only with course_key = id (course-create never creates a course with a given id)".into(),
        ));
    }
    Ok(())
}
