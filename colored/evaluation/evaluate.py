"""Evaluate colorization models on colour photos: metrics table, JSON and a contact sheet.

For every colour photo the evaluation
  1. decodes it with the runtime's decoder (EXIF orientation applied) and shrinks it so its
     long side is at most ``size`` (never enlarged), as 8-bit sRGB: the ground truth;
  2. makes it grey through CIE L* (an 8-bit grey image, what an archive scan gives);
  3. colorizes that grey image with each ONNX model through the *same code path as
     colored-batch* (batch.session.open_session/infer, batch.colorize.model_input/merge);
  4. scores the result against the truth with colored.metrics.

Methods always include two baselines a model has to beat: the gray baseline (the grey
image itself, ab = 0) and the tint baseline (the evaluated model's own mean a*, b* laid
as one constant colour on every grey photo). A model that only learned a cast scores
like its tint; the hue-aware measures (green/blue/red recall, AuC chroma>20) are the
ones a constant tint cannot pass.

Set-level numbers: PSNR, SSIM and AuC are per-image values averaged over the set;
colorfulness is the mean Hasler-Suesstrunk colorfulness of the outputs, and dCF = |mean
CF(outputs) - mean CF(truths)|; the hue-aware measures pool pixel counts over the set
(NaN when no pixel of the set is eligible). With photos in sub-folders of DATA every
number is also given per top-level sub-folder ("." for photos directly in DATA).
numpy/onnxruntime only; no torch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from colored import metrics
from colored.atomic import atomic_path, atomic_write_bytes
from colored.color import gray_to_lightness, lab_to_rgb, lightness_to_gray, rgb_to_lab, rgb_to_lightness
from colored.sheet import spread_sample, wrap_label

Colorizer = Callable[[np.ndarray], np.ndarray]  # HxW uint8 grey -> HxWx3 uint8 RGB

GRAY = "gray (ab=0)"
TINT = "tint (model mean ab)"
BEST_TINT = "best tint (oracle)"
CONSTANTS = (TINT, BEST_TINT)  # methods that lay one colour on every photo: no hue recalls
ORIGINAL = "original"
ROOT_GROUP = "."  # the group of photos directly in DATA


class EvalError(ValueError):
    """The data or a model cannot be evaluated; the message says why."""


@dataclass
class Photo:
    name: str
    truth: np.ndarray  # HxWx3 uint8 RGB at evaluation size
    gray: np.ndarray  # HxW uint8, the same CIE lightness as the truth

    @property
    def group(self) -> str:
        """The top-level sub-folder of DATA the photo is in, or "." directly in DATA."""
        parts = PurePath(self.name).parts
        return parts[0] if len(parts) > 1 else ROOT_GROUP


@dataclass
class Scores:
    """Set-level numbers of one method on some photos (the whole set, or one sub-folder)."""

    name: str
    psnr: float
    ssim: float
    auc: float
    auc_chroma20: float
    colorfulness: float
    dcf: float
    green_recall: float
    blue_recall: float
    red_recall: float
    false_colour: float = float("nan")
    # standard error of each figure over the photos (per-image means: sd / sqrt(n); pooled
    # shares: the ratio estimator's, photos as clusters); absent for one photo
    se: dict[str, float] = field(default_factory=dict)


@dataclass
class MethodScore(Scores):
    per_image: list[dict] = field(default_factory=list)


@dataclass
class GroupReport:
    """One top-level sub-folder of DATA: its photos and every method's numbers on them."""

    images: list[str]
    truth_colorfulness: float
    methods: list[Scores]
    differences: dict[str, dict] = field(default_factory=dict)  # model -> paired_differences


@dataclass
class Report:
    data: str
    size: int
    images: list[str]
    truth_colorfulness: float
    methods: list[MethodScore]
    tint: dict = field(default_factory=dict)  # {"of": method, "a": mean a*, "b": mean b*}; empty without a model
    groups: dict[str, GroupReport] = field(default_factory=dict)  # only when DATA has sub-folders
    models: dict[str, dict] = field(default_factory=dict)  # method name -> model file and contract facts
    differences: dict[str, dict] = field(default_factory=dict)  # model -> paired_differences over the set

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=float)


