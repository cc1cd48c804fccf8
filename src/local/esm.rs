//! An SQS event source mapping, emulated: poll the queue, gather a batch (batch size, batching
//! window), invoke the function through its execution environment ([`super::runtime`]), delete what
//! succeeded, and leave what failed to SQS, which counts
//! receives and moves a message to the DLQ after `maxReceiveCount` (the emulator does, like AWS).
//!
//! As Lambda does: with `ReportBatchItemFailures` only the reported messages fail (an empty or null
//! response, or an empty or null `batchItemFailures`, is a complete success; a response that is not
//! JSON or names a message that is not in the batch is a complete failure); without it a response
//! is ignored (every message is deleted) unless the invocation fails (a function error, a crash, a
//! timeout), which fails the whole batch. A failed message stays invisible for the queue's visibility timeout; locally that
//! is shortened to `retry_after`, so a retry does not wait half an hour. One batch at a time per
//! mapping.

use super::runtime::{Environment, Outcome};
use crate::aws::AwsError;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde_json::{Map, Value, json};
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

/// A mapping as deployed.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub stage: String,
    pub function: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    pub batch_size: usize,
    pub window: Duration,
    pub report_failures: bool,
}

/// What one mapping did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub batches: u64,
    /// Messages handed to the handler (a retried message counts each time).
    pub records: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Whole batches that failed (a function error, a crash, a timeout, an unusable response).
    pub handler_errors: u64,
    /// Time spent in invocations (the function's processing and the Runtime API round trip).
    #[serde(serialize_with = "ser_ms")]
    pub handler_time: Duration,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0)
}

/// One invocation, for progress output.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub stage: String,
    pub batch: u64,
    pub keys: Vec<String>,
    pub records: usize,
    pub failed: usize,
    pub duration: Duration,
    pub error: Option<String>,
}

/// State shared by the pollers and the supervisor (one thread: cells, no locks).
#[derive(Debug, Default)]
pub struct Shared {
    pub stop: Cell<bool>,
    /// Handler invocations in progress.
    pub busy: Cell<usize>,
    /// The first AWS error of a poller; the run stops on it.
    pub error: RefCell<Option<AwsError>>,
}

/// Polls `m` until `shared.stop`, calling `on_invocation` after each batch.
pub async fn poll(
    sqs: &aws_sdk_sqs::Client,
    m: &Mapping,
    function: &mut Environment,
    retry_after: Duration,
    shared: &Shared,
    stats: &RefCell<Stats>,
    on_invocation: &dyn Fn(&Invocation),
) {
    if let Err(e) = poll_inner(sqs, m, function, retry_after, shared, stats, on_invocation).await {
        shared.error.borrow_mut().get_or_insert(e);
        shared.stop.set(true);
    }
}

async fn poll_inner(
    sqs: &aws_sdk_sqs::Client,
    m: &Mapping,
    function: &mut Environment,
    retry_after: Duration,
    shared: &Shared,
    stats: &RefCell<Stats>,
    on_invocation: &dyn Fn(&Invocation),
) -> Result<(), AwsError> {
    while !shared.stop.get() {
        let messages = gather(sqs, m).await?;
        if messages.is_empty() {
            continue;
        }
        shared.busy.set(shared.busy.get() + 1);
        let result = invoke(sqs, m, function, retry_after, &messages, stats).await;
        shared.busy.set(shared.busy.get() - 1);
        on_invocation(&result?);
    }
    Ok(())
}

/// Receives up to the batch size, waiting at most the batching window after the first message.
async fn gather(sqs: &aws_sdk_sqs::Client, m: &Mapping) -> Result<Vec<aws_sdk_sqs::types::Message>, AwsError> {
    let mut batch = Vec::new();
    let mut first: Option<Instant> = None;
    loop {
        let wanted = (m.batch_size - batch.len()).min(10);
        // Long polls of at most a second, so a stop is noticed quickly; the last part of a window
        // shorter than a second is slept, then polled once without waiting.
        let wait = match first {
            None => 1,
            Some(t) => {
                let left = m.window.saturating_sub(t.elapsed());
                if left < Duration::from_secs(1) {
                    tokio::time::sleep(left).await;
                    0
                } else {
                    1
                }
            }
        };
        let out = sqs
            .receive_message()
            .queue_url(&m.queue_url)
            .max_number_of_messages(wanted as i32)
            .wait_time_seconds(wait as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:ReceiveMessage", &m.queue_url, e))?;
        let got = out.messages.unwrap_or_default();
        if !got.is_empty() && first.is_none() {
            first = Some(Instant::now());
        }
        batch.extend(got);
        let window_over = first.is_some_and(|t| t.elapsed() >= m.window);
        // Nothing yet: back to the caller, which checks for a stop.
        if first.is_none() || batch.len() >= m.batch_size || window_over {
            return Ok(batch);
        }
    }
}

/// The event Lambda would send for these messages.
pub fn event(m: &Mapping, messages: &[aws_sdk_sqs::types::Message]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|msg| {
            let attributes: Map<String, Value> = msg
                .attributes()
                .map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), Value::String(v.clone()))).collect())
                .unwrap_or_default();
            let message_attributes: Map<String, Value> = msg
                .message_attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.clone(), json!({"stringValue": v.string_value(), "dataType": v.data_type()})))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "messageId": msg.message_id(),
                "receiptHandle": msg.receipt_handle(),
                "body": msg.body(),
                "md5OfBody": msg.md5_of_body(),
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "eventSource": "aws:sqs",
                "eventSourceARN": m.queue_arn,
                "awsRegion": m.region,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The messages a function's response reports failed, by Lambda's rules for
