"""The small frozen records the store hands out instead of raw rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstui.store.states import JobState


@dataclass(frozen=True)
class PointRow:
    """One evaluated grid point; ``idx`` is its flat index in the job's grid.

    A value is ``None`` where the job did not compute it (``--split test`` leaves the
    train columns empty).
    """

    idx: int
    train_loss: float | None = None
    train_acc: float | None = None
    test_loss: float | None = None
    test_acc: float | None = None


@dataclass(frozen=True)
class JobRow:
    """One job as listings and detail views show it."""

    id: int
    name: str
    kind: str
    spec: dict[str, Any]
    state: JobState
    priority: int
    created: float
    started: float | None
    finished: float | None
    attempts: int
    error: str | None
    results_dir: Path
    total_points: int
    done_points: int
    device: str | None
    depends_on: tuple[int, ...] = ()
    run_s: float | None = None
    """Seconds spent running in the runs that ended (None: it never ran)."""
    run_since: float | None = None
    """When the current run began (None unless it runs)."""
    last_point: float | None = None
    """When the job's last point was stored (None unless it runs, or before its first)."""
    pace_since: float | None = None
    """The moment of its current run its rate is measured from: a minute or a little
    more back, or its first stored points while the run is younger (None unless it runs,
    and before the run's first points)."""
    pace_done: int | None = None
    """Its stored points at :attr:`pace_since`."""

    @property
    def progress(self) -> float:
        """Fraction of points stored, 0.0 to 1.0."""
        return self.done_points / self.total_points if self.total_points else 1.0

    @property
    def code(self) -> str:
        """The state's Slurm-style short code (PD, R, S, CD, F, CA)."""
        return self.state.code


@dataclass(frozen=True)
class UnitClaim:
    """A work unit leased to one worker until ``lease_expires`` (unix time).

    ``indices`` is the whole unit in the caller's order; ``todo`` is the part of it
    that has no stored point yet (a unit taken over from a dead worker is partly done).
    """

    unit_id: int
    job_id: int
    seq: int
    indices: tuple[int, ...]
    todo: tuple[int, ...]
    attempts: int
    lease_expires: float
    kind: str
    spec: dict[str, Any]
    results_dir: Path


@dataclass(frozen=True)
class UnitRow:
    """A work unit as stored (for the scheduler's and the TUI's views)."""

    id: int
    job_id: int
    seq: int
    indices: tuple[int, ...]
    state: str
    lease_owner: int | None
    lease_expires: float | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class WorkerRow:
    """A worker process registered by the scheduler, one per device."""

    id: int
    device: str
    pid: int
    host: str
    started: float
    heartbeat: float
    state: str
    current_job: int | None


@dataclass(frozen=True)
class Event:
    """A line of a job's (or, with ``job_id`` None, the daemon's) history."""

    id: int
    job_id: int | None
    ts: float
    level: str
    message: str
