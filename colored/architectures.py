"""The architecture registry: ``config.arch`` -> network class, in the spirit of timm's
``register_model`` / ``create_model``.

colored.model defines the config, the backbone loader and the seed network; colored.unet builds
on them. Choosing the class by name used to live in colored.model, which then had to import
colored.unet back (a circle). The choice lives here, above both, so each network module imports
only downward, and a new architecture is one module plus one ``register_model`` line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from torch import nn

from colored.model import ARCHS, ColorizationNet, FusionNet, ModelConfig, create_backbone
from colored.unet import FusionUNet

_REGISTRY: dict[str, type[FusionNet]] = {}


def register_model(name: str) -> Callable[[type[FusionNet]], type[FusionNet]]:
    """Class decorator (or call) that makes ``ModelConfig(arch=name)`` build this class."""
    def add(cls: type[FusionNet]) -> type[FusionNet]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"architecture {name!r} is already registered ({_REGISTRY[name].__name__})")
        _REGISTRY[name] = cls
        return cls
    return add


register_model("seed")(ColorizationNet)
register_model("unet")(FusionUNet)
assert set(_REGISTRY) == set(ARCHS), "ModelConfig's ARCHS and the registry must name the same architectures"


def list_models() -> list[str]:
    """The registered architecture names."""
    return sorted(_REGISTRY)


def create_model(config: ModelConfig, backbone: nn.Module | None = None) -> FusionNet:
    """The network of ``config.arch`` (a random backbone unless one is given)."""
    try:
        cls = _REGISTRY[config.arch]
    except KeyError:
        raise ValueError(f"unknown arch {config.arch!r}; registered: {', '.join(list_models())}") from None
    return cls(config, backbone)


make_net = create_model  # the name training and checkpoints have always called it by


def build_model(
    config: ModelConfig, pretrained: bool = False, weights_file: str | Path | None = None
) -> FusionNet:
    """Create the network; with ``pretrained``/``weights_file`` the backbone gets ImageNet weights
    and its normalisation is taken from timm's pretrained config."""
    backbone, cfg = create_backbone(config.backbone, pretrained=pretrained, weights_file=weights_file)
    if "mean" in cfg and "std" in cfg:
        config = dataclasses.replace(config, backbone_mean=tuple(cfg["mean"]), backbone_std=tuple(cfg["std"]))
    return create_model(config, backbone)


__all__ = ["register_model", "create_model", "build_model", "make_net", "list_models"]
