"""A lab for the fault tests: real daemons, workers and CLI processes on a tmp home
(:mod:`tests.lab`), the test models (:data:`FAULT_MODELS`) and the checks on results."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lstui.results import read_surface
from tests import lab as _lab
from tests.lab import SLOW_MODEL
from tests.lab import assert_points_once as assert_points_once  # re-exported for the fault tests
from tests.lab import pid_alive as pid_alive

FAULT_MODELS = (
    '''
"""Models for the fault tests (factories called with no arguments)."""
import time

import torch
from torch import nn

'''
    + SLOW_MODEL
    + '''


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


class OnMarker(Slow):
    """The slow MLP, whose forward pass calls ``then(marker_path)`` while a file named
    ``marker`` lies beside this module (pause 0: no sleep)."""

    def __init__(self, marker, then, pause=0.05):
        super().__init__(pause)
        self.marker = marker
        self.then = then

    def forward(self, x):
        import os

        path = os.path.join(os.path.dirname(__file__), self.marker)
        if os.path.exists(path):
            self.then(path)
        return super().forward(x)


def _hang(path):
    import os

    while os.path.exists(path):  # a stuck data loader or device call
        time.sleep(0.1)


def _hold_the_interpreter(path):
    import ctypes

    ctypes.PyDLL(None).sleep(3600)  # a C call that keeps the GIL: no other thread runs


def _exit_7(path):
    import os

    os._exit(7)  # a library that calls exit


def hanging():
    return OnMarker("hang_now", _hang)


def holding():
    return OnMarker("hold_now", _hold_the_interpreter)


def exiting():
    return OnMarker("exit_now", _exit_7, pause=0.0)


def slow():
    return Slow(0.05)


def slower():
    return Slow(0.25)


def diverging():
    return Diverging()


def big():
    """Over a million weights: a direction file of about 8 MB."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16384), nn.ReLU(), nn.Linear(16384, 10))
'''
)

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


_FITTING_FILES = """
import sys
from pathlib import Path

import torch

from lstui.landscape.directions import model_tensors
from lstui.models import build_model
from lstui.results import write_directions

model = build_model(sys.argv[1], input_shape=(1, 8, 8))
if sys.argv[2]:
    torch.save({"state_dict": model.state_dict()}, sys.argv[2])
if sys.argv[3]:
    zeros = [torch.zeros_like(t) for t in model_tensors(model, "weights")]
    write_directions(Path(sys.argv[3]), zeros, zeros)
"""


def write_fitting_files(
    lab: Lab, model: str, *, checkpoint: Path | None = None, dir_file: Path | None = None
) -> None:
    """Write a checkpoint of ``model`` (a lab module's factory, built for digits) and a 2D
    direction file that fits it, in a process on the lab's PYTHONPATH: files that pass
    the checks of ``lstui submit``, for tests that damage them after their job is queued."""
    subprocess.run(
        [sys.executable, "-c", _FITTING_FILES, model, str(checkpoint or ""), str(dir_file or "")],
        env=lab.env, check=True, timeout=TIMEOUT_S, capture_output=True,
    )


def wait_until(
    what: str, check: Callable[[], Any], timeout_s: float = TIMEOUT_S, every_s: float = 0.1
) -> Any:
    """:func:`tests.lab.wait_until` with the fault tests' longer default timeout."""
    return _lab.wait_until(what, check, timeout_s, every_s)


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


def listed_jobs(home: Path) -> list[dict[str, Any]]:
    """Every job of ``home`` as ``lstui ls --all --json`` lists it (through the real CLI)."""
    code, out, err = cli_in_process(["ls", "--all", "--json"], home)
    assert code == 0, err
    return json.loads(out)


def one_error_line(stderr: str) -> str:
    """The single ``lstui: error:`` line of ``stderr``; fails on tracebacks or more lines."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("lstui: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


class Lab(_lab.Lab):
    """The shared lab, with the fault tests' longer timeout and wider terminal."""

    timeout_s = TIMEOUT_S
    columns = "200"
    make_home = False

    def job(self, job_id: int) -> dict[str, Any]:
        return self.query("SELECT * FROM jobs WHERE id = ?", (job_id,))[0]

    def jobs(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM jobs ORDER BY id")

    def jobs_so_far(self) -> list[dict[str, Any]]:
        """The jobs; none while another process is still making the database (its file
        there, its tables not yet: "no such table: jobs")."""
        import sqlite3

        try:
            return self.jobs()
        except sqlite3.OperationalError:
            return []

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


def assert_points_equal_surface(lab: Lab, job_id: int, reference: Path, tol: float = 1e-6) -> None:
    """The job's stored points hold the values of an uninterrupted run's surface file."""
    ref = read_surface(reference)
    rows = lab.query("SELECT * FROM points WHERE job_id = ? ORDER BY idx", (job_id,))
    assert rows, f"job {job_id} has no points"
    for key, array in ref.arrays.items():
        want = np.asarray(array).ravel()[[r["idx"] for r in rows]]
        got = np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=np.float64)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=key)
