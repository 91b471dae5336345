"""A home deleted under a running daemon (``rm -rf $LSTUI_HOME``).

The daemon had the database open; without a check it would run on with an unlinked file
that no command reaches, ``lstui daemon stop`` could no longer find it, and its workers
would hold their devices. It stops instead, and leaves alone a daemon started on the
recreated home.
"""

from __future__ import annotations

import shutil

import pytest

from tests.faults.support import KILL_SPEC, Lab, pid_alive, wait_until

pytestmark = pytest.mark.timeout(240)


def test_daemon_whose_home_is_deleted_stops_and_leaves_the_next_daemon_alone(lab: Lab) -> None:
    old = lab.start_daemon("cpu:1", "--export", "")
    (old_worker,) = lab.wait_workers(1)
    shutil.rmtree(lab.home)
    lab.home.mkdir(mode=0o700)
    new = lab.start_daemon("cpu:1", "--export", "")

    wait_until(
        "the old daemon and its worker to stop",
        lambda: not pid_alive(old) and not pid_alive(old_worker["pid"]),
        20,
    )
    assert lab.daemon_pid() == new
    assert lab.cli("daemon", "status").stdout.count(f"pid {new}") == 1
    (worker,) = lab.wait_workers(1)
    assert worker["pid"] != old_worker["pid"]
    job_id = lab.submit("surface", *KILL_SPEC)
    assert lab.wait_job(job_id)["done_points"] == 49
    # the old daemon wrote nothing into the new home: no results folder but the new job's
    assert [p.name for p in (lab.home / "results").iterdir()] == [
        lab.job(job_id)["results_dir"].rsplit("/", 1)[-1]
    ]
