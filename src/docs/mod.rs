//! The runbook of a pipeline, generated from its spec: the architecture (Mermaid, from
//! [`crate::graph`]), every resource by its real name, and for each symptom of the original
//! troubleshooting guide the pipewright command that diagnoses and fixes it. Pure: the view model
//! is built from the resolved pipeline and rendered with the handlebars templates embedded here.

use crate::cfn::files::GeneratedFile;
use crate::graph::{Graph, alarm_condition};
use crate::spec::duration::Threshold;
use crate::spec::pattern::KeyTemplate;
use crate::spec::resolve::{AlarmKind, Email, Pipeline, Stage};
use handlebars::{Context, Handlebars};
use pipewright_stage::StageInputs;
use serde::Serialize;
use std::path::PathBuf;

const RUNBOOK_TEMPLATE: &str = include_str!("templates/runbook.md.hbs");

/// The file name of the runbook in `generated/<spec>/`.
pub const RUNBOOK: &str = "RUNBOOK.md";

/// A runbook template failed to parse or render (a bug in the embedded templates).
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    #[error("runbook template does not parse: {0}")]
    Template(#[from] Box<handlebars::TemplateError>),
    #[error("runbook template does not render: {0}")]
    Render(#[from] Box<handlebars::RenderError>),
}

/// The documentation files of one spec, under `<spec-name>/`.
pub fn files(p: &Pipeline, spec_name: &str, spec_path: &str) -> Result<Vec<GeneratedFile>, DocsError> {
    let contents = runbook(p, spec_name, spec_path)?;
    Ok(vec![GeneratedFile { path: PathBuf::from(spec_name).join(RUNBOOK), contents }])
}

/// The runbook as Markdown.
pub fn runbook(p: &Pipeline, spec_name: &str, spec_path: &str) -> Result<String, DocsError> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    // One template per section: handlebars computes each token's line and column from the start of
    // its template (quadratic in a template's length), so the runbook as one template compiles slowly.
    let sections = sections(RUNBOOK_TEMPLATE);
    for (i, section) in sections.iter().enumerate() {
        hb.register_template_string(&format!("runbook-{i}"), section).map_err(Box::new)?;
    }
    // The view as handlebars' data once (`render` would convert it again for every section).
    let view = Context::wraps(View::of(p, spec_name, spec_path)).map_err(Box::new)?;
    let mut text = String::new();
    for i in 0..sections.len() {
        text.push_str(&hb.render_with_context(&format!("runbook-{i}"), &view).map_err(Box::new)?);
    }
    // Templates leave blank runs where optional sections are absent.
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// The template split before each heading (`## `, `### `) or `{{#each` line that is outside every
/// block, so each piece closes its own blocks.
fn sections(template: &str) -> Vec<&str> {
    let mut starts = vec![0];
    let mut depth: i64 = 0;
    let mut offset = 0;
    for line in template.split_inclusive('\n') {
        let opens_here = line.starts_with("## ") || line.starts_with("### ") || line.starts_with("{{#each");
        if depth == 0 && opens_here && offset > 0 {
            starts.push(offset);
        }
        depth += line.matches("{{#").count() as i64 - line.matches("{{/").count() as i64;
        offset += line.len();
    }
    starts.push(template.len());
    starts.dedup();
    starts.windows(2).map(|w| &template[w[0]..w[1]]).collect()
}

#[derive(Debug, Serialize)]
struct View {
    project: String,
    region: String,
    stack: String,
    spec: String,
    generated: String,
    mermaid: String,
    topic: Option<TopicView>,
    buckets: Vec<BucketView>,
    notifications: Vec<NotificationView>,
    /// The EventBridge rules of the triggers delivered that way.
    rules: Vec<RuleView>,
    tables: Option<TablesView>,
    stages: Vec<StageView>,
    scheduled: Vec<StageView>,
    triggered: Vec<StageView>,
    functions: Vec<StageView>,
    has_queues: bool,
    has_alarms: bool,
    /// The spec says `alerts: none`.
    alerts_off: bool,
}

#[derive(Debug, Serialize)]
struct TopicView {
    name: String,
    dlq: String,
    email: String,
}

#[derive(Debug, Serialize)]
struct BucketView {
    key: String,
    name: String,
    versioning: &'static str,
    lifecycle: String,
}

#[derive(Debug, Serialize)]
struct NotificationView {
    bucket: String,
    events: String,
    pattern: String,
    prefix: String,
    suffix: String,
    queue: String,
    stage: String,
    handler_enforces: bool,
}

/// An EventBridge rule of a trigger.
#[derive(Debug, Serialize)]
struct RuleView {
    name: String,
    bucket: String,
    detail_type: String,
    pattern: String,
    queue: String,
    dlq: String,
    stage: String,
}

#[derive(Debug, Serialize)]
struct TablesView {
    bucket: String,
    namespace: String,
    tables: Vec<TableView>,
}

#[derive(Debug, Serialize)]
struct TableView {
    name: String,
    columns: String,
    writers: String,
}

#[derive(Debug, Clone, Serialize)]
struct StageView {
    name: String,
    local: bool,
    schedule: Option<ScheduleView>,
    trigger: Option<TriggerView>,
    queue: Option<QueueView>,
    function: Option<FunctionView>,
    writes: Vec<WriteView>,
    tables: Vec<String>,
    quarantine: Option<String>,
    alarms: Vec<AlarmView>,
    alarms_off: Vec<String>,
    /// An example date, when the stage's inputs (triggered) or outputs (scheduled) are keyed by `{date}`.
    example_date: Option<String>,
    /// An example date, when `replay --date` applies: the stage has a queue and its inputs are keyed by
    /// `{date}`, or it is a scheduled Lambda (a run for any date).
    replay_date: Option<String>,
    /// A scheduled Lambda stage's dead-letter queue of failed runs.
    failed_runs: Option<String>,
    downstream: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
struct ScheduleView {
    name: String,
    expression: String,
    timezone: String,
    crontab: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct TriggerView {
    bucket: String,
    pattern: String,
    prefix: String,
    suffix: String,
    events: String,
    handler_enforces: bool,
    /// Delivered through EventBridge, by these rules.
    eventbridge: bool,
    rules: Vec<String>,
    coalesce: Option<String>,
    /// Upstream writes the pattern matches, with an example key.
    inputs: Vec<InputView>,
}

#[derive(Debug, Clone, Serialize)]
struct InputView {
    /// The upstream write's name.
    name: String,
    bucket: String,
    template: String,
    example: String,
}

#[derive(Debug, Clone, Serialize)]
struct QueueView {
    name: String,
    dlq: String,
    visibility: String,
    retention: String,
    dlq_retention: String,
    max_receive_count: u32,
    batch_size: u32,
    batching_window: String,
    receive_wait: String,
    max_concurrency: String,
}

#[derive(Debug, Clone, Serialize)]
struct FunctionView {
    name: String,
    role: String,
    log_group: String,
    timeout: String,
    memory: u32,
    architecture: &'static str,
    log_retention: String,
    reserved_concurrency: String,
}

#[derive(Debug, Clone, Serialize)]
struct WriteView {
    name: String,
    bucket: String,
    key: String,
    example: String,
}

#[derive(Debug, Clone, Serialize)]
struct AlarmView {
    name: String,
    kind: String,
    watches: String,
    metric: String,
    condition: String,
    /// How soon after the failure it watches the alarm can fire.
    seen: String,
}

/// How soon after what it watches happens an alarm can fire: a period plus CloudWatch's evaluation for
/// the metrics, and for the DLQ the receives a failing message takes to get there.
fn alarm_delay(kind: AlarmKind, s: &Stage) -> String {
    match kind {
        AlarmKind::FailedRecords => "about 2 min after a record fails".into(),
        AlarmKind::Errors => "about 5 min after an invocation fails as a whole (not a failed record)".into(),
        AlarmKind::DlqDepth => match &s.queue {
            Some(q) => {
                let wait = u64::from(q.max_receive_count.value).saturating_mul(q.visibility_timeout.secs());
                format!(
                    "{} x {} = {} after a message first fails, plus about 5 min",
                    q.max_receive_count.value,
                    q.visibility_timeout.value,
                    crate::spec::duration::Duration(wait)
                )
            }
            // A scheduled run: three attempts of up to the timeout each, Lambda's retries 1 and 2 min
            // apart, before the DLQ.
            None => {
                let timeout = s.function.as_ref().map_or(0, |f| f.timeout.secs());
                format!(
                    "up to {} after a run starts (3 attempts of up to {}, retried 1 and 2 min apart), plus about 5 min",
                    crate::spec::duration::Duration(timeout.saturating_mul(3).saturating_add(180)),
                    crate::spec::duration::Duration(timeout)
                )
            }
        },
        _ => "about 5 min".into(),
    }
}

fn days(n: u64) -> String {
    format!("{n} d")
}

/// The S3 event notifications of the triggers delivered that way.
fn notification_views(p: &Pipeline) -> Vec<NotificationView> {
    p.stages
        .iter()
        .filter_map(|s| {
            let (t, q) = (s.trigger.as_ref()?, s.queue.as_ref()?);
            if t.through_eventbridge() {
                return None;
            }
            Some(NotificationView {
                bucket: p.bucket_name(&t.bucket),
                events: t.events.iter().map(|e| e.value.as_str()).collect::<Vec<_>>().join(", "),
                pattern: t.pattern.pattern.clone(),
                prefix: t.pattern.filter_prefix(),
                suffix: t.pattern.filter_suffix(),
                queue: q.name.value.clone(),
                stage: s.name.value.clone(),
                handler_enforces: t.pattern.has_middle,
            })
        })
        .collect()
}

/// The EventBridge rules of the triggers delivered that way.
fn rule_views(p: &Pipeline) -> Vec<RuleView> {
    p.stages
        .iter()
        .flat_map(|s| crate::cfn::desired::rules(p, s))
        .map(|r| RuleView {
            detail_type: r.detail_type.to_string()
                + &r.fields.iter().map(|(k, v)| format!(", {k} {v}")).collect::<String>(),
            name: r.name,
            bucket: r.bucket,
            pattern: r.pattern,
            queue: r.queue,
            dlq: r.dlq,
            stage: r.stage,
        })
        .collect()
}

impl View {
    fn of(p: &Pipeline, spec_name: &str, spec_path: &str) -> View {
        // Each stage's inputs once: a stage's view looks at every other stage's (linear, not cubic).
        let inputs: Vec<StageInputs> = p.stages.iter().map(|s| p.stage_inputs(s)).collect();
        let stages: Vec<StageView> = p.stages.iter().zip(&inputs).map(|(s, i)| stage_view(p, s, i, &inputs)).collect();
        let (notifications, rules) = (notification_views(p), rule_views(p));
        View {
            project: p.project.value.clone(),
            region: p.region.value.clone(),
            stack: p.stack_name.clone(),
            spec: spec_path.to_string(),
            generated: format!("generated/{spec_name}"),
            mermaid: crate::graph::mermaid(&Graph::of(p), None),
            topic: p.alerts.as_ref().map(|a| TopicView {
                name: a.topic.value.clone(),
                dlq: format!("{}-dlq", a.topic.value),
                email: match a.email.as_ref().map(|e| &e.value) {
                    Some(Email::Parameter) => "the `AlertEmail` stack parameter".into(),
                    Some(Email::Address(a)) => format!("`{a}`"),
                    None => "no e-mail subscription".into(),
                },
            }),
            buckets: p
                .buckets
                .iter()
                .map(|b| {
                    let l = &b.lifecycle;
                    let mut rules = Vec::new();
                    if let Some(d) = &l.intelligent_tiering_days {
                        rules.push(format!("Intelligent-Tiering at {}", days(d.value)));
                    }
                    if let Some(d) = &l.infrequent_access_days {
                        rules.push(format!("Standard-IA at {}", days(d.value)));
                    }
                    if let Some(d) = &l.glacier_days {
                        rules.push(format!("Glacier at {}", days(d.value)));
                    }
                    if let Some(d) = &l.expire_days {
                        rules.push(format!("expire at {}", days(d.value)));
                    }
                    if b.versioning {
                        rules.push(format!("noncurrent versions expire at {}", days(l.noncurrent_expire_days.value)));
                    }
                    rules.push(format!("incomplete uploads aborted at {}", days(l.abort_incomplete_upload_days.value)));
                    BucketView {
                        key: b.key.value.clone(),
                        name: b.name.value.clone(),
                        versioning: if b.versioning { "on" } else { "off" },
                        lifecycle: rules.join("; "),
                    }
                })
                .collect(),
            notifications,
            rules,
            tables: p.tables.as_ref().map(|t| TablesView {
                bucket: t.bucket_name.value.clone(),
                namespace: t.namespace.value.clone(),
                tables: t
                    .tables
                    .iter()
                    .map(|table| TableView {
                        name: table.name.value.clone(),
                        columns: table.columns.len().to_string(),
                        writers: p
                            .stages
                            .iter()
                            .filter(|s| s.writes_tables.iter().any(|w| w.value == table.name.value))
                            .map(|s| format!("`{}`", s.name.value))
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                    .collect(),
            }),
            scheduled: stages.iter().filter(|s| s.schedule.is_some()).cloned().collect(),
            triggered: stages.iter().filter(|s| s.queue.is_some()).cloned().collect(),
            functions: stages.iter().filter(|s| s.function.is_some()).cloned().collect(),
            has_queues: stages.iter().any(|s| s.queue.is_some()),
            has_alarms: stages.iter().any(|s| !s.alarms.is_empty()),
            alerts_off: p.alerts_off.is_some(),
            stages,
        }
    }
}

fn stage_view(p: &Pipeline, s: &Stage, own: &StageInputs, all: &[StageInputs]) -> StageView {
    let inputs: Vec<InputView> = own
        .0
        .iter()
        .cloned()
        .map(|o| InputView {
            example: KeyTemplate { template: o.location.key.clone() }.render(|v| p.example(v)),
            name: o.name,
            bucket: o.location.bucket,
            template: o.location.key,
        })
        .collect();
    // A scheduled stage runs for a date when its outputs are keyed by one; a triggered one when its inputs are.
    let keyed_by_date = if s.trigger.is_some() {
        inputs.iter().any(|i| i.template.contains("{date}"))
    } else {
        s.writes.iter().any(|w| w.key.template.contains("{date}"))
    };
    // The stages whose triggers match one of this stage's writes.
    let downstream = p
        .stages
        .iter()
        .zip(all)
        .filter(|(_, d_inputs)| {
            d_inputs.0.iter().any(|input| {
                s.writes
                    .iter()
                    .any(|w| input.location.bucket == p.bucket_name(&w.bucket) && input.location.key == w.key.template)
            })
        })
        .map(|(d, _)| d.name.value.clone())
        .collect();
    let (alarms, alarms_off) = alarm_views(s);
    let failed_runs = s.schedule.as_ref().and_then(|sch| sch.dlq_name.as_ref()).map(|d| d.value.clone());
    StageView {
        name: s.name.value.clone(),
        local: s.function.is_none(),
        schedule: s.schedule.as_ref().map(|sch| ScheduleView {
            name: sch.name.clone(),
            expression: sch.expression.value.clone(),
            timezone: sch.timezone.value.clone(),
            crontab: s.function.is_none().then(|| format!("{}.crontab", s.name.value)),
        }),
        trigger: s.trigger.as_ref().map(|t| TriggerView {
            bucket: p.bucket_name(&t.bucket),
            pattern: t.pattern.pattern.clone(),
            prefix: t.pattern.filter_prefix(),
            suffix: t.pattern.filter_suffix(),
            events: t.events.iter().map(|e| e.value.as_str()).collect::<Vec<_>>().join(", "),
            handler_enforces: t.pattern.has_middle && !t.through_eventbridge(),
            eventbridge: t.through_eventbridge(),
            rules: crate::cfn::desired::rules(p, s).into_iter().map(|r| r.name).collect(),
            coalesce: t.coalesce.as_ref().map(|c| c.value.clone()),
            inputs,
        }),
        queue: s.queue.as_ref().map(|q| QueueView {
            name: q.name.value.clone(),
            dlq: q.dlq_name.value.clone(),
            visibility: q.visibility_timeout.value.to_string(),
            retention: q.retention.value.to_string(),
            dlq_retention: q.dlq_retention.value.to_string(),
            max_receive_count: q.max_receive_count.value,
            batch_size: q.batch_size.value,
            batching_window: q.batching_window.value.to_string(),
            receive_wait: q.receive_wait.value.to_string(),
            max_concurrency: q.max_concurrency.value.to_string(),
        }),
        function: s.function.as_ref().map(|f| FunctionView {
            name: f.name.value.clone(),
            role: f.role_name.value.clone(),
            log_group: f.log_group.value.clone(),
            timeout: f.timeout.value.to_string(),
            memory: f.memory.value,
            architecture: f.architecture.value.as_str(),
            log_retention: days(f.log_retention_days.value),
            reserved_concurrency: f.reserved_concurrency.as_ref().map_or("none".into(), |c| c.value.to_string()),
        }),
        writes: s
            .writes
            .iter()
            .map(|w| WriteView {
                name: w.name.clone(),
                bucket: p.bucket_name(&w.bucket),
                key: w.key.template.clone(),
                example: p.example_key(w),
            })
            .collect(),
        tables: s.writes_tables.iter().map(|t| t.value.clone()).collect(),
        quarantine: s.quarantine.as_ref().map(|q| format!("s3://{}/{}", p.bucket_name(&q.bucket), q.prefix.value)),
        alarms,
        alarms_off,
        example_date: keyed_by_date.then(|| p.example("date")),
        replay_date: ((keyed_by_date && s.queue.is_some()) || failed_runs.is_some()).then(|| p.example("date")),
        failed_runs,
        downstream,
    }
}

/// A stage's alarms as the runbook shows them, and the kinds switched off.
fn alarm_views(s: &Stage) -> (Vec<AlarmView>, Vec<String>) {
    let mut alarms = Vec::new();
    let mut alarms_off = Vec::new();
    if let Some(f) = &s.function {
        for a in &s.alarms {
            match alarm_condition(f, a) {
                Some(condition) => {
                    let (namespace, metric, statistic) = a.kind.metric();
                    let watches = match a.kind {
                        AlarmKind::DlqDepth => s.dlq_name().map(|d| d.value.clone()),
                        k if k.needs_queue() => s.queue.as_ref().map(|q| q.name.value.clone()),
                        _ => Some(f.name.value.clone()),
                    };
                    alarms.push(AlarmView {
                        name: a.name.clone(),
                        kind: a.kind.key().to_string(),
                        watches: watches.unwrap_or_default(),
                        metric: format!("{namespace} {metric} ({statistic}, {} min)", a.kind.period() / 60),
                        condition,
                        seen: alarm_delay(a.kind, s),
                    });
                }
                None if a.threshold.value == Threshold::Off => alarms_off.push(a.kind.key().to_string()),
                None => {}
            }
        }
    }
    (alarms, alarms_off)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Source;

    #[test]
    fn every_stage_and_resource_is_in_the_runbook() {
        let loaded = crate::spec::load(
            Source::read(std::path::Path::new("specs/hoopstat-haus.yaml")).expect("the flagship spec"),
        );
        let p = loaded.pipeline.expect("parses");
        let text = runbook(&p, "hoopstat-haus", "specs/hoopstat-haus.yaml").expect("renders");
        for name in [
            "hoopstat-haus-bronze",
            "hoopstat-haus-silver-processing-queue",
            "hoopstat-haus-silver-processing-dlq",
            "hoopstat-haus-gold-analytics-role",
            "/aws/lambda/hoopstat-haus-gold-analytics",
            "hoopstat-haus-gold-analytics-queue-depth",
            "raw/box_scores/date%3D",
            "hoopstat-haus-gold-tables",
            "bronze-ingestion.crontab",
            "```mermaid",
        ] {
            assert!(text.contains(name), "{name} missing");
        }
        assert!(!text.contains("\n\n\n"));
    }
}
