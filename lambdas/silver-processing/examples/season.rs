//! Transforms a generated season (1230 games) and prints sizes and timings:
//! `cargo run -p silver-processing --example season [--release] [-- SEED]`.

use std::time::Instant;

use hoopstat_fixtures::Generator;
use silver_processing::parquet_out::{players_parquet, teams_parquet};
use silver_processing::transform;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(2024);
    let started = Instant::now();
    let season = Generator::new(seed).season(2024);
    let generated = started.elapsed();
    let (mut bronze, mut players, mut teams, mut rows, mut games) = (0, 0, 0, 0, 0);
    let mut slowest = (std::time::Duration::ZERO, String::new());
    let started = Instant::now();
    for day in &season {
        let doc = day.to_bronze();
        let t0 = Instant::now();
        let t = transform(&doc, day.date)?;
        let p = players_parquet(&t.players)?;
        let tm = teams_parquet(&t.teams)?;
        if t0.elapsed() > slowest.0 {
            slowest = (t0.elapsed(), day.date.to_string());
        }
        if !t.quarantined.is_empty() {
            return Err(format!("{}: {} records quarantined", day.date, t.quarantined.len()).into());
        }
        bronze += doc.len();
        players += p.len();
        teams += tm.len();
        rows += t.players.len();
        games += t.games;
    }
    let elapsed = started.elapsed();
    println!("dates: {}, games: {games}, player rows: {rows}", season.len());
    println!(
        "generation: {generated:?}; transform + Parquet: {elapsed:?} (slowest date {} in {:?})",
        slowest.1, slowest.0
    );
    println!("bronze JSON: {bronze} bytes; player Parquet: {players} bytes; team Parquet: {teams} bytes");
    Ok(())
}
