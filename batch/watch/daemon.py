"""colored-watch: a long-lived service that colorizes every image that lands in a folder tree.

It is colored-batch fed by file-system events instead of one walk:

    start: check folders, take OUT/.colored/lock (shared with colored-batch), remove
           the temp files a killed run left, open the model,
           start watching (recursively), then scan the tree once: the backlog
           that arrived while the daemon was down goes through the pipeline,
           and the shared manifest makes sure nothing is done twice.
    run:   events -> Pending (coalesced per path) -> settled (complete) files ->
           a bounded queue -> pipeline.process (batched inference, atomic writes,
           manifest records) -> optional move of the original.
    stop:  SIGTERM/SIGINT: no new files are taken, work in flight finishes, exit 0.
           kill -9 loses nothing: outputs are atomic and only recorded once
           written, so the next start's scan finishes what was cut off.

A file that failed is recorded with its fingerprint and is not tried again until
it changes (any new write gives it a new fingerprint). Entries that are not
files to colorize (symlink loop, dangling link, FIFO, unreadable folder: see
batch.walk) get one log line each per run. A full output disk pauses the daemon
(event=disk_full), which retries with backoff and resumes (event=resumed) by
rescanning: nothing is recorded as failed for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import click

from batch import options
from batch.file_notes import route_library_warnings
from batch.images import ImageError
from batch.jobs import Job, PlanError, check_roots, plan_folder, plan_jobs
from batch.manifest import Manifest, fingerprint
from batch.out_of_space import OutputFull, out_of_space_error
from batch.output_lock import OutputBusy, claim_output
from batch.pipeline import model_key, process
from batch.results import ALREADY_DONE, DONE, FAILED, FAILED_EARLIER, SKIPPED, Result
from batch.service_log import LOG_FORMATS, LOG_LEVELS, event, setup_logging
from batch.render import describe, resolve
from batch.session import SessionError, default_model_path, open_session
from batch.watch.preview import LatestSheet
from batch.settings import Settings
from batch.walk import Odd, classify
from batch.watch.events import InboxHandler, Pending
from batch.watch.moves import move_aside
from batch.watch.status import Status

log = logging.getLogger("colored.watch")

FULL_BACKOFF = (1.0, 60.0)  # a full output disk: first and longest wait between retries, seconds
PROBE_BYTES = 1 << 20  # free space a retry must find before the pipeline starts again


@dataclass(frozen=True)
class WatchConfig:
    input_root: Path
    output_root: Path
    settings: Settings
    settle: float = 2.0  # seconds a file must stay unchanged when no close event says it is complete
    close_write: bool = True  # trust close-after-write events (Linux inotify)
    workers: int = 2
    batch_size: int = 4
    move_done: Path | None = None
    move_failed: Path | None = None
    status_file: Path | None = None
    status_interval: float = 5.0
    rescan: float = 600.0  # seconds between safety-net scans (0: only at start)
    poll: float = 0.0  # >0: poll the tree every so many seconds instead of OS events (network mounts)
    preview: Path | None = None  # contact sheet of the latest files, refreshed every preview_interval
    preview_count: int = 12
    preview_interval: float = 60.0
    overwrite: bool = False  # outputs may replace files at their names that the manifest does not know


class Watcher:
    """One daemon run: the intake, the job stream fed to the pipeline, and the bookkeeping."""

    def __init__(self, cfg: WatchConfig, session, contract) -> None:
        self.cfg = cfg
        self.session, self.contract = session, contract
        self.model_id = model_key(contract)
        self.manifest = Manifest(cfg.output_root)
        self.pending = Pending(cfg.settle)
        self.ready: queue.Queue[Path] = queue.Queue(maxsize=max(64, 4 * cfg.batch_size))  # settled, still in pending
        self.in_flight: dict[str, Job] = {}  # relative input -> job handed to the pipeline, not finished yet
        self.in_flight_lock = threading.Lock()
        self.stop = threading.Event()
        self.fatal: str | None = None
        self.status = Status(cfg.input_root, cfg.output_root, self.queue_depth)
        self.scan: Iterator[Job] | None = None
        self.next_rescan = float("inf")
        self.preview = LatestSheet(cfg.preview, cfg.input_root, cfg.output_root, cfg.preview_count,
                                   cfg.preview_interval) if cfg.preview else None
        self.odd_seen: set[tuple[str, str]] = set()  # (entry, reason) already logged this run
        self.on_close: set[Path] = set()  # inputs taken on a close-after-write: may still be growing
        self.held: set[str] = set()  # failures held back, to be tried again once the file has settled

    def queue_depth(self) -> int:
        waiting = len(self.pending)  # first: files move from here to in_flight, never the other way
        with self.in_flight_lock:
            return waiting + len(self.in_flight)

    # ------------------------------------------------------------ intake

    def settle_loop(self) -> None:
        """Hand complete files to the bounded queue; waits (never drops) when it is full."""
        tick = min(0.25, max(0.02, self.cfg.settle / 4))
        while not self.stop.wait(tick):
            for path in self.pending.take_settled():
                while not self.stop.is_set():
                    try:
                        self.ready.put(path, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                # On stop the rest stays on disk, unrecorded: the next start's scan takes it.

    def start_scan(self, why: str) -> None:
        self.manifest.refresh()  # entries colored-batch (or an earlier run) appended meanwhile
        self.scan = plan_jobs(self.cfg.input_root, self.cfg.output_root, self.cfg.settings, on_odd=self.report_odd)
        self.status.set_state("scanning")
        event(log, logging.INFO, "scan", why=why)

    def jobs(self, halt: threading.Event, limit: int | None = None) -> Iterator[Job]:
        """The pipeline's job stream: settled files first, then the scan, blocking when idle (until
        stopped or halted; `limit`: at most that many jobs)."""
        given = 0
        while (limit is None or given < limit) and not self.stop.is_set() and not halt.is_set():
            try:
                paths = [self.ready.get_nowait()]
            except queue.Empty:
                paths = []
            if not paths and self.scan is not None:
                job = next(self.scan, None)
                if job is None:
                    self.scan = None
                    self.status.set_state("watching")
                    event(log, logging.INFO, "scan_done", queue=self.queue_depth())
                elif self.worth_doing(job) and self.claim(job):
                    given += 1
                    yield job
                continue
            if not paths:
                if time.monotonic() >= self.next_rescan:
                    self.next_rescan = time.monotonic() + self.cfg.rescan
                    self.start_scan("periodic")
                    continue
                try:
                    paths = [self.ready.get(timeout=0.2)]
                except queue.Empty:
                    continue
            while len(paths) < 64:  # a burst: plan each folder once for many files
                try:
                    paths.append(self.ready.get_nowait())
                except queue.Empty:
                    break
            self.manifest.refresh()  # a colored-batch run on the same output may have done some
            claimed = [job for job in self.plan(paths) if self.claim(job)]
            for path in paths:  # claimed first, released after: always counted somewhere
                if self.pending.handed_on_close(path):
                    self.on_close.add(path)
                self.pending.release(path)
            for i, job in enumerate(claimed):
                if self.stop.is_set():  # stopping: leave the rest for the next start
                    self.unclaim(claimed[i:])
                    return
                given += 1
                yield job

    def plan(self, paths: list[Path]) -> list[Job]:
        """Jobs for settled paths, named exactly as colored-batch names them."""
        wanted: dict[Path, set[Path]] = {}
        for p in paths:
            wanted.setdefault(p.parent, set()).add(p)
        jobs = []
        for folder, files in wanted.items():
            try:
                rel = PurePosixPath(folder.relative_to(self.cfg.input_root).as_posix())
                jobs += [j for j in plan_folder(self.cfg.input_root, self.cfg.output_root, rel, self.cfg.settings)
                         if j.input in files]
            except OSError as e:  # the folder vanished or became unreadable meanwhile
                event(log, logging.WARNING, "skipped_folder", folder=str(folder), reason=str(e))
        planned = {j.input for j in jobs}
        for p in paths:  # an event for something that is not a file (FIFO, dangling link): say so
            if p not in planned and os.path.lexists(p):
                kind, status, reason = classify(p)
                if kind == "odd":
                    self.report_odd(Odd(PurePosixPath(p.relative_to(self.cfg.input_root).as_posix()), status, reason))
        return jobs

    def report_odd(self, odd: Odd) -> None:
        """One log line per entry that is not colorized (batch.walk), once per run, not per rescan."""
        key = (str(odd.relative), odd.reason)
        if key in self.odd_seen:
            return
        self.odd_seen.add(key)
        self.status.count(Result(key[0], None, odd.status, reason=odd.reason))
        level = logging.WARNING if odd.status == FAILED else logging.INFO
        event(log, level, odd.status, src=key[0], reason=odd.reason)

    def worth_doing(self, job: Job) -> bool:
        """For scans: leave finished work alone unless its original is still to be moved aside."""
        try:
            age = time.time() - job.input.stat().st_mtime
            fp = fingerprint(job, self.model_id, self.cfg.settings)
        except OSError:
            return False  # gone since the walk
        if self.manifest.is_done(job, fp):
            return self.cfg.move_done is not None
        if self.manifest.failed_before(job, fp):
            return self.cfg.move_failed is not None
        if age < self.cfg.settle:  # written just now (or dated in the future): may be incomplete
            self.pending.touch(job.input)
            return False
        return True

    def claim(self, job: Job) -> bool:
        """Mark a job in flight; one already in flight is put back to be looked at once it is done."""
        key = str(job.relative)
        with self.in_flight_lock:
            if key not in self.in_flight:
                self.in_flight[key] = job
                return True
        self.pending.touch(job.input)
        return False

    def unclaim(self, jobs: list[Job]) -> None:
        with self.in_flight_lock:
            for job in jobs:
                self.in_flight.pop(str(job.relative), None)

    # ------------------------------------------------------------ results

    def record_if(self, result: Result) -> bool:
        """Whether the manifest records this result. Not a failure of a file taken on its writer's
        close: it may only be unfinished (see docs/watch.md, "Writers that append"), so it is tried
        again once unchanged for --settle seconds, and only that try's failure is final."""
        with self.in_flight_lock:
            job = self.in_flight.get(result.input)
        if result.status != FAILED or job is None or job.input not in self.on_close:
            return True
        self.on_close.discard(job.input)
        self.held.add(result.input)
        return False

    def on_result(self, result: Result) -> None:
        with self.in_flight_lock:
            job = self.in_flight.get(result.input)
        if result.input in self.held:  # not final: wait for the file to settle, then try again
            self.held.discard(result.input)
            event(log, logging.INFO, "retry_when_settled", src=result.input, reason=result.reason,
                  settle=self.cfg.settle)
            if job is not None:
                self.pending.touch(job.input)  # not "complete": only a quiet period hands it on now
            with self.in_flight_lock:
                self.in_flight.pop(result.input, None)
            return
        if job is not None:
            self.on_close.discard(job.input)
        self.status.count(result)
        ms = round(result.seconds * 1000)
        if result.status == DONE:
            event(log, logging.INFO, "done", src=result.input, out=result.output, ms=ms,
                  notes="; ".join(result.notes) or None)
        elif result.status == SKIPPED:
            event(log, logging.INFO, "skipped", src=result.input, reason=result.reason)
        elif result.status == FAILED:
            event(log, logging.WARNING, "failed", src=result.input, reason=result.reason, ms=ms)
        elif result.status == FAILED_EARLIER:
            event(log, logging.INFO, "not_retried", src=result.input, reason=result.reason)
        elif result.status == ALREADY_DONE:
            event(log, logging.DEBUG, "already_done", src=result.input, out=result.output)
        if self.preview is not None:
            self.preview.add(result)
        target = self.cfg.move_failed if result.failed else self.cfg.move_done
        if job is not None and target is not None and result.fingerprint:
            self.move_original(job, result, target)
        with self.in_flight_lock:  # last: until here the file counts in the queue depth
            self.in_flight.pop(result.input, None)

    def move_original(self, job: Job, result: Result, target: Path) -> None:
        try:
            if fingerprint(job, self.model_id, self.cfg.settings) != result.fingerprint:
                event(log, logging.INFO, "not_moved", src=result.input, reason="changed while being processed")
                return
            dst = move_aside(job.input, self.cfg.input_root, target)
            event(log, logging.INFO, "moved", src=result.input, to=str(dst))
        except OSError as e:  # the output is safe either way; the original just stays in the inbox
            event(log, logging.WARNING, "not_moved", src=result.input, reason=str(e))

    # ------------------------------------------------------------ the run

    def heartbeat_loop(self, observer) -> None:
        while not self.stop.wait(self.cfg.status_interval):
            if not all(e.is_alive() for e in observer.emitters) or not observer.is_alive():
                self.fail_fatally("the folder watch stopped (was the input folder removed or unmounted?)")
            self.write_status()
            self.write_preview()

    def write_preview(self, force: bool = False) -> None:
        if self.preview is None:
            return
        try:
            written = self.preview.refresh(force)
        except (OSError, ImageError) as e:  # the outputs are fine either way; try again next time
            event(log, logging.WARNING, "preview_not_written", path=str(self.cfg.preview), reason=str(e))
            return
        if written:
            event(log, logging.INFO, "preview", path=str(self.cfg.preview), files=written)

    def write_status(self) -> None:
        if self.cfg.status_file is None:
            return
        try:
            self.status.write(self.cfg.status_file)
        except OSError as e:
            event(log, logging.WARNING, "status_not_written", path=str(self.cfg.status_file), reason=str(e))

    def fail_fatally(self, reason: str) -> None:
        self.fatal = reason
        event(log, logging.ERROR, "fatal", reason=reason)
        self.stop.set()

    def run(self) -> int:
        """Watch until stopped; 0 after a clean stop, 1 after a fatal error (a supervisor restarts it)."""
        cfg = self.cfg
        observer = start_observer(cfg, InboxHandler(cfg.input_root, self.pending, cfg.close_write,
                                                    self.status.saw_event))
        threads = [threading.Thread(target=self.settle_loop, name="watch-settle", daemon=True),
                   threading.Thread(target=self.heartbeat_loop, args=(observer,), name="watch-status", daemon=True)]
        for t in threads:
            t.start()
        event(log, logging.INFO, "started", input=str(cfg.input_root), output=str(cfg.output_root),
              pid=os.getpid(), settle=cfg.settle, batch=cfg.batch_size, workers=cfg.workers,
              render=describe(cfg.settings, self.contract),
              watcher="polling" if cfg.poll else type(observer).__name__)
        self.start_scan("startup")  # after the watch is up: nothing can slip between the two
        self.next_rescan = time.monotonic() + cfg.rescan if cfg.rescan > 0 else float("inf")
        self.write_status()
        try:
            while not self.stop.is_set():
                halt = threading.Event()  # the pipeline sets it on a run-level error (a full disk)
                try:
                    # One pipeline for the daemon's life: results stream to on_result, none is kept.
                    # It ends when the watch stops (the job stream ends) or the disk is full.
                    process(self.jobs(halt), self.session, self.contract, cfg.settings,
                            manifest=self.manifest, workers=cfg.workers, batch_size=cfg.batch_size,
                            on_result=self.on_result, halt=halt, record_if=self.record_if, keep_results=False,
                            overwrite=cfg.overwrite)
                except OutputFull as e:
                    self.wait_for_space(e)
        except Exception as e:  # not one file's failure: e.g. the output disk is gone
            self.fail_fatally(f"{type(e).__name__}: {e}")
        finally:
            self.stop.set()
            observer.stop()
            observer.join(timeout=10)
            for t in threads:
                t.join(timeout=10)
            self.status.set_state("failed" if self.fatal else "stopped")
            self.write_status()
            self.write_preview(force=True)
            event(log, logging.INFO, "stopped", **{k: v for k, v in self.status.snapshot().items()
                                                   if k in ("processed", "skipped", "failed", "not_retried")})
        return 1 if self.fatal else 0

    def wait_for_space(self, full: OutputFull) -> None:
        """Pause on a full output disk, retrying with backoff; then rescan, which redoes what was cut off."""
        with self.in_flight_lock:  # dropped unrecorded by the pipeline: the rescan finds them again
            dropped = len(self.in_flight)
            self.in_flight.clear()
        done = self.status.snapshot()["processed"]
        self.status.set_state("disk_full")
        event(log, logging.ERROR, "disk_full", reason=str(full), processed=done, dropped=dropped,
              msg="output disk full; pausing, will retry")
        wait, longest = FULL_BACKOFF
        paused = time.monotonic()
        while not self.stop.wait(wait):
            if self.has_space():
                event(log, logging.INFO, "resumed", paused_s=round(time.monotonic() - paused, 1))
                self.start_scan("resumed")
                return
            wait = min(longest, wait * 2)

    def has_space(self) -> bool:
        """Whether a PROBE_BYTES file can be written where the outputs go (and removed again)."""
        probe = self.cfg.output_root / ".colored" / "space-probe"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, bytes(PROBE_BYTES))
                os.fsync(fd)
            finally:
                os.close(fd)
            return True
        except OSError as e:
            if not out_of_space_error(e):
                raise
            return False
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()

    def request_stop(self, signum: int, _frame=None) -> None:
        if self.stop.is_set():  # a second signal: do not wait for the drain (outputs are atomic anyway)
            event(log, logging.WARNING, "killed", signal=signal.Signals(signum).name)
            os._exit(130)
        self.status.set_state("stopping")
        event(log, logging.INFO, "stopping", signal=signal.Signals(signum).name, in_flight=len(self.in_flight))
        self.stop.set()


