"""A folder nobody may write to, for the "read-only output" cases of every command.

Import it from a test module (tests/ is on sys.path under pytest):
    from _readonly import read_only_folder

As root (CI) it is a read-only tmpfs mount, the real EROFS; otherwise a folder without write
permission (EACCES). Where neither can be made the test is skipped.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only_folder(where: Path) -> Iterator[Path]:
    """Yield ``where`` (created) as a folder in which no file can be created."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(where)],
                                 capture_output=True).returncode == 0
        if not mounted:
            pytest.skip("needs a read-only tmpfs mount (root) or a non-root user")
        try:
            yield where
        finally:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)
        return
    os.chmod(where, 0o555)
    try:
        yield where
    finally:
        os.chmod(where, 0o755)
