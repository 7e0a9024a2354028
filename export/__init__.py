"""Checkpoint -> one self-contained ONNX file carrying the ColorED model contract.

`export.onnx_export` writes the file, `export.verify` checks it against PyTorch,
`export.cli` is the `colored-export` command. Needs the `train` extra (torch, onnx).
"""

from export.onnx_export import export_checkpoint, export_model
from export.verify import verify_onnx

__all__ = ["export_checkpoint", "export_model", "verify_onnx"]
