"""Walk the archive once, ahead of the run, counting as it goes.

The progress bar needs a total and the run needs the jobs; walking the archive twice (once to
count, once to run) costs a second full listing of a possibly huge or network-mounted tree. Here
a thread pulls the plan's jobs into a bounded buffer, so the count runs ahead of the colorizing
and the bar's total grows as files are found, and is exact once the walk has ended. The buffer is
bounded so that memory does not grow with the archive: on an archive larger than the buffer the
count is a lower bound until the walk is within one buffer of the end (the bar says so).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

BUFFER = 65536  # jobs held ahead of the run at most (a few hundred bytes each)
_END = object()


class WalkAhead(Generic[T]):
    """Iterate `items` in a background thread; `found` counts what it has produced so far and
    `done` says whether it has ended. Iterating the object hands the items out in order; an
    exception the walk raised is raised there. Closing the iterator early stops the thread."""

    def __init__(self, items: Iterator[T], buffer: int = BUFFER) -> None:
        self.found = 0
        self.done = False
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=buffer)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="colored-walk", daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._items:
                self.found += 1
                if not self._put(item):
                    return
            self.done = True
            self._put(_END)
        except BaseException as e:  # handed to the consumer, raised where it iterates
            self.done = True
            self._put(e)

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """Stop the walk (if it still runs) and wait for its thread: after this `found`, and what
        the walk counted on the side (ignored files, odd entries), no longer change."""
        self._stop.set()
        self._thread.join()
