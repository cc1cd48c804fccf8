//! The pure transformation, on generated fixtures; Parquet read back.

use arrow::array::{Array, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use hoopstat_fixtures::{Corruption, Day, Generator};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use silver_processing::parquet_out::{CREATED_BY, players_parquet, teams_parquet};
use silver_processing::transform::{Classification, TransformError, code, parse_minutes};
use silver_processing::{season_of, transform};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn read(bytes: Vec<u8>) -> RecordBatch {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).expect("parquet");
    let meta = builder.metadata().clone();
    assert_eq!(meta.file_metadata().created_by(), Some(CREATED_BY));
    for rg in meta.row_groups() {
        for col in rg.columns() {
            assert!(matches!(col.compression(), Compression::ZSTD(_)), "{:?}", col.compression());
        }
    }
    let batches: Vec<RecordBatch> = builder.build().expect("reader").collect::<Result<_, _>>().expect("batches");
    let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| meta_schema(&meta));
    arrow::compute::concat_batches(&schema, &batches).expect("concat")
}

fn meta_schema(meta: &parquet::file::metadata::ParquetMetaData) -> arrow::datatypes::SchemaRef {
    std::sync::Arc::new(
        parquet::arrow::parquet_to_arrow_schema(meta.file_metadata().schema_descr(), None).expect("schema"),
    )
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch.column_by_name(name).unwrap_or_else(|| panic!("column {name}")).as_any().downcast_ref::<T>().expect(name)
}

#[test]
fn seasons_and_minutes() {
    assert_eq!(season_of(date(2024, 1, 15)), "2023-24");
    assert_eq!(season_of(date(2024, 10, 22)), "2024-25");
    assert_eq!(season_of(date(1999, 11, 2)), "1999-00");
    assert_eq!(season_of(date(2025, 6, 20)), "2024-25");
    let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
    assert!(close(parse_minutes("36:24"), 36.4));
    assert!(close(parse_minutes("PT36M24S"), 36.4));
    assert!(close(parse_minutes("PT36M24.00S"), 36.4));
    assert!(close(parse_minutes("PT1H2M"), 62.0));
    assert!(close(parse_minutes("240:00"), 240.0));
    assert!(close(parse_minutes(""), 0.0));
    for bad in ["36", "PT", "PT36X", "36:75", "abc", "PT-3M", "-1:00"] {
        assert_eq!(parse_minutes(bad), None, "{bad}");
    }
}

