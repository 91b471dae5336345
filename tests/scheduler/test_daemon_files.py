"""The daemon's file work at its edges: a stop that comes while files wait to be written,
points stored after a job was cancelled, workers killed by a stop in the middle of a
point. Real stores, real result files, real (dead) processes; the daemon object is
driven in this process, its loop left out.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lstui.landscape.grid import parse_axis
from lstui.results import read_surface
from lstui.scheduler import daemon as daemon_module
from lstui.scheduler.daemon import FINISH_MARK, Daemon, finish_marked
from lstui.scheduler.submit import submit_spec
from lstui.spec import JobSpec
from lstui.store import JobState, PointRow, Store


def _job(store: Store, name: str) -> int:
    spec = JobSpec(model="mlp", data="digits", x=parse_axis("-1:1:3"), y=parse_axis("-1:1:3"),
                   name=name).validated()
    return submit_spec(store, spec, unit_size=3)


def _compute(store: Store, worker: int, job_id: int, units: int) -> None:
    for _ in range(units):
        claim = store.claim_unit(worker, lease_s=60, job_ids=[job_id])
        assert claim is not None
        store.write_points(claim.unit_id, worker, [PointRow(i, 1.0 + i, 50.0) for i in claim.todo])
        assert store.complete_unit(claim.unit_id, worker)


def _two_finished(store: Store) -> list[int]:
    """Two 3×3 jobs, every point stored, their files not written."""
    worker = store.register_worker("cpu", os.getpid(), socket.gethostname())
    jobs = [_job(store, "first"), _job(store, "second")]
    for job_id in jobs:
        _compute(store, worker, job_id, 3)
    return jobs


def _daemon(home: Path) -> Daemon:
    daemon = Daemon(home, [], export_formats=())
    daemon._writer = ThreadPoolExecutor(max_workers=1)
    return daemon


def test_a_stop_while_finished_jobs_wait_for_their_files_writes_them(tmp_path: Path) -> None:
    """``submit --wait … && daemon stop``: the stop cancelled the file work still queued,
    and the jobs, already counted as handled, were left with no surface file for good."""
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        jobs = _two_finished(store)
        daemon = _daemon(home)
        busy = threading.Event()
        assert daemon._writer is not None
        daemon._writer.submit(busy.wait, 1.0)  # the writer is busy: both jobs wait in its queue
        daemon._write_results(store)
        assert set(daemon._pending) == set(jobs)
        daemon._shutdown(store, timeout_s=1.0)
        for job_id in jobs:
            job = store.get_job(job_id)
            assert finish_marked(job), job.results_dir
            assert read_surface(job.results_dir / "surface.h5").computed().all()
            # its settings beside it, as `lstui run` leaves them (a daemon's folder had none)
            assert json.loads((job.results_dir / "spec.json").read_text()) == job.spec


def test_a_stop_leaves_a_backlog_of_figures_to_the_next_daemon_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hundreds of finished jobs waiting for figures (drawn at 2.3 jobs a second) held a
    stop for 90 s: ``lstui daemon stop`` gave up after 60 s and said it had not stopped."""
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        jobs = _two_finished(store)
        monkeypatch.setattr(daemon_module, "STOP_BUDGET_S", 0.0)  # the stop's time is up at once
        monkeypatch.setattr(daemon_module, "FINAL_WRITES_MIN_S", 0.0)
        daemon = _daemon(home)
        daemon._shutdown(store, timeout_s=1.0)
        assert not any(finish_marked(store.get_job(job_id)) for job_id in jobs)
        said = [e.message for e in store.events() if e.job_id is None]
        assert ("stopping: the figures of 2 finished jobs are left to the next daemon "
                "(lstui daemon start writes them)") in said
        later = _daemon(home)  # the next daemon
        later._load_marks(store)
        later._write_results(store, wait=True)
        assert all(finish_marked(store.get_job(job_id)) for job_id in jobs)


