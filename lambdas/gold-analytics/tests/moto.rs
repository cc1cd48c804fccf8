//! The stage against a local moto server (no AWS): silver Parquet in moto's S3, the gold tables in
//! moto's S3 Tables (table bucket, namespace, tables created through the API and the catalog), the
//! handler's Iceberg commits read back through an Iceberg scan.
//!
//! Runs against the project's local AWS (`scripts/emulator/pipewright_moto.py`: moto 5.2.1 with
//! pipewright's patches, among them the S3 Tables response shapes the SDK needs), started by
//! `pipewright_stage::local_aws`; needs `python3` with `pip install -r requirements-dev.txt`. Run with
//! `cargo test -p gold-analytics --test moto -- --ignored`.

use std::collections::BTreeMap;
use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Float64Type, Int32Type, Int64Type};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use chrono::NaiveDate;
use gold_analytics::silver::{read_players, read_teams};
use gold_analytics::stage::{S3Store, Stage};
use gold_analytics::table::{GoldTables, PLAYER_ANALYTICS, PLAYER_COLUMNS, TEAM_ANALYTICS, TEAM_COLUMNS, TablesConfig};
use gold_analytics::{Analytics, SilverDay, compute};
use hoopstat_fixtures::contract::{BRONZE, NAMESPACE, SILVER, TABLE_BUCKET};
use hoopstat_fixtures::{Generator, contract};
use pipewright_stage::local_aws::LocalAws;
use pipewright_stage::log::Logger;
use silver_processing::parquet_out::{players_parquet, teams_parquet};

