"""Walk an input tree so that every directory entry is accounted for.

os.walk drops what it cannot use without a word: a folder it may not read, a
symlink loop, a dangling link, a FIFO named like a photo. An archive with such
entries then looks complete when it is not. Here each entry of a folder is
sorted into one of three kinds:

    file     a regular file, or a symlink to one (inside or outside the archive):
             a candidate input, judged further by its extension
    folder   a real sub-folder: walked
    odd      anything else, with a status and a reason (the report lists it):
               symlink loop                         failed
               dangling symlink                     failed
               permission denied: folder not readable   failed (what is inside is unknown)
               symlink to a folder (not followed)   skipped (no loops, no file seen twice)
               not a regular file (FIFO/socket/device) skipped

Hidden entries (names starting with '.') are not inputs and are not reported.
Names are str as os.listdir gives them: bytes that are not UTF-8 are kept as
surrogate escapes, so os.fsencode(name) is always the exact name on disk.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from batch.results import FAILED, SKIPPED

UNREADABLE_FOLDER = "permission denied: folder not readable"
FOLDER_LINK = "symlink to a folder (not followed)"

_KINDS = {stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket", stat.S_IFCHR: "character device",
          stat.S_IFBLK: "block device"}


@dataclass(frozen=True)
class Odd:
    """An entry that is neither a usable file nor a folder to walk."""

    relative: PurePosixPath  # below the input root
    status: str  # FAILED or SKIPPED
    reason: str


@dataclass
class Listing:
    """One folder's entries, sorted by name."""

    files: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    odd: list[tuple[str, str, str]] = field(default_factory=list)  # (name, status, reason)


def classify(path: Path) -> tuple[str, str, str]:
    """('file'|'folder'|'odd', status, reason) for one entry; status and reason only for 'odd'."""
    try:
        st = os.stat(path)  # follows links: what the entry leads to
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "odd", FAILED, "symlink loop"
        if os.path.islink(path):
            return "odd", FAILED, f"dangling symlink (target {os.fsdecode(os.readlink(path))!s} not found)"
        return "odd", FAILED, f"cannot read entry: {e.strerror or e}"
    if stat.S_ISREG(st.st_mode):
        return "file", "", ""
    if stat.S_ISDIR(st.st_mode):
        if os.path.islink(path):
            return "odd", SKIPPED, FOLDER_LINK
        return "folder", "", ""
    kind = _KINDS.get(stat.S_IFMT(st.st_mode), "unknown type")
    return "odd", SKIPPED, f"not a regular file ({kind})"


def list_folder(folder: Path) -> Listing:
    """The non-hidden entries of one folder, classified; OSError if the folder cannot be listed."""
    listing = Listing()
    for name in sorted(os.listdir(folder)):
        if name.startswith("."):
            continue
        kind, status, reason = classify(folder / name)
        if kind == "file":
            listing.files.append(name)
        elif kind == "folder":
            listing.folders.append(name)
        else:
            listing.odd.append((name, status, reason))
    return listing


def walk(root: Path) -> Iterator[tuple[PurePosixPath, list[str], list[Odd]]]:
    """(relative folder, its file names, its odd entries) for every folder below root, depth first, sorted.

    One folder is held at a time, so memory does not grow with the archive. A folder
    that cannot be listed is itself an odd entry (of its parent's batch).
    """
    stack = [PurePosixPath(".")]
    while stack:
        rel = stack.pop()
        try:
            listing = list_folder(root.joinpath(*rel.parts))
        except OSError as e:
            yield rel.parent, [], [Odd(rel, FAILED, _listing_reason(e))]
            continue
        odd = [Odd(_join(rel, name), status, reason) for name, status, reason in listing.odd]
        yield rel, listing.files, odd
        stack += [_join(rel, name) for name in reversed(listing.folders)]


def _join(rel: PurePosixPath, name: str) -> PurePosixPath:
    return PurePosixPath(name) if str(rel) == "." else rel / name


def _listing_reason(e: OSError) -> str:
    if e.errno in (errno.EACCES, errno.EPERM):
        return UNREADABLE_FOLDER
    return f"folder not readable: {e.strerror or e}"


__all__ = ["Odd", "Listing", "classify", "list_folder", "walk", "UNREADABLE_FOLDER", "FOLDER_LINK"]
