"""A checkpoint overwritten after its job was queued (``model_best.pt`` rewritten while
training goes on): the job's points would silently mix two models. Each job keeps the
SHA-256 of the files its workers read; a file whose bytes changed is refused in one line.

Real CLI (in process and as a daemon), real store, real checkpoints from torch.save.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from lstui.models import build_model
from lstui.results import read_surface
from lstui.scheduler.preflight import file_digest
from lstui.store import PointRow, Store
from tests.faults.support import Lab, cli_in_process, listed_jobs, one_error_line

DIGITS = (1, 8, 8)
GRID = ("--x", "-1:1:5", "--subset", "64")


def _checkpoints(folder: Path) -> tuple[Path, Path]:
    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        path = folder / f"seed{seed}.pt"
        torch.save(build_model("cnn", input_shape=DIGITS).state_dict(), path)
        paths.append(path)
    return paths[0], paths[1]


def test_run_into_the_same_out_after_the_checkpoint_changed_is_refused(tmp_path: Path) -> None:
    a, b = _checkpoints(tmp_path)
    best = tmp_path / "model_best.pt"
    shutil.copyfile(a, best)
    out = tmp_path / "out"
    argv = ["run", "surface", "--model", "cnn", "--checkpoint", str(best), *GRID, "--out", str(out),
            "--no-figure"]
    code, _, err = cli_in_process(argv, tmp_path / "home")
    assert code == 0, err
    before = read_surface(out / "surface.h5").arrays["train_loss"].copy()
    code, _, err = cli_in_process(argv, tmp_path / "home")  # unchanged: resumes, all 5 done
    assert code == 0 and "5 already computed" in err, err

    shutil.copyfile(b, best)  # overwritten with another model of the same architecture
    code, _, err = cli_in_process(argv, tmp_path / "home")
    line = one_error_line(err)
    assert code == 2, err
    assert "model_best.pt" in line and "changed since" in line and "another --out" in line
    np.testing.assert_array_equal(read_surface(out / "surface.h5").arrays["train_loss"], before)


def test_a_job_whose_checkpoint_changed_before_a_worker_read_it_fails_saying_so(lab: Lab) -> None:
    a, b = _checkpoints(lab.home.parent)
    best = lab.home.parent / "model_best.pt"
    shutil.copyfile(a, best)
    code, out, err = cli_in_process(
        ["submit", "surface", "--model", "cnn", "--checkpoint", str(best), *GRID], lab.home
    )
    assert code == 0, err
    job_id = int(out.split()[-1])
    spec = json.loads(lab.job(job_id)["spec"])
    assert list(spec["digests"]) == [str(best)] and spec["digests"][str(best)].startswith("sha256:")

    shutil.copyfile(b, best)  # training wrote a new best before the daemon ran the job
    lab.start_daemon("cpu:1", "--export", "")
    job = lab.wait_job(job_id, states=("failed",))
    assert "model_best.pt" in job["error"] and "changed after the job was queued" in job["error"]
    assert job["done_points"] == 0

    # nothing of the old file was stored: retry takes the file as it is now
    code, _, err = cli_in_process(["retry", str(job_id)], lab.home)
    assert code == 0, err
    lab.wait_job(job_id)
    assert json.loads(lab.job(job_id)["spec"])["digests"] == {str(best): file_digest(b)}


def test_retry_refuses_a_job_whose_points_are_of_the_old_file(tmp_path: Path) -> None:
    a, b = _checkpoints(tmp_path)
    best = tmp_path / "model_best.pt"
    shutil.copyfile(a, best)
    home = tmp_path / "home"
    code, out, err = cli_in_process(
        ["submit", "surface", "--model", "cnn", "--checkpoint", str(best), *GRID], home
    )
    assert code == 0, err
    job_id = int(out.split()[-1])
    with Store(home / "lstui.db") as store:  # a worker stores two points, then it is cancelled
        worker = store.register_worker("cpu", 1, "h")
        claim = store.claim_unit(worker, lease_s=60)
        assert claim is not None
        store.write_points(claim.unit_id, worker, [PointRow(i, 1.0, 50.0) for i in claim.todo])
        assert store.complete_unit(claim.unit_id, worker)
        claim = store.claim_unit(worker, lease_s=60)
        assert claim is not None
        store.write_points(claim.unit_id, worker, [PointRow(claim.todo[0], 1.0, 50.0)])
        assert store.get_job(job_id).done_points == 2
        store.cancel(job_id)

    shutil.copyfile(b, best)
    code, _, err = cli_in_process(["retry", str(job_id)], home)
    line = one_error_line(err)
    assert code == 2, err
    assert f"job {job_id} was not retried" in line and "its 2 points are of the old file" in line
    assert listed_jobs(home)[0]["state"] == "cancelled"

    shutil.copyfile(a, best)  # the old file back: the job can go on
    code, _, err = cli_in_process(["retry", str(job_id)], home)
    assert code == 0, err
    assert listed_jobs(home)[0]["state"] == "queued"
