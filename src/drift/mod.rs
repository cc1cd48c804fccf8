//! Desired state (from the spec, what `generate` emits) vs live state: pure comparison, aspect by
//! aspect. Every difference is a finding with a stable code, expected vs actual (a unified diff for
//! documents), the spec line that declared it, and a hint from the original runbook.

pub mod policy;
pub mod report;

use crate::aws::live::{
    LiveAlarm, LiveFunction, LiveMapping, LiveRole, LiveSubscription, QueueNotification, TablesState,
};
use crate::spec::Span;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One aspect of one resource, and what verifying it found.
#[derive(Debug, Clone, Serialize)]
pub struct Aspect {
    /// The resource's real name.
    pub resource: String,
    /// `AWS::SQS::Queue`, ...
    pub resource_type: &'static str,
    /// `notifications`, `attributes`, `policy`, ...
    pub aspect: &'static str,
    /// The spec node that declared it.
    pub span: Span,
    pub findings: Vec<Finding>,
    /// Why it could not be verified (AWS error code and message), when it could not.
    pub unverifiable: Option<String>,
}

impl Aspect {
    pub fn new(resource: impl Into<String>, resource_type: &'static str, aspect: &'static str, span: Span) -> Self {
        Aspect { resource: resource.into(), resource_type, aspect, span, findings: Vec::new(), unverifiable: None }
    }

    pub fn status(&self) -> &'static str {
        if self.unverifiable.is_some() {
            "unverifiable"
        } else if self.findings.is_empty() {
            "clean"
        } else {
            "drift"
        }
    }

    fn drift(
        &mut self,
        code: &'static str,
        message: impl Into<String>,
        expected: impl ToString,
        actual: impl ToString,
    ) {
        self.findings.push(Finding {
            code,
            message: message.into(),
            expected: expected.to_string(),
            actual: actual.to_string(),
            diff: None,
            hint: hint(code),
        });
    }

    fn drift_doc(&mut self, code: &'static str, message: impl Into<String>, expected: &Value, actual: &Value) {
        // Keys in one order on both sides: the diff shows what differs, not how it was written.
        let e = serde_json::to_string_pretty(&sorted(expected)).unwrap_or_default() + "\n";
        let a = serde_json::to_string_pretty(&sorted(actual)).unwrap_or_default() + "\n";
        let diff = similar::TextDiff::from_lines(&e, &a).unified_diff().header("expected", "live").to_string();
        self.findings.push(Finding {
            code,
            message: message.into(),
            expected: e,
            actual: a,
            diff: Some(diff),
            hint: hint(code),
        });
    }

    /// Compares one setting.
    fn setting<T: PartialEq + std::fmt::Display>(&mut self, code: &'static str, what: &str, expected: T, actual: T) {
        if expected != actual {
            self.drift(code, format!("{what} is {actual}, the spec says {expected}"), expected, actual);
        }
    }
}

/// `v` with the keys of every object in sorted order.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&m[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// One difference between the spec and live AWS.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub message: String,
    pub expected: String,
    pub actual: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    pub hint: &'static str,
}

