//! The pure computation on real silver output: fixture days -> silver's transformation -> silver
//! Parquet -> read back -> analytics. Plus one hand-built game checked by hand.

use chrono::NaiveDate;
use gold_analytics::silver::{Projection, read_players, read_players_with, read_teams, read_teams_with};
use gold_analytics::{AnalyticsError, SilverDay, compute, formulas};
use hoopstat_fixtures::Generator;
use silver_processing::parquet_out::{players_parquet, teams_parquet};
use silver_processing::transform::{Counts, PlayerRow, TeamRow};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// A generated day through silver's transformation and Parquet, read back as the stage reads it.
fn silver_day(g: &Generator, d: NaiveDate, games: usize) -> SilverDay {
    let bronze = g.day(d, games).to_bronze();
    let t = silver_processing::transform(&bronze, d).expect("transform");
    assert!(t.quarantined.is_empty());
    let players = read_players(&players_parquet(&t.players).expect("players parquet")).expect("read players");
    let teams = read_teams(&teams_parquet(&t.teams).expect("teams parquet")).expect("read teams");
    assert_eq!(players, t.players, "silver player rows survive the Parquet round trip");
    assert_eq!(teams, t.teams, "silver team rows survive the Parquet round trip");
    SilverDay { date: d, players, teams }
}

