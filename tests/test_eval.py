"""colored-eval on two small real photos with a tiny exported model, and its parts on hand-made photos.

The gray baseline's numbers are checked against an independent computation with
scikit-image's Lab conversion, so the metric plumbing (ab from the outputs, per-image
averaging, dCF) is tested, not just that files appear. The tint baseline, the hue-aware
measures, the sub-folder breakdown and the contact sheet's sampling and labels are
checked on synthetic photos with known colours and stand-in colorizers (no model needed).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw, ImageFont

skimage = pytest.importorskip("skimage")
from skimage import color as skcolor  # noqa: E402
from skimage import data as skdata  # noqa: E402

from colored.evaluation import evaluate as ev  # noqa: E402
from colored import metrics  # noqa: E402
from colored.evaluation.cli import main  # noqa: E402

SIZE = 128


@pytest.fixture(scope="module")
def tiny_model():
    from _tiny_model import tiny_model_path

    return tiny_model_path()


@pytest.fixture()
def photos(tmp_path):
    """Two colour photos already smaller than SIZE (so no resize happens) and one grey picture."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    truths = {}
    for name, img in (("cat.png", skdata.chelsea()), ("sub/coffee.png", skdata.coffee())):
        small = Image.fromarray(img).resize((96, 72), Image.Resampling.LANCZOS)
        small.save(folder / name)
        truths[name] = np.asarray(small)
    Image.fromarray(skdata.camera()[::8, ::8]).save(folder / "gray.png")  # not colour: skipped
    return folder, truths


def independent_gray(rgb_u8: np.ndarray) -> np.ndarray:
    """The grey version by skimage: keep L*, set a = b = 0."""
    lab = skcolor.rgb2lab(rgb_u8)
    lab[..., 1:] = 0
    return metrics.rgb_float_to_u8(skcolor.lab2rgb(lab))


def test_colored_eval_writes_table_json_and_sheet(tmp_path, photos, tiny_model):
    folder, truths = photos
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        main,
        [str(tiny_model), str(folder), "--baseline", str(tiny_model), "--out", str(out), "--size", str(SIZE),
         "--thumb", "64"],
    )
    assert result.exit_code == 0, result.output
    assert "gray.png: not a colour picture" in result.output
    assert "2/2" in result.stderr and "photo" in result.stderr  # the progress bar

    report = json.loads((out / "metrics.json").read_text())
    assert report["images"] == ["cat.png", "sub/coffee.png"]
    methods = {m["name"]: m for m in report["methods"]}
    ours_name = f"ours ({tiny_model.name})"
    assert list(methods) == ["gray (ab=0)", "tint (model mean ab)", ours_name, f"MSE baseline ({tiny_model.name})"]
    assert report["tint"]["of"] == ours_name

    gray = methods["gray (ab=0)"]
    ordered = [truths[n] for n in report["images"]]
    truth_cf = np.mean([metrics.colorfulness(t) for t in ordered])
    assert report["truth_colorfulness"] == pytest.approx(truth_cf)
    assert gray["colorfulness"] == 0.0
    assert gray["dcf"] == pytest.approx(truth_cf)
    expected_auc = np.mean([metrics.auc(np.zeros_like(skcolor.rgb2lab(t)[..., 1:]), skcolor.rgb2lab(t)[..., 1:])
                            for t in ordered])
    assert gray["auc"] == pytest.approx(expected_auc, abs=0.05)
    expected_psnr = np.mean([metrics.psnr(independent_gray(t), t) for t in ordered])
    assert gray["psnr"] == pytest.approx(expected_psnr, abs=0.1)
    assert 0.5 < gray["ssim"] < 1.0

    # The same model given twice scores the same; a colorizing model is not grey.
    ours = methods[f"ours ({tiny_model.name})"]
    base = methods[f"MSE baseline ({tiny_model.name})"]
    for key in ("psnr", "ssim", "auc", "colorfulness", "dcf"):
        assert ours[key] == pytest.approx(base[key])
        assert math.isfinite(ours[key])
    for key in ("auc_chroma20", "green_recall", "blue_recall", "red_recall"):
        assert ours[key] == pytest.approx(base[key], nan_ok=True)
    assert ours["colorfulness"] > 0
    assert len(ours["per_image"]) == 2 and "red_recall" in ours["per_image"][0]
    assert report["models"][ours_name]["input_size"] == 64

    # photos in DATA and in DATA/sub: one breakdown each, with every method
    assert list(report["groups"]) == [".", "sub"]
    assert report["groups"]["sub"]["images"] == ["sub/coffee.png"]
    sub_gray = report["groups"]["sub"]["methods"][0]
    assert sub_gray["name"] == "gray (ab=0)" and sub_gray["psnr"] == pytest.approx(gray["per_image"][1]["psnr"])

    table = (out / "metrics.md").read_text()
    assert "| method | PSNR (dB)" in table and "| gray (ab=0) |" in table and table in result.output
    assert "AuC chroma>20" in table and "green recall" in table and "### sub (1 photo)" in table
    sheet = Image.open(out / "contact-sheet.png")
    assert sheet.width == 5 * (64 + 4) + 4  # original | gray | tint | ours | MSE
    assert sheet.height > 2 * (64 + 4) + 22  # 2 rows, a header and the file names


