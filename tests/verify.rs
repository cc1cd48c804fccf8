//! `pipewright verify` against the local emulator: deploy, verify clean; change live state out of band
//! (through the AWS API, with boto3, as a person would), verify finds it and names the resource and
//! aspect; undo, clean again.

#[path = "support/aws.rs"]
mod aws_env;

use aws_env::{Env, creds};
use std::process::{Command, Output};

/// The emulator with the flagship deployed.
fn setup() -> Env {
    let env = aws_env::setup();
    let o = pipewright(
        &env,
        &["deploy", "specs/hoopstat-haus.yaml", "--yes", "--manifest", env.manifest.to_str().expect("utf8")],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    env
}

fn pipewright(env: &Env, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(args)
        .args(["--endpoint-url", &env.emulator.endpoint])
        .envs(creds())
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("runs")
}

/// Runs a boto3 snippet against the emulator (`aws(service)` gives a client).
fn boto3(env: &Env, code: &str) {
    let prelude = "import boto3, json, os, sys\nE = sys.argv[1]\ndef aws(s): return boto3.client(s, endpoint_url=E, region_name='us-east-1')\n";
    let o = Command::new("python3")
        .args(["-c", &format!("{prelude}{code}")])
        .arg(&env.emulator.endpoint)
        .envs(creds())
        .output()
        .expect("python3");
    assert!(o.status.success(), "boto3: {}", String::from_utf8_lossy(&o.stderr));
}

/// `verify --format json`: exit code and the (resource, aspect, code) of every finding.
fn verify(env: &Env) -> (i32, Vec<(String, String, String)>, serde_json::Value) {
    let o = pipewright(env, &["verify", "specs/hoopstat-haus.yaml", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    });
    let mut found = Vec::new();
    for a in report["aspects"].as_array().expect("aspects") {
        for f in a["findings"].as_array().expect("findings") {
            found.push((
                a["resource"].as_str().unwrap_or("").to_string(),
                a["aspect"].as_str().unwrap_or("").to_string(),
                f["code"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    (o.status.code().unwrap_or(-1), found, report)
}

fn assert_clean(env: &Env, after: &str) {
    let (code, found, report) = verify(env);
    let unverifiable: Vec<_> = report["aspects"]
        .as_array()
        .expect("aspects")
        .iter()
        .filter(|a| a["status"] == "unverifiable")
        .map(|a| format!("{} {}: {}", a["resource"], a["aspect"], a["unverifiable"]))
        .collect();
    assert_eq!((code, &found), (0, &Vec::new()), "{after}: not clean; unverifiable: {unverifiable:#?}");
    assert!(report["summary"]["checked"].as_u64().expect("count") >= 35, "{}", report["summary"]);
}

fn assert_drift(env: &Env, resource: &str, aspect: &str, code: &str) {
    let (exit, found, _) = verify(env);
    assert_eq!(exit, 1, "drift exits 1: {found:?}");
    assert!(
        found.iter().any(|(r, a, c)| r == resource && a == aspect && c == code),
        "expected {code} on `{resource}` {aspect}, found {found:#?}"
    );
}

#[test]
fn verify_finds_out_of_band_changes_aspect_by_aspect() {
    let env = setup();
    assert_clean(&env, "after deploy");

    let queue = "hoopstat-haus-silver-processing-queue";
    let get_url = format!("url = aws('sqs').get_queue_url(QueueName='{queue}')['QueueUrl']\n");

    // Queue visibility below the live function timeout.
    boto3(
        &env,
        &format!("{get_url}aws('sqs').set_queue_attributes(QueueUrl=url, Attributes={{'VisibilityTimeout': '60'}})"),
    );
    assert_drift(&env, queue, "attributes", "D202");
    boto3(
        &env,
        &format!("{get_url}aws('sqs').set_queue_attributes(QueueUrl=url, Attributes={{'VisibilityTimeout': '1805'}})"),
    );
    assert_clean(&env, "visibility restored");

    // Queue policy broadened to anyone.
    boto3(
        &env,
        &format!(
            "{get_url}p = {{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Principal': '*', 'Action': 'sqs:SendMessage', 'Resource': '*'}}]}}\n\
             old = aws('sqs').get_queue_attributes(QueueUrl=url, AttributeNames=['Policy'])['Attributes']['Policy']\n\
             open(os.path.join(os.environ.get('TMPDIR', '/tmp'), 'pw-policy-{queue}'), 'w').write(old)\n\
             aws('sqs').set_queue_attributes(QueueUrl=url, Attributes={{'Policy': json.dumps(p)}})"
        ),
    );
    assert_drift(&env, queue, "policy", "D205");
    boto3(
        &env,
        &format!(
            "{get_url}old = open(os.path.join(os.environ.get('TMPDIR', '/tmp'), 'pw-policy-{queue}')).read()\n\
             aws('sqs').set_queue_attributes(QueueUrl=url, Attributes={{'Policy': old}})"
        ),
    );
    assert_clean(&env, "policy restored");

    // Event source mapping disabled.
    let mapping = "m = aws('lambda').list_event_source_mappings(FunctionName='hoopstat-haus-gold-analytics')['EventSourceMappings'][0]\n";
    boto3(&env, &format!("{mapping}aws('lambda').update_event_source_mapping(UUID=m['UUID'], Enabled=False)"));
    assert_drift(&env, "hoopstat-haus-gold-analytics", "mapping", "D302");
    boto3(&env, &format!("{mapping}aws('lambda').update_event_source_mapping(UUID=m['UUID'], Enabled=True)"));
    assert_clean(&env, "mapping enabled");

    // Notification filter changed by hand (the runbook's `.json` vs `.parquet`).
    let notif = "s3 = aws('s3'); cfg = s3.get_bucket_notification_configuration(Bucket='hoopstat-haus-silver'); cfg.pop('ResponseMetadata', None)\n\
                 rules = cfg['QueueConfigurations'][0]['Filter']['Key']['FilterRules']\n";
    boto3(
        &env,
        &format!(
            "{notif}[r.update(Value='.json') for r in rules if r['Name'].lower() == 'suffix']\n\
             s3.put_bucket_notification_configuration(Bucket='hoopstat-haus-silver', NotificationConfiguration=cfg)"
        ),
    );
    assert_drift(&env, "hoopstat-haus-silver", "notifications", "D102");
    boto3(
        &env,
        &format!(
            "{notif}[r.update(Value='.parquet') for r in rules if r['Name'].lower() == 'suffix']\n\
             s3.put_bucket_notification_configuration(Bucket='hoopstat-haus-silver', NotificationConfiguration=cfg)"
        ),
    );
    assert_clean(&env, "notification restored");

    // Function timeout and environment.
    let f = "hoopstat-haus-silver-processing";
    boto3(&env, &format!("aws('lambda').update_function_configuration(FunctionName='{f}', Timeout=900)"));
    assert_drift(&env, f, "settings", "D401");
    boto3(&env, &format!("aws('lambda').update_function_configuration(FunctionName='{f}', Timeout=300)"));
    assert_clean(&env, "timeout restored");

    // Log group retention.
    let lg = "/aws/lambda/hoopstat-haus-gold-analytics";
    boto3(&env, &format!("aws('logs').put_retention_policy(logGroupName='{lg}', retentionInDays=1)"));
    assert_drift(&env, lg, "retention", "D502");
    boto3(&env, &format!("aws('logs').put_retention_policy(logGroupName='{lg}', retentionInDays=30)"));
    assert_clean(&env, "retention restored");

    // An alarm deleted in the console.
    let alarm = "hoopstat-haus-silver-processing-dlq-depth";
    boto3(&env, &format!("aws('cloudwatch').delete_alarms(AlarmNames=['{alarm}'])"));
    assert_drift(&env, alarm, "alarm", "D101");

    // Public access opened on a bucket.
    boto3(&env, "aws('s3').delete_public_access_block(Bucket='hoopstat-haus-bronze')");
    assert_drift(&env, "hoopstat-haus-bronze", "public-access-block", "D104");
}

#[test]
fn an_unreachable_account_is_could_not_verify_not_clean() {
    let o = Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(["verify", "specs/hoopstat-haus.yaml", "--endpoint-url", "http://127.0.0.1:9"])
        .envs(creds())
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("could not verify"));
}
