"""The colored-batch job on a Ray cluster (``--engine ray``): same steps, same files, more machines.

Only the driver plans and keeps the books; the workers do the pixel work:

    driver   plan_jobs -> fingerprint -> manifest triage (already done / failed earlier)
    tasks    prepare(): full decode -> the small L at model size          (CPU, many)
    actors   infer(): ONE onnxruntime session per actor, batched          (GPU or CPU, few)
    tasks    re-decode -> finish(): merge at full size, encode, atomic write (CPU, many)
    driver   manifest.record() + report, as results stream back

Only the small L (1 x S x S) and ab (2 x S x S) travel through the object store.
The full-resolution image is decoded again in the finish stage instead of being
shipped: a 12 MP 16-bit RGB scan is ~72 MB of pixels, while decoding it again
costs ~0.1 s of one CPU, and the finish stage (merge + encode) is several times
that anyway. Decoding is deterministic, so both decodes give the same pixels.

Local and Ray runs write byte-identical files because every step is the local
engine's own function (batch.pipeline.prepare/infer/finish, batch.jobs naming,
batch.images atomic writes); this module only moves data between them.

Fault tolerance: one bad file becomes a failed Result, never an exception, so
Ray only ever retries real crashes (a killed or dead worker). A retried stage
rewrites the same deterministic output names through write-to-temp + rename, so
a retry can neither duplicate an output nor leave a partial one, and only the
driver appends to the manifest (one line per file, after its output is in
place): no concurrent O_APPEND over network file systems.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import queue
import re
import socket
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from batch import images
from batch.cores import set_opencv_threads
from batch.file_notes import route_library_warnings
from batch.jobs import Job
from batch.manifest import Manifest, fingerprint
from batch.out_of_space import OutputFull
from batch.pipeline import Prepared, fail, finish, is_new, model_key, prepare_unchanged, triage
from batch.render import FIT_SMALL_LOCAL_ONLY, render_size, resolve
from batch.confidence import picture_confidence
from batch.results import FAILED, Result
from batch.session import infer_with_confidence, open_session
from batch.settings import Settings

try:  # Ray is an optional extra: this module must import (and explain) without it
    import ray
    import ray.data
except ImportError:  # also raised for sys.modules["ray"] = None
    ray = None

log = logging.getLogger("colored.batch")

INSTALL_HINT = 'the Ray engine needs Ray: pip install "colored-toolkit[ray]"'
MAX_BLOCKS = 5000  # beyond this, several files share a block (fewer, longer tasks; less scheduler load)
# A file that kills its worker (e.g. a decoder segfault, an OOM kill) must not be retried forever,
# which is Ray Data's default: a few retries cover lost nodes, then the run stops with the error.
TASK_RETRIES = 3
FULL_KEY = "output_full"  # a finish-stage result that says the output disk is full


class RayUnavailable(RuntimeError):
    """Ray is not installed (or cannot be imported) here."""


class RayStartError(RuntimeError):
    """The cluster cannot be reached, or cannot run this job as asked (e.g. --device cuda without GPUs)."""


class RayRunError(RuntimeError):
    """The Ray run stopped (e.g. a worker crashed more often than the retry limit); finished files are kept."""


def require_ray() -> None:
    if ray is None:
        raise RayUnavailable(INSTALL_HINT)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RAISED = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)\b.*")  # "RuntimeError: ..." closing a traceback


def _first_line(e: BaseException) -> str:
    """One line for the user: for a Ray error, the exception a worker raised (the end of its traceback)."""
    text = _ANSI.sub("", str(e)).strip()
    if ray is not None and isinstance(e, ray.exceptions.RayError):
        raised = [line for line in text.splitlines() if _RAISED.match(line)]
        if raised:
            return raised[-1]
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def connect(address: str | None = None) -> None:
    """Join the cluster at `address` ('auto', 'host:6379', 'ray://head:10001'; None: $RAY_ADDRESS, else a
    new local Ray). Raises RayStartError with one line naming the cause and the fix."""
    require_ray()
    if ray.is_initialized():
        return
    target = address or os.environ.get("RAY_ADDRESS") or None
    where = target or "a new local instance"
    joining = target is not None and target != "local"
    if joining:
        _preflight(target)
    # Joining a cluster starts no process of ours, so its stderr can be held back: Ray's C++
    # client logs a warning per retry (about 20 for a refused token) before its own error.
    # A new local instance is not quieted: its daemons would inherit the temporary stderr.
    try:
        with _stderr_held(enabled=joining) as held:
            ray.init(address=address, include_dashboard=False, log_to_driver=True)
    except Exception as e:  # ConnectionError, ValueError for a bad address, ...
        raise RayStartError(f"cannot start or reach Ray at {where}: {connect_hint(e)}") from None
    sys.stderr.write(held.text)  # it worked: what Ray said is worth seeing ("Connected to Ray cluster")


_AUTH = re.compile(r"InvalidAuthToken|UNAUTHENTICATED|auth(entication)? token", re.IGNORECASE)
TOKEN_HINT = ("the cluster requires Ray's token authentication and this process has no valid token: set "
              "RAY_AUTH_MODE=token and RAY_AUTH_TOKEN to the cluster's token (or RAY_AUTH_TOKEN_PATH to a file "
              "holding it; default ~/.ray/auth_token)")
PREFLIGHT_TIMEOUT = 15.0  # seconds for a GCS to answer: a live one answers in milliseconds


def connect_hint(e: BaseException) -> str:
    """The cause of a failed ray.init and what to do about it, in one line."""
    chain = " ".join(str(x) for x in (e, e.__cause__, e.__context__) if x is not None)
    if _AUTH.search(chain):  # Ray's own line names a resolved address, not the one the user gave
        return TOKEN_HINT
    text = _first_line(e)
    if isinstance(e, ConnectionError) or "connect" in text.lower():
        return f"nothing answered there: check the address and that the cluster is up ({text})"
    return text


def _host_port(address: str) -> tuple[str, int] | None:
    """('10.0.0.9', 6379) for 'HOST:PORT' or '[v6]:PORT'; None for 'auto', 'local', 'ray://...'."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit() or not host:
        return None
    return host.strip("[]"), int(port)


