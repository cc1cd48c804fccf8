//! The handler end to end, with an in-memory object store: SQS batch -> bronze GET -> silver PUTs.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chrono::NaiveDate;
use hoopstat_fixtures::contract::{BRONZE, SILVER};
use hoopstat_fixtures::{Corruption, Day, Generator, bronze_key, contract};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pipewright_stage::StageEnv;
use pipewright_stage::log::{Captured, Logger};
use pipewright_stage::store::MemoryStore;
use silver_processing::Stage;
use silver_processing::stage::{ConfigError, Written};

fn env() -> StageEnv {
    contract::silver_env()
}

fn stage(store: &MemoryStore) -> (Stage<MemoryStore>, Captured) {
    let (log, captured) = Logger::capture("silver-processing");
    (Stage::new(&env(), store.clone(), log).expect("config"), captured)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// The body S3 sends (AWS form), key URL-encoded as S3 does.
fn aws_body(key: &str) -> String {
    let encoded = key.replace('=', "%3D");
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2024-01-16T09:30:01.123Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "bronze",
            "bucket": {"name": BRONZE, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": "arn:aws:s3:::hoopstat-haus-bronze"},
            "object": {"key": encoded, "size": 1024, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}}
    }]})
    .to_string()
}

/// The body moto sends: every reserved character encoded, no timezone, no identity fields.
fn moto_body(key: &str) -> String {
    let encoded = key.replace('/', "%2F").replace('=', "%3D");
    serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-28T17:07:54.285007", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "x",
            "bucket": {"name": BRONZE, "arn": "arn:aws:s3:::hoopstat-haus-bronze"},
            "object": {"key": encoded, "size": 2, "eTag": "99914b932bd37a50b983c5e7c90ae93b"}}
    }]})
    .to_string()
}

fn batch(bodies: &[(&str, String)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .map(|(id, body)| {
            let mut m = SqsMessage::default();
            m.message_id = Some(id.to_string());
            m.body = Some(body.clone());
            m
        })
        .collect();
    event
}

fn failures(event: &SqsEvent, stage: &Stage<MemoryStore>) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let response = rt.block_on(stage.handle(event)).expect("ids present");
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

fn rows(bytes: Vec<u8>) -> usize {
    ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .expect("parquet")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch").num_rows())
        .sum()
}

#[test]
fn processes_aws_and_moto_events_and_writes_both_tables() {
    let store = MemoryStore::default();
    let g = Generator::new(1);
    let d1 = g.day(date(2024, 1, 15), 6);
    let d2 = g.day(date(2024, 11, 2), 4);
    store.insert(BRONZE, &d1.key(), d1.to_bronze());
    store.insert(BRONZE, &d2.key(), d2.to_bronze());
    let (stage, log) = stage(&store);
    let event = batch(&[("a", aws_body(&d1.key())), ("b", moto_body(&d2.key()))]);
    assert_eq!(failures(&event, &stage), Vec::<String>::new());
    assert_eq!(
        store.keys(SILVER),
        vec![
            "silver/player_stats/season=2023-24/date=2024-01-15/data.parquet",
            "silver/player_stats/season=2024-25/date=2024-11-02/data.parquet",
            "silver/team_stats/season=2023-24/date=2024-01-15/data.parquet",
            "silver/team_stats/season=2024-25/date=2024-11-02/data.parquet",
        ]
    );
    let teams = store.object(SILVER, "silver/team_stats/season=2023-24/date=2024-01-15/data.parquet").expect("teams");
    assert_eq!(rows(teams), 12);
    let lines = log.lines();
    let done: Vec<_> = lines.iter().filter(|l| l["message"] == "bronze object processed").collect();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0]["counts"]["games"], 6);
    assert_eq!(done[0]["date"], "2024-01-15");
    assert!(done[0]["duration_ms"].is_u64());
}

