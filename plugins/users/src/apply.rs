//! One row of a users file (formats.md §3.6 "Per row"): find the account, then delete it,
//! create it, or revive/rename/update it. Every row ends with one outcome about the account,
//! named by its username (or by the identity value when there is no account).

use toolsync_plugin_api::brake::Brake;
use toolsync_plugin_api::model::diff::{self, DiffRules};
use toolsync_plugin_api::model::registry::user_fields;
use toolsync_plugin_api::model::{PasswordState, User, UserKey, Users};
use toolsync_plugin_api::{
    fail, Derived, Outcome, OutcomeKind, ReadTxn, Row, RowError, RowHandler, Txn,
};

use crate::cohort::CohortColumns;
use crate::enrol::EnrolmentColumns;
use crate::fields::{Empty, Target};
use crate::identity::normalise_username;
use crate::options::Settings;
use crate::password::{self, Request, Settled};

/// A run over one users file.
pub struct UsersRun {
    settings: Settings,
    /// The columns of this file that set stored fields.
    targets: Vec<Target>,
    cohorts: CohortColumns,
    enrolments: EnrolmentColumns,
    /// The survey's count of the live accounts the file would soft-delete.
    brake: Brake,
}

impl UsersRun {
    pub fn new(
        settings: Settings,
        targets: Vec<Target>,
        cohorts: CohortColumns,
        enrolments: EnrolmentColumns,
        brake: Brake,
    ) -> Self {
        UsersRun {
            settings,
            targets,
            cohorts,
            enrolments,
            brake,
        }
    }

    /// §3.6 step 4: the cohort columns, then the enrolment columns, in the account's
    /// transaction, once the account is created, revived or updated. A membership added is a
    /// change of the account: an `unchanged` outcome becomes `updated`. Enrolments keep the
    /// account's kind (they are notes about its courses).
    fn join_and_enrol(
        &self,
        row: &Row<'_>,
        txn: &mut Txn<'_>,
        mut outcome: Outcome,
    ) -> Result<Outcome, RowError> {
        if self.cohorts.is_empty() && self.enrolments.is_empty() {
            return Ok(outcome);
        }
        let Some(user) = Users::by_username(txn, &outcome.subject)? else {
            return Ok(outcome);
        };
        let joined = self.cohorts.apply(row, txn, &user, self.settings.now)?;
        if joined.changed && outcome.kind == OutcomeKind::Unchanged {
            outcome.kind = OutcomeKind::Updated;
        }
        outcome.warnings.extend(joined.warnings);
        let notes = self.enrolments.apply(row, txn, &user, self.settings.now)?;
        Ok(joined
            .notes
            .iter()
            .chain(&notes)
            .fold(outcome, |o, n| o.note(n)))
    }

    /// `deleted` acts only on a true value (§2.7); its type (`bool`) checked the cell.
    fn deleting(row: &Row<'_>) -> bool {
        row.bool("deleted").unwrap_or(false)
    }

    fn delete(
        &self,
        txn: &mut Txn<'_>,
        account: Option<User>,
        key: &str,
    ) -> Result<Outcome, RowError> {
        match account {
            None => fail!(
                "no user with {} = `{key}` to delete",
                self.settings.identity.column()
            ),
            Some(user) if user.deleted => {
                Ok(Outcome::unchanged(user.username).note("already deleted"))
            }
            Some(mut user) => {
                Users::soft_delete(txn, &mut user, self.settings.now)?;
                Ok(Outcome::deleted(user.username))
            }
        }
    }

