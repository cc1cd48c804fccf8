#!/usr/bin/env python3
"""Benchmark of `pipewright check` + `generate` against cfn-lint, side by side in one run.

For synthetic specs of 1, 10, 100 and 1,000 stages (`pipewright synth`) and the hoopstat-haus
spec, prints the wall time (best of N runs) and peak memory (max RSS of the process) of
`pipewright check`, `pipewright generate`, and `cfn-lint` on the template pipewright generated.

    python3 scripts/bench-core.py            # builds the offline gate (release) first
    python3 scripts/bench-core.py --runs 10 --sizes 1,10,100,1000
    python3 scripts/bench-core.py --bin /tmp/pipewright-of-another-commit --lint-runs 0

The release binary of the offline gate (`--no-default-features`, the build a CI job installs) goes to
target/gate/release/pipewright; its check and generate are the same code as the full tool's.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GATE = ROOT / "target" / "gate" / "release" / "pipewright"


# Spawns one command and reports its wall time, peak RSS and exit code. It runs in a fresh, small
# interpreter: a child's peak RSS includes the memory of whatever spawned it until exec, so spawning
# from this (growing) process would inflate small measurements.
RUNNER = r"""
import os, sys, time
limit = float(sys.argv[1])
cmd = sys.argv[2:]
err = open(os.environ["BENCH_STDERR"], "wb")
start = time.perf_counter()
child = os.posix_spawnp(cmd[0], cmd, os.environ, file_actions=[
    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
while True:
    pid, status, usage = os.wait4(child, os.WNOHANG)
    if pid:
        break
    if limit and time.perf_counter() - start > limit:
        os.kill(child, 9); os.wait4(child, 0); print("killed"); sys.exit()
    time.sleep(0.0005)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def measure(cmd, runs, ok=(0,), limit=None):
    """Best wall time (s) and peak RSS (MiB) over `runs` runs, each child measured on its own (wait4).
    A run over `limit` seconds is killed and reported as (None, None)."""
    best, peak = float("inf"), 0.0
    for _ in range(runs):
        with tempfile.NamedTemporaryFile() as err:
            out = subprocess.run([sys.executable, "-S", "-c", RUNNER, str(limit or 0), *map(str, cmd)],
                                 capture_output=True, text=True, env={**os.environ, "BENCH_STDERR": err.name},
                                 check=True).stdout.split()
            if out == ["killed"]:
                return None, None
            elapsed, maxrss, code = float(out[0]), int(out[1]), int(out[2])
            if code not in ok:
                sys.exit(f"command failed ({code}): {' '.join(map(str, cmd))}\n{Path(err.name).read_text()}")
        best = min(best, elapsed)
        peak = max(peak, maxrss / 1024.0)  # ru_maxrss is KiB on Linux
    return best, peak


def fmt_time(s):
    return f"{s * 1000:9.1f} ms" if s < 10 else f"{s:9.1f} s "


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="runs per measurement (best is reported)")
    ap.add_argument("--sizes", default="1,10,100,1000", help="stage counts of the synthetic specs")
    ap.add_argument("--lint-runs", type=int, default=1, help="runs of cfn-lint per size")
    ap.add_argument("--lint-limit", type=int, default=120, help="seconds after which cfn-lint is stopped")
    ap.add_argument("--no-build", action="store_true", help="use the existing release binary")
    ap.add_argument("--bin", type=Path, help="measure this pipewright binary instead (no build)")
    args = ap.parse_args()

    global BIN
    BIN = args.bin or GATE
    if not args.no_build and not args.bin:
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet", "--no-default-features", "--bin",
                        "pipewright", "--target-dir", str(ROOT / "target" / "gate")], cwd=ROOT, check=True)
    # `--append-rules=` with `=`: the option takes several values and would swallow the template.
    lint = ["cfn-lint", "--append-rules=cfn_lint_serverless.rules", "--"]
    version = subprocess.run(["cfn-lint", "--version"], capture_output=True, text=True).stdout.strip()

    print(f"pipewright {BIN.name} (release) vs {version}; best of {args.runs} (cfn-lint: {args.lint_runs})")
    print(f"{'spec':<16}{'resources':>10} | {'check':>12}{'peak':>9} | {'generate':>12}{'peak':>9} | "
          f"{'check+gen':>12} | {'cfn-lint':>12}{'peak':>9} | {'lint/pw':>8}")
    print("-" * 132)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = []
        for n in [int(s) for s in args.sizes.split(",") if s]:
            spec = tmp / f"synth-{n}.yaml"
            spec.write_text(subprocess.run([BIN, "synth", "--stages", str(n)], capture_output=True, text=True,
                                           check=True).stdout)
            cases.append((f"synthetic {n}", spec))
        cases.append(("hoopstat-haus", ROOT / "specs" / "hoopstat-haus.yaml"))
        for label, spec in cases:
            out = tmp / "out"
            check_t, check_m = measure([BIN, "--color", "never", "check", spec], args.runs, ok=(0, 1))
            gen_t, gen_m = measure([BIN, "generate", spec, "--out", out], args.runs)
            template = out / spec.stem / "template.yaml"
            resources = sum(1 for line in template.read_text().splitlines()
                            if line.startswith("    Type: "))
            # cfn-lint exits 2/4/8 (bit mask) on findings: a 1,000-stage stack exceeds CloudFormation's
            # 500-resource limit, which cfn-lint reports. Only the time matters here.
            lint_t, lint_m = (measure(lint + [str(template)], args.lint_runs, ok=range(0, 32), limit=args.lint_limit)
                              if args.lint_runs else (None, None))
            total = check_t + gen_t
            lint_col = (f"{fmt_time(lint_t)}{lint_m:>6.1f} MiB | {lint_t / total:>7.0f}x" if lint_t is not None
                        else f"  > {args.lint_limit:>4} s   (killed)  |        -" if args.lint_runs
                        else f"{'not run':>28} |        -")
            print(f"{label:<16}{resources:>10} | {fmt_time(check_t)}{check_m:>6.1f} MiB | {fmt_time(gen_t)}"
                  f"{gen_m:>6.1f} MiB | {fmt_time(total)} | {lint_col}")
    print("\ntargets: hoopstat-haus check+generate < 50 ms; 1,000 stages < 1 s, growing linearly")


if __name__ == "__main__":
    main()
