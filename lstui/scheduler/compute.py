"""Turning a JobSpec into an Evaluator, and points into surface files.

This is where models, data, directions and files meet; both the foreground
``lstui run`` and the daemon's workers go through it, so they compute the same numbers.
torch and the modules built on it are imported inside the functions that compute: the
daemon only assembles surface files here and stays light without them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lstui.errors import BadInput, SpecError
from lstui.landscape.grid import SurfaceGrid
from lstui.results import (
    SURFACE_KEYS,
    SurfaceFile,
    read_direction_attrs,
    read_directions,
    read_surface,
    write_directions,
)
from lstui.spec import JobSpec, checked_against_data

if TYPE_CHECKING:
    import torch

    from lstui.datasets import ArraySplit, LandscapeData
    from lstui.landscape.directions import Direction
    from lstui.landscape.evaluator import EvalData, Evaluator, PointResult

DIRECTIONS_FILE = "directions.h5"
SURFACE_FILE = "surface.h5"
SPEC_FILE = "spec.json"
CORRUPT_SUFFIX = ".corrupt-"
"""A damaged file of lstui's own is moved aside to ``NAME.corrupt-YYYYmmdd-HHMMSS``."""

log = logging.getLogger("lstui.compute")

NoteCallback = Callable[[str], None]
"""Receives a line worth a job event (a warning a person should see)."""


@dataclass
class PreparedJob:
    """A job ready to evaluate points on one device."""

    spec: JobSpec
    grid: SurfaceGrid
    evaluator: Evaluator
    dir_file: Path
    notes: list[str] = field(default_factory=list)
    """Warnings from the preparation (a damaged direction file made again), for events."""

    def evaluate(self, index: int) -> PointResult:
        x, y = self.grid.coordinates_of(index)
        return self.evaluator.evaluate(x, y)


