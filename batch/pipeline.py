"""Run jobs through decode -> model input -> ONNX -> merge -> encode.

The single-job steps are public so other engines (the watch daemon, Ray) can
compose them their own way:

    prepare(job, size, settings)            -> Prepared, or a final Result (skipped/failed)
    infer(session, contract, L, temperature=...) -> ab, one batched onnxruntime call
    finish(job, prepared, ab, settings)     -> Result (output written atomically)

process() overlaps them: `workers` threads decode, the calling thread runs batched
inference, `workers` threads merge and encode. Every queue between the stages is
bounded, so at most a fixed number of images is in memory whatever the archive
size. Pillow, OpenCV, numpy and onnxruntime release the GIL in their heavy parts,
which is what lets threads overlap here.
"""

from __future__ import annotations

import functools
import inspect
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from batch import images
from batch.colorize import merge, model_input
from batch.cores import opencv_threads_for
from batch.jobs import Job
from batch.manifest import Manifest, fingerprint
from batch.out_of_space import OutputFull, out_of_space_error
from batch.render import fitted_size, render_size, resolve
from batch.results import ALREADY_DONE, DONE, FAILED, FAILED_EARLIER, SKIPPED, Result
from batch.scratch import scratch
from batch.confidence import picture_confidence
from batch.session import infer, infer_with_confidence
from batch.settings import Settings

__all__ = ["Prepared", "prepare", "infer", "finish", "fail", "triage", "process", "model_key"]


@dataclass
class Prepared:
    decoded: images.DecodedImage
    L: np.ndarray  # (1, S, S) float32, the network input
    fingerprint: str
    started: float  # time.perf_counter() when work on this file began
    busy: float = 0.0  # seconds spent working on this file so far (not waiting in the queues)
    confidence: float | None = None  # the model's figure for this picture (batch.confidence), once inferred


def _reason(e: BaseException) -> str:
    if isinstance(e, images.ImageError):
        return e.reason
    if isinstance(e, MemoryError):
        return "out of memory while processing this image (lower --workers/--batch-size or --max-pixels)"
    return f"{type(e).__name__}: {e}"


def fail(job: Job, e: BaseException, fp: str = "", started: float | None = None, busy: float = 0.0) -> Result:
    """The failed Result for an exception raised while working on `job` (at work since `started`,
    after `busy` seconds of earlier stages)."""
    seconds = busy + (time.perf_counter() - started if started is not None else 0.0)
    return Result(str(job.relative), None, FAILED, reason=_reason(e), fingerprint=fp, seconds=seconds)


def prepare(job: Job, size: int, settings: Settings, fp: str = "",
            sizes: tuple[int, int, int] | None = None) -> Prepared | Result:
    """Decode `job`'s input and build the network input; a Result if there is nothing to infer.

    With settings.fit_small and the model's render ``sizes``, a picture smaller than ``size``
    gets a network input of the size that holds it (batch.render.fitted_size)."""
    started = time.perf_counter()
    try:
        decoded = images.decode(job.input, max_pixels=settings.max_pixels)
        if decoded.is_color and settings.skip_color:
            return Result(
                str(job.relative), None, SKIPPED, reason="already in colour (--skip-color)",
                notes=list(decoded.notes), fingerprint=fp, seconds=time.perf_counter() - started,
            )
        if settings.fit_small:
            size = fitted_size(*decoded.pixels.shape[:2], size, sizes)
        L = model_input(decoded, size)
        return Prepared(decoded, L, fp, started, busy=time.perf_counter() - started)
    except Exception as e:  # one bad file must never stop the run
        return fail(job, e, fp, started)


READ_TRIES = 3  # decodes of a file that keeps changing under the reader before it fails


def prepare_unchanged(job: Job, size: int, settings: Settings, fp: str, model_id: str,
                      sizes: tuple[int, int, int] | None = None) -> Prepared | Result:
    """prepare(), with the fingerprint of what was decoded: a file that changed between triage and
    its decode (a writer still at work) may have been read in either version, so it is decoded
    again under its new fingerprint; the manifest never credits one version with another's output."""
    for _ in range(READ_TRIES):
        out = prepare(job, size, settings, fp, sizes)
        try:
            now = fingerprint(job, model_id, settings)
        except OSError as e:  # vanished since: nothing stands for it
            return fail(job, e, fp)
        if now == fp:
            return out
        fp = now
    # Not recorded: the next run (or the watch's next look) tries it afresh.
    return Result(str(job.relative), None, FAILED, fingerprint=fp, record=False,
                  reason=f"changed {READ_TRIES} times while being read (still being written?); not recorded, "
                         "the next run tries it again")


