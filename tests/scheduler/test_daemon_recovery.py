"""Workers and daemons killed at awkward moments: the store stays the truth.

Real daemons, real worker processes, real SIGKILLs; the values of every recovered job
are compared with an uninterrupted ``lstui run`` of the same spec. (Figures are not
exported here: test_daemon_lifecycle covers them.)
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from lstui.scheduler.daemon import daemon_status
from lstui.store import JobState
from tests.lab import assert_points_once
from tests.scheduler.support import (
    SLOWER_SPEC,
    Lab,
    assert_same_surface,
    pid_alive,
    wait_until,
)

pytestmark = pytest.mark.timeout(240)  # a hung daemon must not hang the suite


def test_worker_killed_in_the_middle_of_a_unit_loses_no_point(
    lab: Lab, reference_surface: Path
) -> None:
    lab.start_daemon("cpu:2", "--export", "")
    lab.wait_workers(2)
    # two units of 50 points (about 5 s each): points are flushed every second, so a
    # unit is seen half stored while its worker still holds it
    job_id = lab.submit("--unit-size", "50", "surface", *SLOWER_SPEC)

    def half_done_unit() -> dict | None:
        rows = lab.query(
            "SELECT u.id, u.lease_owner, w.pid,"
            " (SELECT count(*) FROM points p WHERE p.unit_id = u.id) AS stored"
            " FROM units u JOIN workers w ON w.id = u.lease_owner"
            " WHERE u.job_id = ? AND u.state = 'leased'",
            (job_id,),
        )
        # at most 40 of 50 stored: the worker still has 1 s or more of the unit to go
        # when the kill lands (a unit seen at 48 of 50 could complete first under load)
        return next((r for r in rows if 0 < r["stored"] <= 40), None)

    victim = wait_until("a half-stored leased unit", half_done_unit)
    os.kill(victim["pid"], signal.SIGKILL)
    wait_until("the worker to die", lambda: not pid_alive(victim["pid"]), 10)

    job = lab.wait_exported(job_id)
    assert_points_once(lab, job_id)
    unit = lab.query("SELECT * FROM units WHERE id = ?", (victim["id"],))[0]
    assert unit["state"] == "done" and unit["attempts"] == 2
    writers = lab.query("SELECT DISTINCT worker FROM points WHERE unit_id = ?", (victim["id"],))
    assert victim["lease_owner"] in {r["worker"] for r in writers} and len(writers) == 2
    messages = [e["message"] for e in lab.query("SELECT message FROM events")]
    assert any(f"worker pid {victim['pid']}" in m and "signal 9" in m for m in messages)
    # how, as the daemon saw its process end (it said "its worker died" alone)
    assert any(m.startswith(f"unit {unit['seq']} requeued: its worker died: it was killed by signal 9")
               for m in messages), messages
    assert_same_surface(Path(job.results_dir) / "surface.h5", reference_surface)
    assert daemon_status(lab.home).running


def test_daemon_killed_in_the_middle_of_a_job_resumes_after_restart(
    lab: Lab, reference_surface: Path
) -> None:
    daemon = lab.start_daemon("cpu:2", "--export", "")
    lab.wait_workers(2)
    # 100 points of 0.1 s on two workers: some 3 s of the job are left after 20 points
    job_id = lab.submit("surface", *SLOWER_SPEC)
    wait_until("20 points", lambda: lab.job(job_id).done_points >= 20)
    worker_pids = [w["pid"] for w in lab.workers()]
    os.kill(daemon, signal.SIGKILL)

    # the workers notice their parent is gone, store what they computed and stop
    wait_until("the orphaned workers to stop", lambda: not lab.lab_pids(), 15)
    assert not any(pid_alive(p) for p in worker_pids)
    assert not daemon_status(lab.home).running
    left = lab.job(job_id)
    assert left.state in (JobState.RUNNING, JobState.QUEUED) and left.done_points < 100
    assert all(u["state"] in ("pending", "done") for u in lab.units(job_id))

    lab.start_daemon("cpu:2", "--export", "")
    job = lab.wait_exported(job_id)
    assert_points_once(lab, job_id)
    assert job.attempts >= 1
    assert_same_surface(Path(job.results_dir) / "surface.h5", reference_surface)


def test_unit_that_kills_its_worker_three_times_fails_the_job(lab: Lab) -> None:
    daemon = lab.start_daemon("cpu:2", "--export", "")
    crash = lab.submit("--unit-size", "3", "surface", "--model", "lab_models:crash", "--x", "-1:1:3",
                       "--subset", "200")  # one unit
    after = lab.submit("surface", "--model", "mlp", "--x", "-1:1:5", "--subset", "200")

    job = lab.wait_job(crash, (JobState.FAILED,), timeout_s=120)
    assert "lost its worker 3 times" in (job.error or "")
    (unit,) = lab.units(crash)
    assert unit["state"] == "failed" and unit["attempts"] == 3
    assert lab.job(crash).done_points == 0

    show = lab.cli("show", str(crash), "--no-plot").stdout
    assert "3 times" in show
    # the daemon survived its workers' deaths and still runs jobs
    assert pid_alive(daemon) and daemon_status(lab.home).running
    lab.wait_job(after)
    status = lab.cli("daemon", "status")
    assert f"pid {daemon}" in status.stdout