# ------------------------------------------------------------------ data


def list_photos(data: str | Path) -> list[Path]:
    """Image files below `data` (recursive, sorted, hidden files skipped)."""
    from batch.images import SUPPORTED_EXTENSIONS

    root = Path(data)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise EvalError(f"{root}: no such file or folder")
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def to_gray(rgb_u8: np.ndarray) -> np.ndarray:
    """8-bit grey with the CIE lightness of `rgb_u8` (what a B&W scan of the scene would hold)."""
    L = rgb_to_lightness(rgb_u8.astype(np.float64) / 255.0)
    return metrics.rgb_float_to_u8(lightness_to_gray(L)[..., None])[..., 0]


def load_photo(path: Path, size: int, root: Path | None = None) -> Photo | None:
    """Decode, orient, shrink to long side <= size; None for a grey (not colour) picture."""
    from batch.images import decode, is_color

    decoded = decode(path)
    pixels = decoded.pixels
    if pixels.ndim != 3 or not is_color(pixels):
        return None
    if pixels.dtype == np.uint16:
        pixels = ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    h, w = pixels.shape[:2]
    scale = size / max(h, w)
    if scale < 1:
        pixels = cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    truth = np.ascontiguousarray(pixels, dtype=np.uint8)
    name = str(path.relative_to(root)) if root is not None and root in path.parents else path.name
    return Photo(name=name, truth=truth, gray=to_gray(truth))


def load_photos(data: str | Path, size: int, limit: int | None = None,
                strict: bool = True) -> tuple[list[Photo], list[str]]:
    """Colour photos of `data` at evaluation size, and the files skipped, each "path: reason" (grey,
    unreadable, too small). With ``strict``, no photo at all is an EvalError."""
    from batch.images import ImageError

    root = Path(data)
    photos, skipped = [], []
    for path in list_photos(root):
        if limit is not None and len(photos) >= limit:
            break
        try:
            photo = load_photo(path, size, root if root.is_dir() else None)
        except ImageError as e:
            skipped.append(f"{path}: {e.reason}")
            continue
        if photo is None:
            skipped.append(f"{path}: not a colour picture")
        elif min(photo.truth.shape[:2]) < 11:
            skipped.append(f"{path}: smaller than 11 px (SSIM window)")
        else:
            photos.append(photo)
    if not photos and strict:
        first = f"; first: {skipped[0]}" if skipped else ""
        raise EvalError(f"{data}: no colour photos to evaluate ({len(skipped)} skipped{first})")
    return photos, skipped


# ------------------------------------------------------------------ colorizers


def gray_decoded(gray_u8: np.ndarray, name: str = "<eval>"):
    """An 8-bit grey picture as colored-batch's decoder would hand it on (for model_input / merge)."""
    from batch.images import DecodedImage

    return DecodedImage(
        path=Path(name), pixels=gray_u8, alpha=None, bit_depth=8, format="PNG",
        exif=None, icc_profile=None, xmp=None, is_color=False,
    )


def onnx_colorizer(model_path: str | Path | None, threads: int | None = None) -> tuple[Colorizer, dict]:
    """A colorizer running an exported model exactly as colored-batch does, and facts about it."""
    from batch.colorize import merge, model_input
    from batch.session import infer, open_session

    session, contract = open_session(model_path, device="cpu", threads=threads)

    def colorize(gray_u8: np.ndarray) -> np.ndarray:
        decoded = gray_decoded(gray_u8)
        L = model_input(decoded, contract.input_size)[None]  # (1, 1, S, S)
        ab = infer(session, contract, L)[0]
        return merge(decoded, ab)

    from batch.session import default_model_path

    path = Path(model_path) if model_path is not None else default_model_path()
    info = {
        "file": str(path), "model_id": contract.model_id, "input_size": contract.input_size,
        "precision": contract.precision, "config_hash": contract.config_hash,
    }
    return colorize, info