    fn create(
        &self,
        row: &Row<'_>,
        derived: &Derived,
        txn: &mut Txn<'_>,
        key: &str,
    ) -> Result<Outcome, RowError> {
        if self.settings.identity == UserKey::Id {
            fail!("no user with id = {key} (identity = id never creates accounts)");
        }
        let missing: Vec<String> = ["username", "firstname", "lastname"]
            .into_iter()
            .filter(|column| row.non_empty(column).is_none())
            .map(|column| format!("`{column}`"))
            .collect();
        if !missing.is_empty() {
            fail!("cannot create the account: {} missing", missing.join(", "));
        }
        let username = normalise_username(row.non_empty("username").unwrap_or_default())?;
        let mut user = User::new(&username, "", "", self.settings.now);
        for target in &self.targets {
            target.apply(row, &mut user, Empty::Keep)?;
        }
        self.apply_password(row, derived, &mut user, None)?;
        self.check_email(txn, &user)?;
        let user = Users::create(txn, user)?;
        Ok(Outcome::created(user.username))
    }

    fn update(
        &self,
        row: &Row<'_>,
        derived: &Derived,
        txn: &mut Txn<'_>,
        before: User,
        rename_to: Option<String>,
    ) -> Result<Outcome, RowError> {
        let mut user = before.clone();
        let mut notes = Vec::new();
        let mut warnings = Vec::new();
        if user.deleted {
            user.deleted = false;
            notes.push("revived".to_string());
        }
        if let Some(new) = rename_to {
            notes.push(format!("renamed from `{}`", user.username));
            user.username = new;
        }
        let empty = if self.settings.empty_clears {
            Empty::Clear
        } else {
            Empty::Keep
        };
        for target in &self.targets {
            target.apply(row, &mut user, empty)?;
        }
        if self.settings.protect_emails && user.email != before.email {
            if user.email.to_lowercase() != before.email.to_lowercase() {
                let asked = match user.email.as_str() {
                    "" => "clears it".to_string(),
                    other => format!("has `{other}`"),
                };
                warnings.push(format!(
                    "protect_emails: the e-mail stays `{}` (the row {asked})",
                    before.email
                ));
            }
            user.email.clone_from(&before.email);
        }
        self.apply_password(row, derived, &mut user, password::stored_hash(&before))?;
        // A changed address, or a revived account's, must not belong to another live account.
        if before.deleted || user.email.to_lowercase() != before.email.to_lowercase() {
            self.check_email(txn, &user)?;
        }
        if user == before {
            let mut outcome = Outcome::unchanged(user.username);
            outcome.warnings = warnings;
            return Ok(outcome);
        }
        notes.extend(describe_changes(&before, &user));
        user.timemodified = self.settings.now;
        Users::save(txn, &mut user)?;
        let mut outcome = notes
            .iter()
            .fold(Outcome::updated(user.username), |o, n| o.note(n));
        outcome.warnings = warnings;
        Ok(outcome)
    }

    /// The `password` cell: empty keeps (a new account's is "to be created"), `*NOPASS*` sets
    /// the marker and drops any hash, a value the `stored` hash verifies changes nothing, any
    /// other value is hashed.
    fn apply_password(
        &self,
        row: &Row<'_>,
        derived: &Derived,
        user: &mut User,
        stored: Option<&str>,
    ) -> Result<(), RowError> {
        match password::request(row.get("password"))? {
            Request::Keep => {}
            Request::Nologin => password::set(user, PasswordState::Nologin, None),
            Request::Set(secret) => {
                let cost = self.settings.bcrypt_cost;
                if let Settled::Hashed(hash) = password::settle(secret, stored, derived, cost)? {
                    password::set(user, PasswordState::Hashed, Some(hash));
                }
            }
        }
        Ok(())
    }

    /// With `allow_duplicate_emails` off, an address may not belong to another non-deleted
    /// account (compared case-insensitively).
    fn check_email(&self, txn: &Txn<'_>, user: &User) -> Result<(), RowError> {
        if self.settings.allow_duplicate_emails || user.email.is_empty() {
            return Ok(());
        }
        let others: Vec<String> = Users::by_email(txn, &user.email)?
            .into_iter()
            .filter(|other| other.id != user.id && !other.deleted)
            .map(|other| format!("`{}`", other.username))
            .collect();
        if !others.is_empty() {
            fail!(
                "e-mail `{}` belongs to another account ({}); allow_duplicate_emails is off",
                user.email,
                others.join(", ")
            );
        }
        Ok(())
    }
}

