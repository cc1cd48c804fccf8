//! `verify`: read live state concurrently through the service APIs and compare it, aspect by
//! aspect, with what the spec generates.

use crate::aws::live::{LiveSchedule, QueueNotification, Readers};
use crate::aws::{Aws, AwsError};
use crate::cfn::desired::{self, AlarmSettings, QueueSettings, Target};
use crate::drift::{self, Aspect, Place};
use crate::spec::Pipeline;
use crate::spec::resolve::Stage;
use crate::spec::span::Span;
use futures::future::join_all;
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

/// A table's partition fields: (source column, transform) in order.
type PartitionFields = Vec<(String, String)>;

type Task<'a> = Pin<Box<dyn Future<Output = Vec<Aspect>> + 'a>>;

fn unverifiable(mut a: Aspect, e: &AwsError) -> Aspect {
    let mut why = format!("{} on `{}`: {}: {}", e.operation, e.resource, e.code, e.message);
    if let Some(needs) = e.needs() {
        why = format!("{why}; {needs}");
    }
    a.unverifiable(why);
    a
}

fn missing(mut a: Aspect) -> Aspect {
    a.drift("D101", "does not exist", "present", "missing");
    a
}

/// Why nothing could be verified.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The stack is not where verify looked: another region, another account, or never deployed.
    #[error(
        "there is no stack `{stack}` in {region} (account {account}){}",
        if region == spec_region { String::new() } else { format!("; the spec's region is {spec_region}") }
    )]
    NoStack { stack: String, region: String, account: String, spec_region: String },
}

impl VerifyError {
    /// How to get an answer.
    pub fn hint(&self) -> Option<String> {
        match self {
            VerifyError::NoStack { stack, region, spec_region, .. } if region != spec_region => {
                Some(format!("verify in the spec's region (`--region {spec_region}`), where `{stack}` is deployed"))
            }
            VerifyError::NoStack { .. } => {
                Some("deploy the pipeline first (`pipewright deploy`), or name its stack with `--stack`".into())
            }
            VerifyError::Aws(_) => None,
        }
    }
}

/// Verifies every aspect of the pipeline's resources, in the account and region of `aws`, where stack
/// `stack` must be. Fails only when the account cannot be read or the stack is not there.
pub async fn verify(aws: &Aws, readers: &Readers, p: &Pipeline, stack: &str) -> Result<Vec<Aspect>, VerifyError> {
    let account = aws.account().await?;
    let deployed =
        aws.describe_stack(stack).await?.filter(|s| s.status != "DELETE_COMPLETE" && s.status != "REVIEW_IN_PROGRESS");
    let Some(deployed) = deployed else {
        return Err(VerifyError::NoStack {
            stack: stack.to_string(),
            region: aws.region(),
            account,
            spec_region: p.region.value.clone(),
        });
    };
    let artifact_bucket =
        deployed.parameters.iter().find(|(k, _)| k == crate::cfn::ARTIFACT_BUCKET).map(|(_, v)| v.clone());
    let place = Place { partition: "aws".to_string(), region: aws.region(), account };

    let mut tasks: Vec<Task> = Vec::new();
    if let Some(bucket) = artifact_bucket.filter(|b| !b.is_empty()) {
        tasks.push(Box::pin(artifact_bucket_aspects(readers.clone(), bucket, place.account.clone(), p.project.span)));
    }

    // Buckets.
    let our_queues: Vec<String> =
        p.stages.iter().filter_map(|s| s.queue.as_ref()).map(|q| place.queue_arn(&q.name)).collect();
    for b in &p.buckets {
        tasks.extend(bucket_tasks(b, p, readers, &place, &our_queues));
    }

    // Stages.
    let topic = p.alerts.as_ref().map(|a| place.topic_arn(&a.topic));
    let mut alarm_wants: Vec<(Aspect, AlarmSettings)> = Vec::new();
    for s in &p.stages {
        tasks.extend(stage_tasks(s, p, readers, &place));
        for want in desired::alarms(s) {
            alarm_wants.push((Aspect::new(want.name.clone(), "AWS::CloudWatch::Alarm", "alarm", want.span), want));
        }
    }
    if !alarm_wants.is_empty() {
        tasks.push(alarms_task(alarm_wants, topic.clone(), readers));
    }
    if let (Some(a), Some(topic)) = (&p.alerts, topic) {
        tasks.push(subscriptions_task(p, a, topic, readers));
    }
    if let (Some(t), Some(arn)) = (&p.tables, p.table_bucket_arn_sub()) {
        tasks.push(tables_task(t, place.sub(&arn), readers));
    }

    let mut aspects: Vec<Aspect> = join_all(tasks).await.into_iter().flatten().collect();
    aspects.sort_by(|a, b| (a.span, &a.resource, a.aspect).cmp(&(b.span, &b.resource, b.aspect)));
    Ok(aspects)
}