def gray_colorizer(gray_u8: np.ndarray) -> np.ndarray:
    """The gray baseline: the grey picture itself (ab = 0)."""
    return np.repeat(gray_u8[..., None], 3, axis=2)


def tint_colorizer(a: float, b: float) -> Colorizer:
    """A constant-tint colorizer: the grey picture's L* with one ab everywhere.

    Merged as batch.colorize.merge merges a model's ab (L* from the grey code values, Lab ->
    sRGB through colored.color, negative Z and the RGB cube clipped), so the tint baseline
    differs from a model's output only in its colours.
    """

    def colorize(gray_u8: np.ndarray) -> np.ndarray:
        L = gray_to_lightness(gray_u8.astype(np.float64) / 255.0)
        lab = np.stack([L, np.full_like(L, a), np.full_like(L, b)], axis=-1)
        return metrics.rgb_float_to_u8(lab_to_rgb(lab))

    return colorize


# ------------------------------------------------------------------ scoring


def _ab(rgb_u8: np.ndarray) -> np.ndarray:
    return rgb_to_lab(rgb_u8.astype(np.float64) / 255.0)[..., 1:]


@dataclass
class ImageScore:
    """One method on one photo: per-image values, and the counts a set pools."""

    image: str
    psnr: float
    ssim: float
    auc: float
    colorfulness: float
    truth_colorfulness: float
    hue: metrics.HueCounts
    ab_sum: tuple[float, float]  # sum of a* and b* over the output's pixels (for the tint's mean)
    pixels: int

    def to_dict(self, constant: bool = False) -> dict:
        """Per-image values; a constant method's recalls are NaN (see summarise)."""
        return {
            "image": self.image, "psnr": self.psnr, "ssim": self.ssim, "auc": self.auc,
            "auc_chroma20": self.hue.chroma_auc(), "colorfulness": self.colorfulness,
            **{f"{rule.name}_recall": float("nan") if constant else self.hue.recall(rule.name)
               for rule in metrics.HUE_RULES},
            "false_colour": self.hue.false_colour(),
        }


def score_image(photo: Photo, out: np.ndarray) -> ImageScore:
    """Every measure of one output against its photo's truth (both Lab conversions done once)."""
    out_ab, truth_ab = _ab(out), _ab(photo.truth)
    return ImageScore(
        image=photo.name,
        psnr=metrics.psnr(out, photo.truth),
        ssim=metrics.ssim(out, photo.truth),
        auc=metrics.auc(out_ab, truth_ab),
        colorfulness=metrics.colorfulness(out),
        truth_colorfulness=metrics.colorfulness(photo.truth),
        hue=metrics.hue_counts(out_ab, truth_ab),
        ab_sum=(float(out_ab[..., 0].sum()), float(out_ab[..., 1].sum())),
        pixels=out_ab.shape[0] * out_ab.shape[1],
    )


def summarise(name: str, rows: Sequence[ImageScore], constant: bool = False) -> Scores:
    """A method's set-level numbers on `rows`: per-image means, dCF, and pooled hue counts.

    A ``constant`` method (one colour laid on every photo: the tint baseline) gets no hue
    recalls ("–"): a recall asks whether the output tells the photo's green, blue or red parts
    from the rest, and a constant colour that happens to lie beyond a rule's limit would score
    100 % on it without telling anything apart."""
    hue = metrics.pooled(r.hue for r in rows)
    recall = (lambda rule: float("nan")) if constant else (lambda rule: hue.recall(rule))

    def mean(key: str) -> float:
        return float(np.mean([getattr(r, key) for r in rows]))

    se: dict[str, float] = {}
    if len(rows) > 1:
        se = {key: mean_se([getattr(r, key) for r in rows]) for key in ("psnr", "ssim", "auc", "colorfulness")}
        if not constant:
            for i, rule in enumerate(metrics.HUE_RULES):
                se[f"{rule.name}_recall"] = share_se([r.hue.hits[i] for r in rows], [r.hue.eligible[i] for r in rows])
        se["false_colour"] = share_se([r.hue.false_colour_pixels for r in rows], [r.hue.neutral_pixels for r in rows])

    return Scores(
        name=name, psnr=mean("psnr"), ssim=mean("ssim"), auc=mean("auc"), auc_chroma20=hue.chroma_auc(),
        colorfulness=mean("colorfulness"), dcf=abs(mean("colorfulness") - mean("truth_colorfulness")),
        **{f"{rule.name}_recall": recall(rule.name) for rule in metrics.HUE_RULES},
        false_colour=hue.false_colour(), se=se,
    )


