//! What a scheduled Lambda stage is invoked with, and which date a run is for.
//!
//! The generated schedule invokes the function with `{"scheduled_time": "<aws.scheduler.scheduled-time>"}`:
//! EventBridge Scheduler fills in the instant the run was due (`2024-01-16T09:30:00Z`), the same in each of
//! its retries and in Lambda's retries of the invocation, so a run retried after midnight still works on
//! the date it was due for. `pipewright replay` and `pipewright run-local` invoke it with `{"date":
//! "YYYY-MM-DD"}`: a run for that date (a back-fill, a re-run). A failed run's payload lands in the stage's
//! dead-letter queue as it was, so `pipewright dlq redrive` runs the same date again.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

/// The payload field of a run due at a scheduled instant.
pub const SCHEDULED_TIME: &str = "scheduled_time";
/// The payload field of a run for a given date.
pub const DATE: &str = "date";
/// The context attribute EventBridge Scheduler replaces with the run's scheduled time.
pub const SCHEDULED_TIME_ATTRIBUTE: &str = "<aws.scheduler.scheduled-time>";

/// One invocation of a scheduled stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduledRun {
    /// `{"date": "YYYY-MM-DD"}`: a run for that date.
    Date(NaiveDate),
    /// `{"scheduled_time": "..."}`: the schedule's run due at that instant.
    Due(DateTime<Utc>),
}

/// A payload that says neither which date nor when the run was due.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error(
        "the payload names no run: invoke the stage with {{\"date\": \"YYYY-MM-DD\"}} (or {{\"scheduled_time\": \"2024-01-16T09:30:00Z\"}}, as its schedule does)"
    )]
    Missing,
    #[error("the payload has both `date` and `scheduled_time`: a run is for one date")]
    Both,
    #[error("`date` is {0}, not a date (YYYY-MM-DD)")]
    Date(String),
    #[error(
        "`scheduled_time` is {0}, not an RFC 3339 instant (the schedule's input must be {{\"scheduled_time\": \"<aws.scheduler.scheduled-time>\"}})"
    )]
    Time(String),
}

impl ScheduledRun {
    /// Reads an invocation's payload.
    pub fn from_payload(payload: &Value) -> Result<ScheduledRun, RunError> {
        let field = |name| payload.get(name).filter(|v| !v.is_null());
        match (field(DATE), field(SCHEDULED_TIME)) {
            (None, None) => Err(RunError::Missing),
            (Some(_), Some(_)) => Err(RunError::Both),
            (Some(date), None) => {
                let text = date.as_str().ok_or_else(|| RunError::Date(date.to_string()))?;
                let parsed =
                    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| RunError::Date(date.to_string()))?;
                // Exactly `YYYY-MM-DD`: the date becomes part of keys.
                if parsed.format("%Y-%m-%d").to_string() != text {
                    return Err(RunError::Date(date.to_string()));
                }
                Ok(ScheduledRun::Date(parsed))
            }
            (None, Some(time)) => {
                let text = time.as_str().ok_or_else(|| RunError::Time(time.to_string()))?;
                let due = DateTime::parse_from_rfc3339(text).map_err(|_| RunError::Time(time.to_string()))?;
                Ok(ScheduledRun::Due(due.with_timezone(&Utc)))
            }
        }
    }

    /// The payload of this run: what [`Self::from_payload`] reads back.
    pub fn to_payload(&self) -> Value {
        match self {
            ScheduledRun::Date(d) => serde_json::json!({ DATE: d.format("%Y-%m-%d").to_string() }),
            ScheduledRun::Due(t) => {
                serde_json::json!({ SCHEDULED_TIME: t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_run_for_a_date_or_due_at_an_instant() {
        let date = NaiveDate::from_ymd_opt(2024, 1, 15).expect("date");
        assert_eq!(ScheduledRun::from_payload(&json!({"date": "2024-01-15"})), Ok(ScheduledRun::Date(date)));
        let due = ScheduledRun::from_payload(&json!({"scheduled_time": "2024-01-16T09:30:00Z"})).expect("due");
        let ScheduledRun::Due(t) = due else { panic!("{due:?}") };
        assert_eq!(t.to_rfc3339(), "2024-01-16T09:30:00+00:00");
        // An offset is read as the same instant.
        let offset = ScheduledRun::from_payload(&json!({"scheduled_time": "2024-01-16T04:30:00-05:00"}));
        assert_eq!(offset, Ok(due));
        for run in [ScheduledRun::Date(date), due] {
            assert_eq!(ScheduledRun::from_payload(&run.to_payload()), Ok(run));
        }
    }

    #[test]
    fn the_schedule_input_names_the_scheduled_time() {
        let input: Value = serde_json::from_str(crate::SCHEDULE_INPUT).expect("JSON");
        assert_eq!(input, json!({ SCHEDULED_TIME: SCHEDULED_TIME_ATTRIBUTE }));
        // As Scheduler delivers it, with the attribute replaced.
        let delivered = crate::SCHEDULE_INPUT.replace(SCHEDULED_TIME_ATTRIBUTE, "2024-01-16T09:30:00Z");
        let run = ScheduledRun::from_payload(&serde_json::from_str(&delivered).expect("JSON"));
        assert!(matches!(run, Ok(ScheduledRun::Due(_))), "{run:?}");
    }

    #[test]
    fn a_payload_that_names_no_single_run_is_refused() {
        let read = ScheduledRun::from_payload;
        assert_eq!(read(&json!({})), Err(RunError::Missing));
        assert_eq!(read(&json!({"date": null})), Err(RunError::Missing));
        assert_eq!(read(&json!({"date": "2024-01-15", "scheduled_time": "2024-01-16T09:30:00Z"})), Err(RunError::Both));
        assert!(matches!(read(&json!({"date": "2024-1-5"})), Err(RunError::Date(_))));
        assert!(matches!(read(&json!({"date": 20240115})), Err(RunError::Date(_))));
        // The context attribute left unreplaced: the schedule's input reached the stage as written.
        assert!(matches!(read(&json!({"scheduled_time": SCHEDULED_TIME_ATTRIBUTE})), Err(RunError::Time(_))));
        assert!(RunError::Missing.to_string().contains("{\"date\": \"YYYY-MM-DD\"}"));
    }
}