/// The alert topic's subscriptions (a confirmed one, or the alarms notify nobody).
fn subscriptions_task<'a>(
    p: &Pipeline,
    a: &crate::spec::resolve::Alerts,
    topic: String,
    readers: &Readers,
) -> Task<'a> {
    let (readers, name, span) = (readers.clone(), a.topic.value.clone(), a.topic.span.or(p.project.span));
    Box::pin(async move {
        let mut aspect = Aspect::new(name, "AWS::SNS::Topic", "subscriptions", span);
        match readers.subscriptions(&topic).await {
            Err(e) => vec![unverifiable(aspect, &e)],
            Ok(live) => {
                drift::subscriptions(&mut aspect, live.as_deref());
                vec![aspect]
            }
        }
    })
}

/// Every alarm, read in one call: its settings against the spec's.
fn alarms_task<'a>(alarm_wants: Vec<(Aspect, AlarmSettings)>, topic: Option<String>, readers: &Readers) -> Task<'a> {
    let readers = readers.clone();
    Box::pin(async move {
        let names: Vec<String> = alarm_wants.iter().map(|(_, want)| want.name.clone()).collect();
        match readers.alarms(&names).await {
            Err(e) => alarm_wants.into_iter().map(|(a, _)| unverifiable(a, &e)).collect(),
            Ok(live) => alarm_wants
                .into_iter()
                .map(|(mut a, want)| {
                    drift::alarm(&mut a, &want, topic.as_deref(), live.get(&want.name));
                    a
                })
                .collect(),
        }
    })
}

/// The table bucket's tables, and the partitioning of each table that exists.
fn tables_task<'a>(t: &crate::spec::resolve::Tables, arn: String, readers: &Readers) -> Task<'a> {
    let names: Vec<String> = t.tables.iter().map(|t| t.name.value.clone()).collect();
    // Each table's declared partitioning, judged where the table exists.
    let partitionings: Vec<(String, crate::spec::Span, PartitionFields)> = t
        .tables
        .iter()
        .map(|t| {
            let fields = t.partition_fields().iter().map(|(_, c, tr)| (c.name.value.clone(), tr.to_string())).collect();
            (t.name.value.clone(), t.name.span, fields)
        })
        .collect();
    let (ns, bucket, span, readers) =
        (t.namespace.value.clone(), t.bucket_name.value.clone(), t.bucket_key.span, readers.clone());
    Box::pin(async move {
        let mut a = Aspect::new(bucket, "AWS::S3Tables::TableBucket", "tables", span);
        match readers.tables(&arn, &ns, &names).await {
            Err(e) => vec![unverifiable(a, &e)],
            Ok(live) => {
                drift::tables(&mut a, &names, &live);
                let mut aspects = vec![a];
                for (name, span, want) in partitionings {
                    let Some(fields) = live.tables.get(&name) else { continue };
                    let mut p = Aspect::new(format!("{ns}.{name}"), "AWS::S3Tables::Table", "table-partitioning", span);
                    drift::table_partitioning(&mut p, &want, fields.as_deref());
                    aspects.push(p);
                }
                aspects
            }
        }
    })
}

