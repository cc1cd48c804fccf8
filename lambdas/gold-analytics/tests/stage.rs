//! The handler with an in-memory silver bucket and an in-memory sink: coalescing by date, season
//! listing, failures reported per message.

use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::NaiveDate;
use gold_analytics::stage::{AnalyticsSink, ConfigError, Stage};
use gold_analytics::table::{CommitSummary, GoldRow, PLAYER_ANALYTICS, TEAM_ANALYTICS, TableError};
use hoopstat_fixtures::contract::SILVER;
use hoopstat_fixtures::{Generator, contract};
use pipewright_stage::log::{Captured, Logger};
use pipewright_stage::store::MemoryStore;
use pipewright_stage::{Output, S3Location, StageEnv, StageInputs};
use silver_processing::parquet_out::{players_parquet, teams_parquet};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// (table, date, rows, first row's `season_games`).
type Commit = (String, NaiveDate, usize, Option<i32>);

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

fn env() -> (StageEnv, StageInputs) {
    contract::gold_env(contract::TABLE_BUCKET_ARN)
}

fn key(name: &str, d: NaiveDate) -> String {
    contract::silver_key(name, d)
}

/// Puts a generated day's silver objects into the store; returns (players, teams).
fn put_day(store: &MemoryStore, g: &Generator, d: NaiveDate, games: usize) -> (usize, usize) {
    let t = silver_processing::transform(&g.day(d, games).to_bronze(), d).expect("transform");
    store.insert(SILVER, &key("player_stats", d), players_parquet(&t.players).expect("parquet"));
    store.insert(SILVER, &key("team_stats", d), teams_parquet(&t.teams).expect("parquet"));
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
    store.insert(SILVER, &key("player_stats", missing), players_parquet(&t.players).expect("parquet"));
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

const STATE_KEY: &str = "state/gold-analytics/season=2023-24/season_totals.json";

/// The silver rows of `d` as stored (what `compute` is given when recomputing from silver).
fn silver_day(store: &MemoryStore, d: NaiveDate) -> gold_analytics::SilverDay {
    let players = store.object(SILVER, &key("player_stats", d)).expect("player object");
    let teams = store.object(SILVER, &key("team_stats", d)).expect("team object");
    gold_analytics::SilverDay {
        date: d,
        players: gold_analytics::silver::read_players(&players).expect("players"),
        teams: gold_analytics::silver::read_teams(&teams).expect("teams"),
    }
}

/// The analytics of `d` recomputed from every silver object of the season (the definition).
fn from_silver(store: &MemoryStore, d: NaiveDate, earlier: &[NaiveDate]) -> gold_analytics::Analytics {
    let earlier: Vec<_> = earlier.iter().map(|e| silver_day(store, *e)).collect();
    gold_analytics::compute(&silver_day(store, d), &earlier).expect("compute")
}

fn silver_gets(store: &MemoryStore) -> Vec<String> {
    store.gets().into_iter().filter(|k| k.starts_with("silver/")).collect()
}

#[tokio::test]
async fn the_season_state_replaces_rereading_the_season() {
    let store = MemoryStore::default();
    let g = Generator::new(5);
    let dates: Vec<NaiveDate> = (10..16).map(|d| date(2024, 1, d)).collect();
    for d in &dates {
        put_day(&store, &g, *d, 7);
    }
    let sink = MemorySink::default();
    let (stage, _) = stage(&store, &sink);
    // The first date processed (the 4th of the season) reads the three earlier dates once.
    let c = stage.compute_date(dates[3]).await.expect("compute");
    assert_eq!((c.earlier_dates, c.refreshed_dates, c.state_written), (3, 3, true));
    assert_eq!(c.analytics, from_silver(&store, dates[3], &dates[..3]));
    assert!(store.object(SILVER, STATE_KEY).is_some());
    // Later dates read only their own two objects (+ the 5th date, not yet in the state, for the 6th).
    for (i, d) in dates.iter().enumerate().skip(4) {
        let before = silver_gets(&store).len();
        let c = stage.compute_date(*d).await.expect("compute");
        assert_eq!(c.analytics, from_silver(&store, *d, &dates[..i]), "{d}");
        assert_eq!((c.earlier_dates, c.refreshed_dates), (i, 0), "{d}");
        assert_eq!(silver_gets(&store).len() - before, 2, "{d}");
    }
    // A duplicate delivery: same result, the state is not written again.
    let puts = store.puts().len();
    let again = stage.compute_date(dates[5]).await.expect("compute");
    assert_eq!(again.analytics, from_silver(&store, dates[5], &dates[..5]));
    assert!(!again.state_written);
    assert_eq!(store.puts().len(), puts);
}

#[tokio::test]
async fn a_changed_or_removed_earlier_date_is_read_again_and_replaced_not_added() {
    let store = MemoryStore::default();
    let g = Generator::new(6);
    let dates: Vec<NaiveDate> = (10..14).map(|d| date(2024, 1, d)).collect();
    for d in &dates {
        put_day(&store, &g, *d, 7);
    }
    let sink = MemorySink::default();
    let (stage, _) = stage(&store, &sink);
    // Out of order: the last date first, then an earlier one (its entry already there: replaced).
    stage.compute_date(dates[3]).await.expect("compute");
    let c = stage.compute_date(dates[1]).await.expect("compute");
    assert_eq!(c.analytics, from_silver(&store, dates[1], &dates[..1]));
    // Silver rewrites the second date with other games (a corrected bronze day): new ETags.
    let t = silver_processing::transform(&Generator::new(99).day(dates[1], 9).to_bronze(), dates[1]).expect("t");
    store.insert(SILVER, &key("player_stats", dates[1]), players_parquet(&t.players).expect("parquet"));
    store.insert(SILVER, &key("team_stats", dates[1]), teams_parquet(&t.teams).expect("parquet"));
    let c = stage.compute_date(dates[3]).await.expect("compute");
    assert_eq!(c.refreshed_dates, 1);
    assert_eq!(c.analytics, from_silver(&store, dates[3], &dates[..3]));
    // The first date disappears from silver: its entry is dropped.
    store.remove(SILVER, &key("player_stats", dates[0]));
    store.remove(SILVER, &key("team_stats", dates[0]));
    let c = stage.compute_date(dates[3]).await.expect("compute");
    assert_eq!((c.earlier_dates, c.refreshed_dates), (2, 0));
    assert_eq!(c.analytics, from_silver(&store, dates[3], &dates[1..3]));
    let state: serde_json::Value =
        serde_json::from_slice(&store.object(SILVER, STATE_KEY).expect("state")).expect("json");
    let keys: Vec<&String> = state["dates"].as_object().expect("dates").keys().collect();
    assert_eq!(keys, ["2024-01-11", "2024-01-12", "2024-01-13"]);
}

#[tokio::test]
async fn an_unusable_state_is_rebuilt_from_silver() {
    let store = MemoryStore::default();
    let g = Generator::new(7);
    let dates: Vec<NaiveDate> = (10..13).map(|d| date(2024, 1, d)).collect();
    for d in &dates {
        put_day(&store, &g, *d, 5);
    }
    store.insert(SILVER, STATE_KEY, b"{\"format\": 1, \"season\": \"2023-24\", \"dates\": {\"garbage\": 1}}".to_vec());
    let sink = MemorySink::default();
    let (stage, captured) = stage(&store, &sink);
    let c = stage.compute_date(dates[2]).await.expect("compute");
    assert_eq!((c.refreshed_dates, c.state_written), (2, true));
    assert_eq!(c.analytics, from_silver(&store, dates[2], &dates[..2]));
    assert!(captured.lines().iter().any(|l| l["level"] == "WARN" && l["key"] == STATE_KEY));
    let rebuilt = store.object(SILVER, STATE_KEY).expect("state");
    gold_analytics::season::SeasonState::parse(&rebuilt, "2023-24").expect("a valid state again");
}

#[tokio::test]
async fn a_batch_of_dates_lists_the_season_once_and_writes_the_state_once() {
    let store = MemoryStore::default();
    let g = Generator::new(8);
    let dates: Vec<NaiveDate> = (10..16).map(|d| date(2024, 1, d)).collect();
    for d in &dates {
        put_day(&store, &g, *d, 15);
    }
    // A later date with its player object only: it fails, the others keep their state entries.
    let late = date(2024, 1, 20);
    let t = silver_processing::transform(&g.day(late, 15).to_bronze(), late).expect("transform");
    store.insert(SILVER, &key("player_stats", late), players_parquet(&t.players).expect("parquet"));
    let sink = MemorySink::default();
    let (stage, captured) = stage(&store, &sink);
    // A replay: the batch holds dates 2..6 of the season (both objects each) and the incomplete date.
    let mut messages = Vec::new();
    for (i, d) in dates.iter().enumerate().skip(1) {
        messages.push(message(&format!("p{i}"), &key("player_stats", *d)));
        messages.push(message(&format!("t{i}"), &key("team_stats", *d)));
    }
    messages.push(message("late", &key("player_stats", late)));
    let response = stage.handle(&batch(messages)).await.expect("ids");
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["late"]);
    // Every date committed with its season context (15 games a date: every team plays every date).
    let team_games: Vec<(NaiveDate, Option<i32>)> =
        sink.commits().iter().filter(|c| c.0 == TEAM_ANALYTICS).map(|c| (c.1, c.3)).collect();
    let expected: Vec<(NaiveDate, Option<i32>)> = (1..6).map(|i| (dates[i], Some(i as i32 + 1))).collect();
    assert_eq!(team_games, expected);
    // One listing per silver table, one state write, every silver object read once (the first date's
    // season context: the date before it).
    assert_eq!(store.lists().len(), 2, "{:?}", store.lists());
    let state_puts: Vec<_> = store.puts().into_iter().filter(|p| p.key == STATE_KEY).collect();
    assert_eq!(state_puts.len(), 1);
    let mut gets = silver_gets(&store);
    gets.sort();
    gets.dedup();
    assert_eq!(silver_gets(&store).len(), gets.len(), "an object read twice");
    let state: serde_json::Value =
        serde_json::from_slice(&store.object(SILVER, STATE_KEY).expect("state")).expect("json");
    let keys: Vec<&String> = state["dates"].as_object().expect("dates").keys().collect();
    assert_eq!(keys, ["2024-01-10", "2024-01-11", "2024-01-12", "2024-01-13", "2024-01-14", "2024-01-15"]);
    let written: Vec<_> = captured.lines().into_iter().filter(|l| l["message"] == "season state written").collect();
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["counts"]["dates"], 5);
    // The next batch (a warm container) starts from the written state: only its own objects are read.
    let before = silver_gets(&store).len();
    let next = batch(vec![message("p", &key("player_stats", dates[5])), message("t", &key("team_stats", dates[5]))]);
    assert!(stage.handle(&next).await.expect("ids").batch_item_failures.is_empty());
    assert_eq!(silver_gets(&store).len() - before, 2);
}