def _differences(rows: dict[str, list["ImageScore"]]) -> dict[str, dict]:
    return {name: paired_differences(rows, name) for name in rows if name not in (GRAY, *CONSTANTS)}


def mean_se(values: Sequence[float]) -> float:
    """Standard error of the mean of per-photo values."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2 or not np.isfinite(v).all():  # one photo, or an exact copy's infinite PSNR
        return float("nan")
    return float(v.std(ddof=1) / np.sqrt(len(v)))


def share_se(hits: Sequence[int], eligible: Sequence[int]) -> float:
    """Standard error (in %) of a pooled share sum(hits) / sum(eligible) over photos: the ratio
    estimator's linearisation, each photo one cluster of pixels (pixels of one photo are not
    independent draws, photos are). NaN when fewer than two photos have eligible pixels."""
    h, e = np.asarray(hits, dtype=np.float64), np.asarray(eligible, dtype=np.float64)
    n = int((e > 0).sum())
    if n < 2 or e.sum() == 0:
        return float("nan")
    ratio = h.sum() / e.sum()
    resid = (h - ratio * e)[e > 0]
    return float(100.0 * np.sqrt((resid**2).sum() / (n * (n - 1))) / e[e > 0].mean())


def paired_differences(rows: dict[str, list["ImageScore"]], model: str) -> dict[str, dict[str, float]]:
    """A model's per-photo lead over the grey and tint baselines: mean difference and its
    standard error, for the comparisons the acceptance targets are stated in."""
    out: dict[str, dict[str, float]] = {}
    for key, other in (("psnr", GRAY), ("psnr", TINT), ("auc", TINT), ("auc", GRAY), ("psnr", BEST_TINT),
                       ("auc", BEST_TINT)):
        if other not in rows or model not in rows:
            continue
        d = [getattr(a, key) - getattr(b, key) for a, b in zip(rows[model], rows[other])]
        label = "best tint" if other == BEST_TINT else other.split(" ")[0]
        out[f"{key} - {label}"] = {"mean": float(np.mean(d)), "se": mean_se(d)}
    return out


def mean_ab(rows: Sequence[ImageScore]) -> tuple[float, float]:
    """Mean a*, b* over every output pixel of the set (pixel-weighted, like the pooled measures)."""
    pixels = sum(r.pixels for r in rows)
    return sum(r.ab_sum[0] for r in rows) / pixels, sum(r.ab_sum[1] for r in rows) / pixels


def best_tint(photos: Sequence[Photo], start: tuple[float, float] = (0.0, 0.0), pixels: int = 8192,
              steps: Sequence[float] = (4.0, 2.0, 1.0, 0.5, 0.25)) -> tuple[float, float]:
    """The one constant a*, b* that gives the highest mean PSNR over `photos` (laid on each grey
    photo as tint_colorizer does): the strongest baseline a model without any notion of what is
    where could reach, fitted on the very photos it is scored on (an oracle, so a model that beats
    it beats every constant tint). A pattern search from `start`, each step halving, on a
    subsample of about `pixels` pixels per photo (the mean PSNR is smooth in a*, b*)."""
    samples = []
    for photo in photos:
        h, w = photo.gray.shape[:2]
        k = max(1, int(math.sqrt(h * w / pixels)))  # a regular grid of pixels: every k-th row and column
        samples.append((photo.gray[::k, ::k], photo.truth[::k, ::k]))

    def mean_psnr(a: float, b: float) -> float:
        return float(np.mean([metrics.psnr(tint_colorizer(a, b)(gray), truth) for gray, truth in samples]))

    best, score = start, mean_psnr(*start)
    for step in steps:
        improved = True
        while improved:
            improved = False
            for da, db in ((step, 0), (-step, 0), (0, step), (0, -step)):
                cand = (best[0] + da, best[1] + db)
                s = mean_psnr(*cand)
                if s > score + 1e-6:
                    best, score, improved = cand, s, True
                    break
    return best


def run_method(
    name: str, fn: Colorizer, photos: Sequence[Photo], keep: Sequence[int], progress: bool = False
) -> tuple[list[ImageScore], list[np.ndarray]]:
    """Colorize and score every photo; returns the scores and the outputs of the photos in `keep`
    (in that order), so a large set does not hold every output in memory for a small sheet."""
    wanted = set(keep)
    rows, kept = [], {}
    for i, photo in enumerate(tqdm(photos, desc=name, unit="photo", disable=not progress)):
        out = fn(photo.gray)
        rows.append(score_image(photo, out))
        if i in wanted:
            kept[i] = out
    return rows, [kept[i] for i in keep]


def group_indices(photos: Sequence[Photo]) -> dict[str, list[int]]:
    """Photo indices by top-level sub-folder: "." first, then the sub-folders by name."""
    groups: dict[str, list[int]] = {}
    for i, photo in enumerate(photos):
        groups.setdefault(photo.group, []).append(i)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0] != ROOT_GROUP, kv[0])))


def group_reports(photos: Sequence[Photo], rows: dict[str, list[ImageScore]]) -> dict[str, GroupReport]:
    """Every method's numbers per top-level sub-folder; empty when all photos lie directly in DATA."""
    groups = group_indices(photos)
    if list(groups) == [ROOT_GROUP]:
        return {}
    any_rows = next(iter(rows.values()))
    return {
        group: GroupReport(
            images=[photos[i].name for i in idx],
            truth_colorfulness=float(np.mean([any_rows[i].truth_colorfulness for i in idx])),
            methods=[summarise(name, [method_rows[i] for i in idx], constant=name in CONSTANTS)
                     for name, method_rows in rows.items()],
            differences=_differences({name: [r[i] for i in idx] for name, r in rows.items()}),
        )
        for group, idx in groups.items()
    }


