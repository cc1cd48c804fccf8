//! Bronze document -> validated, typed, flattened player and team rows.
//!
//! Pure: no I/O, no clock. The same bytes always give the same rows in the same order.

use std::collections::BTreeSet;
use std::fmt::Display;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A bronze document that cannot be processed at all (as opposed to invalid records in it,
/// which are quarantined). The message fails, is retried, and reaches the DLQ.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("bronze document is not valid JSON")]
    NotJson(#[source] serde_json::Error),
    #[error("bronze document is not `{{\"date\": \"YYYY-MM-DD\", \"games\": [...]}}`")]
    Shape(#[source] serde_json::Error),
    #[error("bronze document date `{0}` is not YYYY-MM-DD")]
    BadDate(String),
    #[error("bronze document is for {document} but its key is for {key}")]
    DateMismatch { document: NaiveDate, key: NaiveDate },
}

/// Why a record was quarantined, from most to least fundamental.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// Not a box score: missing fields, wrong types, unreadable minutes.
    Schema,
    /// The same game twice in one date's document.
    Duplicate,
    /// Contradicts itself: home = away, a tie, player sums differ from team totals.
    Consistency,
    /// Breaks an arithmetic rule: made > attempted, rebounds != offensive + defensive, negative counts.
    Invariant,
    /// Implausible value: player points > 100, minutes > 70, team points outside 60..200.
    Range,
}

/// One rule a record breaks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    pub classification: Classification,
    pub reason: String,
}

/// A game that failed validation, with the original record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quarantined {
    /// Position in the document's `games`.
    pub index: usize,
    pub game_id: Option<String>,
    /// The most fundamental classification among the issues.
    pub classification: Classification,
    pub issues: Vec<Issue>,
    pub record: Value,
}

/// Counting statistics shared by player and team rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub points: i32,
    pub field_goals_made: i32,
    pub field_goals_attempted: i32,
    pub three_pointers_made: i32,
    pub three_pointers_attempted: i32,
    pub free_throws_made: i32,
    pub free_throws_attempted: i32,
    pub rebounds_offensive: i32,
    pub rebounds_defensive: i32,
    pub rebounds_total: i32,
    pub assists: i32,
    pub steals: i32,
    pub blocks: i32,
    pub turnovers: i32,
    pub fouls_personal: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlayerRow {
    pub game_date: NaiveDate,
    pub season: String,
    pub game_id: String,
    pub team_id: i64,
    pub team_tricode: String,
    pub opponent_team_id: i64,
    pub is_home: bool,
    pub player_id: i64,
    pub player_name: String,
    pub first_name: String,
    pub family_name: String,
    /// `None` for bench players (the API sends an empty string).
    pub position: Option<String>,
    pub starter: bool,
    pub played: bool,
    pub minutes: f64,
    pub counts: Counts,
    pub plus_minus: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TeamRow {
    pub game_date: NaiveDate,
    pub season: String,
    pub game_id: String,
    pub team_id: i64,
    pub team_city: String,
    pub team_name: String,
    pub team_tricode: String,
    pub team_slug: String,
    pub is_home: bool,
    pub opponent_team_id: i64,
    pub opponent_points: i32,
    pub win: bool,
    pub minutes: f64,
    pub counts: Counts,
    pub plus_minus: f64,
}

/// The result of transforming one date's bronze document.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformed {
    pub date: NaiveDate,
    pub season: String,
    pub games: usize,
    pub players: Vec<PlayerRow>,
    pub teams: Vec<TeamRow>,
    pub quarantined: Vec<Quarantined>,
}

/// The season a date belongs to: `2024-01-15` -> `2023-24`, `2024-10-22` -> `2024-25`.
/// Seasons start on 1 July (after the finals and the draft).
pub fn season_of(date: NaiveDate) -> String {
    let start = if date.month() >= 7 { date.year() } else { date.year() - 1 };
    format!("{start}-{:02}", (start + 1).rem_euclid(100))
}

