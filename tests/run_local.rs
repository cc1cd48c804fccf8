//! `pipewright run-local` against the emulator, each stage a real process behind the Lambda Runtime
//! API: the flagship's generated day flows bronze -> silver -> gold and verifies clean (twice,
//! without duplicating a row); a poisoned record ends in the DLQ after maxReceiveCount while its batch
//! neighbours succeed; `specs/minimal.yaml` and a pipeline of another shape (a local source, a chain
//! of three Lambda stages, another region) run with a Python stage that speaks the Runtime API
//! itself; `specs/clickstream.yaml`, whose triggers are delivered through EventBridge, fans each object
//! out to its two stages; a stage that crashes has its messages retried, then dead-lettered.

mod support;

use chrono::NaiveDate;
use pipewright::Exit;
use pipewright::aws::emulator::Emulator;
use serde_json::Value;
use std::path::Path;
use support::cli;

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

/// The gold analytics the generated games of `day` must give (the first date of its season).
fn expected(seed: u64, day: NaiveDate, games: usize) -> gold_analytics::Analytics {
    let bronze = hoopstat_fixtures::Generator::new(seed).day(day, games).to_bronze();
    let t = silver_processing::transform(&bronze, day).expect("the generated day is valid");
    let silver = gold_analytics::SilverDay { date: day, players: t.players, teams: t.teams };
    gold_analytics::compute(&silver, &[]).expect("analytics")
}

/// The gold rows (players, teams) the generated games of `day` must give.
fn expected_rows(seed: u64, day: NaiveDate, games: usize) -> (usize, usize) {
    let analytics = expected(seed, day, games);
    (analytics.players.len(), analytics.teams.len())
}

/// A gold table of the flagship read by pyiceberg (`scripts/iceberg-read.py`), an Iceberg client
/// independent of the stage's.
fn pyiceberg(emulator: &Emulator, table: &str) -> Value {
    let out = std::process::Command::new("python3")
        .args(["scripts/iceberg-read.py", "--endpoint-url", &emulator.endpoint])
        .args(["hoopstat-haus-gold-tables", "basketball_analytics", table])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .expect("python3 with requirements-dev.txt");
    assert!(out.status.success(), "iceberg-read.py {table}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("iceberg-read.py prints JSON")
}

/// The tables as pyiceberg reads them: partitioned by the day of `game_date` as the spec declares, a
/// snapshot that replaced `day`, and the rows `expected` gives, value for value.
fn tables_read_by_pyiceberg(emulator: &Emulator, day: NaiveDate, expected: &gold_analytics::Analytics) {
    let f = |v: Option<f64>| v.map_or(Value::Null, Value::from);
    let players: Vec<Value> = expected
        .players
        .iter()
        .map(|p| {
            serde_json::json!([
                p.player_id,
                p.team_id,
                p.points,
                f(p.true_shooting_pct),
                f(p.usage_rate),
                p.season_games,
                f(p.season_points_per_game)
            ])
        })
        .collect();
    let teams: Vec<Value> = expected
        .teams
        .iter()
        .map(|t| {
            serde_json::json!([
                t.team_id,
                t.game_id,
                t.points,
                f(t.pace),
                f(t.net_rating),
                t.season_games,
                f(t.season_net_rating)
            ])
        })
        .collect();
    for (table, want, columns) in [
        (
            "player_analytics",
            players,
            [
                "player_id",
                "team_id",
                "points",
                "true_shooting_pct",
                "usage_rate",
                "season_games",
                "season_points_per_game",
            ],
        ),
        (
            "team_analytics",
            teams,
            ["team_id", "game_id", "points", "pace", "net_rating", "season_games", "season_net_rating"],
        ),
    ] {
        let read = pyiceberg(emulator, table);
        assert_eq!(
            read["partition_spec"],
            serde_json::json!([{"name": "game_date_day", "transform": "day", "source": "game_date"}]),
            "{table}"
        );
        let snapshots = read["snapshots"].as_array().expect("snapshots");
        assert!(
            snapshots.iter().any(|s| s["summary"]["pipewright.game-date"] == day.to_string().as_str()),
            "{table}: a snapshot of {day}: {snapshots:?}"
        );
        let rows = read["rows"].as_array().expect("rows");
        assert!(rows.iter().all(|r| r["game_date"] == day.to_string().as_str()), "{table}");
        let mut got: Vec<String> =
            rows.iter().map(|r| Value::from(columns.map(|c| r[c].clone()).to_vec()).to_string()).collect();
        let mut want: Vec<String> = want.iter().map(Value::to_string).collect();
        got.sort();
        want.sort();
        assert_eq!(got.len(), want.len(), "{table}: rows");
        assert!(
            got == want,
            "{table}: pyiceberg reads other rows than the stage computed: {:?} vs {:?}",
            got.first(),
            want.first()
        );
    }
}

fn report(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("run-local --format json: {e}\n{out}"))
}

