"""colored-watch --preview: a contact sheet of the latest files, rewritten now and then (not per file:
each refresh decodes the files it shows)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path

from batch import preview
from batch.results import DONE, Result


class LatestSheet:
    """The `count` files finished last; refresh() rewrites the sheet when they changed and
    `interval` seconds have passed since the last write (or when forced, e.g. at stop)."""

    def __init__(self, path: Path, input_root: Path, output_root: Path, count: int, interval: float) -> None:
        self.path, self.input_root, self.output_root = path, input_root, output_root
        self.count, self.interval = count, interval
        self._latest: OrderedDict[str, Result] = OrderedDict()
        self._lock = threading.Lock()
        self._changed = False
        self._last_write = float("-inf")

    def add(self, result: Result) -> None:
        if result.status != DONE or not result.output:
            return
        with self._lock:
            self._latest.pop(result.input, None)
            self._latest[result.input] = result
            while len(self._latest) > self.count:
                self._latest.popitem(last=False)
            self._changed = True

    def refresh(self, force: bool = False) -> int:
        """Write the sheet if due; returns how many files it shows (0: not written)."""
        now = time.monotonic()
        with self._lock:
            if not self._changed or (not force and now - self._last_write < self.interval):
                return 0
            results = list(self._latest.values())
            self._changed = False
            self._last_write = now
        pairs = preview.pairs_from_results(results, self.input_root, self.output_root)
        preview.write_sheet(self.path, pairs, f"colored-watch {self.output_root}: latest {len(pairs)} files")
        return len(pairs)
