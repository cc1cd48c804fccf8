//! The spec file as written: every node that a diagnostic may point at keeps its span.
//!
//! This is the shape of the YAML (and of `pipewright schema`); [`super::resolve`] turns it into the
//! pipeline graph with names, defaults and references resolved.

use super::duration::{Duration, Threshold};
use super::span::Sp;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

/// A pipewright pipeline spec.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    /// Project name; the default naming conventions start with it (`hoopstat-haus`).
    pub project: Sp<String>,
    /// AWS region the pipeline runs in (default `us-east-1`).
    pub region: Option<Sp<String>>,
    /// Tags applied to every taggable resource.
    #[serde(default)]
    pub tags: IndexMap<Sp<String>, Sp<String>>,
    /// Naming conventions (handlebars templates); each has a default.
    #[serde(default)]
    pub naming: Naming,
    /// Where alarms send notifications, or `none` for a pipeline whose alarms notify nobody.
    /// Without it, alarms have no actions.
    pub alerts: Option<Sp<AlertsSetting>>,
    /// S3 buckets, by short name (`bronze`).
    #[serde(default)]
    pub buckets: IndexMap<Sp<String>, BucketSpec>,
    /// S3 Tables (Iceberg) that stages write.
    pub tables: Option<TablesSpec>,
    /// Settings applied to every stage unless the stage overrides them.
    #[serde(default)]
    pub defaults: Defaults,
    /// The stages of the pipeline, in data-flow order, by name.
    pub stages: IndexMap<Sp<String>, Sp<StageSpec>>,
    /// Alarm thresholds for every stage (a stage may override them).
    #[serde(default)]
    pub alarms: AlarmsSpec,
    /// Example values of key-template variables, used to test triggers against written keys
    /// (built in: `date`, `season`, `game_id`, `year`, `month`, `day`).
    #[serde(default)]
    pub examples: IndexMap<Sp<String>, Sp<String>>,
}

/// Naming conventions: handlebars templates over `project`, `stage`, `bucket`, `function`, `alarm`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Naming {
    /// Default `{{project}}-{{bucket}}`.
    pub bucket: Option<Sp<String>>,
    /// Default `{{project}}-{{stage}}-queue`.
    pub queue: Option<Sp<String>>,
    /// Default `{{project}}-{{stage}}-dlq`.
    pub dlq: Option<Sp<String>>,
    /// Default `{{project}}-{{stage}}`.
    pub function: Option<Sp<String>>,
    /// Default `{{function}}-role`.
    pub role: Option<Sp<String>>,
    /// Default `/aws/lambda/{{function}}`.
    pub log_group: Option<Sp<String>>,
    /// Default `{{project}}-{{stage}}-{{alarm}}`.
    pub alarm: Option<Sp<String>>,
    /// Default `{{project}}-alerts`.
    pub topic: Option<Sp<String>>,
    /// Default `{{project}}-{{stage}}-schedule`.
    pub schedule: Option<Sp<String>>,
    /// Default `{{project}}`.
    pub stack: Option<Sp<String>>,
}

/// `alerts:` an SNS topic the alarms notify, or `none`: the pipeline has no alerting, deliberately.
#[derive(Debug)]
pub enum AlertsSetting {
    None,
    Topic(Alerts),
}

impl<'de> Deserialize<'de> for AlertsSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = AlertsSetting;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`none` or a map such as `{email: parameter}`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AlertsSetting, E> {
                if v == "none" {
                    Ok(AlertsSetting::None)
                } else {
                    Err(E::custom(format!(
                        "`{v}` is not an alerts setting: write `none`, or a map such as `{{email: parameter}}`"
                    )))
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<AlertsSetting, A::Error> {
                Alerts::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(AlertsSetting::Topic)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl JsonSchema for AlertsSetting {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AlertsSetting".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let topic = generator.subschema_for::<Alerts>();
        schemars::json_schema!({
            "description": "An SNS topic the alarms notify, or `none` for a pipeline without alerting",
            "anyOf": [{ "const": "none" }, topic]
        })
    }
}

/// Alarm notifications.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    /// `parameter` (the address is a stack parameter), or an e-mail address.
    pub email: Option<Sp<String>>,
    /// Topic name (default from `naming.topic`).
    pub topic: Option<Sp<String>>,
}

/// An S3 bucket.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BucketSpec {
    /// Full bucket name (default from `naming.bucket`).
    pub name: Option<Sp<String>>,
    /// Versioning (default on).
    pub versioning: Option<Sp<bool>>,
    /// Lifecycle rules.
    #[serde(default)]
    pub lifecycle: LifecycleSpec,
}

