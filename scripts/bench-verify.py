#!/usr/bin/env python3
"""Benchmark of `pipewright verify` against the local emulator, next to the same reads done as a shell
script of `aws` CLI calls, in the same run.

For the hoopstat-haus spec and synthetic specs of 10 and 50 stages: deploys the stack into a fresh
emulator, then times `pipewright verify` (best of N) and counts its AWS calls (`--trace-aws`), and
times a bash script that makes the same reads with the AWS CLI, one call at a time, as the original
runbook's health-check script did.

    python3 scripts/bench-verify.py                 # builds the release binary first
    python3 scripts/bench-verify.py --sizes 10,50 --runs 5
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")  # as cargo builds it
BIN = TARGET / "release" / "pipewright"
sys.path.insert(0, str(ROOT / "scripts" / "bench"))
from local_aws import start_emulator  # noqa: E402



def manifest(tmp: Path, stages):
    arts = []
    for stage in stages:
        path = tmp / f"{stage}.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\n")
        data = path.read_bytes()
        arts.append({"stage": stage, "zip": str(path), "sha256": hashlib.sha256(data).hexdigest(),
                     "size": len(data), "architecture": "arm64"})
    out = tmp / "manifest.json"
    out.write_text(json.dumps({"version": 1, "artifacts": arts}))
    return out


def cli_script(spec_json) -> str:
    """The same reads as `verify`, as `aws` CLI calls (what a person would script)."""
    lines = ["set -u", 'A="aws --endpoint-url $AWS_ENDPOINT_URL --output json"']
    for b in spec_json["buckets"]:
        for op in ["get-bucket-notification-configuration", "get-bucket-encryption", "get-bucket-versioning",
                   "get-public-access-block", "get-bucket-policy", "get-bucket-lifecycle-configuration"]:
            lines.append(f"$A s3api {op} --bucket {b} >/dev/null 2>&1")
    for q in spec_json["queues"]:
        lines.append(f"U=$($A sqs get-queue-url --queue-name {q} --query QueueUrl --output text)")
        lines.append("$A sqs get-queue-attributes --queue-url $U --attribute-names All >/dev/null")
    for f in spec_json["functions"]:
        lines.append(f"$A lambda get-function-configuration --function-name {f['name']} >/dev/null")
        lines.append(f"$A lambda list-event-source-mappings --function-name {f['name']} >/dev/null")
        lines.append(f"$A iam list-role-policies --role-name {f['role']} >/dev/null")
        lines.append(f"$A iam get-role-policy --role-name {f['role']} --policy-name data-flow >/dev/null")
        lines.append(f"$A iam list-attached-role-policies --role-name {f['role']} >/dev/null")
        lines.append(f"$A logs describe-log-groups --log-group-name-prefix {f['log_group']} >/dev/null")
    if spec_json["alarms"]:
        lines.append("$A cloudwatch describe-alarms --alarm-names " + " ".join(spec_json["alarms"]) + " >/dev/null")
    return "\n".join(lines) + "\n"


def names(spec: Path, env):
    """Resource names from the generated template (what the CLI script must know by heart)."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([BIN, "generate", spec, "--out", out], check=True, env=env, capture_output=True)
        text = (Path(out) / spec.stem / "template.yaml").read_text()
    # The template is YAML; pipewright's own parser is not reachable from Python, so read the names
    # the generator wrote as `Name: value` lines.
    found = {"buckets": [], "queues": [], "functions": [], "alarms": []}
    role, log_group = None, None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("BucketName: "):
            found["buckets"].append(s.split(": ", 1)[1])
        elif s.startswith("QueueName: "):
            found["queues"].append(s.split(": ", 1)[1])
        elif s.startswith("RoleName: "):
            role = s.split(": ", 1)[1]
        elif s.startswith("LogGroupName: "):
            log_group = s.split(": ", 1)[1]
        elif s.startswith("FunctionName: ") and role:
            found["functions"].append({"name": s.split(": ", 1)[1], "role": role, "log_group": log_group})
        elif s.startswith("AlarmName: "):
            found["alarms"].append(s.split(": ", 1)[1])
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="10,50", help="stage counts of the synthetic specs")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--debug", action="store_true", help="use the debug binary (slower; no release build)")
    args = ap.parse_args()
    global BIN
    if args.debug:
        BIN = TARGET / "debug" / "pipewright"
    elif not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet", "-p", "pipewright"], cwd=ROOT, check=True)

    print(f"{'spec':<16}{'aspects':>8}{'calls':>7} | {'pipewright verify':>18} | {'aws CLI script':>15}{'calls':>7} | {'speed-up':>8}")
    print("-" * 92)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = [("hoopstat-haus", ROOT / "specs" / "hoopstat-haus.yaml")]
        for n in [int(s) for s in args.sizes.split(",") if s]:
            spec = tmp / f"synth-{n}.yaml"
            spec.write_text(subprocess.run([BIN, "synth", "--stages", str(n)], capture_output=True, text=True,
                                           check=True).stdout)
            cases.append((f"synthetic {n}", spec))
        for label, spec in cases:
            emulator, endpoint = start_emulator()
            try:
                env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
                found = names(spec, env)
                spec_text = spec.read_text()
                stage_names = [s.strip().rstrip(":") for s in spec_text.split("stages:")[1].splitlines()
                               if s.startswith("  ") and not s.startswith("   ") and s.strip().endswith(":")]
                m = manifest(tmp, stage_names)
                subprocess.run([BIN, "deploy", spec, "--yes", "--parameter", "AlertEmail=ops@example.com", "--manifest", m], env=env, check=True, capture_output=True)
                best, calls, aspects = float("inf"), 0, 0
                for _ in range(args.runs):
                    t = time.perf_counter()
                    o = subprocess.run([BIN, "verify", spec, "--format", "json", "--trace-aws"], env=env,
                                       capture_output=True, text=True)
                    best = min(best, time.perf_counter() - t)
                    calls = sum(1 for line in o.stderr.splitlines() if line.startswith("aws: "))
                    aspects = json.loads(o.stdout)["summary"]["checked"]
                script = cli_script(found)
                cli_calls = script.count("$A ")
                t = time.perf_counter()
                subprocess.run(["bash", "-c", script], env=env, check=False, capture_output=True)
                cli = time.perf_counter() - t
                print(f"{label:<16}{aspects:>8}{calls:>7} | {best * 1000:>15.0f} ms | {cli:>12.1f} s{cli_calls:>7} | "
                      f"{cli / best:>7.0f}x")
            finally:
                emulator.terminate()
                emulator.wait()
    print("\ntargets: hoopstat-haus < 1 s; >= 10x faster than the CLI script; calls growing linearly with stages")


if __name__ == "__main__":
    main()