def finish(job: Job, prepared: Prepared, ab: np.ndarray, settings: Settings) -> Result:
    """Merge the network's ab with the full-resolution original and write the output atomically.

    The Result's seconds are this file's working time (decode, its share of the network's batch,
    merge and encode), not the time it waited between the stages."""
    started = time.perf_counter()
    d = prepared.decoded
    try:
        bgr = images.takes_bgr(job.output_format, d.alpha is not None)  # OpenCV's encoders: no conversion
        out = scratch("merged", (*d.pixels.shape[:2], 3), d.pixels.dtype)  # encoded before this thread's next file
        pixels = merge(d, ab, settings.strength, bgr=bgr, out=out)
        job.output.parent.mkdir(parents=True, exist_ok=True)
        notes = images.encode(
            job.output, pixels, alpha=d.alpha, exif=d.exif, icc_profile=d.icc_profile, xmp=d.xmp,
            format=job.output_format, quality=settings.quality, bgr=bgr,
        )
        return Result(
            str(job.relative), str(job.output_relative), DONE, notes=_unique(d.notes, notes or []),
            fingerprint=prepared.fingerprint, output_bytes=job.output.stat().st_size,
            seconds=prepared.busy + time.perf_counter() - started, confidence=prepared.confidence,
        )
    except Exception as e:
        if out_of_space_error(e):  # not this file's fault: never recorded as failed
            raise e if isinstance(e, OutputFull) else OutputFull(e, str(job.output)) from e
        return fail(job, e, prepared.fingerprint, started, prepared.busy)


def _unique(*lists: list[str]) -> list[str]:
    """The notes in order, each once: decode and encode may both warn about the same EXIF."""
    return list(dict.fromkeys(n for notes in lists for n in notes))


_END = object()  # end-of-stream marker passed down the queues


def model_key(contract) -> str:
    """The model part of a manifest fingerprint: what must match for an earlier output to stand."""
    return f"{contract.model_id}:{contract.config_hash}:{contract.precision}"


def triage(job: Job, model_id: str, settings: Settings, manifest: Manifest | None,
           retry_failed: bool, overwrite: bool = False) -> Result | str:
    """A final Result when this job needs no work this run, else its fingerprint (the work to do).

    With a manifest, a file at the output name that no manifest entry gave (the user's own) is
    never replaced unless ``overwrite``: it is skipped, and that is not recorded (each run looks
    again). Work to do claims its output name in the manifest before it is written."""
    try:
        fp = fingerprint(job, model_id, settings)
    except OSError as e:  # vanished or unreadable since planning
        return fail(job, e)
    if manifest is None:
        return fp
    if manifest.is_done(job, fp):
        prev = manifest.lookup(job)
        return Result(str(job.relative), prev.output, ALREADY_DONE, notes=prev.notes, fingerprint=fp,
                      output_bytes=prev.output_bytes, confidence=prev.confidence)
    earlier = manifest.failed_before(job, fp)
    if earlier is not None and not retry_failed:
        return Result(str(job.relative), None, FAILED_EARLIER, reason=earlier.reason, notes=earlier.notes,
                      fingerprint=fp)
    if not overwrite and not manifest.owns(job) and _foreign_file(job.output):
        return Result(str(job.relative), None, SKIPPED, reason=FOREIGN_OUTPUT.format(name=job.output_relative),
                      fingerprint=fp, record=False)
    manifest.claim(job)
    return fp


def _foreign_file(path) -> bool:
    """A file (or link) at the output name; a folder there is no one's output and fails the write."""
    return os.path.lexists(path) and not os.path.isdir(path)


# Why a file was left alone because its output name is taken by a file the tool did not write.
FOREIGN_OUTPUT = "{name} already exists in the output folder and was not written by ColorED (--overwrite replaces it)"


def is_new(result: Result) -> bool:
    """Whether a Result from triage or the work is news for the manifest (earlier outcomes are not)."""
    return result.record and result.status not in (ALREADY_DONE, FAILED_EARLIER)


def _sharing_cores(run: Callable[..., list[Result]]) -> Callable[..., list[Result]]:
    """Run `process` with OpenCV at batch.cores.opencv_threads(workers) threads per call."""

    default = inspect.signature(run).parameters["workers"].default  # process's own, not a copy

    @functools.wraps(run)
    def wrapper(*args, **kwargs) -> list[Result]:
        with opencv_threads_for(kwargs.get("workers", default)):
            return run(*args, **kwargs)

    return wrapper


