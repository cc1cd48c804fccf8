//! The hoopstat-haus gold-analytics stage: one date's silver player and team rows -> per-player and
//! per-team analytics of that date, with season-to-date aggregates -> Iceberg commits to the S3 Tables
//! tables `player_analytics` and `team_analytics`.
//!
//! This file is the pure computation (no I/O, no clock): [`formulas`] and [`compute`]. [`silver`]
//! reads silver Parquet back into silver's own row types, [`table`] writes Iceberg snapshots, and
//! [`stage`] is the SQS handler.
//!
//! # Formulas (per game; `None` where a denominator is zero)
//! - possessions = FGA + 0.44 x FTA - OREB + TOV, per team; a game's possessions are the average of
//!   both teams' (so both teams of a game share pace and possessions).
//! - true shooting % = PTS / (2 x (FGA + 0.44 x FTA)); effective FG % = (FGM + 0.5 x 3PM) / FGA;
//!   assist/turnover ratio = AST / TOV. Percentages are fractions (0.573, not 57.3).
//! - usage rate = 100 x (FGA + 0.44 x FTA + TOV) x (team minutes / 5) /
//!   (minutes x (team FGA + 0.44 x team FTA + team TOV)), as Basketball-Reference defines it.
//! - offensive rating = 100 x PTS / possessions; defensive rating = 100 x opponent PTS / possessions;
//!   net rating = offensive - defensive; pace = 48 x possessions / (team minutes / 5).
//!
//! # Season-to-date aggregates
//! Summed over the silver rows of every date of the same season up to and including the date, as if
//! the whole season were re-read, but without re-reading it: a **season state object**
//! ([`season::SeasonState`], JSON, default `s3://<silver bucket>/state/gold-analytics/season=YYYY-YY/season_totals.json`,
//! or the output `season_state` of `PIPEWRIGHT_OUTPUTS`) holds per date the [`DayTotals`] of its silver
//! rows (per player: games, points, FGA, FTA; per team game: points, opponent points, possessions)
//! and the ETags of the two silver objects they were computed from. For a date, the handler GETs
//! the date's two objects, LISTs the season's two silver prefixes (keys and ETags) and GETs the
//! state, concurrently; an earlier date whose entry is missing or whose ETags differ from the
//! listing is read from silver again, entries of dates silver no longer has are dropped, and the
//! date's own entry is replaced (never added to). The aggregates are then folded from the entries
//! before the date plus the date's own totals, in date order: integer sums, and each game's
//! possessions stored as the bits of the `f64` the fold adds, so the result is bit for bit the one
//! computed from all silver rows ([`compute`] is that computation and goes through the same fold).
//! The handler works per season: the earliest date of the batch in a season and every later date of
//! that season in silver are computed together, each with the totals of every date before it, and
//! replaced in one commit per table ([`stage::Stage::process_from`]). The state is read once per
//! season and batch ([`stage::Batch`]) and written once after the batch.
//!
//! **Ordering guarantee.** Gold is a function of silver, never of the order in which dates arrive:
//! a date that arrives after later dates of its season (silver finishing dates out of order, a replay
//! of one date, a back-fill) recomputes those later dates in the same commit. Concurrent invocations
//! converge: each loads the versions of both tables *before* it lists silver, and a commit succeeds
//! only on the version it was built on, so a commit that succeeds was computed from a listing taken
//! after every commit it replaces; a conflict (S3 Tables' optimistic concurrency) re-lists, re-reads
//! and recomputes after exponential back-off with full jitter. The tests deliver a season in order,
//! in reverse, in random permutations and batch sizes, replay and correct a middle date, run two
//! invocations against each other and make one list silver before a date is written; every run ends
//! with the tables computed from silver in order. The cost: a date that arrives before `n` later
//! dates of its season reads and rewrites those `n` dates too (in order delivery: none).
//!
//! The state is a cache of silver, validated against silver on every use, never a source of truth:
//! - at-least-once delivery and re-runs of a date replace the date's entry with the same totals (an
//!   unchanged state is not written); a silver object rewritten with other bytes has another ETag,
//!   so its entry is recomputed; a lost, unparsable or foreign state object is rebuilt (`WARN`);
//! - out-of-order dates and back-fills: entries are by date and only those before the date count;
//!   an earlier date whose state entry is not there yet is read from silver directly;
//! - concurrent invocations (two dates of one season): the state is written with `If-Match` on the
//!   ETag it was read with (`If-None-Match: *` when there was none); on 412 (or 409/404) the state is
//!   re-read and this invocation's entries are applied to it again, up to 5 times with exponential
//!   back-off and full jitter between attempts (`table::COMMIT_BACKOFF`); if every attempt
//!   loses, the state is left as the winners wrote it and the next invocation recomputes what is
//!   missing. A lost update costs reads, never correctness;
//! - a state that cannot be read or written (S3 error, a role without access to the key) is logged at
//!   `ERROR` with the key, and the date still succeeds from silver alone.
//!
//! Consequences: a batch costs, per season, 2 LISTs and 1 GET of the state (+ 1 conditional PUT when
//! it changed), and 2 GETs per date, instead of 2 GETs per earlier date of every date; a warm Lambda container reuses the state it wrote last (by ETag:
//! stale is harmless, the conditional write then fails and re-reads). The state is ~4 kB per date
//! (640 kB at the end of a generated season) and, in the versioned silver bucket, each write keeps
//! a noncurrent version (~55 MB per season; a noncurrent-version expiration on `state/` bounds it).
//! The role needs `s3:GetObject`/`s3:PutObject` on the state key. The state's entries serve only the
//! dates *before* the first computed one, each checked against the ETags of the listing; the computed
//! dates' own entries come from the rows just read. Chosen over reading the table's earlier rows because
//! the table holds only derived ratios (season TS% cannot be summed back exactly) and because silver
//! is the source of truth.
//!
//! The aggregates:
//! - player: `season_games` = games played (minutes > 0); points per game = sum PTS / games;
//!   season TS% = sum PTS / (2 x (sum FGA + 0.44 x sum FTA)).
//! - team: `season_games` = games; season net rating = 100 x (sum PTS - sum opponent PTS) / sum game
//!   possessions (possession-weighted, not a mean of per-game ratings).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use silver_processing::transform::{Counts, PlayerRow, TeamRow};

