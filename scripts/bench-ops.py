#!/usr/bin/env python3
"""Benchmark of `pipewright replay`: a full season of dates replayed into the silver queue of the
hoopstat-haus pipeline in the local emulator, next to the same done as a loop of `aws` CLI calls and
as a boto3 loop (one call at a time, as a person would script it); then the same season of runs of a
scheduled Lambda stage (the minimal spec's `export`), next to a boto3 loop of asynchronous invocations.

Deploys the flagship into a fresh emulator, puts one bronze object per date of a season (2023-10-24
to 2024-04-14, 174 dates; the objects' content does not matter to a replay), then for each method:
purges the queue, times the replay, and checks the queue holds exactly one message per object. For the
scheduled stage, checks that the function's log group holds exactly one accepted invocation per date and
method (the emulator accepts asynchronous invocations and runs nothing: patch 18).

    python3 scripts/bench-ops.py                    # builds the release binary first
    python3 scripts/bench-ops.py --debug --runs 3   # the debug binary
    python3 scripts/bench-ops.py --no-cli           # skip the (slow) aws CLI loop
    python3 scripts/bench-ops.py --bin /tmp/pipewright   # a given binary
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
sys.path.insert(0, str(ROOT / "scripts" / "bench"))
from local_aws import start_emulator  # noqa: E402
SPEC = ROOT / "specs" / "hoopstat-haus.yaml"
MINIMAL = ROOT / "specs" / "minimal.yaml"
EXPORT = "acme-orders-export"
BUCKET = "hoopstat-haus-bronze"
QUEUE = "hoopstat-haus-silver-processing-queue"
FIRST, LAST = dt.date(2023, 10, 24), dt.date(2024, 4, 14)



def manifest(tmp: Path, stages=("silver-processing", "gold-analytics"), name="manifest.json"):
    arts = []
    for stage in stages:
        path = tmp / f"{stage}.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\n")
        data = path.read_bytes()
        arts.append({"stage": stage, "zip": str(path), "sha256": hashlib.sha256(data).hexdigest(),
                     "size": len(data), "architecture": "arm64"})
    out = tmp / name
    out.write_text(json.dumps({"version": 1, "artifacts": arts}))
    return out


def event_body(key, size, etag):
    """The S3 event a person's script would send (what pipewright sends, minus nothing the handler reads)."""
    from urllib.parse import quote_plus
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return json.dumps({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": now,
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "manual",
               "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
               "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag}}}]})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs of pipewright replay (best is shown)")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--debug", action="store_true", help="use the debug binary (no release build)")
    ap.add_argument("--no-cli", action="store_true", help="skip the aws CLI loop")
    ap.add_argument("--bin", type=Path, help="this pipewright binary (no build)")
    args = ap.parse_args()
    profile = "debug" if args.debug else "release"
    if not args.debug and not args.no_build and not args.bin:
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet", "-p", "pipewright"], cwd=ROOT, check=True)
    import boto3

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # A private copy: other worktrees may share the target directory.
        binary = tmp / "pipewright"
        shutil.copy2(args.bin or TARGET / profile / "pipewright", binary)
        if subprocess.run([binary, "replay", "--help"], capture_output=True).returncode != 0:
            sys.exit(f"{args.bin or TARGET / profile / 'pipewright'} has no `replay`: built from another branch?")
        emulator, endpoint = start_emulator()
        try:
            env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                   "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
            env.pop("PIPEWRIGHT_SPEC", None)
            subprocess.run([binary, "deploy", SPEC, "--yes", "--parameter", "AlertEmail=ops@example.com", "--manifest", manifest(tmp)], env=env, check=True,
                           capture_output=True)
            client = lambda s: boto3.client(s, endpoint_url=endpoint, region_name="us-east-1",
                                            aws_access_key_id="testing", aws_secret_access_key="testing")
            s3, sqs = client("s3"), client("sqs")
            dates = [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
            for d in dates:
                s3.put_object(Bucket=BUCKET, Key=f"raw/box_scores/date={d}/data.json", Body=b'{"games": []}')
            url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]

            def purge():
                sqs.purge_queue(QueueUrl=url)

            def depth():
                a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                return int(a["Attributes"]["ApproximateNumberOfMessages"])

            n = len(dates)
            rows = []

            # pipewright replay: list per date (8 in flight), SendMessageBatch (8 in flight).
            best, listed = float("inf"), 0.0
            for _ in range(args.runs):
                purge()
                t = time.perf_counter()
                o = subprocess.run([binary, "replay", SPEC, "--stage", "silver-processing", "--date", str(FIRST),
                                    "--to", str(LAST), "--format", "json"], env=env, capture_output=True, text=True)
                took = time.perf_counter() - t
                if o.returncode != 0:
                    sys.exit(f"replay failed: {o.stderr}")
                report = json.loads(o.stdout)
                assert report["sent"] == n, report
                assert depth() == n, f"queue holds {depth()}, expected {n}"
                if took < best:
                    best, listed = took, report["list_seconds"]
            rows.append(("pipewright replay", best, f"{listed:.2f} s listing, {(n + 9) // 10} SendMessageBatch"))

            # boto3 loop: per date list + send_message, one call at a time.
            purge()
            t = time.perf_counter()
            for d in dates:
                for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"raw/box_scores/date={d}/").get("Contents", []):
                    sqs.send_message(QueueUrl=url, MessageBody=event_body(o["Key"], o["Size"], o["ETag"].strip('"')))
            rows.append(("boto3 loop", time.perf_counter() - t, f"{2 * n} calls, one at a time"))
            assert depth() == n

            # aws CLI loop: the runbook's way (a process per call).
            if not args.no_cli:
                purge()
                script = ["set -eu", f'A="aws --endpoint-url {endpoint} --region us-east-1"']
                for d in dates:
                    key = f"raw/box_scores/date={d}/data.json"
                    script.append(f"$A s3api head-object --bucket {BUCKET} --key '{key}' >/dev/null")
                    body = event_body(key, 13, "x").replace("'", "'\\''")
                    script.append(f"$A sqs send-message --queue-url {url} --message-body '{body}' >/dev/null")
                t = time.perf_counter()
                o = subprocess.run(["bash", "-c", "\n".join(script)], env=env, capture_output=True, text=True)
                if o.returncode != 0:
                    sys.exit(f"the aws CLI loop failed: {o.stderr[-500:]}")
                rows.append(("aws CLI loop", time.perf_counter() - t, f"{2 * n} processes"))
                assert depth() == n
            runs = scheduled_runs(binary, env, tmp, client, dates, args.runs)
        finally:
            emulator.terminate()
            emulator.wait()

    which = args.bin or f"{profile} binary"
    print(f"replay of {n} dates ({FIRST}..{LAST}), one object each, into {QUEUE} ({which})\n")
    print(f"{'method':<20}{'time':>10}{'messages/s':>12}  notes")
    print("-" * 72)
    for label, secs, note in rows:
        print(f"{label:<20}{secs:>8.2f} s{n / secs:>12.1f}  {note}")
    base = rows[0][1]
    for label, secs, _ in rows[1:]:
        print(f"pipewright replay is {secs / base:.1f}x faster than the {label}")
    print(f"\nreplay of {n} runs ({FIRST}..{LAST}) of the scheduled stage export ({EXPORT}), asynchronous invocations\n")
    print(f"{'method':<20}{'time':>10}{'runs/s':>12}  notes")
    print("-" * 72)
    for label, secs, note in runs:
        print(f"{label:<20}{secs:>8.2f} s{n / secs:>12.1f}  {note}")
    print(f"pipewright replay is {runs[1][1] / runs[0][1]:.1f}x faster than the {runs[1][0]}")


