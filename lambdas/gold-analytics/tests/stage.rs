//! The handler with an in-memory silver bucket and an in-memory sink: coalescing by date, season
//! listing, failures reported per message.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::NaiveDate;
use gold_analytics::stage::{AnalyticsSink, ConfigError, SilverStore, Stage, StoreError};
use gold_analytics::table::{CommitSummary, GoldRow, PLAYER_ANALYTICS, TEAM_ANALYTICS, TableError};
use hoopstat_fixtures::Generator;
use pipewright_common::log::{Captured, Logger};
use pipewright_common::{Input, Output, S3Location, StageEnv, StageInputs, TablesEnv};
use silver_processing::parquet_out::{players_parquet, teams_parquet};

const SILVER: &str = "hoopstat-haus-silver";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// `(bucket, key)` -> bytes.
type Objects = BTreeMap<(String, String), Vec<u8>>;
/// (table, date, rows, first row's `season_games`).
type Commit = (String, NaiveDate, usize, Option<i32>);

#[derive(Clone, Default)]
struct MemoryStore {
    objects: Arc<Mutex<Objects>>,
    gets: Arc<Mutex<Vec<String>>>,
}

impl MemoryStore {
    fn insert(&self, key: &str, body: Vec<u8>) {
        self.objects.lock().expect("lock").insert((SILVER.into(), key.into()), body);
    }
}

impl SilverStore for MemoryStore {
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.gets.lock().expect("lock").push(key.to_string());
        Ok(self.objects.lock().expect("lock").get(&(bucket.to_string(), key.to_string())).cloned())
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .objects
            .lock()
            .expect("lock")
            .keys()
            .filter(|(b, k)| b == bucket && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .collect())
    }
}

/// Records every commit: (table, date, rows, first row's `season_games`).
#[derive(Clone, Default)]
struct MemorySink {
    commits: Arc<Mutex<Vec<Commit>>>,
    fail_date: Option<NaiveDate>,
}

impl MemorySink {
    fn commits(&self) -> Vec<Commit> {
        self.commits.lock().expect("lock").clone()
    }
}

impl AnalyticsSink for MemorySink {
    async fn replace_date<R: GoldRow + Sync>(
        &self,
        table: &str,
        date: NaiveDate,
        rows: &[R],
    ) -> Result<CommitSummary, TableError> {
        if self.fail_date == Some(date) {
            return Err(TableError::Conflict { table: table.into(), date, attempts: 5 });
        }
        let season_games = rows.first().and_then(|r| match r.cell("season_games") {
            Some(gold_analytics::table::Cell::Int(v)) => v,
            _ => None,
        });
        self.commits.lock().expect("lock").push((table.into(), date, rows.len(), season_games));
        Ok(CommitSummary {
            table: table.into(),
            date,
            snapshot_id: 1,
            added_files: 1,
            added_records: rows.len() as u64,
            removed_files: 0,
            removed_records: 0,
            total_records: rows.len() as u64,
            attempts: 1,
        })
    }
}

fn template(name: &str) -> String {
    format!("silver/{name}/season={{season}}/date={{date}}/data.parquet")
}

fn env() -> (StageEnv, StageInputs) {
    let env = StageEnv {
        stage: "gold-analytics".into(),
        input: Some(Input { bucket: SILVER.into(), pattern: "silver/*.parquet".into() }),
        outputs: vec![],
        quarantine: None,
        tables: Some(TablesEnv {
            table_bucket_arn: "arn:aws:s3tables:us-east-1:123456789012:bucket/hoopstat-haus-gold-tables".into(),
            namespace: "basketball_analytics".into(),
            tables: vec![PLAYER_ANALYTICS.into(), TEAM_ANALYTICS.into()],
        }),
    };
    let inputs = StageInputs(
        ["player_stats", "team_stats"]
            .into_iter()
            .map(|n| Output { name: n.into(), location: S3Location { bucket: SILVER.into(), key: template(n) } })
            .collect(),
    );
    (env, inputs)
}

fn key(name: &str, d: NaiveDate) -> String {
    format!("silver/{name}/season={}/date={d}/data.parquet", silver_processing::season_of(d))
}

/// Puts a generated day's silver objects into the store; returns (players, teams).
fn put_day(store: &MemoryStore, g: &Generator, d: NaiveDate, games: usize) -> (usize, usize) {
    let t = silver_processing::transform(&g.day(d, games).to_bronze(), d).expect("transform");
    store.insert(&key("player_stats", d), players_parquet(&t.players).expect("parquet"));
    store.insert(&key("team_stats", d), teams_parquet(&t.teams).expect("parquet"));
    (t.players.len(), t.teams.len())
}

/// The message moto's S3 sends for a put of `key` (keys percent-encode `/` and `=`).
fn message(id: &str, key: &str) -> SqsMessage {
    let encoded = key.replace('/', "%2F").replace('=', "%3D");
    let mut m = SqsMessage::default();
    m.message_id = Some(id.into());
    m.body = Some(
        serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-28T17:07:54.285007", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "x",
                "bucket": {"name": SILVER, "arn": "arn:aws:s3:::hoopstat-haus-silver"},
                "object": {"key": encoded, "size": 2, "eTag": "x"}}}]})
        .to_string(),
    );
    m
}

fn batch(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut e = SqsEvent::default();
    e.records = messages;
    e
}

