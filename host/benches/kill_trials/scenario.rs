//! The runs the trials interrupt, in turn, and their inputs (written once per bench run, then
//! copied into each trial's folder).

use std::path::{Path, PathBuf};

use crate::courses_generate;
use crate::users_generate::{self, Extras};

/// One `toolsync run`.
pub struct Run {
    pub processor: &'static str,
    /// The input's master copy; each world runs a copy of its own.
    pub input: PathBuf,
    /// What follows the input on the command line.
    pub args: Vec<String>,
    /// The exit code of an uninterrupted run (1: some rows fail, and a tryback is written).
    pub exit: i32,
}

pub struct Scenario {
    pub name: &'static str,
    /// A run made first, never interrupted (the accounts a course file names as teachers).
    pub setup: Option<Run>,
    /// The run the trial interrupts.
    pub main: Run,
}

/// How big the generated inputs are.
pub struct Sizes {
    pub users: u64,
    pub courses: u64,
}

/// One row in `BAD_EVERY` fails, so that every run writes a tryback (the `--atomic` run aside).
const BAD_EVERY: u64 = 500;
/// One account in `PASSWORD_EVERY` has a password (bcrypt at cost 4, so that a row costs little
/// more than one without): the archive must empty them.
const PASSWORD_EVERY: u64 = 25;
/// Departments of the generated course file (each a category under its faculty).
const DEPARTMENTS: u64 = 100;

/// Writes the inputs into `dir`; the scenarios, in the order the trials take them.
pub fn prepare(dir: &Path, sizes: &Sizes) -> Result<Vec<Scenario>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let users_file = |name: &str, bad_every| {
        let path = dir.join(name);
        let extras = Extras {
            password_every: Some(PASSWORD_EVERY),
            bad_every,
        };
        written(
            &path,
            users_generate::write_file_with(&path, sizes.users, extras),
        )
    };
    let users = users_file("users.csv", Some(BAD_EVERY))?;
    // An --atomic run with a failed row commits nothing and writes no archive: its file is
    // valid, so that it commits, all at once.
    let valid_users = users_file("valid-users.csv", None)?;
    let courses = dir.join("courses.csv");
    let generated =
        courses_generate::write_file_failing(&courses, sizes.courses, DEPARTMENTS, Some(BAD_EVERY));
    let courses = written(&courses, generated)?;
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let users_run = |input: &PathBuf, extra: &[&str], exit| Run {
        processor: "users",
        input: input.clone(),
        args: ["--set", "bcrypt_cost=4"]
            .iter()
            .chain(extra)
            .map(|a| a.to_string())
            .collect(),
        exit,
    };
    Ok(vec![
        Scenario {
            name: "users",
            setup: None,
            main: users_run(&users, &[], 1),
        },
        Scenario {
            name: "users, cleanup",
            setup: None,
            main: users_run(&users, &["--set", "cleanup=true"], 1),
        },
        Scenario {
            name: "users --atomic",
            setup: None,
            main: users_run(&valid_users, &["--atomic"], 0),
        },
        Scenario {
            name: "course-create",
            setup: None,
            main: Run {
                processor: "course-create",
                input: courses,
                args: Vec::new(),
                exit: 1,
            },
        },
        // The shipped sample: teachers, a course template, self and guest access, sections,
        // a multi-line value; a run short enough that most kills land in its start or finish.
        Scenario {
            name: "course-create, sample",
            setup: Some(Run {
                processor: "users",
                input: examples.join("userimport.csv"),
                args: Vec::new(),
                exit: 0,
            }),
            main: Run {
                processor: "course-create",
                input: examples.join("uploadcourses.csv"),
                args: Vec::new(),
                exit: 0,
            },
        },
    ])
}

/// `path`, once a generator wrote it.
fn written(path: &Path, result: std::io::Result<String>) -> Result<PathBuf, String> {
    result
        .map(|_| path.to_path_buf())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
