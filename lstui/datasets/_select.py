"""Choosing the samples a landscape is computed on: the reference's data split, subsets."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import torch

from lstui.datasets._arrays import ArraySplit, LandscapeData
from lstui.errors import DataError


def parse_subset(text: str) -> int | float:
    """Validate a ``--subset`` value: a count (``"500"``) or a fraction (``"0.1"``).

    Returns:
        An ``int`` of 1 or more, or a ``float`` in ``(0, 1]``.

    Raises:
        DataError: anything else, e.g. ``"0"``, ``"1.5"`` or ``"abc"``.
    """
    stripped = text.strip()
    if re.fullmatch(r"\d+", stripped):
        count = int(stripped)
        if count < 1:
            raise DataError(f"subset {text!r} selects no samples; give a count of 1 or more")
        return count
    try:
        fraction = float(stripped)
    except ValueError:
        raise DataError(
            f"subset {text!r} is neither a count (e.g. 500) nor a fraction (e.g. 0.1)"
        ) from None
    if not (math.isfinite(fraction) and 0.0 < fraction <= 1.0):
        raise DataError(
            f"subset {text!r}: give a count of 1 or more (e.g. 500) or a fraction in (0, 1] (e.g. 0.1)"
        )
    return fraction


def subset_count(subset: int | float, total: int) -> int:
    """How many of ``total`` samples a parsed subset selects (a fraction is rounded)."""
    if isinstance(subset, float):
        count = round(subset * total)
        if count < 1:
            raise DataError(f"subset {subset} of {total} training samples selects none")
        return count
    if subset > total:
        raise DataError(f"subset {subset} exceeds the {total} training samples")
    return subset


def seeded_choice(total: int, count: int, seed: int) -> torch.Tensor:
    """``count`` distinct indices of ``range(total)``, sorted, drawn with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(total, generator=generator)[:count].sort().values


def reference_split_indices(total: int, data_split: int) -> np.ndarray:
    """The reference's data split: ``total // data_split`` indices under NumPy seed 0.

    The reference seeds NumPy's global generator with 0 and calls
    ``np.random.choice(indices, total // data_split, replace=False)``; a fresh
    ``RandomState(0)`` draws the same indices in the same order without touching the
    global state.
    """
    return np.random.RandomState(0).choice(total, total // data_split, replace=False)


def check_data_split(data_split: int) -> None:
    """Reject a data split that is not a whole number of 1 or more."""
    if isinstance(data_split, bool) or not isinstance(data_split, int) or data_split < 1:
        raise DataError(f"data split {data_split!r} must be a whole number of 1 or more")


def _take(split: ArraySplit, indices: torch.Tensor) -> ArraySplit:
    return replace(split, inputs=split.inputs[indices], targets=split.targets[indices])


def select(
    data: LandscapeData, *, subset: str | None = None, seed: int = 0, data_split: int = 1
) -> LandscapeData:
    """Apply the data split, then the subset, to ``data`` (see :func:`load_data`)."""
    check_data_split(data_split)
    train, test = data.train, data.test
    if data_split > 1:
        if len(train) // data_split == 0:
            raise DataError(
                f"data split {data_split} leaves none of the {len(train)} training samples"
            )
        indices = reference_split_indices(len(train), data_split)
        train = _take(train, torch.from_numpy(indices))
    if subset is not None:
        count = subset_count(parse_subset(subset), len(train))
        train = _take(train, seeded_choice(len(train), count, seed))
        if test is not None and len(test) > count:
            test = _take(test, seeded_choice(len(test), count, seed))
    if train is data.train and test is data.test:
        return data
    return replace(data, train=train, test=test)