/// Minutes as `MM:SS` (`36:24`, `240:00`), ISO-8601 durations (`PT36M24S`, `PT36M24.00S`,
/// `PT1H2M`), or empty for a player who did not play.
pub fn parse_minutes(text: &str) -> Option<f64> {
    let text = text.trim();
    if text.is_empty() {
        return Some(0.0);
    }
    if let Some(mut rest) = text.strip_prefix("PT") {
        if rest.is_empty() {
            return None;
        }
        let mut minutes = 0.0;
        for (unit, factor) in [('H', 60.0), ('M', 1.0), ('S', 1.0 / 60.0)] {
            if let Some(i) = rest.find(unit) {
                let n: f64 = rest[..i].parse().ok().filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
                minutes += n * factor;
                rest = &rest[i + 1..];
            }
        }
        return rest.is_empty().then_some(minutes);
    }
    let (m, s) = text.split_once(':')?;
    let m: u32 = m.parse().ok()?;
    let s: f64 = s.parse().ok().filter(|s: &f64| (0.0..60.0).contains(s))?;
    Some(f64::from(m) + s / 60.0)
}

#[derive(Deserialize)]
struct Document {
    date: String,
    games: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BoxScore {
    game_id: String,
    home_team: Team,
    away_team: Team,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Team {
    team_id: i64,
    team_city: String,
    team_name: String,
    team_tricode: String,
    #[serde(default)]
    team_slug: String,
    players: Vec<Player>,
    statistics: Statistics,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Player {
    person_id: i64,
    first_name: String,
    family_name: String,
    #[serde(default)]
    position: Option<String>,
    statistics: Statistics,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Statistics {
    #[serde(default)]
    minutes: Option<String>,
    points: i64,
    field_goals_made: i64,
    field_goals_attempted: i64,
    three_pointers_made: i64,
    three_pointers_attempted: i64,
    free_throws_made: i64,
    free_throws_attempted: i64,
    rebounds_offensive: i64,
    rebounds_defensive: i64,
    rebounds_total: i64,
    assists: i64,
    steals: i64,
    blocks: i64,
    turnovers: i64,
    fouls_personal: i64,
    #[serde(default)]
    plus_minus_points: f64,
}

const PLAYER_MAX_POINTS: i64 = 100;
const PLAYER_MAX_MINUTES: f64 = 70.0;
const TEAM_POINTS: std::ops::RangeInclusive<i64> = 60..=200;

fn issue(classification: Classification, reason: String) -> Issue {
    Issue { classification, reason }
}

/// How an issue names a team: formatted only when there is an issue.
struct TeamName<'a>(&'a Team);

impl Display for TeamName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "team {} ({})", self.0.team_tricode, self.0.team_id)
    }
}

/// How an issue names a player (and the player's team).
struct PlayerName<'a>(&'a Player, &'a Team);

impl Display for PlayerName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (p, team) = (self.0, self.1);
        write!(f, "player {} {} ({}) of {}", p.first_name, p.family_name, p.person_id, team.team_tricode)
    }
}