fn stage<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["stages"].as_array().expect("stages").iter().find(|s| s["stage"] == name).expect("stage in the report")
}

fn table<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["tables"].as_array().expect("tables").iter().find(|t| t["table"] == name).expect("table in the report")
}

#[test]
#[ignore = "needs python3 with moto[server]==5.2.1 (CI runs it with --include-ignored)"]
fn a_generated_day_flows_to_gold_and_verifies_clean_and_a_rerun_duplicates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator")).expect("the emulator starts");
    let state = dir.path().join("state");
    let args = [
        "run-local",
        "--endpoint-url",
        &emulator.endpoint,
        "--state-dir",
        state.to_str().expect("utf8"),
        "specs/hoopstat-haus.yaml",
        "--date",
        "2024-01-15",
        "--env",
        "BRONZE_FIXTURE_GAMES=4",
        "--env",
        "BRONZE_FIXTURE_SEED=7",
        "--format",
        "json",
    ];
    let (exit, out, err) = cli(&args);
    assert_eq!(exit, Exit::Clean, "{err}\n{out}");
    let r = report(&out);
    let (players, teams) = expected_rows(7, date("2024-01-15"), 4);
    assert!(players > 40 && teams == 8, "{players} {teams}");
    assert_eq!(table(&r, "basketball_analytics.player_analytics")["total_rows"], players, "{out}");
    assert_eq!(table(&r, "basketball_analytics.team_analytics")["total_rows"], teams, "{out}");
    assert_eq!(r["source_runs"][0]["stage"], "bronze-ingestion", "{out}");
    assert_eq!(r["source_runs"][0]["error"], Value::Null, "{out}");
    let silver = stage(&r, "silver-processing");
    // the bronze object, and the test event S3 sends when the notification is configured
    assert_eq!(silver["succeeded"], 2, "{out}");
    assert_eq!(silver["failed"], 0);
    assert_eq!(silver["dead_letters"], 0);
    let layers = r["layers"].as_array().expect("layers");
    assert!(layers.iter().all(|l| l["objects"] == 1), "{out}");
    assert_eq!(r["verify"]["clean"], true, "{out}");
    assert!(err.contains("silver-processing  batch"), "progress per batch: {err}");
    assert_eq!(silver["processes"], 1, "one execution environment, reused: {out}");
    tables_read_by_pyiceberg(&emulator, date("2024-01-15"), &expected(7, date("2024-01-15"), 4));

    // Again: the stack is up to date, silver rewrites nothing, gold keeps one copy of the date.
    let (exit, out, err) = cli(&args);
    assert_eq!(exit, Exit::Clean, "{err}\n{out}");
    assert!(err.contains("no changes"), "{err}");
    let r = report(&out);
    assert_eq!(table(&r, "basketball_analytics.player_analytics")["total_rows"], players, "{out}");
    assert_eq!(table(&r, "basketball_analytics.team_analytics")["total_rows"], teams, "{out}");
}

fn write(path: &Path, body: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, body).expect("write");
}