/// The aspects of one bucket: notifications (and unmanaged ones), encryption, versioning, public-access
/// block, lifecycle, policy.
fn bucket_tasks<'a>(
    b: &'a crate::spec::resolve::Bucket,
    p: &Pipeline,
    readers: &Readers,
    place: &Place,
    our_queues: &[String],
) -> Vec<Task<'a>> {
    let mut out: Vec<Task<'a>> = Vec::new();
    let expected = expected_notifications(p, b, place);
    let eventbridge = desired::sends_to_eventbridge(p, b);
    let lifecycle = expected_lifecycle(b);
    let versioning = if b.versioning { "Enabled" } else { "Suspended" }.to_string();
    let name = b.name.value.clone();
    let span = b.key.span;
    let (readers, our_queues, bucket_arn) = (readers.clone(), our_queues.to_vec(), place.bucket_arn(&name));
    out.push(Box::pin(async move {
        let ty = "AWS::S3::Bucket";
        let mk = |aspect| Aspect::new(name.clone(), ty, aspect, span);
        match readers.bucket(&name).await {
            Err(e) => ["notifications", "encryption", "versioning", "public-access-block", "lifecycle", "policy"]
                .into_iter()
                .map(|a| unverifiable(mk(a), &e))
                .collect(),
            Ok(None) => vec![missing(mk("exists"))],
            Ok(Some(live)) => {
                let part = |aspect: &'static str, failed: Option<&AwsError>, check: &dyn Fn(&mut Aspect)| {
                    let mut a = mk(aspect);
                    match failed {
                        Some(e) => unverifiable(a, e),
                        None => {
                            check(&mut a);
                            a
                        }
                    }
                };
                vec![
                    part("notifications", live.notifications.as_ref().err(), &|a| {
                        if let Ok(n) = &live.notifications {
                            drift::notifications(a, (&expected, eventbridge), n, &our_queues);
                        }
                    }),
                    part("encryption", live.encryption.as_ref().err(), &|a| {
                        if let Ok(e) = &live.encryption {
                            drift::bucket_encryption(a, e.as_ref());
                        }
                    }),
                    part("versioning", live.versioning.as_ref().err(), &|a| {
                        if let Ok(v) = &live.versioning {
                            drift::bucket_versioning(a, &versioning, v);
                        }
                    }),
                    part("public-access-block", live.public_access_block.as_ref().err(), &|a| {
                        if let Ok(p) = &live.public_access_block {
                            drift::public_access_block(a, *p);
                        }
                    }),
                    part("lifecycle", live.lifecycle.as_ref().err(), &|a| {
                        if let Ok(l) = &live.lifecycle {
                            drift::lifecycle(a, &lifecycle, l);
                        }
                    }),
                    part("policy", live.policy.as_ref().err(), &|a| {
                        if let Ok(p) = &live.policy {
                            drift::bucket_policy(a, &bucket_arn, p.as_ref());
                        }
                    }),
                ]
            }
        }
    }));
    out
}

/// The queue notifications the spec gives a bucket, sorted.
fn expected_notifications(p: &Pipeline, b: &crate::spec::resolve::Bucket, place: &Place) -> Vec<QueueNotification> {
    let mut v: Vec<QueueNotification> = desired::notifications(p, b)
        .into_iter()
        .map(|n| QueueNotification {
            event: n.event,
            queue_arn: place.queue_arn(&n.queue),
            prefix: n.prefix,
            suffix: n.suffix,
        })
        .collect();
    v.sort();
    v
}

/// The lifecycle rules the spec gives a bucket, by rule id.
fn expected_lifecycle(b: &crate::spec::resolve::Bucket) -> BTreeMap<String, Value> {
    crate::cfn::lifecycle_rules(b)
        .into_iter()
        .map(|mut rule| {
            let id = rule.as_object_mut().and_then(|m| m.remove("Id")).and_then(|v| v.as_str().map(str::to_string));
            (id.unwrap_or_default(), rule)
        })
        .collect()
}

/// The bucket the functions load their code from (the stack's `ArtifactBucket`): owned by this account
/// (asked with `ExpectedBucketOwner`), encrypted, versioned, not public, TLS only.
async fn artifact_bucket_aspects(
    readers: Readers,
    bucket: String,
    account: String,
    span: crate::spec::Span,
) -> Vec<Aspect> {
    let ty = "AWS::S3::Bucket";
    let mut owner = Aspect::new(bucket.clone(), ty, "artifact-owner", span);
    let live = match readers.owned_bucket(&bucket, &account).await {
        Ok(Some(live)) => live,
        Ok(None) => return vec![missing(owner)],
        Err(e) if e.kind == crate::aws::ErrorKind::AccessDenied => {
            drift::artifact_owner(&mut owner, &account);
            return vec![owner];
        }
        Err(e) => return vec![unverifiable(owner, &e)],
    };
    let mk = |aspect| Aspect::new(bucket.clone(), ty, aspect, span);
    let mut settings = mk("artifact-settings");
    let mut policy = mk("artifact-policy");
    match (&live.encryption, &live.versioning, &live.public_access_block) {
        (Ok(e), Ok(v), Ok(b)) => {
            drift::bucket_encryption(&mut settings, e.as_ref());
            drift::bucket_versioning(&mut settings, "Enabled", v);
            drift::public_access_block(&mut settings, *b);
        }
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => settings = unverifiable(settings, e),
    }
    match &live.policy {
        Ok(p) => drift::bucket_policy(&mut policy, &format!("arn:aws:s3:::{bucket}"), p.as_ref()),
        Err(e) => policy = unverifiable(policy, e),
    }
    vec![owner, settings, policy]
}