pub mod season;
pub mod silver;
pub mod stage;
pub mod table;

/// The basketball formulas, on plain numbers.
pub mod formulas {
    fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
        (denominator > 0.0).then(|| numerator / denominator)
    }

    /// FGA + 0.44 x FTA.
    pub fn shooting_attempts(fga: i32, fta: i32) -> f64 {
        f64::from(fga) + 0.44 * f64::from(fta)
    }

    /// PTS / (2 x (FGA + 0.44 x FTA)).
    pub fn true_shooting_pct(points: i32, fga: i32, fta: i32) -> Option<f64> {
        ratio(f64::from(points), 2.0 * shooting_attempts(fga, fta))
    }

    /// (FGM + 0.5 x 3PM) / FGA.
    pub fn effective_fg_pct(fgm: i32, fg3m: i32, fga: i32) -> Option<f64> {
        ratio(f64::from(fgm) + 0.5 * f64::from(fg3m), f64::from(fga))
    }

    /// AST / TOV.
    pub fn assist_turnover_ratio(assists: i32, turnovers: i32) -> Option<f64> {
        ratio(f64::from(assists), f64::from(turnovers))
    }

    /// FGA + 0.44 x FTA - OREB + TOV.
    pub fn possessions(fga: i32, fta: i32, oreb: i32, tov: i32) -> f64 {
        shooting_attempts(fga, fta) - f64::from(oreb) + f64::from(tov)
    }

    /// 100 x points / possessions (offensive rating with own points, defensive with the opponent's).
    pub fn rating(points: i32, possessions: f64) -> Option<f64> {
        ratio(100.0 * f64::from(points), possessions)
    }

    /// 48 x possessions / (team minutes / 5): possessions per 48 minutes.
    pub fn pace(possessions: f64, team_minutes: f64) -> Option<f64> {
        ratio(48.0 * possessions, team_minutes / 5.0)
    }

    /// The share of the team's plays a player used while on the floor, in percent.
    #[allow(clippy::too_many_arguments)]
    pub fn usage_rate(
        fga: i32,
        fta: i32,
        tov: i32,
        minutes: f64,
        team_fga: i32,
        team_fta: i32,
        team_tov: i32,
        team_minutes: f64,
    ) -> Option<f64> {
        let used = shooting_attempts(fga, fta) + f64::from(tov);
        let team_used = shooting_attempts(team_fga, team_fta) + f64::from(team_tov);
        ratio(100.0 * used * (team_minutes / 5.0), minutes * team_used)
    }
}