/// Lifecycle rules of a bucket.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSpec {
    /// Move current versions to Intelligent-Tiering after this age.
    pub intelligent_tiering_after: Option<Sp<Duration>>,
    /// Move current versions to Standard-IA after this age (at least 30 days).
    pub infrequent_access_after: Option<Sp<Duration>>,
    /// Move current versions to Glacier Flexible Retrieval after this age.
    pub glacier_after: Option<Sp<Duration>>,
    /// Expire current versions after this age.
    pub expire_after: Option<Sp<Duration>>,
    /// Delete noncurrent versions after this age (default 30d).
    pub noncurrent_expire_after: Option<Sp<Duration>>,
    /// Abort incomplete multipart uploads after this age (default 7d).
    pub abort_incomplete_uploads_after: Option<Sp<Duration>>,
}

/// S3 Tables: one table bucket, one namespace, Iceberg tables.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TablesSpec {
    /// Short name of the table bucket; the full name is `{{project}}-<bucket>` unless `bucket_name` is set.
    pub bucket: Sp<String>,
    /// Full table bucket name.
    pub bucket_name: Option<Sp<String>>,
    /// Namespace of the tables.
    pub namespace: Sp<String>,
    /// Tables by name, each a list of columns.
    pub tables: IndexMap<Sp<String>, Vec<Column>>,
}

/// A column of an Iceberg table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: Sp<String>,
    /// Iceberg primitive type: boolean, int, long, float, double, decimal(P,S), date, time,
    /// timestamp, timestamptz, string, uuid, binary.
    #[serde(rename = "type")]
    pub ty: Sp<String>,
    #[serde(default)]
    pub required: bool,
    /// Partitions the table by this column through an Iceberg transform: identity, year, month, day,
    /// hour, bucket[N] or truncate[W]. Several partitioned columns partition the table in column order.
    pub partition: Option<Sp<String>>,
}

/// Defaults for every stage.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default)]
    pub function: FunctionSpec,
    #[serde(default)]
    pub queue: QueueSpec,
}

/// Where a stage runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Runs {
    /// As a Lambda function (the default).
    #[default]
    Lambda,
    /// On a machine outside AWS (a cron job); no function is deployed.
    Local,
}

/// A stage of the pipeline.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// `lambda` (default) or `local`.
    pub runs: Option<Sp<Runs>>,
    /// The S3 event that starts the stage (through its queue).
    pub trigger: Option<TriggerSpec>,
    /// A schedule that starts the stage (the first stage).
    pub schedule: Option<ScheduleSpec>,
    /// Function settings (override `defaults.function`).
    #[serde(default)]
    pub function: FunctionSpec,
    /// Queue settings (override `defaults.queue`).
    #[serde(default)]
    pub queue: QueueSpec,
    /// Objects the stage writes, as key templates.
    #[serde(default)]
    pub writes: Vec<WriteSpec>,
    /// S3 Tables the stage writes.
    #[serde(default)]
    pub writes_tables: Vec<Sp<String>>,
    /// Where invalid input goes (default: the first written bucket (or the trigger bucket),
    /// prefix `quarantine/<stage>/`).
    pub quarantine: Option<QuarantineSpec>,
    /// Alarm thresholds for this stage (override the top-level `alarms`).
    #[serde(default)]
    pub alarms: AlarmsSpec,
}

/// An S3 trigger.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    /// Short name of the bucket (a key of `buckets`).
    pub bucket: Sp<String>,
    /// Key pattern, `*` matching any characters (`raw/box_scores/date=*/data.json`).
    pub pattern: Option<Sp<String>>,
    /// Raw S3 filter prefix, taken literally (use `pattern` instead).
    pub prefix: Option<Sp<String>>,
    /// Raw S3 filter suffix, taken literally (use `pattern` instead).
    pub suffix: Option<Sp<String>>,
    /// S3 event types (default `s3:ObjectCreated:*`).
    pub events: Option<Vec<Sp<String>>>,
    /// The key-template variable by which the stage coalesces a batch's records (`date`): several
    /// upstream objects of one run then trigger one computation.
    pub coalesce: Option<Sp<String>>,
    /// Objects are written by something outside this spec (no upstream stage is expected).
    #[serde(default)]
    pub external: bool,
    /// How the bucket's events reach the stage's queue: `s3` (the default: an S3 event notification,
    /// free, filtering by one prefix and one suffix; two of a bucket's triggers may not overlap) or
    /// `eventbridge` (the bucket sends its events to EventBridge, where a rule of this trigger matches the
    /// whole pattern; any number of triggers may match one object; EventBridge bills each event).
    pub via: Option<Sp<Via>>,
}

/// How S3 delivers a trigger's events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// An S3 event notification of the bucket to the stage's queue.
    #[default]
    S3,
    /// The bucket's events on the default EventBridge bus, a rule per trigger targeting the queue.
    Eventbridge,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::S3 => "s3",
            Via::Eventbridge => "eventbridge",
        }
    }
}

