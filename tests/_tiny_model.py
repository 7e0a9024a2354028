"""A tiny real ColorED ONNX model for runtime tests, exported once per test process.

Import it from a test module (tests/ is on sys.path under pytest):
    from _tiny_model import tiny_model_path
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=None)
def tiny_model_path(image_size: int = 64) -> Path:
    """Export an untrained 64x64 ColorizationNet with a small timm test backbone; seeded, so repeatable."""
    import torch

    from colored.model import ModelConfig, build_model
    from export.onnx_export import export_model

    torch.manual_seed(0)
    model = build_model(
        ModelConfig(image_size=image_size, backbone="test_efficientnet", backbone_size=64, train_backbone=True)
    ).eval()
    out = Path(tempfile.mkdtemp(prefix="colored-tiny-")) / "tiny.onnx"
    export_model(model, out)
    return out


def strip_contract(src: Path, dst: Path) -> Path:
    """A copy of an ONNX model without the ColorED metadata: what an arbitrary ONNX file looks like."""
    import onnx

    proto = onnx.load(str(src))
    del proto.metadata_props[:]
    onnx.save(proto, str(dst))
    return dst
