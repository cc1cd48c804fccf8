//! Desired state (from the spec, what `generate` emits) vs live state: pure comparison, aspect by
//! aspect. Every difference is a finding with a stable code, expected vs actual (a unified diff for
//! documents), the spec line that declared it, and a hint from the original runbook.

pub mod live;
pub mod policy;
pub mod report;

use crate::cfn::desired::{self, AlarmSettings, EventRule, MappingSettings, QueueSettings};
use crate::report::{Diagnostic, Resource, Severity};
use crate::spec::Span;
use live::{
    Encryption, LiveAlarm, LiveFunction, LiveMapping, LiveRole, LiveRule, LiveSchedule, LiveSubscription,
    PublicAccessBlock, QueueNotification, RuleRef, TablesState,
};
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
    pub findings: Vec<Diagnostic>,
    /// Why it could not be verified (AWS error code and message), when it could not.
    pub unverifiable: Option<String>,
}

/// What verifying an aspect found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Clean,
    Drift,
    /// It could not be read: unknown, never clean.
    Unverifiable,
}

impl Aspect {
    pub fn new(resource: impl Into<String>, resource_type: &'static str, aspect: &'static str, span: Span) -> Self {
        Aspect { resource: resource.into(), resource_type, aspect, span, findings: Vec::new(), unverifiable: None }
    }

    pub fn status(&self) -> Status {
        if self.unverifiable.is_some() {
            Status::Unverifiable
        } else if self.findings.is_empty() {
            Status::Clean
        } else {
            Status::Drift
        }
    }

    /// The finding `code` about this aspect.
    fn finding(&self, code: &'static str, message: impl Into<String>) -> Diagnostic {
        let resource = Resource::new(self.resource.clone(), self.resource_type).aspect(self.aspect);
        Diagnostic::about(code, resource, self.span, message)
    }

    /// Records a difference: `expected` by the spec, `actual` live.
    pub fn drift(
        &mut self,
        code: &'static str,
        message: impl Into<String>,
        expected: impl ToString,
        actual: impl ToString,
    ) {
        let d = self.finding(code, message).compared(expected, actual, None);
        self.findings.push(d);
    }

    fn drift_doc(&mut self, code: &'static str, message: impl Into<String>, expected: &Value, actual: &Value) {
        // Keys in one order on both sides: the diff shows what differs, not how it was written.
        let e = serde_json::to_string_pretty(&sorted(expected)).unwrap_or_default() + "\n";
        let a = serde_json::to_string_pretty(&sorted(actual)).unwrap_or_default() + "\n";
        let diff = similar::TextDiff::from_lines(&e, &a).unified_diff().header("expected", "live").to_string();
        let d = self.finding(code, message).compared(e, a, Some(diff));
        self.findings.push(d);
    }

    /// The aspect could not be read: why (the AWS operation, error code and message).
    pub fn unverifiable(&mut self, why: impl Into<String>) {
        self.unverifiable = Some(why.into());
    }