/// Drift codes and the runbook's knowledge of each.
pub const CODES: &[(&str, &str, &str)] = &[
    (
        "D101",
        "missing-resource",
        "the resource does not exist. Never deployed: run `pipewright deploy`. Deleted outside CloudFormation: the stack still lists it, so a deploy sees no change; re-create it with the name and settings the spec gives (verify then checks them), or let CloudFormation re-create it by deploying the spec once without the resource's stage and once with it",
    ),
    (
        "D102",
        "notification",
        "runbook \"Silver/Gold Processing Not Triggered\": the bucket's S3 event filters must match the written keys, or the stage never runs; CloudFormation does not see this change: undo it (the expected value is above)",
    ),
    (
        "D103",
        "unmanaged-notification",
        "an event destination on our bucket that the spec does not declare: it may consume or duplicate events; remove it or declare it",
    ),
    (
        "D104",
        "bucket-setting",
        "encryption, versioning, public access and lifecycle protect the data; CloudFormation does not see this change: undo it (the expected value is above)",
    ),
    ("D105", "bucket-policy", "the TLS-only bucket policy was changed or removed"),
    (
        "D106",
        "artifact-bucket-owner",
        "S3 does not confirm that this account owns the artifact bucket the stack's functions load their code from: another account's bucket could serve them other code; deploy with `--artifact-bucket` naming a bucket of this account",
    ),
    (
        "D201",
        "queue-setting",
        "runbook \"High SQS Queue Depths\": queue settings drive retries and the DLQ; CloudFormation does not see this change: undo it (the expected value is above)",
    ),
    (
        "D202",
        "visibility-below-live-timeout",
        "runbook \"verify visibility timeout matches Lambda timeout\": the live visibility timeout is below the live function timeout, so messages are processed twice; raise it to 6 x timeout + batching window",
    ),
    (
        "D203",
        "redrive",
        "runbook \"Messages in Dead Letter Queues\": without the redrive policy failing messages are retried forever or dropped",
    ),
    ("D204", "dlq-retention", "the DLQ must keep messages longer than the source queue, or dead letters expire early"),
    (
        "D205",
        "queue-policy",
        "runbook \"Check SQS queue policy allows S3 to send messages\": S3 must be allowed to send from our bucket and account, and nothing broader",
    ),
    (
        "D301",
        "mapping",
        "runbook \"Verify Lambda event source mapping is active\": without an enabled mapping the queue fills and nothing runs",
    ),
    (
        "D302",
        "mapping-disabled",
        "runbook \"Verify Lambda event source mapping is active\": the mapping is not Enabled, so the stage does not consume its queue; enable it (`aws lambda update-event-source-mapping --enabled`)",
    ),
    (
        "D303",
        "unmanaged-mapping",
        "an event source mapping the spec does not declare reads our queue or invokes our function",
    ),
    (
        "D401",
        "function-setting",
        "runbook \"Lambda Function Errors\" (timeouts, memory): the function's live settings differ from the spec",
    ),
    (
        "D402",
        "function-env",
        "the function's environment (the contract with its stage crate) differs: the stage reads the wrong buckets or fails at start",
    ),
    (
        "D403",
        "role-policy",
        "runbook \"Permission Errors\": the role's permissions differ from the least privilege the data flow needs",
    ),
    ("D501", "alarm", "runbook \"CloudWatch Alarms\": an alarm is missing or changed, so a failure goes unnoticed"),
    (
        "D502",
        "log-group",
        "the function's log group or its retention differs (the old stack read log groups nobody wrote)",
    ),
    (
        "D503",
        "alert-subscriptions",
        "the alert topic has no confirmed subscription, so the alarms notify nobody: confirm the subscription (AWS e-mails a link to the address) or subscribe someone",
    ),
    ("D601", "schedule", "runbook \"Bronze Ingestion Not Running\": the schedule is missing, disabled or changed"),
    ("D701", "tables", "the S3 Tables bucket, namespace or a table is missing: gold analytics cannot commit"),
    (
        "D702",
        "table-partitioning",
        "a table's partition spec differs from the spec's `partition:` columns: a commit of one date rewrites more than that date's files and readers cannot prune; the spec's partitioning applies to a new table (changing it replaces the table: `pipewright deploy` shows the hazard)",
    ),
];

fn hint(code: &str) -> &'static str {
    CODES.iter().find(|(c, _, _)| *c == code).map(|(_, _, h)| *h).unwrap_or("")
}

/// Names and ARNs of the account the stack lives in.
#[derive(Debug, Clone)]
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