/// A store on which another invocation writes the season state between this one's read and write.
#[derive(Clone)]
struct Racing {
    inner: MemoryStore,
    other: Arc<Mutex<Option<Vec<u8>>>>,
}

impl pipewright_stage::store::ObjectStore for Racing {
    async fn get_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<pipewright_stage::store::Object>, pipewright_stage::store::StoreError> {
        self.inner.get_object(bucket, key).await
    }

    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        condition: pipewright_stage::store::Condition,
    ) -> Result<pipewright_stage::store::Written, pipewright_stage::store::StoreError> {
        let other = self.other.lock().expect("lock").take();
        if let Some(other) = other {
            self.inner.insert(bucket, key, other);
        }
        self.inner.put_if(bucket, key, body, content_type, condition).await
    }

    fn object_limit(&self) -> pipewright_stage::ObjectLimit {
        self.inner.object_limit()
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<pipewright_stage::store::Listed>, pipewright_stage::store::StoreError> {
        self.inner.list(bucket, prefix).await
    }
}

#[tokio::test]
async fn a_concurrent_state_write_is_merged_not_lost() {
    let store = MemoryStore::default();
    let g = Generator::new(8);
    let dates: Vec<NaiveDate> = (10..13).map(|d| date(2024, 1, d)).collect();
    for d in &dates {
        put_day(&store, &g, *d, 5);
    }
    // Another invocation's state: an entry for the 12th only.
    let (other_stage, _) = stage(&store, &MemorySink::default());
    other_stage.compute_date(dates[2]).await.expect("compute");
    let mut other =
        gold_analytics::season::SeasonState::parse(&store.object(SILVER, STATE_KEY).expect("state"), "2023-24")
            .expect("state");
    other.dates.retain(|k, _| k == "2024-01-12");
    store.remove(SILVER, STATE_KEY);

    let racing = Racing { inner: store.clone(), other: Arc::new(Mutex::new(Some(other.to_bytes()))) };
    let (env, inputs) = env();
    let (log, _) = Logger::capture("gold-analytics");
    let stage = Stage::new(&env, &inputs, racing, MemorySink::default(), log).expect("config");
    // This invocation read no state (IfAbsent), the other one wrote first: 412, re-read, merged.
    let c = stage.compute_date(dates[1]).await.expect("compute");
    assert!(c.state_written);
    assert_eq!(c.analytics, from_silver(&store, dates[1], &dates[..1]));
    let merged =
        gold_analytics::season::SeasonState::parse(&store.object(SILVER, STATE_KEY).expect("state"), "2023-24")
            .expect("state");
    let keys: Vec<&String> = merged.dates.keys().collect();
    assert_eq!(keys, ["2024-01-10", "2024-01-11", "2024-01-12"]);
}

