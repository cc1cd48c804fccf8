//! `pipewright verify` against the local emulator: deploy, verify clean; change live state out of band
//! (through the AWS API, with boto3, as a person in the console would), verify finds exactly those
//! changes and names the resource, aspect and code; undo, clean again. Every aspect of the issue has
//! a case. Changes whose findings stay unambiguous share one verify run; the cases share one deployed
//! stack (they run in order, each undoes its changes and proves it with a clean verify).

#[path = "support/aws.rs"]
mod aws_env;
#[path = "support/sarif.rs"]
mod sarif;

use aws_env::{Env, creds};
use std::process::{Command, Output};

const HOOPSTAT: &str = "specs/hoopstat-haus.yaml";
const MINIMAL: &str = "specs/minimal.yaml";

/// The emulator with the flagship deployed.
fn setup() -> Env {
    let env = aws_env::setup();
    deploy(&env, HOOPSTAT, &env.manifest);
    env
}

fn deploy(env: &Env, spec: &str, manifest: &std::path::Path) {
    let o = pipewright(
        env,
        &[
            "deploy",
            spec,
            "--yes",
            "--parameter",
            "AlertEmail=ops@example.com",
            "--manifest",
            manifest.to_str().expect("utf8"),
        ],
    );
    assert!(o.status.success(), "deploy {spec}: {}", String::from_utf8_lossy(&o.stderr));
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

/// Helpers of the boto3 snippets: `aws(service)`, `save`/`load` of state across snippets (to undo a
/// change), queue URLs and attributes, the mapping of a function from a queue.
const PRELUDE: &str = r#"
import boto3, io, json, os, sys, zipfile
E, STATE = sys.argv[1], sys.argv[2]
ACCOUNT, P = '123456789012', 'hoopstat-haus-'
def aws(s): return boto3.client(s, endpoint_url=E, region_name='us-east-1')
def save(k, v):
    d = json.load(open(STATE)) if os.path.exists(STATE) else {}
    d[k] = v
    json.dump(d, open(STATE, 'w'))
def load(k): return json.load(open(STATE))[k]
def qurl(n): return aws('sqs').get_queue_url(QueueName=n)['QueueUrl']
def qget(n, k): return aws('sqs').get_queue_attributes(QueueUrl=qurl(n), AttributeNames=[k])['Attributes'].get(k)
def qset(n, **a): aws('sqs').set_queue_attributes(QueueUrl=qurl(n), Attributes={k: str(v) for k, v in a.items()})
def qarn(n): return f'arn:aws:sqs:us-east-1:{ACCOUNT}:{n}'
def mapping(f, queue):
    ms = aws('lambda').list_event_source_mappings(FunctionName=f, EventSourceArn=qarn(queue))['EventSourceMappings']
    return ms[0]['UUID']
def zipped():
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w') as z: z.writestr('bootstrap', '#!/bin/sh\n')
    return b.getvalue()
def notifications(bucket):
    c = aws('s3').get_bucket_notification_configuration(Bucket=bucket)
    c.pop('ResponseMetadata', None)
    return c
"#;

/// Runs a boto3 snippet against the emulator.
fn boto3(env: &Env, code: &str) {
    let o = Command::new("python3")
        .args(["-c", &format!("{PRELUDE}{code}")])
        .arg(&env.emulator.endpoint)
        .arg(env.root.join("state.json"))
        .envs(creds())
        .output()
        .expect("python3");
    assert!(o.status.success(), "boto3: {}\n{code}", String::from_utf8_lossy(&o.stderr));
}

/// One finding: (resource, aspect, code, message).
type Found = (String, String, String, String);

/// `verify --format json`: exit code, every finding, and the report.
fn verify(env: &Env, spec: &str) -> (i32, Vec<Found>, serde_json::Value) {
    let o = pipewright(env, &["verify", spec, "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    });
    let mut found = Vec::new();
    for a in report["aspects"].as_array().expect("aspects") {
        for f in a["findings"].as_array().expect("findings") {
            let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
            found.push((s(&a["resource"]), s(&a["aspect"]), s(&f["code"]), s(&f["message"])));
        }
    }
    (o.status.code().unwrap_or(-1), found, report)
}

fn unverifiable(report: &serde_json::Value) -> Vec<String> {
    report["aspects"]
        .as_array()
        .expect("aspects")
        .iter()
        .filter(|a| a["status"] == "unverifiable")
        .map(|a| format!("{} {}: {}", a["resource"], a["aspect"], a["unverifiable"]))
        .collect()
}

fn assert_clean(env: &Env, spec: &str, after: &str) {
    let (code, found, report) = verify(env, spec);
    assert_eq!((code, &found), (0, &Vec::new()), "{after}: not clean; unverifiable: {:#?}", unverifiable(&report));
    assert!(report["summary"]["checked"].as_u64().expect("count") >= 30, "{}", report["summary"]);
}

/// Applies `change`, and asserts that verify exits 1 with exactly the `expected` findings
/// (resource, aspect, code, a part of the message) and no other.
fn assert_drift(env: &Env, spec: &str, change: &str, expected: &[(&str, &str, &str, &str)]) {
    boto3(env, change);
    let (exit, found, report) = verify(env, spec);
    assert_eq!(exit, 1, "drift exits 1: {found:#?}");
    assert!(unverifiable(&report).is_empty(), "{:#?}", unverifiable(&report));
    for (r, a, c, m) in expected {
        assert!(
            found.iter().any(|f| f.0 == *r && f.1 == *a && f.2 == *c && f.3.contains(m)),
            "expected {c} on `{r}` {a} ({m}), found {found:#?}"
        );
    }
    for f in &found {
        assert!(
            expected.iter().any(|(r, a, c, m)| f.0 == *r && f.1 == *a && f.2 == *c && f.3.contains(m)),
            "unexpected finding {f:?}"
        );
    }
    assert_eq!(report["summary"]["drifted"].as_u64(), Some(distinct_aspects(expected)), "{}", report["summary"]);
}

fn distinct_aspects(expected: &[(&str, &str, &str, &str)]) -> u64 {
    let mut aspects: Vec<(&str, &str)> = expected.iter().map(|(r, a, _, _)| (*r, *a)).collect();
    aspects.sort();
    aspects.dedup();
    aspects.len() as u64
}

/// A case: change, exactly these findings, undo, clean.
fn case(env: &Env, spec: &str, name: &str, change: &str, expected: &[(&str, &str, &str, &str)], undo: &str) {
    assert_drift(env, spec, change, expected);
    boto3(env, undo);
    assert_clean(env, spec, &format!("{name} undone"));
}

const BRONZE: &str = "hoopstat-haus-bronze";
const SILVER: &str = "hoopstat-haus-silver";
const SILVER_FN: &str = "hoopstat-haus-silver-processing";
const GOLD_FN: &str = "hoopstat-haus-gold-analytics";
const SILVER_Q: &str = "hoopstat-haus-silver-processing-queue";
const GOLD_Q: &str = "hoopstat-haus-gold-analytics-queue";
const SILVER_DLQ: &str = "hoopstat-haus-silver-processing-dlq";
const GOLD_DLQ: &str = "hoopstat-haus-gold-analytics-dlq";

/// A queue of someone else's, which S3 may send to from our buckets: the target of unmanaged
/// notifications and mappings.
const AUDIT_QUEUE: &str = r#"
sqs = aws('sqs')
url = sqs.create_queue(QueueName='audit-queue')['QueueUrl']
sqs.set_queue_attributes(QueueUrl=url, Attributes={'Policy': json.dumps({'Version': '2012-10-17', 'Statement': [{
    'Effect': 'Allow', 'Principal': {'Service': 's3.amazonaws.com'}, 'Action': 'sqs:SendMessage',
    'Resource': qarn('audit-queue'), 'Condition': {'ArnLike': {'aws:SourceArn': 'arn:aws:s3:::hoopstat-haus-*'}}}]})})
"#;

/// The flagship's gold tables through boto3: `table(name)`, `s3_read(location)`, and `point(got, meta,
/// location)`, which writes a metadata document and makes it the table's current one.
const TABLE: &str = r#"
t = aws('s3tables')
arn = t.list_table_buckets()['tableBuckets'][0]['arn']
def table(name): return t.get_table(tableBucketARN=arn, namespace='basketball_analytics', name=name)
def s3_read(location):
    b, k = location.removeprefix('s3://').split('/', 1)
    return aws('s3').get_object(Bucket=b, Key=k)['Body'].read()
def point(got, meta, location):
    b, k = location.removeprefix('s3://').split('/', 1)
    aws('s3').put_object(Bucket=b, Key=k, Body=json.dumps(meta).encode())
    t.update_table_metadata_location(tableBucketARN=arn, namespace='basketball_analytics', name=got['name'],
                                     versionToken=got['versionToken'], metadataLocation=location)
"#;

#[test]
fn verify_finds_out_of_band_changes_of_every_aspect() {
    let env = setup();
    assert_clean(&env, HOOPSTAT, "after deploy");

    // Another region, or a stack that is not there: one "could not verify" answer, not drift.
    for (args, says) in [
        (
            &["--region", "eu-west-1"][..],
            "there is no stack `hoopstat-haus` in eu-west-1 (account 123456789012); the spec's region is us-east-1\nhint: verify in the spec's region (`--region us-east-1`)",
        ),
        (
            &["--stack", "hoopstat-haus-old"][..],
            "there is no stack `hoopstat-haus-old` in us-east-1 (account 123456789012)\nhint: deploy the pipeline first",
        ),
    ] {
        let o = pipewright(&env, &[&["verify", HOOPSTAT][..], args].concat());
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}\n{err}");
        assert!(out.is_empty() && err.contains(says) && err.lines().count() == 2, "{args:?}: {out}\n{err}");
    }

    boto3(&env, AUDIT_QUEUE);

    // Buckets: encryption, versioning, lifecycle, TLS policy, public-access block, a changed
    // notification filter (the runbook's `.json` vs `.parquet`) and an unmanaged notification.
    case(
        &env,
        HOOPSTAT,
        "bucket settings",
        r#"
s3 = aws('s3')
save('lifecycle', s3.get_bucket_lifecycle_configuration(Bucket=P + 'bronze')['Rules'])
save('policy', s3.get_bucket_policy(Bucket=P + 'silver')['Policy'])
save('bronze-n', notifications(P + 'bronze'))
save('silver-n', notifications(P + 'silver'))
s3.put_bucket_encryption(Bucket=P + 'bronze', ServerSideEncryptionConfiguration={'Rules': [
    {'ApplyServerSideEncryptionByDefault': {'SSEAlgorithm': 'aws:kms'}}]})
s3.put_bucket_versioning(Bucket=P + 'silver', VersioningConfiguration={'Status': 'Suspended'})
rules = load('lifecycle')
[r['Expiration'].update(Days=365) for r in rules if r['ID'] == 'current-versions']
s3.put_bucket_lifecycle_configuration(Bucket=P + 'bronze', LifecycleConfiguration={'Rules': rules})
s3.delete_bucket_policy(Bucket=P + 'silver')
s3.put_public_access_block(Bucket=P + 'silver', PublicAccessBlockConfiguration={'BlockPublicAcls': True,
    'IgnorePublicAcls': True, 'BlockPublicPolicy': False, 'RestrictPublicBuckets': True})
n = load('bronze-n')
n['QueueConfigurations'].append({'Id': 'audit', 'QueueArn': qarn('audit-queue'), 'Events': ['s3:ObjectRemoved:*']})
s3.put_bucket_notification_configuration(Bucket=P + 'bronze', NotificationConfiguration=n)
n = load('silver-n')
[r.update(Value='.json') for r in n['QueueConfigurations'][0]['Filter']['Key']['FilterRules'] if r['Name'].lower() == 'suffix']
s3.put_bucket_notification_configuration(Bucket=P + 'silver', NotificationConfiguration=n)
"#,
        &[
            (BRONZE, "encryption", "D104", "default encryption is aws:kms"),
            (SILVER, "versioning", "D104", "versioning is Suspended"),
            (BRONZE, "lifecycle", "D104", "lifecycle rules differ"),
            (SILVER, "policy", "D105", "no longer denies requests without TLS"),
            (SILVER, "public-access-block", "D104", "not every public-access block is on"),
            (BRONZE, "notifications", "D103", "-> `arn:aws:sqs:us-east-1:123456789012:audit-queue`"),
            (SILVER, "notifications", "D102", "is missing or changed"),
        ],
        r#"
s3 = aws('s3')
s3.put_bucket_encryption(Bucket=P + 'bronze', ServerSideEncryptionConfiguration={'Rules': [
    {'ApplyServerSideEncryptionByDefault': {'SSEAlgorithm': 'AES256'}, 'BucketKeyEnabled': True}]})
s3.put_bucket_versioning(Bucket=P + 'silver', VersioningConfiguration={'Status': 'Enabled'})
s3.put_bucket_lifecycle_configuration(Bucket=P + 'bronze', LifecycleConfiguration={'Rules': load('lifecycle')})
s3.put_bucket_policy(Bucket=P + 'silver', Policy=load('policy'))
s3.put_public_access_block(Bucket=P + 'silver', PublicAccessBlockConfiguration={'BlockPublicAcls': True,
    'IgnorePublicAcls': True, 'BlockPublicPolicy': True, 'RestrictPublicBuckets': True})
s3.put_bucket_notification_configuration(Bucket=P + 'bronze', NotificationConfiguration=load('bronze-n'))
s3.put_bucket_notification_configuration(Bucket=P + 'silver', NotificationConfiguration=load('silver-n'))
"#,
    );

    // Queues and DLQs: relations with the *live* function timeout (900 s; the spec says 300 s, so
    // 600 s of visibility is only wrong against the live value) and the live DLQ retention; retention,
    // redrive target and maxReceiveCount, encryption, delay, message size, redrive allow policy.
    case(
        &env,
        HOOPSTAT,
        "queue settings",
        r#"
save('silver-redrive', qget(P + 'silver-processing-queue', 'RedrivePolicy'))
save('gold-redrive', qget(P + 'gold-analytics-queue', 'RedrivePolicy'))
save('gold-allow', qget(P + 'gold-analytics-dlq', 'RedriveAllowPolicy'))
aws('lambda').update_function_configuration(FunctionName=P + 'gold-analytics', Timeout=900)
qset(P + 'gold-analytics-queue', VisibilityTimeout=600, RedrivePolicy=json.dumps(
    {'deadLetterTargetArn': qarn(P + 'gold-analytics-dlq'), 'maxReceiveCount': 1}))
qset(P + 'gold-analytics-dlq', MessageRetentionPeriod=2 * 86400)
qset(P + 'silver-processing-queue', MessageRetentionPeriod=86400, RedrivePolicy=json.dumps(
    {'deadLetterTargetArn': qarn(P + 'gold-analytics-dlq'), 'maxReceiveCount': 5}))
qset(P + 'silver-processing-dlq', SqsManagedSseEnabled='false')
qset(P + 'gold-analytics-queue', DelaySeconds=900, MaximumMessageSize=1024)
qset(P + 'gold-analytics-dlq', RedriveAllowPolicy=json.dumps({'redrivePermission': 'allowAll'}))
"#,
        &[
            (GOLD_Q, "attributes", "D201", "DelaySeconds is 900, the spec says 0"),
            (GOLD_Q, "attributes", "D201", "MaximumMessageSize is 1024, the spec says 262144"),
            (GOLD_DLQ, "attributes", "D201", "the redrive allow policy differs"),
            (GOLD_FN, "settings", "D401", "Timeout is 900, the spec says 300"),
            (GOLD_Q, "attributes", "D201", "VisibilityTimeout is 600, the spec says 1805"),
            (
                GOLD_Q,
                "attributes",
                "D202",
                "the live visibility timeout (600s) is below the live function timeout (900s)",
            ),
            (GOLD_Q, "attributes", "D203", "maxReceiveCount differs"),
            (GOLD_Q, "attributes", "D204", "the live DLQ keeps messages no longer than the queue"),
            (GOLD_DLQ, "attributes", "D201", "MessageRetentionPeriod is 172800, the spec says 1209600"),
            (SILVER_Q, "attributes", "D201", "MessageRetentionPeriod is 86400, the spec says 345600"),
            (SILVER_Q, "attributes", "D203", "the redrive policy does not target the DLQ"),
            (SILVER_DLQ, "attributes", "D201", "server-side encryption is off"),
        ],
        r#"
aws('lambda').update_function_configuration(FunctionName=P + 'gold-analytics', Timeout=300)
qset(P + 'gold-analytics-queue', VisibilityTimeout=1805, RedrivePolicy=load('gold-redrive'))
qset(P + 'gold-analytics-dlq', MessageRetentionPeriod=14 * 86400)
qset(P + 'silver-processing-queue', MessageRetentionPeriod=4 * 86400, RedrivePolicy=load('silver-redrive'))
qset(P + 'silver-processing-dlq', SqsManagedSseEnabled='true')
qset(P + 'gold-analytics-queue', DelaySeconds=0, MaximumMessageSize=262144)
qset(P + 'gold-analytics-dlq', RedriveAllowPolicy=load('gold-allow'))
"#,
    );

    // Policies by meaning. Written differently with the same meaning is not drift: the queue policy
    // with another Sid, lists for strings, other letter case of actions and condition keys; a role
    // policy with its statements in reverse order.
    boto3(
        &env,
        r#"
q = P + 'silver-processing-queue'
save('silver-policy', qget(q, 'Policy'))
st = json.loads(load('silver-policy'))['Statement'][0]
qset(q, Policy=json.dumps({'Id': 'edited-in-console', 'Statement': [{
    'Condition': {'StringEquals': {'AWS:SourceAccount': [ACCOUNT]}, 'ArnEquals': {'aws:sourcearn': [st['Condition']['ArnEquals']['aws:SourceArn']]}},
    'Resource': [st['Resource']], 'Action': ['SQS:SendMessage'], 'Principal': {'Service': ['s3.amazonaws.com']},
    'Effect': 'Allow', 'Sid': 'S3'}], 'Version': '2012-10-17'}))
iam = aws('iam')
role = P + 'gold-analytics-role'
doc = iam.get_role_policy(RoleName=role, PolicyName='data-flow')['PolicyDocument']
save('gold-role-policy', doc)
assert len(doc['Statement']) > 1
doc['Statement'].reverse()
iam.put_role_policy(RoleName=role, PolicyName='data-flow', PolicyDocument=json.dumps(doc))
"#,
    );
    assert_clean(&env, HOOPSTAT, "policies written differently with the same meaning");

    // Queue policies broadened: anyone may send; any account's bucket of that name may send.
    // Role policies: a wildcard statement added; a managed policy attached.
    case(
        &env,
        HOOPSTAT,
        "policies",
        r#"
qset(P + 'silver-processing-queue', Policy=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow',
    'Principal': '*', 'Action': 'sqs:SendMessage', 'Resource': qarn(P + 'silver-processing-queue')}]}))
