"""``submit --wait`` when the daemon it follows dies: one line and exit 1, not a bar that
reads "running" for ever (a batch script's ``--wait`` hung until its own timeout)."""

from __future__ import annotations

import json
import os
import signal

from tests.faults.support import SLOW_SPEC, Lab, wait_until


def test_wait_ends_in_one_line_when_the_daemon_it_follows_is_killed(lab: Lab) -> None:
    pid = lab.start_daemon("cpu:1")
    waiting = lab.popen("submit", "surface", *SLOW_SPEC, "--name", "waitkill", "--wait")
    try:
        job = wait_until("a first point", lambda: next((j for j in lab.jobs() if j["done_points"] > 0), None))
        os.kill(pid, signal.SIGKILL)
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 1, (out, err)
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"lstui: error: the daemon stopped while --wait followed job {job['id']} ("), err
    assert line.endswith("points): lstui daemon start goes on with it"), err
    (listed,) = json.loads(lab.cli("ls", "--json").stdout)
    assert listed["state"] == "running" and listed["stalled"]  # a new daemon goes on with it


def test_wait_with_no_daemon_says_the_job_waits_for_one(lab: Lab) -> None:
    """No daemon from the start: it waits (one may be started), and says what for."""
    waiting = lab.popen("submit", "surface", "--model", "mlp", "--data", "digits", "--subset", "100",
                        "--x", "-1:1:3", "--wait")
    try:
        wait_until("the job", lambda: lab.jobs())
        lab.start_daemon("cpu:1")
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, (out, err)
