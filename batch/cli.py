"""colored-batch: colorize a folder tree of black-and-white photos with an exported ColorED model."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from pathlib import Path

import click
from tqdm import tqdm

from batch.file_notes import route_library_warnings
from batch.jobs import PlanError, check_roots, plan_jobs
from batch.options import check_preview_path, preview_option
from batch.manifest import Manifest
from batch.out_of_space import EXIT_DISK_FULL, OutputFull, cannot_write_at_start, full_message, out_of_space_error
from batch.output_lock import OutputBusy, claim_output
from batch.pipeline import process
from batch.report import exit_code, summary_table, write_report
from batch import colorize, images, options, preview
from batch.render import FIT_SMALL_LOCAL_ONLY, describe, resolve
from batch.results import DONE, Result
from batch.session import SessionError, default_model_path, open_session
from batch.settings import Settings
from batch.stop import StopSignals
from colored.atomic import write_reason

log = logging.getLogger("colored.batch")

EPILOG = """\b
Examples:
  colored-batch ./archive ./colorized
  colored-batch ./archive ./out --model colored.onnx --format jpg --quality 90
  colored-batch ./scans ./out --format keep --suffix _color --skip-color
  colored-batch ./archive ./out --device cuda --batch-size 16 --workers 6
  colored-batch ./archive ./out --retry-failed     # rerun: resumes, retries failures
  colored-batch /mnt/archive /mnt/out --engine ray --address auto   # on a Ray cluster (docs/ray.md)
  colored-batch ./archive ./out --render-size 512 --strength 1.3   # finer detail, stronger colour
  colored-batch ./archive ./out --preview sheet.png --preview-count 24   # look before you trust it
  colored-batch ./archive ./out --review   # then open ./out/review/index.html (least sure first)

