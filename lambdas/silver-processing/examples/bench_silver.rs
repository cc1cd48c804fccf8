//! The Rust side of `scripts/bench-lambdas.py` (a benchmark driver, not part of the stage).
//!
//! - `bench_silver generate DIR [SEED] [SEASONS]`: writes the bronze documents of SEASONS generated seasons
//!   (1 by default: 2024-25; more: the seasons before it) (the fixture generator's) to
//!   `DIR/raw/box_scores/date=YYYY-MM-DD/data.json`, and one corrupted day (one game per
//!   `Corruption`, three valid games) to `DIR/corrupt/raw/box_scores/date=2025-01-15/data.json`; prints
//!   one JSON line per date (`date`, `games`, `bytes`, `path`).
//! - `bench_silver transform OUT PASSES FILE...`: for each pass, for each bronze file: read it, transform
//!   it ([`silver_processing::transform`], the date from the `date=` segment of its path), write the two
//!   Parquet objects ([`silver_processing::parquet_out`]) under `OUT` with the stage's key template
//!   (`silver/{table}/season={season}/date={date}/data.parquet`). Prints one JSON line: counts, the
//!   quarantined games and the time of every pass (file reads and writes included).

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use hoopstat_fixtures::{Corruption, Generator};
use pipewright_stage::key_field;
use serde_json::json;
use silver_processing::parquet_out::{players_parquet, teams_parquet};
use silver_processing::transform;

#[global_allocator]
static ALLOCATOR: silver_processing::Allocator = silver_processing::Allocator;

type Error = Box<dyn std::error::Error>;

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes)?;
    Ok(())
}

fn generate(dir: &Path, seed: u64, seasons: i32) -> Result<(), Error> {
    let generator = Generator::new(seed);
    for day in (2025 - seasons..2025).flat_map(|start| generator.season(start)) {
        let bytes = day.to_bronze();
        let path = dir.join(day.key());
        write(&path, &bytes)?;
        let line = json!({"date": day.date.to_string(), "games": day.games.len(), "bytes": bytes.len(),
            "path": path.display().to_string()});
        println!("{line}");
    }
    let date = NaiveDate::from_ymd_opt(2025, 1, 15).ok_or("date")?;
    let day = generator.day(date, Corruption::ALL.len() + 3);
    let corruptions: Vec<(usize, Corruption)> = Corruption::ALL.iter().copied().enumerate().collect();
    write(&dir.join("corrupt").join(day.key()), &day.to_bronze_with(&corruptions))?;
    Ok(())
}

fn transform_files(out: &Path, passes: usize, files: &[PathBuf]) -> Result<(), Error> {
    let mut times = Vec::with_capacity(passes);
    let mut summary = json!({});
    for _ in 0..passes {
        let started = Instant::now();
        let (mut bronze, mut games, mut players, mut teams, mut parquet) = (0, 0, 0, 0, 0);
        // Where the time goes: transform (JSON parse, validation, rows), Parquet encoding, file I/O.
        let (mut transform_s, mut parquet_s) = (0.0, 0.0);
        let mut quarantined = Vec::new();
        for file in files {
            let text = file.to_str().ok_or("path is not UTF-8")?;
            let date = key_field(text, "date")
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .ok_or_else(|| format!("{text}: no date= segment"))?;
            let bytes = std::fs::read(file)?;
            let t0 = Instant::now();
            let t = transform(&bytes, date)?;
            let t1 = Instant::now();
            let p = players_parquet(&t.players)?;
            let tm = teams_parquet(&t.teams)?;
            transform_s += (t1 - t0).as_secs_f64();
            parquet_s += t1.elapsed().as_secs_f64();
            for (table, body) in [("player_stats", &p), ("team_stats", &tm)] {
                let key = format!("silver/{table}/season={}/date={date}/data.parquet", t.season);
                write(&out.join(key), body)?;
            }
            bronze += bytes.len();
            games += t.games;
            players += t.players.len();
            teams += t.teams.len();
            parquet += p.len() + tm.len();
            for q in &t.quarantined {
                quarantined.push(json!({"date": date.to_string(), "game_id": q.game_id,
                    "classification": q.classification}));
            }
        }
        times.push(started.elapsed().as_secs_f64());
        summary = json!({"files": files.len(), "bronze_bytes": bronze, "games": games, "player_rows": players,
            "team_rows": teams, "parquet_bytes": parquet, "quarantined": quarantined,
            "transform_s": transform_s, "parquet_s": parquet_s});
    }
    summary["pass_s"] = json!(times);
    println!("{summary}");
    Ok(())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("generate") if args.len() >= 2 => {
            let seed = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(2024);
            let seasons: i32 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(1);
            if !(1..=50).contains(&seasons) {
                return Err(format!("SEASONS must be 1 to 50, not {seasons}").into());
            }
            generate(Path::new(&args[1]), seed, seasons)
        }
        Some("transform") if args.len() >= 4 => {
            let files: Vec<PathBuf> = args[3..].iter().map(PathBuf::from).collect();
            transform_files(Path::new(&args[1]), args[2].parse()?, &files)
        }
        _ => {
            Err("usage: bench_silver generate DIR [SEED] [SEASONS] | bench_silver transform OUT PASSES FILE...".into())
        }
    }
}
