//! The Lambda Runtime API that `run-local` serves to each function's process: every endpoint, the
//! headers of `next` (request id, deadline, function ARN, trace id), a process reused between
//! invocations, a timeout that kills it, a crash in the middle of an invocation, an init error, and
//! an answer for an invocation that does not exist. The function is the Python fixture stage
//! (`tests/fixtures/python-stage/bootstrap`), which speaks the Runtime API without any library.

use pipewright::local::runtime::{API_VERSION, Environment, Function, Outcome};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn function(timeout: Duration, hooks: &[(&str, &str)]) -> Function {
    let mut env: BTreeMap<String, String> = [
        ("PATH", std::env::var("PATH").unwrap_or_default()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
        ("PIPEWRIGHT_STAGE", "fixture".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    env.extend(hooks.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Function {
        name: "fixture-fn".into(),
        arn: "arn:aws:lambda:us-east-1:123456789012:function:fixture-fn".into(),
        program: std::path::absolute("tests/fixtures/python-stage/bootstrap").expect("path"),
        env,
        timeout,
        memory_mb: 512,
    }
}

/// An SQS batch with only S3's test event: the fixture answers an empty partial batch response
/// without touching S3.
fn test_event() -> Vec<u8> {
    let body = serde_json::json!({"Event": "s3:TestEvent"}).to_string();
    serde_json::to_vec(&serde_json::json!({"Records": [{"messageId": "m1", "body": body}]})).expect("json")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

#[test]
fn next_carries_the_lambda_headers_and_the_process_is_reused() {
    runtime().block_on(async {
        let mut env = Environment::new(function(Duration::from_secs(20), &[])).await.expect("server");
        for _ in 0..2 {
            let outcome = env.invoke(test_event()).await.expect("invoke");
            assert_eq!(outcome, Outcome::Response(br#"{"batchItemFailures": []}"#.to_vec()), "{:?}", env.lines());
        }
        assert_eq!(env.starts, 1, "one execution environment for both invocations");
        let lines = env.lines();
        let seen: Vec<serde_json::Value> = lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|v: &serde_json::Value| v["request_id"].is_string())
            .collect();
        assert_eq!(seen.len(), 2, "{lines:?}");
        assert_ne!(seen[0]["request_id"], seen[1]["request_id"]);
        let remaining = seen[0]["remaining_ms"].as_i64().expect("deadline header");
        assert!((15_000..=20_000).contains(&remaining), "the deadline is the timeout away: {remaining}");
        assert!(env.max_memory_mb > 0);
        env.shutdown().await;
    });
}

#[test]
fn a_function_error_fails_the_invocation_and_the_process_lives_on() {
    runtime().block_on(async {
        let mut env = Environment::new(function(Duration::from_secs(20), &[])).await.expect("server");
        // Not an SQS batch and no date: the handler raises, the runtime posts .../error.
        let outcome = env.invoke(br#"{"unexpected": true}"#.to_vec()).await.expect("invoke");
        match &outcome {
            Outcome::FunctionError { error_type, message } => {
                assert_eq!(error_type, "KeyError");
                assert!(message.contains("scheduled_time"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(outcome.error().expect("an error").starts_with("KeyError"));
        let outcome = env.invoke(test_event()).await.expect("invoke");
        assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
        assert_eq!(env.starts, 1);
        env.shutdown().await;
    });
}

#[test]
fn a_timeout_kills_the_process_and_the_next_invocation_starts_a_new_one() {
    runtime().block_on(async {
        let mut env =
            Environment::new(function(Duration::from_secs(2), &[("FIXTURE_SLEEP", "30")])).await.expect("server");
        let started = Instant::now();
        let outcome = env.invoke(test_event()).await.expect("invoke");
        let took = started.elapsed();
        assert!(matches!(outcome, Outcome::TimedOut { .. }), "{outcome:?}");
        assert!(outcome.error().expect("error").starts_with("Task timed out after 2.00 seconds"));
        assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(10), "{took:?}");
        let _ = env.invoke(test_event()).await.expect("invoke");
        assert_eq!(env.starts, 2, "a timed-out environment is not reused");
        env.shutdown().await;
    });
}

#[test]
fn a_crash_mid_invocation_fails_it_with_the_last_output_lines() {
    runtime().block_on(async {
        let mut env =
            Environment::new(function(Duration::from_secs(20), &[("FIXTURE_CRASH", "1")])).await.expect("server");
        let outcome = env.invoke(test_event()).await.expect("invoke");
        match &outcome {
            Outcome::Exited { status, tail } => {
                assert!(status.contains('3'), "{status}");
                assert!(tail.iter().any(|l| l.contains("crashing on purpose")), "{tail:?}");
            }
            other => panic!("{other:?}"),
        }
        let text = outcome.error().expect("error");
        assert!(text.contains("Runtime.ExitError") && text.contains("crashing on purpose"), "{text}");
        env.shutdown().await;
    });
}

#[test]
fn an_init_error_fails_the_invocation_and_a_missing_program_says_so() {
    runtime().block_on(async {
        let mut env = Environment::new(function(Duration::from_secs(20), &[("FIXTURE_INIT_ERROR", "no config")]))
            .await
            .expect("server");
        let outcome = env.invoke(test_event()).await.expect("invoke");
        match &outcome {
            Outcome::InitError { error_type, message, .. } => {
                assert_eq!(error_type, "Fixture.InitError");
                assert_eq!(message, "no config");
            }
            other => panic!("{other:?}"),
        }
        env.shutdown().await;

        let mut missing = function(Duration::from_secs(5), &[]);
        missing.program = "/nonexistent/bootstrap".into();
        let mut env = Environment::new(missing).await.expect("server");
        let e = env.invoke(test_event()).await.expect_err("cannot start");
        assert!(e.to_string().contains("/nonexistent/bootstrap"), "{e}");
        env.shutdown().await;
    });
}

/// One HTTP/1.1 request to the Runtime API; the status code and body.
fn request(address: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

#[test]
fn answers_for_an_unknown_invocation_are_refused_and_init_errors_accepted() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let env = rt.block_on(Environment::new(function(Duration::from_secs(5), &[]))).expect("server");
    let address = env.runtime_api();
    let base = format!("/{API_VERSION}/runtime");
    for path in [format!("{base}/invocation/nope/response"), format!("{base}/invocation/nope/error")] {
        let (status, body) = request(&address, "POST", &path, "{}");
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("InvalidRequestID"), "{body}");
    }
    let (status, _) =
        request(&address, "POST", &format!("{base}/init/error"), r#"{"errorType":"X","errorMessage":"y"}"#);
    assert_eq!(status, 202);
    let (status, _) = request(&address, "GET", &format!("{base}/unknown"), "");
    assert_eq!(status, 404);
    rt.block_on(env.shutdown());
}
