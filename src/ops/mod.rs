//! Operating the deployed pipeline, driven by the spec: `status` (health per stage), `replay` (S3
//! events for existing objects, through the stage's queue), `dlq` (peek, redrive, purge) and `probe`
//! (a canary object through each trigger's real wiring). The AWS calls live in `crate::aws::ops`;
//! printing lives in the CLI.

pub mod dlq;
pub mod probe;
pub mod replay;
pub mod status;

use crate::aws::live::Readers;
use crate::aws::ops::QueueRef;
use crate::aws::{AwsError, ErrorKind};
use crate::spec::Pipeline;
use crate::spec::resolve::{Queue, Stage, Trigger};
use chrono::{DateTime, NaiveDate, Utc};
use pipewright_stage::schedule::ScheduledRun;
use serde_json::{Value, json};

/// Why an operating command stopped.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// A stage the spec does not have (the message names the closest and all).
    #[error("{0}")]
    UnknownStage(String),
    #[error("`{command}` needs a triggered stage with a queue: stage `{stage}` {why}")]
    NoQueue { command: &'static str, stage: String, why: &'static str },
    #[error(
        "`replay` runs a triggered stage or a scheduled Lambda stage: stage `{stage}` runs locally (`runs: local`); run it for the date by hand, as its crontab does"
    )]
    LocalReplay { stage: String },
    #[error(
        "stage `{stage}` has no dead-letter queue: it runs locally (`runs: local`), where cron starts it and its log keeps a failed run"
    )]
    NoDlq { stage: String },
    #[error("`{text}` is not a date (YYYY-MM-DD): {source}")]
    BadDate {
        text: String,
        #[source]
        source: chrono::ParseError,
    },
    #[error("--to {to} is before --date {from}")]
    ToBeforeFrom { from: NaiveDate, to: NaiveDate },
    #[error("{days} days from {from} to {to}: at most 3,660 at a time")]
    TooManyDays { days: i64, from: NaiveDate, to: NaiveDate },
    #[error("the inputs of stage `{stage}` are not keyed by date ({}): nothing to select with --date", templates.join(", "))]
    NotDated { stage: String, templates: Vec<String> },
    #[error("more than {keys} keys under s3://{bucket}/{prefix}: replay fewer dates at a time")]
    TooManyKeys { keys: usize, bucket: String, prefix: String },
    #[error("the trigger of stage `{stage}` is the exact key `{key}`: a canary cannot match it")]
    ExactKey { stage: String, key: String },
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// A resource the spec declares does not exist (not deployed?).
    #[error("{what} `{name}` does not exist (is the stack deployed? `pipewright verify`)")]
    NotDeployed { what: &'static str, name: String },
    /// SQS's message move task did not finish.
    #[error("the move task of `{dlq}` {how}")]
    MoveTask { dlq: String, how: String },
}

/// Whether an error means "could not read" (the answer is unknown), as `verify` counts it.
pub fn could_not_read(e: &AwsError) -> bool {
    matches!(e.kind, ErrorKind::AccessDenied | ErrorKind::Throttling | ErrorKind::Unreachable)
}

/// The stage named `name`, or a usage error listing the stages.
pub fn find_stage<'p>(pipeline: &'p Pipeline, name: &str) -> Result<&'p Stage, OpsError> {
    pipeline.stage(name).ok_or_else(|| OpsError::UnknownStage(pipeline.no_stage(name)))
}

/// The queue of a triggered stage and its trigger, or a usage error saying why it has none.
pub fn stage_queue<'s>(stage: &'s Stage, command: &'static str) -> Result<(&'s Queue, &'s Trigger), OpsError> {
    let why = match (&stage.function, &stage.schedule) {
        (None, _) => "runs locally (`runs: local`): its crontab starts it",
        (Some(_), Some(_)) => "is started by its schedule, not by S3 events through a queue",
        (Some(_), None) => "has no queue",
    };
    stage.queue.as_ref().zip(stage.trigger.as_ref()).ok_or_else(|| OpsError::NoQueue {
        command,
        stage: stage.name.value.clone(),
        why,
    })
}

