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


def test_a_deleted_lock_file_is_made_again_and_a_second_daemon_still_refused(lab: Lab) -> None:
    """daemon.lock, empty and never changed, is what a cleaner of old files deletes: a
    second daemon then started on the home, `daemon status` said none ran, and `daemon
    stop` could not reach the first (which ran on, claiming jobs)."""
    first = lab.start_daemon("cpu:1", "--export", "")
    (lab.home / "daemon.lock").unlink()
    wait_until("the lock file made again", lambda: (lab.home / "daemon.lock").exists(), 20)
    assert f"daemon: running (pid {first})" in lab.cli("daemon", "status").stdout
    second = lab.cli("daemon", "start", "--devices", "cpu:1", check=False)
    assert second.returncode == 1 and "a daemon already runs" in second.stderr, second
    assert "its lock file" in (lab.home / "daemon.log").read_text() and "was deleted: made again" in (
        lab.home / "daemon.log").read_text()
    # its pid file with it: status called it "unreadable", what it runs on unknown
    (lab.home / "daemon.pid").unlink()
    wait_until("the pid file written again", lambda: (lab.home / "daemon.pid").exists(), 20)
    assert lab.cli("daemon", "status").stdout.splitlines()[0] == f"daemon: running (pid {first}) on cpu"
    assert "its pid file" in (lab.home / "daemon.log").read_text()
    lab.stop_daemon()
    wait_until("the daemon to stop", lambda: not pid_alive(first), 20)
    assert not (lab.home / "daemon.pid").exists()


def test_a_daemon_whose_lock_another_daemon_took_stops(lab: Lab) -> None:
    """The lock file deleted, and another daemon's made and held before this one made it
    again: this one stops, leaving the home to the other."""
    import fcntl
    import os

    first = lab.start_daemon("cpu:1", "--export", "")
    (lab.home / "daemon.lock").unlink()
    fd = os.open(lab.home / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # (as the other daemon holds it)
        wait_until("the first daemon to stop", lambda: not pid_alive(first), 30)
    finally:
        os.close(fd)
    log = (lab.home / "daemon.log").read_text()
    assert "stopping: its lock file" in log and "another daemon" in log, log[-1500:]
