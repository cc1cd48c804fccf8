//! `pipewright generate`: deterministic output, `--check` against the committed `generated/`, and
//! the properties the template must have to deploy on the first try.

mod support;

use pipewright::Exit;
use pipewright::cfn::files::{global_files, spec_files};
use pipewright::spec::Source;
use serde_json::Value;
use std::path::Path;
use support::cli;

fn flagship_template() -> Value {
    let loaded = pipewright::check::diagnose(Source::read(Path::new("specs/hoopstat-haus.yaml")).expect("spec"));
    let template = pipewright::cfn::template(&loaded.pipeline.expect("parsed"), "specs/hoopstat-haus.yaml");
    template.to_value()
}

#[test]
fn committed_generated_files_are_fresh() {
    for entry in std::fs::read_dir("specs").expect("specs") {
        let path = entry.expect("entry").path();
        let shown = path.display().to_string();
        let (exit, out, err) = cli(&["--color", "never", "generate", &shown, "--check"]);
        assert_eq!(exit, Exit::Clean, "{shown} is stale; run `cargo run -- generate {shown}`\n{out}{err}");
    }
}

#[test]
fn generate_then_check_then_detect_staleness() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf8 path");
    let (exit, _, err) = cli(&["generate", "specs/hoopstat-haus.yaml", "--out", out]);
    assert_eq!(exit, Exit::Clean, "{err}");
    for f in [
        "hoopstat-haus/template.yaml",
        "hoopstat-haus/parameters.json",
        "hoopstat-haus/bronze-ingestion.crontab",
        "pipewright.schema.json",
        "checks.md",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let (exit, _, _) = cli(&["generate", "specs/hoopstat-haus.yaml", "--out", out, "--check"]);
    assert_eq!(exit, Exit::Clean);

    // A hand edit is stale, and the diff shows it.
    let template = dir.path().join("hoopstat-haus/template.yaml");
    let text = std::fs::read_to_string(&template).expect("read");
    std::fs::write(&template, text.replace("VisibilityTimeout: 1805", "VisibilityTimeout: 300")).expect("write");
    let (exit, diff, err) = cli(&["generate", "specs/hoopstat-haus.yaml", "--out", out, "--check"]);
    assert_eq!(exit, Exit::Findings);
    assert!(
        diff.contains("-      VisibilityTimeout: 300") && diff.contains("+      VisibilityTimeout: 1805"),
        "{diff}"
    );
    assert!(err.contains("stale"), "{err}");

    // A file generate no longer writes is stale too, and a regenerate removes it.
    std::fs::write(dir.path().join("hoopstat-haus/old-stage.crontab"), "x").expect("write");
    let (exit, out_text, _) = cli(&["generate", "specs/hoopstat-haus.yaml", "--out", out, "--check"]);
    assert_eq!(exit, Exit::Findings);
    assert!(out_text.contains("old-stage.crontab"), "{out_text}");
    let (exit, _, _) = cli(&["generate", "specs/hoopstat-haus.yaml", "--out", out]);
    assert_eq!(exit, Exit::Clean);
    assert!(!dir.path().join("hoopstat-haus/old-stage.crontab").exists());
    let (exit, _, _) = cli(&["generate", "specs/hoopstat-haus.yaml", "--out", out, "--check"]);
    assert_eq!(exit, Exit::Clean);
}

#[test]
fn a_spec_with_errors_is_not_generated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf8 path");
    let (exit, _, err) = cli(&[
        "--color",
        "never",
        "generate",
        "tests/fixtures/checks/pw301-visibility-below-timeout.yaml",
        "--out",
        out,
    ]);
    assert_eq!(exit, Exit::Findings);
    assert!(err.contains("PW301") && err.contains("not generating"), "{err}");
    assert!(std::fs::read_dir(dir.path()).expect("dir").next().is_none(), "nothing written");
}

