//! S3 events delivered through SQS, and partial batch responses.
//!
//! A message carries either an S3 event notification (`Records`, keys URL-encoded) or an S3 event that
//! EventBridge delivered (`"source": "aws.s3"`, `detail-type` `Object Created`, keys as written): a
//! handler sees the same [`ObjectEvent`]s whichever way its trigger is delivered. The bodies are parsed
//! with small lenient structs rather than `aws_lambda_events::S3Event`, which refuses what moto sends
//! (no `userIdentity`/`requestParameters`, `eventTime` without a timezone). Notification keys are
//! URL-decoded with [`decode_event_key`] and the whole trigger pattern is enforced with [`glob_match`]
//! (S3 filters only enforce a prefix and a suffix).

use std::error::Error as StdError;
use std::future::Future;
use std::time::Instant;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde::Deserialize;

use crate::log::{Logger, error_chain};
use crate::{Input, ObjectLimit, TooLarge, decode_event_key, glob_match};

/// One object of an S3 event notification, key decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    /// `ObjectCreated:Put`, `ObjectCreated:CompleteMultipartUpload`, `ObjectRemoved:Delete` ...
    pub event_name: String,
    /// As sent: AWS adds a timezone (`...Z`), moto does not.
    pub event_time: Option<String>,
    pub bucket: String,
    /// The decoded key.
    pub key: String,
    /// The key as it appeared in the message.
    pub raw_key: String,
    pub size: Option<u64>,
    pub sequencer: Option<String>,
}

/// What one SQS message body carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// `s3:TestEvent`, sent when a notification configuration is written: nothing to do.
    Test {
        bucket: Option<String>,
    },
    Objects(Vec<ObjectEvent>),
}

/// A message body that is not an S3 event notification.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("message body is not an S3 event notification")]
    NotJson(#[source] serde_json::Error),
    #[error(
        "message body is JSON but neither an S3 event notification (`Records`), an S3 event from EventBridge (`\"source\": \"aws.s3\"`) nor an `s3:TestEvent`"
    )]
    Unrecognised,
    #[error("message has no body")]
    NoBody,
}

#[derive(Deserialize)]
struct RawNotification {
    #[serde(rename = "Records")]
    records: Option<Vec<RawRecord>>,
    #[serde(rename = "Event")]
    event: Option<String>,
    #[serde(rename = "Bucket")]
    bucket: Option<String>,
    /// EventBridge's envelope: `aws.s3`, `Object Created`, the event's time and its detail.
    source: Option<String>,
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    time: Option<String>,
    /// Read as an S3 event's detail only when `source` is `aws.s3`.
    detail: Option<serde_json::Value>,
}

/// The `detail` of an S3 event from EventBridge.
#[derive(Deserialize)]
struct RawDetail {
    bucket: RawBucket,
    object: RawObject,
    /// `PutObject`, `CompleteMultipartUpload`, `DeleteObject`, ...
    #[serde(default)]
    reason: Option<String>,
}

/// The notification event name (`ObjectCreated:Put`, ...) of an EventBridge S3 event.
fn event_name(detail_type: &str, reason: Option<&str>) -> String {
    let family = match detail_type {
        "Object Created" => "ObjectCreated",
        "Object Deleted" => "ObjectRemoved",
        other => return other.to_string(),
    };
    let kind = match reason {
        Some("PutObject") => "Put",
        Some("PostObject") => "Post",
        Some("CopyObject") => "Copy",
        Some("CompleteMultipartUpload") => "CompleteMultipartUpload",
        Some("DeleteObject") => "Delete",
        _ => "*",
    };
    format!("{family}:{kind}")
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRecord {
    event_name: String,
    #[serde(default)]
    event_time: Option<String>,
    s3: RawS3,
}

#[derive(Deserialize)]
struct RawS3 {
    bucket: RawBucket,
    object: RawObject,
}

#[derive(Deserialize)]
struct RawBucket {
    name: String,
}

#[derive(Deserialize)]
struct RawObject {
    key: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    sequencer: Option<String>,
}

/// Parses the body of one SQS message sent by an S3 notification (AWS or moto form).
pub fn parse_notification(body: &str) -> Result<Notification, EventError> {
    let raw: RawNotification = serde_json::from_str(body).map_err(EventError::NotJson)?;
    if let Some(records) = raw.records {
        let objects = records
            .into_iter()
            .map(|r| ObjectEvent {
                event_name: r.event_name,
                event_time: r.event_time,
                bucket: r.s3.bucket.name,
                key: decode_event_key(&r.s3.object.key),
                raw_key: r.s3.object.key,
                size: r.s3.object.size,
                sequencer: r.s3.object.sequencer,
            })
            .collect();
        return Ok(Notification::Objects(objects));
    }
    let s3_detail = match (raw.source.as_deref(), raw.detail) {
        (Some("aws.s3"), Some(detail)) => serde_json::from_value::<RawDetail>(detail).ok(),
        _ => None,
    };
    if let (Some(detail_type), Some(d)) = (raw.detail_type, s3_detail) {
        // EventBridge carries the key as written: nothing to decode.
        return Ok(Notification::Objects(vec![ObjectEvent {
            event_name: event_name(&detail_type, d.reason.as_deref()),
            event_time: raw.time,
            bucket: d.bucket.name,
            key: d.object.key.clone(),
            raw_key: d.object.key,
            size: d.object.size,
            sequencer: d.object.sequencer,
        }]));
    }
    match raw.event.as_deref() {
        Some("s3:TestEvent") => Ok(Notification::Test { bucket: raw.bucket }),
        _ => Err(EventError::Unrecognised),
    }
}

/// Why an object event is not for this stage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    #[error("event `{0}` is not an object creation")]
    NotCreated(String),
    #[error("bucket `{actual}` is not the trigger bucket `{expected}`")]
    OtherBucket { expected: String, actual: String },
    #[error("key does not match the trigger pattern `{0}`")]
    KeyMismatch(String),
    /// A canary object of `pipewright probe` ([`crate::is_canary`]): it proved the wiring by arriving.
    #[error("canary object of `pipewright probe`: nothing to do")]
    Canary,
}