/// Expected notifications of a bucket.
pub fn notifications(
    aspect: &mut Aspect,
    expected: &[QueueNotification],
    live: &crate::aws::live::Notifications,
    our_queues: &[String],
) {
    for e in expected {
        if !live.queues.contains(e) {
            let near = live.queues.iter().find(|l| l.queue_arn == e.queue_arn && l.event == e.event);
            let actual = near.map(|n| format!("prefix `{}` suffix `{}`", n.prefix, n.suffix)).unwrap_or("none".into());
            aspect.drift(
                "D102",
                format!("notification `{}` -> `{}` is missing or changed", e.event, e.queue_arn),
                format!("prefix `{}` suffix `{}`", e.prefix, e.suffix),
                actual,
            );
        }
    }
    for l in &live.queues {
        if !expected.contains(l) && !expected.iter().any(|e| e.queue_arn == l.queue_arn && e.event == l.event) {
            let ours = our_queues.contains(&l.queue_arn);
            aspect.drift(
                if ours { "D102" } else { "D103" },
                format!(
                    "notification `{}` -> `{}` (prefix `{}`, suffix `{}`) is not in the spec",
                    l.event, l.queue_arn, l.prefix, l.suffix
                ),
                "absent",
                "present",
            );
        }
    }
    for other in &live.others {
        aspect.drift("D103", format!("unmanaged notification destination: {other}"), "absent", other);
    }
}

/// Default encryption: SSE-S3 (AES256).
pub fn bucket_encryption(aspect: &mut Aspect, live: Option<&(String, bool)>) {
    match live {
        Some((alg, _)) if alg == "AES256" => {}
        Some((alg, _)) => aspect.drift("D104", format!("default encryption is {alg}"), "AES256", alg),
        None => aspect.drift("D104", "default encryption is off", "AES256", "none"),
    }
}

pub fn bucket_versioning(aspect: &mut Aspect, expected: &str, live: &str) {
    aspect.setting("D104", "versioning", expected.to_string(), live.to_string());
}

/// All four public-access blocks on.
pub fn public_access_block(aspect: &mut Aspect, live: Option<[bool; 4]>) {
    match live {
        Some([true, true, true, true]) => {}
        Some(flags) => aspect.drift(
            "D104",
            "not every public-access block is on",
            "[true, true, true, true]",
            format!("{flags:?}"),
        ),
        None => aspect.drift("D104", "the public-access block is removed", "[true, true, true, true]", "none"),
    }
}

