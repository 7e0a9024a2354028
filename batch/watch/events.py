"""From file-system events to "this file is completely written": the daemon's intake.

watchdog delivers events on its observer thread; they are only coalesced here
(one entry per path, whatever the number of events), never blocking that thread:
a blocked inotify reader makes the kernel drop events. A separate settler decides
when a pending file is complete:

* close-after-write (inotify IN_CLOSE_WRITE, watchdog's FileClosedEvent on Linux):
  the writer closed it and nothing modified it since -> complete now;
* a rename inside the watched tree (write-then-rename, as rsync and browsers do):
  the file was complete before it got its final name -> complete now;
* otherwise (no close events on macOS/Windows/network mounts, files moved in from
  outside, `--no-close-write`): size and mtime unchanged for `settle` seconds.

Names that are partial by convention (.part, .crdownload, .tmp, 'name~', dotfiles,
anything in a dot-folder) are never candidates, so a download or an editor's
save is only picked up under its final name.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from batch.images import SUPPORTED_EXTENSIONS
from batch.jobs import source_format

# Suffixes downloaders, copy tools and editors use while a file is still being written.
PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".filepart", ".tmp", ".temp", ".swp", ".!ut")


def is_candidate(path: Path, root: Path) -> bool:
    """Whether `path` (below `root`) is an image the daemon should colorize, judged by name only."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return False  # moved out of the tree, or a path from another mount
    if not parts or any(p.startswith(".") for p in parts):
        return False
    name = parts[-1].lower()
    if name.endswith("~") or name.endswith(PARTIAL_SUFFIXES):
        return False
    return path.suffix.lower() in SUPPORTED_EXTENSIONS and source_format(path) is not None


def walk_candidates(folder: Path, root: Path) -> Iterable[Path]:
    """Candidate files below `folder` (not entering dot-folders), in sorted order."""
    for here, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(here, name)
            if is_candidate(path, root):
                yield path


@dataclass
class _Entry:
    touched: float  # monotonic time of the last event or observed change
    closed: bool = False  # a close-after-write (or in-tree rename) since the last modification
    signature: tuple[int, int] | None = None  # (size, mtime_ns) at the last settle check
    handed: bool = False  # settled and handed on; kept (and counted) until the consumer releases it


class Pending:
    """Files seen in events and not yet taken up by the pipeline, coalesced per path. Thread-safe.

    A settled file stays listed (so it counts in len()) until the consumer has
    taken it up and calls release(): a queue depth read from here never shows a
    file as gone while it is only changing hands.
    """

    def __init__(self, settle: float) -> None:
        self.settle = settle
        self._entries: dict[Path, _Entry] = {}
        self._on_close: set[Path] = set()  # handed on because of a close-after-write, not a quiet period
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def touch(self, path: Path, complete: bool = False) -> None:
        """The file was created, written or changed (complete: closed after writing, or renamed in)."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(path)
            if entry is None:
                self._entries[path] = _Entry(now, closed=complete)
            else:  # changed again, even if already handed on: it must settle (again) and be looked at
                entry.touched, entry.closed, entry.handed = now, complete, False

    def release(self, path: Path) -> None:
        """The consumer has taken up (or dropped) a handed-on file; forget it unless it changed since."""
        with self._lock:
            entry = self._entries.get(path)
            if entry is not None and entry.handed:
                del self._entries[path]

    def discard(self, path: Path) -> None:
        with self._lock:
            self._entries.pop(path, None)

    def take_settled(self, now: float | None = None) -> list[Path]:
        """The files that are complete now (see the module docstring), sorted, marked as handed on."""
        now = time.monotonic() if now is None else now
        with self._lock:
            due = [(p, e) for p, e in self._entries.items()
                   if not e.handed and (e.closed or now - e.touched >= self.settle)]
        settled, gone = [], []
        for path, entry in due:  # stat outside the lock: events keep flowing meanwhile
            try:
                st = path.stat()
                signature = (st.st_size, st.st_mtime_ns) if path.is_file() else None
            except OSError:
                signature = None
            if signature is None:
                # Not a regular file: a dangling link or a FIFO is handed on as it is (the consumer
                # reports it, batch.walk); what no longer exists at all is forgotten.
                (settled if os.path.lexists(path) else gone).append((path, entry))
                continue
            if entry.closed or signature == entry.signature:
                settled.append((path, entry))
            else:
                # First look, or it changed without an event (polling, network mounts):
                # it must now stay unchanged for a whole quiet period.
                with self._lock:
                    if self._entries.get(path) is entry and not entry.closed:
                        entry.signature, entry.touched = signature, now
        with self._lock:  # hand on only entries no event touched while we were looking
            for path, entry in gone:
                if self._entries.get(path) is entry:
                    del self._entries[path]
            out = []
            for path, entry in settled:
                if self._entries.get(path) is entry and (entry.closed or now - entry.touched >= self.settle):
                    entry.handed = True
                    (self._on_close.add if entry.closed else self._on_close.discard)(path)
                    out.append(path)
        return sorted(out)

    def handed_on_close(self, path: Path) -> bool:
        """Whether `path` was last handed on because its writer closed it (and not because it stayed
        unchanged for the quiet period): a writer that appends in several rounds closes it each time,
        so a decode failure may only mean "not finished yet". Asked once per hand-over."""
        with self._lock:
            if path in self._on_close:
                self._on_close.discard(path)
                return True
            return False


class InboxHandler(FileSystemEventHandler):
    """watchdog callbacks -> Pending. Runs on the observer thread, so it only records."""

    def __init__(self, root: Path, pending: Pending, close_write: bool = True,
                 on_event: Callable[[], None] | None = None) -> None:
        self.root = root
        self.pending = pending
        self.close_write = close_write
        self.on_event = on_event  # e.g. note the time of the last event for the status file

    def _touch(self, path: str | bytes, complete: bool = False) -> None:
        p = Path(os.fsdecode(path))
        if is_candidate(p, self.root):
            self.pending.touch(p, complete)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if self.on_event is not None and not event.is_directory:
            self.on_event()
        if isinstance(event, FileClosedEvent):
            if self.close_write:
                self._touch(event.src_path, complete=True)
        elif isinstance(event, (FileCreatedEvent, FileModifiedEvent, FileAttribEvent)):
            self._touch(event.src_path)
        elif isinstance(event, FileMovedEvent):
            self.pending.discard(Path(os.fsdecode(event.src_path)))
            if event.dest_path:
                self._touch(event.dest_path, complete=True)  # renamed within the tree: already complete
        elif isinstance(event, FileDeletedEvent):
            self.pending.discard(Path(os.fsdecode(event.src_path)))
        elif isinstance(event, (DirCreatedEvent, DirMovedEvent)):
            # A folder moved in arrives whole; watchdog also reports its files, but
            # a walk costs little and covers emitters that do not.
            folder = Path(os.fsdecode(event.dest_path if isinstance(event, DirMovedEvent) else event.src_path))
            if folder.is_dir() and is_candidate_dir(folder, self.root):
                for path in walk_candidates(folder, self.root):
                    self.pending.touch(path)


def is_candidate_dir(folder: Path, root: Path) -> bool:
    """A folder below root whose files are candidates (no dot-folder on the way)."""
    try:
        return not any(p.startswith(".") for p in folder.relative_to(root).parts)
    except ValueError:
        return False
