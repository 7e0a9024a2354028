"""The training loop behind `colored-train`.

One run = one folder (RUN): best.pt / last.pt checkpoints (colored.checkpoint format,
carrying model config, optimizer, scheduler, epoch, history, train config, the split and
the classification prior), metrics.csv, curves.png, split.json and previews/.
Everything needed to continue is in last.pt, and each epoch is seeded from (seed, epoch),
so ``--resume`` continues with the same data order and augmentation as an uninterrupted run.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, WeightedRandomSampler

from colored import bins, metrics
from colored.atomic import atomic_path, atomic_write_bytes, unwritable_folder
from colored.checkpoint import read_checkpoint, save_checkpoint
from colored.color import lab_to_rgb
from colored.data import (
    CROP_MIN_AREA,
    BadFileReporter,
    ColorizationDataset,
    CorpusDataset,
    DataError,
    collate_skip_bad,
    find_images,
    split_files,
    write_split,
)
from colored.losses import ClassificationLoss, mse
from colored.architectures import build_model, make_net
from colored.model import FusionNet, ModelConfig
from colored.preview import save_preview

LOSSES = ("mse", "classification")
SCHEDULES = ("plateau", "cosine")
METRIC_COLUMNS = (
    "epoch",
    "train_loss",
    "val_loss",
    "val_psnr",
    "val_gray_psnr",
    "val_colorfulness",
    "val_true_colorfulness",
    "val_dcf",
    "val_auc",
    "lr",
    "view_size",
    "seconds",
)
OVERFIT_SIZE = 64
OVERFIT_STEPS = 50
NUM_PREVIEWS = 4
PRIOR_IMAGES = 1000  # images sampled for the classification prior
PRIOR_PIXELS_PER_IMAGE = 4096  # a strided subsample per image keeps the prior pass quick


class TrainError(RuntimeError):
    """A training run cannot start or continue; the message says why and what to do."""


@dataclass
class TrainConfig:
    data: list[str] | str  # one or more folders of colour photos; a single str is one folder
    out: str
    loss: str = "classification"
    arch: str = "seed"
    epochs: int = 200
    batch_size: int = 16
    lr: float = 1e-3
    image_size: int = 256
    val_fraction: float = 0.1
    backbone: str = "inception_resnet_v2"
    backbone_size: int = 299
    backbone_weights: str | None = None
    pretrained: bool = True
    train_backbone: bool | None = None  # None: frozen when pretrained, trained when random-init
    workers: int = 0
    seed: int = 0
    device: str = "auto"
    preview_every: int = 1
    max_train_images: int | None = None
    steps_per_epoch: int | None = None
    cache_images: bool = False
    overfit_one: bool = False
    crop_from: int | None = None  # keep photos at this short side and train on random crops
    rebalance_lambda: float = 0.5
    aux_weight: float = 0.0
    temperature: float = 0.38
    weight_decay: float = 0.0
    fusion_dropout: float = 0.0
    fusion_init: str = "zero"  # unet: the fusion conv's class columns start at zero or random (PyTorch default)
    ema: float = 0.0  # decay of an exponential moving average of the weights per step; 0: off
    crop_min_area: float = CROP_MIN_AREA  # crop mode: smallest random crop, as a share of the photo's area
    tone_jitter: float = 0.0  # probability of a random tone curve on a training view's L (blur, grain: half of it)
    source_weights: dict[str, float] | None = None  # corpus: a source's share of the training views (overrides the record's)
    schedule: str = "plateau"  # plateau: lr x0.2 after 5 epochs without a better val loss; cosine: per step to lr/100
    low_res_epochs: int = 0  # the first N epochs train on views of low_res_size (more photos per second)
    low_res_size: int = 128
    init_from: str | None = None  # a checkpoint whose (averaged) weights a new run starts from: fine-tuning
    train_stages: int = 0  # unet: fine-tune the backbone's last N stages (and its head); BatchNorm statistics stay
    backbone_lr_scale: float = 0.1  # the learning rate of those trained backbone weights, as a share of lr

    def __post_init__(self) -> None:
        self.data = [self.data] if isinstance(self.data, str) else [str(d) for d in self.data]
        if not self.data:
            raise TrainError("no data folder given")
        from colored.model import ARCHS

        if self.arch not in ARCHS:
            raise TrainError(f"--arch must be one of {ARCHS}, got {self.arch!r}")
        if self.arch == "unet" and self.image_size % 32:
            raise TrainError(f"--arch unet needs an --image-size that is a multiple of 32, got {self.image_size}")
        if self.crop_from is not None and self.crop_from < self.image_size:
            raise TrainError(f"--crop-from {self.crop_from} must be at least --image-size {self.image_size}")
        if self.fusion_init not in ("zero", "random"):
            raise TrainError(f"--fusion-init must be zero or random, got {self.fusion_init!r}")
        if not 0.0 <= self.ema < 1.0:
            raise TrainError(f"--ema must be in [0, 1), got {self.ema}")
        if not 0.0 < self.crop_min_area <= 1.0:
            raise TrainError(f"--crop-min-area must be in (0, 1], got {self.crop_min_area}")
        if not 0.0 <= self.tone_jitter <= 1.0:
            raise TrainError(f"--tone-jitter must be in [0, 1], got {self.tone_jitter}")
        if not 0.0 <= self.rebalance_lambda <= 1.0:
            raise TrainError(f"--rebalance-lambda must be in [0, 1], got {self.rebalance_lambda}")
        if self.loss not in LOSSES:
            raise TrainError(f"--loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("epochs", "batch_size", "image_size", "backbone_size"):
            if getattr(self, name) < 1:
                raise TrainError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.image_size % 8:
            raise TrainError(f"--image-size must be a multiple of 8, got {self.image_size}")
        if self.schedule not in SCHEDULES:
            raise TrainError(f"--schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.low_res_epochs < 0:
            raise TrainError(f"--low-res-epochs must be >= 0, got {self.low_res_epochs}")
        if self.low_res_epochs and (self.low_res_size % (32 if self.arch == "unet" else 8) or self.low_res_size < 32):
            raise TrainError(f"--low-res-size must be a multiple of {32 if self.arch == 'unet' else 8} "
                             f"(at least 32), got {self.low_res_size}")

        if self.train_stages < 0:
            raise TrainError(f"--train-stages must be >= 0, got {self.train_stages}")
        if self.train_stages and (self.arch != "unet" or self.train_backbone):
            raise TrainError("--train-stages fine-tunes part of the encoder of --arch unet; it excludes --train-backbone")
        if not 0.0 < self.backbone_lr_scale <= 1.0:
            raise TrainError(f"--backbone-lr-scale must be in (0, 1], got {self.backbone_lr_scale}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present; asking for CUDA without it is an error, never a silent CPU fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        built = torch.version.cuda or "none (CPU-only build)"
        raise TrainError(f"--device cuda: no usable CUDA device (torch {torch.__version__}, CUDA build: {built}); use --device cpu")
    if name not in ("cpu", "cuda"):
        raise TrainError(f"--device must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)


def _seed_worker(worker_id: int) -> None:
    """DataLoader worker init: each worker's augmentation stream derives from the epoch's seed."""
    info = torch.utils.data.get_worker_info()
    info.dataset.reseed(torch.initial_seed())


def _loader(ds: ColorizationDataset, cfg: TrainConfig, epoch_seed: int | None, device: torch.device,
            num_samples: int | None = None, weights: np.ndarray | None = None) -> DataLoader:
    sampler = None
    if epoch_seed is not None:
        g = torch.Generator().manual_seed(epoch_seed)
        if weights is not None:  # per-source shares: photos drawn with replacement
            sampler = WeightedRandomSampler(torch.as_tensor(weights), num_samples or len(ds), replacement=True, generator=g)
        else:
            sampler = RandomSampler(ds, num_samples=num_samples, generator=g)
        ds.reseed(epoch_seed)  # used when workers == 0
    return DataLoader(
        ds,
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=cfg.workers,
        collate_fn=collate_skip_bad,
        worker_init_fn=_seed_worker if cfg.workers else None,
        generator=torch.Generator().manual_seed(epoch_seed) if epoch_seed is not None else None,
        pin_memory=device.type == "cuda",
    )


def compute_prior(ds: ColorizationDataset, seed: int, progress: bool = False, weights: np.ndarray | None = None,
                  report_bad: BadFileReporter | None = None) -> np.ndarray:
    """Smoothed empirical ab distribution over the bins, from a pixel subsample of (up to
    PRIOR_IMAGES) un-augmented training images; drawn with ``weights`` when the training views
    are (a corpus's source shares), so the rebalancing sees the colours training does."""
    from tqdm import tqdm

    rng = np.random.default_rng(seed)
    if weights is not None:
        order = rng.choice(len(ds), size=min(PRIOR_IMAGES, len(ds)), replace=False, p=weights / weights.sum())
    else:
        order = rng.permutation(len(ds))[:PRIOR_IMAGES]
    hist = np.zeros((bins.HIST_SIZE, bins.HIST_SIZE), np.int64)
    for i in tqdm(order, desc="colour prior", unit="img", disable=not progress, leave=False):
        sample = ds[int(i)]
        if not sample.ok:
            if report_bad is not None:  # named here too: with only bad files, training never starts
                report_bad([(sample.path, sample.error)])
            continue
        ab = sample.ab.numpy().reshape(2, -1).T
        step = max(1, len(ab) // PRIOR_PIXELS_PER_IMAGE)
        hist += bins.ab_histogram(ab[rng.integers(step) :: step])
    if hist.sum() == 0:
        raise TrainError(f"cannot compute the colour prior: none of the {len(order)} training images tried could be "
                         "read (each one is named above with its reason)")
    return bins.prior_from_histogram(hist)


def _to_u8(rgb: torch.Tensor) -> list[np.ndarray]:
    """(N,3,H,W) [0,1] -> list of (H,W,3) uint8."""
    return [metrics.rgb_float_to_u8(x) for x in rgb.permute(0, 2, 3, 1).cpu().numpy()]


def colorize(L: torch.Tensor, ab: torch.Tensor) -> list[np.ndarray]:
    return _to_u8(lab_to_rgb(torch.cat([L, ab], dim=1), channel_axis=1))


@torch.no_grad()
def evaluate(model: FusionNet, loader: DataLoader, loss_fn, device: torch.device) -> dict[str, float]:
    """Validation loss and the project's metrics (PSNR, gray-baseline PSNR, colorfulness, dCF, AuC)."""
    model.eval()
    total, n = 0.0, 0
    psnr, psnr_gray, cf_pred, cf_true, aucs = [], [], [], [], []
    for batch in loader:
        if not len(batch):
            continue
        L, ab = batch.L.to(device), batch.ab.to(device)
        out = model(L)
        total += float(loss_fn(out, ab)) * len(batch)
        n += len(batch)
        pred_ab = model.output_to_ab(out)
        preds, truths, grays = colorize(L, pred_ab), colorize(L, ab), colorize(L, torch.zeros_like(ab))
        psnr += [metrics.psnr(p, t) for p, t in zip(preds, truths)]
        psnr_gray += [metrics.psnr(g, t) for g, t in zip(grays, truths)]
        cf_pred += [metrics.colorfulness(p) for p in preds]
        cf_true += [metrics.colorfulness(t) for t in truths]
        aucs += [metrics.auc(p, t, channel_axis=0) for p, t in zip(pred_ab.cpu().numpy(), ab.cpu().numpy())]
    if not n:
        return {}
    return {
        "val_loss": total / n,
        "val_psnr": float(np.mean(psnr)),
        "val_gray_psnr": float(np.mean(psnr_gray)),
        "val_colorfulness": float(np.mean(cf_pred)),
        "val_true_colorfulness": float(np.mean(cf_true)),
        "val_dcf": abs(float(np.mean(cf_pred)) - float(np.mean(cf_true))),
        "val_auc": float(np.mean(aucs)),
    }


def write_metrics_csv(path: Path, history: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_bytes(path, buf.getvalue().encode())


def plot_curves(path: Path, history: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [r["train_loss"] for r in history], label="train loss")
    if any("val_loss" in r for r in history):
        ax1.plot(epochs, [r.get("val_loss", math.nan) for r in history], label="val loss")
    ax1.set_xlabel("epoch")
    ax1.set_yscale("log")
    ax1.legend()
    if any("val_psnr" in r for r in history):
        ax2.plot(epochs, [r.get("val_psnr", math.nan) for r in history], label="val PSNR (dB)")
        ax2.plot(epochs, [r.get("val_gray_psnr", math.nan) for r in history], "--", label="gray baseline PSNR")
        ax2.set_xlabel("epoch")
        ax2.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)


def _preview(path: Path, model: FusionNet, ds: ColorizationDataset, device: torch.device) -> None:
    samples = [s for s in (ds[i] for i in range(min(NUM_PREVIEWS, len(ds)))) if s.ok]
    if not samples:
        return
    L = torch.stack([s.L for s in samples]).to(device)
    ab = torch.stack([s.ab for s in samples]).to(device)
    model.eval()
    with torch.no_grad():
        pred = model.predict_ab(L)
    rows = zip(colorize(L, ab), colorize(L, torch.zeros_like(ab)), colorize(L, pred))
    save_preview(path, [list(r) for r in rows])


def _select_files(cfg: TrainConfig) -> tuple[list[str], list[str]]:
    if _corpus_path(cfg):
        from colored.corpus import open_corpus

        corpus = open_corpus(cfg.data[0])
        train = [r["name"] for r in corpus.split("train")]
        val = [r["name"] for r in corpus.split("val")]  # the test split is never read by training
        if cfg.max_train_images is not None and len(train) > cfg.max_train_images:
            keep = np.sort(np.random.default_rng(cfg.seed + 1).permutation(len(train))[: cfg.max_train_images])
            train = [train[i] for i in keep]
        write_split(Path(cfg.out) / "split.json", Path(cfg.data[0]), train, val, cfg.seed)
        return train, val
    if cfg.overfit_one:
        path = Path(cfg.data[0])
        if len(cfg.data) > 1 or not path.is_file():
            raise DataError(f"{' '.join(cfg.data)}: --overfit-one needs one image file")
        return [str(path)], [str(path)]
    files = [f for root in cfg.data for f in find_images(root)]
    train, val = split_files(files, cfg.val_fraction, cfg.seed)
    if cfg.max_train_images is not None and len(train) > cfg.max_train_images:
        keep = np.sort(np.random.default_rng(cfg.seed + 1).permutation(len(train))[: cfg.max_train_images])
        train = [train[i] for i in keep]
    write_split(Path(cfg.out) / "split.json", [Path(d) for d in cfg.data], train, val, cfg.seed)
    return [str(p) for p in train], [str(p) for p in val]


def _corpus_path(cfg: TrainConfig) -> bool:
    """True when DATA is one corpus cache (data/photos.py) rather than folders of photos."""
    from colored.corpus import is_corpus

    if not any(is_corpus(d) for d in cfg.data):
        return False
    if len(cfg.data) > 1 or cfg.overfit_one:
        raise DataError(f"{' '.join(cfg.data)}: a corpus cache is the only DATA of a run (and not for --overfit-one)")
    return True


def _new_model(cfg: TrainConfig) -> FusionNet:
    pretrained = cfg.pretrained or cfg.backbone_weights is not None
    train_backbone = (not pretrained) if cfg.train_backbone is None else cfg.train_backbone
    if cfg.train_stages:
        train_backbone = False  # frozen as a whole (BatchNorm in eval mode); param_groups unfreezes the stages
    config = ModelConfig(
        image_size=cfg.image_size,
        arch=cfg.arch,
        backbone=cfg.backbone,
        # the unet's backbone is its encoder: it sees the input at the model's own size
        backbone_size=cfg.image_size if cfg.arch == "unet" else cfg.backbone_size,
        temperature=cfg.temperature,
        fusion_dropout=cfg.fusion_dropout,
        train_backbone=train_backbone,
        head="regression" if cfg.loss == "mse" else "classification",
    )
    torch.manual_seed(cfg.seed)  # same seed, same initial weights
    model = build_model(config, pretrained=cfg.pretrained, weights_file=cfg.backbone_weights)
    if config.head == "classification":
        model.set_bins(torch.tensor(bins.bin_centers(), dtype=torch.float32))
    if cfg.arch == "unet" and cfg.fusion_init == "zero":
        model.zero_class_columns()  # no random numbers drawn: "random" keeps PyTorch's init
    return model


def load_initial_weights(model: FusionNet, path: str) -> None:
    """--init-from: put a checkpoint's weights (the averaged ones when it has them, as best.pt and
    export do) into a new run's model, which must have the same architecture. Optimiser, schedule,
    epochs and split are the new run's own."""
    ckpt = read_checkpoint(path)
    theirs = ModelConfig.from_dict(ckpt["model_config"])
    mine = model.config
    differ = [f"{k} {getattr(mine, k)} (the checkpoint's: {getattr(theirs, k)})"
              for k in ("arch", "backbone", "head") if getattr(mine, k) != getattr(theirs, k)]
    if differ:
        raise TrainError(f"{path}: --init-from needs a checkpoint of the same network; these differ: {'; '.join(differ)}")
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:  # shapes or names that do not fit: one line, not torch's list
        raise TrainError(f"{path}: --init-from: its weights do not fit this network ({str(e).splitlines()[0]})") from None


def unfreeze_last_stages(model: FusionNet, stages: int) -> list[torch.nn.Parameter]:
    """--train-stages: make the weights of the unet backbone's last ``stages`` stages, and of the
    head above them (conv_head, bn2, classifier: the 1000-way class vector the fusion conv reads),
    trainable again; returns them. Their BatchNorm layers keep ImageNet's statistics, as the frozen
    backbone's do (FusionNet.train keeps the backbone in eval mode): batches of 16 are too
    small to estimate new ones. The earlier stages stay frozen, so the low-level features that
    little data would wash out are kept, and backward stops below the trained stages."""
    b = model.backbone
    if stages > len(b.blocks):
        raise TrainError(f"--train-stages {stages}: backbone {model.config.backbone!r} has only {len(b.blocks)} stages")
    parts = [*list(b.blocks)[len(b.blocks) - stages:], b.conv_head, b.bn2, b.classifier]
    params = [p for part in parts for p in part.parameters()]
    for p in params:
        p.requires_grad_(True)
    return params


def param_groups(model: FusionNet, cfg: TrainConfig) -> list[dict]:
    """The optimiser's parameter groups: the trainable weights at --lr, and with --train-stages the
    backbone's unfrozen weights at --lr x --backbone-lr-scale (pretrained features move slowly)."""
    if not cfg.train_stages:
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]
    backbone = unfreeze_last_stages(model, cfg.train_stages)
    ids = {id(p) for p in backbone}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    return [{"params": rest},
            {"params": backbone, "lr": cfg.lr * cfg.backbone_lr_scale, "lr_scale": cfg.backbone_lr_scale}]


def averaged_model(model: FusionNet, decay: float) -> torch.optim.swa_utils.AveragedModel:
    """An exponential moving average of ``model``'s weights and BatchNorm statistics, updated
    after every optimiser step. With ~1,000 photos the weights after any one step scatter
    (validation PSNR moved by 0.6 dB from one epoch to the next); their average does not.

    The decay warms up as min(decay, (1 + n) / (10 + n)) after n updates (as timm's ModelEma),
    so the average is not held for thousands of steps by the untrained first weights."""
    from torch.optim.swa_utils import AveragedModel

    @torch.no_grad()
    def ema_update(averaged: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor) -> None:
        d = min(decay, (1.0 + float(n)) / (10.0 + float(n)))
        if averaged[0].is_floating_point():
            torch._foreach_lerp_(averaged, current, 1.0 - d)
        else:  # BatchNorm's step counters: copied, not averaged
            torch._foreach_copy_(averaged, current)

    return AveragedModel(model, multi_avg_fn=ema_update, use_buffers=True)


def _log(msg: str, progress: bool) -> None:
    if progress:
        from tqdm import tqdm

        tqdm.write(msg)


# What a resumed run may change (the length of the run and where it runs); every other setting is
# the saved run's, and asking for another one on resume is refused instead of silently ignored.
RESUME_MAY_CHANGE = frozenset({"epochs", "device", "workers", "out", "data"})
RUN_FILES = ("best.pt", "last.pt", "metrics.csv", "curves.png", "split.json")  # what --overwrite replaces


def check_run_folder(cfg: TrainConfig, resume: bool, overwrite: bool) -> None:
    """Refuse, before any work, a run folder that cannot be written, lies inside the data (the next run
    would train on this one's previews) or holds a run that starting afresh would overwrite."""
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise TrainError(f"{out}: exists and is not a folder; --out names the run folder")
    problem = unwritable_folder(out)
    if problem:
        raise TrainError(f"{out}: cannot write the run folder: {problem}")
    for d in cfg.data:
        if Path(d).is_dir() and out.resolve().is_relative_to(Path(d).resolve()):
            raise TrainError(f"{out}: the run folder is inside the data folder {d} (its previews would be read as "
                             "training photos); choose a run folder outside the data")
    held = [n for n in ("last.pt", "best.pt") if (out / n).exists()]
    if held and not resume and not overwrite:
        raise TrainError(f"{out}: already holds a training run ({', '.join(held)}); continue it with --resume, "
                         "or start over with --overwrite (replaces its checkpoints, metrics and previews)")


def clear_run(out: Path) -> None:
    """--overwrite: remove the old run's own files (only those), so no stale epoch or preview stays."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for preview in (out / "previews").glob("epoch_*.png"):
        preview.unlink(missing_ok=True)


def resume_conflicts(cfg: TrainConfig, saved: TrainConfig, explicit: set[str]) -> list[str]:
    """The options given on a resume that differ from the run's saved ones (DATA included)."""
    conflicts = []
    if not _same_data(cfg.data, saved.data):
        conflicts.append(f"DATA {' '.join(cfg.data)} (the run's: {' '.join(saved.data)})")
    for name in sorted(explicit - RESUME_MAY_CHANGE):
        mine, theirs = getattr(cfg, name), getattr(saved, name)
        if mine != theirs:
            flag = "--no-pretrained" if name == "pretrained" else f"--{name.replace('_', '-')}"
            conflicts.append(f"{flag} {_shown(mine)} (the run's: {_shown(theirs)})")
    return conflicts


def _shown(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "on", False: "off", None: "unset"}[value]
    return f"{value:g}" if isinstance(value, float) else str(value)


def _same_data(given: list[str], saved: list[str]) -> bool:
    return given == saved or [Path(d).resolve() for d in given] == [Path(d).resolve() for d in saved]


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True, keep_saved_epochs: bool = False,
          overwrite: bool = False, explicit: set[str] | None = None) -> dict:
    """Run (or continue) a training run; returns a summary with the final metrics and the run's paths.

    On resume the saved train config wins, except ``epochs`` (unless ``keep_saved_epochs``),
    ``device`` and ``workers``, which may change between sessions; DATA and the fields named in
    ``explicit`` (the options the user gave) must equal the saved ones, else TrainError. A folder
    holding a run is only started afresh with ``overwrite``."""
    out = Path(cfg.out)
    check_run_folder(cfg, resume, overwrite)
    device = resolve_device(cfg.device)
    state: dict = {}
    if resume:
        ckpt = read_checkpoint(out / "last.pt")
        saved = TrainConfig(**ckpt["train_config"])
        conflicts = resume_conflicts(cfg, saved, explicit or set())
        if conflicts:
            raise TrainError(f"{out}: --resume continues the run with its own settings, and these differ: "
                             f"{'; '.join(conflicts)}. Drop them, or start a new run in another folder")
        # Only the length of the run and where it runs may change on resume.
        epochs = saved.epochs if keep_saved_epochs else cfg.epochs
        # Checkpoints from before the schedule options train on as they did (plateau, no low-res phase).
        cfg = dataclasses.replace(saved, epochs=epochs, device=cfg.device, workers=cfg.workers, out=str(out))
        model = make_net(ModelConfig.from_dict(ckpt["model_config"]))
        # With --ema, "model" holds the averaged weights (what best.pt and export use) and
        # "train_model" the optimiser's own, which training continues from.
        model.load_state_dict(ckpt.get("train_model", ckpt["model"]))
        train_files, val_files = ckpt["train_files"], ckpt["val_files"]
        prior = ckpt["prior"].numpy() if ckpt.get("prior") is not None else None
        state = ckpt
    else:
        out.mkdir(parents=True, exist_ok=True)
        if overwrite:
            clear_run(out)
        train_files, val_files = _select_files(cfg)
        model = _new_model(cfg)
        if cfg.init_from:
            load_initial_weights(model, cfg.init_from)
            _log(f"starting from the weights of {cfg.init_from}", progress)
        prior = None
    model.to(device)
    report_bad = BadFileReporter()

    size = OVERFIT_SIZE if cfg.overfit_one else cfg.image_size
    crop = None if cfg.overfit_one else cfg.crop_from
    weights = None
    if _corpus_path(cfg):
        from colored.corpus import open_corpus

        corpus = open_corpus(cfg.data[0])
        def train_views(view_size: int) -> CorpusDataset:
            return CorpusDataset(corpus, train_files, view_size, augment=True, crop_min_area=cfg.crop_min_area,
                                 tone_jitter=cfg.tone_jitter)

        train_ds = train_views(size)
        val_ds = CorpusDataset(corpus, val_files, size)
        preview_ds = val_ds if len(val_ds) else CorpusDataset(corpus, train_files[:NUM_PREVIEWS], size)
        weights = corpus.sample_weights([{"source": s} for s in train_ds.sources], cfg.source_weights)
        _log("source shares: " + ", ".join(f"{k} {v:.3f}" for k, v in corpus.source_weights(cfg.source_weights).items()), progress)
    else:
        def train_views(view_size: int) -> ColorizationDataset:
            return ColorizationDataset(
                train_files, view_size, augment=not cfg.overfit_one, cache=cfg.cache_images, progress=progress,
                crop_from=crop, crop_min_area=cfg.crop_min_area, tone_jitter=cfg.tone_jitter,
            )

        train_ds = train_views(size)
        val_ds = ColorizationDataset(val_files, size, augment=False, cache=cfg.cache_images, progress=progress, crop_from=crop)
        preview_ds = val_ds if len(val_ds) else ColorizationDataset(train_files[:NUM_PREVIEWS], size, crop_from=crop)
    for ds in (train_ds, val_ds):  # files the cache dropped were named as it went
        report_bad.seen.update(path for path, _ in getattr(ds, "dropped", []))
    if not len(train_ds):
        raise TrainError(f"{' '.join(cfg.data)}: none of the training images could be read (each one is named above)")
    dropped = f" ({len(report_bad.seen)} unreadable files skipped)" if report_bad.seen else ""
    _log(f"device: {device}; {len(train_ds)} training / {len(val_ds)} validation images{dropped}", progress)
    if cfg.loss == "classification" and prior is None:
        prior = compute_prior(train_ds.plain(), cfg.seed, progress, weights, report_bad)
    if cfg.loss == "classification":
        loss_fn = ClassificationLoss(prior, lam=cfg.rebalance_lambda, aux_weight=cfg.aux_weight, temperature=cfg.temperature).to(device)
    else:
        loss_fn = mse

    optimizer = torch.optim.Adam(param_groups(model, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.2, patience=5, min_lr=1e-5)
    ema = averaged_model(model, cfg.ema) if cfg.ema else None
    if ema is not None and state:
        ema.module.load_state_dict(state["model"])
        ema.n_averaged.fill_(int(state["ema_updates"]))  # the decay's warm-up goes on where it was
    evaluated = model if ema is None else ema.module  # validation, previews and best.pt see the average
    history: list[dict] = []
    start_epoch, best = 0, math.inf
    if state:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, start_epoch, best = list(state["history"]), int(state["epoch"]), float(state["best_val_loss"])
        _log(f"resuming {out / 'last.pt'} after epoch {start_epoch}", progress)

    steps = cfg.steps_per_epoch or (OVERFIT_STEPS if cfg.overfit_one else None)
    # The low-resolution phase: the same photos and crops at a smaller size; validation stays at
    # image_size so every epoch's figures compare.
    low_ds = train_views(cfg.low_res_size) if cfg.low_res_epochs and start_epoch < cfg.low_res_epochs else None
    val_loader = _loader(val_ds, cfg, None, device)
    from tqdm import tqdm

    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        epoch_seed = cfg.seed * 100003 + epoch
        torch.manual_seed(epoch_seed)
        views = low_ds if low_ds is not None and epoch < cfg.low_res_epochs else train_ds
        loader = _loader(views, cfg, epoch_seed, device, num_samples=steps * cfg.batch_size if steps else None,
                         weights=weights)
        per_epoch = len(loader)
        model.train()
        total, n = 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not progress, leave=False)
        for step, batch in enumerate(bar):
            if cfg.schedule == "cosine":
                for group in optimizer.param_groups:
                    group["lr"] = cosine_lr(cfg.lr * group.get("lr_scale", 1.0), epoch * per_epoch + step,
                                            cfg.epochs * per_epoch)
            report_bad(batch.bad)
            if not len(batch):
                continue
            L, ab = batch.L.to(device, non_blocking=True), batch.ab.to(device, non_blocking=True)
            loss = loss_fn(model(L), ab)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if ema is not None:
                ema.update_parameters(model)
            total += loss.item() * len(batch)
            n += len(batch)
            bar.set_postfix(loss=f"{total / n:.4f}")
        if not n:
            raise TrainError(f"epoch {epoch + 1}: no training image could be read")
        row = {"epoch": epoch + 1, "train_loss": total / n, **evaluate(evaluated, val_loader, loss_fn, device),
               "view_size": views.size}
        monitored = row.get("val_loss", row["train_loss"])
        if cfg.schedule == "plateau":
            scheduler.step(monitored)
        row["lr"] = optimizer.param_groups[0]["lr"]
        row["seconds"] = time.perf_counter() - t0
        history.append(row)

        if cfg.preview_every and (epoch + 1) % cfg.preview_every == 0:
            _preview(out / "previews" / f"epoch_{epoch + 1:04d}.png", evaluated, preview_ds, device)
        is_best = monitored < best
        best = min(best, monitored)
        save_checkpoint(
            out / "last.pt",
            evaluated,
            **({} if ema is None else {"train_model": model.state_dict(), "ema_updates": int(ema.n_averaged)}),
            train_config=cfg.to_dict(),
            optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict(),
            epoch=epoch + 1,
            history=history,
            best_val_loss=best,
            train_files=train_files,
            val_files=val_files,
            prior=None if prior is None else torch.as_tensor(prior),
        )
        if is_best:
            with atomic_path(out / "best.pt") as tmp:
                shutil.copyfile(out / "last.pt", tmp)
        write_metrics_csv(out / "metrics.csv", history)
        plot_curves(out / "curves.png", history)
        _log(_summary_line(row), progress)
    return {"history": history, "best_val_loss": best, "out": str(out), "final": history[-1] if history else {},
            "skipped": sorted(report_bad.seen)}


def cosine_lr(base: float, step: int, total: int) -> float:
    """Half a cosine from ``base`` at step 0 to base/100 at ``total`` (and there after it)."""
    floor = base / 100
    t = min(max(step, 0), total) / max(total, 1)
    return floor + (base - floor) * 0.5 * (1 + math.cos(math.pi * t))


def _summary_line(row: dict) -> str:
    parts = [f"epoch {row['epoch']}", f"train {row['train_loss']:.4f}"]
    if "val_loss" in row:
        parts += [
            f"val {row['val_loss']:.4f}",
            f"PSNR {row['val_psnr']:.2f} dB (gray {row['val_gray_psnr']:.2f})",
            f"AuC {row['val_auc']:.1f}%",
            f"CF {row['val_colorfulness']:.1f}/{row['val_true_colorfulness']:.1f}",
        ]
    return ", ".join(parts + [f"lr {row['lr']:.2g}", f"{row['seconds']:.1f}s"])