#[test]
fn output_is_deterministic() {
    let a = flagship_template();
    let b = flagship_template();
    assert_eq!(a, b);
    let loaded = pipewright::check::diagnose(
        Source::read(std::path::Path::new("specs/hoopstat-haus.yaml")).expect("the flagship spec"),
    );
    let p = loaded.pipeline.expect("parsed");
    assert_eq!(spec_files(&p, "x", "s.yaml"), spec_files(&p, "x", "s.yaml"));
    assert_eq!(global_files(), global_files());
}

#[test]
fn runbook_names_come_out_of_the_conventions() {
    let t = flagship_template();
    let r = &t["Resources"];
    assert_eq!(r["BronzeBucket"]["Properties"]["BucketName"], "hoopstat-haus-bronze");
    assert_eq!(r["SilverBucket"]["Properties"]["BucketName"], "hoopstat-haus-silver");
    assert_eq!(r["SilverProcessingQueue"]["Properties"]["QueueName"], "hoopstat-haus-silver-processing-queue");
    assert_eq!(r["GoldAnalyticsQueue"]["Properties"]["QueueName"], "hoopstat-haus-gold-analytics-queue");
    assert_eq!(r["SilverProcessingDlq"]["Properties"]["QueueName"], "hoopstat-haus-silver-processing-dlq");
    assert_eq!(r["GoldAnalyticsDlq"]["Properties"]["QueueName"], "hoopstat-haus-gold-analytics-dlq");
    assert_eq!(r["SilverProcessingFunction"]["Properties"]["FunctionName"], "hoopstat-haus-silver-processing");
    assert_eq!(r["GoldAnalyticsFunction"]["Properties"]["FunctionName"], "hoopstat-haus-gold-analytics");
    assert_eq!(
        r["SilverProcessingLogGroup"]["Properties"]["LogGroupName"],
        "/aws/lambda/hoopstat-haus-silver-processing"
    );
    assert_eq!(r["GoldTablesTableBucket"]["Properties"]["TableBucketName"], "hoopstat-haus-gold-tables");
    assert_eq!(r["BasketballAnalyticsNamespace"]["Properties"]["Namespace"], "basketball_analytics");
    // The local stage has no function, and its crontab is generated instead.
    assert!(r.get("BronzeIngestionFunction").is_none());
}

#[test]
fn notifications_are_encoded_and_cannot_cycle() {
    let t = flagship_template();
    let r = &t["Resources"];
    let cfg = &r["BronzeBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"][0];
    assert_eq!(cfg["Event"], "s3:ObjectCreated:*");
    let rules = &cfg["Filter"]["S3Key"]["Rules"];
    assert_eq!(rules[0], serde_json::json!({ "Name": "prefix", "Value": "raw/box_scores/date%3D" }));
    assert_eq!(rules[1], serde_json::json!({ "Name": "suffix", "Value": "/data.json" }));
    // The bucket waits for the policy; the policy names the bucket by an ARN built from its name.
    assert_eq!(r["BronzeBucket"]["DependsOn"], serde_json::json!(["SilverProcessingQueuePolicy"]));
    let statement = &r["SilverProcessingQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(
        statement["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"],
        "arn:${AWS::Partition}:s3:::hoopstat-haus-bronze"
    );
    assert_eq!(statement["Condition"]["StringEquals"]["aws:SourceAccount"]["Ref"], "AWS::AccountId");
    assert!(!serde_json::to_string(&r["SilverProcessingQueuePolicy"]).expect("json").contains("BronzeBucket"));
    // No custom resources.
    for (id, res) in r.as_object().expect("resources") {
        let ty = res["Type"].as_str().expect("type");
        assert!(!ty.starts_with("Custom::") && ty != "AWS::CloudFormation::CustomResource", "{id}");
    }
}

