"""A lab of real processes on a tmp home, shared by the scheduler and the fault tests.

Nothing is mocked. Every process is ``python -m lstui.cli`` (or the daemon and workers
it starts) with ``LSTUI_HOME`` set to a tmp folder and a folder of test models on
``PYTHONPATH``. The store is read through a read-only SQLite connection, so a test never
takes a write lock the processes under test need.
"""

from __future__ import annotations

import contextlib
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

DEFAULT_TIMEOUT_S = 90.0

SLOW_MODEL = """

class Slow(nn.Module):
    \"\"\"A 64-32-10 MLP for digits whose every forward pass also sleeps ``pause`` s.\"\"\"

    def __init__(self, pause):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)
        self.pause = pause

    def forward(self, x):
        if self.pause:
            time.sleep(self.pause)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))
"""
"""Source of the labs' slow test model, for the model modules they write (which import
``time``, ``torch`` and ``nn``)."""


def _default_hangup() -> None:
    """(In the child, before exec.) The ending signals at their default, as from a
    terminal: a test run under `nohup`, or as a background job of a script (which has
    SIGINT ignored), passes them ignored on, and lstui leaves an ignored signal ignored."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_until(
    what: str, check: Callable[[], Any], timeout_s: float = DEFAULT_TIMEOUT_S, every_s: float = 0.05
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
    """Whether ``pid`` runs (a zombie child of ours counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Lab:
    """One ``LSTUI_HOME`` and the processes started on it."""

    timeout_s = DEFAULT_TIMEOUT_S
    """How long the lab waits for a process or a state by default."""

    columns = "120"

    make_home = True
    """Create the home folder up front (the fault tests let lstui create it, privately)."""

    def __init__(self, home: Path, modules: Path) -> None:
        self.home = home
        if self.make_home:
            self.home.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        self.env["LSTUI_HOME"] = str(home)
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(modules)] + ([self.env["PYTHONPATH"]] if self.env.get("PYTHONPATH") else [])
        )
        self.env["COLUMNS"] = self.columns
        self.env.pop("LSTUI_SOAK", None)
        self.daemon_pids: list[int] = []

    # -- processes ------------------------------------------------------------------
    def cli(
        self,
        *args: str,
        check: bool = True,
        timeout_s: float | None = None,
        preexec_fn: Callable[[], None] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``lstui ARGS`` in a subprocess; with ``check``, fail on a non-zero exit."""
        proc = subprocess.run(
            [sys.executable, "-m", "lstui.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s or self.timeout_s,
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

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """Start ``lstui ARGS`` without waiting for it, as from a terminal: SIGHUP and
        SIGTERM at their default (a test run under ``nohup`` passed SIGHUP ignored on,
        and lstui leaves an ignored SIGHUP ignored)."""
        return subprocess.Popen(
            [sys.executable, "-m", "lstui.cli", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            preexec_fn=_default_hangup,
        )

    def submit(self, *args: str) -> int:
        return int(self.cli("submit", *args).stdout.split()[-1])

    def start_daemon(self, devices: str = "cpu:2", *extra: str,
                     preexec_fn: Callable[[], None] | None = None) -> int:
        self.cli("daemon", "start", "--devices", devices, *extra, preexec_fn=preexec_fn)
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
        """Stop the lab's daemon gracefully, then kill whatever of the lab is left."""
        if self.daemon_pid() is not None:
            self.cli("daemon", "stop", check=False)
        for pid in self.daemon_pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # the daemon leads its group; workers are in it
        for pid in self.lab_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def live_workers(self) -> list[dict[str, Any]]:
        return [w for w in self.workers() if w["state"] == "alive" and pid_alive(w["pid"])]

    def wait_workers(self, count: int, timeout_s: float | None = None) -> list[dict[str, Any]]:
        """Wait until ``count`` live workers registered; returns them."""

        def ready() -> list[dict[str, Any]]:
            alive = self.live_workers()
            return alive if len(alive) >= count else []

        return wait_until(f"{count} live workers", ready, timeout_s or self.timeout_s, every_s=0.2)

    # -- the store, read-only -------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query on the live database; a ``results_dir`` as a path
        (the store keeps one under the home relative to it)."""
        db = self.home / "lstui.db"
        if not db.exists():
            return []
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60)
        try:
            conn.row_factory = sqlite3.Row
            rows = [dict(r) for r in conn.execute(sql, params).fetchall()]
        finally:
            conn.close()
        for row in rows:
            if isinstance(row.get("results_dir"), str):
                row["results_dir"] = str(self.home / row["results_dir"])  # (an absolute one: as it is)
        return rows

    def workers(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM workers ORDER BY id")


def assert_points_once(lab: Lab, job_id: int) -> None:
    """Every point of the job stored exactly once, every unit done, the counter right."""
    job = lab.query("SELECT total_points, done_points FROM jobs WHERE id = ?", (job_id,))[0]
    rows = lab.query(
        "SELECT count(*) AS n, count(DISTINCT idx) AS d, min(idx) AS lo, max(idx) AS hi"
        " FROM points WHERE job_id = ?",
        (job_id,),
    )[0]
    assert rows["n"] == rows["d"] == job["total_points"] == job["done_points"], (rows, job)
    assert (rows["lo"], rows["hi"]) == (0, job["total_points"] - 1)
    units = lab.query("SELECT state FROM units WHERE job_id = ?", (job_id,))
    assert {u["state"] for u in units} == {"done"}