/// Checks the arithmetic rules of one statistics block and converts it.
fn check_counts(who: &dyn Display, s: &Statistics, issues: &mut Vec<Issue>) -> Counts {
    let named = [
        ("points", s.points),
        ("fieldGoalsMade", s.field_goals_made),
        ("fieldGoalsAttempted", s.field_goals_attempted),
        ("threePointersMade", s.three_pointers_made),
        ("threePointersAttempted", s.three_pointers_attempted),
        ("freeThrowsMade", s.free_throws_made),
        ("freeThrowsAttempted", s.free_throws_attempted),
        ("reboundsOffensive", s.rebounds_offensive),
        ("reboundsDefensive", s.rebounds_defensive),
        ("reboundsTotal", s.rebounds_total),
        ("assists", s.assists),
        ("steals", s.steals),
        ("blocks", s.blocks),
        ("turnovers", s.turnovers),
        ("foulsPersonal", s.fouls_personal),
    ];
    for (name, value) in named {
        if value < 0 {
            issues.push(issue(Classification::Invariant, format!("{who}: {name} is negative ({value})")));
        } else if value > i64::from(i32::MAX) {
            issues.push(issue(Classification::Range, format!("{who}: {name} is too large ({value})")));
        }
    }
    let pairs = [
        ("fieldGoalsMade", s.field_goals_made, "fieldGoalsAttempted", s.field_goals_attempted),
        ("threePointersMade", s.three_pointers_made, "threePointersAttempted", s.three_pointers_attempted),
        ("freeThrowsMade", s.free_throws_made, "freeThrowsAttempted", s.free_throws_attempted),
        ("threePointersMade", s.three_pointers_made, "fieldGoalsMade", s.field_goals_made),
        ("threePointersAttempted", s.three_pointers_attempted, "fieldGoalsAttempted", s.field_goals_attempted),
    ];
    for (a, x, b, y) in pairs {
        if x > y {
            issues.push(issue(Classification::Invariant, format!("{who}: {a} {x} > {b} {y}")));
        }
    }
    // The feed's numbers are any JSON integers: sums are checked (an overflow is a mismatch, never a
    // panic or a wrapped value).
    if s.rebounds_offensive.checked_add(s.rebounds_defensive) != Some(s.rebounds_total) {
        issues.push(issue(
            Classification::Invariant,
            format!(
                "{who}: reboundsTotal {} != reboundsOffensive {} + reboundsDefensive {}",
                s.rebounds_total, s.rebounds_offensive, s.rebounds_defensive
            ),
        ));
    }
    let expected = s
        .field_goals_made
        .checked_mul(2)
        .and_then(|v| v.checked_add(s.three_pointers_made))
        .and_then(|v| v.checked_add(s.free_throws_made));
    if expected != Some(s.points) {
        let expected = expected.map_or("out of range".to_string(), |v| v.to_string());
        issues.push(issue(
            Classification::Invariant,
            format!("{who}: points {} != 2 x FGM + 3PM + FTM = {expected}", s.points),
        ));
    }
    let c = |v: i64| i32::try_from(v).unwrap_or(0);
    Counts {
        points: c(s.points),
        field_goals_made: c(s.field_goals_made),
        field_goals_attempted: c(s.field_goals_attempted),
        three_pointers_made: c(s.three_pointers_made),
        three_pointers_attempted: c(s.three_pointers_attempted),
        free_throws_made: c(s.free_throws_made),
        free_throws_attempted: c(s.free_throws_attempted),
        rebounds_offensive: c(s.rebounds_offensive),
        rebounds_defensive: c(s.rebounds_defensive),
        rebounds_total: c(s.rebounds_total),
        assists: c(s.assists),
        steals: c(s.steals),
        blocks: c(s.blocks),
        turnovers: c(s.turnovers),
        fouls_personal: c(s.fouls_personal),
    }
}

fn minutes_of(who: &dyn Display, s: &Statistics, issues: &mut Vec<Issue>) -> f64 {
    let text = s.minutes.as_deref().unwrap_or("");
    match parse_minutes(text) {
        Some(m) => m,
        None => {
            issues.push(issue(Classification::Schema, format!("{who}: minutes `{text}` are neither MM:SS nor PT#M#S")));
            0.0
        }
    }
}

