//! The Rust side of `scripts/bench-lambdas.py` (a benchmark driver, not part of the stage). Silver
//! objects are read from a directory laid out as the silver bucket
//! (`DIR/silver/{table}/season={season}/date={date}/data.parquet`, as `bench_silver transform` writes).
//!
//! Both run the stage's own code path ([`Stage::compute_date`]: the date's two objects, the season listing,
//! the season state validated and updated, [`compute_with_totals`]) on a store over that directory, without
//! S3 and Iceberg (the commit is not part of it):
//!
//! - `bench_gold prepare DIR DATE`: processes every date of DATE's season before DATE, in order, so the season
//!   state holds them (the steady state of the pipeline: yesterday's date arrives with the season processed).
//! - `bench_gold day DIR DATE [DUMP]`: the handler's work for one date, on the prepared state. The state it
//!   writes goes next to the one it read (`.written`), so every run does the same work.
//! - `bench_gold season DIR DATES [DUMP]`: every date of the season in order, from no state, as the handler
//!   gets them in a replay of the season: batches of DATES dates (each batch one [`Batch`]: one season
//!   listing, the state written once at its end; 1 = every date a batch of its own).
//!
//! - `bench_gold backfill DIR [DUMP]`: the whole season at once, as the handler computes it when the season's
//!   first date arrives after every other (a back-fill, a replay of the first date): [`Stage::compute_from`]
//!   from no state, every date read from silver.
//! - `bench_gold commit DIR PARTITION ORDER DATES [DUMP]`: the handler itself ([`Stage::handle`], silver from
//!   DIR) with its Iceberg commits, on a local S3 Tables (a moto server of the emulator, started for the run):
//!   both tables created partitioned by `game_date` (PARTITION `day`, `month`, or `none`), every date of every
//!   season in DIR delivered in batches of DATES dates (two silver events per date) in ORDER (`in-order`, or
//!   `random:SEED`: a permutation of the dates). Prints the time of every batch and of its commits; with
//!   `DUMP`, the tables' rows as JSON lines after the run (read back through an Iceberg scan, sorted).
//!
//! Prints one JSON line: rows read, rows computed, times. With `DUMP`, the analytics are also written there as
//! JSON lines (after the timed part) for the comparison with the Python port.
//!
//! ETags of the directory store: file length and modification time (a rewritten file changes them).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use gold_analytics::Analytics;
use gold_analytics::stage::{AnalyticsSink, Batch, Stage};
use gold_analytics::table::{
    CommitSummary, GoldRow, GoldTables, PLAYER_ANALYTICS, PLAYER_COLUMNS, Replaced, TEAM_ANALYTICS, TEAM_COLUMNS,
    TableError, TablesConfig,
};
use pipewright_stage::log::Logger;
use pipewright_stage::store::{Condition, Listed, Object, ObjectStore, StoreError, Written};
use serde_json::json;

#[global_allocator]
static ALLOCATOR: silver_processing::Allocator = silver_processing::Allocator;

type Error = Box<dyn std::error::Error>;

const BUCKET: &str = hoopstat_fixtures::contract::SILVER;

/// The silver "bucket" as a directory; with `keep_input`, PUTs go to `<key>.written` (the input stays).
struct DirStore {
    root: PathBuf,
    keep_input: bool,
    /// When set, the dates silver has written so far: listings leave the others out (`commit`, where
    /// silver writes the dates in the delivery order).
    written: Option<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

fn io_error(operation: &'static str, key: &str, e: std::io::Error) -> StoreError {
    StoreError { operation, bucket: BUCKET.into(), key: key.into(), source: Box::new(e) }
}

fn etag(meta: &std::fs::Metadata) -> Option<String> {
    let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!("\"{}-{}\"", meta.len(), modified.as_nanos()))
}