/// Whether an object event is one the stage must process: an object creation in the trigger
/// bucket whose decoded key matches the whole trigger pattern and is not a probe's canary.
pub fn check_trigger(input: &Input, object: &ObjectEvent) -> Result<(), SkipReason> {
    let created = object.event_name.strip_prefix("s3:").unwrap_or(&object.event_name);
    if !created.starts_with("ObjectCreated:") {
        return Err(SkipReason::NotCreated(object.event_name.clone()));
    }
    if object.bucket != input.bucket {
        return Err(SkipReason::OtherBucket { expected: input.bucket.clone(), actual: object.bucket.clone() });
    }
    if !glob_match(&input.pattern, &object.key) {
        return Err(SkipReason::KeyMismatch(input.pattern.clone()));
    }
    if crate::is_canary(&object.key) {
        return Err(SkipReason::Canary);
    }
    Ok(())
}

/// The whole batch must be retried: a message failed and cannot be reported individually.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("message at position {index} failed and has no message id to report: {error}")]
    Unidentified { index: usize, error: String },
}

/// Why one SQS message failed.
#[derive(Debug, thiserror::Error)]
pub enum MessageError<E: StdError + 'static> {
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("processing s3://{bucket}/{key}")]
    Object {
        bucket: String,
        key: String,
        #[source]
        source: E,
    },
    #[error("s3://{bucket}/{key} is not read")]
    TooLarge {
        bucket: String,
        key: String,
        #[source]
        source: TooLarge,
    },
}

/// The object is above `limit` by the size its event declares: it must not be read.
fn oversized(object: &ObjectEvent, limit: ObjectLimit) -> Option<TooLarge> {
    object.size.and_then(|size| limit.check(size).err())
}