def resolve_device(device: str | torch.device | None) -> torch.device:
    import torch

    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        dev = device
    elif re.fullmatch(r"cpu|cuda(:\d{1,4})?", device.strip()):
        dev = torch.device(device.strip())
    else:
        raise BadInput(f"device {device!r}: expected auto, cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BadInput(f"device {str(device)!r} asked for, but CUDA is not available here; use cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise BadInput(
            f"device {str(device)!r} asked for, but this machine has {count} CUDA "
            f"device{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1})"
        )
    return dev


def _eval_data(split: ArraySplit | None) -> EvalData | None:
    from lstui.landscape.evaluator import EvalData

    if split is None:
        return None
    return EvalData(split.inputs, split.targets, split.scale, split.mean, split.std)


def load_job_data(spec: JobSpec) -> LandscapeData:
    from lstui.datasets import load_data

    return load_data(
        spec.data, raw=spec.raw_data, subset=spec.subset, seed=spec.seed, data_split=spec.data_split
    )


def build_centre(spec: JobSpec, data: LandscapeData, checkpoint: str | None = None) -> torch.nn.Module:
    """The model at the centre θ*: built (seeded when it has no checkpoint) and loaded."""
    import torch

    from lstui.models import load_model

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
    import torch

    from lstui.landscape.directions import (
        create_random_direction,
        model_tensors,
        target_direction,
    )

    centre = [t.detach().cpu() for t in model_tensors(model, spec.dir_type)]

    def towards(flag: str, path: str | None) -> Direction:
        """The direction from the centre to the model of ``path``; a zero one refused
        (a copy of the centre given as B or a target drew a flat curve, with no word why)."""
        other = build_centre(spec, data, path)
        direction = target_direction(centre, [t.cpu() for t in model_tensors(other, spec.dir_type)])
        if all(not bool(t.any()) for t in direction):
            hint = "; --dir-type states moves BatchNorm's statistics too" if spec.dir_type == "weights" else ""
            raise SpecError(f"{flag} {path}: the direction towards it is zero (its {spec.dir_type} are "
                            f"--checkpoint's{hint}); give another checkpoint")
        return direction

    if spec.kind == "interp":
        return [towards("--checkpoint-b", spec.checkpoint_b)]
    dirs: list[Direction] = []
    generator = torch.Generator().manual_seed(spec.seed)
    for flag, target in (("--target", spec.target), ("--target-y", spec.target_y if spec.y is not None else None)):
        if len(dirs) == (1 if spec.y is None else 2):
            break
        if target is not None:
            dirs.append(towards(flag, target))
            if len(dirs) == 2 and all(torch.equal(a, b) for a, b in zip(dirs[0], dirs[1], strict=True)):
                raise SpecError(f"--target-y {target}: its direction is --target's, and the plane would be a "
                                "line; give another checkpoint")
        else:
            dirs.append(
                create_random_direction(
                    model, generator, dir_type=spec.dir_type, norm=spec.norm, ignore=spec.ignore
                )
            )
    return dirs


def set_aside(path: Path) -> Path:
    """Move a damaged file to ``NAME.corrupt-YYYYmmdd-HHMMSS`` next to it; returns the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}{CORRUPT_SUFFIX}{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}{CORRUPT_SUFFIX}{stamp}-{n}")
    os.replace(path, target)
    return target


def read_fitting_directions(
    path: Path, tensors: list[torch.Tensor], wanted: int
) -> list[Direction]:
    from lstui.landscape.directions import check_direction_fits

    x, y, _ = read_directions(path)
    dirs = [x] if wanted == 1 else [x] + ([y] if y is not None else [])
    if len(dirs) < wanted:
        raise BadInput(f"direction file {str(path)!r} has no ydirection, but the grid is 2D")
    dirs = [_with_counters(d, tensors) for d in dirs]
    for n, d in enumerate(dirs):
        check_direction_fits(d, tensors, f"direction file {str(path)!r} ({'xy'[n]})")
    return dirs


def _with_counters(direction: Direction, tensors: list[torch.Tensor]) -> Direction:
    """A states direction made before PyTorch 0.4.1 (the reference's time), whose models
    had no BatchNorm ``num_batches_tracked``: a zero stands in for each of those integer
    counters, which no direction moves; any other direction as it is."""
    import torch

    counters = [not t.is_floating_point() for t in tensors]
    if not any(counters) or len(direction) != len(tensors) - sum(counters):
        return direction
    given = iter(direction)
    return [torch.zeros(tuple(t.shape)) if counter else next(given)
            for t, counter in zip(tensors, counters, strict=True)]


def load_or_make_directions(
    spec: JobSpec,
    model: torch.nn.Module,
    data: LandscapeData,
    results_dir: Path,
    *,
    on_note: NoteCallback | None = None,
) -> tuple[list[Direction], Path]:
    """Read ``--dir-file`` or the job's own direction file; create and write it if absent.

    The job's own ``directions.h5`` is derived from its settings (seed, checkpoints), so a
    damaged one is moved aside (:func:`set_aside`) and made again, identical to the
    original, with a note to ``on_note``. A damaged ``--dir-file`` is the person's file:
    that is a :class:`BadInput` naming it.
    """
    from lstui.landscape.directions import model_tensors

    tensors = model_tensors(model, spec.dir_type)
    wanted = 1 if spec.y is None else 2
    path = Path(spec.dir_file) if spec.dir_file else results_dir / DIRECTIONS_FILE
    if spec.dir_file:
        if not path.exists():
            raise BadInput(f"--dir-file {spec.dir_file!r}: no such file")
        if not path.is_file():
            raise BadInput(f"--dir-file {spec.dir_file!r}: not a regular file")
        try:
            return read_fitting_directions(path, tensors, wanted), path
        except BadInput as exc:
            raise BadInput(f"--dir-file: {exc}") from None
    key = directions_key(spec)
    if path.exists():
        try:
            return _own_directions(path, key, tensors, wanted), path
        except BadInput as exc:
            damage = exc
        with contextlib.suppress(BadInput):
            # another worker of the job may have set it aside and written it meanwhile
            return _own_directions(path, key, tensors, wanted), path
        aside: Path | None = None
        with contextlib.suppress(FileNotFoundError):
            aside = set_aside(path)
        note = (
            f"{damage}; moved it to {aside.name if aside else 'one side'} and made the "
            f"directions again from the job's settings (seed {spec.seed})"
        )
        if on_note is not None:  # said once: by the caller (`lstui run` printed it twice)
            on_note(note)
        else:
            log.warning("%s", note)
    dirs = make_directions(spec, model, data)
    write_directions(path, dirs[0], dirs[1] if len(dirs) > 1 else None, attrs={DIRECTIONS_KEY: key})
    return dirs, path


DIRECTIONS_KEY = "lstui_directions"
"""The attribute of a job's own direction file that names the settings that made it."""


def directions_key(spec: JobSpec) -> str:
    """The settings a job's own directions are made from, as text: the model and its
    checkpoints (with their digests), the kind of direction, its normalisation and seed."""
    files = [f for f in (spec.checkpoint, spec.checkpoint_b, spec.target, spec.target_y) if f]
    made_from = {
        "kind": spec.kind, "model": spec.model, "checkpoint": spec.checkpoint,
        "checkpoint_b": spec.checkpoint_b, "target": spec.target, "target_y": spec.target_y,
        "dir_type": spec.dir_type, "norm": spec.norm, "ignore": spec.ignore, "seed": spec.seed,
        "digests": {f: (spec.digests or {}).get(f) for f in files},
    }
    return json.dumps(made_from, sort_keys=True)


def _own_directions(path: Path, key: str, tensors: list[torch.Tensor], wanted: int) -> list[Direction]:
    """The job's own direction file, if it was made from ``key``'s settings (a file that
    does not say, from an earlier lstui, is taken as it is) and fits the model."""
    made_from = read_direction_attrs(path).get(DIRECTIONS_KEY)
    if made_from is not None and made_from != key:
        settings = json.loads(made_from) if made_from.startswith("{") else {}
        differ = [k for k, v in json.loads(key).items() if settings.get(k) != v]
        what = " and ".join(differ) if len(differ) <= 2 else f"{len(differ)} settings"
        raise BadInput(
            f"direction file {str(path)!r} was made for other settings "
            f"(its {what or 'settings'} {'differs' if len(differ) == 1 else 'differ'})"
        )
    return read_fitting_directions(path, tensors, wanted)


def no_test_split(spec: JobSpec) -> BadInput:
    """The error for a job that asks for a test split its data set lacks."""
    from lstui.datasets import missing_test_hint

    return BadInput(
        f"--split {spec.split}: the data set {spec.data!r} has no test split{missing_test_hint(spec.data)}"
    )


def prepare_job(
    spec: JobSpec,
    results_dir: Path,
    *,
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    on_note: NoteCallback | None = None,
) -> PreparedJob:
    """Build the model, data, directions and Evaluator of ``spec`` on ``device``.

    Warnings a person should see (a damaged direction file made again) go to
    ``on_note`` as they happen and are kept in :attr:`PreparedJob.notes`.
    """
    from lstui.landscape.evaluator import Evaluator

    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        if on_note is not None:
            on_note(text)

    from lstui.models import check_takes_inputs
    from lstui.scheduler.imports import add_import_path, fresh_factories
    from lstui.scheduler.preflight import check_unchanged

    add_import_path(spec.import_path)  # the person's own modules, where they were queued from
    fresh_factories(spec)  # ... as they are now, not as an earlier job of this worker had them

    if spec.trust_checkpoint:  # a file swapped in since would be unpickled, code and all
        check_unchanged(spec)
    dev = resolve_device(device)
    data = load_job_data(spec)
    if "test" in spec.splits and data.test is None:  # before a file is written
        raise no_test_split(spec)
    model = build_centre(spec, data)
    if checked_against_data(spec.model):  # PyTorch's shape error, said as one line before the first point
        check_takes_inputs(model, spec.model, data.input_shape, data.num_classes)
    # a checkpoint changed since the job was queued: after its loader (a damaged or
    # untrusted file is told in its words), before directions are made from it
    if not spec.trust_checkpoint:  # (checked first, above)
        check_unchanged(spec, [f for f in (spec.digests or {}) if f != spec.dir_file])
    dirs, dir_path = load_or_make_directions(spec, model, data, results_dir, on_note=note)
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
        compile=spec.compile,
        fold_bn=spec.fold_bn,
        triton_conv=spec.triton_conv,
        expected_points=spec.grid.num_points,
    )
    if spec.dir_file and not spec.trust_checkpoint:  # the person's direction file, likewise after its reader
        check_unchanged(spec, [spec.dir_file])
    return PreparedJob(spec, spec.grid, evaluator, dir_path, notes)


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


def existing_points(
    spec: JobSpec, out: Path, *, on_note: NoteCallback | None = None
) -> dict[int, dict[str, float]]:
    """Points already in ``out/surface.h5`` if it belongs to the same job; else an error.

    A damaged or truncated surface file cannot say which points it held: it is moved
    aside (:func:`set_aside`), with a note to ``on_note``, and the job starts afresh.
    """
    path = out / SURFACE_FILE
    if not path.exists():
        return {}
    try:
        surface = read_surface(path)
    except BadInput as exc:
        aside = set_aside(path)
        note = f"{exc}; moved it to {aside.name} and computing every point again"
        if on_note is not None:  # said once: by the caller (`lstui run` printed it twice)
            on_note(note)
        else:
            log.warning("%s", note)
        return {}
    saved = surface.attrs.get("lstui_spec")
    try:
        saved_spec = json.loads(saved) if saved is not None else None
    except ValueError:
        saved_spec = {}
    if saved_spec is not None and not isinstance(saved_spec, dict):
        saved_spec = {}
    if saved_spec is not None:
        saved_keys, keys = compute_keys(saved_spec), compute_keys(spec.to_dict())
        saved_digests, digests = saved_keys.pop("digests", None), keys.pop("digests", None)
        if saved_keys != keys:
            differ = sorted(k for k in {*saved_keys, *keys} if saved_keys.get(k) != keys.get(k))
            shown = ", ".join(f"{k} {saved_keys.get(k)!r} there, {keys.get(k)!r} here" for k in differ[:2])
            more = f" and {len(differ) - 2} more" if len(differ) > 2 else ""
            raise BadInput(
                f"{str(out)!r} holds a surface of other settings ({shown}{more}); use another --out or remove it"
            )
        # (a file written before lstui kept digests has none to compare)
        if isinstance(saved_digests, dict) and isinstance(digests, dict):
            changed = [f for f, d in digests.items() if saved_digests.get(f, d) != d]
            if changed:
                raise BadInput(
                    f"{str(out)!r} holds a surface computed from other contents of "
                    f"{changed[0]!r} (the file changed since); use another --out or remove it"
                )
    if surface.shape != spec.grid.shape:
        raise BadInput(f"{str(path)!r} has grid {surface.shape}, this job {spec.grid.shape}")
    return surface_points(surface)


def compute_keys(d: Mapping[str, object]) -> dict[str, object]:
    """The settings that change the numbers (not the name, priority or batch size; the
    batch size does under ``--bn recompute``: the statistics are averages over batches)."""
    ignore = {"name", "priority", "batch_size", "compile", "fold_bn", "triton_conv", "figure", "import_path"}
    keys = {k: v for k, v in d.items() if k not in ignore}
    if d.get("bn") == "recompute":  # (none given is the default, the same numbers)
        # imported here only: it imports torch, 2 s of every submit's same-numbers check
        from lstui.landscape.evaluator import BN_RECOMPUTE_BATCH

        keys["batch_size"] = d.get("batch_size") or BN_RECOMPUTE_BATCH
    return keys

