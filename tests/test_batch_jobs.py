"""Planning: mirrored tree, deterministic names, collisions, refused folder pairs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from batch.jobs import PlanError, check_roots, plan_jobs
from batch.settings import Settings


def touch(root: Path, *names: str) -> None:
    for name in names:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")  # planning looks at names only


def outputs(src: Path, dst: Path, **settings) -> dict[str, str]:
    return {str(j.relative): j.output.relative_to(dst).as_posix() for j in plan_jobs(src, dst, Settings(**settings))}


def test_tree_is_mirrored_with_suffix_and_format(tmp_path):
    src, dst = tmp_path / "in", tmp_path / "out"
    touch(src, "a.tif", "x/b.png", "x/y/c.JPG", "notes.txt", ".DS_Store", ".hidden/d.jpg", "x/.e.jpg.tmp")
    ignored = Counter()
    jobs = list(plan_jobs(src, dst, Settings(format="jpg", suffix="_c"), ignored))
    assert {str(j.relative): j.output.relative_to(dst).as_posix() for j in jobs} == {
        "a.tif": "a_c.jpg", "x/b.png": "x/b_c.jpg", "x/y/c.JPG": "x/y/c_c.jpg",
    }
    assert all(j.output_format == "JPEG" for j in jobs)
    assert ignored == Counter({".txt": 1})
    kept = outputs(src, dst, format="keep")
    assert kept == {"a.tif": "a.tif", "x/b.png": "x/b.png", "x/y/c.JPG": "x/y/c.jpg"}


def test_collisions_get_distinct_deterministic_names(tmp_path):
    src, dst = tmp_path / "in", tmp_path / "out"
    touch(src, "a.png", "a.jpg", "a.tif", "A.jpeg", "a-png.bmp", "b.gif")
    names = outputs(src, dst, format="jpg")
    assert len(set(n.lower() for n in names.values())) == len(names) == 6
    assert names["a.jpg"] == "a.jpg"  # already a JPEG: it keeps the plain name
    assert names["a.png"] == "a-png-2.jpg"  # a-png.jpg belongs to a-png.bmp
    assert names["a.tif"] == "a-tif.jpg" and names["A.jpeg"] == "A-jpeg.jpg"
    assert outputs(src, dst, format="jpg") == names  # a second plan names everything the same way
    gif = outputs(src, dst, format="keep")["b.gif"]
    assert gif == "b.png"  # GIF is not written: 'keep' falls back to PNG


def test_output_inside_input_and_other_bad_pairs_are_refused(tmp_path):
    src = tmp_path / "in"
    touch(src, "a.jpg")
    for bad in (src, src / "out", src / "x" / "y"):
        with pytest.raises(PlanError, match="inside the input"):
            check_roots(src, bad)
    with pytest.raises(PlanError, match="contain the input"):
        check_roots(src, tmp_path)
    with pytest.raises(PlanError, match="not a folder"):
        check_roots(src / "a.jpg", tmp_path / "out")
    check_roots(src, tmp_path / "out")  # a sibling is fine