/// `ReportBatchItemFailures`; `Err` when the whole batch fails.
pub fn reported_failures<'a>(body: &[u8], ids: &[&'a str]) -> Result<Vec<&'a str>, String> {
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("the batch response is not JSON: {e}"))?;
    let items = match v.get("batchItemFailures") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(format!("`batchItemFailures` is not a list: {other}")),
    };
    let mut failed = Vec::new();
    for item in items {
        let id = item.get("itemIdentifier").and_then(Value::as_str).unwrap_or_default();
        match ids.iter().find(|i| **i == id) {
            Some(i) if !id.is_empty() => failed.push(*i),
            _ => return Err(format!("the batch response names a message that is not in the batch: {item}")),
        }
    }
    Ok(failed)
}

async fn invoke(
    sqs: &aws_sdk_sqs::Client,
    m: &Mapping,
    function: &mut Environment,
    retry_after: Duration,
    messages: &[aws_sdk_sqs::types::Message],
    stats: &RefCell<Stats>,
) -> Result<Invocation, AwsError> {
    let keys = messages.iter().filter_map(|msg| msg.body().and_then(first_key)).collect();
    let started = Instant::now();
    let payload = serde_json::to_vec(&event(m, messages)).unwrap_or_default();
    let outcome = match function.invoke(payload).await {
        Ok(outcome) => outcome,
        Err(e) => {
            Outcome::InitError { error_type: "Runtime.StartError".into(), message: e.to_string(), tail: Vec::new() }
        }
    };
    let duration = started.elapsed();
    let ids: Vec<&str> = messages.iter().filter_map(|msg| msg.message_id()).collect();
    let (failed, error): (Vec<&str>, Option<String>) = match &outcome {
        Outcome::Response(body) if m.report_failures => match reported_failures(body, &ids) {
            Ok(failed) => (failed, None),
            Err(e) => (ids.clone(), Some(e)),
        },
        // Without ReportBatchItemFailures a response means nothing to Lambda: all succeeded.
        Outcome::Response(_) => (Vec::new(), None),
        failure => (ids.clone(), failure.error()),
    };
    let mut done = Vec::new();
    for msg in messages {
        let (Some(id), Some(handle)) = (msg.message_id(), msg.receipt_handle()) else { continue };
        if failed.contains(&id) {
            sqs.change_message_visibility()
                .queue_url(&m.queue_url)
                .receipt_handle(handle)
                .visibility_timeout(retry_after.as_secs() as i32)
                .send()
                .await
                .map_err(|e| AwsError::new("sqs:ChangeMessageVisibility", &m.queue_url, e))?;
        } else {
            done.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(id)
                    .receipt_handle(handle)
                    .build()
                    .map_err(|e| AwsError::local("sqs:DeleteMessageBatch", &m.queue_url, e.to_string()))?,
            );
        }
    }
    for chunk in done.chunks(10) {
        let out = sqs
            .delete_message_batch()
            .queue_url(&m.queue_url)
            .set_entries(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:DeleteMessageBatch", &m.queue_url, e))?;
        if let Some(f) = out.failed.first() {
            return Err(AwsError::local(
                "sqs:DeleteMessageBatch",
                &m.queue_url,
                format!("{}: {}", f.code, f.message.clone().unwrap_or_default()),
            ));
        }
    }
    let mut s = stats.borrow_mut();
    s.batches += 1;
    s.records += messages.len() as u64;
    s.failed += failed.len() as u64;
    s.succeeded += (messages.len() - failed.len()) as u64;
    s.handler_errors += u64::from(error.is_some());
    s.handler_time += duration;
    Ok(Invocation {
        stage: m.stage.clone(),
        batch: s.batches,
        keys,
        records: messages.len(),
        failed: failed.len(),
        duration,
        error,
    })
}

/// The first S3 key of an S3 event body (an S3 notification or an S3 event from EventBridge, decoded), or
/// `s3:TestEvent`, for progress output.
fn first_key(body: &str) -> Option<String> {
    match pipewright_stage::event::parse_notification(body).ok()? {
        pipewright_stage::event::Notification::Test { .. } => Some("s3:TestEvent".to_string()),
        pipewright_stage::event::Notification::Objects(objects) => objects.into_iter().next().map(|o| o.key),
    }
}
