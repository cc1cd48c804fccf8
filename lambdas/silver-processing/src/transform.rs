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
    /// Contradicts itself: home = away, a tie, player sums differ from team totals, team minutes that
    /// are not a game's length or differ from the players' sum, points or shots without minutes.
    Consistency,
    /// Breaks an arithmetic rule: made > attempted, rebounds != offensive + defensive, negative counts.
    Invariant,
    /// Impossible value: player points > 100, a player's minutes above the game's length, team points
    /// outside 60..200.
    Range,
}

/// One rule a record breaks: the rule's code (stable, for queries over quarantine reports), its
/// classification, and what exactly is wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    pub code: &'static str,
    pub classification: Classification,
    pub reason: String,
}

/// The rules, by the code an [`Issue`] carries (each is a line of lambdas/README.md).
pub mod code {
    /// Not a box score (missing fields, wrong types).
    pub const SCHEMA: &str = "schema";
    /// `gameId` is empty.
    pub const EMPTY_GAME_ID: &str = "empty_game_id";
    /// Minutes that are neither `MM:SS` nor an ISO-8601 duration.
    pub const MINUTES_FORMAT: &str = "minutes_format";
    /// Two identical copies of a game: the first is kept, the others are quarantined.
    pub const DUPLICATE_GAME: &str = "duplicate_game";
    /// Two copies of a game that differ: every copy is quarantined (which one is right is unknown).
    pub const CONFLICTING_COPIES: &str = "conflicting_copies";
    /// A player twice in a team.
    pub const DUPLICATE_PLAYER: &str = "duplicate_player";
    /// Home team = away team.
    pub const SAME_TEAMS: &str = "same_teams";
    /// Equal points (a game has no ties).
    pub const TIE: &str = "tie";
    /// The players' points do not add up to the team's.
    pub const POINTS_SUM: &str = "points_sum";
    /// A team count (made/attempted field goals, threes, free throws, rebounds, assists, steals, blocks,
    /// turnovers, fouls) differs from the players' sum (rebounds and turnovers may exceed it by the team
    /// rebounds and turnovers a feed credits to no player).
    pub const TEAM_TOTAL: &str = "team_total";
    /// A team's minutes are not 5 x the length of a game (48 minutes plus 5 per overtime period).
    pub const TEAM_MINUTES_LENGTH: &str = "team_minutes_length";
    /// The two teams' minutes give different game lengths.
    pub const TEAM_MINUTES_DIFFER: &str = "team_minutes_differ";
    /// A team's minutes differ from its players' sum by more than a second per player.
    pub const TEAM_MINUTES_SUM: &str = "team_minutes_sum";
    /// A player above the game's length.
    pub const PLAYER_MINUTES: &str = "player_minutes";
    /// Points, field goal or free throw attempts with zero minutes.
    pub const STATS_WITHOUT_MINUTES: &str = "stats_without_minutes";
    /// A negative count.
    pub const NEGATIVE: &str = "negative";
    /// A count beyond 32-bit integers.
    pub const TOO_LARGE: &str = "too_large";
    /// Made above attempted, threes above field goals.
    pub const MADE_ABOVE_ATTEMPTED: &str = "made_above_attempted";
    /// Total rebounds != offensive + defensive.
    pub const REBOUNDS_SUM: &str = "rebounds_sum";
    /// Points != 2 x FGM + 3PM + FTM.
    pub const POINTS_FORMULA: &str = "points_formula";
    /// A player with more than 100 points.
    pub const PLAYER_POINTS: &str = "player_points";
    /// Team points outside 60..=200.
    pub const TEAM_POINTS: &str = "team_points";
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
const TEAM_POINTS: std::ops::RangeInclusive<i64> = 60..=200;
/// A regulation game, and an overtime period, in minutes.
const REGULATION_MINUTES: f64 = 48.0;
const OVERTIME_MINUTES: f64 = 5.0;
/// The feed gives each player's time to the second: a team's minutes may differ from its players' sum by
/// this much per player before it is a mismatch.
const MINUTES_ROUNDING_PER_PLAYER: f64 = 1.0 / 60.0;

fn issue(code: &'static str, classification: Classification, reason: String) -> Issue {
    Issue { code, classification, reason }
}

/// The length of a game in minutes (48 plus 5 per overtime period) whose team played `team_minutes`
/// (5 players on the floor), or `None` when no game has that length.
fn game_length(team_minutes: f64) -> Option<f64> {
    let length = team_minutes / 5.0;
    let overtimes = (length - REGULATION_MINUTES) / OVERTIME_MINUTES;
    (overtimes >= -1e-9 && (overtimes - overtimes.round()).abs() < 1e-6)
        .then(|| REGULATION_MINUTES + OVERTIME_MINUTES * overtimes.round())
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
            issues.push(issue(
                code::NEGATIVE,
                Classification::Invariant,
                format!("{who}: {name} is negative ({value})"),
            ));
        } else if value > i64::from(i32::MAX) {
            issues.push(issue(code::TOO_LARGE, Classification::Range, format!("{who}: {name} is too large ({value})")));
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
            issues.push(issue(
                code::MADE_ABOVE_ATTEMPTED,
                Classification::Invariant,
                format!("{who}: {a} {x} > {b} {y}"),
            ));
        }
    }
    // The feed's numbers are any JSON integers: sums are checked (an overflow is a mismatch, never a
    // panic or a wrapped value).
    if s.rebounds_offensive.checked_add(s.rebounds_defensive) != Some(s.rebounds_total) {
        issues.push(issue(
            code::REBOUNDS_SUM,
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
            code::POINTS_FORMULA,
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
            issues.push(issue(
                code::MINUTES_FORMAT,
                Classification::Schema,
                format!("{who}: minutes `{text}` are neither MM:SS nor PT#M#S"),
            ));
            0.0
        }
    }
}

