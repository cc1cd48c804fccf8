//! The Rust side of `scripts/bench-lambdas.py` (a benchmark driver, not part of the stage). Silver
//! objects are read from a directory laid out as the silver bucket
//! (`DIR/silver/{table}/season={season}/date={date}/data.parquet`, as `bench_silver transform` writes).
//!
//! - `bench_gold day DIR DATE [DUMP]`: the handler's work for one date without S3 and Iceberg: list the
//!   season's `player_stats` dates, read the date's two objects and both objects of every earlier date of
//!   the season, [`compute`].
//! - `bench_gold season DIR [DUMP]`: every date of the season with its season-to-date context: every silver
//!   object read once, then [`compute`] for each date with all earlier dates.
//!
//! Prints one JSON line: rows read, rows computed, read and compute times. With `DUMP`, the analytics are
//! also written there as JSON lines (after the timed part) for the comparison with the Python port.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use gold_analytics::silver::{read_players, read_teams};
use gold_analytics::{Analytics, SilverDay, compute};
use serde_json::json;

type Error = Box<dyn std::error::Error>;

fn object(dir: &Path, table: &str, date: NaiveDate) -> PathBuf {
    let season = silver_processing::season_of(date);
    dir.join(format!("silver/{table}/season={season}/date={date}/data.parquet"))
}

/// The dates that have a `player_stats` object in `season`, sorted.
fn season_dates(dir: &Path, season: &str) -> Result<Vec<NaiveDate>, Error> {
    let mut dates = Vec::new();
    for entry in std::fs::read_dir(dir.join(format!("silver/player_stats/season={season}")))? {
        let name = entry?.file_name();
        if let Some(d) = name.to_str().and_then(|n| n.strip_prefix("date=")) {
            dates.push(NaiveDate::parse_from_str(d, "%Y-%m-%d")?);
        }
    }
    dates.sort();
    Ok(dates)
}

fn read_day(dir: &Path, date: NaiveDate) -> Result<SilverDay, Error> {
    let players = read_players(&std::fs::read(object(dir, "player_stats", date))?)?;
    let teams = read_teams(&std::fs::read(object(dir, "team_stats", date))?)?;
    Ok(SilverDay { date, players, teams })
}

fn opt(v: Option<f64>) -> serde_json::Value {
    v.map_or(serde_json::Value::Null, |v| json!(v))
}

fn dump(out: &mut impl Write, a: &Analytics) -> Result<(), Error> {
    for p in &a.players {
        let line = json!({"table": "player", "game_date": p.game_date.to_string(), "season": p.season,
            "player_id": p.player_id, "player_name": p.player_name, "team_id": p.team_id, "minutes": p.minutes,
            "points": p.points, "true_shooting_pct": opt(p.true_shooting_pct),
            "effective_fg_pct": opt(p.effective_fg_pct), "usage_rate": opt(p.usage_rate),
            "assist_turnover_ratio": opt(p.assist_turnover_ratio), "season_games": p.season_games,
            "season_points_per_game": opt(p.season_points_per_game),
            "season_true_shooting_pct": opt(p.season_true_shooting_pct)});
        writeln!(out, "{line}")?;
    }
    for t in &a.teams {
        let line = json!({"table": "team", "game_date": t.game_date.to_string(), "season": t.season,
            "team_id": t.team_id, "team_tricode": t.team_tricode, "game_id": t.game_id, "points": t.points,
            "pace": opt(t.pace), "offensive_rating": opt(t.offensive_rating),
            "defensive_rating": opt(t.defensive_rating), "net_rating": opt(t.net_rating),
            "true_shooting_pct": opt(t.true_shooting_pct), "effective_fg_pct": opt(t.effective_fg_pct),
            "assist_turnover_ratio": opt(t.assist_turnover_ratio), "season_games": t.season_games,
            "season_net_rating": opt(t.season_net_rating)});
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn rows(days: &[SilverDay]) -> (usize, usize) {
    (days.iter().map(|d| d.players.len()).sum(), days.iter().map(|d| d.teams.len()).sum())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench_gold day DIR DATE [DUMP] | bench_gold season DIR [DUMP]";
    let (mode, dir) = match (args.first(), args.get(1)) {
        (Some(mode), Some(dir)) => (mode.as_str(), Path::new(dir)),
        _ => return Err(usage.into()),
    };
    let out;
    let started = Instant::now();
    let mut out_rows = (0, 0);
    let (days, read_time, compute_time, outputs) = match mode {
        "day" => {
            let date = NaiveDate::parse_from_str(args.get(2).ok_or(usage)?, "%Y-%m-%d")?;
            out = args.get(3);
            let season = silver_processing::season_of(date);
            let day = read_day(dir, date)?;
            let earlier = season_dates(dir, &season)?
                .into_iter()
                .filter(|d| *d < date)
                .map(|d| read_day(dir, d))
                .collect::<Result<Vec<_>, _>>()?;
            let read_time = started.elapsed();
            let t0 = Instant::now();
            let analytics = compute(&day, &earlier)?;
            let compute_time = t0.elapsed();
            out_rows = (analytics.players.len(), analytics.teams.len());
            let mut days = earlier;
            days.push(day);
            (days, read_time, compute_time, vec![analytics])
        }
        "season" => {
            out = args.get(2);
            let dates = season_dates(dir, "2024-25")?;
            let days = dates.iter().map(|d| read_day(dir, *d)).collect::<Result<Vec<_>, _>>()?;
            let read_time = started.elapsed();
            let mut compute_time = Duration::ZERO;
            let mut outputs = Vec::new();
            for i in 0..days.len() {
                let t0 = Instant::now();
                let analytics = compute(&days[i], &days[..i])?;
                compute_time += t0.elapsed();
                out_rows = (out_rows.0 + analytics.players.len(), out_rows.1 + analytics.teams.len());
                // Kept only for the dump (not timed): the handler commits each date's rows and drops them.
                if out.is_some() {
                    outputs.push(analytics);
                }
            }
            (days, read_time, compute_time, outputs)
        }
        _ => return Err(usage.into()),
    };
    let total = started.elapsed();
    let (player_rows, team_rows) = rows(&days);
    let (out_players, out_teams) = out_rows;
    if let Some(path) = out {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        for a in &outputs {
            dump(&mut file, a)?;
        }
        file.flush()?;
    }
    let summary = json!({"dates": days.len(), "objects": 2 * days.len(), "player_rows": player_rows,
        "team_rows": team_rows, "out_player_rows": out_players, "out_team_rows": out_teams,
        "read_s": read_time.as_secs_f64(), "compute_s": compute_time.as_secs_f64(), "total_s": total.as_secs_f64()});
    println!("{summary}");
    Ok(())
}
