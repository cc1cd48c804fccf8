//! The season state object: per date of a season, the [`DayTotals`] of its silver rows, with the
//! entity tags (ETags) of the two silver objects they were computed from. It is a cache of silver,
//! validated against a listing of the season's silver objects on every use; see the crate
//! documentation for the design.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::DayTotals;

/// The format written into [`SeasonState::format`]; another value is not read (the state is rebuilt).
pub const STATE_FORMAT: u32 = 1;

/// One date of the state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateEntry {
    /// ETag of the `player_stats` object the totals were computed from.
    pub player_stats: String,
    /// ETag of the `team_stats` object.
    pub team_stats: String,
    pub totals: DayTotals,
}

/// The per-date totals of one season (`{"format": 1, "season": "2024-25", "dates": {"2024-10-22": ...}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeasonState {
    pub format: u32,
    pub season: String,
    /// By date, `YYYY-MM-DD` (so in date order).
    pub dates: BTreeMap<String, DateEntry>,
}

/// A state object that cannot be used (it is then rebuilt from silver, not trusted).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("not a season state document")]
    Json(#[from] serde_json::Error),
    #[error("format {found}, this stage reads format {STATE_FORMAT}")]
    Format { found: u32 },
    #[error("state of season {found}, stored under season {expected}")]
    Season { expected: String, found: String },
    #[error("date key `{0}` is not YYYY-MM-DD of the season")]
    Date(String),
}

/// The date of a [`SeasonState::dates`] key.
pub fn date_key(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

impl SeasonState {
    pub fn new(season: &str) -> Self {
        Self { format: STATE_FORMAT, season: season.to_string(), dates: BTreeMap::new() }
    }

    /// Parses a stored state of `season`; every date key must be a date of that season.
    pub fn parse(bytes: &[u8], season: &str) -> Result<Self, StateError> {
        let state: Self = serde_json::from_slice(bytes)?;
        if state.format != STATE_FORMAT {
            return Err(StateError::Format { found: state.format });
        }
        if state.season != season {
            return Err(StateError::Season { expected: season.into(), found: state.season });
        }
        for key in state.dates.keys() {
            match NaiveDate::parse_from_str(key, "%Y-%m-%d") {
                Ok(d) if silver_processing::season_of(d) == season && date_key(d) == *key => {}
                _ => return Err(StateError::Date(key.clone())),
            }
        }
        Ok(state)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // A map with string keys and plain values cannot fail to serialize.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The entries before `date`, in date order.
    pub fn before(&self, date: NaiveDate) -> impl Iterator<Item = (NaiveDate, &DayTotals)> {
        let key = date_key(date);
        self.dates
            .range(..key)
            .filter_map(|(k, e)| NaiveDate::parse_from_str(k, "%Y-%m-%d").ok().map(|d| (d, &e.totals)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: i64) -> DateEntry {
        DateEntry {
            player_stats: format!("\"p{n}\""),
            team_stats: format!("\"t{n}\""),
            totals: DayTotals { players: vec![(n, 1, 20, 15, 4)], teams: vec![(1, 100, 98, 101.5f64.to_bits())] },
        }
    }

    #[test]
    fn round_trip_and_validation() {
        let mut state = SeasonState::new("2024-25");
        state.dates.insert("2024-10-23".into(), entry(2));
        state.dates.insert("2024-10-22".into(), entry(1));
        let bytes = state.to_bytes();
        assert_eq!(SeasonState::parse(&bytes, "2024-25").expect("parse"), state);
        let first = NaiveDate::from_ymd_opt(2024, 10, 23).expect("date");
        assert_eq!(state.before(first).map(|(d, _)| date_key(d)).collect::<Vec<_>>(), ["2024-10-22"]);
        assert!(matches!(SeasonState::parse(&bytes, "2023-24"), Err(StateError::Season { .. })));
        assert!(matches!(SeasonState::parse(b"{\"format\": 2}", "2024-25"), Err(StateError::Json(_))));
        let mut other = state.clone();
        other.format = 2;
        assert!(matches!(SeasonState::parse(&other.to_bytes(), "2024-25"), Err(StateError::Format { found: 2 })));
        let mut outside = state.clone();
        outside.dates.insert("2025-08-01".into(), entry(3));
        assert!(matches!(SeasonState::parse(&outside.to_bytes(), "2024-25"), Err(StateError::Date(_))));
        assert!(matches!(SeasonState::parse(b"not json", "2024-25"), Err(StateError::Json(_))));
    }
}
