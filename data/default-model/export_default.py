#!/usr/bin/env python3
"""Ship the default model: choose its temperature on the run's validation photos, export it
as fp16 ONNX into colored/assets, evaluate it on the held-out test split and write
colored/assets/colored-default.json (recipe, data digests, metrics).

Steps:
  1. decode: the annealed-mean T and a chroma scale are swept on the run's *validation*
     photos (never the test split) through colored-batch's decode/merge path; the rule is in
     colored.evaluation.temperature (the candidate meeting the most acceptance checks: PSNR >= grey and
     >= its own tint's, AuC >= the tint's + 0.5, each of these three by at least one standard
     error of the per-photo differences; green/blue recall >= 30 %, colourfulness >= 25;
     then the most colourful).
     `--temperature 0.38 --scale 1` skips the sweep.
  2. export at `--size` (the network is fully convolutional; the unet's encoder sees the
     input at that size): fp16, verified against PyTorch by colored-export's check.
  3. colored-eval's measures on the test split (the corpus cache's files/test; for runs on
     folders of photos data/default-model/images/test): grey, the model's own constant tint,
     the best constant tint (fitted on the test photos themselves), the model, and any
     `--compare` models (e.g. the previous default).

Usage (train.sh runs it):
  python data/default-model/export_default.py RUNS/unet/best.pt --runs RUNS \
      --compare RUNS/previous-default.onnx
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "data/default-model"
ASSETS = ROOT / "colored/assets"
MODEL_NAME = "colored-default.onnx"
SHEET = ROOT / "docs/images/default-model-contact-sheet.png"
SHARED_PHOTOS = ROOT.parent / "shared/photos"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resized(model, size: int, temperature: float | None = None, scale: float | None = None):
    """The same weights in a network for input `size` (and another annealed-mean T / chroma scale)."""
    from colored.architectures import make_net

    changes = {"image_size": size}
    if temperature is not None:
        changes["temperature"] = temperature
    if scale is not None:
        changes["chroma_scale"] = scale
    config = dataclasses.replace(model.config, **changes)
    if config == model.config:
        return model
    net = make_net(config)
    net.load_state_dict(model.state_dict())
    return net.eval()


def portable(train_config: dict) -> dict:
    """The run's settings as the shipped model records them: no path of the machine it was trained
    on (the corpus cache and the checkpoint a fine-tune started from are named by their role)."""
    out = dict(train_config)
    if corpus_root(out) is not None:
        out["data"] = ["CACHE (python data/photos.py, see data_summary)"]
    if out.get("init_from"):
        out["init_from"] = "the first run's best.pt (data/default-model/train.sh, step 2)"
    return out


def corpus_root(train_config: dict) -> Path | None:
    """The corpus cache the run trained from (data/photos.py), or None for folders of photos."""
    from colored.corpus import is_corpus

    data = train_config.get("data") or []
    return Path(data[0]) if len(data) == 1 and is_corpus(data[0]) else None


def val_photos(ckpt: dict, size: int, limit: int | None):
    from colored.evaluation.evaluate import load_photo, load_photos

    corpus = corpus_root(ckpt.get("train_config") or {})
    if corpus is not None:  # the cache keeps its validation photos' files, one folder per source
        return load_photos(corpus / "files" / "val", size, limit)[0]
    photos = []
    for f in ckpt["val_files"]:
        photo = load_photo(Path(f), size)
        if photo is not None:
            photos.append(photo)
        if limit and len(photos) >= limit:
            break
    return photos


def corpus_summary(root: Path) -> dict:
    """What the model saw: per source, photos kept per split, sampling weight and licence."""
    record = json.loads((root / "corpus.json").read_text())
    return {
        "built_by": "python data/photos.py SNAPSHOT_DIR... --photos ../shared/photos --out CACHE",
        "manifest": record["manifest"],
        "size": record["size"], "seed": record["seed"],
        "test_share": record["test_share"], "val_share": record["val_share"],
        "kept": record["kept"], "split": record["split"],
        "sources": {name: {k: src[k] for k in ("weight", "licence", "listed", "kept", "split", "dropped")}
                    for name, src in record["sources"].items()},
    }


def data_summary(train_config: dict) -> dict:
    corpus = corpus_root(train_config)
    if corpus is not None:
        return {"corpus": corpus_summary(corpus)}
    rows = list(csv.DictReader(open(HERE / "sources.csv")))
    summary = {
        "folders": train_config.get("data"),
        "package_photos": {
            "sources_csv": "data/default-model/sources.csv",
            "sources_csv_sha256": sha256(HERE / "sources.csv"),
            "fetch": "python data/default-model/fetch.py",
            "train_images": sum(r["split"] == "train" for r in rows),
            "test_images_held_out": sum(r["split"] == "test" for r in rows),
            "licences": sorted({r["licence"] for r in rows}),
        },
    }
    sources = SHARED_PHOTOS / "SOURCES.csv"
    if sources.is_file():
        shared = list(csv.DictReader(open(sources)))
        per_set: dict[str, int] = {}
        for r in shared:
            per_set[r["set"]] = per_set.get(r["set"], 0) + 1
        summary["shared_photos"] = {
            "folder": "../shared/photos (beside the repository; never copied into it)",
            "sources_csv_sha256": sha256(sources),
            "photos": len(shared),
            "per_set": per_set,
            "note": "imagenet-sample photos carry ImageNet's research-only terms of access",
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, help="the run's best.pt (classification head)")
    ap.add_argument("--runs", type=Path, required=True, help="folder for the sweep, the evaluation and side exports")
    ap.add_argument("--compare", type=Path, action="append", default=[], help="another .onnx to score beside it")
    ap.add_argument("--size", type=int, default=256, help="exported input size")
    ap.add_argument("--eval-size", type=int, default=384, help="long side of the photos when scoring")
    ap.add_argument("--temperature", default="auto", help="'auto' (sweep T and scale on validation photos) or a number")
    ap.add_argument("--scale", type=float, default=1.0, help="chroma scale when --temperature is a number")
    ap.add_argument("--val-limit", type=int, default=None, help="sweep on at most N validation photos")
    ap.add_argument("--test", type=Path, default=None,
                    help="test photos (default: the corpus cache's files/test, one folder per source; for runs on "
                         "folders of photos data/default-model/images/test)")
    ap.add_argument("--temperatures", default="0.38,0.6", help="annealed-mean temperatures the sweep tries")
    ap.add_argument("--scales", default="1.0,0.9,0.8,0.7", help="chroma scales the sweep tries")
    args = ap.parse_args(argv)

    from colored.checkpoint import load_model, read_checkpoint
    from colored.evaluation.evaluate import (BEST_TINT, contact_sheet, evaluate, load_photos, markdown_table,
                                             onnx_colorizer, sample_rows, write_outputs)
    from colored.evaluation.temperature import sweep
    from export.onnx_export import export_model
    from export.verify import verify_onnx

    args.runs.mkdir(parents=True, exist_ok=True)
    model, ckpt = load_model(args.checkpoint)
    model = resized(model, args.size)
    sweep_record = None
    if args.temperature == "auto":
        photos = val_photos(ckpt, args.eval_size, args.val_limit)
        result = sweep(model, photos, args.size, progress=True,
                       temperatures=[float(t) for t in args.temperatures.split(",")],
                       scales=[float(x) for x in args.scales.split(",")])
        (args.runs / "temperature.md").write_text(result.markdown() + "\n")
        print(result.markdown(), file=sys.stderr)
        temperature, scale = result.temperature, result.scale
        sweep_record = {"validation_photos": len(photos), "eval_long_side": args.eval_size, "rule": result.rule,
                        "gray": {k: round(v, 4) for k, v in result.gray.items()},
                        "rows": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in result.rows]}
    else:
        temperature, scale = float(args.temperature), args.scale
    model = resized(model, args.size, temperature, scale)

    train_config = dict(ckpt.get("train_config") or {})
    last = args.checkpoint.parent / "last.pt"
    ran = read_checkpoint(last).get("epoch") if last.is_file() else ckpt.get("epoch")
    model_path = ASSETS / MODEL_NAME
    started = time.perf_counter()

    def step(what: str) -> None:  # the export's own steps, timed, as colored-export prints them
        print(f"[{time.perf_counter() - started:6.0f} s] {what}", file=sys.stderr, flush=True)

    contract = export_model(model, model_path, train_config=portable(train_config), fp16=True, progress=step)
    step("verify against PyTorch")
    parity = verify_onnx(model, model_path)
    step("verified")

    corpus = corpus_root(train_config)
    test_dir = args.test or (corpus / "files" / "test" if corpus is not None else HERE / "images/test")
    photos, skipped = load_photos(test_dir, args.eval_size)
    ours, _ = onnx_colorizer(model_path)
    colorizers = {"ours (default)": ours}
    for other in args.compare:
        colorizers[other.stem] = onnx_colorizer(other)[0]
    test_name = "the corpus test split (CACHE/files/test)" if args.test is None and corpus is not None else str(test_dir)
    keep = sample_rows(photos, 24, seed=0)
    report, outputs = evaluate(photos, colorizers, data=test_name, size=args.eval_size, keep=keep,
                               progress=True, tint_of="ours (default)", with_best_tint=True)
    shown = {name: out for name, out in outputs.items() if name != BEST_TINT}  # two tint columns would look alike
    sheet = contact_sheet([photos[i] for i in keep], shown, thumb=128, max_rows=len(keep))
    write_outputs(report, sheet, args.runs / "eval-test")
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(SHEET, optimize=True)
    table = markdown_table(report)

    keys = ("psnr", "ssim", "auc", "auc_chroma20", "colorfulness", "dcf", "green_recall", "blue_recall", "red_recall",
            "false_colour")
    record = {
        "file": f"colored/assets/{MODEL_NAME}",
        "sha256": sha256(model_path),
        "bytes": model_path.stat().st_size,
        "model_id": contract.model_id,
        "config_hash": contract.config_hash,
        "input_size": contract.input_size,
        "precision": contract.precision,
        # fp16 graph vs the fp32 PyTorch model, max |ab| over pixels, per check (export.verify)
        "onnx_vs_pytorch_max_abs_ab": {
            "tolerance": parity["tolerance"],
            **{f"{kind}": {str(k): round(v, 4) for k, v in parity[kind].items()}
               for kind in ("per_batch", "per_size", "per_temperature") if kind in parity},
        },
        "trained_image_size": train_config.get("image_size"),
        "temperature": temperature,
        "chroma_scale": scale,
        "decode_sweep": sweep_record,
        "model_config": contract.model_config,
        "train_config": {k: v for k, v in portable(train_config).items() if k != "out"},
        "epochs_trained": ran,
        "best_epoch": ckpt.get("epoch"),
        "best_val_loss": ckpt.get("best_val_loss"),
        "reproduce": "bash data/default-model/train.sh",
        "data": data_summary(train_config),
        "test_metrics": {
            "images": len(photos), "eval_long_side": args.eval_size,
            "truth_colorfulness": round(report.truth_colorfulness, 4),
            "tint": report.tint,
            "methods": {m.name: {**{k: round(getattr(m, k), 4) for k in keys},
                                 "se": {k: round(v, 4) for k, v in m.se.items()}} for m in report.methods},
            "leads": report.differences,
            "per_source": {g: {"images": len(gr.images),
                               "methods": {m.name: {k: round(getattr(m, k), 4) for k in keys} for m in gr.methods},
                               "leads": gr.differences}
                           for g, gr in report.groups.items()},
        },
    }
    (ASSETS / "colored-default.json").write_text(json.dumps(record, indent=2) + "\n")
    print(table)
    print(f"model {model_path} ({record['bytes'] / 1e6:.1f} MB, T={temperature:g}, parity {parity['max_abs_ab_diff']:.3f}); "
          f"sheet {SHEET}; skipped {skipped}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
