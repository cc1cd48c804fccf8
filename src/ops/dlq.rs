//! `dlq`: the dead letters of a stage, decoded without consuming them (peek), moved back to the
//! stage's queue (redrive: `StartMessageMoveTask`, else a receive -> send -> delete loop that
//! deletes a dead letter only after its copy was sent), or deleted (purge). A scheduled Lambda
//! stage's dead letters are its failed runs: redrive invokes the function again with each (an
//! asynchronous invocation, with Lambda's retries and the same DLQ), and deletes the letter only once
//! Lambda accepted it.

use super::{Body, OpsError, decode_body};
use crate::aws::live::Readers;
use crate::aws::ops::{EntryError, QueueRef, Received};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long peek and the redrive loop hide the messages they hold.
const HOLD_SECS: i32 = 120;

/// One dead letter, decoded.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub message_id: String,
    /// `ApproximateReceiveCount` as SQS reports it (this peek's receive included).
    pub receive_count: u32,
    /// When it was first sent (to the source queue), epoch milliseconds.
    pub sent_ms: Option<i64>,
    pub body: Body,
    /// Why it failed, when the sender said (Lambda's `ErrorMessage`, Scheduler's `ERROR_MESSAGE`).
    pub error: Option<String>,
}

/// The message attributes that say why a run failed: Lambda's, then EventBridge Scheduler's.
const ERROR_ATTRIBUTES: [&str; 2] = ["ErrorMessage", "ERROR_MESSAGE"];

/// Reads up to `max` dead letters and makes them visible again: nothing is consumed.
/// Peeked dead letters as one JSON document: each message's S3 objects, or what else it holds.
pub fn letters_json(dlq: &str, letters: &[DeadLetter]) -> serde_json::Value {
    use serde_json::json;
    let items: Vec<_> = letters
        .iter()
        .map(|l| {
            let (objects, run, other) = match &l.body {
                super::Body::Objects(o) => {
                    (o.iter().map(|(b, k, e)| json!({"bucket": b, "key": k, "event": e})).collect(), None, None)
                }
                super::Body::Test => (vec![], None, Some("s3:TestEvent".to_string())),
                super::Body::Run(r) => (vec![], Some(r.to_payload()), None),
                super::Body::Other(s) => (vec![], None, Some(s.clone())),
            };
            json!({"message_id": l.message_id, "receive_count": l.receive_count,
                   "sent": l.sent_ms.map(super::iso_ms), "objects": objects, "run": run, "other": other,
                   "error": l.error})
        })
        .collect();
    json!({"dlq": dlq, "messages": items})
}

pub async fn peek(readers: &Readers, dlq: &QueueRef, max: usize) -> Result<Vec<DeadLetter>, OpsError> {
    let expected = readers.visible_messages(dlq).await? as usize;
    let mut held: Vec<Received> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut empty = 0;
    let result: Result<(), OpsError> = async {
        while held.len() < max.min(expected.max(1)) && empty < 2 {
            let batch = readers.receive(dlq, (max - held.len()).min(10) as i32, HOLD_SECS, 1).await?;
            if batch.is_empty() {
                empty += 1;
            }
            for m in batch {
                if seen.insert(m.message_id.clone()) {
                    held.push(m);
                }
            }
        }
        Ok(())
    }
    .await;
    // Whatever happened, hand every message back.
    let handles: Vec<&str> = held.iter().map(|m| m.receipt_handle.as_str()).collect();
    let release = readers.change_visibility(dlq, &handles, 0).await;
    result?;
    let refused = release?;
    if let Some(e) = refused.first() {
        return Err(OpsError::Aws(crate::aws::AwsError::local(
            "sqs:ChangeMessageVisibilityBatch",
            &dlq.name,
            format!("{} message(s) stay hidden for up to {HOLD_SECS} s: {}: {}", refused.len(), e.code, e.message),
        )));
    }
    let mut letters: Vec<DeadLetter> = held
        .into_iter()
        .map(|m| DeadLetter {
            error: ERROR_ATTRIBUTES.iter().find_map(|a| m.attribute(a)).map(str::to_string),
            message_id: m.message_id,
            receive_count: m.receive_count,
            sent_ms: m.sent_ms,
            body: decode_body(&m.body),
        })
        .collect();
    letters.sort_by_key(|l| (l.sent_ms, l.message_id.clone()));
    Ok(letters)
}

