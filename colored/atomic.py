"""Atomic file writes: a hidden temp file in the target's folder, fsync, then os.replace.

A crash, kill -9 or Ctrl-C mid-write leaves the previous file (or nothing), never a
truncated one. Used by training (checkpoints, previews), export (ONNX files) and the
runtime (images, reports, status files). torch-free.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

# The names atomic_path's temp files get (below), so that what a killed writer left can be
# found again (batch.output_lock) without touching look-alikes: '.<name>.<random>.tmp',
# then the target's own suffix again when keep_suffix. The random part is tempfile's
# (8 of [a-z0-9_]); group 1 is the target's suffix, which is all keep_suffix may repeat.
TEMP_NAME = re.compile(r"\.(?:.*(\.[^.]+)|.+)\.[a-z0-9_]{8}\.tmp\1?")


def is_temp_name(name: str) -> bool:
    """Whether a file name is one atomic_path gives its temp files."""
    return TEMP_NAME.fullmatch(name) is not None


@contextlib.contextmanager
def atomic_path(path: str | Path, keep_suffix: bool = True) -> Iterator[Path]:
    """Yield a temp path beside ``path``; it replaces ``path`` only if the block finishes.

    The temp name is '.<name>.<random>.tmp', plus the target's suffix when
    ``keep_suffix`` (so writers that pick a format from the name still work). Either
    way it is a dotfile, which watchers and the batch planner ignore. Change the name
    only together with TEMP_NAME above.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".tmp" + (path.suffix if keep_suffix else "")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)  # reopened by name: torch/onnx/tifffile writers want a path or their own handle
    try:
        yield Path(tmp)
        _fsync(tmp, os.O_RDONLY)
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # persist the rename itself (POSIX; a no-op elsewhere)
        _fsync(path.parent, os.O_RDONLY)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


# What an OSError means for someone who wants to write there, in the words of the one-line errors.
_WRITE_REASONS = {
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied (not writable)",
    errno.EPERM: "permission denied (not writable)",
    errno.ENOSPC: "no space left on the disk",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
}


def write_reason(e: OSError) -> str:
    """A short reason for a failed write: 'read-only file system', 'permission denied (not writable)', ..."""
    return _WRITE_REASONS.get(e.errno, e.strerror or str(e))


def unwritable_folder(folder: str | Path) -> str | None:
    """Why files cannot be created in ``folder`` (or, where it does not exist yet, in the nearest
    folder above it, where it would be created), or None when they can.

    Tried for real (a temp file created and removed), since permission bits say nothing about a
    read-only mount, ACLs or root squash. Lets a command refuse a bad output before its work.
    """
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        if probe.is_symlink():
            return "a dangling symbolic link"
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return "exists and is not a folder" if probe == folder else f"{probe} is a file, not a folder"
    try:
        fd, tmp = tempfile.mkstemp(prefix=".colored-probe.", suffix=".tmp", dir=probe)
    except OSError as e:
        return write_reason(e)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    return None


def unwritable_file(path: str | Path) -> str | None:
    """Why a file cannot be written (atomically) at ``path``, or None: a folder there, or its folder unwritable."""
    path = Path(path)
    if path.is_dir():
        return "is a folder"
    return unwritable_folder(path.parent)


def _fsync(path: str | Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_file_mode(path: Path) -> int:
    """Mode a plainly created file would get (mkstemp makes 0600): the old file's, else 0666 & ~umask."""
    with contextlib.suppress(OSError):
        return path.stat().st_mode & 0o7777
    return 0o666 & ~_UMASK


def _read_umask() -> int:
    # /proc avoids os.umask's set-and-restore, which races with other threads creating files.
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
