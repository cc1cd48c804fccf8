//! Each aspect's comparison on its own: clean when live equals the desired state, and each way it can
//! differ reported with its code.

use super::*;
use serde_json::json;

fn aspect() -> Aspect {
    Aspect::new("r", "AWS::X::Y", "a", Span::at(3, 5))
}

/// The codes an aspect found.
fn codes(a: &Aspect) -> Vec<&'static str> {
    a.findings.iter().map(|d| d.code).collect()
}

fn place() -> Place {
    Place { partition: "aws".into(), region: "eu-west-1".into(), account: "111122223333".into() }
}

#[test]
fn a_finding_carries_the_resource_the_span_and_what_it_compared() {
    let mut a = aspect();
    bucket_versioning(&mut a, "Enabled", "Suspended");
    let d = &a.findings[0];
    assert_eq!((d.code, d.span, d.severity), ("D104", Span::at(3, 5), Severity::Error));
    let r = d.resource.as_deref().expect("resource");
    assert_eq!((r.name.as_str(), r.kind.as_str(), r.aspect), ("r", "AWS::X::Y", Some("a")));
    let c = d.compared.as_deref().expect("compared");
    assert_eq!((c.expected.as_str(), c.actual.as_str()), ("Enabled", "Suspended"));
    assert!(d.hint.as_deref().is_some_and(|h| !h.is_empty()), "the registry's fix is the hint");
    assert_eq!(a.status(), Status::Drift);
}

#[test]
fn notifications_missing_changed_and_unmanaged() {
    let ours = "arn:aws:sqs:eu-west-1:111122223333:q".to_string();
    let want = vec![QueueNotification {
        event: "s3:ObjectCreated:*".into(),
        queue_arn: ours.clone(),
        prefix: "raw/".into(),
        suffix: ".json".into(),
    }];
    let live = |queues: Vec<QueueNotification>, others: Vec<String>| live::Notifications { queues, others };
    let mut a = aspect();
    notifications(&mut a, (&want, false), &live(want.clone(), vec![]), std::slice::from_ref(&ours));
    assert!(codes(&a).is_empty());

    let mut changed = want[0].clone();
    changed.suffix = ".csv".into();
    let mut a = aspect();
    notifications(&mut a, (&want, false), &live(vec![changed], vec![]), std::slice::from_ref(&ours));
    assert!(codes(&a).contains(&"D102"), "{:?}", codes(&a));

    let mut a = aspect();
    notifications(
        &mut a,
        (&want, false),
        &live(want.clone(), vec!["lambda arn:aws:lambda:f".into()]),
        std::slice::from_ref(&ours),
    );
    assert_eq!(codes(&a), ["D103"]);

    // EventBridge: expected when a trigger on the bucket is delivered that way, unmanaged otherwise.
    let eventbridge = || vec![live::EVENTBRIDGE.to_string()];
    let mut a = aspect();
    notifications(&mut a, (&want, true), &live(want.clone(), eventbridge()), std::slice::from_ref(&ours));
    assert!(codes(&a).is_empty(), "{:?}", a.findings);
    notifications(&mut a, (&want, true), &live(want.clone(), vec![]), std::slice::from_ref(&ours));
    notifications(&mut a, (&want, false), &live(want.clone(), eventbridge()), &[ours]);
    assert_eq!(codes(&a), ["D102", "D103"]);
}

#[test]
fn bucket_encryption_versioning_and_public_access() {
    let mut a = aspect();
    bucket_encryption(&mut a, Some(&Encryption { algorithm: "AES256".into(), bucket_key: true }));
    bucket_versioning(&mut a, "Enabled", "Enabled");
    let all = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
    public_access_block(&mut a, Some(all));
    assert!(codes(&a).is_empty());

    let mut a = aspect();
    bucket_encryption(&mut a, Some(&Encryption { algorithm: "aws:kms".into(), bucket_key: false }));
    bucket_encryption(&mut a, None);
    public_access_block(&mut a, Some(PublicAccessBlock { restrict_public_buckets: false, ..all }));
    public_access_block(&mut a, None);
    assert_eq!(codes(&a), ["D104"; 4]);
    let open = a.findings[2].compared.as_deref().expect("compared");
    assert_eq!(open.actual, "BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy", "names what is still on");
}

