//! The calls behind the operating commands (`status`, `replay`, `dlq`, `probe`): SQS messages, S3
//! objects, CloudWatch metrics and alarm states, log lines, event source mapping states. Each
//! returns our own types; an `Err` names the operation, the resource and the AWS error code.

use super::live::Readers;
use super::{AwsError, ErrorKind};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, MessageAttributeValue,
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use std::collections::{BTreeMap, HashMap};

/// A queue by name, URL and ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRef {
    pub name: String,
    pub url: String,
    pub arn: String,
}

/// A message received from a queue (it stays invisible for the visibility timeout asked for).
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// `ApproximateReceiveCount`, this receive included.
    pub receive_count: u32,
    /// `SentTimestamp`, epoch milliseconds (kept when SQS moves a message to its DLQ).
    pub sent_ms: Option<i64>,
    attributes: Option<HashMap<String, MessageAttributeValue>>,
}

/// A message to send: a body and (when it is a received message sent on) its message attributes.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub body: String,
    attributes: Option<HashMap<String, MessageAttributeValue>>,
}

impl Outgoing {
    pub fn body(body: impl Into<String>) -> Self {
        Outgoing { body: body.into(), attributes: None }
    }

    /// A body with one string message attribute.
    pub fn with_attribute(body: impl Into<String>, name: &str, value: &str) -> Self {
        let value = MessageAttributeValue::builder().data_type("String").string_value(value).build().ok();
        Outgoing { body: body.into(), attributes: value.map(|v| HashMap::from([(name.to_string(), v)])) }
    }
}

impl Received {
    /// The same message, to send to another queue (body and message attributes).
    pub fn to_outgoing(&self) -> Outgoing {
        Outgoing { body: self.body.clone(), attributes: self.attributes.clone() }
    }

    /// A string message attribute (Lambda's `ErrorMessage` on a failed run, Scheduler's `ERROR_MESSAGE`).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.as_ref()?.get(name)?.string_value()
    }
}

/// The failure of one entry of a batch call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError {
    pub code: String,
    pub message: String,
}

/// A message move task (`ListMessageMoveTasks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTask {
    /// RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED.
    pub status: String,
    pub moved: i64,
    pub to_move: Option<i64>,
    pub failure: Option<String>,
    pub started_ms: i64,
}

/// An object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: i64,
    pub etag: String,
    /// Epoch milliseconds.
    pub modified_ms: i64,
}

/// An event source mapping as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingStatus {
    pub uuid: String,
    pub source_arn: String,
    pub state: crate::drift::live::MappingState,
    pub reason: String,
    pub last_result: String,
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub timestamp_ms: i64,
    pub message: String,
}

fn entry_error(code: Option<&str>, message: Option<&str>) -> EntryError {
    EntryError { code: code.unwrap_or("Unknown").to_string(), message: message.unwrap_or_default().to_string() }
}

fn millis(t: &aws_smithy_types::DateTime) -> i64 {
    t.to_millis().unwrap_or_default()
}

impl Readers {
    /// A queue's URL and ARN; `None` when it does not exist.
    pub async fn queue_ref(&self, name: &str) -> Result<Option<QueueRef>, AwsError> {
        let url = match self.sqs.get_queue_url().queue_name(name).send().await {
            Ok(out) => out.queue_url.unwrap_or_default(),
            Err(e) => {
                let err = AwsError::new("sqs:GetQueueUrl", name, e);
                return if err.kind == ErrorKind::NotFound { Ok(None) } else { Err(err) };
            }
        };
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:GetQueueAttributes", name, e))?;
        let arn = out.attributes.and_then(|mut a| a.remove(&QueueAttributeName::QueueArn)).unwrap_or_default();
        Ok(Some(QueueRef { name: name.to_string(), url, arn }))
    }

