//! What the two endpoints answer, and whether an answer is usable. Pure: no I/O.
//!
//! `leaguegamefinder` answers
//! `{"resource": "leaguegamefinderresults", "parameters": {...}, "resultSets": [{"name":
//! "LeagueGameFinderResults", "headers": ["SEASON_ID", "TEAM_ID", "TEAM_ABBREVIATION", "TEAM_NAME",
//! "GAME_ID", "GAME_DATE", "MATCHUP", "WL", "MIN", "PTS", ...], "rowSet": [[...], ...]}]}`:
//! a table whose columns are named by `headers`, one row per team per game (so each game id
//! appears twice), `GAME_DATE` as `YYYY-MM-DD`.
//!
//! `boxscoretraditionalv3` answers `{"boxScoreTraditional": {"gameId", "homeTeam", "awayTeam", ...}}`.
//! Bronze keeps the response as the API sent it; it only checks that it is the box score of the
//! requested game, with both teams and their players. The statistics rules (made <= attempted,
//! sums, ranges) are silver's: a game breaking them is quarantined there with its classification.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// The name of the result set `leaguegamefinder` answers with.
pub const GAME_FINDER_RESULTS: &str = "LeagueGameFinderResults";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FinderResponse {
    result_sets: Vec<ResultSet>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultSet {
    name: String,
    headers: Vec<String>,
    row_set: Vec<Vec<Value>>,
}

/// The games `leaguegamefinder` lists for a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundGames {
    /// Distinct game ids, ascending.
    pub game_ids: Vec<String>,
    /// Rows in the response (two per game: one per team).
    pub rows: usize,
    /// Rows of another date (ignored; the request asked for one date).
    pub other_dates: usize,
}

/// Whether `id` looks like an NBA game id (`0022300001`: ten digits). Ids go into URLs and keys.
pub fn is_game_id(id: &str) -> bool {
    id.len() == 10 && id.bytes().all(|b| b.is_ascii_digit())
}

