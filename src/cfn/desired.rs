//! The desired state of a pipeline's resources, typed and built from the pipeline model once: the
//! template renders it with intrinsic functions (CloudFormation resolves them), and `verify` compares
//! live resources with it in a known account ([`Target::Account`]), without a template in between.

use crate::spec::duration::Threshold;
use crate::spec::resolve::{AlarmKind, Bucket, Pipeline, Queue, Stage};
use crate::spec::span::Span;
use serde_json::{Value, json};

/// Names and ARNs of the account a stack lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl Place {
    pub fn queue_arn(&self, name: &str) -> String {
        format!("arn:{}:sqs:{}:{}:{name}", self.partition, self.region, self.account)
    }
    pub fn function_arn(&self, name: &str) -> String {
        format!("arn:{}:lambda:{}:{}:function:{name}", self.partition, self.region, self.account)
    }
    pub fn topic_arn(&self, name: &str) -> String {
        format!("arn:{}:sns:{}:{}:{name}", self.partition, self.region, self.account)
    }
    pub fn bucket_arn(&self, name: &str) -> String {
        format!("arn:{}:s3:::{name}", self.partition)
    }
    pub fn rule_arn(&self, name: &str) -> String {
        format!("arn:{}:events:{}:{}:rule/{name}", self.partition, self.region, self.account)
    }
    pub fn log_group_arn(&self, name: &str) -> String {
        format!("arn:{}:logs:{}:{}:log-group:{name}:*", self.partition, self.region, self.account)
    }
    /// Resolves `${AWS::Partition}`, `${AWS::Region}`, `${AWS::AccountId}` in a `Fn::Sub` string.
    pub fn sub(&self, text: &str) -> String {
        text.replace("${AWS::Partition}", &self.partition)
            .replace("${AWS::Region}", &self.region)
            .replace("${AWS::AccountId}", &self.account)
    }
}

/// Where a document's references resolve: in the template (intrinsic functions), or in a known account
/// (the values themselves).
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Template,
    Account(&'a Place),
}

impl Target<'_> {
    /// A text with pseudo parameters (`${AWS::Region}`, ...): a `Fn::Sub`, or the text resolved.
    pub fn text(self, text: &str) -> Value {
        match self {
            Target::Template => super::sub(text),
            Target::Account(place) => json!(place.sub(text)),
        }
    }

    /// The account id.
    pub fn account(self) -> Value {
        match self {
            Target::Template => super::r#ref("AWS::AccountId"),
            Target::Account(place) => json!(place.account),
        }
    }

    /// Attribute `attr` of resource `id`; in an account, `value` of it.
    pub fn att(self, id: &str, attr: &str, value: impl FnOnce(&Place) -> String) -> Value {
        match self {
            Target::Template => super::get_att(id, attr),
            Target::Account(place) => json!(value(place)),
        }
    }
}

/// A queue's settings. The DLQ's redrive allow policy names its source queue; the source queue's
/// redrive policy names its DLQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    pub name: String,
    pub visibility: u64,
    pub retention: u64,
    pub receive_wait: u64,
    pub delay: u64,
    pub max_message_size: u64,
    /// The DLQ (by name) and how many receives send a message there.
    pub redrive: Option<(String, u64)>,
    /// Which queues may use this one as their DLQ, when it is a DLQ.
    pub redrive_allow: Option<RedriveAllow>,
}

/// Which queues may send their failed messages to a dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedriveAllow {
    /// Only this queue (by name): a triggered stage's DLQ.
    ByQueue(String),
    /// None: a scheduled stage's DLQ, which Lambda and the schedule send to, never a queue.
    DenyAll,
}

impl RedriveAllow {
    /// The `RedriveAllowPolicy` document, the source queue's ARN from `arn`.
    pub fn policy(&self, arn: impl FnOnce(&str) -> Value) -> Value {
        match self {
            RedriveAllow::ByQueue(source) => {
                json!({ "redrivePermission": "byQueue", "sourceQueueArns": [arn(source)] })
            }
            RedriveAllow::DenyAll => json!({ "redrivePermission": "denyAll" }),
        }
    }
}

/// How long a scheduled stage's DLQ keeps a failed run, in seconds: 14 days, SQS's longest.
pub const FAILED_RUNS_RETENTION: u64 = 14 * 86_400;

