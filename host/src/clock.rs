//! Wall-clock formatting: RFC 3339 UTC instants for the reports, and `YYYYMMDD-HHMMSS` stamps
//! for output names in the run's `timezone` option. The zones and the calendar arithmetic are
//! the plugin API's ([`toolsync_plugin_api::time`]), which plugins share for their date cells.

use std::ops::Deref;
use std::time::{SystemTime, UNIX_EPOCH};

use toolsync_plugin_api::time::{self, civil};

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `2026-11-21T19:38:00Z`
pub fn rfc3339(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// The instant of a report's `2026-11-21T19:38:00Z` (any RFC 3339 offset).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    time::parse_date(text, &time::Zone::utc()).ok()
}

/// The instant of an output name's `20261121-193800` stamp, read as UTC (stamps are in the
/// run's `timezone`, which the name does not say: off by that zone's offset at most).
pub fn parse_stamp(stamp: &str) -> Option<i64> {
    let shaped = stamp.len() == 15
        && stamp.bytes().enumerate().all(|(i, b)| {
            if i == 8 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| stamp.get(range)?.parse::<u32>().ok();
    let (y, mo, d) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (h, mi, s) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    if stamp.as_bytes().get(8) != Some(&b'-') || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let days = time::days_from_civil(i64::from(y), mo, d);
    Some(days * 86_400 + i64::from(h * 3600 + mi * 60 + s))
}

/// `20261121-193800`
fn stamp(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

/// The `timezone` option as the host uses it: the plugin API's [`time::Zone`] (everything of
/// which it derefs to) plus the output names' stamps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Zone(time::Zone);

impl Zone {
    /// UTC, or an IANA zone from the system's tz database ([`time::Zone::parse`]).
    pub fn parse(name: &str) -> Result<Zone, String> {
        time::Zone::parse(name).map(Zone)
    }

    /// `YYYYMMDD-HHMMSS` in this zone.
    pub fn stamp(&self, secs: i64) -> String {
        stamp(secs + self.offset(secs))
    }
}

impl Deref for Zone {
    type Target = time::Zone;

    fn deref(&self) -> &time::Zone {
        &self.0
    }
}

impl From<time::Zone> for Zone {
    fn from(zone: time::Zone) -> Zone {
        Zone(zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_788_220_800), "2026-09-01T00:00:00Z");
        assert_eq!(stamp(951_782_400), "20000229-000000");
        assert_eq!(parse_stamp("20000229-000000"), Some(951_782_400));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_stamp("2000022-000000"), None);
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn stamps_follow_the_zone() {
        let utc = Zone::parse("UTC").unwrap();
        assert_eq!(utc.stamp(1_788_220_800), "20260901-000000");
        if std::path::Path::new("/usr/share/zoneinfo/Europe/Paris").exists() {
            let paris = Zone::parse("Europe/Paris").unwrap();
            assert_eq!(paris.stamp(1_788_220_800), "20260901-020000", "summer time");
            assert_eq!(paris.stamp(1_767_225_600), "20260101-010000", "winter time");
            assert_eq!(
                paris.name(),
                "Europe/Paris",
                "the API's zone, through Deref"
            );
        }
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert!(Zone::parse("../../etc/passwd").is_err());
    }
}