def test_between_full_looks_the_daemon_reads_only_unfinished_and_lately_finished_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It read every job it ever ran at each point stored: 9,500 of them took half a core."""
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        worker = store.register_worker("cpu", os.getpid(), socket.gethostname())
        old = _job(store, "old")
        _compute(store, worker, old, 3)
        monkeypatch.setattr(daemon_module, "LATE_POINTS_S", 0.0)  # as if it finished long ago
        daemon = _daemon(home)
        daemon._write_results(store, wait=True)  # the first look reads every job
        assert finish_marked(store.get_job(old))
        running = _job(store, "running")
        asked: list[float | None] = []
        listed = store.list_jobs

        def list_jobs(**kwargs):  # type: ignore[no-untyped-def]
            asked.append(kwargs.get("finished_after"))
            return listed(**kwargs)

        monkeypatch.setattr(store, "list_jobs", list_jobs)
        _compute(store, worker, running, 1)
        daemon._write_results(store)
        assert len(asked) == 1 and asked[0] is not None
        assert [j.id for j in listed(finished_after=asked[0])] == [running]  # the old one left out
        daemon._full_look_at -= daemon_module.FULL_LOOK_S  # five minutes later: every job again
        _compute(store, worker, running, 1)
        daemon._write_results(store)
        assert asked[-1] is None


def test_a_job_that_finishes_while_its_surface_is_being_written_gets_its_files(
    tmp_path: Path,
) -> None:
    """Its finish was seen while the write of its last points was still in hand, and
    skipped; once that write was done nothing had changed in the store, so the idle
    daemon never looked again: `lstui demo` handed back a folder without the
    trajectories' 20 figures until another job was submitted."""
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        worker = store.register_worker("cpu", os.getpid(), socket.gethostname())
        job_id = _job(store, "late")
        _compute(store, worker, job_id, 1)
        daemon = _daemon(home)
        assert daemon._writer is not None
        busy = threading.Event()
        daemon._writer.submit(busy.wait, 5.0)  # the writer is busy: the surface write waits
        daemon._write_results(store)
        assert job_id in daemon._pending
        _compute(store, worker, job_id, 2)  # the job finishes meanwhile
        daemon._write_results(store)  # sees it finished, its write still in hand
        busy.set()
        daemon._pending[job_id].result(timeout=10)
        for _ in range(3):  # the idle daemon's next looks, the store unchanged
            daemon._write_results(store)
            for future in list(daemon._pending.values()):
                future.result(timeout=10)
        assert finish_marked(store.get_job(job_id))
        assert read_surface(store.get_job(job_id).results_dir / "surface.h5").computed().all()


def test_points_stored_after_a_cancel_reach_the_surface_file(tmp_path: Path) -> None:
    """A worker flushes the points in hand after its job was cancelled; the daemon had
    written the file at the cancel, and never again."""
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        worker = store.register_worker("cpu", os.getpid(), socket.gethostname())
        job_id = _job(store, "cancelled")
        _compute(store, worker, job_id, 1)
        claim = store.claim_unit(worker, lease_s=60, job_ids=[job_id])
        assert claim is not None
        store.cancel(job_id)
        daemon = _daemon(home)
        daemon._write_results(store, wait=True)
        path = store.get_job(job_id).results_dir / "surface.h5"
        assert read_surface(path).computed().sum() == 3
        store.write_points(claim.unit_id, worker, [PointRow(i, 2.0, 50.0) for i in claim.todo[:2]])
        daemon._write_results(store, wait=True)
        assert store.get_job(job_id).state is JobState.CANCELLED
        assert read_surface(path).computed().sum() == 5
        assert (path.parent / FINISH_MARK).exists()


