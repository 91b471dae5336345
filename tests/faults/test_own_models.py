"""A researcher's own models and settings, as a walk through the product met them:
each mistake is one line and an exit code, never a traceback, and leaves no file that
would change or block the next run.

Real CLI entry point (in process), real files; the models are factories in a module
written for the test and put on sys.path.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lstui.errors import BadInput
from lstui.models import build_model
from lstui.results import read_surface
from tests.faults.support import cli_in_process, listed_jobs, one_error_line

MODELS = '''
import torch
from torch import nn


def broken():
    raise RuntimeError("boom in factory")


class Pair(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        z = self.fc(x.flatten(1))
        return z, z


def pair():
    return Pair()


class Picky(nn.Module):
    """Fine at its centre; raises wherever its 1x1 gate moved away from 1."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)
        self.gate = nn.Parameter(torch.ones(1, 1))

    def forward(self, x):
        if abs(float(self.gate) - 1.0) > 1e-6:
            raise RuntimeError("gate moved")
        return self.fc(x.flatten(1))


def picky():
    return Picky()


class Tokens(nn.Module):
    """An embedding of token ids (the digits' 64 grey levels, 0 to 16, as ids)."""

    def __init__(self, cast=False):
        super().__init__()
        self.cast = cast
        self.emb = nn.Embedding(17, 4)
        self.fc = nn.Linear(256, 10)

    def forward(self, x):
        ids = x.flatten(1).long() if self.cast else x.flatten(1)
        return self.fc(self.emb(ids).flatten(1))


def tokens():
    return Tokens()


def tokens_cast():
    return Tokens(cast=True)


def needs(width):
    return nn.Linear(64, width)
