//! The pipeline graph -> CloudFormation resources.
//!
//! - Buckets depend on the queue policies of the queues they notify; the policies name the
//!   bucket by an ARN built from its name, so there is no cycle and no custom resource.
//! - Every default that matters is written out, so drift on it is visible.
//! - IAM is least privilege derived from the data flow: read the trigger prefix, write the output
//!   prefixes, quarantine and tables, consume the own queue, write the own log group.

use super::desired::{self, QueueSettings, Target};
use super::{Resource, Template, get_att, logical_id, r#ref, sub};
use crate::spec::pattern::KeyTemplate;
use crate::spec::resolve::{Email, Pipeline, Stage};
use serde_json::{Value, json};

/// Why ES1001 (an OnFailure destination on the mapping) does not apply.
const NO_ON_FAILURE_FOR_SQS: &str = "AWS rejects OnFailure destinations on SQS event source mappings; failed records go to the queue's redrive DLQ after maxReceiveCount";
/// Why ES6000 (a redrive policy) does not apply.
const DLQ_HAS_NO_DLQ: &str =
    "this queue is itself a dead-letter queue; a DLQ behind it would only move dead letters further from view";

/// Why checkov's CKV_AWS_27 (a queue encrypted with a KMS key) does not apply.
const SSE_SQS: &str =
    "encrypted at rest with SSE-SQS (SqsManagedSseEnabled: true); the check recognises KmsMasterKeyId only";
/// Why CKV_AWS_26 (an SNS topic encrypted with KMS) does not apply.
const ALERT_TOPIC_PLAIN: &str = "the topic carries alarm state changes only, no pipeline data; CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer-managed key per pipeline would add a key policy to keep right and a monthly cost for no data";
/// Why CKV_AWS_18 (S3 server access logging) does not apply.
const NO_ACCESS_LOGS: &str = "server access logs need a separate log bucket that outlives the pipeline; the account's CloudTrail (S3 data events) is the audit trail of object access";
/// Why CKV_AWS_158 (a log group encrypted with KMS) does not apply.
const LOGS_SERVICE_ENCRYPTED: &str = "CloudWatch Logs encrypts every log group at rest; the stage logs hold keys, counts and errors, no secrets, so a customer-managed key would add a key policy and a cost without protecting anything more";
/// Why CKV_AWS_117 (a function inside a VPC) does not apply.
const NO_VPC: &str = "the stages reach only AWS APIs (S3, S3 Tables, SQS, CloudWatch Logs) and no resource inside a VPC; a VPC would need NAT or endpoints for each of them";
/// Why CKV_AWS_173 (environment variables encrypted with a customer-managed key) does not apply.
const ENV_NO_SECRETS: &str = "the variables hold bucket names, key templates and ARNs of the stage contract, no secrets; Lambda encrypts them at rest with its AWS-managed key";
/// Why CKV_AWS_116 (a function DLQ) does not apply to a queue-fed function.
const QUEUE_IS_THE_DLQ: &str = "invoked synchronously by its SQS event source mapping: a function DLQ applies only to asynchronous invocations; a failed record returns to the queue and moves to the queue's dead-letter queue after maxReceiveCount";
/// Why CKV_AWS_115 (reserved concurrency) does not apply to a queue-fed function without `reserved_concurrency`.
const MAPPING_BOUNDS_CONCURRENCY: &str = "its SQS event source mapping bounds the concurrent invocations (ScalingConfig.MaximumConcurrency, the stage's queue.max_concurrency); reserving concurrency would take it from the account's other functions, which the spec does when it sets function.reserved_concurrency";
/// Why CKV_AWS_115 does not apply to a scheduled function without `reserved_concurrency`.
const SCHEDULE_BOUNDS_CONCURRENCY: &str = "started once per schedule tick (and at most twice more by Lambda's retries); reserving concurrency would take it from the account's other functions, which the spec does when it sets function.reserved_concurrency";

/// The stack parameter of the artifact bucket.
pub const ARTIFACT_BUCKET: &str = "ArtifactBucket";
/// The stack parameter of the alert e-mail address.
pub const ALERT_EMAIL: &str = "AlertEmail";
/// What the `AlertEmail` parameter accepts (and `deploy` checks before calling CloudFormation).
pub const ALERT_EMAIL_PATTERN: &str = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$";
/// Logical id of the alert topic.
pub const ALERT_TOPIC: &str = "AlertTopic";
/// Logical id of the queue of undeliverable alarm notifications.
const ALERT_DLQ: &str = "AlertDlq";

/// The Lambda runtime of every function (`pipewright build` checks the bootstraps against its glibc).
pub const RUNTIME: &str = "provided.al2023";

/// The parameter holding a stage's artifact key.
pub fn artifact_key_param(stage: &str) -> String {
    logical_id(&[stage, "ArtifactKey"])
}

fn tags(p: &Pipeline) -> Value {
    Value::Array(p.tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect())
}

fn with_tags(p: &Pipeline, mut props: Value) -> Value {
    if !p.tags.is_empty() {
        props["Tags"] = tags(p);
    }
    props
}

fn s3_arn(t: Target, bucket: &str, key: &str) -> Value {
    if key.is_empty() {
        t.text(&format!("arn:${{AWS::Partition}}:s3:::{bucket}"))
    } else {
        t.text(&format!("arn:${{AWS::Partition}}:s3:::{bucket}/{key}"))
    }
}

fn queue_arn(name: &str) -> Value {
    sub(&format!("arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{name}"))
}

fn policy(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

fn assume_role(service: &str) -> Value {
    policy(vec![json!({
        "Effect": "Allow",
        "Principal": { "Service": service },
        "Action": "sts:AssumeRole",
        "Condition": { "StringEquals": { "aws:SourceAccount": r#ref("AWS::AccountId") } },
    })])
}

/// Ids of a stage's resources.
struct Ids {
    queue: String,
    dlq: String,
    queue_policy: String,
    function: String,
    role: String,
    log_group: String,
    mapping: String,
}

fn ids(stage: &str) -> Ids {
    Ids {
        queue: logical_id(&[stage, "Queue"]),
        dlq: logical_id(&[stage, "Dlq"]),
        queue_policy: logical_id(&[stage, "QueuePolicy"]),
        function: logical_id(&[stage, "Function"]),
        role: logical_id(&[stage, "Role"]),
        log_group: logical_id(&[stage, "LogGroup"]),
        mapping: logical_id(&[stage, "EventSourceMapping"]),
    }
}

fn bucket_id(key: &str) -> String {
    logical_id(&[key, "Bucket"])
}

/// Builds the stack of the pipeline.
pub fn template(p: &Pipeline, spec_path: &str) -> Template {
    let mut t = Template {
        description: format!(
            "pipewright: the {} pipeline, generated from {spec_path} (do not edit; run `pipewright generate`)",
            p.project.value
        ),
        ..Template::default()
    };
    let lambda_stages: Vec<&Stage> = p.stages.iter().filter(|s| s.function.is_some()).collect();
    if !lambda_stages.is_empty() {
        t.parameters.insert(
            ARTIFACT_BUCKET.into(),
            json!({
                "Type": "String",
                "Description": "Bucket holding the stages' bootstrap.zip artifacts (written by `pipewright deploy`)",
                "MinLength": 3,
                "MaxLength": 63,
            }),
        );
        for s in &lambda_stages {
            t.parameters.insert(
                artifact_key_param(&s.name),
                json!({
                    "Type": "String",
                    "Description": format!("Key of the `{}` artifact (content-addressed, from `pipewright build`)", s.name.value),
                    "MinLength": 1,
                }),
            );
        }
    }

    alerts(p, &mut t);
    for b in &p.buckets {
        bucket(p, b, &mut t);
    }
    tables(p, &mut t);
    for s in &p.stages {
        stage(p, s, &mut t);
    }
    t
}

fn alerts(p: &Pipeline, t: &mut Template) {
    let Some(a) = &p.alerts else { return };
    t.add(
        ALERT_TOPIC,
        Resource::new(
            "AWS::SNS::Topic",
            a.topic.span,
            with_tags(p, json!({ "TopicName": a.topic.value, "DisplayName": format!("{} alarms", p.project.value) })),
        )
        .skip_checkov("CKV_AWS_26", ALERT_TOPIC_PLAIN),
    );
    t.output("AlertTopicArn", "ARN of the alarm topic", r#ref(ALERT_TOPIC));
    // Notifications SNS cannot deliver are kept here for 14 days instead of being dropped.
    let dlq_name = format!("{}-dlq", a.topic.value);
    t.add(
        ALERT_DLQ,
        Resource::new(
            "AWS::SQS::Queue",
            a.topic.span,
            with_tags(
                p,
                json!({ "QueueName": dlq_name, "MessageRetentionPeriod": 1_209_600, "SqsManagedSseEnabled": true }),
            ),
        )
        .suppress("ES6000", DLQ_HAS_NO_DLQ)
        .skip_checkov("CKV_AWS_27", SSE_SQS),
    );
    t.add(
        "AlertDlqPolicy",
        Resource::new(
            "AWS::SQS::QueuePolicy",
            a.topic.span,
            json!({
                "Queues": [r#ref(ALERT_DLQ)],
                "PolicyDocument": policy(vec![json!({
                    "Sid": "AllowUndeliveredAlerts",
                    "Effect": "Allow",
                    "Principal": { "Service": "sns.amazonaws.com" },
                    "Action": "sqs:SendMessage",
                    "Resource": get_att(ALERT_DLQ, "Arn"),
                    "Condition": { "ArnEquals": { "aws:SourceArn": r#ref(ALERT_TOPIC) } },
                })]),
            }),
        ),
    );
    t.output("AlertDlqUrl", "URL of the queue of undeliverable alarm notifications", r#ref(ALERT_DLQ));
    let redrive = json!({ "deadLetterTargetArn": get_att(ALERT_DLQ, "Arn") });
    match a.email.as_ref().map(|e| &e.value) {
        Some(Email::Parameter) => {
            // No default: a stack whose alarms would notify nobody is refused by CloudFormation too.
            t.parameters.insert(
                ALERT_EMAIL.into(),
                json!({
                    "Type": "String",
                    "Description": "E-mail address that receives the alarms",
                    "AllowedPattern": ALERT_EMAIL_PATTERN,
                    "ConstraintDescription": "an e-mail address (the alarms notify it; write `alerts: none` in the spec for a pipeline without alerting)",
                }),
            );
            t.add(
                "AlertEmailSubscription",
                Resource::new(
                    "AWS::SNS::Subscription",
                    a.email.as_ref().map(|e| e.span).unwrap_or_default(),
                    json!({ "TopicArn": r#ref(ALERT_TOPIC), "Protocol": "email", "Endpoint": r#ref(ALERT_EMAIL), "RedrivePolicy": redrive }),
                )
                .depends_on(["AlertDlqPolicy".to_string()]),
            );
        }
        Some(Email::Address(addr)) => {
            t.add(
                "AlertEmailSubscription",
                Resource::new(
                    "AWS::SNS::Subscription",
                    a.email.as_ref().map(|e| e.span).unwrap_or_default(),
                    json!({ "TopicArn": r#ref(ALERT_TOPIC), "Protocol": "email", "Endpoint": addr, "RedrivePolicy": redrive }),
                )
                .depends_on(["AlertDlqPolicy".to_string()]),
            );
        }
        None => {}
    }
}

fn bucket(p: &Pipeline, b: &crate::spec::resolve::Bucket, t: &mut Template) {
    let id = bucket_id(&b.key);
    let rules = lifecycle_rules(b);
    let (queue_configs, policies) = notifications(p, b);
    let mut props = json!({
        "BucketName": b.name.value,
        "BucketEncryption": { "ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" },
            "BucketKeyEnabled": true,
        }]},
        "VersioningConfiguration": { "Status": if b.versioning { "Enabled" } else { "Suspended" } },
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": true,
            "BlockPublicPolicy": true,
            "IgnorePublicAcls": true,
            "RestrictPublicBuckets": true,
        },
        "OwnershipControls": { "Rules": [{ "ObjectOwnership": "BucketOwnerEnforced" }] },
        "LifecycleConfiguration": { "Rules": rules },
    });
    if !queue_configs.is_empty() {
        props["NotificationConfiguration"] = json!({ "QueueConfigurations": queue_configs });
    }
    if desired::sends_to_eventbridge(p, b) {
        props["NotificationConfiguration"]["EventBridgeConfiguration"] = json!({ "EventBridgeEnabled": true });
    }
    t.add(
        id.clone(),
        Resource::new("AWS::S3::Bucket", b.key.span, with_tags(p, props))
            .depends_on(policies)
            .retained()
            .skip_checkov("CKV_AWS_18", NO_ACCESS_LOGS),
    );

    t.add(
        logical_id(&[&b.key, "BucketPolicy"]),
        Resource::new(
            "AWS::S3::BucketPolicy",
            b.key.span,
            json!({
                "Bucket": r#ref(&id),
                "PolicyDocument": policy(vec![json!({
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [get_att(&id, "Arn"), sub(&format!("${{{id}.Arn}}/*"))],
                    "Condition": { "Bool": { "aws:SecureTransport": "false" } },
                })]),
            }),
        ),
    );
    t.output(logical_id(&[&b.key, "BucketName"]), &format!("Name of the {} bucket", b.key.value), r#ref(&id));
    t.output(logical_id(&[&b.key, "BucketArn"]), &format!("ARN of the {} bucket", b.key.value), get_att(&id, "Arn"));
}

/// A bucket's lifecycle rules: transitions and expiry of current versions, expiry of noncurrent ones,
/// aborting incomplete uploads.
pub fn lifecycle_rules(b: &crate::spec::resolve::Bucket) -> Vec<Value> {
    let l = &b.lifecycle;
    let mut rules = Vec::new();
    let mut transitions = Vec::new();
    for (class, days) in [
        ("INTELLIGENT_TIERING", &l.intelligent_tiering_days),
        ("STANDARD_IA", &l.infrequent_access_days),
        ("GLACIER", &l.glacier_days),
    ] {
        if let Some(d) = days {
            transitions.push(json!({ "StorageClass": class, "TransitionInDays": d.value }));
        }
    }
    if !transitions.is_empty() || l.expire_days.is_some() {
        let mut rule = json!({ "Id": "current-versions", "Status": "Enabled" });
        if !transitions.is_empty() {
            rule["Transitions"] = Value::Array(transitions);
        }
        if let Some(d) = &l.expire_days {
            rule["ExpirationInDays"] = json!(d.value);
        }
        rules.push(rule);
    }
    if b.versioning {
        rules.push(json!({
            "Id": "noncurrent-versions",
            "Status": "Enabled",
            "NoncurrentVersionExpiration": { "NoncurrentDays": l.noncurrent_expire_days.value },
        }));
    }
    rules.push(json!({
        "Id": "abort-incomplete-uploads",
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": l.abort_incomplete_upload_days.value },
    }));
    rules
}

/// The notifications of the stages a bucket triggers (their queue configurations), and the queue policies
/// they depend on.
fn notifications(p: &Pipeline, b: &crate::spec::resolve::Bucket) -> (Vec<Value>, Vec<String>) {
    let mut queue_configs = Vec::new();
    let mut policies: Vec<String> = Vec::new();
    for n in desired::notifications(p, b) {
        let sid = ids(&n.stage);
        if !policies.contains(&sid.queue_policy) {
            policies.push(sid.queue_policy.clone());
        }
        let mut cfg = json!({ "Event": n.event, "Queue": get_att(&sid.queue, "Arn") });
        let mut filter_rules = Vec::new();
        if !n.prefix.is_empty() {
            filter_rules.push(json!({ "Name": "prefix", "Value": n.prefix }));
        }
        if !n.suffix.is_empty() {
            filter_rules.push(json!({ "Name": "suffix", "Value": n.suffix }));
        }
        if !filter_rules.is_empty() {
            cfg["Filter"] = json!({ "S3Key": { "Rules": filter_rules } });
        }
        queue_configs.push(cfg);
    }
    (queue_configs, policies)
}

fn tables(p: &Pipeline, t: &mut Template) {
    let Some(tb) = &p.tables else { return };
    let bucket_id = logical_id(&[&tb.bucket_key, "TableBucket"]);
    t.add(
        bucket_id.clone(),
        Resource::new(
            "AWS::S3Tables::TableBucket",
            tb.bucket_key.span,
            json!({
                "TableBucketName": tb.bucket_name.value,
                "EncryptionConfiguration": { "SSEAlgorithm": "AES256" },
                "UnreferencedFileRemoval": { "Status": "Enabled", "UnreferencedDays": 3, "NoncurrentDays": 10 },
            }),
        )
        .retained(),
    );
    let ns_id = logical_id(&[&tb.namespace, "Namespace"]);
    t.add(
        ns_id.clone(),
        Resource::new(
            "AWS::S3Tables::Namespace",
            tb.namespace.span,
            json!({ "TableBucketARN": get_att(&bucket_id, "TableBucketARN"), "Namespace": tb.namespace.value }),
        )
        .retained(),
    );
    t.output("TableBucketArn", "ARN of the S3 Tables table bucket", get_att(&bucket_id, "TableBucketARN"));
    t.output("TableNamespace", "Namespace of the tables", json!(tb.namespace.value));
    for table in &tb.tables {
        let id = logical_id(&[&table.name, "Table"]);
        // A partitioned table gives its columns their field ids (1.. in order), which the partition fields
        // name as their sources; Iceberg numbers partition fields from 1000.
        let partition = table.partition_fields();
        let fields: Vec<Value> = table
            .columns
            .iter()
            .zip(1..)
            .map(|(c, id)| {
                let mut field = json!({ "Name": c.name.value, "Type": c.ty.value, "Required": c.required });
                if !partition.is_empty() {
                    field["Id"] = json!(id);
                }
                field
            })
            .collect();
        let mut iceberg = json!({ "IcebergSchema": { "SchemaFieldList": fields } });
        if !partition.is_empty() {
            let fields: Vec<Value> = partition
                .iter()
                .zip(1000..)
                .map(|((source, column, transform), field_id)| {
                    json!({
                        "SourceId": source,
                        "Transform": transform.to_string(),
                        "Name": transform.field_name(&column.name.value),
                        "FieldId": field_id,
                    })
                })
                .collect();
            iceberg["IcebergPartitionSpec"] = json!({ "SpecId": 0, "Fields": fields });
        }
        t.add(
            id.clone(),
            Resource::new(
                "AWS::S3Tables::Table",
                table.name.span,
                json!({
                    "TableBucketARN": get_att(&bucket_id, "TableBucketARN"),
                    "Namespace": tb.namespace.value,
                    "TableName": table.name.value,
                    "OpenTableFormat": "ICEBERG",
                    "IcebergMetadata": iceberg,
                    "Compaction": { "Status": "enabled", "TargetFileSizeMB": 512 },
                    "SnapshotManagement": { "Status": "enabled", "MinSnapshotsToKeep": 1, "MaxSnapshotAgeHours": 120 },
                }),
            )
            .depends_on([ns_id.clone()])
            .retained(),
        );
        t.output(
            logical_id(&[&table.name, "TableArn"]),
            &format!("ARN of table {}", table.name.value),
            get_att(&id, "TableARN"),
        );
    }
}

/// The inline policies of a stage's role, by name.
pub fn role_policies(p: &Pipeline, s: &Stage, t: Target) -> Vec<(&'static str, Value)> {
    vec![("data-flow", policy(stage_policy(p, s, t)))]
}

/// IAM statements of a stage, derived from its data flow.
/// The prefixes a stage writes (its outputs and its quarantine), by bucket, in spec order.
fn output_prefixes(p: &Pipeline, s: &Stage) -> Vec<(String, Vec<String>)> {
    let mut by_bucket: Vec<(String, Vec<String>)> = Vec::new();
    let mut push = |bucket: String, prefix: String| match by_bucket.iter_mut().find(|(b, _)| *b == bucket) {
        Some((_, v)) => {
            if !v.contains(&prefix) {
                v.push(prefix)
            }
        }
        None => by_bucket.push((bucket, vec![prefix])),
    };
    for w in &s.writes {
        push(p.bucket_name(&w.bucket), format!("{}*", w.key.literal_prefix()));
    }
    if let Some(q) = &s.quarantine {
        push(
            p.bucket_name(&q.bucket),
            format!("{}*", KeyTemplate { template: q.prefix.value.clone() }.literal_prefix()),
        );
    }
    by_bucket
}

fn stage_policy(p: &Pipeline, s: &Stage, t: Target) -> Vec<Value> {
    let sid = ids(&s.name);
    let log_group = s.function.as_ref().map(|f| f.log_group.value.clone()).unwrap_or_default();
    let mut st = vec![json!({
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": t.att(&sid.log_group, "Arn", |pl| pl.log_group_arn(&log_group)),
    })];
    st.push(json!({
        "Sid": "WriteTraces",
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        // X-Ray has no resource-level permissions.
        "Resource": "*",
    }));
    if let Some(q) = &s.queue {
        st.push(json!({
            "Sid": "ConsumeOwnQueue",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
            "Resource": t.att(&sid.queue, "Arn", |pl| pl.queue_arn(&q.name)),
        }));
    }
    if let Some(dlq) = s.schedule.as_ref().and_then(|sch| sch.dlq_name.as_ref()) {
        // Lambda sends the payload of a run that failed every retry to the function's DLQ.
        st.push(json!({
            "Sid": "DeadLetterFailedRuns",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": t.att(&sid.dlq, "Arn", |pl| pl.queue_arn(dlq)),
        }));
    }
    if let Some(trigger) = &s.trigger {
        let bucket = p.bucket_name(&trigger.bucket);
        let prefix = &trigger.pattern.prefix;
        st.push(json!({
            "Sid": "ReadTriggerPrefix",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": s3_arn(t, &bucket, &format!("{prefix}*")),
        }));
        st.push(json!({
            "Sid": "ListTriggerPrefix",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": s3_arn(t, &bucket, ""),
            "Condition": { "StringLike": { "s3:prefix": [format!("{prefix}*")] } },
        }));
    }
    // Outputs (and reading them back, for idempotent re-runs) and the quarantine.
    let by_bucket = output_prefixes(p, s);
    for (i, (bucket, prefixes)) in by_bucket.iter().enumerate() {
        let n = if i == 0 { String::new() } else { (i + 1).to_string() };
        st.push(json!({
            "Sid": format!("WriteOutputs{n}"),
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject"],
            "Resource": prefixes.iter().map(|pre| s3_arn(t, bucket, pre)).collect::<Vec<_>>(),
        }));
        st.push(json!({
            "Sid": format!("ListOutputs{n}"),
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": s3_arn(t, bucket, ""),
            "Condition": { "StringLike": { "s3:prefix": prefixes } },
        }));
    }
    if let (Some(arn), false) = (p.table_bucket_arn_sub(), s.writes_tables.is_empty()) {
        st.push(json!({
            "Sid": "ReadTableBucket",
            "Effect": "Allow",
            "Action": ["s3tables:GetTableBucket", "s3tables:GetNamespace"],
            "Resource": t.text(&arn),
        }));
        st.push(json!({
            "Sid": "WriteTables",
            "Effect": "Allow",
            "Action": [
                "s3tables:GetTable",
                "s3tables:GetTableMetadataLocation",
                "s3tables:UpdateTableMetadataLocation",
                "s3tables:GetTableData",
                "s3tables:PutTableData",
            ],
            "Resource": t.text(&format!("{arn}/table/*")),
        }));
    }
    st
}

fn stage(p: &Pipeline, s: &Stage, t: &mut Template) {
    let Some(f) = &s.function else { return };
    let sid = ids(&s.name);
    if let Some(q) = &s.queue {
        queues(p, s, q, &sid, t);
    }
    function(p, s, f, &sid, t);
    if let Some(q) = &s.queue {
        mapping(s, q, &sid, t);
    }
    if let Some(sch) = &s.schedule {
        schedule(p, s, sch, &sid, t);
    }
    alarms(p, s, &sid, t);
}

/// A queue's properties: a stage's queue redrives to its DLQ (`dlq_id`); a DLQ allows its source queue.
fn queue_properties(q: &QueueSettings, dlq_id: &str) -> Value {
    let mut props = json!({ "QueueName": q.name });
    // A DLQ's retention first: what it is for.
    let settings = if q.redrive_allow.is_some() {
        [("MessageRetentionPeriod", q.retention), ("VisibilityTimeout", q.visibility)]
    } else {
        [("VisibilityTimeout", q.visibility), ("MessageRetentionPeriod", q.retention)]
    };
    for (key, value) in settings.into_iter().chain([
        ("ReceiveMessageWaitTimeSeconds", q.receive_wait),
        ("DelaySeconds", q.delay),
        ("MaximumMessageSize", q.max_message_size),
    ]) {
        props[key] = json!(value);
    }
    props["SqsManagedSseEnabled"] = json!(true);
    if let Some(allow) = &q.redrive_allow {
        props["RedriveAllowPolicy"] = allow.policy(queue_arn);
    }
    if let Some((_, max_receive_count)) = &q.redrive {
        props["RedrivePolicy"] =
            json!({ "deadLetterTargetArn": get_att(dlq_id, "Arn"), "maxReceiveCount": max_receive_count });
    }
    props
}

/// The logical id of a trigger's EventBridge rule.
fn rule_id(rule: &desired::EventRule) -> String {
    let n = if rule.index == 0 { String::new() } else { (rule.index + 1).to_string() };
    logical_id(&[&rule.stage, &format!("Rule{n}")])
}

/// The policy of a stage's queue: S3 may send the events of the trigger's bucket, from this account; or,
/// for a trigger delivered through EventBridge, its rules may send to the queue and, for the events they
/// cannot deliver, to its DLQ.
pub fn queue_policy(p: &Pipeline, s: &Stage, t: Target) -> Option<Value> {
    let (trigger, q) = (s.trigger.as_ref()?, s.queue.as_ref()?);
    let bucket = p.bucket_name(&trigger.bucket);
    let sid = ids(&s.name);
    if trigger.through_eventbridge() {
        let rules: Vec<Value> =
            desired::rules(p, s).iter().map(|r| t.att(&rule_id(r), "Arn", |pl| pl.rule_arn(&r.name))).collect();
        return Some(policy(vec![json!({
            "Sid": "AllowEventBridgeRules",
            "Effect": "Allow",
            "Principal": { "Service": "events.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": [
                t.att(&sid.queue, "Arn", |pl| pl.queue_arn(&q.name)),
                t.att(&sid.dlq, "Arn", |pl| pl.queue_arn(&q.dlq_name)),
            ],
            "Condition": { "ArnEquals": { "aws:SourceArn": rules } },
        })]));
    }
    Some(policy(vec![json!({
        "Sid": "AllowS3Notifications",
        "Effect": "Allow",
        "Principal": { "Service": "s3.amazonaws.com" },
        "Action": "sqs:SendMessage",
        "Resource": t.att(&sid.queue, "Arn", |pl| pl.queue_arn(&q.name)),
        "Condition": {
            "ArnEquals": { "aws:SourceArn": s3_arn(t, &bucket, "") },
            "StringEquals": { "aws:SourceAccount": t.account() },
        },
    })]))
}

/// A stage's queue, its DLQ, and the queue policy that lets S3 send its trigger's events.
fn queues(p: &Pipeline, s: &Stage, q: &crate::spec::resolve::Queue, sid: &Ids, t: &mut Template) {
    t.add(
        sid.dlq.clone(),
        Resource::new("AWS::SQS::Queue", q.dlq_name.span, with_tags(p, queue_properties(&QueueSettings::dlq(q), "")))
            .suppress("ES6000", DLQ_HAS_NO_DLQ)
            .skip_checkov("CKV_AWS_27", SSE_SQS),
    );
    t.add(
        sid.queue.clone(),
        Resource::new(
            "AWS::SQS::Queue",
            q.name.span,
            with_tags(p, queue_properties(&QueueSettings::queue(q), &sid.dlq)),
        )
        .skip_checkov("CKV_AWS_27", SSE_SQS),
    );
    if let (Some(trigger), Some(document)) = (&s.trigger, queue_policy(p, s, Target::Template)) {
        // Through EventBridge, the DLQ receives the events the rules cannot deliver.
        let queues = if trigger.through_eventbridge() {
            json!([r#ref(&sid.queue), r#ref(&sid.dlq)])
        } else {
            json!([r#ref(&sid.queue)])
        };
        t.add(
            sid.queue_policy.clone(),
            Resource::new(
                "AWS::SQS::QueuePolicy",
                trigger.span,
                json!({ "Queues": queues, "PolicyDocument": document }),
            ),
        );
        event_rules(p, s, trigger, sid, t);
    }
    for (id, what) in [(&sid.queue, "queue"), (&sid.dlq, "dead-letter queue")] {
        t.output(format!("{id}Url"), &format!("URL of the {} {what}", s.name.value), r#ref(id));
        t.output(format!("{id}Arn"), &format!("ARN of the {} {what}", s.name.value), get_att(id, "Arn"));
        t.output(format!("{id}Name"), &format!("Name of the {} {what}", s.name.value), get_att(id, "QueueName"));
    }
}

/// The EventBridge rules of a trigger delivered that way: the stage's queue as target, its DLQ for the
/// events EventBridge cannot deliver after its retries.
fn event_rules(p: &Pipeline, s: &Stage, trigger: &crate::spec::resolve::Trigger, sid: &Ids, t: &mut Template) {
    for rule in desired::rules(p, s) {
        let id = rule_id(&rule);
        t.add(
            id.clone(),
            Resource::new(
                "AWS::Events::Rule",
                trigger.via.span.or(trigger.span),
                json!({
                    "Name": rule.name,
                    "Description": format!("Delivers the S3 events of `{}` matching `{}` to stage {}", rule.bucket, rule.pattern, s.name.value),
                    "EventBusName": "default",
                    "State": "ENABLED",
                    "EventPattern": rule.event_pattern(),
                    "Targets": [{
                        "Id": desired::RULE_TARGET_ID,
                        "Arn": get_att(&sid.queue, "Arn"),
                        "DeadLetterConfig": { "Arn": get_att(&sid.dlq, "Arn") },
                        "RetryPolicy": {
                            "MaximumRetryAttempts": desired::RULE_RETRY_ATTEMPTS,
                            "MaximumEventAgeInSeconds": desired::RULE_MAX_EVENT_AGE_SECONDS,
                        },
                    }],
                }),
            ),
        );
        t.output(format!("{id}Arn"), &format!("ARN of the {} EventBridge rule", s.name.value), get_att(&id, "Arn"));
    }
}

/// A stage's function with its log group and role.
fn function(p: &Pipeline, s: &Stage, f: &crate::spec::resolve::Function, sid: &Ids, t: &mut Template) {
    let origin = s.name.span;
    t.add(
        sid.log_group.clone(),
        Resource::new(
            "AWS::Logs::LogGroup",
            f.log_group.span,
            with_tags(p, json!({ "LogGroupName": f.log_group.value, "RetentionInDays": f.log_retention_days.value })),
        )
        .skip_checkov("CKV_AWS_158", LOGS_SERVICE_ENCRYPTED),
    );
    t.add(
        sid.role.clone(),
        Resource::new(
            "AWS::IAM::Role",
            f.role_name.span,
            with_tags(
                p,
                json!({
                    "RoleName": f.role_name.value,
                    "Description": format!("pipewright: least privilege of stage {}", s.name.value),
                    "AssumeRolePolicyDocument": assume_role("lambda.amazonaws.com"),
                    "Policies": role_policies(p, s, Target::Template)
                        .into_iter()
                        .map(|(name, doc)| json!({ "PolicyName": name, "PolicyDocument": doc }))
                        .collect::<Vec<_>>(),
                }),
            ),
        ),
    );

    let mut env = serde_json::Map::new();
    for (k, v) in p.contract_vars(s) {
        let value = if v.contains("${AWS::") { sub(&v) } else { json!(v) };
        env.insert(k.to_string(), value);
    }
    for (k, v) in &f.env {
        env.insert(k.value.clone(), json!(v.value));
    }
    let props = json!({
        "FunctionName": f.name.value,
        "Description": format!("pipewright stage {} of {}", s.name.value, p.project.value),
        "Runtime": RUNTIME,
        "Handler": "bootstrap",
        "PackageType": "Zip",
        "Architectures": [f.architecture.as_str()],
        "MemorySize": f.memory.value,
        "Timeout": f.timeout.secs(),
        "Role": get_att(&sid.role, "Arn"),
        "Code": { "S3Bucket": r#ref(ARTIFACT_BUCKET), "S3Key": r#ref(&artifact_key_param(&s.name)) },
        "Environment": { "Variables": env },
        "LoggingConfig": { "LogGroup": r#ref(&sid.log_group), "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN" },
        "EphemeralStorage": { "Size": 512 },
        "TracingConfig": { "Mode": "Active" },
    });
    let queue_fed = s.queue.is_some();
    let mut function = Resource::new("AWS::Lambda::Function", f.name.span.or(origin), with_tags(p, props))
        .skip_checkov("CKV_AWS_117", NO_VPC)
        .skip_checkov("CKV_AWS_173", ENV_NO_SECRETS);
    match s.schedule.as_ref().and_then(|sch| sch.dlq_name.as_ref()) {
        // A scheduled run is an asynchronous invocation: after Lambda's retries, its payload (the run's
        // scheduled time, or its date) goes to the stage's DLQ, for `pipewright dlq redrive`.
        Some(_) => function.properties["DeadLetterConfig"] = json!({ "TargetArn": get_att(&sid.dlq, "Arn") }),
        None => function = function.skip_checkov("CKV_AWS_116", QUEUE_IS_THE_DLQ),
    }
    match &f.reserved_concurrency {
        Some(rc) => function.properties["ReservedConcurrentExecutions"] = json!(rc.value),
        None => {
            let why = if queue_fed { MAPPING_BOUNDS_CONCURRENCY } else { SCHEDULE_BOUNDS_CONCURRENCY };
            function = function.skip_checkov("CKV_AWS_115", why);
        }
    }
    t.add(sid.function.clone(), function);
    t.output(format!("{}Name", sid.function), &format!("Name of the {} function", s.name.value), r#ref(&sid.function));
    t.output(
        format!("{}Arn", sid.function),
        &format!("ARN of the {} function", s.name.value),
        get_att(&sid.function, "Arn"),
    );
    t.output(format!("{}Arn", sid.role), &format!("ARN of the {} role", s.name.value), get_att(&sid.role, "Arn"));
    t.output(
        format!("{}Name", sid.log_group),
        &format!("Log group of the {} function", s.name.value),
        r#ref(&sid.log_group),
    );
}

/// The event source mapping from a stage's queue to its function (partial batch responses).
fn mapping(s: &Stage, q: &crate::spec::resolve::Queue, sid: &Ids, t: &mut Template) {
    let Some(m) = desired::mapping(s) else { return };
    let mut props = json!({
        "EventSourceArn": get_att(&sid.queue, "Arn"),
        "FunctionName": r#ref(&sid.function),
        "Enabled": true,
        "BatchSize": m.batch_size,
        "MaximumBatchingWindowInSeconds": m.window,
    });
    if m.report_batch_item_failures {
        props["FunctionResponseTypes"] = json!(["ReportBatchItemFailures"]);
    }
    props["ScalingConfig"] = json!({ "MaximumConcurrency": m.max_concurrency });
    t.add(
        sid.mapping.clone(),
        Resource::new("AWS::Lambda::EventSourceMapping", q.name.span, props).suppress("ES1001", NO_ON_FAILURE_FOR_SQS),
    );
    t.output(
        format!("{}Id", sid.mapping),
        &format!("Id of the {} event source mapping", s.name.value),
        r#ref(&sid.mapping),
    );
}

/// The EventBridge Scheduler schedule that starts a stage, the role it invokes the function with, and the
/// DLQ of the runs that failed.
fn schedule(p: &Pipeline, s: &Stage, sch: &crate::spec::resolve::Schedule, sid: &Ids, t: &mut Template) {
    if let Some(dlq) = &sch.dlq_name {
        let settings = QueueSettings::failed_runs(&dlq.value);
        t.add(
            sid.dlq.clone(),
            Resource::new("AWS::SQS::Queue", dlq.span, with_tags(p, queue_properties(&settings, "")))
                .suppress("ES6000", DLQ_HAS_NO_DLQ)
                .skip_checkov("CKV_AWS_27", SSE_SQS),
        );
        let what = "dead-letter queue of failed runs";
        t.output(format!("{}Url", sid.dlq), &format!("URL of the {} {what}", s.name.value), r#ref(&sid.dlq));
        t.output(format!("{}Arn", sid.dlq), &format!("ARN of the {} {what}", s.name.value), get_att(&sid.dlq, "Arn"));
    }
    let role = logical_id(&[&s.name, "SchedulerRole"]);
    t.add(
        role.clone(),
        Resource::new(
            "AWS::IAM::Role",
            sch.expression.span,
            with_tags(
                p,
                json!({
                    "AssumeRolePolicyDocument": assume_role("scheduler.amazonaws.com"),
                    "Policies": [{ "PolicyName": "invoke-stage", "PolicyDocument": policy(vec![json!({
                        "Sid": "InvokeStage",
                        "Effect": "Allow",
                        "Action": ["lambda:InvokeFunction"],
                        "Resource": get_att(&sid.function, "Arn"),
                    }), json!({
                        "Sid": "DeadLetterUndeliveredRuns",
                        "Effect": "Allow",
                        "Action": ["sqs:SendMessage"],
                        "Resource": get_att(&sid.dlq, "Arn"),
                    })]) }],
                }),
            ),
        ),
    );
    t.add(
        logical_id(&[&s.name, "Schedule"]),
        Resource::new(
            "AWS::Scheduler::Schedule",
            sch.expression.span,
            json!({
                "Name": sch.name,
                "Description": format!("Starts stage {} of {}", s.name.value, p.project.value),
                "ScheduleExpression": sch.expression.value,
                "ScheduleExpressionTimezone": sch.timezone.value,
                "FlexibleTimeWindow": { "Mode": "OFF" },
                "State": "ENABLED",
                "Target": {
                    "Arn": get_att(&sid.function, "Arn"),
                    "RoleArn": get_att(&role, "Arn"),
                    "Input": pipewright_stage::SCHEDULE_INPUT,
                    "RetryPolicy": { "MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600 },
                    // The runs the schedule could not start (the function throttled, deleted, or not
                    // invocable by the role): the same DLQ as the runs that failed.
                    "DeadLetterConfig": { "Arn": get_att(&sid.dlq, "Arn") },
                },
            }),
        ),
    );
}

fn alarms(p: &Pipeline, s: &Stage, sid: &Ids, t: &mut Template) {
    for alarm in desired::alarms(s) {
        let dimension = match &alarm.dimension {
            desired::Dimension::Queue(name) => {
                let id = if s.dlq_name().is_some_and(|d| d.value == *name) { &sid.dlq } else { &sid.queue };
                get_att(id, "QueueName")
            }
            desired::Dimension::Function(..) => r#ref(&sid.function),
        };
        let mut props = json!({
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description,
            "Namespace": alarm.namespace,
            "MetricName": alarm.metric,
            "Dimensions": [{ "Name": alarm.dimension.name(), "Value": dimension }],
            "Statistic": alarm.statistic,
            "Period": alarm.period,
            "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.datapoints,
            "Threshold": alarm.threshold,
            "ComparisonOperator": alarm.comparison,
            "TreatMissingData": alarm.treat_missing,
            "ActionsEnabled": true,
        });
        if p.alerts.is_some() {
            props["AlarmActions"] = json!([r#ref(ALERT_TOPIC)]);
            props["OKActions"] = json!([r#ref(ALERT_TOPIC)]);
        }
        t.add(
            logical_id(&[&s.name, alarm.kind.key(), "Alarm"]),
            Resource::new("AWS::CloudWatch::Alarm", alarm.span, props),
        );
    }
}