/// The silver rows of one date (both silver objects of the date).
#[derive(Debug, Clone, PartialEq)]
pub struct SilverDay {
    pub date: NaiveDate,
    pub players: Vec<PlayerRow>,
    pub teams: Vec<TeamRow>,
}

/// A row of `player_analytics` (columns as in the spec).
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerAnalytics {
    pub game_date: NaiveDate,
    pub season: String,
    pub player_id: i64,
    pub player_name: String,
    pub team_id: i64,
    pub minutes: f64,
    pub points: i32,
    pub true_shooting_pct: Option<f64>,
    pub effective_fg_pct: Option<f64>,
    pub usage_rate: Option<f64>,
    pub assist_turnover_ratio: Option<f64>,
    pub season_games: i32,
    pub season_points_per_game: Option<f64>,
    pub season_true_shooting_pct: Option<f64>,
}

/// A row of `team_analytics` (columns as in the spec).
#[derive(Debug, Clone, PartialEq)]
pub struct TeamAnalytics {
    pub game_date: NaiveDate,
    pub season: String,
    pub team_id: i64,
    pub team_tricode: String,
    pub game_id: String,
    pub points: i32,
    pub pace: Option<f64>,
    pub offensive_rating: Option<f64>,
    pub defensive_rating: Option<f64>,
    pub net_rating: Option<f64>,
    pub true_shooting_pct: Option<f64>,
    pub effective_fg_pct: Option<f64>,
    pub assist_turnover_ratio: Option<f64>,
    pub season_games: i32,
    pub season_net_rating: Option<f64>,
}

/// The analytics of one date.
#[derive(Debug, Clone, PartialEq)]
pub struct Analytics {
    pub date: NaiveDate,
    pub season: String,
    pub players: Vec<PlayerAnalytics>,
    pub teams: Vec<TeamAnalytics>,
}

/// Silver rows that contradict each other (silver validates games, so this means the two silver
/// objects of a date disagree, e.g. one of them is from an older run).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalyticsError {
    #[error("{date}: game {game_id} has {teams} team row(s) in team_stats, expected 2")]
    GameTeams { date: NaiveDate, game_id: String, teams: usize },
    #[error("{date}: player {player_id} of team {team_id} in game {game_id} has no team row in team_stats")]
    PlayerWithoutTeam { date: NaiveDate, game_id: String, team_id: i64, player_id: i64 },
    #[error("{date}: a row of {table} is for {row_date}")]
    OtherDate { date: NaiveDate, table: &'static str, row_date: NaiveDate },
    #[error("{date}: rows of season {found} in a date of season {expected}")]
    OtherSeason { date: NaiveDate, expected: String, found: String },
}

/// One game from one team's side: the team, its opponent, and the game's possessions.
struct TeamGame<'a> {
    team: &'a TeamRow,
    opponent: &'a TeamRow,
    possessions: f64,
}

fn team_possessions(c: &Counts) -> f64 {
    formulas::possessions(c.field_goals_attempted, c.free_throws_attempted, c.rebounds_offensive, c.turnovers)
}