fn start_moto() -> (LocalAws, String) {
    let local = LocalAws::start().expect("the local AWS (python3 with requirements-dev.txt)");
    let url = local.endpoint.clone();
    (local, url)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn key(name: &str, d: NaiveDate) -> String {
    contract::silver_key(name, d)
}

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

fn failures(r: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    r.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

/// Generates a day, transforms it as silver does, PUTs both objects; returns the silver rows.
async fn put_day(s3: &aws_sdk_s3::Client, g: &Generator, d: NaiveDate, games: usize) -> SilverDay {
    let t = silver_processing::transform(&g.day(d, games).to_bronze(), d).expect("transform");
    let players = players_parquet(&t.players).expect("parquet");
    let teams = teams_parquet(&t.teams).expect("parquet");
    for (name, body) in [("player_stats", &players), ("team_stats", &teams)] {
        s3.put_object().bucket(SILVER).key(key(name, d)).body(body.clone().into()).send().await.expect("put silver");
    }
    SilverDay {
        date: d,
        players: read_players(&players).expect("read back"),
        teams: read_teams(&teams).expect("read back"),
    }
}

/// Scanned rows keyed by (date in days, player or team id): column -> value.
type Rows = BTreeMap<(i32, i64), BTreeMap<String, serde_json::Value>>;

/// Both tables' rows through an Iceberg scan of their current snapshots.
async fn read(reader: &GoldTables) -> (Rows, Rows) {
    let players = rows_by_key(&reader.scan_all(PLAYER_ANALYTICS).await.expect("scan players"), "player_id");
    let teams = rows_by_key(&reader.scan_all(TEAM_ANALYTICS).await.expect("scan teams"), "team_id");
    (players, teams)
}

/// Scanned rows keyed by (date, id): the columns as JSON values, for comparison.
fn rows_by_key(batches: &[RecordBatch], id_column: &str) -> Rows {
    let mut rows = BTreeMap::new();
    for b in batches {
        let dates = b.column_by_name("game_date").expect("game_date").as_primitive::<Date32Type>();
        let ids = b.column_by_name(id_column).expect("id").as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            let mut row = BTreeMap::new();
            for (field, column) in b.schema().fields().iter().zip(b.columns()) {
                let value = if column.is_null(i) {
                    serde_json::Value::Null
                } else if let Some(a) = column.as_primitive_opt::<Float64Type>() {
                    serde_json::json!(a.value(i))
                } else if let Some(a) = column.as_primitive_opt::<Int32Type>() {
                    serde_json::json!(a.value(i))
                } else if let Some(a) = column.as_primitive_opt::<Int64Type>() {
                    serde_json::json!(a.value(i))
                } else if let Some(a) = column.as_primitive_opt::<Date32Type>() {
                    serde_json::json!(a.value(i))
                } else if let Some(a) = column.as_string_opt::<i32>() {
                    serde_json::json!(a.value(i))
                } else {
                    panic!("unexpected column type {}", column.data_type())
                };
                row.insert(field.name().clone(), value);
            }
            let previous = rows.insert((dates.value(i), ids.value(i)), row);
            assert!(previous.is_none(), "duplicate row for ({}, {})", dates.value(i), ids.value(i));
        }
    }
    rows
}

fn days(d: NaiveDate) -> i32 {
    (d - date(1970, 1, 1)).num_days() as i32
}

fn opt(v: Option<f64>) -> serde_json::Value {
    v.map_or(serde_json::Value::Null, |v| serde_json::json!(v))
}

/// Every expected row is in the table with exactly these values.
fn assert_matches(
    players: &BTreeMap<(i32, i64), BTreeMap<String, serde_json::Value>>,
    teams: &BTreeMap<(i32, i64), BTreeMap<String, serde_json::Value>>,
    expected: &Analytics,
) {
    let d = days(expected.date);
    for p in &expected.players {
        let row =
            players.get(&(d, p.player_id)).unwrap_or_else(|| panic!("player {} of {}", p.player_id, expected.date));
        assert_eq!(row["season"], serde_json::json!(p.season));
        assert_eq!(row["player_name"], serde_json::json!(p.player_name));
        assert_eq!(row["team_id"], serde_json::json!(p.team_id));
        assert_eq!(row["minutes"], serde_json::json!(p.minutes));
        assert_eq!(row["points"], serde_json::json!(p.points));
        assert_eq!(row["true_shooting_pct"], opt(p.true_shooting_pct));
        assert_eq!(row["effective_fg_pct"], opt(p.effective_fg_pct));
        assert_eq!(row["usage_rate"], opt(p.usage_rate));
        assert_eq!(row["assist_turnover_ratio"], opt(p.assist_turnover_ratio));
        assert_eq!(row["season_games"], serde_json::json!(p.season_games));
        assert_eq!(row["season_points_per_game"], opt(p.season_points_per_game));
        assert_eq!(row["season_true_shooting_pct"], opt(p.season_true_shooting_pct));
    }
    for t in &expected.teams {
        let row = teams.get(&(d, t.team_id)).unwrap_or_else(|| panic!("team {} of {}", t.team_id, expected.date));
        assert_eq!(row["team_tricode"], serde_json::json!(t.team_tricode));
        assert_eq!(row["game_id"], serde_json::json!(t.game_id));
        assert_eq!(row["points"], serde_json::json!(t.points));
        assert_eq!(row["pace"], opt(t.pace));
        assert_eq!(row["offensive_rating"], opt(t.offensive_rating));
        assert_eq!(row["defensive_rating"], opt(t.defensive_rating));
        assert_eq!(row["net_rating"], opt(t.net_rating));
        assert_eq!(row["true_shooting_pct"], opt(t.true_shooting_pct));
        assert_eq!(row["effective_fg_pct"], opt(t.effective_fg_pct));
        assert_eq!(row["assist_turnover_ratio"], opt(t.assist_turnover_ratio));
        assert_eq!(row["season_games"], serde_json::json!(t.season_games));
        assert_eq!(row["season_net_rating"], opt(t.season_net_rating));
    }
}

/// A moto server with the silver bucket, the table bucket and the namespace.
struct Local {
    _moto: LocalAws,
    url: String,
    arn: String,
    s3: aws_sdk_s3::Client,
    s3tables: aws_sdk_s3tables::Client,
}

impl Local {
    async fn start() -> Self {
        let (moto, url) = start_moto();
        let credentials = Credentials::new("testing", "testing", None, None, "test");
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(&url)
                .region(Region::new("us-east-1"))
                .credentials_provider(credentials.clone())
                .force_path_style(true)
                .build(),
        );
        let s3tables = aws_sdk_s3tables::Client::from_conf(
            aws_sdk_s3tables::Config::builder()
                .behavior_version(aws_sdk_s3tables::config::BehaviorVersion::latest())
                .endpoint_url(&url)
                .region(aws_sdk_s3tables::config::Region::new("us-east-1"))
                .credentials_provider(credentials)
                .build(),
        );
        s3.create_bucket().bucket(SILVER).send().await.expect("create silver bucket");
        let bucket = s3tables.create_table_bucket().name(TABLE_BUCKET).send().await.expect("create table bucket");
        let arn = bucket.arn().to_string();
        s3tables.create_namespace().table_bucket_arn(&arn).namespace(NAMESPACE).send().await.expect("namespace");

        Self { _moto: moto, url, arn, s3, s3tables }
    }

    fn config(&self) -> TablesConfig {
        TablesConfig {
            table_bucket_arn: self.arn.clone(),
            namespace: NAMESPACE.into(),
            endpoint_url: Some(self.url.clone()),
            s3_endpoint_url: Some(self.url.clone()),
            region: Some("us-east-1".into()),
            file_io_props: vec![
                ("s3.access-key-id".into(), "testing".into()),
                ("s3.secret-access-key".into(), "testing".into()),
            ],
        }
    }

    async fn tables(&self) -> GoldTables {
        GoldTables::with_client(self.config(), self.s3tables.clone()).await.expect("catalog")
    }

    fn stage(&self, tables: GoldTables, log: Logger) -> Stage<S3Store, GoldTables> {
        let (env, inputs) = contract::gold_env(&self.arn);
        Stage::new(&env, &inputs, S3Store::new(self.s3.clone()), tables, log).expect("config")
    }
}

