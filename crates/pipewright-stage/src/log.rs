//! Structured logs: one JSON object per line on stdout, which Lambda forwards to CloudWatch Logs.
//!
//! Every line has `level`, `stage` and `message`; optional fields are `key`, `date`, `message_id`,
//! `counts` (an object of named integers), `duration_ms` and `error`. JSON metric filters
//! (`{ $.level = "ERROR" }`) match these lines; space-delimited patterns would not.
//!
//! The line that ends a batch is also a CloudWatch Embedded Metric Format document ([`Entry::metric`]):
//! CloudWatch Logs turns its `FailedRecords` member into a metric of the function, so a failed record
//! is seen within minutes, although with partial batch responses the invocation itself succeeds and
//! Lambda's `Errors` metric never counts it.

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone)]
enum Sink {
    Stdout,
    Memory(Arc<Mutex<Vec<String>>>),
}

/// Writes the log lines of one stage.
#[derive(Clone)]
pub struct Logger {
    stage: Arc<str>,
    sink: Sink,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger").field("stage", &self.stage).finish_non_exhaustive()
    }
}

/// The lines a capturing [`Logger`] wrote (for tests).
#[derive(Clone, Debug, Default)]
pub struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    /// The lines written so far, parsed.
    pub fn lines(&self) -> Vec<Value> {
        let lines = match self.0.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}

impl Logger {
    /// A logger writing to stdout.
    pub fn stdout(stage: &str) -> Self {
        Self { stage: Arc::from(stage), sink: Sink::Stdout }
    }

    /// A logger keeping its lines in memory.
    pub fn capture(stage: &str) -> (Self, Captured) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        (Self { stage: Arc::from(stage), sink: Sink::Memory(lines.clone()) }, Captured(lines))
    }

    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// Starts a line; nothing is written until [`Entry::emit`].
    pub fn entry(&self, level: Level, message: impl Into<String>) -> Entry<'_> {
        Entry { logger: self, level, message: message.into(), fields: Map::new(), counts: Map::new() }
    }

    pub fn info(&self, message: impl Into<String>) -> Entry<'_> {
        self.entry(Level::Info, message)
    }

    pub fn warn(&self, message: impl Into<String>) -> Entry<'_> {
        self.entry(Level::Warn, message)
    }

    pub fn error(&self, message: impl Into<String>) -> Entry<'_> {
        self.entry(Level::Error, message)
    }

    fn write(&self, line: String) {
        match &self.sink {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                // A log line that cannot be written has nowhere else to go.
                let _ = writeln!(out, "{line}");
            }
            Sink::Memory(lines) => match lines.lock() {
                Ok(mut guard) => guard.push(line),
                Err(poisoned) => poisoned.into_inner().push(line),
            },
        }
    }
}

pub use crate::{FAILED_RECORDS, FUNCTION_DIMENSION, METRIC_NAMESPACE};

/// One log line being built.
#[must_use = "a log entry is written only by `emit`"]
pub struct Entry<'a> {
    logger: &'a Logger,
    level: Level,
    message: String,
    fields: Map<String, Value>,
    counts: Map<String, Value>,
}

impl Entry<'_> {
    pub fn key(self, key: &str) -> Self {
        self.field("key", key)
    }

    pub fn bucket(self, bucket: &str) -> Self {
        self.field("bucket", bucket)
    }

    pub fn date(self, date: &str) -> Self {
        self.field("date", date)
    }

    pub fn message_id(self, id: &str) -> Self {
        self.field("message_id", id)
    }

    pub fn count(mut self, name: &str, value: u64) -> Self {
        self.counts.insert(name.to_string(), Value::from(value));
        self
    }

    pub fn duration(self, duration: Duration) -> Self {
        let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        self.field("duration_ms", ms)
    }

    /// The error and its chain of sources, `outer: inner: ...`.
    pub fn error(self, error: &(dyn std::error::Error + 'static)) -> Self {
        self.field("error", error_chain(error))
    }

    /// Makes the line an Embedded Metric Format document that also publishes `value` as metric `name`
    /// (unit `Count`) of namespace [`METRIC_NAMESPACE`], dimension [`FUNCTION_DIMENSION`]. Several
    /// calls publish several metrics.
    pub fn metric(mut self, name: &str, value: u64) -> Self {
        let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| self.logger.stage().to_string());
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let aws = self.fields.entry("_aws").or_insert_with(|| {
            serde_json::json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": METRIC_NAMESPACE,
                    "Dimensions": [[FUNCTION_DIMENSION]],
                    "Metrics": [],
                }],
            })
        });
        if let Some(metrics) = aws["CloudWatchMetrics"][0]["Metrics"].as_array_mut() {
            metrics.push(serde_json::json!({ "Name": name, "Unit": "Count" }));
        }
        self.fields.insert(FUNCTION_DIMENSION.to_string(), Value::from(function));
        self.fields.insert(name.to_string(), Value::from(value));
        self
    }

    pub fn field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_string(), value.into());
        self
    }

    /// The line as a JSON object.
    pub fn to_value(&self) -> Value {
        let mut object = Map::new();
        object.insert("level".into(), self.level.as_str().into());
        object.insert("stage".into(), self.logger.stage().into());
        object.insert("message".into(), self.message.clone().into());
        for (k, v) in &self.fields {
            object.insert(k.clone(), v.clone());
        }
        if !self.counts.is_empty() {
            object.insert("counts".into(), Value::Object(self.counts.clone()));
        }
        Value::Object(object)
    }

    pub fn emit(self) {
        let line = self.to_value().to_string();
        self.logger.write(line);
    }
}

/// `error: source: source ...`, so that no cause is lost in a log line or a failure report.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_json_object_per_line() {
        let (log, captured) = Logger::capture("silver-processing");
        log.info("transformed")
            .key("raw/box_scores/date=2024-01-15/data.json")
            .date("2024-01-15")
            .count("players", 52)
            .count("quarantined", 1)
            .duration(Duration::from_millis(1234))
            .emit();
        log.warn("skipped").emit();
        let lines = captured.lines();
        assert_eq!(lines.len(), 2);
        let first = &lines[0];
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["stage"], "silver-processing");
        assert_eq!(first["message"], "transformed");
        assert_eq!(first["date"], "2024-01-15");
        assert_eq!(first["counts"]["players"], 52);
        assert_eq!(first["counts"]["quarantined"], 1);
        assert_eq!(first["duration_ms"], 1234);
        assert_eq!(lines[1]["level"], "WARN");
        assert!(lines[1].get("counts").is_none());
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn error_chain_keeps_every_cause() {
        let err = Outer(std::io::Error::other("inner cause"));
        assert_eq!(error_chain(&err), "outer: inner cause");
    }
}
