//! `pipewright run-local` against the emulator: a generated day flows bronze -> silver -> gold and
//! verifies clean (twice, without duplicating a row); a poisoned record ends in the DLQ after
//! maxReceiveCount while its batch neighbours succeed.

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

/// The gold rows (players, teams) the generated games of `day` must give.
fn expected_rows(seed: u64, day: NaiveDate, games: usize) -> (usize, usize) {
    let bronze = hoopstat_fixtures::Generator::new(seed).day(day, games).to_bronze();
    let t = silver_processing::transform(&bronze, day).expect("the generated day is valid");
    let silver = gold_analytics::SilverDay { date: day, players: t.players, teams: t.teams };
    let analytics = gold_analytics::compute(&silver, &[]).expect("analytics");
    (analytics.players.len(), analytics.teams.len())
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
        "--date",
        "2024-01-15",
        "--games",
        "4",
        "--seed",
        "7",
        "--format",
        "json",
    ];
    let (exit, out, err) = cli(&args);
    assert_eq!(exit, Exit::Clean, "{err}\n{out}");
    let r = report(&out);
    let (players, teams) = expected_rows(7, date("2024-01-15"), 4);
    assert!(players > 40 && teams == 8, "{players} {teams}");
    assert_eq!(table(&r, "player_analytics")["rows"], players, "{out}");
    assert_eq!(table(&r, "team_analytics")["rows"], teams, "{out}");
    let silver = stage(&r, "silver-processing");
    // the bronze object, and the test event S3 sends when the notification is configured
    assert_eq!(silver["succeeded"], 2, "{out}");
    assert_eq!(silver["failed"], 0);
    assert_eq!(silver["dead_letters"], 0);
    let layers = r["layers"].as_array().expect("layers");
    assert!(layers.iter().all(|l| l["objects"] == 1), "{out}");
    assert_eq!(r["verify"]["clean"], true, "{out}");
    assert!(err.contains("silver-processing  batch"), "progress per batch: {err}");

    // Again: the stack is up to date, silver rewrites nothing, gold keeps one copy of the date.
    let (exit, out, err) = cli(&args);
    assert_eq!(exit, Exit::Clean, "{err}\n{out}");
    assert!(err.contains("no changes"), "{err}");
    let r = report(&out);
    assert_eq!(table(&r, "player_analytics")["rows"], players, "{out}");
    assert_eq!(table(&r, "player_analytics")["total_rows"], players, "{out}");
    assert_eq!(table(&r, "team_analytics")["total_rows"], teams, "{out}");
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

    let (exit, out, err) = cli(&[
        "run-local",
        spec_path.to_str().expect("utf8"),
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
    let per_date = table(&r, "team_analytics")["per_date"].clone();
    assert_eq!(per_date, serde_json::json!([["2024-01-15", 6], ["2024-01-16", 6]]), "{out}");

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
    let (exit, _, err) = cli(&["run-local", "--endpoint-url", "https://cloudformation.us-east-1.amazonaws.com"]);
    assert_eq!(exit, Exit::Usage);
    assert!(err.contains("not a loopback address"), "{err}");
}

#[test]
fn refuses_a_spec_whose_stages_have_no_in_process_handler() {
    let (exit, _, err) = cli(&["run-local", "specs/minimal.yaml", "--endpoint-url", "http://127.0.0.1:9"]);
    assert_eq!(exit, Exit::Usage, "{err}");
    assert!(err.contains("has no in-process handler"), "{err}");
}
