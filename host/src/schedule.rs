//! Schedules: a processor's `schedule` option, a cron expression (croner) read on the wall
//! clock of its `timezone` option.
//!
//! Five fields are the crontab's (`0 2 * * *`: every night at 02:00); six start with seconds
//! (`*/10 * * * * *`). croner searches the wall clock ([`Wall`]: seconds counted as if the zone
//! were UTC); the wall-clock time found becomes an instant through the zone: a time that a
//! daylight-saving change skips is skipped (cron's usual choice is the same), a time it repeats
//! fires once, at its first occurrence.

use std::cmp::Ordering;

use croner::errors::CronError;
use croner::parser::{CronParser, Seconds};
use croner::{CivilDateTime, CronDateTime, Resolution, Weekday};
use toolsync_plugin_api::time::{civil, days_from_civil};

use crate::clock::Zone;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: croner::Cron,
    zone: Zone,
    pub text: String,
}

impl Schedule {
    /// Parses `text` (5 or 6 fields, or `@daily`, `@hourly`…) for clocks of `zone`.
    pub fn parse(text: &str, zone: Zone) -> Result<Schedule, String> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(text.trim())
            .map_err(|e| format!("`{text}` is not a cron expression: {e}"))?;
        Ok(Schedule {
            cron,
            zone,
            text: text.trim().to_string(),
        })
    }

    /// The first instant strictly after `after` (Unix seconds) at which the schedule fires;
    /// `None` when it never does again (a date that never comes).
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let start = Wall(after + self.zone.offset(after));
        let mut wall = start;
        // Wall-clock times in a daylight-saving gap (an hour at most) are skipped, as is a
        // repeated hour's second pass: a schedule of every second may need many candidates,
        // so the search is bounded by time (two days past the start), not by count.
        while wall.0 <= start.0 + 2 * 86_400 {
            wall = self.cron.find_next_occurrence(&wall, false).ok()?;
            if let Some(instant) = self.zone.local_to_instant(wall.0) {
                if instant > after {
                    return Some(instant);
                }
            }
        }
        // Nothing in two days: the next time, whenever it comes, without the gap rule.
        self.cron
            .find_next_occurrence(&wall, false)
            .ok()
            .map(|w| w.0 - self.zone.offset(w.0))
    }
}

/// Wall-clock seconds: a date and time with no zone, counted from 1970-01-01 00:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wall(i64);

impl CronDateTime for Wall {
    fn to_civil(&self) -> CivilDateTime {
        let (y, mo, d, h, mi, s) = civil(self.0);
        CivilDateTime::from_ymd_hms_opt(y as i32, mo, d, h, mi, s)
            .expect("civil() gives a real date and time")
    }

    fn civil_weekday(&self) -> Weekday {
        // 1970-01-01 was a Thursday.
        let days = self.0.div_euclid(86_400);
        Weekday::from_days_from_sunday((days + 4).rem_euclid(7) as u32)
    }

    fn resolve_civil(&self, c: CivilDateTime) -> Result<Resolution<Self>, CronError> {
        let days = days_from_civil(i64::from(c.year()), c.month(), c.day());
        let secs = i64::from(c.hour() * 3600 + c.minute() * 60 + c.second());
        Ok(Resolution::Single(Wall(days * 86_400 + secs)))
    }

    fn checked_add_seconds(&self, seconds: i64) -> Option<Self> {
        self.0.checked_add(seconds).map(Wall)
    }

    fn cmp_instant(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-02T23:54:06Z, a Wednesday.
    const NOW: i64 = 1_796_255_646;

    #[test]
    fn five_fields_fire_on_the_minute_and_six_on_the_second() {
        let nightly = Schedule::parse("0 2 * * *", Zone::default()).unwrap();
        // The next 02:00 UTC is on Thursday 3 December.
        assert_eq!(nightly.next_after(NOW), Some(1_796_263_200));
        let every_second = Schedule::parse("* * * * * *", Zone::default()).unwrap();
        assert_eq!(every_second.next_after(NOW), Some(NOW + 1));
        let mondays = Schedule::parse("30 6 * * MON", Zone::default()).unwrap();
        // Monday 7 December 2026, 06:30 UTC.
        assert_eq!(mondays.next_after(NOW), Some(1_796_625_000));
        assert!(Schedule::parse("61 * * * *", Zone::default()).is_err());
        assert!(Schedule::parse("every night", Zone::default()).is_err());
    }

    #[test]
    fn a_zone_moves_the_wall_clock() {
        let Ok(paris) = Zone::parse("Europe/Paris") else {
            panic!("the system's tz database has Europe/Paris");
        };
        let nightly = Schedule::parse("0 2 * * *", paris).unwrap();
        // 02:00 in Paris in December is 01:00 UTC.
        assert_eq!(nightly.next_after(NOW), Some(1_796_263_200 - 3600));
        // 2027-03-28: 02:00 does not happen in Paris (clocks go from 02:00 to 03:00): the
        // schedule skips that night, and fires on the 29th at 02:00 CEST (00:00 UTC).
        let before_the_change = 1_806_192_000; // 2027-03-28T00:00:00Z
        assert_eq!(nightly.next_after(before_the_change), Some(1_806_278_400));
        // Every minute across the change: 01:59 CET is followed by 03:00 CEST (01:00 UTC).
        let every_minute =
            Schedule::parse("* * * * *", Zone::parse("Europe/Paris").unwrap()).unwrap();
        let before_the_gap = 1_806_195_540; // 2027-03-28T00:59:00Z, 01:59 CET
        assert_eq!(
            every_minute.next_after(before_the_gap),
            Some(before_the_gap + 60)
        );
        // The night before, 02:00 CET is 01:00 UTC.
        assert_eq!(
            nightly.next_after(before_the_change - 86_400),
            Some(1_806_109_200)
        );
    }
}