#[test]
fn valid_day_becomes_typed_rows() {
    let day = Generator::new(11).day(date(2024, 1, 15), 7);
    let t = transform(&day.to_bronze(), day.date).expect("transforms");
    assert_eq!(t.season, "2023-24");
    assert_eq!(t.games, 7);
    assert!(t.quarantined.is_empty(), "{:?}", t.quarantined);
    assert_eq!(t.teams.len(), 14);
    let expected_players: usize = day
        .games
        .iter()
        .map(|g| g.box_score_traditional.home_team.players.len() + g.box_score_traditional.away_team.players.len())
        .sum();
    assert_eq!(t.players.len(), expected_players);

    let players = read(players_parquet(&t.players).expect("parquet"));
    assert_eq!(players.num_rows(), expected_players);
    let schema = players.schema();
    assert_eq!(schema.field_with_name("game_date").expect("f").data_type(), &DataType::Date32);
    assert_eq!(schema.field_with_name("player_id").expect("f").data_type(), &DataType::Int64);
    assert_eq!(schema.field_with_name("minutes").expect("f").data_type(), &DataType::Float64);
    assert_eq!(schema.field_with_name("points").expect("f").data_type(), &DataType::Int32);
    assert!(schema.field_with_name("position").expect("f").is_nullable());
    assert!(!schema.field_with_name("points").expect("f").is_nullable());
    let dates = col::<Date32Array>(&players, "game_date");
    assert!((0..dates.len()).all(|i| dates.value_as_date(i) == Some(date(2024, 1, 15))));
    assert!(col::<StringArray>(&players, "season").iter().all(|s| s == Some("2023-24")));

    // Every generated player is in the file with its minutes converted and its counts intact.
    let ids = col::<Int64Array>(&players, "player_id");
    let minutes = col::<Float64Array>(&players, "minutes");
    let points = col::<Int32Array>(&players, "points");
    let rebounds = col::<Int32Array>(&players, "rebounds_total");
    let game_ids = col::<StringArray>(&players, "game_id");
    let positions = col::<StringArray>(&players, "position");
    let played = col::<BooleanArray>(&players, "played");
    for g in &day.games {
        let bs = &g.box_score_traditional;
        for p in bs.home_team.players.iter().chain(&bs.away_team.players) {
            let row = (0..players.num_rows())
                .find(|&i| ids.value(i) == p.person_id && game_ids.value(i) == bs.game_id)
                .unwrap_or_else(|| panic!("player {} missing", p.person_id));
            let expected_minutes = parse_minutes(&p.statistics.minutes).expect("fixture minutes");
            assert!((minutes.value(row) - expected_minutes).abs() < 1e-9);
            assert_eq!(i64::from(points.value(row)), p.statistics.points);
            assert_eq!(i64::from(rebounds.value(row)), p.statistics.rebounds_total);
            assert_eq!(positions.is_null(row), p.position.is_empty());
            assert_eq!(played.value(row), expected_minutes > 0.0);
        }
    }

    let teams = read(teams_parquet(&t.teams).expect("parquet"));
    assert_eq!(teams.num_rows(), 14);
    let win = col::<BooleanArray>(&teams, "win");
    let team_points = col::<Int32Array>(&teams, "points");
    let opp = col::<Int32Array>(&teams, "opponent_points");
    let team_minutes = col::<Float64Array>(&teams, "minutes");
    assert_eq!((0..14).filter(|&i| win.value(i)).count(), 7);
    for i in 0..14 {
        assert_eq!(win.value(i), team_points.value(i) > opp.value(i));
        assert!(team_minutes.value(i) >= 240.0);
    }
}

#[test]
fn empty_day_gives_empty_files_with_schema() {
    let day = Day::empty(date(2024, 12, 24));
    let t = transform(&day.to_bronze(), day.date).expect("transforms");
    assert_eq!((t.games, t.players.len(), t.teams.len(), t.quarantined.len()), (0, 0, 0, 0));
    let players = read(players_parquet(&t.players).expect("parquet"));
    assert_eq!(players.num_rows(), 0);
    assert!(players.schema().field_with_name("true_shooting_pct").is_err());
    assert!(players.schema().field_with_name("plus_minus").is_ok());
    assert_eq!(read(teams_parquet(&t.teams).expect("parquet")).num_rows(), 0);
}

#[test]
fn malformed_documents_are_errors() {
    let d = date(2024, 1, 15);
    assert!(matches!(transform(b"{\"date\": \"2024-01-15\", \"games\": [", d), Err(TransformError::NotJson(_))));
    assert!(matches!(transform(b"[1, 2]", d), Err(TransformError::Shape(_))));
    assert!(matches!(transform(b"{\"date\": \"2024-01-15\"}", d), Err(TransformError::Shape(_))));
    assert!(matches!(transform(b"{\"date\": \"15/01/2024\", \"games\": []}", d), Err(TransformError::BadDate(_))));
    let other = Day::empty(date(2024, 1, 16)).to_bronze();
    assert!(matches!(transform(&other, d), Err(TransformError::DateMismatch { .. })));
}

