"""The embedded demo set: the UCI handwritten digits, shipped in ``data/digits.npz`` (offline, real)."""

from __future__ import annotations

import site
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import torch

from lstui.datasets._arrays import ArraySplit, LandscapeData, channel_stats
from lstui.errors import DataError

#: Samples in all, and those held out for the test split (a fifth).
DIGITS_SIZE = 1797
DIGITS_TEST_SIZE = 360
#: Seed of the fixed train/test shuffle; independent of any job's ``seed``.
DIGITS_SPLIT_SEED = 0
#: Pixel values run 0..16.
DIGITS_SCALE = 1.0 / 16.0
#: One sample's shape and the number of classes.
DIGITS_INPUT_SHAPE = (1, 8, 8)
DIGITS_CLASSES = 10
#: The file, in the top-level ``data/`` of a checkout; a wheel installs it as
#: ``share/lstui/digits.npz`` under its prefix.
DIGITS_FILE = "digits.npz"


def digits_file() -> Path:
    """Where the embedded digits are: the checkout's ``data/`` (an editable install), else
    the ``share/lstui`` of the installation's prefix (a wheel's data files; ``~/.local``
    for a user install)."""
    candidates = [Path(__file__).resolve().parents[2] / "data" / DIGITS_FILE]
    # the install's prefix: a venv's or the system's, or ~/.local for `pip install --user`
    for prefix in dict.fromkeys((sysconfig.get_paths()["data"], sys.prefix, site.getuserbase())):
        candidates.append(Path(prefix) / "share" / "lstui" / DIGITS_FILE)
    for path in candidates:
        if path.is_file():
            return path
    raise DataError(f"the embedded digits data is missing (looked for {' and '.join(map(str, candidates))}); "
                    "reinstall lstui")


def _read_digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 images (uint8, 0..16) and labels of ``path``, checked: a damaged file is
    one clear error, not a wrong demo."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            images, labels = arrays["images"], arrays["labels"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"the embedded digits data {path} cannot be read ({exc}); reinstall lstui") from None
    if (images.shape != (DIGITS_SIZE, *DIGITS_INPUT_SHAPE[1:]) or labels.shape != (DIGITS_SIZE,)
            or images.dtype != np.uint8 or labels.dtype != np.uint8
            or images.max() > 16 or labels.max() >= DIGITS_CLASSES):
        raise DataError(f"the embedded digits data {path} is not the 1,797 8×8 digits; reinstall lstui")
    return images, labels


def load_digits(*, raw: bool = False) -> LandscapeData:
    """Load the 1,797 8×8 digit images as a fixed 1,437 / 360 train/test split.

    Pixels are kept as bytes (0..16) with scale 1/16. The split is a shuffle with
    ``RandomState(0)``, the same on every machine and for every job; each split keeps
    its samples in their original order.

    Args:
        raw: skip normalisation; otherwise inputs are normalised with the train
            split's mean and (population) standard deviation.
    """
    images, labels = _read_digits(digits_file())
    inputs = torch.from_numpy(images.reshape(-1, *DIGITS_INPUT_SHAPE))
    targets = torch.from_numpy(labels.astype(np.int64))

    order = np.random.RandomState(DIGITS_SPLIT_SEED).permutation(len(targets))
    test_idx = torch.from_numpy(np.sort(order[:DIGITS_TEST_SIZE]))
    train_idx = torch.from_numpy(np.sort(order[DIGITS_TEST_SIZE:]))

    train_inputs = inputs[train_idx]
    mean, std = (None, None) if raw else channel_stats(train_inputs, DIGITS_SCALE)
    train = ArraySplit(train_inputs, targets[train_idx], DIGITS_SCALE, mean, std)
    test = ArraySplit(inputs[test_idx], targets[test_idx], DIGITS_SCALE, mean, std)
    return LandscapeData(
        name="digits", train=train, test=test, input_shape=DIGITS_INPUT_SHAPE,
        num_classes=DIGITS_CLASSES,
    )