/// Runs `handle` on every message of the batch, one after the other, and reports the messages that
/// failed in `batch_item_failures`, so that SQS retries exactly those (and moves them to the DLQ
/// after maxReceiveCount). No error is swallowed: each failure is logged and reported. A failed
/// message without a message id cannot be reported alone: the whole batch then fails.
pub async fn process_batch<F, Fut, E>(
    event: &SqsEvent,
    log: &Logger,
    mut handle: F,
) -> Result<SqsBatchResponse, BatchError>
where
    F: FnMut(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: StdError + 'static,
{
    let mut response = SqsBatchResponse::default();
    let started = Instant::now();
    let mut failed = 0u64;
    for (index, message) in event.records.iter().enumerate() {
        let id = message.message_id.clone();
        if let Err(error) = handle(message.clone()).await {
            failed += 1;
            let text = error_chain(&error);
            log.error("message failed").message_id(id.as_deref().unwrap_or("")).error(&error).emit();
            match id {
                Some(id) => response.add_failure(id),
                None => return Err(BatchError::Unidentified { index, error: text }),
            }
        }
    }
    log.info("batch done")
        .count("messages", event.records.len() as u64)
        .count("failed", failed)
        .duration(started.elapsed())
        .metric(crate::log::FAILED_RECORDS, failed)
        .emit();
    Ok(response)
}

/// [`process_batch`] for messages carrying S3 event notifications: test events succeed, objects
/// that are not for this stage ([`check_trigger`]) are skipped with a log line, and `handle` runs
/// on every other object. A message fails if its body is not an S3 notification, if one of its
/// objects is above `limit` by the size its event declares (`handle` does not run on that object:
/// [`MessageError::TooLarge`]) or if `handle` fails on any of its objects (the others still run;
/// handlers must be idempotent).
pub async fn process_s3_batch<F, Fut, E>(
    event: &SqsEvent,
    input: &Input,
    limit: ObjectLimit,
    log: &Logger,
    mut handle: F,
) -> Result<SqsBatchResponse, BatchError>
where
    F: FnMut(ObjectEvent) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: StdError + 'static,
{
    // The closure below is FnMut over a captured `&mut handle`; messages run one at a time.
    let handle = &mut handle;
    process_batch(event, log, |message: SqsMessage| {
        let id = message.message_id.unwrap_or_default();
        let parsed = message.body.as_deref().ok_or(EventError::NoBody).and_then(parse_notification);
        let mut futures = Vec::new();
        let mut result: Result<(), MessageError<E>> = Ok(());
        match parsed {
            Err(e) => result = Err(MessageError::Event(e)),
            Ok(Notification::Test { bucket }) => {
                log.info("s3:TestEvent ignored").message_id(&id).bucket(bucket.as_deref().unwrap_or("")).emit();
            }
            Ok(Notification::Objects(objects)) => {
                for object in objects {
                    match check_trigger(input, &object) {
                        Ok(()) => {
                            let (bucket, key) = (object.bucket.clone(), object.key.clone());
                            match oversized(&object, limit) {
                                None => futures.push((bucket, key, handle(object))),
                                Some(source) => {
                                    let error = MessageError::TooLarge { bucket, key, source };
                                    if result.is_ok() {
                                        result = Err(error);
                                    } else {
                                        log.error("object failed").message_id(&id).error(&error).emit();
                                    }
                                }
                            }
                        }
                        Err(reason) => {
                            log.warn("object skipped")
                                .message_id(&id)
                                .bucket(&object.bucket)
                                .key(&object.key)
                                .field("reason", reason.to_string())
                                .emit();
                        }
                    }
                }
            }
        }
        async move {
            // The message's other objects run even when one was refused.
            let mut first_error = result.err();
            for (bucket, key, future) in futures {
                if let Err(source) = future.await {
                    let error = MessageError::Object { bucket, key, source };
                    if first_error.is_none() {
                        first_error = Some(error);
                    } else {
                        log.error("object failed").error(&error).emit();
                    }
                }
            }
            first_error.map_or(Ok(()), Err)
        }
    })
    .await
}

/// Why a group of a coalesced batch failed.
#[derive(Debug, thiserror::Error)]
#[error("processing the {group} group ({objects} object(s), first s3://{bucket}/{key})")]
pub struct GroupError<E: StdError + 'static> {
    pub group: String,
    pub objects: usize,
    pub bucket: String,
    pub key: String,
    #[source]
    pub source: E,
}

