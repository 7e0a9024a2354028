"""Training losses for both model heads.

- ``mse``: the reference recipe, MSE between the regression output (ab/128 in [-1, 1])
  and the target ab / 128. Known to give desaturated, sepia results.
- ``ClassificationLoss``: Zhang et al. (2016): cross-entropy between the 313-bin logits and
  the target soft-encoded over its 5 nearest bins (Gaussian, sigma 5), each pixel weighted by
  the class-rebalancing weight of its nearest bin, so rare saturated colours are not drowned
  out by the common desaturated ones. Targets are built at the logits' (half) resolution.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colored import bins
from colored.model import AB_SCALE, annealed_mean

# Pixels per chunk when finding nearest bins: bounds the (pixels x 313) distance matrix to ~80 MB.
_CHUNK = 65536


def mse(pred: torch.Tensor, target_ab: torch.Tensor) -> torch.Tensor:
    """MSE between the regression output (ab/128) and the target ab (Lab units, same size)."""
    return F.mse_loss(pred, target_ab / AB_SCALE)


def soft_encode(
    ab: torch.Tensor, centers: torch.Tensor, k: int = bins.SOFT_NEIGHBOURS, sigma: float = bins.SOFT_SIGMA
) -> tuple[torch.Tensor, torch.Tensor]:
    """Torch twin of `colored.bins.soft_encode` for NCHW ab: returns (indices, weights), each (N,k,H,W)."""
    n, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    idx_parts, d2_parts = [], []
    for chunk in flat.split(_CHUNK):
        d2 = torch.cdist(chunk, centers).square()
        d2k, idx = d2.topk(k, dim=1, largest=False)  # sorted: nearest first
        idx_parts.append(idx)
        d2_parts.append(d2k)
    idx, d2k = torch.cat(idx_parts), torch.cat(d2_parts)
    weights = torch.softmax(-d2k / (2 * sigma**2), dim=1)  # normalised Gaussian
    return (
        idx.view(n, h, w, k).permute(0, 3, 1, 2),
        weights.view(n, h, w, k).permute(0, 3, 1, 2),
    )


class ClassificationLoss(nn.Module):
    """Class-rebalanced, soft-encoded cross-entropy over the ab bins.

    Holds the bin centres and rebalancing weights as buffers so they follow ``.to(device)``.
    """

    def __init__(
        self,
        prior: np.ndarray,
        centers: np.ndarray | None = None,
        lam: float = bins.REBALANCE_LAMBDA,
        aux_weight: float = 0.0,
        temperature: float = 0.38,
    ) -> None:
        super().__init__()
        self.aux_weight = aux_weight
        self.temperature = temperature
        centers = bins.bin_centers() if centers is None else centers
        self.register_buffer("centers", torch.tensor(np.asarray(centers), dtype=torch.float32))
        weights = bins.rebalance_weights(prior, lam)
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float32))

    @staticmethod
    def pooled(ab: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        # area average: the colour each output cell covers
        return ab if ab.shape[-2:] == size else F.adaptive_avg_pool2d(ab, size)

    def targets(self, ab: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Soft targets at ``size``: (bin indices, soft weights, per-pixel rebalancing weight)."""
        idx, soft = soft_encode(self.pooled(ab, size), self.centers)
        return idx, soft, self.weights[idx[:, 0]]

    def forward(self, logits: torch.Tensor, target_ab: torch.Tensor) -> torch.Tensor:
        """logits (N,Q,h,w), target_ab (N,2,H,W) in Lab units -> scalar loss."""
        with torch.no_grad():
            idx, soft, pixel_w = self.targets(target_ab.float(), tuple(logits.shape[-2:]))
        logits = logits.float()
        log_p = F.log_softmax(logits, dim=1)
        ce = -(log_p.gather(1, idx) * soft).sum(1)  # only the k non-zero target entries contribute
        loss = (ce * pixel_w).mean()
        if self.aux_weight:
            ab = annealed_mean(logits, self.centers, self.temperature)
            target = self.pooled(target_ab.float(), tuple(logits.shape[-2:]))
            loss = loss + self.aux_weight * F.mse_loss(ab / AB_SCALE, target / AB_SCALE)
        return loss
