"""Turning a JobSpec into an Evaluator, and points into surface files.

This is where models, data, directions and files meet; both the foreground
``lstui run`` and the daemon's workers go through it, so they compute the same numbers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lstui.datasets import ArraySplit, LandscapeData, load_data
from lstui.errors import BadInput
from lstui.landscape.directions import (
    Direction,
    check_direction_fits,
    create_random_direction,
    model_tensors,
    target_direction,
)
from lstui.landscape.evaluator import EvalData, Evaluator, PointResult
from lstui.landscape.grid import SurfaceGrid
from lstui.models import load_model
from lstui.results import (
    SURFACE_KEYS,
    SurfaceFile,
    read_directions,
    read_surface,
    write_directions,
)
from lstui.spec import JobSpec

DIRECTIONS_FILE = "directions.h5"
SURFACE_FILE = "surface.h5"
SPEC_FILE = "spec.json"


@dataclass
class PreparedJob:
    """A job ready to evaluate points on one device."""

    spec: JobSpec
    grid: SurfaceGrid
    evaluator: Evaluator
    dir_file: Path

    def evaluate(self, index: int) -> PointResult:
        x, y = self.grid.coordinates_of(index)
        return self.evaluator.evaluate(x, y)


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BadInput(f"device {device!r} asked for, but CUDA is not available here; use cpu")
    return dev


def _eval_data(split: ArraySplit | None) -> EvalData | None:
    if split is None:
        return None
    return EvalData(split.inputs, split.targets, split.scale, split.mean, split.std)


def load_job_data(spec: JobSpec) -> LandscapeData:
    return load_data(
        spec.data, raw=spec.raw_data, subset=spec.subset, seed=spec.seed, data_split=spec.data_split
    )


def build_centre(spec: JobSpec, data: LandscapeData, checkpoint: str | None = None) -> torch.nn.Module:
    """The model at the centre θ*: built (seeded when it has no checkpoint) and loaded."""
    torch.manual_seed(spec.seed)
    return load_model(
        spec.model,
        checkpoint if checkpoint is not None else spec.checkpoint,
        input_shape=data.input_shape,
        num_classes=data.num_classes,
        trust=spec.trust_checkpoint,
    )


def make_directions(spec: JobSpec, model: torch.nn.Module, data: LandscapeData) -> list[Direction]:
    """The job's x (and y) directions, from its settings (not from a file)."""
    centre = [t.detach().cpu() for t in model_tensors(model, spec.dir_type)]
    if spec.kind == "interp":
        other = build_centre(spec, data, spec.checkpoint_b)
        return [target_direction(centre, [t.cpu() for t in model_tensors(other, spec.dir_type)])]
    dirs: list[Direction] = []
    generator = torch.Generator().manual_seed(spec.seed)
    for target in (spec.target, spec.target_y if spec.y is not None else None):
        if len(dirs) == (1 if spec.y is None else 2):
            break
        if target is not None:
            other = build_centre(spec, data, target)
            dirs.append(target_direction(centre, [t.cpu() for t in model_tensors(other, spec.dir_type)]))
        else:
            dirs.append(
                create_random_direction(
                    model, generator, dir_type=spec.dir_type, norm=spec.norm, ignore=spec.ignore
                )
            )
    return dirs


def load_or_make_directions(
    spec: JobSpec, model: torch.nn.Module, data: LandscapeData, results_dir: Path
) -> tuple[list[Direction], Path]:
    """Read ``--dir-file`` or the job's own direction file; create and write it if absent."""
    tensors = model_tensors(model, spec.dir_type)
    wanted = 1 if spec.y is None else 2
    path = Path(spec.dir_file) if spec.dir_file else results_dir / DIRECTIONS_FILE
    if path.exists():
        x, y, _ = read_directions(path)
        dirs = [x] if wanted == 1 else [x] + ([y] if y is not None else [])
        if len(dirs) < wanted:
            raise BadInput(f"direction file {str(path)!r} has no ydirection, but the grid is 2D")
        for n, d in enumerate(dirs):
            check_direction_fits(d, tensors, f"direction file {str(path)!r} ({'xy'[n]})")
        return dirs, path
    if spec.dir_file:
        raise BadInput(f"--dir-file {spec.dir_file!r}: no such file")
    dirs = make_directions(spec, model, data)
    write_directions(path, dirs[0], dirs[1] if len(dirs) > 1 else None)
    return dirs, path