def evaluate(
    photos: Sequence[Photo], colorizers: dict[str, Colorizer], data: str = "", size: int = 0,
    keep: Sequence[int] | None = None, progress: bool = False, tint_of: str | None = None,
    with_best_tint: bool = False,
) -> tuple[Report, dict[str, list[np.ndarray]]]:
    """Score the gray baseline, every colorizer and the tint baseline on `photos`.

    The tint is the mean ab of the colorizer `tint_of` (default: the first one; none without
    colorizers). Methods come in the order gray, tint, colorizers. Returns the report and, per
    method, the outputs of the photos in `keep` (default: all), in that order. `progress` shows
    a bar per method on stderr. ``with_best_tint`` adds the best constant tint (best_tint(),
    fitted on these photos) after the model's own tint, and the models' leads over it.
    """
    keep = range(len(photos)) if keep is None else keep
    rows: dict[str, list[ImageScore]] = {}
    outputs: dict[str, list[np.ndarray]] = {}
    for name, fn in {GRAY: gray_colorizer, **colorizers}.items():
        rows[name], outputs[name] = run_method(name, fn, photos, keep, progress)
    tint: dict = {}
    target = tint_of or next(iter(colorizers), None)
    if target is not None:
        a, b = mean_ab(rows[target])
        tint = {"of": target, "a": a, "b": b}
        rows[TINT], outputs[TINT] = run_method(TINT, tint_colorizer(a, b), photos, keep, progress)
    if with_best_tint and photos:
        a, b = best_tint(photos, start=(round(tint.get("a", 0.0)), round(tint.get("b", 0.0))))
        tint["best"] = {"a": a, "b": b}
        rows[BEST_TINT], outputs[BEST_TINT] = run_method(BEST_TINT, tint_colorizer(a, b), photos, keep, progress)
    order = [GRAY, *([TINT] if TINT in rows else []), *([BEST_TINT] if BEST_TINT in rows else []), *colorizers]
    rows = {name: rows[name] for name in order}
    methods = [MethodScore(**vars(summarise(name, r, constant=name in CONSTANTS)),
                           per_image=[x.to_dict(constant=name in CONSTANTS) for x in r]) for name, r in rows.items()]
    report = Report(
        data=str(data), size=size, images=[p.name for p in photos],
        truth_colorfulness=float(np.mean([r.truth_colorfulness for r in rows[GRAY]])), methods=methods,
        tint=tint, groups=group_reports(photos, rows), differences=_differences(rows),
    )
    return report, {name: outputs[name] for name in order}