impl ObjectStore for DirStore {
    async fn get_object(&self, _bucket: &str, key: &str) -> Result<Option<Object>, StoreError> {
        let path = self.root.join(key);
        match std::fs::metadata(&path) {
            Ok(meta) => {
                self.object_limit()
                    .check(meta.len())
                    .map_err(|e| io_error("GetObject", key, std::io::Error::other(e)))?;
                let body = std::fs::read(&path).map_err(|e| io_error("GetObject", key, e))?;
                Ok(Some(Object { body, etag: etag(&meta) }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("GetObject", key, e)),
        }
    }

    async fn put_if(
        &self,
        _bucket: &str,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
        _condition: Condition,
    ) -> Result<Written, StoreError> {
        let mut path = self.root.join(key);
        if self.keep_input {
            path.as_mut_os_string().push(".written");
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_error("PutObject", key, e))?;
        }
        std::fs::write(&path, body).map_err(|e| io_error("PutObject", key, e))?;
        if self.keep_input {
            return Ok(Written::Written(None));
        }
        let meta = std::fs::metadata(&path).map_err(|e| io_error("PutObject", key, e))?;
        Ok(Written::Written(etag(&meta)))
    }

    fn object_limit(&self) -> pipewright_stage::ObjectLimit {
        pipewright_stage::ObjectLimit::default()
    }

    async fn list(&self, _bucket: &str, prefix: &str) -> Result<Vec<Listed>, StoreError> {
        // The stage lists `silver/{table}/season={season}/date=`: the season directory's `date=*` entries.
        let (dir, start) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let entries = match std::fs::read_dir(self.root.join(dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("ListObjectsV2", prefix, e)),
        };
        let mut listed = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error("ListObjectsV2", prefix, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(start) {
                continue;
            }
            if let Some(written) = &self.written {
                let date = name.strip_prefix("date=").unwrap_or_default();
                if !written
                    .lock()
                    .map_err(|_| io_error("ListObjectsV2", prefix, std::io::Error::other("lock")))?
                    .contains(date)
                {
                    continue;
                }
            }
            let key = format!("{dir}/{name}/data.parquet");
            if let Ok(meta) = std::fs::metadata(self.root.join(&key)) {
                listed.push(Listed { key, etag: etag(&meta) });
            }
        }
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listed)
    }
}

/// Commits nothing (the benchmark measures everything before the Iceberg commit).
struct NoSink;

impl AnalyticsSink for NoSink {
    type Version = ();

    async fn version(&self, _table: &str, _date: NaiveDate) -> Result<(), TableError> {
        Ok(())
    }

    async fn replace_dates<R: GoldRow + Send + Sync>(
        &self,
        table: &str,
        _version: (),
        rows: &std::collections::BTreeMap<NaiveDate, Vec<R>>,
    ) -> Result<Replaced, TableError> {
        Ok(Replaced::Committed(CommitSummary {
            table: table.into(),
            date: rows.keys().next().copied().unwrap_or_default(),
            dates: rows.len(),
            snapshot_id: 0,
            added_files: 0,
            added_records: rows.values().map(Vec::len).sum::<usize>() as u64,
            removed_files: 0,
            removed_records: 0,
            total_records: 0,
            attempts: 1,
        }))
    }
}

/// The gold tables, with the time spent committing.
struct Timed {
    tables: GoldTables,
    commits: std::sync::Mutex<Vec<(usize, f64)>>,
}

impl AnalyticsSink for Timed {
    type Version = gold_analytics::table::Version;

    async fn version(&self, table: &str, date: NaiveDate) -> Result<Self::Version, TableError> {
        let started = Instant::now();
        let version = self.tables.version(table, date).await;
        self.commits.lock().map_err(|_| poisoned(table))?.push((0, started.elapsed().as_secs_f64()));
        version
    }

    async fn replace_dates<R: GoldRow + Send + Sync>(
        &self,
        table: &str,
        version: Self::Version,
        rows: &std::collections::BTreeMap<NaiveDate, Vec<R>>,
    ) -> Result<Replaced, TableError> {
        let started = Instant::now();
        let replaced = self.tables.replace_dates(table, version, rows).await;
        self.commits.lock().map_err(|_| poisoned(table))?.push((rows.len(), started.elapsed().as_secs_f64()));
        replaced
    }
}

fn poisoned(table: &str) -> TableError {
    TableError::Column { table: table.into(), column: "*".into(), problem: "timing lock poisoned".into() }
}

