//! cohorts (formats.md §3.11): creates, updates, empties and deletes cohorts, adds and removes
//! members. Main subject: the membership (`USER in COHORT`) when the row names a user, else the
//! cohort, as the row names them.
//!
//! A row finds its cohort by the `cohort_key` column (`cidnumber`, `cname` or `cid`). `add`
//! creates a missing one (with `autocreate`), or applies the row's present columns to the one
//! found, then adds the member; `del` removes a member — or, with no user, the cohort; `free`
//! empties it. A membership change reaches every course the cohort is bound to, in the row's
//! transaction (the model's [`Cohorts`]); the row's message counts the enrolments it made or
//! removed.

use toolsync_plugin_api::brake::{self, Brake};
use toolsync_plugin_api::keys;
use toolsync_plugin_api::model::diff::{self, DiffRules};
use toolsync_plugin_api::model::{
    Categories, Category, Cohort, CohortKey, Cohorts, Synced, User, UserKey,
};
use toolsync_plugin_api::{
    counted, fail, ColumnSpec, Derived, Manifest, OptionSpec, Outcome, OutcomeKind, Processor,
    ReadTxn, Row, RowError, RowHandler, StartContext, StartError, StoreRead, Txn,
};

pub struct CohortsProcessor;

impl Processor for CohortsProcessor {
    fn manifest(&self) -> Manifest {
        Manifest::new(
            "cohorts",
            env!("CARGO_PKG_VERSION"),
            "Creates, updates, empties and deletes cohorts; adds and removes their members",
            "cohorts.csv",
        )
        .column(ColumnSpec::new(
            "cmd",
            "enum add del free",
            "add: creates or updates the cohort, then adds the member; del: removes the member, or without one the cohort; free: removes every member — add",
        ))
        .column(ColumnSpec::new(
            "cid",
            "int[1..]",
            "cohort id: the key when cohort_key = id; otherwise a non-empty value must be the id of the cohort the row designates",
        ))
        .column(ColumnSpec::new(
            "cidnumber",
            "text(100)",
            "the key when cohort_key = idnumber, otherwise the idnumber to set; unique among cohorts",
        ))
        .column(ColumnSpec::new(
            "cname",
            "text(254)",
            "the key when cohort_key = name, otherwise the name to set (needed to create); unique among cohorts",
        ))
        .column(ColumnSpec::new("cdescription", "longtext", "description"))
        .column(ColumnSpec::new(
            "ccatcontext",
            "int[1..]",
            "id of the category owning the cohort; at most one of ccatcontext and ccatcontextidnumber; none: site-wide",
        ))
        .column(ColumnSpec::new(
            "ccatcontextidnumber",
            "text(100)",
            "idnumber of the category owning the cohort",
        ))
        .column(ColumnSpec::new("component", "text(100)", "owner tag, stored"))
        .column(ColumnSpec::new(
            "userid",
            "key(user)",
            "a member (by user_key); empty: the row is about the cohort",
        ))
        .option(keys::cohort_key_option())
        .option(keys::user_key_option("idnumber"))
        // The brake on mass removals (`del`, `free`), counted in a survey of files with `cmd`.
        .options(brake::options(10))
        .surveyed_when(&["cmd"])
        .option(
            OptionSpec::boolean(
                "autocreate",
                "true",
                "add creates a missing cohort (not with cohort_key = id)",
            ),
        )
        .option(
            OptionSpec::boolean(
                "allow_cohort_delete",
                "true",
                "del without a user deletes the cohort, with its memberships and course bindings",
            ),
        )
        .option(
            OptionSpec::boolean(
                "empty_clears",
                "false",
                "an empty cell resets cdescription, component and cidnumber (unless the key)",
            ),
        )
    }

    fn start(&self, ctx: &StartContext) -> Result<Box<dyn RowHandler>, StartError> {
        let key = ctx.cohort_key()?;
        let column = key_column(key);
        if !ctx.columns().has(column) {
            return Err(StartError::Refused(
                format!(
                    "`{column}` is required because cohort_key = {}",
                    key.column()
                )
                .into(),
            ));
        }
        Ok(Box::new(CohortsRun {
            key,
            user_key: ctx.user_key()?,
            autocreate: ctx.option_bool("autocreate")?,
            allow_cohort_delete: ctx.option_bool("allow_cohort_delete")?,
            empty_clears: ctx.option_bool("empty_clears")?,
            now: ctx.started_at,
            brake: Brake::new(ctx, "cohort memberships")?,
        }))
    }
}