def test_colored_eval_quiet_has_no_progress_bar(tmp_path, photos, tiny_model):
    folder, _ = photos
    result = CliRunner().invoke(main, [str(tiny_model), str(folder), "--out", str(tmp_path / "o"),
                                       "--size", str(SIZE), "--thumb", "32", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "photo/s" not in result.stderr and "2/2" not in result.stderr


def test_colored_eval_fails_clearly_without_colour_photos(tmp_path, tiny_model):
    folder = tmp_path / "grey"
    folder.mkdir()
    Image.fromarray(skdata.camera()[::8, ::8]).save(folder / "gray.png")
    result = CliRunner().invoke(main, [str(tiny_model), str(folder), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "no colour photos to evaluate" in result.output


def test_colored_eval_rejects_a_non_colored_model(tmp_path, photos, tiny_model):
    from _tiny_model import strip_contract

    folder, _ = photos
    bare = strip_contract(tiny_model, tmp_path / "bare.onnx")
    result = CliRunner().invoke(main, [str(bare), str(folder), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "not a ColorED model" in result.output


def test_colored_eval_names_every_skipped_file_and_exits_2(tmp_path, tiny_model):
    """Issue 22 row 5: only corrupt, tiny or grey files: each one named with its reason, status 2."""
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "corrupt.jpg").write_bytes(b"not a JPEG")
    (folder / "empty.png").write_bytes(b"")
    Image.fromarray(skdata.chelsea()[:8, :8]).save(folder / "tiny.png")
    Image.fromarray(skdata.camera()[::8, ::8]).save(folder / "gray.png")
    result = CliRunner().invoke(main, [str(tiny_model), str(folder), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    for name, reason in (("corrupt.jpg", ""), ("empty.png", "empty"), ("tiny.png", "smaller than 11 px"),
                         ("gray.png", "not a colour picture")):
        named = [line for line in lines if line.startswith(f"skipped {folder / name}: ")]
        assert len(named) == 1 and reason in named[0], result.output
    assert "no colour photos to evaluate (4 skipped, each named above)" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


def test_colored_eval_checks_its_output_folder_before_evaluating(tmp_path, photos, tiny_model, monkeypatch):
    """Issue 22 row 4: a read-only --out (or a file there) is one line at start, not after the work."""
    from _readonly import read_only_folder

    folder, _ = photos
    evaluated = []
    monkeypatch.setattr(ev, "evaluate", lambda *a, **k: evaluated.append(1))
    afile = tmp_path / "a-file"
    afile.write_text("x")
    result = CliRunner().invoke(main, [str(tiny_model), str(folder), "--out", str(afile)])
    assert result.exit_code == 2 and "is a file" in result.output  # click checks this one itself
    with read_only_folder(tmp_path / "ro") as ro:
        result = CliRunner().invoke(main, [str(tiny_model), str(folder), "--out", str(ro / "eval")])
    assert result.exit_code == 2, result.output
    assert f"{ro / 'eval'}: cannot write the results there" in result.output
    assert "read-only file system" in result.output or "permission denied" in result.output
    assert "Traceback" not in result.output and "evaluating" not in result.output and not evaluated


def test_colored_eval_could_not_start_exits_2_as_the_other_commands(tmp_path, photos):
    """Issue 22 row 10: a missing model is "could not start", status 2 (it was 1)."""
    folder, _ = photos
    result = CliRunner().invoke(main, [str(tmp_path / "missing.onnx"), str(folder), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no such model file" in result.output


# ------------------------------------------------------------------ without a model

GREEN, RED, BLUE = (40, 160, 40), (200, 40, 40), (40, 60, 200)


def synthetic_photo(name: str, colours: list[tuple[int, int, int]]) -> ev.Photo:
    """A 16x16 photo in vertical stripes of `colours`, each with a lightness ramp down the rows."""
    stripes = np.array_split(np.arange(16), len(colours))
    truth = np.zeros((16, 16, 3), np.uint8)
    ramp = np.linspace(0.6, 1.0, 16)[:, None, None]
    for cols, colour in zip(stripes, colours):
        truth[:, cols] = np.round(ramp * np.array(colour)).astype(np.uint8)
    return ev.Photo(name=name, truth=truth, gray=ev.to_gray(truth))


@pytest.fixture()
def synthetic():
    return [
        synthetic_photo("green.png", [GREEN]),
        synthetic_photo("sub/both.png", [GREEN, RED]),
        synthetic_photo("sub/red.png", [RED]),
    ]


def oracle_for(photos: list[ev.Photo]):
    """A perfect colorizer: gives back the truth of the photo whose grey it is handed."""
    truths = {id(p.gray): p.truth for p in photos}
    return lambda gray: truths[id(gray)]


def test_tint_is_merged_like_a_model_output():
    from batch.colorize import merge
    from batch.images import DecodedImage

    gray = np.tile(np.linspace(0, 255, 24).astype(np.uint8), (12, 1))
    decoded = DecodedImage(path=ev.Path("t"), pixels=gray, alpha=None, bit_depth=8, format="PNG",
                           exif=None, icc_profile=None, xmp=None, is_color=False)
    for a, b in ((-20.0, 30.0), (60.0, -90.0)):  # the second leaves the gamut: both must clip alike
        model_like = merge(decoded, np.broadcast_to(np.array([a, b], np.float32)[:, None, None], (2, 4, 4)))
        tint = ev.tint_colorizer(a, b)(gray)
        assert np.abs(tint.astype(int) - model_like.astype(int)).max() <= 1
    lab = skcolor.rgb2lab(ev.tint_colorizer(-20.0, 30.0)(gray[:, 8:16]))  # mid-greys: in gamut
    assert np.allclose(lab[..., 1], -20, atol=1.5) and np.allclose(lab[..., 2], 30, atol=1.5)
    assert np.allclose(lab[..., 0], skcolor.rgb2lab(np.repeat(gray[:, 8:16, None], 3, axis=2))[..., 0], atol=0.5)


def test_evaluate_tint_hue_measures_and_groups(synthetic):
    cast = ev.tint_colorizer(-30.0, 20.0)
    report, outputs = ev.evaluate(synthetic, {"oracle": oracle_for(synthetic), "cast": cast}, keep=[2, 0])
    methods = {m.name: m for m in report.methods}
    assert list(methods) == [ev.GRAY, ev.TINT, "oracle", "cast"]

    # the tint is the oracle's (the first model's) mean ab over every pixel of the set
    truth_ab = np.concatenate([skcolor.rgb2lab(p.truth)[..., 1:].reshape(-1, 2) for p in synthetic])
    assert report.tint["of"] == "oracle"
    assert [report.tint["a"], report.tint["b"]] == pytest.approx(truth_ab.mean(axis=0), abs=0.1)

    oracle, tint, gray = methods["oracle"], methods[ev.TINT], methods[ev.GRAY]
    assert oracle.green_recall == 100.0 and oracle.red_recall == 100.0 and oracle.auc_chroma20 == pytest.approx(100.0)
    assert math.isnan(oracle.blue_recall)  # no blue pixel anywhere: no verdict
    assert gray.green_recall == 0.0 and gray.red_recall == 0.0
    # the tint is one colour: it tells no part of a photo from another, so it gets no recall
    # (a constant beyond a rule's limit would score 100 % on it), shown as "–"
    assert all(math.isnan(getattr(tint, f"{h}_recall")) for h in ("green", "blue", "red"))
    assert all(math.isnan(r["green_recall"]) for r in tint.per_image)
    assert tint.auc_chroma20 < oracle.auc_chroma20 and tint.colorfulness > 0

    # outputs of the kept photos only, in the order asked for
    assert [len(o) for o in outputs.values()] == [2] * 4
    assert np.array_equal(outputs["oracle"][0], synthetic[2].truth)
    assert np.array_equal(outputs[ev.TINT][1], ev.tint_colorizer(report.tint["a"], report.tint["b"])(synthetic[0].gray))

    # per sub-folder: "." holds green.png only (no red pixel), sub the other two; recalls pool pixels
    assert list(report.groups) == [".", "sub"]
    root, sub = report.groups["."], report.groups["sub"]
    assert root.images == ["green.png"] and sub.images == ["sub/both.png", "sub/red.png"]
    root_oracle = root.methods[2]
    assert root_oracle.name == "oracle" and root_oracle.green_recall == 100.0 and math.isnan(root_oracle.red_recall)
    sub_cast = {m.name: m for m in sub.methods}["cast"]
    cast_rows = methods["cast"].per_image[1:]
    assert sub_cast.psnr == pytest.approx(np.mean([r["psnr"] for r in cast_rows]))
    assert sub_cast.green_recall == 100.0 and sub_cast.red_recall == 0.0

    table = ev.markdown_table(report)
    assert "### sub (2 photos)" in table and "| oracle | inf |" in table
    assert table.count("–") >= 1  # the blue recall nobody can score
    again = json.loads(report.to_json())
    assert math.isnan(again["methods"][2]["blue_recall"]) and again["groups"]["sub"]["methods"][3]["name"] == "cast"


def test_evaluate_has_no_tint_without_a_model(synthetic):
    report, outputs = ev.evaluate(synthetic[:1], {})
    assert [m.name for m in report.methods] == [ev.GRAY] and report.tint == {} and report.groups == {}


def named_photos(names: list[str]) -> list[ev.Photo]:
    tiny = np.zeros((1, 1, 3), np.uint8)
    return [ev.Photo(name=n, truth=tiny, gray=tiny[..., 0]) for n in names]


def test_sample_rows_is_seeded_and_covers_every_subfolder():
    photos = named_photos([f"r{i}.png" for i in range(5)] + ["a/1.png"] + [f"b/{i}.png" for i in range(3)])
    draws = {seed: ev.sample_rows(photos, 3, seed) for seed in range(20)}
    for rows in draws.values():
        assert sorted({photos[i].group for i in rows}) == [".", "a", "b"]
        assert rows == sorted(rows)
    assert ev.sample_rows(photos, 3, 7) == draws[7]
    assert len({tuple(rows) for rows in draws.values()}) > 1  # the seed matters
    assert ev.sample_rows(photos, 50, 0) == list(range(len(photos)))


LONG_NAME = "a_rather/long-folder name/holiday_photo_2019-08-17_beach.jpg"  # 60 characters


def test_wrap_label_fits_every_line_and_keeps_every_character():
    assert len(LONG_NAME) == 60
    font = ImageFont.load_default()
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    for width in (32, 64, 160):
        lines = ev.wrap_label(LONG_NAME, width, font.getlength)
        assert "".join(lines) == LONG_NAME
        assert all(draw.textlength(line, font=font) <= width for line in lines)
    lines = ev.wrap_label(LONG_NAME, 64, font.getlength)
    assert len(lines) > 1 and lines[0].endswith(("/", "_", "-", " ", "."))  # broken at a separator
    assert ev.wrap_label("x" * 40, 30, font.getlength)[0] == "x" * int(30 // font.getlength("x"))
    assert ev.wrap_label("short", 160, font.getlength) == ["short"]


def test_contact_sheet_labels_stay_inside_their_cells():
    thumb, pad = 64, ev.SHEET_PAD
    photo = synthetic_photo(LONG_NAME, [GREEN, RED])
    long_method = "a model with a long name (model-file-with-a-long-name.onnx)"
    sheet = np.asarray(ev.contact_sheet([photo], {ev.GRAY: [photo.truth], long_method: [photo.truth]}, thumb=thumb))
    dark = sheet.min(axis=2) < 128
    assert sheet.shape[1] == 3 * (thumb + pad) + pad

    font = ImageFont.load_default()
    line = font.getbbox("Agjy|")[3] + 2
    header_h = 2 * pad + line * len(ev.wrap_label(long_method, thumb, font.getlength))
    caption_lines = len(ev.wrap_label(LONG_NAME, thumb, font.getlength))
    assert caption_lines >= 3
    assert sheet.shape[0] == header_h + thumb + 2 * pad + line * caption_lines
    # no text in the gaps between cells or past the last one, so no label spills into a neighbour
    gaps = np.zeros(sheet.shape[1], bool)
    for c in range(4):
        gaps[max(0, c * (thumb + pad)): c * (thumb + pad) + pad] = True
    assert not dark[:header_h, gaps].any()
    assert dark[:header_h, 2 * (thumb + pad) + pad:].any()  # the long header was drawn, in its cell
    caption = dark[header_h + thumb:]
    assert not caption[:, pad + thumb:].any()  # the file name stays under the original
    rows_with_text = np.flatnonzero(caption.any(axis=1))
    assert rows_with_text[-1] - rows_with_text[0] > (caption_lines - 1) * line - 2  # every line drawn


def test_contact_sheet_max_rows_takes_the_first_photos():
    photos = [synthetic_photo(f"p{i}.png", [GREEN]) for i in range(3)]
    full = ev.contact_sheet(photos, {ev.GRAY: [p.truth for p in photos]}, thumb=32)
    two = ev.contact_sheet(photos, {ev.GRAY: [p.truth for p in photos]}, thumb=32, max_rows=2)
    row_h = full.height - two.height  # the third row
    assert row_h > 32 and np.array_equal(np.asarray(full)[: two.height], np.asarray(two))


def test_standard_errors_and_leads(synthetic):
    """Every figure comes with its standard error over the photos, and each model's lead over grey
    and tint is the mean per-photo difference with the SE of that difference."""
    cast = ev.tint_colorizer(-30.0, 20.0)
    report, _ = ev.evaluate(synthetic, {"cast": cast}, keep=[])
    methods = {m.name: m for m in report.methods}
    rows = methods["cast"].per_image
    psnr = [r["psnr"] for r in rows]
    assert methods["cast"].se["psnr"] == pytest.approx(np.std(psnr, ddof=1) / np.sqrt(len(psnr)))
    grey = [r["psnr"] for r in methods[ev.GRAY].per_image]
    lead = report.differences["cast"]["psnr - gray"]
    d = np.subtract(psnr, grey)
    assert lead["mean"] == pytest.approx(d.mean()) and lead["se"] == pytest.approx(d.std(ddof=1) / np.sqrt(len(d)))
    assert "green_recall" not in methods[ev.TINT].se  # a constant gets no recall, nor its error
    assert "cast: psnr - gray" in ev.markdown_table(report) and " ±" in ev.markdown_table(report)
    # the ratio estimator: photos are the clusters; equal shares in every photo have no spread
    assert ev.share_se([1, 2, 3], [10, 20, 30]) == pytest.approx(0.0)
    assert ev.share_se([0, 10], [10, 10]) == pytest.approx(50.0)  # 0 % and 100 %: SE of two photos' mean share
    assert math.isnan(ev.share_se([1], [2])) and math.isnan(ev.mean_se([1.0, float("inf")]))


def test_best_tint_recovers_a_cast_and_beats_every_other_constant():
    """best_tint: on photos that are one cast over grey, it finds that cast; on mixed photos its
    mean PSNR is at least that of the grey image, the mean-ab tint and its neighbours."""
    cast = (6.0, 14.0)
    grey_truths = [np.tile(np.linspace(40, 220, 32).astype(np.uint8), (24, 1)) for _ in range(3)]
    cast_photos = []
    for i, g in enumerate(grey_truths):
        truth = ev.tint_colorizer(*cast)(np.roll(g, 5 * i, axis=1))
        cast_photos.append(ev.Photo(name=f"cast{i}.png", truth=truth, gray=ev.to_gray(truth)))
    a, b = ev.best_tint(cast_photos, steps=(4.0, 2.0, 1.0, 0.5, 0.25, 0.125))
    assert (a, b) == pytest.approx(cast, abs=0.5)

    photos = [synthetic_photo("g.png", [GREEN]), synthetic_photo("gr.png", [GREEN, RED]),
              synthetic_photo("b.png", [BLUE, RED])]

    def mean_psnr(ab):
        return np.mean([metrics.psnr(ev.tint_colorizer(*ab)(p.gray), p.truth) for p in photos])

    best = ev.best_tint(photos)
    assert mean_psnr(best) >= mean_psnr((0.0, 0.0))
    for step in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        assert mean_psnr(best) >= mean_psnr((best[0] + step[0], best[1] + step[1])) - 1e-9


def test_evaluate_with_best_tint_adds_the_oracle_constant_and_the_leads_over_it(synthetic):
    report, outputs = ev.evaluate(synthetic, {"oracle": oracle_for(synthetic)}, with_best_tint=True)
    methods = {m.name: m for m in report.methods}
    assert list(methods) == [ev.GRAY, ev.TINT, ev.BEST_TINT, "oracle"]
    best = methods[ev.BEST_TINT]
    assert best.psnr >= methods[ev.GRAY].psnr and best.psnr >= methods[ev.TINT].psnr - 1e-6
    assert math.isnan(best.green_recall) and "green_recall" not in best.se  # one colour: no recall
    a, b = report.tint["best"]["a"], report.tint["best"]["b"]
    assert np.array_equal(outputs[ev.BEST_TINT][0], ev.tint_colorizer(a, b)(synthetic[0].gray))
    leads = report.differences["oracle"]
    assert leads["psnr - best tint"]["mean"] == pytest.approx(np.mean(
        [o - t for o, t in zip([r["psnr"] for r in methods["oracle"].per_image], [r["psnr"] for r in best.per_image])]))
    assert "best tint (oracle): a* =" in ev.markdown_table(report)
    plain, _ = ev.evaluate(synthetic, {"oracle": oracle_for(synthetic)})
    assert ev.BEST_TINT not in [m.name for m in plain.methods] and "best" not in plain.tint


def test_colored_eval_best_tint_option(tmp_path, photos, tiny_model):
    folder, _ = photos
    out = tmp_path / "eval"
    result = CliRunner().invoke(main, [str(tiny_model), str(folder), "--out", str(out), "--size", str(SIZE),
                                       "--best-tint", "--quiet"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "metrics.json").read_text())
    names = [m["name"] for m in report["methods"]]
    assert names[:3] == [ev.GRAY, ev.TINT, ev.BEST_TINT] and set(report["tint"]["best"]) == {"a", "b"}
    assert "psnr - best tint" in report["differences"][names[3]]
    assert "best tint (oracle)" in (out / "metrics.md").read_text()