#[test]
#[ignore = "needs python3 with moto[server]==5.2.1 (CI runs it with --include-ignored)"]
fn a_poisoned_record_ends_in_the_dlq_after_max_receive_count_while_its_neighbours_succeed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator")).expect("the emulator starts");
    // The flagship with no batching window, so the retries do not wait 5 s each.
    let spec = std::fs::read_to_string("specs/hoopstat-haus.yaml").expect("spec");
    assert!(spec.contains("batching_window: 5s"));
    let spec_path = dir.path().join("hoopstat-haus.yaml");
    std::fs::write(&spec_path, spec.replace("batching_window: 5s", "batching_window: 0s")).expect("write spec");
    let files = dir.path().join("bronze");
    let generator = hoopstat_fixtures::Generator::new(3);
    for d in ["2024-01-15", "2024-01-16"] {
        let day = generator.day(date(d), 3);
        write(&files.join(day.key()), &day.to_bronze());
    }
    let poisoned = "raw/box_scores/date=2024-01-17/data.json";
    write(&files.join(poisoned), br#"{"date": "2024-01-17", "games": ["#);

    // The spec lives in a temporary directory: its stages' crates are this workspace's.
    let lambdas = std::path::absolute("lambdas").expect("path");
    let (exit, out, err) = cli(&[
        "run-local",
        spec_path.to_str().expect("utf8"),
        "--lambdas",
        lambdas.to_str().expect("utf8"),
        "--endpoint-url",
        &emulator.endpoint,
        "--state-dir",
        dir.path().join("state").to_str().expect("utf8"),
        "--from-dir",
        files.to_str().expect("utf8"),
        "--retry-after",
        "1s",
        "--format",
        "json",
    ]);
    assert_eq!(exit, Exit::Findings, "a dead letter is a finding\n{err}\n{out}");
    let r = report(&out);
    let silver = stage(&r, "silver-processing");
    assert_eq!(silver["dead_letters"], 1, "{out}");
    assert_eq!(silver["left_in_queue"], 0, "{out}");
    // received maxReceiveCount (5) times, failed each time; the good days and the test event once
    assert_eq!(silver["failed"], 5, "{out}");
    assert_eq!(silver["succeeded"], 3, "{out}");
    let silver_players = r["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .find(|l| l["output"] == "player_stats")
        .expect("player_stats layer");
    assert_eq!(silver_players["objects"], 2, "{out}");
    // two dates of three games: six teams a date
    assert_eq!(table(&r, "basketball_analytics.team_analytics")["total_rows"], 12, "{out}");

    // The dead letter is the poisoned object's event.
    let script = r#"
import boto3, json, sys
sqs = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
url = sqs.get_queue_url(QueueName="hoopstat-haus-silver-processing-dlq")["QueueUrl"]
msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
print(json.dumps([[json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"], m["Attributes"]["ApproximateReceiveCount"]] for m in msgs]))
"#;
    let py = std::process::Command::new("python3").args(["-c", script, &emulator.endpoint]).output().expect("python3");
    assert!(py.status.success(), "{}", String::from_utf8_lossy(&py.stderr));
    let dead: Value = serde_json::from_slice(&py.stdout).expect("json");
    assert_eq!(dead[0][0], "raw/box_scores/date%3D2024-01-17/data.json", "{dead}");
    assert_eq!(dead.as_array().map(Vec::len), Some(1), "{dead}");
}

#[test]
fn refuses_an_endpoint_that_is_not_local_before_anything_is_deployed() {
    let (exit, _, err) =
        cli(&["run-local", "specs/minimal.yaml", "--endpoint-url", "https://cloudformation.us-east-1.amazonaws.com"]);
    assert_eq!(exit, Exit::Usage);
    assert!(err.contains("not a loopback address"), "{err}");
}

#[test]
fn a_stage_without_a_crate_is_named_with_the_expected_path_before_anything_is_deployed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (exit, _, err) = cli(&[
        "run-local",
        "specs/minimal.yaml",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--lambdas",
        dir.path().to_str().expect("utf8"),
    ]);
    assert_eq!(exit, Exit::Usage, "{err}");
    assert!(err.contains("stage `curate` has no crate") || err.contains("stage `export` has no crate"), "{err}");
    assert!(err.contains("Cargo.toml") && err.contains("pipewright new"), "{err}");
}

/// A project in `dir`: `spec` as `pipewright.yaml`, and the Python fixture stage as the
/// `bootstrap` of each of `stages`.
fn python_project(dir: &Path, spec: &str, stages: &[&str]) -> std::path::PathBuf {
    let bootstrap = std::path::absolute("tests/fixtures/python-stage/bootstrap").expect("path");
    for stage in stages {
        let d = dir.join("lambdas").join(stage);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::os::unix::fs::symlink(&bootstrap, d.join("bootstrap")).expect("symlink");
    }
    let path = dir.join("pipewright.yaml");
    std::fs::write(&path, spec).expect("write spec");
    path
}

/// Runs run-local on `spec` against a fresh emulator; exit, report, stderr.
fn run_python(spec: &Path, emulator: &Emulator, state: &Path, extra: &[&str]) -> (Exit, Value, String) {
    let mut args = vec![
        "run-local",
        spec.to_str().expect("utf8"),
        "--endpoint-url",
        &emulator.endpoint,
        "--state-dir",
        state.to_str().expect("utf8"),
        "--date",
        "2024-03-01",
        "--days",
        "2",
        "--retry-after",
        "1s",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let (exit, out, err) = cli(&args);
    let r = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{err}\n{out}"));
    (exit, r, err)
}

/// Every write template of the spec has an object for each of the run's two dates.
fn every_write_has_objects(r: &Value) {
    let layers = r["layers"].as_array().expect("layers");
    assert!(!layers.is_empty());
    for l in layers {
        assert_eq!(l["objects"], 2, "{l}\n{r:#}");
    }
}

#[test]
#[ignore = "needs python3 with moto[server]==5.2.1 (CI runs it with --include-ignored)"]
fn the_minimal_spec_runs_end_to_end_with_a_python_stage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator")).expect("the emulator starts");
    let text = std::fs::read_to_string("specs/minimal.yaml").expect("spec");
    let spec = python_project(dir.path(), &text, &["export", "curate"]);
    let (exit, r, err) = run_python(&spec, &emulator, &dir.path().join("state"), &[]);
    assert_eq!(exit, Exit::Clean, "{err}\n{r:#}");
    // the scheduled Lambda stage `export` invoked once per date through its Runtime API
    let runs = r["source_runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{r:#}");
    assert!(
        runs.iter().all(|run| run["stage"] == "export" && run["runs"] == "lambda" && run["error"].is_null()),
        "{r:#}"
    );
    let curate = stage(&r, "curate");
    // the two exports and S3's test event
    assert_eq!(curate["succeeded"], 3, "{r:#}");
    assert_eq!(curate["dead_letters"], 0);
    every_write_has_objects(&r);
    assert_eq!(r["verify"]["clean"], true, "{r:#}");
    // The deploy's progress: one line per resource, where it settled.
    let settled = progress_lines(&err, "CREATE_COMPLETE");
    assert!(settled.len() > 10, "{err}");
    assert_eq!(progress_lines(&err, "CREATE_IN_PROGRESS"), Vec::<String>::new(), "{err}");
    let mut ids = settled.clone();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), settled.len(), "one line per resource: {err}");
}

/// The logical ids of the deploy's progress lines of `status` (`  1.2s  CREATE_COMPLETE  AWS::SQS::Queue  Id`).
fn progress_lines(err: &str, status: &str) -> Vec<String> {
    err.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[0].ends_with('s') && f[1] == status).then(|| f[3].to_string())
        })
        .collect()
}

