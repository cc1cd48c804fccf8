#!/usr/bin/env python3
"""Benchmark of the gold stage with its Iceberg commits: the handler (`Stage::handle`: silver read, season
state, analytics, one commit per table on S3 Tables) over whole generated seasons, on the local S3 Tables of
the emulator (a moto server started by each run), driven by the example `bench_gold commit`.

Workloads, side by side in one run (a fresh emulator and fresh tables each):
- one season (2024-25: 166 dates) delivered in order, one date per batch (the daily case), with the tables
  partitioned by the day of `game_date` (the spec's choice), by month, and unpartitioned: the per-date
  commit time at the start and at the end of the season (median of the first and of the last 10 dates),
  the whole season, peak memory, and the tables' manifests and snapshots at the end;
- the same season delivered in a random order (a seeded permutation of the dates, one per batch): a date
  that precedes dates already in gold recomputes them in its commit;
- three seasons (2022-23 to 2024-25: 498 dates) in order and in a random order, day partitions.
Before the numbers, the tables a random order leaves are checked equal, row by row and column by column
(values printed exactly), to those of the delivery in order.

Silver comes from the Rust fixture generator and silver stage (`bench_silver generate` + `transform`), read
from a directory; the emulator's S3 Tables and S3 (in one local Python process) hold the tables, so the
times include its HTTP round trips (on AWS each call is a network round trip instead). Peak memory is the
bench process's own peak RSS (`VmHWM`; the emulator is another process, which wait4's figure would include).

    python3 scripts/bench-gold-commit.py                  # builds the examples (release) first
    python3 scripts/bench-gold-commit.py --no-build --seed 7
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
EXAMPLES = TARGET / "release" / "examples"


def bench_lambdas():
    """scripts/bench-lambdas.py as a module (its process measurement: wall time and peak RSS by wait4)."""
    spec = importlib.util.spec_from_file_location("bench_lambdas", Path(__file__).with_name("bench-lambdas.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def silver(tmp, seed, seasons):
    """Generates `seasons` seasons of bronze and transforms them into silver under tmp/silver-{seasons}."""
    bronze = tmp / f"bronze-{seasons}"
    lines = subprocess.run([EXAMPLES / "bench_silver", "generate", bronze, str(seed), str(seasons)],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    files = [json.loads(line)["path"] for line in lines]
    out = tmp / f"silver-{seasons}"
    subprocess.run([EXAMPLES / "bench_silver", "transform", out, "1", *files], capture_output=True, check=True)
    return out, len(files)


def ms(s):
    return f"{s * 1000:.1f} ms" if s < 10 else f"{s:.1f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=2024, help="fixture generator seed")
    ap.add_argument("--order-seed", type=int, default=11, help="seed of the random delivery orders")
    ap.add_argument("--no-build", action="store_true", help="use the existing release examples")
    ap.add_argument("--no-three-seasons", action="store_true", help="leave out the three-season workloads")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet", "-p", "silver-processing", "--example",
                        "bench_silver", "-p", "gold-analytics", "--example", "bench_gold"], cwd=ROOT, check=True)
    measure = bench_lambdas().measure
    random = f"random:{args.order_seed}"
    runs = [(1, "day", "in-order"), (1, "day", random), (1, "month", "in-order"), (1, "none", "in-order")]
    if not args.no_three_seasons:
        runs += [(3, "day", "in-order"), (3, "day", random)]

    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-gold-commit-") as tmp:
        tmp = Path(tmp)
        dirs = {n: silver(tmp, args.seed, n) for n in sorted({r[0] for r in runs})}
        for seasons, partition, order in runs:
            dump = tmp / f"gold-{seasons}-{partition}-{order.replace(':', '-')}.txt"
            cmd = [EXAMPLES / "bench_gold", "commit", dirs[seasons][0], partition, order, "1", dump]
            (wall, _, out), = measure(cmd, 1)
            summary = json.loads(out.strip().splitlines()[-1])
            results[(seasons, partition, order)] = (wall, summary["peak_mib"], summary, dump)

        checks = []
        for seasons in dirs:
            base = results.get((seasons, "day", "in-order"))
            for key, (_, _, summary, dump) in results.items():
                if key[0] != seasons or key == (seasons, "day", "in-order"):
                    continue
                same = base[3].read_bytes() == dump.read_bytes()
                rows = len(base[3].read_text().splitlines())
                if not same:
                    sys.exit(f"{seasons} season(s), {key[1]} partitions, {key[2]}: the tables differ from day "
                             f"partitions in order")
                checks.append(f"{seasons} season(s), {key[1]} partitions, {key[2]}: the same {rows:,} rows, every "
                              "column equal, as day partitions delivered in order")
    load_after = os.getloadavg()

    print("gold-analytics with its Iceberg commits (release), on the emulator's S3 Tables")
    print("Same tables (checked before comparing):")
    for c in checks:
        print(f"- {c}")
    print()
    header = ["seasons", "partitions", "order", "dates", "whole run", "per-date commit, first 10 (median)",
              "per-date commit, last 10 (median)", "end / start", "largest batch (dates recomputed)",
              "manifests (player, team)", "peak RSS"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for (seasons, partition, order), (wall, peak, summary, _) in results.items():
        batches = summary["batches"]
        first = statistics.median(b["commit_s"] for b in batches[:10])
        last = statistics.median(b["commit_s"] for b in batches[-10:])
        largest = max(batches, key=lambda b: b["commit_s"])
        tables = summary["tables"]
        manifests = f"{tables['player_analytics']['manifests']}, {tables['team_analytics']['manifests']}"
        print("| " + " | ".join([str(seasons), partition, order, str(summary["dates"]), ms(summary["total_s"]),
                                 ms(first), ms(last), f"{last / first:.2f}x",
                                 f"{ms(largest['commit_s'])} ({largest['committed_dates']})", manifests,
                                 f"{peak:.1f} MiB"]) + " |")
    print("\ncommit = both tables' commits of a batch (GetTable, metadata, manifests, data files, manifest list, "
          "metadata, UpdateTableMetadataLocation); whole run = every batch's handler time (silver reads and "
          "analytics included).")
    print(f"machine: {os.cpu_count()} cores; 1-minute load average {load_before[0]:.1f} before, "
          f"{load_after[0]:.1f} after")
    base = results[(1, "day", "in-order")][2]["batches"]
    ratio = statistics.median(b["commit_s"] for b in base[-10:]) / statistics.median(b["commit_s"] for b in base[:10])
    verdict = "met" if ratio <= 1.5 else "**missed**"
    print(f"\n| target | measured | |\n|---|---|---|\n| per-date commit at the end of the season within 1.5x of "
          f"the start (day partitions, in order) | {ratio:.2f}x | {verdict} |")


if __name__ == "__main__":
    main()