/// The aspects of one stage: queue, DLQ, queue policy, function, environment, mapping, role, log group, schedule.
fn stage_tasks<'a>(s: &'a Stage, p: &'a Pipeline, readers: &Readers, place: &Place) -> Vec<Task<'a>> {
    let Some(f) = &s.function else { return Vec::new() };
    let function_arn = place.function_arn(&f.name);
    let queue = s.queue.as_ref().zip(desired::mapping(s)).map(|(q, mapping)| QueueWants {
        name: q.name.value.clone(),
        dlq: q.dlq_name.value.clone(),
        span: q.name.span,
        queue: QueueSettings::queue(q),
        dlq_queue: QueueSettings::dlq(q),
        place: place.clone(),
        source_arn: place.queue_arn(&q.name),
        mapping,
        policy: crate::cfn::queue_policy(p, s, Target::Account(place)).unwrap_or(Value::Null),
    });
    let function = FunctionWants {
        name: f.name.value.clone(),
        span: f.name.span.or(s.name.span),
        arn: function_arn.clone(),
        want: function_want(p, s, f, place),
    };
    let mut tasks: Vec<Task> = vec![Box::pin(function_aspects(readers.clone(), function, queue))];
    let role = (f.role_name.value.clone(), f.role_name.span.or(s.name.span));
    let policies = crate::cfn::role_policies(p, s, Target::Account(place));
    let policies = policies.into_iter().map(|(name, doc)| (name.to_string(), doc)).collect();
    tasks.push(Box::pin(role_aspects(readers.clone(), role, policies)));
    let retention = i32::try_from(f.log_retention_days.value).unwrap_or(i32::MAX);
    let log_group = (f.log_group.value.clone(), f.name.span.or(s.name.span));
    tasks.push(Box::pin(log_group_aspects(readers.clone(), log_group, retention)));
    tasks.extend(rule_tasks(p, s, readers, place));
    if let Some(sch) = &s.schedule {
        let want = LiveSchedule {
            expression: sch.expression.value.clone(),
            timezone: sch.timezone.value.clone(),
            enabled: true,
            target_arn: function_arn,
            input: Some(pipewright_stage::SCHEDULE_INPUT.to_string()),
            dead_letter_arn: s.dlq_name().map(|d| place.queue_arn(&d.value)),
        };
        let schedule = (sch.name.clone(), sch.expression.span);
        tasks.push(Box::pin(schedule_aspects(readers.clone(), schedule, want)));
    }
    if let Some(dlq) = failed_runs_dlq(s) {
        let (readers, place, dlq) = (readers.clone(), place.clone(), dlq.clone());
        tasks.push(Box::pin(async move {
            let a = Aspect::new(dlq.value.clone(), "AWS::SQS::Queue", "attributes", dlq.span);
            match readers.queue(&dlq.value).await {
                Err(e) => vec![unverifiable(a, &e)],
                Ok(None) => vec![missing(Aspect::new(dlq.value.clone(), "AWS::SQS::Queue", "exists", dlq.span))],
                Ok(Some(attrs)) => {
                    let mut a = a;
                    drift::queue(&mut a, &QueueSettings::failed_runs(&dlq.value), &place, &attrs, None, None);
                    vec![a]
                }
            }
        }));
    }
    tasks
}

