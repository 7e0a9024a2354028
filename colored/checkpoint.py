"""Training checkpoints: one torch file carrying weights *and* the full model config.

A checkpoint is self-describing, so export and evaluation never need the
training command line or hub access to rebuild the network.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from colored import __version__
from colored.atomic import atomic_path
from colored.architectures import make_net
from colored.model import FusionNet, ModelConfig

FORMAT = "colored-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or from an incompatible version."""


def config_hash(model_config: dict, train_config: dict | None = None) -> str:
    """Short stable hash of the configs, recorded in exports to identify a model's recipe."""
    blob = json.dumps({"model": model_config, "train": train_config or {}}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def save_checkpoint(path: str | Path, model: FusionNet, **extra: Any) -> None:
    """Write atomically (temp file + rename) so an interrupted save never leaves a truncated checkpoint."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "colored_version": __version__,
        "model_config": model.config.to_dict(),
        "model": model.state_dict(),
        **extra,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path: str | Path) -> dict:
    """Load and validate a checkpoint dict (on CPU). Raises CheckpointError with the reason."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's pickle-protocol chatter adds nothing here
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # weights_only refuses arbitrary objects: say so plainly instead of torch's
        # advice to disable the safety check.
        raise CheckpointError(
            f"{path}: not a ColorED checkpoint (torch cannot read it as tensors and plain values: "
            "a different kind of file, or one holding Python objects, which are not unpickled for safety)"
        ) from e
    except Exception as e:  # zip errors, truncated or corrupt files
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({_first_sentence(e)})") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a ColorED checkpoint (no '{FORMAT}' header); was it written by colored-train?")
    version = ckpt.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} is not supported by this ColorED "
            f"({__version__}, format {FORMAT_VERSION}); use the ColorED version that wrote it "
            f"({ckpt.get('colored_version', 'unknown')})"
        )
    return ckpt


def _first_sentence(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text.split(". ")[0].rstrip(".")


def load_model(path: str | Path) -> tuple[FusionNet, dict]:
    """Rebuild the network from a checkpoint (no hub access needed); returns (model in eval mode, ckpt)."""
    ckpt = read_checkpoint(path)
    try:
        config = ModelConfig.from_dict(ckpt["model_config"])
        model = make_net(config)
        model.load_state_dict(ckpt["model"])
    except Exception as e:
        raise CheckpointError(f"{path}: checkpoint does not match this ColorED's model ({type(e).__name__}: {e})") from e
    return model.eval(), ckpt