/// Validates one game and flattens it into two team rows and its player rows.
fn game_rows(date: NaiveDate, season: &str, bs: &BoxScore) -> Result<(Vec<TeamRow>, Vec<PlayerRow>), Vec<Issue>> {
    let mut issues = Vec::new();
    if bs.game_id.trim().is_empty() {
        issues.push(issue(Classification::Schema, "gameId is empty".into()));
    }
    let (home, away) = (&bs.home_team, &bs.away_team);
    if home.team_id == away.team_id {
        issues.push(issue(Classification::Consistency, format!("home team = away team ({})", home.team_id)));
    }
    if home.statistics.points == away.statistics.points {
        issues.push(issue(Classification::Consistency, format!("tie at {} points", home.statistics.points)));
    }
    let mut teams = Vec::new();
    let mut players = Vec::new();
    for (team, opponent, is_home) in [(home, away, true), (away, home, false)] {
        let who = TeamName(team);
        if !TEAM_POINTS.contains(&team.statistics.points) {
            issues.push(issue(
                Classification::Range,
                format!(
                    "{who}: points {} outside {}..={}",
                    team.statistics.points,
                    TEAM_POINTS.start(),
                    TEAM_POINTS.end()
                ),
            ));
        }
        let counts = check_counts(&who, &team.statistics, &mut issues);
        let minutes = minutes_of(&who, &team.statistics, &mut issues);
        let mut sum = 0i64;
        let mut seen = BTreeSet::new();
        for p in &team.players {
            let pwho = PlayerName(p, team);
            if !seen.insert(p.person_id) {
                issues.push(issue(Classification::Duplicate, format!("{pwho} appears twice")));
            }
            sum = sum.saturating_add(p.statistics.points);
            let pcounts = check_counts(&pwho, &p.statistics, &mut issues);
            if p.statistics.points > PLAYER_MAX_POINTS {
                issues.push(issue(
                    Classification::Range,
                    format!("{pwho}: points {} > {PLAYER_MAX_POINTS}", p.statistics.points),
                ));
            }
            let pminutes = minutes_of(&pwho, &p.statistics, &mut issues);
            if pminutes > PLAYER_MAX_MINUTES {
                issues.push(issue(
                    Classification::Range,
                    format!("{pwho}: minutes {pminutes:.1} > {PLAYER_MAX_MINUTES}"),
                ));
            }
            let position = p.position.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
            players.push(PlayerRow {
                game_date: date,
                season: season.to_string(),
                game_id: bs.game_id.clone(),
                team_id: team.team_id,
                team_tricode: team.team_tricode.clone(),
                opponent_team_id: opponent.team_id,
                is_home,
                player_id: p.person_id,
                player_name: format!("{} {}", p.first_name, p.family_name).trim().to_string(),
                first_name: p.first_name.clone(),
                family_name: p.family_name.clone(),
                starter: position.is_some(),
                position,
                played: pminutes > 0.0,
                minutes: pminutes,
                counts: pcounts,
                plus_minus: p.statistics.plus_minus_points,
            });
        }
        if sum != team.statistics.points {
            issues.push(issue(
                Classification::Consistency,
                format!("{who}: player points sum to {sum}, team points are {}", team.statistics.points),
            ));
        }
        teams.push(TeamRow {
            game_date: date,
            season: season.to_string(),
            game_id: bs.game_id.clone(),
            team_id: team.team_id,
            team_city: team.team_city.clone(),
            team_name: team.team_name.clone(),
            team_tricode: team.team_tricode.clone(),
            team_slug: team.team_slug.clone(),
            is_home,
            opponent_team_id: opponent.team_id,
            opponent_points: i32::try_from(opponent.statistics.points).unwrap_or(0),
            win: team.statistics.points > opponent.statistics.points,
            minutes,
            counts,
            plus_minus: team.statistics.plus_minus_points,
        });
    }
    if issues.is_empty() { Ok((teams, players)) } else { Err(issues) }
}

/// A bronze document whose games are all API responses (`{"boxScoreTraditional": {...}}`), parsed
/// straight into the typed box scores (no `serde_json::Value` tree).
#[derive(Deserialize)]
struct TypedDocument {
    date: String,
    games: Vec<Response>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    box_score_traditional: BoxScore,
}

/// The common case without building a `Value` tree: every game a well-formed API response, no
/// game quarantined. `None` when anything differs (a game of another shape, an invalid or duplicate
/// game, a document that does not parse this way): [`transform`] then takes the general path, which
/// keeps each quarantined game's original record. Both give the same rows when this one succeeds.
fn transform_typed(bytes: &[u8], key_date: NaiveDate) -> Option<Transformed> {
    let doc: TypedDocument = serde_json::from_slice(bytes).ok()?;
    let date = NaiveDate::parse_from_str(&doc.date, "%Y-%m-%d").ok().filter(|d| *d == key_date)?;
    let season = season_of(date);
    let mut out = Transformed::empty(date, &season, doc.games.len());
    let mut game_ids = BTreeSet::new();
    for game in &doc.games {
        let bs = &game.box_score_traditional;
        if !game_ids.insert(bs.game_id.as_str()) {
            return None;
        }
        let (teams, players) = game_rows(date, &season, bs).ok()?;
        out.teams.extend(teams);
        out.players.extend(players);
    }
    sort_rows(&mut out);
    Some(out)
}

impl Transformed {
    fn empty(date: NaiveDate, season: &str, games: usize) -> Self {
        Self {
            date,
            season: season.to_string(),
            games,
            players: Vec::new(),
            teams: Vec::new(),
            quarantined: Vec::new(),
        }
    }
}

/// A stable order whatever the order of the games in the document.
fn sort_rows(out: &mut Transformed) {
    out.teams.sort_by(|a, b| (&a.game_id, !a.is_home).cmp(&(&b.game_id, !b.is_home)));
    out.players.sort_by(|a, b| (&a.game_id, !a.is_home, a.player_id).cmp(&(&b.game_id, !b.is_home, b.player_id)));
}

/// Transforms the bronze document of `key_date` (the date in its key).
pub fn transform(bytes: &[u8], key_date: NaiveDate) -> Result<Transformed, TransformError> {
    match transform_typed(bytes, key_date) {
        Some(out) => Ok(out),
        None => transform_general(bytes, key_date),
    }
}