@_sharing_cores
def process(
    jobs: Iterable[Job],
    session,
    contract,
    settings: Settings,
    *,
    manifest: Manifest | None = None,
    workers: int = 2,
    batch_size: int = 4,
    retry_failed: bool = False,
    overwrite: bool = False,
    on_result: Callable[[Result], None] | None = None,
    halt: threading.Event | None = None,
    record_if: Callable[[Result], bool] | None = None,
    keep_results: bool = True,
) -> list[Result]:
    """Colorize every job; returns one Result per job (in completion order), or none with
    ``keep_results=False``: a job stream without end (the watch daemon) takes each result
    through `on_result` as it comes, and nothing accumulates.

    With a manifest, work an earlier run finished (same fingerprint, output intact)
    is not redone, earlier failures are only retried with `retry_failed`, and every
    new outcome is recorded as soon as it is known. The network runs at the render size
    and temperature of `settings` (checked against the contract: ValueError before any
    work), and `settings.strength` scales the colour of every output.

    An error that is no one file's (OutputFull: the output disk is full; a manifest
    that cannot be written) halts the run: no new file is started, the files in
    flight are dropped unrecorded (a rerun does them), and the error is raised
    once the threads are done, with the results so far in `error.results`. A job
    stream that blocks while idle (the watch daemon) must stop when `halt` is set.
    To drain (a stop signal), end the job stream instead: the files in flight finish.

    `overwrite` lets outputs replace files the manifest does not know (see triage);
    `record_if`, when given, decides which new results the manifest records (the watch
    daemon holds back a failure it will retry once the file has settled).
    """
    workers, batch_size = max(1, workers), max(1, batch_size)
    settings = resolve(settings, contract, "the model")  # ValueError for a render setting it cannot run
    size = render_size(settings, contract)
    model_id = model_key(contract)
    results: list[Result] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    halt = halt or threading.Event()  # set by a run-level error: drain the queues, start nothing new

    def emit(result: Result, new: bool = True) -> None:
        if new and result.record and manifest is not None and (record_if is None or record_if(result)):
            manifest.record(result)
        if keep_results:
            with lock:
                results.append(result)
        if on_result is not None:
            on_result(result)

    todo: queue.Queue = queue.Queue(maxsize=2 * workers)
    # At most 3 * workers + 2 * batch_size images in flight: decoding, waiting for the
    # network, in the batch, waiting for an encoder, encoding.
    ready: queue.Queue = queue.Queue(maxsize=batch_size)
    decoded_out: queue.Queue = queue.Queue(maxsize=workers)

    def feed() -> None:
        try:
            for job in jobs:
                if halt.is_set():
                    break
                out = triage(job, model_id, settings, manifest, retry_failed, overwrite)
                if isinstance(out, Result):
                    emit(out, new=is_new(out))
                    continue
                todo.put((job, out))
        except BaseException as e:  # e.g. the manifest's disk is full: stop cleanly, re-raise below
            errors.append(e)
            halt.set()
        finally:
            for _ in range(workers):
                todo.put(_END)

    def decode_worker() -> None:
        while (item := todo.get()) is not _END:
            if halt.is_set():
                continue
            job, fp = item
            out = prepare_unchanged(job, size, settings, fp, model_id, contract.render_sizes)
            if isinstance(out, Result):
                guarded(emit, out)
            else:
                ready.put((job, out))
        ready.put(_END)

    def encode_worker() -> None:
        while (item := decoded_out.get()) is not _END:
            if not halt.is_set():
                guarded(lambda: emit(finish(*item, settings)))

    def guarded(fn, *args) -> None:
        # A failure here is not one file's (e.g. the output disk is full): stop starting
        # work, keep the queues draining so nothing deadlocks, and re-raise it after the run.
        try:
            fn(*args)
        except Exception as e:
            errors.append(e)
            halt.set()

    threads = [threading.Thread(target=feed, name="colored-feed", daemon=True)]
    threads += [threading.Thread(target=decode_worker, name=f"colored-decode-{i}", daemon=True) for i in range(workers)]
    encoders = [threading.Thread(target=encode_worker, name=f"colored-encode-{i}", daemon=True) for i in range(workers)]
    for t in threads + encoders:
        t.start()

    def run_batch(batch: list[tuple[Job, Prepared]]) -> None:
        if halt.is_set():
            return
        started = time.perf_counter()
        try:
            ab, conf = infer_with_confidence(session, contract, np.stack([p.L for _, p in batch]),
                                             pad_to=batch_size, temperature=settings.temperature)
            figures = [None] * len(batch) if conf is None else picture_confidence(conf, ab).tolist()
        except Exception as e:  # the whole batch failed: say so for each file, carry on
            for job, p in batch:
                guarded(emit, fail(job, e, p.fingerprint, busy=p.busy))
            return
        share = (time.perf_counter() - started) / len(batch)  # each file's part of the network's call
        for (job, p), one, figure in zip(batch, ab, figures):
            p.busy += share
            p.confidence = figure
            decoded_out.put((job, p, one))

    ended, batches = 0, {}  # network input size -> its batch (one size unless settings.fit_small)
    while ended < workers:
        item = ready.get()
        if item is _END:
            ended += 1
        else:
            key = item[1].L.shape[-1]
            batch = batches.setdefault(key, [])
            batch.append(item)
            if len(batch) >= batch_size:
                run_batch(batches.pop(key))
        # Run when the decoders have nothing more right now: waiting for a full batch would
        # leave the network idle on a slow disk.
        if batches and (ready.empty() or ended == workers):
            for key in list(batches):
                run_batch(batches.pop(key))
    for _ in encoders:
        decoded_out.put(_END)
    for t in encoders:
        t.join()
    if errors:
        if isinstance(errors[0], OutputFull):
            errors[0].results = results
        raise errors[0]
    return results
