"""Run colored-batch in a fresh interpreter where one module cannot be imported.

Import it from a test module (tests/ is on sys.path under pytest):
    from _cli import run_batch_cli_without
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_batch_cli_without(module: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """`colored-batch ARGS` with `module` blocked (sys.modules[module] = None makes its import fail),
    as on a machine where that optional dependency is not installed."""
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from batch.cli import main\n"
        f"main({[str(a) for a in args]!r})\n"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def start_batch(src: Path, out: Path, model: Path, *extra: str, capture: bool = False) -> subprocess.Popen:
    """colored-batch in a process of its own, one file at a time (so that it can be interrupted
    mid-run); stdout and stderr captured as text, or discarded."""
    import os

    cmd = [sys.executable, "-m", "batch.cli", str(src), str(out), "--model", str(model), "--no-progress",
           "--workers", "1", "--batch-size", "1", "--threads", "1", *extra]
    where = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(cmd, cwd=REPO, stdout=where, stderr=where, text=capture,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def wait_for_lines(proc: subprocess.Popen, path: Path, lines: int, timeout: float = 60) -> None:
    """Until `path` has `lines` lines (e.g. the manifest: files finished), or the process ended."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") >= lines:
            return
        time.sleep(0.01)
