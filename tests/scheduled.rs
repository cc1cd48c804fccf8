//! Scheduled Lambda stages against the local emulator, on `specs/minimal.yaml` and on a pipeline of
//! scheduled stages only (`tests/fixtures/tide-gauges.yaml`: two scheduled Lambdas and a local stage).
//! Each run carries the instant it was due (the schedule's input); a failed run lands in the stage's
//! dead-letter queue (the function's and the schedule's). `replay` invokes a scheduled stage
//! asynchronously once per date; `dlq peek` shows each failed run and its error, `dlq redrive` invokes
//! the function again with each run and keeps what is not a run; `status` counts the failed runs;
//! `verify` reports the function's DLQ, the schedule's input and DLQ, and the DLQ's settings changed out
//! of band. The dead letters are written as Lambda (`ErrorMessage`) and EventBridge Scheduler
//! (`ERROR_MESSAGE`) document theirs: the emulator's Scheduler never fires, and its Lambda never runs a
//! function, so neither writes one itself.

#[path = "support/aws.rs"]
mod aws_env;

use aws_env::{Env, creds};
use std::process::Command;

const SPEC: &str = "tests/fixtures/tide-gauges.yaml";

fn pipewright(env: &Env, args: &[&str]) -> std::process::Output {
    env.pipewright(args)
}

fn deploy(env: &Env, spec: &str, stages: &[&str]) {
    env.deploy(spec, stages);
}