def _preflight(address: str) -> None:
    """Fail in seconds, with the cause, where ray.init would retry for 20 s to minutes.

    Only for a plain HOST:PORT (the GCS): 'auto' and ray:// are resolved by Ray itself.
    """
    hostport = _host_port(address)
    if hostport is None:
        return
    try:
        socket.create_connection(hostport, timeout=PREFLIGHT_TIMEOUT).close()
    except OSError as e:
        raise RayStartError(
            f"cannot reach Ray at {address}: nothing answered ({e.strerror or e}): check the host and the port "
            "(the head's GCS port: `ray start --head --port`, 6379 by default) and that the cluster is up"
        ) from None
    problem = _ask_gcs(address)
    if problem:
        raise RayStartError(f"cannot reach Ray at {address}: {problem}")


def _ask_gcs(address: str) -> str | None:
    """One GCS handshake, which a token-auth cluster refuses at once; None when nothing is wrong (or unknown).

    Uses Ray's internal GcsClient (no public call does one attempt); if this Ray has none, ray.init
    still reports the error, only later. The attempt runs on a thread so a port that accepts
    connections but never speaks Ray's protocol is given up after PREFLIGHT_TIMEOUT.
    """
    try:
        from ray._raylet import GcsClient
    except ImportError:
        return None
    outcome: dict[str, BaseException | None] = {}

    def attempt() -> None:
        try:
            GcsClient(address=address, cluster_id=None)
            outcome["error"] = None
        except Exception as e:  # noqa: BLE001 - classified below
            outcome["error"] = e

    with _stderr_held():  # its retry warnings are what the user must not get 20 of
        worker = threading.Thread(target=attempt, name="colored-ray-preflight", daemon=True)
        worker.start()
        worker.join(PREFLIGHT_TIMEOUT)
    if "error" not in outcome:
        return (f"something accepts connections there but no Ray GCS answered within {PREFLIGHT_TIMEOUT:g} s: "
                "give the head's GCS port (`ray start --head --port`, 6379 by default), not the dashboard's "
                "or Ray Client's")
    error = outcome["error"]
    if error is not None and _AUTH.search(str(error)):
        return TOKEN_HINT
    return None  # anything else: ray.init tries properly and names it


class _Held:
    """What went to stderr (fd 2) while it was held: `text`, once the hold ends."""

    text = ""


@contextlib.contextmanager
def _stderr_held(enabled: bool = True) -> Iterator[_Held]:
    """Send file descriptor 2 to a temporary file: Ray's C++ core logs there, past Python's logging."""
    held = _Held()
    if not enabled:
        yield held
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as f:
        os.dup2(f.fileno(), 2)
        try:
            yield held
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            f.seek(0)
            held.text = f.read().decode("utf-8", errors="replace")


def start(address: str | None, device: str, threads: int | None) -> dict[str, Any]:
    """Connect, and check the cluster can run the job: the actor plan (see plan_resources)."""
    connect(address)
    try:
        return plan_resources(device, threads, ray.cluster_resources())
    except RuntimeError as e:
        raise RayStartError(str(e)) from None


