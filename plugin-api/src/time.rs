//! Calendar and time zones: the run's `timezone` option ([`Zone`]: UTC or an IANA zone read from
//! the system's tz database by tz-rs), the civil calendar ([`civil`], [`days_from_civil`]), and
//! the date cells of formats.md §2.5 ([`parse_date`]).
//!
//! Instants are Unix seconds (`i64`), as the store keeps them; `0` means "no date".

/// The latest instant a date cell may name: 9999-12-31T23:59:59Z.
pub const MAX_SECS: i64 = 253_402_300_799;

/// The `timezone` option: UTC, or an IANA zone from the system's tz database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    name: String,
    tz: Option<tz::TimeZone>,
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::utc()
    }
}

impl Zone {
    /// UTC, the option's default.
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".to_string(),
            tz: None,
        }
    }

    /// `UTC` (any case) or `Etc/UTC`, else an IANA name such as `Europe/Paris`.
    pub fn parse(name: &str) -> Result<Zone, String> {
        if name.eq_ignore_ascii_case("utc") || name == "Etc/UTC" {
            return Ok(Zone::utc());
        }
        if name.is_empty() || name.starts_with(['/', '.']) || name.contains("..") {
            return Err(format!(
                "`{name}` is not an IANA time zone name (e.g. Europe/Paris)"
            ));
        }
        tz::TimeZone::from_posix_tz(name)
            .map(|tz| Zone {
                name: name.to_string(),
                tz: Some(tz),
            })
            .map_err(|e| format!("`{name}` is not a time zone known to this system ({e})"))
    }

    /// The name it was parsed from (`UTC` for the UTC spellings).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Seconds east of UTC at that instant.
    pub fn offset(&self, secs: i64) -> i64 {
        self.tz
            .as_ref()
            .and_then(|tz| tz.find_local_time_type(secs).ok())
            .map_or(0, |t| i64::from(t.ut_offset()))
    }

    /// The instant at which this zone's clocks show `wall` (wall-clock seconds counted as if
    /// the wall clock were UTC). `None` inside a daylight-saving gap; in a repeated hour, the
    /// first occurrence (the earlier instant).
    pub fn local_to_instant(&self, wall: i64) -> Option<i64> {
        // Offsets change at most once within a day around any wall-clock time, so the instant,
        // if any, is wall minus the offset in force a day before or a day after.
        let before = wall - self.offset(wall - 86_400);
        let after = wall - self.offset(wall + 86_400);
        [before, after]
            .into_iter()
            .filter(|&c| c + self.offset(c) == wall)
            .min()
    }
}

/// (year, month, day, hour, minute, second) in UTC of Unix seconds.
pub fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
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

