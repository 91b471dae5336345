"""CIFAR-10 and CIFAR-100 from their python-pickle folders, offline and unchecked.

torchvision's ``CIFAR10`` insists on MD5 checks and offers downloads; a GPU server often
has the batches copied in by hand (and no internet). This reader takes the folder as it
is, and unpickles only what a CIFAR batch is made of (numpy arrays, lists, dicts), so a
doctored batch file cannot run code.
"""

from __future__ import annotations

import importlib
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstui.datasets._arrays import ArraySplit, LandscapeData
from lstui.errors import DataError

#: The reference's CIFAR-10 normalisation (pixels in [0, 1]); used for CIFAR-100 too,
#: since the reference has no CIFAR-100 loader of its own.
CIFAR_MEAN: tuple[float, ...] = tuple(v / 255.0 for v in (125.3, 123.0, 113.9))
CIFAR_STD: tuple[float, ...] = tuple(v / 255.0 for v in (63.0, 62.1, 66.7))

INPUT_SHAPE = (3, 32, 32)
"""One CIFAR image: channels, height, width."""
_PIXELS = 3 * 32 * 32


@dataclass(frozen=True)
class CifarLayout:
    """Where one CIFAR variant keeps its batches and labels."""

    kind: str
    folder: str
    archive: str
    train_files: tuple[str, ...]
    test_file: str
    label_key: str
    num_classes: int

    @property
    def files(self) -> tuple[str, ...]:
        return (*self.train_files, self.test_file)


CIFAR10 = CifarLayout(
    kind="cifar10",
    folder="cifar-10-batches-py",
    archive="cifar-10-python.tar.gz",
    train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
    test_file="test_batch",
    label_key="labels",
    num_classes=10,
)
CIFAR100 = CifarLayout(
    kind="cifar100",
    folder="cifar-100-python",
    archive="cifar-100-python.tar.gz",
    train_files=("train",),
    test_file="test",
    label_key="fine_labels",
    num_classes=100,
)
LAYOUTS = {layout.kind: layout for layout in (CIFAR10, CIFAR100)}

# Everything a CIFAR batch pickle refers to by name: numpy's array reconstruction, the
# codec that protocol-2 pickles written by Python 3 use for bytes, and the rebuilding of
# an array from its bytes that protocol 5 uses (a batch re-pickled with it).
_ALLOWED_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals a CIFAR batch needs."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module.startswith("numpy.core"):
            # NumPy 2 moved numpy.core to numpy._core; the old name only warns.
            try:
                renamed = "numpy._core" + module[len("numpy.core") :]
                return getattr(importlib.import_module(renamed), name)
            except ImportError:
                pass
        return super().find_class(module, name)


def resolve_folder(path: str, layout: CifarLayout) -> Path:
    """Find the batch folder: ``path`` itself or ``path/<layout.folder>``."""
    root = Path(path).expanduser()
    expected = f"{layout.folder}/ ({', '.join(layout.files)})"
    if not root.exists():
        raise DataError(f"{layout.kind} folder {root} does not exist; expected {expected}")
    if not root.is_dir():
        raise DataError(f"{layout.kind} path {root} is not a folder; expected {expected}")
    inner = root / layout.folder
    if inner.is_dir():
        return inner
    if any((root / name).is_file() for name in layout.files):
        return root
    if (root / layout.archive).is_file():
        raise DataError(
            f"{root} holds {layout.archive} but no {layout.folder}/; "
            f"extract it first: tar -xzf {root / layout.archive} -C {root}"
        )
    raise DataError(f"{layout.kind} folder {root} holds no {expected}")


def batch_folder(kind: str, path: str) -> Path:
    """The batch folder of ``cifar10:PATH`` or ``cifar100:PATH``, holding every training
    batch file (the test batch may be missing: see :func:`has_test_batch`).

    Raises:
        DataError: the folder or a training batch file is missing.
    """
    layout = LAYOUTS[kind]
    folder = resolve_folder(path, layout)
    missing = [name for name in layout.train_files if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"{layout.kind} folder {folder} lacks {', '.join(missing)}; "
            f"expected {', '.join(layout.files)}"
        )
    for name in layout.files:  # cut short, or not a batch: said at submit, not by a failed job
        if (folder / name).is_file():
            _check_whole(folder / name)
    return folder


