"""A full (or read-only) output disk is a condition of the run, not a fault of the file being written.

At start, a read-only or unwritable output folder is refused as "could not start" (exit 2,
cannot_write_at_start); mid-run it stops the run like a full disk (exit 3), and the last line
says which of the two it was.

Recording such files as failed would make a plain rerun skip them ("failed earlier")
after space was freed. So writers turn ENOSPC/EDQUOT/EROFS into OutputFull, which
stops the run (batch) or pauses it (watch) without recording the files in hand.
"""

from __future__ import annotations

import errno

OUT_OF_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
EXIT_DISK_FULL = 3  # colored-batch's exit status for a run stopped by a full output disk


class OutputFull(OSError):
    """The output disk is full, over quota or read-only; `results` are what the run finished before."""

    def __init__(self, cause: BaseException, where: str = "") -> None:
        err = out_of_space_error(cause)
        code = err.errno if err is not None else errno.ENOSPC
        super().__init__(code, err.strerror if err is not None else "No space left on device")
        self.where = where
        self.results: list = []

    def __str__(self) -> str:
        return f"{self.where}: {self.strerror}" if self.where else str(self.strerror)


def out_of_space_error(e: BaseException | None) -> OSError | None:
    """The ENOSPC/EDQUOT/EROFS OSError in e or in what it was raised from, if any."""
    seen = 0
    while e is not None and seen < 16:  # wrappers (ImageError, Ray errors) keep the cause
        if isinstance(e, OSError) and e.errno in OUT_OF_SPACE_ERRNOS:
            return e
        e = e.__cause__ or e.__context__
        seen += 1
    return None


def full_message(done: int, code: int = errno.ENOSPC) -> str:
    """The one line a run that stopped on a full (or read-only) output disk ends with; the real
    reason, since a user told "disk full" goes looking for free space that is not the problem."""
    if code == errno.EROFS:
        return (f"output folder became read-only after {done} files (read-only file system); "
                "make it writable and rerun to resume")
    if code == errno.EDQUOT:
        return f"output disk quota exceeded after {done} files; free space and rerun to resume"
    return f"output disk full after {done} files; free space and rerun to resume"


def cannot_write_at_start(e: OSError) -> bool:
    """A read-only or permission-denied output folder met at start: the command line's problem
    (exit 2, "could not start"), not a disk that filled up."""
    return e.errno in (errno.EROFS, errno.EACCES, errno.EPERM)


__all__ = ["EXIT_DISK_FULL", "OUT_OF_SPACE_ERRNOS", "OutputFull", "out_of_space_error", "full_message",
           "cannot_write_at_start"]