#[test]
#[ignore = "needs python3 with moto[server]==5.2.1 (CI runs it with --include-ignored)"]
fn clickstream_delivers_each_object_through_eventbridge_to_both_stages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator")).expect("the emulator starts");
    let text = std::fs::read_to_string("specs/clickstream.yaml").expect("spec");
    let spec = python_project(dir.path(), &text, &["sessionize", "audit"]);
    let input = dir.path().join("input");
    for date in ["2024-03-01", "2024-03-02"] {
        write(&input.join(format!("events/site=shop/date={date}/hour=07/part-0001.json")), b"{}");
    }
    // Inside the prefix and suffix an S3 notification would filter by; outside the rules' pattern.
    write(&input.join("events/site=shop/notes.json"), b"{}");
    let (exit, out, err) = cli(&[
        "run-local",
        spec.to_str().expect("utf8"),
        "--endpoint-url",
        &emulator.endpoint,
        "--state-dir",
        dir.path().join("state").to_str().expect("utf8"),
        "--from-dir",
        input.to_str().expect("utf8"),
        "--retry-after",
        "1s",
        "--format",
        "json",
    ]);
    let r: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{err}\n{out}"));
    assert_eq!(exit, Exit::Clean, "{err}\n{r:#}");
    assert!(err.contains("notes.json matches no trigger"), "{err}");
    for name in ["sessionize", "audit"] {
        let s = stage(&r, name);
        // The two matching objects, each through its own rule; no S3 test event (no S3 notification).
        assert_eq!((s["records"].as_u64(), s["succeeded"].as_u64()), (Some(2), Some(2)), "{name}: {r:#}");
        assert_eq!(s["dead_letters"], 0, "{name}: {r:#}");
    }
    every_write_has_objects(&r);
    assert_eq!(r["verify"]["clean"], true, "{r:#}");
}

