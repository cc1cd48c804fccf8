//! `replay`: S3 event notifications for the existing objects of some dates, sent into the stage's
//! queue (not to the function), so the event source mapping, retries and the DLQ apply as for S3's
//! own events. A season's backfill is one message per object, fanned out by the queue. A scheduled
//! Lambda stage has no queue: its replay is one asynchronous invocation per date (`{"date": D}`), with
//! Lambda's retries and the stage's DLQ as for a run its schedule starts.

use super::OpsError;
use crate::aws::live::Readers;
use crate::aws::ops::{EntryError, ObjectInfo, Outgoing, QueueRef};
use crate::spec::Pipeline;
use crate::spec::pattern::KeyTemplate;
use crate::spec::resolve::Stage;
use chrono::{Datelike, NaiveDate};
use futures::StreamExt;
use pipewright_stage::{glob_match, is_canary};
use std::collections::BTreeMap;

/// Listing pages (1,000 keys each) read per prefix at most.
const MAX_PAGES: usize = 100;

/// What a replay sends.
#[derive(Debug, Clone)]
pub struct Plan {
    pub stage: String,
    pub queue: String,
    pub bucket: String,
    pub dates: Vec<NaiveDate>,
    /// The prefixes listed.
    pub prefixes: Vec<String>,
    /// The objects, in key order.
    pub objects: Vec<ObjectInfo>,
    /// The trigger is delivered through EventBridge: the messages are EventBridge's S3 events.
    pub eventbridge: bool,
}

/// What a replay sent.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub sent: usize,
    pub batches: usize,
    /// Keys SQS refused after the retries, with the last error.
    pub failed: Vec<(String, EntryError)>,
}

/// The globs (other variables as `*`) of the keys an input template gives for `date`.
fn date_glob(template: &str, date: NaiveDate) -> String {
    KeyTemplate { template: template.to_string() }.render(|v| match v {
        "date" => date.format("%Y-%m-%d").to_string(),
        "year" => format!("{:04}", date.year()),
        "month" => format!("{:02}", date.month()),
        "day" => format!("{:02}", date.day()),
        _ => "*".to_string(),
    })
}

/// Finds the objects of `dates` that the stage's trigger matches: through the upstream writes'
/// key templates when they are keyed by `{date}`, else (objects from outside the pipeline) keys
/// with a `date=YYYY-MM-DD` segment under the trigger's prefix.
pub async fn plan(
    readers: &Readers,
    pipeline: &Pipeline,
    stage: &Stage,
    dates: Vec<NaiveDate>,
) -> Result<Plan, OpsError> {
    let (queue, trigger) = super::stage_queue(stage, "replay")?;
    let bucket = pipeline.bucket_name(&trigger.bucket);
    let templates: Vec<String> = pipeline
        .stage_inputs(stage)
        .0
        .into_iter()
        .filter(|o| o.location.bucket == bucket)
        .map(|o| o.location.key)
        .collect();
    // prefix -> globs of the wanted keys under it.
    let mut wanted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if templates.is_empty() {
        for d in &dates {
            let glob = format!("{}*", trigger.pattern.prefix);
            wanted.entry(trigger.pattern.prefix.clone()).or_default().push(format!("{glob}date={d}*"));
        }
    } else {
        let dated: Vec<&String> = templates.iter().filter(|t| t.contains("{date}")).collect();
        if dated.is_empty() {
            return Err(OpsError::NotDated { stage: stage.name.value.clone(), templates: templates.clone() });
        }
        for t in dated {
            for d in &dates {
                let glob = date_glob(t, *d);
                let prefix = glob.split('*').next().unwrap_or_default().to_string();
                wanted.entry(prefix).or_default().push(glob);
            }
        }
    }
    let bucket_ref = bucket.as_str();
    let listings = futures::stream::iter(wanted.keys().cloned())
        .map(|prefix| async move { (readers.list_objects(bucket_ref, &prefix, MAX_PAGES).await, prefix) })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let mut objects: BTreeMap<String, ObjectInfo> = BTreeMap::new();
    for (listing, prefix) in listings {
        let Some((found, truncated)) = listing? else {
            return Err(OpsError::NotDeployed { what: "bucket", name: bucket.clone() });
        };
        if truncated {
            return Err(OpsError::TooManyKeys { keys: MAX_PAGES * 1000, bucket: bucket.clone(), prefix });
        }
        let globs = wanted.get(&prefix).map(Vec::as_slice).unwrap_or_default();
        for o in found {
            if trigger.pattern.matches(&o.key) && !is_canary(&o.key) && globs.iter().any(|g| glob_match(g, &o.key)) {
                objects.insert(o.key.clone(), o);
            }
        }
    }
    Ok(Plan {
        stage: stage.name.value.clone(),
        queue: queue.name.value.clone(),
        bucket,
        dates,
        prefixes: wanted.into_keys().collect(),
        objects: objects.into_values().collect(),
        eventbridge: stage.trigger.as_ref().is_some_and(|t| t.through_eventbridge()),
    })
}