/// The counts a team total is checked against, with the field's name: `(name, value, may exceed the
/// players' sum)`. Rebounds and turnovers may: a feed can credit team rebounds and team turnovers to
/// no player.
fn team_checked_counts(s: &Statistics) -> [(&'static str, i64, bool); 14] {
    [
        ("fieldGoalsMade", s.field_goals_made, false),
        ("fieldGoalsAttempted", s.field_goals_attempted, false),
        ("threePointersMade", s.three_pointers_made, false),
        ("threePointersAttempted", s.three_pointers_attempted, false),
        ("freeThrowsMade", s.free_throws_made, false),
        ("freeThrowsAttempted", s.free_throws_attempted, false),
        ("reboundsOffensive", s.rebounds_offensive, true),
        ("reboundsDefensive", s.rebounds_defensive, true),
        ("reboundsTotal", s.rebounds_total, true),
        ("assists", s.assists, false),
        ("steals", s.steals, false),
        ("blocks", s.blocks, false),
        ("turnovers", s.turnovers, true),
        ("foulsPersonal", s.fouls_personal, false),
    ]
}

/// Validates one game and flattens it into two team rows and its player rows.
fn game_rows(date: NaiveDate, season: &str, bs: &BoxScore) -> Result<(Vec<TeamRow>, Vec<PlayerRow>), Vec<Issue>> {
    let mut issues = Vec::new();
    if bs.game_id.trim().is_empty() {
        issues.push(issue(code::EMPTY_GAME_ID, Classification::Schema, "gameId is empty".into()));
    }
    let (home, away) = (&bs.home_team, &bs.away_team);
    if home.team_id == away.team_id {
        issues.push(issue(
            code::SAME_TEAMS,
            Classification::Consistency,
            format!("home team = away team ({})", home.team_id),
        ));
    }
    if home.statistics.points == away.statistics.points {
        issues.push(issue(code::TIE, Classification::Consistency, format!("tie at {} points", home.statistics.points)));
    }
    let team_minutes = [home, away].map(|team| minutes_of(&TeamName(team), &team.statistics, &mut issues));
    let game = Game { date, season, bs, length: game_length_of(home, away, team_minutes, &mut issues) };
    let mut teams = Vec::new();
    let mut players = Vec::new();
    for ((team, opponent, is_home), minutes) in [(home, away, true), (away, home, false)].into_iter().zip(team_minutes)
    {
        teams.push(game.team_rows(team, opponent, is_home, minutes, &mut players, &mut issues));
    }
    if issues.is_empty() { Ok((teams, players)) } else { Err(issues) }
}

/// The game's length from its own data: each team's minutes are 5 x (48 + 5 x overtime periods).
fn game_length_of(home: &Team, away: &Team, team_minutes: [f64; 2], issues: &mut Vec<Issue>) -> Option<f64> {
    let lengths = [(home, team_minutes[0]), (away, team_minutes[1])].map(|(team, minutes)| {
        let length = game_length(minutes);
        if length.is_none() {
            issues.push(issue(
                code::TEAM_MINUTES_LENGTH,
                Classification::Consistency,
                format!(
                    "{}: minutes {minutes:.2} are not 5 x a game's length (48 minutes plus 5 per overtime period)",
                    TeamName(team)
                ),
            ));
        }
        length
    });
    match lengths {
        [Some(h), Some(a)] if h != a => {
            issues.push(issue(
                code::TEAM_MINUTES_DIFFER,
                Classification::Consistency,
                format!("the home team's minutes give a {h}-minute game, the away team's a {a}-minute game"),
            ));
            Some(h.max(a))
        }
        [h, a] => h.or(a),
    }
}

/// One game being flattened.
struct Game<'a> {
    date: NaiveDate,
    season: &'a str,
    bs: &'a BoxScore,
    /// Its length in minutes, when the teams' minutes tell it.
    length: Option<f64>,
}

