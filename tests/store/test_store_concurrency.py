"""Many real processes on one database file at once (multiprocessing, spawn)."""

from __future__ import annotations

import multiprocessing as mp
import time
from collections import Counter
from pathlib import Path
from typing import Any

from lstui.store import JobState, Store
from tests.store import procs


def _run_all(
    target: Any, args_for: list[tuple[Any, ...]], *, method: str = "spawn", timeout: float = 90
) -> list[Any]:
    """Start one process per argument tuple, all released together by a barrier."""
    ctx: Any = mp.get_context(method)
    if method == "forkserver":  # children fork from a server that imported these once
        ctx.set_forkserver_preload(["lstui.store", "tests.store.procs"])
    out = ctx.Queue()
    start = ctx.Barrier(len(args_for))
    children = [ctx.Process(target=target, args=(*args, start, out)) for args in args_for]
    for child in children:
        child.start()
    results = [out.get(timeout=timeout) for _ in children]
    for child in children:
        child.join(timeout=timeout)
        assert child.exitcode == 0
    return results


def test_eight_workers_claim_every_unit_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "lstui.db"
    with Store(db) as store:
        job = store.add_job(
            kind="surface",
            name="race",
            spec={},
            total_points=200,
            units=[[i] for i in range(200)],
            results_root=tmp_path,
        )

    began = time.perf_counter()
    results = _run_all(procs.claim_until_empty, [(str(db), job)] * 8)
    print(f"\n8 workers, 200 units: {time.perf_counter() - began:.2f} s")

    assert [kind for kind, _ in results] == ["ok"] * 8, results
    claims = Counter(unit for _, units in results for unit in units)
    assert sorted(claims) == list(range(1, 201))
    assert set(claims.values()) == {1}
    with Store(db) as store:
        row = store.get_job(job)
        assert row.state is JobState.DONE
        assert row.done_points == store.point_count(job) == 200
        points = store.points(job)
        assert [p.idx for p in points] == list(range(200))
        assert all(p.train_loss == float(p.idx**2) for p in points)
        assert {(u.state, u.attempts) for u in store.units(job)} == {("done", 1)}
        assert len(store.workers()) == 8


def test_fifty_processes_add_a_job_each_at_once(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "lstui.db"  # nobody has created it yet
    began = time.perf_counter()
    args = [(str(db), str(tmp_path / "r"), n) for n in range(50)]
    results = _run_all(procs.add_one_job, args, method="forkserver")
    print(f"\n50 processes adding a job: {time.perf_counter() - began:.2f} s")

    assert [kind for kind, _ in results] == ["ok"] * 50, results
    assert sorted(job_id for _, job_id in results) == list(range(1, 51))
    with Store(db) as store:
        jobs = store.list_jobs()
        assert len(jobs) == 50
        assert sorted(j.spec["n"] for j in jobs) == list(range(50))
        assert all(len(store.units(j.id)) == 2 for j in jobs)
