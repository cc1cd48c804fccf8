//! Live state read through the service APIs, as our own types. `Ok(None)` means "does not exist";
//! an `Err` means "could not read" (access denied, throttled, unreachable), never "clean".

use super::{AwsError, ErrorKind};
pub use crate::drift::live::{
    AlarmState, Encryption, LiveAlarm, LiveFunction, LiveMapping, LiveRole, LiveRule, LiveSchedule, LiveSubscription,
    MappingState, Notifications, PublicAccessBlock, QueueNotification, RuleRef, RuleTarget, TablesState,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// The SDK clients the readers use.
#[derive(Clone, Debug)]
pub struct Readers {
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub s3tables: aws_sdk_s3tables::Client,
    pub sns: aws_sdk_sns::Client,
}

fn none_if_missing<T>(r: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// One part of a bucket's state, read on its own: a failure leaves the other parts verifiable.
pub type Part<T> = Result<T, AwsError>;

#[derive(Debug, Clone)]
pub struct BucketState {
    pub notifications: Part<Notifications>,
    pub encryption: Part<Option<Encryption>>,
    pub versioning: Part<String>,
    pub public_access_block: Part<Option<PublicAccessBlock>>,
    pub policy: Part<Option<Value>>,
    /// Rules as comparable JSON (id -> rule).
    pub lifecycle: Part<BTreeMap<String, Value>>,
}

impl Readers {
    /// Clients from `config`; with `trace`, each prints its calls (`--trace-aws`).
    pub fn new(config: &aws_types::SdkConfig, s3: aws_sdk_s3::Client, trace: bool) -> Self {
        macro_rules! client {
            ($krate:ident) => {{
                let mut b = $krate::config::Builder::from(config);
                if trace {
                    b = b.interceptor(super::TraceCalls);
                }
                $krate::Client::from_conf(b.build())
            }};
        }
        Readers {
            s3,
            sqs: client!(aws_sdk_sqs),
            lambda: client!(aws_sdk_lambda),
            iam: client!(aws_sdk_iam),
            cloudwatch: client!(aws_sdk_cloudwatch),
            logs: client!(aws_sdk_cloudwatchlogs),
            sns: client!(aws_sdk_sns),
            scheduler: client!(aws_sdk_scheduler),
            events: client!(aws_sdk_eventbridge),
            s3tables: client!(aws_sdk_s3tables),
        }
    }

    /// Everything pipewright verifies about a bucket; `None` when it does not exist.
    pub async fn bucket(&self, name: &str) -> Result<Option<BucketState>, AwsError> {
        self.bucket_of(name, None).await
    }

    /// [`Self::bucket`] of a bucket that account `owner` must own: a bucket of another account is an
    /// `AccessDenied` error (S3 checks `ExpectedBucketOwner` on the first call, before anything is read).
    pub async fn owned_bucket(&self, name: &str, owner: &str) -> Result<Option<BucketState>, AwsError> {
        self.bucket_of(name, Some(owner)).await
    }

    async fn bucket_of(&self, name: &str, owner: Option<&str>) -> Result<Option<BucketState>, AwsError> {
        let head = self.s3.head_bucket().bucket(name).set_expected_bucket_owner(owner.map(str::to_string)).send().await;
        if let Err(e) = head {
            let err = AwsError::new("s3:HeadBucket", name, e);
            return if err.head_not_found() { Ok(None) } else { Err(err) };
        }
        let (notifications, encryption, versioning, public_access_block, policy, lifecycle) = futures::join!(
            self.notifications(name),
            self.encryption(name),
            self.versioning(name),
            self.public_access_block(name),
            self.bucket_policy(name),
            self.lifecycle(name),
        );
        Ok(Some(BucketState { notifications, encryption, versioning, public_access_block, policy, lifecycle }))
    }

    async fn notifications(&self, name: &str) -> Part<Notifications> {
        let n = self
            .s3
            .get_bucket_notification_configuration()
            .bucket(name)
            .send()
            .await
            .map_err(|e| AwsError::new("s3:GetBucketNotificationConfiguration", name, e))?;
        let mut notifications = Notifications::default();
        for q in n.queue_configurations.unwrap_or_default() {
            let mut prefix = String::new();
            let mut suffix = String::new();
            for rule in q.filter.and_then(|f| f.key).and_then(|k| k.filter_rules).unwrap_or_default() {
                let value = rule.value.unwrap_or_default();
                match rule.name.map(|n| n.as_str().to_lowercase()).as_deref() {
                    Some("prefix") => prefix = value,
                    Some("suffix") => suffix = value,
                    _ => {}
                }
            }
            for event in q.events {
                notifications.queues.push(QueueNotification {
                    event: event.as_str().to_string(),
                    queue_arn: q.queue_arn.clone(),
                    prefix: prefix.clone(),
                    suffix: suffix.clone(),
                });
            }
        }
        notifications.queues.sort();
        for l in n.lambda_function_configurations.unwrap_or_default() {
            notifications.others.push(format!("lambda {}", l.lambda_function_arn));
        }
        for t in n.topic_configurations.unwrap_or_default() {
            notifications.others.push(format!("sns {}", t.topic_arn));
        }
        if n.event_bridge_configuration.is_some() {
            notifications.others.push(crate::drift::live::EVENTBRIDGE.to_string());
        }
        Ok(notifications)
    }

    async fn encryption(&self, name: &str) -> Part<Option<Encryption>> {
        match self.s3.get_bucket_encryption().bucket(name).send().await {
            Ok(out) => Ok(out.server_side_encryption_configuration.and_then(|c| {
                c.rules.into_iter().next().map(|r| Encryption {
                    algorithm: r
                        .apply_server_side_encryption_by_default
                        .map(|d| d.sse_algorithm.as_str().to_string())
                        .unwrap_or_default(),
                    bucket_key: r.bucket_key_enabled.unwrap_or(false),
                })
            })),
            Err(e) => {
                let err = AwsError::new("s3:GetBucketEncryption", name, e);
                if err.code == "ServerSideEncryptionConfigurationNotFoundError" { Ok(None) } else { Err(err) }
            }
        }
    }

    async fn versioning(&self, name: &str) -> Part<String> {
        Ok(self
            .s3
            .get_bucket_versioning()
            .bucket(name)
            .send()
            .await
            .map_err(|e| AwsError::new("s3:GetBucketVersioning", name, e))?
            .status
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Disabled".to_string()))
    }

    async fn public_access_block(&self, name: &str) -> Part<Option<PublicAccessBlock>> {
        match self.s3.get_public_access_block().bucket(name).send().await {
            Ok(out) => Ok(out.public_access_block_configuration.map(|c| PublicAccessBlock {
                block_public_acls: c.block_public_acls.unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
                block_public_policy: c.block_public_policy.unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
            })),
            Err(e) => {
                let err = AwsError::new("s3:GetPublicAccessBlock", name, e);
                if err.code == "NoSuchPublicAccessBlockConfiguration" { Ok(None) } else { Err(err) }
            }
        }
    }

    async fn bucket_policy(&self, name: &str) -> Part<Option<Value>> {
        match self.s3.get_bucket_policy().bucket(name).send().await {
            Ok(out) => Ok(out.policy.and_then(|p| serde_json::from_str(&p).ok())),
            Err(e) => {
                let err = AwsError::new("s3:GetBucketPolicy", name, e);
                if err.code == "NoSuchBucketPolicy" { Ok(None) } else { Err(err) }
            }
        }
    }

    async fn lifecycle(&self, name: &str) -> Part<BTreeMap<String, Value>> {
        let mut lifecycle = BTreeMap::new();
        match self.s3.get_bucket_lifecycle_configuration().bucket(name).send().await {
            Ok(out) => {
                for r in out.rules.unwrap_or_default() {
                    let mut rule = serde_json::json!({ "Status": r.status.as_str() });
                    let transitions: Vec<Value> = r
                        .transitions
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| {
                            serde_json::json!({
                                "StorageClass": t.storage_class.map(|c| c.as_str().to_string()),
                                "TransitionInDays": t.days,
                            })
                        })
                        .collect();
                    if !transitions.is_empty() {
                        rule["Transitions"] = Value::Array(transitions);
                    }
                    if let Some(days) = r.expiration.and_then(|e| e.days) {
                        rule["ExpirationInDays"] = days.into();
                    }
                    if let Some(days) = r.noncurrent_version_expiration.and_then(|n| n.noncurrent_days) {
                        rule["NoncurrentVersionExpiration"] = serde_json::json!({ "NoncurrentDays": days });
                    }
                    if let Some(days) = r.abort_incomplete_multipart_upload.and_then(|a| a.days_after_initiation) {
                        rule["AbortIncompleteMultipartUpload"] = serde_json::json!({ "DaysAfterInitiation": days });
                    }
                    lifecycle.insert(r.id.unwrap_or_default(), rule);
                }
                Ok(lifecycle)
            }
            Err(e) => {
                let err = AwsError::new("s3:GetBucketLifecycleConfiguration", name, e);
                if err.code == "NoSuchLifecycleConfiguration" { Ok(lifecycle) } else { Err(err) }
            }
        }
    }

    /// A queue's attributes by name; `None` when it does not exist.
    pub async fn queue(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        let url = match self.sqs.get_queue_url().queue_name(name).send().await {
            Ok(out) => out.queue_url.unwrap_or_default(),
            Err(e) => return none_if_missing(Err(AwsError::new("sqs:GetQueueUrl", name, e))).map(|_: Option<()>| None),
        };
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| AwsError::new("sqs:GetQueueAttributes", name, e))?;
        let mut attrs: BTreeMap<String, String> =
            out.attributes.unwrap_or_default().into_iter().map(|(k, v)| (k.as_str().to_string(), v)).collect();
        attrs.insert("QueueUrl".to_string(), url);
        Ok(Some(attrs))
    }

    /// A function's configuration; `None` when it does not exist.
    pub async fn function(&self, name: &str) -> Result<Option<LiveFunction>, AwsError> {
        let (out, concurrency) = futures::join!(
            self.lambda.get_function_configuration().function_name(name).send(),
            self.lambda.get_function_concurrency().function_name(name).send()
        );
        let c = match out {
            Ok(c) => c,
            Err(e) => return none_if_missing(Err(AwsError::new("lambda:GetFunctionConfiguration", name, e))),
        };
        let reserved = match concurrency {
            Ok(c) => c.reserved_concurrent_executions,
            Err(e) => {
                // Gone since the configuration was read: no reservation to report.
                none_if_missing::<()>(Err(AwsError::new("lambda:GetFunctionConcurrency", name, e)))?;
                None
            }
        };
        Ok(Some(LiveFunction {
            reserved,
            arn: c.function_arn.unwrap_or_default(),
            runtime: c.runtime.map(|r| r.as_str().to_string()).unwrap_or_default(),
            handler: c.handler.unwrap_or_default(),
            architectures: c.architectures.unwrap_or_default().iter().map(|a| a.as_str().to_string()).collect(),
            memory: c.memory_size.unwrap_or_default(),
            timeout: c.timeout.unwrap_or_default(),
            role: c.role.unwrap_or_default(),
            env: c.environment.and_then(|e| e.variables).unwrap_or_default().into_iter().collect(),
            dead_letter_arn: c.dead_letter_config.and_then(|d| d.target_arn),
        }))
    }

    /// The event source mappings of a function or of an event source.
    pub async fn mappings(
        &self,
        function: Option<&str>,
        source_arn: Option<&str>,
    ) -> Result<Vec<LiveMapping>, AwsError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut req = self.lambda.list_event_source_mappings();
            if let Some(f) = function {
                req = req.function_name(f);
            }
            if let Some(s) = source_arn {
                req = req.event_source_arn(s);
            }
            if let Some(m) = &marker {
                req = req.marker(m);
            }
            let page = req.send().await.map_err(|e| {
                AwsError::new("lambda:ListEventSourceMappings", function.or(source_arn).unwrap_or_default(), e)
            })?;
            for m in page.event_source_mappings.unwrap_or_default() {
                out.push(LiveMapping {
                    uuid: m.uuid.unwrap_or_default(),
                    source_arn: m.event_source_arn.unwrap_or_default(),
                    function_arn: m.function_arn.unwrap_or_default(),
                    state: MappingState::parse(&m.state.unwrap_or_default()),
                    state_reason: m.state_transition_reason.unwrap_or_default(),
                    batch_size: m.batch_size.unwrap_or_default(),
                    window: m.maximum_batching_window_in_seconds.unwrap_or_default(),
                    response_types: m
                        .function_response_types
                        .unwrap_or_default()
                        .iter()
                        .map(|t| t.as_str().to_string())
                        .collect(),
                    max_concurrency: m.scaling_config.and_then(|s| s.maximum_concurrency),
                });
            }
            marker = page.next_marker;
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    /// A role's inline policies (decoded) and attached managed policies; `None` when it does not exist.
    pub async fn role(&self, name: &str) -> Result<Option<LiveRole>, AwsError> {
        let names = match self.iam.list_role_policies().role_name(name).send().await {
            Ok(out) => out.policy_names,
            Err(e) => return none_if_missing(Err(AwsError::new("iam:ListRolePolicies", name, e))),
        };
        let mut inline = BTreeMap::new();
        for policy in names {
            let out = self
                .iam
                .get_role_policy()
                .role_name(name)
                .policy_name(&policy)
                .send()
                .await
                .map_err(|e| AwsError::new("iam:GetRolePolicy", format!("{name}/{policy}"), e))?;
            // IAM returns the document URL-encoded.
            let decoded = percent_encoding::percent_decode_str(&out.policy_document).decode_utf8_lossy().into_owned();
            inline.insert(policy, serde_json::from_str(&decoded).unwrap_or(Value::String(decoded)));
        }
        let attached = self
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| AwsError::new("iam:ListAttachedRolePolicies", name, e))?
            .attached_policies
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.policy_arn)
            .collect();
        Ok(Some(LiveRole { inline, attached }))
    }

    /// Alarms by name.
    pub async fn alarms(&self, names: &[String]) -> Result<BTreeMap<String, LiveAlarm>, AwsError> {
        let mut found = BTreeMap::new();
        for chunk in names.chunks(100) {
            let out = self
                .cloudwatch
                .describe_alarms()
                .set_alarm_names(Some(chunk.to_vec()))
                .max_records(100)
                .send()
                .await
                .map_err(|e| AwsError::new("cloudwatch:DescribeAlarms", chunk.join(","), e))?;
            for a in out.metric_alarms.unwrap_or_default() {
                let name = a.alarm_name.clone().unwrap_or_default();
                found.insert(
                    name,
                    LiveAlarm {
                        namespace: a.namespace.unwrap_or_default(),
                        metric: a.metric_name.unwrap_or_default(),
                        dimensions: a
                            .dimensions
                            .unwrap_or_default()
                            .into_iter()
                            .map(|d| (d.name.unwrap_or_default(), d.value.unwrap_or_default()))
                            .collect(),
                        threshold: a.threshold.unwrap_or_default(),
                        period: a.period.unwrap_or_default(),
                        comparison: a.comparison_operator.map(|c| c.as_str().to_string()).unwrap_or_default(),
                        statistic: a.statistic.map(|s| s.as_str().to_string()).unwrap_or_default(),
                        actions: a.alarm_actions.unwrap_or_default(),
                        ok_actions: a.ok_actions.unwrap_or_default(),
                        actions_enabled: a.actions_enabled.unwrap_or(true),
                        evaluation_periods: a.evaluation_periods.unwrap_or_default(),
                        datapoints: a.datapoints_to_alarm,
                        treat_missing: a.treat_missing_data,
                        state: AlarmState {
                            firing: a.state_value == Some(aws_sdk_cloudwatch::types::StateValue::Alarm),
                            reason: a.state_reason.unwrap_or_default(),
                        },
                    },
                );
            }
        }
        Ok(found)
    }

    /// The subscriptions of a topic; `None` when the topic does not exist.
    pub async fn subscriptions(&self, topic_arn: &str) -> Result<Option<Vec<LiveSubscription>>, AwsError> {
        let mut found = Vec::new();
        let mut next = None;
        loop {
            let out = self
                .sns
                .list_subscriptions_by_topic()
                .topic_arn(topic_arn)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| AwsError::new("sns:ListSubscriptionsByTopic", topic_arn, e));
            let out = match none_if_missing(out)? {
                Some(out) => out,
                None => return Ok(None),
            };
            for s in out.subscriptions.unwrap_or_default() {
                let arn = s.subscription_arn.unwrap_or_default();
                found.push(LiveSubscription {
                    protocol: s.protocol.unwrap_or_default(),
                    endpoint: s.endpoint.unwrap_or_default(),
                    // A subscription not yet confirmed has `PendingConfirmation` for its ARN.
                    confirmed: arn.starts_with("arn:"),
                });
            }
            next = out.next_token;
            if next.is_none() {
                return Ok(Some(found));
            }
        }
    }

    /// Retention of a log group (`Some(None)`: never expires); `None` when it does not exist.
    pub async fn log_group(&self, name: &str) -> Result<Option<Option<i32>>, AwsError> {
        let out = self
            .logs
            .describe_log_groups()
            .log_group_name_prefix(name)
            .send()
            .await
            .map_err(|e| AwsError::new("logs:DescribeLogGroups", name, e))?;
        Ok(out
            .log_groups
            .unwrap_or_default()
            .into_iter()
            .find(|g| g.log_group_name.as_deref() == Some(name))
            .map(|g| g.retention_in_days))
    }

    /// A schedule; `None` when it does not exist.
    pub async fn schedule(&self, name: &str) -> Result<Option<LiveSchedule>, AwsError> {
        match self.scheduler.get_schedule().name(name).send().await {
            Ok(s) => Ok(Some(LiveSchedule {
                expression: s.schedule_expression.unwrap_or_default(),
                timezone: s.schedule_expression_timezone.unwrap_or_else(|| "UTC".to_string()),
                enabled: s.state.is_some_and(|s| s == aws_sdk_scheduler::types::ScheduleState::Enabled),
                input: s.target.as_ref().and_then(|t| t.input.clone()),
                dead_letter_arn: s
                    .target
                    .as_ref()
                    .and_then(|t| t.dead_letter_config.as_ref())
                    .and_then(|d| d.arn.clone()),
                target_arn: s.target.map(|t| t.arn).unwrap_or_default(),
            })),
            Err(e) => none_if_missing(Err(AwsError::new("scheduler:GetSchedule", name, e))),
        }
    }

    /// An EventBridge rule of the default bus with its targets; `None` when it does not exist.
    pub async fn rule(&self, name: &str) -> Result<Option<LiveRule>, AwsError> {
        let described = match self.events.describe_rule().name(name).send().await {
            Ok(d) => d,
            Err(e) => return none_if_missing(Err(AwsError::new("events:DescribeRule", name, e))),
        };
        let pattern = match described.event_pattern.as_deref().map(serde_json::from_str::<Value>) {
            None => None,
            Some(Ok(v)) => Some(v),
            // Unparseable: kept as text, so that it differs from any pattern.
            Some(Err(_)) => described.event_pattern.map(Value::String),
        };
        let mut targets = Vec::new();
        let mut next = None;
        loop {
            let out = self
                .events
                .list_targets_by_rule()
                .rule(name)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| AwsError::new("events:ListTargetsByRule", name, e))?;
            for t in out.targets.unwrap_or_default() {
                targets.push(RuleTarget {
                    transformed: t.input.is_some() || t.input_path.is_some() || t.input_transformer.is_some(),
                    dead_letter_arn: t.dead_letter_config.and_then(|d| d.arn),
                    retry: t.retry_policy.map(|r| (r.maximum_retry_attempts, r.maximum_event_age_in_seconds)),
                    id: t.id,
                    arn: t.arn,
                });
            }
            next = out.next_token;
            if next.is_none() {
                break;
            }
        }
        let state = described.state.map(|s| s.as_str().to_string()).unwrap_or_default();
        Ok(Some(LiveRule { state, pattern, targets }))
    }

    /// The rules, on every event bus of the account, that target `arn`.
    pub async fn rules_targeting(&self, arn: &str) -> Result<Vec<RuleRef>, AwsError> {
        let mut buses = Vec::new();
        let mut next = None;
        loop {
            let out = self
                .events
                .list_event_buses()
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| AwsError::new("events:ListEventBuses", arn, e))?;
            buses.extend(out.event_buses.unwrap_or_default().into_iter().filter_map(|b| b.name));
            next = out.next_token;
            if next.is_none() {
                break;
            }
        }
        let mut found = Vec::new();
        for bus in buses {
            let mut next = None;
            loop {
                let out = self
                    .events
                    .list_rule_names_by_target()
                    .target_arn(arn)
                    .event_bus_name(&bus)
                    .set_next_token(next)
                    .send()
                    .await
                    .map_err(|e| AwsError::new("events:ListRuleNamesByTarget", arn, e))?;
                let names = out.rule_names.unwrap_or_default();
                found.extend(names.into_iter().map(|name| RuleRef { bus: bus.clone(), name }));
                next = out.next_token;
                if next.is_none() {
                    break;
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Which of the table bucket, namespace and tables exist.
    pub async fn tables(&self, bucket_arn: &str, namespace: &str, tables: &[String]) -> Result<TablesState, AwsError> {
        let bucket = none_if_missing(
            self.s3tables
                .get_table_bucket()
                .table_bucket_arn(bucket_arn)
                .send()
                .await
                .map_err(|e| AwsError::new("s3tables:GetTableBucket", bucket_arn, e)),
        )?
        .is_some();
        if !bucket {
            return Ok(TablesState::default());
        }
        let ns = none_if_missing(
            self.s3tables
                .get_namespace()
                .table_bucket_arn(bucket_arn)
                .namespace(namespace)
                .send()
                .await
                .map_err(|e| AwsError::new("s3tables:GetNamespace", namespace, e)),
        )?
        .is_some();
        if !ns {
            return Ok(TablesState { bucket, namespace: ns, tables: BTreeMap::new() });
        }
        // The tables at once, each read with its partitioning.
        let read = tables.iter().map(|t| async move {
            let found = none_if_missing(
                self.s3tables
                    .get_table()
                    .table_bucket_arn(bucket_arn)
                    .namespace(namespace)
                    .name(t)
                    .send()
                    .await
                    .map_err(|e| AwsError::new("s3tables:GetTable", t.as_str(), e)),
            )?;
            let Some(found) = found else { return Ok(None) };
            let partitioning = match found.metadata_location() {
                Some(location) => Some(self.partitioning(t, location).await?),
                None => None,
            };
            Ok::<_, AwsError>(Some((t.clone(), partitioning)))
        });
        let present = futures::future::try_join_all(read).await?.into_iter().flatten().collect();
        Ok(TablesState { bucket, namespace: ns, tables: present })
    }

    /// The partition fields of the default partition spec in a table's current Iceberg metadata
    /// (`s3://<warehouse bucket>/<key>`), each as (source column, transform).
    async fn partitioning(&self, table: &str, location: &str) -> Result<Vec<(String, String)>, AwsError> {
        let (bucket, key) = location.strip_prefix("s3://").and_then(|r| r.split_once('/')).ok_or_else(|| {
            AwsError::local("s3:GetObject", table, format!("metadata location `{location}` is not an s3:// URL"))
        })?;
        let object = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| AwsError::new("s3:GetObject", location, e))?;
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| AwsError::local("s3:GetObject", location, format!("reading the metadata: {e}")))?;
        let metadata: Value = serde_json::from_slice(&body.into_bytes())
            .map_err(|e| AwsError::local("s3:GetObject", location, format!("the metadata is not JSON: {e}")))?;
        partition_fields(&metadata)
            .ok_or_else(|| AwsError::local("s3:GetObject", location, "the metadata has no readable partition spec"))
    }
}

/// The partition fields of an Iceberg table metadata document's default spec, each as (source column,
/// transform), the source named through the current schema; `None` when the document does not say.
pub fn partition_fields(metadata: &Value) -> Option<Vec<(String, String)>> {
    let default = metadata.get("default-spec-id")?.as_i64()?;
    let spec = metadata.get("partition-specs")?.as_array()?.iter().find(|s| s["spec-id"].as_i64() == Some(default))?;
    let current = metadata.get("current-schema-id")?.as_i64()?;
    let schema = metadata.get("schemas")?.as_array()?.iter().find(|s| s["schema-id"].as_i64() == Some(current))?;
    let columns = schema.get("fields")?.as_array()?;
    spec.get("fields")?
        .as_array()?
        .iter()
        .map(|f| {
            let source = f.get("source-id")?.as_i64()?;
            let column = columns.iter().find(|c| c["id"].as_i64() == Some(source))?.get("name")?.as_str()?;
            Some((column.to_string(), f.get("transform")?.as_str()?.to_string()))
        })
        .collect()
}