impl Game<'_> {
    /// A team's row, after its players' rows (pushed to `players`) and the checks of its totals.
    fn team_rows(
        &self,
        team: &Team,
        opponent: &Team,
        is_home: bool,
        minutes: f64,
        players: &mut Vec<PlayerRow>,
        issues: &mut Vec<Issue>,
    ) -> TeamRow {
        let who = TeamName(team);
        if !TEAM_POINTS.contains(&team.statistics.points) {
            issues.push(issue(
                code::TEAM_POINTS,
                Classification::Range,
                format!(
                    "{who}: points {} outside {}..={}",
                    team.statistics.points,
                    TEAM_POINTS.start(),
                    TEAM_POINTS.end()
                ),
            ));
        }
        let counts = check_counts(&who, &team.statistics, issues);
        let mut sum = 0i64;
        let mut sums = [0i64; 14];
        let mut minutes_sum = 0.0;
        let mut seen = BTreeSet::new();
        for p in &team.players {
            if !seen.insert(p.person_id) {
                let pwho = PlayerName(p, team);
                issues.push(issue(code::DUPLICATE_PLAYER, Classification::Duplicate, format!("{pwho} appears twice")));
            }
            sum = sum.saturating_add(p.statistics.points);
            for (total, (_, value, _)) in sums.iter_mut().zip(team_checked_counts(&p.statistics)) {
                *total = total.saturating_add(value);
            }
            let row = self.player_row(team, opponent, is_home, p, issues);
            minutes_sum += row.minutes;
            players.push(row);
        }
        if sum != team.statistics.points {
            issues.push(issue(
                code::POINTS_SUM,
                Classification::Consistency,
                format!("{who}: player points sum to {sum}, team points are {}", team.statistics.points),
            ));
        }
        for ((name, total, may_exceed), players_sum) in team_checked_counts(&team.statistics).into_iter().zip(sums) {
            if total < players_sum || (total > players_sum && !may_exceed) {
                issues.push(issue(
                    code::TEAM_TOTAL,
                    Classification::Consistency,
                    format!("{who}: {name} {total}, its players' sum to {players_sum}"),
                ));
            }
        }
        let tolerance = team.players.len() as f64 * MINUTES_ROUNDING_PER_PLAYER + 1e-9;
        if (minutes - minutes_sum).abs() > tolerance {
            issues.push(issue(
                code::TEAM_MINUTES_SUM,
                Classification::Consistency,
                format!("{who}: minutes {minutes:.2}, its players' sum to {minutes_sum:.2}"),
            ));
        }
        TeamRow {
            game_date: self.date,
            season: self.season.to_string(),
            game_id: self.bs.game_id.clone(),
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
        }
    }

    /// A player's row, after the checks of the player's own numbers.
    fn player_row(
        &self,
        team: &Team,
        opponent: &Team,
        is_home: bool,
        p: &Player,
        issues: &mut Vec<Issue>,
    ) -> PlayerRow {
        let pwho = PlayerName(p, team);
        let pcounts = check_counts(&pwho, &p.statistics, issues);
        if p.statistics.points > PLAYER_MAX_POINTS {
            issues.push(issue(
                code::PLAYER_POINTS,
                Classification::Range,
                format!("{pwho}: points {} > {PLAYER_MAX_POINTS}", p.statistics.points),
            ));
        }
        let pminutes = minutes_of(&pwho, &p.statistics, issues);
        if let Some(length) = self.length.filter(|l| pminutes > l + 1e-9) {
            issues.push(issue(
                code::PLAYER_MINUTES,
                Classification::Range,
                format!("{pwho}: minutes {pminutes:.2} > the game's {length} minutes"),
            ));
        }
        let s = &p.statistics;
        if pminutes == 0.0 && (s.points != 0 || s.field_goals_attempted != 0 || s.free_throws_attempted != 0) {
            issues.push(issue(
                code::STATS_WITHOUT_MINUTES,
                Classification::Consistency,
                format!(
                    "{pwho}: points {}, field goal attempts {}, free throw attempts {} with zero minutes",
                    s.points, s.field_goals_attempted, s.free_throws_attempted
                ),
            ));
        }
        let position = p.position.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        PlayerRow {
            game_date: self.date,
            season: self.season.to_string(),
            game_id: self.bs.game_id.clone(),
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
        }
    }
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