/// Pairs each team row with its opponent's (by game id).
fn team_games(date: NaiveDate, teams: &[TeamRow]) -> Result<Vec<TeamGame<'_>>, AnalyticsError> {
    let mut by_game: BTreeMap<&str, Vec<&TeamRow>> = BTreeMap::new();
    for team in teams {
        by_game.entry(team.game_id.as_str()).or_default().push(team);
    }
    let mut games = Vec::with_capacity(teams.len());
    for team in teams {
        let rows = by_game.get(team.game_id.as_str()).map(Vec::as_slice).unwrap_or_default();
        let opponent = match rows {
            [a, b] if a.team_id != b.team_id => {
                if a.team_id == team.team_id {
                    *b
                } else {
                    *a
                }
            }
            _ => return Err(AnalyticsError::GameTeams { date, game_id: team.game_id.clone(), teams: rows.len() }),
        };
        let possessions = (team_possessions(&team.counts) + team_possessions(&opponent.counts)) / 2.0;
        games.push(TeamGame { team, opponent, possessions });
    }
    Ok(games)
}

#[derive(Default)]
struct PlayerSeason {
    games: i32,
    points: i64,
    fga: i64,
    fta: i64,
}

#[derive(Default)]
struct TeamSeason {
    games: i32,
    points: i64,
    opponent_points: i64,
    possessions: f64,
}

/// Every row of `day` is of its date and of `season`.
fn check_day(season: &str, day: &SilverDay) -> Result<(), AnalyticsError> {
    let rows = day
        .players
        .iter()
        .map(|p| ("player_stats", p.game_date, p.season.as_str()))
        .chain(day.teams.iter().map(|t| ("team_stats", t.game_date, t.season.as_str())));
    for (table, row_date, row_season) in rows {
        if row_date != day.date {
            return Err(AnalyticsError::OtherDate { date: day.date, table, row_date });
        }
        if row_season != season {
            return Err(AnalyticsError::OtherSeason {
                date: day.date,
                expected: season.into(),
                found: row_season.into(),
            });
        }
    }
    Ok(())
}

/// What one date contributes to the season-to-date aggregates: the sums of its silver rows. Exact:
/// integers, and each team game's possessions as the bits of the `f64` the computation adds (so a
/// season summed from stored totals is bit for bit the season summed from silver rows).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct DayTotals {
    /// `(player_id, games played, points, FGA, FTA)` of the players who played, by player id.
    pub players: Vec<(i64, i32, i64, i64, i64)>,
    /// `(team_id, points, opponent points, game possessions as f64 bits)` per team row, in row order.
    pub teams: Vec<(i64, i64, i64, u64)>,
}

impl DayTotals {
    /// The totals of `day`, whose rows must all be of its date and of `season`.
    pub fn of(season: &str, day: &SilverDay) -> Result<Self, AnalyticsError> {
        check_day(season, day)?;
        let mut players: BTreeMap<i64, (i32, i64, i64, i64)> = BTreeMap::new();
        for p in day.players.iter().filter(|p| p.played) {
            let s = players.entry(p.player_id).or_default();
            s.0 += 1;
            s.1 += i64::from(p.counts.points);
            s.2 += i64::from(p.counts.field_goals_attempted);
            s.3 += i64::from(p.counts.free_throws_attempted);
        }
        let teams = team_games(day.date, &day.teams)?
            .iter()
            .map(|g| {
                (
                    g.team.team_id,
                    i64::from(g.team.counts.points),
                    i64::from(g.opponent.counts.points),
                    g.possessions.to_bits(),
                )
            })
            .collect();
        Ok(Self { players: players.into_iter().map(|(id, (g, p, fga, fta))| (id, g, p, fga, fta)).collect(), teams })
    }
}

/// The analytics of `day` from its silver rows, with season aggregates over `day` and `earlier` (the
/// silver rows of the season's other dates, in date order; dates from `day.date` on, or of another
/// season, are ignored, so the caller may pass everything it listed).
pub fn compute(day: &SilverDay, earlier: &[SilverDay]) -> Result<Analytics, AnalyticsError> {
    let season = silver_processing::season_of(day.date);
    let totals = earlier
        .iter()
        .filter(|d| d.date < day.date && silver_processing::season_of(d.date) == season)
        .map(|d| DayTotals::of(&season, d).map(|t| (d.date, t)))
        .collect::<Result<Vec<_>, _>>()?;
    compute_with_totals(day, totals.iter().map(|(d, t)| (*d, t)))
}

