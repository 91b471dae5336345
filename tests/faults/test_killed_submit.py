"""A `submit trajectory` killed (SIGKILL, a machine restarted) after its PCA plane was
written: before its job was queued it left the plane's folder (a ResNet's is megabytes)
that no job named and nothing removed; after, the folder is its job's and stays.

Real processes: the submit kills itself with a real SIGKILL from a ``sitecustomize`` hook,
before (or after) the job is queued; the next submit sweeps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.support import cli_in_process, listed_jobs
from tests.scheduler.support import walk_checkpoints

_KILL_AT = """
import os, signal
import lstui.scheduler.{module} as patched


def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


patched.{name} = killed
"""


def _hook(folder: Path, when: str) -> Path:
    """A hook killing the submit at ``submit_spec`` (before its job is queued) or at
    ``plane_queued`` (its job queued, the folder's mark not yet taken away)."""
    folder.mkdir()
    before = when == "before its job is queued"
    (folder / "sitecustomize.py").write_text(_KILL_AT.format(module="submit" if before else "trajectory",
                                                             name="submit_spec" if before else "plane_queued"))
    return folder


ARGS = ("submit", "trajectory", "--model", "cnn", "--data", "digits", "--num", "3", "--subset", "100")


@pytest.mark.parametrize("next_by", ["submit trajectory", "a job file"])
@pytest.mark.parametrize("when", ["before its job is queued", "after its job is queued"])
def test_a_plane_left_by_a_killed_submit_goes_at_the_next_unless_its_job_was_queued(
        tmp_path: Path, when: str, next_by: str) -> None:
    run = walk_checkpoints(tmp_path / "run", steps=3)
    home = tmp_path / "home"
    hook = _hook(tmp_path / "hook", when)
    env = {**os.environ, "LSTUI_HOME": str(home), "PYTHONPATH": os.pathsep.join([str(hook), *sys.path])}
    killed = subprocess.run([sys.executable, "-m", "lstui.cli", *ARGS, "--checkpoints", ",".join(map(str, run))],
                            env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (left,) = (home / "trajectories").iterdir()
    assert (left / "pca_directions.h5").exists()
    queued_before = listed_jobs(home)
    assert len(queued_before) == (0 if when == "before its job is queued" else 1)

    if next_by == "a job file":
        job_file = tmp_path / "t.toml"
        job_file.write_text('kind = "trajectory"\nmodel = "cnn"\nnum = 3\nsubset = "100"\n'
                            f"checkpoints = {[str(p) for p in run]!r}\n".replace("'", '"'))
        code, out, err = cli_in_process(["submit", str(job_file)], home)
    else:
        code, out, err = cli_in_process([*ARGS, "--checkpoints", ",".join(map(str, run))], home)
    assert code == 0, err
    planes = sorted((home / "trajectories").iterdir())
    if when == "before its job is queued":
        assert left not in planes and len(planes) == 1  # the new job's alone
    else:
        assert left in planes and len(planes) == 2  # the queued job's kept, its mark taken away
    assert not [m for p in planes for m in p.glob(".unqueued.*")]
    assert len(listed_jobs(home)) == len(queued_before) + 1
