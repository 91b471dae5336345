"""Queueing jobs: a validated JobSpec becomes a job row and its work units."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lstui.errors import SpecError
from lstui.spec import JobSpec
from lstui.store import Store

DEFAULT_UNIT_SIZE = 16
MAX_UNIT_SIZE = 10_000


def results_root(store: Store) -> Path:
    """Where the results folders of a store's jobs live: ``HOME/results``."""
    return store.path.parent / "results"


def submit_spec(
    store: Store,
    spec: JobSpec,
    *,
    unit_size: int = DEFAULT_UNIT_SIZE,
    depends_on: Sequence[int] = (),
) -> int:
    """Queue ``spec`` with its points cut into coarse-to-fine units; returns the job id."""
    if not 1 <= unit_size <= MAX_UNIT_SIZE:
        raise SpecError(f"--unit-size must be between 1 and {MAX_UNIT_SIZE}, got {unit_size}")
    if spec.kind == "figure":
        units: list[list[int]] = [[0]]
        total = 1
    else:
        grid = spec.grid
        units = grid.work_units(unit_size)
        total = grid.num_points
    return store.add_job(
        kind=spec.kind,
        name=spec.default_name(),
        spec=spec.to_dict(),
        total_points=total,
        units=units,
        priority=spec.priority,
        depends_on=tuple(depends_on),
        results_root=results_root(store),
    )
