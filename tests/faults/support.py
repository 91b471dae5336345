"""A lab for the fault tests: real daemons, workers and CLI processes on a tmp home.

Nothing is mocked. Every process is ``python -m lstui.cli`` (or the daemon and workers
it starts) with ``LSTUI_HOME`` set to a tmp folder and a module of test models
(:data:`FAULT_MODELS`) on ``PYTHONPATH``. The store is read through a read-only SQLite
connection, so a test never takes a write lock the processes under test need.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
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

FAULT_MODELS = '''
"""Models for the fault tests (factories called with no arguments)."""
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


class Diverging(nn.Module):
    """An MLP with a 1x1 "gate" weight g (1 at the centre; a filter-normalised direction
    moves it by x times 1 or -1): where g <= 0 the logits are NaN, where 0 < g < 0.75
    class 0 gets logit -inf, so the mean cross-entropy is +inf."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 16)
        self.fc2 = nn.Linear(16, 10)
        self.gate = nn.Parameter(torch.ones(1, 1))

    def forward(self, x):
        z = self.fc2(torch.relu(self.fc1(x.flatten(1))))
        g = float(self.gate)
        if g <= 0:
            return z + float("nan")
        if g < 0.75:
            z = z.clone()
            z[:, 0] = float("-inf")
        return z


def slow():
    return Slow(0.05)


def slower():
    return Slow(0.25)


def diverging():
    return Diverging()