save('gold-policy', qget(P + 'gold-analytics-queue', 'Policy'))
p = json.loads(load('gold-policy'))
del p['Statement'][0]['Condition']['StringEquals']
qset(P + 'gold-analytics-queue', Policy=json.dumps(p))
iam = aws('iam')
role = P + 'silver-processing-role'
save('silver-role-policy', iam.get_role_policy(RoleName=role, PolicyName='data-flow')['PolicyDocument'])
doc = load('silver-role-policy')
doc['Statement'].append({'Effect': 'Allow', 'Action': 's3:*', 'Resource': '*'})
iam.put_role_policy(RoleName=role, PolicyName='data-flow', PolicyDocument=json.dumps(doc))
arn = iam.create_policy(PolicyName='console-full-access', PolicyDocument=json.dumps({'Version': '2012-10-17',
    'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))['Policy']['Arn']
iam.attach_role_policy(RoleName=P + 'gold-analytics-role', PolicyArn=arn)
"#,
        &[
            (SILVER_Q, "policy", "D205", "the queue policy differs in meaning"),
            (GOLD_Q, "policy", "D205", "the queue policy differs in meaning"),
            ("hoopstat-haus-silver-processing-role", "policies", "D403", "inline policies differ in meaning"),
            (
                "hoopstat-haus-gold-analytics-role",
                "policies",
                "D403",
                "an attached managed policy widens the role: arn:aws:iam::123456789012:policy/console-full-access",
            ),
        ],
        r#"
qset(P + 'silver-processing-queue', Policy=load('silver-policy'))
qset(P + 'gold-analytics-queue', Policy=load('gold-policy'))
iam = aws('iam')
iam.put_role_policy(RoleName=P + 'silver-processing-role', PolicyName='data-flow', PolicyDocument=json.dumps(load('silver-role-policy')))
iam.put_role_policy(RoleName=P + 'gold-analytics-role', PolicyName='data-flow', PolicyDocument=json.dumps(load('gold-role-policy')))
iam.detach_role_policy(RoleName=P + 'gold-analytics-role', PolicyArn=f'arn:aws:iam::{ACCOUNT}:policy/console-full-access')
"#,
    );

    // Event source mappings: disabled (with its StateTransitionReason), batch size, window,
    // ReportBatchItemFailures, max concurrency; unmanaged mappings: another queue invoking our
    // function, another function reading our queue.
    case(
        &env,
        HOOPSTAT,
        "mappings",
        r#"
lam = aws('lambda')
lam.update_event_source_mapping(UUID=mapping(P + 'gold-analytics', P + 'gold-analytics-queue'), BatchSize=5,
    MaximumBatchingWindowInSeconds=0, FunctionResponseTypes=[], ScalingConfig={'MaximumConcurrency': 2})
lam.update_event_source_mapping(UUID=mapping(P + 'silver-processing', P + 'silver-processing-queue'), Enabled=False)
save('extra', lam.create_event_source_mapping(EventSourceArn=qarn('audit-queue'), FunctionName=P + 'silver-processing', BatchSize=1)['UUID'])
role = aws('iam').create_role(RoleName='console-fn-role', AssumeRolePolicyDocument='{}')['Role']['Arn']
lam.create_function(FunctionName='console-fn', Runtime='provided.al2023', Role=role, Handler='bootstrap', Code={'ZipFile': zipped()})
save('reader', lam.create_event_source_mapping(EventSourceArn=qarn(P + 'gold-analytics-queue'), FunctionName='console-fn', BatchSize=1)['UUID'])
lam.put_function_concurrency(FunctionName=P + 'silver-processing', ReservedConcurrentExecutions=3)
"#,
        &[
            (GOLD_FN, "mapping", "D301", "BatchSize is 5, the spec says 10"),
            (GOLD_FN, "mapping", "D301", "MaximumBatchingWindowInSeconds is 0, the spec says 5"),
            (GOLD_FN, "mapping", "D301", "FunctionResponseTypes lacks ReportBatchItemFailures"),
            (GOLD_FN, "mapping", "D301", "maximum concurrency differs"),
            (SILVER_FN, "mapping", "D302", "the mapping is Disabled (User initiated)"),
            (SILVER_FN, "mapping", "D303", "arn:aws:sqs:us-east-1:123456789012:audit-queue -> "),
            (GOLD_FN, "mapping", "D303", "-> arn:aws:lambda:us-east-1:123456789012:function:console-fn"),
            (SILVER_FN, "settings", "D401", "ReservedConcurrentExecutions is 3, the spec says none"),
        ],
        r#"
lam = aws('lambda')
lam.update_event_source_mapping(UUID=mapping(P + 'gold-analytics', P + 'gold-analytics-queue'), BatchSize=10,
    MaximumBatchingWindowInSeconds=5, FunctionResponseTypes=['ReportBatchItemFailures'], ScalingConfig={'MaximumConcurrency': 5})
lam.update_event_source_mapping(UUID=mapping(P + 'silver-processing', P + 'silver-processing-queue'), Enabled=True)
lam.delete_event_source_mapping(UUID=load('extra'))
lam.delete_event_source_mapping(UUID=load('reader'))
lam.delete_function_concurrency(FunctionName=P + 'silver-processing')
"#,
    );

    // Functions: runtime, handler, memory, role, architecture (UpdateFunctionCode, emulator patch 12);
    // the environment contract.
    case(
        &env,
        HOOPSTAT,
        "functions",
        r#"
lam, iam = aws('lambda'), aws('iam')
c = lam.get_function_configuration(FunctionName=P + 'silver-processing')
save('silver-role', c['Role'])
save('gold-env', lam.get_function_configuration(FunctionName=P + 'gold-analytics')['Environment']['Variables'])
role = iam.create_role(RoleName='console-made-role', AssumeRolePolicyDocument=json.dumps({'Version': '2012-10-17',
    'Statement': [{'Effect': 'Allow', 'Principal': {'Service': 'lambda.amazonaws.com'}, 'Action': 'sts:AssumeRole'}]}))['Role']['Arn']
lam.update_function_configuration(FunctionName=P + 'silver-processing', Runtime='python3.12', Handler='main.handler',
    MemorySize=2048, Role=role)
lam.update_function_code(FunctionName=P + 'silver-processing', ZipFile=zipped(), Architectures=['x86_64'])
env = load('gold-env')
env['PIPEWRIGHT_INPUT_BUCKET'] = P + 'bronze'
lam.update_function_configuration(FunctionName=P + 'gold-analytics', Environment={'Variables': env})
"#,
        &[
            (SILVER_FN, "settings", "D401", "Runtime is python3.12, the spec says provided.al2023"),
            (SILVER_FN, "settings", "D401", "Handler is main.handler, the spec says bootstrap"),
            (SILVER_FN, "settings", "D401", "MemorySize is 2048, the spec says 1024"),
            (SILVER_FN, "settings", "D401", "the function runs as another role"),
            (SILVER_FN, "settings", "D401", "Architectures is x86_64, the spec says arm64"),
            (GOLD_FN, "environment", "D402", "the environment differs"),
        ],
        r#"
lam = aws('lambda')
lam.update_function_configuration(FunctionName=P + 'silver-processing', Runtime='provided.al2023', Handler='bootstrap',
    MemorySize=1024, Role=load('silver-role'))
lam.update_function_code(FunctionName=P + 'silver-processing', ZipFile=zipped(), Architectures=['arm64'])
lam.update_function_configuration(FunctionName=P + 'gold-analytics', Environment={'Variables': load('gold-env')})
"#,
    );

    // Alarms (deleted, threshold changed, actions removed or disabled, evaluation changed) and log group
    // retention. `verify`'s SARIF
    // of live drift validates against the SARIF 2.1.0 schema.
    let alarm_keys = "['AlarmName', 'AlarmDescription', 'ActionsEnabled', 'OKActions', 'AlarmActions', \
                      'InsufficientDataActions', 'MetricName', 'Namespace', 'Statistic', 'Dimensions', 'Period', \
                      'EvaluationPeriods', 'DatapointsToAlarm', 'Threshold', 'ComparisonOperator', 'TreatMissingData']";
    assert_drift(
        &env,
        HOOPSTAT,
        &format!(
            r#"
cw = aws('cloudwatch')
names = [P + 'silver-processing-dlq-depth', P + 'gold-analytics-errors', P + 'gold-analytics-queue-depth',
         P + 'silver-processing-errors']
alarms = {{a['AlarmName']: {{k: a[k] for k in {alarm_keys} if k in a}} for a in cw.describe_alarms(AlarmNames=names)['MetricAlarms']}}
assert len(alarms) == 4
save('alarms', alarms)
cw.delete_alarms(AlarmNames=[P + 'silver-processing-dlq-depth'])
cw.put_metric_alarm(**dict(alarms[P + 'gold-analytics-errors'], Threshold=5.0))
cw.put_metric_alarm(**dict(alarms[P + 'gold-analytics-queue-depth'], AlarmActions=[]))
cw.put_metric_alarm(**dict(alarms[P + 'silver-processing-errors'], ActionsEnabled=False, EvaluationPeriods=3,
    DatapointsToAlarm=2, TreatMissingData='breaching', OKActions=[]))
aws('logs').put_retention_policy(logGroupName='/aws/lambda/' + P + 'gold-analytics', retentionInDays=1)
"#
        ),
        &[
            ("hoopstat-haus-silver-processing-dlq-depth", "alarm", "D101", "the alarm does not exist"),
            ("hoopstat-haus-gold-analytics-errors", "alarm", "D501", "Threshold is 5, the spec says 0"),
            ("hoopstat-haus-gold-analytics-queue-depth", "alarm", "D501", "does not notify the alert topic"),
            ("hoopstat-haus-silver-processing-errors", "alarm", "D501", "actions are disabled"),
            ("hoopstat-haus-silver-processing-errors", "alarm", "D501", "EvaluationPeriods is 3, the spec says 1"),
            ("hoopstat-haus-silver-processing-errors", "alarm", "D501", "DatapointsToAlarm is 2, the spec says 1"),
            ("hoopstat-haus-silver-processing-errors", "alarm", "D501", "TreatMissingData is breaching"),
            ("hoopstat-haus-silver-processing-errors", "alarm", "D501", "when it recovers"),
            ("/aws/lambda/hoopstat-haus-gold-analytics", "retention", "D502", "RetentionInDays is 1, the spec says 30"),
        ],
    );
    let o = pipewright(&env, &["verify", HOOPSTAT, "--format", "sarif"]);
    assert_eq!(o.status.code(), Some(1));
    let doc = sarif::assert_valid_sarif(&String::from_utf8_lossy(&o.stdout), 4);
    let rules: Vec<&str> =
        doc["runs"][0]["results"].as_array().expect("results").iter().filter_map(|r| r["ruleId"].as_str()).collect();
    assert!(["D101", "D501", "D502"].iter().all(|c| rules.contains(c)), "{rules:?}");
    boto3(
        &env,
        r#"
cw = aws('cloudwatch')
for a in load('alarms').values(): cw.put_metric_alarm(**a)
aws('logs').put_retention_policy(logGroupName='/aws/lambda/' + P + 'gold-analytics', retentionInDays=30)
"#,
    );
    assert_clean(&env, HOOPSTAT, "alarms and retention undone");

    // The alert topic without a subscription: the alarms notify nobody.
    case(
        &env,
        HOOPSTAT,
        "subscription",
        r#"
sns = aws('sns')
topic = 'arn:aws:sns:us-east-1:123456789012:' + P + 'alerts'
subs = sns.list_subscriptions_by_topic(TopicArn=topic)['Subscriptions']
assert [s['Endpoint'] for s in subs] == ['ops@example.com'], subs
for s in subs: sns.unsubscribe(SubscriptionArn=s['SubscriptionArn'])
"#,
        &[(
            "hoopstat-haus-alerts",
            "subscriptions",
            "D503",
            "the alarms notify nobody: the alert topic has no subscription",
        )],
        r#"
aws('sns').subscribe(TopicArn='arn:aws:sns:us-east-1:123456789012:' + P + 'alerts', Protocol='email', Endpoint='ops@example.com')
"#,
    );

    // The artifact bucket the functions load their code from: versioning suspended, TLS policy removed.
    let artifacts = "hoopstat-haus-artifacts-123456789012-us-east-1";
    case(
        &env,
        HOOPSTAT,
        "artifact bucket",
        r#"
s3 = aws('s3')
b = 'hoopstat-haus-artifacts-' + ACCOUNT + '-us-east-1'
save('artifact-policy', s3.get_bucket_policy(Bucket=b)['Policy'])
s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={'Status': 'Suspended'})
s3.delete_bucket_policy(Bucket=b)
"#,
        &[
            (artifacts, "artifact-settings", "D104", "versioning is Suspended, the spec says Enabled"),
            (artifacts, "artifact-policy", "D105", "no longer denies requests without TLS"),
        ],
        r#"
s3 = aws('s3')
b = 'hoopstat-haus-artifacts-' + ACCOUNT + '-us-east-1'
s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={'Status': 'Enabled'})
s3.put_bucket_policy(Bucket=b, Policy=load('artifact-policy'))
"#,
    );

    // Existence: a DLQ and a log group deleted (re-created by hand as the spec has them).
    case(
        &env,
        HOOPSTAT,
        "existence",
        r#"
save('dlq', {k: v for k, v in aws('sqs').get_queue_attributes(QueueUrl=qurl(P + 'gold-analytics-dlq'), AttributeNames=['All'])['Attributes'].items()
             if k in ('VisibilityTimeout', 'MessageRetentionPeriod', 'ReceiveMessageWaitTimeSeconds', 'SqsManagedSseEnabled', 'RedriveAllowPolicy',
                       'DelaySeconds', 'MaximumMessageSize')})
aws('sqs').delete_queue(QueueUrl=qurl(P + 'gold-analytics-dlq'))
aws('logs').delete_log_group(logGroupName='/aws/lambda/' + P + 'silver-processing')
"#,
        &[
            (GOLD_DLQ, "exists", "D101", "does not exist"),
            ("/aws/lambda/hoopstat-haus-silver-processing", "retention", "D101", "the log group does not exist"),
        ],
        r#"
aws('sqs').create_queue(QueueName=P + 'gold-analytics-dlq', Attributes=load('dlq'))
aws('logs').create_log_group(logGroupName='/aws/lambda/' + P + 'silver-processing')
aws('logs').put_retention_policy(logGroupName='/aws/lambda/' + P + 'silver-processing', retentionInDays=30)
"#,
    );

    // S3 Tables: a table dropped (recreated with its metadata), a table's partitioning changed.
    case(
        &env,
        HOOPSTAT,
        "tables",
        &format!(
            r#"{TABLE}
save('team_metadata', json.loads(s3_read(table('team_analytics')['metadataLocation'])))
t.delete_table(tableBucketARN=arn, namespace='basketball_analytics', name='team_analytics')
"#
        ),
        &[("hoopstat-haus-gold-tables", "tables", "D701", "table `team_analytics` does not exist")],
        &format!(
            r#"{TABLE}
t.create_table(tableBucketARN=arn, namespace='basketball_analytics', name='team_analytics', format='ICEBERG')
got = table('team_analytics')
meta = dict(load('team_metadata'), location=got['warehouseLocation'])
point(got, meta, got['warehouseLocation'] + '/metadata/00000-restored.metadata.json')
"#
        ),
    );
    case(
        &env,
        HOOPSTAT,
        "table-partitioning",
        &format!(
            r#"{TABLE}
got = table('player_analytics')
save('player_location', got['metadataLocation'])
meta = json.loads(s3_read(got['metadataLocation']))
meta['partition-specs'] = [dict(s, fields=[]) for s in meta['partition-specs']]
point(got, meta, got['metadataLocation'].replace('.metadata.json', '-unpartitioned.metadata.json'))
"#
        ),
        &[(
            "basketball_analytics.player_analytics",
            "table-partitioning",
            "D702",
            "the partition spec is unpartitioned, the spec says day(game_date)",
        )],
        &format!(
            r#"{TABLE}
got = table('player_analytics')
t.update_table_metadata_location(tableBucketARN=arn, namespace='basketball_analytics', name='player_analytics',
                                 versionToken=got['versionToken'], metadataLocation=load('player_location'))
"#
        ),
    );

    // The schedule (hoopstat's scheduled stage runs locally: the minimal spec's runs on EventBridge
    // Scheduler), deployed next to the flagship in the same emulator.
    let manifest = aws_env::write_manifest(&env.root, "minimal.json", &["export", "curate"]);
    deploy(&env, MINIMAL, &manifest);
    assert_clean(&env, MINIMAL, "after deploying the minimal spec");
    let schedule = |expression: &str, state: &str| {
        format!(
            r#"
s = aws('scheduler').get_schedule(Name='acme-orders-export-schedule')
args = {{k: s[k] for k in ['Name', 'GroupName', 'Description', 'FlexibleTimeWindow', 'ScheduleExpressionTimezone', 'Target']}}
aws('scheduler').update_schedule(ScheduleExpression='{expression}', State='{state}', **args)
"#
        )
    };
    case(
        &env,
        MINIMAL,
        "schedule",
        &schedule("cron(0 7 * * ? *)", "DISABLED"),
        &[
            (
                "acme-orders-export-schedule",
                "schedule",
                "D601",
                "ScheduleExpression is cron(0 7 * * ? *), the spec says cron(0 6 * * ? *)",
            ),
            ("acme-orders-export-schedule", "schedule", "D601", "State is DISABLED, the spec says ENABLED"),
        ],
        &schedule("cron(0 6 * * ? *)", "ENABLED"),
    );
    // The flagship is still clean next to it.
    assert_clean(&env, HOOPSTAT, "the end");
}