/// The distinct game ids of `date` in a `leaguegamefinder` response; `Err` says why it is unusable.
pub fn parse_game_finder(body: &[u8], date: NaiveDate) -> Result<FoundGames, String> {
    let response: FinderResponse =
        serde_json::from_slice(body).map_err(|e| format!("not a `resultSets` response: {e}"))?;
    let set = response
        .result_sets
        .iter()
        .find(|s| s.name == GAME_FINDER_RESULTS)
        .ok_or_else(|| format!("no result set `{GAME_FINDER_RESULTS}`"))?;
    let column = |name: &str| {
        set.headers.iter().position(|h| h == name).ok_or_else(|| format!("no `{name}` column in `headers`"))
    };
    let (id_col, date_col) = (column("GAME_ID")?, column("GAME_DATE")?);
    let wanted = date.format("%Y-%m-%d").to_string();
    let mut ids = BTreeSet::new();
    let mut other_dates = 0;
    for (index, row) in set.row_set.iter().enumerate() {
        if row.len() != set.headers.len() {
            return Err(format!("row {index} has {} values for {} headers", row.len(), set.headers.len()));
        }
        let game_date = row[date_col].as_str().ok_or_else(|| format!("row {index}: GAME_DATE is not a string"))?;
        // `2024-01-15`, sometimes with a time (`2024-01-15T00:00:00`).
        if game_date.get(..10) != Some(wanted.as_str()) {
            other_dates += 1;
            continue;
        }
        let id = row[id_col].as_str().ok_or_else(|| format!("row {index}: GAME_ID is not a string"))?;
        if !is_game_id(id) {
            return Err(format!("row {index}: GAME_ID `{id}` is not a 10-digit game id"));
        }
        ids.insert(id.to_string());
    }
    Ok(FoundGames { game_ids: ids.into_iter().collect(), rows: set.row_set.len(), other_dates })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BoxScoreResponse {
    box_score_traditional: BoxScore,
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
    team_tricode: String,
    players: Vec<Player>,
    statistics: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Player {
    #[serde(rename = "personId")]
    _person_id: i64,
    #[serde(rename = "statistics")]
    _statistics: serde_json::Map<String, Value>,
}

/// The response of `boxscoretraditionalv3?GameID={game_id}`, unchanged, if it is that game's box
/// score; `Err` says why it is unusable.
pub fn check_box_score(body: &[u8], game_id: &str) -> Result<Box<RawValue>, String> {
    let raw: Box<RawValue> = serde_json::from_slice(body).map_err(|e| format!("response is not JSON: {e}"))?;
    let response: BoxScoreResponse =
        serde_json::from_str(raw.get()).map_err(|e| format!("response is not a V3 box score: {e}"))?;
    let bs = response.box_score_traditional;
    if bs.game_id != game_id {
        return Err(format!("response is the box score of game `{}`, not of `{game_id}`", bs.game_id));
    }
    for (side, team) in [("homeTeam", &bs.home_team), ("awayTeam", &bs.away_team)] {
        if team.players.is_empty() {
            return Err(format!(
                "{side} {} ({}) has no players: the game was not played or is not final",
                team.team_tricode, team.team_id
            ));
        }
        if team.statistics.is_empty() {
            return Err(format!("{side} {} ({}) has no statistics", team.team_tricode, team.team_id));
        }
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 15).expect("date")
    }

    fn finder(rows: Value) -> Vec<u8> {
        json!({"resource": "leaguegamefinderresults", "parameters": {}, "resultSets": [{
            "name": "LeagueGameFinderResults",
            "headers": ["SEASON_ID", "TEAM_ID", "GAME_ID", "GAME_DATE", "MATCHUP"],
            "rowSet": rows,
        }]})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn game_ids_are_distinct_and_sorted() {
        let body = finder(json!([
            ["22023", 1610612752, "0022300602", "2024-01-15", "NYK @ BOS"],
            ["22023", 1610612738, "0022300602", "2024-01-15", "BOS vs. NYK"],
            ["22023", 1610612747, "0022300601", "2024-01-15T00:00:00", "LAL vs. DAL"],
            ["22023", 1610612742, "0022300601", "2024-01-15", "DAL @ LAL"],
            ["22023", 1610612742, "0022300590", "2024-01-14", "DAL @ UTA"],
        ]));
        let found = parse_game_finder(&body, date()).expect("parses");
        assert_eq!(found.game_ids, ["0022300601", "0022300602"]);
        assert_eq!((found.rows, found.other_dates), (5, 1));
    }

    #[test]
    fn an_empty_day_has_no_games() {
        let found = parse_game_finder(&finder(json!([])), date()).expect("parses");
        assert!(found.game_ids.is_empty());
    }

    #[test]
    fn unusable_finder_responses_say_why() {
        let err = |body: &[u8]| parse_game_finder(body, date()).expect_err("must fail");
        assert!(err(b"<html>").contains("resultSets"));
        assert!(err(br#"{"resultSets": [{"name": "Other", "headers": [], "rowSet": []}]}"#).contains("no result set"));
        let no_date = br#"{"resultSets": [{"name": "LeagueGameFinderResults", "headers": ["GAME_ID"], "rowSet": []}]}"#;
        assert!(err(no_date).contains("GAME_DATE"));
        assert!(err(&finder(json!([["22023", 1, "0022300601", "2024-01-15"]]))).contains("4 values for 5 headers"));
        assert!(err(&finder(json!([["22023", 1, "../../x", "2024-01-15", "m"]]))).contains("not a 10-digit"));
        assert!(err(&finder(json!([["22023", 1, 22300601, "2024-01-15", "m"]]))).contains("GAME_ID is not a string"));
    }

    fn game(id: &str) -> Value {
        let team = |tid: i64, tri: &str| {
            json!({"teamId": tid, "teamCity": "c", "teamName": "n", "teamTricode": tri, "teamSlug": "s",
                "players": [{"personId": 1, "firstName": "a", "familyName": "b", "statistics": {"points": 2}}],
                "statistics": {"points": 100}})
        };
        json!({"boxScoreTraditional": {"gameId": id, "homeTeam": team(1, "BOS"), "awayTeam": team(2, "NYK")}})
    }

    #[test]
    fn a_box_score_is_kept_byte_for_byte() {
        let body = serde_json::to_vec_pretty(&game("0022300601")).expect("json");
        let raw = check_box_score(&body, "0022300601").expect("usable");
        assert_eq!(raw.get().as_bytes(), body.as_slice());
    }

    #[test]
    fn unusable_box_scores_say_why() {
        let reason = |v: Value, id: &str| check_box_score(v.to_string().as_bytes(), id).expect_err("unusable");
        assert!(check_box_score(b"{\"boxScore", "0022300601").expect_err("x").contains("not JSON"));
        assert!(reason(json!({"message": "An error has occurred."}), "0022300601").contains("boxScoreTraditional"));
        assert!(reason(game("0022300602"), "0022300601").contains("not of `0022300601`"));
        let mut g = game("0022300601");
        g["boxScoreTraditional"]["awayTeam"]["players"] = json!([]);
        assert!(reason(g, "0022300601").contains("awayTeam NYK (2) has no players"));
        let mut g = game("0022300601");
        g["boxScoreTraditional"]["homeTeam"]["players"][0]["personId"] = json!("one");
        assert!(reason(g, "0022300601").contains("not a V3 box score"));
        let mut g = game("0022300601");
        g["boxScoreTraditional"]["homeTeam"]["statistics"] = json!({});
        assert!(reason(g, "0022300601").contains("no statistics"));
    }
}
