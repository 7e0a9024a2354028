"""colored-eval: score an exported model on colour photos against the gray, tint and MSE baselines."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from colored.extras import needs_extras
from colored.signals import Stop

EXIT_CANNOT_START = 2  # as colored-batch and colored-export: bad data, model or output folder


class StartError(click.ClickException):
    """The evaluation could not start or had nothing to evaluate: one line, exit status 2."""

    exit_code = EXIT_CANNOT_START


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("model", metavar="MODEL")
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option("--baseline", "baselines", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Another exported model to compare with, e.g. the MSE recipe trained with the same "
                   "budget. Repeatable; each one becomes a column of the contact sheet.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("eval"),
              show_default=True, help="Writes metrics.json, metrics.md and contact-sheet.png here.")
@click.option("--size", type=click.IntRange(32), default=384, show_default=True,
              help="Photos are shrunk so their long side is at most this many pixels (never enlarged).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Evaluate only the first N colour photos (sorted by path).")
@click.option("--sheet-rows", type=click.IntRange(1), default=8, show_default=True,
              help="Photos shown in the contact sheet, drawn round-robin across the sub-folders of DATA "
                   "so that each one is represented.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Which photos the contact sheet draws: the same seed gives the same photos.")
@click.option("--thumb", type=click.IntRange(32), default=160, show_default=True, help="Contact-sheet cell size in pixels.")
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads for onnxruntime. Default: all cores.")
@click.option("--best-tint", is_flag=True,
              help="Add the best constant tint: the one a*, b* with the highest mean PSNR on these very photos "
                   "(fitted on them, an oracle no constant colour can beat), and each model's lead over it.")
@click.option("--quiet", is_flag=True, help="No progress bar (by default one per method, on stderr).")
def main(model: str, data: Path, baselines: tuple[Path, ...], out_dir: Path, size: int, limit: int | None,
         sheet_rows: int, seed: int, thumb: int, threads: int | None, best_tint: bool, quiet: bool) -> None:
    """Score MODEL (an exported .onnx, or `default` for the model shipped with ColorED) on the
    colour photos in DATA (a folder, searched recursively, or one file).

    Each photo is made grey through CIE L* and colorized exactly as colored-batch would do
    it; the result is compared with the original. Grey pictures in DATA are skipped.

    \b
    Metrics (higher is better unless marked):
      PSNR, SSIM     fidelity of the RGB result to the original (per image, averaged)
      AuC            % area under the curve of pixels whose ab error <= t, t = 0..150
      AuC chroma>20  the same, over the original's coloured pixels only (chroma > 20)
      colorfulness   Hasler & Suesstrunk 2003, mean over outputs (the original's is shown too)
      dCF (lower)    |mean colorfulness(outputs) - mean colorfulness(originals)|
      green recall   % of the original's green pixels (a* < -10) output green (a* < -5)
      blue recall    % of the original's blue pixels (b* < -10) output blue (b* < -5)
      red recall     % of the original's red pixels (a* > 20) output red (a* > 10)
      false colour   % of the original's neutral pixels (chroma < 5) output clearly
        (lower)      coloured (chroma >= 15): blotches on walls, shadows, streets
    AuC chroma>20, the recalls and false colour pool pixels over the set; "–" means
    no such pixel (and, for the tint, that one constant colour has no recall).
    Every figure has its standard error over the photos (±), and each model's lead
    over grey and tint is given as the mean per-photo difference with its SE.
    Two baselines are always included. The gray baseline (the grey image itself,
    ab = 0): a model must beat its colorfulness, and on AuC it is a strong baseline
    that sepia-ish MSE models barely pass. The tint baseline (MODEL's own mean a*, b*
    as one colour on every photo): a model that only learned a cast scores like it,
    and only the recalls and AuC chroma>20 tell real colours from a cast.
    With photos in sub-folders of DATA, metrics.md and metrics.json also give every
    number per top-level sub-folder ("." for photos directly in DATA).

    \b
    Example:
      colored-eval default data/default-model/images/test \\
          --baseline runs/mse/model.onnx --out eval/default \\
          --sheet-rows 12 --seed 3 --quiet
    """
    stop = Stop()
    try:
        with needs_extras("colored-eval", ("train", "cpu"), EXIT_CANNOT_START):
            _evaluate(model, data, baselines, out_dir, size, limit, sheet_rows, seed, thumb, threads, best_tint, quiet)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the results are written atomically at the end
        click.echo("\ncolored-eval: interrupted (no result file is half-written)", err=True)
        sys.exit(stop.exit_code)


def _evaluate(model: str, data: Path, baselines: tuple[Path, ...], out_dir: Path, size: int, limit: int | None,
              sheet_rows: int, seed: int, thumb: int, threads: int | None, best_tint: bool, quiet: bool) -> None:
    import onnxruntime  # noqa: F401 - both needed later: a missing one is one line now, not after the work
    import skimage.metrics  # noqa: F401

    from colored.atomic import unwritable_folder
    from colored.evaluation.evaluate import (
        EvalError,
        contact_sheet,
        evaluate,
        load_photos,
        markdown_table,
        onnx_colorizer,
        sample_rows,
        write_outputs,
    )

    problem = unwritable_folder(out_dir)  # before the evaluation's minutes, not after them
    if problem:
        raise StartError(f"{out_dir}: cannot write the results there: {problem}")
    try:
        photos, skipped = load_photos(data, size, limit, strict=False)
        for line in skipped:  # every file left out, with its reason
            click.echo(f"skipped {line}", err=True)
        if not photos:
            raise EvalError(f"{data}: no colour photos to evaluate ({len(skipped)} skipped, each named above)")
        colorizers, models = {}, {}
        for label, path in [("ours", None if model == "default" else Path(model))] + [
            (f"baseline: {p.stem}" if len(baselines) > 1 else "MSE baseline", p) for p in baselines
        ]:
            if path is not None and not path.is_file():
                raise EvalError(f"{path}: no such model file (pass an exported .onnx or `default`)")
            fn, info = onnx_colorizer(path, threads)
            name = f"{label} ({Path(info['file']).name})"
            colorizers[name], models[name] = fn, info
        click.echo(f"evaluating {len(photos)} photos at long side <= {size} px", err=True)
        rows = sample_rows(photos, sheet_rows, seed)
        report, outputs = evaluate(photos, colorizers, data=str(data), size=size, keep=rows, progress=not quiet,
                                   with_best_tint=best_tint)
        report.models = models
        sheet = contact_sheet([photos[i] for i in rows], outputs, thumb=thumb)
        paths = write_outputs(report, sheet, out_dir)
    except EvalError as e:
        raise StartError(str(e)) from None
    except OSError as e:  # the output folder went away or filled up meanwhile
        from colored.atomic import write_reason

        raise click.ClickException(f"{e.filename or out_dir}: {write_reason(e)}") from None
    except Exception as e:  # SessionError and friends: say what, not a traceback
        if type(e).__name__ in ("SessionError", "ContractError", "ImageError"):
            raise StartError(str(e)) from None
        raise
    click.echo(markdown_table(report))
    click.echo(f"wrote {paths['json']}, {paths['markdown']}, {paths['sheet']}", err=True)


if __name__ == "__main__":
    sys.exit(main())
