"""The ``unet`` architecture: a pretrained ImageNet backbone as encoder, the fusion layer, a U-Net decoder.

    grey copy of L --backbone stem + stages--> features at strides 4, 8, 16, 32 --+
          |                                                                    |
          +--> the same backbone's head --> softmax(1000) --repeat--> concat at stride 32
                                                                -> Conv1x1 (fusion)
    decoder: up x2 + skip(16) -> up x2 + skip(8) -> up x2 + skip(4) -> 313 logits (or ab)

With about a thousand training photos an encoder trained from scratch has to learn vision
from them; colorizers that work with little data (DeOldify, DDColor) reuse a pretrained
backbone's multi-scale features instead, with skip connections into the decoder. The
1000-way classifier output is still fused at the bottleneck as in Iizuka et al. 2016 /
Wallner 2017, and it costs nothing extra: it is the head of the same forward pass, so the
backbone runs once, on the input at the model's own size (``backbone_size`` is unused).

Works with timm's EfficientNet family (``conv_stem``/``bn1``/``blocks``/``conv_head``/``bn2``/
``global_pool``/``classifier``, with ``feature_info`` giving each stage's stride).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from colored.color import lightness_to_gray
from colored.model import FusionNet, ModelConfig

SKIP_STRIDES = (4, 8, 16)
DECODER_CHANNELS = (192, 96, 64)  # after fusing stride 16, 8 and 4
FUSION_CHANNELS = 256


def _conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UpBlock(nn.Module):
    """Upsample x2, concatenate the encoder's skip feature, two 3x3 conv-BN-ReLU."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv_bn(cin + cskip, cout), _conv_bn(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


def stage_strides(backbone: nn.Module) -> list[tuple[int, int, int]]:
    """(block index, stride, channels) of each stage that ends a stride level, from timm's feature_info."""
    out = []
    for info in backbone.feature_info:
        module = info["module"]
        if not module.startswith("blocks."):
            raise ValueError(f"unet needs an EfficientNet-style timm backbone (feature module {module!r})")
        out.append((int(module.split(".")[1]), int(info["reduction"]), int(info["num_chs"])))
    return out


class FusionUNet(FusionNet):
    """The ``unet`` architecture: the backbone is the encoder as well as the fusion branch."""

    head_stride = 4
    size_step = 32  # the backbone's deepest stage is at stride 32

    def __init__(self, config: ModelConfig, backbone: nn.Module | None = None) -> None:
        super().__init__(config, backbone)  # checks image_size against size_step
        for part in ("conv_stem", "bn1", "blocks", "conv_head", "bn2", "global_pool", "classifier"):
            if not hasattr(self.backbone, part):
                raise ValueError(f"arch unet: backbone {config.backbone!r} has no {part!r} (use an EfficientNet)")
        stages = stage_strides(self.backbone)
        by_stride = {stride: (idx, ch) for idx, stride, ch in stages}
        missing = [s for s in (*SKIP_STRIDES, 32) if s not in by_stride]
        if missing:
            raise ValueError(f"arch unet: backbone {config.backbone!r} has no stage at stride(s) {missing}")
        self.skip_blocks = [by_stride[s][0] for s in SKIP_STRIDES]
        self.last_block = by_stride[32][0]
        self.fusion = nn.Sequential(nn.Conv2d(by_stride[32][1] + 1000, FUSION_CHANNELS, 1), nn.ReLU(inplace=True))
        cin, ups = FUSION_CHANNELS, []
        for stride, cout in zip(reversed(SKIP_STRIDES), DECODER_CHANNELS):
            ups.append(UpBlock(cin, by_stride[stride][1], cout))
            cin = cout
        self.up = nn.ModuleList(ups)
        self.head = nn.Conv2d(cin, 2 if config.head == "regression" else config.num_bins, 1)

    def zero_class_columns(self) -> None:
        """Zero the fusion conv's weights on the 1000 class channels (colored-train --fusion-init zero).

        Each class has its own column there, trained only by photos of that class. Zeroed, a
        class the training photos never showed adds nothing, where a random column would add
        noise to every photo of it."""
        with torch.no_grad():
            self.fusion[0].weight[:, self.fusion[0].in_channels - 1000 :] = 0.0

    def backbone_input(self, L: torch.Tensor) -> torch.Tensor:
        """The 3-channel grey copy of L at the input's own size, normalised for the backbone."""
        gray = lightness_to_gray(L)
        return (gray.expand(-1, 3, -1, -1) - self.backbone_mean) / self.backbone_std

    def encode(self, L: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Skip features (strides 4, 8, 16), the stride-32 feature and the 1000-way softmax."""
        b = self.backbone
        x = b.bn1(b.conv_stem(self.backbone_input(L)))
        skips = []
        for i, block in enumerate(b.blocks):
            x = block(x)
            if i in self.skip_blocks:
                skips.append(x)
            if i == self.last_block:
                bottom = x
        logits = b.classifier(b.global_pool(b.bn2(b.conv_head(x))))
        return skips, bottom, logits.softmax(dim=1)

    def embed(self, L: torch.Tensor) -> torch.Tensor:
        return self.encode(L)[2]

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        """Training output: ab/128 (regression, full size) or bin logits (classification, 1/4 size)."""
        skips, x, emb = self.encode(L)
        if self.config.fusion_dropout:
            emb = F.dropout(emb, self.config.fusion_dropout, self.training)
        emb = emb[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        x = self.fusion(torch.cat([x, emb], dim=1))
        for up, skip in zip(self.up, reversed(skips)):
            x = up(x, skip)
        x = self.head(x)
        if self.config.head == "regression":
            return F.interpolate(torch.tanh(x), scale_factor=self.head_stride, mode="bilinear", align_corners=False)
        return x
