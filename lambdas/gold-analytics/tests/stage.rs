//! The handler with an in-memory silver bucket and an in-memory sink: coalescing by date, season
//! listing, failures reported per message.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::NaiveDate;
use gold_analytics::stage::{AnalyticsSink, ConfigError, Stage};
use gold_analytics::table::{CommitSummary, GoldRow, PLAYER_ANALYTICS, Replaced, TEAM_ANALYTICS, TableError};
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

/// A table's rows by date, each row rendered cell by cell.
type Rows = BTreeMap<NaiveDate, Vec<String>>;

/// Tables in memory with versions, as S3 Tables: a commit on an older version is a conflict. Records
/// every committed date: (table, date, rows, first row's `season_games`).
#[derive(Clone, Default)]
struct MemorySink {
    commits: Arc<Mutex<Vec<Commit>>>,
    /// Per table: its version and its rows by date (each row rendered cell by cell).
    tables: Arc<Mutex<BTreeMap<String, (u64, Rows)>>>,
    fail_date: Option<NaiveDate>,
}

impl MemorySink {
    fn commits(&self) -> Vec<Commit> {
        self.commits.lock().expect("lock").clone()
    }

    /// Every row of both tables, rendered.
    fn rows(&self) -> BTreeMap<String, Rows> {
        self.tables.lock().expect("lock").iter().map(|(t, (_, rows))| (t.clone(), rows.clone())).collect()
    }
}

fn render<R: GoldRow>(table: &str, row: &R) -> String {
    let columns: &[gold_analytics::table::Column] = if table == PLAYER_ANALYTICS {
        &gold_analytics::table::PLAYER_COLUMNS
    } else {
        &gold_analytics::table::TEAM_COLUMNS
    };
    columns.iter().map(|c| format!("{:?}", row.cell(c.name))).collect::<Vec<_>>().join("|")
}

impl AnalyticsSink for MemorySink {
    type Version = u64;

    async fn version(&self, table: &str, _date: NaiveDate) -> Result<u64, TableError> {
        // Concurrent invocations interleave here and at the commit, as they do on S3 Tables.
        tokio::task::yield_now().await;
        Ok(self.tables.lock().expect("lock").get(table).map_or(0, |(v, _)| *v))
    }

    async fn replace_dates<R: GoldRow + Send + Sync>(
        &self,
        table: &str,
        version: u64,
        rows: &BTreeMap<NaiveDate, Vec<R>>,
    ) -> Result<Replaced, TableError> {
        tokio::task::yield_now().await;
        if let Some(date) = self.fail_date.filter(|d| rows.contains_key(d)) {
            return Err(TableError::Conflict { table: table.into(), date, attempts: 5 });
        }
        let mut tables = self.tables.lock().expect("lock");
        let (current, stored) = tables.entry(table.to_string()).or_default();
        if *current != version {
            return Ok(Replaced::Conflict);
        }
        *current += 1;
        let mut commits = self.commits.lock().expect("lock");
        for (date, rows) in rows {
            let season_games = rows.first().and_then(|r| match r.cell("season_games") {
                Some(gold_analytics::table::Cell::Int(v)) => v,
                _ => None,
            });
            commits.push((table.into(), *date, rows.len(), season_games));
            let mut rendered: Vec<String> = rows.iter().map(|r| render(table, r)).collect();
            rendered.sort();
            stored.insert(*date, rendered);
        }
        let first = rows.keys().next().copied().unwrap_or_default();
        let added = rows.values().map(Vec::len).sum::<usize>() as u64;
        Ok(Replaced::Committed(CommitSummary {
            table: table.into(),
            date: first,
            dates: rows.len(),
            snapshot_id: i64::try_from(*current).unwrap_or_default(),
            added_files: rows.len() as u64,
            added_records: added,
            removed_files: 0,
            removed_records: 0,
            total_records: stored.values().map(Vec::len).sum::<usize>() as u64,
            attempts: 1,
        }))
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
async fn the_dates_of_a_season_are_one_computation_from_the_earliest_with_season_context() {
    let store = MemoryStore::default();
    let g = Generator::new(3);
    let (d1, d2) = (date(2024, 1, 15), date(2024, 1, 16));
    put_day(&store, &g, d1, 15);
    put_day(&store, &g, d2, 15);
    // A date of the previous season (listed, not part of the aggregates) and a later date of the season
    // (recomputed with the batch's dates: its season-to-date values depend on them).
    let later = date(2024, 1, 17);
    put_day(&store, &g, date(2023, 3, 1), 15);
    put_day(&store, &g, later, 15);
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
            (PLAYER_ANALYTICS.into(), d2),
            (PLAYER_ANALYTICS.into(), later),
            (TEAM_ANALYTICS.into(), d1),
            (TEAM_ANALYTICS.into(), d2),
            (TEAM_ANALYTICS.into(), later)
        ]
    );
    // With 15 games a date every team plays every date: 1 game by d1, 2 by d2, 3 by the later date.
    let team_games: Vec<Option<i32>> = commits[3..].iter().map(|c| c.3).collect();
    assert_eq!(team_games, [Some(1), Some(2), Some(3)]);
}

