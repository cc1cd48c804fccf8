//! A Lambda execution environment on this machine: the function's bootstrap runs as a child process
//! against the Lambda Runtime API, the documented interface of custom runtimes, served here on
//! 127.0.0.1 (one server per function):
//!
//! - `GET /2018-06-01/runtime/invocation/next` waits for an invocation and answers with its payload
//!   and the headers Lambda sends (`Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
//!   `Lambda-Runtime-Invoked-Function-Arn`, `Lambda-Runtime-Trace-Id`);
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error` end an invocation;
//! - `POST /2018-06-01/runtime/init/error` reports a runtime that could not start.
//!
//! As on Lambda, the process is started on the first invocation and reused by the next ones; it is
//! restarted after it crashed, timed out or reported an init error. The function's timeout is
//! enforced: the process is killed and the invocation fails. Memory: the process's peak resident
//! set (`VmHWM`) is read after each invocation; above the function's memory size the invocation
//! fails (`Runtime.OutOfMemory`) and the environment is restarted, as Lambda does. The limit is
//! checked after the invocation, not enforced while it runs (that would need a cgroup).
//!
//! Everything the process writes to stdout and stderr is kept as its log lines (Lambda sends both to
//! the function's log group); the last lines are shown when an invocation fails.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, oneshot};

/// The version prefix of every Runtime API path.
pub const API_VERSION: &str = "2018-06-01";

/// How many of the process's last output lines an error report carries.
const TAIL: usize = 20;

/// What runs and how: the bootstrap, its environment, its limits.
#[derive(Debug, Clone)]
pub struct Function {
    pub name: String,
    /// The ARN the invocations name (`Lambda-Runtime-Invoked-Function-Arn`).
    pub arn: String,
    /// The executable (the stage's binary, or any program that speaks the Runtime API).
    pub program: PathBuf,
    /// The process's environment, complete: nothing of pipewright's own environment is inherited.
    /// `AWS_LAMBDA_RUNTIME_API` is added.
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_mb: u64,
}

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST .../response`: the function's result.
    Response(Vec<u8>),
    /// `POST .../error`: the function reported an error (the invocation fails).
    FunctionError { error_type: String, message: String },
    /// The runtime reported `POST /runtime/init/error`, or exited before taking the invocation.
    InitError { error_type: String, message: String, tail: Vec<String> },
    /// The process exited while handling the invocation.
    Exited { status: String, tail: Vec<String> },
    /// The function's timeout passed: the process was killed.
    TimedOut { after: Duration, tail: Vec<String> },
    /// The process's peak memory exceeded the function's memory size: it was stopped.
    OutOfMemory { used_mb: u64, limit_mb: u64 },
}

impl Outcome {
    /// The error of a failed invocation, as Lambda reports it (`errorType: message`), with the
    /// process's last lines.
    pub fn error(&self) -> Option<String> {
        let with_tail = |head: String, tail: &[String]| {
            if tail.is_empty() { head } else { format!("{head}; last output:\n    {}", tail.join("\n    ")) }
        };
        match self {
            Outcome::Response(_) => None,
            Outcome::FunctionError { error_type, message } => Some(format!("{error_type}: {message}")),
            Outcome::InitError { error_type, message, tail } => {
                Some(with_tail(format!("Runtime.InitError ({error_type}): {message}"), tail))
            }
            Outcome::Exited { status, tail } => {
                Some(with_tail(format!("Runtime.ExitError: the runtime exited during the invocation ({status})"), tail))
            }
            Outcome::TimedOut { after, tail } => {
                Some(with_tail(format!("Task timed out after {:.2} seconds", after.as_secs_f64()), tail))
            }
            Outcome::OutOfMemory { used_mb, limit_mb } => {
                Some(format!("Runtime.OutOfMemory: the process used {used_mb} MB, the function has {limit_mb} MB"))
            }
        }
    }
}

/// An invocation waiting for the runtime's `next`.
#[derive(Debug)]
struct Pending {
    id: String,
    payload: Bytes,
    deadline_ms: u128,
    trace_id: String,
}

/// What the runtime answered for an invocation.
#[derive(Debug)]
enum Answer {
    Response(Bytes),
    Error { error_type: String, message: String },
}

