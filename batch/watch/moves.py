"""Move an original out of the inbox (--move-done / --move-failed), never overwriting anything.

The file keeps its path below the inbox (inbox/a/b.jpg -> DONE/a/b.jpg). If that
name is taken, a counter is added (b-2.jpg, b-3.jpg...). The final name is
claimed with a hard link, which fails instead of replacing when the name exists,
so even two daemons racing for one name cannot overwrite each other's file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path


def move_aside(src: Path, input_root: Path, target_root: Path) -> Path:
    """Move `src` to the same relative place below `target_root`; returns where it went."""
    relative = src.relative_to(input_root)
    folder = target_root / relative.parent
    folder.mkdir(parents=True, exist_ok=True)
    staged = None
    try:
        n = 1
        while True:
            dst = folder / (relative.name if n == 1 else f"{src.stem}-{n}{src.suffix}")
            try:
                os.link(staged or src, dst, follow_symlinks=False)  # fails if dst exists
                break
            except FileExistsError:
                n += 1
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP) or staged is not None:
                    raise
                # Another file system (or one without hard links): copy beside the target first.
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{src.name}.", suffix=".tmp")
                os.close(fd)
                staged = Path(tmp)
                shutil.copy2(src, staged)
        if staged is not None:
            staged.unlink()
        src.unlink()
        return dst
    except BaseException:
        if staged is not None:
            with contextlib.suppress(OSError):
                staged.unlink()
        raise

