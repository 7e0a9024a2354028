"""Plan the work: which input files, and where each one's output goes.

The output tree mirrors the input tree. Names are a pure function of the set of
files in a folder and the settings, so a rerun plans exactly the same names:

    photo.tif  --format jpg --suffix _c  ->  photo_c.jpg

Two inputs that would land on one name (a.png and a.jpg with --format jpg; or
names that differ only in case, which collide on Windows/macOS disks) never
overwrite each other: the file already in the output format keeps the plain
name, the others get their source extension added (a-png.jpg), and a counter
if that is taken too. Hidden files and folders (names starting with '.') are
not inputs: they are system litter (.DS_Store, ._AppleDouble) or our own temp files.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from PIL import Image

from batch.images import SUPPORTED_EXTENSIONS, output_format_for
from batch.settings import Settings
from batch.walk import Odd, walk


class PlanError(ValueError):
    """The input/output folders cannot be used as given."""


@dataclass(frozen=True)
class Job:
    input: Path  # the source file
    relative: PurePosixPath  # its path below the input folder (the key in manifest and report)
    output: Path  # where its colorized copy goes
    output_format: str  # Pillow format name for the encoder

    @property
    def output_relative(self) -> PurePosixPath:
        return self.relative.parent / self.output.name


def check_roots(input_root: Path, output_root: Path) -> None:
    """Refuse folder pairs where writing outputs could touch (or be read back as) inputs."""
    src, dst = Path(input_root).resolve(), Path(output_root).resolve()
    if not src.is_dir():
        raise PlanError(f"{input_root}: not a folder")
    if dst == src or dst.is_relative_to(src):
        raise PlanError(f"{output_root}: the output folder must not be inside the input folder {input_root}")
    if src.is_relative_to(dst):
        raise PlanError(f"{output_root}: the output folder must not contain the input folder {input_root}")
    if dst.exists() and not dst.is_dir():
        raise PlanError(f"{output_root}: exists and is not a folder")


def source_format(path: Path) -> str | None:
    """Pillow's format name for a file extension (".jpg" -> "JPEG"), None if unknown."""
    return Image.registered_extensions().get(path.suffix.lower())


def plan_jobs(
    input_root: str | Path,
    output_root: str | Path,
    settings: Settings,
    ignored: Counter | None = None,
    on_odd: Callable[[Odd], None] | None = None,
) -> Iterator[Job]:
    """Jobs for every supported image below input_root, in sorted (deterministic) order.

    Walks one folder at a time, so memory does not grow with the archive. Files
    with other extensions are counted per extension in `ignored` (if given); every
    other entry that is not colorized (unreadable folder, symlink loop, FIFO...,
    see batch.walk) goes to `on_odd` (if given), so nothing is dropped unseen.
    """
    input_root, output_root = Path(input_root), Path(output_root)
    check_roots(input_root, output_root)
    for rel_folder, filenames, odd in walk(input_root):
        if on_odd is not None:
            for entry in odd:
                on_odd(entry)
        yield from _folder_jobs(input_root, output_root, rel_folder, filenames, settings, ignored)


def plan_folder(
    input_root: str | Path, output_root: str | Path, rel_folder: PurePosixPath, settings: Settings
) -> list[Job]:
    """The jobs of one folder (input_root/rel_folder, not its sub-folders), named exactly as plan_jobs names them.

    For callers that learn about files one at a time (the watch daemon): an output
    name depends on the other files of its folder, so the whole folder is planned.
    """
    input_root, output_root = Path(input_root), Path(output_root)
    names = os.listdir(input_root.joinpath(*rel_folder.parts))
    return list(_folder_jobs(input_root, output_root, rel_folder, names, settings))


def _folder_jobs(
    input_root: Path, output_root: Path, rel_folder: PurePosixPath, filenames: list[str], settings: Settings,
    ignored: Counter | None = None,
) -> Iterator[Job]:
    folder = input_root.joinpath(*rel_folder.parts)
    candidates = []
    for name in sorted(filenames):
        path = folder / name
        if name.startswith(".") or not path.is_file():
            continue
        ext = path.suffix.lower()
        fmt = source_format(path)
        if ext not in SUPPORTED_EXTENSIONS or fmt is None:
            if ignored is not None:
                ignored[ext or "(no extension)"] += 1
            continue
        candidates.append((path, fmt))
    yield from _name_outputs(candidates, input_root, output_root, rel_folder, settings)


def _name_outputs(
    candidates: list[tuple[Path, str]], input_root: Path, output_root: Path, rel_folder: PurePosixPath, settings: Settings
) -> Iterator[Job]:
    """Give each file of one folder a unique output name (see the module docstring)."""
    planned = []
    for path, fmt in candidates:
        out_format, out_ext = output_format_for(fmt, settings.format)
        planned.append((path, out_format, out_ext, path.stem + settings.suffix + out_ext))
    # Natural owners first: a file whose extension already is the output extension keeps the plain name.
    order = sorted(range(len(planned)), key=lambda i: (planned[i][0].suffix.lower() != planned[i][2], planned[i][0].name))
    taken: set[str] = set()
    names: dict[int, str] = {}
    for i in order:  # plain names, first come first served
        key = planned[i][3].lower()
        if key not in taken:
            taken.add(key)
            names[i] = planned[i][3]
    for i in order:  # the rest: add the source extension, then a counter
        if i in names:
            continue
        path, _, out_ext, _ = planned[i]
        stem = f"{path.stem}{settings.suffix}-{path.suffix.lstrip('.').lower()}"
        name, n = stem + out_ext, 2
        while name.lower() in taken:
            name, n = f"{stem}-{n}{out_ext}", n + 1
        taken.add(name.lower())
        names[i] = name
    for i, (path, out_format, _, _) in enumerate(planned):
        yield Job(
            input=path,
            relative=rel_folder / path.name if str(rel_folder) != "." else PurePosixPath(path.name),
            output=output_root / Path(*rel_folder.parts) / names[i],
            output_format=out_format,
        )
