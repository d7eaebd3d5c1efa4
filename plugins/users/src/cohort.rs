//! The users file's cohort columns (formats.md §3.6): `cohort` names a site-wide cohort by its
//! name; the row's account becomes a member, the cohort created if missing with `cohortid` as
//! its idnumber. Joining a cohort enrols the account through the cohort's course bindings
//! (the model's [`Cohorts::add_member`]), in the account's transaction: a failure fails the
//! row, and the account's own changes with it.
//!
//! Decisions:
//! - `cohortid` only serves the creation of a cohort. When `cohort` names an existing cohort
//!   whose idnumber is not the row's `cohortid`, the cohort is joined unchanged (its idnumber
//!   is never set or changed by a users file) and the row gets a warning saying `cohortid` was
//!   ignored. `cohortid` never finds a cohort: a cohort is designated by its name only.
//! - A `cohortid` that another cohort holds makes the creation fail (the model's conflict):
//!   the row fails, nothing of it is stored.
//! - A non-empty `cohortid` with an empty (or absent) `cohort` fails the row; an empty `cohort`
//!   with an empty `cohortid` does nothing.
//! - Already a member: nothing is written and nothing is said.

use toolsync_plugin_api::model::{Cohort, CohortKey, Cohorts, ModelError, User};
use toolsync_plugin_api::{fail, Columns, Row, RowError, Txn};

/// What the cohort columns did to one row's account, for its outcome.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Joined {
    /// Notes for the message (`cohort `3A` created (idnumber `K3A`)`, `joined cohort `3A``).
    pub notes: Vec<String>,
    pub warnings: Vec<String>,
    /// Whether a membership was added (an otherwise unchanged account is then `updated`).
    pub changed: bool,
}

/// The cohort columns of one file.
#[derive(Debug, Clone, Copy)]
pub struct CohortColumns {
    /// Whether the file has `cohort` or `cohortid`.
    present: bool,
}

impl CohortColumns {
    pub fn of(columns: &Columns) -> Self {
        CohortColumns {
            present: crate::options::COHORT_COLUMNS
                .iter()
                .any(|name| columns.has(name)),
        }
    }

    /// Whether the file has no cohort column (nothing to do per row).
    pub fn is_empty(&self) -> bool {
        !self.present
    }

    /// Adds the row's account to the cohort its `cohort` cell names, creating the cohort when
    /// missing (see the module's decisions).
    pub fn apply(
        &self,
        row: &Row<'_>,
        txn: &mut Txn<'_>,
        user: &User,
        now: i64,
    ) -> Result<Joined, RowError> {
        let mut joined = Joined::default();
        if !self.present {
            return Ok(joined);
        }
        let cohortid = row.non_empty("cohortid").unwrap_or_default();
        let Some(name) = row.non_empty("cohort") else {
            if !cohortid.is_empty() {
                fail!(
                    "`cohortid` `{cohortid}` needs a `cohort` (the name of the cohort to create)"
                );
            }
            return Ok(joined);
        };
        let cohort = match Cohorts::find(txn, CohortKey::Name, name)? {
            Some(cohort) => {
                if !cohortid.is_empty() && cohortid != cohort.idnumber {
                    let has = match cohort.idnumber.as_str() {
                        "" => "no idnumber".to_string(),
                        idnumber => format!("idnumber `{idnumber}`"),
                    };
                    joined.warnings.push(format!(
                        "cohort `{name}` exists with {has}; cohortid `{cohortid}` ignored"
                    ));
                }
                cohort
            }
            None => {
                let mut new = Cohort::new(name, now);
                new.idnumber = cohortid.to_string();
                let cohort = Cohorts::create(txn, new).map_err(|e| match e {
                    ModelError::Conflict(why) => {
                        let column = if cohortid.is_empty() {
                            "cohort"
                        } else {
                            "cohortid"
                        };
                        RowError::new(format!(
                            "`{column}`: cohort `{name}` cannot be created: {why}"
                        ))
                    }
                    other => RowError::from(other),
                })?;
                joined.notes.push(match cohortid {
                    "" => format!("cohort `{name}` created"),
                    idnumber => format!("cohort `{name}` created (idnumber `{idnumber}`)"),
                });
                cohort
            }
        };
        if let Some(synced) = Cohorts::add_member(txn, &cohort, user.id, now)? {
            joined.changed = true;
            joined.notes.push(match synced.describe().as_str() {
                "" => format!("joined cohort `{name}`"),
                done => format!("joined cohort `{name}` ({done})"),
            });
        }
        Ok(joined)
    }
}