'''


@pytest.fixture
def own_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / "own_models.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(folder))
    return "own_models"


def _run(tmp_path: Path, *argv: str) -> tuple[int, str, str]:
    return cli_in_process(["run", "surface", "--data", "digits", "--subset", "100", *argv], tmp_path / "home")


def test_a_factory_that_raises_is_one_line_at_run_and_at_submit(tmp_path: Path, own_models: str) -> None:
    out = tmp_path / "out"
    code, _, err = _run(tmp_path, "--model", f"{own_models}:broken", "--x", "-1:1:3", "--out", str(out))
    assert code == 2
    assert one_error_line(err).endswith("broken() failed: RuntimeError: boom in factory")
    assert not out.exists()
    ck = tmp_path / "ck.pt"  # with a checkpoint to fit, submit builds the model: its error is one line too
    torch.save(build_model("mlp", input_shape=(1, 8, 8)).state_dict(), ck)
    code, _, err = cli_in_process(["submit", "surface", "--model", f"{own_models}:broken", "--x", "-1:1:3",
                                   "--checkpoint", str(ck)], tmp_path / "home")
    assert code == 2 and "broken() failed: RuntimeError: boom in factory" in one_error_line(err)
    assert listed_jobs(tmp_path / "home") == []


def test_a_factory_model_returning_a_tuple_is_refused_before_any_file(tmp_path: Path, own_models: str) -> None:
    out = tmp_path / "out"
    code, _, err = _run(tmp_path, "--model", f"{own_models}:pair", "--x", "-1:1:3", "--out", str(out))
    assert code == 2
    assert "returns a tuple in eval mode; lstui needs forward() to return one tensor" in one_error_line(err)
    assert not out.exists()


def test_a_model_failing_at_a_point_is_one_line_and_leaves_no_empty_surface(
    tmp_path: Path, own_models: str
) -> None:
    out = tmp_path / "out"
    code, _, err = _run(tmp_path, "--model", f"{own_models}:picky", "--ignore", "none", "--x", "-1:1:3",
                        "--out", str(out))
    assert code == 1
    assert "failed: RuntimeError: gate moved" in one_error_line(err)
    surface = out / "surface.h5"
    if surface.exists():  # the centre came first: it is kept, the rest is still to do
        assert read_surface(surface).computed("train_loss").sum() >= 1
    # the same out with a model that works is not refused as "other settings"
    code, _, err = _run(tmp_path, "--model", "mlp", "--x", "-1:1:3", "--out", str(tmp_path / "fine"))
    assert code == 0, err


def test_a_job_s_own_directions_made_for_other_settings_are_made_again(tmp_path: Path) -> None:
    """A folder whose directions.h5 is of seed 123 (a run that stopped before its first
    point stored one) and a run of seed 5 into it: the directions were reused silently,
    and spec.json said seed 5."""
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    args = ("--model", "mlp", "--x", "-1:1:5", "--no-figure")
    assert _run(tmp_path, *args, "--out", str(out))[0] == 0
    (out / "surface.h5").unlink()
    code, _, err = _run(tmp_path, *args, "--seed", "5", "--out", str(out))
    assert code == 0, err
    assert "was made for other settings (its seed differs)" in err
    assert _run(tmp_path, *args, "--seed", "5", "--out", str(fresh))[0] == 0
    np.testing.assert_array_equal(read_surface(out / "surface.h5").arrays["train_loss"],
                                  read_surface(fresh / "surface.h5").arrays["train_loss"])
    assert json.loads((out / "spec.json").read_text())["seed"] == 5


def test_bn_recompute_without_the_training_split_is_refused_before_any_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = _run(tmp_path, "--model", "cnn", "--bn", "recompute", "--split", "test", "--x", "-1:1:3",
                        "--out", str(out))
    assert code == 2 and "--bn recompute re-estimates BatchNorm statistics on the training split" in one_error_line(err)
    assert not out.exists()


def test_a_data_folder_that_is_a_file_says_so(tmp_path: Path) -> None:
    f = tmp_path / "r20.pt"
    f.write_bytes(b"x")
    code, _, err = cli_in_process(["run", "surface", "--data", f"cifar10:{f}", "--x", "-1:1:3"], tmp_path / "home")
    assert code == 2 and one_error_line(err).endswith("is a file; give the folder that holds the data")


def test_a_model_of_the_folder_it_is_queued_from_is_imported_by_the_daemon_s_workers(
    tmp_path: Path, fault_modules: Path
) -> None:
    """The daemon, started elsewhere, could not import the person's module ("cannot
    import 'my_net'"), and a submit without a checkpoint did not look for it at all."""
    from tests.faults.support import Lab

    project = tmp_path / "project"
    project.mkdir()
    (project / "my_net.py").write_text(
        "from torch import nn\n\ndef make():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))\n"
    )
    lab = Lab(tmp_path / "home", fault_modules)
    try:
        lab.start_daemon("cpu:1", "--export", "")
        argv = ("submit", "surface", "--model", "my_net:make", "--x", "-1:1:3", "--subset", "50")
        refused = lab.cli(*argv, check=False, cwd=tmp_path)
        assert refused.returncode == 2
        assert "no module 'my_net' can be imported from here" in one_error_line(refused.stderr)
        job_id = int(lab.cli(*argv, cwd=project).stdout.split()[0])
        job = lab.wait_job(job_id)
        assert json.loads(job["spec"])["import_path"] == [str(project.resolve())]
    finally:
        lab.teardown()


def test_a_module_edited_after_its_job_was_queued_is_refused_not_mixed_in(tmp_path: Path) -> None:
    """The person's model module changed while the job ran: the points after the edit
    were of another network, along the first one's directions, and nothing said so."""
    import sys

    from lstui.scheduler.imports import add_import_path, fresh_factories, with_import_path
    from lstui.scheduler.preflight import changed_files, check_unchanged, with_digests
    from lstui.spec import JobSpec

    project = tmp_path / "p"
    project.mkdir()
    module = project / "edited_net.py"
    module.write_text("from torch import nn\n\ndef make():\n    return nn.Linear(64, 10)\n")
    path = list(sys.path)
    try:
        spec = with_digests(with_import_path(JobSpec(model="edited_net:make", x=None), first=[project]))
        assert str(module) in (spec.digests or {})
        add_import_path(spec.import_path)
        fresh_factories(spec)
        check_unchanged(spec)  # as queued: fine
        module.write_text("from torch import nn\n\ndef make():\n    return nn.Linear(64, 10, bias=False)\n")
        assert changed_files(spec) == [str(module)]
        with pytest.raises(BadInput, match="edited_net.py' changed after the job was queued"):
            check_unchanged(spec)
    finally:
        sys.path[:] = path
        sys.modules.pop("edited_net", None)


def test_a_helper_module_edited_after_its_job_was_queued_is_refused_and_a_worker_reimports_it(
    tmp_path: Path,
) -> None:
    """A walker's data factory normalised with `common.py`: edited after the job was
    queued (inputs ×3), the job ran to done with the centre loss 1.17 for 0.03, silently.
    Only the factory's own module was digested, and a worker kept the helper it had
    imported for an earlier job."""
    import importlib
    import sys

    from lstui.scheduler.imports import add_import_path, fresh_factories, with_import_path
    from lstui.scheduler.preflight import check_unchanged, with_digests
    from lstui.spec import JobSpec

    project = tmp_path / "p"
    project.mkdir()
    helper = project / "lstui_test_common.py"
    helper.write_text("SCALE = 1\n")
    (project / "lstui_test_helped.py").write_text(
        "from torch import nn\nimport lstui_test_common\n\n"
        "def make():\n    return nn.Linear(64, 10 * lstui_test_common.SCALE)\n"
    )
    path = list(sys.path)
    try:
        spec = with_digests(with_import_path(JobSpec(model="lstui_test_helped:make", x=None), first=[project]))
        assert str(helper.resolve()) in (spec.digests or {})  # the helper too, not the factory's module alone
        add_import_path(spec.import_path)  # a worker's job, as prepare_job does
        fresh_factories(spec)
        check_unchanged(spec)
        assert importlib.import_module("lstui_test_helped").lstui_test_common.SCALE == 1
        helper.write_text("SCALE = 3  # edited since\n")
        with pytest.raises(BadInput, match="lstui_test_common.py' changed after the job was queued"):
            check_unchanged(spec)
        fresh_factories(spec)  # the same worker's next job: the helper is imported anew
        assert importlib.import_module("lstui_test_helped").lstui_test_common.SCALE == 3
    finally:
        sys.path[:] = path
        for name in ("lstui_test_helped", "lstui_test_common"):
            sys.modules.pop(name, None)


def test_a_job_file_s_module_is_found_next_to_it_and_a_misspelt_factory_is_refused(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "proj", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "file_net.py").write_text("from torch import nn\n\ndef make():\n    return nn.Linear(64, 10)\n")
    (project / "job.toml").write_text('model = "file_net:make"\nx = "-1:1:3"\n')
    (project / "typo.toml").write_text('model = "file_net:mkae"\nx = "-1:1:3"\n')
    from tests.faults.support import Lab

    lab = Lab(tmp_path / "home", tmp_path)
    job_id = int(lab.cli("submit", str(project / "job.toml"), cwd=elsewhere).stdout.split()[0])
    assert json.loads(lab.job(job_id)["spec"])["import_path"] == [str(project.resolve())]
    refused = lab.cli("submit", str(project / "typo.toml"), check=False, cwd=elsewhere)
    assert refused.returncode == 2
    # which file the import found is named: a code.py beside a job lost to the standard library's
    assert f"module 'file_net' ({project.resolve() / 'file_net.py'}) has no 'mkae'" in one_error_line(refused.stderr)
    assert len(lab.jobs()) == 1


def test_an_embedding_model_fed_float_inputs_is_told_to_take_its_ids_back(tmp_path: Path, own_models: str) -> None:
    """An embedding of token ids failed with PyTorch's "Expected tensor for argument #1
    'indices' to have one of the following scalar types: Long, Int" and no word of what
    lstui feeds a model; x.long() in its forward is the way."""
    code, _, err = _run(tmp_path, "--model", f"{own_models}:tokens", "--raw-data", "--x", "-1:1:3",
                        "--out", str(tmp_path / "o"))
    assert code == 2 and one_error_line(err).endswith(
        "(lstui gives models float32 inputs: an embedding model takes its ids back with x.long())"), err
    code, _, err = _run(tmp_path, "--model", f"{own_models}:tokens_cast", "--raw-data", "--x", "-1:1:3",
                        "--out", str(tmp_path / "o"))
    assert code == 0, err


def test_a_factory_that_needs_arguments_is_refused_at_submit(tmp_path: Path, own_models: str) -> None:
    """`lstui run` refused it at once; `lstui submit` queued it, and its job failed."""
    code, _, err = cli_in_process(["submit", "surface", "--model", f"{own_models}:needs", "--x", "-1:1:3"],
                                  tmp_path / "home")
    assert code == 2 and one_error_line(err).endswith(
        "needs() needs arguments, but the factory is called with none (wrap it: def make(): return "
        "Net(width=16), or functools.partial)"), err
    assert listed_jobs(tmp_path / "home") == []
