#!/usr/bin/env python3
"""Make docs/images/knobs.png: one photo at three render sizes and three strengths.

Runs the same code as colored-batch (batch.images.decode, batch.colorize.model_input /
merge, batch.session.infer) on a grey copy of a bundled sample photo, with the model
shipped in the package (or --model). Rows: render sizes; columns: strengths.

    python docs/images/make_knobs_figure.py                       # default model, sizes 128/256/512
    python docs/images/make_knobs_figure.py --sizes 160,256,384 --strengths 0.5,1,1.5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[2]
PHOTO = ROOT / "samples/archive/travels/pisa.jpg"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped one)")
    ap.add_argument("--photo", type=Path, default=PHOTO)
    ap.add_argument("--sizes", default="128,256,512")
    ap.add_argument("--strengths", default="0.5,1,1.5")
    ap.add_argument("--cell", type=int, default=240, help="cell width in pixels")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("knobs.png"))
    args = ap.parse_args(argv)

    from batch.colorize import merge, model_input
    from batch.images import decode
    from batch.session import infer, open_session

    session, contract = open_session(args.model, device="cpu")
    sizes = [int(s) for s in args.sizes.split(",")]
    strengths = [float(s) for s in args.strengths.split(",")]
    for size in sizes:
        why = contract.render_size_error(size)
        if why:
            raise SystemExit(f"--sizes {size}: {why}")
    decoded = decode(args.photo)
    h, w = decoded.pixels.shape[:2]
    cell_h = round(args.cell * h / w)
    font = ImageFont.load_default()
    head, side = 24, 110
    sheet = Image.new("RGB", (side + args.cell * len(strengths), head + cell_h * len(sizes)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, s in enumerate(strengths):
        draw.text((side + j * args.cell + 4, 6), f"strength {s:g}", fill="black", font=font)
    for i, size in enumerate(sizes):
        ab = infer(session, contract, model_input(decoded, size)[None])[0]
        draw.text((4, head + i * cell_h + cell_h // 2 - 6), f"render {size}", fill="black", font=font)
        for j, s in enumerate(strengths):
            rgb = merge(decoded, ab, s)
            if rgb.dtype != np.uint8:
                rgb = (rgb // 257).astype(np.uint8)
            tile = Image.fromarray(rgb).resize((args.cell, cell_h), Image.Resampling.LANCZOS)
            sheet.paste(tile, (side + j * args.cell, head + i * cell_h))
    sheet.save(args.out, optimize=True)
    print(f"{args.out}: {len(sizes)} render sizes x {len(strengths)} strengths of {args.photo.name} ({contract.model_id})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