/// Days since 1970-01-01 of that day of the proleptic Gregorian calendar (the inverse of
/// [`civil`]; month 1..=12, day 1..=31, not checked against the month's length).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Howard Hinnant's days-from-civil algorithm.
    let (month, day) = (i64::from(month), i64::from(day));
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A date cell (formats.md §2.5) as Unix seconds, wall-clock forms read in `zone`:
///
/// | form | example | meaning |
/// |---|---|---|
/// | `YYYY-MM-DD` | `2026-09-01` | 00:00:00 that day |
/// | `YYYY-MM-DD hh:mm[:ss]` (`T` allowed for the space) | `2026-09-01 08:30` | that wall-clock time |
/// | ISO 8601 with offset (`Z`, `+hh:mm`, `+hhmm`, `+hh`) | `2026-09-01T08:30:00+02:00` | that instant |
/// | integer | `1788220800` | Unix seconds, 1 to [`MAX_SECS`] |
/// | `0` | `0` | no date: `Ok(0)` |
///
/// Fractions of seconds (`08:30:00.123`) are dropped. A wall-clock time inside a daylight-saving
/// gap fails; a repeated hour takes its first occurrence. Every other form gives an instant in
/// 1..=[`MAX_SECS`] or fails (so `1970-01-01` in UTC, which would be the "no date" 0, fails).
/// The value is expected trimmed (§2.5 trims cells before conversion). Errors quote the value.
pub fn parse_date(value: &str, zone: &Zone) -> Result<i64, String> {
    if value.is_empty() {
        return Err("an empty value is not a date".to_string());
    }
    let bytes = value.as_bytes();
    if bytes.iter().all(u8::is_ascii_digit) {
        return match value.parse::<i64>() {
            Ok(0) => Ok(0),
            Ok(secs) if secs <= MAX_SECS => Ok(secs),
            _ => Err(format!(
                "`{value}` is out of range (Unix seconds 1 to {MAX_SECS}, or 0 for no date)"
            )),
        };
    }
    if bytes[0] == b'-' && bytes.len() > 1 && bytes[1..].iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "`{value}` is not a date (Unix seconds cannot be negative; 0 means no date)"
        ));
    }
    let fields = fields(bytes).ok_or_else(|| not_a_date(value))?;
    let Fields {
        year,
        month,
        day,
        hour,
        minute,
        second,
        offset,
    } = fields;
    if !(1..=12).contains(&month) {
        return Err(not_a_date(value));
    }
    let days = days_in_month(year, month);
    if !(1..=days).contains(&day) {
        return Err(format!(
            "`{value}` is not a date ({year:04}-{month:02} has {days} days)"
        ));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!(
            "`{value}` is not a time of day (00:00:00 to 23:59:59)"
        ));
    }
    let wall =
        days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3_600 + minute * 60 + second);
    let secs = match offset {
        Some(Offset::Bad) => {
            return Err(format!(
                "`{value}` has an invalid UTC offset (Z, +hh:mm, +hhmm or +hh, up to 23:59)"
            ))
        }
        Some(Offset::East(east)) => wall - east,
        None => zone.local_to_instant(wall).ok_or_else(|| {
            format!(
                "`{value}` does not exist in {} (daylight-saving gap)",
                zone.name()
            )
        })?,
    };
    if !(1..=MAX_SECS).contains(&secs) {
        return Err(format!(
            "`{value}` is out of range (1970-01-01T00:00:01Z to 9999-12-31T23:59:59Z)"
        ));
    }
    Ok(secs)
}

fn not_a_date(value: &str) -> String {
    format!(
        "`{value}` is not a date (YYYY-MM-DD, YYYY-MM-DD hh:mm[:ss], ISO 8601 with offset, \
         or Unix seconds)"
    )
}

struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    offset: Option<Offset>,
}

enum Offset {
    /// Seconds east of UTC.
    East(i64),
    /// Well-formed but out of range (minutes over 59, hours over 23).
    Bad,
}

