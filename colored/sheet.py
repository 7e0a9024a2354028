"""Contact-sheet helpers shared by colored-eval and colored-batch --preview (pure Python: no numpy, no torch).

    spread_sample(groups, count, seed) -> items drawn round-robin across groups, reproducibly
    wrap_label(text, width, measure)   -> the lines a label needs to fit its cell
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def spread_sample(groups: Sequence[Sequence[T]], count: int, seed: int = 0) -> list[T]:
    """`count` items drawn reproducibly from `seed`, round-robin across `groups` (e.g. sub-folders)
    so each group is represented when count allows; in draw order (callers sort as they like)."""
    rng = random.Random(seed)
    shuffled = [list(g) for g in groups]
    for items in shuffled:
        rng.shuffle(items)
    rng.shuffle(shuffled)  # which groups get a place when there are more of them than places
    round_robin = [x for turn in itertools.zip_longest(*shuffled) for x in turn if x is not None]
    return round_robin[:count]


def wrap_label(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """`text` in lines no wider than `width` by `measure`, so no label is cut off.

    Breaks after a path separator, space, "_", "-" or "." where one falls in the line, else
    between characters. Every character is kept; a line holds at least one character, so only
    a cell narrower than one character can overflow.
    """
    lines, rest = [], text
    while rest:
        n = 1
        while n < len(rest) and measure(rest[: n + 1]) <= width:
            n += 1
        if n < len(rest):
            n = max(rest.rfind(sep, 0, n) + 1 for sep in "/ _-.") or n
        lines.append(rest[:n])
        rest = rest[n:]
    return lines