/// The largest message SQS accepts, in bytes.
const MAX_MESSAGE_SIZE: u64 = 262_144;

impl QueueSettings {
    /// A stage's queue.
    pub fn queue(q: &Queue) -> Self {
        QueueSettings {
            name: q.name.value.clone(),
            visibility: q.visibility_timeout.secs(),
            retention: q.retention.secs(),
            receive_wait: q.receive_wait.secs(),
            delay: 0,
            max_message_size: MAX_MESSAGE_SIZE,
            redrive: Some((q.dlq_name.value.clone(), u64::from(q.max_receive_count.value))),
            redrive_allow: None,
        }
    }

    /// A stage's dead-letter queue.
    pub fn dlq(q: &Queue) -> Self {
        QueueSettings {
            name: q.dlq_name.value.clone(),
            visibility: q.visibility_timeout.secs(),
            retention: q.dlq_retention.secs(),
            receive_wait: q.receive_wait.secs(),
            delay: 0,
            max_message_size: MAX_MESSAGE_SIZE,
            redrive: None,
            redrive_allow: Some(RedriveAllow::ByQueue(q.name.value.clone())),
        }
    }

    /// A scheduled Lambda stage's dead-letter queue (`name`): the payloads of its failed runs, kept for
    /// [`FAILED_RUNS_RETENTION`] for `pipewright dlq redrive`.
    pub fn failed_runs(name: &str) -> Self {
        QueueSettings {
            name: name.to_string(),
            visibility: 30,
            retention: FAILED_RUNS_RETENTION,
            receive_wait: 20,
            delay: 0,
            max_message_size: MAX_MESSAGE_SIZE,
            redrive: None,
            redrive_allow: Some(RedriveAllow::DenyAll),
        }
    }
}