/// The process's resident memory now (`VmRSS`) or at its peak (`VmHWM`), in MiB, from /proc/self/status
/// (Linux; 0 elsewhere). The process's own: the emulator it started is another process.
fn memory_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kib.unwrap_or_default() / 1024.0
}

/// Every date of every season under DIR (`silver/player_stats/season=*/date=*`), sorted.
fn all_dates(dir: &Path) -> Result<Vec<NaiveDate>, Error> {
    let mut dates = Vec::new();
    for entry in std::fs::read_dir(dir.join("silver/player_stats"))? {
        let name = entry?.file_name();
        if let Some(season) = name.to_str().and_then(|n| n.strip_prefix("season=")) {
            dates.extend(season_dates(dir, season)?);
        }
    }
    dates.sort();
    Ok(dates)
}

fn sqs_message(id: String, key: &str) -> aws_lambda_events::event::sqs::SqsMessage {
    let encoded = key.replace('/', "%2F").replace('=', "%3D");
    let mut m = aws_lambda_events::event::sqs::SqsMessage::default();
    m.message_id = Some(id);
    m.body = Some(
        json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-12-03T12:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "bench",
                "bucket": {"name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")},
                "object": {"key": encoded, "size": 1, "eTag": "x"}}}]})
        .to_string(),
    );
    m
}