#[test]
fn every_corruption_is_quarantined_with_its_code_and_neighbours_go_on() {
    let day = Generator::new(5).day(date(2024, 2, 2), 3);
    let cases = [
        (Corruption::MadeOverAttempted, Classification::Invariant, code::MADE_ABOVE_ATTEMPTED, "fieldGoalsMade"),
        (Corruption::ThreesOverFieldGoals, Classification::Invariant, code::MADE_ABOVE_ATTEMPTED, "threePointersMade"),
        (Corruption::ReboundSum, Classification::Invariant, code::REBOUNDS_SUM, "reboundsTotal"),
        (Corruption::NegativeCount, Classification::Invariant, code::NEGATIVE, "steals is negative (-1)"),
        (Corruption::ImplausiblePoints, Classification::Range, code::PLAYER_POINTS, "points 130 > 100"),
        (Corruption::ImplausibleMinutes, Classification::Range, code::PLAYER_MINUTES, "> the game's 48 minutes"),
        (Corruption::SameTeams, Classification::Consistency, code::SAME_TEAMS, "home team = away team"),
        (Corruption::Tie, Classification::Consistency, code::TIE, "tie at"),
        (Corruption::TeamPointsOutOfRange, Classification::Range, code::TEAM_POINTS, "points 45 outside 60..=200"),
        (Corruption::TeamSumMismatch, Classification::Consistency, code::POINTS_SUM, "player points sum to"),
        (Corruption::MissingField, Classification::Schema, code::SCHEMA, "gameId"),
        (Corruption::WrongType, Classification::Schema, code::SCHEMA, "invalid type"),
        (
            Corruption::TeamMinutesMismatch,
            Classification::Consistency,
            code::TEAM_MINUTES_SUM,
            "its players' sum to 240.00",
        ),
        (Corruption::TeamTotalMismatch, Classification::Consistency, code::TEAM_TOTAL, "assists"),
        (
            Corruption::PointsWithoutMinutes,
            Classification::Consistency,
            code::STATS_WITHOUT_MINUTES,
            "with zero minutes",
        ),
    ];
    assert_eq!(cases.len(), Corruption::ALL.len(), "every corruption has a case");
    for (c, expected, rule, fragment) in cases {
        let t = transform(&day.to_bronze_with(&[(1, c)]), day.date).expect("transforms");
        assert_eq!(t.quarantined.len(), 1, "{c:?}");
        let q = &t.quarantined[0];
        assert_eq!(q.index, 1);
        assert!(
            q.issues.iter().any(|i| i.classification == expected && i.code == rule && i.reason.contains(fragment)),
            "{c:?}: {:?}",
            q.issues
        );
        assert!(!q.issues.is_empty() && q.issues.iter().all(|i| !i.reason.is_empty() && !i.code.is_empty()));
        assert!(q.record["boxScoreTraditional"]["homeTeam"]["teamId"].is_number());
        assert_eq!(t.teams.len(), 4, "{c:?}: the two other games go on");
        let bad_id = &day.games[1].box_score_traditional.game_id;
        assert!(t.players.iter().all(|p| &p.game_id != bad_id));
        assert!(t.teams.iter().all(|p| &p.game_id != bad_id));
        if c != Corruption::MissingField {
            assert_eq!(q.game_id.as_deref(), Some(bad_id.as_str()));
        }
    }
    // The corruptions of one rule break that rule alone (and what follows from it), not the sums.
    for c in [Corruption::MadeOverAttempted, Corruption::ReboundSum, Corruption::ImplausibleMinutes] {
        let t = transform(&day.to_bronze_with(&[(1, c)]), day.date).expect("transforms");
        let codes: Vec<&str> = t.quarantined[0].issues.iter().map(|i| i.code).collect();
        assert!(!codes.contains(&code::TEAM_TOTAL) && !codes.contains(&code::TEAM_MINUTES_SUM), "{c:?}: {codes:?}");
    }
}

#[test]
fn generated_games_pass_every_rule() {
    for seed in [1, 2024, 77] {
        let g = Generator::new(seed);
        for day in g.season(2023) {
            let t = transform(&day.to_bronze(), day.date).expect("transforms");
            assert!(t.quarantined.is_empty(), "seed {seed}, {}: {:?}", day.date, t.quarantined[0].issues);
        }
    }
}

fn game_json(day: &Day, index: usize) -> serde_json::Value {
    day.to_value()["games"][index].clone()
}

