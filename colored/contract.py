"""The model contract: what an exported ColorED ONNX file promises its runtime.

The exporter writes these keys into the ONNX ``metadata_props``; the runtime
(`batch/`) reads them and refuses a model without them. numpy-free and torch-free.

Graph signature (contract version 1):
    input  "L"  float32 (N, 1, S, S): CIE L* in [0, 100] of the image resized to S x S
    output "ab" float32 (N, 2, S, S): CIE a*, b* in Lab units (about [-128, 128])
Colour space: CIE Lab, D65 white, 2-degree observer, sRGB primaries and transfer curve.

Optional keys (models exported since render sizes exist; older files lack them and keep
working at their one size S):
    render_size_min/max/step  S may be any multiple of `step` in [min, max] (input_size is
                              the default, the size the model was trained at)
    temperature, temperature_input  the annealed-mean T of a classification head and the
                              name of the optional scalar graph input that overrides it
                              (an input with a default initializer: feeding it is optional)
    confidence_output           the name of an optional second output, float32 (N, 1, S, S) in
                              [0, 1]: how sure a classification head is at each pixel (1 - the
                              normalised entropy of its bin distribution, colored.model.confidence_map).
                              Models without it (regression heads, older files) have no confidence.
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
TEMPERATURE_INPUT = "T"
CONFIDENCE_OUTPUT = "confidence"
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
    render_sizes: tuple[int, int, int] | None = None  # (min, max, step); None: input_size only
    temperature: float | None = None  # default annealed-mean T; None: no temperature input
    temperature_input: str | None = None
    confidence_output: str | None = None  # optional per-pixel confidence output; None: the model has none

    @property
    def dynamic_size(self) -> bool:
        """True when the graph runs at other sizes than input_size."""
        return self.render_sizes is not None

    def describe_sizes(self) -> str:
        """The render sizes in words, e.g. 'multiples of 32 from 128 to 1024 (default 256)'."""
        if self.render_sizes is None:
            return f"only {self.input_size} (a fixed-size model)"
        lo, hi, step = self.render_sizes
        return f"multiples of {step} from {lo} to {hi} (default {self.input_size})"

    def render_size_error(self, size: int) -> str | None:
        """Why this model cannot run at `size`, or None when it can."""
        if size == self.input_size:
            return None
        if self.render_sizes is None:
            return (f"this model runs only at its fixed size {self.input_size} (exported without render sizes "
                    "in its contract); re-export its checkpoint with colored-export to choose another size")
        lo, hi, step = self.render_sizes
        if lo <= size <= hi and size % step == 0:
            return None
        return f"this model accepts render sizes that are {self.describe_sizes()}"

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
            **self._optional_metadata(),
        }

    def _optional_metadata(self) -> dict[str, str]:
        out = {}
        if self.render_sizes is not None:
            for key, value in zip(("min", "max", "step"), self.render_sizes):
                out[f"{PREFIX}render_size_{key}"] = str(value)
        if self.temperature is not None:
            out[PREFIX + "temperature"] = repr(float(self.temperature))
            out[PREFIX + "temperature_input"] = self.temperature_input or ""
        if self.confidence_output:
            out[PREFIX + "confidence_output"] = self.confidence_output
        return out

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
                render_sizes=_render_sizes(meta),
                temperature=float(meta[PREFIX + "temperature"]) if PREFIX + "temperature" in meta else None,
                temperature_input=meta.get(PREFIX + "temperature_input") or None,
                confidence_output=meta.get(PREFIX + "confidence_output") or None,
            )
        except (KeyError, ValueError) as e:
            raise ContractError(f"{source}: incomplete or malformed ColorED metadata ({type(e).__name__}: {e})") from None
        if contract.output_scale != "lab" or contract.color_space != COLOR_SPACE:
            raise ContractError(
                f"{source}: unsupported output scale/colour space {contract.output_scale!r}/{contract.color_space!r}"
            )
        return contract


def _render_sizes(meta: dict[str, str]) -> tuple[int, int, int] | None:
    keys = [f"{PREFIX}render_size_{k}" for k in ("min", "max", "step")]
    if not any(k in meta for k in keys):
        return None  # a model from before render sizes: its one size is input_size
    lo, hi, step = (int(meta[k]) for k in keys)  # KeyError/ValueError: reported as malformed
    if not (0 < lo <= hi and step > 0):
        raise ValueError(f"render sizes {lo}..{hi} step {step}")
    return lo, hi, step
