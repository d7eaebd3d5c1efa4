//! Wall-clock formatting: RFC 3339 UTC instants for the reports, and `YYYYMMDD-HHMMSS` stamps
//! for output names in the run's `timezone` option (IANA names read from the system's tz
//! database by tz-rs; the calendar arithmetic is the small function below).

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// (year, month, day, hour, minute, second) in UTC.
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3_600) as u32,
        (rem % 3_600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// `2026-11-21T19:38:00Z`
pub fn rfc3339(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `20261121-193800`
fn stamp(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

/// The `timezone` option: UTC, or an IANA zone from the system's tz database.
#[derive(Debug, Clone)]
pub struct Zone {
    tz: Option<tz::TimeZone>,
}

impl Zone {
    pub fn parse(name: &str) -> Result<Zone, String> {
        if name.eq_ignore_ascii_case("utc") || name == "Etc/UTC" {
            return Ok(Zone { tz: None });
        }
        if name.is_empty() || name.starts_with(['/', '.']) || name.contains("..") {
            return Err(format!(
                "`{name}` is not an IANA time zone name (e.g. Europe/Paris)"
            ));
        }
        tz::TimeZone::from_posix_tz(name)
            .map(|tz| Zone { tz: Some(tz) })
            .map_err(|e| format!("`{name}` is not a time zone known to this system ({e})"))
    }

    /// Seconds east of UTC at that instant.
    pub fn offset(&self, secs: i64) -> i64 {
        self.tz
            .as_ref()
            .and_then(|tz| tz.find_local_time_type(secs).ok())
            .map_or(0, |t| i64::from(t.ut_offset()))
    }

    /// `YYYYMMDD-HHMMSS` in this zone.
    pub fn stamp(&self, secs: i64) -> String {
        stamp(secs + self.offset(secs))
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
        }
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert!(Zone::parse("../../etc/passwd").is_err());
    }
}