/// How the messages were moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    MoveTask,
    Loop,
    /// A scheduled stage's runs, invoked again.
    Invoke,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::MoveTask => "StartMessageMoveTask",
            Method::Loop => "receive -> send -> delete",
            Method::Invoke => "receive -> invoke (asynchronous) -> delete",
        }
    }
}

/// What a redrive did.
#[derive(Debug, Clone)]
pub struct Redriven {
    pub method: Method,
    pub moved: u64,
    /// Why the move task was not used (the loop ran instead).
    pub fallback: Option<String>,
    /// Sends SQS refused (those messages stay in the DLQ).
    pub not_sent: Vec<EntryError>,
    /// Sent but not deleted from the DLQ: now in both queues (never lost).
    pub not_deleted: Vec<EntryError>,
    /// Dead letters that are not a scheduled stage's run (they stay in the DLQ): what they hold.
    pub not_runs: Vec<String>,
}

impl Redriven {
    /// Nothing moved yet, by `method`.
    fn new(method: Method) -> Self {
        Redriven { method, moved: 0, fallback: None, not_sent: vec![], not_deleted: vec![], not_runs: vec![] }
    }

    /// The redrive as one JSON document; `to` names where the letters went: `("queue", name)` or
    /// `("function", name)`.
    pub fn to_json(&self, dlq: &str, to: (&str, &str), seconds: f64) -> serde_json::Value {
        let mut doc = serde_json::json!({"dlq": dlq, "method": self.method.as_str(), "moved": self.moved,
                                         "fallback": self.fallback, "not_sent": self.not_sent.len(),
                                         "not_deleted": self.not_deleted.len(), "not_runs": self.not_runs,
                                         "seconds": seconds});
        doc[to.0] = serde_json::json!(to.1);
        doc
    }
}