/// What an update changed, for the message: each field as `field: old → new` (the model's
/// change list, over the account as `show user` prints it); a password only as
/// `password: changed`, never its value or hash. The username and the deleted flag have notes
/// of their own (renamed, revived).
fn describe_changes(before: &User, after: &User) -> Vec<String> {
    diff::changes(
        &user_fields(before),
        &user_fields(after),
        &DiffRules {
            ignore: &["username", "deleted", "timemodified"],
            secret: &["password_hash", "password_state"],
            secret_name: "password",
        },
    )
}

impl RowHandler for UsersRun {
    /// Counts the live accounts the file soft-deletes (`deleted = 1`), for the brake.
    fn survey(&mut self, row: &Row<'_>, store: &ReadTxn<'_>) {
        if !Self::deleting(row) || self.brake.has_failed() {
            return;
        }
        let Ok(key) = self.settings.identity_value(row) else {
            return; // fails when applied
        };
        let counted = self.settings.locate(store, row, &key).map(|found| {
            if let Some(user) = found.account.filter(|u| !u.deleted) {
                self.brake.count(user.id.to_be_bytes());
            }
        });
        self.brake.settle(row.line, counted);
    }

    fn survey_verdict(
        &mut self,
        store: &ReadTxn<'_>,
    ) -> Result<Option<String>, toolsync_plugin_api::StartError> {
        self.brake.verdict(|| Users::count_live(store))
    }

    /// The account as the row names it: its identity value.
    fn subject(&self, row: &Row<'_>) -> String {
        row.get(self.settings.identity.column())
            .unwrap_or_default()
            .to_lowercase()
    }

    /// Password hashing and checking, on several threads, for rows that set a password; on a
    /// store on a server, first the reads `apply` will make (the account, and the accounts of
    /// its e-mail), which the host fetches for a whole chunk at once. Those reads are tried
    /// together (a read the host has not fetched yet fails: it is fetched in the same wave as
    /// the others), and nothing is hashed until they all succeed.
    fn prepare(&self, row: &Row<'_>, store: &ReadTxn<'_>) -> Derived {
        let mut derived = Derived::default();
        let request = password::request(row.get("password"));
        let sets_password = matches!(request, Ok(Request::Set(_)));
        if !sets_password && !self.settings.prefetching {
            return derived;
        }
        let Ok(key) = self.settings.identity_value(row) else {
            return derived;
        };
        let located = self.settings.locate(store, row, &key);
        let deleting = Self::deleting(row);
        let emails_read = match row.non_empty("email") {
            Some(email)
                if self.settings.prefetching
                    && !deleting
                    && !self.settings.allow_duplicate_emails =>
            {
                Users::by_email(store, email).map(|_| ())
            }
            _ => Ok(()),
        };
        let (Ok(found), Ok(())) = (located, emails_read) else {
            return derived;
        };
        let (Ok(Request::Set(secret)), false) = (request, deleting) else {
            return derived;
        };
        let stored = found.account.as_ref().and_then(password::stored_hash);
        password::prepare(secret, stored, self.settings.bcrypt_cost, &mut derived);
        derived
    }

    fn apply(
        &mut self,
        row: &Row<'_>,
        derived: Derived,
        txn: &mut Txn<'_>,
    ) -> Result<Outcome, RowError> {
        let key = self.settings.identity_value(row)?;
        let found = self
            .settings
            .locate(txn, row, &key)
            .map_err(|e| e.about(&key))?;
        let subject = found
            .account
            .as_ref()
            .map_or(key.clone(), |a| a.username.clone());
        let outcome = match (Self::deleting(row), found.account) {
            (true, account) => self.delete(txn, account, &key),
            (false, None) => self
                .create(row, &derived, txn, &key)
                .and_then(|o| self.join_and_enrol(row, txn, o)),
            (false, Some(user)) => self
                .update(row, &derived, txn, user, found.rename_to)
                .and_then(|o| self.join_and_enrol(row, txn, o)),
        };
        outcome.map_err(|e| e.about(&subject))
    }
}
