"""Data sets materialised as tensors, for evaluation on the device without a DataLoader.

Sources, named by a spec string (``--data``):

- ``cifar10:PATH``, ``cifar100:PATH``: the python-pickle batch folders, read offline.
- ``digits``: scikit-learn's bundled 8×8 digits, the embedded demo set.
- ``imagefolder:PATH``: ``PATH/CLASS/IMAGE`` (optionally under ``train/``, ``test/``).
- ``pkg.module:factory``: a user function returning ``(train, test_or_None)``.
"""

from __future__ import annotations

from lstui.datasets._arrays import ArraySplit, LandscapeData
from lstui.datasets._cifar import CIFAR_MEAN, CIFAR_STD, load_cifar
from lstui.datasets._digits import load_digits
from lstui.datasets._factory import FACTORY_PATTERN, load_factory
from lstui.datasets._imagefolder import load_imagefolder
from lstui.datasets._select import (
    check_data_split,
    parse_subset,
    reference_split_indices,
    select,
)
from lstui.errors import DataError

__all__ = [
    "CIFAR_MEAN",
    "CIFAR_STD",
    "DATA_KINDS",
    "ArraySplit",
    "LandscapeData",
    "load_data",
    "parse_subset",
    "reference_split_indices",
]

#: The accepted forms of a data spec, for help text and error messages.
DATA_KINDS: tuple[str, ...] = (
    "cifar10:PATH",
    "cifar100:PATH",
    "digits",
    "imagefolder:PATH",
    "pkg.module:factory",
)


def _source(spec: str, raw: bool) -> LandscapeData:
    kind, sep, rest = spec.partition(":")
    if spec == "digits":
        return load_digits(raw=raw)
    if kind in ("cifar10", "cifar100", "imagefolder"):
        if not rest:
            raise DataError(f"data {spec!r} needs a folder: {kind}:PATH")
        if kind == "imagefolder":
            return load_imagefolder(rest, raw=raw)
        return load_cifar(kind, rest, raw=raw)
    if sep and FACTORY_PATTERN.fullmatch(spec):
        return load_factory(spec)
    raise DataError(f"unknown data {spec!r}; expected one of {', '.join(DATA_KINDS)}")


def load_data(
    spec: str,
    *,
    raw: bool = False,
    subset: str | None = None,
    seed: int = 0,
    data_split: int = 1,
) -> LandscapeData:
    """Load the data set a spec names, as tensors.

    The train split is cut in two steps. First ``data_split`` N > 1 keeps the
    reference's random ``len // N`` training samples (NumPy seed 0, in the order the
    reference draws them). Then ``subset`` keeps a count (``"500"``) or a fraction
    (``"0.1"``, rounded) of what is left, drawn without replacement with
    ``torch.Generator().manual_seed(seed)`` and kept in sorted order. The test split is
    never data-split; a subset leaves it whole unless it is larger than the train
    subset's count, in which case it is cut to that count the same way.
    Normalisation statistics computed from data (digits, image folders) always come from
    the whole train split, so cutting it does not change the inputs.

    Args:
        spec: one of :data:`DATA_KINDS`, e.g. ``"cifar10:~/data"``.
        raw: skip normalisation (inputs only scaled to [0, 1]); factories are never
            normalised.
        subset: count or fraction of the train split, or ``None`` for all.
        seed: seed of the subset draw.
        data_split: the reference's ``--data_split``; 1 keeps every sample.

    Raises:
        DataError: an unknown spec, missing or malformed data, a bad subset or split.
    """
    # Reject bad options before reading any data.
    check_data_split(data_split)
    if subset is not None:
        parse_subset(subset)
    return select(_source(spec, raw), subset=subset, seed=seed, data_split=data_split)
