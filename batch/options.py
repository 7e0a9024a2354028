"""The command-line options colored-batch and colored-watch share, defined once.

They mean exactly the same for both commands (same names, defaults and help), so they live in
this neutral module that both command modules import, instead of colored-watch importing
colored-batch's command module and copying its parameters at import time.
"""

from __future__ import annotations

from pathlib import Path

import click

from batch.jobs import PlanError
from batch.session import DEVICES
from batch.settings import FORMATS, MAX_STRENGTH, Settings

BATCH_SIZE = 4  # images per network call (colored.Colorizer pads to it too, for the same pixels)

MODEL = click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="ColorED ONNX model (from colored-export). Default: the model shipped with the package.")
FORMAT = click.option("--format", "fmt", type=click.Choice(FORMATS), default="keep", show_default=True,
                      help="Output format; 'keep' writes the input's format where it can (else PNG).")
SUFFIX = click.option("--suffix", default="", show_default=True,
                      help="Appended to output file names: a.tif -> a<suffix>.tif.")
QUALITY = click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True,
                       help="JPEG/WebP quality.")
SKIP_COLOR = click.option("--skip-color", is_flag=True,
                          help="Leave images that already have colour alone (default: recolorize from their luminance).")
DEVICE = click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
                      help="Where the network runs; auto picks TensorRT > CUDA > CPU. An explicit GPU device that "
                           "cannot start is an error.")
THREADS = click.option("--threads", type=click.IntRange(1), default=None,
                       help="CPU threads for the network (intra-op). Default: all cores.")
BATCH = click.option("--batch-size", type=click.IntRange(1), default=BATCH_SIZE, show_default=True,
                     help="Images per network call.")
MAX_PIXELS = click.option("--max-pixels", type=click.IntRange(1), default=Settings().max_pixels, show_default=True,
                          help="Larger images are recorded as failed instead of exhausting memory.")
RENDER_SIZE = click.option("--render-size", type=click.IntRange(1), default=None, metavar="N",
                           help="Size the network sees (N x N), as DeOldify's render factor: lower is steadier and more "
                                "saturated, higher follows detail. Allowed sizes are in the model's contract. "
                                "Default: the size the model was trained at.")
STRENGTH = click.option("--strength", type=click.FloatRange(0.0, MAX_STRENGTH), default=1.0, show_default=True,
                        help="Colour strength: 0 grey, 1 the model's colours, up to 2 (chroma scaled, clipped to sRGB).")
TEMPERATURE = click.option("--temperature", type=click.FloatRange(0.0, min_open=True), default=None, metavar="T",
                           help="Annealed-mean temperature of a classification model: lower is more vivid, higher "
                                "safer and browner. Default: the model's own (see its contract).")
OVERWRITE = click.option("--overwrite", is_flag=True,
                         help="Replace files in OUTPUT_DIR that have an output's name but were not written by "
                              "ColorED (without it they are left alone and reported as skipped).")
PREVIEW_COUNT = click.option("--preview-count", type=click.IntRange(1), default=12, show_default=True,
                             help="Pairs on the --preview sheet (colored-batch: sampled across sub-folders; "
                                  "colored-watch: the latest files).")

# In colored-batch's --help order; colored-watch shows them in this order after its two folders.
SHARED = (MODEL, FORMAT, SUFFIX, QUALITY, SKIP_COLOR, DEVICE, THREADS, BATCH, MAX_PIXELS, RENDER_SIZE, STRENGTH,
          TEMPERATURE, PREVIEW_COUNT)


def preview_option(help: str):  # noqa: A002 - click's name
    """--preview SHEET.png, as colored-batch and colored-watch both take it (with their own help)."""
    return click.option("--preview", "preview_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        metavar="SHEET.png", help=help)


def check_preview_path(path: Path, input_dir: Path) -> None:
    """--preview must be a .png that does not land among the inputs; raises PlanError."""
    if path.suffix.lower() != ".png":
        raise PlanError(f"--preview {path}: the sheet is a PNG; give a name ending in .png")
    if path.resolve().is_relative_to(input_dir.resolve()):
        raise PlanError(f"--preview {path}: must not be inside the input folder {input_dir}")


def with_shared_options(command: click.Command, at: int = 2) -> click.Command:
    """``command`` with the SHARED options inserted at position ``at`` of its parameters (after the
    two folder arguments): for a command whose own options are declared as decorators."""
    def holder() -> None:
        """Only collects the options' parameters."""
    for option in reversed(SHARED):
        holder = option(holder)
    command.params[at:at] = click.command()(holder).params
    return command


__all__ = ["BATCH_SIZE", "SHARED", "preview_option", "check_preview_path", "with_shared_options"] + [
    "MODEL", "FORMAT", "SUFFIX", "QUALITY", "SKIP_COLOR", "DEVICE", "THREADS", "BATCH", "MAX_PIXELS", "RENDER_SIZE",
    "STRENGTH", "TEMPERATURE", "PREVIEW_COUNT"]
