"""The embedded demo set: scikit-learn's bundled handwritten digits (offline, real)."""

from __future__ import annotations

import numpy as np
import torch

from lstui.datasets._arrays import ArraySplit, LandscapeData, channel_stats

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


def load_digits(*, raw: bool = False) -> LandscapeData:
    """Load the 1,797 8×8 digit images as a fixed 1,437 / 360 train/test split.

    Pixels are kept as bytes (0..16) with scale 1/16. The split is a shuffle with
    ``RandomState(0)``, the same on every machine and for every job; each split keeps
    its samples in their original order.

    Args:
        raw: skip normalisation; otherwise inputs are normalised with the train
            split's mean and (population) standard deviation.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    images, labels = sklearn_digits(return_X_y=True)
    inputs = torch.from_numpy(images.astype(np.uint8).reshape(-1, *DIGITS_INPUT_SHAPE))
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
