"""Job specifications: validated once at the edge (flags, TOML files, the TUI form).

A :class:`JobSpec` is frozen and holds typed values; ``to_dict``/``from_dict`` give the
JSON the store keeps. This module imports no torch so that the CLI stays quick.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstui.errors import SpecError
from lstui.landscape.grid import Axis, SurfaceGrid, parse_axis
from lstui.landscape.options import (
    BN_MODES,
    COMPILE_MODES,
    DIR_TYPES,
    IGNORES,
    LOSSES,
    NORMS,
    PRECISIONS,
    PROJECTIONS,
    SPLITS,
    check_choice,
)

JOB_KINDS = ("surface", "interp", "trajectory", "figure")
MAX_NAME = 80
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _axis_text(axis: Axis | None) -> str | None:
    return None if axis is None else str(axis)


@dataclass(frozen=True)
class JobSpec:
    """Everything needed to compute one job, independent of where it runs."""

    kind: str = "surface"
    model: str = "cnn"
    checkpoint: str | None = None
    checkpoint_b: str | None = None
    checkpoints: tuple[str, ...] = ()
    data: str = "digits"
    x: Axis = field(default_factory=lambda: parse_axis("-1:1:51"))
    y: Axis | None = None
    norm: str = "filter"
    ignore: str = "biasbn"
    dir_type: str = "weights"
    target: str | None = None
    target_y: str | None = None
    dir_file: str | None = None
    split: str = "train"
    loss: str = "ce"
    subset: str | None = None
    data_split: int = 1
    raw_data: bool = False
    seed: int = 123
    batch_size: int | None = None
    precision: str = "fp32"
    bn: str = "eval"
    compile: str = "auto"
    projection: str = "cos"
    trust_checkpoint: bool = False
    name: str = ""
    priority: int = 0
    figure: Mapping[str, Any] | None = None

    @property
    def grid(self) -> SurfaceGrid:
        return SurfaceGrid(self.x, self.y)

    @property
    def splits(self) -> tuple[str, ...]:
        return ("train", "test") if self.split == "both" else (self.split,)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["x"] = _axis_text(self.x)
        out["y"] = _axis_text(self.y)
        out["checkpoints"] = list(self.checkpoints)
        out["figure"] = dict(self.figure) if self.figure is not None else None
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base: Path | None = None) -> JobSpec:
        """Validate a mapping (JSON from the store, a TOML table, form fields)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(
                f"unknown key {unknown[0]!r} in job spec; known keys: {', '.join(sorted(known))}"
            )
        values = dict(data)
        for key in ("x", "y"):
            if key in values and values[key] is not None and not isinstance(values[key], Axis):
                values[key] = parse_axis(str(values[key]), f"--{key}")
        if "checkpoints" in values:
            cps = values["checkpoints"]
            if isinstance(cps, str) or not isinstance(cps, list | tuple):
                raise SpecError("checkpoints must be a list of paths")
            values["checkpoints"] = tuple(str(c) for c in cps)
        try:
            spec = cls(**values)
        except TypeError as exc:
            raise SpecError(f"job spec: {exc}") from None
        return spec.validated(base=base)

    def validated(self, *, base: Path | None = None) -> JobSpec:
        """Check every field; resolve paths to absolute ones. Returns a new spec."""
        _check_type(self)
        check_choice(self.kind, JOB_KINDS, "kind")
        check_choice(self.norm, NORMS, "--norm")
        check_choice(self.ignore, IGNORES, "--ignore")
        check_choice(self.dir_type, DIR_TYPES, "--dir-type")
        check_choice(self.split, SPLITS, "--split")
        check_choice(self.loss, LOSSES, "--loss")
        check_choice(self.precision, PRECISIONS, "--precision")
        check_choice(self.bn, BN_MODES, "--bn")
        check_choice(self.compile, COMPILE_MODES, "--compile")
        check_choice(self.projection, PROJECTIONS, "--projection")
        if self.data_split < 1:
            raise SpecError(f"--data-split must be at least 1, got {self.data_split}")
        if self.batch_size is not None and self.batch_size < 1:
            raise SpecError(f"--batch-size must be at least 1, got {self.batch_size}")
        if _CONTROL.search(self.name) or len(self.name) > MAX_NAME:
            raise SpecError(
                f"--name must be at most {MAX_NAME} printable characters without control characters"
            )
        if not self.model.strip():
            raise SpecError("--model is empty; give a built-in name, torchvision:NAME or pkg.module:factory")
        if not self.data.strip():
            raise SpecError("--data is empty; give digits, cifar10:PATH, cifar100:PATH, imagefolder:PATH or pkg.module:factory")
        changes: dict[str, Any] = {}
        for key in ("checkpoint", "checkpoint_b", "target", "target_y", "dir_file"):
            value = getattr(self, key)
            if value is not None:
                changes[key] = _existing_file(value, f"--{key.replace('_', '-')}", base)
        if self.checkpoints:
            changes["checkpoints"] = tuple(
                _existing_file(c, "--checkpoints", base) for c in self.checkpoints
            )
        data = self.data
        kind, _, rest = data.partition(":")
        if kind in ("cifar10", "cifar100", "imagefolder") and rest:
            changes["data"] = f"{kind}:{_absolute(rest, base)}"
        spec = dataclasses.replace(self, **changes)
        if spec.kind == "interp":
            if spec.checkpoint is None or spec.checkpoint_b is None:
                raise SpecError("interp needs --checkpoint A and --checkpoint-b B")
            if spec.y is not None:
                raise SpecError("interp is one-dimensional; drop --y")
        if spec.kind == "trajectory" and len(spec.checkpoints) < 3:
            raise SpecError("trajectory needs at least 3 checkpoints (--checkpoints)")
        if spec.target_y is not None and spec.target is None:
            raise SpecError("--target-y needs --target")
        if spec.target_y is not None and spec.y is None:
            raise SpecError("--target-y needs a 2D grid (--y)")
        if spec.kind == "figure" and not spec.figure:
            raise SpecError("a figure job needs a figure description")
        return spec

    def default_name(self) -> str:
        if self.name:
            return self.name
        source = self.checkpoint or (self.checkpoints[-1] if self.checkpoints else "")
        stem = Path(source).stem if source else "init"
        if self.kind == "interp" and self.checkpoint_b:
            return f"interp {stem}→{Path(self.checkpoint_b).stem}"
        return f"{self.kind} {self.model} {stem} {self.grid.describe()}"


def _check_type(spec: JobSpec) -> None:
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if f.name in ("batch_size",) and value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise SpecError(f"{f.name} must be a whole number, got {value!r}")
        if f.name in ("data_split", "seed", "priority") and (not isinstance(value, int) or isinstance(value, bool)):
            raise SpecError(f"{f.name} must be a whole number, got {value!r}")
        if f.name in ("raw_data", "trust_checkpoint") and not isinstance(value, bool):
            raise SpecError(f"{f.name} must be true or false, got {value!r}")
        if f.name in ("model", "data", "name", "kind", "norm", "ignore", "dir_type", "split",
                      "loss", "precision", "bn", "compile", "projection") and not isinstance(value, str):
            raise SpecError(f"{f.name} must be a string, got {value!r}")


def _absolute(path: str, base: Path | None) -> str:
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    return str(p.resolve())


def _existing_file(path: str, flag: str, base: Path | None) -> str:
    if not isinstance(path, str) or not path:
        raise SpecError(f"{flag} must be a file path")
    resolved = _absolute(path, base)
    if not Path(resolved).is_file():
        raise SpecError(f"{flag} {path!r}: no such file")
    return resolved
