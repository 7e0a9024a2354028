"""Issue 22 rows 1c and 9: a missing optional dependency is one line naming the extra, and
colored-export's help needs no torch.

Each command runs in a fresh interpreter where the module cannot be imported
(sys.modules[name] = None), as after the README's runtime-only quick start.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_without(modules: list[str], call: str, args: list[str] | None) -> subprocess.CompletedProcess:
    """`call(args)` (or, with args None, `call()` with sys.argv as given in `call`) without `modules`."""
    code = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
    code += f"{call}({'' if args is None else repr(args)})\n"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)


def only_line(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize("command, call, args, blocked, code", [
    ("colored-train", "from colored.train_cli import cli; cli", ["photos", "--out", "run"], ["torch"], 1),
    ("colored-export", "from export.cli import main; main", ["run/best.pt"], ["torch"], 2),
    ("colored-eval", "from colored.evaluation.cli import main; main", ["default", "."], ["skimage"], 2),
    ("colored-eval", "from colored.evaluation.cli import main; main", ["default", "."], ["onnxruntime"], 2),
])
def test_missing_extra_is_one_line(tmp_path, command, call, args, blocked, code):
    proc = run_without(blocked, call, args)
    line = only_line(proc)
    assert proc.returncode == code, proc.stderr
    assert line.startswith(f"error: {command} needs the ") and f"(no module {blocked[0]})" in line, line
    assert 'pip install "colored-toolkit[train,cpu]"' in line


def test_colored_batch_without_onnxruntime_names_the_cpu_extra():
    """The console script's launcher: batch.cli imports onnxruntime at its top."""
    proc = run_without(["onnxruntime"], "sys.argv = ['colored-batch', 'in', 'out']\n"
                       "from colored.extras import colored_batch\ncolored_batch", None)
    line = only_line(proc)
    assert proc.returncode == 2
    assert "colored-batch needs the 'cpu' extra (or 'gpu'" in line and 'pip install "colored-toolkit[cpu]"' in line


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_export_help_needs_no_torch(flag):
    """Row 9: -h is accepted, and help is printed before torch (or onnx) is imported."""
    proc = run_without(["torch", "onnx"], "from export.cli import main; main", [flag])
    assert proc.returncode == 0, proc.stderr
    assert "Export a ColorED training CHECKPOINT" in proc.stdout and "--fp16" in proc.stdout


def test_other_import_errors_still_raise():
    from colored.extras import install_hint, missing_module

    assert missing_module(ModuleNotFoundError("No module named 'colored.nope'", name="colored.nope")) is None
    assert missing_module(ModuleNotFoundError("x", name="onnx.helper")) == "onnx"
    assert "the 'train' extra (no module timm)" in install_hint("colored-train", "timm", ("train", "cpu"))
