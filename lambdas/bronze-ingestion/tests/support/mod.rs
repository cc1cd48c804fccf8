//! A local stand-in of the NBA stats API: axum on 127.0.0.1, port 0, serving `leaguegamefinder`
//! and `boxscoretraditionalv3` from `hoopstat-fixtures` days, with scripted failures.

// Each test crate uses a part of it.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hoopstat_fixtures::Day;
use serde_json::{Value, json};

/// A scripted reply, served before the normal answer of an endpoint.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16, Option<&'static str>),
    /// Waits this long, then answers normally.
    Slow(Duration),
    Body(&'static str),
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HeaderMap,
    pub at: Instant,
}

impl Hit {
    pub fn game(&self) -> Option<&str> {
        self.query.get("GameID").map(String::as_str)
    }
}

#[derive(Default)]
pub struct ApiState {
    /// `MM/DD/YYYY` -> the day's games.
    pub days: HashMap<String, Day>,
    /// Game id -> body served for it (overrides the generated one).
    pub bodies: HashMap<String, Vec<u8>>,
    /// Every finder row is sent this many times (the API sends one per team already).
    pub row_copies: usize,
    /// `finder` or a game id -> replies served first, in order.
    pub script: HashMap<String, VecDeque<Reply>>,
    pub hits: Vec<Hit>,
}

#[derive(Clone, Default)]
pub struct Api(Arc<Mutex<ApiState>>);

impl Api {
    pub fn with<T>(&self, f: impl FnOnce(&mut ApiState) -> T) -> T {
        f(&mut self.0.lock().expect("lock"))
    }
    pub fn add_day(&self, day: Day) {
        let key = day.date.format("%m/%d/%Y").to_string();
        self.with(|s| s.days.insert(key, day));
    }
    pub fn script(&self, target: &str, replies: &[Reply]) {
        self.with(|s| s.script.insert(target.to_string(), replies.iter().cloned().collect()));
    }
    pub fn hits(&self) -> Vec<Hit> {
        self.with(|s| s.hits.clone())
    }
    pub fn hits_for(&self, game: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.game() == Some(game)).collect()
    }
}

fn finder_body(day: Option<&Day>, copies: usize) -> Value {
    let mut rows = Vec::new();
    for game in day.map(|d| d.games.as_slice()).unwrap_or_default() {
        let bs = &game.box_score_traditional;
        let date = day.map(|d| d.date.format("%Y-%m-%d").to_string()).unwrap_or_default();
        let (home, away) = (&bs.home_team, &bs.away_team);
        let home_won = home.statistics.points > away.statistics.points;
        for (team, other, is_home, won) in [(away, home, false, !home_won), (home, away, true, home_won)] {
            let matchup = if is_home {
                format!("{} vs. {}", team.team_tricode, other.team_tricode)
            } else {
                format!("{} @ {}", team.team_tricode, other.team_tricode)
            };
            let row = json!([
                format!("2{}", &bs.game_id[3..5]),
                team.team_id,
                team.team_tricode,
                format!("{} {}", team.team_city, team.team_name),
                bs.game_id,
                date,
                matchup,
                if won { "W" } else { "L" },
                240,
                team.statistics.points
            ]);
            for _ in 0..copies.max(1) {
                rows.push(row.clone());
            }
        }
    }
    // The API lists the newest games first; any order must do.
    rows.reverse();
    json!({
        "resource": "leaguegamefinderresults",
        "parameters": {"LeagueID": "00", "PlayerOrTeam": "T"},
        "resultSets": [{
            "name": "LeagueGameFinderResults",
            "headers": ["SEASON_ID", "TEAM_ID", "TEAM_ABBREVIATION", "TEAM_NAME", "GAME_ID", "GAME_DATE",
                "MATCHUP", "WL", "MIN", "PTS"],
            "rowSet": rows,
        }]
    })
}

async fn handle(
    State(api): State<Api>,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let path = uri.path().to_string();
    let target = if path.ends_with("/leaguegamefinder") {
        "finder".to_string()
    } else if path.ends_with("/boxscoretraditionalv3") {
        query.get("GameID").cloned().unwrap_or_default()
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let reply = api.with(|s| {
        s.hits.push(Hit { path: path.clone(), query: query.clone(), headers, at: Instant::now() });
        s.script.get_mut(&target).and_then(VecDeque::pop_front)
    });
    match reply {
        Some(Reply::Status(code, retry_after)) => {
            let status = StatusCode::from_u16(code).expect("status");
            return match retry_after {
                Some(after) => (status, [("retry-after", after)], "slow down").into_response(),
                None => (status, "error").into_response(),
            };
        }
        Some(Reply::Body(body)) => return (StatusCode::OK, body).into_response(),
        Some(Reply::Slow(delay)) => tokio::time::sleep(delay).await,
        None => {}
    }
    let body = api.with(|s| {
        if target == "finder" {
            let day = query.get("DateFrom").and_then(|d| s.days.get(d));
            Some(serde_json::to_vec(&finder_body(day, s.row_copies)).expect("json"))
        } else if let Some(body) = s.bodies.get(&target) {
            Some(body.clone())
        } else {
            s.days
                .values()
                .flat_map(|d| &d.games)
                .find(|g| g.box_score_traditional.game_id == target)
                .map(|g| serde_json::to_vec(g).expect("json"))
        }
    });
    match body {
        Some(body) => ([("content-type", "application/json")], body).into_response(),
        None => (StatusCode::BAD_REQUEST, "unknown game").into_response(),
    }
}

/// Starts the stand-in API; its base URL (`http://127.0.0.1:PORT/stats/`).
pub async fn serve(api: &Api) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let app = Router::new().fallback(handle).with_state(api.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://127.0.0.1:{port}/stats/")
}
