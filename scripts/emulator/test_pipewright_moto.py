"""Tests of pipewright_moto.py: for each patch, moto's unpatched behaviour (so a moto upgrade that
changes it is noticed) and the patched, AWS-like behaviour; plus the end-to-end deploy.

Patched: the launcher as a subprocess (as the Rust CLI runs it). Unpatched: moto's own
ThreadedMotoServer in this process (this module never applies the patches)."""

from __future__ import annotations

import contextlib
import copy
import datetime
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zipfile
from xml.etree import ElementTree

import boto3
import cbor2
import pytest
import yaml  # installed with moto[server] (cloudformation)
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAUNCHER = os.path.join(HERE, "pipewright_moto.py")
HOOPSTAT = os.path.join(ROOT, "generated", "hoopstat-haus", "template.yaml")
MINIMAL = os.path.join(ROOT, "generated", "minimal", "template.yaml")
ACCOUNT = "123456789012"

sys.path.insert(0, HERE)
import pipewright_moto as pm  # noqa: E402  (helpers only; importing applies no patch)


@contextlib.contextmanager
def launch():
    proc = subprocess.Popen(
        [sys.executable, LAUNCHER, "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("pipewright-moto ready http://127.0.0.1:"), line
        yield line.split()[-1]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""  # exactly one line on stdout


@pytest.fixture(scope="module")
def patched():
    with launch() as url:
        yield url


@pytest.fixture(scope="module")
def plain():
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def client(url: str, service: str):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def queue(url: str, name: str, **attrs) -> tuple[str, str]:
    sqs = client(url, "sqs")
    q = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attrs.items()})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return q, arn


def s3_policy(queue_arn: str, bucket: str, effect: str = "Allow") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": effect,
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {
                        "ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                        "StringEquals": {"aws:SourceAccount": ACCOUNT},
                    },
                }
            ],
        }
    )


def notify(url: str, bucket: str, queue_arn: str, prefix: str | None = None) -> None:
    cfg = {"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}
    if prefix:
        cfg["Filter"] = {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}}
    client(url, "s3").put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [cfg]}
    )


def bodies(url: str, q: str, wait: int = 0) -> list[dict]:
    msgs = client(url, "sqs").receive_message(QueueUrl=q, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get("Messages", [])
    return [json.loads(m["Body"]) for m in msgs]


def bucket_with_queue(url: str, name: str, policy: bool = True) -> tuple[str, str]:
    client(url, "s3").create_bucket(Bucket=name)
    q, arn = queue(url, f"{name}-q")
    if policy:
        client(url, "sqs").set_queue_attributes(QueueUrl=q, Attributes={"Policy": s3_policy(arn, name)})
    return q, arn


# ------------------------------------------------------------------------------------ launcher


def test_launcher_refuses_other_hosts_and_versions(monkeypatch):
    r = subprocess.run([sys.executable, LAUNCHER, "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "only 127.0.0.1" in r.stderr and r.stdout == ""
    import moto

    assert pm.check_moto_version() is None
    monkeypatch.setattr(moto, "__version__", "5.2.2")
    assert "5.2.1" in pm.check_moto_version()


# ------------------------------------------------------------- patch 1: CloudFormation resources

SMALL = {
    "Resources": {
        "Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "cfn-small-q"}},
        "QP": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {"Queues": [{"Ref": "Q"}], "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": "*"}]}},
        },
        "A": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {"AlarmName": "cfn-small-alarm", "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible", "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold"},
        },
        "B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "cfn-small-b", "VersioningConfiguration": {"Status": "Enabled"}}},
    }
}


def test_unpatched_cloudformation_skips_resources(plain):
    client(plain, "cloudformation").create_stack(StackName="small", TemplateBody=json.dumps(SMALL))
    sqs = client(plain, "sqs")
    q = sqs.get_queue_url(QueueName="cfn-small-q")["QueueUrl"]
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["Policy"]).get("Attributes", {})
    assert client(plain, "cloudwatch").describe_alarms(AlarmNames=["cfn-small-alarm"])["MetricAlarms"] == []
    assert "Status" not in client(plain, "s3").get_bucket_versioning(Bucket="cfn-small-b")


