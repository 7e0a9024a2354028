"""Training checkpoints: one torch file carrying weights *and* the full model config.

A checkpoint is self-describing, so export and evaluation never need the
training command line or hub access to rebuild the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from colored import __version__
from colored.model import ColorizationNet, ModelConfig

FORMAT = "colored-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable or from an incompatible version."""


def config_hash(model_config: dict, train_config: dict | None = None) -> str:
    """Short stable hash of the configs, recorded in exports to identify a model's recipe."""
    blob = json.dumps({"model": model_config, "train": train_config or {}}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def save_checkpoint(path: str | Path, model: ColorizationNet, **extra: Any) -> None:
    """Write atomically (temp file + rename) so an interrupted save never leaves a truncated checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "colored_version": __version__,
        "model_config": model.config.to_dict(),
        "model": model.state_dict(),
        **extra,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_checkpoint(path: str | Path) -> dict:
    """Load and validate a checkpoint dict (on CPU). Raises CheckpointError with the reason."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # zip errors, unpickling errors, truncated files
        raise CheckpointError(f"{path}: not a readable ColorED checkpoint ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e
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


def load_model(path: str | Path) -> tuple[ColorizationNet, dict]:
    """Rebuild the network from a checkpoint (no hub access needed); returns (model in eval mode, ckpt)."""
    ckpt = read_checkpoint(path)
    try:
        config = ModelConfig.from_dict(ckpt["model_config"])
        model = ColorizationNet(config)
        model.load_state_dict(ckpt["model"])
    except Exception as e:
        raise CheckpointError(f"{path}: checkpoint does not match this ColorED's model ({type(e).__name__}: {e})") from e
    return model.eval(), ckpt
