"""A lab for scheduler tests: real daemons, workers and CLI processes on a tmp home
(:mod:`tests.lab`), the test models they run, and the checks on their results."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lstui.results import read_surface
from lstui.store import JobRow, JobState, Store
from tests import lab as _lab
from tests.lab import SLOW_MODEL
from tests.lab import pid_alive as pid_alive  # re-exported for the scheduler tests
from tests.lab import wait_until as wait_until

LAB_MODELS = (
    '''
"""Models for the scheduler tests (factories called with no arguments)."""
import os
import signal
import time

import torch
from torch import nn

'''
    + SLOW_MODEL
    + '''


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
)

SLOW_SPEC = ("--model", "lab_models:slow", "--x", "-1:1:10", "--y", "-1:1:10", "--subset", "300")
"""100 points of about 0.04 s each: the job whose values the recovery tests compare."""

SLOWER_SPEC = tuple("lab_models:slower" if a == "lab_models:slow" else a for a in SLOW_SPEC)
""":data:`SLOW_SPEC` at about 0.1 s a point, with the same values (the pause leaves the
weights alone): room for a kill to land in the middle of the job on a loaded machine."""

TIMEOUT_S = 90.0


def write_lab_models(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lab_models.py").write_text(LAB_MODELS)
    return folder


class Lab(_lab.Lab):
    """The shared lab, with the store read as the scheduler tests need it."""

    # -- the store, read-only -------------------------------------------------------
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


def walk_checkpoints(folder: Path, seed: int = 1, steps: int = 4) -> list[Path]:
    """Checkpoints of a random walk of a cnn's weights on digits, one per "epoch", from
    one initialisation (``seed`` draws the steps: two seeds, two runs from one start)."""
    import torch

    from lstui.models import build_model

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    state = build_model("cnn", input_shape=(1, 8, 8)).state_dict()
    g = torch.Generator().manual_seed(seed)
    paths = []
    for epoch in range(1, steps + 1):
        state = {k: v + 0.05 * torch.randn(v.shape, generator=g) if v.is_floating_point() else v
                 for k, v in state.items()}
        paths.append(folder / f"cnn_{epoch}.pt")
        torch.save(state, paths[-1])
    return paths