/// `bench_gold commit`: see the module docs.
async fn commit(args: &[String]) -> Result<(), Error> {
    use aws_sdk_s3::config::Credentials;
    let usage = "usage: bench_gold commit DIR PARTITION ORDER DATES [DUMP]";
    let dir = Path::new(args.first().ok_or(usage)?);
    let transform = match args.get(1).map(String::as_str) {
        Some("day") => Some(iceberg::spec::Transform::Day),
        Some("month") => Some(iceberg::spec::Transform::Month),
        Some("none") => None,
        _ => return Err(usage.into()),
    };
    let mut dates = all_dates(dir)?;
    match args.get(2).map(String::as_str) {
        Some("in-order") => {}
        Some(order) => {
            let seed: u64 = order.strip_prefix("random:").ok_or(usage)?.parse()?;
            fastrand::Rng::with_seed(seed).shuffle(&mut dates);
        }
        None => return Err(usage.into()),
    }
    let per_batch: usize = args.get(3).ok_or(usage)?.parse()?;
    if per_batch == 0 {
        return Err("DATES must be at least 1".into());
    }

    // From no season state, as a new pipeline.
    let state = dir.join("state");
    if state.exists() {
        std::fs::remove_dir_all(&state)?;
    }
    let local = pipewright_stage::local_aws::LocalAws::start()?;
    let credentials = Credentials::new("testing", "testing", None, None, "bench");
    let s3tables = aws_sdk_s3tables::Client::from_conf(
        aws_sdk_s3tables::Config::builder()
            .behavior_version(aws_sdk_s3tables::config::BehaviorVersion::latest())
            .endpoint_url(&local.endpoint)
            .region(aws_sdk_s3tables::config::Region::new("us-east-1"))
            .credentials_provider(credentials)
            .build(),
    );
    let bucket = s3tables.create_table_bucket().name(hoopstat_fixtures::contract::TABLE_BUCKET).send().await?;
    let namespace = hoopstat_fixtures::contract::NAMESPACE;
    s3tables.create_namespace().table_bucket_arn(bucket.arn()).namespace(namespace).send().await?;
    let config = TablesConfig {
        table_bucket_arn: bucket.arn().to_string(),
        namespace: namespace.into(),
        endpoint_url: Some(local.endpoint.clone()),
        s3_endpoint_url: Some(local.endpoint.clone()),
        region: Some("us-east-1".into()),
        file_io_props: vec![
            ("s3.access-key-id".into(), "testing".into()),
            ("s3.secret-access-key".into(), "testing".into()),
        ],
    };
    let tables = GoldTables::with_client(config.clone(), s3tables.clone()).await?;
    for (name, columns) in [(PLAYER_ANALYTICS, &PLAYER_COLUMNS[..]), (TEAM_ANALYTICS, &TEAM_COLUMNS[..])] {
        tables.create_partitioned(name, columns, transform).await?;
    }
    let (env, inputs) = hoopstat_fixtures::contract::gold_env(bucket.arn());
    let (log, _) = Logger::capture("gold-analytics");
    let sink = Timed { tables, commits: std::sync::Mutex::new(Vec::new()) };
    let store = DirStore { root: dir.to_path_buf(), keep_input: false, written: Some(Default::default()) };
    let stage = Stage::new(&env, &inputs, store, sink, log)?;

    let started = Instant::now();
    let mut batches = Vec::new();
    for (n, chunk) in dates.chunks(per_batch).enumerate() {
        let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
        for (i, d) in chunk.iter().enumerate() {
            for table in ["player_stats", "team_stats"] {
                let key = hoopstat_fixtures::contract::silver_key(table, *d);
                event.records.push(sqs_message(format!("b{n}-{i}-{table}"), &key));
            }
        }
        // Silver writes the batch's dates, then their events reach gold.
        stage
            .store()
            .written
            .as_ref()
            .ok_or("no written set")?
            .lock()
            .map_err(|_| "lock")?
            .extend(chunk.iter().map(|d| d.to_string()));
        let batch_started = Instant::now();
        let response = stage.handle(&event).await?;
        let handle_s = batch_started.elapsed().as_secs_f64();
        if let Some(failed) = response.batch_item_failures.first() {
            return Err(format!("batch {n}: message {} failed", failed.item_identifier).into());
        }
        let commits = std::mem::take(&mut *stage.sink().commits.lock().map_err(|_| "lock")?);
        let commit_s: f64 = commits.iter().map(|(_, s)| s).sum();
        let committed = commits.iter().map(|(d, _)| d).max().copied().unwrap_or(0);
        batches.push(json!({"first": chunk[0].to_string(), "dates": chunk.len(), "handle_s": handle_s,
            "commit_s": commit_s, "committed_dates": committed, "rss_mib": memory_mib("VmRSS:")}));
    }
    let total_s = started.elapsed().as_secs_f64();
    // The handler's peak, before the tables are read back for the summary and the dump.
    let peak_mib = memory_mib("VmHWM:");

    let tables = &stage.sink().tables;
    let mut shape = serde_json::Map::new();
    for name in [PLAYER_ANALYTICS, TEAM_ANALYTICS] {
        let t = tables.load(name).await?;
        let snapshot = t.metadata().current_snapshot().ok_or("no snapshot")?;
        let manifests = t.manifest_list_reader(snapshot).load().await?.entries().len();
        shape.insert(
            name.into(),
            json!({"manifests": manifests, "snapshots": t.metadata().snapshots().count(),
            "records": snapshot.summary().additional_properties.get("total-records")}),
        );
    }
    if let Some(path) = args.get(4) {
        let mut lines = Vec::new();
        for name in [PLAYER_ANALYTICS, TEAM_ANALYTICS] {
            for batch in tables.scan_all(name).await? {
                lines.extend(scanned_rows(name, &batch)?);
            }
        }
        lines.sort();
        std::fs::write(path, lines.join("\n") + "\n")?;
    }
    println!(
        "{}",
        json!({"dates": dates.len(), "batches": batches, "total_s": total_s, "tables": shape,
            "peak_mib": peak_mib})
    );
    Ok(())
}

/// The rows of a scanned batch as text lines: the table's name, then `column=value` for every column
/// (floats in their shortest exact form).
fn scanned_rows(table: &str, batch: &arrow::array::RecordBatch) -> Result<Vec<String>, Error> {
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let options = FormatOptions::default().with_null("null");
    let schema = batch.schema();
    let formatters =
        batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options)).collect::<Result<Vec<_>, _>>()?;
    Ok((0..batch.num_rows())
        .map(|row| {
            let cells = schema.fields().iter().zip(&formatters).map(|(f, v)| format!("{}={}", f.name(), v.value(row)));
            format!("{table} {}", cells.collect::<Vec<_>>().join(" "))
        })
        .collect())
}

