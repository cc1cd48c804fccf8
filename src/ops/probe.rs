//! `probe`: for each S3 trigger, a tagged canary object whose key matches the trigger (S3 filter and
//! whole pattern; `pipewright_stage::canary_key`) goes into the bucket, and the probe waits for its
//! event in the stage's queue. Other messages it receives meanwhile stay hidden until the probe ends
//! (so each is received at most once by the probe) and are then made visible again; only the
//! canary's message is deleted. An enabled event source mapping may take the canary first: the
//! handler logs and skips it, so the probe also looks for the canary's key in the function's log group.

use super::{Body, OpsError, decode_body, now_ms};
use crate::aws::live::Readers;
use crate::aws::ops::QueueRef;
use crate::spec::Pipeline;
use crate::spec::resolve::Stage;
use std::time::{Duration, Instant};

/// How the canary was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Received from the stage's queue (and deleted).
    Queue,
    /// The function took it first: its log group has the canary's key.
    Log,
}

/// The result for one trigger.
#[derive(Debug, Clone)]
pub struct Probe {
    pub stage: String,
    pub bucket: String,
    pub key: String,
    pub queue: String,
    /// Milliseconds from the put to the message, and how it was seen; `None`: not within the timeout.
    pub arrived: Option<(u64, Via)>,
    /// Other messages received (and handed back) while waiting.
    pub others: usize,
    /// A problem removing the canary (it is then left in the bucket).
    pub cleanup: Option<String>,
}

/// A canary id: time and process, unique enough per run.
impl Probe {
    /// The probe as JSON: whether the canary arrived, after how long, and how it was seen.
    pub fn to_json(&self) -> serde_json::Value {
        let (ms, via) = match self.arrived {
            Some((ms, via)) => (Some(ms), Some(if via == Via::Queue { "queue" } else { "log" })),
            None => (None, None),
        };
        serde_json::json!({"stage": self.stage, "bucket": self.bucket, "key": self.key, "queue": self.queue,
                           "arrived": self.arrived.is_some(), "ms": ms, "via": via,
                           "others_seen": self.others, "cleanup": self.cleanup})
    }
}

pub fn canary_id() -> String {
    format!("{:x}-{:x}", now_ms(), std::process::id())
}

/// Probes one stage's trigger.
pub async fn probe(
    readers: &Readers,
    pipeline: &Pipeline,
    stage: &Stage,
    id: &str,
    timeout: Duration,
) -> Result<Probe, OpsError> {
    let (queue_spec, trigger) = super::stage_queue(stage, "probe")?;
    let bucket = pipeline.bucket_name(&trigger.bucket);
    let key = pipewright_stage::canary_key(&trigger.pattern.pattern, id)
        .ok_or_else(|| OpsError::ExactKey { stage: stage.name.value.clone(), key: trigger.pattern.pattern.clone() })?;
    let queue = super::existing_queue(readers, &queue_spec.name.value, "queue").await?;
    let body = serde_json::json!({"pipewright": "canary", "stage": stage.name.value, "id": id}).to_string();
    let tagging = format!("pipewright=canary&pipewright-probe={id}");
    let started = Instant::now();
    let put_ms = now_ms();
    let version = readers.put_tagged(&bucket, &key, body.into_bytes(), &tagging).await?;
    let log_group = stage.function.as_ref().map(|f| f.log_group.value.clone());
    let waited = wait(readers, &queue, &bucket, &key, log_group.as_deref(), put_ms, started, timeout).await;
    let cleanup = readers
        .delete_object(&bucket, &key, version.as_deref())
        .await
        .err()
        .map(|e| format!("the canary s3://{bucket}/{key} is left in the bucket: {e}"));
    let (arrived, others) = waited?;
    Ok(Probe { stage: stage.name.value.clone(), bucket, key, queue: queue.name, arrived, others, cleanup })
}

#[allow(clippy::too_many_arguments)]
async fn wait(
    readers: &Readers,
    queue: &QueueRef,
    bucket: &str,
    key: &str,
    log_group: Option<&str>,
    put_ms: i64,
    started: Instant,
    timeout: Duration,
) -> Result<(Option<(u64, Via)>, usize), OpsError> {
    let mut held: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut next_log_look = Instant::now() + Duration::from_secs(2);
    let result: Result<Option<(u64, Via)>, OpsError> = async {
        while started.elapsed() < timeout {
            let left = timeout.saturating_sub(started.elapsed());
            // Hide what we receive until the probe ends (plus a margin), so nothing is received twice.
            let hide = left.as_secs() as i32 + 10;
            let batch = readers.receive(queue, 10, hide, 1).await?;
            let mut found = None;
            for m in batch {
                let mine = matches!(decode_body(&m.body), Body::Objects(objects)
                    if objects.iter().any(|(b, k, _)| b == bucket && k == key));
                if mine && found.is_none() {
                    found = Some(m.receipt_handle.clone());
                } else if seen.insert(m.message_id.clone()) {
                    held.push(m.receipt_handle.clone());
                }
            }
            if let Some(handle) = found {
                let ms = started.elapsed().as_millis() as u64;
                readers.delete_batch(queue, &[handle.as_str()]).await?;
                return Ok(Some((ms, Via::Queue)));
            }
            if let Some(group) = log_group
                && Instant::now() >= next_log_look
            {
                next_log_look = Instant::now() + Duration::from_secs(2);
                let pattern = format!("\"{key}\"");
                if let Ok(Some(lines)) = readers.log_lines(group, &pattern, put_ms, 1).await
                    && !lines.is_empty()
                {
                    return Ok(Some((started.elapsed().as_millis() as u64, Via::Log)));
                }
            }
        }
        Ok(None)
    }
    .await;
    let handles: Vec<&str> = held.iter().map(String::as_str).collect();
    let released = readers.change_visibility(queue, &handles, 0).await;
    let arrived = result?;
    released?;
    Ok((arrived, held.len()))
}