#[tokio::test]
#[ignore = "needs python3 with moto[server] 5.2.1 (requirements-dev.txt)"]
async fn handler_commits_iceberg_snapshots_to_s3_tables() {
    let local = Local::start().await;
    let s3 = &local.s3;
    let tables = local.tables().await;
    assert!(tables.create_if_missing(PLAYER_ANALYTICS, &PLAYER_COLUMNS).await.expect("create player table"));
    assert!(tables.create_if_missing(TEAM_ANALYTICS, &TEAM_COLUMNS).await.expect("create team table"));
    assert!(!tables.create_if_missing(TEAM_ANALYTICS, &TEAM_COLUMNS).await.expect("exists"));

    let g = Generator::new(2024);
    let (d0, d1, d2, d3) = (date(2024, 1, 14), date(2024, 1, 15), date(2024, 1, 16), date(2024, 1, 17));
    let day0 = put_day(s3, &g, d0, 15).await;
    let day1 = put_day(s3, &g, d1, 8).await;
    let day2 = put_day(s3, &g, d2, 6).await;
    // d3: only the player object exists (silver has not written the team object yet): the season's
    // computation leaves it out, its team object's event will compute it.
    let t3 = silver_processing::transform(&g.day(d3, 5).to_bronze(), d3).expect("transform");
    s3.put_object()
        .bucket(SILVER)
        .key(key("player_stats", d3))
        .body(players_parquet(&t3.players).expect("parquet").into())
        .send()
        .await
        .expect("put");

    let (log, captured) = Logger::capture("gold-analytics");
    let stage = local.stage(tables, log);

    let event = batch(vec![
        message("m1", &key("player_stats", d1)),
        message("m2", &key("team_stats", d1)),
        message("m3", &key("player_stats", d2)),
        message("m4", &key("player_stats", d3)),
        message("m5", &key("team_stats", d2)),
    ]);
    let started = Instant::now();
    let response = stage.handle(&event).await.expect("ids present");
    let first_run = started.elapsed();
    assert_eq!(failures(&response), Vec::<&str>::new(), "{:#?}", captured.lines());

    // Read back through an Iceberg scan of the current snapshots.
    // Stage owns the tables; a second catalog connection reads.
    let reader = local.tables().await;
    let (players, teams) = read(&reader).await;
    assert_eq!(players.len(), day1.players.len() + day2.players.len());
    assert_eq!(teams.len(), day1.teams.len() + day2.teams.len());
    let expected1 = compute(&day1, std::slice::from_ref(&day0)).expect("compute d1");
    let expected2 = compute(&day2, &[day0.clone(), day1.clone()]).expect("compute d2");
    assert_matches(&players, &teams, &expected1);
    assert_matches(&players, &teams, &expected2);
    // Season context from silver: a team of d2 that also played d0 and d1 has 3 games.
    assert!(expected2.teams.iter().any(|t| t.season_games == 3));

    // Running the same batch again replaces, not duplicates.
    let started = Instant::now();
    let response = stage.handle(&event).await.expect("ids present");
    let second_run = started.elapsed();
    assert!(failures(&response).is_empty());
    let (players_again, teams_again) = read(&reader).await;
    assert_eq!(players_again, players);
    assert_eq!(teams_again, teams);

    let table = reader.load(PLAYER_ANALYTICS).await.expect("load");
    let snapshot = table.metadata().current_snapshot().expect("snapshot").clone();
    let summary = &snapshot.summary().additional_properties;
    assert_eq!(snapshot.summary().operation, iceberg::spec::Operation::Overwrite);
    assert_eq!(summary.get("pipewright.game-date").map(String::as_str), Some("2024-01-15"));
    assert_eq!(summary.get("pipewright.last-game-date").map(String::as_str), Some("2024-01-16"));
    assert_eq!(summary.get("deleted-records"), summary.get("added-records"));
    assert_eq!(summary.get("total-records"), Some(&players.len().to_string()));
    // One commit a run per table (d1 and d2 together): 2 snapshots.
    assert_eq!(table.metadata().snapshots().count(), 2);

    // Silver of d1 changes (a re-run of silver with other games): d1's rows are replaced, and d2's are
    // recomputed with the new d1 (its season-to-date values depend on it).
    let day1b = put_day(s3, &Generator::new(99), d1, 3).await;
    let response = stage.handle(&batch(vec![message("m6", &key("team_stats", d1))])).await.expect("ids");
    assert!(failures(&response).is_empty());
    let (players_b, teams_b) = read(&reader).await;
    assert_eq!(players_b.len(), day1b.players.len() + day2.players.len());
    assert_eq!(teams_b.len(), day1b.teams.len() + day2.teams.len());
    assert_matches(&players_b, &teams_b, &compute(&day1b, std::slice::from_ref(&day0)).expect("compute d1b"));
    let expected2b = compute(&day2, &[day0.clone(), day1b.clone()]).expect("compute d2 after d1b");
    assert_ne!(expected2b, expected2, "d1's change reaches d2's season-to-date values");
    assert_matches(&players_b, &teams_b, &expected2b);

    // Two writers at once on one table (interleaved on this thread): both read the same version
    // token, one commit wins, the other gets S3 Tables' ConflictException, reloads and retries.
    let d5 = date(2024, 1, 19);
    let rows = |d: NaiveDate| {
        let mut a = expected2.clone();
        for t in &mut a.teams {
            t.game_date = d;
        }
        a.teams
    };
    let (rows4, rows5) = (rows(d3), rows(d5));
    let (first, second) =
        tokio::join!(reader.replace_date(TEAM_ANALYTICS, d3, &rows4), reader.replace_date(TEAM_ANALYTICS, d5, &rows5));
    let (first, second) = (first.expect("first writer"), second.expect("second writer"));
    let mut attempts = [first.attempts, second.attempts];
    attempts.sort();
    assert_eq!(attempts, [1, 2], "one writer must have retried after a conflict");
    let (_, teams_c) = read(&reader).await;
    assert_eq!(teams_c.len(), teams_b.len() + rows4.len() + rows5.len());

    // A date whose silver has no games (both objects with zero rows): its rows go away.
    let empty = put_day(s3, &g, d2, 0).await;
    assert!(empty.players.is_empty() && empty.teams.is_empty());
    let response = stage.handle(&batch(vec![message("m7", &key("player_stats", d2))])).await.expect("ids");
    assert!(failures(&response).is_empty());
    let (players_d, teams_d) = read(&reader).await;
    assert_eq!(players_d.len(), day1b.players.len());
    assert!(players_d.keys().all(|(d, _)| *d == days(d1)));
    assert_eq!(teams_d.len(), teams_c.len() - day2.teams.len());
    let table = reader.load(TEAM_ANALYTICS).await.expect("load");
    let snapshot = table.metadata().current_snapshot().expect("snapshot").clone();
    assert_eq!(snapshot.summary().operation, iceberg::spec::Operation::Overwrite);
    assert_eq!(snapshot.summary().additional_properties.get("added-records"), None);

    // A batch of the incomplete date alone fails, naming the missing object.
    let response = stage.handle(&batch(vec![message("m4", &key("player_stats", d3))])).await.expect("ids");
    assert_eq!(failures(&response), vec!["m4"]);
    let error = captured
        .lines()
        .into_iter()
        .find(|l| l["level"] == "ERROR" && l["message_id"] == "m4")
        .and_then(|l| l["error"].as_str().map(str::to_string))
        .unwrap_or_default();
    assert!(error.contains("silver/team_stats/season=2023-24/date=2024-01-17/data.parquet does not exist"), "{error}");
    eprintln!(
        "moto: first run (2 dates, 2 commits, {} player + {} team rows) {first_run:?}; identical re-run {second_run:?}",
        players.len(),
        teams.len()
    );
}