def _check_whole(path: Path) -> None:
    """Refuse a batch file that cannot be a whole pickle, reading its first and last byte
    only: a pickle of protocol 2 or more begins with 0x80 (a dict of protocol 0 or 1 with
    ``(`` or ``}``) and every pickle ends with ``.`` (STOP). A download cut short passed
    the names' check and failed its job later, and again at each retry."""
    try:
        with path.open("rb") as handle:
            first = handle.read(1)
            if first:
                handle.seek(-1, 2)
            last = handle.read(1)
    except OSError as exc:
        raise DataError(f"{path} is not a readable CIFAR batch: {exc.strerror or exc}") from exc
    if first not in (b"\x80", b"(", b"}") or last != b".":  # protocol 2+, or 0 and 1's dict
        raise DataError(f"{path} is not a readable CIFAR batch: it looks cut short or damaged "
                        "(download and extract it again)")


def has_test_batch(kind: str, folder: Path) -> bool:
    """Whether a batch folder holds the test batch: a job of the train split needs none."""
    return (folder / LAYOUTS[kind].test_file).is_file()


def read_batch(path: Path, layout: CifarLayout) -> tuple[np.ndarray, np.ndarray]:
    """Read one batch file: pixels ``N×3072`` uint8 and labels ``N`` int64."""
    try:
        with path.open("rb") as handle:
            entry = _BatchUnpickler(handle, encoding="latin1").load()
    except Exception as exc:  # any failure to unpickle means "not a CIFAR batch"
        raise DataError(f"{path} is not a readable CIFAR batch: {exc}") from exc
    if not isinstance(entry, dict):
        raise DataError(f"{path} holds a {type(entry).__name__}, expected a CIFAR batch dict")
    entry = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}
    for key in ("data", layout.label_key):
        if key not in entry:
            raise DataError(f"{path} has no '{key}' entry; expected a {layout.kind} batch")
    data = entry["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise DataError(f"{path}: 'data' is not an N×{_PIXELS} uint8 array")
    if data.shape[1] != _PIXELS:
        raise DataError(f"{path}: 'data' has shape {data.shape}, expected N×{_PIXELS}")
    try:
        labels = np.asarray(entry[layout.label_key], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: '{layout.label_key}' are not integers") from exc
    if labels.shape != (len(data),):
        raise DataError(
            f"{path}: {labels.size} '{layout.label_key}' for {len(data)} images, expected one each"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= layout.num_classes):
        raise DataError(
            f"{path}: labels outside 0..{layout.num_classes - 1}; is this {layout.kind}?"
        )
    return data, labels


def _split(folder: Path, names: tuple[str, ...], layout: CifarLayout, raw: bool) -> ArraySplit:
    batches = [read_batch(folder / name, layout) for name in names]
    data = np.concatenate([b[0] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([b[1] for b in batches])
    return ArraySplit(
        inputs=torch.from_numpy(data),
        targets=torch.from_numpy(labels),
        scale=1.0 / 255.0,
        mean=None if raw else CIFAR_MEAN,
        std=None if raw else CIFAR_STD,
    )


def load_cifar(kind: str, path: str, *, raw: bool = False) -> LandscapeData:
    """Load ``cifar10:PATH`` or ``cifar100:PATH`` into tensors.

    Args:
        kind: ``"cifar10"`` or ``"cifar100"``.
        path: the batch folder or the folder holding it; ``~`` is expanded.
        raw: skip normalisation (pixels stay in [0, 1]), the reference's raw-data option.

    Raises:
        DataError: the folder or a training batch file is missing, or a batch file is
            malformed. A missing test batch leaves the test split ``None``.
    """
    layout = LAYOUTS[kind]
    folder = batch_folder(kind, path)
    has_test = has_test_batch(kind, folder)
    return LandscapeData(
        name=f"{kind}:{path}",
        train=_split(folder, layout.train_files, layout, raw),
        test=_split(folder, (layout.test_file,), layout, raw) if has_test else None,
        input_shape=INPUT_SHAPE,
        num_classes=layout.num_classes,
    )