/// Every document: each game parsed on its own, invalid games quarantined with their record.
fn transform_general(bytes: &[u8], key_date: NaiveDate) -> Result<Transformed, TransformError> {
    let value: Value = serde_json::from_slice(bytes).map_err(TransformError::NotJson)?;
    let doc: Document = serde_json::from_value(value).map_err(TransformError::Shape)?;
    let date =
        NaiveDate::parse_from_str(&doc.date, "%Y-%m-%d").map_err(|_| TransformError::BadDate(doc.date.clone()))?;
    if date != key_date {
        return Err(TransformError::DateMismatch { document: date, key: key_date });
    }
    let season = season_of(date);
    let mut out = Transformed::empty(date, &season, doc.games.len());
    let mut game_ids = BTreeSet::new();
    for (index, record) in doc.games.into_iter().enumerate() {
        // The raw API response (`{"boxScoreTraditional": {...}}`) or the box score itself.
        let inner = record.get("boxScoreTraditional").unwrap_or(&record);
        let game_id = inner.get("gameId").and_then(Value::as_str).map(str::to_string);
        let result = match BoxScore::deserialize(inner) {
            Err(e) => Err(vec![issue(Classification::Schema, e.to_string())]),
            Ok(bs) if !game_ids.insert(bs.game_id.clone()) => {
                Err(vec![issue(Classification::Duplicate, format!("game {} appears more than once", bs.game_id))])
            }
            Ok(bs) => game_rows(date, &season, &bs),
        };
        match result {
            Ok((teams, players)) => {
                out.teams.extend(teams);
                out.players.extend(players);
            }
            Err(issues) => {
                let classification = issues.iter().map(|i| i.classification).min().unwrap_or(Classification::Schema);
                out.quarantined.push(Quarantined { index, game_id, classification, issues, record });
            }
        }
    }
    sort_rows(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoopstat_fixtures::{Corruption, Generator};

    #[test]
    fn the_typed_path_gives_what_the_general_path_gives() {
        let g = Generator::new(11);
        for (i, day) in g.season(2024).into_iter().step_by(20).enumerate() {
            let bytes = day.to_bronze();
            let typed = transform_typed(&bytes, day.date).expect("a valid day takes the typed path");
            let general = transform_general(&bytes, day.date).expect("general");
            assert_eq!(typed, general, "day {i} ({})", day.date);
            assert!(!typed.players.is_empty());
        }
        // A corrupted day (quarantine needs each game's record) takes the general path.
        let date = NaiveDate::from_ymd_opt(2025, 1, 15).expect("date");
        let day = g.day(date, 5);
        let bytes = day.to_bronze_with(&[(1, Corruption::ALL[0])]);
        assert!(transform_typed(&bytes, date).is_none());
        assert_eq!(transform(&bytes, date).expect("transform").quarantined.len(), 1);
        // So does a document of another date than its key's.
        assert!(transform_typed(&day.to_bronze(), date.succ_opt().expect("date")).is_none());
    }

    /// Counts at the ends of the JSON integers quarantine their game; no sum overflows.
    #[test]
    fn extreme_counts_quarantine_the_game_without_overflow() {
        let date = NaiveDate::from_ymd_opt(2025, 1, 15).expect("date");
        let day = Generator::new(3).day(date, 3);
        for (field, value) in [
            ("reboundsOffensive", i64::MAX),
            ("fieldGoalsMade", i64::MAX),
            ("points", i64::MAX),
            ("freeThrowsMade", i64::MIN),
            ("reboundsDefensive", i64::MIN),
        ] {
            let mut doc: serde_json::Value = serde_json::from_slice(&day.to_bronze()).expect("json");
            let bs = &mut doc["games"][1]["boxScoreTraditional"]["homeTeam"];
            bs["players"][0]["statistics"][field] = serde_json::json!(value);
            bs["players"][1]["statistics"][field] = serde_json::json!(value);
            let bytes = serde_json::to_vec(&doc).expect("bytes");
            let out = transform(&bytes, date).expect("a bad game is quarantined, not a failed document");
            assert_eq!(out.quarantined.len(), 1, "{field} = {value}");
            assert_eq!(out.teams.len(), 4, "{field} = {value}: the other two games are kept");
        }
    }
}
