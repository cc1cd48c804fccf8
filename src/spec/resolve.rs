//! The spec file -> the pipeline graph: names rendered from the naming conventions, defaults
//! applied, references between buckets, stages and tables resolved. Problems found on the way are
//! diagnostics (all of them, not the first).

use super::duration::{Duration, Threshold};
use super::model::{self, Architecture, PerRun, Runs, SpecFile, Via};
use super::pattern::{KeyPattern, KeyTemplate};
use super::span::{Sp, Span};
use crate::report::Diagnostic;
use crate::report::codes;
use handlebars::Handlebars;
use pipewright_stage as contract;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

/// The pipeline as one graph, ready for checks and generation.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub project: Sp<String>,
    pub region: Sp<String>,
    pub stack_name: String,
    pub tags: Vec<(String, String)>,
    pub alerts: Option<Alerts>,
    /// Where the spec says `alerts: none` (no alerting, deliberately).
    pub alerts_off: Option<Span>,
    pub buckets: Vec<Bucket>,
    pub tables: Option<Tables>,
    pub stages: Vec<Stage>,
    /// Example values of key-template variables.
    pub examples: BTreeMap<String, String>,
    /// Position in `buckets` by short name, in `stages` by name, built by [`resolve`] with them (a
    /// 1,000-stage spec looks them up ~10,000 times while generating).
    bucket_index: HashMap<String, usize>,
    stage_index: HashMap<String, usize>,
}

#[derive(Debug, Clone)]
pub struct Alerts {
    pub topic: Sp<String>,
    pub email: Option<Sp<Email>>,
}

/// The alert e-mail address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Email {
    /// A stack parameter.
    Parameter,
    Address(String),
}

#[derive(Debug, Clone)]
pub struct Bucket {
    /// Short name (`bronze`), with the span of its key in `buckets`.
    pub key: Sp<String>,
    /// Full name (`hoopstat-haus-bronze`).
    pub name: Sp<String>,
    pub versioning: bool,
    pub lifecycle: Lifecycle,
}

/// Lifecycle ages in days.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub intelligent_tiering_days: Option<Sp<u64>>,
    pub infrequent_access_days: Option<Sp<u64>>,
    pub glacier_days: Option<Sp<u64>>,
    pub expire_days: Option<Sp<u64>>,
    pub noncurrent_expire_days: Sp<u64>,
    pub abort_incomplete_upload_days: Sp<u64>,
}

#[derive(Debug, Clone)]
pub struct Tables {
    pub bucket_key: Sp<String>,
    pub bucket_name: Sp<String>,
    pub namespace: Sp<String>,
    pub tables: Vec<Table>,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: Sp<String>,
    pub columns: Vec<Column>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: Sp<String>,
    pub ty: Sp<String>,
    pub required: bool,
    /// The partition transform as written (`check` parses it and reports a bad one).
    pub partition: Option<Sp<String>>,
}

impl Column {
    /// The column's partition transform as declared (`None`: no `partition:`), checked against its type.
    pub fn declared_transform(&self) -> Option<Result<super::partition::Transform, super::partition::TransformError>> {
        let text = self.partition.as_ref()?;
        let checked = super::partition::Transform::parse(&text.value);
        Some(checked.and_then(|t| t.check_type(&self.ty.value).map(|()| t)))
    }

    /// The column's partition transform, when it declares a valid one for its type.
    pub fn transform(&self) -> Option<super::partition::Transform> {
        self.declared_transform()?.ok()
    }
}

impl Table {
    /// The partition fields: (field id of the source column, 1-based in column order; column; transform).
    pub fn partition_fields(&self) -> Vec<(usize, &Column, super::partition::Transform)> {
        self.columns.iter().zip(1..).filter_map(|(c, id)| Some((id, c, c.transform()?))).collect()
    }
}

