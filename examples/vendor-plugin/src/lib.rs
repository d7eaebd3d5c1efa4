//! `badges`: awards badges to accounts created by the `users` processor.
//!
//! What a vendor's plugin looks like: implement [`Processor`] and [`RowHandler`], export them
//! with one macro, keep your own data through `txn.data()` (keyspaces named after the processor:
//! `badges:award`, which the host refuses to any other plugin), and find the shared entities
//! (accounts) through the model, never through their keys.
//!
//! File (`badges.csv`): `username;badge;cmd` with `cmd` = `add` (default) or `del`.

use serde::{Deserialize, Serialize};
use toolsync_plugin_api::keys::{find_user, user_key_option};
use toolsync_plugin_api::model::UserKey;
use toolsync_plugin_api::{
    ColumnSpec, Derived, Manifest, OptionSpec, Outcome, Processor, Row, RowError, RowHandler,
    StartContext, StartError, Txn,
};

/// This plugin's own keyspace (stored as `badges:award`): `<user id BE><badge>` → award record.
const AWARDS: &str = "award";

struct Badges;

impl Processor for Badges {
    fn manifest(&self) -> Manifest {
        Manifest::new(
            "badges",
            env!("CARGO_PKG_VERSION"),
            "Awards ACME badges to accounts",
            "badges.csv",
        )
        // The types are enforced: a 60-character badge fails its row before `apply` sees it.
        .column(ColumnSpec::new("username", "key(user)", "the account, by user_key").required())
        .column(ColumnSpec::new("badge", "text(50)", "badge name").required())
        .column(ColumnSpec::new(
            "cmd",
            "enum add del",
            "add (default) or del",
        ))
        // In a bundle (`toolsync runall`), after the accounts it awards badges to.
        .after(&["users"])
        .option(user_key_option("username"))
        .option(OptionSpec::new(
            "max_badges",
            "10",
            "badges one account may hold",
        ))
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        let max_badges = ctx.option_int("max_badges", 1, 1000)? as usize;
        Ok(Box::new(BadgeRun {
            max_badges,
            user_key: ctx.user_key()?,
            now: ctx.started_at,
        }))
    }
}

#[derive(Serialize, Deserialize)]
struct Award {
    badge: String,
    awarded_at: i64,
}

struct BadgeRun {
    max_badges: usize,
    /// How the `username` column designates an account (option `user_key`).
    user_key: UserKey,
    /// The run's start: when the badges of this file were awarded.
    now: i64,
}

impl RowHandler for BadgeRun {
    fn apply(&mut self, row: &Row<'_>, _: Derived, txn: &mut Txn<'_>) -> Result<Outcome, RowError> {
        let username = row.get("username").unwrap_or_default();
        let badge = row.text("badge").unwrap_or_default();
        let subject = format!("{username}/{badge}");
        // The shared model's lookup: empty, unknown, ambiguous and deleted accounts fail alike
        // in every processor.
        let user =
            find_user(txn, self.user_key, "username", username).map_err(|e| e.about(&subject))?;
        if badge.is_empty() {
            return Err(RowError::new("missing `badge`").about(&subject));
        }
        let mut key = user.id.to_be_bytes().to_vec();
        key.extend_from_slice(badge.as_bytes());
        let held = txn.data().get(AWARDS, &key)?.is_some();
        // `cmd` is an `enum`: its value arrives checked and lowercased.
        match row.text("cmd").unwrap_or("add") {
            "add" if held => Ok(Outcome::unchanged(subject)),
            "add" => {
                let count = txn
                    .data()
                    .scan_prefix(AWARDS, &user.id.to_be_bytes(), self.max_badges)?
                    .len();
                if count >= self.max_badges {
                    return Err(RowError::new(format!(
                        "{username} already holds {count} badges (max_badges)"
                    ))
                    .about(&subject));
                }
                txn.data().put_json(
                    AWARDS,
                    &key,
                    &Award {
                        badge: badge.into(),
                        awarded_at: self.now,
                    },
                )?;
                Ok(Outcome::created(subject))
            }
            "del" if held => {
                txn.data().remove(AWARDS, &key)?;
                Ok(Outcome::deleted(subject))
            }
            _ => Ok(Outcome::unchanged(subject)),
        }
    }
}

toolsync_plugin_api::export_plugin!(Badges);

#[cfg(test)]
mod tests {
    use super::*;
    use toolsync_plugin_api::model::{User, Users};
    use toolsync_plugin_api::testing::{MemoryStore, Runner};
    use toolsync_plugin_api::OutcomeKind;

    #[test]
    fn awards_a_badge_once_to_an_existing_account() {
        let mut store = MemoryStore::new();
        let header = ["username", "badge"];
        let report = Runner::new(Badges)
            .run(&mut store, &header, &[&["ann", "gold"]])
            .unwrap();
        assert_eq!(report.kinds(), [OutcomeKind::Failed], "no account ann yet");

        // Shared data is set up through the model: store.txn() has the model's rights.
        Users::create(&mut store.txn(), User::new("ann", "Ann", "A", 1)).unwrap();
        let report = Runner::new(Badges)
            .run(&mut store, &header, &[&["ann", "gold"], &["ann", "gold"]])
            .unwrap();
        assert_eq!(
            report.kinds(),
            [OutcomeKind::Created, OutcomeKind::Unchanged]
        );
        assert_eq!(store.count("badges:award"), 1);
    }
}
