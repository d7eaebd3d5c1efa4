//! Finding a row's account (formats.md §3.6 step 1): the identity value, the lookup
//! (soft-deleted accounts included) and the resolution of a rename. It only reads the store, so
//! `prepare` (read-only, several threads) and `apply` share it.

use toolsync_plugin_api::model::{User, UserKey, Users};
use toolsync_plugin_api::values::check_text;
use toolsync_plugin_api::{fail, Row, RowError, StoreRead};

use crate::options::Settings;

/// Lowercases a username, then accepts only `a-z 0-9 _ - . @` (nothing is stripped: a name
/// that would need it fails, rather than silently becoming another account's name).
pub fn normalise_username(raw: &str) -> Result<String, RowError> {
    let name = raw.to_lowercase();
    let named = |why: String| RowError::new(format!("`username`: {why}"));
    check_text(&name, 100).map_err(named)?;
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.@".contains(c);
    if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
        return Err(named(format!(
            "{bad:?} is not allowed; a username may only hold a-z 0-9 _ - . @"
        )));
    }
    Ok(name)
}

/// The account a row designates, and how the row renames it.
#[derive(Debug)]
pub struct Located {
    pub account: Option<User>,
    /// The new username when the row renames the account.
    pub rename_to: Option<String>,
}

impl Settings {
    /// The row's identity value, normalised (its column's type checked it before the row got
    /// here). An empty value fails the row (tool_sync fell back to the username; §3.6
    /// differences).
    pub fn identity_value(&self, row: &Row<'_>) -> Result<String, RowError> {
        let column = self.identity.column();
        let Some(value) = row.text(column) else {
            fail!("missing `{column}` (identity = {column})");
        };
        match self.identity {
            UserKey::Username => normalise_username(value).map_err(|e| e.about(value)),
            UserKey::Id | UserKey::Idnumber | UserKey::Email => Ok(value.to_string()),
        }
    }

    /// Finds the row's account by its identity value, deleted accounts included, and resolves
    /// a rename (formats.md §3.6 "Rename").
    pub fn locate(
        &self,
        store: &impl StoreRead,
        row: &Row<'_>,
        key: &str,
    ) -> Result<Located, RowError> {
        if self.identity == UserKey::Username {
            // The row's username is the new name; `oldusername` designates the account.
            let old = row.non_empty("oldusername").map(str::to_lowercase);
            return match old.filter(|old| old != key) {
                None => Ok(located(Users::by_username(store, key)?, None)),
                Some(old) => {
                    let account = Users::by_username(store, &old)?;
                    if !self.allow_rename {
                        let subject = if account.is_some() { old.as_str() } else { key };
                        return Err(RowError::new(format!(
                            "renaming `{old}` to `{key}` needs allow_rename"
                        ))
                        .about(subject));
                    }
                    if let Some(account) = account {
                        return Ok(located(Some(account), Some(key.to_string())));
                    }
                    // Nobody has the old name but someone has the new one: the rename was done
                    // by an earlier run, and that account is the one to update.
                    match Users::by_username(store, key)? {
                        Some(account) => Ok(located(Some(account), None)),
                        None => fail!("no user with username = `{old}` to rename to `{key}`"),
                    }
                }
            };
        }
        let account = self.by_identity(store, key)?;
        let Some(account) = account else {
            return Ok(located(None, None));
        };
        let rename_to = self
            .rename_of(row, &account, key)
            .map_err(|e| e.about(&account.username))?;
        Ok(located(Some(account), rename_to))
    }

    /// With an identity other than username, a different `username` renames the account found,
    /// and a non-empty `oldusername` must then be its current username.
    fn rename_of(
        &self,
        row: &Row<'_>,
        account: &User,
        key: &str,
    ) -> Result<Option<String>, RowError> {
        let Some(raw) = row.non_empty("username") else {
            return Ok(None);
        };
        let wanted = normalise_username(raw)?;
        if wanted == account.username {
            return Ok(None);
        }
        if !self.allow_rename {
            fail!(
                "renaming `{}` to `{wanted}` needs allow_rename",
                account.username
            );
        }
        let old = row.non_empty("oldusername").map(str::to_lowercase);
        if let Some(old) = old.filter(|old| *old != account.username) {
            fail!(
                "`oldusername` is `{old}` but the account with {} = `{key}` is `{}`",
                self.identity.column(),
                account.username
            );
        }
        Ok(Some(wanted))
    }

    /// The account with this identity value. Several accounts can share an e-mail address: the
    /// one that is not deleted is meant when there is exactly one such, otherwise the row fails
    /// with the count (a deleted account and its successor sharing an address are common).
    fn by_identity(&self, store: &impl StoreRead, key: &str) -> Result<Option<User>, RowError> {
        let mut found = Users::find(store, self.identity, key)?;
        if found.len() <= 1 {
            return Ok(found.pop());
        }
        let mut active: Vec<User> = found.iter().filter(|u| !u.deleted).cloned().collect();
        if active.len() == 1 {
            return Ok(active.pop());
        }
        fail!(
            "{} accounts have {} = `{key}`; use another identity",
            found.len(),
            self.identity.column()
        )
    }
}

fn located(account: Option<User>, rename_to: Option<String>) -> Located {
    Located { account, rename_to }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_checked_not_stripped() {
        assert_eq!(
            normalise_username("J.Doe-2_x@Example.ORG").unwrap(),
            "j.doe-2_x@example.org"
        );
        for bad in ["jean dupont", "élodie", "a+b", "a/b", "tab\tx"] {
            let err = normalise_username(bad).unwrap_err();
            assert!(err.reason.starts_with("`username`: "), "{}", err.reason);
        }
        assert!(normalise_username(&"a".repeat(101)).is_err());
    }
}