impl Stage {
    /// The stage's dead-letter queue: its queue's (a triggered stage: messages that failed every
    /// receive), or its schedule's (a scheduled Lambda: runs that failed every retry).
    pub fn dlq_name(&self) -> Option<&Sp<String>> {
        match (&self.queue, &self.schedule) {
            (Some(q), _) => Some(&q.dlq_name),
            (None, Some(sch)) => sch.dlq_name.as_ref(),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Stage {
    /// Stage name with the span of its key in `stages`.
    pub name: Sp<String>,
    pub runs: Runs,
    pub trigger: Option<Trigger>,
    pub schedule: Option<Schedule>,
    /// Present for stages that run as Lambda functions.
    pub function: Option<Function>,
    /// Present for triggered Lambda stages.
    pub queue: Option<Queue>,
    pub writes: Vec<Write>,
    pub writes_tables: Vec<Sp<String>>,
    pub quarantine: Option<Quarantine>,
    pub alarms: Vec<Alarm>,
}

#[derive(Debug, Clone)]
pub struct Trigger {
    /// Short bucket name.
    pub bucket: Sp<String>,
    pub pattern: KeyPattern,
    /// Span of `pattern` (or `prefix`).
    pub span: Span,
    /// Raw `prefix`/`suffix` as written, when the trigger uses them instead of `pattern`.
    pub raw_prefix: Option<Sp<String>>,
    pub raw_suffix: Option<Sp<String>>,
    pub events: Vec<Sp<String>>,
    pub coalesce: Option<Sp<String>>,
    pub external: bool,
    /// How its events are delivered (`s3` when the spec does not say).
    pub via: Sp<Via>,
}

impl Trigger {
    pub fn through_eventbridge(&self) -> bool {
        self.via.value == Via::Eventbridge
    }
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub expression: Sp<String>,
    pub timezone: Sp<String>,
    /// Where the payloads of a scheduled Lambda's failed runs go (after Lambda's retries, or when the
    /// schedule cannot invoke the function): `None` for a `runs: local` stage, which cron starts.
    pub dlq_name: Option<Sp<String>>,
}

#[derive(Debug, Clone)]
pub struct Function {
    pub name: Sp<String>,
    pub role_name: Sp<String>,
    pub log_group: Sp<String>,
    pub timeout: Sp<Duration>,
    pub memory: Sp<u32>,
    pub architecture: Sp<Architecture>,
    pub log_retention_days: Sp<u64>,
    pub reserved_concurrency: Option<Sp<u32>>,
    /// Extra environment variables from the spec.
    pub env: Vec<(Sp<String>, Sp<String>)>,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: Sp<String>,
    pub dlq_name: Sp<String>,
    pub visibility_timeout: Sp<Duration>,
    pub retention: Sp<Duration>,
    pub dlq_retention: Sp<Duration>,
    pub max_receive_count: Sp<u32>,
    pub batch_size: Sp<u32>,
    pub batching_window: Sp<Duration>,
    /// The mapping's `ScalingConfig.MaximumConcurrency`: how many invocations it runs at once.
    pub max_concurrency: Sp<u32>,
    pub receive_wait: Sp<Duration>,
    pub fifo: Sp<bool>,
}

#[derive(Debug, Clone)]
pub struct Write {
    pub name: String,
    /// Short bucket name.
    pub bucket: Sp<String>,
    pub key: Sp<KeyTemplate>,
    pub per_run: PerRun,
}

#[derive(Debug, Clone)]
pub struct Quarantine {
    /// Short bucket name.
    pub bucket: Sp<String>,
    pub prefix: Sp<String>,
}

/// What an alarm watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlarmKind {
    QueueDepth,
    QueueAge,
    DlqDepth,
    Duration,
    Errors,
    /// Records a batch reported as failed (the stage library's `FailedRecords` metric): with partial
    /// batch responses the invocation succeeds, so `Errors` never counts them.
    FailedRecords,
    Throttles,
}

impl AlarmKind {
    pub const ALL: [AlarmKind; 7] = [
        AlarmKind::QueueDepth,
        AlarmKind::QueueAge,
        AlarmKind::DlqDepth,
        AlarmKind::Duration,
        AlarmKind::Errors,
        AlarmKind::FailedRecords,
        AlarmKind::Throttles,
    ];

    /// The key in `alarms:` and the suffix of the alarm name.
    pub fn key(self) -> &'static str {
        match self {
            AlarmKind::QueueDepth => "queue_depth",
            AlarmKind::QueueAge => "queue_age",
            AlarmKind::DlqDepth => "dlq_depth",
            AlarmKind::Duration => "duration",
            AlarmKind::Errors => "errors",
            AlarmKind::FailedRecords => "failed_records",
            AlarmKind::Throttles => "throttles",
        }
    }

    pub fn slug(self) -> String {
        self.key().replace('_', "-")
    }

    /// The CloudWatch metric the alarm watches: namespace, metric name and statistic.
    pub fn metric(self) -> (&'static str, &'static str, &'static str) {
        match self {
            AlarmKind::FailedRecords => (contract::METRIC_NAMESPACE, contract::FAILED_RECORDS, "Sum"),
            AlarmKind::QueueDepth | AlarmKind::DlqDepth => ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
            AlarmKind::QueueAge => ("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum"),
            AlarmKind::Duration => ("AWS/Lambda", "Duration", "Maximum"),
            AlarmKind::Errors => ("AWS/Lambda", "Errors", "Sum"),
            AlarmKind::Throttles => ("AWS/Lambda", "Throttles", "Sum"),
        }
    }

    /// The alarm's period in seconds: a minute for the stage's own metric (a failed record alarms
    /// within about two minutes), five for the services' metrics.
    pub fn period(self) -> u32 {
        match self {
            AlarmKind::FailedRecords => 60,
            _ => 300,
        }
    }

    /// Whether the alarm watches the stage's queue (else its function).
    pub fn needs_queue(self) -> bool {
        matches!(self, AlarmKind::QueueDepth | AlarmKind::QueueAge | AlarmKind::DlqDepth)
    }

    /// Whether a stage has this alarm: the queue's alarms and the failed records of the batches it
    /// delivers need a queue; the DLQ's, a dead-letter queue (a triggered or a scheduled Lambda stage's).
    pub fn applies(self, has_queue: bool, has_dlq: bool) -> bool {
        match self {
            AlarmKind::DlqDepth => has_dlq,
            _ => has_queue || !(self.needs_queue() || self == AlarmKind::FailedRecords),
        }
    }

    /// Built-in threshold when neither the stage nor the spec sets one.
    fn builtin(self) -> Threshold {
        match self {
            AlarmKind::QueueDepth => Threshold::Value(100),
            AlarmKind::QueueAge => Threshold::Off,
            AlarmKind::DlqDepth => Threshold::Value(0),
            AlarmKind::Duration => Threshold::Off,
            AlarmKind::Errors | AlarmKind::FailedRecords => Threshold::Value(0),
            AlarmKind::Throttles => Threshold::Value(0),
        }
    }

    fn pick(self, spec: &model::AlarmsSpec) -> Option<&Sp<Threshold>> {
        match self {
            AlarmKind::QueueDepth => spec.queue_depth.as_ref(),
            AlarmKind::QueueAge => spec.queue_age.as_ref(),
            AlarmKind::DlqDepth => spec.dlq_depth.as_ref(),
            AlarmKind::Duration => spec.duration.as_ref(),
            // Both count failures: the spec's `errors` threshold holds for each.
            AlarmKind::Errors | AlarmKind::FailedRecords => spec.errors.as_ref(),
            AlarmKind::Throttles => spec.throttles.as_ref(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Alarm {
    pub kind: AlarmKind,
    pub name: String,
    /// `Off` when disabled; durations and ages in seconds.
    pub threshold: Sp<Threshold>,
}

/// Name -> position of its first occurrence (a duplicate name, a spec error, resolves as a linear search would).
fn first_positions<'a>(names: impl Iterator<Item = &'a String>) -> HashMap<String, usize> {
    let mut index = HashMap::new();
    for (i, name) in names.enumerate() {
        index.entry(name.clone()).or_insert(i);
    }
    index
}

impl Pipeline {
    pub fn bucket(&self, key: &str) -> Option<&Bucket> {
        self.bucket_index.get(key).and_then(|&i| self.buckets.get(i))
    }

    /// Full name of a bucket by short name (the short name itself when unknown).
    pub fn bucket_name(&self, key: &str) -> String {
        self.bucket(key).map(|b| b.name.value.clone()).unwrap_or_else(|| key.to_string())
    }

    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stage_index.get(name).and_then(|&i| self.stages.get(i))
    }

    /// What to say when a command names a stage the spec does not have: the closest name, and all.
    pub fn no_stage(&self, name: &str) -> String {
        let names: Vec<&str> = self.stages.iter().map(|s| s.name.value.as_str()).collect();
        let guess = crate::report::suggest::did_you_mean(name, names.iter().copied())
            .map(|g| format!(": {g}"))
            .unwrap_or_default();
        format!("the spec has no stage `{name}`{guess} (stages: {})", names.join(", "))
    }

    /// Example value of a key-template variable.
    pub fn example(&self, variable: &str) -> String {
        self.examples.get(variable).cloned().unwrap_or_else(|| format!("sample-{variable}"))
    }

    /// A key the write produces, with example values.
    pub fn example_key(&self, write: &Write) -> String {
        write.key.render(|v| self.example(v))
    }

    /// The ARN of the table bucket, with CloudFormation pseudo-parameters (`${AWS::Region}`).
    pub fn table_bucket_arn_sub(&self) -> Option<String> {
        self.tables.as_ref().map(|t| {
            format!(
                "arn:${{AWS::Partition}}:s3tables:${{AWS::Region}}:${{AWS::AccountId}}:bucket/{}",
                t.bucket_name.value
            )
        })
    }

    /// The objects a stage's trigger delivers: the writes of upstream stages that its pattern matches.
    pub fn stage_inputs(&self, stage: &Stage) -> contract::StageInputs {
        let Some(trigger) = &stage.trigger else { return contract::StageInputs::default() };
        let inputs = self
            .stages
            .iter()
            .filter(|s| s.name.value != stage.name.value)
            .flat_map(|s| &s.writes)
            .filter(|w| w.bucket.value == trigger.bucket.value && trigger.pattern.matches(&self.example_key(w)))
            .map(|w| contract::Output {
                name: w.name.clone(),
                location: contract::S3Location { bucket: self.bucket_name(&w.bucket), key: w.key.template.clone() },
            })
            .collect();
        contract::StageInputs(inputs)
    }

    /// Every variable of a stage's environment contract, in a stable order.
    pub fn contract_vars(&self, stage: &Stage) -> Vec<(&'static str, String)> {
        let mut vars = self.stage_env(stage).to_vars();
        vars.extend(self.stage_inputs(stage).to_vars());
        vars
    }

    /// The environment-variable contract of a stage's function.
    pub fn stage_env(&self, stage: &Stage) -> contract::StageEnv {
        contract::StageEnv {
            stage: stage.name.value.clone(),
            input: stage
                .trigger
                .as_ref()
                .map(|t| contract::Input { bucket: self.bucket_name(&t.bucket), pattern: t.pattern.pattern.clone() }),
            outputs: stage
                .writes
                .iter()
                .map(|w| contract::Output {
                    name: w.name.clone(),
                    location: contract::S3Location { bucket: self.bucket_name(&w.bucket), key: w.key.template.clone() },
                })
                .collect(),
            quarantine: stage
                .quarantine
                .as_ref()
                .map(|q| contract::S3Location { bucket: self.bucket_name(&q.bucket), key: q.prefix.value.clone() }),
            tables: match (&self.tables, stage.writes_tables.is_empty()) {
                (Some(t), false) => Some(contract::TablesEnv {
                    table_bucket_arn: self.table_bucket_arn_sub().unwrap_or_default(),
                    namespace: t.namespace.value.clone(),
                    tables: stage.writes_tables.iter().map(|t| t.value.clone()).collect(),
                }),
                _ => None,
            },
        }
    }
}

/// Built-in example values of key-template variables.
pub const BUILTIN_EXAMPLES: [(&str, &str); 6] = [
    ("date", "2024-01-15"),
    ("season", "2023-24"),
    ("game_id", "0022300561"),
    ("year", "2024"),
    ("month", "01"),
    ("day", "15"),
];

const DEFAULT_NAMING: [(&str, &str); 10] = [
    ("bucket", "{{project}}-{{bucket}}"),
    ("queue", "{{project}}-{{stage}}-queue"),
    ("dlq", "{{project}}-{{stage}}-dlq"),
    ("function", "{{project}}-{{stage}}"),
    ("role", "{{function}}-role"),
    ("log_group", "/aws/lambda/{{function}}"),
    ("alarm", "{{project}}-{{stage}}-{{alarm}}"),
    ("topic", "{{project}}-alerts"),
    ("schedule", "{{project}}-{{stage}}-schedule"),
    ("stack", "{{project}}"),
];

struct Namer<'a> {
    hb: Handlebars<'a>,
    spans: BTreeMap<&'static str, Span>,
}

impl Namer<'_> {
    fn new(naming: &model::Naming, diags: &mut Vec<Diagnostic>) -> Self {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        let custom: [(&'static str, Option<&Sp<String>>); 10] = [
            ("bucket", naming.bucket.as_ref()),
            ("queue", naming.queue.as_ref()),
            ("dlq", naming.dlq.as_ref()),
            ("function", naming.function.as_ref()),
            ("role", naming.role.as_ref()),
            ("log_group", naming.log_group.as_ref()),
            ("alarm", naming.alarm.as_ref()),
            ("topic", naming.topic.as_ref()),
            ("schedule", naming.schedule.as_ref()),
            ("stack", naming.stack.as_ref()),
        ];
        let mut spans = BTreeMap::new();
        for ((kind, default), (_, custom)) in DEFAULT_NAMING.iter().zip(custom) {
            let (text, span) = match custom {
                Some(t) => (t.value.as_str(), t.span),
                None => (*default, Span::UNKNOWN),
            };
            spans.insert(*kind, span);
            if let Err(e) = hb.register_template_string(kind, text) {
                diags.push(
                    Diagnostic::error(
                        codes::INVALID_TEMPLATE,
                        span,
                        format!("naming template `{kind}` does not parse: {}", e.reason()),
                    )
                    .with_hint("write handlebars such as `{{project}}-{{stage}}-queue`"),
                );
                // Keep going with the default so later names still resolve.
                let _ = hb.register_template_string(kind, *default);
            }
        }
        Namer { hb, spans }
    }

    fn name(&self, kind: &'static str, ctx: &serde_json::Value, at: Span, diags: &mut Vec<Diagnostic>) -> Sp<String> {
        let span = self.spans.get(kind).copied().unwrap_or_default();
        match self.hb.render(kind, ctx) {
            Ok(s) => Sp::new(s, at),
            Err(e) => {
                diags.push(
                    Diagnostic::error(
                        codes::INVALID_TEMPLATE,
                        span.or(at),
                        format!("naming template `{kind}` does not render: {}", e.reason()),
                    )
                    .with_hint("the variables are `project`, `stage`, `bucket`, `function`, `alarm`, `table_bucket`"),
                );
                Sp::new(String::new(), at)
            }
        }
    }
}

/// An error for each variable of a key template that is neither built in nor declared in `examples:`.
fn unknown_variables(key: &Sp<KeyTemplate>, used: &[String], known: &[&str]) -> Vec<Diagnostic> {
    used.iter()
        .filter(|v| !known.contains(&v.as_str()))
        .map(|v| {
            let hint = match crate::report::suggest::closest(v, known.iter().copied()) {
                Some(guess) => format!("did you mean `{{{guess}}}`?"),
                None => format!(
                    "the variables are {}; declare another under `examples:` with an example value",
                    known.iter().map(|k| format!("`{{{k}}}`")).collect::<Vec<_>>().join(", ")
                ),
            };
            Diagnostic::error(
                codes::INVALID_TEMPLATE,
                key.span,
                format!("key template `{}` uses `{{{v}}}`, which is no variable", key.template),
            )
            .with_hint(hint)
        })
        .collect()
}

/// Picks the stage's value, else the default's, else the built-in one (spanned at `fallback`).
fn pick<T: Clone>(stage: &Option<Sp<T>>, default: &Option<Sp<T>>, builtin: T, fallback: Span) -> Sp<T> {
    stage.clone().or_else(|| default.clone()).unwrap_or(Sp::new(builtin, fallback))
}

/// Invocations an event source mapping runs at once unless the spec says otherwise: a bound on what a
/// replay or a back-fill drained at full speed costs in concurrency (the account's is shared) and in
/// commits racing each other.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 5;

/// AWS's recommended visibility timeout for a queue that feeds a function: 6 x the function timeout +
/// the batching window. Saturating: a timeout large enough to overflow is out of range, which
/// `check` reports (PW004).
pub fn recommended_visibility(timeout: Duration, window: Duration) -> Duration {
    Duration(timeout.secs().saturating_mul(6).saturating_add(window.secs()))
}

fn days(d: &Option<Sp<Duration>>) -> Option<Sp<u64>> {
    d.as_ref().map(|d| d.clone().map(|d| d.days_ceil()))
}

/// Resolves the spec file into the pipeline graph. Reference and template problems come back as
/// diagnostics; the pipeline is still returned so that more problems can be found.
pub fn resolve(spec: &SpecFile) -> (Pipeline, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let namer = Namer::new(&spec.naming, &mut diags);
    // The variables a key template may use: the built-in ones and those `examples:` declares.
    let variables =
        BUILTIN_EXAMPLES.iter().map(|(k, _)| *k).chain(spec.examples.keys().map(|k| k.value.as_str())).collect();
    let mut r = Resolver { spec, namer, diags, variables };
    let project = spec.project.clone();
    let buckets = r.buckets();
    let tables = r.tables();
    let (alerts, alerts_off) = r.alerts();
    let stages: Vec<Stage> = spec.stages.iter().map(|(name, st)| r.stage(name, &st.value)).collect();

    if let Some(t) = &tables
        && spec.stages.values().all(|s| s.value.writes_tables.is_empty())
    {
        r.diags.push(Diagnostic::warning(
            codes::UNKNOWN_REFERENCE,
            t.bucket_key.span,
            "no stage writes the declared tables",
        ));
    }

    let mut examples: BTreeMap<String, String> =
        BUILTIN_EXAMPLES.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    for (k, v) in &spec.examples {
        examples.insert(k.value.clone(), v.value.clone());
    }

    let root = json!({ "project": project.value });
    let stack_name = r.namer.name("stack", &root, project.span, &mut r.diags).value;
    let pipeline = Pipeline {
        region: spec.region.clone().unwrap_or(Sp::new("us-east-1".to_string(), project.span)),
        stack_name,
        project,
        tags: spec.tags.iter().map(|(k, v)| (k.value.clone(), v.value.clone())).collect(),
        alerts,
        alerts_off,
        bucket_index: first_positions(buckets.iter().map(|b| &b.key.value)),
        stage_index: first_positions(stages.iter().map(|s| &s.name.value)),
        buckets,
        tables,
        stages,
        examples,
    };
    (pipeline, r.diags)
}

/// The state of one resolution: the spec, its naming conventions and the diagnostics found so far.
struct Resolver<'a> {
    spec: &'a SpecFile,
    namer: Namer<'a>,
    diags: Vec<Diagnostic>,
    /// The variables a key template may use.
    variables: Vec<&'a str>,
}

impl<'a> Resolver<'a> {
    fn project(&self) -> &'a str {
        &self.spec.project.value
    }