/// A date late in a season through the handler: the LIST and GETs of the season's silver in moto's
/// S3, the computation and two commits; prints the time.
#[tokio::test]
#[ignore = "needs python3 with moto[server] 5.2.1 (requirements-dev.txt)"]
async fn late_season_date_reads_the_season_from_silver() {
    let local = Local::start().await;
    let tables = local.tables().await;
    tables.create_if_missing(PLAYER_ANALYTICS, &PLAYER_COLUMNS).await.expect("create");
    tables.create_if_missing(TEAM_ANALYTICS, &TEAM_COLUMNS).await.expect("create");
    let g = Generator::new(7);
    let season = g.season(2023);
    let (target, earlier) = season[..=100].split_last().expect("dates");
    let started = Instant::now();
    let mut days = Vec::with_capacity(earlier.len());
    for day in earlier {
        let t = silver_processing::transform(&day.to_bronze(), day.date).expect("transform");
        for (name, body) in [("player_stats", players_parquet(&t.players)), ("team_stats", teams_parquet(&t.teams))] {
            let body = body.expect("parquet");
            local.s3.put_object().bucket(SILVER).key(key(name, day.date)).body(body.into()).send().await.expect("put");
        }
        days.push(SilverDay { date: day.date, players: t.players, teams: t.teams });
    }
    let put_time = started.elapsed();
    let t = silver_processing::transform(&target.to_bronze(), target.date).expect("transform");
    let target_day = SilverDay { date: target.date, players: t.players.clone(), teams: t.teams.clone() };
    for (name, body) in [("player_stats", players_parquet(&t.players)), ("team_stats", teams_parquet(&t.teams))] {
        let body = body.expect("parquet");
        local.s3.put_object().bucket(SILVER).key(key(name, target.date)).body(body.into()).send().await.expect("put");
    }
    let (log, captured) = Logger::capture("gold-analytics");
    let stage = local.stage(tables, log);
    let started = Instant::now();
    let response = stage.handle(&batch(vec![message("m1", &key("team_stats", target.date))])).await.expect("ids");
    let elapsed = started.elapsed();
    assert!(failures(&response).is_empty(), "{:#?}", captured.lines());
    let (players, teams) = read(&local.tables().await).await;
    let expected = compute(&target_day, &days).expect("compute");
    assert_eq!(players.len(), expected.players.len());
    assert_eq!(teams.len(), expected.teams.len());
    assert_matches(&players, &teams, &expected);
    let line = captured.lines().into_iter().find(|l| l["message"] == "date processed").expect("processed");
    eprintln!(
        "moto: date {} with {} earlier dates ({} silver objects): handler {elapsed:?} (reading silver {} ms); \
         putting the season's silver took {put_time:?}",
        target.date,
        earlier.len(),
        2 * (earlier.len() + 1),
        line["read_ms"]
    );
}