def deploy_change_set(cfn, name: str, body: str, params: list[dict], kind: str, cs: str) -> None:
    cfn.create_change_set(StackName=name, ChangeSetName=cs, TemplateBody=body, Parameters=params, ChangeSetType=kind, Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.execute_change_set(StackName=name, ChangeSetName=cs)
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == f"{kind}_COMPLETE"


HOOPSTAT_PARAMS = [
    {"ParameterKey": "ArtifactBucket", "ParameterValue": "hoopstat-haus-artifacts"},
    {"ParameterKey": "SilverProcessingArtifactKey", "ParameterValue": "silver-processing/bootstrap.zip"},
    {"ParameterKey": "GoldAnalyticsArtifactKey", "ParameterValue": "gold-analytics/bootstrap.zip"},
    {"ParameterKey": "AlertEmail", "ParameterValue": "ops@example.com"},
]


def test_patched_cloudformation_deploys_updates_and_deletes_hoopstat():
    with launch() as url:
        cfn, s3, sqs = client(url, "cloudformation"), client(url, "s3"), client(url, "sqs")
        lam, cw = client(url, "lambda"), client(url, "cloudwatch")
        s3.create_bucket(Bucket="hoopstat-haus-artifacts")
        body = open(HOOPSTAT).read()
        deploy_change_set(cfn, "hoopstat", body, HOOPSTAT_PARAMS, "CREATE", "create")
        template = yaml.safe_load(body)

        # every resource of the template exists with a physical id, the e-mail subscription too
        summaries = {r["LogicalResourceId"]: r for r in cfn.list_stack_resources(StackName="hoopstat")["StackResourceSummaries"]}
        for logical in template["Resources"]:
            assert summaries[logical].get("PhysicalResourceId"), logical
        topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:hoopstat-haus-alerts"
        subs = client(url, "sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "ops@example.com")]
        assert summaries["AlertEmailSubscription"]["PhysicalResourceId"] == subs[0]["SubscriptionArn"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="hoopstat")["Stacks"][0]["Outputs"]}
        assert outputs["TableBucketArn"] == f"arn:aws:s3tables:us-east-1:{ACCOUNT}:bucket/hoopstat-haus-gold-tables"
        assert outputs["PlayerAnalyticsTableArn"].endswith("/table/player_analytics")

        # queue policies, bucket properties, notification, function logging, alarms, tables
        q = sqs.get_queue_url(QueueName="hoopstat-haus-silver-processing-queue")["QueueUrl"]
        policy = json.loads(sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["Policy"])["Attributes"]["Policy"])
        assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == "arn:aws:s3:::hoopstat-haus-bronze"
        assert s3.get_bucket_versioning(Bucket="hoopstat-haus-bronze")["Status"] == "Enabled"
        assert all(s3.get_public_access_block(Bucket="hoopstat-haus-bronze")["PublicAccessBlockConfiguration"].values())
        rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket="hoopstat-haus-bronze")["Rules"]}
        assert rules["current-versions"]["Expiration"]["Days"] == 730
        assert rules["current-versions"]["Transitions"] == [{"Days": 30, "StorageClass": "INTELLIGENT_TIERING"}]
        assert rules["abort-incomplete-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7
        assert s3.get_bucket_ownership_controls(Bucket="hoopstat-haus-silver")["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        assert json.loads(s3.get_bucket_policy(Bucket="hoopstat-haus-bronze")["Policy"])["Statement"][0]["Sid"] == "DenyInsecureTransport"
        nc = s3.get_bucket_notification_configuration(Bucket="hoopstat-haus-bronze")["QueueConfigurations"]
        assert nc[0]["QueueArn"].endswith(":hoopstat-haus-silver-processing-queue")
        assert nc[0]["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "raw/box_scores/date%3D"}, {"Name": "suffix", "Value": "/data.json"}]
        fn = lam.get_function_configuration(FunctionName="hoopstat-haus-silver-processing")
        assert fn["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN", "LogGroup": "/aws/lambda/hoopstat-haus-silver-processing"}
        assert fn["Architectures"] == ["arm64"] and fn["TracingConfig"] == {"Mode": "Active"}
        alarms = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNamePrefix="hoopstat-haus-")["MetricAlarms"]}
        assert len(alarms) == 12
        failed = alarms["hoopstat-haus-gold-analytics-failed-records"]
        assert (failed["Namespace"], failed["MetricName"], failed["Period"]) == ("pipewright", "FailedRecords", 60)
        duration = alarms["hoopstat-haus-silver-processing-duration"]
        assert duration["Threshold"] == 250000 and duration["Dimensions"] == [{"Name": "FunctionName", "Value": "hoopstat-haus-silver-processing"}]
        assert duration["AlarmActions"] == [outputs["AlertTopicArn"]] == duration["OKActions"]
        tables = client(url, "s3tables").list_tables(tableBucketARN=outputs["TableBucketArn"], namespace="basketball_analytics")["tables"]
        assert sorted(t["name"] for t in tables) == ["player_analytics", "team_analytics"]
        # declared with IcebergMetadata: created with a first metadata file (schema, no snapshot), as on AWS
        s3t = client(url, "s3tables")
        got = s3t.get_table(tableBucketARN=outputs["TableBucketArn"], namespace="basketball_analytics", name="player_analytics")
        bucket, key = got["metadataLocation"].removeprefix("s3://").split("/", 1)
        assert got["metadataLocation"].startswith(got["warehouseLocation"] + "/metadata/")
        meta = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert meta["format-version"] == 2 and meta["snapshots"] == [] and meta["location"] == got["warehouseLocation"]
        declared = template["Resources"]["PlayerAnalyticsTable"]["Properties"]["IcebergMetadata"]["IcebergSchema"]["SchemaFieldList"]
        assert [(f["id"], f["name"], f["type"], f["required"]) for f in meta["schemas"][0]["fields"]] == [
            (i, f["Name"], f["Type"], f["Required"]) for i, f in enumerate(declared, start=1)
        ]
        # the declared partition spec (day of game_date), field ids as declared
        partition = template["Resources"]["PlayerAnalyticsTable"]["Properties"]["IcebergMetadata"]["IcebergPartitionSpec"]
        assert meta["default-spec-id"] == partition["SpecId"] == 0
        assert meta["partition-specs"] == [{"spec-id": 0, "fields": [
            {"name": f["Name"], "transform": f["Transform"], "source-id": f["SourceId"], "field-id": f["FieldId"]}
            for f in partition["Fields"]]}]
        assert meta["partition-specs"][0]["fields"][0]["transform"] == "day" and meta["last-partition-id"] == 1000

        # update: visibility timeout, alarm threshold, notification filter
        changed = copy.deepcopy(template)
        changed["Resources"]["SilverProcessingQueue"]["Properties"]["VisibilityTimeout"] = 1900
        changed["Resources"]["SilverProcessingQueueDepthAlarm"]["Properties"]["Threshold"] = 75
        changed["Resources"]["BronzeBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"][0]["Filter"]["S3Key"]["Rules"][0]["Value"] = "raw/box_scores/season%3D"
        deploy_change_set(cfn, "hoopstat", json.dumps(changed), HOOPSTAT_PARAMS, "UPDATE", "update")
        assert sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["VisibilityTimeout"])["Attributes"]["VisibilityTimeout"] == "1900"
        assert "Policy" in sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["Policy"])["Attributes"]
        assert cw.describe_alarms(AlarmNames=["hoopstat-haus-silver-processing-queue-depth"])["MetricAlarms"][0]["Threshold"] == 75
        nc = s3.get_bucket_notification_configuration(Bucket="hoopstat-haus-bronze")["QueueConfigurations"]
        assert nc[0]["Filter"]["Key"]["FilterRules"][0]["Value"] == "raw/box_scores/season%3D"

        # delete: everything goes except the resources with DeletionPolicy Retain
        cfn.delete_stack(StackName="hoopstat")
        assert cw.describe_alarms(AlarmNamePrefix="hoopstat-haus-")["MetricAlarms"] == []
        assert sqs.list_queues(QueueNamePrefix="hoopstat-haus").get("QueueUrls", []) == []
        assert lam.list_functions()["Functions"] == []
        assert {"hoopstat-haus-bronze", "hoopstat-haus-silver"} <= {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert client(url, "s3tables").get_table_bucket(tableBucketARN=outputs["TableBucketArn"])["name"] == "hoopstat-haus-gold-tables"

        # the minimal spec deploys too (schedule, alarms, queue policies)
        s3.create_bucket(Bucket="acme-orders-artifacts")
        mparams = [{"ParameterKey": p["ParameterKey"], "ParameterValue": p["ParameterValue"]} for p in json.load(open(os.path.join(ROOT, "generated", "minimal", "parameters.json")))]
        deploy_change_set(cfn, "minimal", open(MINIMAL).read(), mparams, "CREATE", "create")
        sched = client(url, "scheduler").get_schedule(Name="acme-orders-export-schedule")
        assert sched["ScheduleExpression"] == "cron(0 6 * * ? *)" and sched["ScheduleExpressionTimezone"] == "Europe/Berlin"
        assert sched["Target"]["Arn"].endswith(":function:acme-orders-export")
        # the scheduled run's input and DLQ, and the function's DLQ of failed asynchronous runs
        assert json.loads(sched["Target"]["Input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}
        assert sched["Target"]["DeadLetterConfig"]["Arn"].endswith(":acme-orders-export-dlq")
        export = client(url, "lambda").get_function_configuration(FunctionName="acme-orders-export")
        assert export["DeadLetterConfig"]["TargetArn"].endswith(":acme-orders-export-dlq")


def managed_policy_stack(url: str, name: str) -> list[str]:
    t = {
        "Resources": {
            "P": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"ManagedPolicyName": f"{name}-p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}},
            "R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": f"{name}-r", "AssumeRolePolicyDocument": {}, "ManagedPolicyArns": [{"Ref": "P"}]}},
        }
    }
    client(url, "cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(t), Capabilities=["CAPABILITY_NAMED_IAM"])
    return [p["PolicyName"] for p in client(url, "iam").list_attached_role_policies(RoleName=f"{name}-r")["AttachedPolicies"]]


def test_unpatched_role_managed_policy_arns_ignored(plain):
    assert managed_policy_stack(plain, "mpa-plain") == []


def test_patched_role_managed_policy_arns_attached(patched):
    assert managed_policy_stack(patched, "mpa") == ["mpa-p"]


# ------------------------------------------------------------ patch 2: inert event source mappings


def esm_setup(url: str, name: str, enabled: bool = True) -> tuple[str, str, str]:
    sqs, lam, iam = client(url, "sqs"), client(url, "lambda"), client(url, "iam")
    dlq, dlq_arn = queue(url, f"{name}-dlq")
    q, arn = queue(url, name, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    lam.create_function(FunctionName=f"{name}-fn", Runtime="provided.al2023", Role=role, Handler="bootstrap", Code={"ZipFile": buf.getvalue()})
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=f"{name}-fn", BatchSize=1, Enabled=enabled)["UUID"]
    sqs.send_message(QueueUrl=q, MessageBody="hello")
    return q, dlq, uuid


def test_unpatched_mapping_consumes_into_dlq(plain):
    q, dlq, _ = esm_setup(plain, "esm-plain")
    sqs = client(plain, "sqs")
    # moto received the message itself (invoke fails without Docker): our receive finds it at
    # maxReceiveCount and moto moves it to the DLQ
    assert sqs.receive_message(QueueUrl=q).get("Messages", []) == []
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] == "1"


def test_patched_mapping_is_inert(patched):
    q, dlq, uuid = esm_setup(patched, "esm-on")
    sqs, lam = client(patched, "sqs"), client(patched, "lambda")
    msgs = sqs.receive_message(QueueUrl=q, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert [m["Body"] for m in msgs] == ["hello"] and msgs[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    _, _, off = esm_setup(patched, "esm-off", enabled=False)
    assert lam.get_event_source_mapping(UUID=off)["State"] == "Disabled"
    lam.update_event_source_mapping(UUID=off, Enabled=True)
    assert lam.get_event_source_mapping(UUID=off)["State"] == "Enabled"


# ------------------------------------------------------------------- patch 3: message move tasks


def test_unpatched_message_move_task_is_500(plain):
    _, dlq_arn = queue(plain, "move-plain-dlq")
    with pytest.raises(ClientError) as e:
        client(plain, "sqs").start_message_move_task(SourceArn=dlq_arn)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def dead_letters(url: str, name: str, n: int) -> tuple[str, str, str, str]:
    sqs = client(url, "sqs")
    dlq, dlq_arn = queue(url, f"{name}-dlq")
    q, arn = queue(url, name, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
    for i in range(n):
        sqs.send_message(QueueUrl=q, MessageBody=f"m{i}")
    sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert sqs.receive_message(QueueUrl=q).get("Messages", []) == []  # all moved to the DLQ
    assert sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] == str(n)
    return q, arn, dlq, dlq_arn


def wait_status(sqs, arn: str, status: str) -> dict:
    for _ in range(100):
        r = sqs.list_message_move_tasks(SourceArn=arn)["Results"][0]
        if r["Status"] == status:
            return r
        time.sleep(0.05)
    raise AssertionError(r)


def test_patched_message_move_tasks(patched):
    sqs = client(patched, "sqs")
    q, arn, dlq, dlq_arn = dead_letters(patched, "move", 3)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert json.loads(__import__("base64").b64decode(handle))["sourceArn"] == dlq_arn
    done = wait_status(sqs, dlq_arn, "COMPLETED")
    assert done["ApproximateNumberOfMessagesMoved"] == 3 and done["ApproximateNumberOfMessagesToMove"] == 3
    assert "TaskHandle" not in done and done["SourceArn"] == dlq_arn
    msgs = sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert sorted(m["Body"] for m in msgs) == ["m0", "m1", "m2"]
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in msgs} == {"1"}

    # a queue that is no DLQ is refused; an explicit destination; cancel a slow task
    with pytest.raises(ClientError) as e:
        sqs.start_message_move_task(SourceArn=arn)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    _, _, _, dlq2_arn = dead_letters(patched, "move2", 4)
    other, other_arn = queue(patched, "move2-other")
    handle = sqs.start_message_move_task(SourceArn=dlq2_arn, DestinationArn=other_arn, MaxNumberOfMessagesPerSecond=2)["TaskHandle"]
    running = sqs.list_message_move_tasks(SourceArn=dlq2_arn, MaxResults=10)["Results"][0]
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle and running["DestinationArn"] == other_arn
    assert sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"] < 4
    cancelled = wait_status(sqs, dlq2_arn, "CANCELLED")
    assert cancelled["ApproximateNumberOfMessagesMoved"] < 4

    # the query protocol (form-encoded, XML answer) works too
    data = urllib.parse.urlencode({"Action": "ListMessageMoveTasks", "Version": "2012-11-05", "SourceArn": dlq_arn, "MaxResults": "10"}).encode()
    req = urllib.request.Request(patched + "/", data=data, headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=x"})
    xml = urllib.request.urlopen(req, timeout=10).read().decode()
    assert "<ListMessageMoveTasksResponse" in xml and "<Status>COMPLETED</Status>" in xml


# -------------------------------------------------- patches 4, 5, 6: S3 notifications to SQS

KEY = "raw/box_scores/date=2024-01-15/data.json"


def test_unpatched_s3_event_format(plain):
    q, arn = bucket_with_queue(plain, "fmt-plain")
    notify(plain, "fmt-plain", arn)
    client(plain, "s3").put_object(Bucket="fmt-plain", Key="a b/c+d.json", Body=b"{}")
    rec = bodies(plain, q)[-1]["Records"][0]
    assert rec["s3"]["object"]["key"] == "a+b%2Fc%2Bd.json"
    assert not rec["eventTime"].endswith("Z")
    assert "userIdentity" not in rec and "requestParameters" not in rec and "responseElements" not in rec
    assert "sequencer" not in rec["s3"]["object"]


def test_patched_s3_event_format(patched):
    q, arn = bucket_with_queue(patched, "fmt")
    notify(patched, "fmt", arn)
    client(patched, "s3").put_object(Bucket="fmt", Key="a b/c+d=e.json", Body=b"{}")
    client(patched, "s3").put_object(Bucket="fmt", Key="a b/second.json", Body=b"{}")
    test_event, first, second = bodies(patched, q)
    assert test_event["Event"] == "s3:TestEvent" and test_event["Time"].endswith("Z")
    rec = first["Records"][0]
    assert rec["eventVersion"] == "2.1" and rec["eventName"] == "ObjectCreated:Put"
    assert time.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert rec["userIdentity"]["principalId"] and rec["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert set(rec["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    obj = rec["s3"]["object"]
    assert obj["key"] == "a+b/c%2Bd%3De.json"
    assert urllib.parse.unquote_plus(obj["key"]) == "a b/c+d=e.json"
    assert obj["size"] == 2 and obj["eTag"] == "99914b932bd37a50b983c5e7c90ae93b"
    assert rec["s3"]["configurationId"] and rec["s3"]["bucket"]["arn"] == "arn:aws:s3:::fmt"
    assert second["Records"][0]["s3"]["object"]["sequencer"] > obj["sequencer"]


def test_unpatched_filter_matches_raw_key(plain):
    q, arn = bucket_with_queue(plain, "filter-plain")
    notify(plain, "filter-plain", arn, prefix="raw/box_scores/date%3D")
    client(plain, "s3").put_object(Bucket="filter-plain", Key=KEY, Body=b"{}")
    assert [b.get("Event") for b in bodies(plain, q)] == ["s3:TestEvent"]  # nothing delivered
    notify(plain, "filter-plain", arn, prefix="raw/box_scores/date=")
    client(plain, "s3").put_object(Bucket="filter-plain", Key=KEY, Body=b"{}")
    assert "Records" in bodies(plain, q)[-1]


def test_patched_filter_matches_encoded_key(patched):
    q, arn = bucket_with_queue(patched, "filter")
    notify(patched, "filter", arn, prefix="raw/box_scores/date=")
    client(patched, "s3").put_object(Bucket="filter", Key=KEY, Body=b"{}")
    assert [b.get("Event") for b in bodies(patched, q)] == ["s3:TestEvent"]  # as on AWS: never matches
    notify(patched, "filter", arn, prefix="raw/box_scores/date%3D")
    client(patched, "s3").put_object(Bucket="filter", Key=KEY, Body=b"{}")
    got = bodies(patched, q)
    assert got[-1]["Records"][0]["s3"]["object"]["key"] == "raw/box_scores/date%3D2024-01-15/data.json"


def test_unpatched_notification_destination_not_validated(plain):
    q, arn = bucket_with_queue(plain, "val-plain", policy=False)
    notify(plain, "val-plain", arn)  # accepted although the queue has no policy
    assert bodies(plain, q)[0]["Event"] == "s3:TestEvent"


def test_patched_notification_destination_validated(patched):
    sqs = client(patched, "sqs")
    q, arn = bucket_with_queue(patched, "val", policy=False)
    for policy in (None, s3_policy(arn, "other-bucket"), json.dumps({"Statement": [json.loads(s3_policy(arn, "val"))["Statement"][0], {**json.loads(s3_policy(arn, "val", "Deny"))["Statement"][0]}]})):
        if policy:
            sqs.set_queue_attributes(QueueUrl=q, Attributes={"Policy": policy})
        with pytest.raises(ClientError) as e:
            notify(patched, "val", arn)
        err = e.value.response["Error"]
        assert err["Code"] == "InvalidArgument" and err["Message"] == "Unable to validate the following destination configurations"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert bodies(patched, q) == []  # no test event for a rejected configuration
    sqs.set_queue_attributes(QueueUrl=q, Attributes={"Policy": s3_policy(arn, "val")})
    notify(patched, "val", arn)
    assert bodies(patched, q)[0]["Event"] == "s3:TestEvent"
    with pytest.raises(ClientError):  # a queue that does not exist
        notify(patched, "val", arn.replace(":val-q", ":missing-q"))


# --------------------------------------------------------------------------------- end to end


def test_end_to_end_hoopstat_delivers_aws_event():
    with launch() as url:
        cfn, s3, sqs = client(url, "cloudformation"), client(url, "s3"), client(url, "sqs")
        s3.create_bucket(Bucket="hoopstat-haus-artifacts")
        deploy_change_set(cfn, "hoopstat", open(HOOPSTAT).read(), HOOPSTAT_PARAMS, "CREATE", "create")
        s3.put_object(Bucket="hoopstat-haus-bronze", Key=KEY, Body=b'{"date": "2024-01-15", "games": []}')
        q = sqs.get_queue_url(QueueName="hoopstat-haus-silver-processing-queue")["QueueUrl"]
        got = bodies(url, q, wait=1)
        assert [b.get("Event") for b in got[:1]] == ["s3:TestEvent"] and len(got) == 2
        rec = got[1]["Records"][0]
        assert rec["eventVersion"] == "2.1" and rec["eventTime"].endswith("Z") and rec["eventName"] == "ObjectCreated:Put"
        assert rec["s3"]["bucket"]["name"] == "hoopstat-haus-bronze"
        assert rec["s3"]["object"]["key"] == "raw/box_scores/date%3D2024-01-15/data.json"
        assert rec["s3"]["object"]["versionId"] and rec["s3"]["object"]["sequencer"]
        assert {"userIdentity", "requestParameters", "responseElements"} <= set(rec)


# ------------------------------------------------------------------------ patch 7: S3 XML roots

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def s3_get(url: str, bucket: str, sub: str) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(f"{url}/{bucket}?{sub}" if sub else f"{url}/{bucket}", method="HEAD" if sub is None else "GET")
    try:
        r = urllib.request.urlopen(req, timeout=10)
        return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def xml_root(body: bytes) -> str:
    return ElementTree.fromstring(body).tag


def test_unpatched_eventbridge_configuration_not_read(plain):
    s3 = client(plain, "s3")
    s3.create_bucket(Bucket="eb-plain")
    s3.put_bucket_notification_configuration(Bucket="eb-plain", NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket="eb-plain")


def test_patched_eventbridge_configuration_read_and_events_delivered(patched):
    s3, events, sqs = client(patched, "s3"), client(patched, "events"), client(patched, "sqs")
    s3.create_bucket(Bucket="eb-src")
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket="eb-src")
    q, arn = bucket_with_queue(patched, "eb-target")
    s3.put_bucket_notification_configuration(Bucket="eb-src", NotificationConfiguration={"EventBridgeConfiguration": {}})
    assert s3.get_bucket_notification_configuration(Bucket="eb-src")["EventBridgeConfiguration"] == {}
    # A queue notification beside it is still reported.
    notify(patched, "eb-target", arn, prefix="raw/")
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket="eb-target")
    # A rule with a key wildcard delivers matching objects only, in EventBridge's shape.
    pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"],
               "detail": {"bucket": {"name": ["eb-src"]}, "object": {"key": [{"wildcard": "in/*/x=*.json"}]}}}
    events.put_rule(Name="eb-rule", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="eb-rule", Targets=[{"Id": "q", "Arn": arn}])
    bodies(patched, q)  # the queue notification's test event
    for key in ("in/a/x=1.json", "in/a/y.json"):
        s3.put_object(Bucket="eb-src", Key=key, Body=b"{}")
    got = bodies(patched, q, wait=1)
    assert [(b["detail-type"], b["detail"]["object"]["key"]) for b in got] == [("Object Created", "in/a/x=1.json")]


def test_unpatched_s3_xml_roots(plain):
    client(plain, "s3").create_bucket(Bucket="roots-plain")
    assert xml_root(s3_get(plain, "roots-plain", "versioning")[2]) == f"{S3_NS}GetBucketVersioningResponse"
    assert xml_root(s3_get(plain, "roots-plain", "notification")[2]) == f"{S3_NS}GetBucketNotificationResponse"
    assert xml_root(s3_get(plain, "roots-plain", "accelerate")[2]) == f"{S3_NS}GetBucketAccelerateConfigurationResponse"


def test_patched_s3_xml_roots(patched):
    s3 = client(patched, "s3")
    s3.create_bucket(Bucket="roots")
    # never configured: the AWS roots, without content (versioning: no Status element)
    status, _, body = s3_get(patched, "roots", "versioning")
    root = ElementTree.fromstring(body)
    assert status == 200 and root.tag == f"{S3_NS}VersioningConfiguration" and list(root) == []
    assert xml_root(s3_get(patched, "roots", "notification")[2]) == f"{S3_NS}NotificationConfiguration"
    assert xml_root(s3_get(patched, "roots", "accelerate")[2]) == f"{S3_NS}AccelerateConfiguration"
    assert "Status" not in s3.get_bucket_versioning(Bucket="roots")
    for sub, code in (("encryption", "ServerSideEncryptionConfigurationNotFoundError"), ("publicAccessBlock", "NoSuchPublicAccessBlockConfiguration"), ("policy", "NoSuchBucketPolicy"), ("lifecycle", "NoSuchLifecycleConfiguration")):
        status, _, body = s3_get(patched, "roots", sub)
        assert status == 404 and ElementTree.fromstring(body).find("Code").text == code

    # configured: every bucket GET pipewright verify uses has AWS's root
    q, arn = bucket_with_queue(patched, "roots")
    notify(patched, "roots", arn, prefix="raw/")
    s3.put_bucket_versioning(Bucket="roots", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket="roots", ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    s3.put_public_access_block(Bucket="roots", PublicAccessBlockConfiguration={k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")})
    s3.put_bucket_policy(Bucket="roots", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::roots"}]}))
    s3.put_bucket_lifecycle_configuration(Bucket="roots", LifecycleConfiguration={"Rules": [{"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}}]})
    status, _, body = s3_get(patched, "roots", "versioning")
    assert body.endswith(b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>')
    assert s3.get_bucket_versioning(Bucket="roots")["Status"] == "Enabled"
    roots = {
        "notification": "NotificationConfiguration",
        "encryption": "ServerSideEncryptionConfiguration",
        "publicAccessBlock": "PublicAccessBlockConfiguration",
        "lifecycle": "LifecycleConfiguration",
    }
    for sub, root in roots.items():
        status, _, body = s3_get(patched, "roots", sub)
        assert status == 200 and xml_root(body) == f"{S3_NS}{root}", (sub, body)
    nc = ElementTree.fromstring(s3_get(patched, "roots", "notification")[2])
    assert nc.find(f"{S3_NS}QueueConfiguration/{S3_NS}Queue").text == arn
    status, _, body = s3_get(patched, "roots", "policy")  # a JSON document, no XML
    assert status == 200 and json.loads(body)["Statement"][0]["Effect"] == "Deny"
    status, headers, body = s3_get(patched, "roots", None)  # HeadBucket: headers only
    assert status == 200 and body == b"" and headers["x-amz-bucket-region"] == "us-east-1"
    assert s3_get(patched, "roots-missing", None)[0] == 404


# -------------------------------------------------------------- patch 8: CloudWatch RPC v2 CBOR

CW_AUTH = "AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=x"


def cw_cbor(url: str, operation: str, params: dict) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(
        f"{url}/service/GraniteServiceVersion20100801/operation/{operation}",
        data=cbor2.dumps(params, datetime_as_timestamp=True),
        method="POST",
        headers={"Content-Type": "application/cbor", "Accept": "application/cbor", "smithy-protocol": "rpc-v2-cbor", "Authorization": CW_AUTH},
    )
    try:
        r = urllib.request.urlopen(req, timeout=10)
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def cbor_follows(raw: bytes, key: str) -> int:
    """The first byte of the CBOR item after the text-string key `key` in `raw`."""
    return raw[raw.index(key.encode()) + len(key)]


ALARM = {
    "AlarmName": "cbor-depth",
    "Namespace": "AWS/SQS",
    "MetricName": "ApproximateNumberOfMessagesVisible",
    "Dimensions": [{"Name": "QueueName", "Value": "q"}],
    "Statistic": "Maximum",
    "Period": 60,
    "EvaluationPeriods": 1,
    "Threshold": 75.0,
    "ComparisonOperator": "GreaterThanThreshold",
    "AlarmActions": [f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"],
}


def test_unpatched_cloudwatch_cbor_is_404(plain):
    status, headers, _ = cw_cbor(plain, "DescribeAlarms", {})
    assert status == 404 and headers.get("smithy-protocol") is None


def test_patched_cloudwatch_cbor(patched):
    status, headers, body = cw_cbor(patched, "PutMetricAlarm", ALARM)
    assert (status, body) == (200, b"") and headers["smithy-protocol"] == "rpc-v2-cbor" and headers["content-type"] == "application/cbor"
    status, headers, raw = cw_cbor(patched, "DescribeAlarms", {"AlarmNames": ["cbor-depth"]})
    assert status == 200 and headers["smithy-protocol"] == "rpc-v2-cbor" and headers["content-type"] == "application/cbor"
    out = cbor2.loads(raw)
    assert out["CompositeAlarms"] == [] and len(out["MetricAlarms"]) == 1
    alarm = out["MetricAlarms"][0]
    assert {k: alarm[k] for k in ALARM} == ALARM
    assert type(alarm["Threshold"]) is float and type(alarm["Period"]) is int
    assert cbor_follows(raw, "Threshold") == 0xFB  # an 8-byte float, never an integer
    assert cbor_follows(raw, "StateUpdatedTimestamp") == 0xC1  # tag 1: epoch seconds
    assert isinstance(alarm["StateUpdatedTimestamp"], datetime.datetime) and alarm["StateValue"] == "OK"
    # the query/JSON protocols (boto3) see the same alarm
    assert client(patched, "cloudwatch").describe_alarms(AlarmNames=["cbor-depth"])["MetricAlarms"][0]["Threshold"] == 75.0

    assert cw_cbor(patched, "SetAlarmState", {"AlarmName": "cbor-depth", "StateValue": "ALARM", "StateReason": "test"})[:1] == (200,)
    assert cbor2.loads(cw_cbor(patched, "DescribeAlarms", {"AlarmNamePrefix": "cbor-"})[2])["MetricAlarms"][0]["StateValue"] == "ALARM"

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    metric = {"Namespace": "Pipewright/Test", "MetricName": "Rows", "Dimensions": [{"Name": "Table", "Value": "t"}]}
    data = {"Namespace": metric["Namespace"], "MetricData": [{"MetricName": "Rows", "Dimensions": metric["Dimensions"], "Value": 3.0, "Timestamp": now, "Unit": "Count"}]}
    assert cw_cbor(patched, "PutMetricData", data)[:1] == (200,)
    window = {"StartTime": now - datetime.timedelta(minutes=5), "EndTime": now + datetime.timedelta(minutes=5)}
    status, _, raw = cw_cbor(patched, "GetMetricStatistics", {**metric, **window, "Period": 60, "Statistics": ["Sum", "SampleCount"]})
    stats = cbor2.loads(raw)
    assert status == 200 and stats["Label"] == "Rows" and stats["Datapoints"][0]["Sum"] == 3.0
    assert cbor_follows(raw, "Timestamp") == 0xC1 and type(stats["Datapoints"][0]["SampleCount"]) is float
    query = {"Id": "rows", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"}}
    status, _, raw = cw_cbor(patched, "GetMetricData", {**window, "MetricDataQueries": [query]})
    result = cbor2.loads(raw)["MetricDataResults"][0]
    assert status == 200 and result["Id"] == "rows" and result["Values"] == [3.0] and result["StatusCode"] == "Complete"
    assert [t.timestamp() for t in result["Timestamps"]] == [now.timestamp()]

    # errors: CBOR maps with __type and message (HTTP status as the model's error)
    status, headers, raw = cw_cbor(patched, "GetMetricStatistics", {**metric, **window, "Period": 60})
    err = cbor2.loads(raw)
    assert status == 400 and err["__type"].endswith("#InvalidParameterCombinationException") and "Statistics" in err["message"]
    assert headers["smithy-protocol"] == "rpc-v2-cbor" and headers["x-amzn-query-error"].startswith("InvalidParameterCombination;")
    status, headers, raw = cw_cbor(patched, "SetAlarmState", {"AlarmName": "missing", "StateValue": "OK", "StateReason": "x"})
    assert status == 404 and cbor2.loads(raw)["__type"].endswith("#ResourceNotFound") and headers["x-amzn-query-error"] == "ResourceNotFound;Sender"
    status, _, raw = cw_cbor(patched, "DescribeAlarmHistory", {"AlarmName": "cbor-depth"})  # not in moto 5.2.1
    assert status == 501 and cbor2.loads(raw)["__type"] == "NotImplemented"

    assert cw_cbor(patched, "DeleteAlarms", {"AlarmNames": ["cbor-depth"]})[:1] == (200,)
    assert cbor2.loads(cw_cbor(patched, "DescribeAlarms", {"AlarmNames": ["cbor-depth"]})[2])["MetricAlarms"] == []


# ---------------------------------------------------------------------- patch 9: S3 Tables shapes


def s3tables_raw(url: str, method: str, path: str, body: dict | None = None) -> dict:
    req = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json", "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/s3tables/aws4_request, SignedHeaders=host, Signature=x"},
    )
    return json.loads(urllib.request.urlopen(req, timeout=10).read())


def s3tables_setup(url: str, name: str) -> tuple[str, dict]:
    """A table bucket, namespace `ns` and table `t1`; returns the quoted bucket ARN and the raw
    JSON answers of the calls pipewright reads."""
    arn = client(url, "s3tables").create_table_bucket(name=name)["arn"]
    q = urllib.parse.quote(arn, safe="")
    out = {"CreateNamespace": s3tables_raw(url, "PUT", f"/namespaces/{q}", {"namespace": ["ns"]})}
    token = s3tables_raw(url, "PUT", f"/tables/{q}/ns", {"name": "t1", "format": "ICEBERG"})["versionToken"]
    out["GetTable"] = s3tables_raw(url, "GET", f"/get-table?tableBucketARN={q}&namespace=ns&name=t1")
    out["GetTableBucket"] = s3tables_raw(url, "GET", f"/buckets/{q}")
    out["GetNamespace"] = s3tables_raw(url, "GET", f"/namespaces/{q}/ns")
    out["ListTables"] = s3tables_raw(url, "GET", f"/tables/{q}?namespace=ns")
    location = out["GetTable"]["warehouseLocation"] + "/metadata/00001.metadata.json"
    out["UpdateTableMetadataLocation"] = s3tables_raw(url, "PUT", f"/tables/{q}/ns/t1/metadata-location", {"metadataLocation": location, "versionToken": token})
    return arn, out


def test_unpatched_s3tables_shapes(plain):
    _, out = s3tables_setup(plain, "shapes-plain")
    assert out["GetTable"]["managedByService"] is False and out["GetTable"]["modifiedBy"] is None
    assert out["GetTable"]["createdAt"].endswith("+00:00")  # Smithy date-time allows no offset
    assert out["UpdateTableMetadataLocation"]["tableArn"] and out["UpdateTableMetadataLocation"]["namespace"] == "ns"
    assert "tableARN" not in out["ListTables"]["tables"][0] and "type" not in out["ListTables"]["tables"][0]
    assert "tableBucketArn" in out["CreateNamespace"]


def test_patched_s3tables_shapes(patched):
    arn, out = s3tables_setup(patched, "shapes")
    table_arn = f"{arn}/table/t1"
    t = out["GetTable"]
    assert "managedByService" not in t and "metadataLocation" not in t  # metadata set only afterwards
    assert t["tableARN"] == table_arn and t["namespace"] == ["ns"] and t["type"] == "customer" and t["modifiedBy"] == ACCOUNT
    timestamps = [t["createdAt"], t["modifiedAt"], out["GetTableBucket"]["createdAt"], out["GetNamespace"]["createdAt"], out["ListTables"]["tables"][0]["createdAt"]]
    for ts in timestamps:
        assert ts.endswith("Z") and datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    assert out["GetNamespace"]["namespace"] == ["ns"] and out["GetTableBucket"]["arn"] == arn
    summary = out["ListTables"]["tables"][0]
    assert summary["tableARN"] == table_arn and summary["type"] == "customer" and summary["namespace"] == ["ns"]
    update = out["UpdateTableMetadataLocation"]
    assert update["tableARN"] == table_arn and update["namespace"] == ["ns"] and "tableArn" not in update
    assert update["metadataLocation"].endswith("/metadata/00001.metadata.json")
    assert out["CreateNamespace"] == {"tableBucketARN": arn, "namespace": ["ns"]}
    got = client(patched, "s3tables").get_table(tableBucketARN=arn, namespace="ns", name="t1")
    assert got["metadataLocation"] == update["metadataLocation"] and "managedByService" not in got


# ------------------------------------------------------- patch 10: CloudFormation inline policies

POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage"], "Resource": "*"}]}


def inline_policy_stack(url: str, name: str, policies: dict) -> dict:
    return {
        "Resources": {
            "R": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": f"{name}-role",
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
                    "Policies": [{"PolicyName": k, "PolicyDocument": v} for k, v in policies.items()],
                },
            }
        }
    }


def raw_get_role_policy(url: str, role: str, policy: str) -> str:
    """GetRolePolicy over the query protocol: the PolicyDocument element as sent (URL-encoded)."""
    data = urllib.parse.urlencode({"Action": "GetRolePolicy", "Version": "2010-05-08", "RoleName": role, "PolicyName": policy}).encode()
    req = urllib.request.Request(url + "/", data=data, headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=x"})
    xml = ElementTree.fromstring(urllib.request.urlopen(req, timeout=10).read())
    return next(e.text for e in xml.iter() if e.tag.endswith("PolicyDocument"))


def test_unpatched_cfn_role_policy_is_python_repr(plain):
    client(plain, "cloudformation").create_stack(StackName="inline-plain", TemplateBody=json.dumps(inline_policy_stack(plain, "inline-plain", {"consume": POLICY})), Capabilities=["CAPABILITY_NAMED_IAM"])
    document = urllib.parse.unquote(raw_get_role_policy(plain, "inline-plain-role", "consume"))
    assert document.startswith("{'Version': '2012-10-17'")
    with pytest.raises(ValueError):
        json.loads(document)


def test_patched_cfn_role_policy_is_json(patched):
    cfn = client(patched, "cloudformation")
    cfn.create_stack(StackName="inline", TemplateBody=json.dumps(inline_policy_stack(patched, "inline", {"consume": POLICY})), Capabilities=["CAPABILITY_NAMED_IAM"])
    encoded = raw_get_role_policy(patched, "inline-role", "consume")
    assert "%22Version%22" in encoded and "'" not in encoded  # URL-encoded JSON, like AWS
    assert json.loads(urllib.parse.unquote(encoded)) == POLICY
    assert client(patched, "iam").get_role_policy(RoleName="inline-role", PolicyName="consume")["PolicyDocument"] == POLICY
    # an update replaces changed documents and removes dropped policies
    changed = {**POLICY, "Statement": [{**POLICY["Statement"][0], "Action": "sqs:SendMessage"}]}
    cfn.update_stack(StackName="inline", TemplateBody=json.dumps(inline_policy_stack(patched, "inline", {"send": changed})), Capabilities=["CAPABILITY_NAMED_IAM"])
    assert client(patched, "iam").list_role_policies(RoleName="inline-role")["PolicyNames"] == ["send"]
    assert json.loads(urllib.parse.unquote(raw_get_role_policy(patched, "inline-role", "send"))) == changed


LOG_GROUP_STACK = {
    "Resources": {
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/lambda/arn-attr"}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "arn-attr"}},
    },
    "Outputs": {"LogsArn": {"Value": {"Fn::GetAtt": ["Logs", "Arn"]}}},
}


def log_group_arn_output(endpoint, stack):
    cfn = client(endpoint, "cloudformation")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(LOG_GROUP_STACK))
    outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "LogsArn")


def test_unpatched_log_group_arn_attribute_lacks_the_stream_wildcard(plain):
    assert log_group_arn_output(plain, "arn-plain") == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/arn-attr"


def test_patched_log_group_arn_attribute_is_as_on_aws(patched):
    assert log_group_arn_output(patched, "arn-patched") == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/arn-attr:*"


# ------------------------------------------------- patch 12: UpdateFunctionCode architectures


def bootstrap_zip() -> bytes:
    """A function package holding only a `bootstrap`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    return buf.getvalue()


def new_function(endpoint: str, name: str, **settings) -> None:
    """A provided.al2023 function `name` with its own role and a `bootstrap`-only package."""
    role = client(endpoint, "iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client(endpoint, "lambda").create_function(FunctionName=name, Runtime="provided.al2023", Role=role,
                                               Handler="bootstrap", Code={"ZipFile": bootstrap_zip()}, **settings)


def architecture_after_update(endpoint: str, name: str) -> str:
    lam = client(endpoint, "lambda")
    new_function(endpoint, name, Architectures=["arm64"])
    assert lam.get_function_configuration(FunctionName=name)["Architectures"] == ["arm64"]
    lam.update_function_code(FunctionName=name, ZipFile=bootstrap_zip(), Architectures=["x86_64"])
    return lam.get_function_configuration(FunctionName=name)["Architectures"][0]


def test_unpatched_update_function_code_ignores_architectures(plain):
    assert architecture_after_update(plain, "arch-plain") == "arm64"


def test_patched_update_function_code_changes_architectures(patched):
    assert architecture_after_update(patched, "arch-patched") == "x86_64"
    lam = client(patched, "lambda")
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName="arch-patched", ZipFile=b"PK", Architectures=["arm64", "x86_64"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert lam.get_function_configuration(FunctionName="arch-patched")["Architectures"] == ["x86_64"]


def dead_letter_configs(endpoint: str, name: str) -> list:
    """A function created with a DeadLetterConfig, then updated to another: what each read says."""
    lam = client(endpoint, "lambda")
    new_function(endpoint, name, DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:123456789012:a"})
    seen = [lam.get_function_configuration(FunctionName=name).get("DeadLetterConfig")]
    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:123456789012:b"})
    seen.append(lam.get_function_configuration(FunctionName=name).get("DeadLetterConfig"))
    return seen


def test_unpatched_function_dead_letter_config_is_dropped(plain):
    assert dead_letter_configs(plain, "dlc-plain") == [None, None]


def test_patched_function_dead_letter_config_is_kept(patched):
    assert dead_letter_configs(patched, "dlc-patched") == [
        {"TargetArn": "arn:aws:sqs:us-east-1:123456789012:a"}, {"TargetArn": "arn:aws:sqs:us-east-1:123456789012:b"}]


# ------------------------------------------------------------------ patch 13: IAM enforcement


def reset_auth(endpoint: str, count: str) -> None:
    req = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(), method="POST",
                                 headers={"Content-Type": "text/plain"})
    assert urllib.request.urlopen(req, timeout=10).status == 200


@contextlib.contextmanager
def enforced(endpoint: str, name: str, deny: list[str]):
    """A user allowed everything but `deny`, its client factory, with IAM enforced meanwhile."""
    iam = client(endpoint, "iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": deny, "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    # resources to read, made before enforcement
    _, arn = queue(endpoint, f"{name}-q")
    tb = client(endpoint, "s3tables").create_table_bucket(name=f"{name}-tables")["arn"]
    architecture_after_update(endpoint, f"{name}-fn")
    client(endpoint, "cloudwatch").put_metric_alarm(**dict(ALARM, AlarmName=f"{name}-alarm"))

    def as_user(service):
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                            aws_secret_access_key=key["SecretAccessKey"], config=Config(retries={"max_attempts": 1}))

    reset_auth(endpoint, "0")
    try:
        yield as_user, arn, tb
    finally:
        reset_auth(endpoint, "inf")


def auth_outcomes(endpoint: str, name: str) -> dict[str, object]:
    out: dict[str, object] = {}
    with enforced(endpoint, name, ["sqs:GetQueueAttributes"]) as (as_user, arn, tb):
        calls = {
            "sts": lambda: as_user("sts").get_caller_identity()["Arn"],
            "lambda": lambda: as_user("lambda").get_function_configuration(FunctionName=f"{name}-fn")["FunctionName"],
            # an ARN in the query string (encoded once more by SigV4)
            "mappings": lambda: as_user("lambda").list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"],
            # an ARN in the path
            "table-bucket": lambda: as_user("s3tables").get_table_bucket(tableBucketARN=tb)["name"],
            "cloudwatch": lambda: [a["AlarmName"] for a in as_user("cloudwatch").describe_alarms(AlarmNames=[f"{name}-alarm"])["MetricAlarms"]],
            "sqs": lambda: as_user("sqs").get_queue_attributes(QueueUrl=as_user("sqs").get_queue_url(QueueName=f"{name}-q")["QueueUrl"], AttributeNames=["All"]),
        }
        for service, call in calls.items():
            try:
                out[service] = call()
            except ClientError as e:
                out[service] = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPHeaders"].get("content-type", ""))
    return out


def test_unpatched_iam_enforcement_breaks_reads(plain):
    out = auth_outcomes(plain, "auth-plain")
    assert out["lambda"][0] == "403"  # SignatureDoesNotMatch as XML, for a correctly signed GET
    assert out["sqs"][0] == "403" and "json" not in out["sqs"][1]  # AccessDenied as XML for a JSON protocol


def test_patched_iam_enforcement_as_on_aws(patched):
    out = auth_outcomes(patched, "auth-on")
    assert out["sts"] == f"arn:aws:iam::{ACCOUNT}:user/auth-on"  # query protocol, form body
    assert out["lambda"] == "auth-on-fn"
    assert out["mappings"] == [] and out["table-bucket"] == "auth-on-tables"
    assert out["cloudwatch"] == ["auth-on-alarm"]  # signed CBOR, translated by patch 8
    assert out["sqs"] == ("AccessDenied", "application/json")  # from x-amzn-query-error
    with enforced(patched, "auth-lambda", ["lambda:GetFunctionConfiguration"]) as (as_user, _, _):
        with pytest.raises(ClientError) as e:
            as_user("lambda").get_function_configuration(FunctionName="auth-lambda-fn")
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
        assert "not authorized to perform: lambda:GetFunctionConfiguration" in e.value.response["Error"]["Message"]


# ---------------------------------------------------------- patch 14: per-resource stack events


def events_template(visibility: int) -> str:
    return json.dumps({"Resources": {
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "events-dlq"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "events-q", "VisibilityTimeout": visibility,
                  "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]}, "maxReceiveCount": 5}}},
    }})


def stack_events(endpoint: str, stack: str) -> list[tuple[str, str, str]]:
    """(logical id, type, status) of every event, oldest first, after create, update and delete."""
    cfn = client(endpoint, "cloudformation")
    deploy_change_set(cfn, stack, events_template(30), [], "CREATE", "create")
    deploy_change_set(cfn, stack, events_template(60), [], "UPDATE", "update")
    stack_id = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName=stack)
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceType"], e["ResourceStatus"]) for e in reversed(events)]


def test_unpatched_stack_events_are_stack_level_only(plain):
    assert {t for _, t, _ in stack_events(plain, "events-plain")} == {"AWS::CloudFormation::Stack"}


def test_patched_stack_events_per_resource(patched):
    events = [(logical, status) for logical, t, status in stack_events(patched, "events-on") if t == "AWS::SQS::Queue"]
    created = [e for e in events if e[1].startswith("CREATE")]
    # in dependency order: the DLQ before the queue that names it
    assert created == [("Dlq", "CREATE_IN_PROGRESS"), ("Dlq", "CREATE_IN_PROGRESS"), ("Dlq", "CREATE_COMPLETE"),
                       ("Queue", "CREATE_IN_PROGRESS"), ("Queue", "CREATE_IN_PROGRESS"), ("Queue", "CREATE_COMPLETE")]
    assert [e for e in events if e[1].startswith("UPDATE")] == [("Queue", "UPDATE_IN_PROGRESS"), ("Queue", "UPDATE_COMPLETE")]
    assert {e for e in events if e[1] == "DELETE_COMPLETE"} == {("Dlq", "DELETE_COMPLETE"), ("Queue", "DELETE_COMPLETE")}


# ------------------------------------------------- patch 15: RedriveAllowPolicy


def redrive_allow_policy(endpoint: str, name: str) -> str | None:
    sqs = client(endpoint, "sqs")
    allow = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}-src"]})
    url = sqs.create_queue(QueueName=name, Attributes={"RedriveAllowPolicy": allow})["QueueUrl"]
    try:
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"].get("RedriveAllowPolicy")
    except Exception:
        return None


def test_unpatched_redrive_allow_policy_is_not_returned(plain):
    assert redrive_allow_policy(plain, "allow-plain") is None


def test_patched_redrive_allow_policy_is_returned(patched):
    allow = json.loads(redrive_allow_policy(patched, "allow-patched"))
    assert allow == {"redrivePermission": "byQueue", "sourceQueueArns": [f"arn:aws:sqs:us-east-1:{ACCOUNT}:allow-patched-src"]}
    sqs = client(patched, "sqs")
    url = sqs.get_queue_url(QueueName="allow-patched")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "allowAll"})})
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedriveAllowPolicy"])["Attributes"]
    assert json.loads(got["RedriveAllowPolicy"]) == {"redrivePermission": "allowAll"}
    plain_queue = sqs.create_queue(QueueName="allow-patched-none")["QueueUrl"]
    assert "RedriveAllowPolicy" not in sqs.get_queue_attributes(QueueUrl=plain_queue, AttributeNames=["All"])["Attributes"]


# ------------------------------------------------- patch 16: ExpectedBucketOwner


def squatted_upload(endpoint: str, name: str) -> str:
    """Another account creates `name`; this account uploads into it naming itself as the owner."""
    other = client(endpoint, "s3")
    other.meta.events.register("before-sign.s3.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", "111111111111"))
    other.create_bucket(Bucket=name)
    ours = client(endpoint, "s3")
    try:
        ours.put_object(Bucket=name, Key="code.zip", Body=b"zip", ExpectedBucketOwner=ACCOUNT)
        return "uploaded"
    except ours.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


def test_unpatched_expected_bucket_owner_is_ignored(plain):
    assert squatted_upload(plain, "squatted-plain") == "uploaded"


def test_patched_expected_bucket_owner_refuses_another_accounts_bucket(patched):
    assert squatted_upload(patched, "squatted-patched") == "AccessDenied"
    s3 = client(patched, "s3")
    s3.create_bucket(Bucket="owned-patched")
    s3.put_object(Bucket="owned-patched", Key="k", Body=b"x", ExpectedBucketOwner=ACCOUNT)
    assert s3.head_bucket(Bucket="owned-patched", ExpectedBucketOwner=ACCOUNT)["ResponseMetadata"]["HTTPStatusCode"] == 200


# ------------------------------------------------- patch 18: asynchronous invocations accepted


def async_invocation(endpoint: str, name: str) -> tuple[int, list[str]]:
    """An asynchronous invocation of a new function: its status, then the lines of its log group."""
    lam, logs = client(endpoint, "lambda"), client(endpoint, "logs")
    new_function(endpoint, name)
    status = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"date": "2024-01-15"}')["StatusCode"]
    events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    return status, [e["message"] for e in events]


def test_unpatched_async_invocation_runs_and_fails_without_docker(plain):
    status, lines = async_invocation(plain, "async-plain")
    assert status == 202
    assert any("error running docker" in line for line in lines), lines


def test_patched_async_invocation_is_accepted_not_run(patched):
    status, lines = async_invocation(patched, "async-patched")
    assert status == 202
    assert not any("docker" in line for line in lines), lines
    assert lines[0].startswith("START RequestId: ") and lines[-1].startswith("END RequestId: "), lines
    assert any('accepted, not run' in line and '{"date": "2024-01-15"}' in line for line in lines), lines
