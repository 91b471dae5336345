"""Helpers shared by the store tests."""

from __future__ import annotations

from pathlib import Path

from lstui.store import PointRow, Store


class FakeClock:
    """Unix time that moves only when a test says so."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def add_job(
    store: Store,
    tmp_path: Path,
    *,
    points: int = 4,
    unit_size: int = 1,
    name: str = "job",
    **kwargs: object,
) -> int:
    """Queue a job of ``points`` points in units of ``unit_size``, in index order."""
    units = [list(range(i, min(i + unit_size, points))) for i in range(0, points, unit_size)]
    return store.add_job(
        kind="surface",
        name=name,
        spec={"model": "resnet56", "x": [-1.0, 1.0, points]},
        total_points=points,
        units=units,
        results_root=tmp_path / "results",
        **kwargs,  # type: ignore[arg-type]
    )


def finish_job(store: Store, worker: int, job_id: int) -> None:
    """Claim, compute and complete every unit of one job."""
    while (claim := store.claim_unit(worker, lease_s=60, job_ids=[job_id])) is not None:
        store.write_points(claim.unit_id, worker, [PointRow(i, float(i)) for i in claim.todo])
        assert store.complete_unit(claim.unit_id, worker)