/// An unpartitioned table (as IaC might create it): dates are found by `game_date` bounds. A data
/// file written by someone else that holds the date and another date is refused, not dropped.
#[tokio::test]
#[ignore = "needs python3 with moto[server] 5.2.1 (requirements-dev.txt)"]
async fn unpartitioned_table_and_a_file_of_several_dates() {
    use iceberg::spec::DataFileFormat;
    use iceberg::transaction::{ApplyTransactionAction, Transaction};
    use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
    use iceberg::writer::file_writer::ParquetWriterBuilder;
    use iceberg::writer::file_writer::location_generator::{DefaultFileNameGenerator, DefaultLocationGenerator};
    use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
    use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
    use iceberg::{Catalog, NamespaceIdent, TableCreation, TableIdent};

    const TABLE: &str = "unpartitioned_team_analytics";
    let local = Local::start().await;
    let tables = local.tables().await;
    let schema = gold_analytics::table::iceberg_schema(&TEAM_COLUMNS).expect("schema");
    let creation = TableCreation::builder().name(TABLE.to_string()).schema(schema.clone()).build();
    tables.catalog().create_table(&NamespaceIdent::new(NAMESPACE.into()), creation).await.expect("create");

    let g = Generator::new(8);
    let (d1, d2, d3) = (date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3));
    let analytics = |d: NaiveDate| {
        let t = silver_processing::transform(&g.day(d, 4).to_bronze(), d).expect("transform");
        compute(&SilverDay { date: d, players: t.players, teams: t.teams }, &[]).expect("compute")
    };
    let (a1, a2, a3) = (analytics(d1), analytics(d2), analytics(d3));
    let first = tables.replace_date(TABLE, d1, &a1.teams).await.expect("first write");
    assert_eq!((first.added_records, first.removed_records), (8, 0));
    let again = tables.replace_date(TABLE, d1, &a1.teams).await.expect("rewrite");
    assert_eq!((again.added_records, again.removed_records, again.total_records), (8, 8, 8));

    // Another writer appends one file holding d1 and d2 rows, through the catalog's fast append.
    let table =
        tables.catalog().load_table(&TableIdent::from_strs([NAMESPACE, TABLE]).expect("ident")).await.expect("load");
    let mixed: Vec<_> = a1.teams.iter().chain(&a2.teams).cloned().collect();
    let batch = gold_analytics::table::record_batch(TABLE, table.metadata().current_schema(), &mixed).expect("batch");
    let rolling = RollingFileWriterBuilder::new_with_default_file_size(
        ParquetWriterBuilder::new(Default::default(), table.metadata().current_schema().clone()),
        table.file_io().clone(),
        DefaultLocationGenerator::new(table.metadata()).expect("locations"),
        DefaultFileNameGenerator::new("other-writer".into(), None, DataFileFormat::Parquet),
    );
    let mut writer = DataFileWriterBuilder::new(rolling).build(None).await.expect("writer");
    writer.write(batch).await.expect("write");
    let files = writer.close().await.expect("close");
    let tx = Transaction::new(&table);
    let tx = tx.fast_append().add_data_files(files).apply(tx).expect("apply");
    tx.commit(tables.catalog()).await.expect("fast append through the catalog");

    let err = tables.replace_date(TABLE, d1, &a1.teams).await.expect_err("must refuse");
    assert!(
        matches!(&err, gold_analytics::table::TableError::MixedDates { file, .. } if file.contains("other-writer")),
        "{err}"
    );
    let err = tables.replace_date(TABLE, d2, &a2.teams).await.expect_err("must refuse");
    assert!(err.to_string().contains("holds 2024-03-02 and other dates"), "{err}");
    // A date outside the file's range is written; the file stays.
    let third = tables.replace_date(TABLE, d3, &a3.teams).await.expect("other date");
    assert_eq!((third.removed_records, third.total_records), (0, 8 + 16 + 8));
    let batches = tables.scan_all(TABLE).await.expect("scan");
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 32);
}