\b
The output folder mirrors the input tree; inputs are never modified. Rerunning
the same command resumes: files finished with the same model and settings are
not redone. A manifest (.colored-manifest.jsonl) and a report
(colored-report.json/.csv; an earlier run's is kept as colored-report.1.json, .2, ...)
are kept in the output folder. A file already in the output folder that ColorED did
not write is never replaced (reported as skipped) unless --overwrite is given.
One run at a time per output folder (colored-watch included); temp files a killed
run left there are removed at the next start. SIGTERM or Ctrl-C: the files in flight
are finished, the summary and report written (a second signal stops at once).
Exit status: 0 all good, 1 some files failed (or entries could not be read), 2 could
not start (bad folders or model, an output folder that cannot be written), 3 the output
disk filled up or became read-only midway (rerun to resume), 130 Ctrl-C, 143 SIGTERM.
"""


class StartError(click.ClickException):
    """The run could not start (bad folders, model or device, or the output folder is in use)."""

    exit_code = 2


@click.command(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("input_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("output_dir", type=click.Path(file_okay=False, path_type=Path))
@options.MODEL
@options.FORMAT
@options.SUFFIX
@options.QUALITY
@options.SKIP_COLOR
@click.option("--retry-failed", is_flag=True, help="Try again the files an earlier run recorded as failed.")
@options.OVERWRITE
@options.DEVICE
@options.THREADS
@options.BATCH
@click.option("--workers", type=click.IntRange(1), default=min(4, os.cpu_count() or 1), show_default=True,
              help="Decode threads, and as many encode threads.")
@options.MAX_PIXELS
@click.option("--engine", type=click.Choice(("local", "ray")), default="local", show_default=True,
              help="local: threads on this machine. ray: a Ray cluster (the 'ray' extra; paths on shared storage).")
@click.option("--address", default=None, metavar="ADDR",
              help="With --engine ray: 'auto' (this machine's cluster) or ray://HEAD:10001. "
                   "Default: $RAY_ADDRESS, else a Ray on this machine only.")
@options.RENDER_SIZE
@options.STRENGTH
@options.TEMPERATURE
@click.option("--fit-small", is_flag=True,
              help="Pictures smaller than the render size run at the smallest render size that holds them "
                   "(multiples of the model's step, from its minimum), batched by size: thumbnails cost up to "
                   "4x less. Their colours differ from the full render size's (local engine only).")
@preview_option("After the run, write a contact sheet: grey input beside colour output for sampled "
                "files (this run's and earlier runs'), labelled with their paths.")
@options.PREVIEW_COUNT
@click.option("--preview-seed", type=click.INT, default=0, show_default=True,
              help="Which files the --preview sheet samples; the same seed picks the same files.")
@click.option("--review", "review", is_flag=True,
              help="After the run, write OUTPUT_DIR/review/index.html: every file before and after, least "
                   "confident first, failed and skipped ones with their reasons (also: colored-review OUTPUT_DIR).")
@click.option("--stall-timeout", type=click.FloatRange(1), default=600.0, show_default=True, metavar="SECONDS",
              help="With --engine ray: stop with one line when no file finishes for this long (a stuck cluster).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Report file (.json or .csv). Default: colored-report.json and .csv in OUTPUT_DIR.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the summary.")
def main(input_dir: Path, output_dir: Path, model_path: Path | None, fmt: str, suffix: str, quality: int,
         skip_color: bool, retry_failed: bool, overwrite: bool, device: str, threads: int | None, batch_size: int, workers: int,
         max_pixels: int, engine: str, address: str | None, stall_timeout: float, render_size: int | None,
         strength: float, temperature: float | None, fit_small: bool, preview_path: Path | None, preview_count: int,
         preview_seed: int, report_path: Path | None, progress: bool, quiet: bool, review: bool = False) -> None:
    """Colorize every image below INPUT_DIR into OUTPUT_DIR, keeping full resolution and metadata."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="colored-batch: %(message)s")
    route_library_warnings()  # what Pillow & co. warn about a file goes to its notes, every time
    try:
        settings = Settings(format=fmt, suffix=suffix, quality=quality, skip_color=skip_color, max_pixels=max_pixels,
                            render_size=render_size, strength=strength, temperature=temperature,
                            fit_small=fit_small)
        check_roots(input_dir, output_dir)
        if preview_path is not None:
            check_preview_path(preview_path, input_dir)
        if fit_small and engine == "ray":
            raise StartError(FIT_SMALL_LOCAL_ONLY)
        ray_errors: tuple = ()  # what means "Ray gave up midway" (nothing for the local engine)
        if engine == "ray":
            ray_engine = _ray_engine(address, device, threads)
            ray_errors = (ray_engine.RayRunError,)
            # Only the workers run the model; the driver opens it on its CPU to check it and read its contract.
            session, contract = open_session(model_path, device="cpu", threads=1)
        elif address is not None:
            raise StartError("--address only applies to --engine ray")
        else:
            session, contract = open_session(model_path, device=device, threads=threads)
        settings = resolve(settings, contract, model_path or default_model_path())
    except (PlanError, SessionError, ValueError) as e:
        raise StartError(str(e)) from None
    _claim_output(output_dir)
    log.info("%s", describe(settings, contract))
    warm_up()  # before the clock and the progress bar start: the first picture must not set the ETA
    stop = StopSignals()  # from here a stop signal drains: summary and report are still written
    click.get_current_context().call_on_close(stop.restore)

    ignored: Counter = Counter()
    total = sum(1 for _ in plan_jobs(input_dir, output_dir, settings, ignored))  # cheap walk, for the ETA
    log.info("%d images in %s -> %s (batch %d, %d workers)", total, input_dir, output_dir, batch_size, workers)
    manifest = Manifest(output_dir)
    odd: list[Result] = []  # entries the walk met that are not colorized (batch.walk): reported, never dropped
    jobs = stop.until_stopped(plan_jobs(input_dir, output_dir, settings,
                                        on_odd=lambda o: odd.append(Result(str(o.relative), None, o.status,
                                                                           reason=o.reason))))

    started = time.perf_counter()
    full: OutputFull | None = None
    with tqdm(total=total, unit="img", disable=not progress or quiet, dynamic_ncols=True) as bar:
        try:
            if engine == "ray":
                results = ray_engine.process_ray(
                    jobs, model_path, contract, settings, manifest=manifest,
                    device=device, threads=threads, batch_size=batch_size, retry_failed=retry_failed,
                    overwrite=overwrite, on_result=lambda r: bar.update(), address=address,
                    stall_timeout=stall_timeout,
                )
            else:
                results = process(
                    jobs, session, contract, settings, manifest=manifest,
                    workers=workers, batch_size=batch_size, retry_failed=retry_failed, overwrite=overwrite,
                    on_result=lambda r: bar.update(),
                )
        except OutputFull as e:  # not the files' fault: nothing was recorded as failed, a rerun resumes
            bar.close()
            full, results = e, e.results
        except KeyboardInterrupt:  # a second Ctrl-C, or the Ray engine (which cannot drain)
            bar.close()
            click.echo("colored-batch: interrupted; finished files are kept, rerun the same command to resume", err=True)
            raise SystemExit(stop.exit_code or 130) from None
        except ray_errors as e:
            bar.close()
            click.echo(f"colored-batch: {e}; finished files are kept, rerun the same command to resume", err=True)
            raise SystemExit(1) from None
    elapsed = time.perf_counter() - started
    results = results + odd

    meta = {
        "input": str(input_dir), "output": str(output_dir), "model_id": contract.model_id,
        "config_hash": contract.config_hash, "settings": settings.as_dict(), "seconds": round(elapsed, 3),
    }
    paths = [report_path] if report_path else [output_dir / "colored-report.json", output_dir / "colored-report.csv"]
    written = []
    for p in paths:
        try:
            written.append(write_report(p, results, meta))
        except OutputFull as e:  # write what report it can; the line below says what to do
            full = full or e
    click.echo(summary_table(results, elapsed, ignored))
    if written:
        click.echo(f"report: {', '.join(str(p) for p in written)}")
    if preview_path is not None:
        write_preview(preview_path, results, input_dir, output_dir, preview_count, preview_seed)
    if review:
        write_review(output_dir, workers)
    done = sum(r.status == DONE for r in results)
    if full is not None:
        click.echo(f"colored-batch: {full_message(done, full.errno)}", err=True)
        raise SystemExit(EXIT_DISK_FULL)
    if stop.exit_code is not None:
        click.echo(f"colored-batch: stopped by {stop.name} after {done} files; finished files are kept, "
                   "rerun the same command to resume", err=True)
        raise SystemExit(stop.exit_code)
    raise SystemExit(exit_code(results))


def warm_up() -> None:
    """Load the colour loops (the first time on a machine: compile them, a few seconds; numba
    caches them on disk) before the run's clock and progress bar start, so the first picture's
    wait does not set the rate and the ETA."""
    started = time.perf_counter()
    colorize.warm_up()
    took = time.perf_counter() - started
    if took > 1.0:
        log.info("colour loops compiled in %.1f s (cached for the next runs)", took)


def write_preview(path: Path, results: list, input_dir: Path, output_dir: Path, count: int, seed: int) -> None:
    """The contact sheet of the run; a failure here is reported, the run's outcome stands."""
    pairs = preview.pairs_from_results(results, input_dir, output_dir)
    if not pairs:
        click.echo(f"preview: no colorized file to show, {path} not written", err=True)
        return
    chosen = preview.sample(pairs, count, seed)
    title = f"colored-batch {output_dir}: {len(chosen)} of {len(pairs)} files (seed {seed})"
    try:
        preview.write_sheet(path, chosen, title)
    except (OSError, images.ImageError) as e:
        click.echo(f"preview: {path}: not written ({e})", err=True)
        return
    groups = len({p.group for p in chosen})
    click.echo(f"preview: {path} ({len(chosen)} pairs from {groups} folder{'s' if groups != 1 else ''})")


def write_review(output_dir: Path, workers: int) -> None:
    """The review page of the output folder (batch.review); a failure here is reported, the run's outcome stands."""
    from batch import review

    try:
        click.echo(review.summary_line(review.build_review(output_dir, workers=workers)))
    except review.ReviewError as e:
        click.echo(f"review: {e}", err=True)
    except OSError as e:
        click.echo(f"review: {e.filename or output_dir}: not written ({write_reason(e)})", err=True)


def _claim_output(output_dir: Path) -> None:
    """One writer per output folder (shared with colored-watch), held until the command ends.

    Taken only once everything else checked out, so a bad command line creates no output folder.
    """
    try:
        lock, removed = claim_output(output_dir, "colored-batch")
    except OutputBusy as e:
        raise StartError(str(e)) from None
    except OSError as e:
        if cannot_write_at_start(e):  # read-only or not ours to write: not a full disk
            raise StartError(f"{output_dir}: cannot write the output folder: {write_reason(e)}") from None
        if out_of_space_error(e):
            click.echo(f"colored-batch: {full_message(0, e.errno)}", err=True)
            raise SystemExit(EXIT_DISK_FULL) from None
        raise StartError(f"{e.filename or output_dir}: {write_reason(e)}") from None
    click.get_current_context().call_on_close(lock.release)  # runs on every exit, SystemExit included
    if removed:
        log.info("removed %d stale temp files left by an interrupted run", removed)


def _ray_engine(address: str | None, device: str, threads: int | None):
    """batch.ray_engine, connected and checked; imported only here, so the runtime needs no Ray."""
    from batch import ray_engine

    try:
        ray_engine.start(address, device, threads)
    except (ray_engine.RayUnavailable, ray_engine.RayStartError) as e:
        raise StartError(str(e)) from None
    return ray_engine


if __name__ == "__main__":
    main()