/// [`compute`] with the earlier dates given by their [`DayTotals`] (in date order; dates from
/// `day.date` on, or of another season, are ignored): the same result as from their silver rows.
pub fn compute_with_totals<'a>(
    day: &SilverDay,
    earlier: impl IntoIterator<Item = (NaiveDate, &'a DayTotals)>,
) -> Result<Analytics, AnalyticsError> {
    let date = day.date;
    let season = silver_processing::season_of(date);
    let own = DayTotals::of(&season, day)?;
    let counted = earlier
        .into_iter()
        .filter(|(d, _)| *d < date && silver_processing::season_of(*d) == season)
        .map(|(_, t)| t)
        .chain(std::iter::once(&own));
    let (player_season, team_season) = season_to_date(counted);
    let games = team_games(date, &day.teams)?;
    let teams = games.iter().map(|g| team_analytics(date, &season, g, team_season.get(&g.team.team_id))).collect();
    let mut players = Vec::with_capacity(day.players.len());
    for p in &day.players {
        let team = games
            .iter()
            .find(|g| g.team.game_id == p.game_id && g.team.team_id == p.team_id)
            .map(|g| g.team)
            .ok_or_else(|| AnalyticsError::PlayerWithoutTeam {
                date,
                game_id: p.game_id.clone(),
                team_id: p.team_id,
                player_id: p.player_id,
            })?;
        players.push(player_analytics(date, &season, p, team, player_season.get(&p.player_id)));
    }
    Ok(Analytics { date, season, players, teams })
}

/// Each player's and team's season to date: the sums of the dates' totals.
fn season_to_date<'a>(
    totals: impl Iterator<Item = &'a DayTotals>,
) -> (BTreeMap<i64, PlayerSeason>, BTreeMap<i64, TeamSeason>) {
    let mut player_season: BTreeMap<i64, PlayerSeason> = BTreeMap::new();
    let mut team_season: BTreeMap<i64, TeamSeason> = BTreeMap::new();
    for totals in totals {
        for &(player_id, games, points, fga, fta) in &totals.players {
            let s = player_season.entry(player_id).or_default();
            s.games += games;
            s.points += points;
            s.fga += fga;
            s.fta += fta;
        }
        for &(team_id, points, opponent_points, possessions) in &totals.teams {
            let s = team_season.entry(team_id).or_default();
            s.games += 1;
            s.points += points;
            s.opponent_points += opponent_points;
            s.possessions += f64::from_bits(possessions);
        }
    }
    (player_season, team_season)
}

/// A team's analytics of one game, with its season to date.
fn team_analytics(date: NaiveDate, season: &str, g: &TeamGame, s: Option<&TeamSeason>) -> TeamAnalytics {
    let c = &g.team.counts;
    let offensive = formulas::rating(c.points, g.possessions);
    let defensive = formulas::rating(g.opponent.counts.points, g.possessions);
    TeamAnalytics {
        game_date: date,
        season: season.to_string(),
        team_id: g.team.team_id,
        team_tricode: g.team.team_tricode.clone(),
        game_id: g.team.game_id.clone(),
        points: c.points,
        pace: formulas::pace(g.possessions, g.team.minutes),
        offensive_rating: offensive,
        defensive_rating: defensive,
        net_rating: offensive.zip(defensive).map(|(o, d)| o - d),
        true_shooting_pct: formulas::true_shooting_pct(c.points, c.field_goals_attempted, c.free_throws_attempted),
        effective_fg_pct: formulas::effective_fg_pct(
            c.field_goals_made,
            c.three_pointers_made,
            c.field_goals_attempted,
        ),
        assist_turnover_ratio: formulas::assist_turnover_ratio(c.assists, c.turnovers),
        season_games: s.map_or(0, |s| s.games),
        season_net_rating: s
            .and_then(|s| (s.possessions > 0.0).then(|| 100.0 * (s.points - s.opponent_points) as f64 / s.possessions)),
    }
}

