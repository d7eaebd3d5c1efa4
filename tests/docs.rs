//! The user documentation stays true: the tables of `docs/formats.md` are generated from the
//! processors' manifests (`toolsync schema --markdown`), and this test fails when the committed
//! page and the processors disagree. To accept a change of the manifests:
//! `TOOLSYNC_BLESS=1 cargo test -p toolsync --test docs`, then review the diff. The README's
//! sample runs leave nothing that git would list as untracked.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::PathBuf;

fn formats_md() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/formats.md")
}

const START: &str = "<!-- generated from the ";
const END: &str = "<!-- end of the generated ";

/// The generated blocks of a text, by processor: (start, end) byte offsets, end marker line
/// included.
fn blocks(text: &str) -> BTreeMap<String, (usize, usize)> {
    let mut found = BTreeMap::new();
    let mut at = 0;
    while let Some(start) = text[at..].find(START).map(|i| i + at) {
        let name_start = start + START.len();
        let name = text[name_start..].split(' ').next().unwrap().to_string();
        let end_marker = format!("{END}{name} part -->");
        let end = text[start..]
            .find(&end_marker)
            .map(|i| i + start + end_marker.len())
            .unwrap_or_else(|| panic!("no end marker for {name}"));
        found.insert(name, (start, end));
        at = end;
    }
    found
}

#[test]
fn the_formats_page_matches_the_processors() {
    let world = World::with(&[USERS, COURSES, ENROLMENTS, GROUPS, COHORTS, PICTURES]);
    // The binary alone in its folder: the build folder may hold test fixtures.
    let run = std::process::Command::new(world.lone_binary())
        .arg("--data-dir")
        .arg(&world.data)
        .arg("--plugin-dir")
        .arg(&world.plugins)
        .args(["schema", "--markdown"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let generated = String::from_utf8(run.stdout).unwrap();
    let fresh = blocks(&generated);
    assert_eq!(
        fresh.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "cohort-courses",
            "cohorts",
            "course-check",
            "course-create",
            "course-delete",
            "course-reset",
            "enrolments",
            "group-members",
            "groups",
            "metacourse",
            "pictures",
            "users"
        ]
    );
    let mut page = std::fs::read_to_string(formats_md()).unwrap();
    let documented = blocks(&page);
    assert_eq!(
        documented.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>(),
        "docs/formats.md documents exactly the shipped processors"
    );
    let bless = std::env::var_os("TOOLSYNC_BLESS").is_some();
    let mut stale = Vec::new();
    // From the end of the page, so that earlier offsets stay valid while blessing.
    let mut in_page: Vec<(&String, &(usize, usize))> = documented.iter().collect();
    in_page.sort_by_key(|(_, (start, _))| std::cmp::Reverse(*start));
    for (name, (start, end)) in in_page {
        let (fs, fe) = fresh[name];
        let wanted = &generated[fs..fe];
        if &page[*start..*end] != wanted {
            stale.push(name.clone());
            if bless {
                page.replace_range(*start..*end, wanted);
            }
        }
    }
    if bless {
        std::fs::write(formats_md(), page).unwrap();
    } else {
        assert!(
            stale.is_empty(),
            "docs/formats.md is stale for {stale:?}: run `TOOLSYNC_BLESS=1 cargo test -p toolsync --test docs` and review the diff"
        );
    }
}

/// The README's course-check sample (`run course-check examples/courses.csv`) fails a key on
/// purpose and leaves a tryback file beside the sample: the repository's `.gitignore` covers it.
#[test]
fn the_readme_samples_leave_no_untracked_file() {
    let world = World::courses();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::create_dir_all(world.root.join("examples")).unwrap();
    std::fs::copy(
        repo.join("examples/courses.csv"),
        world.root.join("examples/courses.csv"),
    )
    .unwrap();
    let (code, report) = world.run_json("course-check", "examples/courses.csv".as_ref(), &[]);
    assert_eq!(code, 1, "{report}");
    let tryback = PathBuf::from(report["tryback"].as_str().expect("a tryback file"));
    let relative = tryback.strip_prefix(&world.root).unwrap_or(&tryback);
    assert!(relative.starts_with("examples"), "{}", tryback.display());
    assert!(world.root.join(relative).exists());
    let ignored = std::process::Command::new("git")
        .args(["check-ignore", "--no-index", "--quiet"])
        .arg(relative)
        .current_dir(&repo)
        .status()
        .expect("git runs");
    assert!(
        ignored.success(),
        "{} is not covered by .gitignore",
        relative.display()
    );
}

/// The README's tour: the code block under `## A tour`.
fn readme_tour() -> String {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    const START: &str = "## A tour\n\n```\n";
    let start = readme.find(START).expect("README has a tour") + START.len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].to_string()
}