/// A queue that `bucket` notifies for created objects under `prefix` ending in `suffix` (filter values
/// encoded as S3 compares them), with the policy S3 needs to send to it; returns the queue URL.
async fn notifying_queue(
    sqs: &aws_sdk_sqs::Client,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    queue: &str,
    prefix: &str,
    suffix: &str,
) -> String {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
        QueueConfiguration, S3KeyFilter,
    };
    let url = sqs.create_queue().queue_name(queue).send().await.expect("queue").queue_url.expect("url");
    let arn = format!("arn:aws:sqs:us-east-1:123456789012:{queue}");
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": format!("arn:aws:s3:::{bucket}")}}}]});
    sqs.set_queue_attributes()
        .queue_url(&url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .expect("queue policy");
    let rule = |name: FilterRuleName, value: &str| FilterRule::builder().name(name).value(value).build();
    let filter = NotificationConfigurationFilter::builder()
        .key(
            S3KeyFilter::builder()
                .filter_rules(rule(FilterRuleName::Prefix, prefix))
                .filter_rules(rule(FilterRuleName::Suffix, suffix))
                .build(),
        )
        .build();
    let config = QueueConfiguration::builder()
        .queue_arn(&arn)
        .events(Event::S3ObjectCreated)
        .filter(filter)
        .build()
        .expect("queue configuration");
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(NotificationConfiguration::builder().queue_configurations(config).build())
        .send()
        .await
        .expect("bucket notification");
    url
}

