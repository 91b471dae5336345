"""User data sets named by import path: ``pkg.module:factory``."""

from __future__ import annotations

import importlib
import operator
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from lstui.datasets._arrays import ArraySplit, LandscapeData
from lstui.errors import DataError, described, module_file

FACTORY_PATTERN = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, np.ndarray):
        try:
            return torch.tensor(value)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise DataError(f"{what} is a {value.dtype} array, expected numbers") from exc
    raise DataError(
        f"{what} is a {type(value).__name__}, expected a tensor (add transforms.ToTensor()?)"
    )


def _label(value: Any, what: str) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    elif isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iu":
        value = value.item()
    try:
        label = operator.index(value)
    except TypeError as exc:
        raise DataError(f"{what} is {value!r}, expected an integer class index") from exc
    if label < 0:
        raise DataError(f"{what} is {label}, expected a class index of 0 or more")
    return label


def _targets(value: Any, what: str) -> torch.Tensor:
    targets = _as_tensor(value, what)
    if targets.is_floating_point() or targets.is_complex() or targets.dim() != 1:
        raise DataError(
            f"{what} must be a 1-D integer tensor, got {targets.dtype} "
            f"of shape {tuple(targets.shape)}"
        )
    targets = targets.to(torch.int64)
    if len(targets) and int(targets.min()) < 0:
        raise DataError(f"{what} holds negative class indices")
    return targets


def materialise(dataset: Any, what: str) -> ArraySplit:
    """Stack a data set into float32 inputs and int64 targets.

    ``dataset`` is an ``(X, y)`` pair of tensors (or arrays), a ``TensorDataset`` of two
    tensors, or anything with ``len`` and indexing that yields ``(input, label)``.
    """
    pair: tuple[Any, Any] | None = None
    if (
        isinstance(dataset, tuple)
        and len(dataset) == 2
        and all(isinstance(v, (torch.Tensor, np.ndarray)) for v in dataset)
    ):
        pair = (dataset[0], dataset[1])
    elif isinstance(dataset, TensorDataset) and len(dataset.tensors) == 2:
        pair = (dataset.tensors[0], dataset.tensors[1])

    if pair is not None:
        inputs = _as_tensor(pair[0], f"{what} inputs").to(torch.float32)
        targets = _targets(pair[1], f"{what} targets")
        if inputs.dim() < 2 or len(inputs) != len(targets):
            raise DataError(
                f"{what}: inputs of shape {tuple(inputs.shape)} do not match "
                f"{len(targets)} targets; expected N×… inputs and N targets"
            )
    else:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise DataError(
                f"{what} is a {type(dataset).__name__}; expected a Dataset with len() "
                "yielding (input, label), or an (X, y) pair of tensors"
            )
        count = len(dataset)
        inputs = torch.empty(0)
        labels = []
        for i in range(count):
            sample = dataset[i]
            if not (isinstance(sample, Sequence) and len(sample) == 2):
                raise DataError(f"{what}[{i}] is not an (input, label) pair")
            x = _as_tensor(sample[0], f"{what}[{i}] input")
            if i == 0:
                inputs = torch.empty((count, *x.shape), dtype=torch.float32)
            elif x.shape != inputs.shape[1:]:
                raise DataError(
                    f"{what}[{i}] input has shape {tuple(x.shape)} but {what}[0] has "
                    f"{tuple(inputs.shape[1:])}; all samples must share one shape"
                )
            inputs[i] = x
            labels.append(_label(sample[1], f"{what}[{i}] label"))
        targets = torch.tensor(labels, dtype=torch.int64)
    if len(targets) == 0:
        raise DataError(f"{what} is empty")
    return ArraySplit(inputs.contiguous(), targets)


def factory_function(spec: str) -> Any:
    """Import ``pkg.module:factory`` and return the factory, without calling it.

    Raises:
        DataError: the module does not import or has no such callable.
    """
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise DataError(f"cannot import {module_name} for data {spec}: {exc}") from exc
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
    if not callable(target):
        raise DataError(f"data {spec}: module {module_name!r}{module_file(module)} has no callable {attr!r}")
    return target


def _stated_classes(dataset: object) -> int | None:
    """The class count a data set states: ``num_classes``, or ``len(classes)`` as
    torchvision's data sets have it (None when it states neither)."""
    count = getattr(dataset, "num_classes", None)
    if count is None and isinstance(getattr(dataset, "classes", None), (list, tuple)):
        count = len(dataset.classes)  # type: ignore[attr-defined]
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None


def load_factory(spec: str) -> LandscapeData:
    """Import ``pkg.module:factory``, call it, and materialise what it returns.

    The factory takes no arguments and returns ``(train, test_or_None)``; each split is
    taken as :func:`materialise` describes and kept as given (no normalisation: the
    data set's own transforms apply). ``num_classes`` is what the train split states
    (``num_classes``, or ``len(classes)`` as torchvision's data sets have it), else the
    largest label plus one.

    Raises:
        DataError: the module does not import, the factory is missing, fails or returns
            something else.
    """
    target = factory_function(spec)
    try:
        result = target()
    except Exception as exc:
        raise DataError(f"data factory {spec} failed: {described(exc)}") from exc
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise DataError(
            f"data factory {spec} returned a {type(result).__name__}; "
            "expected (train_dataset, test_dataset_or_None)"
        )
    train = materialise(result[0], f"{spec} train split")
    test = None if result[1] is None else materialise(result[1], f"{spec} test split")
    input_shape = tuple(train.inputs.shape[1:])
    if test is not None and tuple(test.inputs.shape[1:]) != input_shape:
        raise DataError(
            f"data {spec}: test inputs have shape {tuple(test.inputs.shape[1:])}, "
            f"train inputs {input_shape}"
        )
    num_classes = int(train.targets.max()) + 1
    if test is not None:
        num_classes = max(num_classes, int(test.targets.max()) + 1)
    stated = _stated_classes(result[0])
    if stated is not None:
        if stated < num_classes:
            raise DataError(
                f"data {spec}: the train split states {stated} classes but holds label {num_classes - 1}"
            )
        num_classes = stated  # a subset that lacks the last classes still has them all
    return LandscapeData(
        name=spec, train=train, test=test, input_shape=input_shape, num_classes=num_classes
    )