def sample_rows(photos: Sequence[Photo], count: int, seed: int = 0) -> list[int]:
    """`count` photo indices for the contact sheet, drawn reproducibly from `seed`, round-robin
    across sub-folders so each is represented (when count allows); sorted by photo order."""
    return sorted(spread_sample(list(group_indices(photos).values()), count, seed))


# ------------------------------------------------------------------ presentation

# (JSON key, table header, format) of every column of the metrics tables.
COLUMNS = (
    ("psnr", "PSNR (dB) ↑", ".2f"),
    ("ssim", "SSIM ↑", ".4f"),
    ("auc", "AuC (%) ↑", ".2f"),
    ("auc_chroma20", "AuC chroma>20 (%) ↑", ".2f"),
    ("colorfulness", "colorfulness", ".1f"),
    ("dcf", "dCF ↓", ".1f"),
    ("green_recall", "green recall (%) ↑", ".1f"),
    ("blue_recall", "blue recall (%) ↑", ".1f"),
    ("red_recall", "red recall (%) ↑", ".1f"),
    ("false_colour", "false colour (%) ↓", ".1f"),
)


def _cell(value: float, spec: str, se: float | None = None) -> str:
    if math.isnan(value):
        return "–"  # no eligible pixel: no verdict
    if math.isinf(value):
        return "inf"  # PSNR of an exact copy
    if se is None or math.isnan(se) or math.isinf(se):
        return format(value, spec)
    return f"{format(value, spec)} ±{format(se, spec)}"


def _table(truth_colorfulness: float, methods: Sequence[Scores]) -> list[str]:
    original = {"colorfulness": f"{truth_colorfulness:.1f}", "dcf": "0.0"}
    return [
        "| method | " + " | ".join(header for _, header, _ in COLUMNS) + " |",
        "| --- |" + " ---: |" * len(COLUMNS),
        f"| {ORIGINAL} (ground truth) | " + " | ".join(original.get(key, "") for key, _, _ in COLUMNS) + " |",
        *(f"| {m.name} | " + " | ".join(_cell(getattr(m, key), spec, m.se.get(key)) for key, _, spec in COLUMNS) + " |"
          for m in methods),
    ]


def _difference_lines(differences: dict[str, dict]) -> list[str]:
    """One line per model: its per-photo lead over grey and tint, each with its standard error."""
    return [f"{name}: " + "; ".join(f"{k} {d['mean']:+.2f} (SE {d['se']:.2f})" for k, d in diffs.items())
            for name, diffs in differences.items() if diffs]


