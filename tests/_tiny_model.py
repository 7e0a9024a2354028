"""A tiny real ColorED ONNX model for runtime tests, exported once per test process.

Import it from a test module (tests/ is on sys.path under pytest):
    from _tiny_model import tiny_model_path

Where torch is not installed (the CI's torch-free step), tiny_model_path() hands out the
committed tests/fixtures/tiny-regression.onnx instead (see tests/fixtures/make_tiny_model.py),
and the other variants skip the test that asks for them.
"""

from __future__ import annotations

import importlib.util
import tempfile
from functools import lru_cache
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "tiny-regression.onnx"


def have_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


@lru_cache(maxsize=None)
def tiny_model_path(image_size: int = 64, head: str = "regression", dynamic: bool = True) -> Path:
    """Export an untrained 64x64 ColorizationNet with a small timm test backbone; seeded, so repeatable.

    With the current contract: render sizes (multiples of 8 from 64 to 1024) and, for the
    classification head (real ab bins), the optional temperature input. `dynamic=False`: a
    fixed-size file as exported before render sizes existed.

    Without torch: the committed fixture for the default arguments, else the test is skipped.
    """
    if not have_torch():
        if (image_size, head, dynamic) == (64, "regression", True):
            return FIXTURE
        pytest.skip(f"needs torch to export the tiny {head} model (dynamic={dynamic}): the 'train' extra")
    import torch

    from colored import bins
    from colored.architectures import build_model
    from colored.model import ModelConfig
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
    onnx = pytest.importorskip("onnx", reason="needs the onnx package (the 'train' extra)")

    proto = onnx.load(str(src))
    del proto.metadata_props[:]
    onnx.save(proto, str(dst))
    return dst
