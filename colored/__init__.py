"""ColorED: colorize black-and-white photo archives.

The package is importable without PyTorch: `colored.color`, `colored.contract`
and `colored.metrics` are numpy-only and are shared by the runtime (`batch/`).
Modules that need torch (`colored.model`, `colored.train`, ...) import it themselves.
"""

__version__ = "0.1.0"
