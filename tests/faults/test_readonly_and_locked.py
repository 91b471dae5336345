"""A home that cannot be written, and a database locked when the daemon starts.

A read-only home (a read-only bind mount, or a folder without write permission) is read as
it is: ``ls`` and ``show`` work, every write is refused in one line that says why, and
nothing in the folder changes. It is never called a damaged database.

A daemon started while another process holds the database's write lock keeps running,
waits the lock out, then runs the queue; SIGTERM stops it while it waits.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.faults.support import Lab, cli_in_process, one_error_line, pid_alive, wait_until

TINY_JOB = ("surface", "--model", "mlp", "--x", "-1:1:3", "--subset", "50")


_NO_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
"""Runs a command without root's capabilities to read and write past file modes."""

Run = Callable[[Sequence[str]], tuple[int, str, str]]
"""Runs ``lstui ARGV`` on the read-only home; returns ``(exit code, stdout, stderr)``."""


@contextlib.contextmanager
def read_only_home(home: Path, how: str) -> Iterator[tuple[Path, Run]]:
    """``home`` made unwritable ``how``; yields the path to use and how to run lstui on it.

    ``mode``: the folder's mode is 0500; root ignores modes, so as root lstui runs in a
    process without the capability to override them (``setpriv``). ``mount``: the folder is
    bind-mounted read-only beside it, as root only. Skips where neither can be done.
    """
    if how == "mode":
        if os.geteuid() == 0 and (
            shutil.which("setpriv") is None
            or subprocess.run([*_NO_OVERRIDE, "true"], capture_output=True).returncode != 0
        ):
            pytest.skip("running as root, and setpriv(1) cannot give up overriding modes")
        home.chmod(0o500)
        try:
            yield home, (lambda argv: _cli_without_override(argv, home))
        finally:
            home.chmod(0o700)
        return
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only bind mount needs root and mount(8)")
    view = home.with_name(home.name + "-read-only")
    view.mkdir()
    try:
        bound = subprocess.run(
            ["mount", "--bind", str(home), str(view)], capture_output=True, text=True
        )
        if bound.returncode != 0:
            pytest.skip(f"mount is not permitted here: {bound.stderr.strip()}")
        try:
            remount = subprocess.run(
                ["mount", "-o", "remount,bind,ro", str(view)], capture_output=True, text=True
            )
            if remount.returncode != 0:
                pytest.skip(f"a read-only remount is not permitted here: {remount.stderr.strip()}")
            yield view, (lambda argv: cli_in_process(argv, view))
        finally:
            subprocess.run(["umount", str(view)], check=True)
    finally:
        view.rmdir()


def _cli_without_override(argv: Sequence[str], home: Path) -> tuple[int, str, str]:
    """``lstui ARGV`` in a subprocess that file modes apply to, even when run by root."""
    prefix = _NO_OVERRIDE if os.geteuid() == 0 else []
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "lstui.cli", *argv],
        env={**os.environ, "LSTUI_HOME": str(home), "COLUMNS": "200"},
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr


