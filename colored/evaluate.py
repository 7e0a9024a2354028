"""Evaluate colorization models on colour photos: metrics table, JSON and a contact sheet.

For every colour photo the evaluation
  1. decodes it with the runtime's decoder (EXIF orientation applied) and shrinks it so its
     long side is at most ``size`` (never enlarged), as 8-bit sRGB: the ground truth;
  2. makes it grey through CIE L* (an 8-bit grey image, what an archive scan gives);
  3. colorizes that grey image with each ONNX model through the *same code path as
     colored-batch* (batch.session.open_session/infer, batch.colorize.model_input/merge);
  4. scores the result against the truth with colored.metrics.

Methods always include the gray baseline (the grey image itself, ab = 0). Set-level
numbers: PSNR, SSIM and AuC are per-image values averaged over the set; colorfulness is
the mean Hasler-Suesstrunk colorfulness of the outputs, and dCF = |mean CF(outputs) -
mean CF(truths)|. numpy/onnxruntime only; no torch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from colored import metrics
from colored.color import lightness_to_gray, rgb_to_lab, rgb_to_lightness

Colorizer = Callable[[np.ndarray], np.ndarray]  # HxW uint8 grey -> HxWx3 uint8 RGB

GRAY = "gray (ab=0)"
ORIGINAL = "original"


class EvalError(ValueError):
    """The data or a model cannot be evaluated; the message says why."""


@dataclass
class Photo:
    name: str
    truth: np.ndarray  # HxWx3 uint8 RGB at evaluation size
    gray: np.ndarray  # HxW uint8, the same CIE lightness as the truth


@dataclass
class MethodScore:
    name: str
    psnr: float
    ssim: float
    auc: float
    colorfulness: float
    dcf: float
    per_image: list[dict] = field(default_factory=list)


@dataclass
class Report:
    data: str
    size: int
    images: list[str]
    truth_colorfulness: float
    methods: list[MethodScore]
    models: dict[str, dict] = field(default_factory=dict)  # method name -> model file and contract facts

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


def load_photos(data: str | Path, size: int, limit: int | None = None) -> tuple[list[Photo], list[str]]:
    """Colour photos of `data` at evaluation size, and the names skipped (grey or unreadable)."""
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
    if not photos:
        raise EvalError(f"{data}: no colour photos to evaluate ({len(skipped)} skipped)")
    return photos, skipped


# ------------------------------------------------------------------ colorizers


def onnx_colorizer(model_path: str | Path | None, threads: int | None = None) -> tuple[Colorizer, dict]:
    """A colorizer running an exported model exactly as colored-batch does, and facts about it."""
    from batch.colorize import merge, model_input
    from batch.images import DecodedImage
    from batch.session import infer, open_session

    session, contract = open_session(model_path, device="cpu", threads=threads)

    def colorize(gray_u8: np.ndarray) -> np.ndarray:
        decoded = DecodedImage(
            path=Path("<eval>"), pixels=gray_u8, alpha=None, bit_depth=8, format="PNG",
            exif=None, icc_profile=None, xmp=None, is_color=False,
        )
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


# ------------------------------------------------------------------ scoring


def _ab(rgb_u8: np.ndarray) -> np.ndarray:
    return rgb_to_lab(rgb_u8.astype(np.float64) / 255.0)[..., 1:]


def score(name: str, photos: Sequence[Photo], outputs: Sequence[np.ndarray]) -> MethodScore:
    per_image = []
    for photo, out in zip(photos, outputs):
        per_image.append({
            "image": photo.name,
            "psnr": metrics.psnr(out, photo.truth),
            "ssim": metrics.ssim(out, photo.truth),
            "auc": metrics.auc(_ab(out), _ab(photo.truth)),
            "colorfulness": metrics.colorfulness(out),
        })
    mean = lambda key: float(np.mean([r[key] for r in per_image]))  # noqa: E731
    return MethodScore(
        name=name, psnr=mean("psnr"), ssim=mean("ssim"), auc=mean("auc"), colorfulness=mean("colorfulness"),
        dcf=metrics.delta_colorfulness(outputs, [p.truth for p in photos]), per_image=per_image,
    )


def evaluate(
    photos: Sequence[Photo], colorizers: dict[str, Colorizer], data: str = "", size: int = 0,
    progress: Callable[[str], None] | None = None,
) -> tuple[Report, dict[str, list[np.ndarray]]]:
    """Score the gray baseline and every colorizer on `photos`; returns the report and the outputs."""
    methods = {GRAY: gray_colorizer, **colorizers}
    outputs: dict[str, list[np.ndarray]] = {}
    scores = []
    for name, fn in methods.items():
        if progress:
            progress(name)
        outputs[name] = [fn(p.gray) for p in photos]
        scores.append(score(name, photos, outputs[name]))
    report = Report(
        data=str(data), size=size, images=[p.name for p in photos],
        truth_colorfulness=float(np.mean([metrics.colorfulness(p.truth) for p in photos])), methods=scores,
    )
    return report, outputs


# ------------------------------------------------------------------ presentation


def markdown_table(report: Report) -> str:
    lines = [
        f"{len(report.images)} colour photos from `{report.data}`, long side <= {report.size} px.",
        "",
        "| method | PSNR (dB) ↑ | SSIM ↑ | AuC (%) ↑ | colorfulness | dCF ↓ |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| {ORIGINAL} (ground truth) | | | | {report.truth_colorfulness:.1f} | 0.0 |",
    ]
    for m in report.methods:
        psnr = "inf" if math.isinf(m.psnr) else f"{m.psnr:.2f}"
        lines.append(f"| {m.name} | {psnr} | {m.ssim:.4f} | {m.auc:.2f} | {m.colorfulness:.1f} | {m.dcf:.1f} |")
    return "\n".join(lines) + "\n"


def _fit(img: np.ndarray, box: int) -> Image.Image:
    im = Image.fromarray(img)
    im.thumbnail((box, box), Image.Resampling.LANCZOS)
    cell = Image.new("RGB", (box, box), (255, 255, 255))
    cell.paste(im.convert("RGB"), ((box - im.width) // 2, (box - im.height) // 2))
    return cell


def contact_sheet(
    photos: Sequence[Photo], columns: dict[str, list[np.ndarray]], thumb: int = 160, max_rows: int | None = None
) -> Image.Image:
    """Rows: photos; columns: original, then each method's output (first the gray baseline)."""
    rows = list(range(len(photos)))[: max_rows or None]
    names = [ORIGINAL, *columns]
    pad, header = 4, 22
    sheet = Image.new("RGB", (len(names) * (thumb + pad) + pad, header + len(rows) * (thumb + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for c, name in enumerate(names):
        draw.text((pad + c * (thumb + pad) + 2, 5), name[: thumb // 6], fill="black", font=font)
    for r, i in enumerate(rows):
        cells = [photos[i].truth] + [columns[n][i] for n in columns]
        for c, img in enumerate(cells):
            sheet.paste(_fit(img, thumb), (pad + c * (thumb + pad), header + pad + r * (thumb + pad)))
    return sheet


def write_outputs(report: Report, sheet: Image.Image, out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "metrics.json", "markdown": out / "metrics.md", "sheet": out / "contact-sheet.png"}
    paths["json"].write_text(report.to_json() + "\n")
    paths["markdown"].write_text(markdown_table(report))
    sheet.save(paths["sheet"], optimize=True)
    return paths
