//! Triggers delivered through EventBridge, against the local emulator: `specs/clickstream.yaml` (two
//! stages consuming the same objects) deployed, then objects written as the web tier writes them. An
//! object matching both stages' pattern reaches both queues, in EventBridge's shape; one that S3's
//! prefix and suffix would let through but the whole pattern does not reaches neither. A probe's canary
//! arrives through the rule, and a replay sends the S3 event in EventBridge's shape.

#[path = "support/aws.rs"]
mod aws_env;

use aws_env::{Env, creds};
use std::process::Command;

const SPEC: &str = "specs/clickstream.yaml";

fn pipewright(env: &Env, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(args)
        .args(["--endpoint-url", &env.emulator.endpoint])
        .envs(creds())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("runs")
}

fn deploy(env: &Env) {
    let manifest = aws_env::write_manifest(&env.root, "clickstream.json", &["sessionize", "audit"]);
    let manifest = manifest.to_str().expect("utf8");
    let o = pipewright(
        env,
        &["deploy", SPEC, "--yes", "--parameter", "AlertEmail=ops@example.com", "--manifest", manifest],
    );
    assert!(o.status.success(), "deploy: {}", String::from_utf8_lossy(&o.stderr));
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
