//! `status`: the live health of each stage, read concurrently: schedule (or, for a local stage, its
//! newest output), queue depth / in flight / oldest message, DLQ depth, event source mapping state
//! and last processing result, function errors and throttles over a window, the newest error lines of
//! its log group, alarms in ALARM, the newest object of each output. Each fact that can be wrong is a
//! finding: degraded (backlog, errors, throttles, an alarm) or broken (missing, disabled, dead letters).
//! A read that failed (access denied, throttled, unreachable) is "could not read", never healthy.

use super::{human_age, now_ms};
use crate::aws::live::{AlarmState, LiveFunction, LiveRule, LiveSchedule, MappingState, Readers};
use crate::aws::ops::{LogLine, MappingStatus, ObjectInfo};
use crate::aws::{AwsError, ErrorKind};
use crate::report::span::Span;
use crate::report::status::Health;
use crate::report::{Diagnostic, Resource, Severity};
use crate::spec::Pipeline;
use crate::spec::duration::Threshold;
use crate::spec::resolve::{AlarmKind, Stage};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Healthy,
    /// Could not read: the answer is unknown.
    Unknown,
    Degraded,
    Broken,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Healthy => "healthy",
            Level::Unknown => "unknown",
            Level::Degraded => "degraded",
            Level::Broken => "broken",
        }
    }

    /// The state of a resource in a status document (`graph --status`): degraded is drawn as drift.
    fn health(self) -> Health {
        match self {
            Level::Healthy => Health::Ok,
            Level::Unknown => Health::Unknown,
            Level::Degraded => Health::Drift,
            Level::Broken => Health::Broken,
        }
    }
}

impl Level {
    /// How bad a finding of `severity` makes its stage: an error breaks it, a warning degrades it, a note
    /// (something that could not be read) leaves it unknown.
    pub fn of(severity: Severity) -> Level {
        match severity {
            Severity::Error => Level::Broken,
            Severity::Warning => Level::Degraded,
            Severity::Note => Level::Unknown,
        }
    }
}

/// The CloudFormation type of what a status line (`queue`, `dlq`, ...) reads.
fn kind(label: &str) -> &'static str {
    match label {
        "schedule" => "AWS::Scheduler::Schedule",
        "rule" => "AWS::Events::Rule",
        "queue" | "dlq" => "AWS::SQS::Queue",
        "function" => "AWS::Lambda::Function",
        "log" => "AWS::Logs::LogGroup",
        "mapping" => "AWS::Lambda::EventSourceMapping",
        "alarms" => "AWS::CloudWatch::Alarm",
        "newest" => "AWS::S3::Bucket",
        "table" => "AWS::S3Tables::Table",
        _ => "",
    }
}

/// One line of facts: a label and its value.
#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageStatus {
    pub stage: String,
    pub verdict: Level,
    pub facts: Vec<Fact>,
    /// The newest error lines of the function's log group over the window.
    pub errors: Vec<String>,
    /// What is wrong (Snnn codes; severity error: broken, warning: degraded, note: could not read).
    pub findings: Vec<Diagnostic>,
    /// Numbers for scripts: visible, in_flight, dlq, errors, failed_records, throttles, invocations, oldest_age_s.
    pub numbers: BTreeMap<String, f64>,
    #[serde(skip)]
    resources: BTreeMap<String, Level>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub verdict: Level,
    /// Resource name -> ok|drift|broken|unknown: the status document `graph --status` reads.
    pub resources: BTreeMap<String, Health>,
    pub stages: Vec<StageStatus>,
    pub since_secs: u64,
}

impl Report {
    /// The report as one JSON document; each finding as every command's JSON report has it.
    pub fn to_json(&self, spec: &str) -> serde_json::Value {
        let mut doc = serde_json::to_value(self).unwrap_or_default();
        let subject = crate::report::render::Subject { path: spec, text: "" };
        for (stage, s) in self.stages.iter().zip(doc["stages"].as_array_mut().into_iter().flatten()) {
            s["findings"] = stage.findings.iter().map(|d| crate::report::render::json_item(&subject, d)).collect();
        }
        doc
    }
}

struct Builder<'a> {
    spec: &'a str,
    /// The stage's node in the spec, where its findings point.
    span: Span,
    s: StageStatus,
}