def markdown_table(report: Report) -> str:
    """The metrics of the whole set, then (with sub-folders) one table per top-level sub-folder."""
    lines = [f"{len(report.images)} colour photos from `{report.data}`, long side <= {report.size} px."]
    if "of" in report.tint:
        lines.append(f"{TINT}: a* = {report.tint['a']:+.1f}, b* = {report.tint['b']:+.1f}, "
                     f"the mean of {report.tint['of']}.")
    if "best" in report.tint:
        best = report.tint["best"]
        lines.append(f"{BEST_TINT}: a* = {best['a']:+.2f}, b* = {best['b']:+.2f}, the constant colour with the "
                     "highest mean PSNR on these very photos (fitted on them: no constant tint does better).")
    lines.append("± is the standard error over the photos; the leads below are per-photo differences.")
    lines += ["", *_table(report.truth_colorfulness, report.methods), "", *_difference_lines(report.differences)]
    for group, g in report.groups.items():
        count = f"{len(g.images)} photo{'' if len(g.images) == 1 else 's'}"
        lines += ["", f"### {group} ({count})", "", *_table(g.truth_colorfulness, g.methods), "",
                  *_difference_lines(g.differences)]
    return "\n".join(lines) + "\n"


def _fit(img: np.ndarray, box: int) -> Image.Image:
    im = Image.fromarray(img)
    im.thumbnail((box, box), Image.Resampling.LANCZOS)
    cell = Image.new("RGB", (box, box), (255, 255, 255))
    cell.paste(im.convert("RGB"), ((box - im.width) // 2, (box - im.height) // 2))
    return cell


SHEET_PAD = 4


def _draw_lines(draw: ImageDraw.ImageDraw, xy: tuple[int, int], lines: Sequence[str], font, line: int) -> None:
    for k, text in enumerate(lines):
        draw.text((xy[0], xy[1] + k * line), text, fill="black", font=font)


def contact_sheet(
    photos: Sequence[Photo], columns: dict[str, list[np.ndarray]], thumb: int = 160, max_rows: int | None = None
) -> Image.Image:
    """Rows: `photos` (the first `max_rows` of them), each named under its original; columns:
    original, then each method's output (`columns[name][r]` belongs to `photos[r]`). Labels are
    wrapped to their cell. Pick the rows with sample_rows to spread them over sub-folders."""
    photos = photos[:max_rows]  # max_rows: kept for callers that pass every photo and a count
    pad = SHEET_PAD
    font = ImageFont.load_default()
    line = font.getbbox("Agjy|")[3] + 2

    def wrap(text: str) -> list[str]:
        return wrap_label(text, thumb, font.getlength)

    headers = [wrap(name) for name in [ORIGINAL, *columns]]
    captions = [wrap(photo.name) for photo in photos]
    header_h = pad + line * max(map(len, headers)) + pad
    row_h = [thumb + pad + line * len(c) + pad for c in captions]
    sheet = Image.new("RGB", (len(headers) * (thumb + pad) + pad, header_h + sum(row_h)), "white")
    draw = ImageDraw.Draw(sheet)
    x = [pad + c * (thumb + pad) for c in range(len(headers))]
    for c, lines in enumerate(headers):
        _draw_lines(draw, (x[c], pad), lines, font, line)
    y = header_h
    for r, photo in enumerate(photos):
        cells = [photo.truth] + [columns[name][r] for name in columns]
        for c, img in enumerate(cells):
            sheet.paste(_fit(img, thumb), (x[c], y))
        _draw_lines(draw, (x[0], y + thumb + pad // 2), captions[r], font, line)
        y += row_h[r]
    return sheet


def write_outputs(report: Report, sheet: Image.Image, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "metrics.json", "markdown": out / "metrics.md", "sheet": out / "contact-sheet.png"}
    atomic_write_bytes(paths["json"], (report.to_json() + "\n").encode())
    atomic_write_bytes(paths["markdown"], markdown_table(report).encode())
    with atomic_path(paths["sheet"]) as tmp:
        sheet.save(tmp, format="PNG", optimize=True)
    return paths
