"""The render settings against a model's contract: --render-size and --temperature are checked
once at start (one line, naming the option and the model) and normalised, so that asking for
the model's own values is the same run, and the same manifest fingerprint, as not asking."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from batch.settings import Settings
from colored.contract import ModelContract


def resolve(settings: Settings, contract: ModelContract, model: str | Path) -> Settings:
    """`settings` with render_size/temperature checked against `contract` and set to None where they
    equal the model's defaults; raises ValueError("--option N: MODEL: reason") for one it cannot run."""
    size = settings.render_size
    if size is not None:
        why = contract.render_size_error(size)
        if why is not None:
            raise ValueError(f"--render-size {size}: {model}: {why}")
        if size == contract.input_size:
            size = None
    t = settings.temperature
    if t is not None:
        if not contract.temperature_input:
            raise ValueError(f"--temperature {t:g}: {model}: this model has no temperature input "
                             "(only classification-head models exported with render sizes have one)")
        if t == contract.temperature:
            t = None
    return dataclasses.replace(settings, render_size=size, temperature=t)


def render_size(settings: Settings, contract: ModelContract) -> int:
    """The size S the network runs at."""
    return settings.render_size or contract.input_size


# Why --fit-small is refused with --engine ray (checked at the command line, before Ray starts,
# and by process_ray for callers that reach it directly).
FIT_SMALL_LOCAL_ONLY = "--fit-small runs on the local engine only (Ray batches have one input size)"


def fitted_size(height: int, width: int, size: int, sizes: tuple[int, int, int] | None) -> int:
    """--fit-small: the smallest render size of the model (``sizes`` = its min, max, step) that holds
    a ``height`` x ``width`` picture, when that is below ``size``; else ``size``. A 64 x 48 thumbnail
    runs at 128 instead of 256: a quarter of the network's work."""
    if sizes is None:
        return size
    lo, hi, step = sizes
    fit = max(lo, -(-max(height, width) // step) * step)
    return fit if fit < size and fit <= hi else size


def describe(settings: Settings, contract: ModelContract) -> str:
    """For the log: 'render 256x256, strength 1, T 0.38 (model default)'."""
    n = render_size(settings, contract)
    parts = [f"render {n}x{n}" + (" (model default)" if settings.render_size is None else ""),
             f"strength {settings.strength:g}"]
    if contract.temperature_input:
        t = settings.temperature if settings.temperature is not None else contract.temperature
        parts.append(f"T {t:g}" + (" (model default)" if settings.temperature is None else ""))
    if settings.fit_small:
        parts.append("smaller pictures at the render size that holds them")
    return ", ".join(parts)
