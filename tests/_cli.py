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