#[test]
fn duplicate_delivery_writes_identical_bytes_once() {
    let store = MemoryStore::default();
    let day = Generator::new(2).day(date(2024, 1, 15), 5);
    store.insert(BRONZE, &day.key(), day.to_bronze_with(&[(0, Corruption::Tie)]));
    let (stage, _) = stage(&store);
    let event = batch(&[("a", aws_body(&day.key()))]);
    assert!(failures(&event, &stage).is_empty());
    let first: Vec<_> = store.keys(SILVER).iter().map(|k| store.object(SILVER, k)).collect();
    assert_eq!(store.puts().len(), 3, "players, teams, quarantine");
    // The same message again (SQS is at-least-once) and the same object through a second event.
    assert!(failures(&batch(&[("b", aws_body(&day.key())), ("c", moto_body(&day.key()))]), &stage).is_empty());
    let second: Vec<_> = store.keys(SILVER).iter().map(|k| store.object(SILVER, k)).collect();
    assert_eq!(first, second);
    assert_eq!(store.puts().len(), 3, "unchanged objects are not written again");
    // A fresh store (no previous objects) gets byte-identical objects too.
    let fresh = MemoryStore::default();
    fresh.insert(BRONZE, &day.key(), day.to_bronze_with(&[(0, Corruption::Tie)]));
    let (stage2, _) = self::stage(&fresh);
    let summary = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt")
        .block_on(stage2.process(&pipewright_stage::event::ObjectEvent {
            event_name: "ObjectCreated:Put".into(),
            event_time: None,
            bucket: BRONZE.into(),
            key: day.key(),
            raw_key: day.key(),
            size: None,
            sequencer: None,
        }))
        .expect("processes");
    assert!(summary.outputs.iter().all(|(_, w)| *w == Written::Created));
    let third: Vec<_> = fresh.keys(SILVER).iter().map(|k| fresh.object(SILVER, k)).collect();
    assert_eq!(first, third);
}

#[test]
fn invalid_records_go_to_quarantine_with_reasons() {
    let store = MemoryStore::default();
    let day = Generator::new(3).day(date(2024, 1, 15), 4);
    store.insert(
        BRONZE,
        &day.key(),
        day.to_bronze_with(&[(1, Corruption::MadeOverAttempted), (3, Corruption::SameTeams)]),
    );
    let (stage, log) = stage(&store);
    assert!(failures(&batch(&[("a", moto_body(&day.key()))]), &stage).is_empty());
    let report =
        store.object(SILVER, "quarantine/silver-processing/date=2024-01-15/reasons.json").expect("quarantine report");
    let report: serde_json::Value = serde_json::from_slice(&report).expect("json");
    assert_eq!(report["source"], format!("s3://{BRONZE}/{}", day.key()));
    assert_eq!(report["games"], 4);
    let q = report["quarantined"].as_array().expect("array");
    assert_eq!(q.len(), 2);
    assert_eq!(q[0]["classification"], "invariant");
    assert_eq!(q[1]["classification"], "consistency");
    let issues = q[0]["issues"].as_array().expect("issues");
    assert!(
        issues.iter().any(|i| i["code"] == "made_above_attempted"
            && i["reason"].as_str().is_some_and(|r| r.contains("fieldGoalsMade"))),
        "{issues:?}"
    );
    assert!(q[0]["record"]["boxScoreTraditional"].is_object(), "the original record is kept");
    let teams = store.object(SILVER, "silver/team_stats/season=2023-24/date=2024-01-15/data.parquet").expect("teams");
    assert_eq!(rows(teams), 4, "the two valid games go on");
    assert_eq!(log.lines().iter().filter(|l| l["message"] == "record quarantined").count(), 2);
}

#[test]
fn empty_day_writes_empty_tables_and_no_quarantine() {
    let store = MemoryStore::default();
    let day = Day::empty(date(2024, 12, 24));
    store.insert(BRONZE, &day.key(), day.to_bronze());
    let (stage, _) = stage(&store);
    assert!(failures(&batch(&[("a", aws_body(&day.key()))]), &stage).is_empty());
    let keys = store.keys(SILVER);
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.contains("season=2024-25/date=2024-12-24")));
    assert_eq!(rows(store.object(SILVER, &keys[0]).expect("object")), 0);
}