fn stage(dir: &Path, keep_input: bool) -> Result<Stage<DirStore, NoSink>, Error> {
    let (env, inputs) = hoopstat_fixtures::contract::gold_env(hoopstat_fixtures::contract::TABLE_BUCKET_ARN);
    let store = DirStore { root: dir.to_path_buf(), keep_input, written: None };
    // Logs go nowhere in particular: the benchmark's stdout is its JSON summary.
    let (log, _) = Logger::capture("gold-analytics");
    Ok(Stage::new(&env, &inputs, store, NoSink, log)?)
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: bench_gold prepare DIR DATE | bench_gold day DIR DATE [DUMP] | bench_gold season DIR DATES [DUMP] | bench_gold backfill DIR [DUMP] | bench_gold commit DIR PARTITION ORDER DATES [DUMP]";
    if args.first().map(String::as_str) == Some("commit") {
        return commit(&args[1..]).await;
    }
    let (mode, dir) = match (args.first(), args.get(1)) {
        (Some(mode), Some(dir)) => (mode.as_str(), Path::new(dir)),
        _ => return Err(usage.into()),
    };
    let date_arg =
        || -> Result<NaiveDate, Error> { Ok(NaiveDate::parse_from_str(args.get(2).ok_or(usage)?, "%Y-%m-%d")?) };
    let mut started = Instant::now();
    let mut outputs: Vec<Analytics> = Vec::new();
    let (mut dates, mut earlier_dates, mut refreshed) = (0usize, 0usize, 0usize);
    let out = match mode {
        "prepare" => {
            let date = date_arg()?;
            let stage = stage(dir, false)?;
            for d in season_dates(dir, &silver_processing::season_of(date))?.into_iter().filter(|d| *d < date) {
                stage.compute_date(d).await?;
            }
            println!("{}", json!({"prepared_until": date.to_string(), "total_s": started.elapsed().as_secs_f64()}));
            return Ok(());
        }
        "day" => {
            let date = date_arg()?;
            let c = stage(dir, true)?.compute_date(date).await?;
            (dates, earlier_dates, refreshed) = (1, c.earlier_dates, c.refreshed_dates);
            outputs.push(c.analytics);
            args.get(3)
        }
        "backfill" => {
            // From no state: the season's first date arrives after every other (a back-fill): it and every
            // later date are computed at once (`Stage::compute_from`, the handler's path).
            let state = dir.join("state");
            if state.exists() {
                std::fs::remove_dir_all(&state)?;
            }
            let first = *season_dates(dir, "2024-25")?.first().ok_or("no silver dates")?;
            started = Instant::now();
            let stage = stage(dir, false)?;
            let batch = Batch::default();
            let (analytics, earlier, read_again) = stage.compute_from(&batch, first).await?;
            stage.finish_batch(batch).await;
            (dates, earlier_dates, refreshed) = (analytics.len(), earlier, read_again);
            outputs = analytics;
            args.get(2)
        }
        "season" => {
            // From no state: every date of the season in order, in batches of `per_batch` dates.
            let per_batch: usize = args.get(2).ok_or(usage)?.parse()?;
            let state = dir.join("state");
            if state.exists() {
                std::fs::remove_dir_all(&state)?;
            }
            started = Instant::now();
            let stage = stage(dir, false)?;
            for chunk in season_dates(dir, "2024-25")?.chunks(per_batch.max(1)) {
                let batch = Batch::default();
                for d in chunk {
                    let c = stage.compute_in(&batch, *d).await?;
                    dates += 1;
                    refreshed += c.refreshed_dates;
                    earlier_dates += c.earlier_dates;
                    outputs.push(c.analytics);
                }
                stage.finish_batch(batch).await;
            }
            args.get(3)
        }
        _ => return Err(usage.into()),
    };
    let total = started.elapsed();
    let out_players: usize = outputs.iter().map(|a| a.players.len()).sum();
    let out_teams: usize = outputs.iter().map(|a| a.teams.len()).sum();
    if let Some(path) = out {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        for a in &outputs {
            dump(&mut file, a)?;
        }
        file.flush()?;
    }
    // Rows read from silver: the processed dates' own rows (earlier dates come from the state).
    let summary = json!({"dates": dates, "objects": 2 * dates, "earlier_dates": earlier_dates,
        "refreshed_dates": refreshed, "player_rows": out_players, "team_rows": out_teams,
        "out_player_rows": out_players, "out_team_rows": out_teams, "total_s": total.as_secs_f64()});
    println!("{summary}");
    Ok(())
}
