"""Code run in child processes (spawned) by the concurrency tests.

Kept apart from the test modules so a child imports only lstui.store, not pytest.
"""

from __future__ import annotations

import os
import sqlite3
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from lstui.errors import StoreError
from lstui.store import PointRow, Store


def claim_until_empty(db: str, job_id: int, start: Barrier, out: Queue) -> None:
    """Claim, compute (idx squared) and complete units until none is left."""
    claimed: list[int] = []
    try:
        with Store(Path(db)) as store:
            worker = store.register_worker(f"cpu:{os.getpid()}", os.getpid(), "test")
            start.wait(timeout=60)
            while (claim := store.claim_unit(worker, lease_s=60, job_ids=[job_id])) is not None:
                claimed.append(claim.unit_id)
                rows = [PointRow(i, float(i * i), 1.0, None, None) for i in claim.todo]
                store.write_points(claim.unit_id, worker, rows)
                if not store.complete_unit(claim.unit_id, worker):
                    raise AssertionError(f"lost the lease of unit {claim.unit_id}")
            store.retire_worker(worker)
        out.put(("ok", claimed))
    except (StoreError, sqlite3.Error, AssertionError) as exc:
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def add_one_job(db: str, results_root: str, n: int, start: Barrier, out: Queue) -> None:
    """Open the (possibly not yet existing) store and queue one job, all at once."""
    try:
        start.wait(timeout=60)
        with Store(Path(db)) as store:
            job_id = store.add_job(
                kind="interp",
                name=f"job {n}",
                spec={"n": n},
                total_points=3,
                units=[[0, 2], [1]],
                results_root=Path(results_root),
            )
        out.put(("ok", job_id))
    except (StoreError, sqlite3.Error) as exc:
        out.put(("error", f"{type(exc).__name__}: {exc}"))
