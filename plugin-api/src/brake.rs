//! The brake on mass changes: a processor that deletes or empties records counts, in its
//! survey pass (before any row is applied), how many existing records the file would remove,
//! and the file is refused when that is more than `max_delete_ratio` of the existing ones —
//! unless there are fewer than `max_delete_min` of them, or the run has `--force` (then the
//! report says so). A wrong file (last year's export, the wrong column mapped to `deleted`)
//! stops before it empties a platform.
//!
//! A processor declares the two options with [`options`], makes a [`Brake`] in `start`, calls
//! [`Brake::count`] for each record a surveyed row would remove, and returns
//! [`Brake::verdict`] from `survey_verdict` with the number of existing records of that kind.

use std::collections::HashSet;

use crate::txn::StoreRead;
use crate::{OptionSpec, StartContext, StartError};

/// The share of the existing records a file may remove.
pub const RATIO_OPTION: &str = "max_delete_ratio";
/// Below this many removals, the ratio is not applied.
pub const MIN_OPTION: &str = "max_delete_min";

/// The two options, with the defaults of a processor (ratio 0.5; `min` removals before the
/// ratio applies: 10 for most, 1 for course-delete, whose threshold predates the minimum).
pub fn options(min: u64) -> [OptionSpec; 2] {
    [
        OptionSpec::new(
            RATIO_OPTION,
            "0.5",
            "refuse a file that would remove more than this share (0 to 1) of the existing \
             records, unless --force",
        ),
        OptionSpec::new(
            MIN_OPTION,
            &min.to_string(),
            "the ratio applies from this many removals on (fewer always pass)",
        ),
    ]
}

/// How many entries a keyspace holds (one streamed pass): the existing records of a kind, for
/// [`Brake::verdict`].
pub fn entries(store: &impl StoreRead, space: &str) -> crate::txn::StoreResult<u64> {
    let mut count = 0;
    store.for_each(space, b"", &mut |_, _| {
        count += 1;
        Ok(true)
    })?;
    Ok(count)
}

/// Counts what a file would remove, and decides.
pub struct Brake {
    ratio: Ratio,
    min: u64,
    force: bool,
    /// What is counted, plural (`accounts`, `group memberships`).
    what: &'static str,
    /// What the file would remove: distinct keys, bounded by the store's records.
    named: HashSet<Vec<u8>>,
    /// The first store error met while counting: a partial count must not let a file through.
    error: Option<String>,
    /// How the removal is said: `remove`, `removing` (course-delete: `delete`, `deleting`).
    verb: (&'static str, &'static str),
}

impl Brake {
    /// The brake of a run, from its options; `what` names the records counted, plural.
    pub fn new(ctx: &StartContext, what: &'static str) -> Result<Brake, StartError> {
        let ratio = Ratio::parse(ctx.option(RATIO_OPTION))
            .map_err(|e| StartError::BadOption(format!("option `{RATIO_OPTION}`: {e}").into()))?;
        let min = ctx.option(MIN_OPTION).trim().parse::<u64>().map_err(|_| {
            StartError::BadOption(
                format!(
                    "option `{MIN_OPTION}`: `{}` is not a whole number of records",
                    ctx.option(MIN_OPTION)
                )
                .into(),
            )
        })?;
        Ok(Brake {
            ratio,
            min,
            force: ctx.force,
            what,
            named: HashSet::new(),
            error: None,
            verb: ("remove", "removing"),
        })
    }

    /// Says the removal with another verb and its `-ing` form (`delete`, `deleting`).
    pub fn said_as(mut self, verb: &'static str, gerund: &'static str) -> Brake {
        self.verb = (verb, gerund);
        self
    }

    /// A record the file would remove (counted once, whatever the rows that name it).
    pub fn count(&mut self, key: impl Into<Vec<u8>>) {
        self.named.insert(key.into());
    }

    /// Whether `key` is counted already.
    pub fn counted(&self, key: &[u8]) -> bool {
        self.named.contains(key)
    }

    /// A store error met while counting (the first is kept).
    pub fn failed(&mut self, line: u64, error: impl std::fmt::Display) {
        if self.error.is_none() {
            self.error = Some(format!("line {line}: {error}"));
        }
    }

    /// The outcome of counting one row: a store error stops the count (the file is then
    /// refused: a partial count must not let it through); any other error is the row's own,
    /// which fails it when applied, and counts nothing.
    pub fn settle(&mut self, line: u64, counted: Result<(), crate::RowError>) {
        if let Err(e) = counted {
            if e.reason.starts_with(crate::abi::protocol::STORE_FAILURE) {
                self.failed(line, e.reason);
            }
        }
    }

    /// Whether counting met a store error (no more counting is worth it).
    pub fn has_failed(&self) -> bool {
        self.error.is_some()
    }

    /// How many records the file would remove.
    pub fn removals(&self) -> u64 {
        self.named.len() as u64
    }