impl Builder<'_> {
    fn fact(&mut self, label: &str, value: impl Into<String>) {
        self.s.facts.push(Fact { label: label.to_string(), value: value.into() });
    }

    fn resource(&mut self, name: &str, level: Level) {
        let e = self.s.resources.entry(name.to_string()).or_insert(Level::Healthy);
        *e = (*e).max(level);
    }

    /// Finding `code` about `resource` (a `label` of [`kind`]), with its code's severity.
    fn find(
        &mut self,
        code: &'static str,
        (label, resource): (&str, &str),
        text: impl Into<String>,
        hint: Option<String>,
    ) {
        let d = Diagnostic::about(code, Resource::new(resource, kind(label)), self.span, text);
        self.push(Diagnostic { hint, ..d });
    }

    fn push(&mut self, d: Diagnostic) {
        let name = d.resource.as_ref().map(|r| r.name.clone()).unwrap_or_default();
        self.resource(&name, Level::of(d.severity));
        // Two outputs in one bucket would say the same thing twice.
        if !self.s.findings.iter().any(|f| f.resource == d.resource && f.message == d.message) {
            self.s.findings.push(d);
        }
    }

    /// A read that failed: missing resources are broken, anything else could not be read.
    fn failed(&mut self, resource: &str, label: &'static str, e: &AwsError) {
        if e.kind == ErrorKind::NotFound {
            self.find("S101", (label, resource), format!("`{resource}` does not exist"), Some(self.deploy_hint()));
        } else {
            self.fact(label, "could not read");
            self.find(crate::report::codes::COULD_NOT_READ, (label, resource), format!("could not read: {e}"), None);
        }
    }

    fn deploy_hint(&self) -> String {
        format!("pipewright verify {}; pipewright deploy {} --dry-run", self.spec, self.spec)
    }

    fn number(&mut self, name: &str, value: f64) {
        self.s.numbers.insert(name.to_string(), value);
    }
}

fn threshold(stage: &Stage, kind: AlarmKind) -> Option<u64> {
    stage.alarms.iter().find(|a| a.kind == kind).and_then(|a| match a.threshold.value {
        Threshold::Value(v) => Some(v),
        Threshold::Off => None,
    })
}