/// Where a stage's dead letters go back to when redriven.
#[derive(Debug, Clone, Copy)]
pub enum Redrive<'s> {
    /// A triggered stage: its messages, back into its queue.
    Queue(&'s Queue),
    /// A scheduled Lambda stage: its failed runs, invoked again (asynchronously) on its function.
    Function(&'s crate::spec::resolve::Function),
}

/// A stage's dead-letter queue and where its letters are redriven, or a usage error saying why it has none.
pub fn stage_dlq(stage: &Stage) -> Result<(&String, Redrive<'_>), OpsError> {
    if let Some(q) = &stage.queue {
        return Ok((&q.dlq_name.value, Redrive::Queue(q)));
    }
    match (stage.dlq_name(), &stage.function) {
        (Some(dlq), Some(f)) => Ok((&dlq.value, Redrive::Function(f))),
        _ => Err(OpsError::NoDlq { stage: stage.name.value.clone() }),
    }
}

/// Stages with a queue: the one named, or all of them.
pub fn queued_stages<'p>(
    pipeline: &'p Pipeline,
    name: Option<&str>,
    command: &'static str,
) -> Result<Vec<&'p Stage>, OpsError> {
    match name {
        Some(n) => {
            let s = find_stage(pipeline, n)?;
            stage_queue(s, command)?;
            Ok(vec![s])
        }
        None => Ok(pipeline.stages.iter().filter(|s| s.queue.is_some()).collect()),
    }
}

/// A queue that must exist.
pub async fn existing_queue(readers: &Readers, name: &str, what: &'static str) -> Result<QueueRef, OpsError> {
    readers.queue_ref(name).await?.ok_or_else(|| OpsError::NotDeployed { what, name: name.to_string() })
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<NaiveDate, OpsError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|source| OpsError::BadDate { text: text.to_string(), source })
}

/// The dates from `from` to `to` (inclusive), at most ten years of them.
pub fn date_range(from: NaiveDate, to: Option<NaiveDate>) -> Result<Vec<NaiveDate>, OpsError> {
    let to = to.unwrap_or(from);
    if to < from {
        return Err(OpsError::ToBeforeFrom { from, to });
    }
    let days = (to - from).num_days() + 1;
    if days > 3660 {
        return Err(OpsError::TooManyDays { days, from, to });
    }
    Ok(from.iter_days().take(days as usize).collect())
}

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// `2024-01-15T10:00:00.000Z`.
pub fn iso_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// `3 s`, `4 min`, `2 h`, `5 d`.
pub fn human_age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        7200..172_800 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// What configuration id replayed events carry (`s3.configurationId`), so they can be told apart
/// from S3's own in logs.
pub const REPLAY_CONFIGURATION_ID: &str = "pipewright-replay";

/// An object written to S3, as the event about it describes it.
pub struct ObjectEventInfo<'a> {
    pub region: &'a str,
    pub bucket: &'a str,
    /// The key as written.
    pub key: &'a str,
    pub size: i64,
    pub etag: &'a str,
    pub time_ms: i64,
    pub sequencer: &'a str,
}

impl ObjectEventInfo<'_> {
    /// The S3 event notification of the object's creation, as S3 sends it to SQS (key URL-encoded).
    pub fn notification_body(&self) -> String {
        let bucket = self.bucket;
        json!({"Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": self.region,
            "eventTime": iso_ms(self.time_ms),
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "pipewright-replay"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {"x-amz-request-id": "pipewright-replay", "x-amz-id-2": "pipewright-replay"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": REPLAY_CONFIGURATION_ID,
                "bucket": {
                    "name": bucket,
                    "ownerIdentity": {"principalId": "pipewright-replay"},
                    "arn": format!("arn:aws:s3:::{bucket}"),
                },
                "object": {
                    "key": crate::spec::pattern::encode_filter_value(self.key),
                    "size": self.size,
                    "eTag": self.etag,
                    "sequencer": self.sequencer,
                },
            },
        }]})
        .to_string()
    }

    /// The `Object Created` event of the object, as EventBridge delivers S3's events to SQS (key as
    /// written).
    pub fn eventbridge_body(&self) -> String {
        let bucket = self.bucket;
        json!({
            "version": "0",
            "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": "Object Created",
            "source": "aws.s3",
            "time": iso_ms(self.time_ms),
            "region": self.region,
            "resources": [format!("arn:aws:s3:::{bucket}")],
            "detail": {
                "version": "0",
                "bucket": {"name": bucket},
                "object": {"key": self.key, "size": self.size, "etag": self.etag, "sequencer": self.sequencer},
                "request-id": REPLAY_CONFIGURATION_ID,
                "requester": "pipewright-replay",
                "reason": "PutObject",
            },
        })
        .to_string()
    }
}

/// What a message body carries, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// S3 event records: (bucket, decoded key, event name).
    Objects(Vec<(String, String, String)>),
    /// `s3:TestEvent`.
    Test,
    /// A scheduled stage's run (`{"date": ...}` or `{"scheduled_time": ...}`): a run that failed.
    Run(ScheduledRun),
    /// Anything else (the start of the body).
    Other(String),
}