#[test]
fn queues_follow_aws_recommendations() {
    let t = flagship_template();
    let q = &t["Resources"]["SilverProcessingQueue"]["Properties"];
    assert_eq!(q["VisibilityTimeout"], 1805);
    assert_eq!(q["MessageRetentionPeriod"], 4 * 86_400);
    assert_eq!(q["ReceiveMessageWaitTimeSeconds"], 20);
    assert_eq!(q["SqsManagedSseEnabled"], true);
    assert_eq!(q["RedrivePolicy"]["maxReceiveCount"], 5);
    let dlq = &t["Resources"]["SilverProcessingDlq"]["Properties"];
    assert_eq!(dlq["MessageRetentionPeriod"], 14 * 86_400);
    assert_eq!(dlq["RedriveAllowPolicy"]["redrivePermission"], "byQueue");
    let esm = &t["Resources"]["SilverProcessingEventSourceMapping"]["Properties"];
    assert_eq!(esm["BatchSize"], 10);
    assert_eq!(esm["MaximumBatchingWindowInSeconds"], 5);
    assert_eq!(esm["FunctionResponseTypes"], serde_json::json!(["ReportBatchItemFailures"]));
}

#[test]
fn iam_is_least_privilege_without_wildcard_actions() {
    let t = flagship_template();
    for (id, res) in t["Resources"].as_object().expect("resources") {
        if res["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in res["Properties"]["Policies"].as_array().expect("policies") {
            for st in policy["PolicyDocument"]["Statement"].as_array().expect("statements") {
                let actions: Vec<&str> = match &st["Action"] {
                    Value::String(a) => vec![a.as_str()],
                    Value::Array(a) => a.iter().map(|v| v.as_str().expect("action")).collect(),
                    other => panic!("{id}: {other}"),
                };
                for a in actions {
                    assert!(!a.contains('*'), "{id}: wildcard action {a}");
                }
            }
        }
    }
    let silver = serde_json::to_string(&t["Resources"]["SilverProcessingRole"]).expect("json");
    assert!(silver.contains("hoopstat-haus-bronze/raw/box_scores/date=*"), "reads its trigger prefix");
    assert!(silver.contains("hoopstat-haus-silver/silver/player_stats/season=*"), "writes its outputs");
    assert!(!silver.contains("s3tables"), "silver does not touch the tables");
    let gold = serde_json::to_string(&t["Resources"]["GoldAnalyticsRole"]).expect("json");
    assert!(gold.contains("s3tables:UpdateTableMetadataLocation") && gold.contains("bucket/hoopstat-haus-gold-tables"));
}