/// Runs boto3 `code` against the emulator (`aws(service)` is a client); returns what it prints.
fn boto3(env: &Env, code: &str) -> String {
    let prelude = format!(
        "import boto3, json\naws = lambda s: boto3.client(s, endpoint_url={:?}, region_name='us-east-1')\n\
         def qurl(name): return aws('sqs').get_queue_url(QueueName=name)['QueueUrl']\n\
         def qarn(name): return aws('sqs').get_queue_attributes(QueueUrl=qurl(name), AttributeNames=['QueueArn'])['Attributes']['QueueArn']\n",
        env.emulator.endpoint
    );
    let o = Command::new("python3").args(["-c", &format!("{prelude}{code}")]).envs(creds()).output().expect("python3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The payloads of the asynchronous invocations the emulator accepted for `function`, sorted.
fn invoked(env: &Env, function: &str) -> Vec<String> {
    let out = boto3(
        env,
        &format!(
            "for e in aws('logs').filter_log_events(logGroupName='/aws/lambda/{function}').get('events', []):\n\
             \x20   if 'accepted, not run' in e['message']:\n\
             \x20       print(json.dumps(json.loads(e['message'].split('code): ', 1)[1]), sort_keys=True))\n"
        ),
    );
    let mut lines: Vec<String> = out.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// `verify --format json` of `spec`: its exit code and its findings.
fn verify(env: &Env, spec: &str) -> (i32, Vec<String>) {
    env.findings(spec)
}

fn json_of(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn replay_and_redrive_run_a_scheduled_stage_again_for_its_dates() {
    let env = aws_env::setup();
    deploy(&env, SPEC, &["poll", "compact"]);
    assert_eq!(verify(&env, SPEC), (0, vec![]));

    // The schedule invokes with the instant the run is due, and sends what it cannot deliver to the DLQ.
    let target = boto3(
        &env,
        "t = aws('scheduler').get_schedule(Name='tide-gauges-compact-schedule')['Target']\n\
         print(t['Input']); print(t['DeadLetterConfig']['Arn'])\n\
         print(aws('lambda').get_function_configuration(FunctionName='tide-gauges-compact')['DeadLetterConfig']['TargetArn'])\n",
    );
    let lines: Vec<&str> = target.lines().collect();
    assert_eq!(lines[0], r#"{"scheduled_time":"<aws.scheduler.scheduled-time>"}"#, "{target}");
    assert!(lines[1].ends_with(":tide-gauges-compact-dlq") && lines[2] == lines[1], "{target}");

    // A dry run lists the runs and invokes nothing; a replay invokes once per date, asynchronously.
    let o = pipewright(
        &env,
        &["replay", SPEC, "--stage", "poll", "--date", "2024-05-01", "--to", "2024-05-03", "--dry-run"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains(r#"{"date":"2024-05-03"}"#));
    assert_eq!(invoked(&env, "tide-gauges-poll"), Vec::<String>::new());
    let o = pipewright(
        &env,
        &["replay", SPEC, "--stage", "poll", "--date", "2024-05-01", "--to", "2024-05-03", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json_of(&o)["invoked"], 3);
    let runs: Vec<String> = (1..=3).map(|d| format!(r#"{{"date": "2024-05-0{d}"}}"#)).collect();
    assert_eq!(invoked(&env, "tide-gauges-poll"), runs);
    // Replayed again (an operator's repeat): each date once more, nothing merged or lost.
    let o = pipewright(&env, &["replay", SPEC, "--stage", "poll", "--date", "2024-05-02"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(invoked(&env, "tide-gauges-poll").len(), 4);

    // A local stage has neither: cron starts it.
    let o = pipewright(&env, &["replay", SPEC, "--stage", "archive", "--date", "2024-05-01"]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    let o = pipewright(&env, &["dlq", SPEC, "--stage", "archive", "peek"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no dead-letter queue"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Failed runs, as Lambda and the schedule leave them (the payload, the error as an attribute), and a
    // message that is not a run.
    boto3(
        &env,
        "q = qurl('tide-gauges-compact-dlq')\n\
         s = lambda body, name, error: aws('sqs').send_message(QueueUrl=q, MessageBody=body,\n\
         \x20   MessageAttributes={name: {'DataType': 'String', 'StringValue': error}})\n\
         s('{\"date\": \"2024-05-01\"}', 'ErrorMessage', 'Task timed out after 900.00 seconds')\n\
         s('{\"scheduled_time\": \"2024-05-05T14:30:00Z\"}', 'ERROR_MESSAGE', 'Lambda.TooManyRequestsException')\n\
         aws('sqs').send_message(QueueUrl=q, MessageBody='written by hand')\n",
    );
    let o = pipewright(&env, &["status", SPEC, "--stage", "compact", "--format", "json"]);
    let status = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{status}");
    assert!(status.contains("\"S203\"") && status.contains("3 failed run(s)"), "{status}");
    let o = pipewright(&env, &["dlq", SPEC, "--stage", "compact", "peek", "--format", "json"]);
    let peek = json_of(&o);
    let mut seen: Vec<String> = peek["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| format!("{} {} {}", m["run"], m["error"], m["other"]))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            r#"null null "written by hand""#,
            r#"{"date":"2024-05-01"} "Task timed out after 900.00 seconds" null"#,
            r#"{"scheduled_time":"2024-05-05T14:30:00Z"} "Lambda.TooManyRequestsException" null"#,
        ],
        "{peek:#}"
    );
    // Redrive: each run invoked again as it was (the due instant kept), the other message kept.
    let o = pipewright(&env, &["dlq", SPEC, "--stage", "compact", "redrive", "--format", "json"]);
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    let r = json_of(&o);
    assert_eq!((r["moved"].as_u64(), r["not_runs"].as_array().map(Vec::len)), (Some(2), Some(1)), "{r}");
    assert_eq!(
        invoked(&env, "tide-gauges-compact"),
        [r#"{"date": "2024-05-01"}"#, r#"{"scheduled_time": "2024-05-05T14:30:00Z"}"#]
    );
    let o = pipewright(&env, &["dlq", SPEC, "--stage", "compact", "peek", "--format", "json"]);
    assert_eq!(json_of(&o)["messages"].as_array().map(Vec::len), Some(1));

    // Lambda refuses (the function is gone): the run's dead letter stays, exit 3; a replay names each
    // date it could not invoke.
    boto3(
        &env,
        "aws('sqs').send_message(QueueUrl=qurl('tide-gauges-compact-dlq'), MessageBody='{\"date\": \"2024-05-02\"}')\n\
         aws('lambda').delete_function(FunctionName='tide-gauges-compact')\n\
         aws('lambda').delete_function(FunctionName='tide-gauges-poll')\n",
    );
    let o = pipewright(&env, &["dlq", SPEC, "--stage", "compact", "redrive", "--format", "json"]);
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json_of(&o)["moved"], 0);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ResourceNotFoundException"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = pipewright(&env, &["dlq", SPEC, "--stage", "compact", "peek", "--format", "json"]);
    let peek = json_of(&o);
    let runs: Vec<&serde_json::Value> =
        peek["messages"].as_array().expect("messages").iter().map(|m| &m["run"]).collect();
    assert!(runs.contains(&&serde_json::json!({"date": "2024-05-02"})) && runs.len() == 2, "{peek:#}");
    let o = pipewright(&env, &["replay", SPEC, "--stage", "poll", "--date", "2024-05-01", "--to", "2024-05-02"]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("the run for 2024-05-01 was not invoked")
            && err.contains("the run for 2024-05-02 was not invoked"),
        "{err}"
    );
}

#[test]
fn verify_reports_the_failed_runs_wiring_changed_out_of_band() {
    let env = aws_env::setup();
    deploy(&env, "specs/minimal.yaml", &["export", "curate"]);
    let minimal = |env: &Env| verify(env, "specs/minimal.yaml");
    assert_eq!(minimal(&env), (0, vec![]));
    let cases: [(&str, &str, &str, &str); 3] = [
        (
            "the function's DLQ removed",
            "aws('lambda').update_function_configuration(FunctionName='acme-orders-export', DeadLetterConfig={'TargetArn': ''})\n",
            "acme-orders-export settings D401",
            "aws('lambda').update_function_configuration(FunctionName='acme-orders-export', DeadLetterConfig={'TargetArn': qarn('acme-orders-export-dlq')})\n",
        ),
        (
            "the schedule's input and DLQ dropped",
            "sc = aws('scheduler')\n\
             s = sc.get_schedule(Name='acme-orders-export-schedule')\n\
             t = {k: v for k, v in s['Target'].items() if k not in ('Input', 'DeadLetterConfig')}\n\
             args = {k: s[k] for k in ['Name', 'GroupName', 'ScheduleExpression', 'ScheduleExpressionTimezone', 'FlexibleTimeWindow', 'State']}\n\
             sc.update_schedule(Target=t, **args)\n",
            "acme-orders-export-schedule schedule D601",
            "sc = aws('scheduler')\n\
             s = sc.get_schedule(Name='acme-orders-export-schedule')\n\
             t = dict(s['Target'], Input='{\"scheduled_time\":\"<aws.scheduler.scheduled-time>\"}', DeadLetterConfig={'Arn': qarn('acme-orders-export-dlq')})\n\
             args = {k: s[k] for k in ['Name', 'GroupName', 'ScheduleExpression', 'ScheduleExpressionTimezone', 'FlexibleTimeWindow', 'State']}\n\
             sc.update_schedule(Target=t, **args)\n",
        ),
        (
            "the DLQ opened to every queue's redrive",
            "aws('sqs').set_queue_attributes(QueueUrl=qurl('acme-orders-export-dlq'), Attributes={'RedriveAllowPolicy': json.dumps({'redrivePermission': 'allowAll'})})\n",
            "acme-orders-export-dlq attributes D201",
            "aws('sqs').set_queue_attributes(QueueUrl=qurl('acme-orders-export-dlq'), Attributes={'RedriveAllowPolicy': json.dumps({'redrivePermission': 'denyAll'})})\n",
        ),
    ];
    for (name, change, expected, undo) in cases {
        boto3(&env, change);
        let (code, found) = minimal(&env);
        assert_eq!(code, 1, "{name}: {found:?}");
        assert!(found.iter().all(|f| f == expected) && !found.is_empty(), "{name}: {found:?}");
        boto3(&env, undo);
        assert_eq!(minimal(&env), (0, vec![]), "{name} undone");
    }
}