/// Receives from `queue` until `objects` S3 object events (besides test events) have arrived, and
/// returns every message received as the Lambda service hands them to a handler.
async fn receive(sqs: &aws_sdk_sqs::Client, queue: &str, objects: usize) -> SqsEvent {
    let mut messages = Vec::new();
    let started = Instant::now();
    let count =
        |ms: &[SqsMessage]| ms.iter().filter(|m| m.body.as_deref().is_some_and(|b| b.contains("\"Records\""))).count();
    while count(&messages) < objects {
        assert!(started.elapsed().as_secs() < 60, "{} of {objects} object events after 60 s", count(&messages));
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        for m in out.messages() {
            let mut message = SqsMessage::default();
            message.message_id = m.message_id().map(str::to_string);
            message.receipt_handle = m.receipt_handle().map(str::to_string);
            message.body = m.body().map(str::to_string);
            message.event_source = Some("aws:sqs".into());
            messages.push(message);
        }
    }
    batch(messages)
}

#[tokio::test]
#[ignore = "needs python3 with moto[server] 5.2.1 (requirements-dev.txt)"]
async fn silver_then_gold_on_the_s3_events_of_a_generated_day() {
    let local = Local::start().await;
    let s3 = &local.s3;
    let credentials = Credentials::new("testing", "testing", None, None, "test");
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .endpoint_url(&local.url)
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .credentials_provider(credentials)
            .build(),
    );
    s3.create_bucket().bucket(BRONZE).send().await.expect("create bronze bucket");
    // The spec's notifications: bronze `raw/box_scores/date=*/data.json`, silver `silver/*.parquet`.
    let silver_queue =
        notifying_queue(&sqs, s3, BRONZE, "silver-processing-queue", "raw/box_scores/date%3D", "/data.json").await;
    let gold_queue = notifying_queue(&sqs, s3, SILVER, "gold-analytics-queue", "silver/", ".parquet").await;
    let tables = local.tables().await;
    tables.create_if_missing(PLAYER_ANALYTICS, &PLAYER_COLUMNS).await.expect("player table");
    tables.create_if_missing(TEAM_ANALYTICS, &TEAM_COLUMNS).await.expect("team table");

    // A generated day of games, written as bronze-ingestion writes it.
    let d = date(2025, 2, 28);
    let bronze = Generator::new(2025).day(d, 9).to_bronze();
    let bronze_key = format!("raw/box_scores/date={d}/data.json");
    s3.put_object().bucket(BRONZE).key(&bronze_key).body(bronze.clone().into()).send().await.expect("put bronze");

    // Silver on the event S3 sent (SQS-wrapped, AWS format: key `raw/box_scores/date%3D2025-02-28/data.json`).
    let silver_event = receive(&sqs, &silver_queue, 1).await;
    let encoded = format!("raw/box_scores/date%3D{d}/data.json");
    assert!(silver_event.records.iter().any(|m| m.body.as_deref().is_some_and(|b| b.contains(&encoded))));
    let silver_env = contract::silver_env();
    let (silver_log, silver_lines) = Logger::capture("silver-processing");
    let silver = silver_processing::Stage::new(&silver_env, S3Store::new(s3.clone()), silver_log).expect("silver");
    let response = silver.handle(&silver_event).await.expect("silver batch");
    assert!(failures(&response).is_empty(), "{:#?}", silver_lines.lines());

    // The silver Parquet rows, read back from S3, are the transformation of the bronze day.
    let expected = silver_processing::transform(&bronze, d).expect("transform");
    let get = |k: String| async move {
        let o = s3.get_object().bucket(SILVER).key(k).send().await.expect("get silver");
        o.body.collect().await.expect("body").into_bytes().to_vec()
    };
    let players = read_players(&get(key("player_stats", d)).await).expect("player Parquet");
    let teams = read_teams(&get(key("team_stats", d)).await).expect("team Parquet");
    assert_eq!((players.len(), teams.len()), (expected.players.len(), expected.teams.len()));
    assert_eq!((players, teams), (expected.players.clone(), expected.teams.clone()));

    // Gold on silver's two events (one date: one computation, one commit per table).
    let gold_event = receive(&sqs, &gold_queue, 2).await;
    let (gold_log, gold_lines) = Logger::capture("gold-analytics");
    let gold = local.stage(local.tables().await, gold_log);
    let response = gold.handle(&gold_event).await.expect("gold batch");
    assert!(failures(&response).is_empty(), "{:#?}", gold_lines.lines());
    let processed: Vec<_> = gold_lines.lines().into_iter().filter(|l| l["message"] == "date processed").collect();
    assert_eq!(processed.len(), 1, "{processed:#?}");
    assert_eq!(processed[0]["counts"]["objects"], 2);

    // The Iceberg snapshot rows of both tables are the analytics of the day, once.
    let day = SilverDay { date: d, players: expected.players, teams: expected.teams };
    let analytics = compute(&day, &[]).expect("compute");
    let (player_rows, team_rows) = read(&tables).await;
    assert_eq!((player_rows.len(), team_rows.len()), (analytics.players.len(), analytics.teams.len()));
    assert_matches(&player_rows, &team_rows, &analytics);
}