/// The EventBridge rules of a stage's trigger, and the rules that target its queue.
fn rule_tasks<'a>(p: &Pipeline, s: &Stage, readers: &Readers, place: &Place) -> Vec<Task<'a>> {
    let (Some(t), Some(q)) = (&s.trigger, &s.queue) else { return Vec::new() };
    let rules = desired::rules(p, s);
    if rules.is_empty() {
        return Vec::new();
    }
    let span = t.via.span.or(t.span);
    let ours: Vec<String> = rules.iter().map(|r| r.name.clone()).collect();
    let mut tasks: Vec<Task<'a>> = Vec::new();
    for rule in rules {
        let (readers, place) = (readers.clone(), place.clone());
        tasks.push(Box::pin(async move {
            let mut a = Aspect::new(rule.name.clone(), "AWS::Events::Rule", "rule", span);
            match readers.rule(&rule.name).await {
                Err(e) => vec![unverifiable(a, &e)],
                Ok(live) => {
                    drift::event_rule(&mut a, &rule, &place, live.as_ref());
                    vec![a]
                }
            }
        }));
    }
    let (readers, queue, queue_arn) = (readers.clone(), q.name.value.clone(), place.queue_arn(&q.name));
    tasks.push(Box::pin(async move {
        let mut a = Aspect::new(queue, "AWS::SQS::Queue", "rules", span);
        match readers.rules_targeting(&queue_arn).await {
            Err(e) => vec![unverifiable(a, &e)],
            Ok(live) => {
                drift::rules_targeting(&mut a, &ours, &live);
                vec![a]
            }
        }
    }));
    tasks
}

/// What the spec wants of a stage's function: its settings and its environment contract.
fn function_want(p: &Pipeline, s: &Stage, f: &crate::spec::resolve::Function, place: &Place) -> drift::FunctionWant {
    let mut env: BTreeMap<String, String> =
        p.contract_vars(s).into_iter().map(|(k, v)| (k.to_string(), place.sub(&v))).collect();
    for (k, v) in &f.env {
        env.insert(k.value.clone(), v.value.clone());
    }
    drift::FunctionWant {
        architecture: f.architecture.as_str().to_string(),
        memory: i32::try_from(f.memory.value).unwrap_or(i32::MAX),
        timeout: i32::try_from(f.timeout.secs()).unwrap_or(i32::MAX),
        role_name: f.role_name.value.clone(),
        env,
        reserved: f.reserved_concurrency.as_ref().map(|r| i32::try_from(r.value).unwrap_or(i32::MAX)),
        dead_letter_arn: failed_runs_dlq(s).map(|d| place.queue_arn(&d.value)),
    }
}

/// The DLQ of a scheduled Lambda stage's failed runs (none for a queue-fed stage: its queue has one).
fn failed_runs_dlq(s: &Stage) -> Option<&crate::spec::Sp<String>> {
    s.schedule.as_ref()?.dlq_name.as_ref()
}

/// A stage's function as the spec wants it.
struct FunctionWants {
    name: String,
    span: Span,
    arn: String,
    want: drift::FunctionWant,
}

/// What the spec wants of a stage's queue, its DLQ, the mapping that consumes the queue and its policy.
struct QueueWants {
    name: String,
    dlq: String,
    span: Span,
    queue: QueueSettings,
    dlq_queue: QueueSettings,
    place: Place,
    /// The queue's ARN, which the mapping reads.
    source_arn: String,
    mapping: desired::MappingSettings,
    policy: Value,
}

/// The function's settings and environment, then its queues and mapping (which need the live timeout).
async fn function_aspects(readers: Readers, f: FunctionWants, queue: Option<QueueWants>) -> Vec<Aspect> {
    let fa = |aspect| Aspect::new(f.name.clone(), "AWS::Lambda::Function", aspect, f.span);
    let live = readers.function(&f.name).await;
    let mut out = Vec::new();
    let live_timeout = match &live {
        Err(e) => {
            out.push(unverifiable(fa("settings"), e));
            out.push(unverifiable(fa("environment"), e));
            None
        }
        Ok(None) => {
            out.push(missing(fa("exists")));
            None
        }
        Ok(Some(lf)) => {
            let (mut settings, mut env) = (fa("settings"), fa("environment"));
            drift::function(&mut settings, &mut env, &f.want, lf);
            out.push(settings);
            out.push(env);
            Some(lf.timeout)
        }
    };
    if let Some(q) = queue {
        out.extend(queue_aspects(&readers, &f, q, live_timeout).await);
    }
    out
}

