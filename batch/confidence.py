"""One confidence figure per picture from the model's per-pixel confidence (the optional ONNX
output "confidence", see colored.contract): what colored-batch records in the manifest and the
reports, and what the review page sorts by, least sure first.

    picture_confidence(conf, ab) -> (N,) float in [0, 1]

The figure is the mean of the per-pixel confidence weighted by the colour the model puts at each
pixel (its predicted chroma, sqrt(a^2 + b^2)), with a floor: a wrong guess shows where the model
paints colour, hardly on a grey sky or a dark shadow, but a pixel it leaves greyish because its
guesses cancel out (red or blue averaging to grey) still counts with the floor's weight. It is a
reduction over the S x S arrays the network already returned (S the render size, not the
picture's), so it costs microseconds per picture. numpy only.
"""

from __future__ import annotations

import numpy as np

# Lab chroma under which a pixel counts as if it had this much colour (a muted colour is about 10-20).
CHROMA_FLOOR = 5.0


def picture_confidence(conf: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """(N,1,S,S) or (N,S,S) per-pixel confidence and (N,2,S,S) ab -> (N,) float64 figures in [0, 1]."""
    conf = np.asarray(conf, dtype=np.float32).reshape(len(ab), -1)
    ab = np.asarray(ab, dtype=np.float32).reshape(len(ab), 2, -1)
    weight = np.maximum(np.hypot(ab[:, 0], ab[:, 1]), CHROMA_FLOOR)
    figure = (weight * conf).sum(axis=1, dtype=np.float64) / weight.sum(axis=1, dtype=np.float64)
    return np.clip(figure, 0.0, 1.0)


__all__ = ["picture_confidence", "CHROMA_FLOOR"]