#[tokio::test]
async fn a_failing_season_fails_its_messages_and_other_seasons_still_commit() {
    let store = MemoryStore::default();
    let g = Generator::new(4);
    // Three seasons: one commits, one fails its commit, one misses an object.
    let (good, bad, missing) = (date(2024, 1, 15), date(2024, 11, 16), date(2023, 3, 1));
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
    assert!(errors.iter().any(|e| e.contains("table player_analytics, 2024-11-16: commit conflicted")), "{errors:#?}");
    assert!(
        errors.iter().any(|e| e.contains(
            "s3://hoopstat-haus-silver/silver/team_stats/season=2022-23/date=2023-03-01/data.parquet does not exist"
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
    // A later date with its player object only (silver is writing it): skipped, its team object's event
    // will recompute it.
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
    assert!(failed.is_empty(), "{failed:?}");
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

/// A memory store whose PUTs and listings go through hooks: the races of the tests below.
#[derive(Clone)]
struct Hooked<H> {
    inner: MemoryStore,
    hooks: H,
}

trait Hooks: Send + Sync {
    /// Before a PUT of `key` reaches the store.
    fn before_put(&self, _inner: &MemoryStore, _bucket: &str, _key: &str) {}

    /// What a listing of `prefix` returns, given what the store holds.
    fn listed(
        &self,
        _prefix: &str,
        listed: Vec<pipewright_stage::store::Listed>,
    ) -> impl std::future::Future<Output = Vec<pipewright_stage::store::Listed>> + Send {
        async { listed }
    }
}

impl<H: Hooks> pipewright_stage::store::ObjectStore for Hooked<H> {
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
        self.hooks.before_put(&self.inner, bucket, key);
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
        let listed = self.inner.list(bucket, prefix).await?;
        Ok(self.hooks.listed(prefix, listed).await)
    }
}

/// Another invocation writes the season state between this one's read and write.
#[derive(Clone)]
struct Racing {
    other: Arc<Mutex<Option<Vec<u8>>>>,
}

impl Hooks for Racing {
    fn before_put(&self, inner: &MemoryStore, bucket: &str, key: &str) {
        let other = self.other.lock().expect("lock").take();
        if let Some(other) = other {
            inner.insert(bucket, key, other);
        }
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

    let racing = Hooked { inner: store.clone(), hooks: Racing { other: Arc::new(Mutex::new(Some(other.to_bytes()))) } };
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

/// The dates of a season, eight games each (16 of 30 teams play each date: season-to-date values differ
/// from date to date and depend on which dates came before).
fn season_dates() -> Vec<NaiveDate> {
    (10..20).map(|d| date(2024, 1, d)).collect()
}

const SEASON_GAMES: usize = 8;

/// Silver writes each date of `order`, and gold handles the date's two messages right after, in one
/// batch per `chunk` dates; returns gold's tables.
async fn deliver(order: &[NaiveDate], chunk: usize) -> BTreeMap<String, Rows> {
    let store = MemoryStore::default();
    let g = Generator::new(11);
    let sink = MemorySink::default();
    let (stage, _) = stage(&store, &sink);
    for dates in order.chunks(chunk.max(1)) {
        let mut messages = Vec::new();
        for d in dates {
            put_day(&store, &g, *d, SEASON_GAMES);
            messages.push(message(&format!("p{d}"), &key("player_stats", *d)));
            messages.push(message(&format!("t{d}"), &key("team_stats", *d)));
        }
        let response = stage.handle(&batch(messages)).await.expect("ids");
        assert!(response.batch_item_failures.is_empty(), "{order:?}");
    }
    sink.rows()
}

/// Gold as a function of silver: every date computed with every earlier date of its season.
fn reference(dates: &[NaiveDate]) -> BTreeMap<String, Rows> {
    let store = MemoryStore::default();
    let g = Generator::new(11);
    for d in dates {
        put_day(&store, &g, *d, SEASON_GAMES);
    }
    let mut tables: BTreeMap<String, Rows> = BTreeMap::new();
    for (i, d) in dates.iter().enumerate() {
        let a = from_silver(&store, *d, &dates[..i]);
        let mut players: Vec<String> = a.players.iter().map(|r| render(PLAYER_ANALYTICS, r)).collect();
        let mut teams: Vec<String> = a.teams.iter().map(|r| render(TEAM_ANALYTICS, r)).collect();
        players.sort();
        teams.sort();
        tables.entry(PLAYER_ANALYTICS.into()).or_default().insert(*d, players);
        tables.entry(TEAM_ANALYTICS.into()).or_default().insert(*d, teams);
    }
    tables
}

#[tokio::test]
async fn dates_in_order_in_reverse_and_in_any_permutation_give_the_same_tables() {
    let dates = season_dates();
    let expected = reference(&dates);
    assert_eq!(deliver(&dates, 1).await, expected, "in order");
    let reversed: Vec<NaiveDate> = dates.iter().rev().copied().collect();
    assert_eq!(deliver(&reversed, 1).await, expected, "in reverse order");
    assert_eq!(deliver(&reversed, 3).await, expected, "in reverse order, three dates a batch");
    let seeds: u64 = std::env::var("GOLD_ORDER_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(24);
    for seed in 0..seeds {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut order = dates.clone();
        rng.shuffle(&mut order);
        let chunk = rng.usize(1..=4);
        assert_eq!(deliver(&order, chunk).await, expected, "seed {seed}: {order:?} in batches of {chunk}");
    }
}

#[tokio::test]
async fn a_replayed_or_corrected_middle_date_leaves_gold_equal_to_silver() {
    let dates = season_dates();
    let store = MemoryStore::default();
    let g = Generator::new(11);
    let sink = MemorySink::default();
    let (stage, _) = stage(&store, &sink);
    for d in &dates {
        put_day(&store, &g, *d, SEASON_GAMES);
        let messages = vec![message("p", &key("player_stats", *d)), message("t", &key("team_stats", *d))];
        assert!(stage.handle(&batch(messages)).await.expect("ids").batch_item_failures.is_empty());
    }
    let expected = reference(&dates);
    assert_eq!(sink.rows(), expected);
    // A replay of a middle date (the same silver objects): the same tables.
    let middle = dates[4];
    let replay = vec![message("r", &key("team_stats", middle))];
    assert!(stage.handle(&batch(replay.clone())).await.expect("ids").batch_item_failures.is_empty());
    assert_eq!(sink.rows(), expected);
    // Silver corrects the middle date (other games): that date and every later one change, as if the
    // season had been computed from the corrected silver.
    let other = Generator::new(12);
    put_day(&store, &other, middle, SEASON_GAMES);
    assert!(stage.handle(&batch(replay)).await.expect("ids").batch_item_failures.is_empty());
    let rows = sink.rows();
    let changed: Vec<NaiveDate> =
        dates.iter().copied().filter(|d| rows[TEAM_ANALYTICS][d] != expected[TEAM_ANALYTICS][d]).collect();
    assert_eq!(changed, dates[4..].to_vec(), "the corrected date and every later one");
    let recomputed: Vec<Vec<String>> = dates
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let a = from_silver(&store, *d, &dates[..i]);
            let mut teams: Vec<String> = a.teams.iter().map(|r| render(TEAM_ANALYTICS, r)).collect();
            teams.sort();
            teams
        })
        .collect();
    assert_eq!(rows[TEAM_ANALYTICS].values().cloned().collect::<Vec<_>>(), recomputed);
}

#[tokio::test]
async fn concurrent_batches_of_one_season_converge_to_the_same_tables() {
    let dates = season_dates();
    let expected = reference(&dates);
    let mut conflicts = 0;
    for seed in 0..8u64 {
        let store = MemoryStore::default();
        let g = Generator::new(11);
        let sink = MemorySink::default();
        // Two invocations (two warm containers) of the same function.
        let (one, one_log) = stage(&store, &sink);
        let (two, two_log) = stage(&store, &sink);
        let mut order = dates.clone();
        fastrand::Rng::with_seed(seed).shuffle(&mut order);
        for pair in order.chunks(2) {
            let events: Vec<SqsEvent> = pair
                .iter()
                .map(|d| {
                    put_day(&store, &g, *d, SEASON_GAMES);
                    batch(vec![message("p", &key("player_stats", *d)), message("t", &key("team_stats", *d))])
                })
                .collect();
            let (a, b) = match events.as_slice() {
                [a, b] => tokio::join!(one.handle(a), two.handle(b)),
                [a] => (one.handle(a).await, Ok(Default::default())),
                _ => unreachable!("chunks of two"),
            };
            assert!(a.expect("ids").batch_item_failures.is_empty(), "seed {seed}");
            assert!(b.expect("ids").batch_item_failures.is_empty(), "seed {seed}");
        }
        assert_eq!(sink.rows(), expected, "seed {seed}: {order:?}");
        conflicts += [one_log, two_log]
            .iter()
            .flat_map(|c| c.lines())
            .filter(|l| l["message"] == "commit conflict: recomputing on the new version")
            .count();
    }
    assert!(conflicts > 0, "the invocations raced for a commit at least once");
}

/// An invocation whose first listing of silver was taken before silver wrote `hidden` (its keys are
/// left out), and which goes on only once `gate` opens.
#[derive(Clone)]
struct ListedEarly {
    hidden: String,
    gate: Arc<Mutex<Option<futures::channel::oneshot::Receiver<()>>>>,
    /// The prefixes listed so far.
    early: Arc<Mutex<std::collections::BTreeSet<String>>>,
}

impl Hooks for ListedEarly {
    async fn listed(
        &self,
        prefix: &str,
        mut listed: Vec<pipewright_stage::store::Listed>,
    ) -> Vec<pipewright_stage::store::Listed> {
        // The first listing of each silver table is the early one.
        let early = self.early.lock().expect("lock").insert(prefix.to_string());
        if !early {
            return listed;
        }
        listed.retain(|l| !l.key.contains(&self.hidden));
        let gate = self.gate.lock().expect("lock").take();
        if let Some(gate) = gate {
            let _ = gate.await;
        }
        listed
    }
}

/// An invocation lists silver before a date is written there, and commits a later date after another
/// invocation committed that date: its commit must not win with values computed without the date.
#[tokio::test]
async fn a_commit_computed_from_an_older_listing_loses_and_is_recomputed() {
    let dates = season_dates();
    let store = MemoryStore::default();
    let g = Generator::new(11);
    let sink = MemorySink::default();
    let (one, _) = stage(&store, &sink);
    let (middle, last) = (dates[4], dates[9]);
    for d in dates.iter().filter(|d| **d != middle) {
        put_day(&store, &g, *d, SEASON_GAMES);
    }
    put_day(&store, &g, middle, SEASON_GAMES);
    let (open, gate) = futures::channel::oneshot::channel();
    let early = Hooked {
        inner: store.clone(),
        hooks: ListedEarly {
            hidden: format!("date={middle}"),
            gate: Arc::new(Mutex::new(Some(gate))),
            early: Arc::default(),
        },
    };
    let (env, inputs) = env();
    let (log, captured) = Logger::capture("gold-analytics");
    let two = Stage::new(&env, &inputs, early, sink.clone(), log).expect("config");
    let of = |d: NaiveDate| batch(vec![message("p", &key("player_stats", d)), message("t", &key("team_stats", d))]);
    let (late, early_date) = (of(last), of(middle));
    let (b, a) = tokio::join!(two.handle(&late), async {
        let done = one.handle(&early_date).await;
        let _ = open.send(());
        done
    });
    assert!(a.expect("ids").batch_item_failures.is_empty());
    assert!(b.expect("ids").batch_item_failures.is_empty());
    let expected = reference(&dates);
    let rows = sink.rows();
    let wrong: Vec<(&String, &NaiveDate)> = rows
        .iter()
        .flat_map(|(t, by_date)| {
            by_date.iter().filter(|(d, r)| expected[t].get(*d) != Some(*r)).map(move |(d, _)| (t, d))
        })
        .collect();
    assert!(wrong.is_empty(), "dates that differ from silver: {wrong:?}");
    let written: Vec<NaiveDate> = rows[TEAM_ANALYTICS].keys().copied().collect();
    assert_eq!(written, dates[4..].to_vec());
    assert!(captured.lines().iter().any(|l| l["message"] == "commit conflict: recomputing on the new version"));
}