/// The box score of a game record: the raw API response (`{"boxScoreTraditional": {...}}`) or the box
/// score itself.
fn box_score_of(record: &Value) -> &Value {
    record.get("boxScoreTraditional").unwrap_or(record)
}

/// The `gameId` of a game record, if it has one.
fn game_id_of(record: &Value) -> Option<String> {
    box_score_of(record).get("gameId").and_then(Value::as_str).map(str::to_string)
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
    // Copies of one game: identical copies are one game (the first is kept, the others quarantined as
    // duplicates); copies that differ are all quarantined, since which one is right is unknown.
    let mut copies: std::collections::BTreeMap<String, Vec<usize>> = std::collections::BTreeMap::new();
    for (index, record) in doc.games.iter().enumerate() {
        if let Some(id) = game_id_of(record) {
            copies.entry(id).or_default().push(index);
        }
    }
    let conflicts: std::collections::BTreeMap<&str, String> = copies
        .iter()
        .filter(|(_, at)| at.windows(2).any(|w| doc.games[w[0]] != doc.games[w[1]]))
        .map(|(id, at)| {
            let positions: Vec<String> = at.iter().map(usize::to_string).collect();
            let reason =
                format!("game {id} appears at positions {} of `games` with different contents", positions.join(", "));
            (id.as_str(), reason)
        })
        .collect();
    let mut game_ids = BTreeSet::new();
    for (index, record) in doc.games.into_iter().enumerate() {
        let game_id = game_id_of(&record);
        let result = match BoxScore::deserialize(box_score_of(&record)) {
            Err(e) => Err(vec![issue(code::SCHEMA, Classification::Schema, e.to_string())]),
            Ok(bs) if conflicts.contains_key(bs.game_id.as_str()) => Err(vec![issue(
                code::CONFLICTING_COPIES,
                Classification::Duplicate,
                conflicts[bs.game_id.as_str()].clone(),
            )]),
            Ok(bs) if !game_ids.insert(bs.game_id.clone()) => Err(vec![issue(
                code::DUPLICATE_GAME,
                Classification::Duplicate,
                format!("game {} appears more than once (an identical copy is kept)", bs.game_id),
            )]),
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
