//! `pipewright status`, `replay`, `dlq` and `probe` against the local emulator (moto 5.2.1 with
//! pipewright's patches: S3 delivers notifications to SQS, mappings are inert, StartMessageMoveTask
//! works). State is changed out of band with boto3, as a person would.

#[path = "support/aws.rs"]
mod aws_env;

use aws_env::{Env, creds};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Output};

const SILVER_QUEUE: &str = "hoopstat-haus-silver-processing-queue";
const SILVER_DLQ: &str = "hoopstat-haus-silver-processing-dlq";
const BRONZE: &str = "hoopstat-haus-bronze";

/// The emulator with the flagship deployed, and the S3 test events drained from the queues.
fn setup() -> Env {
    let env = aws_env::setup();
    let o = pipewright(
        &env,
        &[
            "deploy",
            "specs/hoopstat-haus.yaml",
            "--yes",
            "--parameter",
            "AlertEmail=ops@example.com",
            "--manifest",
            env.manifest.to_str().expect("utf8"),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    purge(&env, SILVER_QUEUE);
    purge(&env, "hoopstat-haus-gold-analytics-queue");
    env
}

/// The binary under test. `PIPEWRIGHT_TEST_BIN` names a copy of it, for machines where several
/// worktrees share one target directory (a build of another branch replaces `target/debug/pipewright`).
fn bin() -> std::path::PathBuf {
    std::env::var_os("PIPEWRIGHT_TEST_BIN").map_or_else(|| env!("CARGO_BIN_EXE_pipewright").into(), Into::into)
}

fn pipewright(env: &Env, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .args(["--endpoint-url", &env.emulator.endpoint])
        .envs(creds())
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("PIPEWRIGHT_SPEC")
        .output()
        .expect("runs")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// Runs a boto3 snippet against the emulator; what it prints is returned.
fn boto3(env: &Env, code: &str) -> String {
    let prelude = "import boto3, json, os, sys\nE = sys.argv[1]\n\
                   def aws(s): return boto3.client(s, endpoint_url=E, region_name='us-east-1')\n\
                   def url(q): return aws('sqs').get_queue_url(QueueName=q)['QueueUrl']\n\
                   def drain(q):\n    out = []\n    while True:\n        r = aws('sqs').receive_message(QueueUrl=url(q), MaxNumberOfMessages=10, VisibilityTimeout=300, AttributeNames=['All']).get('Messages', [])\n        if not r: return out\n        out += r\n";
    let o = Command::new("python3")
        .args(["-c", &format!("{prelude}{code}")])
        .arg(&env.emulator.endpoint)
        .envs(creds())
        .output()
        .expect("python3");
    assert!(o.status.success(), "boto3: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn purge(env: &Env, queue: &str) {
    boto3(env, &format!("aws('sqs').purge_queue(QueueUrl=url('{queue}'))"));
}

fn depth(env: &Env, queue: &str) -> (u64, u64) {
    let out = boto3(
        env,
        &format!(
            "a = aws('sqs').get_queue_attributes(QueueUrl=url('{queue}'), AttributeNames=['All'])['Attributes']\n\
             print(a['ApproximateNumberOfMessages'], a['ApproximateNumberOfMessagesNotVisible'])"
        ),
    );
    let mut it = out.split_whitespace().map(|n| n.parse::<u64>().expect("number"));
    (it.next().expect("visible"), it.next().expect("in flight"))
}

/// The S3 keys (decoded) of the messages of a queue, consumed; one entry per message.
fn drained_keys(env: &Env, queue: &str) -> Vec<(String, String, String)> {
    let out = boto3(
        env,
        &format!(
            "from urllib.parse import unquote_plus\n\
             for m in drain('{queue}'):\n    b = json.loads(m['Body'])\n    for r in b.get('Records', []):\n        \
             print(r['s3']['bucket']['name'], unquote_plus(r['s3']['object']['key']), r['s3'].get('configurationId', '-'))"
        ),
    );
    let mut keys: Vec<_> = out
        .lines()
        .map(|l| {
            let p: Vec<&str> = l.split(' ').collect();
            (p[0].to_string(), p[1].to_string(), p[2].to_string())
        })
        .collect();
    keys.sort();
    keys
}

fn status(env: &Env, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["status", "specs/hoopstat-haus.yaml", "--format", "json"];
    args.extend_from_slice(extra);
    let o = pipewright(env, &args);
    (o.status.code().unwrap_or(-1), json_of(&o))
}

fn findings(report: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for s in report["stages"].as_array().expect("stages") {
        for f in s["findings"].as_array().expect("findings") {
            out.push((
                f["severity"].as_str().unwrap_or("").to_string(),
                f["resource"].as_str().unwrap_or("").to_string(),
                f["message"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out
}

#[test]
fn status_reports_backlog_dead_letters_and_a_disabled_mapping() {
    let env = setup();

    let (code, report) = status(&env, &[]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("healthy")), "{report:#}");
    let resources = &report["resources"];
    for name in [SILVER_QUEUE, SILVER_DLQ, "hoopstat-haus-gold-analytics", "basketball_analytics.player_analytics"] {
        assert_eq!(resources[name], "ok", "{name}: {resources:#}");
    }
    // A healthy human report names each stage and says what runs the local one.
    let o = pipewright(&env, &["status", "specs/hoopstat-haus.yaml"]);
    let human = text(&o);
    assert_eq!(o.status.code(), Some(0), "{human}");
    assert!(human.contains("HEALTHY") && human.contains("local cron") && human.contains("mapping"), "{human}");

    // A backlog: more messages than the queue-depth alarm's threshold (50).
    boto3(
        &env,
        &format!(
            "u = url('{SILVER_QUEUE}')\nfor i in range(6):\n    aws('sqs').send_message_batch(QueueUrl=u, Entries=[{{'Id': str(j), 'MessageBody': 'm%d' % (i * 10 + j)}} for j in range(10)])"
        ),
    );
    let (code, report) = status(&env, &["--stage", "silver-processing"]);
    assert_eq!((code, report["verdict"].as_str()), (1, Some("degraded")), "{report:#}");
    assert_eq!(report["stages"][0]["numbers"]["visible"], 60.0);
    assert_eq!(report["resources"][SILVER_QUEUE], "drift");
    assert!(findings(&report).iter().any(|(l, r, t)| l == "warning" && r == SILVER_QUEUE && t.contains("backlog: 60")));
    purge(&env, SILVER_QUEUE);

    // Dead letters: broken.
    boto3(&env, &format!("aws('sqs').send_message(QueueUrl=url('{SILVER_DLQ}'), MessageBody='dead')"));
    let (code, report) = status(&env, &[]);
    assert_eq!((code, report["verdict"].as_str()), (1, Some("broken")), "{report:#}");
    assert_eq!(report["resources"][SILVER_DLQ], "broken");
    let found = findings(&report);
    assert!(found.iter().any(|(l, r, t)| l == "error" && r == SILVER_DLQ && t.contains("1 message(s)")), "{found:#?}");
    purge(&env, SILVER_DLQ);

    // An alarm in ALARM: degraded, named; the function's ERROR lines are shown.
    let alarm = "hoopstat-haus-gold-analytics-errors";
    boto3(
        &env,
        &format!(
            "aws('cloudwatch').set_alarm_state(AlarmName='{alarm}', StateValue='ALARM', StateReason='Threshold Crossed: 1 datapoint [3.0]')"
        ),
    );
    boto3(
        &env,
        "import time\ng = '/aws/lambda/hoopstat-haus-gold-analytics'\n\
         aws('logs').create_log_stream(logGroupName=g, logStreamName='s')\nt = int(time.time() * 1000)\n\
         aws('logs').put_log_events(logGroupName=g, logStreamName='s', logEvents=[{'timestamp': t, 'message': json.dumps({'level': 'ERROR', 'message': 'message failed', 'error': 'boom'})}, {'timestamp': t + 1, 'message': json.dumps({'level': 'INFO', 'message': 'batch done'})}])",
    );
    let (code, report) = status(&env, &["--stage", "gold-analytics"]);
    assert_eq!((code, report["verdict"].as_str()), (1, Some("degraded")), "{report:#}");
    assert_eq!(report["resources"][alarm], "drift");
    assert!(findings(&report).iter().any(|(_, r, t)| r == alarm && t.contains("Threshold Crossed")), "{report:#}");
    let errors = report["stages"][0]["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "only the ERROR line: {errors:?}");
    assert!(errors[0].as_str().unwrap_or_default().contains("boom"));
    boto3(
        &env,
        &format!("aws('cloudwatch').set_alarm_state(AlarmName='{alarm}', StateValue='OK', StateReason='fixed')"),
    );

    // A disabled mapping: broken, and its state is shown.
    let mapping = "m = aws('lambda').list_event_source_mappings(FunctionName='hoopstat-haus-gold-analytics')['EventSourceMappings'][0]\n";
    boto3(&env, &format!("{mapping}aws('lambda').update_event_source_mapping(UUID=m['UUID'], Enabled=False)"));
    let (code, report) = status(&env, &[]);
    assert_eq!((code, report["verdict"].as_str()), (1, Some("broken")), "{report:#}");
    let found = findings(&report);
    assert!(
        found
            .iter()
            .any(|(l, r, t)| l == "error" && r == "hoopstat-haus-gold-analytics-queue" && t.contains("Disabled")),
        "{found:#?}"
    );

    // The JSON is a status document `graph --status` reads without unknown names.
    let path = env.root.join("status.json");
    std::fs::write(&path, serde_json::to_string(&report).expect("json")).expect("write");
    let o = Command::new(bin())
        .args(["graph", "specs/hoopstat-haus.yaml", "--status", path.to_str().expect("utf8")])
        .output()
        .expect("runs");
    assert!(o.status.success() && o.stderr.is_empty(), "{}", text(&o));

    boto3(&env, &format!("{mapping}aws('lambda').update_event_source_mapping(UUID=m['UUID'], Enabled=True)"));
    let (code, _) = status(&env, &[]);
    assert_eq!(code, 0);
}

#[test]
fn status_of_an_unreachable_account_is_could_not_read() {
    let o = Command::new(bin())
        .args(["status", "specs/hoopstat-haus.yaml", "--format", "json", "--endpoint-url", "http://127.0.0.1:9"])
        .envs(creds())
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let report = json_of(&o);
    assert_eq!(report["verdict"], "unknown");
    assert_eq!(report["resources"][SILVER_QUEUE], "unknown");
}

/// Puts bronze objects (their S3 notifications are drained afterwards).
fn put_bronze(env: &Env, keys: &[&str]) {
    let keys: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
    boto3(
        env,
        &format!(
            "for k in [{}]:\n    aws('s3').put_object(Bucket='{BRONZE}', Key=k, Body=b'{{\"games\": []}}')",
            keys.join(", ")
        ),
    );
    purge(env, SILVER_QUEUE);
}

#[test]
fn replay_sends_s3_events_for_the_dates_objects_into_the_queue() {
    let env = setup();
    put_bronze(
        &env,
        &[
            "raw/box_scores/date=2024-01-14/data.json",
            "raw/box_scores/date=2024-01-15/data.json",
            "raw/box_scores/date=2024-01-16/data.json",
            "raw/box_scores/date=2024-01-17/data.json",
            "raw/box_scores/date=2024-01-15/other.json",
        ],
    );
    // Status reports bronze's newest date partition against today in the schedule's time zone.
    let (_, report) = status(&env, &["--stage", "bronze-ingestion"]);
    let newest: Vec<&str> = report["stages"][0]["facts"]
        .as_array()
        .expect("facts")
        .iter()
        .filter(|f| f["label"] == "newest")
        .filter_map(|f| f["value"].as_str())
        .collect();
    assert!(
        newest.iter().any(|v| v.contains("; newest date=2024-01-17 (") && v.contains(" in America/New_York)")),
        "{newest:#?}"
    );
    let want: Vec<(String, String, String)> = ["2024-01-14", "2024-01-15", "2024-01-16"]
        .iter()
        .map(|d| (BRONZE.to_string(), format!("raw/box_scores/date={d}/data.json"), "pipewright-replay".to_string()))
        .collect();
    let args = [
        "replay",
        "specs/hoopstat-haus.yaml",
        "--stage",
        "silver-processing",
        "--date",
        "2024-01-14",
        "--to",
        "2024-01-16",
    ];

    // Dry run: lists, sends nothing.
    let mut dry = args.to_vec();
    dry.extend(["--dry-run", "--format", "json"]);
    let o = pipewright(&env, &dry);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let plan = json_of(&o);
    let keys: Vec<&str> = plan["objects"].as_array().expect("objects").iter().filter_map(Value::as_str).collect();
    assert_eq!(keys, want.iter().map(|w| w.1.as_str()).collect::<Vec<_>>());
    assert_eq!(plan["sent"], 0);
    assert_eq!(depth(&env, SILVER_QUEUE), (0, 0));

    // Sent: one message per object, in S3's format, into the stage's queue.
    let o = pipewright(&env, &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("sent 3 S3 event message(s)"), "{}", text(&o));
    assert_eq!(drained_keys(&env, SILVER_QUEUE), want);

    // Twice: the same message set again (handlers are idempotent; the keys decide the outputs).
    for _ in 0..2 {
        let o = pipewright(&env, &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let twice = drained_keys(&env, SILVER_QUEUE);
    let mut counted: BTreeMap<&(String, String, String), usize> = BTreeMap::new();
    for k in &twice {
        *counted.entry(k).or_default() += 1;
    }
    assert_eq!(counted.len(), 3);
    assert!(counted.values().all(|n| *n == 2), "{counted:?}");

    // The gold stage: silver's Parquet objects, keyed by season and date.
    boto3(
        &env,
        "for t in ['player_stats', 'team_stats']:\n    aws('s3').put_object(Bucket='hoopstat-haus-silver', Key='silver/%s/season=2023-24/date=2024-01-15/data.parquet' % t, Body=b'x')",
    );
    purge(&env, "hoopstat-haus-gold-analytics-queue");
    let o = pipewright(
        &env,
        &[
            "replay",
            "specs/hoopstat-haus.yaml",
            "--stage",
            "gold-analytics",
            "--date",
            "2024-01-15",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(json_of(&o)["sent"], 2);
    assert_eq!(drained_keys(&env, "hoopstat-haus-gold-analytics-queue").len(), 2);

    // Nothing on that date: exit 1. A local stage is neither triggered nor a scheduled Lambda: usage error.
    let o = pipewright(
        &env,
        &["replay", "specs/hoopstat-haus.yaml", "--stage", "silver-processing", "--date", "2023-01-01"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = pipewright(
        &env,
        &["replay", "specs/hoopstat-haus.yaml", "--stage", "bronze-ingestion", "--date", "2024-01-15"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("stage `bronze-ingestion` runs locally (`runs: local`)"), "{}", text(&o));
}

/// Sends `n` S3-event dead letters to the silver DLQ; returns their keys.
fn dead_letters(env: &Env, n: usize, tag: &str) -> Vec<String> {
    let keys: Vec<String> = (0..n).map(|i| format!("raw/box_scores/date=2024-02-{:02}/data.json", i + 1)).collect();
    boto3(
        env,
        &format!(
            "u = url('{SILVER_DLQ}')\nfor i, k in enumerate({keys:?}):\n    \
             body = {{'Records': [{{'eventName': 'ObjectCreated:Put', 's3': {{'bucket': {{'name': '{BRONZE}'}}, 'object': {{'key': k.replace('=', '%3D'), 'size': i}}}}}}], 'tag': '{tag}'}}\n    \
             aws('sqs').send_message(QueueUrl=u, MessageBody=json.dumps(body), MessageAttributes={{'n': {{'DataType': 'Number', 'StringValue': str(i)}}}})"
        ),
    );
    keys
}

fn assert_moved_exactly_once(env: &Env, keys: &[String]) {
    assert_eq!(depth(env, SILVER_DLQ), (0, 0), "the DLQ is empty");
    let moved: Vec<String> = drained_keys(env, SILVER_QUEUE).into_iter().map(|k| k.1).collect();
    let mut want = keys.to_vec();
    want.sort();
    assert_eq!(moved, want, "every dead letter is in the queue exactly once");
}

#[test]
fn dlq_peek_redrive_purge() {
    let env = setup();
    let keys = dead_letters(&env, 12, "first");

    // Peek decodes and consumes nothing.
    let o = pipewright(
        &env,
        &["dlq", "specs/hoopstat-haus.yaml", "--stage", "silver-processing", "peek", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let peeked = json_of(&o);
    let mut seen: Vec<&str> = peeked["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["objects"][0]["key"].as_str())
        .collect();
    seen.sort();
    assert_eq!(seen, keys.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(peeked["messages"][0]["receive_count"].as_u64().expect("count") >= 1);
    assert!(peeked["messages"][0]["sent"].as_str().expect("sent").ends_with('Z'));
    assert_eq!(depth(&env, SILVER_DLQ), (12, 0), "peek leaves the messages visible");
    let o = pipewright(&env, &["dlq", "specs/hoopstat-haus.yaml", "--stage", "silver-processing", "peek"]);
    assert!(
        text(&o).contains("12 dead letter(s)")
            && text(&o).contains("s3://hoopstat-haus-bronze/raw/box_scores/date=2024-02-01/data.json"),
        "{}",
        text(&o)
    );

    // Redrive with StartMessageMoveTask.
    let o = pipewright(
        &env,
        &["dlq", "specs/hoopstat-haus.yaml", "--stage", "silver-processing", "redrive", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json_of(&o);
    assert_eq!((r["method"].as_str(), r["moved"].as_u64()), (Some("StartMessageMoveTask"), Some(12)), "{r}");
    assert_moved_exactly_once(&env, &keys);

    // Redrive with the loop, forced; message attributes travel with the body.
    let keys = dead_letters(&env, 23, "second");
    let o = pipewright(
        &env,
        &[
            "dlq",
            "specs/hoopstat-haus.yaml",
            "--stage",
            "silver-processing",
            "redrive",
            "--no-move-task",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json_of(&o);
    assert_eq!((r["method"].as_str(), r["moved"].as_u64()), (Some("receive -> send -> delete"), Some(23)), "{r}");
    let attrs = boto3(
        &env,
        &format!(
            "m = aws('sqs').receive_message(QueueUrl=url('{SILVER_QUEUE}'), MessageAttributeNames=['All'], VisibilityTimeout=0)['Messages'][0]\nprint(m['MessageAttributes']['n']['DataType'])"
        ),
    );
    assert_eq!(attrs.trim(), "Number");
    assert_moved_exactly_once(&env, &keys);

    // The move task refused (SQS no longer sees the DLQ as one: the redrive policy was removed by
    // hand): the loop takes over.
    let keys = dead_letters(&env, 7, "third");
    boto3(
        &env,
        &format!("aws('sqs').set_queue_attributes(QueueUrl=url('{SILVER_QUEUE}'), Attributes={{'RedrivePolicy': ''}})"),
    );
    let o = pipewright(
        &env,
        &["dlq", "specs/hoopstat-haus.yaml", "--stage", "silver-processing", "redrive", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = json_of(&o);
    assert_eq!((r["method"].as_str(), r["moved"].as_u64()), (Some("receive -> send -> delete"), Some(7)), "{r}");
    assert!(r["fallback"].as_str().unwrap_or_default().contains("StartMessageMoveTask"), "{r}");
    assert_moved_exactly_once(&env, &keys);

    // Purge asks (no terminal: refused), then --yes.
    dead_letters(&env, 3, "fourth");
    let o = pipewright(&env, &["dlq", "specs/hoopstat-haus.yaml", "--stage", "silver-processing", "purge"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--yes"));
    assert_eq!(depth(&env, SILVER_DLQ).0, 3);
    let o = pipewright(&env, &["dlq", "specs/hoopstat-haus.yaml", "--stage", "silver-processing", "purge", "--yes"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(depth(&env, SILVER_DLQ), (0, 0));
}

#[test]
fn probe_sees_each_canary_arrive_and_leaves_other_messages_alone() {
    let env = setup();
    boto3(&env, &format!("aws('sqs').send_message(QueueUrl=url('{SILVER_QUEUE}'), MessageBody='real work')"));

    let o = pipewright(&env, &["probe", "specs/hoopstat-haus.yaml", "--timeout", "20s", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report = json_of(&o);
    let probes = report["probes"].as_array().expect("probes");
    assert_eq!(probes.len(), 2);
    for p in probes {
        assert_eq!((p["arrived"].as_bool(), p["via"].as_str()), (Some(true), Some("queue")), "{p}");
        assert!(p["key"].as_str().expect("key").contains("pipewright-canary-"), "{p}");
    }
    assert_eq!(probes[0]["key"].as_str().map(|k| k.starts_with("raw/box_scores/date=pipewright-canary-")), Some(true));
    // The real message is back (visible), the canaries' messages and objects are gone.
    assert_eq!(depth(&env, SILVER_QUEUE), (1, 0));
    assert_eq!(depth(&env, "hoopstat-haus-gold-analytics-queue"), (0, 0));
    let left = boto3(
        &env,
        &format!(
            "print(sum(1 for b in ['{BRONZE}', 'hoopstat-haus-silver'] for v in aws('s3').list_object_versions(Bucket=b).get('Versions', []) if 'canary' in v['Key']))"
        ),
    );
    assert_eq!(left.trim(), "0");

    // A notification removed by hand: that canary does not arrive.
    boto3(
        &env,
        "aws('s3').put_bucket_notification_configuration(Bucket='hoopstat-haus-silver', NotificationConfiguration={})",
    );
    let o = pipewright(&env, &["probe", "specs/hoopstat-haus.yaml", "--stage", "gold-analytics", "--timeout", "3s"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("did NOT arrive within 3s"), "{}", text(&o));
}

/// The generated runbooks name these commands: each parses, and each stage it names has what the
/// command needs (a queue for replay, dlq and probe), so the runbook cannot suggest a refused command.
#[test]
fn runbook_commands_parse_and_name_fitting_stages() {
    use clap::Parser;
    use pipewright::cli::{Cli, Command as Cmd};
    let mut seen = 0;
    for (spec, runbook) in [
        ("specs/hoopstat-haus.yaml", "generated/hoopstat-haus/RUNBOOK.md"),
        ("specs/minimal.yaml", "generated/minimal/RUNBOOK.md"),
    ] {
        let loaded = pipewright::spec::load(pipewright::spec::Source::read(std::path::Path::new(spec)).expect("spec"));
        let pipeline = loaded.pipeline.expect("valid");
        let text = std::fs::read_to_string(runbook).expect("runbook");
        // Lines of sh blocks and inline `pipewright ...` spans.
        let mut commands: Vec<String> =
            text.lines().filter(|l| l.starts_with("pipewright ")).map(str::to_string).collect();
        for part in text.split('`').skip(1).step_by(2) {
            if part.starts_with("pipewright ") {
                commands.push(part.to_string());
            }
        }
        for cmd in commands {
            let words = cmd.split(" #").next().unwrap_or("").split(" >").next().unwrap_or("").split_whitespace();
            let cli = Cli::try_parse_from(words).unwrap_or_else(|e| panic!("{runbook}: `{cmd}`: {e}"));
            let stage =
                |name: &str| pipewright::ops::find_stage(&pipeline, name).unwrap_or_else(|e| panic!("`{cmd}`: {e}"));
            let fits = match &cli.command {
                // A triggered stage, or a scheduled Lambda (run again for the date).
                Cmd::Replay(a) => {
                    let s = stage(&a.stage);
                    (s.schedule.is_some() && s.function.is_some() && s.queue.is_none())
                        || pipewright::ops::stage_queue(s, "replay").is_ok()
                }
                Cmd::Dlq(a) => pipewright::ops::stage_dlq(stage(&a.stage)).is_ok(),
                Cmd::Probe(a) => {
                    a.stage.as_deref().is_none_or(|n| pipewright::ops::stage_queue(stage(n), "probe").is_ok())
                }
                _ => true,
            };
            assert!(fits, "{runbook}: `{cmd}` names a stage the command cannot work on");
            seen += 1;
        }
    }
    assert!(seen >= 30, "{seen} commands");
}

/// Replayed twice and processed by the real silver handler (`silver_processing::Stage::handle`, in
/// process, against the emulator): every message succeeds and the outputs are the same objects with
/// the same bytes: no duplicate outputs.
#[test]
fn replay_twice_then_processing_writes_no_duplicate_outputs() {
    use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
    let env = setup();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let creds = aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tests");
    let config = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&env.emulator.endpoint)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(creds))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    let sqs = aws_sdk_sqs::Client::new(&config);

    // Two days of generated games in bronze.
    let generator = hoopstat_fixtures::Generator::new(42);
    rt.block_on(async {
        for d in ["2024-01-15", "2024-01-16"] {
            let day = generator.day(chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("date"), 4);
            s3.put_object().bucket(BRONZE).key(day.key()).body(day.to_bronze().into()).send().await.expect("put");
        }
    });
    purge(&env, SILVER_QUEUE);
    let replay = [
        "replay",
        "specs/hoopstat-haus.yaml",
        "--stage",
        "silver-processing",
        "--date",
        "2024-01-15",
        "--to",
        "2024-01-16",
    ];

    let loaded = pipewright::spec::load(
        pipewright::spec::Source::read(std::path::Path::new("specs/hoopstat-haus.yaml")).expect("the flagship spec"),
    );
    let pipeline = loaded.pipeline.expect("valid");
    let stage_env = pipeline.stage_env(pipeline.stage("silver-processing").expect("stage"));
    let (log, captured) = pipewright_stage::log::Logger::capture("silver-processing");
    let stage =
        silver_processing::Stage::new(&stage_env, silver_processing::S3Store::new(s3.clone()), log).expect("stage");

    let mut outputs = Vec::new();
    for round in 0..2 {
        let o = pipewright(&env, &replay);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let (messages, listed) = rt.block_on(async {
            let url =
                sqs.get_queue_url().queue_name(SILVER_QUEUE).send().await.expect("url").queue_url.unwrap_or_default();
            let mut records = Vec::new();
            loop {
                let got = sqs
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .visibility_timeout(300)
                    .send()
                    .await
                    .expect("receive");
                let got = got.messages.unwrap_or_default();
                if got.is_empty() {
                    break;
                }
                for m in got {
                    let mut msg = SqsMessage::default();
                    msg.message_id = m.message_id.clone();
                    msg.body = m.body.clone();
                    records.push(msg);
                }
            }
            let mut event = SqsEvent::default();
            event.records = records;
            let response = stage.handle(&event).await.expect("batch");
            assert!(response.batch_item_failures.is_empty(), "round {round}: {:?}", captured.lines());
            let listed = s3.list_objects_v2().bucket("hoopstat-haus-silver").send().await.expect("list");
            let mut objects: Vec<(String, String)> = listed
                .contents
                .unwrap_or_default()
                .into_iter()
                .map(|o| (o.key.unwrap_or_default(), o.e_tag.unwrap_or_default()))
                .collect();
            objects.sort();
            (event.records.len(), objects)
        });
        assert_eq!(messages, 2, "round {round}: one message per bronze object");
        outputs.push(listed);
    }
    assert_eq!(outputs[0].len(), 4, "player and team stats per date: {:?}", outputs[0]);
    assert!(
        outputs[0].iter().all(|(k, _)| k.starts_with("silver/") && k.contains("season=2023-24")),
        "{:?}",
        outputs[0]
    );
    assert_eq!(outputs[0], outputs[1], "the second replay rewrote the same objects with the same bytes");
}
