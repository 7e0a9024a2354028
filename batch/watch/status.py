"""The daemon's heartbeat: counters kept in memory, written as JSON every few seconds.

Monitoring reads the file (`jq . OUT/.colored/watch-status.json`); a stale
`updated` means the daemon hangs or is gone. The file is replaced atomically,
so a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from batch.images import write_atomically
from batch.results import ALREADY_DONE, DONE, FAILED, FAILED_EARLIER, SKIPPED, Result
from batch.service_log import utc_stamp


class Status:
    """What the daemon has done so far. Thread-safe."""

    def __init__(self, input_root: Path, output_root: Path, queue_depth: Callable[[], int]) -> None:
        self._lock = threading.Lock()
        self._queue_depth = queue_depth
        self.fields: dict = {
            "pid": os.getpid(),
            "state": "starting",  # starting | scanning | watching | disk_full | stopping | stopped | failed
            "input": str(input_root),
            "output": str(output_root),
            "started": utc_stamp(time.time()),
            "processed": 0,  # colorized and written
            "skipped": 0,  # --skip-color
            "failed": 0,  # newly failed
            "not_retried": 0,  # failed before with the same fingerprint: left alone
            "already_done": 0,  # found done in the manifest
            "last_event": None,  # last file-system event in the inbox
            "last_result": None,  # last file finished (any outcome)
        }

    def set_state(self, state: str) -> None:
        with self._lock:
            self.fields["state"] = state

    def saw_event(self) -> None:
        now = utc_stamp(time.time())
        with self._lock:
            self.fields["last_event"] = now

    def count(self, result: Result) -> None:
        key = {DONE: "processed", SKIPPED: "skipped", FAILED: "failed", FAILED_EARLIER: "not_retried",
               ALREADY_DONE: "already_done"}[result.status]
        now = utc_stamp(time.time())
        with self._lock:
            self.fields[key] += 1
            self.fields["last_result"] = now

    def snapshot(self) -> dict:
        depth = self._queue_depth()  # first: a depth of 0 then implies every count below is final
        with self._lock:
            fields = dict(self.fields)
        fields["queue_depth"] = depth
        fields["updated"] = utc_stamp(time.time())
        return fields

    def write(self, path: Path) -> None:
        data = (json.dumps(self.snapshot(), indent=1) + "\n").encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda f: f.write(data))
