"""Data sets materialised as tensors, for evaluation on the device without a DataLoader.

Sources, named by a spec string (``--data``):

- ``cifar10:PATH``, ``cifar100:PATH``: the python-pickle batch folders, read offline.
- ``digits``: the UCI 8×8 handwritten digits shipped in ``data/digits.npz``, the embedded demo set.
- ``imagefolder:PATH``: ``PATH/CLASS/IMAGE`` (optionally under ``train/``, ``test/``).
- ``pkg.module:factory``: a user function returning ``(train, test_or_None)``.
"""

from __future__ import annotations

from typing import NamedTuple

from lstui.datasets._arrays import ArraySplit, LandscapeData
from lstui.datasets._cifar import (
    CIFAR_MEAN,
    CIFAR_STD,
    INPUT_SHAPE,
    LAYOUTS,
    batch_folder,
    has_test_batch,
    load_cifar,
)
from lstui.datasets._digits import (
    DIGITS_CLASSES,
    DIGITS_INPUT_SHAPE,
    DIGITS_SIZE,
    DIGITS_TEST_SIZE,
    load_digits,
)
from lstui.datasets._factory import FACTORY_PATTERN, factory_function, load_factory
from lstui.datasets._imagefolder import load_imagefolder, probe_imagefolder
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
    "DataProbe",
    "LandscapeData",
    "load_data",
    "missing_test_hint",
    "probe_data",
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


class DataProbe(NamedTuple):
    """What a look at a data set's files tells without reading them all."""

    input_shape: tuple[int, ...]
    num_classes: int
    has_test: bool
    train_size: int | None = None
    """How many training samples there are, where that is known without reading them."""


def _kind(spec: str) -> tuple[str, str]:
    """``(kind, folder)`` of a data spec: digits, cifar10, cifar100, imagefolder or factory."""
    kind, sep, rest = spec.partition(":")
    if spec == "digits":
        return "digits", ""
    if kind in ("cifar10", "cifar100", "imagefolder"):
        if not rest:
            raise DataError(f"data {spec!r} needs a folder: {kind}:PATH")
        return kind, rest
    if sep and FACTORY_PATTERN.fullmatch(spec):
        return "factory", ""
    raise DataError(f"unknown data {spec!r}; expected one of {', '.join(DATA_KINDS)}")


def _source(spec: str, raw: bool) -> LandscapeData:
    kind, folder = _kind(spec)
    if kind == "digits":
        return load_digits(raw=raw)
    if kind == "imagefolder":
        return load_imagefolder(folder, raw=raw)
    if kind == "factory":
        return load_factory(spec)
    return load_cifar(kind, folder, raw=raw)


def probe_data(spec: str) -> DataProbe | None:
    """Check, cheaply, that the data a spec names is there, before a job is queued.

    CIFAR folders must hold every training batch file and an image folder must have classes and
    a readable first image; neither is read whole (a job does that on its device). A
    factory is imported but not called, since only calling it tells its shapes: that
    returns None.

    Raises:
        DataError: as :func:`load_data` would for what is checked.
    """
    kind, folder = _kind(spec)
    if kind == "digits":
        return DataProbe(DIGITS_INPUT_SHAPE, DIGITS_CLASSES, True, DIGITS_SIZE - DIGITS_TEST_SIZE)
    if kind == "imagefolder":
        return DataProbe(*probe_imagefolder(folder))
    if kind == "factory":
        factory_function(spec)
        return None
    found = batch_folder(kind, folder)
    return DataProbe(INPUT_SHAPE, LAYOUTS[kind].num_classes, has_test_batch(kind, found))


def missing_test_hint(spec: str) -> str:
    """What a data set without a test split lacks, for the error of a job that wants one:
    ``" (… lacks test_batch)"`` for a CIFAR folder, ``""`` for the rest."""
    kind, folder = _kind(spec)
    if kind not in LAYOUTS:
        return ""
    return f" ({batch_folder(kind, folder)} lacks {LAYOUTS[kind].test_file})"


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
