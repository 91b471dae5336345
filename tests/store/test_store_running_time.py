"""A job's running time: what ELAPSED and the ETA are measured on.

Paused and queued time is left out, so a job paused overnight does not show a night of
elapsed time and an ETA computed from a rate that includes the night.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lstui.store import JobState, PointRow, Store
from lstui.views import elapsed_s, eta_s
from tests.store.support import FakeClock, add_job


def _compute_one(store: Store, worker: int, job_id: int, clock: FakeClock, seconds: float) -> None:
    claim = store.claim_unit(worker, lease_s=60, job_ids=[job_id])
    assert claim is not None
    clock.advance(seconds)
    store.write_points(claim.unit_id, worker, [PointRow(i, 1.0) for i in claim.todo])
    assert store.complete_unit(claim.unit_id, worker)


def test_paused_and_queued_time_is_not_running_time(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    job = add_job(store, tmp_path, points=4)
    clock.advance(100)  # queued: not counted
    assert elapsed_s(store.get_job(job), clock.now) is None
    worker = store.register_worker("cpu", 1, "h")
    _compute_one(store, worker, job, clock, 10)
    row = store.get_job(job)
    assert row.state is JobState.RUNNING and elapsed_s(row, clock.now) == pytest.approx(10)
    assert eta_s(row, clock.now) == pytest.approx(30)  # 3 points left at 10 s each

    store.pause(job)
    clock.advance(3600)  # paused for an hour
    row = store.get_job(job)
    assert elapsed_s(row, clock.now) == pytest.approx(10)
    assert eta_s(row, clock.now) is None  # not running: no ETA
    store.resume(job)
    clock.advance(50)  # queued again behind nothing, still not counted
    _compute_one(store, worker, job, clock, 10)
    row = store.get_job(job)
    assert elapsed_s(row, clock.now) == pytest.approx(20)
    assert eta_s(row, clock.now) == pytest.approx(20)  # the rate of running time only

    _compute_one(store, worker, job, clock, 10)
    _compute_one(store, worker, job, clock, 10)
    row = store.get_job(job)
    clock.advance(500)  # done: the figure stays
    assert row.state is JobState.DONE
    assert elapsed_s(store.get_job(job), clock.now) == pytest.approx(40)


def test_a_run_whose_workers_died_ends_at_its_last_point(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    job = add_job(store, tmp_path, points=4)
    worker = store.register_worker("cpu", 1, "h")
    _compute_one(store, worker, job, clock, 10)
    assert store.claim_unit(worker, lease_s=60, job_ids=[job]) is not None
    clock.advance(4 * 3600)  # the daemon was killed and restarts four hours later
    assert store.recover_orphans([]) == 1
    row = store.get_job(job)
    assert row.state is JobState.QUEUED
    assert elapsed_s(row, clock.now) == pytest.approx(10)  # not four hours


def test_cancelled_and_failed_jobs_keep_the_time_they_ran(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    worker = store.register_worker("cpu", 1, "h")
    cancelled = add_job(store, tmp_path, points=3, name="c")
    _compute_one(store, worker, cancelled, clock, 7)
    assert store.claim_unit(worker, lease_s=60, job_ids=[cancelled]) is not None
    clock.advance(3)  # a worker computes it: these seconds count
    store.cancel(cancelled)
    clock.advance(100)
    assert elapsed_s(store.get_job(cancelled), clock.now) == pytest.approx(10)

    stalled = add_job(store, tmp_path, points=3, name="s")
    _compute_one(store, worker, stalled, clock, 4)
    assert store.claim_unit(worker, lease_s=60, job_ids=[stalled]) is not None
    clock.advance(3600)  # its daemon was killed: the lease ran out, nothing computed
    store.cancel(stalled)
    assert elapsed_s(store.get_job(stalled), clock.now) == pytest.approx(4)  # to its last point

    failing = add_job(store, tmp_path, points=2, name="f")
    claim = store.claim_unit(worker, lease_s=60, job_ids=[failing])
    assert claim is not None
    clock.advance(5)
    store.fail_unit(claim.unit_id, worker, "boom", max_attempts=1)
    clock.advance(100)
    row = store.get_job(failing)
    assert row.state is JobState.FAILED and elapsed_s(row, clock.now) == pytest.approx(5)


def test_a_job_its_workers_left_for_a_higher_priority_one_waits_again(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    """It stayed "running" with an ETA from its old rate while nothing computed it."""
    low = add_job(store, tmp_path, points=6, name="low")
    w1, w2 = store.register_worker("cpu", 1, "h"), store.register_worker("cpu", 2, "h")
    _compute_one(store, w1, low, clock, 10)
    held = store.claim_unit(w2, lease_s=60)  # w2 holds a unit of low
    assert held is not None and held.job_id == low
    high = add_job(store, tmp_path, points=4, name="high", priority=5)
    clock.advance(5)
    claim = store.claim_unit(w1, lease_s=60)
    assert claim is not None and claim.job_id == high
    assert store.get_job(low).state is JobState.RUNNING  # w2 still computes it

    store.write_points(held.unit_id, w2, [PointRow(i, 1.0) for i in held.todo])
    assert store.complete_unit(held.unit_id, w2)
    clock.advance(5)
    claim = store.claim_unit(w2, lease_s=60)
    assert claim is not None and claim.job_id == high
    row = store.get_job(low)
    assert row.state is JobState.QUEUED and eta_s(row, clock.now) is None
    assert f"queued again: its workers went to job {high}" in [e.message for e in store.events(low)]
    clock.advance(100)
    assert elapsed_s(store.get_job(low), clock.now) == pytest.approx(15)  # to its last point


def test_a_stalled_job_s_clock_stops_at_its_last_point(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    """With its daemon killed the store still says running; ELAPSED ran on for the
    hours nothing computed it."""
    job = add_job(store, tmp_path, points=4)
    worker = store.register_worker("cpu", 1, "h")
    _compute_one(store, worker, job, clock, 10)
    clock.advance(7200)  # the daemon died two hours ago
    row = store.get_job(job)
    assert row.last_point == pytest.approx(clock.now - 7200)
    assert elapsed_s(row, clock.now, daemon_running=False) == pytest.approx(10)
    assert elapsed_s(row, clock.now, daemon_running=True) == pytest.approx(7210)


def test_the_eta_follows_the_rate_of_the_last_minutes_not_the_whole_run(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    """A slow start (a compile, a second device that joins later) weighs on the ETA for
    a minute or two, not for the rest of the run."""
    job = add_job(store, tmp_path, points=100)
    worker = store.register_worker("cpu", 1, "h")
    _compute_one(store, worker, job, clock, 300)  # five minutes for the first point
    row = store.get_job(job)
    assert eta_s(row, clock.now) == pytest.approx(99 * 300)  # all it knows so far
    for _ in range(30):  # then a point every 5 s
        _compute_one(store, worker, job, clock, 5)
    row = store.get_job(job)
    assert row.done_points == 31
    assert eta_s(row, clock.now) == pytest.approx(69 * 5)  # not 69 × (450 / 31) ≈ 1,000 s
    assert elapsed_s(row, clock.now) == pytest.approx(450)

    clock.advance(600)  # then nothing for ten minutes (a hung device): the ETA grows
    row = store.get_job(job)
    eta = eta_s(row, clock.now)
    assert eta is not None and eta > 5 * 69 * 5  # the rate of the last minutes fell


def test_a_resumed_run_is_measured_from_its_first_points_not_its_workers_getting_ready(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    """After a resume the window began at the claim: the worker's 1–5 s of getting ready
    fell in a window seconds long, and the ETA doubled for 10–20 s."""
    job = add_job(store, tmp_path, points=200, unit_size=200)
    worker = store.register_worker("cpu", 1, "h")
    claim = store.claim_unit(worker, lease_s=60)
    assert claim is not None
    done = 0

    def compute(n: int, seconds: float) -> None:
        nonlocal done
        clock.advance(seconds)
        store.write_points(claim.unit_id, worker, [PointRow(i, 1.0) for i in range(done, done + n)])
        done += n

    for _ in range(20):
        compute(5, 1.0)  # 5 points a second
    store.pause(job)
    store.resume(job)
    claim = store.claim_unit(worker, lease_s=60)
    assert claim is not None
    clock.advance(4.0)  # getting ready again: no point
    etas = []
    for _ in range(20):
        compute(5, 1.0)
        etas.append(eta_s(store.get_job(job), clock.now))
    left = [(200 - 100 - 5 * (k + 1)) / 5.0 for k in range(20)]
    assert all(e is not None and abs(e - t) <= 0.25 * t + 1 for e, t in zip(etas, left, strict=True)), (etas, left)
    # the rate itself, as `show`, `ls --json` and the TUI say it: as `lstui run` does
    from lstui.views import format_rate, points_per_s

    assert format_rate(points_per_s(store.get_job(job), clock.now)) == "5.0 points/s"
    assert format_rate(0.5) == "30.0 points/min" and format_rate(None) == "-"


def test_the_rate_moves_in_small_steps_as_its_window_moves(
    store: Store, tmp_path: Path, clock: FakeClock
) -> None:
    """The window moved by a whole minute at once: the ETA jumped 30–50 % when the rate had
    changed within the last two minutes."""
    job = add_job(store, tmp_path, points=2000, unit_size=2000)
    worker = store.register_worker("cpu", 1, "h")
    claim = store.claim_unit(worker, lease_s=60)
    assert claim is not None
    done = 0
    rates = []
    for second in range(240):
        clock.advance(1.0)
        n = 2 if second < 120 else 4  # a second device joins after two minutes
        store.write_points(claim.unit_id, worker, [PointRow(i, 1.0) for i in range(done, done + n)])
        done += n
        rate = 1.0 / (eta_s(store.get_job(job), clock.now) or 1) * (2000 - done)
        rates.append(rate)
    steps = [abs(b - a) / a for a, b in zip(rates[130:], rates[131:])]
    assert max(steps) < 0.12, max(steps)  # no jump of a third at a window's move
    assert abs(rates[-1] - 4.0) < 0.2  # and a minute on, the rate is the new one


def test_a_finished_job_with_a_run_left_open_stops_counting_at_its_finish() -> None:
    """Migration 3 began a run for a job running then (run_since = started); an older
    daemon that finished the job did not end it, and its ELAPSED grew for ever (13 s,
    then 35 s, then 1 min 18 s … for a job of 4 s)."""
    import dataclasses

    from lstui.store._rows import JobRow

    row = JobRow(id=1, name="j", kind="surface", spec={}, state=JobState.DONE, priority=0, created=0.0,
                 started=100.0, finished=104.0, attempts=1, error=None, results_dir=Path("r"),
                 total_points=9, done_points=9, device=None, run_s=0.0, run_since=100.0)
    assert elapsed_s(row, 5000.0) == pytest.approx(4)
    running = dataclasses.replace(row, state=JobState.RUNNING, finished=None)
    assert elapsed_s(running, 5000.0) == pytest.approx(4900)  # a run that goes on, counted on


def test_show_says_no_rate_for_a_running_job_that_has_none_yet() -> None:
    """`show` printed "ETA -   -": the unknown rate's own dash after the ETA's."""
    from lstui.store._rows import JobRow
    from lstui.views import job_details

    row = JobRow(id=1, name="j", kind="surface", spec={}, state=JobState.RUNNING, priority=0, created=0.0,
                 started=100.0, finished=None, attempts=1, error=None, results_dir=Path("r"),
                 total_points=9, done_points=0, device="cpu", run_s=0.0, run_since=100.0)
    (line,) = [x for x in job_details(row).splitlines() if x.strip().startswith("elapsed")]
    assert line.rstrip().endswith("ETA -"), line