/// The manifests of a table: one per month of game dates, whatever the partitioning; a commit rewrites the
/// manifest of its month and keeps the others as they are (not read on a partitioned table: their
/// partition summaries exclude the month). Every row stays readable.
#[tokio::test]
#[ignore = "needs python3 with moto[server] 5.2.1 (requirements-dev.txt)"]
async fn a_commit_rewrites_only_the_manifest_of_its_month() {
    use iceberg::spec::Transform;
    let local = Local::start().await;
    let tables = local.tables().await;
    let g = Generator::new(5);
    let dates = [date(2024, 1, 30), date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 2), date(2024, 3, 1)];
    let rows = |d: NaiveDate, games: usize| {
        let t = silver_processing::transform(&g.day(d, games).to_bronze(), d).expect("transform");
        compute(&SilverDay { date: d, players: t.players, teams: t.teams }, &[]).expect("compute").teams
    };
    for (name, transform) in
        [("by_day", Some(Transform::Day)), ("by_month", Some(Transform::Month)), ("unpartitioned", None)]
    {
        tables.create_partitioned(name, &TEAM_COLUMNS, transform).await.expect("create");
        for d in dates {
            tables.replace_date(name, d, &rows(d, 3)).await.expect("commit");
        }
        // (manifest path, the months of its live files)
        let manifests = || async {
            let t = tables.load(name).await.expect("load");
            let list =
                t.manifest_list_reader(t.metadata().current_snapshot().expect("snapshot")).load().await.expect("list");
            let mut out = Vec::new();
            for m in list.entries() {
                let manifest = m.load_manifest(t.file_io()).await.expect("manifest");
                let mut months: Vec<String> = manifest
                    .entries()
                    .iter()
                    .filter(|e| e.is_alive())
                    .map(|e| match e.data_file().lower_bounds()[&1].literal() {
                        iceberg::spec::PrimitiveLiteral::Int(d) => {
                            (date(1970, 1, 1) + chrono::Duration::days(i64::from(*d))).format("%Y-%m").to_string()
                        }
                        other => panic!("{other:?}"),
                    })
                    .collect();
                months.dedup();
                out.push((m.manifest_path.clone(), months));
            }
            out.sort_by(|a, b| a.1.cmp(&b.1));
            out
        };
        let before = manifests().await;
        let months: Vec<Vec<String>> = before.iter().map(|m| m.1.clone()).collect();
        assert_eq!(months, [["2024-01"], ["2024-02"], ["2024-03"]], "{name}: one manifest per month");
        tables.replace_date(name, dates[2], &rows(dates[2], 4)).await.expect("replace a February date");
        let after = manifests().await;
        assert_eq!(after.iter().map(|m| m.1.clone()).collect::<Vec<_>>(), months, "{name}");
        assert_eq!(after[0].0, before[0].0, "{name}: January's manifest kept");
        assert_ne!(after[1].0, before[1].0, "{name}: February's manifest rewritten");
        assert_eq!(after[2].0, before[2].0, "{name}: March's manifest kept");
        let scanned: usize = tables.scan_all(name).await.expect("scan").iter().map(RecordBatch::num_rows).sum();
        assert_eq!(scanned, 4 * 6 + 8, "{name}: 4 dates of 3 games and one of 4, two rows a game");
    }
}