/// The state behind one function's Runtime API.
#[derive(Debug)]
struct Api {
    arn: String,
    pending: Mutex<Option<Pending>>,
    ready: Notify,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    /// Set by `POST /runtime/init/error` (type, message).
    init_error: Mutex<Option<(String, String)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock means a panic elsewhere in this process; the data is still consistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn next(State(api): State<Arc<Api>>) -> Response {
    loop {
        let taken = lock(&api.pending).take();
        if let Some(p) = taken {
            let mut headers = HeaderMap::new();
            let header = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static(""));
            headers.insert("Lambda-Runtime-Aws-Request-Id", header(&p.id));
            headers.insert("Lambda-Runtime-Deadline-Ms", header(&p.deadline_ms.to_string()));
            headers.insert("Lambda-Runtime-Invoked-Function-Arn", header(&api.arn));
            headers.insert("Lambda-Runtime-Trace-Id", header(&p.trace_id));
            headers.insert("Content-Type", HeaderValue::from_static("application/json"));
            return (StatusCode::OK, headers, p.payload).into_response();
        }
        api.ready.notified().await;
    }
}

#[derive(Debug, serde::Deserialize, Default)]
struct ErrorBody {
    #[serde(rename = "errorType", default)]
    error_type: Option<String>,
    #[serde(rename = "errorMessage", default)]
    error_message: Option<String>,
}

fn error_of(headers: &HeaderMap, body: &[u8]) -> (String, String) {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let header_type = headers.get("Lambda-Runtime-Function-Error-Type").and_then(|v| v.to_str().ok());
    let error_type = parsed.error_type.or(header_type.map(str::to_string)).unwrap_or_else(|| "Unhandled".into());
    let message = parsed.error_message.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    (error_type, message)
}

fn unknown_request(id: &str) -> Response {
    let body =
        serde_json::json!({"errorType": "InvalidRequestID", "errorMessage": format!("no invocation `{id}` in flight")});
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(serde_json::json!({"status": "OK"}))).into_response()
}

async fn respond(State(api): State<Arc<Api>>, Path(id): Path<String>, body: Bytes) -> Response {
    match lock(&api.in_flight).remove(&id) {
        Some(tx) => {
            let _ = tx.send(Answer::Response(body));
            accepted()
        }
        None => unknown_request(&id),
    }
}

async fn fail(State(api): State<Arc<Api>>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    match lock(&api.in_flight).remove(&id) {
        Some(tx) => {
            let (error_type, message) = error_of(&headers, &body);
            let _ = tx.send(Answer::Error { error_type, message });
            accepted()
        }
        None => unknown_request(&id),
    }
}

async fn init_error(State(api): State<Arc<Api>>, headers: HeaderMap, body: Bytes) -> Response {
    *lock(&api.init_error) = Some(error_of(&headers, &body));
    accepted()
}

/// One execution environment of a function: its Runtime API server and, once invoked, its process.
#[derive(Debug)]
pub struct Environment {
    function: Function,
    api: Arc<Api>,
    address: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    /// The running bootstrap, once invoked.
    process: Option<Child>,
    /// Every line the processes wrote (stdout and stderr), in order.
    lines: Arc<Mutex<Vec<String>>>,
    /// The last lines, for error reports.
    tail: Arc<Mutex<VecDeque<String>>>,
    /// Processes started (the first, and one after each crash, timeout or init error).
    pub starts: u32,
    /// The highest peak resident set of a process, in MB.
    pub max_memory_mb: u64,
}

