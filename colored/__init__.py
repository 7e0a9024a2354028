"""ColorED: colorize black-and-white photo archives.

    from colored import colorize, Colorizer
    colorful = colorize(Image.open("scan.jpg"))      # PIL in, PIL out; arrays and paths too

The package is importable without PyTorch: `colored.color`, `colored.contract`
and `colored.metrics` are numpy-only and are shared by the runtime (`batch/`).
Modules that need torch (`colored.model`, `colored.train`, ...) import it themselves.

`colorize`, `Colorizer` and `ColoredError` are looked up lazily (module ``__getattr__``):
the API lives on top of the runtime (batch.api) and pulls in onnxruntime, which importing
`colored` or any base module under it (`colored.color`, ...) must not do.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> the module that defines it (imported at first use).
_LAZY = {"colorize": "batch.api", "Colorizer": "batch.api", "ColoredError": "colored.errors"}

__all__ = ["ColoredError", "Colorizer", "colorize", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'colored' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