'''

TINY = ("--data", "digits", "--subset", "150")
KILL_SPEC = ("--model", "fault_models:slow", *TINY, "--x", "-1:1:7", "--y", "-1:1:7")
"""49 points of about 0.05 s each: the job the kill tests interrupt."""
SLOW_SPEC = ("--model", "fault_models:slower", *TINY, "--x", "-1:1:7", "--y", "-1:1:7")
"""The same 49 points (same seed, same weights) at about 0.25 s each: slow enough to stop
the daemon half way through."""
DIVERGING_SPEC = ("--model", "fault_models:diverging", *TINY, "--x", "-2.5:2.5:6")
"""6 points; at 3 of them (whichever side the direction's sign picks) the loss is NaN or
+inf."""
DIVERGED_POINTS = 3

TIMEOUT_S = 180.0
SOAK = os.environ.get("LSTUI_SOAK", "") not in ("", "0")
"""``LSTUI_SOAK=1``: repeat the kill tests many times (slow; not in CI)."""


def write_fault_models(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fault_models.py").write_text(FAULT_MODELS)
    return folder


def write_evil_checkpoint(path: Path, marker: Path) -> None:
    """A torch checkpoint whose unpickling calls ``open(marker, "w")``: harmless here,
    but any function could stand in its place (``os.system``, …)."""
    import torch

    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    torch.save({"state_dict": Evil()}, path)
    assert not marker.exists()


def wait_until(
    what: str, check: Callable[[], Any], timeout_s: float = TIMEOUT_S, every_s: float = 0.1
) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def file_size_limit(limit: int) -> Callable[[], None]:
    """A ``preexec_fn`` that caps every file the process writes at ``limit`` bytes.

    Writing past the limit then fails with ``EFBIG`` ("File too large"), as a full disk
    fails with ``ENOSPC``; SIGXFSZ is ignored so that the write fails instead of the
    process being killed.
    """

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def cli_in_process(argv: Sequence[str], home: Path) -> tuple[int, str, str]:
    """Run the real entry point ``lstui.cli.main(argv)`` in this process, with click's
    CliRunner capturing the output; returns ``(exit code, stdout, stderr)``.

    An exception other than SystemExit (a traceback) propagates and fails the test.
    """
    from click.testing import CliRunner

    from lstui.cli import main

    runner = CliRunner()
    with runner.isolation(env={"LSTUI_HOME": str(home), "COLUMNS": "200"}) as (out, err, _):
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return (
            code,
            out.getvalue().decode(errors="replace"),
            err.getvalue().decode(errors="replace"),
        )


def one_error_line(stderr: str) -> str:
    """The single ``lstui: error:`` line of ``stderr``; fails on tracebacks or more lines."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("lstui: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


class Lab:
    """One ``LSTUI_HOME`` and the processes started on it."""

    def __init__(self, home: Path, modules: Path) -> None:
        self.home = home
        self.env = dict(os.environ)
        self.env["LSTUI_HOME"] = str(home)
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(modules)] + ([self.env["PYTHONPATH"]] if self.env.get("PYTHONPATH") else [])
        )
        self.env["COLUMNS"] = "200"
        self.env.pop("LSTUI_SOAK", None)
        self.daemon_pids: list[int] = []

    # -- processes ------------------------------------------------------------------
    def cli(
        self,
        *args: str,
        check: bool = True,
        timeout_s: float = TIMEOUT_S,
        preexec_fn: Callable[[], None] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``lstui ARGS``; with ``check``, fail on a non-zero exit."""
        proc = subprocess.run(
            [sys.executable, "-m", "lstui.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            preexec_fn=preexec_fn,
            cwd=cwd,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"lstui {' '.join(args)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def submit(self, *args: str) -> int:
        return int(self.cli("submit", *args).stdout.split()[-1])

    def start_daemon(self, devices: str = "cpu:2", *extra: str) -> int:
        self.cli("daemon", "start", "--devices", devices, *extra)
        pid = self.daemon_pid()
        assert pid is not None
        self.daemon_pids.append(pid)
        return pid

    def daemon_pid(self) -> int | None:
        """The pid the pid file names, if that process runs."""
        try:
            pid = int(json.loads((self.home / "daemon.pid").read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return pid if pid_alive(pid) else None

    def stop_daemon(self) -> None:
        self.cli("daemon", "stop")

    def lab_pids(self) -> list[int]:
        """Live daemon and worker processes started on this home (from /proc)."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if str(self.home).encode() in argv and any(b"lstui.scheduler" in a for a in argv):
                if pid_alive(int(entry)):
                    found.append(int(entry))
        return found

    def teardown(self) -> None:
        """Stop every daemon of the lab gracefully, else kill what is left of it."""
        if self.daemon_pid() is not None:
            self.cli("daemon", "stop", check=False)
        for pid in self.lab_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def live_workers(self) -> list[dict[str, Any]]:
        return [w for w in self.workers() if w["state"] == "alive" and pid_alive(w["pid"])]

    def wait_workers(self, count: int, timeout_s: float = TIMEOUT_S) -> list[dict[str, Any]]:
        def ready() -> list[dict[str, Any]]:
            alive = self.live_workers()
            return alive if len(alive) >= count else []

        return wait_until(f"{count} live workers", ready, timeout_s, every_s=0.2)

    # -- the store, read-only -------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        db = self.home / "lstui.db"
        if not db.exists():
            return []
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql, params).fetchall()]
        finally:
            conn.close()

    def workers(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM workers ORDER BY id")

    def job(self, job_id: int) -> dict[str, Any]:
        return self.query("SELECT * FROM jobs WHERE id = ?", (job_id,))[0]

    def jobs(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM jobs ORDER BY id")

    def events(self, job_id: int | None = None) -> list[str]:
        if job_id is None:
            rows = self.query("SELECT message FROM events ORDER BY id")
        else:
            rows = self.query("SELECT message FROM events WHERE job_id = ? ORDER BY id", (job_id,))
        return [r["message"] for r in rows]

    def wait_job(
        self, job_id: int, states: Sequence[str] = ("done",), timeout_s: float = TIMEOUT_S
    ) -> dict[str, Any]:
        """Wait until the job is in one of ``states``; fail at once if it ends otherwise."""

        def reached() -> dict[str, Any] | None:
            job = self.job(job_id)
            if job["state"] in states:
                return job
            if job["state"] in ("done", "failed", "cancelled"):
                raise AssertionError(f"job {job_id} is {job['state']}: {job['error']}")
            return None

        try:
            return wait_until(f"job {job_id} to be {'/'.join(states)}", reached, timeout_s)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.diagnose(job_id)}") from None

    def diagnose(self, job_id: int | None = None) -> str:
        """The state of the lab, for a failure message."""
        lines = [f"live lab processes: {self.lab_pids()}", f"daemon pid: {self.daemon_pid()}"]
        if job_id is not None:
            job = self.job(job_id)
            lines.append(f"job {job_id}: {job['state']} {job['done_points']}/{job['total_points']}")
            lines += [
                str(u)
                for u in self.query(
                    "SELECT id, state, lease_owner, attempts, last_error FROM units WHERE job_id = ?",
                    (job_id,),
                )
            ]
        lines += [str(w) for w in self.workers()]
        lines += self.events()[-15:]
        log = self.home / "daemon.log"
        if log.exists():
            lines += log.read_text(errors="replace").splitlines()[-30:]
        return "\n".join(lines)

    def wait_finished_files(self, job_id: int, timeout_s: float = TIMEOUT_S) -> None:
        """Wait until the daemon wrote a finished job's files (its finish mark)."""
        mark = Path(self.job(job_id)["results_dir"]) / ".lstui-finished"
        wait_until(f"job {job_id}'s files", mark.exists, timeout_s)


def assert_points_once(lab: Lab, job_id: int) -> None:
    """Every point of the job stored exactly once, every unit done, the counter right."""
    job = lab.job(job_id)
    rows = lab.query(
        "SELECT count(*) AS n, count(DISTINCT idx) AS d, min(idx) AS lo, max(idx) AS hi"
        " FROM points WHERE job_id = ?",
        (job_id,),
    )[0]
    assert rows["n"] == rows["d"] == job["total_points"] == job["done_points"], (rows, job)
    assert (rows["lo"], rows["hi"]) == (0, job["total_points"] - 1)
    units = lab.query("SELECT state FROM units WHERE job_id = ?", (job_id,))
    assert {u["state"] for u in units} == {"done"}


def assert_points_equal_surface(lab: Lab, job_id: int, reference: Path, tol: float = 1e-6) -> None:
    """The job's stored points hold the values of an uninterrupted run's surface file."""
    ref = read_surface(reference)
    rows = lab.query("SELECT * FROM points WHERE job_id = ? ORDER BY idx", (job_id,))
    assert rows, f"job {job_id} has no points"
    for key, array in ref.arrays.items():
        want = np.asarray(array).ravel()[[r["idx"] for r in rows]]
        got = np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=np.float64)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=key)