#[test]
fn failing_records_are_reported_and_neighbours_are_not() {
    let store = MemoryStore::default();
    store.fail_puts_containing(Some("date=2024-01-16"));
    let g = Generator::new(4);
    let good = g.day(date(2024, 1, 15), 3);
    let put_fails = g.day(date(2024, 1, 16), 3);
    let malformed_key = bronze_key(date(2024, 1, 17));
    let missing_key = bronze_key(date(2024, 1, 18));
    let good2 = g.day(date(2024, 1, 19), 2);
    for day in [&good, &put_fails, &good2] {
        store.insert(BRONZE, &day.key(), day.to_bronze());
    }
    store.insert(BRONZE, &malformed_key, b"{\"date\": \"2024-01-17\", \"games\": [{".to_vec());
    let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-01-15T00:00:00.000Z","Bucket":"hoopstat-haus-bronze"}"#;
    let event = batch(&[
        ("ok-1", aws_body(&good.key())),
        ("put-fails", moto_body(&put_fails.key())),
        ("malformed", aws_body(&malformed_key)),
        ("missing", aws_body(&missing_key)),
        ("test-event", test_event.to_string()),
        ("other-key", aws_body("raw/box_scores/date=2024-01-15/data.json.tmp")),
        ("not-s3", "{\"hello\": \"world\"}".to_string()),
        ("ok-2", moto_body(&good2.key())),
    ]);
    let (stage, log) = stage(&store);
    assert_eq!(failures(&event, &stage), vec!["put-fails", "malformed", "missing", "not-s3"]);
    assert!(store.keys(SILVER).iter().any(|k| k.contains("date=2024-01-15")));
    assert!(store.keys(SILVER).iter().any(|k| k.contains("date=2024-01-19")));
    assert!(!store.keys(SILVER).iter().any(|k| k.contains("date=2024-01-16")));
    let lines = log.lines();
    let errors: Vec<String> =
        lines.iter().filter(|l| l["level"] == "ERROR").map(|l| format!("{} {}", l["message_id"], l["error"])).collect();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors[0].contains("PutObject s3://hoopstat-haus-silver/silver/player_stats") && errors[0].contains("SlowDown")
    );
    assert!(errors[1].contains("not valid JSON"), "{}", errors[1]);
    assert!(errors[2].contains("does not exist"), "{}", errors[2]);
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "object skipped" && l["key"] == "raw/box_scores/date=2024-01-15/data.json.tmp")
    );
    assert!(lines.iter().any(|l| l["message"] == "s3:TestEvent ignored"));
    // Once the cause is gone, the retried message succeeds.
    store.fail_puts_containing(None);
    let (stage, _) = self::stage(&store);
    assert!(failures(&batch(&[("put-fails", moto_body(&put_fails.key()))]), &stage).is_empty());
}

#[test]
fn configuration_comes_from_the_contract() {
    let mut e = env();
    e.outputs.retain(|o| o.name != "team_stats");
    let (log, _) = Logger::capture("s");
    assert!(matches!(
        Stage::new(&e, MemoryStore::default(), log.clone()),
        Err(ConfigError::MissingOutput { output: "team_stats", .. })
    ));
    let mut e = env();
    e.quarantine = None;
    assert!(matches!(Stage::new(&e, MemoryStore::default(), log), Err(ConfigError::NoQuarantine(_))));
    // Outputs go where the environment says, not to a built-in bucket.
    let store = MemoryStore::default();
    let mut e = env();
    for o in &mut e.outputs {
        o.location.bucket = "elsewhere".into();
    }
    let day = Generator::new(8).day(date(2024, 1, 15), 1);
    store.insert(BRONZE, &day.key(), day.to_bronze());
    let (log, _) = Logger::capture("s");
    let stage = Stage::new(&e, store.clone(), log).expect("config");
    assert!(failures(&batch(&[("a", aws_body(&day.key()))]), &stage).is_empty());
    assert_eq!(store.keys("elsewhere").len(), 2);
    assert!(store.keys(SILVER).is_empty());
}
