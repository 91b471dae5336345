"""An error that leaves the GPU unusable (an illegal address, a device-side assert, an ECC
error) makes every later call on it fail: the worker that met it counts the unit's try,
ends, and the daemon starts a fresh one with a fresh CUDA context, instead of failing
every job it claims next."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lstui.landscape.grid import parse_axis
from lstui.scheduler import worker as worker_module
from lstui.scheduler.imports import with_import_path
from lstui.scheduler.submit import submit_spec
from lstui.scheduler.worker import DeviceFault, LeaseKeeper, Worker, WorkerConfig
from lstui.spec import JobSpec
from lstui.store import JobState, Store, UnitClaim, UnitRow

BAD_MODEL = '''
import torch
from torch import nn


class OutOfBounds(nn.Module):
    """Reads past the end of a tensor: on CUDA a device-side assert, which is sticky."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        table = torch.zeros(3, device=x.device)
        return self.fc(x.flatten(1)) + table[torch.full((1,), 7, device=x.device)]


def model():
    return OutOfBounds()
'''


def _queue_job(store: Store, tmp_path: Path, module: str, source: str, *, check: bool = True,
               **settings: object) -> int:
    """Queue a 3-point job, one unit, of the model ``module:model`` written from ``source``."""
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / f"{module}.py").write_text(source)
    spec = JobSpec(model=f"{module}:model", data="digits", subset=50, x=parse_axis("-1:1:3"),
                   **settings).validated()  # type: ignore[arg-type]
    return submit_spec(store, with_import_path(spec, first=[folder]), unit_size=3, check=check)


def _queue_bad_job(store: Store, tmp_path: Path) -> int:
    return _queue_job(store, tmp_path, "oob_model", BAD_MODEL)


def _worker_holding_a_unit(store: Store, tmp_path: Path) -> tuple[Worker, UnitClaim]:
    """A worker of this process on the CPU, and the unit it claimed and holds."""
    worker = Worker(WorkerConfig(tmp_path / "home", "cpu"), store)
    worker.worker_id = store.register_worker("cpu", os.getpid(), "here")
    worker.keeper = LeaseKeeper(store, worker.worker_id, 60.0)
    claim = store.claim_unit(worker.worker_id, lease_s=60)
    assert claim is not None
    worker.keeper.hold(claim)
    return worker, claim


def test_a_worker_whose_device_is_left_broken_counts_the_try_and_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's side on the CPU: the check of the device says broken (as
    ``torch.cuda.synchronize`` does after a sticky error; the CUDA test below makes one)."""
    with Store.open_home(tmp_path / "home") as store:
        job_id = _queue_bad_job(store, tmp_path)
        monkeypatch.setattr(worker_module, "_device_broken", lambda device: True)
        worker, claim = _worker_holding_a_unit(store, tmp_path)
        with pytest.raises(DeviceFault, match="the device cpu failed: .*IndexError: index 7 is out of bounds"):
            worker.run_unit(claim)
        job = store.get_job(job_id)
        assert job.state is not JobState.FAILED  # tried again by a fresh worker, up to its tries
        (unit,) = store.units(job_id)
        assert (unit.state, unit.attempts) == ("pending", 1)
        assert "the device cpu failed" in (unit.last_error or "")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_device_side_assert_ends_the_worker_not_every_job_after_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store.open_home(home) as store:
        bad = _queue_bad_job(store, tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "lstui.scheduler.worker", "--home", str(home), "--device", "cuda:0",
         "--exit-when-idle"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    with Store.open_home(home) as store:
        (unit,) = store.units(bad)
        assert (unit.state, unit.attempts) == ("pending", 1)
        assert store.get_job(bad).state is not JobState.FAILED
        said = [e.message for e in store.events(None)]
        assert any("worker on cuda:0 stopped: the device cuda:0 failed" in m for m in said), said


OOM_MODEL = '''
import torch


def model():
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (others hold the GPU)")
'''


def _run_one_unit(tmp_path: Path, module: str, source: str, **settings: object) -> tuple[Worker, UnitRow]:
    """Queue a 3-point job of the model ``module:model`` (its ``source``), run its unit in
    a worker of this process on the CPU, and return the worker and the unit after; the
    job must not have failed."""
    with Store.open_home(tmp_path / "home") as store:
        job_id = _queue_job(store, tmp_path, module, source, check=False, **settings)
        worker, claim = _worker_holding_a_unit(store, tmp_path)
        worker.run_unit(claim)
        assert store.get_job(job_id).state is not JobState.FAILED
        (unit,) = store.units(job_id)
    return worker, unit


def test_a_job_that_does_not_fit_as_it_is_made_ready_counts_a_try_not_the_jobs_end(tmp_path: Path) -> None:
    """An out-of-memory while the model and the data were put on the device (another
    process holding half a shared GPU) failed the job for good; at a point it counted one
    try. It counts one try now too, and the device is freed for the next."""
    _, unit = _run_one_unit(tmp_path, "oom_model", OOM_MODEL)
    assert (unit.state, unit.attempts) == ("pending", 1)
    assert (unit.last_error or "").startswith("out of memory making the job ready: model 'oom_model:model': "
                                              "model() failed: OutOfMemoryError: CUDA out of memory."), unit


OOM_OFF_CENTRE = '''
import torch
from torch import nn


class OffCentre(nn.Module):
    """Runs at its own weights (the centre), and out of memory anywhere else: at every
    batch, down to one sample."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)
        self.register_buffer("start", self.fc.weight.detach().clone(), persistent=False)

    def forward(self, x):
        if not torch.equal(self.fc.weight, self.start):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return self.fc(x.flatten(1))


def model():
    torch.manual_seed(0)
    return OffCentre()
'''


def test_a_point_out_of_memory_at_one_sample_counts_a_try_and_lets_the_evaluator_go(tmp_path: Path) -> None:
    worker, unit = _run_one_unit(tmp_path, "off_centre", OOM_OFF_CENTRE, fold_bn=False)
    assert (unit.state, unit.attempts) == ("pending", 1)
    assert (unit.last_error or "").startswith("out of memory at batch size 1: CUDA out of memory."), unit
    assert not worker._prepared  # the evaluator let go, for a try on a clean device
