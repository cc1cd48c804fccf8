#!/usr/bin/env python3
"""Benchmark of `pipewright run-local`: a generated week of games (7 dates) through the whole
hoopstat-haus pipeline on the local emulator, with timings per stage.

Two runs side by side, each on a fresh emulator:
- as deployed: the spec's event source mappings (batch size 10, batching window 5 s, as on AWS);
- without the batching window (the spec with `batching_window: 0s`): what the pipeline costs when
  nothing waits to fill a batch, i.e. the handlers, S3, SQS and the emulated mappings themselves.

Each stage runs as its own process behind run-local's Lambda Runtime API (built by run-local with
`--release`, or in debug with `--debug-stages`). Printed per run: deploy time, flow time (first source
run -> every queue empty), the whole run (with verify); per stage batches, records, invocation time (what
the mapping waited for), the handler's own time (the `duration_ms` of its "batch done" log lines, read
from the function's log group) and the difference per batch: the cost of the process-based invocation
(event to JSON, the Runtime API's HTTP round trips, the response parsed); games/s and gold rows/s over
the flow. The handlers' own speed against Python is `scripts/bench-lambdas.py`.

    python3 scripts/bench-run-local.py              # builds the pipewright binary first (debug)
    python3 scripts/bench-run-local.py --days 3 --games 5 --no-build --debug-stages
"""

import argparse
import boto3
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "hoopstat-haus.yaml"


def binary():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "pipewright"


def handler_ms(endpoint, region, stage):
    """Sum of the `duration_ms` of the stage's "batch done" log lines, and their number."""
    logs = boto3.client("logs", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")
    total, batches = 0, 0
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=f"/aws/lambda/hoopstat-haus-{stage}"):
        for event in page["events"]:
            try:
                line = json.loads(event["message"])
            except ValueError:
                continue
            if line.get("message") == "batch done":
                total += line.get("duration_ms", 0)
                batches += 1
    return total, batches


def run_once(exe, spec, days, games, release, label):
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        start = subprocess.run([exe, "emulator", "start", "--state-dir", state], capture_output=True, text=True)
        if start.returncode != 0:
            sys.exit(f"cannot start the emulator: {start.stderr}")
        endpoint = next(l.split("=", 1)[1] for l in start.stdout.splitlines() if "AWS_ENDPOINT_URL=" in l)
        try:
            r = subprocess.run(
                [exe, "run-local", spec, "--endpoint-url", endpoint, "--state-dir", state, "--date", "2024-01-15",
                 "--days", str(days), "--env", f"BRONZE_FIXTURE_GAMES={games}", "--format", "json",
                 # The spec without the window is a copy outside the repository: the stages are the repository's.
                 "--lambdas", str(ROOT / "lambdas")]
                + (["--release"] if release else []),
                capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"run-local ({label}) exited {r.returncode}:\n{r.stderr}\n{r.stdout}")
            report = json.loads(r.stdout)
            for s in report["stages"]:
                s["own_ms"], s["own_batches"] = handler_ms(endpoint, "us-east-1", s["stage"])
            return report
        finally:
            subprocess.run([exe, "emulator", "stop", "--state-dir", state], capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=7, help="consecutive dates (default: a week)")
    ap.add_argument("--games", type=int, default=10, help="games per date")
    ap.add_argument("--debug-stages", action="store_true", help="build the stages in debug (default: release)")
    ap.add_argument("--no-build", action="store_true", help="use the existing pipewright binary")
    ap.add_argument("--exe", help="the pipewright binary (default: target/debug/pipewright)")
    args = ap.parse_args()

    if not args.no_build:
        subprocess.run(["cargo", "build", "--bin", "pipewright"], cwd=ROOT, check=True)
    exe = args.exe or binary()
    release = not args.debug_stages

    with tempfile.TemporaryDirectory() as tmp:
        no_window = Path(tmp) / "hoopstat-haus.yaml"
        text = SPEC.read_text()
        assert "batching_window: 5s" in text, "the flagship's batching window changed; update the bench"
        no_window.write_text(text.replace("batching_window: 5s", "batching_window: 0s"))
        runs = [
            ("as deployed (window 5 s)", run_once(exe, str(SPEC), args.days, args.games, release, "window 5 s")),
            ("no batching window", run_once(exe, str(no_window), args.days, args.games, release, "window 0 s")),
        ]

    games = args.days * args.games
    print(f"\nrun-local, {args.days} dates x {args.games} games = {games} games, "
          f"{'release' if release else 'debug'} stages, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}\n")
    print(f"{'run':<26} {'deploy':>8} {'flow':>8} {'total':>8} {'games/s':>8} {'gold rows/s':>12}")
    for label, r in runs:
        rows = sum(t["total_rows"] for t in r["tables"])
        print(f"{label:<26} {r['deploy']:>7.2f}s {r['flow']:>7.2f}s {r['elapsed']:>7.2f}s "
              f"{games / r['flow']:>8.1f} {rows / r['flow']:>12.0f}")
    print()
    print(f"{'run':<26} {'stage':<18} {'batches':>7} {'records':>7} {'failed':>6} {'invoke':>9} "
          f"{'handler':>9} {'ms/batch':>9} {'overhead ms/batch':>18} {'peak MB':>8}")
    for label, r in runs:
        for s in r["stages"]:
            invoke_s = s["handler_time"] / 1000
            own_s = s["own_ms"] / 1000
            batches = max(s["batches"], 1)
            overhead = (s["handler_time"] - s["own_ms"]) / batches
            print(f"{label:<26} {s['stage']:<18} {s['batches']:>7} {s['records']:>7} {s['failed']:>6} "
                  f"{invoke_s:>8.2f}s {own_s:>8.2f}s {s['handler_time'] / batches:>9.1f} {overhead:>18.1f} "
                  f"{s['max_memory_mb']:>8}")
    print()
    for label, r in runs:
        tables = ", ".join(f"{t['table']} {t['total_rows']} rows" for t in r["tables"])
        clean = r["verify"]["clean"] if r.get("verify") else None
        print(f"{label}: {tables}; verify clean: {clean}")
    for label, r in runs:
        if any(s["dead_letters"] or s["left_in_queue"] for s in r["stages"]):
            sys.exit(f"{label}: records were left or dead")


if __name__ == "__main__":
    main()