#[test]
fn lifecycle_and_bucket_policy() {
    let rule =
        |days: u64| BTreeMap::from([("r".to_string(), json!({ "Status": "Enabled", "ExpirationInDays": days }))]);
    let mut a = aspect();
    lifecycle(&mut a, &rule(30), &rule(30));
    assert!(codes(&a).is_empty());
    lifecycle(&mut a, &rule(30), &rule(3));
    assert_eq!(codes(&a), ["D104"]);
    assert!(a.findings[0].compared.as_deref().and_then(|c| c.diff.as_deref()).is_some_and(|d| d.contains("-")));

    let arn = "arn:aws:s3:::b";
    let tls = json!({ "Statement": [{ "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [arn, "arn:aws:s3:::b/*"], "Condition": { "Bool": { "aws:SecureTransport": "false" } } }] });
    let mut a = aspect();
    bucket_policy(&mut a, arn, Some(&tls));
    assert!(codes(&a).is_empty());
    bucket_policy(&mut a, arn, None);
    bucket_policy(&mut a, arn, Some(&json!({ "Statement": [] })));
    assert_eq!(codes(&a), ["D105", "D105"]);
}

fn queue_attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn queue_want() -> QueueSettings {
    QueueSettings {
        name: "q".into(),
        visibility: 1805,
        retention: 345_600,
        receive_wait: 20,
        delay: 0,
        max_message_size: 262_144,
        redrive: Some(("q-dlq".into(), 5)),
        redrive_allow: None,
    }
}

fn live_queue(visibility: &str, max_receive: u64) -> BTreeMap<String, String> {
    let redrive = json!({ "deadLetterTargetArn": place().queue_arn("q-dlq"), "maxReceiveCount": max_receive });
    queue_attrs(&[
        ("VisibilityTimeout", visibility),
        ("MessageRetentionPeriod", "345600"),
        ("ReceiveMessageWaitTimeSeconds", "20"),
        ("DelaySeconds", "0"),
        ("MaximumMessageSize", "262144"),
        ("SqsManagedSseEnabled", "true"),
        ("RedrivePolicy", &redrive.to_string()),
    ])
}

#[test]
fn queue_settings_redrive_and_the_live_relations() {
    let (want, place) = (queue_want(), place());
    let mut a = aspect();
    queue(&mut a, &want, &place, &live_queue("1805", 5), Some(300), Some(1_209_600));
    assert!(codes(&a).is_empty(), "{:?}", a.findings);

    // A setting, maxReceiveCount, the live timeout above the visibility, a DLQ that keeps less.
    let mut a = aspect();
    queue(&mut a, &want, &place, &live_queue("60", 3), Some(300), Some(86_400));
    assert_eq!(codes(&a), ["D201", "D203", "D202", "D204"]);

    let mut no_sse = live_queue("1805", 5);
    no_sse.remove("SqsManagedSseEnabled");
    let mut a = aspect();
    queue(&mut a, &want, &place, &no_sse, None, None);
    assert_eq!(codes(&a), ["D201"]);
}

#[test]
fn a_dlq_accepts_only_its_source_queue() {
    let place = place();
    let dlq = QueueSettings {
        redrive: None,
        redrive_allow: Some(desired::RedriveAllow::ByQueue("q".into())),
        ..queue_want()
    };
    let allow = |arn: &str| json!({ "redrivePermission": "byQueue", "sourceQueueArns": [arn] }).to_string();
    let mut attrs = live_queue("1805", 5);
    attrs.insert("RedriveAllowPolicy".into(), allow(&place.queue_arn("q")));
    let mut a = aspect();
    queue(&mut a, &dlq, &place, &attrs, None, None);
    assert!(codes(&a).is_empty(), "{:?}", a.findings);
    attrs.insert("RedriveAllowPolicy".into(), json!({ "redrivePermission": "allowAll" }).to_string());
    let mut a = aspect();
    queue(&mut a, &dlq, &place, &attrs, None, None);
    assert_eq!(codes(&a), ["D201"]);

    // A scheduled stage's DLQ is no queue's.
    let failed_runs = QueueSettings::failed_runs("runs-dlq");
    let mut attrs = queue_attrs(&[
        ("VisibilityTimeout", "30"),
        ("MessageRetentionPeriod", "1209600"),
        ("ReceiveMessageWaitTimeSeconds", "20"),
        ("DelaySeconds", "0"),
        ("MaximumMessageSize", "262144"),
        ("SqsManagedSseEnabled", "true"),
    ]);
    attrs.insert("RedriveAllowPolicy".into(), json!({ "redrivePermission": "denyAll" }).to_string());
    let mut a = aspect();
    queue(&mut a, &failed_runs, &place, &attrs, None, None);
    assert!(codes(&a).is_empty(), "{:?}", a.findings);
    attrs.remove("RedriveAllowPolicy");
    let mut a = aspect();
    queue(&mut a, &failed_runs, &place, &attrs, None, None);
    assert_eq!(codes(&a), ["D201"]);
}

#[test]
fn queue_policy_by_meaning() {
    let doc = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow",
        "Principal": { "Service": "s3.amazonaws.com" }, "Action": "sqs:SendMessage", "Resource": "arn:q" }] });
    let mut a = aspect();
    // The same statement written differently (a list of one action) means the same.
    let same = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow",
        "Principal": { "Service": ["s3.amazonaws.com"] }, "Action": ["sqs:SendMessage"], "Resource": ["arn:q"] }] });
    queue_policy(&mut a, &doc, Some(&same.to_string()));
    assert!(codes(&a).is_empty(), "{:?}", a.findings);
    let broad =
        json!({ "Statement": [{ "Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": "arn:q" }] });
    queue_policy(&mut a, &doc, Some(&broad.to_string()));
    queue_policy(&mut a, &doc, None);
    assert_eq!(codes(&a), ["D205", "D205"]);
}

fn mapping(state: &str, batch_size: i32) -> LiveMapping {
    LiveMapping {
        uuid: "u".into(),
        source_arn: "arn:q".into(),
        function_arn: "arn:f".into(),
        state: live::MappingState::parse(state),
        state_reason: String::new(),
        batch_size,
        window: 0,
        response_types: vec!["ReportBatchItemFailures".into()],
        max_concurrency: Some(2),
    }
}

#[test]
fn mappings_missing_disabled_changed_and_unmanaged() {
    let want = MappingSettings {
        queue: "q".into(),
        batch_size: 10,
        window: 0,
        max_concurrency: 2,
        report_batch_item_failures: true,
    };
    let mut a = aspect();
    mappings(&mut a, &want, ("arn:q", "arn:f"), &[mapping("Enabled", 10)]);
    assert!(codes(&a).is_empty(), "{:?}", a.findings);
    let mut a = aspect();
    mappings(&mut a, &want, ("arn:q", "arn:f"), &[]);
    assert_eq!(codes(&a), ["D301"]);
    let mut a = aspect();
    mappings(&mut a, &want, ("arn:q", "arn:f"), &[mapping("Disabled", 1)]);
    assert_eq!(codes(&a), ["D302", "D301"]);
    let other = LiveMapping { uuid: "v".into(), function_arn: "arn:other".into(), ..mapping("Enabled", 10) };
    let mut a = aspect();
    mappings(&mut a, &want, ("arn:q", "arn:f"), &[mapping("Enabled", 10), other]);
    assert_eq!(codes(&a), ["D303"]);
}

#[test]
fn function_settings_and_environment() {
    let want = FunctionWant {
        architecture: "arm64".into(),
        memory: 512,
        timeout: 300,
        role_name: "role".into(),
        env: BTreeMap::from([("A".to_string(), "1".to_string())]),
        reserved: None,
        dead_letter_arn: Some("arn:dlq".into()),
    };
    let live = LiveFunction {
        arn: "arn:f".into(),
        runtime: crate::cfn::RUNTIME.into(),
        handler: "bootstrap".into(),
        architectures: vec!["arm64".into()],
        memory: 512,
        timeout: 300,
        role: "arn:aws:iam::111122223333:role/role".into(),
        env: want.env.clone(),
        reserved: None,
        dead_letter_arn: Some("arn:dlq".into()),
    };
    let (mut settings, mut env) = (aspect(), aspect());
    function(&mut settings, &mut env, &want, &live);
    assert!(codes(&settings).is_empty() && codes(&env).is_empty(), "{:?} {:?}", settings.findings, env.findings);

    let changed = LiveFunction {
        timeout: 900,
        env: BTreeMap::from([("A".to_string(), "2".to_string())]),
        role: "arn:aws:iam::111122223333:role/admin".into(),
        dead_letter_arn: None,
        ..live
    };
    let (mut settings, mut env) = (aspect(), aspect());
    function(&mut settings, &mut env, &want, &changed);
    assert_eq!(codes(&settings), ["D401", "D401", "D401"]);
    assert_eq!(codes(&env), ["D402"]);
}

#[test]
fn role_policies_by_meaning_and_attached_policies() {
    let doc = json!({ "Statement": [{ "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*" }] });
    let want = BTreeMap::from([("data-flow".to_string(), doc.clone())]);
    let mut a = aspect();
    role(&mut a, &want, &LiveRole { inline: want.clone(), attached: vec![] });
    assert!(codes(&a).is_empty());
    let wider = json!({ "Statement": [{ "Effect": "Allow", "Action": "s3:*", "Resource": "*" }] });
    let live = LiveRole {
        inline: BTreeMap::from([("data-flow".to_string(), wider)]),
        attached: vec!["arn:aws:iam::aws:policy/AdministratorAccess".into()],
    };
    role(&mut a, &want, &live);
    assert_eq!(codes(&a), ["D403", "D403"]);
}

#[test]
fn alarm_settings_dimension_and_topic() {
    let want = AlarmSettings {
        name: "a".into(),
        kind: crate::spec::resolve::AlarmKind::Errors,
        namespace: "AWS/Lambda",
        metric: "Errors",
        statistic: "Sum",
        period: 300,
        evaluation_periods: 1,
        datapoints: 1,
        threshold: 0,
        comparison: "GreaterThanThreshold",
        treat_missing: "notBreaching",
        dimension: crate::cfn::desired::Dimension::Function("FunctionName", "f".into()),
        description: String::new(),
        span: Span::at(3, 5),
    };
    let topic = "arn:aws:sns:eu-west-1:111122223333:alerts";
    let live = LiveAlarm {
        namespace: "AWS/Lambda".into(),
        metric: "Errors".into(),
        dimensions: vec![("FunctionName".into(), "f".into())],
        threshold: 0.0,
        period: 300,
        comparison: "GreaterThanThreshold".into(),
        statistic: "Sum".into(),
        actions: vec![topic.into()],
        ok_actions: vec![topic.into()],
        actions_enabled: true,
        evaluation_periods: 1,
        datapoints: None,
        treat_missing: Some("notBreaching".into()),
        state: live::AlarmState { firing: false, reason: String::new() },
    };
    let mut a = aspect();
    alarm(&mut a, &want, Some(topic), Some(&live));
    assert!(codes(&a).is_empty(), "{:?}", a.findings);
    let changed = LiveAlarm {
        threshold: 50.0,
        dimensions: vec![("FunctionName".into(), "other".into())],
        ok_actions: vec![],
        actions_enabled: false,
        ..live
    };
    let mut a = aspect();
    alarm(&mut a, &want, Some(topic), Some(&changed));
    assert_eq!(codes(&a), ["D501"; 4]);
    let mut a = aspect();
    alarm(&mut a, &want, Some(topic), None);
    assert_eq!(codes(&a), ["D101"]);
}

#[test]
fn artifact_owner_subscriptions_and_log_group() {
    let mut a = aspect();
    artifact_owner(&mut a, "111122223333");
    assert_eq!(codes(&a), ["D106"]);

    let sub = |confirmed| LiveSubscription { protocol: "email".into(), endpoint: "a@b.c".into(), confirmed };
    let mut a = aspect();
    subscriptions(&mut a, Some(&[sub(false), sub(true)]));
    assert!(codes(&a).is_empty());
    subscriptions(&mut a, Some(&[sub(false)]));
    subscriptions(&mut a, Some(&[]));
    subscriptions(&mut a, None);
    assert_eq!(codes(&a), ["D503", "D503", "D101"]);

    let mut a = aspect();
    log_group(&mut a, 30, Some(Some(30)));
    assert!(codes(&a).is_empty());
    log_group(&mut a, 30, Some(None));
    log_group(&mut a, 30, None);
    assert_eq!(codes(&a), ["D502", "D101"]);
}

#[test]
fn schedule_expression_zone_state_and_target() {
    let want = LiveSchedule {
        expression: "cron(30 4 * * ? *)".into(),
        timezone: "America/New_York".into(),
        enabled: true,
        target_arn: "arn:f".into(),
        input: Some(pipewright_stage::SCHEDULE_INPUT.into()),
        dead_letter_arn: Some("arn:dlq".into()),
    };
    let mut a = aspect();
    schedule(&mut a, &want, Some(&want.clone()));
    assert!(codes(&a).is_empty());
    // The same input, spaced otherwise, is the same.
    let spaced = Some(pipewright_stage::SCHEDULE_INPUT.replace(':', ": "));
    schedule(&mut a, &want, Some(&LiveSchedule { input: spaced, ..want.clone() }));
    assert!(codes(&a).is_empty());
    let live = LiveSchedule { timezone: "UTC".into(), enabled: false, ..want.clone() };
    schedule(&mut a, &want, Some(&live));
    assert_eq!(codes(&a), ["D601", "D601"]);
    let state = a.findings[1].compared.as_deref().expect("compared");
    assert_eq!((state.expected.as_str(), state.actual.as_str()), ("ENABLED", "DISABLED"));
    let mut a = aspect();
    schedule(&mut a, &want, None);
    assert_eq!(codes(&a), ["D101"]);
    // Without its input, the stage cannot tell which date a run is for.
    let mut a = aspect();
    schedule(&mut a, &want, Some(&LiveSchedule { input: None, ..want.clone() }));
    assert_eq!(codes(&a), ["D601"]);
}

fn event_rule_want() -> EventRule {
    EventRule {
        stage: "audit".into(),
        name: "audit-queue".into(),
        index: 0,
        queue: "audit-queue".into(),
        dlq: "audit-dlq".into(),
        bucket: "landing".into(),
        detail_type: "Object Created",
        fields: &[],
        pattern: "events/*/data.json".into(),
    }
}

/// The rule as deployed: the pattern with its keys and alternatives in another order.
fn live_rule(want: &EventRule) -> LiveRule {
    let p = place();
    let mut pattern = want.event_pattern();
    pattern["detail-type"] = json!(["Object Created", "Object Created"]);
    LiveRule {
        state: "ENABLED".into(),
        pattern: Some(sorted(&pattern)),
        targets: vec![live::RuleTarget {
            id: desired::RULE_TARGET_ID.into(),
            arn: p.queue_arn(&want.queue),
            dead_letter_arn: Some(p.queue_arn(&want.dlq)),
            retry: Some((Some(desired::RULE_RETRY_ATTEMPTS), Some(desired::RULE_MAX_EVENT_AGE_SECONDS))),
            transformed: false,
        }],
    }
}

#[test]
fn event_rule_state_pattern_by_meaning_and_target() {
    let (want, p) = (event_rule_want(), place());
    let clean = live_rule(&want);
    let mut a = aspect();
    event_rule(&mut a, &want, &p, Some(&clean));
    assert!(codes(&a).is_empty(), "{:?}", a.findings);

    let mut a = aspect();
    event_rule(&mut a, &want, &p, None);
    assert_eq!(codes(&a), ["D101"]);

    type Change = Box<dyn Fn(&mut LiveRule)>;
    let cases: Vec<(&str, Change)> = vec![
        ("disabled", Box::new(|r| r.state = "DISABLED".into())),
        (
            "pattern edited",
            Box::new(|r| {
                r.pattern.as_mut().expect("pattern")["detail"]["object"]["key"] = json!([{ "prefix": "events/" }])
            }),
        ),
        ("no pattern", Box::new(|r| r.pattern = None)),
        ("target removed", Box::new(|r| r.targets.clear())),
        ("dlq removed", Box::new(|r| r.targets[0].dead_letter_arn = None)),
        ("retry policy changed", Box::new(|r| r.targets[0].retry = Some((Some(3), None)))),
        ("input transformed", Box::new(|r| r.targets[0].transformed = true)),
        (
            "another target",
            Box::new(|r| {
                let mut other = r.targets[0].clone();
                other.arn = "arn:aws:sqs:eu-west-1:444455556666:elsewhere".into();
                r.targets.push(other);
            }),
        ),
    ];
    for (what, change) in cases {
        let mut live = clean.clone();
        change(&mut live);
        let mut a = aspect();
        event_rule(&mut a, &want, &p, Some(&live));
        assert_eq!(codes(&a), ["D107"], "{what}: {:?}", a.findings);
    }
}

#[test]
fn only_the_specs_rules_may_target_a_stage_queue() {
    let ours = vec!["audit-queue".to_string(), "audit-queue-2".to_string()];
    let rule = |bus: &str, name: &str| live::RuleRef { bus: bus.into(), name: name.into() };
    let mut a = aspect();
    rules_targeting(&mut a, &ours, &[rule("default", "audit-queue"), rule("default", "audit-queue-2")]);
    assert!(codes(&a).is_empty());
    let mut a = aspect();
    rules_targeting(
        &mut a,
        &ours,
        &[rule("default", "audit-queue"), rule("default", "by-hand"), rule("custom", "audit-queue")],
    );
    assert_eq!(codes(&a), ["D108", "D108"]);
    assert!(a.findings[1].message.contains("bus custom"), "{}", a.findings[1].message);
}

#[test]
fn tables_and_their_partitioning() {
    let want = vec!["t".to_string(), "u".to_string()];
    let fields = vec![("date".to_string(), "identity".to_string())];
    let live = TablesState {
        bucket: true,
        namespace: true,
        tables: BTreeMap::from([("t".to_string(), Some(fields.clone())), ("u".to_string(), None)]),
    };
    let mut a = aspect();
    tables(&mut a, &want, &live);
    assert!(codes(&a).is_empty());
    let mut a = aspect();
    tables(&mut a, &want, &TablesState { bucket: false, namespace: false, tables: BTreeMap::new() });
    assert!(codes(&a).iter().all(|c| *c == "D701") && !codes(&a).is_empty());

    let mut a = aspect();
    table_partitioning(&mut a, &fields, Some(&fields));
    assert!(codes(&a).is_empty());
    table_partitioning(&mut a, &fields, Some(&[]));
    table_partitioning(&mut a, &fields, None);
    assert_eq!(codes(&a), ["D702", "D702"]);
}

#[test]
fn could_not_verify_is_a_finding_of_its_own() {
    let mut a = aspect();
    a.unverifiable("sqs:GetQueueAttributes on `q`: AccessDenied: no");
    assert_eq!(a.status(), Status::Unverifiable);
    let found = a.diagnostics(false);
    assert_eq!((found[0].code, found[0].severity), ("D000", Severity::Warning));
    assert_eq!(a.diagnostics(true)[0].severity, Severity::Error);
}

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
    assert_eq!(found, vec![("D702", "the partition spec is unpartitioned, the spec says day(game_date)".to_string())]);
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
    let sub =
        |endpoint: &str, confirmed| LiveSubscription { protocol: "email".into(), endpoint: endpoint.into(), confirmed };
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
    let diff = a.findings[0].compared.as_ref().and_then(|c| c.diff.as_deref()).expect("a diff");
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