def test_a_worker_killed_by_a_stop_mid_point_gives_its_unit_back_uncounted(tmp_path: Path) -> None:
    """A point longer than the stop's wait: its worker is killed. Three stops failed the
    job ("lost its worker 3 times"), though nothing in it failed."""
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        job_id = _job(store, "long points")
        for stop in range(4):
            proc = subprocess.Popen(["sleep", "30"])  # the worker, in the middle of a point
            worker = store.register_worker("cpu", proc.pid, socket.gethostname())
            claim = store.claim_unit(worker, lease_s=60)
            assert claim is not None and claim.seq == 0
            proc.kill()  # as the stop does after its wait
            proc.wait()
            daemon = _daemon(home)
            daemon._release_killed(store, {proc.pid: "cpu"}, 30.0)
            daemon._recover(store)  # what the stop does next: nothing more is counted
            unit = store.units(job_id)[0]
            assert (unit.state, unit.attempts) == ("pending", 0), stop
            assert store.get_job(job_id).state is JobState.QUEUED
        said = [e.message for e in store.daemon_events(since=0)]
        assert any("did not stop within 30 s and was killed; 1 unit(s) back" in m for m in said), said
        assert any("computed again" in e.message for e in store.events(job_id))


def test_a_job_whose_direction_file_went_while_it_ran_says_so_when_it_ends(tmp_path: Path) -> None:
    """Its folder deleted mid-run, a job ended `done` with a surface file naming a
    direction file that is not there, and not a word in its log."""
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        worker = store.register_worker("cpu", os.getpid(), socket.gethostname())
        job_id = _job(store, "folder deleted")
        _compute(store, worker, job_id, 3)  # the points, and no directions.h5 written
        _daemon(home)._write_results(store, wait=True)
        said = [e.message for e in store.events(job_id) if e.level == "warning"]
        assert any("directions.h5 is gone" in m and "points are all kept" in m for m in said), said


def test_a_removed_job_is_forgotten_and_its_folder_not_written_again(tmp_path: Path) -> None:
    """A job waiting to retry its files (no space) kept every look a full read after
    `lstui rm`; a write queued before the removal brought its folder back."""
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        gone, kept = _two_finished(store)
        daemon = _daemon(home)
        folder = store.get_job(gone).results_dir
        row = store.get_job(gone)  # read before the removal, as a queued write holds it
        daemon._retry_at[gone] = 0.0
        daemon._retry_wait[gone] = 10.0
        store.remove_jobs([gone])
        daemon._finish_job(store, row)
        daemon._write_surface(store, row)
        assert not folder.exists()
        daemon._write_results(store, wait=True)
        assert gone not in daemon._retry_at and gone not in daemon._retry_wait and gone not in daemon._handled
        assert finish_marked(store.get_job(kept))


def test_jobs_finished_long_ago_wait_behind_a_job_finishing_now(tmp_path: Path) -> None:
    """A copied 15,000-job store (or folders deleted by hand): the daemon queued every old
    job's files at once, in id order, and a new 3×3 job still had no figures 80 s after it
    finished. The old ones go a few at a time, newest first."""
    import time

    home = tmp_path / "home"
    now = [time.time() - 3600.0]
    with Store.open_home(home, clock=lambda: now[0]) as store:
        worker = store.register_worker("cpu", os.getpid(), socket.gethostname())
        old = [_job(store, name) for name in ("a", "b", "c")]
        for job_id in old:
            _compute(store, worker, job_id, 3)
            now[0] += 60.0  # finished an hour ago, a minute apart
        now[0] = time.time()
        new = _job(store, "new")
        _compute(store, worker, new, 3)
        daemon = _daemon(home)
        assert daemon._writer is not None
        busy = threading.Event()
        daemon._writer.submit(busy.wait, 10.0)  # the writer is busy
        daemon._write_results(store)
        assert set(daemon._pending) == {new}  # the new job's files first
        daemon._write_results(store)
        assert set(daemon._pending) == {new, old[-1]}  # then the newest old one, and no more
        busy.set()
        for _ in range(20):
            for future in list(daemon._pending.values()):
                future.result(timeout=30)
            daemon._write_results(store)
            if all(finish_marked(store.get_job(j)) for j in (*old, new)):
                break
        assert all(finish_marked(store.get_job(j)) for j in (*old, new))