#[test]
fn a_state_key_that_would_trigger_the_stage_is_refused() {
    let (mut env, inputs) = env();
    env.outputs = vec![Output {
        name: "season_state".into(),
        location: S3Location { bucket: SILVER.into(), key: "silver/state/season={season}/x.parquet".into() },
    }];
    let (log, _) = Logger::capture("gold-analytics");
    let err = Stage::new(&env, &inputs, MemoryStore::default(), MemorySink::default(), log).err().expect("refused");
    assert!(matches!(err, ConfigError::StateTriggers { .. }), "{err}");
}

#[tokio::test]
async fn a_state_that_cannot_be_written_is_logged_and_the_date_still_succeeds() {
    let store = MemoryStore::default();
    let g = Generator::new(9);
    let dates: Vec<NaiveDate> = (10..13).map(|d| date(2024, 1, d)).collect();
    for d in &dates {
        put_day(&store, &g, *d, 5);
    }
    // As with a role that may not write the state key: every PUT there fails.
    store.fail_puts_containing(Some("state/"));
    let sink = MemorySink::default();
    let (stage, captured) = stage(&store, &sink);
    let response = stage.handle(&batch(vec![message("m1", &key("player_stats", dates[2]))])).await.expect("ids");
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(sink.commits().len(), 2);
    let c = stage.compute_date(dates[2]).await.expect("compute");
    assert_eq!((c.refreshed_dates, c.state_written), (2, false));
    assert_eq!(c.analytics, from_silver(&store, dates[2], &dates[..2]));
    assert!(store.object(SILVER, STATE_KEY).is_none());
    let errors: Vec<_> = captured.lines().into_iter().filter(|l| l["level"] == "ERROR").collect();
    assert!(!errors.is_empty() && errors.iter().all(|l| l["key"] == STATE_KEY), "{errors:#?}");
}