    /// What verifying this aspect found, as findings: its drift, or that it could not be verified
    /// (`D000`, an error with `strict`).
    pub fn diagnostics(&self, strict: bool) -> Vec<Diagnostic> {
        match &self.unverifiable {
            Some(why) => {
                let d = self.finding(crate::report::codes::COULD_NOT_VERIFY, format!("could not verify: {why}"));
                vec![if strict { d.with_severity(Severity::Error) } else { d }]
            }
            None => self.findings.clone(),
        }
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

pub use crate::cfn::desired::Place;

/// Expected notifications of a bucket.
/// A bucket's notifications: its queue notifications, and whether it sends its events to EventBridge
/// (`eventbridge`: a trigger on it is delivered that way).
pub fn notifications(
    aspect: &mut Aspect,
    (expected, eventbridge): (&[QueueNotification], bool),
    live: &live::Notifications,
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
    let sends = live.others.iter().any(|o| o == live::EVENTBRIDGE);
    if eventbridge && !sends {
        aspect.drift(
            "D102",
            "the bucket no longer sends its events to EventBridge: the triggers delivered through it never run",
            "EventBridgeConfiguration",
            "none",
        );
    }
    for other in live.others.iter().filter(|o| !(eventbridge && o.as_str() == live::EVENTBRIDGE)) {
        aspect.drift("D103", format!("unmanaged notification destination: {other}"), "absent", other);
    }
}

/// An event pattern by meaning: keys in any order, each list of alternatives as a set.
fn pattern_meaning(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), pattern_meaning(&m[k]))).collect())
        }
        Value::Array(a) => {
            let mut items: Vec<Value> = a.iter().map(pattern_meaning).collect();
            items.sort_by_cached_key(Value::to_string);
            items.dedup();
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// A trigger's EventBridge rule: it exists, is enabled, has the spec's pattern (by meaning), and delivers
/// the events as they are to the stage's queue, with the stage's DLQ and the retry policy, and nowhere else.
pub fn event_rule(aspect: &mut Aspect, want: &EventRule, place: &Place, live: Option<&LiveRule>) {
    let Some(live) = live else {
        aspect.drift("D101", "the rule does not exist: the stage's objects reach no queue", "present", "missing");
        return;
    };
    if !live.enabled() {
        aspect.drift(
            "D107",
            format!("the rule is {}: the objects it matches no longer reach the stage's queue", live.state),
            "ENABLED",
            &live.state,
        );
    }
    let pattern = pattern_meaning(&want.event_pattern());
    let live_pattern = live.pattern.as_ref().map(pattern_meaning).unwrap_or(Value::Null);
    if pattern != live_pattern {
        aspect.drift_doc("D107", "the rule's event pattern differs in meaning", &pattern, &live_pattern);
    }
    let (queue, dlq) = (place.queue_arn(&want.queue), place.queue_arn(&want.dlq));
    match live.targets.iter().find(|t| t.arn == queue) {
        None => aspect.drift(
            "D107",
            format!("the rule does not target the stage's queue `{}`: the events it matches go nowhere", want.queue),
            &queue,
            if live.targets.is_empty() {
                "no target".to_string()
            } else {
                live.targets.iter().map(|t| t.arn.as_str()).collect::<Vec<_>>().join(", ")
            },
        ),
        Some(t) => {
            let dead_letter = t.dead_letter_arn.as_deref().unwrap_or("none");
            aspect.setting("D107", "the target's dead-letter queue", dlq.as_str(), dead_letter);
            let retry = |(attempts, age): (Option<i32>, Option<i32>)| {
                let show = |v: Option<i32>| v.map(|v| v.to_string()).unwrap_or("default".into());
                format!("{} attempts over {}s", show(attempts), show(age))
            };
            let want_retry = (Some(desired::RULE_RETRY_ATTEMPTS), Some(desired::RULE_MAX_EVENT_AGE_SECONDS));
            aspect.setting(
                "D107",
                "the target's retry policy",
                retry(want_retry),
                t.retry.map(retry).unwrap_or("none (EventBridge's default)".into()),
            );
            if t.transformed {
                aspect.drift(
                    "D107",
                    "the target transforms the event (Input, InputPath or InputTransformer): the stage cannot read what reaches its queue",
                    "the event as it is",
                    "transformed",
                );
            }
        }
    }
    for other in live.targets.iter().filter(|t| t.arn != queue) {
        aspect.drift("D107", format!("the rule also sends the events to `{}`", other.arn), "absent", &other.arn);
    }
}

/// The rules that target a stage's queue: only `ours` (the stage's rules, on the default bus); any other
/// rule sends the queue events the stage did not ask for.
pub fn rules_targeting(aspect: &mut Aspect, ours: &[String], live: &[RuleRef]) {
    for r in live.iter().filter(|r| !(r.bus == "default" && ours.contains(&r.name))) {
        aspect.drift("D108", format!("rule `{r}` targets the queue and is not in the spec"), "absent", r);
    }
}

/// Default encryption: SSE-S3 (AES256).
pub fn bucket_encryption(aspect: &mut Aspect, live: Option<&Encryption>) {
    match live {
        Some(e) if e.algorithm == "AES256" => {}
        Some(e) => aspect.drift("D104", format!("default encryption is {}", e.algorithm), "AES256", &e.algorithm),
        None => aspect.drift("D104", "default encryption is off", "AES256", "none"),
    }
}

pub fn bucket_versioning(aspect: &mut Aspect, expected: &str, live: &str) {
    aspect.setting("D104", "versioning", expected.to_string(), live.to_string());
}

/// All four public-access blocks on.
pub fn public_access_block(aspect: &mut Aspect, live: Option<PublicAccessBlock>) {
    const ALL_ON: &str = "BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets";
    match live {
        Some(b) if b.all_on() => {}
        Some(b) => {
            let on: Vec<&str> = [
                ("BlockPublicAcls", b.block_public_acls),
                ("IgnorePublicAcls", b.ignore_public_acls),
                ("BlockPublicPolicy", b.block_public_policy),
                ("RestrictPublicBuckets", b.restrict_public_buckets),
            ]
            .into_iter()
            .filter_map(|(name, set)| set.then_some(name))
            .collect();
            let on = if on.is_empty() { "none".to_string() } else { on.join(", ") };
            aspect.drift("D104", "not every public-access block is on", ALL_ON, on)
        }
        None => aspect.drift("D104", "the public-access block is removed", ALL_ON, "none"),
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
    want: &QueueSettings,
    place: &Place,
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
        let allow = allow.policy(|source| Value::String(place.queue_arn(source)));
        let live_allow: Value = live
            .get("RedriveAllowPolicy")
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or_else(|| serde_json::json!({ "redrivePermission": "allowAll" }));
        let (want_allow, have_allow) = (redrive_allow(&allow), redrive_allow(&live_allow));
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
    if let Some((dlq, want_count)) = &want.redrive {
        let dlq = place.queue_arn(dlq);
        let redrive: Option<Value> = live.get("RedrivePolicy").and_then(|r| serde_json::from_str(r).ok());
        let target = redrive.as_ref().and_then(|r| r["deadLetterTargetArn"].as_str()).unwrap_or("none").to_string();
        let count = redrive
            .as_ref()
            .and_then(|r| r["maxReceiveCount"].as_u64().or_else(|| r["maxReceiveCount"].as_str()?.parse().ok()));
        if target != dlq {
            aspect.drift("D203", "the redrive policy does not target the DLQ", dlq, target);
        }
        if count != Some(*want_count) {
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

/// A stage's mappings: ours (from `want.queue`, whose ARN is `source_arn`, to `function_arn`) as the
/// spec says, and any other mapping of that queue or function.
pub fn mappings(
    aspect: &mut Aspect,
    want: &MappingSettings,
    (source_arn, function_arn): (&str, &str),
    live: &[LiveMapping],
) {
    let ours: Vec<&LiveMapping> =
        live.iter().filter(|m| m.source_arn == source_arn && same_function(&m.function_arn, function_arn)).collect();
    match ours.as_slice() {
        [] => aspect.drift("D301", "the event source mapping from the queue is missing", source_arn, "none"),
        [m, rest @ ..] => {
            if !m.state.is_enabled() {
                let reason = if m.state_reason.is_empty() { String::new() } else { format!(" ({})", m.state_reason) };
                aspect.drift("D302", format!("the mapping is {}{reason}", m.state), "Enabled", &m.state);
            }
            aspect.setting("D301", "BatchSize", i64::from(want.batch_size), i64::from(m.batch_size));
            let window = i64::try_from(want.window).unwrap_or(i64::MAX);
            aspect.setting("D301", "MaximumBatchingWindowInSeconds", window, i64::from(m.window));
            let reports = m.response_types.iter().any(|t| t == "ReportBatchItemFailures");
            if want.report_batch_item_failures && !reports {
                aspect.drift(
                    "D301",
                    "FunctionResponseTypes lacks ReportBatchItemFailures: a failing record retries its whole batch",
                    "[ReportBatchItemFailures]",
                    format!("{:?}", m.response_types),
                );
            }
            let live_concurrency = m.max_concurrency.and_then(|c| u32::try_from(c).ok());
            if live_concurrency != Some(want.max_concurrency) {
                aspect.drift(
                    "D301",
                    "maximum concurrency differs",
                    want.max_concurrency,
                    live_concurrency.map_or_else(|| "none".to_string(), |c| c.to_string()),
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
    for m in live.iter().filter(|m| !(m.source_arn == source_arn && same_function(&m.function_arn, function_arn))) {
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
    /// The DLQ of its failed asynchronous invocations (a scheduled stage's), by ARN.
    pub dead_letter_arn: Option<String>,
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
    if want.dead_letter_arn != live.dead_letter_arn {
        settings.drift(
            "D401",
            "the DLQ of its failed runs differs: a run that fails every retry would be lost",
            or_none(&want.dead_letter_arn),
            or_none(&live.dead_letter_arn),
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

/// An alarm's settings against the spec's; `topic` is the alert topic's ARN, which it notifies on alarm
/// and on recovery.
pub fn alarm(aspect: &mut Aspect, want: &AlarmSettings, topic: Option<&str>, live: Option<&LiveAlarm>) {
    let Some(live) = live else {
        aspect.drift("D101", "the alarm does not exist", "present", "missing");
        return;
    };
    aspect.setting("D501", "Namespace", want.namespace, live.namespace.as_str());
    aspect.setting("D501", "MetricName", want.metric, live.metric.as_str());
    aspect.setting("D501", "Threshold", want.threshold as f64, live.threshold);
    aspect.setting("D501", "Statistic", want.statistic, live.statistic.as_str());
    aspect.setting("D501", "Period", i64::from(want.period), i64::from(live.period));
    aspect.setting("D501", "EvaluationPeriods", i64::from(want.evaluation_periods), i64::from(live.evaluation_periods));
    // CloudWatch leaves DatapointsToAlarm unset when it equals EvaluationPeriods.
    let datapoints = live.datapoints.unwrap_or(live.evaluation_periods);
    aspect.setting("D501", "DatapointsToAlarm", i64::from(want.datapoints), i64::from(datapoints));
    aspect.setting("D501", "ComparisonOperator", want.comparison, live.comparison.as_str());
    // Unset, CloudWatch treats missing data as `missing`.
    let treat_missing = live.treat_missing.as_deref().unwrap_or("missing");
    aspect.setting("D501", "TreatMissingData", want.treat_missing, treat_missing);
    if !live.actions_enabled {
        aspect.drift(
            "D501",
            "the alarm's actions are disabled: it changes state and notifies nobody",
            "ActionsEnabled true",
            "ActionsEnabled false",
        );
    }
    let dimension = (want.dimension.name().to_string(), want.dimension.value().to_string());
    if !live.dimensions.contains(&dimension) {
        aspect.drift(
            "D501",
            "the alarm watches another resource",
            format!("{}={}", dimension.0, dimension.1),
            format!("{:?}", live.dimensions),
        );
    }
    if let Some(topic) = topic.map(str::to_string) {
        if !live.actions.contains(&topic) {
            aspect.drift("D501", "the alarm does not notify the alert topic", &topic, format!("{:?}", live.actions))
        }
        if !live.ok_actions.contains(&topic) {
            aspect.drift(
                "D501",
                "the alarm does not notify the alert topic when it recovers",
                &topic,
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

pub fn schedule(aspect: &mut Aspect, want: &LiveSchedule, live: Option<&LiveSchedule>) {
    let Some(live) = live else {
        aspect.drift("D101", "the schedule does not exist", "present", "missing");
        return;
    };
    let state = |enabled| if enabled { "ENABLED" } else { "DISABLED" };
    aspect.setting("D601", "ScheduleExpression", want.expression.as_str(), live.expression.as_str());
    aspect.setting("D601", "ScheduleExpressionTimezone", want.timezone.as_str(), live.timezone.as_str());
    aspect.setting("D601", "State", state(want.enabled), state(live.enabled));
    aspect.setting("D601", "Target", want.target_arn.as_str(), live.target_arn.as_str());
    aspect.setting(
        "D601",
        "the target's DeadLetterConfig",
        or_none(&want.dead_letter_arn),
        or_none(&live.dead_letter_arn),
    );
    // The input by meaning: the JSON document, however it is spaced.
    let meaning = |input: &Option<String>| {
        input.as_deref().map(|i| serde_json::from_str::<Value>(i).unwrap_or_else(|_| Value::String(i.to_string())))
    };
    if meaning(&want.input) != meaning(&live.input) {
        aspect.drift(
            "D601",
            "the target's input differs: the stage reads the instant its run was due from it",
            or_none(&want.input),
            or_none(&live.input),
        );
    }
}

/// An optional setting as verify shows it: the value, or `none`.
fn or_none(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "none".to_string())
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
mod tests;