def start_observer(cfg: WatchConfig, handler: InboxHandler):
    """A recursive watchdog observer on the inbox: OS events, or polling for network mounts."""
    if cfg.poll > 0:
        from watchdog.observers.polling import PollingObserver

        observer = PollingObserver(timeout=cfg.poll)
    else:
        from watchdog.observers import Observer

        observer = Observer()
    observer.schedule(handler, str(cfg.input_root), recursive=True)
    try:
        observer.start()
    except OSError as e:
        hint = ""
        if "watch limit" in str(e) or "instance limit" in str(e):
            hint = " (raise fs.inotify.max_user_watches / max_user_instances with sysctl, or use --poll)"
        raise StartError(f"{cfg.input_root}: cannot watch: {e.strerror or e}{hint}") from None
    return observer


class StartError(click.ClickException):
    """The daemon could not start (bad folders, model, device or lock): exit 2, no restart loop helps."""

    exit_code = 2


EPILOG = """\b
Examples:
  colored-watch ./inbox ./colorized
  colored-watch /srv/scans/in /srv/scans/out --model colored.onnx --format jpg --quality 90
  colored-watch ./inbox ./out --move-done ./archive/done --move-failed ./archive/failed
  colored-watch /mnt/nas/in ./out --poll 5 --settle 10      # network mount: no OS events there
  colored-watch ./inbox ./out --log-format json --log-level DEBUG
  colored-watch ./inbox ./out --render-size 384 --strength 1.2 --preview latest.png

\b
Every image that lands below INPUT_DIR (created, copied, moved in, or changed),
in any sub-folder, is colorized into the same place below OUTPUT_DIR, named as
colored-batch names it and recorded in the same manifest, so the two can be
mixed. Partial names (.part, .crdownload, .tmp, name~, dotfiles, dot-folders)
are ignored until renamed. On start the whole tree is scanned once to catch up.
SIGTERM or Ctrl-C finish the files in flight and exit 0.
Status: --status-file (default OUTPUT_DIR/.colored/watch-status.json).
Exit status: 0 stopped cleanly, 1 fatal error while running, 2 could not start.
"""


