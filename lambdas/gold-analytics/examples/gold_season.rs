//! The cost of the gold computation over a generated season (1230 games), as the handler pays it:
//! for every date, read the date's and every earlier date's silver Parquet back and compute.
//! `cargo run -p gold-analytics --example gold_season [--release] [-- SEED]`.

use std::time::{Duration, Instant};

use gold_analytics::silver::{read_players, read_teams};
use gold_analytics::{SilverDay, compute};
use hoopstat_fixtures::Generator;
use silver_processing::parquet_out::{players_parquet, teams_parquet};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(2024);
    let season = Generator::new(seed).season(2024);
    // Silver objects of every date, as silver-processing writes them.
    let mut silver = Vec::with_capacity(season.len());
    for day in &season {
        let t = silver_processing::transform(&day.to_bronze(), day.date)?;
        silver.push((day.date, players_parquet(&t.players)?, teams_parquet(&t.teams)?));
    }
    let silver_bytes: usize = silver.iter().map(|(_, p, t)| p.len() + t.len()).sum();
    let read = |(date, players, teams): &(chrono::NaiveDate, Vec<u8>, Vec<u8>)| -> Result<SilverDay, Box<dyn std::error::Error>> {
        Ok(SilverDay { date: *date, players: read_players(players)?, teams: read_teams(teams)? })
    };

    let (mut total_read, mut total_compute) = (Duration::ZERO, Duration::ZERO);
    let (mut player_rows, mut team_rows) = (0, 0);
    let mut last = (Duration::ZERO, Duration::ZERO, 0usize);
    for (i, entry) in silver.iter().enumerate() {
        let t0 = Instant::now();
        let day = read(entry)?;
        let earlier = silver[..i].iter().map(read).collect::<Result<Vec<_>, _>>()?;
        let read_time = t0.elapsed();
        let t1 = Instant::now();
        let a = compute(&day, &earlier)?;
        let compute_time = t1.elapsed();
        total_read += read_time;
        total_compute += compute_time;
        player_rows += a.players.len();
        team_rows += a.teams.len();
        last = (read_time, compute_time, silver[..=i].iter().map(|(_, p, t)| p.len() + t.len()).sum());
    }
    println!("dates: {}, silver objects: {}, silver bytes: {silver_bytes}", silver.len(), 2 * silver.len());
    println!("gold rows: {player_rows} player, {team_rows} team");
    println!("whole season, every date with its season context: read {total_read:?}, compute {total_compute:?}");
    println!(
        "last date: reads {} silver objects ({} bytes) in {:?}, computes in {:?}",
        2 * silver.len(),
        last.2,
        last.0,
        last.1
    );
    Ok(())
}