#[test]
fn alarms_match_the_runbook_and_have_actions() {
    let t = flagship_template();
    let r = &t["Resources"];
    let depth = &r["SilverProcessingQueueDepthAlarm"]["Properties"];
    assert_eq!(depth["Threshold"], 50);
    assert_eq!(depth["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(r["SilverProcessingDlqDepthAlarm"]["Properties"]["Threshold"], 0);
    assert_eq!(r["SilverProcessingDurationAlarm"]["Properties"]["Threshold"], 250_000);
    assert_eq!(r["GoldAnalyticsErrorsAlarm"]["Properties"]["MetricName"], "Errors");
    assert_eq!(r["GoldAnalyticsThrottlesAlarm"]["Properties"]["MetricName"], "Throttles");
    for (id, res) in r.as_object().expect("resources") {
        if res["Type"] == "AWS::CloudWatch::Alarm" {
            assert_eq!(res["Properties"]["AlarmActions"][0]["Ref"], "AlertTopic", "{id}");
        }
    }
}

/// Every stage fed by a queue has an alarm on the failed records its batches report (the metric the
/// stage library publishes in its batch summary line), with the spec's `errors` threshold and 1-minute
/// periods; a stage without a queue has none. Checked on a pipeline of another shape than the flagship.
#[test]
fn failed_records_alarm_on_the_stage_library_metric_with_the_errors_threshold() {
    let text = std::fs::read_to_string("tests/fixtures/sensor-chain.yaml").expect("fixture");
    let text = format!("{text}\nalarms:\n  errors: 3\n");
    let loaded = pipewright::check::diagnose(Source::text("tests/fixtures/sensor-chain.yaml", text));
    assert!(
        loaded.diagnostics.iter().all(|d| d.severity != pipewright::report::Severity::Error),
        "{:?}",
        loaded.diagnostics
    );
    let p = loaded.pipeline.expect("parses");
    let t = pipewright::cfn::template(&p, "tests/fixtures/sensor-chain.yaml").to_value();
    let mut with_queue = 0;
    for s in p.stages.iter().filter(|s| s.function.is_some()) {
        let id = pipewright::cfn::logical_id(&[&s.name, "failed_records", "Alarm"]);
        let alarm = &t["Resources"][&id]["Properties"];
        if s.queue.is_none() {
            assert!(alarm.is_null(), "{id}: a stage without a queue reports no batches");
            continue;
        }
        with_queue += 1;
        assert_eq!(alarm["Namespace"], pipewright_stage::METRIC_NAMESPACE, "{id}");
        assert_eq!(alarm["MetricName"], pipewright_stage::FAILED_RECORDS, "{id}");
        assert_eq!(alarm["Dimensions"][0]["Name"], pipewright_stage::FUNCTION_DIMENSION, "{id}");
        assert_eq!(alarm["Dimensions"][0]["Value"]["Ref"], pipewright::cfn::logical_id(&[&s.name, "Function"]), "{id}");
        assert_eq!((alarm["Statistic"].as_str(), alarm["Period"].as_u64()), (Some("Sum"), Some(60)), "{id}");
        assert_eq!(alarm["Threshold"], 3, "{id}");
        assert_eq!(
            t["Resources"][pipewright::cfn::logical_id(&[&s.name, "errors", "Alarm"])]["Properties"]["Threshold"],
            3
        );
    }
    assert!(with_queue >= 2, "the fixture has stages fed by queues");
}

#[test]
fn functions_share_the_env_contract_with_the_stages() {
    let t = flagship_template();
    let vars = &t["Resources"]["SilverProcessingFunction"]["Properties"]["Environment"]["Variables"];
    let lookup = |k: &str| vars.get(k).and_then(Value::as_str).map(str::to_string);
    let env = pipewright_stage::StageEnv::from_lookup(lookup).expect("the stage can read what the generator wrote");
    assert_eq!(env.stage, "silver-processing");
    assert_eq!(env.input.clone().expect("input").pattern, "raw/box_scores/date=*/data.json");
    assert_eq!(env.output("team_stats").expect("team_stats").bucket, "hoopstat-haus-silver");
    let gold = &t["Resources"]["GoldAnalyticsFunction"]["Properties"]["Environment"]["Variables"];
    let inputs =
        pipewright_stage::StageInputs::from_lookup(|k| gold.get(k).and_then(Value::as_str).map(str::to_string))
            .expect("gold's inputs parse");
    assert_eq!(
        inputs.get("team_stats").expect("silver's team_stats feed gold").key,
        "silver/team_stats/season={season}/date={date}/data.parquet"
    );
    assert!(inputs.get("player_stats").is_some());
    let f = &t["Resources"]["SilverProcessingFunction"]["Properties"];
    assert_eq!(f["Runtime"], "provided.al2023");
    assert_eq!(f["Architectures"], serde_json::json!(["arm64"]));
    assert_eq!(f["Timeout"], 300);
    assert_eq!(f["Code"]["S3Bucket"]["Ref"], "ArtifactBucket");
}

#[test]
fn local_stages_get_a_crontab_and_lambda_schedules_a_scheduler() {
    let crontab = std::fs::read_to_string("generated/hoopstat-haus/bronze-ingestion.crontab").expect("crontab");
    assert!(crontab.contains("CRON_TZ=America/New_York\n30 4 * * * bronze-ingestion\n"), "{crontab}");
    assert!(
        crontab
            .contains("PIPEWRIGHT_OUTPUTS=box_scores=s3://hoopstat-haus-bronze/raw/box_scores/date={date}/data.json\n"),
        "the local run gets the same env contract: {crontab}"
    );
    let loaded = pipewright::check::diagnose(Source::read(Path::new("specs/minimal.yaml")).expect("spec"));
    let t = pipewright::cfn::template(&loaded.pipeline.expect("parsed"), "specs/minimal.yaml").to_value();
    let s = &t["Resources"]["ExportSchedule"]["Properties"];
    assert_eq!(s["ScheduleExpression"], "cron(0 6 * * ? *)");
    assert_eq!(s["ScheduleExpressionTimezone"], "Europe/Berlin");
    assert_eq!(s["Target"]["Arn"]["Fn::GetAtt"][0], "ExportFunction");
}

#[test]
fn schema_describes_the_spec() {
    let (exit, out, _) = cli(&["schema"]);
    assert_eq!(exit, Exit::Clean);
    let schema: Value = serde_json::from_str(&out).expect("json");
    assert!(schema["properties"]["stages"].is_object());
    assert!(schema["required"].as_array().expect("required").iter().any(|v| v == "project"));
    assert_eq!(out, std::fs::read_to_string("generated/pipewright.schema.json").expect("committed schema"));
}

#[test]
fn completions_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let (exit, out, _) = cli(&["completions", shell]);
        assert_eq!(exit, Exit::Clean);
        assert!(out.contains("generate") && out.contains("check"), "{shell}");
    }
}

