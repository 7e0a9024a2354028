"""A tiny real ColorED ONNX model for runtime tests, exported once per test process.

Import it from a test module (tests/ is on sys.path under pytest):
    from _tiny_model import tiny_model_path
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=None)
def tiny_model_path(image_size: int = 64, head: str = "regression", dynamic: bool = True) -> Path:
    """Export an untrained 64x64 ColorizationNet with a small timm test backbone; seeded, so repeatable.

    With the current contract: render sizes (multiples of 8 from 64 to 1024) and, for the
    classification head (real ab bins), the optional temperature input. `dynamic=False`: a
    fixed-size file as exported before render sizes existed.
    """
    import torch

    from colored import bins
    from colored.model import ModelConfig, build_model
    from export.onnx_export import export_model

    torch.manual_seed(0)
    model = build_model(
        ModelConfig(image_size=image_size, backbone="test_efficientnet", backbone_size=64, train_backbone=True,
                    head=head)
    ).eval()
    if head == "classification":
        model.set_bins(torch.tensor(bins.bin_centers(), dtype=torch.float32))
    out = Path(tempfile.mkdtemp(prefix="colored-tiny-")) / f"tiny-{head}.onnx"
    export_model(model, out, dynamic=dynamic)
    return out


def strip_contract(src: Path, dst: Path) -> Path:
    """A copy of an ONNX model without the ColorED metadata: what an arbitrary ONNX file looks like."""
    import onnx

    proto = onnx.load(str(src))
    del proto.metadata_props[:]
    onnx.save(proto, str(dst))
    return dst
