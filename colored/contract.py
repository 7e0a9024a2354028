"""The model contract: what an exported ColorED ONNX file promises its runtime.

The exporter writes these keys into the ONNX ``metadata_props``; the runtime
(`batch/`) reads them and refuses a model without them. numpy-free and torch-free.

Graph signature (contract version 1):
    input  "L"  float32 (N, 1, S, S): CIE L* in [0, 100] of the image resized to S x S
    output "ab" float32 (N, 2, S, S): CIE a*, b* in Lab units (about [-128, 128])
Colour space: CIE Lab, D65 white, 2-degree observer, sRGB primaries and transfer curve.
Everything model-specific (scaling, the backbone's grey copy and normalisation,
decode of the output head) is inside the graph.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

CONTRACT_VERSION = 1
PREFIX = "colored."
INPUT_NAME = "L"
OUTPUT_NAME = "ab"
COLOR_SPACE = "CIELAB-D65/sRGB"


class ContractError(ValueError):
    """A model file lacks the ColorED contract or has an incompatible one."""


@dataclass(frozen=True)
class ModelContract:
    input_size: int
    model_id: str
    config_hash: str
    precision: str = "fp32"
    contract_version: int = CONTRACT_VERSION
    input_name: str = INPUT_NAME
    output_name: str = OUTPUT_NAME
    input_range: tuple[float, float] = (0.0, 100.0)
    output_scale: str = "lab"
    color_space: str = COLOR_SPACE
    model_config: dict = field(default_factory=dict, compare=False)
    train_config: dict = field(default_factory=dict, compare=False)

    def to_metadata(self) -> dict[str, str]:
        """String key/values for ONNX metadata_props."""
        return {
            PREFIX + "contract_version": str(self.contract_version),
            PREFIX + "input_name": self.input_name,
            PREFIX + "output_name": self.output_name,
            PREFIX + "input_size": str(self.input_size),
            PREFIX + "input_range": f"{self.input_range[0]:g},{self.input_range[1]:g}",
            PREFIX + "output_scale": self.output_scale,
            PREFIX + "color_space": self.color_space,
            PREFIX + "model_id": self.model_id,
            PREFIX + "config_hash": self.config_hash,
            PREFIX + "precision": self.precision,
            PREFIX + "model_config": json.dumps(self.model_config, sort_keys=True),
            PREFIX + "train_config": json.dumps(self.train_config, sort_keys=True, default=str),
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str], source: str = "model") -> "ModelContract":
        """Parse metadata_props; raises ContractError naming the source and the problem."""
        if PREFIX + "contract_version" not in meta:
            raise ContractError(
                f"{source}: not a ColorED model (no '{PREFIX}contract_version' metadata). "
                "Export a checkpoint with `colored-export CHECKPOINT` to get a model the runtime accepts."
            )
        try:
            version = int(meta[PREFIX + "contract_version"])
        except ValueError:
            raise ContractError(f"{source}: unreadable contract version {meta[PREFIX + 'contract_version']!r}") from None
        if version != CONTRACT_VERSION:
            raise ContractError(
                f"{source}: model contract version {version}, this runtime speaks version {CONTRACT_VERSION}"
            )
        try:
            lo, hi = (float(v) for v in meta[PREFIX + "input_range"].split(","))
            contract = cls(
                input_size=int(meta[PREFIX + "input_size"]),
                model_id=meta[PREFIX + "model_id"],
                config_hash=meta[PREFIX + "config_hash"],
                precision=meta.get(PREFIX + "precision", "fp32"),
                contract_version=version,
                input_name=meta[PREFIX + "input_name"],
                output_name=meta[PREFIX + "output_name"],
                input_range=(lo, hi),
                output_scale=meta[PREFIX + "output_scale"],
                color_space=meta[PREFIX + "color_space"],
                model_config=json.loads(meta.get(PREFIX + "model_config", "{}")),
                train_config=json.loads(meta.get(PREFIX + "train_config", "{}")),
            )
        except (KeyError, ValueError) as e:
            raise ContractError(f"{source}: incomplete or malformed ColorED metadata ({type(e).__name__}: {e})") from None
        if contract.output_scale != "lab" or contract.color_space != COLOR_SPACE:
            raise ContractError(
                f"{source}: unsupported output scale/colour space {contract.output_scale!r}/{contract.color_space!r}"
            )
        return contract