/// A command's part of the tour: its line (indented by two spaces) and the more indented
/// lines under it.
fn tour_block(tour: &str, command: &str) -> String {
    let is_command = |line: &str| line.starts_with("  ") && !line.starts_with("   ");
    let mut lines = tour
        .lines()
        .skip_while(|line| !(is_command(line) && line[2..].split(' ').next() == Some(command)));
    let head = lines
        .next()
        .unwrap_or_else(|| panic!("the README's tour lacks `{command}`:\n{tour}"));
    let mut block = vec![head];
    block.extend(lines.take_while(|line| !is_command(line)));
    block.join("\n")
}

/// The tour lists every command of `--help`, each with its flags and their values, `show`'s
/// entities and `export`'s; the global flags are on its first line.
#[test]
fn the_readme_tour_lists_every_command_and_flag() {
    use clap::CommandFactory;
    use toolsync_plugin_api::model::registry::ENTITIES;

    let tour = readme_tour();
    let cli = toolsync::cli::Cli::command();
    let first = tour.lines().next().unwrap();
    let longs = |command: &clap::Command| -> Vec<(String, Vec<String>)> {
        command
            .get_arguments()
            .filter(|a| !a.is_global_set())
            .filter_map(|a| {
                // The choices of a flag that takes a value (a switch's are true and false).
                let values = match a.get_action().takes_values() {
                    true => a.get_possible_values(),
                    false => Vec::new(),
                };
                let values = values.iter().map(|v| v.get_name().to_string()).collect();
                a.get_long().map(|l| (format!("--{l}"), values))
            })
            .collect()
    };
    for arg in cli.get_arguments().filter(|a| a.is_global_set()) {
        // `-v` stands for `--verbose`.
        let flag = match arg.get_short() {
            Some(short) => format!("-{short}"),
            None => format!("--{}", arg.get_long().unwrap()),
        };
        assert!(
            first.contains(&flag),
            "{flag} is not on the tour's first line: {first}"
        );
    }
    for command in cli.get_subcommands() {
        let block = tour_block(&tour, command.get_name());
        for (flag, values) in longs(command) {
            assert!(
                block.contains(&flag),
                "the tour's `{}` lacks {flag}:\n{block}",
                command.get_name()
            );
            for value in values {
                assert!(
                    block.contains(&value),
                    "the tour's `{}` lacks {flag} {value}:\n{block}",
                    command.get_name()
                );
            }
        }
        for action in command.get_subcommands() {
            assert!(
                block.contains(action.get_name()),
                "the tour's `{}` lacks {}:\n{block}",
                command.get_name(),
                action.get_name()
            );
        }
    }
    let (show, export) = (tour_block(&tour, "show"), tour_block(&tour, "export"));
    for entity in ENTITIES {
        assert!(
            export.contains(entity.name()),
            "the tour's export lacks {}:\n{export}",
            entity.name()
        );
        if entity.key_help().is_some() {
            assert!(
                show.contains(entity.singular()),
                "the tour's show lacks {}:\n{show}",
                entity.singular()
            );
        }
    }
}

/// The Rust code of the vendor guide (`docs/plugins.md`) and of the README is the vendor
/// example's, which CI builds, lints and tests: each block is a run of whole lines of a file of
/// `examples/vendor-plugin/src/`, so the guide cannot show code that no longer compiles.
#[test]
fn the_guides_code_is_the_vendor_examples() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let sources: Vec<String> = std::fs::read_dir(root.join("examples/vendor-plugin/src"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let mut checked = 0;
    for page in ["docs/plugins.md", "README.md"] {
        let text = std::fs::read_to_string(root.join(page)).unwrap();
        for block in text.split("```rust\n").skip(1) {
            let code = &block[..block.find("```").unwrap()];
            assert!(
                sources
                    .iter()
                    .any(|s| s.starts_with(code) || s.contains(&format!("\n{code}"))),
                "{page} shows Rust code that is not the vendor example's:\n{code}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "the guide shows the example's code");
}