    /// The verdict of `survey_verdict`: refused over the ratio of the `existing` records (from
    /// `min` removals on), a note when `--force` lets it through. `existing` counts them only
    /// when the removals reach `min` (counting may read a whole keyspace).
    pub fn verdict<E: std::fmt::Display>(
        &self,
        existing: impl FnOnce() -> Result<u64, E>,
    ) -> Result<Option<String>, StartError> {
        let (what, (verb, gerund)) = (self.what, self.verb);
        if let Some(e) = &self.error {
            return Err(StartError::Refused(
                format!("the store could not be read while counting the {what} to {verb}: {e}")
                    .into(),
            ));
        }
        let found = self.removals();
        if found == 0 || found < self.min {
            return Ok(None);
        }
        let existing = existing().map_err(|e| {
            StartError::Refused(
                format!("the store could not be read to count its {what}: {e}").into(),
            )
        })?;
        if existing == 0 || !self.ratio.exceeded(found, existing) {
            return Ok(None);
        }
        let ratio = self.ratio;
        let limit = ratio.times(existing);
        if !self.force {
            return Err(StartError::Refused(
                format!(
                    "the file would {verb} {found} of the {existing} {what} in the store (more \
                     than {RATIO_OPTION} = {ratio} × {existing} = {limit}); check the file, or \
                     run with --force"
                )
                .into(),
            ));
        }
        Ok(Some(format!(
            "--force: {gerund} {found} of {existing} {what}, over {RATIO_OPTION} = {ratio} \
             ({ratio} × {existing} = {limit})"
        )))
    }
}

/// `max_delete_ratio`: a decimal number from 0 to 1, kept exact (`num / 10^scale`) so that a
/// count equal to the limit always passes, whatever the binary rounding of `0.1 × 30`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    num: u64,
    scale: u32,
}

impl Ratio {
    /// At most this many decimals (10^18 still fits a u64).
    const MAX_SCALE: u32 = 18;

    /// `0.5`, `.5`, `1`, `1.0`, `0` … (decimal digits, one optional `.`).
    pub fn parse(text: &str) -> Result<Ratio, String> {
        let text = text.trim();
        let bad = || format!("`{text}` is not a number from 0 to 1 (e.g. 0.5)");
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return Err(bad());
        }
        let frac = frac.trim_end_matches('0');
        let int = int.trim_start_matches('0');
        if frac.len() > Self::MAX_SCALE as usize {
            return Err(format!("`{text}`: at most {} decimals", Self::MAX_SCALE));
        }
        let scale = frac.len() as u32;
        let ratio = match int {
            "" => Ratio {
                num: if frac.is_empty() {
                    0
                } else {
                    frac.parse().map_err(|_| bad())?
                },
                scale,
            },
            "1" if frac.is_empty() => Ratio { num: 1, scale: 0 },
            _ => return Err(format!("`{text}` is over 1: the ratio goes from 0 to 1")),
        };
        Ok(ratio)
    }

    /// Whether `count` is more than this ratio of `total`.
    pub fn exceeded(self, count: u64, total: u64) -> bool {
        u128::from(count) * 10u128.pow(self.scale) > u128::from(self.num) * u128::from(total)
    }

    /// This ratio × `total`, exactly, as a decimal (`3.5`, `5`).
    pub fn times(self, total: u64) -> String {
        decimal(u128::from(self.num) * u128::from(total), self.scale)
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&decimal(u128::from(self.num), self.scale))
    }
}

/// `value / 10^scale` written in decimal, without trailing zeros.
fn decimal(value: u128, scale: u32) -> String {
    let unit = 10u128.pow(scale);
    let (int, frac) = (value / unit, value % unit);
    if frac == 0 {
        return int.to_string();
    }
    let frac = format!("{frac:0width$}", width = scale as usize);
    format!("{int}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_parse_exactly() {
        for (text, shown) in [
            ("0.5", "0.5"),
            (".5", "0.5"),
            ("0.50", "0.5"),
            ("1", "1"),
            ("1.000", "1"),
            ("0", "0"),
            ("0.0", "0"),
            ("00.25", "0.25"),
            (" 0.1 ", "0.1"),
        ] {
            assert_eq!(Ratio::parse(text).unwrap().to_string(), shown, "{text}");
        }
        for bad in [
            "", ".", "-0.5", "1.5", "2", "0,5", "5e-1", "abc", "0.5.1", "50%",
        ] {
            assert!(Ratio::parse(bad).is_err(), "{bad}");
        }
        let tenth = Ratio::parse("0.1").unwrap();
        assert!(!tenth.exceeded(3, 30), "0.1 × 30 is exactly 3");
        assert!(tenth.exceeded(4, 30));
        assert_eq!(tenth.times(30), "3");
        assert_eq!(Ratio::parse("0.5").unwrap().times(7), "3.5");
        assert_eq!(Ratio::parse("0.333").unwrap().times(10), "3.33");
    }
}
