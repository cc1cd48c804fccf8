//! The `bronze-ingestion` binary end to end: the stand-in stats API, a local moto for S3, and, for
//! the Lambda mode, a stand-in of the Lambda runtime API. No AWS, no internet.
//!
//! Runs against the project's local AWS (`scripts/emulator/pipewright_moto.py`, started by
//! `pipewright_stage::local_aws`; `pip install -r requirements-dev.txt`): run with
//! `cargo test -p bronze-ingestion --test moto -- --ignored`.

use std::collections::VecDeque;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chrono::NaiveDate;
use hoopstat_fixtures::{Day, Generator};
use pipewright_stage::local_aws::LocalAws;
use serde_json::{Value, json};
use support::{Api, serve};

mod support;

const BUCKET: &str = "hoopstat-haus-bronze";
const BIN: &str = env!("CARGO_BIN_EXE_bronze-ingestion");

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_moto() -> (LocalAws, String) {
    let local = LocalAws::start().expect("the local AWS (python3 with requirements-dev.txt)");
    let url = local.endpoint.clone();
    (local, url)
}

fn s3(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn object(client: &aws_sdk_s3::Client, key: &str) -> Option<Vec<u8>> {
    let output = client.get_object().bucket(BUCKET).key(key).send().await.ok()?;
    Some(output.body.collect().await.expect("body").into_bytes().to_vec())
}

/// The binary with AWS pointed at moto and no stage contract in the environment.
fn command(moto: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("AWS_ENDPOINT_URL", moto)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("NBA_STATS_MIN_INTERVAL_MS", "0")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_LAMBDA_RUNTIME_API");
    for var in pipewright_stage::ALL {
        cmd.env_remove(var);
    }
    cmd
}

async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("runs")).await.expect("joins")
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

fn days() -> Vec<Day> {
    let g = Generator::new(2024);
    vec![g.day_numbered(date("2024-01-14"), 6, 600), g.day_numbered(date("2024-01-15"), 0, 606)]
}

#[tokio::test]
#[ignore = "needs python3 with moto[server] 5.2.1 (requirements-dev.txt)"]
async fn the_command_backfills_a_range_into_s3() {
    let (_moto, endpoint) = start_moto();
    let client = s3(&endpoint);
    client.create_bucket().bucket(BUCKET).send().await.expect("bucket");
    let api = Api::default();
    for day in days() {
        api.add_day(day);
    }
    let base = serve(&api).await;

    let mut cmd = command(&endpoint);
    cmd.args(["--from", "2024-01-14", "--to", "2024-01-15", "--bucket", BUCKET, "--base-url", &base]);
    let out = run(cmd).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    let summaries: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("location").is_some())
        .collect();
    assert_eq!(summaries.len(), 2, "{stdout}");
    assert_eq!(summaries[0]["games_written"], 6);
    assert_eq!(summaries[1]["games_written"], 0);
    for day in days() {
        let written = object(&client, &day.key()).await.expect("written");
        assert!(written == day.to_bronze(), "{} differs from the fixtures", day.key());
    }
    assert_eq!(api.hits().len(), 2 + 6);

    // A date that is not over yet is refused before any request.
    let mut cmd = command(&endpoint);
    cmd.args(["--date", "2999-01-01", "--bucket", BUCKET, "--base-url", &base]);
    let out = run(cmd).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not over yet"));
    assert_eq!(api.hits().len(), 8);

    // An API that keeps failing: exit status 1, the date and game in the error, nothing written.
    let g = Generator::new(1).day_numbered(date("2024-01-16"), 2, 700);
    let failing = g.games[1].box_score_traditional.game_id.clone();
    api.add_day(g.clone());
    api.script(&failing, &[support::Reply::Status(500, None); 2]);
    let mut cmd = command(&endpoint);
    cmd.args(["--date", "2024-01-16", "--bucket", BUCKET, "--base-url", &base, "--max-attempts", "2"]);
    let out = run(cmd).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("2024-01-16") && stderr.contains(&failing) && stderr.contains("HTTP 500"), "{stderr}");
    assert!(object(&client, &g.key()).await.is_none());
}

/// `(request id, "response" or "error", body)` posted by the function.
type Outcome = (String, &'static str, Value);

/// A stand-in of the Lambda runtime API: hands out `events`, collects responses and errors.
#[derive(Clone, Default)]
struct Runtime {
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    results: Arc<Mutex<Vec<Outcome>>>,
}

async fn next(State(rt): State<Runtime>) -> impl IntoResponse {
    let event = rt.events.lock().expect("lock").pop_front();
    match event {
        Some((id, payload)) => {
            let deadline = (chrono::Utc::now().timestamp_millis() + 300_000).to_string();
            (
                StatusCode::OK,
                [
                    ("lambda-runtime-aws-request-id", id),
                    ("lambda-runtime-deadline-ms", deadline),
                    (
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:bronze".to_string(),
                    ),
                    ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000".to_string()),
                ],
                payload.to_string(),
            )
                .into_response()
        }
        None => {
            // No more invocations: the function waits, as on Lambda.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::NO_CONTENT.into_response()
        }
    }
}

async fn outcome(State(rt): State<Runtime>, Path((id, kind)): Path<(String, String)>, body: String) -> StatusCode {
    let kind = if kind == "response" { "response" } else { "error" };
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    rt.results.lock().expect("lock").push((id, kind, body));
    StatusCode::ACCEPTED
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 with moto[server] 5.2.1 (requirements-dev.txt)"]
async fn the_lambda_mode_handles_scheduler_events_and_reports_failures() {
    let (_moto, endpoint) = start_moto();
    let client = s3(&endpoint);
    client.create_bucket().bucket(BUCKET).send().await.expect("bucket");
    let api = Api::default();
    for day in days() {
        api.add_day(day);
    }
    let base = serve(&api).await;

    let rt = Runtime::default();
    rt.events.lock().expect("lock").extend([
        ("req-1".to_string(), json!({"date": "2024-01-14"})),
        ("req-2".to_string(), json!({"date": "2999-01-01"})),
    ]);
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(outcome))
        .with_state(rt.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let runtime_api = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let contract = bronze_ingestion::default_contract(BUCKET);
    let mut cmd = command(&endpoint);
    cmd.env("AWS_LAMBDA_RUNTIME_API", &runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "hoopstat-haus-bronze-ingestion")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/hoopstat-haus-bronze-ingestion")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("NBA_STATS_BASE_URL", &base)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in contract.to_vars() {
        cmd.env(name, value);
    }
    let _function = Killed(cmd.spawn().expect("starts"));
    let started = Instant::now();
    while rt.results.lock().expect("lock").len() < 2 {
        assert!(started.elapsed() < Duration::from_secs(60), "no outcome for both invocations");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let results = rt.results.lock().expect("lock").clone();
    assert_eq!(results[0].0, "req-1");
    assert_eq!(results[0].1, "response", "{results:?}");
    assert_eq!(results[0].2["games_written"], 6);
    assert_eq!(results[0].2["written"], "created");
    // The failure is an invocation error (so the scheduler retries it), not a success with a message.
    assert_eq!((results[1].0.as_str(), results[1].1), ("req-2", "error"), "{results:?}");
    assert!(results[1].2.to_string().contains("not over yet"), "{results:?}");
    let day = &days()[0];
    assert!(object(&client, &day.key()).await.is_some_and(|b| b == day.to_bronze()));
}