/// The shape `YYYY-MM-DD[( |T)hh:mm[:ss[.f+]][Z|±hh[[:]mm]]]`, ranges unchecked (but the
/// offset's); `None` when the value has another shape.
fn fields(bytes: &[u8]) -> Option<Fields> {
    let mut c = Cursor { bytes, pos: 0 };
    let year = i64::from(c.digits(4)?);
    c.expect(b'-')?;
    let month = c.digits(2)?;
    c.expect(b'-')?;
    let day = c.digits(2)?;
    let mut fields = Fields {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        offset: None,
    };
    if c.done() {
        return Some(fields);
    }
    if !(c.eat(b' ') || c.eat(b'T')) {
        return None;
    }
    fields.hour = c.digits(2)?;
    c.expect(b':')?;
    fields.minute = c.digits(2)?;
    if c.eat(b':') {
        fields.second = c.digits(2)?;
        if c.eat(b'.') {
            // Fractions of seconds: at least one digit, dropped.
            c.digits(1)?;
            while c.digits(1).is_some() {}
        }
    }
    if c.done() {
        return Some(fields);
    }
    fields.offset = Some(if c.eat(b'Z') {
        Offset::East(0)
    } else {
        let sign = if c.eat(b'+') {
            1
        } else if c.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = c.digits(2)?;
        let minutes = if c.done() {
            0
        } else {
            c.eat(b':');
            c.digits(2)?
        };
        if hours > 23 || minutes > 59 {
            Offset::Bad
        } else {
            Offset::East(sign * i64::from(hours * 3_600 + minutes * 60))
        }
    });
    c.done().then_some(fields)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.bytes.get(self.pos) == Some(&byte);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// Exactly `n` ASCII digits.
    fn digits(&mut self, n: usize) -> Option<u32> {
        let run = self.bytes.get(self.pos..self.pos + n)?;
        if !run.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += n;
        Some(run.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Europe/Paris from the system's tz database, or, where there is none, its POSIX rule
    /// (the same transitions since 1996), so that the daylight-saving cases always run.
    fn paris() -> Zone {
        Zone::parse("Europe/Paris")
            .or_else(|_| Zone::parse("CET-1CEST,M3.5.0,M10.5.0/3"))
            .unwrap()
    }

    fn utc(value: &str) -> Result<i64, String> {
        parse_date(value, &Zone::utc())
    }

    fn err(value: &str, zone: &Zone) -> String {
        let e = parse_date(value, zone).expect_err(value);
        assert!(e.contains(&format!("`{value}`")), "{e} quotes the value");
        e
    }

    #[test]
    fn civil_known_days_and_round_trip() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_788_220_800), (2026, 9, 1, 0, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(civil(MAX_SECS), (9999, 12, 31, 23, 59, 59));
        assert_eq!(civil(-1), (1969, 12, 31, 23, 59, 59));
        for days in (-800_000..3_000_000).step_by(997) {
            let (y, m, d, ..) = civil(days * 86_400);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn zones() {
        let utc = Zone::parse("UTC").unwrap();
        assert_eq!(utc.name(), "UTC");
        assert_eq!(utc, Zone::default());
        assert_eq!(Zone::parse("utc").unwrap().name(), "UTC");
        assert_eq!(Zone::parse("Etc/UTC").unwrap().offset(1_788_220_800), 0);
        let paris = paris();
        assert_eq!(paris.offset(1_788_220_800), 7_200, "summer time");
        assert_eq!(paris.offset(1_767_225_600), 3_600, "winter time");
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert!(Zone::parse("../../etc/passwd").is_err());
        assert!(Zone::parse("").is_err());
        if std::path::Path::new("/usr/share/zoneinfo/Europe/Paris").exists() {
            assert_eq!(Zone::parse("Europe/Paris").unwrap().name(), "Europe/Paris");
        }
    }

    #[test]
    fn every_form_in_utc() {
        assert_eq!(utc("2026-09-01"), Ok(1_788_220_800));
        assert_eq!(utc("2026-09-01 08:30"), Ok(1_788_251_400));
        assert_eq!(utc("2026-09-01T08:30"), Ok(1_788_251_400));
        assert_eq!(utc("2026-09-01 08:30:15"), Ok(1_788_251_415));
        assert_eq!(utc("2026-09-01T08:30:00Z"), Ok(1_788_251_400));
        assert_eq!(utc("2026-09-01T08:30:00+02:00"), Ok(1_788_244_200));
        assert_eq!(utc("1788220800"), Ok(1_788_220_800));
        assert_eq!(utc("0"), Ok(0));
        assert_eq!(utc("2024-02-29"), Ok(1_709_164_800), "leap day");
        assert_eq!(utc("2000-02-29 00:00"), Ok(951_782_400));
    }

    #[test]
    fn offsets() {
        let at = 1_788_251_400; // 2026-09-01T08:30:00Z
        let paris = paris();
        for (value, secs) in [
            ("2026-09-01T08:30:00Z", at),
            ("2026-09-01T10:30:00+02:00", at),
            ("2026-09-01T10:30:00+0200", at),
            ("2026-09-01T10:30:00+02", at),
            ("2026-09-01T10:30+02:00", at),
            ("2026-09-01 10:30:00+02:00", at),
            ("2026-09-01T03:00:00-05:30", at),
            ("2026-09-01T03:00:00-0530", at),
            ("2026-09-01T08:30:00+00:00", at),
            ("2026-09-01T08:30:00-00", at),
            ("2026-09-01T23:59:00+23:59", 1_788_220_800),
        ] {
            assert_eq!(utc(value), Ok(secs), "{value}");
            assert_eq!(
                parse_date(value, &paris),
                Ok(secs),
                "{value}: the zone is ignored"
            );
        }
        for value in ["2026-09-01T08:30:00+24:00", "2026-09-01T08:30:00+02:60"] {
            assert!(err(value, &paris).contains("offset"), "{value}");
        }
        for value in [
            "2026-09-01T08:30:00+2",
            "2026-09-01T08:30:00+020",
            "2026-09-01T08:30:00+02:0",
            "2026-09-01T08:30:00+02:00:00",
            "2026-09-01T08:30:00 +02:00",
            "2026-09-01T08:30:00z",
            "2026-09-01T08:30:00UTC",
            "2026-09-01+02:00",
            "2026-09-01Z",
        ] {
            assert!(err(value, &paris).contains("is not a date ("), "{value}");
        }
    }

    #[test]
    fn fractions_are_dropped() {
        assert_eq!(utc("2026-09-01T08:30:00.999Z"), Ok(1_788_251_400));
        assert_eq!(
            utc("2026-09-01T08:30:59.123456789+00:00"),
            Ok(1_788_251_459)
        );
        assert_eq!(utc("2026-09-01 08:30:15.5"), Ok(1_788_251_415));
        assert_eq!(
            parse_date("2026-09-01 08:30:15.5", &paris()),
            Ok(1_788_251_415 - 7_200)
        );
        let utc_zone = Zone::utc();
        for value in [
            "2026-09-01T08:30:00.Z",
            "2026-09-01T08:30.5Z",
            "2026-09-01 08:30:00.",
            "2026-09-01 08:30:00,5",
        ] {
            err(value, &utc_zone);
        }
    }

    #[test]
    fn integer_bounds() {
        assert_eq!(utc("1"), Ok(1));
        assert_eq!(utc("253402300799"), Ok(MAX_SECS));
        assert_eq!(utc("0"), Ok(0));
        assert_eq!(
            parse_date("1788220800", &paris()),
            Ok(1_788_220_800),
            "no zone"
        );
        let zone = Zone::utc();
        for value in ["253402300800", "99999999999999999999999"] {
            assert!(err(value, &zone).contains("out of range"), "{value}");
        }
        for value in ["-1", "-1788220800"] {
            assert!(err(value, &zone).contains("negative"), "{value}");
        }
        for value in [
            "+1788220800",
            "1e9",
            "1788220800.5",
            " 1788220800",
            "-",
            "1 788",
        ] {
            err(value, &zone);
        }
    }

    #[test]
    fn other_forms_stay_in_range() {
        assert_eq!(utc("1970-01-01 00:00:01"), Ok(1));
        assert_eq!(utc("9999-12-31 23:59:59"), Ok(MAX_SECS));
        assert_eq!(utc("9999-12-31T23:59:59.9Z"), Ok(MAX_SECS));
        let zone = Zone::utc();
        for value in [
            "1970-01-01",
            "1969-12-31",
            "0000-01-01",
            "9999-12-31T23:59:59-00:01",
            "1970-01-01T01:00:00+01:00",
        ] {
            assert!(err(value, &zone).contains("out of range"), "{value}");
        }
        // 1970-01-01 01:00 in Paris is midnight UTC, the "no date" 0: refused too.
        assert!(err("1970-01-01 01:00", &paris()).contains("out of range"));
    }

    #[test]
    fn invalid_dates_and_times() {
        let zone = Zone::utc();
        assert_eq!(
            err("2026-13-01", &zone),
            "`2026-13-01` is not a date (YYYY-MM-DD, YYYY-MM-DD hh:mm[:ss], ISO 8601 with \
             offset, or Unix seconds)"
        );
        assert_eq!(
            err("2026-02-30", &zone),
            "`2026-02-30` is not a date (2026-02 has 28 days)"
        );
        assert!(
            err("2026-02-29", &zone).contains("28 days"),
            "2026 is no leap year"
        );
        assert!(err("2100-02-29", &zone).contains("28 days"), "nor is 2100");
        assert!(err("2026-09-31", &zone).contains("30 days"));
        assert!(err("2026-09-00", &zone).contains("30 days"));
        err("2026-00-10", &zone);
        for value in [
            "2026-09-01 24:00",
            "2026-09-01 08:60",
            "2026-09-01 08:30:60",
            "2026-09-01T24:00:00Z",
        ] {
            assert!(err(value, &zone).contains("not a time of day"), "{value}");
        }
        for value in [
            "2026-9-1",
            "2026-09-1",
            "26-09-01",
            "02026-09-01",
            "2026/09/01",
            "01/09/2026",
            "2026-09-01 8:30",
            "2026-09-01 08",
            "2026-09-01 0830",
            "2026-09-01T",
            "2026-09-01 ",
            " 2026-09-01",
            "2026-09-01  08:30",
            "2026-09-01t08:30",
            "2026-09-01_08:30",
            "2026-09-01 08:30:5",
            "2026-09-01 08:30 ",
            "２０２６-09-01",
            "today",
            "now",
        ] {
            assert!(err(value, &zone).contains("is not a date ("), "{value}");
        }
        assert_eq!(utc(""), Err("an empty value is not a date".to_string()));
    }

    #[test]
    fn wall_clocks_in_paris() {
        let paris = paris();
        let p = |v: &str| parse_date(v, &paris);
        assert_eq!(p("2026-09-01"), utc("2026-08-31 22:00"), "summer: +02:00");
        assert_eq!(p("2026-09-01 08:30"), Ok(1_788_244_200));
        assert_eq!(p("2026-09-01T08:30:00"), Ok(1_788_244_200));
        assert_eq!(
            p("2026-01-01 12:00"),
            utc("2026-01-01 11:00"),
            "winter: +01:00"
        );

        // Spring forward on 2026-03-29: 02:00 CET jumps to 03:00 CEST.
        assert_eq!(p("2026-03-29 01:59:59"), utc("2026-03-29 00:59:59"));
        assert_eq!(p("2026-03-29 03:00"), utc("2026-03-29 01:00"));
        for value in [
            "2026-03-29 02:30",
            "2026-03-29 02:00",
            "2026-03-29T02:59:59",
        ] {
            let e = err(value, &paris);
            assert_eq!(
                e,
                format!(
                    "`{value}` does not exist in {} (daylight-saving gap)",
                    paris.name()
                )
            );
        }
        // Its offset form names an instant: fine.
        assert_eq!(p("2026-03-29T02:30:00+01:00"), utc("2026-03-29 01:30"));

        // Fall back on 2026-10-25: 03:00 CEST goes back to 02:00 CET; the repeated hour takes
        // its first occurrence, the +02:00 one.
        assert_eq!(p("2026-10-25 02:30"), utc("2026-10-25 00:30"));
        assert_eq!(p("2026-10-25 02:30"), p("2026-10-25T02:30:00+02:00"));
        assert_eq!(p("2026-10-25 02:00"), utc("2026-10-25 00:00"));
        assert_eq!(p("2026-10-25 01:59:59"), utc("2026-10-24 23:59:59"));
        assert_eq!(
            p("2026-10-25 03:00"),
            utc("2026-10-25 02:00"),
            "after: +01:00"
        );
        assert_eq!(paris.local_to_instant(1_788_251_400), Some(1_788_244_200));
    }
}