@click.command(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("input_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("output_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True, help="Decode threads, and as many encode threads.")
@options.preview_option("Keep a contact sheet of the latest files (grey input beside colour output, labelled), "
                          "refreshed every --preview-interval seconds when new files are done.")
@click.option("--preview-interval", type=click.FloatRange(1.0), default=60.0, show_default=True,
              help="Seconds between refreshes of the --preview sheet.")
@click.option("--settle", type=click.FloatRange(0.05), default=2.0, show_default=True,
              help="Seconds a file's size and mtime must stay unchanged before it counts as complete "
                   "(when no close-after-write event says so).")
@click.option("--close-write/--no-close-write", default=True, show_default=True,
              help="Take a close-after-write event (Linux) as 'complete'. Turn off for writers that reopen "
                   "a file to append to it; then only --settle decides.")
@click.option("--poll", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Poll the tree every SECONDS instead of using OS events (NFS/SMB mounts do not report "
                   "other machines' writes). 0: OS events.")
@click.option("--rescan", type=click.FloatRange(0), default=600.0, show_default=True,
              help="Scan the whole tree every SECONDS as a safety net for lost events. 0: only at start.")
@options.OVERWRITE
@click.option("--move-done", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Move each original here (same sub-path, never overwriting) once its output is written.")
@click.option("--move-failed", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Move originals that failed here (same sub-path, never overwriting).")
@click.option("--status-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Heartbeat JSON (pid, counts, queue depth, last event). Default: OUTPUT_DIR/.colored/watch-status.json.")
@click.option("--status-interval", type=click.FloatRange(0.1), default=5.0, show_default=True,
              help="Seconds between status-file rewrites.")
@click.option("--log-format", type=click.Choice(LOG_FORMATS), default="logfmt", show_default=True,
              help="One line per event on stderr: key=value pairs, or JSON objects.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="INFO", show_default=True,
              help="Least severe events logged; DEBUG adds files found already done.")
def main(input_dir: Path, output_dir: Path, model_path: Path | None, fmt: str, suffix: str, quality: int,
         skip_color: bool, max_pixels: int, device: str, threads: int | None, batch_size: int, render_size: int | None,
         strength: float, temperature: float | None, preview_count: int, workers: int,
         preview_path: Path | None, preview_interval: float, settle: float, close_write: bool, poll: float, rescan: float,
         overwrite: bool, move_done: Path | None,
         move_failed: Path | None, status_file: Path | None, status_interval: float, log_format: str,
         log_level: str) -> None:
    """Watch INPUT_DIR (recursively) and colorize every image that arrives into OUTPUT_DIR."""
    setup_logging(log_format, log_level)
    route_library_warnings()  # what Pillow & co. warn about a file goes to its notes (event=done notes=...)
    for sig in (signal.SIGTERM, signal.SIGINT):  # until the watch runs there is nothing to drain
        signal.signal(sig, _stop_during_startup)
    try:
        settings = Settings(format=fmt, suffix=suffix, quality=quality, skip_color=skip_color, max_pixels=max_pixels,
                            render_size=render_size, strength=strength, temperature=temperature)
        check_roots(input_dir, output_dir)
        if preview_path is not None:
            options.check_preview_path(preview_path, input_dir)
        for option, folder in (("--move-done", move_done), ("--move-failed", move_failed)):
            if folder is not None:
                check_move_target(option, folder, input_dir, output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        lock, removed = claim_output(output_dir, "colored-watch")
        if removed:
            event(log, logging.INFO, "stale_temps_removed", count=removed, reason="left by an interrupted run")
        session, contract = open_session(model_path, device=device, threads=threads)
        settings = resolve(settings, contract, model_path or default_model_path())
    except (PlanError, SessionError, ValueError, OutputBusy) as e:
        raise StartError(str(e)) from None
    except OSError as e:
        raise StartError(f"{e.filename or output_dir}: {e.strerror or e}") from None
    cfg = WatchConfig(
        input_root=input_dir.resolve(), output_root=output_dir.resolve(), settings=settings, settle=settle,
        close_write=close_write, workers=workers, batch_size=batch_size,
        move_done=move_done.resolve() if move_done else None,
        move_failed=move_failed.resolve() if move_failed else None,
        status_file=(status_file or output_dir / ".colored" / "watch-status.json").resolve(),
        status_interval=status_interval, rescan=rescan, poll=poll,
        preview=preview_path.resolve() if preview_path else None, preview_count=preview_count,
        preview_interval=preview_interval, overwrite=overwrite,
    )
    watcher = Watcher(cfg, session, contract)
    signal.signal(signal.SIGTERM, watcher.request_stop)
    signal.signal(signal.SIGINT, watcher.request_stop)
    code = watcher.run()
    with contextlib.suppress(OSError):
        lock.release()
    raise SystemExit(code)


# colored-batch's options that mean exactly the same here (batch.options: one definition for both).
main = options.with_shared_options(main)


def _stop_during_startup(signum: int, _frame=None) -> None:
    event(log, logging.INFO, "stopped", signal=signal.Signals(signum).name, during="startup")
    raise SystemExit(0)


def check_move_target(option: str, folder: Path, input_dir: Path, output_dir: Path) -> None:
    """A moved original must never land where it would be watched again, or mix with outputs."""
    target, src, dst = folder.resolve(), input_dir.resolve(), output_dir.resolve()
    if target.is_relative_to(src):
        raise PlanError(f"{option} {folder}: must not be inside the watched folder {input_dir}")
    if src.is_relative_to(target):
        raise PlanError(f"{option} {folder}: must not contain the watched folder {input_dir}")
    if target.is_relative_to(dst):
        raise PlanError(f"{option} {folder}: must not be inside the output folder {output_dir}")
    if target.exists() and not target.is_dir():
        raise PlanError(f"{option} {folder}: exists and is not a folder")


__all__ = ["main", "Watcher", "WatchConfig"]
