#!/usr/bin/env python3
"""Benchmark of triggers delivered through EventBridge next to S3 event notifications, in one run.

On the local emulator (moto with pipewright's patches): objects written one after the other into a bucket
whose trigger is an S3 notification to a queue, a bucket that sends its events to EventBridge where a rule
with a key `wildcard` targets a queue, and the same with two rules (one object, two consumers). Each
workload writes N objects, half of them matching the pattern, and receives every message of its queues;
it prints objects per second (write to last message received) and checks that exactly the matching
objects arrived (the S3 filter lets through what its prefix and suffix match).

Then the generated template of a one-stage spec delivered each way and of `specs/clickstream.yaml` (two
stages through EventBridge): its size, resources, and `pipewright generate` time (best of N, release
build of the offline gate, as bench-core.py builds it).

    python3 scripts/bench-eventbridge.py                # builds the offline gate (release) first
    python3 scripts/bench-eventbridge.py --objects 200 --runs 5 --no-build
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "bench"))
from local_aws import start_emulator  # noqa: E402
GATE = ROOT / "target" / "gate" / "release" / "pipewright"
PATTERN = "events/site=*/date=*/part-*.json"



def clients(url):
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    return {s: boto3.client(s, endpoint_url=url, region_name="us-east-1") for s in ("s3", "sqs", "events")}


def queue(c, name, principal, source_arn):
    url = c["sqs"].create_queue(QueueName=name)["QueueUrl"]
    arn = c["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": principal}, "Action": "sqs:SendMessage", "Resource": arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}}}]}
    c["sqs"].set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def keys(n):
    """n keys, every other one matching PATTERN; the others match S3's prefix and suffix only."""
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(f"events/site=shop/date=2024-01-15/part-{i:05}.json")
        else:
            out.append(f"events/site=shop/notes-{i:05}.json")
    return out


def drain(c, urls, expected):
    """Receives until `expected` messages arrived in all of `urls`; returns the keys per queue."""
    got = {u: [] for u in urls}
    deadline = time.time() + 120
    while sum(len(v) for v in got.values()) < expected and time.time() < deadline:
        for u in urls:
            msgs = c["sqs"].receive_message(QueueUrl=u, MaxNumberOfMessages=10).get("Messages", [])
            for m in msgs:
                body = json.loads(m["Body"])
                if "Records" in body:  # URL-encoded, as S3 sends it
                    got[u].append(urllib.parse.unquote_plus(body["Records"][0]["s3"]["object"]["key"]))
                elif body.get("source") == "aws.s3":
                    got[u].append(body["detail"]["object"]["key"])
            if msgs:
                c["sqs"].delete_message_batch(QueueUrl=u, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    return got


def s3_notification(c, run, n):
    bucket = f"bench-s3-{run}"
    c["s3"].create_bucket(Bucket=bucket)
    url, arn = queue(c, f"bench-s3-{run}", "s3.amazonaws.com", f"arn:aws:s3:::{bucket}")
    c["s3"].put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [{
        "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "events/site%3D"}, {"Name": "suffix", "Value": ".json"}]}}}]})
    c["sqs"].purge_queue(QueueUrl=url)  # the s3:TestEvent
    return bucket, [url]


def eventbridge(c, run, n, consumers):
    bucket = f"bench-eb-{consumers}-{run}"
    c["s3"].create_bucket(Bucket=bucket)
    c["s3"].put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    urls = []
    for k in range(consumers):
        rule = f"bench-eb-{consumers}-{run}-{k}"
        pattern = {"source": ["aws.s3"], "detail-type": ["Object Created"],
                   "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"wildcard": PATTERN}]}}}
        rule_arn = c["events"].put_rule(Name=rule, EventPattern=json.dumps(pattern))["RuleArn"]
        url, arn = queue(c, rule, "events.amazonaws.com", rule_arn)
        c["events"].put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
        urls.append(url)
    return bucket, urls


def workload(c, name, setup, n, runs, whole_pattern):
    best, checked = None, None
    for run in range(runs):
        bucket, urls = setup(run)
        ks = keys(n)
        matching = [k for k in ks if "/date=" in k]
        # S3's filter (prefix events/site=, suffix .json) lets every key through; a rule only the matching.
        expected_keys = matching if whole_pattern else ks
        start = time.perf_counter()
        for k in ks:
            c["s3"].put_object(Bucket=bucket, Key=k, Body=b"{}")
        got = drain(c, urls, len(expected_keys) * len(urls))
        elapsed = time.perf_counter() - start
        for u in urls:
            assert sorted(got[u]) == sorted(expected_keys), f"{name}: {len(got[u])} of {len(expected_keys)} arrived"
        checked = (len(expected_keys), len(urls))
        best = elapsed if best is None else min(best, elapsed)
    delivered, queues = checked
    print(f"| {name} | {n} | {delivered} x {queues} | {best * 1000:.0f} ms | {n / best:.0f} objects/s | {delivered * queues / best:.0f} messages/s |")


def templates(runs, build):
    if build:
        subprocess.run(["cargo", "build", "--release", "--locked", "--no-default-features", "--bin", "pipewright",
                        "--target-dir", str(ROOT / "target" / "gate")], cwd=ROOT, check=True)
    text = (ROOT / "specs" / "clickstream.yaml").read_text()
    one = text.split("  audit:")[0]
    specs = {
        "one stage, via: s3": one.replace("      via: eventbridge\n", ""),
        "one stage, via: eventbridge": one,
        "specs/clickstream.yaml (two stages, eventbridge)": text,
    }
    print("\n| spec | template | resources | generate (best of %d) |" % runs)
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for name, spec in specs.items():
            path = Path(d) / "clickstream.yaml"
            path.write_text(spec)
            best = None
            for _ in range(runs):
                start = time.perf_counter()
                subprocess.run([str(GATE), "generate", str(path), "--out", str(Path(d) / "out")], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                best = min(best or 1e9, time.perf_counter() - start)
            template = (Path(d) / "out" / "clickstream" / "template.yaml").read_text()
            resources = template.split("\nResources:\n")[1].split("\nOutputs:\n")[0]
            count = sum(1 for line in resources.splitlines() if line.startswith("  ") and not line.startswith("   "))
            print(f"| {name} | {len(template.encode()):,} bytes | {count} | {best * 1000:.1f} ms |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=200, help="objects written per workload")
    ap.add_argument("--runs", type=int, default=3, help="runs per workload (best shown)")
    ap.add_argument("--no-build", action="store_true", help="use the existing release build of the offline gate")
    args = ap.parse_args()
    proc, url = start_emulator()
    try:
        c = clients(url)
        load = os.getloadavg()[0]
        print(f"objects written one after the other (half match `{PATTERN}`, half only S3's prefix and suffix); "
              f"emulator at {url}; 1-minute load {load:.1f}\n")
        print("| delivery | objects | delivered x queues | write to last message | objects/s | messages/s |")
        print("|---|---|---|---|---|---|")
        workload(c, "S3 -> SQS (notification: prefix and suffix)", lambda r: s3_notification(c, r, args.objects), args.objects, args.runs, False)
        workload(c, "S3 -> EventBridge -> SQS (one rule, whole pattern)", lambda r: eventbridge(c, r, args.objects, 1), args.objects, args.runs, True)
        workload(c, "S3 -> EventBridge -> 2 x SQS (two rules, one object to both)", lambda r: eventbridge(c, r, args.objects, 2), args.objects, args.runs, True)
    finally:
        proc.terminate()
        proc.wait()
    templates(max(args.runs, 5), not args.no_build)
    print(f"\nmachine: {os.cpu_count()} cores; 1-minute load {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