# ---------------------------------------------------------------- rows <-> jobs

def _job_row(job: Job, fp: str) -> dict[str, Any]:
    """A job as a row of plain strings (what a Ray Data block can hold).

    Paths are made absolute: workers do not run in the driver's working directory.
    Not resolved, though: a shared mount must keep the path the user gave.
    """
    # Names travel as their bytes: Arrow's strings must be valid UTF-8, a file name need not be.
    return {"input": os.fsencode(os.path.abspath(job.input)), "relative": os.fsencode(str(job.relative)),
            "output": os.fsencode(os.path.abspath(job.output)), "output_format": job.output_format,
            "fingerprint": fp}


def _row_job(row: dict[str, Any]) -> Job:
    return Job(Path(os.fsdecode(row["input"])), PurePosixPath(os.fsdecode(row["relative"])),
               Path(os.fsdecode(row["output"])), row["output_format"])


def _pending(row: dict[str, Any]) -> bool:
    return not row["result"]  # an empty result: still to be colorized


# ---------------------------------------------------------------- the stages (run on workers)

def _worker_setup() -> None:
    """What a worker process needs before a stage runs (cheap when already done; a worker is not
    started by our command, so nothing else sets it up)."""
    set_opencv_threads(1)  # a task holds one CPU: OpenCV's own threads would only contend for it
    route_library_warnings()  # what Pillow & co. warn about a file goes to its notes, every time


def decode_stage(row: dict[str, Any], size: int, settings: Settings, model_id: str) -> dict[str, Any]:
    """prepare() one file; keep only its small network input (the full image is dropped here).

    As the local engine, under the fingerprint of the version that was read (a file that changed
    since triage is read again), so the manifest credits the output to what was colorized."""
    _worker_setup()
    out = prepare_unchanged(_row_job(row), size, settings, row["fingerprint"], model_id)
    if isinstance(out, Result):  # failed, or skipped (--skip-color): nothing to infer
        return {**row, "L": np.zeros((1, size, size), np.float32), "result": _dumps(out),
                "seconds": out.seconds, "fingerprint": out.fingerprint or row["fingerprint"]}
    return {**row, "L": out.L, "result": "", "seconds": time.perf_counter() - out.started,
            "fingerprint": out.fingerprint}


class Colorizer:
    """The actor-pool callable: one onnxruntime session per actor, opened once in __init__."""

    def __init__(self, model_path: str | None, device: str, threads: int, model_id: str, batch_size: int,
                 size: int | None = None, temperature: float | None = None) -> None:
        self.session, self.contract = open_session(model_path, device=device, threads=threads)
        self.batch_size = batch_size
        self.size = size or self.contract.input_size  # the render size (the driver checked it)
        self.temperature = temperature
        got = model_key(self.contract)
        if got != model_id:  # e.g. a worker whose default model differs from the driver's
            raise RuntimeError(f"worker model {got} differs from the driver's {model_id}: "
                               "give --model a path on shared storage")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n, size = len(batch["result"]), self.size
        todo = np.array([not r for r in batch["result"]], dtype=bool)
        ab = np.zeros((n, 2, size, size), np.float32)
        confidence = np.full(n, np.nan)  # NaN: no figure (a model without the output, or not inferred)
        if todo.any():
            started = time.perf_counter()
            try:
                ab[todo], conf = infer_with_confidence(self.session, self.contract, batch["L"][todo],
                                                       pad_to=self.batch_size, temperature=self.temperature)
                if conf is not None:
                    confidence[todo] = picture_confidence(conf, ab[todo])
            except Exception as e:  # the whole batch failed: say so for each file, carry on (as locally)
                results = list(batch["result"])
                for i in np.flatnonzero(todo):
                    row = {k: batch[k][i] for k in ("input", "relative", "output", "output_format", "fingerprint")}
                    results[i] = _dumps(fail(_row_job(row), e, row["fingerprint"]))
                batch["result"] = np.array(results, dtype=object)
            # Each file is charged its share of the batch's network time.
            batch["seconds"] = batch["seconds"] + todo * (time.perf_counter() - started) / todo.sum()
        batch["ab"] = ab
        batch["confidence"] = confidence
        return batch


