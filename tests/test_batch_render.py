"""colored-batch --render-size / --strength / --temperature / --preview, end to end with tiny real models."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from skimage import data

from _tiny_model import tiny_model_path
from batch import images, preview
from batch.cli import main
from batch.colorize import merge
from batch.manifest import MANIFEST_NAME
from batch.session import default_model_path, infer, open_session
from batch.settings import Settings
from colored.color import rgb_to_lab


@pytest.fixture(scope="module")
def model() -> Path:
    return tiny_model_path(64, "classification")


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """Grey photos in three folders (the preview must spread over them)."""
    root = tmp_path_factory.mktemp("render") / "in"
    camera = data.camera()
    for folder, n in (("", 2), ("a", 3), ("b/deep", 3)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            crop = camera[i * 60 : i * 60 + 200, i * 50 : i * 50 + 240]
            Image.fromarray(crop).save(root / folder / f"p{i}.png")
    return root


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args] + ["--no-progress", "--workers", "2"])
    return result.exit_code, result.output


def digests(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*.png")) if not p.name.startswith(".")}


def statuses(out: Path) -> dict[str, str]:
    report = json.loads((out / "colored-report.json").read_text())
    return {f["input"]: f["status"] for f in report["files"]}


def test_strength_zero_is_neutral_and_one_is_the_unscaled_merge(model, archive):
    session, contract = open_session(model, device="cpu")
    rgb = cv2.resize(data.astronaut(), (200, 160), interpolation=cv2.INTER_AREA)
    Image.fromarray(rgb).save(archive.parent / "colour.png")
    decoded = images.decode(archive.parent / "colour.png")
    from batch.colorize import model_input

    ab = infer(session, contract, model_input(decoded, 64)[None])[0]
    assert np.abs(ab).max() > 5  # the model does colour this photo
    plain = merge(decoded, ab)
    np.testing.assert_array_equal(merge(decoded, ab, 1.0), plain)
    grey = merge(decoded, ab, 0.0)
    lab = rgb_to_lab(grey.astype(np.float64) / 255)
    assert np.abs(lab[..., 1:]).max() < 1.0  # a*, b* within one 8-bit level of neutral
    assert (grey.max(axis=2).astype(int) - grey.min(axis=2)).max() <= 1  # R, G, B within one level
    strong = merge(decoded, ab, 2.0)
    chroma = lambda x: np.hypot(*rgb_to_lab(x.astype(np.float64) / 255)[..., 1:].transpose(2, 0, 1)).mean()  # noqa: E731
    assert chroma(strong) > 1.3 * chroma(plain)


def test_settings_change_redoes_files_and_the_same_settings_resume(model, archive, tmp_path):
    out = tmp_path / "out"
    assert run(archive, out, "--model", model)[0] == 0
    base = digests(out)
    assert len(base) == 8
    code, text = run(archive, out, "--model", model, "--strength", "1", "--render-size", "64")  # = the defaults
    assert code == 0 and set(statuses(out).values()) == {"already done"}
    t = open_session(model, device="cpu")[1].temperature
    assert run(archive, out, "--model", model, "--temperature", str(t))[0] == 0
    assert set(statuses(out).values()) == {"already done"}

    for option, value in (("--strength", "0.5"), ("--render-size", "128"), ("--temperature", "1.0")):
        assert run(archive, out, "--model", model, option, value)[0] == 0
        assert set(statuses(out).values()) == {"done"}, option  # another value: every file redone
        changed = digests(out)
        assert changed != base and changed.keys() == base.keys()
        assert run(archive, out, "--model", model, option, value)[0] == 0
        assert set(statuses(out).values()) == {"already done"}, option  # the same value: resumed
    assert run(archive, out, "--model", model)[0] == 0  # back to the defaults: today's bytes again
    assert digests(out) == base


def test_render_size_runs_the_network_at_that_size(model, archive, tmp_path):
    session, contract = open_session(model, device="cpu")
    L = np.random.default_rng(0).uniform(0, 100, (1, 1, 256, 256)).astype(np.float32)
    assert infer(session, contract, L).shape == (1, 2, 256, 256)
    assert run(archive, tmp_path / "a", "--model", model)[0] == 0
    assert run(archive, tmp_path / "b", "--model", model, "--render-size", "256")[0] == 0
    a, b = digests(tmp_path / "a"), digests(tmp_path / "b")
    assert a.keys() == b.keys() and all(a[k] != b[k] for k in a)


@pytest.mark.parametrize("args, message", [
    (["--render-size", "100"], "--render-size 100: "),  # not a multiple of the step
    (["--render-size", "2048"], "--render-size 2048: "),  # above the range
])
def test_out_of_contract_size_fails_at_start_with_one_line(model, archive, tmp_path, args, message):
    out = tmp_path / "out"
    code, text = run(archive, out, "--model", model, *args)
    assert code == 2
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "multiples of 8 from 64 to 1024" in lines[0]
    assert not out.exists()  # nothing was started


def test_old_fixed_size_model_runs_at_its_size_and_explains_render_size(archive, tmp_path):
    old = tiny_model_path(64, "regression", dynamic=False)  # exported as before render sizes existed
    contract = open_session(old, device="cpu")[1]
    assert contract.render_sizes is None and contract.temperature_input is None
    code, text = run(archive, tmp_path / "old", "--model", old, "--render-size", "512")
    lines = [line for line in text.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1
    assert f"fixed size {contract.input_size}" in lines[0] and "re-export" in lines[0]
    code, text = run(archive, tmp_path / "t", "--model", old, "--temperature", "0.5")
    assert code == 2 and "no temperature input" in text
    code, _ = run(archive, tmp_path / "ok", "--model", old, "--render-size", str(contract.input_size), "--strength", "0.5")
    assert code == 0


def test_shipped_default_model_takes_the_new_controls():
    contract = open_session(default_model_path(), device="cpu")[1]
    assert contract.render_sizes == (128, 1024, 32) and contract.temperature_input == "T"


def test_strength_and_temperature_options_are_checked(model, archive, tmp_path):
    assert run(archive, tmp_path / "o", "--model", model, "--strength", "2.5")[0] == 2
    assert run(archive, tmp_path / "o", "--model", model, "--temperature", "0")[0] == 2
    regression = tiny_model_path(64, "regression")
    code, text = run(archive, tmp_path / "o", "--model", regression, "--temperature", "0.5")
    assert code == 2 and "no temperature input" in text


def test_fingerprint_of_default_render_settings_is_that_of_earlier_runs():
    # Manifests written before these options existed must still resume: neutral values are left out.
    assert Settings().as_dict() == {"format": "keep", "suffix": "", "quality": 95, "skip_color": False,
                                    "max_pixels": 250_000_000}
    assert Settings(strength=0.5).as_dict()["strength"] == 0.5
    assert Settings(render_size=512).as_dict()["render_size"] == 512


def test_preview_sheet_has_n_labelled_pairs_from_several_folders(model, archive, tmp_path):
    out, sheet = tmp_path / "out", tmp_path / "sheet.png"
    code, text = run(archive, out, "--model", model, "--preview", sheet, "--preview-count", "4")
    assert code == 0 and f"preview: {sheet} (4 pairs from" in text
    labels = preview.labels_of(sheet)
    assert len(labels) == 4 and len({lab.split("/")[0] if "/" in lab else "." for lab in labels}) > 1
    assert all((archive / lab).is_file() for lab in labels)
    img = np.asarray(Image.open(sheet).convert("RGB"))
    assert img.shape[1] > 3 * 2 * preview.THUMB  # three pairs a row
    # On resume, from what is already done; same seed, same files; another seed, other files.
    code, _ = run(archive, out, "--model", model, "--preview", tmp_path / "again.png", "--preview-count", "4")
    assert code == 0 and preview.labels_of(tmp_path / "again.png") == labels
    others = set()
    for seed in range(1, 6):
        run(archive, out, "--model", model, "--preview", tmp_path / "s.png", "--preview-count", "4",
            "--preview-seed", seed)
        others.add(tuple(preview.labels_of(tmp_path / "s.png")))
    assert len(others | {tuple(labels)}) > 1


def test_preview_tiles_are_grey_input_beside_colour_output(model, archive, tmp_path):
    out = tmp_path / "out"
    run(archive, out, "--model", model)
    pairs = preview.pairs_from_results(
        [r for r in _results(out)], archive, out)
    assert len(pairs) == 8
    grey, colour = preview.tiles(pairs[0], 64)
    assert (grey.max(axis=2) == grey.min(axis=2)).all()  # neutral
    assert (colour.max(axis=2).astype(int) - colour.min(axis=2)).max() > 3  # coloured
    sheet = preview.sheet(pairs[:2], "t", 64)
    dark = np.asarray(sheet.convert("L")) < 100
    assert dark.any()  # labels and title drawn
    assert preview.sample(pairs, 3, 7) == preview.sample(list(reversed(pairs)), 3, 7)  # order-independent
    bad = tmp_path / "x.txt"
    code, text = run(archive, tmp_path / "o2", "--model", model, "--preview", bad)
    assert code == 2 and "--preview" in text and ".png" in text


def _results(out: Path):
    from batch.results import Result

    report = json.loads((out / "colored-report.json").read_text())
    return [Result.from_dict(f) for f in report["files"]]


def test_watch_preview_keeps_the_latest_files(model, archive, tmp_path):
    from batch.results import Result
    from batch.watch.preview import LatestSheet

    out = tmp_path / "out"
    run(archive, out, "--model", model)
    done = [r for r in _results(out)]
    sheet = LatestSheet(tmp_path / "w.png", archive, out, count=3, interval=3600)
    assert sheet.refresh() == 0 and not (tmp_path / "w.png").exists()  # nothing done yet
    for r in done:
        sheet.add(r)
    sheet.add(Result("x.png", None, "failed", reason="bad"))  # failures are not shown
    assert sheet.refresh() == 3
    assert preview.labels_of(tmp_path / "w.png") == sorted(r.input for r in done[-3:])
    sheet.add(done[0])
    assert sheet.refresh() == 0  # within the interval
    assert sheet.refresh(force=True) == 3
    assert done[0].input in preview.labels_of(tmp_path / "w.png")
    assert (out / MANIFEST_NAME).exists()