/// The stage reads only the columns the analytics use: the analytics and the season totals of a
/// season's dates must not change (a field the computation starts to use must be added to the
/// projection, or this fails).
#[test]
fn the_analytics_projection_computes_the_same_as_every_column() {
    let g = Generator::new(21);
    let dates: Vec<NaiveDate> = (10..18).map(|d| date(2024, 1, d)).collect();
    let (mut full, mut projected) = (Vec::new(), Vec::new());
    for (i, d) in dates.iter().enumerate() {
        let t = silver_processing::transform(&g.day(*d, 3 + i).to_bronze(), *d).expect("transform");
        let (players, teams) = (players_parquet(&t.players).expect("p"), teams_parquet(&t.teams).expect("t"));
        full.push(SilverDay {
            date: *d,
            players: read_players(&players).expect("p"),
            teams: read_teams(&teams).expect("t"),
        });
        projected.push(SilverDay {
            date: *d,
            players: read_players_with(players.into(), Projection::Analytics).expect("p"),
            teams: read_teams_with(teams.into(), Projection::Analytics).expect("t"),
        });
        assert_ne!(full[i].players, projected[i].players, "the projection reads fewer columns");
    }
    for i in 0..dates.len() {
        let a = compute(&full[i], &full[..i]).expect("full");
        assert_eq!(compute(&projected[i], &projected[..i]).expect("projected"), a, "{}", dates[i]);
        assert_eq!(
            gold_analytics::DayTotals::of("2023-24", &projected[i]).expect("projected"),
            gold_analytics::DayTotals::of("2023-24", &full[i]).expect("full")
        );
    }
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn one_generated_day() {
    let g = Generator::new(11);
    let day = silver_day(&g, date(2024, 1, 15), 7);
    let a = compute(&day, &[]).expect("compute");
    assert_eq!(a.season, "2023-24");
    assert_eq!(a.teams.len(), 14);
    assert_eq!(a.players.len(), day.players.len());
    for t in &a.teams {
        let opponent = a.teams.iter().find(|o| o.game_id == t.game_id && o.team_id != t.team_id).expect("opponent");
        // Both teams of a game share possessions: same pace, mirrored ratings.
        assert_eq!(t.pace, opponent.pace);
        assert_eq!(t.offensive_rating, opponent.defensive_rating);
        assert!(close(t.net_rating.zip(opponent.net_rating).map(|(a, b)| a + b), 0.0));
        let pace = t.pace.expect("pace");
        assert!((80.0..130.0).contains(&pace), "implausible pace {pace}");
        let ts = t.true_shooting_pct.expect("ts");
        assert!((0.35..0.8).contains(&ts), "implausible team TS% {ts}");
        assert_eq!(t.season_games, 1);
        assert!(close(t.season_net_rating, t.net_rating.expect("net rating")));
        // Team rows agree with silver's totals.
        let silver = day.teams.iter().find(|s| s.team_id == t.team_id).expect("silver team");
        assert_eq!(t.points, silver.counts.points);
        let c = &silver.counts;
        assert_eq!(
            t.true_shooting_pct,
            formulas::true_shooting_pct(c.points, c.field_goals_attempted, c.free_throws_attempted)
        );
    }
    // Usage rates of a team's players who played sum to about 100 (minutes-weighted: exactly 100 x 5 /
    // 5 when every minute is covered).
    for t in &a.teams {
        let weighted: f64 = a
            .players
            .iter()
            .zip(&day.players)
            .filter(|(p, _)| p.team_id == t.team_id)
            .filter_map(|(p, s)| p.usage_rate.map(|u| u * s.minutes))
            .sum();
        let team_minutes = day.teams.iter().find(|s| s.team_id == t.team_id).map(|s| s.minutes).unwrap_or_default();
        assert!((weighted / team_minutes * 5.0 - 100.0).abs() < 1e-6, "weighted usage {weighted}");
    }
    for (p, s) in a.players.iter().zip(&day.players) {
        assert_eq!(p.player_id, s.player_id);
        if s.played {
            assert_eq!(p.season_games, 1);
            assert!(close(p.season_points_per_game, f64::from(s.counts.points)));
            assert_eq!(p.season_true_shooting_pct, p.true_shooting_pct);
        } else {
            assert_eq!(p.season_games, 0);
            assert_eq!(p.season_points_per_game, None);
            assert_eq!(p.usage_rate, None);
        }
    }
}

#[test]
fn season_aggregates_cover_earlier_dates_of_the_season_only() {
    let g = Generator::new(5);
    let days: Vec<SilverDay> =
        [date(2023, 10, 24), date(2023, 10, 25), date(2023, 10, 26)].iter().map(|d| silver_day(&g, *d, 15)).collect();
    let previous_season = silver_day(&g, date(2023, 4, 10), 15);
    let later = silver_day(&g, date(2023, 10, 27), 15);
    let mut context = vec![previous_season, later];
    context.extend(days[..2].iter().cloned());
    let a = compute(&days[2], &context).expect("compute");
    let counted = &days[..];
    for p in &a.players {
        let rows: Vec<&PlayerRow> =
            counted.iter().flat_map(|d| &d.players).filter(|r| r.player_id == p.player_id && r.played).collect();
        assert_eq!(p.season_games as usize, rows.len(), "player {}", p.player_id);
        if !rows.is_empty() {
            let points: i32 = rows.iter().map(|r| r.counts.points).sum();
            assert!(close(p.season_points_per_game, f64::from(points) / rows.len() as f64));
            let fga: i32 = rows.iter().map(|r| r.counts.field_goals_attempted).sum();
            let fta: i32 = rows.iter().map(|r| r.counts.free_throws_attempted).sum();
            assert_eq!(p.season_true_shooting_pct, formulas::true_shooting_pct(points, fga, fta));
        }
    }
    // Every team plays every date with 15 games: three games each.
    assert!(a.teams.iter().all(|t| t.season_games == 3));
    // Possession-weighted season net rating, recomputed here from the silver team rows.
    for t in &a.teams {
        let (mut diff, mut poss) = (0i32, 0.0);
        for d in counted {
            let own = d.teams.iter().find(|r| r.team_id == t.team_id).expect("played");
            let opp = d.teams.iter().find(|r| r.game_id == own.game_id && r.team_id != own.team_id).expect("opp");
            let p = |c: &Counts| {
                formulas::possessions(
                    c.field_goals_attempted,
                    c.free_throws_attempted,
                    c.rebounds_offensive,
                    c.turnovers,
                )
            };
            diff += own.counts.points - opp.counts.points;
            poss += (p(&own.counts) + p(&opp.counts)) / 2.0;
        }
        assert!(close(t.season_net_rating, 100.0 * f64::from(diff) / poss), "team {}", t.team_id);
    }
}

fn team(game: &str, id: i64, counts: Counts, opponent_points: i32) -> TeamRow {
    TeamRow {
        game_date: date(2024, 2, 1),
        season: "2023-24".into(),
        game_id: game.into(),
        team_id: id,
        team_city: "City".into(),
        team_name: "Name".into(),
        team_tricode: format!("T{id}"),
        team_slug: "slug".into(),
        is_home: id == 1,
        opponent_team_id: 3 - id,
        opponent_points,
        win: counts.points > opponent_points,
        minutes: 240.0,
        counts,
        plus_minus: f64::from(counts.points - opponent_points),
    }
}

fn player(id: i64, team_id: i64, minutes: f64, counts: Counts) -> PlayerRow {
    PlayerRow {
        game_date: date(2024, 2, 1),
        season: "2023-24".into(),
        game_id: "G1".into(),
        team_id,
        team_tricode: format!("T{team_id}"),
        opponent_team_id: 3 - team_id,
        is_home: team_id == 1,
        player_id: id,
        player_name: format!("Player {id}"),
        first_name: "Player".into(),
        family_name: id.to_string(),
        position: None,
        starter: true,
        played: minutes > 0.0,
        minutes,
        counts,
        plus_minus: 0.0,
    }
}

/// A hand-built game whose numbers are checked by hand.
#[test]
fn hand_checked_game() {
    // Home: 110 points, 88 FGA, 40 FGM, 12 3PM, 25 FTA, 10 OREB, 14 TOV, 24 AST.
    // Possessions 88 + 11 - 10 + 14 = 103.
    let home = Counts {
        points: 110,
        field_goals_made: 40,
        field_goals_attempted: 88,
        three_pointers_made: 12,
        free_throws_attempted: 25,
        free_throws_made: 18,
        rebounds_offensive: 10,
        turnovers: 14,
        assists: 24,
        ..Counts::default()
    };
    // Away: 99 points, 90 FGA, 20 FTA, 13 OREB, 16 TOV -> 90 + 8.8 - 13 + 16 = 101.8.
    let away = Counts {
        points: 99,
        field_goals_made: 38,
        field_goals_attempted: 90,
        three_pointers_made: 9,
        free_throws_attempted: 20,
        free_throws_made: 14,
        rebounds_offensive: 13,
        turnovers: 16,
        assists: 20,
        ..Counts::default()
    };
    // A home player: 30 points on 20 FGA (10 FGM, 4 3PM), 10 FTA, 3 TOV, 6 AST in 36 minutes.
    let star = Counts {
        points: 30,
        field_goals_made: 10,
        field_goals_attempted: 20,
        three_pointers_made: 4,
        free_throws_attempted: 10,
        free_throws_made: 6,
        turnovers: 3,
        assists: 6,
        ..Counts::default()
    };
    let day = SilverDay {
        date: date(2024, 2, 1),
        players: vec![player(7, 1, 36.0, star), player(8, 2, 0.0, Counts::default())],
        teams: vec![team("G1", 1, home, 99), team("G1", 2, away, 110)],
    };
    let a = compute(&day, &[]).expect("compute");
    let h = &a.teams[0];
    // Game possessions (103 + 101.8) / 2 = 102.4.
    assert!(close(h.pace, 102.4));
    assert!(close(h.offensive_rating, 100.0 * 110.0 / 102.4)); // 107.421875
    assert!(close(h.defensive_rating, 100.0 * 99.0 / 102.4)); // 96.6796875
    assert!(close(h.net_rating, 100.0 * 11.0 / 102.4)); // 10.7421875
    assert!(close(h.offensive_rating, 107.421875));
    assert!(close(h.true_shooting_pct, 110.0 / (2.0 * 99.0)));
    assert!(close(h.effective_fg_pct, 46.0 / 88.0));
    assert!(close(h.assist_turnover_ratio, 24.0 / 14.0));
    assert!(close(a.teams[1].net_rating, -10.7421875));
    let p = &a.players[0];
    assert!(close(p.true_shooting_pct, 30.0 / 48.8));
    assert!(close(p.effective_fg_pct, 0.6));
    assert!(close(p.assist_turnover_ratio, 2.0));
    // (20 + 4.4 + 3) x 48 / (36 x (88 + 11 + 14)) x 100 = 32.330383...
    assert!(close(p.usage_rate, 100.0 * 27.4 * 48.0 / (36.0 * 113.0)));
    assert!((p.usage_rate.unwrap_or_default() - 32.330383).abs() < 1e-6);
    let bench = &a.players[1];
    assert_eq!((bench.usage_rate, bench.true_shooting_pct, bench.season_games), (None, None, 0));

    // A player whose team has no row, a game with one team, rows of another date: errors.
    let mut broken = day.clone();
    broken.players[0].team_id = 9;
    assert!(matches!(compute(&broken, &[]), Err(AnalyticsError::PlayerWithoutTeam { player_id: 7, .. })));
    let mut broken = day.clone();
    broken.teams.pop();
    assert!(matches!(compute(&broken, &[]), Err(AnalyticsError::GameTeams { teams: 1, .. })));
    let mut broken = day.clone();
    broken.teams[0].game_date = date(2024, 2, 2);
    assert!(matches!(compute(&broken, &[]), Err(AnalyticsError::OtherDate { table: "team_stats", .. })));
}
