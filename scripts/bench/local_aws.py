"""The local AWS emulator for the benchmark scripts that need one (bench-ops, bench-verify,
bench-eventbridge): pipewright's patched moto launcher on a free port."""

import subprocess
import sys
from pathlib import Path

LAUNCHER = Path(__file__).resolve().parent.parent / "emulator" / "pipewright_moto.py"


def start_emulator():
    """Starts the emulator; returns its process and endpoint URL, or exits when it does not start."""
    proc = subprocess.Popen([sys.executable, str(LAUNCHER), "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    if not line.startswith("pipewright-moto ready "):
        proc.kill()
        sys.exit(f"the emulator did not start: {line!r}")
    return proc, line.split()[-1]