/// The queue (against the function's live timeout), its policy, its DLQ and the mappings of either side.
async fn queue_aspects(readers: &Readers, f: &FunctionWants, q: QueueWants, live_timeout: Option<i32>) -> Vec<Aspect> {
    let mut out = Vec::new();
    let qa = |name: &str, aspect| Aspect::new(name.to_string(), "AWS::SQS::Queue", aspect, q.span);
    let (live_q, live_d, live_m) = futures::join!(readers.queue(&q.name), readers.queue(&q.dlq), async {
        let by_function = readers.mappings(Some(&f.name), None).await?;
        let by_queue = readers.mappings(None, Some(&q.source_arn)).await?;
        let seen = all_uuids(&by_function);
        let mut all = by_function;
        all.extend(by_queue.into_iter().filter(|m| !all_has(&seen, &m.uuid)));
        Ok::<_, AwsError>(all)
    });
    let dlq_retention = match &live_d {
        Ok(Some(attrs)) => attrs.get("MessageRetentionPeriod").and_then(|v| v.parse().ok()),
        _ => None,
    };
    let policy = || Aspect::new(q.name.clone(), "AWS::SQS::QueuePolicy", "policy", q.span);
    match &live_q {
        Err(e) => {
            out.push(unverifiable(qa(&q.name, "attributes"), e));
            out.push(unverifiable(policy(), e));
        }
        Ok(None) => out.push(missing(qa(&q.name, "exists"))),
        Ok(Some(attrs)) => {
            let mut a = qa(&q.name, "attributes");
            drift::queue(&mut a, &q.queue, &q.place, attrs, live_timeout, dlq_retention);
            out.push(a);
            let mut pol = policy();
            drift::queue_policy(&mut pol, &q.policy, attrs.get("Policy").map(String::as_str));
            out.push(pol);
        }
    }
    match &live_d {
        Err(e) => out.push(unverifiable(qa(&q.dlq, "attributes"), e)),
        Ok(None) => out.push(missing(qa(&q.dlq, "exists"))),
        Ok(Some(attrs)) => {
            let mut a = qa(&q.dlq, "attributes");
            drift::queue(&mut a, &q.dlq_queue, &q.place, attrs, None, None);
            out.push(a);
        }
    }
    let mut m = Aspect::new(f.name.clone(), "AWS::Lambda::EventSourceMapping", "mapping", q.span);
    match &live_m {
        Err(e) => out.push(unverifiable(m, e)),
        Ok(list) => {
            drift::mappings(&mut m, &q.mapping, (&q.source_arn, &f.arn), list);
            out.push(m);
        }
    }
    out
}

async fn role_aspects(
    readers: Readers,
    (role, span): (String, Span),
    expected: BTreeMap<String, Value>,
) -> Vec<Aspect> {
    let mut a = Aspect::new(role.clone(), "AWS::IAM::Role", "policies", span);
    match readers.role(&role).await {
        Err(e) => vec![unverifiable(a, &e)],
        Ok(None) => vec![missing(a)],
        Ok(Some(live)) => {
            drift::role(&mut a, &expected, &live);
            vec![a]
        }
    }
}

async fn log_group_aspects(readers: Readers, (lg, span): (String, Span), retention: i32) -> Vec<Aspect> {
    let mut a = Aspect::new(lg.clone(), "AWS::Logs::LogGroup", "retention", span);
    match readers.log_group(&lg).await {
        Err(e) => vec![unverifiable(a, &e)],
        Ok(live) => {
            drift::log_group(&mut a, retention, live);
            vec![a]
        }
    }
}

async fn schedule_aspects(readers: Readers, (name, span): (String, Span), want: LiveSchedule) -> Vec<Aspect> {
    let mut a = Aspect::new(name.clone(), "AWS::Scheduler::Schedule", "schedule", span);
    match readers.schedule(&name).await {
        Err(e) => vec![unverifiable(a, &e)],
        Ok(live) => {
            drift::schedule(&mut a, &want, live.as_ref());
            vec![a]
        }
    }
}

fn all_uuids(list: &[crate::aws::live::LiveMapping]) -> Vec<String> {
    list.iter().map(|m| m.uuid.clone()).collect()
}

fn all_has(uuids: &[String], uuid: &str) -> bool {
    uuids.iter().any(|u| u == uuid)
}