/// Reading denied (the emulator enforces IAM, patch 13): the denied aspects are "could not verify",
/// never clean, exit 2; `--strict` makes it a failure, exit 1.
#[test]
fn a_denied_read_is_could_not_verify_and_strict_makes_it_a_failure() {
    let env = setup();
    boto3(
        &env,
        r#"
import urllib.request
iam = aws('iam')
iam.create_user(UserName='verify-reader')
iam.put_user_policy(UserName='verify-reader', PolicyName='all-but-queue-attributes', PolicyDocument=json.dumps({
    'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'},
    {'Effect': 'Deny', 'Action': ['sqs:GetQueueAttributes', 's3:GetBucketNotification'], 'Resource': '*'}]}))
k = iam.create_access_key(UserName='verify-reader')['AccessKey']
save('key', {'AccessKeyId': k['AccessKeyId'], 'SecretAccessKey': k['SecretAccessKey']})
urllib.request.urlopen(urllib.request.Request(E + '/moto-api/reset-auth', data=b'0', method='POST',
    headers={'Content-Type': 'text/plain'}))
"#,
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.root.join("state.json")).expect("state")).expect("json");
    let key = |k: &str| state["key"][k].as_str().expect("key").to_string();
    let (id, secret) = (key("AccessKeyId"), key("SecretAccessKey"));
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pipewright"))
            .args(args)
            .args(["--endpoint-url", &env.emulator.endpoint])
            .envs(creds())
            .env("AWS_ACCESS_KEY_ID", &id)
            .env("AWS_SECRET_ACCESS_KEY", &secret)
            .env_remove("AWS_ENDPOINT_URL")
            .output()
            .expect("runs")
    };

    let o = run(&["verify", HOOPSTAT, "--format", "json"]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let mut denied: Vec<(String, String)> = report["aspects"]
        .as_array()
        .expect("aspects")
        .iter()
        .filter(|a| a["status"] == "unverifiable")
        .map(|a| {
            let why = a["unverifiable"].as_str().unwrap_or("");
            // The denied read names the IAM action to grant, which is not always the operation's name.
            let action =
                if a["aspect"] == "notifications" { "s3:GetBucketNotification" } else { "sqs:GetQueueAttributes" };
            assert!(why.contains("AccessDenied") && why.contains(&format!("needs the IAM action `{action}`")), "{why}");
            (a["resource"].as_str().unwrap_or("").to_string(), a["aspect"].as_str().unwrap_or("").to_string())
        })
        .collect();
    denied.sort();
    let expected: Vec<(String, String)> = [
        (BRONZE, "notifications"),
        (GOLD_DLQ, "attributes"),
        (GOLD_Q, "attributes"),
        (GOLD_Q, "policy"),
        (SILVER, "notifications"),
        (SILVER_DLQ, "attributes"),
        (SILVER_Q, "attributes"),
        (SILVER_Q, "policy"),
    ]
    .iter()
    .map(|(r, a)| (r.to_string(), a.to_string()))
    .collect();
    assert_eq!(denied, expected, "exactly the queue and notification reads are unverifiable");
    let summary = &report["summary"];
    assert_eq!((summary["drifted"].as_u64(), summary["unverifiable"].as_u64()), (Some(0), Some(8)), "{summary}");
    assert_eq!(summary["clean"].as_u64(), summary["checked"].as_u64().map(|c| c - 8), "the rest is verified clean");

    let o = run(&["verify", HOOPSTAT]);
    assert_eq!(o.status.code(), Some(2));
    let human = String::from_utf8_lossy(&o.stdout);
    assert!(
        human.contains(
            "could not verify: sqs:GetQueueAttributes on `hoopstat-haus-silver-processing-queue`: AccessDenied"
        ),
        "{human}"
    );
    assert!(human.contains("8 could not be verified"), "{human}");

    let o = run(&["verify", HOOPSTAT, "--strict", "--format", "junit"]);
    assert_eq!(o.status.code(), Some(1), "--strict: could not verify is a failure");
    assert!(String::from_utf8_lossy(&o.stdout).contains("<failure message=\"could not verify: sqs:GetQueueAttributes"));
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
