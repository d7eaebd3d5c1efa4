//! The commands a row gives: `cmd` (what happens to the enrolment or role) and `gcmd` with
//! `g1`…`g9` (what happens to the user's groups afterwards).

use toolsync_plugin_api::{Row, RowError};

/// `cmd` (formats.md §3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmd {
    Add,
    Del,
    Shift,
    Enable,
    Disable,
}

impl Cmd {
    /// Every word `cmd` and `default_cmd` accept (`delete` is `del`).
    pub const WORDS: [&'static str; 6] = ["add", "del", "delete", "shift", "enable", "disable"];

    pub fn parse(word: &str) -> Option<Cmd> {
        match word.to_ascii_lowercase().as_str() {
            "add" => Some(Cmd::Add),
            "del" | "delete" => Some(Cmd::Del),
            "shift" => Some(Cmd::Shift),
            "enable" => Some(Cmd::Enable),
            "disable" => Some(Cmd::Disable),
            _ => None,
        }
    }

    /// The row's command: the `cmd` cell when the file has the column (empty: `add`), else
    /// the run's `default_cmd`.
    pub fn of_row(row: &Row<'_>, default: Cmd) -> Result<Cmd, RowError> {
        match row.get("cmd") {
            None => Ok(default),
            Some("") => Ok(Cmd::Add),
            Some(word) => Cmd::parse(word).ok_or_else(|| {
                RowError::new(format!(
                    "`cmd`: `{word}` is not one of add, del, shift, enable, disable"
                ))
            }),
        }
    }
}

/// `gcmd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupCmd {
    /// Join each named group (an unknown group fails).
    Add,
    /// Join each named group, creating the missing ones.
    AddCreate,
    /// Leave every group of the course, then join the named ones (unknown ones fail).
    Replace,
    /// Leave every group of the course, then join the named ones, creating the missing ones.
    ReplaceCreate,
    /// Leave each named group (an unknown group fails).
    Del,
}

/// The groups a row names: (column, group name), in column order.
pub type NamedGroups<'r> = Vec<(&'static str, &'r str)>;

/// The group name columns.
pub const GROUP_COLUMNS: [&str; 9] = ["g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9"];

impl GroupCmd {
    /// The row's group command and the groups it names (non-empty cells, in column order),
    /// or `None` when `gcmd` is absent or empty. `gadd`, `gaddcreate` and `gdel` need a group.
    pub fn of_row<'r>(row: &Row<'r>) -> Result<Option<(GroupCmd, NamedGroups<'r>)>, RowError> {
        let word = row.get("gcmd").unwrap_or("");
        let cmd = match word.to_ascii_lowercase().as_str() {
            "" => return Ok(None),
            "gadd" => GroupCmd::Add,
            "gaddcreate" => GroupCmd::AddCreate,
            "greplace" => GroupCmd::Replace,
            "greplacecreate" => GroupCmd::ReplaceCreate,
            "gdel" => GroupCmd::Del,
            _ => {
                return Err(RowError::new(format!(
                "`gcmd`: `{word}` is not one of gadd, gaddcreate, greplace, greplacecreate, gdel"
            )))
            }
        };
        let groups: NamedGroups<'r> = GROUP_COLUMNS
            .iter()
            .filter_map(|c| row.non_empty(c).map(|name| (*c, name)))
            .collect();
        if groups.is_empty() && !cmd.replaces() {
            return Err(RowError::new(format!(
                "`gcmd` {word} names no group: fill g1 (to g9)"
            )));
        }
        Ok(Some((cmd, groups)))
    }

    /// Whether the user first leaves every group of the course.
    pub fn replaces(self) -> bool {
        matches!(self, GroupCmd::Replace | GroupCmd::ReplaceCreate)
    }

    /// Whether missing groups are created.
    pub fn creates(self) -> bool {
        matches!(self, GroupCmd::AddCreate | GroupCmd::ReplaceCreate)
    }
}