def prepare_job(
    spec: JobSpec,
    results_dir: Path,
    *,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
) -> PreparedJob:
    """Build the model, data, directions and Evaluator of ``spec`` on ``device``."""
    dev = resolve_device(device)
    data = load_job_data(spec)
    model = build_centre(spec, data)
    dirs, dir_path = load_or_make_directions(spec, model, data, results_dir)
    evaluator = Evaluator(
        model,
        dirs,
        dir_type=spec.dir_type,
        train=_eval_data(data.train) if "train" in spec.splits else None,
        test=_eval_data(data.test) if "test" in spec.splits else None,
        device=dev,
        loss=spec.loss,
        batch_size=batch_size or spec.batch_size,
        precision=spec.precision,
        bn=spec.bn,
    )
    if "test" in spec.splits and data.test is None:
        raise BadInput(f"--split {spec.split}: the data set {spec.data!r} has no test split")
    return PreparedJob(spec, spec.grid, evaluator, dir_path)


def empty_surface(spec: JobSpec, dir_file: Path | str) -> SurfaceFile:
    grid = spec.grid
    arrays = {}
    for split in spec.splits:
        for what in ("loss", "acc"):
            arrays[f"{split}_{what}"] = np.full(grid.shape, -1.0)
    y = grid.y.coordinates if grid.y is not None else None
    return SurfaceFile(grid.x.coordinates, y, arrays, str(dir_file), {"lstui_spec": json.dumps(spec.to_dict())})


def assemble_surface(
    spec: JobSpec, dir_file: Path | str, points: Iterable[tuple[int, Mapping[str, float | None]]]
) -> SurfaceFile:
    """A surface file holding ``points`` (flat index → values); the rest stays −1."""
    surface = empty_surface(spec, dir_file)
    for idx, values in points:
        for key in SURFACE_KEYS:
            if key in surface.arrays:
                v = values.get(key)
                surface.arrays[key].flat[idx] = math.nan if v is None else v
    return surface


def surface_points(surface: SurfaceFile) -> dict[int, dict[str, float]]:
    """The computed points of a surface file, by flat index."""
    keys = [k for k in SURFACE_KEYS if k in surface.arrays]
    if not keys:
        return {}
    done = np.flatnonzero(surface.computed(keys[0]).ravel())
    return {int(i): {k: float(surface.arrays[k].flat[i]) for k in keys} for i in done}


def existing_points(spec: JobSpec, out: Path) -> dict[int, dict[str, float]]:
    """Points already in ``out/surface.h5`` if it belongs to the same job; else an error."""
    path = out / SURFACE_FILE
    if not path.exists():
        return {}
    surface = read_surface(path)
    saved = surface.attrs.get("lstui_spec")
    if saved is not None and _compute_keys(json.loads(saved)) != _compute_keys(spec.to_dict()):
        raise BadInput(
            f"{str(out)!r} holds a surface of other settings; use another --out or remove it"
        )
    if surface.shape != spec.grid.shape:
        raise BadInput(f"{str(path)!r} has grid {surface.shape}, this job {spec.grid.shape}")
    return surface_points(surface)


def _compute_keys(d: Mapping[str, object]) -> dict[str, object]:
    """The settings that change the numbers (not the name, priority or batch size)."""
    ignore = {"name", "priority", "batch_size", "compile", "figure"}
    return {k: v for k, v in d.items() if k not in ignore}


ProgressCallback = Callable[[int, PointResult], None]