impl Body {
    /// What it carries, in one line.
    pub fn describe(&self) -> String {
        match self {
            Body::Objects(o) => o.iter().map(|(b, k, _)| format!("s3://{b}/{k}")).collect::<Vec<_>>().join(" "),
            Body::Test => "s3:TestEvent".to_string(),
            Body::Run(ScheduledRun::Date(d)) => format!("the run for {d}"),
            Body::Run(ScheduledRun::Due(t)) => format!("the run due {}", t.format("%Y-%m-%dT%H:%M:%SZ")),
            Body::Other(s) => format!("(neither an S3 event nor a run) {s}"),
        }
    }
}

/// Decodes a message body sent by an S3 notification (AWS or moto form), by `replay`, or a scheduled
/// stage's failed run (by Lambda or by the schedule).
pub fn decode_body(body: &str) -> Body {
    let Ok(v) = serde_json::from_str::<Value>(body) else { return Body::Other(snippet(body)) };
    if let Some(records) = v["Records"].as_array() {
        let objects = records
            .iter()
            .filter_map(|r| {
                let bucket = r["s3"]["bucket"]["name"].as_str()?;
                let key = r["s3"]["object"]["key"].as_str()?;
                let event = r["eventName"].as_str().unwrap_or_default();
                Some((bucket.to_string(), pipewright_stage::decode_event_key(key), event.to_string()))
            })
            .collect();
        return Body::Objects(objects);
    }
    if v["source"] == "aws.s3"
        && let (Some(detail_type), Some(bucket), Some(key)) =
            (v["detail-type"].as_str(), v["detail"]["bucket"]["name"].as_str(), v["detail"]["object"]["key"].as_str())
    {
        // From EventBridge: the key as written.
        return Body::Objects(vec![(bucket.to_string(), key.to_string(), detail_type.to_string())]);
    }
    if v["Event"] == "s3:TestEvent" {
        return Body::Test;
    }
    if let Ok(run) = ScheduledRun::from_payload(&v) {
        return Body::Run(run);
    }
    Body::Other(snippet(body))
}

fn snippet(body: &str) -> String {
    let mut s: String = body.chars().take(120).collect();
    if s.len() < body.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_bodies_round_trip_through_the_decoder() {
        let event = ObjectEventInfo {
            region: "us-east-1",
            bucket: "hoopstat-haus-bronze",
            key: "raw/box_scores/date=2024-01-15/a b+c.json",
            size: 12,
            etag: "abc",
            time_ms: 1_705_312_800_123,
            sequencer: "0000018D0B3A2C7B",
        };
        let body = event.notification_body();
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["Records"][0]["s3"]["object"]["key"], "raw/box_scores/date%3D2024-01-15/a+b%2Bc.json");
        assert_eq!(v["Records"][0]["eventTime"], "2024-01-15T10:00:00.123Z");
        assert_eq!(
            decode_body(&body),
            Body::Objects(vec![(
                "hoopstat-haus-bronze".into(),
                "raw/box_scores/date=2024-01-15/a b+c.json".into(),
                "ObjectCreated:Put".into()
            )])
        );
        // Through EventBridge: the key as written.
        let body = event.eventbridge_body();
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["detail"]["object"]["key"], "raw/box_scores/date=2024-01-15/a b+c.json");
        assert_eq!(
            decode_body(&body),
            Body::Objects(vec![(
                "hoopstat-haus-bronze".into(),
                "raw/box_scores/date=2024-01-15/a b+c.json".into(),
                "Object Created".into()
            )])
        );
        assert_eq!((v["source"].as_str(), v["detail-type"].as_str()), (Some("aws.s3"), Some("Object Created")));
        assert_eq!(decode_body(r#"{"Event": "s3:TestEvent", "Bucket": "b"}"#), Body::Test);
        assert!(matches!(decode_body("garbage"), Body::Other(s) if s == "garbage"));
    }

    #[test]
    fn date_ranges_are_inclusive_and_bounded() {
        let d = |s| parse_date(s).expect("date");
        assert_eq!(date_range(d("2024-01-30"), Some(d("2024-02-02"))).expect("range").len(), 4);
        assert_eq!(date_range(d("2024-01-30"), None).expect("range"), vec![d("2024-01-30")]);
        assert!(date_range(d("2024-01-30"), Some(d("2024-01-01"))).is_err());
        assert!(parse_date("2024-13-01").is_err());
    }
}