    /// `ApproximateNumberOfMessages` (visible) of a queue.
    pub async fn visible_messages(&self, queue: &QueueRef) -> Result<u64, AwsError> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&queue.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:GetQueueAttributes", &queue.name, e))?;
        Ok(out
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Sends up to 10 messages in one `SendMessageBatch`; the result has one entry per message
    /// (`Err` for the entries SQS refused).
    pub async fn send_batch(
        &self,
        queue: &QueueRef,
        messages: &[Outgoing],
    ) -> Result<Vec<Result<(), EntryError>>, AwsError> {
        let mut req = self.sqs.send_message_batch().queue_url(&queue.url);
        for (i, m) in messages.iter().enumerate() {
            let entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(&m.body)
                .set_message_attributes(m.attributes.clone())
                .build()
                .map_err(|e| AwsError::local("sqs:SendMessageBatch", &queue.name, e.to_string()))?;
            req = req.entries(entry);
        }
        let out = req.send().await.map_err(|e| AwsError::new("sqs:SendMessageBatch", &queue.name, e))?;
        let mut results: Vec<Result<(), EntryError>> =
            vec![
                Err(EntryError { code: "NoAnswer".into(), message: "SQS did not report this entry".into() });
                messages.len()
            ];
        for ok in out.successful {
            if let Some(r) = ok.id.parse::<usize>().ok().and_then(|i| results.get_mut(i)) {
                *r = Ok(());
            }
        }
        for failed in out.failed {
            if let Some(r) = failed.id.parse::<usize>().ok().and_then(|i| results.get_mut(i)) {
                *r = Err(entry_error(Some(&failed.code), failed.message.as_deref()));
            }
        }
        Ok(results)
    }

    /// Invokes `function` asynchronously (`InvocationType: Event`) with `payload`: Lambda queues the
    /// invocation, retries it and sends it to the function's dead-letter queue when it fails.
    pub async fn invoke_async(&self, function: &str, payload: &serde_json::Value) -> Result<(), AwsError> {
        let out = self
            .lambda
            .invoke()
            .function_name(function)
            .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
            .payload(aws_smithy_types::Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| AwsError::new("lambda:InvokeFunction", function, e))?;
        if out.status_code != 202 {
            return Err(AwsError::local(
                "lambda:InvokeFunction",
                function,
                format!("status {} where an asynchronous invocation answers 202", out.status_code),
            ));
        }
        Ok(())
    }

    /// Receives up to `max` (1..10) messages, hiding them for `visibility` seconds.
    pub async fn receive(
        &self,
        queue: &QueueRef,
        max: i32,
        visibility: i32,
        wait: i32,
    ) -> Result<Vec<Received>, AwsError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(max.clamp(1, 10))
            .visibility_timeout(visibility)
            .wait_time_seconds(wait)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:ReceiveMessage", &queue.name, e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let attr = |name: MessageSystemAttributeName| m.attributes.as_ref().and_then(|a| a.get(&name)).cloned();
                Received {
                    receive_count: attr(MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    sent_ms: attr(MessageSystemAttributeName::SentTimestamp).and_then(|v| v.parse().ok()),
                    message_id: m.message_id.clone().unwrap_or_default(),
                    receipt_handle: m.receipt_handle.clone().unwrap_or_default(),
                    body: m.body.clone().unwrap_or_default(),
                    attributes: m.message_attributes.clone().filter(|a| !a.is_empty()),
                }
            })
            .collect())
    }

    /// Sets the visibility timeout of received messages (0: visible again now). Returns the
    /// entries SQS refused.
    pub async fn change_visibility(
        &self,
        queue: &QueueRef,
        handles: &[&str],
        seconds: i32,
    ) -> Result<Vec<EntryError>, AwsError> {
        let mut refused = Vec::new();
        for chunk in handles.chunks(10) {
            let mut req = self.sqs.change_message_visibility_batch().queue_url(&queue.url);
            for (i, h) in chunk.iter().enumerate() {
                let entry = ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*h)
                    .visibility_timeout(seconds)
                    .build()
                    .map_err(|e| AwsError::local("sqs:ChangeMessageVisibilityBatch", &queue.name, e.to_string()))?;
                req = req.entries(entry);
            }
            let out =
                req.send().await.map_err(|e| AwsError::new("sqs:ChangeMessageVisibilityBatch", &queue.name, e))?;
            refused.extend(out.failed.iter().map(|f| entry_error(Some(&f.code), f.message.as_deref())));
        }
        Ok(refused)
    }

    /// Deletes up to 10 received messages; one result per handle.
    pub async fn delete_batch(
        &self,
        queue: &QueueRef,
        handles: &[&str],
    ) -> Result<Vec<Result<(), EntryError>>, AwsError> {
        let mut req = self.sqs.delete_message_batch().queue_url(&queue.url);
        for (i, h) in handles.iter().enumerate() {
            let entry = DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(*h)
                .build()
                .map_err(|e| AwsError::local("sqs:DeleteMessageBatch", &queue.name, e.to_string()))?;
            req = req.entries(entry);
        }
        let out = req.send().await.map_err(|e| AwsError::new("sqs:DeleteMessageBatch", &queue.name, e))?;
        let mut results: Vec<Result<(), EntryError>> =
            vec![
                Err(EntryError { code: "NoAnswer".into(), message: "SQS did not report this entry".into() });
                handles.len()
            ];
        for ok in out.successful {
            if let Some(r) = ok.id.parse::<usize>().ok().and_then(|i| results.get_mut(i)) {
                *r = Ok(());
            }
        }
        for failed in out.failed {
            if let Some(r) = failed.id.parse::<usize>().ok().and_then(|i| results.get_mut(i)) {
                *r = Err(entry_error(Some(&failed.code), failed.message.as_deref()));
            }
        }
        Ok(results)
    }

    /// Deletes every message of a queue (`PurgeQueue`).
    pub async fn purge(&self, queue: &QueueRef) -> Result<(), AwsError> {
        self.sqs
            .purge_queue()
            .queue_url(&queue.url)
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:PurgeQueue", &queue.name, e))?;
        Ok(())
    }

    /// Starts moving the messages of a dead-letter queue to `destination` (`StartMessageMoveTask`).
    pub async fn start_move_task(&self, dlq: &QueueRef, destination: &QueueRef) -> Result<String, AwsError> {
        let out = self
            .sqs
            .start_message_move_task()
            .source_arn(&dlq.arn)
            .destination_arn(&destination.arn)
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:StartMessageMoveTask", &dlq.name, e))?;
        Ok(out.task_handle.unwrap_or_default())
    }

    /// The newest message move task of a dead-letter queue.
    pub async fn latest_move_task(&self, dlq: &QueueRef) -> Result<Option<MoveTask>, AwsError> {
        let out = self
            .sqs
            .list_message_move_tasks()
            .source_arn(&dlq.arn)
            .max_results(1)
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:ListMessageMoveTasks", &dlq.name, e))?;
        Ok(out.results.unwrap_or_default().into_iter().next().map(|t| MoveTask {
            status: t.status.clone().unwrap_or_default(),
            moved: t.approximate_number_of_messages_moved,
            to_move: t.approximate_number_of_messages_to_move,
            failure: t.failure_reason.clone(),
            started_ms: t.started_timestamp,
        }))
    }

    /// Every object under `prefix` (all pages, up to `max_pages` of 1,000); `None` when the bucket
    /// does not exist. The flag says whether the listing stopped at `max_pages`.
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        max_pages: usize,
    ) -> Result<Option<(Vec<ObjectInfo>, bool)>, AwsError> {
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..max_pages {
            let out = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::new("s3:ListObjectsV2", format!("s3://{bucket}/{prefix}"), e));
            let out = match out {
                Ok(o) => o,
                Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            for o in out.contents.unwrap_or_default() {
                objects.push(ObjectInfo {
                    key: o.key.clone().unwrap_or_default(),
                    size: o.size.unwrap_or_default(),
                    etag: o.e_tag.clone().unwrap_or_default().trim_matches('"').to_string(),
                    modified_ms: o.last_modified.as_ref().map(millis).unwrap_or_default(),
                });
            }
            match out.next_continuation_token {
                Some(t) if out.is_truncated == Some(true) => token = Some(t),
                _ => return Ok(Some((objects, false))),
            }
        }
        Ok(Some((objects, true)))
    }

    /// Puts a small object with tags (`k=v&k2=v2`); returns its version id (versioned buckets).
    pub async fn put_tagged(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        tagging: &str,
    ) -> Result<Option<String>, AwsError> {
        let out = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into())
            .tagging(tagging)
            .send()
            .await
            .map_err(|e| AwsError::new("s3:PutObject", format!("s3://{bucket}/{key}"), e))?;
        Ok(out.version_id)
    }

    /// Deletes an object (a given version for good, else the current one).
    pub async fn delete_object(&self, bucket: &str, key: &str, version: Option<&str>) -> Result<(), AwsError> {
        self.s3
            .delete_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version.map(str::to_string))
            .send()
            .await
            .map_err(|e| AwsError::new("s3:DeleteObject", format!("s3://{bucket}/{key}"), e))?;
        Ok(())
    }

    /// A statistic of a metric with one dimension over the last `since_secs`: the sum of the
    /// periods' `Sum`s, or the maximum of their `Maximum`s; `None` without datapoints.
    pub async fn metric(
        &self,
        namespace: &str,
        metric: &str,
        dimension: (&str, &str),
        since_secs: u64,
        maximum: bool,
    ) -> Result<Option<f64>, AwsError> {
        use aws_sdk_cloudwatch::types::{Dimension, Statistic};
        let now = std::time::SystemTime::now();
        let start = now - std::time::Duration::from_secs(since_secs);
        // At most 1,440 datapoints per call: periods of whole minutes.
        let period = (since_secs.div_ceil(1440).div_ceil(60) * 60).max(60) as i32;
        let out = self
            .cloudwatch
            .get_metric_statistics()
            .namespace(namespace)
            .metric_name(metric)
            .dimensions(Dimension::builder().name(dimension.0).value(dimension.1).build())
            .start_time(aws_smithy_types::DateTime::from(start))
            .end_time(aws_smithy_types::DateTime::from(now))
            .period(period)
            .statistics(if maximum { Statistic::Maximum } else { Statistic::Sum })
            .send()
            .await
            .map_err(|e| AwsError::new("cloudwatch:GetMetricStatistics", format!("{metric} of {}", dimension.1), e))?;
        let points = out.datapoints.unwrap_or_default();
        if points.is_empty() {
            return Ok(None);
        }
        Ok(Some(if maximum {
            points.iter().filter_map(|p| p.maximum).fold(0.0, f64::max)
        } else {
            points.iter().filter_map(|p| p.sum).sum()
        }))
    }

    /// State (`OK`, `ALARM`, `INSUFFICIENT_DATA`) and reason of the named alarms that exist.
    pub async fn alarm_states(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, crate::drift::live::AlarmState>, AwsError> {
        Ok(self.alarms(names).await?.into_iter().map(|(name, a)| (name, a.state)).collect())
    }

    /// The newest lines of a log group since `start_ms` that match `pattern` (newest last, at most
    /// `limit`); `None` when the group does not exist.
    pub async fn log_lines(
        &self,
        group: &str,
        pattern: &str,
        start_ms: i64,
        limit: usize,
    ) -> Result<Option<Vec<LogLine>>, AwsError> {
        let mut lines = Vec::new();
        let mut token: Option<String> = None;
        // Pages come oldest first: read at most 10 pages, keep the newest `limit`.
        for _ in 0..10 {
            let out = self
                .logs
                .filter_log_events()
                .log_group_name(group)
                .filter_pattern(pattern)
                .start_time(start_ms)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::new("logs:FilterLogEvents", group, e));
            let out = match out {
                Ok(o) => o,
                Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            for ev in out.events.unwrap_or_default() {
                lines.push(LogLine {
                    timestamp_ms: ev.timestamp.unwrap_or_default(),
                    message: ev.message.clone().unwrap_or_default(),
                });
            }
            match out.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        lines.sort_by_key(|l| l.timestamp_ms);
        let skip = lines.len().saturating_sub(limit);
        Ok(Some(lines.split_off(skip)))
    }

    /// The event source mappings of a function, with state and last processing result.
    pub async fn mapping_status(&self, function: &str) -> Result<Vec<MappingStatus>, AwsError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .lambda
                .list_event_source_mappings()
                .function_name(function)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::new("lambda:ListEventSourceMappings", function, e))?;
            for m in page.event_source_mappings.unwrap_or_default() {
                out.push(MappingStatus {
                    uuid: m.uuid.clone().unwrap_or_default(),
                    source_arn: m.event_source_arn.clone().unwrap_or_default(),
                    state: crate::drift::live::MappingState::parse(m.state.as_deref().unwrap_or_default()),
                    reason: m.state_transition_reason.clone().unwrap_or_default(),
                    last_result: m.last_processing_result.clone().unwrap_or_default(),
                });
            }
            match page.next_marker {
                Some(m) if !m.is_empty() => marker = Some(m),
                _ => return Ok(out),
            }
        }
    }

    /// When a table of a table bucket was last modified (epoch milliseconds); `None` when it does not exist.
    pub async fn table_modified(
        &self,
        bucket_arn: &str,
        namespace: &str,
        table: &str,
    ) -> Result<Option<i64>, AwsError> {
        match self.s3tables.get_table().table_bucket_arn(bucket_arn).namespace(namespace).name(table).send().await {
            Ok(t) => Ok(Some(millis(&t.modified_at))),
            Err(e) => {
                let err = AwsError::new("s3tables:GetTable", format!("{namespace}.{table}"), e);
                // S3 Tables answers a missing table (or table bucket) with `NotFoundException`.
                if err.kind == ErrorKind::NotFound || err.code == "NotFoundException" { Ok(None) } else { Err(err) }
            }
        }
    }
}