def _folder_state(folder: Path) -> dict[str, str]:
    """Every file of ``folder`` (not below) and a digest of its bytes."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()
    }


@pytest.mark.parametrize("how", ["mount", "mode"])
def test_a_read_only_home_is_read_and_every_write_refused_in_one_line(lab: Lab, how: str) -> None:
    job = lab.submit(*TINY_JOB)
    before = _folder_state(lab.home)
    with read_only_home(lab.home, how) as (home, run):
        code, out, err = run(["ls", "--all", "--json"])
        assert code == 0, err
        assert [(j["id"], j["state"]) for j in json.loads(out)] == [(job, "queued")]
        code, out, err = run(["show", str(job), "--no-plot"])
        assert code == 0, err
        assert f"job {job}:" in out
        code, out, err = run(["daemon", "status"])
        assert (code, out.strip()) == (3, "daemon: not running"), err

        for command in (["cancel", str(job)], ["submit", *TINY_JOB]):
            code, _, err = run(command)
            line = one_error_line(err)
            assert code == 1, err
            assert f"database {home / 'lstui.db'} cannot be written: its folder {home}" in line
            assert "nothing was changed" in line
            assert "damaged" not in line
        assert _folder_state(home) == before
    assert _folder_state(lab.home) == before
    assert lab.job(job)["state"] == "queued"


@pytest.mark.parametrize("how", ["mount", "mode"])
def test_a_read_only_folder_without_a_database_is_one_line(tmp_path: Path, how: str) -> None:
    folder = tmp_path / "home"
    folder.mkdir(mode=0o700)
    with read_only_home(folder, how) as (home, run):
        code, _, err = run(["submit", "surface", "--model", "mlp", "--x", "-1:1:3"])
        line = one_error_line(err)
        assert code == 1, err
        assert f"database {home / 'lstui.db'} cannot be created: its folder {home}" in line
        code, out, err = run(["ls"])  # reading needs no database made: there are no jobs
        assert code == 0 and out.startswith("no jobs: no job store at"), err
    assert not any(folder.iterdir())


def _locked_warnings(lab: Lab) -> int:
    log = lab.home / "daemon.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return text.count("WARNING the database is locked")


@contextlib.contextmanager
def write_lock(lab: Lab) -> Iterator[None]:
    """Another process's exclusive transaction on the lab's database, for the block."""
    holder = sqlite3.connect(lab.home / "lstui.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()


def test_a_daemon_started_on_a_locked_database_waits_then_runs_the_queue(lab: Lab) -> None:
    """And `daemon status`, in another time zone than the daemon's, says when in its own:
    the warning's time was the daemon's log's, 5 h 30 off from a warning seconds old."""
    from datetime import datetime, timedelta, timezone

    job = lab.submit(*TINY_JOB)
    with write_lock(lab):
        lab.env["TZ"] = "Asia/Kolkata"
        pid = lab.start_daemon("cpu:1", "--export", "")
        lab.env["TZ"] = "UTC"
        wait_until("two 'locked' warnings in the daemon's log", lambda: _locked_warnings(lab) >= 2)
        assert pid_alive(pid)
        status = lab.cli("daemon", "status", check=False)
        assert f"daemon: running (pid {pid})" in status.stdout, status
        # why none works: said in its log, not in the store it cannot write
        assert "  0 of 1 workers running\n  warning: the database is locked (" in status.stdout, status.stdout
        said = status.stdout.rsplit("(at ", 1)[1].split(")")[0]
        when = datetime.strptime(said, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        assert abs(datetime.now(timezone.utc) - when) < timedelta(minutes=2), status.stdout
        assert "+0530 daemon[" in (lab.home / "daemon.log").read_text()  # (its lines name their zone)
        trouble = json.loads(lab.cli("daemon", "status", "--json").stdout)["trouble"]  # (it was null)
        assert trouble is not None and trouble.startswith("warning: the database is locked ("), trouble
        assert lab.job(job)["state"] == "queued"
    lab.wait_job(job)
    assert pid_alive(pid)
    assert lab.job(job)["done_points"] == 3


def test_a_daemon_waiting_for_a_locked_database_stops_promptly(lab: Lab) -> None:
    lab.cli("pause", str(lab.submit("surface", "--model", "mlp", "--x", "-1:1:3")))  # the home, its database
    with write_lock(lab):
        pid = lab.start_daemon("cpu:1")
        wait_until("a 'locked' warning in the daemon's log", lambda: _locked_warnings(lab) >= 1)
        start = time.monotonic()
        lab.stop_daemon()
        assert time.monotonic() - start < 10.0  # not the 30 s a locked write may wait
        assert not pid_alive(pid)
    assert "lstui: error" not in (lab.home / "daemon.log").read_text()


def test_a_command_waiting_for_a_locked_database_says_so(lab: Lab) -> None:
    """`submit` under another process's write lock took 20 s, `cancel` 30 s, with nothing
    said until the "locked" error: a command says it waits once 2 s have gone by."""
    job = lab.submit(*TINY_JOB)
    with write_lock(lab):
        waiting = lab.popen("pause", str(job))
        time.sleep(4.0)
        assert waiting.poll() is None, "it waits for the lock"
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert err.startswith(f"note: waiting for the database {lab.home / 'lstui.db'}: another process holds "
                          "its write lock (for up to 30 s)…\n"), err
    assert err.count("waiting for the database") == 1, err
    assert lab.job(job)["state"] == "paused"
    quick = lab.cli("resume", str(job))
    assert "waiting" not in quick.stderr, quick.stderr


def test_a_refused_change_is_said_at_once_under_a_lock_and_a_lock_error_says_what_to_do(lab: Lab) -> None:
    """`cancel` of a finished job waited out another process's write lock (30 s) before
    saying the job was done; the lock's error said neither what to do."""
    job = lab.submit(*TINY_JOB)
    lab.cli("cancel", str(job))
    with write_lock(lab):
        start = time.monotonic()
        refused = lab.cli("resume", str(job), check=False)
        assert time.monotonic() - start < 10.0
        assert refused.returncode == 2 and "is cancelled" in one_error_line(refused.stderr), refused.stderr
        locked = lab.cli("priority", str(job), "3", check=False, timeout_s=90)
    assert locked.returncode == 1
    assert one_error_line(locked.stderr).endswith(
        "; run the command again once it lets go (a long transaction: a sqlite3 shell, a backup)"), locked.stderr