/// The column holding the key a `cohort_key` names.
fn key_column(key: CohortKey) -> &'static str {
    match key {
        CohortKey::Id => "cid",
        CohortKey::Idnumber => "cidnumber",
        CohortKey::Name => "cname",
    }
}

struct CohortsRun {
    key: CohortKey,
    user_key: UserKey,
    autocreate: bool,
    allow_cohort_delete: bool,
    empty_clears: bool,
    now: i64,
    /// The survey's count of the memberships the file removes.
    brake: Brake,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Add,
    Del,
    Free,
}

impl Cmd {
    /// The row's `cmd`, which its column's type lets through lowercased: absent or empty means
    /// `add`.
    fn of(row: &Row<'_>) -> Cmd {
        match row.text("cmd") {
            Some("del") => Cmd::Del,
            Some("free") => Cmd::Free,
            _ => Cmd::Add,
        }
    }
}

impl RowHandler for CohortsRun {
    fn subject(&self, row: &Row<'_>) -> String {
        self.subject(row)
    }

    /// Counts the memberships `del` (of a member, or of a whole cohort) and `free` rows
    /// remove, for the brake.
    fn survey(&mut self, row: &Row<'_>, store: &ReadTxn<'_>) {
        let cmd = Cmd::of(row);
        if cmd == Cmd::Add || self.brake.has_failed() {
            return;
        }
        let counted = (|| -> Result<(), RowError> {
            let value = row.get(key_column(self.key)).unwrap_or("");
            let Some(cohort) = Cohorts::find(store, self.key, value)? else {
                return Ok(());
            };
            let leaving = match (cmd, self.user(store, row)?) {
                (Cmd::Del, Some(user)) => Cohorts::is_member(store, cohort.id, user.id)?
                    .then_some(vec![user.id])
                    .unwrap_or_default(),
                (Cmd::Del, None) if !self.allow_cohort_delete => Vec::new(),
                _ => Cohorts::members(store, cohort.id)?,
            };
            for user in leaving {
                self.brake
                    .count([cohort.id.to_be_bytes(), user.to_be_bytes()].concat());
            }
            Ok(())
        })();
        self.brake.settle(row.line, counted);
    }

    fn survey_verdict(&mut self, store: &ReadTxn<'_>) -> Result<Option<String>, StartError> {
        self.brake
            .verdict(|| brake::entries(store, toolsync_plugin_api::model::cohort::MEMBER_SPACE))
    }

    fn apply(
        &mut self,
        row: &Row<'_>,
        _derived: Derived,
        txn: &mut Txn<'_>,
    ) -> Result<Outcome, RowError> {
        let subject = self.subject(row);
        self.apply_row(row, txn, &subject)
            .map_err(|e| e.about(&subject))
    }
}

impl CohortsRun {
    /// `USER in COHORT` when the row names a user, else `COHORT`, as the row wrote them.
    fn subject(&self, row: &Row<'_>) -> String {
        let cohort = row.get(key_column(self.key)).unwrap_or("");
        match row.non_empty("userid") {
            Some(user) => format!("{user} in {cohort}"),
            None => cohort.to_string(),
        }
    }

    fn apply_row(
        &self,
        row: &Row<'_>,
        txn: &mut Txn<'_>,
        subject: &str,
    ) -> Result<Outcome, RowError> {
        let column = key_column(self.key);
        let value = row.get(column).unwrap_or("");
        if value.is_empty() {
            fail!("missing `{column}`");
        }
        let found = Cohorts::find(txn, self.key, value)?;
        if let (Some(cid), Some(cohort)) = (row.int("cid"), &found) {
            if self.key != CohortKey::Id && cid != cohort.id as i64 {
                fail!(
                    "`cid` {cid} is not the id of cohort `{}` (its id is {})",
                    cohort.name,
                    cohort.id
                );
            }
        }
        match Cmd::of(row) {
            Cmd::Add => self.add(row, txn, found, subject),
            Cmd::Del => {
                let user = self.user(txn, row)?;
                let cohort = self.existing(found, value)?;
                match user {
                    Some(user) => self.leave(txn, &cohort, &user, subject),
                    None => self.delete(txn, &cohort, subject),
                }
            }
            Cmd::Free => {
                if row.non_empty("userid").is_some() {
                    fail!("`free` empties the whole cohort: leave `userid` empty");
                }
                let cohort = self.existing(found, value)?;
                let (members, synced) = Cohorts::empty(txn, &cohort, self.now)?;
                if members == 0 {
                    return Ok(Outcome::unchanged(subject).note("no members"));
                }
                Ok(with_synced(
                    Outcome::updated(subject)
                        .note(format!("{} removed", counted(members, "member", "members"))),
                    synced,
                ))
            }
        }
    }

