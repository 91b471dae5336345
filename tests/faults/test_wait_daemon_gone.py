"""``submit --wait`` when the daemon it follows dies: one line and exit 1, not a bar that
reads "running" for ever (a batch script's ``--wait`` hung until its own timeout)."""

from __future__ import annotations

import json
import os
import signal
import time

from tests.faults.support import SLOW_SPEC, Lab, wait_until


def test_wait_ends_in_one_line_when_the_daemon_it_follows_is_killed(lab: Lab) -> None:
    pid = lab.start_daemon("cpu:1")
    waiting = lab.popen("submit", "surface", *SLOW_SPEC, "--name", "waitkill", "--wait")
    try:
        job = wait_until("a first point", lambda: next((j for j in lab.jobs_so_far() if j["done_points"] > 0), None))
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        out, err = waiting.communicate(timeout=60)
        took = time.monotonic() - killed
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 1, (out, err)
    # the README's "within 10 s" (it took 12.6 s: counted from the first look that missed it)
    assert took < 11.5, took
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"lstui: error: the daemon stopped while --wait followed job {job['id']} ("), err
    assert line.endswith("points): lstui daemon start goes on with it"), err
    (listed,) = json.loads(lab.cli("ls", "--json").stdout)
    assert listed["state"] == "running" and listed["stalled"]  # a new daemon goes on with it


def test_logs_follow_ends_in_one_line_when_the_daemon_is_killed(lab: Lab) -> None:
    """`logs -f` looked for a daemon only as it began: after a kill -9 it waited for ever."""
    pid = lab.start_daemon("cpu:1")
    job_id = int(lab.cli("submit", "surface", *SLOW_SPEC, "--name", "logkill").stdout.split()[-1])
    following = lab.popen("logs", str(job_id), "-f")
    try:
        # its first line: it has looked for the daemon (one gone before it looked is one it
        # waits for: started again, it goes on)
        assert following.stdout is not None and "queued" in following.stdout.readline()
        wait_until("a first point", lambda: next((j for j in lab.jobs_so_far() if j["done_points"] > 0), None))
        os.kill(pid, signal.SIGKILL)
        out, err = following.communicate(timeout=60)
    finally:
        if following.poll() is None:
            following.kill()
    assert following.returncode == 1, (out, err)
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"lstui: error: the daemon stopped while logs -f followed job {job_id} ("), err
    assert line.endswith("points): lstui daemon start goes on with it"), err


def test_wait_with_no_daemon_says_the_job_waits_for_one(lab: Lab) -> None:
    """No daemon from the start: it waits (one may be started), and says what for."""
    waiting = lab.popen("submit", "surface", "--model", "mlp", "--data", "digits", "--subset", "100",
                        "--x", "-1:1:3", "--wait")
    try:
        wait_until("the job", lambda: lab.jobs_so_far())
        lab.start_daemon("cpu:1")
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, (out, err)


def test_wait_notices_a_dead_daemon_on_the_default_home_too(lab: Lab, tmp_path) -> None:
    """With neither --home nor $LSTUI_HOME (the home most people use) the look for the
    daemon was never made: the bar read "running" 50 s after the kill."""
    import subprocess
    import sys

    env = dict(lab.env)
    env.pop("LSTUI_HOME")
    env["HOME"] = str(tmp_path / "person")
    home = tmp_path / "person" / ".local" / "share" / "lstui"

    def lstui(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "lstui.cli", *args], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)

    assert lstui("daemon", "start", "--devices", "cpu:1").wait(timeout=60) == 0
    pid = int(json.loads((home / "daemon.pid").read_text())["pid"])
    lab.daemon_pids.append(pid)  # the lab's teardown kills it if the test does not
    waiting = lstui("submit", "surface", *SLOW_SPEC, "--wait")
    try:
        wait_until("a first point", lambda: (home / "lstui.db").exists() and any(
            j["done_points"] > 0 for j in _jobs(home)))
        os.kill(pid, signal.SIGKILL)
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 1 and "the daemon stopped while --wait followed job 1 (" in err, (out, err)


def _jobs(home) -> list[dict]:
    from lstui.store import Store

    with Store(home / "lstui.db") as store:
        return [{"done_points": j.done_points} for j in store.list_jobs(include_finished=True)]
