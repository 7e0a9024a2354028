"""What a library says while one file is decoded or encoded becomes a note of that file.

Pillow, tifffile and friends report a file's oddities (corrupt EXIF, an APNG chunk that makes
no sense, a tag they will not write) through Python's `warnings` or `logging`. Left alone
those print to stderr, detached from the file and, for warnings, only once per process.
Here they go to the notes of the file the current thread is working on (the report's
`notes` column):

    with file_notes.collecting(notes):   # around one file's decode or encode, on its own thread
        ...                               # warnings.warn(...), tifffile's log -> notes

`warnings` has no per-thread hook and `catch_warnings` swaps process-wide state (it is not
thread-safe), so one process-wide `warnings.showwarning` is installed instead; it looks up the
list of the *current thread* (threading.local), so several worker threads each collect only
their own file's warnings. Outside `collecting` the hook hands the warning to whatever
showed warnings before, as if it were not there.

Python shows a warning only once per code location and text (the "default" action), so a
second file with the same oddity would get no note. `route_library_warnings()`, called by the
commands at start and by Ray's workers, lets UserWarning and RuntimeWarning through every
time (behind any more specific filter, e.g. DecompressionBombWarning -> error); outside a
file the hook still shows each one once, as before.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from collections.abc import Iterator

# The categories libraries use for a file's oddities (DeprecationWarning is about our code, not the file).
ROUTED = (UserWarning, RuntimeWarning)

_current = threading.local()  # .notes: the list of the file this thread works on, or None
_lock = threading.Lock()
_previous = warnings.showwarning  # what showed warnings before the hook (for warnings outside a file)
_shown_outside: set[tuple] = set()


def route_library_warnings() -> None:
    """Let every UserWarning/RuntimeWarning reach the hook, not only the first of its kind.

    For a program's start (colored-batch, colored-watch, a Ray worker's stage), not for import:
    it changes the process's warning filters. Appended, so more specific filters still win.
    """
    with _lock:
        for category in ROUTED:
            if ("always", None, category, None, 0) not in warnings.filters:
                warnings.filterwarnings("always", category=category, append=True)
    _install()


@contextlib.contextmanager
def collecting(notes: list[str]) -> Iterator[list[str]]:
    """Until the block ends, warnings and library log lines raised on this thread are appended to `notes`."""
    _install()
    outer = getattr(_current, "notes", None)
    _current.notes = notes
    try:
        yield notes
    finally:
        _current.notes = outer


def _install() -> None:
    """Put the hook in place, again if something (catch_warnings, pytest) swapped it out meanwhile."""
    global _previous
    with _lock:
        if warnings.showwarning is not _show:
            _previous = warnings.showwarning
            warnings.showwarning = _show


def _note(notes: list[str], text: str) -> None:
    if text not in notes:  # a decoder that warns per strip or per tag read says it once per file
        notes.append(text)


def _show(message, category, filename, lineno, file=None, line=None) -> None:  # warnings.showwarning's signature
    notes = getattr(_current, "notes", None)
    if notes is not None:
        _note(notes, f"{category.__name__}: {message}")
        return
    if issubclass(category, ROUTED):  # "always" is ours: keep Python's once-per-place for the rest
        key = (str(message), category, filename, lineno)
        with _lock:
            if key in _shown_outside:
                return
            _shown_outside.add(key)
    _previous(message, category, filename, lineno, file, line)


class _LogToNotes(logging.Filter):
    """A library logger's records, raised while a file is current on this thread, become its notes."""

    def filter(self, record: logging.LogRecord) -> bool:
        notes = getattr(_current, "notes", None)
        if notes is None:
            return True
        _note(notes, f"{record.name}: {record.getMessage()}")
        return False


# tifffile logs (does not warn) what it refuses to write, e.g. "not writing extratag 305".
logging.getLogger("tifffile").addFilter(_LogToNotes())

__all__ = ["ROUTED", "collecting", "route_library_warnings"]