/// A replay as one JSON document: what was listed and what was sent.
pub fn report_json(
    plan: &Plan,
    outcome: Option<&Outcome>,
    dry_run: bool,
    listed: std::time::Duration,
    seconds: f64,
) -> serde_json::Value {
    let failed: Vec<_> = outcome
        .map(|o| {
            o.failed.iter().map(|(k, e)| serde_json::json!({"key": k, "code": e.code, "message": e.message})).collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "stage": plan.stage, "queue": plan.queue, "bucket": plan.bucket,
        "from": plan.dates.first().map(|d| d.to_string()), "to": plan.dates.last().map(|d| d.to_string()),
        "dry_run": dry_run,
        "objects": plan.objects.iter().map(|o| o.key.clone()).collect::<Vec<_>>(),
        "sent": outcome.map_or(0, |o| o.sent),
        "batches": outcome.map_or(0, |o| o.batches),
        "failed": failed,
        "list_seconds": listed.as_secs_f64(),
        "seconds": seconds,
    })
}

impl Plan {
    /// One S3 event message per object, as S3 (or EventBridge, for a trigger delivered through it) would
    /// have sent it when the object was written.
    pub fn messages(&self, region: &str) -> Vec<String> {
        self.objects
            .iter()
            .map(|o| {
                let sequencer = format!("{:016X}", o.modified_ms);
                let event = super::ObjectEventInfo {
                    region,
                    bucket: &self.bucket,
                    key: &o.key,
                    size: o.size,
                    etag: &o.etag,
                    time_ms: o.modified_ms,
                    sequencer: &sequencer,
                };
                if self.eventbridge { event.eventbridge_body() } else { event.notification_body() }
            })
            .collect()
    }
}

/// Sends `messages` into `queue` with `SendMessageBatch` (10 per call, `concurrency` calls in
/// flight); entries SQS refuses are retried twice. `progress` is told the running count.
pub async fn send(
    readers: &Readers,
    queue: &QueueRef,
    keys: &[String],
    messages: Vec<String>,
    concurrency: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Outcome, OpsError> {
    let total = messages.len();
    let mut outcome = Outcome::default();
    // (key, body) still to send.
    let mut pending: Vec<(String, String)> = keys.iter().cloned().zip(messages).collect();
    for attempt in 0..3 {
        if pending.is_empty() {
            break;
        }
        let batches: Vec<Vec<(String, String)>> = pending.chunks(10).map(<[_]>::to_vec).collect();
        outcome.batches += batches.len();
        let mut results = futures::stream::iter(batches)
            .map(|batch| async move {
                let out: Vec<Outgoing> = batch.iter().map(|(_, b)| Outgoing::body(b.clone())).collect();
                (readers.send_batch(queue, &out).await, batch)
            })
            .buffer_unordered(concurrency.max(1));
        let mut retry = Vec::new();
        while let Some((result, batch)) = results.next().await {
            for (entry, (key, body)) in result?.into_iter().zip(batch) {
                match entry {
                    Ok(()) => outcome.sent += 1,
                    Err(_) if attempt < 2 => retry.push((key, body)),
                    Err(e) => outcome.failed.push((key, e)),
                }
            }
            progress(outcome.sent, total);
        }
        pending = retry;
    }
    Ok(outcome)
}

/// Invokes `function` asynchronously once per date with the run for that date, `concurrency`
/// invocations in flight; a throttled invocation is tried twice more after a pause. Every date ends
/// either invoked (`Outcome::sent`) or in `Outcome::failed` with its last error, so a partial replay
/// says which dates ran.
pub async fn invoke_runs(
    readers: &Readers,
    function: &str,
    dates: &[NaiveDate],
    concurrency: usize,
) -> Result<Outcome, OpsError> {
    use pipewright_stage::schedule::ScheduledRun;
    let mut outcome = Outcome::default();
    let mut pending: Vec<NaiveDate> = dates.to_vec();
    for attempt in 0..3u64 {
        if pending.is_empty() {
            break;
        }
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(500 * attempt)).await;
        }
        outcome.batches += pending.len();
        let mut results =
            futures::stream::iter(pending)
                .map(|date| async move {
                    (readers.invoke_async(function, &ScheduledRun::Date(date).to_payload()).await, date)
                })
                .buffer_unordered(concurrency.max(1));
        let mut retry = Vec::new();
        while let Some((result, date)) = results.next().await {
            match result {
                Ok(()) => outcome.sent += 1,
                Err(e) if e.kind == crate::aws::ErrorKind::Throttling && attempt < 2 => retry.push(date),
                Err(e) => outcome.failed.push((date.to_string(), EntryError { code: e.code, message: e.message })),
            }
        }
        pending = retry;
    }
    outcome.failed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_globs_fill_the_date_and_leave_other_variables_open() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 5).expect("date");
        assert_eq!(date_glob("raw/box_scores/date={date}/data.json", d), "raw/box_scores/date=2024-01-05/data.json");
        assert_eq!(
            date_glob("silver/player_stats/season={season}/date={date}/data.parquet", d),
            "silver/player_stats/season=*/date=2024-01-05/data.parquet"
        );
        assert_eq!(date_glob("y={year}/m={month}/d={day}/{game_id}.json", d), "y=2024/m=01/d=05/*.json");
    }
}
