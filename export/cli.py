"""`colored-export`: training checkpoint -> one verified, self-contained .onnx file."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from colored.extras import needs_extras
from colored.signals import Stop

EXIT_BAD_INPUT = 2  # missing/corrupt/incompatible checkpoint, unusable output path
EXIT_FAILED = 1  # export or verification failed


def _fail(where: object, reason: str, code: int) -> None:
    """One line, no traceback: `error: <file>: <reason>`."""
    click.echo(f"error: {where}: {reason}", err=True)
    sys.exit(code)


def _batch_sizes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter("batch sizes must be positive integers")
    return sizes


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


class Steps:
    """One line per step on stdout as it starts, with the time since the start: an fp16 export of
    the unet model takes minutes on a CPU, and a silent command looks hung. (stderr stays for
    the one-line error.)"""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self, what: str) -> None:
        click.echo(f"  [{time.perf_counter() - self.t0:6.1f} s] {what}")


@click.command(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  colored-export runs/exp1/model.pt                 # -> runs/exp1/model.onnx, verified
  colored-export model.pt -o deploy/colored.onnx
  colored-export model.pt --fp16 -o colored-fp16.onnx   # half the size, float32 I/O
  colored-export model.pt --no-verify --opset 20
"""
)
@click.argument("checkpoint", type=click.Path(path_type=Path, dir_okay=True))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where to write the .onnx file. Default: next to the checkpoint, with a .onnx suffix.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="onnx.checker full check, then onnxruntime vs PyTorch on sample photos; "
                   "the file is only written if the difference is within tolerance.")
@click.option("--fp16", is_flag=True, help="fp16 weights and compute inside, float32 input/output (about half the size).")
@click.option("--opset", type=click.IntRange(min=18), default=18, show_default=True, help="ONNX opset (18 or newer).")
@click.option("--batch-sizes", default="1,2,3", show_default=True, callback=_batch_sizes,
              help="Batch sizes to verify at (the batch axis is dynamic); render sizes 128, 256, 512 are verified too.")
def main(checkpoint: Path, output: Path | None, verify: bool, fp16: bool, opset: int, batch_sizes: tuple[int, ...]) -> None:
    """Export a ColorED training CHECKPOINT to one self-contained ONNX file.

    The file holds the whole model (encoder, Inception fusion branch with its grey copy
    and normalisation, decoder, output decode) with a dynamic batch axis and a dynamic
    size (colored-batch --render-size), plus the model contract in its metadata, which
    colored-batch requires. Classification models get an optional input T (the
    annealed-mean temperature, colored-batch --temperature). See docs/export.md.
    """
    stop = Stop()
    try:
        with needs_extras("colored-export", ("train", "cpu"), EXIT_BAD_INPUT):
            _export(checkpoint, output, verify, fp16, opset, batch_sizes)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the temp file is gone, --output untouched
        click.echo("\ncolored-export: interrupted; nothing written", err=True)
        sys.exit(stop.exit_code)


def _export(checkpoint: Path, output: Path | None, verify: bool, fp16: bool, opset: int,
            batch_sizes: tuple[int, ...]) -> None:
    from colored.atomic import atomic_path, unwritable_file, write_reason

    out = output if output is not None else checkpoint.with_suffix(".onnx")
    problem = unwritable_file(out)  # before minutes of work, not after
    if problem:
        _fail(out, problem, EXIT_BAD_INPUT)
    steps = Steps()
    steps(f"load {checkpoint}")
    import torch  # heavy: after --help and the output check

    from colored.checkpoint import CheckpointError, load_model
    from export.onnx_export import export_model
    from export.verify import VerificationError, verify_onnx

    torch.set_num_threads(min(4, os.cpu_count() or 1))
    try:
        model, ckpt = load_model(checkpoint)
    except CheckpointError as e:
        # CheckpointError messages already read "<path>: <reason>".
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if out.resolve() == checkpoint.resolve():
        _fail(out, "output would overwrite the checkpoint; pass -o", EXIT_BAD_INPUT)

    # Export and verify under a temporary name, so a file at `out` is always a verified one.
    try:
        with atomic_path(out) as tmp:
            t0 = time.perf_counter()
            try:
                contract = export_model(model, tmp, train_config=ckpt.get("train_config"), opset=opset, fp16=fp16,
                                        progress=steps)
            except OSError:
                raise
            except Exception as e:  # exporter failures are long; the first line says what broke
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                _fail(checkpoint, f"export failed: {type(e).__name__}: {first}", EXIT_FAILED)
            export_s = time.perf_counter() - t0
            report = None
            if verify:
                try:
                    report = verify_onnx(model, tmp, batch_sizes=batch_sizes, progress=steps)
                except VerificationError as e:  # its message starts with the temp file's name
                    _fail(out, f"verification failed: {str(e).removeprefix(f'{tmp}: ')}", EXIT_FAILED)
                if report["max_abs_ab_diff"] >= report["tolerance"]:
                    _fail(out, f"verification failed: max |ab| difference vs PyTorch {report['max_abs_ab_diff']:.3g} "
                          f">= tolerance {report['tolerance']} (not written)", EXIT_FAILED)
    except OSError as e:
        _fail(out, write_reason(e), EXIT_BAD_INPUT)
    steps("done")

    click.echo(f"wrote {out} ({_mb(out)}, one file, weights embedded)")
    click.echo(f"  opset {opset}, precision {contract.precision}, export {export_s:.1f} s")
    click.echo(f"  input  {contract.input_name} float32 (N,1,S,S) L in [0,100]; output {contract.output_name} float32 (N,2,S,S) Lab units")
    click.echo(f"  render sizes S: {contract.describe_sizes()}")
    if contract.temperature_input:
        click.echo(f"  optional input {contract.temperature_input}: annealed-mean temperature, default {contract.temperature:g}")
    click.echo(f"  model_id {contract.model_id}")
    if report is None:
        click.echo("  not verified (--no-verify)")
    else:
        per = ", ".join([*(f"batch {b}: {d:.2g}" for b, d in report["per_batch"].items()),
                         *(f"S={n}: {d:.2g}" for n, d in report["per_size"].items()),
                         *(f"T={t:g}: {d:.2g}" for t, d in report["per_temperature"].items())])
        click.echo(f"  verified: onnx.checker ok; max |ab| diff vs PyTorch {report['max_abs_ab_diff']:.2g} Lab "
                   f"(tolerance {report['tolerance']}; {per})")
        if report.get("max_abs_confidence_diff") is not None:
            click.echo(f"  confidence output: max diff vs PyTorch {report['max_abs_confidence_diff']:.2g}")