/// [`process_s3_batch`] for stages that work on groups rather than objects: the objects of all
/// messages of the batch are grouped by `group_of` (for gold: the date of the key), and `handle` runs
/// once per group, in key order, with the group's objects. Objects for which `group_of` gives `None`
/// are skipped with a `WARN` line, like objects that are not for the stage ([`check_trigger`]).
///
/// A group that fails fails every message that contributed an object to it (each reported once in
/// `batch_item_failures`); the other groups still run and their messages succeed unless they also
/// contributed to a failed group. Bodies that are not S3 notifications fail their message, and so
/// does an object above `limit` by the size its event declares, which joins no group (the groups of
/// the message's other objects still run). A failed message without a message id fails the whole
/// batch ([`BatchError::Unidentified`]).
pub async fn process_s3_batch_coalesced<K, G, F, Fut, E>(
    event: &SqsEvent,
    input: &Input,
    limit: ObjectLimit,
    log: &Logger,
    group_of: G,
    mut handle: F,
) -> Result<SqsBatchResponse, BatchError>
where
    K: Ord + Clone + std::fmt::Display,
    G: Fn(&ObjectEvent) -> Option<K>,
    F: FnMut(K, Vec<ObjectEvent>) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: StdError + 'static,
{
    let started = Instant::now();
    let (mut failed, groups) = group_messages::<K, G, E>(event, input, limit, log, &group_of);
    let group_count = groups.len() as u64;
    let mut failed_groups = 0u64;
    for (group, (objects, messages)) in groups {
        let (objects_len, bucket, key) = match objects.first() {
            Some(first) => (objects.len(), first.bucket.clone(), first.key.clone()),
            None => continue,
        };
        if let Err(source) = handle(group.clone(), objects).await {
            failed_groups += 1;
            let error = GroupError { group: group.to_string(), objects: objects_len, bucket, key, source };
            let text = error_chain(&error);
            for index in messages {
                let id = event.records.get(index).and_then(|m| m.message_id.as_deref()).unwrap_or("");
                log.error("message failed").message_id(id).field("group", group.to_string()).error(&error).emit();
                failed.entry(index).or_insert_with(|| text.clone());
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    for (index, text) in &failed {
        match event.records.get(*index).and_then(|m| m.message_id.clone()) {
            Some(id) => response.add_failure(id),
            None => return Err(BatchError::Unidentified { index: *index, error: text.clone() }),
        }
    }
    log.info("batch done")
        .count("messages", event.records.len() as u64)
        .count("groups", group_count)
        .count("failed_groups", failed_groups)
        .count("failed", failed.len() as u64)
        .duration(started.elapsed())
        .metric(crate::log::FAILED_RECORDS, failed.len() as u64)
        .emit();
    Ok(response)
}

/// Group -> (objects, positions of the messages that delivered them).
type Groups<K> = std::collections::BTreeMap<K, (Vec<ObjectEvent>, std::collections::BTreeSet<usize>)>;

/// Message position -> error text of its first failure, and the groups: the messages of a batch
/// parsed, checked and grouped by `group_of`.
fn group_messages<K, G, E>(
    event: &SqsEvent,
    input: &Input,
    limit: ObjectLimit,
    log: &Logger,
    group_of: &G,
) -> (std::collections::BTreeMap<usize, String>, Groups<K>)
where
    K: Ord + Clone + std::fmt::Display,
    G: Fn(&ObjectEvent) -> Option<K>,
    E: StdError + 'static,
{
    use std::collections::BTreeMap;

    // Message position -> error text of its first failure.
    let mut failed: BTreeMap<usize, String> = BTreeMap::new();
    // Group -> (objects, positions of the messages that delivered them).
    let mut groups: Groups<K> = BTreeMap::new();
    for (index, message) in event.records.iter().enumerate() {
        let id = message.message_id.as_deref().unwrap_or("");
        let parsed = message.body.as_deref().ok_or(EventError::NoBody).and_then(parse_notification);
        match parsed {
            Err(error) => {
                log.error("message failed").message_id(id).error(&error).emit();
                failed.insert(index, error_chain(&error));
            }
            Ok(Notification::Test { bucket }) => {
                log.info("s3:TestEvent ignored").message_id(id).bucket(bucket.as_deref().unwrap_or("")).emit();
            }
            Ok(Notification::Objects(objects)) => {
                for object in objects {
                    let skip = |reason: String| {
                        log.warn("object skipped")
                            .message_id(id)
                            .bucket(&object.bucket)
                            .key(&object.key)
                            .field("reason", reason)
                            .emit();
                    };
                    if let Err(reason) = check_trigger(input, &object) {
                        skip(reason.to_string());
                        continue;
                    }
                    if let Some(source) = oversized(&object, limit) {
                        let error: MessageError<E> =
                            MessageError::TooLarge { bucket: object.bucket.clone(), key: object.key.clone(), source };
                        log.error("message failed").message_id(id).error(&error).emit();
                        failed.entry(index).or_insert_with(|| error_chain(&error));
                        continue;
                    }
                    match group_of(&object) {
                        Some(group) => {
                            let entry = groups.entry(group).or_default();
                            entry.0.push(object);
                            entry.1.insert(index);
                        }
                        None => skip("key does not name a group (no input key template matches it)".into()),
                    }
                }
            }
        }
    }
    (failed, groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Captured from moto 5.2.1 (`put_object` of `raw/box_scores/date=2024-01-15/data.json`).
    const MOTO_BODY: &str = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-11-28T17:07:54.285007", "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "configurationId": "yJDk7X9YbfwauP29N7tlzJP1IAc7XPHiy5MP1cO0ztojfa5UFp", "bucket": {"name": "hoopstat-haus-bronze", "arn": "arn:aws:s3:::hoopstat-haus-bronze"}, "object": {"key": "raw%2Fbox_scores%2Fdate%3D2024-01-15%2Fdata.json", "size": 2, "eTag": "99914b932bd37a50b983c5e7c90ae93b"}}}]}"#;
    /// Captured from moto 5.2.1 (`a b+c.json`).
    const MOTO_SPECIAL: &str = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-11-28T17:07:54.293617", "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "configurationId": "x", "bucket": {"name": "hoopstat-haus-bronze", "arn": "arn:aws:s3:::hoopstat-haus-bronze"}, "object": {"key": "raw%2Fbox_scores%2Fdate%3D2024-01-15%2Fa+b%2Bc.json", "size": 2, "eTag": "99914b932bd37a50b983c5e7c90ae93b"}}}]}"#;
    const MOTO_TEST: &str = r#"{"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-28T17:07:54.277004", "Bucket": "hoopstat-haus-bronze"}"#;

    /// The form AWS documents (event message structure, version 2.1).
    fn aws_body(key: &str) -> String {
        format!(
            r#"{{"Records":[{{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
            "eventTime":"2024-01-16T09:30:01.123Z","eventName":"ObjectCreated:Put",
            "userIdentity":{{"principalId":"AWS:AIDAEXAMPLE"}},
            "requestParameters":{{"sourceIPAddress":"203.0.113.7"}},
            "responseElements":{{"x-amz-request-id":"C3D13FE58DE4C810","x-amz-id-2":"FMyUVURIY8"}},
            "s3":{{"s3SchemaVersion":"1.0","configurationId":"bronze-to-silver",
            "bucket":{{"name":"hoopstat-haus-bronze","ownerIdentity":{{"principalId":"A3NL1KOZZKExample"}},
            "arn":"arn:aws:s3:::hoopstat-haus-bronze"}},
            "object":{{"key":"{key}","size":1024,"eTag":"d41d8cd98f00b204e9800998ecf8427e",
            "versionId":"096fKKXTRTtl3on89fVO.nfljtsv6qko","sequencer":"0055AED6DCD90281E5"}}}}}}]}}"#
        )
    }

    fn input() -> Input {
        Input { bucket: "hoopstat-haus-bronze".into(), pattern: "raw/box_scores/date=*/data.json".into() }
    }

    /// An S3 event as EventBridge delivers it to an SQS target (AWS's form: `etag`, `reason`).
    fn eventbridge_body(key: &str, reason: &str) -> String {
        serde_json::json!({
            "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": "Object Created",
            "source": "aws.s3", "account": "111122223333", "time": "2024-01-16T09:30:01Z", "region": "us-east-1",
            "resources": ["arn:aws:s3:::hoopstat-haus-bronze"],
            "detail": { "version": "0", "bucket": { "name": "hoopstat-haus-bronze" },
                "object": { "key": key, "size": 1024, "etag": "d41d8cd98f00b204e9800998ecf8427e",
                    "sequencer": "0055AED6DCD90281E5" },
                "request-id": "N4N7GDK58NMKJ12R", "requester": "111122223333", "reason": reason }
        })
        .to_string()
    }

    #[test]
    fn parses_an_eventbridge_event_with_its_key_as_written() {
        // EventBridge does not encode keys: `=` and `+` are themselves, not `%3D` and a space.
        let body = eventbridge_body("raw/box_scores/date=2024-01-15/data.json", "PutObject");
        let Notification::Objects(objects) = parse_notification(&body).expect("parses") else { panic!("not objects") };
        assert_eq!(objects.len(), 1);
        let o = &objects[0];
        assert_eq!(
            (o.key.as_str(), o.event_name.as_str()),
            ("raw/box_scores/date=2024-01-15/data.json", "ObjectCreated:Put")
        );
        assert_eq!(
            (o.bucket.as_str(), o.size, o.event_time.as_deref()),
            ("hoopstat-haus-bronze", Some(1024), Some("2024-01-16T09:30:01Z"))
        );
        assert_eq!(check_trigger(&input(), o), Ok(()));
        let plus = eventbridge_body("raw/box_scores/date=a+b/data.json", "CompleteMultipartUpload");
        let Notification::Objects(objects) = parse_notification(&plus).expect("parses") else { panic!("not objects") };
        assert_eq!(
            (objects[0].key.as_str(), objects[0].event_name.as_str()),
            ("raw/box_scores/date=a+b/data.json", "ObjectCreated:CompleteMultipartUpload")
        );
    }

    #[test]
    fn an_eventbridge_event_of_moto_and_a_canary_through_eventbridge() {
        // moto's reason is the event family (`ObjectCreated`) and its etag key `eTag`.
        let mut moto: serde_json::Value =
            serde_json::from_str(&eventbridge_body("raw/box_scores/date=2024-01-15/data.json", "ObjectCreated"))
                .expect("json");
        moto["detail"]["object"]["eTag"] = moto["detail"]["object"]["etag"].take();
        let Notification::Objects(objects) = parse_notification(&moto.to_string()).expect("parses") else {
            panic!("not objects")
        };
        assert_eq!(objects[0].event_name, "ObjectCreated:*");
        let canary = eventbridge_body("raw/box_scores/date=pipewright-canary-1a2b/data.json", "PutObject");
        let Notification::Objects(objects) = parse_notification(&canary).expect("parses") else {
            panic!("not objects")
        };
        assert!(
            matches!(check_trigger(&input(), &objects[0]), Err(SkipReason::Canary)),
            "{:?}",
            check_trigger(&input(), &objects[0])
        );
        // Another service's event is not an S3 event.
        let other = serde_json::json!({ "source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {} });
        assert!(matches!(parse_notification(&other.to_string()), Err(EventError::Unrecognised)));
    }

    fn limit() -> ObjectLimit {
        ObjectLimit::default()
    }

    /// A notification of `keys`, each with its declared size.
    fn sized_body(objects: &[(&str, u64)]) -> String {
        let records: Vec<serde_json::Value> = objects
            .iter()
            .map(|(key, size)| {
                serde_json::json!({"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                    "eventTime": "2024-01-16T09:30:01.123Z",
                    "s3": {"bucket": {"name": "hoopstat-haus-bronze"}, "object": {"key": key, "size": size}}})
            })
            .collect();
        serde_json::json!({ "Records": records }).to_string()
    }

    fn message(id: Option<&str>, body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = id.map(str::to_string);
        m.body = Some(body.to_string());
        m
    }

    fn batch(messages: Vec<SqsMessage>) -> SqsEvent {
        let mut e = SqsEvent::default();
        e.records = messages;
        e
    }

    fn failures(r: &SqsBatchResponse) -> Vec<&str> {
        r.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
    }

    #[test]
    fn parses_moto_form() {
        let Notification::Objects(objects) = parse_notification(MOTO_BODY).expect("parses") else {
            panic!("not objects")
        };
        assert_eq!(objects.len(), 1);
        let o = &objects[0];
        assert_eq!(o.key, "raw/box_scores/date=2024-01-15/data.json");
        assert_eq!(o.raw_key, "raw%2Fbox_scores%2Fdate%3D2024-01-15%2Fdata.json");
        assert_eq!(o.bucket, "hoopstat-haus-bronze");
        assert_eq!(o.event_time.as_deref(), Some("2026-11-28T17:07:54.285007"));
        assert_eq!(o.size, Some(2));
        assert_eq!(check_trigger(&input(), o), Ok(()));
    }

    #[test]
    fn parses_aws_form_with_encoded_key() {
        let body = aws_body("raw/box_scores/date%3D2024-01-15/data.json");
        let Notification::Objects(objects) = parse_notification(&body).expect("parses") else { panic!("not objects") };
        assert_eq!(objects[0].key, "raw/box_scores/date=2024-01-15/data.json");
        assert_eq!(objects[0].sequencer.as_deref(), Some("0055AED6DCD90281E5"));
        assert_eq!(check_trigger(&input(), &objects[0]), Ok(()));
    }

    #[test]
    fn decodes_plus_and_encoded_plus() {
        let Notification::Objects(objects) = parse_notification(MOTO_SPECIAL).expect("parses") else {
            panic!("not objects")
        };
        assert_eq!(objects[0].key, "raw/box_scores/date=2024-01-15/a b+c.json");
        assert_eq!(check_trigger(&input(), &objects[0]), Err(SkipReason::KeyMismatch(input().pattern)));
    }

    #[tokio::test]
    async fn canaries_are_skipped_without_failing_the_record() {
        let event = batch(vec![
            message(Some("m1"), &aws_body("raw/box_scores/date%3Dpipewright-canary-1a2b/data.json")),
            message(Some("m2"), &aws_body("raw/box_scores/date%3D2024-01-15/data.json")),
        ]);
        let (log, captured) = Logger::capture("silver-processing");
        let seen = RefCell::new(Vec::new());
        let response = process_s3_batch(&event, &input(), limit(), &log, |object| {
            seen.borrow_mut().push(object.key.clone());
            async { Ok::<(), Boom>(()) }
        })
        .await
        .expect("ids present");
        assert!(response.batch_item_failures.is_empty());
        assert_eq!(seen.into_inner(), vec!["raw/box_scores/date=2024-01-15/data.json"]);
        let lines = captured.lines();
        let skipped: Vec<_> = lines.iter().filter(|l| l["message"] == "object skipped").collect();
        assert_eq!(skipped.len(), 1);
        assert!(skipped[0]["reason"].as_str().unwrap_or_default().contains("canary"), "{:?}", skipped[0]);
    }

    #[test]
    fn recognises_test_events_and_rejects_other_bodies() {
        assert_eq!(
            parse_notification(MOTO_TEST).expect("parses"),
            Notification::Test { bucket: Some("hoopstat-haus-bronze".into()) }
        );
        assert!(matches!(parse_notification("{\"hello\":1}"), Err(EventError::Unrecognised)));
        assert!(matches!(parse_notification("not json"), Err(EventError::NotJson(_))));
    }

    #[test]
    fn skips_removals_and_other_buckets() {
        let mut o = ObjectEvent {
            event_name: "ObjectRemoved:Delete".into(),
            event_time: None,
            bucket: "hoopstat-haus-bronze".into(),
            key: "raw/box_scores/date=2024-01-15/data.json".into(),
            raw_key: String::new(),
            size: None,
            sequencer: None,
        };
        assert!(matches!(check_trigger(&input(), &o), Err(SkipReason::NotCreated(_))));
        o.event_name = "ObjectCreated:CompleteMultipartUpload".into();
        assert_eq!(check_trigger(&input(), &o), Ok(()));
        o.bucket = "elsewhere".into();
        assert!(matches!(check_trigger(&input(), &o), Err(SkipReason::OtherBucket { .. })));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("boom on {0}")]
    struct Boom(String);

    #[tokio::test]
    async fn failing_record_is_reported_and_neighbours_are_not() {
        let event = batch(vec![
            message(Some("m1"), &aws_body("raw/box_scores/date%3D2024-01-14/data.json")),
            message(Some("m2"), &aws_body("raw/box_scores/date%3D2024-01-15/data.json")),
            message(Some("m3"), MOTO_BODY.replace("2024-01-15", "2024-01-16").as_str()),
            message(Some("m4"), MOTO_TEST),
            message(Some("m5"), &aws_body("raw/box_scores/date%3D2024-01-15/other.json")),
            message(Some("m6"), "garbage"),
        ]);
        let (log, captured) = Logger::capture("silver-processing");
        let seen = RefCell::new(Vec::new());
        let response = process_s3_batch(&event, &input(), limit(), &log, |object| {
            seen.borrow_mut().push(object.key.clone());
            async move { if object.key.contains("2024-01-15") { Err(Boom(object.key)) } else { Ok(()) } }
        })
        .await
        .expect("every message has an id");
        assert_eq!(failures(&response), vec!["m2", "m6"]);
        assert_eq!(
            seen.into_inner(),
            vec![
                "raw/box_scores/date=2024-01-14/data.json",
                "raw/box_scores/date=2024-01-15/data.json",
                "raw/box_scores/date=2024-01-16/data.json"
            ]
        );
        let lines = captured.lines();
        let skipped: Vec<_> = lines.iter().filter(|l| l["message"] == "object skipped").collect();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0]["key"], "raw/box_scores/date=2024-01-15/other.json");
        let failed: Vec<_> = lines.iter().filter(|l| l["message"] == "message failed").collect();
        assert_eq!(failed.len(), 2);
        assert_eq!(failed[0]["message_id"], "m2");
        let error = failed[0]["error"].as_str().unwrap_or_default();
        assert!(error.contains("s3://hoopstat-haus-bronze/raw/box_scores/date=2024-01-15/data.json"), "{error}");
        assert!(error.contains("boom on"), "{error}");
        let done = lines.iter().find(|l| l["message"] == "batch done").expect("summary line");
        assert_eq!(done["counts"]["messages"], 6);
        assert_eq!(done["counts"]["failed"], 2);
        assert_failed_records_metric(done, 2);
    }

    /// The batch's summary line is a CloudWatch Embedded Metric Format document publishing
    /// `FailedRecords` of the function.
    fn assert_failed_records_metric(line: &serde_json::Value, failed: u64) {
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "pipewright", "{line}");
        assert_eq!(directive["Dimensions"], serde_json::json!([["FunctionName"]]), "{line}");
        assert_eq!(directive["Metrics"], serde_json::json!([{ "Name": "FailedRecords", "Unit": "Count" }]), "{line}");
        assert!(line["_aws"]["Timestamp"].as_u64().is_some_and(|t| t > 1_700_000_000_000), "{line}");
        assert!(line["FunctionName"].is_string(), "{line}");
        assert_eq!(line["FailedRecords"], failed, "{line}");
    }

    #[tokio::test]
    async fn failure_without_message_id_fails_the_whole_batch() {
        let event = batch(vec![message(None, "garbage")]);
        let (log, _) = Logger::capture("s");
        let result = process_s3_batch(&event, &input(), limit(), &log, |_| async { Ok::<(), Boom>(()) }).await;
        assert!(matches!(result, Err(BatchError::Unidentified { index: 0, .. })));
    }

    #[tokio::test]
    async fn sqs_event_json_from_lambda_round_trips() {
        // The payload Lambda hands the function for an SQS event source mapping.
        let payload = serde_json::json!({"Records": [{
            "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
            "body": MOTO_BODY,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183"},
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:hoopstat-haus-silver-processing-queue",
            "awsRegion": "us-east-1"
        }]});
        let event: SqsEvent = serde_json::from_value(payload).expect("SqsEvent");
        let (log, _) = Logger::capture("s");
        let response = process_s3_batch(&event, &input(), limit(), &log, |o| async move {
            if o.key.ends_with("data.json") { Err(Boom(o.key)) } else { Ok(()) }
        })
        .await
        .expect("ids present");
        let json = serde_json::to_value(&response).expect("serialises");
        assert_eq!(json["batchItemFailures"][0]["itemIdentifier"], "059f36b4-87a3-44ab-83d2-661975830a7d");
    }

    fn date_of(o: &ObjectEvent) -> Option<String> {
        crate::key_field(&o.key, "date").map(str::to_string)
    }

    #[tokio::test]
    async fn coalesced_batch_runs_each_group_once_and_fails_its_messages() {
        let event = batch(vec![
            message(Some("m1"), &aws_body("raw/box_scores/date%3D2024-01-15/data.json")),
            message(Some("m2"), &aws_body("raw/box_scores/date%3D2024-01-14/data.json")),
            message(Some("m3"), MOTO_BODY),
            message(Some("m4"), MOTO_TEST),
            message(Some("m5"), "garbage"),
            message(Some("m6"), &aws_body("raw/box_scores/date%3D2024-01-16/data.json")),
        ]);
        let (log, captured) = Logger::capture("gold-analytics");
        let input = Input { bucket: "hoopstat-haus-bronze".into(), pattern: "raw/box_scores/*".into() };
        let seen = RefCell::new(Vec::new());
        let response = process_s3_batch_coalesced(&event, &input, limit(), &log, date_of, |date: String, objects| {
            seen.borrow_mut().push((date.clone(), objects.len()));
            async move { if date == "2024-01-15" { Err(Boom(date)) } else { Ok(()) } }
        })
        .await
        .expect("ids present");
        // Two records of 2024-01-15 (m1, m3) -> one call; three dates -> three calls, in order.
        assert_eq!(
            seen.into_inner(),
            vec![("2024-01-14".to_string(), 1), ("2024-01-15".to_string(), 2), ("2024-01-16".to_string(), 1)]
        );
        assert_eq!(failures(&response), vec!["m1", "m3", "m5"]);
        let lines = captured.lines();
        let done = lines.iter().find(|l| l["message"] == "batch done").expect("summary");
        assert_eq!(done["counts"]["groups"], 3);
        assert_eq!(done["counts"]["failed_groups"], 1);
        assert_eq!(done["counts"]["failed"], 3);
        assert_failed_records_metric(done, 3);
        let group_error = lines
            .iter()
            .find(|l| l["message_id"] == "m3")
            .and_then(|l| l["error"].as_str().map(str::to_string))
            .unwrap_or_default();
        assert!(group_error.contains("2024-01-15 group (2 object(s)"), "{group_error}");
        assert!(group_error.contains("boom on 2024-01-15"), "{group_error}");
    }

    #[tokio::test]
    async fn coalesced_batch_skips_keys_without_a_group() {
        let event = batch(vec![message(Some("m1"), &aws_body("raw/box_scores/latest/data.json"))]);
        let (log, captured) = Logger::capture("gold-analytics");
        let input = Input { bucket: "hoopstat-haus-bronze".into(), pattern: "raw/box_scores/*".into() };
        let response = process_s3_batch_coalesced(&event, &input, limit(), &log, date_of, |_: String, _| async {
            Err::<(), Boom>(Boom("must not run".into()))
        })
        .await
        .expect("ids present");
        assert!(response.batch_item_failures.is_empty());
        assert!(captured.lines().iter().any(|l| l["message"] == "object skipped"));
    }

    #[tokio::test]
    async fn an_oversized_object_fails_its_message_before_it_is_read_and_only_its_message() {
        let event = batch(vec![
            message(Some("big"), &sized_body(&[("raw/box_scores/date%3D2024-01-14/data.json", 101)])),
            message(
                Some("mixed"),
                &sized_body(&[
                    ("raw/box_scores/date%3D2024-01-15/data.json", 5_000_000_000),
                    ("raw/box_scores/date%3D2024-01-16/data.json", 100),
                ]),
            ),
            message(Some("small"), &sized_body(&[("raw/box_scores/date%3D2024-01-17/data.json", 100)])),
        ]);
        let (log, captured) = Logger::capture("silver-processing");
        let seen = RefCell::new(Vec::new());
        let response = process_s3_batch(&event, &input(), ObjectLimit::bytes(100), &log, |object| {
            seen.borrow_mut().push(object.key.clone());
            async { Ok::<(), Boom>(()) }
        })
        .await
        .expect("ids present");
        assert_eq!(failures(&response), vec!["big", "mixed"]);
        // The small objects ran, the message of a refused one included; the refused ones did not.
        assert_eq!(
            seen.into_inner(),
            vec!["raw/box_scores/date=2024-01-16/data.json", "raw/box_scores/date=2024-01-17/data.json"]
        );
        let lines = captured.lines();
        let failed: Vec<_> = lines.iter().filter(|l| l["message"] == "message failed").collect();
        let error = failed[0]["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("s3://hoopstat-haus-bronze/raw/box_scores/date=2024-01-14/data.json is not read"),
            "{error}"
        );
        assert!(error.contains("the object is 101 bytes, above the limit of 100 bytes"), "{error}");
        assert!(error.contains("`function.memory`"), "{error}");
        let done = lines.iter().find(|l| l["message"] == "batch done").expect("summary line");
        assert_failed_records_metric(done, 2);
    }

    #[tokio::test]
    async fn coalesced_batch_leaves_an_oversized_object_out_of_its_group() {
        let event = batch(vec![
            message(Some("big"), &sized_body(&[("raw/box_scores/date%3D2024-01-15/data.json", 4096)])),
            message(Some("same-date"), &sized_body(&[("raw/box_scores/date%3D2024-01-15/other.json", 10)])),
            message(Some("other-date"), &sized_body(&[("raw/box_scores/date%3D2024-01-16/data.json", 10)])),
        ]);
        let (log, _) = Logger::capture("gold-analytics");
        let input = Input { bucket: "hoopstat-haus-bronze".into(), pattern: "raw/box_scores/*".into() };
        let seen = RefCell::new(Vec::new());
        let response = process_s3_batch_coalesced(
            &event,
            &input,
            ObjectLimit::bytes(1024),
            &log,
            date_of,
            |date: String, objects| {
                seen.borrow_mut().push((date, objects.len()));
                async { Ok::<(), Boom>(()) }
            },
        )
        .await
        .expect("ids present");
        assert_eq!(failures(&response), vec!["big"]);
        assert_eq!(seen.into_inner(), vec![("2024-01-15".to_string(), 1), ("2024-01-16".to_string(), 1)]);
    }
}