fn count(attrs: &BTreeMap<String, String>, name: &str) -> u64 {
    attrs.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Reads the health of the stages (all, or the one named).
pub async fn status(
    readers: &Readers,
    pipeline: &Pipeline,
    spec: &str,
    only: Option<&Stage>,
    since_secs: u64,
    account: Option<&str>,
) -> Report {
    let stages: Vec<&Stage> = match only {
        Some(s) => vec![s],
        None => pipeline.stages.iter().collect(),
    };
    let reads = stages.iter().map(|s| stage_status(readers, pipeline, spec, s, since_secs, account));
    let stages: Vec<StageStatus> = futures::future::join_all(reads).await;
    let mut resources = BTreeMap::new();
    for s in &stages {
        for (name, level) in &s.resources {
            let e = resources.entry(name.clone()).or_insert(Level::Healthy);
            *e = (*e).max(*level);
        }
    }
    let verdict = stages.iter().map(|s| s.verdict).max().unwrap_or(Level::Healthy);
    Report { verdict, resources: resources.into_iter().map(|(k, v)| (k, v.health())).collect(), stages, since_secs }
}

/// One read's answer.
type Read<T> = Result<T, AwsError>;
/// A queue's attributes, by name.
type Attributes = BTreeMap<String, String>;

/// What `status` reads of one stage, all at once: each read's own answer, judged by [`Builder`].
struct StageReads {
    schedule: Option<Read<Option<LiveSchedule>>>,
    /// The EventBridge rules of a trigger delivered through EventBridge, by name.
    rules: Vec<(String, Read<Option<LiveRule>>)>,
    /// A scheduled Lambda stage's DLQ of failed runs.
    failed_runs: Option<(String, Read<Option<Attributes>>)>,
    queue: Option<QueueReads>,
    function: Option<FunctionReads>,
    /// The names of the alarms read (those not switched off).
    alarm_names: Vec<String>,
    alarms: Option<Read<BTreeMap<String, AlarmState>>>,
    outputs: Vec<OutputRead>,
    tables: Vec<(String, Read<Option<i64>>)>,
}

struct QueueReads {
    queue: Read<Option<Attributes>>,
    dlq: Read<Option<Attributes>>,
    /// The age of the oldest message (CloudWatch).
    age: Read<Option<f64>>,
}

struct FunctionReads {
    function: Read<Option<LiveFunction>>,
    mappings: Read<Vec<MappingStatus>>,
    invocations: Read<Option<f64>>,
    errors: Read<Option<f64>>,
    failed_records: Read<Option<f64>>,
    throttles: Read<Option<f64>>,
    logs: Read<Option<Vec<LogLine>>>,
}

/// The objects under one output's key template.
struct OutputRead {
    bucket: String,
    glob: String,
    objects: Read<Option<(Vec<ObjectInfo>, bool)>>,
}

/// The health of one stage: everything read at once, then judged in a fixed order.
async fn stage_status(
    readers: &Readers,
    p: &Pipeline,
    spec: &str,
    stage: &Stage,
    since: u64,
    account: Option<&str>,
) -> StageStatus {
    let reads = read_stage(readers, p, stage, since, account).await;
    let mut b = Builder {
        spec,
        span: stage.name.span,
        s: StageStatus {
            stage: stage.name.value.clone(),
            verdict: Level::Healthy,
            facts: vec![],
            errors: vec![],
            findings: vec![],
            numbers: BTreeMap::new(),
            resources: BTreeMap::new(),
        },
    };
    b.schedule(stage, reads.schedule);
    b.rules(reads.rules);
    if let Some((dlq, read)) = reads.failed_runs {
        b.dlq(stage, &dlq, read);
    }
    let queue_arn = b.queues(stage, reads.queue);
    b.function(stage, since, queue_arn.as_deref(), reads.function);
    b.alarms(stage, &reads.alarm_names, reads.alarms);
    b.outputs(p, reads.outputs, reads.tables);
    b.s.verdict = b.s.findings.iter().map(|f| Level::of(f.severity)).max().unwrap_or(Level::Healthy);
    b.s
}

/// Reads the live state of one stage's resources, concurrently.
/// A function's configuration, mappings, metrics over the window and newest error lines.
async fn read_function(
    readers: &Readers,
    f: &crate::spec::resolve::Function,
    since: u64,
    since_ms: i64,
) -> FunctionReads {
    let n = f.name.value.as_str();
    let dim = ("FunctionName", n);
    let (function, mappings, invocations, errors, failed_records, throttles, logs) = futures::join!(
        readers.function(n),
        readers.mapping_status(n),
        readers.metric("AWS/Lambda", "Invocations", dim, since, false),
        readers.metric("AWS/Lambda", "Errors", dim, since, false),
        // The stage library's metric: records its batches reported as failed.
        readers.metric(
            pipewright_stage::METRIC_NAMESPACE,
            pipewright_stage::FAILED_RECORDS,
            (pipewright_stage::FUNCTION_DIMENSION, n),
            since,
            false
        ),
        readers.metric("AWS/Lambda", "Throttles", dim, since, false),
        readers.log_lines(&f.log_group.value, "ERROR", since_ms, 5),
    );
    FunctionReads { function, mappings, invocations, errors, failed_records, throttles, logs }
}

async fn read_stage(readers: &Readers, p: &Pipeline, stage: &Stage, since: u64, account: Option<&str>) -> StageReads {
    let since_ms = now_ms() - since as i64 * 1000;
    let queue_read = async {
        match &stage.queue {
            Some(q) => {
                let age = readers.metric(
                    "AWS/SQS",
                    "ApproximateAgeOfOldestMessage",
                    ("QueueName", &q.name.value),
                    since.min(900),
                    true,
                );
                let (queue, dlq, age) =
                    futures::join!(readers.queue(&q.name.value), readers.queue(&q.dlq_name.value), age);
                Some(QueueReads { queue, dlq, age })
            }
            None => None,
        }
    };
    let function_read = async {
        match &stage.function {
            Some(f) => Some(read_function(readers, f, since, since_ms).await),
            None => None,
        }
    };
    let alarm_names: Vec<String> =
        stage.alarms.iter().filter(|a| a.threshold.value != Threshold::Off).map(|a| a.name.clone()).collect();
    let alarms_read =
        async { if alarm_names.is_empty() { None } else { Some(readers.alarm_states(&alarm_names).await) } };
    let schedule_read = async {
        match (&stage.schedule, &stage.function) {
            (Some(s), Some(_)) => Some(readers.schedule(&s.name).await),
            _ => None,
        }
    };
    let outputs_read = futures::future::join_all(stage.writes.iter().map(|w| {
        let bucket = p.bucket_name(&w.bucket);
        let prefix = w.key.literal_prefix().to_string();
        let glob = w.key.as_glob();
        async move {
            let objects = readers.list_objects(&bucket, &prefix, 10).await;
            OutputRead { bucket, glob, objects }
        }
    }));
    let tables_read = async {
        match (&p.tables, account) {
            (Some(t), Some(account)) if !stage.writes_tables.is_empty() => {
                let arn = format!("arn:aws:s3tables:{}:{account}:bucket/{}", p.region.value, t.bucket_name.value);
                let reads = stage.writes_tables.iter().map(|table| {
                    let arn = arn.clone();
                    async move {
                        let name = format!("{}.{}", t.namespace.value, table.value);
                        (name, readers.table_modified(&arn, &t.namespace.value, &table.value).await)
                    }
                });
                futures::future::join_all(reads).await
            }
            _ => Vec::new(),
        }
    };
    let rules_read = futures::future::join_all(crate::cfn::desired::rules(p, stage).into_iter().map(|r| async move {
        let live = readers.rule(&r.name).await;
        (r.name, live)
    }));
    let failed_runs_read = async {
        match stage.schedule.as_ref().and_then(|sch| sch.dlq_name.as_ref()) {
            Some(dlq) => Some((dlq.value.clone(), readers.queue(&dlq.value).await)),
            None => None,
        }
    };
    let (queue, function, alarms, schedule, outputs, tables, (rules, failed_runs)) = futures::join!(
        queue_read,
        function_read,
        alarms_read,
        schedule_read,
        outputs_read,
        tables_read,
        futures::future::join(rules_read, failed_runs_read)
    );
    StageReads { schedule, rules, failed_runs, queue, function, alarm_names, alarms, outputs, tables }
}

/// The judging of what was read, section by section.
impl Builder<'_> {
    /// The schedule: its state on EventBridge Scheduler, or the local cron's (which AWS cannot see).
    fn schedule(&mut self, stage: &Stage, read: Option<Read<Option<LiveSchedule>>>) {
        let (b, name) = (self, &stage.name.value);
        if let Some(sch) = &stage.schedule {
            if stage.function.is_none() {
                b.fact(
                    "schedule",
                    format!(
                        "`{}` ({}) by the local cron (generated crontab `{name}.crontab`): AWS cannot see its runs; the newest output below is its last run",
                        sch.expression.value, sch.timezone.value
                    ),
                );
                b.resource(name, Level::Healthy);
            } else {
                match read {
                    Some(Ok(Some(live))) => {
                        let state = if live.enabled { "ENABLED" } else { "DISABLED" };
                        let (expr, tz) = (&live.expression, &live.timezone);
                        b.fact("schedule", format!("`{}` {expr} ({tz}): {state}", sch.name));
                        if !live.enabled {
                            b.find(
                                "S102",
                                ("schedule", &sch.name),
                                format!("schedule `{}` is {state}", sch.name),
                                Some(b.deploy_hint()),
                            );
                        } else {
                            b.resource(&sch.name, Level::Healthy);
                        }
                    }
                    Some(Ok(None)) => {
                        b.fact("schedule", "missing");
                        let hint = b.deploy_hint();
                        b.find(
                            "S101",
                            ("schedule", &sch.name),
                            format!("schedule `{}` does not exist", sch.name),
                            Some(hint),
                        );
                    }
                    Some(Err(e)) => b.failed(&sch.name, "schedule", &e),
                    None => {}
                }
            }
        }
    }

    /// The EventBridge rules that deliver the trigger's objects: each enabled, or nothing reaches the queue.
    fn rules(&mut self, rules: Vec<(String, Read<Option<LiveRule>>)>) {
        for (rule, read) in rules {
            match read {
                Ok(Some(live)) => {
                    self.fact("rule", format!("`{rule}` (EventBridge): {}", live.state));
                    if live.enabled() {
                        self.resource(&rule, Level::Healthy);
                    } else {
                        let hint = format!(
                            "aws events enable-rule --name {rule}; then replay the dates written meanwhile: pipewright replay {} --stage {} --date DATE --to DATE",
                            self.spec, self.s.stage
                        );
                        let text = format!("rule `{rule}` is {}: the objects it matches reach no queue", live.state);
                        self.find("S103", ("rule", &rule), text, Some(hint));
                    }
                }
                Ok(None) => {
                    self.fact("rule", format!("`{rule}` missing"));
                    let hint = self.deploy_hint();
                    self.find("S101", ("rule", &rule), format!("rule `{rule}` does not exist"), Some(hint));
                }
                Err(e) => self.failed(&rule, "rule", &e),
            }
        }
    }

    /// The queue (depth, in flight, oldest message) and its DLQ; the queue's ARN, when read.
    fn queues(&mut self, stage: &Stage, read: Option<QueueReads>) -> Option<String> {
        let (spec, name) = (self.spec, &stage.name.value);
        let b = self;
        let mut queue_arn = None;
        if let (Some(q), Some(QueueReads { queue, dlq, age })) = (&stage.queue, read) {
            let qn = q.name.value.as_str();
            match queue {
                Ok(Some(attrs)) => {
                    let visible = count(&attrs, "ApproximateNumberOfMessages");
                    let in_flight = count(&attrs, "ApproximateNumberOfMessagesNotVisible");
                    let delayed = count(&attrs, "ApproximateNumberOfMessagesDelayed");
                    queue_arn = attrs.get("QueueArn").cloned();
                    b.number("visible", visible as f64);
                    b.number("in_flight", in_flight as f64);
                    let oldest = match &age {
                        Ok(Some(s)) => {
                            b.number("oldest_age_s", *s);
                            human_age((*s * 1000.0) as i64)
                        }
                        Ok(None) => "no data (CloudWatch)".to_string(),
                        Err(e) if super::could_not_read(e) => "could not read".to_string(),
                        Err(_) => "no data (CloudWatch)".to_string(),
                    };
                    b.fact(
                        "queue",
                        format!(
                            "`{qn}`: {visible} visible, {in_flight} in flight, {delayed} delayed; oldest message {oldest}"
                        ),
                    );
                    b.resource(qn, Level::Healthy);
                    if let Some(limit) = threshold(stage, AlarmKind::QueueDepth)
                        && visible > limit
                    {
                        b.find(
                            "S201",
                            ("queue", qn),
                            format!("backlog: {visible} visible messages (alarm threshold {limit})"),
                            Some(format!("pipewright status {spec} --stage {name} (errors, throttles, mapping)")),
                        );
                    }
                    if let (Some(limit), Ok(Some(a))) = (threshold(stage, AlarmKind::QueueAge), &age)
                        && *a > limit as f64
                    {
                        b.find(
                            "S202",
                            ("queue", qn),
                            format!(
                                "oldest message is {} old (alarm threshold {limit} s)",
                                human_age((*a * 1000.0) as i64)
                            ),
                            None,
                        );
                    }
                }
                Ok(None) => {
                    b.fact("queue", format!("`{qn}` missing"));
                    let hint = b.deploy_hint();
                    b.find("S101", ("queue", qn), format!("queue `{qn}` does not exist"), Some(hint));
                }
                Err(e) => b.failed(qn, "queue", &e),
            }
            b.dlq(stage, &q.dlq_name.value, dlq);
        }
        queue_arn
    }

    /// A dead-letter queue: a triggered stage's (messages that failed every receive) or a scheduled
    /// stage's (runs that failed every retry).
    fn dlq(&mut self, stage: &Stage, dn: &str, read: Read<Option<Attributes>>) {
        let (spec, name) = (self.spec, &stage.name.value);
        let b = self;
        let what = if stage.queue.is_some() { "message(s)" } else { "failed run(s)" };
        match read {
            Ok(Some(attrs)) => {
                let n = count(&attrs, "ApproximateNumberOfMessages")
                    + count(&attrs, "ApproximateNumberOfMessagesNotVisible");
                b.number("dlq", n as f64);
                b.fact("dlq", format!("`{dn}`: {n} {what}"));
                if n > 0 {
                    b.find(
                        "S203",
                        ("dlq", dn),
                        format!("{n} {what} in the dead-letter queue `{dn}`"),
                        Some(format!(
                            "pipewright dlq {spec} --stage {name} peek; after the fix: pipewright dlq {spec} --stage {name} redrive"
                        )),
                    );
                } else {
                    b.resource(dn, Level::Healthy);
                }
            }
            Ok(None) => {
                b.fact("dlq", format!("`{dn}` missing"));
                let hint = b.deploy_hint();
                b.find("S101", ("dlq", dn), format!("dead-letter queue `{dn}` does not exist"), Some(hint));
            }
            Err(e) => b.failed(dn, "dlq", &e),
        }
    }

    /// The function, its event source mapping, its metrics over the window and its newest error lines.
    fn function(&mut self, stage: &Stage, since: u64, queue_arn: Option<&str>, read: Option<FunctionReads>) {
        let b = self;
        let (Some(f), Some(r)) = (&stage.function, read) else { return };
        let FunctionReads { function: func, mappings, invocations, errors, failed_records, throttles, logs } = r;
        {
            let fname = f.name.value.as_str();
            match func {
                Ok(Some(_)) => b.resource(fname, Level::Healthy),
                Ok(None) => {
                    let hint = b.deploy_hint();
                    b.find("S101", ("function", fname), format!("function `{fname}` does not exist"), Some(hint));
                }
                Err(e) => b.failed(fname, "function", &e),
            }
            b.mapping(stage, fname, queue_arn, mappings);
            let window = human_age(since as i64 * 1000);
            let mut metrics = Vec::new();
            let reads = [
                ("invocations", &invocations),
                ("errors", &errors),
                ("failed_records", &failed_records),
                ("throttles", &throttles),
            ];
            for (label, read) in reads {
                match read {
                    Ok(v) => {
                        let n = v.unwrap_or(0.0);
                        b.number(label, n);
                        metrics.push(format!("{n} {}", label.replace('_', " ")));
                    }
                    Err(e) => {
                        metrics.push(format!("{label} could not be read"));
                        b.find(
                            crate::report::codes::COULD_NOT_READ,
                            ("function", fname),
                            format!("could not read: {e}"),
                            None,
                        );
                    }
                }
            }
            b.fact("function", format!("`{fname}` over the last {window}: {}", metrics.join(", ")));
            for (label, read) in [("errors", &errors), ("failed records", &failed_records), ("throttles", &throttles)] {
                if let Ok(Some(n)) = read
                    && *n > 0.0
                {
                    b.find(
                        "S204",
                        ("function", fname),
                        format!("{n} {label} in the last {window}"),
                        Some(format!("aws logs tail {} --since {window}", f.log_group.value.replace(' ', ""))),
                    );
                }
            }
            match logs {
                Ok(Some(lines)) => {
                    b.fact(
                        "log",
                        format!("`{}`: {} error line(s) in the last {window}", f.log_group.value, lines.len()),
                    );
                    b.s.errors = lines
                        .into_iter()
                        .map(|l| format!("{} {}", super::iso_ms(l.timestamp_ms), l.message.trim_end()))
                        .collect();
                }
                Ok(None) => b.fact("log", format!("`{}` does not exist (the function never wrote)", f.log_group.value)),
                Err(e) => b.failed(&f.log_group.value, "log", &e),
            }
        }
    }

    /// The event source mapping that consumes the stage's queue: its state and last result.
    fn mapping(&mut self, stage: &Stage, fname: &str, queue_arn: Option<&str>, mappings: Read<Vec<MappingStatus>>) {
        let b = self;
        if let Some(q) = &stage.queue {
            let qn = q.name.value.as_str();
            match mappings {
                Ok(ms) => {
                    let ours: Vec<_> = ms
                        .iter()
                        .filter(|m| queue_arn.is_none_or(|arn| m.source_arn == arn))
                        .filter(|m| m.source_arn.ends_with(&format!(":{qn}")))
                        .collect();
                    match ours.first() {
                        None => {
                            b.fact("mapping", "none");
                            let hint = b.deploy_hint();
                            b.find(
                                "S301",
                                ("mapping", qn),
                                format!("no event source mapping `{qn}` -> `{fname}`: nothing consumes the queue"),
                                Some(hint),
                            );
                        }
                        Some(m) => {
                            let mut text = format!("{} -> `{fname}`: {}", m.uuid, m.state);
                            if !m.reason.is_empty() {
                                text.push_str(&format!(" ({})", m.reason));
                            }
                            if !m.last_result.is_empty() {
                                text.push_str(&format!("; last result: {}", m.last_result));
                            }
                            b.fact("mapping", text);
                            match &m.state {
                                MappingState::Enabled => {}
                                state if state.is_stopped() => b.find(
                                    "S302",
                                    ("mapping", qn),
                                    format!(
                                        "the event source mapping `{qn}` -> `{fname}` is {}: the queue is not consumed",
                                        m.state
                                    ),
                                    Some(b.deploy_hint()),
                                ),
                                changing => b.find(
                                    "S303",
                                    ("mapping", qn),
                                    format!("the event source mapping `{qn}` -> `{fname}` is {changing}"),
                                    None,
                                ),
                            }
                            if m.last_result.starts_with("PROBLEM") {
                                b.find(
                                    "S303",
                                    ("mapping", fname),
                                    format!("last processing result of the mapping: {}", m.last_result),
                                    None,
                                );
                            }
                        }
                    }
                }
                Err(e) => b.failed(qn, "mapping", &e),
            }
        }
    }

    /// The stage's alarms: in ALARM, missing, or could not be read.
    fn alarms(&mut self, stage: &Stage, alarm_names: &[String], read: Option<Read<BTreeMap<String, AlarmState>>>) {
        let b = self;
        if let Some(read) = read {
            match read {
                Ok(states) => {
                    let firing: Vec<_> = states.iter().filter(|(_, s)| s.firing).collect();
                    let missing = alarm_names.iter().filter(|n| !states.contains_key(*n)).count();
                    b.fact(
                        "alarms",
                        format!(
                            "{} of {} in ALARM{}",
                            firing.len(),
                            alarm_names.len(),
                            if missing > 0 { format!(", {missing} missing") } else { String::new() }
                        ),
                    );
                    for n in alarm_names {
                        match states.get(n) {
                            Some(AlarmState { firing: true, reason }) => {
                                let dlq = stage.alarms.iter().any(|a| &a.name == n && a.kind == AlarmKind::DlqDepth);
                                let found = Diagnostic::about(
                                    "S401",
                                    Resource::new(n.as_str(), kind("alarms")),
                                    b.span,
                                    format!("alarm `{n}` is in ALARM: {reason}"),
                                );
                                // Dead letters break the stage; other alarms degrade it.
                                b.push(if dlq { found.with_severity(Severity::Error) } else { found });
                            }
                            Some(_) => b.resource(n, Level::Healthy),
                            None => {
                                let hint = b.deploy_hint();
                                b.find("S101", ("alarms", n), format!("alarm `{n}` does not exist"), Some(hint));
                            }
                        }
                    }
                }
                Err(e) => {
                    for n in alarm_names {
                        b.resource(n, Level::Unknown);
                    }
                    b.fact("alarms", "could not read");
                    let names = alarm_names.join(",");
                    let found = Diagnostic::about(
                        crate::report::codes::COULD_NOT_READ,
                        Resource::new(names, kind("alarms")),
                        b.span,
                        format!("could not read: {e}"),
                    );
                    b.s.findings.push(found);
                }
            }
        }
    }

    /// The newest object of each output (and how far its newest date partition is behind the pipeline's
    /// today) and of each table.
    fn outputs(&mut self, p: &Pipeline, outputs: Vec<OutputRead>, tables: Vec<(String, Read<Option<i64>>)>) {
        let b = self;
        // Newest output objects, and how far their newest date partition is behind the pipeline's today.
        let (today, zone) = pipeline_today(p);
        for OutputRead { bucket, glob, objects: read } in outputs {
            match read {
                Ok(Some((objects, truncated))) => {
                    let ours: Vec<_> = objects
                        .iter()
                        .filter(|o| pipewright_stage::glob_match(&glob, &o.key) && !pipewright_stage::is_canary(&o.key))
                        .collect();
                    let newest = ours.iter().max_by_key(|o| o.modified_ms);
                    let text = match newest {
                        None => format!("s3://{bucket}/{glob}: no object"),
                        Some(o) => {
                            let newest_date = ours
                                .iter()
                                .filter_map(|x| pipewright_stage::key_field(&x.key, "date"))
                                .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                                .max();
                            format!(
                                "s3://{bucket}/{}: {} ago{}{}",
                                o.key,
                                human_age(now_ms() - o.modified_ms),
                                match newest_date {
                                    Some(d) => format!("; newest date={d} ({})", behind(d, today, &zone)),
                                    None => String::new(),
                                },
                                if truncated { " (first 10,000 keys)" } else { "" }
                            )
                        }
                    };
                    b.fact("newest", text);
                }
                Ok(None) => {
                    let hint = b.deploy_hint();
                    b.find("S101", ("newest", &bucket), format!("bucket `{bucket}` does not exist"), Some(hint));
                }
                Err(e) => b.failed(&bucket, "newest", &e),
            }
        }
        for (table, read) in tables {
            match read {
                Ok(Some(ms)) => {
                    b.fact("newest", format!("table {table}: modified {} ago", human_age(now_ms() - ms)));
                    b.resource(&table, Level::Healthy);
                }
                Ok(None) => {
                    let hint = b.deploy_hint();
                    b.find("S101", ("table", &table), format!("table `{table}` does not exist"), Some(hint));
                }
                Err(e) => b.failed(&table, "table", &e),
            }
        }
    }
}