/// Moves every dead letter back to `queue`. With `use_task`, SQS's own `StartMessageMoveTask`
/// (waiting up to `timeout` for it); if it is unavailable or fails, the safe loop.
pub async fn redrive(
    readers: &Readers,
    dlq: &QueueRef,
    queue: &QueueRef,
    use_task: bool,
    timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<Redriven, OpsError> {
    let mut fallback = None;
    if use_task {
        match move_task(readers, dlq, queue, timeout, progress).await {
            Ok(moved) => {
                return Ok(Redriven { moved, ..Redriven::new(Method::MoveTask) });
            }
            Err(OpsError::Aws(e)) if e.kind == crate::aws::ErrorKind::Unreachable => return Err(OpsError::Aws(e)),
            Err(e) => {
                progress(&format!("StartMessageMoveTask unavailable ({e}): moving with receive -> send -> delete"));
                fallback = Some(e.to_string());
            }
        }
    }
    let mut r = receive_send_delete(readers, dlq, queue, progress).await?;
    r.fallback = fallback;
    Ok(r)
}

async fn move_task(
    readers: &Readers,
    dlq: &QueueRef,
    queue: &QueueRef,
    timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<u64, OpsError> {
    let started = Instant::now();
    readers.start_move_task(dlq, queue).await?;
    progress(&format!("StartMessageMoveTask {} -> {} started", dlq.name, queue.name));
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(task) = readers.latest_move_task(dlq).await? else {
            return Err(OpsError::MoveTask { dlq: dlq.name.clone(), how: "is not listed".to_string() });
        };
        match task.status.as_str() {
            "COMPLETED" => return Ok(task.moved.max(0) as u64),
            "FAILED" | "CANCELLED" => {
                return Err(OpsError::MoveTask {
                    dlq: dlq.name.clone(),
                    how: format!(
                        "ended {} after {} message(s): {}",
                        task.status,
                        task.moved,
                        task.failure.unwrap_or_default()
                    ),
                });
            }
            _ if started.elapsed() > timeout => {
                return Err(OpsError::MoveTask {
                    dlq: dlq.name.clone(),
                    how: format!(
                        "is still {} after {} s ({} of {} moved); it goes on in SQS",
                        task.status,
                        timeout.as_secs(),
                        task.moved,
                        task.to_move.map_or("?".to_string(), |n| n.to_string())
                    ),
                });
            }
            _ => {}
        }
    }
}

/// Receives dead letters (hidden for [`HOLD_SECS`]), sends each to `queue` and deletes from the DLQ
/// only those whose send succeeded; refused sends are made visible again in the DLQ. A message whose
/// delete fails stays hidden (so this run does not send it twice) and is reported.
async fn receive_send_delete(
    readers: &Readers,
    dlq: &QueueRef,
    queue: &QueueRef,
    progress: &mut dyn FnMut(&str),
) -> Result<Redriven, OpsError> {
    let expected = readers.visible_messages(dlq).await?;
    let mut r = Redriven::new(Method::Loop);
    let mut moved_ids = BTreeSet::new();
    let mut empty = 0;
    for _ in 0..max_rounds(expected) {
        let Some(batch) = next_batch(readers, dlq, &mut empty).await? else { break };
        let (again, fresh): (Vec<Received>, Vec<Received>) =
            batch.into_iter().partition(|m| moved_ids.contains(&m.message_id));
        // A message already sent but seen again (its delete failed earlier): keep it hidden.
        drop(again);
        let outgoing: Vec<_> = fresh.iter().map(Received::to_outgoing).collect();
        let sent = match readers.send_batch(queue, &outgoing).await {
            Ok(s) => s,
            Err(e) => {
                let handles: Vec<&str> = fresh.iter().map(|m| m.receipt_handle.as_str()).collect();
                let _ = readers.change_visibility(dlq, &handles, 0).await;
                return Err(e.into());
            }
        };
        let mut to_delete = Vec::new();
        let mut to_release = Vec::new();
        for (m, result) in fresh.iter().zip(sent) {
            match result {
                Ok(()) => to_delete.push(m),
                Err(e) => {
                    to_release.push(m.receipt_handle.as_str());
                    r.not_sent.push(e);
                }
            }
        }
        if !to_release.is_empty() {
            readers.change_visibility(dlq, &to_release, 0).await?;
        }
        if !to_delete.is_empty() {
            let handles: Vec<&str> = to_delete.iter().map(|m| m.receipt_handle.as_str()).collect();
            let deleted = readers.delete_batch(dlq, &handles).await;
            let deleted = match deleted {
                Ok(d) => d,
                Err(e) => {
                    // Sent but not deleted: in both queues; say so and stop.
                    r.not_deleted.extend(
                        to_delete.iter().map(|_| EntryError { code: e.code.clone(), message: e.message.clone() }),
                    );
                    return Err(e.into());
                }
            };
            for (m, d) in to_delete.iter().zip(deleted) {
                moved_ids.insert(m.message_id.clone());
                match d {
                    Ok(()) => r.moved += 1,
                    Err(e) => r.not_deleted.push(e),
                }
            }
        }
        progress(&format!("{} of ~{expected} moved", r.moved));
        if !r.not_sent.is_empty() && r.moved == 0 {
            // Nothing goes through: stop instead of receiving the same messages again.
            break;
        }
    }
    Ok(r)
}

/// Invokes `function` again with each failed run of its DLQ (asynchronously: Lambda retries it and
/// sends it back to the DLQ if it fails again) and deletes a dead letter once Lambda accepted its
/// run. Every letter it does not delete (not a run, an invocation refused, a run already invoked whose
/// delete failed) stays hidden until this redrive ends, so none is read or invoked twice, and is
/// reported; then the ones not invoked are made visible again. No answer from Lambda stops the
/// redrive after deleting the letters whose runs it accepted.
pub async fn rerun(
    readers: &Readers,
    dlq: &QueueRef,
    function: &str,
    progress: &mut dyn FnMut(&str),
) -> Result<Redriven, OpsError> {
    let expected = readers.visible_messages(dlq).await?;
    let mut r = Redriven::new(Method::Invoke);
    // Letters held until the end, to be made visible again.
    let mut kept: Vec<String> = Vec::new();
    let mut invoked = BTreeSet::new();
    let mut empty = 0;
    let mut stopped = None;
    for _ in 0..max_rounds(expected) {
        let Some(batch) = next_batch(readers, dlq, &mut empty).await? else { break };
        let mut to_delete = Vec::new();
        for (i, m) in batch.iter().enumerate() {
            if invoked.contains(&m.message_id) {
                // Invoked earlier, its delete failed: seen again, left hidden (reported then).
                continue;
            }
            let run = match decode_body(&m.body) {
                Body::Run(run) => run,
                other => {
                    r.not_runs.push(other.describe());
                    kept.push(m.receipt_handle.clone());
                    continue;
                }
            };
            match readers.invoke_async(function, &run.to_payload()).await {
                Ok(()) => {
                    invoked.insert(m.message_id.clone());
                    to_delete.push(m.receipt_handle.as_str());
                }
                Err(e) if e.kind == crate::aws::ErrorKind::Unreachable => {
                    // This letter and the rest of the batch were not invoked: visible again at the end.
                    kept.extend(batch[i..].iter().map(|m| m.receipt_handle.clone()));
                    stopped = Some(e);
                    break;
                }
                Err(e) => {
                    r.not_sent.push(EntryError { code: e.code.clone(), message: e.message.clone() });
                    kept.push(m.receipt_handle.clone());
                }
            }
        }
        if !to_delete.is_empty() {
            match readers.delete_batch(dlq, &to_delete).await {
                Ok(deleted) => {
                    for d in deleted {
                        match d {
                            Ok(()) => r.moved += 1,
                            Err(e) => r.not_deleted.push(e),
                        }
                    }
                }
                Err(e) => {
                    let e = EntryError { code: e.code, message: e.message };
                    r.not_deleted.extend(to_delete.iter().map(|_| e.clone()));
                }
            }
        }
        progress(&format!("{} of ~{expected} run(s) invoked again", r.moved));
        if stopped.is_some() || (!r.not_sent.is_empty() && r.moved == 0) {
            break;
        }
    }
    let handles: Vec<&str> = kept.iter().map(String::as_str).collect();
    if !handles.is_empty() {
        readers.change_visibility(dlq, &handles, 0).await?;
    }
    match stopped {
        Some(e) => Err(OpsError::Aws(e)),
        None => Ok(r),
    }
}

/// How many batches a redrive receives at most: messages are hidden while held, so each round sees new
/// ones; the bound stops a loop that would otherwise spin on messages that keep failing.
fn max_rounds(expected: u64) -> u64 {
    expected / 10 * 3 + 20
}

/// The next batch of dead letters, hidden for [`HOLD_SECS`]; `None` after two empty receives in a row
/// (`empty` counts them).
async fn next_batch(readers: &Readers, dlq: &QueueRef, empty: &mut u32) -> Result<Option<Vec<Received>>, OpsError> {
    loop {
        let batch = readers.receive(dlq, 10, HOLD_SECS, 1).await?;
        if !batch.is_empty() {
            *empty = 0;
            return Ok(Some(batch));
        }
        *empty += 1;
        if *empty >= 2 {
            return Ok(None);
        }
    }
}

/// Deletes every message of the DLQ; returns how many it held.
pub async fn purge(readers: &Readers, dlq: &QueueRef) -> Result<u64, OpsError> {
    let n = readers.visible_messages(dlq).await?;
    readers.purge(dlq).await?;
    Ok(n)
}