/// The `pipewright` binary, run in `dir` without `PIPEWRIGHT_SPEC`.
fn binary_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipewright"))
        .args(args)
        .current_dir(dir)
        .env_remove("PIPEWRIGHT_SPEC")
        .env_remove("PIPEWRIGHT_OUT")
        .output()
        .expect("pipewright runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// Every file under `dir`, by path relative to it.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, String> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under dir").display().to_string();
                files.insert(rel, std::fs::read_to_string(&path).expect("utf8 file"));
            }
        }
    }
    files
}

#[test]
fn generated_files_do_not_depend_on_how_the_spec_path_is_spelled_or_where_generate_runs() {
    let root = std::path::absolute(".").expect("cwd");
    let absolute = root.join("specs/hoopstat-haus.yaml");
    let absolute = absolute.to_str().expect("utf8");
    let spellings: [(&Path, &str); 4] = [
        (&root, "specs/hoopstat-haus.yaml"),
        (&root, "./specs/hoopstat-haus.yaml"),
        (&root, absolute),
        (&root.join("specs"), "hoopstat-haus.yaml"),
    ];
    let mut trees = Vec::new();
    for (cwd, spec) in spellings {
        let out = tempfile::tempdir().expect("tempdir");
        let (code, _, err) = binary_in(cwd, &["generate", spec, "--out", out.path().to_str().expect("utf8")]);
        assert_eq!(code, 0, "{spec} from {}: {err}", cwd.display());
        let files = tree(out.path());
        for (name, text) in &files {
            for local in [root.to_str().expect("utf8"), out.path().to_str().expect("utf8")] {
                assert!(!text.contains(local), "{name} records the local path `{local}` (spec spelled {spec})");
            }
        }
        trees.push(files);
    }
    assert!(trees[0].contains_key("hoopstat-haus/template.yaml"));
    assert!(trees[0]["hoopstat-haus/template.yaml"].contains("from specs/hoopstat-haus.yaml"));
    for t in &trees[1..] {
        assert_eq!(t, &trees[0], "byte-identical output for every spelling");
    }
    // ... and what is committed is the same output.
    assert_eq!(
        trees[0]["hoopstat-haus/template.yaml"],
        std::fs::read_to_string("generated/hoopstat-haus/template.yaml").expect("committed")
    );
}

#[test]
fn without_spec_argument_commands_use_pipewright_yaml_or_refuse() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Someone else's broken spec under another name is never replaced by an example.
    std::fs::write(dir.path().join("my-pipeline.yaml"), "project: [\n").expect("write");
    for command in ["check", "generate", "docs", "graph", "verify", "status"] {
        let (code, out, err) = binary_in(dir.path(), &[command]);
        assert_eq!(code, 2, "{command}: {out}{err}");
        assert!(
            err.contains("no spec: pass SPEC, set PIPEWRIGHT_SPEC or create pipewright.yaml (`pipewright new`)"),
            "{command}: {err}"
        );
    }
    assert!(!dir.path().join("generated").exists(), "nothing generated");
    std::fs::copy("specs/minimal.yaml", dir.path().join("pipewright.yaml")).expect("copy");
    let (code, out, err) = binary_in(dir.path(), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("pipewright.yaml"), "{out}");
    let (code, _, err) = binary_in(dir.path(), &["generate"]);
    assert_eq!(code, 0, "{err}");
    let template = std::fs::read_to_string(dir.path().join("generated/pipewright/template.yaml")).expect("generated");
    assert!(template.starts_with("# Generated by pipewright from pipewright.yaml"), "{template}");
}