impl Environment {
    /// Serves the Runtime API of `function` on 127.0.0.1 (a free port). The process starts with
    /// the first invocation.
    pub async fn new(function: Function) -> std::io::Result<Environment> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let api = Arc::new(Api {
            arn: function.arn.clone(),
            pending: Mutex::new(None),
            ready: Notify::new(),
            in_flight: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
        });
        let base = format!("/{API_VERSION}/runtime");
        let app = Router::new()
            .route(&format!("{base}/invocation/next"), get(next))
            .route(&format!("{base}/invocation/{{id}}/response"), post(respond))
            .route(&format!("{base}/invocation/{{id}}/error"), post(fail))
            .route(&format!("{base}/init/error"), post(init_error))
            .with_state(api.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Environment {
            function,
            api,
            address,
            server,
            process: None,
            lines: Arc::default(),
            tail: Arc::default(),
            starts: 0,
            max_memory_mb: 0,
        })
    }

    /// `host:port` of the Runtime API (`AWS_LAMBDA_RUNTIME_API`).
    pub fn runtime_api(&self) -> String {
        self.address.to_string()
    }

    /// Every line the function's processes wrote so far.
    pub fn lines(&self) -> Vec<String> {
        lock(&self.lines).clone()
    }

    fn tail(&self) -> Vec<String> {
        lock(&self.tail).iter().cloned().collect()
    }

    fn start(&mut self) -> std::io::Result<()> {
        *lock(&self.api.init_error) = None;
        let mut child = Command::new(&self.function.program)
            .env_clear()
            .envs(&self.function.env)
            .env("AWS_LAMBDA_RUNTIME_API", self.runtime_api())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot start `{}`: {e}", self.function.program.display()))
            })?;
        if let Some(out) = child.stdout.take() {
            tokio::spawn(collect(BufReader::new(out), self.lines.clone(), self.tail.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(collect(BufReader::new(err), self.lines.clone(), self.tail.clone()));
        }
        self.starts += 1;
        self.process = Some(child);
        Ok(())
    }

    /// Stops the process (the next invocation starts a new one).
    async fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill().await;
        }
        lock(&self.api.pending).take();
        lock(&self.api.in_flight).clear();
    }

    /// Invokes the function with `payload` and waits for its outcome (at most its timeout).
    pub async fn invoke(&mut self, payload: Vec<u8>) -> std::io::Result<Outcome> {
        let running = match &mut self.process {
            Some(child) => child.try_wait()?.is_none(),
            None => false,
        };
        if !running {
            self.process = None;
            self.start()?;
        }
        let id = uuid_v4();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let deadline_ms = (now + self.function.timeout).as_millis();
        let (tx, rx) = oneshot::channel();
        lock(&self.api.in_flight).insert(id.clone(), tx);
        *lock(&self.api.pending) =
            Some(Pending { id: id.clone(), payload: Bytes::from(payload), deadline_ms, trace_id: trace_id(now, &id) });
        self.api.ready.notify_one();
        let timeout = self.function.timeout;
        let outcome = {
            let Some(process) = self.process.as_mut() else {
                return Err(std::io::Error::other("the process did not start"));
            };
            tokio::select! {
                answer = rx => match answer {
                    Ok(Answer::Response(body)) => Outcome::Response(body.to_vec()),
                    Ok(Answer::Error { error_type, message }) => Outcome::FunctionError { error_type, message },
                    Err(_) => Outcome::Exited { status: "its invocation was dropped".into(), tail: Vec::new() },
                },
                status = process.wait() => {
                    let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                    // Let the output readers catch up with the last lines.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let never_taken = lock(&self.api.pending).take().is_some();
                    match lock(&self.api.init_error).take() {
                        Some((error_type, message)) => Outcome::InitError { error_type, message, tail: self.tail() },
                        None if never_taken => Outcome::InitError {
                            error_type: "Runtime.ExitError".into(),
                            message: format!("the runtime exited before taking the invocation ({status})"),
                            tail: self.tail(),
                        },
                        None => Outcome::Exited { status, tail: self.tail() },
                    }
                }
                () = tokio::time::sleep(timeout) => Outcome::TimedOut { after: timeout, tail: Vec::new() },
            }
        };
        let outcome = match outcome {
            Outcome::TimedOut { after, .. } => {
                self.stop().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                Outcome::TimedOut { after, tail: self.tail() }
            }
            Outcome::Response(_) | Outcome::FunctionError { .. } => {
                let used = self.process.as_ref().and_then(Child::id).and_then(peak_memory_mb).unwrap_or(0);
                self.max_memory_mb = self.max_memory_mb.max(used);
                if used > self.function.memory_mb {
                    self.stop().await;
                    Outcome::OutOfMemory { used_mb: used, limit_mb: self.function.memory_mb }
                } else {
                    outcome
                }
            }
            other => {
                self.stop().await;
                other
            }
        };
        lock(&self.api.in_flight).remove(&id);
        Ok(outcome)
    }

    /// Stops the process and the server.
    pub async fn shutdown(mut self) {
        self.stop().await;
        self.server.abort();
    }
}

/// Reads lines of the process's output into `lines` and `tail`.
async fn collect<R: tokio::io::AsyncRead + Unpin>(
    reader: BufReader<R>,
    lines: Arc<Mutex<Vec<String>>>,
    tail: Arc<Mutex<VecDeque<String>>>,
) {
    let mut reader = reader.lines();
    while let Ok(Some(line)) = reader.next_line().await {
        {
            let mut t = lock(&tail);
            if t.len() == TAIL {
                t.pop_front();
            }
            t.push_back(line.clone());
        }
        lock(&lines).push(line);
    }
}

/// The peak resident set of a process, in MB (`VmHWM` of `/proc/<pid>/status`).
fn peak_memory_mb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.div_ceil(1024))
}

/// A request id in the form Lambda uses (a UUID).
fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// An X-Ray trace header as Lambda passes it: `Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
fn trace_id(now: Duration, id: &str) -> String {
    let hex: String = id.chars().filter(char::is_ascii_hexdigit).collect();
    let root = hex.get(..24).unwrap_or("000000000000000000000000");
    let parent = hex.get(hex.len().saturating_sub(16)..).unwrap_or("0000000000000000");
    format!("Root=1-{:08x}-{root};Parent={parent};Sampled=0", now.as_secs())
}