def finish_stage(row: dict[str, Any], settings: Settings, model_id: str | None = None) -> dict[str, Any]:
    """Decode the original again, then the local engine's finish(): merge, encode, atomic write.

    The file is read a second time here, so one that changed since its network input was made
    (given ``model_id``, by its fingerprint) would merge one version's colours with another's
    pixels: it fails unrecorded instead, and the next run colorizes it afresh."""
    if not _pending(row):
        return {"result": row["result"]}
    _worker_setup()
    job = _row_job(row)
    started, busy = time.perf_counter(), float(row["seconds"])  # Result.seconds adds up every stage's work
    try:
        decoded = images.decode(job.input, max_pixels=settings.max_pixels)
    except Exception as e:  # it decoded a moment ago: the file changed or vanished since
        return {"result": _dumps(fail(job, e, row["fingerprint"], started, busy))}
    if model_id is not None and _changed(job, model_id, settings, row["fingerprint"]):
        return {"result": _dumps(Result(
            str(job.relative), None, FAILED, fingerprint=row["fingerprint"], record=False,
            reason="changed while being colorized (still being written?); not recorded, the next run tries it "
                   "again"))}
    figure = float(row.get("confidence", np.nan))
    prepared = Prepared(decoded, np.asarray(row["L"]), row["fingerprint"], started,
                        busy=busy + time.perf_counter() - started, confidence=None if np.isnan(figure) else figure)
    try:
        return {"result": _dumps(finish(job, prepared, np.asarray(row["ab"]), settings))}
    except OutputFull as e:  # a run condition, not a crash: the driver stops (Ray must not retry it)
        return {"result": json.dumps({FULL_KEY: str(e)})}


# ---------------------------------------------------------------- the driver

def _dumps(result: Result) -> str:
    """A stage's Result as the JSON the driver reads back, keeping whether it goes in the manifest."""
    return json.dumps({**result.to_dict(), "record": result.record})


def _changed(job: Job, model_id: str, settings: Settings, fp: str) -> bool:
    try:
        return fingerprint(job, model_id, settings) != fp
    except OSError:  # vanished since its decode: nothing to credit
        return True


