//! Which date to ingest.

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::America::New_York;
use pipewright_stage::schedule::ScheduledRun;

/// Game dates are American: a game belongs to the date on which it tips off in New York.
pub const TIMEZONE: chrono_tz::Tz = New_York;

/// Yesterday in America/New_York at the instant `now` (the date the 04:30 run ingests).
pub fn yesterday_in_new_york(now: DateTime<Utc>) -> NaiveDate {
    let today = now.with_timezone(&TIMEZONE).date_naive();
    today.checked_sub_days(Days::new(1)).unwrap_or(today)
}

/// A date that cannot be ingested yet, or a malformed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error(
        "{date} is not over yet in America/New_York (the latest complete date is {latest}): its games are not final"
    )]
    NotOver { date: NaiveDate, latest: NaiveDate },
    #[error("--from {from} is after --to {to}")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("`{0}` is not a date (YYYY-MM-DD)")]
    Malformed(String),
}

/// The dates `from..=to`, each of them over in New York at `now`.
pub fn dates(from: NaiveDate, to: NaiveDate, now: DateTime<Utc>) -> Result<Vec<NaiveDate>, DateError> {
    if from > to {
        return Err(DateError::Reversed { from, to });
    }
    let latest = yesterday_in_new_york(now);
    if to > latest {
        return Err(DateError::NotOver { date: to, latest });
    }
    Ok(from.iter_days().take_while(|d| *d <= to).collect())
}

/// The date a run ingests: the date it names (over in New York at `now`), or yesterday in New York at
/// the instant the schedule's run was due.
pub fn run_date(run: ScheduledRun, now: DateTime<Utc>) -> Result<NaiveDate, DateError> {
    match run {
        ScheduledRun::Date(date) => {
            dates(date, date, now)?;
            Ok(date)
        }
        ScheduledRun::Due(due) => Ok(yesterday_in_new_york(due)),
    }
}

/// `YYYY-MM-DD` (exactly: `2024-1-5` is refused, since it becomes part of a key).
pub fn parse_date(text: &str) -> Result<NaiveDate, DateError> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| DateError::Malformed(text.to_string()))?;
    if date.format("%Y-%m-%d").to_string() == text { Ok(date) } else { Err(DateError::Malformed(text.to_string())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("instant").to_utc()
    }

    fn d(text: &str) -> NaiveDate {
        parse_date(text).expect("date")
    }

    #[test]
    fn a_retried_scheduled_run_ingests_the_date_it_was_due_for() {
        // Due at 04:30 in New York on the 16th; retried after midnight, the next day.
        let due = ScheduledRun::Due(at("2024-01-16T09:30:00Z"));
        for now in ["2024-01-16T09:30:01Z", "2024-01-17T05:10:00Z"] {
            assert_eq!(run_date(due, at(now)), Ok(d("2024-01-15")));
        }
        assert_eq!(run_date(ScheduledRun::Date(d("2024-01-10")), at("2024-01-17T05:10:00Z")), Ok(d("2024-01-10")));
        assert!(matches!(
            run_date(ScheduledRun::Date(d("2024-01-17")), at("2024-01-17T05:10:00Z")),
            Err(DateError::NotOver { .. })
        ));
    }

    #[test]
    fn yesterday_around_midnight_utc_in_winter() {
        // EST = UTC-5: 00:30 UTC on the 16th is 19:30 on the 15th in New York.
        assert_eq!(yesterday_in_new_york(at("2024-01-16T00:30:00Z")), d("2024-01-14"));
        assert_eq!(yesterday_in_new_york(at("2024-01-16T04:59:59Z")), d("2024-01-14"));
        assert_eq!(yesterday_in_new_york(at("2024-01-16T05:00:00Z")), d("2024-01-15"));
        // The scheduled run: 04:30 New York = 09:30 UTC.
        assert_eq!(yesterday_in_new_york(at("2024-01-16T09:30:00Z")), d("2024-01-15"));
        assert_eq!(yesterday_in_new_york(at("2024-01-15T23:59:59Z")), d("2024-01-14"));
    }

    #[test]
    fn yesterday_around_midnight_utc_in_summer_and_new_year() {
        // EDT = UTC-4.
        assert_eq!(yesterday_in_new_york(at("2024-07-16T03:59:59Z")), d("2024-07-14"));
        assert_eq!(yesterday_in_new_york(at("2024-07-16T04:00:00Z")), d("2024-07-15"));
        assert_eq!(yesterday_in_new_york(at("2025-01-01T02:00:00Z")), d("2024-12-30"));
        assert_eq!(yesterday_in_new_york(at("2025-01-01T05:00:00Z")), d("2024-12-31"));
        // The night the clocks go back (3 November 2024, 02:00 EDT -> 01:00 EST).
        assert_eq!(yesterday_in_new_york(at("2024-11-03T05:30:00Z")), d("2024-11-02"));
        assert_eq!(yesterday_in_new_york(at("2024-11-04T04:30:00Z")), d("2024-11-02"));
        assert_eq!(yesterday_in_new_york(at("2024-11-04T05:00:00Z")), d("2024-11-03"));
    }

    #[test]
    fn ranges_are_inclusive_and_over() {
        let now = at("2024-01-16T09:30:00Z");
        assert_eq!(
            dates(d("2024-01-13"), d("2024-01-15"), now),
            Ok(vec![d("2024-01-13"), d("2024-01-14"), d("2024-01-15")])
        );
        assert_eq!(dates(d("2024-01-15"), d("2024-01-15"), now), Ok(vec![d("2024-01-15")]));
        assert_eq!(
            dates(d("2024-01-15"), d("2024-01-16"), now),
            Err(DateError::NotOver { date: d("2024-01-16"), latest: d("2024-01-15") })
        );
        assert!(matches!(dates(d("2024-01-15"), d("2024-01-14"), now), Err(DateError::Reversed { .. })));
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(parse_date("2024-01-05"), Ok(d("2024-01-05")));
        for bad in ["2024-1-5", "2024-02-30", "15/01/2024", "2024-01-05T00:00:00", ""] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }
}