/// A schedule.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// EventBridge Scheduler expression: `cron(m h dom mon dow year)`, `rate(N unit)` or `at(...)`.
    pub expression: Sp<String>,
    /// IANA time zone of the expression (default `UTC`).
    pub timezone: Option<Sp<String>>,
}

/// Function settings; unset values come from `defaults.function`, then built-in defaults.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    /// Function name (default from `naming.function`).
    pub name: Option<Sp<String>>,
    /// Timeout (default 60s, at most 900s).
    pub timeout: Option<Sp<Duration>>,
    /// Memory in MB (default 512).
    pub memory: Option<Sp<u32>>,
    /// `arm64` (default) or `x86_64`.
    pub architecture: Option<Sp<Architecture>>,
    /// Log retention (default 30d).
    pub log_retention: Option<Sp<Duration>>,
    /// Reserved concurrency.
    pub reserved_concurrency: Option<Sp<u32>>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: IndexMap<Sp<String>, Sp<String>>,
}

/// CPU architecture of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    Arm64,
    #[serde(rename = "x86_64")]
    X86_64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }
}

/// Queue settings; unset values come from `defaults.queue`, then built-in defaults.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    /// Queue name (default from `naming.queue`).
    pub name: Option<Sp<String>>,
    /// Dead-letter queue name (default from `naming.dlq`).
    pub dlq_name: Option<Sp<String>>,
    /// Visibility timeout (default 6 x function timeout + batching window).
    pub visibility_timeout: Option<Sp<Duration>>,
    /// Message retention of the queue (default 4d).
    pub retention: Option<Sp<Duration>>,
    /// Message retention of the DLQ (default 14d).
    pub dlq_retention: Option<Sp<Duration>>,
    /// Receives before a message moves to the DLQ (default 5).
    pub max_receive_count: Option<Sp<u32>>,
    /// Records per invocation (default 10).
    pub batch_size: Option<Sp<u32>>,
    /// Maximum batching window (default 0s).
    pub batching_window: Option<Sp<Duration>>,
    /// Maximum concurrent invocations from the queue (2..1000).
    pub max_concurrency: Option<Sp<u32>>,
    /// Long-polling wait (default 20s).
    pub receive_wait: Option<Sp<Duration>>,
    /// FIFO queue (S3 cannot send to FIFO queues).
    pub fifo: Option<Sp<bool>>,
}

impl QueueSpec {
    /// The settings written, by key, with where each was written.
    pub fn written(&self) -> Vec<(&'static str, crate::report::span::Span)> {
        [
            ("name", self.name.as_ref().map(|v| v.span)),
            ("dlq_name", self.dlq_name.as_ref().map(|v| v.span)),
            ("visibility_timeout", self.visibility_timeout.as_ref().map(|v| v.span)),
            ("retention", self.retention.as_ref().map(|v| v.span)),
            ("dlq_retention", self.dlq_retention.as_ref().map(|v| v.span)),
            ("max_receive_count", self.max_receive_count.as_ref().map(|v| v.span)),
            ("batch_size", self.batch_size.as_ref().map(|v| v.span)),
            ("batching_window", self.batching_window.as_ref().map(|v| v.span)),
            ("max_concurrency", self.max_concurrency.as_ref().map(|v| v.span)),
            ("receive_wait", self.receive_wait.as_ref().map(|v| v.span)),
            ("fifo", self.fifo.as_ref().map(|v| v.span)),
        ]
        .into_iter()
        .filter_map(|(key, span)| Some((key, span?)))
        .collect()
    }
}

/// How many objects a write produces per run of the stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum PerRun {
    /// One object per run (default).
    #[default]
    One,
    /// Several objects per run.
    Many,
}

/// An object a stage writes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteSpec {
    /// Name of the output (the stage finds it under this name; default `output`, `output2`, ...).
    pub name: Option<Sp<String>>,
    /// Short name of the bucket.
    pub bucket: Sp<String>,
    /// Key template with `{variable}` placeholders (`raw/box_scores/date={date}/data.json`).
    pub key: Sp<String>,
    /// `one` (default) or `many` objects per run.
    pub per_run: Option<Sp<PerRun>>,
}

/// Where a stage puts input it cannot use.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuarantineSpec {
    pub bucket: Sp<String>,
    pub prefix: Sp<String>,
}

/// Alarm thresholds; `off` disables an alarm.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmsSpec {
    /// Visible messages in the queue above this (backlog).
    pub queue_depth: Option<Sp<Threshold>>,
    /// Age of the oldest message above this (a stalled consumer).
    pub queue_age: Option<Sp<Threshold>>,
    /// Messages in the DLQ above this (`0`: any message).
    pub dlq_depth: Option<Sp<Threshold>>,
    /// Maximum function duration above this.
    pub duration: Option<Sp<Threshold>>,
    /// Function errors above this.
    pub errors: Option<Sp<Threshold>>,
    /// Function throttles above this.
    pub throttles: Option<Sp<Threshold>>,
}