/// A player's analytics of one game (usage against the team's counts), with the season to date.
fn player_analytics(
    date: NaiveDate,
    season: &str,
    p: &PlayerRow,
    team: &TeamRow,
    s: Option<&PlayerSeason>,
) -> PlayerAnalytics {
    let c = &p.counts;
    let t = &team.counts;
    PlayerAnalytics {
        game_date: date,
        season: season.to_string(),
        player_id: p.player_id,
        player_name: p.player_name.clone(),
        team_id: p.team_id,
        minutes: p.minutes,
        points: c.points,
        true_shooting_pct: formulas::true_shooting_pct(c.points, c.field_goals_attempted, c.free_throws_attempted),
        effective_fg_pct: formulas::effective_fg_pct(
            c.field_goals_made,
            c.three_pointers_made,
            c.field_goals_attempted,
        ),
        usage_rate: formulas::usage_rate(
            c.field_goals_attempted,
            c.free_throws_attempted,
            c.turnovers,
            p.minutes,
            t.field_goals_attempted,
            t.free_throws_attempted,
            t.turnovers,
            team.minutes,
        ),
        assist_turnover_ratio: formulas::assist_turnover_ratio(c.assists, c.turnovers),
        season_games: s.map_or(0, |s| s.games),
        season_points_per_game: s.and_then(|s| (s.games > 0).then(|| s.points as f64 / f64::from(s.games))),
        season_true_shooting_pct: s.and_then(|s| {
            let attempts = s.fga as f64 + 0.44 * s.fta as f64;
            (attempts > 0.0).then(|| s.points as f64 / (2.0 * attempts))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::formulas::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn true_shooting() {
        // 30 points on 20 FGA and 10 FTA: 30 / (2 x 24.4) = 0.614754...
        assert!(close(true_shooting_pct(30, 20, 10), 30.0 / 48.8));
        assert!(close(true_shooting_pct(2, 0, 2), 2.0 / 1.76));
        assert_eq!(true_shooting_pct(0, 0, 0), None);
    }

    #[test]
    fn effective_field_goals() {
        // 8 of 16 with 4 threes: (8 + 2) / 16 = 0.625.
        assert!(close(effective_fg_pct(8, 4, 16), 0.625));
        assert_eq!(effective_fg_pct(0, 0, 0), None);
    }

    #[test]
    fn assist_turnover() {
        assert!(close(assist_turnover_ratio(9, 3), 3.0));
        assert!(close(assist_turnover_ratio(0, 2), 0.0));
        assert_eq!(assist_turnover_ratio(5, 0), None);
    }

    #[test]
    fn possessions_pace_and_ratings() {
        // 88 FGA, 22 FTA, 10 OREB, 14 TOV: 88 + 9.68 - 10 + 14 = 101.68.
        assert!((possessions(88, 22, 10, 14) - 101.68).abs() < 1e-9);
        // 100 possessions in a regulation game (240 team minutes): pace 100.
        assert!(close(pace(100.0, 240.0), 100.0));
        // One overtime (265 team minutes): 106 possessions -> 48 x 106 / 53 = 96.
        assert!(close(pace(106.0, 265.0), 96.0));
        assert_eq!(pace(100.0, 0.0), None);
        assert!(close(rating(110, 100.0), 110.0));
        assert!(close(rating(99, 90.0), 110.0));
        assert_eq!(rating(99, 0.0), None);
    }

    #[test]
    fn usage() {
        // Player: 20 FGA, 5 FTA, 3 TOV in 36 minutes -> 25.2 plays.
        // Team: 88 FGA, 25 FTA, 12 TOV in 240 minutes -> 111 plays.
        // 100 x 25.2 x 48 / (36 x 111) = 30.27027...
        assert!(close(usage_rate(20, 5, 3, 36.0, 88, 25, 12, 240.0), 100.0 * 25.2 * 48.0 / (36.0 * 111.0)));
        assert!((usage_rate(20, 5, 3, 36.0, 88, 25, 12, 240.0).unwrap_or_default() - 30.27027027).abs() < 1e-6);
        assert_eq!(usage_rate(1, 0, 0, 0.0, 88, 25, 12, 240.0), None);
        assert_eq!(usage_rate(0, 0, 0, 10.0, 0, 0, 0, 240.0), None);
    }
}