def plan_resources(device: str, threads: int | None, cluster: dict[str, float]) -> dict[str, Any]:
    """How many inference actors, with what resources, for this cluster.

    GPUs: one actor per GPU (one session each; Ray sets CUDA_VISIBLE_DEVICES per
    actor), never holding every CPU. CPU only: actors get `threads` CPUs each (default 2) and together take
    about half the cluster, leaving the rest to decode and merge, which on CPU cost
    as much as the network.
    """
    gpus = int(cluster.get("GPU", 0))
    cpus = int(cluster.get("CPU", 0))
    if device in ("cuda", "tensorrt") and gpus == 0:
        raise RuntimeError(f"--device {device}: the Ray cluster has no GPUs (resources: CPU={cpus})")
    if cpus < 2:  # the actors would hold every CPU and the decode tasks wait for one forever
        raise RuntimeError(f"the Ray cluster has {cpus} CPU{'s' if cpus != 1 else ''}; the Ray engine needs at "
                           "least 2 (one for the model, one or more to decode and encode): add CPUs to the "
                           "cluster, or run without --engine ray")
    if gpus and device != "cpu":
        actors = min(gpus, cpus - 1)  # at least one CPU stays free for decoding and encoding
        per_actor = max(1, min(threads or 1, (cpus - 1) // actors))
        return {"actors": actors, "num_gpus": 1, "num_cpus": per_actor, "threads": threads or 1}
    per_actor = max(1, min(threads or 2, cpus // 2))  # never all CPUs: decode tasks would wait forever
    return {"actors": max(1, cpus // (2 * per_actor)), "num_gpus": 0, "num_cpus": per_actor, "threads": per_actor}


def process_ray(
    jobs: Iterable[Job],
    model_path: str | Path | None,
    contract,
    settings: Settings,
    *,
    manifest: Manifest | None = None,
    device: str = "auto",
    threads: int | None = None,
    batch_size: int = 4,
    retry_failed: bool = False,
    overwrite: bool = False,
    on_result: Callable[[Result], None] | None = None,
    colorizer: type = Colorizer,
    address: str | None = None,
    stall_timeout: float = 600.0,
) -> list[Result]:
    """Colorize every job on the connected Ray cluster; the same contract as batch.pipeline.process.

    `contract` is the model's contract as the driver read it; every actor checks its
    own session against it. Render size, temperature and strength come from `settings`,
    as for the local engine (checked here before any work). `model_path` must be readable at the same path on every
    node (None: each node's packaged default model). `colorizer` is the actor class
    (replaceable for tests and custom runtimes). Without `address`, an already connected
    Ray is used, else $RAY_ADDRESS, else a new local instance. Raises RayStartError
    before any work, RayRunError if Ray gives up midway or no file finishes for
    `stall_timeout` seconds, OutputFull when the output disk is full (every finished
    file is recorded).
    """
    require_ray()
    settings = resolve(settings, contract, model_path or "the default model")
    model_id = model_key(contract)
    size = render_size(settings, contract)
    if settings.fit_small:  # Ray's batches stack one shape: every input at one size
        raise ValueError(FIT_SMALL_LOCAL_ONLY)
    results: list[Result] = []

    def emit(result: Result, new: bool = True) -> None:
        if new and manifest is not None:
            manifest.record(result)  # only the driver writes the manifest
        results.append(result)
        if on_result is not None:
            on_result(result)

    rows = []
    for job in jobs:
        out = triage(job, model_id, settings, manifest, retry_failed, overwrite)
        if isinstance(out, Result):
            emit(out, new=is_new(out))
        else:
            rows.append(_job_row(job, out))
    if not rows:
        return results  # nothing to do: not even a cluster is needed

    res = start(address, device, threads)
    ray.data.DataContext.get_current().enable_progress_bars = False  # the caller has its own (on_result)
    log.info("ray: %d files to do, %d inference actor(s) x (%d CPU, %d GPU), batch %d",
             len(rows), res["actors"], res["num_cpus"], res["num_gpus"], batch_size)
    ds = ray.data.from_items(rows, override_num_blocks=min(len(rows), MAX_BLOCKS))
    with warnings.catch_warnings():
        # Ray 2.60 has no named parameter for retry limits yet and flags the kwargs as deprecated
        # (removal announced for 2.64, hence the extra's upper bound); the limits matter more.
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ds.map(decode_stage, fn_kwargs={"size": size, "settings": settings, "model_id": model_id},
                    max_retries=TASK_RETRIES)
        ds = ds.map_batches(
            colorizer, batch_size=batch_size, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=res["actors"]),
            fn_constructor_kwargs={"model_path": None if model_path is None else os.path.abspath(model_path),
                                   "device": device,
                                   "threads": res["threads"], "model_id": model_id, "batch_size": batch_size,
                                   "size": size, "temperature": settings.temperature},
            num_cpus=res["num_cpus"], num_gpus=res["num_gpus"] or None,
            max_restarts=TASK_RETRIES, max_task_retries=TASK_RETRIES,
        )
        ds = ds.map(finish_stage, fn_kwargs={"settings": settings, "model_id": model_id}, max_retries=TASK_RETRIES)
    for row in _watched(ds.iter_rows(), stall_timeout, len(rows)):
        got = json.loads(row["result"])
        if FULL_KEY in got:  # stop taking results; what is still in flight is redone by a rerun
            full = OutputFull(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), got[FULL_KEY])
            full.results = results
            raise full
        try:
            result = Result.from_dict(got)
            emit(result, new=is_new(result))
        except OutputFull as e:  # the manifest's disk
            e.results = results
            raise
    return results


def _watched(rows: Iterable[dict], stall_timeout: float, expected: int) -> Iterator[dict]:
    """The result rows, read on a thread, with a watchdog: no row for `stall_timeout` s is an error.

    A cluster that cannot schedule a stage (its CPUs taken by other jobs, a node lost)
    would otherwise leave the run waiting forever without a word.
    """
    box: queue.Queue = queue.Queue(maxsize=64)
    end = object()

    def pump() -> None:
        try:
            for row in rows:
                box.put(row)
            box.put(end)
        except BaseException as e:  # noqa: BLE001 - handed to the driver thread
            box.put(e)

    threading.Thread(target=pump, name="colored-ray-results", daemon=True).start()
    got = 0
    while True:
        try:
            item = box.get(timeout=stall_timeout)
        except queue.Empty:
            raise RayRunError(
                f"the Ray run stalled: no file finished for {stall_timeout:g} s ({got} of {expected} done; "
                f"free in the cluster: {_free_resources()}); finished files are kept") from None
        if item is end:
            return
        if isinstance(item, BaseException):  # Ray gave up (retries exhausted, actors cannot start, cluster lost)
            raise RayRunError(f"the Ray run stopped: {_first_line(item)}") from item
        got += 1
        yield item


def _free_resources() -> str:
    try:
        free = ray.available_resources()
    except Exception:  # noqa: BLE001 - only for the message
        return "unknown"
    return ", ".join(f"{k}={v:g}" for k, v in sorted(free.items()) if k in ("CPU", "GPU")) or "no CPU or GPU"


__all__ = ["INSTALL_HINT", "RayUnavailable", "RayStartError", "RayRunError", "require_ray", "connect", "start",
           "Colorizer", "decode_stage", "finish_stage", "plan_resources", "process_ray"]