/// The checks checkov skips are written on the resources they do not apply to, each with its reason
/// (scripts/checkov.py fails on a failed check or a skip without one): the reserved-concurrency check is
/// skipped only where the spec reserves none, and CKV_AWS_116 (a function DLQ) only for a queue-fed
/// function.
#[test]
fn checkov_skips_carry_their_reasons_and_follow_the_spec() {
    let text = std::fs::read_to_string("specs/minimal.yaml").expect("spec");
    let text = text.replace(
        "  curate:\n    trigger:",
        "  curate:\n    function:\n      reserved_concurrency: 10\n    queue:\n      max_concurrency: 4\n    trigger:",
    );
    let loaded = pipewright::check::diagnose(Source::text("specs/minimal.yaml", text));
    let t = pipewright::cfn::template(&loaded.pipeline.expect("parses"), "specs/minimal.yaml").to_value();
    let skips = |id: &str| -> Vec<(String, String)> {
        t["Resources"][id]["Metadata"]["checkov"]["skip"]
            .as_array()
            .map(|s| {
                s.iter()
                    .map(|e| (e["id"].as_str().unwrap_or("").into(), e["comment"].as_str().unwrap_or("").into()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let ids = |id: &str| skips(id).into_iter().map(|(check, _)| check).collect::<Vec<_>>();
    let reason = |id: &str, check: &str| skips(id).into_iter().find(|(c, _)| c == check).map(|(_, r)| r);
    for (id, resource) in t["Resources"].as_object().expect("resources") {
        for (check, comment) in skips(id) {
            assert!(comment.len() > 40, "{id}: {check} needs its reason: {comment:?}");
            assert_eq!(resource["Metadata"]["pipewright"]["suppressed"][&check], comment.as_str(), "{id}");
        }
    }
    assert_eq!(t["Resources"]["CurateFunction"]["Properties"]["ReservedConcurrentExecutions"], 10);
    assert_eq!(ids("CurateFunction"), ["CKV_AWS_117", "CKV_AWS_173", "CKV_AWS_116"]);
    // A scheduled function has the DLQ CKV_AWS_116 asks for: its failed runs go there.
    assert_eq!(ids("ExportFunction"), ["CKV_AWS_117", "CKV_AWS_173", "CKV_AWS_115"]);
    assert_eq!(
        t["Resources"]["ExportFunction"]["Properties"]["DeadLetterConfig"]["TargetArn"],
        serde_json::json!({"Fn::GetAtt": ["ExportDlq", "Arn"]})
    );
    assert!(
        reason("CurateFunction", "CKV_AWS_116").is_some_and(|r| r.contains("dead-letter queue after maxReceiveCount"))
    );
    assert_eq!(ids("CurateQueue"), ["CKV_AWS_27"]);
    assert_eq!(
        t["Resources"]["CurateQueue"]["Properties"]["SqsManagedSseEnabled"], true,
        "the reason of CKV_AWS_27 holds"
    );
    assert_eq!(ids("LandingBucket"), ["CKV_AWS_18"]);
    // cfn-lint's suppressions stay in their own form beside checkov's.
    assert_eq!(t["Resources"]["CurateDlq"]["Metadata"]["cfn-lint"]["config"]["ignore_checks"][0], "ES6000");
    let mapping = &t["Resources"]["CurateEventSourceMapping"]["Metadata"];
    assert_eq!(
        (mapping["cfn-lint"]["config"]["ignore_checks"][0].as_str(), mapping["checkov"].is_null()),
        (Some("ES1001"), true)
    );
}

/// Tables partitioned by the spec's `partition:` columns: the generated `AWS::S3Tables::Table` gives its
/// columns their field ids and names each partition field's source, transform and Iceberg name; a table
/// without one has neither. Checked on a pipeline of another shape than the flagship.
#[test]
fn partitioned_tables_declare_their_partition_spec() {
    let text = std::fs::read_to_string("tests/fixtures/sensor-tables.yaml").expect("fixture");
    let loaded = pipewright::check::diagnose(Source::text("tests/fixtures/sensor-tables.yaml", text.clone()));
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let p = loaded.pipeline.expect("parses");
    let t = pipewright::cfn::template(&p, "tests/fixtures/sensor-tables.yaml").to_value();
    let readings = &t["Resources"]["ReadingsTable"]["Properties"]["IcebergMetadata"];
    let ids: Vec<(&str, u64)> = readings["IcebergSchema"]["SchemaFieldList"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| (f["Name"].as_str().unwrap_or_default(), f["Id"].as_u64().unwrap_or_default()))
        .collect();
    assert_eq!(ids, [("read_at", 1), ("sensor_id", 2), ("celsius", 3)]);
    assert_eq!(
        readings["IcebergPartitionSpec"],
        serde_json::json!({"SpecId": 0, "Fields": [
            {"SourceId": 1, "Transform": "hour", "Name": "read_at_hour", "FieldId": 1000},
            {"SourceId": 2, "Transform": "bucket[8]", "Name": "sensor_id_bucket", "FieldId": 1001},
        ]})
    );
    let devices = &t["Resources"]["DevicesTable"]["Properties"]["IcebergMetadata"]["IcebergPartitionSpec"];
    assert_eq!(devices["Fields"][0]["Name"], "site_trunc");

    // The flagship's gold tables: by day of game_date.
    let flagship = flagship_template();
    for id in ["PlayerAnalyticsTable", "TeamAnalyticsTable"] {
        let spec = &flagship["Resources"][id]["Properties"]["IcebergMetadata"]["IcebergPartitionSpec"];
        assert_eq!(
            spec["Fields"],
            serde_json::json!([{"SourceId": 1, "Transform": "day", "Name": "game_date_day", "FieldId": 1000}]),
            "{id}"
        );
    }

    // Without `partition:`, no ids and no partition spec.
    let plain = text.replace(", partition: hour", "").replace(", partition: \"bucket[8]\"", "");
    let p = pipewright::check::diagnose(Source::text("plain.yaml", plain)).pipeline.expect("parses");
    let t = pipewright::cfn::template(&p, "plain.yaml").to_value();
    let readings = &t["Resources"]["ReadingsTable"]["Properties"]["IcebergMetadata"];
    assert!(readings.get("IcebergPartitionSpec").is_none());
    assert!(readings["IcebergSchema"]["SchemaFieldList"][0].get("Id").is_none());
}

/// A transform that does not exist, one with a bad width, and one that does not apply to its column's
/// type: each an error at the value, saying what is wrong.
#[test]
fn a_bad_partition_transform_is_an_error_at_its_value() {
    let text = std::fs::read_to_string("tests/fixtures/sensor-tables.yaml").expect("fixture");
    for (from, to, says) in [
        ("partition: hour", "partition: hourly", "`hourly` is not an Iceberg partition transform"),
        ("partition: \"bucket[8]\"", "partition: \"bucket[0]\"", "`bucket[0]` needs a width from 1 to 2147483647"),
        ("partition: \"truncate[3]\"", "partition: month", "`month` does not apply to a `string` column"),
    ] {
        let mutated = text.replace(from, to);
        let line = mutated.lines().position(|l| l.contains(to)).expect("mutated line") + 1;
        let loaded = pipewright::check::diagnose(Source::text("t.yaml", mutated));
        let errors: Vec<_> =
            loaded.diagnostics.iter().filter(|d| d.severity == pipewright::report::Severity::Error).collect();
        assert_eq!(errors.len(), 1, "{to}: {errors:?}");
        assert_eq!(errors[0].code, "PW004", "{to}");
        assert_eq!(errors[0].message, says);
        assert_eq!(errors[0].span.line as usize, line, "{to}");
    }
}