fn stage(store: &MemoryStore, sink: &MemorySink) -> (Stage<MemoryStore, MemorySink>, Captured) {
    let (env, inputs) = env();
    let (log, captured) = Logger::capture("gold-analytics");
    (Stage::new(&env, &inputs, store.clone(), sink.clone(), log).expect("config"), captured)
}

#[tokio::test]
async fn two_records_of_one_date_are_one_computation() {
    let store = MemoryStore::default();
    let g = Generator::new(3);
    let d = date(2024, 1, 15);
    let (players, teams) = put_day(&store, &g, d, 6);
    let sink = MemorySink::default();
    let (stage, captured) = stage(&store, &sink);
    let event = batch(vec![message("m1", &key("player_stats", d)), message("m2", &key("team_stats", d))]);
    let response = stage.handle(&event).await.expect("ids");
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        sink.commits(),
        vec![(PLAYER_ANALYTICS.into(), d, players, Some(1)), (TEAM_ANALYTICS.into(), d, teams, Some(1))]
    );
    let processed: Vec<_> = captured.lines().into_iter().filter(|l| l["message"] == "date processed").collect();
    assert_eq!(processed.len(), 1);
    assert_eq!(processed[0]["counts"]["objects"], 2);
    assert_eq!(processed[0]["date"], "2024-01-15");
}

#[tokio::test]
async fn two_dates_are_two_computations_with_season_context() {
    let store = MemoryStore::default();
    let g = Generator::new(3);
    let (d1, d2) = (date(2024, 1, 15), date(2024, 1, 16));
    put_day(&store, &g, d1, 15);
    put_day(&store, &g, d2, 15);
    // A date of the previous season and a later date: listed, but not part of the aggregates.
    put_day(&store, &g, date(2023, 3, 1), 15);
    put_day(&store, &g, date(2024, 1, 17), 15);
    let sink = MemorySink::default();
    let (stage, _) = stage(&store, &sink);
    let event = batch(vec![
        message("m1", &key("team_stats", d2)),
        message("m2", &key("player_stats", d1)),
        message("m3", &key("player_stats", d2)),
    ]);
    let response = stage.handle(&event).await.expect("ids");
    assert!(response.batch_item_failures.is_empty());
    let commits = sink.commits();
    let dates: Vec<(String, NaiveDate)> = commits.iter().map(|c| (c.0.clone(), c.1)).collect();
    assert_eq!(
        dates,
        vec![
            (PLAYER_ANALYTICS.into(), d1),
            (TEAM_ANALYTICS.into(), d1),
            (PLAYER_ANALYTICS.into(), d2),
            (TEAM_ANALYTICS.into(), d2)
        ]
    );
    // With 15 games a date every team plays every date: 1 game by d1, 2 by d2.
    assert_eq!(commits[1].3, Some(1));
    assert_eq!(commits[3].3, Some(2));
}

#[tokio::test]
async fn a_failing_date_fails_its_messages_and_others_still_commit() {
    let store = MemoryStore::default();
    let g = Generator::new(4);
    let (good, bad, missing) = (date(2024, 1, 15), date(2024, 1, 16), date(2024, 1, 18));
    put_day(&store, &g, good, 4);
    put_day(&store, &g, bad, 4);
    // `missing` has its player object only: the team object is not there (yet).
    let t = silver_processing::transform(&g.day(missing, 4).to_bronze(), missing).expect("transform");
    store.insert(&key("player_stats", missing), players_parquet(&t.players).expect("parquet"));
    let sink = MemorySink { fail_date: Some(bad), ..MemorySink::default() };
    let (stage, captured) = stage(&store, &sink);
    let event = batch(vec![
        message("m1", &key("player_stats", good)),
        message("m2", &key("player_stats", bad)),
        message("m3", &key("team_stats", bad)),
        message("m4", &key("player_stats", missing)),
        message("m5", "silver/other/file.parquet"),
        message("m6", &key("team_stats", good)),
    ]);
    let response = stage.handle(&event).await.expect("ids");
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, vec!["m2", "m3", "m4"]);
    let committed: Vec<NaiveDate> = sink.commits().iter().map(|c| c.1).collect();
    assert_eq!(committed, vec![good, good]);
    let errors: Vec<String> = captured
        .lines()
        .into_iter()
        .filter(|l| l["level"] == "ERROR")
        .filter_map(|l| l["error"].as_str().map(str::to_string))
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("table team_analytics, 2024-01-16: commit conflicted")
            || e.contains("table player_analytics, 2024-01-16: commit conflicted")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.contains(
            "s3://hoopstat-haus-silver/silver/team_stats/season=2023-24/date=2024-01-18/data.parquet does not exist"
        )),
        "{errors:#?}"
    );
}

#[test]
fn configuration_errors_name_what_is_missing() {
    let (env, inputs) = env();
    let (log, _) = Logger::capture("gold-analytics");
    let only_players = StageInputs(inputs.0.iter().filter(|o| o.name == "player_stats").cloned().collect());
    let err = Stage::new(&env, &only_players, MemoryStore::default(), MemorySink::default(), log.clone())
        .err()
        .expect("must fail");
    assert!(matches!(err, ConfigError::MissingInput { input: "team_stats", .. }), "{err}");
    let mut no_tables = env.clone();
    no_tables.tables = None;
    let err =
        Stage::new(&no_tables, &inputs, MemoryStore::default(), MemorySink::default(), log).err().expect("must fail");
    assert!(matches!(err, ConfigError::NoTables(_)), "{err}");
}