#[test]
fn overtime_lengthens_the_game_and_team_rebounds_and_turnovers_are_allowed() {
    let day = Generator::new(6).day(date(2024, 3, 1), 1);
    let mut game = game_json(&day, 0);
    // One overtime: both teams 265 minutes; the extra 25 to the home team's first player and others.
    for side in ["homeTeam", "awayTeam"] {
        let team = &mut game["boxScoreTraditional"][side];
        team["statistics"]["minutes"] = serde_json::json!("265:00");
        let mut left = 25 * 60;
        for p in team["players"].as_array_mut().expect("players") {
            let m = parse_minutes(p["statistics"]["minutes"].as_str().unwrap_or("")).expect("minutes");
            let seconds = (m * 60.0).round() as i64;
            if seconds == 0 {
                continue;
            }
            let add = (53 * 60 - seconds).min(left);
            left -= add;
            p["statistics"]["minutes"] =
                serde_json::json!(format!("{}:{:02}", (seconds + add) / 60, (seconds + add) % 60));
        }
        assert_eq!(left, 0);
        // Team rebounds and turnovers a feed credits to no player.
        let s = &mut team["statistics"];
        for field in ["reboundsDefensive", "reboundsTotal", "turnovers"] {
            s[field] = serde_json::json!(s[field].as_i64().unwrap_or(0) + 2);
        }
    }
    let doc = serde_json::json!({"date": "2024-03-01", "games": [game.clone()]});
    let t = transform(&serde_json::to_vec(&doc).expect("json"), day.date).expect("transforms");
    assert!(t.quarantined.is_empty(), "{:?}", t.quarantined.first().map(|q| &q.issues));
    assert!(t.players.iter().any(|p| p.minutes > 48.0), "a player above regulation in an overtime game");
    // Fewer team rebounds than the players': a mismatch.
    game["boxScoreTraditional"]["homeTeam"]["statistics"]["reboundsOffensive"] = serde_json::json!(0);
    let doc = serde_json::json!({"date": "2024-03-01", "games": [game]});
    let t = transform(&serde_json::to_vec(&doc).expect("json"), day.date).expect("transforms");
    assert!(
        t.quarantined[0].issues.iter().any(|i| i.code == code::TEAM_TOTAL && i.reason.contains("reboundsOffensive"))
    );
}

#[test]
fn copies_of_a_game_that_differ_are_all_quarantined() {
    let day = Generator::new(6).day(date(2024, 3, 1), 2);
    let mut doc = day.to_value();
    let mut copy = doc["games"][0].clone();
    copy["boxScoreTraditional"]["homeTeam"]["players"][0]["statistics"]["assists"] = serde_json::json!(99);
    doc["games"].as_array_mut().expect("games").push(copy);
    let t = transform(&serde_json::to_vec(&doc).expect("json"), day.date).expect("transforms");
    assert_eq!(t.teams.len(), 2, "only the other game is kept");
    let conflicting: Vec<usize> = t
        .quarantined
        .iter()
        .filter(|q| q.issues.iter().any(|i| i.code == code::CONFLICTING_COPIES))
        .map(|q| q.index)
        .collect();
    assert_eq!(conflicting, [0, 2]);
    assert!(t.quarantined[0].issues[0].reason.contains("positions 0, 2"), "{:?}", t.quarantined[0].issues);
}

#[test]
fn same_input_same_bytes_whatever_the_game_order() {
    let day = Generator::new(9).day(date(2024, 1, 15), 9);
    let a = transform(&day.to_bronze(), day.date).expect("a");
    let b = transform(&day.to_bronze(), day.date).expect("b");
    let pa = players_parquet(&a.players).expect("pa");
    assert_eq!(pa, players_parquet(&b.players).expect("pb"));
    assert_eq!(teams_parquet(&a.teams).expect("ta"), teams_parquet(&b.teams).expect("tb"));
    let mut reversed = day.clone();
    reversed.games.reverse();
    let r = transform(&reversed.to_bronze(), day.date).expect("r");
    assert_eq!(players_parquet(&r.players).expect("pr"), pa);
    // And different input, different bytes.
    let other = Generator::new(10).day(date(2024, 1, 15), 9);
    let o = transform(&other.to_bronze(), other.date).expect("o");
    assert_ne!(players_parquet(&o.players).expect("po"), pa);
}

#[test]
fn a_whole_season_transforms_without_quarantine() {
    let season = Generator::new(2023).season(2023);
    let mut games = 0;
    for day in &season {
        let t = transform(&day.to_bronze(), day.date).expect("transforms");
        assert!(t.quarantined.is_empty(), "{}: {:?}", day.date, t.quarantined.first().map(|q| &q.issues));
        assert!(t.season == "2023-24");
        games += t.teams.len() / 2;
    }
    assert_eq!(games, 1230);
}