    fn buckets(&mut self) -> Vec<Bucket> {
        let project = self.project();
        let mut out = Vec::new();
        for (key, b) in &self.spec.buckets {
            let name = match &b.name {
                Some(n) => n.clone(),
                None => {
                    let ctx = json!({ "project": project, "bucket": key.value });
                    self.namer.name("bucket", &ctx, key.span, &mut self.diags)
                }
            };
            let l = &b.lifecycle;
            out.push(Bucket {
                key: key.clone(),
                name,
                versioning: b.versioning.as_ref().is_none_or(|v| v.value),
                lifecycle: Lifecycle {
                    intelligent_tiering_days: days(&l.intelligent_tiering_after),
                    infrequent_access_days: days(&l.infrequent_access_after),
                    glacier_days: days(&l.glacier_after),
                    expire_days: days(&l.expire_after),
                    noncurrent_expire_days: days(&l.noncurrent_expire_after).unwrap_or(Sp::new(30, key.span)),
                    abort_incomplete_upload_days: days(&l.abort_incomplete_uploads_after)
                        .unwrap_or(Sp::new(7, key.span)),
                },
            });
        }
        out
    }

    fn tables(&self) -> Option<Tables> {
        let project = self.project();
        self.spec.tables.as_ref().map(|t| Tables {
            bucket_key: t.bucket.clone(),
            bucket_name: t
                .bucket_name
                .clone()
                .unwrap_or_else(|| Sp::new(format!("{project}-{}", t.bucket.value), t.bucket.span)),
            namespace: t.namespace.clone(),
            tables: t
                .tables
                .iter()
                .map(|(name, cols)| Table {
                    name: name.clone(),
                    columns: cols
                        .iter()
                        .map(|c| Column {
                            name: c.name.clone(),
                            ty: c.ty.clone(),
                            required: c.required,
                            partition: c.partition.clone(),
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// The alert topic, and where `alerts: none` says there is none.
    fn alerts(&mut self) -> (Option<Alerts>, Option<Span>) {
        let alerts = self.spec.alerts.as_ref();
        let off = alerts.filter(|a| matches!(a.value, model::AlertsSetting::None)).map(|a| a.span);
        let Some(model::AlertsSetting::Topic(a)) = alerts.map(|a| &a.value) else { return (None, off) };
        let root = json!({ "project": self.project() });
        let topic = match &a.topic {
            Some(t) => t.clone(),
            None => self.namer.name("topic", &root, Span::UNKNOWN, &mut self.diags),
        };
        let email = a
            .email
            .as_ref()
            .map(|e| e.clone().map(|text| if text == "parameter" { Email::Parameter } else { Email::Address(text) }));
        (Some(Alerts { topic, email }), off)
    }

    /// An error when `b` is not a bucket of `buckets:`.
    fn known_bucket(&mut self, b: &Sp<String>, what: &str) {
        if self.spec.buckets.keys().any(|k| k.value == b.value) {
            return;
        }
        let known: Vec<&str> = self.spec.buckets.keys().map(|k| k.value.as_str()).collect();
        let hint = crate::report::suggest::undeclared(&b.value, &known, "buckets", "buckets:");
        self.diags.push(
            Diagnostic::error(
                codes::UNKNOWN_REFERENCE,
                b.span,
                format!("{what} names bucket `{}`, which `buckets` does not declare", b.value),
            )
            .with_hint(hint),
        );
    }

    fn stage(&mut self, name: &Sp<String>, s: &model::StageSpec) -> Stage {
        let runs = s.runs.as_ref().map(|r| r.value).unwrap_or_default();
        let trigger = s.trigger.as_ref().map(|t| self.trigger(t));
        let function = (runs == Runs::Lambda).then(|| self.function(name, &s.function));
        let queue = match (&function, &trigger) {
            (Some(func), Some(_)) => Some(self.queue(name, &s.queue, func)),
            _ => None,
        };
        self.how_it_starts(name, s, runs);
        let writes = self.writes(s);
        self.writes_tables(name, s);
        let quarantine = match &s.quarantine {
            Some(q) => {
                self.known_bucket(&q.bucket, "the quarantine");
                Some(Quarantine { bucket: q.bucket.clone(), prefix: q.prefix.clone() })
            }
            None => {
                writes.first().map(|w| w.bucket.clone()).or_else(|| trigger.as_ref().map(|t| t.bucket.clone())).map(
                    |bucket| Quarantine {
                        bucket: Sp::new(bucket.value, name.span),
                        prefix: Sp::new(format!("quarantine/{}/", name.value), name.span),
                    },
                )
            }
        };
        let ctx = json!({ "project": self.project(), "stage": name.value });
        let schedule = s.schedule.as_ref().map(|sch| Schedule {
            name: self.namer.name("schedule", &ctx, name.span, &mut self.diags).value,
            expression: sch.expression.clone(),
            timezone: sch.timezone.clone().unwrap_or(Sp::new("UTC".to_string(), sch.expression.span)),
            // A stage with a queue as well is refused (`how_it_starts`); it gets no second DLQ.
            dlq_name: (function.is_some() && queue.is_none())
                .then(|| self.namer.name("dlq", &ctx, sch.expression.span, &mut self.diags)),
        });
        let has_dlq = queue.is_some() || schedule.as_ref().is_some_and(|s| s.dlq_name.is_some());
        let alarms = match &function {
            Some(func) => self.alarms(name, s, func, (queue.is_some(), has_dlq)),
            None => Vec::new(),
        };
        Stage {
            name: name.clone(),
            runs,
            trigger,
            schedule,
            function,
            queue,
            writes,
            writes_tables: s.writes_tables.clone(),
            quarantine,
            alarms,
        }
    }

    fn trigger(&mut self, t: &model::TriggerSpec) -> Trigger {
        self.known_bucket(&t.bucket, "the trigger");
        let (pattern, span) = match (&t.pattern, &t.prefix, &t.suffix) {
            (Some(p), None, None) => (KeyPattern::parse(&p.value), p.span),
            (None, prefix, suffix) => {
                let empty = String::new();
                let span = prefix.as_ref().or(suffix.as_ref()).map(|p| p.span).unwrap_or(t.bucket.span);
                (
                    KeyPattern::from_filter(
                        prefix.as_ref().map(|p| &p.value).unwrap_or(&empty),
                        suffix.as_ref().map(|s| &s.value).unwrap_or(&empty),
                    ),
                    span,
                )
            }
            (Some(p), _, _) => {
                self.diags.push(
                    Diagnostic::error(
                        codes::INVALID_VALUE,
                        p.span,
                        "a trigger has either `pattern` or `prefix`/`suffix`, not both",
                    )
                    .with_hint("keep `pattern`: pipewright derives the S3 filter from it"),
                );
                (KeyPattern::parse(&p.value), p.span)
            }
        };
        Trigger {
            bucket: t.bucket.clone(),
            pattern,
            span,
            raw_prefix: t.prefix.clone(),
            raw_suffix: t.suffix.clone(),
            events: t.events.clone().unwrap_or_else(|| vec![Sp::new("s3:ObjectCreated:*".to_string(), t.bucket.span)]),
            coalesce: t.coalesce.clone(),
            external: t.external,
            via: t.via.clone().unwrap_or_else(|| Sp::new(Via::S3, t.bucket.span)),
        }
    }

    fn function(&mut self, name: &Sp<String>, f: &model::FunctionSpec) -> Function {
        let (df, at) = (&self.spec.defaults.function, name.span);
        let ctx = json!({ "project": self.project(), "stage": name.value });
        let fname = match &f.name {
            Some(n) => n.clone(),
            None => self.namer.name("function", &ctx, at, &mut self.diags),
        };
        let fctx = json!({ "project": self.project(), "stage": name.value, "function": fname.value });
        let mut env: Vec<(Sp<String>, Sp<String>)> = df.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (k, v) in &f.env {
            env.retain(|(dk, _)| dk.value != k.value);
            env.push((k.clone(), v.clone()));
        }
        Function {
            role_name: self.namer.name("role", &fctx, fname.span, &mut self.diags),
            log_group: self.namer.name("log_group", &fctx, fname.span, &mut self.diags),
            name: fname,
            timeout: pick(&f.timeout, &df.timeout, Duration(60), at),
            memory: pick(&f.memory, &df.memory, 512, at),
            architecture: pick(&f.architecture, &df.architecture, Architecture::Arm64, at),
            log_retention_days: days(&f.log_retention).or_else(|| days(&df.log_retention)).unwrap_or(Sp::new(30, at)),
            reserved_concurrency: f.reserved_concurrency.clone().or(df.reserved_concurrency.clone()),
            env,
        }
    }

    fn queue(&mut self, name: &Sp<String>, q: &model::QueueSpec, func: &Function) -> Queue {
        let (dq, at) = (&self.spec.defaults.queue, name.span);
        let ctx = json!({ "project": self.project(), "stage": name.value });
        let window = pick(&q.batching_window, &dq.batching_window, Duration(0), at);
        let recommended = recommended_visibility(func.timeout.value, window.value);
        let queue_name = match &q.name {
            Some(n) => n.clone(),
            None => self.namer.name("queue", &ctx, at, &mut self.diags),
        };
        let dlq_name = match &q.dlq_name {
            Some(n) => n.clone(),
            None => self.namer.name("dlq", &ctx, at, &mut self.diags),
        };
        Queue {
            name: queue_name,
            dlq_name,
            visibility_timeout: pick(&q.visibility_timeout, &dq.visibility_timeout, recommended, at),
            retention: pick(&q.retention, &dq.retention, Duration(4 * 86_400), at),
            dlq_retention: pick(&q.dlq_retention, &dq.dlq_retention, Duration(14 * 86_400), at),
            max_receive_count: pick(&q.max_receive_count, &dq.max_receive_count, 5, at),
            batch_size: pick(&q.batch_size, &dq.batch_size, 10, at),
            batching_window: window,
            max_concurrency: pick(&q.max_concurrency, &dq.max_concurrency, DEFAULT_MAX_CONCURRENCY, at),
            receive_wait: pick(&q.receive_wait, &dq.receive_wait, Duration(20), at),
            fifo: pick(&q.fifo, &dq.fifo, false, at),
        }
    }

    /// Errors for a stage nothing starts, a local stage with an S3 trigger, or a Lambda stage with both a
    /// trigger and a schedule.
    fn how_it_starts(&mut self, name: &Sp<String>, s: &model::StageSpec, runs: Runs) {
        if runs == Runs::Local
            && let Some(t) = &s.trigger
        {
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_VALUE,
                    t.bucket.span,
                    format!("stage `{}` runs locally and cannot have an S3 trigger", name.value),
                )
                .with_hint("remove `runs: local`, or start the stage with a `schedule`"),
            );
        }
        if runs != Runs::Local
            && let (Some(_), Some(sch)) = (&s.trigger, &s.schedule)
        {
            // Its handler reads S3 events from its queue; a scheduled run would reach it as an
            // invocation it cannot read, and its failed runs would have no DLQ of their own.
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_VALUE,
                    sch.expression.span,
                    format!(
                        "stage `{}` has both a `trigger` and a `schedule`: a Lambda stage is started by one of them",
                        name.value
                    ),
                )
                .with_hint("split it into a triggered stage and a scheduled stage, each with its own handler"),
            );
        }
        if s.trigger.is_none() {
            // No trigger, no queue: a queue setting here would be silently without effect.
            for (key, span) in s.queue.written() {
                self.diags.push(
                    Diagnostic::error(
                        codes::INVALID_VALUE,
                        span,
                        format!("stage `{}` has no trigger, so no queue: `queue.{key}` is not used", name.value),
                    )
                    .with_hint(
                        "remove it; a scheduled Lambda stage's dead-letter queue of failed runs is named by `naming.dlq` and keeps them 14 days",
                    ),
                );
            }
        }
        if s.trigger.is_none() && s.schedule.is_none() {
            self.diags.push(
                Diagnostic::error(
                    codes::INVALID_VALUE,
                    name.span,
                    format!("stage `{}` has neither a `trigger` nor a `schedule`: nothing starts it", name.value),
                )
                .with_hint("add `trigger: {bucket: ..., pattern: ...}` or a `schedule`"),
            );
        }
    }

    fn writes(&mut self, s: &model::StageSpec) -> Vec<Write> {
        let mut writes = Vec::new();
        for (i, w) in s.writes.iter().enumerate() {
            self.known_bucket(&w.bucket, "a write");
            let key = w.key.clone().map(|template| KeyTemplate { template });
            match key.variables() {
                Err(e) => self.diags.push(
                    Diagnostic::error(
                        codes::INVALID_TEMPLATE,
                        key.span,
                        format!("key template `{}` is malformed: {e:?}", key.template),
                    )
                    .with_hint("write variables as `{name}`, e.g. `raw/date={date}/data.json`"),
                ),
                Ok(vars) => self.diags.extend(unknown_variables(&key, &vars, &self.variables)),
            }
            let name = w
                .name
                .as_ref()
                .map(|n| n.value.clone())
                .unwrap_or_else(|| if i == 0 { "output".to_string() } else { format!("output{}", i + 1) });
            writes.push(Write {
                name,
                bucket: w.bucket.clone(),
                key,
                per_run: w.per_run.as_ref().map(|p| p.value).unwrap_or_default(),
            });
        }
        writes
    }

    /// Errors for the tables a stage writes that `tables:` does not declare.
    fn writes_tables(&mut self, name: &Sp<String>, s: &model::StageSpec) {
        let known: Vec<&str> =
            self.spec.tables.iter().flat_map(|ts| ts.tables.keys()).map(|k| k.value.as_str()).collect();
        for t in s.writes_tables.iter().filter(|t| !known.contains(&t.value.as_str())) {
            let hint = crate::report::suggest::undeclared(&t.value, &known, "tables", "tables.tables:");
            self.diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_REFERENCE,
                    t.span,
                    format!("stage `{}` writes table `{}`, which `tables` does not declare", name.value, t.value),
                )
                .with_hint(hint),
            );
        }
    }

    fn alarms(
        &mut self,
        name: &Sp<String>,
        s: &model::StageSpec,
        func: &Function,
        (has_queue, has_dlq): (bool, bool),
    ) -> Vec<Alarm> {
        let mut alarms = Vec::new();
        for kind in AlarmKind::ALL.into_iter().filter(|k| k.applies(has_queue, has_dlq)) {
            let threshold = kind
                .pick(&s.alarms)
                .or_else(|| kind.pick(&self.spec.alarms))
                .cloned()
                .unwrap_or(Sp::new(kind.builtin(), name.span));
            let ctx = json!({ "project": self.project(), "stage": name.value,
                              "function": func.name.value, "alarm": kind.slug() });
            alarms.push(Alarm {
                kind,
                name: self.namer.name("alarm", &ctx, name.span, &mut self.diags).value,
                threshold,
            });
        }
        alarms
    }
}
