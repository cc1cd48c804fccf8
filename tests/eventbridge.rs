//! Triggers delivered through EventBridge, against the local emulator: `specs/clickstream.yaml` (two
//! stages consuming the same objects) deployed, then objects written as the web tier writes them. An
//! object matching both stages' pattern reaches both queues, in EventBridge's shape; one that S3's
//! prefix and suffix would let through but the whole pattern does not reaches neither. A probe's canary
//! arrives through the rule, and a replay sends the S3 event in EventBridge's shape. Each part of the
//! delivery changed out of band (a rule disabled, its pattern edited, its target removed, EventBridge
//! turned off on the bucket, a queue policy broadened, a rule of someone else's targeting a stage's
//! queue) is reported by `verify`, and a disabled rule by `status`.

#[path = "support/aws.rs"]
mod aws_env;

use aws_env::{Env, creds};
use std::process::Command;

const SPEC: &str = "specs/clickstream.yaml";

fn pipewright(env: &Env, args: &[&str]) -> std::process::Output {
    env.pipewright(args)
}

fn deploy(env: &Env) {
    env.deploy(SPEC, &["sessionize", "audit"]);
}

/// Runs boto3 `code` against the emulator (`aws(service)` is a client); returns what it prints.
fn boto3(env: &Env, code: &str) -> String {
    let prelude = format!(
        "import boto3, json\naws = lambda s: boto3.client(s, endpoint_url={:?}, region_name='us-east-1')\n",
        env.emulator.endpoint
    );
    let o = Command::new("python3").args(["-c", &format!("{prelude}{code}")]).envs(creds()).output().expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The keys of the S3 events in each stage's queue (received and deleted): `stage key` per line.
fn delivered(env: &Env) -> Vec<String> {
    let out = boto3(
        env,
        "for stage in ['sessionize', 'audit']:\n\
         \x20   url = aws('sqs').get_queue_url(QueueName=f'clickstream-{stage}-queue')['QueueUrl']\n\
         \x20   while True:\n\
         \x20       got = aws('sqs').receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get('Messages', [])\n\
         \x20       if not got: break\n\
         \x20       for m in got:\n\
         \x20           e = json.loads(m['Body'])\n\
         \x20           assert e['source'] == 'aws.s3' and e['detail-type'] == 'Object Created', e\n\
         \x20           print(stage, e['detail']['object']['key'])\n\
         \x20           aws('sqs').delete_message(QueueUrl=url, ReceiptHandle=m['ReceiptHandle'])\n",
    );
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn one_object_reaches_both_stages_and_a_key_outside_the_pattern_reaches_neither() {
    let env = aws_env::setup();
    deploy(&env);
    // The bucket sends its events to EventBridge; it has no S3 notification of its own.
    let config = boto3(
        &env,
        "print(json.dumps(aws('s3').get_bucket_notification_configuration(Bucket='clickstream-landing'), default=str))",
    );
    assert!(config.contains("EventBridgeConfiguration") && !config.contains("QueueConfigurations"), "{config}");
    // verify expects it (no unmanaged destination) and the queue policies that admit the rules only.
    let o = pipewright(&env, &["verify", SPEC]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stdout));

    let matching = "events/site=shop/date=2024-01-15/hour=07/part-0001.json";
    // S3's prefix `events/site=` and suffix `.json` would deliver this one; the whole pattern does not.
    let outside = "events/site=shop/notes.json";
    boto3(
        &env,
        &format!(
            "for k in [{matching:?}, {outside:?}]:\n    aws('s3').put_object(Bucket='clickstream-landing', Key=k, Body=b'{{}}')\n"
        ),
    );
    assert_eq!(delivered(&env), [format!("audit {matching}"), format!("sessionize {matching}")]);

    // At least once and in any order: the same object written again is delivered again, to both.
    boto3(&env, &format!("aws('s3').put_object(Bucket='clickstream-landing', Key={matching:?}, Body=b'{{}}')\n"));
    assert_eq!(delivered(&env), [format!("audit {matching}"), format!("sessionize {matching}")]);

    // probe: the canary goes through the rule to the stage's queue, and the stage library skips it.
    let o = pipewright(&env, &["probe", SPEC, "--stage", "sessionize", "--timeout", "20s"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("arrived"), "{out}");
    delivered(&env);

    // replay: the object of that date sent again to one stage, in EventBridge's shape (`delivered` checks it).
    let o = pipewright(&env, &["replay", SPEC, "--stage", "audit", "--date", "2024-01-15"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(delivered(&env), [format!("audit {matching}")]);
}

/// `verify --format json`: its exit code and its findings.
fn verify(env: &Env) -> (i32, Vec<String>) {
    env.findings(SPEC)
}

/// Boto3 helpers of the cases: the rules as deployed, saved to be restored.
const SAVED: &str = r#"
ev = aws('events')
def saved(name):
    rule = ev.describe_rule(Name=name)
    return rule['EventPattern'], ev.list_targets_by_rule(Rule=name)['Targets']
def qurl(name): return aws('sqs').get_queue_url(QueueName=name)['QueueUrl']
def policy(name): return aws('sqs').get_queue_attributes(QueueUrl=qurl(name), AttributeNames=['Policy'])['Attributes']['Policy']
"#;

/// Applies `change` (after [`SAVED`]), asserts that verify exits 1 with exactly `expected`, then undoes
/// it and asserts verify is clean again.
fn case(env: &Env, name: &str, change: &str, expected: &[String], undo: &str) {
    boto3(env, &format!("{SAVED}{change}"));
    assert_eq!(verify(env), (1, expected.to_vec()), "{name}");
    boto3(env, &format!("{SAVED}{undo}"));
    assert_eq!(verify(env), (0, vec![]), "{name} undone");
}

#[test]
fn verify_reports_each_part_of_the_delivery_changed_out_of_band() {
    let env = aws_env::setup();
    deploy(&env);
    assert_eq!(verify(&env), (0, vec![]));
    const SESSIONIZE: &str = "clickstream-sessionize-queue";
    const AUDIT: &str = "clickstream-audit-queue";
    // The original pattern and targets, kept in the emulator's S3 for the undo steps.
    boto3(
        &env,
        &format!(
            "{SAVED}aws('s3').create_bucket(Bucket='saved')\n\
             for n in [{SESSIONIZE:?}, {AUDIT:?}]:\n\
             \x20   aws('s3').put_object(Bucket='saved', Key=n, Body=json.dumps([*saved(n), policy(n)]).encode())\n"
        ),
    );
    let restore = |n: &str| {
        format!(
            "p, t, pol = json.loads(aws('s3').get_object(Bucket='saved', Key={n:?})['Body'].read())\n\
             ev.put_rule(Name={n:?}, EventPattern=p, State='ENABLED')\n\
             ev.put_targets(Rule={n:?}, Targets=t)\n\
             aws('sqs').set_queue_attributes(QueueUrl=qurl({n:?}), Attributes={{'Policy': pol}})\n"
        )
    };

    // Disabled: verify says so, and status says the stage is broken.
    boto3(&env, &format!("{SAVED}ev.disable_rule(Name={SESSIONIZE:?})\n"));
    assert_eq!(verify(&env), (1, vec![format!("{SESSIONIZE} rule D107")]));
    let o = pipewright(&env, &["status", SPEC, "--stage", "sessionize", "--format", "json"]);
    let status = String::from_utf8_lossy(&o.stdout);
    assert_ne!(o.status.code(), Some(0), "{status}");
    assert!(status.contains("\"S103\"") && status.contains("is DISABLED"), "{status}");
    boto3(&env, &format!("{SAVED}ev.enable_rule(Name={SESSIONIZE:?})\n"));
    assert_eq!(verify(&env), (0, vec![]), "enabled again");

    case(
        &env,
        "pattern edited",
        &format!(
            "p = json.loads(saved({SESSIONIZE:?})[0])\n\
             p['detail']['object']['key'] = [{{'prefix': 'events/'}}]\n\
             ev.put_rule(Name={SESSIONIZE:?}, EventPattern=json.dumps(p), State='ENABLED')\n"
        ),
        &[format!("{SESSIONIZE} rule D107")],
        &restore(SESSIONIZE),
    );
    case(
        &env,
        "target removed",
        &format!("ev.remove_targets(Rule={AUDIT:?}, Ids=['stage-queue'])\n"),
        &[format!("{AUDIT} rule D107")],
        &restore(AUDIT),
    );
    case(
        &env,
        "EventBridge turned off on the bucket",
        "aws('s3').put_bucket_notification_configuration(Bucket='clickstream-landing', NotificationConfiguration={})\n",
        &["clickstream-landing notifications D102".to_string()],
        "aws('s3').put_bucket_notification_configuration(Bucket='clickstream-landing', NotificationConfiguration={'EventBridgeConfiguration': {}})\n",
    );
    case(
        &env,
        "queue policy broadened",
        &format!(
            "pol = json.loads(policy({AUDIT:?}))\n\
             pol['Statement'][0].pop('Condition')\n\
             aws('sqs').set_queue_attributes(QueueUrl=qurl({AUDIT:?}), Attributes={{'Policy': json.dumps(pol)}})\n"
        ),
        &[format!("{AUDIT} policy D205")],
        &restore(AUDIT),
    );
    case(
        &env,
        "a rule of someone else's targets a stage's queue",
        &format!(
            "ev.create_event_bus(Name='partners')\n\
             ev.put_rule(Name='by-hand', EventBusName='partners', EventPattern=json.dumps({{'source': ['partner.app']}}))\n\
             ev.put_targets(Rule='by-hand', EventBusName='partners', Targets=[{{'Id': 'q', 'Arn': saved({AUDIT:?})[1][0]['Arn']}}])\n"
        ),
        &[format!("{AUDIT} rules D108")],
        "ev.remove_targets(Rule='by-hand', EventBusName='partners', Ids=['q'])\n\
         ev.delete_rule(Name='by-hand', EventBusName='partners')\n",
    );
}