/// Today in the pipeline's time zone (its first schedule's; UTC without one) and the zone's name: a
/// daily pipeline names its partitions by its own calendar (hoopstat-haus ingests "yesterday in
/// America/New_York"), so the UTC date is a day off for hours every day.
fn pipeline_today(p: &Pipeline) -> (NaiveDate, String) {
    let zone = p.stages.iter().find_map(|s| s.schedule.as_ref()).map(|s| s.timezone.value.clone());
    let now = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now_ms()).unwrap_or_default();
    match zone.as_deref().and_then(|z| z.parse::<chrono_tz::Tz>().ok()) {
        Some(tz) => (now.with_timezone(&tz).date_naive(), tz.name().to_string()),
        None => (now.date_naive(), "UTC".to_string()),
    }
}

/// `today`, `1 day before today (2024-01-16 in UTC)`, `3 days before today (...)`.
fn behind(date: NaiveDate, today: NaiveDate, zone: &str) -> String {
    match (today - date).num_days() {
        0 => format!("today in {zone}"),
        1 => format!("1 day before today, {today} in {zone}"),
        n if n > 1 => format!("{n} days before today, {today} in {zone}"),
        n => format!("{} day(s) after today, {today} in {zone}", -n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(levels: &[Level]) -> Report {
        let stages = levels
            .iter()
            .map(|l| StageStatus {
                stage: "s".into(),
                verdict: *l,
                facts: vec![],
                errors: vec![],
                findings: vec![],
                numbers: BTreeMap::new(),
                resources: BTreeMap::new(),
            })
            .collect::<Vec<_>>();
        let verdict = stages.iter().map(|s| s.verdict).max().unwrap_or(Level::Healthy);
        Report { verdict, resources: BTreeMap::new(), stages, since_secs: 3600 }
    }

    #[test]
    fn how_far_a_date_is_behind_today() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let today = d("2024-01-16");
        assert_eq!(behind(d("2024-01-16"), today, "UTC"), "today in UTC");
        assert_eq!(behind(d("2024-01-15"), today, "UTC"), "1 day before today, 2024-01-16 in UTC");
        assert_eq!(behind(d("2024-01-06"), today, "X"), "10 days before today, 2024-01-16 in X");
        assert_eq!(behind(d("2024-01-17"), today, "X"), "1 day(s) after today, 2024-01-16 in X");
    }

    #[test]
    fn verdicts_and_exit_codes() {
        use crate::Exit;
        assert_eq!(Exit::from(&report(&[Level::Healthy, Level::Healthy])), Exit::Clean);
        // Could not read, nothing wrong: unknown, never healthy.
        assert_eq!(report(&[Level::Healthy, Level::Unknown]).verdict, Level::Unknown);
        assert_eq!(Exit::from(&report(&[Level::Healthy, Level::Unknown])), Exit::Usage);
        // Something wrong outranks what could not be read.
        assert_eq!(Exit::from(&report(&[Level::Unknown, Level::Degraded])), Exit::Findings);
        assert_eq!(report(&[Level::Degraded, Level::Broken]).verdict, Level::Broken);
        assert_eq!(Level::Degraded.health(), Health::Drift);
        assert_eq!(Level::Unknown.health(), Health::Unknown);
    }

    #[test]
    fn a_failed_read_is_missing_only_when_aws_says_so() {
        let mut b = Builder { spec: "s.yaml", span: Span::default(), s: report(&[Level::Healthy]).stages.remove(0) };
        let err = |code: &str, kind| AwsError {
            operation: "sqs:GetQueueAttributes",
            resource: "q".into(),
            code: code.into(),
            message: String::new(),
            kind,
            origin: None,
        };
        b.failed("q", "queue", &err("AccessDenied", ErrorKind::AccessDenied));
        b.failed("d", "dlq", &err("AWS.SimpleQueueService.NonExistentQueue", ErrorKind::NotFound));
        assert_eq!(b.s.resources["q"], Level::Unknown);
        assert_eq!(b.s.resources["d"], Level::Broken);
        assert!(b.s.findings[0].message.contains("could not read") && b.s.findings[0].message.contains("AccessDenied"));
    }
}
