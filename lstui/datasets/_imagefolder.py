"""Folders of images, one sub-folder per class, as torchvision's ``ImageFolder`` reads them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from lstui.datasets._arrays import ArraySplit, LandscapeData, channel_stats
from lstui.errors import DataError

#: The file endings torchvision's ImageFolder accepts.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _hidden(name: str) -> bool:
    """A file or folder no one means as data: ``.ipynb_checkpoints``, ``.DS_Store``,
    macOS's ``._x.png`` and ``__MACOSX``. torchvision would take such a folder for a
    class and fail on it (no image), so skipping them moves no class index."""
    return name.startswith(".") or name == "__MACOSX"


def _class_names(folder: Path) -> list[str]:
    # Every sub-folder, sorted, as torchvision does, so class indices match a model
    # trained with ImageFolder on the same folder.
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not _hidden(e.name))


def _image_files(folder: Path, *, first_only: bool = False) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
        for name in sorted(filenames):
            if name.lower().endswith(IMAGE_EXTENSIONS) and not _hidden(name):
                found.append(Path(dirpath) / name)
                if first_only:
                    return found
    return found


def _read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except Exception as exc:  # PIL raises OSError, ValueError and its own types
        raise DataError(f"cannot read image {path}: {exc}") from exc


def _read_split(
    folder: Path, classes: list[str], size: tuple[int, int] | None, first: Path | None
) -> tuple[torch.Tensor, torch.Tensor, Path]:
    """Read every image under ``folder/<class>/`` into ``N×3×H×W`` bytes and labels."""
    index = {name: i for i, name in enumerate(classes)}
    files: list[tuple[Path, int]] = []
    for name in _class_names(folder):
        if name not in index:
            raise DataError(
                f"{folder / name} is a class the train split lacks; "
                f"expected only {', '.join(classes)}"
            )
        images = _image_files(folder / name)
        if not images:
            raise DataError(
                f"class folder {folder / name} holds no images ({', '.join(IMAGE_EXTENSIONS)})"
            )
        files.extend((path, index[name]) for path in images)
    if not files:
        raise DataError(f"{folder} holds no class folders; expected {folder}/CLASS/IMAGE.png")

    pixels: np.ndarray | None = None
    for row, (path, _) in enumerate(files):
        image = _read_rgb(path)
        height, width = image.shape[:2]
        if size is None or first is None:
            size, first = (height, width), path
        if (height, width) != size:
            raise DataError(
                f"{path} is {width}×{height} but {first} is {size[1]}×{size[0]}; "
                "all images must share one size, resize the folder first"
            )
        if pixels is None:
            pixels = np.empty((len(files), 3, height, width), dtype=np.uint8)
        pixels[row] = image.transpose(2, 0, 1)
    assert pixels is not None and first is not None
    labels = np.array([label for _, label in files], dtype=np.int64)
    return torch.from_numpy(pixels), torch.from_numpy(labels), first


def _layout(path: str) -> tuple[Path, Path | None, list[str]]:
    """The train folder, the test folder (or None) and the class names of ``path``."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(
            f"image folder {root} does not exist or is not a folder; "
            "expected PATH/CLASS/IMAGE.png or PATH/train/CLASS/IMAGE.png"
        )
    train_dir, test_dir = root, None
    if (root / "train").is_dir():
        train_dir = root / "train"
        test_dir = next((root / n for n in ("test", "val") if (root / n).is_dir()), None)
    classes = _class_names(train_dir)
    if not classes:
        raise DataError(f"{train_dir} holds no class folders; expected {train_dir}/CLASS/IMAGE.png")
    if len(classes) == 1:  # a loss over one class is 0 everywhere: a flat, wrong landscape
        inner = train_dir / classes[0]
        hint = f"; did you mean imagefolder:{inner}?" if _class_names(inner) else ""
        raise DataError(
            f"{train_dir} holds one class folder ({classes[0]}); a landscape needs two classes "
            f"or more, each a folder of images{hint}"
        )
    return train_dir, test_dir, classes


def probe_imagefolder(path: str) -> tuple[tuple[int, ...], int, bool]:
    """The sample shape, class count and whether a test split exists, from the folder
    layout and the first image (the others are read by the job).

    Raises:
        DataError: a missing folder, fewer than two class folders, a class folder without
            an image (of either split), a test class the train split lacks, or an
            unreadable first image.
    """
    train_dir, test_dir, classes = _layout(path)
    first: Path | None = None
    # every class of both splits by its first image's name only (30,000 files: 0.4 s more)
    for folder, names in ((train_dir, classes), (test_dir, _class_names(test_dir) if test_dir else [])):
        if folder is None:
            continue
        if folder is test_dir and not names:
            raise DataError(f"{folder} holds no class folders; expected {folder}/CLASS/IMAGE.png")
        for name in names:
            if folder is test_dir and name not in classes:
                raise DataError(f"{folder / name} is a class the train split lacks; "
                                f"expected only {', '.join(classes)}")
            images = _image_files(folder / name, first_only=True)
            if not images:
                raise DataError(f"class folder {folder / name} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
            first = first or images[0]
    assert first is not None
    height, width = _read_rgb(first).shape[:2]
    return (3, height, width), len(classes), test_dir is not None


def load_imagefolder(path: str, *, raw: bool = False) -> LandscapeData:
    """Load ``imagefolder:PATH``: ``PATH/CLASS/*.png`` or ``PATH/{train,test|val}/CLASS/…``.

    With a ``train/`` sub-folder, it and ``test/`` (else ``val/``, else none) are the
    splits and the test classes are looked up by name among the train classes;
    otherwise the whole folder is the train split and there is no test split. Images
    are converted to RGB and kept as bytes (scale 1/255); all must share one size.

    Args:
        path: the folder; ``~`` is expanded.
        raw: skip normalisation; otherwise inputs are normalised with the train
            split's per-channel mean and (population) standard deviation.

    Raises:
        DataError: a missing folder, no images, an unreadable image or mixed sizes.
    """
    train_dir, test_dir, classes = _layout(path)
    train_x, train_y, first = _read_split(train_dir, classes, None, None)
    size = (train_x.shape[2], train_x.shape[3])
    mean, std = (None, None) if raw else channel_stats(train_x, 1.0 / 255.0)
    train = ArraySplit(train_x, train_y, 1.0 / 255.0, mean, std)
    test = None
    if test_dir is not None:
        test_x, test_y, _ = _read_split(test_dir, classes, size, first)
        test = ArraySplit(test_x, test_y, 1.0 / 255.0, mean, std)
    return LandscapeData(
        name=f"imagefolder:{path}",
        train=train,
        test=test,
        input_shape=tuple(train_x.shape[1:]),
        num_classes=len(classes),
    )
