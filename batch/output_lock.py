"""One writer per output folder, and the cleanup that only that one writer can do safely.

colored-batch (either engine) and colored-watch hold OUT/.colored/lock for their whole
run: an flock on an open file, so the kernel drops it when the process ends, kill -9
included, and there is never a stale lock to clear by hand. A second writer on the same
folder fails at start instead of interleaving outputs and manifest lines with the first.

Holding the lock also means no other ColorED process is half-way through a write in the
tree, so the hidden temp files (colored.atomic) that a killed or powered-off writer left
behind can be deleted at start; a live writer's temp file must never be. torch-free.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from batch.out_of_space import OUT_OF_SPACE_ERRNOS
from colored.atomic import is_temp_name

log = logging.getLogger("colored.output_lock")

LOCK_NAME = Path(".colored") / "lock"  # relative to the output folder; a dot-folder, so never an input or output


class OutputBusy(Exception):
    """Another colored-batch or colored-watch is writing into the output folder."""


@dataclass
class OutputLock:
    path: Path
    file: IO[str]  # the lock lives exactly as long as this stays open
    exclusive: bool  # False where the OS has no flock (not POSIX): no lock, so no cleanup either

    def release(self) -> None:
        self.file.close()


def claim_output(output_root: Path, command: str) -> tuple[OutputLock, int]:
    """Lock the output folder for `command`, then remove the temp files interrupted runs left.

    Returns the lock (hold it until the end) and how many temp files were removed.
    Raises OutputBusy if another process holds the folder, OSError if it cannot be locked.
    """
    lock = take_lock(output_root, command)
    removed = remove_stale_temps(output_root) if lock.exclusive else 0
    return lock, removed


def take_lock(output_root: Path, command: str) -> OutputLock:
    """Hold OUTPUT_ROOT/.colored/lock (created as needed) until released or the process ends."""
    path = output_root / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    # open() makes a non-inheritable descriptor: processes started later do not keep the lock.
    f = open(path, "a+")  # noqa: SIM115 - kept open on purpose: closing it releases the lock
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, documented
        return OutputLock(path, f, exclusive=False)
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(f)
        f.close()
        raise OutputBusy(f"{output_root} is already in use by {holder}; "
                         "wait for it to finish or use another output folder") from None
    except OSError:  # e.g. a file system without locks: say so rather than "busy"
        f.close()
        raise
    try:  # who holds it, for the next one's message; a full disk must not stop the run here
        os.ftruncate(f.fileno(), 0)  # unbuffered: nothing left over to fail again at close
        os.pwrite(f.fileno(), f"{os.getpid()} {command} {socket.gethostname()}\n".encode(), 0)
    except OSError as e:
        if e.errno not in OUT_OF_SPACE_ERRNOS:
            f.close()
            raise
    return OutputLock(path, f, exclusive=True)


def _holder(f: IO[str]) -> str:
    """Who holds the lock, from what it wrote: 'colored-watch (pid 1234)', or as much as is known."""
    f.seek(0)
    parts = f.read(300).split()
    if not parts or not parts[0].isdigit():  # not written yet (the holder is just starting)
        return "another colored-batch or colored-watch"
    command = parts[1] if len(parts) > 1 else "another colored-batch or colored-watch"
    where = f" on {parts[2]}" if len(parts) > 2 and parts[2] != socket.gethostname() else ""  # shared storage
    return f"{command} (pid {parts[0]}{where})"


def remove_stale_temps(output_root: Path) -> int:
    """Delete atomic_path temp files below output_root; call only while holding its lock.

    Only regular files whose name is exactly a temp name go; symlinks (to anything) and
    other non-regular files stay, and symlinked folders are not entered, so nothing
    outside the output folder is touched. Returns how many were removed.
    """
    removed = 0
    for folder, _dirs, names in os.walk(output_root):  # followlinks=False: links to folders are not entered
        for name in names:
            if is_temp_name(name) and _remove_regular(Path(folder, name)):
                removed += 1
    return removed


def _remove_regular(path: Path) -> bool:
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return False
        path.unlink()
    except OSError as e:  # not ours to delete, or gone: leave it, it is ignored anyway
        log.warning("could not remove stale temp file %s: %s", path, e.strerror or e)
        return False
    return True


__all__ = ["LOCK_NAME", "OutputBusy", "OutputLock", "claim_output", "remove_stale_temps", "take_lock"]