    /// The row's member, if it names one: an unknown or deleted account fails the row.
    fn user(&self, txn: &impl StoreRead, row: &Row<'_>) -> Result<Option<User>, RowError> {
        match row.non_empty("userid") {
            None => Ok(None),
            Some(value) => Ok(Some(keys::find_user(txn, self.user_key, "userid", value)?)),
        }
    }

    /// The cohort a `del` or `free` acts on: it must exist.
    fn existing(&self, found: Option<Cohort>, value: &str) -> Result<Cohort, RowError> {
        found
            .ok_or_else(|| RowError::new(format!("no cohort with {} = {value}", self.key.column())))
    }

    fn add(
        &self,
        row: &Row<'_>,
        txn: &mut Txn<'_>,
        found: Option<Cohort>,
        subject: &str,
    ) -> Result<Outcome, RowError> {
        // The member first: an unknown account fails the row before anything is written.
        let user = self.user(txn, row)?;
        let category = self.category(txn, row)?;
        let (cohort, cohort_kind, notes) = match found {
            Some(cohort) => self.update(row, txn, cohort, category)?,
            None => (
                self.create(row, txn, category)?,
                OutcomeKind::Created,
                Vec::new(),
            ),
        };
        let Some(user) = user else {
            let outcome = Outcome::new(cohort_kind, subject);
            return Ok(notes.into_iter().fold(outcome, Outcome::note));
        };
        let mut outcome = match cohort_kind {
            OutcomeKind::Created => {
                Outcome::created(subject).note(format!("cohort `{}` created", cohort.name))
            }
            OutcomeKind::Updated => Outcome::updated(subject),
            _ => Outcome::unchanged(subject),
        };
        outcome = notes.into_iter().fold(outcome, Outcome::note);
        match Cohorts::add_member(txn, &cohort, user.id, self.now)? {
            None => Ok(outcome.note("already a member")),
            Some(synced) => {
                // The membership is the row's main subject: new, it makes the row `created`.
                outcome.kind = OutcomeKind::Created;
                Ok(with_synced(
                    outcome.note(format!("{} joined", user.username)),
                    synced,
                ))
            }
        }
    }

    /// A new cohort from the row (with `autocreate`, not in `id` mode).
    fn create(
        &self,
        row: &Row<'_>,
        txn: &mut Txn<'_>,
        category: Option<Category>,
    ) -> Result<Cohort, RowError> {
        let column = key_column(self.key);
        let value = row.get(column).unwrap_or("");
        if self.key == CohortKey::Id {
            fail!("no cohort with id = {value} (cohort_key = id never creates)");
        }
        if !self.autocreate {
            fail!(
                "no cohort with {} = {value} (autocreate is off)",
                self.key.column()
            );
        }
        if row.int("cid").is_some() {
            fail!(
                "`cid` names a cohort, but none has {} = {value}",
                self.key.column()
            );
        }
        let name = match self.key {
            CohortKey::Name => value,
            _ => match row.text("cname") {
                Some(name) => name,
                None => fail!("missing `cname`: a new cohort needs a name"),
            },
        };
        let mut cohort = Cohort::new(name, self.now);
        cohort.idnumber = match self.key {
            CohortKey::Idnumber => value.to_string(),
            _ => row.text("cidnumber").unwrap_or("").to_string(),
        };
        cohort.description = row.text("cdescription").unwrap_or("").to_string();
        cohort.component = row.text("component").unwrap_or("").to_string();
        cohort.category = category.map_or(0, |c| c.id);
        Ok(Cohorts::create(txn, cohort)?)
    }