/// A pipeline of another shape than the flagship and minimal: another region, a local source, and
/// a chain of three Lambda stages whose last writes back into its trigger's bucket under another
/// prefix.
const CHAIN: &str = include_str!("fixtures/sensor-chain.yaml");

#[test]
#[ignore = "needs python3 with moto[server]==5.2.1 (CI runs it with --include-ignored)"]
fn a_chain_of_three_lambda_stages_after_a_local_source_runs_in_another_region() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator")).expect("the emulator starts");
    let spec = python_project(dir.path(), CHAIN, &["collect", "parse", "enrich", "publish"]);
    let (exit, r, err) = run_python(&spec, &emulator, &dir.path().join("state"), &["--verbose"]);
    assert_eq!(exit, Exit::Clean, "{err}\n{r:#}");
    // --verbose: every stack event of the deploy.
    assert!(!progress_lines(&err, "CREATE_IN_PROGRESS").is_empty(), "{err}");
    let runs = r["source_runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{r:#}");
    assert!(
        runs.iter().all(|run| run["stage"] == "collect" && run["runs"] == "local" && run["error"].is_null()),
        "{r:#}"
    );
    for name in ["parse", "enrich", "publish"] {
        let s = stage(&r, name);
        assert_eq!(s["failed"], 0, "{name}: {r:#}");
        assert_eq!(s["dead_letters"], 0, "{name}: {r:#}");
        assert_eq!(s["processes"], 1, "{name}: {r:#}");
    }
    every_write_has_objects(&r);
    assert_eq!(r["verify"]["clean"], true, "{r:#}");
    assert!(r["verify"]["summary"].as_str().is_some_and(|s| s.contains("0 drifted")), "{r:#}");
}

#[test]
#[ignore = "needs python3 with moto[server]==5.2.1 (CI runs it with --include-ignored)"]
fn a_stage_that_crashes_has_its_messages_retried_then_dead_lettered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator")).expect("the emulator starts");
    let spec = python_project(dir.path(), CHAIN, &["collect", "parse", "enrich", "publish"]);
    let (exit, r, err) =
        run_python(&spec, &emulator, &dir.path().join("state"), &["--env", "FIXTURE_CRASH=1", "--no-verify"]);
    assert_eq!(exit, Exit::Findings, "dead letters are findings\n{err}\n{r:#}");
    let parse = stage(&r, "parse");
    // two objects and S3's test event, each received maxReceiveCount (5) times, never processed
    assert_eq!(parse["dead_letters"], 3, "{r:#}");
    assert_eq!(parse["succeeded"], 0, "{r:#}");
    assert_eq!(parse["failed"], parse["records"], "{r:#}");
    assert!(parse["processes"].as_u64().is_some_and(|n| n >= 5), "a crashed environment is restarted: {r:#}");
    assert!(err.contains("Runtime.ExitError") && err.contains("crashing on purpose"), "{err}");
}

/// Dummy credentials for the emulator, and none of the machine's config files.
const EMULATOR_CREDS: [(&str, &str); 5] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_CONFIG_FILE", "/dev/null"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
];

/// The messages of a log group in the emulator, oldest first.
fn log_lines(endpoint: &str, group: &str) -> Vec<String> {
    let code = format!(
        "import boto3\nlogs = boto3.client('logs', endpoint_url={endpoint:?}, region_name='us-east-1')\n\
         for e in logs.filter_log_events(logGroupName={group:?})['events']: print(e['message'])\n"
    );
    let o = std::process::Command::new("python3").args(["-c", &code]).envs(EMULATOR_CREDS).output().expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect()
}

