"""Tiny CIFAR folders in the real python-pickle layout, for tests anywhere in the suite.

The real batches were written by Python 2: dicts with byte-string keys (``b'data'``,
``b'labels'``) holding an ``N×3072`` uint8 array, pickled with protocol 2. These helpers
write the same structure, deterministically from a seed.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR100_FOLDER = "cifar-100-python"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))


def _dump(path: Path, entry: dict[bytes, object]) -> None:
    with path.open("wb") as handle:
        pickle.dump(entry, handle, protocol=2)


def _images(rng: np.random.RandomState, count: int) -> np.ndarray:
    return rng.randint(0, 256, size=(count, 3 * 32 * 32)).astype(np.uint8)


def write_cifar10(root: Path, n_per_batch: int = 20, seed: int = 0) -> Path:
    """Write ``root/cifar-10-batches-py`` with five train batches and a test batch.

    Each batch holds ``n_per_batch`` random images with labels 0..9.

    Returns:
        ``root``, the folder holding ``cifar-10-batches-py`` (what ``cifar10:PATH`` takes).
    """
    root = Path(root)
    folder = root / CIFAR10_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    for name in (*CIFAR10_TRAIN_FILES, "test_batch"):
        entry = {
            b"batch_label": name.encode(),
            b"data": _images(rng, n_per_batch),
            b"labels": [int(v) for v in rng.randint(0, 10, size=n_per_batch)],
            b"filenames": [f"{name}_{i}.png".encode() for i in range(n_per_batch)],
        }
        _dump(folder / name, entry)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer"]
    names += [b"dog", b"frog", b"horse", b"ship", b"truck"]
    _dump(folder / "batches.meta", {b"label_names": names, b"num_vis": 3072})
    return root


def write_cifar100(root: Path, n_train: int = 40, n_test: int = 20, seed: int = 0) -> Path:
    """Write ``root/cifar-100-python`` with ``train``, ``test`` and ``meta``.

    Labels are under ``b'fine_labels'`` (0..99) and ``b'coarse_labels'`` (0..19).

    Returns:
        ``root``, the folder holding ``cifar-100-python``.
    """
    root = Path(root)
    folder = root / CIFAR100_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    for name, count in (("train", n_train), ("test", n_test)):
        entry = {
            b"data": _images(rng, count),
            b"fine_labels": [int(v) for v in rng.randint(0, 100, size=count)],
            b"coarse_labels": [int(v) for v in rng.randint(0, 20, size=count)],
        }
        _dump(folder / name, entry)
    _dump(folder / "meta", {b"fine_label_names": [b"c%d" % i for i in range(100)]})
    return root


def read_batch(path: Path) -> dict[bytes, object]:
    """Load one written batch back (a plain pickle load, for expected values)."""
    with Path(path).open("rb") as handle:
        entry: dict[bytes, object] = pickle.load(handle, encoding="bytes")
    return entry