    /// The row's present columns applied to the cohort found (name and idnumber too when not
    /// the key). Returns the cohort, `Updated` or `Unchanged`, and what changed.
    fn update(
        &self,
        row: &Row<'_>,
        txn: &mut Txn<'_>,
        before: Cohort,
        category: Option<Category>,
    ) -> Result<(Cohort, OutcomeKind, Vec<String>), RowError> {
        let mut cohort = before.clone();
        if self.key != CohortKey::Name {
            if let Some(name) = row.text("cname") {
                name.clone_into(&mut cohort.name);
            }
        }
        if self.key != CohortKey::Idnumber {
            if let Some(idnumber) = row.edit("cidnumber", self.empty_clears) {
                idnumber.clone_into(&mut cohort.idnumber);
            }
        }
        if let Some(description) = row.edit("cdescription", self.empty_clears) {
            description.clone_into(&mut cohort.description);
        }
        if let Some(component) = row.edit("component", self.empty_clears) {
            component.clone_into(&mut cohort.component);
        }
        if let Some(category) = category {
            cohort.category = category.id;
        }
        if cohort == before {
            return Ok((cohort, OutcomeKind::Unchanged, Vec::new()));
        }
        let notes = diff::changes(
            &fields(&before),
            &fields(&cohort),
            &DiffRules {
                ignore: &["v", "timemodified"],
                secret: &[],
                secret_name: "",
            },
        );
        Cohorts::save(txn, &mut cohort, self.now)?;
        Ok((cohort, OutcomeKind::Updated, notes))
    }

    /// The category the row names (`ccatcontext` by id or `ccatcontextidnumber`), if any: at
    /// most one of them, and it must exist.
    fn category(&self, txn: &Txn<'_>, row: &Row<'_>) -> Result<Option<Category>, RowError> {
        match (row.int("ccatcontext"), row.text("ccatcontextidnumber")) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => {
                fail!("give the category by `ccatcontext` or `ccatcontextidnumber`, not both")
            }
            (Some(id), None) => match Categories::get(txn, id as u64)? {
                Some(category) => Ok(Some(category)),
                None => fail!("`ccatcontext`: no category with id = {id}"),
            },
            (None, Some(idnumber)) => match Categories::by_idnumber(txn, idnumber)? {
                Some(category) => Ok(Some(category)),
                None => fail!("`ccatcontextidnumber`: no category with idnumber = {idnumber}"),
            },
        }
    }

    fn leave(
        &self,
        txn: &mut Txn<'_>,
        cohort: &Cohort,
        user: &User,
        subject: &str,
    ) -> Result<Outcome, RowError> {
        match Cohorts::remove_member(txn, cohort, user.id, self.now)? {
            None => Ok(Outcome::unchanged(subject).note("not a member")),
            Some(synced) => Ok(with_synced(
                Outcome::deleted(subject).note(format!("{} left", user.username)),
                synced,
            )),
        }
    }

    fn delete(
        &self,
        txn: &mut Txn<'_>,
        cohort: &Cohort,
        subject: &str,
    ) -> Result<Outcome, RowError> {
        if !self.allow_cohort_delete {
            fail!("`del` without `userid` deletes the cohort, and allow_cohort_delete is off");
        }
        let gone = Cohorts::delete(txn, cohort, self.now)?;
        let mut outcome = Outcome::deleted(subject).note(format!(
            "cohort `{}` deleted with {} and {}",
            cohort.name,
            counted(gone.members, "member", "members"),
            counted(gone.bindings, "course binding", "course bindings")
        ));
        if gone.enrolments > 0 {
            outcome = outcome.note(format!(
                "{} removed",
                counted(gone.enrolments, "enrolment", "enrolments")
            ));
        }
        Ok(outcome)
    }
}

/// The outcome with what the change carried to the bound courses, if anything.
pub(crate) fn with_synced(outcome: Outcome, synced: Synced) -> Outcome {
    if synced.is_empty() {
        outcome
    } else {
        outcome.note(synced.describe())
    }
}

/// A cohort as the change list compares it.
fn fields(cohort: &Cohort) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(cohort) {
        Ok(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    }
}

#[cfg(test)]
mod tests;
