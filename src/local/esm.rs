//! An SQS event source mapping, emulated: poll the queue, gather a batch (batch size, batching
//! window), invoke the handler, delete what succeeded, and leave what failed to SQS, which counts
//! receives and moves a message to the DLQ after `maxReceiveCount` (the emulator does, like AWS).
//!
//! As Lambda does: with `ReportBatchItemFailures` only the reported messages fail; without it a
//! batch response is ignored (every message is deleted) unless the handler itself fails, which fails
//! the whole batch. A failed message stays invisible for the queue's visibility timeout; locally that
//! is shortened to `retry_after`, so a retry does not wait half an hour. One batch at a time per
//! mapping.

use super::handlers::Handler;
use crate::aws::AwsError;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use futures::FutureExt;
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
    /// Whole batches the handler failed (an error, not a batch response).
    pub handler_errors: u64,
    /// Time spent in the handler.
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
    handler: &Handler,
    retry_after: Duration,
    shared: &Shared,
    stats: &RefCell<Stats>,
    on_invocation: &dyn Fn(&Invocation),
) {
    if let Err(e) = poll_inner(sqs, m, handler, retry_after, shared, stats, on_invocation).await {
        shared.error.borrow_mut().get_or_insert(e);
        shared.stop.set(true);
    }
}

async fn poll_inner(
    sqs: &aws_sdk_sqs::Client,
    m: &Mapping,
    handler: &Handler,
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
        let result = invoke(sqs, m, handler, retry_after, &messages, stats).await;
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
pub fn event(m: &Mapping, messages: &[aws_sdk_sqs::types::Message]) -> Result<SqsEvent, serde_json::Error> {
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
    serde_json::from_value(json!({ "Records": records }))
}

async fn invoke(
    sqs: &aws_sdk_sqs::Client,
    m: &Mapping,
    handler: &Handler,
    retry_after: Duration,
    messages: &[aws_sdk_sqs::types::Message],
    stats: &RefCell<Stats>,
) -> Result<Invocation, AwsError> {
    let keys = messages.iter().filter_map(|msg| msg.body().and_then(first_key)).collect();
    let started = Instant::now();
    // A batch the handler cannot even parse fails as a whole, like a function error.
    let outcome = match event(m, messages) {
        // A panicking handler is a crashed invocation: the batch fails and is retried, as on Lambda.
        Ok(event) => match std::panic::AssertUnwindSafe(handler.handle(&event)).catch_unwind().await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(panic) => Err(format!("the handler panicked: {}", panic_message(panic.as_ref()))),
        },
        Err(e) => Err(format!("building the SQS event: {e}")),
    };
    let duration = started.elapsed();
    let ids: Vec<&str> = messages.iter().filter_map(|msg| msg.message_id()).collect();
    let (failed, error): (Vec<&str>, Option<String>) = match &outcome {
        Err(e) => (ids.clone(), Some(e.clone())),
        Ok(resp) if m.report_failures => {
            let reported: Vec<&str> = resp.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
            // Lambda fails the whole batch when a reported identifier is not one of the batch's.
            if reported.iter().any(|r| !ids.contains(r)) {
                (ids.clone(), Some("the batch response names a message that is not in the batch".into()))
            } else {
                (reported, None)
            }
        }
        // Without ReportBatchItemFailures a batch response means nothing to Lambda: all succeeded.
        Ok(_) => (Vec::new(), None),
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
    s.handler_errors += u64::from(outcome.is_err());
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

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

/// The first S3 key of an S3 event notification body (decoded), or `s3:TestEvent`, for progress output.
fn first_key(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Some("s3:TestEvent".to_string());
    }
    let key = v.get("Records")?.get(0)?.get("s3")?.get("object")?.get("key")?.as_str()?;
    Some(pipewright_common::decode_event_key(key))
}
