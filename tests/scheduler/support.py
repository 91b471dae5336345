"""A lab for scheduler tests: real daemons, workers and CLI processes on a tmp home.

Everything here starts real processes (``lstui`` through ``python -m lstui.cli``) and
reads the real SQLite file; nothing is mocked. Test models live in a module written to a
tmp folder that is put on ``PYTHONPATH`` for every process the lab starts.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lstui.results import read_surface
from lstui.store import JobRow, JobState, Store

LAB_MODELS = '''
"""Models for the scheduler tests (factories called with no arguments)."""
import os
import signal
import time

import torch
from torch import nn


class Slow(nn.Module):
    """A 64-32-10 MLP for digits whose every forward pass also sleeps ``pause`` s."""

    def __init__(self, pause):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)
        self.pause = pause

    def forward(self, x):
        if self.pause:
            time.sleep(self.pause)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


class Boom(Slow):
    def forward(self, x):
        raise RuntimeError("boom: this model refuses to run")


class Crash(Slow):
    def forward(self, x):
        os.kill(os.getpid(), signal.SIGKILL)


def slow():
    return Slow(0.04)


def slower():
    return Slow(0.1)


def boom():
    return Boom(0)


def crash():
    return Crash(0)
'''

SLOW_SPEC = ("--model", "lab_models:slow", "--x", "-1:1:10", "--y", "-1:1:10", "--subset", "300")
"""100 points of about 0.04 s each: the job whose values the recovery tests compare."""

TIMEOUT_S = 90.0


def write_lab_models(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lab_models.py").write_text(LAB_MODELS)
    return folder


def wait_until(
    what: str, check: Callable[[], Any], timeout_s: float = TIMEOUT_S, every_s: float = 0.05
) -> Any:
    """Poll ``check`` until it returns something true; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child of ours counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Lab:
    """One ``LSTUI_HOME`` and the processes started on it."""

    def __init__(self, home: Path, modules: Path) -> None:
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        self.env["LSTUI_HOME"] = str(home)
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(modules)] + ([self.env["PYTHONPATH"]] if self.env.get("PYTHONPATH") else [])
        )
        self.env["COLUMNS"] = "120"
        self.daemon_pids: list[int] = []

    # -- processes ------------------------------------------------------------------
    def cli(
        self, *args: str, check: bool = True, timeout_s: float = TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        """Run ``lstui ARGS`` in a subprocess; with ``check``, fail on a non-zero exit."""
        proc = subprocess.run(
            [sys.executable, "-m", "lstui.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"lstui {' '.join(args)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "lstui.cli", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def submit(self, *args: str) -> int:
        out = self.cli("submit", *args).stdout.split()
        return int(out[-1])

    def start_daemon(self, devices: str = "cpu:2", *extra: str) -> int:
        self.cli("daemon", "start", "--devices", devices, *extra)
        pid = self.daemon_pid()
        assert pid is not None
        self.daemon_pids.append(pid)
        return pid

    def daemon_pid(self) -> int | None:
        try:
            return int(json.loads((self.home / "daemon.pid").read_text())["pid"])
        except (OSError, ValueError, KeyError):
            return None

    def stop_daemon(self) -> None:
        self.cli("daemon", "stop")

    def teardown(self) -> None:
        """Stop every daemon the lab started: gracefully, else its whole process group."""
        pid = self.daemon_pid()
        if pid is not None and pid_alive(pid):
            self.cli("daemon", "stop", check=False)
        for pid in self.daemon_pids:
            try:
                os.killpg(pid, signal.SIGKILL)  # the daemon leads its group; workers are in it
            except (ProcessLookupError, PermissionError):
                pass
        for w in self.workers():
            if pid_alive(w["pid"]):
                try:
                    os.kill(w["pid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def wait_workers(self, count: int, timeout_s: float = TIMEOUT_S) -> list[dict[str, Any]]:
        """Wait until ``count`` live workers registered; returns them."""

        def ready() -> list[dict[str, Any]]:
            alive = [w for w in self.workers() if w["state"] == "alive" and pid_alive(w["pid"])]
            return alive if len(alive) >= count else []

        return wait_until(f"{count} workers", ready, timeout_s, every_s=0.2)

    # -- the store, read-only -------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query on the live database."""
        db = self.home / "lstui.db"
        if not db.exists():
            return []
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql, params).fetchall()]
        finally:
            conn.close()

    def workers(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM workers ORDER BY id")

    def job(self, job_id: int) -> JobRow:
        with Store.open_home(self.home) as store:
            return store.get_job(job_id)

    def points(self, job_id: int) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM points WHERE job_id = ? ORDER BY idx", (job_id,))

    def units(self, job_id: int) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM units WHERE job_id = ? ORDER BY seq", (job_id,))

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, to show that a command changed nothing."""
        tables = [
            r["name"] for r in self.query("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {
            t: [tuple(r.values()) for r in self.query(f"SELECT * FROM {t} ORDER BY rowid")]
            for t in sorted(tables)
        }

    def wait_job(
        self,
        job_id: int,
        states: Sequence[JobState] = (JobState.DONE,),
        timeout_s: float = TIMEOUT_S,
    ) -> JobRow:
        """Wait until the job is in one of ``states``; fail early if it finishes otherwise."""

        def reached() -> JobRow | None:
            job = self.job(job_id)
            if job.state in states:
                return job
            if job.state.finished:
                raise AssertionError(f"job {job_id} is {job.state.value}: {job.error}")
            return None

        return wait_until(
            f"job {job_id} to be {'/'.join(s.value for s in states)}", reached, timeout_s
        )

    def wait_exported(self, job_id: int, timeout_s: float = TIMEOUT_S) -> JobRow:
        """Wait until the daemon handled the job's finish (surface and figures written)."""
        job = self.wait_job(job_id, timeout_s=timeout_s)
        mark = Path(job.results_dir) / ".lstui-finished"
        wait_until(f"job {job_id}'s files", mark.exists, timeout_s)
        return job

    def wait_quiet(self, timeout_s: float = TIMEOUT_S) -> None:
        """Wait until no job runs or waits and the daemon wrote every finished job's files."""

        def quiet() -> bool:
            for job in self.query("SELECT state, results_dir FROM jobs"):
                if job["state"] in ("queued", "running"):
                    return False
                folder = Path(job["results_dir"])
                if job["state"] in ("done", "failed", "cancelled") and folder.is_dir():
                    if not (folder / ".lstui-finished").exists():
                        return False
            return True

        wait_until("the daemon to be idle", quiet, timeout_s, every_s=0.2)
        time.sleep(0.3)  # the writer adds its last event just after the mark


def surface_arrays(path: Path) -> dict[str, np.ndarray]:
    surface = read_surface(path)
    return {k: np.asarray(v) for k, v in surface.arrays.items()}


def assert_same_surface(a: Path, b: Path, tol: float = 1e-6) -> None:
    """The two surface files hold the same arrays (within ``tol``), none missing."""
    sa, sb = surface_arrays(a), surface_arrays(b)
    assert sorted(sa) == sorted(sb)
    for key in sa:
        assert sa[key].shape == sb[key].shape, key
        assert not (sa[key] == -1).any(), f"{a}: {key} has missing points"
        np.testing.assert_allclose(sa[key], sb[key], rtol=tol, atol=tol, err_msg=key)