/// The event source mapping from a stage's queue to its function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingSettings {
    /// The queue (by name) it reads.
    pub queue: String,
    pub batch_size: u32,
    /// `MaximumBatchingWindowInSeconds`.
    pub window: u64,
    /// `ScalingConfig.MaximumConcurrency`.
    pub max_concurrency: u32,
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`: the function answers with the batch's failed
    /// records, and only those are retried.
    pub report_batch_item_failures: bool,
}

/// A stage's event source mapping: every stage with a queue and a function has one.
pub fn mapping(s: &Stage) -> Option<MappingSettings> {
    let (q, _) = (s.queue.as_ref()?, s.function.as_ref()?);
    Some(MappingSettings {
        queue: q.name.value.clone(),
        batch_size: q.batch_size.value,
        window: q.batching_window.secs(),
        max_concurrency: q.max_concurrency.value,
        report_batch_item_failures: true,
    })
}

/// One S3 event notification of a bucket to a stage's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub stage: String,
    pub queue: String,
    pub event: String,
    pub prefix: String,
    pub suffix: String,
}

/// The S3 event notifications of the stages bucket `b` triggers (those not delivered through
/// EventBridge), in stage and event order.
pub fn notifications(p: &Pipeline, b: &Bucket) -> Vec<Notification> {
    let mut out = Vec::new();
    for s in &p.stages {
        let (Some(trigger), Some(q)) = (&s.trigger, &s.queue) else { continue };
        if trigger.bucket.value != b.key.value || trigger.through_eventbridge() {
            continue;
        }
        let (prefix, suffix) = match (&trigger.raw_prefix, &trigger.raw_suffix) {
            (None, None) => (trigger.pattern.filter_prefix(), trigger.pattern.filter_suffix()),
            (rp, rs) => (
                rp.as_ref().map(|v| v.value.clone()).unwrap_or_default(),
                rs.as_ref().map(|v| v.value.clone()).unwrap_or_default(),
            ),
        };
        for ev in &trigger.events {
            out.push(Notification {
                stage: s.name.value.clone(),
                queue: q.name.value.clone(),
                event: ev.value.clone(),
                prefix: prefix.clone(),
                suffix: suffix.clone(),
            });
        }
    }
    out
}

/// What an alarm's metric is measured on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    /// `QueueName` of a queue (by name).
    Queue(String),
    /// A function (by name), under the metric's dimension name.
    Function(&'static str, String),
}

impl Dimension {
    pub fn name(&self) -> &'static str {
        match self {
            Dimension::Queue(_) => "QueueName",
            Dimension::Function(name, _) => name,
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Dimension::Queue(v) | Dimension::Function(_, v) => v,
        }
    }
}

/// One alarm of a stage.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSettings {
    pub name: String,
    pub kind: AlarmKind,
    pub namespace: &'static str,
    pub metric: &'static str,
    pub statistic: &'static str,
    pub period: u32,
    pub evaluation_periods: u32,
    pub datapoints: u32,
    pub threshold: u64,
    pub comparison: &'static str,
    pub treat_missing: &'static str,
    pub dimension: Dimension,
    /// What breaching means, in words.
    pub description: String,
    /// The spec node that set it: its threshold, else the stage.
    pub span: Span,
}

/// The alarms of a stage's function, its queue and its DLQ (those not `off`).
pub fn alarms(s: &Stage) -> Vec<AlarmSettings> {
    let Some(f) = &s.function else { return Vec::new() };
    let mut out = Vec::new();
    for alarm in &s.alarms {
        let Threshold::Value(v) = alarm.threshold.value else { continue };
        let (namespace, metric, statistic) = alarm.kind.metric();
        let queue = || s.queue.as_ref().map(|q| q.name.value.clone()).unwrap_or_default();
        let function = |dimension| Dimension::Function(dimension, f.name.value.clone());
        let (dimension, threshold, what) = match alarm.kind {
            AlarmKind::QueueDepth => {
                (Dimension::Queue(queue()), v, format!("more than {v} messages wait in the queue"))
            }
            AlarmKind::QueueAge => (Dimension::Queue(queue()), v, format!("the oldest message is older than {v}s")),
            AlarmKind::DlqDepth => (
                Dimension::Queue(s.dlq_name().map(|d| d.value.clone()).unwrap_or_default()),
                v,
                format!("more than {v} messages are in the dead-letter queue"),
            ),
            AlarmKind::Duration => (
                function("FunctionName"),
                // Milliseconds; saturating, as a threshold that large is at or above the timeout (PW401).
                v.saturating_mul(1000),
                format!("an invocation ran longer than {v}s of the {}s timeout", f.timeout.secs()),
            ),
            AlarmKind::Errors => (function("FunctionName"), v, format!("more than {v} invocation errors in 5 minutes")),
            AlarmKind::FailedRecords => (
                // The dimension the stage library's metric carries (`AWS_LAMBDA_FUNCTION_NAME`).
                function(pipewright_stage::FUNCTION_DIMENSION),
                v,
                format!(
                    "more than {v} records failed in a minute (the batches' partial failures, which Errors does not count)"
                ),
            ),
            AlarmKind::Throttles => (function("FunctionName"), v, format!("more than {v} throttles in 5 minutes")),
        };
        out.push(AlarmSettings {
            name: alarm.name.clone(),
            kind: alarm.kind,
            namespace,
            metric,
            statistic,
            period: alarm.kind.period(),
            evaluation_periods: 1,
            datapoints: 1,
            threshold,
            comparison: "GreaterThanThreshold",
            treat_missing: "notBreaching",
            dimension,
            description: format!("{}: {what} (pipewright)", s.name.value),
            span: alarm.threshold.span.or(s.name.span),
        });
    }
    out
}

/// Whether bucket `b` sends its events to EventBridge: a trigger on it is delivered that way.
pub fn sends_to_eventbridge(p: &Pipeline, b: &Bucket) -> bool {
    p.stages.iter().filter_map(|s| s.trigger.as_ref()).any(|t| t.bucket.value == b.key.value && t.through_eventbridge())
}

/// What an S3 event type is on EventBridge: its `detail-type` and the detail fields that narrow it.
/// `None` for the types S3 does not send to EventBridge (replication, reduced redundancy).
pub fn eventbridge_event(event: &str) -> Option<(&'static str, &'static [(&'static str, &'static str)])> {
    Some(match event {
        "s3:ObjectCreated:*" => ("Object Created", &[]),
        "s3:ObjectCreated:Put" => ("Object Created", &[("reason", "PutObject")]),
        "s3:ObjectCreated:Post" => ("Object Created", &[("reason", "PostObject")]),
        "s3:ObjectCreated:Copy" => ("Object Created", &[("reason", "CopyObject")]),
        "s3:ObjectCreated:CompleteMultipartUpload" => ("Object Created", &[("reason", "CompleteMultipartUpload")]),
        "s3:ObjectRemoved:*" => ("Object Deleted", &[("reason", "DeleteObject")]),
        "s3:ObjectRemoved:Delete" => {
            ("Object Deleted", &[("reason", "DeleteObject"), ("deletion-type", "Permanently Deleted")])
        }
        "s3:ObjectRemoved:DeleteMarkerCreated" => {
            ("Object Deleted", &[("reason", "DeleteObject"), ("deletion-type", "Delete Marker Created")])
        }
        "s3:LifecycleExpiration:*" => ("Object Deleted", &[("reason", "Lifecycle Expiration")]),
        "s3:LifecycleExpiration:Delete" => {
            ("Object Deleted", &[("reason", "Lifecycle Expiration"), ("deletion-type", "Permanently Deleted")])
        }
        "s3:LifecycleExpiration:DeleteMarkerCreated" => {
            ("Object Deleted", &[("reason", "Lifecycle Expiration"), ("deletion-type", "Delete Marker Created")])
        }
        "s3:ObjectRestore:Post" => ("Object Restore Initiated", &[]),
        "s3:ObjectRestore:Completed" => ("Object Restore Completed", &[]),
        "s3:ObjectRestore:Delete" => ("Object Restore Expired", &[]),
        "s3:ObjectTagging:Put" => ("Object Tags Added", &[]),
        "s3:ObjectTagging:Delete" => ("Object Tags Deleted", &[]),
        "s3:ObjectAcl:Put" => ("Object ACL Updated", &[]),
        "s3:LifecycleTransition" => ("Object Storage Class Changed", &[]),
        "s3:IntelligentTiering" => ("Object Access Tier Changed", &[]),
        _ => return None,
    })
}

/// An EventBridge rule of a trigger: one per event type, on the default bus, targeting the stage's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRule {
    pub stage: String,
    /// Its name: the queue's, numbered from the second event type on.
    pub name: String,
    /// Its index among the trigger's rules (0 for the first).
    pub index: usize,
    /// The stage's queue and DLQ (by name): the target, and where undeliverable events go.
    pub queue: String,
    pub dlq: String,
    /// The bucket's real name.
    pub bucket: String,
    pub detail_type: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
    /// The key pattern as written (`*` any characters).
    pub pattern: String,
}

/// The rule names EventBridge accepts: 1 to 64 of `.`, `-`, `_`, letters and digits.
pub const RULE_NAME_MAX: usize = 64;

/// The id of a rule's one target, the stage's queue.
pub const RULE_TARGET_ID: &str = "stage-queue";
/// How long EventBridge retries an event it cannot deliver to the queue (EventBridge's maximum: 185
/// attempts, 24 hours) before it sends it to the stage's DLQ.
pub const RULE_RETRY_ATTEMPTS: i32 = 185;
pub const RULE_MAX_EVENT_AGE_SECONDS: i32 = 86_400;

impl EventRule {
    /// The event pattern: S3 events of this type, from this bucket, whose key matches the whole pattern.
    pub fn event_pattern(&self) -> Value {
        let key = if self.pattern.contains('*') {
            json!([{ "wildcard": self.pattern.replace('\\', "\\\\") }])
        } else {
            json!([self.pattern])
        };
        let mut detail = json!({ "bucket": { "name": [self.bucket] }, "object": { "key": key } });
        for (field, value) in self.fields {
            detail[*field] = json!([value]);
        }
        json!({ "source": ["aws.s3"], "detail-type": [self.detail_type], "detail": detail })
    }
}

/// The EventBridge rules of a stage's trigger (none when it is delivered by S3 notifications).
pub fn rules(p: &Pipeline, s: &Stage) -> Vec<EventRule> {
    let (Some(t), Some(q)) = (&s.trigger, &s.queue) else { return Vec::new() };
    if !t.through_eventbridge() {
        return Vec::new();
    }
    t.events
        .iter()
        .filter_map(|ev| eventbridge_event(&ev.value))
        .enumerate()
        .map(|(index, (detail_type, fields))| EventRule {
            stage: s.name.value.clone(),
            name: if index == 0 { q.name.value.clone() } else { format!("{}-{}", q.name.value, index + 1) },
            index,
            queue: q.name.value.clone(),
            dlq: q.dlq_name.value.clone(),
            bucket: p.bucket_name(&t.bucket),
            detail_type,
            fields,
            pattern: t.pattern.pattern.clone(),
        })
        .collect()
}
