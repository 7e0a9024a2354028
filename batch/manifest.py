"""The run manifest: an append-only JSONL file in the output folder that makes runs resumable.

One line per finished file, written AFTER its output was renamed into place, so
a file counts as done only if both its output exists (with the size recorded)
and its entry's fingerprint (input size and mtime, model, settings, output name)
matches this run. Each line goes out in a single O_APPEND write under an flock
on the manifest, which keeps lines whole when several processes append (a watch
daemon beside a batch run) and leaves at most the last line torn after kill -9; unparsable lines are
ignored. A write the disk cannot take (ENOSPC, EDQUOT, EROFS) is cut back to
the old length and raised as OutputFull, so a full disk never tears a line.
Names that are not UTF-8 are stored as \\udcXX escapes (batch.names) and read
back as the same str. The last entry for an input wins.

Every output name an entry ever gave, or that was claimed in .colored/claims.jsonl before
its file was written, is the tool's own (owns()); any other file at an output name is the
user's and is not replaced without --overwrite (batch.pipeline.triage).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import threading
from pathlib import Path

from batch.jobs import Job
from batch.names import json_text
from batch.out_of_space import OutputFull, out_of_space_error
from batch.results import DONE, FAILED, SKIPPED, Result
from batch.settings import Settings
from batch.stopwatch import stage

MANIFEST_NAME = ".colored-manifest.jsonl"
# Output names claimed before they are written (one JSON string per line): a kill between an
# output's rename and its manifest line must not leave it looking like a file someone else put
# there (colored-batch never replaces those without --overwrite).
CLAIMS_NAME = Path(".colored") / "claims.jsonl"


def fingerprint(job: Job, model_id: str, settings: Settings) -> str:
    """What must be unchanged for an earlier result of `job` to still stand."""
    st = job.input.stat()
    key = {
        "input": str(job.relative),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "output": str(job.output_relative),
        "model": model_id,
        "settings": settings.as_dict(),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


class Manifest:
    def __init__(self, output_root: str | Path) -> None:
        self.root = Path(output_root)
        self.path = self.root / MANIFEST_NAME
        self.claims_path = self.root / CLAIMS_NAME
        self._claims_offset = 0
        self._entries: dict[str, Result] = {}
        self._outputs: set[str] = set()  # every output name any entry ever gave: the tool's own files
        self._offset = 0
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        """Read entries (and claims) appended since the last read (by this or another process)."""
        lines, self._offset = _new_lines(self.path, self._offset)
        for line in lines:
            try:
                result = Result.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue  # torn by a kill, or garbage: that file simply is not done
            with self._lock:
                self._remember(result)
        lines, self._claims_offset = _new_lines(self.claims_path, self._claims_offset)
        for line in lines:
            try:
                self._outputs.add(str(json.loads(line)))
            except ValueError:
                continue

    def _remember(self, result: Result) -> None:
        self._entries[result.input] = result
        if result.output:
            self._outputs.add(result.output)

    def owns(self, job: Job) -> bool:
        """Whether the job's output name is one this tool wrote (or claimed), by any entry, ever."""
        return str(job.output_relative) in self._outputs

    def claim(self, job: Job) -> None:
        """Record that the job's output name is about to be written by us (see CLAIMS_NAME)."""
        name = str(job.output_relative)
        with self._lock:
            if name not in self._outputs:
                _append(self.claims_path, (json_text(name) + "\n").encode())
                self._outputs.add(name)

    def __len__(self) -> int:
        """How many inputs have an entry."""
        return len(self._entries)

    def lookup(self, job: Job) -> Result | None:
        """The latest entry for this job's input, whatever its fingerprint."""
        return self._entries.get(str(job.relative))

    def is_done(self, job: Job, fp: str) -> bool:
        """True when an earlier run finished this exact work and its output is still intact."""
        entry = self.lookup(job)
        if entry is None or entry.fingerprint != fp:
            return False
        if entry.status == SKIPPED:
            return True
        if entry.status != DONE:
            return False
        try:
            return job.output.stat().st_size == entry.output_bytes
        except OSError:
            return False

    def failed_before(self, job: Job, fp: str) -> Result | None:
        """The earlier failure of this exact work, if that is what the manifest holds."""
        entry = self.lookup(job)
        return entry if entry is not None and entry.status == FAILED and entry.fingerprint == fp else None

    def record(self, result: Result) -> None:
        """Append one entry; safe from several threads and processes."""
        line = (json_text(result.to_dict()) + "\n").encode()
        with stage("manifest"), self._lock:
            _append(self.path, line)
            self._remember(result)


def _new_lines(path: Path, offset: int) -> tuple[list[bytes], int]:
    """The whole lines appended to `path` after `offset`, and the offset after them."""
    if not path.exists():
        return [], offset
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1  # a line without its newline may still be being written
    return data[:end].splitlines(), offset + end


def _append(path: Path, line: bytes) -> None:
    """Append one line in one write under an flock; a full disk raises OutputFull, the file whole."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as e:
        if out_of_space_error(e):
            raise OutputFull(e, str(path)) from e
        raise
    try:
        _lock_file(fd)  # released by close, or by the kernel if we die
        size = os.fstat(fd).st_size
        if _ends_torn(fd, size):
            line = b"\n" + line  # close off a line a killed writer left behind
        _write_whole(fd, line, size, path)
    finally:
        os.close(fd)


def _lock_file(fd: int) -> None:
    """Serialise appends across processes (a watch daemon beside a batch run).

    O_APPEND alone keeps each write whole, but the torn-tail check before it must
    not see another writer's line half-way (some kernels and sandboxes expose the
    new size before the bytes), or it closes off a line that was never torn.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: single writer per output folder is all we promise there
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def _ends_torn(fd: int, size: int) -> bool:
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _write_whole(fd: int, line: bytes, size: int, path: Path) -> None:
    """Append `line` in one write, or leave the file as it was: a short write on a full disk is cut off."""
    try:
        written = os.write(fd, line)
        if written != len(line):  # the disk took only part of it
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    except OSError as e:
        try:
            os.ftruncate(fd, size)  # we hold the manifest's flock: nobody else appended meanwhile
        except OSError:
            pass
        if out_of_space_error(e):
            raise OutputFull(e, str(path)) from e
        raise
