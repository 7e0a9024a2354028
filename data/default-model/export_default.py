#!/usr/bin/env python3
"""Ship the default model: export the vivid checkpoint as fp16 ONNX into colored/assets,
export the MSE baseline next to the runs, evaluate both on the held-out test split and
write colored/assets/colored-default.json (recipe, data list digest, metrics).

The network is fully convolutional (the fusion backbone always sees its own fixed
`backbone_size`), so a model trained at 128 px can be exported for another input size
with the same weights: `--size` (default 256: ab at 256x256 is upsampled to the scan,
so the runtime gets finer colour edges than at 128; see docs/default-model.md for the
comparison on the validation images that chose it).

Usage (train.sh runs it):
  python data/default-model/export_default.py RUNS/vivid/best.pt --mse RUNS/mse/best.pt --runs RUNS
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "data/default-model"
ASSETS = ROOT / "colored/assets"
MODEL_NAME = "colored-default.onnx"
SHEET = ROOT / "docs/images/default-model-contact-sheet.png"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export(checkpoint: Path, out: Path, size: int):
    """Export `checkpoint` (fp16) with input size `size`; returns (contract, checkpoint dict)."""
    from colored.checkpoint import load_model, read_checkpoint
    from colored.model import make_net
    from export.onnx_export import export_model

    model, ckpt = load_model(checkpoint)
    if model.config.image_size != size:
        config = dataclasses.replace(model.config, image_size=size)
        resized = make_net(config)
        resized.load_state_dict(model.state_dict())
        model = resized.eval()
    train_config = dict(ckpt.get("train_config") or {})
    last = checkpoint.parent / "last.pt"
    ran = read_checkpoint(last).get("epoch") if last.is_file() else ckpt.get("epoch")
    if ran is not None and train_config.get("epochs") != ran:
        # A run stopped after E epochs equals a run with --epochs E: the LR schedule is
        # plateau-based and every epoch is seeded from (seed, epoch). Record what was trained.
        train_config["epochs"] = ran
    ckpt["train_config"] = train_config
    contract = export_model(model, out, train_config=train_config, fp16=True)
    return contract, ckpt


def data_summary() -> dict:
    rows = list(csv.DictReader(open(HERE / "sources.csv")))
    return {
        "sources_csv": "data/default-model/sources.csv",
        "sources_csv_sha256": sha256(HERE / "sources.csv"),
        "fetch": "python data/default-model/fetch.py",
        "train_images": sum(r["split"] == "train" for r in rows),
        "test_images": sum(r["split"] == "test" for r in rows),
        "source_photos": len({r["source_sha256"] for r in rows}),
        "licences": sorted({r["licence"] for r in rows}),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", type=Path, help="vivid (classification) run's checkpoint")
    ap.add_argument("--mse", type=Path, required=True, help="MSE baseline run's checkpoint (same budget)")
    ap.add_argument("--runs", type=Path, required=True, help="run folder: the MSE export and eval go here")
    ap.add_argument("--size", type=int, default=256, help="exported input size (multiple of 8)")
    ap.add_argument("--eval-size", type=int, default=384, help="long side of the test photos when scoring")
    args = ap.parse_args(argv)

    from colored.evaluate import contact_sheet, evaluate, load_photos, markdown_table, onnx_colorizer, write_outputs

    model_path = ASSETS / MODEL_NAME
    contract, ckpt = export(args.checkpoint, model_path, args.size)
    mse_path = args.runs / "mse-fp16.onnx"
    mse_contract, mse_ckpt = export(args.mse, mse_path, args.size)

    photos, skipped = load_photos(HERE / "images/test", args.eval_size)
    ours, _ = onnx_colorizer(model_path)
    mse, _ = onnx_colorizer(mse_path)
    report, outputs = evaluate(photos, {"ours (vivid)": ours, "MSE baseline": mse},
                               data="data/default-model/images/test", size=args.eval_size)
    sheet = contact_sheet(photos, outputs, thumb=128, max_rows=len(photos))
    write_outputs(report, sheet, args.runs / "eval-test")
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(SHEET, optimize=True)
    table = markdown_table(report)
    (args.runs / "eval-test/metrics.md").write_text(table)

    def summary(m) -> dict:
        return {k: round(getattr(m, k), 4) for k in ("psnr", "ssim", "auc", "colorfulness", "dcf")}

    tc = ckpt.get("train_config") or {}
    record = {
        "file": f"colored/assets/{MODEL_NAME}",
        "sha256": sha256(model_path),
        "bytes": model_path.stat().st_size,
        "model_id": contract.model_id,
        "config_hash": contract.config_hash,
        "input_size": contract.input_size,
        "precision": contract.precision,
        "trained_image_size": tc.get("image_size"),
        "model_config": contract.model_config,
        "train_config": {k: v for k, v in tc.items() if k not in ("out",)},
        "epochs_trained": tc.get("epochs"),
        "best_epoch": ckpt.get("epoch"),
        "best_val_loss": ckpt.get("best_val_loss"),
        "reproduce": "bash data/default-model/train.sh",
        "train_command": (
            "colored-train data/default-model/images/train --out runs/default-model/vivid --loss classification "
            f"--backbone {tc.get('backbone')} --no-pretrained --backbone-size {tc.get('backbone_size')} "
            f"--image-size {tc.get('image_size')} --batch-size {tc.get('batch_size')} --epochs {tc.get('epochs')} "
            f"--steps-per-epoch {tc.get('steps_per_epoch')} --lr {tc.get('lr')} --seed {tc.get('seed')} "
            f"--val-fraction {tc.get('val_fraction')} --cache-images"
        ),
        "export_command": f"python data/default-model/export_default.py RUNS/vivid/best.pt --mse RUNS/mse/best.pt "
                          f"--runs RUNS --size {args.size}",
        "data": data_summary(),
        "mse_baseline": {"model_id": mse_contract.model_id, "epochs_trained": mse_ckpt["train_config"].get("epochs"),
                         "best_epoch": mse_ckpt.get("epoch"),
                         "same_budget": True},
        "test_metrics": {
            "images": len(photos), "eval_long_side": args.eval_size,
            "truth_colorfulness": round(report.truth_colorfulness, 4),
            "methods": {m.name: summary(m) for m in report.methods},
        },
    }
    (ASSETS / "colored-default.json").write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    print(table)
    print(f"model {model_path} ({record['bytes'] / 1e6:.1f} MB), sheet {SHEET}; skipped {skipped}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