def scheduled_runs(binary, env, tmp, client, dates, repeat):
    """A season of runs of the minimal spec's scheduled `export`: pipewright replay (best of `repeat`),
    then a boto3 loop of `invoke(InvocationType='Event')`, each checked in the function's log group."""
    subprocess.run([binary, "deploy", MINIMAL, "--yes", "--parameter", "AlertEmail=ops@example.com",
                    "--manifest", manifest(tmp, ("export", "curate"), "minimal.json")], env=env, check=True,
                   capture_output=True)
    lam, logs = client("lambda"), client("logs")
    group = f"/aws/lambda/{EXPORT}"

    def accepted():
        n, token = 0, None
        while True:
            page = logs.filter_log_events(logGroupName=group, **({"nextToken": token} if token else {}))
            n += sum("accepted, not run" in e["message"] for e in page["events"])
            token = page.get("nextToken")
            if not token:
                return n

    n, rows, best, seen = len(dates), [], float("inf"), 0
    for _ in range(repeat):
        t = time.perf_counter()
        o = subprocess.run([binary, "replay", MINIMAL, "--stage", "export", "--date", str(dates[0]),
                            "--to", str(dates[-1]), "--format", "json"], env=env, capture_output=True, text=True)
        took = time.perf_counter() - t
        if o.returncode != 0:
            sys.exit(f"replay failed: {o.stderr}")
        assert json.loads(o.stdout)["invoked"] == n, o.stdout
        seen += n
        assert accepted() == seen, f"{accepted()} invocations, expected {seen}"
        best = min(best, took)
    rows.append(("pipewright replay", best, f"{n} Invoke (8 in flight)"))
    t = time.perf_counter()
    for d in dates:
        lam.invoke(FunctionName=EXPORT, InvocationType="Event", Payload=json.dumps({"date": str(d)}).encode())
    rows.append(("boto3 loop", time.perf_counter() - t, f"{n} Invoke, one at a time"))
    assert accepted() == seen + n
    return rows


if __name__ == "__main__":
    main()
