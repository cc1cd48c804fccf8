#!/usr/bin/env python3
"""Benchmark of `pipewright run-local`: a generated week of games (7 dates) through the whole
hoopstat-haus pipeline on the local emulator, with timings per stage.

Two runs side by side, each on a fresh emulator:
- as deployed: the spec's event source mappings (batch size 10, batching window 5 s, as on AWS);
- without the batching window (the spec with `batching_window: 0s`): what the pipeline costs when
  nothing waits to fill a batch, i.e. the handlers, S3, SQS and the emulated mappings themselves.

Printed per run: deploy time, flow time (first bronze object put -> every queue empty), the whole
run (with verify); per stage batches, records, handler time and records/s; games/s and gold rows/s
over the flow. The handlers' own speed against Python is `scripts/bench-lambdas.py`.

    python3 scripts/bench-run-local.py              # builds the release binary first
    python3 scripts/bench-run-local.py --debug      # the debug binary (faster to build, slower handlers)
    python3 scripts/bench-run-local.py --days 3 --games 5 --no-build
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "hoopstat-haus.yaml"


def binary(debug):
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / ("debug" if debug else "release") / "pipewright"


def run_once(exe, spec, days, games, label):
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        start = subprocess.run([exe, "emulator", "start", "--state-dir", state], capture_output=True, text=True)
        if start.returncode != 0:
            sys.exit(f"cannot start the emulator: {start.stderr}")
        endpoint = next(l.split("=", 1)[1] for l in start.stdout.splitlines() if "AWS_ENDPOINT_URL=" in l)
        try:
            r = subprocess.run(
                [exe, "run-local", spec, "--endpoint-url", endpoint, "--state-dir", state, "--date", "2024-01-15",
                 "--days", str(days), "--games", str(games), "--format", "json"],
                capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"run-local ({label}) exited {r.returncode}:\n{r.stderr}\n{r.stdout}")
            return json.loads(r.stdout)
        finally:
            subprocess.run([exe, "emulator", "stop", "--state-dir", state], capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=7, help="consecutive dates (default: a week)")
    ap.add_argument("--games", type=int, default=10, help="games per date")
    ap.add_argument("--debug", action="store_true", help="use the debug binary")
    ap.add_argument("--no-build", action="store_true", help="use the existing binary")
    ap.add_argument("--exe", help="the pipewright binary to measure (default: target/{release,debug}/pipewright)")
    args = ap.parse_args()

    if not args.no_build:
        cmd = ["cargo", "build", "--bin", "pipewright"] + ([] if args.debug else ["--release"])
        subprocess.run(cmd, cwd=ROOT, check=True)
    exe = args.exe or binary(args.debug)

    with tempfile.TemporaryDirectory() as tmp:
        no_window = Path(tmp) / "hoopstat-haus.yaml"
        text = SPEC.read_text()
        assert "batching_window: 5s" in text, "the flagship's batching window changed; update the bench"
        no_window.write_text(text.replace("batching_window: 5s", "batching_window: 0s"))
        runs = [
            ("as deployed (window 5 s)", run_once(exe, str(SPEC), args.days, args.games, "window 5 s")),
            ("no batching window", run_once(exe, str(no_window), args.days, args.games, "window 0 s")),
        ]

    games = args.days * args.games
    print(f"\nrun-local, {args.days} dates x {args.games} games = {games} games, "
          f"{'debug' if args.debug else 'release'} binary, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}\n")
    print(f"{'run':<26} {'deploy':>8} {'flow':>8} {'total':>8} {'games/s':>8} {'gold rows/s':>12}")
    for label, r in runs:
        rows = sum(t["rows"] for t in r["tables"])
        print(f"{label:<26} {r['deploy']:>7.2f}s {r['flow']:>7.2f}s {r['elapsed']:>7.2f}s "
              f"{games / r['flow']:>8.1f} {rows / r['flow']:>12.0f}")
    print()
    print(f"{'run':<26} {'stage':<18} {'batches':>7} {'records':>7} {'failed':>6} {'handler':>10} {'ms/batch':>9} {'records/s':>10}")
    for label, r in runs:
        for s in r["stages"]:
            handler_s = s["handler_time"] / 1000
            per_batch = s["handler_time"] / max(s["batches"], 1)
            rate = s["records"] / handler_s if handler_s else 0
            print(f"{label:<26} {s['stage']:<18} {s['batches']:>7} {s['records']:>7} {s['failed']:>6} "
                  f"{handler_s:>9.2f}s {per_batch:>9.1f} {rate:>10.1f}")
    print()
    for label, r in runs:
        tables = ", ".join(f"{t['table']} {t['rows']} rows" for t in r["tables"])
        clean = r["verify"]["clean"] if r.get("verify") else None
        print(f"{label}: {tables}; verify clean: {clean}")
    for label, r in runs:
        if any(s["dead_letters"] or s["left_in_queue"] for s in r["stages"]):
            sys.exit(f"{label}: records were left or dead")


if __name__ == "__main__":
    main()