/// Lifecycle rules by id.
pub fn lifecycle(aspect: &mut Aspect, expected: &BTreeMap<String, Value>, live: &BTreeMap<String, Value>) {
    let want = Value::Object(expected.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    let have = Value::Object(live.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    if want != have {
        aspect.drift_doc("D104", "lifecycle rules differ", &want, &have);
    }
}

/// The TLS-only bucket policy, compared by meaning.
pub fn bucket_policy(aspect: &mut Aspect, bucket_arn: &str, live: Option<&Value>) {
    let ok = live.is_some_and(|p| {
        policy::statements(p).iter().any(|s| {
            s.effect == "Deny"
                && s.actions.iter().any(|a| a == "s3:*")
                && s.resources.iter().any(|r| r == bucket_arn)
                && s.conditions
                    .get("Bool")
                    .and_then(|c| c.get("aws:securetransport"))
                    .is_some_and(|v| v == &vec!["false".to_string()])
        })
    });
    if !ok {
        aspect.drift(
            "D105",
            "the bucket policy no longer denies requests without TLS",
            "Deny s3:* when aws:SecureTransport is false",
            live.map(|p| p.to_string()).unwrap_or_else(|| "no policy".into()),
        );
    }
}

/// Expected queue settings.
pub struct QueueWant {
    pub visibility: u64,
    pub retention: u64,
    pub receive_wait: u64,
    pub delay: u64,
    pub max_message_size: u64,
    pub dlq_arn: Option<String>,
    pub max_receive_count: Option<u64>,
    /// Which queues may use this one as their DLQ (`redrivePermission`, `sourceQueueArns`).
    pub redrive_allow: Option<Value>,
}

impl QueueWant {
    /// From the queue's properties in the generated template, intrinsics resolved.
    pub fn from_properties(props: &Value) -> QueueWant {
        let num = |k: &str| props[k].as_u64().unwrap_or_default();
        let redrive = &props["RedrivePolicy"];
        QueueWant {
            visibility: num("VisibilityTimeout"),
            retention: num("MessageRetentionPeriod"),
            receive_wait: num("ReceiveMessageWaitTimeSeconds"),
            delay: num("DelaySeconds"),
            max_message_size: num("MaximumMessageSize"),
            dlq_arn: redrive["deadLetterTargetArn"].as_str().map(str::to_string),
            max_receive_count: redrive["maxReceiveCount"].as_u64(),
            redrive_allow: props.get("RedriveAllowPolicy").cloned(),
        }
    }
}

/// A redrive allow policy as a comparable value: the permission and the sorted source queues.
fn redrive_allow(v: &Value) -> (String, Vec<String>) {
    let permission = v["redrivePermission"].as_str().unwrap_or("allowAll").to_string();
    let mut sources: Vec<String> =
        v["sourceQueueArns"].as_array().into_iter().flatten().filter_map(|a| a.as_str().map(str::to_string)).collect();
    sources.sort();
    (permission, sources)
}

/// A queue's attributes, and the relations with the live function timeout and the live DLQ.
pub fn queue(
    aspect: &mut Aspect,
    want: &QueueWant,
    live: &BTreeMap<String, String>,
    live_timeout: Option<i32>,
    live_dlq_retention: Option<u64>,
) {
    let num = |k: &str| live.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or_default();
    aspect.setting("D201", "VisibilityTimeout", want.visibility, num("VisibilityTimeout"));
    aspect.setting("D201", "MessageRetentionPeriod", want.retention, num("MessageRetentionPeriod"));
    aspect.setting("D201", "ReceiveMessageWaitTimeSeconds", want.receive_wait, num("ReceiveMessageWaitTimeSeconds"));
    aspect.setting("D201", "DelaySeconds", want.delay, num("DelaySeconds"));
    aspect.setting("D201", "MaximumMessageSize", want.max_message_size, num("MaximumMessageSize"));
    if let Some(allow) = &want.redrive_allow {
        let live_allow: Value = live
            .get("RedriveAllowPolicy")
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_else(|| serde_json::json!({ "redrivePermission": "allowAll" }));
        let (want_allow, have_allow) = (redrive_allow(allow), redrive_allow(&live_allow));
        if want_allow != have_allow {
            let show =
                |(p, s): &(String, Vec<String>)| if s.is_empty() { p.clone() } else { format!("{p} {}", s.join(", ")) };
            aspect.drift(
                "D201",
                "the redrive allow policy differs: other queues may send their failed messages here",
                show(&want_allow),
                show(&have_allow),
            );
        }
    }
    let sse =
        live.get("SqsManagedSseEnabled").map(String::as_str) == Some("true") || live.contains_key("KmsMasterKeyId");
    if !sse {
        aspect.drift("D201", "server-side encryption is off", "SqsManagedSseEnabled true", "false");
    }
    if let Some(dlq) = &want.dlq_arn {
        let redrive: Option<Value> = live.get("RedrivePolicy").and_then(|r| serde_json::from_str(r).ok());
        let target = redrive.as_ref().and_then(|r| r["deadLetterTargetArn"].as_str()).unwrap_or("none").to_string();
        let count = redrive
            .as_ref()
            .and_then(|r| r["maxReceiveCount"].as_u64().or_else(|| r["maxReceiveCount"].as_str()?.parse().ok()));
        if target != *dlq {
            aspect.drift("D203", "the redrive policy does not target the DLQ", dlq, target);
        }
        if let Some(want_count) = want.max_receive_count
            && count != Some(want_count)
        {
            aspect.drift(
                "D203",
                "maxReceiveCount differs",
                want_count,
                count.map(|c| c.to_string()).unwrap_or("none".into()),
            );
        }
        if let Some(t) = live_timeout {
            let t = u64::try_from(t).unwrap_or_default();
            if num("VisibilityTimeout") < t {
                aspect.drift(
                    "D202",
                    format!(
                        "the live visibility timeout ({}s) is below the live function timeout ({t}s)",
                        num("VisibilityTimeout")
                    ),
                    format!(">= {t}s (the spec: {}s)", want.visibility),
                    format!("{}s", num("VisibilityTimeout")),
                );
            }
        }
        if let Some(dlq_ret) = live_dlq_retention
            && dlq_ret <= num("MessageRetentionPeriod")
        {
            aspect.drift(
                "D204",
                "the live DLQ keeps messages no longer than the queue",
                format!("> {}s", num("MessageRetentionPeriod")),
                format!("{dlq_ret}s"),
            );
        }
    }
}

/// The queue policy, by meaning: S3 may send from this bucket and account, nothing broader.
pub fn queue_policy(aspect: &mut Aspect, expected: &Value, live: Option<&str>) {
    let live_doc: Option<Value> = live.and_then(|p| serde_json::from_str(p).ok());
    let want = policy::normalize(expected);
    let have = live_doc.as_ref().map(policy::normalize).unwrap_or(Value::Array(vec![]));
    if want != have {
        aspect.drift_doc("D205", "the queue policy differs in meaning", &want, &have);
    }
}

/// Expected mapping settings.
pub struct MappingWant {
    pub source_arn: String,
    pub batch_size: i32,
    pub window: i32,
    pub max_concurrency: Option<i32>,
}

/// The function's mappings: ours exists, is enabled, has the spec's settings; no others.
pub fn mappings(aspect: &mut Aspect, want: &MappingWant, function_arn: &str, live: &[LiveMapping]) {
    let ours: Vec<&LiveMapping> = live
        .iter()
        .filter(|m| m.source_arn == want.source_arn && same_function(&m.function_arn, function_arn))
        .collect();
    match ours.as_slice() {
        [] => aspect.drift("D301", "the event source mapping from the queue is missing", &want.source_arn, "none"),
        [m, rest @ ..] => {
            if m.state != "Enabled" {
                let reason = if m.state_reason.is_empty() { String::new() } else { format!(" ({})", m.state_reason) };
                aspect.drift("D302", format!("the mapping is {}{reason}", m.state), "Enabled", &m.state);
            }
            aspect.setting("D301", "BatchSize", want.batch_size, m.batch_size);
            aspect.setting("D301", "MaximumBatchingWindowInSeconds", want.window, m.window);
            if !m.response_types.iter().any(|t| t == "ReportBatchItemFailures") {
                aspect.drift(
                    "D301",
                    "FunctionResponseTypes lacks ReportBatchItemFailures: a failing record retries its whole batch",
                    "[ReportBatchItemFailures]",
                    format!("{:?}", m.response_types),
                );
            }
            if want.max_concurrency != m.max_concurrency {
                aspect.drift(
                    "D301",
                    "maximum concurrency differs",
                    format!("{:?}", want.max_concurrency),
                    format!("{:?}", m.max_concurrency),
                );
            }
            for extra in rest {
                aspect.drift(
                    "D303",
                    format!("a second mapping `{}` reads the same queue", extra.uuid),
                    "one mapping",
                    "two",
                );
            }
        }
    }
    for m in live.iter().filter(|m| !(m.source_arn == want.source_arn && same_function(&m.function_arn, function_arn)))
    {
        aspect.drift(
            "D303",
            format!("unmanaged mapping `{}`: {} -> {}", m.uuid, m.source_arn, m.function_arn),
            "absent",
            &m.state,
        );
    }
}

fn same_function(live: &str, ours: &str) -> bool {
    live == ours || live.strip_prefix(ours).is_some_and(|rest| rest.starts_with(':'))
}

/// Expected function settings.
pub struct FunctionWant {
    pub architecture: String,
    pub memory: i32,
    pub timeout: i32,
    pub role_name: String,
    pub env: BTreeMap<String, String>,
    pub reserved: Option<i32>,
}

pub fn function(settings: &mut Aspect, env: &mut Aspect, want: &FunctionWant, live: &LiveFunction) {
    settings.setting("D401", "Runtime", "provided.al2023".to_string(), live.runtime.clone());
    settings.setting("D401", "Handler", "bootstrap".to_string(), live.handler.clone());
    settings.setting("D401", "Architectures", want.architecture.clone(), live.architectures.join(","));
    settings.setting("D401", "MemorySize", want.memory, live.memory);
    settings.setting("D401", "Timeout", want.timeout, live.timeout);
    if want.reserved != live.reserved {
        let show = |r: Option<i32>| r.map_or("none (the account's unreserved pool)".to_string(), |r| r.to_string());
        settings.drift(
            "D401",
            format!("ReservedConcurrentExecutions is {}, the spec says {}", show(live.reserved), show(want.reserved)),
            show(want.reserved),
            show(live.reserved),
        );
    }
    if !live.role.ends_with(&format!(":role/{}", want.role_name)) {
        settings.drift("D401", "the function runs as another role", &want.role_name, &live.role);
    }
    if want.env != live.env {
        let to = |m: &BTreeMap<String, String>| {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect())
        };
        env.drift_doc("D402", "the environment differs", &to(&want.env), &to(&live.env));
    }
}

/// The role's inline policies by meaning, and no attached policies.
pub fn role(aspect: &mut Aspect, expected: &BTreeMap<String, Value>, live: &LiveRole) {
    let norm =
        |m: &BTreeMap<String, Value>| Value::Object(m.iter().map(|(k, v)| (k.clone(), policy::normalize(v))).collect());
    let (want, have) = (norm(expected), norm(&live.inline));
    if want != have {
        aspect.drift_doc("D403", "the role's inline policies differ in meaning", &want, &have);
    }
    for arn in &live.attached {
        aspect.drift("D403", format!("an attached managed policy widens the role: {arn}"), "none", arn);
    }
}

/// Expected alarm.
pub struct AlarmWant {
    pub namespace: String,
    pub metric: String,
    pub dimension: (String, String),
    pub threshold: f64,
    pub statistic: String,
    pub period: i32,
    pub evaluation_periods: i32,
    pub datapoints: i32,
    pub comparison: String,
    pub treat_missing: String,
    pub actions_enabled: bool,
    /// The alert topic, notified on alarm and on recovery.
    pub action: Option<String>,
}

impl AlarmWant {
    /// From the alarm's properties in the generated template, intrinsics resolved.
    pub fn from_properties(props: &Value) -> AlarmWant {
        let text = |k: &str| props[k].as_str().unwrap_or_default().to_string();
        let int = |k: &str| props[k].as_i64().and_then(|v| i32::try_from(v).ok()).unwrap_or_default();
        let dimension = &props["Dimensions"][0];
        AlarmWant {
            namespace: text("Namespace"),
            metric: text("MetricName"),
            dimension: (
                dimension["Name"].as_str().unwrap_or_default().to_string(),
                dimension["Value"].as_str().unwrap_or_default().to_string(),
            ),
            threshold: props["Threshold"].as_f64().unwrap_or_default(),
            statistic: text("Statistic"),
            period: int("Period"),
            evaluation_periods: int("EvaluationPeriods"),
            datapoints: int("DatapointsToAlarm"),
            comparison: text("ComparisonOperator"),
            treat_missing: text("TreatMissingData"),
            actions_enabled: props["ActionsEnabled"].as_bool().unwrap_or(true),
            action: props["AlarmActions"][0].as_str().map(str::to_string),
        }
    }
}

pub fn alarm(aspect: &mut Aspect, want: &AlarmWant, live: Option<&LiveAlarm>) {
    let Some(live) = live else {
        aspect.drift("D101", "the alarm does not exist", "present", "missing");
        return;
    };
    aspect.setting("D501", "Namespace", &want.namespace, &live.namespace);
    aspect.setting("D501", "MetricName", &want.metric, &live.metric);
    aspect.setting("D501", "Threshold", want.threshold, live.threshold);
    aspect.setting("D501", "Statistic", &want.statistic, &live.statistic);
    aspect.setting("D501", "Period", want.period, live.period);
    aspect.setting("D501", "EvaluationPeriods", want.evaluation_periods, live.evaluation_periods);
    // CloudWatch leaves DatapointsToAlarm unset when it equals EvaluationPeriods.
    aspect.setting("D501", "DatapointsToAlarm", want.datapoints, live.datapoints.unwrap_or(live.evaluation_periods));
    aspect.setting("D501", "ComparisonOperator", &want.comparison, &live.comparison);
    // Unset, CloudWatch treats missing data as `missing`.
    let treat_missing = live.treat_missing.as_deref().unwrap_or("missing");
    aspect.setting("D501", "TreatMissingData", want.treat_missing.as_str(), treat_missing);
    if want.actions_enabled && !live.actions_enabled {
        aspect.drift(
            "D501",
            "the alarm's actions are disabled: it changes state and notifies nobody",
            "ActionsEnabled true",
            "ActionsEnabled false",
        );
    }
    if !live.dimensions.contains(&want.dimension) {
        aspect.drift(
            "D501",
            "the alarm watches another resource",
            format!("{}={}", want.dimension.0, want.dimension.1),
            format!("{:?}", live.dimensions),
        );
    }
    if let Some(topic) = &want.action {
        if !live.actions.contains(topic) {
            aspect.drift("D501", "the alarm does not notify the alert topic", topic, format!("{:?}", live.actions))
        }
        if !live.ok_actions.contains(topic) {
            aspect.drift(
                "D501",
                "the alarm does not notify the alert topic when it recovers",
                topic,
                format!("{:?}", live.ok_actions),
            )
        }
    }
}

/// S3 refused to confirm that `account` owns the artifact bucket (`ExpectedBucketOwner`).
pub fn artifact_owner(aspect: &mut Aspect, account: &str) {
    aspect.drift(
        "D106",
        format!("S3 does not confirm that account {account} owns the artifact bucket"),
        account,
        "another account, or unreadable",
    );
}

/// The alert topic reaches someone: at least one confirmed subscription.
pub fn subscriptions(aspect: &mut Aspect, live: Option<&[LiveSubscription]>) {
    let Some(live) = live else {
        aspect.drift("D101", "the alert topic does not exist", "present", "missing");
        return;
    };
    if live.iter().any(|s| s.confirmed) {
        return;
    }
    let pending: Vec<String> = live.iter().map(|s| format!("{} {}", s.protocol, s.endpoint)).collect();
    let message = if pending.is_empty() {
        "the alarms notify nobody: the alert topic has no subscription".to_string()
    } else {
        format!("the alarms notify nobody: the topic's subscriptions wait for confirmation ({})", pending.join(", "))
    };
    let actual = if pending.is_empty() { "none".to_string() } else { format!("{} pending", pending.len()) };
    aspect.drift("D503", message, "a confirmed subscription", actual);
}

pub fn log_group(aspect: &mut Aspect, retention: i32, live: Option<Option<i32>>) {
    match live {
        None => aspect.drift("D101", "the log group does not exist", "present", "missing"),
        Some(r) => aspect.setting(
            "D502",
            "RetentionInDays",
            retention.to_string(),
            r.map(|r| r.to_string()).unwrap_or("never expire".into()),
        ),
    }
}

pub fn schedule(aspect: &mut Aspect, want: &[String; 4], live: Option<&[String; 4]>) {
    let Some(live) = live else {
        aspect.drift("D101", "the schedule does not exist", "present", "missing");
        return;
    };
    for (i, what) in ["ScheduleExpression", "ScheduleExpressionTimezone", "State", "Target"].iter().enumerate() {
        aspect.setting("D601", what, want[i].clone(), live[i].clone());
    }
}

pub fn tables(aspect: &mut Aspect, want: &[String], live: &TablesState) {
    if !live.bucket {
        aspect.drift("D701", "the table bucket does not exist", "present", "missing");
    } else if !live.namespace {
        aspect.drift("D701", "the namespace does not exist", "present", "missing");
    } else {
        for t in want.iter().filter(|t| !live.tables.contains_key(*t)) {
            aspect.drift("D701", format!("table `{t}` does not exist"), "present", "missing");
        }
    }
}

/// A table's live partition fields (source column, transform) against the spec's; `None`: the table has
/// no Iceberg metadata.
pub fn table_partitioning(aspect: &mut Aspect, want: &[(String, String)], live: Option<&[(String, String)]>) {
    let show = |fields: &[(String, String)]| {
        if fields.is_empty() {
            "unpartitioned".to_string()
        } else {
            fields.iter().map(|(c, t)| format!("{t}({c})")).collect::<Vec<_>>().join(", ")
        }
    };
    match live {
        None => aspect.drift(
            "D702",
            "the table has no Iceberg metadata (no schema, no partition spec)",
            show(want),
            "no metadata",
        ),
        Some(live) => aspect.setting("D702", "the partition spec", show(want), show(live)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_table_partitioned_otherwise_than_the_spec_says_is_drift() {
        let fields = |f: &[(&str, &str)]| f.iter().map(|(c, t)| (c.to_string(), t.to_string())).collect::<Vec<_>>();
        let judge = |want: &[(String, String)], live: Option<&[(String, String)]>| {
            let mut a = Aspect::new("ns.t", "AWS::S3Tables::Table", "table-partitioning", Span::UNKNOWN);
            table_partitioning(&mut a, want, live);
            a.findings.into_iter().map(|f| (f.code, f.message)).collect::<Vec<_>>()
        };
        let day = fields(&[("game_date", "day")]);
        assert!(judge(&day, Some(&day)).is_empty());
        let found = judge(&day, Some(&[]));
        assert_eq!(
            found,
            vec![("D702", "the partition spec is unpartitioned, the spec says day(game_date)".to_string())]
        );
        let two = fields(&[("read_at", "hour"), ("sensor_id", "bucket[8]")]);
        let swapped = fields(&[("sensor_id", "bucket[8]"), ("read_at", "hour")]);
        assert_eq!(
            judge(&two, Some(&swapped))[0].1,
            "the partition spec is bucket[8](sensor_id), hour(read_at), the spec says hour(read_at), bucket[8](sensor_id)"
        );
        assert!(judge(&day, None)[0].1.contains("no Iceberg metadata"));
    }

    #[test]
    fn an_alert_topic_reaches_someone_only_through_a_confirmed_subscription() {
        let sub = |endpoint: &str, confirmed| LiveSubscription {
            protocol: "email".into(),
            endpoint: endpoint.into(),
            confirmed,
        };
        let judge = |live: Option<&[LiveSubscription]>| {
            let mut a = Aspect::new("t", "AWS::SNS::Topic", "subscriptions", Span::UNKNOWN);
            subscriptions(&mut a, live);
            a.findings.into_iter().map(|f| (f.code, f.message)).collect::<Vec<_>>()
        };
        assert!(judge(Some(&[sub("a@example.com", false), sub("b@example.com", true)])).is_empty());
        let pending = judge(Some(&[sub("a@example.com", false)]));
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].0, "D503");
        assert!(pending[0].1.contains("wait for confirmation (email a@example.com)"), "{}", pending[0].1);
        assert!(judge(Some(&[]))[0].1.contains("has no subscription"));
        assert_eq!(judge(None)[0].0, "D101");
    }

    #[test]
    fn document_diffs_show_only_what_differs() {
        // Live JSON comes back with its keys in another order: only the changed value is a diff line.
        let want = json!({"rule": {"ExpirationInDays": 730, "Status": "Enabled"}});
        let have = json!({"rule": {"Status": "Enabled", "ExpirationInDays": 365}});
        let mut a = Aspect::new("b", "AWS::S3::Bucket", "lifecycle", Span::UNKNOWN);
        lifecycle(
            &mut a,
            &want.as_object().expect("object").clone().into_iter().collect(),
            &have.as_object().expect("object").clone().into_iter().collect(),
        );
        let diff = a.findings[0].diff.as_deref().expect("a diff");
        let changed: Vec<&str> = diff
            .lines()
            .filter(|l| (l.starts_with('-') || l.starts_with('+')) && !l.starts_with("--") && !l.starts_with("++"))
            .collect();
        assert_eq!(changed, ["-    \"ExpirationInDays\": 730,", "+    \"ExpirationInDays\": 365,"], "{diff}");
        let mut same = Aspect::new("b", "AWS::S3::Bucket", "lifecycle", Span::UNKNOWN);
        let reordered = json!({"rule": {"Status": "Enabled", "ExpirationInDays": 730}});
        lifecycle(
            &mut same,
            &want.as_object().expect("object").clone().into_iter().collect(),
            &reordered.as_object().expect("object").clone().into_iter().collect(),
        );
        assert!(same.findings.is_empty(), "key order is not drift");
    }
}