/// `pipewright ARGS --endpoint-url ENDPOINT` as a process, with the emulator's credentials; exit code,
/// stdout, stderr.
fn against(endpoint: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(args)
        .args(["--endpoint-url", endpoint])
        .envs(EMULATOR_CREDS)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (o.status.code(), text(&o.stdout), text(&o.stderr))
}

#[test]
#[ignore = "needs python3 with moto[server]==5.2.1 (CI runs it with --include-ignored)"]
fn a_scheduled_run_that_fails_every_attempt_lands_in_its_dlq_and_redrive_runs_it_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator = Emulator::start(&dir.path().join("emulator")).expect("the emulator starts");
    let text = std::fs::read_to_string("specs/minimal.yaml").expect("spec");
    let spec = python_project(dir.path(), &text, &["export", "curate"]);
    let (exit, r, err) =
        run_python(&spec, &emulator, &dir.path().join("state"), &["--env", "FIXTURE_FAIL_DATE=2024-03-02"]);
    assert_eq!(exit, Exit::Findings, "a failed run is a finding\n{err}\n{r:#}");
    let runs = r["source_runs"].as_array().expect("runs");
    let run = |d: &str| runs.iter().find(|run| run["date"] == d).unwrap_or_else(|| panic!("{d}: {r:#}"));
    assert!(run("2024-03-01")["error"].is_null(), "{r:#}");
    let failed = run("2024-03-02");
    assert!(failed["error"].as_str().is_some_and(|e| e.contains("FIXTURE_FAIL_DATE")), "{r:#}");
    assert_eq!(failed["dead_lettered"], "acme-orders-export-dlq", "{r:#}");
    assert!(err.contains("FAILED 3 times, its run is in `acme-orders-export-dlq`"), "{err}");
    // The runtime took four invocations: the good date once, the failing one three times.
    let lines = log_lines(&emulator.endpoint, "/aws/lambda/acme-orders-export");
    assert_eq!(lines.iter().filter(|l| l.starts_with(r#"{"request_id""#)).count(), 4, "{lines:#?}");
    // The other date went on downstream; the failed one wrote nothing.
    assert_eq!(stage(&r, "curate")["succeeded"], 2, "one export and S3's test event: {r:#}");
    assert_eq!(r["verify"]["clean"], true, "a dead letter is not drift: {r:#}");

    // The dead letter is the run, with the error Lambda records.
    let spec = spec.to_str().expect("utf8");
    let (code, out, err) = against(&emulator.endpoint, &["dlq", spec, "--stage", "export", "peek", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let peek: Value = serde_json::from_str(&out).expect("json");
    let letters = peek["messages"].as_array().expect("messages");
    assert_eq!(letters.len(), 1, "{peek:#}");
    assert_eq!(letters[0]["run"], serde_json::json!({"date": "2024-03-02"}), "{peek:#}");
    assert!(letters[0]["error"].as_str().is_some_and(|e| e.contains("FIXTURE_FAIL_DATE")), "{peek:#}");
    let (code, out, _) = against(&emulator.endpoint, &["dlq", spec, "--stage", "export", "peek"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("the run for 2024-03-02") && out.contains("failed: "), "{out}");

    // Redrive invokes the function again with the run (asynchronously) and empties the DLQ.
    let (code, out, err) =
        against(&emulator.endpoint, &["dlq", spec, "--stage", "export", "redrive", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let redriven: Value = serde_json::from_str(&out).expect("json");
    assert_eq!((redriven["moved"].as_u64(), redriven["function"].as_str()), (Some(1), Some("acme-orders-export")));
    // Lambda accepted the run as it was (the emulator runs nothing: patch 18).
    let lines = log_lines(&emulator.endpoint, "/aws/lambda/acme-orders-export");
    let accepted: Vec<&String> = lines.iter().filter(|l| l.contains("accepted, not run")).collect();
    assert_eq!(accepted.len(), 1, "{lines:#?}");
    assert!(accepted[0].ends_with(r#"{"date":"2024-03-02"}"#), "{accepted:?}");
    let (_, out, _) = against(&emulator.endpoint, &["dlq", spec, "--stage", "export", "peek", "--format", "json"]);
    let peek: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(peek["messages"].as_array().map(Vec::len), Some(0), "{peek:#}");
}
