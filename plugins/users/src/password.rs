//! Passwords (formats.md §3.6 "Passwords"): stored only as bcrypt `$2y$` hashes.
//!
//! Hashing and verifying cost ~2^cost rounds each, so they run in `prepare`, which the host
//! spreads over every core; `prepare` sees the store as it was before the current chunk of rows,
//! so what it computed is used by `apply` only if the account's hash is still the one it saw.
//! Otherwise (an earlier row of the chunk changed the hash, or `prepare` did not run) `apply`
//! verifies and hashes itself. Only hashes cross from `prepare` to `apply`.
//!
//! The clear password is never copied into an error, a message, a log line or a `Debug`
//! output: [`Secret`] holds it and prints nothing.

use bcrypt::Version;
use toolsync_plugin_api::model::{PasswordState, User};
use toolsync_plugin_api::values::check_text;
use toolsync_plugin_api::{fail, Derived, RowError};

/// The value that forbids password log-in.
pub const NOPASS: &str = "*NOPASS*";

/// bcrypt reads at most 72 bytes; a longer password would be cut silently, so it fails.
const MAX_BYTES: usize = 72;

/// `Derived` key: `verified` (the stored hash verifies the password) or `hash:<new hash>`.
const PREPARED: &str = "password";
/// `Derived` key: the stored hash `prepare` saw (empty for none).
const SEEN: &str = "password_seen";

/// A clear password from the file. Its `Debug` shows nothing.
#[derive(Clone, Copy)]
pub struct Secret<'a>(&'a str);

impl std::fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// What a row's `password` cell asks for.
#[derive(Debug, Clone, Copy)]
pub enum Request<'a> {
    /// Absent or empty: creation marks "to be created", an update leaves the password.
    Keep,
    /// `*NOPASS*`: password log-in forbidden.
    Nologin,
    Set(Secret<'a>),
}

/// Reads the `password` cell. Errors never quote it.
pub fn request(cell: Option<&str>) -> Result<Request<'_>, RowError> {
    match cell {
        None | Some("") => Ok(Request::Keep),
        Some(NOPASS) => Ok(Request::Nologin),
        Some(secret) => {
            if secret.len() > MAX_BYTES {
                fail!(
                    "`password`: {} bytes of UTF-8, at most {MAX_BYTES} (bcrypt would cut the rest)",
                    secret.len()
                );
            }
            // The message names the control character's code point, never the value.
            check_text(secret, usize::MAX)
                .map_err(|why| RowError::new(format!("`password`: {why}")))?;
            Ok(Request::Set(Secret(secret)))
        }
    }
}

/// The hash an account's password is checked against, if it has one.
pub fn stored_hash(user: &User) -> Option<&str> {
    match user.password_state {
        PasswordState::Hashed => user.password_hash.as_deref(),
        PasswordState::ToBeCreated | PasswordState::Nologin => None,
    }
}

/// Sets a new password state on an account.
pub fn set(user: &mut User, state: PasswordState, hash: Option<String>) {
    user.password_state = state;
    user.password_hash = hash;
}

/// `prepare`'s part: verify against the stored hash, or hash anew, and note which stored hash
/// that was for.
pub fn prepare(secret: Secret<'_>, stored: Option<&str>, cost: u32, derived: &mut Derived) {
    derived.insert(SEEN, stored.unwrap_or_default().to_string());
    if stored.is_some_and(|hash| verifies(secret, hash)) {
        derived.insert(PREPARED, "verified".into());
    } else if let Ok(hash) = hash(secret, cost) {
        derived.insert(PREPARED, format!("hash:{hash}"));
    }
}

/// What a password value does to an account that has `stored`.
#[derive(Debug, PartialEq, Eq)]
pub enum Settled {
    /// The stored hash already verifies it.
    Unchanged,
    Hashed(String),
}

