"""Checkpoint -> one self-contained ONNX file carrying the ColorED model contract.

`export.onnx_export` writes the file, `export.verify` checks it against PyTorch,
`export.cli` is the `colored-export` command. Needs the `train` extra (torch, onnx).
The names below are imported on first use, so `colored-export --help` (which imports
this package) answers at once and without torch.
"""

import importlib

_HOME = {"export_checkpoint": "export.onnx_export", "export_model": "export.onnx_export",
         "verify_onnx": "export.verify"}


def __getattr__(name: str):
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'export' has no attribute {name!r}")


__all__ = ["export_checkpoint", "export_model", "verify_onnx"]