/// `apply`'s part: uses `prepare`'s result when the stored hash is still the one it saw,
/// else checks again here.
pub fn settle(
    secret: Secret<'_>,
    stored: Option<&str>,
    derived: &Derived,
    cost: u32,
) -> Result<Settled, RowError> {
    let prepared = derived.get(PREPARED);
    let new_hash = prepared.and_then(|p| p.strip_prefix("hash:"));
    if derived.get(SEEN) == Some(stored.unwrap_or_default()) {
        if prepared == Some("verified") {
            return Ok(Settled::Unchanged);
        }
        if let Some(hash) = new_hash {
            return Ok(Settled::Hashed(hash.to_string()));
        }
    }
    if stored.is_some_and(|hash| verifies(secret, hash)) {
        return Ok(Settled::Unchanged);
    }
    match new_hash {
        Some(hash) => Ok(Settled::Hashed(hash.to_string())),
        None => hash(secret, cost).map(Settled::Hashed),
    }
}

/// A new `$2y$` hash (the prefix PHP and the platform write) with a random salt.
fn hash(secret: Secret<'_>, cost: u32) -> Result<String, RowError> {
    bcrypt::hash_with_result(secret.0, cost)
        .map(|parts| parts.format_for_version(Version::TwoY))
        .map_err(|e| RowError::new(format!("`password` could not be hashed: {e}")))
}

/// A hash the store holds but bcrypt cannot read verifies nothing: the password is replaced.
fn verifies(secret: Secret<'_>, hash: &str) -> bool {
    bcrypt::verify(secret.0, hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COST: u32 = 4;

    fn secret(s: &str) -> Secret<'_> {
        Secret(s)
    }

    #[test]
    fn cells() {
        assert!(matches!(request(None), Ok(Request::Keep)));
        assert!(matches!(request(Some("")), Ok(Request::Keep)));
        assert!(matches!(request(Some(NOPASS)), Ok(Request::Nologin)));
        assert!(matches!(
            request(Some(&"é".repeat(36))),
            Ok(Request::Set(_))
        ));
        let long = "é".repeat(37);
        let err = request(Some(&long)).unwrap_err();
        assert!(
            err.reason.contains("74 bytes") && !err.reason.contains(&long),
            "{}",
            err.reason
        );
        let err = request(Some("bell\u{7}secret")).unwrap_err();
        assert!(!err.reason.contains("secret"), "{}", err.reason);
        assert_eq!(
            format!("{:?}", request(Some("hunter2")).unwrap()),
            "Set(Secret(…))"
        );
    }

    #[test]
    fn hashes_are_2y_at_the_cost_and_verify() {
        let h = hash(secret("pw"), COST).unwrap();
        assert!(h.starts_with("$2y$04$"), "{h}");
        assert!(verifies(secret("pw"), &h));
        assert!(!verifies(secret("pW"), &h));
        assert!(!verifies(secret("pw"), "not a hash"));
    }

    #[test]
    fn prepared_results_are_used_only_for_the_hash_they_saw() {
        let old = hash(secret("old"), COST).unwrap();
        let other = hash(secret("other"), COST).unwrap();

        // prepare saw `old`, which verifies: trusted while `old` is still stored.
        let mut d = Derived::default();
        prepare(secret("old"), Some(&old), COST, &mut d);
        assert_eq!(
            settle(secret("old"), Some(&old), &d, COST).unwrap(),
            Settled::Unchanged
        );
        // An earlier row stored `other`: checked again, and "old" no longer verifies.
        assert!(matches!(
            settle(secret("old"), Some(&other), &d, COST).unwrap(),
            Settled::Hashed(_)
        ));

        // prepare saw no account and hashed; an earlier row created it with this password.
        let mut d = Derived::default();
        prepare(secret("new"), None, COST, &mut d);
        let Settled::Hashed(h) = settle(secret("new"), None, &d, COST).unwrap() else {
            panic!("a new hash")
        };
        assert!(verifies(secret("new"), &h));
        assert_eq!(
            settle(secret("new"), Some(&h), &d, COST).unwrap(),
            Settled::Unchanged
        );

        // Without prepare, apply does the work.
        let none = Derived::default();
        assert_eq!(
            settle(secret("old"), Some(&old), &none, COST).unwrap(),
            Settled::Unchanged
        );
        assert!(matches!(
            settle(secret("x"), Some(&old), &none, COST).unwrap(),
            Settled::Hashed(_)
        ));
    }
}
